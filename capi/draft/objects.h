/* pyctx.h section: "Object handles and streams" (new, after "Request objects") */
/*
 * Draft declarations for issue 12 (items 1 and 2), written as they should
 * appear in include/pyctx.h. Also to fold in:
 *  - pyctx_request_kind gains, appended:
 *        PYCTX_REQUEST_OBJECT_CALL = 4, PYCTX_REQUEST_METHOD_CALL = 5,
 *        PYCTX_REQUEST_GETATTR = 6, PYCTX_REQUEST_RELEASE = 7
 *    (defined below as macros until then: PYCTX_REQUEST_KIND_* values);
 *  - pyctx_context_stats_t gains, appended after memory_limit:
 *        uint64_t live_objects;  / **< object handles made and not yet
 *                                     released (0 once closing) * /
 *  - the CBOR tag PYCTX_CBOR_TAG_OBJECT below joins the other tags;
 *  - pyctx_result_form and pyctx_request_set_result_form() below are the one
 *    result-form enum and setter for every form (value, object, buffer,
 *    stream): capi/draft/buffers.h uses them and declares no other.
 */
#ifndef PYCTX_DRAFT_OBJECTS_H
#define PYCTX_DRAFT_OBJECTS_H

#include "pyctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Object handles                                                           */
/* ======================================================================== */

/*
 * An object handle is a reference to a live Python object in one context: a
 * loaded model, a connection, a compiled regex. A call, eval or object
 * request returns one instead of a value when its result form is
 * PYCTX_RESULT_OBJECT. The host can then call the object, call its methods
 * by name, read attributes, pass it back inside arguments (nested anywhere
 * in lists and maps: pyctx_cbor_write_object()), and release it.
 *
 * Object operations are request kinds of the request object
 * (pyctx_request_set_object_call/_method_call/_getattr/_release), so
 * timeouts, cancel, sync and async and batches come with them; the
 * pyctx_object_* functions further down are thin synchronous wrappers.
 *
 * Ownership and life:
 *  - The host owns the pyctx_object_t it received and frees it with
 *    pyctx_object_free(), which also releases the Python reference (on the
 *    context thread, later) if pyctx_object_release() has not.
 *  - Releasing drops the Python reference on the context thread. A handle
 *    belongs to the context that made it. Using it with another context,
 *    after its release, or after its context closed is an error, never a
 *    crash: PYCTX_ERR_INVALID_ARGUMENT (another context; released, checked
 *    on the host side at submit and again in the context), PYCTX_ERR_CLOSED
 *    (context closed). An object reference inside CBOR arguments that names
 *    another context's or a released object fails with PYCTX_ERR_DECODE.
 *  - Closing the context releases every handle it made; the handles the
 *    host still holds then report PYCTX_ERR_CLOSED (free them as usual).
 *  - pyctx_context_stats_t.live_objects counts the handles alive.
 *
 * Thread safety: a handle may be used from any thread, by several threads
 * at once (each request carries its own copy of the reference). Free it
 * once, when no other thread uses it any more. Requests on one context run
 * in submission order, so a release submitted after a call runs after it.
 */
typedef struct pyctx_object pyctx_object_t;

/** Request kinds of object operations: values of pyctx_request_kind, as
 *  plain ints until they join that enum in pyctx.h. */
#define PYCTX_REQUEST_OBJECT_CALL 4 /**< object(*args, **kwargs) */
#define PYCTX_REQUEST_METHOD_CALL 5 /**< object.method(*args, **kwargs) */
#define PYCTX_REQUEST_GETATTR 6     /**< object.name */
#define PYCTX_REQUEST_RELEASE 7     /**< drop the reference */

/** What a call, eval or object request returns. Values are stable. */
typedef enum pyctx_result_form {
    PYCTX_RESULT_VALUE = 0,  /**< the result as CBOR: pyctx_request_value()
                                  (the default) */
    PYCTX_RESULT_OBJECT = 1, /**< a new handle to the result; its value is
                                  the object reference CBOR, and
                                  pyctx_request_take_object() hands it out */
    PYCTX_RESULT_BUFFER = 2, /**< a view of a buffer-protocol result:
                                  pyctx_request_take_buffer() (borrowed
                                  buffers) */
    PYCTX_RESULT_STREAM = 3  /**< the result becomes a stream: the form of
                                  the request pyctx_stream_open() sends;
                                  not settable with
                                  pyctx_request_set_result_form() */
} pyctx_result_form;

/** CBOR tag of an object reference: encloses [key, id], two unsigned ints
 *  (key: the context's, id: the handle's). Python receives the object. */
#define PYCTX_CBOR_TAG_OBJECT 28796u /* 0x707C */

