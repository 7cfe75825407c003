/*
 * pyctx.h -- the one public header of pyctx.
 *
 * pyctx runs Python inside any host program. The host initializes one
 * process-wide runtime, creates *contexts* (each a Python execution lane with
 * its own dedicated OS thread), and sends them requests: call a function,
 * evaluate an expression, execute code. Values cross this boundary as CBOR
 * (RFC 8949) byte strings; see "Values" below.
 *
 * Plain C99. Every symbol is prefixed `pyctx_` / `PYCTX_`.
 *
 * ---------------------------------------------------------------------------
 * Conventions
 * ---------------------------------------------------------------------------
 *  - Fallible functions return `pyctx_error_t *`: NULL on success, otherwise
 *    an error object owned by the caller, released with pyctx_error_free().
 *  - Out-parameters are named `out_*`; they are written only on success.
 *  - Every `*_free` function accepts NULL and does nothing with it.
 *  - Strings passed in are NUL-terminated UTF-8; invalid UTF-8 is rejected
 *    with PYCTX_ERR_INVALID_ARGUMENT.
 *  - Input buffers are borrowed for the duration of the call only; the
 *    library copies what it keeps.
 *  - Stored user data is always paired with a finalizer the library calls
 *    exactly once when it no longer needs the data.
 *
 * ---------------------------------------------------------------------------
 * Thread safety
 * ---------------------------------------------------------------------------
 *  - Every function may be called from any thread, concurrently, unless its
 *    documentation says otherwise. Python code only ever runs on library
 *    threads (one per context), never on the caller's thread.
 *  - A handle must not be freed while another thread is still using it; all
 *    other operations on one handle may race freely. After
 *    pyctx_context_close() a handle stays valid (calls report
 *    PYCTX_ERR_CLOSED) until pyctx_context_free().
 *  - Completion callbacks run on a library thread, never inside the call that
 *    submitted the request, with no GIL and no library lock held. They must
 *    not block for long: they delay other completions of the same context.
 *    They may call any pyctx function, including submitting new requests,
 *    but must not wait synchronously on the context that runs them.
 *
 * ---------------------------------------------------------------------------
 * Completion guarantee
 * ---------------------------------------------------------------------------
 * Every request that a submitting function accepted (it returned NULL)
 * completes exactly once: with a value, a Python error, or a status
 * (cancelled, timeout, closed) -- also when it is cancelled, times out, when
 * its context closes and when the runtime shuts down. A request that was not
 * accepted never completes and its callback is never invoked.
 */
#ifndef PYCTX_H
#define PYCTX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(PYCTX_BUILDING)
#    define PYCTX_API __declspec(dllexport)
#  else
#    define PYCTX_API
#  endif
#elif defined(__GNUC__)
#  define PYCTX_API __attribute__((visibility("default")))
#else
#  define PYCTX_API
#endif

/* ======================================================================== */
/* Version                                                                  */
/* ======================================================================== */

#define PYCTX_VERSION_MAJOR 0
#define PYCTX_VERSION_MINOR 2
#define PYCTX_VERSION_PATCH 0
/** (major << 16) | (minor << 8) | patch, comparable with pyctx_version(). */
#define PYCTX_VERSION \
    ((PYCTX_VERSION_MAJOR << 16) | (PYCTX_VERSION_MINOR << 8) | PYCTX_VERSION_PATCH)

/** The version of the library actually loaded, encoded like PYCTX_VERSION. */
PYCTX_API uint32_t pyctx_version(void);
/** The same as a static string, e.g. "0.2.0". */
PYCTX_API const char *pyctx_version_string(void);

/* ======================================================================== */
/* Status codes and errors                                                  */
/* ======================================================================== */

/** Why something failed. Values are stable; new ones are only appended. */
typedef enum pyctx_status {
    PYCTX_OK = 0,
    PYCTX_ERR_INVALID_ARGUMENT = 1, /**< NULL, out-of-range, bad UTF-8, ... */
    PYCTX_ERR_NOT_RUNNING = 2,      /**< runtime is not in the RUNNING state */
    PYCTX_ERR_ALREADY_INITIALIZED = 3, /**< init called again (or after shutdown) */
    PYCTX_ERR_UNSUPPORTED = 4,      /**< e.g. owngil on Python < 3.12 */
    PYCTX_ERR_CLOSED = 5,           /**< the context is closed or closing */
    PYCTX_ERR_QUEUE_FULL = 6,       /**< the context's queue bound is reached */
    PYCTX_ERR_CANCELLED = 7,        /**< the request was cancelled */
    PYCTX_ERR_TIMEOUT = 8,          /**< a deadline passed */
    PYCTX_ERR_PYTHON = 9,           /**< Python raised: see type/traceback */
    PYCTX_ERR_DECODE = 10,          /**< input CBOR is invalid or unsupported */
    PYCTX_ERR_ENCODE = 11,          /**< a Python result cannot become CBOR */
    PYCTX_ERR_NOT_FOUND = 12,       /**< unknown request id, env, or name */
    PYCTX_ERR_NO_MEMORY = 13,
    PYCTX_ERR_STUCK = 14,  /**< close timed out: Python did not return; the
                                 context thread and its memory stay pinned */
    PYCTX_ERR_INTERNAL = 15,
    PYCTX_ERR_CRASHED = 16 /**< a process context's child process died (crash,
                                abort, exit, killed); the message names the
                                signal or exit code */
} pyctx_status;

/** A short stable name for a status, e.g. "timeout". Never NULL. */
PYCTX_API const char *pyctx_status_name(pyctx_status status);

/** An owned error object. */
typedef struct pyctx_error pyctx_error_t;

PYCTX_API void pyctx_error_free(pyctx_error_t *error);
/** The status; PYCTX_ERR_INVALID_ARGUMENT when `error` is NULL. */
PYCTX_API pyctx_status pyctx_error_status(const pyctx_error_t *error);
/** Human-readable message (for Python errors: str(exception)). Never NULL;
 *  valid until the error is freed. */
PYCTX_API const char *pyctx_error_message(const pyctx_error_t *error);
/** For PYCTX_ERR_PYTHON: the exception's qualified type name, e.g.
 *  "ZeroDivisionError" or "mypkg.MyError". Otherwise "". Never NULL. */
PYCTX_API const char *pyctx_error_python_type(const pyctx_error_t *error);
/** For PYCTX_ERR_PYTHON: the formatted traceback (as printed by Python),
 *  otherwise "". Never NULL. */
PYCTX_API const char *pyctx_error_traceback(const pyctx_error_t *error);

/* ======================================================================== */
/* Owned byte buffers                                                       */
/* ======================================================================== */

/** A library-allocated byte buffer handed to the caller. */
typedef struct pyctx_bytes {
    uint8_t *data;
    size_t len;
} pyctx_bytes_t;

/** Releases `bytes->data` and zeroes the struct. Accepts NULL. */
PYCTX_API void pyctx_bytes_free(pyctx_bytes_t *bytes);

/** Finalizer of user data the library stores (host functions, request
 *  callbacks): called exactly once, when the library no longer needs it. */
typedef void (*pyctx_free_fn)(void *user_data);

/* ======================================================================== */
/* Runtime                                                                  */
/* ======================================================================== */

/** The process-wide runtime state. Transitions are atomic and one-way:
 *  UNINIT -> INITING -> RUNNING -> SHUTTING_DOWN -> STOPPED.
 *  (A failed init goes INITING -> STOPPED.) Python cannot be re-initialized
 *  in one process, so STOPPED is final. */
typedef enum pyctx_state {
    PYCTX_STATE_UNINIT = 0,
    PYCTX_STATE_INITING = 1,
    PYCTX_STATE_RUNNING = 2,
    PYCTX_STATE_SHUTTING_DOWN = 3,
    PYCTX_STATE_STOPPED = 4
} pyctx_state;

/** Which allocator Python's objects use (PyPreConfig.allocator). */
typedef enum pyctx_allocator {
    PYCTX_ALLOCATOR_DEFAULT = 0, /**< Python's default (pymalloc) */
    PYCTX_ALLOCATOR_MALLOC = 1,  /**< the C library's malloc: an owngil
                                      context then returns almost all of its
                                      memory when it closes */
    PYCTX_ALLOCATOR_PYMALLOC = 2
} pyctx_allocator;

/** Options for pyctx_init(). Builder; not thread-safe itself. */
typedef struct pyctx_runtime_options pyctx_runtime_options_t;

PYCTX_API pyctx_runtime_options_t *pyctx_runtime_options_new(void);
PYCTX_API void pyctx_runtime_options_free(pyctx_runtime_options_t *options);
/** Prepends `path` to sys.path (in every interpreter). May be repeated;
 *  entries keep their order. */
PYCTX_API pyctx_error_t *pyctx_runtime_options_add_path(pyctx_runtime_options_t *options,
                                                        const char *path);
/** PYTHONHOME-like prefix of the Python installation to use. */
PYCTX_API pyctx_error_t *pyctx_runtime_options_set_home(pyctx_runtime_options_t *options,
                                                        const char *home);
/** sys.executable-like program name (affects prefix discovery). */
PYCTX_API pyctx_error_t *pyctx_runtime_options_set_program_name(
    pyctx_runtime_options_t *options, const char *name);
PYCTX_API pyctx_error_t *pyctx_runtime_options_set_allocator(pyctx_runtime_options_t *options,
                                                             pyctx_allocator allocator);

/**
 * Initializes Python on a library thread and moves the runtime to RUNNING.
 * `options` may be NULL (defaults) and is only read during the call.
 *
 * Exactly one caller initializes. Concurrent or later callers wait until the
 * runtime has left INITING and get PYCTX_ERR_ALREADY_INITIALIZED (also after
 * shutdown: Python cannot be initialized twice in one process).
 */
PYCTX_API pyctx_error_t *pyctx_init(const pyctx_runtime_options_t *options);

/**
 * Closes every context (each with `timeout_ms` to finish its running
 * request, see pyctx_context_close()), completes every pending request with
 * PYCTX_ERR_CLOSED, waits for all completion callbacks, then finalizes Python
 * and moves the runtime to STOPPED.
 *
 * `timeout_ms` is one deadline for the whole shutdown, however many
 * contexts there are. It bounds the wait for Python to return; delivering
 * the completions of requests that were still queued does not count against
 * it (that needs no Python and always progresses).
 *
 * Returns PYCTX_ERR_NOT_RUNNING when the runtime is not RUNNING, and
 * PYCTX_ERR_INVALID_ARGUMENT (the runtime keeps running) when called on a
 * library thread: from a completion callback or a host function. Returns
 * PYCTX_ERR_STUCK, naming what still runs, when a context thread did not
 * return from Python in time, when non-daemon Python threads (which
 * finalization would wait for without bound) were still running at the
 * deadline, or when finalization itself (atexit callbacks) did not finish:
 * the runtime is STOPPED all the same, and Python is left initialized
 * (finalizing it under a running thread would crash the process).
 */
