//! Raw FFI declarations of the pyctx C API, `include/pyctx.h`, one for one,
//! and the linking of `libpyctx` (see the crate's `build.rs`).
//!
//! This is the `-sys` half of the binding: it holds no safe wrapper. Use the
//! `pyctx` crate for the safe, idiomatic API; it re-exports these
//! declarations as `pyctx::ffi`.
//!
//! The build script looks for `libpyctx.so` in `PYCTX_LIB_DIR`, then through
//! `pkg-config pyctx`, then in the CMake build of the source tree this crate
//! sits in, and links it with an rpath to its directory. The directory found
//! is published to dependents' build scripts as `DEP_PYCTX_LIB_DIR`.

mod ffi;

pub use ffi::*;
