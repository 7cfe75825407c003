//! Streams read asynchronously with `Stream::poll_next` (and, with the
//! `futures` feature, as `futures_core::Stream`) on the tiny executor of
//! tests/support: no runtime. Items in order; credit bounds how far the
//! generator ran; cancel runs its `finally`; an exception mid-stream is an
//! `Err`; async generators on one context progress concurrently.

mod support {
    pub mod common;
    pub mod executor;
}

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use pyctx::{ContextOptions, ErrorKind, Stream, Value};
use support::common::runtime;
use support::executor::block_on;

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
_gate = None
def gate():
    global _gate
    if _gate is None:
        _gate = asyncio.Event()
    return _gate
async def waiter():
    # Its second item needs the opener to run meanwhile, on the same loop.
    await asyncio.sleep(0.001)
    yield 'w0'
    await asyncio.wait_for(gate().wait(), 30)
    yield 'w1'
async def opener():
    await asyncio.sleep(0.001)
    yield 'o0'
    await asyncio.sleep(0.001)
    gate().set()
    yield 'o1'
";

fn stream_context() -> pyctx::Context {
    runtime().context(&ContextOptions::new().preload(PRELOAD)).expect("create a context")
}

/// The next item of `stream`, awaited.
fn next(stream: &Stream) -> impl Future<Output = Option<pyctx::Result<Value>>> + '_ {
    poll_fn(move |cx| stream.poll_next(cx))
}

fn advanced(ctx: &pyctx::Context) -> i64 {
    ctx.eval("advanced").unwrap().as_i64().unwrap()
}

#[test]
fn polled_items_come_in_order_then_the_end() {
    let ctx = stream_context();
    let stream = ctx.call_with("__main__", "counting").arg(40).stream(4).unwrap();
    let items = block_on(async {
        let mut items = Vec::new();
        while let Some(item) = next(&stream).await {
            items.push(item.unwrap().as_i64().unwrap());
        }
        items
    });
    assert_eq!(items, (0..40).collect::<Vec<_>>());
    assert!(stream.is_done());
    // The end stays the end, for the poll and the pull form alike.
    assert!(block_on(next(&stream)).is_none());
    assert_eq!(stream.next_timeout(None).unwrap(), None);
    assert_eq!(ctx.eval("finished").unwrap(), Value::list(["counting"]));
}

/// Counts its wake-ups and unparks the thread that made it.
struct Unpark {
    thread: std::thread::Thread,
    wakes: AtomicUsize,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

#[test]
fn a_pending_poll_is_woken_once_the_item_arrives() {
    let ctx = stream_context();
    let stream = ctx.call_with("__main__", "counting").arg(2).stream(1).unwrap();
    let unpark = Arc::new(Unpark { thread: std::thread::current(), wakes: AtomicUsize::new(0) });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut items = Vec::new();
    loop {
        let before = unpark.wakes.load(Ordering::SeqCst);
        match stream.poll_next(&mut cx) {
            Poll::Ready(Some(item)) => items.push(item.unwrap()),
            Poll::Ready(None) => break,
            // Only the stream's callbacks hold this waker: parking until
            // it counted a wake-up proves `Pending` is always followed by one.
            Poll::Pending => {
                while unpark.wakes.load(Ordering::SeqCst) == before {
                    std::thread::park();
                }
            }
        }
    }
    assert_eq!(items, [Value::Int(0), Value::Int(1)]);
}

#[test]
fn polling_never_advances_the_generator_beyond_the_credit() {
    let ctx = stream_context();
    let stream = ctx.call_with("__main__", "counting").arg(1000).stream(3).unwrap();
    block_on(async {
        // The open granted 3: three items read means exactly three
        // advances, and no more credit is granted until the reader runs dry
        // (a later eval runs after the advances queued before it).
        for i in 0..3 {
            assert_eq!(next(&stream).await.unwrap().unwrap(), Value::Int(i));
        }
        assert_eq!(advanced(&ctx), 3);
        // Reading on grants 3 more, once.
        for i in 3..6 {
            assert_eq!(next(&stream).await.unwrap().unwrap(), Value::Int(i));
        }
        assert_eq!(advanced(&ctx), 6);
        // Credit granted by hand is honoured exactly as well.
        stream.credit(2).unwrap();
        for i in 6..8 {
            assert_eq!(next(&stream).await.unwrap().unwrap(), Value::Int(i));
        }
        assert_eq!(advanced(&ctx), 8);
    });
    stream.cancel().unwrap();
    assert!(advanced(&ctx) <= 8);
}

#[test]
fn cancel_ends_a_polled_stream_and_runs_finally() {
    let ctx = stream_context();
    let stream = ctx.call_with("__main__", "counting").arg(1_000_000).stream(2).unwrap();
    let end = block_on(async {
        assert_eq!(next(&stream).await.unwrap().unwrap(), Value::Int(0));
        stream.cancel().unwrap();
        // Items already on the way may come first; then the cancelled end.
        loop {
            match next(&stream).await.expect("the end before None") {
                Ok(item) => assert!(item.as_i64().unwrap() < 3, "{item:?}"),
                Err(end) => break end,
            }
        }
    });
    assert_eq!(end.kind(), ErrorKind::Cancelled, "{end}");
    assert!(block_on(next(&stream)).is_none(), "the end comes once");
    assert_eq!(ctx.eval("finished").unwrap(), Value::list(["counting"]));
    assert!(advanced(&ctx) <= 3);
}

#[test]
fn an_exception_mid_stream_is_an_err_after_the_items_before_it() {
    let ctx = stream_context();
    let stream = ctx.call_with("__main__", "failing").stream(1).unwrap();
    let all = block_on(async {
        let mut all = Vec::new();
        while let Some(item) = next(&stream).await {
            all.push(item);
        }
        all
    });
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].as_ref().unwrap(), &Value::Int(1));
    assert_eq!(all[1].as_ref().unwrap(), &Value::Int(2));
    let err = all[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Python);
    assert_eq!(err.python_type(), Some("ValueError"));
    assert_eq!(err.message(), "bad item 3");
}

