#include "nif_talk.h"

#include <stdlib.h>
#include <string.h>

#include <pyctx.h>

#include "atoms.h"
#include "nif_common.h"
#include "term_decode.h"
#include "term_encode.h"

/* ---- pyctx.send router ---------------------------------------------------- */

/* Runs on the sending Python thread (not a scheduler): caller env NULL. */
static int route(void *user_data, const char *context_name, const uint8_t *target,
                 size_t target_len, const uint8_t *value, size_t value_len) {
    (void)user_data;
    (void)context_name;
    ErlNifEnv *env = thread_message_env();
    ERL_NIF_TERM to, msg;
    char error[256];
    ErlNifPid pid;
    int ok = decode_cbor(env, target, target_len, &to, error, sizeof error) &&
             decode_cbor(env, value, value_len, &msg, error, sizeof error);
    if (ok) {
        if (enif_is_atom(env, to))
            ok = enif_whereis_pid(NULL, to, &pid);
        else
            ok = enif_get_local_pid(env, to, &pid);
    }
    /* enif_send fails for a pid that is not alive. */
    if (ok) ok = enif_send(NULL, &pid, env, msg);
    enif_clear_env(env);
    return ok ? 0 : 1;
}

int talk_install_router(void) {
    pyctx_error_t *err = pyctx_send_set_router(route, NULL, NULL);
    pyctx_error_free(err);
    return err == NULL;
}

/* ---- shared store --------------------------------------------------------- */

/* Encodes `term` into the thread's writer; 0 with *out_error set on failure. */
static int encode_value(ErlNifEnv *env, ERL_NIF_TERM term, const uint8_t **data, size_t *len,
                        ERL_NIF_TERM *out_error) {
    pyctx_cbor_writer_t *w = thread_writer();
    if (w == NULL) {
        *out_error = error_message_tuple(env, ATOM_no_memory, "out of memory");
        return 0;
    }
    term_encoder e;
    encoder_init(&e, env, w, -1);
    if (encode_term(&e, term) != ENCODE_OK) {
        *out_error = error_message_tuple(env, ATOM_encode, e.error);
        return 0;
    }
    *data = pyctx_cbor_writer_data(w, len);
    return 1;
}

static ERL_NIF_TERM make_u64(ErlNifEnv *env, uint64_t v) { return enif_make_uint64(env, v); }

ERL_NIF_TERM nif_store_put(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    cstr_arg key;
    if (!cstr_from_term(env, argv[0], &key)) return enif_make_badarg(env);
    const uint8_t *data;
    size_t len;
    ERL_NIF_TERM fail;
    if (!encode_value(env, argv[1], &data, &len, &fail)) {
        cstr_release(&key);
        return fail;
    }
    uint64_t version = 0;
    pyctx_error_t *err = pyctx_store_put(key.ptr, data, len, &version);
    cstr_release(&key);
    if (err != NULL) return error_tuple_consume(env, err);
    return enif_make_tuple2(env, ATOM_ok, make_u64(env, version));
}

ERL_NIF_TERM nif_store_get(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    cstr_arg key;
    if (!cstr_from_term(env, argv[0], &key)) return enif_make_badarg(env);
    pyctx_bytes_t value = {NULL, 0};
    uint64_t version = 0;
    pyctx_error_t *err = pyctx_store_get(key.ptr, &value, &version);
    cstr_release(&key);
    if (err != NULL) {
        if (pyctx_error_status(err) == PYCTX_ERR_NOT_FOUND) {
            pyctx_error_free(err);
            return enif_make_tuple2(env, ATOM_error, ATOM_not_found);
        }
        return error_tuple_consume(env, err);
    }
    ERL_NIF_TERM term;
    char error[256];
    int ok = decode_cbor(env, value.data, value.len, &term, error, sizeof error);
    pyctx_bytes_free(&value);
    if (!ok) return error_message_tuple(env, ATOM_decode, error);
    return enif_make_tuple3(env, ATOM_ok, term, make_u64(env, version));
}

