//! `Request` objects: submit, wait with a timeout, cancel from another
//! thread, resubmit, submit many, drop in flight.

mod support {
    pub mod common;
}

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use pyctx::{ErrorKind, Mode, Request, Value};
use support::common::{MODES, context, spin_after_signal};

/// A host function `name` that reports each entry and then blocks until
/// released: Python code calling it is provably running, and stays so.
fn gate(name: &str) -> (mpsc::Receiver<()>, mpsc::Sender<Value>) {
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<Value>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    pyctx::host::register(name, move |_| {
        entered_tx.lock().unwrap().send(()).unwrap();
        Ok(release_rx.lock().unwrap().recv().unwrap())
    })
    .unwrap();
    (entered_rx, release_tx)
}

#[test]
fn requests_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Request>();
}

#[test]
fn a_waited_request_cancelled_from_another_thread_completes_as_cancelled() {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    pyctx::host::register("req_cancel_started", move |_| {
        tx.lock().unwrap().send(()).unwrap();
        Ok(Value::None)
    })
    .unwrap();
    let rx = Arc::new(Mutex::new(rx));
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec(&spin_after_signal("req_cancel_started")).unwrap();
        let mut request = ctx.call_with("__main__", "spin").request().unwrap();
        request.submit().unwrap();
        let request = Arc::new(request);
        let canceller = {
            let (request, rx) = (Arc::clone(&request), Arc::clone(&rx));
            std::thread::spawn(move || {
                rx.lock().unwrap().recv().unwrap(); // running now
                request.cancel().unwrap();
            })
        };
        // This thread blocks in the library's wait until the cancel ends it.
        request.wait(None).unwrap();
        canceller.join().unwrap();
        assert!(request.is_done());
        let err = request.result().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{mode}: {err}");
        // Cancelling a done request is NOT_FOUND.
        assert_eq!(request.cancel().unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(ctx.eval("'after'").unwrap(), Value::from("after"), "{mode}");
    }
}

