#include "core/engine/process/child/child_server.h"

#include <Python.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "core/engine/process/spawn.h"
#include "core/engine/process/setup_wire.h"
#include "core/engine/process/wire.h"
#include "core/request/buffers.h"
#include "core/python/buffer_py.h"
#include "core/python/errors.h"
#include "core/python/host_calls.h"

namespace pyctx::core {

ChildServer *ChildServer::instance_ = nullptr;

namespace {

PyObject *sigint_handler(PyObject *, PyObject *) {
    ChildServer *s = ChildServer::instance();
    if (!s) Py_RETURN_NONE;
    return s->on_sigint();
}

PyMethodDef sigint_def = {"_pyctx_interrupt", sigint_handler, METH_VARARGS,
                          "Raises KeyboardInterrupt in the request the host stopped."};

}  // namespace

ChildServer::ChildServer(Segment &segment, int wake_fd, std::string name)
    : seg_(segment), hdr_(segment.header()), wake_fd_(wake_fd), name_(std::move(name)) {
    instance_ = this;
    ContextThread::set_current(this);
}

ChildServer::~ChildServer() {
    ContextThread::set_current(nullptr);
    instance_ = nullptr;
}

bool ChildServer::init(const std::vector<std::string> &paths, const std::string &preload,
                       uint32_t generation, Error *err) {
    py_ = std::make_unique<PyState>(*this);
    py_->objects().number_from(wire::first_object_id(generation));
    if (fcntl(kChildResultArenaFd, F_GETFD) != -1) results_ = SharedArena::adopt(kChildResultArenaFd);
    if (!py_->init(paths, preload, err)) return false;
    PyRef fn(PyCFunction_New(&sigint_def, nullptr));
    PyRef signal_mod(PyImport_ImportModule("signal"));
    PyRef r(fn && signal_mod ? PyObject_CallMethod(signal_mod.get(), "signal", "iO", SIGINT, fn.get())
                             : nullptr);
    if (!r) {
        *err = fetch_python_error();
        return false;
    }
    return true;
}

void ChildServer::clear() {
    if (py_) py_->clear();
    for (Request *r : local_) r->release();
    local_.clear();
    for (auto &[id, r] : tasks_) r->release();
    tasks_.clear();
}

PyObject *ChildServer::on_sigint() {
    Request *top = current_request();
    uint64_t target = hdr_.interrupt_target.load(std::memory_order_seq_cst);
    if (top && target == top->id && !top->host_waiting.load(std::memory_order_acquire)) {
        hdr_.interrupt_target.store(0, std::memory_order_relaxed);
        PyErr_SetString(PyExc_KeyboardInterrupt, "the request was interrupted");
        return nullptr;
    }
    Py_RETURN_NONE;
}

// ---------------------------------------------------------------------------
// serving

void ChildServer::serve(const std::atomic<uint32_t> *until, const Request *abort) {
    ++serve_depth_;
    serve_loop(until, abort);
    --serve_depth_;
    if (selector_depth_ == serve_depth_) rearm_selector();
}

void ChildServer::rearm_selector() {
    // As before the selector first blocked: announce it, then look; either
    // the host sees kInSelector and writes the eventfd, or we see its
    // message (or a request the nested serve left queued) and do.
    hdr_.child_bell.store(SegmentHeader::kInSelector, std::memory_order_seq_cst);
    if (has_input() || !local_.empty()) {
        uint64_t one = 1;
        ssize_t n = ::write(wake_fd_, &one, sizeof one);
        (void)n;  // EAGAIN: the counter is non-zero already
    }
}

void ChildServer::serve_loop(const std::atomic<uint32_t> *until, const Request *abort) {
    auto done = [&] {
        return (until && until->load(std::memory_order_acquire) == Request::kDone) ||
               (abort && abort->is_claimed());
    };
    for (;;) {
        read_ring();
        if (done()) return;
        while (!closing_ && !local_.empty()) {
            Request *r = local_.front();
            local_.pop_front();
            run_one(r);
            read_ring();
            if (done()) return;
        }
        if (closing_ || done()) return;
        EventLoop &loop = py_->loop();
        if (loop.has_tasks() && !loop.running()) {
            // Block in the selector; the host writes the eventfd to wake it.
            hdr_.child_bell.store(SegmentHeader::kInSelector, std::memory_order_seq_cst);
            bool work = has_input();
            if (work) hdr_.child_bell.store(SegmentHeader::kAwake, std::memory_order_seq_cst);
            const int outer = selector_depth_;
            if (!work) selector_depth_ = serve_depth_;
            loop.drive(!work);
            selector_depth_ = outer;
            hdr_.child_bell.store(SegmentHeader::kAwake, std::memory_order_seq_cst);
            continue;
        }
        park();
    }
}

void ChildServer::park() {
    PyThreadState *ts = PyEval_SaveThread();
    auto ready = [&] { return has_input(); };
    // Yielding while it spins: see AdaptiveSpin (pipelined 1.4 -> 2.1 M/s
    // on two cores, bench_process, with the io thread doing the same).
    if (!spin_.spin(ready, kSpinYieldEvery)) park_on_bell(hdr_.child_bell, ready);
    PyEval_RestoreThread(ts);
}

bool ChildServer::read_ring() {
    bool any = false;
    std::lock_guard lock(in_mu_);
    // What a waiter off the main thread read first came first.
    while (kept_count_.load(std::memory_order_acquire) != 0) {
        ByteBuffer m = std::move(kept_.front());
        kept_.pop_front();
        kept_count_.store(kept_.size(), std::memory_order_release);
        handle(m);
    }
    while (seg_.to_child().read(inbox_)) {
        any = true;
        handle(inbox_);
    }
    if (any) {
        // Pairs with the host's fence between setting host_wants_room and
        // retrying its write: either it sees the room or we see the flag.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (hdr_.host_wants_room.load(std::memory_order_relaxed)) ring_bell(hdr_.host_bell, -1);
    }
    return any;
}

void ChildServer::handle(const ByteBuffer &msg) {
    wire::Reader rd(msg.data(), msg.size());
    auto kind = static_cast<wire::ToChild>(rd.u8());
    switch (kind) {
        case wire::ToChild::request: {
            auto *r = ChildRequest::make();
            const uint8_t request_kind = rd.u8();
            r->id = rd.u64();
            r->slot = rd.u32();
            if (r->slot > kSyncSlots) r->slot = 0;  // never trusted beyond the segment
            r->env_id = rd.u64();
            const uint8_t form = rd.u8();
            r->object_id = rd.u64();
            r->count = rd.u32();
            r->target = rd.str();
            r->text = rd.str();
            (void)rd.bytes_into(r->args);
            (void)rd.bytes_into(r->kwargs);
            Error lent = take_buffers(rd, r);
            const bool known_kind = request_kind <= static_cast<uint8_t>(RequestKind::stream_close) &&
                                    request_kind != static_cast<uint8_t>(RequestKind::control);
            const bool known_form = form <= static_cast<uint8_t>(ResultForm::stream);
            if (known_kind) r->kind = static_cast<RequestKind>(request_kind);
            if (known_form) r->result_form = static_cast<ResultForm>(form);
            if (!lent.ok()) {
                complete(r, Outcome{std::move(lent), {}});
                r->release();
                return;
            }
            if (!rd.ok() || !known_kind || !known_form) {
                complete(r, Outcome{Error(Status::internal, "unreadable request message"), {}});
                r->release();
                return;
            }
            local_.push_back(r);
            return;
        }
        case wire::ToChild::stop: stop(rd.u64()); return;
        case wire::ToChild::drop_env: py_->namespaces().drop(rd.u64()); return;
        case wire::ToChild::host_answer: resolve_answer(rd); return;
        case wire::ToChild::close: closing_ = true; return;
        case wire::ToChild::setup_step: {
            // Applied before the next request (PyState::execute), like a
            // step an in-process context finds logged.
            SetupStep step;
            if (!wire::read_setup_step(rd, &step)) break;  // the sides disagree
            setup_log().append(std::move(step));
            return;
        }
        case wire::ToChild::free_block: {
            const uint64_t offset = rd.u64(), mapped = rd.u64();
            auto it = result_blocks_.find(offset);
            if (rd.ok() && it != result_blocks_.end() && it->second == mapped) {
                results_->free_range(offset, mapped);
                result_blocks_.erase(it);
            }
            return;
        }
        case wire::ToChild::drop_result: {
            const uint64_t id = rd.u64();
            const uint8_t form = rd.u8();
            const uint64_t object_id = rd.u64();
            if (rd.ok()) py_->drop_result(id, static_cast<ResultForm>(form), object_id);
            return;
        }
    }
    // An unknown kind: the two sides disagree; nothing here can be trusted.
    std::fputs("pyctx-process-helper: unknown message from the host; exiting\n", stderr);
    std::fflush(stderr);
    _exit(70);
}

// ---------------------------------------------------------------------------
// borrowed buffers

namespace {

// Mappings of arena blocks, kept after their loans end: a host that lends
// the same library buffer again (the common case: one buffer reused for
// every request) finds it mapped, instead of paying a map and an unmap of
// every page each time (a numpy sum of 64 MiB took 2.3x the in-Python
// time that way). A block's file range never changes meaning -- the arena
// only grows -- so a kept mapping stays right for whatever the host puts at
// that offset later. Unused mappings beyond kKeptBytes are unmapped, oldest
// first. Any thread: a view may be released on any Python thread.
class MappingCache {
public:
    void *acquire(uint64_t offset, uint64_t mapped) {
        std::lock_guard lock(mu_);
        auto it = maps_.find({offset, mapped});
        if (it != maps_.end()) {
            if (it->second.users++ == 0) idle_bytes_ -= mapped;
            return it->second.data;
        }
        void *p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, kChildArenaFd,
                       static_cast<off_t>(offset));
        if (p == MAP_FAILED) return nullptr;
        maps_.emplace(std::make_pair(offset, mapped), Entry{p, 1, 0});
        return p;
    }
    void release(uint64_t offset, uint64_t mapped) {
        std::lock_guard lock(mu_);
        auto it = maps_.find({offset, mapped});
        if (it == maps_.end() || --it->second.users != 0) return;
        it->second.last_use = ++clock_;
        idle_bytes_ += mapped;
        while (idle_bytes_ > kKeptBytes) {
            auto oldest = maps_.end();
            for (auto e = maps_.begin(); e != maps_.end(); ++e)
                if (e->second.users == 0 && (oldest == maps_.end() || e->second.last_use < oldest->second.last_use))
                    oldest = e;
            if (oldest == maps_.end()) break;
            munmap(oldest->second.data, oldest->first.second);
            idle_bytes_ -= oldest->first.second;
            maps_.erase(oldest);
        }
    }

private:
    static constexpr uint64_t kKeptBytes = uint64_t{128} << 20;  // counts toward a capped child
    struct Entry {
        void *data;
        uint32_t users;
        uint64_t last_use;
    };
    std::mutex mu_;
    std::map<std::pair<uint64_t, uint64_t>, Entry> maps_;  // (offset, mapped)
    uint64_t idle_bytes_ = 0, clock_ = 0;
};

MappingCache &mappings() {
    static MappingCache *const cache = new MappingCache();  // the child's life
    return *cache;
}

// One buffer the host lent to a request: a block of the shared arena mapped
// here until the last reference to its Buffer goes (the request's, and each
// Python view's); then the host hears of it.
struct ChildLoan {
    ChildServer *server;
    uint64_t id;
    uint32_t index;
    uint64_t offset, mapped;
};

void end_child_loan(void *user_data) {
    auto *loan = static_cast<ChildLoan *>(user_data);
    mappings().release(loan->offset, loan->mapped);
    loan->server->send_buffer_done(loan->id, loan->index);
    delete loan;
}

}  // namespace

