// Streams (pyctx_stream_*): the host side of core/python/streams.h. A stream
// is driven by plain request messages to its context -- the open (a call,
// eval or object request whose result form is `stream`), pulls ("advance up
// to n", n never more than the credit granted minus the items received)
// and a close -- and its items come back as the pulls' completions, so the
// same protocol works over any executor seam.
//
// One message at a time is in flight per stream (the open, then one pull
// after another), so item callbacks of one stream never overlap, and an
// end decided while a message is in flight (a cancel, a close) is held back
// until that message's items were delivered: the end comes after the last
// item, exactly once.
#include <condition_variable>
#include <deque>
#include <mutex>

#include "capi/handle_request.h"
#include "capi/objects.h"
#include "capi/request_settings.h"
#include "core/cbor/reader.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;

namespace {

// Items asked for in one pull at most (bounds one batch's memory).
constexpr uint64_t kMaxPull = 8192;

// A message of a stream to its context; it points back at its stream.
using StreamMessage = capi::HandleRequest<pyctx_stream>;

thread_local pyctx_stream *tls_in_end = nullptr;  // the stream whose on_end runs here

}  // namespace

struct pyctx_stream {
    std::atomic<int> refs{1};  // the owner's, plus one per message in flight
    std::shared_ptr<core::Context> ctx;
    uint64_t id = 0;  // the open request's id: the stream's name in its context
    pyctx_stream_item_fn on_item = nullptr;
    pyctx_stream_end_fn on_end = nullptr;
    void *user_data = nullptr;
    pyctx_free_fn free_user_data = nullptr;
    uint32_t window = 1;  // pull form: credit granted by each pyctx_stream_next

    std::mutex mu;
    std::condition_variable cv;
    // ---- under mu ----
    uint64_t granted = 0, delivered = 0;
    bool opened = false;     // the open succeeded
    bool in_flight = true;   // the open or a pull is on its way
    bool close_sent = false;
    bool end_decided = false;
    bool end_pending = false;     // decided while a message was in flight
    core::Error pending_error;
    std::deque<core::ByteBuffer> items;  // pull form
    pyctx_error end_error;               // written when decided
    // Parked in the lane from the open to the end, so a close reaches a
    // stream that has no message in flight (lane.h "Close watches").
    core::Request *close_watch = nullptr;  // set once, at the open
    std::atomic<bool> cancelled{false};
    std::atomic<bool> ended{false};      // on_end has returned
    bool freed_in_end = false;           // pyctx_stream_free from on_end (that thread only)

