//! Passing Rust strings to C without a heap allocation on the hot path.

use std::ffi::{CString, c_char};
use std::mem::MaybeUninit;

use crate::error::{Error, Result};

/// Strings up to this many bytes are made NUL-terminated on the stack.
const STACK_LEN: usize = 128;

/// Calls `f` with `s` as a NUL-terminated C string. A NUL inside `s` is an
/// invalid-argument error naming `what`, and `f` is not called.
pub(crate) fn with_cstr<R>(what: &str, s: &str, f: impl FnOnce(*const c_char) -> Result<R>) -> Result<R> {
    let bytes = s.as_bytes();
    if bytes.contains(&0) {
        return Err(Error::invalid_argument(format!("{what} contains a NUL byte: {s:?}")));
    }
    if bytes.len() < STACK_LEN {
        // Only the bytes used are written: no need to zero the whole buffer.
        let mut buf = [MaybeUninit::<u8>::uninit(); STACK_LEN];
        // SAFETY: `bytes` fits with room for the NUL; both regions are valid
        // and do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.as_mut_ptr().cast::<u8>(), bytes.len());
        }
        buf[bytes.len()] = MaybeUninit::new(0);
        f(buf.as_ptr().cast())
    } else {
        let owned = CString::new(bytes).expect("NUL checked above");
        f(owned.as_ptr())
    }
}

/// An owned C string, for values kept across a call.
pub(crate) fn to_cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid_argument(format!("{what} contains a NUL byte: {s:?}")))
}

/// For messages handed to C where a NUL must not cut the text short.
pub(crate) fn lossless_cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).expect("NULs escaped")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn short_and_long_strings_arrive_intact() {
        for s in ["", "math", &"x".repeat(STACK_LEN - 1), &"y".repeat(STACK_LEN), &"z".repeat(1000)] {
            let seen =
                with_cstr("name", s, |p| Ok(unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()))
                    .unwrap();
            assert_eq!(seen, s);
        }
    }

    #[test]
    fn interior_nul_is_an_invalid_argument() {
        let err = with_cstr("module", "a\0b", |_| Ok(())).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        assert!(err.message().contains("module contains a NUL"), "{err}");
        assert_eq!(lossless_cstring("a\0b").to_str().unwrap(), "a\\0b");
    }
}
