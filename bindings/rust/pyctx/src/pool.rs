//! `Pool`: N contexts of one mode behind one submit path (`pyctx_pool_t`).

use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Duration;

use crate::args::{IntoArgs, with_encoded};
use crate::context::{Context, ContextOptions};
use crate::cstr::to_cstring;
use crate::env::Env;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::pending::PendingRequest;
use crate::request::{Call, CallTarget, call_sync};
use crate::runtime::Runtime;
use crate::timeout;
use crate::value::Value;

/// How a pool chooses the member of a request without a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Routing {
    /// The member with the fewest queued requests, preferring one whose
    /// thread is awake among equals (the default).
    #[default]
    LeastQueued,
    /// Members in turn.
    RoundRobin,
    /// By key (requests without a key go least queued). A request with a
    /// key is routed by key whatever the routing.
    ByKey,
}

/// What a pool does with a member that closed or crashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Replace {
    /// Make a new member in its place, with the same options (the default).
    #[default]
    Replace,
    /// Drop it: the pool shrinks.
    Leave,
}

/// Options for a new [`Pool`]: a builder.
#[derive(Debug, Clone, Default)]
pub struct PoolOptions {
    size: Option<usize>,
    member: Option<ContextOptions>,
    name: Option<String>,
    routing: Routing,
    queue_bound: usize,
    replace: Replace,
    key_memory: Option<usize>,
}

impl PoolOptions {
    pub fn new() -> PoolOptions {
        PoolOptions::default()
    }

    /// Number of members, 1..=256 (default 1).
    pub fn size(mut self, size: usize) -> PoolOptions {
        self.size = Some(size);
        self
    }

    /// Every member's options (mode, preload, queue capacity, sandbox,
    /// memory limit). Their name, if set, prefixes the members' names.
    /// Default: a worker context's defaults.
    pub fn member_options(mut self, options: ContextOptions) -> PoolOptions {
        self.member = Some(options);
        self
    }

    /// The pool's name (default `"pool-<n>"`).
    pub fn name(mut self, name: impl Into<String>) -> PoolOptions {
        self.name = Some(name.into());
        self
    }

    /// Default [`Routing::LeastQueued`].
    pub fn routing(mut self, routing: Routing) -> PoolOptions {
        self.routing = routing;
        self
    }

    /// Requests queued over all members at most (0, the default:
    /// unbounded); beyond it a submission fails with
    /// [`ErrorKind::QueueFull`].
    pub fn queue_bound(mut self, bound: usize) -> PoolOptions {
        self.queue_bound = bound;
        self
    }

    /// Default [`Replace::Replace`].
    pub fn replace(mut self, policy: Replace) -> PoolOptions {
        self.replace = policy;
        self
    }

    /// How many keys the pool remembers to report
    /// [`Request::key_moved`](crate::Request::key_moved) (default 65536;
    /// 0: none).
    pub fn key_memory(mut self, keys: usize) -> PoolOptions {
        self.key_memory = Some(keys);
        self
    }

    fn to_raw(&self) -> Result<RawPoolOptions> {
        // SAFETY: a fresh options object; NULL means out of memory.
        let raw = RawPoolOptions(unsafe { ffi::pyctx_pool_options_new() });
        if raw.0.is_null() {
            return Err(Error::new(ErrorKind::NoMemory, "pool options"));
        }
        // SAFETY (all below): `raw.0` is live; everything passed is copied.
        if let Some(size) = self.size {
            unsafe { Error::check(ffi::pyctx_pool_options_set_size(raw.0, size))? };
        }
        if let Some(member) = &self.member {
            let member = member.to_raw()?;
            unsafe { Error::check(ffi::pyctx_pool_options_set_member_options(raw.0, member.0))? };
        }
        if let Some(name) = &self.name {
            let name = to_cstring("pool name", name)?;
            unsafe { Error::check(ffi::pyctx_pool_options_set_name(raw.0, name.as_ptr()))? };
        }
        let routing = match self.routing {
            Routing::LeastQueued => ffi::PYCTX_POOL_LEAST_QUEUED,
            Routing::RoundRobin => ffi::PYCTX_POOL_ROUND_ROBIN,
            Routing::ByKey => ffi::PYCTX_POOL_BY_KEY,
        };
        unsafe { Error::check(ffi::pyctx_pool_options_set_routing(raw.0, routing))? };
        unsafe { Error::check(ffi::pyctx_pool_options_set_queue_bound(raw.0, self.queue_bound))? };
        let replace = match self.replace {
            Replace::Replace => ffi::PYCTX_POOL_REPLACE,
            Replace::Leave => ffi::PYCTX_POOL_LEAVE,
        };
        unsafe { Error::check(ffi::pyctx_pool_options_set_replace(raw.0, replace))? };
        if let Some(keys) = self.key_memory {
            unsafe { Error::check(ffi::pyctx_pool_options_set_key_memory(raw.0, keys))? };
        }
        Ok(raw)
    }
}

