#include "core/python/channel_py.h"

#include <memory>
#include <string>

#include "core/base/futex.h"
#include "core/cbor/writer.h"
#include "core/python/embed.h"
#include "core/host/channel.h"
#include "core/host/host_call.h"
#include "core/python/channel_remote.h"
#include "core/python/compat.h"
#include "core/python/foreign_loop.h"
#include "core/python/futures.h"
#include "core/python/host_calls.h"
#include "core/python/local_types.h"

namespace pyctx::core {

const char kChannelHelpers[] =
    "async def _channel_arecv(ch):\n"
    "    while True:\n"
    "        ok, value = ch.try_recv()\n"
    "        if ok:\n"
    "            return value\n"
    "        await ch._readable()\n";

namespace {

struct ChannelObject {
    PyObject_HEAD
    std::shared_ptr<Channel> *ch;  // nullptr in a process context's child:
    uint64_t remote_id;            // then the host's channel of this id
    bool remote_bytes;             // (channel_remote.h) and its mode
};

Channel &chan(PyObject *self) { return **reinterpret_cast<ChannelObject *>(self)->ch; }
ChannelObject *object_of(PyObject *self) { return reinterpret_cast<ChannelObject *>(self); }
bool is_remote(PyObject *self) { return object_of(self)->ch == nullptr; }
uint64_t remote_id(PyObject *self) { return object_of(self)->remote_id; }
bool bytes_mode(PyObject *self) {
    return is_remote(self) ? object_of(self)->remote_bytes : chan(self).bytes_mode();
}

PyObject *module_of(PyObject *self) { return PyType_GetModule(Py_TYPE(self)); }  // borrowed

PyObject *raise_closed(PyObject *self, const char *what = "the channel is closed") {
    PyErr_SetString(module_channel_closed(module_of(self)), what);
    return nullptr;
}

PyObject *channel_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static const char *kwlist[] = {"id", nullptr};
    unsigned long long id = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "K:Channel", const_cast<char **>(kwlist), &id))
        return nullptr;
    if (in_process_child()) {
        bool bytes = false;
        const int found = remote_channel::open(id, &bytes);
        if (found < 0) return nullptr;
        if (found == 0) {
            PyErr_Format(PyExc_LookupError, "no channel with id %llu", id);
            return nullptr;
        }
        PyObject *self = type->tp_alloc(type, 0);
        if (!self) return nullptr;
        object_of(self)->ch = nullptr;
        object_of(self)->remote_id = id;
        object_of(self)->remote_bytes = bytes;
        return self;
    }
    std::shared_ptr<Channel> ch = channels().find(id);
    if (!ch) {
        PyErr_Format(PyExc_LookupError, "no channel with id %llu", id);
        return nullptr;
    }
    PyObject *self = type->tp_alloc(type, 0);
    if (!self) return nullptr;
    reinterpret_cast<ChannelObject *>(self)->ch = new std::shared_ptr<Channel>(std::move(ch));
    return self;
}

void channel_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    delete reinterpret_cast<ChannelObject *>(self)->ch;  // nullptr (a child's) is fine
    tp->tp_free(self);
    Py_DECREF(tp);
}

// The CBOR of a value to send; a byte channel takes bytes-like values only.
bool encode(PyObject *self, PyObject *value, std::string *out) {
    if (bytes_mode(self) && !PyObject_CheckBuffer(value)) {
        PyErr_Format(PyExc_TypeError, "a byte channel sends bytes-like values, not '%s'",
                     Py_TYPE(value)->tp_name);
        return false;
    }
    LocalTypes types;
    if (!types.get()) return false;
    ByteBuffer buf;
    Error err;
    if (!python_to_cbor(value, *types.get(), buf, &err)) {
        raise_conversion_error(err);
        return false;
    }
    out->assign(reinterpret_cast<const char *>(buf.data()), buf.size());
    return true;
}


