// The messages between a process context's host side and its child, and
// their encoding. Plain data only -- kinds, integers, strings, CBOR bytes,
// ids -- never a pointer, so every message means the same in both address
// spaces and later kinds (object handles by id, streams, buffers in memfd
// segments by id and offset) fit the same frame.
//
// A message is one frame in a ring (ring.h): an 8-byte frame header (the
// payload length, u32, and a reserved u32), then the payload:
//
//     u8  kind             what follows depends on the kind (below)
//     ... fields           in order; integers little-endian u8/u32/u64,
//                          strings and byte strings as u32 length + bytes
//
// Host -> child (request ring):
//   1 request u8 kind, u64 id, u32 slot, u64 env, u8 result form,
//             u64 object, u32 count, str target, str text, bytes args,
//             bytes kwargs, u32 buffers, then a block per attached buffer
//             (BlockDesc below, in the shared arena: fd 6 in the child)
//             kind: a RequestKind other than control (call, eval, exec, the
//             object kinds, the stream kinds; core/request/request.h), with
//             the Request fields of the same names: target (call: the
//             module), text (call: the function; eval/exec: the code;
//             method_call and getattr: the name), object (the handle or
//             stream id), count (stream_pull), args (call, object_call,
//             method_call: the CBOR array; eval: the locals map), kwargs
//             slot: 0, or 1 + the completion slot (sync_slot.h) the caller
//             waits on; the child writes the completion there when it can
//   16 stop   u64 id          the host completed it (cancel, timeout, close):
//                             skip it if not started, cancel its task
//   17 drop_env u64 env
//   18 host_answer u64 call, u8 ok, bytes value (ok) | str message (not ok)
//             ok: 1 answered, 0 failed, 2 no host function has that name
//   19 close  (no fields)     finish and exit
//   20 drop_result u64 id, u8 result form, u64 object
//             the host had completed request `id` when its result arrived:
//             the handle `object` (or the stream `id`) it made is released
//   21 free_block u64 offset, u64 mapped
//             the host let go of a result block of the child's arena
//   22 setup_step u8 kind, str arg, str arg2
//             the next step of the runtime-wide set-up log (setup_log.h),
//             sent before the first request that follows its logging; the
//             child appends it to its own copy of the log and applies it
//             before that request, as an in-process context would
// Child -> host (completion ring):
//   1 complete u64 id, u32 status, str message, str python_type,
//              str traceback, bytes value, u64 object, u8 has_block,
//              [block]
//              (a completion slot holds the same message; object: the
//              handle made for a result in object form, else 0; block: a
//              result in buffer form, copied into the child's result arena,
//              fd 7 in the child)
//   2 host_call u64 call, str function name, bytes args (CBOR array)
//   3 buffer_done u64 id, u32 index
//             the child's last reference to buffer `index` of request `id`
//             went (its views were released): the host may end the loan
//   4 log_record u32 level, str logger, str message, str exception,
//             u64 created (the bits of the double)
//             a Python logging record for the host's log handler; never
//             answered (the host's sink queues or drops it)
// An unknown kind is a protocol error: the receiver stops (the child exits,
// the host kills it).
//
// Object handle ids are minted by the child, from (generation << 40) + 1,
// where the generation (sent in the start-up message) counts the context's
// children: a handle of a child that died never names an object of its
// successor, and the host refuses it by its generation.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/byte_buffer.h"
#include "core/request/request.h"

