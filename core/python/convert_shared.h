// What the two halves of the CBOR <-> Python conversion share (internal to
// convert_decode.cpp and convert_encode.cpp).
#pragma once

#include "core/python/convert.h"

#include <climits>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/cbor/reader.h"
#include "core/cbor/tags.h"
#include "core/cbor/writer.h"
#include "core/python/buffer_py.h"
#include "core/python/errors.h"
#include "core/python/module.h"
#include "core/python/ref.h"

namespace pyctx::core::convert_detail {

using cbor::Head;
using cbor::Major;
using cbor::Type;
using cbor::kTagBuffer;
using cbor::kTagHostTerm;
using cbor::kTagNegativeBignum;
using cbor::kTagObjectRef;
using cbor::kTagPositiveBignum;
using cbor::kTagSet;
using cbor::kTagSymbol;
using cbor::kTagTuple;
using Ref = PyRef;

inline std::string take_python_error() { return take_python_error_text(); }

// ~v, i.e. -1 - v, using int's own implementation so that int subclasses
// overriding __invert__ (IntFlag) cannot change the result.
inline PyObject *long_invert(PyObject *v) { return PyLong_Type.tp_as_number->nb_invert(v); }

}  // namespace pyctx::core::convert_detail
