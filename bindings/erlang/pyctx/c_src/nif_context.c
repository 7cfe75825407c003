#include "nif_context.h"
#include "nif_limits.h"

#include <pthread.h>
#include <string.h>

#include "atoms.h"

ErlNifResourceType *CTX_TYPE;
ErlNifResourceType *ENV_TYPE;

/* How long closing a context for a dead owner may wait for Python. */
#define OWNER_CLOSE_TIMEOUT_MS 5000

static void ctx_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    ctx_res *res = obj;
    /* Closes without waiting; the context thread finishes on its own. */
    pyctx_context_free(res->ctx);
    res->ctx = NULL;
}

static void *close_for_dead_owner(void *arg) {
    ctx_res *res = arg;
    pyctx_error_free(pyctx_context_close(res->ctx, OWNER_CLOSE_TIMEOUT_MS));
    enif_release_resource(res);
    return NULL;
}

/* The owner process died. Closing waits for the context thread, which a
 * scheduler must not do, so a short-lived detached thread closes it. */
static void ctx_owner_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon) {
    (void)env;
    (void)pid;
    (void)mon;
    ctx_res *res = obj;
    atomic_store(&res->has_owner, 0);
    enif_keep_resource(res);
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, close_for_dead_owner, res) != 0) {
        /* No thread to spare: close with a token wait (a scheduler must not
         * block) rather than not at all; the thread then ends on its own. */
        pyctx_error_free(pyctx_context_close(res->ctx, 1));
        enif_release_resource(res);
    }
    pthread_attr_destroy(&attr);
}

static void env_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    env_res *res = obj;
    pyctx_env_free(res->env);
    if (res->ctx != NULL) enif_release_resource(res->ctx);
}

int context_resources_open(ErlNifEnv *env) {
    ErlNifResourceTypeInit ctx_init = {0};
    ctx_init.dtor = ctx_destructor;
    ctx_init.down = ctx_owner_down;
    ctx_init.members = 3;
    CTX_TYPE = enif_open_resource_type_x(env, "pyctx_context", &ctx_init, ERL_NIF_RT_CREATE, NULL);
    ENV_TYPE = enif_open_resource_type(env, NULL, "pyctx_env", env_destructor, ERL_NIF_RT_CREATE,
                                       NULL);
    return CTX_TYPE != NULL && ENV_TYPE != NULL;
}

int get_target(ErlNifEnv *env, ERL_NIF_TERM term, ctx_res **out_ctx, env_res **out_env) {
    void *obj;
    if (enif_get_resource(env, term, CTX_TYPE, &obj)) {
        *out_ctx = obj;
        *out_env = NULL;
        return 1;
    }
    if (enif_get_resource(env, term, ENV_TYPE, &obj)) {
        *out_env = obj;
        *out_ctx = ((env_res *)obj)->ctx;
        return 1;
    }
    return 0;
}

/* Applies the optional text option `term` (undefined: leave the default). */
static pyctx_error_t *set_text_option(ErlNifEnv *env, ERL_NIF_TERM term,
                                      pyctx_context_options_t *options,
                                      pyctx_error_t *(*setter)(pyctx_context_options_t *,
                                                               const char *),
                                      int *badarg) {
    if (enif_is_identical(term, ATOM_undefined)) return NULL;
    cstr_arg s;
    if (!cstr_from_term(env, term, &s)) {
        *badarg = 1;
        return NULL;
    }
    pyctx_error_t *err = setter(options, s.ptr);
    cstr_release(&s);
    return err;
}

/* {MaxRestarts, WindowMs, Helper, Output}: the restart policy, the helper
 * executable and where the child's output goes (`stderr` or `log`) of
 * process contexts (ignored by other modes). Helper is `undefined` for the
 * library's default. */
