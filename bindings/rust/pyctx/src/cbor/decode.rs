//! CBOR -> `Value`. Accepts everything the library can produce and every
//! well-formed input of the value mapping: all integer widths, bignums,
//! half/single/double floats, indefinite-length strings, arrays and maps.
//! Errors name the problem and the byte offset.
//!
//! The decoder keeps open containers on an explicit stack instead of
//! recursing, so the deepest legal value (256 levels) needs no more thread
//! stack than a flat one, on any thread, in debug builds too.

use super::*;
use crate::error::Error;
use crate::value::{BigInt, ObjectRef, Value};

/// Decodes exactly one value; trailing bytes are an error.
pub fn decode(data: &[u8]) -> Result<Value, Error> {
    if let Some(value) = decode_scalar(data) {
        return Ok(value);
    }
    let mut decoder = Decoder { data, pos: 0 };
    let value = decoder.value()?;
    if decoder.pos != data.len() {
        return Err(decoder.error(format!("{} trailing bytes", data.len() - decoder.pos)));
    }
    Ok(value)
}

/// The common results of a call -- one integer, float, bool or None and
/// nothing else -- without the general decoder: the synchronous round trip
/// is short enough for that to show. `None` means "use the decoder".
#[inline]
fn decode_scalar(data: &[u8]) -> Option<Value> {
    let (&initial, rest) = data.split_first()?;
    let (major, info) = (initial >> 5, initial & 0x1f);
    let arg = match (info, rest.len()) {
        (0..=23, 0) => u64::from(info),
        (24, 1) => u64::from(rest[0]),
        (25, 2) => u64::from(u16::from_be_bytes([rest[0], rest[1]])),
        (26, 4) => u64::from(u32::from_be_bytes(rest.try_into().ok()?)),
        (27, 8) => u64::from_be_bytes(rest.try_into().ok()?),
        _ => return None,
    };
    match (major, info) {
        (MAJOR_UINT, _) => Some(Value::Int(i128::from(arg))),
        (MAJOR_NEGINT, _) => Some(Value::Int(-1 - i128::from(arg))),
        (MAJOR_SIMPLE, 20) => Some(Value::Bool(false)),
        (MAJOR_SIMPLE, 21) => Some(Value::Bool(true)),
        (MAJOR_SIMPLE, 22 | 23) => Some(Value::None),
        (MAJOR_SIMPLE, 27) => Some(Value::Float(f64::from_bits(arg))),
        _ => None,
    }
}

/// The head of one data item.
struct Head {
    major: u8,
    /// The argument; for major 7 the raw bits of a float / the simple value.
    arg: u64,
    /// Additional information, the low five bits of the initial byte.
    info: u8,
    indefinite: bool,
    offset: usize,
}

/// What an array becomes once complete.
#[derive(Clone, Copy)]
enum Seq {
    List,
    Tuple,
    Set,
}

/// An open container waiting for its items.
enum Open {
    Array { kind: Seq, items: Vec<Value>, left: Option<usize> },
    Map { pairs: Vec<(Value, Value)>, key: Option<Value>, left: Option<usize> },
}

impl Open {
    /// Items still expected (`None`: indefinite, until a break).
    fn left(&self) -> Option<usize> {
        match self {
            Open::Array { left, .. } | Open::Map { left, .. } => *left,
        }
    }

    fn push(&mut self, value: Value) {
        match self {
            Open::Array { items, left, .. } => {
                items.push(value);
                if let Some(n) = left {
                    *n -= 1;
                }
            }
            Open::Map { pairs, key, left } => match key.take() {
                None => *key = Some(value),
                Some(k) => {
                    pairs.push((k, value));
                    if let Some(n) = left {
                        *n -= 1;
                    }
                }
            },
        }
    }

    fn finish(self) -> Value {
        match self {
            Open::Array { kind: Seq::List, items, .. } => Value::List(items),
            Open::Array { kind: Seq::Tuple, items, .. } => Value::Tuple(items),
            Open::Array { kind: Seq::Set, items, .. } => Value::Set(items),
            Open::Map { pairs, .. } => Value::Map(pairs),
        }
    }
}

