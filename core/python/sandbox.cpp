#include "core/python/sandbox.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/python/current_tstate.h"
#include "core/python/errors.h"
#include "core/python/ref.h"
#include "core/python/sandbox_active.h"

namespace pyctx::core {

namespace {

// ---- whose policy -----------------------------------------------------------

thread_local const ActiveSandbox *t_sandbox = nullptr;  // fast path of the hook
thread_local std::shared_ptr<const ActiveSandbox> t_owner;
thread_local void *t_entered_interp = nullptr;  // own-GIL: the interpreter registered

// Own-GIL interpreters with a policy: every thread of them is sandboxed.
std::mutex g_interps_mu;
std::vector<std::pair<void *, std::shared_ptr<const ActiveSandbox>>> g_interps;
std::atomic<size_t> g_interp_count{0};
std::atomic<uint64_t> g_sandbox_generation{1};  // bumped by every registry change
thread_local PyThreadState *t_seen_ts = nullptr;
thread_local uint64_t t_seen_gen = 0;
thread_local const ActiveSandbox *t_seen = nullptr;

// ---- events -------------------------------------------------------------------

enum class Kind { process, thread_start, socket_new, socket_address, socket_lookup, open, files };
enum Access : uint8_t { read = 0, write = 1 };

struct PathArg {
    int8_t arg = -1;     // index into the event's arguments; -1: none
    int8_t dir_fd = -1;  // index of its dir_fd argument; -1: none
    Access access = read;
    bool follow = true;  // false: the operation acts on the name itself
};

struct EventRule {
    Kind kind;
    PathArg paths[2];
};

const std::unordered_map<std::string_view, EventRule> &event_rules() {
    static const auto *rules = [] {
        auto *m = new std::unordered_map<std::string_view, EventRule>();
        for (const char *e : {"os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn",
                              "subprocess.Popen", "os.system", "os.popen", "pty.spawn",
                              "os.startfile"})
            (*m)[e] = {Kind::process, {}};
        (*m)["_thread.start_new_thread"] = {Kind::thread_start, {}};
        (*m)["_thread.start_joinable_thread"] = {Kind::thread_start, {}};
        (*m)["socket.__new__"] = {Kind::socket_new, {}};
        for (const char *e : {"socket.bind", "socket.connect", "socket.sendto", "socket.sendmsg"})
            (*m)[e] = {Kind::socket_address, {}};
        for (const char *e : {"socket.getaddrinfo", "socket.gethostbyname",
                              "socket.gethostbyname_ex", "socket.gethostbyaddr",
                              "socket.getnameinfo", "socket.sethostname"})
            (*m)[e] = {Kind::socket_lookup, {}};
        (*m)["open"] = {Kind::open, {}};
        auto files = [&](const char *e, PathArg a, PathArg b = {}) {
            (*m)[e] = {Kind::files, {a, b}};
        };
        files("os.listdir", {0, -1, read});
        files("os.scandir", {0, -1, read});
        files("os.chdir", {0, -1, read});
        files("os.getxattr", {0, -1, read});
        files("os.listxattr", {0, -1, read});
        files("os.fwalk", {0, 4, read});
        files("os.remove", {0, 1, write, false});
        files("os.rmdir", {0, 1, write, false});
        files("os.mkdir", {0, 2, write, false});
        files("os.mkfifo", {0, 2, write, false});
        files("os.mknod", {0, 3, write, false});
        files("os.rename", {0, 2, write, false}, {1, 3, write, false});
        files("os.link", {0, 2, write}, {1, 3, write, false});
        files("os.symlink", {1, 2, write, false});
        files("os.chmod", {0, 2, write});
        files("os.chown", {0, 3, write});
        files("os.utime", {0, 3, write});
        files("os.truncate", {0, -1, write});
        files("os.chflags", {0, -1, write});
        files("os.lchflags", {0, -1, write, false});
        files("os.setxattr", {0, -1, write});
        files("os.removexattr", {0, -1, write});
        files("shutil.copyfile", {0, -1, read}, {1, -1, write});
        files("shutil.copymode", {0, -1, read}, {1, -1, write});
        files("shutil.copystat", {0, -1, read}, {1, -1, write});
        files("shutil.copytree", {0, -1, read}, {1, -1, write});
        files("shutil.move", {0, -1, write, false}, {1, -1, write, false});
        files("shutil.rmtree", {0, 1, write, false});
        files("shutil.chown", {0, -1, write});
        files("shutil.make_archive", {0, -1, write}, {2, -1, read});
        files("shutil.unpack_archive", {0, -1, read}, {1, -1, write});
        files("tempfile.mkstemp", {0, -1, write});
        files("tempfile.mkdtemp", {0, -1, write});
        files("sqlite3.connect", {0, -1, write});
        return m;
    }();
    return *rules;
}

// ---- refusing -----------------------------------------------------------------

int refuse(const ActiveSandbox &s, const std::string &what) {
    std::string msg = "pyctx sandbox: " + what + " is blocked in context '" + s.context_name +
                      "' (policy: " + s.description + ")";
    PyErr_SetString(PyExc_PermissionError, msg.c_str());
    return -1;
}

// ---- files ----------------------------------------------------------------------

bool allowed(const ActiveSandbox &s, const std::string &resolved, Access access) {
    for (const auto &rule : s.policy.paths)
        if (sandbox_paths::is_under(resolved, rule.path) && (access == read || !rule.read_only))
            return true;
    if (access == read)
        for (const auto &p : s.python_paths)
            if (sandbox_paths::is_under(resolved, p)) return true;
    return false;
}

// The path argument as file-system bytes; false when it is no path (an fd,
// None: an already open file or the default), true with `out` set else.
// -1 when converting raised.
int path_of(PyObject *o, std::string *out) {
    if (!o || o == Py_None || PyLong_Check(o)) return 0;
    PyRef fs(PyOS_FSPath(o));
    if (!fs) return -1;
    PyRef bytes;
    if (PyUnicode_Check(fs.get())) {
        bytes.reset(PyUnicode_EncodeFSDefault(fs.get()));
        if (!bytes) return -1;
    } else {
        bytes = PyRef::borrow(fs.get());
    }
    char *data = nullptr;
    Py_ssize_t len = 0;
    if (PyBytes_AsStringAndSize(bytes.get(), &data, &len) < 0) return -1;
    out->assign(data, static_cast<size_t>(len));
    return 1;
}

int dir_fd_of(PyObject *args, int index) {
    if (index < 0 || index >= PyTuple_GET_SIZE(args)) return -1;
    PyObject *o = PyTuple_GET_ITEM(args, index);
    if (!PyLong_Check(o)) return -1;
    long fd = PyLong_AsLong(o);
    if (fd == -1 && PyErr_Occurred()) PyErr_Clear();
    return fd == AT_FDCWD ? -1 : static_cast<int>(fd);
}

// 0 allowed, -1 refused (exception set).
int check_path(const ActiveSandbox &s, const char *event, PyObject *args, const PathArg &a,
               bool relative_unchecked) {
    if (a.arg < 0 || a.arg >= PyTuple_GET_SIZE(args)) return 0;
    std::string path;
    PyObject *arg = PyTuple_GET_ITEM(args, a.arg);
    int got = path_of(arg, &path);
    if (arg == Py_None && (std::string_view(event) == "os.listdir" ||
                           std::string_view(event) == "os.scandir")) {
        path = ".";  // the default: the working directory
        got = 1;
    }
    if (got < 0) {
        PyErr_Clear();
        return refuse(s, std::string(event) + " of a path that cannot be checked");
    }
    if (got == 0) return 0;
    if (path == ":memory:" && std::string_view(event) == "sqlite3.connect") return 0;
    const char *how = a.access == write ? " for writing" : "";
    if (relative_unchecked && path[0] != '/' &&
        ("/" + path + "/").find("/../") != std::string::npos) {
        // os.open does not report its dir_fd: a relative name is checked
        // against the working directory, and may not climb out of it.
        return refuse(s, std::string(event) + " of relative path '" + path + "'" + how +
                             " with '..' (not checkable: the dir_fd is not audited)");
    }
    int dir_fd = dir_fd_of(args, a.dir_fd);
    std::string named = sandbox_paths::resolve(path, dir_fd, false);
    std::string target = a.follow ? sandbox_paths::resolve(path, dir_fd, true) : named;
    if (allowed(s, named, a.access) && allowed(s, target, a.access)) return 0;
    std::string shown = target == named ? "'" + named + "'" : "'" + named + "' -> '" + target + "'";
    return refuse(s, std::string(event) + " of " + shown + how);
}

int check_open(const ActiveSandbox &s, PyObject *args) {
    if (PyTuple_GET_SIZE(args) < 3) return 0;
    PyObject *mode = PyTuple_GET_ITEM(args, 1);
    PyObject *flags = PyTuple_GET_ITEM(args, 2);
    bool writes = false;
    if (PyUnicode_Check(mode)) {
        const char *m = PyUnicode_AsUTF8(mode);
        if (!m) return -1;
        writes = std::string_view(m).find_first_of("wax+") != std::string_view::npos;
    }
    if (PyLong_Check(flags)) {
        long f = PyLong_AsLong(flags);
        if (f == -1 && PyErr_Occurred()) PyErr_Clear();
        if ((f & O_ACCMODE) != O_RDONLY || (f & (O_CREAT | O_TRUNC | O_APPEND))) writes = true;
    }
    PathArg a{0, -1, writes ? write : read, true};
    return check_path(s, "open", args, a, mode == Py_None);
}

// ---- sockets ----------------------------------------------------------------------

int check_socket_new(const ActiveSandbox &s, PyObject *args) {
    // (socket, family, type, proto). AF_UNIX sockets stay possible (socket
    // pairs: asyncio's self-pipe); binding or connecting them is refused.
    if (PyTuple_GET_SIZE(args) >= 2 && PyLong_Check(PyTuple_GET_ITEM(args, 1))) {
        long family = PyLong_AsLong(PyTuple_GET_ITEM(args, 1));
        if (family == AF_UNIX) return 0;
        return refuse(s, "socket.__new__ (opening a socket of family " + std::to_string(family) +
                             ")");
    }
    return refuse(s, "socket.__new__");
}

// ---- the hook ---------------------------------------------------------------------

int check_event(const ActiveSandbox &s, const char *event, PyObject *args) {
    const auto &rules = event_rules();
    auto it = rules.find(std::string_view(event));
    if (it == rules.end()) return 0;
    const EventRule &rule = it->second;
    const SandboxPolicy &p = s.policy;
    switch (rule.kind) {
        case Kind::process:
            return p.block_process_creation ? refuse(s, event) : 0;
        case Kind::thread_start:
            if (s.own_interpreter || PyTuple_GET_SIZE(args) < 1 ||
                is_inheriting_start(PyTuple_GET_ITEM(args, 0)))
                return 0;
            return refuse(s, std::string(event) +
                                 " bypassing the threading wrappers (the new thread would not "
                                 "inherit the policy)");
        case Kind::socket_new:
            return p.block_sockets ? check_socket_new(s, args) : 0;
        case Kind::socket_address:
        case Kind::socket_lookup:
            return p.block_sockets ? refuse(s, event) : 0;
        case Kind::open:
            return p.restrict_files ? check_open(s, args) : 0;
        case Kind::files:
            if (!p.restrict_files) return 0;
            for (const PathArg &a : rule.paths)
                if (check_path(s, event, args, a, false) < 0) return -1;
            return 0;
    }
    return 0;
}

int audit_hook(const char *event, PyObject *args, void *) {
    if (g_live_sandboxes.load(std::memory_order_relaxed) == 0) return 0;
    const ActiveSandbox *s = sandbox_of_current_thread();
    if (!s || !args || !PyTuple_Check(args)) return 0;
    try {
        return check_event(*s, event, args);
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
        return -1;
    }
}

bool install_hook_once(Error *err) {
    static std::once_flag once;
    static bool ok = false;
    std::call_once(once, [] { ok = PySys_AddAuditHook(audit_hook, nullptr) == 0; });
    if (!ok) {
        if (PyErr_Occurred()) {
            *err = fetch_python_error();
        } else {
            *err = Error(Status::internal, "could not install the sandbox's audit hook");
        }
    }
    return ok;
}

// ---- Python's own paths ------------------------------------------------------------

void add_python_path(std::vector<std::string> *out, PyObject *entry) {
    std::string path;
    if (path_of(entry, &path) <= 0) {
        PyErr_Clear();
        return;
    }
    if (path.empty()) return;  // "" means the working directory: not granted
    std::string c = sandbox_paths::resolve(path, -1, true);
    if (std::find(out->begin(), out->end(), c) == out->end()) out->push_back(std::move(c));
}

std::vector<std::string> python_paths() {
    std::vector<std::string> out;
    for (const char *name : {"prefix", "exec_prefix", "base_prefix", "base_exec_prefix"})
        add_python_path(&out, PySys_GetObject(name));
    PyObject *path = PySys_GetObject("path");
    if (path && PyList_Check(path))
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(path); ++i)
            add_python_path(&out, PyList_GET_ITEM(path, i));
    return out;
}

}  // namespace

