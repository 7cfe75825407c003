#include "nif_request.h"

#include <string.h>

#include "atoms.h"
#include "nif_common.h"
#include "nif_context.h"
#include "term_decode.h"
#include "term_encode.h"

ErlNifResourceType *REQ_TYPE;
ErlNifResourceType *OWNER_TYPE;

static void req_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    req_res *req = obj;
    /* done or never accepted: frees without waiting (also from its own
     * callback, when that drops the last reference) */
    pyctx_request_free(req->preq);
    if (req->ctx != NULL) enif_release_resource(req->ctx);
    if (req->pool != NULL) enif_release_resource(req->pool);
    if (req->owner != NULL) enif_release_resource(req->owner);
}

pyctx_error_t *request_lib_cancel(const req_res *req) {
    return req->pool != NULL ? pyctx_pool_cancel(req->pool->pool, req->id)
                             : pyctx_cancel(req->ctx->ctx, req->id);
}

static void owner_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    owner_res *owner = obj;
    if (owner->lock != NULL) enif_mutex_destroy(owner->lock);
}

/* The owner process died: nobody can receive the replies of its pending
 * requests, so cancel them instead of letting them occupy their contexts. */
static void owner_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon) {
    (void)env;
    (void)pid;
    (void)mon;
    owner_res *owner = obj;
    enif_mutex_lock(owner->lock);
    owner->dead = 1;
    size_t n = 0;
    for (req_res *r = owner->pending; r != NULL; r = r->next) n++;
    req_res **abandoned = n > 0 ? enif_alloc(n * sizeof *abandoned) : NULL;
    size_t k = 0;
    for (req_res *r = owner->pending; r != NULL && abandoned != NULL; r = r->next) {
        int expected = REQ_PENDING;
        if (atomic_compare_exchange_strong(&r->state, &expected, REQ_ABANDONED)) {
            enif_keep_resource(r); /* alive until cancelled, below */
            abandoned[k++] = r;
        }
    }
    enif_mutex_unlock(owner->lock);
    /* outside the lock: a cancelled request's completion unlinks itself */
    for (size_t i = 0; i < k; i++) {
        pyctx_error_free(request_lib_cancel(abandoned[i]));
        enif_release_resource(abandoned[i]);
    }
    if (abandoned != NULL) enif_free(abandoned);
}

int request_resources_open(ErlNifEnv *env) {
    REQ_TYPE = enif_open_resource_type(env, NULL, "pyctx_request", req_destructor,
                                       ERL_NIF_RT_CREATE, NULL);
    ErlNifResourceTypeInit init = {0};
    init.dtor = owner_destructor;
    init.down = owner_down;
    init.members = 3;
    OWNER_TYPE = enif_open_resource_type_x(env, "pyctx_owner", &init, ERL_NIF_RT_CREATE, NULL);
    return REQ_TYPE != NULL && OWNER_TYPE != NULL;
}

ERL_NIF_TERM nif_owner_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    (void)argv;
    owner_res *owner = enif_alloc_resource(OWNER_TYPE, sizeof(owner_res));
    memset(owner, 0, sizeof *owner);
    owner->lock = enif_mutex_create("pyctx_owner");
    if (owner->lock == NULL || enif_self(env, &owner->pid) == NULL ||
        enif_monitor_process(env, owner, &owner->pid, &owner->monitor) != 0) {
        enif_release_resource(owner);
        return enif_make_badarg(env);
    }
    ERL_NIF_TERM term = enif_make_resource(env, owner);
    enif_release_resource(owner);
    return term;
}

/* The calling process's owner handle; 0 when `term` is not it. */
int get_owner(ErlNifEnv *env, ERL_NIF_TERM term, owner_res **out) {
    ErlNifPid self;
    return enif_get_resource(env, term, OWNER_TYPE, (void **)out) &&
           enif_self(env, &self) != NULL && enif_compare_pids(&self, &(*out)->pid) == 0;
}

