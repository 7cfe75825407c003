// Channels: the host's end (core/host/channel.h).
#include <cstdlib>
#include <cstring>

#include "capi/handles.h"
#include "core/base/futex.h"
#include "core/cbor/reader.h"
#include "core/cbor/writer.h"
#include "core/host/channel.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;

struct pyctx_channel {
    std::shared_ptr<core::Channel> ch;
};

namespace {

constexpr int64_t kNoWait = 0, kForever = -1;

int64_t deadline_of(uint32_t timeout_ms) {
    if (timeout_ms == PYCTX_NO_TIMEOUT) return kForever;
    return core::now_ns() + static_cast<int64_t>(timeout_ms) * 1000000;
}

pyctx_error_t *send_impl(pyctx_channel_t *channel, const uint8_t *data, size_t len,
                         int64_t deadline);
pyctx_error_t *recv_impl(pyctx_channel_t *channel, int64_t deadline, pyctx_bytes_t *out_value);

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_channel_new(size_t capacity, int bytes_mode,
                                           pyctx_channel_t **out_channel) {
    return guarded([&]() -> pyctx_error_t * {
        if (!out_channel) return invalid("out_channel is NULL");
        if (capacity == 0) return invalid("capacity is 0");
        auto *h = new pyctx_channel{core::channels().create(capacity, bytes_mode != 0)};
        *out_channel = h;
        return nullptr;
    });
}

PYCTX_API void pyctx_channel_free(pyctx_channel_t *channel) {
    if (!channel) return;
    channel->ch->close();
    core::channels().remove(channel->ch->id());
    delete channel;
}

PYCTX_API uint64_t pyctx_channel_id(const pyctx_channel_t *channel) {
    return channel ? channel->ch->id() : 0;
}

PYCTX_API pyctx_error_t *pyctx_channel_send(pyctx_channel_t *channel, const uint8_t *data,
                                            size_t len, uint32_t timeout_ms) {
    return send_impl(channel, data, len, deadline_of(timeout_ms));
}

PYCTX_API pyctx_error_t *pyctx_channel_try_send(pyctx_channel_t *channel, const uint8_t *data,
                                                size_t len) {
    return send_impl(channel, data, len, kNoWait);
}

PYCTX_API pyctx_error_t *pyctx_channel_recv(pyctx_channel_t *channel, uint32_t timeout_ms,
                                            pyctx_bytes_t *out_value) {
    return recv_impl(channel, deadline_of(timeout_ms), out_value);
}

PYCTX_API pyctx_error_t *pyctx_channel_try_recv(pyctx_channel_t *channel,
                                                pyctx_bytes_t *out_value) {
    return recv_impl(channel, kNoWait, out_value);
}

}  // extern "C"

namespace {

pyctx_error_t *send_impl(pyctx_channel_t *channel, const uint8_t *data, size_t len,
                         int64_t deadline) {
    return guarded([&]() -> pyctx_error_t * {
        if (!channel) return invalid("channel is NULL");
        if (!data && len) return invalid("data is NULL but its length is not 0");
        std::string value;
        if (channel->ch->bytes_mode()) {
            // Raw bytes travel as one CBOR byte string: Python gets bytes.
            core::ByteBuffer head;
            if (!core::cbor::write_head(head, core::cbor::Major::bytes, len))
                return capi::make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
            value.assign(reinterpret_cast<const char *>(head.data()), head.size());
            value.append(reinterpret_cast<const char *>(data), len);
        } else {
            if (len == 0) return capi::make_error(PYCTX_ERR_DECODE, "value is empty: expected one CBOR item");
            core::Error err;
            if (!core::cbor::check_single_item(data, len, &err))
                return capi::make_error(PYCTX_ERR_DECODE, "value: " + err.message);
            value.assign(reinterpret_cast<const char *>(data), len);
        }
        return capi::to_c(channel->ch->host_send(std::move(value), deadline));
    });
}

pyctx_error_t *recv_impl(pyctx_channel_t *channel, int64_t deadline, pyctx_bytes_t *out_value) {
    return guarded([&]() -> pyctx_error_t * {
        if (!channel) return invalid("channel is NULL");
        if (!out_value) return invalid("out_value is NULL");
        std::string value;
        core::Error err = channel->ch->host_recv(&value, deadline);
        if (!err.ok()) return capi::make_error(std::move(err));
        const char *start = value.data();
        size_t n = value.size();
        if (channel->ch->bytes_mode()) {
            // Python sent a bytes-like value: unwrap the byte string.
            core::cbor::Head head;
            size_t pos = 0;
            core::Error derr;
            if (!core::cbor::read_head(reinterpret_cast<const uint8_t *>(value.data()), value.size(),
                                       &pos, &head, &derr) ||
                head.type != core::cbor::Type::bytes || head.indefinite || pos != value.size())
                return capi::make_error(PYCTX_ERR_DECODE, "a byte channel received a non-bytes value");
            start = reinterpret_cast<const char *>(head.data);
            n = static_cast<size_t>(head.arg);
        }
        auto *buf = static_cast<uint8_t *>(std::malloc(n ? n : 1));
        if (!buf) return capi::make_error(PYCTX_ERR_NO_MEMORY, "out of memory");
        if (n) std::memcpy(buf, start, n);
        out_value->data = buf;
        out_value->len = n;
        return nullptr;
    });
}

}  // namespace

extern "C" {

PYCTX_API void pyctx_channel_close(pyctx_channel_t *channel) {
    if (channel) channel->ch->close();
}

PYCTX_API void pyctx_channel_stats(const pyctx_channel_t *channel,
                                   pyctx_channel_stats_t *out_stats) {
    if (!channel || !out_stats) return;
    core::Channel::Stats s = channel->ch->stats();
    out_stats->to_python = s.to_python;
    out_stats->from_python = s.from_python;
    out_stats->queued_to_python = s.queued_to_python;
    out_stats->queued_to_host = s.queued_to_host;
}

}  // extern "C"
