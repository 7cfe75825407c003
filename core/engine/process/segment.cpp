#include "core/engine/process/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <new>

namespace pyctx::core {

namespace {
constexpr uint64_t kFrameHeader = 8;
uint64_t padded(uint64_t n) { return (n + 7) & ~uint64_t{7}; }
size_t header_bytes() { return padded(sizeof(SegmentHeader) + 63) & ~size_t{63}; }
}  // namespace

// ---------------------------------------------------------------------------
// ring

void Ring::copy_in(uint64_t at, const void *src, size_t n) {
    uint64_t off = at & (cap_ - 1);
    size_t first = static_cast<size_t>(std::min<uint64_t>(n, cap_ - off));
    std::memcpy(data_ + off, src, first);
    if (first < n) std::memcpy(data_, static_cast<const uint8_t *>(src) + first, n - first);
}

void Ring::copy_out(uint64_t at, void *dst, size_t n) const {
    uint64_t off = at & (cap_ - 1);
    size_t first = static_cast<size_t>(std::min<uint64_t>(n, cap_ - off));
    std::memcpy(dst, data_ + off, first);
    if (first < n) std::memcpy(static_cast<uint8_t *>(dst) + first, data_, n - first);
}

bool Ring::try_write(const uint8_t *payload, size_t n) {
    if (n > max_payload()) return false;
    uint64_t need = kFrameHeader + padded(n);
    uint64_t head = h_->head.load(std::memory_order_relaxed);
    uint64_t tail = h_->tail.load(std::memory_order_acquire);
    if (cap_ - (head - tail) < need) return false;
    uint64_t len = n;
    copy_in(head, &len, sizeof len);
    copy_in(head + kFrameHeader, payload, n);
    h_->head.store(head + need, std::memory_order_release);
    return true;
}

bool Ring::read(ByteBuffer &out) {
    uint64_t tail = h_->tail.load(std::memory_order_relaxed);
    uint64_t head = h_->head.load(std::memory_order_acquire);
    if (head == tail) return false;
    uint64_t len = 0;
    copy_out(tail, &len, sizeof len);
    out.clear();
    // The length is the peer's word: never trusted beyond the ring (an
    // empty payload is a protocol error for the caller).
    if (len > max_payload() || len > head - tail - kFrameHeader) len = 0;
    if (len && out.reserve(static_cast<size_t>(len))) {
        uint64_t off = (tail + kFrameHeader) & (cap_ - 1);
        size_t first = static_cast<size_t>(std::min<uint64_t>(len, cap_ - off));
        (void)out.append(data_ + off, first);
        (void)out.append(data_, static_cast<size_t>(len) - first);
    }
    h_->tail.store(tail + kFrameHeader + padded(len), std::memory_order_release);
    return true;
}

// ---------------------------------------------------------------------------
// segment

Segment::~Segment() {
    if (hdr_) munmap(hdr_, size_);
    if (fd_ >= 0) ::close(fd_);
}

Error Segment::create(uint64_t ring_bytes) {
    int fd = memfd_create("pyctx-process", MFD_CLOEXEC);
    if (fd < 0) return Error(Status::internal, std::string("memfd_create: ") + std::strerror(errno));
    size_t size = header_bytes() + 2 * ring_bytes;
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
        int e = errno;
        ::close(fd);
        return Error(Status::no_memory, std::string("sizing the shared segment: ") + std::strerror(e));
    }
    Error err = map(fd, true);
    if (!err.ok()) return err;
    hdr_->ring_bytes = ring_bytes;
    to_child_ = Ring(&hdr_->to_child, reinterpret_cast<uint8_t *>(hdr_) + header_bytes(), ring_bytes);
    to_host_ = Ring(&hdr_->to_host,
                    reinterpret_cast<uint8_t *>(hdr_) + header_bytes() + ring_bytes, ring_bytes);
    return {};
}

Error Segment::attach(int fd) {
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < static_cast<off_t>(header_bytes()))
        return Error(Status::internal, "the shared segment is too small");
    size_ = static_cast<size_t>(size);
    Error err = map(fd, false);
    if (!err.ok()) return err;
    uint64_t ring_bytes = hdr_->ring_bytes;
    if (hdr_->magic != SegmentHeader::kMagic || hdr_->version != SegmentHeader::kVersion ||
        header_bytes() + 2 * ring_bytes != size_ || (ring_bytes & (ring_bytes - 1)) != 0)
        return Error(Status::internal, "the shared segment has an unknown layout");
    to_child_ = Ring(&hdr_->to_child, reinterpret_cast<uint8_t *>(hdr_) + header_bytes(), ring_bytes);
    to_host_ = Ring(&hdr_->to_host,
                    reinterpret_cast<uint8_t *>(hdr_) + header_bytes() + ring_bytes, ring_bytes);
    return {};
}

void Segment::reset() {
    uint64_t ring_bytes = hdr_->ring_bytes;
    hdr_->to_child.head.store(0);
    hdr_->to_child.tail.store(0);
    hdr_->to_host.head.store(0);
    hdr_->to_host.tail.store(0);
    hdr_->child_bell.store(SegmentHeader::kAwake);
    hdr_->child_running.store(0);
    hdr_->interrupt_target.store(0);
    hdr_->host_wants_room.store(0);
    // The slots stay: a caller may still be reading one the dead child
    // filled; the host freed every other slot of that child already.
    hdr_->ring_bytes = ring_bytes;
}

Error Segment::map(int fd, bool init) {
    if (init) size_ = static_cast<size_t>(lseek(fd, 0, SEEK_END));
    void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        ::close(fd);
        return Error(Status::no_memory, std::string("mapping the shared segment: ") + std::strerror(e));
    }
    fd_ = fd;
    hdr_ = init ? new (p) SegmentHeader() : static_cast<SegmentHeader *>(p);
    return {};
}

void ring_bell(std::atomic<uint32_t> &bell, int event_fd) {
    // Pairs with the parker's seq_cst store of its bell before it looks at
    // the ring: either it sees our write or we see its bell.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (bell.load(std::memory_order_seq_cst) == SegmentHeader::kAwake) return;
    uint32_t how = bell.exchange(SegmentHeader::kAwake, std::memory_order_seq_cst);
    if (how == SegmentHeader::kParked) {
        futex_wake_shared(bell);
    } else if (how == SegmentHeader::kInSelector && event_fd >= 0) {
        uint64_t one = 1;
        ssize_t n = ::write(event_fd, &one, sizeof one);
        (void)n;  // EAGAIN: the counter is non-zero already, so it wakes anyway
    }
}

}  // namespace pyctx::core
