// A growable malloc-backed byte buffer. Its storage can be released to the
// C API as pyctx_bytes_t, which callers free with free() via
// pyctx_bytes_free(), so it deliberately avoids operator new.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace pyctx::core {

class ByteBuffer {
public:
    ByteBuffer() = default;
    ByteBuffer(const ByteBuffer &) = delete;
    ByteBuffer &operator=(const ByteBuffer &) = delete;
    ByteBuffer(ByteBuffer &&o) noexcept
        : data_(std::exchange(o.data_, nullptr)), len_(std::exchange(o.len_, 0)),
          cap_(std::exchange(o.cap_, 0)) {}
    ByteBuffer &operator=(ByteBuffer &&o) noexcept {
        if (this != &o) {
            std::free(data_);
            data_ = std::exchange(o.data_, nullptr);
            len_ = std::exchange(o.len_, 0);
            cap_ = std::exchange(o.cap_, 0);
        }
        return *this;
    }
    ~ByteBuffer() { std::free(data_); }

    [[nodiscard]] const uint8_t *data() const { return data_; }
    [[nodiscard]] uint8_t *data() { return data_; }
    [[nodiscard]] size_t size() const { return len_; }
    [[nodiscard]] bool empty() const { return len_ == 0; }
    void clear() { len_ = 0; }
    // Empties the buffer, keeping its storage only up to `max_keep` bytes
    // (for objects that are recycled: a one-off huge payload is not kept).
    void clear_keeping(size_t max_keep) {
        len_ = 0;
        if (cap_ > max_keep) {
            std::free(data_);
            data_ = nullptr;
            cap_ = 0;
        }
    }

    // Returns false when memory is exhausted (the buffer is left unchanged).
    [[nodiscard]] bool reserve(size_t extra) {
        if (cap_ - len_ >= extra) return true;
        size_t want = len_ + extra;
        size_t cap = cap_ ? cap_ : 64;
        while (cap < want) cap *= 2;
        auto *p = static_cast<uint8_t *>(std::realloc(data_, cap));
        if (!p) return false;
        data_ = p;
        cap_ = cap;
        return true;
    }
    [[nodiscard]] bool append(const void *src, size_t n) {
        if (!reserve(n)) return false;
        if (n) std::memcpy(data_ + len_, src, n);
        len_ += n;
        return true;
    }
    [[nodiscard]] bool push(uint8_t b) {
        if (!reserve(1)) return false;
        data_[len_++] = b;
        return true;
    }
    // Hands the storage (malloc'd) to the caller; the buffer becomes empty.
    uint8_t *release(size_t *out_len) {
        *out_len = len_;
        uint8_t *p = data_;
        data_ = nullptr;
        len_ = cap_ = 0;
        return p;
    }

private:
    uint8_t *data_ = nullptr;
    size_t len_ = 0;
    size_t cap_ = 0;
};

}  // namespace pyctx::core
