// The request ring's producer side and the completion slots. A submitting
// thread pumps the lane's queue into the ring itself (wake()), so a request
// reaches the child without a hop through the io thread; a synchronous
// caller then waits on its completion slot (await_outcome()). Everything
// here that touches the ring, the outbox, the in-flight table or the slot
// bitmap runs under send_mu_, and no outcome is delivered while it is held
// (a completion callback may submit again).
#include <mutex>

#include "core/engine/context.h"
#include "core/engine/process/process_control.h"
#include "core/engine/process/process_executor.h"
#include "core/engine/process/setup_wire.h"
#include "core/engine/process/wire.h"

namespace pyctx::core {

namespace {

// What a process context does not carry yet: results as borrowed views of
// the child's memory. Refused with a clear status rather than sent
// half-described to the child.
Error not_carried(const Request &r, const std::string &name) {
    if (r.result_form != ResultForm::buffer || SharedArena::get()) return Error();
    return Error(Status::unsupported, "buffer results cross out of process contexts through "
                                      "shared memory (memfd), which this system does not "
                                      "provide (context '" + name + "')");
}

bool names_a_stream(RequestKind k) {
    return k == RequestKind::stream_pull || k == RequestKind::stream_close;
}

bool names_an_object(RequestKind k) {
    return k == RequestKind::object_call || k == RequestKind::method_call ||
           k == RequestKind::getattr || k == RequestKind::release;
}

bool encode_request(const Request *r, int slot, ByteBuffer &out) {
    out.clear();
    if (r->kind == RequestKind::control) return false;
    wire::Writer w(out);
    const uint32_t s = slot < 0 ? 0 : static_cast<uint32_t>(slot) + 1;
    w.u8(static_cast<uint8_t>(wire::ToChild::request)).u8(static_cast<uint8_t>(r->kind));
    w.u64(r->id).u32(s).u64(r->env_id).u8(static_cast<uint8_t>(r->result_form));
    w.u64(r->object_id).u32(r->count);
    w.str(r->target).str(r->text).bytes(r->args).bytes(r->kwargs);
    return w.ok();
}

}  // namespace

void ProcessExecutor::wake() {
    // A runtime shutdown may close a context whose start has not mapped
    // the segment yet: nothing to wake then.
    if (!seg_ready_.load(std::memory_order_acquire)) return;
    // The io thread pumps in its own loop; it must not wait for the lock
    // here (a completion callback it runs may submit), only note that the
    // loop has to look at the queue (what a callback posts, a drop_result).
    if (on_io_thread()) {
        pump_wanted_.store(true, std::memory_order_relaxed);
        return;
    }
    // Whoever holds the send lock pumps, then looks at the queue again once
    // it has let go: a submitter that finds the lock taken leaves its
    // request to the holder instead of queueing up behind it.
    std::vector<Refused> refused;
    bool io_needed = false;
    // With the holder's fence after its unlock: either our try_lock sees
    // the lock free, or the holder sees our request.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    while (send_mu_.try_lock()) {
        io_needed = pump_locked(false, refused);
        send_mu_.unlock();
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (io_needed || !lane_.queue().has_work()) break;
    }
    complete_refused(refused, false);
    if (io_needed) {
        pump_wanted_.store(true, std::memory_order_release);
        ring_bell(seg_.header().host_bell, -1);
    }
}

bool ProcessExecutor::pump() {
    std::vector<Refused> refused;
    bool progress = false, more;
    do {
        {
            // Not a SendLock: this loop is the look at the queue, and it
            // stops on purpose while the ring is full.
            std::lock_guard lock(send_mu_);
            more = pump_locked(true, refused);
            progress |= more;
        }
        // A submitter that found the lock taken left its request to us.
        std::atomic_thread_fence(std::memory_order_seq_cst);
    } while (more && lane_.queue().has_work() && !outbox_pending_.load(std::memory_order_relaxed));
    complete_refused(refused, true);
    return progress || !refused.empty();
}

void ProcessExecutor::complete_refused(std::vector<Refused> &refused, bool io) {
    // A submitting thread hands async outcomes to the service thread
    // (never a completion callback inside the submission call).
    for (Refused &x : refused) {
        lane_.complete(x.r, Outcome{std::move(x.error), {}},
                       io ? Origin::library_thread : Origin::host_thread);
        x.r->release();
    }
}

