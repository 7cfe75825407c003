// The C API's pool handle types (pyctx.h "Pools").
#pragma once

#include <memory>

#include "core/engine/pool/pool.h"

struct pyctx_pool_options {
    pyctx::core::PoolOptions options;
};

// A handle owns one reference to the pool; request objects hold their own.
struct pyctx_pool {
    std::shared_ptr<pyctx::core::Pool> pool;
};