HostCall *new_token(ContextThread *thread) {
    auto *t = new HostCall();  // refs: the waiting side + the channel
    t->name = "channel";
    if (thread) {
        t->waiter = thread->host_call_waiter();
        t->context_name = thread->context_name();
    }
    return t;
}

// Blocks until the channel is readable (or writable) or closed, the GIL
// released; a context thread keeps serving its queue meanwhile. False with
// an exception set when the wait was cut short (request stopped, context
// closing).
bool wait_ready(PyObject *self, bool writable) {
    if (is_remote(self)) return remote_channel::wait(remote_id(self), writable);
    Channel &ch = chan(self);
    ContextThread *thread = ContextThread::current();
    HostCall *token = new_token(thread);
    bool registered = writable ? ch.python_wait_writable(token) : ch.python_wait_readable(token);
    if (!registered) {  // ready already
        token->release();
        token->release();
        return true;
    }
    if (!thread) {
        Py_BEGIN_ALLOW_THREADS
        while (token->answered.load(std::memory_order_acquire) == 0) futex_wait(token->answered, 0);
        Py_END_ALLOW_THREADS
        token->release();
        return true;
    }
    Request *waiting = thread->current_request();
    if (waiting) waiting->host_waiting.store(true, std::memory_order_release);
    if (!waiting || !waiting->interrupt_posted.load(std::memory_order_acquire))
        thread->wait_host_answer(token, waiting);
    if (waiting) {
        waiting->host_waiting.store(false, std::memory_order_release);
        thread->clear_pending_interrupt(waiting);
    }
    bool answered = token->answered.load(std::memory_order_acquire) != 0;
    if (!answered) token->abandoned.store(true, std::memory_order_release);
    token->release();
    if (waiting && (waiting->is_claimed() || waiting->interrupt_posted.load())) {
        PyErr_SetString(PyExc_KeyboardInterrupt, "the request was stopped while it waited on a channel");
        return false;
    }
    if (!answered) {
        raise_closed(self, "the context closed while waiting on the channel");
        return false;
    }
    return true;
}

// A process child's try_recv: (True, value) or (False, None).
PyObject *remote_try_recv(PyObject *self) {
    PyObject *value = nullptr;
    switch (remote_channel::try_recv(remote_id(self), &value)) {
        case remote_channel::Result::ok: {
            PyRef v(value);
            return Py_BuildValue("(OO)", Py_True, v.get());
        }
        case remote_channel::Result::would_block: return Py_BuildValue("(OO)", Py_False, Py_None);
        case remote_channel::Result::closed: return raise_closed(self);
        case remote_channel::Result::failed: break;
    }
    return nullptr;
}

// A process child's blocking recv: retries after each wake-up.
PyObject *remote_recv(PyObject *self) {
    for (;;) {
        PyObject *value = nullptr;
        switch (remote_channel::try_recv(remote_id(self), &value)) {
            case remote_channel::Result::ok: return value;
            case remote_channel::Result::closed: return raise_closed(self);
            case remote_channel::Result::failed: return nullptr;
            case remote_channel::Result::would_block: break;
        }
        if (!wait_ready(self, false)) return nullptr;
    }
}

// A process child's send (blocking) or try_send: True sent, False full.
PyObject *remote_send(PyObject *self, PyObject *value, bool block) {
    for (;;) {
        switch (remote_channel::try_send(remote_id(self), value)) {
            case remote_channel::Result::ok:
                if (block) Py_RETURN_NONE;
                Py_RETURN_TRUE;
            case remote_channel::Result::closed: return raise_closed(self);
            case remote_channel::Result::failed: return nullptr;
            case remote_channel::Result::would_block: break;
        }
        if (!block) Py_RETURN_FALSE;
        if (!wait_ready(self, true)) return nullptr;
    }
}

