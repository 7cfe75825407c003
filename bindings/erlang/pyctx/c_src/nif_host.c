#include "nif_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atoms.h"
#include "nif_common.h"
#include "term_decode.h"
#include "term_encode.h"

ErlNifResourceType *HOST_CALL_TYPE;

/* What Python sees when the Erlang side drops a call without answering. */
#define NO_ANSWER_MESSAGE "the Erlang host function gave no answer"

/* Takes the pending call out of the resource; NULL once it was answered. */
static pyctx_host_call_t *take_call(host_call_res *res) {
    return atomic_exchange(&res->call, NULL);
}

static void host_call_destructor(ErlNifEnv *env, void *obj) {
    (void)env;
    pyctx_host_call_t *call = take_call(obj);
    if (call != NULL) pyctx_error_free(pyctx_host_call_fail(call, NO_ANSWER_MESSAGE));
}

int host_resources_open(ErlNifEnv *env) {
    HOST_CALL_TYPE = enif_open_resource_type(env, NULL, "pyctx_host_call", host_call_destructor,
                                             ERL_NIF_RT_CREATE, NULL);
    return HOST_CALL_TYPE != NULL;
}

/* Registration data: who dispatches this function's calls. */
typedef struct host_registration {
    ErlNifPid dispatcher;
} host_registration;

static void free_registration(void *user_data) {
    free(user_data);
}

/* Runs on a library thread for every call from Python. */
static void host_fn(void *user_data, pyctx_host_call_t *call) {
    host_registration *reg = user_data;
    size_t args_len = 0;
    const uint8_t *args = pyctx_host_call_args(call, &args_len);
    ErlNifEnv *env = thread_message_env();
    ERL_NIF_TERM args_term;
    char error[256];
    if (!decode_cbor(env, args, args_len, &args_term, error, sizeof error)) {
        enif_clear_env(env);
        pyctx_error_free(pyctx_host_call_fail(call, error));
        return;
    }
    host_call_res *res = enif_alloc_resource(HOST_CALL_TYPE, sizeof(host_call_res));
    atomic_init(&res->call, call);
    ERL_NIF_TERM msg = enif_make_tuple4(env, ATOM_pyctx_host_call, enif_make_resource(env, res),
                                        make_binary_str(env, pyctx_host_call_name(call)),
                                        args_term);
    int sent = enif_send(NULL, &reg->dispatcher, env, msg);
    if (!sent) {
        /* no dispatcher: answer now with a clearer reason than "no answer" */
        pyctx_host_call_t *pending = take_call(res);
        if (pending != NULL)
            pyctx_error_free(pyctx_host_call_fail(pending, "the Erlang host dispatcher is not running"));
    }
    enif_clear_env(env);
    enif_release_resource(res); /* the message (if any) holds the rest */
}

ERL_NIF_TERM nif_host_register(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    ErlNifPid dispatcher;
    cstr_arg name;
    if (!enif_get_local_pid(env, argv[1], &dispatcher)) return enif_make_badarg(env);
    if (!cstr_from_term(env, argv[0], &name)) return enif_make_badarg(env);
    host_registration *reg = malloc(sizeof *reg);
    if (reg == NULL) {
        cstr_release(&name);
        return error_message_tuple(env, ATOM_no_memory, "out of memory");
    }
    reg->dispatcher = dispatcher;
    pyctx_error_t *err = pyctx_host_register(name.ptr, host_fn, reg, free_registration);
    cstr_release(&name);
    if (err != NULL) {
        free(reg); /* not registered: the library does not own it */
        return error_tuple_consume(env, err);
    }
    return ATOM_ok;
}

ERL_NIF_TERM nif_host_unregister(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    cstr_arg name;
    if (!cstr_from_term(env, argv[0], &name)) return enif_make_badarg(env);
    pyctx_error_t *err = pyctx_host_unregister(name.ptr);
    cstr_release(&name);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

static ERL_NIF_TERM reply_impl(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                               int *over_budget) {
    host_call_res *res;
    int arity;
    const ERL_NIF_TERM *reply;
    if (!enif_get_resource(env, argv[0], HOST_CALL_TYPE, (void **)&res) ||
        !enif_get_tuple(env, argv[1], &arity, &reply) || arity != 2 ||
        (!enif_is_identical(reply[0], ATOM_ok) && !enif_is_identical(reply[0], ATOM_error)))
        return enif_make_badarg(env);

    if (enif_is_identical(reply[0], ATOM_error)) {
        cstr_arg message;
        if (!cstr_from_term(env, reply[1], &message)) return enif_make_badarg(env);
        pyctx_host_call_t *call = take_call(res);
        pyctx_error_t *err = NULL;
        if (call != NULL) err = pyctx_host_call_fail(call, message.ptr);
        cstr_release(&message);
        if (call == NULL) return enif_make_tuple2(env, ATOM_error, ATOM_already_answered);
        return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
    }

    /* Encode before taking the call, so a value over budget can be retried
     * on a dirty scheduler with the call still pending. */
    pyctx_cbor_writer_t *w = thread_writer();
    if (w == NULL) return error_message_tuple(env, ATOM_no_memory, "out of memory");
    term_encoder e;
    encoder_init(&e, env, w, budget);
    encode_status st = encode_term(&e, reply[1]);
    if (st == ENCODE_OVER_BUDGET) {
        *over_budget = 1;
        return ATOM_undefined;
    }
    pyctx_host_call_t *call = take_call(res);
    if (call == NULL) return enif_make_tuple2(env, ATOM_error, ATOM_already_answered);
    if (st != ENCODE_OK) {
        char message[320];
        snprintf(message, sizeof message, "cannot encode the Erlang result: %s", e.error);
        pyctx_error_free(pyctx_host_call_fail(call, message));
        return error_message_tuple(env, ATOM_encode, e.error);
    }
    size_t len;
    const uint8_t *data = pyctx_cbor_writer_data(w, &len);
    pyctx_error_t *err = pyctx_host_call_return(call, data, len);
    return err == NULL ? ATOM_ok : error_tuple_consume(env, err);
}

static ERL_NIF_TERM reply_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    (void)argc;
    int over = 0;
    return reply_impl(env, argv, -1, &over);
}

ERL_NIF_TERM nif_host_reply(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]) {
    int over = 0;
    ERL_NIF_TERM ret = reply_impl(env, argv, ENCODE_NORMAL_BUDGET, &over);
    return over ? go_dirty(env, "host_reply", reply_dirty, argc, argv) : ret;
}
