//! Fails when `src/ffi.rs` drifts from `include/pyctx.h`: a function, a
//! parameter or return type, a callback type, a struct field, a constant or
//! an enum value. The header is `../../../include/pyctx.h` from this crate, or
//! `$PYCTX_INCLUDE_DIR/pyctx.h`.

#[path = "support/drift/mod.rs"]
mod drift;

use std::path::PathBuf;

use drift::{c_header, compare, rust_ffi};

fn header_path() -> PathBuf {
    match std::env::var_os("PYCTX_INCLUDE_DIR") {
        Some(dir) => PathBuf::from(dir).join("pyctx.h"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../include/pyctx.h"),
    }
}

fn header_text() -> String {
    let path = header_path();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the header {}: {e} (set PYCTX_INCLUDE_DIR)", path.display()))
}

fn ffi_text() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/ffi.rs")).expect("src/ffi.rs")
}

fn diff(header: &str, ffi: &str) -> Vec<String> {
    let c = c_header::parse(header).expect("parse the header");
    let rust = rust_ffi::parse(ffi).expect("parse src/ffi.rs");
    compare::differences(&c, &rust)
}

#[test]
fn ffi_matches_the_header() {
    let differences = diff(&header_text(), &ffi_text());
    assert!(differences.is_empty(), "src/ffi.rs differs from pyctx.h:\n  {}", differences.join("\n  "));
}

#[test]
fn the_header_is_read_completely() {
    // Guards against a parser that silently reads less than there is.
    let header = header_text();
    let api = c_header::parse(&header).unwrap();
    let prototypes = header.lines().filter(|l| l.trim_start().starts_with("PYCTX_API ")).count();
    assert_eq!(api.functions.len(), prototypes, "every PYCTX_API prototype is parsed");
    assert_eq!(api.functions["pyctx_call"].params.len(), 9);
    assert_eq!(api.functions["pyctx_call"].params[1], "*const c_char");
    assert_eq!(api.functions["pyctx_context_create"].params[1], "*mut *mut pyctx_context_t");
    assert_eq!(api.functions["pyctx_version"].params.len(), 0);
    assert_eq!(api.enum_values["PYCTX_ERR_TIMEOUT"], ("pyctx_status".to_string(), 8));
    assert_eq!(
        api.constants["PYCTX_VERSION"],
        (api.constants["PYCTX_VERSION_MAJOR"] << 16)
            | (api.constants["PYCTX_VERSION_MINOR"] << 8)
            | api.constants["PYCTX_VERSION_PATCH"]
    );
    assert_eq!(api.constants["PYCTX_CBOR_TAG_TUPLE"], 28793);
    assert!(api.callbacks.contains_key("pyctx_completion_fn"));
    assert_eq!(api.structs["pyctx_cbor_item_t"][0], ("type".to_string(), "pyctx_cbor_type".to_string()));
    assert!(api.opaque.contains(&"pyctx_context_t".to_string()));
}

/// The first span of `hay` that reads as `needle` where each run of
/// whitespace in `needle` matches any run of whitespace: mutations must not
/// depend on how the header is formatted.
fn find_loose(hay: &str, needle: &str) -> Option<(usize, usize)> {
    let words: Vec<&str> = needle.split_whitespace().collect();
    let mut from = 0;
    while let Some(offset) = hay[from..].find(words[0]) {
        let start = from + offset;
        let mut pos = start + words[0].len();
        let matched = words[1..].iter().all(|w| {
            let rest = &hay[pos..];
            let trimmed = rest.trim_start();
            if trimmed.len() == rest.len() || !trimmed.starts_with(w) {
                return false;
            }
            pos += rest.len() - trimmed.len() + w.len();
            true
        });
        if matched {
            return Some((start, pos));
        }
        from = start + 1;
    }
    None
}

