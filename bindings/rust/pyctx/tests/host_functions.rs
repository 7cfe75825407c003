//! Python calling Rust closures: answers now or later, errors, panics,
//! re-entrant calls, coroutines.

mod support {
    pub mod common;
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use pyctx::{ErrorKind, Value, host};
use support::common::{MODES, context, wait_until};

#[test]
fn closures_get_arguments_and_return_values() {
    host::register("hf_sum", |args: &[Value]| {
        let mut total = 0i64;
        for a in args {
            total += a.as_i64().ok_or_else(|| format!("not an int: {a}"))?;
        }
        Ok(Value::from(total))
    })
    .unwrap();
    host::register("hf_echo", |args: &[Value]| Ok(Value::List(args.to_vec()))).unwrap();
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("import pyctx").unwrap();
        assert_eq!(ctx.eval("pyctx.call('hf_sum', 1, 2, 39)").unwrap(), Value::Int(42), "{mode}");
        let v =
            ctx.eval("pyctx.call('hf_echo', (1, 2), {'k': b'v'}, {3}, pyctx.Symbol('s'), 2**100)").unwrap();
        assert_eq!(
            v,
            Value::list([
                Value::tuple([1, 2]),
                Value::map([("k", Value::Bytes(b"v".to_vec()))]),
                Value::set([3]),
                Value::symbol("s"),
                Value::Int(1 << 100),
            ]),
            "{mode}"
        );
        let err = ctx.eval("pyctx.call('hf_sum', 1, 'x')").unwrap_err();
        assert_eq!(err.python_type().map(|t| t.ends_with("HostError")), Some(true), "{mode}: {err}");
        assert_eq!(err.message(), "not an int: 'x'");
        let err = ctx.eval("pyctx.call('hf_no_such_function')").unwrap_err();
        assert_eq!(err.python_type(), Some("LookupError"), "{mode}: {err}");
    }
}

#[test]
fn a_panic_becomes_a_python_host_error() {
    host::register("hf_panics", |_args: &[Value]| -> Result<Value, String> { panic!("boom from rust") })
        .unwrap();
    host::register_deferred("hf_panics_deferred", |_call| panic!("deferred boom")).unwrap();
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("import pyctx").unwrap();
        let err = ctx.eval("pyctx.call('hf_panics')").unwrap_err();
        assert!(err.python_type().unwrap().ends_with("HostError"), "{mode}: {err}");
        assert!(err.message().contains("panicked: boom from rust"), "{mode}: {err}");
        let err = ctx.eval("pyctx.call('hf_panics_deferred')").unwrap_err();
        assert!(err.message().contains("\"hf_panics_deferred\" panicked"), "{mode}: {err}");
        assert_eq!(ctx.eval("'still alive'").unwrap(), Value::from("still alive"));
    }
}

#[test]
fn deferred_answers_come_from_another_thread() {
    host::register_deferred("hf_later", |call| {
        assert_eq!(call.name(), "hf_later");
        let context_name = call.context_name().to_string();
        thread::spawn(move || {
            let args = call.args().unwrap();
            let n = args[0].as_i64().unwrap();
            if n < 0 {
                call.fail("negative").unwrap();
            } else {
                call.return_value((n * 2, context_name)).unwrap();
            }
        });
    })
    .unwrap();
    host::register_deferred("hf_forgets", drop).unwrap();
    for mode in MODES {
        let ctx = pyctx::Runtime::get()
            .unwrap()
            .context(&pyctx::ContextOptions::new().mode(mode).name(format!("hf-{mode}")))
            .unwrap();
        ctx.exec("import pyctx").unwrap();
        assert_eq!(
            ctx.eval("pyctx.call('hf_later', 21)").unwrap(),
            Value::tuple([Value::Int(42), Value::from(format!("hf-{mode}"))])
        );
        assert_eq!(ctx.eval("pyctx.call('hf_later', -1)").unwrap_err().message(), "negative");
        let err = ctx.eval("pyctx.call('hf_forgets')").unwrap_err();
        assert!(err.message().contains("without answering"), "{mode}: {err}");
    }
}

