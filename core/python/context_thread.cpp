#include "core/python/context_thread.h"

namespace pyctx::core {

namespace {
thread_local ContextThread *tls_thread = nullptr;
}  // namespace

ContextThread *ContextThread::current() { return tls_thread; }
void ContextThread::set_current(ContextThread *t) { tls_thread = t; }

}  // namespace pyctx::core
