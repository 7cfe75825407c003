// CBOR -> Python: the decoding half of the value contract (convert.h).
#include "core/python/convert_shared.h"
#include "core/python/objects.h"

namespace pyctx::core {

namespace {

using namespace convert_detail;


// A non-negative int from big-endian magnitude bytes.
PyObject *long_from_be_bytes(const uint8_t *p, size_t n) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(p, n, Py_ASNATIVEBYTES_BIG_ENDIAN);
#else
    return _PyLong_FromByteArray(p, n, /*little_endian=*/0, /*is_signed=*/0);
#endif
}


/* ======================================================================== */
/* Decoding                                                                 */
/* ======================================================================== */

class Decoder {
public:
    Decoder(const uint8_t *data, size_t len, const PyTypes &types, Error *err)
        : data_(data), len_(len), types_(types), err_(err) {}

    size_t pos() const { return pos_; }

    // A definite-length top-level array of at most `cap` items, decoded
    // into items[0..*n) as new references. Returns 0 on success, -1 on a
    // decode error (nothing left allocated), 1 when the input is some other
    // shape (nothing consumed).
    int array_into(PyObject **items, size_t cap, size_t *n) {
        Head h;
        size_t p = 0;
        Error ignored;
        if (!cbor::read_head(data_, len_, &p, &h, &ignored) || h.type != Type::array ||
            h.indefinite || h.arg > cap)
            return 1;
        pos_ = p;
        for (size_t i = 0; i < h.arg; ++i) {
            items[i] = item(1, false);
            if (!items[i]) {
                for (size_t j = 0; j < i; ++j) Py_DECREF(items[j]);
                return -1;
            }
        }
        *n = static_cast<size_t>(h.arg);
        return 0;
    }

    // One item at pos_. `hashable`: the item is a map key or set element, so
    // arrays become tuples, sets frozensets, and maps are an error.
    PyObject *item(int depth, bool hashable) {
        const size_t start = pos_;
        // Fast path for the most common heads (argument in the initial byte:
        // small ints, short strings, small containers; simple values;
        // float64), skipping the general head decoding, which profiling
        // showed as a top cost. Anything unusual, including every error,
        // takes the general path below.
        if (start < len_) {
            const uint8_t ib = data_[start];
            const uint8_t ai = ib & 0x1f;
            const size_t room = len_ - start - 1;
            if (ai < 24) {
                switch (ib >> 5) {
                    case 0:
                        pos_ = start + 1;
                        return check(PyLong_FromLong(ai), start);
                    case 1:
                        pos_ = start + 1;
                        return check(PyLong_FromLong(-1 - static_cast<long>(ai)), start);
                    case 2:
                        if (ai > room) break;
                        pos_ = start + 1 + ai;
                        return check(PyBytes_FromStringAndSize(
                                         reinterpret_cast<const char *>(data_ + start + 1), ai),
                                     start);
                    case 3:
                        if (ai > room) break;
                        pos_ = start + 1 + ai;
                        return utf8(data_ + start + 1, ai, start);
                    case 4: {
                        if (ai > room) break;
                        pos_ = start + 1;
                        Head h;
                        h.type = Type::array;
                        h.arg = ai;
                        return array(h, start, depth, hashable, hashable);
                    }
                    case 5: {
                        if (hashable || ai > room / 2) break;
                        pos_ = start + 1;
                        Head h;
                        h.type = Type::map;
                        h.arg = ai;
                        return map(h, start, depth);
                    }
                    case 7:
                        if (ai < 20) break;  // unsupported simple values
                        pos_ = start + 1;
                        return new_ref(ai == 20 ? Py_False : ai == 21 ? Py_True : Py_None);
                    default:
                        break;  // tags
                }
            } else if (ib == cbor::kFloat64 && room >= 8) {
                uint64_t bits = 0;
                for (size_t i = 1; i <= 8; ++i) bits = (bits << 8) | data_[start + i];
                double d;
                std::memcpy(&d, &bits, sizeof d);
                pos_ = start + 9;
                return check(PyFloat_FromDouble(d), start);
            }
        }
        Head h;
        if (!cbor::read_head(data_, len_, &pos_, &h, err_)) return nullptr;
        switch (h.type) {
            case Type::uint:
                return check(h.arg <= static_cast<uint64_t>(LLONG_MAX)
                                 ? PyLong_FromLongLong(static_cast<long long>(h.arg))
                                 : PyLong_FromUnsignedLongLong(h.arg),
                             start);
            case Type::negint:
                if (h.arg <= static_cast<uint64_t>(LLONG_MAX))
                    return check(PyLong_FromLongLong(static_cast<long long>(~h.arg)), start);
                return negint_big(h.arg, start);
            case Type::bytes:
                return bytes(h, start);
            case Type::text:
                return text(h, start);
            case Type::array:
                return array(h, start, depth, hashable, hashable);
            case Type::map:
                if (hashable)
                    return fail(start,
                                "unhashable map key (a map cannot be a dict key or set element)");
                return map(h, start, depth);
            case Type::tag:
                return tag(h, start, depth, hashable);
            case Type::false_:
                return new_ref(Py_False);
            case Type::true_:
                return new_ref(Py_True);
            case Type::null:
            case Type::undefined:
                return new_ref(Py_None);
            case Type::float_:
                return check(PyFloat_FromDouble(h.float_value), start);
            case Type::simple:
                return fail(start, "unsupported simple value " + std::to_string(h.arg));
            case Type::break_:
                return fail(start, "unexpected break (0xff) outside an indefinite-length item");
        }
        return fail(start, "unsupported item");
    }

