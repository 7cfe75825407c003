// What the pipelined benchmarks share: the identity call's arguments,
// counting completions from the library's callbacks, and a caller that polls
// for them.
#pragma once

#include "bench_common.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace bench {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Completion bookkeeping shared with the callbacks (library threads).
struct Completions {
    std::atomic<uint64_t> done{0};
    std::atomic<uint64_t> failed{0};
    std::mutex first_error_mu;
    std::string first_error;  // describe() of the first failed result

    void record(pyctx_result_t *result) {
        if (pyctx_result_status(result) != PYCTX_OK) {
            if (failed.fetch_add(1) == 0) {
                std::lock_guard<std::mutex> lock(first_error_mu);
                first_error = describe(pyctx_result_error(result));
            }
        }
        pyctx_result_free(result);
        done.fetch_add(1, std::memory_order_release);
    }

    // Polls until at least `target` requests have completed. The waiter
    // polls instead of sleeping so that completions never pay for waking it
    // (a futex wake per completion would cost more than the request).
    void wait_for(uint64_t target) const {
        for (unsigned spins = 0; done.load(std::memory_order_acquire) < target; ++spins) {
            if (spins % 256 == 255)
                std::this_thread::yield();  // let others run on a busy machine
            else
                cpu_relax();
        }
    }
};

// A callback may still be running after the waiter saw the last completion,
// so Completions live until exit (after pyctx_shutdown(), which waits for
// every callback) rather than on the stack.
inline Completions &new_completions() {
    static std::deque<Completions> all;
    return all.emplace_back();
}

// The pyctx_completion_fn of every pipelined benchmark: user data is a
// Completions.
inline void on_complete(void *user_data, uint64_t, pyctx_result_t *result) {
    static_cast<Completions *>(user_data)->record(result);
}

// The arguments of the identity call the pipelined benchmarks make: [2.0].
inline const Cbor &identity_args() {
    static const Cbor args = make_cbor([](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 1) || pyctx_cbor_write_float(w, 2.0);
    });
    return args;
}

// Submits `total` requests with `submit(c)`, keeping `window` in flight,
// and returns completions per second. `submit` sends one request that
// completes into `c` (with on_complete).
template <class Submit>
double pipelined_per_s(Submit &&submit, uint64_t total, uint64_t window) {
    Completions &c = new_completions();
    uint64_t submitted = 0;
    const int64_t t0 = now_ns();
    while (submitted < total) {
        const uint64_t done = c.done.load(std::memory_order_acquire);
        while (submitted < total && submitted - done < window) {
            submit(c);
            ++submitted;
        }
        if (submitted < total) c.wait_for(done + 1);
    }
    c.wait_for(total);
    const double secs = static_cast<double>(now_ns() - t0) / 1e9;
    if (c.failed.load() != 0) die("a pipelined request failed: " + c.first_error);
    return static_cast<double>(total) / secs;
}

}  // namespace bench
