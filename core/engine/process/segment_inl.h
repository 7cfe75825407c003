// Template part of segment.h.
#pragma once

#include "core/base/futex.h"

namespace pyctx::core {

template <class Ready>
void park_on_bell(std::atomic<uint32_t> &bell, Ready &&ready, int64_t timeout_ns) {
    bell.store(SegmentHeader::kParked, std::memory_order_seq_cst);
    if (!ready()) futex_wait_shared(bell, SegmentHeader::kParked, timeout_ns);
    bell.store(SegmentHeader::kAwake, std::memory_order_seq_cst);
}

}  // namespace pyctx::core
