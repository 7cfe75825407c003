// The process executor: a context's Python runs in a child process (the
// helper executable, on its main interpreter), so any extension runs there,
// in parallel with every other context, and a crash never reaches the host.
//
// Host side, per context: a submitting thread writes its request into the
// shared request ring itself (under the send lock) and rings the child's
// bell, which costs a futex wake only when the child parked; a synchronous
// caller takes its completion from a completion slot (sync_slot.h) the
// child writes directly. The io thread carries the rest: async completions
// from the completion ring back to the lane, messages that wait for room,
// close, crash and restart (parking on a cross-process futex after bounded
// spinning); a reaper thread per child blocks in waitid() and reports its
// death; a host-call thread runs the host functions the child's Python
// calls (never the io thread: a host function may call back into this very
// context and wait for the answer). The lane keeps owning every request's
// life: a request sent to the child stays "running" in the lane, so cancel,
// deadlines and close find it; when the child dies, every request it held
// completes exactly once as crashed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/base/futex.h"
#include "core/base/id_map.h"
#include "core/base/spin_lock.h"
#include "core/engine/executor.h"
#include "core/engine/executor_thread.h"
#include "core/engine/process/output_relay.h"
#include "core/engine/process/segment.h"
#include "core/engine/process/wire.h"
#include "core/request/buffers.h"
#include "core/host/host_call.h"

namespace pyctx::core {

class Context;
class Lane;

// One started child and its channel.
struct ChildProcess {
    pid_t pid = -1;
    uint32_t generation = 0;
    uint64_t setup_gen = 0;  // the set-up steps its configuration carried
    std::atomic<uint32_t> *host_bell = nullptr;  // rung when it dies
    int control_fd = -1;  // host end of the control socket
    int wake_fd = -1;     // the child's selector wake-up (eventfd)
    std::mutex mu;        // kill() only while not reaped (no pid reuse)
    bool reaped = false;
    std::string how_it_ended;        // describe_wait_status(), once reaped
    std::atomic<uint32_t> exited{0};  // futex word: 1 once reaped
    std::thread reaper;
    std::unique_ptr<OutputRelay> output;  // the "log" output option; stops once the child is reaped
    // The arena the child copies buffer results into (the host maps its
    // blocks; a mapping outlives the child).
    std::unique_ptr<SharedArena> results;

    ~ChildProcess();
    // Sends `sig` unless the child was reaped already.
    void signal(int sig);
};

class ProcessExecutor final : public Executor {
public:
    explicit ProcessExecutor(Context &ctx);
    ~ProcessExecutor() override;

    Error start() override;
    void wake() override;
    void stop_claimed(Request *r) override;
    bool await_outcome(Request *r, int64_t deadline_ns) override;
    bool defer_delivery(Request *) override { return false; }
    bool on_own_thread() const override;
    Outcome run_nested(Request *r) override;
    bool serve_until_done(Request *) override { return false; }
    void release_env(uint64_t env_id) override;
    void begin_close() override;
    bool wait_left_python(int64_t deadline_ns) override;
    bool wait_exited(int64_t deadline_ns) override;
    bool has_exited() const override { return io_.exited(); }
    void abandon() override;
    // The child's pid: its Python runs on the child's main thread.
    uint64_t thread_id() const override { return child_pid(); }

    uint64_t child_pid() const { return pid_.load(std::memory_order_relaxed); }
    // True on this executor's io thread (never reads io_, which join and
    // detach change).
    bool on_io_thread() const { return Executor::current() == this && tls_on_io_; }
    uint32_t restarts() const { return restarts_.load(std::memory_order_relaxed); }