void owner_link(owner_res *owner, req_res *req) {
    enif_mutex_lock(owner->lock);
    req->prev = NULL;
    req->next = owner->pending;
    if (owner->pending != NULL) owner->pending->prev = req;
    owner->pending = req;
    enif_mutex_unlock(owner->lock);
}

static void owner_unlink(owner_res *owner, req_res *req) {
    enif_mutex_lock(owner->lock);
    if (req->prev != NULL) req->prev->next = req->next;
    else owner->pending = req->next;
    if (req->next != NULL) req->next->prev = req->prev;
    req->prev = req->next = NULL;
    enif_mutex_unlock(owner->lock);
}

/* ---- completion -------------------------------------------------------- */

/* {ok, Value} | ok | {error, Reason} for a finished request. */
static ERL_NIF_TERM reply_term(ErlNifEnv *env, int kind, pyctx_result_t *result) {
    if (pyctx_result_status(result) != PYCTX_OK)
        return enif_make_tuple2(env, ATOM_error, error_reason(env, pyctx_result_error(result)));
    if (kind == REQ_KIND_EXEC) return ATOM_ok;
    size_t len = 0;
    const uint8_t *value = pyctx_result_value(result, &len);
    ERL_NIF_TERM term;
    char error[256];
    if (!decode_cbor(env, value, len, &term, error, sizeof error))
        return error_message_tuple(env, ATOM_decode, error);
    return enif_make_tuple2(env, ATOM_ok, term);
}

/* Runs on a library thread, exactly once per accepted request. */
void on_complete(void *user_data, uint64_t request_id, pyctx_result_t *result) {
    (void)request_id;
    req_res *req = user_data;
    int expected = REQ_PENDING;
    if (atomic_compare_exchange_strong(&req->state, &expected, REQ_SENDING)) {
        ErlNifEnv *env = thread_message_env();
        ERL_NIF_TERM msg = enif_make_tuple3(env, ATOM_pyctx, enif_make_resource(env, req),
                                            reply_term(env, req->kind, result));
        /* fails harmlessly when the owner has died meanwhile */
        enif_send(NULL, &req->owner->pid, env, msg);
        atomic_store(&req->state, REQ_SENT);
        enif_clear_env(env);
    }
    pyctx_result_free(result);
    owner_unlink(req->owner, req);
    if (req->env != NULL) {
        enif_release_resource(req->env);
        req->env = NULL;
    }
    enif_release_resource(req); /* the library's reference */
}

/* ---- submission -------------------------------------------------------- */

/* A request owned by the calling process, holding one reference for the
 * caller and one for the library. */
req_res *request_new(ctx_res *ctx, env_res *penv, owner_res *owner, int kind) {
    req_res *req = enif_alloc_resource(REQ_TYPE, sizeof(req_res));
    req->ctx = ctx;
    if (ctx != NULL) enif_keep_resource(ctx);
    req->pool = NULL;
    req->env = penv;
    if (penv != NULL) enif_keep_resource(penv);
    req->owner = owner;
    enif_keep_resource(owner);
    req->prev = req->next = NULL;
    req->preq = NULL;
    req->id = 0;
    req->kind = kind;
    req->route_info = 0;
    atomic_init(&req->state, REQ_PENDING);
    enif_keep_resource(req);
    return req;
}

/* The NIF's return value once the library has answered the submission.
 * (The request was linked into its owner's list before submitting, so that
 * its completion always finds it there.) */
ERL_NIF_TERM request_submitted(ErlNifEnv *env, req_res *req, pyctx_error_t *err) {
    if (err != NULL) {
        /* not accepted: no completion will come, drop the library's share */
        owner_unlink(req->owner, req);
        if (req->env != NULL) {
            enif_release_resource(req->env);
            req->env = NULL;
        }
        enif_release_resource(req);
        enif_release_resource(req);
        return error_tuple_consume(env, err);
    }
    ERL_NIF_TERM ref = enif_make_resource(env, req);
    enif_release_resource(req);
    return ref;
}

