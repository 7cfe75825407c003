// libFuzzer target over the request path: fuzzed CBOR arguments go through
// the public C API (pyctx_call, pyctx_eval with locals, and their async
// forms) to a worker context running a few harmless Python functions.
//
// Input layout:
//   byte 0      bits 0-1: which function or expression (see kFunctions /
//               kExpressions); bit 2: call (args + kwargs) or eval (locals)
//   bytes 1-2   little-endian length of the first CBOR part (clamped)
//   then        the first part (args, or locals for eval), and the rest is
//               the second part (kwargs; unused by eval)
// An empty part is passed as NULL/0 ("none").
//
// Every input runs synchronously and asynchronously, and the target checks:
//  - a call either succeeds with a value that is one valid CBOR item, or
//    fails with a status a caller can expect from these functions (PYTHON,
//    DECODE, ENCODE) and a message; never INTERNAL, CLOSED, TIMEOUT, ...;
//  - an async submission either is refused with such an error, or completes
//    exactly once, with the id it was given, and a result whose status,
//    value and error agree;
//  - the sync and async forms of one request end the same way, with the
//    same bytes on success;
//  - what pyctx encodes it decodes back to the same bytes: ident of an
//    ident result returns that result unchanged (except around sets, whose
//    iteration order Python may change when it rebuilds them).
//
// Python is initialized once per fuzz process, with the malloc allocator so
// that ASan sees every Python object (a refcount bug in pyctx then shows as
// a use-after-free instead of silently reusing pymalloc memory).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include <sanitizer/lsan_interface.h>

#include "pyctx.h"

namespace {

pyctx_context_t *g_ctx = nullptr;

const char kPreload[] =
    "def ident(*args, **kwargs):\n"
    "    return args[0] if args else None\n"
    "def echo(*args, **kwargs):\n"
    "    return [list(args), kwargs]\n";

struct Function {
    const char *module;
    const char *name;
};
const Function kFunctions[4] = {
    {"__main__", "ident"}, {"builtins", "repr"}, {"builtins", "len"}, {"__main__", "echo"}};
// Expressions over the locals map: the map itself, its repr, its size, and
// the Python types the values decoded to.
const char *const kExpressions[4] = {
    "locals()", "repr(locals())", "len(locals())",
    "[type(v).__name__ for v in list(locals().values())]"};

[[noreturn]] void fail(const char *what, const pyctx_error_t *e = nullptr) {
    std::fprintf(stderr, "fuzz_call: %s", what);
    if (e)
        std::fprintf(stderr, ": %s %s: %s", pyctx_status_name(pyctx_error_status(e)),
                     pyctx_error_python_type(e), pyctx_error_message(e));
    std::fprintf(stderr, "\n");
    std::abort();
}

void check_value(const uint8_t *data, size_t len) {
    if (!data || len == 0) fail("success without a value");
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, data, len);
    if (pyctx_error_t *e = pyctx_cbor_skip(&r)) fail("result is not valid CBOR", e);
    if (!pyctx_cbor_reader_at_end(&r)) fail("result has trailing bytes");
}

// The statuses these functions may end with for any argument bytes.
void check_error(const pyctx_error_t *e) {
    pyctx_status s = pyctx_error_status(e);
    if (s != PYCTX_ERR_PYTHON && s != PYCTX_ERR_DECODE && s != PYCTX_ERR_ENCODE)
        fail("unexpected status", e);
    const char *msg = pyctx_error_message(e);
    const char *type = pyctx_error_python_type(e);
    const char *tb = pyctx_error_traceback(e);
    if (!msg || !type || !tb) fail("NULL error accessor");
    if (s == PYCTX_ERR_PYTHON ? !*type : (*type || !*msg))
        fail("error fields do not match the status", e);
}

// One async request's completion record. Records stay alive for a while
// after they complete, so that a second completion is caught here (and not
// only by ASan as a use-after-free).
struct Pending {
    std::atomic<int> calls{0};
    uint64_t id_seen = 0;
    pyctx_status status = PYCTX_OK;
    std::vector<uint8_t> value;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
};
std::deque<Pending *> g_retired;

