#include "nif_stream.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "atoms.h"
#include "nif_common.h"
#include "nif_request.h"
#include "term_decode.h"
#include "term_encode.h"

ErlNifResourceType *STREAM_TYPE;

typedef struct stream_res {
    /* Guards `stream`, `users`, `end_seen` and `freed`. The C stream is
     * freed once its end was reported and no NIF is using it; never held
     * while calling the library, since pyctx_stream_cancel and _credit may
     * report the end (run on_end) on the calling thread itself. */
    ErlNifMutex *lock;
    pyctx_stream_t *stream;
    int users;    /* NIFs (and the open) using `stream` now */
    int end_seen; /* on_end has run */
    int freed;
    ctx_res *ctx;
    ErlNifPid owner;
    ErlNifMonitor monitor;
    atomic_int monitored;
    /* Credit granted and not yet used by an item (the end may use one),
     * and items decremented from it whose message is not sent yet. */
    atomic_llong outstanding;
    atomic_int sending;
    /* An item that had no term mapping: the stream is cancelled and its
     * end reports this instead of `cancelled`. Written by on_item only. */
    atomic_int bad_item;
    char bad_item_message[256];
    /* Set once the end message was sent; `end_term` (in `end_env`) is its
     * payload, written before. */
    atomic_int ended;
    ErlNifEnv *end_env;
    ERL_NIF_TERM end_term;
} stream_res;

/* The env of the NIF running on this thread, if any: the library may run
 * a stream's callbacks inside pyctx_stream_cancel/_credit, i.e. on a
 * scheduler thread, where enif_send wants the caller's env. */
static __thread ErlNifEnv *tls_caller_env;

/* With the lock held: the C stream to free now, or NULL. */
static pyctx_stream_t *take_if_finished(stream_res *res) {
    if (!res->end_seen || res->users > 0 || res->freed || res->stream == NULL) return NULL;
    res->freed = 1;
    pyctx_stream_t *s = res->stream;
    res->stream = NULL;
    return s;
}

/* The C stream for one library call, or NULL once it ended. */
static pyctx_stream_t *use_stream(stream_res *res) {
    enif_mutex_lock(res->lock);
    pyctx_stream_t *s = res->end_seen || res->freed ? NULL : res->stream;
    if (s != NULL) res->users++;
    enif_mutex_unlock(res->lock);
    return s;
}

/* After that call: frees the C stream if it ended meanwhile (releasing
 * the library's reference to `res`; the caller still holds its own). */
static void done_with_stream(stream_res *res) {
    enif_mutex_lock(res->lock);
    res->users--;
    pyctx_stream_t *s = take_if_finished(res);
    enif_mutex_unlock(res->lock);
    pyctx_stream_free(s);
}

static void stream_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    stream_res *res = obj;
    /* The library held a reference until the end: nothing is left open. */
    if (res->lock != NULL) enif_mutex_destroy(res->lock);
    if (res->end_env != NULL) enif_free_env(res->end_env);
    if (res->ctx != NULL) enif_release_resource(res->ctx);
}

/* The owner died: nobody reads the items, so close the iterator. */
static void stream_owner_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon) {
    (void)env;
    (void)pid;
    (void)mon;
    stream_res *res = obj;
    atomic_store(&res->monitored, 0);
    pyctx_stream_t *s = use_stream(res);
    if (s == NULL) return;
    enif_keep_resource(res); /* done_with_stream may drop the library's reference */
    ErlNifEnv *outer = tls_caller_env;
    tls_caller_env = env;
    pyctx_error_free(pyctx_stream_cancel(s));
    tls_caller_env = outer;
    done_with_stream(res);
    enif_release_resource(res);
}

int stream_resources_open(ErlNifEnv *env) {
    ErlNifResourceTypeInit init = {0};
    init.dtor = stream_destructor;
    init.down = stream_owner_down;
    init.members = 3;
    STREAM_TYPE = enif_open_resource_type_x(env, "pyctx_stream", &init, ERL_NIF_RT_CREATE, NULL);
    return STREAM_TYPE != NULL;
}