    // A host function answered a call of child generation `gen` (any thread).
    void post_answer(uint32_t gen, uint64_t call_id, HostCall *call);

private:
    // process_child.cpp
    Error spawn(std::unique_ptr<ChildProcess> *out);
    Error handshake(ChildProcess &c, int64_t deadline_ns);
    void reap(ChildProcess *c);
    // process_executor.cpp: the io thread.
    void io_main(std::shared_ptr<Context> self);
    bool drain();               // completion ring -> lane
    void handle(const ByteBuffer &msg);
    // process_send.cpp: the request ring's producer side (any thread).
    struct Refused {
        Request *r;
        Error error;
    };
    bool pump();  // the io thread's pump: lane queue -> request ring
    // Under send_mu_. On a submitting thread (`io` false) it leaves close,
    // and messages that wait for room, to the io thread: true when the io
    // thread should look.
    bool pump_locked(bool io, std::vector<Refused> &refused);
    void complete_refused(std::vector<Refused> &refused, bool io);
    void send_locked(const ByteBuffer &m);
    bool flush_outbox_locked();
    int alloc_slot_locked();
    void free_slot_locked(int i);
    // The child will never write these requests' slots (it died, or the
    // context ended): wakes their callers, frees the rest. Takes inflight_.
    void take_inflight_locked(std::vector<Request *> &out);
    // Completes a sent request with the child's outcome (any thread that
    // took it from the in-flight table); a handle or stream made for an
    // outcome that lost its claim is dropped in the child.
    void complete_from_child(Request *r, Outcome &&out);
    // A pull or close names a stream the current child holds (a close also
    // forgets it). Under send_mu_.
    bool still_in_child(const Request &r);
    // A completed sent request leaves the lane's task registry.
    void forget_sent(Request *r);
    // Wakes the caller of request `id` parked on its slot (it was claimed).
    void nudge_waiter(uint64_t id);
    bool child_died();  // completes what it held; true when a new child runs
    bool may_restart();
    void close_after_crash(const std::string &msg);
    void finish_io();
    void escalate_unwatched_close();
    // Interrupts request `id` if the child runs it now (under send_mu_,
    // once every stop sent so far is in the ring).
    void interrupt_if_running(uint64_t id);
    // process_buffers.cpp: attached buffers lent to the child.
    struct LentToChild {
        BufferRef buffer;         // the host's buffer (a reference of its own)
        SharedArena::Block copy;  // its copy in the arena (empty: shared as it is)
    };
    // Appends request r's buffer descriptions to its message and keeps each
    // buffer until the child lets go; false with *refuse set when they
    // cannot cross (no shared memory, out of it).
    bool lend_buffers_locked(Request *r, wire::Writer &w, Error *refuse);
    void unlend(uint64_t id);                         // r was refused after all
    void buffer_done(uint64_t id, uint32_t index);    // the child's last view went
    void child_let_go_of_buffers();                   // the child ended
    void end_loans(std::vector<LentToChild> &loans, bool copy_back);
    // A buffer result of the current child: its block mapped here as
    // out->buffer (read-only), freed in the child when the host lets go.
    // Under send_mu_, which keeps the child's result arena open.
    void map_result_locked(const wire::BlockDesc &block, Outcome *out);
    // process_host_calls.cpp
    void start_host_call(uint64_t call_id, std::string_view name, std::string_view args);
    // Answers a host call on the io thread itself (a builtin that never blocks).
    void answer_inline(uint64_t call_id, bool ok, const ByteBuffer &value, const std::string &message);
    // The largest value answer_inline carries: a message to the child less
    // the answer's kind, call id, flag and length (see answer_inline).
    size_t inline_answer_room() { return seg_.to_child().max_payload() - (1 + 8 + 1 + 4); }
    // Wakes the child's own Python threads that wait for answers, when any
    // do (segment.h, plain_waiters). Send lock held, after the answers.
    void nudge_answer_waiters();
    // Sends the set-up steps logged since the child last got one, ahead of
    // the request about to be sent (send lock held).
    void send_setup_locked();
    void host_thread_main();
    bool take_answers();

    Context &ctx_;
    Lane &lane_;
    std::string helper_;
    // One segment for the executor's life: a restarted child gets it reset,
    // so the host's bell stays where wakers ring it.
    Segment seg_;
    std::atomic<bool> seg_ready_{false};
    std::unique_ptr<ChildProcess> child_;  // io thread (and start)
    std::mutex child_mu_;                  // guards child_ for other threads
    std::atomic<uint64_t> pid_{0};
    std::atomic<uint32_t> generation_{0};
    std::atomic<uint32_t> restarts_{0};
    std::deque<int64_t> restart_times_;
    uint64_t env_floor_ = 0;  // envs below it belonged to a dead child
    // The streams the current child holds, by their open's id: entered when
    // the open is sent, left at the stream's close or a failed open, emptied
    // when a new child starts. A pull for a stream not here (one of a dead
    // child) is refused as closed instead of reaching the successor, which
    // never heard of it. Its own lock: the io thread drops failed opens.
    std::mutex streams_mu_;
    std::unordered_set<uint64_t> child_streams_;

