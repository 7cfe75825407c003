//! Request builders: `Call`, `Eval`, `Exec`, each run synchronously
//! (`run`) or asynchronously (`run_async`).

use std::ptr;
use std::time::Duration;

use crate::cbor;
use crate::context::Context;
use crate::cstr::with_cstr;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::ffi;
use crate::pending::{OwnedBytes, PendingRequest};
use crate::request_object::Request;
use crate::timeout;
use crate::value::Value;

use crate::args::IntoArgs;
use crate::buffer::Buffer;
use crate::object::Object;
use crate::pool::Pool;
use crate::request_object::Dest;
use crate::stream::Stream;

/// Where a request goes.
#[derive(Clone, Copy)]
enum Target<'a> {
    Context(&'a Context),
    Pool(&'a Pool),
}

impl Target<'_> {
    fn request(self) -> Result<Request> {
        match self {
            Target::Context(ctx) => Request::new(ctx),
            Target::Pool(pool) => Request::new_pool(pool),
        }
    }
}

/// An eval or exec in an env goes where the env lives: a pool's env to its
/// pool (which routes it to the env's member).
fn env_target(env: &Env) -> Target<'_> {
    match env.dest() {
        Dest::Context(ctx) => Target::Context(ctx),
        Dest::Pool(pool) => Target::Pool(pool),
    }
}

impl<'a> Eval<'a> {
    pub(crate) fn in_env(env: &'a Env, expression: &'a str) -> Eval<'a> {
        Eval::to(env_target(env), expression).env(env)
    }
}

impl<'a> Exec<'a> {
    pub(crate) fn in_env(env: &'a Env, code: &'a str) -> Exec<'a> {
        Exec::to(env_target(env), code).env(env)
    }
}

/// Encodes str-keyed pairs as a CBOR map; `None` when there are none (the
/// C API takes NULL for "no kwargs/locals").
fn encode_named(pairs: &[(String, Value)]) -> Option<Vec<u8>> {
    if pairs.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    cbor::encode_map_str_keys(&mut out, pairs);
    Some(out)
}

fn slice_parts(buf: &Option<Vec<u8>>) -> (*const u8, usize) {
    match buf {
        Some(b) => (b.as_ptr(), b.len()),
        None => (ptr::null(), 0),
    }
}

fn env_ptr(env: Option<&Env>) -> *mut ffi::pyctx_env_t {
    env.map_or(ptr::null_mut(), Env::as_raw)
}

