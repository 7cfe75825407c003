// Spin/park states of identical contexts: four contexts of one mode in one
// process; each round sends pipelined identity calls over two pairs of them
// and then times sync round trips on the first and the last. A context
// whose waits have all shrunk to parking pays a wake-up on every round trip
// (10x a spinning one) and, before AdaptiveSpin learned the park cost, could
// stay there for rounds while its twin ran at full speed. Reports, per mode,
// the spread of the per-context, per-round sync p50s: the fastest, the
// slowest and their ratio (close to 1 when no context is stuck parked).
//
// usage: bench_park_states [--mode worker|owngil|both] [--rounds N]
//                          [--requests N] [--sync-calls N]
#include "bench_common.hpp"
#include "completions.hpp"

#include <algorithm>
#include <vector>

namespace {

using bench::Completions;
using bench::on_complete;

// Pipelined identity calls over `ctxs` in turn, 1,000 in flight.
void pipelined(const std::vector<pyctx_context_t *> &ctxs, uint64_t total) {
    const bench::Cbor &args = bench::identity_args();
    size_t turn = 0;
    bench::pipelined_per_s(
        [&](Completions &c) {
            bench::die_on(pyctx_call_async(ctxs[turn++ % ctxs.size()], "pyctx_bench_funcs",
                                           "identity", args.data(), args.size(), nullptr, 0,
                                           PYCTX_NO_TIMEOUT, on_complete, &c, nullptr),
                          "pyctx_call_async");
        },
        total, 1000);
}

double sync_p50_ns(pyctx_context_t *ctx, long calls) {
    const bench::Cbor &args = bench::identity_args();
    return bench::measure_loop(calls, [&] {
               pyctx_bytes_t out{};
               bench::die_on(pyctx_call(ctx, "pyctx_bench_funcs", "identity", args.data(),
                                        args.size(), nullptr, 0, PYCTX_NO_TIMEOUT, &out),
                             "pyctx_call");
               pyctx_bytes_free(&out);
           })
        .p50_ns;
}

void run_mode(pyctx_mode mode, long rounds, long requests, long sync_calls) {
    std::vector<pyctx_context_t *> c;
    for (int i = 0; i < 4; ++i) c.push_back(bench::make_bench_context(mode));
    std::vector<double> p50s;
    for (long r = 0; r < rounds; ++r) {
        pipelined({c[0], c[1]}, static_cast<uint64_t>(requests));
        pipelined({c[2], c[3]}, static_cast<uint64_t>(requests));
        p50s.push_back(sync_p50_ns(c[0], sync_calls));
        p50s.push_back(sync_p50_ns(c[3], sync_calls));
    }
    const auto [lo, hi] = std::minmax_element(p50s.begin(), p50s.end());
    const char *m = bench::mode_name(mode);
    const std::string tag = "sync p50 per context and round, 4 contexts";
    bench::emit("park_states", tag, m, "fastest_ns", *lo, "ns");
    bench::emit("park_states", tag, m, "slowest_ns", *hi, "ns");
    bench::emit("park_states", tag, m, "slowest_vs_fastest", *hi / *lo, "x");
    for (pyctx_context_t *ctx : c) bench::close_context(ctx);
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes = args.get_str("--mode", "both");
    const long rounds = args.get_int("--rounds", 6);
    const long requests = args.get_int("--requests", 200000);
    const long sync_calls = args.get_int("--sync-calls", 3000);
    args.finish();
    if (rounds < 1 || requests < 1 || sync_calls < 1) bench::die("counts must be >= 1");
    bench::init_runtime();
    for (pyctx_mode mode : bench::parse_modes(modes)) run_mode(mode, rounds, requests, sync_calls);
    bench::shutdown_runtime();
    return 0;
}
