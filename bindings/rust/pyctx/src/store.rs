//! The process-wide shared store: CBOR values under text keys, shared by
//! the host and every context (worker and owngil alike), with versioned
//! compare-and-swap. Python uses `pyctx.store_get/store_entry/store_put/
//! store_cas/store_delete/store_keys` on the same data.
//!
//! ```
//! use pyctx::{store, Value};
//! let v1 = store::put("doc.counter", 1).unwrap();
//! assert_eq!(store::get("doc.counter").unwrap(), Some((Value::Int(1), v1)));
//! // Only one of two writers holding the same version wins.
//! assert!(store::compare_and_swap("doc.counter", v1, 2).unwrap().is_ok());
//! assert!(store::compare_and_swap("doc.counter", v1, 3).unwrap().is_err());
//! assert!(store::delete("doc.counter", None).unwrap());
//! ```

use std::ffi::c_int;
use std::ptr;

use crate::cbor;
use crate::cstr::with_cstr;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;
use crate::pending::OwnedBytes;
use crate::value::Value;

/// An entry's version: unique in the process, never reused, never 0.
pub type Version = u64;

/// Stores `value` under `key`; returns its new version.
pub fn put(key: &str, value: impl Into<Value>) -> Result<Version> {
    let bytes = cbor::encode(&value.into());
    with_cstr("store key", key, |key| {
        let mut version = 0u64;
        // SAFETY: a NUL-terminated key and a buffer borrowed for the call.
        unsafe { Error::check(ffi::pyctx_store_put(key, bytes.as_ptr(), bytes.len(), &mut version))? };
        Ok(version)
    })
}

/// The value of `key` and its version, or `None` when absent.
pub fn get(key: &str) -> Result<Option<(Value, Version)>> {
    with_cstr("store key", key, |key| {
        let mut out = OwnedBytes::empty();
        let mut version = 0u64;
        // SAFETY: out-parameters owned here; `out` frees the buffer.
        let raw = unsafe { ffi::pyctx_store_get(key, out.as_out(), &mut version) };
        match unsafe { Error::check(raw) } {
            Ok(()) => Ok(Some((cbor::decode(out.as_slice())?, version))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// Stores `value` only when the entry's version is `expected` (0: only when
/// absent). `Ok(Ok(new_version))` when it stored, `Ok(Err(current))` on a
/// conflict, with the current version (0 when absent) to retry from.
pub fn compare_and_swap(
    key: &str,
    expected: Version,
    value: impl Into<Value>,
) -> Result<std::result::Result<Version, Version>> {
    let bytes = cbor::encode(&value.into());
    with_cstr("store key", key, |key| {
        let mut swapped: c_int = 0;
        let mut version = 0u64;
        // SAFETY: as for `put`.
        unsafe {
            Error::check(ffi::pyctx_store_cas(
                key,
                expected,
                bytes.as_ptr(),
                bytes.len(),
                &mut swapped,
                &mut version,
            ))?
        };
        Ok(if swapped != 0 { Ok(version) } else { Err(version) })
    })
}

/// Removes `key` (only at version `expected` when given); true when removed.
pub fn delete(key: &str, expected: Option<Version>) -> Result<bool> {
    with_cstr("store key", key, |key| {
        let mut deleted: c_int = 0;
        // SAFETY: a NUL-terminated key and an out-parameter owned here.
        unsafe { Error::check(ffi::pyctx_store_delete(key, expected.unwrap_or(0), &mut deleted))? };
        Ok(deleted != 0)
    })
}

/// The keys starting with `prefix`, sorted.
pub fn keys(prefix: &str) -> Result<Vec<String>> {
    let call = |prefix: *const std::ffi::c_char| {
        let mut out = OwnedBytes::empty();
        // SAFETY: `prefix` is NULL or NUL-terminated; `out` frees the buffer.
        unsafe { Error::check(ffi::pyctx_store_keys(prefix, out.as_out()))? };
        match cbor::decode(out.as_slice())? {
            Value::List(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s),
                    other => Err(Error::decode(format!("store key is a {}", other.type_name()))),
                })
                .collect(),
            other => Err(Error::decode(format!("store keys are a {}", other.type_name()))),
        }
    };
    if prefix.is_empty() { call(ptr::null()) } else { with_cstr("store key prefix", prefix, call) }
}
