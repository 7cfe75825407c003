#include "nif_pool.h"

#include <string.h>

#include "atoms.h"
#include "nif_common.h"
#include "nif_context.h"
#include "nif_request.h"
#include "term_encode.h"

ErlNifResourceType *POOL_TYPE;

/* Atoms only pools use; made at load time like atoms.h's, kept here so the
 * shared list does not grow with every feature. */
static ERL_NIF_TERM A_least_queued, A_round_robin, A_by_key, A_replace, A_leave, A_exec,
    A_size, A_leaving, A_created, A_replaced, A_replace_failed, A_refused_full, A_keys_known,
    A_member_id, A_slot, A_parked, A_busy;

static void pool_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    pool_res *res = obj;
    /* Closes an open pool without waiting: a destructor may run on a
     * normal scheduler. Members finish on their own threads. */
    pyctx_pool_free(res->pool);
    res->pool = NULL;
}

int pool_resources_open(ErlNifEnv *env) {
    A_least_queued = enif_make_atom(env, "least_queued");
    A_round_robin = enif_make_atom(env, "round_robin");
    A_by_key = enif_make_atom(env, "by_key");
    A_replace = enif_make_atom(env, "replace");
    A_leave = enif_make_atom(env, "leave");
    A_exec = enif_make_atom(env, "exec");
    A_size = enif_make_atom(env, "size");
    A_leaving = enif_make_atom(env, "leaving");
    A_created = enif_make_atom(env, "created");
    A_replaced = enif_make_atom(env, "replaced");
    A_replace_failed = enif_make_atom(env, "replace_failed");
    A_refused_full = enif_make_atom(env, "refused_full");
    A_keys_known = enif_make_atom(env, "keys_known");
    A_member_id = enif_make_atom(env, "member_id");
    A_slot = enif_make_atom(env, "slot");
    A_parked = enif_make_atom(env, "parked");
    A_busy = enif_make_atom(env, "busy");
    POOL_TYPE = enif_open_resource_type(env, NULL, "pyctx_pool", pool_destructor,
                                        ERL_NIF_RT_CREATE, NULL);
    return POOL_TYPE != NULL;
}

static int get_pool(ErlNifEnv *env, ERL_NIF_TERM term, pool_res **out) {
    return enif_get_resource(env, term, POOL_TYPE, (void **)out);
}

/* ---- life cycle ---------------------------------------------------------- */

static pyctx_error_t *apply_pool_options(ErlNifEnv *env, const ERL_NIF_TERM *items,
                                         pyctx_pool_options_t *o, int *badarg) {
    ErlNifUInt64 size, bound, key_memory;
    pyctx_pool_routing routing;
    pyctx_pool_replace replace;
    if (!enif_get_uint64(env, items[0], &size) || !enif_get_uint64(env, items[3], &bound) ||
        !enif_get_uint64(env, items[5], &key_memory)) {
        *badarg = 1;
        return NULL;
    }
    if (enif_is_identical(items[2], A_least_queued)) routing = PYCTX_POOL_LEAST_QUEUED;
    else if (enif_is_identical(items[2], A_round_robin)) routing = PYCTX_POOL_ROUND_ROBIN;
    else if (enif_is_identical(items[2], A_by_key)) routing = PYCTX_POOL_BY_KEY;
    else {
        *badarg = 1;
        return NULL;
    }
    if (enif_is_identical(items[4], A_replace)) replace = PYCTX_POOL_REPLACE;
    else if (enif_is_identical(items[4], A_leave)) replace = PYCTX_POOL_LEAVE;
    else {
        *badarg = 1;
        return NULL;
    }
    /* the library checks the size's range and says so */
    pyctx_error_t *err = pyctx_pool_options_set_size(o, (size_t)size);
    if (err == NULL && !enif_is_identical(items[1], ATOM_undefined)) {
        cstr_arg name;
        if (!cstr_from_term(env, items[1], &name)) {
            *badarg = 1;
            return NULL;
        }
        err = pyctx_pool_options_set_name(o, name.ptr);
        cstr_release(&name);
    }
    if (err == NULL) err = pyctx_pool_options_set_routing(o, routing);
    if (err == NULL) err = pyctx_pool_options_set_queue_bound(o, (size_t)bound);
    if (err == NULL) err = pyctx_pool_options_set_replace(o, replace);
    if (err == NULL) err = pyctx_pool_options_set_key_memory(o, (size_t)key_memory);
    return err;
}

