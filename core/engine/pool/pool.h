// A pool: N contexts ("members") of one mode, made from the same options
// (so the same preload), behind one submit path. Routing (router.h) picks a
// member per request: least queued preferring an awake member, round robin,
// or by key on a consistent-hash ring (hash_ring.h) whose changes are
// reported per key (key_table.h). A request then takes its member's ordinary
// path (lane.h), so sync, async, cancel, deadlines and exactly-once are the
// context's own. Members draw request ids from the pool's one counter, so
// ids are unique per pool and cancel by id works on the pool.
//
// Membership changes (resize, a member that closed, close) take the writer
// side of `mu_`; every submission holds the reader side from routing to the
// push, so once a member is out of the routing no submission can still
// reach it, and a leaving member is closed only after its queue has drained.
// A keeper thread notices members that closed (or crashed, for executors
// that can) and replaces or drops them per the replace policy.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/base/error.h"
#include "core/base/read_mostly_lock.h"
#include "core/engine/context.h"
#include "core/engine/pool/hash_ring.h"
#include "core/engine/pool/key_table.h"
#include "core/engine/pool/router.h"

namespace pyctx::core {

enum class ReplacePolicy : int { replace = 0, leave = 1 };

struct PoolOptions {
    static constexpr size_t kMaxSize = 256;

    std::string name;         // "" -> "pool-<n>"; members are "<prefix>-<member id>"
    ContextOptions member;    // every member's options; its name is the prefix
    size_t size = 1;          // 1..kMaxSize
    RoutePolicy routing = RoutePolicy::least_queued;
    size_t queue_bound = 0;   // queued requests over all members; 0 = none
    ReplacePolicy replace = ReplacePolicy::replace;
    size_t key_memory = 65536;  // keys remembered for "moved" reports
};

// Where a routed request went.
struct RouteInfo {
    uint64_t member_id = 0;
    bool key_moved = false;  // keyed: its member differs from the key's last one
};

// What a submission asks of routing.
struct RouteHint {
    const void *key = nullptr;  // with has_key: routed by key whatever the policy
    size_t key_len = 0;
    bool has_key = false;
    const Context *pinned = nullptr;  // an env's member: goes there, no routing
    // The request's pool id: round robin's ticket, and least queued's
    // cadence of full reads.
    uint64_t spread = 0;
    // Least queued: ties in turn from spread % n (an env's member, so envs
    // made one after another spread), not to the member chosen last.
    bool rotate_ties = false;
};

struct PoolMemberStats : ContextStats {
    uint64_t member_id = 0;
    uint64_t slot = 0;
    bool parked = false, busy = false;
};

struct PoolStats : LaneStats {
    uint64_t size = 0;            // members routed to
    uint64_t leaving = 0;         // members finishing their queue before closing
    uint64_t created = 0;         // members ever made (replacements and growth included)
    uint64_t replaced = 0;        // closed members replaced
    uint64_t replace_failed = 0;  // replacements that could not be made
    uint64_t refused_full = 0;    // submissions refused at the queue bound
    uint64_t keys_known = 0;      // keys the moved-report table remembers
};

class Pool {
public:
    static Error create(PoolOptions options, std::shared_ptr<Pool> *out);
    ~Pool();
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    const std::string &name() const { return options_.name; }
    uint64_t next_request_id() { return ids_->fetch_add(1, std::memory_order_relaxed); }

    // Routes one submission and calls `push(Context &member, const RouteInfo &)`
    // while the member cannot leave the routing; `push` submits to the
    // member's lane and returns its error. When a member refuses as closed
    // (it closed just now) the next member is tried, so `push` may run more
    // than once; the last call counts.
    template <class Push>
    Error route(const RouteHint &hint, Push &&push);

    // A synchronous request through the pool (nested when the chosen member
    // is the calling thread's own). `info` (may be null) receives the route.
    Outcome run_sync(RequestRef r, const RouteHint &hint, RouteInfo *info);
    // The member a new env is made on (the pool's routing, no key).
    Error pick_for_env(std::shared_ptr<Context> *out);

