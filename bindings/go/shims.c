#include <stdlib.h>
#include <string.h>

#include "shims.h"
#include "_cgo_export.h"

pyctxgo_error_fields pyctxgo_error_read(const pyctx_error_t *error) {
    pyctxgo_error_fields fields;
    fields.status = (int)pyctx_error_status(error);
    fields.message = pyctx_error_message(error);
    fields.python_type = pyctx_error_python_type(error);
    fields.traceback = pyctx_error_traceback(error);
    return fields;
}

void pyctxgo_bytes_release(uint8_t *data, size_t len) {
    pyctx_bytes_t bytes;
    bytes.data = data;
    bytes.len = len;
    pyctx_bytes_free(&bytes);
}

/* Copies a successful value into the caller's buffer when it fits, so the
 * Go side needs no second cgo call to release it. */
static void settle(pyctxgo_sync_result *result, uint8_t *dst, size_t dst_cap) {
    if (result->error == NULL && result->value.len <= dst_cap) {
        if (result->value.len > 0) {
            memcpy(dst, result->value.data, result->value.len);
        }
        result->copied_len = result->value.len;
        result->copied = 1;
        pyctx_bytes_free(&result->value);
    }
}

pyctxgo_sync_result pyctxgo_call(pyctx_context_t *context, const char *module,
                                 const char *function, const uint8_t *args, size_t args_len,
                                 const uint8_t *kwargs, size_t kwargs_len, uint32_t timeout_ms,
                                 uint8_t *dst, size_t dst_cap) {
    pyctxgo_sync_result result;
    memset(&result, 0, sizeof result);
    result.error = pyctx_call(context, module, function, args, args_len, kwargs, kwargs_len,
                              timeout_ms, &result.value);
    settle(&result, dst, dst_cap);
    return result;
}

pyctxgo_sync_result pyctxgo_eval(pyctx_context_t *context, const char *expression,
                                 pyctx_env_t *env, const uint8_t *locals, size_t locals_len,
                                 uint32_t timeout_ms, uint8_t *dst, size_t dst_cap) {
    pyctxgo_sync_result result;
    memset(&result, 0, sizeof result);
    result.error = pyctx_eval(context, expression, env, locals, locals_len, timeout_ms,
                              &result.value);
    settle(&result, dst, dst_cap);
    return result;
}

/* Runs on a library thread once per accepted request. */
static void complete_trampoline(void *user_data, uint64_t request_id, pyctx_result_t *result) {
    (void)request_id;
    size_t len = 0;
    const uint8_t *value = pyctx_result_value(result, &len);
    const pyctx_error_t *error = pyctx_result_error(result);
    goPyctxComplete((uintptr_t)user_data, (int)pyctx_result_status(result), (uint8_t *)value,
                    len, error ? (char *)pyctx_error_message(error) : NULL,
                    error ? (char *)pyctx_error_python_type(error) : NULL,
                    error ? (char *)pyctx_error_traceback(error) : NULL);
    pyctx_result_free(result);
}

pyctxgo_submit_result pyctxgo_call_async(pyctx_context_t *context, const char *module,
                                         const char *function, const uint8_t *args,
                                         size_t args_len, const uint8_t *kwargs,
                                         size_t kwargs_len, uint32_t timeout_ms,
                                         uintptr_t handle) {
    pyctxgo_submit_result result = {NULL, 0};
    result.error = pyctx_call_async(context, module, function, args, args_len, kwargs,
                                    kwargs_len, timeout_ms, complete_trampoline,
                                    (void *)handle, &result.request_id);
    return result;
}

pyctxgo_submit_result pyctxgo_eval_async(pyctx_context_t *context, const char *expression,
                                         pyctx_env_t *env, const uint8_t *locals,
                                         size_t locals_len, uint32_t timeout_ms,
                                         uintptr_t handle) {
    pyctxgo_submit_result result = {NULL, 0};
    result.error = pyctx_eval_async(context, expression, env, locals, locals_len, timeout_ms,
                                    complete_trampoline, (void *)handle, &result.request_id);
    return result;
}

pyctxgo_submit_result pyctxgo_exec_async(pyctx_context_t *context, const char *code,
                                         pyctx_env_t *env, uint32_t timeout_ms,
                                         uintptr_t handle) {
    pyctxgo_submit_result result = {NULL, 0};
    result.error = pyctx_exec_async(context, code, env, timeout_ms, complete_trampoline,
                                    (void *)handle, &result.request_id);
    return result;
}

