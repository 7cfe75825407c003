/* Requests built from one description: see shims_request.h. */
#include "shims_request.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "_cgo_export.h"

#define PYCTXGO_TRY(err, step) \
    do {                        \
        if ((err) == NULL) (err) = (step); \
    } while (0)

static const uint8_t *at(const uint8_t *buf, size_t off, size_t len) {
    return len == 0 ? NULL : buf + off;
}

pyctx_error_t *pyctxgo_request_setup(pyctx_request_t *request, const uint8_t *buf,
                                     const pyctxgo_spec *spec, pyctx_buffer_t *const *buffers,
                                     size_t n) {
    const char *text = (const char *)buf + spec->text_off;
    pyctx_error_t *err = NULL;
    /* Object kinds take their destination from the object. */
    if (spec->pool != NULL)
        err = pyctx_request_set_pool(request, spec->pool);
    else if (spec->context != NULL)
        err = pyctx_request_set_context(request, spec->context);
    switch (spec->kind) {
    case PYCTX_REQUEST_CALL:
        PYCTXGO_TRY(err, pyctx_request_set_call(request, text, (const char *)buf + spec->name_off));
        break;
    case PYCTX_REQUEST_EVAL:
        PYCTXGO_TRY(err, pyctx_request_set_eval(request, text));
        PYCTXGO_TRY(err, pyctx_request_set_env(request, spec->env));
        break;
    case PYCTX_REQUEST_EXEC:
        PYCTXGO_TRY(err, pyctx_request_set_exec(request, text));
        PYCTXGO_TRY(err, pyctx_request_set_env(request, spec->env));
        break;
    case PYCTX_REQUEST_OBJECT_CALL:
        PYCTXGO_TRY(err, pyctx_request_set_object_call(request, spec->object));
        break;
    case PYCTX_REQUEST_METHOD_CALL:
        PYCTXGO_TRY(err, pyctx_request_set_method_call(request, spec->object, text));
        break;
    case PYCTX_REQUEST_GETATTR:
        PYCTXGO_TRY(err, pyctx_request_set_getattr(request, spec->object, text));
        break;
    case PYCTX_REQUEST_RELEASE:
        PYCTXGO_TRY(err, pyctx_request_set_release(request, spec->object));
        break;
    default:
        break; /* submit names the missing kind */
    }
    PYCTXGO_TRY(err, pyctx_request_set_args(request, at(buf, spec->args_off, spec->args_len),
                                            spec->args_len));
    PYCTXGO_TRY(err, pyctx_request_set_kwargs(request, at(buf, spec->kwargs_off, spec->kwargs_len),
                                              spec->kwargs_len));
    if (spec->key_len > 0)
        PYCTXGO_TRY(err, pyctx_request_set_key(request, buf + spec->key_off, spec->key_len));
    PYCTXGO_TRY(err, pyctx_request_set_timeout(request, spec->timeout_ms));
    if (spec->result_form != PYCTX_RESULT_VALUE)
        PYCTXGO_TRY(err, pyctx_request_set_result_form(request,
                                                       (pyctx_result_form)spec->result_form));
    for (size_t i = 0; i < n; ++i)
        PYCTXGO_TRY(err, pyctx_request_attach_buffer(request, buffers[i], NULL));
    return err;
}

pyctx_error_t *pyctxgo_request_start(pyctx_request_t *request, const uint8_t *buf,
                                     const pyctxgo_spec *spec, pyctx_buffer_t *const *buffers,
                                     size_t n) {
    pyctx_error_t *err = pyctxgo_request_setup(request, buf, spec, buffers, n);
    PYCTXGO_TRY(err, pyctx_request_submit(request));
    return err;
}

/* An asynchronous request and the two parties that touch it after submit:
 * the submitter (reading the id) and the completion. The last to let go
 * frees it, so the submitter never reads a request the completion freed. */
