//! Parses `pyctx.h` into the API model.

use std::collections::BTreeMap;

use super::expr;
use super::model::{Api, Signature};
use super::tokens::{Tok, matching, split_top, strip_comments, tokenize};

/// Macros that are not constants: the include guard and the export macro.
const NON_CONSTANT_MACROS: [&str; 2] = ["PYCTX_H", "PYCTX_API"];

pub fn parse(header: &str) -> Result<Api, String> {
    let text = strip_comments(header).replace("\\\n", " ");
    let mut api = Api::default();
    let mut code = String::new();
    let mut skip_cplusplus = 0;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let Some(directive) = trimmed.strip_prefix('#') else {
            if skip_cplusplus == 0 {
                code.push_str(line);
                code.push('\n');
            }
            continue;
        };
        let words: Vec<&str> = directive.split_whitespace().collect();
        match words.first().copied() {
            // `extern "C" {` and its `}` live in these blocks.
            Some("ifdef") if words.get(1) == Some(&"__cplusplus") => skip_cplusplus += 1,
            Some("if") | Some("ifdef") | Some("ifndef") if skip_cplusplus > 0 => skip_cplusplus += 1,
            Some("endif") if skip_cplusplus > 0 => skip_cplusplus -= 1,
            Some("define") if skip_cplusplus == 0 => define(&mut api, &words[1..], directive)?,
            _ => {}
        }
    }
    let toks: Vec<Tok> = tokenize(&code)?.into_iter().filter(|t| !t.is("PYCTX_API")).collect();
    for decl in split_top(&toks, ";", false) {
        if !decl.is_empty() {
            declaration(&mut api, decl).map_err(|e| format!("{e} in: {}", show(decl)))?;
        }
    }
    Ok(api)
}

fn show(toks: &[Tok]) -> String {
    toks.iter().map(Tok::text).collect::<Vec<_>>().join(" ")
}

fn define(api: &mut Api, words: &[&str], directive: &str) -> Result<(), String> {
    let Some(name) = words.first() else { return Err("empty #define".into()) };
    if NON_CONSTANT_MACROS.contains(name) || name.contains('(') {
        return Ok(());
    }
    let value_text = directive.trim_start()["define".len()..].trim_start()[name.len()..].trim();
    let toks = tokenize(value_text)?;
    let value = expr::eval(&toks, &api.constants).map_err(|e| format!("#define {name}: {e}"))?;
    api.constants.insert(name.to_string(), value);
    Ok(())
}

fn declaration(api: &mut Api, d: &[Tok]) -> Result<(), String> {
    if !d[0].is("typedef") {
        let (name, sig) = function(d)?;
        api.functions.insert(name, sig);
        return Ok(());
    }
    let d = &d[1..];
    if d[0].is("enum") {
        let open = d.iter().position(|t| t.is("{")).ok_or("enum without body")?;
        let close = matching(d, open)?;
        let name = d.get(close + 1).and_then(Tok::ident).ok_or("enum without typedef name")?.to_string();
        let mut next = 0i128;
        for member in split_top(&d[open + 1..close], ",", false) {
            let member_name = member[0].ident().ok_or("bad enum member")?.to_string();
            if member.len() > 1 {
                if !member[1].is("=") {
                    return Err(format!("bad enum member {member_name}"));
                }
                next = expr::eval(&member[2..], &api.constants)?;
            }
            api.enum_values.insert(member_name, (name.clone(), next));
            next += 1;
        }
        api.enums.push(name);
    } else if d[0].is("struct") {
        match d.iter().position(|t| t.is("{")) {
            None => {
                // typedef struct tag name;
                if d.len() != 3 {
                    return Err("bad opaque struct typedef".into());
                }
                api.opaque.push(d[2].ident().ok_or("bad typedef name")?.to_string());
            }
            Some(open) => {
                let close = matching(d, open)?;
                let name =
                    d.get(close + 1).and_then(Tok::ident).ok_or("struct without typedef name")?.to_string();
                let mut fields = Vec::new();
                for field in split_top(&d[open + 1..close], ";", false) {
                    if !field.is_empty() {
                        fields.push(named_type(field)?);
                    }
                }
                api.structs.insert(name, fields);
            }
        }
    } else if let Some(open) =
        d.iter().position(|t| t.is("(")).filter(|&i| d.get(i + 1).is_some_and(|t| t.is("*")))
    {
        // typedef ret (*name)(params);
        let name = d.get(open + 2).and_then(Tok::ident).ok_or("bad function pointer typedef")?.to_string();
        if !d.get(open + 3).is_some_and(|t| t.is(")")) {
            return Err("bad function pointer typedef".into());
        }
        let params_open = open + 4;
        let params_close = matching(d, params_open)?;
        let sig = Signature { params: params(&d[params_open + 1..params_close])?, ret: type_of(&d[..open])? };
        api.callbacks.insert(name, sig);
    } else {
        return Err("unhandled typedef".into());
    }
    Ok(())
}

