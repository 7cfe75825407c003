//! Dropping a future cancels its request, and the later completion frees
//! everything. One test function on purpose: it counts the crate's live
//! async states, which other tests in the same process would disturb.

mod support {
    pub mod common;
}

use std::sync::{Mutex, mpsc};
use std::time::Duration;

use pyctx::{Value, live_async_requests};
use support::common::{MODES, context, spin_after_signal, wait_until};

#[test]
fn dropping_a_future_cancels_and_frees_its_request() {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    pyctx::host::register("drop_started", move |_| {
        tx.lock().unwrap().send(()).unwrap();
        Ok(Value::None)
    })
    .unwrap();
    let baseline = live_async_requests();

    for mode in MODES {
        let ctx = context(mode);
        ctx.exec(&spin_after_signal("drop_started")).unwrap();
        ctx.exec("ran = []").unwrap();
        let before = ctx.stats().unwrap();

        // A running request: dropped while Python spins in it.
        let running = ctx.call_async("__main__", "spin", ());
        rx.recv().unwrap();
        // A queued request behind it: dropped before it can run.
        let queued = ctx.exec_async("ran.append('queued')");
        assert_eq!(live_async_requests(), baseline + 2);
        drop(queued);
        drop(running);

        // The spin was interrupted (else this would never return) and the
        // queued request never ran.
        assert_eq!(ctx.eval("ran").unwrap(), Value::list(Vec::<Value>::new()), "{mode}");
        let after = ctx.stats().unwrap();
        assert_eq!(after.cancelled, before.cancelled + 2, "{mode}: both requests completed as cancelled");
        // Both completions arrive on a library thread and release the state.
        wait_until("dropped requests' states are freed", Duration::from_secs(10), || {
            live_async_requests() == baseline
        });
    }

    // Drops racing completions: from several threads, requests that finish
    // in microseconds are dropped at every stage of their life.
    let ctx = context(pyctx::Mode::OwnGil);
    std::thread::scope(|s| {
        for t in 0..4 {
            let ctx = &ctx;
            s.spawn(move || {
                for i in 0..300 {
                    let pending = ctx.eval_async("sum(range(50))");
                    if (i + t) % 3 == 0 {
                        std::thread::yield_now();
                    }
                    drop(pending);
                }
            });
        }
    });
    assert_eq!(ctx.eval("sum(range(50))").unwrap(), Value::Int(1225));
    wait_until("raced requests' states are freed", Duration::from_secs(10), || {
        live_async_requests() == baseline
    });
    let stats = ctx.stats().unwrap();
    assert_eq!(stats.completed + stats.cancelled, 1200 + 1, "each request completed exactly once");

    // Dropping after completion cancels nothing and frees at once.
    let ctx = context(pyctx::Mode::Worker);
    let done = ctx.eval_async("1");
    wait_until("completion", Duration::from_secs(10), || done.is_complete());
    let cancelled = ctx.stats().unwrap().cancelled;
    drop(done);
    assert_eq!(live_async_requests(), baseline);
    assert_eq!(ctx.stats().unwrap().cancelled, cancelled);
}