static ERL_NIF_TERM encode_error(ErlNifEnv *env, const term_encoder *e) {
    return error_message_tuple(env, ATOM_encode, e->error);
}

/* ---- requests made with a request object ------------------------------ */

static ERL_NIF_TERM object_term(ErlNifEnv *env, ctx_res *ctx, pyctx_object_t *obj) {
    obj_res *res = enif_alloc_resource(OBJ_TYPE, sizeof(obj_res));
    res->obj = obj;
    res->ctx = ctx;
    enif_keep_resource(ctx);
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return term;
}

/* A Python buffer view as a resource binary: the view stays pinned until
 * the binary is garbage collected. */
static ERL_NIF_TERM view_term(ErlNifEnv *env, pyctx_buffer_t *buf) {
    pyctx_buffer_info_t info;
    memset(&info, 0, sizeof info);
    pyctx_error_t *err = pyctx_buffer_info(buf, &info, sizeof info);
    if (err != NULL) {
        pyctx_buffer_free(buf);
        return error_tuple_consume(env, err);
    }
    if (!info.c_contiguous) {
        pyctx_buffer_free(buf);
        return error_message_tuple(env, ATOM_unsupported,
                                   "the result buffer is not C-contiguous; return bytes(view) "
                                   "or a contiguous copy");
    }
    view_res *res = enif_alloc_resource(VIEW_TYPE, sizeof(view_res));
    res->buf = buf;
    ERL_NIF_TERM bin = enif_make_resource_binary(env, res, info.data, info.len);
    enif_release_resource(res);
    return enif_make_tuple2(env, ATOM_ok, bin);
}

/* {ok, Value} | {ok, Object} | {ok, Binary} | ok | {error, Reason} */
static ERL_NIF_TERM request_reply(ErlNifEnv *env, req_res *req, pyctx_request_t *preq) {
    if (pyctx_request_status(preq) != PYCTX_OK)
        return enif_make_tuple2(env, ATOM_error, error_reason(env, pyctx_request_error(preq)));
    pyctx_error_t *err;
    switch (req->kind) {
    case REQ_KIND_EXEC:
    case REQ_KIND_RELEASE:
        return ATOM_ok;
    case REQ_KIND_OBJECT: {
        pyctx_object_t *obj = NULL;
        err = pyctx_request_take_object(preq, &obj);
        if (err != NULL) return error_tuple_consume(env, err);
        return enif_make_tuple2(env, ATOM_ok, object_term(env, req->ctx, obj));
    }
    case REQ_KIND_BUFFER: {
        pyctx_buffer_t *buf = NULL;
        err = pyctx_request_take_buffer(preq, &buf);
        if (err != NULL) return error_tuple_consume(env, err);
        return view_term(env, buf);
    }
    default: {
        /* taken, so that the request term keeps no copy of the value */
        pyctx_bytes_t value = {0};
        err = pyctx_request_take_value(preq, &value);
        if (err != NULL) return error_tuple_consume(env, err);
        ERL_NIF_TERM term;
        char error[256];
        int ok = decode_cbor(env, value.data, value.len, &term, error, sizeof error);
        pyctx_bytes_free(&value);
        if (!ok) return error_message_tuple(env, ATOM_decode, error);
        return enif_make_tuple2(env, ATOM_ok, term);
    }
    }
}

/* Runs on a library thread, once per accepted request object. */
/* {ok, Value} -> {ok, Value, Route} and ok (exec) -> {ok, Route}, where
 * Route = #{member => Id, key_moved => Bool}: where a pool request ran and
 * whether its key's member changed since the key was last seen
 * (pyctx_request_key_moved). Errors are left as they are. */
