// Python -> CBOR: the encoding half of the value contract (convert.h).
#include "core/python/convert_shared.h"

namespace pyctx::core {

namespace {

using namespace convert_detail;

// Big-endian magnitude bytes of a non-negative int (n bytes exactly fit it).
bool long_to_be_bytes(PyObject *v, uint8_t *p, size_t n) {
#if PY_VERSION_HEX >= 0x030D0000
    const Py_ssize_t r = PyLong_AsNativeBytes(
        v, p, static_cast<Py_ssize_t>(n), Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER);
    return r >= 0 && static_cast<size_t>(r) <= n;
#else
    return _PyLong_AsByteArray(reinterpret_cast<PyLongObject *>(v), p, n, /*little_endian=*/0,
                               /*is_signed=*/0) == 0;
#endif
}

class Encoder {
public:
    Encoder(const PyTypes &types, ByteBuffer &out, Error *err)
        : types_(types), out_(out), err_(err) {}

    bool encode(PyObject *obj, int depth) {
        // Exact types first, in rough order of frequency.
        PyTypeObject *tp = Py_TYPE(obj);
        if (tp == &PyUnicode_Type) return str(obj);
        if (tp == &PyLong_Type) return integer(obj);
        if (obj == Py_None) return ok(cbor::write_null(out_));
        if (tp == &PyBool_Type) return ok(cbor::write_bool(out_, obj == Py_True));
        if (tp == &PyFloat_Type) return ok(cbor::write_double(out_, PyFloat_AS_DOUBLE(obj)));
        if (tp == &PyList_Type) return list(obj, depth);
        if (tp == &PyDict_Type) return dict(obj, depth);
        if (tp == &PyTuple_Type) return tuple(obj, depth);
        if (tp == &PyBytes_Type)
            return ok(cbor::write_bytes(out_, PyBytes_AS_STRING(obj),
                                        static_cast<size_t>(PyBytes_GET_SIZE(obj))));
        if (reinterpret_cast<PyObject *>(tp) == types_.symbol_type)
            return ok(cbor::write_head(out_, Major::tag, kTagSymbol)) && str(obj);
        if (reinterpret_cast<PyObject *>(tp) == types_.host_term_type) {
            PyObject *b = host_term_data(obj);
            return ok(cbor::write_head(out_, Major::tag, kTagHostTerm)) &&
                   ok(cbor::write_bytes(out_, PyBytes_AS_STRING(b),
                                        static_cast<size_t>(PyBytes_GET_SIZE(b))));
        }
        // Subclasses encode as their base (bool cannot be subclassed).
        if (PyLong_Check(obj)) return integer(obj);
        if (PyFloat_Check(obj)) return ok(cbor::write_double(out_, PyFloat_AS_DOUBLE(obj)));
        if (PyUnicode_Check(obj)) return str(obj);
        if (PyList_Check(obj)) return list(obj, depth);
        if (PyDict_Check(obj)) return dict(obj, depth);
        if (PyTuple_Check(obj)) return tuple(obj, depth);
        if (PyAnySet_Check(obj)) return set(obj, depth);
        if (PyBytes_Check(obj))
            return ok(cbor::write_bytes(out_, PyBytes_AS_STRING(obj),
                                        static_cast<size_t>(PyBytes_GET_SIZE(obj))));
        if (PyByteArray_Check(obj))
            return ok(cbor::write_bytes(out_, PyByteArray_AS_STRING(obj),
                                        static_cast<size_t>(PyByteArray_GET_SIZE(obj))));
        if (PyMemoryView_Check(obj)) return memoryview(obj);
        return leaf_error(obj, "");
    }

    // Completes *err_ with the path collected while unwinding.
    void finish() {
        if (!failed_ || err_->status != Status::encode) return;
        std::string msg = std::move(leaf_message_);
        if (!path_.empty()) {
            msg += " (at ";
            // Segments were pushed innermost first. Very deep paths (a
            // self-referencing list) keep their outer and inner ends.
            const size_t n = path_.size();
            for (size_t k = 0; k < n; ++k) {
                if (n > 16 && k == 8) {
                    msg += "...";
                    k = n - 8;
                }
                msg += path_[n - 1 - k];
            }
            msg += ")";
        }
        err_->message = std::move(msg);
    }

private:
    bool ok(bool written) {
        if (written) return true;
        failed_ = true;
        *err_ = Error(Status::no_memory, "out of memory while encoding CBOR");
        return false;
    }

