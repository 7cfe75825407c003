// The child's side of a process context: its main thread serves the
// request ring on the main interpreter, through the same Python glue an
// in-process context uses (PyState: runner, namespaces, event loop, host
// calls) -- this class is that glue's ContextThread. There is no lane in the
// child: the host's lane owns every request's life; the child sends exactly
// one completion per request it received (a stopped one included, so the
// host can let go of it).
//
// Interrupts: the host stores the id of the request to stop in the
// segment and sends SIGINT; the Python-level handler installed here raises
// KeyboardInterrupt only if that request is the one running (a late signal
// never hits the next request). A blocking sleep or read returns EINTR and
// runs the handler, so those are interrupted too.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/base/shared_arena.h"
#include "core/base/spin_lock.h"
#include "core/engine/process/segment.h"
#include "core/engine/process/wire.h"
#include "core/host/log_sink.h"
#include "core/request/request_pool.h"
#include "core/python/context_thread.h"
#include "core/python/py_state.h"

namespace pyctx::core {

// Every request the child holds is one of these, made when its message
// arrives (the glue never makes requests in the child).
// Recycled (request_pool.h), so a stream of requests allocates nothing.
struct ChildRequest final : Request {
    static ChildRequest *make() { return RequestPool<ChildRequest>::acquire(); }
    uint32_t slot = 0;  // 1 + the completion slot its caller waits on, or 0

protected:
    void destroy() override {
        reset_for_reuse();
        slot = 0;
        RequestPool<ChildRequest>::recycle(this);
    }
};

class ChildServer final : public ContextThread, public HostCallWaiter {
public:
    ChildServer(Segment &segment, int wake_fd, std::string name);
    ~ChildServer();

    // With the GIL held: the glue's state, the preload, the SIGINT handler.
    // `generation` numbers this child's object handles (wire.h).
    bool init(const std::vector<std::string> &paths, const std::string &preload,
              uint32_t generation, Error *err);
    // Serves until the host sends `close`.
    void run() { serve(nullptr, nullptr); }
    // Any thread: tells the host that buffer `index` of request `id` is no
    // longer seen here.
    void send_buffer_done(uint64_t id, uint32_t index);
    // Any thread: hands a Python logging record to the host's log sink
    // (never answered; the host queues or drops it). False when it could
    // not be encoded.
    bool send_log_record(const LogRecord &rec);
    void clear();

    // A host function call from Python (any thread of the child).
    // `waits_off_main`: a Python thread of the child's own will block in
    // await_answer_off_main() for it.
    void send_host_call(HostCall *call, bool waits_off_main);
    // Blocks a thread other than the main one (a caller's own, or a watcher
    // of a call awaited on a user's loop) until `call` is answered,
    // reading the request ring itself whenever the main thread is not
    // (it may run Python for a long time, or wait on this very thread):
    // answers of such calls are resolved here, every other message is kept,
    // in order, for the main thread.
    void await_answer_off_main(HostCall *call);
    bool on_main_thread() const { return std::this_thread::get_id() == main_thread_; }
    // The SIGINT handler's decision (main thread, GIL held): nullptr with
    // KeyboardInterrupt set, or None.
    PyObject *on_sigint();
    static ChildServer *instance() { return instance_; }

    // ---- ContextThread ----
    const std::string &context_name() const override { return name_; }
    PyState &py() override { return *py_; }
    void complete(Request *r, Outcome &&out) override;
    Request *current_request() override { return running_.empty() ? nullptr : running_.back(); }
    void clear_pending_interrupt(Request *r) override;
    bool is_closing() const override { return closing_; }
    void invoke_host(HostCall *call) override;
    void wait_host_answer(HostCall *call, const Request *waiting) override {
        serve(&call->answered, waiting);
    }
    std::shared_ptr<HostCallWaiter> host_call_waiter() override {
        return std::shared_ptr<HostCallWaiter>(std::shared_ptr<void>(), this);  // lives as long as the process
    }
    void add_task(Request *r) override;
    Request *take_task(uint64_t id) override;
    int wake_fd() const override { return wake_fd_; }
    // Counts the views of buffers the host lent; the views of buffer results
    // are released as soon as their copy is in the result arena.
    const std::shared_ptr<BufferLedger> &buffer_ledger() override { return ledger_; }