PyObject *ch_try_recv(PyObject *self, PyObject *) {
    if (is_remote(self)) return remote_try_recv(self);
    std::string v;
    switch (chan(self).python_try_recv(&v)) {
        case Channel::Result::ok: {
            PyRef value(decode_local(v));
            return value ? Py_BuildValue("(OO)", Py_True, value.get()) : nullptr;
        }
        case Channel::Result::would_block: return Py_BuildValue("(OO)", Py_False, Py_None);
        case Channel::Result::closed: return raise_closed(self);
    }
    return nullptr;
}


// The awaitable form is a few lines of Python, compiled into the module on
// first use only: compiled code interns its names, and interned strings of
// an owngil interpreter are never freed (see add_ref in module.cpp), so a
// context that never awaits a channel pays nothing.
PyObject *arecv_helper(PyObject *module) {
    PyObject *dict = PyModule_GetDict(module);  // borrowed
    if (PyObject *fn = PyDict_GetItemString(dict, "_channel_arecv")) return new_ref(fn);
    if (!PyDict_GetItemString(dict, "__builtins__") &&
        PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) < 0)
        return nullptr;
    PyRef code(Py_CompileString(kChannelHelpers, "<pyctx-channel>", Py_file_input));
    PyRef res(code ? PyEval_EvalCode(code.get(), dict, dict) : nullptr);
    if (!res) return nullptr;
    return PyObject_GetAttrString(module, "_channel_arecv");
}

PyObject *ch_arecv(PyObject *self, PyObject *) {
    PyRef helper(arecv_helper(module_of(self)));
    return helper ? PyObject_CallOneArg(helper.get(), self) : nullptr;
}

PyObject *ch_recv(PyObject *self, PyObject *) {
    // Blocking inside a running loop would stall it: give an awaitable.
    PyRef loop(running_loop_of_thread());
    if (loop) return ch_arecv(self, nullptr);
    if (is_remote(self)) return remote_recv(self);
    for (;;) {
        std::string v;
        switch (chan(self).python_try_recv(&v)) {
            case Channel::Result::ok: return decode_local(v);
            case Channel::Result::closed: return raise_closed(self);
            case Channel::Result::would_block: break;
        }
        if (!wait_ready(self, false)) return nullptr;
    }
}

// A future on the running loop resolved (with None) once the channel is
// readable or closed.
PyObject *ch_readable(PyObject *self, PyObject *) {
    PyRef loop(running_loop_of_thread());
    if (!loop) {
        PyErr_SetString(PyExc_RuntimeError, "Channel._readable() needs a running event loop");
        return nullptr;
    }
    if (is_remote(self)) return remote_channel::readable(remote_id(self));
    ContextThread *thread = ContextThread::current();
    std::shared_ptr<Channel> ch = *reinterpret_cast<ChannelObject *>(self)->ch;
    auto start = [ch](HostCall *t) {
        static const uint8_t null = 0xf6;
        if (!ch->python_wait_readable(t)) host_call_return(t, &null, 1);  // ready now
    };
    HostCall *token = new_token(nullptr);
    if (thread && loop.get() == thread->py().loop().object()) {
        // The context's own loop: resumed through the context's queue.
        PyState &py = thread->py();
        PyObject *future = await_on_context_loop(py, thread, token);
        if (!future) {
            token->release();
            token->release();
            return nullptr;
        }
        start(token);
        return future;
    }
    return await_host_call_on(loop.get(), token, thread, start);
}

// A byte channel takes bytes-like values only (a process child checks
// before sending; the host stores what the child encoded).
bool check_bytes(PyObject *self, PyObject *value) {
    if (!bytes_mode(self) || PyObject_CheckBuffer(value)) return true;
    PyErr_Format(PyExc_TypeError, "a byte channel sends bytes-like values, not '%s'",
                 Py_TYPE(value)->tp_name);
    return false;
}

PyObject *ch_try_send(PyObject *self, PyObject *value) {
    if (is_remote(self)) return check_bytes(self, value) ? remote_send(self, value, false) : nullptr;
    std::string v;
    if (!encode(self, value, &v)) return nullptr;
    switch (chan(self).python_try_send(v)) {
        case Channel::Result::ok: Py_RETURN_TRUE;
        case Channel::Result::would_block: Py_RETURN_FALSE;
        case Channel::Result::closed: return raise_closed(self);
    }
    return nullptr;
}