/// Where a synchronous one-call request goes: `pyctx_call` on a context or
/// `pyctx_pool_call` on a pool (the same arguments otherwise).
#[derive(Clone, Copy)]
pub(crate) enum CallTarget<'a> {
    Context(&'a Context),
    Pool(&'a Pool),
}

/// The synchronous call every path ends in: `args` is an encoded CBOR
/// array, `kwargs` an encoded map or `None`.
pub(crate) fn call_sync(
    target: CallTarget<'_>,
    module: &str,
    function: &str,
    args: &[u8],
    kwargs: Option<&[u8]>,
    timeout_ms: u32,
) -> Result<Value> {
    let (kw_ptr, kw_len) = kwargs.map_or((ptr::null(), 0), |k| (k.as_ptr(), k.len()));
    with_cstr("module", module, |module| {
        with_cstr("function", function, |function| {
            let mut out = OwnedBytes::empty();
            // SAFETY: live context or pool; every buffer outlives the call.
            let err = unsafe {
                match target {
                    CallTarget::Context(ctx) => ffi::pyctx_call(
                        ctx.as_raw(),
                        module,
                        function,
                        args.as_ptr(),
                        args.len(),
                        kw_ptr,
                        kw_len,
                        timeout_ms,
                        out.as_out(),
                    ),
                    CallTarget::Pool(pool) => ffi::pyctx_pool_call(
                        pool.as_raw(),
                        module,
                        function,
                        args.as_ptr(),
                        args.len(),
                        kw_ptr,
                        kw_len,
                        timeout_ms,
                        out.as_out(),
                    ),
                }
            };
            // SAFETY: `err` is the call's own error object (or NULL).
            unsafe { Error::check(err)? };
            cbor::decode(out.as_slice())
        })
    })
}

/// A call of `module.function(*args, **kwargs)`, from
/// [`Context::call_with`].
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use std::time::Duration;
/// let v = ctx
///     .call_with("builtins", "sorted")
///     .arg(vec![3, 1, 2])
///     .kwarg("reverse", true)
///     .timeout(Duration::from_secs(5))
///     .run()
///     .unwrap();
/// assert_eq!(Vec::<i32>::try_from(v).unwrap(), [3, 2, 1]);
/// ```
#[must_use = "a request does nothing until run(), run_async() or request()"]
pub struct Call<'a> {
    target: Target<'a>,
    key: Option<Vec<u8>>,
    buffers: Vec<&'a Buffer>,
    module: &'a str,
    function: &'a str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(ctx: &'a Context, module: &'a str, function: &'a str) -> Call<'a> {
        Call::to(Target::Context(ctx), module, function)
    }

    pub(crate) fn for_pool(pool: &'a Pool, module: &'a str, function: &'a str) -> Call<'a> {
        Call::to(Target::Pool(pool), module, function)
    }

    fn to(target: Target<'a>, module: &'a str, function: &'a str) -> Call<'a> {
        Call {
            target,
            key: None,
            buffers: Vec::new(),
            module,
            function,
            args: Vec::new(),
            kwargs: Vec::new(),
            timeout: None,
        }
    }

    /// Attaches `buffer`: the first attached is `Value::Buffer(0)` in the
    /// arguments, the next `Value::Buffer(1)`, ... (see [`Buffer`]).
    pub fn attach(mut self, buffer: &'a Buffer) -> Call<'a> {
        self.buffers.push(buffer);
        self
    }

    /// The routing key of a pool's call (any bytes): the same key goes to
    /// the same member while the pool's membership does not change.
    /// Ignored for a context's call.
    pub fn key(mut self, key: impl AsRef<[u8]>) -> Call<'a> {
        self.key = Some(key.as_ref().to_vec());
        self
    }

    /// Appends one positional argument.
    pub fn arg(mut self, value: impl Into<Value>) -> Call<'a> {
        self.args.push(value.into());
        self
    }

    /// Appends positional arguments.
    pub fn args(mut self, args: impl IntoArgs) -> Call<'a> {
        let more = args.into_args();
        if self.args.is_empty() {
            self.args = more
        } else {
            self.args.extend(more)
        }
        self
    }

    /// Adds a keyword argument.
    pub fn kwarg(mut self, name: impl Into<String>, value: impl Into<Value>) -> Call<'a> {
        self.kwargs.push((name.into(), value.into()));
        self
    }

    /// A deadline for the whole request (queued and running): at the
    /// deadline it fails with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)
    /// and a running call is interrupted.
    pub fn timeout(mut self, timeout: Duration) -> Call<'a> {
        self.timeout = Some(timeout);
        self
    }

    fn encoded_args(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        cbor::encode_array(&mut out, &self.args);
        out
    }

    /// Runs the call and waits for its result.
    pub fn run(self) -> Result<Value> {
        let args = self.encoded_args();
        let kwargs = encode_named(&self.kwargs);
        let ms = timeout::to_ms(self.timeout);
        if !self.buffers.is_empty() {
            return self.request()?.run();
        }
        match self.target {
            Target::Context(ctx) => call_sync(CallTarget::Context(ctx), self.module, self.function, &args, kwargs.as_deref(), ms),
            Target::Pool(pool) if self.key.is_none() => {
                call_sync(CallTarget::Pool(pool), self.module, self.function, &args, kwargs.as_deref(), ms)
            }
            Target::Pool(_) => self.request()?.run(),
        }
    }

    /// Runs the call and returns its result as an [`Object`] handle.
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// let counts = ctx.call_with("collections", "Counter").arg("abracadabra").run_object().unwrap();
    /// let top = counts.call_method("most_common", (1,)).unwrap();
    /// assert_eq!(top, pyctx::Value::list([pyctx::Value::tuple([pyctx::Value::from("a"), 5.into()])]));
    /// ```
    pub fn run_object(self) -> Result<Object> {
        self.request()?.run_object()
    }

    /// Runs the call and returns its result's memory (any buffer-protocol
    /// object: bytes, bytearray, array.array, a numpy array) as a pinned
    /// view: see [`Buffer`].
    pub fn run_buffer(self) -> Result<Buffer> {
        self.request()?.run_buffer()
    }

    /// Opens the call's result (a generator, an async generator, any
    /// iterable) as a [`Stream`], `credit` items in flight at most (at
    /// least 1). A pool's call is refused: a stream lives in one context.
    pub fn stream(self, credit: u32) -> Result<Stream> {
        self.request()?.open_stream(credit)
    }

    /// Submits the call; the future yields its result.
    pub fn run_async(self) -> PendingRequest {
        PendingRequest::submit(self.request())
    }

    /// The call as a [`Request`] object, not yet submitted: submit it,
    /// wait on it, cancel it from another thread, submit it again, or
    /// submit many at once.
    pub fn request(self) -> Result<Request> {
        // A new request has no kwargs and no deadline: only what is set
        // crosses the FFI (a request per future is on the pipelined path).
        let mut request = self.target.request()?;
        request.set_call(self.module, self.function)?;
        if let Some(key) = &self.key {
            request.set_key(key)?;
        }
        for buffer in &self.buffers {
            request.attach_buffer(buffer)?;
        }
        request.set_encoded_args(&self.encoded_args())?;
        if let Some(kwargs) = encode_named(&self.kwargs) {
            request.set_encoded_kwargs(Some(&kwargs))?;
        }
        if self.timeout.is_some() {
            request.set_timeout(self.timeout)?;
        }
        Ok(request)
    }
}