ERL_NIF_TERM nif_pool_start(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int arity;
    const ERL_NIF_TERM *m, *p;
    if (!enif_get_tuple(env, argv[0], &arity, &m) || arity != 8 ||
        !enif_get_tuple(env, argv[1], &arity, &p) || arity != 6)
        return enif_make_badarg(env);
    /* context_start/9's layout: the owner (index 4) is not read */
    ERL_NIF_TERM cargv[9] = {m[0], m[1], m[2], m[3], ATOM_undefined, m[4], m[5], m[6], m[7]};
    pyctx_context_options_t *member = NULL;
    ERL_NIF_TERM error;
    if (!context_options_from_terms(env, cargv, &member, &error)) return error;
    pyctx_pool_options_t *o = pyctx_pool_options_new();
    if (o == NULL) {
        pyctx_context_options_free(member);
        return error_message_tuple(env, ATOM_no_memory, "out of memory");
    }
    int badarg = 0;
    pyctx_error_t *err = pyctx_pool_options_set_member_options(o, member);
    pyctx_context_options_free(member);
    if (err == NULL) err = apply_pool_options(env, p, o, &badarg);
    pyctx_pool_t *pool = NULL;
    if (err == NULL && !badarg) err = pyctx_pool_create(o, &pool);
    pyctx_pool_options_free(o);
    if (badarg) {
        pyctx_error_free(err);
        return enif_make_badarg(env);
    }
    if (err != NULL) return error_tuple_consume(env, err);
    pool_res *res = enif_alloc_resource(POOL_TYPE, sizeof(pool_res));
    res->pool = pool;
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return enif_make_tuple2(env, ATOM_ok, term);
}

