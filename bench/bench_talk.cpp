// Python talking to the host, in one run:
//
//   1. pyctx.send messages per second from one context to a C endpoint
//      (Python sends N values in a loop; the endpoint counts them).
//   2. A channel round trip host -> Python -> host (Python echoes each value
//      back through the same channel, the host sends the next one after the
//      answer) against a synchronous call round trip of an identity
//      function: p50, p99 and round trips per second of each.
//
// usage: bench_talk [--mode worker|owngil|both] [--messages N] [--trips N]
#include "bench_common.hpp"

#include <atomic>

namespace {

using bench::Cbor;

std::atomic<uint64_t> g_received{0};

int count_message(void *, const char *, const uint8_t *, size_t, const uint8_t *, size_t) {
    g_received.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

constexpr const char *kPreload =
    "import pyctx\n"
    "def flood(n):\n"
    "    send = pyctx.send\n"
    "    for i in range(n):\n"
    "        send('bench.inbox', i)\n"
    "    return n\n"
    "def echo(cid, n):\n"
    "    ch = pyctx.Channel(cid)\n"
    "    for _ in range(n):\n"
    "        ch.send(ch.recv())\n"
    "    return n\n"
    "def identity(x):\n"
    "    return x\n";

void bench_send(pyctx_context_t *ctx, const char *mode, long messages) {
    const Cbor args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 1) || pyctx_cbor_write_int(w, messages);
    });
    bench::call_number(ctx, "__main__", "flood", args);  // warm-up
    uint64_t before = g_received.load();
    int64_t t0 = bench::now_ns();
    bench::call_number(ctx, "__main__", "flood", args);
    double secs = static_cast<double>(bench::now_ns() - t0) / 1e9;
    if (g_received.load() - before != static_cast<uint64_t>(messages)) bench::die("messages lost");
    bench::emit("send", "pyctx.send to a C endpoint", mode, "per_s",
                static_cast<double>(messages) / secs, "1/s");
}

void done_fn(void *ud, uint64_t, pyctx_result_t *result) {
    static_cast<std::atomic<int> *>(ud)->store(pyctx_result_status(result) == PYCTX_OK ? 1 : 2);
    pyctx_result_free(result);
}

void emit_trips(const char *case_name, const char *mode, std::vector<double> &lat, double secs) {
    bench::emit("talk_roundtrip", case_name, mode, "p50_ns", bench::percentile(lat, 50), "ns");
    bench::emit("talk_roundtrip", case_name, mode, "p99_ns", bench::percentile(lat, 99), "ns");
    bench::emit("talk_roundtrip", case_name, mode, "per_s", static_cast<double>(lat.size()) / secs,
                "1/s");
}

void bench_channel(pyctx_context_t *ctx, const char *mode, long trips) {
    pyctx_channel_t *ch = nullptr;
    bench::die_on(pyctx_channel_new(1, 0, &ch), "channel_new");
    long warm = trips / 10 + 100;
    const Cbor args = bench::make_cbor([&](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 2) || pyctx_cbor_write_uint(w, pyctx_channel_id(ch)) ||
               pyctx_cbor_write_int(w, trips + warm);
    });
    std::atomic<int> done{0};
    bench::die_on(pyctx_call_async(ctx, "__main__", "echo", args.data(), args.size(), nullptr, 0,
                                   PYCTX_NO_TIMEOUT, done_fn, &done, nullptr),
                  "echo");
    const Cbor value = bench::make_cbor([](pyctx_cbor_writer_t *w) { return pyctx_cbor_write_int(w, 7); });
    auto trip = [&] {
        bench::die_on(pyctx_channel_send(ch, value.data(), value.size(), PYCTX_NO_TIMEOUT), "send");
        pyctx_bytes_t out{};
        bench::die_on(pyctx_channel_recv(ch, PYCTX_NO_TIMEOUT, &out), "recv");
        pyctx_bytes_free(&out);
    };
    for (long i = 0; i < warm; ++i) trip();
    std::vector<double> lat(static_cast<size_t>(trips));
    int64_t start = bench::now_ns();
    for (auto &slot : lat) {
        int64_t t0 = bench::now_ns();
        trip();
        slot = static_cast<double>(bench::now_ns() - t0);
    }
    double secs = static_cast<double>(bench::now_ns() - start) / 1e9;
    emit_trips("channel host->python->host", mode, lat, secs);
    while (done.load() == 0) bench::now_ns();
    if (done.load() != 1) bench::die("echo failed");
    pyctx_channel_free(ch);

    // The same shape as a synchronous call of an identity function.
    const Cbor call_args = bench::make_cbor([](pyctx_cbor_writer_t *w) {
        return pyctx_cbor_write_array(w, 1) || pyctx_cbor_write_int(w, 7);
    });
    auto call = [&] {
        pyctx_bytes_t out{};
        bench::die_on(pyctx_call(ctx, "__main__", "identity", call_args.data(), call_args.size(),
                                 nullptr, 0, PYCTX_NO_TIMEOUT, &out),
                      "call");
        pyctx_bytes_free(&out);
    };
    for (long i = 0; i < warm; ++i) call();
    start = bench::now_ns();
    for (auto &slot : lat) {
        int64_t t0 = bench::now_ns();
        call();
        slot = static_cast<double>(bench::now_ns() - t0);
    }
    secs = static_cast<double>(bench::now_ns() - start) / 1e9;
    emit_trips("sync call identity", mode, lat, secs);
}

}  // namespace

int main(int argc, char **argv) {
    bench::Args args(argc, argv);
    const std::string modes_arg = args.get_str("--mode", "both");
    const long messages = args.get_int("--messages", 200000);
    const long trips = args.get_int("--trips", 20000);
    args.finish();
    if (messages < 1 || trips < 1) bench::die("counts must be >= 1");

    bench::init_runtime();
    bench::die_on(pyctx_endpoint_register("bench.inbox", count_message, nullptr, nullptr),
                  "endpoint_register");
    for (pyctx_mode mode : bench::parse_modes(modes_arg)) {
        pyctx_context_t *ctx = bench::make_context(mode, kPreload);
        const char *m = bench::mode_name(mode);
        bench_send(ctx, m, messages);
        bench_channel(ctx, m, trips);
        bench::close_context(ctx);
    }
    bench::shutdown_runtime();
    return 0;
}
