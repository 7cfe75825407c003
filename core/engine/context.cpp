#include "core/engine/context.h"

#include "core/base/futex.h"
#include "core/engine/inproc/inproc_executor.h"
#include "core/engine/process/process_executor.h"
#include "core/engine/runtime.h"

namespace pyctx::core {

namespace {
std::atomic<uint64_t> g_context_counter{0};
}  // namespace

Context::Context(ContextOptions options)
    : options_(std::move(options)),
      lane_(options_.name, options_.queue_capacity, Runtime::get().service()) {}

Context::~Context() = default;

Error Context::create(ContextOptions options, std::shared_ptr<Context> *out) {
    Runtime &rt = Runtime::get();
    if (!rt.running()) return Error(Status::not_running, "the runtime is not running");
    if (options.mode == Mode::owngil && !Runtime::owngil_supported()) {
        return Error(Status::unsupported,
                     std::string("owngil contexts need Python 3.12+, this is ") + rt.python_version());
    }
    if (options.memory_limit && options.mode == Mode::worker) {
        return Error(Status::unsupported,
                     "a memory limit needs an owngil or process context: worker contexts share "
                     "the main interpreter, whose allocations cannot be told apart");
    }
    uint64_t n = g_context_counter.fetch_add(1, std::memory_order_relaxed) + 1;
    if (options.name.empty()) options.name = "pyctx-" + std::to_string(n);

    std::shared_ptr<Context> ctx(new Context(std::move(options)));
    if (ctx->options_.memory_limit && ctx->options_.mode == Mode::owngil)
        ctx->memory_cap_ = std::make_unique<MemoryCap>(ctx->options_.memory_limit);
    if (ctx->options_.mode == Mode::process) {
        ctx->executor_ = std::make_unique<ProcessExecutor>(*ctx);
    } else {
        ctx->executor_ = std::make_unique<InprocExecutor>(*ctx);
    }
    ctx->lane_.attach(ctx->executor_.get(), ctx);
    if (Error e = rt.add_context(ctx); !e.ok()) return e;
    if (Error e = ctx->executor_->start(); !e.ok()) {
        rt.remove_context(ctx.get());
        return e;
    }
    *out = std::move(ctx);
    return {};
}

void Context::drop_env(uint64_t env_id) { executor_->release_env(env_id); }

Error Context::close(uint32_t timeout_ms) {
    return close_until(now_ns() + static_cast<int64_t>(timeout_ms) * 1000000);
}

Error Context::close_until(int64_t deadline) {
    if (executor_->on_own_thread()) {
        return Error(Status::invalid_argument,
                     "a context cannot be closed from its own thread (closing waits for that "
                     "thread to finish)");
    }
    lane_.begin_close();
    std::lock_guard lock(close_mu_);
    // The deadline bounds the wait for Python to return; what follows is
    // delivering completions, which progresses without Python.
    if (executor_->wait_left_python(deadline)) {
        executor_->wait_exited(INT64_MAX);
        return {};
    }
    // Python did not return: complete everything still queued from here and
    // leave the executor (which owns a reference to us) to finish on its own.
    lane_.complete_all_as_closed(Origin::host_thread);
    executor_->abandon();
    if (uint64_t held = buffers_->held()) {
        return Error(Status::stuck, "context '" + options_.name + "' did not stop in time: the host "
                                    "still holds " + std::to_string(held) + " buffer view(s) of its "
                                    "Python objects; its thread ends its interpreter once they are "
                                    "released (pyctx_buffer_free)");
    }
    return Error(Status::stuck, "context '" + options_.name +
                                    "' did not stop in time: Python is still running there "
                                    "(not a backlog: queued requests were completed as closed); "
                                    "its thread and memory stay pinned until it returns");
}

ContextStats Context::stats() const {
    ContextStats s;
    static_cast<LaneStats &>(s) = lane_.stats();
    s.thread_id = executor_->thread_id();
    if (options_.mode == Mode::process) {
        auto &px = static_cast<const ProcessExecutor &>(*executor_);
        s.child_pid = px.child_pid();
        s.restarts = px.restarts();
        s.memory_limit = options_.memory_limit;
    }
    if (memory_cap_) {
        s.memory_used = memory_cap_->used();
        s.memory_limit = memory_cap_->limit();
    }
    return s;
}

}  // namespace pyctx::core