Error ChildServer::take_buffers(wire::Reader &rd, Request *r) {
    const uint32_t n = rd.u32();
    for (uint32_t i = 0; i < n && rd.ok(); ++i) {
        wire::BlockDesc d;
        if (!wire::read_block(rd, &d))
            return Error(Status::internal, "unreadable buffer in a request message");
        void *p = mappings().acquire(d.offset, d.mapped);
        if (!p) {
            return Error(Status::no_memory, std::string("mapping a lent buffer in the child: ") +
                                                std::strerror(errno));
        }
        auto *loan = new ChildLoan{this, r->id, i, d.offset, d.mapped};
        Buffer *b = Buffer::lend(p, d.len, d.writable, end_child_loan, loan);
        Error e = b->set_format(d.format);
        if (e.ok())
            e = b->set_shape(static_cast<int>(d.shape.size()), d.shape.data(), d.strides.data());
        b->freeze();
        r->buffers.add(b);  // the request's reference
        b->release();
        if (!e.ok()) return e;
    }
    return rd.ok() ? Error() : Error(Status::internal, "unreadable buffer in a request message");
}

void ChildServer::send_buffer_done(uint64_t id, uint32_t index) {
    ByteBuffer m;
    wire::Writer(m).u8(static_cast<uint8_t>(wire::ToHost::buffer_done)).u64(id).u32(index);
    write_out(m);
}