bool ProcessExecutor::flush_outbox_locked() {
    Ring &ring = seg_.to_child();
    SegmentHeader &h = seg_.header();
    while (!outbox_.empty()) {
        if (!ring.try_write(outbox_.front().data(), outbox_.front().size())) {
            // Tell the child to ring us when it reads; then look once more,
            // since it may have read everything before it saw the flag.
            h.host_wants_room.store(1, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_seq_cst);
            if (!ring.try_write(outbox_.front().data(), outbox_.front().size())) return false;
        }
        outbox_.pop_front();
    }
    h.host_wants_room.store(0, std::memory_order_relaxed);
    outbox_pending_.store(false, std::memory_order_relaxed);
    nudge_answer_waiters();  // an answer may have waited here for room
    return true;
}

void ProcessExecutor::send_locked(const ByteBuffer &m) {
    if (outbox_.empty() && seg_.to_child().try_write(m.data(), m.size())) return;
    ByteBuffer copy;
    if (!copy.append(m.data(), m.size())) return;  // out of memory: the child never hears it
    outbox_.push_back(std::move(copy));
    outbox_pending_.store(true, std::memory_order_release);
    (void)flush_outbox_locked();
}

int ProcessExecutor::alloc_slot_locked() {
    if (slots_used_ == ~uint64_t{0}) return -1;
    static_assert(kSyncSlots == 64, "the slot bitmap is one word");
    int i = __builtin_ctzll(~slots_used_);
    slots_used_ |= uint64_t{1} << i;
    // Its caller counts as attached from the start (it waits right after
    // submitting, and gives the slot up in await_outcome if it cannot wait
    // there), so a child that answers before the caller looks still uses
    // the slot. Published to the child by the ring write of the request.
    seg_.slot(static_cast<uint32_t>(i)).state.store(SyncSlot::kWaiting, std::memory_order_relaxed);
    return i;
}

void ProcessExecutor::free_slot_locked(int i) {
    seg_.slot(static_cast<uint32_t>(i)).state.store(SyncSlot::kFree, std::memory_order_release);
    slots_used_ &= ~(uint64_t{1} << i);
}

