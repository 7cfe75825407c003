//! [`Sandbox`]: the policy a context runs under (see
//! [`ContextOptions::sandbox`](crate::ContextOptions::sandbox)).

use std::ptr::NonNull;

use crate::cstr::to_cstring;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;

/// What Python in a context may not do: start processes, open sockets, touch
/// files outside allowed paths. A blocked operation raises `PermissionError`
/// in Python (a Python error for the request); the host is not affected.
///
/// In worker and owngil contexts this is an audit hook: no security
/// boundary against C code or ctypes (see the README, "Sandbox and limits").
///
/// ```
/// let policy = pyctx::Sandbox::new().block_process_creation().block_sockets().allow_path("/tmp", false);
/// let options = pyctx::ContextOptions::new().sandbox(policy);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sandbox {
    block_process_creation: bool,
    block_sockets: bool,
    restrict_files: bool,
    paths: Vec<(String, bool)>,
}

impl Sandbox {
    /// A policy that blocks nothing yet.
    pub fn new() -> Sandbox {
        Sandbox::default()
    }

    /// Blocks fork, exec, spawn, posix_spawn, subprocess, `os.system`, `os.popen`.
    pub fn block_process_creation(mut self) -> Sandbox {
        self.block_process_creation = true;
        self
    }

    /// Blocks sockets (AF_UNIX socket pairs, as asyncio uses, stay possible).
    pub fn block_sockets(mut self) -> Sandbox {
        self.block_sockets = true;
        self
    }

    /// Files only under the allowed paths (and Python's own, read-only).
    pub fn restrict_files(mut self) -> Sandbox {
        self.restrict_files = true;
        self
    }

    /// Allows the absolute `path` and everything beneath it, read-only or
    /// also for writing; implies [`restrict_files`](Sandbox::restrict_files).
    pub fn allow_path(mut self, path: impl Into<String>, read_only: bool) -> Sandbox {
        self.restrict_files = true;
        self.paths.push((path.into(), read_only));
        self
    }

    /// Sets this policy on raw context options.
    pub(crate) fn apply(&self, options: *mut ffi::pyctx_context_options_t) -> Result<()> {
        // SAFETY: a fresh builder, freed by `RawSandbox`'s drop.
        let raw = RawSandbox(
            NonNull::new(unsafe { ffi::pyctx_sandbox_new() })
                .ok_or_else(|| Error::new(ErrorKind::NoMemory, "sandbox"))?,
        );
        let s = raw.0.as_ptr();
        // SAFETY (all below): `s` is live; strings are NUL-terminated.
        if self.block_process_creation {
            unsafe { Error::check(ffi::pyctx_sandbox_block_process_creation(s))? };
        }
        if self.block_sockets {
            unsafe { Error::check(ffi::pyctx_sandbox_block_sockets(s))? };
        }
        if self.restrict_files {
            unsafe { Error::check(ffi::pyctx_sandbox_restrict_files(s))? };
        }
        for (path, read_only) in &self.paths {
            let path = to_cstring("sandbox path", path)?;
            unsafe { Error::check(ffi::pyctx_sandbox_allow_path(s, path.as_ptr(), i32::from(*read_only)))? };
        }
        // The options keep a copy.
        unsafe { Error::check(ffi::pyctx_context_options_set_sandbox(options, s)) }
    }
}

struct RawSandbox(NonNull<ffi::pyctx_sandbox_t>);

impl Drop for RawSandbox {
    fn drop(&mut self) {
        // SAFETY: owned by us.
        unsafe { ffi::pyctx_sandbox_free(self.0.as_ptr()) };
    }
}