bool ChildServer::send_log_record(const LogRecord &rec) {
    ByteBuffer m;
    uint64_t bits = 0;
    std::memcpy(&bits, &rec.created, sizeof bits);
    wire::Writer w(m);
    w.u8(static_cast<uint8_t>(wire::ToHost::log_record)).u32(static_cast<uint32_t>(rec.level));
    w.str(rec.logger).str(rec.message).str(rec.exception).u64(bits);
    w.u8(rec.context_name.empty() ? 0 : 1);
    // A record too big for one message is cut to its head, never lost whole.
    if (!w.ok()) return false;
    if (m.size() > seg_.to_host().max_payload()) {
        LogRecord cut = rec;
        const size_t keep = seg_.to_host().max_payload() / 4;
        if (cut.message.size() > keep) cut.message.resize(keep);
        if (cut.exception.size() > keep) cut.exception.resize(keep);
        return send_log_record(cut);
    }
    write_out(m);
    log_in_ring_.store(true, std::memory_order_release);
    return true;
}

void ChildServer::stop(uint64_t id) {
    Request *found = nullptr;
    for (Request *r : local_)
        if (r->id == id) found = r;
    for (Request *r : running_)
        if (!found && r->id == id) found = r;
    auto it = tasks_.find(id);
    if (!found && it != tasks_.end()) found = it->second;
    if (!found || !found->claim()) return;
    // Its one completion (the host has completed it already and only needs
    // to let go of it). A running one unwinds by the interrupt, a waiting
    // one when its host-call wait sees it claimed, a task by cancel.
    send_completion(found, Outcome{Error(Status::cancelled, "stopped by the host"), {}});
    if (it != tasks_.end() && it->second == found) py_->loop().cancel_task(id);
}

