// The public CBOR tools (pyctx_cbor_*): a writer, a pull reader, skip and
// diagnostic notation. Thin wrappers over core/cbor_*; no Python involved.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "capi/c_error.h"
#include "core/base/byte_buffer.h"
#include "core/cbor/diag.h"
#include "core/cbor/reader.h"
#include "core/cbor/writer.h"
#include "pyctx.h"

namespace cbor = pyctx::core::cbor;
using pyctx::capi::make_error;
using pyctx::core::Error;


struct pyctx_cbor_writer {
    pyctx::core::ByteBuffer buf;
};

namespace {

int rc(bool ok) { return ok ? 0 : -1; }

// Argument checks shared by read and skip. Returns an error or NULL.
pyctx_error_t *check_reader(const pyctx_cbor_reader_t *r) {
    if (!r) return make_error(PYCTX_ERR_INVALID_ARGUMENT, "reader is NULL");
    if (!r->data && r->len) return make_error(PYCTX_ERR_INVALID_ARGUMENT, "reader data is NULL");
    if (r->pos > r->len)
        return make_error(PYCTX_ERR_INVALID_ARGUMENT, "reader position is past the end");
    return nullptr;
}

pyctx_error_t *from_exception() {
    try {
        throw;
    } catch (const std::bad_alloc &) {
        return make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
    } catch (...) {
        return make_error(PYCTX_ERR_INTERNAL, "unexpected internal exception");
    }
}

// The body of pyctx_cbor_read, which may throw std::bad_alloc while building
// an error message.
pyctx_error_t *read_item(pyctx_cbor_reader_t *r, pyctx_cbor_item_t *out) {
    Error err;
    size_t pos = r->pos;
    cbor::Head h;
    if (!cbor::read_head(r->data, r->len, &pos, &h, &err)) return make_error(std::move(err));

    // The reader struct carries no nesting state, so only a break at the very
    // start is certainly misplaced; callers track indefinite items themselves
    // (pyctx_cbor_skip and the decoders reject every stray break).
    if (h.type == cbor::Type::break_ && r->pos == 0) {
        cbor::fail(&err, 0, "unexpected break (0xff) outside an indefinite-length item");
        return make_error(std::move(err));
    }
    if (h.type == cbor::Type::text && !h.indefinite) {
        size_t bad;
        if (!cbor::utf8_valid(h.data, h.arg, &bad)) {
            cbor::fail(&err, r->pos,
                       "text string is not valid UTF-8 (bad byte at " +
                           std::to_string(static_cast<size_t>(h.data - r->data) + bad) + ")");
            return make_error(std::move(err));
        }
    }
    if (h.indefinite && (h.type == cbor::Type::bytes || h.type == cbor::Type::text)) {
        // Check every chunk now, so that the chunks the caller reads next are
        // known to be well-formed and of the right type.
        size_t end = pos, total;
        if (!cbor::scan_chunks(r->data, r->len, &end, h.type, true, &total, &err))
            return make_error(std::move(err));
    }

    pyctx_cbor_item_t item{};
    item.type = static_cast<pyctx_cbor_type>(h.type);
    item.indefinite = h.indefinite ? 1 : 0;
    switch (h.type) {
        case cbor::Type::uint:
            item.uint_value = h.arg;
            item.fits_int64 = h.arg <= static_cast<uint64_t>(INT64_MAX);
            if (item.fits_int64) item.int_value = static_cast<int64_t>(h.arg);
            break;
        case cbor::Type::negint:
            item.uint_value = h.arg;
            item.fits_int64 = h.arg <= static_cast<uint64_t>(INT64_MAX);
            // -1 - n == ~n in two's complement.
            if (item.fits_int64) item.int_value = static_cast<int64_t>(~h.arg);
            break;
        case cbor::Type::bytes:
        case cbor::Type::text:
            item.data = h.data;
            item.len = static_cast<size_t>(h.arg);
            break;
        case cbor::Type::array:
        case cbor::Type::map:
            item.count = h.arg;
            break;
        case cbor::Type::tag:
        case cbor::Type::simple:
            item.uint_value = h.arg;
            break;
        case cbor::Type::float_:
            item.float_value = h.float_value;
            break;
        default:
            break;
    }
    *out = item;
    r->pos = pos;
    return nullptr;
}

}  // namespace

