// Completion slots: the direct path of a synchronous request. The host
// gives a synchronous request one slot of the shared segment when it writes
// the request into the ring; the caller waits on that slot's word (spinning
// briefly, then a cross-process futex) and the child writes the completion
// straight into it, so neither direction passes through the host's io
// thread. Everything else (async completions, big results, host calls)
// keeps going through the completion ring and the io thread.
//
// The state word decides, by compare-and-swap, which path a completion
// takes; each transition has one owner:
//
//   free -> waiting         host, sending the request (under the send lock);
//                           its caller counts as attached from the start,
//                           since every synchronous request is waited for
//                           right after it is submitted
//   waiting <-> parked      the caller (parking), the host nudging it awake
//   waiting|parked -> done  the child: the completion is in the slot
//   waiting|parked -> ringed
//                           the child: the completion went through the
//                           ring (it did not fit in the slot)
//   waiting|parked -> abandoned
//                           the caller stopped waiting here (deadline,
//                           cancel, close): the child uses the ring
//   waiting|parked -> gone  the host: the child died or the context ended;
//                           the caller falls back to the lane's wait
//   done|gone -> free       the caller, after reading it (send lock)
//   ringed|abandoned -> free
//                           the host, with the request's in-flight entry
//                           (send lock): after the ring completion or death
#pragma once

#include <atomic>
#include <cstdint>

namespace pyctx::core {

struct SyncSlot {
    static constexpr uint32_t kFree = 0, kWaiting = 2, kParked = 3, kDone = 4,
                              kRinged = 5, kAbandoned = 6, kGone = 7;
    static constexpr uint32_t kBytes = 2048;  // one slot, header included
    static constexpr uint32_t kPayloadMax = kBytes - 64;

    alignas(64) std::atomic<uint32_t> state{kFree};
    uint32_t len = 0;  // payload bytes, written by the child before `done`
    uint8_t payload[kPayloadMax];
};
static_assert(sizeof(SyncSlot) == SyncSlot::kBytes);

// Slots per segment: more synchronous callers than this at once fall back
// to the ring (correct, only slower).
constexpr uint32_t kSyncSlots = 64;

}  // namespace pyctx::core
