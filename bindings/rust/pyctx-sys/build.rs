//! Finds `libpyctx` and links it.
//!
//! Where it looks, first match wins:
//!  1. `PYCTX_LIB_DIR`: a directory holding `libpyctx.so`, or an install
//!     prefix or CMake build directory whose `lib/` or `lib64/` holds it;
//!  2. `pkg-config pyctx` (the `pyctx.pc` of an install; `PKG_CONFIG_PATH`
//!     points at a non-system prefix, `PKG_CONFIG` names another tool);
//!  3. the CMake build of the source tree this crate sits in,
//!     `<repo>/build`, which only exists in a checkout of the repository.
//!
//! The shared library is linked with an rpath to its directory, so this
//! crate's own tests run without `LD_LIBRARY_PATH`; cargo does not pass link
//! arguments on to dependents, so the directory is published as
//! `DEP_PYCTX_LIB_DIR` for their build scripts. Cargo does not pass link
//! arguments to doctests either, so the library is also symlinked into
//! `OUT_DIR` and that directory is a link-search path: cargo puts such paths
//! (they are inside the target directory) on the loader path of everything
//! it runs (`cargo run`, `cargo test`). The library looks for the helper
//! executable of process contexts next to itself, as loaded, so the helper
//! (from the library's directory, or `../libexec/pyctx/` of an install) is
//! symlinked beside it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIB_FILE: &str = "libpyctx.so";
const HELPER_FILE: &str = "pyctx-process-helper";

fn main() {
    for var in ["PYCTX_LIB_DIR", "PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG_SYSROOT_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let lib_dir = match locate() {
        Ok(dir) => dir,
        Err(tried) => fail(&tried),
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

/// The directory holding the library, or what was tried, one line each.
fn locate() -> Result<PathBuf, Vec<String>> {
    let mut tried = Vec::new();

    if let Some(dir) = env::var_os("PYCTX_LIB_DIR") {
        let base = PathBuf::from(dir);
        // An explicit choice never falls through to another library.
        return find_library(&base).ok_or_else(|| {
            vec![format!("PYCTX_LIB_DIR={}: no {LIB_FILE} there nor in its lib/ or lib64/", base.display())]
        });
    }

    match pkg_config_libdir() {
        Ok(dir) => match find_library(&dir) {
            Some(found) => return Ok(found),
            None => tried.push(format!("pkg-config pyctx: libdir {} holds no {LIB_FILE}", dir.display())),
        },
        Err(why) => tried.push(format!("pkg-config pyctx: {why}")),
    }

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let repo = manifest_dir.join("../../..");
    if repo.join("include/pyctx.h").is_file() {
        let build = repo.join("build");
        println!("cargo:rerun-if-changed={}", build.join(LIB_FILE).display());
        match find_library(&build) {
            Some(found) => return Ok(found),
            None => tried.push(format!("the source tree's build: no {LIB_FILE} in {}", build.display())),
        }
    }
    Err(tried)
}

/// `pkg-config --variable=libdir pyctx`, when pkg-config and the package exist.
fn pkg_config_libdir() -> Result<PathBuf, String> {
    let tool = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let output = Command::new(&tool)
        .args(["--variable=libdir", "pyctx"])
        .output()
        .map_err(|err| format!("cannot run {tool}: {err}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("no pyctx.pc found").trim().to_string();
        return Err(first);
    }
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if dir.is_empty() {
        return Err("pyctx.pc has no libdir".to_string());
    }
    Ok(PathBuf::from(dir))
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
    let helper = [lib_dir.join(HELPER_FILE), lib_dir.join("../libexec/pyctx").join(HELPER_FILE)]
        .into_iter()
        .find(|p| p.is_file());
    if let Some(helper) = helper {
        println!("cargo:rerun-if-changed={}", helper.display());
        let link = out_dir.join(HELPER_FILE);
        let _ = std::fs::remove_file(&link);
        #[cfg(unix)]
        if let Err(err) = std::os::unix::fs::symlink(&helper, &link) {
            println!("cargo:warning=could not link {HELPER_FILE} into OUT_DIR: {err}");
        }
    }
}

fn fail(tried: &[String]) -> ! {
    eprintln!(
        "\nerror: pyctx-sys: {LIB_FILE} not found. Tried:\n  {}\n\
         \n\
         Install the C library (cmake --install <build> --prefix <prefix>) and make\n\
         pkg-config find it:\n\
         \x20   PKG_CONFIG_PATH=<prefix>/lib/pkgconfig\n\
         or point the crate at a directory holding {LIB_FILE}:\n\
         \x20   PYCTX_LIB_DIR=<prefix>/lib   (an install prefix or a CMake build directory works too)\n",
        tried.join("\n  ")
    );
    std::process::exit(1);
}
