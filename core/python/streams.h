// Streams, the Python side: the iterators, generators and async generators
// of one context that the host reads item by item.
//
// A stream is driven by request-like messages that carry plain data only,
// so the same protocol can travel over any executor seam (a shared-memory
// ring to a child process included):
//   open   a call/eval/object request whose result form is `stream`: its
//          result becomes stream `id` (the open request's own id);
//   pull   (RequestKind::stream_pull, `count` = n) "you may advance the
//          iterator up to n times": it completes with the items produced,
//          as one CBOR array [ended, item...] -- batched: a fast producer
//          fills the whole credit, a slow one is delivered after the first
//          item that took long;
//   close  (RequestKind::stream_close) closes the iterator (generator
//          close() / async generator aclose(): finally blocks run).
// Items therefore come back through the ordinary completion path, and the
// credit rule holds by construction: the host has at most one pull in
// flight and asks for no more than the credit it was granted minus what it
// received, and a pull never advances beyond its n.
//
// An exception mid-stream: the items produced before it are delivered, and
// the next pull completes with that exception (type, message, traceback).
// Async generators advance on the context's asyncio loop (a pull is a task
// there), so many streams progress concurrently on one context.
//
// Context thread only, GIL held.
#pragma once

#include "core/python/ref.h"

#include <cstdint>
#include <unordered_map>

#include "core/base/error.h"
#include "core/request/request.h"

namespace pyctx::core {

class ContextThread;
class EventLoop;
struct PyTypes;

class Streams {
public:
    Streams(ContextThread &thread, const PyTypes &types, EventLoop &loop)
        : thread_(thread), types_(types), loop_(loop) {}
    Streams(const Streams &) = delete;
    Streams &operator=(const Streams &) = delete;

    size_t size() const { return streams_.size(); }

    // Makes `result` stream `id`: an async iterator, an iterator, or an
    // iterable. False with *err when it is none of these.
    bool open(uint64_t id, PyObject *result, Error *err);
    // Runs a stream_pull or stream_close request.
    void run(Request *r);
    // Forgets stream `id` (an open whose outcome lost its claim); dropping a
    // generator closes it.
    void discard(uint64_t id) { streams_.erase(id); }
    // Closes every stream (context close).
    void clear();

private:
    struct Entry {
        PyRef iter;   // the iterator, or the async pump (see streams.cpp)
        bool async = false;
        Error error;  // raised after items: reported by the next pull
    };
    void pull_sync(Request *r, Entry &e);
    void start_async(Request *r, Entry &e, const char *method, PyObject *arg);
    void complete(Request *r, Outcome &&out);
    bool ensure_helper(Error *err);

    ContextThread &thread_;
    const PyTypes &types_;
    EventLoop &loop_;
    PyRef helper_;  // the pump class (Python code, compiled on first use)
    std::unordered_map<uint64_t, Entry> streams_;
};

}  // namespace pyctx::core
