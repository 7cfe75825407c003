#include "term_encode.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "atoms.h"
#include "ext_term.h"
#include "nif_common.h"

void encoder_init(term_encoder *e, ErlNifEnv *env, pyctx_cbor_writer_t *writer, long budget) {
    e->env = env;
    e->writer = writer;
    e->budget = budget;
    e->request = NULL;
    e->error[0] = '\0';
}

static encode_status fail(term_encoder *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->error, sizeof e->error, fmt, ap);
    va_end(ap);
    return ENCODE_ERROR;
}

static encode_status out_of_memory(term_encoder *e) {
    return fail(e, "out of memory while encoding");
}

/* Charges `units` of work; ENCODE_OVER_BUDGET once the budget is spent. */
static encode_status charge(term_encoder *e, long units) {
    if (e->budget < 0) return ENCODE_OK;
    e->budget -= units;
    return e->budget < 0 ? ENCODE_OVER_BUDGET : ENCODE_OK;
}

int utf8_valid(const unsigned char *s, size_t len, size_t *bad_offset) {
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, eight bytes at a time */
        if (i + 8 <= len) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (i + need >= len) goto bad; /* truncated sequence */
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* reject overlong forms, surrogates and values past U+10FFFF */
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
            (need == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += need + 1;
    }
    return 1;
bad:
    *bad_offset = i;
    return 0;
}

static encode_status encode_at(term_encoder *e, ERL_NIF_TERM t, int depth);

static encode_status write_ok(term_encoder *e, int rc) {
    return rc == 0 ? ENCODE_OK : out_of_memory(e);
}

static encode_status encode_text_binary(term_encoder *e, const ErlNifBinary *bin,
                                        const char *what) {
    size_t bad;
    if (!utf8_valid(bin->data, bin->size, &bad))
        return fail(e,
                    "%s is not valid UTF-8 (byte %zu); send bytes as {bytes, Binary}",
                    what, bad);
    return write_ok(e, pyctx_cbor_write_text(e->writer, (const char *)bin->data, bin->size));
}

static encode_status encode_integer(term_encoder *e, ERL_NIF_TERM t) {
    ErlNifSInt64 i;
    ErlNifUInt64 u;
    if (enif_get_int64(e->env, t, &i)) return write_ok(e, pyctx_cbor_write_int(e->writer, i));
    if (enif_get_uint64(e->env, t, &u)) return write_ok(e, pyctx_cbor_write_uint(e->writer, u));
    /* Wider than 64 bits: bignum tag 2 (n) or 3 (-1 - n). */
    int negative;
    ErlNifBinary mag;
    if (!ext_bignum_magnitude(e->env, t, &negative, &mag))
        return fail(e, "cannot read an integer wider than 64 bits");
    if (negative) {
        /* tag 3 carries |t| - 1; |t| > 2^63 here, so it never underflows */
        for (size_t k = mag.size; k-- > 0;) {
            if (mag.data[k]-- != 0) break;
        }
    }
    const uint8_t *data = mag.data;
    size_t len = mag.size;
    while (len > 0 && data[0] == 0) {
        data++;
        len--;
    }
    int rc = pyctx_cbor_write_tag(e->writer, negative ? 3 : 2);
    if (rc == 0) rc = pyctx_cbor_write_bytes(e->writer, data, len);
    enif_release_binary(&mag);
    return write_ok(e, rc);
}

static encode_status encode_atom(term_encoder *e, ERL_NIF_TERM t) {
    if (enif_is_identical(t, ATOM_true)) return write_ok(e, pyctx_cbor_write_bool(e->writer, 1));
    if (enif_is_identical(t, ATOM_false)) return write_ok(e, pyctx_cbor_write_bool(e->writer, 0));
    if (enif_is_identical(t, ATOM_none)) return write_ok(e, pyctx_cbor_write_null(e->writer));
    char name[ATOM_NAME_UTF8_MAX];
    int len = ext_atom_utf8_name(e->env, t, name);
    if (len < 0) return fail(e, "cannot read an atom's name");
    int rc = pyctx_cbor_write_tag(e->writer, PYCTX_CBOR_TAG_SYMBOL);
    if (rc == 0) rc = pyctx_cbor_write_text(e->writer, name, (size_t)len);
    return write_ok(e, rc);
}

static encode_status encode_host_term(term_encoder *e, ERL_NIF_TERM t) {
    ErlNifBinary ext;
    if (!enif_term_to_binary(e->env, t, &ext)) return out_of_memory(e);
    int rc = pyctx_cbor_write_tag(e->writer, PYCTX_CBOR_TAG_HOST_TERM);
    if (rc == 0) rc = pyctx_cbor_write_bytes(e->writer, ext.data, ext.size);
    enif_release_binary(&ext);
    return write_ok(e, rc);
}

/* An object handle (tag PYCTX_CBOR_TAG_OBJECT [key, id]) or a lent buffer
 * (tag PYCTX_CBOR_TAG_BUFFER index, attached to the request). Returns 1
 * when `t` is one of these resources (`*st` holds the outcome). */
