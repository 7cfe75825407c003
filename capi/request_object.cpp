// Request objects (pyctx_request_*): one operation's life behind a handle,
// on the same engine path as the one-call functions (core/engine/lane.h).
#include <memory>
#include <mutex>

#include "capi/buffer_handle.h"
#include "capi/handle_request.h"
#include "capi/handles.h"
#include "capi/pool_handles.h"
#include "capi/objects.h"
#include "capi/request_settings.h"
#include "core/base/futex.h"
#include "core/base/spin_lock.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;
using capi::deadline_from;

// Outside the anonymous namespace: pyctx_request (external linkage) holds one.
namespace pyctx::capi {
enum class RequestHandleState : int { fresh = 0, in_flight = 1, done = 2 };
}  // namespace pyctx::capi
using HandleState = pyctx::capi::RequestHandleState;

namespace {

// The engine request of one submission; it points back at its handle.
using Submission = capi::HandleRequest<pyctx_request>;

// The request whose callback runs on this thread (it may free itself).
thread_local pyctx_request *tls_in_callback = nullptr;

}  // namespace

// Handles are recycled (release() -> reset()): every field below must be
// put back to its initial value in reset(), or a new request inherits it.
struct pyctx_request {
    std::atomic<int> refs{1};  // the owner's, plus one while in flight

    // ---- settings (the owner's thread) ----
    // The destination; with a pool, the member the current submission went to.
    std::shared_ptr<core::Context> ctx;
    std::shared_ptr<core::Pool> pool;  // a pool destination (pyctx.h "Pools")
    std::string key;
    bool has_key = false;
    int kind = PYCTX_REQUEST_NONE;  // a pyctx_request_kind (int: the object kinds join the enum later)
    std::string target, text;
    core::ByteBuffer args, kwargs;
    std::shared_ptr<core::Context> env_ctx;
    uint64_t env_id = 0;
    uint32_t timeout_ms = PYCTX_NO_TIMEOUT;
    pyctx_request_fn callback = nullptr;
    void *user_data = nullptr;
    pyctx_free_fn free_user_data = nullptr;
    std::shared_ptr<capi::ObjectRef> object;  // object kinds: the handle used
    core::ResultForm result_form = core::ResultForm::value;
    core::AttachedBuffers attached;  // handed to the next submission

    // ---- the current submission ----
    std::atomic<HandleState> state{HandleState::fresh};
    mutable core::SpinLock current_lock;  // `current` is read by waiters on any thread
    core::RequestRef current;
    std::atomic<uint64_t> id{0};
    std::atomic<uint64_t> pool_member{0};  // pool submissions: where it went
    std::atomic<int> key_moved{0};
    pyctx_error error_object;  // written at completion, before `state` is done
    pyctx_object_t *result_object = nullptr;  // PYCTX_RESULT_OBJECT, until taken

    ~pyctx_request() {
        pyctx_object_free(result_object);
        if (free_user_data) free_user_data(user_data);
    }
    void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
    // The last reference recycles the handle (its strings and buffers keep
    // their capacity): a binding that makes one request object per future
    // then allocates nothing per request once warm.
    void release() {
        if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        if (free_user_data) free_user_data(user_data);
        reset();
        core::RequestPool<pyctx_request>::recycle(this);
    }

    // Buffer capacity a recycled or re-set request keeps.
    static constexpr size_t kKeepBytes = 4096;

private:
    // Back to the state of a new handle.
    void reset() {
        refs.store(1, std::memory_order_relaxed);
        ctx.reset();
        pool.reset();
        key.clear();
        has_key = false;
        kind = PYCTX_REQUEST_NONE;
        target.clear();
        text.clear();
        args.clear_keeping(kKeepBytes);
        kwargs.clear_keeping(kKeepBytes);
        env_ctx.reset();
        env_id = 0;
        timeout_ms = PYCTX_NO_TIMEOUT;
        callback = nullptr;
        user_data = nullptr;
        free_user_data = nullptr;
        object.reset();
        result_form = core::ResultForm::value;
        attached.clear();
        pyctx_object_free(result_object);
        result_object = nullptr;
        state.store(HandleState::fresh, std::memory_order_relaxed);
        current = core::RequestRef();
        id.store(0, std::memory_order_relaxed);
        pool_member.store(0, std::memory_order_relaxed);
        key_moved.store(0, std::memory_order_relaxed);
        if (!error_object.error.ok()) error_object.error = core::Error();
    }

public:
    core::RequestRef current_ref() const {
        std::lock_guard lock(current_lock);
        return current;
    }
    bool in_flight() const { return state.load(std::memory_order_acquire) == HandleState::in_flight; }
    bool done() const { return state.load(std::memory_order_acquire) == HandleState::done; }
};

