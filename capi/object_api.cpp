// Object handles (pyctx_object_*): the host side. The operations themselves
// are request kinds of the request object (request_object.cpp); the
// synchronous functions here are thin wrappers over one request each.
#include "capi/objects.h"

#include "core/cbor/reader.h"
#include "core/cbor/tags.h"

using namespace pyctx;
using capi::guarded;
using capi::invalid;

namespace {

// A release nobody waits for.
struct ReleaseMessage final : core::Request {
    static ReleaseMessage *make() { return core::RequestPool<ReleaseMessage>::acquire(); }

protected:
    void destroy() override {
        reset_for_reuse();
        core::RequestPool<ReleaseMessage>::recycle(this);
    }
};

void ignore_outcome(core::Request *, void *) {}

// The (key, id) of an object reference value: tag, [key, id].
bool parse_ref(const core::ByteBuffer &v, uint64_t *key, uint64_t *id) {
    const uint8_t *p = v.data();
    size_t len = v.size(), pos = 0;
    core::Error err;
    core::cbor::Head h, k, i;
    return core::cbor::read_head(p, len, &pos, &h, &err) && h.type == core::cbor::Type::tag &&
           h.arg == core::cbor::kTagObjectRef && core::cbor::read_head(p, len, &pos, &h, &err) &&
           h.type == core::cbor::Type::array && h.arg == 2 &&
           core::cbor::read_head(p, len, &pos, &k, &err) && k.type == core::cbor::Type::uint &&
           core::cbor::read_head(p, len, &pos, &i, &err) && i.type == core::cbor::Type::uint &&
           (*key = k.arg, *id = i.arg, true);
}

// A synchronous release through the request object (it marks the handle
// released when submitted).
pyctx_error_t *run_object_request(pyctx_request_t *req, uint32_t timeout_ms, pyctx_bytes_t *out) {
    pyctx_error_t *e = pyctx_request_set_timeout(req, timeout_ms);
    if (!e) e = pyctx_request_submit(req);
    if (!e) e = pyctx_request_wait(req, PYCTX_NO_TIMEOUT);
    if (!e && pyctx_request_status(req) != PYCTX_OK)
        e = capi::make_error(pyctx_request_error(req)->error);
    if (!e && out) e = pyctx_request_take_value(req, out);
    pyctx_request_free(req);
    return e;
}

// One synchronous object request on the engine path of pyctx_call (a pooled
// request, run_sync): the same request kind the request object submits,
// without a request object's allocation per call.
pyctx_error_t *run_object_sync(const pyctx_object_t *object, core::RequestKind kind,
                               const char *name, const char *what, const uint8_t *args,
                               size_t args_len, const uint8_t *kwargs, size_t kwargs_len,
                               uint32_t timeout_ms, pyctx_bytes_t *out) {
    if (!object) return invalid("object is NULL");
    if (!out) return invalid("the result pointer is NULL");
    if (what) {
        if (auto *e = capi::check_text(name, what)) return e;
    }
    if (auto *e = capi::check_cbor(args, args_len, 4, "args")) return e;
    if (auto *e = capi::check_cbor(kwargs, kwargs_len, 5, "kwargs")) return e;
    if (!core::Runtime::get().running()) return capi::not_running();
    const capi::ObjectRef &ref = *object->ref;
    if (auto *e = capi::check_object_use(ref, nullptr)) return e;
    core::RequestRef r(core::PooledRequest::make());
    r->kind = kind;
    r->object_id = ref.id;
    if (what) r->text.assign(name);
    if (args_len && !r->args.append(args, args_len)) throw std::bad_alloc();
    if (kwargs_len && !r->kwargs.append(kwargs, kwargs_len)) throw std::bad_alloc();
    r->deadline_ns = timeout_ms == PYCTX_NO_TIMEOUT
                         ? 0
                         : core::now_ns() + static_cast<int64_t>(timeout_ms) * 1000000;
    r->id = ref.ctx->lane().next_request_id();
    core::Outcome outcome = ref.ctx->lane().run_sync(std::move(r));
    if (!outcome.error.ok()) return capi::make_error(std::move(outcome.error));
    out->data = outcome.value.release(&out->len);
    return nullptr;
}

}  // namespace