extern "C" {

/* ---- writer ------------------------------------------------------------ */

PYCTX_API pyctx_cbor_writer_t *pyctx_cbor_writer_new(void) {
    return new (std::nothrow) pyctx_cbor_writer;
}

PYCTX_API void pyctx_cbor_writer_free(pyctx_cbor_writer_t *writer) { delete writer; }

PYCTX_API void pyctx_cbor_writer_reset(pyctx_cbor_writer_t *writer) {
    if (writer) writer->buf.clear();
}

PYCTX_API int pyctx_cbor_write_null(pyctx_cbor_writer_t *writer) {
    return writer ? rc(cbor::write_null(writer->buf)) : -1;
}

PYCTX_API int pyctx_cbor_write_bool(pyctx_cbor_writer_t *writer, int value) {
    return writer ? rc(cbor::write_bool(writer->buf, value != 0)) : -1;
}

PYCTX_API int pyctx_cbor_write_int(pyctx_cbor_writer_t *writer, int64_t value) {
    return writer ? rc(cbor::write_int(writer->buf, value)) : -1;
}

PYCTX_API int pyctx_cbor_write_uint(pyctx_cbor_writer_t *writer, uint64_t value) {
    return writer ? rc(cbor::write_uint(writer->buf, value)) : -1;
}

PYCTX_API int pyctx_cbor_write_float(pyctx_cbor_writer_t *writer, double value) {
    return writer ? rc(cbor::write_double(writer->buf, value)) : -1;
}

PYCTX_API int pyctx_cbor_write_text(pyctx_cbor_writer_t *writer, const char *text, size_t len) {
    if (!writer || (!text && len)) return -1;
    return rc(cbor::write_text(writer->buf, text, len));
}

PYCTX_API int pyctx_cbor_write_cstr(pyctx_cbor_writer_t *writer, const char *text) {
    if (!writer || !text) return -1;
    return rc(cbor::write_text(writer->buf, text, std::strlen(text)));
}

PYCTX_API int pyctx_cbor_write_bytes(pyctx_cbor_writer_t *writer, const uint8_t *data,
                                     size_t len) {
    if (!writer || (!data && len)) return -1;
    return rc(cbor::write_bytes(writer->buf, data, len));
}

PYCTX_API int pyctx_cbor_write_array(pyctx_cbor_writer_t *writer, uint64_t count) {
    return writer ? rc(cbor::write_head(writer->buf, cbor::Major::array, count)) : -1;
}

PYCTX_API int pyctx_cbor_write_map(pyctx_cbor_writer_t *writer, uint64_t count) {
    return writer ? rc(cbor::write_head(writer->buf, cbor::Major::map, count)) : -1;
}

PYCTX_API int pyctx_cbor_write_tag(pyctx_cbor_writer_t *writer, uint64_t tag) {
    return writer ? rc(cbor::write_head(writer->buf, cbor::Major::tag, tag)) : -1;
}

PYCTX_API int pyctx_cbor_write_raw(pyctx_cbor_writer_t *writer, const uint8_t *data, size_t len) {
    if (!writer || (!data && len)) return -1;
    return rc(writer->buf.append(data, len));
}

PYCTX_API const uint8_t *pyctx_cbor_writer_data(const pyctx_cbor_writer_t *writer,
                                                size_t *out_len) {
    // A valid writer never yields NULL, even before the first write.
    static const uint8_t empty[1] = {0};
    if (!writer) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    if (out_len) *out_len = writer->buf.size();
    return writer->buf.data() ? writer->buf.data() : empty;
}

/* ---- reader ------------------------------------------------------------ */

PYCTX_API void pyctx_cbor_reader_init(pyctx_cbor_reader_t *reader, const uint8_t *data,
                                      size_t len) {
    if (!reader) return;
    reader->data = data;
    reader->len = data ? len : 0;
    reader->pos = 0;
}

PYCTX_API pyctx_error_t *pyctx_cbor_read(pyctx_cbor_reader_t *reader,
                                         pyctx_cbor_item_t *out_item) {
    try {
        if (pyctx_error_t *e = check_reader(reader)) return e;
        if (!out_item) return make_error(PYCTX_ERR_INVALID_ARGUMENT, "out_item is NULL");
        return read_item(reader, out_item);
    } catch (...) {
        return from_exception();
    }
}

PYCTX_API pyctx_error_t *pyctx_cbor_skip(pyctx_cbor_reader_t *reader) {
    try {
        if (pyctx_error_t *e = check_reader(reader)) return e;
        Error err;
        size_t pos = reader->pos;
        if (!cbor::skip_item(reader->data, reader->len, &pos, &err))
            return make_error(std::move(err));
        reader->pos = pos;
        return nullptr;
    } catch (...) {
        return from_exception();
    }
}

PYCTX_API int pyctx_cbor_reader_at_end(const pyctx_cbor_reader_t *reader) {
    return !reader || reader->pos >= reader->len ? 1 : 0;
}

/* ---- diagnostic notation ----------------------------------------------- */

PYCTX_API pyctx_error_t *pyctx_cbor_diagnose(const uint8_t *data, size_t len,
                                             pyctx_bytes_t *out_text) {
    try {
        if (!out_text) return make_error(PYCTX_ERR_INVALID_ARGUMENT, "out_text is NULL");
        if (!data && len) return make_error(PYCTX_ERR_INVALID_ARGUMENT, "data is NULL");
        std::string text;
        Error err;
        if (!cbor::diagnose(data, len, &text, &err)) return make_error(std::move(err));
        auto *p = static_cast<uint8_t *>(std::malloc(text.size() + 1));
        if (!p) return make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
        std::memcpy(p, text.c_str(), text.size() + 1);
        out_text->data = p;
        out_text->len = text.size();
        return nullptr;
    } catch (...) {
        return from_exception();
    }
}

}  // extern "C"
