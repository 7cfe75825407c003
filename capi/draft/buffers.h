/* Draft for pyctx.h: a new section "Borrowed buffers" after "Request objects"; PYCTX_CBOR_TAG_BUFFER joins the tags of "Values: CBOR". */
#ifndef PYCTX_DRAFT_BUFFERS_H
#define PYCTX_DRAFT_BUFFERS_H

#include "pyctx.h"
/* pyctx_result_form and pyctx_request_set_result_form() (PYCTX_RESULT_BUFFER)
 * are declared with the object handles, in one enum for every result form. */
#include "objects.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Borrowed buffers                                                         */
/* ======================================================================== */

/*
 * Large arrays cross the boundary without a copy, in both directions, as a
 * buffer handle (pyctx_buffer_t): memory plus its element layout in the
 * terms of Python's buffer protocol (PEP 3118).
 *
 * Host -> Python. The host lends memory (pyctx_buffer_lend(), or memory the
 * library allocates with pyctx_buffer_alloc()), describes its elements
 * (pyctx_buffer_set_format(), pyctx_buffer_set_shape(); default: unsigned
 * bytes, one dimension), attaches it to a request object
 * (pyctx_request_attach_buffer(), which returns its index) and names it in
 * the request's CBOR arguments -- anywhere in the argument tree, in args,
 * kwargs or eval locals -- as tag PYCTX_CBOR_TAG_BUFFER enclosing that
 * index (an unsigned int). Python receives a `memoryview` over the host's
 * memory itself: memoryview indexing and slicing, `numpy.frombuffer(view,
 * dtype=...)`, `numpy.asarray(view)`, `bytes(view)`, `hashlib.sha256(view)`
 * and every other buffer consumer read (and, when lent writable, write) that
 * memory with no copy. The view's `.obj` is a `pyctx.LentBuffer`, the small
 * exporter that lends it; its format, itemsize, shape, strides and
 * `readonly` are the buffer's. A read-only buffer refuses writable views
 * (BufferError), so `view[0] = 1` raises TypeError and numpy arrays made from
 * it are not writeable.
 *
 * What keeps lent memory lent. The library ends a loan -- runs the host's
 * finalizer, or frees library memory -- exactly once, when the last of these
 * is gone, and never before:
 *   - the host's handle (until pyctx_buffer_free()),
 *   - each request object it is attached to and has not yet submitted,
 *   - each submission it went with, until that submission completes -- with
 *     a value, a Python error, cancelled, timed out or closed,
 *   - each Python object that views it: the memoryview Python received,
 *     anything made from it (slices, numpy arrays, other memoryviews), and
 *     whatever keeps those alive (a global, a list, a cached array).
 * So a view Python keeps after its request ended keeps the memory lent: the
 * host must not reuse or free that memory before the finalizer ran. Closing
 * the context drops what its Python holds (an owngil interpreter ends with
 * all of its objects; a worker context drops its namespaces), which ends
 * those loans. In worker mode the main interpreter outlives every context: a
 * view stored in a module there (e.g. `sys.modules` or a module global) keeps
 * the memory lent after the context closed, until that view dies or, at the
 * latest, pyctx_shutdown() once Python is finalized. pyctx_context_buffer_stats()
 * counts the views still alive.
 *
 * The finalizer runs on the thread that dropped the last reference: the
 * host's (inside pyctx_buffer_free(), pyctx_request_free() or a completion),
 * or a context thread with its GIL released (when Python drops the last
 * view). It must not block for long; it may call pyctx functions, but must not
 * wait synchronously on a context.
 *
 * Python -> host. A call, eval or object request set to PYCTX_RESULT_BUFFER
 * (pyctx_request_set_result_form()) returns its result as a view instead of
 * CBOR: any object that supports the buffer protocol -- bytes, bytearray,
 * memoryview, array.array, a numpy array, any exporter, including a
 * coroutine's result. pyctx_request_take_buffer() hands it to the host as a
 * buffer handle: pointer, length, format, shape, strides and read-only flag
 * of Python's own memory (strides may be negative and the data need not be
 * contiguous; pyctx_buffer_info() says). The object stays pinned -- alive and
 * its memory in place -- until the host frees the handle with
 * pyctx_buffer_free(), from any thread, at any time; the view is then
 * released (PyBuffer_Release) on the context's thread. A result that has no
 * buffer view (an int, a list) fails with PYCTX_ERR_ENCODE naming its type.
 * The host may write through the view unless it is read-only, and may attach
 * it to another request -- of any context -- to lend Python's memory on.
 *
 * Views the host holds and closing. A context cannot end its interpreter
 * while the host holds views of its objects: pyctx_context_close() waits for
 * them to be released, up to its timeout, and then returns PYCTX_ERR_STUCK
 * naming how many are held; the context's thread ends its interpreter and
 * exits as soon as the last one is released. Freeing a view after its context
 * closed is always fine. pyctx_shutdown() closes contexts the same way:
 * release every view before it, or it reports the context stuck and leaves
 * Python initialized.
 *
 * Process contexts (not yet built) will share library-allocated buffers with
 * their child process without a copy, and copy lent host memory once.
 *
 * Thread safety: pyctx_buffer_set_format()/_set_shape() are for the thread
 * that made the buffer, before it is first attached (the layout is then
 * fixed). pyctx_buffer_data(), pyctx_buffer_info() and pyctx_buffer_free()
 * may be called from any thread, concurrently with requests that use the
 * buffer; the memory itself is shared with Python without synchronization:
 * the host must not write memory Python may be reading, or read memory
 * Python may be writing, except across a request's completion.
 */
