//! `Env`: a persistent Python namespace inside one context.

use std::ptr::{self, NonNull};
use std::sync::Arc;

use crate::context::Context;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::pending::PendingRequest;
use crate::pool::Pool;
use crate::request::{Eval, Exec};
use crate::request_object::Dest;
use crate::value::Value;

struct EnvHandle {
    raw: NonNull<ffi::pyctx_env_t>,
    /// The context (or the pool) outlives its envs' handles.
    dest: Dest,
}

// SAFETY: the C API lets any thread pass an env to requests concurrently;
// only `Drop` frees it, with exclusive access.
unsafe impl Send for EnvHandle {}
unsafe impl Sync for EnvHandle {}

impl Drop for EnvHandle {
    fn drop(&mut self) {
        // SAFETY: last user; the namespace is dropped later on the context thread.
        unsafe { ffi::pyctx_env_free(self.raw.as_ptr()) };
    }
}

/// A Python namespace (a globals dict) living in one context and persisting
/// across requests: variables set by one `exec` are visible to the next
/// `eval`. Cheap to clone; freed when the last clone and every request
/// using it are gone.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// let a = ctx.env().unwrap();
/// let b = ctx.env().unwrap();
/// a.exec("x = 1").unwrap();
/// b.exec("x = 2").unwrap();
/// assert_eq!(a.eval("x").unwrap(), pyctx::Value::Int(1));
/// assert_eq!(b.eval("x + 1").unwrap(), pyctx::Value::Int(3));
/// ```
#[derive(Clone)]
pub struct Env {
    handle: Arc<EnvHandle>,
}

impl Env {
    pub(crate) fn new(ctx: &Context) -> Result<Env> {
        let mut raw = ptr::null_mut();
        // SAFETY: live context; `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_env_create(ctx.as_raw(), &mut raw))? };
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::new(ErrorKind::Internal, "env_create gave no env"))?;
        Ok(Env { handle: Arc::new(EnvHandle { raw, dest: Dest::Context(ctx.clone()) }) })
    }

    pub(crate) fn new_pool(pool: &Pool) -> Result<Env> {
        let mut raw = ptr::null_mut();
        // SAFETY: live pool; `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_pool_env_create(pool.as_raw(), &mut raw))? };
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::new(ErrorKind::Internal, "pool_env_create gave no env"))?;
        Ok(Env { handle: Arc::new(EnvHandle { raw, dest: Dest::Pool(pool.clone()) }) })
    }

    pub(crate) fn dest(&self) -> &Dest {
        &self.handle.dest
    }

    /// The C handle. Valid while this `Env` (or a clone) lives.
    pub fn as_raw(&self) -> *mut ffi::pyctx_env_t {
        self.handle.raw.as_ptr()
    }

    /// The context the env lives in; `None` for a pool's env
    /// ([`Pool::env`](crate::Pool::env)), which lives in one member.
    pub fn context(&self) -> Option<&Context> {
        match &self.handle.dest {
            Dest::Context(ctx) => Some(ctx),
            Dest::Pool(_) => None,
        }
    }

    /// Evaluates an expression in this namespace.
    pub fn eval(&self, expression: &str) -> Result<Value> {
        self.eval_with(expression).run()
    }

    pub fn eval_async(&self, expression: &str) -> PendingRequest {
        self.eval_with(expression).run_async()
    }

    /// An eval in this namespace with locals or a timeout.
    pub fn eval_with<'a>(&'a self, expression: &'a str) -> Eval<'a> {
        Eval::in_env(self, expression)
    }

    /// Executes statements in this namespace (value: `Value::None`).
    pub fn exec(&self, code: &str) -> Result<Value> {
        self.exec_with(code).run()
    }

    pub fn exec_async(&self, code: &str) -> PendingRequest {
        self.exec_with(code).run_async()
    }

    /// An exec in this namespace with a timeout.
    pub fn exec_with<'a>(&'a self, code: &'a str) -> Exec<'a> {
        Exec::in_env(self, code)
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let home = match &self.handle.dest {
            Dest::Context(ctx) => ctx.name(),
            Dest::Pool(pool) => pool.name(),
        };
        f.debug_struct("Env").field("in", &home).finish()
    }
}
