// The helper process's life: configuration from the control socket, Python
// on the main interpreter, the start-up reply, serving, exit.
#include <Python.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/engine/process/child/child_server.h"
#include "core/engine/process/child/kernel_sandbox.h"
#include "core/engine/process/setup_wire.h"
#include "core/engine/process/spawn.h"
#include "core/engine/process/wire.h"
#include "core/host/log_sink.h"
#include "core/host/registry.h"
#include "core/host/setup_log.h"
#include "core/python/embed.h"
#include "core/python/sandbox.h"

namespace pyctx::core {

namespace {

struct ChildConfig {
    std::string name, preload, home, program_name;
    std::vector<std::string> paths;
    uint32_t allocator = 0;
    uint64_t memory_limit = 0;
    uint32_t generation = 0;  // this child's number among the context's children
    std::vector<SetupStep> setup;  // the host's runtime-wide set-up log so far
    std::unique_ptr<SandboxPolicy> sandbox;  // nullptr: none
};

bool read_exact(int fd, void *p, size_t n) {
    auto *b = static_cast<uint8_t *>(p);
    while (n) {
        ssize_t r = ::recv(fd, b, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        b += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

bool read_config(ChildConfig *c) {
    uint32_t len = 0;
    if (!read_exact(kChildControlFd, &len, 4) || len > (1u << 26)) return false;
    std::string buf(len, '\0');
    if (!read_exact(kChildControlFd, buf.data(), len)) return false;
    wire::Reader r(reinterpret_cast<const uint8_t *>(buf.data()), buf.size());
    c->name = r.str();
    c->preload = r.str();
    uint32_t n = r.u32();
    for (uint32_t i = 0; i < n && r.ok(); ++i) c->paths.emplace_back(r.str());
    c->home = r.str();
    c->program_name = r.str();
    c->allocator = r.u32();
    c->memory_limit = r.u64();
    c->generation = r.u32();
    const uint32_t steps = r.u32();
    for (uint32_t i = 0; i < steps && r.ok(); ++i) {
        SetupStep step;
        if (!wire::read_setup_step(r, &step)) return false;
        c->setup.push_back(std::move(step));
    }
    if (r.u8() == 1) {
        c->sandbox = std::make_unique<SandboxPolicy>();
        c->sandbox->block_process_creation = r.u8() == 1;
        c->sandbox->block_sockets = r.u8() == 1;
        c->sandbox->restrict_files = r.u8() == 1;
        const uint32_t paths = r.u32();
        for (uint32_t i = 0; i < paths && r.ok(); ++i) {
            SandboxPolicy::PathRule rule;
            rule.path = r.str();
            rule.read_only = r.u8() == 1;
            c->sandbox->paths.push_back(std::move(rule));
        }
    }
    return r.ok();
}

void reply(const Error &e) {
    ByteBuffer m;
    wire::Writer w(m);
    w.u32(0).u32(static_cast<uint32_t>(e.status)).str(e.message).str(e.python_type).str(e.traceback);
    uint32_t len = static_cast<uint32_t>(m.size() - 4);
    std::memcpy(m.data(), &len, 4);
    const uint8_t *p = m.data();
    size_t left = m.size();
    while (left) {
        ssize_t s = ::send(kChildControlFd, p, left, MSG_NOSIGNAL);
        if (s < 0 && errno == EINTR) continue;
        if (s <= 0) _exit(0);  // the host is gone
        p += s;
        left -= static_cast<size_t>(s);
    }
}

Error start_python(const ChildConfig &c) {
    EmbedSettings settings;
    settings.home = c.home;
    settings.program_name = c.program_name;
    settings.allocator = static_cast<int>(c.allocator);
    settings.own_signals = true;  // this process is ours: SIGINT carries interrupts
    settings.process_child = true;
    return initialize_python(settings);
}

// A host function as the child sees it: a name the host resolves.
class RemoteHostFunction final : public HostFunction {
public:
    explicit RemoteHostFunction(std::string name) : HostFunction(std::move(name)) {}
    void invoke(HostCall *call) override {
        ChildServer *server = ChildServer::instance();
        if (call->awaited && call->waiter.get() != static_cast<HostCallWaiter *>(server)) {
            // Awaited on a loop of the user's own (asyncio.run() in a
            // request, a thread's loop): that loop never reads the ring, so
            // a watcher thread does until the answer is in; the loop's own
            // waker then resumes it.
            call->retain();  // the watcher's
            server->send_host_call(call, true);
            std::thread([server, call] {
                server->await_answer_off_main(call);
                call->release();
            }).detach();
            return;
        }
        // A blocking call from a Python thread of the child's own: it reads
        // its answer itself when the main thread does not (child_server.h).
        const bool off_main = !server->on_main_thread() && !call->awaited;
        server->send_host_call(call, off_main);
        if (off_main) server->await_answer_off_main(call);
    }
};

// What the sandboxed child may read besides the policy's paths: Python's
// installation and sys.path, the runtime's search paths, the directories
// the set-up log adds, the system's shared libraries, and its own /proc
// entry (the sanitizers and some libraries read it).
Error apply_sandbox_rules(const ChildConfig &config) {
    std::vector<std::string> readable = sandbox_python_paths();
    for (const std::string &p : config.paths) readable.push_back(sandbox_paths::canonical(p));
    for (const SetupStep &step : config.setup)
        if (step.kind == SetupStep::Kind::add_path || step.kind == SetupStep::Kind::activate_venv)
            readable.push_back(sandbox_paths::canonical(step.arg));
    readable.push_back(sandbox_paths::canonical("/proc/self"));
    // Shared libraries that extensions and ctypes load (libffi, BLAS, ...)
    // and the loader's cache that finds them.
    for (const char *lib : {"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
                            "/etc/ld.so.cache"})
        readable.push_back(sandbox_paths::canonical(lib));
    SandboxPolicy policy = *config.sandbox;
    for (auto &rule : policy.paths) rule.path = sandbox_paths::canonical(rule.path);
    return apply_kernel_sandbox(policy, readable);
}

}  // namespace

int child_main() {
    ChildConfig config;
    if (!read_config(&config)) {
        std::fputs("pyctx-process-helper: no configuration on the control channel\n", stderr);
        return 64;
    }
    Segment segment;
    if (Error e = segment.attach(kChildSegmentFd); !e.ok()) {
        reply(e);
        return 1;
    }
    if (config.memory_limit) {
        rlimit lim{static_cast<rlim_t>(config.memory_limit), static_cast<rlim_t>(config.memory_limit)};
        if (setrlimit(RLIMIT_AS, &lim) != 0) {
            reply(Error(Status::internal, std::string("setrlimit(RLIMIT_AS): ") + std::strerror(errno)));
            return 1;
        }
    }
    if (Error e = start_python(config); !e.ok()) {
        reply(e);
        return 1;
    }
    // The host's set-up log, mirrored: PyState::init applies it before the
    // preload; later steps arrive as setup_step messages.
    // The kernel rules of a sandbox go on now, while this process has one
    // thread, so they hold for every thread it will run (the preload
    // included); the audit hook, for its clear messages, after the preload
    // as in the other modes.
    if (config.sandbox) {
        if (Error e = apply_sandbox_rules(config); !e.ok()) {
            reply(e);
            return 1;
        }
    }
    for (SetupStep &step : config.setup) setup_log().append(std::move(step));
    host_registry().set_fallback(
        [](std::string_view name) { return std::make_shared<RemoteHostFunction>(std::string(name)); });
    Error err;
    {
        ChildServer server(segment, kChildWakeFd, config.name);
        // Python logging records go to the host's handler, not this
        // process's (which has none).
        log_sink().set_forward([](const LogRecord &rec) {
            ChildServer *s = ChildServer::instance();
            return s && s->send_log_record(rec);
        });
        if (!server.init(config.paths, config.preload, config.generation, &err)) {
            reply(err);
            std::fflush(nullptr);
            _exit(1);  // no finalization: the host only needs the reply
        }
        if (config.sandbox && !sandbox_enter(*config.sandbox, config.name, true, &err)) {
            reply(err);
            std::fflush(nullptr);
            _exit(1);
        }
        reply(Error());
        // The host going away (any way at all) closes its end: then leave.
        std::thread([] {
            char b;
            for (;;) {
                ssize_t r = ::recv(kChildControlFd, &b, 1, 0);
                if (r > 0 || (r < 0 && errno == EINTR)) continue;
                _exit(0);
            }
        }).detach();
        server.run();
        server.clear();
    }
    Py_FinalizeEx();
    std::fflush(nullptr);
    _exit(0);
}

}  // namespace pyctx::core