PYCTX_API pyctx_error_t *pyctx_shutdown(uint32_t timeout_ms);

/** The current runtime state. */
PYCTX_API pyctx_state pyctx_runtime_state(void);
/** The Python version the library runs, e.g. "3.13.0"; "" before init. */
PYCTX_API const char *pyctx_python_version(void);
/** 1 when this Python supports owngil contexts (3.12+), else 0. */
PYCTX_API int pyctx_owngil_supported(void);

/* ======================================================================== */
/* Contexts                                                                 */
/* ======================================================================== */

typedef enum pyctx_mode {
    /** Runs on the main interpreter, taking the shared GIL per batch of
     *  requests. All Python versions. Worker contexts share modules and
     *  sys state with each other, but each has its own default namespace. */
    PYCTX_MODE_WORKER = 0,
    /** A PEP 684 subinterpreter with its own GIL (Python 3.12+): runs in
     *  parallel with every other context, fully isolated. Extension modules
     *  without subinterpreter support (single-phase init, numpy and the
     *  like) fail to import with an ImportError naming the module and
     *  pointing to worker contexts; on 3.12 their init never runs in the
     *  owngil interpreter. The first import of an extension module is
     *  serialized across the whole process (a re-entrant lock waited for
     *  with the GIL released, also held while owngil interpreters are
     *  created and ended): it works around CPython 3.12/3.13 crashes on
     *  concurrent extension initialization in subinterpreters. */
    PYCTX_MODE_OWNGIL = 1,
    /** The context's Python runs in a child process the library starts (its
     *  helper executable, posix_spawn), on that process's main interpreter:
     *  every extension imports, contexts run in parallel, and a crash in
     *  the child never reaches the host: every request it held completes
     *  with PYCTX_ERR_CRASHED. Requests travel through shared-memory rings.
     *  Close interrupts, then sends SIGTERM, then SIGKILL, always within its
     *  timeout. All Python versions. */
    PYCTX_MODE_PROCESS = 2
} pyctx_mode;

typedef struct pyctx_context_options pyctx_context_options_t;
typedef struct pyctx_context pyctx_context_t;

PYCTX_API pyctx_context_options_t *pyctx_context_options_new(void);
PYCTX_API void pyctx_context_options_free(pyctx_context_options_t *options);
/** Default PYCTX_MODE_WORKER. A value outside pyctx_mode is
 *  PYCTX_ERR_INVALID_ARGUMENT. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_mode(pyctx_context_options_t *options,
                                                        pyctx_mode mode);
/** The same by name: "worker", "owngil" or "process". */
PYCTX_API pyctx_error_t *pyctx_context_options_set_mode_name(pyctx_context_options_t *options,
                                                             const char *mode);
/** A name for logs and the OS thread name. Default "pyctx-<n>". */
PYCTX_API pyctx_error_t *pyctx_context_options_set_name(pyctx_context_options_t *options,
                                                        const char *name);
/** Python code run once in the context's default namespace on its thread
 *  before any request. If it raises, pyctx_context_create() fails with the
 *  Python error (PYCTX_ERR_PYTHON, message str(exception)). */
PYCTX_API pyctx_error_t *pyctx_context_options_set_preload(pyctx_context_options_t *options,
                                                           const char *code);
/** Maximum number of queued (not yet running) requests; 0 (default) means
 *  unbounded. A submission to a full queue fails at once with
 *  PYCTX_ERR_QUEUE_FULL. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_queue_capacity(
    pyctx_context_options_t *options, size_t capacity);
/** Bounds pyctx_context_create(): if the context is not ready (its
 *  preload still runs) after `timeout_ms`, the preload is interrupted and
 *  create fails with PYCTX_ERR_TIMEOUT; the half-made context ends by itself.
 *  0 (default): wait as long as the preload runs. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_create_timeout(
    pyctx_context_options_t *options, uint32_t timeout_ms);

/**
 * Creates a context, starts its thread and waits until the thread has set up
 * its interpreter (and run the preload). `options` may be NULL.
 * Errors: NOT_RUNNING, INVALID_ARGUMENT, UNSUPPORTED (owngil before 3.12),
 * PYTHON (preload raised).
 */
PYCTX_API pyctx_error_t *pyctx_context_create(const pyctx_context_options_t *options,
                                              pyctx_context_t **out_context);

/**
 * Stops the context: new submissions fail with PYCTX_ERR_CLOSED, queued
 * requests complete with PYCTX_ERR_CLOSED, a running request is interrupted
 * (KeyboardInterrupt raised in it) and completes with PYCTX_ERR_CLOSED.
 * Waits up to `timeout_ms` for the thread to end its interpreter and exit.
 *
 * Idempotent. If Python does not return in time (a blocking C call, a loop
 * that swallows the interrupt, non-daemon threads an owngil context's Python
 * started) it returns PYCTX_ERR_STUCK: every request has completed, the
 * handle reports closed, and the thread with the memory it uses is left
 * alone; it exits by itself if Python ever returns. A stuck context never
 * keeps other contexts from being created. The timeout bounds the wait for
 * Python only: completing a long backlog of queued requests as closed is not
 * "stuck" and is waited for.
 */
PYCTX_API pyctx_error_t *pyctx_context_close(pyctx_context_t *context, uint32_t timeout_ms);

/** Releases the handle. An open context is closed without waiting (its
 *  thread finishes on its own). Accepts NULL. Not concurrently with other
 *  calls on the same handle. */
PYCTX_API void pyctx_context_free(pyctx_context_t *context);

/** The mode the context runs in (NULL: PYCTX_MODE_WORKER). */
PYCTX_API pyctx_mode pyctx_context_mode(const pyctx_context_t *context);
/** The context's name; valid as long as the handle (NULL: ""). */
PYCTX_API const char *pyctx_context_name(const pyctx_context_t *context);
/** 1 when the context is closed or closing, else 0 (NULL: 1). */
PYCTX_API int pyctx_context_is_closed(const pyctx_context_t *context);

/** Counters of one context. Fields are only ever appended. */
typedef struct pyctx_context_stats {
    uint64_t completed;    /**< requests completed with a value */
    uint64_t failed;       /**< completed with a Python/encode/decode error */
    uint64_t cancelled;    /**< completed as cancelled */
    uint64_t timed_out;    /**< completed as timeout */
    uint64_t closed;       /**< completed as closed */
    uint64_t queue_depth;  /**< requests queued now, not yet running */
    uint64_t thread_id;    /**< native id of the context thread
                                (== threading.get_native_id() there) */
    uint64_t memory_used;  /**< bytes of live Python allocations of the
                                context (0 without a memory limit) */
    uint64_t memory_limit; /**< the context's memory limit (0: none) */
    uint64_t live_objects; /**< object handles made and not yet released
                                (0 once closing) */
} pyctx_context_stats_t;

/** Fills `out_stats`. `stats_size` is sizeof(pyctx_context_stats_t) as the
 *  caller knows it; only that many bytes are written. */
PYCTX_API pyctx_error_t *pyctx_context_stats(const pyctx_context_t *context,
                                             pyctx_context_stats_t *out_stats,
                                             size_t stats_size);

/** Process contexts: the helper executable to start. By default the library
 *  looks next to its own shared object (then ../libexec/pyctx from it), then
 *  at the path compiled in at install time (for hosts linking the static
 *  library). `path` overrides both; NULL or "" restores the default. A path
 *  that is not an executable file makes pyctx_context_create() fail with
 *  PYCTX_ERR_NOT_FOUND. Ignored by other modes. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_process_helper(
    pyctx_context_options_t *options, const char *path);

/** Process contexts: what a crash of the child does. With `max_restarts`
 *  0 (default) the context closes: every queued and running request
 *  completes with PYCTX_ERR_CRASHED and later submissions with
 *  PYCTX_ERR_CLOSED. Otherwise a new child is started (the preload runs
 *  again) up to `max_restarts` times within any `window_ms` (0: over the
 *  context's whole life); the running requests of the dead child complete as
 *  crashed, queued ones wait for the new child, and envs made before the
 *  crash complete their requests as PYCTX_ERR_CLOSED. Beyond the budget the
 *  context closes as above. pyctx_context_options_set_memory_limit() caps a
 *  process context's child with RLIMIT_AS: allocations beyond it raise
 *  MemoryError there; a child killed meanwhile is reported as crashed with
 *  the cap named in the message. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_restart(pyctx_context_options_t *options,
                                                           uint32_t max_restarts,
                                                           uint32_t window_ms);

/** Where a process context's child writes its stdout and stderr. */
typedef enum pyctx_process_output {
    /** Both to the host's stderr (the default): nothing the child prints
     *  mixes with the host's stdout, and a fatal error is never lost. */
    PYCTX_PROCESS_OUTPUT_STDERR = 0,
    /** Each line becomes a record for the runtime's log handler
     *  (pyctx_log_set_handler()): logger "pyctx.process.stdout" at level 20
     *  (INFO) or "pyctx.process.stderr" at level 30 (WARNING), with the
     *  context's name. A line no handler takes (none set, below its level,
     *  its queue full) is written to the host's stderr instead. Lines longer
     *  than 64 KiB arrive in pieces; output left without a final newline
     *  arrives when the child ends. */
    PYCTX_PROCESS_OUTPUT_LOG = 1
} pyctx_process_output;

/** Process contexts: where the child's output goes (see
 *  pyctx_process_output). An unknown value is PYCTX_ERR_INVALID_ARGUMENT.
 *  Ignored by other modes, whose Python writes to the host's own streams. */
PYCTX_API pyctx_error_t *pyctx_context_options_set_process_output(
    pyctx_context_options_t *options, pyctx_process_output output);

/** A process context's current child pid (0 once it is gone, or for other
 *  modes) and how many times a child was restarted after a crash. Either
 *  out pointer may be NULL. Thread-safe. */
PYCTX_API pyctx_error_t *pyctx_context_process_info(const pyctx_context_t *context,
                                                    uint64_t *out_pid,
                                                    uint32_t *out_restarts);

/* ======================================================================== */
/* Environments                                                             */
/* ======================================================================== */

/**
 * An env is a Python namespace (a globals dict) that lives in one context and
 * persists across requests. eval/exec given NULL use the context's default
 * namespace, which persists too. Using an env with another context fails
 * with PYCTX_ERR_INVALID_ARGUMENT.
 */
typedef struct pyctx_env pyctx_env_t;

PYCTX_API pyctx_error_t *pyctx_env_create(pyctx_context_t *context, pyctx_env_t **out_env);
/** Drops the namespace (on the context thread, later) and the handle. */
PYCTX_API void pyctx_env_free(pyctx_env_t *env);

