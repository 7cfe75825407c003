//! Host functions: Python calling Rust closures.
//!
//! Python calls a registered name with `pyctx.call("name", *args)` (the
//! calling Python thread blocks, the GIL released) or
//! `await pyctx.async_call("name", *args)` in a coroutine. The registry is
//! process-wide: every context sees every name.

use std::any::Any;
use std::ffi::{CStr, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use crate::cbor;
use crate::cstr::{lossless_cstring, with_cstr};
use crate::error::{Error, Result};
use crate::ffi;
use crate::value::Value;

type Handler = dyn Fn(HostCall) + Send + Sync + 'static;

/// What the library stores as `user_data` for one registration.
struct Entry {
    handler: Box<Handler>,
}

/// Registers `f` under `name` (replacing an earlier registration). `f` gets
/// the positional arguments and answers at once: `Ok(value)` is returned to
/// Python, `Err(message)` raises `pyctx.HostError(message)` there, and a
/// panic is caught and raised as a `HostError` naming the panic.
///
/// `f` runs on the calling context's thread, possibly on several context
/// threads at once. It may call back into the same context synchronously.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use pyctx::Value;
/// pyctx::host::register("doc_add", |args: &[Value]| {
///     let a = args[0].as_i64().ok_or("a must be an int")?;
///     let b = args[1].as_i64().ok_or("b must be an int")?;
///     Ok(Value::from(a + b))
/// })
/// .unwrap();
/// ctx.exec("import pyctx").unwrap();
/// assert_eq!(ctx.eval("pyctx.call('doc_add', 2, 3)").unwrap(), Value::Int(5));
/// # pyctx::host::unregister("doc_add").unwrap();
/// ```
pub fn register<F>(name: &str, f: F) -> Result<()>
where
    F: Fn(&[Value]) -> std::result::Result<Value, String> + Send + Sync + 'static,
{
    register_deferred(name, move |call: HostCall| {
        let answer = match call.args() {
            Err(e) => Err(format!("bad arguments: {e}")),
            Ok(args) => match catch_unwind(AssertUnwindSafe(|| f(&args))) {
                Ok(result) => result,
                Err(panic) => {
                    Err(format!("host function {:?} panicked: {}", call.name(), panic_message(&*panic)))
                }
            },
        };
        // The only failure left is a closed context: Python is gone.
        let _ = call.respond(answer);
    })
}

/// Registers a host function that answers through the [`HostCall`] it is
/// given: right away or later, from any thread (move the call there). A
/// call dropped without an answer is answered with a `HostError`, and a
/// panic in `f` is caught and answered the same way.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// pyctx::host::register_deferred("doc_later", |call| {
///     std::thread::spawn(move || {
///         let n = call.args().unwrap()[0].as_i64().unwrap();
///         call.return_value(n * 10).unwrap();
///     });
/// })
/// .unwrap();
/// ctx.exec("import pyctx").unwrap();
/// assert_eq!(ctx.eval("pyctx.call('doc_later', 4)").unwrap(), pyctx::Value::Int(40));
/// # pyctx::host::unregister("doc_later").unwrap();
/// ```
pub fn register_deferred<F>(name: &str, f: F) -> Result<()>
where
    F: Fn(HostCall) + Send + Sync + 'static,
{
    let entry = Box::into_raw(Box::new(Entry { handler: Box::new(f) }));
    let result = with_cstr("host function name", name, |name| {
        // SAFETY: the library keeps `entry` and hands it to `free_entry`
        // exactly once (unregister, replace, shutdown).
        unsafe {
            Error::check(ffi::pyctx_host_register(name, Some(trampoline), entry.cast(), Some(free_entry)))
        }
    });
    if result.is_err() {
        // Not registered: the library did not keep it.
        // SAFETY: from `Box::into_raw` above, not shared.
        drop(unsafe { Box::from_raw(entry) });
    }
    result
}

/// Unregisters `name` ([`ErrorKind::NotFound`](crate::ErrorKind::NotFound)
/// if unknown). Calls in flight finish; new calls raise `LookupError`. The
/// closure is dropped once no call uses it any more.
pub fn unregister(name: &str) -> Result<()> {
    with_cstr("host function name", name, |name| {
        // SAFETY: a NUL-terminated name.
        unsafe { Error::check(ffi::pyctx_host_unregister(name)) }
    })
}

unsafe extern "C" fn trampoline(user_data: *mut c_void, call: *mut ffi::pyctx_host_call_t) {
    let Some(raw) = NonNull::new(call) else { return };
    // SAFETY: the library owns `entry` until `free_entry`, which it never
    // runs while a call to it is being dispatched.
    let entry = unsafe { &*(user_data as *const Entry) };
    let call = HostCall { raw: Some(raw) };
    // A panic drops `call` while unwinding, which answers Python (see Drop).
    let _ = catch_unwind(AssertUnwindSafe(|| (entry.handler)(call)));
}

unsafe extern "C" fn free_entry(user_data: *mut c_void) {
    // A panicking closure destructor must not unwind into C.
    let _ = catch_unwind(|| {
        // SAFETY: the pointer from `Box::into_raw`, released exactly once.
        drop(unsafe { Box::from_raw(user_data as *mut Entry) });
    });
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// One call of a host function by Python, to be answered exactly once with
/// [`respond`](HostCall::respond), [`return_value`](HostCall::return_value)
/// or [`fail`](HostCall::fail) — from any thread. Dropping it unanswered
/// answers Python with a `HostError`.
pub struct HostCall {
    /// `None` once answered.
    raw: Option<NonNull<ffi::pyctx_host_call_t>>,
}

// SAFETY: the header allows answering a call from any thread; reading its
// borrowed args/names is valid until it is answered, which takes `self`.
unsafe impl Send for HostCall {}

impl HostCall {
    fn raw(&self) -> *const ffi::pyctx_host_call_t {
        self.raw.expect("HostCall used after answering").as_ptr()
    }

    /// The positional arguments.
    pub fn args(&self) -> Result<Vec<Value>> {
        let mut len = 0usize;
        // SAFETY: the call is live and unanswered; the buffer is borrowed from it.
        let data = unsafe { ffi::pyctx_host_call_args(self.raw(), &mut len) };
        if data.is_null() || len == 0 {
            return Ok(Vec::new());
        }
        match cbor::decode(unsafe { std::slice::from_raw_parts(data, len) })? {
            Value::List(items) => Ok(items),
            other => {
                Err(Error::decode(format!("host call arguments are a {}, not an array", other.type_name())))
            }
        }
    }

    /// The host function's name.
    pub fn name(&self) -> &str {
        // SAFETY: borrowed from the live call, which `&self` keeps unanswered.
        unsafe { CStr::from_ptr(ffi::pyctx_host_call_name(self.raw())) }.to_str().unwrap_or("")
    }

    /// The name of the context whose Python made the call.
    pub fn context_name(&self) -> &str {
        // SAFETY: as for `name`.
        unsafe { CStr::from_ptr(ffi::pyctx_host_call_context_name(self.raw())) }.to_str().unwrap_or("")
    }

    /// Answers: `Ok` returns the value to Python, `Err` raises
    /// `pyctx.HostError(message)`. Fails with `Closed` when the calling
    /// context closed meanwhile (the call is released all the same).
    pub fn respond(self, answer: std::result::Result<Value, String>) -> Result<()> {
        match answer {
            Ok(value) => self.return_value(value),
            Err(message) => self.fail(&message),
        }
    }

    /// Returns `value` to Python.
    pub fn return_value(mut self, value: impl Into<Value>) -> Result<()> {
        let raw = self.raw.take().expect("unanswered");
        let bytes = cbor::encode(&value.into());
        // SAFETY: consumes the call whatever it returns.
        unsafe { Error::check(ffi::pyctx_host_call_return(raw.as_ptr(), bytes.as_ptr(), bytes.len())) }
    }

    /// Raises `pyctx.HostError(message)` in Python.
    pub fn fail(mut self, message: &str) -> Result<()> {
        let raw = self.raw.take().expect("unanswered");
        let message = lossless_cstring(message);
        // SAFETY: consumes the call whatever it returns.
        unsafe { Error::check(ffi::pyctx_host_call_fail(raw.as_ptr(), message.as_ptr())) }
    }
}

impl Drop for HostCall {
    fn drop(&mut self) {
        if self.raw.is_none() {
            return;
        }
        let why = if std::thread::panicking() { "panicked" } else { "dropped the call without answering" };
        let message = format!("host function {:?} {why}", self.name());
        let raw = self.raw.take().expect("checked");
        let message = lossless_cstring(&message);
        // SAFETY: consumes the call; errors (closed context) need no action.
        unsafe { ffi::pyctx_error_free(ffi::pyctx_host_call_fail(raw.as_ptr(), message.as_ptr())) };
    }
}

impl std::fmt::Debug for HostCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.raw {
            Some(_) => f.debug_struct("HostCall").field("name", &self.name()).finish(),
            None => f.write_str("HostCall(answered)"),
        }
    }
}
