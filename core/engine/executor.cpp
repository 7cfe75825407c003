#include "core/engine/executor.h"

namespace pyctx::core {

namespace {
thread_local Executor *tls_executor = nullptr;
}  // namespace

Executor *Executor::current() { return tls_executor; }
void Executor::set_current(Executor *e) { tls_executor = e; }

}  // namespace pyctx::core
