// Where pyctx.send() delivers: endpoints the host registered by name, and
// one router for every other kind of target (an Erlang pid travelling as a
// HostTerm, a registered-name Symbol, ...). No Python here: the Python side
// (core/python/send_py.cpp) encodes the target and the value as CBOR and
// hands them over on the sending thread, so the messages of one sender keep
// their order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/base/named_table.h"

namespace pyctx::core {

// One message, borrowed for the duration of Endpoint::deliver only.
struct Message {
    std::string_view context_name;  // "" from a Python thread that is not a context's
    const uint8_t *target;          // CBOR: a text string for a named endpoint
    size_t target_len;
    const uint8_t *value;  // CBOR, one item
    size_t value_len;
};

// A front end's receiver (the C API subclasses it; its destructor runs the
// user data's finalizer, after the last delivery in flight).
class Endpoint {
public:
    virtual ~Endpoint() = default;
    // Called on the sending thread with no GIL held; must not block.
    // False when the target is gone (dead process, closed receiver).
    virtual bool deliver(const Message &m) = 0;
};

class EndpointRegistry {
public:
    void add(const std::string &name, std::shared_ptr<Endpoint> ep) {
        table_.put(name, std::move(ep));
    }
    bool remove(const std::string &name) { return table_.erase(name); }
    std::shared_ptr<Endpoint> find(std::string_view name) const { return table_.find(name); }
    // nullptr removes it.
    void set_router(std::shared_ptr<Endpoint> router);
    std::shared_ptr<Endpoint> router();
    void clear();

private:
    NamedTable<Endpoint> table_;
    std::mutex mu_;  // guards router_
    std::shared_ptr<Endpoint> router_;
};

EndpointRegistry &endpoints();

}  // namespace pyctx::core
