#include "core/python/buffer_py.h"

#include <memory>
#include <utility>

#include "core/base/futex.h"
#include "core/cbor/tags.h"
#include "core/python/context_thread.h"
#include "core/python/errors.h"

namespace pyctx::core {

// The layout's int64_t arrays are handed to Python as Py_ssize_t arrays.
static_assert(sizeof(Py_ssize_t) == sizeof(int64_t), "pyctx buffers need a 64-bit Py_ssize_t");

namespace {

struct LentBufferObject {
    PyObject_HEAD
    Buffer *buffer;  // one lease; nullptr only for an instance made from Python on 3.9
    std::shared_ptr<BufferLedger> *ledger;  // counts this view in its context's stats
};

LentBufferObject *as_lent(PyObject *o) { return reinterpret_cast<LentBufferObject *>(o); }

bool wants(int flags, int what) { return (flags & what) == what; }

int lent_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Buffer *b = as_lent(self)->buffer;
    if (!b) {
        PyErr_SetString(PyExc_BufferError, "this pyctx.LentBuffer lends no memory");
        return -1;
    }
    const BufferLayout &l = b->layout();
    if (wants(flags, PyBUF_WRITABLE) && b->readonly()) {
        PyErr_SetString(PyExc_BufferError, "the host lent this buffer read-only");
        return -1;
    }
    const bool any_contig = wants(flags, PyBUF_ANY_CONTIGUOUS);
    if ((wants(flags, PyBUF_C_CONTIGUOUS) && !l.c_contiguous) ||
        (wants(flags, PyBUF_F_CONTIGUOUS) && !l.f_contiguous) ||
        (any_contig && !l.c_contiguous && !l.f_contiguous) ||
        (!wants(flags, PyBUF_STRIDES) && !l.c_contiguous)) {
        PyErr_SetString(PyExc_BufferError,
                        "the lent buffer is not contiguous in the requested order (it has strides)");
        return -1;
    }
    view->buf = b->data();
    view->obj = self;
    Py_INCREF(self);
    view->len = static_cast<Py_ssize_t>(l.element_bytes());
    view->readonly = b->readonly() ? 1 : 0;
    view->itemsize = static_cast<Py_ssize_t>(l.itemsize);
    view->format = wants(flags, PyBUF_FORMAT) ? const_cast<char *>(l.format.c_str()) : nullptr;
    const bool nd = wants(flags, PyBUF_ND);
    view->ndim = nd ? l.ndim() : 1;
    view->shape = nd ? reinterpret_cast<Py_ssize_t *>(const_cast<int64_t *>(l.shape.data())) : nullptr;
    view->strides = wants(flags, PyBUF_STRIDES)
                        ? reinterpret_cast<Py_ssize_t *>(const_cast<int64_t *>(l.strides.data()))
                        : nullptr;
    view->suboffsets = nullptr;
    view->internal = nullptr;
    return 0;
}

void lent_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    Buffer *b = std::exchange(as_lent(self)->buffer, nullptr);
    std::shared_ptr<BufferLedger> *ledger = std::exchange(as_lent(self)->ledger, nullptr);
    tp->tp_free(self);
    Py_DECREF(tp);
    if (ledger) {
        (*ledger)->lent_views.fetch_sub(1, std::memory_order_acq_rel);
        delete ledger;
    }
    // The last reference ends the loan, which runs the host's finalizer:
    // never with the GIL held, so it may call back into pyctx.
    if (b && b->end_lease() && !b->release_if_shared()) {
        Py_BEGIN_ALLOW_THREADS
        b->release();
        Py_END_ALLOW_THREADS
    }
}

PyObject *lent_repr(PyObject *self) {
    Buffer *b = as_lent(self)->buffer;
    if (!b) return PyUnicode_FromString("<pyctx.LentBuffer (empty)>");
    return PyUnicode_FromFormat("<pyctx.LentBuffer %zu bytes, format '%s', %s>", b->size(),
                                b->layout().format.c_str(), b->readonly() ? "read-only" : "writable");
}

PyType_Slot lent_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void *>(lent_dealloc)},
    {Py_tp_repr, reinterpret_cast<void *>(lent_repr)},
    {Py_bf_getbuffer, reinterpret_cast<void *>(lent_getbuffer)},
    {Py_tp_doc, const_cast<char *>(
                    "Memory the host lent to Python without a copy (made by pyctx, not from\n"
                    "Python). Requests receive a memoryview over it; the host's memory stays\n"
                    "lent until the last view of it is gone.")},
    {0, nullptr},
};

