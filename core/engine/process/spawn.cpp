#include "core/engine/process/spawn.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char **environ;

#ifndef PYCTX_HELPER_INSTALL_PATH
#define PYCTX_HELPER_INSTALL_PATH ""
#endif

namespace pyctx::core {

namespace {

bool is_executable(const std::string &p) { return !p.empty() && access(p.c_str(), X_OK) == 0; }

std::string directory_of_library() {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&find_process_helper), &info) || !info.dli_fname)
        return {};
    std::string path = info.dli_fname;
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// A descriptor that is no channel number and stays open across the
// dup2 in the child (an fd already equal to its target would keep its
// close-on-exec flag).
struct HighFd {
    int fd = -1;
    explicit HighFd(int from) : fd(fcntl(from, F_DUPFD_CLOEXEC, 16)) {}
    ~HighFd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Error find_process_helper(const std::string &override_path, std::string *out) {
    if (!override_path.empty()) {
        if (!is_executable(override_path))
            return Error(Status::not_found, "the process helper '" + override_path +
                                                "' (set by option) is not an executable file");
        *out = override_path;
        return {};
    }
    std::vector<std::string> tried;
    std::string dir = directory_of_library();
    if (!dir.empty()) {
        tried.push_back(dir + "/" + kHelperName);
        tried.push_back(dir + "/../libexec/pyctx/" + kHelperName);
    }
    if (*PYCTX_HELPER_INSTALL_PATH) tried.push_back(PYCTX_HELPER_INSTALL_PATH);
    std::string looked;
    for (const auto &p : tried) {
        if (is_executable(p)) {
            *out = p;
            return {};
        }
        looked += (looked.empty() ? "" : ", ") + p;
    }
    return Error(Status::not_found,
                 "process contexts need the helper executable '" + std::string(kHelperName) +
                     "'; not found at " + looked +
                     " (set its path with the process helper option)");
}

Error spawn_child(const std::string &helper, int control_fd, int segment_fd, int wake_fd,
                  int arena_fd, int result_arena_fd, pid_t *pid, int stdout_fd,
                  int stderr_fd) {
    HighFd control(control_fd), segment(segment_fd), wake(wake_fd);
    if (arena_fd < 0 || result_arena_fd < 0) arena_fd = result_arena_fd = -1;
    // Optional ones stay -1 when not given (fcntl of -1 fails).
    HighFd arena(arena_fd), results(result_arena_fd), err(stderr_fd);
    HighFd out(stdout_fd >= 0 ? stdout_fd : 2);
    if (control.fd < 0 || segment.fd < 0 || wake.fd < 0 || out.fd < 0 ||
        (arena_fd >= 0 && (arena.fd < 0 || results.fd < 0)) || (stderr_fd >= 0 && err.fd < 0))
        return Error(Status::internal, std::string("duplicating the channel: ") + std::strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    // stdout goes to the host's stderr (or the relay's pipe); the channel to its fixed numbers;
    // everything above it closed, whether or not the host set close-on-exec.
    posix_spawn_file_actions_adddup2(&fa, out.fd, 1);
    if (stderr_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err.fd, 2);
    posix_spawn_file_actions_adddup2(&fa, control.fd, kChildControlFd);
    posix_spawn_file_actions_adddup2(&fa, segment.fd, kChildSegmentFd);
    posix_spawn_file_actions_adddup2(&fa, wake.fd, kChildWakeFd);
    if (arena_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, arena.fd, kChildArenaFd);
        posix_spawn_file_actions_adddup2(&fa, results.fd, kChildResultArenaFd);
    }
    const int last = arena_fd >= 0 ? kChildResultArenaFd : kChildWakeFd;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, last + 1);
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    std::string arg0 = helper;
    std::string arg1 = kHelperMagicArg;
    char *argv[] = {arg0.data(), arg1.data(), nullptr};
    int rc = posix_spawn(pid, helper.c_str(), &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return Error(Status::internal, "could not start the process helper '" + helper +
                                           "': " + std::strerror(rc));
    return {};
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        const char *name = strsignal(sig);
        return "was killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
    }
    return "ended (wait status " + std::to_string(status) + ")";
}

}  // namespace pyctx::core
