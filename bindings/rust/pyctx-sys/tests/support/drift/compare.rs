//! Lists every difference between two API models.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use super::model::Api;

/// Compares header (`c`) and bindings (`rust`); empty when they agree.
pub fn differences(c: &Api, rust: &Api) -> Vec<String> {
    let mut out = Vec::new();
    maps(&mut out, "function", &c.functions, &rust.functions);
    maps(&mut out, "callback type", &c.callbacks, &rust.callbacks);
    maps(&mut out, "struct", &c.structs, &rust.structs);
    maps(&mut out, "enum constant", &c.enum_values, &rust.enum_values);
    maps(&mut out, "constant", &c.constants, &rust.constants);
    sets(&mut out, "opaque type", &c.opaque, &rust.opaque);
    sets(&mut out, "enum type", &c.enums, &rust.enums);
    out
}

fn maps<V: PartialEq + Debug>(
    out: &mut Vec<String>,
    what: &str,
    c: &BTreeMap<String, V>,
    rust: &BTreeMap<String, V>,
) {
    for (name, cv) in c {
        match rust.get(name) {
            None => out.push(format!("{what} {name}: in the header, missing in ffi.rs")),
            Some(rv) if rv != cv => out.push(format!("{what} {name}: header has {cv:?}, ffi.rs has {rv:?}")),
            Some(_) => {}
        }
    }
    for name in rust.keys().filter(|n| !c.contains_key(*n)) {
        out.push(format!("{what} {name}: in ffi.rs, not in the header"));
    }
}

fn sets(out: &mut Vec<String>, what: &str, c: &[String], rust: &[String]) {
    let c: BTreeSet<_> = c.iter().collect();
    let rust: BTreeSet<_> = rust.iter().collect();
    for name in c.difference(&rust) {
        out.push(format!("{what} {name}: in the header, missing in ffi.rs"));
    }
    for name in rust.difference(&c) {
        out.push(format!("{what} {name}: in ffi.rs, not in the header"));
    }
}
