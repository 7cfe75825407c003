//! Streams: generators, iterators, async generators and handles' methods
//! read item by item, pulled or pushed; credit bounds how far the
//! generator runs; cancel runs its `finally`; errors end the stream after
//! the items before them; the pull form's timeout.

mod support {
    pub mod common;
}

use std::sync::mpsc;
use std::time::Duration;

use pyctx::{ContextOptions, ErrorKind, Stream, Value};
use support::common::{MODES, runtime};

const PRELOAD: &str = "\
import asyncio
advanced = 0
finished = []
def counting(n):
    global advanced
    try:
        for i in range(n):
            advanced += 1
            yield i
    finally:
        finished.append('counting')
def failing():
    yield 1
    yield 2
    raise ValueError('bad item 3')
def raises_at_once():
    raise KeyError('no stream for you')
def slow():
    import pyctx
    yield 'first'
    pyctx.call('stream_test_gate')
    yield 'second'
async def agen(n):
    try:
        for i in range(n):
            await asyncio.sleep(0)
            yield [i, i * i]
    finally:
        finished.append('agen')
class Bag:
    def __init__(self): self.items = ['x', 'y']
    def each(self): return iter(self.items)
";

fn stream_context(mode: pyctx::Mode) -> pyctx::Context {
    runtime().context(&ContextOptions::new().mode(mode).preload(PRELOAD)).expect("create a context")
}

fn ints(items: &[Value]) -> Vec<i64> {
    items.iter().map(|v| v.as_i64().unwrap()).collect()
}

#[test]
fn streams_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Stream>();
}

#[test]
fn a_pulled_generator_yields_every_item_then_ends() {
    for mode in MODES {
        let ctx = stream_context(mode);
        let stream = ctx.call_with("__main__", "counting").arg(50).stream(8).unwrap();
        let items: Vec<Value> = stream.iter().collect::<pyctx::Result<_>>().unwrap();
        assert_eq!(ints(&items), (0..50).collect::<Vec<_>>(), "{mode}");
        assert!(stream.is_done());
        assert_eq!(stream.next_timeout(None).unwrap(), None, "the end stays the end");
        assert_eq!(ctx.eval("finished").unwrap(), Value::list(["counting"]));
    }
}

#[test]
fn the_generator_is_never_advanced_beyond_the_credit() {
    let ctx = stream_context(pyctx::Mode::Worker);
    let stream = ctx.call_with("__main__", "counting").arg(1000).stream(3).unwrap();
    assert_eq!(stream.next_timeout(None).unwrap(), Some(Value::Int(0)));
    // The pull granted 3: the generator ran at most 3 steps whatever time
    // passes, so a later eval (which runs after the advances queued before
    // it) sees at most 3.
    let advanced = ctx.eval("advanced").unwrap().as_i64().unwrap();
    assert!((1..=3).contains(&advanced), "advanced {advanced}");
    stream.cancel().unwrap();
    let end = stream.iter().find_map(|r| r.err()).expect("the cancelled end");
    assert_eq!(end.kind(), ErrorKind::Cancelled, "{end}");
    assert_eq!(ctx.eval("finished").unwrap(), Value::list(["counting"]));
    assert!(ctx.eval("advanced").unwrap().as_i64().unwrap() <= 3);
}

#[test]
fn an_exception_mid_stream_comes_after_the_items_before_it() {
    let ctx = stream_context(pyctx::Mode::Worker);
    let stream = ctx.call_with("__main__", "failing").stream(1).unwrap();
    let all: Vec<pyctx::Result<Value>> = stream.iter().collect();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].as_ref().unwrap(), &Value::Int(1));
    assert_eq!(all[1].as_ref().unwrap(), &Value::Int(2));
    let err = all[2].as_ref().unwrap_err();
    assert_eq!(err.python_type(), Some("ValueError"));
    assert_eq!(err.message(), "bad item 3");
    assert!(err.traceback().unwrap().contains("failing"));

    // The call itself failing ends the stream at once.
    let stream = ctx.call_with("__main__", "raises_at_once").stream(1).unwrap();
    let err = stream.next_timeout(None).unwrap_err();
    assert_eq!(err.python_type(), Some("KeyError"));
    assert_eq!(stream.next_timeout(None).unwrap(), None);
}

