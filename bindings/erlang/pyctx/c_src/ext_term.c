#include "ext_term.h"

#include <stdlib.h>
#include <string.h>

/* External term format tags (erts/emulator/beam/external.h). */
enum {
    EXT_VERSION = 131,
    EXT_SMALL_BIG = 110,
    EXT_LARGE_BIG = 111,
    EXT_ATOM_UTF8 = 118,
    EXT_SMALL_ATOM_UTF8 = 119,
    EXT_ATOM_LATIN1 = 100,
    EXT_SMALL_ATOM_LATIN1 = 115
};

int ext_bignum_magnitude(ErlNifEnv *env, ERL_NIF_TERM term, int *out_negative,
                         ErlNifBinary *out) {
    ErlNifBinary ext;
    if (!enif_is_number(env, term) || !enif_term_to_binary(env, term, &ext)) return 0;
    const uint8_t *p = ext.data;
    size_t n, header;
    if (ext.size >= 4 && p[1] == EXT_SMALL_BIG) {
        n = p[2];
        header = 3;
    } else if (ext.size >= 7 && p[1] == EXT_LARGE_BIG) {
        n = ((size_t)p[2] << 24) | ((size_t)p[3] << 16) | ((size_t)p[4] << 8) | p[5];
        header = 6;
    } else {
        enif_release_binary(&ext);
        return 0;
    }
    if (ext.size < header + 1 + n) {
        enif_release_binary(&ext);
        return 0;
    }
    const uint8_t *digits = p + header + 1; /* little-endian */
    while (n > 0 && digits[n - 1] == 0) n--;
    if (!enif_alloc_binary(n, out)) {
        enif_release_binary(&ext);
        return 0;
    }
    for (size_t i = 0; i < n; i++) out->data[i] = digits[n - 1 - i];
    *out_negative = p[header] != 0;
    enif_release_binary(&ext);
    return 1;
}

int ext_make_integer(ErlNifEnv *env, int negative, const uint8_t *be, size_t len,
                     ERL_NIF_TERM *out) {
    while (len > 0 && be[0] == 0) {
        be++;
        len--;
    }
    if (len <= 8) {
        uint64_t m = 0;
        for (size_t i = 0; i < len; i++) m = (m << 8) | be[i];
        if (!negative) {
            *out = enif_make_uint64(env, m);
            return 1;
        }
        if (m <= (uint64_t)1 << 63) {
            *out = enif_make_int64(env, (int64_t)(0 - m));
            return 1;
        }
    }
    /* LARGE_BIG_EXT: version, tag, 4-byte length, sign, little-endian digits */
    size_t size = 7 + len;
    uint8_t stack[128];
    uint8_t *buf = size <= sizeof stack ? stack : malloc(size);
    if (buf == NULL) return 0;
    buf[0] = EXT_VERSION;
    buf[1] = EXT_LARGE_BIG;
    buf[2] = (uint8_t)(len >> 24);
    buf[3] = (uint8_t)(len >> 16);
    buf[4] = (uint8_t)(len >> 8);
    buf[5] = (uint8_t)len;
    buf[6] = negative ? 1 : 0;
    for (size_t i = 0; i < len; i++) buf[7 + i] = be[len - 1 - i];
    size_t used = enif_binary_to_term(env, buf, size, out, 0);
    if (buf != stack) free(buf);
    return used == size;
}

int ext_atom_utf8_name(ErlNifEnv *env, ERL_NIF_TERM term, char *buf) {
    /* Fast path: every atom whose characters are all Latin-1. */
    char latin1[256];
    int n = enif_get_atom(env, term, latin1, sizeof latin1, ERL_NIF_LATIN1);
    if (n > 0) {
        int len = 0;
        for (int i = 0; i < n - 1; i++) {
            uint8_t c = (uint8_t)latin1[i];
            if (c < 0x80) {
                buf[len++] = (char)c;
            } else {
                buf[len++] = (char)(0xC0 | (c >> 6));
                buf[len++] = (char)(0x80 | (c & 0x3F));
            }
        }
        return len;
    }
    if (!enif_is_atom(env, term)) return -1;
    /* Characters beyond Latin-1: read the UTF-8 name from the external form. */
    ErlNifBinary ext;
    if (!enif_term_to_binary(env, term, &ext)) return -1;
    int len = -1;
    const uint8_t *p = ext.data;
    if (ext.size >= 3 && p[1] == EXT_SMALL_ATOM_UTF8 && ext.size >= 3u + p[2]) {
        len = p[2];
        memcpy(buf, p + 3, (size_t)len);
    } else if (ext.size >= 4 && p[1] == EXT_ATOM_UTF8) {
        size_t l = ((size_t)p[2] << 8) | p[3];
        if (l <= ATOM_NAME_UTF8_MAX && ext.size >= 4 + l) {
            len = (int)l;
            memcpy(buf, p + 4, l);
        }
    }
    enif_release_binary(&ext);
    return len;
}

int ext_existing_atom_utf8(ErlNifEnv *env, const uint8_t *utf8, size_t len, ERL_NIF_TERM *out) {
    if (len > ATOM_NAME_UTF8_MAX) return 0;
    /* Fast path: pure ASCII names are the same in Latin-1. */
    size_t i = 0;
    while (i < len && utf8[i] < 0x80) i++;
    if (i == len) return enif_make_existing_atom_len(env, (const char *)utf8, len, out,
                                                     ERL_NIF_LATIN1);
    /* Otherwise look it up through the external format in safe mode, which
     * fails instead of creating an atom that does not exist yet. */
    uint8_t buf[4 + ATOM_NAME_UTF8_MAX];
    buf[0] = EXT_VERSION;
    buf[1] = EXT_ATOM_UTF8;
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    memcpy(buf + 4, utf8, len);
    size_t used = enif_binary_to_term(env, buf, 4 + len, out, ERL_NIF_BIN2TERM_SAFE);
    return used == 4 + len && enif_is_atom(env, *out);
}