void on_complete(void *user_data, uint64_t request_id, pyctx_result_t *result) {
    auto *p = static_cast<Pending *>(user_data);
    if (p->calls.fetch_add(1) != 0) fail("a request completed twice");
    if (!result) fail("completion without a result");
    pyctx_status s = pyctx_result_status(result);
    const pyctx_error_t *e = pyctx_result_error(result);
    size_t len = 0;
    const uint8_t *v = pyctx_result_value(result, &len);
    if (s == PYCTX_OK) {
        if (e) fail("successful result with an error");
        check_value(v, len);
        // Half of the time through the zero-copy accessor.
        if (request_id & 1) {
            pyctx_bytes_t out = {nullptr, 0};
            if (pyctx_error_t *te = pyctx_result_take_value(result, &out))
                fail("take_value failed", te);
            check_value(out.data, out.len);
            size_t left = 1;
            if (pyctx_result_value(result, &left) || left) fail("take_value left a value");
            p->value.assign(out.data, out.data + out.len);
            pyctx_bytes_free(&out);
        } else {
            p->value.assign(v, v + len);
        }
    } else {
        if (!e || pyctx_error_status(e) != s) fail("result status and error disagree");
        if (v || len) fail("failed result with a value");
        check_error(e);
    }
    pyctx_result_free(result);
    std::lock_guard<std::mutex> lock(p->mu);
    p->id_seen = request_id;
    p->status = s;
    p->done = true;
    p->cv.notify_one();
}

bool has_set_tag(const std::vector<uint8_t> &v) {
    pyctx_cbor_reader_t r;
    pyctx_cbor_reader_init(&r, v.data(), v.size());
    pyctx_cbor_item_t item;
    while (!pyctx_cbor_reader_at_end(&r)) {
        if (pyctx_error_t *e = pyctx_cbor_read(&r, &item)) fail("re-reading a result", e);
        if (item.type == PYCTX_CBOR_TAG && item.uint_value == PYCTX_CBOR_TAG_SET) return true;
    }
    return false;
}

struct Outcome {
    pyctx_status status;
    std::vector<uint8_t> value;
};

Outcome run_sync(bool eval, int which, const uint8_t *a, size_t alen, const uint8_t *b,
                 size_t blen) {
    pyctx_bytes_t out = {nullptr, 0};
    pyctx_error_t *e =
        eval ? pyctx_eval(g_ctx, kExpressions[which], nullptr, a, alen, PYCTX_NO_TIMEOUT, &out)
             : pyctx_call(g_ctx, kFunctions[which].module, kFunctions[which].name, a, alen, b,
                          blen, PYCTX_NO_TIMEOUT, &out);
    if (e) {
        check_error(e);
        if (out.data || out.len) fail("failed call wrote its result");
        Outcome o{pyctx_error_status(e), {}};
        pyctx_error_free(e);
        return o;
    }
    check_value(out.data, out.len);
    Outcome o{PYCTX_OK, std::vector<uint8_t>(out.data, out.data + out.len)};
    pyctx_bytes_free(&out);
    return o;
}

Outcome run_async(bool eval, int which, const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen) {
    auto *p = new Pending;
    uint64_t id = 0;
    pyctx_error_t *e =
        eval ? pyctx_eval_async(g_ctx, kExpressions[which], nullptr, a, alen, PYCTX_NO_TIMEOUT,
                                on_complete, p, &id)
             : pyctx_call_async(g_ctx, kFunctions[which].module, kFunctions[which].name, a,
                                alen, b, blen, PYCTX_NO_TIMEOUT, on_complete, p, &id);
    if (e) {
        // A refused request never completes: its record is freed at once, so
        // a stray callback would be a use-after-free that ASan reports.
        check_error(e);
        if (pyctx_error_status(e) != PYCTX_ERR_DECODE) fail("submission refused", e);
        Outcome o{pyctx_error_status(e), {}};
        pyctx_error_free(e);
        delete p;
        return o;
    }
    if (id == 0) fail("accepted request with id 0");
    Outcome o;
    {
        std::unique_lock<std::mutex> lock(p->mu);
        p->cv.wait(lock, [p] { return p->done; });
        if (p->id_seen != id) fail("completion carries another request's id");
        o.status = p->status;
        o.value = std::move(p->value);
    }
    g_retired.push_back(p);
    if (g_retired.size() > 256) {
        delete g_retired.front();
        g_retired.pop_front();
    }
    return o;
}

