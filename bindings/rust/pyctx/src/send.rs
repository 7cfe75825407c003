//! Messages from Python: `pyctx.send(target, value)` delivers without
//! waiting. A `str` target names an endpoint registered here (a
//! [`Receiver`], or a closure); any other target (a host term, a symbol, a
//! tuple) goes to the [router](set_router).
//!
//! ```
//! # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
//! # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
//! let inbox = pyctx::send::endpoint("doc_inbox").unwrap();
//! ctx.exec("import pyctx\nfor i in range(3): pyctx.send('doc_inbox', i)").unwrap();
//! let got: Vec<i64> = inbox.try_iter().map(|m| m.value.as_i64().unwrap()).collect();
//! assert_eq!(got, [0, 1, 2]);
//! ```

use std::ffi::{CStr, c_char, c_int, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

use crate::cbor;
use crate::cstr::with_cstr;
use crate::error::{Error, Result};
use crate::ffi;
use crate::value::Value;

/// One message sent by Python.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The sending context's name ("" for a Python thread of its own).
    pub context: String,
    /// The target as Python gave it (a `Value::Str` for a named endpoint).
    pub target: Value,
    pub value: Value,
}

type Handler = dyn Fn(Message) -> bool + Send + Sync + 'static;

struct Entry {
    handler: Box<Handler>,
}

/// Registers (or replaces) the endpoint `name`: `f` gets every message sent
/// to it, on the sending Python thread, and must not block; returning false
/// tells Python the target is gone (`pyctx.SendError`). A panic counts as
/// false.
pub fn register<F>(name: &str, f: F) -> Result<()>
where
    F: Fn(Message) -> bool + Send + Sync + 'static,
{
    let entry = into_entry(f);
    let result = with_cstr("endpoint name", name, |name| {
        // SAFETY: the library hands `entry` to `free_entry` exactly once.
        unsafe { Error::check(ffi::pyctx_endpoint_register(name, Some(trampoline), entry, Some(free_entry))) }
    });
    if result.is_err() {
        // SAFETY: not registered, so still ours.
        unsafe { free_entry(entry) };
    }
    result
}

/// Unregisters `name` (`NotFound` if unknown); later sends raise SendError.
pub fn unregister(name: &str) -> Result<()> {
    with_cstr("endpoint name", name, |name| {
        // SAFETY: a NUL-terminated name.
        unsafe { Error::check(ffi::pyctx_endpoint_unregister(name)) }
    })
}

/// Sets (or replaces) the router for targets that are not a `str`.
pub fn set_router<F>(f: F) -> Result<()>
where
    F: Fn(Message) -> bool + Send + Sync + 'static,
{
    let entry = into_entry(f);
    // SAFETY: as for `register`.
    let result =
        unsafe { Error::check(ffi::pyctx_send_set_router(Some(trampoline), entry, Some(free_entry))) };
    if result.is_err() {
        // SAFETY: not installed, so still ours.
        unsafe { free_entry(entry) };
    }
    result
}

/// Removes the router.
pub fn clear_router() -> Result<()> {
    // SAFETY: no user data with a NULL function.
    unsafe { Error::check(ffi::pyctx_send_set_router(None, std::ptr::null_mut(), None)) }
}

/// Registers the endpoint `name` delivering into a channel. The endpoint
/// lives as long as the receiver: dropping it unregisters `name`.
pub fn endpoint(name: &str) -> Result<Receiver> {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    register(name, move |m| tx.lock().map(|tx| tx.send(m).is_ok()).unwrap_or(false))?;
    Ok(Receiver { name: name.to_string(), rx })
}

/// The receiving end of an [`endpoint`].
#[derive(Debug)]
pub struct Receiver {
    name: String,
    rx: mpsc::Receiver<Message>,
}

impl Receiver {
    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Blocks until a message arrives.
    pub fn recv(&self) -> Option<Message> {
        self.rx.recv().ok()
    }
    /// A message if one is waiting.
    pub fn try_recv(&self) -> Option<Message> {
        self.rx.try_recv().ok()
    }
    /// Waits up to `timeout` for a message.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Message> {
        self.rx.recv_timeout(timeout).ok()
    }
    /// The messages waiting now.
    pub fn try_iter(&self) -> impl Iterator<Item = Message> + '_ {
        self.rx.try_iter()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = unregister(&self.name);
    }
}

fn into_entry<F>(f: F) -> *mut c_void
where
    F: Fn(Message) -> bool + Send + Sync + 'static,
{
    Box::into_raw(Box::new(Entry { handler: Box::new(f) })).cast()
}

unsafe extern "C" fn trampoline(
    user_data: *mut c_void,
    context_name: *const c_char,
    target: *const u8,
    target_len: usize,
    value: *const u8,
    value_len: usize,
) -> c_int {
    // SAFETY: the library keeps the entry alive while it delivers to it,
    // and the buffers for this call.
    let entry = unsafe { &*(user_data as *const Entry) };
    let delivered = catch_unwind(AssertUnwindSafe(|| {
        let context = unsafe { CStr::from_ptr(context_name) }.to_string_lossy().into_owned();
        let target = cbor::decode(unsafe { std::slice::from_raw_parts(target, target_len) });
        let value = cbor::decode(unsafe { std::slice::from_raw_parts(value, value_len) });
        match (target, value) {
            (Ok(target), Ok(value)) => (entry.handler)(Message { context, target, value }),
            _ => false,
        }
    }));
    if delivered.unwrap_or(false) { 0 } else { 1 }
}

unsafe extern "C" fn free_entry(user_data: *mut c_void) {
    let _ = catch_unwind(|| {
        // SAFETY: from `Box::into_raw`, released exactly once.
        drop(unsafe { Box::from_raw(user_data as *mut Entry) });
    });
}
