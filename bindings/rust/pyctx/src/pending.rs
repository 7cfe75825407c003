//! Asynchronous requests as `std::future::Future`s, independent of any
//! executor, on request objects ([`Request`]).
//!
//! Each `PendingRequest` owns one request object whose completion callback
//! holds a reference-counted `Completion` (released by the callback's
//! destructor when the request object is freed). The callback marks the
//! completion and wakes the future's waker; the result stays in the request
//! object until the future reads it. A future dropped before completion
//! cancels its request and, rather than wait, hands the request object to
//! its callback, which frees it: nothing leaks and nothing is touched
//! afterwards.

use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};

use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::request_object::Request;
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

/// Completion states alive now (submitted and not yet both completed and
/// released). For leak tests.
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
    waker: Option<Waker>,
    /// Set by the callback: the request is done and its result readable.
    completed: bool,
    /// Set by a future dropped before completion: the callback frees the
    /// request object.
    abandoned: bool,
}

/// State shared by a future and its request's completion callback.
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
}

impl Drop for Completion {
    fn drop(&mut self) {
        LIVE_COMPLETIONS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The completion callback of every future's request object, on a library
/// thread, once per submission.
unsafe extern "C" fn on_complete(user_data: *mut c_void, request: *mut ffi::pyctx_request_t) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `user_data` is the reference given with the callback; the
        // request object holds it until its destructor runs, which is after
        // this callback returns.
        let completion = unsafe { &*(user_data as *const Completion) };
        let (abandoned, waker) = {
            let mut slot = completion.lock();
            slot.completed = true;
            (slot.abandoned, slot.waker.take())
        };
        if abandoned {
            // The future is gone and gave the request to us: a callback may
            // free its own request (the library then releases it, and this
            // completion, after we return).
            // SAFETY: nobody else refers to the request any more.
            unsafe { ffi::pyctx_request_free(request) };
        } else if let Some(waker) = waker {
            // The waker is the executor's code: run it outside the lock.
            waker.wake();
        }
    }));
    if outcome.is_err() {
        // Only a panicking waker gets here; the completion is marked already.
        // Unwinding into C would abort the process, so the panic ends here.
        eprintln!("pyctx: a waker panicked in a completion callback (ignored)");
    }
}

/// The destructor of the callback's user data: the request's reference.
unsafe extern "C" fn release_completion(user_data: *mut c_void) {
    // SAFETY: the pointer came from `Arc::into_raw` in `PendingRequest::submit`;
    // the library calls this exactly once.
    let completion = unsafe { Arc::from_raw(user_data as *const Completion) };
    // A waker left in the slot is the executor's code, dropped here: its
    // panic must not unwind into C either.
    if catch_unwind(AssertUnwindSafe(|| drop(completion))).is_err() {
        eprintln!("pyctx: dropping a waker panicked in a request's finalizer (ignored)");
    }
}

enum State {
    /// Submission failed; the error is handed out on the first poll.
    Failed(Option<Error>),
    Submitted {
        request: Request,
        completion: Arc<Completion>,
    },
    Done,
}

/// An asynchronous request: a [`Future`] yielding the request's result.
/// Works with any executor (it only uses the [`Waker`] it is polled with).
///
/// Dropping it before it completes cancels the request (a queued request
/// never runs, a running one is interrupted) without waiting; the library's
/// later completion then frees everything.
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
    /// Submits a built request object (or reports why it could not be built).
    pub(crate) fn submit(request: Result<Request>) -> PendingRequest {
        let failed = |error| PendingRequest { state: State::Failed(Some(error)) };
        let mut request = match request {
            Ok(request) => request,
            Err(error) => return failed(error),
        };
        let completion = Arc::new(Completion::new());
        let user_data = Arc::into_raw(Arc::clone(&completion)) as *mut c_void;
        // SAFETY: `on_complete` catches every panic and treats `user_data`
        // as the `Arc<Completion>` that `release_completion` drops.
        if let Err(error) =
            unsafe { request.set_raw_callback(Some(on_complete), user_data, Some(release_completion)) }
        {
            // Not stored: the reference is still ours to release.
            // SAFETY: the pointer came from `Arc::into_raw` above.
            drop(unsafe { Arc::from_raw(user_data as *const Completion) });
            return failed(error);
        }
        match request.submit() {
            Ok(()) => PendingRequest { state: State::Submitted { request, completion } },
            // Not accepted: the request never completes; dropping it frees
            // it at once, and the completion with it.
            Err(error) => failed(error),
        }
    }

    /// The library's request id; `None` when submission failed.
    pub fn request_id(&self) -> Option<u64> {
        match &self.state {
            State::Submitted { request, .. } => request.id(),
            _ => None,
        }
    }

    /// Cancels the request; the future then yields
    /// [`ErrorKind::Cancelled`] (unless it completed first). Errors with
    /// [`ErrorKind::NotFound`] when the request has completed already.
    pub fn cancel(&self) -> Result<()> {
        match &self.state {
            State::Submitted { request, .. } => request.cancel(),
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

    /// Blocks the calling thread until the result arrives (the library's
    /// own wait: it spins briefly, then parks).
    pub fn wait(mut self) -> Result<Value> {
        if let State::Submitted { request, .. } = &self.state {
            request.wait(None)?;
        }
        self.take()
    }

    /// The outcome once complete (`None` while in flight).
    fn take_if_complete(&mut self) -> Option<Result<Value>> {
        let outcome = match &mut self.state {
            State::Failed(error) => Err(error.take().expect("PendingRequest polled after completion")),
            State::Done => panic!("PendingRequest polled after completion"),
            State::Submitted { request, completion } => {
                if !completion.lock().completed {
                    return None;
                }
                request.result()
            }
        };
        // Done: the request object is freed here (its callback has set
        // `completed`, so the free waits at most for it to return).
        self.state = State::Done;
        Some(outcome)
    }

    fn take(&mut self) -> Result<Value> {
        self.take_if_complete()
            .unwrap_or_else(|| Err(Error::new(ErrorKind::Internal, "a waited request is not complete")))
    }
}

impl Future for PendingRequest {
    type Output = Result<Value>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<Value>> {
        if let State::Submitted { completion, .. } = &self.state {
            let mut slot = completion.lock();
            if !slot.completed {
                if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    slot.waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
        }
        match self.take_if_complete() {
            Some(outcome) => Poll::Ready(outcome),
            None => unreachable!("checked complete above"),
        }
    }
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        let State::Submitted { request, completion } = std::mem::replace(&mut self.state, State::Done) else {
            return;
        };
        if completion.lock().completed {
            return; // `request` drops here: freed, waiting at most for its callback
        }
        // Cancel while the request is still ours (the callback never frees
        // it before `abandoned` is set). NOT_FOUND only means it completed
        // meanwhile.
        let _ = request.cancel();
        let mut slot = completion.lock();
        if slot.completed {
            drop(slot);
            return; // completed meanwhile: freed here
        }
        // Still in flight: the callback frees the request object when it
        // completes; this side lets go of it without waiting.
        slot.abandoned = true;
        drop(slot);
        let _raw: NonNull<ffi::pyctx_request_t> = request.into_raw();
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
