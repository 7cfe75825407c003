//! `Value` -> CBOR. Shortest heads, floats as float64 (as the library
//! encodes them), integers beyond 64 bits as bignums.

use super::*;
use crate::value::{BigInt, Value};

/// Encodes one value.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the encoding of `value` to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::None => out.push(0xf6),
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Int(n) => write_int(out, *n),
        Value::BigInt(n) => write_bigint(out, n),
        Value::Float(x) => {
            out.push(0xfb);
            out.extend_from_slice(&x.to_bits().to_be_bytes());
        }
        Value::Str(s) => write_str(out, MAJOR_TEXT, s.as_bytes()),
        Value::Bytes(b) => write_str(out, MAJOR_BYTES, b),
        Value::List(items) => encode_array(out, items),
        Value::Tuple(items) => {
            write_head(out, MAJOR_TAG, TAG_TUPLE);
            encode_array(out, items);
        }
        Value::Set(items) => {
            write_head(out, MAJOR_TAG, TAG_SET);
            encode_array(out, items);
        }
        Value::Map(pairs) => {
            write_head(out, MAJOR_MAP, pairs.len() as u64);
            for (k, v) in pairs {
                encode_into(k, out);
                encode_into(v, out);
            }
        }
        Value::Symbol(s) => {
            write_head(out, MAJOR_TAG, TAG_SYMBOL);
            write_str(out, MAJOR_TEXT, s.as_bytes());
        }
        Value::HostTerm(b) => {
            write_head(out, MAJOR_TAG, TAG_HOST_TERM);
            write_str(out, MAJOR_BYTES, b);
        }
        Value::Buffer(index) => {
            write_head(out, MAJOR_TAG, TAG_BUFFER);
            write_head(out, MAJOR_UINT, u64::from(*index));
        }
        Value::Object(r) => {
            write_head(out, MAJOR_TAG, TAG_OBJECT);
            write_head(out, MAJOR_ARRAY, 2);
            write_head(out, MAJOR_UINT, r.key);
            write_head(out, MAJOR_UINT, r.id);
        }
    }
}

/// A map with text keys (kwargs, eval locals).
pub(crate) fn encode_map_str_keys(out: &mut Vec<u8>, pairs: &[(String, Value)]) {
    write_head(out, MAJOR_MAP, pairs.len() as u64);
    for (k, v) in pairs {
        write_str(out, MAJOR_TEXT, k.as_bytes());
        encode_into(v, out);
    }
}

/// The head of an array of `count` items, which the caller writes next.
pub(crate) fn write_array_head(out: &mut Vec<u8>, count: usize) {
    write_head(out, MAJOR_ARRAY, count as u64);
}

/// An array of values (also the argument list of a call).
pub(crate) fn encode_array(out: &mut Vec<u8>, items: &[Value]) {
    write_head(out, MAJOR_ARRAY, items.len() as u64);
    for item in items {
        encode_into(item, out);
    }
}

pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u64::from(u8::MAX) {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= u64::from(u16::MAX) {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

pub(crate) fn write_str(out: &mut Vec<u8>, major: u8, data: &[u8]) {
    write_head(out, major, data.len() as u64);
    out.extend_from_slice(data);
}

fn write_int(out: &mut Vec<u8>, n: i128) {
    if let Ok(u) = u64::try_from(n) {
        write_head(out, MAJOR_UINT, u);
    } else if let Ok(u) = u64::try_from(-1 - n) {
        write_head(out, MAJOR_NEGINT, u);
    } else {
        write_bigint(out, &BigInt::from(n));
    }
}

fn write_bigint(out: &mut Vec<u8>, n: &BigInt) {
    if let Some(small) = n.to_i128() {
        if (-(1i128 << 64)..(1i128 << 64)).contains(&small) {
            return write_int(out, small);
        }
    }
    if n.is_negative() {
        // Tag 3 carries |n| - 1.
        let mut m = n.magnitude().to_vec();
        for byte in m.iter_mut().rev() {
            let (v, borrow) = byte.overflowing_sub(1);
            *byte = v;
            if !borrow {
                break;
            }
        }
        let start = m.iter().position(|&b| b != 0).unwrap_or(m.len());
        write_head(out, MAJOR_TAG, TAG_NEG_BIGNUM);
        write_str(out, MAJOR_BYTES, &m[start..]);
    } else {
        write_head(out, MAJOR_TAG, TAG_POS_BIGNUM);
        write_str(out, MAJOR_BYTES, n.magnitude());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(v: &Value) -> String {
        encode(v).iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc8949_appendix_a_examples() {
        assert_eq!(hex(&Value::Int(0)), "00");
        assert_eq!(hex(&Value::Int(23)), "17");
        assert_eq!(hex(&Value::Int(24)), "1818");
        assert_eq!(hex(&Value::Int(1000)), "1903e8");
        assert_eq!(hex(&Value::Int(1000000)), "1a000f4240");
        assert_eq!(hex(&Value::Int(1000000000000)), "1b000000e8d4a51000");
        assert_eq!(hex(&Value::from(u64::MAX)), "1bffffffffffffffff");
        assert_eq!(hex(&Value::Int(18446744073709551616)), "c249010000000000000000");
        assert_eq!(hex(&Value::Int(-18446744073709551616)), "3bffffffffffffffff");
        assert_eq!(hex(&Value::Int(-18446744073709551617)), "c349010000000000000000");
        assert_eq!(hex(&Value::Int(-1000)), "3903e7");
        assert_eq!(hex(&Value::Float(1.1)), "fb3ff199999999999a");
        assert_eq!(hex(&Value::Str("IETF".into())), "6449455446");
        assert_eq!(hex(&Value::Str("\u{6c34}".into())), "63e6b0b4");
        assert_eq!(hex(&Value::Bytes(vec![1, 2, 3, 4])), "4401020304");
        assert_eq!(hex(&Value::list([1, 2, 3])), "83010203");
        assert_eq!(hex(&Value::map([("a", 1)])), "a1616101");
        assert_eq!(hex(&Value::None), "f6");
        assert_eq!(hex(&Value::Bool(true)), "f5");
    }

    #[test]
    fn pyctx_tags() {
        assert_eq!(hex(&Value::set([1])), "d901028101");
        assert_eq!(hex(&Value::symbol("ok")), "d827626f6b");
        assert_eq!(hex(&Value::tuple(Vec::<i32>::new())), "d9707980");
        assert_eq!(hex(&Value::host_term(vec![0xff])), "d9707a41ff");
        let r = crate::value::ObjectRef { key: 1000, id: 7 };
        assert_eq!(hex(&Value::Object(r)), "d9707c821903e807");
        assert_eq!(hex(&Value::Buffer(2)), "d9706202");
    }
}