bool ProcessExecutor::pump_locked(bool io, std::vector<Refused> &refused) {
    bool progress = false, sent = false;
    Ring &ring = seg_.to_child();
    if (!child_alive_) return !io;  // the io thread is replacing it, or done
    // Before anything is written: what the child answers to it comes after.
    if (!io) sends_.fetch_add(1, std::memory_order_release);
    if (outbox_pending_.load(std::memory_order_relaxed)) {
        if (!flush_outbox_locked()) return !io;  // waits for room: the io thread's job
        progress = sent = true;
    }
    for (;;) {
        if (!io && lane_.is_closing()) {
            progress = true;  // the io thread refuses what is left and sends close
            break;
        }
        Request *r = lane_.queue().pop_to_running();
        if (!r) {
            if (io && lane_.is_closing() && !close_sent_) {
                // Everything before it went out: the child finishes and exits.
                scratch_.clear();
                wire::Writer(scratch_).u8(static_cast<uint8_t>(wire::ToChild::close));
                send_locked(scratch_);
                close_sent_ = true;
                progress = sent = true;
            }
            break;
        }
        progress = true;
        if (r->is_control()) {
            auto *c = static_cast<ProcessControl *>(r);
            scratch_.clear();
            wire::Writer w(scratch_);
            switch (c->op) {
                case ProcessControl::Op::stop:
                    w.u8(static_cast<uint8_t>(wire::ToChild::stop)).u64(c->subject);
                    break;
                case ProcessControl::Op::drop_env:
                    w.u8(static_cast<uint8_t>(wire::ToChild::drop_env)).u64(c->subject);
                    break;
                case ProcessControl::Op::free_block:
                    if (c->generation != generation_.load(std::memory_order_relaxed)) break;
                    w.u8(static_cast<uint8_t>(wire::ToChild::free_block)).u64(c->subject);
                    w.u64(c->block_size);
                    break;
                case ProcessControl::Op::drop_result:
                    w.u8(static_cast<uint8_t>(wire::ToChild::drop_result)).u64(c->subject);
                    w.u8(static_cast<uint8_t>(c->result_form)).u64(c->object_id);
                    break;
            }
            if (!scratch_.empty()) send_locked(scratch_);  // empty: a free for a dead child
            if (c->op == ProcessControl::Op::stop) interrupts_after_send_.push_back(c->subject);
            sent |= !scratch_.empty();
            r->release();
        } else if (r->is_claimed()) {  // cancelled or timed out while queued
            if (!slotless_.empty()) slotless_.erase(r->id);
            lane_.queue().end_running(r);
            r->release();
        } else {
            Error refuse;
            const bool slotless = !slotless_.empty() && slotless_.erase(r->id) != 0;
            const int slot = r->is_sync() && !slotless ? alloc_slot_locked() : -1;
            if (lane_.is_closing()) {
                refuse = Error(Status::closed, "context '" + ctx_.name() + "' is closed");
            } else if (Error no = not_carried(*r, ctx_.name()); !no.ok()) {
                refuse = std::move(no);
            } else if (r->env_id && r->env_id < env_floor_) {
                refuse = Error(Status::closed, "this env belonged to a child process of context '" +
                                                   ctx_.name() + "' that crashed; create a new env");
            } else if (names_an_object(r->kind) &&
                       wire::object_generation(r->object_id) !=
                           generation_.load(std::memory_order_relaxed)) {
                refuse = Error(Status::closed, "this object handle belonged to a child process of "
                                               "context '" + ctx_.name() + "' that ended; its "
                                               "objects went with it");
            } else if (names_a_stream(r->kind) && !still_in_child(*r)) {
                refuse = Error(Status::closed, "this stream belonged to a child process of "
                                               "context '" + ctx_.name() + "' that ended; its "
                                               "iterator went with it");
            } else if (!encode_request(r, slot, scratch_)) {
                refuse = Error(Status::no_memory, "out of memory");
            } else if (wire::Writer w(scratch_); !lend_buffers_locked(r, w, &refuse)) {
                // refuse says why
            } else if (!w.ok() || scratch_.size() > ring.max_payload()) {
                unlend(r->id);
                refuse = w.ok() ? Error(Status::invalid_argument,
                                        "the request (" + std::to_string(scratch_.size()) +
                                            " bytes) exceeds what a process context carries in one "
                                            "message (" + std::to_string(ring.max_payload()) +
                                            " bytes)")
                                : Error(Status::no_memory, "out of memory");
            }
            if (!refuse.ok()) {
                if (slot >= 0) free_slot_locked(slot);
                lane_.queue().end_running(r);
                refused.push_back(Refused{r, std::move(refuse)});
                continue;
            }
            if (r->result_form == ResultForm::stream) {
                std::lock_guard streams(streams_mu_);
                child_streams_.insert(r->id);
            }
            // Set-up logged since the last request: the child applies it
            // before this one, as an in-process context would.
            if (setup_log().generation() != setup_sent_) send_setup_locked();
            send_locked(scratch_);
            sent = true;
            r->phase.store(Phase::running, std::memory_order_seq_cst);
            inflight_.insert(r->id, Inflight{r, slot});  // the queue's reference moves here
            // Sent requests are the lane's tasks (found by id, for cancel),
            // not its running stack: they finish in any order, often a
            // thousand at once, and leave the stack from its bottom.
            lane_.queue().add_task(r);
            lane_.queue().end_running(r);
            // Cancelled between the pop and the phase change: stop_claimed
            // saw it queued and sent nothing.
            if (r->is_claimed()) {
                scratch_.clear();
                wire::Writer(scratch_).u8(static_cast<uint8_t>(wire::ToChild::stop)).u64(r->id);
                send_locked(scratch_);
                interrupts_after_send_.push_back(r->id);
            }
        }
        if (outbox_pending_.load(std::memory_order_relaxed)) break;  // full: stop popping
    }
    if (sent) ring_bell(seg_.header().child_bell, child_wake_fd_);
    // Everything sent so far is in the ring: interrupts may go now.
    if (!interrupts_after_send_.empty() && !outbox_pending_.load(std::memory_order_relaxed)) {
        for (uint64_t id : interrupts_after_send_) interrupt_if_running(id);
        interrupts_after_send_.clear();
    }
    if (io) return progress;
    return outbox_pending_.load(std::memory_order_relaxed) || lane_.is_closing();
}

