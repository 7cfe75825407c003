/* C helpers of the Go binding for requests built from one description:
 * pool requests (a key, the member it went to), object handle operations
 * and streams. One cgo call sets up a pyctx_request_t from a
 * pyctxgo_spec (C pointers and offsets into one Go buffer, so the
 * description itself holds no Go pointer) and submits it, or opens it as a
 * stream. */
#ifndef PYCTX_GO_SHIMS_REQUEST_H
#define PYCTX_GO_SHIMS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "pyctx.h"

/* One request. Strings and CBOR are at offsets into the buffer passed
 * beside it. */
typedef struct pyctxgo_spec {
    int kind;                     /* pyctx_request_kind */
    pyctx_context_t *context;     /* destination of call, eval, exec (or NULL) */
    pyctx_pool_t *pool;           /* ... or this pool */
    const pyctx_object_t *object; /* the object of object kinds */
    pyctx_env_t *env;             /* eval and exec; NULL: default namespace */
    size_t text_off;              /* NUL-terminated: module, expression, code,
                                     method or attribute name */
    size_t name_off;              /* NUL-terminated: function of a call */
    size_t args_off, args_len;    /* CBOR array; len 0: none */
    size_t kwargs_off, kwargs_len;/* CBOR map; len 0: none */
    size_t key_off, key_len;      /* pool routing key; len 0: none */
    uint32_t timeout_ms;
    int result_form;              /* pyctx_result_form */
} pyctxgo_spec;

/* Sets every field of `request` from `spec` and attaches `buffers[0..n)`
 * in order (their indices are the PYCTX_CBOR_TAG_BUFFER indices the
 * arguments name). */
pyctx_error_t *pyctxgo_request_setup(pyctx_request_t *request, const uint8_t *buf,
                                     const pyctxgo_spec *spec, pyctx_buffer_t *const *buffers,
                                     size_t n);

/* Sets up and submits `request` for a synchronous wait. */
pyctx_error_t *pyctxgo_request_start(pyctx_request_t *request, const uint8_t *buf,
                                     const pyctxgo_spec *spec, pyctx_buffer_t *const *buffers,
                                     size_t n);

/* The outcome of an asynchronous submission. */
typedef struct pyctxgo_async_submitted {
    pyctx_error_t *error;
    uint64_t request_id;
    int no_memory; /* 1: nothing submitted, and no error object either */
} pyctxgo_async_submitted;

/* Builds a request from `spec` and submits it with a completion that
 * reaches goPyctxRequestDone with `handle`; the request is freed after
 * that. On an error nothing was submitted and the callback never runs. */
pyctxgo_async_submitted pyctxgo_request_submit_async(const uint8_t *buf, const pyctxgo_spec *spec,
                                                     pyctx_buffer_t *const *buffers, size_t n,
                                                     uintptr_t handle);

/* Builds a request from `spec` and opens it as a pull stream with `credit`. */
pyctx_error_t *pyctxgo_stream_open(const uint8_t *buf, const pyctxgo_spec *spec,
                                   pyctx_buffer_t *const *buffers, size_t n, uint32_t credit,
                                   pyctx_stream_t **out_stream);

/* Once done with PYCTX_RESULT_BUFFER: the view, moved out of `request`,
 * and its layout. */
typedef struct pyctxgo_view {
    pyctx_error_t *error;
    pyctx_buffer_t *buffer;
    pyctx_buffer_info_t info;
} pyctxgo_view;
pyctxgo_view pyctxgo_request_take_view(pyctx_request_t *request);

/* A library-allocated buffer of `len` bytes with its layout. */
pyctxgo_view pyctxgo_buffer_alloc(size_t len);

/* The layout of `buffer` after a format or shape change. */
pyctxgo_view pyctxgo_buffer_info(pyctx_buffer_t *buffer);

#endif
