// Borrowed buffers: an array of float64 from the host, summed in Python,
// the sum back to the host -- for 1, 16 and 64 MiB, three ways in one run:
//
//   lent buffer          the host lends its memory (pyctx_buffer_lend,
//                        attached to a request object, CBOR tag); Python
//                        sums the memoryview itself, no copy (a process
//                        context copies it into shared memory once per
//                        submission)
//   library buffer       memory from pyctx_buffer_alloc, filled once: the
//                        same as lent in-process; a process context's child
//                        maps it from the shared arena, no copy
//   data inside Python   the same sum over a copy already inside Python (the
//                        baseline: the same request path, no data crossing)
//   CBOR bytes           the host encodes the array as a CBOR byte string
//                        (a copy), Python decodes it into bytes (a second
//                        copy) and sums that
//
// plus the sum timed inside Python alone (timeit: no request at all). The sum
// is numpy.frombuffer(...).sum() where numpy imports (worker contexts of a
// Python with numpy, e.g. Debian's 3.11), else Python's sum() over a
// memoryview of doubles; the case name says which. Each figure is the
// median of --repeat round trips; bench/run.py reports the same-run ratios.
//
// usage: bench_buffers [--sizes-mib 1,16,64] [--repeat 5]
//                      [--mode worker|owngil|both|process|all]
#include "bench_common.hpp"


#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>

namespace {

using bench::die;
using bench::die_on;

std::vector<long> parse_sizes(const std::string &s) {
    std::vector<long> out;
    std::stringstream in(s);
    std::string part;
    while (std::getline(in, part, ',')) {
        char *end = nullptr;
        long v = std::strtol(part.c_str(), &end, 10);
        if (end == part.c_str() || *end != '\0' || v <= 0) die("bad --sizes-mib entry: " + part);
        out.push_back(v);
    }
    if (out.empty()) die("--sizes-mib is empty");
    return out;
}

// [tag(0), kind]: the arguments naming attached buffer 0.
bench::Cbor lent_args(const std::string &kind) {
    return bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) | pyctx_cbor_write_tag(w, PYCTX_CBOR_TAG_BUFFER) |
               pyctx_cbor_write_uint(w, 0) | pyctx_cbor_write_cstr(w, kind.c_str());
    });
}

double request_number(pyctx_request_t *r) {
    die_on(pyctx_request_submit(r), "pyctx_request_submit");
    die_on(pyctx_request_wait(r, PYCTX_NO_TIMEOUT), "pyctx_request_wait");
    if (const pyctx_error_t *e = pyctx_request_error(r)) die("request failed: " + bench::describe(e));
    size_t len = 0;
    const uint8_t *v = pyctx_request_value(r, &len);
    return bench::cbor_number(v, len);
}

template <class F>
double median_ns(long repeat, F &&once) {
    once();  // warm-up (first touch, caches)
    std::vector<double> t;
    for (long i = 0; i < repeat; ++i) {
        int64_t t0 = bench::now_ns();
        once();
        t.push_back(static_cast<double>(bench::now_ns() - t0));
    }
    return bench::percentile(t, 50);
}

void check_sum(double got, double want, const char *what) {
    if (got != want) {
        die(std::string(what) + ": Python's sum " + std::to_string(got) + " is not the host's " +
            std::to_string(want));
    }
}

