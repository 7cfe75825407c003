//! `Stream`: a generator, async generator or iterator read item by item
//! (`pyctx_stream_t`), pulled as an `Iterator` or pushed to callbacks.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use crate::cbor;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::request_object::{Dest, Request};
use crate::timeout;
use crate::value::Value;

/// The items of a call, eval or object request's result — a generator, an
/// async generator (advanced on the context's event loop, so many progress
/// at once), any iterator or iterable — from
/// [`Call::stream`](crate::Call::stream),
/// [`Eval::stream`](crate::Eval::stream),
/// [`ObjectCall::stream`](crate::ObjectCall::stream),
/// [`Request::open_stream`] (pulled), or [`Stream::with_callbacks`]
/// (pushed).
///
/// Backpressure: the iterator is never advanced more times than the credit
/// granted; a pulled stream grants its open's credit again whenever no
/// item is waiting. Iterating `&Stream` yields each item, then, if the
/// stream did not end by exhaustion, one `Err` saying why (a Python
/// exception raised mid-stream, [`ErrorKind::Cancelled`],
/// [`ErrorKind::Closed`], or the error of the call itself), then stops.
///
/// Asynchronously, with no runtime: [`poll_next`](Stream::poll_next)
/// registers the task's waker, which the library's item and end callbacks
/// wake (from a library thread), so any executor can await the items; with
/// the cargo feature `futures`, `Stream` and `&Stream` implement
/// `futures_core::Stream` (and `FusedStream`). The pulled credit rule is the
/// same for both ways of reading.
///
/// `Send` and `Sync`: one thread may iterate while another
/// [`cancel`](Stream::cancel)s. Dropping a stream that has not ended
/// cancels it (the generator's `finally` blocks run) and waits for its end.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use pyctx::Value;
/// ctx.exec("def squares(n):\n    for i in range(n):\n        yield i * i\n").unwrap();
/// let stream = ctx.call_with("__main__", "squares").arg(5).stream(2).unwrap();
/// let items: Vec<Value> = stream.iter().collect::<Result<_, _>>().unwrap();
/// assert_eq!(items, Value::list([0, 1, 4, 9, 16]).as_slice().unwrap());
/// assert!(stream.is_done());
///
/// // An exception mid-stream comes after the items before it:
/// ctx.exec("def bad():\n    yield 1\n    raise ValueError('item 2')\n").unwrap();
/// let stream = ctx.call_with("__main__", "bad").stream(1).unwrap();
/// let mut it = stream.iter();
/// assert_eq!(it.next().unwrap().unwrap(), Value::Int(1));
/// assert_eq!(it.next().unwrap().unwrap_err().python_type(), Some("ValueError"));
/// assert!(it.next().is_none());
/// ```
pub struct Stream {
    raw: NonNull<ffi::pyctx_stream_t>,
    /// The items and the end of a pulled stream (`None`: callbacks).
    pulled: Option<Arc<Pulled>>,
    /// A pushed stream's `poll_next` handed out its refusal.
    refused: AtomicBool,
    /// Keeps the context open while the stream runs in it.
    _dest: Dest,
}

// SAFETY: the header lets credit, cancel, next and is_done run from any
// thread, concurrently (the `&self` methods); free, once, by the owner, is
// only `Drop`.
unsafe impl Send for Stream {}
unsafe impl Sync for Stream {}

impl Stream {
    /// Opens `request` in the pull form. The library pushes the items to
    /// `Pulled`, which queues them for `next_timeout` and `poll_next` and
    /// wakes whichever waits; credit is granted here as the C pull form
    /// would: the open's, then the same again whenever no item is waiting
    /// and none is owed.
    pub(crate) fn open(request: &mut Request, credit: u32) -> Result<Stream> {
        let window = credit.max(1);
        let pulled = Arc::new(Pulled {
            window,
            state: Mutex::new(PullState {
                items: VecDeque::new(),
                end: End::Running,
                owed: u64::from(window),
                waker: None,
            }),
            ready: Condvar::new(),
        });
        let user_data = Box::into_raw(Box::new(Arc::clone(&pulled))) as *mut c_void;
        let mut raw = ptr::null_mut();
        // SAFETY: the callbacks catch every panic and treat `user_data` as
        // the `Box<Arc<Pulled>>` that `free_pulled` drops.
        let opened = unsafe {
            Error::check(ffi::pyctx_stream_open(
                request.as_raw(),
                window,
                Some(pulled_item_raw),
                Some(pulled_end_raw),
                user_data,
                Some(free_pulled),
                &mut raw,
            ))
        };
        if let Err(error) = opened {
            // Not started: the user data is still ours.
            // SAFETY: from `Box::into_raw` above, never handed over.
            drop(unsafe { Box::from_raw(user_data as *mut Arc<Pulled>) });
            return Err(error);
        }
        Stream::from_raw(raw, request, Some(pulled))
    }

