//! Errors: Python exceptions with type, message and traceback; timeouts;
//! cancellation; the `std::error::Error` implementation.

mod support {
    pub mod common;
}

use std::time::{Duration, Instant};

use pyctx::{ErrorKind, Value};
use support::common::{MODES, context};

#[test]
fn python_exceptions_carry_type_message_and_traceback() {
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("class AppError(Exception):\n    pass\ndef fail(msg):\n    raise AppError(msg)\n").unwrap();
        let err = ctx.call("__main__", "fail", ("it broke",)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Python);
        assert!(err.is_python());
        assert!(err.python_type().unwrap().ends_with("AppError"), "{mode}: {err}");
        assert_eq!(err.message(), "it broke");
        let tb = err.traceback().expect("a traceback");
        assert!(
            tb.contains("Traceback") && tb.contains("in fail") && tb.contains("it broke"),
            "{mode}: {tb}"
        );
        assert!(err.to_string().contains("AppError: it broke"), "{err}");

        let err = ctx.eval("{}['missing']").unwrap_err();
        assert_eq!(err.python_type(), Some("KeyError"));
        let err = ctx.exec("def broken(:\n").unwrap_err();
        assert_eq!(err.python_type(), Some("SyntaxError"));
    }
}

#[test]
fn errors_are_std_errors_and_library_errors_have_no_python_details() {
    fn as_std(e: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
        e.to_string()
    }
    let ctx = context(pyctx::Mode::Worker);
    ctx.close(Duration::from_secs(5)).unwrap();
    let err = ctx.eval("1").unwrap_err();
    assert!(err.is_closed());
    assert_eq!((err.python_type(), err.traceback()), (None, None));
    assert!(as_std(&err).starts_with("closed"), "{err}");
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.downcast_ref::<pyctx::Error>().is_some());
}

#[test]
fn a_timeout_interrupts_a_running_call_and_the_context_goes_on() {
    for mode in MODES {
        let ctx = context(mode);
        ctx.exec("def spin():\n    while True:\n        pass\n").unwrap();
        let started = Instant::now();
        let err = ctx.call_with("__main__", "spin").timeout(Duration::from_millis(100)).run().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{mode}: {err}");
        assert!(err.is_timeout());
        assert!(started.elapsed() >= Duration::from_millis(100), "not before the deadline");
        // The spinning call was interrupted: the context serves the next request.
        assert_eq!(ctx.eval("'alive'").unwrap(), Value::from("alive"), "{mode}");
        assert!(ctx.stats().unwrap().timed_out >= 1);
        // Async and eval/exec take deadlines too.
        let err = ctx.eval_with("spin()").timeout(Duration::from_millis(20)).run_async().wait().unwrap_err();
        assert!(err.is_timeout(), "{mode}: {err}");
        let err = ctx.exec_with("spin()").timeout(Duration::from_millis(20)).run().unwrap_err();
        assert!(err.is_timeout(), "{mode}: {err}");
    }
}

#[test]
fn a_deadline_that_is_not_reached_changes_nothing() {
    let ctx = context(pyctx::Mode::OwnGil);
    let v = ctx.call_with("math", "factorial").arg(10).timeout(Duration::from_secs(30)).run().unwrap();
    assert_eq!(v, Value::Int(3628800));
}