#[test]
fn a_host_function_may_call_back_into_the_same_context() {
    // The closure needs the context that calls it: hand it over through a slot.
    let slot: Arc<Mutex<Option<pyctx::Context>>> = Arc::new(Mutex::new(None));
    let inner = Arc::clone(&slot);
    host::register("hf_reenter", move |args: &[Value]| {
        let ctx = inner.lock().unwrap().clone().ok_or("no context")?;
        let depth = args[0].as_i64().unwrap();
        // Synchronous request from the context's own thread: runs nested.
        ctx.call("__main__", "down", (depth - 1,)).map_err(|e| e.to_string())
    })
    .unwrap();
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("import pyctx\ndef down(n):\n    return 0 if n == 0 else 1 + pyctx.call('hf_reenter', n)\n")
            .unwrap();
        *slot.lock().unwrap() = Some(ctx.clone());
        assert_eq!(ctx.call("__main__", "down", (5,)).unwrap(), Value::Int(5), "{mode}");
    }
    *slot.lock().unwrap() = None;
}

#[test]
fn coroutines_await_host_functions_without_blocking_the_loop() {
    // Answers arrive in reverse order of the calls: only possible if all
    // calls are pending at once on the context's loop.
    let waiting: Arc<Mutex<Vec<pyctx::HostCall>>> = Arc::default();
    let queue = Arc::clone(&waiting);
    host::register_deferred("hf_gather", move |call| {
        let mut calls = queue.lock().unwrap();
        calls.push(call);
        if calls.len() == 3 {
            for call in calls.drain(..).rev() {
                let n = call.args().unwrap()[0].clone();
                call.return_value(n).unwrap();
            }
        }
    })
    .unwrap();
    let ctx = context(pyctx::Mode::OwnGil);
    ctx.exec("import asyncio, pyctx\nasync def gather():\n    return await asyncio.gather(*(pyctx.async_call('hf_gather', i) for i in range(3)))\n").unwrap();
    assert_eq!(ctx.call("__main__", "gather", ()).unwrap(), Value::list([0, 1, 2]));
}

/// Counts drops of the closure it is captured in.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn unregistering_or_replacing_drops_the_closure_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let counter = DropCounter(Arc::clone(&drops));
    host::register("hf_lifecycle", move |_: &[Value]| {
        let _keep = &counter;
        Ok(Value::from("first"))
    })
    .unwrap();
    let ctx = context(pyctx::Mode::Worker);
    ctx.exec("import pyctx").unwrap();
    assert_eq!(ctx.eval("pyctx.call('hf_lifecycle')").unwrap(), Value::from("first"));
    host::register("hf_lifecycle", |_: &[Value]| Ok(Value::from("second"))).unwrap();
    wait_until("the replaced closure is dropped", Duration::from_secs(10), || {
        drops.load(Ordering::SeqCst) == 1
    });
    assert_eq!(ctx.eval("pyctx.call('hf_lifecycle')").unwrap(), Value::from("second"));
    host::unregister("hf_lifecycle").unwrap();
    let err = ctx.eval("pyctx.call('hf_lifecycle')").unwrap_err();
    assert_eq!(err.python_type(), Some("LookupError"));
    assert_eq!(host::unregister("hf_lifecycle").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(
        host::register("bad\0name", |_: &[Value]| Ok(Value::None)).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn an_answer_after_the_context_closed_reports_closed() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    host::register_deferred("hf_parked", move |call| tx.lock().unwrap().send(call).unwrap()).unwrap();
    let ctx = context(pyctx::Mode::Worker);
    let pending = ctx.eval_async("__import__('pyctx').call('hf_parked')");
    let call = rx.recv().unwrap();
    ctx.close(Duration::from_secs(5)).unwrap();
    assert!(pending.wait().unwrap_err().is_closed());
    assert_eq!(call.return_value(1).unwrap_err().kind(), ErrorKind::Closed);
}
