#include "term_decode.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pyctx.h>

#include "atoms.h"
#include "ext_term.h"

typedef struct decoder {
    ErlNifEnv *env;
    pyctx_cbor_reader_t reader;
    char *error;
    size_t error_cap;
} decoder;

static int fail(decoder *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, d->error_cap, fmt, ap);
    va_end(ap);
    return 0;
}

/* Reads the next item head, turning a reader error into our message. */
static int next_item(decoder *d, pyctx_cbor_item_t *item) {
    pyctx_error_t *err = pyctx_cbor_read(&d->reader, item);
    if (err == NULL) return 1;
    fail(d, "%s", pyctx_error_message(err));
    pyctx_error_free(err);
    return 0;
}

static int decode_item(decoder *d, int depth, ERL_NIF_TERM *out);

/* A count that cannot possibly fit in the bytes left is malformed input;
 * checking it first keeps a bad header from causing a huge allocation. */
static int plausible_count(decoder *d, uint64_t count, uint64_t bytes_per_entry) {
    uint64_t left = d->reader.len - d->reader.pos;
    return count <= left / bytes_per_entry;
}

static int decode_terms(decoder *d, uint64_t count, int depth, ERL_NIF_TERM **out_items,
                        ERL_NIF_TERM *stack, size_t stack_cap) {
    ERL_NIF_TERM *items = count <= stack_cap ? stack : malloc(sizeof(ERL_NIF_TERM) * count);
    if (items == NULL) return fail(d, "out of memory while decoding");
    for (uint64_t k = 0; k < count; k++) {
        if (!decode_item(d, depth + 1, &items[k])) {
            if (items != stack) free(items);
            return 0;
        }
    }
    *out_items = items;
    return 1;
}

static int decode_array(decoder *d, const pyctx_cbor_item_t *item, int depth, int as_tuple,
                        ERL_NIF_TERM *out) {
    if (item->indefinite) return fail(d, "indefinite-length arrays are not supported");
    if (!plausible_count(d, item->count, 1)) return fail(d, "array length exceeds the input");
    ERL_NIF_TERM stack[32], *items = NULL;
    if (!decode_terms(d, item->count, depth, &items, stack, 32)) return 0;
    *out = as_tuple ? enif_make_tuple_from_array(d->env, items, (unsigned)item->count)
                    : enif_make_list_from_array(d->env, items, (unsigned)item->count);
    if (items != stack) free(items);
    return 1;
}

static int decode_map(decoder *d, const pyctx_cbor_item_t *item, int depth, ERL_NIF_TERM *out) {
    if (item->indefinite) return fail(d, "indefinite-length maps are not supported");
    if (!plausible_count(d, item->count, 2)) return fail(d, "map length exceeds the input");
    size_t n = (size_t)item->count;
    ERL_NIF_TERM stack[64];
    ERL_NIF_TERM *keys = n * 2 <= 64 ? stack : malloc(sizeof(ERL_NIF_TERM) * n * 2);
    if (keys == NULL) return fail(d, "out of memory while decoding");
    ERL_NIF_TERM *values = keys + n;
    int ok = 1;
    for (size_t k = 0; ok && k < n; k++)
        ok = decode_item(d, depth + 1, &keys[k]) && decode_item(d, depth + 1, &values[k]);
    if (ok && !enif_make_map_from_arrays(d->env, keys, values, n, out))
        ok = fail(d, "map has duplicate keys");
    if (keys != stack) free(keys);
    return ok;
}

/* -1 - n for a CBOR negative integer that does not fit int64. */
static int make_negint(decoder *d, uint64_t n, ERL_NIF_TERM *out) {
    uint8_t be[9];
    /* magnitude n + 1, which may need a ninth byte */
    uint64_t low = n + 1;
    be[0] = low == 0 ? 1 : 0;
    for (int k = 0; k < 8; k++) be[8 - k] = (uint8_t)(low >> (8 * k));
    if (!ext_make_integer(d->env, 1, be, 9, out)) return fail(d, "out of memory while decoding");
    return 1;
}

/* Bignum tags 2 (n) and 3 (-1 - n) with a big-endian byte string. */
static int make_bignum(decoder *d, int negative, const pyctx_cbor_item_t *bytes,
                       ERL_NIF_TERM *out) {
    size_t len = bytes->len;
    uint8_t *mag = malloc(len + 1);
    if (mag == NULL) return fail(d, "out of memory while decoding");
    mag[0] = 0;
    memcpy(mag + 1, bytes->data, len);
    if (negative) { /* magnitude is n + 1 */
        for (size_t k = len + 1; k-- > 0;) {
            if (++mag[k] != 0) break;
        }
    }
    int ok = ext_make_integer(d->env, negative, mag, len + 1, out);
    free(mag);
    return ok ? 1 : fail(d, "out of memory while decoding");
}

static int make_symbol(decoder *d, const pyctx_cbor_item_t *text, ERL_NIF_TERM *out) {
    if (ext_existing_atom_utf8(d->env, text->data, text->len, out)) return 1;
    /* No such atom: never create one (atoms are not garbage collected). */
    ERL_NIF_TERM name;
    unsigned char *buf = enif_make_new_binary(d->env, text->len, &name);
    memcpy(buf, text->data, text->len);
    *out = enif_make_tuple2(d->env, ATOM_symbol, name);
    return 1;
}