void ProcessExecutor::send_setup_locked() {
    const uint64_t to = setup_log().generation();
    std::vector<SetupStep> steps = setup_log().slice(setup_sent_, to);
    ByteBuffer m;
    for (const SetupStep &step : steps) {
        m.clear();
        wire::Writer w(m);
        w.u8(static_cast<uint8_t>(wire::ToChild::setup_step));
        wire::write_setup_step(w, step);
        if (!w.ok() || m.size() > seg_.to_child().max_payload()) {
            // Set-up code too big for one message: the child gets a step
            // that fails saying so, so its next request reports it as an
            // in-process context reports a failed step.
            m.clear();
            wire::Writer fail(m);
            fail.u8(static_cast<uint8_t>(wire::ToChild::setup_step));
            wire::write_setup_step(
                fail, SetupStep{SetupStep::Kind::run_code,
                                "raise MemoryError('this set-up step is too large to reach a "
                                "process context (over one message)')",
                                {}});
        }
        send_locked(m);
        ++setup_sent_;
    }
}

void ProcessExecutor::unlock_send() {
    send_mu_.unlock();
    // Pairs with the fence in wake(): either its try_lock saw the lock free,
    // or we see its request.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!lane_.queue().has_work()) return;
    if (on_io_thread()) {
        pump_wanted_.store(true, std::memory_order_relaxed);  // its loop pumps next
    } else {
        wake();
    }
}

bool ProcessExecutor::still_in_child(const Request &r) {
    std::lock_guard streams(streams_mu_);
    // A close ends the stream here too, whether it is sent or refused.
    return r.kind == RequestKind::stream_close ? child_streams_.erase(r.object_id) != 0
                                               : child_streams_.count(r.object_id) != 0;
}

void ProcessExecutor::complete_from_child(Request *r, Outcome &&out) {
    const bool opened_stream = r->result_form == ResultForm::stream;
    const bool made_something = out.error.ok() && (out.object_id || opened_stream);
    const uint64_t object_id = out.object_id;
    const uint64_t id = r->id;
    r->phase.store(Phase::finished, std::memory_order_release);
    const bool claimed = lane_.complete(r, std::move(out), Origin::library_thread);
    if (opened_stream && !(claimed && made_something)) {
        // No stream came of it for the host: no close will follow.
        std::lock_guard streams(streams_mu_);
        child_streams_.erase(id);
    }
    if (claimed || !made_something) return;
    // Lost the claim (cancel, deadline, close won): the handle or stream the
    // child made for this result would never reach the host, so it goes now.
    auto *drop = new ProcessControl(ProcessControl::Op::drop_result, r->id);
    drop->result_form = r->result_form;
    drop->object_id = object_id;
    lane_.post_control(RequestRef(drop));
}

void ProcessExecutor::forget_sent(Request *r) {
    if (Request *t = lane_.queue().take_task(r->id)) t->release();
}

void ProcessExecutor::begin_close() {
    // What the child holds is not on the lane's running stack (see
    // pump_locked), so the lane's close did not reach it: closed now, its
    // Python interrupted, as the lane does for running requests.
    std::vector<Request *> sent;
    {
        SendLock lock(*this);
        inflight_.for_each([&](uint64_t, Inflight &e) {
            e.r->retain();
            sent.push_back(e.r);
        });
    }
    for (Request *r : sent) {
        if (r->claim()) {
            stop_claimed(r);
            lane_.finish(r, Outcome{Error(Status::closed, "context '" + ctx_.name() + "' is closed"), {}},
                         Origin::host_thread);
        }
        r->release();
    }
    wake();
}

void ProcessExecutor::take_inflight_locked(std::vector<Request *> &out) {
    inflight_.for_each([&](uint64_t, Inflight &e) {
        out.push_back(e.r);
        if (e.slot < 0) return;
        SyncSlot &s = seg_.slot(static_cast<uint32_t>(e.slot));
        uint32_t st = s.state.load(std::memory_order_acquire);
        for (;;) {
            if (st == SyncSlot::kWaiting || st == SyncSlot::kParked) {
                if (!s.state.compare_exchange_weak(st, SyncSlot::kGone, std::memory_order_acq_rel))
                    continue;
                if (st == SyncSlot::kParked) futex_wake_shared(s.state);
            } else if (st != SyncSlot::kDone) {
                free_slot_locked(e.slot);  // armed, ringed, abandoned: nobody reads it
            }
            break;  // done or gone: its caller frees it
        }
    });
    inflight_.clear();
}

// ---------------------------------------------------------------------------
// the synchronous caller