namespace {

pyctx_error_t *not_in_flight(const pyctx_request *r) {
    if (!r) return invalid("request is NULL");
    if (r->in_flight()) return invalid("the request is in flight: settings change once it is done");
    return nullptr;
}

// The engine's completion sink of every submission.
void on_submission_done(core::Request *engine, void *) {
    auto *sub = static_cast<Submission *>(engine);
    pyctx_request *h = sub->handle;
    // Done: its lent buffers are the host's again once Python's views are gone.
    engine->buffers.clear();
    if (!engine->outcome.error.ok()) h->error_object.error = std::move(engine->outcome.error);
    if (engine->outcome.object_id && h->error_object.error.ok()) {
        h->result_object = capi::object_from_outcome(h->ctx, engine->outcome);
        if (!h->result_object)
            h->error_object.error = core::Error(core::Status::no_memory, "out of memory");
    }
    h->state.store(HandleState::done, std::memory_order_release);
    if (h->callback) {
        pyctx_request *outer = tls_in_callback;
        tls_in_callback = h;
        h->callback(h->user_data, h);
        tls_in_callback = outer;
    }
    // The in-flight reference goes first, so a free that waited for this
    // completion releases the request (and its user data) itself.
    h->release();
    core::Lane::signal_done(engine);  // waiters return after the callback
}

// Builds the engine request of a submission, or an error for bad settings.
pyctx_error_t *prepare(pyctx_request *h, core::RequestRef *out) {
    if (auto *e = not_in_flight(h)) return e;
    core::RequestRef r(Submission::make());
    if (auto *e = capi::fill_engine_request(h, r.get())) return e;
    static_cast<Submission *>(r.get())->handle = h;
    r->sink = on_submission_done;
    *out = std::move(r);
    return nullptr;
}

// Makes `r` the handle's current submission, in flight.
void arm(pyctx_request *h, const core::RequestRef &r) {
    h->error_object.error = core::Error();
    pyctx_object_free(std::exchange(h->result_object, nullptr));  // never taken
    // A release makes the handle unusable from here on (see the header).
    if (h->kind == PYCTX_REQUEST_RELEASE) h->object->released.store(true, std::memory_order_release);
    {
        std::lock_guard lock(h->current_lock);
        h->current = r;
    }
    h->id.store(r->id, std::memory_order_release);
    h->state.store(HandleState::in_flight, std::memory_order_release);
    h->retain();  // the in-flight reference, released by the sink
}

// A refused submission: the handle is fresh again and never completes.
void disarm(pyctx_request *h) {
    if (h->kind == PYCTX_REQUEST_RELEASE) h->object->released.store(false, std::memory_order_release);
    {
        std::lock_guard lock(h->current_lock);
        h->current = core::RequestRef();
    }
    h->id.store(0, std::memory_order_release);
    h->state.store(HandleState::fresh, std::memory_order_release);
    h->release();
}

// Submits a prepared request through its pool: the member is chosen, then
// the handle points at it and is armed before the request becomes visible.
pyctx_error_t *submit_to_pool(pyctx_request *h, core::RequestRef r) {
    core::RouteHint hint;
    hint.pinned = h->kind == PYCTX_REQUEST_CALL ? nullptr : h->env_ctx.get();
    hint.has_key = h->has_key && !hint.pinned;  // an env decides the member
    hint.key = h->key.data();
    hint.key_len = h->key.size();
    hint.spread = r->id;
    bool armed = false;
    core::Error err = h->pool->route(hint, [&](core::Context &m, const core::RouteInfo &info) {
        h->ctx = m.shared_from_this();
        h->pool_member.store(info.member_id, std::memory_order_relaxed);
        h->key_moved.store(info.key_moved ? 1 : 0, std::memory_order_relaxed);
        if (!armed) arm(h, r);
        armed = true;
        r->retain();  // the queue's reference (dropped by submit on refusal)
        return m.lane().submit(core::RequestRef(r.get()), true);
    });
    if (!err.ok()) {
        if (armed) disarm(h);
        return capi::make_error(std::move(err));
    }
    return nullptr;
}

pyctx_error_t *set_text_kind(pyctx_request *h, pyctx_request_kind kind, const char *target,
                             const char *text, const char *what) {
    if (auto *e = not_in_flight(h)) return e;
    if (kind == PYCTX_REQUEST_CALL) {
        if (auto *e = capi::check_text(target, "module")) return e;
    }
    if (auto *e = capi::check_text(text, what, kind == PYCTX_REQUEST_EXEC)) return e;
    h->kind = kind;
    h->object.reset();
    h->target = kind == PYCTX_REQUEST_CALL ? target : "";
    h->text = text;
    return nullptr;
}

pyctx_error_t *set_cbor(pyctx_request *h, core::ByteBuffer &slot, const uint8_t *data, size_t len,
                        int major, const char *what) {
    if (auto *e = not_in_flight(h)) return e;
    if (auto *e = capi::check_cbor(data, len, major, what)) return e;
    slot.clear_keeping(pyctx_request::kKeepBytes);
    if (len && !slot.append(data, len)) throw std::bad_alloc();
    return nullptr;
}

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_request_new(pyctx_request_t **out_request) {
    return guarded([&]() -> pyctx_error_t * {
        if (!out_request) return invalid("out_request is NULL");
        *out_request = core::RequestPool<pyctx_request>::acquire();
        return nullptr;
    });
}

PYCTX_API void pyctx_request_free(pyctx_request_t *request) {
    if (!request) return;
    if (tls_in_callback != request) {
        // As nng does: an operation in flight is cancelled, then waited for,
        // its callback included.
        if (core::RequestRef r = request->current_ref()) {
            if (request->in_flight()) core::Error ignored = request->ctx->lane().cancel(r->id);
            request->ctx->lane().wait_done(r.get(), 0);
        }
    }
    request->release();
}

PYCTX_API pyctx_error_t *pyctx_request_set_context(pyctx_request_t *request,
                                                   pyctx_context_t *context) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = not_in_flight(request)) return e;
        if (!context) return invalid("context is NULL");
        request->ctx = context->ctx;
        request->pool = nullptr;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_request_set_call(pyctx_request_t *request, const char *module,
                                                const char *function) {
    return guarded([&] { return set_text_kind(request, PYCTX_REQUEST_CALL, module, function, "function"); });
}

