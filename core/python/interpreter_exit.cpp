#include "core/python/interpreter_exit.h"

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

void finish_subinterpreter_work() {
    call_if_loaded("threading", "_shutdown");
    call_if_loaded("atexit", "_run_exitfuncs");
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
