//! Process contexts: Python in a child process. The mode by name and on the
//! handle, evaluation in the child (another pid), many threads sharing one,
//! and a child that exits: every request behind it fails once, as crashed.

mod support {
    pub mod common;
}

use std::io::Write;
use std::thread;
use std::time::Duration;

use pyctx::{ContextOptions, ErrorKind, Mode, PendingRequest, ProcessOutput, Value};
use support::common::{context, runtime};

#[test]
fn the_mode_parses_displays_and_is_reported() {
    assert_eq!("process".parse::<Mode>().unwrap(), Mode::Process);
    assert_eq!(Mode::Process.to_string(), "process");
    let err = "forked".parse::<Mode>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("\"process\""), "{err}");
    let ctx = context(Mode::Process);
    assert_eq!(ctx.mode(), Mode::Process);
    assert_eq!(ErrorKind::Crashed.to_string(), "crashed");
}

#[test]
fn a_process_context_evaluates_in_a_child_of_its_own() {
    let ctx = runtime()
        .context(&ContextOptions::new().mode(Mode::Process).name("rust-proc").preload("base = 40\n"))
        .unwrap();
    assert_eq!(ctx.eval("base + 2").unwrap(), Value::Int(42));
    assert_eq!(ctx.call("math", "gcd", (12, 18)).unwrap(), Value::Int(6));
    let pid: u64 = ctx.eval("__import__('os').getpid()").unwrap().try_into().unwrap();
    assert_ne!(pid, u64::from(std::process::id()));
    let parent: u64 = ctx.eval("__import__('os').getppid()").unwrap().try_into().unwrap();
    assert_eq!(parent, u64::from(std::process::id()));
    assert_eq!(ctx.stats().unwrap().thread_id, pid, "a process context's thread id is its child's pid");
    // Python errors are still Python errors.
    let err = ctx.eval("1 / 0").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Python);
    assert_eq!(err.python_type(), Some("ZeroDivisionError"));
    ctx.close(Duration::from_secs(5)).unwrap();
    assert_eq!(ctx.eval("1").unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn threads_share_a_process_context_and_every_call_completes_once() {
    const THREADS: i64 = 4;
    const CALLS: i64 = 50;
    let ctx = context(Mode::Process);
    ctx.exec("def tag(t, i): return [t, i]").unwrap();
    let before = ctx.stats().unwrap();
    thread::scope(|s| {
        for t in 0..THREADS {
            let ctx = &ctx;
            s.spawn(move || {
                for i in 0..CALLS {
                    let v = if i % 2 == 0 {
                        ctx.call("__main__", "tag", (t, i)).unwrap()
                    } else {
                        ctx.call_async("__main__", "tag", (t, i)).wait().unwrap()
                    };
                    assert_eq!(v, Value::list([t, i]));
                }
            });
        }
    });
    let after = ctx.stats().unwrap();
    assert_eq!(after.completed - before.completed, (THREADS * CALLS) as u64);
    assert_eq!(after.failed, before.failed);
}

#[test]
fn a_child_that_exits_fails_every_pending_request_once_as_crashed() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 25;
    // The child blocks reading a FIFO it made, so everything submitted
    // meanwhile queues behind the request that then ends it.
    let fifo = std::env::temp_dir().join(format!("pyctx-rust-proc-gate-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    let fifo_text = fifo.to_str().unwrap();
    let ctx = runtime()
        .context(
            &ContextOptions::new()
                .mode(Mode::Process)
                .preload(format!("import os\nos.mkfifo({fifo_text:?})\ngate = {fifo_text:?}\n")),
        )
        .unwrap();
    let pid = ctx.stats().unwrap().thread_id;
    let before = ctx.stats().unwrap();

    let gate = ctx.exec_async("with open(gate, 'rb') as f:\n    f.read(1)\n");
    let exit = ctx.exec_async("os._exit(3)");
    let queued: Vec<Vec<PendingRequest>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| s.spawn(|| (0..PER_THREAD).map(|_| ctx.eval_async("2")).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Open the gate: the child reads a byte and runs os._exit(3).
    std::fs::OpenOptions::new().write(true).open(&fifo).unwrap().write_all(b"x").unwrap();
    std::fs::remove_file(&fifo).unwrap();

    assert_eq!(gate.wait().unwrap(), Value::None);
    let expect_crashed = |err: pyctx::Error| {
        assert_eq!(err.kind(), ErrorKind::Crashed, "{err}");
        assert!(err.is_crashed());
        assert!(err.message().contains("exited with code 3"), "{err}");
        assert!(err.message().contains(&pid.to_string()), "{err}");
    };
    expect_crashed(exit.wait().unwrap_err());
    // Each thread waits for its own requests.
    let crashed: usize = thread::scope(|s| {
        let handles: Vec<_> = queued
            .into_iter()
            .map(|requests| {
                s.spawn(move || requests.into_iter().map(|r| expect_crashed(r.wait().unwrap_err())).count())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(crashed, THREADS * PER_THREAD);
    // Exactly once: the library counted one completion per request (crashed
    // ones count as failed), nothing more.
    let after = ctx.stats().unwrap();
    assert_eq!(after.completed - before.completed, 1);
    assert_eq!(after.failed - before.failed, (THREADS * PER_THREAD + 1) as u64);
    assert_eq!((after.cancelled, after.timed_out, after.closed), (0, 0, 0));
    // No restart policy: the context is closed; the host runs on.
    assert!(ctx.is_closed());
    assert_eq!(ctx.eval("1").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(context(Mode::Process).eval("2 + 3").unwrap(), Value::Int(5));
}

#[test]
fn a_restart_budget_brings_a_new_child_and_then_closes() {
    let ctx = runtime()
        .context(
            &ContextOptions::new().mode(Mode::Process).restart(1, Duration::ZERO).preload("started = 'preload ran'\n"),
        )
        .unwrap();
    let first = ctx.process_info().unwrap();
    assert_eq!(first.restarts, 0);
    assert_eq!(first.pid, ctx.stats().unwrap().thread_id);
    ctx.exec("kept = 1").unwrap();
    // The running request of the dead child fails as crashed ...
    let err = ctx.exec("import os; os._exit(5)").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crashed, "{err}");
    // ... and the next one runs in a new child, preloaded again, state gone.
    assert_eq!(ctx.eval("started").unwrap(), Value::from("preload ran"));
    assert_eq!(ctx.eval("'kept' in globals()").unwrap(), Value::Bool(false));
    let second = ctx.process_info().unwrap();
    assert_eq!(second.restarts, 1);
    assert_ne!(second.pid, first.pid);
    assert_ne!(second.pid, 0);
    // Beyond the budget of one restart the context closes.
    assert_eq!(ctx.exec("import os; os._exit(6)").unwrap_err().kind(), ErrorKind::Crashed);
    assert!(ctx.is_closed());
    assert_eq!(ctx.eval("1").unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(ctx.process_info().unwrap().pid, 0);
}

#[test]
fn a_helper_path_that_is_not_an_executable_is_not_found() {
    let err = runtime()
        .context(&ContextOptions::new().mode(Mode::Process).process_helper("/nonexistent/pyctx-process-helper"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.message().contains("/nonexistent/pyctx-process-helper"), "{err}");
    // Other modes report no child.
    assert_eq!(context(Mode::Worker).process_info().unwrap(), pyctx::ProcessInfo::default());
}

#[test]
fn the_childs_output_can_arrive_as_log_records() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    pyctx::log::set_handler(pyctx::log::INFO, 100, move |r| {
        if r.logger.starts_with("pyctx.process.") {
            let _ = tx.lock().unwrap().send(r.clone());
        }
    })
    .unwrap();
    let ctx = runtime()
        .context(&ContextOptions::new().mode(Mode::Process).name("rust-out").process_output(ProcessOutput::Log))
        .unwrap();
    ctx.exec("import sys\nprint('to stdout', flush=True)\nprint('to stderr', file=sys.stderr)").unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let r = rx.recv_timeout(Duration::from_secs(20)).expect("the child's lines as records");
        got.push((r.logger, r.level, r.message, r.context));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("pyctx.process.stderr".to_string(), pyctx::log::WARNING, "to stderr".to_string(), "rust-out".to_string()),
            ("pyctx.process.stdout".to_string(), pyctx::log::INFO, "to stdout".to_string(), "rust-out".to_string()),
        ]
    );
    pyctx::log::clear_handler().unwrap();
}
