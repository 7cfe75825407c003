// A context's asyncio event loop and the coroutine requests running on it
// as tasks. Made with asyncio.new_event_loop() on first use (never a global
// policy). While tasks are pending the context thread blocks in the loop's
// selector; the thread's wake fd is registered as a reader, so a new request
// stops the loop. Context thread only, GIL held.
#pragma once

#include "core/python/ref.h"

#include <cstdint>
#include <unordered_map>

#include "core/base/error.h"
#include "core/request/request.h"

namespace pyctx::core {

class ContextThread;
struct PyTypes;

class EventLoop {
public:
    EventLoop(ContextThread &thread, const PyTypes &types) : thread_(thread), types_(types) {}
    EventLoop(const EventLoop &) = delete;
    EventLoop &operator=(const EventLoop &) = delete;

    bool has_tasks() const { return pending_tasks_ != 0; }
    bool running() const { return depth_ != 0; }
    // The asyncio loop object (borrowed), nullptr before first use.
    PyObject *object() const { return loop_.get(); }

    // Runs `awaitable` (stolen) as the task of request `r`. False with a
    // Python exception set when it cannot be started.
    bool start_task(Request *r, PyObject *awaitable);
    // Runs the loop until it is stopped (the wake fd, a finished task), or
    // for one non-blocking iteration.
    void drive(bool block);
    void cancel_task(uint64_t request_id);
    // Called from the task's done callback.
    void task_done(uint64_t request_id, PyObject *task);
    // A new future on this loop (creating the loop); nullptr with a Python
    // exception set on failure.
    PyObject *create_future();
    // Cancels what is pending, gives it a few iterations, closes the loop.
    void clear();

private:
    bool ensure(Error *err);

    ContextThread &thread_;
    const PyTypes &types_;
    PyRef loop_;
    PyRef stop_;           // bound loop.stop
    PyRef run_forever_;    // bound loop.run_forever
    PyRef call_soon_;      // bound loop.call_soon
    PyRef create_task_;    // bound loop.create_task
    PyRef ensure_future_;  // asyncio.ensure_future
    std::unordered_map<uint64_t, PyObject *> tasks_;
    size_t pending_tasks_ = 0;
    int depth_ = 0;
};

}  // namespace pyctx::core
