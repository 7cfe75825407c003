//! `Context`: one Python execution lane with its own OS thread.

use std::fmt;
use std::ptr::{self, NonNull};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::args::{IntoArgs, with_encoded};
use crate::buffer::BufferStats;
use crate::cstr::to_cstring;
use crate::env::Env;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::pending::PendingRequest;
use crate::request::{Call, CallTarget, Eval, Exec, call_sync};
use crate::runtime::Runtime;
use crate::sandbox::Sandbox;
use crate::timeout;
use crate::value::Value;

/// How a context runs Python.
///
/// `#[non_exhaustive]`: new modes may come with the C API's, so a `match`
/// outside this crate needs a `_` arm:
///
/// ```compile_fail,E0004
/// fn name(mode: pyctx::Mode) -> &'static str {
///     match mode {
///         pyctx::Mode::Worker => "w",
///         pyctx::Mode::OwnGil => "o",
///         pyctx::Mode::Process => "p",
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Mode {
    /// On the main interpreter, sharing the GIL with other worker contexts.
    /// Workers share modules and `sys`, each has its own default namespace.
    #[default]
    Worker,
    /// A PEP 684 subinterpreter with its own GIL (Python 3.12+): runs in
    /// parallel with every other context, fully isolated.
    OwnGil,
    /// The main interpreter of a child process the library starts (its
    /// `pyctx-process-helper`, found next to `libpyctx`): every extension
    /// module imports, contexts run in parallel, and a crash of the child
    /// fails that context's requests with [`ErrorKind::Crashed`] instead of
    /// ending the host. [`ContextStats::thread_id`] is the child's pid.
    Process,
}

impl Mode {
    /// `"worker"`, `"owngil"` or `"process"` (the C API's mode names).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Worker => "worker",
            Mode::OwnGil => "owngil",
            Mode::Process => "process",
        }
    }

    fn to_raw(self) -> ffi::pyctx_mode {
        match self {
            Mode::Worker => ffi::PYCTX_MODE_WORKER,
            Mode::OwnGil => ffi::PYCTX_MODE_OWNGIL,
            Mode::Process => ffi::PYCTX_MODE_PROCESS,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = Error;

    /// ```
    /// assert_eq!("owngil".parse::<pyctx::Mode>().unwrap(), pyctx::Mode::OwnGil);
    /// assert_eq!("process".parse::<pyctx::Mode>().unwrap(), pyctx::Mode::Process);
    /// assert!("threads".parse::<pyctx::Mode>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Mode> {
        match s {
            "worker" => Ok(Mode::Worker),
            "owngil" => Ok(Mode::OwnGil),
            "process" => Ok(Mode::Process),
            other => Err(Error::invalid_argument(format!(
                "unknown context mode {other:?} (expected \"worker\", \"owngil\" or \"process\")"
            ))),
        }
    }
}

/// Options for a new [`Context`]: a builder.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    mode: Mode,
    name: Option<String>,
    preload: Option<String>,
    queue_capacity: usize,
    sandbox: Option<Sandbox>,
    memory_limit: usize,
    process_helper: Option<String>,
    restart: Option<(u32, Duration)>,
    process_output: ProcessOutput,
}

/// Where a [`Mode::Process`] context's child writes its stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProcessOutput {
    /// Both to the host's stderr (the default).
    #[default]
    Stderr,
    /// Each line becomes a record for the log handler
    /// ([`crate::log::set_handler`]): logger `pyctx.process.stdout` at INFO or
    /// `pyctx.process.stderr` at WARNING, with the context's name. A line no
    /// handler takes still goes to the host's stderr.
    Log,
}

impl ContextOptions {
    pub fn new() -> ContextOptions {
        ContextOptions::default()
    }

    /// Default [`Mode::Worker`].
    pub fn mode(mut self, mode: Mode) -> ContextOptions {
        self.mode = mode;
        self
    }

    /// A name for logs and the OS thread. Default `"pyctx-<n>"`.
    pub fn name(mut self, name: impl Into<String>) -> ContextOptions {
        self.name = Some(name.into());
        self
    }

    /// Python code run once in the default namespace before any request. If
    /// it raises, creating the context fails with that Python error.
    pub fn preload(mut self, code: impl Into<String>) -> ContextOptions {
        self.preload = Some(code.into());
        self
    }

    /// Bound on queued requests (0, the default: unbounded). Submitting to a
    /// full queue fails with [`ErrorKind::QueueFull`].
    pub fn queue_capacity(mut self, capacity: usize) -> ContextOptions {
        self.queue_capacity = capacity;
        self
    }

