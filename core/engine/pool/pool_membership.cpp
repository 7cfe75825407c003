// The pool's membership: making members, resizing, the keeper thread that
// drops or replaces members that closed, and closing the pool.
#include <algorithm>
#include <chrono>

#include "core/base/futex.h"
#include "core/engine/executor.h"
#include "core/engine/pool/pool.h"
#include "core/engine/runtime.h"

namespace pyctx::core {

namespace {
// After a leaving member drained (or ran out of time), how long its thread
// gets to end its interpreter before close reports it stuck.
constexpr int64_t kCloseGraceNs = int64_t{10} * 1000000000;
// The keeper's backstop interval: it is also nudged when routing meets a
// closing member, but an idle pool still notices a member that closed.
constexpr auto kKeeperTick = std::chrono::milliseconds(20);
}  // namespace

Error Pool::make_member(uint32_t slot, Member *out) {
    ContextOptions o = options_.member;
    uint64_t id = next_member_id_.fetch_add(1, std::memory_order_relaxed);
    o.name = (o.name.empty() ? options_.name : o.name) + "-" + std::to_string(id);
    std::shared_ptr<Context> ctx;
    if (Error e = Context::create(std::move(o), &ctx); !e.ok()) {
        e.message = "pool '" + options_.name + "': member " + std::to_string(id) + ": " + e.message;
        return e;
    }
    // Before anyone can submit to it: ids come from the pool's counter.
    ctx->lane().share_ids(ids_);
    n_created_.fetch_add(1, std::memory_order_relaxed);
    out->ctx = std::move(ctx);
    out->id = id;
    out->slot = slot;
    return {};
}

void Pool::rebuild_locked() {
    std::sort(members_.begin(), members_.end(),
              [](const Member &a, const Member &b) { return a.slot < b.slot; });
    std::vector<uint32_t> slots;
    uint32_t top = 0;
    for (const Member &m : members_) {
        slots.push_back(m.slot);
        top = std::max(top, m.slot + 1);
    }
    ring_.build(slots);
    slot_index_.assign(top, -1);
    for (size_t i = 0; i < members_.size(); ++i) slot_index_[members_[i].slot] = static_cast<int>(i);
    seen_.reset(new std::atomic<uint64_t>[members_.size() ? members_.size() : 1]);
    for (size_t i = 0; i < members_.size(); ++i) seen_[i].store(0, std::memory_order_relaxed);
}

uint32_t Pool::free_slot_locked(const std::vector<Member> &also_used) const {
    for (uint32_t s = 0;; ++s) {
        bool used = false;
        for (auto *list : {&members_, &also_used})
            for (const Member &m : *list) used = used || m.slot == s;
        if (!used) return s;
    }
}

bool Pool::on_member_thread() const {
    Executor *me = Executor::current();
    if (!me) return false;
    std::shared_lock lock(mu_);
    for (auto *list : {&members_, &leaving_})
        for (const Member &m : *list)
            if (&m.ctx->executor() == me) return true;
    return false;
}

// ---------------------------------------------------------------------------
// resize

Error Pool::resize(size_t size, uint32_t timeout_ms) {
    if (size == 0 || size > PoolOptions::kMaxSize) {
        return Error(Status::invalid_argument, "a pool has 1 to " +
                                                   std::to_string(PoolOptions::kMaxSize) +
                                                   " members, not " + std::to_string(size));
    }
    if (on_member_thread()) {
        return Error(Status::invalid_argument,
                     "a pool cannot be resized from one of its members' threads (a leaving "
                     "member's queue would wait for that very thread)");
    }
    std::lock_guard admin(admin_mu_);
    if (is_closed()) return closed_error();
    size_t now = this->size();
    if (size > now) {
        std::vector<Member> made;
        for (size_t i = now; i < size; ++i) {
            uint32_t slot;
            {
                std::shared_lock lock(mu_);
                slot = free_slot_locked(made);
            }
            Member m;
            if (Error e = make_member(slot, &m); !e.ok()) {
                for (Member &done : made) done.ctx->begin_close();
                return e;
            }
            made.push_back(std::move(m));
        }
        std::unique_lock lock(mu_);
        if (is_closed()) {
            for (Member &m : made) m.ctx->begin_close();
            return closed_error();
        }
        for (Member &m : made) members_.push_back(std::move(m));
        rebuild_locked();
        return {};
    }
    if (size == now) return {};

    // Shrink: the highest slots leave the routing now; from here on no
    // submission can reach them (each holds the reader lock to its push).
    std::vector<Member> going;
    {
        std::unique_lock lock(mu_);
        while (members_.size() > size) {
            going.push_back(members_.back());
            leaving_.push_back(members_.back());
            members_.pop_back();
        }
        rebuild_locked();
    }
    const int64_t drain_deadline = timeout_ms ? now_ns() + int64_t{timeout_ms} * 1000000 : 0;
    for (Member &m : going) {
        // Polled: a leaving member is rare and the wait is housekeeping.
        while (!m.ctx->lane().queue().idle() && !m.ctx->is_closing() &&
               (!drain_deadline || now_ns() < drain_deadline))
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    Error result;
    const int64_t close_deadline = now_ns() + kCloseGraceNs;
    for (Member &m : going) m.ctx->begin_close();
    for (Member &m : going) {
        Error e = m.ctx->close_until(close_deadline);
        if (!e.ok() && result.ok()) result = std::move(e);
    }
    std::unique_lock lock(mu_);
    for (Member &m : going) {
        retire_locked(m);
        leaving_.erase(std::remove_if(leaving_.begin(), leaving_.end(),
                                      [&](const Member &x) { return x.id == m.id; }),
                       leaving_.end());
    }
    return result;
}

// ---------------------------------------------------------------------------
// the keeper: members that closed

void Pool::nudge_keeper() {
    KeeperSignal &k = *keeper_signal_;
    {
        std::lock_guard lock(k.mu);
        k.nudged = true;
    }
    k.cv.notify_one();
}

void Pool::stop_keeper() {
    KeeperSignal &k = *keeper_signal_;
    {
        std::lock_guard lock(k.mu);
        k.stop = true;
    }
    k.cv.notify_one();
    if (!keeper_.joinable()) return;
    if (keeper_.get_id() == std::this_thread::get_id()) {
        keeper_.detach();  // the keeper dropped the last reference: it ends by itself
    } else {
        keeper_.join();
    }
}

void Pool::keeper_main(std::weak_ptr<Pool> weak, std::shared_ptr<KeeperSignal> signal) {
    name_this_thread("pyctx-pool");
    std::unique_lock lock(signal->mu);
    for (;;) {
        signal->cv.wait_for(lock, kKeeperTick, [&] { return signal->stop || signal->nudged; });
        if (signal->stop) return;
        signal->nudged = false;
        lock.unlock();
        // Holding a reference while working: the pool cannot go away under
        // the keeper, and its destructor never waits for a busy keeper.
        if (std::shared_ptr<Pool> pool = weak.lock()) pool->check_members();
        lock.lock();
    }
}

void Pool::check_members() {
    {
        std::shared_lock lock(mu_);
        bool any = false;
        for (const Member &m : members_) any = any || m.ctx->is_closing();
        if (!any) return;
    }
    std::lock_guard admin(admin_mu_);
    if (is_closed()) return;
    std::vector<Member> dead;
    {
        std::unique_lock lock(mu_);
        for (size_t i = 0; i < members_.size();) {
            if (members_[i].ctx->is_closing()) {
                dead.push_back(members_[i]);
                leaving_.push_back(members_[i]);
                members_.erase(members_.begin() + static_cast<long>(i));
            } else {
                ++i;
            }
        }
        rebuild_locked();
    }
    for (Member &m : dead) {
        // Already closing: this waits for its thread to finish delivering.
        Error ignored = m.ctx->close_until(now_ns() + kCloseGraceNs);
        (void)ignored;
        bool replace = options_.replace == ReplacePolicy::replace && Runtime::get().running();
        Member fresh;
        if (replace && !make_member(m.slot, &fresh).ok()) {
            n_replace_failed_.fetch_add(1, std::memory_order_relaxed);
            replace = false;
        }
        std::unique_lock lock(mu_);
        retire_locked(m);
        leaving_.erase(std::remove_if(leaving_.begin(), leaving_.end(),
                                      [&](const Member &x) { return x.id == m.id; }),
                       leaving_.end());
        if (replace) {
            if (is_closed()) {
                fresh.ctx->begin_close();
            } else {
                members_.push_back(std::move(fresh));
                rebuild_locked();
                // Counted once it is a member (it was counted when made, so
                // a caller could see "replaced" with the pool still short).
                n_replaced_.fetch_add(1, std::memory_order_release);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// closing

void Pool::begin_close() {
    std::vector<std::shared_ptr<Context>> all;
    {
        std::unique_lock lock(mu_);
        closed_.store(true, std::memory_order_release);
        for (auto *list : {&members_, &leaving_})
            for (Member &m : *list) all.push_back(m.ctx);
    }
    // Leaving members stop draining: what they still hold completes as closed.
    for (auto &ctx : all) ctx->begin_close();
}

Error Pool::close(uint32_t timeout_ms) {
    if (on_member_thread()) {
        return Error(Status::invalid_argument,
                     "a pool cannot be closed from one of its members' threads (closing waits "
                     "for them)");
    }
    const int64_t deadline = now_ns() + int64_t{timeout_ms} * 1000000;
    begin_close();
    stop_keeper();
    std::lock_guard admin(admin_mu_);  // a resize still draining finishes first
    std::vector<Member> all;
    {
        std::shared_lock lock(mu_);
        all = members_;
    }
    Error result;
    std::string stuck;
    for (Member &m : all) {
        Error e = m.ctx->close_until(deadline);
        if (e.status == Status::stuck) {
            stuck += (stuck.empty() ? "" : ", ") + m.ctx->name();
        } else if (!e.ok() && result.ok()) {
            result = std::move(e);
        }
    }
    std::unique_lock lock(mu_);
    for (Member &m : members_) retire_locked(m);
    members_.clear();
    rebuild_locked();
    if (!stuck.empty()) {
        return Error(Status::stuck, "pool '" + options_.name +
                                        "': members did not stop in time (Python still runs "
                                        "there; their threads stay pinned): " +
                                        stuck);
    }
    return result;
}

}  // namespace pyctx::core
