//! `Deserialize` types out of [`Value`]s, and `Value` itself as
//! `Deserialize`.

use std::fmt::{self, Display};

use serde::de::{self, Deserialize, DeserializeSeed, IntoDeserializer, Visitor};

use crate::error::Error;
use crate::value::Value;

impl de::Error for Error {
    fn custom<T: Display>(msg: T) -> Error {
        Error::conversion(msg.to_string())
    }
}

/// Feeds one [`Value`] to a serde visitor (see the module table).
pub(super) struct ValueDeserializer {
    value: Value,
}

impl ValueDeserializer {
    pub(super) fn new(value: Value) -> ValueDeserializer {
        ValueDeserializer { value }
    }
}

impl<'de> IntoDeserializer<'de, Error> for ValueDeserializer {
    type Deserializer = ValueDeserializer;
    fn into_deserializer(self) -> ValueDeserializer {
        self
    }
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::None => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(n) => match i64::try_from(*n) {
            Ok(small) => de::Unexpected::Signed(small),
            Err(_) => de::Unexpected::Other("a 128-bit integer"),
        },
        Value::BigInt(_) => de::Unexpected::Other("an integer beyond 128 bits"),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Str(s) | Value::Symbol(s) => de::Unexpected::Str(s),
        Value::Bytes(b) | Value::HostTerm(b) => de::Unexpected::Bytes(b),
        Value::List(_) | Value::Tuple(_) | Value::Set(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
        Value::Object(_) => de::Unexpected::Other("an object reference"),
        Value::Buffer(_) => de::Unexpected::Other("an attached buffer reference"),
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(n) => {
                if let Ok(small) = i64::try_from(n) {
                    visitor.visit_i64(small)
                } else if let Ok(unsigned) = u64::try_from(n) {
                    visitor.visit_u64(unsigned)
                } else {
                    visitor.visit_i128(n)
                }
            }
            big @ Value::BigInt(_) => match u128::try_from(big.clone()) {
                Ok(n) => visitor.visit_u128(n),
                Err(_) => Err(Error::conversion(format!("the integer {big} is beyond 128 bits"))),
            },
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) | Value::Symbol(s) => visitor.visit_string(s),
            Value::Bytes(b) | Value::HostTerm(b) => visitor.visit_byte_buf(b),
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => visit_seq(items, visitor),
            Value::Map(pairs) => visit_map(pairs, visitor),
            Value::Buffer(i) => {
                Err(Error::conversion(format!("an attached buffer reference ({i}) has no serde form")))
            }
            Value::Object(r) => Err(Error::conversion(format!(
                "an object reference (key {}, id {}) has no serde form",
                r.key, r.id
            ))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::None => visitor.visit_unit(),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Str(name) | Value::Symbol(name) => visitor.visit_enum(EnumAccess { name, content: None }),
            Value::Map(mut pairs) if pairs.len() == 1 => {
                let (key, content) = pairs.pop().expect("one pair");
                match key {
                    Value::Str(name) | Value::Symbol(name) => {
                        visitor.visit_enum(EnumAccess { name, content: Some(content) })
                    }
                    other => Err(Error::conversion(format!(
                        "an enum variant name must be a str, not {}",
                        other.type_name()
                    ))),
                }
            }
            other => Err(de::Error::invalid_type(unexpected(&other), &"a variant name or a one-entry dict")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map struct identifier ignored_any
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, Error> {
    let len = items.len();
    let mut access = de::value::SeqDeserializer::new(items.into_iter().map(ValueDeserializer::new));
    let out = visitor.visit_seq(&mut access)?;
    access.end().map_err(|_| Error::conversion(format!("a sequence of {len} items has items left over")))?;
    Ok(out)
}

fn visit_map<'de, V: Visitor<'de>>(pairs: Vec<(Value, Value)>, visitor: V) -> Result<V::Value, Error> {
    let mut access = de::value::MapDeserializer::new(
        pairs.into_iter().map(|(k, v)| (ValueDeserializer::new(k), ValueDeserializer::new(v))),
    );
    let out = visitor.visit_map(&mut access)?;
    access.end()?;
    Ok(out)
}

/// An enum: the variant's name and, unless it is a unit variant, its content.
struct EnumAccess {
    name: String,
    content: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = Error;
    type Variant = VariantAccess;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, VariantAccess), Error> {
        let name = seed.deserialize(ValueDeserializer::new(Value::Str(self.name)))?;
        Ok((name, VariantAccess { content: self.content }))
    }
}

struct VariantAccess {
    content: Option<Value>,
}

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.content {
            None | Some(Value::None) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"a unit variant")),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        match self.content {
            Some(content) => seed.deserialize(ValueDeserializer::new(content)),
            None => Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"a newtype variant")),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.content {
            Some(Value::List(items) | Value::Tuple(items)) => visit_seq(items, visitor),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
            None => Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &visitor)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.content {
            Some(Value::Map(pairs)) => visit_map(pairs, visitor),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
            None => Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &visitor)),
        }
    }
}

/// Any serde format into a `Value`: sequences become lists, maps dicts,
/// unit and `None` become `None`.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(AnyValue)
    }
}

struct AnyValue;

impl<'de> Visitor<'de> for AnyValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value Python can hold")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(pair) = map.next_entry()? {
            pairs.push(pair);
        }
        Ok(Value::Map(pairs))
    }
}
