// Benchmark 4: many caller threads over few contexts. `--threads` (50) host
// threads each make `--calls` synchronous identity calls, thread i on
// context i % `--contexts` (2). Reports total calls/s over the wall time and
// the p50/p99 latency of all calls together.
//
// usage: bench_concurrent [--mode worker|owngil|both] [--threads N]
//                         [--contexts N] [--calls N]
#include "bench_common.hpp"

#include <latch>
#include <thread>

namespace {

void bench_mode(pyctx_mode mode, long threads, long contexts, long calls) {
    const char *m = bench::mode_name(mode);
    std::vector<pyctx_context_t *> ctxs;
    for (long i = 0; i < contexts; ++i) ctxs.push_back(bench::make_bench_context(mode));
    const bench::Cbor args = bench::make_cbor([](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 1) || pyctx_cbor_write_float(w, 2.0);
    });

    std::vector<std::vector<double>> lat(static_cast<size_t>(threads));
    std::latch start(threads + 1);
    std::vector<std::thread> pool;
    for (long t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            pyctx_context_t *ctx = ctxs[static_cast<size_t>(t % contexts)];
            std::vector<double> &mine = lat[static_cast<size_t>(t)];
            mine.reserve(static_cast<size_t>(calls));
            start.arrive_and_wait();
            for (long i = 0; i < calls; ++i) {
                int64_t t0 = bench::now_ns();
                pyctx_bytes_t out{};
                bench::die_on(pyctx_call(ctx, "pyctx_bench_funcs", "identity", args.data(),
                                         args.size(), nullptr, 0, PYCTX_NO_TIMEOUT, &out),
                              "identity");
                pyctx_bytes_free(&out);
                mine.push_back(static_cast<double>(bench::now_ns() - t0));
            }
        });
    }
    start.arrive_and_wait();
    int64_t t0 = bench::now_ns();
    for (auto &th : pool) th.join();
    double secs = static_cast<double>(bench::now_ns() - t0) / 1e9;

    std::vector<double> all;
    for (auto &v : lat) all.insert(all.end(), v.begin(), v.end());
    const std::string case_name = std::to_string(threads) + " threads over " +
                                  std::to_string(contexts) + " contexts";
    bench::emit("concurrent", case_name, m, "per_s", static_cast<double>(all.size()) / secs, "1/s");
    bench::emit("concurrent", case_name, m, "p50_ns", bench::percentile(all, 50), "ns");
    bench::emit("concurrent", case_name, m, "p99_ns", bench::percentile(all, 99), "ns");
    for (pyctx_context_t *ctx : ctxs) bench::close_context(ctx);
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes_arg = args.get_str("--mode", "both");
    const long threads = args.get_int("--threads", 50);
    const long contexts = args.get_int("--contexts", 2);
    const long calls = args.get_int("--calls", 4000);
    args.finish();
    if (threads < 1 || contexts < 1 || calls < 1) bench::die("counts must be >= 1");

    bench::init_runtime();
    for (pyctx_mode mode : bench::parse_modes(modes_arg)) bench_mode(mode, threads, contexts, calls);
    bench::shutdown_runtime();
    return 0;
}