struct RawPoolOptions(*mut ffi::pyctx_pool_options_t);

impl Drop for RawPoolOptions {
    fn drop(&mut self) {
        // SAFETY: owned by us; free accepts NULL.
        unsafe { ffi::pyctx_pool_options_free(self.0) };
    }
}

/// Counters of a pool, over every member it ever had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Members routed to now.
    pub size: u64,
    /// Members finishing their queue before closing.
    pub leaving: u64,
    /// Members ever made (growth, replacements).
    pub created: u64,
    /// Members replaced after they closed.
    pub replaced: u64,
    /// Replacements that could not be made.
    pub replace_failed: u64,
    /// Submissions refused at the queue bound.
    pub refused_full: u64,
    /// The members' counters, summed.
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub closed: u64,
    /// Queued now over all members.
    pub queue_depth: u64,
    /// Keys remembered for moved reports.
    pub keys_known: u64,
}

/// One member's counters and routing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolMemberStats {
    /// Unique in the pool, never reused
    /// ([`Request::pool_member`](crate::Request::pool_member)).
    pub member_id: u64,
    /// Its place on the routing ring (a replacement keeps it).
    pub slot: u64,
    /// Its thread has parked (a hint).
    pub parked: bool,
    /// It runs a request now (a hint).
    pub busy: bool,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub queue_depth: u64,
    pub thread_id: u64,
}

/// The owned C handle, freed with the last clone (and every request and
/// object that uses it).
struct Handle {
    raw: NonNull<ffi::pyctx_pool_t>,
}

// SAFETY: the header lets every pool function run from any thread,
// concurrently, except free, which only `Drop` of the last reference does.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: last user; an open pool closes without waiting.
        unsafe { ffi::pyctx_pool_free(self.raw.as_ptr()) };
    }
}

/// N contexts ("members") of one mode, made from the same options, behind
/// one submit path: submit to a pool as to a context, and it chooses the
/// member (see [`Routing`]); a request with a key
/// ([`Call::key`](crate::Call::key)) goes to the same member while
/// membership does not change. Every accepted request completes exactly
/// once, also under cancel, timeout, [`resize`](Pool::resize), member
/// replacement and [`close`](Pool::close). Cheap to clone, `Send` and
/// `Sync`; it closes when the last clone (and every request and object of
/// it) is gone.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// use pyctx::{ContextOptions, Pool, PoolOptions, Routing, Value};
/// let pool = Pool::new(
///     &rt,
///     &PoolOptions::new()
///         .size(2)
///         .routing(Routing::RoundRobin)
///         .member_options(ContextOptions::new().preload("def double(x): return 2 * x")),
/// )
/// .unwrap();
/// assert_eq!(pool.call("__main__", "double", (21,)).unwrap(), Value::Int(42));
/// let pending = pool.call_async("__main__", "double", (4,));
/// assert_eq!(pending.wait().unwrap(), Value::Int(8));
/// assert_eq!(pool.stats().unwrap().completed, 2);
/// pool.resize(3, None).unwrap();
/// assert_eq!(pool.size(), 3);
/// ```
#[derive(Clone)]
pub struct Pool {
    handle: Arc<Handle>,
}