void ChildServer::run_one(Request *r) {
    if (r->is_claimed()) {  // stopped while it waited here
        r->release();
        return;
    }
    Request *outer = current_request();
    running_.push_back(r);
    // A stop the host wrote before it could see this request running has to
    // be read now: the host sends no interrupt then, and the ring is not read
    // again until the request ends. The exchange pairs with the one in
    // ProcessExecutor::interrupt_if_running (store-buffering: plain stores
    // and loads would let both sides miss each other).
    hdr_.child_running.exchange(r->id, std::memory_order_acq_rel);
    read_ring();
    if (!r->is_claimed()) {
        r->phase.store(Phase::running, std::memory_order_seq_cst);
        py_->execute(r);
    }
    running_.pop_back();
    hdr_.child_running.store(outer ? outer->id : 0, std::memory_order_seq_cst);
    clear_pending_interrupt(r);
    if (r->phase.load(std::memory_order_relaxed) == Phase::running)
        r->phase.store(Phase::finished, std::memory_order_release);
    r->release();
}

void ChildServer::clear_pending_interrupt(Request *r) {
    uint64_t id = r->id;
    hdr_.interrupt_target.compare_exchange_strong(id, 0, std::memory_order_seq_cst);
}

// ---------------------------------------------------------------------------
// completions and host calls

void ChildServer::complete(Request *r, Outcome &&out) {
    if (r->claim()) {
        send_completion(r, out);
    } else {
        // Lost the claim (the host stopped it): a handle or stream made for
        // this result would never reach the host, so it goes now.
        py_->drop_unclaimed(*r, out.object_id);
    }
    if (out.buffer) {
        // The host has its copy (or never will): the Python view goes now,
        // on this thread, which holds the GIL.
        out.buffer = BufferRef();
        release_host_views(*ledger_);
    }
}

Error ChildServer::copy_result_out(const Buffer &b, wire::BlockDesc *out) {
    auto *view = static_cast<Py_buffer *>(b.hold());
    const size_t len = static_cast<size_t>(view->len);
    if (!results_)
        return Error(Status::unsupported, "buffer results cross out of process contexts through "
                                          "shared memory (memfd), which this system does not "
                                          "provide");
    SharedArena::Block block = results_->allocate(len);
    if (!block)
        return Error(Status::no_memory,
                     "out of shared memory for a buffer result of " + std::to_string(len) + " bytes");
    const bool copied = PyBuffer_ToContiguous(block.data, view, view->len, 'C') == 0;
    SharedArena::unmap(block);  // the host maps it; this side only frees it later
    if (!copied) {
        results_->free_range(block.offset, block.size);
        return Error(Status::encode, "copying the buffer result failed: " + take_python_error_text());
    }
    result_blocks_.emplace(block.offset, block.size);
    BufferLayout layout = b.layout();
    layout.strides.clear();  // the copy is C-contiguous
    layout_finish(&layout);
    *out = wire::BlockDesc{block.offset, block.size, len, false, layout.format, layout.shape,
                           layout.strides};
    return {};
}

