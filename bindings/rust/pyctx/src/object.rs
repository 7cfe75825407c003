//! `Object`: a handle to a live Python object in one context
//! (`pyctx_object_t`), and `ObjectCall`, the builder of requests on it.

use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Duration;

use crate::args::{IntoArgs, with_encoded};
use crate::buffer::Buffer;
use crate::cbor;
use crate::context::Context;
use crate::cstr::with_cstr;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::pending::{OwnedBytes, PendingRequest};
use crate::request_object::{Dest, Request};
use crate::stream::Stream;
use crate::timeout;
use crate::value::{ObjectRef, Value};

/// What a call, eval or object request returns, set with
/// [`Request::set_result_form`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResultForm {
    /// The result as a [`Value`] (the default).
    #[default]
    Value,
    /// A new [`Object`] handle to the result:
    /// [`Request::take_object`]; its value is a [`Value::Object`].
    Object,
    /// A view of a buffer-protocol result: [`Request::take_buffer`].
    Buffer,
}

impl ResultForm {
    pub(crate) fn to_raw(self) -> ffi::pyctx_result_form {
        match self {
            ResultForm::Value => ffi::PYCTX_RESULT_VALUE,
            ResultForm::Object => ffi::PYCTX_RESULT_OBJECT,
            ResultForm::Buffer => ffi::PYCTX_RESULT_BUFFER,
        }
    }
}

/// The owned C handle, freed (its Python reference released, without
/// waiting) when the last [`Object`] clone is gone.
struct Handle {
    raw: NonNull<ffi::pyctx_object_t>,
    /// Keeps the context (or the pool it came through) open.
    dest: Dest,
    reference: ObjectRef,
}

// SAFETY: the header lets a handle be used from any thread, by several at
// once; only freeing must be exclusive, which `Drop` of the last `Arc`
// reference is.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the last user; releases the reference unless released.
        unsafe { ffi::pyctx_object_free(self.raw.as_ptr()) };
    }
}

/// A reference to a live Python object in one context — a loaded model, a
/// connection, a compiled regex — from a request whose result form is
/// [`ResultForm::Object`] ([`Call::run_object`](crate::Call::run_object),
/// [`Eval::run_object`](crate::Eval::run_object),
/// [`Request::take_object`], [`ObjectCall::run_object`]).
///
/// Call it, call its methods, read its attributes, pass it back inside
/// arguments (`Value::from(&object)`, nested anywhere: Python receives the
/// object itself), and [`release`](Object::release) it. Cheap to clone
/// (clones share the handle), `Send` and `Sync`. The Python reference is
/// released when the last clone is dropped (on the context's thread,
/// without waiting), if `release` did not already. An object keeps its
/// context open, as an [`Env`](crate::Env) does.
///
/// A released handle fails with [`ErrorKind::InvalidArgument`], one whose
/// context closed with [`ErrorKind::Closed`]; a reference to it inside
/// arguments with [`ErrorKind::Decode`].
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use pyctx::Value;
/// let rx = ctx.eval_with("__import__('re').compile(r'\\d+')").run_object().unwrap();
/// assert_eq!(rx.call_method("findall", ("a1b22c333",)).unwrap(), Value::list(["1", "22", "333"]));
/// assert_eq!(rx.getattr("pattern").unwrap(), Value::from("\\d+"));
/// // Passed back as an argument, Python gets the object itself:
/// ctx.exec("def pattern_of(r): return r.pattern").unwrap();
/// assert_eq!(ctx.call("__main__", "pattern_of", (&rx,)).unwrap(), Value::from("\\d+"));
/// rx.release(None).unwrap();
/// assert!(!rx.is_alive());
/// ```
#[derive(Clone)]
pub struct Object {
    handle: Arc<Handle>,
}

