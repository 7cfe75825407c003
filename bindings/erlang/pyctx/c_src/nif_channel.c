#include "nif_channel.h"

#include <pthread.h>
#include <string.h>

#include <pyctx.h>

#include "atoms.h"
#include "nif_common.h"
#include "term_decode.h"
#include "term_encode.h"

/* The Erlang end of one channel. `ch` is set at creation and freed only by
 * the destructor: every NIF using it holds the resource term, and the
 * delivery thread a resource reference, so the free (which the C API
 * forbids concurrently with other calls) runs alone. */
typedef struct chan_res {
    pyctx_channel_t *ch;
    int bytes;
    /* Active delivery (channel_active/2): while `running`, one detached
     * thread receives as long as `credit` lasts and sends each value to
     * `owner`. Everything below is guarded by `lock`. */
    ErlNifMutex *lock;
    int running;     /* the delivery thread is alive (holds a reference) */
    int owner_dead;  /* the owner's monitor fired: stop, deliver nothing */
    int ended;       /* `closed` was delivered: nothing more will come */
    uint64_t credit; /* values still to deliver */
    ErlNifPid owner;
    ErlNifMonitor monitor;
} chan_res;

static ErlNifResourceType *CHAN_TYPE;
/* A large value of a byte channel, handed out as a resource binary over
 * the library's buffer (no copy); freed with the binary. */
static ErlNifResourceType *CHAN_BYTES_TYPE;

/* Atoms of this file only (atoms.h is shared with other work). */
static ERL_NIF_TERM ATOM_full, ATOM_empty, ATOM_to_python, ATOM_from_python,
    ATOM_queued_to_python, ATOM_queued_to_host, ATOM_pyctx_channel, ATOM_data, ATOM_passive;

/* A CBOR value larger than this is decoded on a dirty CPU scheduler: the
 * decoder does about this much work in well under a millisecond. */
#define NORMAL_DECODE_LIMIT (64 * 1024)
/* A byte-channel value larger than this is sent from a dirty CPU
 * scheduler (the library copies it). */
#define NORMAL_COPY_LIMIT (1024 * 1024)
/* The longest wait one NIF call may make (pyctx.erl uses far less). */
#define MAX_SLICE_MS 1000u
/* The delivery thread's wait per receive: how soon it notices that its
 * credit was withdrawn or its owner died (a close wakes it at once). */
#define ACTIVE_SLICE_MS 100u

static void chan_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    chan_res *res = obj;
    /* Closes the channel (Python's waiters wake and see the end) and drops
     * the host's reference; never waits. No delivery thread runs: it holds
     * a reference while alive. */
    pyctx_channel_free(res->ch);
    res->ch = NULL;
    if (res->lock != NULL) enif_mutex_destroy(res->lock);
}

static void bytes_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    pyctx_bytes_free((pyctx_bytes_t *)obj);
}

/* The owner of a running delivery died: the thread stops after its
 * current receive and sends nothing more. */
static void chan_owner_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon) {
    (void)env;
    (void)pid;
    chan_res *res = obj;
    enif_mutex_lock(res->lock);
    if (res->running && enif_compare_monitors(mon, &res->monitor) == 0) res->owner_dead = 1;
    enif_mutex_unlock(res->lock);
}

int channel_resources_open(ErlNifEnv *env) {
    ATOM_full = enif_make_atom(env, "full");
    ATOM_empty = enif_make_atom(env, "empty");
    ATOM_to_python = enif_make_atom(env, "to_python");
    ATOM_from_python = enif_make_atom(env, "from_python");
    ATOM_queued_to_python = enif_make_atom(env, "queued_to_python");
    ATOM_queued_to_host = enif_make_atom(env, "queued_to_host");
    ATOM_pyctx_channel = enif_make_atom(env, "pyctx_channel");
    ATOM_data = enif_make_atom(env, "data");
    ATOM_passive = enif_make_atom(env, "passive");
    ErlNifResourceTypeInit init = {0};
    init.dtor = chan_destructor;
    init.down = chan_owner_down;
    init.members = 3;
    CHAN_TYPE = enif_open_resource_type_x(env, "pyctx_channel", &init, ERL_NIF_RT_CREATE, NULL);
    CHAN_BYTES_TYPE = enif_open_resource_type(env, NULL, "pyctx_channel_bytes", bytes_destructor,
                                              ERL_NIF_RT_CREATE, NULL);
    return CHAN_TYPE != NULL && CHAN_BYTES_TYPE != NULL;
}

