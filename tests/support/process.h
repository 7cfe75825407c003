// Process contexts in tests: creating one with its options, the child's
// pid, and whether a pid is still a process of ours (or reaped).
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <string>

#include "pyctx.h"
#include "support/handles.h"

namespace pyctx_test {

/** Built with ASan or TSan: the child's crash is caught by the sanitizer's
 *  own handler (reported, then an abort or an exit code), and its shadow
 *  memory makes an address-space cap meaningless. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

struct ProcessSpec {
    const char *name = nullptr;
    const char *preload = nullptr;
    uint32_t restart_max = 0, restart_window_ms = 0;
    size_t memory_limit = 0;
    const char *helper = nullptr;
};

inline pyctx_error_t *create_process_context(Context &out, const ProcessSpec &spec = {}) {
    ContextOptions options(pyctx_context_options_new());
    if (pyctx_error_t *e = pyctx_context_options_set_mode(options.get(), PYCTX_MODE_PROCESS))
        return e;
    if (spec.name)
        if (pyctx_error_t *e = pyctx_context_options_set_name(options.get(), spec.name)) return e;
    if (spec.preload)
        if (pyctx_error_t *e = pyctx_context_options_set_preload(options.get(), spec.preload))
            return e;
    if (spec.restart_max)
        if (pyctx_error_t *e = pyctx_context_options_set_restart(options.get(), spec.restart_max,
                                                                 spec.restart_window_ms))
            return e;
    if (spec.memory_limit)
        if (pyctx_error_t *e =
                pyctx_context_options_set_memory_limit(options.get(), spec.memory_limit))
            return e;
    if (spec.helper)
        if (pyctx_error_t *e = pyctx_context_options_set_process_helper(options.get(), spec.helper))
            return e;
    pyctx_context_t *raw = nullptr;
    if (pyctx_error_t *e = pyctx_context_create(options.get(), &raw)) return e;
    out.reset(raw);
    return nullptr;
}

inline uint64_t child_pid(const pyctx_context_t *ctx) {
    uint64_t pid = 0;
    Error e(pyctx_context_process_info(ctx, &pid, nullptr));
    return e ? 0 : pid;
}

inline uint32_t restarts_of(const pyctx_context_t *ctx) {
    uint32_t n = 0;
    Error e(pyctx_context_process_info(ctx, nullptr, &n));
    return e ? 0 : n;
}

/** True when `pid` was our child and has been reaped: waitpid() no longer
 *  knows it (ECHILD), so it is neither running nor a zombie. */
inline bool reaped(uint64_t pid) {
    int status = 0;
    pid_t r = waitpid(static_cast<pid_t>(pid), &status, WNOHANG);
    return r < 0 && errno == ECHILD;
}

/** The number of open descriptors of this process. */
inline int open_fds() {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) ++n;
    closedir(d);
    return n - 3;  // ".", ".." and the directory's own descriptor
}

/** Children of this process that are zombies (state Z in /proc). */
inline int zombie_children() {
    int zombies = 0;
    DIR *d = opendir("/proc");
    if (!d) return -1;
    const std::string me = std::to_string(getpid());
    while (dirent *e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::string path = std::string("/proc/") + e->d_name + "/stat";
        FILE *f = std::fopen(path.c_str(), "r");
        if (!f) continue;
        char buf[512];
        size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = '\0';
        // pid (comm) state ppid ...: comm may hold spaces, so parse after ')'.
        const char *close = std::strrchr(buf, ')');
        if (!close) continue;
        char state = 0;
        long ppid = 0;
        if (std::sscanf(close + 1, " %c %ld", &state, &ppid) != 2) continue;
        if (state == 'Z' && std::to_string(ppid) == me) ++zombies;
    }
    closedir(d);
    return zombies;
}

} // namespace pyctx_test