/* ======================================================================== */
/* Requests                                                                 */
/* ======================================================================== */

/** Use as `timeout_ms` for no deadline. */
#define PYCTX_NO_TIMEOUT 0u

/**
 * Calls `module.function(*args, **kwargs)` on the context thread and waits.
 *
 * `module` is imported once per context and cached, as is the looked-up
 * function (the cache is cleared by every exec request). `function` may be a
 * dotted path ("Path.home"). The module "__main__" names the context's
 * default namespace (never cached).
 * `args` is a CBOR array (NULL/0: no arguments); `kwargs` a CBOR map with
 * text keys (NULL/0: none). On success `out_result` receives the CBOR of the
 * return value; release it with pyctx_bytes_free().
 * `timeout_ms` (PYCTX_NO_TIMEOUT: none) bounds the whole request: a
 * queued request then never runs, a running one is interrupted; either way
 * the call returns PYCTX_ERR_TIMEOUT at the deadline.
 */
PYCTX_API pyctx_error_t *pyctx_call(pyctx_context_t *context, const char *module,
                                    const char *function, const uint8_t *args, size_t args_len,
                                    const uint8_t *kwargs, size_t kwargs_len,
                                    uint32_t timeout_ms, pyctx_bytes_t *out_result);

/**
 * Evaluates a Python expression. `env` may be NULL (the default namespace).
 * `locals` is an optional CBOR map of str -> value visible to the expression
 * as local variables. Compiled expressions are cached per context.
 */
PYCTX_API pyctx_error_t *pyctx_eval(pyctx_context_t *context, const char *expression,
                                    pyctx_env_t *env, const uint8_t *locals, size_t locals_len,
                                    uint32_t timeout_ms, pyctx_bytes_t *out_result);

/** Executes Python statements in `env` (NULL: the default namespace). */
PYCTX_API pyctx_error_t *pyctx_exec(pyctx_context_t *context, const char *code,
                                    pyctx_env_t *env, uint32_t timeout_ms);

/** The outcome of an asynchronous request, owned by whoever holds it. */
typedef struct pyctx_result pyctx_result_t;

PYCTX_API void pyctx_result_free(pyctx_result_t *result);
/** PYCTX_OK when the request produced a value. */
PYCTX_API pyctx_status pyctx_result_status(const pyctx_result_t *result);
/** The CBOR value (NULL/0 when the request failed); valid until freed. */
PYCTX_API const uint8_t *pyctx_result_value(const pyctx_result_t *result, size_t *out_len);
/** The error (NULL on success); borrowed, valid until the result is freed. */
PYCTX_API const pyctx_error_t *pyctx_result_error(const pyctx_result_t *result);
/** Moves the value out into `out_value` (zero-copy); afterwards the result
 *  holds no value. PYCTX_ERR_INVALID_ARGUMENT if it holds none. */
PYCTX_API pyctx_error_t *pyctx_result_take_value(pyctx_result_t *result,
                                                 pyctx_bytes_t *out_value);

/**
 * Completion callback of an asynchronous request. Called exactly once per
 * accepted request, on a library thread, never inside the submitting call.
 * `result` is owned by the callback: free it (now or later, on any thread).
 * `user_data` is the pointer given at submission; this call is its last use
 * by the library, so the callback is also its finalizer.
 */
typedef void (*pyctx_completion_fn)(void *user_data, uint64_t request_id,
                                    pyctx_result_t *result);

/** Asynchronous pyctx_call(): returns at once with the request id in
 *  `out_request_id` (may be NULL); `on_complete` (required) delivers the
 *  result. Request ids are unique per context and never 0. */
PYCTX_API pyctx_error_t *pyctx_call_async(pyctx_context_t *context, const char *module,
                                          const char *function, const uint8_t *args,
                                          size_t args_len, const uint8_t *kwargs,
                                          size_t kwargs_len, uint32_t timeout_ms,
                                          pyctx_completion_fn on_complete, void *user_data,
                                          uint64_t *out_request_id);

PYCTX_API pyctx_error_t *pyctx_eval_async(pyctx_context_t *context, const char *expression,
                                          pyctx_env_t *env, const uint8_t *locals,
                                          size_t locals_len, uint32_t timeout_ms,
                                          pyctx_completion_fn on_complete, void *user_data,
                                          uint64_t *out_request_id);

/** Asynchronous pyctx_exec(); a successful result holds CBOR null. */
PYCTX_API pyctx_error_t *pyctx_exec_async(pyctx_context_t *context, const char *code,
                                          pyctx_env_t *env, uint32_t timeout_ms,
                                          pyctx_completion_fn on_complete, void *user_data,
                                          uint64_t *out_request_id);

/**
 * Cancels an asynchronous request. A queued request completes as
 * PYCTX_ERR_CANCELLED without running; a running one is interrupted
 * (KeyboardInterrupt raised in it) and completes as PYCTX_ERR_CANCELLED.
 * A coroutine request (its function returned an awaitable) runs as an
 * asyncio task: cancelling it cancels the task (a coroutine cancelled before
 * its first step never runs at all, as in asyncio).
 * Returns PYCTX_ERR_NOT_FOUND when the id is unknown or already completed
 * (the request then completes, or has completed, as it would have), and
 * PYCTX_ERR_INVALID_ARGUMENT for id 0.
 */
PYCTX_API pyctx_error_t *pyctx_cancel(pyctx_context_t *context, uint64_t request_id);

/* ======================================================================== */
/* Request objects                                                          */
/* ======================================================================== */

/*
 * A request object owns one operation's life, in the spirit of nng's aio:
 * create it, set its destination, kind, arguments, timeout and completion
 * callback, submit it, then wait on it, poll it, or let the callback report
 * it; cancel it from any thread; read its result; submit it again or free
 * it. The one-call functions above (pyctx_call, pyctx_call_async, ...) run
 * on the same engine path: a request object adds the id before completion,
 * a cancellable and time-limited synchronous wait, reuse and batches.
 *
 * Life cycle and ownership:
 *  - NEW       after pyctx_request_new() (or once done): setters allowed.
 *  - IN FLIGHT after a successful pyctx_request_submit(): the library holds
 *              the request; setters fail with PYCTX_ERR_INVALID_ARGUMENT;
 *              pyctx_request_id() is valid, cancel and wait may be called
 *              from any thread.
 *  - DONE      exactly once per submission, with a value, a Python error or
 *              a status (cancelled, timeout, closed). The result stays
 *              readable until the next submit or the free. A done request
 *              may be submitted again (with the same or changed settings);
 *              each submission gets a new id.
 *  - A refused submission (an error returned by submit) leaves it NEW: it
 *    never completes and its callback is not invoked.
 *  - pyctx_request_free() of an in-flight request cancels it and waits for
 *    its completion (the callback included) before releasing it, except
 *    when called from that request's own callback, which may free it.
 *
 * Callback and waiting: the callback (optional) runs once per submission,
 * on a library thread, never inside pyctx_request_submit(), with no GIL and
 * no library lock held; it may read the result, submit the request again,
 * or free it. pyctx_request_wait() and the callback may be combined: a wait
 * returns after the callback has returned. The callback's user data is
 * released by its destructor when the request is freed or a new callback
 * replaces it.
 *
 * Settings are copied at submission (strings, CBOR), so a request may be
 * changed and resubmitted once done. Destinations today: a context; kinds:
 * call, eval, exec. Later destinations (pools, object handles), kinds
 * (method calls, attribute reads, streams) and attached buffers extend this
 * object with new setters, not new families of entry points.
 *
 * Thread safety: setters, submit and free are for one thread at a time (the
 * owner); wait, cancel, is_done, id and the result accessors may race with
 * each other and with completion from any thread once the request is in
 * flight or done.
 */
typedef struct pyctx_request pyctx_request_t;

/** What a request does. Values are stable; new ones are only appended. */
typedef enum pyctx_request_kind {
    PYCTX_REQUEST_NONE = 0, /**< not set yet: submit fails */
    PYCTX_REQUEST_CALL = 1, /**< module.function(*args, **kwargs) */
    PYCTX_REQUEST_EVAL = 2, /**< an expression, with optional locals */
    PYCTX_REQUEST_EXEC = 3, /**< statements; the value is null */
    PYCTX_REQUEST_OBJECT_CALL = 4, /**< object(*args, **kwargs): see "Object handles" */
    PYCTX_REQUEST_METHOD_CALL = 5, /**< object.method(*args, **kwargs) */
    PYCTX_REQUEST_GETATTR = 6,     /**< object.name */
    PYCTX_REQUEST_RELEASE = 7      /**< drop an object handle's reference */
} pyctx_request_kind;

/** Completion callback of a request object; see the life cycle above. */
typedef void (*pyctx_request_fn)(void *user_data, pyctx_request_t *request);

/** A new request, NEW. */
PYCTX_API pyctx_error_t *pyctx_request_new(pyctx_request_t **out_request);
/** Frees it (cancelling and waiting when in flight; see above). Accepts NULL. */
PYCTX_API void pyctx_request_free(pyctx_request_t *request);

/** The destination context (required). The request keeps the context
 *  alive while it refers to it. */
PYCTX_API pyctx_error_t *pyctx_request_set_context(pyctx_request_t *request,
                                                   pyctx_context_t *context);
/** Kind call: `module.function` ("__main__" names the default namespace). */
PYCTX_API pyctx_error_t *pyctx_request_set_call(pyctx_request_t *request, const char *module,
                                                const char *function);
/** Kind eval: a Python expression. */
PYCTX_API pyctx_error_t *pyctx_request_set_eval(pyctx_request_t *request, const char *expression);
/** Kind exec: Python statements. */
PYCTX_API pyctx_error_t *pyctx_request_set_exec(pyctx_request_t *request, const char *code);
/** Call arguments: one CBOR array (NULL/0: none). Checked here. */
PYCTX_API pyctx_error_t *pyctx_request_set_args(pyctx_request_t *request, const uint8_t *args,
                                                size_t len);
/** Call keyword arguments, or eval locals: one CBOR map with text keys
 *  (NULL/0: none). Checked here. */
PYCTX_API pyctx_error_t *pyctx_request_set_kwargs(pyctx_request_t *request,
                                                  const uint8_t *kwargs, size_t len);
/** The env of an eval or exec (NULL: the default namespace); it must
 *  belong to the destination context, checked at submit. */
PYCTX_API pyctx_error_t *pyctx_request_set_env(pyctx_request_t *request, pyctx_env_t *env);
/** Deadline of each submission, counted from submit (PYCTX_NO_TIMEOUT:
 *  none): a queued request then never runs, a running one is interrupted,
 *  and it completes with PYCTX_ERR_TIMEOUT. */
