// The pool's submit side: routing, synchronous requests, cancel by id,
// member access and stats. Membership changes are in pool_membership.cpp.
#include "core/engine/pool/pool.h"

#include "core/base/futex.h"
#include "core/engine/runtime.h"

namespace pyctx::core {

namespace {
std::atomic<uint64_t> g_pool_counter{0};

void add(LaneStats &to, const LaneStats &s) {
    to.completed += s.completed;
    to.failed += s.failed;
    to.cancelled += s.cancelled;
    to.timed_out += s.timed_out;
    to.closed += s.closed;
    to.queue_depth += s.queue_depth;
}
}  // namespace

Pool::Pool(PoolOptions options)
    : options_(std::move(options)),
      ids_(std::make_shared<std::atomic<uint64_t>>(1)),
      keys_(options_.key_memory) {}

Error Pool::create(PoolOptions options, std::shared_ptr<Pool> *out) {
    if (!Runtime::get().running()) return Error(Status::not_running, "the runtime is not running");
    if (options.size == 0 || options.size > PoolOptions::kMaxSize) {
        return Error(Status::invalid_argument, "a pool has 1 to " +
                                                   std::to_string(PoolOptions::kMaxSize) +
                                                   " members, not " + std::to_string(options.size));
    }
    uint64_t n = g_pool_counter.fetch_add(1, std::memory_order_relaxed) + 1;
    if (options.name.empty()) options.name = "pool-" + std::to_string(n);
    std::shared_ptr<Pool> pool(new Pool(std::move(options)));
    std::vector<Member> made;
    for (size_t i = 0; i < pool->options_.size; ++i) {
        Member m;
        if (Error e = pool->make_member(static_cast<uint32_t>(i), &m); !e.ok()) {
            for (Member &done : made) done.ctx->begin_close();
            return e;
        }
        made.push_back(std::move(m));
    }
    {
        std::unique_lock lock(pool->mu_);
        pool->members_ = std::move(made);
        pool->rebuild_locked();
    }
    pool->keeper_ = std::thread(&Pool::keeper_main, std::weak_ptr<Pool>(pool), pool->keeper_signal_);
    *out = std::move(pool);
    return {};
}

Pool::~Pool() {
    stop_keeper();
    for (auto *list : {&members_, &leaving_})
        for (Member &m : *list) m.ctx->begin_close();
}

Error Pool::closed_error() const {
    return Error(Status::closed, "pool '" + options_.name + "' is closed");
}

// ---------------------------------------------------------------------------
// routing

bool Pool::pick_locked(const RouteHint &hint, const Member **out, RouteInfo *info, Error *why) {
    // Only a refusal builds an Error: the path every request takes returns
    // a bool (an Error is three strings to make and destroy).
    auto refuse = [why](Error e) {
        *why = std::move(e);
        return false;
    };
    if (closed_.load(std::memory_order_acquire)) return refuse(closed_error());
    if (options_.queue_bound) {
        uint64_t queued = 0;
        for (auto *list : {&members_, &leaving_})
            for (const Member &m : *list) queued += m.ctx->lane().queue().depth();
        if (queued >= options_.queue_bound) {
            n_refused_full_.fetch_add(1, std::memory_order_relaxed);
            return refuse(Error(Status::queue_full, "pool '" + options_.name +
                                                        "' queue is full (" +
                                                        std::to_string(options_.queue_bound) +
                                                        " queued)"));
        }
    }
    if (hint.pinned) {
        for (auto *list : {&members_, &leaving_}) {
            for (const Member &m : *list) {
                if (m.ctx.get() == hint.pinned) {
                    *out = &m;
                    info->member_id = m.id;
                    return true;
                }
            }
        }
        return refuse(Error(Status::closed, "the env's context '" + hint.pinned->name() +
                                                "' is not (or no longer) a member of pool '" +
                                                options_.name + "'"));
    }
    const size_t n = members_.size();
    if (n == 0) return refuse(Error(Status::closed, "pool '" + options_.name + "' has no members left"));
    long pick = -1;
    bool saw_closing = false;
    if (hint.has_key) {
        uint64_t h = HashRing::hash_key(hint.key, hint.key_len);
        int64_t slot = ring_.find(h, [&](uint32_t s) {
            int i = s < slot_index_.size() ? slot_index_[s] : -1;
            if (i < 0) return false;
            if (members_[i].ctx->is_closing()) {
                saw_closing = true;
                return false;
            }
            return true;
        });
        if (slot >= 0) pick = slot_index_[slot];
        if (pick >= 0) info->key_moved = keys_.route(h, members_[pick].id);
    } else if (options_.routing == RoutePolicy::round_robin) {
        // The request id is the ticket: ids are the pool's own sequence
        // (next_request_id), so this turns exactly as a counter of its own
        // would, without a second shared atomic per submission.
        pick = pick_round_robin(n, hint.spread, [&](size_t i) {
            bool c = members_[i].ctx->is_closing();
            saw_closing = saw_closing || c;
            return c;
        });
    } else {
        // Ties go to the member chosen last, not in turn: it is the one most
        // likely still awake. Rotating them sent a lone synchronous caller
        // to the other member each time once both had parked, waking a
        // parked thread for every call (bench_pool sync: 7-10x the one
        // context's p50 in a third of the runs). Every kRereadEvery-th
        // spread (request id) reads every member again.
        constexpr uint64_t kRereadEvery = 8;
        const size_t start = hint.rotate_ties ? static_cast<size_t>(hint.spread % n)
                                              : last_pick_.load(std::memory_order_relaxed) % n;
        pick = pick_least_queued_seen(
            n, start, hint.spread % kRereadEvery == 0,
            [&](size_t i) { return seen_[i].load(std::memory_order_relaxed); },
            [&](size_t i) {
                Context &c = *members_[i].ctx;
                MemberLoad load;
                load.queued = c.lane().queue().depth();
                if (load.queued <= 1) {
                    Executor::Activity a = c.executor().activity();
                    load.busy = a.busy;
                    load.parked = a.parked;
                } else {
                    // Work waits behind it: it runs or is being woken for
                    // it. Its activity words would cost another cache miss
                    // and change only whether its score is even or odd.
                    load.busy = true;
                }
                load.closing = c.is_closing();
                saw_closing = saw_closing || load.closing;
                return load;
            },
            [&](size_t i, uint64_t score) {
                if (seen_[i].load(std::memory_order_relaxed) != score)
                    seen_[i].store(score, std::memory_order_relaxed);
            });
        if (pick >= 0 && !hint.rotate_ties && start != static_cast<size_t>(pick))
            last_pick_.store(static_cast<size_t>(pick), std::memory_order_relaxed);  // on a change only
    }
    if (saw_closing) nudge_keeper();
    if (pick < 0)
        return refuse(Error(Status::closed, "every member of pool '" + options_.name + "' is closing"));
    *out = &members_[pick];
    info->member_id = members_[pick].id;
    return true;
}

Outcome Pool::run_sync(RequestRef r, const RouteHint &hint, RouteInfo *info) {
    std::shared_ptr<Context> member;
    bool nested = false;
    Error e = route(hint, [&](Context &m, const RouteInfo &routed) -> Error {
        member = m.shared_from_this();
        if (info) *info = routed;
        if (m.executor().on_own_thread()) {
            nested = true;  // run below, outside the pool's lock
            return {};
        }
        r->retain();  // one for the queue (dropped by submit on failure), one kept
        return m.lane().submit(RequestRef(r.get()), false);
    });
    if (!e.ok()) return Outcome{std::move(e), {}};
    if (nested) return member->lane().run_sync(std::move(r));
    member->lane().wait(r.get(), r->deadline_ns);
    return std::move(r->outcome);
}

Error Pool::pick_for_env(std::shared_ptr<Context> *out) {
    std::shared_lock lock(mu_);
    const Member *m = nullptr;
    RouteInfo info;
    RouteHint hint;
    hint.spread = rr_.fetch_add(1, std::memory_order_relaxed);
    hint.rotate_ties = true;
    Error e;
    if (!pick_locked(hint, &m, &info, &e)) return e;
    *out = m->ctx;
    return {};
}

Error Pool::cancel(uint64_t id) {
    std::vector<std::shared_ptr<Context>> all;
    {
        std::shared_lock lock(mu_);
        for (auto *list : {&members_, &leaving_})
            for (const Member &m : *list) all.push_back(m.ctx);
    }
    // Ids are unique per pool: at most one member knows it.
    for (auto &ctx : all)
        if (ctx->lane().cancel(id).ok()) return {};
    return Error(Status::not_found, "no pending request " + std::to_string(id) + " in pool '" +
                                        options_.name + "'");
}

// ---------------------------------------------------------------------------
// members and stats

size_t Pool::size() const {
    std::shared_lock lock(mu_);
    return is_closed() ? 0 : members_.size();
}

std::shared_ptr<Context> Pool::member(size_t index) const {
    std::shared_lock lock(mu_);
    return index < members_.size() ? members_[index].ctx : nullptr;
}

bool Pool::member_stats(size_t index, PoolMemberStats *out) const {
    std::shared_lock lock(mu_);
    if (index >= members_.size()) return false;
    const Member &m = members_[index];
    static_cast<ContextStats &>(*out) = m.ctx->stats();
    Executor::Activity a = m.ctx->executor().activity();
    out->member_id = m.id;
    out->slot = m.slot;
    out->parked = a.parked;
    out->busy = a.busy;
    return true;
}

PoolStats Pool::stats() const {
    PoolStats s;
    std::shared_lock lock(mu_);
    static_cast<LaneStats &>(s) = retired_;
    for (auto *list : {&members_, &leaving_})
        for (const Member &m : *list) add(s, m.ctx->lane().stats());
    s.size = members_.size();
    s.leaving = leaving_.size();
    s.created = n_created_.load(std::memory_order_relaxed);
    s.replaced = n_replaced_.load(std::memory_order_acquire);
    s.replace_failed = n_replace_failed_.load(std::memory_order_relaxed);
    s.refused_full = n_refused_full_.load(std::memory_order_relaxed);
    s.keys_known = keys_.size();
    return s;
}

void Pool::retire_locked(const Member &m) { add(retired_, m.ctx->lane().stats()); }

}  // namespace pyctx::core
