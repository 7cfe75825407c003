//! The API model both parsers produce. Types are canonical strings in Rust
//! spelling: `*const c_char`, `*mut *mut pyctx_context_t`, `u64`, `()`.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Parameter types, in order (names are not ABI).
    pub params: Vec<String>,
    pub ret: String,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fn({}) -> {}", self.params.join(", "), self.ret)
    }
}

#[derive(Debug, Default)]
pub struct Api {
    /// Exported functions.
    pub functions: BTreeMap<String, Signature>,
    /// Function pointer typedefs (callbacks).
    pub callbacks: BTreeMap<String, Signature>,
    /// Structs with public fields: (field name, field type) in order.
    pub structs: BTreeMap<String, Vec<(String, String)>>,
    /// Opaque handle types.
    pub opaque: Vec<String>,
    /// Enum typedef names.
    pub enums: Vec<String>,
    /// Enum constants: name -> (enum, value).
    pub enum_values: BTreeMap<String, (String, i128)>,
    /// Numeric #define constants.
    pub constants: BTreeMap<String, i128>,
}
