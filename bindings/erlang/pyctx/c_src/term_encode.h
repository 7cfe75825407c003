/* Erlang term -> CBOR, written with the C API's CBOR writer.
 * The mapping is the table in bindings/erlang/README.md. */
#ifndef PYCTX_ERL_TERM_ENCODE_H
#define PYCTX_ERL_TERM_ENCODE_H

#include <erl_nif.h>
#include <pyctx.h>

typedef enum encode_status {
    ENCODE_OK = 0,
    ENCODE_ERROR,       /* the term cannot be mapped; see `error` */
    ENCODE_OVER_BUDGET, /* too much work for a normal scheduler: go dirty */
    ENCODE_NEEDS_REQUEST /* a lent buffer met without a request object to
                            attach it to: submit with one */
} encode_status;

typedef struct term_encoder {
    ErlNifEnv *env;
    pyctx_cbor_writer_t *writer;
    /* Work units left before ENCODE_OVER_BUDGET (one per term node, one per
     * 512 bytes of binary data); negative means unlimited. Keeps a NIF on a
     * normal scheduler well under a millisecond. */
    long budget;
    /* Where lent buffers are attached (their tag names the index); NULL
     * when the caller submits without a request object. */
    pyctx_request_t *request;
    char error[256];
} term_encoder;

/* Work a normal-scheduler NIF may do before it moves to a dirty scheduler. */
#define ENCODE_NORMAL_BUDGET 20000L

void encoder_init(term_encoder *e, ErlNifEnv *env, pyctx_cbor_writer_t *writer, long budget);

/* Appends the CBOR of `term`. */
encode_status encode_term(term_encoder *e, ERL_NIF_TERM term);

/* Appends a CBOR map with text keys (Python kwargs or eval locals) from a map
 * or a proplist whose keys are atoms or UTF-8 binaries. */
encode_status encode_keyword_map(term_encoder *e, ERL_NIF_TERM term);

/* 1 when `term` is an empty map or an empty list (no keywords at all). */
int is_empty_keywords(ErlNifEnv *env, ERL_NIF_TERM term);

/* 1 when data[0..len) is valid UTF-8; else 0 with the offending offset. */
int utf8_valid(const unsigned char *data, size_t len, size_t *bad_offset);

#endif