// ---- shared with sandbox_threads.cpp ------------------------------------------------

std::atomic<size_t> g_live_sandboxes{0};

const ActiveSandbox *sandbox_of_current_thread() {
    if (const ActiveSandbox *s = t_sandbox) return s;
    if (g_interp_count.load(std::memory_order_acquire) == 0) return nullptr;
    PyThreadState *ts = current_tstate_or_null();
    if (!ts) return nullptr;
    // Cached per thread while the registry is unchanged, so threads of other
    // interpreters do not contend on its lock for every event.
    uint64_t gen = g_sandbox_generation.load(std::memory_order_acquire);
    if (ts == t_seen_ts && gen == t_seen_gen) return t_seen;
    void *interp = PyThreadState_GetInterpreter(ts);
    const ActiveSandbox *found = nullptr;
    {
        std::lock_guard lock(g_interps_mu);
        for (auto &[i, s] : g_interps)
            if (i == interp) found = s.get();  // alive until that interpreter has ended
    }
    t_seen_ts = ts;
    t_seen_gen = gen;
    t_seen = found;
    return found;
}

void set_thread_sandbox(std::shared_ptr<const ActiveSandbox> s) {
    t_sandbox = s.get();
    t_owner = std::move(s);
}

const std::shared_ptr<const ActiveSandbox> &thread_sandbox() { return t_owner; }