void shutdown_at_exit() {
    // The whole run's leak check, while Python is still up. After
    // pyctx_shutdown, CPython leaves its interned strings unfreed and LSan
    // would report thousands of them; before it, they are reachable, so what
    // this reports is memory nothing points to any more. (libFuzzer's check
    // after single inputs is off for this target: pooled requests keep their
    // last contents until reused and results are released on library
    // threads, so nearly every input looks unbalanced to it and it would
    // scan the heap after each one.)
    __lsan_do_leak_check();
    // Close while no request is in flight: every run has waited for its
    // completion. Afterwards no retired record can be called any more.
    if (pyctx_error_t *e = pyctx_context_close(g_ctx, 10000)) fail("close failed", e);
    pyctx_context_free(g_ctx);
    if (pyctx_error_t *e = pyctx_shutdown(10000)) fail("shutdown failed", e);
    for (Pending *p : g_retired) delete p;
    g_retired.clear();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    pyctx_runtime_options_t *ro = pyctx_runtime_options_new();
    if (!ro) fail("runtime options");
    if (pyctx_error_t *e = pyctx_runtime_options_set_allocator(ro, PYCTX_ALLOCATOR_MALLOC))
        fail("set allocator", e);
    if (pyctx_error_t *e = pyctx_init(ro)) fail("init", e);
    pyctx_runtime_options_free(ro);

    pyctx_context_options_t *co = pyctx_context_options_new();
    if (!co) fail("context options");
    if (pyctx_error_t *e = pyctx_context_options_set_name(co, "fuzz")) fail("set name", e);
    // A worker context by default; PYCTX_FUZZ_CALL_MODE=owngil fuzzes the
    // subinterpreter's own copy of the pyctx module instead.
    if (const char *mode = std::getenv("PYCTX_FUZZ_CALL_MODE"))
        if (pyctx_error_t *e = pyctx_context_options_set_mode_name(co, mode))
            fail("PYCTX_FUZZ_CALL_MODE", e);
    if (pyctx_error_t *e = pyctx_context_options_set_preload(co, kPreload))
        fail("set preload", e);
    if (pyctx_error_t *e = pyctx_context_create(co, &g_ctx)) fail("create", e);
    pyctx_context_options_free(co);
    std::atexit(shutdown_at_exit);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    int which = data[0] & 3;
    bool eval = (data[0] & 4) != 0;
    size_t first = static_cast<size_t>(data[1]) | static_cast<size_t>(data[2]) << 8;
    data += 3;
    size -= 3;
    if (first > size) first = size;
    const uint8_t *a = first ? data : nullptr;
    const uint8_t *b = size > first ? data + first : nullptr;
    size_t blen = size - first;

    Outcome s = run_sync(eval, which, a, first, b, blen);
    Outcome as = run_async(eval, which, a, first, b, blen);
    if (s.status != as.status) {
        std::fprintf(stderr, "sync: %s, async: %s\n", pyctx_status_name(s.status),
                     pyctx_status_name(as.status));
        fail("sync and async forms of one request end differently");
    }
    if (s.value != as.value) fail("sync and async forms return different bytes");

    if (!eval && which == 0 && s.status == PYCTX_OK && !has_set_tag(s.value)) {
        std::vector<uint8_t> args(1, 0x81);  // [result]
        args.insert(args.end(), s.value.begin(), s.value.end());
        Outcome again = run_sync(false, 0, args.data(), args.size(), nullptr, 0);
        if (again.status != PYCTX_OK) fail("an ident result does not decode again");
        if (again.value != s.value) fail("an ident result does not round-trip");
    }
    return 0;
}
