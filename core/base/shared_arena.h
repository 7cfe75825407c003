// The library's shared-memory arena: one memfd for the whole process, from
// which library-allocated buffers (pyctx_buffer_alloc) take their memory,
// so a process context's child, which gets the memfd when it starts, maps
// them without a copy. Host memory lent to a child is copied into the
// arena once (and back when it was writable).
//
// Blocks are whole pages at page-aligned offsets (the child maps exactly a
// block), zero when handed out: a freed block's pages are punched out of
// the file, which gives the memory back and reads as zero again. The file
// grows as needed; it never shrinks. Without memfd (an old kernel, a
// seccomp filter) the arena is unavailable and callers fall back to heap
// memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace pyctx::core {

class SharedArena {
public:
    struct Block {
        void *data = nullptr;  // this process's mapping (read-write)
        uint64_t offset = 0;   // in the memfd (page-aligned)
        size_t size = 0;       // the mapping's length (whole pages)
        explicit operator bool() const { return data != nullptr; }
    };

    // The process's arena (made on first use); nullptr when unavailable.
    static SharedArena *get();
    // Another arena over a new memfd (a process context's child copies its
    // buffer results into one per child); nullptr when unavailable.
    static std::unique_ptr<SharedArena> create(const char *name);
    // An arena over an inherited memfd (the child's end of the above).
    static std::unique_ptr<SharedArena> adopt(int fd);
    ~SharedArena();

    // A zeroed block of at least `len` bytes (at least one page); empty
    // when out of memory.
    Block allocate(size_t len);
    // Gives `b` back (unmaps it here; the pages return to the system).
    void free(const Block &b);
    // The two halves of free(): this process's mapping only, and the pages
    // (when another process held the last mapping).
    static void unmap(const Block &b);
    void free_range(uint64_t offset, uint64_t size);

    // The memfd, for a child to inherit (never closed).
    int fd() const { return fd_; }
    static size_t page_size();

private:
    SharedArena(int fd, bool owned) : fd_(fd), owned_(owned) {}
    bool grow_locked(uint64_t to);
    void give_back(uint64_t offset, uint64_t size);  // to the free list

    const int fd_;
    const bool owned_;  // closed with the arena (the process's one never is)
    std::mutex mu_;
    uint64_t file_size_ = 0;
    std::map<uint64_t, uint64_t> free_;  // offset -> length, coalesced
};

}  // namespace pyctx::core
