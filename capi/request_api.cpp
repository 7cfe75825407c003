// Requests: call/eval/exec (sync and async), results and cancellation.
#include <cstring>

#include "capi/handles.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;
using capi::deadline_from;
using capi::fill_request;

namespace pyctx::capi {

pyctx_error_t *fill_request(core::Request *r, core::RequestKind kind, const char *target,
                            const char *text, const char *text_what, const uint8_t *args,
                            size_t args_len, const uint8_t *kwargs, size_t kwargs_len,
                            uint64_t env_id, uint32_t timeout_ms) {
    r->kind = kind;
    size_t target_len = 0, text_len = 0;
    if (kind == core::RequestKind::call) {
        if (auto *e = capi::check_text(target, "module", false, &target_len)) return e;
        if (auto *e = capi::check_text(text, "function", false, &text_len)) return e;
        if (auto *e = capi::check_cbor(args, args_len, 4, "args")) return e;
        if (auto *e = capi::check_cbor(kwargs, kwargs_len, 5, "kwargs")) return e;
        r->target.assign(target, target_len);
    } else {
        if (auto *e = capi::check_text(text, text_what, kind == core::RequestKind::exec, &text_len))
            return e;
        if (auto *e = capi::check_cbor(args, args_len, 5, "locals")) return e;
    }
    r->text.assign(text, text_len);
    if (args_len && !r->args.append(args, args_len)) throw std::bad_alloc();
    if (kwargs_len && !r->kwargs.append(kwargs, kwargs_len)) throw std::bad_alloc();
    r->env_id = env_id;
    r->deadline_ns = deadline_from(timeout_ms);
    return nullptr;
}

namespace {

// The core's completion sink for C callers: the request is a pyctx_result.
void deliver_to_c(core::Request *r, void *user_data) {
    auto *result = static_cast<pyctx_result *>(r);
    if (!r->outcome.error.ok()) result->error_object.error = std::move(r->outcome.error);
    r->retain();  // the callback's reference, dropped by pyctx_result_free
    result->on_complete(user_data, r->id, result);
}

}  // namespace

void complete_through_c(pyctx_result *r, pyctx_completion_fn on_complete, void *user_data) {
    r->sink = deliver_to_c;
    r->sink_data = user_data;
    r->on_complete = on_complete;
    r->user_data = user_data;
}

}  // namespace pyctx::capi

namespace {

pyctx_error_t *check_context(pyctx_context_t *context) {
    if (!context) return invalid("context is NULL");
    if (!core::Runtime::get().running()) return capi::not_running();
    return nullptr;
}

pyctx_error_t *check_env(pyctx_context_t *context, pyctx_env_t *env) {
    if (env && env->ctx != context->ctx) {
        return invalid("env belongs to context '" + env->ctx->name() + "', not '" +
                       context->ctx->name() + "'");
    }
    return nullptr;
}

pyctx_error_t *run_sync(pyctx_context_t *context, core::RequestRef request,
                        pyctx_bytes_t *out_result) {
    request->id = context->ctx->lane().next_request_id();
    core::Outcome out = context->ctx->lane().run_sync(std::move(request));
    if (!out.error.ok()) return capi::make_error(std::move(out.error));
    if (out_result) out_result->data = out.value.release(&out_result->len);
    return nullptr;
}

pyctx_error_t *submit_async(pyctx_context_t *context, pyctx_result *r,
                            pyctx_completion_fn on_complete, void *user_data,
                            uint64_t *out_request_id) {
    core::RequestRef hold(r);
    capi::complete_through_c(r, on_complete, user_data);
    r->id = context->ctx->lane().next_request_id();
    uint64_t id = r->id;
    core::Error err = context->ctx->lane().submit(std::move(hold), true);
    if (!err.ok()) return capi::make_error(std::move(err));
    if (out_request_id) *out_request_id = id;
    return nullptr;
}

// The shared body of every *_async entry point: checks, allocation, the
// kind-specific `fill_kind`, submission.
template <class Fill>
pyctx_error_t *submit_new(pyctx_context_t *context, pyctx_env_t *env,
                          pyctx_completion_fn on_complete, void *user_data,
                          uint64_t *out_request_id, Fill &&fill_kind) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_context(context)) return e;
        if (!on_complete) return invalid("on_complete is NULL");
        if (auto *e = check_env(context, env)) return e;
        auto *r = pyctx_result::make();
        if (auto *e = fill_kind(r)) {
            r->release();
            return e;
        }
        return submit_async(context, r, on_complete, user_data, out_request_id);
    });
}

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_call(pyctx_context_t *context, const char *module,
                                    const char *function, const uint8_t *args, size_t args_len,
                                    const uint8_t *kwargs, size_t kwargs_len, uint32_t timeout_ms,
                                    pyctx_bytes_t *out_result) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_context(context)) return e;
        if (!out_result) return invalid("out_result is NULL");
        core::RequestRef r(core::PooledRequest::make());
        if (auto *e = fill_request(r.get(), core::RequestKind::call, module, function, nullptr, args,
                           args_len, kwargs, kwargs_len, 0, timeout_ms))
            return e;
        return run_sync(context, std::move(r), out_result);
    });
}

