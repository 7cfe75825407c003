//! `Runtime`: the one process-wide Python runtime.

use std::ffi::CStr;
use std::time::Duration;

use crate::context::{Context, ContextOptions};
use crate::cstr::to_cstring;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::timeout;

/// Which allocator Python's objects use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Allocator {
    /// Python's default (pymalloc).
    #[default]
    Default,
    /// The C library's malloc: an owngil context then returns almost all of
    /// its memory when it closes.
    Malloc,
    /// pymalloc, explicitly.
    Pymalloc,
}

/// The runtime's state. Transitions only go forward:
/// `Uninit -> Initing -> Running -> ShuttingDown -> Stopped`; `Stopped` is
/// final (Python cannot be initialized twice in one process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Uninit,
    Initing,
    Running,
    ShuttingDown,
    Stopped,
}

/// Options for [`Runtime::init`]: a builder.
///
/// ```
/// use pyctx::{Allocator, RuntimeOptions};
/// let options = RuntimeOptions::new().add_path("/opt/app/python").allocator(Allocator::Malloc);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    paths: Vec<String>,
    home: Option<String>,
    program_name: Option<String>,
    allocator: Allocator,
}

impl RuntimeOptions {
    pub fn new() -> RuntimeOptions {
        RuntimeOptions::default()
    }

    /// Prepends `path` to `sys.path` in every interpreter; repeat for more,
    /// the order is kept.
    pub fn add_path(mut self, path: impl Into<String>) -> RuntimeOptions {
        self.paths.push(path.into());
        self
    }

    /// The prefix of the Python installation to use (like `PYTHONHOME`).
    pub fn home(mut self, home: impl Into<String>) -> RuntimeOptions {
        self.home = Some(home.into());
        self
    }

    /// `sys.executable`-like program name (affects prefix discovery).
    pub fn program_name(mut self, name: impl Into<String>) -> RuntimeOptions {
        self.program_name = Some(name.into());
        self
    }

    pub fn allocator(mut self, allocator: Allocator) -> RuntimeOptions {
        self.allocator = allocator;
        self
    }

    /// Builds the C options object; the caller frees it.
    fn to_raw(&self) -> Result<RawRuntimeOptions> {
        // SAFETY: a fresh options object; NULL means out of memory.
        let raw = RawRuntimeOptions(unsafe { ffi::pyctx_runtime_options_new() });
        if raw.0.is_null() {
            return Err(Error::new(ErrorKind::NoMemory, "runtime options"));
        }
        for path in &self.paths {
            let path = to_cstring("sys.path entry", path)?;
            // SAFETY: `raw.0` is live and the string is NUL-terminated.
            unsafe { Error::check(ffi::pyctx_runtime_options_add_path(raw.0, path.as_ptr()))? };
        }
        if let Some(home) = &self.home {
            let home = to_cstring("home", home)?;
            unsafe { Error::check(ffi::pyctx_runtime_options_set_home(raw.0, home.as_ptr()))? };
        }
        if let Some(name) = &self.program_name {
            let name = to_cstring("program name", name)?;
            unsafe { Error::check(ffi::pyctx_runtime_options_set_program_name(raw.0, name.as_ptr()))? };
        }
        let allocator = match self.allocator {
            Allocator::Default => ffi::PYCTX_ALLOCATOR_DEFAULT,
            Allocator::Malloc => ffi::PYCTX_ALLOCATOR_MALLOC,
            Allocator::Pymalloc => ffi::PYCTX_ALLOCATOR_PYMALLOC,
        };
        unsafe { Error::check(ffi::pyctx_runtime_options_set_allocator(raw.0, allocator))? };
        Ok(raw)
    }
}

struct RawRuntimeOptions(*mut ffi::pyctx_runtime_options_t);

impl Drop for RawRuntimeOptions {
    fn drop(&mut self) {
        // SAFETY: owned by us; free accepts NULL.
        unsafe { ffi::pyctx_runtime_options_free(self.0) };
    }
}

