//! Python `logging` forwarded to Rust: records at or above a level reach a
//! closure on the library's log thread (no GIL held). Python never waits:
//! when `capacity` records are queued the next ones are dropped and counted
//! ([`stats`]).
//!
//! ```
//! # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
//! # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
//! let (tx, rx) = std::sync::mpsc::channel();
//! let tx = std::sync::Mutex::new(tx);
//! pyctx::log::set_handler(pyctx::log::INFO, 100, move |r| {
//!     let _ = tx.lock().unwrap().send(r.message.clone());
//! })
//! .unwrap();
//! ctx.exec("import logging\nlogging.getLogger('doc').warning('careful %d', 1)").unwrap();
//! pyctx::log::flush(std::time::Duration::from_secs(10)).unwrap();
//! assert_eq!(rx.try_recv().unwrap(), "careful 1");
//! pyctx::log::clear_handler().unwrap();
//! ```

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ffi;

pub const DEBUG: i32 = 10;
pub const INFO: i32 = 20;
pub const WARNING: i32 = 30;
pub const ERROR: i32 = 40;
pub const CRITICAL: i32 = 50;

/// One logging record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The level number (DEBUG 10 ... CRITICAL 50).
    pub level: i32,
    pub logger: String,
    pub message: String,
    /// Formatted exception and stack, or "".
    pub exception: String,
    /// The context's name ("" for other Python threads).
    pub context: String,
    /// Seconds since the epoch.
    pub created: f64,
}

/// Delivery counters since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub delivered: u64,
    pub dropped: u64,
}

type Handler = dyn Fn(&Record) + Send + Sync + 'static;

struct Entry {
    handler: Box<Handler>,
}

/// Routes records at or above `min_level` to `f` (replacing an earlier
/// handler). A panic in `f` is caught and the record counts as delivered.
pub fn set_handler<F>(min_level: i32, capacity: usize, f: F) -> Result<()>
where
    F: Fn(&Record) + Send + Sync + 'static,
{
    let entry: *mut c_void = Box::into_raw(Box::new(Entry { handler: Box::new(f) })).cast();
    // SAFETY: the library hands `entry` to `free_entry` exactly once.
    let result = unsafe {
        Error::check(ffi::pyctx_log_set_handler(
            Some(trampoline),
            entry,
            Some(free_entry),
            min_level,
            capacity,
        ))
    };
    if result.is_err() {
        // SAFETY: not installed, so still ours.
        unsafe { free_entry(entry) };
    }
    result
}

/// Removes the handler (queued records are dropped and counted).
pub fn clear_handler() -> Result<()> {
    // SAFETY: no user data with a NULL function.
    unsafe { Error::check(ffi::pyctx_log_set_handler(None, std::ptr::null_mut(), None, 0, 0)) }
}

/// Waits until every queued record has been handled.
pub fn flush(timeout: Duration) -> Result<()> {
    let ms = timeout.as_millis().min(u32::MAX as u128) as u32;
    // SAFETY: no pointers.
    unsafe { Error::check(ffi::pyctx_log_flush(ms)) }
}

/// The delivery counters.
pub fn stats() -> Stats {
    let mut s = ffi::pyctx_log_stats_t::default();
    // SAFETY: an out-parameter owned here.
    unsafe { ffi::pyctx_log_stats(&mut s) };
    Stats { delivered: s.delivered, dropped: s.dropped }
}

fn text(p: *const c_char) -> String {
    if p.is_null() { String::new() } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() }
}

unsafe extern "C" fn trampoline(user_data: *mut c_void, record: *const ffi::pyctx_log_record_t) {
    // SAFETY: the library keeps the entry alive while it calls it, and the
    // record for the call.
    let entry = unsafe { &*(user_data as *const Entry) };
    let r = unsafe { &*record };
    let rec = Record {
        level: r.level,
        logger: text(r.logger),
        message: text(r.message),
        exception: text(r.exception),
        context: text(r.context_name),
        created: r.created,
    };
    let _ = catch_unwind(AssertUnwindSafe(|| (entry.handler)(&rec)));
}

unsafe extern "C" fn free_entry(user_data: *mut c_void) {
    let _ = catch_unwind(|| {
        // SAFETY: from `Box::into_raw`, released exactly once.
        drop(unsafe { Box::from_raw(user_data as *mut Entry) });
    });
}