PYCTX_API pyctx_error_t *pyctx_eval(pyctx_context_t *context, const char *expression,
                                    pyctx_env_t *env, const uint8_t *locals, size_t locals_len,
                                    uint32_t timeout_ms, pyctx_bytes_t *out_result) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_context(context)) return e;
        if (!out_result) return invalid("out_result is NULL");
        if (auto *e = check_env(context, env)) return e;
        core::RequestRef r(core::PooledRequest::make());
        if (auto *e = fill_request(r.get(), core::RequestKind::eval, nullptr, expression, "expression",
                           locals, locals_len, nullptr, 0, env ? env->id : 0, timeout_ms))
            return e;
        return run_sync(context, std::move(r), out_result);
    });
}

PYCTX_API pyctx_error_t *pyctx_exec(pyctx_context_t *context, const char *code, pyctx_env_t *env,
                                    uint32_t timeout_ms) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_context(context)) return e;
        if (auto *e = check_env(context, env)) return e;
        core::RequestRef r(core::PooledRequest::make());
        if (auto *e = fill_request(r.get(), core::RequestKind::exec, nullptr, code, "code", nullptr, 0,
                           nullptr, 0, env ? env->id : 0, timeout_ms))
            return e;
        return run_sync(context, std::move(r), nullptr);
    });
}

PYCTX_API pyctx_error_t *pyctx_call_async(pyctx_context_t *context, const char *module,
                                          const char *function, const uint8_t *args,
                                          size_t args_len, const uint8_t *kwargs,
                                          size_t kwargs_len, uint32_t timeout_ms,
                                          pyctx_completion_fn on_complete, void *user_data,
                                          uint64_t *out_request_id) {
    return submit_new(context, nullptr, on_complete, user_data, out_request_id, [&](pyctx_result *r) {
        return fill_request(r, core::RequestKind::call, module, function, nullptr, args, args_len, kwargs,
                    kwargs_len, 0, timeout_ms);
    });
}

PYCTX_API pyctx_error_t *pyctx_eval_async(pyctx_context_t *context, const char *expression,
                                          pyctx_env_t *env, const uint8_t *locals,
                                          size_t locals_len, uint32_t timeout_ms,
                                          pyctx_completion_fn on_complete, void *user_data,
                                          uint64_t *out_request_id) {
    return submit_new(context, env, on_complete, user_data, out_request_id, [&](pyctx_result *r) {
        return fill_request(r, core::RequestKind::eval, nullptr, expression, "expression", locals,
                    locals_len, nullptr, 0, env ? env->id : 0, timeout_ms);
    });
}

PYCTX_API pyctx_error_t *pyctx_exec_async(pyctx_context_t *context, const char *code,
                                          pyctx_env_t *env, uint32_t timeout_ms,
                                          pyctx_completion_fn on_complete, void *user_data,
                                          uint64_t *out_request_id) {
    return submit_new(context, env, on_complete, user_data, out_request_id, [&](pyctx_result *r) {
        return fill_request(r, core::RequestKind::exec, nullptr, code, "code", nullptr, 0, nullptr, 0,
                    env ? env->id : 0, timeout_ms);
    });
}

PYCTX_API pyctx_error_t *pyctx_cancel(pyctx_context_t *context, uint64_t request_id) {
    return guarded([&]() -> pyctx_error_t * {
        if (!context) return invalid("context is NULL");
        if (request_id == 0) return invalid("request id 0 is never valid");
        return capi::to_c(context->ctx->lane().cancel(request_id));
    });
}

// ---- results ---------------------------------------------------------------

PYCTX_API void pyctx_result_free(pyctx_result_t *result) {
    if (result) result->release();
}

PYCTX_API pyctx_status pyctx_result_status(const pyctx_result_t *result) {
    if (!result) return PYCTX_ERR_INVALID_ARGUMENT;
    return static_cast<pyctx_status>(result->error_object.error.status);
}

PYCTX_API const uint8_t *pyctx_result_value(const pyctx_result_t *result, size_t *out_len) {
    if (!result || !result->error_object.error.ok() || result->outcome.value.empty()) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    if (out_len) *out_len = result->outcome.value.size();
    return result->outcome.value.data();
}

PYCTX_API const pyctx_error_t *pyctx_result_error(const pyctx_result_t *result) {
    if (!result || result->error_object.error.ok()) return nullptr;
    return &result->error_object;
}

PYCTX_API pyctx_error_t *pyctx_result_take_value(pyctx_result_t *result,
                                                 pyctx_bytes_t *out_value) {
    if (!result) return invalid("result is NULL");
    if (!out_value) return invalid("out_value is NULL");
    if (!result->error_object.error.ok() || result->outcome.value.empty())
        return invalid("the result holds no value");
    out_value->data = result->outcome.value.release(&out_value->len);
    return nullptr;
}

}  // extern "C"