    PyObject *fail(size_t offset, std::string_view what) {
        cbor::fail(err_, offset, what);
        return nullptr;
    }

private:
    // Turns a failed Python call (nullptr with an exception set) into our
    // error; passes successes through.
    PyObject *check(PyObject *o, size_t offset) {
        if (o) [[likely]]
            return o;
        return python_error(offset);
    }

    [[gnu::cold, gnu::noinline]] PyObject *python_error(size_t offset) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            PyErr_Clear();
            *err_ = Error(Status::no_memory, "out of memory while decoding CBOR");
            return nullptr;
        }
        return fail(offset, "Python cannot hold the value (" + take_python_error() + ")");
    }

    PyObject *negint_big(uint64_t n, size_t start) {
        Ref u(check(PyLong_FromUnsignedLongLong(n), start));
        if (!u) return nullptr;
        return check(long_invert(u.get()), start);
    }

    // The bytes of a byte string as a bytes object (chunks joined).
    PyObject *bytes(const Head &h, size_t start) {
        if (!h.indefinite)
            return check(PyBytes_FromStringAndSize(reinterpret_cast<const char *>(h.data),
                                                   static_cast<Py_ssize_t>(h.arg)),
                         start);
        return joined_chunks(h, start);
    }

    // Indefinite byte/text string -> bytes object holding the joined chunks.
    PyObject *joined_chunks(const Head &h, size_t start) {
        const size_t first_chunk = pos_;
        size_t total;
        if (!cbor::scan_chunks(data_, len_, &pos_, h.type, true, &total, err_)) return nullptr;
        PyObject *b = check(PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(total)), start);
        if (!b) return nullptr;
        cbor::copy_chunks(data_, len_, first_chunk,
                          reinterpret_cast<uint8_t *>(PyBytes_AS_STRING(b)));
        return b;
    }

    PyObject *text(const Head &h, size_t start) {
        if (!h.indefinite) return utf8(h.data, static_cast<size_t>(h.arg), start);
        // scan_chunks validates each chunk (a character may not span chunks).
        Ref joined(joined_chunks(h, start));
        if (!joined) return nullptr;
        return utf8(reinterpret_cast<const uint8_t *>(PyBytes_AS_STRING(joined.get())),
                    static_cast<size_t>(PyBytes_GET_SIZE(joined.get())), start);
    }

    // PyUnicode_DecodeUTF8 validates (strict) and has an ASCII fast path.
    PyObject *utf8(const uint8_t *p, size_t n, size_t start) {
        PyObject *s = PyUnicode_DecodeUTF8(reinterpret_cast<const char *>(p),
                                           static_cast<Py_ssize_t>(n), nullptr);
        if (s) return s;
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return check(nullptr, start);
        PyErr_Clear();
        size_t bad = 0;
        cbor::utf8_valid(p, n, &bad);
        // p points into data_ except for joined indefinite chunks.
        const bool inside = p >= data_ && p < data_ + len_;
        return fail(start, "text string is not valid UTF-8" +
                               (inside ? " (bad byte at " +
                                             std::to_string(static_cast<size_t>(p - data_) + bad) +
                                             ")"
                                       : std::string()));
    }

    bool enter(size_t start, int depth) {
        if (depth < cbor::kMaxDepth) return true;
        fail(start, "nesting deeper than " + std::to_string(cbor::kMaxDepth) + " levels");
        return false;
    }

    // The end of an indefinite container: consumes the break and returns
    // true, or returns false with pos_ at the next item. Fails at the end of
    // input (with *failed set).
    bool at_break(Type type, bool *failed) {
        if (pos_ >= len_) {
            *failed = true;
            fail(pos_, std::string("unterminated indefinite-length ") + cbor::type_name(type) +
                           " (missing break)");
            return false;
        }
        if (data_[pos_] != cbor::kBreak) return false;
        ++pos_;
        return true;
    }

    // `type` (a pyctx type a tag decodes to), or nullptr with an internal
    // error when the interpreter's pyctx module did not provide it.
    PyObject *loaded(PyObject *type, const char *name) {
        if (!type) *err_ = Error(Status::internal, std::string(name) + " is not loaded");
        return type;
    }

    // True while the container of head `h` has an item at index `i`; false
    // at its end or on an error (then *failed is set).
    bool has_item(const Head &h, uint64_t i, Type type, bool *failed) {
        if (!h.indefinite) return i < h.arg;
        return !at_break(type, failed) && !*failed;
    }

    // An array as a list, or as a tuple when `as_tuple`; `elems_hashable`
    // says whether its elements are in a hashable position.
    PyObject *array(const Head &h, size_t start, int depth, bool as_tuple, bool elems_hashable) {
        if (!enter(start, depth)) return nullptr;
        if (!h.indefinite) {
            const auto n = static_cast<Py_ssize_t>(h.arg);  // <= remaining bytes
            Ref seq(check(as_tuple ? PyTuple_New(n) : PyList_New(n), start));
            if (!seq) return nullptr;
            for (Py_ssize_t i = 0; i < n; ++i) {
                PyObject *v = item(depth + 1, elems_hashable);
                if (!v) return nullptr;  // unfilled slots are NULL: dealloc copes
                if (as_tuple)
                    PyTuple_SET_ITEM(seq.get(), i, v);
                else
                    PyList_SET_ITEM(seq.get(), i, v);
            }
            return seq.release();
        }
        Ref list(check(PyList_New(0), start));
        if (!list) return nullptr;
        bool failed = false;
        while (!at_break(Type::array, &failed)) {
            if (failed) return nullptr;
            Ref v(item(depth + 1, elems_hashable));
            if (!v) return nullptr;
            if (PyList_Append(list.get(), v.get()) < 0) return check(nullptr, start);
        }
        if (failed) return nullptr;
        if (!as_tuple) return list.release();
        return check(PyList_AsTuple(list.get()), start);
    }

    PyObject *map(const Head &h, size_t start, int depth) {
        if (!enter(start, depth)) return nullptr;
        Ref dict(check(PyDict_New(), start));
        if (!dict) return nullptr;
        bool failed = false;
        for (uint64_t i = 0; has_item(h, i, Type::map, &failed); ++i) {
            const size_t key_at = pos_;
            Ref key(item(depth + 1, true));
            if (!key) return nullptr;
            Ref value(item(depth + 1, false));
            if (!value) return nullptr;
            const Py_ssize_t before = PyDict_GET_SIZE(dict.get());
            if (PyDict_SetItem(dict.get(), key.get(), value.get()) < 0)
                return check(nullptr, key_at);
            // Cheap duplicate detection: the dict did not grow. Also catches
            // keys distinct in CBOR but equal in Python (1 and 1.0).
            if (PyDict_GET_SIZE(dict.get()) == before) return fail(key_at, "duplicate map key");
        }
        if (failed) return nullptr;
        return dict.release();
    }

    // The head of the item a tag encloses, which must be of type `want`.
    bool enclosed(uint64_t tag, const char *tag_desc, size_t tag_at, Head *h, Type want) {
        if (!cbor::read_head(data_, len_, &pos_, h, err_)) return false;
        if (h->type == want) return true;
        std::string msg = "tag " + std::to_string(tag) + " (" + tag_desc + ") must enclose " +
                          cbor::describe(want, false);
        msg += ", not " + cbor::describe(h->type, h->indefinite);
        fail(tag_at, msg);
        return false;
    }

    PyObject *tag(const Head &t, size_t start, int depth, bool hashable) {
        Head h;
        const size_t inner = pos_;
        switch (t.arg) {
            case kTagPositiveBignum:
            case kTagNegativeBignum: {
                if (!enclosed(t.arg, t.arg == 2 ? "positive bignum" : "negative bignum", start, &h,
                              Type::bytes))
                    return nullptr;
                Ref joined;
                const uint8_t *p = h.data;
                size_t n = static_cast<size_t>(h.arg);
                if (h.indefinite) {
                    joined.reset(joined_chunks(h, inner));
                    if (!joined) return nullptr;
                    p = reinterpret_cast<const uint8_t *>(PyBytes_AS_STRING(joined.get()));
                    n = static_cast<size_t>(PyBytes_GET_SIZE(joined.get()));
                }
                Ref magnitude(check(long_from_be_bytes(p, n), start));
                if (!magnitude || t.arg == kTagPositiveBignum) return magnitude.release();
                return check(long_invert(magnitude.get()), start);  // -1 - n
            }
            case kTagSymbol: {
                if (!enclosed(t.arg, "symbol", start, &h, Type::text) ||
                    !loaded(types_.symbol_type, "pyctx.Symbol"))
                    return nullptr;
                Ref s(text(h, inner));
                return s ? check(PyObject_CallOneArg(types_.symbol_type, s.get()), start) : nullptr;
            }
            case kTagSet: {
                if (!enclosed(t.arg, "set", start, &h, Type::array)) return nullptr;
                return set(h, inner, depth, hashable);
            }
            case kTagTuple: {
                if (!enclosed(t.arg, "tuple", start, &h, Type::array)) return nullptr;
                return array(h, inner, depth, true, hashable);
            }
            case kTagHostTerm: {
                if (!enclosed(t.arg, "host term", start, &h, Type::bytes) ||
                    !loaded(types_.host_term_type, "pyctx.HostTerm"))
                    return nullptr;
                Ref b(bytes(h, inner));
                return b ? check(host_term_new(types_.host_term_type, b.get()), start) : nullptr;
            }
            case kTagObjectRef:
                return object_ref(t, start);
            case kTagBuffer: {
                if (!enclosed(t.arg, "buffer", start, &h, Type::uint)) return nullptr;
                std::string problem;
                PyObject *view = lent_buffer_view(types_, h.arg, &problem);
                if (!view && !problem.empty()) return fail(start, problem);
                return check(view, start);
            }
            default:
                return fail(start, "unknown tag " + std::to_string(t.arg));
        }
    }

    // [key, id] naming a live handle of this context: that object itself.
    PyObject *object_ref(const Head &t, size_t start) {
        Head h, key, id;
        if (!enclosed(t.arg, "object reference", start, &h, Type::array)) return nullptr;
        const std::string shape =
            "tag " + std::to_string(t.arg) + " (object reference) must enclose [key, id], two unsigned ints";
        if (h.indefinite || h.arg != 2) return fail(start, shape);
        if (!cbor::read_head(data_, len_, &pos_, &key, err_)) return nullptr;
        if (key.type != Type::uint) return fail(start, shape);
        if (!cbor::read_head(data_, len_, &pos_, &id, err_)) return nullptr;
        if (id.type != Type::uint) return fail(start, shape);
        if (!types_.objects)
            return fail(start, "object references cannot be used here (no object handles)");
        std::string why;
        PyObject *obj = types_.objects->resolve(key.arg, id.arg, &why);
        if (!obj) return fail(start, why);
        return obj;
    }

    PyObject *set(const Head &h, size_t start, int depth, bool frozen) {
        if (!enter(start, depth)) return nullptr;
        Ref s(check(frozen ? PyFrozenSet_New(nullptr) : PySet_New(nullptr), start));
        if (!s) return nullptr;
        bool failed = false;
        for (uint64_t i = 0; has_item(h, i, Type::array, &failed); ++i) {
            const size_t elem_at = pos_;
            Ref v(item(depth + 1, true));
            if (!v) return nullptr;
            const Py_ssize_t before = PySet_GET_SIZE(s.get());
            // PySet_Add also fills a brand-new frozenset.
            if (PySet_Add(s.get(), v.get()) < 0) return check(nullptr, elem_at);
            if (PySet_GET_SIZE(s.get()) == before) return fail(elem_at, "duplicate set element");
        }
        if (failed) return nullptr;
        return s.release();
    }

    const uint8_t *data_;
    size_t len_;
    size_t pos_ = 0;
    const PyTypes &types_;
    Error *err_;
};