PYCTX_API pyctx_error_t *pyctx_request_set_timeout(pyctx_request_t *request, uint32_t timeout_ms);
/** The completion callback (NULL: none) with its user data and destructor
 *  (may be NULL). Replacing it releases the previous user data. */
PYCTX_API pyctx_error_t *pyctx_request_set_callback(pyctx_request_t *request,
                                                    pyctx_request_fn callback, void *user_data,
                                                    pyctx_free_fn free_user_data);

/** Submits a NEW or DONE request. Errors (the request stays NEW): what the
 *  one-call functions return (NOT_RUNNING, CLOSED, QUEUE_FULL, ...) and
 *  INVALID_ARGUMENT for an in-flight request or missing settings. */
PYCTX_API pyctx_error_t *pyctx_request_submit(pyctx_request_t *request);
/** pyctx_request_submit(), and on success `*out_id` receives the id of this
 *  submission (0 on an error). Use it when the callback may free or
 *  resubmit the request: from the moment submit accepts it, reading
 *  pyctx_request_id() races with that callback, while the id returned here
 *  stays usable, e.g. with pyctx_cancel() (which answers NOT_FOUND once the
 *  request is done). */
PYCTX_API pyctx_error_t *pyctx_request_submit_id(pyctx_request_t *request, uint64_t *out_id);
/** Submits `count` requests with one wake-up per destination context, in
 *  order. Stops at the first refusal, returning its error; `out_accepted`
 *  (may be NULL) receives how many were submitted before it. */
PYCTX_API pyctx_error_t *pyctx_request_submit_many(pyctx_request_t *const *requests, size_t count,
                                                   size_t *out_accepted);
/** Waits until the request is done (and its callback has returned), up to
 *  `timeout_ms` (PYCTX_NO_TIMEOUT: no limit). NULL when done; the result
 *  is then readable. PYCTX_ERR_TIMEOUT when the wait ran out (the request
 *  stays in flight), INVALID_ARGUMENT when it was never submitted. A wait on
 *  a context's own thread (inside a host function) for a request to another
 *  context keeps serving its own queue when `timeout_ms` is
 *  PYCTX_NO_TIMEOUT. */
PYCTX_API pyctx_error_t *pyctx_request_wait(pyctx_request_t *request, uint32_t timeout_ms);
/** Cancels an in-flight request (see pyctx_cancel()); NOT_FOUND once it is
 *  done, INVALID_ARGUMENT when never submitted. */
PYCTX_API pyctx_error_t *pyctx_request_cancel(pyctx_request_t *request);
/** 1 when done (result readable), else 0 (NULL: 0). */
PYCTX_API int pyctx_request_is_done(const pyctx_request_t *request);
/** The id of the current submission (0 before the first). Only while the
 *  caller knows the request is alive and not resubmitted: after a submit
 *  whose callback may free or resubmit it, take the id from
 *  pyctx_request_submit_id() instead. */
PYCTX_API uint64_t pyctx_request_id(const pyctx_request_t *request);
/** The kind set (NULL: PYCTX_REQUEST_NONE). */
PYCTX_API pyctx_request_kind pyctx_request_get_kind(const pyctx_request_t *request);
/** Once done: PYCTX_OK when it produced a value. INVALID_ARGUMENT when not
 *  done (or NULL). */
PYCTX_API pyctx_status pyctx_request_status(const pyctx_request_t *request);
/** Once done: the error (NULL on success or when not done); borrowed, valid
 *  until the next submit or the free. */
PYCTX_API const pyctx_error_t *pyctx_request_error(const pyctx_request_t *request);
/** Once done: the CBOR value (NULL/0 when it failed, was taken, or is not
 *  done); borrowed, valid until the next submit or the free. */
PYCTX_API const uint8_t *pyctx_request_value(const pyctx_request_t *request, size_t *out_len);
/** Once done: moves the value into `out_value` (release it with
 *  pyctx_bytes_free()); INVALID_ARGUMENT when there is none. */
PYCTX_API pyctx_error_t *pyctx_request_take_value(pyctx_request_t *request,
                                                  pyctx_bytes_t *out_value);

/* ======================================================================== */
/* Host functions: Python calling the host                                  */
/* ======================================================================== */

/**
 * The host registers named functions; Python calls them with
 * `pyctx.call("name", *args)` (blocking the calling Python thread, GIL
 * released while it waits) or `await pyctx.async_call("name", *args)` inside
 * a coroutine (the context's event loop keeps running).
 *
 * The registry is process-wide (every context sees every name). The host
 * function is invoked on a library thread (the context thread, GIL released)
 * and receives a pending call it must answer exactly once -- right away or
 * later, from any thread -- with pyctx_host_call_return() or
 * pyctx_host_call_fail(). While a context waits for an answer it keeps
 * serving its own queue, so the host may call back into the same context,
 * synchronously, to any depth; a synchronous request made on the context's
 * own thread (from inside a host function) runs inline, nested.
 *
 * Python sees an unknown name as `LookupError`, a failure as
 * `pyctx.HostError(message)`. If the context closes while a call is pending,
 * Python sees `pyctx.HostError("context closed")` and a later answer fails
 * with PYCTX_ERR_CLOSED (and still releases the call).
 */
typedef struct pyctx_host_call pyctx_host_call_t;

/** A host function. `user_data` is the pointer given at registration. */
typedef void (*pyctx_host_fn)(void *user_data, pyctx_host_call_t *call);

/**
 * Registers (or replaces) the host function `name`. `free_user_data` (may be
 * NULL) runs exactly once, when the function is unregistered or replaced, or
 * at shutdown, and not before every call already dispatched to it has been
 * invoked. When registration fails it is not called: the caller still owns
 * `user_data`. Allowed in any runtime state except STOPPED.
 */
PYCTX_API pyctx_error_t *pyctx_host_register(const char *name, pyctx_host_fn fn,
                                             void *user_data, pyctx_free_fn free_user_data);
/** Unregisters `name` (PYCTX_ERR_NOT_FOUND if unknown). Calls in flight
 *  finish normally; new calls see LookupError. */
PYCTX_API pyctx_error_t *pyctx_host_unregister(const char *name);

/** The positional arguments as a CBOR array; borrowed from the call. */
PYCTX_API const uint8_t *pyctx_host_call_args(const pyctx_host_call_t *call, size_t *out_len);
/** The function's name; borrowed from the call (NULL: ""). */
PYCTX_API const char *pyctx_host_call_name(const pyctx_host_call_t *call);
/** The calling context's name; borrowed from the call ("" when the caller
 *  is a Python thread of its own, or for NULL). */
PYCTX_API const char *pyctx_host_call_context_name(const pyctx_host_call_t *call);
/** Answers with a CBOR value (copied). Consumes `call` whatever it returns.
 *  Invalid CBOR is answered to Python as a HostError and reported here as
 *  PYCTX_ERR_DECODE; a closed context gives PYCTX_ERR_CLOSED. */
PYCTX_API pyctx_error_t *pyctx_host_call_return(pyctx_host_call_t *call, const uint8_t *value,
                                                size_t len);
/** Answers with an error: Python raises pyctx.HostError(message). Consumes
 *  `call` whatever it returns. */
PYCTX_API pyctx_error_t *pyctx_host_call_fail(pyctx_host_call_t *call, const char *message);

/* ======================================================================== */
/* Python talks to the host                                                 */
/* ======================================================================== */

/*
 * Beside host functions, Python reaches the host through a process-wide
 * store of CBOR values, messages sent without waiting (pyctx.send), bounded
 * two-way channels, runtime-wide set-up (sys.path, preloaded modules, a
 * virtualenv) and forwarded logging. Each part below says in which context
 * modes it works; process contexts (not yet built) will need their transport
 * for every part except the store, whose API they will share unchanged.
 */

/* ---- Shared store --------------------------------------------------------
 *
 * One key-value store per process, shared by the host and every context
 * (worker and owngil alike: owngil interpreters share no Python objects, but
 * they share this). Keys are non-empty UTF-8 text of at most 4096 bytes;
 * values are one CBOR item each (checked). Python uses pyctx.store_get(key,
 * default=None), store_entry(key) -> (value, version) | None,
 * store_put(key, value) -> version, store_cas(key, version, value) ->
 * new version | None, store_delete(key, version=0) -> bool and
 * store_keys(prefix="") -> list.
 *
 * Every write stamps the entry with a new version, unique in the process and
 * never reused (a deleted then re-created key never gets an old version), so
 * a compare-and-swap on versions is free of ABA. Version 0 means "absent".
 * All functions are atomic per key, may be called from any thread in any
 * runtime state (the store needs no Python), and never call back. The store
 * lives as long as the process (shutdown does not clear it). Process
 * contexts share it too: their pyctx.store_* calls cross to the host.
 */

/** Stores `value` (one CBOR item of `len` bytes, copied) under `key`;
 *  `out_version` (may be NULL) receives its new version. */
PYCTX_API pyctx_error_t *pyctx_store_put(const char *key, const uint8_t *value, size_t len,
                                         uint64_t *out_version);
/** Copies the value of `key` into `out_value` and its version into
 *  `out_version` (may be NULL). PYCTX_ERR_NOT_FOUND when absent. */
PYCTX_API pyctx_error_t *pyctx_store_get(const char *key, pyctx_bytes_t *out_value,
                                         uint64_t *out_version);
/** Stores `value` only when the entry's version is `expected_version`
 *  (0: only when `key` is absent). `*out_swapped` is 1 when it stored, 0 on a
 *  conflict; `out_version` (may be NULL) receives the entry's version
 *  afterwards: the new one, or the current one on a conflict (0 if absent),
 *  ready for a retry. A conflict is not an error. */
PYCTX_API pyctx_error_t *pyctx_store_cas(const char *key, uint64_t expected_version,
                                         const uint8_t *value, size_t len, int *out_swapped,
                                         uint64_t *out_version);
/** Removes `key` when its version is `expected_version` (0: any version).
 *  `*out_deleted` (may be NULL) is 1 when an entry was removed. */
PYCTX_API pyctx_error_t *pyctx_store_delete(const char *key, uint64_t expected_version,
                                            int *out_deleted);
/** The keys starting with `prefix` (NULL or "": every key), sorted, as one
 *  CBOR array of text strings in `out_keys`. */
PYCTX_API pyctx_error_t *pyctx_store_keys(const char *prefix, pyctx_bytes_t *out_keys);