/// One decoding step: a finished value or a container to fill.
enum Item {
    Done(Value),
    Open(Open),
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn error(&self, message: String) -> Error {
        Error::decode(format!("invalid CBOR at offset {}: {message}", self.pos))
    }

    fn error_at(&self, offset: usize, message: String) -> Error {
        Error::decode(format!("invalid CBOR at offset {offset}: {message}"))
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        if self.data.len() - self.pos < n {
            return Err(
                self.error(format!("truncated: needs {n} bytes, {} left", self.data.len() - self.pos))
            );
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn head(&mut self) -> Result<Head, Error> {
        let offset = self.pos;
        let initial = self.take(1)?[0];
        let major = initial >> 5;
        let info = initial & 0x1f;
        let arg_len = match info {
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => 0,
        };
        if self.data.len() - self.pos < arg_len {
            return Err(self.error_at(
                offset,
                format!(
                    "truncated: the head needs {arg_len} more bytes, {} left",
                    self.data.len() - self.pos
                ),
            ));
        }
        let (arg, indefinite) = match info {
            0..=23 => (u64::from(info), false),
            24..=27 => {
                let bytes = self.take(arg_len)?;
                (bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)), false)
            }
            31 if matches!(major, MAJOR_BYTES | MAJOR_TEXT | MAJOR_ARRAY | MAJOR_MAP | MAJOR_SIMPLE) => {
                (0, true)
            }
            _ => {
                return Err(self.error_at(
                    offset,
                    format!("reserved additional information {info} for major type {major}"),
                ));
            }
        };
        Ok(Head { major, arg, info, indefinite, offset })
    }

    fn is_break(&self) -> bool {
        self.data.get(self.pos) == Some(&0xff)
    }

    /// Items a definite container may hold: each takes at least one byte,
    /// so a count beyond the remaining input is truncation, caught before
    /// allocating for it.
    fn check_count(&self, head: &Head, per_item: u64, unit: &str) -> Result<usize, Error> {
        let left = (self.data.len() - self.pos) as u64;
        if head.arg.saturating_mul(per_item) > left {
            return Err(self.error_at(
                head.offset,
                format!("truncated: {} {unit} announced, {left} bytes left", head.arg),
            ));
        }
        Ok(head.arg as usize)
    }

    /// Decodes one complete value with everything nested in it.
    fn value(&mut self) -> Result<Value, Error> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            // Close every container that is complete, innermost first.
            let mut finished = None;
            while let Some(top) = open.last() {
                let complete = match top.left() {
                    Some(0) => true,
                    None if self.is_break() => {
                        if matches!(top, Open::Map { key: Some(_), .. }) {
                            return Err(self.error("break after a map key without its value".into()));
                        }
                        self.pos += 1;
                        true
                    }
                    _ => false,
                };
                if !complete {
                    break;
                }
                let value = open.pop().expect("top exists").finish();
                match open.last_mut() {
                    Some(parent) => parent.push(value),
                    None => finished = Some(value),
                }
            }
            if let Some(value) = finished {
                return Ok(value);
            }