/* ======================================================================== */
/* Encoding                                                                 */
/* ======================================================================== */

}  // namespace

PyObject *cbor_to_python(const uint8_t *data, size_t len, const PyTypes &types, Error *err) {
    try {
        Decoder d(data, len, types, err);
        Ref r(d.item(0, false));
        if (!r) return nullptr;
        if (d.pos() != len)
            return d.fail(d.pos(), std::to_string(len - d.pos()) +
                                       " trailing byte(s) after the data item");
        return r.release();
    } catch (const std::bad_alloc &) {
        PyErr_Clear();
        *err = Error(Status::no_memory, "out of memory");
        return nullptr;
    }
}

int cbor_array_into(const uint8_t *data, size_t len, const PyTypes &types, PyObject **items,
                    size_t cap, size_t *out_n, Error *err) {
    try {
        Decoder d(data, len, types, err);
        int rc = d.array_into(items, cap, out_n);
        if (rc != 0) return rc;
        if (d.pos() != len) {
            for (size_t i = 0; i < *out_n; ++i) Py_DECREF(items[i]);
            d.fail(d.pos(), std::to_string(len - d.pos()) + " trailing byte(s) after the data item");
            return -1;
        }
        return 0;
    } catch (const std::bad_alloc &) {
        PyErr_Clear();
        *err = Error(Status::no_memory, "out of memory");
        return -1;
    }
}


}  // namespace pyctx::core
