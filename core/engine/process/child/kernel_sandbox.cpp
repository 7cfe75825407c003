#include "core/engine/process/child/kernel_sandbox.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace pyctx::core {

namespace {

std::string errno_text(const char *what) { return std::string(what) + ": " + std::strerror(errno); }

// ---- files: Landlock ------------------------------------------------------------------

// Rights beyond the first ABI, by the ABI that brought them (the Debian
// header may predate them).
constexpr uint64_t kRefer = 1ULL << 13;     // ABI 2
constexpr uint64_t kTruncate = 1ULL << 14;  // ABI 3
constexpr uint64_t kIoctlDev = 1ULL << 15;  // ABI 5
constexpr uint64_t kAbi1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                 LANDLOCK_ACCESS_FS_READ_FILE | kTruncate | kIoctlDev;
constexpr uint64_t kReadRights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Error add_path_rule(int ruleset, const std::string &path, uint64_t rights, uint64_t handled) {
    Fd f;
    f.fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
    if (f.fd < 0) return {};  // gone or never there: nothing to grant
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return Error(Status::internal, errno_text(("stat " + path).c_str()));
    landlock_path_beneath_attr rule{};
    rule.allowed_access = rights & handled;
    if (!S_ISDIR(st.st_mode)) rule.allowed_access &= kFileRights;  // a file takes file rights only
    rule.parent_fd = f.fd;
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
        return Error(Status::internal, errno_text(("landlock_add_rule " + path).c_str()));
    return {};
}

Error restrict_files(const SandboxPolicy &policy, const std::vector<std::string> &readable) {
    const long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0) {
        return Error(Status::unsupported,
                     errno == ENOSYS || errno == EOPNOTSUPP
                         ? "this kernel has no Landlock (or it is disabled), which the file rules "
                           "of a process context's sandbox need"
                         : errno_text("landlock_create_ruleset"));
    }
    uint64_t handled = kAbi1;
    if (abi >= 2) handled |= kRefer;
    if (abi >= 3) handled |= kTruncate;
    if (abi >= 5) handled |= kIoctlDev;
    // Only the first field: every ABI accepts it (network and scope rules
    // are not used; sockets are seccomp's).
    struct {
        uint64_t handled_access_fs;
    } attr{handled};
    Fd ruleset;
    ruleset.fd = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
    if (ruleset.fd < 0) return Error(Status::internal, errno_text("landlock_create_ruleset"));
    for (const std::string &p : readable)
        if (Error e = add_path_rule(ruleset.fd, p, kReadRights, handled); !e.ok()) return e;
    for (const SandboxPolicy::PathRule &rule : policy.paths) {
        const uint64_t rights = rule.read_only ? kReadRights : handled;
        if (Error e = add_path_rule(ruleset.fd, rule.path, rights, handled); !e.ok()) return e;
    }
    if (syscall(SYS_landlock_restrict_self, ruleset.fd, 0) != 0)
        return Error(Status::internal, errno_text("landlock_restrict_self"));
    return {};
}

// ---- process creation and sockets: seccomp ---------------------------------------------

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#endif

constexpr uint32_t kNr = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
constexpr uint32_t kArg0 = offsetof(seccomp_data, args);  // low half on little-endian

sock_filter stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
    return BPF_JUMP(code, k, jt, jf);
}
constexpr uint32_t errno_ret(int e) { return SECCOMP_RET_ERRNO | (static_cast<uint32_t>(e) & 0xffff); }

Error filter_syscalls(const SandboxPolicy &policy) {
#if !defined(__x86_64__)
    (void)policy;
    return Error(Status::unsupported,
                 "the process-creation and socket rules of a process context's sandbox are "
                 "built for x86-64 only");
#else
    std::vector<sock_filter> f;
    // Another ABI (x32, i386 entry) would name other calls: killed.
    f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kArchOffset));
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
    f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kNr));
    f.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 0, 1));
    f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    auto deny = [&](long nr, int e) {
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
        f.push_back(stmt(BPF_RET | BPF_K, errno_ret(e)));
    };
    if (policy.block_process_creation) {
        deny(SYS_fork, EPERM);
        deny(SYS_vfork, EPERM);
        deny(SYS_execve, EPERM);
        deny(SYS_execveat, EPERM);
        // clone3 passes its flags in memory a filter cannot read: refused as
        // unknown, so the C library falls back to clone, whose flags it can.
        deny(SYS_clone3, ENOSYS);
        // clone: a new thread (CLONE_THREAD) is fine, a new process is not.
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4));
        f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kArg0));
        f.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1));
        f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        f.push_back(stmt(BPF_RET | BPF_K, errno_ret(EPERM)));
    }
    if (policy.block_sockets) {
        // io_uring can open sockets on its own: not available.
        deny(SYS_io_uring_setup, EPERM);
        // socket(): AF_UNIX only (socketpair, asyncio's self-pipe, is a call
        // of its own and stays allowed).
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4));
        f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, kArg0));
        f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1));
        f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        f.push_back(stmt(BPF_RET | BPF_K, errno_ret(EPERM)));
    }
    f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
        return Error(errno == EINVAL || errno == ENOSYS ? Status::unsupported : Status::internal,
                     errno == EINVAL || errno == ENOSYS
                         ? "this kernel has no seccomp filters, which the process-creation and "
                           "socket rules of a process context's sandbox need"
                         : errno_text("seccomp"));
    }
    return {};
#endif
}

}  // namespace

Error apply_kernel_sandbox(const SandboxPolicy &policy, const std::vector<std::string> &readable) {
    if (!policy.any()) return {};
    // Both need it, and it keeps an exec'd set-uid program from escaping
    // (were exec allowed).
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return Error(Status::internal, errno_text("prctl(PR_SET_NO_NEW_PRIVS)"));
    if (policy.restrict_files)
        if (Error e = restrict_files(policy, readable); !e.ok()) return e;
    if (policy.block_process_creation || policy.block_sockets)
        if (Error e = filter_syscalls(policy); !e.ok()) return e;
    return {};
}

}  // namespace pyctx::core
