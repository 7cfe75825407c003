// Python logging forwarded to the host: record fields, levels, contexts
// created before and after the handler (process contexts too), and a slow host: Python never
// waits, records beyond the queue's capacity are dropped and counted.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "pyctx.h"
#include "support/contexts.h"
#include "support/counter.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

struct Rec {
    int level;
    std::string logger, message, exception, context;
};

struct Sink {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Rec> recs;
    bool hold = false;  // the handler blocks while set: a slow host
    bool inside = false;
    int freed = 0;
    Counter seen;
};

void sink_fn(void *ud, const pyctx_log_record_t *r) {
    auto *s = static_cast<Sink *>(ud);
    std::unique_lock<std::mutex> lock(s->mu);
    s->recs.push_back({r->level, r->logger, r->message, r->exception, r->context_name});
    s->inside = true;
    s->cv.notify_all();
    s->cv.wait(lock, [&] { return !s->hold; });
    s->inside = false;
    lock.unlock();
    s->seen.add();
}

void sink_free(void *ud) {
    auto *s = static_cast<Sink *>(ud);
    std::lock_guard<std::mutex> lock(s->mu);
    s->freed++;
}

pyctx_log_stats_t stats() {
    pyctx_log_stats_t st{};
    pyctx_log_stats(&st);
    return st;
}

TEST(Logging, RecordsReachTheHostFromRunningAndNewContexts) {
    Sink sink;
    Context before;
    ContextSpec spec;
    spec.name = "log-before";
    ASSERT_TRUE(IsOk(create_context(before, spec)));
    ASSERT_TRUE(IsOk(pyctx_log_set_handler(sink_fn, &sink, sink_free, 20 /* INFO */, 100)));
    ASSERT_TRUE(exec(before.get(),
                     "import logging\n"
                     "logging.getLogger('app.db').debug('not forwarded')\n"
                     "logging.getLogger('app.db').info('opened %s', 'x.db')\n"
                     "try:\n"
                     "    1 / 0\n"
                     "except ZeroDivisionError:\n"
                     "    logging.getLogger('app').exception('failed')\n")
                    .ok());
    Context after;
    if (pyctx_owngil_supported()) {
        ContextSpec ospec;
        ospec.mode = PYCTX_MODE_OWNGIL;
        ospec.name = "log-after";
        ASSERT_TRUE(IsOk(create_context(after, ospec)));
        ASSERT_TRUE(exec(after.get(), "import logging\nlogging.warning('from owngil')\n").ok());
    }
    ASSERT_TRUE(IsOk(pyctx_log_flush(10000)));
    std::unique_lock<std::mutex> lock(sink.mu);
    ASSERT_GE(sink.recs.size(), 2u);
    EXPECT_EQ(sink.recs[0].level, 20);
    EXPECT_EQ(sink.recs[0].logger, "app.db");
    EXPECT_EQ(sink.recs[0].message, "opened x.db");
    EXPECT_EQ(sink.recs[0].exception, "");
    EXPECT_EQ(sink.recs[0].context, "log-before");
    EXPECT_EQ(sink.recs[1].level, 40);
    EXPECT_EQ(sink.recs[1].message, "failed");
    EXPECT_NE(sink.recs[1].exception.find("ZeroDivisionError"), std::string::npos);
    if (after) {
        ASSERT_EQ(sink.recs.size(), 3u);
        EXPECT_EQ(sink.recs[2].logger, "root");
        EXPECT_EQ(sink.recs[2].message, "from owngil");
        EXPECT_EQ(sink.recs[2].context, "log-after");
    } else {
        EXPECT_EQ(sink.recs.size(), 2u);
    }
    lock.unlock();  // the finalizer takes it
    // Removing the handler finalizes it once; later records go nowhere.
    ASSERT_TRUE(IsOk(pyctx_log_set_handler(nullptr, nullptr, nullptr, 0, 0)));
    lock.lock();
    EXPECT_EQ(sink.freed, 1);
    lock.unlock();
    EXPECT_EQ(eval_text(before.get(), "repr(__import__('pyctx')._log(40, 'x', 'm', '', 0.0))"),
              "False");
}