static int get_chan(ErlNifEnv *env, ERL_NIF_TERM term, chan_res **out) {
    void *p;
    if (!enif_get_resource(env, term, CHAN_TYPE, &p)) return 0;
    *out = p;
    return (*out)->ch != NULL;
}

ERL_NIF_TERM nif_channel_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ErlNifUInt64 capacity;
    int bytes;
    if (!enif_get_uint64(env, argv[0], &capacity)) return enif_make_badarg(env);
    if (enif_is_identical(argv[1], ATOM_true)) bytes = 1;
    else if (enif_is_identical(argv[1], ATOM_false)) bytes = 0;
    else return enif_make_badarg(env);
    if (capacity > SIZE_MAX) return enif_make_badarg(env);
    pyctx_channel_t *ch = NULL;
    pyctx_error_t *err = pyctx_channel_new((size_t)capacity, bytes, &ch);
    if (err != NULL) return error_tuple_consume(env, err);
    chan_res *res = enif_alloc_resource(CHAN_TYPE, sizeof *res);
    if (res == NULL) {
        pyctx_channel_free(ch);
        return error_message_tuple(env, ATOM_no_memory, "out of memory");
    }
    memset(res, 0, sizeof *res);
    res->ch = ch;
    res->bytes = bytes;
    res->lock = enif_mutex_create("pyctx_channel");
    if (res->lock == NULL) {
        enif_release_resource(res); /* the destructor frees the channel */
        return error_message_tuple(env, ATOM_no_memory, "out of memory");
    }
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return enif_make_tuple2(env, ATOM_ok, term);
}

ERL_NIF_TERM nif_channel_id(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    if (!get_chan(env, argv[0], &res)) return enif_make_badarg(env);
    return enif_make_uint64(env, pyctx_channel_id(res->ch));
}

ERL_NIF_TERM nif_channel_bytes(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    if (!get_chan(env, argv[0], &res)) return enif_make_badarg(env);
    return res->bytes ? ATOM_true : ATOM_false;
}

/* Sends `data` without waiting: ok, {full, Encoded} or {error, Reason}.
 * Encoded is `*binary` when the data is that binary's, else a copy made
 * only when needed. */
static ERL_NIF_TERM try_send_bytes(ErlNifEnv *env, chan_res *res, const uint8_t *data,
                                   size_t len, const ERL_NIF_TERM *binary) {
    pyctx_error_t *err = pyctx_channel_try_send(res->ch, data, len);
    if (err == NULL) return ATOM_ok;
    if (pyctx_error_status(err) == PYCTX_ERR_QUEUE_FULL) {
        pyctx_error_free(err);
        ERL_NIF_TERM encoded;
        if (binary != NULL) encoded = *binary;
        else memcpy(enif_make_new_binary(env, len, &encoded), data, len);
        return enif_make_tuple2(env, ATOM_full, encoded);
    }
    return error_tuple_consume(env, err);
}