#[test]
fn a_short_wait_times_out_while_the_request_stays_in_flight() {
    let (entered, release) = gate("req_wait_gate");
    let ctx = context(Mode::OwnGil);
    let mut request = ctx.eval_with("pyctx.call('req_wait_gate') + 1").request().unwrap();
    ctx.exec("import pyctx").unwrap();
    request.submit().unwrap();
    entered.recv().unwrap();
    let err = request.wait(Some(Duration::from_millis(20))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(!request.is_done(), "a wait that ran out leaves the request in flight");
    assert_eq!(request.result().unwrap_err().kind(), ErrorKind::InvalidArgument, "no result yet");
    // In flight: settings and a second submission are refused.
    assert_eq!(request.set_timeout(None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(request.submit().unwrap_err().kind(), ErrorKind::InvalidArgument);
    release.send(Value::Int(41)).unwrap();
    request.wait(None).unwrap();
    assert!(request.is_done());
    assert_eq!(request.result().unwrap(), Value::Int(42));
}

#[test]
fn a_done_request_resubmits_with_a_new_id_and_changed_settings() {
    for mode in MODES {
        let ctx = context(mode);
        let mut request = ctx.call_with("builtins", "divmod").args((17, 5)).request().unwrap();
        assert_eq!(request.id(), None, "no id before the first submission");
        assert_eq!(request.wait(None).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(request.cancel().unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(request.run().unwrap(), Value::tuple([3, 2]), "{mode}");
        let first = request.id().unwrap();
        // The result stays readable until the next submission.
        assert_eq!(request.result().unwrap(), Value::tuple([3, 2]));
        let mut ids = vec![first];
        for n in 0..5i64 {
            request.set_args((n, 2)).unwrap();
            request.submit().unwrap();
            ids.push(request.id().unwrap());
            request.wait(None).unwrap();
            assert_eq!(request.result().unwrap(), Value::tuple([n / 2, n % 2]), "{mode}");
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 6, "{mode}: every submission has its own id");
        // A failing submission reports the Python error, and the object
        // stays usable.
        request.set_args((1, 0)).unwrap();
        let err = request.run().unwrap_err();
        assert_eq!(err.python_type(), Some("ZeroDivisionError"), "{mode}");
        request.set_args((9, 4)).unwrap();
        assert_eq!(request.run().unwrap(), Value::tuple([2, 1]));
    }
}

#[test]
fn eval_and_exec_requests_use_their_env_locals_and_timeout() {
    let ctx = context(Mode::Worker);
    let env = ctx.env().unwrap();
    let mut exec = env.exec_with("total = 10").request().unwrap();
    assert_eq!(exec.run().unwrap(), Value::None);
    let mut eval = env.eval_with("total * k").local("k", 3).request().unwrap();
    assert_eq!(eval.run().unwrap(), Value::Int(30));
    assert!(
        ctx.eval("'total' in globals()").unwrap() == Value::Bool(false),
        "the env is not the default namespace"
    );
    // A deadline of the request itself: the outcome is Timeout, and the
    // wait returns normally.
    let mut slow = ctx.exec_with("while True: pass").timeout(Duration::from_millis(50)).request().unwrap();
    slow.submit().unwrap();
    slow.wait(None).unwrap();
    assert_eq!(slow.result().unwrap_err().kind(), ErrorKind::Timeout);
    // Bad settings surface when the request is built.
    assert_eq!(ctx.eval_with("a\0b").request().unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn submit_many_runs_a_thousand_requests_with_their_own_values() {
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("def triple(n): return 3 * n").unwrap();
        let mut batch: Vec<Request> =
            (0..1000i64).map(|i| ctx.call_with("__main__", "triple").arg(i).request().unwrap()).collect();
        Request::submit_many(&mut batch).unwrap();
        let ids: std::collections::HashSet<u64> = batch.iter().map(|r| r.id().unwrap()).collect();
        assert_eq!(ids.len(), 1000, "{mode}: unique ids");
        for (i, request) in batch.iter().enumerate() {
            request.wait(Some(Duration::from_secs(60))).unwrap();
            assert_eq!(request.result().unwrap(), Value::from(3 * i as i64), "{mode}: request {i}");
        }
        // The same batch again, once done.
        Request::submit_many(batch.iter_mut().rev()).unwrap();
        for (i, request) in batch.iter().enumerate() {
            request.wait(None).unwrap();
            assert_eq!(request.result().unwrap(), Value::from(3 * i as i64));
        }
        assert_eq!(ctx.stats().unwrap().completed, 2000 + 1, "{mode}");
    }
}

#[test]
fn submit_many_stops_at_the_first_refusal() {
    let ctx = context(Mode::Worker);
    let other = context(Mode::Worker);
    let foreign_env = other.env().unwrap();
    let mut a = ctx.eval_with("1").request().unwrap();
    let mut b = ctx.eval_with("2").request().unwrap();
    // An env of another context: refused at submission.
    let mut bad = ctx.eval_with("3").env(&foreign_env).request().unwrap();
    let mut after = ctx.eval_with("4").request().unwrap();
    let err = Request::submit_many([&mut a, &mut b, &mut bad, &mut after]).unwrap_err();
    assert_eq!(err.accepted, 2);
    assert_eq!(err.error.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("request 2 of the batch"), "{err}");
    a.wait(None).unwrap();
    b.wait(None).unwrap();
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (Value::Int(1), Value::Int(2)));
    assert_eq!((bad.id(), after.id()), (None, None), "refused requests were not submitted");
    assert_eq!(after.run().unwrap(), Value::Int(4), "and may be submitted later");
    // Into the crate's Error for `?`.
    let as_error: pyctx::Error = err.into();
    assert_eq!(as_error.kind(), ErrorKind::InvalidArgument);
    // An empty batch is fine.
    Request::submit_many(std::iter::empty()).unwrap();
}

#[test]
fn dropping_an_in_flight_request_cancels_it_and_waits() {
    let (tx, rx) = mpsc::channel::<()>();
    let tx = Mutex::new(tx);
    pyctx::host::register("req_drop_started", move |_| {
        tx.lock().unwrap().send(()).unwrap();
        Ok(Value::None)
    })
    .unwrap();
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec(&spin_after_signal("req_drop_started")).unwrap();
        ctx.exec("ran = []").unwrap();
        let before = ctx.stats().unwrap().cancelled;
        let mut running = ctx.call_with("__main__", "spin").request().unwrap();
        let mut queued = ctx.exec_with("ran.append(1)").request().unwrap();
        Request::submit_many([&mut running, &mut queued]).unwrap();
        rx.recv().unwrap();
        drop(queued);
        // Returns only once the spinning request was interrupted and done.
        drop(running);
        assert_eq!(ctx.stats().unwrap().cancelled, before + 2, "{mode}: both completed as cancelled");
        assert_eq!(
            ctx.eval("ran").unwrap(),
            Value::list(Vec::<Value>::new()),
            "{mode}: the queued one never ran"
        );
    }
    // Dropping a request that is done, or was never submitted, is plain.
    let ctx = context(Mode::Worker);
    let mut done = ctx.eval_with("5").request().unwrap();
    assert_eq!(done.run().unwrap(), Value::Int(5));
    drop(done);
    drop(ctx.eval_with("6").request().unwrap());
}