typedef struct async_request {
    pyctx_request_t *request;
    uintptr_t handle;
    atomic_int holders;
} async_request;

static void let_go(async_request *a) {
    if (atomic_fetch_sub(&a->holders, 1) == 1) {
        pyctx_request_free(a->request); /* done: no wait */
        free(a);
    }
}

static void async_done(void *user_data, pyctx_request_t *request) {
    async_request *a = user_data;
    size_t len = 0;
    const uint8_t *value = pyctx_request_value(request, &len);
    const pyctx_error_t *error = pyctx_request_error(request);
    goPyctxRequestDone(a->handle, (int)pyctx_request_status(request), (uint8_t *)value, len,
                       error ? (char *)pyctx_error_message(error) : NULL,
                       error ? (char *)pyctx_error_python_type(error) : NULL,
                       error ? (char *)pyctx_error_traceback(error) : NULL,
                       pyctx_request_pool_member(request), pyctx_request_key_moved(request));
    /* The request stays done and untouched until freed: freeing it here,
     * from its own callback, is allowed. */
    let_go(a);
}

pyctxgo_async_submitted pyctxgo_request_submit_async(const uint8_t *buf, const pyctxgo_spec *spec,
                                                     pyctx_buffer_t *const *buffers, size_t n,
                                                     uintptr_t handle) {
    pyctxgo_async_submitted out = {NULL, 0, 0};
    async_request *a = malloc(sizeof *a);
    if (a == NULL) {
        out.no_memory = 1;
        return out;
    }
    a->handle = handle;
    atomic_init(&a->holders, 2);
    out.error = pyctx_request_new(&a->request);
    if (out.error != NULL) {
        free(a);
        return out;
    }
    out.error = pyctxgo_request_setup(a->request, buf, spec, buffers, n);
    PYCTXGO_TRY(out.error, pyctx_request_set_callback(a->request, async_done, a, NULL));
    PYCTXGO_TRY(out.error, pyctx_request_submit_id(a->request, &out.request_id));
    if (out.error != NULL) { /* refused: the callback never runs */
        pyctx_request_free(a->request);
        free(a);
        return out;
    }
    let_go(a);
    return out;
}

pyctx_error_t *pyctxgo_stream_open(const uint8_t *buf, const pyctxgo_spec *spec,
                                   pyctx_buffer_t *const *buffers, size_t n, uint32_t credit,
                                   pyctx_stream_t **out_stream) {
    pyctx_request_t *request = NULL;
    pyctx_error_t *err = pyctx_request_new(&request);
    if (err != NULL) return err;
    err = pyctxgo_request_setup(request, buf, spec, buffers, n);
    /* The stream copies the request's settings: the request can go. */
    PYCTXGO_TRY(err, pyctx_stream_open(request, credit, NULL, NULL, NULL, NULL, out_stream));
    pyctx_request_free(request);
    return err;
}

static pyctxgo_view with_info(pyctxgo_view view) {
    if (view.error == NULL)
        view.error = pyctx_buffer_info(view.buffer, &view.info, sizeof view.info);
    if (view.error != NULL && view.buffer != NULL) {
        pyctx_buffer_free(view.buffer);
        view.buffer = NULL;
    }
    return view;
}

pyctxgo_view pyctxgo_request_take_view(pyctx_request_t *request) {
    pyctxgo_view view = {0};
    view.error = pyctx_request_take_buffer(request, &view.buffer);
    return with_info(view);
}

pyctxgo_view pyctxgo_buffer_alloc(size_t len) {
    pyctxgo_view view = {0};
    view.error = pyctx_buffer_alloc(len, &view.buffer);
    return with_info(view);
}

pyctxgo_view pyctxgo_buffer_info(pyctx_buffer_t *buffer) {
    pyctxgo_view view = {0};
    view.error = pyctx_buffer_info(buffer, &view.info, sizeof view.info);
    view.buffer = buffer;
    return view;
}
