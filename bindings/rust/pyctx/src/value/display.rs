//! `Display` for `Value`: Python's `repr()` notation.

use std::fmt::{self, Display, Formatter, Write};

use super::Value;

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(n) => write!(f, "{n}"),
            Value::BigInt(n) => write!(f, "{n}"),
            Value::Float(x) => write_float(f, *x),
            Value::Str(s) => write_str(f, s),
            Value::Symbol(s) => {
                f.write_str("Symbol(")?;
                write_str(f, s)?;
                f.write_char(')')
            }
            Value::Bytes(b) => write_bytes(f, b),
            Value::HostTerm(b) => {
                f.write_str("HostTerm(")?;
                write_bytes(f, b)?;
                f.write_char(')')
            }
            Value::Buffer(i) => write!(f, "Buffer({i})"),
            Value::Object(r) => write!(f, "Object(key={}, id={})", r.key, r.id),
            Value::List(items) => write_seq(f, "[", items, "]"),
            Value::Tuple(items) if items.len() == 1 => write_seq(f, "(", items, ",)"),
            Value::Tuple(items) => write_seq(f, "(", items, ")"),
            Value::Set(items) if items.is_empty() => f.write_str("set()"),
            Value::Set(items) => write_seq(f, "{", items, "}"),
            Value::Map(pairs) => {
                f.write_char('{')?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_char('}')
            }
        }
    }
}

fn write_seq(f: &mut Formatter<'_>, open: &str, items: &[Value], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        Display::fmt(item, f)?;
    }
    f.write_str(close)
}

fn write_float(f: &mut Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_nan() {
        f.write_str("nan")
    } else if x.is_infinite() {
        f.write_str(if x > 0.0 { "inf" } else { "-inf" })
    } else if x == x.trunc() && x.abs() < 1e16 {
        write!(f, "{x:.1}")
    } else {
        write!(f, "{x}")
    }
}

fn write_str(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

fn write_bytes(f: &mut Formatter<'_>, b: &[u8]) -> fmt::Result {
    f.write_str("b'")?;
    for &byte in b {
        match byte {
            b'\'' => f.write_str("\\'")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            0x20..=0x7e => f.write_char(byte as char)?,
            _ => write!(f, "\\x{byte:02x}")?,
        }
    }
    f.write_char('\'')
}

#[cfg(test)]
mod tests {
    use crate::{BigInt, Value};

    #[test]
    fn renders_like_python_repr() {
        let v = Value::map([
            (Value::from("k"), Value::list([Value::from(1.0), Value::from(true), Value::None])),
            (Value::tuple([7]), Value::Bytes(b"a'\x00".to_vec())),
        ]);
        assert_eq!(v.to_string(), r"{'k': [1.0, True, None], (7,): b'a\'\x00'}");
        assert_eq!(Value::set(Vec::<i32>::new()).to_string(), "set()");
        assert_eq!(Value::symbol("ok").to_string(), "Symbol('ok')");
        assert_eq!(Value::from(f64::NEG_INFINITY).to_string(), "-inf");
        assert_eq!(Value::BigInt(BigInt::from(u128::MAX)).to_string(), u128::MAX.to_string());
    }
}