std::vector<std::string> sandbox_python_paths() { return python_paths(); }

// ---- entry and exit -------------------------------------------------------------------

bool sandbox_enter(const SandboxPolicy &policy, const std::string &context_name,
                   bool own_interpreter, Error *err) {
    try {
        auto active = std::make_shared<ActiveSandbox>();
        active->policy = policy;
        for (auto &rule : active->policy.paths) rule.path = sandbox_paths::canonical(rule.path);
        active->python_paths = python_paths();
        active->context_name = context_name;
        active->description = active->policy.describe();
        active->own_interpreter = own_interpreter;

        if (!own_interpreter && !install_thread_inheritance()) {
            *err = fetch_python_error();
            return false;
        }
        if (!install_hook_once(err)) return false;
        if (own_interpreter) {
            void *interp = PyThreadState_GetInterpreter(PyThreadState_Get());
            std::lock_guard lock(g_interps_mu);
            g_interps.emplace_back(interp, active);
            g_interp_count.store(g_interps.size(), std::memory_order_release);
            g_sandbox_generation.fetch_add(1, std::memory_order_acq_rel);
            t_entered_interp = interp;
        }
        set_thread_sandbox(std::move(active));
        return true;
    } catch (const std::bad_alloc &) {
        *err = Error(Status::no_memory, "out of memory setting up the sandbox");
        return false;
    }
}

void sandbox_leave() {
    set_thread_sandbox(nullptr);
    if (void *interp = std::exchange(t_entered_interp, nullptr)) {
        std::shared_ptr<const ActiveSandbox> dropped;  // released outside the lock
        std::lock_guard lock(g_interps_mu);
        for (auto it = g_interps.begin(); it != g_interps.end(); ++it) {
            if (it->first == interp) {
                dropped = std::move(it->second);
                g_interps.erase(it);
                break;
            }
        }
        g_interp_count.store(g_interps.size(), std::memory_order_release);
        g_sandbox_generation.fetch_add(1, std::memory_order_acq_rel);
    }
}

}  // namespace pyctx::core