/* ---- library callbacks (one at a time per stream) ---------------------- */

static void send_to_owner(stream_res *res, ErlNifEnv *env, ERL_NIF_TERM payload) {
    ERL_NIF_TERM msg =
        enif_make_tuple3(env, ATOM_pyctx_stream, enif_make_resource(env, res), payload);
    /* fails harmlessly for a dead owner */
    enif_send(tls_caller_env, &res->owner, env, msg);
}

static void on_item(void *user_data, pyctx_stream_t *stream, const uint8_t *item, size_t len) {
    stream_res *res = user_data;
    atomic_fetch_add(&res->sending, 1);
    atomic_fetch_sub(&res->outstanding, 1);
    if (atomic_load(&res->bad_item)) { /* cancelled: items on the way are dropped */
        atomic_fetch_sub(&res->sending, 1);
        return;
    }
    ErlNifEnv *env = thread_message_env();
    ERL_NIF_TERM value;
    if (!decode_cbor(env, item, len, &value, res->bad_item_message,
                     sizeof res->bad_item_message)) {
        atomic_store(&res->bad_item, 1);
        pyctx_error_free(pyctx_stream_cancel(stream));
    } else {
        send_to_owner(res, env, enif_make_tuple2(env, ATOM_item, value));
    }
    atomic_fetch_sub(&res->sending, 1);
    enif_clear_env(env);
}

static void on_end(void *user_data, pyctx_stream_t *stream, pyctx_status status,
                   const pyctx_error_t *error) {
    stream_res *res = user_data;
    ErlNifEnv *env = thread_message_env();
    ERL_NIF_TERM payload;
    if (status == PYCTX_OK) payload = ATOM_done;
    else if (atomic_load(&res->bad_item) && status == PYCTX_ERR_CANCELLED)
        payload = error_message_tuple(env, ATOM_decode, res->bad_item_message);
    else payload = enif_make_tuple2(env, ATOM_error, error_reason(env, error));
    res->end_env = enif_alloc_env();
    res->end_term = enif_make_copy(res->end_env, payload);
    /* Counted as a send, like an item: stream_pull waits for it to finish,
     * so an owner that already took the end message finds `ended` set. */
    atomic_fetch_add(&res->sending, 1);
    send_to_owner(res, env, payload);
    atomic_store(&res->ended, 1);
    atomic_fetch_sub(&res->sending, 1);
    enif_clear_env(env);
    /* Freed here unless a NIF is inside a library call with it (this may
     * be that call), or the open has not returned yet: then that NIF frees
     * it when its call returns. */
    enif_mutex_lock(res->lock);
    res->end_seen = 1;
    if (res->stream == NULL && !res->freed) res->stream = stream;
    pyctx_stream_t *s = take_if_finished(res);
    enif_mutex_unlock(res->lock);
    pyctx_stream_free(s); /* from on_end: releases the user data after it */
}

/* The library's reference, released once after on_end. */
static void stream_user_free(void *user_data) {
    enif_release_resource(user_data);
}

/* ---- NIFs -------------------------------------------------------------- */

