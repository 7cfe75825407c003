//! Asynchronous requests as futures on a tiny executor; coroutines.

mod support {
    pub mod common;
    pub mod executor;
}

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use pyctx::{ErrorKind, Mode, PendingRequest, Value};
use support::common::{MODES, context, wait_until};
use support::executor::{CountingWaker, block_on, join_all};

#[test]
fn many_async_calls_complete_with_their_own_results() {
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("def square(n): return n * n").unwrap();
        let pending: Vec<PendingRequest> =
            (0..200i64).map(|i| ctx.call_async("__main__", "square", (i,))).collect();
        let ids: std::collections::HashSet<u64> = pending.iter().map(|p| p.request_id().unwrap()).collect();
        assert_eq!(ids.len(), 200, "request ids are unique");
        assert!(!ids.contains(&0), "request ids are never 0");
        let results = block_on(join_all(pending));
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), Value::from((i * i) as i64), "{mode}");
        }
    }
}

#[test]
fn eval_and_exec_async_with_env() {
    for mode in MODES {
        let ctx = context(mode);
        let env = ctx.env().unwrap();
        block_on(env.exec_async("acc = []")).unwrap();
        assert_eq!(block_on(env.exec_async("acc.append(1)")).unwrap(), Value::None);
        let v = block_on(env.eval_with("acc + [n]").local("n", 2).run_async()).unwrap();
        assert_eq!(v, Value::list([1, 2]), "{mode}");
        let err = block_on(ctx.eval_async("1/0")).unwrap_err();
        assert_eq!(err.python_type(), Some("ZeroDivisionError"));
    }
}

#[test]
fn async_def_functions_run_as_tasks_on_the_context_loop() {
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("import asyncio\nasync def later(x):\n    await asyncio.sleep(0.01)\n    return x * 2\n")
            .unwrap();
        // Synchronously: the coroutine's result, not a coroutine object.
        assert_eq!(ctx.call("__main__", "later", (21,)).unwrap(), Value::Int(42), "{mode}");
        // Many at once overlap on the loop.
        let pending: Vec<_> = (0..50).map(|i| ctx.call_async("__main__", "later", (i,))).collect();
        let results: Vec<i64> =
            block_on(join_all(pending)).into_iter().map(|r| r.unwrap().try_into().unwrap()).collect();
        assert_eq!(results, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }
}

#[test]
fn explicit_cancel_of_a_running_request() {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    pyctx::host::register("async_started", move |_| {
        tx.lock().unwrap().send(()).unwrap();
        Ok(Value::None)
    })
    .unwrap();
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec(&support::common::spin_after_signal("async_started")).unwrap();
        let pending = ctx.call_async("__main__", "spin", ());
        rx.recv().unwrap();
        pending.cancel().unwrap();
        let err = pending.wait().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{mode}: {err}");
        assert!(err.is_cancelled());
        assert_eq!(ctx.eval("'next'").unwrap(), Value::from("next"));
    }
}

#[test]
fn cancelling_a_completed_request_is_not_found() {
    let ctx = context(Mode::Worker);
    let mut pending = ctx.eval_async("5");
    let waker = Waker::from(Arc::new(CountingWaker(AtomicUsize::new(0))));
    wait_until("the request completes", Duration::from_secs(10), || pending.is_complete());
    assert_eq!(pending.cancel().unwrap_err().kind(), ErrorKind::NotFound);
    let poll = Pin::new(&mut pending).poll(&mut TaskContext::from_waker(&waker));
    assert!(matches!(poll, Poll::Ready(Ok(Value::Int(5)))));
}

#[test]
fn the_future_wakes_the_waker_it_was_last_polled_with() {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, release_rx) = (Mutex::new(started_tx), Mutex::new(release_rx));
    pyctx::host::register("async_gate", move |_| {
        started_tx.lock().unwrap().send(()).unwrap();
        release_rx.lock().unwrap().recv().unwrap();
        Ok(Value::from("through"))
    })
    .unwrap();
    let ctx = context(Mode::OwnGil);
    let mut pending = ctx.eval_async("__import__('pyctx').call('async_gate')");
    let first = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let second = Arc::new(CountingWaker(AtomicUsize::new(0)));
    started_rx.recv().unwrap();
    for waker in [&first, &second] {
        let waker = Waker::from(Arc::clone(waker));
        assert!(Pin::new(&mut pending).poll(&mut TaskContext::from_waker(&waker)).is_pending());
    }
    release_tx.send(()).unwrap();
    wait_until("the second waker is woken", Duration::from_secs(10), || second.0.load(Ordering::SeqCst) == 1);
    assert_eq!(first.0.load(Ordering::SeqCst), 0, "a replaced waker is not woken");
    let waker = Waker::from(second);
    let poll = Pin::new(&mut pending).poll(&mut TaskContext::from_waker(&waker));
    assert!(matches!(poll, Poll::Ready(Ok(Value::Str(ref s))) if s == "through"));
}

/// A waker that panics: the completion callback (called from C) must catch
/// it, and the result must still be delivered.
struct PanickingWaker(AtomicBool);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
        panic!("this waker panics on purpose");
    }
}

#[test]
fn a_panicking_waker_is_caught_at_the_c_boundary() {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, release_rx) = (Mutex::new(started_tx), Mutex::new(release_rx));
    pyctx::host::register("async_panic_gate", move |_| {
        started_tx.lock().unwrap().send(()).unwrap();
        release_rx.lock().unwrap().recv().unwrap();
        Ok(Value::Int(7))
    })
    .unwrap();
    let ctx = context(Mode::Worker);
    let mut pending = ctx.eval_async("__import__('pyctx').call('async_panic_gate')");
    started_rx.recv().unwrap();
    let bad = Arc::new(PanickingWaker(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&bad));
    assert!(Pin::new(&mut pending).poll(&mut TaskContext::from_waker(&waker)).is_pending());
    release_tx.send(()).unwrap();
    wait_until("the panicking waker ran", Duration::from_secs(10), || bad.0.load(Ordering::SeqCst));
    // The process is alive, the result arrived, the context works.
    assert_eq!(block_on(pending).unwrap(), Value::Int(7));
    assert_eq!(ctx.eval("1 + 1").unwrap(), Value::Int(2));
}
