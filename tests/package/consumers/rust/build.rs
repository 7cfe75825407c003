// What a program using pyctx adds to find libpyctx at run time without
// LD_LIBRARY_PATH: an rpath to the directory pyctx-sys linked it from.
fn main() {
    if let Ok(dir) = std::env::var("DEP_PYCTX_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
