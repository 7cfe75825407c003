//! `Value`: a Python value on the Rust side, as the CBOR value mapping of
//! `include/pyctx.h` defines it.

mod bigint;
mod convert;
mod display;

pub use bigint::BigInt;
pub use convert::ListElement;

/// A value crossing between Rust and Python.
///
/// | Rust | Python |
/// |---|---|
/// | `None` | `None` |
/// | `Bool` | `bool` |
/// | `Int` (fits `i128`), `BigInt` (beyond) | `int` |
/// | `Float` | `float` |
/// | `Str` | `str` |
/// | `Bytes` | `bytes` |
/// | `List` | `list` |
/// | `Tuple` | `tuple` |
/// | `Map` (pairs, in order) | `dict` |
/// | `Set` | `set` (`frozenset` where a key must be hashable) |
/// | `Symbol` | `pyctx.Symbol` (a `str` subclass; Erlang atoms) |
/// | `HostTerm` | `pyctx.HostTerm`: opaque bytes Python hands back unchanged |
/// | `Buffer` | a `memoryview` of the request's attached [`Buffer`](crate::Buffer) of that index (arguments only) |
/// | `Object` | the Python object an [`Object`](crate::Object) handle refers to (arguments only) |
///
/// `Map` and `Set` compare equal regardless of order, like Python's dict
/// and set; everything else compares structurally (so `NaN != NaN`).
///
/// ```
/// use pyctx::Value;
/// let v = Value::from(vec![1, 2, 3]);
/// assert_eq!(v, Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
/// let back: Vec<i32> = v.try_into().unwrap();
/// assert_eq!(back, [1, 2, 3]);
/// assert_eq!(Value::from((1, "a")).to_string(), "(1, 'a')");
/// ```
///
/// `#[non_exhaustive]`: the value mapping may gain variants (as it gained
/// `Object` and `Buffer`), so a `match` outside this crate needs a `_` arm:
///
/// ```
/// use pyctx::Value;
/// fn describe(v: &Value) -> &'static str {
///     match v {
///         Value::Int(_) | Value::BigInt(_) => "an integer",
///         Value::Str(_) => "a string",
///         _ => "something else",
///     }
/// }
/// assert_eq!(describe(&Value::from(3)), "an integer");
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Value {
    /// Python `None` (CBOR null or undefined).
    #[default]
    None,
    Bool(bool),
    /// Any integer that fits `i128`.
    Int(i128),
    /// An integer beyond `i128`. Build it with `Value::from(BigInt)`, which
    /// gives `Int` when the number fits.
    BigInt(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// A dict: key/value pairs in insertion order; keys may be any value
    /// Python can hash.
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Symbol(String),
    HostTerm(Vec<u8>),
    /// A reference to the object of an [`Object`](crate::Object) handle
    /// (`Value::from(&object)`): in arguments, Python receives the object
    /// itself. A request with [`ResultForm::Object`](crate::ResultForm)
    /// has one as its value.
    Object(ObjectRef),
    /// The index of a [`Buffer`](crate::Buffer) attached to the request
    /// ([`Call::attach`](crate::Call::attach)): Python receives a
    /// `memoryview` of its memory. Only valid in a request's arguments.
    Buffer(u32),
}

/// The plain data naming an object handle's Python object: its context's
/// key and the handle's id (CBOR tag `PYCTX_CBOR_TAG_OBJECT` enclosing
/// `[key, id]`). It does not keep the object alive: a reference to a
/// released object, or sent to another context, fails the request with
/// [`ErrorKind::Decode`](crate::ErrorKind::Decode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// The key of the context the object lives in.
    pub key: u64,
    /// The handle's id there ([`Object::id`](crate::Object::id)).
    pub id: u64,
}

impl Value {
    /// A list of anything convertible.
    pub fn list<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }

    /// A tuple of anything convertible.
    pub fn tuple<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
        Value::Tuple(items.into_iter().map(Into::into).collect())
    }

    /// A set of anything convertible (duplicates are Python's business).
    pub fn set<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Value {
        Value::Set(items.into_iter().map(Into::into).collect())
    }

    /// A dict from key/value pairs.
    pub fn map<K: Into<Value>, V: Into<Value>>(pairs: impl IntoIterator<Item = (K, V)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// A `pyctx.Symbol`.
    pub fn symbol(name: impl Into<String>) -> Value {
        Value::Symbol(name.into())
    }

    /// A byte string (also see `From<Vec<u8>>`).
    pub fn bytes(data: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(data.into())
    }

    /// An opaque host term.
    pub fn host_term(data: impl Into<Vec<u8>>) -> Value {
        Value::HostTerm(data.into())
    }

    /// The Python type this value becomes, e.g. `"int"` or `"tuple"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Map(_) => "dict",
            Value::Set(_) => "set",
            Value::Symbol(_) => "Symbol",
            Value::HostTerm(_) => "HostTerm",
            Value::Object(_) => "object",
            Value::Buffer(_) => "memoryview",
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer when it fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => i64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// A float, or an int that converts to `f64` exactly.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(n) if n.unsigned_abs() <= 1 << 53 => Some(*n as f64),
            _ => None,
        }
    }

    /// The text of a `Str` or `Symbol`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes of `Bytes` (not of a host term).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items of a `List`, `Tuple` or `Set`.
    pub fn as_slice(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => Some(items),
            _ => None,
        }
    }

    /// The pairs of a `Map`.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(pairs) => Some(pairs),
            _ => None,
        }
    }

    /// The value under `key` in a `Map` (first match), e.g. `v.get("name")`.
    pub fn get(&self, key: impl Into<Value>) -> Option<&Value> {
        let key = key.into();
        self.as_map()?.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (None, None) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (BigInt(a), BigInt(b)) => a == b,
            (Float(a), Float(b)) => a == b,
            (Str(a), Str(b)) | (Symbol(a), Symbol(b)) => a == b,
            (Bytes(a), Bytes(b)) | (HostTerm(a), HostTerm(b)) => a == b,
            (Object(a), Object(b)) => a == b,
            (Buffer(a), Buffer(b)) => a == b,
            (List(a), List(b)) | (Tuple(a), Tuple(b)) => a == b,
            (Set(a), Set(b)) => same_multiset(a, b),
            (Map(a), Map(b)) => same_multiset(a, b),
            _ => false,
        }
    }
}

/// Equality ignoring order. Quadratic, which is fine for the sizes values
/// crossing the boundary have; Value cannot hash (floats). Plain loops keep
/// the stack frames of deeply nested comparisons small.
fn same_multiset<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    for x in a {
        let mut found = false;
        for (i, y) in b.iter().enumerate() {
            if !used[i] && x == y {
                used[i] = true;
                found = true;
                break;
            }
        }
        if !found {
            return false;
        }
    }
    true
}
