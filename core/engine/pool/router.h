// A pool's routing choices, as pure functions over what each member
// reports (MemberLoad), so they are tested without Python (tests/unit).
// Python-free.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pyctx::core {

enum class RoutePolicy : int { least_queued = 0, round_robin = 1, by_key = 2 };

// A member as the router sees it: a racy snapshot, good enough to choose.
struct MemberLoad {
    uint64_t queued = 0;   // requests in its queue, not yet running
    bool busy = false;     // its thread runs a request now
    bool parked = false;   // its thread sleeps: a submission must wake it
    bool closing = false;  // never routed to
};

// Least queued first (queued, plus one while busy); among equally loaded
// members an awake one before a parked one; remaining ties go to the first
// member from `start` on (callers rotate `start` to spread ties). So an idle
// spinning member beats an idle parked one, but a parked idle member beats
// a spinning member with work ahead of it. -1 when every member is closing.
template <class LoadOf>
long pick_least_queued(size_t n, size_t start, LoadOf &&load_of) {
    long best = -1;
    uint64_t best_score = UINT64_MAX;
    for (size_t k = 0; k < n; ++k) {
        size_t i = (start + k) % n;
        MemberLoad m = load_of(i);
        if (m.closing) continue;
        uint64_t score = ((m.queued + (m.busy ? 1 : 0)) << 1) | (m.parked ? 1 : 0);
        if (score < best_score) {
            best_score = score;
            best = static_cast<long>(i);
            if (score == 0) break;  // idle and awake: nothing beats it
        }
    }
    return best;
}

// The member at `ticket` modulo n, skipping closing members. -1 when every
// member is closing.
template <class ClosingOf>
long pick_round_robin(size_t n, uint64_t ticket, ClosingOf &&closing_of) {
    for (size_t k = 0; k < n; ++k) {
        size_t i = static_cast<size_t>((ticket + k) % n);
        if (!closing_of(i)) return static_cast<long>(i);
    }
    return -1;
}

}  // namespace pyctx::core