static ERL_NIF_TERM with_route_info(ErlNifEnv *env, ERL_NIF_TERM reply,
                                    const pyctx_request_t *preq) {
    int arity;
    const ERL_NIF_TERM *items;
    const int exec_ok = enif_is_identical(reply, ATOM_ok);
    if (!exec_ok && (!enif_get_tuple(env, reply, &arity, &items) || arity != 2 ||
                     !enif_is_identical(items[0], ATOM_ok)))
        return reply;
    ERL_NIF_TERM keys[] = {ATOM_member, ATOM_key_moved};
    ERL_NIF_TERM values[] = {enif_make_uint64(env, pyctx_request_pool_member(preq)),
                             pyctx_request_key_moved(preq) ? ATOM_true : ATOM_false};
    ERL_NIF_TERM route;
    enif_make_map_from_arrays(env, keys, values, 2, &route);
    return exec_ok ? enif_make_tuple2(env, ATOM_ok, route)
                   : enif_make_tuple3(env, ATOM_ok, items[1], route);
}

void on_request_done(void *user_data, pyctx_request_t *preq) {
    req_res *req = user_data;
    int expected = REQ_PENDING;
    if (atomic_compare_exchange_strong(&req->state, &expected, REQ_SENDING)) {
        ErlNifEnv *env = thread_message_env();
        ERL_NIF_TERM reply = request_reply(env, req, preq);
        if (req->route_info) reply = with_route_info(env, reply, preq);
        ERL_NIF_TERM msg = enif_make_tuple3(env, ATOM_pyctx, enif_make_resource(env, req), reply);
        enif_send(NULL, &req->owner->pid, env, msg);
        atomic_store(&req->state, REQ_SENT);
        enif_clear_env(env);
    } else if (req->kind == REQ_KIND_OBJECT || req->kind == REQ_KIND_BUFFER) {
        /* Abandoned: release the result now rather than when the request
         * term is collected (a held view would keep its context from
         * closing). */
        pyctx_object_t *obj = NULL;
        pyctx_buffer_t *buf = NULL;
        if (req->kind == REQ_KIND_OBJECT) pyctx_error_free(pyctx_request_take_object(preq, &obj));
        else pyctx_error_free(pyctx_request_take_buffer(preq, &buf));
        pyctx_object_free(obj);
        pyctx_buffer_free(buf);
    }
    owner_unlink(req->owner, req);
    if (req->env != NULL) {
        enif_release_resource(req->env);
        req->env = NULL;
    }
    enif_release_resource(req); /* the library's reference */
}