ERL_NIF_TERM nif_pool_close(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pool_res *res;
    unsigned timeout_ms;
    if (!get_pool(env, argv[0], &res) || !enif_get_uint(env, argv[1], &timeout_ms))
        return enif_make_badarg(env);
    pyctx_error_t *err = pyctx_pool_close(res->pool, timeout_ms);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

ERL_NIF_TERM nif_pool_resize(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pool_res *res;
    ErlNifUInt64 size;
    unsigned timeout_ms;
    if (!get_pool(env, argv[0], &res) || !enif_get_uint64(env, argv[1], &size) ||
        !enif_get_uint(env, argv[2], &timeout_ms))
        return enif_make_badarg(env);
    pyctx_error_t *err = pyctx_pool_resize(res->pool, (size_t)size, timeout_ms);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

/* ---- stats ------------------------------------------------------------- */

ERL_NIF_TERM nif_pool_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pool_res *res;
    if (!get_pool(env, argv[0], &res)) return enif_make_badarg(env);
    pyctx_pool_stats_t s;
    memset(&s, 0, sizeof s);
    pyctx_error_t *err = pyctx_pool_stats(res->pool, &s, sizeof s);
    if (err != NULL) return error_tuple_consume(env, err);
    ERL_NIF_TERM keys[] = {ATOM_name,         A_size,          ATOM_closed,  A_leaving,
                           A_created,         A_replaced,      A_replace_failed,
                           A_refused_full,    ATOM_completed,  ATOM_failed,  ATOM_cancelled,
                           ATOM_timed_out,    ATOM_closed_requests, ATOM_queue_depth,
                           A_keys_known};
    ERL_NIF_TERM values[] = {
        make_binary_str(env, pyctx_pool_name(res->pool)),
        enif_make_uint64(env, s.size),
        pyctx_pool_is_closed(res->pool) ? ATOM_true : ATOM_false,
        enif_make_uint64(env, s.leaving),
        enif_make_uint64(env, s.created),
        enif_make_uint64(env, s.replaced),
        enif_make_uint64(env, s.replace_failed),
        enif_make_uint64(env, s.refused_full),
        enif_make_uint64(env, s.completed),
        enif_make_uint64(env, s.failed),
        enif_make_uint64(env, s.cancelled),
        enif_make_uint64(env, s.timed_out),
        enif_make_uint64(env, s.closed),
        enif_make_uint64(env, s.queue_depth),
        enif_make_uint64(env, s.keys_known),
    };
    ERL_NIF_TERM map;
    enif_make_map_from_arrays(env, keys, values, sizeof keys / sizeof keys[0], &map);
    return map;
}

static ERL_NIF_TERM member_map(ErlNifEnv *env, const pyctx_pool_member_stats_t *s) {
    ERL_NIF_TERM keys[] = {A_member_id,    A_slot,         A_parked,       A_busy,
                           ATOM_completed, ATOM_failed,    ATOM_cancelled, ATOM_timed_out,
                           ATOM_closed_requests, ATOM_queue_depth, ATOM_thread_id};
    ERL_NIF_TERM values[] = {
        enif_make_uint64(env, s->member_id), enif_make_uint64(env, s->slot),
        s->parked ? ATOM_true : ATOM_false,   s->busy ? ATOM_true : ATOM_false,
        enif_make_uint64(env, s->completed), enif_make_uint64(env, s->failed),
        enif_make_uint64(env, s->cancelled), enif_make_uint64(env, s->timed_out),
        enif_make_uint64(env, s->closed),    enif_make_uint64(env, s->queue_depth),
        enif_make_uint64(env, s->thread_id),
    };
    ERL_NIF_TERM map;
    enif_make_map_from_arrays(env, keys, values, sizeof keys / sizeof keys[0], &map);
    return map;
}

ERL_NIF_TERM nif_pool_members(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pool_res *res;
    if (!get_pool(env, argv[0], &res)) return enif_make_badarg(env);
    ERL_NIF_TERM list = enif_make_list(env, 0);
    /* from the last slot down so the list comes out in slot order; a
     * member that left meanwhile is simply not listed */
    for (size_t i = pyctx_pool_size(res->pool); i-- > 0;) {
        pyctx_pool_member_stats_t s;
        memset(&s, 0, sizeof s);
        pyctx_error_t *err = pyctx_pool_member_stats(res->pool, i, &s, sizeof s);
        if (err != NULL) {
            pyctx_error_free(err);
            continue;
        }
        list = enif_make_list_cell(env, member_map(env, &s), list);
    }
    return list;
}

ERL_NIF_TERM nif_pool_load(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pool_res *res;
    if (!get_pool(env, argv[0], &res)) return enif_make_badarg(env);
    pyctx_pool_stats_t s;
    memset(&s, 0, sizeof s);
    pyctx_error_t *err = pyctx_pool_stats(res->pool, &s, sizeof s);
    if (err != NULL) return error_tuple_consume(env, err);
    return enif_make_tuple2(env, enif_make_uint64(env, s.size), enif_make_uint64(env, s.queue_depth));
}

ERL_NIF_TERM nif_pool_member(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pool_res *res;
    ErlNifUInt64 index;
    if (!get_pool(env, argv[0], &res) || !enif_get_uint64(env, argv[1], &index))
        return enif_make_badarg(env);
    pyctx_context_t *ctx = NULL;
    pyctx_error_t *err = pyctx_pool_member_context(res->pool, (size_t)index, &ctx);
    if (err != NULL) return error_tuple_consume(env, err);
    return enif_make_tuple2(env, ATOM_ok, make_context_term(env, ctx));
}

/* The member a new env goes to, by the pool's own preference: fewest queued
 * (one more while busy), then awake before parked. */
static int least_loaded_member(pyctx_pool_t *pool, size_t *out_index) {
    int found = 0;
    uint64_t best_load = 0, best_parked = 0;
    for (size_t i = 0, n = pyctx_pool_size(pool); i < n; i++) {
        pyctx_pool_member_stats_t s;
        memset(&s, 0, sizeof s);
        pyctx_error_t *err = pyctx_pool_member_stats(pool, i, &s, sizeof s);
        if (err != NULL) {
            pyctx_error_free(err);
            continue;
        }
        uint64_t load = s.queue_depth + (s.busy ? 1 : 0);
        if (!found || load < best_load || (load == best_load && s.parked < best_parked)) {
            found = 1;
            best_load = load;
            best_parked = s.parked;
            *out_index = i;
        }
    }
    return found;
}

ERL_NIF_TERM nif_pool_env_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pool_res *res;
    if (!get_pool(env, argv[0], &res)) return enif_make_badarg(env);
    size_t index = 0;
    if (pyctx_pool_is_closed(res->pool) || !least_loaded_member(res->pool, &index))
        return enif_make_tuple2(env, ATOM_error, ATOM_closed);
    /* An env made on the member's own context handle, so eval/exec with it
     * take the context path (the env's context term is that member). */
    pyctx_context_t *ctx = NULL;
    pyctx_error_t *err = pyctx_pool_member_context(res->pool, index, &ctx);
    if (err != NULL) return error_tuple_consume(env, err);
    ERL_NIF_TERM ctx_term = make_context_term(env, ctx);
    ctx_res *cres;
    enif_get_resource(env, ctx_term, CTX_TYPE, (void **)&cres);
    pyctx_env_t *penv = NULL;
    err = pyctx_env_create(cres->ctx, &penv);
    if (err != NULL) return error_tuple_consume(env, err);
    env_res *eres = enif_alloc_resource(ENV_TYPE, sizeof(env_res));
    eres->env = penv;
    eres->ctx = cres;
    enif_keep_resource(cres);
    ERL_NIF_TERM term = enif_make_resource(env, eres);
    enif_release_resource(eres);
    return enif_make_tuple2(env, ATOM_ok, term);
}

