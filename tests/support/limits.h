// Contexts with a sandbox policy or a memory limit, and a way to try an
// operation inside one and see how it ended.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "pyctx.h"
#include "support/cbor.h"
#include "support/contexts.h"
#include "support/handles.h"

namespace pyctx_test {

struct SandboxDeleter {
    void operator()(pyctx_sandbox_t *s) const { pyctx_sandbox_free(s); }
};
using Sandbox = std::unique_ptr<pyctx_sandbox_t, SandboxDeleter>;

struct LimitedSpec {
    pyctx_mode mode = PYCTX_MODE_WORKER;
    const pyctx_sandbox_t *sandbox = nullptr;
    size_t memory_limit = 0;
    const char *name = nullptr;
    const char *preload = nullptr;
};

// `attempt(code)` runs `code` and tells how it ended: "ok", or
// "<ExceptionType>: <message>". Defined by the preload, which runs before
// the policy applies.
inline constexpr const char *kAttemptPreload = R"(
def attempt(code):
    try:
        exec(code, {})
    except BaseException as e:
        return type(e).__name__ + ": " + str(e)
    return "ok"
)";

inline pyctx_error_t *create_limited_context(Context &out, const LimitedSpec &spec) {
    ContextOptions options(pyctx_context_options_new());
    if (pyctx_error_t *e = pyctx_context_options_set_mode(options.get(), spec.mode)) return e;
    if (spec.name)
        if (pyctx_error_t *e = pyctx_context_options_set_name(options.get(), spec.name)) return e;
    std::string preload = std::string(kAttemptPreload) + (spec.preload ? spec.preload : "");
    if (pyctx_error_t *e = pyctx_context_options_set_preload(options.get(), preload.c_str()))
        return e;
    if (spec.sandbox)
        if (pyctx_error_t *e = pyctx_context_options_set_sandbox(options.get(), spec.sandbox))
            return e;
    if (spec.memory_limit)
        if (pyctx_error_t *e =
                pyctx_context_options_set_memory_limit(options.get(), spec.memory_limit))
            return e;
    pyctx_context_t *raw = nullptr;
    if (pyctx_error_t *e = pyctx_context_create(options.get(), &raw)) return e;
    out.reset(raw);
    return nullptr;
}

// How `code` ended in `ctx` ("ok" or "Type: message"); "<request failed ...>"
// when the request itself failed.
inline std::string attempt(pyctx_context_t *ctx, const std::string &code) {
    Outcome o = call(ctx, "__main__", "attempt", cbor_array(code));
    if (!o.ok()) return "<request failed: " + o.describe() + ">";
    auto text = as_text(o.value);
    return text ? *text : "<not text: " + diag(o.value) + ">";
}

}  // namespace pyctx_test
