#include "nif_common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "ext_term.h"

ERL_NIF_TERM make_binary_str(ErlNifEnv *env, const char *s) {
    size_t len = strlen(s);
    ERL_NIF_TERM bin;
    memcpy(enif_make_new_binary(env, len, &bin), s, len);
    return bin;
}

static ERL_NIF_TERM status_atom(pyctx_status status) {
    switch (status) {
    case PYCTX_ERR_INVALID_ARGUMENT: return ATOM_invalid_argument;
    case PYCTX_ERR_NOT_RUNNING: return ATOM_not_running;
    case PYCTX_ERR_ALREADY_INITIALIZED: return ATOM_already_initialized;
    case PYCTX_ERR_UNSUPPORTED: return ATOM_unsupported;
    case PYCTX_ERR_CLOSED: return ATOM_closed;
    case PYCTX_ERR_QUEUE_FULL: return ATOM_queue_full;
    case PYCTX_ERR_CANCELLED: return ATOM_cancelled;
    case PYCTX_ERR_TIMEOUT: return ATOM_timeout;
    case PYCTX_ERR_PYTHON: return ATOM_python;
    case PYCTX_ERR_DECODE: return ATOM_decode;
    case PYCTX_ERR_ENCODE: return ATOM_encode;
    case PYCTX_ERR_NOT_FOUND: return ATOM_not_found;
    case PYCTX_ERR_NO_MEMORY: return ATOM_no_memory;
    case PYCTX_ERR_STUCK: return ATOM_stuck;
    case PYCTX_ERR_CRASHED: return ATOM_crashed;
    default: return ATOM_internal;
    }
}

ERL_NIF_TERM error_reason(ErlNifEnv *env, const pyctx_error_t *error) {
    pyctx_status status = pyctx_error_status(error);
    switch (status) {
    case PYCTX_ERR_TIMEOUT:
    case PYCTX_ERR_CANCELLED:
    case PYCTX_ERR_CLOSED:
    case PYCTX_ERR_NOT_RUNNING:
    case PYCTX_ERR_QUEUE_FULL:
        return status_atom(status);
    case PYCTX_ERR_PYTHON:
        return enif_make_tuple4(env, ATOM_python,
                                make_binary_str(env, pyctx_error_python_type(error)),
                                make_binary_str(env, pyctx_error_message(error)),
                                make_binary_str(env, pyctx_error_traceback(error)));
    default:
        return enif_make_tuple2(env, status_atom(status),
                                make_binary_str(env, pyctx_error_message(error)));
    }
}

ERL_NIF_TERM error_tuple_consume(ErlNifEnv *env, pyctx_error_t *error) {
    ERL_NIF_TERM reason = error_reason(env, error);
    pyctx_error_free(error);
    return enif_make_tuple2(env, ATOM_error, reason);
}

ERL_NIF_TERM go_dirty(ErlNifEnv *env, const char *name, nif_fn fn, int argc,
                      const ERL_NIF_TERM argv[]) {
    return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fn, argc, argv);
}

ERL_NIF_TERM error_message_tuple(ErlNifEnv *env, ERL_NIF_TERM tag, const char *message) {
    return enif_make_tuple2(env, ATOM_error,
                            enif_make_tuple2(env, tag, make_binary_str(env, message)));
}

static int cstr_copy(cstr_arg *out, const unsigned char *data, size_t len) {
    if (memchr(data, 0, len) != NULL) return 0;
    out->ptr = len < sizeof out->stack ? out->stack : malloc(len + 1);
    if (out->ptr == NULL) return 0;
    memcpy(out->ptr, data, len);
    out->ptr[len] = '\0';
    return 1;
}

int cstr_from_term(ErlNifEnv *env, ERL_NIF_TERM term, cstr_arg *out) {
    out->ptr = NULL;
    if (enif_is_atom(env, term)) {
        char name[ATOM_NAME_UTF8_MAX];
        int len = ext_atom_utf8_name(env, term, name);
        return len >= 0 && cstr_copy(out, (const unsigned char *)name, (size_t)len);
    }
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, term, &bin) && !enif_inspect_iolist_as_binary(env, term, &bin))
        return 0;
    return cstr_copy(out, bin.data, bin.size);
}

void cstr_release(cstr_arg *s) {
    if (s->ptr != NULL && s->ptr != s->stack) free(s->ptr);
    s->ptr = NULL;
}

static __thread pyctx_cbor_writer_t *tls_writer;

pyctx_cbor_writer_t *thread_writer(void) {
    if (tls_writer == NULL) tls_writer = pyctx_cbor_writer_new();
    else pyctx_cbor_writer_reset(tls_writer);
    return tls_writer;
}

/* Library threads end when their context closes: the key's destructor frees
 * that thread's message env then. */
static pthread_key_t message_env_key;
static pthread_once_t message_env_once = PTHREAD_ONCE_INIT;

static void free_message_env(void *env) {
    enif_free_env((ErlNifEnv *)env);
}

static void make_message_env_key(void) {
    pthread_key_create(&message_env_key, free_message_env);
}

ErlNifEnv *thread_message_env(void) {
    pthread_once(&message_env_once, make_message_env_key);
    ErlNifEnv *env = pthread_getspecific(message_env_key);
    if (env == NULL) {
        env = enif_alloc_env();
        pthread_setspecific(message_env_key, env);
    }
    return env;
}