/// An eval of an expression, from [`Context::eval_with`] or
/// [`Env::eval_with`].
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// let v = ctx.eval_with("x * y + 1").local("x", 3).local("y", 4).run().unwrap();
/// assert_eq!(v, pyctx::Value::Int(13));
/// ```
#[must_use = "a request does nothing until run(), run_async() or request()"]
pub struct Eval<'a> {
    target: Target<'a>,
    buffers: Vec<&'a Buffer>,
    expression: &'a str,
    env: Option<&'a Env>,
    locals: Vec<(String, Value)>,
    timeout: Option<Duration>,
}

impl<'a> Eval<'a> {
    pub(crate) fn new(ctx: &'a Context, expression: &'a str) -> Eval<'a> {
        Eval::to(Target::Context(ctx), expression)
    }

    fn to(target: Target<'a>, expression: &'a str) -> Eval<'a> {
        Eval { target, buffers: Vec::new(), expression, env: None, locals: Vec::new(), timeout: None }
    }

    /// Evaluates in `env` instead of the default namespace. The env must
    /// belong to the same context.
    pub fn env(mut self, env: &'a Env) -> Eval<'a> {
        self.env = Some(env);
        self
    }

    /// A local variable visible to the expression.
    pub fn local(mut self, name: impl Into<String>, value: impl Into<Value>) -> Eval<'a> {
        self.locals.push((name.into(), value.into()));
        self
    }

    /// A deadline for the whole request.
    pub fn timeout(mut self, timeout: Duration) -> Eval<'a> {
        self.timeout = Some(timeout);
        self
    }

    /// Attaches `buffer`, named in the locals as `Value::Buffer(index)`
    /// (see [`Call::attach`]).
    pub fn attach(mut self, buffer: &'a Buffer) -> Eval<'a> {
        self.buffers.push(buffer);
        self
    }

    pub fn run(self) -> Result<Value> {
        let ctx = match self.target {
            Target::Context(ctx) if self.buffers.is_empty() => ctx,
            _ => return self.request()?.run(),
        };
        let locals = encode_named(&self.locals);
        let (l_ptr, l_len) = slice_parts(&locals);
        let ms = timeout::to_ms(self.timeout);
        with_cstr("expression", self.expression, |expression| {
            let mut out = OwnedBytes::empty();
            // SAFETY: live context and env; buffers outlive the call.
            unsafe {
                Error::check(ffi::pyctx_eval(
                    ctx.as_raw(),
                    expression,
                    env_ptr(self.env),
                    l_ptr,
                    l_len,
                    ms,
                    out.as_out(),
                ))?
            };
            cbor::decode(out.as_slice())
        })
    }

    pub fn run_async(self) -> PendingRequest {
        PendingRequest::submit(self.request())
    }

    /// Evaluates and returns the result as an [`Object`] handle.
    pub fn run_object(self) -> Result<Object> {
        self.request()?.run_object()
    }

    /// Evaluates and returns the result's memory as a pinned view (see
    /// [`Call::run_buffer`]).
    pub fn run_buffer(self) -> Result<Buffer> {
        self.request()?.run_buffer()
    }

    /// Opens the result (an iterator, a generator, any iterable) as a
    /// [`Stream`], `credit` items in flight at most (at least 1).
    pub fn stream(self, credit: u32) -> Result<Stream> {
        self.request()?.open_stream(credit)
    }

    /// The eval as a [`Request`] object, not yet submitted.
    pub fn request(self) -> Result<Request> {
        let mut request = self.target.request()?;
        request.set_eval(self.expression)?;
        for buffer in &self.buffers {
            request.attach_buffer(buffer)?;
        }
        if self.env.is_some() {
            request.set_env(self.env)?;
        }
        if let Some(locals) = encode_named(&self.locals) {
            request.set_encoded_kwargs(Some(&locals))?;
        }
        if self.timeout.is_some() {
            request.set_timeout(self.timeout)?;
        }
        Ok(request)
    }
}

