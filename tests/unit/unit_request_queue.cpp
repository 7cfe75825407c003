// core/engine/request_queue: FIFO order, the capacity bound (control
// messages exempt), close / close_control, the running stack, tasks, find by
// id in all three places, take_all, and who holds which reference.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/engine/request_queue.h"

namespace pyctx::unit {
namespace {

using core::Request;
using core::RequestKind;
using core::RequestQueue;
using Push = RequestQueue::Push;

// Requests owned by the test (never freed through release): the test holds
// one reference each and checks the counts the queue adds or moves.
struct Pile {
    std::vector<std::unique_ptr<Request>> all;
    Request *make(uint64_t id, RequestKind kind = RequestKind::call) {
        all.push_back(std::make_unique<Request>());
        all.back()->id = id;
        all.back()->kind = kind;
        return all.back().get();
    }
};

TEST(RequestQueue, PopsInFifoOrderAndMovesUserRequestsToRunning) {
    RequestQueue q(0);
    Pile p;
    EXPECT_FALSE(q.has_work());
    EXPECT_EQ(q.pop_to_running(), nullptr);
    for (uint64_t id = 1; id <= 100; ++id) ASSERT_EQ(q.push(p.make(id)), Push::ok);
    EXPECT_TRUE(q.has_work());
    EXPECT_EQ(q.depth(), 100u);
    for (uint64_t id = 1; id <= 100; ++id) {
        Request *r = q.pop_to_running();
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(r->id, id);
        EXPECT_EQ(r->next, nullptr);
        EXPECT_EQ(q.depth(), 100 - id);
        EXPECT_EQ(q.end_running(r), 0u);
    }
    EXPECT_FALSE(q.has_work());
    EXPECT_EQ(q.pop_to_running(), nullptr);
}

TEST(RequestQueue, CapacityBoundsUserRequestsButNotControlMessages) {
    RequestQueue q(3);
    Pile p;
    for (uint64_t id = 1; id <= 3; ++id) ASSERT_EQ(q.push(p.make(id)), Push::ok);
    EXPECT_EQ(q.push(p.make(4)), Push::full);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(q.push_control(p.make(0, RequestKind::control)));
    EXPECT_EQ(q.depth(), 13u);
    EXPECT_EQ(q.push(p.make(5)), Push::full) << "control messages do not free user room";
    // Popping a user request frees one place; popping control frees none.
    Request *first = q.pop_to_running();
    ASSERT_EQ(first->id, 1u);
    q.end_running(first);
    EXPECT_EQ(q.push(p.make(6)), Push::ok);
    EXPECT_EQ(q.push(p.make(7)), Push::full);
    // Order is kept across kinds: 2, 3, ten controls, 6.
    std::vector<uint64_t> order;
    while (Request *r = q.pop_to_running()) {
        order.push_back(r->is_control() ? 0 : r->id);
        if (!r->is_control()) q.end_running(r);
    }
    std::vector<uint64_t> want = {2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6};
    EXPECT_EQ(order, want);
    EXPECT_EQ(q.push(p.make(8)), Push::ok);
}

TEST(RequestQueue, PushBatchStopsAtTheFirstRequestThatDoesNotFit) {
    RequestQueue q(5);
    Pile p;
    ASSERT_EQ(q.push(p.make(1)), Push::ok);
    ASSERT_TRUE(q.push_control(p.make(0, RequestKind::control)));
    Request *batch[6];
    for (uint64_t i = 0; i < 6; ++i) batch[i] = p.make(10 + i);
    size_t pushed = 99;
    EXPECT_EQ(q.push_batch(batch, 6, &pushed), Push::full);
    EXPECT_EQ(pushed, 4u) << "room for four beside the one queued (control is exempt)";
    EXPECT_EQ(q.depth(), 6u);
    std::vector<uint64_t> order;
    while (Request *r = q.pop_to_running()) {
        order.push_back(r->is_control() ? 0 : r->id);
        if (!r->is_control()) q.end_running(r);
    }
    EXPECT_EQ(order, (std::vector<uint64_t>{1, 0, 10, 11, 12, 13}));
    EXPECT_EQ(q.push_batch(batch + 4, 2, &pushed), Push::ok);
    EXPECT_EQ(pushed, 2u);
    EXPECT_EQ(q.push_batch(batch, 0, &pushed), Push::ok);
    EXPECT_EQ(pushed, 0u);
    q.close();
    EXPECT_EQ(q.push_batch(batch, 2, &pushed), Push::closed);
    EXPECT_EQ(pushed, 0u);
}

TEST(RequestQueue, CloseRefusesUserRequestsAndCloseControlRefusesControl) {
    RequestQueue q(0);
    Pile p;
    ASSERT_EQ(q.push(p.make(1)), Push::ok);
    EXPECT_FALSE(q.is_closed());
    EXPECT_TRUE(q.close());
    EXPECT_FALSE(q.close()) << "only the first close() reports closing";
    EXPECT_TRUE(q.is_closed());
    EXPECT_EQ(q.push(p.make(2)), Push::closed);
    EXPECT_TRUE(q.push_control(p.make(0, RequestKind::control))) << "control outlives close()";
    q.close_control();
    EXPECT_FALSE(q.push_control(p.make(0, RequestKind::control)));
    // What was accepted before still comes out.
    Request *r = q.pop_to_running();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->id, 1u);
    q.end_running(r);
    r = q.pop_to_running();
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->is_control());
    EXPECT_EQ(q.pop_to_running(), nullptr);
}

