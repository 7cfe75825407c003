// Names the calling OS thread (visible in top, gdb, /proc) where supported.
#pragma once

#include <pthread.h>

namespace pyctx::core {

inline void name_this_thread(const char *name) {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name);
#else
    (void)name;
#endif
}

}  // namespace pyctx::core