    fn from_raw(
        raw: *mut ffi::pyctx_stream_t,
        request: &Request,
        pulled: Option<Arc<Pulled>>,
    ) -> Result<Stream> {
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::new(ErrorKind::Internal, "stream_open gave no stream"))?;
        Ok(Stream { raw, pulled, refused: AtomicBool::new(false), _dest: request.dest().clone() })
    }

    /// Opens `request` in the push form: `on_item` runs once per item, in
    /// order, and returns how much more credit to grant (e.g. 1 to keep
    /// `credit` items in flight, 0 to pause: grant later with
    /// [`credit`](Stream::credit)); `on_end` runs exactly once, after the
    /// last item, with `Ok(())` at exhaustion or the error that ended it.
    /// Both run on a library thread, one at a time; they must not block. A
    /// panic in `on_item` cancels the stream (`on_end` then sees
    /// [`ErrorKind::Cancelled`]); one in `on_end` is reported on stderr.
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// use std::sync::mpsc;
    /// use pyctx::{Stream, Value};
    /// let mut request = ctx.eval_with("iter('abc')").request().unwrap();
    /// let (tx, rx) = mpsc::channel();
    /// let tx_end = tx.clone();
    /// let stream = Stream::with_callbacks(
    ///     &mut request,
    ///     1,
    ///     move |item| {
    ///         tx.send(Some(item.unwrap())).unwrap();
    ///         1
    ///     },
    ///     move |end| {
    ///         end.unwrap();
    ///         tx_end.send(None).unwrap();
    ///     },
    /// )
    /// .unwrap();
    /// let got: Vec<Value> = rx.iter().map_while(|x| x).collect();
    /// assert_eq!(got, [Value::from("a"), Value::from("b"), Value::from("c")]);
    /// drop(stream);
    /// ```
    pub fn with_callbacks<I, E>(request: &mut Request, credit: u32, on_item: I, on_end: E) -> Result<Stream>
    where
        I: FnMut(Result<Value>) -> u32 + Send + 'static,
        E: FnOnce(Result<()>) + Send + 'static,
    {
        let handler = Box::new(Handler {
            on_item: Mutex::new(Box::new(on_item)),
            on_end: Mutex::new(Some(Box::new(on_end))),
        });
        let user_data = Box::into_raw(handler) as *mut c_void;
        let mut raw = ptr::null_mut();
        // SAFETY: the callbacks catch every panic and treat `user_data` as
        // the `Box<Handler>` that `free_handler` drops.
        let opened = unsafe {
            Error::check(ffi::pyctx_stream_open(
                request.as_raw(),
                credit,
                Some(on_item_raw),
                Some(on_end_raw),
                user_data,
                Some(free_handler),
                &mut raw,
            ))
        };
        if let Err(error) = opened {
            // Not started: the user data is still ours.
            // SAFETY: from `Box::into_raw` above, never handed over.
            drop(unsafe { Box::from_raw(user_data as *mut Handler) });
            return Err(error);
        }
        Stream::from_raw(raw, request, None)
    }

    /// Grants `n` more credit (ignored once the stream ended). A pulled
    /// stream counts it as owed, so reading grants nothing more until it
    /// was used up and no item waits.
    pub fn credit(&self, n: u32) -> Result<()> {
        if let Some(pulled) = &self.pulled {
            // Counted before the library may answer it.
            let mut state = pulled.lock();
            state.owed = state.owed.saturating_add(u64::from(n));
        }
        self.grant(n)
    }

    fn grant(&self, n: u32) -> Result<()> {
        // SAFETY: live stream.
        unsafe { Error::check(ffi::pyctx_stream_credit(self.raw.as_ptr(), n)) }
    }

    /// Cancels: the iterator is closed in the context (a generator's
    /// `finally` blocks run) and the end is [`ErrorKind::Cancelled`] (unless
    /// it had ended already). Items on the way are dropped.
    pub fn cancel(&self) -> Result<()> {
        // SAFETY: live stream.
        unsafe { Error::check(ffi::pyctx_stream_cancel(self.raw.as_ptr())) }
    }

    /// True once the end was reported (for a pulled stream: once it is
    /// waiting to be read, or was read).
    pub fn is_done(&self) -> bool {
        if let Some(pulled) = &self.pulled {
            if !matches!(pulled.lock().end, End::Running) {
                return true;
            }
        }
        // SAFETY: live stream.
        unsafe { ffi::pyctx_stream_is_done(self.raw.as_ptr()) != 0 }
    }

    /// Pull form: the next item, waiting at most `timeout` (`None`: no
    /// limit). `Ok(Some(item))`; `Ok(None)` once exhausted (and after the
    /// end was handed out); `Err` with the error that ended the stream
    /// (once), or [`ErrorKind::Timeout`] when no item came in time while
    /// the stream goes on ([`is_done`](Stream::is_done) false).
    /// [`ErrorKind::InvalidArgument`] for a stream with callbacks.
    pub fn next_timeout(&self, timeout: Option<Duration>) -> Result<Option<Value>> {
        let pulled = self.pulled()?;
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        let mut state = pulled.lock();
        loop {
            match pulled.step(&mut state) {
                Step::Item(bytes) => {
                    drop(state);
                    return cbor::decode(&bytes).map(Some);
                }
                Step::End(end) => return end.map(|()| None),
                Step::Grant(n) => {
                    drop(state);
                    self.grant(n)?;
                    state = pulled.lock();
                }
                Step::Wait => {
                    state = match deadline {
                        None | Some(None) => pulled.ready.wait(state).unwrap_or_else(PoisonError::into_inner),
                        Some(Some(deadline)) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                return Err(Error::new(
                                    ErrorKind::Timeout,
                                    format!("no stream item within {} ms", timeout::to_ms(timeout)),
                                ));
                            }
                            pulled.ready.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0
                        }
                    };
                }
            }
        }
    }

    /// Pull form, asynchronously: `Ready(Some(Ok(item)))`, then at the end
    /// `Ready(Some(Err(_)))` once if the stream did not end by exhaustion,
    /// then `Ready(None)` for good. `Pending` registers `cx`'s waker, woken
    /// (once, from a library thread) when an item or the end arrives; no
    /// runtime is involved, so any executor works. Grants credit as
    /// [`next_timeout`](Stream::next_timeout) does: never more than the
    /// open's credit ahead of what was read.
    ///
    /// One task at a time should poll a stream: each `Pending` keeps only
    /// the latest waker. A stream with callbacks gives one
    /// [`ErrorKind::InvalidArgument`], then `None`.
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// use std::future::poll_fn;
    /// use pyctx::Value;
    /// let stream = ctx.eval_with("iter('ab')").stream(1).unwrap();
    /// let next = || poll_fn(|cx| stream.poll_next(cx));
    /// // Any executor; here a minimal one that parks this thread between wake-ups.
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl std::task::Wake for Unpark {
    /// #         fn wake(self: std::sync::Arc<Self>) { self.0.unpark() }
    /// #     }
    /// #     let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// let items = block_on(async {
    ///     let mut items = Vec::new();
    ///     while let Some(item) = next().await {
    ///         items.push(item.unwrap());
    ///     }
    ///     items
    /// });
    /// assert_eq!(items, [Value::from("a"), Value::from("b")]);
    /// ```
    pub fn poll_next(&self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Value>>> {
        let pulled = match self.pulled() {
            Ok(pulled) => pulled,
            Err(error) => {
                return Poll::Ready(if self.refused.swap(true, Ordering::AcqRel) {
                    None
                } else {
                    Some(Err(error))
                });
            }
        };
        let mut state = pulled.lock();
        loop {
            match pulled.step(&mut state) {
                Step::Item(bytes) => {
                    drop(state);
                    return Poll::Ready(Some(cbor::decode(&bytes)));
                }
                Step::End(end) => return Poll::Ready(end.err().map(Err)),
                Step::Grant(n) => {
                    drop(state);
                    if let Err(error) = self.grant(n) {
                        return Poll::Ready(Some(Err(error)));
                    }
                    state = pulled.lock();
                }
                Step::Wait => {
                    // Registered under the lock the callbacks take: no
                    // wake-up is lost between this check and `Pending`.
                    match &mut state.waker {
                        Some(waker) if waker.will_wake(cx.waker()) => {}
                        slot => *slot = Some(cx.waker().clone()),
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    #[cfg(feature = "futures")]
    /// True once a pulled stream handed out its end (to `next_timeout`,
    /// `poll_next` or an iterator), or a pushed one its refusal.
    fn terminated(&self) -> bool {
        match &self.pulled {
            Some(pulled) => matches!(pulled.lock().end, End::HandedOut),
            None => self.refused.load(Ordering::Acquire),
        }
    }

    fn pulled(&self) -> Result<&Pulled> {
        self.pulled.as_deref().ok_or_else(|| {
            Error::invalid_argument(
                "the stream delivers to its callbacks (opened with Stream::with_callbacks)",
            )
        })
    }

    /// An iterator over the items (pull form), waiting as long as each
    /// takes; see the type's documentation for how it ends.
    pub fn iter(&self) -> StreamIter<'_> {
        StreamIter { stream: self }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: owned; cancels a running stream and awaits its end.
        unsafe { ffi::pyctx_stream_free(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("done", &self.is_done()).finish()
    }
}

#[cfg(feature = "futures")]
impl futures_core::Stream for Stream {
    type Item = Result<Value>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Value>>> {
        Stream::poll_next(&self, cx)
    }
}

#[cfg(feature = "futures")]
impl futures_core::Stream for &Stream {
    type Item = Result<Value>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Result<Value>>> {
        Stream::poll_next(&self, cx)
    }
}

#[cfg(feature = "futures")]
impl futures_core::FusedStream for Stream {
    fn is_terminated(&self) -> bool {
        self.terminated()
    }
}

#[cfg(feature = "futures")]
impl futures_core::FusedStream for &Stream {
    fn is_terminated(&self) -> bool {
        self.terminated()
    }
}

/// The items of a pulled [`Stream`], from [`Stream::iter`].
pub struct StreamIter<'a> {
    stream: &'a Stream,
}

impl Iterator for StreamIter<'_> {
    type Item = Result<Value>;

    fn next(&mut self) -> Option<Result<Value>> {
        self.stream.next_timeout(None).transpose()
    }
}

impl<'a> IntoIterator for &'a Stream {
    type Item = Result<Value>;
    type IntoIter = StreamIter<'a>;

    fn into_iter(self) -> StreamIter<'a> {
        self.iter()
    }
}

type ItemFn = Box<dyn FnMut(Result<Value>) -> u32 + Send>;
type EndFn = Box<dyn FnOnce(Result<()>) + Send>;

/// The user data of a pushed stream. The library runs its callbacks one at
/// a time; the mutexes only make that visible to the compiler.
struct Handler {
    on_item: Mutex<ItemFn>,
    on_end: Mutex<Option<EndFn>>,
}

unsafe extern "C" fn on_item_raw(
    user_data: *mut c_void,
    stream: *mut ffi::pyctx_stream_t,
    item: *const u8,
    len: usize,
) {
    // SAFETY: the handler lives until `free_handler`, after the last callback.
    let handler = unsafe { &*(user_data as *const Handler) };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `item` is `len` bytes borrowed for this call.
        let bytes = if item.is_null() { &[][..] } else { unsafe { std::slice::from_raw_parts(item, len) } };
        let mut on_item = handler.on_item.lock().unwrap_or_else(PoisonError::into_inner);
        (on_item)(cbor::decode(bytes))
    }));
    match outcome {
        // SAFETY: a callback may grant credit on its own stream.
        Ok(0) => {}
        Ok(n) => drop(unsafe { Error::check(ffi::pyctx_stream_credit(stream, n)) }),
        Err(_) => {
            eprintln!("pyctx: a stream's item callback panicked; the stream is cancelled");
            // SAFETY: a callback may cancel its own stream.
            drop(unsafe { Error::check(ffi::pyctx_stream_cancel(stream)) });
        }
    }
}

unsafe extern "C" fn on_end_raw(
    user_data: *mut c_void,
    _stream: *mut ffi::pyctx_stream_t,
    status: ffi::pyctx_status,
    error: *const ffi::pyctx_error_t,
) {
    // SAFETY: as in `on_item_raw`.
    let handler = unsafe { &*(user_data as *const Handler) };
    let outcome = if status == ffi::PYCTX_OK {
        Ok(())
    } else if error.is_null() {
        Err(Error::new(ErrorKind::from_status(status), ""))
    } else {
        // SAFETY: borrowed for the duration of the call.
        Err(unsafe { Error::from_borrowed(error) })
    };
    let on_end = handler.on_end.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(on_end) = on_end {
        if catch_unwind(AssertUnwindSafe(|| on_end(outcome))).is_err() {
            eprintln!("pyctx: a stream's end callback panicked (ignored)");
        }
    }
}

unsafe extern "C" fn free_handler(user_data: *mut c_void) {
    // SAFETY: from `Box::into_raw` in `with_callbacks`; called exactly once.
    let handler = unsafe { Box::from_raw(user_data as *mut Handler) };
    if catch_unwind(AssertUnwindSafe(|| drop(handler))).is_err() {
        eprintln!("pyctx: dropping a stream's callbacks panicked (ignored)");
    }
}

/// The shared state of a pulled stream: its callbacks (library threads)
/// fill it, `next_timeout` and `poll_next` (any thread) empty it.
struct Pulled {
    /// The credit granted at open and whenever the reader runs dry.
    window: u32,
    state: Mutex<PullState>,
    /// Signalled with every item and the end (for `next_timeout`).
    ready: Condvar,
}

struct PullState {
    /// Items received, not yet read (CBOR).
    items: VecDeque<Vec<u8>>,
    end: End,
    /// Advances granted and not yet answered by an item (the end answers
    /// the last one, after which this no longer matters).
    owed: u64,
    /// The task that last polled and found nothing.
    waker: Option<Waker>,
}

enum End {
    Running,
    /// Reported by the library, not yet read.
    Reported(Result<()>),
    /// Read: from now on the stream yields nothing.
    HandedOut,
}

/// What a reader does next.
enum Step {
    Item(Vec<u8>),
    /// The end, handed out now (`Ok(())`: exhausted).
    End(Result<()>),
    /// Grant this much credit (already counted as owed), then look again.
    Grant(u32),
    /// Nothing to read: wait for a callback.
    Wait,
}

impl Pulled {
    fn lock(&self) -> MutexGuard<'_, PullState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn step(&self, state: &mut PullState) -> Step {
        if let Some(item) = state.items.pop_front() {
            return Step::Item(item);
        }
        match std::mem::replace(&mut state.end, End::HandedOut) {
            End::Reported(end) => return Step::End(end),
            // Handed out already: from now on, exhausted.
            End::HandedOut => return Step::End(Ok(())),
            End::Running => state.end = End::Running,
        }
        if state.owed == 0 {
            state.owed = u64::from(self.window);
            return Step::Grant(self.window);
        }
        Step::Wait
    }

    /// Records what a callback brought and wakes the readers.
    fn deliver(&self, record: impl FnOnce(&mut PullState)) {
        let waker = {
            let mut state = self.lock();
            record(&mut state);
            self.ready.notify_all();
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

unsafe extern "C" fn pulled_item_raw(
    user_data: *mut c_void,
    stream: *mut ffi::pyctx_stream_t,
    item: *const u8,
    len: usize,
) {
    // SAFETY: the box lives until `free_pulled`, after the last callback.
    let pulled = unsafe { &*(user_data as *const Arc<Pulled>) };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `item` is `len` bytes borrowed for this call.
        let bytes = if item.is_null() { &[][..] } else { unsafe { std::slice::from_raw_parts(item, len) } };
        let bytes = bytes.to_vec();
        pulled.deliver(|state| {
            state.items.push_back(bytes);
            state.owed = state.owed.saturating_sub(1);
        });
    }));
    if outcome.is_err() {
        // (A waker that panicked, or no memory for the item.)
        eprintln!("pyctx: delivering a stream item panicked; the stream is cancelled");
        // SAFETY: a callback may cancel its own stream.
        drop(unsafe { Error::check(ffi::pyctx_stream_cancel(stream)) });
    }
}