void run_size(pyctx_context_t *ctx, pyctx_mode mode, const std::string &kind, long mib,
              long repeat) {
    const size_t n = static_cast<size_t>(mib) * 1024 * 1024 / sizeof(double);
    std::vector<double> data(n);
    // Whole numbers: every partial sum is exact, in any order.
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<double>(i % 1024);
    const double host_sum = std::accumulate(data.begin(), data.end(), 0.0);
    const std::string suffix = " " + std::to_string(mib) + " MiB, " + kind + " sum";
    const char *mode_name = bench::mode_name(mode);

    // 1. lent: a request object carrying the buffer, once per submission.
    pyctx_request_t *r = nullptr;
    die_on(pyctx_request_new(&r), "pyctx_request_new");
    die_on(pyctx_request_set_context(r, ctx), "set_context");
    die_on(pyctx_request_set_call(r, "pyctx_bench_funcs", "buffer_sum"), "set_call");
    bench::Cbor args = lent_args(kind);
    die_on(pyctx_request_set_args(r, args.data(), args.size()), "set_args");
    double got = 0;
    double lent_ns = median_ns(repeat, [&] {
        pyctx_buffer_t *b = nullptr;
        die_on(pyctx_buffer_lend(data.data(), n * sizeof(double), 0, nullptr, nullptr, &b), "lend");
        die_on(pyctx_buffer_set_format(b, "d"), "set_format");
        die_on(pyctx_request_attach_buffer(r, b, nullptr), "attach");
        pyctx_buffer_free(b);  // the submission holds it
        got = request_number(r);
    });
    check_sum(got, host_sum, "lent buffer");
    bench::emit("buffers", "lent buffer" + suffix, mode_name, "p50_ns", lent_ns, "ns");

    // 1b. shared: a library-allocated buffer (filled once, outside the
    // timing), attached to each submission. In a process context it lives
    // in the shared arena the child maps, so it crosses without a copy (the
    // lent buffer above is copied into the arena for every submission).
    {
        pyctx_buffer_t *shared = nullptr;
        die_on(pyctx_buffer_alloc(n * sizeof(double), &shared), "pyctx_buffer_alloc");
        std::memcpy(pyctx_buffer_data(shared, nullptr), data.data(), n * sizeof(double));
        die_on(pyctx_buffer_set_format(shared, "d"), "set_format");
        double shared_ns = median_ns(repeat, [&] {
            die_on(pyctx_request_attach_buffer(r, shared, nullptr), "attach");
            got = request_number(r);
        });
        check_sum(got, host_sum, "library buffer");
        pyctx_buffer_free(shared);
        bench::emit("buffers", "library buffer" + suffix, mode_name, "p50_ns", shared_ns, "ns");
    }
    pyctx_request_free(r);

    // 2. inside: the same sum over a copy kept in Python.
    {
        pyctx_buffer_t *b = nullptr;
        die_on(pyctx_buffer_lend(data.data(), n * sizeof(double), 0, nullptr, nullptr, &b), "lend");
        pyctx_request_t *keep = nullptr;
        die_on(pyctx_request_new(&keep), "pyctx_request_new");
        die_on(pyctx_request_set_context(keep, ctx), "set_context");
        die_on(pyctx_request_set_call(keep, "pyctx_bench_funcs", "keep_copy"), "set_call");
        bench::Cbor kargs = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
            return pyctx_cbor_write_array(w, 2) | pyctx_cbor_write_cstr(w, "bench") |
                   pyctx_cbor_write_tag(w, PYCTX_CBOR_TAG_BUFFER) | pyctx_cbor_write_uint(w, 0);
        });
        die_on(pyctx_request_set_args(keep, kargs.data(), kargs.size()), "set_args");
        die_on(pyctx_request_attach_buffer(keep, b, nullptr), "attach");
        pyctx_buffer_free(b);
        request_number(keep);
        pyctx_request_free(keep);
    }
    bench::Cbor kept_args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) | pyctx_cbor_write_cstr(w, "bench") |
               pyctx_cbor_write_cstr(w, kind.c_str());
    });
    double inside_ns = median_ns(repeat, [&] {
        got = bench::call_number(ctx, "pyctx_bench_funcs", "kept_sum", kept_args);
    });
    check_sum(got, host_sum, "data inside Python");
    bench::emit("buffers", "data inside Python" + suffix, mode_name, "p50_ns", inside_ns, "ns");
    bench::Cbor timed_args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 3) | pyctx_cbor_write_cstr(w, "bench") |
               pyctx_cbor_write_cstr(w, kind.c_str()) |
               pyctx_cbor_write_uint(w, static_cast<uint64_t>(repeat));
    });
    double python_ns = bench::call_number(ctx, "pyctx_bench_funcs", "kept_sum_ns", timed_args);
    bench::emit("buffers", "sum alone in Python" + suffix, mode_name, "p50_ns", python_ns, "ns");
    bench::Cbor drop = bench::make_cbor([](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 1) | pyctx_cbor_write_cstr(w, "bench");
    });
    pyctx_bytes_t ignored{};
    die_on(pyctx_call(ctx, "pyctx_bench_funcs", "drop_kept", drop.data(), drop.size(), nullptr, 0,
                      PYCTX_NO_TIMEOUT, &ignored),
           "drop_kept");
    pyctx_bytes_free(&ignored);

    // 3. CBOR: the host encodes the array (a copy) for every request. A
    // process context carries at most 2 MiB in one message: beyond that the
    // CBOR path does not exist there.
    if (mode == PYCTX_MODE_PROCESS && n * sizeof(double) > (size_t{1} << 20)) return;
    pyctx_cbor_writer_t *w = pyctx_cbor_writer_new();
    if (!w) die("out of memory");
    double cbor_ns = median_ns(repeat, [&] {
        pyctx_cbor_writer_reset(w);
        if (pyctx_cbor_write_array(w, 2) |
            pyctx_cbor_write_bytes(w, reinterpret_cast<const uint8_t *>(data.data()),
                                   n * sizeof(double)) |
            pyctx_cbor_write_cstr(w, kind.c_str()))
            die("CBOR writer failed");
        size_t len = 0;
        const uint8_t *p = pyctx_cbor_writer_data(w, &len);
        pyctx_bytes_t out{};
        die_on(pyctx_call(ctx, "pyctx_bench_funcs", "buffer_sum", p, len, nullptr, 0,
                          PYCTX_NO_TIMEOUT, &out),
               "buffer_sum over CBOR");
        got = bench::cbor_number(out.data, out.len);
        pyctx_bytes_free(&out);
    });
    pyctx_cbor_writer_free(w);
    check_sum(got, host_sum, "CBOR bytes");
    bench::emit("buffers", "CBOR bytes" + suffix, mode_name, "p50_ns", cbor_ns, "ns");
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    std::vector<long> sizes = parse_sizes(args.get_str("--sizes-mib", "1,16,64"));
    long repeat = args.get_int("--repeat", 5);
    std::string modes_arg = args.get_str("--mode", "both");
    args.finish();
    if (repeat < 1) die("--repeat must be at least 1");

    bench::init_runtime();
    for (pyctx_mode mode : bench::parse_modes(modes_arg)) {
        pyctx_context_t *ctx = bench::make_bench_context(mode);
        pyctx_bytes_t out{};
        die_on(pyctx_call(ctx, "pyctx_bench_funcs", "buffer_sum_kind", nullptr, 0, nullptr, 0,
                          PYCTX_NO_TIMEOUT, &out),
               "buffer_sum_kind");
        pyctx_cbor_reader_t rd;
        pyctx_cbor_reader_init(&rd, out.data, out.len);
        pyctx_cbor_item_t item;
        die_on(pyctx_cbor_read(&rd, &item), "reading buffer_sum_kind");
        std::string kind(reinterpret_cast<const char *>(item.data), item.len);
        pyctx_bytes_free(&out);
        for (long mib : sizes) run_size(ctx, mode, kind, mib, repeat);
        bench::close_context(ctx);
    }
    bench::shutdown_runtime();
    return 0;
}
