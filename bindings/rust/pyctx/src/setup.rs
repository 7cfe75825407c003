//! Runtime-wide set-up: `sys.path` entries, imports, reloads and a
//! virtualenv for every context, including those created later. A running
//! context applies a step before its next request; a new one starts from
//! the current state. See "Runtime-wide set-up" in `include/pyctx.h`.
//!
//! ```
//! # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
//! # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
//! pyctx::setup::import("json").unwrap();
//! assert_eq!(ctx.eval("'json' in __import__('sys').modules").unwrap(), pyctx::Value::Bool(true));
//! pyctx::setup::remove_import("json").unwrap();
//! ```

use std::ffi::c_char;

use crate::cstr::with_cstr;
use crate::error::{Error, Result};
use crate::ffi;

fn step(
    what: &str,
    arg: &str,
    f: unsafe extern "C" fn(*const c_char) -> *mut ffi::pyctx_error_t,
) -> Result<()> {
    with_cstr(what, arg, |arg| {
        // SAFETY: a NUL-terminated argument borrowed for the call.
        unsafe { Error::check(f(arg)) }
    })
}

/// Prepends `path` to `sys.path` in every context.
pub fn add_path(path: &str) -> Result<()> {
    step("path", path, ffi::pyctx_setup_add_path)
}

/// Removes `path` from `sys.path` in every context.
pub fn remove_path(path: &str) -> Result<()> {
    step("path", path, ffi::pyctx_setup_remove_path)
}

/// Imports `module` in every context (now, and at start of new ones).
pub fn import(module: &str) -> Result<()> {
    step("module", module, ffi::pyctx_setup_import)
}

/// New contexts no longer import `module`.
pub fn remove_import(module: &str) -> Result<()> {
    step("module", module, ffi::pyctx_setup_remove_import)
}

/// Reloads `module` wherever it is imported.
pub fn reload(module: &str) -> Result<()> {
    step("module", module, ffi::pyctx_setup_reload)
}

/// Activates the virtualenv at `dir` (checked: it must be made for the
/// embedded Python's version).
pub fn activate_venv(dir: &str) -> Result<()> {
    step("venv dir", dir, ffi::pyctx_setup_activate_venv)
}

/// The number of set-up steps logged so far.
pub fn generation() -> u64 {
    // SAFETY: no arguments.
    unsafe { ffi::pyctx_setup_generation() }
}
