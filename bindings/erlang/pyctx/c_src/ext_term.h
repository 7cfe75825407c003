/* What the NIF API cannot do directly, done through Erlang's external term
 * format (enif_term_to_binary / enif_binary_to_term):
 *   - read and build integers wider than 64 bits (there is no bignum API);
 *   - read atom names that are not Latin-1 and look up existing atoms by a
 *     UTF-8 name (OTP 25's NIF API only speaks Latin-1 for atoms).
 * Atoms are only ever looked up, never created: ERL_NIF_BIN2TERM_SAFE
 * refuses to create new ones. */
#ifndef PYCTX_ERL_EXT_TERM_H
#define PYCTX_ERL_EXT_TERM_H

#include <erl_nif.h>
#include <stddef.h>
#include <stdint.h>

/* Atom names are at most 255 characters, so at most 1020 UTF-8 bytes. */
#define ATOM_NAME_UTF8_MAX 1024

/* The magnitude of an integer term that does not fit 64 bits, as big-endian
 * bytes without leading zeros, in `*out` (released by the caller with
 * enif_release_binary). Returns 1 on success, 0 when `term` is no bignum. */
int ext_bignum_magnitude(ErlNifEnv *env, ERL_NIF_TERM term, int *out_negative,
                         ErlNifBinary *out);

/* Builds the integer (negative ? -m : m) from the big-endian magnitude m.
 * Returns 1 on success, 0 when out of memory. */
int ext_make_integer(ErlNifEnv *env, int negative, const uint8_t *be, size_t len,
                     ERL_NIF_TERM *out);

/* The UTF-8 name of an atom into `buf` (ATOM_NAME_UTF8_MAX bytes, not
 * NUL-terminated). Returns the length, or -1 when `term` is no atom. */
int ext_atom_utf8_name(ErlNifEnv *env, ERL_NIF_TERM term, char *buf);

/* The existing atom named by `utf8` (already validated UTF-8). Returns 1 and
 * sets `*out` when such an atom exists; 0 otherwise (nothing is created). */
int ext_existing_atom_utf8(ErlNifEnv *env, const uint8_t *utf8, size_t len, ERL_NIF_TERM *out);

#endif