    /// Runs the context under `policy` (see [`Sandbox`]). The policy applies
    /// after the preload, to the context's thread and threads started from it.
    pub fn sandbox(mut self, policy: Sandbox) -> ContextOptions {
        self.sandbox = Some(policy);
        self
    }

    /// Caps the memory the context's Python allocates, in bytes (0, the
    /// default: no cap). Over the cap an allocation raises `MemoryError` in
    /// that context only. [`Mode::OwnGil`] and [`Mode::Process`] contexts
    /// can be capped (a process context's cap is its child's address space,
    /// `RLIMIT_AS`: size it above what extensions reserve at import; a child
    /// killed over it fails its requests as [`ErrorKind::Crashed`] naming
    /// the cap); creating a worker context with a cap fails with
    /// [`ErrorKind::Unsupported`]; below 16 MiB is
    /// [`ErrorKind::InvalidArgument`].
    pub fn memory_limit(mut self, bytes: usize) -> ContextOptions {
        self.memory_limit = bytes;
        self
    }

    /// [`Mode::Process`] only: the helper executable to start, overriding
    /// the default search (next to libpyctx, then `../libexec/pyctx`, then
    /// the path compiled in at install time). A path that is not an
    /// executable file makes creating the context fail with
    /// [`ErrorKind::NotFound`].
    pub fn process_helper(mut self, path: impl Into<String>) -> ContextOptions {
        self.process_helper = Some(path.into());
        self
    }

    /// [`Mode::Process`] only: what a crash of the child does. By default
    /// (`max_restarts` 0) the context closes; otherwise a new child is started
    /// (the preload runs again) up to `max_restarts` times within any `window`
    /// ([`Duration::ZERO`]: over the context's whole life). Requests running in
    /// the dead child fail as [`ErrorKind::Crashed`], queued ones wait for the
    /// new child, and envs made before the crash fail as
    /// [`ErrorKind::Closed`]. Beyond the budget the context closes.
    pub fn restart(mut self, max_restarts: u32, window: Duration) -> ContextOptions {
        self.restart = Some((max_restarts, window));
        self
    }

    /// [`Mode::Process`] only: where the child's output goes (see
    /// [`ProcessOutput`]).
    pub fn process_output(mut self, output: ProcessOutput) -> ContextOptions {
        self.process_output = output;
        self
    }

    pub(crate) fn to_raw(&self) -> Result<RawContextOptions> {
        // SAFETY: a fresh options object; NULL means out of memory.
        let raw = RawContextOptions(unsafe { ffi::pyctx_context_options_new() });
        if raw.0.is_null() {
            return Err(Error::new(ErrorKind::NoMemory, "context options"));
        }
        // SAFETY (all below): `raw.0` is live, strings are NUL-terminated.
        unsafe { Error::check(ffi::pyctx_context_options_set_mode(raw.0, self.mode.to_raw()))? };
        if let Some(name) = &self.name {
            let name = to_cstring("context name", name)?;
            unsafe { Error::check(ffi::pyctx_context_options_set_name(raw.0, name.as_ptr()))? };
        }
        if let Some(code) = &self.preload {
            let code = to_cstring("preload code", code)?;
            unsafe { Error::check(ffi::pyctx_context_options_set_preload(raw.0, code.as_ptr()))? };
        }
        unsafe { Error::check(ffi::pyctx_context_options_set_queue_capacity(raw.0, self.queue_capacity))? };
        if let Some(policy) = &self.sandbox {
            policy.apply(raw.0)?;
        }
        unsafe { Error::check(ffi::pyctx_context_options_set_memory_limit(raw.0, self.memory_limit))? };
        if let Some(path) = &self.process_helper {
            let path = to_cstring("process helper path", path)?;
            unsafe { Error::check(ffi::pyctx_context_options_set_process_helper(raw.0, path.as_ptr()))? };
        }
        if let Some((max_restarts, window)) = self.restart {
            let window_ms = u32::try_from(window.as_millis())
                .map_err(|_| Error::new(ErrorKind::InvalidArgument, "restart window over u32::MAX ms"))?;
            unsafe { Error::check(ffi::pyctx_context_options_set_restart(raw.0, max_restarts, window_ms))? };
        }
        if self.process_output != ProcessOutput::Stderr {
            let output = match self.process_output {
                ProcessOutput::Stderr => ffi::PYCTX_PROCESS_OUTPUT_STDERR,
                ProcessOutput::Log => ffi::PYCTX_PROCESS_OUTPUT_LOG,
            };
            unsafe { Error::check(ffi::pyctx_context_options_set_process_output(raw.0, output))? };
        }
        Ok(raw)
    }
}

pub(crate) struct RawContextOptions(pub(crate) *mut ffi::pyctx_context_options_t);

