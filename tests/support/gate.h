// A Gate lets the test hold a Python request at a known point without sleeps:
// Python writes a byte to the "started" pipe, then blocks reading the
// "release" pipe until the test writes to it. Pipes are process-wide, so this
// works from worker and owngil contexts alike. A request blocked in os.read()
// cannot be interrupted: release the gate before closing its context.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace pyctx_test {

class Gate {
public:
    Gate() {
        if (pipe2(started_, O_CLOEXEC) != 0 || pipe2(release_, O_CLOEXEC) != 0) ok_ = false;
    }
    Gate(const Gate &) = delete;
    Gate &operator=(const Gate &) = delete;
    ~Gate() {
        open_all();
        for (int fd : {started_[0], started_[1], release_[0]})
            if (fd >= 0) ::close(fd);
    }

    bool valid() const { return ok_; }

    /** Python expression: tells the test that the request has started. */
    std::string py_signal_started() const {
        return "__import__('os').write(" + std::to_string(started_[1]) + ", b's')";
    }
    /** Python expression: blocks until release() (or open_all()). */
    std::string py_wait_release() const {
        return "__import__('os').read(" + std::to_string(release_[0]) + ", 1)";
    }
    /** Python statements: signal "started", then block until released. */
    std::string py_block() const { return py_signal_started() + "\n" + py_wait_release() + "\n"; }
    /** Python statements: signal "started", then spin in pure Python (a loop
     *  that only an interrupt ends). */
    std::string py_spin() const { return py_signal_started() + "\nwhile True:\n    pass\n"; }

    /** Waits until one request signalled "started"; false after timeout_ms. */
    bool wait_started(int timeout_ms = 10000) {
        pollfd p{started_[0], POLLIN, 0};
        int rc;
        do rc = ::poll(&p, 1, timeout_ms);
        while (rc < 0 && errno == EINTR);
        if (rc != 1) return false;
        char c;
        return ::read(started_[0], &c, 1) == 1;
    }

    /** Lets `n` blocked readers go. */
    void release(int n = 1) {
        for (int i = 0; i < n; ++i) {
            char c = 'r';
            if (::write(release_[1], &c, 1) != 1) break;
        }
    }

    /** Lets every present and future reader go (end-of-file). */
    void open_all() {
        if (release_[1] >= 0) {
            ::close(release_[1]);
            release_[1] = -1;
        }
    }

private:
    int started_[2] = {-1, -1};
    int release_[2] = {-1, -1};
    bool ok_ = true;
};

} // namespace pyctx_test