/* ---- Messages: pyctx.send ------------------------------------------------
 *
 * `pyctx.send(target, value, missing_ok=False)` delivers a value to the host
 * and returns at once, without waiting for it to be handled. A `target` that
 * is a str names an endpoint registered with pyctx_endpoint_register(); any
 * other target (a pyctx.HostTerm such as an Erlang pid, a pyctx.Symbol such
 * as a registered process name, a tuple, ...) goes to the router set with
 * pyctx_send_set_router(). The send function runs on the sending Python
 * thread with its GIL released, so the messages of one sender reach the host
 * in the order they were sent. An unknown target, or a send function that
 * reports the target gone, raises pyctx.SendError (a LookupError) in Python;
 * with missing_ok=True send() returns False instead. Works in worker and
 * owngil contexts and on Python threads that user code starts. In a process
 * context the message crosses to the host through the context's transport
 * and the send function runs on that context's io thread, in the order the
 * child sent; send() returns once it has. There, too, it must not block: it
 * holds up that context's traffic meanwhile.
 */

/**
 * Receives one message. `target` is the CBOR of the target (for a named
 * endpoint a text string), `value` the CBOR of the value; both borrowed for
 * the call only. `context_name` is the sending context's name ("" for a
 * Python thread of its own). Return 0 when delivered, non-zero when the
 * target is gone (Python then sees SendError). Runs on the sending thread,
 * with no GIL and no library lock held; it must not block (queue the message
 * and return) and must not make synchronous requests to the sending context.
 */
typedef int (*pyctx_send_fn)(void *user_data, const char *context_name, const uint8_t *target,
                             size_t target_len, const uint8_t *value, size_t value_len);

/** Registers (or replaces) the endpoint `name`. `free_user_data` (may be
 *  NULL) runs exactly once: when the endpoint is unregistered or replaced
 *  (after every delivery in flight), or at shutdown. When registration fails
 *  it is not called. Any runtime state except STOPPED. */
PYCTX_API pyctx_error_t *pyctx_endpoint_register(const char *name, pyctx_send_fn fn,
                                                 void *user_data, pyctx_free_fn free_user_data);
/** Unregisters `name` (PYCTX_ERR_NOT_FOUND if unknown); later sends to it
 *  raise SendError. */
PYCTX_API pyctx_error_t *pyctx_endpoint_unregister(const char *name);
/** Sets (or replaces) the router for targets that are not a str; `fn` NULL
 *  removes it (then `user_data` and `free_user_data` must be NULL too).
 *  Finalizer as for pyctx_endpoint_register(). */
PYCTX_API pyctx_error_t *pyctx_send_set_router(pyctx_send_fn fn, void *user_data,
                                               pyctx_free_fn free_user_data);

/* ---- Runtime-wide set-up -------------------------------------------------
 *
 * Steps that apply to every context, including those created later, logged
 * process-wide in order. A running context applies the steps it has not
 * seen before its next request starts (of any kind; a coroutine already
 * running as a task is not interrupted). A new context starts, on its
 * thread before its preload, from the current state: the paths still added,
 * the imports still registered and the virtualenvs still active, in the
 * order they were logged. Either way a step that a later one undoes (a path
 * added then removed, an import added then removed) is left out. Worker contexts
 * share the main interpreter, so a step runs once there, by the first
 * worker context that gets to it; each owngil context applies every step
 * itself. A step that fails (an import raising, say) is not retried and
 * does not stop the later steps: the next request of the context that
 * applied it (for a new context, its first request) fails with the Python
 * error, its message naming the step; later requests run normally. A new
 * context meets a failing import again until pyctx_setup_remove_import()
 * drops it. Allowed in any runtime state except STOPPED (the virtualenv
 * needs RUNNING); thread-safe. Works in every mode: a process context's
 * child gets the steps logged before it started with its start-up
 * configuration (applied before its preload) and each later step ahead of
 * the first request sent to it after the step was logged; it keeps a copy
 * of the log, so it applies and leaves out exactly what an owngil context
 * would.
 */

/** Prepends `path` to sys.path (unless it is already there). */
PYCTX_API pyctx_error_t *pyctx_setup_add_path(const char *path);
/** Removes every sys.path entry equal to `path`. */
PYCTX_API pyctx_error_t *pyctx_setup_remove_path(const char *path);
/** Imports `module` (dotted name) in every context: at context start from
 *  now on, and in running contexts before their next request. */
PYCTX_API pyctx_error_t *pyctx_setup_import(const char *module);
/** New contexts no longer import `module` (running ones keep it). */
PYCTX_API pyctx_error_t *pyctx_setup_remove_import(const char *module);
/** importlib.reload(module) in every interpreter that has imported it
 *  (others: nothing to do). */
PYCTX_API pyctx_error_t *pyctx_setup_reload(const char *module);
/**
 * Activates the virtualenv at `venv_dir` in every context: its
 * site-packages are added with site.addsitedir() (running its .pth files)
 * in front of sys.path, and sys.prefix / sys.exec_prefix point at it.
 * Checked now: PYCTX_ERR_NOT_FOUND without pyvenv.cfg or site-packages,
 * PYCTX_ERR_UNSUPPORTED when the venv was made for another Python version
 * than the embedded one (major.minor), PYCTX_ERR_NOT_RUNNING before init.
 * Removing its site-packages with pyctx_setup_remove_path() leaves it out
 * of new contexts.
 */
PYCTX_API pyctx_error_t *pyctx_setup_activate_venv(const char *venv_dir);
/** The number of set-up steps logged so far (never decreases). */
PYCTX_API uint64_t pyctx_setup_generation(void);

/* ---- Logging forwarded to the host ---------------------------------------
 *
 * pyctx_log_set_handler() installs a handler on the root logger of every
 * context's `logging` (a runtime set-up step: running contexts get it before
 * their next request, new ones at start; the root logger's level is lowered
 * to `min_level` if it is above it). Each record at or above `min_level` is
 * queued, never waiting: when `capacity` records are already waiting the
 * record is dropped and counted. One library thread hands the records to the
 * host function in order, with no GIL and no library lock held, so a slow
 * host never blocks Python. Works in every mode and on the contexts' Python
 * threads. A process context's child sends each record through the
 * context's rings without waiting (the host's queue then takes or drops
 * it); the records a request logs reach the queue before that request
 * completes. Its stdout and stderr can arrive as records too (see
 * pyctx_process_output).
 */

/** One logging record, borrowed for the duration of the handler call. */
typedef struct pyctx_log_record {
    int level;                /**< logging level number (DEBUG 10 ... CRITICAL 50) */
    const char *logger;       /**< the logger's name, e.g. "root" or "app.db" */
    const char *message;      /**< record.getMessage() */
    const char *exception;    /**< formatted exception and stack, or "" */
    const char *context_name; /**< the context's name, "" for other Python threads */
    double created;           /**< record.created (seconds since the epoch) */
} pyctx_log_record_t;

/** Receives one record on the library's log thread. It may block (records
 *  queue up meanwhile, then drop) but must not call pyctx_log_flush(). */
typedef void (*pyctx_log_fn)(void *user_data, const pyctx_log_record_t *record);

/** Sets (or replaces) the host's log handler; `fn` NULL removes it (then
 *  `user_data` and `free_user_data` must be NULL; queued records are dropped
 *  and counted). `capacity` (>= 1) bounds the queued records.
 *  `free_user_data` (may be NULL) runs exactly once, when the handler is
 *  replaced or removed (after any record it is handling) or at shutdown
 *  (after the queued records are delivered). Any state except STOPPED. */
PYCTX_API pyctx_error_t *pyctx_log_set_handler(pyctx_log_fn fn, void *user_data,
                                               pyctx_free_fn free_user_data, int min_level,
                                               size_t capacity);

/** Counters since the process started. Fields are only ever appended. */
typedef struct pyctx_log_stats {
    uint64_t delivered; /**< records handed to a handler */
    uint64_t dropped;   /**< records dropped: queue full, or handler removed */
} pyctx_log_stats_t;

/** Reads the counters into `out_stats` (NULL: nothing). */
PYCTX_API void pyctx_log_stats(pyctx_log_stats_t *out_stats);
/** Waits until every queued record has been handled; PYCTX_ERR_TIMEOUT
 *  after `timeout_ms`. */
PYCTX_API pyctx_error_t *pyctx_log_flush(uint32_t timeout_ms);

/* ---- Channels --------------------------------------------------------------
 *
 * A channel is a bounded two-way queue between the host and Python code: the
 * host sends values Python receives and receives values Python sends. Each
 * direction holds at most `capacity` values; a sender facing a full side
 * waits for credit (the receiver taking one) -- backpressure both ways.
 * Values are single CBOR items; a byte channel (`bytes_mode` 1) carries raw
 * bytes instead: the host sends and receives plain byte buffers and Python
 * gets and sends bytes, with no other conversion.
 *
 * Python opens it by id: `ch = pyctx.Channel(id)` (pass the id as an
 * argument). `ch.recv()` blocks (GIL released; a context thread keeps
 * serving its queue, so the host may call into the context meanwhile) and,
 * inside a running asyncio loop, returns an awaitable instead:
 * `await ch.recv()` (also `await ch.arecv()`, on the context's loop or any
 * other on that thread). `ch.try_recv()` -> (ok, value), `ch.send(v)` blocks
 * while the host's side is full, `ch.try_send(v)` -> bool, `ch.close()`.
 * Closing either end wakes every waiter on both sides: values already queued
 * can still be received, then receivers see the end (Python:
 * pyctx.ChannelClosed, an EOFError; host: PYCTX_ERR_CLOSED), and senders
 * fail at once. A blocked Python recv or send counts as a wait in its
 * request: cancel, timeout and close interrupt it. All functions are
 * thread-safe. Every mode: in a process context the channel stays in the
 * host process and each Python operation crosses the context's rings (a
 * blocked recv or send waits on a wake-up token the host's channel answers,
 * then retries, so a wait that gives up loses no value). There a value must
 * fit in one message to the child (just under 2 MiB of CBOR): a larger one
 * stays at the head of the queue and Python's recv raises pyctx.HostError
 * saying so.
 */
typedef struct pyctx_channel pyctx_channel_t;

/** Creates a channel of `capacity` (>= 1) values per direction. */
PYCTX_API pyctx_error_t *pyctx_channel_new(size_t capacity, int bytes_mode,
                                           pyctx_channel_t **out_channel);
/** Closes the channel and releases the handle (Python's ends see the end).
 *  Accepts NULL. Not concurrently with other calls on the same handle. */
PYCTX_API void pyctx_channel_free(pyctx_channel_t *channel);
/** The id Python opens it by (never 0; NULL: 0). */
PYCTX_API uint64_t pyctx_channel_id(const pyctx_channel_t *channel);
/** Sends one value (a CBOR item; in bytes mode any bytes), copied. Waits up
 *  to `timeout_ms` for room (PYCTX_NO_TIMEOUT: as long as it takes);
 *  PYCTX_ERR_TIMEOUT, PYCTX_ERR_CLOSED. */
