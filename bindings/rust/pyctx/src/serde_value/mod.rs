//! `serde` support (the `serde` feature): any `Serialize` type becomes a
//! [`Value`] and any `Deserialize` type can be read out of one, so Rust
//! structs and enums cross into Python as dicts, lists and scalars.
//!
//! The mapping follows serde's data model the way `serde_json` does, with
//! Python's richer types where they fit:
//!
//! | serde | `Value` | Python |
//! |---|---|---|
//! | bool, integers (up to 128 bits), floats | `Bool`, `Int`/`BigInt`, `Float` | bool, int, float |
//! | char, str | `Str` | str |
//! | bytes (`serde_bytes`, `Value::Bytes`) | `Bytes` | bytes |
//! | `None`, `()`, unit struct | `None` | None |
//! | `Some(x)`, newtype struct | `x` | `x` |
//! | seq | `List` | list |
//! | tuple, tuple struct | `Tuple` | tuple |
//! | map, struct | `Map` (struct fields as `Str` keys) | dict |
//! | unit variant | `Str` (the variant name) | str |
//! | other variants | `Map` of one entry, variant name to content | `{"Variant": ...}` |
//!
//! Reading accepts what Python sends back: a list, tuple or set for a
//! sequence, a `Symbol` for a string, an `int` for a float field. An integer
//! beyond 128 bits has no serde form and fails with a conversion error.
//!
//! ```
//! # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
//! # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Point { x: i64, y: i64 }
//!
//! ctx.exec("def mirror(p): return {'x': p['y'], 'y': p['x']}").unwrap();
//! let back: Point = ctx.call_serde("__main__", "mirror", &(Point { x: 1, y: 2 },)).unwrap();
//! assert_eq!(back, Point { x: 2, y: 1 });
//! ```

mod de;
mod ser;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::value::Value;

/// Converts any `Serialize` value into a [`Value`].
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value> {
    value.serialize(ser::ValueSerializer)
}

/// Reads any `Deserialize` type out of a [`Value`].
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T> {
    T::deserialize(de::ValueDeserializer::new(value))
}

impl Value {
    /// [`from_value`] as a method: `let p: Point = value.deserialize_into()?`.
    pub fn deserialize_into<T: DeserializeOwned>(self) -> Result<T> {
        from_value(self)
    }
}

impl Context {
    /// Calls `module.function(*args)` with `args` serialized (a tuple or a
    /// sequence of the positional arguments: `&(a, b)`, `&vec![..]`) and
    /// deserializes the result into `R`.
    pub fn call_serde<A, R>(&self, module: &str, function: &str, args: &A) -> Result<R>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let args = match to_value(args)? {
            Value::Tuple(items) | Value::List(items) => items,
            other => {
                return Err(Error::invalid_argument(format!(
                    "call_serde arguments must serialize as a tuple or a sequence, not {}",
                    other.type_name()
                )));
            }
        };
        from_value(self.call(module, function, args)?)
    }
}