    // ---- HostCallWaiter ----
    void host_answer_arrived() override {}  // answers are read on the main thread itself
    bool post_host_reply(HostCall *call) override;

private:
    void serve(const std::atomic<uint32_t> *until, const Request *abort);
    void serve_loop(const std::atomic<uint32_t> *until, const Request *abort);
    // After a nested serve (a host call waited on inside a task the loop
    // runs): the bell says "in the selector" again, as before the wait,
    // so the host's next message writes the eventfd the loop blocks on.
    void rearm_selector();
    bool read_ring();
    // Messages for the main thread: kept by a waiter off the main thread, or
    // in the ring.
    bool has_input() const {
        return seg_.to_child().has_data() || kept_count_.load(std::memory_order_acquire) != 0;
    }
    void handle(const ByteBuffer &msg);
    // A host_answer message: resolves its call (any thread, calls_mu_ not
    // held). True when it was for a call waited on off the main thread.
    bool resolve_answer(wire::Reader &rd);
    // The id of a host_answer message, for a waiter deciding whether to
    // resolve it or keep it; false for any other message.
    static bool answer_id(const ByteBuffer &msg, uint64_t *id);
    void stop(uint64_t id);
    void run_one(Request *r);
    void park();
    // Writes one message to the completion ring, waiting for room.
    void write_out(const ByteBuffer &msg);
    // Maps the buffers a request message describes into r->buffers.
    Error take_buffers(wire::Reader &rd, Request *r);
    // Copies a buffer result (a Python view) into a block of the result
    // arena, C-contiguous, and describes it for the host.
    Error copy_result_out(const Buffer &view, wire::BlockDesc *out);
    std::unique_ptr<SharedArena> results_;         // fd 7, when the host gave one
    std::map<uint64_t, uint64_t> result_blocks_;   // offset -> mapped, until the host frees it
    void send_completion(const Request *r, const Outcome &out);
    // Puts the encoded completion into slot `index` if its caller waits
    // there; false when it must go through the ring instead.
    bool complete_in_slot(uint32_t index, const ByteBuffer &msg);

    Segment &seg_;
    SegmentHeader &hdr_;
    const int wake_fd_;
    const std::string name_;
    std::unique_ptr<PyState> py_;
    std::shared_ptr<BufferLedger> ledger_ = std::make_shared<BufferLedger>();
    bool closing_ = false;
    std::atomic<bool> log_in_ring_{false};  // a record was written since the last slot completion
    ByteBuffer inbox_;
    AdaptiveSpin spin_{1024};
    // Main thread only: how deep serve() is nested, and the depth whose
    // loop.drive(true) is blocked in the selector (-1: none). A nested
    // serve parks on the bell and leaves it kAwake; the selector it returns
    // to would then never be woken.
    int serve_depth_ = 0;
    int selector_depth_ = -1;

    std::deque<Request *> local_;    // received, not started
    std::vector<Request *> running_;  // nested by host calls
    std::unordered_map<uint64_t, Request *> tasks_;

    SpinLock out_mu_;  // the completion ring's single producer
    struct PendingCall {
        HostCall *call;        // the answering side's reference
        bool waits_off_main;   // a thread other than main blocks for it
    };
    std::mutex calls_mu_;
    std::unordered_map<uint64_t, PendingCall> calls_;  // waiting for the host's answer
    uint64_t next_call_ = 1;
    // Reading the request ring: the main thread (recursively, as handling a
    // message may run Python that waits on a host call) or a waiter off the
    // main thread (try_lock only). kept_ holds what such a waiter read
    // that was not its answer, for the main thread, before the ring.
    std::recursive_mutex in_mu_;
    std::deque<ByteBuffer> kept_;
    std::atomic<size_t> kept_count_{0};
    const std::thread::id main_thread_ = std::this_thread::get_id();

    static ChildServer *instance_;
};

// The helper's whole life: reads its configuration from the control
// socket, starts Python, serves, exits. Returns the exit code.
int child_main();

}  // namespace pyctx::core
