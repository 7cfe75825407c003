// Pools (pyctx.h "Pools"): options, life cycle, the one-call requests,
// envs, cancel and stats. Request objects reach pools through
// pyctx_request_set_pool (request_object.cpp).
#include <cstring>

#include "capi/create_handle.h"
#include "capi/handles.h"
#include "capi/option_setters.h"
#include "capi/pool_handles.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;
using capi::set_enum;
using capi::set_option;
using capi::set_text;

// The header's values are the core's (as capi/abi_checks.cpp does for the rest).
static_assert(PYCTX_POOL_LEAST_QUEUED == static_cast<int>(core::RoutePolicy::least_queued));
static_assert(PYCTX_POOL_ROUND_ROBIN == static_cast<int>(core::RoutePolicy::round_robin));
static_assert(PYCTX_POOL_BY_KEY == static_cast<int>(core::RoutePolicy::by_key));
static_assert(PYCTX_POOL_REPLACE == static_cast<int>(core::ReplacePolicy::replace));
static_assert(PYCTX_POOL_LEAVE == static_cast<int>(core::ReplacePolicy::leave));
static_assert(PYCTX_POOL_MAX_SIZE == core::PoolOptions::kMaxSize);

namespace {

pyctx_error_t *check_pool(const pyctx_pool_t *pool) {
    if (!pool) return invalid("pool is NULL");
    if (!core::Runtime::get().running()) return capi::not_running();
    return nullptr;
}

// The error for a member index the pool does not have.
pyctx_error_t *no_member(const pyctx_pool_t *pool, size_t index) {
    return capi::make_error(PYCTX_ERR_NOT_FOUND, "pool '" + pool->pool->name() +
                                                     "' has no member " + std::to_string(index));
}

}  // namespace

