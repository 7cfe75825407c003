#include "core/host/builtin_calls.h"

#include <vector>

#include "core/cbor/reader.h"
#include "core/cbor/writer.h"
#include "core/host/channel.h"
#include "core/host/endpoints.h"
#include "core/host/host_call.h"
#include "core/host/store.h"

namespace pyctx::core::builtin {

namespace {

// A cursor over one call's argument array.
class Args {
public:
    Args(std::string_view args, std::string *error)
        : p_(reinterpret_cast<const uint8_t *>(args.data())), len_(args.size()), error_(error) {}

    bool open(uint64_t *count) {
        cbor::Head h;
        if (!head(&h) || h.type != cbor::Type::array || h.indefinite) return bad("not an array");
        *count = h.arg;
        return true;
    }
    bool uint(uint64_t *out) {
        cbor::Head h;
        if (!head(&h) || h.type != cbor::Type::uint) return bad("expected an unsigned integer");
        *out = h.arg;
        return true;
    }
    bool boolean(bool *out) {
        cbor::Head h;
        if (!head(&h) || (h.type != cbor::Type::true_ && h.type != cbor::Type::false_))
            return bad("expected a boolean");
        *out = h.type == cbor::Type::true_;
        return true;
    }
    bool text(std::string_view *out) {
        cbor::Head h;
        if (!head(&h) || h.type != cbor::Type::text || h.indefinite) return bad("expected a text string");
        // read_head consumed the payload too.
        *out = std::string_view(reinterpret_cast<const char *>(h.data), static_cast<size_t>(h.arg));
        return true;
    }
    // One whole item, as its encoded bytes.
    bool item(const uint8_t **data, size_t *len) {
        const size_t start = pos_;
        Error err;
        if (!cbor::skip_item(p_, len_, &pos_, &err)) return bad(err.message);
        *data = p_ + start;
        *len = pos_ - start;
        return true;
    }

private:
    bool head(cbor::Head *h) {
        Error err;
        if (cbor::read_head(p_, len_, &pos_, h, &err)) return true;
        *error_ = err.message;
        return false;
    }
    bool bad(const std::string &what) {
        if (error_->empty()) *error_ = "malformed builtin call: " + what;
        return false;
    }

