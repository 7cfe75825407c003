// Shared helpers of the pyctx benchmark binaries: runtime/context set-up,
// CBOR argument building and figures labelled with pyctx's Python, on top of
// bench_stats.hpp (options, clock, percentiles, JSON lines). Uses the public
// C API only.
#pragma once

#include <pyctx.h>

#include "bench_stats.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// ---- failing loudly ----------------------------------------------------------

// Prints the error (status, Python type, message) and exits: a benchmark
// whose requests fail measures nothing worth printing.
inline void die_on(pyctx_error_t *err, const char *what) {
    if (err == nullptr) return;
    std::fprintf(stderr, "bench: %s failed: %s: %s%s%s\n", what,
                 pyctx_status_name(pyctx_error_status(err)), pyctx_error_message(err),
                 *pyctx_error_python_type(err) ? " " : "", pyctx_error_python_type(err));
    if (*pyctx_error_traceback(err)) std::fprintf(stderr, "%s\n", pyctx_error_traceback(err));
    pyctx_error_free(err);
    std::exit(1);
}

// "status: [PythonType] message" of an error, for reports that continue.
inline std::string describe(const pyctx_error_t *err) {
    std::string s = pyctx_status_name(pyctx_error_status(err));
    s += ": ";
    if (*pyctx_error_python_type(err)) {
        s += pyctx_error_python_type(err);
        s += " ";
    }
    s += pyctx_error_message(err);
    return s;
}

// ---- runtime and contexts ----------------------------------------------------

// Initializes the runtime with bench/ on sys.path (for pyctx_bench_funcs).
inline void init_runtime(pyctx_allocator allocator = PYCTX_ALLOCATOR_DEFAULT) {
    pyctx_runtime_options_t *opts = pyctx_runtime_options_new();
    if (opts == nullptr) die("out of memory");
    die_on(pyctx_runtime_options_add_path(opts, PYCTX_BENCH_DIR), "add_path");
    die_on(pyctx_runtime_options_set_allocator(opts, allocator), "set_allocator");
    die_on(pyctx_init(opts), "pyctx_init");
    pyctx_runtime_options_free(opts);
}

inline void shutdown_runtime() { die_on(pyctx_shutdown(10000), "pyctx_shutdown"); }

inline const char *mode_name(pyctx_mode mode) {
    return mode == PYCTX_MODE_OWNGIL ? "owngil" : mode == PYCTX_MODE_PROCESS ? "process" : "worker";
}

// Parses "worker" / "owngil" / "both" into the list of modes to run; owngil
// is dropped (with a note on stderr) when this Python cannot do it.
inline std::vector<pyctx_mode> parse_modes(const std::string &s) {
    std::vector<pyctx_mode> modes;
    if (s == "worker" || s == "both") modes.push_back(PYCTX_MODE_WORKER);
    if (s == "owngil" || s == "both") {
        if (pyctx_owngil_supported())
            modes.push_back(PYCTX_MODE_OWNGIL);
        else
            std::fprintf(stderr, "bench: owngil unsupported on Python %s, skipped\n",
                         pyctx_python_version());
    }
    if (s == "process" || s == "all") {
        if (s == "all") {
            modes.clear();
            modes.push_back(PYCTX_MODE_WORKER);
            if (pyctx_owngil_supported()) modes.push_back(PYCTX_MODE_OWNGIL);
        }
        modes.push_back(PYCTX_MODE_PROCESS);
    }
    if (s != "worker" && s != "owngil" && s != "both" && s != "process" && s != "all")
        die("--mode must be worker, owngil, both, process or all");
    return modes;
}

// A context running `preload` (nullptr: none) before any request.
inline pyctx_context_t *make_context(pyctx_mode mode, const char *preload) {
    pyctx_context_options_t *opts = pyctx_context_options_new();
    if (opts == nullptr) die("out of memory");
    die_on(pyctx_context_options_set_mode(opts, mode), "set_mode");
    if (preload) die_on(pyctx_context_options_set_preload(opts, preload), "set_preload");
    pyctx_context_t *ctx = nullptr;
    die_on(pyctx_context_create(opts, &ctx), "pyctx_context_create");
    pyctx_context_options_free(opts);
    return ctx;
}

// A context that imports pyctx_bench_funcs (found through the sys.path
// entry init_runtime() adds) up front, so that no measured request pays for
// the import.
inline pyctx_context_t *make_bench_context(pyctx_mode mode) {
    return make_context(mode, "import math, pyctx_bench_funcs");
}

inline void close_context(pyctx_context_t *ctx) {
    die_on(pyctx_context_close(ctx, 10000), "pyctx_context_close");
    pyctx_context_free(ctx);
}

// ---- CBOR ----------------------------------------------------------------------

// Owns one encoded CBOR value built with the library's writer.
struct Cbor {
    std::vector<uint8_t> bytes;
    const uint8_t *data() const { return bytes.data(); }
    size_t size() const { return bytes.size(); }
};

// Builds a value with a writer callback: `build(writer)`.
template <class F> Cbor make_cbor(F build) {
    pyctx_cbor_writer_t *w = pyctx_cbor_writer_new();
    if (w == nullptr) die("out of memory");
    if (build(w) != 0) die("CBOR writer failed");
    size_t len = 0;
    const uint8_t *p = pyctx_cbor_writer_data(w, &len);
    Cbor out{std::vector<uint8_t>(p, p + len)};
    pyctx_cbor_writer_free(w);
    return out;
}

// Reads a CBOR number (int or float) as a double; dies on anything else.
inline double cbor_number(const uint8_t *data, size_t len) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    pyctx_cbor_item_t item;
    die_on(pyctx_cbor_read(&r, &item), "reading a CBOR result");
    switch (item.type) {
    case PYCTX_CBOR_UINT: return static_cast<double>(item.uint_value);
    case PYCTX_CBOR_NEGINT: return static_cast<double>(item.int_value);
    case PYCTX_CBOR_FLOAT: return item.float_value;
    default: die("expected a CBOR number in a result");
    }
}

// Calls module.function(*args) and returns the numeric result.
inline double call_number(pyctx_context_t *ctx, const char *module, const char *function,
                          const Cbor &args) {
    pyctx_bytes_t out{};
    die_on(pyctx_call(ctx, module, function, args.data(), args.size(), nullptr, 0,
                      PYCTX_NO_TIMEOUT, &out),
           function);
    double v = cbor_number(out.data, out.len);
    pyctx_bytes_free(&out);
    return v;
}

// ---- memory ----------------------------------------------------------------------

// Resident set size of this process in KiB, from /proc/self/status.
inline long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    die("VmRSS not found in /proc/self/status");
}

// ---- output ----------------------------------------------------------------------

// One JSON line per figure (see emit_line in bench_stats.hpp), labelled
// with the Python that pyctx loaded.
inline void emit(const char *bench, const std::string &case_name, const char *mode,
                 const char *metric, double value, const char *unit) {
    emit_line(bench, case_name, mode, metric, value, unit, pyctx_python_version());
}

// A benchmark that could not run (see emit_unavailable_line).
inline void emit_unavailable(const char *bench, const std::string &case_name, const char *mode,
                             const std::string &reason) {
    emit_unavailable_line(bench, case_name, mode, reason, pyctx_python_version());
}

}  // namespace bench
