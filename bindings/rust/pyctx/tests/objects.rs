//! Object handles: results as handles, calls, method calls and attribute
//! reads on them, handles passed back nested in arguments, release, the
//! live count, and the errors of a released handle, another context and a
//! closed context.

mod support {
    pub mod common;
}

use std::time::Duration;

use pyctx::{ContextOptions, ErrorKind, Object, ResultForm, Value};
use support::common::{MODES, runtime};

const PRELOAD: &str = "\
import gc, weakref
live = weakref.WeakSet()
class Counter:
    def __init__(self, start=0):
        self.value = start
        live.add(self)
    def add(self, n=1):
        self.value += n
        return self.value
    def __call__(self, k=1):
        return self.value * k
def make(start=0):
    return Counter(start)
def total(items, named):
    return sum(c.value for c in items) + named['k'].value
def same(a, b):
    return a is b
def live_count():
    gc.collect()
    return len(live)
async def amake(start):
    return Counter(start)
";

fn counter_context(mode: pyctx::Mode) -> pyctx::Context {
    runtime().context(&ContextOptions::new().mode(mode).preload(PRELOAD)).expect("create a context")
}

fn live(ctx: &pyctx::Context) -> u64 {
    ctx.stats().unwrap().live_objects
}

#[test]
fn objects_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Object>();
}

#[test]
fn calls_methods_attributes_and_release_on_one_handle() {
    for mode in MODES {
        let ctx = counter_context(mode);
        assert_eq!(live(&ctx), 0);
        let c = ctx.call_with("__main__", "make").arg(10).run_object().unwrap();
        assert_eq!(live(&ctx), 1, "{mode}");
        assert!(c.is_alive());
        assert_eq!(c.context_name(), ctx.name());
        assert_eq!(c.call_method("add", (5,)).unwrap(), Value::Int(15));
        assert_eq!(c.method_with("add").kwarg("n", 2).run().unwrap(), Value::Int(17));
        assert_eq!(c.getattr("value").unwrap(), Value::Int(17));
        assert_eq!(c.call((2,)).unwrap(), Value::Int(34));
        assert_eq!(c.call_with().kwarg("k", 3).run().unwrap(), Value::Int(51));
        // Python errors come through as for any request.
        let missing = c.getattr("nope").unwrap_err();
        assert_eq!(missing.python_type(), Some("AttributeError"), "{missing}");

        c.release(Some(Duration::from_secs(10))).unwrap();
        assert!(!c.is_alive());
        assert_eq!(live(&ctx), 0);
        assert_eq!(ctx.call("__main__", "live_count", ()).unwrap(), Value::Int(0));
        for err in [c.getattr("value").unwrap_err(), c.call(()).unwrap_err(), c.release(None).unwrap_err()] {
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        }
    }
}

#[test]
fn eval_results_coroutine_results_and_method_results_become_handles() {
    let ctx = counter_context(pyctx::Mode::Worker);
    let a = ctx.eval_with("Counter(3)").run_object().unwrap();
    let b = ctx.call_with("__main__", "amake").arg(4).run_object().unwrap();
    assert_ne!(a.id(), b.id());
    // A getattr can return a handle too: the bound method, then called.
    let add = b.getattr_with("add").run_object().unwrap();
    assert_eq!(add.call((6,)).unwrap(), Value::Int(10));
    assert_eq!(live(&ctx), 3);
    drop(add);
    // Dropping releases without waiting; a later request on the context
    // runs after that release (requests run in order).
    assert_eq!(ctx.call("__main__", "live_count", ()).unwrap(), Value::Int(2));
    assert_eq!(live(&ctx), 2);
    // A clone shares the handle: dropping one leaves it alive.
    let a2 = a.clone();
    drop(a);
    assert_eq!(a2.getattr("value").unwrap(), Value::Int(3));
    drop((a2, b));
    assert_eq!(ctx.call("__main__", "live_count", ()).unwrap(), Value::Int(0));
}

#[test]
fn a_request_object_returns_the_reference_value_and_hands_out_the_handle() {
    let ctx = counter_context(pyctx::Mode::Worker);
    let mut request = ctx.call_with("__main__", "make").arg(1).request().unwrap();
    request.set_result_form(ResultForm::Object).unwrap();
    request.submit().unwrap();
    request.wait(None).unwrap();
    let Value::Object(reference) = request.result().unwrap() else { panic!("not an object reference") };
    let obj = request.take_object().unwrap();
    assert_eq!(obj.reference(), reference);
    assert_eq!(obj.id(), reference.id);
    // Taken once only.
    assert_eq!(request.take_object().unwrap_err().kind(), ErrorKind::InvalidArgument);
    // A failed request reports its own error, not a missing handle.
    let mut failing = ctx.eval_with("undefined_name").request().unwrap();
    failing.set_result_form(ResultForm::Object).unwrap();
    assert_eq!(failing.run_object().unwrap_err().python_type(), Some("NameError"));
    // Exec has no result to make a handle of.
    let mut exec = ctx.exec_with("x = 1").request().unwrap();
    exec.set_result_form(ResultForm::Object).unwrap();
    assert!(exec.submit().is_err());
    // Async too: the object call's future yields its value.
    let pending = obj.method_with("add").arg(41).run_async();
    assert_eq!(pending.wait().unwrap(), Value::Int(42));
}

