// Starting a child (segment, control socket, wake-up eventfd, spawn, the
// start-up handshake), reaping it, and the close escalation.
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/engine/context.h"
#include "core/engine/process/process_executor.h"
#include "core/engine/process/setup_wire.h"
#include "core/engine/process/spawn.h"
#include "core/engine/process/wire.h"
#include "core/engine/runtime.h"

namespace pyctx::core {

namespace {

bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// Reads exactly n bytes by `deadline_ns` (0: none). 0 ok, 1 EOF/error, 2 timeout.
int read_all(int fd, uint8_t *p, size_t n, int64_t deadline_ns) {
    while (n) {
        int timeout = -1;
        if (deadline_ns) {
            int64_t left = deadline_ns - now_ns();
            if (left <= 0) return 2;
            timeout = static_cast<int>(std::min<int64_t>(left / 1000000 + 1, 1 << 30));
        }
        pollfd pfd{fd, POLLIN, 0};
        int rc = ::poll(&pfd, 1, timeout);
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0) continue;  // re-checks the deadline
        ssize_t r = ::recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 1;
        p += r;
        n -= static_cast<size_t>(r);
    }
    return 0;
}

}  // namespace

ChildProcess::~ChildProcess() {
    signal(SIGKILL);  // never leaves a child behind (no-op once reaped)
    if (reaper.joinable()) reaper.join();
    if (control_fd >= 0) ::close(control_fd);
    if (wake_fd >= 0) ::close(wake_fd);
}

void ChildProcess::signal(int sig) {
    std::lock_guard lock(mu);
    if (pid > 0 && !reaped) ::kill(pid, sig);
}

void ProcessExecutor::reap(ChildProcess *c) {
    siginfo_t info;
    int rc;
    // WNOWAIT: the pid stays ours (no reuse) until reaped under the lock,
    // so a concurrent kill() can never hit another process.
    do {
        std::memset(&info, 0, sizeof info);
        rc = waitid(P_PID, static_cast<id_t>(c->pid), &info, WEXITED | WNOWAIT);
    } while (rc < 0 && errno == EINTR);
    {
        std::lock_guard lock(c->mu);
        int status = 0;
        pid_t got;
        do {
            got = rc == 0 ? waitpid(c->pid, &status, 0) : -1;
        } while (got < 0 && errno == EINTR && rc == 0);
        c->how_it_ended = got == c->pid ? describe_wait_status(status)
                                        : "ended (its exit status was collected elsewhere in "
                                          "this process)";
        c->reaped = true;
    }
    c->exited.store(1, std::memory_order_release);
    futex_wake_all(c->exited);
    ring_bell(*c->host_bell, -1);
}

Error ProcessExecutor::spawn(std::unique_ptr<ChildProcess> *out) {
    auto c = std::make_unique<ChildProcess>();
    c->generation = generation_.fetch_add(1, std::memory_order_relaxed) + 1;
    c->host_bell = &seg_.header().host_bell;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return Error(Status::internal, std::string("socketpair: ") + std::strerror(errno));
    c->control_fd = sv[0];
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->wake_fd < 0) {
        ::close(sv[1]);
        return Error(Status::internal, std::string("eventfd: ") + std::strerror(errno));
    }
    int out_fd = -1, err_fd = -1;
    if (ctx_.options().process_output == ProcessOutput::log) {
        c->output = std::make_unique<OutputRelay>();
        if (Error e = c->output->open(); !e.ok()) {
            ::close(sv[1]);
            return e;
        }
        out_fd = c->output->stdout_write_fd();
        err_fd = c->output->stderr_write_fd();
    }
    SharedArena *arena = SharedArena::get();
    c->results = arena ? SharedArena::create("pyctx-results") : nullptr;
    Error err = spawn_child(helper_, sv[1], seg_.fd(), c->wake_fd, arena ? arena->fd() : -1,
                            c->results ? c->results->fd() : -1, &c->pid, out_fd, err_fd);
    ::close(sv[1]);
    if (!err.ok()) return err;
    if (c->output) {
        if (Error e = c->output->start(ctx_.name()); !e.ok()) return e;  // ~ChildProcess kills it
    }
    try {
        c->reaper = std::thread(&ProcessExecutor::reap, this, c.get());
    } catch (const std::system_error &) {
        ::kill(c->pid, SIGKILL);
        waitpid(c->pid, nullptr, 0);
        c->reaped = true;
        return Error(Status::internal, "could not start the reaper thread of a process context");
    }
    const uint32_t timeout_ms = ctx_.options().create_timeout_ms;
    err = handshake(*c, timeout_ms ? now_ns() + int64_t{timeout_ms} * 1000000 : 0);
    if (!err.ok()) return err;  // ~ChildProcess kills and reaps it
    *out = std::move(c);
    return {};
}

