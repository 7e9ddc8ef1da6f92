//! The SCIM filter and attribute-path grammar (RFC 7644 §3.4.2.2 and the PATCH `path` of §3.5.2),
//! parsed into an AST, plus in-memory evaluation with SCIM comparison rules.
//!
//! Attribute names and operators are case-insensitive; string comparison honours each attribute's
//! `caseExact` (so `userName` compares case-insensitively, `id` and `externalId` exactly).
//! Parse errors are `invalidFilter` (or `invalidPath` for paths) and name the 1-based column.
//!
//! The parser is a single-pass recursive descent over bytes. Its recursion is bounded by
//! [`MAX_FILTER_DEPTH`] and its input by [`MAX_FILTER_LEN`], so hostile input can neither overflow
//! the stack nor cost more than linear time. Beyond the RFC it accepts what real clients send:
//! `not(` without a space, and Entra's `emails[type eq "work"].value eq "x"`.

use crate::error::{Error, Result};
use crate::scim::resource::{self, get_ci};
use crate::scim::schema::{AttrType, ResourceSchema};
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// Longest filter or path accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not`, and value paths accepted.
pub const MAX_FILTER_DEPTH: usize = 32;

/// `[urn:]name[.sub]`. `urn` is kept as written (an extension or core schema URN); names are kept
/// as written and compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    const ALL: [(&'static str, CompareOp); 9] = [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ];

    /// The operator named by `word`, in any case (`pr` is not a comparison).
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|(_, op)| op)
    }

    /// The operator's lower-case keyword (`eq`).
    pub fn keyword(self) -> &'static str {
        Self::ALL
            .into_iter()
            .find(|(_, op)| *op == self)
            .map_or("eq", |(w, _)| w)
    }
}

/// A comparison value: JSON `false`, `null`, `true`, a number or a string.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath op value`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: true when some element of the multi-valued `attr` matches `filter`, whose
    /// attribute paths are relative to the element (`emails[type eq "work" and primary eq true]`).
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH `path`: `attrPath`, or `attr[valFilter]` optionally followed by `.subAttr`
/// (`members[value eq "2819c223"]`, `emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub value_filter: Option<Filter>,
    /// The sub-attribute after a value filter (`.value` in `emails[type eq "work"].value`).
    pub sub: Option<String>,
}

/// Which grammar is being parsed: decides the error kind and wording.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Filter,
    Path,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Path => "path",
        }
    }
    fn error(self, msg: String) -> Error {
        match self {
            Kind::Filter => Error::invalid_filter(msg),
            Kind::Path => Error::invalid_path(msg),
        }
    }
}

/// Parses a filter (the `filter` query parameter), enforcing [`MAX_FILTER_LEN`] and
/// [`MAX_FILTER_DEPTH`]. Errors are `invalidFilter` and name the column.
pub fn parse_filter(input: &str) -> Result<Filter> {
    let kind = Kind::Filter;
    check_len(input, kind)?;
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(kind.error("invalid filter: the filter is empty".into()));
    }
    let run = |p: &mut Parser| -> PResult<Filter> {
        let f = p.or_expr(false)?;
        p.skip_ws();
        if !p.at_end() {
            let msg = if p.peek() == Some(b')') {
                "unbalanced \")\"".to_string()
            } else {
                format!(
                    "expected \"and\", \"or\" or the end of the filter, found {}",
                    p.found(p.pos)
                )
            };
            return Err(PErr { pos: p.pos, msg });
        }
        Ok(f)
    };
    run(&mut p).map_err(|e| p.to_error(e, kind))
}

/// Parses a PATCH path. Errors are `invalidPath` and name the column.
pub fn parse_path(input: &str) -> Result<PatchPath> {
    let kind = Kind::Path;
    check_len(input, kind)?;
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(kind.error("invalid path: the path is empty".into()));
    }
    let run = |p: &mut Parser| -> PResult<PatchPath> {
        let start = p.pos;
        let attr = p.attr_path()?;
        let mut value_filter = None;
        let mut sub = None;
        if p.peek() == Some(b'[') {
            if attr.sub.is_some() {
                return Err(PErr {
                    pos: start,
                    msg: SUB_BEFORE_BRACKET.into(),
                });
            }
            value_filter = Some(p.bracket_filter()?);
            if p.peek() == Some(b'.') {
                p.pos += 1;
                sub = Some(p.attr_name()?.to_string());
            }
        }
        p.skip_ws();
        if !p.at_end() {
            let msg = format!("unexpected {} after the path", p.found(p.pos));
            return Err(PErr { pos: p.pos, msg });
        }
        Ok(PatchPath {
            attr,
            value_filter,
            sub,
        })
    };
    run(&mut p).map_err(|e| p.to_error(e, kind))
}

/// Parses a plain attribute path (`attributes=` / `excludedAttributes=` entries, mapping rules):
/// `[urn:]name[.sub]`. Errors are `invalidPath`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath> {
    let kind = Kind::Path;
    check_len(input, kind)?;
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(kind.error("invalid path: the attribute path is empty".into()));
    }
    let run = |p: &mut Parser| -> PResult<AttrPath> {
        let attr = p.attr_path()?;
        p.skip_ws();
        if !p.at_end() {
            let msg = format!("unexpected {} after the attribute path", p.found(p.pos));
            return Err(PErr { pos: p.pos, msg });
        }
        Ok(attr)
    };
    run(&mut p).map_err(|e| p.to_error(e, kind))
}

fn check_len(input: &str, kind: Kind) -> Result<()> {
    if input.len() > MAX_FILTER_LEN {
        return Err(kind.error(format!(
            "invalid {}: longer than {MAX_FILTER_LEN} bytes",
            kind.noun()
        )));
    }
    Ok(())
}

const SUB_BEFORE_BRACKET: &str =
    "a value filter \"[...]\" must follow a multi-valued attribute, not a sub-attribute";
const OPERATORS: &str = "eq, ne, co, sw, ew, gt, ge, lt, le, pr";

/// A parse error at a byte offset; turned into a column when reported.
struct PErr {
    pos: usize,
    msg: String,
}

type PResult<T> = std::result::Result<T, PErr>;

