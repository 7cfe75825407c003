#include "core/python/foreign_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <mutex>

#include "core/python/compat.h"
#include "core/python/context_thread.h"
#include "core/python/futures.h"
#include "core/python/host_calls.h"
#include "core/python/module.h"

namespace pyctx::core {

namespace {

// The answering side: the host's thread posts the answer here and wakes
// the loop. The Python side closes it when it is done with the call.
class LoopWaker final : public HostCallWaiter {
public:
    explicit LoopWaker(int fd) : fd_(fd) {}
    ~LoopWaker() override { close_fd(); }

    int fd() const { return fd_; }
    void host_answer_arrived() override {}  // only awaited calls come here
    bool post_host_reply(HostCall *call) override {
        std::lock_guard lock(mu_);
        if (fd_ < 0) {
            call->release();
            return false;
        }
        reply_ = call;  // released by the Python side (take_reply)
        uint64_t one = 1;
        ssize_t n = ::write(fd_, &one, sizeof one);
        (void)n;  // EAGAIN: the counter is already non-zero
        return true;
    }
    HostCall *take_reply() {
        std::lock_guard lock(mu_);
        HostCall *r = reply_;
        reply_ = nullptr;
        return r;
    }
    // No answer is posted after this returns.
    void close_fd() {
        std::lock_guard lock(mu_);
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    std::mutex mu_;
    int fd_;
    HostCall *reply_ = nullptr;
};

// Everything one awaited call holds on the Python side, in a capsule that
// the reader callback and the future's done callback share.
struct Link {
    HostCall *call = nullptr;  // the Python side's reference
    std::shared_ptr<LoopWaker> waker;
    PyTypes types;
    PyRef loop, future;
    bool finished = false;
};

const char kCapsule[] = "pyctx.foreign_loop_link";

Link *link_of(PyObject *capsule) {
    return static_cast<Link *>(PyCapsule_GetPointer(capsule, kCapsule));
}

// Ends the link: no more answers, the reader removed (when the loop is
// still usable), every reference released. Idempotent.
void finish(Link *link, bool remove_reader) {
    if (link->finished) return;
    link->finished = true;
    int fd = link->waker->fd();
    if (remove_reader && link->loop && fd >= 0) {
        PyRef r(PyObject_CallMethod(link->loop.get(), "remove_reader", "i", fd));
        PyErr_Clear();
    }
    link->waker->close_fd();
    if (HostCall *reply = link->waker->take_reply()) {
        reply->release();
    } else {
        link->call->abandoned.store(true, std::memory_order_release);
    }
    link->call->release();
    link->call = nullptr;
    release_py_types(&link->types);
    link->loop.reset();
    link->future.reset();
}

void destroy_capsule(PyObject *capsule) {
    Link *link = link_of(capsule);
    if (!link) return;
    finish(link, false);  // the loop went away without running our callbacks
    delete link;
}

// The eventfd is readable: the answer is in.
PyObject *on_readable(PyObject *capsule, PyObject *) {
    Link *link = link_of(capsule);
    if (!link || link->finished) Py_RETURN_NONE;
    uint64_t v;
    ssize_t n = ::read(link->waker->fd(), &v, sizeof v);
    (void)n;
    HostCall *reply = link->waker->take_reply();
    if (!reply) Py_RETURN_NONE;  // spurious wake-up
    PyRef future = PyRef::borrow(link->future.get());
    if (future_pending(future.get())) {
        PyRef value(host_answer_to_python(reply, link->types));
        settle_future(future.get(), value.get());
    }
    reply->release();
    finish(link, true);
    Py_RETURN_NONE;
}

// The future is done: answered (finish already ran) or cancelled by the
// awaiting task (the host's later answer then reports closed).
PyObject *on_future_done(PyObject *capsule, PyObject *) {
    if (Link *link = link_of(capsule)) finish(link, true);
    Py_RETURN_NONE;
}

PyMethodDef readable_def = {"_pyctx_answer_ready", on_readable, METH_NOARGS, nullptr};
PyMethodDef done_def = {"_pyctx_future_done", on_future_done, METH_O, nullptr};

}  // namespace

PyObject *await_host_call_on(PyObject *loop, HostCall *call, ContextThread *thread,
                             const std::function<void(HostCall *)> &start) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        call->release();
        call->release();
        PyErr_SetFromErrno(PyExc_OSError);
        return nullptr;
    }
    auto *link = new Link();
    link->call = call;
    link->waker = std::make_shared<LoopWaker>(fd);
    link->loop = PyRef::borrow(loop);
    // The host's reference is still held by `call` until it answers; until
    // the host function is invoked, dropping the link must drop that too.
    bool invoked = false;
    PyRef capsule(PyCapsule_New(link, kCapsule, destroy_capsule));
    if (!capsule) {
        delete link;
        call->release();
        call->release();
        return nullptr;
    }
    auto fail = [&]() -> PyObject * {
        if (!invoked) call->release();  // the host's reference: never invoked
        PyRef exc(take_raised_exception());
        finish(link, true);
        restore_raised_exception(exc.release());
        return nullptr;
    };
    if (!load_py_types(&link->types, nullptr)) return fail();
    link->future.reset(PyObject_CallMethod(loop, "create_future", nullptr));
    if (!link->future) return fail();
    PyRef readable(PyCFunction_New(&readable_def, capsule.get()));
    PyRef done_cb(PyCFunction_New(&done_def, capsule.get()));
    if (!readable || !done_cb) return fail();
    PyRef r(PyObject_CallMethod(loop, "add_reader", "iO", fd, readable.get()));
    if (!r) return fail();
    r.reset(PyObject_CallMethod(link->future.get(), "add_done_callback", "O", done_cb.get()));
    if (!r) return fail();
    PyRef future = PyRef::borrow(link->future.get());
    call->awaited = true;
    call->waiter = link->waker;
    if (thread) call->context_name = thread->context_name();
    invoked = true;
    if (start) {
        start(call);
    } else if (thread) {
        thread->invoke_host(call);
    } else {
        invoke_host_plain(call);
    }
    return future.release();
}

}  // namespace pyctx::core