Error ProcessExecutor::handshake(ChildProcess &c, int64_t deadline_ns) {
    // The configuration: what the child needs to run this context's Python
    // the way an in-process context would.
    const ContextOptions &o = ctx_.options();
    const RuntimeOptions &ro = Runtime::get().options();
    ByteBuffer msg;
    wire::Writer w(msg);
    w.u32(0);  // length, patched below
    w.str(o.name).str(o.preload).u32(static_cast<uint32_t>(ro.paths.size()));
    for (const auto &p : ro.paths) w.str(p);
    w.str(ro.home).str(ro.program_name).u32(static_cast<uint32_t>(ro.allocator));
    w.u64(o.memory_limit).u32(c.generation);
    // The runtime-wide set-up so far: the child applies it before the
    // preload, as PyState::init does in process; later steps follow as
    // setup_step messages.
    c.setup_gen = setup_log().generation();
    const std::vector<SetupStep> steps = setup_log().slice(0, c.setup_gen);
    c.setup_gen = steps.size();  // what was read, should a step be logged meanwhile
    w.u32(static_cast<uint32_t>(steps.size()));
    for (const SetupStep &step : steps) wire::write_setup_step(w, step);
    // The sandbox: the child applies it with kernel rules (kernel_sandbox.h).
    const SandboxPolicy *sandbox = o.sandbox.get();
    w.u8(sandbox ? 1 : 0);
    if (sandbox) {
        w.u8(sandbox->block_process_creation ? 1 : 0).u8(sandbox->block_sockets ? 1 : 0);
        w.u8(sandbox->restrict_files ? 1 : 0).u32(static_cast<uint32_t>(sandbox->paths.size()));
        for (const SandboxPolicy::PathRule &rule : sandbox->paths)
            w.str(rule.path).u8(rule.read_only ? 1 : 0);
    }
    if (!w.ok()) return Error(Status::no_memory, "out of memory");
    uint32_t len = static_cast<uint32_t>(msg.size() - 4);
    std::memcpy(msg.data(), &len, 4);
    if (!write_all(c.control_fd, msg.data(), msg.size()))
        return Error(Status::internal, "the process helper closed its channel before start-up");

    uint32_t reply_len = 0;
    int rc = read_all(c.control_fd, reinterpret_cast<uint8_t *>(&reply_len), 4, deadline_ns);
    std::string reply;
    if (rc == 0 && reply_len > (1u << 24)) rc = 1;
    if (rc == 0) {
        reply.resize(reply_len);
        rc = read_all(c.control_fd, reinterpret_cast<uint8_t *>(reply.data()), reply_len,
                      deadline_ns);
    }
    const std::string who = "process context '" + o.name + "'";
    if (rc == 2)
        return Error(Status::timeout, who + " was not ready within " +
                                          std::to_string(o.create_timeout_ms) +
                                          " ms (its child was killed)");
    if (rc == 1) {
        // Died during start-up: wait (briefly) for the reaper to say how.
        c.signal(SIGKILL);
        wait_until_set(c.exited);
        std::lock_guard lock(c.mu);
        return Error(Status::crashed,
                     who + ": the child process (pid " + std::to_string(c.pid) + ") " +
                         c.how_it_ended + " during start-up");
    }
    wire::Reader r(reinterpret_cast<const uint8_t *>(reply.data()), reply.size());
    auto status = static_cast<Status>(r.u32());
    std::string message(r.str()), py_type(r.str()), traceback(r.str());
    if (!r.ok()) return Error(Status::internal, who + ": the child sent an unreadable start-up reply");
    if (status == Status::ok) return {};
    Error e(status, std::move(message));
    e.python_type = std::move(py_type);
    e.traceback = std::move(traceback);
    return e;
}

bool ProcessExecutor::wait_left_python(int64_t deadline_ns) {
    // Close escalation. The io thread has sent `close` and the lane has
    // interrupted what ran; then SIGTERM, then SIGKILL, each at a share of
    // the time left, so it always ends within the deadline.
    auto gone = [&] { return left_python_.load(std::memory_order_acquire) != 0; };
    auto wait_until = [&](int64_t until) {
        while (!gone()) {
            int64_t left = until - now_ns();
            if (left <= 0) return false;
            futex_wait(left_python_, 0, left);
        }
        return true;
    };
    const int64_t t0 = now_ns();
    const int64_t span = std::max<int64_t>(deadline_ns - t0, 0);
    auto send = [&](int sig) {
        std::lock_guard lock(child_mu_);
        if (child_) child_->signal(sig);
    };
    if (wait_until(t0 + span / 2)) return true;
    send(SIGTERM);
    if (wait_until(t0 + span * 4 / 5)) return true;
    send(SIGKILL);
    return wait_until(deadline_ns);
}

}  // namespace pyctx::core
