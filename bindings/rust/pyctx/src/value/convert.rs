//! `From`/`TryFrom` between `Value` and the usual Rust types.
//!
//! `Vec<u8>` is a byte string (`bytes`) while a `Vec` of anything else is a
//! list. Rust cannot tell those impls apart by itself, so the element types
//! of list conversions carry the marker trait [`ListElement`], which every
//! convertible type except `u8` has.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::hash::{BuildHasher, Hash};

use super::{BigInt, Value};
use crate::error::Error;

/// Marks types whose `Vec` converts to and from a Python `list`. Every
/// convertible type has it except `u8` (`Vec<u8>` is `bytes`). Implement it
/// for your own `Into<Value>`/`TryFrom<Value>` types to convert `Vec`s of
/// them too.
pub trait ListElement {}

impl From<Infallible> for Error {
    fn from(never: Infallible) -> Error {
        match never {}
    }
}

fn mismatch(expected: &str, found: &Value) -> Error {
    Error::conversion(format!("expected {expected}, found {}", found.type_name()))
}

// ---- scalars -----------------------------------------------------------------

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Int(v as i128)
            }
        }
        impl TryFrom<Value> for $t {
            type Error = Error;
            fn try_from(v: Value) -> Result<$t, Error> {
                match v {
                    Value::Int(n) => <$t>::try_from(n).map_err(|_| {
                        Error::conversion(format!("{n} does not fit {}", stringify!($t)))
                    }),
                    Value::BigInt(ref n) => {
                        Err(Error::conversion(format!("{n} does not fit {}", stringify!($t))))
                    }
                    other => Err(mismatch("int", &other)),
                }
            }
        }
    )*};
}
integers!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, usize);

impl From<u128> for Value {
    fn from(v: u128) -> Value {
        match i128::try_from(v) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::BigInt(BigInt::from(v)),
        }
    }
}

impl TryFrom<Value> for u128 {
    type Error = Error;
    fn try_from(v: Value) -> Result<u128, Error> {
        match v {
            Value::Int(n) => {
                u128::try_from(n).map_err(|_| Error::conversion(format!("{n} does not fit u128")))
            }
            Value::BigInt(ref n) if !n.is_negative() && n.magnitude().len() <= 16 => {
                Ok(n.magnitude().iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b)))
            }
            Value::BigInt(ref n) => Err(Error::conversion(format!("{n} does not fit u128"))),
            other => Err(mismatch("int", &other)),
        }
    }
}

impl From<BigInt> for Value {
    /// `Int` when the number fits `i128`, else `BigInt`.
    fn from(v: BigInt) -> Value {
        match v.to_i128() {
            Some(n) => Value::Int(n),
            None => Value::BigInt(v),
        }
    }
}

impl TryFrom<Value> for BigInt {
    type Error = Error;
    fn try_from(v: Value) -> Result<BigInt, Error> {
        match v {
            Value::Int(n) => Ok(BigInt::from(n)),
            Value::BigInt(n) => Ok(n),
            other => Err(mismatch("int", &other)),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Float(f64::from(v))
    }
}

impl TryFrom<Value> for f64 {
    type Error = Error;
    /// A float, or an int that `f64` holds exactly.
    fn try_from(v: Value) -> Result<f64, Error> {
        v.as_f64().ok_or_else(|| match v {
            Value::Int(_) | Value::BigInt(_) => Error::conversion(format!("{v} is not exact as f64")),
            other => mismatch("float", &other),
        })
    }
}

impl TryFrom<Value> for f32 {
    type Error = Error;
    /// Like `f64`, then rounded to `f32`.
    fn try_from(v: Value) -> Result<f32, Error> {
        f64::try_from(v).map(|x| x as f32)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl TryFrom<Value> for bool {
    type Error = Error;
    fn try_from(v: Value) -> Result<bool, Error> {
        v.as_bool().ok_or_else(|| mismatch("bool", &v))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Str(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Str(v.to_owned())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Str(v.clone())
    }
}

impl From<char> for Value {
    fn from(v: char) -> Value {
        Value::Str(v.to_string())
    }
}

impl TryFrom<Value> for String {
    type Error = Error;
    /// The text of a `str` or a `Symbol`.
    fn try_from(v: Value) -> Result<String, Error> {
        match v {
            Value::Str(s) | Value::Symbol(s) => Ok(s),
            other => Err(mismatch("str", &other)),
        }
    }
}

impl TryFrom<Value> for () {
    type Error = Error;
    /// Accepts only `None` (e.g. the result of `exec`).
    fn try_from(v: Value) -> Result<(), Error> {
        if v.is_none() { Ok(()) } else { Err(mismatch("None", &v)) }
    }
}

// ---- bytes ---------------------------------------------------------------------

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Bytes(v.to_vec())
    }
}

impl TryFrom<Value> for Vec<u8> {
    type Error = Error;
    fn try_from(v: Value) -> Result<Vec<u8>, Error> {
        match v {
            Value::Bytes(b) => Ok(b),
            other => Err(mismatch("bytes", &other)),
        }
    }
}

// ---- Option --------------------------------------------------------------------

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::None, Into::into)
    }
}