impl Drop for RawContextOptions {
    fn drop(&mut self) {
        // SAFETY: owned by us; free accepts NULL.
        unsafe { ffi::pyctx_context_options_free(self.0) };
    }
}

/// See [`Context::process_info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    /// The child's pid (0 once it is gone, or for other modes).
    pub pid: u64,
    /// Children started after a crash, over the context's life.
    pub restarts: u32,
}

/// Counters of one context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContextStats {
    /// Requests completed with a value.
    pub completed: u64,
    /// Completed with a Python, encode or decode error.
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    /// Completed as closed.
    pub closed: u64,
    /// Requests queued now, not yet running.
    pub queue_depth: u64,
    /// Native id of the context's thread (`threading.get_native_id()` there);
    /// for a [`Mode::Process`] context the child's pid (`os.getpid()` there).
    pub thread_id: u64,
    /// Bytes of live Python allocations (counted only with a memory limit).
    pub memory_used: u64,
    /// The memory limit (0: none).
    pub memory_limit: u64,
    /// [`Object`](crate::Object) handles made and not yet released.
    pub live_objects: u64,
}

/// The owned C handle. Freed when the last `Context` clone, `Env` and
/// pending request using it are gone, so no C call ever sees a freed handle.
pub(crate) struct Handle {
    raw: NonNull<ffi::pyctx_context_t>,
}

// SAFETY: the C API allows every operation on a context from any thread,
// concurrently, except freeing it, which only `Drop` does (with exclusive
// access by construction).
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: last user of the handle; an open context closes without waiting.
        unsafe { ffi::pyctx_context_free(self.raw.as_ptr()) };
    }
}

/// A Python execution lane: one OS thread running either the main
/// interpreter ([`Mode::Worker`]) or its own subinterpreter
/// ([`Mode::OwnGil`]), or a child process running Python for it
/// ([`Mode::Process`]). Cheap to clone (clones share the context), `Send`
/// and `Sync`: any number of threads may send it requests at once; they run
/// one after another on the context's thread.
///
/// The context closes when the last clone (and every [`Env`] and
/// [`PendingRequest`] of it) is dropped, or explicitly with
/// [`Context::close`].
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// use pyctx::{ContextOptions, Mode, Value};
/// let ctx = rt.context(&ContextOptions::new().mode(Mode::OwnGil)).unwrap();
/// ctx.exec("def greet(name): return f'hello {name}'").unwrap();
/// assert_eq!(ctx.call("__main__", "greet", ("rust",)).unwrap(), Value::from("hello rust"));
/// let n: i64 = ctx.eval("sum(range(10))").unwrap().try_into().unwrap();
/// assert_eq!(n, 45);
/// ```
#[derive(Clone)]
pub struct Context {
    pub(crate) handle: Arc<Handle>,
}