    // The request ring's producer side, taken by submitting threads and the
    // io thread alike; never held while a completion is delivered.
    SpinLock send_mu_;
    // send_mu_ held for anything but a pump. A submitter that finds the lock
    // taken leaves its request to the holder (wake()), so every holder must
    // look at the queue once it lets go, not only the pumping ones: a holder
    // that only read the in-flight table would otherwise strand the request
    // until some later submission pumped it.
    class SendLock {
    public:
        explicit SendLock(ProcessExecutor &x) : x_(x) { x_.send_mu_.lock(); }
        ~SendLock() { x_.unlock_send(); }
        SendLock(const SendLock &) = delete;
        SendLock &operator=(const SendLock &) = delete;

    private:
        ProcessExecutor &x_;
    };
    void unlock_send();
    struct Inflight {
        Request *r = nullptr;  // the in-flight reference
        int32_t slot = -1;     // its completion slot, or -1
    };
    IdMap<Inflight> inflight_;  // sent, not yet answered; no allocation per request
    std::mutex lent_mu_;  // after send_mu_ when both are taken
    std::map<std::pair<uint64_t, uint32_t>, LentToChild> lent_;  // (request id, index)
    std::deque<ByteBuffer> outbox_;  // encoded messages waiting for room in the ring
    ByteBuffer scratch_;             // the message being encoded
    uint64_t slots_used_ = 0;        // bit i: completion slot i is taken
    // Sync requests whose caller looked for a slot before the request was
    // sent, and so waits the lane's way: they get none when sent.
    std::unordered_set<uint64_t> slotless_;
    bool child_alive_ = false;       // false from the child's death to its successor's start
    uint64_t setup_sent_ = 0;        // set-up steps the current child has (setup_log.h)
    int child_wake_fd_ = -1;
    int child_results_fd_ = -1;  // the current child's result arena (-1: none)
    // Stops sent for requests the child may be running: each gets SIGINT
    // once outbox_ is in the ring (a signal before an earlier stop is read
    // could unwind a request into one already cancelled).
    std::vector<uint64_t> interrupts_after_send_;
    bool close_sent_ = false;
    std::atomic<bool> outbox_pending_{false};  // outbox_ is not empty
    std::atomic<bool> pump_wanted_{false};     // the io thread should pump
    // Bumped (release) by every pump that writes, read (acquire) by the io
    // thread before it acts on what the child sent: the submitter's writes
    // then happen-before the io thread's reads in the memory model too
    // (the child in between is another process, which no tool can follow).
    std::atomic<uint64_t> sends_{0};

    // io thread only
    ByteBuffer inbox_;
    struct Arrived {
        uint64_t id = 0;
        Outcome out;
        bool ok = false;
        bool has_block = false;
        wire::BlockDesc block;  // a buffer result (has_block)
        Request *r = nullptr;
    };
    std::vector<Arrived> arrived_;  // a batch of completions being delivered
    int64_t close_sent_at_ = 0;
    AdaptiveSpin spin_{1024};

    // host functions called by the child
    struct Answer {
        uint32_t gen;
        uint64_t call_id;
        bool ok;
        ByteBuffer value;
        std::string message;
    };
    std::mutex host_mu_;
    std::condition_variable host_cv_;
    std::deque<HostCall *> host_calls_;
    std::vector<Answer> answers_;
    std::atomic<bool> answers_pending_{false};
    bool host_stop_ = false;
    // Grown when every one is busy: a host function blocked in a call back
    // into this context needs another thread for the nested host calls.
    std::vector<std::thread> host_threads_;
    size_t idle_hosts_ = 0;

    ExecutorThread io_;
    static inline thread_local bool tls_on_io_ = false;  // an io thread of some process executor
    std::atomic<uint32_t> started_{0};  // 1 ok, 2 failed
    std::atomic<uint32_t> left_python_{0};  // the last child is gone, none will follow
};

}  // namespace pyctx::core