unsafe extern "C" fn pulled_end_raw(
    user_data: *mut c_void,
    _stream: *mut ffi::pyctx_stream_t,
    status: ffi::pyctx_status,
    error: *const ffi::pyctx_error_t,
) {
    // SAFETY: as in `pulled_item_raw`.
    let pulled = unsafe { &*(user_data as *const Arc<Pulled>) };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let end = if status == ffi::PYCTX_OK {
            Ok(())
        } else if error.is_null() {
            Err(Error::new(ErrorKind::from_status(status), ""))
        } else {
            // SAFETY: borrowed for the duration of the call.
            Err(unsafe { Error::from_borrowed(error) })
        };
        pulled.deliver(|state| state.end = End::Reported(end));
    }));
    if outcome.is_err() {
        eprintln!("pyctx: delivering a stream's end panicked (ignored)");
    }
}

unsafe extern "C" fn free_pulled(user_data: *mut c_void) {
    // SAFETY: from `Box::into_raw` in `Stream::open`; called exactly once.
    let pulled = unsafe { Box::from_raw(user_data as *mut Arc<Pulled>) };
    if catch_unwind(AssertUnwindSafe(|| drop(pulled))).is_err() {
        eprintln!("pyctx: dropping a stream's state panicked (ignored)");
    }
}
