#include "core/python/futures.h"

#include "core/python/compat.h"
#include "core/python/ref.h"

namespace pyctx::core {

PyObject *running_loop_of_thread() {
    PyRef asyncio(PyImport_ImportModule("asyncio"));
    PyRef get(asyncio ? PyObject_GetAttrString(asyncio.get(), "_get_running_loop") : nullptr);
    PyObject *loop = get ? PyObject_CallNoArgs(get.get()) : nullptr;
    if (!loop || loop == Py_None) {
        PyErr_Clear();
        Py_XDECREF(loop);
        return nullptr;
    }
    return loop;
}

bool future_pending(PyObject *future) {
    PyRef done(PyObject_CallMethod(future, "done", nullptr));
    const bool pending = done && PyObject_IsTrue(done.get()) == 0;
    PyErr_Clear();
    return pending;
}

void settle_future(PyObject *future, PyObject *value) {
    PyRef r;
    if (value) {
        r.reset(PyObject_CallMethod(future, "set_result", "O", value));
    } else {
        PyRef exc(take_raised_exception());
        r.reset(PyObject_CallMethod(future, "set_exception", "O", exc.get()));
    }
    PyErr_Clear();
}

}  // namespace pyctx::core