/* ---- requests ---------------------------------------------------------- */

static req_res *pool_request_new(pool_res *pool, owner_res *owner, int kind) {
    req_res *req = request_new(NULL, NULL, owner, kind);
    req->pool = pool;
    enif_keep_resource(pool);
    return req;
}

static ERL_NIF_TERM pool_call_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                                   int *over_budget) {
    pool_res *pool;
    owner_res *owner;
    unsigned timeout_ms;
    encoded_call c;
    if (!get_pool(env, argv[0], &pool) || !enif_get_uint(env, argv[5], &timeout_ms) ||
        !get_owner(env, argv[6], &owner) || !encode_call(env, argv, budget, &c))
        return enif_make_badarg(env);
    ERL_NIF_TERM ret;
    if (c.status == ENCODE_NEEDS_REQUEST) {
        /* a lent buffer in the arguments: tell the Erlang side to submit a
         * request object (pool_request/10), which can carry it */
        ret = ATOM_buffer;
    } else if (c.status == ENCODE_OVER_BUDGET) {
        *over_budget = 1;
        ret = ATOM_undefined;
    } else if (c.status != ENCODE_OK) {
        ret = c.error;
    } else {
        req_res *req = pool_request_new(pool, owner, REQ_KIND_VALUE);
        owner_link(owner, req);
        pyctx_error_t *err =
            pyctx_pool_call_async(pool->pool, c.module.ptr, c.function.ptr, c.args, c.args_len,
                                  c.kwargs, c.kwargs_len, timeout_ms, on_complete, req, &req->id);
        ret = request_submitted(env, req, err);
    }
    encoded_call_release(&c);
    return ret;
}

static ERL_NIF_TERM pool_call_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return pool_call_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_pool_call(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = pool_call_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    /* arguments too big to encode within a time slice: again, dirty */
    return over ? go_dirty(env, "pool_call", pool_call_dirty, argc, argv) : ret;
}

/* The member context that made an object result: the member id the
 * request went to, found among the members in slot order. A member handle
 * keeps only the member's context, like any context handle. NULL when that
 * member has left the pool meanwhile. */
