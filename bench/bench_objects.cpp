// Object handles and streams, in one run:
//
//   1. A method call on an object handle against a plain pyctx_call round
//      trip of the same work (a + b), interleaved in blocks so both see the
//      same moment of the machine: p50, p99 and calls per second of each,
//      and the p50 ratio method/call -- both through the one-call functions
//      (pyctx_object_call_method vs pyctx_call) and through one reused
//      request object each (method call kind vs call kind).
//   2. A stream of N small ints from a plain generator, all credit granted
//      up front, items counted in the item callback: items per second.
//
// usage: bench_objects [--mode worker|owngil|both] [--calls N] [--items N]
#include "bench_common.hpp"


#include <atomic>

namespace {

using bench::Cbor;

constexpr const char *kPreload =
    "class Adder:\n"
    "    def add(self, a, b):\n"
    "        return a + b\n"
    "adder = Adder()\n"
    "def add(a, b):\n"
    "    return a + b\n"
    "def ints(n):\n"
    "    for i in range(n):\n"
    "        yield i\n";

pyctx_object_t *adder_handle(pyctx_context_t *ctx) {
    pyctx_request_t *r = nullptr;
    bench::die_on(pyctx_request_new(&r), "request_new");
    bench::die_on(pyctx_request_set_context(r, ctx), "set_context");
    bench::die_on(pyctx_request_set_eval(r, "adder"), "set_eval");
    bench::die_on(pyctx_request_set_result_form(r, PYCTX_RESULT_OBJECT), "set_result_form");
    bench::die_on(pyctx_request_submit(r), "submit");
    bench::die_on(pyctx_request_wait(r, PYCTX_NO_TIMEOUT), "wait");
    pyctx_object_t *obj = nullptr;
    bench::die_on(pyctx_request_take_object(r, &obj), "take_object");
    pyctx_request_free(r);
    return obj;
}

// Runs `a` and `b` alternately in blocks of `block` calls until each ran
// `calls` times, recording every call's latency.
template <class A, class B>
void interleaved(long calls, long block, A &&a, B &&b, std::vector<double> &lat_a,
                 std::vector<double> &lat_b, double *secs_a, double *secs_b) {
    lat_a.clear();
    lat_b.clear();
    int64_t spent_a = 0, spent_b = 0;
    for (long done = 0; done < calls; done += block) {
        const long n = std::min(block, calls - done);
        for (int side = 0; side < 2; ++side) {
            auto &lat = side == 0 ? lat_a : lat_b;
            const int64_t start = bench::now_ns();
            for (long i = 0; i < n; ++i) {
                const int64_t t0 = bench::now_ns();
                if (side == 0) a(); else b();
                lat.push_back(static_cast<double>(bench::now_ns() - t0));
            }
            (side == 0 ? spent_a : spent_b) += bench::now_ns() - start;
        }
    }
    *secs_a = static_cast<double>(spent_a) / 1e9;
    *secs_b = static_cast<double>(spent_b) / 1e9;
}

void emit_pair(const std::string &label, const char *mode, const char *a_case, const char *b_case,
               std::vector<double> &lat_a, std::vector<double> &lat_b, double secs_a, double secs_b) {
    const double p50_a = bench::percentile(lat_a, 50), p50_b = bench::percentile(lat_b, 50);
    bench::emit("objects", a_case, mode, "p50_ns", p50_a, "ns");
    bench::emit("objects", a_case, mode, "p99_ns", bench::percentile(lat_a, 99), "ns");
    bench::emit("objects", a_case, mode, "per_s", static_cast<double>(lat_a.size()) / secs_a, "1/s");
    bench::emit("objects", b_case, mode, "p50_ns", p50_b, "ns");
    bench::emit("objects", b_case, mode, "p99_ns", bench::percentile(lat_b, 99), "ns");
    bench::emit("objects", b_case, mode, "per_s", static_cast<double>(lat_b.size()) / secs_b, "1/s");
    bench::emit("objects", label, mode, "p50_ratio", p50_b / p50_a, "x");
}

void bench_calls(pyctx_context_t *ctx, const char *mode, long calls) {
    pyctx_object_t *adder = adder_handle(ctx);
    const Cbor args = bench::make_cbor([](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_int(w, 20) ||
               pyctx_cbor_write_int(w, 22);
    });
    auto plain = [&] {
        pyctx_bytes_t out{};
        bench::die_on(pyctx_call(ctx, "__main__", "add", args.data(), args.size(), nullptr, 0,
                                 PYCTX_NO_TIMEOUT, &out),
                      "call");
        pyctx_bytes_free(&out);
    };
    auto method = [&] {
        pyctx_bytes_t out{};
        bench::die_on(pyctx_object_call_method(adder, "add", args.data(), args.size(), nullptr, 0,
                                               PYCTX_NO_TIMEOUT, &out),
                      "call_method");
        pyctx_bytes_free(&out);
    };
    std::vector<double> la, lb;
    double sa = 0, sb = 0;
    interleaved(calls / 10 + 100, 100, plain, method, la, lb, &sa, &sb);  // warm-up
    interleaved(calls, 1000, plain, method, la, lb, &sa, &sb);
    emit_pair("method call / call (one-call functions)", mode, "pyctx_call add",
              "pyctx_object_call_method add", la, lb, sa, sb);

    // One reused request object per side: the request kinds alone.
    pyctx_request_t *rc = nullptr, *rm = nullptr;
    bench::die_on(pyctx_request_new(&rc), "request_new");
    bench::die_on(pyctx_request_new(&rm), "request_new");
    bench::die_on(pyctx_request_set_context(rc, ctx), "set_context");
    bench::die_on(pyctx_request_set_call(rc, "__main__", "add"), "set_call");
    bench::die_on(pyctx_request_set_args(rc, args.data(), args.size()), "set_args");
    bench::die_on(pyctx_request_set_method_call(rm, adder, "add"), "set_method_call");
    bench::die_on(pyctx_request_set_args(rm, args.data(), args.size()), "set_args");
    auto run = [](pyctx_request_t *r) {
        bench::die_on(pyctx_request_submit(r), "submit");
        bench::die_on(pyctx_request_wait(r, PYCTX_NO_TIMEOUT), "wait");
        if (pyctx_request_status(r) != PYCTX_OK) bench::die("request failed");
    };
    interleaved(calls / 10 + 100, 100, [&] { run(rc); }, [&] { run(rm); }, la, lb, &sa, &sb);
    interleaved(calls, 1000, [&] { run(rc); }, [&] { run(rm); }, la, lb, &sa, &sb);
    emit_pair("method call / call (request objects)", mode, "request call add",
              "request method call add", la, lb, sa, sb);
    pyctx_request_free(rc);
    pyctx_request_free(rm);
    pyctx_object_free(adder);
}

struct StreamCount {
    std::atomic<uint64_t> items{0};
    std::atomic<int> status{-1};
};

void bench_stream(pyctx_context_t *ctx, const char *mode, long items) {
    const Cbor args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 1) || pyctx_cbor_write_int(w, items);
    });
    pyctx_request_t *r = nullptr;
    bench::die_on(pyctx_request_new(&r), "request_new");
    bench::die_on(pyctx_request_set_context(r, ctx), "set_context");
    bench::die_on(pyctx_request_set_call(r, "__main__", "ints"), "set_call");
    bench::die_on(pyctx_request_set_args(r, args.data(), args.size()), "set_args");
    auto on_item = [](void *ud, pyctx_stream_t *, const uint8_t *, size_t) {
        static_cast<StreamCount *>(ud)->items.fetch_add(1, std::memory_order_relaxed);
    };
    auto on_end = [](void *ud, pyctx_stream_t *, pyctx_status status, const pyctx_error_t *) {
        static_cast<StreamCount *>(ud)->status.store(status, std::memory_order_release);
    };
    for (int round = 0; round < 2; ++round) {  // the first warms up
        StreamCount count;
        pyctx_stream_t *s = nullptr;
        const int64_t t0 = bench::now_ns();
        // One credit more than there are items: the advance that finds the end.
        bench::die_on(pyctx_stream_open(r, static_cast<uint32_t>(items) + 1, on_item, on_end, &count,
                                        nullptr, &s),
                      "stream_open");
        while (count.status.load(std::memory_order_acquire) < 0) bench::now_ns();
        const double secs = static_cast<double>(bench::now_ns() - t0) / 1e9;
        pyctx_stream_free(s);
        if (count.status.load() != PYCTX_OK || count.items.load() != static_cast<uint64_t>(items))
            bench::die("the stream did not deliver every item");
        if (round == 1)
            bench::emit("objects", "stream of small ints (generator)", mode, "items_per_s",
                        static_cast<double>(items) / secs, "1/s");
    }
    pyctx_request_free(r);
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes_arg = args.get_str("--mode", "both");
    const long calls = args.get_int("--calls", 20000);
    const long items = args.get_int("--items", 1000000);
    args.finish();
    if (calls < 1 || items < 1 || items >= 0xffffffffL) bench::die("bad --calls or --items");

    bench::init_runtime();
    for (pyctx_mode mode : bench::parse_modes(modes_arg)) {
        pyctx_context_t *ctx = bench::make_context(mode, kPreload);
        const char *m = bench::mode_name(mode);
        bench_calls(ctx, m, calls);
        bench_stream(ctx, m, items);
        bench::close_context(ctx);
    }
    bench::shutdown_runtime();
    return 0;
}