/// Bytes that may appear in an attribute path token (`urn:…:2.0:User:name.givenName`, `$ref`).
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.' | b'$')
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `ALPHA *(ALPHA / DIGIT / "-" / "_")`, or `$ref`.
fn is_attr_name(s: &str) -> bool {
    if s.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn to_error(&self, e: PErr, kind: Kind) -> Error {
        let col = self.src.get(..e.pos).map_or(e.pos, |s| s.chars().count()) + 1;
        kind.error(format!(
            "invalid {} at column {col}: {}",
            kind.noun(),
            e.msg
        ))
    }

    fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// A short quoted description of the input at `pos`, for error messages.
    fn found(&self, pos: usize) -> String {
        let rest = self.src.get(pos..).unwrap_or("");
        let Some(first) = rest.chars().next() else {
            return "the end of the input".into();
        };
        let token: String = if first == '"' {
            let end = rest[1..].find('"').map_or(rest.len(), |i| i + 2);
            rest[..end].chars().take(24).collect()
        } else if first.is_ascii() && !is_path_byte(first as u8) {
            first.to_string()
        } else {
            rest.chars()
                .take_while(|&c| {
                    !(c.is_ascii() && (is_ws(c as u8) || b"()[]\"".contains(&(c as u8))))
                })
                .take(24)
                .collect()
        };
        format!("{token:?}")
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(PErr {
                pos,
                msg: format!("nested deeper than {MAX_FILTER_DEPTH} levels"),
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Whether the case-insensitive keyword `kw` starts at the current position as a whole word.
    fn at_keyword(&self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        self.b
            .get(self.pos..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(kw.as_bytes()))
            && !self.b.get(end).copied().is_some_and(is_path_byte)
    }

    /// The position of the next non-whitespace byte after `from`.
    fn next_non_ws(&self, from: usize) -> usize {
        let mut i = from;
        while self.b.get(i).copied().is_some_and(is_ws) {
            i += 1;
        }
        i
    }

    fn expect_close(&mut self, close: u8, open_pos: usize) -> PResult<()> {
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        let (c, o) = if close == b')' {
            (")", "(")
        } else {
            ("]", "[")
        };
        let open_col = self
            .src
            .get(..open_pos)
            .map_or(open_pos, |s| s.chars().count())
            + 1;
        let msg = format!(
            "expected \"and\", \"or\" or \"{c}\" to close the \"{o}\" at column {open_col}, found {}",
            self.found(self.pos)
        );
        Err(PErr { pos: self.pos, msg })
    }

    /// `orExp = andExp *("or" andExp)`, left-associative; a loop, so long chains do not recurse.
    fn or_expr(&mut self, in_value: bool) -> PResult<Filter> {
        let mut left = self.and_expr(in_value)?;
        loop {
            self.skip_ws();
            if !self.at_keyword("or") {
                return Ok(left);
            }
            self.pos += 2;
            let right = self.and_expr(in_value)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    fn and_expr(&mut self, in_value: bool) -> PResult<Filter> {
        let mut left = self.unary(in_value)?;
        loop {
            self.skip_ws();
            if !self.at_keyword("and") {
                return Ok(left);
            }
            self.pos += 3;
            let right = self.unary(in_value)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    /// `not (…)`, `(…)` or an attribute expression.
    fn unary(&mut self, in_value: bool) -> PResult<Filter> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => Err(PErr {
                pos: start,
                msg: "expected an attribute path, \"(\" or \"not\", found the end of the input"
                    .into(),
            }),
            Some(b'(') => {
                self.enter(start)?;
                self.pos += 1;
                let f = self.or_expr(in_value)?;
                self.expect_close(b')', start)?;
                self.leave();
                Ok(f)
            }
            Some(_) if self.at_keyword("not") => {
                let open = self.next_non_ws(self.pos + 3);
                if self.b.get(open) != Some(&b'(') {
                    // An attribute literally named `not` (`not eq "x"`) is still an attribute.
                    if self.b.get(open).is_some_and(u8::is_ascii_alphabetic)
                        && !self.operator_at(open)
                    {
                        return Err(PErr {
                            pos: open,
                            msg: format!(
                                "expected \"(\" after \"not\", found {}",
                                self.found(open)
                            ),
                        });
                    }
                    return self.attr_expr(in_value);
                }
                self.enter(start)?;
                self.pos = open + 1;
                let f = self.or_expr(in_value)?;
                self.expect_close(b')', open)?;
                self.leave();
                Ok(Filter::Not(Box::new(f)))
            }
            Some(_)
                if ["and", "or"].into_iter().any(|kw| {
                    self.at_keyword(kw) && !self.operator_at(self.next_non_ws(self.pos + kw.len()))
                }) =>
            {
                Err(PErr {
                    pos: start,
                    msg: format!(
                        "expected an attribute path, \"(\" or \"not\", found {}",
                        self.found(start)
                    ),
                })
            }
            Some(_) => self.attr_expr(in_value),
        }
    }

    /// Whether a comparison operator or `pr` starts at `at` (to tell a keyword from an attribute
    /// that happens to be called `not`, `and` or `or`).
    fn operator_at(&self, at: usize) -> bool {
        let len = self.b[at.min(self.b.len())..]
            .iter()
            .take_while(|&&b| is_path_byte(b))
            .count();
        let w = self.src.get(at..at + len).unwrap_or("");
        CompareOp::parse(w).is_some() || w.eq_ignore_ascii_case("pr")
    }

    /// `attrPath op value`, `attrPath pr`, `attr[filter]`, or Entra's `attr[filter].sub op value`.
    fn attr_expr(&mut self, in_value: bool) -> PResult<Filter> {
        let start = self.pos;
        let path = self.attr_path()?;
        if in_value && path.urn.is_some() {
            return Err(PErr {
                pos: start,
                msg: "attribute paths inside a value filter are relative to the multi-valued \
                      attribute and cannot name a schema URN"
                    .into(),
            });
        }
        if in_value && path.sub.is_some() {
            return Err(PErr {
                pos: start,
                msg: "attribute paths inside a value filter name one sub-attribute of the \
                      multi-valued attribute and cannot have a further \".sub\""
                    .into(),
            });
        }
        let bracket = self.next_non_ws(self.pos);
        if self.b.get(bracket) == Some(&b'[') {
            // Lenient: `emails [type eq "work"]`.
            self.pos = bracket;
            if in_value {
                return Err(PErr {
                    pos: self.pos,
                    msg: "value filters cannot be nested".into(),
                });
            }
            if path.sub.is_some() {
                return Err(PErr {
                    pos: start,
                    msg: SUB_BEFORE_BRACKET.into(),
                });
            }
            let inner = self.bracket_filter()?;
            let filter = if self.peek() == Some(b'.') {
                // Entra: `emails[type eq "work"].value eq "x"` means both hold on one element.
                self.pos += 1;
                let sub = AttrPath {
                    urn: None,
                    name: self.attr_name()?.to_string(),
                    sub: None,
                };
                let cond = self.condition(sub)?;
                Filter::And(Box::new(inner), Box::new(cond))
            } else {
                inner
            };
            return Ok(Filter::ValuePath {
                attr: path,
                filter: Box::new(filter),
            });
        }
        self.condition(path)
    }

    /// `[filter]` after a multi-valued attribute; the current byte is `[`.
    fn bracket_filter(&mut self) -> PResult<Filter> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            return Err(PErr {
                pos: self.pos,
                msg: "empty value filter \"[]\"".into(),
            });
        }
        let f = self.or_expr(true)?;
        self.expect_close(b']', open)?;
        self.leave();
        Ok(f)
    }

    /// The operator (and value) after an attribute path.
    fn condition(&mut self, path: AttrPath) -> PResult<Filter> {
        self.skip_ws();
        let op_pos = self.pos;
        let len = self.b[op_pos..]
            .iter()
            .take_while(|&&b| is_path_byte(b))
            .count();
        let word = &self.src[op_pos..op_pos + len];
        if word.eq_ignore_ascii_case("pr") {
            self.pos += len;
            let next = self.next_non_ws(self.pos);
            if next > self.pos && self.looks_like_value(next) {
                return Err(PErr {
                    pos: next,
                    msg: format!("\"pr\" takes no value, found {}", self.found(next)),
                });
            }
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(word) else {
            return Err(PErr {
                pos: op_pos,
                msg: format!(
                    "expected an operator ({OPERATORS}), found {}",
                    self.found(op_pos)
                ),
            });
        };
        self.pos += len;
        let value = self.comp_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn looks_like_value(&self, at: usize) -> bool {
        match self.b.get(at) {
            Some(b'"' | b'-' | b'0'..=b'9') => true,
            Some(_) => {
                let len = self.b[at..]
                    .iter()
                    .take_while(|&&b| is_path_byte(b))
                    .count();
                let w = &self.src[at..at + len];
                ["true", "false", "null"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(w))
            }
            None => false,
        }
    }

    fn comp_value(&mut self, op: CompareOp) -> PResult<CompValue> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.string().map(CompValue::String),
            Some(b'-' | b'0'..=b'9') => self.number().map(CompValue::Number),
            Some(b) if b.is_ascii_alphabetic() => {
                let len = self.b[start..]
                    .iter()
                    .take_while(|&&b| is_path_byte(b))
                    .count();
                let w = &self.src[start..start + len];
                let v = if w.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if w.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if w.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else {
                    return Err(PErr {
                        pos: start,
                        msg: format!(
                            "expected a value (a quoted string, a number, true, false or null), \
                             found {} (strings must be in double quotes)",
                            self.found(start)
                        ),
                    });
                };
                self.pos += len;
                Ok(v)
            }
            _ => Err(PErr {
                pos: start,
                msg: format!(
                    "expected a value after {:?} (a quoted string, a number, true, false or \
                     null), found {}",
                    format!("{op:?}").to_ascii_lowercase(),
                    self.found(start)
                ),
            }),
        }
    }

    /// A JSON string; the current byte is the opening quote.
    fn string(&mut self) -> PResult<String> {
        let open = self.pos;
        let unterminated = || PErr {
            pos: open,
            msg: "unterminated string".into(),
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let chunk_start = self.pos;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\') {
                self.pos += 1;
            }
            out.push_str(&self.src[chunk_start..self.pos]);
            match self.peek() {
                None => return Err(unterminated()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    let esc_pos = self.pos;
                    let Some(e) = self.b.get(self.pos + 1).copied() else {
                        return Err(unterminated());
                    };
                    self.pos += 2;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape(esc_pos)?,
                        _ => {
                            return Err(PErr {
                                pos: esc_pos,
                                msg: format!("invalid escape {} in a string", self.found(esc_pos)),
                            });
                        }
                    };
                    out.push(c);
                }
            }
        }
    }

    fn hex4(&mut self, esc_pos: usize) -> PResult<u32> {
        let bad = || PErr {
            pos: esc_pos,
            msg: "invalid \\u escape in a string (expected four hex digits)".into(),
        };
        let digits = self.src.get(self.pos..self.pos + 4).ok_or_else(bad)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let v = u32::from_str_radix(digits, 16).map_err(|_| bad())?;
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`: four hex digits, combining a UTF-16 surrogate pair when there is one.
    fn unicode_escape(&mut self, esc_pos: usize) -> PResult<char> {
        let lone = || PErr {
            pos: esc_pos,
            msg: "invalid \\u escape in a string (unpaired surrogate)".into(),
        };
        let hi = self.hex4(esc_pos)?;
        let code = match hi {
            0xD800..=0xDBFF => {
                if self.b.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(lone());
                }
                let low_pos = self.pos;
                self.pos += 2;
                let lo = self.hex4(low_pos)?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(lone());
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(lone()),
            c => c,
        };
        char::from_u32(code).ok_or_else(lone)
    }

    /// A JSON number.
    fn number(&mut self) -> PResult<serde_json::Number> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        serde_json::from_str::<serde_json::Number>(text).map_err(|_| PErr {
            pos: start,
            msg: format!("invalid number {text:?}"),
        })
    }

    /// `[urn:]name[.sub]` at the current position.
    fn attr_path(&mut self) -> PResult<AttrPath> {
        let start = self.pos;
        while self.peek().is_some_and(is_path_byte) {
            self.pos += 1;
        }
        let tok = &self.src[start..self.pos];
        if tok.is_empty() {
            return Err(PErr {
                pos: start,
                msg: format!("expected an attribute path, found {}", self.found(start)),
            });
        }
        split_attr_path(tok, start)
    }

    /// A bare attribute name (after `].`).
    fn attr_name(&mut self) -> PResult<&'a str> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'$'))
        {
            self.pos += 1;
        }
        let name = &self.src[start..self.pos];
        if !is_attr_name(name) {
            return Err(PErr {
                pos: start,
                msg: format!("expected a sub-attribute name, found {}", self.found(start)),
            });
        }
        Ok(name)
    }
}

/// Splits a path token: the schema URN is everything before the last `:` (URNs contain dots, as
/// in `2.0`); the rest is `name[.sub]`. `base` is the token's offset, for error positions.
fn split_attr_path(tok: &str, base: usize) -> PResult<AttrPath> {
    let (urn, rest, rest_base) = if tok.len() >= 4 && tok[..4].eq_ignore_ascii_case("urn:") {
        let colon = tok.rfind(':').unwrap_or(3);
        if colon <= 3 {
            return Err(PErr {
                pos: base,
                msg: format!("incomplete schema URN {tok:?}"),
            });
        }
        (Some(&tok[..colon]), &tok[colon + 1..], base + colon + 1)
    } else {
        if let Some(i) = tok.find(':') {
            return Err(PErr {
                pos: base + i,
                msg: "unexpected \":\" (a schema URN starts with \"urn:\")".into(),
            });
        }
        (None, tok, base)
    };
    let (name, sub) = match rest.find('.') {
        Some(i) => (&rest[..i], Some((&rest[i + 1..], rest_base + i + 1))),
        None => (rest, None),
    };
    if !is_attr_name(name) {
        let msg = if name.is_empty() {
            "expected an attribute name".to_string()
        } else {
            format!("invalid attribute name {name:?}")
        };
        return Err(PErr {
            pos: rest_base,
            msg,
        });
    }
    let sub = match sub {
        None => None,
        Some((s, pos)) => {
            if let Some(i) = s.find('.') {
                return Err(PErr {
                    pos: pos + i,
                    msg: "an attribute path has at most one sub-attribute".into(),
                });
            }
            if !is_attr_name(s) {
                let msg = if s.is_empty() {
                    "expected a sub-attribute name after \".\"".to_string()
                } else {
                    format!("invalid sub-attribute name {s:?}")
                };
                return Err(PErr { pos, msg });
            }
            Some(s.to_string())
        }
    };
    Ok(AttrPath {
        urn: urn.map(str::to_string),
        name: name.to_string(),
        sub,
    })
}

impl Filter {
    /// Whether `resource` (a SCIM resource JSON object in canonical form: extension attributes
    /// under their URN key) matches, using `schema` for `caseExact` and types.
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        eval(self, Scope::Root(resource), schema)
    }

    /// Every attribute path the filter mentions (value paths as `attr.sub`), for checking that the
    /// mapping knows them before evaluating.
    pub fn attr_paths(&self) -> Vec<AttrPath> {
        let mut out = Vec::new();
        collect_paths(self, None, &mut out);
        out
    }
}

fn collect_paths(f: &Filter, parent: Option<&AttrPath>, out: &mut Vec<AttrPath>) {
    let mut push = |p: &AttrPath| {
        let p = match parent {
            None => p.clone(),
            Some(attr) => AttrPath {
                urn: attr.urn.clone(),
                name: attr.name.clone(),
                sub: Some(p.name.clone()),
            },
        };
        if !out.contains(&p) {
            out.push(p);
        }
    };
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => push(path),
        Filter::And(a, b) | Filter::Or(a, b) => {
            collect_paths(a, parent, out);
            collect_paths(b, parent, out);
        }
        Filter::Not(a) => collect_paths(a, parent, out),
        Filter::ValuePath { attr, filter } => collect_paths(filter, Some(attr), out),
    }
}

/// What attribute paths are relative to: the resource, or one element of a multi-valued
/// attribute (inside a value path).
#[derive(Clone, Copy)]
enum Scope<'a> {
    Root(&'a Value),
    Element {
        elem: &'a Value,
        parent: &'a AttrPath,
    },
}

fn eval(f: &Filter, scope: Scope<'_>, schema: &ResourceSchema) -> bool {
    match f {
        Filter::And(a, b) => eval(a, scope, schema) && eval(b, scope, schema),
        Filter::Or(a, b) => eval(a, scope, schema) || eval(b, scope, schema),
        Filter::Not(a) => !eval(a, scope, schema),
        Filter::Present(path) => {
            let (values, _) = resolve(scope, path, schema, false);
            values.into_iter().any(is_present)
        }
        Filter::Compare { path, op, value } => {
            let (values, case_exact) = resolve(scope, path, schema, true);
            let eq_any = |vs: &[&Value]| {
                if *value == CompValue::Null {
                    vs.is_empty()
                } else {
                    vs.iter()
                        .any(|v| compare(v, CompareOp::Eq, value, case_exact))
                }
            };
            match op {
                CompareOp::Eq => eq_any(&values),
                CompareOp::Ne => !eq_any(&values),
                _ => values.iter().any(|v| compare(v, *op, value, case_exact)),
            }
        }
        Filter::ValuePath { attr, filter } => {
            let (elements, _) = resolve(scope, attr, schema, false);
            elements.into_iter().any(|e| {
                let elems: &[Value] = match e {
                    Value::Array(items) => items,
                    other => std::slice::from_ref(other),
                };
                elems
                    .iter()
                    .any(|elem| eval(filter, Scope::Element { elem, parent: attr }, schema))
            })
        }
    }
}

/// The non-null values `path` designates in `scope`, flattened across multi-valued attributes,
/// and whether they compare case-exactly. With `implicit_value`, a multi-valued complex attribute
/// without a sub-attribute stands for its elements' `value`s (`emails eq "x"`).
fn resolve<'a>(
    scope: Scope<'a>,
    path: &AttrPath,
    schema: &ResourceSchema,
    implicit_value: bool,
) -> (Vec<&'a Value>, bool) {
    let mut out = Vec::new();
    let case_exact = match scope {
        Scope::Root(res) => {
            let urn = path.urn.as_deref();
            let found = resource::container(res, urn, &path.name, schema)
                .and_then(|c| get_ci(c, &path.name));
            match (&path.sub, found) {
                (_, None) => {}
                (Some(sub), Some(v)) => sub_values(v, sub, &mut out),
                (None, Some(Value::Array(items))) if implicit_value => {
                    for item in items {
                        match item {
                            Value::Object(o) => out.extend(get_ci(o, "value")),
                            other => out.push(other),
                        }
                    }
                }
                (None, Some(v)) => out.push(v),
            }
            match resource::find_def_in(schema, urn, &path.name, path.sub.as_deref()) {
                Some(d) if d.multi && d.ty == AttrType::Complex && path.sub.is_none() => {
                    d.find_sub("value").is_some_and(|v| v.case_exact)
                }
                Some(d) => d.case_exact,
                None => false,
            }
        }
        Scope::Element { elem, parent } => {
            match elem {
                Value::Object(o) => {
                    if let Some(v) = get_ci(o, &path.name) {
                        match &path.sub {
                            Some(sub) => sub_values(v, sub, &mut out),
                            None => flatten_into(v, &mut out),
                        }
                    }
                }
                // An array of plain values: the element itself is its `value`.
                other if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() => {
                    out.push(other)
                }
                _ => {}
            }
            resource::find_def_in(
                schema,
                parent.urn.as_deref(),
                &parent.name,
                Some(&path.name),
            )
            .is_some_and(|d| d.case_exact)
        }
    };
    out.retain(|v| !v.is_null());
    (out, case_exact)
}

fn flatten_into<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

/// `sub` of a complex value, or of every element of a multi-valued one.
fn sub_values<'a>(v: &'a Value, sub: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(o) => {
            if let Some(s) = get_ci(o, sub) {
                flatten_into(s, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                if let Some(s) = item.as_object().and_then(|o| get_ci(o, sub)) {
                    flatten_into(s, out);
                }
            }
        }
        _ => {}
    }
}

/// RFC 7644 `pr`: present and not null, not empty.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(o) => o.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn ordering_holds(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// One attribute value against the filter's value; mismatched types never match.
fn compare(v: &Value, op: CompareOp, cv: &CompValue, case_exact: bool) -> bool {
    match (v, cv) {
        (Value::String(a), CompValue::String(b)) => {
            if case_exact {
                compare_str(a, b, op)
            } else {
                compare_str(&a.to_lowercase(), &b.to_lowercase(), op)
            }
        }
        (Value::Number(a), CompValue::Number(b)) => {
            compare_num(a, b).is_some_and(|ord| ordering_holds(op, ord))
        }
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

fn compare_str(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordering_holds(op, a.cmp(b)),
    }
}

fn compare_num(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
    use crate::scim::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.into(),
            sub: sub.map(str::to_string),
        }
    }
    fn a(name: &str) -> AttrPath {
        ap(None, name, None)
    }
    fn s(v: &str) -> CompValue {
        CompValue::String(v.into())
    }
    fn cmp(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }
    fn and(x: Filter, y: Filter) -> Filter {
        Filter::And(Box::new(x), Box::new(y))
    }
    fn or(x: Filter, y: Filter) -> Filter {
        Filter::Or(Box::new(x), Box::new(y))
    }
    fn parse(f: &str) -> Filter {
        parse_filter(f).unwrap_or_else(|e| panic!("{f}: {e}"))
    }
    /// The error message, asserting it is an invalidFilter.
    fn filter_err(f: &str) -> String {
        let e = parse_filter(f).expect_err(f);
        assert_eq!(e.class().scim_type, Some(ScimType::InvalidFilter), "{f}");
        e.detail()
    }
    fn path_err(p: &str) -> String {
        let e = parse_path(p).expect_err(p);
        assert_eq!(e.class().scim_type, Some(ScimType::InvalidPath), "{p}");
        e.detail()
    }

    #[test]
    fn parses_simple_comparisons_with_any_case_and_whitespace() {
        assert_eq!(
            parse(r#"userName eq "bjensen""#),
            cmp(a("userName"), CompareOp::Eq, s("bjensen"))
        );
        assert_eq!(
            parse("  USERNAME \t EQ\t\"x\"  "),
            cmp(a("USERNAME"), CompareOp::Eq, s("x"))
        );
        for (w, op) in [
            ("ne", CompareOp::Ne),
            ("Co", CompareOp::Co),
            ("SW", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("GE", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(
                parse(&format!("title {w} \"x\"")),
                cmp(a("title"), op, s("x"))
            );
        }
        assert_eq!(parse("title pr"), Filter::Present(a("title")));
        assert_eq!(parse("title PR"), Filter::Present(a("title")));
    }

    #[test]
    fn parses_json_values() {
        assert_eq!(
            parse("active eq TRUE"),
            cmp(a("active"), CompareOp::Eq, CompValue::Bool(true))
        );
        assert_eq!(
            parse("active eq false"),
            cmp(a("active"), CompareOp::Eq, CompValue::Bool(false))
        );
        assert_eq!(
            parse("title eq Null"),
            cmp(a("title"), CompareOp::Eq, CompValue::Null)
        );
        assert_eq!(
            parse("n gt -12.5e2"),
            cmp(
                a("n"),
                CompareOp::Gt,
                CompValue::Number(serde_json::Number::from_f64(-1250.0).unwrap())
            )
        );
        assert_eq!(
            parse("n ge 42"),
            cmp(a("n"), CompareOp::Ge, CompValue::Number(42.into()))
        );
        assert_eq!(
            parse(r#"displayName eq "a \"q\" \\ \/ \u00e9 \ud83d\ude00 \n""#),
            cmp(a("displayName"), CompareOp::Eq, s("a \"q\" \\ / é 😀 \n"))
        );
        assert_eq!(
            parse("displayName eq \"Zoë and (x) or [y]\""),
            cmp(a("displayName"), CompareOp::Eq, s("Zoë and (x) or [y]"))
        );
    }

    #[test]
    fn precedence_is_not_then_and_then_or_left_associative() {
        let f = parse("a pr or b pr and c pr or d pr");
        let (pa, pb, pc, pd) = (
            Filter::Present(a("a")),
            Filter::Present(a("b")),
            Filter::Present(a("c")),
            Filter::Present(a("d")),
        );
        assert_eq!(
            f,
            or(or(pa.clone(), and(pb.clone(), pc.clone())), pd.clone())
        );
        assert_eq!(
            parse("(a pr or b pr) and c pr"),
            and(or(pa.clone(), pb.clone()), pc.clone())
        );
        assert_eq!(
            parse("a pr And b pr AND c pr"),
            and(and(pa.clone(), pb.clone()), pc.clone())
        );
        assert_eq!(
            parse("not (a pr) and b pr"),
            and(Filter::Not(Box::new(pa.clone())), pb.clone())
        );
        assert_eq!(parse("NOT(a pr)"), Filter::Not(Box::new(pa.clone())));
        assert_eq!(parse("((((a pr))))"), pa);
        // Attributes that happen to be called like keywords still work.
        assert_eq!(parse(r#"not eq "x""#), cmp(a("not"), CompareOp::Eq, s("x")));
        assert_eq!(
            parse("or pr and and pr"),
            and(Filter::Present(a("or")), Filter::Present(a("and")))
        );
        assert_eq!(
            parse("emails [type pr]"),
            Filter::ValuePath {
                attr: a("emails"),
                filter: Box::new(Filter::Present(a("type")))
            }
        );
        // A word starting with a keyword is an attribute name.
        assert_eq!(parse("notes pr"), Filter::Present(a("notes")));
        assert_eq!(
            parse("a pr or order pr"),
            or(Filter::Present(a("a")), Filter::Present(a("order")))
        );
    }

    #[test]
    fn parses_urn_qualified_paths_and_sub_attributes() {
        assert_eq!(
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Ada""#),
            cmp(
                ap(Some(USER_SCHEMA), "name", Some("givenName")),
                CompareOp::Eq,
                s("Ada")
            )
        );
        assert_eq!(
            parse(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D""#
            ),
            cmp(
                ap(Some(ENTERPRISE_USER_SCHEMA), "department", None),
                CompareOp::Eq,
                s("R&D")
            )
        );
        assert_eq!(
            parse("meta.lastModified gt \"2011-05-13T04:42:34Z\""),
            cmp(
                ap(None, "meta", Some("lastModified")),
                CompareOp::Gt,
                s("2011-05-13T04:42:34Z")
            )
        );
        assert_eq!(
            parse("members.$ref pr"),
            Filter::Present(ap(None, "members", Some("$ref")))
        );
        assert_eq!(parse("x-y_z9 pr"), Filter::Present(a("x-y_z9")));
    }

    #[test]
    fn parses_value_paths_including_entra_form() {
        let inner = and(
            cmp(a("type"), CompareOp::Eq, s("work")),
            cmp(a("primary"), CompareOp::Eq, CompValue::Bool(true)),
        );
        assert_eq!(
            parse(r#"emails[type eq "work" and primary eq true]"#),
            Filter::ValuePath {
                attr: a("emails"),
                filter: Box::new(inner)
            }
        );
        assert_eq!(
            parse(r#"emails[type eq "work"].value eq "a@b.c""#),
            Filter::ValuePath {
                attr: a("emails"),
                filter: Box::new(and(
                    cmp(a("type"), CompareOp::Eq, s("work")),
                    cmp(a("value"), CompareOp::Eq, s("a@b.c"))
                )),
            }
        );
        assert_eq!(
            parse(r#"emails[ type eq "work" ].value pr and userName sw "a""#),
            and(
                Filter::ValuePath {
                    attr: a("emails"),
                    filter: Box::new(and(
                        cmp(a("type"), CompareOp::Eq, s("work")),
                        Filter::Present(a("value"))
                    )),
                },
                cmp(a("userName"), CompareOp::Sw, s("a"))
            )
        );
        let f = parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[not (type eq "home")]"#);
        assert!(
            matches!(f, Filter::ValuePath { ref attr, .. } if attr.urn.as_deref() == Some(USER_SCHEMA))
        );
    }

    #[test]
    fn reports_errors_with_columns() {
        let m = filter_err("userName foo \"x\"");
        assert_eq!(
            m,
            "invalid filter at column 10: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr), found \"foo\""
        );
        assert!(filter_err("userName eq \"abc").contains("column 13: unterminated string"));
        assert!(filter_err("userName eq \"x\" foo").contains("column 17"));
        assert!(filter_err("").contains("empty"));
        assert!(filter_err("   \t ").contains("empty"));
        assert!(filter_err("title pr \"x\"").contains("\"pr\" takes no value"));
        assert!(filter_err("title pr true").contains("\"pr\" takes no value"));
        assert!(filter_err("userName eq bjensen").contains("double quotes"));
        assert!(filter_err("userName eq").contains("found the end of the input"));
        assert!(filter_err("userName").contains("expected an operator"));
        assert!(filter_err("(a pr").contains("to close the \"(\" at column 1"));
        assert!(filter_err("a pr)").contains("unbalanced"));
        assert!(filter_err("a pr and").contains("column 9"));
        assert!(filter_err("a pr or or b pr").contains("column 9"));
        assert!(filter_err("not a pr").contains("expected \"(\" after \"not\""));
        assert!(filter_err("emails[type eq \"work\"").contains("\"]\""));
        assert!(filter_err("emails[]").contains("empty value filter"));
        assert!(filter_err("emails[value[x eq 1]]").contains("cannot be nested"));
        assert!(filter_err("name.givenName[x pr]").contains("multi-valued"));
        assert!(filter_err("emails[urn:x:y:type pr]").contains("schema URN"));
        assert!(filter_err("a.b.c pr").contains("at most one sub-attribute"));
        assert!(filter_err("9lives pr").contains("invalid attribute name"));
        assert!(filter_err("foo:bar pr").contains("urn:"));
        assert!(filter_err("urn:x pr").contains("incomplete schema URN"));
        assert!(filter_err("urn:a:b: pr").contains("attribute name"));
        assert!(filter_err("a pr and and b pr").contains("column 10"));
        assert!(filter_err("n eq 01").contains("column 6"));
        assert!(filter_err("n eq 1.").contains("invalid number"));
        assert!(filter_err(r#"a eq "\x""#).contains("invalid escape"));
        assert!(filter_err(r#"a eq "\ud800""#).contains("surrogate"));
        assert!(filter_err(r#"a eq "\u12""#).contains("hex"));
        // Columns count characters, not bytes.
        assert!(filter_err("title eq \"é\" xx").contains("column 14"));
    }

    #[test]
    fn enforces_length_and_depth_limits_without_recursing_on_hostile_input() {
        let deep = "(".repeat(100_000);
        assert!(filter_err(&deep).contains("longer than 4096"));
        let deep = format!("{}a pr{}", "(".repeat(4000), ")".repeat(40));
        assert!(filter_err(&deep).contains("nested deeper than 32"));
        let nots = format!("{}a pr{}", "not (".repeat(33), ")".repeat(33));
        assert!(filter_err(&nots).contains("nested deeper"));
        let ok = format!("{}a pr{}", "(".repeat(31), ")".repeat(31));
        assert_eq!(parse(&ok), Filter::Present(a("a")));
        let ok = format!("{}emails[type pr]{}", "(".repeat(31), ")".repeat(31));
        assert!(parse_filter(&ok).is_ok());
        let too_deep = format!("{}emails[type pr]{}", "(".repeat(32), ")".repeat(32));
        assert!(filter_err(&too_deep).contains("nested deeper"));
        // Long flat chains are fine (built in a loop, not by recursion).
        let chain = vec!["a pr"; 500].join(" or ");
        assert!(chain.len() <= MAX_FILTER_LEN);
        let f = parse(&chain);
        assert!(f.matches(&json!({"a": 1}), &USER_RESOURCE));
        assert!(filter_err(&format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN))).contains("longer"));
    }

    #[test]
    fn parses_patch_paths() {
        let p = parse_path("members[value eq \"2819c223\"]").unwrap();
        assert_eq!(p.attr, a("members"));
        assert_eq!(
            p.value_filter,
            Some(cmp(a("value"), CompareOp::Eq, s("2819c223")))
        );
        assert_eq!(p.sub, None);
        let p = parse_path("emails[type eq \"work\"].value").unwrap();
        assert_eq!(p.attr, a("emails"));
        assert_eq!(p.sub.as_deref(), Some("value"));
        let p = parse_path("addresses[primary eq true].locality").unwrap();
        assert_eq!(p.sub.as_deref(), Some("locality"));
        let p = parse_path("name.familyName").unwrap();
        assert_eq!(
            (p.attr, p.value_filter, p.sub),
            (ap(None, "name", Some("familyName")), None, None)
        );
        let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
            .unwrap();
        assert_eq!(p.attr, ap(Some(ENTERPRISE_USER_SCHEMA), "manager", None));
        let p =
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
                .unwrap();
        assert_eq!(
            p.attr,
            ap(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value"))
        );
        let p = parse_path(" Active ").unwrap();
        assert_eq!(p.attr, a("Active"));

        assert!(path_err("").contains("empty"));
        assert!(path_err("members[value eq \"x\"").contains("\"]\""));
        assert!(path_err("members[value eq \"x\"] extra").contains("after the path"));
        assert!(path_err("members[value eq \"x\"].").contains("sub-attribute name"));
        assert!(path_err("name.givenName[x pr]").contains("multi-valued"));
        assert!(path_err("emails[bogus]").contains("column 13"));
        assert!(path_err("a b").starts_with("invalid path at column 3"));
    }

    #[test]
    fn parses_plain_attribute_paths() {
        assert_eq!(parse_attr_path("userName").unwrap(), a("userName"));
        assert_eq!(
            parse_attr_path("name.givenName").unwrap(),
            ap(None, "name", Some("givenName"))
        );
        assert_eq!(
            parse_attr_path(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            )
            .unwrap(),
            ap(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value"))
        );
        for bad in ["", "emails[type pr]", "a b", "a..b", "1a", "name."] {
            let e = parse_attr_path(bad).expect_err(bad);
            assert_eq!(e.class().scim_type, Some(ScimType::InvalidPath), "{bad}");
        }
    }

    #[test]
    fn displays_attr_paths() {
        assert_eq!(
            ap(None, "name", Some("givenName")).to_string(),
            "name.givenName"
        );
        assert_eq!(a("userName").to_string(), "userName");
        assert_eq!(
            ap(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value")).to_string(),
            format!("{ENTERPRISE_USER_SCHEMA}:manager.value")
        );
        let p = "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName";
        assert_eq!(parse_attr_path(p).unwrap().to_string(), p);
    }

    #[test]
    fn lists_attr_paths() {
        let f = parse(
            r#"userName eq "a" or (emails[type eq "work" and value co "@"] and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department pr) or userName eq "b""#,
        );
        assert_eq!(
            f.attr_paths(),
            vec![
                a("userName"),
                ap(None, "emails", Some("type")),
                ap(None, "emails", Some("value")),
                ap(Some(ENTERPRISE_USER_SCHEMA), "department", None),
            ]
        );
        let f = parse(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value eq "x""#,
        );
        assert_eq!(
            f.attr_paths(),
            vec![
                ap(Some(USER_SCHEMA), "emails", Some("type")),
                ap(Some(USER_SCHEMA), "emails", Some("value"))
            ]
        );
    }

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Ext-1",
            "userName": "Bjensen@Example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "title": "",
            "nickName": null,
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "roles": [],
            "meta": {"lastModified": "2011-05-13T04:42:34Z", "version": "W/\"a330bc54f0671c9\""},
            "x-count": 7,
            ENTERPRISE_USER_SCHEMA: {"department": "Tour Operations", "manager": {"value": "m1"}}
        })
    }

    fn m(f: &str) -> bool {
        parse(f).matches(&user(), &USER_RESOURCE)
    }

    #[test]
    fn evaluates_strings_honouring_case_exact() {
        assert!(
            m(r#"userName eq "bjensen@example.com""#),
            "userName is caseExact=false"
        );
        assert!(m(r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#));
        assert!(m(r#"externalId eq "Ext-1""#));
        assert!(!m(r#"externalId eq "ext-1""#), "externalId is caseExact");
        assert!(
            !m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#),
            "id is caseExact"
        );
        assert!(m(r#"name.givenName sw "bar""#));
        assert!(m(r#"name.familyName ew "SEN""#));
        assert!(m(r#"displayName co "s j""#));
        assert!(!m(r#"displayName co "xyz""#));
        assert!(m(r#"displayName gt "Babs""#));
        assert!(m(r#"displayName ge "babs jensen""#));
        assert!(m(r#"displayName lt "c""#));
        assert!(m(r#"displayName le "BABS JENSEN""#));
        assert!(!m(r#"displayName lt "Babs""#));
        assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
        assert!(!m(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#));
        assert!(m(r#"meta.version eq "W/\"a330bc54f0671c9\"""#));
        // Unknown attributes compare case-insensitively.
        let res = json!({"custom": "Hello"});
        assert!(parse(r#"custom eq "hello""#).matches(&res, &USER_RESOURCE));
        // Group members' value is caseExact.
        let g = json!({"displayName": "Eng", "members": [{"value": "AbC"}]});
        assert!(parse(r#"members[value eq "AbC"]"#).matches(&g, &GROUP_RESOURCE));
        assert!(!parse(r#"members[value eq "abc"]"#).matches(&g, &GROUP_RESOURCE));
        assert!(!parse(r#"members eq "abc""#).matches(&g, &GROUP_RESOURCE));
        assert!(parse(r#"displayName eq "ENG""#).matches(&g, &GROUP_RESOURCE));
    }

    #[test]
    fn evaluates_numbers_booleans_nulls_and_type_mismatches() {
        assert!(m("x-count eq 7"));
        assert!(m("x-count eq 7.0"));
        assert!(m("x-count gt 6.5"));
        assert!(m("x-count le 7"));
        assert!(!m("x-count lt 7"));
        assert!(!m("x-count co 7"));
        assert!(!m(r#"x-count eq "7""#), "mismatched types never match");
        assert!(m("active eq true"));
        assert!(m("active ne false"));
        assert!(!m("active eq false"));
        assert!(!m("active gt false"), "booleans only support eq/ne");
        assert!(!m(r#"active eq "true""#));
        assert!(m("nickName eq null"), "null counts as absent");
        assert!(m("locale eq null"));
        assert!(!m("userName eq null"));
        assert!(m("userName ne null"));
        assert!(!m("locale ne null"));
        assert!(m(r#"locale ne "en""#), "ne on an absent attribute is true");
        assert!(!m(r#"locale eq "en""#));
        assert!(!m(r#"locale gt "a""#));
        assert!(
            !m(r#"name eq "Barbara""#),
            "a complex value is not a string"
        );
    }

    #[test]
    fn evaluates_presence() {
        assert!(m("userName pr"));
        assert!(m("name pr"));
        assert!(m("emails pr"));
        assert!(m("emails.type pr"));
        assert!(!m("emails.display pr"));
        assert!(!m("title pr"), "empty string is not present");
        assert!(!m("nickName pr"), "null is not present");
        assert!(!m("roles pr"), "empty array is not present");
        assert!(!m("locale pr"));
        assert!(m("active pr"));
        assert!(m("not (locale pr)"));
        let res = json!({"name": {}, "emails": [{}]});
        assert!(!parse("name pr").matches(&res, &USER_RESOURCE));
        assert!(!parse("emails pr").matches(&res, &USER_RESOURCE));
    }

    #[test]
    fn evaluates_multi_valued_and_value_paths() {
        assert!(
            m(r#"emails eq "BABS@jensen.org""#),
            "multi-valued compares each value"
        );
        assert!(m(r#"emails.value ew "@jensen.org""#));
        assert!(m(r#"emails.type eq "home""#));
        assert!(!m(r#"emails.type eq "other""#));
        assert!(m(r#"emails[type eq "work" and primary eq true]"#));
        assert!(
            !m(r#"emails[type eq "home" and primary eq true]"#),
            "one element must match both"
        );
        assert!(m(r#"emails[type eq "home" and not (primary eq true)]"#));
        assert!(m(
            r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
        ));
        assert!(!m(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(m(r#"emails[type eq "home"].value pr"#));
        assert!(!m(r#"emails[type eq "home"].display pr"#));
        assert!(m(r#"emails[primary eq true].value co "jensen""#));
        assert!(!m(r#"phoneNumbers[type eq "work"]"#));
        assert!(!m(r#"roles[value pr]"#));
        // Leniently, a value filter on a single complex attribute tests that object.
        assert!(m(r#"name[givenName eq "barbara"]"#));
        // Plain arrays: each element is its own value.
        let res = json!({"tags": ["a", "B"]});
        assert!(parse(r#"tags[value eq "b"]"#).matches(&res, &USER_RESOURCE));
        assert!(parse(r#"tags eq "a""#).matches(&res, &USER_RESOURCE));
    }

    #[test]
    fn evaluates_urn_qualified_and_extension_attributes() {
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "Barbara""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations""#
        ));
        assert!(m(
            r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:DEPARTMENT sw "Tour""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#
        ));
        assert!(!m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#
        ));
        assert!(!m(r#"urn:example:unknown:1.0:User:department pr"#));
        // Unqualified extension attributes resolve to their extension, leniently.
        assert!(m(r#"department eq "Tour Operations""#));
        // Keys may differ in case in the resource.
        let res = json!({"USERNAME": "x", "EMAILS": [{"VALUE": "a@b.c", "Type": "work"}],
                         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "D"}});
        assert!(parse(r#"userName eq "X""#).matches(&res, &USER_RESOURCE));
        assert!(parse(r#"emails[type eq "work"].value eq "a@b.c""#).matches(&res, &USER_RESOURCE));
        assert!(
            parse(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "d""#
            )
            .matches(&res, &USER_RESOURCE)
        );
    }

    #[test]
    fn evaluates_logic_and_okta_entra_lookups() {
        assert!(m(r#"userName eq "x" or name.givenName eq "barbara""#));
        assert!(!m(r#"userName eq "x" or name.givenName eq "y""#));
        assert!(m(
            r#"active eq true and (title pr or displayName sw "babs")"#
        ));
        assert!(!m(r#"not (active eq true)"#));
        assert!(m(
            r#"userName eq "BJENSEN@EXAMPLE.COM" and externalId eq "Ext-1""#
        ));
        // Entra test connection: a random GUID must simply not match.
        assert!(!m(r#"userName eq "5d8ebb4b-7e8c-4a8e-9c8d-6f0d5fc5a3b1""#));
        assert!(!parse("userName pr").matches(&json!("not an object"), &USER_RESOURCE));
        assert!(!parse("userName pr").matches(&json!(null), &USER_RESOURCE));
    }

    #[test]
    fn never_panics_on_scrambled_input() {
        // Deterministic pseudo-random token soup, including multi-byte characters and broken
        // escapes: every input must give Ok or an invalidFilter/invalidPath error.
        const PIECES: &[&str] = &[
            "userName", " ", "eq", "\"x\"", "(", ")", "[", "]", ".", "value", "and", "or", "not",
            "pr", "é", "😀", "\\", "\"", "\\u12", "\\ud83d", "urn:", ":", "1e5", "-", "true",
            "emails", "\t", "$ref", "2.0", "gt", "null",
        ];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let user = json!({"userName": "x", "emails": [{"value": "x", "type": "work"}]});
        for _ in 0..20_000 {
            let mut input = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 12) as usize + 1;
            let mut x = seed;
            for _ in 0..n {
                input.push_str(PIECES[(x % PIECES.len() as u64) as usize]);
                x = x.rotate_right(5) ^ 0x9E37_79B9;
            }
            match parse_filter(&input) {
                Ok(f) => {
                    let _ = f.matches(&user, &USER_RESOURCE);
                    let _ = f.attr_paths();
                }
                Err(e) => assert_eq!(
                    e.class().scim_type,
                    Some(ScimType::InvalidFilter),
                    "{input}"
                ),
            }
            if let Err(e) = parse_path(&input) {
                assert_eq!(e.class().scim_type, Some(ScimType::InvalidPath), "{input}");
            }
            if let Err(e) = parse_attr_path(&input) {
                assert_eq!(e.class().scim_type, Some(ScimType::InvalidPath), "{input}");
            }
        }
    }

    #[test]
    fn parses_what_okta_and_entra_send() {
        for f in [
            r#"userName eq "ada@example.com""#,
            r#"userName eq "5d8ebb4b-7e8c-4a8e-9c8d-6f0d5fc5a3b1""#,
            r#"externalId eq "00u1abcd""#,
            r#"displayName eq "Eng""#,
            r#"emails[type eq "work"].value eq "ada@example.com""#,
            r#"userName eq "ada" and externalId eq "x""#,
            r#"id eq "u1" and members[value eq "u2"]"#,
        ] {
            assert!(parse_filter(f).is_ok(), "{f}");
        }
        for p in [
            "members",
            r#"members[value eq "00g1"]"#,
            "name.familyName",
            r#"emails[type eq "work"].value"#,
            "emails[primary eq true].value",
            "addresses[primary eq true].locality",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "active",
        ] {
            assert!(parse_path(p).is_ok(), "{p}");
        }
        // Okta's group membership filter evaluated on a group.
        let g =
            json!({"id": "g1", "displayName": "Eng", "members": [{"value": "u2", "display": "a"}]});
        let f = parse_filter(r#"id eq "g1" and members[value eq "u2"]"#).unwrap();
        assert!(f.matches(&g, &GROUP_RESOURCE));
    }

    #[test]
    fn ne_is_the_negation_of_eq_on_multi_valued_attributes() {
        // Some email is "babs@jensen.org", so `ne` is false even though another differs.
        assert!(!m(r#"emails ne "babs@jensen.org""#));
        assert!(m(r#"emails ne "nobody@example.com""#));
        assert!(!m(r#"emails.type ne "work""#));
        assert!(
            m(r#"emails[type ne "work"]"#),
            "inside a value path ne is per element"
        );
        assert!(m(r#"emails[type eq "home" or type eq "other"]"#));
        assert!(!m(r#"emails[type eq "other" or primary eq false]"#));
    }

    #[test]
    fn compares_numbers_across_representations() {
        let r = json!({"big": u64::MAX, "neg": -5, "f": 2.5});
        let t = |f: &str| parse(f).matches(&r, &USER_RESOURCE);
        assert!(t(&format!("big eq {}", u64::MAX)));
        assert!(t("big gt 9223372036854775807"));
        assert!(t("neg lt 0"));
        assert!(t("neg ge -5"));
        assert!(t("neg gt -5.5"));
        assert!(t("f eq 2.5"));
        assert!(t("f lt 3"));
        assert!(!t("f sw 2"));
        assert!(t("f eq 25e-1"));
    }

    #[test]
    fn value_path_limits_and_errors_in_paths() {
        assert!(path_err(r#"emails[urn:x:y:type eq "work"]"#).contains("schema URN"));
        assert!(path_err("emails[type.x pr]").contains("cannot have a further"));
        assert!(path_err(&"a".repeat(MAX_FILTER_LEN + 1)).contains("longer than"));
        let deep = format!("emails[{}type pr{}]", "(".repeat(40), ")".repeat(40));
        assert!(path_err(&deep).contains("nested deeper"));
        assert!(path_err("emails[type pr].value.x").contains("after the path"));
        assert!(path_err("members[value eq \"x\"]extra").contains("after the path"));
        let e = path_err("emails[type eq work]");
        assert!(e.starts_with("invalid path at column 16:"), "{e}");
        // Entra's `.sub` form inside a filter needs an operator.
        assert!(filter_err(r#"emails[type eq "work"].value"#).contains("expected an operator"));
    }

    #[test]
    fn attr_paths_deduplicate_and_cover_every_node_kind() {
        let f =
            parse(r#"not (title pr) and title eq "x" or emails[not (type pr)] or emails[type pr]"#);
        assert_eq!(
            f.attr_paths(),
            vec![a("title"), ap(None, "emails", Some("type"))]
        );
        assert_eq!(parse("userName pr").attr_paths(), vec![a("userName")]);
    }

    #[test]
    fn reports_stray_characters_and_trailing_input() {
        assert_eq!(
            filter_err(r#"userName eq "x" & y"#),
            "invalid filter at column 17: expected \"and\", \"or\" or the end of the filter, found \"&\""
        );
        assert!(filter_err("userName eq \"x\" and").contains("found the end of the input"));
        assert!(filter_err("@foo pr").contains("column 1: expected an attribute path"));
        assert!(filter_err("a pr ]").contains("column 6"));
        assert!(filter_err("emails[type pr))").contains("to close the \"[\" at column 7"));
    }

    #[test]
    fn keeps_names_and_urns_as_written() {
        let f = parse(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:NAME.GIVENNAME eq "a""#);
        let Filter::Compare { path, .. } = f else {
            panic!("not a comparison")
        };
        assert_eq!(
            path,
            ap(
                Some("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"),
                "NAME",
                Some("GIVENNAME")
            )
        );
        assert!(
            parse(r#"URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:NAME.GIVENNAME eq "barbara""#)
                .matches(&user(), &USER_RESOURCE)
        );
    }
}