bool ProcessExecutor::await_outcome(Request *r, int64_t deadline_ns) {
    int slot;
    {
        SendLock lock(*this);
        const Inflight *e = inflight_.find(r->id);
        if (!e) {
            // Not sent yet (the ring was full, or a new child is starting):
            // this caller waits the lane's way, so whoever sends it later
            // gives it no slot. (Sending sets the phase under this lock.)
            if (r->phase.load(std::memory_order_acquire) == Phase::queued && !r->is_claimed())
                slotless_.insert(r->id);
            return false;
        }
        if (e->slot < 0) return false;  // sent without a slot
        slot = e->slot;
    }
    SyncSlot &s = seg_.slot(static_cast<uint32_t>(slot));
    static thread_local AdaptiveSpin spin(2048);
    uint32_t st = SyncSlot::kWaiting;
    auto settled = [&] {
        st = s.state.load(std::memory_order_acquire);
        return st != SyncSlot::kWaiting || r->is_claimed();
    };
    // A context thread of another executor keeps serving its own queue in
    // the lane's wait: it gives the slot up at once (the child then uses
    // the ring), unless the completion is there already.
    Executor *me = Executor::current();
    if (me && me != this) {
        st = s.state.load(std::memory_order_acquire);
    } else if (!spin.spin(settled)) {
        for (;;) {
            if (st != SyncSlot::kWaiting && st != SyncSlot::kParked) break;
            if (r->is_claimed()) break;  // cancelled, timed out, closed
            int64_t left = -1;
            if (deadline_ns) {
                left = deadline_ns - now_ns();
                if (left <= 0) break;
            }
            if (st == SyncSlot::kWaiting) {
                if (!s.state.compare_exchange_strong(st, SyncSlot::kParked, std::memory_order_seq_cst))
                    continue;
                st = SyncSlot::kParked;
                // Pairs with stop_claimed: it claims, then nudges a parked
                // caller; either it sees us parked or we see the claim.
                std::atomic_thread_fence(std::memory_order_seq_cst);
                if (r->is_claimed()) continue;
            }
            futex_wait_shared(s.state, SyncSlot::kParked, left);
            st = s.state.load(std::memory_order_acquire);
        }
    }
    // Still ours to wait on: leave it; the child then uses the ring.
    while ((st == SyncSlot::kWaiting || st == SyncSlot::kParked) &&
           !s.state.compare_exchange_weak(st, SyncSlot::kAbandoned, std::memory_order_acq_rel)) {
    }
    if (st == SyncSlot::kWaiting || st == SyncSlot::kParked || st == SyncSlot::kRinged) return false;
    if (st == SyncSlot::kGone) {
        SendLock lock(*this);
        free_slot_locked(slot);
        return false;  // the child died or the context ended: completed that way
    }
    // kDone: the completion is in the slot (the child's word: bounded).
    Outcome out;
    uint64_t id = 0;
    uint32_t len = std::min<uint32_t>(s.len, SyncSlot::kPayloadMax);
    wire::Reader rd(s.payload, len);
    wire::BlockDesc block;
    bool has_block = false;
    bool ok = static_cast<wire::ToHost>(rd.u8()) == wire::ToHost::complete &&
              wire::decode_completion(rd, &id, &out, &block, &has_block) && id == r->id;
    bool ours;
    {
        SendLock lock(*this);
        ours = inflight_.erase(r->id);
        free_slot_locked(slot);
        if (ours && ok && has_block) map_result_locked(block, &out);
    }
    if (!ours) return false;  // the child died meanwhile: completed as crashed
    forget_sent(r);
    if (!ok) out = Outcome{Error(Status::internal, "unreadable completion from the child"), {}};
    complete_from_child(r, std::move(out));
    r->release();  // the in-flight reference; the caller holds its own
    return r->is_done();
}

void ProcessExecutor::nudge_waiter(uint64_t id) {
    SendLock lock(*this);
    const Inflight *e = inflight_.find(id);
    if (!e || e->slot < 0) return;
    SyncSlot &s = seg_.slot(static_cast<uint32_t>(e->slot));
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint32_t parked = SyncSlot::kParked;
    if (s.state.compare_exchange_strong(parked, SyncSlot::kWaiting, std::memory_order_seq_cst))
        futex_wake_shared(s.state);
}

}  // namespace pyctx::core