ERL_NIF_TERM nif_store_cas(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    cstr_arg key;
    ErlNifUInt64 expected;
    if (!enif_get_uint64(env, argv[1], &expected)) return enif_make_badarg(env);
    if (!cstr_from_term(env, argv[0], &key)) return enif_make_badarg(env);
    const uint8_t *data;
    size_t len;
    ERL_NIF_TERM fail;
    if (!encode_value(env, argv[2], &data, &len, &fail)) {
        cstr_release(&key);
        return fail;
    }
    int swapped = 0;
    uint64_t version = 0;
    pyctx_error_t *err = pyctx_store_cas(key.ptr, expected, data, len, &swapped, &version);
    cstr_release(&key);
    if (err != NULL) return error_tuple_consume(env, err);
    return enif_make_tuple2(env, swapped ? ATOM_ok : enif_make_atom(env, "conflict"),
                            make_u64(env, version));
}

ERL_NIF_TERM nif_store_delete(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    cstr_arg key;
    ErlNifUInt64 expected;
    if (!enif_get_uint64(env, argv[1], &expected)) return enif_make_badarg(env);
    if (!cstr_from_term(env, argv[0], &key)) return enif_make_badarg(env);
    int deleted = 0;
    pyctx_error_t *err = pyctx_store_delete(key.ptr, expected, &deleted);
    cstr_release(&key);
    if (err != NULL) return error_tuple_consume(env, err);
    return deleted ? ATOM_true : ATOM_false;
}

ERL_NIF_TERM nif_store_keys(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    cstr_arg prefix;
    if (!cstr_from_term(env, argv[0], &prefix)) return enif_make_badarg(env);
    pyctx_bytes_t keys = {NULL, 0};
    pyctx_error_t *err = pyctx_store_keys(prefix.ptr, &keys);
    cstr_release(&prefix);
    if (err != NULL) return error_tuple_consume(env, err);
    ERL_NIF_TERM term;
    char error[256];
    int ok = decode_cbor(env, keys.data, keys.len, &term, error, sizeof error);
    pyctx_bytes_free(&keys);
    if (!ok) return error_message_tuple(env, ATOM_decode, error);
    return enif_make_tuple2(env, ATOM_ok, term);
}

/* ---- logging -------------------------------------------------------------- */

/* Runs on the library's log thread (not a scheduler). */
static void forward_record(void *user_data, const pyctx_log_record_t *r) {
    ErlNifPid *pid = user_data;
    ErlNifEnv *env = thread_message_env();
    ERL_NIF_TERM msg = enif_make_tuple7(
        env, enif_make_atom(env, "pyctx_log"), enif_make_int(env, r->level),
        make_binary_str(env, r->logger), make_binary_str(env, r->message),
        make_binary_str(env, r->exception), make_binary_str(env, r->context_name),
        enif_make_double(env, r->created));
    enif_send(NULL, pid, env, msg);
    enif_clear_env(env);
}

ERL_NIF_TERM nif_log_forward(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int min_level;
    unsigned long capacity;
    if (!enif_get_int(env, argv[1], &min_level) || !enif_get_ulong(env, argv[2], &capacity))
        return enif_make_badarg(env);
    if (enif_is_identical(argv[0], ATOM_none)) {
        pyctx_error_t *err = pyctx_log_set_handler(NULL, NULL, NULL, 0, 0);
        return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
    }
    ErlNifPid *pid = malloc(sizeof *pid);
    if (pid == NULL) return error_message_tuple(env, ATOM_no_memory, "out of memory");
    if (!enif_get_local_pid(env, argv[0], pid)) {
        free(pid);
        return enif_make_badarg(env);
    }
    pyctx_error_t *err = pyctx_log_set_handler(forward_record, pid, free, min_level, capacity);
    if (err != NULL) {
        free(pid); /* not installed: still ours */
        return error_tuple_consume(env, err);
    }
    return ATOM_ok;
}
