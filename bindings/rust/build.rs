//! Finds `libpyctx` and links it.
//!
//! Where it looks, first match wins:
//!  1. `PYCTX_LIB_DIR`: a directory holding `libpyctx.so` (or its `lib/`,
//!     `lib64/` subdirectory, for an install prefix);
//!  2. `PYCTX_BUILD_DIR`: a CMake build directory of pyctx;
//!  3. the CMake build of this repository, `../../build` from this crate.
//!
//! The shared library is linked with an rpath to its directory, so tests and
//! examples run without `LD_LIBRARY_PATH`. Cargo does not pass link
//! arguments to doctests, so the library is also symlinked into `OUT_DIR`
//! and that directory is a link-search path: cargo puts such paths (they are
//! inside the target directory) on the loader path of everything it runs.

use std::env;
use std::path::{Path, PathBuf};

const LIB_FILE: &str = "libpyctx.so";

fn main() {
    for var in ["PYCTX_LIB_DIR", "PYCTX_BUILD_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let (origin, base) = if let Some(dir) = env::var_os("PYCTX_LIB_DIR") {
        ("PYCTX_LIB_DIR", PathBuf::from(dir))
    } else if let Some(dir) = env::var_os("PYCTX_BUILD_DIR") {
        ("PYCTX_BUILD_DIR", PathBuf::from(dir))
    } else {
        ("the default (this repository's CMake build)", manifest_dir.join("../../build"))
    };

    let lib_dir = match find_library(&base) {
        Some(dir) => dir,
        None => fail(origin, &base),
    };
    let lib_dir = lib_dir.canonicalize().unwrap_or(lib_dir);
    println!("cargo:rerun-if-changed={}", lib_dir.join(LIB_FILE).display());

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    link_into(&lib_dir, &out_dir);

    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    println!("cargo:rustc-link-lib=dylib=pyctx");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib_dir.display());
    // Metadata for dependents (DEP_PYCTX_LIB_DIR) that want the same rpath.
    println!("cargo:lib_dir={}", lib_dir.display());
}

/// The directory under `base` that holds the shared library, if any.
fn find_library(base: &Path) -> Option<PathBuf> {
    ["", "lib", "lib64"]
        .iter()
        .map(|sub| if sub.is_empty() { base.to_path_buf() } else { base.join(sub) })
        .find(|dir| dir.join(LIB_FILE).is_file())
}

/// Symlinks every `libpyctx.so*` of `lib_dir` into `out_dir` (see the top).
fn link_into(lib_dir: &Path, out_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(lib_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(LIB_FILE) {
            continue;
        }
        let link = out_dir.join(&name);
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        if let Err(err) = std::os::unix::fs::symlink(entry.path(), &link) {
            println!("cargo:warning=could not link {} into OUT_DIR: {err}", name.to_string_lossy());
        }
    }
}

fn fail(origin: &str, base: &Path) -> ! {
    eprintln!(
        "\nerror: pyctx: {LIB_FILE} not found in {dir} (nor in its lib/ or lib64/), \
         the directory chosen by {origin}.\n\
         \n\
         Build the C library first:\n\
         \x20   cmake -S <repo> -B <repo>/build && cmake --build <repo>/build --target pyctx\n\
         or point the binding at it:\n\
         \x20   PYCTX_LIB_DIR=/dir/holding/libpyctx.so   (a build or an install lib dir)\n\
         \x20   PYCTX_BUILD_DIR=/path/to/cmake/build\n",
        dir = base.display()
    );
    std::process::exit(1);
}
