//! call / eval / exec, envs, options and context life, in both modes.

mod support {
    pub mod common;
}

use std::sync::mpsc;
use std::time::Duration;

use pyctx::{ContextOptions, ErrorKind, Mode, Value};
use support::common::{MODES, context, runtime};

#[test]
fn call_eval_exec_in_both_modes() {
    for mode in MODES {
        let ctx = context(mode);
        assert_eq!(ctx.mode(), mode);
        assert_eq!(ctx.call("math", "hypot", (3.0, 4.0)).unwrap(), Value::Float(5.0), "{mode}");
        assert_eq!(ctx.call("os.path", "join", ("a", "b")).unwrap(), Value::from("a/b"));
        assert_eq!(ctx.call("os", "path.join", ("c", "d")).unwrap(), Value::from("c/d"), "dotted function");
        assert_eq!(ctx.exec("counter = 41").unwrap(), Value::None);
        assert_eq!(ctx.eval("counter + 1").unwrap(), Value::Int(42));
        ctx.exec("def kw(a, *, b=0, c=0): return [a, b, c]").unwrap();
        let v = ctx.call_with("__main__", "kw").arg(1).kwarg("c", 3).run().unwrap();
        assert_eq!(v, Value::list([1, 0, 3]));
        let v = ctx.eval_with("a + b").local("a", "x").local("b", "y").run().unwrap();
        assert_eq!(v, Value::from("xy"));
    }
}

#[test]
fn worker_and_owngil_namespaces_are_separate() {
    let w1 = context(Mode::Worker);
    let w2 = context(Mode::Worker);
    let o = context(Mode::OwnGil);
    w1.exec("only_here = 1").unwrap();
    assert_eq!(w2.eval("'only_here' in globals()").unwrap(), Value::Bool(false));
    // Workers share modules (one interpreter); owngil contexts do not.
    w1.exec("import sys; sys.pyctx_rust_marker = 1").unwrap();
    assert_eq!(w2.eval("__import__('sys').pyctx_rust_marker").unwrap(), Value::Int(1));
    assert_eq!(o.eval("hasattr(__import__('sys'), 'pyctx_rust_marker')").unwrap(), Value::Bool(false));
}

#[test]
fn envs_are_separate_persistent_namespaces() {
    for mode in MODES {
        let ctx = context(mode);
        let a = ctx.env().unwrap();
        let b = ctx.env().unwrap();
        a.exec("x = 'a'").unwrap();
        b.exec("x = 'b'").unwrap();
        ctx.exec("x = 'default'").unwrap();
        assert_eq!(a.eval("x").unwrap(), Value::from("a"));
        assert_eq!(b.eval_with("x + y").local("y", "!").run().unwrap(), Value::from("b!"));
        assert_eq!(ctx.eval("x").unwrap(), Value::from("default"));
        // An env only works with its own context.
        let other = context(mode);
        let err = other.eval_with("1").env(&a).run().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{mode}: {err}");
    }
}

#[test]
fn options_name_preload_and_stats() {
    let ctx = runtime()
        .context(&ContextOptions::new().mode(Mode::OwnGil).name("rust-named").preload("PRELOADED = [1, 2]"))
        .unwrap();
    assert_eq!(ctx.name(), "rust-named");
    assert_eq!(ctx.eval("PRELOADED").unwrap(), Value::list([1, 2]));
    let before = ctx.stats().unwrap();
    ctx.eval("1").unwrap();
    let _ = ctx.eval("1/0");
    let after = ctx.stats().unwrap();
    assert_eq!(after.completed, before.completed + 1);
    assert_eq!(after.failed, before.failed + 1);
    assert_eq!(ctx.eval("__import__('threading').get_native_id()").unwrap(), Value::from(after.thread_id));

    let err =
        runtime().context(&ContextOptions::new().preload("raise ValueError('bad preload')")).unwrap_err();
    assert_eq!((err.kind(), err.python_type()), (ErrorKind::Python, Some("ValueError")));
    assert!(err.message().contains("bad preload"), "{err}");
}

#[test]
fn bad_arguments_are_invalid_argument_errors() {
    let ctx = context(Mode::Worker);
    for err in [
        ctx.call("ma\0th", "sqrt", (1,)).unwrap_err(),
        ctx.eval("1\0").unwrap_err(),
        ctx.exec_with("\0").run().unwrap_err(),
        ctx.call_async("math", "sq\0rt", (1,)).wait().unwrap_err(),
        runtime().context(&ContextOptions::new().name("a\0b")).unwrap_err(),
        "fast".parse::<Mode>().unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
    let err = ctx.call("no_such_module_xyz", "f", ()).unwrap_err();
    assert_eq!(err.python_type(), Some("ModuleNotFoundError"));
}

#[test]
fn close_makes_later_requests_fail_as_closed() {
    for mode in MODES {
        let ctx = context(mode);
        let env = ctx.env().unwrap();
        assert!(!ctx.is_closed());
        ctx.close(Duration::from_secs(5)).unwrap();
        ctx.close(Duration::from_secs(5)).unwrap(); // idempotent
        assert!(ctx.is_closed());
        assert_eq!(ctx.eval("1").unwrap_err().kind(), ErrorKind::Closed);
        assert_eq!(env.exec("x = 1").unwrap_err().kind(), ErrorKind::Closed);
        assert!(ctx.call_async("math", "sqrt", (4,)).wait().unwrap_err().is_closed());
    }
}

#[test]
fn a_full_queue_rejects_at_once() {
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let started_tx = std::sync::Mutex::new(started_tx);
    pyctx::host::register("requests_block", move |_| {
        started_tx.lock().unwrap().send(()).unwrap();
        release_rx.lock().unwrap().recv().unwrap();
        Ok(Value::None)
    })
    .unwrap();
    let ctx = runtime().context(&ContextOptions::new().queue_capacity(1)).unwrap();
    let running = ctx.eval_async("__import__('pyctx').call('requests_block')");
    started_rx.recv().unwrap();
    let queued = ctx.eval_async("'queued'");
    let rejected = ctx.eval_async("'rejected'");
    assert_eq!(rejected.request_id(), None);
    assert_eq!(rejected.wait().unwrap_err().kind(), ErrorKind::QueueFull);
    release_tx.send(()).unwrap();
    assert_eq!(running.wait().unwrap(), Value::None);
    assert_eq!(queued.wait().unwrap(), Value::from("queued"));
    pyctx::host::unregister("requests_block").unwrap();
}

#[test]
fn close_interrupts_the_running_request_and_never_runs_queued_ones() {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = std::sync::Mutex::new(tx);
    pyctx::host::register("requests_spin_started", move |_| {
        tx.lock().unwrap().send(()).unwrap();
        Ok(Value::None)
    })
    .unwrap();
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec(&support::common::spin_after_signal("requests_spin_started")).unwrap();
        let running = ctx.call_async("__main__", "spin", ());
        rx.recv().unwrap();
        let queued = ctx.exec_async("queued_ran = True");
        ctx.close(Duration::from_secs(5)).unwrap();
        assert!(running.wait().unwrap_err().is_closed(), "{mode}: the running request completes as closed");
        let queued = queued.wait();
        assert!(
            queued.as_ref().is_err_and(|e| e.is_closed()),
            "{mode}: a request queued at close completes as closed without running, got {queued:?}"
        );
    }
}