typedef struct pyctx_buffer pyctx_buffer_t;

/** The CBOR tag naming an attached buffer: it encloses the buffer's index
 *  (an unsigned int) in the request's attachments. Only valid in the
 *  arguments (args, kwargs, eval locals) of a request object; elsewhere,
 *  or with an index out of range, decoding fails with PYCTX_ERR_DECODE. */
#define PYCTX_CBOR_TAG_BUFFER 28770u /* 0x7062, "pb" */

/** Library-allocated buffers are aligned to this many bytes. */
#define PYCTX_BUFFER_ALIGNMENT 64u

/** Whose memory a buffer is. Values are stable; new ones are only appended. */
typedef enum pyctx_buffer_memory {
    PYCTX_BUFFER_HOST = 0,    /**< the host's, lent with pyctx_buffer_lend() */
    PYCTX_BUFFER_LIBRARY = 1, /**< allocated by pyctx_buffer_alloc() */
    PYCTX_BUFFER_PYTHON = 2   /**< a Python object's, from pyctx_request_take_buffer() */
} pyctx_buffer_memory;

/** A buffer's memory and layout; see pyctx_buffer_info(). Fields are only
 *  ever appended. The pointers stay valid as long as the handle. */
typedef struct pyctx_buffer_info {
    void *data;             /**< the first element */
    size_t len;             /**< itemsize * product(shape): the elements' bytes */
    size_t itemsize;
    const char *format;     /**< PEP 3118 element format, e.g. "d" or "<i";
                                 "B" for plain bytes; never NULL */
    int ndim;               /**< >= 1 */
    const int64_t *shape;   /**< ndim entries */
    const int64_t *strides; /**< ndim entries, in bytes (filled in C order
                                 when none were given) */
    int readonly;           /**< 1: must not be written through this buffer */
    int c_contiguous;       /**< 1: the elements are contiguous in C order */
    pyctx_buffer_memory memory;
} pyctx_buffer_info_t;

/**
 * Lends `len` bytes at `data` (NULL only when `len` is 0). `writable` 1 lets
 * Python write into them, 0 lends them read-only. `finalizer` (may be NULL)
 * is called with `user_data` exactly once, when the loan ends (see "What
 * keeps lent memory lent" above); until then the memory must stay valid and
 * in place. When this fails the finalizer is not called: the caller still
 * owns the memory.
 */
PYCTX_API pyctx_error_t *pyctx_buffer_lend(void *data, size_t len, int writable,
                                           pyctx_free_fn finalizer, void *user_data,
                                           pyctx_buffer_t **out_buffer);

/**
 * Allocates `len` zeroed, writable bytes aligned to PYCTX_BUFFER_ALIGNMENT,
 * owned by the library and freed when the loan ends. Fill them through
 * pyctx_buffer_data(). This is the form for hosts that cannot lend their own
 * memory (Go), and the one process contexts will share without a copy.
 * PYCTX_ERR_NO_MEMORY when the allocation fails.
 */
PYCTX_API pyctx_error_t *pyctx_buffer_alloc(size_t len, pyctx_buffer_t **out_buffer);

