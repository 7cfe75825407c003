// Process contexts against worker and owngil contexts, in one run:
//
//   sync:      the synchronous round trip of operator.add(2.0, 3.0) from one
//              calling thread (p50, p99, calls/s)
//   pipelined: async requests of the same call kept `--window` deep from
//              one submitting thread (requests/s)
//
// The process figures add a handoff to another process through the shared
// rings (and, when either side parked, a cross-process futex wake) to what
// the in-process modes pay. bench_handoff gives the machine's own handoff
// costs to compare them with.
//
// usage: bench_process [--calls N] [--requests N] [--window N] [--only MODE]
// (--only worker|owngil|process runs one mode, for profiling)
#include "bench_common.hpp"

#include <atomic>
#include <thread>

namespace {

using bench::Cbor;

pyctx_context_t *make(pyctx_mode mode) { return bench::make_context(mode, "import operator"); }

std::atomic<long> g_done{0};
std::atomic<long> g_failed{0};

void on_done(void *, uint64_t, pyctx_result_t *result) {
    if (pyctx_result_status(result) != PYCTX_OK) g_failed.fetch_add(1);
    pyctx_result_free(result);
    g_done.fetch_add(1, std::memory_order_release);
}

void run(pyctx_mode mode, const char *name, long calls, long requests, long window) {
    pyctx_context_t *ctx = make(mode);
    const Cbor args = bench::make_cbor([](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_float(w, 2.0) ||
               pyctx_cbor_write_float(w, 3.0);
    });
    if (bench::call_number(ctx, "operator", "add", args) != 5.0) bench::die("operator.add is wrong");
    bench::emit_loop("process", "sync add", name, bench::measure_loop(calls, [&] {
                         pyctx_bytes_t out{};
                         bench::die_on(pyctx_call(ctx, "operator", "add", args.data(), args.size(),
                                                  nullptr, 0, PYCTX_NO_TIMEOUT, &out),
                                       "pyctx_call");
                         pyctx_bytes_free(&out);
                     }),
                     pyctx_python_version());

    g_done.store(0);
    g_failed.store(0);
    int64_t t0 = bench::now_ns();
    for (long sent = 0; sent < requests; ++sent) {
        while (sent - g_done.load(std::memory_order_acquire) >= window) std::this_thread::yield();
        bench::die_on(pyctx_call_async(ctx, "operator", "add", args.data(), args.size(), nullptr,
                                       0, PYCTX_NO_TIMEOUT, on_done, nullptr, nullptr),
                      "pyctx_call_async");
    }
    while (g_done.load(std::memory_order_acquire) < requests) std::this_thread::yield();
    double secs = static_cast<double>(bench::now_ns() - t0) / 1e9;
    if (g_failed.load()) bench::die("pipelined requests failed");
    bench::emit("process", "pipelined add", name, "per_s", static_cast<double>(requests) / secs,
                "1/s");
    bench::close_context(ctx);
}

}  // namespace

int main(int argc, char **argv) {
    long calls = 20000, requests = 200000, window = 1024;
    std::string only;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        long v = std::atol(argv[i + 1]);
        if (a == "--only") only = argv[i + 1];
        else if (a == "--calls") calls = v;
        else if (a == "--requests") requests = v;
        else if (a == "--window") window = v;
        else bench::die("unknown option " + a);
    }
    if (!only.empty() && only != "worker" && only != "owngil" && only != "process")
        bench::die("--only takes worker, owngil or process");
    auto wanted = [&](const char *mode) { return only.empty() || only == mode; };
    bench::init_runtime();
    if (wanted("worker")) run(PYCTX_MODE_WORKER, "worker", calls, requests, window);
    if (!wanted("owngil")) {
    } else if (pyctx_owngil_supported()) {
        run(PYCTX_MODE_OWNGIL, "owngil", calls, requests, window);
    } else {
        bench::emit_unavailable("process", "sync add", "owngil", "owngil needs Python 3.12+");
    }
    if (wanted("process")) run(PYCTX_MODE_PROCESS, "process", calls, requests, window);
    bench::shutdown_runtime();
    return 0;
}
