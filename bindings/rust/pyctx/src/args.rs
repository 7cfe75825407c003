//! Positional argument lists, and encoding them without intermediate
//! allocations on the hot path.

use std::cell::RefCell;

use crate::cbor;
use crate::value::Value;

/// Positional arguments of a call: `()`, tuples of up to 8 convertible
/// values, arrays, `Vec`s and slices.
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use pyctx::Value;
/// assert_eq!(ctx.call("builtins", "max", (3, 9, 4)).unwrap(), Value::Int(9));
/// assert_eq!(ctx.call("builtins", "len", (vec![1, 2],)).unwrap(), Value::Int(2));
/// assert_eq!(ctx.call("builtins", "max", [1.5, 0.5]).unwrap(), Value::Float(1.5));
/// ```
pub trait IntoArgs: Sized {
    fn into_args(self) -> Vec<Value>;

    /// Appends the arguments as one CBOR array. Tuples override this to
    /// encode each value directly, with no `Vec<Value>` in between.
    #[doc(hidden)]
    fn encode_args(self, out: &mut Vec<u8>) {
        cbor::encode_array(out, &self.into_args());
    }
}

impl IntoArgs for () {
    fn into_args(self) -> Vec<Value> {
        Vec::new()
    }
}

impl<T: Into<Value>> IntoArgs for Vec<T> {
    fn into_args(self) -> Vec<Value> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Value> + Clone> IntoArgs for &[T] {
    fn into_args(self) -> Vec<Value> {
        self.iter().cloned().map(Into::into).collect()
    }
}

impl<T: Into<Value>, const N: usize> IntoArgs for [T; N] {
    fn into_args(self) -> Vec<Value> {
        self.into_iter().map(Into::into).collect()
    }

    fn encode_args(self, out: &mut Vec<u8>) {
        cbor::encode_array(out, &self.map(Into::into));
    }
}

macro_rules! tuple_args {
    ($( ($($name:ident),+) )*) => {$(
        impl<$($name: Into<Value>),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Vec<Value> {
                let ($($name,)+) = self;
                vec![$($name.into()),+]
            }

            #[allow(non_snake_case)]
            fn encode_args(self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                let count = [$(stringify!($name)),+].len();
                cbor::write_array_head(out, count);
                $( cbor::encode_into(&$name.into(), out); )+
            }
        }
    )*};
}
tuple_args! {
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
}

thread_local! {
    /// Per-thread buffer for encoding arguments of synchronous calls.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with `args` encoded, in this thread's reusable buffer when it
/// is free (a host function calling back on the same thread nests here and
/// then gets a fresh buffer).
pub(crate) fn with_encoded<R>(args: impl IntoArgs, f: impl FnOnce(&[u8]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            args.encode_args(&mut buf);
            f(&buf)
        }
        Err(_) => {
            let mut buf = Vec::new();
            args.encode_args(&mut buf);
            f(&buf)
        }
    })
}
