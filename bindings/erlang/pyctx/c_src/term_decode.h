/* CBOR -> Erlang term, read with the C API's CBOR reader.
 * The mapping is the table in bindings/erlang/README.md. Atoms are only
 * looked up, never created: an unknown symbol becomes {symbol, Binary}. */
#ifndef PYCTX_ERL_TERM_DECODE_H
#define PYCTX_ERL_TERM_DECODE_H

#include <erl_nif.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the single CBOR item filling data[0..len) into `*out`, built in
 * `env`. On failure returns 0 and writes a message into `error`
 * (`error_cap` bytes). */
int decode_cbor(ErlNifEnv *env, const uint8_t *data, size_t len, ERL_NIF_TERM *out,
                char *error, size_t error_cap);

#endif