/// An exec of statements, from [`Context::exec_with`] or
/// [`Env::exec_with`]. Its value is always `Value::None`.
#[must_use = "a request does nothing until run(), run_async() or request()"]
pub struct Exec<'a> {
    target: Target<'a>,
    code: &'a str,
    env: Option<&'a Env>,
    timeout: Option<Duration>,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(ctx: &'a Context, code: &'a str) -> Exec<'a> {
        Exec::to(Target::Context(ctx), code)
    }

    fn to(target: Target<'a>, code: &'a str) -> Exec<'a> {
        Exec { target, code, env: None, timeout: None }
    }

    /// Executes in `env` instead of the default namespace.
    pub fn env(mut self, env: &'a Env) -> Exec<'a> {
        self.env = Some(env);
        self
    }

    /// A deadline for the whole request.
    pub fn timeout(mut self, timeout: Duration) -> Exec<'a> {
        self.timeout = Some(timeout);
        self
    }

    pub fn run(self) -> Result<Value> {
        let Target::Context(ctx) = self.target else {
            return self.request()?.run();
        };
        let ms = timeout::to_ms(self.timeout);
        with_cstr("code", self.code, |code| {
            // SAFETY: live context and env.
            unsafe { Error::check(ffi::pyctx_exec(ctx.as_raw(), code, env_ptr(self.env), ms)) }
        })
        .map(|()| Value::None)
    }

    pub fn run_async(self) -> PendingRequest {
        PendingRequest::submit(self.request())
    }

    /// The exec as a [`Request`] object, not yet submitted.
    pub fn request(self) -> Result<Request> {
        let mut request = self.target.request()?;
        request.set_exec(self.code)?;
        if self.env.is_some() {
            request.set_env(self.env)?;
        }
        if self.timeout.is_some() {
            request.set_timeout(self.timeout)?;
        }
        Ok(request)
    }
}
