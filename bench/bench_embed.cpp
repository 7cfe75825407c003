// The direct-embedding baseline: the calls of bench_roundtrip made from the
// caller's own thread through the CPython C API, with no pyctx and no
// thread handoff. bench/run.py runs it interleaved with bench_roundtrip and
// reports every pyctx round trip as a ratio to the same call here.
//
//   worker   PyGILState_Ensure / call / PyGILState_Release per call, on the
//            thread that initialized Python (its thread state exists, so
//            Ensure only takes the GIL); and once more on a thread with no
//            thread state, where every Ensure creates one and every Release
//            destroys it (a host thread Python has never seen)
//   owngil   the caller creates its own subinterpreter (own GIL) and swaps
//            its thread state in per call: PyEval_RestoreThread / call /
//            PyEval_SaveThread
//
// Each call converts the host's double(s) to Python floats and the result
// back to a double, as a pyctx call decodes its arguments and encodes its
// result. Python is initialized here as pyctx does it (isolated config, no
// signal handlers), so this program must never load pyctx: it is a
// separate process from pyctx's runtime.
//
// usage: bench_embed [--mode worker|owngil|both] [--calls N]
#include "bench_stats.hpp"

#include <Python.h>

#include <cmath>
#include <cstring>
#include <thread>

namespace {

char python_version[32];

[[noreturn]] void die_python(const std::string &what) {
    if (PyErr_Occurred()) PyErr_Print();
    bench::die(what);
}

// One function of bench_roundtrip: `module.attr(2.0)` or, with two
// arguments, `module.attr(2.0, 3.0)`, which must give `expected`.
struct Target {
    const char *case_name;
    const char *module;
    const char *attr;
    int nargs;
    double expected;
    PyObject *fn = nullptr;  // in the interpreter being measured
};

// Makes bench/ importable and looks up every target's function in the
// current interpreter (thread state attached).
void load_targets(std::vector<Target> &targets) {
    PyObject *sys_path = PySys_GetObject("path");  // borrowed
    PyObject *dir = PyUnicode_FromString(PYCTX_BENCH_DIR);
    if (sys_path == nullptr || dir == nullptr || PyList_Insert(sys_path, 0, dir) != 0)
        die_python("could not add the bench directory to sys.path");
    Py_DECREF(dir);
    for (Target &t : targets) {
        PyObject *mod = PyImport_ImportModule(t.module);
        if (mod == nullptr) die_python(std::string("import ") + t.module);
        t.fn = PyObject_GetAttrString(mod, t.attr);
        Py_DECREF(mod);
        if (t.fn == nullptr) die_python(std::string(t.module) + "." + t.attr);
    }
}

void drop_targets(std::vector<Target> &targets) {
    for (Target &t : targets) Py_CLEAR(t.fn);
}

// The call itself, with the caller's thread state attached: double(s) in,
// double out. Dies on a wrong result, so a broken set-up cannot pass for
// a fast one.
inline void call_once(const Target &t) {
    PyObject *args[2] = {PyFloat_FromDouble(2.0), t.nargs == 2 ? PyFloat_FromDouble(3.0) : nullptr};
    if (args[0] == nullptr || (t.nargs == 2 && args[1] == nullptr)) die_python("PyFloat_FromDouble");
    PyObject *r = PyObject_Vectorcall(t.fn, args, static_cast<size_t>(t.nargs), nullptr);
    Py_DECREF(args[0]);
    Py_XDECREF(args[1]);
    if (r == nullptr) die_python(t.case_name);
    double v = PyFloat_AsDouble(r);
    Py_DECREF(r);
    if (v != t.expected) die_python(std::string(t.case_name) + " returned a wrong value");
}

void emit(const Target &t, const std::string &case_suffix, const char *mode,
          const bench::LoopFigures &f) {
    bench::emit_loop("embed", t.case_name + case_suffix, mode, f, python_version);
}

// Worker: the GIL taken and released around every call.
void bench_worker(std::vector<Target> &targets, long calls) {
    for (const Target &t : targets) {
        emit(t, "", "worker", bench::measure_loop(calls, [&] {
                 PyGILState_STATE g = PyGILState_Ensure();
                 call_once(t);
                 PyGILState_Release(g);
             }));
    }
    // A thread Python has never seen: every Ensure makes a thread state.
    const Target &t = targets.front();
    bench::LoopFigures f{};
    std::thread fresh([&] {
        f = bench::measure_loop(calls, [&] {
            PyGILState_STATE g = PyGILState_Ensure();
            call_once(t);
            PyGILState_Release(g);
        });
    });
    fresh.join();
    emit(t, ", new thread state per call", "worker", f);
}

#if PY_VERSION_HEX >= 0x030C0000
// Owngil: a subinterpreter of the caller's own, its thread state swapped in
// per call. Entered and left with the main thread state detached.
void bench_owngil(std::vector<Target> &targets, long calls, PyThreadState *main_ts) {
    PyEval_RestoreThread(main_ts);
    PyInterpreterConfig cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.use_main_obmalloc = 0;
    cfg.allow_fork = 0;
    cfg.allow_exec = 0;
    cfg.allow_threads = 1;
    cfg.allow_daemon_threads = 0;
    cfg.check_multi_interp_extensions = 1;
    cfg.gil = PyInterpreterConfig_OWN_GIL;
    PyThreadState *sub = nullptr;
    PyStatus st = Py_NewInterpreterFromConfig(&sub, &cfg);
    if (PyStatus_Exception(st))
        bench::die(std::string("could not create a subinterpreter: ") +
                   (st.err_msg ? st.err_msg : "unknown error"));
    // The main GIL is released now; `sub` is attached, holding its own GIL.
    load_targets(targets);
    PyEval_SaveThread();
    for (const Target &t : targets) {
        emit(t, "", "owngil", bench::measure_loop(calls, [&] {
                 PyEval_RestoreThread(sub);
                 call_once(t);
                 PyEval_SaveThread();
             }));
    }
    PyEval_RestoreThread(sub);
    drop_targets(targets);
    Py_EndInterpreter(sub);
}
#endif

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes = args.get_str("--mode", "both");
    const long calls = args.get_int("--calls", 200000);
    args.finish();
    if (calls < 1) bench::die("--calls must be >= 1");
    if (modes != "worker" && modes != "owngil" && modes != "both")
        bench::die("--mode must be worker, owngil or both");

    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    PyStatus st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st)) bench::die("Python pre-initialization failed");
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.site_import = 1;
    st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        bench::die(std::string("Python initialization failed: ") +
                   (st.err_msg ? st.err_msg : "unknown error"));
    const char *v = Py_GetVersion();
    size_t n = std::min(std::strcspn(v, " "), sizeof python_version - 1);
    std::memcpy(python_version, v, n);

    std::vector<Target> targets = {
        {"call identity", "pyctx_bench_funcs", "identity", 1, 2.0},
        {"call operator.add", "operator", "add", 2, 5.0},
        {"call math.sqrt", "math", "sqrt", 1, std::sqrt(2.0)},
    };
    PyThreadState *main_ts = nullptr;
    if (modes != "owngil") {
        load_targets(targets);
        main_ts = PyEval_SaveThread();
        bench_worker(targets, calls);
        PyEval_RestoreThread(main_ts);
        drop_targets(targets);
    }
    if (modes != "worker") {
        main_ts = PyEval_SaveThread();
#if PY_VERSION_HEX >= 0x030C0000
        bench_owngil(targets, calls, main_ts);
#else
        for (const Target &t : targets)
            bench::emit_unavailable_line("embed", t.case_name, "owngil",
                                         "owngil needs Python 3.12+", python_version);
#endif
        PyEval_RestoreThread(main_ts);
    }
    if (Py_FinalizeEx() != 0) bench::die("Py_FinalizeEx failed");
    return 0;
}