static ctx_res *member_ctx_of(pool_res *pool, uint64_t member_id) {
    for (size_t i = 0, n = pyctx_pool_size(pool->pool); i < n; i++) {
        pyctx_pool_member_stats_t s;
        memset(&s, 0, sizeof s);
        pyctx_error_t *err = pyctx_pool_member_stats(pool->pool, i, &s, sizeof s);
        if (err != NULL) {
            pyctx_error_free(err);
            continue;
        }
        if (s.member_id != member_id) continue;
        pyctx_context_t *ctx = NULL;
        if ((err = pyctx_pool_member_context(pool->pool, i, &ctx)) != NULL) {
            pyctx_error_free(err);
            return NULL;
        }
        /* the slot may have changed hands between the two calls: check */
        memset(&s, 0, sizeof s);
        err = pyctx_pool_member_stats(pool->pool, i, &s, sizeof s);
        if (err != NULL || s.member_id != member_id) {
            pyctx_error_free(err);
            pyctx_context_free(ctx);
            return NULL;
        }
        ctx_res *res = enif_alloc_resource(CTX_TYPE, sizeof(ctx_res));
        memset(res, 0, sizeof *res);
        res->ctx = ctx;
        return res; /* the one reference goes to req->ctx */
    }
    return NULL;
}

/* Completion of a pool request object. An object result must name its
 * context (the handle's later requests, and cancel, go there): give the
 * request its member's context first. The req's destructor releases it. */
static void on_pool_request_done(void *user_data, pyctx_request_t *preq) {
    req_res *req = user_data;
    if (req->kind == REQ_KIND_OBJECT && req->ctx == NULL &&
        pyctx_request_status(preq) == PYCTX_OK) {
        req->ctx = member_ctx_of(req->pool, pyctx_request_pool_member(preq));
        if (req->ctx == NULL) {
            /* The member is gone, and its objects with it: report it as
             * the member's other requests were (closed); drop the object. */
            int expected = REQ_PENDING;
            if (atomic_compare_exchange_strong(&req->state, &expected, REQ_SENDING)) {
                ErlNifEnv *menv = thread_message_env();
                ERL_NIF_TERM msg = enif_make_tuple3(
                    menv, ATOM_pyctx, enif_make_resource(menv, req),
                    enif_make_tuple2(menv, ATOM_error, ATOM_closed));
                enif_send(NULL, &req->owner->pid, menv, msg);
                atomic_store(&req->state, REQ_SENT);
                enif_clear_env(menv);
            }
            /* now on_request_done sees a state it does not answer, and
             * releases the object and the library's reference */
        }
    }
    on_request_done(user_data, preq);
}

static int get_pool_kind(ERL_NIF_TERM t, pyctx_request_kind *out) {
    if (enif_is_identical(t, ATOM_call)) *out = PYCTX_REQUEST_CALL;
    else if (enif_is_identical(t, ATOM_eval)) *out = PYCTX_REQUEST_EVAL;
    else if (enif_is_identical(t, A_exec)) *out = PYCTX_REQUEST_EXEC;
    else return 0;
    return 1;
}

static int get_form(ERL_NIF_TERM t, pyctx_result_form *out) {
    if (enif_is_identical(t, ATOM_value)) *out = PYCTX_RESULT_VALUE;
    else if (enif_is_identical(t, ATOM_object)) *out = PYCTX_RESULT_OBJECT;
    else if (enif_is_identical(t, ATOM_buffer)) *out = PYCTX_RESULT_BUFFER;
    else return 0;
    return 1;
}

/* Encodes `term` (args: any list; kwargs/locals: a keyword map) and sets it
 * with `setter`. Returns the encoder status; sets *err on a library error. */
static encode_status encode_into(ErlNifEnv *env, pyctx_request_t *preq, ERL_NIF_TERM term,
                                 int keywords, long *budget, pyctx_error_t **err,
                                 pyctx_error_t *(*setter)(pyctx_request_t *, const uint8_t *,
                                                          size_t),
                                 term_encoder *e) {
    pyctx_cbor_writer_t *w = thread_writer();
    encoder_init(e, env, w, *budget);
    e->request = preq; /* lent buffers attach to the request object */
    encode_status st = w == NULL ? ENCODE_ERROR
                       : keywords ? encode_keyword_map(e, term)
                                  : encode_term(e, term);
    if (st == ENCODE_OK) {
        size_t len;
        const uint8_t *data = pyctx_cbor_writer_data(w, &len);
        *err = setter(preq, data, len);
    }
    *budget = e->budget;
    return st;
}

