/* NIFs for "Python talks to the host": pyctx.send to Erlang processes and
 * the shared store.
 *
 * The send router (installed with the runtime) delivers
 * `pyctx.send(target, value)` from Python: a pid (a HostTerm, as pids travel
 * already) gets `value` as a plain message; an atom (pyctx.Symbol) is looked
 * up as a registered name. A dead pid or an unregistered name raises
 * pyctx.SendError in Python (or returns False with missing_ok=True). */
#ifndef PYCTX_ERL_NIF_TALK_H
#define PYCTX_ERL_NIF_TALK_H

#include <erl_nif.h>

/* Installs the router; 1 on success. */
int talk_install_router(void);

/* store_put(Key, Value) -> {ok, Version} | {error, Reason} */
ERL_NIF_TERM nif_store_put(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* store_get(Key) -> {ok, Value, Version} | {error, not_found} | {error, Reason} */
ERL_NIF_TERM nif_store_get(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* store_cas(Key, Expected, Value) -> {ok, NewVersion} | {conflict, Current} | {error, Reason} */
ERL_NIF_TERM nif_store_cas(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* store_delete(Key, Expected) -> boolean() | {error, Reason} */
ERL_NIF_TERM nif_store_delete(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* store_keys(Prefix) -> {ok, [binary()]} | {error, Reason} */
ERL_NIF_TERM nif_store_keys(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* log_forward(Pid, MinLevel, Capacity) -> ok | {error, Reason}: Python
 * logging records at or above MinLevel reach Pid as
 *     {pyctx_log, Level, Logger, Message, Exception, Context, Created}
 * (binaries, Created a float). log_forward(none, 0, 0) stops it. */
ERL_NIF_TERM nif_log_forward(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
