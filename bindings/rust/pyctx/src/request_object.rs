//! `Request`: one request object of the C API (`pyctx_request_t`), built by
//! the `Call`/`Eval`/`Exec` builders, submitted, waited for, cancelled from
//! any thread, resubmitted, and submitted many at once.

use std::ffi::c_void;
use std::fmt;
use std::ptr::{self, NonNull};
use std::time::Duration;

use crate::args::IntoArgs;
use crate::cbor;
use crate::context::Context;
use crate::cstr::with_cstr;
use crate::env::Env;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::timeout;
use crate::value::Value;

/// One request — a call, eval or exec on a context — as an object that
/// lives across its submissions, from
/// [`Call::request`](crate::Call::request),
/// [`Eval::request`](crate::Eval::request) or
/// [`Exec::request`](crate::Exec::request).
///
/// Its life: built (not yet submitted), [`submit`](Request::submit)ted (in
/// flight), then done exactly once per submission — with a value, a Python
/// error or a status (cancelled, timeout, closed) — and readable with
/// [`result`](Request::result) until it is submitted again or dropped. A
/// done request may be submitted again, with the same or changed settings
/// ([`set_args`](Request::set_args), [`set_timeout`](Request::set_timeout));
/// each submission gets a new [`id`](Request::id).
///
/// The methods that take `&self` — [`wait`](Request::wait),
/// [`cancel`](Request::cancel), [`is_done`](Request::is_done),
/// [`id`](Request::id), [`result`](Request::result) — may be called from
/// any number of threads at once while it is in flight (the type is `Sync`):
/// one thread waits, another cancels. Settings and submission take
/// `&mut self`, so they never race with those.
///
/// Dropping an in-flight request cancels it and waits for its completion
/// (a queued request never runs, a running one is interrupted).
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use std::time::Duration;
/// use pyctx::Value;
///
/// let mut request = ctx.call_with("builtins", "pow").args((2, 10)).request().unwrap();
/// request.submit().unwrap();
/// let first = request.id().unwrap();
/// request.wait(Some(Duration::from_secs(10))).unwrap();
/// assert_eq!(request.result().unwrap(), Value::Int(1024));
///
/// // Done: change it and submit it again; the new submission has a new id.
/// request.set_args((3, 3)).unwrap();
/// assert_eq!(request.run().unwrap(), Value::Int(27));
/// assert_ne!(request.id().unwrap(), first);
/// ```
///
/// Cancelling from another thread while this one waits:
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// let mut request = ctx.exec_with("while True: pass").request().unwrap();
/// request.submit().unwrap();
/// std::thread::scope(|s| {
///     s.spawn(|| request.cancel().unwrap());
///     request.wait(None).unwrap();
/// });
/// assert!(request.result().unwrap_err().is_cancelled());
/// ```
pub struct Request {
    raw: NonNull<ffi::pyctx_request_t>,
    /// Keeps the context open while the request may refer to it.
    ctx: Context,
    /// Keeps the env of an eval/exec alive while the request may run in it.
    env: Option<Env>,
}

// SAFETY: the C API lets the owner use a request from any thread, one at a
// time (Send); the `&self` methods are exactly those the header lets race
// with each other and with completion from any thread (Sync): every setter,
// submit and free need `&mut self` or ownership.
unsafe impl Send for Request {}
unsafe impl Sync for Request {}

