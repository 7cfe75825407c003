// A process context's child output as log records (the "log" process output
// option). The child's stdout and stderr are the write ends of two pipes;
// one library thread reads both and turns each line into a record for the
// runtime's log handler (pyctx_set_log_handler): logger
// "pyctx.process.stdout" at INFO or "pyctx.process.stderr" at WARNING, with
// the context's name. A line no handler takes (none set, below its level,
// its queue full) goes to the host's stderr instead, so a fatal error of the
// child is never lost.
#pragma once

#include <string>
#include <thread>

#include "core/base/error.h"

namespace pyctx::core {

class OutputRelay {
public:
    OutputRelay() = default;
    OutputRelay(const OutputRelay &) = delete;
    OutputRelay &operator=(const OutputRelay &) = delete;
    // Stops the thread: what the child wrote before it was reaped is read
    // and relayed first (a grandchild that kept the pipes open is not
    // waited for).
    ~OutputRelay();

    // Makes the pipes; the write ends are for the child's 1 and 2.
    Error open();
    int stdout_write_fd() const { return out_[1]; }
    int stderr_write_fd() const { return err_[1]; }
    // After the spawn: closes the write ends here and starts reading.
    Error start(std::string context_name);

private:
    void run();

    int out_[2] = {-1, -1};
    int err_[2] = {-1, -1};
    int stop_fd_ = -1;  // eventfd: the destructor asks the thread to finish
    std::string context_name_;
    std::thread thread_;
};

}  // namespace pyctx::core