/**
 * Sets the element format, a PEP 3118 / `struct` module code with an
 * optional byte-order prefix: one of ? b B c h H i I l L q Q n N e f d P
 * (n, N, P only native), or Zf / Zd (complex float / double), after
 * nothing or '@' (native), '=', '<', '>' or '!' (standard sizes). Default
 * "B". With no shape set, the buffer is one dimension of len / itemsize
 * elements (len must be a multiple of the item size). INVALID_ARGUMENT for
 * another format, a size that does not fit, or once the buffer was attached.
 */
PYCTX_API pyctx_error_t *pyctx_buffer_set_format(pyctx_buffer_t *buffer, const char *format);

/**
 * Sets the shape (`ndim` entries, 1..64, each >= 0) and optionally the
 * strides in bytes (`strides` NULL: C-contiguous, and the elements must fill
 * exactly the buffer's length). Strides must be non-negative and keep every
 * element inside the buffer. INVALID_ARGUMENT otherwise, naming what does not
 * fit, or once the buffer was attached. Set the format first.
 */
PYCTX_API pyctx_error_t *pyctx_buffer_set_shape(pyctx_buffer_t *buffer, int ndim,
                                                const int64_t *shape, const int64_t *strides);

/** The buffer's memory, and in `out_len` (may be NULL) its length in bytes
 *  (for a Python view: itemsize * product(shape)). NULL for NULL. Write
 *  only into writable buffers (see the thread-safety note above). */
PYCTX_API void *pyctx_buffer_data(const pyctx_buffer_t *buffer, size_t *out_len);

/** Fills `out_info`. `info_size` is sizeof(pyctx_buffer_info_t) as the
 *  caller knows it; only that many bytes are written. */
PYCTX_API pyctx_error_t *pyctx_buffer_info(const pyctx_buffer_t *buffer,
                                           pyctx_buffer_info_t *out_info, size_t info_size);

/** Releases the handle. The loan ends when nothing else holds the buffer
 *  (see above); for a Python view, the view is released on its context's
 *  thread. Any thread. Accepts NULL. */
PYCTX_API void pyctx_buffer_free(pyctx_buffer_t *buffer);

/**
 * Attaches `buffer` to the request's next submission; `out_index` (may be
 * NULL) receives its index for PYCTX_CBOR_TAG_BUFFER: 0, 1, 2, ... in the
 * order of attachment. The request holds the buffer (the caller keeps its
 * own handle, to free as usual) and the buffer's layout is fixed from now
 * on. Submitting hands the attachments to that submission, which lets go of
 * them when it completes, and leaves the request with none: a resubmission
 * attaches again. A refused submission keeps them. INVALID_ARGUMENT for an
 * in-flight request.
 */
PYCTX_API pyctx_error_t *pyctx_request_attach_buffer(pyctx_request_t *request,
                                                     pyctx_buffer_t *buffer,
                                                     uint32_t *out_index);

/** Drops the buffers attached since the last submission. */
PYCTX_API pyctx_error_t *pyctx_request_clear_buffers(pyctx_request_t *request);

/** Once done with PYCTX_RESULT_BUFFER: moves the result view into
 *  `out_buffer` (release it with pyctx_buffer_free()). INVALID_ARGUMENT when
 *  there is none (not done, failed, another form, or already taken). A view
 *  not taken is released with the request's next submission or its free. */
PYCTX_API pyctx_error_t *pyctx_request_take_buffer(pyctx_request_t *request,
                                                   pyctx_buffer_t **out_buffer);

/** Buffer counters of one context. Fields are only ever appended. */
typedef struct pyctx_buffer_stats {
    uint64_t lent_views; /**< Python views of lent buffers alive in the
                              context now (each tag decoded is one, until
                              the last object viewing it is gone) */
    uint64_t lent_total; /**< buffers lent to the context over its life */
    uint64_t held_views; /**< views of the context's Python objects the
                              host holds now */
} pyctx_buffer_stats_t;

/** Fills `out_stats` (`stats_size` as in pyctx_context_stats()). Valid on a
 *  closed context too: lent views may outlive a worker context. */
PYCTX_API pyctx_error_t *pyctx_context_buffer_stats(const pyctx_context_t *context,
                                                    pyctx_buffer_stats_t *out_stats,
                                                    size_t stats_size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PYCTX_DRAFT_BUFFERS_H */
