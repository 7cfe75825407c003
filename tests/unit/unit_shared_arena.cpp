// The shared-memory arena of library buffers (core/base/shared_arena.h):
// blocks are whole pages at page-aligned offsets, zero when handed out
// (also when reused), freed neighbours merge so a later bigger block fits
// where they were, and what one mapping writes another mapping of the same
// offset (a child's) reads.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "core/base/shared_arena.h"

using pyctx::core::SharedArena;

namespace {

bool all_zero(const void *p, size_t n) {
    const auto *b = static_cast<const unsigned char *>(p);
    for (size_t i = 0; i < n; ++i)
        if (b[i]) return false;
    return true;
}

}  // namespace

TEST(SharedArena, BlocksAreWholeZeroedPagesAtPageOffsets) {
    SharedArena *arena = SharedArena::get();
    ASSERT_NE(arena, nullptr) << "memfd_create is available on every kernel this runs on";
    const size_t page = SharedArena::page_size();
    SharedArena::Block a = arena->allocate(1), b = arena->allocate(page + 1), c = arena->allocate(0);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(a.size, page);
    EXPECT_EQ(b.size, 2 * page);
    EXPECT_EQ(c.size, page);
    for (const auto &x : {a, b, c}) {
        EXPECT_EQ(x.offset % page, 0u);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(x.data) % 64, 0u);
        EXPECT_TRUE(all_zero(x.data, x.size));
    }
    EXPECT_NE(a.offset, b.offset);
    EXPECT_NE(b.offset, c.offset);
    arena->free(a);
    arena->free(b);
    arena->free(c);
}

TEST(SharedArena, AReusedBlockIsZeroAgainAndFreedNeighboursMerge) {
    SharedArena *arena = SharedArena::get();
    ASSERT_NE(arena, nullptr);
    const size_t page = SharedArena::page_size();
    std::vector<SharedArena::Block> blocks;
    for (int i = 0; i < 3; ++i) {
        blocks.push_back(arena->allocate(page));
        ASSERT_TRUE(blocks.back());
        std::memset(blocks.back().data, 0xAB, page);
    }
    const uint64_t first = blocks[0].offset;
    ASSERT_EQ(blocks[1].offset, first + page);
    ASSERT_EQ(blocks[2].offset, first + 2 * page);
    // Freed in an order that needs both merges (with the next, then both).
    arena->free(blocks[2]);
    arena->free(blocks[0]);
    arena->free(blocks[1]);
    SharedArena::Block big = arena->allocate(3 * page);
    ASSERT_TRUE(big);
    EXPECT_EQ(big.offset, first) << "the three freed pages are one block again";
    EXPECT_TRUE(all_zero(big.data, big.size)) << "freed pages read as zero when reused";
    arena->free(big);
}

TEST(SharedArena, AnotherMappingOfTheOffsetSeesTheWrites) {
    SharedArena *arena = SharedArena::get();
    ASSERT_NE(arena, nullptr);
    SharedArena::Block b = arena->allocate(100000);
    ASSERT_TRUE(b);
    // What a child does with the inherited descriptor.
    void *other = mmap(nullptr, b.size, PROT_READ | PROT_WRITE, MAP_SHARED, arena->fd(),
                       static_cast<off_t>(b.offset));
    ASSERT_NE(other, MAP_FAILED);
    static_cast<unsigned char *>(b.data)[99999] = 7;
    static_cast<unsigned char *>(other)[0] = 9;
    EXPECT_EQ(static_cast<unsigned char *>(other)[99999], 7);
    EXPECT_EQ(static_cast<unsigned char *>(b.data)[0], 9);
    munmap(other, b.size);
    arena->free(b);
}

TEST(SharedArena, TheFileGrowsForABlockBiggerThanEverythingFree) {
    SharedArena *arena = SharedArena::get();
    ASSERT_NE(arena, nullptr);
    const size_t len = size_t{200} << 20;  // beyond one growth step
    SharedArena::Block b = arena->allocate(len);
    ASSERT_TRUE(b);
    EXPECT_GE(b.size, len);
    static_cast<unsigned char *>(b.data)[len - 1] = 1;  // mapped to its end
    arena->free(b);
}