/** The result form of each submission (default PYCTX_RESULT_VALUE):
 *  PYCTX_RESULT_VALUE, _OBJECT or _BUFFER; INVALID_ARGUMENT for any other
 *  value (PYCTX_RESULT_STREAM included: open a stream with
 *  pyctx_stream_open()). A form other than PYCTX_RESULT_VALUE is refused at
 *  submit for exec and release requests, which have no result. */
PYCTX_API pyctx_error_t *pyctx_request_set_result_form(pyctx_request_t *request,
                                                       pyctx_result_form form);
/** Kind object call: `object(*args, **kwargs)`; args and kwargs as for a
 *  call. Sets the destination to the object's context. The request keeps
 *  its own reference to the handle: freeing the handle meanwhile makes the
 *  next submit fail (released). */
PYCTX_API pyctx_error_t *pyctx_request_set_object_call(pyctx_request_t *request,
                                                       const pyctx_object_t *object);
/** Kind method call: `object.method(*args, **kwargs)`. */
PYCTX_API pyctx_error_t *pyctx_request_set_method_call(pyctx_request_t *request,
                                                       const pyctx_object_t *object,
                                                       const char *method);
/** Kind attribute read: `object.name` (args and kwargs must be empty). */
PYCTX_API pyctx_error_t *pyctx_request_set_getattr(pyctx_request_t *request,
                                                   const pyctx_object_t *object, const char *name);
/** Kind release: drops the object's Python reference (the value is null).
 *  Once submitted, the handle counts as released on the host side (even if
 *  that request is then cancelled: the reference then goes with the
 *  context). */
PYCTX_API pyctx_error_t *pyctx_request_set_release(pyctx_request_t *request,
                                                   const pyctx_object_t *object);
/** Once done with PYCTX_RESULT_OBJECT: moves the new handle into
 *  `*out_object` (free it with pyctx_object_free()). INVALID_ARGUMENT when
 *  there is none (not done, failed, another form, or already taken). A
 *  handle never taken is released when the request is resubmitted or
 *  freed. */
PYCTX_API pyctx_error_t *pyctx_request_take_object(pyctx_request_t *request,
                                                   pyctx_object_t **out_object);

/** Releases the Python reference (unless released already) without waiting,
 *  and frees the handle. Accepts NULL. Not concurrently with other calls on
 *  the same handle. */
PYCTX_API void pyctx_object_free(pyctx_object_t *object);
/** Synchronous release, waiting up to `timeout_ms`: the handle stays valid
 *  to free, and every later use reports it released. INVALID_ARGUMENT when
 *  it was released already; CLOSED when its context is closed (the
 *  reference is gone with it). */
PYCTX_API pyctx_error_t *pyctx_object_release(pyctx_object_t *object, uint32_t timeout_ms);
/** 1 while the handle may be used: not released and its context open (NULL: 0). */
PYCTX_API int pyctx_object_is_alive(const pyctx_object_t *object);
/** The handle's id in its context (unique there, never reused; NULL: 0). */
PYCTX_API uint64_t pyctx_object_id(const pyctx_object_t *object);
/** The name of the context the object lives in; valid as long as the
 *  handle (NULL: ""). */
PYCTX_API const char *pyctx_object_context_name(const pyctx_object_t *object);

/** Synchronous `object(*args, **kwargs)` (CBOR array / map, NULL/0: none);
 *  the result's CBOR in `*out_result` (free with pyctx_bytes_free()). */
PYCTX_API pyctx_error_t *pyctx_object_call(const pyctx_object_t *object, const uint8_t *args,
                                           size_t args_len, const uint8_t *kwargs,
                                           size_t kwargs_len, uint32_t timeout_ms,
                                           pyctx_bytes_t *out_result);
/** Synchronous `object.method(*args, **kwargs)`. */
PYCTX_API pyctx_error_t *pyctx_object_call_method(const pyctx_object_t *object, const char *method,
                                                  const uint8_t *args, size_t args_len,
                                                  const uint8_t *kwargs, size_t kwargs_len,
                                                  uint32_t timeout_ms, pyctx_bytes_t *out_result);
/** Synchronous `object.name`. */
PYCTX_API pyctx_error_t *pyctx_object_getattr(const pyctx_object_t *object, const char *name,
                                              uint32_t timeout_ms, pyctx_bytes_t *out_value);
/** Writes the object reference of `object` (tag PYCTX_CBOR_TAG_OBJECT
 *  [key, id]) as one item, to nest it in arguments. Returns 0 or -1 (NULL
 *  object, or out of memory) like the other writers. */
PYCTX_API int pyctx_cbor_write_object(pyctx_cbor_writer_t *writer, const pyctx_object_t *object);

/* ======================================================================== */
/* Streams                                                                  */
/* ======================================================================== */

