#include "shims_talk.h"
#include "_cgo_export.h"

static int send_trampoline(void *user_data, const char *context_name, const uint8_t *target,
                           size_t target_len, const uint8_t *value, size_t value_len) {
    return goPyctxSend((uintptr_t)user_data, (char *)context_name, (uint8_t *)target, target_len,
                       (uint8_t *)value, value_len);
}

static void send_free_trampoline(void *user_data) {
    goPyctxHostFree((uintptr_t)user_data);
}

pyctx_error_t *pyctxgo_endpoint_register(const char *name, uintptr_t handle) {
    return pyctx_endpoint_register(name, send_trampoline, (void *)handle, send_free_trampoline);
}

pyctx_error_t *pyctxgo_send_set_router(uintptr_t handle) {
    return pyctx_send_set_router(send_trampoline, (void *)handle, send_free_trampoline);
}

static void log_trampoline(void *user_data, const pyctx_log_record_t *r) {
    goPyctxLog((uintptr_t)user_data, r->level, (char *)r->logger, (char *)r->message,
               (char *)r->exception, (char *)r->context_name, r->created);
}

pyctx_error_t *pyctxgo_log_set_handler(uintptr_t handle, int min_level, size_t capacity) {
    return pyctx_log_set_handler(log_trampoline, (void *)handle, send_free_trampoline, min_level,
                                 capacity);
}