/// Each mutation of the header must be reported; `expect` is a fragment of
/// the report.
#[test]
fn every_kind_of_drift_is_detected() {
    let header = header_text();
    let ffi = ffi_text();
    assert!(diff(&header, &ffi).is_empty(), "precondition: no drift");
    let header_mutations = [
        // a parameter type
        (
            "const uint8_t *args, size_t args_len",
            "const uint8_t *args, uint32_t args_len",
            "function pyctx_call",
        ),
        // pointer constness
        (
            "pyctx_mode pyctx_context_mode(const pyctx_context_t *context)",
            "pyctx_mode pyctx_context_mode(pyctx_context_t *context)",
            "function pyctx_context_mode",
        ),
        // a return type
        (
            "PYCTX_API int pyctx_owngil_supported(void);",
            "PYCTX_API uint32_t pyctx_owngil_supported(void);",
            "function pyctx_owngil_supported",
        ),
        // a parameter added
        (
            "PYCTX_API pyctx_error_t *pyctx_shutdown(uint32_t timeout_ms);",
            "PYCTX_API pyctx_error_t *pyctx_shutdown(uint32_t timeout_ms, int force);",
            "function pyctx_shutdown",
        ),
        // a function renamed
        ("*pyctx_cancel(", "*pyctx_cancel_request(", "pyctx_cancel_request: in the header, missing"),
        // an enum value
        ("PYCTX_ERR_TIMEOUT = 8,", "PYCTX_ERR_TIMEOUT = 18,", "enum constant PYCTX_ERR_TIMEOUT"),
        // an enum member added
        (
            "PYCTX_ERR_INTERNAL = 15",
            "PYCTX_ERR_INTERNAL = 15,\n    PYCTX_ERR_NEW = 16",
            "PYCTX_ERR_NEW: in the header",
        ),
        // a #define
        (
            "#define PYCTX_CBOR_TAG_TUPLE 28793u",
            "#define PYCTX_CBOR_TAG_TUPLE 28795u",
            "constant PYCTX_CBOR_TAG_TUPLE",
        ),
        // a version macro, whatever the release: the old define is renamed
        // away and one with a version no release has takes its place
        (
            "#define PYCTX_VERSION_MINOR",
            "#define PYCTX_VERSION_MINOR 99\n#define PYCTX_VERSION_MINOR_WAS",
            "constant PYCTX_VERSION_MINOR: header has 99",
        ),
        // a struct field type
        (
            "    uint64_t count;\n} pyctx_cbor_item_t;",
            "    uint32_t count;\n} pyctx_cbor_item_t;",
            "struct pyctx_cbor_item_t",
        ),
        // a struct field appended
        (
            "    uint64_t thread_id;",
            "    uint64_t thread_id;\n    uint64_t spare;",
            "struct pyctx_context_stats_t",
        ),
        // a callback parameter
        (
            "typedef void (*pyctx_completion_fn)(void *user_data, uint64_t request_id,",
            "typedef void (*pyctx_completion_fn)(void *user_data, uint32_t request_id,",
            "callback type pyctx_completion_fn",
        ),
        // an opaque type
        (
            "typedef struct pyctx_env pyctx_env_t;",
            "typedef struct pyctx_env pyctx_env_t;\ntypedef struct pyctx_widget pyctx_widget_t;",
            "opaque type pyctx_widget_t",
        ),
    ];
    for (from, to, expect) in header_mutations {
        let (start, end) = find_loose(&header, from)
            .unwrap_or_else(|| panic!("mutation source not in the header: {from:?}"));
        let mutated = format!("{}{to}{}", &header[..start], &header[end..]);
        let found = diff(&mutated, &ffi);
        assert!(
            found.iter().any(|d| d.contains(expect)),
            "{expect:?} not reported for {to:?}; got {found:#?}"
        );
    }
    let ffi_mutations = [
        ("pub const PYCTX_CBOR_MAX_DEPTH: u32 = 256;", "", "PYCTX_CBOR_MAX_DEPTH: in the header, missing"),
        ("        stats_size: usize,", "        stats_size: u32,", "function pyctx_context_stats"),
        (
            "pub type pyctx_free_fn = Option<unsafe extern \"C\" fn(user_data: *mut c_void)>;",
            "pub type pyctx_free_fn = Option<unsafe extern \"C\" fn(user_data: *const c_void)>;",
            "callback type pyctx_free_fn",
        ),
    ];
    for (from, to, expect) in ffi_mutations {
        let (start, end) =
            find_loose(&ffi, from).unwrap_or_else(|| panic!("mutation source not in ffi.rs: {from:?}"));
        let mutated = format!("{}{to}{}", &ffi[..start], &ffi[end..]);
        let found = diff(&header, &mutated);
        assert!(
            found.iter().any(|d| d.contains(expect)),
            "{expect:?} not reported for {to:?}; got {found:#?}"
        );
    }
}

#[test]
fn unknown_constructs_are_errors_not_skipped() {
    assert!(c_header::parse("typedef union u { int a; } u_t;").is_err());
    assert!(c_header::parse("#define PYCTX_THING some_function(1)").is_err());
    assert!(rust_ffi::parse("pub static X: u32 = 1;").is_err());
    assert!(rust_ffi::parse("pub struct S { pub a: u32 }").unwrap_err().contains("repr(C)"));
}