// A generic `TryFrom<Value> for Option<T>` would overlap std's
// `From<T> for Option<T>` at T = Value, hence one impl per type.
macro_rules! options {
    ($($t:ty),*) => {$(
        impl TryFrom<Value> for Option<$t> {
            type Error = Error;
            /// `None` for Python `None`, else the value converted.
            fn try_from(v: Value) -> Result<Option<$t>, Error> {
                if v.is_none() { Ok(None) } else { <$t>::try_from(v).map(Some) }
            }
        }
    )*};
}
options!(
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    bool,
    String,
    Vec<u8>,
    BigInt
);

// ---- sequences -------------------------------------------------------------------

macro_rules! list_elements {
    ($($t:ty),*) => {$( impl ListElement for $t {} )*};
}
list_elements!(
    i8, i16, i32, i64, i128, isize, u16, u32, u64, u128, usize, f32, f64, bool, char, String, BigInt, Value
);
impl ListElement for &str {}
impl<T> ListElement for Vec<T> {}
impl<T> ListElement for Option<T> {}
impl<K, V, S> ListElement for HashMap<K, V, S> {}
impl<K, V> ListElement for BTreeMap<K, V> {}
impl<T, S> ListElement for HashSet<T, S> {}
impl<T> ListElement for BTreeSet<T> {}

impl<T: ListElement + Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

impl<T: ListElement + Into<Value> + Clone> From<&[T]> for Value {
    fn from(v: &[T]) -> Value {
        Value::List(v.iter().cloned().map(Into::into).collect())
    }
}

/// The items of a list, tuple or set.
fn into_items(v: Value) -> Result<Vec<Value>, Error> {
    match v {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => Ok(items),
        other => Err(mismatch("list, tuple or set", &other)),
    }
}

fn convert_items<T, C>(v: Value) -> Result<C, Error>
where
    T: TryFrom<Value>,
    Error: From<T::Error>,
    C: FromIterator<T>,
{
    into_items(v)?.into_iter().map(|item| T::try_from(item).map_err(Error::from)).collect()
}

impl<T> TryFrom<Value> for Vec<T>
where
    T: ListElement + TryFrom<Value>,
    Error: From<T::Error>,
{
    type Error = Error;
    /// From a list, tuple or set.
    fn try_from(v: Value) -> Result<Vec<T>, Error> {
        convert_items(v)
    }
}