PYCTX_API pyctx_error_t *pyctx_request_set_eval(pyctx_request_t *request, const char *expression) {
    return guarded([&] { return set_text_kind(request, PYCTX_REQUEST_EVAL, nullptr, expression, "expression"); });
}

PYCTX_API pyctx_error_t *pyctx_request_set_exec(pyctx_request_t *request, const char *code) {
    return guarded([&] { return set_text_kind(request, PYCTX_REQUEST_EXEC, nullptr, code, "code"); });
}

PYCTX_API pyctx_error_t *pyctx_request_set_args(pyctx_request_t *request, const uint8_t *args,
                                                size_t len) {
    return guarded([&]() -> pyctx_error_t * {
        if (!request) return invalid("request is NULL");
        return set_cbor(request, request->args, args, len, 4, "args");
    });
}

PYCTX_API pyctx_error_t *pyctx_request_set_kwargs(pyctx_request_t *request, const uint8_t *kwargs,
                                                  size_t len) {
    return guarded([&]() -> pyctx_error_t * {
        if (!request) return invalid("request is NULL");
        return set_cbor(request, request->kwargs, kwargs, len, 5, "kwargs");
    });
}

PYCTX_API pyctx_error_t *pyctx_request_set_env(pyctx_request_t *request, pyctx_env_t *env) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = not_in_flight(request)) return e;
        request->env_ctx = env ? env->ctx : nullptr;
        request->env_id = env ? env->id : 0;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_request_set_timeout(pyctx_request_t *request, uint32_t timeout_ms) {
    if (auto *e = not_in_flight(request)) return e;
    request->timeout_ms = timeout_ms;
    return nullptr;
}

