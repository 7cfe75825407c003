/* Sandbox policy and memory limit of a new context, from the terms the
 * Erlang side (pyctx:start_context/1) flattens them into. */
#ifndef PYCTX_ERL_NIF_LIMITS_H
#define PYCTX_ERL_NIF_LIMITS_H

#include <erl_nif.h>

#include "pyctx.h"

/* Bits of the SandboxFlags argument; 0 means no sandbox. */
#define PYCTX_ERL_SANDBOX_ON 1
#define PYCTX_ERL_SANDBOX_PROCESSES 2
#define PYCTX_ERL_SANDBOX_SOCKETS 4
#define PYCTX_ERL_SANDBOX_FILES 8

/* Applies `flags` (integer), `paths` (list of {Path, ReadOnly :: boolean()})
 * and `memory_limit` (integer, 0: none) to `options`. Sets *badarg to 1 on
 * a term of the wrong shape, to 2 when out of memory (then returns NULL). */
pyctx_error_t *apply_context_limits(ErlNifEnv *env, ERL_NIF_TERM flags, ERL_NIF_TERM paths,
                                    ERL_NIF_TERM memory_limit, pyctx_context_options_t *options,
                                    int *badarg);

#endif
