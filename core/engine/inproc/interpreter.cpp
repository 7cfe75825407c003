// The context thread's interpreter: a thread state of the main interpreter
// (worker) or a PEP 684 subinterpreter with its own GIL (owngil), created
// and ended on the context thread itself.
#include <Python.h>

#include <cstring>

#include "core/engine/context.h"
#include "core/engine/inproc/inproc_executor.h"
#include "core/engine/runtime.h"
#include "core/python/import_lock.h"
#include "core/python/interpreter_exit.h"
#include "core/python/keyword_tuples.h"
#include "core/python/memory_cap.h"
#include "core/python/sandbox.h"

namespace pyctx::core {

bool InprocExecutor::setup_interpreter(Error *err) {
    Runtime &rt = Runtime::get();
    auto *main = static_cast<PyInterpreterState *>(rt.main_interpreter());
    PyThreadState *ts = nullptr;
    MemoryCap *cap = ctx_.memory_cap();  // owngil only (checked at create)
    if (cap && !MemoryCap::install_hooks(err)) return false;
    if (ctx_.mode() == Mode::worker) {
        ts = PyThreadState_New(main);
        PyEval_RestoreThread(ts);
    } else {
#if PY_VERSION_HEX >= 0x030C0000
        std::unique_lock sub(rt.subinterpreter_mu);
        // Creation imports builtin modules: no other interpreter may be
        // creating or executing extension modules meanwhile (import_lock.h).
        ImportLockHold imports(nullptr);
        PyThreadState *main_ts = PyThreadState_New(main);
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
        // Counted from here: what creating the interpreter allocates is its own.
        if (cap) cap->enter_thread();
        PyStatus st = Py_NewInterpreterFromConfig(&ts, &cfg);
        if (PyStatus_Exception(st)) {
            if (cap) cap->leave_thread();
            // The main thread state is current again, with the main GIL.
            PyThreadState_Clear(main_ts);
            PyThreadState_DeleteCurrent();
            *err = Error(Status::internal, std::string("could not create a subinterpreter: ") +
                                               (st.err_msg ? st.err_msg : "unknown error"));
            return false;
        }
        // The main GIL was released by Py_NewInterpreterFromConfig; the main
        // thread state stays bound to this thread until teardown.
        main_thread_state_ = main_ts;
        if (cap) cap->attach_interpreter(PyThreadState_GetInterpreter(ts));
#else
        *err = Error(Status::unsupported, "owngil contexts need Python 3.12+");
        return false;
#endif
    }
    {
        std::lock_guard lock(interp_mu_);
        interp_ = PyThreadState_GetInterpreter(ts);
        py_thread_ident_ = PyThread_get_thread_ident();
        interp_alive_ = true;
    }
    py_ = std::make_unique<PyState>(*this);
    if (!py_->init(rt.search_paths(), ctx_.options().preload, err)) {
        teardown_interpreter();
        return false;
    }
    // After the preload (host code, which may need what the policy blocks).
    if (const auto &sandbox = ctx_.options().sandbox;
        sandbox && !sandbox_enter(*sandbox, ctx_.name(), ctx_.mode() == Mode::owngil, err)) {
        teardown_interpreter();
        return false;
    }
    return true;
}

void InprocExecutor::teardown_interpreter() {
    // GIL held on entry. An own interpreter first waits for the threads its
    // Python started and runs its atexit work, while no lock is held: a
    // stuck context must not keep others from being created.
    if (ctx_.mode() == Mode::owngil && py_) finish_subinterpreter_work();
    if (py_) {
        py_->clear();
        py_.reset();
    }
    PyThreadState *ts = PyEval_SaveThread();
    {
        // Interrupters hold interp_mu_ while they use this interpreter.
        std::lock_guard lock(interp_mu_);
        interp_alive_ = false;
    }
    if (ctx_.mode() == Mode::worker) {
        PyEval_RestoreThread(ts);
        PyThreadState_Clear(ts);
        PyThreadState_DeleteCurrent();
        sandbox_leave();
        return;
    }
#if PY_VERSION_HEX >= 0x030C0000
    std::lock_guard sub(Runtime::get().subinterpreter_mu);
    // Ending frees the interpreter's extension modules while others may be
    // importing the same ones (gh-136423). Its own threads may still import.
    ImportLockHold imports(PyThreadState_GetInterpreter(ts));
    PyEval_RestoreThread(ts);
    quiet_dummy_thread_teardown();
    Py_EndInterpreter(ts);
    sandbox_leave();  // no thread of that interpreter is left
    if (MemoryCap *cap = ctx_.memory_cap()) cap->leave_thread();
    auto *main_ts = static_cast<PyThreadState *>(main_thread_state_);
    PyEval_RestoreThread(main_ts);
    disown_keyword_tuples();  // 3.12 (keyword_tuples.h)
    PyThreadState_Clear(main_ts);
    PyThreadState_DeleteCurrent();
    main_thread_state_ = nullptr;
#endif
}

}  // namespace pyctx::core