            let head = self.head()?;
            let offset = head.offset;
            match self.item(head)? {
                Item::Done(value) => match open.last_mut() {
                    Some(parent) => parent.push(value),
                    None => return Ok(value),
                },
                Item::Open(container) => {
                    // Containers nest at most MAX_DEPTH deep, as the library
                    // counts: a tagged array is one level, scalars none.
                    if open.len() >= MAX_DEPTH {
                        return Err(self.error_at(offset, format!("nesting deeper than {MAX_DEPTH} levels")));
                    }
                    open.push(container);
                }
            }
        }
    }

    fn item(&mut self, head: Head) -> Result<Item, Error> {
        Ok(Item::Done(match head.major {
            MAJOR_UINT => Value::Int(i128::from(head.arg)),
            MAJOR_NEGINT => Value::Int(-1 - i128::from(head.arg)),
            MAJOR_BYTES => Value::Bytes(self.string(&head)?),
            MAJOR_TEXT => Value::Str(self.text(&head)?),
            MAJOR_ARRAY => return self.open_array(&head, Seq::List),
            MAJOR_MAP => {
                let left = if head.indefinite { None } else { Some(self.check_count(&head, 2, "pairs")?) };
                let pairs = Vec::with_capacity(left.unwrap_or(0));
                return Ok(Item::Open(Open::Map { pairs, key: None, left }));
            }
            MAJOR_TAG => return self.tagged(&head),
            _ => self.simple(&head)?,
        }))
    }

    fn open_array(&mut self, head: &Head, kind: Seq) -> Result<Item, Error> {
        let left = if head.indefinite { None } else { Some(self.check_count(head, 1, "items")?) };
        Ok(Item::Open(Open::Array { kind, items: Vec::with_capacity(left.unwrap_or(0)), left }))
    }

    /// A byte or text string's bytes; indefinite ones are concatenated from
    /// definite chunks of the same major type.
    fn string(&mut self, head: &Head) -> Result<Vec<u8>, Error> {
        if !head.indefinite {
            let n = self.check_count(head, 1, "bytes")?;
            return Ok(self.take(n)?.to_vec());
        }
        let mut out = Vec::new();
        loop {
            if self.is_break() {
                self.pos += 1;
                return Ok(out);
            }
            let chunk = self.head()?;
            if chunk.major != head.major || chunk.indefinite {
                return Err(self.error_at(chunk.offset, "bad chunk in an indefinite-length string".into()));
            }
            let n = self.check_count(&chunk, 1, "bytes")?;
            out.extend_from_slice(self.take(n)?);
        }
    }

    fn text(&mut self, head: &Head) -> Result<String, Error> {
        let bytes = self.string(head)?;
        String::from_utf8(bytes).map_err(|e| {
            self.error_at(
                head.offset,
                format!("invalid UTF-8 in text string (byte {} of it)", e.utf8_error().valid_up_to()),
            )
        })
    }

    /// The next item, which must be of `major` type, for a tag's content.
    fn expect(&mut self, major: u8, what: &str, tag: u64) -> Result<Head, Error> {
        let head = self.head()?;
        if head.major != major {
            return Err(self.error_at(head.offset, format!("tag {tag} must enclose {what}")));
        }
        Ok(head)
    }

    fn tagged(&mut self, tag: &Head) -> Result<Item, Error> {
        let value = match tag.arg {
            TAG_POS_BIGNUM | TAG_NEG_BIGNUM => {
                let head = self.expect(MAJOR_BYTES, "a byte string", tag.arg)?;
                let magnitude = self.string(&head)?;
                Value::from(bignum(tag.arg == TAG_NEG_BIGNUM, magnitude))
            }
            TAG_SET | TAG_TUPLE => {
                let head = self.expect(MAJOR_ARRAY, "an array", tag.arg)?;
                return self.open_array(&head, if tag.arg == TAG_SET { Seq::Set } else { Seq::Tuple });
            }
            TAG_SYMBOL => {
                let head = self.expect(MAJOR_TEXT, "a text string", tag.arg)?;
                Value::Symbol(self.text(&head)?)
            }
            TAG_HOST_TERM => {
                let head = self.expect(MAJOR_BYTES, "a byte string", tag.arg)?;
                Value::HostTerm(self.string(&head)?)
            }
            TAG_BUFFER => {
                let head = self.expect(MAJOR_UINT, "an unsigned int", tag.arg)?;
                let index = u32::try_from(head.arg).map_err(|_| {
                    self.error_at(head.offset, format!("buffer index {} out of range", head.arg))
                })?;
                Value::Buffer(index)
            }
            TAG_OBJECT => {
                let head = self.expect(MAJOR_ARRAY, "an array", tag.arg)?;
                if head.indefinite || head.arg != 2 {
                    return Err(
                        self.error_at(head.offset, format!("tag {TAG_OBJECT} must enclose [key, id]"))
                    );
                }
                let key = self.expect(MAJOR_UINT, "[key, id] of unsigned ints", tag.arg)?.arg;
                let id = self.expect(MAJOR_UINT, "[key, id] of unsigned ints", tag.arg)?.arg;
                Value::Object(ObjectRef { key, id })
            }
            other => return Err(self.error_at(tag.offset, format!("unsupported tag {other}"))),
        };
        Ok(Item::Done(value))
    }

    fn simple(&mut self, head: &Head) -> Result<Value, Error> {
        if head.indefinite {
            return Err(self.error_at(head.offset, "unexpected break".into()));
        }
        match head.info {
            20 => Ok(Value::Bool(false)),
            21 => Ok(Value::Bool(true)),
            22 | 23 => Ok(Value::None),
            25 => Ok(Value::Float(half_to_f64(head.arg as u16))),
            26 => Ok(Value::Float(f64::from(f32::from_bits(head.arg as u32)))),
            27 => Ok(Value::Float(f64::from_bits(head.arg))),
            24 => Err(self.error_at(head.offset, format!("unsupported simple value {}", head.arg))),
            other => Err(self.error_at(head.offset, format!("unsupported simple value {other}"))),
        }
    }
}

