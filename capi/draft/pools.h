/* pyctx.h section: "Pools" (a new section after "Request objects"). */
#ifndef PYCTX_DRAFT_POOLS_H
#define PYCTX_DRAFT_POOLS_H

#include "pyctx.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 *    rotate. A parked idle member still beats an awake member with work
 *    ahead of it. Members of executors that cannot tell report "awake".
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

#ifdef __cplusplus
}
#endif

#endif /* PYCTX_DRAFT_POOLS_H */