    const uint8_t *p_;
    size_t len_;
    size_t pos_ = 0;
    std::string *error_;
};

bool write_failure(ByteBuffer &a, const Error &e) {
    return cbor::write_head(a, cbor::Major::array, 3) && cbor::write_bool(a, false) &&
           cbor::write_uint(a, static_cast<uint64_t>(e.status)) &&
           cbor::write_text(a, e.message.data(), e.message.size());
}

}  // namespace

bool run_store(std::string_view args, ByteBuffer &a, std::string *error) {
    Args in(args, error);
    uint64_t count = 0, op = 0;
    std::string_view key;
    if (!in.open(&count) || count < 2 || !in.uint(&op) || !in.text(&key)) return false;
    Store &store = shared_store();
    switch (static_cast<StoreOp>(op)) {
        case StoreOp::get: {
            std::string value;
            uint64_t version = 0;
            if (!store.get(key, &value, &version)) return cbor::write_head(a, cbor::Major::array, 0);
            return cbor::write_head(a, cbor::Major::array, 2) && a.append(value.data(), value.size()) &&
                   cbor::write_uint(a, version);
        }
        case StoreOp::put: {
            const uint8_t *value = nullptr;
            size_t len = 0;
            if (count != 3 || !in.item(&value, &len)) return false;
            uint64_t version = 0;
            if (Error e = store.put(key, value, len, &version); !e.ok()) return write_failure(a, e);
            return cbor::write_head(a, cbor::Major::array, 2) && cbor::write_bool(a, true) &&
                   cbor::write_uint(a, version);
        }
        case StoreOp::cas: {
            uint64_t expected = 0;
            const uint8_t *value = nullptr;
            size_t len = 0;
            if (count != 4 || !in.uint(&expected) || !in.item(&value, &len)) return false;
            bool swapped = false;
            uint64_t version = 0;
            if (Error e = store.cas(key, expected, value, len, &swapped, &version); !e.ok())
                return write_failure(a, e);
            return cbor::write_head(a, cbor::Major::array, 3) && cbor::write_bool(a, true) &&
                   cbor::write_bool(a, swapped) && cbor::write_uint(a, version);
        }
        case StoreOp::erase: {
            uint64_t expected = Store::kAbsent;
            if (count != 3 || !in.uint(&expected)) return false;
            return cbor::write_bool(a, store.erase(key, expected));
        }
        case StoreOp::keys: {
            std::vector<std::string> keys = store.keys(key);  // the key is the prefix
            bool ok = cbor::write_head(a, cbor::Major::array, keys.size());
            for (const std::string &k : keys) ok = ok && cbor::write_text(a, k.data(), k.size());
            return ok;
        }
    }
    *error = "malformed builtin call: unknown store operation " + std::to_string(op);
    return false;
}

namespace {

// [op, id, ...]: the op and the channel (nullptr when the host freed it).
bool channel_head(Args &in, uint64_t *count, ChannelOp *op, uint64_t *id) {
    uint64_t code = 0;
    if (!in.open(count) || *count < 2 || !in.uint(&code) || !in.uint(id)) return false;
    *op = static_cast<ChannelOp>(code);
    return true;
}

bool write_result(ByteBuffer &a, ChannelResult r, size_t extra) {
    return cbor::write_head(a, cbor::Major::array, 1 + extra) &&
           cbor::write_uint(a, static_cast<uint64_t>(r));
}

ChannelResult result_of(Channel::Result r) {
    switch (r) {
        case Channel::Result::ok: return ChannelResult::ok;
        case Channel::Result::would_block: return ChannelResult::would_block;
        case Channel::Result::closed: break;
    }
    return ChannelResult::closed;
}

}  // namespace

bool channel_op(std::string_view args, ChannelOp *op) {
    std::string ignored;
    Args in(args, &ignored);
    uint64_t count = 0, id = 0;
    return channel_head(in, &count, op, &id);
}

bool run_channel(std::string_view args, ByteBuffer &a, std::string *error, size_t max_answer) {
    Args in(args, error);
    uint64_t count = 0, id = 0;
    ChannelOp op{};
    if (!channel_head(in, &count, &op, &id)) return false;
    std::shared_ptr<Channel> ch = channels().find(id);
    switch (op) {
        case ChannelOp::open:
            if (!ch) return cbor::write_head(a, cbor::Major::array, 1) && cbor::write_bool(a, false);
            return cbor::write_head(a, cbor::Major::array, 2) && cbor::write_bool(a, true) &&
                   cbor::write_bool(a, ch->bytes_mode());
        case ChannelOp::try_recv: {
            if (!ch) return write_result(a, ChannelResult::closed, 0);
            // The value follows write_result's array head and result: two bytes.
            constexpr size_t kResultHead = 2;
            const size_t max_value = max_answer < kResultHead ? 0 : max_answer - kResultHead;
            std::string value;
            size_t oversized = 0;
            const ChannelResult r = result_of(ch->python_try_recv(&value, max_value, &oversized));
            if (oversized) {
                *error = "the next value in channel " + std::to_string(id) + " (" +
                         std::to_string(oversized) +
                         " bytes) exceeds what a process context carries in one message (" +
                         std::to_string(max_value) + " bytes); it stays queued";
                return false;
            }
            if (r != ChannelResult::ok) return write_result(a, r, 0);
            return write_result(a, r, 1) && a.append(value.data(), value.size());
        }
        case ChannelOp::try_send: {
            const uint8_t *value = nullptr;
            size_t len = 0;
            if (count != 3 || !in.item(&value, &len)) return false;
            if (!ch) return write_result(a, ChannelResult::closed, 0);
            std::string v(reinterpret_cast<const char *>(value), len);
            return write_result(a, result_of(ch->python_try_send(v)), 0);
        }
        case ChannelOp::close:
            if (ch) ch->close();
            return cbor::write_null(a);
        case ChannelOp::closed: return cbor::write_bool(a, !ch || ch->closed());
        case ChannelOp::wait_readable:
        case ChannelOp::wait_writable: break;  // channel_wait()
    }
    *error = "malformed builtin call: channel operation " +
             std::to_string(static_cast<unsigned>(op)) + " is not one that answers at once";
    return false;
}

bool channel_wait(std::string_view args, HostCall *token, std::string *error) {
    Args in(args, error);
    uint64_t count = 0, id = 0;
    ChannelOp op{};
    if (!channel_head(in, &count, &op, &id)) return false;
    if (op != ChannelOp::wait_readable && op != ChannelOp::wait_writable) {
        *error = "malformed builtin call: not a channel wait";
        return false;
    }
    static const uint8_t kNull = 0xf6;
    std::shared_ptr<Channel> ch = channels().find(id);
    const bool registered = ch && (op == ChannelOp::wait_readable ? ch->python_wait_readable(token)
                                                                  : ch->python_wait_writable(token));
    if (!registered) host_call_return(token, &kNull, 1);  // ready now, or gone (closed)
    return true;
}

bool run_send(std::string_view context_name, std::string_view args, ByteBuffer &a,
              std::string *error) {
    Args in(args, error);
    uint64_t count = 0;
    const uint8_t *target = nullptr, *value = nullptr;
    size_t target_len = 0, value_len = 0;
    bool by_name = false;
    if (!in.open(&count) || count != 3 || !in.item(&target, &target_len) ||
        !in.item(&value, &value_len) || !in.boolean(&by_name))
        return false;
    std::shared_ptr<Endpoint> ep;
    std::string name;
    std::string failure;
    if (by_name) {
        std::string ignored;
        Args t(std::string_view(reinterpret_cast<const char *>(target), target_len), &ignored);
        std::string_view n;
        if (!t.text(&n)) {
            *error = "malformed builtin call: a named target that is not a text string";
            return false;
        }
        name.assign(n);
        ep = endpoints().find(name);
        if (!ep) failure = "no endpoint named '" + name + "' is registered";
    } else {
        ep = endpoints().router();
        if (!ep) failure = "no router is set for this kind of target";
    }
    if (ep) {
        Message m{context_name, target, target_len, value, value_len};
        const bool delivered = ep->deliver(m);
        ep.reset();  // may run the finalizer of an endpoint removed meanwhile
        if (delivered) return cbor::write_head(a, cbor::Major::array, 1) && cbor::write_bool(a, true);
        failure = by_name ? "endpoint '" + name + "' is closed" : "the target is gone (not alive)";
    }
    return cbor::write_head(a, cbor::Major::array, 2) && cbor::write_bool(a, false) &&
           cbor::write_text(a, failure.data(), failure.size());
}

}  // namespace pyctx::core::builtin