impl Object {
    /// Takes ownership of a handle the library made, reading its reference.
    pub(crate) fn from_raw(raw: NonNull<ffi::pyctx_object_t>, dest: Dest) -> Result<Object> {
        // Own it first, so an error below still frees it.
        let mut handle = Handle { raw, dest, reference: ObjectRef { key: 0, id: 0 } };
        handle.reference = read_reference(raw)?;
        Ok(Object { handle: Arc::new(handle) })
    }

    /// The C handle, for the raw [`ffi`](crate::ffi) functions. Valid while
    /// this `Object` (or a clone) lives.
    pub fn as_raw(&self) -> *mut ffi::pyctx_object_t {
        self.handle.raw.as_ptr()
    }

    /// The handle's id in its context (unique there, never reused).
    pub fn id(&self) -> u64 {
        self.handle.reference.id
    }

    /// The reference that names this object in arguments (what
    /// `Value::from(&object)` holds).
    pub fn reference(&self) -> ObjectRef {
        self.handle.reference
    }

    /// The name of the context the object lives in.
    pub fn context_name(&self) -> String {
        // SAFETY: live handle; the string lives as long as it.
        unsafe { crate::error::owned_string(ffi::pyctx_object_context_name(self.as_raw())) }
    }

    /// The context the object lives in; `None` for an object made through
    /// a [`Pool`](crate::Pool) (see [`context_name`](Object::context_name)).
    pub fn context(&self) -> Option<&Context> {
        match &self.handle.dest {
            Dest::Context(ctx) => Some(ctx),
            Dest::Pool(_) => None,
        }
    }

    /// True while the handle may be used: not released, its context open.
    pub fn is_alive(&self) -> bool {
        // SAFETY: live handle.
        unsafe { ffi::pyctx_object_is_alive(self.as_raw()) != 0 }
    }

    /// Drops the Python reference now, waiting up to `timeout` (`None`: no
    /// limit). Every later use (of every clone) reports it released.
    /// [`ErrorKind::InvalidArgument`] when released already,
    /// [`ErrorKind::Closed`] when the context is closed (the reference went
    /// with it).
    pub fn release(&self, timeout: Option<Duration>) -> Result<()> {
        // SAFETY: live handle; release may race with other uses.
        unsafe { Error::check(ffi::pyctx_object_release(self.as_raw(), timeout::to_ms(timeout))) }
    }

    /// `object(*args)`, waiting for the result.
    pub fn call(&self, args: impl IntoArgs) -> Result<Value> {
        with_encoded(args, |args| {
            let mut out = OwnedBytes::empty();
            // SAFETY: live handle; buffers outlive the call.
            unsafe {
                Error::check(ffi::pyctx_object_call(
                    self.as_raw(),
                    args.as_ptr(),
                    args.len(),
                    ptr::null(),
                    0,
                    ffi::PYCTX_NO_TIMEOUT,
                    out.as_out(),
                ))?
            };
            cbor::decode(out.as_slice())
        })
    }

    /// `object.method(*args)`, waiting for the result.
    pub fn call_method(&self, method: &str, args: impl IntoArgs) -> Result<Value> {
        with_cstr("method", method, |method| {
            with_encoded(args, |args| {
                let mut out = OwnedBytes::empty();
                // SAFETY: live handle; buffers outlive the call.
                unsafe {
                    Error::check(ffi::pyctx_object_call_method(
                        self.as_raw(),
                        method,
                        args.as_ptr(),
                        args.len(),
                        ptr::null(),
                        0,
                        ffi::PYCTX_NO_TIMEOUT,
                        out.as_out(),
                    ))?
                };
                cbor::decode(out.as_slice())
            })
        })
    }

    /// `object.name`, waiting for the value.
    pub fn getattr(&self, name: &str) -> Result<Value> {
        with_cstr("attribute name", name, |name| {
            let mut out = OwnedBytes::empty();
            // SAFETY: live handle.
            unsafe {
                Error::check(ffi::pyctx_object_getattr(
                    self.as_raw(),
                    name,
                    ffi::PYCTX_NO_TIMEOUT,
                    out.as_out(),
                ))?
            };
            cbor::decode(out.as_slice())
        })
    }

