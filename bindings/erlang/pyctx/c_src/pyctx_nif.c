/* The pyctx NIF library: function table, load callback and runtime NIFs.
 * Requests live in nif_request.c, contexts in nif_context.c, host functions
 * in nif_host.c, the term <-> CBOR mapping in term_encode.c/term_decode.c. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include <erl_nif.h>
#include <pyctx.h>

#include "atoms.h"
#include "nif_channel.h"
#include "nif_common.h"
#include "nif_context.h"
#include "nif_host.h"
#include "nif_object.h"
#include "nif_pool.h"
#include "nif_process.h"
#include "nif_request.h"
#include "nif_stream.h"
#include "nif_talk.h"

/* runtime_init(Paths) -> ok | {error, Reason}. Dirty IO: starting Python
 * takes tens of milliseconds. Succeeds when the runtime is (already)
 * running; Python cannot be started again after a shutdown. */
static ERL_NIF_TERM nif_runtime_init(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    if (!enif_is_list(env, argv[0])) return enif_make_badarg(env);
    pyctx_runtime_options_t *options = pyctx_runtime_options_new();
    if (options == NULL) return error_message_tuple(env, ATOM_no_memory, "out of memory");
    pyctx_error_t *err = NULL;
    ERL_NIF_TERM list = argv[0], head;
    while (err == NULL && enif_get_list_cell(env, list, &head, &list)) {
        cstr_arg path;
        if (!cstr_from_term(env, head, &path)) {
            pyctx_runtime_options_free(options);
            return enif_make_badarg(env);
        }
        err = pyctx_runtime_options_add_path(options, path.ptr);
        cstr_release(&path);
    }
    if (err == NULL) err = pyctx_init(options);
    pyctx_runtime_options_free(options);
    if (err != NULL && pyctx_error_status(err) == PYCTX_ERR_ALREADY_INITIALIZED &&
        pyctx_runtime_state() == PYCTX_STATE_RUNNING) {
        pyctx_error_free(err);
        err = NULL;
    }
    /* pyctx.send to pids and registered names (idempotent). */
    if (err == NULL && !talk_install_router())
        return error_message_tuple(env, ATOM_internal, "cannot install the pyctx.send router");
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

static ERL_NIF_TERM nif_runtime_state(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)env;
    (void)argc;
    (void)argv;
    switch (pyctx_runtime_state()) {
    case PYCTX_STATE_UNINIT: return ATOM_uninit;
    case PYCTX_STATE_INITING: return ATOM_initing;
    case PYCTX_STATE_RUNNING: return ATOM_running;
    case PYCTX_STATE_SHUTTING_DOWN: return ATOM_shutting_down;
    default: return ATOM_stopped;
    }
}

static ERL_NIF_TERM nif_versions(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    (void)argv;
    return enif_make_tuple3(env, make_binary_str(env, pyctx_version_string()),
                            make_binary_str(env, pyctx_python_version()),
                            pyctx_owngil_supported() ? ATOM_true : ATOM_false);
}

static ERL_NIF_TERM nif_cbor_diagnose(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, argv[0], &bin)) return enif_make_badarg(env);
    pyctx_bytes_t text = {0};
    pyctx_error_t *err = pyctx_cbor_diagnose(bin.data, bin.size, &text);
    if (err != NULL) return error_tuple_consume(env, err);
    ERL_NIF_TERM out;
    memcpy(enif_make_new_binary(env, text.len, &out), text.data, text.len);
    pyctx_bytes_free(&text);
    return enif_make_tuple2(env, ATOM_ok, out);
}

/* Library threads call back into this shared object for as long as the
 * runtime lives, even after the Erlang module is purged: pin it in memory. */
static int pin_shared_object(void) {
    Dl_info info;
    if (!dladdr((void *)&pin_shared_object, &info) || info.dli_fname == NULL) return 0;
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE) != NULL;
}

static int find_libpython(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name != NULL && strstr(info->dlpi_name, "/libpython") != NULL) {
        *(const char **)data = info->dlpi_name;
        return 1;
    }
    return 0;
}

/* The VM loads a NIF with RTLD_LOCAL, so libpython (a dependency of
 * libpyctx) is loaded locally too, and Python's C extension modules
 * (_socket, _ssl, numpy, ...) then fail to import with "undefined symbol".
 * Re-opening the already loaded libpython with RTLD_GLOBAL makes its
 * symbols visible to them. */
static void make_libpython_global(void) {
    const char *path = NULL;
    dl_iterate_phdr(find_libpython, &path);
    if (path != NULL) dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
}