static int get_kind(ERL_NIF_TERM t, pyctx_request_kind *out) {
    if (enif_is_identical(t, ATOM_call)) *out = PYCTX_REQUEST_CALL;
    else if (enif_is_identical(t, ATOM_eval)) *out = PYCTX_REQUEST_EVAL;
    else if (enif_is_identical(t, ATOM_object_call)) *out = PYCTX_REQUEST_OBJECT_CALL;
    else if (enif_is_identical(t, ATOM_method_call)) *out = PYCTX_REQUEST_METHOD_CALL;
    else if (enif_is_identical(t, ATOM_getattr)) *out = PYCTX_REQUEST_GETATTR;
    else if (enif_is_identical(t, ATOM_release)) *out = PYCTX_REQUEST_RELEASE;
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

int setup_request(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                  pyctx_request_t **out_preq, ctx_res **out_ctx, env_res **out_env,
                  ERL_NIF_TERM *out_error, int *over_budget) {
    pyctx_request_kind kind;
    ctx_res *ctx = NULL;
    env_res *penv = NULL;
    obj_res *obj = NULL;
    if (!get_kind(argv[0], &kind) || !enif_is_list(env, argv[4])) {
        *out_error = enif_make_badarg(env);
        return 0;
    }
    int ok_target;
    switch (kind) {
    case PYCTX_REQUEST_CALL:
        ok_target = enif_get_resource(env, argv[1], CTX_TYPE, (void **)&ctx);
        break;
    case PYCTX_REQUEST_EVAL:
        ok_target = get_target(env, argv[1], &ctx, &penv);
        break;
    default:
        ok_target = enif_get_resource(env, argv[1], OBJ_TYPE, (void **)&obj);
        if (ok_target) ctx = obj->ctx;
    }
    if (!ok_target) {
        *out_error = enif_make_badarg(env);
        return 0;
    }
    cstr_arg a1 = {0}, a2 = {0};
    int need_a1 = kind == PYCTX_REQUEST_CALL || kind == PYCTX_REQUEST_EVAL ||
                  kind == PYCTX_REQUEST_METHOD_CALL || kind == PYCTX_REQUEST_GETATTR;
    if ((need_a1 && !cstr_from_term(env, argv[2], &a1)) ||
        (kind == PYCTX_REQUEST_CALL && !cstr_from_term(env, argv[3], &a2))) {
        cstr_release(&a1);
        *out_error = enif_make_badarg(env);
        return 0;
    }
    pyctx_request_t *preq = NULL;
    pyctx_error_t *err = pyctx_request_new(&preq);
    if (err == NULL) {
        switch (kind) {
        case PYCTX_REQUEST_CALL:
            err = pyctx_request_set_context(preq, ctx->ctx);
            if (err == NULL) err = pyctx_request_set_call(preq, a1.ptr, a2.ptr);
            break;
        case PYCTX_REQUEST_EVAL:
            err = pyctx_request_set_context(preq, ctx->ctx);
            if (err == NULL) err = pyctx_request_set_eval(preq, a1.ptr);
            if (err == NULL && penv != NULL) err = pyctx_request_set_env(preq, penv->env);
            break;
        case PYCTX_REQUEST_OBJECT_CALL:
            err = pyctx_request_set_object_call(preq, obj->obj);
            break;
        case PYCTX_REQUEST_METHOD_CALL:
            err = pyctx_request_set_method_call(preq, obj->obj, a1.ptr);
            break;
        case PYCTX_REQUEST_GETATTR:
            err = pyctx_request_set_getattr(preq, obj->obj, a1.ptr);
            break;
        default:
            err = pyctx_request_set_release(preq, obj->obj);
        }
    }
    cstr_release(&a1);
    cstr_release(&a2);
    encode_status st = ENCODE_OK;
    term_encoder e;
    e.error[0] = '\0';
    if (err == NULL && !enif_is_empty_list(env, argv[4])) {
        pyctx_cbor_writer_t *w = thread_writer();
        encoder_init(&e, env, w, budget);
        e.request = preq;
        st = w == NULL ? ENCODE_ERROR : encode_term(&e, argv[4]);
        if (st == ENCODE_OK) {
            size_t len;
            const uint8_t *data = pyctx_cbor_writer_data(w, &len);
            err = pyctx_request_set_args(preq, data, len);
        }
        budget = e.budget;
    }
    if (err == NULL && st == ENCODE_OK && !is_empty_keywords(env, argv[5])) {
        pyctx_cbor_writer_t *w = thread_writer();
        encoder_init(&e, env, w, budget);
        e.request = preq;
        st = w == NULL ? ENCODE_ERROR : encode_keyword_map(&e, argv[5]);
        if (st == ENCODE_OK) {
            size_t len;
            const uint8_t *data = pyctx_cbor_writer_data(w, &len);
            err = pyctx_request_set_kwargs(preq, data, len);
        }
    }
    if (err != NULL || st != ENCODE_OK) {
        pyctx_request_free(preq);
        if (err != NULL) *out_error = error_tuple_consume(env, err);
        else if (st == ENCODE_OVER_BUDGET) *over_budget = 1, *out_error = ATOM_undefined;
        else if (e.error[0] == '\0') *out_error = error_message_tuple(env, ATOM_no_memory, "out of memory");
        else *out_error = encode_error(env, &e);
        return 0;
    }
    *out_preq = preq;
    *out_ctx = ctx;
    *out_env = penv;
    return 1;
}

static ERL_NIF_TERM request_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                                 int *over_budget) {
    pyctx_result_form form;
    unsigned timeout_ms;
    owner_res *owner;
    pyctx_request_kind kind;
    if (!get_kind(argv[0], &kind) || !get_form(argv[6], &form) ||
        !enif_get_uint(env, argv[7], &timeout_ms) || !get_owner(env, argv[8], &owner))
        return enif_make_badarg(env);
    pyctx_request_t *preq;
    ctx_res *ctx;
    env_res *penv;
    ERL_NIF_TERM error;
    if (!setup_request(env, argv, budget, &preq, &ctx, &penv, &error, over_budget)) return error;
    pyctx_error_t *err = pyctx_request_set_timeout(preq, timeout_ms);
    if (err == NULL && form != PYCTX_RESULT_VALUE) err = pyctx_request_set_result_form(preq, form);
    if (err != NULL) {
        pyctx_request_free(preq);
        return error_tuple_consume(env, err);
    }
    int rkind = kind == PYCTX_REQUEST_RELEASE      ? REQ_KIND_RELEASE
                : form == PYCTX_RESULT_OBJECT     ? REQ_KIND_OBJECT
                : form == PYCTX_RESULT_BUFFER     ? REQ_KIND_BUFFER
                                                  : REQ_KIND_VALUE;
    req_res *req = request_new(ctx, penv, owner, rkind);
    req->preq = preq;
    err = pyctx_request_set_callback(preq, on_request_done, req, NULL);
    if (err == NULL) {
        owner_link(owner, req);
        err = pyctx_request_submit(preq);
        /* the request object stays ours until the destructor: safe to read */
        if (err == NULL) req->id = pyctx_request_id(preq);
    } else {
        owner_link(owner, req);
    }
    return request_submitted(env, req, err);
}

