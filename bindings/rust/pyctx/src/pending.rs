//! Asynchronous requests as `std::future::Future`s, independent of any
//! executor.
//!
//! Each submitted request owns one reference-counted `Completion`. One
//! reference goes to the C library as `user_data` and comes back exactly
//! once in the completion callback (on a library thread); the other lives in
//! the `PendingRequest`. Whichever side lets go last frees the state and the
//! C result with it, so a future dropped before its request completed
//! leaks nothing and is never touched afterwards.

use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use crate::cbor;
use crate::context::Context;
use crate::env::Env;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::value::Value;

/// A `pyctx_bytes_t` the library filled; freed on drop.
pub(crate) struct OwnedBytes(ffi::pyctx_bytes_t);

impl OwnedBytes {
    pub(crate) fn empty() -> OwnedBytes {
        OwnedBytes(ffi::pyctx_bytes_t { data: ptr::null_mut(), len: 0 })
    }

    pub(crate) fn as_out(&mut self) -> *mut ffi::pyctx_bytes_t {
        &mut self.0
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.0.data.is_null() {
            &[]
        } else {
            // SAFETY: the library wrote `len` bytes at `data`, ours until freed.
            unsafe { std::slice::from_raw_parts(self.0.data, self.0.len) }
        }
    }
}

impl Drop for OwnedBytes {
    fn drop(&mut self) {
        // SAFETY: ours; accepts an empty struct.
        unsafe { ffi::pyctx_bytes_free(&mut self.0) };
    }
}

/// An owned `pyctx_result_t`.
struct RawResult(NonNull<ffi::pyctx_result_t>);

// SAFETY: the header lets the owner free or read a result on any thread.
unsafe impl Send for RawResult {}

impl RawResult {
    fn into_value(self) -> Result<Value> {
        let raw = self.0.as_ptr();
        // SAFETY: `raw` is live until `self` drops at the end of this fn.
        unsafe {
            let status = ffi::pyctx_result_status(raw);
            if status == ffi::PYCTX_OK {
                let mut len = 0usize;
                let data = ffi::pyctx_result_value(raw, &mut len);
                if data.is_null() {
                    return Err(Error::new(ErrorKind::Internal, "successful result without a value"));
                }
                return cbor::decode(std::slice::from_raw_parts(data, len));
            }
            let error = ffi::pyctx_result_error(raw);
            if error.is_null() {
                Err(Error::new(ErrorKind::from_status(status), ""))
            } else {
                Err(Error::from_borrowed(error))
            }
        }
    }
}

impl Drop for RawResult {
    fn drop(&mut self) {
        // SAFETY: owned.
        unsafe { ffi::pyctx_result_free(self.0.as_ptr()) };
    }
}

/// Completion states alive now (submitted and not yet both completed and
/// released). For leak tests.
static LIVE_COMPLETIONS: AtomicUsize = AtomicUsize::new(0);

/// How many asynchronous requests' shared states exist right now: those
/// whose future or whose completion callback is still outstanding. Returns
/// to its earlier value once both are done, dropped futures included.
pub fn live_async_requests() -> usize {
    LIVE_COMPLETIONS.load(Ordering::SeqCst)
}

#[derive(Default)]
struct Slot {
    result: Option<RawResult>,
    waker: Option<Waker>,
    completed: bool,
}

/// State shared by a future and its completion callback.
struct Completion {
    slot: Mutex<Slot>,
}

impl Completion {
    fn new() -> Completion {
        LIVE_COMPLETIONS.fetch_add(1, Ordering::SeqCst);
        Completion { slot: Mutex::new(Slot::default()) }
    }

