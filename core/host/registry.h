// The process-wide registry of host functions: named functions the host
// registers and Python calls (pyctx.call / pyctx.async_call). No Python here:
// the registry only maps names to callables; core/python/host_calls.cpp is
// the Python side and core/host/host_call.h the pending invocation.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/base/named_table.h"

namespace pyctx::core {

struct HostCall;

// A registered function. The C API (or any other front end) subclasses it;
// the destructor is where the front end's finalizer of its user data runs,
// so it runs once, when the last holder lets go: after unregistering and
// after every call already dispatched to it has been invoked.
class HostFunction {
public:
    explicit HostFunction(std::string name) : name_(std::move(name)) {}
    virtual ~HostFunction() = default;
    HostFunction(const HostFunction &) = delete;
    HostFunction &operator=(const HostFunction &) = delete;

    const std::string &name() const { return name_; }
    // Invoked on a library thread (GIL released). `call` carries one
    // reference for the answering side, consumed by its answer.
    virtual void invoke(HostCall *call) = 0;

private:
    std::string name_;
};

class HostRegistry {
public:
    // Adds or replaces. The replaced function is released outside the lock
    // (its finalizer is user code).
    void add(std::shared_ptr<HostFunction> fn);
    bool remove(const std::string &name) { return table_.erase(name); }
    std::shared_ptr<HostFunction> find(std::string_view name) const { return table_.find(name); }
    void clear() { table_.clear(); }

private:
    NamedTable<HostFunction> table_;
};

HostRegistry &host_registry();

}  // namespace pyctx::core