PYCTX_API pyctx_error_t *pyctx_request_set_callback(pyctx_request_t *request,
                                                    pyctx_request_fn callback, void *user_data,
                                                    pyctx_free_fn free_user_data) {
    if (auto *e = not_in_flight(request)) return e;
    if (request->free_user_data) request->free_user_data(request->user_data);
    request->callback = callback;
    request->user_data = user_data;
    request->free_user_data = free_user_data;
    return nullptr;
}

namespace {

// The one submission path. The id is taken before the request becomes
// visible: once it is, its callback may free or resubmit it at any moment.
pyctx_error_t *submit_one(pyctx_request_t *request, uint64_t *out_id) {
    return guarded([&]() -> pyctx_error_t * {
        core::RequestRef r;
        if (auto *e = prepare(request, &r)) return e;
        const uint64_t id = r->id;
        // The submission holds its own references to the attachments now.
        // The request lets go of them before the submission is visible (its
        // callback may free or resubmit it), and takes them back if refused.
        core::AttachedBuffers handed;
        handed.swap(request->attached);
        if (request->pool) {
            if (auto *e = submit_to_pool(request, std::move(r))) {
                request->attached.swap(handed);
                return e;
            }
        } else {
            arm(request, r);
            core::Error err = request->ctx->lane().submit(std::move(r), true);
            if (!err.ok()) {
                disarm(request);
                request->attached.swap(handed);
                return capi::make_error(std::move(err));
            }
        }
        if (out_id) *out_id = id;
        return nullptr;
    });
}

}  // namespace

PYCTX_API pyctx_error_t *pyctx_request_submit(pyctx_request_t *request) {
    return submit_one(request, nullptr);
}

PYCTX_API pyctx_error_t *pyctx_request_submit_id(pyctx_request_t *request, uint64_t *out_id) {
    if (!out_id) return invalid("out_id is NULL");
    *out_id = 0;
    return submit_one(request, out_id);
}

PYCTX_API pyctx_error_t *pyctx_request_submit_many(pyctx_request_t *const *requests, size_t count,
                                                   size_t *out_accepted) {
    size_t accepted = 0;
    pyctx_error_t *result = guarded([&]() -> pyctx_error_t * {
        if (count && !requests) return invalid("requests is NULL");
        std::vector<core::Request *> run;  // references owned here until submitted
        size_t i = 0;
        while (i < count) {
            // A run of consecutive requests to one context goes in one push.
            // Each is armed as it is prepared, so a duplicate in the batch
            // is refused as "in flight".
            run.clear();
            core::Context *ctx = nullptr;
            pyctx_error_t *stop = nullptr;
            if (requests[i] && requests[i]->pool) {  // routed one by one
                if (auto *e = pyctx_request_submit(requests[i])) return e;
                ++accepted;
                ++i;
                continue;
            }
            for (size_t j = i; j < count; ++j) {
                pyctx_request *h = requests[j];
                if (h && ctx && (h->ctx.get() != ctx || h->pool)) break;
                core::RequestRef r;
                if (!h) {
                    stop = invalid("requests[" + std::to_string(j) + "] is NULL");
                } else {
                    stop = prepare(h, &r);
                }
                if (stop) break;
                ctx = h->ctx.get();
                arm(h, r);
                run.push_back(r.detach());
            }
            // As in submit_one: the requests let go of their attachments
            // before they become visible, and the refused take them back.
            std::vector<std::unique_ptr<core::AttachedBuffers>> handed(run.size());
            for (size_t k = 0; k < run.size(); ++k) {
                if (requests[i + k]->attached.empty()) continue;
                handed[k] = std::make_unique<core::AttachedBuffers>();
                handed[k]->swap(requests[i + k]->attached);
            }
            size_t n = 0;
            core::Error err;
            if (!run.empty()) err = ctx->lane().submit_batch(run.data(), run.size(), &n);
            for (size_t k = n; k < run.size(); ++k) {  // refused: never completes
                run[k]->release();
                disarm(requests[i + k]);
                if (handed[k]) requests[i + k]->attached.swap(*handed[k]);
            }
            accepted += n;
            if (!err.ok()) {
                if (stop) pyctx_error_free(stop);
                return capi::make_error(std::move(err));
            }
            if (stop) return stop;
            i += run.size();
        }
        return nullptr;
    });
    if (out_accepted) *out_accepted = accepted;
    return result;
}