static ERL_NIF_TERM try_send_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                                  int *over_budget) {
    chan_res *res;
    if (!get_chan(env, argv[0], &res)) return enif_make_badarg(env);
    if (res->bytes) {
        /* Raw bytes, no conversion: a binary is sent as it is (and is its
         * own Encoded form for a retry); other iodata is flattened. The
         * library copies the bytes: a large binary, and any flattening (of
         * unknown cost), go to a dirty scheduler. */
        ErlNifBinary bin;
        int is_binary = enif_inspect_binary(env, argv[1], &bin);
        if (budget >= 0 && (is_binary ? bin.size > NORMAL_COPY_LIMIT : enif_is_list(env, argv[1]))) {
            *over_budget = 1;
            return ATOM_undefined;
        }
        if (is_binary) return try_send_bytes(env, res, bin.data, bin.size, &argv[1]);
        if (!enif_inspect_iolist_as_binary(env, argv[1], &bin))
            return error_message_tuple(env, ATOM_invalid_argument,
                                       "a byte channel sends binaries (or iodata)");
        return try_send_bytes(env, res, bin.data, bin.size, NULL);
    }
    pyctx_cbor_writer_t *w = thread_writer();
    if (w == NULL) return error_message_tuple(env, ATOM_no_memory, "out of memory");
    term_encoder e;
    encoder_init(&e, env, w, budget);
    encode_status st = encode_term(&e, argv[1]);
    if (st == ENCODE_OVER_BUDGET) {
        *over_budget = 1;
        return ATOM_undefined;
    }
    if (st == ENCODE_NEEDS_REQUEST)
        return error_message_tuple(env, ATOM_encode,
                                   "a lent buffer cannot travel on a channel (send a binary)");
    if (st != ENCODE_OK) return error_message_tuple(env, ATOM_encode, e.error);
    size_t len;
    const uint8_t *data = pyctx_cbor_writer_data(w, &len);
    return try_send_bytes(env, res, data, len, NULL);
}

static ERL_NIF_TERM try_send_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return try_send_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_channel_try_send(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = try_send_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    return over ? go_dirty(env, "channel_try_send", try_send_dirty, argc, argv) : ret;
}

static int get_slice(ErlNifEnv *env, ERL_NIF_TERM term, uint32_t *out) {
    unsigned int ms;
    /* 0 is PYCTX_NO_TIMEOUT, a wait without bound: never on a scheduler. */
    if (!enif_get_uint(env, term, &ms) || ms == PYCTX_NO_TIMEOUT || ms > MAX_SLICE_MS) return 0;
    *out = ms;
    return 1;
}

ERL_NIF_TERM nif_channel_send_wait(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    ErlNifBinary bin;
    uint32_t slice;
    if (!get_chan(env, argv[0], &res) || !enif_inspect_binary(env, argv[1], &bin) ||
        !get_slice(env, argv[2], &slice))
        return enif_make_badarg(env);
    pyctx_error_t *err = pyctx_channel_send(res->ch, bin.data, bin.size, slice);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

/* {ok, Value} from bytes the channel handed out (freed here). */
static ERL_NIF_TERM value_reply(ErlNifEnv *env, chan_res *res, pyctx_bytes_t *value) {
    ERL_NIF_TERM term;
    if (res->bytes) {
        pyctx_bytes_t *held;
        if (value->len > NORMAL_DECODE_LIMIT &&
            (held = enif_alloc_resource(CHAN_BYTES_TYPE, sizeof *held)) != NULL) {
            *held = *value; /* the binary owns the buffer now */
            term = enif_make_resource_binary(env, held, held->data, held->len);
            enif_release_resource(held);
        } else {
            memcpy(enif_make_new_binary(env, value->len, &term), value->data, value->len);
            pyctx_bytes_free(value);
        }
        return enif_make_tuple2(env, ATOM_ok, term);
    }
    char error[256];
    int ok = decode_cbor(env, value->data, value->len, &term, error, sizeof error);
    pyctx_bytes_free(value);
    if (!ok) return error_message_tuple(env, ATOM_decode, error);
    return enif_make_tuple2(env, ATOM_ok, term);
}

/* Decodes a large value taken by channel_try_recv (argv[0], its CBOR). */
static ERL_NIF_TERM decode_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, argv[0], &bin)) return enif_make_badarg(env);
    ERL_NIF_TERM term;
    char error[256];
    if (!decode_cbor(env, bin.data, bin.size, &term, error, sizeof error))
        return error_message_tuple(env, ATOM_decode, error);
    return enif_make_tuple2(env, ATOM_ok, term);
}

