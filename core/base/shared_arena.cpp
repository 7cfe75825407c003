#include "core/base/shared_arena.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

namespace pyctx::core {

namespace {

// The file grows by at least this much at a time (fewer ftruncate calls).
constexpr uint64_t kGrowth = uint64_t{64} << 20;

uint64_t round_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

size_t SharedArena::page_size() {
    static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return size;
}

SharedArena *SharedArena::get() {
    // Made once, never destroyed: children and buffers may outlive any
    // other owner (the mapping of a block survives a child's death).
    static SharedArena *const arena = []() -> SharedArena * {
        int fd = memfd_create("pyctx-arena", MFD_CLOEXEC);
        if (fd < 0) return nullptr;
        return new SharedArena(fd, false);
    }();
    return arena;
}

std::unique_ptr<SharedArena> SharedArena::create(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return nullptr;
    return std::unique_ptr<SharedArena>(new SharedArena(fd, true));
}

std::unique_ptr<SharedArena> SharedArena::adopt(int fd) {
    // A new, empty file that only this side grows (the host made it for
    // this child and only maps the blocks it is told of).
    return std::unique_ptr<SharedArena>(new SharedArena(fd, true));
}

SharedArena::~SharedArena() {
    if (owned_) ::close(fd_);
}

bool SharedArena::grow_locked(uint64_t to) {
    uint64_t size = round_up(to, kGrowth);
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) return false;
    if (size > file_size_) {
        // The new tail is free, merged with a free block that ends where it starts.
        uint64_t start = file_size_, len = size - file_size_;
        auto last = free_.empty() ? free_.end() : std::prev(free_.end());
        if (last != free_.end() && last->first + last->second == start) {
            last->second += len;
        } else {
            free_.emplace(start, len);
        }
        file_size_ = size;
    }
    return true;
}

SharedArena::Block SharedArena::allocate(size_t len) {
    const uint64_t page = page_size();
    const uint64_t want = round_up(len ? len : 1, page);
    if (want < len) return {};
    uint64_t offset = 0;
    {
        std::lock_guard lock(mu_);
        auto it = free_.begin();
        while (it != free_.end() && it->second < want) ++it;
        if (it == free_.end()) {
            if (!grow_locked(file_size_ + want)) return {};
            it = std::prev(free_.end());
            if (it->second < want) return {};
        }
        offset = it->first;
        const uint64_t left = it->second - want;
        free_.erase(it);
        if (left) free_.emplace(offset + want, left);
    }
    void *p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, static_cast<off_t>(offset));
    if (p == MAP_FAILED) {
        give_back(offset, want);
        return {};
    }
    return Block{p, offset, want};
}

void SharedArena::free(const Block &b) {
    if (!b) return;
    unmap(b);
    free_range(b.offset, b.size);
}

void SharedArena::unmap(const Block &b) {
    if (b) munmap(b.data, b.size);
}

void SharedArena::free_range(uint64_t offset, uint64_t size) {
    // Zero for the next user, and the memory goes back to the system.
    (void)fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(size));
    give_back(offset, size);
}

void SharedArena::give_back(uint64_t offset, uint64_t size) {
    std::lock_guard lock(mu_);
    auto next = free_.lower_bound(offset);
    uint64_t start = offset, len = size;
    if (next != free_.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second == start) {
            start = prev->first;
            len += prev->second;
            free_.erase(prev);
        }
    }
    if (next != free_.end() && start + len == next->first) {
        len += next->second;
        free_.erase(next);
    }
    free_.emplace(start, len);
}

}  // namespace pyctx::core
