// Stopping a request's Python work after someone else claimed it.
#include <Python.h>

#include "core/engine/context.h"
#include "core/engine/inproc/control.h"
#include "core/engine/inproc/inproc_executor.h"
#include "core/engine/thread_name.h"

namespace pyctx::core {

void InprocExecutor::stop_claimed(Request *r) {
    switch (r->phase.load(std::memory_order_seq_cst)) {
        case Phase::running:
            interrupt(r);
            wake();  // in case it waits for a host answer: that wait ends now
            break;
        case Phase::task:
            // The task lives on the event loop: cancel it on the context thread.
            lane_.post_control(
                RequestRef(new ControlRequest(ControlRequest::Op::cancel_task, r->id)));
            break;
        default: break;  // queued: the thread skips it; finished: nothing to stop
    }
}

void run_interrupt(std::shared_ptr<Context> ctx, InprocExecutor *ex, uint64_t request_id) {
    (void)ctx;  // keeps the executor alive
    name_this_thread("pyctx-interrupt");
    std::lock_guard lock(ex->interp_mu_);
    if (!ex->interp_alive_) return;
    PyThreadState *ts = PyThreadState_New(static_cast<PyInterpreterState *>(ex->interp_));
    PyEval_RestoreThread(ts);
    // Under this GIL the context thread cannot change its current request.
    if (ex->current_id_.load(std::memory_order_relaxed) == request_id &&
        ex->lane_.queue().mark_interrupt(request_id))
        PyThreadState_SetAsyncExc(ex->py_thread_ident_, PyExc_KeyboardInterrupt);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
}

void InprocExecutor::interrupt_preload() {
    std::lock_guard lock(interp_mu_);
    if (!interp_alive_) return;  // not in Python (yet, or any more)
    PyThreadState *ts = PyThreadState_New(static_cast<PyInterpreterState *>(interp_));
    PyEval_RestoreThread(ts);
    // Under this GIL the thread is in its preload or past set-up, where the
    // lane is closing already, so the exception cannot hit a request.
    if (started_.load(std::memory_order_acquire) == 0)
        PyThreadState_SetAsyncExc(py_thread_ident_, PyExc_KeyboardInterrupt);
    PyThreadState_Clear(ts);
    PyThreadState_DeleteCurrent();
}

void InprocExecutor::interrupt(Request *r) {
    // Getting this interpreter's GIL can take as long as the running code
    // holds it, so it happens on a thread of its own, never the caller's.
    try {
        std::thread(run_interrupt, ctx_.shared_from_this(), this, r->id).detach();
    } catch (const std::system_error &) {
        // No thread: the request still completes; it just runs to its end.
    }
}

void InprocExecutor::clear_pending_interrupt(Request *r) {
    // Read first: an exchange on every request would be a locked write to
    // the request for the common case of no interrupt.
    if (r->interrupt_posted.load(std::memory_order_acquire) &&
        r->interrupt_posted.exchange(0, std::memory_order_acq_rel)) {
        // An interrupt aimed at this request may not have fired yet: make
        // sure it cannot hit another one.
        PyThreadState_SetAsyncExc(py_thread_ident_, nullptr);
        PyErr_Clear();
    }
}

}  // namespace pyctx::core