static ERL_NIF_TERM pool_request_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                                      int *over_budget) {
    pyctx_request_kind kind;
    pool_res *pool;
    pyctx_result_form form;
    unsigned timeout_ms;
    owner_res *owner;
    ErlNifBinary key;
    int has_key = !enif_is_identical(argv[6], ATOM_undefined);
    if (!get_pool_kind(argv[0], &kind) || !get_pool(env, argv[1], &pool) ||
        !enif_is_list(env, argv[4]) || (has_key && !enif_inspect_binary(env, argv[6], &key)) ||
        !get_form(argv[7], &form) || !enif_get_uint(env, argv[8], &timeout_ms) ||
        !get_owner(env, argv[9], &owner) ||
        (kind == PYCTX_REQUEST_EXEC && form != PYCTX_RESULT_VALUE) ||
        !(enif_is_identical(argv[10], ATOM_true) || enif_is_identical(argv[10], ATOM_false)))
        return enif_make_badarg(env);
    cstr_arg a1 = {0}, a2 = {0};
    if (!cstr_from_term(env, argv[2], &a1) ||
        (kind == PYCTX_REQUEST_CALL && !cstr_from_term(env, argv[3], &a2))) {
        cstr_release(&a1);
        return enif_make_badarg(env);
    }
    pyctx_request_t *preq = NULL;
    pyctx_error_t *err = pyctx_request_new(&preq);
    if (err == NULL) err = pyctx_request_set_pool(preq, pool->pool);
    if (err == NULL) {
        if (kind == PYCTX_REQUEST_CALL) err = pyctx_request_set_call(preq, a1.ptr, a2.ptr);
        else if (kind == PYCTX_REQUEST_EVAL) err = pyctx_request_set_eval(preq, a1.ptr);
        else err = pyctx_request_set_exec(preq, a1.ptr);
    }
    cstr_release(&a1);
    cstr_release(&a2);
    if (err == NULL && has_key) err = pyctx_request_set_key(preq, key.data, key.size);
    if (err == NULL) err = pyctx_request_set_timeout(preq, timeout_ms);
    if (err == NULL && form != PYCTX_RESULT_VALUE) err = pyctx_request_set_result_form(preq, form);
    encode_status st = ENCODE_OK;
    term_encoder e;
    e.error[0] = '\0';
    if (err == NULL && !enif_is_empty_list(env, argv[4]))
        st = encode_into(env, preq, argv[4], 0, &budget, &err, pyctx_request_set_args, &e);
    if (err == NULL && st == ENCODE_OK && !is_empty_keywords(env, argv[5]))
        st = encode_into(env, preq, argv[5], 1, &budget, &err, pyctx_request_set_kwargs, &e);
    if (err != NULL || st != ENCODE_OK) {
        pyctx_request_free(preq);
        if (err != NULL) return error_tuple_consume(env, err);
        if (st == ENCODE_OVER_BUDGET) {
            *over_budget = 1;
            return ATOM_undefined;
        }
        if (e.error[0] == '\0') return error_message_tuple(env, ATOM_no_memory, "out of memory");
        return error_message_tuple(env, ATOM_encode, e.error);
    }
    int rkind = kind == PYCTX_REQUEST_EXEC    ? REQ_KIND_EXEC
                : form == PYCTX_RESULT_OBJECT ? REQ_KIND_OBJECT
                : form == PYCTX_RESULT_BUFFER ? REQ_KIND_BUFFER
                                              : REQ_KIND_VALUE;
    req_res *req = pool_request_new(pool, owner, rkind);
    req->preq = preq;
    req->route_info = enif_is_identical(argv[10], ATOM_true);
    err = pyctx_request_set_callback(preq, on_pool_request_done, req, NULL);
    owner_link(owner, req);
    if (err == NULL) err = pyctx_request_submit_id(preq, &req->id);
    return request_submitted(env, req, err);
}

static ERL_NIF_TERM pool_request_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return pool_request_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_pool_request(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = pool_request_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    return over ? go_dirty(env, "pool_request", pool_request_dirty, argc, argv) : ret;
}