#[test]
fn the_pull_form_times_out_and_goes_on() {
    // The generator blocks in a host function until the test lets it go.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    pyctx::host::register("stream_test_gate", move |_| {
        release_rx.lock().unwrap().recv().unwrap();
        Ok(Value::None)
    })
    .unwrap();
    let ctx = stream_context(pyctx::Mode::Worker);
    let stream = ctx.call_with("__main__", "slow").stream(1).unwrap();
    assert_eq!(stream.next_timeout(None).unwrap(), Some(Value::from("first")));
    let err = stream.next_timeout(Some(Duration::from_millis(20))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!stream.is_done());
    release_tx.send(()).unwrap();
    assert_eq!(stream.next_timeout(None).unwrap(), Some(Value::from("second")));
    assert_eq!(stream.next_timeout(None).unwrap(), None);
    assert!(stream.is_done());
}

#[test]
fn async_generators_iterators_and_methods_of_handles_stream_too() {
    for mode in MODES {
        let ctx = stream_context(mode);
        let a = ctx.call_with("__main__", "agen").arg(3).stream(2).unwrap();
        let b = ctx.call_with("__main__", "agen").arg(2).stream(2).unwrap();
        let a_items: Vec<Value> = a.iter().collect::<pyctx::Result<_>>().unwrap();
        let b_items: Vec<Value> = b.iter().collect::<pyctx::Result<_>>().unwrap();
        assert_eq!(a_items, [Value::list([0, 0]), Value::list([1, 1]), Value::list([2, 4])], "{mode}");
        assert_eq!(b_items.len(), 2);

        let it = ctx.eval_with("iter(range(4))").stream(10).unwrap();
        assert_eq!(ints(&it.iter().collect::<pyctx::Result<Vec<_>>>().unwrap()), [0, 1, 2, 3]);
        let bag = ctx.eval_with("Bag()").run_object().unwrap();
        let each = bag.method_with("each").stream(1).unwrap();
        assert_eq!(
            each.iter().collect::<pyctx::Result<Vec<_>>>().unwrap(),
            [Value::from("x"), Value::from("y")]
        );
        // A value that is no iterable ends the stream, naming its type.
        let not_iter = ctx.eval_with("42").stream(1).unwrap();
        let err = not_iter.next_timeout(None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
        assert!(err.message().contains("'int'"), "{err:?}");
    }
}

#[test]
fn dropping_an_open_stream_cancels_it_and_runs_finally() {
    let ctx = stream_context(pyctx::Mode::Worker);
    let stream = ctx.call_with("__main__", "agen").arg(1_000_000).stream(1).unwrap();
    assert_eq!(stream.next_timeout(None).unwrap(), Some(Value::list([0, 0])));
    drop(stream);
    assert_eq!(ctx.eval("finished").unwrap(), Value::list(["agen"]));
}

#[test]
fn callbacks_get_every_item_grant_credit_and_see_the_end_once() {
    let ctx = stream_context(pyctx::Mode::Worker);
    let (tx, rx) = mpsc::channel();
    let tx_end = tx.clone();
    let mut request = ctx.call_with("__main__", "counting").arg(100).request().unwrap();
    let stream = Stream::with_callbacks(
        &mut request,
        4,
        move |item| {
            tx.send(Ok(item.unwrap())).unwrap();
            1
        },
        move |end| tx_end.send(Err(end)).unwrap(),
    )
    .unwrap();
    let mut items = Vec::new();
    let end = loop {
        match rx.recv_timeout(Duration::from_secs(30)).expect("an item or the end") {
            Ok(item) => items.push(item),
            Err(end) => break end,
        }
    };
    end.unwrap();
    assert_eq!(ints(&items), (0..100).collect::<Vec<_>>());
    drop(stream);
    // The callbacks are released with the stream: both senders are gone.
    assert!(rx.recv().is_err());
    // The request stayed as it was: it may be opened again.
    let again = request.open_stream(16).unwrap();
    assert_eq!(again.iter().count(), 100);
}

#[test]
fn a_panicking_item_callback_cancels_the_stream() {
    let ctx = stream_context(pyctx::Mode::Worker);
    let (tx, rx) = mpsc::channel();
    let mut request = ctx.call_with("__main__", "counting").arg(1000).request().unwrap();
    let stream = Stream::with_callbacks(
        &mut request,
        1,
        |item| {
            if item.unwrap() == Value::Int(2) {
                panic!("test panic in on_item");
            }
            1
        },
        move |end| tx.send(end).unwrap(),
    )
    .unwrap();
    let end = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap_err();
    assert_eq!(end.kind(), ErrorKind::Cancelled, "{end}");
    // (`is_done` turns true once `on_end` has returned, which may be just
    // after the channel delivered its message: not asserted here.)
    // A pulled stream cannot be read with callbacks installed, and vice versa.
    assert_eq!(stream.next_timeout(None).unwrap_err().kind(), ErrorKind::InvalidArgument);
}