PYCTX_API pyctx_error_t *pyctx_channel_send(pyctx_channel_t *channel, const uint8_t *data,
                                            size_t len, uint32_t timeout_ms);
/** pyctx_channel_send() without waiting: PYCTX_ERR_QUEUE_FULL when full. */
PYCTX_API pyctx_error_t *pyctx_channel_try_send(pyctx_channel_t *channel, const uint8_t *data,
                                                size_t len);
/** Receives the next value Python sent into `out_value`, waiting up to
 *  `timeout_ms` (PYCTX_NO_TIMEOUT: as long as it takes): PYCTX_ERR_TIMEOUT
 *  when none came, PYCTX_ERR_CLOSED once closed and drained. */
PYCTX_API pyctx_error_t *pyctx_channel_recv(pyctx_channel_t *channel, uint32_t timeout_ms,
                                            pyctx_bytes_t *out_value);
/** pyctx_channel_recv() without waiting: PYCTX_ERR_TIMEOUT when nothing is
 *  waiting. */
PYCTX_API pyctx_error_t *pyctx_channel_try_recv(pyctx_channel_t *channel,
                                                pyctx_bytes_t *out_value);
/** Closes both directions (idempotent; NULL: nothing). */
PYCTX_API void pyctx_channel_close(pyctx_channel_t *channel);

/** Counters of one channel. Fields are only ever appended. */
typedef struct pyctx_channel_stats {
    uint64_t to_python;        /**< values Python received */
    uint64_t from_python;      /**< values the host received */
    uint64_t queued_to_python; /**< waiting for Python now */
    uint64_t queued_to_host;   /**< waiting for the host now */
} pyctx_channel_stats_t;

/** Reads the counters (NULL channel or out_stats: nothing). */
PYCTX_API void pyctx_channel_stats(const pyctx_channel_t *channel,
                                   pyctx_channel_stats_t *out_stats);

/* ======================================================================== */
/* Sandbox and limits                                                       */
/* ======================================================================== */

/**
 * A sandbox policy for a context, set with pyctx_context_options_set_sandbox():
 * block process creation (fork, exec, spawn, posix_spawn, subprocess,
 * os.system, os.popen), block sockets (opening one of any family but
 * AF_UNIX, binding, connecting, sending to an address, name lookups), and
 * restrict files to allowed directories (open, remove, rename, mkdir, rmdir,
 * listdir, scandir, chmod, chown, utime, link, symlink, truncate, the shutil
 * operations, sqlite3.connect; paths are checked after resolving symlinks
 * and dir_fd). A blocked operation raises PermissionError in Python, naming
 * the operation, the context and the policy; the host is not affected.
 *
 * In worker and owngil contexts the policy is enforced by a PEP 578 audit
 * hook. That is NO security boundary: C code and ctypes bypass it, and in
 * worker contexts (which share modules with each other and the host) so
 * does monkeypatching shared modules. A process context enforces the same
 * policy in its child with kernel rules that hold against C code and
 * ctypes: Landlock for files, a seccomp filter for process creation and
 * sockets, and no_new_privs, applied before its preload (so the preload
 * runs under them); Python's installation, sys.path and the system's
 * shared-library directories stay readable there. A kernel without a
 * feature the policy needs fails the creation with PYCTX_ERR_UNSUPPORTED
 * naming it. See docs/SANDBOX.md.
 *
 * What stays allowed: reading Python's own installation (sys.prefix,
 * sys.exec_prefix and their base_ forms) and the sys.path entries present
 * when the context started; AF_UNIX socket pairs (asyncio's self-pipe); the
 * library's own channels. The policy applies from after the context's
 * preload (host code) on, to the context thread and to every thread started
 * from it (in an owngil context: every thread of its interpreter).
 *
 * A builder, not thread-safe itself; pyctx_context_options_set_sandbox()
 * copies it.
 */
typedef struct pyctx_sandbox pyctx_sandbox_t;

/** A policy that blocks nothing yet. NULL when out of memory. */
PYCTX_API pyctx_sandbox_t *pyctx_sandbox_new(void);
PYCTX_API void pyctx_sandbox_free(pyctx_sandbox_t *sandbox);
/** Blocks fork, exec, spawn, posix_spawn, subprocess, os.system, os.popen. */
PYCTX_API pyctx_error_t *pyctx_sandbox_block_process_creation(pyctx_sandbox_t *sandbox);
/** Blocks sockets: AF_UNIX socket pairs (never bound or connected) stay
 *  possible, so asyncio's event loop keeps working. */
PYCTX_API pyctx_error_t *pyctx_sandbox_block_sockets(pyctx_sandbox_t *sandbox);
/** Restricts file access to the allowed paths (and Python's own paths,
 *  read-only); with no allowed path, to Python's own paths only. */
PYCTX_API pyctx_error_t *pyctx_sandbox_restrict_files(pyctx_sandbox_t *sandbox);
/** Allows the directory (or file) `path` and everything beneath it, for
 *  reading only (`read_only` non-zero) or also for writing; implies
 *  pyctx_sandbox_restrict_files(). `path` must be absolute; symlinks in it
 *  are resolved when the context starts. May be repeated. */
PYCTX_API pyctx_error_t *pyctx_sandbox_allow_path(pyctx_sandbox_t *sandbox, const char *path,
                                                  int read_only);

/** Copies `sandbox` into the options (NULL: no sandbox, the default). */
PYCTX_API pyctx_error_t *pyctx_context_options_set_sandbox(pyctx_context_options_t *options,
                                                           const pyctx_sandbox_t *sandbox);

/**
 * Caps the memory the context's Python allocates, in bytes (0: no cap, the
 * default). Only owngil contexts can be capped: every allocation of their
 * interpreter is counted (all three allocator domains), and one that would
 * go over the cap fails with MemoryError in that context only (the
 * context keeps serving). pyctx_context_create() of a worker context with
 * a cap fails with PYCTX_ERR_UNSUPPORTED (workers share one interpreter).
 * Usage is reported in pyctx_context_stats_t.memory_used. Memory that C
 * libraries allocate with malloc directly is not seen. Caps below
 * PYCTX_MIN_MEMORY_LIMIT are PYCTX_ERR_INVALID_ARGUMENT (an interpreter
 * needs that much to start).
 */
#define PYCTX_MIN_MEMORY_LIMIT (16u << 20)
PYCTX_API pyctx_error_t *pyctx_context_options_set_memory_limit(
    pyctx_context_options_t *options, size_t bytes);

/* ======================================================================== */
/* Values: CBOR                                                             */
/* ======================================================================== */

/*
 * CBOR <-> Python, both directions:
 *
 *   null, undefined            <-> None (None encodes as null)
 *   true / false               <-> bool
 *   unsigned/negative int,     <-> int of any size (bignums beyond 64 bits)
 *     bignum tags 2 and 3
 *   float16 / 32 / 64          <-> float (NaN, +-inf kept; encoded as float64)
 *   text string (valid UTF-8)  <-> str
 *   byte string                <-> bytes (bytearray and memoryview encode too)
 *   array                      <-> list
 *   map                        <-> dict (any hashable keys)
 *   tag 258 + array            <-> set (frozenset where a key must be hashable;
 *                                  frozenset encodes with the same tag)
 *   tag 39 + text              <-> pyctx.Symbol, a str subclass (atoms)
 *   tag PYCTX_CBOR_TAG_TUPLE + array <-> tuple
 *   tag PYCTX_CBOR_TAG_HOST_TERM + bytes <-> pyctx.HostTerm (opaque host data,
 *                                  returned unchanged)
 *   tag PYCTX_CBOR_TAG_OBJECT + [key, id] <-> the object of a handle (see
 *                                  "Object handles")
 *   tag PYCTX_CBOR_TAG_BUFFER + index <-> a memoryview of an attached buffer
 *                                  (see "Borrowed buffers"; arguments only)
 *
 * Where a key must be hashable (map keys, set elements) arrays decode as
 * tuples and sets as frozensets; a map there is a decode error. Duplicate map
 * keys or set elements (also keys equal only in Python, like 1 and 1.0) are
 * decode errors. Nesting of arrays and maps (tags do not count) deeper than
 * PYCTX_CBOR_MAX_DEPTH, invalid UTF-8, unknown tags, trailing bytes and
 * truncated input are decode errors naming the problem and byte offset.
 * Encoding any other Python type fails with PYCTX_ERR_ENCODE naming the type
 * and where it was, e.g. "(at [2]['k'])" (there is no silent str()
 * fallback). Arguments are checked for well-formed CBOR when a request is
 * submitted, so malformed input is rejected by the submitting call itself.
 */
#define PYCTX_CBOR_TAG_SET 258u
#define PYCTX_CBOR_TAG_SYMBOL 39u
#define PYCTX_CBOR_TAG_TUPLE 28793u     /* 0x7079, "py" */
#define PYCTX_CBOR_TAG_HOST_TERM 28794u /* 0x707A */

/** CBOR tag of an object reference: encloses [key, id], two unsigned ints
 *  (key: the context's, id: the handle's). Python receives the object. */
#define PYCTX_CBOR_TAG_OBJECT 28796u /* 0x707C */

/** The CBOR tag naming an attached buffer: it encloses the buffer's index
 *  (an unsigned int) in the request's attachments. Only valid in the
 *  arguments (args, kwargs, eval locals) of a request object; elsewhere,
 *  or with an index out of range, decoding fails with PYCTX_ERR_DECODE. */
#define PYCTX_CBOR_TAG_BUFFER 28770u /* 0x7062, "pb" */
#define PYCTX_CBOR_MAX_DEPTH 256

/* ---- Writer: build argument buffers without another library. ---------- */

typedef struct pyctx_cbor_writer pyctx_cbor_writer_t;

PYCTX_API pyctx_cbor_writer_t *pyctx_cbor_writer_new(void);
PYCTX_API void pyctx_cbor_writer_free(pyctx_cbor_writer_t *writer);
/** Forgets everything written so far, keeping the allocation. */
PYCTX_API void pyctx_cbor_writer_reset(pyctx_cbor_writer_t *writer);
/* Each returns 0 on success, -1 when out of memory or `writer` is NULL. */
PYCTX_API int pyctx_cbor_write_null(pyctx_cbor_writer_t *writer);
PYCTX_API int pyctx_cbor_write_bool(pyctx_cbor_writer_t *writer, int value);
PYCTX_API int pyctx_cbor_write_int(pyctx_cbor_writer_t *writer, int64_t value);
PYCTX_API int pyctx_cbor_write_uint(pyctx_cbor_writer_t *writer, uint64_t value);
/** Always written as float64, so equal values give equal bytes. */
PYCTX_API int pyctx_cbor_write_float(pyctx_cbor_writer_t *writer, double value);
/** UTF-8 text of `len` bytes (not checked here; the decoder checks). */
PYCTX_API int pyctx_cbor_write_text(pyctx_cbor_writer_t *writer, const char *text, size_t len);
/** Convenience: NUL-terminated text. */
PYCTX_API int pyctx_cbor_write_cstr(pyctx_cbor_writer_t *writer, const char *text);
PYCTX_API int pyctx_cbor_write_bytes(pyctx_cbor_writer_t *writer, const uint8_t *data,
                                     size_t len);
