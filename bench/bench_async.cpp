// Benchmarks 3 and 7: asynchronous requests on one context.
//
//   3. pipelined: one caller keeps `--window` (1,000) identity calls in flight
//      and refills as completions arrive: completions per second; then the
//      same with request objects resubmitted in batches (submit_many).
//   7. asyncio: `--sleepers` (10,000) concurrent calls of
//      `async def f(): await asyncio.sleep(0.1)` on one context: wall time
//      until the last completes; then the sync round trip p50 of that
//      context, its event loop now idle, against a control context where no
//      coroutine ever ran (interleaved, so both see the same machine load),
//      then the same pair again while one thread of the benchmark's own
//      spins (a defined load). Reported "unavailable" (with the engine's error) if coroutines are not
//      supported.
//
// usage: bench_async [--mode worker|owngil|both] [--part pipelined|asyncio|both]
//                    [--requests N] [--window N] [--sleepers N] [--sync-calls N]
#include "bench_common.hpp"
#include "completions.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

namespace {

using bench::Cbor;

using bench::Completions;
using bench::new_completions;
using bench::on_complete;

using bench::identity_args;

// Benchmark 3.
void bench_pipelined(pyctx_context_t *ctx, const char *mode, uint64_t total, uint64_t window) {
    const Cbor &args = identity_args();
    const double rate = bench::pipelined_per_s(
        [&](Completions &c) {
            bench::die_on(pyctx_call_async(ctx, "pyctx_bench_funcs", "identity", args.data(),
                                           args.size(), nullptr, 0, PYCTX_NO_TIMEOUT,
                                           on_complete, &c, nullptr),
                          "pyctx_call_async");
        },
        total, window);
    bench::emit("pipelined", "call identity, " + std::to_string(window) + " in flight", mode,
                "per_s", rate, "1/s");
}

// Benchmark 3, batched: the same window of identity calls as request
// objects, each resubmitted as soon as it completes, in batches with one
// wake-up per batch (pyctx_request_submit_many). Completed requests come
// back through a lock-free stack their callbacks push to.
class Recycled {
public:
    explicit Recycled(size_t n) : next_(n, kNone), slots_(n) {
        for (size_t i = 0; i < n; ++i) slots_[i] = {this, static_cast<uint32_t>(i)};
    }
    static void on_done(void *user_data, pyctx_request_t *request) {
        auto *slot = static_cast<Slot *>(user_data);
        Recycled &self = *slot->owner;
        if (pyctx_request_error(request) != nullptr) self.failed.fetch_add(1);
        uint32_t head = self.head_.load(std::memory_order_relaxed);
        do {
            self.next_[slot->index] = head;
        } while (!self.head_.compare_exchange_weak(head, slot->index, std::memory_order_release,
                                                   std::memory_order_relaxed));
        self.completed.fetch_add(1, std::memory_order_release);
    }
    // Every request that completed since the last call, appended to `out`.
    void take(std::vector<uint32_t> &out) {
        for (uint32_t i = head_.exchange(kNone, std::memory_order_acquire); i != kNone; i = next_[i])
            out.push_back(i);
    }
    void *user_data(size_t i) { return &slots_[i]; }
    std::atomic<uint64_t> completed{0}, failed{0};

private:
    static constexpr uint32_t kNone = UINT32_MAX;
    struct Slot {
        Recycled *owner;
        uint32_t index;
    };
    std::atomic<uint32_t> head_{kNone};
    std::vector<uint32_t> next_;
    std::vector<Slot> slots_;
};

void bench_pipelined_batched(pyctx_context_t *ctx, const char *mode, uint64_t total,
                             uint64_t window) {
    const Cbor &args = identity_args();
    Recycled recycled(window);
    std::vector<pyctx_request_t *> requests(window);
    for (uint64_t i = 0; i < window; ++i) {
        bench::die_on(pyctx_request_new(&requests[i]), "pyctx_request_new");
        bench::die_on(pyctx_request_set_context(requests[i], ctx), "set_context");
        bench::die_on(pyctx_request_set_call(requests[i], "pyctx_bench_funcs", "identity"),
                      "set_call");
        bench::die_on(pyctx_request_set_args(requests[i], args.data(), args.size()), "set_args");
        bench::die_on(pyctx_request_set_callback(requests[i], &Recycled::on_done,
                                                 recycled.user_data(i), nullptr),
                      "set_callback");
    }
    std::vector<uint32_t> ready;
    std::vector<pyctx_request_t *> batch;
    for (uint32_t i = 0; i < window; ++i) ready.push_back(i);
    uint64_t submitted = 0;
    int64_t t0 = bench::now_ns();
    for (unsigned idle = 0; recycled.completed.load(std::memory_order_acquire) < total;) {
        batch.clear();
        for (uint32_t i : ready) {
            if (submitted == total) break;
            batch.push_back(requests[i]);
            ++submitted;
        }
        ready.clear();
        if (!batch.empty()) {
            bench::die_on(pyctx_request_submit_many(batch.data(), batch.size(), nullptr),
                          "pyctx_request_submit_many");
            idle = 0;
        } else if (++idle % 64 == 0) {
            std::this_thread::yield();
        }
        recycled.take(ready);
    }
    double secs = static_cast<double>(bench::now_ns() - t0) / 1e9;
    if (recycled.failed.load() != 0) bench::die("a batched pipelined call failed");
    for (pyctx_request_t *r : requests) pyctx_request_free(r);
    bench::emit("pipelined",
                "call identity, " + std::to_string(window) + " in flight, submit_many", mode,
                "per_s", static_cast<double>(total) / secs, "1/s");
}

// One sync identity round trip; returns its latency in ns.
double one_sync_call_ns(pyctx_context_t *ctx) {
    const Cbor &args = identity_args();
    int64_t t0 = bench::now_ns();
    pyctx_bytes_t out{};
    bench::die_on(pyctx_call(ctx, "pyctx_bench_funcs", "identity", args.data(), args.size(),
                             nullptr, 0, PYCTX_NO_TIMEOUT, &out),
                  "identity");
    pyctx_bytes_free(&out);
    return static_cast<double>(bench::now_ns() - t0);
}

// p50 of `calls` sync identity round trips on each of `a` and `b`, taken in
// alternating chunks so that both see the same machine load (this machine
// is shared and noisy). Each context gets a warm-up first.
std::pair<double, double> interleaved_p50_ns(pyctx_context_t *a, pyctx_context_t *b,
                                             long calls) {
    const long chunk = 1000;
    std::vector<double> lat_a, lat_b;
    for (long i = 0; i < calls / 10 + 100; ++i) {
        one_sync_call_ns(a);
        one_sync_call_ns(b);
    }
    for (long done = 0; done < calls; done += chunk) {
        const long n = std::min(chunk, calls - done);
        for (long i = 0; i < n; ++i) lat_a.push_back(one_sync_call_ns(a));
        for (long i = 0; i < n; ++i) lat_b.push_back(one_sync_call_ns(b));
    }
    return {bench::percentile(lat_a, 50), bench::percentile(lat_b, 50)};
}

// Benchmark 7 on a fresh context `ctx`; `control` is another fresh context
// of the same mode on which no coroutine ever runs.
void bench_sleepers(pyctx_context_t *ctx, pyctx_context_t *control, const char *mode,
                    uint64_t sleepers, long sync_calls) {
    const std::string case_name = std::to_string(sleepers) + " x asyncio.sleep(0.1)";

    // Probe with one coroutine first: an engine without asyncio support
    // fails it, and we report that once instead of 10,000 times.
    pyctx_bytes_t probe{};
    pyctx_error_t *err = pyctx_call(ctx, "pyctx_bench_funcs", "sleep_100ms", nullptr, 0, nullptr,
                                    0, 30000, &probe);
    if (err != nullptr) {
        bench::emit_unavailable("asyncio", case_name, mode, bench::describe(err));
        pyctx_error_free(err);
        return;
    }
    pyctx_bytes_free(&probe);

    Completions &c = new_completions();
    int64_t t0 = bench::now_ns();
    for (uint64_t i = 0; i < sleepers; ++i) {
        err = pyctx_call_async(ctx, "pyctx_bench_funcs", "sleep_100ms", nullptr, 0, nullptr, 0,
                               30000, on_complete, &c, nullptr);
        if (err != nullptr) {
            bench::emit_unavailable("asyncio", case_name, mode,
                                    "submission failed: " + bench::describe(err));
            pyctx_error_free(err);
            c.wait_for(i);  // the accepted ones still complete
            return;
        }
    }
    c.wait_for(sleepers);
    double wall_s = static_cast<double>(bench::now_ns() - t0) / 1e9;
    if (c.failed.load() != 0) {
        bench::emit_unavailable("asyncio", case_name, mode,
                                std::to_string(c.failed.load()) + " failed, first: " +
                                    c.first_error);
        return;
    }
    bench::emit("asyncio", case_name, mode, "wall_s", wall_s, "s");
    // The loop of `ctx` is idle now: its sync round trip against the control
    // context's, measured in the same time window.
    const auto [idle_ns, control_ns] = interleaved_p50_ns(ctx, control, sync_calls);
    const char *sync_case = "sync call identity, loop idle";
    bench::emit("asyncio", sync_case, mode, "p50_control_ns", control_ns, "ns");
    bench::emit("asyncio", sync_case, mode, "p50_idle_ns", idle_ns, "ns");
    bench::emit("asyncio", sync_case, mode, "idle_ratio", idle_ns / control_ns, "x");

    // The same under a load the benchmark makes itself, so that "loaded" is
    // defined: one thread spinning on a CPU for the whole measurement (on a
    // 2-CPU machine the caller, the context thread and the spinner then
    // share two CPUs).
    std::atomic<bool> stop{false};
    std::thread spinner([&] {
        volatile uint64_t sink = 0;
        while (!stop.load(std::memory_order_relaxed)) sink = sink + 1;
    });
    const auto [idle_l, control_l] = interleaved_p50_ns(ctx, control, sync_calls);
    stop = true;
    spinner.join();
    const char *loaded_case = "sync call identity, loop idle, one spinning thread";
    bench::emit("asyncio", loaded_case, mode, "p50_control_ns", control_l, "ns");
    bench::emit("asyncio", loaded_case, mode, "p50_idle_ns", idle_l, "ns");
    bench::emit("asyncio", loaded_case, mode, "idle_ratio", idle_l / control_l, "x");
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes_arg = args.get_str("--mode", "both");
    const std::string part = args.get_str("--part", "both");
    const long requests = args.get_int("--requests", 1000000);
    const long window = args.get_int("--window", 1000);
    const long sleepers = args.get_int("--sleepers", 10000);
    const long sync_calls = args.get_int("--sync-calls", 50000);
    args.finish();
    if (requests < 1 || window < 1 || sleepers < 1 || sync_calls < 1)
        bench::die("counts must be >= 1");
    if (part != "pipelined" && part != "asyncio" && part != "both")
        bench::die("--part must be pipelined, asyncio or both");

    bench::init_runtime();
    for (pyctx_mode mode : bench::parse_modes(modes_arg)) {
        const char *m = bench::mode_name(mode);
        if (part != "asyncio") {
            pyctx_context_t *ctx = bench::make_bench_context(mode);
            bench_pipelined(ctx, m, static_cast<uint64_t>(requests),
                            static_cast<uint64_t>(window));
            bench_pipelined_batched(ctx, m, static_cast<uint64_t>(requests),
                                    static_cast<uint64_t>(window));
            bench::close_context(ctx);
        }
        if (part != "pipelined") {
            pyctx_context_t *ctx = bench::make_bench_context(mode);  // no event loop ran yet
            pyctx_context_t *control = bench::make_bench_context(mode);
            bench_sleepers(ctx, control, m, static_cast<uint64_t>(sleepers), sync_calls);
            bench::close_context(control);
            bench::close_context(ctx);
        }
    }
    bench::shutdown_runtime();
    return 0;
}