/// Tag 2: n = magnitude; tag 3: n = -1 - magnitude.
fn bignum(negative: bool, mut magnitude: Vec<u8>) -> BigInt {
    if negative {
        // |n| = magnitude + 1
        let mut carry = true;
        for byte in magnitude.iter_mut().rev() {
            let (v, overflow) = byte.overflowing_add(1);
            *byte = v;
            carry = overflow;
            if !carry {
                break;
            }
        }
        if carry {
            magnitude.insert(0, 1);
        }
    }
    BigInt::from_sign_magnitude(negative, &magnitude)
}

/// IEEE 754 half precision to double.
fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::encode;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn dec(s: &str) -> Value {
        decode(&unhex(s)).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        decode(&unhex(s)).expect_err(s).message().to_string()
    }

    #[test]
    fn rfc8949_appendix_a_examples() {
        assert_eq!(dec("1bffffffffffffffff"), Value::from(u64::MAX));
        assert_eq!(dec("3bffffffffffffffff"), Value::Int(-18446744073709551616));
        assert_eq!(dec("c249010000000000000000"), Value::Int(18446744073709551616));
        assert_eq!(dec("c349010000000000000000"), Value::Int(-18446744073709551617));
        assert_eq!(dec("f93c00"), Value::Float(1.0));
        assert_eq!(dec("f97bff"), Value::Float(65504.0));
        assert_eq!(dec("f90001"), Value::Float(5.960464477539063e-8));
        assert_eq!(dec("f9fc00"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(dec("f97e00"), Value::Float(x) if x.is_nan()));
        assert_eq!(dec("fa47c35000"), Value::Float(100000.0));
        assert_eq!(dec("f7"), Value::None);
        assert_eq!(dec("5f42010243030405ff"), Value::Bytes(vec![1, 2, 3, 4, 5]));
        assert_eq!(dec("7f657374726561646d696e67ff"), Value::Str("streaming".into()));
        assert_eq!(
            dec("9f018202039f0405ffff"),
            Value::list([Value::Int(1), Value::list([2, 3]), Value::list([4, 5])])
        );
        assert_eq!(
            dec("bf61610161629f0203ffff"),
            Value::map([(Value::from("a"), Value::Int(1)), (Value::from("b"), Value::list([2, 3]))])
        );
    }

    #[test]
    fn the_scalar_fast_path_agrees_with_the_decoder() {
        let mut inputs: Vec<Vec<u8>> = vec![vec![0xf4], vec![0xf5], vec![0xf6], vec![0xf7], vec![0xf8, 0x10]];
        for v in [
            Value::Int(0),
            Value::Int(23),
            Value::Int(24),
            Value::Int(-1),
            Value::Int(-70000),
            Value::Float(-2.5),
        ] {
            inputs.push(encode(&v));
        }
        inputs.push(unhex("1b0000000000000001")); // non-shortest head: still valid
        inputs.push(unhex("fa3fc00000")); // float32: left to the decoder
        inputs.push(unhex("0000")); // trailing byte: left to the decoder
        for bytes in inputs {
            let Some(fast) = decode_scalar(&bytes) else { continue };
            let mut decoder = Decoder { data: &bytes, pos: 0 };
            assert_eq!(fast, decoder.value().unwrap(), "{bytes:02x?}");
            assert_eq!(decoder.pos, bytes.len());
        }
        assert_eq!(decode_scalar(&unhex("0000")), None);
        assert_eq!(decode_scalar(&unhex("f8")), None);
    }

    #[test]
    fn big_numbers_beyond_i128_stay_big() {
        let big = BigInt::from(u128::MAX);
        let mut magnitude = vec![1u8];
        magnitude.extend([0u8; 16]); // 2^128
        let two_128 = BigInt::from_sign_magnitude(false, &magnitude);
        for v in [Value::BigInt(big), Value::BigInt(two_128.clone())] {
            assert_eq!(decode(&encode(&v)).unwrap(), v);
        }
        // -1 - (2^128 - 1) = -2^128
        let mut bytes = vec![0xc3, 0x50];
        bytes.extend([0xff; 16]);
        assert_eq!(decode(&bytes).unwrap(), Value::BigInt(BigInt::from_sign_magnitude(true, &magnitude)));
    }

    #[test]
    fn round_trips_every_kind() {
        let v = Value::list([
            Value::None,
            Value::Bool(false),
            Value::Int(i128::MIN),
            Value::Int(i128::MAX),
            Value::Float(-0.5),
            Value::from("snow \u{2603}"),
            Value::Bytes(vec![0, 255]),
            Value::tuple([Value::set(["x"]), Value::symbol("atom")]),
            Value::map([(Value::tuple([1, 2]), Value::host_term(vec![7; 300]))]),
        ]);
        assert_eq!(decode(&encode(&v)).unwrap(), v);
    }

    #[test]
    fn malformed_input_names_problem_and_offset() {
        assert!(err("").contains("offset 0: truncated"));
        assert!(err("8201").contains("offset 0: truncated: 2 items announced, 1 bytes left"));
        assert!(err("82011901").contains("offset 2: truncated: the head needs 2 more bytes, 1 left"));
        assert!(err("6361").contains("offset 0: truncated: 3 bytes announced, 1 bytes left"));
        assert!(err("0101").contains("1 trailing bytes"));
        assert!(err("62c328").contains("invalid UTF-8"));
        assert!(err("c16161").contains("unsupported tag 1"));
        assert!(err("d9010201").contains("tag 258 must enclose an array"));
        assert!(err("1c").contains("reserved additional information 28"));
        assert!(err("ff").contains("unexpected break"));
        assert!(err("9b7fffffffffffffff").contains("truncated"));
        assert!(err("5f6161ff").contains("bad chunk"));
        assert!(err("bf01ff").contains("break after a map key"));
        assert!(err("9f01").contains("truncated"));
        assert!(err("a1").contains("truncated"));
    }

    #[test]
    fn nesting_is_bounded_like_the_library() {
        // 256 nested arrays are fine (the library encodes that deep), 257 not.
        let ok = [vec![0x81; MAX_DEPTH], vec![0x00]].concat();
        assert!(decode(&ok).is_ok());
        let deep = [vec![0x81; MAX_DEPTH + 1], vec![0x00]].concat();
        let err = decode(&deep).unwrap_err();
        assert!(err.message().contains("offset 256: nesting deeper than 256 levels"), "{err}");
        // Deep values need no deep thread stack.
        let data = ok.clone();
        let on_small_stack = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || {
            let v = decode(&data).unwrap();
            std::mem::forget(v); // dropping is recursive; not under test here
        });
        on_small_stack.unwrap().join().unwrap();
        // A tuple (tag + array) is one level.
        let tuples = [[0xd9, 0x70, 0x79, 0x81].repeat(MAX_DEPTH), vec![0x00]].concat();
        assert!(decode(&tuples).is_ok());
        let maps = [[0xa1, 0x00].repeat(MAX_DEPTH + 1), vec![0x00]].concat();
        assert!(decode(&maps).is_err());
    }
}
