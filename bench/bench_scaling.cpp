// Benchmark 5 (pyctx side): parallel scaling of a CPU-bound pure-Python job,
// pyctx_bench_funcs.factorial_job(n, repeat), N units of it:
//
//   sequential  N units one after another on one worker context
//   worker      one unit on each of N worker contexts at once (shared GIL)
//   owngil      one unit on each of N owngil contexts at once (own GILs)
//
// Each parallel figure is a speedup over the sequential wall time measured in
// the same process. scaling_baselines.py measures plain threads and a
// multiprocessing Pool with the same job; bench/run.py puts them together.
// Context creation is not timed (the baselines do not time pool start-up).
// Each of `--rounds` rounds times every mode back to back and takes the
// speedups within the round; the medians over rounds are emitted.
//
// usage: bench_scaling [--n N] [--fact-n N] [--repeat N] [--rounds N]
#include "bench_common.hpp"

#include <thread>

namespace {

struct Job {
    long fact_n;
    long repeat;
    bench::Cbor args;
    double expected = 0;  // bit length of fact_n!, checked on every unit
};

double run_unit(pyctx_context_t *ctx, const Job &job) {
    double bits = bench::call_number(ctx, "pyctx_bench_funcs", "factorial_job", job.args);
    if (bits != job.expected) bench::die("factorial_job returned a wrong value");
    return bits;
}

// One unit on each context at once, one host thread per context; wall seconds.
double run_parallel(const std::vector<pyctx_context_t *> &ctxs, const Job &job) {
    std::vector<std::thread> threads;
    int64_t t0 = bench::now_ns();
    for (pyctx_context_t *ctx : ctxs) threads.emplace_back([ctx, &job] { run_unit(ctx, job); });
    for (auto &t : threads) t.join();
    return static_cast<double>(bench::now_ns() - t0) / 1e9;
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const long n = args.get_int("--n", static_cast<long>(std::thread::hardware_concurrency()));
    Job job{args.get_int("--fact-n", 20000), args.get_int("--repeat", 3), {}};
    const long rounds = args.get_int("--rounds", 3);
    args.finish();
    if (n < 1 || job.fact_n < 1 || job.repeat < 1 || rounds < 1)
        bench::die("counts must be >= 1");
    job.args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_int(w, job.fact_n) ||
               pyctx_cbor_write_int(w, job.repeat);
    });

    bench::init_runtime();
    const std::string case_name = "factorial(" + std::to_string(job.fact_n) + ") x" +
                                  std::to_string(job.repeat) + ", N=" + std::to_string(n);

    // All contexts are created up front (not timed) and kept for every round.
    pyctx_context_t *seq = bench::make_bench_context(PYCTX_MODE_WORKER);
    const bench::Cbor one = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_int(w, job.fact_n) ||
               pyctx_cbor_write_int(w, 1);
    });
    job.expected = bench::call_number(seq, "pyctx_bench_funcs", "factorial_job", one);
    const std::vector<pyctx_mode> modes = bench::parse_modes("both");
    std::vector<std::vector<pyctx_context_t *>> parallel(modes.size());
    for (size_t m = 0; m < modes.size(); ++m)
        for (long i = 0; i < n; ++i) parallel[m].push_back(bench::make_bench_context(modes[m]));

    // Each round times sequential, then every parallel mode, back to back;
    // a speedup is taken within its round, so slow phases of the shared
    // machine hit both sides of the ratio. Medians over rounds are emitted.
    std::vector<double> seq_walls;
    std::vector<std::vector<double>> walls(modes.size()), speedups(modes.size());
    for (long round = 0; round < rounds; ++round) {
        int64_t t0 = bench::now_ns();
        for (long i = 0; i < n; ++i) run_unit(seq, job);
        const double seq_s = static_cast<double>(bench::now_ns() - t0) / 1e9;
        seq_walls.push_back(seq_s);
        for (size_t m = 0; m < modes.size(); ++m) {
            const double wall_s = run_parallel(parallel[m], job);
            walls[m].push_back(wall_s);
            speedups[m].push_back(seq_s / wall_s);
        }
    }
    bench::emit("scaling", case_name, "sequential", "wall_s", bench::percentile(seq_walls, 50),
                "s");
    bench::emit("scaling", case_name, "sequential", "speedup", 1.0, "x");
    for (size_t m = 0; m < modes.size(); ++m) {
        const char *name = bench::mode_name(modes[m]);
        bench::emit("scaling", case_name, name, "wall_s", bench::percentile(walls[m], 50), "s");
        bench::emit("scaling", case_name, name, "speedup", bench::percentile(speedups[m], 50),
                    "x");
    }
    bench::close_context(seq);
    for (auto &ctxs : parallel)
        for (pyctx_context_t *ctx : ctxs) bench::close_context(ctx);
    bench::shutdown_runtime();
    return 0;
}