/** Starts an array of `count` items; write the items next. */
PYCTX_API int pyctx_cbor_write_array(pyctx_cbor_writer_t *writer, uint64_t count);
/** Starts a map of `count` pairs; write key, value, key, value, ... next. */
PYCTX_API int pyctx_cbor_write_map(pyctx_cbor_writer_t *writer, uint64_t count);
/** Writes a tag; the tagged item comes next. */
PYCTX_API int pyctx_cbor_write_tag(pyctx_cbor_writer_t *writer, uint64_t tag);
/** Appends already-encoded CBOR verbatim. */
PYCTX_API int pyctx_cbor_write_raw(pyctx_cbor_writer_t *writer, const uint8_t *data,
                                   size_t len);
/** The bytes written so far; valid until the next write, reset or free. */
PYCTX_API const uint8_t *pyctx_cbor_writer_data(const pyctx_cbor_writer_t *writer,
                                                size_t *out_len);

/* ---- Reader: a pull parser over a borrowed buffer. ---------------------- */

typedef enum pyctx_cbor_type {
    PYCTX_CBOR_UINT = 0,    /**< `uint_value` */
    PYCTX_CBOR_NEGINT = 1,  /**< value is -1 - `uint_value`; `int_value` when
                                 it fits int64 (`fits_int64`) */
    PYCTX_CBOR_BYTES = 2,   /**< `data`/`len`; indefinite: chunks follow */
    PYCTX_CBOR_TEXT = 3,    /**< `data`/`len` (not NUL-terminated) */
    PYCTX_CBOR_ARRAY = 4,   /**< `count` items follow (indefinite: until BREAK) */
    PYCTX_CBOR_MAP = 5,     /**< `count` pairs follow (indefinite: until BREAK) */
    PYCTX_CBOR_TAG = 6,     /**< `uint_value` is the tag; the item follows */
    PYCTX_CBOR_FALSE = 7,
    PYCTX_CBOR_TRUE = 8,
    PYCTX_CBOR_NULL = 9,
    PYCTX_CBOR_UNDEFINED = 10,
    PYCTX_CBOR_FLOAT = 11,  /**< `float_value` (from half, single or double) */
    PYCTX_CBOR_SIMPLE = 12, /**< other simple value in `uint_value` */
    PYCTX_CBOR_BREAK = 13   /**< ends an indefinite-length item */
} pyctx_cbor_type;

typedef struct pyctx_cbor_item {
    pyctx_cbor_type type;
    int indefinite;       /**< 1 for indefinite-length strings/arrays/maps */
    int fits_int64;       /**< 1 when UINT/NEGINT fits `int_value` */
    uint64_t uint_value;
    int64_t int_value;
    double float_value;
    const uint8_t *data;  /**< into the reader's buffer */
    size_t len;
    uint64_t count;
} pyctx_cbor_item_t;

/** Reader state; a plain struct so it can live on the stack. */
typedef struct pyctx_cbor_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
} pyctx_cbor_reader_t;

PYCTX_API void pyctx_cbor_reader_init(pyctx_cbor_reader_t *reader, const uint8_t *data,
                                      size_t len);
/** Reads the next item head into `out_item` and advances. At the end of the
 *  buffer or on malformed input returns a PYCTX_ERR_DECODE error naming the
 *  offset; the reader does not move then. TEXT items are valid UTF-8 (the
 *  chunks of an indefinite-length string are checked when its head is read).
 *  The reader keeps no nesting state, so it cannot tell a misplaced BREAK
 *  inside a buffer: validate a whole item with pyctx_cbor_skip(). */
PYCTX_API pyctx_error_t *pyctx_cbor_read(pyctx_cbor_reader_t *reader,
                                         pyctx_cbor_item_t *out_item);
/** Skips one complete data item (with everything nested in it). */
PYCTX_API pyctx_error_t *pyctx_cbor_skip(pyctx_cbor_reader_t *reader);
/** 1 when every byte has been read (NULL: 1). */
PYCTX_API int pyctx_cbor_reader_at_end(const pyctx_cbor_reader_t *reader);

/** Renders one complete CBOR data item in RFC 8949 diagnostic notation
 *  (e.g. `[1, "a", h'00ff', 258([1, 2])]`) as NUL-terminated text in
 *  `out_text` (`len` excludes the NUL). Invalid input fails with
 *  PYCTX_ERR_DECODE. */
PYCTX_API pyctx_error_t *pyctx_cbor_diagnose(const uint8_t *data, size_t len,
                                             pyctx_bytes_t *out_text);

/* ======================================================================== */
/* Pools                                                                    */
/* ======================================================================== */

/*
 * A pool is N contexts ("members") of one mode, made from the same context
 * options (so the same preload, sandbox, queue capacity, memory limit),
 * behind one submit path. Submit to a pool exactly as to a context: a
 * request object with pyctx_request_set_pool() (sync wait, callback,
 * cancel, timeout, batches), or the one-call pyctx_pool_call() and
 * pyctx_pool_call_async(). The pool only chooses the member; from there the
 * request takes that member's ordinary path, so the completion guarantee is
 * the context's own: every accepted request completes exactly once, also
 * under cancel, timeout, resize, member replacement, pool close and runtime
 * shutdown. The pool has no mode of its own: it works with every mode the
 * member options name.
 *
 * Routing (pyctx_pool_options_set_routing), per request:
 *  - PYCTX_POOL_LEAST_QUEUED (default): the member with the fewest queued
 *    requests (one more while it runs a request); among equally loaded
 *    members one whose thread is awake (spinning, or just woken) before one
 *    that has parked, since waking a parked thread costs a futex or
 *    selector wake-up (~12 us on a VM against ~0.2 us); remaining ties
 *    go to the member chosen last (most likely still awake; equally loaded
 *    members are not taken in turn). A parked idle member still beats an awake member with work
 *    ahead of it. Members of executors that cannot tell report "awake".
 *    Reading a member's load costs a cache miss (its thread writes those
 *    words on every request), so the pool remembers each member's load as
 *    last read and reads only the member it would choose; it reads every
 *    member again every 8th submission, or when the chosen one turns out
 *    more than a quarter worse than the runner-up (a busy member with an
 *    empty queue loses to an idle one at once).
 *  - PYCTX_POOL_ROUND_ROBIN: members in turn.
 *  - PYCTX_POOL_BY_KEY: requests without a key are routed least queued.
 *  - A request with a key (pyctx_request_set_key) is routed by key whatever
 *    the pool's routing: consistent hashing (160 points per member on a
 *    64-bit ring; a key's hash is 64-bit FNV-1a with an avalanche step,
 *    stable across runs), so the same key goes to the same member while
 *    membership does not change, and a resize from N to N+1 members moves
 *    about 1/(N+1) of the keys (all to the new member); removing a member
 *    moves only its keys. A key whose member is closing goes to the next
 *    member on the ring.
 *  - A request with an env (pyctx_request_set_env) made through the pool
 *    goes to the member the env belongs to (no routing, no key).
 *
 * Keys and their state: a key's state lives in its member and does not
 * follow the key when its member changes (resize, replacement). Such a
 * change is reported: pyctx_request_key_moved() is 1 for the first
 * submission of a key routed to another member than that key's previous
 * submission (a replaced member counts as another member). The pool
 * remembers the member of up to `key_memory` keys (default 65536, see
 * pyctx_pool_options_set_key_memory); beyond that it forgets some and a
 * forgotten key is new again (not reported at its next request).
 * pyctx_request_pool_member() names the member every pool request went to.
 *
 * Request ids are unique per pool: every member draws them from the pool's
 * one counter (also for requests sent to a member's context handle
 * directly), so pyctx_pool_cancel() by id works on the pool.
 *
 * Queue bound: pyctx_pool_options_set_queue_bound() bounds the requests
 * queued (not yet running) over all members; a submission beyond it fails
 * at once with PYCTX_ERR_QUEUE_FULL. The check reads the members' queue
 * depths at submission, so submitters racing at the same instant may
 * overshoot by at most their number minus one. Each member's own queue
 * capacity (from the member options) still applies too.
 *
 * Resize (pyctx_pool_resize) grows by making members with the same options
 * and shrinks by taking the members with the highest slots out of the
 * routing at once; each leaving member finishes its queue, then closes.
 *
 * Replacement: a member that closes or crashes (its context reports
 * closed: closed through its handle, a process member whose child died,
 * ...) is noticed by the pool's keeper thread within about 20 ms (at once
 * when a submission meets it) and, with PYCTX_POOL_REPLACE (default),
 * replaced by a new member with the same options in the same ring slot
 * (its keys come back to the slot, and are reported moved); with
 * PYCTX_POOL_LEAVE it is dropped and the pool shrinks. Requests the closed
 * member held have completed as closed (or crashed), exactly once. While
 * the runtime is not running nothing is replaced.
 *
 * Members are contexts: pyctx_pool_member_context() hands out a context
 * handle of member i (its stats, a broadcast exec to every member, closing
 * one). Shutdown closes the pool's members like every context.
 *
 * Thread safety: every pool function may be called from any thread,
 * concurrently, except pyctx_pool_free() (not concurrently with other calls
 * on the same handle, as for contexts). pyctx_pool_resize() and
 * pyctx_pool_close() wait, so they refuse (INVALID_ARGUMENT) to run on a
 * member's own thread (a completion callback or host function there).
 */
typedef struct pyctx_pool pyctx_pool_t;
typedef struct pyctx_pool_options pyctx_pool_options_t;

/** How a pool chooses a member for a request without key or env. */
typedef enum pyctx_pool_routing {
    PYCTX_POOL_LEAST_QUEUED = 0,
    PYCTX_POOL_ROUND_ROBIN = 1,
    PYCTX_POOL_BY_KEY = 2
} pyctx_pool_routing;

/** What a pool does with a member that closed or crashed. */
typedef enum pyctx_pool_replace {
    PYCTX_POOL_REPLACE = 0, /**< make a new one in its place */
    PYCTX_POOL_LEAVE = 1    /**< drop it: the pool shrinks */
} pyctx_pool_replace;

/** The largest pool (members are threads, or processes). */
#define PYCTX_POOL_MAX_SIZE 256

