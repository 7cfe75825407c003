// Benchmark 6: what a context costs. `--cycles` (200) times: create a
// context with no preload, close and free it. Reports the median
// create+close time and the resident memory (VmRSS) growth per cycle, after
// two warm-up cycles. The allocator is fixed at pyctx_init(), so each
// allocator needs its own process: bench/run.py runs this binary once with
// `--allocator default` and once with `--allocator malloc`.
//
// usage: bench_context_cost [--allocator default|malloc|pymalloc]
//                           [--mode owngil|worker] [--cycles N]
#include "bench_common.hpp"

namespace {

pyctx_allocator parse_allocator(const std::string &s) {
    if (s == "default") return PYCTX_ALLOCATOR_DEFAULT;
    if (s == "malloc") return PYCTX_ALLOCATOR_MALLOC;
    if (s == "pymalloc") return PYCTX_ALLOCATOR_PYMALLOC;
    bench::die("--allocator must be default, malloc or pymalloc");
}

// One create + close + free; returns its duration in ms.
double cycle(pyctx_mode mode) {
    int64_t t0 = bench::now_ns();
    pyctx_context_t *ctx = bench::make_context(mode, nullptr);
    bench::close_context(ctx);
    return static_cast<double>(bench::now_ns() - t0) / 1e6;
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string allocator = args.get_str("--allocator", "default");
    const std::string mode_arg = args.get_str("--mode", "owngil");
    const long cycles = args.get_int("--cycles", 200);
    args.finish();
    if (cycles < 1) bench::die("--cycles must be >= 1");
    if (mode_arg != "owngil" && mode_arg != "worker") bench::die("--mode must be owngil or worker");

    bench::init_runtime(parse_allocator(allocator));
    const std::string case_name = "pyctx context, allocator=" + allocator;
    const std::vector<pyctx_mode> modes = bench::parse_modes(mode_arg);
    if (modes.empty()) {
        bench::emit_unavailable("context_cost", case_name, mode_arg.c_str(),
                                std::string("owngil unsupported on Python ") +
                                    pyctx_python_version());
        bench::shutdown_runtime();
        return 0;
    }
    const pyctx_mode mode = modes.front();

    for (int i = 0; i < 2; ++i) cycle(mode);  // warm-up: first-use allocations
    const long rss0 = bench::rss_kib();
    std::vector<double> ms;
    for (long i = 0; i < cycles; ++i) ms.push_back(cycle(mode));
    const double growth_mib =
        static_cast<double>(bench::rss_kib() - rss0) / 1024.0 / static_cast<double>(cycles);

    const char *m = bench::mode_name(mode);
    bench::emit("context_cost", case_name, m, "create_close_ms", bench::percentile(ms, 50), "ms");
    bench::emit("context_cost", case_name, m, "rss_growth_per_cycle_mib", growth_mib, "MiB");
    bench::shutdown_runtime();
    return 0;
}
