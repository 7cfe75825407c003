//! Evaluates the integer constant expressions of `#define`s and Rust
//! `const`s: literals (C `u`/`l` and Rust type suffixes, `_` separators,
//! hex), names of known constants, `( ) | & << >> + - *` and unary minus,
//! and Rust `as` casts (ignored: the values here fit every type).

use std::collections::BTreeMap;

use super::tokens::Tok;

pub fn eval(toks: &[Tok], known: &BTreeMap<String, i128>) -> Result<i128, String> {
    let mut p = Parser { toks, pos: 0, known };
    let v = p.binary(0)?;
    if p.pos != toks.len() {
        return Err(format!("unexpected {:?}", toks[p.pos].text()));
    }
    Ok(v)
}

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    known: &'a BTreeMap<String, i128>,
}

const LEVELS: [&[&str]; 5] = [&["|"], &["&"], &["<<", ">>"], &["+", "-"], &["*"]];

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(Tok::text)
    }

    fn binary(&mut self, level: usize) -> Result<i128, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        while let Some(op) = self.peek().filter(|op| LEVELS[level].contains(op)).map(str::to_string) {
            self.pos += 1;
            let rhs = self.binary(level + 1)?;
            lhs = match op.as_str() {
                "|" => lhs | rhs,
                "&" => lhs & rhs,
                "<<" => lhs << rhs,
                ">>" => lhs >> rhs,
                "+" => lhs + rhs,
                "-" => lhs - rhs,
                _ => lhs * rhs,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<i128, String> {
        let tok = self.toks.get(self.pos).ok_or("expression ends early")?.clone();
        self.pos += 1;
        let v = match &tok {
            Tok::Punct(p) if p == "-" => -self.unary()?,
            Tok::Punct(p) if p == "(" => {
                let v = self.binary(0)?;
                if self.peek() != Some(")") {
                    return Err("missing )".into());
                }
                self.pos += 1;
                v
            }
            Tok::Number(n) => literal(n)?,
            Tok::Ident(name) => *self.known.get(name).ok_or(format!("unknown name {name}"))?,
            other => return Err(format!("unexpected {:?}", other.text())),
        };
        if self.peek() == Some("as") {
            self.pos += 2;
        }
        Ok(v)
    }
}

fn literal(text: &str) -> Result<i128, String> {
    let t = text.replace('_', "");
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => (hex.to_string(), 16),
        None => (t.clone(), 10),
    };
    let end = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    let suffix = &digits[end..];
    let ok_suffix =
        matches!(suffix.to_ascii_lowercase().as_str(), "" | "u" | "l" | "ul" | "lu" | "ll" | "ull" | "llu")
            || ["u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize"]
                .contains(&suffix);
    if end == 0 || !ok_suffix {
        return Err(format!("bad integer literal {text}"));
    }
    i128::from_str_radix(&digits[..end], radix).map_err(|e| format!("{text}: {e}"))
}