#[test]
fn async_generators_on_one_context_stream_concurrently() {
    let ctx = stream_context();
    let waiter = ctx.call_with("__main__", "waiter").stream(1).unwrap();
    let opener = ctx.call_with("__main__", "opener").stream(1).unwrap();
    // `waiter`'s second advance waits on the loop for a gate that only
    // `opener`'s second advance sets, and that one is granted only after
    // the waiter's began: the waiter would time out (an error item) unless
    // both progress at once on the context's loop.
    let (w, o) = block_on(async {
        let mut w = vec![next(&waiter).await.unwrap().unwrap()];
        // One poll: nothing can be there yet; it grants the next advance.
        let polled = poll_fn(|cx| Poll::Ready(waiter.poll_next(cx))).await;
        assert!(polled.is_pending(), "{polled:?}");
        let mut o = Vec::new();
        while let Some(item) = next(&opener).await {
            o.push(item.unwrap());
        }
        while let Some(item) = next(&waiter).await {
            w.push(item.unwrap());
        }
        (w, o)
    });
    assert_eq!(w, [Value::from("w0"), Value::from("w1")]);
    assert_eq!(o, [Value::from("o0"), Value::from("o1")]);
}

#[test]
fn a_stream_with_callbacks_refuses_to_be_polled_once() {
    let ctx = stream_context();
    let mut request = ctx.call_with("__main__", "counting").arg(3).request().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stream = Stream::with_callbacks(&mut request, 1, |_| 1, move |end| tx.send(end).unwrap()).unwrap();
    let err = block_on(next(&stream)).unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(block_on(next(&stream)).is_none());
    rx.recv().unwrap().unwrap();
}

#[cfg(feature = "futures")]
mod futures_stream {
    use super::*;
    use futures_core::{FusedStream, Stream as _};

    /// `futures_util::StreamExt::next`, by hand.
    fn next_of<S: futures_core::Stream + Unpin>(s: &mut S) -> impl Future<Output = Option<S::Item>> + '_ {
        poll_fn(move |cx| Pin::new(&mut *s).poll_next(cx))
    }

    #[test]
    fn a_stream_is_a_futures_core_stream() {
        let ctx = stream_context();
        let mut stream = ctx.call_with("__main__", "counting").arg(10).stream(3).unwrap();
        assert!(!stream.is_terminated());
        let items = block_on(async {
            let mut items = Vec::new();
            while let Some(item) = next_of(&mut stream).await {
                items.push(item.unwrap().as_i64().unwrap());
            }
            items
        });
        assert_eq!(items, (0..10).collect::<Vec<_>>());
        assert!(stream.is_terminated());

        // `&Stream` too, so a shared stream can be read as one.
        let shared = ctx.call_with("__main__", "failing").stream(1).unwrap();
        let mut by_ref = &shared;
        let all = block_on(async {
            let mut all = Vec::new();
            while let Some(item) = next_of(&mut by_ref).await {
                all.push(item);
            }
            all
        });
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].as_ref().unwrap_err().message(), "bad item 3");
        assert!(by_ref.is_terminated());
        assert_eq!(by_ref.size_hint(), (0, None));
    }
}
