#include "nif_object.h"

#include <string.h>

#include "atoms.h"
#include "nif_common.h"

ErlNifResourceType *OBJ_TYPE;
ErlNifResourceType *LEND_TYPE;
ErlNifResourceType *VIEW_TYPE;

/* Any thread, never waits: the Python reference is dropped on the context
 * thread later (nothing to do when it was released explicitly). */
static void obj_destructor(ErlNifEnv *env, void *p) {
    (void)env;
    obj_res *res = p;
    pyctx_object_free(res->obj);
    if (res->ctx != NULL) enif_release_resource(res->ctx);
}

/* The handle goes; the loan itself ends when the last request and Python
 * view of it are gone too (the finalizer, lend_finalize). */
static void lend_destructor(ErlNifEnv *env, void *p) {
    (void)env;
    pyctx_buffer_free(((lend_res *)p)->buf);
}

/* The view is released on its context's thread; never waits. */
static void view_destructor(ErlNifEnv *env, void *p) {
    (void)env;
    pyctx_buffer_free(((view_res *)p)->buf);
}

int object_resources_open(ErlNifEnv *env) {
    OBJ_TYPE = enif_open_resource_type(env, NULL, "pyctx_object", obj_destructor,
                                       ERL_NIF_RT_CREATE, NULL);
    LEND_TYPE = enif_open_resource_type(env, NULL, "pyctx_lent_buffer", lend_destructor,
                                        ERL_NIF_RT_CREATE, NULL);
    VIEW_TYPE = enif_open_resource_type(env, NULL, "pyctx_buffer_view", view_destructor,
                                        ERL_NIF_RT_CREATE, NULL);
    return OBJ_TYPE != NULL && LEND_TYPE != NULL && VIEW_TYPE != NULL;
}

ERL_NIF_TERM nif_object_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    obj_res *res;
    if (!enif_get_resource(env, argv[0], OBJ_TYPE, (void **)&res)) return enif_make_badarg(env);
    ERL_NIF_TERM keys[] = {ATOM_id, ATOM_alive, ATOM_context};
    ERL_NIF_TERM values[] = {
        enif_make_uint64(env, pyctx_object_id(res->obj)),
        pyctx_object_is_alive(res->obj) ? ATOM_true : ATOM_false,
        make_binary_str(env, pyctx_object_context_name(res->obj)),
    };
    ERL_NIF_TERM map;
    enif_make_map_from_arrays(env, keys, values, 3, &map);
    return map;
}

/* The loan ended: let go of the binary. Any thread (a context thread
 * with its GIL released, when Python dropped the last view). */
static void lend_finalize(void *user_data) {
    enif_free_env((ErlNifEnv *)user_data);
}

ERL_NIF_TERM nif_lend(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ErlNifBinary bin;
    /* Inspecting first also freezes a binary still being appended to, so
     * the copy below sees bytes that never move. */
    if (!enif_inspect_binary(env, argv[0], &bin) || !enif_is_list(env, argv[2]))
        return enif_make_badarg(env);
    cstr_arg format = {0};
    int has_format = !enif_is_identical(argv[1], ATOM_undefined);
    if (has_format && !cstr_from_term(env, argv[1], &format)) return enif_make_badarg(env);
    unsigned ndim = 0;
    int64_t shape[64];
    enif_get_list_length(env, argv[2], &ndim);
    if (ndim > 64) {
        cstr_release(&format);
        return enif_make_badarg(env);
    }
    ERL_NIF_TERM list = argv[2], head;
    for (unsigned k = 0; enif_get_list_cell(env, list, &head, &list); k++) {
        ErlNifSInt64 v;
        if (!enif_get_int64(env, head, &v)) {
            cstr_release(&format);
            return enif_make_badarg(env);
        }
        shape[k] = v;
    }
    /* A refc binary is shared, not copied, by enif_make_copy: the bytes
     * Python sees are the caller's own. (Binaries of 64 bytes or less live
     * on the heap and are copied: too small to matter.) */
    ErlNifEnv *keep = enif_alloc_env();
    ERL_NIF_TERM copy = enif_make_copy(keep, argv[0]);
    ErlNifBinary kept;
    enif_inspect_binary(keep, copy, &kept);
    pyctx_buffer_t *buf = NULL;
    pyctx_error_t *err = pyctx_buffer_lend(kept.size > 0 ? kept.data : NULL, kept.size, 0,
                                           lend_finalize, keep, &buf);
    if (err != NULL) {
        enif_free_env(keep); /* not lent: the finalizer will not run */
        cstr_release(&format);
        return error_tuple_consume(env, err);
    }
    if (has_format) err = pyctx_buffer_set_format(buf, format.ptr);
    cstr_release(&format);
    if (err == NULL && ndim > 0) err = pyctx_buffer_set_shape(buf, (int)ndim, shape, NULL);
    if (err != NULL) {
        pyctx_buffer_free(buf); /* ends the loan: frees `keep` */
        return error_tuple_consume(env, err);
    }
    lend_res *res = enif_alloc_resource(LEND_TYPE, sizeof(lend_res));
    res->buf = buf;
    ERL_NIF_TERM term = enif_make_resource(env, res);
    enif_release_resource(res);
    return enif_make_tuple2(env, ATOM_ok, term);
}

ERL_NIF_TERM nif_buffer_stats(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ctx_res *ctx;
    if (!enif_get_resource(env, argv[0], CTX_TYPE, (void **)&ctx)) return enif_make_badarg(env);
    pyctx_buffer_stats_t stats;
    memset(&stats, 0, sizeof stats);
    pyctx_error_t *err = pyctx_context_buffer_stats(ctx->ctx, &stats, sizeof stats);
    if (err != NULL) return error_tuple_consume(env, err);
    ERL_NIF_TERM keys[] = {ATOM_lent_views, ATOM_lent_total, ATOM_held_views};
    ERL_NIF_TERM values[] = {enif_make_uint64(env, stats.lent_views),
                             enif_make_uint64(env, stats.lent_total),
                             enif_make_uint64(env, stats.held_views)};
    ERL_NIF_TERM map;
    enif_make_map_from_arrays(env, keys, values, 3, &map);
    return map;
}