/*
 * A stream reads a generator, an async generator or any iterator (or
 * iterable) item by item: set up a call, eval or object request as usual
 * and open it with pyctx_stream_open() instead of submitting it. Its result
 * becomes the stream; async generators (and async iterators) advance on the
 * context's asyncio loop, so many streams progress at once on one context.
 *
 * Credit (backpressure): the host grants credit -- at open and with
 * pyctx_stream_credit() -- and the iterator is never advanced more times
 * than the credit granted in total. Each advance either produces an item
 * (delivered, in order; batched when items come fast) or finds the end (or
 * the exception that ends the stream), so the end of a stream that was
 * granted exactly as many credits as it has items is only found, and
 * reported, once one more credit is granted. With no credit left the
 * iterator waits, suspended, in the context.
 *
 * Callbacks: `on_item` runs once per item, `on_end` exactly once, after the
 * last item, with PYCTX_OK (the iterator was exhausted) or the status and
 * error that ended it: a Python exception raised mid-stream (type, message
 * and traceback; the items before it were delivered), PYCTX_ERR_CANCELLED
 * (pyctx_stream_cancel()), PYCTX_ERR_CLOSED (the context closed), or the
 * error of the call that was to produce the iterator. Both run on a library
 * thread, one at a time per stream, with no GIL and no library lock held;
 * they must not block, may grant credit, cancel, and (on_end only) free the
 * stream. `item` is borrowed for the duration of the callback. No callback
 * runs after on_end. The user data is released by its destructor once,
 * inside pyctx_stream_free() (when called from on_end: right after on_end
 * returns).
 *
 * Pull form: with `on_item` NULL the items wait in the stream for
 * pyctx_stream_next(), which grants credit itself (the open's `credit`, at
 * least 1, whenever no item is waiting and none is owed).
 *
 * Cancel closes the iterator in the context: a generator's close() (its
 * finally blocks run), an async generator's aclose(). Items already on the
 * way are dropped. Process contexts will carry the same messages (open,
 * credit, cancel) through their ring.
 *
 * Thread safety: pyctx_stream_credit, _cancel, _next and _is_done may be
 * called from any thread; pyctx_stream_free once, by the owner.
 */
typedef struct pyctx_stream pyctx_stream_t;

/** One item (CBOR, borrowed for the duration of the call). */
typedef void (*pyctx_stream_item_fn)(void *user_data, pyctx_stream_t *stream,
                                     const uint8_t *item, size_t len);
/** The end, exactly once: `status` PYCTX_OK at exhaustion, else `error`
 *  (borrowed for the duration of the call) says why it ended. */
typedef void (*pyctx_stream_end_fn)(void *user_data, pyctx_stream_t *stream, pyctx_status status,
                                    const pyctx_error_t *error);

/**
 * Opens a stream from `request` (a NEW or DONE call, eval, object call or
 * method call request; its settings are copied and the request itself stays
 * untouched, reusable). `credit` is the credit granted at once (0: none
 * yet). `on_item` NULL selects the pull form; `on_end` may be NULL. On
 * success `*out_stream` is the stream; on an error nothing was started and
 * `free_user_data` is not called.
 */
PYCTX_API pyctx_error_t *pyctx_stream_open(pyctx_request_t *request, uint32_t credit,
                                           pyctx_stream_item_fn on_item, pyctx_stream_end_fn on_end,
                                           void *user_data, pyctx_free_fn free_user_data,
                                           pyctx_stream_t **out_stream);
/** Grants `n` more credit. Ignored (NULL returned) once the stream ended. */
PYCTX_API pyctx_error_t *pyctx_stream_credit(pyctx_stream_t *stream, uint32_t n);
/** Cancels: the iterator is closed in the context and the end is reported
 *  with PYCTX_ERR_CANCELLED (unless the stream had ended already). */
PYCTX_API pyctx_error_t *pyctx_stream_cancel(pyctx_stream_t *stream);
/** Pull form: waits up to `timeout_ms` (PYCTX_NO_TIMEOUT: no limit) for
 *  the next item and moves it into `*out_item` (free with
 *  pyctx_bytes_free()); `*out_done` is 0. At the end `*out_done` is 1 and
 *  the result is NULL when the iterator was exhausted, or a copy of the
 *  error that ended it. PYCTX_ERR_TIMEOUT when no item came in time (the
 *  stream goes on). INVALID_ARGUMENT for a stream opened with `on_item`. */
PYCTX_API pyctx_error_t *pyctx_stream_next(pyctx_stream_t *stream, uint32_t timeout_ms,
                                           pyctx_bytes_t *out_item, int *out_done);
/** 1 once the end was reported (NULL: 1). */
PYCTX_API int pyctx_stream_is_done(const pyctx_stream_t *stream);
/** Frees the stream: one not yet ended is cancelled, and its end awaited
 *  (except when called from its own on_end). Releases the user data.
 *  Accepts NULL. */
PYCTX_API void pyctx_stream_free(pyctx_stream_t *stream);

#ifdef __cplusplus
}
#endif

#endif /* PYCTX_DRAFT_OBJECTS_H */