    /// Never poisoned in practice (nothing user-provided runs under it), but
    /// a poisoned slot is still consistent: every update is one assignment.
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn complete(&self, result: Option<RawResult>) {
        let waker = {
            let mut slot = self.lock();
            slot.result = result;
            slot.completed = true;
            slot.waker.take()
        };
        // The waker is the executor's code: run it outside the lock.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        LIVE_COMPLETIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The completion callback: takes back the library's reference.
unsafe extern "C" fn on_complete(user_data: *mut c_void, _request_id: u64, result: *mut ffi::pyctx_result_t) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user_data` is the reference `submit` leaked for this
        // request; the library hands it back exactly once.
        let completion = unsafe { Arc::from_raw(user_data as *const Completion) };
        completion.complete(NonNull::new(result).map(RawResult));
    }));
    if outcome.is_err() {
        // Only a panicking waker gets here; the result is stored already and
        // the reference was released while unwinding. Unwinding into C would
        // abort the process, so the panic ends here.
        eprintln!("pyctx: a waker panicked in a completion callback (ignored)");
    }
}

enum State {
    /// Submission failed; the error is handed out on the first poll.
    Failed(Option<Error>),
    Submitted {
        ctx: Context,
        /// Keeps the env of an eval/exec alive while the request may run.
        _env: Option<Env>,
        completion: Arc<Completion>,
        id: u64,
    },
    Done,
}

/// An asynchronous request: a [`Future`] yielding the request's result.
/// Works with any executor (it only uses the [`Waker`] it is polled with).
///
/// Dropping it before it completes cancels the request (a queued request
/// never runs, a running one is interrupted); the library's later
/// completion then frees everything.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// let pending = ctx.call_async("math", "factorial", (20,));
/// // ... await it in any executor, or block this thread:
/// assert_eq!(pending.wait().unwrap(), pyctx::Value::Int(2432902008176640000));
/// ```
#[must_use = "dropping a PendingRequest cancels the request"]
pub struct PendingRequest {
    state: State,
}

impl PendingRequest {
    /// Submits through `submit(callback, user_data, out_request_id)`.
    pub(crate) fn submit(
        ctx: &Context,
        env: Option<&Env>,
        submit: impl FnOnce(ffi::pyctx_completion_fn, *mut c_void, *mut u64) -> Result<()>,
    ) -> PendingRequest {
        let completion = Arc::new(Completion::new());
        let user_data = Arc::into_raw(Arc::clone(&completion)) as *mut c_void;
        let mut id = 0u64;
        match submit(Some(on_complete), user_data, &mut id) {
            Ok(()) => PendingRequest {
                state: State::Submitted { ctx: ctx.clone(), _env: env.cloned(), completion, id },
            },
            Err(error) => {
                // Not accepted: the callback will never run, so the
                // library's reference is ours to release.
                // SAFETY: the pointer came from `Arc::into_raw` above.
                drop(unsafe { Arc::from_raw(user_data as *const Completion) });
                PendingRequest { state: State::Failed(Some(error)) }
            }
        }
    }

    /// The library's request id; `None` when submission failed.
    pub fn request_id(&self) -> Option<u64> {
        match &self.state {
            State::Submitted { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// Cancels the request; the future then yields
    /// [`ErrorKind::Cancelled`] (unless it completed first). Errors with
    /// [`ErrorKind::NotFound`] when the request has completed already.
    pub fn cancel(&self) -> Result<()> {
        match &self.state {
            // SAFETY: the context handle is kept alive by `ctx`.
            State::Submitted { ctx, id, .. } => unsafe { Error::check(ffi::pyctx_cancel(ctx.as_raw(), *id)) },
            State::Failed(_) | State::Done => {
                Err(Error::new(ErrorKind::NotFound, "the request is not pending"))
            }
        }
    }

    /// True once the result is there (or submission failed).
    pub fn is_complete(&self) -> bool {
        match &self.state {
            State::Submitted { completion, .. } => completion.lock().completed,
            _ => true,
        }
    }

    /// Blocks the calling thread until the result arrives.
    pub fn wait(mut self) -> Result<Value> {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = TaskContext::from_waker(&waker);
        loop {
            if let Poll::Ready(result) = Pin::new(&mut self).poll(&mut cx) {
                return result;
            }
            std::thread::park();
        }
    }
}

impl Future for PendingRequest {
    type Output = Result<Value>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<Value>> {
        let outcome = match &mut self.state {
            State::Failed(error) => Err(error.take().expect("PendingRequest polled after completion")),
            State::Done => panic!("PendingRequest polled after completion"),
            State::Submitted { completion, .. } => {
                let mut slot = completion.lock();
                if !slot.completed {
                    if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        slot.waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
                let result = slot.result.take();
                drop(slot);
                match result {
                    Some(raw) => raw.into_value(),
                    None => Err(Error::new(ErrorKind::Internal, "completion without a result")),
                }
            }
        };
        self.state = State::Done;
        Poll::Ready(outcome)
    }
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        if let State::Submitted { ctx, completion, id, .. } = &self.state {
            if !completion.lock().completed {
                // NOT_FOUND here only means it completed meanwhile.
                // SAFETY: the context handle is kept alive by `ctx`.
                unsafe { ffi::pyctx_error_free(ffi::pyctx_cancel(ctx.as_raw(), *id)) };
            }
        }
    }
}

impl std::fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRequest")
            .field("request_id", &self.request_id())
            .field("complete", &self.is_complete())
            .finish()
    }
}