TEST(RequestQueue, FindSeesQueuedRunningAndTasksButNeverControl) {
    RequestQueue q(0);
    Pile p;
    Request *queued = p.make(10);
    Request *running = p.make(20);
    Request *task = p.make(30);
    Request *control = p.make(40, RequestKind::control);
    ASSERT_EQ(q.push(running), Push::ok);
    ASSERT_EQ(q.pop_to_running(), running);
    ASSERT_EQ(q.push(queued), Push::ok);
    ASSERT_TRUE(q.push_control(control));
    q.add_task(task);
    EXPECT_EQ(task->refs.load(), 2u) << "the task registry keeps its own reference";

    for (Request *r : {queued, running, task}) {
        const uint32_t before = r->refs.load();
        Request *found = q.find(r->id);
        EXPECT_EQ(found, r) << r->id;
        EXPECT_EQ(r->refs.load(), before + 1) << "find returns a retained reference";
        r->release();
    }
    EXPECT_EQ(q.find(40), nullptr) << "control messages are not requests";
    EXPECT_EQ(q.find(99), nullptr);

    // A taken task is no longer found; its registry reference moves out.
    EXPECT_EQ(q.take_task(30), task);
    EXPECT_EQ(q.take_task(30), nullptr);
    EXPECT_EQ(q.find(30), nullptr);
    task->release();
    EXPECT_EQ(task->refs.load(), 1u);
    // Once it stops running, a request is not found either.
    EXPECT_EQ(q.end_running(running), 0u);
    EXPECT_EQ(q.find(20), nullptr);
}

TEST(RequestQueue, RunningIsAStackOfNestedRequests) {
    RequestQueue q(0);
    Pile p;
    Request *outer = p.make(1);
    Request *inner = p.make(2);
    Request *innermost = p.make(3);
    ASSERT_EQ(q.push(outer), Push::ok);
    ASSERT_EQ(q.pop_to_running(), outer);
    q.push_running(inner);  // a host function called back in
    q.push_running(innermost);
    EXPECT_FALSE(q.mark_interrupt(1)) << "only the innermost request may be interrupted";
    EXPECT_FALSE(q.mark_interrupt(2));
    innermost->host_waiting.store(true);
    EXPECT_FALSE(q.mark_interrupt(3)) << "not while it waits for a host answer";
    innermost->host_waiting.store(false);
    EXPECT_TRUE(q.mark_interrupt(3));
    EXPECT_EQ(innermost->interrupt_posted.load(), 1);
    EXPECT_EQ(outer->interrupt_posted.load(), 0);

    std::vector<Request *> snapshot;
    q.running_retained(snapshot);
    ASSERT_EQ(snapshot.size(), 3u);
    for (Request *r : snapshot) {
        EXPECT_EQ(r->refs.load(), 2u);
        r->release();
    }
    // Ending out of order (a request completed by someone else) is allowed.
    EXPECT_EQ(q.end_running(inner), 3u);
    EXPECT_EQ(q.end_running(innermost), 1u);
    EXPECT_EQ(q.end_running(outer), 0u);
    EXPECT_FALSE(q.mark_interrupt(1));
}

TEST(RequestQueue, TakeAllMovesQueuedReferencesAndCopiesTasks) {
    RequestQueue q(2);
    Pile p;
    Request *a = p.make(1);
    Request *b = p.make(2);
    Request *c = p.make(0, RequestKind::control);
    Request *t = p.make(3);
    ASSERT_EQ(q.push(a), Push::ok);
    ASSERT_TRUE(q.push_control(c));
    ASSERT_EQ(q.push(b), Push::ok);
    q.add_task(t);
    std::vector<Request *> queued, tasks;
    q.take_all(queued, tasks);
    EXPECT_EQ(queued, (std::vector<Request *>{a, c, b}));
    EXPECT_EQ(tasks, (std::vector<Request *>{t}));
    EXPECT_EQ(a->refs.load(), 1u) << "queued references move, nothing added";
    EXPECT_EQ(t->refs.load(), 3u) << "tasks: the registry keeps its own, the caller gets one";
    EXPECT_EQ(a->next, nullptr);
    EXPECT_EQ(c->next, nullptr);
    EXPECT_FALSE(q.has_work());
    EXPECT_EQ(q.depth(), 0u);
    EXPECT_EQ(q.pop_to_running(), nullptr);
    // The bound is free again.
    EXPECT_EQ(q.push(p.make(4)), Push::ok);
    EXPECT_EQ(q.push(p.make(5)), Push::ok);
    EXPECT_EQ(q.push(p.make(6)), Push::full);
    t->release();
    EXPECT_EQ(q.take_task(3), t);
    t->release();
}

}  // namespace
}  // namespace pyctx::unit