static ERL_NIF_TERM request_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return request_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_request(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = request_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    return over ? go_dirty(env, "request", request_dirty, argc, argv) : ret;
}

int encode_call(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget, encoded_call *out) {
    if (!enif_is_list(env, argv[3]) || !cstr_from_term(env, argv[1], &out->module)) return 0;
    if (!cstr_from_term(env, argv[2], &out->function)) {
        cstr_release(&out->module);
        return 0;
    }
    pyctx_cbor_writer_t *w = thread_writer();
    term_encoder e;
    encoder_init(&e, env, w, budget);
    encode_status st = w == NULL ? ENCODE_ERROR : encode_term(&e, argv[3]);
    size_t args_len = 0, total_len = 0;
    if (st == ENCODE_OK) pyctx_cbor_writer_data(w, &args_len);
    const int has_kwargs = !is_empty_keywords(env, argv[4]);
    if (st == ENCODE_OK && has_kwargs) st = encode_keyword_map(&e, argv[4]);
    out->status = st;
    out->error = 0;
    if (st == ENCODE_ERROR)
        out->error = w == NULL ? error_message_tuple(env, ATOM_no_memory, "out of memory")
                               : encode_error(env, &e);
    if (st == ENCODE_OK) {
        const uint8_t *data = pyctx_cbor_writer_data(w, &total_len);
        out->args = data;
        out->args_len = args_len;
        out->kwargs = has_kwargs ? data + args_len : NULL;
        out->kwargs_len = total_len - args_len;
    }
    return 1;
}

void encoded_call_release(encoded_call *c) {
    cstr_release(&c->module);
    cstr_release(&c->function);
}

