// The element layout of a buffer that crosses the boundary: PEP 3118
// element format, shape and strides, checked against the memory that holds
// them. Pure data and checks (no Python), shared by the C API, which checks
// what a host lends, and the Python glue, which hands the layout to Python's
// buffer protocol or reads it back from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/error.h"

namespace pyctx::core {

// Python's buffer protocol allows at most 64 dimensions (PyBUF_MAX_NDIM).
inline constexpr int kMaxBufferDims = 64;

struct BufferLayout {
    std::string format = "B";  // PEP 3118 (struct module) element format
    size_t itemsize = 1;
    std::vector<int64_t> shape;    // ndim entries (at least one)
    std::vector<int64_t> strides;  // ndim entries, in bytes
    bool c_contiguous = true;
    bool f_contiguous = true;

    int ndim() const { return static_cast<int>(shape.size()); }
    // itemsize * product(shape): the bytes of the elements (Py_buffer.len).
    size_t element_bytes() const;
};

// The item size of a PEP 3118 element format, or 0 with *problem set. The
// accepted formats are one element code with an optional byte-order prefix
// ('@', '=', '<', '>', '!'): ? b B c h H i I l L q Q n N e f d P (n, N and P
// native only), and the complex codes Zf and Zd.
size_t format_itemsize(std::string_view format, std::string *problem);

// The one-dimensional layout of `len` bytes of `format` (len must be a
// multiple of its item size).
Error layout_1d(std::string_view format, size_t len, BufferLayout *out);

// A layout of `ndim` dimensions over `len` bytes. Without strides the
// elements are C-contiguous and must fill exactly `len` bytes; with strides
// (non-negative, in bytes), every element must lie inside [0, len).
Error layout_nd(std::string_view format, int ndim, const int64_t *shape, const int64_t *strides,
                size_t len, BufferLayout *out);

// Contiguity flags and, for empty `strides`, C-order strides: completes a
// layout whose format, itemsize and shape are set (a Python exporter's).
void layout_finish(BufferLayout *layout);

}  // namespace pyctx::core
