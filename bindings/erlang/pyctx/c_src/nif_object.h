/* Object handles and borrowed buffers: resource types and their NIFs.
 * Requests on objects go through request/9 (nif_request.c). */
#ifndef PYCTX_ERL_NIF_OBJECT_H
#define PYCTX_ERL_NIF_OBJECT_H

#include <erl_nif.h>

/* object_info(Object) -> #{id, alive, context} */
ERL_NIF_TERM nif_object_info(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* lend(Binary, Format, Shape) -> {ok, Buffer} | {error, Reason}: lends the
 * binary's bytes read-only (Format undefined: bytes; Shape [] : one
 * dimension). */
ERL_NIF_TERM nif_lend(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
/* buffer_stats(Ctx) -> #{lent_views, lent_total, held_views} */
ERL_NIF_TERM nif_buffer_stats(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

#endif
