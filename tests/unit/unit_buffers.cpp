// The Python-free half of borrowed buffers (core/request/buffers.h,
// buffer_layout.h): the loan ends exactly once, with the last reference,
// whoever holds it (handles, attachments, leases); a python-view buffer
// goes back to its ledger instead; shutdown ends leaked leases; layouts are
// checked against the memory.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/request/buffers.h"

using namespace pyctx::core;

namespace {

std::atomic<int> g_finalized{0};
void count_finalizer(void *user) {
    g_finalized.fetch_add(1);
    static_cast<std::atomic<int> *>(user)->fetch_add(1);
}

TEST(Buffer, TheLoanEndsOnceWithTheLastReference) {
    std::vector<uint8_t> mem(32);
    std::atomic<int> calls{0};
    Buffer *b = Buffer::lend(mem.data(), mem.size(), false, count_finalizer, &calls);
    AttachedBuffers attached;
    EXPECT_EQ(attached.add(b), 0u);
    EXPECT_EQ(attached.add(b), 1u);
    EXPECT_TRUE(b->frozen());
    b->lease();  // a Python view
    b->release();  // the host's handle
    attached.clear();
    EXPECT_EQ(calls.load(), 0);  // the view still holds it
    ASSERT_TRUE(b->end_lease());
    EXPECT_FALSE(b->release_if_shared());  // the last one: not dropped here
    EXPECT_EQ(calls.load(), 0);
    b->release();
    EXPECT_EQ(calls.load(), 1);
}

TEST(Buffer, ManyThreadsDropReferencesAndTheLoanEndsOnce) {
    std::vector<uint8_t> mem(8);
    std::atomic<int> calls{0};
    Buffer *b = Buffer::lend(mem.data(), mem.size(), true, count_finalizer, &calls);
    constexpr int kThreads = 4, kEach = 2000;
    for (int i = 0; i < kThreads * kEach; ++i) b->retain();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([b] {
            for (int i = 0; i < kEach; ++i) {
                if (i % 2) {
                    b->release();
                } else if (!b->release_if_shared()) {
                    b->release();
                }
            }
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(calls.load(), 0);
    b->release();
    EXPECT_EQ(calls.load(), 1);
}

TEST(Buffer, AttachedBuffersHandOutReferencesUntilCleared) {
    std::atomic<int> calls{0};
    Buffer *b = Buffer::allocate(100);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % Buffer::kAlignment, 0u);
    EXPECT_EQ(b->memory(), Buffer::Memory::library);
    EXPECT_FALSE(b->readonly());
    Buffer *h = Buffer::lend(nullptr, 0, false, count_finalizer, &calls);
    AttachedBuffers a, copy;
    a.add(b);
    a.add(h);
    b->release();
    h->release();
    ASSERT_TRUE(copy.copy_from(a));
    a.clear();
    size_t count = 0;
    Buffer *got = copy.get(1, &count);
    ASSERT_EQ(got, h);
    EXPECT_EQ(count, 2u);
    EXPECT_EQ(copy.get(2, &count), nullptr);
    copy.clear();
    EXPECT_EQ(calls.load(), 0);  // `got` still holds it
    got->release();
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(copy.get(0, &count), nullptr);
    EXPECT_EQ(count, 0u);
}

TEST(Buffer, APythonViewGoesBackToItsLedger) {
    auto ledger = std::make_shared<BufferLedger>();
    std::atomic<int> wakes{0};
    ledger->set_waker([&] { wakes.fetch_add(1); });
    BufferLayout l;
    ASSERT_TRUE(layout_1d("d", 64, &l).ok());
    int hold = 0;
    Buffer *b = Buffer::python_view(&hold, true, l, &hold, ledger);
    EXPECT_EQ(ledger->held(), 1u);
    EXPECT_EQ(b->size(), 64u);
    uint32_t seen = ledger->changes().load();
    b->release();
    EXPECT_EQ(wakes.load(), 1);
    EXPECT_NE(ledger->changes().load(), seen);
    ASSERT_TRUE(ledger->has_releases());
    std::vector<Buffer *> done = ledger->take_releases();
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0]->hold(), &hold);
    Buffer::discard(done[0]);
    ledger->released(1);
    EXPECT_EQ(ledger->held(), 0u);
    EXPECT_FALSE(ledger->has_releases());
}

TEST(Buffer, ShutdownEndsLeakedLeases) {
    std::vector<uint8_t> mem(8);
    std::atomic<int> calls{0};
    Buffer *b = Buffer::lend(mem.data(), mem.size(), false, count_finalizer, &calls);
    b->lease();
    b->lease();
    b->release();  // the handle: two leases left, never ended by "Python"
    EXPECT_EQ(Buffer::end_leaked_leases(), 1u);
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(Buffer::end_leaked_leases(), 0u);
}

TEST(BufferLayout, FormatsShapesAndStrides) {
    std::string problem;
    EXPECT_EQ(format_itemsize("d", &problem), 8u);
    EXPECT_EQ(format_itemsize("<i", &problem), 4u);
    EXPECT_EQ(format_itemsize("=l", &problem), 4u);  // standard size
    EXPECT_EQ(format_itemsize("l", &problem), sizeof(long));
    EXPECT_EQ(format_itemsize("Zd", &problem), 16u);
    EXPECT_EQ(format_itemsize("!N", &problem), 0u);
    EXPECT_NE(problem.find("'N' has no standard size"), std::string::npos) << problem;

    BufferLayout l;
    const int64_t shape[] = {3, 4};
    ASSERT_TRUE(layout_nd("h", 2, shape, nullptr, 24, &l).ok());
    EXPECT_EQ(l.strides, (std::vector<int64_t>{8, 2}));
    EXPECT_TRUE(l.c_contiguous);
    EXPECT_FALSE(l.f_contiguous);
    EXPECT_EQ(l.element_bytes(), 24u);
    const int64_t fortran[] = {2, 6};
    ASSERT_TRUE(layout_nd("h", 2, shape, fortran, 24, &l).ok());
    EXPECT_FALSE(l.c_contiguous);
    EXPECT_TRUE(l.f_contiguous);
    const int64_t empty_shape[] = {0, 5};
    ASSERT_TRUE(layout_nd("d", 2, empty_shape, nullptr, 0, &l).ok());
    EXPECT_EQ(l.element_bytes(), 0u);
    const int64_t huge[] = {INT64_MAX, INT64_MAX};
    Error e = layout_nd("d", 2, huge, nullptr, 0, &l);
    EXPECT_EQ(e.status, Status::invalid_argument);
    EXPECT_NE(e.message.find("overflows"), std::string::npos) << e.message;
    const int64_t big_strides[] = {INT64_MAX, 1};
    e = layout_nd("B", 2, shape, big_strides, 100, &l);
    EXPECT_NE(e.message.find("overflow"), std::string::npos) << e.message;
}

}  // namespace