static int encode_resource(term_encoder *e, ERL_NIF_TERM t, encode_status *st) {
    void *res;
    if (enif_get_resource(e->env, t, OBJ_TYPE, &res)) {
        *st = write_ok(e, pyctx_cbor_write_object(e->writer, ((obj_res *)res)->obj));
        return 1;
    }
    if (enif_get_resource(e->env, t, LEND_TYPE, &res)) {
        if (e->request == NULL) {
            *st = ENCODE_NEEDS_REQUEST;
            return 1;
        }
        uint32_t index = 0;
        pyctx_error_t *err = pyctx_request_attach_buffer(e->request, ((lend_res *)res)->buf, &index);
        if (err != NULL) {
            *st = fail(e, "cannot attach a lent buffer: %s", pyctx_error_message(err));
            pyctx_error_free(err);
            return 1;
        }
        int rc = pyctx_cbor_write_tag(e->writer, PYCTX_CBOR_TAG_BUFFER);
        if (rc == 0) rc = pyctx_cbor_write_uint(e->writer, index);
        *st = write_ok(e, rc);
        return 1;
    }
    return 0;
}

static encode_status encode_list(term_encoder *e, ERL_NIF_TERM t, int depth) {
    unsigned len;
    if (!enif_get_list_length(e->env, t, &len))
        return fail(e, "improper lists cannot be encoded");
    if (pyctx_cbor_write_array(e->writer, len) != 0) return out_of_memory(e);
    ERL_NIF_TERM head;
    while (enif_get_list_cell(e->env, t, &head, &t)) {
        encode_status st = encode_at(e, head, depth + 1);
        if (st != ENCODE_OK) return st;
    }
    return ENCODE_OK;
}

static encode_status encode_array_items(term_encoder *e, const ERL_NIF_TERM *items, int n,
                                        int depth) {
    if (pyctx_cbor_write_array(e->writer, (uint64_t)n) != 0) return out_of_memory(e);
    for (int k = 0; k < n; k++) {
        encode_status st = encode_at(e, items[k], depth + 1);
        if (st != ENCODE_OK) return st;
    }
    return ENCODE_OK;
}

/* The reserved 2-tuples {bytes, Bin}, {symbol, Bin}, {set, List} and
 * {float, nan | infinity | neg_infinity}. Returns 1 when `items` is one of
 * them (and `*st` holds the outcome), 0 for an ordinary tuple. */
static int encode_reserved_tuple(term_encoder *e, const ERL_NIF_TERM *items, int depth,
                                 encode_status *st) {
    ERL_NIF_TERM tag = items[0], value = items[1];
    ErlNifBinary bin;
    if (enif_is_identical(tag, ATOM_bytes) && enif_inspect_binary(e->env, value, &bin)) {
        *st = charge(e, (long)(bin.size / 512));
        if (*st == ENCODE_OK)
            *st = write_ok(e, pyctx_cbor_write_bytes(e->writer, bin.data, bin.size));
        return 1;
    }
    if (enif_is_identical(tag, ATOM_symbol) && enif_inspect_binary(e->env, value, &bin)) {
        *st = pyctx_cbor_write_tag(e->writer, PYCTX_CBOR_TAG_SYMBOL) == 0
                  ? encode_text_binary(e, &bin, "a {symbol, Name} name")
                  : out_of_memory(e);
        return 1;
    }
    if (enif_is_identical(tag, ATOM_set) && enif_is_list(e->env, value)) {
        *st = pyctx_cbor_write_tag(e->writer, PYCTX_CBOR_TAG_SET) == 0
                  ? encode_list(e, value, depth)
                  : out_of_memory(e);
        return 1;
    }
    if (enif_is_identical(tag, ATOM_float)) {
        double d;
        if (enif_is_identical(value, ATOM_nan)) d = __builtin_nan("");
        else if (enif_is_identical(value, ATOM_infinity)) d = __builtin_inf();
        else if (enif_is_identical(value, ATOM_neg_infinity)) d = -__builtin_inf();
        else return 0;
        *st = write_ok(e, pyctx_cbor_write_float(e->writer, d));
        return 1;
    }
    return 0;
}

static encode_status encode_tuple(term_encoder *e, ERL_NIF_TERM t, int depth) {
    int arity;
    const ERL_NIF_TERM *items;
    enif_get_tuple(e->env, t, &arity, &items);
    encode_status st;
    if (arity == 2 && enif_is_atom(e->env, items[0]) &&
        encode_reserved_tuple(e, items, depth, &st))
        return st;
    if (pyctx_cbor_write_tag(e->writer, PYCTX_CBOR_TAG_TUPLE) != 0) return out_of_memory(e);
    return encode_array_items(e, items, arity, depth);
}

static encode_status encode_map(term_encoder *e, ERL_NIF_TERM t, int depth) {
    size_t size;
    enif_get_map_size(e->env, t, &size);
    if (pyctx_cbor_write_map(e->writer, size) != 0) return out_of_memory(e);
    ErlNifMapIterator it;
    if (!enif_map_iterator_create(e->env, t, &it, ERL_NIF_MAP_ITERATOR_FIRST))
        return out_of_memory(e);
    encode_status st = ENCODE_OK;
    ERL_NIF_TERM k, v;
    while (st == ENCODE_OK && enif_map_iterator_get_pair(e->env, &it, &k, &v)) {
        st = encode_at(e, k, depth + 1);
        if (st == ENCODE_OK) st = encode_at(e, v, depth + 1);
        enif_map_iterator_next(e->env, &it);
    }
    enif_map_iterator_destroy(e->env, &it);
    return st;
}

