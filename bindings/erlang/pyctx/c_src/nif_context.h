/* NIFs for contexts and env handles. */
#ifndef PYCTX_ERL_NIF_CONTEXT_H
#define PYCTX_ERL_NIF_CONTEXT_H

#include <erl_nif.h>

#include "nif_common.h"

/* context_start(Mode, Name, Preload, QueueCapacity, Owner, SandboxFlags,
 *               AllowPaths, MemoryLimit,
 *               {MaxRestarts, RestartWindowMs, ProcessHelper}) -- dirty IO:
 * creating a context waits for its thread (and the preload). */
ERL_NIF_TERM nif_context_start(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* context_stop(Ctx, TimeoutMs) -- dirty IO: waits for the thread to end. */
ERL_NIF_TERM nif_context_stop(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* context_info(Ctx) -> map */
ERL_NIF_TERM nif_context_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* env_new(Ctx) -- dirty IO: the namespace is made on the context thread. */
ERL_NIF_TERM nif_env_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* The context options of argv[0..8] as context_start/9 takes them (argv[4],
 * the owner, is not read). 0 with the NIF's return value in *out_error
 * (badarg or {error, _}) on failure. */
int context_options_from_terms(ErlNifEnv *env, const ERL_NIF_TERM argv[],
                               pyctx_context_options_t **out_options, ERL_NIF_TERM *out_error);
/* A context handle resource wrapping `ctx` (its term owns it). */
ERL_NIF_TERM make_context_term(ErlNifEnv *env, pyctx_context_t *ctx);

/* The context (and env, when the term is an env handle) a request targets.
 * Returns 0 when `term` is neither handle. */
int get_target(ErlNifEnv *env, ERL_NIF_TERM term, ctx_res **out_ctx, env_res **out_env);

#endif