PyObject *ch_send(PyObject *self, PyObject *value) {
    if (is_remote(self)) return check_bytes(self, value) ? remote_send(self, value, true) : nullptr;
    std::string v;
    if (!encode(self, value, &v)) return nullptr;
    for (;;) {
        switch (chan(self).python_try_send(v)) {
            case Channel::Result::ok: Py_RETURN_NONE;
            case Channel::Result::closed: return raise_closed(self);
            case Channel::Result::would_block: break;
        }
        if (!wait_ready(self, true)) return nullptr;  // waits for credit
    }
}

PyObject *ch_close(PyObject *self, PyObject *) {
    if (is_remote(self)) {
        if (!remote_channel::close(remote_id(self))) return nullptr;
    } else {
        chan(self).close();
    }
    Py_RETURN_NONE;
}

uint64_t id_of(PyObject *self) { return is_remote(self) ? remote_id(self) : chan(self).id(); }
// 1 closed, 0 open, -1 with an exception set.
int closed_of(PyObject *self) {
    return is_remote(self) ? remote_channel::closed(remote_id(self)) : chan(self).closed() ? 1 : 0;
}

PyObject *ch_get_id(PyObject *self, void *) { return PyLong_FromUnsignedLongLong(id_of(self)); }
PyObject *ch_get_closed(PyObject *self, void *) {
    const int c = closed_of(self);
    return c < 0 ? nullptr : PyBool_FromLong(c);
}

PyObject *ch_repr(PyObject *self) {
    const int c = closed_of(self);
    if (c < 0) return nullptr;
    return PyUnicode_FromFormat("<pyctx.Channel %llu%s>", static_cast<unsigned long long>(id_of(self)),
                                c ? " closed" : "");
}

PyMethodDef channel_methods[] = {
    {"recv", ch_recv, METH_NOARGS,
     "recv()\n--\n\nThe next value; blocks (GIL released) until one comes. Inside a\n"
     "running event loop it returns an awaitable instead. Raises ChannelClosed\n"
     "once the channel is closed and drained."},
    {"arecv", ch_arecv, METH_NOARGS, "arecv()\n--\n\nAn awaitable of the next value."},
    {"try_recv", ch_try_recv, METH_NOARGS,
     "try_recv()\n--\n\n(True, value), or (False, None) when nothing is waiting."},
    {"_readable", ch_readable, METH_NOARGS, nullptr},
    {"send", ch_send, METH_O,
     "send(value)\n--\n\nSends to the host; blocks while the host's side is full."},
    {"try_send", ch_try_send, METH_O, "try_send(value)\n--\n\nFalse when the host's side is full."},
    {"close", ch_close, METH_NOARGS, "close()\n--\n\nCloses both directions; wakes every waiter."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef channel_getset[] = {
    {"id", ch_get_id, nullptr, "The channel's id.", nullptr},
    {"closed", ch_get_closed, nullptr, "True once either end closed it.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot channel_slots[] = {
    {Py_tp_new, reinterpret_cast<void *>(channel_new)},
    {Py_tp_dealloc, reinterpret_cast<void *>(channel_dealloc)},
    {Py_tp_repr, reinterpret_cast<void *>(ch_repr)},
    {Py_tp_methods, channel_methods},
    {Py_tp_getset, channel_getset},
    {Py_tp_doc, const_cast<char *>("Channel(id)\n--\n\nThe Python end of a channel the host made.")},
    {0, nullptr},
};

}  // namespace

PyType_Spec channel_spec = {"pyctx.Channel", static_cast<int>(sizeof(ChannelObject)), 0,
                            Py_TPFLAGS_DEFAULT, channel_slots};

}  // namespace pyctx::core