static ERL_NIF_TERM open_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                              int *over_budget) {
    unsigned credit;
    ErlNifPid self;
    if (!enif_get_uint(env, argv[6], &credit) || enif_self(env, &self) == NULL ||
        enif_is_identical(argv[0], ATOM_getattr) || enif_is_identical(argv[0], ATOM_release))
        return enif_make_badarg(env);
    pyctx_request_t *preq;
    ctx_res *ctx;
    env_res *penv;
    ERL_NIF_TERM error;
    if (!setup_request(env, argv, budget, &preq, &ctx, &penv, &error, over_budget)) return error;

    stream_res *res = enif_alloc_resource(STREAM_TYPE, sizeof(stream_res));
    memset(res, 0, sizeof *res);
    res->lock = enif_mutex_create("pyctx_stream");
    res->ctx = ctx;
    enif_keep_resource(ctx);
    res->owner = self;
    atomic_init(&res->outstanding, (long long)credit);
    if (res->lock == NULL) {
        pyctx_request_free(preq);
        enif_release_resource(res);
        return error_message_tuple(env, ATOM_no_memory, "out of memory");
    }
    if (enif_monitor_process(env, res, &self, &res->monitor) == 0)
        atomic_store(&res->monitored, 1);
    enif_keep_resource(res); /* the library's, until the C stream is freed */
    res->users = 1;          /* the open itself: on_end cannot free it meanwhile */
    pyctx_stream_t *opened = NULL;
    ErlNifEnv *outer = tls_caller_env;
    tls_caller_env = env;
    pyctx_error_t *err =
        pyctx_stream_open(preq, credit, on_item, on_end, res, stream_user_free, &opened);
    tls_caller_env = outer;
    pyctx_request_free(preq); /* the stream copied its settings */
    if (err == NULL) {
        enif_mutex_lock(res->lock);
        res->stream = opened;
        enif_mutex_unlock(res->lock);
        done_with_stream(res);
    }
    if (err != NULL) {
        if (atomic_exchange(&res->monitored, 0))
            enif_demonitor_process(env, res, &res->monitor);
        enif_release_resource(res); /* not started: no finalizer will run */
        enif_release_resource(res);
        return error_tuple_consume(env, err);
    }
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return enif_make_tuple2(env, ATOM_ok, term);
}

static ERL_NIF_TERM open_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return open_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_stream_open(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = open_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    return over ? go_dirty(env, "stream_open", open_dirty, argc, argv) : ret;
}

static pyctx_error_t *grant(ErlNifEnv *env, stream_res *res, unsigned n) {
    pyctx_stream_t *s = use_stream(res);
    if (s == NULL) return NULL; /* ended: ignored */
    atomic_fetch_add(&res->outstanding, (long long)n);
    ErlNifEnv *outer = tls_caller_env;
    tls_caller_env = env;
    pyctx_error_t *err = pyctx_stream_credit(s, n);
    tls_caller_env = outer;
    done_with_stream(res);
    return err;
}

ERL_NIF_TERM nif_stream_demand(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    stream_res *res;
    unsigned n;
    if (!enif_get_resource(env, argv[0], STREAM_TYPE, (void **)&res) ||
        !enif_get_uint(env, argv[1], &n))
        return enif_make_badarg(env);
    if (n == 0) return ATOM_ok;
    pyctx_error_t *err = grant(env, res, n);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

ERL_NIF_TERM nif_stream_cancel(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    stream_res *res;
    if (!enif_get_resource(env, argv[0], STREAM_TYPE, (void **)&res)) return enif_make_badarg(env);
    pyctx_stream_t *s = use_stream(res);
    if (s == NULL) return ATOM_ok; /* ended already */
    ErlNifEnv *outer = tls_caller_env;
    tls_caller_env = env;
    pyctx_error_t *err = pyctx_stream_cancel(s);
    tls_caller_env = outer;
    done_with_stream(res);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

ERL_NIF_TERM nif_stream_pull(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    stream_res *res;
    ErlNifPid self;
    if (!enif_get_resource(env, argv[0], STREAM_TYPE, (void **)&res) ||
        enif_self(env, &self) == NULL)
        return enif_make_badarg(env);
    if (enif_compare_pids(&self, &res->owner) != 0)
        return enif_make_tuple2(env, ATOM_error, ATOM_not_owner);
    /* An item (or the end) being sent right now is either about to reach the mailbox or
     * already there -- and possibly already taken by the caller's previous
     * stream_next, in which case nothing more is on its way. Only once the
     * send has finished does the count say which: wait for it (a window of
     * an enif_send, microseconds), then the caller looks at its mailbox. */
    while (atomic_load(&res->sending) != 0) sched_yield();
    if (atomic_load(&res->ended))
        return enif_make_tuple2(env, ATOM_ended, enif_make_copy(env, res->end_term));
    /* idle: no credit owed, so nothing can arrive until more credit is
     * granted (only the end of a cancel or close). */
    if (atomic_load(&res->outstanding) <= 0) return ATOM_idle;
    return ATOM_owed;
}
