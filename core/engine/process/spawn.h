// Starting, signalling and reaping the child of a process context.
//
// The child is the helper executable shipped with the library, started with
// posix_spawn (never a fork of a multi-threaded host). It gets descriptors
// 0-2 (stdout redirected to the host's stderr, so nothing it prints mixes
// with the host's output; or both to pipes of an OutputRelay) and its channel at fixed numbers; every other
// descriptor is closed in it. It runs in its own process group, so a
// terminal's Ctrl-C reaches the host only, with default signal dispositions
// and an empty signal mask whatever the spawning host thread had.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/base/error.h"

namespace pyctx::core {

// The descriptor numbers the child finds its channel at.
inline constexpr int kChildControlFd = 3;  // the control socket (liveness, start-up)
inline constexpr int kChildSegmentFd = 4;  // the shared memory segment (memfd)
inline constexpr int kChildWakeFd = 5;     // eventfd: wakes its asyncio selector
inline constexpr int kChildArenaFd = 6;    // the shared buffer arena (memfd), when there is one
inline constexpr int kChildResultArenaFd = 7;  // this child's arena for buffer results (memfd)
// The file name of the helper.
inline constexpr const char *kHelperName = "pyctx-process-helper";
// The first argument the helper expects (anything else: it refuses to run).
inline constexpr const char *kHelperMagicArg = "--pyctx-process-child";

// The helper to start: `override_path` when set, else next to the library
// (or ../libexec/pyctx from it), else the install-time path compiled in.
// Not found: Status::not_found naming every place looked at.
Error find_process_helper(const std::string &override_path, std::string *out);

// Starts `helper` with the channel descriptors (the arenas: -1 when there
// are none; both or neither). *pid on success.
// `stdout_fd` and `stderr_fd` become the child's 1 and 2 (-1: its stdout
// goes to the host's stderr, its stderr is the host's).
Error spawn_child(const std::string &helper, int control_fd, int segment_fd, int wake_fd,
                  int arena_fd, int result_arena_fd, pid_t *pid, int stdout_fd = -1,
                  int stderr_fd = -1);

// "exited with code 3", "was killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

}  // namespace pyctx::core
