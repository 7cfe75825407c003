//! Run Python inside a Rust program, safely, through pyctx.
//!
//! One process-wide [`Runtime`] runs Python; each [`Context`] is a Python
//! execution lane with its own OS thread: on the main interpreter
//! ([`Mode::Worker`]), in its own subinterpreter with its own GIL
//! ([`Mode::OwnGil`], truly parallel), or in a child process of its own
//! ([`Mode::Process`]: parallel, any extension, and a crash there fails
//! its requests with [`ErrorKind::Crashed`] instead of ending the host).
//! Send a context requests — call a function, evaluate an expression,
//! execute code — and wait for the [`Value`], or get a [`PendingRequest`]
//! future that works with any executor, or build a [`Request`] object:
//! submit it (alone or many at once), wait on it with a timeout, cancel it
//! from another thread, submit it again. Python can call Rust closures
//! registered with [`host`].
//!
//! Beyond values: keep a Python object as an [`Object`] handle and call
//! it, its methods and attributes, and pass it back in arguments; read a
//! generator item by item as a [`Stream`] with backpressure; spread
//! requests over a [`Pool`] of contexts, by key if need be; and share
//! memory with Python without a copy as a [`Buffer`] (host memory lent as
//! a `memoryview`, or a Python object's memory as a pinned view).
//!
//! ```
//! # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
//! # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
//! use pyctx::Value;
//! let counter = ctx.call_with("collections", "Counter").arg("hello").run_object().unwrap();
//! assert_eq!(counter.call_method("get", ("l",)).unwrap(), Value::Int(2));
//! let evens = ctx.eval_with("(i for i in range(10) if i % 2 == 0)").stream(4).unwrap();
//! assert_eq!(evens.iter().count(), 5);
//! ```
//!
//! ```
//! use pyctx::{ContextOptions, Mode, Runtime, RuntimeOptions, Value};
//!
//! let rt = Runtime::get_or_init(&RuntimeOptions::new()).unwrap();
//! let ctx = rt.context(&ContextOptions::new().mode(Mode::OwnGil)).unwrap();
//!
//! assert_eq!(ctx.call("math", "sqrt", (16.0,)).unwrap(), Value::Float(4.0));
//! ctx.exec("def pair(a, b): return (b, a)").unwrap();
//! let (b, a): (String, i64) = ctx.call("__main__", "pair", (1, "x")).unwrap().try_into().unwrap();
//! assert_eq!((b.as_str(), a), ("x", 1));
//!
//! let err = ctx.eval("undefined_name").unwrap_err();
//! assert_eq!(err.python_type(), Some("NameError"));
//! ```
//!
//! The C API this crate wraps is in [`ffi`], declared one for one from
//! `include/pyctx.h`.

mod args;
mod buffer;
pub mod cbor;
mod channel;
mod context;
mod cstr;
mod env;
mod error;
pub use pyctx_sys as ffi;
pub mod host;
pub mod log;
mod object;
mod pending;
mod pool;
mod request;
mod request_object;
mod runtime;
mod sandbox;
pub mod send;
#[cfg(feature = "serde")]
mod serde_value;
pub mod setup;
pub mod store;
mod stream;
mod timeout;
mod value;

pub use args::IntoArgs;
pub use buffer::{Buffer, BufferInfo, BufferMemory, BufferStats, BufferView, Element, Elements};
pub use channel::{Channel, ChannelStats};
pub use context::{Context, ContextOptions, ContextStats, Mode, ProcessInfo, ProcessOutput};
pub use env::Env;
pub use error::{Error, ErrorKind, Result};
pub use host::HostCall;
pub use object::{Object, ObjectCall, ResultForm};
pub use pending::{PendingRequest, live_async_requests};
pub use pool::{Pool, PoolMemberStats, PoolOptions, PoolStats, Replace, Routing};
pub use request::{Call, Eval, Exec};
pub use request_object::{Request, SubmitManyError};
pub use runtime::{Allocator, Runtime, RuntimeOptions, State, library_version, library_version_string};
pub use sandbox::Sandbox;
#[cfg(feature = "serde")]
pub use serde_value::{from_value, to_value};
pub use stream::{Stream, StreamIter};
pub use value::{BigInt, ListElement, ObjectRef, Value};
