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
//!
//! With the `log` feature, [`forward_to_log`] sends the records to the
//! [`log`](::log) facade instead, i.e. to whatever logger the program
//! installed (env_logger, tracing's log bridge, ...).

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

/// Routes Python records at or above `min_level` to the [`log`](::log)
/// facade (replacing any earlier handler, [`set_handler`]'s included): the
/// same log thread, bounded queue of `capacity` records and drop counting
/// ([`stats`]) as [`set_handler`]. Each record reaches [`::log::logger()`]
/// unless its level is above [`::log::max_level()`] (as the `log` macros
/// filter):
///
/// - level: CRITICAL and ERROR (40 and up) `Error`, WARNING (30-39) `Warn`,
///   INFO (20-29) `Info`, DEBUG (10-19) `Debug`, lower `Trace`
///   ([`facade_level`]);
/// - target: the Python logger's name as it is (`"root"`, `"app.db"`), so
///   filters such as `RUST_LOG=app.db=debug` apply to it;
/// - message: `record.getMessage()`, then ` [context NAME]` when the record
///   came from a context's thread, then a newline and the formatted
///   exception when there is one. (log 0.4's key-value API is still
///   unstable, `kv_unstable`, so neither travels as a key-value.)
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// pyctx::log::forward_to_log(pyctx::log::INFO, 1000).unwrap();
/// ```
#[cfg(feature = "log")]
pub fn forward_to_log(min_level: i32, capacity: usize) -> Result<()> {
    set_handler(min_level, capacity, |r| {
        let level = facade_level(r.level);
        if level > ::log::max_level() {
            return;
        }
        let context = if r.context.is_empty() { String::new() } else { format!(" [context {}]", r.context) };
        let exception = if r.exception.is_empty() { String::new() } else { format!("\n{}", r.exception) };
        ::log::logger().log(
            &::log::Record::builder()
                .level(level)
                .target(&r.logger)
                .args(format_args!("{}{context}{exception}", r.message))
                .build(),
        );
    })
}

/// The `log` level of a Python level number (see [`forward_to_log`]).
#[cfg(feature = "log")]
pub fn facade_level(level: i32) -> ::log::Level {
    match level {
        l if l >= ERROR => ::log::Level::Error,
        l if l >= WARNING => ::log::Level::Warn,
        l if l >= INFO => ::log::Level::Info,
        l if l >= DEBUG => ::log::Level::Debug,
        _ => ::log::Level::Trace,
    }
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
