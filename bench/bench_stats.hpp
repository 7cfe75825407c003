// The measuring half of the benchmark helpers, with no pyctx and no Python
// in it: command-line options, the clock, percentiles, the one latency and
// throughput loop every round-trip figure comes from, and the JSON-lines
// output that bench/run.py collects. bench_common.hpp adds pyctx on top;
// the calibration (bench_handoff) and the direct-embedding baseline
// (bench_embed) use this header alone, so that all of them time a round
// trip in exactly the same way.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bench {

[[noreturn]] inline void die(const std::string &msg) {
    std::fprintf(stderr, "bench: %s\n", msg.c_str());
    std::exit(1);
}

// ---- command line -------------------------------------------------------------

// `--name value` options with defaults; unknown options are an error.
class Args {
public:
    Args(int argc, char **argv) : argv_(argv + 1, argv + argc) {}

    long get_int(const char *name, long fallback) {
        const char *v = find(name);
        if (v == nullptr) return fallback;
        char *end = nullptr;
        long n = std::strtol(v, &end, 10);
        if (end == v || *end != '\0' || n < 0) die(std::string("bad value for ") + name + ": " + v);
        return n;
    }
    std::string get_str(const char *name, const char *fallback) {
        const char *v = find(name);
        return v ? v : fallback;
    }
    // Call after every option was read: rejects leftovers (typos).
    void finish() {
        for (size_t i = 0; i < argv_.size(); ++i)
            if (!used_[i]) die("unknown argument: " + argv_[i]);
    }

private:
    const char *find(const char *name) {
        used_.resize(argv_.size(), false);
        for (size_t i = 0; i + 1 < argv_.size(); ++i) {
            if (argv_[i] == name) {
                used_[i] = used_[i + 1] = true;
                return argv_[i + 1].c_str();
            }
        }
        return nullptr;
    }
    std::vector<std::string> argv_;
    std::vector<bool> used_ = std::vector<bool>(argv_.size(), false);
};

// ---- clocks and statistics ------------------------------------------------------

using Clock = std::chrono::steady_clock;

inline int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// The p-th percentile (0..100) by nearest rank; sorts `v` in place.
inline double percentile(std::vector<double> &v, double p) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.5);
    if (rank == 0) rank = 1;
    if (rank > v.size()) rank = v.size();
    return v[rank - 1];
}

// What one latency/throughput measurement gives.
struct LoopFigures {
    double p50_ns, p99_ns, per_s;
};

// Runs `one_request` after a warm-up as a latency loop (a clock read around
// each request: p50, p99) and then as a throughput loop (no clock inside:
// requests per second). Every round trip in bench/ is timed by this, so
// that a pyctx call, a direct call and a bare thread handoff carry the
// same clock overhead and their ratios compare like with like.
template <class F> LoopFigures measure_loop(long calls, F &&one_request) {
    for (long i = 0; i < calls / 10 + 100; ++i) one_request();  // warm-up

    std::vector<double> lat_ns(static_cast<size_t>(calls));
    for (auto &slot : lat_ns) {
        int64_t t0 = now_ns();
        one_request();
        slot = static_cast<double>(now_ns() - t0);
    }
    int64_t t0 = now_ns();
    for (long i = 0; i < calls; ++i) one_request();
    double secs = static_cast<double>(now_ns() - t0) / 1e9;
    return {percentile(lat_ns, 50), percentile(lat_ns, 99), static_cast<double>(calls) / secs};
}

// ---- output ----------------------------------------------------------------------

// One JSON line per figure: {"bench", "case", "mode", "metric", "value",
// "unit"[, "python"]}. bench/run.py groups lines by everything but the value
// and takes the median over runs. `python` is nullptr for figures that do
// not involve Python (the thread-handoff calibration).
inline void emit_line(const char *bench, const std::string &case_name, const char *mode,
                      const char *metric, double value, const char *unit, const char *python) {
    std::printf("{\"bench\": \"%s\", \"case\": \"%s\", \"mode\": \"%s\", \"metric\": \"%s\", "
                "\"value\": %.6g, \"unit\": \"%s\"",
                bench, case_name.c_str(), mode, metric, value, unit);
    if (python != nullptr) std::printf(", \"python\": \"%s\"", python);
    std::printf("}\n");
    std::fflush(stdout);
}

// The three figures of measure_loop() under the metric names run.py reads.
inline void emit_loop(const char *bench, const std::string &case_name, const char *mode,
                      const LoopFigures &f, const char *python) {
    emit_line(bench, case_name, mode, "p50_ns", f.p50_ns, "ns", python);
    emit_line(bench, case_name, mode, "p99_ns", f.p99_ns, "ns", python);
    emit_line(bench, case_name, mode, "per_s", f.per_s, "1/s", python);
}

// A benchmark that could not run (e.g. the engine or this Python lacks a
// feature): the runner prints "unavailable" with the reason instead of a
// figure.
inline void emit_unavailable_line(const char *bench, const std::string &case_name,
                                  const char *mode, const std::string &reason,
                                  const char *python) {
    std::string r;
    for (char c : reason) {  // JSON-escape the reason
        if (c == '"' || c == '\\') {
            r += '\\';
            r += c;
        } else if (c == '\n') {
            r += "\\n";
        } else if (static_cast<unsigned char>(c) >= 0x20) {
            r += c;
        }
    }
    std::printf("{\"bench\": \"%s\", \"case\": \"%s\", \"mode\": \"%s\", \"unavailable\": \"%s\", "
                "\"python\": \"%s\"}\n",
                bench, case_name.c_str(), mode, r.c_str(), python);
    std::fflush(stdout);
}

}  // namespace bench
