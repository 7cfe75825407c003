#include "core/python/interpreter_exit.h"

#include <cstdint>

#include "core/base/futex.h"
#include "core/python/ref.h"

namespace pyctx::core {

namespace {

void call_if_loaded(const char *module, const char *function) {
    PyObject *modules = PyImport_GetModuleDict();  // borrowed
    PyObject *mod = PyDict_GetItemString(modules, module);  // borrowed; only if imported
    if (!mod) return;
    PyRef r(PyObject_CallMethod(mod, function, nullptr));
    if (!r) PyErr_WriteUnraisable(mod);
}

const char kJoinHelper[] =
    "def join_until(seconds):\n"
    "    import threading, time\n"
    "    end = time.monotonic() + seconds\n"
    "    me = threading.current_thread()\n"
    "    def waiting():\n"
    "        return [t for t in threading.enumerate()\n"
    "                if t is not me and not t.daemon and t.is_alive()\n"
    "                and t is not threading.main_thread()]\n"
    "    for t in waiting():\n"
    "        left = end - time.monotonic()\n"
    "        if left <= 0:\n"
    "            break\n"
    "        t.join(left)\n"
    "    return [t.name for t in waiting()]\n";

}  // namespace

#if PY_VERSION_HEX < 0x030D0000
// threading._shutdown()'s two steps, for 3.12: the hooks that tell worker
// threads to end (concurrent.futures registers its executors' there), then
// joining the non-daemon threads. In C: code compiled here would intern
// names an own-GIL interpreter never frees.
static void shutdown_threads_312(PyObject *threading) {
    PyRef hooks(PyObject_GetAttrString(threading, "_threading_atexits"));
    if (hooks && PyList_Check(hooks.get())) {
        for (Py_ssize_t i = PyList_GET_SIZE(hooks.get()); i-- > 0;) {
            PyRef done(PyObject_CallNoArgs(PyList_GET_ITEM(hooks.get(), i)));
            if (!done) PyErr_WriteUnraisable(hooks.get());
        }
    }
    PyErr_Clear();
    // By ident, not current_thread(): that would make a dummy Thread for
    // this thread, whose collection at interpreter end complains.
    PyRef me(PyLong_FromUnsignedLong(PyThread_get_thread_ident()));
    PyRef main(PyObject_CallMethod(threading, "main_thread", nullptr));
    PyRef threads(PyObject_CallMethod(threading, "enumerate", nullptr));
    if (me && main && threads && PyList_Check(threads.get())) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(threads.get()); ++i) {
            PyObject *t = PyList_GET_ITEM(threads.get(), i);  // borrowed
            if (t == main.get()) continue;
            PyRef ident(PyObject_GetAttrString(t, "ident"));
            PyRef daemon(ident ? PyObject_GetAttrString(t, "daemon") : nullptr);
            if (!daemon || PyObject_RichCompareBool(ident.get(), me.get(), Py_EQ) != 0 ||
                PyObject_IsTrue(daemon.get()) != 0) {
                PyErr_Clear();
                continue;
            }
            PyRef joined(PyObject_CallMethod(t, "join", nullptr));
            if (!joined) PyErr_WriteUnraisable(t);
        }
    }
    PyErr_Clear();
}
#endif

void finish_subinterpreter_work() {
    // threading._shutdown() joins the non-daemon threads, for as long as they
    // run (no lock is held here). On 3.12 it asserts a main-thread lock that
    // a subinterpreter's main thread never had, so its steps are done here.
    if (PyObject *threading = PyDict_GetItemString(PyImport_GetModuleDict(), "threading")) {
#if PY_VERSION_HEX >= 0x030D0000
        PyRef r(PyObject_CallMethod(threading, "_shutdown", nullptr));
        if (!r) PyErr_WriteUnraisable(threading);
#else
        shutdown_threads_312(threading);
#endif
    }
    call_if_loaded("atexit", "_run_exitfuncs");
}

// When Python code asks threading.current_thread() on a thread threading
// did not start (the context thread: Thread() asks, for its daemon flag;
// Thread.join() asks too), 3.13 makes a dummy Thread and tracks it with an
// object in a thread-local whose __del__ takes threading's lock. In an own
// interpreter that __del__ runs when Py_EndInterpreter clears the thread
// state, after the threading module's globals are gone, and prints
// "Exception ignored in _DeleteDummyThreadOnDel" (CPython gh-130522, fixed
// in 3.13.3). Emptying the thread-local is not enough: Py_EndInterpreter's
// own threading shutdown and atexit calls make the dummy again. So, on the
// CPython releases with the bug, the __del__ is made to do nothing once
// threading is torn down.
void quiet_dummy_thread_teardown() {
#if PY_VERSION_HEX >= 0x030D0000
    // The libpython that runs, not the headers built against: a 3.13.x
    // build may load another 3.13 patch release.
    if (Py_Version >= 0x030D0300) return;
    PyObject *threading = PyDict_GetItemString(PyImport_GetModuleDict(), "threading");
    if (!threading || !PyObject_HasAttrString(threading, "_DeleteDummyThreadOnDel")) return;
    PyRef globals(PyDict_New());
    if (globals && PyDict_SetItemString(globals.get(), "threading", threading) == 0) {
        PyRef r(PyRun_String(
            "def _guard(cls=threading._DeleteDummyThreadOnDel, original="
            "threading._DeleteDummyThreadOnDel.__del__, module=threading):\n"
            "    def __del__(self):\n"
            "        if getattr(module, '_active_limbo_lock', None) is not None:\n"
            "            original(self)\n"
            "    cls.__del__ = __del__\n"
            "_guard()\n",
            Py_file_input, globals.get(), globals.get()));
        if (!r) PyErr_WriteUnraisable(threading);
    }
    PyErr_Clear();
#endif
}

std::vector<std::string> join_main_threads(int64_t deadline_ns) {
    std::vector<std::string> names;
    PyObject *modules = PyImport_GetModuleDict();
    if (!PyDict_GetItemString(modules, "threading")) return names;  // no thread was ever started
    PyRef ns(PyDict_New());
    if (!ns || PyDict_SetItemString(ns.get(), "__builtins__", PyEval_GetBuiltins()) < 0) {
        PyErr_Clear();
        return names;
    }
    PyRef code(Py_CompileString(kJoinHelper, "<pyctx-shutdown>", Py_file_input));
    PyRef run(code ? PyEval_EvalCode(code.get(), ns.get(), ns.get()) : nullptr);
    PyObject *join_until = run ? PyDict_GetItemString(ns.get(), "join_until") : nullptr;
    double seconds = static_cast<double>(deadline_ns - now_ns()) / 1e9;
    PyRef left(join_until ? PyObject_CallFunction(join_until, "d", seconds > 0 ? seconds : 0.0)
                          : nullptr);
    if (!left || !PyList_Check(left.get())) {
        PyErr_Clear();
        return names;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(left.get()); ++i) {
        const char *n = PyUnicode_AsUTF8(PyList_GET_ITEM(left.get(), i));
        names.push_back(n ? n : "?");
    }
    PyErr_Clear();
    return names;
}

}  // namespace pyctx::core
