/* NIFs that submit requests and the completion callback that answers them.
 *
 * Every submit NIF only encodes the arguments and hands the request to the
 * library (pyctx_*_async); it never waits. It returns the request reference
 * (a resource term, is_reference/1 is true) or {error, Reason}. The library's
 * completion thread then sends the submitting process exactly one message
 *     {pyctx, Ref, {ok, Value} | ok | {error, Reason}}
 * unless the owner abandoned the request first (abandon/1), in which case no
 * message is ever sent. */
#ifndef PYCTX_ERL_NIF_REQUEST_H
#define PYCTX_ERL_NIF_REQUEST_H

#include <erl_nif.h>

#include "nif_common.h"
#include "term_encode.h"

/* owner_new() -> Owner: the calling process's owner handle (see
 * owner_res); the Erlang side keeps one per process. */
ERL_NIF_TERM nif_owner_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* call(Ctx, Module, Function, Args, Kwargs, TimeoutMs, Owner) */
ERL_NIF_TERM nif_call(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* eval(CtxOrEnv, Expression, Locals, TimeoutMs, Owner) */
ERL_NIF_TERM nif_eval(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* exec(CtxOrEnv, Code, TimeoutMs, Owner) */
ERL_NIF_TERM nif_exec(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* request(Kind, Target, A1, A2, Args, Kwargs, Form, TimeoutMs, Owner):
 * a request made with a request object. Kind: call (Target a context, A1
 * module, A2 function), eval (Target a context or env, A1 the expression,
 * Kwargs the locals), object_call, method_call (A1 the method), getattr
 * (A1 the name), release (Target an object). Form: value | object |
 * buffer. Replies as call/7 does, with {ok, Object} for the form object
 * and {ok, Binary} (a resource binary over Python's memory) for buffer. */
ERL_NIF_TERM nif_request(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* Builds the request object of argv[0..5] (Kind, Target, A1, A2, Args,
 * Kwargs) with its destination, kind and encoded arguments (lent buffers
 * attached). 0 on failure with the NIF's return value in *out_error
 * (badarg, {error, _}, or *over_budget set). */
int setup_request(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget,
                  pyctx_request_t **out_preq, ctx_res **out_ctx, env_res **out_env,
                  ERL_NIF_TERM *out_error, int *over_budget);

/* abandon(Ref) -> abandoned | sending | sent | not_owner. Cancels the
 * request in the library too. `abandoned`: no reply will ever arrive.
 * `sending`: the reply is about to arrive. `sent`: the reply is in the
 * mailbox or was already received. `not_owner`: only the library cancel was
 * done (the owner still gets its reply). */
ERL_NIF_TERM nif_abandon(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* cancel(Ref) -> ok | {error, Reason}: the library's cancel only; the owner
 * still gets its reply ({error, cancelled} when the cancel took effect). */
ERL_NIF_TERM nif_cancel(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* request_state(Ref) -> pending | sending | sent | abandoned */
ERL_NIF_TERM nif_request_state(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* Shared with the pool NIFs (nif_pool.c), which submit to a pool but
 * answer exactly as context requests do. */
/* The calling process's owner handle in `term`; 0 when it is not. */
int get_owner(ErlNifEnv *env, ERL_NIF_TERM term, owner_res **out);
void owner_link(owner_res *owner, req_res *req);
/* A request owned by `owner` with one reference for the caller and one for
 * the library; `ctx` may be NULL (a pool request sets req->pool). */
req_res *request_new(ctx_res *ctx, env_res *penv, owner_res *owner, int kind);
/* The NIF's return value once the library answered the submission `err`
 * (NULL: accepted) of a request linked to its owner. */
ERL_NIF_TERM request_submitted(ErlNifEnv *env, req_res *req, pyctx_error_t *err);
/* Completion callbacks: of the one-call functions (user data: the req_res)
 * and of request objects. */
void on_complete(void *user_data, uint64_t request_id, pyctx_result_t *result);
void on_request_done(void *user_data, pyctx_request_t *preq);
/* The library's cancel of the request, on its context or its pool. */
pyctx_error_t *request_lib_cancel(const req_res *req);

/* Module, Function, Args and Kwargs of a one-call submission (argv[1..4] of
 * call/7 and pool_call/7), Args and Kwargs encoded into the thread's writer
 * within `budget`. */
typedef struct encoded_call {
    cstr_arg module, function;
    encode_status status;  /* ENCODE_OK: the fields below are set */
    ERL_NIF_TERM error;    /* the {error, _} to return for ENCODE_ERROR */
    const uint8_t *args, *kwargs;  /* kwargs NULL when there are none */
    size_t args_len, kwargs_len;
} encoded_call;
/* 0 when a name is no text or Args no list (badarg; nothing to release);
 * otherwise release with encoded_call_release. */
int encode_call(ErlNifEnv *env, const ERL_NIF_TERM argv[], long budget, encoded_call *out);
void encoded_call_release(encoded_call *c);

/* to_cbor(Term) -> {ok, Binary} | {error, {encode, Msg}} (diagnostics) */
ERL_NIF_TERM nif_to_cbor(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* from_cbor(Binary) -> {ok, Term} | {error, {decode, Msg}} (diagnostics) */
ERL_NIF_TERM nif_from_cbor(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
