#include "core/engine/process/output_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "core/host/log_sink.h"

namespace pyctx::core {

namespace {

constexpr int kInfo = 20, kWarning = 30;  // Python logging's levels
constexpr size_t kLongestLine = 64 * 1024;  // a longer one is relayed in pieces

void close_fd(int &fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

void write_all_stderr(const char *p, size_t n) {
    while (n) {
        ssize_t w = ::write(2, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= static_cast<size_t>(w);
    }
}

// One of the two streams: bytes read but not yet a whole line.
struct Stream {
    int fd;
    bool is_stderr;
    std::string partial;
    bool open = true;
};

void relay_line(const Stream &s, std::string line, const std::string &context_name) {
    const int level = s.is_stderr ? kWarning : kInfo;
    LogSink &sink = log_sink();
    if (sink.wants(level)) {
        LogRecord r;
        r.level = level;
        r.logger = s.is_stderr ? "pyctx.process.stderr" : "pyctx.process.stdout";
        r.message = line;
        r.context_name = context_name;
        r.created = std::chrono::duration<double>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
        if (sink.push(std::move(r))) return;
    }
    line.push_back('\n');
    write_all_stderr(line.data(), line.size());
}

// Relays every whole line of `s.partial` (all of it when `flush`).
void relay_lines(Stream &s, bool flush, const std::string &context_name) {
    size_t start = 0;
    for (;;) {
        size_t nl = s.partial.find('\n', start);
        if (nl == std::string::npos) break;
        relay_line(s, s.partial.substr(start, nl - start), context_name);
        start = nl + 1;
    }
    s.partial.erase(0, start);
    while (s.partial.size() >= kLongestLine) {
        relay_line(s, s.partial.substr(0, kLongestLine), context_name);
        s.partial.erase(0, kLongestLine);
    }
    if (flush && !s.partial.empty()) {
        relay_line(s, std::move(s.partial), context_name);
        s.partial.clear();
    }
}

// Reads what `s` has now; false at its end (EOF or error).
bool read_some(Stream &s, const std::string &context_name) {
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(s.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        if (n <= 0) return false;
        s.partial.append(buf, static_cast<size_t>(n));
        relay_lines(s, false, context_name);
        if (static_cast<size_t>(n) < sizeof buf) return true;
    }
}

}  // namespace

Error OutputRelay::open() {
    if (::pipe2(out_, O_CLOEXEC) != 0 || ::pipe2(err_, O_CLOEXEC) != 0)
        return Error(Status::internal, std::string("pipe for the child's output: ") +
                                           std::strerror(errno));
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0)
        return Error(Status::internal, std::string("eventfd: ") + std::strerror(errno));
    for (int fd : {out_[0], err_[0]}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return {};
}

Error OutputRelay::start(std::string context_name) {
    close_fd(out_[1]);
    close_fd(err_[1]);
    context_name_ = std::move(context_name);
    try {
        thread_ = std::thread(&OutputRelay::run, this);
    } catch (const std::system_error &) {
        return Error(Status::internal, "could not start the output thread of a process context");
    }
    return {};
}

OutputRelay::~OutputRelay() {
    if (thread_.joinable()) {
        uint64_t one = 1;
        (void)!::write(stop_fd_, &one, sizeof one);
        thread_.join();
    }
    close_fd(out_[0]);
    close_fd(out_[1]);
    close_fd(err_[0]);
    close_fd(err_[1]);
    close_fd(stop_fd_);
}

void OutputRelay::run() {
    Stream streams[2] = {{out_[0], false, {}}, {err_[0], true, {}}};
    bool stopping = false;
    while ((streams[0].open || streams[1].open) && !stopping) {
        pollfd fds[3];
        nfds_t n = 0;
        int which[2] = {-1, -1};
        for (int i = 0; i < 2; ++i) {
            if (!streams[i].open) continue;
            which[i] = static_cast<int>(n);
            fds[n++] = pollfd{streams[i].fd, POLLIN, 0};
        }
        const nfds_t stop_at = n;
        fds[n++] = pollfd{stop_fd_, POLLIN, 0};
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (which[i] < 0 || !fds[which[i]].revents) continue;
            if (!read_some(streams[i], context_name_)) streams[i].open = false;
        }
        stopping = fds[stop_at].revents != 0;
    }
    // The child is gone (or every pipe closed): what is still buffered in
    // the pipes goes out, then the last partial lines.
    for (Stream &s : streams) {
        while (s.open && read_some(s, context_name_)) {
            pollfd p{s.fd, POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) break;
        }
        relay_lines(s, true, context_name_);
    }
}

}  // namespace pyctx::core