#if PY_VERSION_HEX >= 0x030A0000
constexpr unsigned long kFlags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE |
                                 Py_TPFLAGS_DISALLOW_INSTANTIATION;
#else
constexpr unsigned long kFlags = Py_TPFLAGS_DEFAULT;
#endif

}  // namespace

PyType_Spec lent_buffer_spec = {"pyctx.LentBuffer", static_cast<int>(sizeof(LentBufferObject)), 0,
                                static_cast<unsigned int>(kFlags), lent_slots};

PyObject *lent_buffer_view(const PyTypes &types, uint64_t index, std::string *problem) {
    const std::string tag = "tag " + std::to_string(cbor::kTagBuffer) + " (buffer)";
    ContextThread *thread = ContextThread::current();
    if (!types.lent || !thread) {
        *problem = tag + " may only appear in a request's arguments";
        return nullptr;
    }
    size_t count = 0;
    Buffer *b = types.lent->get(index, &count);
    if (!b) {
        *problem = tag + ": index " + std::to_string(index) + " is out of range, the request has " +
                   std::to_string(count) + " attached buffer" + (count == 1 ? "" : "s");
        return nullptr;
    }
    BufferRef got(b);
    auto *tp = reinterpret_cast<PyTypeObject *>(types.lent_buffer_type);
    PyObject *obj = tp ? tp->tp_alloc(tp, 0) : nullptr;
    if (!obj) {
        if (!tp) *problem = "pyctx.LentBuffer is not loaded";
        return nullptr;
    }
    b->lease();
    as_lent(obj)->buffer = b;
    const std::shared_ptr<BufferLedger> &ledger = thread->buffer_ledger();
    as_lent(obj)->ledger = new std::shared_ptr<BufferLedger>(ledger);
    ledger->lent_views.fetch_add(1, std::memory_order_acq_rel);
    ledger->lent_total.fetch_add(1, std::memory_order_relaxed);
    PyObject *view = PyMemoryView_FromObject(obj);
    Py_DECREF(obj);
    return view;
}

bool result_as_buffer(PyObject *result, ContextThread &thread, Outcome *out) {
    const char *type = Py_TYPE(result)->tp_name;
    if (!PyObject_CheckBuffer(result)) {
        out->error = Error(Status::encode,
                           std::string("the result (type '") + type +
                               "') does not support the buffer protocol: the buffer result form "
                               "takes bytes, bytearray, memoryview, array.array, a numpy array or "
                               "any other buffer exporter");
        return false;
    }
    auto view = std::make_unique<Py_buffer>();
    if (PyObject_GetBuffer(result, view.get(), PyBUF_RECORDS_RO) < 0) {
        out->error = Error(Status::encode, std::string("cannot view the result (type '") + type +
                                               "') as a buffer: " + take_python_error_text());
        return false;
    }
    BufferLayout l;
    l.format = view->format ? view->format : "B";
    l.itemsize = static_cast<size_t>(view->itemsize);
    if (view->ndim == 0) {
        l.shape = {1};  // a scalar: one element
    } else {
        l.shape.assign(view->shape, view->shape + view->ndim);
        l.strides.assign(view->strides, view->strides + view->ndim);
    }
    layout_finish(&l);
    void *data = view->buf;
    const bool readonly = view->readonly != 0;
    out->buffer = BufferRef(
        Buffer::python_view(data, readonly, std::move(l), view.release(), thread.buffer_ledger()));
    return true;
}

void release_host_views(BufferLedger &ledger) {
    std::vector<Buffer *> done = ledger.take_releases();
    for (Buffer *b : done) {
        auto *view = static_cast<Py_buffer *>(b->hold());
        PyBuffer_Release(view);
        delete view;
        Buffer::discard(b);
    }
    ledger.released(done.size());
}

void wait_host_views(BufferLedger &ledger) {
    for (;;) {
        release_host_views(ledger);
        if (ledger.held() == 0) return;
        const uint32_t seen = ledger.changes().load(std::memory_order_acquire);
        if (ledger.has_releases() || ledger.held() == 0) continue;
        Py_BEGIN_ALLOW_THREADS
        futex_wait(ledger.changes(), seen);
        Py_END_ALLOW_THREADS
    }
}

}  // namespace pyctx::core
