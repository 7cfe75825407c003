#include "core/python/channel_remote.h"

#include "core/host/builtin_calls.h"
#include "core/python/host_calls.h"

namespace pyctx::core::remote_channel {

namespace {

using builtin::ChannelOp;

// [op, id, extra?] to the host; a new reference to the decoded answer.
PyObject *call(ChannelOp op, uint64_t id, PyObject *extra = nullptr, bool awaitable = false) {
    PyRef code(PyLong_FromLong(static_cast<long>(op)));
    PyRef cid(PyLong_FromUnsignedLongLong(id));
    if (!code || !cid) return nullptr;
    PyObject *args[3] = {code.get(), cid.get(), extra};
    const Py_ssize_t n = extra ? 3 : 2;
    return awaitable ? call_host_builtin_async(builtin::kChannel, args, n)
                     : call_host_builtin(builtin::kChannel, args, n);
}

PyObject *malformed() {
    PyErr_SetString(PyExc_RuntimeError, "the host answered a channel call malformed");
    return nullptr;
}

// [code, value?]: the ChannelResult at its head.
Result result_of(PyObject *answer) {
    if (!answer) return Result::failed;
    if (!PyList_Check(answer) || PyList_GET_SIZE(answer) < 1) {
        malformed();
        return Result::failed;
    }
    const long code = PyLong_AsLong(PyList_GET_ITEM(answer, 0));
    switch (code) {
        case static_cast<long>(builtin::ChannelResult::ok): return Result::ok;
        case static_cast<long>(builtin::ChannelResult::would_block): return Result::would_block;
        case static_cast<long>(builtin::ChannelResult::closed): return Result::closed;
        default: break;
    }
    if (!PyErr_Occurred()) malformed();
    return Result::failed;
}

}  // namespace

int open(uint64_t id, bool *bytes_mode) {
    PyRef answer(call(ChannelOp::open, id));
    if (!answer) return -1;
    if (!PyList_Check(answer.get()) || PyList_GET_SIZE(answer.get()) < 1) {
        malformed();
        return -1;
    }
    if (PyList_GET_ITEM(answer.get(), 0) != Py_True) return 0;
    if (PyList_GET_SIZE(answer.get()) < 2) {
        malformed();
        return -1;
    }
    *bytes_mode = PyList_GET_ITEM(answer.get(), 1) == Py_True;
    return 1;
}

Result try_recv(uint64_t id, PyObject **value) {
    PyRef answer(call(ChannelOp::try_recv, id));
    Result r = result_of(answer.get());
    if (r == Result::ok) {
        if (PyList_GET_SIZE(answer.get()) < 2) {
            malformed();
            return Result::failed;
        }
        *value = new_ref(PyList_GET_ITEM(answer.get(), 1));
    }
    return r;
}

Result try_send(uint64_t id, PyObject *value) {
    PyRef answer(call(ChannelOp::try_send, id, value));
    return result_of(answer.get());
}

bool wait(uint64_t id, bool writable) {
    PyRef answer(call(writable ? ChannelOp::wait_writable : ChannelOp::wait_readable, id));
    return static_cast<bool>(answer);
}

PyObject *readable(uint64_t id) { return call(ChannelOp::wait_readable, id, nullptr, true); }

bool close(uint64_t id) {
    PyRef answer(call(ChannelOp::close, id));
    return static_cast<bool>(answer);
}

int closed(uint64_t id) {
    PyRef answer(call(ChannelOp::closed, id));
    if (!answer) return -1;
    return answer.get() == Py_True ? 1 : 0;
}

}  // namespace pyctx::core::remote_channel