static encode_status encode_at(term_encoder *e, ERL_NIF_TERM t, int depth) {
    if (depth > PYCTX_CBOR_MAX_DEPTH)
        return fail(e, "term nested deeper than %d levels", PYCTX_CBOR_MAX_DEPTH);
    encode_status st = charge(e, 1);
    if (st != ENCODE_OK) return st;
    switch (enif_term_type(e->env, t)) {
    case ERL_NIF_TERM_TYPE_INTEGER:
        return encode_integer(e, t);
    case ERL_NIF_TERM_TYPE_FLOAT: {
        double d;
        enif_get_double(e->env, t, &d);
        return write_ok(e, pyctx_cbor_write_float(e->writer, d));
    }
    case ERL_NIF_TERM_TYPE_ATOM:
        return encode_atom(e, t);
    case ERL_NIF_TERM_TYPE_BITSTRING: {
        ErlNifBinary bin;
        if (!enif_inspect_binary(e->env, t, &bin))
            return fail(e, "bitstrings that are not whole bytes cannot be encoded");
        st = charge(e, (long)(bin.size / 512));
        return st == ENCODE_OK ? encode_text_binary(e, &bin, "binary") : st;
    }
    case ERL_NIF_TERM_TYPE_LIST:
        return encode_list(e, t, depth);
    case ERL_NIF_TERM_TYPE_TUPLE:
        return encode_tuple(e, t, depth);
    case ERL_NIF_TERM_TYPE_MAP:
        return encode_map(e, t, depth);
    case ERL_NIF_TERM_TYPE_REFERENCE:
        if (encode_resource(e, t, &st)) return st;
        return encode_host_term(e, t);
    case ERL_NIF_TERM_TYPE_PID:
    case ERL_NIF_TERM_TYPE_PORT:
    case ERL_NIF_TERM_TYPE_FUN:
        return encode_host_term(e, t);
    default:
        return fail(e, "unsupported term type");
    }
}

encode_status encode_term(term_encoder *e, ERL_NIF_TERM term) {
    return encode_at(e, term, 1);
}

/* A keyword name: an atom or a UTF-8 binary, written as CBOR text. */
static encode_status encode_keyword_name(term_encoder *e, ERL_NIF_TERM key) {
    if (enif_is_atom(e->env, key)) {
        char name[ATOM_NAME_UTF8_MAX];
        int len = ext_atom_utf8_name(e->env, key, name);
        if (len < 0) return fail(e, "cannot read an atom's name");
        return write_ok(e, pyctx_cbor_write_text(e->writer, name, (size_t)len));
    }
    ErlNifBinary bin;
    if (enif_inspect_binary(e->env, key, &bin)) return encode_text_binary(e, &bin, "keyword name");
    return fail(e, "keyword names must be atoms or binaries");
}

int is_empty_keywords(ErlNifEnv *env, ERL_NIF_TERM term) {
    size_t size;
    if (enif_get_map_size(env, term, &size)) return size == 0;
    return enif_is_empty_list(env, term);
}

encode_status encode_keyword_map(term_encoder *e, ERL_NIF_TERM term) {
    size_t size;
    if (enif_get_map_size(e->env, term, &size)) {
        if (pyctx_cbor_write_map(e->writer, size) != 0) return out_of_memory(e);
        ErlNifMapIterator it;
        if (!enif_map_iterator_create(e->env, term, &it, ERL_NIF_MAP_ITERATOR_FIRST))
            return out_of_memory(e);
        encode_status st = ENCODE_OK;
        ERL_NIF_TERM k, v;
        while (st == ENCODE_OK && enif_map_iterator_get_pair(e->env, &it, &k, &v)) {
            st = encode_keyword_name(e, k);
            if (st == ENCODE_OK) st = encode_at(e, v, 2);
            enif_map_iterator_next(e->env, &it);
        }
        enif_map_iterator_destroy(e->env, &it);
        return st;
    }
    unsigned len;
    if (!enif_get_list_length(e->env, term, &len))
        return fail(e, "keywords must be a map or a proplist of {Name, Value}");
    if (pyctx_cbor_write_map(e->writer, len) != 0) return out_of_memory(e);
    ERL_NIF_TERM head;
    while (enif_get_list_cell(e->env, term, &head, &term)) {
        int arity;
        const ERL_NIF_TERM *pair;
        if (!enif_get_tuple(e->env, head, &arity, &pair) || arity != 2)
            return fail(e, "keywords must be a map or a proplist of {Name, Value}");
        encode_status st = encode_keyword_name(e, pair[0]);
        if (st == ENCODE_OK) st = encode_at(e, pair[1], 2);
        if (st != ENCODE_OK) return st;
    }
    return ENCODE_OK;
}
