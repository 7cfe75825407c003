// Pool overhead: the same total work through a pool of N members and over N
// hand-managed contexts, interleaved in rounds within one run so every case
// sees the same machine load.
//
//   pipelined: one caller keeps `--window` identity calls in flight over N
//     contexts (hand: pyctx_call_async in turn over the N; pool:
//     pyctx_pool_call_async, least queued and round robin): completions per
//     second, median over `--rounds`, and each pool case's ratio to hand.
//   sync: one caller's sync identity round trips (hand: pyctx_call in turn
//     over the N, and always on one; pool: pyctx_pool_call, least queued):
//     p50s, and the pool's ratio to the one awake context (its overhead).
//
// usage: bench_pool [--mode worker|owngil|both] [--n N] [--requests R]
//                   [--window W] [--rounds K] [--sync-calls S]
#include "bench_common.hpp"
#include "completions.hpp"


#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <thread>

namespace {

using bench::Cbor;
using bench::Completions;
using bench::new_completions;
using bench::on_complete;

using bench::identity_args;
using bench::pipelined_per_s;

// `submit(c)` sends one identity call completing into `c`.
using Submit = std::function<void(Completions &)>;

double median(std::vector<double> v) { return bench::percentile(v, 50); }

pyctx_pool_t *make_pool(pyctx_mode mode, size_t n, pyctx_pool_routing routing) {
    pyctx_context_options_t *m = pyctx_context_options_new();
    pyctx_pool_options_t *o = pyctx_pool_options_new();
    if (!m || !o) bench::die("out of memory");
    bench::die_on(pyctx_context_options_set_mode(m, mode), "set_mode");
    bench::die_on(pyctx_context_options_set_preload(m, "import math, pyctx_bench_funcs"),
                  "set_preload");
    bench::die_on(pyctx_pool_options_set_member_options(o, m), "set_member_options");
    bench::die_on(pyctx_pool_options_set_size(o, n), "set_size");
    bench::die_on(pyctx_pool_options_set_routing(o, routing), "set_routing");
    pyctx_pool_t *pool = nullptr;
    bench::die_on(pyctx_pool_create(o, &pool), "pyctx_pool_create");
    pyctx_pool_options_free(o);
    pyctx_context_options_free(m);
    return pool;
}

void run_mode(pyctx_mode mode, size_t n, uint64_t requests, uint64_t window, long rounds,
              long sync_calls) {
    const char *mode_s = bench::mode_name(mode);
    const Cbor &args = identity_args();
    std::vector<pyctx_context_t *> hand;
    for (size_t i = 0; i < n; ++i) hand.push_back(bench::make_bench_context(mode));
    pyctx_pool_t *lq = make_pool(mode, n, PYCTX_POOL_LEAST_QUEUED);
    pyctx_pool_t *rr = make_pool(mode, n, PYCTX_POOL_ROUND_ROBIN);

    size_t turn = 0;
    Submit by_hand = [&](Completions &c) {
        pyctx_context_t *ctx = hand[turn++ % n];
        bench::die_on(pyctx_call_async(ctx, "pyctx_bench_funcs", "identity", args.data(),
                                       args.size(), nullptr, 0, PYCTX_NO_TIMEOUT, on_complete,
                                       &c, nullptr),
                      "pyctx_call_async");
    };
    auto through = [&](pyctx_pool_t *pool) -> Submit {
        return [&, pool](Completions &c) {
            bench::die_on(pyctx_pool_call_async(pool, "pyctx_bench_funcs", "identity",
                                                args.data(), args.size(), nullptr, 0,
                                                PYCTX_NO_TIMEOUT, on_complete, &c, nullptr),
                          "pyctx_pool_call_async");
        };
    };
    Submit by_lq = through(lq), by_rr = through(rr);

    // Warm-up of every path, then the interleaved rounds.
    for (Submit *s : std::initializer_list<Submit *>{&by_hand, &by_lq, &by_rr}) pipelined_per_s(*s, window * 2, window);
    // Each round runs the three cases in a rotated order, so none always
    // follows the same one; a ratio is the median of the rounds' own ratios
    // (pool ÷ hand within one round), which a slow spell of the machine
    // spanning a round moves far less than it moves the rates.
    std::vector<double> hand_s, lq_s, rr_s, lq_ratio, rr_ratio;
    const uint64_t per_round = std::max<uint64_t>(requests / rounds, window);
    for (long r = 0; r < rounds; ++r) {
        double rate[3];
        const Submit *cases[3] = {&by_hand, &by_lq, &by_rr};
        for (int k = 0; k < 3; ++k) {
            const int c = static_cast<int>((r + k) % 3);
            rate[c] = pipelined_per_s(*cases[c], per_round, window);
        }
        hand_s.push_back(rate[0]);
        lq_s.push_back(rate[1]);
        rr_s.push_back(rate[2]);
        lq_ratio.push_back(rate[1] / rate[0]);
        rr_ratio.push_back(rate[2] / rate[0]);
    }
    const std::string tag = std::to_string(n) + " contexts, " + std::to_string(window) +
                            " in flight";
    const double h = median(hand_s), l = median(lq_s), rrm = median(rr_s);
    bench::emit("pool", "pipelined identity, hand-managed, " + tag, mode_s, "per_s", h, "1/s");
    bench::emit("pool", "pipelined identity, pool least queued, " + tag, mode_s, "per_s", l, "1/s");
    bench::emit("pool", "pipelined identity, pool round robin, " + tag, mode_s, "per_s", rrm, "1/s");
    bench::emit("pool", "pipelined identity, pool least queued, " + tag, mode_s, "vs_hand",
                median(lq_ratio), "x");
    bench::emit("pool", "pipelined identity, pool round robin, " + tag, mode_s, "vs_hand",
                median(rr_ratio), "x");

    // Sync round trips, in alternating chunks. Two hand-managed forms: in
    // turn over the N (every call wakes a context that has parked since its
    // last one) and always the same one (awake: the cost a pool that keeps
    // to an awake member is measured against, its overhead).
    auto timed = [](auto &&call) {
        int64_t t0 = bench::now_ns();
        pyctx_bytes_t out{};
        call(&out);
        pyctx_bytes_free(&out);
        return static_cast<double>(bench::now_ns() - t0);
    };
    auto call_on = [&](pyctx_context_t *ctx) {
        return timed([&](pyctx_bytes_t *out) {
            bench::die_on(pyctx_call(ctx, "pyctx_bench_funcs", "identity", args.data(),
                                     args.size(), nullptr, 0, PYCTX_NO_TIMEOUT, out),
                          "pyctx_call");
        });
    };
    auto sync_turns = [&] { return call_on(hand[turn++ % n]); };
    auto sync_one = [&] { return call_on(hand[0]); };
    auto sync_pool = [&] {
        return timed([&](pyctx_bytes_t *out) {
            bench::die_on(pyctx_pool_call(lq, "pyctx_bench_funcs", "identity", args.data(),
                                          args.size(), nullptr, 0, PYCTX_NO_TIMEOUT, out),
                          "pyctx_pool_call");
        });
    };
    std::vector<double> lat_turns, lat_one, lat_pool;
    for (long i = 0; i < std::min(sync_calls, 1000L); ++i) {
        sync_turns();
        sync_one();
        sync_pool();
    }
    const long chunk = 500;
    for (long done = 0; done < sync_calls; done += chunk) {
        const long k = std::min(chunk, sync_calls - done);
        for (long i = 0; i < k; ++i) lat_turns.push_back(sync_turns());
        for (long i = 0; i < k; ++i) lat_one.push_back(sync_one());
        for (long i = 0; i < k; ++i) lat_pool.push_back(sync_pool());
    }
    const double pt = median(lat_turns), po = median(lat_one), pp = median(lat_pool);
    const std::string stag = std::to_string(n) + " contexts";
    bench::emit("pool", "sync identity, hand-managed in turn, " + stag, mode_s, "p50_ns", pt, "ns");
    bench::emit("pool", "sync identity, hand-managed one context", mode_s, "p50_ns", po, "ns");
    bench::emit("pool", "sync identity, pool least queued, " + stag, mode_s, "p50_ns", pp, "ns");
    bench::emit("pool", "sync identity, pool least queued, " + stag, mode_s, "vs_hand", pp / po, "x");

    bench::die_on(pyctx_pool_close(lq, 10000), "pyctx_pool_close");
    bench::die_on(pyctx_pool_close(rr, 10000), "pyctx_pool_close");
    pyctx_pool_free(lq);
    pyctx_pool_free(rr);
    for (pyctx_context_t *ctx : hand) bench::close_context(ctx);
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes_arg = args.get_str("--mode", "both");
    const long n = args.get_int("--n", 2);
    const long requests = args.get_int("--requests", 600000);
    const long window = args.get_int("--window", 1000);
    const long rounds = args.get_int("--rounds", 5);
    const long sync_calls = args.get_int("--sync-calls", 20000);
    args.finish();
    if (n < 1 || requests < 1 || window < 1 || rounds < 1 || sync_calls < 1)
        bench::die("counts must be >= 1");
    bench::init_runtime();
    for (pyctx_mode mode : bench::parse_modes(modes_arg))
        run_mode(mode, static_cast<size_t>(n), static_cast<uint64_t>(requests),
                 static_cast<uint64_t>(window), rounds, sync_calls);
    bench::shutdown_runtime();
    return 0;
}