PYCTX_API pyctx_pool_options_t *pyctx_pool_options_new(void);
PYCTX_API void pyctx_pool_options_free(pyctx_pool_options_t *options);
/** Number of members, 1..PYCTX_POOL_MAX_SIZE (default 1). */
PYCTX_API pyctx_error_t *pyctx_pool_options_set_size(pyctx_pool_options_t *options, size_t size);
/** Every member's options, copied now (mode, preload, queue capacity,
 *  sandbox, memory limit, create timeout). Their name, if set, prefixes the
 *  members' names ("<name>-<member id>"); otherwise the pool's name does.
 *  Default: a worker context's defaults. */
PYCTX_API pyctx_error_t *pyctx_pool_options_set_member_options(
    pyctx_pool_options_t *options, const pyctx_context_options_t *member_options);
/** The pool's name (default "pool-<n>"). */
PYCTX_API pyctx_error_t *pyctx_pool_options_set_name(pyctx_pool_options_t *options,
                                                     const char *name);
/** Default PYCTX_POOL_LEAST_QUEUED; a value outside the enum is
 *  INVALID_ARGUMENT. */
PYCTX_API pyctx_error_t *pyctx_pool_options_set_routing(pyctx_pool_options_t *options,
                                                        pyctx_pool_routing routing);
/** Requests queued over all members at most (0, default: unbounded). */
PYCTX_API pyctx_error_t *pyctx_pool_options_set_queue_bound(pyctx_pool_options_t *options,
                                                            size_t bound);
/** Default PYCTX_POOL_REPLACE. */
PYCTX_API pyctx_error_t *pyctx_pool_options_set_replace(pyctx_pool_options_t *options,
                                                        pyctx_pool_replace policy);
/** How many keys the pool remembers for pyctx_request_key_moved()
 *  (default 65536; 0: none, never reported). */
PYCTX_API pyctx_error_t *pyctx_pool_options_set_key_memory(pyctx_pool_options_t *options,
                                                           size_t keys);

/**
 * Creates the pool and all its members (each as pyctx_context_create()
 * does, one after the other). If a member cannot be made, the ones made are
 * closed and the error names the member (NOT_RUNNING, INVALID_ARGUMENT,
 * UNSUPPORTED, PYTHON for a preload that raised, ...). `options` may be NULL.
 */
PYCTX_API pyctx_error_t *pyctx_pool_create(const pyctx_pool_options_t *options,
                                           pyctx_pool_t **out_pool);
/**
 * Closes the pool: new submissions fail with PYCTX_ERR_CLOSED, every member
 * closes as pyctx_context_close() does (queued requests complete as closed,
 * running ones are interrupted), all against one deadline of `timeout_ms`.
 * PYCTX_ERR_STUCK names the members whose Python did not return. Idempotent.
 */
PYCTX_API pyctx_error_t *pyctx_pool_close(pyctx_pool_t *pool, uint32_t timeout_ms);
/** Releases the handle; an open pool is closed without waiting. Accepts
 *  NULL. Request objects and envs keep what they use alive. */
PYCTX_API void pyctx_pool_free(pyctx_pool_t *pool);

/**
 * Changes the number of members to `size` (1..PYCTX_POOL_MAX_SIZE). Growing
 * makes the new members first (an error leaves the pool as it was).
 * Shrinking takes the members with the highest slots out of the routing at
 * once, waits until each has finished its queue (running requests and
 * pending coroutine tasks included) for at most `timeout_ms`
 * (PYCTX_NO_TIMEOUT: as long as it takes), then closes it: whatever is left
 * then completes as closed. Returns once the leaving members have closed
 * (PYCTX_ERR_STUCK when one's Python did not return). One resize at a time;
 * others wait.
 */
PYCTX_API pyctx_error_t *pyctx_pool_resize(pyctx_pool_t *pool, size_t size, uint32_t timeout_ms);
/** Members routed to now (0 when closed or NULL). */
PYCTX_API size_t pyctx_pool_size(const pyctx_pool_t *pool);
/** The pool's name; valid as long as the handle (NULL: ""). */
PYCTX_API const char *pyctx_pool_name(const pyctx_pool_t *pool);
/** 1 when the pool is closed or closing, else 0 (NULL: 1). */
PYCTX_API int pyctx_pool_is_closed(const pyctx_pool_t *pool);
/** A new handle of member `index` (0..size-1, in slot order), released
 *  with pyctx_context_free(), which for a member handle does not close the
 *  member; pyctx_context_close() on it does (the pool then replaces or
 *  drops it per its policy). NOT_FOUND when out of range. */
PYCTX_API pyctx_error_t *pyctx_pool_member_context(pyctx_pool_t *pool, size_t index,
                                                   pyctx_context_t **out_context);

/** Cancels request `request_id` of this pool on whichever member holds it
 *  (see pyctx_cancel()). NOT_FOUND when unknown or already completed,
 *  INVALID_ARGUMENT for id 0. */
PYCTX_API pyctx_error_t *pyctx_pool_cancel(pyctx_pool_t *pool, uint64_t request_id);

/** pyctx_call() through the pool's routing (no key). */
PYCTX_API pyctx_error_t *pyctx_pool_call(pyctx_pool_t *pool, const char *module,
                                         const char *function, const uint8_t *args,
                                         size_t args_len, const uint8_t *kwargs,
                                         size_t kwargs_len, uint32_t timeout_ms,
                                         pyctx_bytes_t *out_result);
/** pyctx_call_async() through the pool's routing (no key); the id is
 *  unique per pool. */
PYCTX_API pyctx_error_t *pyctx_pool_call_async(pyctx_pool_t *pool, const char *module,
                                               const char *function, const uint8_t *args,
                                               size_t args_len, const uint8_t *kwargs,
                                               size_t kwargs_len, uint32_t timeout_ms,
                                               pyctx_completion_fn on_complete, void *user_data,
                                               uint64_t *out_request_id);

/** An env on a member the pool's routing chooses. It belongs to that member
 *  (pyctx_eval/exec with it need that member's context; a pool request with
 *  it always goes there); when the member has left the pool, requests with
 *  it fail with PYCTX_ERR_CLOSED. */
PYCTX_API pyctx_error_t *pyctx_pool_env_create(pyctx_pool_t *pool, pyctx_env_t **out_env);

/** The request's destination: a pool (replaces a context set before, as
 *  pyctx_request_set_context() replaces a pool). The request keeps the
 *  pool alive while it refers to it. */
PYCTX_API pyctx_error_t *pyctx_request_set_pool(pyctx_request_t *request, pyctx_pool_t *pool);
/** The routing key of pool requests (any bytes, copied; NULL/0: none).
 *  Ignored for a context destination. */
PYCTX_API pyctx_error_t *pyctx_request_set_key(pyctx_request_t *request, const void *key,
                                               size_t len);
/** The member id (see pyctx_pool_member_stats_t) the current submission
 *  went to; 0 before, and for context destinations. */
PYCTX_API uint64_t pyctx_request_pool_member(const pyctx_request_t *request);
/** 1 when the current submission's key was routed to another member than
 *  its previous submission of that key; else 0. */
PYCTX_API int pyctx_request_key_moved(const pyctx_request_t *request);

/** Counters of a pool, over every member it ever had. Fields are only ever
 *  appended. */
typedef struct pyctx_pool_stats {
    uint64_t size;           /**< members routed to now */
    uint64_t leaving;        /**< members finishing their queue before closing */
    uint64_t created;        /**< members ever made (growth, replacements) */
    uint64_t replaced;       /**< members replaced after they closed */
    uint64_t replace_failed; /**< replacements that could not be made */
    uint64_t refused_full;   /**< submissions refused at the queue bound */
    uint64_t completed;      /**< the members' counters, summed ... */
    uint64_t failed;
    uint64_t cancelled;
    uint64_t timed_out;
    uint64_t closed;
    uint64_t queue_depth;    /**< queued now over all members */
    uint64_t keys_known;     /**< keys remembered for moved reports */
} pyctx_pool_stats_t;

/** One member's counters: its context's, plus routing state. Fields are
 *  only ever appended. */
typedef struct pyctx_pool_member_stats {
    uint64_t member_id;    /**< unique in the pool, never reused */
    uint64_t slot;         /**< its place on the ring (a replacement keeps it) */
    uint64_t parked;       /**< 1 when its thread has parked (a hint) */
    uint64_t busy;         /**< 1 while it runs a request (a hint) */
    uint64_t completed;
    uint64_t failed;
    uint64_t cancelled;
    uint64_t timed_out;
    uint64_t closed;
    uint64_t queue_depth;
    uint64_t thread_id;
} pyctx_pool_member_stats_t;

/** Fills `out_stats` (`stats_size` = sizeof as the caller knows it). */
PYCTX_API pyctx_error_t *pyctx_pool_stats(const pyctx_pool_t *pool, pyctx_pool_stats_t *out_stats,
                                          size_t stats_size);
/** Member `index` (0..size-1); NOT_FOUND when out of range. */
PYCTX_API pyctx_error_t *pyctx_pool_member_stats(const pyctx_pool_t *pool, size_t index,
                                                 pyctx_pool_member_stats_t *out_stats,
                                                 size_t stats_size);

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
 * (pyctx_stream_cancel()), PYCTX_ERR_CLOSED (the context closed; also
 * for a stream waiting for credit, with nothing in flight, and for an async
 * generator suspended in an await: the close reaches every open stream at
 * once), PYCTX_ERR_INVALID_ARGUMENT (the result is neither an iterator, an
 * iterable nor an async iterator; the message names its type), or the
 * error of the call that was to produce the iterator. Both run one at a
 * time per stream, with no GIL and no library lock held, on a library
 * thread -- except the end that a cancel or a refused credit decides while
 * no message of the stream is in flight: that on_end runs inside
 * pyctx_stream_cancel() or pyctx_stream_credit(), on the caller's thread.
 * They must not block, may grant credit, cancel, and (on_end only) free the
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
 * way are dropped. Process contexts carry the same messages (open, pulls,
 * close) through their ring.
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
 * Process contexts map library-allocated buffers (pyctx_buffer_alloc(), in
 * the library's shared-memory arena) into their child without a copy; other
 * memory is copied into the arena once when the request is sent and back
 * (if writable) when the child lets go of it, before the finalizer runs.
 * The finalizer waits for the child's last view and runs exactly once, also
 * when the child dies or the context closes. A result in buffer form is
 * copied once in the child (C-contiguous) into shared memory and mapped
 * read-only here: a snapshot of the Python object, valid until the host
 * frees it, also after the child died (pyctx_buffer_info() reports memory
 * PYCTX_BUFFER_HOST for it).
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
 * memory (Go), and the one process contexts share without a copy (whole
 * pages of the library's shared-memory arena, when the system has memfd).
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

#endif /* PYCTX_H */