    // An encode error about obj; `detail` follows the type name.
    bool leaf_error(PyObject *obj, const std::string &detail) {
        failed_ = true;
        leaf_message_ = std::string("cannot encode Python object of type '") +
                        Py_TYPE(obj)->tp_name + "'" + detail;
        *err_ = Error(Status::encode, leaf_message_);
        return false;
    }

    // A Python call failed: record why, clearing the exception.
    bool python_failure(PyObject *obj) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            PyErr_Clear();
            return ok(false);
        }
        return leaf_error(obj, ": " + take_python_error());
    }

    bool str(PyObject *obj) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(obj, &n);
        if (!p) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                PyErr_Clear();
                return leaf_error(obj, ": it contains a lone surrogate, which is not valid UTF-8");
            }
            return python_failure(obj);
        }
        return ok(cbor::write_text(out_, p, static_cast<size_t>(n)));
    }

    bool integer(PyObject *obj) {
        int overflow = 0;
        const long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (!overflow) {
            if (v == -1 && PyErr_Occurred()) return python_failure(obj);
            return ok(cbor::write_int(out_, v));
        }
        if (overflow > 0) {
            const unsigned long long u = PyLong_AsUnsignedLongLong(obj);
            if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred()))
                return ok(cbor::write_uint(out_, u));
            PyErr_Clear();  // OverflowError: needs a bignum
            return bignum(obj, obj, kTagPositiveBignum);
        }
        // Negative: CBOR stores n = -1 - v, as major type 1 when it fits.
        Ref n(long_invert(obj));
        if (!n) return python_failure(obj);
        const unsigned long long u = PyLong_AsUnsignedLongLong(n.get());
        if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred()))
            return ok(cbor::write_head(out_, Major::negint, u));
        PyErr_Clear();
        return bignum(obj, n.get(), kTagNegativeBignum);
    }

    // Tag 2/3 + the big-endian bytes of the non-negative int `magnitude`.
    bool bignum(PyObject *obj, PyObject *magnitude, uint64_t tag) {
        const size_t bits = _PyLong_NumBits(magnitude);
        if (bits == static_cast<size_t>(-1) && PyErr_Occurred()) return python_failure(obj);
        const size_t n = (bits + 7) / 8;
        std::vector<uint8_t> tmp(n);
        if (!long_to_be_bytes(magnitude, tmp.data(), n)) return python_failure(obj);
        return ok(cbor::write_head(out_, Major::tag, tag)) &&
               ok(cbor::write_bytes(out_, tmp.data(), n));
    }

    bool memoryview(PyObject *obj) {
        Py_buffer view;
        if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) == 0) {
            const bool w = cbor::write_bytes(out_, view.buf, static_cast<size_t>(view.len));
            PyBuffer_Release(&view);
            return ok(w);
        }
        // Not C-contiguous: let Python make a contiguous copy.
        PyErr_Clear();
        Ref b(PyBytes_FromObject(obj));
        if (!b) return python_failure(obj);
        return ok(cbor::write_bytes(out_, PyBytes_AS_STRING(b.get()),
                                    static_cast<size_t>(PyBytes_GET_SIZE(b.get()))));
    }

    bool enter(PyObject *obj, int depth) {
        if (depth < cbor::kMaxDepth) return true;
        failed_ = true;
        leaf_message_ = std::string("cannot encode Python object of type '") +
                        Py_TYPE(obj)->tp_name + "': nesting deeper than " +
                        std::to_string(cbor::kMaxDepth) +
                        " levels (is a container inside itself?)";
        *err_ = Error(Status::encode, leaf_message_);
        return false;
    }

    bool fail_at_index(Py_ssize_t i) {
        path_.push_back("[" + std::to_string(i) + "]");
        return false;
    }

    // Items are held by a strong reference while encoded: on free-threaded
    // builds another thread may shrink the container meanwhile.
    bool sequence_items(PyObject *obj, int depth, bool is_list) {
        const Py_ssize_t n = is_list ? PyList_GET_SIZE(obj) : PyTuple_GET_SIZE(obj);
        if (!ok(cbor::write_head(out_, Major::array, static_cast<uint64_t>(n)))) return false;
        for (Py_ssize_t i = 0; i < n; ++i) {
            PyObject *borrowed;
            if (is_list) {
                if (i >= PyList_GET_SIZE(obj)) return leaf_error(obj, ": it changed size while encoded");
                borrowed = PyList_GET_ITEM(obj, i);
            } else {
                borrowed = PyTuple_GET_ITEM(obj, i);
            }
            Ref v(new_ref(borrowed));
            if (!encode(v.get(), depth + 1)) return fail_at_index(i);
        }
        return true;
    }

    // Runs `walk` with `obj` locked against other threads where there is no
    // GIL to do it (free-threaded builds); elsewhere the GIL already does.
    template <class Walk>
    static bool locked(PyObject *obj, Walk &&walk) {
#ifdef Py_GIL_DISABLED
        bool r;
        Py_BEGIN_CRITICAL_SECTION(obj);
        r = walk();
        Py_END_CRITICAL_SECTION();
        return r;
#else
        (void)obj;
        return walk();
#endif
    }

    bool list(PyObject *obj, int depth) {
        return enter(obj, depth) && locked(obj, [&] { return sequence_items(obj, depth, true); });
    }

    bool tuple(PyObject *obj, int depth) {
        if (!enter(obj, depth)) return false;
        return ok(cbor::write_head(out_, Major::tag, kTagTuple)) &&
               sequence_items(obj, depth, false);
    }

    // A short repr of a dict key for error paths.
    static std::string key_repr(PyObject *key) {
        Ref r(PyObject_Repr(key));
        const char *u = r ? PyUnicode_AsUTF8(r.get()) : nullptr;
        if (!u) {
            PyErr_Clear();
            return std::string("<") + Py_TYPE(key)->tp_name + ">";
        }
        std::string s(u);
        if (s.size() > 40) s = s.substr(0, 37) + "...";
        return s;
    }

    bool dict_items(PyObject *obj, int depth) {
        const Py_ssize_t n = PyDict_GET_SIZE(obj);
        if (!ok(cbor::write_head(out_, Major::map, static_cast<uint64_t>(n)))) return false;
        Py_ssize_t pos = 0, count = 0;
        PyObject *k, *v;
        while (PyDict_Next(obj, &pos, &k, &v)) {
            if (++count > n) return leaf_error(obj, ": it changed size while encoded");
            Ref key(new_ref(k)), value(new_ref(v));
            if (!encode(key.get(), depth + 1)) {
                path_.push_back("{key}");  // the key itself (or something in it) failed
                return false;
            }
            if (!encode(value.get(), depth + 1)) {
                path_.push_back("[" + key_repr(key.get()) + "]");
                return false;
            }
        }
        if (count != n) return leaf_error(obj, ": it changed size while encoded");
        return true;
    }

    bool dict(PyObject *obj, int depth) {
        return enter(obj, depth) && locked(obj, [&] { return dict_items(obj, depth); });
    }

    // set and frozenset (and subclasses): tag 258 + array. Iterated with
    // set's own iterator so a subclass's __iter__ cannot run Python code.
    bool set(PyObject *obj, int depth) {
        if (!enter(obj, depth)) return false;
        const Py_ssize_t n = PySet_GET_SIZE(obj);
        if (!ok(cbor::write_head(out_, Major::tag, kTagSet)) ||
            !ok(cbor::write_head(out_, Major::array, static_cast<uint64_t>(n))))
            return false;
        Ref it(PySet_Type.tp_iter(obj));
        if (!it) return python_failure(obj);
        Py_ssize_t count = 0;
        while (PyObject *raw = PyIter_Next(it.get())) {
            Ref v(raw);
            if (++count > n) return leaf_error(obj, ": it changed size while encoded");
            if (!encode(v.get(), depth + 1)) {
                path_.push_back("{item}");
                return false;
            }
        }
        if (PyErr_Occurred()) return python_failure(obj);
        if (count != n) return leaf_error(obj, ": it changed size while encoded");
        return true;
    }

    const PyTypes &types_;
    ByteBuffer &out_;
    Error *err_;
    bool failed_ = false;
    std::string leaf_message_;
    std::vector<std::string> path_;  // innermost first
};

}  // namespace

bool python_to_cbor(PyObject *obj, const PyTypes &types, ByteBuffer &out, Error *err) {
    try {
        Encoder e(types, out, err);
        if (e.encode(obj, 0)) return true;
        e.finish();
        return false;
    } catch (const std::bad_alloc &) {
        PyErr_Clear();
        *err = Error(Status::no_memory, "out of memory");
        return false;
    }
}

}  // namespace pyctx::core