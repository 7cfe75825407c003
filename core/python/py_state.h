// The Python side of one context thread: its interpreter's pyctx types,
// namespaces and caches, asyncio loop, and the host calls its coroutines
// await. Only that thread touches it, always with its GIL held.
#pragma once

#include "core/python/ref.h"

#include <string>
#include <unordered_map>

#include "core/base/error.h"
#include "core/host/host_call.h"
#include "core/python/convert.h"
#include "core/python/event_loop.h"
#include "core/python/namespaces.h"
#include "core/python/objects.h"
#include "core/python/streams.h"
#include "core/request/request.h"

namespace pyctx::core {

class ContextThread;

class PyState {
public:
    explicit PyState(ContextThread &thread)
        : thread_(thread), loop_(thread, types_), streams_(thread, types_, loop_) {
        types_.objects = &objects_;
    }
    PyState(const PyState &) = delete;
    PyState &operator=(const PyState &) = delete;

    // Imports pyctx, adds the runtime's search paths, creates the default
    // namespace and runs the preload.
    bool init(const std::vector<std::string> &search_paths, const std::string &preload, Error *err);
    // Drops every Python object held (tasks cancelled, loop closed).
    void clear();

    // Runs a call, eval or exec request (python/runner.cpp). It completes
    // through ContextThread::complete, except a coroutine call, which becomes
    // a task that completes later.
    void execute(Request *request);

    const PyTypes &types() const { return types_; }
    Namespaces &namespaces() { return ns_; }
    EventLoop &loop() { return loop_; }
    ObjectTable &objects() { return objects_; }

    // The outcome value of `result` in the request's result form (a value,
    // a new object handle, or a new stream); false with out.error set.
    bool encode_result(Request *r, PyObject *result, Outcome &out);
    // The outcome of `r` lost its claim: releases the handle `object_id`
    // (0: none) or the stream made for it.
    void drop_unclaimed(const Request &r, uint64_t object_id);
    // The same by ids: the handle `object_id` (0: none) and, for a result in
    // stream form, the stream `request_id`.
    void drop_result(uint64_t request_id, ResultForm form, uint64_t object_id);

    // Host calls awaited by coroutines (python/host_calls.cpp): call ->
    // the future to resolve (a strong reference).
    std::unordered_map<HostCall *, PyObject *> awaited_calls;

private:
    void run_call(Request *r);
    void run_code(Request *r);  // eval and exec
    // Object kinds (python/objects.cpp).
    void run_object(Request *r);
    // Calls `fn` with the request's args and kwargs and completes with it;
    // with `method` (a str), calls fn's method of that name instead, with
    // no bound method made on the common path.
    void call_object(Request *r, PyRef fn, PyObject *method = nullptr);
    // Method names as interned str objects, made once per name (bounded).
    PyObject *method_name(const std::string &text);
    // Completes `r` with the value (or error) of `result` (stolen), or
    // starts it as a task when it is awaitable.
    void complete_with(Request *r, PyObject *result);
    void fail(Request *r, Error err);

    ContextThread &thread_;
    uint64_t setup_seen_ = 0;  // runtime set-up generation applied (setup_py.h)
    Error setup_error_;        // a set-up step failed at start: the first request reports it
    PyTypes types_;
    Namespaces ns_;
    EventLoop loop_;
    ObjectTable objects_;
    Streams streams_;
    std::unordered_map<std::string, PyRef> method_names_;
};

}  // namespace pyctx::core