static pyctx_error_t *apply_process_options(ErlNifEnv *env, ERL_NIF_TERM term,
                                            pyctx_context_options_t *options, int *badarg) {
    int arity;
    const ERL_NIF_TERM *items;
    unsigned max_restarts, window_ms;
    if (!enif_get_tuple(env, term, &arity, &items) || arity != 4 ||
        !enif_get_uint(env, items[0], &max_restarts) || !enif_get_uint(env, items[1], &window_ms) ||
        !(enif_is_identical(items[3], ATOM_stderr) || enif_is_identical(items[3], ATOM_log))) {
        *badarg = 1;
        return NULL;
    }
    pyctx_error_t *err = NULL;
    if (max_restarts > 0 || window_ms > 0)
        err = pyctx_context_options_set_restart(options, max_restarts, window_ms);
    if (err == NULL)
        err = set_text_option(env, items[2], options, pyctx_context_options_set_process_helper,
                              badarg);
    if (err == NULL && !*badarg && enif_is_identical(items[3], ATOM_log))
        err = pyctx_context_options_set_process_output(options, PYCTX_PROCESS_OUTPUT_LOG);
    return err;
}

int context_options_from_terms(ErlNifEnv *env, const ERL_NIF_TERM argv[],
                               pyctx_context_options_t **out_options, ERL_NIF_TERM *out_error) {
    ErlNifUInt64 capacity;
    if (!enif_get_uint64(env, argv[3], &capacity)) {
        *out_error = enif_make_badarg(env);
        return 0;
    }
    pyctx_context_options_t *options = pyctx_context_options_new();
    if (options == NULL) {
        *out_error = error_message_tuple(env, ATOM_no_memory, "out of memory");
        return 0;
    }
    int badarg = 0;
    pyctx_error_t *err =
        set_text_option(env, argv[0], options, pyctx_context_options_set_mode_name, &badarg);
    if (err == NULL && !badarg)
        err = set_text_option(env, argv[1], options, pyctx_context_options_set_name, &badarg);
    if (err == NULL && !badarg)
        err = set_text_option(env, argv[2], options, pyctx_context_options_set_preload, &badarg);
    if (err == NULL && !badarg)
        err = pyctx_context_options_set_queue_capacity(options, (size_t)capacity);
    if (err == NULL && !badarg)
        err = apply_context_limits(env, argv[5], argv[6], argv[7], options, &badarg);
    if (err == NULL && !badarg) err = apply_process_options(env, argv[8], options, &badarg);
    if (err == NULL && !badarg) {
        *out_options = options;
        return 1;
    }
    pyctx_context_options_free(options);
    if (badarg == 2) *out_error = error_message_tuple(env, ATOM_no_memory, "out of memory");
    else if (badarg) *out_error = enif_make_badarg(env);
    else *out_error = error_tuple_consume(env, err);
    return 0;
}

ERL_NIF_TERM nif_context_start(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ErlNifPid owner;
    int has_owner = !enif_is_identical(argv[4], ATOM_undefined);
    if (has_owner && !enif_get_local_pid(env, argv[4], &owner)) return enif_make_badarg(env);
    pyctx_context_options_t *options = NULL;
    ERL_NIF_TERM error;
    if (!context_options_from_terms(env, argv, &options, &error)) return error;
    pyctx_context_t *ctx = NULL;
    pyctx_error_t *err = pyctx_context_create(options, &ctx);
    pyctx_context_options_free(options);
    if (err != NULL) return error_tuple_consume(env, err);

    ctx_res *res = enif_alloc_resource(CTX_TYPE, sizeof(ctx_res));
    memset(res, 0, sizeof *res);
    res->ctx = ctx;
    if (has_owner) {
        atomic_store(&res->has_owner, 1);
        int rc = enif_monitor_process(env, res, &owner, &res->owner_monitor);
        if (rc != 0) {
            /* the owner is already gone (rc > 0) or monitoring failed */
            atomic_store(&res->has_owner, 0);
            enif_release_resource(res);
            return enif_make_tuple2(env, ATOM_error, rc > 0 ? ATOM_not_running : ATOM_internal);
        }
    }
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return enif_make_tuple2(env, ATOM_ok, term);
}

