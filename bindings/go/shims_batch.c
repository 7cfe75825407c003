/* Batched calls of the Go binding: see shims_batch.h. */
#include "shims_batch.h"

#include <stdlib.h>
#include <time.h>

struct pyctxgo_batch {
    size_t count;    /* requests built */
    size_t accepted; /* requests submitted (a prefix) */
    pyctx_request_t *requests[];
};

void pyctxgo_batch_free(pyctxgo_batch *batch) {
    if (batch == NULL) return;
    for (size_t i = 0; i < batch->count; ++i) pyctx_request_free(batch->requests[i]);
    free(batch);
}

/* Builds request `i` of the batch from its packed description. */
static pyctx_error_t *build(pyctx_request_t *request, pyctx_context_t *context,
                            const uint8_t *buf, const pyctxgo_batch_call *call,
                            uint32_t timeout_ms) {
    pyctx_error_t *err = pyctx_request_set_context(request, context);
    if (err == NULL)
        err = pyctx_request_set_call(request, (const char *)buf + call->module_off,
                                     (const char *)buf + call->function_off);
    if (err == NULL && call->args_len > 0)
        err = pyctx_request_set_args(request, buf + call->args_off, call->args_len);
    if (err == NULL && call->kwargs_len > 0)
        err = pyctx_request_set_kwargs(request, buf + call->kwargs_off, call->kwargs_len);
    if (err == NULL) err = pyctx_request_set_timeout(request, timeout_ms);
    return err;
}

pyctxgo_batch_submitted pyctxgo_batch_submit(pyctx_context_t *context, const uint8_t *buf,
                                             const pyctxgo_batch_call *calls, size_t count,
                                             uint32_t timeout_ms) {
    pyctxgo_batch_submitted out = {NULL, 0, NULL};
    pyctxgo_batch *batch = malloc(sizeof *batch + count * sizeof batch->requests[0]);
    if (batch == NULL) return out; /* no batch and no error: out of memory */
    batch->count = 0;
    batch->accepted = 0;
    for (size_t i = 0; i < count; ++i) {
        pyctx_error_t *err = pyctx_request_new(&batch->requests[i]);
        if (err == NULL) {
            batch->count = i + 1;
            err = build(batch->requests[i], context, buf, &calls[i], timeout_ms);
        }
        if (err != NULL) {
            pyctxgo_batch_free(batch);
            out.error = err;
            return out;
        }
    }
    out.error = pyctx_request_submit_many(batch->requests, count, &batch->accepted);
    out.batch = batch;
    out.accepted = batch->accepted;
    return out;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pyctxgo_batch_wait(pyctxgo_batch *batch, uint32_t timeout_ms) {
    int64_t deadline = timeout_ms == PYCTX_NO_TIMEOUT ? 0 : now_ms() + timeout_ms;
    for (size_t i = 0; i < batch->accepted; ++i) {
        pyctx_request_t *request = batch->requests[i];
        if (pyctx_request_is_done(request)) continue;
        uint32_t wait_ms = PYCTX_NO_TIMEOUT;
        if (deadline != 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) return 0;
            wait_ms = (uint32_t)left;
        }
        pyctx_error_t *err = pyctx_request_wait(request, wait_ms);
        if (err != NULL) { /* the wait ran out: the request is in flight */
            pyctx_error_free(err);
            return 0;
        }
    }
    return 1;
}

void pyctxgo_batch_cancel(pyctxgo_batch *batch) {
    /* Last first: calls to one context run in order, so every later call is
     * still queued while an earlier one runs. Cancelling the running one
     * first would free the context thread to start the next before its own
     * cancel lands (a queued call of a cancelled batch then ran). */
    for (size_t i = batch->accepted; i-- > 0;) {
        /* NOT_FOUND only means it is done already. */
        if (!pyctx_request_is_done(batch->requests[i]))
            pyctx_error_free(pyctx_request_cancel(batch->requests[i]));
    }
}

void pyctxgo_batch_take(pyctxgo_batch *batch, uint8_t *dst, size_t dst_cap, pyctxgo_taken *out) {
    size_t used = 0;
    for (size_t i = 0; i < batch->accepted; ++i) {
        out[i] = pyctxgo_request_take(batch->requests[i], dst + used, dst_cap - used);
        if (out[i].copied) used += out[i].copied_len;
    }
}
