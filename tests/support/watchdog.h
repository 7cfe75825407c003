// Fails fast instead of hanging: a test that waits on the library arms a
// Watchdog; if it is still armed when the guard expires the process aborts
// with a message naming the test (ctest would otherwise wait minutes).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <unistd.h>

namespace pyctx_test {

class Watchdog {
public:
    explicit Watchdog(std::chrono::milliseconds guard = std::chrono::seconds(30)) {
        const ::testing::TestInfo *info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "?";
        thread_ = std::thread([this, guard, name] {
            std::unique_lock<std::mutex> lock(mu_);
            if (!cv_.wait_for(lock, guard, [this] { return disarmed_; })) {
                std::fprintf(stderr, "watchdog: %s still waiting after %lld ms, aborting\n",
                             name.c_str(), static_cast<long long>(guard.count()));
                dump_stacks();
                std::abort();
            }
        });
    }
    Watchdog(const Watchdog &) = delete;
    Watchdog &operator=(const Watchdog &) = delete;
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            disarmed_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

private:
    // Every thread's stack to stderr, when gdb is there (a hang in CI is
    // then diagnosable from its log). PYCTX_WATCHDOG_NO_GDB=1 skips it.
    static void dump_stacks() {
        if (std::getenv("PYCTX_WATCHDOG_NO_GDB")) return;
        if (std::system("command -v gdb >/dev/null 2>&1") != 0) return;
        std::fflush(stderr);
        const std::string cmd = "gdb -p " + std::to_string(::getpid()) +
                                " -batch -nx -ex 'thread apply all bt' 1>&2 2>/dev/null";
        int rc = std::system(cmd.c_str());
        (void)rc;
    }

    std::mutex mu_;
    std::condition_variable cv_;
    bool disarmed_ = false;
    std::thread thread_;
};

} // namespace pyctx_test
