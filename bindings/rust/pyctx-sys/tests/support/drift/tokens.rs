//! A tokenizer good enough for a C header and a Rust FFI module.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    Number(String),
    Str(String),
    Punct(String),
}

impl Tok {
    pub fn is(&self, p: &str) -> bool {
        matches!(self, Tok::Punct(s) | Tok::Ident(s) if s == p)
    }

    pub fn ident(&self) -> Option<&str> {
        match self {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Tok::Ident(s) | Tok::Number(s) | Tok::Str(s) | Tok::Punct(s) => s,
        }
    }
}

/// Removes `/* */` and `//` comments, keeping string literals and newlines.
pub fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            out.push_str(&src[start..i]);
        } else if src[i..].starts_with("/*") {
            let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            out.extend(src[i..end].chars().filter(|&c| c == '\n'));
            out.push(' ');
            i = end;
        } else if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(b.len(), |e| i + e);
        } else {
            let c = src[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

const TWO_CHAR: [&str; 4] = ["<<", ">>", "->", "::"];

pub fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'r' && src[i..].starts_with("r#") {
            let start = i + 2;
            i = start;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            toks.push(Tok::Ident(src[start..i].to_string()));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            toks.push(Tok::Ident(src[start..i].to_string()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            toks.push(Tok::Number(src[start..i].to_string()));
        } else if c == b'"' {
            let start = i + 1;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            toks.push(Tok::Str(src[start..i.min(b.len())].to_string()));
            i += 1;
        } else if let Some(p) = TWO_CHAR.iter().find(|p| src[i..].starts_with(**p)) {
            toks.push(Tok::Punct(p.to_string()));
            i += 2;
        } else if c.is_ascii_punctuation() {
            toks.push(Tok::Punct((c as char).to_string()));
            i += 1;
        } else {
            return Err(format!("unexpected character {:?} at byte {i}", src[i..].chars().next().unwrap()));
        }
    }
    Ok(toks)
}

/// Splits `toks` at top-level occurrences of `sep` (outside (), [], {}, <>
/// when `angle` is set).
pub fn split_top<'a>(toks: &'a [Tok], sep: &str, angle: bool) -> Vec<&'a [Tok]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.text() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            "<" if angle => depth += 1,
            ">" if angle => depth -= 1,
            s if depth == 0 && s == sep && matches!(t, Tok::Punct(_)) => {
                parts.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < toks.len() {
        parts.push(&toks[start..]);
    }
    parts
}

/// Index of the bracket closing the one at `open`.
pub fn matching(toks: &[Tok], open: usize) -> Result<usize, String> {
    let (o, c) = match toks[open].text() {
        "(" => ("(", ")"),
        "[" => ("[", "]"),
        "{" => ("{", "}"),
        "<" => ("<", ">"),
        other => return Err(format!("{other:?} is not an opening bracket")),
    };
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate().skip(open) {
        if t.is(o) {
            depth += 1;
        } else if t.is(c) {
            depth -= 1;
            if depth == 0 {
                return Ok(i);
            }
        }
    }
    Err(format!("unbalanced {o}"))
}