ERL_NIF_TERM nif_channel_try_recv(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    if (!get_chan(env, argv[0], &res)) return enif_make_badarg(env);
    pyctx_bytes_t value = {NULL, 0};
    pyctx_error_t *err = pyctx_channel_try_recv(res->ch, &value);
    if (err != NULL) {
        if (pyctx_error_status(err) == PYCTX_ERR_TIMEOUT) {
            pyctx_error_free(err);
            return ATOM_empty;
        }
        return error_tuple_consume(env, err);
    }
    if (!res->bytes && value.len > NORMAL_DECODE_LIMIT) {
        /* The value is out of the channel already: carry its bytes to a
         * dirty scheduler rather than decode it here. */
        ERL_NIF_TERM bin;
        memcpy(enif_make_new_binary(env, value.len, &bin), value.data, value.len);
        pyctx_bytes_free(&value);
        return go_dirty(env, "channel_try_recv", decode_dirty, 1, &bin);
    }
    return value_reply(env, res, &value);
}

ERL_NIF_TERM nif_channel_recv_wait(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    uint32_t slice;
    if (!get_chan(env, argv[0], &res) || !get_slice(env, argv[1], &slice))
        return enif_make_badarg(env);
    pyctx_bytes_t value = {NULL, 0};
    pyctx_error_t *err = pyctx_channel_recv(res->ch, slice, &value);
    if (err != NULL) return error_tuple_consume(env, err);
    /* Already on a dirty scheduler: any size is decoded here. */
    return value_reply(env, res, &value);
}

ERL_NIF_TERM nif_channel_close(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    if (!get_chan(env, argv[0], &res)) return enif_make_badarg(env);
    pyctx_channel_close(res->ch);
    return ATOM_ok;
}

ERL_NIF_TERM nif_channel_stats(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    if (!get_chan(env, argv[0], &res)) return enif_make_badarg(env);
    pyctx_channel_stats_t s = {0, 0, 0, 0};
    pyctx_channel_stats(res->ch, &s);
    ERL_NIF_TERM keys[4] = {ATOM_to_python, ATOM_from_python, ATOM_queued_to_python,
                            ATOM_queued_to_host};
    ERL_NIF_TERM values[4] = {enif_make_uint64(env, s.to_python),
                              enif_make_uint64(env, s.from_python),
                              enif_make_uint64(env, s.queued_to_python),
                              enif_make_uint64(env, s.queued_to_host)};
    ERL_NIF_TERM map;
    if (!enif_make_map_from_arrays(env, keys, values, 4, &map)) return enif_make_badarg(env);
    return map;
}

/* ---- active delivery -------------------------------------------------------
 *
 * The C API has no readiness callback, so delivery is a thread blocked in
 * pyctx_channel_recv (bounded slices), started by channel_active/2 and
 * ending when its credit is used up or withdrawn (`passive`), the channel
 * is closed and drained (`closed`), or its owner dies (nothing). A value is
 * taken from the channel only while credit remains and is then always sent,
 * so each value reaches exactly one receiver. The thread sends its last
 * message and clears `running` under the lock, so a later channel_active's
 * thread cannot overtake it: a `passive` always follows every value of the
 * credit it ends. */

static ERL_NIF_TERM channel_event(ErlNifEnv *env, chan_res *res, ERL_NIF_TERM event) {
    return enif_make_tuple3(env, ATOM_pyctx_channel, enif_make_resource(env, res), event);
}