impl<T: Into<Value>, S> From<HashSet<T, S>> for Value {
    fn from(v: HashSet<T, S>) -> Value {
        Value::Set(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<BTreeSet<T>> for Value {
    fn from(v: BTreeSet<T>) -> Value {
        Value::Set(v.into_iter().map(Into::into).collect())
    }
}

impl<T, S> TryFrom<Value> for HashSet<T, S>
where
    T: TryFrom<Value> + Eq + Hash,
    Error: From<T::Error>,
    S: BuildHasher + Default,
{
    type Error = Error;
    /// From a set, list or tuple.
    fn try_from(v: Value) -> Result<HashSet<T, S>, Error> {
        convert_items(v)
    }
}

impl<T> TryFrom<Value> for BTreeSet<T>
where
    T: TryFrom<Value> + Ord,
    Error: From<T::Error>,
{
    type Error = Error;
    /// From a set, list or tuple.
    fn try_from(v: Value) -> Result<BTreeSet<T>, Error> {
        convert_items(v)
    }
}

// ---- maps ------------------------------------------------------------------------

impl<K: Into<Value>, V: Into<Value>, S> From<HashMap<K, V, S>> for Value {
    fn from(v: HashMap<K, V, S>) -> Value {
        Value::Map(v.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl<K: Into<Value>, V: Into<Value>> From<BTreeMap<K, V>> for Value {
    fn from(v: BTreeMap<K, V>) -> Value {
        Value::Map(v.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

fn convert_pairs<K, V, C>(v: Value) -> Result<C, Error>
where
    K: TryFrom<Value>,
    V: TryFrom<Value>,
    Error: From<K::Error> + From<V::Error>,
    C: FromIterator<(K, V)>,
{
    match v {
        Value::Map(pairs) => pairs.into_iter().map(|(k, v)| Ok((K::try_from(k)?, V::try_from(v)?))).collect(),
        other => Err(mismatch("dict", &other)),
    }
}

impl<K, V, S> TryFrom<Value> for HashMap<K, V, S>
where
    K: TryFrom<Value> + Eq + Hash,
    V: TryFrom<Value>,
    Error: From<K::Error> + From<V::Error>,
    S: BuildHasher + Default,
{
    type Error = Error;
    fn try_from(v: Value) -> Result<HashMap<K, V, S>, Error> {
        convert_pairs(v)
    }
}

impl<K, V> TryFrom<Value> for BTreeMap<K, V>
where
    K: TryFrom<Value> + Ord,
    V: TryFrom<Value>,
    Error: From<K::Error> + From<V::Error>,
{
    type Error = Error;
    fn try_from(v: Value) -> Result<BTreeMap<K, V>, Error> {
        convert_pairs(v)
    }
}

// ---- tuples ----------------------------------------------------------------------

macro_rules! tuples {
    ($( ($len:expr; $($name:ident),+) )*) => {$(
        impl<$($name: Into<Value>),+> From<($($name,)+)> for Value {
            #[allow(non_snake_case)]
            fn from(($($name,)+): ($($name,)+)) -> Value {
                Value::Tuple(vec![$($name.into()),+])
            }
        }

        impl<$($name),+> TryFrom<Value> for ($($name,)+)
        where
            $($name: TryFrom<Value>, Error: From<$name::Error>,)+
        {
            type Error = Error;
            /// From a tuple or list of exactly this length.
            fn try_from(v: Value) -> Result<($($name,)+), Error> {
                let items = match v {
                    Value::Tuple(items) | Value::List(items) => items,
                    other => return Err(mismatch("tuple", &other)),
                };
                if items.len() != $len {
                    return Err(Error::conversion(format!(
                        "expected a tuple of {} items, found {}", $len, items.len()
                    )));
                }
                let mut items = items.into_iter();
                Ok(($($name::try_from(items.next().expect("length checked"))?,)+))
            }
        }

        impl<$($name),+> ListElement for ($($name,)+) {}
    )*};
}
tuples! {
    (1; A)
    (2; A, B)
    (3; A, B, C)
    (4; A, B, C, D)
    (5; A, B, C, D, E)
    (6; A, B, C, D, E, F)
    (7; A, B, C, D, E, F, G)
    (8; A, B, C, D, E, F, G, H)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_convert_with_range_checks() {
        assert_eq!(Value::from(-5i8), Value::Int(-5));
        assert_eq!(u8::try_from(Value::Int(255)).unwrap(), 255);
        let err = u8::try_from(Value::Int(256)).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Conversion);
        assert!(err.message().contains("256"), "{err}");
        assert!(i64::try_from(Value::from("7")).is_err());
        assert_eq!(Value::from(u128::MAX), Value::BigInt(BigInt::from(u128::MAX)));
        assert_eq!(u128::try_from(Value::from(u128::MAX)).unwrap(), u128::MAX);
        assert_eq!(Value::from(BigInt::from(12i128)), Value::Int(12));
    }

    #[test]
    fn floats_accept_exact_ints_only() {
        assert_eq!(f64::try_from(Value::Int(3)).unwrap(), 3.0);
        assert!(f64::try_from(Value::Int((1 << 53) + 1)).is_err());
        assert!(f64::try_from(Value::Str("x".into())).is_err());
    }

    #[test]
    fn byte_vectors_are_bytes_other_vectors_are_lists() {
        assert_eq!(Value::from(vec![1u8, 2]), Value::Bytes(vec![1, 2]));
        assert_eq!(Value::from(vec![1u16, 2]), Value::list([1, 2]));
        assert_eq!(Vec::<u8>::try_from(Value::Bytes(vec![9])).unwrap(), [9]);
        assert!(Vec::<u8>::try_from(Value::list([1])).is_err());
        let nested: Vec<Vec<String>> = Value::from(vec![vec!["a"], vec![]]).try_into().unwrap();
        assert_eq!(nested, [vec!["a".to_string()], vec![]]);
    }

    #[test]
    fn maps_sets_tuples_and_options() {
        let mut m = HashMap::new();
        m.insert("a".to_string(), 1i64);
        let v = Value::from(m.clone());
        assert_eq!(HashMap::<String, i64>::try_from(v).unwrap(), m);
        let b: BTreeMap<i32, bool> = Value::map([(2, true), (1, false)]).try_into().unwrap();
        assert_eq!(b.into_iter().collect::<Vec<_>>(), [(1, false), (2, true)]);
        let s: BTreeSet<i32> = Value::set([3, 1, 3]).try_into().unwrap();
        assert_eq!(s.into_iter().collect::<Vec<_>>(), [1, 3]);
        let t: (i32, String, Option<f64>) = Value::from((1, "x", None::<f64>)).try_into().unwrap();
        assert_eq!(t, (1, "x".to_string(), None));
        let err = <(i32, i32)>::try_from(Value::tuple([1])).unwrap_err();
        assert!(err.message().contains("2 items"), "{err}");
    }

    #[test]
    fn sets_and_maps_compare_without_order() {
        assert_eq!(Value::set([1, 2, 2]), Value::set([2, 1, 2]));
        assert_ne!(Value::set([1, 1, 2]), Value::set([1, 2, 2]));
        assert_eq!(Value::map([(1, "a"), (2, "b")]), Value::map([(2, "b"), (1, "a")]));
        assert_ne!(Value::list([1, 2]), Value::list([2, 1]));
        assert_ne!(Value::list([1]), Value::tuple([1]));
    }
}
