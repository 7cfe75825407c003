//! Parses `src/ffi.rs` into the API model.

use super::expr;
use super::model::{Api, Signature};
use super::tokens::{Tok, matching, split_top, strip_comments, tokenize};

/// Rust integer types a C enum may be declared as.
const ENUM_REPRS: [&str; 2] = ["c_uint", "c_int"];

pub fn parse(src: &str) -> Result<Api, String> {
    let toks = tokenize(&strip_comments(src))?;
    let mut api = Api::default();
    let mut i = 0;
    while i < toks.len() {
        i = item(&mut api, &toks, i)
            .map_err(|e| format!("{e} near token {i}: {}", show(&toks[i..(i + 12).min(toks.len())])))?;
    }
    Ok(api)
}

fn show(toks: &[Tok]) -> String {
    toks.iter().map(Tok::text).collect::<Vec<_>>().join(" ")
}

fn end_of(toks: &[Tok], from: usize, what: &str) -> Result<usize, String> {
    (from..toks.len()).find(|&j| toks[j].is(what)).ok_or_else(|| format!("missing {what}"))
}

/// Parses one item at `i`; returns the index after it.
fn item(api: &mut Api, t: &[Tok], i: usize) -> Result<usize, String> {
    // Attributes: #[...] and #![...].
    if t[i].is("#") {
        let open = if t[i + 1].is("!") { i + 2 } else { i + 1 };
        return Ok(matching(t, open)? + 1);
    }
    if t[i].is("use") {
        return Ok(end_of(t, i, ";")? + 1);
    }
    if t[i].is("unsafe") && t.get(i + 1).is_some_and(|x| x.is("extern")) {
        let open = i + 3;
        if !matches!(&t[i + 2], Tok::Str(abi) if abi == "C") || !t[open].is("{") {
            return Err("expected unsafe extern \"C\" {".into());
        }
        let close = matching(t, open)?;
        let mut j = open + 1;
        while j < close {
            j = extern_fn(api, t, j)?;
        }
        return Ok(close + 1);
    }
    if !t[i].is("pub") {
        return Err("expected an item".into());
    }
    let kind = t[i + 1].text();
    let name = t[i + 2].ident().ok_or("item without name")?.to_string();
    match kind {
        "const" => {
            // pub const NAME: TYPE = EXPR;
            let eq = end_of(t, i, "=")?;
            let end = end_of(t, eq, ";")?;
            let ty = show(&t[i + 4..eq]);
            let value =
                expr::eval(&t[eq + 1..end], &known_values(api)).map_err(|e| format!("const {name}: {e}"))?;
            if api.enums.contains(&ty) {
                api.enum_values.insert(name, (ty, value));
            } else {
                api.constants.insert(name, value);
            }
            Ok(end + 1)
        }
        "type" => {
            let end = end_of(t, i, ";")?;
            let rhs = &t[i + 4..end];
            if rhs.len() == 1 && ENUM_REPRS.contains(&rhs[0].text()) {
                api.enums.push(name);
            } else if rhs[0].is("Option") && rhs[1].is("<") && rhs[rhs.len() - 1].is(">") {
                let mut inner = &rhs[2..rhs.len() - 1];
                if inner.last().is_some_and(|x| x.is(",")) {
                    inner = &inner[..inner.len() - 1];
                }
                let sig = fn_pointer(inner)?;
                api.callbacks.insert(name, sig);
            } else {
                return Err(format!("type alias {name} is neither an enum nor a callback"));
            }
            Ok(end + 1)
        }
        "struct" => {
            let open = i + 3;
            let close = matching(t, open)?;
            let mut fields = Vec::new();
            for field in split_top(&t[open + 1..close], ",", true) {
                let field = if field[0].is("pub") { &field[1..] } else { field };
                let fname = field[0].ident().ok_or("bad field")?.to_string();
                if !field[1].is(":") {
                    return Err(format!("bad field {fname}"));
                }
                fields.push((fname, type_of(&field[2..])?));
            }
            let private = fields.iter().filter(|(f, _)| f.starts_with('_')).count();
            if private == fields.len() && private > 0 {
                api.opaque.push(name);
            } else if private == 0 {
                if !repr_c_before(t, i) {
                    return Err(format!("struct {name} lacks #[repr(C)]"));
                }
                api.structs.insert(name, fields);
            } else {
                return Err(format!("struct {name} mixes public and private fields"));
            }
            Ok(close + 1)
        }
        other => Err(format!("unexpected pub {other}")),
    }
}

/// Whether the attributes right before `pub` at `i` include `#[repr(C)]`.
fn repr_c_before(t: &[Tok], i: usize) -> bool {
    let mut j = i;
    while j >= 2 && t[j - 1].is("]") {
        let Some(start) = (0..j).rev().find(|&k| t[k].is("#")) else { return false };
        if show(&t[start..j]).replace(' ', "") == "#[repr(C)]" {
            return true;
        }
        j = start;
    }
    false
}

fn known_values(api: &Api) -> std::collections::BTreeMap<String, i128> {
    let mut known = api.constants.clone();
    known.extend(api.enum_values.iter().map(|(k, (_, v))| (k.clone(), *v)));
    known
}

/// `pub fn name(params) -> ret;`
fn extern_fn(api: &mut Api, t: &[Tok], i: usize) -> Result<usize, String> {
    if !(t[i].is("pub") && t[i + 1].is("fn")) {
        return Err("expected pub fn in the extern block".into());
    }
    let name = t[i + 2].ident().ok_or("fn without name")?.to_string();
    let end = end_of(t, i, ";")?;
    api.functions.insert(name, fn_pointer(&t[i + 3..end])?);
    Ok(end + 1)
}

/// `[unsafe extern "C" fn] (params) [-> ret]`.
fn fn_pointer(t: &[Tok]) -> Result<Signature, String> {
    let open = t.iter().position(|x| x.is("(")).ok_or("fn without parameters")?;
    let close = matching(t, open)?;
    let mut params = Vec::new();
    for p in split_top(&t[open + 1..close], ",", true) {
        if p.len() < 3 || !p[1].is(":") {
            return Err(format!("bad parameter {}", show(p)));
        }
        params.push(type_of(&p[2..])?);
    }
    let ret = match t.get(close + 1) {
        None => "()".to_string(),
        Some(arrow) if arrow.is("->") => type_of(&t[close + 2..])?,
        Some(other) => return Err(format!("unexpected {:?} after parameters", other.text())),
    };
    Ok(Signature { params, ret })
}

/// Canonical spelling: pointers as `*mut T`/`*const T`, paths by their last
/// segment; anything else (arrays, generics of private fields) verbatim.
fn type_of(t: &[Tok]) -> Result<String, String> {
    if t.is_empty() {
        return Err("missing type".into());
    }
    if t[0].is("*") {
        let q = t.get(1).map(Tok::text).unwrap_or("");
        if q != "mut" && q != "const" {
            return Err("pointer without mut/const".into());
        }
        return Ok(format!("*{q} {}", type_of(&t[2..])?));
    }
    if t.len() == 2 && t[0].is("(") && t[1].is(")") {
        return Ok("()".into());
    }
    if t.iter().all(|x| x.ident().is_some() || x.is("::")) {
        return Ok(t.last().unwrap().text().to_string());
    }
    Ok(show(t))
}
