// The shared memory of one process context: a memfd both processes map,
// holding two single-producer single-consumer byte rings (requests to the
// child, completions and host calls to the host) and the words each side
// parks on. A side that parks sets its bell and sleeps on it with a
// cross-process futex (or, for a child blocked in its asyncio selector,
// its eventfd); the other side rings the bell after every change it makes,
// which costs one load while nobody is parked.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/base/byte_buffer.h"
#include "core/base/error.h"
#include "core/engine/process/sync_slot.h"

namespace pyctx::core {

// The child's and the io thread's idle spins yield the CPU every this many
// turns (AdaptiveSpin): with the submitting thread they are three busy
// threads, often on fewer cores.
constexpr uint32_t kSpinYieldEvery = 128;

struct RingHeader {
    alignas(64) std::atomic<uint64_t> head{0};  // bytes ever written (producer)
    alignas(64) std::atomic<uint64_t> tail{0};  // bytes ever consumed (consumer)
};

struct SegmentHeader {
    static constexpr uint32_t kMagic = 0x50594358;  // "PYCX"
    static constexpr uint32_t kVersion = 3;
    // Values of a bell.
    static constexpr uint32_t kAwake = 0, kParked = 1, kInSelector = 2;

    uint32_t magic = kMagic;
    uint32_t version = kVersion;
    uint64_t ring_bytes = 0;  // capacity of each ring (a power of two)
    alignas(64) std::atomic<uint32_t> host_bell{kAwake};
    alignas(64) std::atomic<uint32_t> child_bell{kAwake};
    // The request the child's main thread runs right now (0: none), so the
    // host interrupts only that one; and the one an interrupt is meant for.
    alignas(64) std::atomic<uint64_t> child_running{0};
    std::atomic<uint64_t> interrupt_target{0};
    RingHeader to_child;
    RingHeader to_host;
    // Set by the host while a message waits for room in the request ring:
    // only then does the child ring the host's bell after reading, so a
    // parked io thread is not woken by every request.
    alignas(64) std::atomic<uint32_t> host_wants_room{0};
    // Python threads of the child's own (not its main thread) waiting for a
    // host call's answer. The main thread, the request ring's usual reader,
    // may be busy running Python, so such a waiter reads the ring itself;
    // it sleeps on answer_bell, which the host bumps (and wakes) after
    // writing answers while any waiter is counted, and which the child bumps
    // when one of them is answered.
    alignas(64) std::atomic<uint32_t> plain_waiters{0};
    std::atomic<uint32_t> answer_bell{0};
    SyncSlot slots[kSyncSlots];
};

// One direction of the segment. Frames are an 8-byte header (payload
// length) and the payload padded to 8 bytes; they wrap around the end.
class Ring {
public:
    Ring() = default;
    Ring(RingHeader *h, uint8_t *data, uint64_t capacity) : h_(h), data_(data), cap_(capacity) {}

    // The largest payload one frame may carry.
    size_t max_payload() const { return cap_ / 2 - 8; }
    bool has_data() const {
        return h_->head.load(std::memory_order_acquire) != h_->tail.load(std::memory_order_relaxed);
    }
    // Producer: true when the consumer has read everything written.
    bool drained() const {
        return h_->tail.load(std::memory_order_acquire) == h_->head.load(std::memory_order_relaxed);
    }
    // Producer: false when there is no room now (or never, for a payload
    // above max_payload()).
    bool try_write(const uint8_t *payload, size_t n);
    // Consumer: the next payload into `out`; false when the ring is empty.
    bool read(ByteBuffer &out);

private:
    void copy_in(uint64_t at, const void *src, size_t n);
    void copy_out(uint64_t at, void *dst, size_t n) const;

    RingHeader *h_ = nullptr;
    uint8_t *data_ = nullptr;
    uint64_t cap_ = 0;
};

// A mapped segment (either side).
class Segment {
public:
    Segment() = default;
    ~Segment();
    Segment(const Segment &) = delete;
    Segment &operator=(const Segment &) = delete;

    // Host: a new memfd of two rings of `ring_bytes` each (a power of two).
    Error create(uint64_t ring_bytes);
    // Child: maps the segment the host passed as `fd` (taking it over).
    Error attach(int fd);
    // Host: empties both rings and resets the bells for a new child (the
    // previous one is gone, so nobody else touches the memory).
    void reset();

    int fd() const { return fd_; }
    SegmentHeader &header() { return *hdr_; }
    Ring &to_child() { return to_child_; }
    Ring &to_host() { return to_host_; }
    SyncSlot &slot(uint32_t i) { return hdr_->slots[i]; }

private:
    Error map(int fd, bool init);

    int fd_ = -1;
    size_t size_ = 0;
    SegmentHeader *hdr_ = nullptr;
    Ring to_child_, to_host_;
};

// Wakes the side parked on `bell`: a futex wake, or a write to `event_fd`
// when it waits in its selector. One load when nobody is parked.
void ring_bell(std::atomic<uint32_t> &bell, int event_fd);
// Parks on `bell` until rung or `timeout_ns` (negative: forever), unless
// ready() already holds once the bell is set.
template <class Ready>
void park_on_bell(std::atomic<uint32_t> &bell, Ready &&ready, int64_t timeout_ns = -1);

}  // namespace pyctx::core

#include "core/engine/process/segment_inl.h"
