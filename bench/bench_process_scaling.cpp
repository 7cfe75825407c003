// Process contexts at scale, in one run:
//
//   numpy cases   pyctx_bench_funcs.numpy_job(size, repeat), N units:
//                 sequential (one worker context, one unit after another),
//                 worker (one unit on each of N worker contexts at once: one
//                 GIL) and process (N process contexts at once: N
//                 interpreters in N processes). Small arrays put most of the
//                 time in Python-level calls (under the GIL), large arrays in
//                 numpy's own loops (which numpy runs with the GIL released,
//                 so worker contexts overlap there too). Speedups are
//                 over the sequential wall time of the same round;
//                 numpy_baselines.py adds a multiprocessing Pool of N.
//                 Needs numpy in the Python pyctx embeds (on this machine:
//                 a build against /usr/bin/python3.11); elsewhere the cases
//                 say they are unavailable.
//   context start create time of one context (median of --contexts) and the
//                 resident memory it adds (the host's growth plus, for a
//                 process context, its child's whole RSS), for worker,
//                 owngil and process contexts.
//
// Sizes are small by default (the benchmark smoke check runs this);
// PYCTX_BENCH_FULL=1 makes every unit 20 times longer.
//
// usage: bench_process_scaling [--n N] [--rounds N] [--contexts N]
#include "bench_common.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace {

struct Shape {
    const char *name;
    long size, repeat;
};

double numpy_unit(pyctx_context_t *ctx, const bench::Cbor &args) {
    return bench::call_number(ctx, "pyctx_bench_funcs", "numpy_job", args);
}

double wall_parallel(const std::vector<pyctx_context_t *> &ctxs, const bench::Cbor &args,
                     double expected) {
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    int64_t t0 = bench::now_ns();
    for (pyctx_context_t *ctx : ctxs)
        threads.emplace_back([&, ctx] {
            if (numpy_unit(ctx, args) != expected) wrong.fetch_add(1);
        });
    for (auto &t : threads) t.join();
    double secs = static_cast<double>(bench::now_ns() - t0) / 1e9;
    if (wrong.load()) bench::die("numpy_job returned a wrong value");
    return secs;
}

void numpy_cases(long n, long rounds, long scale) {
    const Shape shapes[] = {{"numpy, 64-element arrays", 64, 3000 * scale},
                            {"numpy, 200k-element arrays", 200000, 15 * scale}};
    pyctx_context_t *probe = bench::make_bench_context(PYCTX_MODE_WORKER);
    bool have_numpy =
        bench::call_number(probe, "pyctx_bench_funcs", "numpy_available", bench::Cbor{{0x80}}) == 1;
    if (!have_numpy) {
        bench::close_context(probe);
        for (const Shape &s : shapes)
            for (const char *mode : {"sequential", "worker", "process"})
                bench::emit_unavailable("process_scaling", s.name, mode,
                                        "numpy is not installed for this Python");
        return;
    }
    std::vector<pyctx_context_t *> workers, processes;
    for (long i = 0; i < n; ++i) {
        workers.push_back(bench::make_bench_context(PYCTX_MODE_WORKER));
        processes.push_back(bench::make_bench_context(PYCTX_MODE_PROCESS));
    }
    for (const Shape &s : shapes) {
        const bench::Cbor args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
            return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_int(w, s.size) ||
                   pyctx_cbor_write_int(w, s.repeat);
        });
        // Warm: numpy imported everywhere, the expected checksum.
        double expected = numpy_unit(probe, args);
        for (auto *c : workers) (void)numpy_unit(c, args);
        for (auto *c : processes) (void)numpy_unit(c, args);
        std::vector<double> seq, wk, pr, wk_sp, pr_sp;
        for (long r = 0; r < rounds; ++r) {
            int64_t t0 = bench::now_ns();
            for (long i = 0; i < n; ++i)
                if (numpy_unit(probe, args) != expected) bench::die("numpy_job is not stable");
            double s_wall = static_cast<double>(bench::now_ns() - t0) / 1e9;
            double w_wall = wall_parallel(workers, args, expected);
            double p_wall = wall_parallel(processes, args, expected);
            seq.push_back(s_wall);
            wk.push_back(w_wall);
            pr.push_back(p_wall);
            wk_sp.push_back(s_wall / w_wall);
            pr_sp.push_back(s_wall / p_wall);
        }
        auto med = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v[v.size() / 2];
        };
        std::string c = std::string(s.name) + " N=" + std::to_string(n);
        bench::emit("process_scaling", c, "sequential", "wall_s", med(seq), "s");
        bench::emit("process_scaling", c, "worker", "wall_s", med(wk), "s");
        bench::emit("process_scaling", c, "worker", "speedup", med(wk_sp), "x");
        bench::emit("process_scaling", c, "process", "wall_s", med(pr), "s");
        bench::emit("process_scaling", c, "process", "speedup", med(pr_sp), "x");
    }
    for (auto *c : workers) bench::close_context(c);
    for (auto *c : processes) bench::close_context(c);
    bench::close_context(probe);
}

long child_rss_kib(pyctx_context_t *ctx) {
    uint64_t pid = 0;
    bench::die_on(pyctx_context_process_info(ctx, &pid, nullptr), "process_info");
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    bench::die("the child's VmRSS is not readable");
}

void start_cost(pyctx_mode mode, const char *name, long count) {
    std::vector<pyctx_context_t *> ctxs;
    std::vector<double> ms;
    long rss0 = bench::rss_kib();
    for (long i = 0; i < count; ++i) {
        int64_t t0 = bench::now_ns();
        ctxs.push_back(bench::make_context(mode, nullptr));
        ms.push_back(static_cast<double>(bench::now_ns() - t0) / 1e6);
    }
    double added = static_cast<double>(bench::rss_kib() - rss0);
    if (mode == PYCTX_MODE_PROCESS)
        for (auto *c : ctxs) added += static_cast<double>(child_rss_kib(c));
    std::sort(ms.begin(), ms.end());
    bench::emit("process_scaling", "context start", name, "start_ms", ms[ms.size() / 2], "ms");
    bench::emit("process_scaling", "context start", name, "rss_kib",
                added / static_cast<double>(count), "KiB");
    for (auto *c : ctxs) bench::close_context(c);
}

}  // namespace

int main(int argc, char **argv) {
    long n = 2, rounds = 3, contexts = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        long v = std::atol(argv[i + 1]);
        if (a == "--n") n = v;
        else if (a == "--rounds") rounds = v;
        else if (a == "--contexts") contexts = v;
        else bench::die("unknown option " + a);
    }
    if (n < 1 || rounds < 1 || contexts < 1) bench::die("--n, --rounds and --contexts must be >= 1");
    const char *full = std::getenv("PYCTX_BENCH_FULL");
    const long scale = full && std::string(full) == "1" ? 20 : 1;
    bench::init_runtime();
    // The start figures first, before numpy's libraries are in this process.
    start_cost(PYCTX_MODE_WORKER, "worker", contexts);
    if (pyctx_owngil_supported()) {
        start_cost(PYCTX_MODE_OWNGIL, "owngil", contexts);
    } else {
        bench::emit_unavailable("process_scaling", "context start", "owngil",
                                "owngil needs Python 3.12+");
    }
    start_cost(PYCTX_MODE_PROCESS, "process", contexts);
    numpy_cases(n, rounds, scale);
    bench::shutdown_runtime();
    return 0;
}
