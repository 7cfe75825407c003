#include "core/cbor/writer.h"

namespace pyctx::core::cbor {

bool write_double(ByteBuffer &out, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    uint8_t buf[9];
    buf[0] = kFloat64;
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    return out.append(buf, sizeof buf);
}

}  // namespace pyctx::core::cbor