PYCTX_API pyctx_error_t *pyctx_request_wait(pyctx_request_t *request, uint32_t timeout_ms) {
    return guarded([&]() -> pyctx_error_t * {
        if (!request) return invalid("request is NULL");
        core::RequestRef r = request->current_ref();
        if (!r) return invalid("the request was never submitted");
        if (tls_in_callback == request) return nullptr;  // done: its callback runs now
        if (!request->ctx->lane().wait_done(r.get(), deadline_from(timeout_ms)))
            return capi::make_error(PYCTX_ERR_TIMEOUT, "the request is still in flight after " +
                                                           std::to_string(timeout_ms) + " ms");
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_request_cancel(pyctx_request_t *request) {
    return guarded([&]() -> pyctx_error_t * {
        if (!request) return invalid("request is NULL");
        uint64_t id = request->id.load(std::memory_order_acquire);
        if (id == 0) return invalid("the request was never submitted");
        return capi::to_c(request->ctx->lane().cancel(id));
    });
}

PYCTX_API int pyctx_request_is_done(const pyctx_request_t *request) {
    return request && request->done() ? 1 : 0;
}

PYCTX_API uint64_t pyctx_request_id(const pyctx_request_t *request) {
    return request ? request->id.load(std::memory_order_acquire) : 0;
}

PYCTX_API pyctx_request_kind pyctx_request_get_kind(const pyctx_request_t *request) {
    return request ? static_cast<pyctx_request_kind>(request->kind) : PYCTX_REQUEST_NONE;
}

PYCTX_API pyctx_status pyctx_request_status(const pyctx_request_t *request) {
    if (!request || !request->done()) return PYCTX_ERR_INVALID_ARGUMENT;
    return static_cast<pyctx_status>(request->error_object.error.status);
}

PYCTX_API const pyctx_error_t *pyctx_request_error(const pyctx_request_t *request) {
    if (!request || !request->done() || request->error_object.error.ok()) return nullptr;
    return &request->error_object;
}

PYCTX_API const uint8_t *pyctx_request_value(const pyctx_request_t *request, size_t *out_len) {
    core::RequestRef r = request && request->done() ? request->current_ref() : core::RequestRef();
    if (!r || !request->error_object.error.ok() || r->outcome.value.empty()) {
        if (out_len) *out_len = 0;
        return nullptr;
    }
    if (out_len) *out_len = r->outcome.value.size();
    return r->outcome.value.data();
}

PYCTX_API pyctx_error_t *pyctx_request_take_value(pyctx_request_t *request,
                                                  pyctx_bytes_t *out_value) {
    if (!request) return invalid("request is NULL");
    if (!out_value) return invalid("out_value is NULL");
    core::RequestRef r = request->done() ? request->current_ref() : core::RequestRef();
    if (!r || !request->error_object.error.ok() || r->outcome.value.empty())
        return invalid("the request holds no value");
    out_value->data = r->outcome.value.release(&out_value->len);
    return nullptr;
}

// ---- pool destinations (pyctx.h "Pools") --------------------------------

PYCTX_API pyctx_error_t *pyctx_request_set_pool(pyctx_request_t *request, pyctx_pool_t *pool) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = not_in_flight(request)) return e;
        if (!pool) return invalid("pool is NULL");
        // `ctx` keeps naming the last submission's context until the next one.
        request->pool = pool->pool;
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_request_set_key(pyctx_request_t *request, const void *key,
                                               size_t len) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = not_in_flight(request)) return e;
        if (len && !key) return invalid("key is NULL with a non-zero length");
        request->has_key = len != 0;
        request->key.assign(len ? static_cast<const char *>(key) : "", len);
        return nullptr;
    });
}

PYCTX_API uint64_t pyctx_request_pool_member(const pyctx_request_t *request) {
    return request ? request->pool_member.load(std::memory_order_relaxed) : 0;
}

PYCTX_API int pyctx_request_key_moved(const pyctx_request_t *request) {
    return request ? request->key_moved.load(std::memory_order_relaxed) : 0;
}

// ---- borrowed buffers (pyctx.h "Borrowed buffers") --------------------------------