impl Request {
    /// A new request to `ctx`, with no kind yet.
    pub(crate) fn new(ctx: &Context) -> Result<Request> {
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_request_new(&mut raw))? };
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "request_new gave no request"))?;
        let request = Request { raw, ctx: ctx.clone(), env: None };
        // SAFETY: live request and context.
        unsafe { Error::check(ffi::pyctx_request_set_context(request.as_raw(), ctx.as_raw()))? };
        Ok(request)
    }

    pub(crate) fn set_call(&mut self, module: &str, function: &str) -> Result<()> {
        with_cstr("module", module, |module| {
            with_cstr("function", function, |function| {
                // SAFETY: live request; the strings are copied.
                unsafe { Error::check(ffi::pyctx_request_set_call(self.as_raw(), module, function)) }
            })
        })
    }

    pub(crate) fn set_eval(&mut self, expression: &str) -> Result<()> {
        with_cstr("expression", expression, |expression| {
            // SAFETY: live request; the string is copied.
            unsafe { Error::check(ffi::pyctx_request_set_eval(self.as_raw(), expression)) }
        })
    }

    pub(crate) fn set_exec(&mut self, code: &str) -> Result<()> {
        with_cstr("code", code, |code| {
            // SAFETY: live request; the string is copied.
            unsafe { Error::check(ffi::pyctx_request_set_exec(self.as_raw(), code)) }
        })
    }

    /// Sets already encoded arguments (one CBOR array).
    pub(crate) fn set_encoded_args(&mut self, args: &[u8]) -> Result<()> {
        // SAFETY: live request; the bytes are copied.
        unsafe { Error::check(ffi::pyctx_request_set_args(self.as_raw(), args.as_ptr(), args.len())) }
    }

    /// Sets already encoded kwargs or eval locals (one CBOR map; `None`: none).
    pub(crate) fn set_encoded_kwargs(&mut self, kwargs: Option<&[u8]>) -> Result<()> {
        let (p, n) = kwargs.map_or((ptr::null(), 0), |k| (k.as_ptr(), k.len()));
        // SAFETY: live request; the bytes are copied.
        unsafe { Error::check(ffi::pyctx_request_set_kwargs(self.as_raw(), p, n)) }
    }

    pub(crate) fn set_env(&mut self, env: Option<&Env>) -> Result<()> {
        let raw_env = env.map_or(ptr::null_mut(), Env::as_raw);
        // SAFETY: live request and env; the env is kept alive by `self.env`.
        unsafe { Error::check(ffi::pyctx_request_set_env(self.as_raw(), raw_env))? };
        self.env = env.cloned();
        Ok(())
    }

    /// Sets the completion callback with its user data and destructor.
    ///
    /// # Safety
    /// `callback` must not unwind, and must treat `user_data` as
    /// `free_user_data` expects until that destructor runs.
    pub(crate) unsafe fn set_raw_callback(
        &mut self,
        callback: ffi::pyctx_request_fn,
        user_data: *mut c_void,
        free_user_data: ffi::pyctx_free_fn,
    ) -> Result<()> {
        // SAFETY: live request; the caller vouches for the callback.
        unsafe {
            Error::check(ffi::pyctx_request_set_callback(self.as_raw(), callback, user_data, free_user_data))
        }
    }

    /// Replaces the positional arguments of a call (not allowed while in
    /// flight: [`ErrorKind::InvalidArgument`]).
    pub fn set_args(&mut self, args: impl IntoArgs) -> Result<()> {
        let mut buf = Vec::with_capacity(16);
        args.encode_args(&mut buf);
        self.set_encoded_args(&buf)
    }

    /// The deadline of each later submission, counted from
    /// [`submit`](Request::submit) (`None`: none): a queued request then
    /// never runs, a running one is interrupted, and it completes with
    /// [`ErrorKind::Timeout`].
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: live request.
        unsafe { Error::check(ffi::pyctx_request_set_timeout(self.as_raw(), timeout::to_ms(timeout))) }
    }

    /// Submits the request; it is then in flight until done. Fails (and the
    /// request stays as it was, never completing) for a closed context, a
    /// full queue, a stopped runtime, an env of another context, or a
    /// request still in flight ([`ErrorKind::InvalidArgument`]).
    pub fn submit(&mut self) -> Result<()> {
        // SAFETY: live request, owned exclusively here.
        unsafe { Error::check(ffi::pyctx_request_submit(self.as_raw())) }
    }

    /// Submits every request of `requests`, in order, with one wake-up per
    /// destination context: the fast way to queue many. Stops at the first
    /// refusal; the requests before it are in flight, that one and those
    /// after it are not (see [`SubmitManyError`]).
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// use pyctx::{Request, Value};
    /// let mut batch: Vec<Request> =
    ///     (0..100).map(|i| ctx.call_with("builtins", "abs").arg(-i).request().unwrap()).collect();
    /// Request::submit_many(&mut batch).unwrap();
    /// for (i, request) in batch.iter().enumerate() {
    ///     request.wait(None).unwrap();
    ///     assert_eq!(request.result().unwrap(), Value::Int(i as i128));
    /// }
    /// ```
    pub fn submit_many<'r>(
        requests: impl IntoIterator<Item = &'r mut Request>,
    ) -> Result<(), SubmitManyError> {
        // `&mut` items: no request appears twice, and none is shared.
        let raws: Vec<*mut ffi::pyctx_request_t> = requests.into_iter().map(|r| r.as_raw()).collect();
        let mut accepted = 0usize;
        // SAFETY: every pointer is a live request borrowed exclusively for
        // the call.
        let result =
            unsafe { Error::check(ffi::pyctx_request_submit_many(raws.as_ptr(), raws.len(), &mut accepted)) };
        result.map_err(|error| SubmitManyError { accepted, error })
    }

    /// Waits until the request is done, at most `timeout` (`None`: no
    /// limit). `Ok(())` means done: read [`result`](Request::result).
    /// [`ErrorKind::Timeout`] means this wait ran out and the request is
    /// still in flight (not to be confused with a request that completed
    /// as timed out, which `result` reports);
    /// [`ErrorKind::InvalidArgument`] that it was never submitted.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: live request; waits may race with anything but free, which
        // needs ownership.
        unsafe { Error::check(ffi::pyctx_request_wait(self.as_raw(), timeout::to_ms(timeout))) }
    }

    /// Cancels the request in flight (a queued one completes as
    /// [`ErrorKind::Cancelled`] without running, a running one is
    /// interrupted). [`ErrorKind::NotFound`] once it is done,
    /// [`ErrorKind::InvalidArgument`] if it was never submitted.
    pub fn cancel(&self) -> Result<()> {
        // SAFETY: live request; cancel may race from any thread.
        unsafe { Error::check(ffi::pyctx_request_cancel(self.as_raw())) }
    }

    /// True once the current submission is done and its result readable.
    pub fn is_done(&self) -> bool {
        // SAFETY: live request.
        unsafe { ffi::pyctx_request_is_done(self.as_raw()) != 0 }
    }

    /// The id of the current submission (`None` before the first, or after
    /// a refused one).
    pub fn id(&self) -> Option<u64> {
        // SAFETY: live request.
        match unsafe { ffi::pyctx_request_id(self.as_raw()) } {
            0 => None,
            id => Some(id),
        }
    }

    /// The outcome of the current submission, once done: its value, or the
    /// Python error or status it completed with. Not done yet (or never
    /// submitted): [`ErrorKind::InvalidArgument`].
    pub fn result(&self) -> Result<Value> {
        let raw = self.as_raw();
        // SAFETY: live request; once done, its error and value stay valid
        // until the next submit or the free, both of which need `&mut self`.
        unsafe {
            if ffi::pyctx_request_is_done(raw) == 0 {
                return Err(Error::invalid_argument("the request is not done"));
            }
            let status = ffi::pyctx_request_status(raw);
            if status == ffi::PYCTX_OK {
                let mut len = 0usize;
                let data = ffi::pyctx_request_value(raw, &mut len);
                if data.is_null() {
                    return Err(Error::new(ErrorKind::Internal, "a done request without a value"));
                }
                return cbor::decode(std::slice::from_raw_parts(data, len));
            }
            let error = ffi::pyctx_request_error(raw);
            if error.is_null() {
                Err(Error::new(ErrorKind::from_status(status), ""))
            } else {
                Err(Error::from_borrowed(error))
            }
        }
    }

    /// Submits, waits without a limit, and returns the result.
    pub fn run(&mut self) -> Result<Value> {
        self.submit()?;
        self.wait(None)?;
        self.result()
    }

    /// The destination context.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The C handle, for the raw [`ffi`](crate::ffi) functions. Valid while
    /// this `Request` lives.
    pub fn as_raw(&self) -> *mut ffi::pyctx_request_t {
        self.raw.as_ptr()
    }

    /// Gives up the C handle without freeing it, dropping this side's
    /// context and env references.
    pub(crate) fn into_raw(self) -> NonNull<ffi::pyctx_request_t> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; each field is read
        // once.
        unsafe {
            drop(ptr::read(&this.ctx));
            drop(ptr::read(&this.env));
        }
        this.raw
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        // SAFETY: owned; cancels and waits when in flight, as the header says.
        unsafe { ffi::pyctx_request_free(self.as_raw()) };
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("id", &self.id()).field("done", &self.is_done()).finish()
    }
}

/// A refusal by [`Request::submit_many`]: the first `accepted` requests
/// are in flight, the rest were not submitted (the one at index `accepted`
/// refused with `error`). Converts into [`Error`] for `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitManyError {
    /// How many requests were submitted before the refusal.
    pub accepted: usize,
    /// Why the next one was refused.
    pub error: Error,
}

impl fmt::Display for SubmitManyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request {} of the batch refused: {}", self.accepted, self.error)
    }
}

impl std::error::Error for SubmitManyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<SubmitManyError> for Error {
    fn from(e: SubmitManyError) -> Error {
        e.error
    }
}