    /// A call of the object with keyword arguments, a timeout, an object
    /// or stream result, ...: see [`ObjectCall`].
    pub fn call_with(&self) -> ObjectCall<'_> {
        ObjectCall::new(self, Op::Call)
    }

    /// A method call with keyword arguments, a timeout, ...
    pub fn method_with<'a>(&'a self, method: &'a str) -> ObjectCall<'a> {
        ObjectCall::new(self, Op::Method(method))
    }

    /// An attribute read with a timeout, as an object, ... (arguments must
    /// stay empty).
    pub fn getattr_with<'a>(&'a self, name: &'a str) -> ObjectCall<'a> {
        ObjectCall::new(self, Op::Getattr(name))
    }

    /// A request that releases the object (its value is `None`): once
    /// submitted, the handle counts as released. Requests on one context run
    /// in order, so a release submitted after a call runs after it.
    pub fn release_request(&self) -> Result<Request> {
        let mut request = Request::to(&self.handle.dest)?;
        // SAFETY: live request and handle.
        unsafe { Error::check(ffi::pyctx_request_set_release(request.as_raw(), self.as_raw()))? };
        request.keep_object(self);
        Ok(request)
    }
}

impl From<&Object> for Value {
    fn from(object: &Object) -> Value {
        Value::Object(object.reference())
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Value {
        Value::Object(object.reference())
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("id", &self.id())
            .field("context", &self.context_name())
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// The `[key, id]` of a handle, as the library writes it into arguments.
fn read_reference(raw: NonNull<ffi::pyctx_object_t>) -> Result<ObjectRef> {
    struct Writer(*mut ffi::pyctx_cbor_writer_t);
    impl Drop for Writer {
        fn drop(&mut self) {
            // SAFETY: ours; accepts NULL.
            unsafe { ffi::pyctx_cbor_writer_free(self.0) };
        }
    }
    // SAFETY: a fresh writer (NULL: out of memory, then every write fails).
    let writer = Writer(unsafe { ffi::pyctx_cbor_writer_new() });
    // SAFETY: live writer and handle; the data is read before the writer goes.
    let bytes = unsafe {
        if ffi::pyctx_cbor_write_object(writer.0, raw.as_ptr()) != 0 {
            return Err(Error::new(ErrorKind::NoMemory, "writing an object reference"));
        }
        let mut len = 0usize;
        let data = ffi::pyctx_cbor_writer_data(writer.0, &mut len);
        std::slice::from_raw_parts(data, len).to_vec()
    };
    match cbor::decode(&bytes)? {
        Value::Object(reference) => Ok(reference),
        other => Err(Error::new(ErrorKind::Internal, format!("an object reference decoded as {other}"))),
    }
}

#[derive(Clone, Copy)]
enum Op<'a> {
    Call,
    Method(&'a str),
    Getattr(&'a str),
}

/// A request on an [`Object`]: a call, a method call or an attribute read,
/// from [`Object::call_with`], [`Object::method_with`] or
/// [`Object::getattr_with`].
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use std::time::Duration;
/// use pyctx::Value;
/// ctx.exec("class Acc:\n    def __init__(self): self.n = 0\n    def add(self, k=1): self.n += k; return self\n").unwrap();
/// let acc = ctx.eval_with("Acc()").run_object().unwrap();
/// let v = acc.method_with("add").kwarg("k", 5).timeout(Duration::from_secs(5)).run().unwrap_err();
/// // `add` returns the object itself, which has no value form:
/// assert_eq!(v.kind(), pyctx::ErrorKind::Encode);
/// // ... but it can come back as a handle (to the same Python object):
/// let same = acc.method_with("add").kwarg("k", 2).run_object().unwrap();
/// assert_eq!(same.getattr("n").unwrap(), Value::Int(7));
/// ```
#[must_use = "a request does nothing until run(), run_async(), run_object() or request()"]
pub struct ObjectCall<'a> {
    object: &'a Object,
    buffers: Vec<&'a Buffer>,
    op: Op<'a>,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    timeout: Option<Duration>,
}

impl<'a> ObjectCall<'a> {
    fn new(object: &'a Object, op: Op<'a>) -> ObjectCall<'a> {
        ObjectCall { object, op, buffers: Vec::new(), args: Vec::new(), kwargs: Vec::new(), timeout: None }
    }

    /// Appends one positional argument.
    pub fn arg(mut self, value: impl Into<Value>) -> ObjectCall<'a> {
        self.args.push(value.into());
        self
    }

    /// Appends positional arguments.
    pub fn args(mut self, args: impl IntoArgs) -> ObjectCall<'a> {
        self.args.extend(args.into_args());
        self
    }