static int load(ErlNifEnv *env, void **priv_data, ERL_NIF_TERM load_info) {
    (void)priv_data;
    (void)load_info;
    make_atoms(env);
    if (!pin_shared_object()) return 1;
    make_libpython_global();
    if (!context_resources_open(env) || !request_resources_open(env) ||
        !host_resources_open(env) || !object_resources_open(env) ||
        !stream_resources_open(env) || !pool_resources_open(env))
        return 2;
    if (!channel_resources_open(env)) return 3;
    return 0;
}

/* Upgrading in place would need every resource type taken over while
 * library threads run callbacks; a VM restart is the supported path. */
static int upgrade(ErlNifEnv *env, void **priv_data, void **old_priv_data,
                   ERL_NIF_TERM load_info) {
    (void)env;
    (void)priv_data;
    (void)old_priv_data;
    (void)load_info;
    return 1;
}

static ErlNifFunc nif_funcs[] = {
    {"runtime_init", 1, nif_runtime_init, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"runtime_state", 0, nif_runtime_state, 0},
    {"versions", 0, nif_versions, 0},
    {"context_start", 9, nif_context_start, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"context_stop", 2, nif_context_stop, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"context_info", 1, nif_context_info, 0},
    {"env_new", 1, nif_env_new, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"owner_new", 0, nif_owner_new, 0},
    {"call", 7, nif_call, 0},
    {"eval", 5, nif_eval, 0},
    {"exec", 4, nif_exec, 0},
    {"request", 9, nif_request, 0},
    {"object_info", 1, nif_object_info, 0},
    {"lend", 3, nif_lend, 0},
    {"buffer_stats", 1, nif_buffer_stats, 0},
    {"stream_open", 7, nif_stream_open, 0},
    {"stream_demand", 2, nif_stream_demand, 0},
    {"stream_cancel", 1, nif_stream_cancel, 0},
    {"stream_pull", 1, nif_stream_pull, 0},
    {"abandon", 1, nif_abandon, 0},
    {"cancel", 1, nif_cancel, 0},
    {"request_state", 1, nif_request_state, 0},
    {"host_register", 2, nif_host_register, 0},
    {"host_unregister", 1, nif_host_unregister, 0},
    {"host_reply", 2, nif_host_reply, 0},
    {"to_cbor", 1, nif_to_cbor, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"from_cbor", 1, nif_from_cbor, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"cbor_diagnose", 1, nif_cbor_diagnose, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    /* Values of any size are encoded or decoded: dirty, like to_cbor. */
    {"store_put", 2, nif_store_put, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"store_get", 1, nif_store_get, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"store_cas", 3, nif_store_cas, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"store_delete", 2, nif_store_delete, 0},
    {"store_keys", 1, nif_store_keys, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"log_forward", 3, nif_log_forward, 0},
    {"keep_child_exit_status", 0, nif_keep_child_exit_status, 0},
    /* Channels (c_src/nif_channel.c): the waits are dirty I/O, one bounded
     * slice per call; the rest never waits. */
    {"channel_new", 2, nif_channel_new, 0},
    {"channel_id", 1, nif_channel_id, 0},
    {"channel_bytes", 1, nif_channel_bytes, 0},
    {"channel_try_send", 2, nif_channel_try_send, 0},
    {"channel_send_wait", 3, nif_channel_send_wait, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"channel_try_recv", 1, nif_channel_try_recv, 0},
    {"channel_recv_wait", 2, nif_channel_recv_wait, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"channel_close", 1, nif_channel_close, 0},
    {"channel_stats", 1, nif_channel_stats, 0},
    {"channel_active", 2, nif_channel_active, 0},
    /* Pools (nif_pool.c): creating, closing and resizing wait for member
     * threads, so they run on dirty I/O schedulers. */
    {"pool_start", 2, nif_pool_start, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"pool_close", 2, nif_pool_close, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"pool_resize", 3, nif_pool_resize, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"pool_info", 1, nif_pool_info, 0},
    {"pool_members", 1, nif_pool_members, 0},
    {"pool_load", 1, nif_pool_load, 0},
    {"pool_member", 2, nif_pool_member, 0},
    {"pool_env_new", 1, nif_pool_env_new, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"pool_call", 7, nif_pool_call, 0},
    {"pool_request", 11, nif_pool_request, 0},
};

ERL_NIF_INIT(pyctx_nif, nif_funcs, load, NULL, upgrade, NULL)
