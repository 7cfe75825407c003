//! Gives this crate's own tests and examples an rpath to the directory
//! `pyctx-sys` linked libpyctx from, so they run outside `cargo run` too.
//! Cargo passes such link arguments to no dependent: a program using this
//! crate does the same in its own build script (see the README).

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_PYCTX_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_PYCTX_LIB_DIR") {
        println!("cargo:rustc-link-arg-tests=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg-examples=-Wl,-rpath,{dir}");
    }
}