    // Cancels request `id` on whichever member holds it.
    Error cancel(uint64_t id);
    // Grows (new members, same options) or shrinks (the members with the
    // highest slots leave the routing at once, finish their queue, then
    // close). `timeout_ms` (0: none) bounds the wait for leaving queues;
    // what is left then completes as closed.
    Error resize(size_t size, uint32_t timeout_ms);
    // Refuses new submissions and closes every member (one deadline for
    // all); Status::stuck names members whose Python did not return.
    Error close(uint32_t timeout_ms);
    // The same without waiting (a handle's free).
    void begin_close();
    bool is_closed() const { return closed_.load(std::memory_order_acquire); }

    size_t size() const;
    std::shared_ptr<Context> member(size_t index) const;  // nullptr out of range
    bool member_stats(size_t index, PoolMemberStats *out) const;
    PoolStats stats() const;

private:
    struct Member {
        std::shared_ptr<Context> ctx;
        uint64_t id = 0;
        uint32_t slot = 0;
    };

    explicit Pool(PoolOptions options);
    Error make_member(uint32_t slot, Member *out);
    // Chooses a member for `hint` (reader lock held): true with `*out`
    // pointing into members_ or leaving_, or false with `*why` the refusal.
    bool pick_locked(const RouteHint &hint, const Member **out, RouteInfo *info, Error *why);
    void rebuild_locked();  // ring and slot index from members_ (writer lock)
    void retire_locked(const Member &m);  // adds its final counters
    bool on_member_thread() const;
    uint32_t free_slot_locked(const std::vector<Member> &also_used) const;
    Error closed_error() const;
    void nudge_keeper();
    void stop_keeper();
    struct KeeperSignal {
        std::mutex mu;
        std::condition_variable cv;
        bool stop = false, nudged = false;
    };
    // Owns nothing of the pool: the keeper may outlive it by a moment.
    static void keeper_main(std::weak_ptr<Pool> weak, std::shared_ptr<KeeperSignal> signal);
    void check_members();  // the keeper: drop or replace closed members

    PoolOptions options_;
    std::shared_ptr<std::atomic<uint64_t>> ids_;

    mutable ReadMostlyLock mu_;  // members_, leaving_, ring_, slot_index_
    std::vector<Member> members_;   // routed to, sorted by slot
    std::vector<Member> leaving_;   // draining or being retired
    std::vector<int> slot_index_;   // slot -> index in members_, -1
    // Least queued: each member's score when last read, by index in members_
    // (router.h, pick_least_queued_seen). Written by submitters, relaxed: a
    // hint, rebuilt with members_.
    std::unique_ptr<std::atomic<uint64_t>[]> seen_;
    HashRing ring_;
    std::atomic<bool> closed_{false};

    std::mutex admin_mu_;  // one membership change at a time
    std::atomic<uint64_t> next_member_id_{1};
    std::atomic<uint64_t> rr_{0};  // spreads the ties of env creation
    std::atomic<size_t> last_pick_{0};  // least queued: the member chosen last (ties go there)
    KeyTable keys_;

    std::atomic<uint64_t> n_created_{0}, n_replaced_{0}, n_replace_failed_{0}, n_refused_full_{0};
    LaneStats retired_;  // under mu_ (writer)

    std::shared_ptr<KeeperSignal> keeper_signal_ = std::make_shared<KeeperSignal>();
    std::thread keeper_;
};

template <class Push>
Error Pool::route(const RouteHint &hint, Push &&push) {
    std::shared_lock lock(mu_);
    Error e;  // the one result, returned by name
    for (int attempt = 0;; ++attempt) {
        const Member *m = nullptr;
        RouteInfo info;
        if (!pick_locked(hint, &m, &info, &e)) return e;
        e = push(*m->ctx, info);
        // A member that closed between the pick and the push: try another.
        if (e.ok() || e.status != Status::closed || hint.pinned || attempt >= 3 ||
            !m->ctx->is_closing() || is_closed())
            return e;
        nudge_keeper();
    }
}

}  // namespace pyctx::core