void ChildServer::send_completion(const Request *r, const Outcome &out) {
    const uint64_t id = r->id;
    static thread_local ByteBuffer m;  // keeps its capacity: no allocation per completion
    // A buffer result travels as a copy in the result arena.
    wire::BlockDesc block;
    Outcome copy_failed;
    const Outcome *o = &out;
    bool has_block = false;
    if (out.buffer) {
        Error e = copy_result_out(*out.buffer.get(), &block);
        has_block = e.ok();
        if (!has_block) {
            copy_failed.error = std::move(e);
            o = &copy_failed;
        }
    }
    bool encoded = wire::encode_completion(m, id, *o, has_block ? &block : nullptr);
    if (!encoded || m.size() > seg_.to_host().max_payload()) {
        std::string why = encoded ? "the result (" + std::to_string(out.value.size()) +
                                       " bytes of CBOR) exceeds what a process context carries "
                                       "in one message"
                                 : "out of memory";
        // The same message with the error instead (small: it fits).
        (void)wire::encode_completion(
            m, id, Outcome{Error(encoded ? Status::encode : Status::no_memory, why), {}});
        // The result was made but cannot be sent: it goes here.
        if (has_block) {
            results_->free_range(block.offset, block.mapped);
            result_blocks_.erase(block.offset);
        }
        if (out.object_id || r->result_form == ResultForm::stream)
            py_->drop_result(id, r->result_form, out.object_id);
    }
    uint32_t slot = static_cast<const ChildRequest *>(r)->slot;
    if (slot && complete_in_slot(slot - 1, m)) return;
    write_out(m);
}

bool ChildServer::complete_in_slot(uint32_t index, const ByteBuffer &msg) {
    SyncSlot &s = seg_.slot(index);
    // The slot is this request's until the host has its one completion, so
    // writing the payload before deciding is safe; the caller reads it only
    // after seeing `done`.
    // A logging record went into the ring since the last slot completion:
    // this one follows it through the ring, so a request's records are in
    // the host's sink before its caller wakes (as in the other modes).
    const bool fits = msg.size() <= SyncSlot::kPayloadMax &&
                      !log_in_ring_.exchange(false, std::memory_order_acq_rel);
    if (fits) {
        std::memcpy(s.payload, msg.data(), msg.size());
        s.len = static_cast<uint32_t>(msg.size());
    }
    uint32_t st = s.state.load(std::memory_order_acquire);
    for (;;) {
        uint32_t to;
        if (st == SyncSlot::kWaiting || st == SyncSlot::kParked) {
            to = fits ? SyncSlot::kDone : SyncSlot::kRinged;
        } else {
            return false;  // abandoned: the caller left (or the host's word is odd)
        }
        if (s.state.compare_exchange_weak(st, to, std::memory_order_acq_rel)) {
            if (st == SyncSlot::kParked) futex_wake_shared(s.state);
            return to == SyncSlot::kDone;
        }
    }
}

void ChildServer::write_out(const ByteBuffer &msg) {
    std::lock_guard lock(out_mu_);
    Ring &ring = seg_.to_host();
    while (!ring.try_write(msg.data(), msg.size())) {
        // Full: the host drains it whatever it does; wait for that.
        ring_bell(hdr_.host_bell, -1);
        std::this_thread::yield();
    }
    ring_bell(hdr_.host_bell, -1);
}

void ChildServer::invoke_host(HostCall *call) {
    std::shared_ptr<HostFunction> fn = std::move(call->function);
    fn->invoke(call);  // a RemoteHostFunction: sends it to the host
}

bool ChildServer::answer_id(const ByteBuffer &msg, uint64_t *id) {
    wire::Reader rd(msg.data(), msg.size());
    if (static_cast<wire::ToChild>(rd.u8()) != wire::ToChild::host_answer) return false;
    *id = rd.u64();
    return rd.ok();
}

