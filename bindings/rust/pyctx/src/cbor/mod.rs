//! The CBOR codec of this crate: `Value` to and from the bytes the C API
//! exchanges, following the value mapping of `include/pyctx.h`.
//!
//! ```
//! use pyctx::{cbor, Value};
//! let bytes = cbor::encode(&Value::tuple([1, 2]));
//! assert_eq!(bytes, [0xd9, 0x70, 0x79, 0x82, 0x01, 0x02]); // tag 28793 + [1, 2]
//! assert_eq!(cbor::decode(&bytes).unwrap(), Value::tuple([1, 2]));
//! ```

mod decode;
mod encode;

pub use decode::decode;
pub use encode::{encode, encode_into};
pub(crate) use encode::{encode_array, encode_map_str_keys, write_array_head};

use crate::ffi;

/// Tag of a set (`set`/`frozenset`).
pub const TAG_SET: u64 = ffi::PYCTX_CBOR_TAG_SET as u64;
/// Tag of a symbol (`pyctx.Symbol`).
pub const TAG_SYMBOL: u64 = ffi::PYCTX_CBOR_TAG_SYMBOL as u64;
/// Tag of a tuple.
pub const TAG_TUPLE: u64 = ffi::PYCTX_CBOR_TAG_TUPLE as u64;
/// Tag of an opaque host term.
pub const TAG_HOST_TERM: u64 = ffi::PYCTX_CBOR_TAG_HOST_TERM as u64;
/// Tag of an object reference (`[key, id]`, see [`ObjectRef`](crate::ObjectRef)).
pub const TAG_OBJECT: u64 = ffi::PYCTX_CBOR_TAG_OBJECT as u64;
/// Tag of an attached buffer's index (arguments only).
pub const TAG_BUFFER: u64 = ffi::PYCTX_CBOR_TAG_BUFFER as u64;
/// Positive bignum (RFC 8949 tag 2).
pub const TAG_POS_BIGNUM: u64 = 2;
/// Negative bignum (RFC 8949 tag 3): the value is -1 - n.
pub const TAG_NEG_BIGNUM: u64 = 3;
/// Deepest nesting either side accepts.
pub const MAX_DEPTH: usize = ffi::PYCTX_CBOR_MAX_DEPTH as usize;

const MAJOR_UINT: u8 = 0;
const MAJOR_NEGINT: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const MAJOR_SIMPLE: u8 = 7;
