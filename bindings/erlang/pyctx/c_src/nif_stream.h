/* Streams: a generator, async generator or iterator read item by item.
 *
 * A stream belongs to the process that opened it, as a port does: items
 * and the end arrive there as messages
 *     {pyctx_stream, Stream, {item, Value}}    one per item, in order
 *     {pyctx_stream, Stream, done}             exhausted, or
 *     {pyctx_stream, Stream, {error, Reason}}  exactly one of the two
 * and the iterator is never advanced beyond the credit granted
 * (stream_demand/2). The stream lives until its end (the library holds it
 * until then) or until its owner dies, which cancels it. */
#ifndef PYCTX_ERL_NIF_STREAM_H
#define PYCTX_ERL_NIF_STREAM_H

#include <erl_nif.h>

/* stream_open(Kind, Target, A1, A2, Args, Kwargs, Credit) -> {ok, Stream}
 * | {error, Reason}; Kind as for request/9 (call, eval, object_call,
 * method_call). */
ERL_NIF_TERM nif_stream_open(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* stream_demand(Stream, N) -> ok | {error, Reason}: grants N more credit
 * (ignored once ended). */
ERL_NIF_TERM nif_stream_demand(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* stream_cancel(Stream) -> ok: closes the iterator (its finally blocks
 * run); the end message is {error, cancelled} unless it had ended. */
ERL_NIF_TERM nif_stream_cancel(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* stream_pull(Stream) -> idle | owed | {ended, End} | {error, not_owner}:
 * for a blocking read. `idle`: no credit is outstanding and no item is on
 * its way (so a mailbox still empty now stays empty until more credit is
 * granted); `owed`: an item or the end will come. `End` is the end
 * message's payload, kept for reads after it. */
ERL_NIF_TERM nif_stream_pull(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