/// A handle to the process-wide runtime, proof that it was initialized.
///
/// Python lives once per process: [`Runtime::init`] starts it (once),
/// [`Runtime::get_or_init`] is the idempotent form for code (and tests)
/// that may run in any order, and [`Runtime::shutdown`] ends it for good.
/// Dropping a `Runtime` does nothing; it is a cheap `Copy` token.
///
/// ```
/// use pyctx::{ContextOptions, Runtime, RuntimeOptions, Value};
/// let rt = Runtime::get_or_init(&RuntimeOptions::new()).unwrap();
/// let ctx = rt.context(&ContextOptions::new()).unwrap();
/// assert_eq!(ctx.call("math", "gcd", (12, 18)).unwrap(), Value::Int(6));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Runtime {
    _private: (),
}

impl Runtime {
    /// Initializes Python. Fails with [`ErrorKind::AlreadyInitialized`] when
    /// the runtime started before (also after a shutdown).
    pub fn init(options: &RuntimeOptions) -> Result<Runtime> {
        let raw = options.to_raw()?;
        // SAFETY: `raw.0` is a live options object, only read during init.
        unsafe { Error::check(ffi::pyctx_init(raw.0))? };
        Ok(Runtime { _private: () })
    }

    /// The running runtime, initializing it with `options` if nobody has.
    /// If it was initialized already, `options` are ignored. Fails with
    /// [`ErrorKind::NotRunning`] once it has been shut down.
    pub fn get_or_init(options: &RuntimeOptions) -> Result<Runtime> {
        match Runtime::init(options) {
            Err(e) if e.kind() == ErrorKind::AlreadyInitialized => Runtime::get(),
            other => other,
        }
    }

    /// The runtime if it is running.
    pub fn get() -> Result<Runtime> {
        match Runtime::state() {
            State::Running => Ok(Runtime { _private: () }),
            state => Err(Error::new(ErrorKind::NotRunning, format!("the runtime is {state:?}"))),
        }
    }

    /// The current state.
    pub fn state() -> State {
        // SAFETY: no arguments; any thread.
        match unsafe { ffi::pyctx_runtime_state() } {
            ffi::PYCTX_STATE_UNINIT => State::Uninit,
            ffi::PYCTX_STATE_INITING => State::Initing,
            ffi::PYCTX_STATE_RUNNING => State::Running,
            ffi::PYCTX_STATE_SHUTTING_DOWN => State::ShuttingDown,
            _ => State::Stopped,
        }
    }

    /// Closes every context (each gets `timeout` to finish its running
    /// request), completes every pending request as closed, waits for the
    /// completions, then finalizes Python. Final for this process.
    ///
    /// [`ErrorKind::Stuck`] means a context thread did not return from
    /// Python in time: the runtime is stopped all the same, but Python stays
    /// initialized.
    pub fn shutdown(self, timeout: Duration) -> Result<()> {
        // SAFETY: plain call; any thread.
        unsafe { Error::check(ffi::pyctx_shutdown(timeout::to_ms(Some(timeout)))) }
    }

    /// Creates a context (see [`Context::new`]).
    pub fn context(&self, options: &ContextOptions) -> Result<Context> {
        Context::new(self, options)
    }

    /// The Python version in use, e.g. `"3.13.0"`.
    pub fn python_version(&self) -> String {
        // SAFETY: a static string.
        unsafe { crate::error::owned_string(ffi::pyctx_python_version()) }
    }

    /// Whether this Python supports [`Mode::OwnGil`](crate::Mode::OwnGil).
    pub fn owngil_supported(&self) -> bool {
        // SAFETY: plain call.
        unsafe { ffi::pyctx_owngil_supported() != 0 }
    }
}

/// The loaded library's version as `(major, minor, patch)`.
pub fn library_version() -> (u32, u32, u32) {
    // SAFETY: plain call.
    let v = unsafe { ffi::pyctx_version() };
    (v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// The loaded library's version string, e.g. `"0.1.0"`.
pub fn library_version_string() -> &'static str {
    // SAFETY: a static NUL-terminated string.
    unsafe { CStr::from_ptr(ffi::pyctx_version_string()) }.to_str().unwrap_or("")
}
