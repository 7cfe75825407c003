/* NIFs for host functions: Python calling Erlang.
 *
 * host_register(Name, Dispatcher) registers `Name` with the library. Each
 * call from Python (on a library thread) is sent to the Dispatcher process as
 *     {pyctx_host_call, Call, Name, Args}
 * and answered, once, from any process with host_reply(Call, Reply). A call
 * resource that is garbage collected unanswered fails the call, so Python
 * never waits forever. */
#ifndef PYCTX_ERL_NIF_HOST_H
#define PYCTX_ERL_NIF_HOST_H

#include <erl_nif.h>

/* host_register(Name, DispatcherPid) -> ok | {error, Reason} */
ERL_NIF_TERM nif_host_register(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* host_unregister(Name) -> ok | {error, Reason} */
ERL_NIF_TERM nif_host_unregister(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* host_reply(Call, {ok, Value} | {error, Message}) -> ok | {error, Reason} */
ERL_NIF_TERM nif_host_reply(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