TEST(Logging, SlowHostDropsAndCountsInsteadOfBlockingPython) {
    Sink sink;
    sink.hold = true;
    constexpr size_t kCapacity = 10, kRecords = 1000;
    ASSERT_TRUE(IsOk(pyctx_log_set_handler(sink_fn, &sink, sink_free, 10, kCapacity)));
    Context ctx;
    ASSERT_TRUE(IsOk(create_context(ctx, PYCTX_MODE_WORKER)));
    pyctx_log_stats_t start = stats();
    // The handler blocks on the first record until released: if Python
    // waited for the host, this request could not finish.
    Outcome o = eval(ctx.get(),
                     "[__import__('logging').getLogger('flood').info('n=%d', i) for i in range(1000)]"
                     " and None");
    ASSERT_TRUE(o.ok()) << o.describe();
    {
        std::unique_lock<std::mutex> lock(sink.mu);
        sink.cv.wait(lock, [&] { return sink.inside; });
        sink.hold = false;
        sink.cv.notify_all();
    }
    ASSERT_TRUE(IsOk(pyctx_log_flush(10000)));
    pyctx_log_stats_t end = stats();
    uint64_t delivered = end.delivered - start.delivered, dropped = end.dropped - start.dropped;
    EXPECT_EQ(delivered + dropped, kRecords);
    EXPECT_EQ(delivered, sink.seen.value());
    // At most one record in the handler plus a full queue got through.
    EXPECT_LE(delivered, kCapacity + 1);
    EXPECT_GE(dropped, kRecords - kCapacity - 1);
    {
        std::lock_guard<std::mutex> lock(sink.mu);
        EXPECT_EQ(sink.recs[0].message, "n=0");  // in order: the first one came first
    }
    ASSERT_TRUE(IsOk(pyctx_log_set_handler(nullptr, nullptr, nullptr, 0, 0)));
}

// A process context's child forwards its records through the context's
// rings to the host's sink: a child started before the handler gets it
// ahead of its next request, one started after with its configuration.
// Records of the child's own Python threads carry no context name, as in
// the other modes; the host's level and queue apply to them as to any.
TEST(Logging, ProcessContextsForwardTheirRecords) {
    Sink sink;
    Context before, after;
    ProcessSpec spec;
    spec.name = "log-child-before";
    ASSERT_TRUE(IsOk(create_process_context(before, spec)));
    pyctx_log_stats_t start = stats();
    ASSERT_TRUE(IsOk(pyctx_log_set_handler(sink_fn, &sink, sink_free, 20 /* INFO */, 100)));
    ASSERT_TRUE(exec(before.get(),
                     "import logging, threading\n"
                     "logging.getLogger('child.db').debug('not forwarded')\n"
                     "logging.getLogger('child.db').info('opened %s', 'y.db')\n"
                     "try:\n"
                     "    1 / 0\n"
                     "except ZeroDivisionError:\n"
                     "    logging.getLogger('child').exception('failed')\n"
                     "t = threading.Thread(target=logging.warning, args=('from a thread',))\n"
                     "t.start(); t.join()\n")
                    .ok());
    spec.name = "log-child-after";
    ASSERT_TRUE(IsOk(create_process_context(after, spec)));
    ASSERT_TRUE(exec(after.get(), "import logging\nlogging.error('after %d', 2)\n").ok());
    ASSERT_TRUE(IsOk(pyctx_log_flush(10000)));
    {
        std::lock_guard<std::mutex> lock(sink.mu);
        std::string got;
        for (const Rec &r : sink.recs) got += r.context + "/" + r.logger + "/" + r.message + "; ";
        ASSERT_EQ(sink.recs.size(), 4u) << got;
        EXPECT_EQ(sink.recs[0].level, 20);
        EXPECT_EQ(sink.recs[0].logger, "child.db");
        EXPECT_EQ(sink.recs[0].message, "opened y.db");
        EXPECT_EQ(sink.recs[0].context, "log-child-before");
        EXPECT_EQ(sink.recs[1].level, 40);
        EXPECT_EQ(sink.recs[1].message, "failed");
        EXPECT_NE(sink.recs[1].exception.find("ZeroDivisionError"), std::string::npos);
        EXPECT_EQ(sink.recs[2].message, "from a thread");
        EXPECT_EQ(sink.recs[2].context, "");
        EXPECT_EQ(sink.recs[3].message, "after 2");
        EXPECT_EQ(sink.recs[3].logger, "root");
        EXPECT_EQ(sink.recs[3].context, "log-child-after");
    }
    EXPECT_EQ(stats().delivered - start.delivered, 4u);
    ASSERT_TRUE(IsOk(pyctx_log_set_handler(nullptr, nullptr, nullptr, 0, 0)));
    // The removal reaches the child too: nothing more is forwarded.
    ASSERT_TRUE(exec(after.get(), "import logging\nlogging.error('not sent')\n").ok());
    ASSERT_TRUE(IsOk(pyctx_log_flush(10000)));
    std::lock_guard<std::mutex> lock(sink.mu);
    EXPECT_EQ(sink.recs.size(), 4u);
}

TEST(Logging, BadArguments) {
    Sink sink;
    EXPECT_TRUE(FailsWith(pyctx_log_set_handler(sink_fn, &sink, nullptr, 10, 0),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_log_set_handler(sink_fn, &sink, nullptr, -1, 10),
                          PYCTX_ERR_INVALID_ARGUMENT));
    EXPECT_TRUE(FailsWith(pyctx_log_set_handler(nullptr, &sink, nullptr, 0, 0),
                          PYCTX_ERR_INVALID_ARGUMENT));
    pyctx_log_stats(nullptr);  // accepted, does nothing
}

} // namespace