ERL_NIF_TERM make_context_term(ErlNifEnv *env, pyctx_context_t *ctx) {
    ctx_res *res = enif_alloc_resource(CTX_TYPE, sizeof(ctx_res));
    memset(res, 0, sizeof *res);
    res->ctx = ctx;
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return term;
}

ERL_NIF_TERM nif_context_stop(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ctx_res *res;
    unsigned timeout_ms;
    if (!enif_get_resource(env, argv[0], CTX_TYPE, (void **)&res) ||
        !enif_get_uint(env, argv[1], &timeout_ms))
        return enif_make_badarg(env);
    if (atomic_exchange(&res->has_owner, 0))
        enif_demonitor_process(env, res, &res->owner_monitor);
    pyctx_error_t *err = pyctx_context_close(res->ctx, timeout_ms);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

static ERL_NIF_TERM mode_atom(pyctx_mode mode) {
    switch (mode) {
    case PYCTX_MODE_OWNGIL: return ATOM_owngil;
    case PYCTX_MODE_PROCESS: return ATOM_process;
    default: return ATOM_worker;
    }
}

ERL_NIF_TERM nif_context_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ctx_res *res;
    if (!enif_get_resource(env, argv[0], CTX_TYPE, (void **)&res)) return enif_make_badarg(env);
    pyctx_context_stats_t stats;
    memset(&stats, 0, sizeof stats);
    pyctx_error_t *err = pyctx_context_stats(res->ctx, &stats, sizeof stats);
    if (err != NULL) return error_tuple_consume(env, err);
    uint64_t child_pid = 0;
    uint32_t restarts = 0;
    pyctx_error_free(pyctx_context_process_info(res->ctx, &child_pid, &restarts));
    ERL_NIF_TERM keys[] = {ATOM_name,      ATOM_mode,      ATOM_closed,   ATOM_completed,
                           ATOM_failed,    ATOM_cancelled, ATOM_timed_out, ATOM_queue_depth,
                           ATOM_thread_id, ATOM_closed_requests, ATOM_memory_used,
                           ATOM_memory_limit, ATOM_live_objects, ATOM_child_pid,
                           ATOM_restarts};
    ERL_NIF_TERM values[] = {
        make_binary_str(env, pyctx_context_name(res->ctx)),
        mode_atom(pyctx_context_mode(res->ctx)),
        pyctx_context_is_closed(res->ctx) ? ATOM_true : ATOM_false,
        enif_make_uint64(env, stats.completed),
        enif_make_uint64(env, stats.failed),
        enif_make_uint64(env, stats.cancelled),
        enif_make_uint64(env, stats.timed_out),
        enif_make_uint64(env, stats.queue_depth),
        enif_make_uint64(env, stats.thread_id),
        enif_make_uint64(env, stats.closed),
        enif_make_uint64(env, stats.memory_used),
        enif_make_uint64(env, stats.memory_limit),
        enif_make_uint64(env, stats.live_objects),
        enif_make_uint64(env, child_pid),
        enif_make_uint(env, restarts),
    };
    ERL_NIF_TERM map;
    enif_make_map_from_arrays(env, keys, values, sizeof keys / sizeof keys[0], &map);
    return map;
}

ERL_NIF_TERM nif_env_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ctx_res *ctx;
    if (!enif_get_resource(env, argv[0], CTX_TYPE, (void **)&ctx)) return enif_make_badarg(env);
    pyctx_env_t *penv = NULL;
    pyctx_error_t *err = pyctx_env_create(ctx->ctx, &penv);
    if (err != NULL) return error_tuple_consume(env, err);
    env_res *res = enif_alloc_resource(ENV_TYPE, sizeof(env_res));
    res->env = penv;
    res->ctx = ctx;
    enif_keep_resource(ctx);
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return enif_make_tuple2(env, ATOM_ok, term);
}