#[test]
fn handles_nested_in_arguments_arrive_as_the_objects() {
    for mode in MODES {
        let ctx = counter_context(mode);
        let a = ctx.eval_with("Counter(2)").run_object().unwrap();
        let b = ctx.eval_with("Counter(5)").run_object().unwrap();
        let items = Value::list([Value::from(&a), Value::from(&b)]);
        let named = Value::map([("k", &a)]);
        assert_eq!(ctx.call("__main__", "total", (items, named)).unwrap(), Value::Int(9), "{mode}");
        assert_eq!(ctx.call("__main__", "same", (&a, &a)).unwrap(), Value::Bool(true));
        assert_eq!(ctx.call("__main__", "same", (&a, &b)).unwrap(), Value::Bool(false));
        // As an eval local and a kwarg of an object call.
        assert_eq!(ctx.eval_with("c.value * 10").local("c", &b).run().unwrap(), Value::Int(50));
        assert_eq!(
            a.method_with("add").kwarg("n", b.getattr("value").unwrap()).run().unwrap(),
            Value::Int(7)
        );
    }
}

#[test]
fn another_context_a_released_handle_and_a_closed_context_are_clear_errors() {
    let ctx = counter_context(pyctx::Mode::Worker);
    let other = counter_context(pyctx::Mode::Worker);
    let obj = ctx.eval_with("Counter(1)").run_object().unwrap();
    // A reference sent to another context names nothing there.
    let err = other.call("__main__", "same", (&obj, 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    // A released handle, by reference in arguments.
    obj.release(None).unwrap();
    let err = ctx.call("__main__", "same", (&obj, 1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");

    let kept = ctx.eval_with("Counter(2)").run_object().unwrap();
    assert_eq!(live(&ctx), 1);
    ctx.close(Duration::from_secs(10)).unwrap();
    assert!(!kept.is_alive());
    for err in [kept.call_method("add", ()).unwrap_err(), kept.release(None).unwrap_err()] {
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    }
    assert_eq!(ctx.eval_with("1").run_object().unwrap_err().kind(), ErrorKind::Closed);
}

#[test]
fn a_release_request_runs_after_the_calls_before_it() {
    let ctx = counter_context(pyctx::Mode::Worker);
    let obj = ctx.eval_with("Counter(0)").run_object().unwrap();
    let mut calls: Vec<_> = (0..10).map(|_| obj.method_with("add").request().unwrap()).collect();
    pyctx::Request::submit_many(&mut calls).unwrap();
    let mut release = obj.release_request().unwrap();
    assert_eq!(release.run().unwrap(), Value::None);
    let mut results: Vec<i64> = calls
        .iter()
        .map(|r| {
            r.wait(None).unwrap();
            r.result().unwrap().as_i64().unwrap()
        })
        .collect();
    results.sort_unstable();
    assert_eq!(results, (1..=10).collect::<Vec<_>>());
    assert!(!obj.is_alive());
    assert_eq!(live(&ctx), 0);
    assert_eq!(ctx.call("__main__", "live_count", ()).unwrap(), Value::Int(0));
}

#[test]
fn the_reference_encodes_as_the_object_tag_and_displays() {
    let ctx = counter_context(pyctx::Mode::Worker);
    let obj = ctx.eval_with("Counter(0)").run_object().unwrap();
    let bytes = pyctx::cbor::encode(&Value::from(&obj));
    assert_eq!(&bytes[..3], &[0xd9, 0x70, 0x7c]);
    assert_eq!(pyctx::cbor::decode(&bytes).unwrap(), Value::Object(obj.reference()));
    assert_eq!(Value::from(&obj).type_name(), "object");
    assert!(Value::from(&obj).to_string().starts_with("Object(key="));
}

#[test]
fn one_handle_used_from_several_threads_at_once() {
    let ctx = counter_context(pyctx::Mode::Worker);
    let c = ctx.eval_with("Counter(0)").run_object().unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    c.call_method("add", (1,)).unwrap();
                }
            });
        }
    });
    assert_eq!(c.getattr("value").unwrap(), Value::Int(200));
    // Clones dropped on other threads release the one handle once.
    let clones: Vec<Object> = (0..4).map(|_| c.clone()).collect();
    drop(c);
    std::thread::scope(|s| {
        for clone in clones {
            s.spawn(move || drop(clone));
        }
    });
    assert_eq!(ctx.call("__main__", "live_count", ()).unwrap(), Value::Int(0));
    assert_eq!(live(&ctx), 0);
}