impl Pool {
    /// Creates the pool and all its members, one after the other. If a
    /// member cannot be made, the ones made are closed and the error names
    /// the member.
    pub fn new(_runtime: &Runtime, options: &PoolOptions) -> Result<Pool> {
        let raw_options = options.to_raw()?;
        let mut raw = ptr::null_mut();
        // SAFETY: options live for the call; `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_pool_create(raw_options.0, &mut raw))? };
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::new(ErrorKind::Internal, "pool_create gave no pool"))?;
        Ok(Pool { handle: Arc::new(Handle { raw }) })
    }

    /// The C handle, for the raw [`ffi`](crate::ffi) functions. Valid while
    /// this `Pool` (or a clone) lives.
    pub fn as_raw(&self) -> *mut ffi::pyctx_pool_t {
        self.handle.raw.as_ptr()
    }

    /// The pool's name.
    pub fn name(&self) -> String {
        // SAFETY: live handle; the string lives as long as it.
        unsafe { crate::error::owned_string(ffi::pyctx_pool_name(self.as_raw())) }
    }

    /// Members routed to now (0 once closed).
    pub fn size(&self) -> usize {
        // SAFETY: live handle.
        unsafe { ffi::pyctx_pool_size(self.as_raw()) }
    }

    /// True once the pool is closed or closing.
    pub fn is_closed(&self) -> bool {
        // SAFETY: live handle.
        unsafe { ffi::pyctx_pool_is_closed(self.as_raw()) != 0 }
    }

    /// Changes the number of members to `size` (1..=256). Growing makes the
    /// new members first (an error leaves the pool as it was); shrinking
    /// takes the highest slots out of the routing at once and waits up to
    /// `timeout` (`None`: as long as it takes) for each to finish its queue
    /// before closing it. Refused ([`ErrorKind::InvalidArgument`]) on a
    /// member's own thread.
    pub fn resize(&self, size: usize, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: live handle.
        unsafe { Error::check(ffi::pyctx_pool_resize(self.as_raw(), size, timeout::to_ms(timeout))) }
    }

    /// Closes the pool: new submissions fail with [`ErrorKind::Closed`],
    /// every member closes as [`Context::close`] does, against one deadline.
    /// Idempotent.
    pub fn close(&self, timeout: Duration) -> Result<()> {
        // SAFETY: live handle.
        unsafe { Error::check(ffi::pyctx_pool_close(self.as_raw(), timeout::to_ms(Some(timeout)))) }
    }

    /// A handle of member `index` (0..size, in slot order): its stats, an
    /// exec on it alone, closing it (the pool then replaces or drops it).
    /// Dropping the handle does not close the member.
    /// [`ErrorKind::NotFound`] when out of range.
    pub fn member(&self, index: usize) -> Result<Context> {
        let mut raw = ptr::null_mut();
        // SAFETY: live handle; `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_pool_member_context(self.as_raw(), index, &mut raw))? };
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::new(ErrorKind::Internal, "member_context gave none"))?;
        Ok(Context::from_raw(raw))
    }

    /// Cancels request `id` of this pool on whichever member holds it.
    /// [`ErrorKind::NotFound`] when unknown or completed.
    pub fn cancel(&self, id: u64) -> Result<()> {
        // SAFETY: live handle.
        unsafe { Error::check(ffi::pyctx_pool_cancel(self.as_raw(), id)) }
    }

    /// `module.function(*args)` on a member the routing chooses, waiting
    /// for the result.
    pub fn call(&self, module: &str, function: &str, args: impl IntoArgs) -> Result<Value> {
        with_encoded(args, |args| call_sync(CallTarget::Pool(self), module, function, args, None, ffi::PYCTX_NO_TIMEOUT))
    }

    /// Like [`call`](Pool::call), without waiting: the future yields the
    /// result; dropping it cancels the request.
    pub fn call_async(&self, module: &str, function: &str, args: impl IntoArgs) -> PendingRequest {
        self.call_with(module, function).args(args).run_async()
    }

    /// A call with keyword arguments, a routing key, a timeout, ...: see
    /// [`Call`].
    pub fn call_with<'a>(&'a self, module: &'a str, function: &'a str) -> Call<'a> {
        Call::for_pool(self, module, function)
    }

    /// A new namespace on a member the routing chooses: every eval and exec
    /// in it (and every pool request with it) goes to that member. Once the
    /// member has left the pool they fail with [`ErrorKind::Closed`].
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let pool = pyctx::Pool::new(&rt, &pyctx::PoolOptions::new().size(3)).unwrap();
    /// let env = pool.env().unwrap();
    /// env.exec("x = 41").unwrap();
    /// assert_eq!(env.eval("x + 1").unwrap(), pyctx::Value::Int(42));
    /// ```
    pub fn env(&self) -> Result<Env> {
        Env::new_pool(self)
    }

    /// The pool's counters.
    pub fn stats(&self) -> Result<PoolStats> {
        let mut s = ffi::pyctx_pool_stats_t::default();
        // SAFETY: live handle; the size is the struct's we pass.
        unsafe {
            Error::check(ffi::pyctx_pool_stats(
                self.as_raw(),
                &mut s,
                std::mem::size_of::<ffi::pyctx_pool_stats_t>(),
            ))?
        };
        Ok(PoolStats {
            size: s.size,
            leaving: s.leaving,
            created: s.created,
            replaced: s.replaced,
            replace_failed: s.replace_failed,
            refused_full: s.refused_full,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            timed_out: s.timed_out,
            closed: s.closed,
            queue_depth: s.queue_depth,
            keys_known: s.keys_known,
        })
    }

    /// Member `index`'s counters; [`ErrorKind::NotFound`] when out of range.
    pub fn member_stats(&self, index: usize) -> Result<PoolMemberStats> {
        let mut s = ffi::pyctx_pool_member_stats_t::default();
        // SAFETY: live handle; the size is the struct's we pass.
        unsafe {
            Error::check(ffi::pyctx_pool_member_stats(
                self.as_raw(),
                index,
                &mut s,
                std::mem::size_of::<ffi::pyctx_pool_member_stats_t>(),
            ))?
        };
        Ok(PoolMemberStats {
            member_id: s.member_id,
            slot: s.slot,
            parked: s.parked != 0,
            busy: s.busy != 0,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            timed_out: s.timed_out,
            closed: s.closed,
            queue_depth: s.queue_depth,
            thread_id: s.thread_id,
        })
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name())
            .field("size", &self.size())
            .field("closed", &self.is_closed())
            .finish()
    }
}
