//! Header drift check: reads `include/pyctx.h` and `src/ffi.rs` into one
//! model of the C API each and lists every difference between them.
//!
//! Both parsers are small and strict: a construct they do not understand is
//! an error, never silently skipped, so a new kind of declaration in the
//! header cannot escape the comparison.

pub mod c_header;
pub mod compare;
pub mod expr;
pub mod model;
pub mod rust_ffi;
pub mod tokens;
