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

// How least queued ranks a member: lower is better; UINT64_MAX never wins.
inline uint64_t load_score(const MemberLoad &m) {
    if (m.closing) return UINT64_MAX;
    return ((m.queued + (m.busy ? 1 : 0)) << 1) | (m.parked ? 1 : 0);
}

// Least queued first (queued, plus one while busy); among equally loaded
// members an awake one before a parked one; remaining ties go to the first
// member from `start` on (the pool passes the member it chose last: the
// one most likely still spinning after its previous request). So an idle
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
        uint64_t score = load_score(m);
        if (score < best_score) {
            best_score = score;
            best = static_cast<long>(i);
            if (score == 0) break;  // idle and awake: nothing beats it
        }
    }
    return best;
}

// Least queued from remembered scores (`seen_of(i)`, what load_score gave when
// member i was last read), reading only the member it would choose. Reading
// a member's load costs a cache miss (its thread writes those words on every
// request), one per member per submission; the chosen member's words are
// about to be written by the push anyway. The remembered scores are trusted
// while the chosen member's true score stays within a quarter of the
// runner-up's remembered one (so a busy member with an empty queue, score 2,
// loses at once to a remembered idle one), and every member is read again
// when `refresh` says so (the caller does it every few submissions, which
// bounds how long a member that drained can go unnoticed) or the choice
// fails that test. `remember(i, score)` stores a fresh reading.
template <class SeenOf, class LoadOf, class Remember>
long pick_least_queued_seen(size_t n, size_t start, bool refresh, SeenOf &&seen_of,
                            LoadOf &&load_of, Remember &&remember) {
    if (!refresh) {
        long best = -1;
        uint64_t best_score = UINT64_MAX, second = UINT64_MAX;
        for (size_t k = 0; k < n; ++k) {
            size_t i = (start + k) % n;
            const uint64_t seen = seen_of(i);
            if (seen < best_score) {
                second = best_score;
                best_score = seen;
                best = static_cast<long>(i);
            } else if (seen < second) {
                second = seen;
            }
        }
        if (best >= 0) {
            MemberLoad now = load_of(static_cast<size_t>(best));
            const uint64_t score = load_score(now);
            remember(static_cast<size_t>(best), score);
            if (!now.closing && (second == UINT64_MAX || score <= second + second / 4))
                return best;
        }
    }
    return pick_least_queued(n, start, [&](size_t i) {
        MemberLoad m = load_of(i);
        remember(i, load_score(m));
        return m;
    });
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
