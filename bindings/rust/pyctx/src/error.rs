//! `Error`: every failure of the library or of Python, as one Rust type.

use std::ffi::{CStr, c_char};
use std::fmt;

use crate::ffi;

/// What kind of failure an [`Error`] is. Mirrors the C `pyctx_status`, plus
/// [`ErrorKind::Conversion`] for Rust-side type conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A bad argument: NUL inside a string, an unknown mode name, an env of
    /// another context, ...
    InvalidArgument,
    /// The runtime is not running (not initialized yet, or shut down).
    NotRunning,
    /// `Runtime::init` was called when the runtime had already started.
    AlreadyInitialized,
    /// Not supported by this Python (e.g. owngil before 3.12).
    Unsupported,
    /// The context is closed or closing.
    Closed,
    /// The context's queue bound is reached.
    QueueFull,
    /// The request was cancelled.
    Cancelled,
    /// The request's deadline passed.
    Timeout,
    /// Python raised: see [`Error::python_type`] and [`Error::traceback`].
    Python,
    /// CBOR could not be decoded (by the library or by this crate).
    Decode,
    /// A Python result cannot be represented as a value.
    Encode,
    /// Unknown request id, env, host function name, ...
    NotFound,
    /// Out of memory.
    NoMemory,
    /// Closing timed out: Python did not return; its thread stays pinned.
    Stuck,
    /// A bug in the library.
    Internal,
    /// A [`Mode::Process`](crate::Mode::Process) context's child process
    /// died (segfault, abort, `os._exit`, killed) with the request queued or
    /// running; the message names the pid and the signal or exit code.
    Crashed,
    /// A [`Value`](crate::Value) did not have the Rust type asked for.
    Conversion,
    /// A status this crate does not know (a newer library).
    Unknown(u32),
}

impl ErrorKind {
    pub(crate) fn from_status(status: ffi::pyctx_status) -> ErrorKind {
        match status {
            ffi::PYCTX_ERR_INVALID_ARGUMENT => ErrorKind::InvalidArgument,
            ffi::PYCTX_ERR_NOT_RUNNING => ErrorKind::NotRunning,
            ffi::PYCTX_ERR_ALREADY_INITIALIZED => ErrorKind::AlreadyInitialized,
            ffi::PYCTX_ERR_UNSUPPORTED => ErrorKind::Unsupported,
            ffi::PYCTX_ERR_CLOSED => ErrorKind::Closed,
            ffi::PYCTX_ERR_QUEUE_FULL => ErrorKind::QueueFull,
            ffi::PYCTX_ERR_CANCELLED => ErrorKind::Cancelled,
            ffi::PYCTX_ERR_TIMEOUT => ErrorKind::Timeout,
            ffi::PYCTX_ERR_PYTHON => ErrorKind::Python,
            ffi::PYCTX_ERR_DECODE => ErrorKind::Decode,
            ffi::PYCTX_ERR_ENCODE => ErrorKind::Encode,
            ffi::PYCTX_ERR_NOT_FOUND => ErrorKind::NotFound,
            ffi::PYCTX_ERR_NO_MEMORY => ErrorKind::NoMemory,
            ffi::PYCTX_ERR_STUCK => ErrorKind::Stuck,
            ffi::PYCTX_ERR_INTERNAL => ErrorKind::Internal,
            ffi::PYCTX_ERR_CRASHED => ErrorKind::Crashed,
            other => ErrorKind::Unknown(other),
        }
    }

    /// A short stable name, e.g. `"timeout"` (the C `pyctx_status_name`
    /// names for library statuses).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::NotRunning => "not running",
            ErrorKind::AlreadyInitialized => "already initialized",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Closed => "closed",
            ErrorKind::QueueFull => "queue full",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Python => "python error",
            ErrorKind::Decode => "decode error",
            ErrorKind::Encode => "encode error",
            ErrorKind::NotFound => "not found",
            ErrorKind::NoMemory => "out of memory",
            ErrorKind::Stuck => "stuck",
            ErrorKind::Internal => "internal error",
            ErrorKind::Crashed => "crashed",
            ErrorKind::Conversion => "conversion error",
            ErrorKind::Unknown(_) => "unknown status",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Unknown(status) => write!(f, "unknown status {status}"),
            other => f.write_str(other.name()),
        }
    }
}

/// A failure: its [`ErrorKind`], a message, and for Python exceptions the
/// exception's type name and formatted traceback.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// let err = ctx.eval("1 / 0").unwrap_err();
/// assert_eq!(err.kind(), pyctx::ErrorKind::Python);
/// assert_eq!(err.python_type(), Some("ZeroDivisionError"));
/// assert_eq!(err.message(), "division by zero");
/// assert!(err.traceback().unwrap().contains("ZeroDivisionError"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    python_type: String,
    traceback: String,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error made on the Rust side.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), python_type: String::new(), traceback: String::new() }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn conversion(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conversion, message)
    }

    pub(crate) fn decode(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Decode, message)
    }

    /// Copies a library error object out (it stays owned by the caller).
    ///
    /// # Safety
    /// `raw` must point to a live `pyctx_error_t`.
    pub(crate) unsafe fn from_borrowed(raw: *const ffi::pyctx_error_t) -> Error {
        // SAFETY: the caller guarantees `raw` is live; every accessor returns
        // a NUL-terminated string that lives as long as the error.
        unsafe {
            Error {
                kind: ErrorKind::from_status(ffi::pyctx_error_status(raw)),
                message: owned_string(ffi::pyctx_error_message(raw)),
                python_type: owned_string(ffi::pyctx_error_python_type(raw)),
                traceback: owned_string(ffi::pyctx_error_traceback(raw)),
            }
        }
    }

    /// Turns a C return value into a `Result`, freeing the error object.
    ///
    /// # Safety
    /// `raw` must be NULL or an owned error object; it is consumed.
    pub(crate) unsafe fn check(raw: *mut ffi::pyctx_error_t) -> Result<()> {
        if raw.is_null() {
            return Ok(());
        }
        // SAFETY: non-NULL and owned by us per the contract above.
        let error = unsafe { Error::from_borrowed(raw) };
        unsafe { ffi::pyctx_error_free(raw) };
        Err(error)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message; for Python exceptions `str(exception)`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For Python exceptions, the exception's qualified type name, e.g.
    /// `"ZeroDivisionError"`.
    pub fn python_type(&self) -> Option<&str> {
        non_empty(&self.python_type)
    }

    /// For Python exceptions, the formatted traceback as Python prints it.
    pub fn traceback(&self) -> Option<&str> {
        non_empty(&self.traceback)
    }

    /// `kind() == ErrorKind::Timeout`.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// `kind() == ErrorKind::Cancelled`.
    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled
    }

    /// `kind() == ErrorKind::Closed`.
    pub fn is_closed(&self) -> bool {
        self.kind == ErrorKind::Closed
    }

    /// `kind() == ErrorKind::Crashed`.
    pub fn is_crashed(&self) -> bool {
        self.kind == ErrorKind::Crashed
    }

    /// `kind() == ErrorKind::Python`.
    pub fn is_python(&self) -> bool {
        self.kind == ErrorKind::Python
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.python_type() {
            Some(ty) if self.message.is_empty() => write!(f, "{}: {ty}", self.kind),
            Some(ty) => write!(f, "{}: {ty}: {}", self.kind, self.message),
            None if self.message.is_empty() => write!(f, "{}", self.kind),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

impl std::error::Error for Error {}

fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() { None } else { Some(s) }
}

/// Copies a C string the library owns; NULL gives "".
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string live for the call.
pub(crate) unsafe fn owned_string(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: per the contract above.
    unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}