static int make_host_term(decoder *d, const pyctx_cbor_item_t *bytes, ERL_NIF_TERM *out) {
    size_t used = enif_binary_to_term(d->env, bytes->data, bytes->len, out, ERL_NIF_BIN2TERM_SAFE);
    if (used == 0 || used != bytes->len)
        return fail(d, "host term is not a valid term of this node");
    return 1;
}

static int decode_tag(decoder *d, uint64_t tag, int depth, ERL_NIF_TERM *out) {
    pyctx_cbor_item_t inner;
    if (!next_item(d, &inner)) return 0;
    int is_bytes = inner.type == PYCTX_CBOR_BYTES && !inner.indefinite;
    int is_text = inner.type == PYCTX_CBOR_TEXT && !inner.indefinite;
    int is_array = inner.type == PYCTX_CBOR_ARRAY;
    switch (tag) {
    case 2:
    case 3:
        if (is_bytes) return make_bignum(d, tag == 3, &inner, out);
        break;
    case PYCTX_CBOR_TAG_SYMBOL:
        if (is_text) return make_symbol(d, &inner, out);
        break;
    case PYCTX_CBOR_TAG_TUPLE:
        if (is_array) return decode_array(d, &inner, depth, 1, out);
        break;
    case PYCTX_CBOR_TAG_SET:
        if (is_array) {
            ERL_NIF_TERM list;
            if (!decode_array(d, &inner, depth, 0, &list)) return 0;
            *out = enif_make_tuple2(d->env, ATOM_set, list);
            return 1;
        }
        break;
    case PYCTX_CBOR_TAG_HOST_TERM:
        if (is_bytes) return make_host_term(d, &inner, out);
        break;
    default:
        return fail(d, "unsupported CBOR tag %llu", (unsigned long long)tag);
    }
    return fail(d, "CBOR tag %llu holds an item of the wrong type", (unsigned long long)tag);
}

static int decode_item(decoder *d, int depth, ERL_NIF_TERM *out) {
    if (depth > PYCTX_CBOR_MAX_DEPTH + 1)
        return fail(d, "CBOR nested deeper than %d levels", PYCTX_CBOR_MAX_DEPTH);
    pyctx_cbor_item_t item;
    if (!next_item(d, &item)) return 0;
    switch (item.type) {
    case PYCTX_CBOR_UINT:
        *out = enif_make_uint64(d->env, item.uint_value);
        return 1;
    case PYCTX_CBOR_NEGINT:
        if (item.fits_int64) {
            *out = enif_make_int64(d->env, item.int_value);
            return 1;
        }
        return make_negint(d, item.uint_value, out);
    case PYCTX_CBOR_BYTES: {
        if (item.indefinite) return fail(d, "indefinite-length byte strings are not supported");
        ERL_NIF_TERM bin;
        memcpy(enif_make_new_binary(d->env, item.len, &bin), item.data, item.len);
        *out = enif_make_tuple2(d->env, ATOM_bytes, bin);
        return 1;
    }
    case PYCTX_CBOR_TEXT:
        if (item.indefinite) return fail(d, "indefinite-length text strings are not supported");
        memcpy(enif_make_new_binary(d->env, item.len, out), item.data, item.len);
        return 1;
    case PYCTX_CBOR_ARRAY:
        return decode_array(d, &item, depth, 0, out);
    case PYCTX_CBOR_MAP:
        return decode_map(d, &item, depth, out);
    case PYCTX_CBOR_TAG:
        return decode_tag(d, item.uint_value, depth, out);
    case PYCTX_CBOR_FALSE:
        *out = ATOM_false;
        return 1;
    case PYCTX_CBOR_TRUE:
        *out = ATOM_true;
        return 1;
    case PYCTX_CBOR_NULL:
    case PYCTX_CBOR_UNDEFINED:
        *out = ATOM_none;
        return 1;
    case PYCTX_CBOR_FLOAT: {
        double v = item.float_value;
        if (isnan(v)) *out = enif_make_tuple2(d->env, ATOM_float, ATOM_nan);
        else if (isinf(v))
            *out = enif_make_tuple2(d->env, ATOM_float, v > 0 ? ATOM_infinity : ATOM_neg_infinity);
        else *out = enif_make_double(d->env, v);
        return 1;
    }
    default:
        return fail(d, "unsupported CBOR item (major type 7 value %llu)",
                    (unsigned long long)item.uint_value);
    }
}

int decode_cbor(ErlNifEnv *env, const uint8_t *data, size_t len, ERL_NIF_TERM *out,
                char *error, size_t error_cap) {
    decoder d;
    d.env = env;
    d.error = error;
    d.error_cap = error_cap;
    pyctx_cbor_reader_init(&d.reader, data, len);
    if (!decode_item(&d, 1, out)) return 0;
    if (!pyctx_cbor_reader_at_end(&d.reader))
        return fail(&d, "trailing bytes after the CBOR item at offset %zu", d.reader.pos);
    return 1;
}