static void host_trampoline(void *user_data, pyctx_host_call_t *call) {
    size_t len = 0;
    const uint8_t *args = pyctx_host_call_args(call, &len);
    goPyctxHostCall((uintptr_t)user_data, call, (uint8_t *)args, len,
                    (char *)pyctx_host_call_name(call),
                    (char *)pyctx_host_call_context_name(call));
}

static void host_free_trampoline(void *user_data) {
    goPyctxHostFree((uintptr_t)user_data);
}

pyctx_error_t *pyctxgo_host_register(const char *name, uintptr_t handle) {
    return pyctx_host_register(name, host_trampoline, (void *)handle, host_free_trampoline);
}

/* ---- Cancellable synchronous calls (see shims.h). ----------------------- */

/* Applies `step` unless an earlier one failed. */
#define PYCTXGO_STEP(err, step) \
    do {                         \
        if ((err) == NULL) (err) = (step); \
    } while (0)

pyctx_error_t *pyctxgo_request_call(pyctx_request_t *request, pyctx_context_t *context,
                                    const char *module, const char *function,
                                    const uint8_t *args, size_t args_len, const uint8_t *kwargs,
                                    size_t kwargs_len, uint32_t timeout_ms) {
    pyctx_error_t *err = pyctx_request_set_context(request, context);
    PYCTXGO_STEP(err, pyctx_request_set_call(request, module, function));
    PYCTXGO_STEP(err, pyctx_request_set_args(request, args, args_len));
    PYCTXGO_STEP(err, pyctx_request_set_kwargs(request, kwargs, kwargs_len));
    PYCTXGO_STEP(err, pyctx_request_set_timeout(request, timeout_ms));
    PYCTXGO_STEP(err, pyctx_request_submit(request));
    return err;
}

pyctx_error_t *pyctxgo_request_eval(pyctx_request_t *request, pyctx_context_t *context,
                                    const char *expression, pyctx_env_t *env,
                                    const uint8_t *locals, size_t locals_len,
                                    uint32_t timeout_ms) {
    pyctx_error_t *err = pyctx_request_set_context(request, context);
    PYCTXGO_STEP(err, pyctx_request_set_eval(request, expression));
    PYCTXGO_STEP(err, pyctx_request_set_env(request, env));
    PYCTXGO_STEP(err, pyctx_request_set_kwargs(request, locals, locals_len));
    PYCTXGO_STEP(err, pyctx_request_set_timeout(request, timeout_ms));
    PYCTXGO_STEP(err, pyctx_request_submit(request));
    return err;
}

pyctx_error_t *pyctxgo_request_exec(pyctx_request_t *request, pyctx_context_t *context,
                                    const char *code, pyctx_env_t *env, uint32_t timeout_ms) {
    pyctx_error_t *err = pyctx_request_set_context(request, context);
    PYCTXGO_STEP(err, pyctx_request_set_exec(request, code));
    PYCTXGO_STEP(err, pyctx_request_set_env(request, env));
    PYCTXGO_STEP(err, pyctx_request_set_timeout(request, timeout_ms));
    PYCTXGO_STEP(err, pyctx_request_submit(request));
    return err;
}

pyctxgo_taken pyctxgo_request_take(pyctx_request_t *request, uint8_t *dst, size_t dst_cap) {
    pyctxgo_taken taken;
    memset(&taken, 0, sizeof taken);
    taken.status = (int)pyctx_request_status(request);
    if (taken.status != PYCTX_OK) {
        const pyctx_error_t *error = pyctx_request_error(request);
        taken.message = pyctx_error_message(error);
        taken.python_type = pyctx_error_python_type(error);
        taken.traceback = pyctx_error_traceback(error);
        return taken;
    }
    size_t len = 0;
    const uint8_t *value = pyctx_request_value(request, &len);
    if (len <= dst_cap) {
        if (len > 0) memcpy(dst, value, len);
        taken.copied = 1;
        taken.copied_len = len;
    } else {
        pyctx_error_t *error = pyctx_request_take_value(request, &taken.value);
        if (error != NULL) { /* cannot happen: a done request with status OK holds a value */
            pyctx_error_free(error);
            taken.status = PYCTX_ERR_INTERNAL;
        }
    }
    return taken;
}