impl Context {
    /// Creates a context, starts its thread and waits until its interpreter
    /// is ready (and the preload has run).
    pub fn new(_runtime: &Runtime, options: &ContextOptions) -> Result<Context> {
        let raw_options = options.to_raw()?;
        let mut raw = ptr::null_mut();
        // SAFETY: options live for the call; `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_context_create(raw_options.0, &mut raw))? };
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "context_create gave no context"))?;
        Ok(Context { handle: Arc::new(Handle { raw }) })
    }

    /// Owns a context handle the library made (for a pool member's handle,
    /// freeing it does not close the member).
    pub(crate) fn from_raw(raw: NonNull<ffi::pyctx_context_t>) -> Context {
        Context { handle: Arc::new(Handle { raw }) }
    }

    /// The C handle, for calling the raw [`ffi`] functions. Valid while this
    /// `Context` (or a clone) lives.
    pub fn as_raw(&self) -> *mut ffi::pyctx_context_t {
        self.handle.raw.as_ptr()
    }

    pub fn mode(&self) -> Mode {
        // SAFETY: live handle.
        match unsafe { ffi::pyctx_context_mode(self.as_raw()) } {
            ffi::PYCTX_MODE_OWNGIL => Mode::OwnGil,
            ffi::PYCTX_MODE_PROCESS => Mode::Process,
            _ => Mode::Worker,
        }
    }

    /// The context's name (also its OS thread's name).
    pub fn name(&self) -> String {
        // SAFETY: live handle; the string lives as long as the handle.
        unsafe { crate::error::owned_string(ffi::pyctx_context_name(self.as_raw())) }
    }

    /// True once the context is closed or closing.
    pub fn is_closed(&self) -> bool {
        // SAFETY: live handle.
        unsafe { ffi::pyctx_context_is_closed(self.as_raw()) != 0 }
    }

    /// A process context's current child and how many times a child was
    /// restarted after a crash; `pid` is 0 once the child is gone, and for
    /// the other modes.
    pub fn process_info(&self) -> Result<ProcessInfo> {
        let (mut pid, mut restarts) = (0u64, 0u32);
        // SAFETY: live handle; both out pointers are valid.
        unsafe { Error::check(ffi::pyctx_context_process_info(self.as_raw(), &mut pid, &mut restarts))? };
        Ok(ProcessInfo { pid, restarts })
    }

    pub fn stats(&self) -> Result<ContextStats> {
        let mut s = ffi::pyctx_context_stats_t::default();
        // SAFETY: live handle; we pass the size of the struct we know.
        unsafe {
            Error::check(ffi::pyctx_context_stats(
                self.as_raw(),
                &mut s,
                std::mem::size_of::<ffi::pyctx_context_stats_t>(),
            ))?
        };
        Ok(ContextStats {
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            timed_out: s.timed_out,
            closed: s.closed,
            queue_depth: s.queue_depth,
            thread_id: s.thread_id,
            memory_used: s.memory_used,
            memory_limit: s.memory_limit,
            live_objects: s.live_objects,
        })
    }

    /// The context's buffer counters (also valid once closed: lent views
    /// may outlive a worker context).
    pub fn buffer_stats(&self) -> Result<BufferStats> {
        let mut s = ffi::pyctx_buffer_stats_t::default();
        // SAFETY: live handle; we pass the size of the struct we know.
        unsafe {
            Error::check(ffi::pyctx_context_buffer_stats(
                self.as_raw(),
                &mut s,
                std::mem::size_of::<ffi::pyctx_buffer_stats_t>(),
            ))?
        };
        Ok(BufferStats { lent_views: s.lent_views, lent_total: s.lent_total, held_views: s.held_views })
    }

    /// Stops the context: queued requests complete as closed, a running one
    /// is interrupted; waits up to `timeout` for the thread to end. Later
    /// requests fail with [`ErrorKind::Closed`]. Idempotent.
    /// [`ErrorKind::Stuck`] means Python did not return in time (its thread
    /// is left running; every request has completed).
    pub fn close(&self, timeout: Duration) -> Result<()> {
        // SAFETY: live handle.
        unsafe { Error::check(ffi::pyctx_context_close(self.as_raw(), timeout::to_ms(Some(timeout)))) }
    }

    /// A new, empty namespace in this context (see [`Env`]).
    pub fn env(&self) -> Result<Env> {
        Env::new(self)
    }

    /// `module.function(*args)`, waiting for the result. `module` is
    /// imported once and cached; `function` may be dotted (`"Path.home"`);
    /// `"__main__"` is the context's default namespace. A function that
    /// returns a coroutine (`async def`) runs as a task on the context's
    /// event loop and its result is returned.
    pub fn call(&self, module: &str, function: &str, args: impl IntoArgs) -> Result<Value> {
        with_encoded(args, |args| call_sync(CallTarget::Context(self), module, function, args, None, ffi::PYCTX_NO_TIMEOUT))
    }

    /// Like [`call`](Context::call), without waiting: the returned future
    /// yields the result; dropping it cancels the request.
    pub fn call_async(&self, module: &str, function: &str, args: impl IntoArgs) -> PendingRequest {
        self.call_with(module, function).args(args).run_async()
    }

    /// A call with keyword arguments, a timeout, ...: see [`Call`].
    pub fn call_with<'a>(&'a self, module: &'a str, function: &'a str) -> Call<'a> {
        Call::new(self, module, function)
    }

    /// Evaluates an expression in the default namespace.
    pub fn eval(&self, expression: &str) -> Result<Value> {
        self.eval_with(expression).run()
    }

    pub fn eval_async(&self, expression: &str) -> PendingRequest {
        self.eval_with(expression).run_async()
    }

    /// An eval with locals, an env, a timeout: see [`Eval`].
    pub fn eval_with<'a>(&'a self, expression: &'a str) -> Eval<'a> {
        Eval::new(self, expression)
    }

    /// Executes statements in the default namespace; the value is always
    /// `Value::None`.
    pub fn exec(&self, code: &str) -> Result<Value> {
        self.exec_with(code).run()
    }

    pub fn exec_async(&self, code: &str) -> PendingRequest {
        self.exec_with(code).run_async()
    }

    /// An exec with an env or a timeout: see [`Exec`].
    pub fn exec_with<'a>(&'a self, code: &'a str) -> Exec<'a> {
        Exec::new(self, code)
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("name", &self.name())
            .field("mode", &self.mode())
            .field("closed", &self.is_closed())
            .finish()
    }
}
