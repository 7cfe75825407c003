//! Many threads sharing contexts; the Send/Sync promises.

mod support {
    pub mod common;
}

use std::sync::Arc;
use std::thread;

use pyctx::{Context, Env, Error, HostCall, Mode, PendingRequest, Runtime, Value};
use support::common::{MODES, context};

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn handles_are_send_and_sync_where_promised() {
    assert_send_sync::<Runtime>();
    assert_send_sync::<Context>();
    assert_send_sync::<Env>();
    assert_send_sync::<Error>();
    assert_send_sync::<Value>();
    assert_send::<PendingRequest>();
    assert_send::<HostCall>();
}

#[test]
fn many_threads_share_one_context() {
    const THREADS: i64 = 8;
    const CALLS: i64 = 150;
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("def tag(t, i): return [t, i, t * 1000 + i]").unwrap();
        let before = ctx.stats().unwrap().completed;
        thread::scope(|s| {
            for t in 0..THREADS {
                let ctx = &ctx;
                s.spawn(move || {
                    for i in 0..CALLS {
                        let v = ctx.call("__main__", "tag", (t, i)).unwrap();
                        assert_eq!(v, Value::list([t, i, t * 1000 + i]), "{mode}");
                    }
                });
            }
        });
        let after = ctx.stats().unwrap().completed;
        assert_eq!(after - before, (THREADS * CALLS) as u64, "{mode}: every call completed once");
    }
}

#[test]
fn clones_move_to_threads_and_mix_sync_and_async() {
    let ctx = context(Mode::OwnGil);
    let env = ctx.env().unwrap();
    env.exec("import threading\nlock = threading.Lock()\ntotal = 0\ndef add(n):\n    global total\n    with lock:\n        total += n\n    return total\n").unwrap();
    let env = Arc::new(env);
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let env = Arc::clone(&env);
            thread::spawn(move || {
                for i in 0..50 {
                    if (t + i) % 2 == 0 {
                        env.eval_with("add(n)").local("n", 1).run().unwrap();
                    } else {
                        env.eval_with("add(n)").local("n", 1).run_async().wait().unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(env.eval("total").unwrap(), Value::Int(300));
    // The context outlives the last `Context` value through the env.
    drop(ctx);
    assert_eq!(env.context().unwrap().eval("1").unwrap(), Value::Int(1));
}
