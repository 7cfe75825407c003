// Benchmarks 1 and 2: the synchronous round trip of a trivial request made
// from one calling thread.
//
//   1. pyctx_call of an identity function, operator.add(2.0, 3.0) and
//      math.sqrt: p50, p99, calls/s
//   2. pyctx_eval of a small expression with locals: p50, p99, evals/s
//
// Beside each, the "limit": the same Python work done directly on one thread
// with no handoff (timeit inside the context), i.e. what is left once the
// cross-thread request costs nothing. bench_embed makes the same calls from
// the caller's own thread through the CPython C API, and bench_handoff
// times the bare thread handoff; bench/run.py reports ratios to both.
//
// usage: bench_roundtrip [--mode worker|owngil|both] [--calls N] [--limit-number N]
#include "bench_common.hpp"

#include <cmath>
#include <functional>

namespace {

using bench::Cbor;

struct Sizes {
    long calls;         // measured requests per loop (latency and throughput)
    long limit_number;  // timeit iterations per repeat for the limit
};

// Runs `one_request` as latency and throughput loop (bench_stats.hpp) and
// emits p50/p99/rate.
void measure(const char *bench_name, const std::string &case_name, const char *mode,
             const Sizes &sizes, const std::function<void()> &one_request) {
    bench::emit_loop(bench_name, case_name, mode, bench::measure_loop(sizes.calls, one_request),
                     pyctx_python_version());
}

void emit_limit(const char *bench_name, const std::string &case_name, const char *mode,
                double limit_ns) {
    bench::emit(bench_name, case_name, mode, "limit_ns", limit_ns, "ns");
    bench::emit(bench_name, case_name, mode, "limit_per_s", 1e9 / limit_ns, "1/s");
}

// Benchmark 1 for one function: `module.function(2.0)` (or, with
// `two_args`, `module.function(2.0, 3.0)`) must give `expected`.
void bench_call(pyctx_context_t *ctx, const char *mode, const Sizes &sizes,
                const std::string &case_name, const char *module, const char *function,
                bool two_args, const char *limit_target, double expected) {
    const Cbor args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        if (two_args)
            return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_float(w, 2.0) ||
                   pyctx_cbor_write_float(w, 3.0);
        return pyctx_cbor_write_array(w, 1) || pyctx_cbor_write_float(w, 2.0);
    });
    if (bench::call_number(ctx, module, function, args) != expected)
        bench::die(case_name + " returned a wrong value");

    measure("roundtrip", case_name, mode, sizes, [&] {
        pyctx_bytes_t out{};
        bench::die_on(pyctx_call(ctx, module, function, args.data(), args.size(), nullptr, 0,
                                 PYCTX_NO_TIMEOUT, &out),
                      function);
        pyctx_bytes_free(&out);
    });

    const Cbor limit_args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_cstr(w, limit_target) ||
               pyctx_cbor_write_int(w, sizes.limit_number);
    });
    emit_limit("roundtrip", case_name, mode,
               bench::call_number(ctx, "pyctx_bench_funcs", "direct_call_ns", limit_args));
}

// Benchmark 2: eval("x * y + 1") with locals {x: 3, y: 4} must give 13.
void bench_eval(pyctx_context_t *ctx, const char *mode, const Sizes &sizes) {
    const char *expression = "x * y + 1";
    const Cbor locals = bench::make_cbor([](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_map(w, 2) || pyctx_cbor_write_cstr(w, "x") ||
               pyctx_cbor_write_int(w, 3) || pyctx_cbor_write_cstr(w, "y") ||
               pyctx_cbor_write_int(w, 4);
    });
    pyctx_bytes_t first{};
    bench::die_on(pyctx_eval(ctx, expression, nullptr, locals.data(), locals.size(),
                             PYCTX_NO_TIMEOUT, &first),
                  "eval");
    if (bench::cbor_number(first.data, first.len) != 13.0) bench::die("eval gave a wrong value");
    pyctx_bytes_free(&first);

    const std::string case_name = "eval x*y+1 with locals";
    measure("eval", case_name, mode, sizes, [&] {
        pyctx_bytes_t out{};
        bench::die_on(pyctx_eval(ctx, expression, nullptr, locals.data(), locals.size(),
                                 PYCTX_NO_TIMEOUT, &out),
                      "eval");
        pyctx_bytes_free(&out);
    });

    const Cbor limit_args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_cstr(w, expression) ||
               pyctx_cbor_write_int(w, sizes.limit_number);
    });
    emit_limit("eval", case_name, mode,
               bench::call_number(ctx, "pyctx_bench_funcs", "direct_eval_ns", limit_args));
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes_arg = args.get_str("--mode", "both");
    const Sizes sizes{args.get_int("--calls", 200000), args.get_int("--limit-number", 200000)};
    args.finish();
    if (sizes.calls < 1 || sizes.limit_number < 1) bench::die("counts must be >= 1");

    bench::init_runtime();
    for (pyctx_mode mode : bench::parse_modes(modes_arg)) {
        pyctx_context_t *ctx = bench::make_bench_context(mode);
        const char *m = bench::mode_name(mode);
        bench_call(ctx, m, sizes, "call identity", "pyctx_bench_funcs", "identity", false,
                   "identity", 2.0);
        bench_call(ctx, m, sizes, "call operator.add", "operator", "add", true, "add", 5.0);
        bench_call(ctx, m, sizes, "call math.sqrt", "math", "sqrt", false, "sqrt",
                   std::sqrt(2.0));
        bench_eval(ctx, m, sizes);
        bench::close_context(ctx);
    }
    bench::shutdown_runtime();
    return 0;
}