static ERL_NIF_TERM call_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                              int *over_budget) {
    ctx_res *ctx;
    owner_res *owner;
    unsigned timeout_ms;
    encoded_call c;
    if (!enif_get_resource(env, argv[0], CTX_TYPE, (void **)&ctx) ||
        !enif_get_uint(env, argv[5], &timeout_ms) || !get_owner(env, argv[6], &owner) ||
        !encode_call(env, argv, budget, &c))
        return enif_make_badarg(env);
    ERL_NIF_TERM ret;
    if (c.status == ENCODE_NEEDS_REQUEST) {
        /* a lent buffer in the arguments: it needs a request object */
        ERL_NIF_TERM rargv[9] = {ATOM_call, argv[0], argv[1], argv[2], argv[3],
                                 argv[4], ATOM_value, argv[5], argv[6]};
        ret = request_impl(env, rargv, budget, over_budget);
        if (*over_budget) ret = go_dirty(env, "request", request_dirty, 9, rargv);
        *over_budget = 0;
    } else if (c.status == ENCODE_OVER_BUDGET) {
        *over_budget = 1;
        ret = ATOM_undefined;
    } else if (c.status != ENCODE_OK) {
        ret = c.error;
    } else {
        req_res *req = request_new(ctx, NULL, owner, REQ_KIND_VALUE);
        owner_link(owner, req);
        pyctx_error_t *err =
            pyctx_call_async(ctx->ctx, c.module.ptr, c.function.ptr, c.args, c.args_len, c.kwargs,
                             c.kwargs_len, timeout_ms, on_complete, req, &req->id);
        ret = request_submitted(env, req, err);
    }
    encoded_call_release(&c);
    return ret;
}

static ERL_NIF_TERM call_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return call_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_call(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = call_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    return over ? go_dirty(env, "call", call_dirty, argc, argv) : ret;
}

static ERL_NIF_TERM eval_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                              int *over_budget) {
    ctx_res *ctx;
    env_res *penv;
    owner_res *owner;
    unsigned timeout_ms;
    if (!get_target(env, argv[0], &ctx, &penv) || !enif_get_uint(env, argv[3], &timeout_ms) ||
        !get_owner(env, argv[4], &owner))
        return enif_make_badarg(env);
    cstr_arg expr;
    if (!cstr_from_term(env, argv[1], &expr)) return enif_make_badarg(env);
    ERL_NIF_TERM ret;
    const uint8_t *locals = NULL;
    size_t locals_len = 0;
    encode_status st = ENCODE_OK;
    term_encoder e;
    if (!is_empty_keywords(env, argv[2])) {
        pyctx_cbor_writer_t *w = thread_writer();
        encoder_init(&e, env, w, budget);
        if (w == NULL) {
            cstr_release(&expr);
            return error_message_tuple(env, ATOM_no_memory, "out of memory");
        }
        st = encode_keyword_map(&e, argv[2]);
        locals = pyctx_cbor_writer_data(w, &locals_len);
    }
    if (st == ENCODE_NEEDS_REQUEST) {
        ERL_NIF_TERM rargv[9] = {ATOM_eval, argv[0], argv[1], ATOM_undefined,
                                 enif_make_list(env, 0), argv[2], ATOM_value, argv[3], argv[4]};
        ret = request_impl(env, rargv, budget, over_budget);
        if (*over_budget) ret = go_dirty(env, "request", request_dirty, 9, rargv);
        *over_budget = 0;
    } else if (st == ENCODE_OVER_BUDGET) {
        *over_budget = 1;
        ret = ATOM_undefined;
    } else if (st != ENCODE_OK) {
        ret = encode_error(env, &e);
    } else {
        req_res *req = request_new(ctx, penv, owner, REQ_KIND_VALUE);
        owner_link(owner, req);
        pyctx_error_t *err =
            pyctx_eval_async(ctx->ctx, expr.ptr, penv != NULL ? penv->env : NULL, locals,
                             locals_len, timeout_ms, on_complete, req, &req->id);
        ret = request_submitted(env, req, err);
    }
    cstr_release(&expr);
    return ret;
}