    /// Adds a keyword argument.
    pub fn kwarg(mut self, name: impl Into<String>, value: impl Into<Value>) -> ObjectCall<'a> {
        self.kwargs.push((name.into(), value.into()));
        self
    }

    /// Attaches `buffer`, named in the arguments as `Value::Buffer(index)`
    /// (see [`Call::attach`](crate::Call::attach)).
    pub fn attach(mut self, buffer: &'a Buffer) -> ObjectCall<'a> {
        self.buffers.push(buffer);
        self
    }

    /// A deadline for the whole request (queued and running).
    pub fn timeout(mut self, timeout: Duration) -> ObjectCall<'a> {
        self.timeout = Some(timeout);
        self
    }

    /// The request, not yet submitted.
    pub fn request(self) -> Result<Request> {
        let object = self.object;
        let mut request = Request::to(&object.handle.dest)?;
        let raw = request.as_raw();
        match self.op {
            // SAFETY (all three): live request and handle; strings copied.
            Op::Call => unsafe { Error::check(ffi::pyctx_request_set_object_call(raw, object.as_raw()))? },
            Op::Method(method) => with_cstr("method", method, |method| unsafe {
                Error::check(ffi::pyctx_request_set_method_call(raw, object.as_raw(), method))
            })?,
            Op::Getattr(name) => with_cstr("attribute name", name, |name| unsafe {
                Error::check(ffi::pyctx_request_set_getattr(raw, object.as_raw(), name))
            })?,
        }
        request.keep_object(object);
        if !self.args.is_empty() || !matches!(self.op, Op::Getattr(_)) {
            let mut args = Vec::with_capacity(16);
            cbor::encode_array(&mut args, &self.args);
            request.set_encoded_args(&args)?;
        }
        if !self.kwargs.is_empty() {
            let mut kwargs = Vec::new();
            cbor::encode_map_str_keys(&mut kwargs, &self.kwargs);
            request.set_encoded_kwargs(Some(&kwargs))?;
        }
        if self.timeout.is_some() {
            request.set_timeout(self.timeout)?;
        }
        for buffer in &self.buffers {
            request.attach_buffer(buffer)?;
        }
        Ok(request)
    }

    /// Runs it and waits for the result.
    pub fn run(self) -> Result<Value> {
        self.request()?.run()
    }

    /// Submits it; the future yields its result.
    pub fn run_async(self) -> PendingRequest {
        PendingRequest::submit(self.request())
    }

    /// Runs it and returns its result as a new [`Object`].
    pub fn run_object(self) -> Result<Object> {
        self.request()?.run_object()
    }

    /// Runs it and returns its result's memory as a pinned view (see
    /// [`Buffer`]).
    pub fn run_buffer(self) -> Result<Buffer> {
        self.request()?.run_buffer()
    }

    /// Opens its result (an iterator, a generator, an async generator) as a
    /// [`Stream`] read with `credit` items in flight at most (at least 1).
    pub fn stream(self, credit: u32) -> Result<Stream> {
        self.request()?.open_stream(credit)
    }
}
