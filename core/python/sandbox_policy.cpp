#include "core/python/sandbox_policy.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

namespace pyctx::core {

std::string SandboxPolicy::describe() const {
    std::string out;
    auto add = [&](const std::string &part) {
        if (!out.empty()) out += "; ";
        out += part;
    };
    if (block_process_creation) add("process creation blocked");
    if (block_sockets) add("sockets blocked (AF_UNIX socket pairs allowed)");
    if (restrict_files) {
        std::string files = "files limited to ";
        for (const PathRule &r : paths)
            files += r.path + (r.read_only ? " (read-only), " : " (read-write), ");
        files += "Python's own paths (read-only)";
        add(files);
    }
    return out.empty() ? "no restrictions" : out;
}

namespace sandbox_paths {

namespace {

std::string parent_of(const std::string &canonical_path) {
    size_t slash = canonical_path.find_last_of('/');
    if (slash == 0 || slash == std::string::npos) return "/";
    return canonical_path.substr(0, slash);
}

std::string join(const std::string &dir, const std::string &name) {
    return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string base_dir(int dir_fd) {
    char buf[PATH_MAX];
    if (dir_fd >= 0) {
        std::string link = "/proc/self/fd/" + std::to_string(dir_fd);
        ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
        // Not a directory ("socket:[...]", "anon_inode:..."): fall through.
        if (n > 0 && buf[0] == '/') return std::string(buf, static_cast<size_t>(n));
        // Unknown descriptor: the operation itself will fail; check
        // something that is never allowed by accident.
        return "/proc/self/fd/" + std::to_string(dir_fd);
    }
    if (getcwd(buf, sizeof buf)) return buf;
    return "/";
}

// Splits off the last component: "a/b/c" -> ("a/b", "c"); trailing slashes
// are dropped first.
void split_last(std::string path, std::string *dir, std::string *name) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    size_t slash = path.find_last_of('/');
    *name = path.substr(slash + 1);
    *dir = slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string canonical(const std::string &absolute) {
    // Only absolute paths are split below (anything else would never end).
    if (absolute.empty() || absolute[0] != '/') return "/proc/self/unresolvable";
    char buf[PATH_MAX];
    if (realpath(absolute.c_str(), buf)) return buf;
    if (absolute == "/") return "/";
    std::string dir, name;
    split_last(absolute, &dir, &name);
    std::string parent = canonical(dir);
    if (name.empty() || name == ".") return parent;
    if (name == "..") return parent_of(parent);
    return join(parent, name);
}

std::string resolve(const std::string &path, int dir_fd, bool follow_last) {
    std::string absolute = !path.empty() && path[0] == '/' ? path
                           : path.empty()                  ? base_dir(dir_fd)
                                                           : join(base_dir(dir_fd), path);
    if (follow_last) return canonical(absolute);
    std::string dir, name;
    split_last(absolute, &dir, &name);
    if (name.empty() || name == "." || name == "..") return canonical(absolute);
    return join(canonical(dir), name);
}

bool is_under(const std::string &path, const std::string &dir) {
    if (dir == "/") return true;
    if (path.size() < dir.size() || path.compare(0, dir.size(), dir) != 0) return false;
    return path.size() == dir.size() || path[dir.size()] == '/';
}

}  // namespace sandbox_paths

}  // namespace pyctx::core
