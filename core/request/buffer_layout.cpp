#include "core/request/buffer_layout.h"

#include <sys/types.h>

namespace pyctx::core {

namespace {

Error invalid(std::string msg) { return Error(Status::invalid_argument, std::move(msg)); }

// Sizes of the struct module's codes: native ('@', the default) and standard
// ('=', '<', '>', '!'); 0 where a code has no standard size.
struct Code {
    char code;
    size_t native, standard;
};
constexpr Code kCodes[] = {
    {'?', sizeof(bool), 1},     {'b', 1, 1},
    {'B', 1, 1},                {'c', 1, 1},
    {'h', sizeof(short), 2},    {'H', sizeof(short), 2},
    {'i', sizeof(int), 4},      {'I', sizeof(int), 4},
    {'l', sizeof(long), 4},     {'L', sizeof(long), 4},
    {'q', sizeof(long long), 8}, {'Q', sizeof(long long), 8},
    {'n', sizeof(ssize_t), 0},  {'N', sizeof(size_t), 0},
    {'e', 2, 2},                {'f', 4, 4},
    {'d', 8, 8},                {'P', sizeof(void *), 0},
};

bool mul(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

}  // namespace

size_t BufferLayout::element_bytes() const {
    size_t n = itemsize;
    for (int64_t d : shape) n *= static_cast<size_t>(d);  // checked when the layout was made
    return n;
}

size_t format_itemsize(std::string_view format, std::string *problem) {
    std::string_view f = format;
    bool native = true;
    if (!f.empty() && (f[0] == '@' || f[0] == '=' || f[0] == '<' || f[0] == '>' || f[0] == '!')) {
        native = f[0] == '@';
        f.remove_prefix(1);
    }
    auto bad = [&](const std::string &why) -> size_t {
        *problem = "unsupported buffer format '" + std::string(format) + "': " + why +
                   " (one element code of ?bBchHiIlLqQnNefdP or Zf/Zd, with an optional "
                   "byte-order prefix @ = < > !)";
        return 0;
    };
    if (f == "Zf") return 8;
    if (f == "Zd") return 16;
    if (f.size() != 1) return bad(f.empty() ? "no element code" : "not a single element code");
    for (const Code &c : kCodes) {
        if (c.code != f[0]) continue;
        size_t n = native ? c.native : c.standard;
        if (n == 0) return bad("'" + std::string(1, c.code) + "' has no standard size");
        return n;
    }
    return bad("unknown element code '" + std::string(1, f[0]) + "'");
}

void layout_finish(BufferLayout *l) {
    const int nd = l->ndim();
    if (l->strides.empty()) {
        l->strides.assign(static_cast<size_t>(nd), 0);
        int64_t step = static_cast<int64_t>(l->itemsize);
        for (int i = nd - 1; i >= 0; --i) {
            l->strides[static_cast<size_t>(i)] = step;
            step *= l->shape[static_cast<size_t>(i)];
        }
    }
    // As Python's PyBuffer_IsContiguous sees it: dimensions of length 1 may
    // have any stride; an empty array is contiguous both ways.
    auto contiguous = [&](bool c_order) {
        int64_t want = static_cast<int64_t>(l->itemsize);
        for (int k = 0; k < nd; ++k) {
            const size_t i = static_cast<size_t>(c_order ? nd - 1 - k : k);
            if (l->shape[i] == 0) return true;
            if (l->shape[i] != 1 && l->strides[i] != want) return false;
            want *= l->shape[i];
        }
        return true;
    };
    l->c_contiguous = contiguous(true);
    l->f_contiguous = contiguous(false);
}

Error layout_1d(std::string_view format, size_t len, BufferLayout *out) {
    std::string problem;
    size_t itemsize = format_itemsize(format, &problem);
    if (!itemsize) return invalid(problem);
    if (len % itemsize) {
        return invalid("the buffer's " + std::to_string(len) + " bytes are not a whole number of '" +
                       std::string(format) + "' items of " + std::to_string(itemsize) + " bytes");
    }
    BufferLayout l;
    l.format = std::string(format);
    l.itemsize = itemsize;
    l.shape = {static_cast<int64_t>(len / itemsize)};
    layout_finish(&l);
    *out = std::move(l);
    return {};
}

Error layout_nd(std::string_view format, int ndim, const int64_t *shape, const int64_t *strides,
                size_t len, BufferLayout *out) {
    std::string problem;
    size_t itemsize = format_itemsize(format, &problem);
    if (!itemsize) return invalid(problem);
    if (ndim < 1 || ndim > kMaxBufferDims)
        return invalid("ndim must be 1.." + std::to_string(kMaxBufferDims) + ", not " +
                       std::to_string(ndim));
    if (!shape) return invalid("shape is NULL");
    size_t count = 1;
    for (int i = 0; i < ndim; ++i) {
        if (shape[i] < 0)
            return invalid("shape[" + std::to_string(i) + "] is negative (" +
                           std::to_string(shape[i]) + ")");
        if (!mul(count, static_cast<size_t>(shape[i]), &count))
            return invalid("the shape's element count overflows");
    }
    size_t bytes;
    if (!mul(count, itemsize, &bytes)) return invalid("the shape's size in bytes overflows");
    BufferLayout l;
    l.format = std::string(format);
    l.itemsize = itemsize;
    l.shape.assign(shape, shape + ndim);
    if (!strides) {
        if (bytes != len) {
            return invalid("a C-contiguous shape of " + std::to_string(count) + " '" +
                           std::string(format) + "' items needs " + std::to_string(bytes) +
                           " bytes, the buffer has " + std::to_string(len));
        }
    } else {
        // The furthest byte any element reaches must be inside the buffer.
        size_t last = 0;
        for (int i = 0; i < ndim; ++i) {
            if (strides[i] < 0)
                return invalid("strides[" + std::to_string(i) +
                               "] is negative: lent buffers take non-negative strides");
            size_t reach;
            if (shape[i] > 0 &&
                (!mul(static_cast<size_t>(shape[i] - 1), static_cast<size_t>(strides[i]), &reach) ||
                 __builtin_add_overflow(last, reach, &last)))
                return invalid("the strides reach beyond any buffer (overflow)");
        }
        if (count > 0 && (last > len || len - last < itemsize)) {
            return invalid("shape and strides reach byte " + std::to_string(last + itemsize) +
                           ", beyond the buffer's " + std::to_string(len) + " bytes");
        }
        l.strides.assign(strides, strides + ndim);
    }
    layout_finish(&l);
    *out = std::move(l);
    return {};
}

}  // namespace pyctx::core
