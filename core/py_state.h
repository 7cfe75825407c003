// The Python side of a context: everything that needs the context's GIL.
// Only the context thread touches a PyState, always with its GIL held.
#pragma once

#include <Python.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/cbor_python.h"
#include "core/error.h"
#include "core/request.h"

struct pyctx_host_call;

namespace pyctx::core {

class Context;

// Transparent hashing so lookups by string_view do not allocate.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class PyState {
public:
    explicit PyState(Context &ctx) : ctx_(ctx) {}
    ~PyState() = default;

    // Imports pyctx, creates the default namespace and runs the preload.
    bool init(const std::string &preload, Error *err);
    // Drops every Python object held (tasks cancelled, loop closed).
    void clear();

    // Runs one request. It completes through Context::finish, except a
    // coroutine call, which becomes a task that completes later.
    void execute(Request *request);

    // asyncio: tasks pending on this context's loop.
    bool has_tasks() const { return pending_tasks_ != 0; }
    bool loop_running() const { return loop_depth_ != 0; }
    // Runs the event loop until the context is woken (eventfd), or for one
    // non-blocking iteration.
    void drive_loop(bool block);
    // Called from the task's done callback.
    void task_done(uint64_t request_id, PyObject *task);
    // Returns a future on this context's loop (creating the loop).
    PyObject *create_future();

    const PyTypes &types() const { return types_; }

    // The current exception as an Error (clears it).
    Error fetch_error();

    // Host calls awaited by coroutines, resolved on this thread (host.cpp).
    std::unordered_set<pyctx_host_call *> async_host_calls;

private:
    PyObject *namespace_for(uint64_t env_id, Error *err);
    PyObject *resolve_function(const Request &r, Error *err);
    PyObject *compiled(const std::string &source, int start, Error *err);
    void run_call(Request *r);
    void run_eval(Request *r);
    void run_exec(Request *r);
    void complete_with(Request *r, PyObject *result);  // steals result
    // Completes `r` from this thread unless someone else already has.
    void finish_unless_claimed(Request *r, Outcome out);
    bool start_task(Request *r, PyObject *awaitable);  // steals awaitable
    bool ensure_loop(Error *err);
    void cancel_task(uint64_t request_id);

    Context &ctx_;
    PyTypes types_;
    PyObject *default_ns_ = nullptr;
    std::unordered_map<uint64_t, PyObject *> envs_;
    StringMap<PyObject *> modules_;
    StringMap<PyObject *> functions_;  // key "module\0function"
    StringMap<PyObject *> eval_code_;
    StringMap<PyObject *> exec_code_;
    std::string key_;  // scratch for function keys
    // One-entry cache in front of functions_ (last_fn_ is borrowed from it).
    std::string last_target_, last_text_;
    PyObject *last_fn_ = nullptr;
    void remember_last(const Request &r, PyObject *fn);
    void forget_functions();
    PyObject *format_exception_ = nullptr;

    // asyncio
    PyObject *loop_ = nullptr;
    PyObject *loop_stop_ = nullptr;        // bound loop.stop
    PyObject *run_forever_ = nullptr;      // bound loop.run_forever
    PyObject *call_soon_ = nullptr;        // bound loop.call_soon
    PyObject *create_task_ = nullptr;      // bound loop.create_task
    PyObject *ensure_future_ = nullptr;    // asyncio.ensure_future
    std::unordered_map<uint64_t, PyObject *> task_objects_;
    size_t pending_tasks_ = 0;
    int loop_depth_ = 0;
    bool stop_after_iteration_ = false;
};

}  // namespace pyctx::core
