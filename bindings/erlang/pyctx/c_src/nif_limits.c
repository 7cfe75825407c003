#include "nif_limits.h"

#include "atoms.h"
#include "nif_common.h"

static pyctx_error_t *build_sandbox(ErlNifEnv *env, unsigned flags, ERL_NIF_TERM paths,
                                    pyctx_sandbox_t *s, int *badarg) {
    pyctx_error_t *err = NULL;
    if (flags & PYCTX_ERL_SANDBOX_PROCESSES) err = pyctx_sandbox_block_process_creation(s);
    if (err == NULL && (flags & PYCTX_ERL_SANDBOX_SOCKETS)) err = pyctx_sandbox_block_sockets(s);
    if (err == NULL && (flags & PYCTX_ERL_SANDBOX_FILES)) err = pyctx_sandbox_restrict_files(s);
    ERL_NIF_TERM head, tail = paths;
    while (err == NULL && enif_get_list_cell(env, tail, &head, &tail)) {
        const ERL_NIF_TERM *pair;
        int arity;
        cstr_arg path;
        if (!enif_get_tuple(env, head, &arity, &pair) || arity != 2 ||
            !(enif_is_identical(pair[1], ATOM_true) || enif_is_identical(pair[1], ATOM_false)) ||
            !cstr_from_term(env, pair[0], &path)) {
            *badarg = 1;
            return NULL;
        }
        err = pyctx_sandbox_allow_path(s, path.ptr, enif_is_identical(pair[1], ATOM_true));
        cstr_release(&path);
    }
    if (err == NULL && !enif_is_empty_list(env, tail)) *badarg = 1;
    return err;
}

pyctx_error_t *apply_context_limits(ErlNifEnv *env, ERL_NIF_TERM flags_term, ERL_NIF_TERM paths,
                                    ERL_NIF_TERM memory_limit, pyctx_context_options_t *options,
                                    int *badarg) {
    unsigned flags;
    ErlNifUInt64 limit;
    if (!enif_get_uint(env, flags_term, &flags) || !enif_get_uint64(env, memory_limit, &limit)) {
        *badarg = 1;
        return NULL;
    }
    pyctx_error_t *err = pyctx_context_options_set_memory_limit(options, (size_t)limit);
    if (err != NULL || !(flags & PYCTX_ERL_SANDBOX_ON)) return err;
    pyctx_sandbox_t *s = pyctx_sandbox_new();
    if (s == NULL) {
        *badarg = 2; /* out of memory: never start the context unsandboxed */
        return NULL;
    }
    err = build_sandbox(env, flags, paths, s, badarg);
    if (err == NULL && !*badarg) err = pyctx_context_options_set_sandbox(options, s);
    pyctx_sandbox_free(s);
    return err;
}
