// A channel: a bounded two-way queue between the host and Python code, of
// CBOR values (a byte channel's values are CBOR byte strings, unwrapped by
// the C API). No Python here (core/python/channel_py.cpp is the Python
// side).
//
// Each direction holds at most `capacity` values: a sender facing a full
// queue waits for credit (the host on a condition variable, Python on a
// wake-up token), a receiver facing an empty one waits for a value. Python
// waits through HostCall tokens (core/host/host_call.h) so a context thread
// keeps serving its queue, and an awaiting coroutine is resumed on its loop,
// exactly as for a host-function call. A token is only a wake-up: the value
// stays queued until the woken side takes it, so a receiver that gives up
// (cancelled, timed out) never loses one. Closing either end wakes every
// waiter; values already queued can still be received, then receivers see
// the end.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/base/error.h"

namespace pyctx::core {

struct HostCall;

class Channel {
public:
    Channel(uint64_t id, size_t capacity, bool bytes) : id_(id), capacity_(capacity), bytes_(bytes) {}
    ~Channel();

    uint64_t id() const { return id_; }
    bool bytes_mode() const { return bytes_; }
    size_t capacity() const { return capacity_; }

    enum class Result { ok, would_block, closed };

    // Host side, blocking up to `deadline_ns` (0: do not wait; -1: forever):
    // Status::queue_full / timeout / closed otherwise.
    Error host_send(std::string value, int64_t deadline_ns);
    Error host_recv(std::string *out, int64_t deadline_ns);

    // Python side, never blocking. With `max_len`, a value longer than that
    // is left at the head of the queue: the result is would_block and
    // `*oversized` its length (a process context cannot carry it).
    Result python_try_recv(std::string *out, size_t max_len = SIZE_MAX,
                           size_t *oversized = nullptr);
    Result python_try_send(std::string &value);  // moved from on ok
    // Registers `token` (which carries one reference for the channel) to be
    // woken when the direction is ready (a value to receive, room to send)
    // or the channel closes. False when it is ready already: the caller
    // keeps the reference and retries.
    bool python_wait_readable(HostCall *token);
    bool python_wait_writable(HostCall *token);

    void close();
    bool closed() const;

    struct Stats {
        uint64_t to_python, from_python;     // values taken by each receiver
        uint64_t queued_to_python, queued_to_host;
    };
    Stats stats() const;

private:
    // Wakes every token (under no lock). All of them, not one: a waiter
    // may have given up (a cancelled await), and each woken one takes a
    // value or waits again.
    static void wake_all(std::deque<HostCall *> waiters);

    const uint64_t id_;
    const size_t capacity_;
    const bool bytes_;
    mutable std::mutex mu_;
    std::condition_variable host_cv_;  // host senders and receivers
    std::deque<std::string> to_python_, to_host_;
    std::deque<HostCall *> py_readers_, py_writers_;
    bool closed_ = false;
    uint64_t to_python_count_ = 0, from_python_count_ = 0;
};

// Channels by id, so Python can open one the host made (pyctx.Channel(id)).
class ChannelRegistry {
public:
    std::shared_ptr<Channel> create(size_t capacity, bool bytes);
    std::shared_ptr<Channel> find(uint64_t id);
    void remove(uint64_t id);

private:
    std::mutex mu_;
    uint64_t next_ = 0;
    std::unordered_map<uint64_t, std::weak_ptr<Channel>> map_;
};

ChannelRegistry &channels();

}  // namespace pyctx::core