    ~pyctx_stream() { drop_user_data(); }
    // No callback runs after the end, so the user data goes with the
    // owner's free (or right after on_end, when that is where it was freed).
    void drop_user_data() {
        if (pyctx_free_fn f = std::exchange(free_user_data, nullptr)) f(user_data);
    }
    void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
    void release() {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
};

namespace {

void on_message_done(core::Request *r, void *);

core::Error submit_message(pyctx_stream *s, core::RequestKind kind, uint32_t count) {
    core::RequestRef r(StreamMessage::make());
    r->kind = kind;
    r->object_id = s->id;
    r->count = count;
    r->sink = on_message_done;
    r->id = s->ctx->lane().next_request_id();
    static_cast<StreamMessage *>(r.get())->handle = s;
    s->retain();
    core::Error err = s->ctx->lane().submit(std::move(r), false);
    if (!err.ok()) s->release();  // refused: it never completes
    return err;
}

void on_close_watch(core::Request *r, void *);

// Parks the stream's close watch in its context's lane (at the open).
void watch_close(pyctx_stream *s) {
    core::RequestRef w(StreamMessage::make());
    w->sink = on_close_watch;
    static_cast<StreamMessage *>(w.get())->handle = s;
    s->retain();  // the watch's
    if (s->ctx->lane().watch_close(w.get())) {
        s->close_watch = w.get();
    } else {
        s->release();  // closing already: the open is refused or ends closed
    }
}

// Takes the watch back at the end; when the close took it first, its
// delivery (a no-op once the end is decided) releases it instead.
void stop_watching_close(pyctx_stream *s) {
    core::Request *w = s->close_watch;
    if (w && s->ctx->lane().unwatch_close(w)) {
        w->release();
        s->release();
    }
}

// Reports the end (once): `lock` is held on entry and released here.
void report_end(pyctx_stream *s, std::unique_lock<std::mutex> &lock, core::Error err) {
    s->retain();  // on_end may free the stream (the owner's reference)
    s->end_decided = true;
    s->end_error.error = std::move(err);
    // The context forgets the stream (a no-op there when it already has).
    const bool close = s->opened && !s->close_sent;
    s->close_sent = true;
    lock.unlock();
    stop_watching_close(s);
    if (close) core::Error ignored = submit_message(s, core::RequestKind::stream_close, 0);
    if (s->on_end) {
        pyctx_stream *outer = tls_in_end;
        tls_in_end = s;
        const core::Error &e = s->end_error.error;
        s->on_end(s->user_data, s, static_cast<pyctx_status>(e.status), e.ok() ? nullptr : &s->end_error);
        tls_in_end = outer;
        if (s->freed_in_end) s->drop_user_data();
    }
    lock.lock();
    s->ended.store(true, std::memory_order_release);
    s->cv.notify_all();
    lock.unlock();
    s->release();
}

// An end decided outside a message's completion (cancel, refusal).
void decide_end(pyctx_stream *s, core::Error err) {
    std::unique_lock lock(s->mu);
    if (s->end_decided || s->end_pending) return;
    if (s->in_flight) {  // reported after that message's items
        s->end_pending = true;
        s->pending_error = std::move(err);
        return;
    }
    report_end(s, lock, std::move(err));
}

// The message marked in flight will never complete (its submission was
// refused, or delivering its items failed): the end is `err`, unless an
// end was held back for that message meanwhile (a close watch that came
// while it was "in flight"), which is then the one reported.
void end_without_message(pyctx_stream *s, core::Error err) {
    std::unique_lock lock(s->mu);
    s->in_flight = false;
    if (s->end_decided) return;
    if (s->end_pending) err = std::move(s->pending_error);
    report_end(s, lock, std::move(err));
}

// Sends the next pull when the stream may advance and none is in flight.
void pump(pyctx_stream *s) {
    uint32_t n;
    {
        std::lock_guard lock(s->mu);
        if (!s->opened || s->in_flight || s->end_decided || s->end_pending ||
            s->cancelled.load(std::memory_order_relaxed) || s->granted <= s->delivered)
            return;
        n = static_cast<uint32_t>(std::min(s->granted - s->delivered, kMaxPull));
        s->in_flight = true;
    }
    core::Error err = submit_message(s, core::RequestKind::stream_pull, n);
    if (!err.ok()) end_without_message(s, std::move(err));
}

// Delivers the items of a pull's batch [ended, item...]; false when the
// batch is malformed. *ended says whether the iterator was exhausted.
bool deliver_batch(pyctx_stream *s, const core::ByteBuffer &v, bool *ended, uint64_t *count) {
    const uint8_t *p = v.data();
    size_t len = v.size(), pos = 0;
    core::Error err;
    core::cbor::Head h, flag;
    if (!core::cbor::read_head(p, len, &pos, &h, &err) || h.type != core::cbor::Type::array ||
        h.indefinite || h.arg < 1 || !core::cbor::read_head(p, len, &pos, &flag, &err))
        return false;
    *ended = flag.type == core::cbor::Type::true_;
    *count = h.arg - 1;
    for (uint64_t i = 0; i < *count; ++i) {
        const size_t start = pos;
        if (!core::cbor::skip_item(p, len, &pos, &err, false)) return false;
        if (s->cancelled.load(std::memory_order_acquire)) continue;  // dropped after a cancel
        if (s->on_item) {
            s->on_item(s->user_data, s, p + start, pos - start);
        } else {
            core::ByteBuffer item;
            if (!item.append(p + start, pos - start)) throw std::bad_alloc();
            std::lock_guard lock(s->mu);
            s->items.push_back(std::move(item));
            s->cv.notify_all();
        }
    }
    return true;
}

void on_message_done(core::Request *r, void *) {
    auto *m = static_cast<StreamMessage *>(r);
    pyctx_stream *s = m->handle;
    core::Outcome &out = r->outcome;
    try {
        if (r->kind == core::RequestKind::stream_close) {
            // A cancel's close: the end, unless the stream ended before.
            decide_end(s, out.error.status == core::Status::closed
                              ? std::move(out.error)
                              : core::Error(core::Status::cancelled, "the stream was cancelled"));
        } else {
            const bool is_pull = r->kind == core::RequestKind::stream_pull;
            bool ended = false, finished = !out.error.ok();
            uint64_t count = 0;
            core::Error own = std::move(out.error);
            if (finished && !is_pull) {
                // The open failed: the stream ends with that error.
            } else if (is_pull && !finished && !deliver_batch(s, out.value, &ended, &count)) {
                own = core::Error(core::Status::internal, "malformed stream batch");
                finished = true;
            }
            std::unique_lock lock(s->mu);
            s->in_flight = false;
            s->delivered += count;
            if (!is_pull && !finished) s->opened = true;
            s->cv.notify_all();
            if (!s->end_decided) {
                if (finished || ended) {
                    report_end(s, lock, std::move(own));
                } else if (s->end_pending) {
                    report_end(s, lock, std::move(s->pending_error));
                } else {
                    lock.unlock();
                    pump(s);
                }
            }
        }
    } catch (...) {
        // Out of memory delivering: end the stream rather than lose items silently.
        end_without_message(s, core::Error(core::Status::no_memory, "out of memory delivering stream items"));
    }
    s->release();
}

// The context began to close: the end, unless decided already (a message
// in flight ends with the close itself; this one holds the end back until
// that message's items are delivered).
void on_close_watch(core::Request *r, void *) {
    pyctx_stream *s = static_cast<StreamMessage *>(r)->handle;
    decide_end(s, std::move(r->outcome.error));
    s->release();
}

pyctx_error_t *cancel(pyctx_stream *s) {
    bool send;
    {
        std::lock_guard lock(s->mu);
        if (s->end_decided || s->cancelled.load(std::memory_order_relaxed)) return nullptr;
        s->cancelled.store(true, std::memory_order_release);
        send = !s->close_sent;
        s->close_sent = true;
    }
    if (!send) return nullptr;
    // Queued behind the open and any pull (one context thread, in order).
    core::Error err = submit_message(s, core::RequestKind::stream_close, 0);
    if (!err.ok()) decide_end(s, std::move(err));
    return nullptr;
}

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_stream_open(pyctx_request_t *request, uint32_t credit,
                                           pyctx_stream_item_fn on_item, pyctx_stream_end_fn on_end,
                                           void *user_data, pyctx_free_fn free_user_data,
                                           pyctx_stream_t **out_stream) {
    return guarded([&]() -> pyctx_error_t * {
        if (!request) return invalid("request is NULL");
        if (!out_stream) return invalid("out_stream is NULL");
        const int kind = capi::request_kind(request);
        if (kind != PYCTX_REQUEST_CALL && kind != PYCTX_REQUEST_EVAL &&
            kind != PYCTX_REQUEST_OBJECT_CALL && kind != PYCTX_REQUEST_METHOD_CALL)
            return invalid("a stream is opened from a call, eval, object call or method call request");
        // A stream lives in one context; a pool would pick a member per message.
        if (capi::request_has_pool(request))
            return invalid("a stream is opened on a context, not a pool: set the request's "
                           "context (pyctx_request_set_context or a pool member's)");
        core::RequestRef r(StreamMessage::make());
        if (auto *e = capi::fill_engine_request(request, r.get())) return e;
        r->result_form = core::ResultForm::stream;
        r->sink = on_message_done;
        auto *s = new pyctx_stream();
        s->ctx = capi::request_context(request);
        s->id = r->id;
        s->on_item = on_item;
        s->on_end = on_end;
        s->user_data = user_data;
        s->free_user_data = free_user_data;
        s->granted = credit;
        s->window = credit ? credit : 1;
        static_cast<StreamMessage *>(r.get())->handle = s;
        watch_close(s);
        s->retain();
        core::Error err = s->ctx->lane().submit(std::move(r), true);
        if (!err.ok()) {
            s->free_user_data = nullptr;  // refused: the caller keeps its user data
            stop_watching_close(s);
            s->release();
            s->release();
            return capi::make_error(std::move(err));
        }
        *out_stream = s;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_stream_credit(pyctx_stream_t *stream, uint32_t n) {
    return guarded([&]() -> pyctx_error_t * {
        if (!stream) return invalid("stream is NULL");
        {
            std::lock_guard lock(stream->mu);
            stream->granted += n;
        }
        pump(stream);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_stream_cancel(pyctx_stream_t *stream) {
    return guarded([&]() -> pyctx_error_t * {
        if (!stream) return invalid("stream is NULL");
        return cancel(stream);
    });
}

PYCTX_API pyctx_error_t *pyctx_stream_next(pyctx_stream_t *stream, uint32_t timeout_ms,
                                           pyctx_bytes_t *out_item, int *out_done) {
    return guarded([&]() -> pyctx_error_t * {
        if (!stream) return invalid("stream is NULL");
        if (!out_item) return invalid("out_item is NULL");
        if (!out_done) return invalid("out_done is NULL");
        if (stream->on_item) return invalid("the stream delivers to its item callback (opened with on_item)");
        *out_done = 0;
        out_item->data = nullptr;
        out_item->len = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        std::unique_lock lock(stream->mu);
        for (;;) {
            if (!stream->items.empty()) {
                out_item->data = stream->items.front().release(&out_item->len);
                stream->items.pop_front();
                return nullptr;
            }
            if (stream->ended.load(std::memory_order_acquire)) {
                *out_done = 1;
                const core::Error &e = stream->end_error.error;
                return e.ok() ? nullptr : capi::make_error(e);
            }
            if (!stream->in_flight && stream->granted <= stream->delivered && !stream->end_decided &&
                !stream->cancelled.load(std::memory_order_relaxed)) {
                stream->granted += stream->window;
                lock.unlock();
                pump(stream);
                lock.lock();
                continue;
            }
            if (timeout_ms == PYCTX_NO_TIMEOUT) {
                stream->cv.wait(lock);
            } else if (stream->cv.wait_until(lock, deadline) == std::cv_status::timeout &&
                       stream->items.empty() && !stream->ended.load(std::memory_order_acquire)) {
                return capi::make_error(PYCTX_ERR_TIMEOUT, "no stream item within " +
                                                               std::to_string(timeout_ms) + " ms");
            }
        }
    });
}

PYCTX_API int pyctx_stream_is_done(const pyctx_stream_t *stream) {
    return !stream || stream->ended.load(std::memory_order_acquire) ? 1 : 0;
}

PYCTX_API void pyctx_stream_free(pyctx_stream_t *stream) {
    if (!stream) return;
    if (tls_in_end == stream) {
        stream->freed_in_end = true;  // its user data goes once on_end returns
    } else {
        try {
            cancel(stream);
        } catch (...) {
            // Out of memory: the end still comes (close, or the pending message).
        }
        std::unique_lock lock(stream->mu);
        stream->cv.wait(lock, [&] { return stream->ended.load(std::memory_order_acquire); });
        lock.unlock();
        stream->drop_user_data();
    }
    stream->release();
}

}  // extern "C"
