// libFuzzer target over the public CBOR tools: the pull reader
// (pyctx_cbor_read), pyctx_cbor_skip and pyctx_cbor_diagnose. No Python.
//
// Beyond "does not crash", it checks what the header promises and that the
// three agree with each other:
//  - read: on success the reader advances and the item's bytes lie inside
//    the buffer; on failure the reader does not move and the status is DECODE;
//  - skip: the same, and a whole-buffer walk of items read one by one (with
//    the nesting tracked here) accepts exactly what skip accepts;
//  - diagnose: succeeds exactly when skip accepts one item that spans the
//    whole buffer, and yields NUL-terminated text of the length it reports.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pyctx.h"

namespace {

[[noreturn]] void fail(const char *what, const pyctx_error_t *e = nullptr) {
    std::fprintf(stderr, "fuzz_cbor: %s%s%s\n", what, e ? ": " : "",
                 e ? pyctx_error_message(e) : "");
    std::abort();
}

// Every error the reader tools give for input bytes is a decode error with a
// message.
void check_decode_error(pyctx_error_t *e, const char *who) {
    if (pyctx_error_status(e) != PYCTX_ERR_DECODE) fail(who, e);
    const char *msg = pyctx_error_message(e);
    if (!msg || !*msg) fail("empty error message");
    pyctx_error_free(e);
}

bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t len) {
    return p >= data && n <= len && static_cast<size_t>(p - data) <= len - n;
}

// Reads every item head until the end or the first error.
void read_loop(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    while (!pyctx_cbor_reader_at_end(&r)) {
        size_t before = r.pos;
        pyctx_cbor_item_t item;
        if (pyctx_error_t *e = pyctx_cbor_read(&r, &item)) {
            if (r.pos != before) fail("read moved the reader on error");
            check_decode_error(e, "read");
            return;
        }
        if (r.pos <= before || r.pos > len) fail("read did not advance within the buffer");
        if ((item.type == PYCTX_CBOR_BYTES || item.type == PYCTX_CBOR_TEXT) &&
            !item.indefinite && !inside(item.data, item.len, data, len))
            fail("string item outside the buffer");
        if ((item.type == PYCTX_CBOR_UINT || item.type == PYCTX_CBOR_NEGINT) &&
            item.fits_int64 != (item.uint_value <= INT64_MAX))
            fail("fits_int64 disagrees with uint_value");
        if (item.type == PYCTX_CBOR_NEGINT && item.fits_int64 &&
            item.int_value != -1 - static_cast<int64_t>(item.uint_value))
            fail("negint int_value is not -1 - n");
    }
}

// One data item, walked with pyctx_cbor_read and explicit nesting. Returns
// true when the item is complete and well-formed, leaving the reader after it.
// Mirrors what the header says skip checks: a break only where an
// indefinite-length array or map (or string chunk list) may end, and nesting
// of arrays and maps no deeper than PYCTX_CBOR_MAX_DEPTH.
bool walk_item(pyctx_cbor_reader_t *r) {
    struct Frame {
        uint64_t left;  // definite: items still expected; indefinite: items seen
        bool indefinite;
        bool map;
    };
    std::vector<Frame> stack;
    bool after_tag = false;  // the previous head was a tag: an item must follow
    for (;;) {
        pyctx_cbor_item_t item;
        if (pyctx_error_t *e = pyctx_cbor_read(r, &item)) {
            check_decode_error(e, "read (walk)");
            return false;
        }
        bool done_one = true;  // this item is complete once read
        if (item.type == PYCTX_CBOR_BREAK) {
            if (after_tag || stack.empty() || !stack.back().indefinite) return false;
            if (stack.back().map && stack.back().left % 2) return false;
            stack.pop_back();
        } else if (item.type == PYCTX_CBOR_TAG) {
            done_one = false;  // the tagged item follows
        } else if ((item.type == PYCTX_CBOR_BYTES || item.type == PYCTX_CBOR_TEXT) &&
                   item.indefinite) {
            // read has checked the chunks; step over them and the break.
            for (;;) {
                pyctx_cbor_item_t chunk;
                if (pyctx_error_t *e = pyctx_cbor_read(r, &chunk)) {
                    check_decode_error(e, "read (chunk)");
                    return false;
                }
                if (chunk.type == PYCTX_CBOR_BREAK) break;
                if (chunk.type != item.type || chunk.indefinite)
                    fail("read accepted an indefinite string with a bad chunk");
            }
        } else if (item.type == PYCTX_CBOR_ARRAY || item.type == PYCTX_CBOR_MAP) {
            if (stack.size() >= PYCTX_CBOR_MAX_DEPTH) return false;
            bool map = item.type == PYCTX_CBOR_MAP;
            uint64_t n = item.indefinite ? 0 : item.count;
            if (map && !item.indefinite) {
                if (n > UINT64_MAX / 2) return false;
                n *= 2;
            }
            if (item.indefinite || n > 0) {
                stack.push_back({n, item.indefinite != 0, map});
                done_one = false;
            }
        }
        after_tag = item.type == PYCTX_CBOR_TAG;
        if (!done_one) continue;
        // Count the completed item in its enclosing frames; a definite
        // container whose last item this was is itself complete.
        while (!stack.empty()) {
            Frame &f = stack.back();
            if (f.indefinite) {
                ++f.left;
                break;
            }
            if (--f.left > 0) break;
            stack.pop_back();
        }
        if (stack.empty()) return true;
    }
}

void skip_loop(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r, w;
    pyctx_cbor_reader_init(&r, data, len);
    pyctx_cbor_reader_init(&w, data, len);
    while (!pyctx_cbor_reader_at_end(&r)) {
        size_t before = r.pos;
        pyctx_error_t *e = pyctx_cbor_skip(&r);
        bool walked = walk_item(&w);
        if (e) {
            if (r.pos != before) fail("skip moved the reader on error");
            if (walked) fail("skip rejected an item the read walk accepts", e);
            check_decode_error(e, "skip");
            return;
        }
        if (r.pos <= before || r.pos > len) fail("skip did not advance within the buffer");
        if (!walked) fail("skip accepted an item the read walk rejects");
        if (w.pos != r.pos) fail("skip and the read walk end at different offsets");
    }
}

void diagnose(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    pyctx_error_t *se = pyctx_cbor_skip(&r);
    bool one_item = !se && pyctx_cbor_reader_at_end(&r);
    pyctx_error_free(se);

    pyctx_bytes_t text = {nullptr, 0};
    pyctx_error_t *e = pyctx_cbor_diagnose(data, len, &text);
    if (e) {
        if (one_item) fail("diagnose rejected a whole item skip accepts", e);
        check_decode_error(e, "diagnose");
        return;
    }
    if (!one_item) fail("diagnose accepted what skip rejects (or trailing bytes)");
    if (!text.data || text.len == 0 || text.data[text.len] != 0 ||
        std::strlen(reinterpret_cast<const char *>(text.data)) != text.len)
        fail("diagnose text is not NUL-terminated at its length");
    pyctx_bytes_free(&text);
    if (text.data || text.len) fail("pyctx_bytes_free did not zero the struct");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_loop(data, size);
    skip_loop(data, size);
    diagnose(data, size);
    return 0;
}