fn function(d: &[Tok]) -> Result<(String, Signature), String> {
    let open = d.iter().position(|t| t.is("(")).ok_or("not a declaration this parser knows")?;
    let close = matching(d, open)?;
    if close + 1 != d.len() || open == 0 {
        return Err("not a function prototype".into());
    }
    let name = d[open - 1].ident().ok_or("function without name")?.to_string();
    let sig = Signature { params: params(&d[open + 1..close])?, ret: type_of(&d[..open - 1])? };
    Ok((name, sig))
}

fn params(toks: &[Tok]) -> Result<Vec<String>, String> {
    if toks.len() == 1 && toks[0].is("void") {
        return Ok(Vec::new());
    }
    split_top(toks, ",", false).into_iter().map(|p| named_type(p).map(|(_, ty)| ty)).collect()
}

/// `type tokens... name` -> (name, canonical type).
fn named_type(toks: &[Tok]) -> Result<(String, String), String> {
    let (name, ty) = toks.split_last().ok_or("empty declaration")?;
    let name = name.ident().ok_or_else(|| format!("expected a name, found {:?}", name.text()))?;
    Ok((name.to_string(), type_of(ty)?))
}

/// Canonical Rust spelling of a C type: `[const] base [const] (* [const])*`.
pub fn type_of(toks: &[Tok]) -> Result<String, String> {
    let mut i = 0;
    let mut is_const = false;
    if toks.get(i).is_some_and(|t| t.is("const")) {
        is_const = true;
        i += 1;
    }
    let base = toks.get(i).and_then(Tok::ident).ok_or_else(|| format!("no type in {}", show(toks)))?;
    i += 1;
    if toks.get(i).is_some_and(|t| t.is("const")) {
        is_const = true;
        i += 1;
    }
    let mut ty = base_type(base).to_string();
    let mut pointers = 0;
    while i < toks.len() {
        if !toks[i].is("*") {
            return Err(format!("unexpected {:?} in type {}", toks[i].text(), show(toks)));
        }
        i += 1;
        if pointers == 0 && ty == "()" {
            ty = "c_void".into();
        }
        ty = format!("{} {ty}", if is_const { "*const" } else { "*mut" });
        pointers += 1;
        is_const = toks.get(i).is_some_and(|t| t.is("const"));
        if is_const {
            i += 1;
        }
    }
    Ok(ty)
}

fn base_type(c: &str) -> &str {
    let map: BTreeMap<&str, &str> = [
        ("void", "()"),
        ("char", "c_char"),
        ("int", "c_int"),
        ("double", "f64"),
        ("size_t", "usize"),
        ("uint8_t", "u8"),
        ("uint32_t", "u32"),
        ("uint64_t", "u64"),
        ("int64_t", "i64"),
    ]
    .into_iter()
    .collect();
    map.get(c).copied().unwrap_or(c)
}
