// Host functions: named functions the host registers and Python calls with
// pyctx.call("name", *args) or `await pyctx.async_call("name", *args)`.
//
// A pending invocation is a `pyctx_host_call` (the C API's opaque type is
// this very struct), reference counted between the Python side, which waits
// for it, and the host, which answers it exactly once from any thread.
#pragma once

#include <Python.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/byte_buffer.h"
#include "core/error.h"

struct pyctx_host_call;

namespace pyctx::core {

class Context;
struct Request;

using HostFn = void (*)(void *user_data, pyctx_host_call *call);
using FreeFn = void (*)(void *user_data);

struct HostFunction {
    std::string name;
    HostFn fn = nullptr;
    void *user_data = nullptr;
    FreeFn free_user_data = nullptr;
    ~HostFunction() {
        if (free_user_data) free_user_data(user_data);
    }
};

class HostRegistry {
public:
    void add(std::shared_ptr<HostFunction> fn);
    bool remove(const std::string &name);
    std::shared_ptr<HostFunction> find(std::string_view name);
    void clear();  // finalizers run as the last in-flight call lets go

private:
    std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<HostFunction>> map_;
};

HostRegistry &host_registry();

// Answers (any thread). Both consume the host's reference to the call.
Error host_call_return(pyctx_host_call *call, const uint8_t *value, size_t len);
Error host_call_fail(pyctx_host_call *call, const char *message);

// The pyctx module's functions `call` and `async_call` (vectorcall style).
PyObject *host_py_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *host_py_async_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

// Context-thread hooks: resolve an awaited call (internal host_reply
// request); drop every awaited call when the context closes.
void host_call_resume(Context &ctx, Request *reply);
void host_calls_abandon_all(Context &ctx);
// Drops a host_reply request that will never be processed (context gone).
void host_reply_discard(Request *reply);

}  // namespace pyctx::core

struct pyctx_host_call {
    std::atomic<int> refs{2};  // the waiting Python side + the host
    std::string name;
    std::string context_name;
    pyctx::core::ByteBuffer args;  // CBOR array
    std::shared_ptr<pyctx::core::HostFunction> function;
    std::shared_ptr<pyctx::core::Context> context;  // null for non-context threads

    // The answer, written once by the host before `answered` is set.
    std::atomic<uint32_t> answered{0};
    std::atomic<bool> answer_claimed{false};
    std::atomic<bool> abandoned{false};
    bool ok = false;
    pyctx::core::ByteBuffer value;
    std::string error_message;

    // Awaited form: the future, touched on the context thread only.
    bool awaited = false;
    PyObject *future = nullptr;

    void release() {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};