bool ChildServer::resolve_answer(wire::Reader &rd) {
    uint64_t id = rd.u64();
    uint8_t answer = rd.u8();
    bool ok = answer == 1;
    std::string_view payload = rd.str();
    PendingCall pending{nullptr, false};
    {
        std::lock_guard lock(calls_mu_);
        auto it = calls_.find(id);
        if (it != calls_.end()) {
            pending = it->second;
            calls_.erase(it);
        }
    }
    if (!pending.call) return false;  // abandoned, or meant for a predecessor
    if (ok && rd.ok()) {
        host_call_return(pending.call, reinterpret_cast<const uint8_t *>(payload.data()),
                         payload.size());
    } else {
        pending.call->unknown_function = answer == wire::kAnswerUnknownFunction;
        host_call_fail(pending.call, std::string(payload).c_str());
    }
    if (pending.waits_off_main) {
        // Its waiter sleeps on the answer bell, not on the call.
        hdr_.answer_bell.fetch_add(1, std::memory_order_seq_cst);
        futex_wake_shared(hdr_.answer_bell, INT32_MAX);
    }
    return pending.waits_off_main;
}

void ChildServer::await_answer_off_main(HostCall *call) {
    hdr_.plain_waiters.fetch_add(1, std::memory_order_seq_cst);
    ByteBuffer m;
    // Claimed once its answer is being delivered (an awaited call is never
    // marked answered: its future is resolved instead).
    auto resolved = [&] { return call->answer_claimed.load(std::memory_order_acquire); };
    for (;;) {
        if (resolved()) break;
        const uint32_t seen = hdr_.answer_bell.load(std::memory_order_seq_cst);
        // The main thread reads the ring when it can; when it is busy
        // (running Python, or in a request that waits on this very thread)
        // the answer is read here. Everything else is kept for it, in order.
        if (in_mu_.try_lock()) {
            bool kept = false, read = false;
            while (seg_.to_child().read(m)) {
                read = true;
                uint64_t id = 0;
                bool off_main = false;
                if (answer_id(m, &id)) {
                    std::lock_guard lock(calls_mu_);
                    auto it = calls_.find(id);
                    off_main = it != calls_.end() && it->second.waits_off_main;
                }
                // Its own or another such waiter's: resolved now, ahead of
                // what is kept (the main thread may never get to it).
                if (off_main) {
                    wire::Reader rd(m.data(), m.size());
                    (void)rd.u8();
                    resolve_answer(rd);
                } else {
                    kept_.push_back(std::move(m));
                    m = ByteBuffer();
                    kept = true;
                }
            }
            kept_count_.store(kept_.size(), std::memory_order_release);
            in_mu_.unlock();
            if (kept) ring_bell(hdr_.child_bell, wake_fd_);  // the main thread has work
            if (read) {
                // As read_ring: a host waiting for room is told there is some.
                std::atomic_thread_fence(std::memory_order_seq_cst);
                if (hdr_.host_wants_room.load(std::memory_order_relaxed)) ring_bell(hdr_.host_bell, -1);
            }
        }
        if (resolved()) break;
        futex_wait_shared(hdr_.answer_bell, seen);
    }
    hdr_.plain_waiters.fetch_sub(1, std::memory_order_seq_cst);
}

void ChildServer::send_host_call(HostCall *call, bool waits_off_main) {
    uint64_t id;
    {
        std::lock_guard lock(calls_mu_);
        id = next_call_++;
        calls_.emplace(id, PendingCall{call, waits_off_main});  // the answering side's reference
    }
    ByteBuffer m;
    wire::Writer w(m);
    w.u8(static_cast<uint8_t>(wire::ToHost::host_call)).u64(id).str(call->name).bytes(call->args);
    if (!w.ok() || m.size() > seg_.to_host().max_payload()) {
        {
            std::lock_guard lock(calls_mu_);
            calls_.erase(id);
        }
        host_call_fail(call, "the host call's arguments exceed what a process context carries "
                             "in one message");
        return;
    }
    write_out(m);
}

bool ChildServer::post_host_reply(HostCall *call) {
    // host_call_return runs on this (main) thread with the GIL: resolve now.
    resume_awaited_host_call(*py_, call);
    return true;
}

void ChildServer::add_task(Request *r) {
    r->retain();
    tasks_.emplace(r->id, r);
}

Request *ChildServer::take_task(uint64_t id) {
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return nullptr;
    Request *r = it->second;
    tasks_.erase(it);
    return r;
}

}  // namespace pyctx::core