PYCTX_API pyctx_error_t *pyctx_request_attach_buffer(pyctx_request_t *request,
                                                     pyctx_buffer_t *buffer, uint32_t *out_index) {
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = not_in_flight(request)) return e;
        if (!buffer) return invalid("buffer is NULL");
        if (request->attached.size() >= UINT32_MAX) return invalid("too many attached buffers");
        size_t index = request->attached.add(capi::from_c(buffer));
        if (out_index) *out_index = static_cast<uint32_t>(index);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_request_clear_buffers(pyctx_request_t *request) {
    if (auto *e = not_in_flight(request)) return e;
    request->attached.clear();
    return nullptr;
}

PYCTX_API pyctx_error_t *pyctx_request_take_buffer(pyctx_request_t *request,
                                                   pyctx_buffer_t **out_buffer) {
    if (!request) return invalid("request is NULL");
    if (!out_buffer) return invalid("out_buffer is NULL");
    core::RequestRef r = request->done() ? request->current_ref() : core::RequestRef();
    if (!r || !request->error_object.error.ok() || !r->outcome.buffer)
        return invalid("the request holds no buffer result (not done, failed, not "
                       "PYCTX_RESULT_BUFFER, or already taken)");
    *out_buffer = capi::to_c(r->outcome.buffer.detach());
    return nullptr;
}

}  // extern "C"

// ---------------------------------------------------------------------------
// Settings -> engine request (shared with the stream code), and the object
// handle kinds and result forms (pyctx.h "Object handles").

namespace pyctx::capi {

std::shared_ptr<core::Context> request_context(const pyctx_request_t *h) { return h->ctx; }
bool request_has_pool(const pyctx_request_t *h) { return h->pool != nullptr; }
int request_kind(const pyctx_request_t *h) { return h->kind; }

pyctx_error_t *fill_engine_request(pyctx_request_t *h, core::Request *r) {
    if (!h->ctx && !h->pool)
        return invalid("the request has no destination (pyctx_request_set_context or _set_pool)");
    if (h->kind == PYCTX_REQUEST_NONE)
        return invalid("the request has no kind (pyctx_request_set_call/_eval/_exec/_object_call/"
                       "_method_call/_getattr/_release)");
    if (!core::Runtime::get().running()) return capi::not_running();
    if (h->env_ctx && !h->pool && h->env_ctx != h->ctx) {
        return invalid("env belongs to context '" + h->env_ctx->name() + "', not '" +
                       h->ctx->name() + "'");
    }
    const int kind = h->kind;
    if (kind == PYCTX_REQUEST_EXEC && (!h->args.empty() || !h->kwargs.empty()))
        return invalid("an exec request takes no args or kwargs");
    if (kind == PYCTX_REQUEST_EVAL && !h->args.empty())
        return invalid("an eval request takes no args: pass its locals with pyctx_request_set_kwargs");
    const bool object_kind = kind == PYCTX_REQUEST_OBJECT_CALL || kind == PYCTX_REQUEST_METHOD_CALL ||
                             kind == PYCTX_REQUEST_GETATTR || kind == PYCTX_REQUEST_RELEASE;
    if (object_kind) {
        if (auto *e = check_object_use(*h->object, h->ctx.get())) return e;
        if ((kind == PYCTX_REQUEST_GETATTR || kind == PYCTX_REQUEST_RELEASE) &&
            (!h->args.empty() || !h->kwargs.empty()))
            return invalid("an attribute read or a release takes no args or kwargs");
    }
    if (h->result_form != core::ResultForm::value &&
        (kind == PYCTX_REQUEST_EXEC || kind == PYCTX_REQUEST_RELEASE))
        return invalid("an exec or release request has no result: PYCTX_RESULT_OBJECT and "
                       "PYCTX_RESULT_BUFFER need a call, eval or object request");
    switch (kind) {
        case PYCTX_REQUEST_CALL: r->kind = core::RequestKind::call; break;
        case PYCTX_REQUEST_EVAL: r->kind = core::RequestKind::eval; break;
        case PYCTX_REQUEST_EXEC: r->kind = core::RequestKind::exec; break;
        case PYCTX_REQUEST_OBJECT_CALL: r->kind = core::RequestKind::object_call; break;
        case PYCTX_REQUEST_METHOD_CALL: r->kind = core::RequestKind::method_call; break;
        case PYCTX_REQUEST_GETATTR: r->kind = core::RequestKind::getattr; break;
        default: r->kind = core::RequestKind::release; break;
    }
    r->target = h->target;
    r->text = h->text;
    // Eval locals travel in `args` (the engine's layout for eval).
    const core::ByteBuffer &first = kind == PYCTX_REQUEST_EVAL ? h->kwargs : h->args;
    if (!first.empty() && !r->args.append(first.data(), first.size())) throw std::bad_alloc();
    if (kind != PYCTX_REQUEST_EVAL && !h->kwargs.empty() &&
        !r->kwargs.append(h->kwargs.data(), h->kwargs.size()))
        throw std::bad_alloc();
    r->env_id = kind == PYCTX_REQUEST_EVAL || kind == PYCTX_REQUEST_EXEC ? h->env_id : 0;
    r->object_id = object_kind ? h->object->id : 0;
    r->result_form = h->result_form;
    r->buffers.copy_from(h->attached);  // a stream's open lends them too
    r->deadline_ns = deadline_from(h->timeout_ms);
    r->id = h->pool ? h->pool->next_request_id() : h->ctx->lane().next_request_id();
    return nullptr;
}

}  // namespace pyctx::capi

