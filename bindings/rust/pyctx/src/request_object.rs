//! `Request`: one request object of the C API (`pyctx_request_t`), built by
//! the `Call`/`Eval`/`Exec` builders, submitted, waited for, cancelled from
//! any thread, resubmitted, and submitted many at once.

use std::ffi::c_void;
use std::fmt;
use std::ptr::{self, NonNull};
use std::time::Duration;

use crate::args::IntoArgs;
use crate::buffer::Buffer;
use crate::cbor;
use crate::context::Context;
use crate::cstr::with_cstr;
use crate::env::Env;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::object::{Object, ResultForm};
use crate::pool::Pool;
use crate::stream::Stream;
use crate::timeout;
use crate::value::Value;

/// One request — a call, eval or exec on a context or a [`Pool`], or a
/// call, method call, attribute read or release of an [`Object`] — as an
/// object that lives across its submissions, from
/// [`Call::request`](crate::Call::request),
/// [`Eval::request`](crate::Eval::request),
/// [`Exec::request`](crate::Exec::request),
/// [`ObjectCall::request`](crate::ObjectCall::request) or
/// [`Object::release_request`].
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
    /// Keeps the destination open while the request may refer to it.
    dest: Dest,
    /// Keeps the env of an eval/exec alive while the request may run in it.
    env: Option<Env>,
    /// Keeps the object of an object request alive for resubmissions.
    object: Option<Object>,
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
        let request = Request { raw, dest: Dest::Context(ctx.clone()), env: None, object: None };
        // SAFETY: live request and context.
        unsafe { Error::check(ffi::pyctx_request_set_context(request.as_raw(), ctx.as_raw()))? };
        Ok(request)
    }

    /// A new request to `pool`, with no kind yet.
    pub(crate) fn new_pool(pool: &Pool) -> Result<Request> {
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_request_new(&mut raw))? };
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "request_new gave no request"))?;
        let request = Request { raw, dest: Dest::Pool(pool.clone()), env: None, object: None };
        // SAFETY: live request and pool.
        unsafe { Error::check(ffi::pyctx_request_set_pool(request.as_raw(), pool.as_raw()))? };
        Ok(request)
    }

    /// Keeps `object` alive as long as this request may be submitted.
    pub(crate) fn keep_object(&mut self, object: &Object) {
        self.object = Some(object.clone());
    }

    /// A new request to `dest` (a context or a pool), with no kind yet.
    pub(crate) fn to(dest: &Dest) -> Result<Request> {
        match dest {
            Dest::Context(ctx) => Request::new(ctx),
            Dest::Pool(pool) => Request::new_pool(pool),
        }
    }

    /// The destination this request keeps alive.
    pub(crate) fn dest(&self) -> &Dest {
        &self.dest
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

    /// What each later submission returns (default [`ResultForm::Value`]).
    /// A form other than `Value` is refused at submit for an exec or a
    /// release, which have no result.
    pub fn set_result_form(&mut self, form: ResultForm) -> Result<()> {
        // SAFETY: live request.
        unsafe { Error::check(ffi::pyctx_request_set_result_form(self.as_raw(), form.to_raw())) }
    }

    /// Once done with [`ResultForm::Object`]: the new handle. A handle never
    /// taken is released at the next submission or the drop.
    /// [`ErrorKind::InvalidArgument`] when there is none (not done, failed
    /// — see [`result`](Request::result) — another form, or taken already).
    pub fn take_object(&mut self) -> Result<Object> {
        if self.is_done() {
            self.result_status()?;
        }
        let mut raw = ptr::null_mut();
        // SAFETY: live request, `&mut` so no other accessor races the move.
        unsafe { Error::check(ffi::pyctx_request_take_object(self.as_raw(), &mut raw))? };
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::new(ErrorKind::Internal, "take_object gave no object"))?;
        Object::from_raw(raw, self.dest.clone())
    }

    /// Attaches `buffer` to the next submission and returns its index, for
    /// [`Value::Buffer`] in the arguments: 0, 1, 2, ... in the order of
    /// attachment. The request holds the buffer (the caller keeps its own
    /// handle) and its layout is fixed from now on. A submission takes the
    /// attachments along (a resubmission attaches again); a refused one
    /// keeps them.
    pub fn attach_buffer(&mut self, buffer: &Buffer) -> Result<u32> {
        let mut index = 0u32;
        // SAFETY: live request and buffer.
        unsafe {
            Error::check(ffi::pyctx_request_attach_buffer(self.as_raw(), buffer.as_raw(), &mut index))?
        };
        Ok(index)
    }

    /// Drops the buffers attached since the last submission.
    pub fn clear_buffers(&mut self) -> Result<()> {
        // SAFETY: live request.
        unsafe { Error::check(ffi::pyctx_request_clear_buffers(self.as_raw())) }
    }

    /// Once done with [`ResultForm::Buffer`]: the result's memory as a
    /// pinned view (the object stays alive and in place until the
    /// [`Buffer`] is dropped). A result without the buffer protocol failed
    /// with [`ErrorKind::Encode`]; no view (not done, another form, taken
    /// already): [`ErrorKind::InvalidArgument`].
    pub fn take_buffer(&mut self) -> Result<Buffer> {
        if self.is_done() {
            self.result_status()?;
        }
        let mut raw = ptr::null_mut();
        // SAFETY: live request, `&mut` so no other accessor races the move.
        unsafe { Error::check(ffi::pyctx_request_take_buffer(self.as_raw(), &mut raw))? };
        Buffer::from_raw(raw)
    }

    /// Sets [`ResultForm::Buffer`], submits, waits, and takes the view.
    pub fn run_buffer(&mut self) -> Result<Buffer> {
        self.set_result_form(ResultForm::Buffer)?;
        self.submit()?;
        self.wait(None)?;
        self.take_buffer()
    }

    /// The error of a done request that failed.
    fn result_status(&self) -> Result<()> {
        let raw = self.as_raw();
        // SAFETY: live request, done; the error lives until the next submit.
        unsafe {
            let status = ffi::pyctx_request_status(raw);
            if status == ffi::PYCTX_OK {
                return Ok(());
            }
            let error = ffi::pyctx_request_error(raw);
            if error.is_null() {
                Err(Error::new(ErrorKind::from_status(status), ""))
            } else {
                Err(Error::from_borrowed(error))
            }
        }
    }

    /// Sets [`ResultForm::Object`], submits, waits, and takes the handle.
    pub fn run_object(&mut self) -> Result<Object> {
        self.set_result_form(ResultForm::Object)?;
        self.submit()?;
        self.wait(None)?;
        self.take_object()
    }

    /// Opens this call, eval or object request as a [`Stream`] of its
    /// result's items instead of submitting it; the request itself stays
    /// as it was (reusable). `credit` items (at least 1) may be in flight.
    /// A pool's request is refused: a stream lives in one context.
    pub fn open_stream(&mut self, credit: u32) -> Result<Stream> {
        Stream::open(self, credit)
    }

    /// The routing key of a pool's request (any bytes, copied; empty: none):
    /// the same key goes to the same member while membership does not
    /// change. Ignored for a context's request.
    pub fn set_key(&mut self, key: &[u8]) -> Result<()> {
        let p = if key.is_empty() { ptr::null() } else { key.as_ptr().cast() };
        // SAFETY: live request; the bytes are copied.
        unsafe { Error::check(ffi::pyctx_request_set_key(self.as_raw(), p, key.len())) }
    }

    /// The member id ([`PoolMemberStats::member_id`](crate::PoolMemberStats))
    /// the current submission of a pool's request went to; `None` before,
    /// and for a context's request.
    pub fn pool_member(&self) -> Option<u64> {
        // SAFETY: live request.
        match unsafe { ffi::pyctx_request_pool_member(self.as_raw()) } {
            0 => None,
            id => Some(id),
        }
    }

    /// True when the current submission's key went to another member than
    /// the previous submission of that key (its state stayed behind).
    pub fn key_moved(&self) -> bool {
        // SAFETY: live request.
        unsafe { ffi::pyctx_request_key_moved(self.as_raw()) != 0 }
    }

    /// The destination context (`None` for a pool's request: see
    /// [`pool_member`](Request::pool_member)).
    pub fn context(&self) -> Option<&Context> {
        match &self.dest {
            Dest::Context(ctx) => Some(ctx),
            Dest::Pool(_) => None,
        }
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
            drop(ptr::read(&this.dest));
            drop(ptr::read(&this.env));
            drop(ptr::read(&this.object));
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

/// What a request (or an object) keeps open: its context, or its pool.
#[derive(Clone)]
pub(crate) enum Dest {
    Context(Context),
    Pool(Pool),
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