extern "C" {

// ---- options ----------------------------------------------------------------

PYCTX_API pyctx_pool_options_t *pyctx_pool_options_new(void) {
    return new (std::nothrow) pyctx_pool_options();
}

PYCTX_API void pyctx_pool_options_free(pyctx_pool_options_t *options) { delete options; }

PYCTX_API pyctx_error_t *pyctx_pool_options_set_size(pyctx_pool_options_t *options, size_t size) {
    return set_option(options, [&]() -> pyctx_error_t * {
        if (size == 0 || size > PYCTX_POOL_MAX_SIZE)
            return invalid("a pool has 1 to " + std::to_string(PYCTX_POOL_MAX_SIZE) +
                           " members, not " + std::to_string(size));
        options->options.size = size;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_pool_options_set_member_options(
    pyctx_pool_options_t *options, const pyctx_context_options_t *member_options) {
    return set_option(options, [&]() -> pyctx_error_t * {
        if (!member_options) return invalid("member_options is NULL");
        options->options.member = member_options->options;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_pool_options_set_name(pyctx_pool_options_t *options,
                                                     const char *name) {
    return set_text(options, name, "name", [&] { options->options.name = name; });
}

PYCTX_API pyctx_error_t *pyctx_pool_options_set_routing(pyctx_pool_options_t *options,
                                                        pyctx_pool_routing routing) {
    return set_enum(options, static_cast<int>(routing),
                    {PYCTX_POOL_LEAST_QUEUED, PYCTX_POOL_ROUND_ROBIN, PYCTX_POOL_BY_KEY},
                    "pool routing", "least queued, round robin or by key",
                    [&](int r) { options->options.routing = static_cast<core::RoutePolicy>(r); });
}

PYCTX_API pyctx_error_t *pyctx_pool_options_set_queue_bound(pyctx_pool_options_t *options,
                                                            size_t bound) {
    return set_option(options, [&] { options->options.queue_bound = bound; });
}

PYCTX_API pyctx_error_t *pyctx_pool_options_set_replace(pyctx_pool_options_t *options,
                                                        pyctx_pool_replace policy) {
    return set_enum(options, static_cast<int>(policy), {PYCTX_POOL_REPLACE, PYCTX_POOL_LEAVE},
                    "replace policy", "replace or leave",
                    [&](int p) { options->options.replace = static_cast<core::ReplacePolicy>(p); });
}

PYCTX_API pyctx_error_t *pyctx_pool_options_set_key_memory(pyctx_pool_options_t *options,
                                                           size_t keys) {
    return set_option(options, [&] { options->options.key_memory = keys; });
}

// ---- life cycle -------------------------------------------------------------

PYCTX_API pyctx_error_t *pyctx_pool_create(const pyctx_pool_options_t *options,
                                           pyctx_pool_t **out_pool) {
    return capi::create_handle<core::Pool>(options, out_pool, "out_pool");
}

PYCTX_API pyctx_error_t *pyctx_pool_close(pyctx_pool_t *pool, uint32_t timeout_ms) {
    return capi::close_handle(pool, "pool", "pyctx_pool_free",
                              [&] { return pool->pool->close(timeout_ms); });
}

PYCTX_API void pyctx_pool_free(pyctx_pool_t *pool) {
    if (!pool) return;
    try {
        pool->pool->begin_close();
    } catch (...) {
        // Out of memory collecting the members: they close with the runtime.
    }
    delete pool;
}

PYCTX_API pyctx_error_t *pyctx_pool_resize(pyctx_pool_t *pool, size_t size, uint32_t timeout_ms) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_pool(pool)) return e;
        return capi::to_c(pool->pool->resize(size, timeout_ms));
    });
}

PYCTX_API size_t pyctx_pool_size(const pyctx_pool_t *pool) {
    return pool ? pool->pool->size() : 0;
}

PYCTX_API const char *pyctx_pool_name(const pyctx_pool_t *pool) {
    return pool ? pool->pool->name().c_str() : "";
}

PYCTX_API int pyctx_pool_is_closed(const pyctx_pool_t *pool) {
    return !pool || pool->pool->is_closed() ? 1 : 0;
}

PYCTX_API pyctx_error_t *pyctx_pool_member_context(pyctx_pool_t *pool, size_t index,
                                                   pyctx_context_t **out_context) {
    return guarded([&]() -> pyctx_error_t * {
        if (!pool) return invalid("pool is NULL");
        if (!out_context) return invalid("out_context is NULL");
        std::shared_ptr<core::Context> ctx = pool->pool->member(index);
        if (!ctx) return no_member(pool, index);
        *out_context = new pyctx_context{std::move(ctx), false};
        return nullptr;
    });
}

// ---- requests ---------------------------------------------------------------

PYCTX_API pyctx_error_t *pyctx_pool_cancel(pyctx_pool_t *pool, uint64_t request_id) {
    return guarded([&]() -> pyctx_error_t * {
        if (!pool) return invalid("pool is NULL");
        if (request_id == 0) return invalid("request id 0 is never valid");
        return capi::to_c(pool->pool->cancel(request_id));
    });
}

PYCTX_API pyctx_error_t *pyctx_pool_call(pyctx_pool_t *pool, const char *module,
                                         const char *function, const uint8_t *args,
                                         size_t args_len, const uint8_t *kwargs,
                                         size_t kwargs_len, uint32_t timeout_ms,
                                         pyctx_bytes_t *out_result) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_pool(pool)) return e;
        if (!out_result) return invalid("out_result is NULL");
        core::RequestRef r(core::PooledRequest::make());
        if (auto *e = capi::fill_request(r.get(), core::RequestKind::call, module, function,
                                         nullptr, args, args_len, kwargs, kwargs_len, 0,
                                         timeout_ms))
            return e;
        r->id = pool->pool->next_request_id();
        core::RouteHint hint;
        hint.spread = r->id;
        core::Outcome out = pool->pool->run_sync(std::move(r), hint, nullptr);
        if (!out.error.ok()) return capi::make_error(std::move(out.error));
        out_result->data = out.value.release(&out_result->len);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_pool_call_async(pyctx_pool_t *pool, const char *module,
                                               const char *function, const uint8_t *args,
                                               size_t args_len, const uint8_t *kwargs,
                                               size_t kwargs_len, uint32_t timeout_ms,
                                               pyctx_completion_fn on_complete, void *user_data,
                                               uint64_t *out_request_id) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_pool(pool)) return e;
        if (!on_complete) return invalid("on_complete is NULL");
        core::RequestRef hold(pyctx_result::make());
        auto *r = static_cast<pyctx_result *>(hold.get());
        if (auto *e = capi::fill_request(r, core::RequestKind::call, module, function, nullptr,
                                         args, args_len, kwargs, kwargs_len, 0, timeout_ms))
            return e;
        capi::complete_through_c(r, on_complete, user_data);
        r->id = pool->pool->next_request_id();
        const uint64_t id = r->id;
        core::RouteHint hint;
        hint.spread = id;
        core::Error err = pool->pool->route(hint, [&](core::Context &m, const core::RouteInfo &) {
            r->retain();  // the queue's reference (dropped by submit on refusal)
            return m.lane().submit(core::RequestRef(r), true);
        });
        if (!err.ok()) return capi::make_error(std::move(err));
        if (out_request_id) *out_request_id = id;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_pool_env_create(pyctx_pool_t *pool, pyctx_env_t **out_env) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = check_pool(pool)) return e;
        if (!out_env) return invalid("out_env is NULL");
        std::shared_ptr<core::Context> member;
        if (core::Error e = pool->pool->pick_for_env(&member); !e.ok())
            return capi::make_error(std::move(e));
        // The namespace itself is created lazily on the member's thread.
        *out_env = new pyctx_env{member, member->new_env_id()};
        return nullptr;
    });
}

// ---- stats ------------------------------------------------------------------

PYCTX_API pyctx_error_t *pyctx_pool_stats(const pyctx_pool_t *pool, pyctx_pool_stats_t *out_stats,
                                          size_t stats_size) {
    return guarded([&]() -> pyctx_error_t * {
        if (!pool) return invalid("pool is NULL");
        if (!out_stats) return invalid("out_stats is NULL");
        core::PoolStats s = pool->pool->stats();
        pyctx_pool_stats_t full = {s.size,      s.leaving,   s.created,   s.replaced,
                                   s.replace_failed, s.refused_full, s.completed, s.failed,
                                   s.cancelled, s.timed_out, s.closed,    s.queue_depth,
                                   s.keys_known};
        std::memcpy(out_stats, &full, stats_size < sizeof full ? stats_size : sizeof full);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_pool_member_stats(const pyctx_pool_t *pool, size_t index,
                                                 pyctx_pool_member_stats_t *out_stats,
                                                 size_t stats_size) {
    return guarded([&]() -> pyctx_error_t * {
        if (!pool) return invalid("pool is NULL");
        if (!out_stats) return invalid("out_stats is NULL");
        core::PoolMemberStats s;
        if (!pool->pool->member_stats(index, &s)) return no_member(pool, index);
        pyctx_pool_member_stats_t full = {s.member_id,   s.slot,      s.parked ? 1u : 0u,
                                          s.busy ? 1u : 0u, s.completed, s.failed,
                                          s.cancelled,   s.timed_out, s.closed,
                                          s.queue_depth, s.thread_id};
        std::memcpy(out_stats, &full, stats_size < sizeof full ? stats_size : sizeof full);
        return nullptr;
    });
}

}  // extern "C"