namespace pyctx::core::wire {

enum class ToChild : uint8_t {
    request = 1,
    stop = 16,
    drop_env = 17,
    host_answer = 18,
    close = 19,
    drop_result = 20,
    free_block = 21,
    setup_step = 22,
};

// The generation part of a child's object ids (see above).
constexpr unsigned kObjectGenerationShift = 40;
constexpr uint64_t first_object_id(uint32_t generation) {
    return (uint64_t{generation} << kObjectGenerationShift) + 1;
}
constexpr uint32_t object_generation(uint64_t object_id) {
    return static_cast<uint32_t>(object_id >> kObjectGenerationShift);
}

// The `ok` byte of a host_answer that failed for want of the function.
constexpr uint8_t kAnswerUnknownFunction = 2;

enum class ToHost : uint8_t {
    complete = 1,
    host_call = 2,
    buffer_done = 3,
    log_record = 4,
};

// Appends fields to a message. A failed allocation sticks (ok() false).
class Writer {
public:
    explicit Writer(ByteBuffer &out) : out_(out) {}
    Writer &u8(uint8_t v) { return raw(&v, 1); }
    Writer &u32(uint32_t v) { return raw(&v, 4); }
    Writer &u64(uint64_t v) { return raw(&v, 8); }
    Writer &str(std::string_view s) { return bytes(s.data(), s.size()); }
    Writer &bytes(const void *p, size_t n) {
        u32(static_cast<uint32_t>(n));
        return raw(p, n);
    }
    Writer &bytes(const ByteBuffer &b) { return bytes(b.data(), b.size()); }
    bool ok() const { return ok_; }

private:
    Writer &raw(const void *p, size_t n) {
        ok_ = ok_ && out_.append(p, n);
        return *this;
    }
    ByteBuffer &out_;
    bool ok_ = true;
};

// Reads fields back; reading past the end sets a sticky failure.
class Reader {
public:
    Reader(const uint8_t *p, size_t n) : p_(p), end_(p + n) {}
    uint8_t u8() {
        uint8_t v = 0;
        raw(&v, 1);
        return v;
    }
    uint32_t u32() {
        uint32_t v = 0;
        raw(&v, 4);
        return v;
    }
    uint64_t u64() {
        uint64_t v = 0;
        raw(&v, 8);
        return v;
    }
    std::string_view str() {
        uint32_t n = u32();
        if (!ok_ || static_cast<size_t>(end_ - p_) < n) {
            ok_ = false;
            return {};
        }
        std::string_view s(reinterpret_cast<const char *>(p_), n);
        p_ += n;
        return s;
    }
    bool bytes_into(ByteBuffer &out) {
        std::string_view s = str();
        out.clear();
        return ok_ && out.append(s.data(), s.size());
    }
    bool ok() const { return ok_; }

private:
    void raw(void *v, size_t n) {
        if (!ok_ || static_cast<size_t>(end_ - p_) < n) {
            ok_ = false;
            return;
        }
        std::memcpy(v, p_, n);
        p_ += n;
    }
    const uint8_t *p_;
    const uint8_t *end_;
    bool ok_ = true;
};

// A block of shared memory holding a buffer: `mapped` bytes (whole pages)
// at `offset` of an arena's memfd, of which the buffer's `len` bytes come
// first, with their element layout.
struct BlockDesc {
    uint64_t offset = 0, mapped = 0, len = 0;
    bool writable = false;
    std::string format = "B";
    std::vector<int64_t> shape, strides;
};

//   block: u64 offset, u64 mapped, u64 len, u8 writable, str format,
//          u32 ndim, ndim x u64 shape, ndim x u64 strides
inline void write_block(Writer &w, const BlockDesc &b) {
    w.u64(b.offset).u64(b.mapped).u64(b.len).u8(b.writable ? 1 : 0).str(b.format);
    w.u32(static_cast<uint32_t>(b.shape.size()));
    for (int64_t d : b.shape) w.u64(static_cast<uint64_t>(d));
    for (int64_t s : b.strides) w.u64(static_cast<uint64_t>(s));
}

// False when unreadable or inconsistent (no dimensions, more than Python
// allows, strides missing, len beyond the mapping).
inline bool read_block(Reader &rd, BlockDesc *b) {
    b->offset = rd.u64();
    b->mapped = rd.u64();
    b->len = rd.u64();
    b->writable = rd.u8() != 0;
    b->format = std::string(rd.str());
    const uint32_t ndim = rd.u32();
    if (!rd.ok() || ndim == 0 || ndim > 64 || b->len > b->mapped) return false;
    b->shape.resize(ndim);
    b->strides.resize(ndim);
    for (auto &d : b->shape) d = static_cast<int64_t>(rd.u64());
    for (auto &s : b->strides) s = static_cast<int64_t>(rd.u64());
    return rd.ok();
}

// The `complete` message (in the ring or a completion slot); `result`, for
// a result in buffer form, is the block of the child's result arena that
// holds its copy.
inline bool encode_completion(ByteBuffer &m, uint64_t id, const Outcome &out,
                              const BlockDesc *result = nullptr) {
    m.clear();
    Writer w(m);
    w.u8(static_cast<uint8_t>(ToHost::complete)).u64(id).u32(static_cast<uint32_t>(out.error.status));
    w.str(out.error.message).str(out.error.python_type).str(out.error.traceback).bytes(out.value);
    w.u64(out.object_id).u8(result ? 1 : 0);
    if (result) write_block(w, *result);
    return w.ok();
}

// Reads the fields after the kind byte; false when unreadable. *has_result
// tells whether *result was read.
inline bool decode_completion(Reader &rd, uint64_t *id, Outcome *out, BlockDesc *result,
                              bool *has_result) {
    *id = rd.u64();
    auto status = static_cast<Status>(rd.u32());
    out->error = Error(status, std::string(rd.str()));
    if (status == Status::ok) out->error.message.clear();
    out->error.python_type = rd.str();
    out->error.traceback = rd.str();
    if (!rd.bytes_into(out->value)) return false;
    out->object_id = rd.u64();
    *has_result = rd.u8() != 0;
    if (*has_result && !read_block(rd, result)) return false;
    return rd.ok();
}

}  // namespace pyctx::core::wire
