//! `Stream`: a generator, async generator or iterator read item by item
//! (`pyctx_stream_t`), pulled as an `Iterator` or pushed to callbacks.

use std::ffi::c_void;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::cbor;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::pending::OwnedBytes;
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
    /// Set once the end was handed out by the pull form.
    ended: AtomicBool,
    /// Keeps the context open while the stream runs in it.
    _dest: Dest,
}

// SAFETY: the header lets credit, cancel, next and is_done run from any
// thread, concurrently (the `&self` methods); free, once, by the owner, is
// only `Drop`.
unsafe impl Send for Stream {}
unsafe impl Sync for Stream {}

impl Stream {
    /// Opens `request` in the pull form.
    pub(crate) fn open(request: &mut Request, credit: u32) -> Result<Stream> {
        let mut raw = ptr::null_mut();
        // SAFETY: live request (copied by the open); no callbacks, no user data.
        unsafe {
            Error::check(ffi::pyctx_stream_open(
                request.as_raw(),
                credit.max(1),
                None,
                None,
                ptr::null_mut(),
                None,
                &mut raw,
            ))?
        };
        Stream::from_raw(raw, request)
    }

    fn from_raw(raw: *mut ffi::pyctx_stream_t, request: &Request) -> Result<Stream> {
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::new(ErrorKind::Internal, "stream_open gave no stream"))?;
        Ok(Stream { raw, ended: AtomicBool::new(false), _dest: request.dest().clone() })
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
        Stream::from_raw(raw, request)
    }

    /// Grants `n` more credit (ignored once the stream ended).
    pub fn credit(&self, n: u32) -> Result<()> {
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

    /// True once the end was reported.
    pub fn is_done(&self) -> bool {
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
        if self.ended.load(Ordering::Acquire) {
            return Ok(None);
        }
        let mut item = OwnedBytes::empty();
        let mut done = 0;
        // SAFETY: live stream; `next` may race with every `&self` method.
        let result = unsafe {
            Error::check(ffi::pyctx_stream_next(
                self.raw.as_ptr(),
                timeout::to_ms(timeout),
                item.as_out(),
                &mut done,
            ))
        };
        if done != 0 {
            self.ended.store(true, Ordering::Release);
            return result.map(|()| None);
        }
        result?;
        cbor::decode(item.as_slice()).map(Some)
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
