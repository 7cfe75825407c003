/* NIFs for channels: the Erlang end of a pyctx_channel_t (a bounded
 * two-way queue with Python code in a context; see "Channels" in
 * include/pyctx.h and bindings/erlang/README.md).
 *
 * A channel is a NIF resource; its destructor frees the C channel, which
 * closes it, so Python's ends see the end when the last Erlang term is
 * garbage collected. No NIF here waits on a normal scheduler: the try
 * forms never wait, and the waits run on dirty I/O schedulers for at most
 * one bounded slice each (pyctx.erl loops over slices until its deadline),
 * so that a process killed mid-wait frees its dirty scheduler within a
 * slice, and a value the library hands out is always returned to the
 * process that asked for it (a wait that times out takes nothing). */
#ifndef PYCTX_ERL_NIF_CHANNEL_H
#define PYCTX_ERL_NIF_CHANNEL_H

#include <erl_nif.h>

/* Resource type and atoms; 0 on failure. Called from the load callback. */
int channel_resources_open(ErlNifEnv *env);

/* channel_new(Capacity, BytesMode) -> {ok, Ch} | {error, Reason} */
ERL_NIF_TERM nif_channel_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_id(Ch) -> pos_integer() */
ERL_NIF_TERM nif_channel_id(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_bytes(Ch) -> boolean() */
ERL_NIF_TERM nif_channel_bytes(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_try_send(Ch, Value) -> ok | {full, Encoded} | {error, Reason}:
 * encodes Value (a term, or iodata on a byte channel) and sends it without
 * waiting; when Python's side is full, the encoded bytes come back for
 * channel_send_wait/3 to retry without encoding again. */
ERL_NIF_TERM nif_channel_try_send(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_send_wait(Ch, Encoded, SliceMs) -> ok | {error, timeout | closed | Reason}
 * (dirty I/O): waits up to SliceMs for room. */
ERL_NIF_TERM nif_channel_send_wait(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_try_recv(Ch) -> {ok, Value} | empty | {error, closed | Reason} */
ERL_NIF_TERM nif_channel_try_recv(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_recv_wait(Ch, SliceMs) -> {ok, Value} | {error, timeout | closed | Reason}
 * (dirty I/O): waits up to SliceMs for a value. */
ERL_NIF_TERM nif_channel_recv_wait(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_close(Ch) -> ok (idempotent) */
ERL_NIF_TERM nif_channel_close(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_active(Ch, N | false) -> ok | passive | {error, closed | not_owner | Reason}:
 * grants N more values to deliver to the caller as messages (see
 * pyctx:channel_active/2), or withdraws the credit. */
ERL_NIF_TERM nif_channel_active(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* channel_stats(Ch) -> #{to_python, from_python, queued_to_python, queued_to_host} */
ERL_NIF_TERM nif_channel_stats(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