static void *deliver(void *arg) {
    chan_res *res = arg;
    ErlNifEnv *env = thread_message_env();
    enif_mutex_lock(res->lock);
    while (res->credit > 0 && !res->owner_dead) {
        ErlNifPid to = res->owner;
        enif_mutex_unlock(res->lock);
        pyctx_bytes_t value = {NULL, 0};
        pyctx_error_t *err = pyctx_channel_recv(res->ch, ACTIVE_SLICE_MS, &value);
        int taken = 0, closed = 0;
        if (err == NULL) {
            ERL_NIF_TERM reply = value_reply(env, res, &value); /* {ok, V} | {error, _} */
            const ERL_NIF_TERM *t;
            int arity;
            enif_get_tuple(env, reply, &arity, &t);
            ERL_NIF_TERM event = enif_is_identical(t[0], ATOM_ok)
                                     ? enif_make_tuple2(env, ATOM_data, t[1])
                                     : reply;
            enif_send(NULL, &to, env, channel_event(env, res, event));
            taken = 1;
        } else if (pyctx_error_status(err) == PYCTX_ERR_CLOSED) {
            pyctx_error_free(err);
            closed = 1;
        } else if (pyctx_error_status(err) == PYCTX_ERR_TIMEOUT) {
            pyctx_error_free(err);
        } else {
            /* A value that was taken but could not be handed out (a byte
             * channel given a non-bytes value): reported in its place. */
            ERL_NIF_TERM reason = error_tuple_consume(env, err);
            enif_send(NULL, &to, env, channel_event(env, res, reason));
            taken = 1;
        }
        enif_clear_env(env);
        enif_mutex_lock(res->lock);
        if (taken && res->credit > 0) res->credit--;
        if (closed) res->ended = 1;
        if (closed) break;
    }
    if (!res->owner_dead)
        enif_send(NULL, &res->owner, env,
                  channel_event(env, res, res->ended ? ATOM_closed : ATOM_passive));
    enif_clear_env(env);
    ErlNifMonitor monitor = res->monitor;
    res->running = 0;
    res->credit = 0;
    enif_mutex_unlock(res->lock);
    enif_demonitor_process(NULL, res, &monitor);
    enif_release_resource(res);
    return NULL;
}

ERL_NIF_TERM nif_channel_active(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    chan_res *res;
    ErlNifUInt64 n = 0;
    int stop = enif_is_identical(argv[1], ATOM_false);
    if (!get_chan(env, argv[0], &res) || (!stop && (!enif_get_uint64(env, argv[1], &n) || n == 0)))
        return enif_make_badarg(env);
    ErlNifPid self;
    if (enif_self(env, &self) == NULL) return enif_make_badarg(env);
    ERL_NIF_TERM ret = ATOM_ok;
    enif_mutex_lock(res->lock);
    if (res->running && enif_compare_pids(&res->owner, &self) != 0) {
        ret = enif_make_tuple2(env, ATOM_error, ATOM_not_owner);
    } else if (stop) {
        /* The running thread ends after its current receive and sends
         * `passive`; with none running there is nothing to stop. */
        if (res->running) res->credit = 0;
        else ret = ATOM_passive;
    } else if (res->running) {
        res->credit = n > UINT64_MAX - res->credit ? UINT64_MAX : res->credit + n;
    } else if (res->ended) {
        ret = enif_make_tuple2(env, ATOM_error, ATOM_closed);
    } else if (enif_monitor_process(env, res, &self, &res->monitor) != 0) {
        ret = enif_make_tuple2(env, ATOM_error, ATOM_not_owner); /* not alive */
    } else {
        res->owner = self;
        res->owner_dead = 0;
        res->credit = n;
        res->running = 1;
        enif_keep_resource(res); /* the thread's */
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, deliver, res) != 0) {
            res->running = 0;
            res->credit = 0;
            enif_demonitor_process(env, res, &res->monitor);
            enif_release_resource(res);
            ret = error_message_tuple(env, ATOM_no_memory, "cannot start a delivery thread");
        }
        pthread_attr_destroy(&attr);
    }
    enif_mutex_unlock(res->lock);
    return ret;
}
