/* C helpers of the Go binding.
 *
 * They exist for two reasons: Go cannot take the address of an exported Go
 * function as a C function pointer (so the completion and host-function
 * callbacks go through the trampolines in shims.c), and every cgo call costs
 * tens of nanoseconds (so the hot paths fold several C API calls into one and
 * return small structs by value instead of filling Go out-pointers, which
 * would force those variables onto the heap). */
#ifndef PYCTX_GO_SHIMS_H
#define PYCTX_GO_SHIMS_H

#include <stddef.h>
#include <stdint.h>

#include "pyctx.h"

/* The outcome of a synchronous call/eval. On success the value was copied
 * into the caller's buffer when it fitted (`copied` = 1, `copied_len` bytes)
 * and the library buffer is already released; otherwise `value` holds the
 * library buffer, released with pyctxgo_bytes_release(). */
typedef struct pyctxgo_sync_result {
    pyctx_error_t *error;
    pyctx_bytes_t value;
    size_t copied_len;
    int copied;
} pyctxgo_sync_result;

/* The outcome of submitting an asynchronous request. */
typedef struct pyctxgo_submit_result {
    pyctx_error_t *error;
    uint64_t request_id;
} pyctxgo_submit_result;

/* The fields of an error object, borrowed from it. */
typedef struct pyctxgo_error_fields {
    int status;
    const char *message;
    const char *python_type;
    const char *traceback;
} pyctxgo_error_fields;

pyctxgo_error_fields pyctxgo_error_read(const pyctx_error_t *error);
void pyctxgo_bytes_release(uint8_t *data, size_t len);

pyctxgo_sync_result pyctxgo_call(pyctx_context_t *context, const char *module,
                                 const char *function, const uint8_t *args, size_t args_len,
                                 const uint8_t *kwargs, size_t kwargs_len, uint32_t timeout_ms,
                                 uint8_t *dst, size_t dst_cap);
pyctxgo_sync_result pyctxgo_eval(pyctx_context_t *context, const char *expression,
                                 pyctx_env_t *env, const uint8_t *locals, size_t locals_len,
                                 uint32_t timeout_ms, uint8_t *dst, size_t dst_cap);

/* Asynchronous submissions whose completion reaches goPyctxComplete with
 * `handle` (a runtime/cgo.Handle of the Go future). */
pyctxgo_submit_result pyctxgo_call_async(pyctx_context_t *context, const char *module,
                                         const char *function, const uint8_t *args,
                                         size_t args_len, const uint8_t *kwargs,
                                         size_t kwargs_len, uint32_t timeout_ms,
                                         uintptr_t handle);
pyctxgo_submit_result pyctxgo_eval_async(pyctx_context_t *context, const char *expression,
                                         pyctx_env_t *env, const uint8_t *locals,
                                         size_t locals_len, uint32_t timeout_ms,
                                         uintptr_t handle);
pyctxgo_submit_result pyctxgo_exec_async(pyctx_context_t *context, const char *code,
                                         pyctx_env_t *env, uint32_t timeout_ms,
                                         uintptr_t handle);

/* Registers a host function dispatched to goPyctxHostCall with `handle`;
 * the library's finalizer reaches goPyctxHostFree. */
pyctx_error_t *pyctxgo_host_register(const char *name, uintptr_t handle);



/* ---- Cancellable synchronous calls on request objects. ----------------- *
 * A call whose context.Context can end runs as a pyctx_request_t: one cgo
 * call sets it up and submits it, the Go caller waits in
 * pyctx_request_wait (the library spins, then parks), and a watcher
 * goroutine cancels it if the context.Context ends first. */

/* Sets every field of `request` and submits it. */
pyctx_error_t *pyctxgo_request_call(pyctx_request_t *request, pyctx_context_t *context,
                                    const char *module, const char *function,
                                    const uint8_t *args, size_t args_len, const uint8_t *kwargs,
                                    size_t kwargs_len, uint32_t timeout_ms);
pyctx_error_t *pyctxgo_request_eval(pyctx_request_t *request, pyctx_context_t *context,
                                    const char *expression, pyctx_env_t *env,
                                    const uint8_t *locals, size_t locals_len,
                                    uint32_t timeout_ms);
pyctx_error_t *pyctxgo_request_exec(pyctx_request_t *request, pyctx_context_t *context,
                                    const char *code, pyctx_env_t *env, uint32_t timeout_ms);

/* The outcome of a done request. On success the value is in the caller's
 * buffer (`copied`) or in `value` (release with pyctxgo_bytes_release). On
 * failure the strings are borrowed from the request: read them before
 * freeing it. */
typedef struct pyctxgo_taken {
    int status;
    pyctx_bytes_t value;
    size_t copied_len;
    int copied;
    const char *message;
    const char *python_type;
    const char *traceback;
} pyctxgo_taken;

pyctxgo_taken pyctxgo_request_take(pyctx_request_t *request, uint8_t *dst, size_t dst_cap);
#endif