namespace {

pyctx_error_t *set_object_kind(pyctx_request_t *h, int kind,
                               const pyctx_object_t *object, const char *name, const char *what) {
    if (auto *e = not_in_flight(h)) return e;
    if (!object) return invalid("object is NULL");
    if (what) {
        if (auto *e = capi::check_text(name, what)) return e;
    }
    h->kind = kind;
    h->object = object->ref;
    h->ctx = object->ref->ctx;
    h->pool.reset();  // an object lives in one context: that is the destination
    h->target.clear();
    h->text = what ? name : "";
    return nullptr;
}

}  // namespace

extern "C" {

PYCTX_API pyctx_error_t *pyctx_request_set_result_form(pyctx_request_t *request,
                                                       pyctx_result_form form) {
    // Read as an int at once (not through the lambda's reference): any value
    // may arrive from C.
    const int f = static_cast<int>(form);
    return guarded([&]() -> pyctx_error_t * {
        if (auto *e = not_in_flight(request)) return e;
        if (f == PYCTX_RESULT_STREAM)
            return invalid("PYCTX_RESULT_STREAM is the form of a stream's open request: open "
                           "the request with pyctx_stream_open() instead of submitting it");
        if (auto *e = capi::check_enum(f, {PYCTX_RESULT_VALUE, PYCTX_RESULT_OBJECT, PYCTX_RESULT_BUFFER},
                                       "result form",
                                       "PYCTX_RESULT_VALUE, PYCTX_RESULT_OBJECT or PYCTX_RESULT_BUFFER"))
            return e;
        request->result_form = static_cast<core::ResultForm>(f);
        return nullptr;
    });
}

PYCTX_API pyctx_error_t *pyctx_request_set_object_call(pyctx_request_t *request,
                                                       const pyctx_object_t *object) {
    return guarded([&] { return set_object_kind(request, PYCTX_REQUEST_OBJECT_CALL, object, nullptr, nullptr); });
}

PYCTX_API pyctx_error_t *pyctx_request_set_method_call(pyctx_request_t *request,
                                                       const pyctx_object_t *object,
                                                       const char *method) {
    return guarded([&] { return set_object_kind(request, PYCTX_REQUEST_METHOD_CALL, object, method, "method"); });
}

PYCTX_API pyctx_error_t *pyctx_request_set_getattr(pyctx_request_t *request,
                                                   const pyctx_object_t *object, const char *name) {
    return guarded([&] { return set_object_kind(request, PYCTX_REQUEST_GETATTR, object, name, "attribute name"); });
}

PYCTX_API pyctx_error_t *pyctx_request_set_release(pyctx_request_t *request,
                                                   const pyctx_object_t *object) {
    return guarded([&] { return set_object_kind(request, PYCTX_REQUEST_RELEASE, object, nullptr, nullptr); });
}

PYCTX_API pyctx_error_t *pyctx_request_take_object(pyctx_request_t *request,
                                                   pyctx_object_t **out_object) {
    if (!request) return invalid("request is NULL");
    if (!out_object) return invalid("out_object is NULL");
    if (!request->done() || !request->result_object)
        return invalid("the request holds no object handle (not done, failed, not "
                       "PYCTX_RESULT_OBJECT, or already taken)");
    *out_object = std::exchange(request->result_object, nullptr);
    return nullptr;
}

}  // extern "C"