namespace pyctx::capi {

pyctx_error_t *check_object_use(const ObjectRef &ref, const core::Context *ctx) {
    const std::string which = "object handle " + std::to_string(ref.id);
    if (ref.released.load(std::memory_order_acquire)) return invalid(which + " was released");
    if (ctx && ctx != ref.ctx.get()) {
        return invalid(which + " belongs to context '" + ref.ctx->name() + "', not '" +
                       ctx->name() + "'");
    }
    if (ref.ctx->is_closing()) {
        return make_error(PYCTX_ERR_CLOSED, which + ": context '" + ref.ctx->name() +
                                                "' is closed (its objects went with it)");
    }
    return nullptr;
}

pyctx_object_t *object_from_outcome(const std::shared_ptr<core::Context> &ctx,
                                    const core::Outcome &outcome) {
    auto ref = std::make_shared<ObjectRef>();
    ref->ctx = ctx;
    ref->id = outcome.object_id;
    uint64_t id = 0;
    if (!parse_ref(outcome.value, &ref->key, &id) || id != ref->id) {
        release_without_waiting(*ref);
        return nullptr;
    }
    return new pyctx_object{std::move(ref)};
}

void release_without_waiting(ObjectRef &ref) {
    if (ref.released.exchange(true, std::memory_order_acq_rel)) return;
    if (ref.ctx->is_closing()) return;
    try {
        core::RequestRef r(ReleaseMessage::make());
        r->kind = core::RequestKind::release;
        r->object_id = ref.id;
        r->sink = ignore_outcome;
        r->id = ref.ctx->lane().next_request_id();
        core::Error ignored = ref.ctx->lane().submit(std::move(r), false);
    } catch (...) {
        // Out of memory: the reference stays until the context closes.
    }
}

}  // namespace pyctx::capi

extern "C" {

PYCTX_API void pyctx_object_free(pyctx_object_t *object) {
    if (!object) return;
    capi::release_without_waiting(*object->ref);
    delete object;
}

PYCTX_API pyctx_error_t *pyctx_object_release(pyctx_object_t *object, uint32_t timeout_ms) {
    return guarded([&]() -> pyctx_error_t * {
        if (!object) return invalid("object is NULL");
        pyctx_request_t *req = nullptr;
        if (auto *e = pyctx_request_new(&req)) return e;
        if (auto *e = pyctx_request_set_release(req, object)) {
            pyctx_request_free(req);
            return e;
        }
        return run_object_request(req, timeout_ms, nullptr);
    });
}

PYCTX_API int pyctx_object_is_alive(const pyctx_object_t *object) {
    return object && !object->ref->released.load(std::memory_order_acquire) &&
                   !object->ref->ctx->is_closing()
               ? 1
               : 0;
}

PYCTX_API uint64_t pyctx_object_id(const pyctx_object_t *object) {
    return object ? object->ref->id : 0;
}

PYCTX_API const char *pyctx_object_context_name(const pyctx_object_t *object) {
    return object ? object->ref->ctx->name().c_str() : "";
}

PYCTX_API pyctx_error_t *pyctx_object_call(const pyctx_object_t *object, const uint8_t *args,
                                           size_t args_len, const uint8_t *kwargs,
                                           size_t kwargs_len, uint32_t timeout_ms,
                                           pyctx_bytes_t *out_result) {
    return guarded([&] {
        return run_object_sync(object, core::RequestKind::object_call, nullptr, nullptr, args,
                               args_len, kwargs, kwargs_len, timeout_ms, out_result);
    });
}

PYCTX_API pyctx_error_t *pyctx_object_call_method(const pyctx_object_t *object, const char *method,
                                                  const uint8_t *args, size_t args_len,
                                                  const uint8_t *kwargs, size_t kwargs_len,
                                                  uint32_t timeout_ms, pyctx_bytes_t *out_result) {
    return guarded([&] {
        return run_object_sync(object, core::RequestKind::method_call, method, "method", args,
                               args_len, kwargs, kwargs_len, timeout_ms, out_result);
    });
}

PYCTX_API pyctx_error_t *pyctx_object_getattr(const pyctx_object_t *object, const char *name,
                                              uint32_t timeout_ms, pyctx_bytes_t *out_value) {
    return guarded([&] {
        return run_object_sync(object, core::RequestKind::getattr, name, "attribute name", nullptr,
                               0, nullptr, 0, timeout_ms, out_value);
    });
}

PYCTX_API int pyctx_cbor_write_object(pyctx_cbor_writer_t *writer, const pyctx_object_t *object) {
    if (!writer || !object) return -1;
    if (pyctx_cbor_write_tag(writer, PYCTX_CBOR_TAG_OBJECT) || pyctx_cbor_write_array(writer, 2) ||
        pyctx_cbor_write_uint(writer, object->ref->key) ||
        pyctx_cbor_write_uint(writer, object->ref->id))
        return -1;
    return 0;
}

}  // extern "C"
