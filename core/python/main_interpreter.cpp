#include "core/python/main_interpreter.h"

#include <Python.h>

#include "core/python/import_guard.h"
#include "core/python/import_lock.h"

namespace pyctx::core {

bool run_in_main_interpreter(const std::function<void()> &fn) {
#if PY_VERSION_HEX >= 0x030C0000
    PyThreadState *sub = PyEval_SaveThread();
    PyThreadState *main = PyThreadState_New(PyInterpreterState_Main());
    if (!main) {
        PyEval_RestoreThread(sub);
        return false;
    }
    PyEval_RestoreThread(main);
    take_import_lock();
    fn();
    ImportLock::get().unlock();
    PyThreadState_Clear(main);
    PyThreadState_DeleteCurrent();
    PyEval_RestoreThread(sub);
    return true;
#else
    (void)fn;
    return false;
#endif
}

}  // namespace pyctx::core
