// A context's sandbox policy as plain data, with no Python in it: what the
// host chose (no process creation, no sockets, file access limited to
// allowed directories). The in-process contexts enforce it with an audit
// hook (sandbox.h); the same value is meant to be translated into kernel
// rules (Landlock, seccomp) by an executor that runs Python in a child
// process, so nothing here depends on how it is enforced.
#pragma once

#include <string>
#include <vector>

namespace pyctx::core {

struct SandboxPolicy {
    struct PathRule {
        std::string path;  // absolute, canonical once the context starts
        bool read_only = true;
    };

    bool block_process_creation = false;
    bool block_sockets = false;
    // File access only under `paths` (plus Python's own installation and
    // sys.path, read-only). Set by the first allowed path, or explicitly to
    // allow no files at all besides Python's own.
    bool restrict_files = false;
    std::vector<PathRule> paths;

    bool any() const { return block_process_creation || block_sockets || restrict_files; }
    // "process creation blocked, sockets blocked, files limited to ..."
    std::string describe() const;
};

// File-system helpers of the policy, Python-free.
namespace sandbox_paths {

// `path` made absolute against directory fd `dir_fd` (< 0: the working
// directory) and canonical: symlinks resolved along the part that exists,
// "." and ".." folded in the part that does not. With `follow_last` false
// the last component itself is kept (the operation acts on a link, not on
// its target).
std::string resolve(const std::string &path, int dir_fd, bool follow_last);
// Canonical form of an absolute path (resolve() with follow_last).
std::string canonical(const std::string &absolute);
// True when `path` is `dir` or lies beneath it (both canonical).
bool is_under(const std::string &path, const std::string &dir);

}  // namespace sandbox_paths

}  // namespace pyctx::core
