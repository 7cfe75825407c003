// Process contexts, where the child's output goes
// (pyctx_context_options_set_process_output): with the "log" option each
// line of its stdout and stderr becomes a record for the host's log handler
// (logger, level, the context's name), output without a final newline
// arrives when the child ends, what a dying child wrote arrives too, and
// with no handler the lines reach the host's stderr. An unknown value is
// refused.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pyctx.h"
#include "support/contexts.h"
#include "support/handles.h"
#include "support/process.h"
#include "support/runtime_env.h"

using namespace pyctx_test;

static auto *const g_runtime = install_runtime();

namespace {

struct Rec {
    int level;
    std::string logger, message, context;
};

// The host's log handler for one test: records kept, waited for by content.
struct Records {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Rec> all;

    static void fn(void *ud, const pyctx_log_record_t *r) {
        auto *self = static_cast<Records *>(ud);
        std::lock_guard lock(self->mu);
        self->all.push_back({r->level, r->logger, r->message, r->context_name});
        self->cv.notify_all();
    }
    // The first record with `message` (20 s at most).
    std::optional<Rec> wait_for(const std::string &message) {
        std::unique_lock lock(mu);
        std::optional<Rec> found;
        cv.wait_for(lock, std::chrono::seconds(20), [&] {
            for (const Rec &r : all)
                if (r.message == message) found = r;
            return found.has_value();
        });
        return found;
    }
};

class ProcessOutput : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(IsOk(pyctx_log_set_handler(Records::fn, &records_, nullptr, 10, 1000)));
    }
    void TearDown() override {
        ctx_.reset();
        EXPECT_TRUE(IsOk(pyctx_log_set_handler(nullptr, nullptr, nullptr, 0, 1)));
    }
    pyctx_error_t *create(const char *name, uint32_t restarts = 0) {
        ContextOptions options(pyctx_context_options_new());
        if (auto *e = pyctx_context_options_set_mode(options.get(), PYCTX_MODE_PROCESS)) return e;
        if (auto *e = pyctx_context_options_set_name(options.get(), name)) return e;
        if (auto *e = pyctx_context_options_set_restart(options.get(), restarts, 0)) return e;
        if (auto *e = pyctx_context_options_set_process_output(options.get(),
                                                               PYCTX_PROCESS_OUTPUT_LOG))
            return e;
        pyctx_context_t *raw = nullptr;
        if (auto *e = pyctx_context_create(options.get(), &raw)) return e;
        ctx_.reset(raw);
        return nullptr;
    }
    Records records_;
    Context ctx_;
};

}  // namespace

TEST_F(ProcessOutput, EachLineIsARecordWithItsStreamLevelAndContext) {
    ASSERT_TRUE(IsOk(create("out-proc")));
    ASSERT_TRUE(exec(ctx_.get(),
                     "import sys\n"
                     "print('hello from the child', flush=True)\n"
                     "print('first', 'line', sep=' ', file=sys.stderr)\n"
                     "sys.stderr.write('second line\\nthird line\\n')\n")
                    .ok());
    auto out = records_.wait_for("hello from the child");
    ASSERT_TRUE(out);
    EXPECT_EQ(out->logger, "pyctx.process.stdout");
    EXPECT_EQ(out->level, 20);
    EXPECT_EQ(out->context, "out-proc");
    for (const char *line : {"first line", "second line", "third line"}) {
        auto err = records_.wait_for(line);
        ASSERT_TRUE(err) << line;
        EXPECT_EQ(err->logger, "pyctx.process.stderr");
        EXPECT_EQ(err->level, 30);
        EXPECT_EQ(err->context, "out-proc");
    }
}

TEST_F(ProcessOutput, OutputWithoutANewlineAndADyingChildsLastWordsArrive) {
    ASSERT_TRUE(IsOk(create("dying-proc", 1)));
    ASSERT_TRUE(exec(ctx_.get(), "import sys; sys.stdout.write('no newline'); sys.stdout.flush()")
                    .ok());
    Outcome o = exec(ctx_.get(), "import os, sys\n"
                                 "sys.stderr.write('about to die\\n')\n"
                                 "os._exit(3)\n");
    EXPECT_EQ(o.status(), PYCTX_ERR_CRASHED) << o.describe();
    auto last = records_.wait_for("about to die");
    ASSERT_TRUE(last);
    EXPECT_EQ(last->logger, "pyctx.process.stderr");
    // The partial line came with the child's end.
    auto partial = records_.wait_for("no newline");
    ASSERT_TRUE(partial);
    EXPECT_EQ(partial->logger, "pyctx.process.stdout");
    // The restarted child's output is relayed as well.
    ASSERT_TRUE(exec(ctx_.get(), "print('after the restart', flush=True)").ok());
    EXPECT_TRUE(records_.wait_for("after the restart"));
}

TEST(ProcessOutputNoHandler, LinesGoToTheHostsStderr) {
    // The host's stderr is a file for the length of this case.
    char path[] = "/tmp/pyctx-test-stderr-XXXXXX";
    int file = mkstemp(path);
    ASSERT_GE(file, 0);
    unlink(path);
    std::fflush(stderr);
    int saved = dup(2);
    ASSERT_GE(saved, 0);
    ASSERT_EQ(dup2(file, 2), 2);
    {
        ContextOptions options(pyctx_context_options_new());
        ASSERT_TRUE(IsOk(pyctx_context_options_set_mode(options.get(), PYCTX_MODE_PROCESS)));
        ASSERT_TRUE(IsOk(
            pyctx_context_options_set_process_output(options.get(), PYCTX_PROCESS_OUTPUT_LOG)));
        pyctx_context_t *raw = nullptr;
        ASSERT_TRUE(IsOk(pyctx_context_create(options.get(), &raw)));
        Context ctx(raw);
        EXPECT_TRUE(exec(ctx.get(), "print('nobody listens', flush=True)").ok());
        ASSERT_TRUE(IsOk(pyctx_context_close(ctx.get(), 10000)));
    }
    // The relay writes from its own thread: read until the line is there
    // (20 s at most), then give the host its stderr back.
    std::string text;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (text.find("nobody listens\n") == std::string::npos &&
           std::chrono::steady_clock::now() < until) {
        text.clear();
        char buf[4096];
        ssize_t n;
        for (off_t at = 0; (n = pread(file, buf, sizeof buf, at)) > 0; at += n)
            text.append(buf, static_cast<size_t>(n));
        std::this_thread::yield();
    }
    ASSERT_EQ(dup2(saved, 2), 2);
    close(saved);
    close(file);
    EXPECT_NE(text.find("nobody listens\n"), std::string::npos) << text;
}

TEST(ProcessOutputOption, AnUnknownValueIsRefused) {
    ContextOptions options(pyctx_context_options_new());
    Error e(pyctx_context_options_set_process_output(options.get(),
                                                     static_cast<pyctx_process_output>(7)));
    ASSERT_NE(e.get(), nullptr);
    EXPECT_EQ(pyctx_error_status(e.get()), PYCTX_ERR_INVALID_ARGUMENT);
    EXPECT_NE(describe(e.get()).find("unknown process output 7"), std::string::npos)
        << describe(e.get());
    Error null_options(pyctx_context_options_set_process_output(nullptr, PYCTX_PROCESS_OUTPUT_LOG));
    EXPECT_EQ(pyctx_error_status(null_options.get()), PYCTX_ERR_INVALID_ARGUMENT);
}
