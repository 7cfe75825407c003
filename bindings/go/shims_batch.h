/* C helpers of the Go binding's batched calls (Context.CallMany).
 *
 * A batch is many call requests to one context, built and submitted in one
 * cgo call with pyctx_request_submit_many (one wake-up of the context),
 * waited for, cancelled and read out in one cgo call each, so a batch of N
 * calls costs a handful of cgo crossings instead of several per call. */
#ifndef PYCTX_GO_SHIMS_BATCH_H
#define PYCTX_GO_SHIMS_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "pyctx.h"
#include "shims.h"

/* One call of a batch, as offsets into the batch's packed buffer. */
typedef struct pyctxgo_batch_call {
    size_t module_off;   /* NUL-terminated */
    size_t function_off; /* NUL-terminated */
    size_t args_off, args_len;     /* one CBOR array; len 0: none */
    size_t kwargs_off, kwargs_len; /* one CBOR map; len 0: none */
} pyctxgo_batch_call;

/* The requests of one batch (C memory, so Go never holds them). */
typedef struct pyctxgo_batch pyctxgo_batch;

/* The outcome of submitting a batch. `batch` is NULL when the calls could
 * not be built (then `error` says why, or is NULL when memory ran out, and
 * nothing was submitted); else
 * `accepted` requests are in flight and `error` (may be NULL) is the
 * refusal of the next one. */
typedef struct pyctxgo_batch_submitted {
    pyctxgo_batch *batch;
    size_t accepted;
    pyctx_error_t *error;
} pyctxgo_batch_submitted;

pyctxgo_batch_submitted pyctxgo_batch_submit(pyctx_context_t *context, const uint8_t *buf,
                                             const pyctxgo_batch_call *calls, size_t count,
                                             uint32_t timeout_ms);
/* Waits for every accepted request, at most `timeout_ms` in all
 * (PYCTX_NO_TIMEOUT: no limit); 1 when all are done, 0 when time ran out. */
int pyctxgo_batch_wait(pyctxgo_batch *batch, uint32_t timeout_ms);
/* Cancels every accepted request not done yet; any thread, during a wait. */
void pyctxgo_batch_cancel(pyctxgo_batch *batch);
/* Reads out every accepted (and done) request into out[0..accepted), values
 * copied one after another into dst while they fit (see pyctxgo_taken). */
void pyctxgo_batch_take(pyctxgo_batch *batch, uint8_t *dst, size_t dst_cap, pyctxgo_taken *out);
/* Frees the batch and its requests (cancelling and waiting for any still
 * in flight). */
void pyctxgo_batch_free(pyctxgo_batch *batch);

#endif