static ERL_NIF_TERM eval_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return eval_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_eval(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = eval_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    return over ? go_dirty(env, "eval", eval_dirty, argc, argv) : ret;
}

ERL_NIF_TERM nif_exec(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ctx_res *ctx;
    env_res *penv;
    owner_res *owner;
    unsigned timeout_ms;
    if (!get_target(env, argv[0], &ctx, &penv) || !enif_get_uint(env, argv[2], &timeout_ms) ||
        !get_owner(env, argv[3], &owner))
        return enif_make_badarg(env);
    cstr_arg code;
    if (!cstr_from_term(env, argv[1], &code)) return enif_make_badarg(env);
    req_res *req = request_new(ctx, penv, owner, REQ_KIND_EXEC);
    owner_link(owner, req);
    pyctx_error_t *err = pyctx_exec_async(ctx->ctx, code.ptr, penv != NULL ? penv->env : NULL,
                                          timeout_ms, on_complete, req, &req->id);
    cstr_release(&code);
    return request_submitted(env, req, err);
}

/* ---- after submission -------------------------------------------------- */

static ERL_NIF_TERM state_atom(int state) {
    switch (state) {
    case REQ_PENDING: return ATOM_pending;
    case REQ_SENDING: return ATOM_sending;
    case REQ_SENT: return ATOM_sent;
    default: return ATOM_abandoned;
    }
}

ERL_NIF_TERM nif_abandon(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    req_res *req;
    if (!enif_get_resource(env, argv[0], REQ_TYPE, (void **)&req)) return enif_make_badarg(env);
    ErlNifPid self;
    if (enif_self(env, &self) == NULL || enif_compare_pids(&self, &req->owner->pid) != 0) {
        pyctx_error_free(request_lib_cancel(req));
        return ATOM_not_owner;
    }
    int expected = REQ_PENDING;
    if (atomic_compare_exchange_strong(&req->state, &expected, REQ_ABANDONED)) {
        /* Nobody will read the result: stop the work too. NOT_FOUND just
         * means it finished meanwhile; its reply is suppressed either way. */
        pyctx_error_free(request_lib_cancel(req));
        return ATOM_abandoned;
    }
    return state_atom(expected);
}

ERL_NIF_TERM nif_cancel(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    req_res *req;
    if (!enif_get_resource(env, argv[0], REQ_TYPE, (void **)&req)) return enif_make_badarg(env);
    pyctx_error_t *err = request_lib_cancel(req);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

ERL_NIF_TERM nif_request_state(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    req_res *req;
    if (!enif_get_resource(env, argv[0], REQ_TYPE, (void **)&req)) return enif_make_badarg(env);
    return state_atom(atomic_load(&req->state));
}

/* ---- codec diagnostics (dirty CPU: sizes are unbounded) ---------------- */

ERL_NIF_TERM nif_to_cbor(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    pyctx_cbor_writer_t *w = thread_writer();
    if (w == NULL) return error_message_tuple(env, ATOM_no_memory, "out of memory");
    term_encoder e;
    encoder_init(&e, env, w, -1);
    if (encode_term(&e, argv[0]) != ENCODE_OK) return encode_error(env, &e);
    size_t len;
    const uint8_t *data = pyctx_cbor_writer_data(w, &len);
    ERL_NIF_TERM bin;
    memcpy(enif_make_new_binary(env, len, &bin), data, len);
    return enif_make_tuple2(env, ATOM_ok, bin);
}

ERL_NIF_TERM nif_from_cbor(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, argv[0], &bin)) return enif_make_badarg(env);
    ERL_NIF_TERM term;
    char error[256];
    if (!decode_cbor(env, bin.data, bin.size, &term, error, sizeof error))
        return error_message_tuple(env, ATOM_decode, error);
    return enif_make_tuple2(env, ATOM_ok, term);
}
