//! Captured values and placeholders in mapping test cases. A step's `capture` keeps values of
//! its SCIM answer body by name (`{"ada": "/id"}`, a JSON pointer); later steps write `${ada}` in
//! their request, app answers and expectations. In expectations, `${:any}`, `${:string}`,
//! `${:number}` and `${:boolean}` match any value of that kind (generated ids, timestamps).
//!
//! The `${…}` form cannot be read as a mapping template (`{id}`) or a SCIM `$ref`, and `$${`
//! writes a literal `${`. A string that is exactly one placeholder takes the captured value with
//! its JSON type; a placeholder inside a longer string takes its text.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A value-kind matcher, written `${:string}` and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    Any,
    String,
    Number,
    Boolean,
}

impl Matcher {
    const ALL: [(&'static str, Matcher); 4] = [
        ("any", Matcher::Any),
        ("string", Matcher::String),
        ("number", Matcher::Number),
        ("boolean", Matcher::Boolean),
    ];

    /// Whether `got` is of this kind (`any`: anything but `null`).
    pub fn matches(self, got: &Value) -> bool {
        match self {
            Matcher::Any => !got.is_null(),
            Matcher::String => got.is_string(),
            Matcher::Number => got.is_number(),
            Matcher::Boolean => got.is_boolean(),
        }
    }

    /// The same test on a header value (always text).
    pub fn matches_text(self, got: &str) -> bool {
        match self {
            Matcher::Any | Matcher::String => true,
            Matcher::Number => got.trim().parse::<f64>().is_ok(),
            Matcher::Boolean => got == "true" || got == "false",
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Matcher::Any => "any value",
            Matcher::String => "any string",
            Matcher::Number => "any number",
            Matcher::Boolean => "any boolean",
        })
    }
}

/// One part of a string with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
    Matcher(Matcher),
}

/// Whether `name` can name a capture: a letter or `_`, then letters, digits, `_` or `-`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Splits `s` into text, captured names and matchers.
fn parse(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        // `$${` is a literal `${`: keep the text up to and including `${`, skip one `$`.
        if at > 0 && rest.as_bytes()[at - 1] == b'$' {
            push_text(&mut out, &rest[..at - 1]);
            push_text(&mut out, "${");
            rest = &rest[at + 2..];
            continue;
        }
        push_text(&mut out, &rest[..at]);
        let inner_start = at + 2;
        let Some(len) = rest[inner_start..].find('}') else {
            return Err(format!(
                "`{}` has no closing `}}` (write `$${{` for a literal `${{`)",
                &rest[at..]
            ));
        };
        let inner = &rest[inner_start..inner_start + len];
        if let Some(kind) = inner.strip_prefix(':') {
            let m = Matcher::ALL
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    format!(
                        "unknown matcher `${{{inner}}}`; expected one of {}",
                        Matcher::ALL
                            .iter()
                            .map(|(k, _)| format!("`${{:{k}}}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            out.push(Piece::Matcher(m));
        } else if valid_name(inner) {
            out.push(Piece::Var(inner));
        } else {
            return Err(format!(
                "`${{{inner}}}`: a capture name is a letter or `_`, then letters, digits, `_` or `-` \
                 (write `$${{` for a literal `${{`)"
            ));
        }
        rest = &rest[inner_start + len + 1..];
    }
    push_text(&mut out, rest);
    Ok(out)
}

fn push_text<'a>(out: &mut Vec<Piece<'a>>, text: &'a str) {
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
}

/// What an expected string stands for once placeholders are resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// Any value of a kind.
    Kind(Matcher),
    /// This value, compared literally (a captured value keeps its JSON type).
    Value(Value),
}

/// The values captured so far in one case.
#[derive(Debug, Clone, Default)]
pub struct Captures {
    values: BTreeMap<String, Value>,
}

impl Captures {
    /// Keeps `value` as `name` (a later capture of the same name replaces it).
    pub fn insert(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    fn lookup(&self, name: &str) -> Result<&Value, String> {
        self.values.get(name).ok_or_else(|| {
            let known = if self.values.is_empty() {
                "none".to_string()
            } else {
                self.values
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "`${{{name}}}` is not captured by an earlier step (captured so far: {known}); \
                 add `\"capture\": {{\"{name}\": \"/id\"}}` (a JSON pointer into the SCIM answer) \
                 to the step that returns it"
            )
        })
    }

    /// The text a captured value gives inside a longer string.
    fn text_of(&self, name: &str) -> Result<String, String> {
        match self.lookup(name)? {
            Value::String(s) => Ok(s.clone()),
            v @ (Value::Number(_) | Value::Bool(_)) => Ok(v.to_string()),
            other => Err(format!(
                "`${{{name}}}` holds {}; only a string, number or boolean can be part of a text",
                crate::mapping::json_path::kind_name(other)
            )),
        }
    }

    /// Resolves a string of an expectation: a lone matcher, a lone placeholder (the captured
    /// value), or text with placeholders filled in.
    pub fn want(&self, s: &str) -> Result<Want, String> {
        if !s.contains("${") {
            return Ok(Want::Value(Value::String(s.to_string())));
        }
        let pieces = parse(s)?;
        match pieces.as_slice() {
            [Piece::Matcher(m)] => Ok(Want::Kind(*m)),
            [Piece::Var(name)] => Ok(Want::Value(self.lookup(name)?.clone())),
            _ => self.join(&pieces).map(|t| Want::Value(Value::String(t))),
        }
    }

    /// A string of a request or app answer, filled in: a lone placeholder gives the captured value
    /// (with its JSON type), anything else a string.
    pub fn fill_str(&self, s: &str) -> Result<Value, String> {
        match self.want(s)? {
            Want::Value(v) => Ok(v),
            Want::Kind(m) => Err(matcher_outside_expect(m)),
        }
    }

    /// Text (a path, a header value), filled in; a lone placeholder must hold a scalar.
    pub fn fill_text(&self, s: &str) -> Result<String, String> {
        if !s.contains("${") {
            return Ok(s.to_string());
        }
        let pieces = parse(s)?;
        if let Some(m) = pieces.iter().find_map(|p| match p {
            Piece::Matcher(m) => Some(*m),
            _ => None,
        }) {
            return Err(matcher_outside_expect(m));
        }
        self.join(&pieces)
    }

    fn join(&self, pieces: &[Piece<'_>]) -> Result<String, String> {
        let mut out = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => out.push_str(&self.text_of(name)?),
                Piece::Matcher(m) => {
                    return Err(format!(
                        "`{}` must be the whole string to match a value",
                        matcher_text(*m)
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Every string value of `v` filled in (object keys are left as they are).
    pub fn fill(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => self.fill_str(s)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.fill(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.fill(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Checks that every string of an expectation resolves (so a missing capture is reported
    /// once, before the step runs, rather than at each place it is compared).
    pub fn check_expected(&self, v: &Value) -> Result<(), String> {
        match v {
            Value::String(s) => self.want(s).map(|_| ()),
            Value::Array(items) => items.iter().try_for_each(|i| self.check_expected(i)),
            Value::Object(map) => map.values().try_for_each(|i| self.check_expected(i)),
            _ => Ok(()),
        }
    }
}

fn matcher_text(m: Matcher) -> String {
    let kind = Matcher::ALL
        .iter()
        .find(|(_, k)| *k == m)
        .map_or("any", |(name, _)| *name);
    format!("${{:{kind}}}")
}

fn matcher_outside_expect(m: Matcher) -> String {
    format!(
        "`{}` matches values in `expect`; a request or app answer needs a value",
        matcher_text(m)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps() -> Captures {
        let mut c = Captures::default();
        c.insert("ada", json!("2f1c-uuid"));
        c.insert("n", json!(7));
        c.insert("obj", json!({"a": 1}));
        c
    }

    #[test]
    fn placeholders_parse_into_text_names_and_matchers() {
        assert_eq!(parse("plain").unwrap(), [Piece::Text("plain")]);
        assert_eq!(
            parse("/Users/${ada}?x=${n}").unwrap(),
            [
                Piece::Text("/Users/"),
                Piece::Var("ada"),
                Piece::Text("?x="),
                Piece::Var("n")
            ]
        );
        assert_eq!(
            parse("${:string}").unwrap(),
            [Piece::Matcher(Matcher::String)]
        );
        // `$${` is a literal `${`; a lone `$` and `{id}` are plain text.
        assert_eq!(
            parse("a$${ada}$ {id}").unwrap(),
            [
                Piece::Text("a"),
                Piece::Text("${"),
                Piece::Text("ada}$ {id}")
            ]
        );
        assert!(parse("${ada").unwrap_err().contains("no closing `}`"));
        assert!(parse("${a b}").unwrap_err().contains("capture name"));
        assert!(parse("${}").unwrap_err().contains("capture name"));
        assert_eq!(
            parse("${:uuid}").unwrap_err(),
            "unknown matcher `${:uuid}`; expected one of `${:any}`, `${:string}`, `${:number}`, `${:boolean}`"
        );
    }

    #[test]
    fn filling_keeps_the_type_of_a_lone_placeholder_and_texts_the_rest() {
        let c = caps();
        assert_eq!(c.fill_str("${n}").unwrap(), json!(7));
        assert_eq!(c.fill_str("${obj}").unwrap(), json!({"a": 1}));
        assert_eq!(c.fill_str("id-${n}").unwrap(), json!("id-7"));
        assert_eq!(c.fill_text("/Users/${ada}").unwrap(), "/Users/2f1c-uuid");
        assert_eq!(c.fill_text("$${ada}").unwrap(), "${ada}");
        assert_eq!(
            c.fill(&json!({"id": "${ada}", "list": ["${n}", 1], "${ada}": true}))
                .unwrap(),
            json!({"id": "2f1c-uuid", "list": [7, 1], "${ada}": true})
        );
        assert!(
            c.fill_text("/x/${obj}")
                .unwrap_err()
                .contains("holds an object")
        );
        assert!(
            c.fill(&json!({"id": "${:string}"}))
                .unwrap_err()
                .contains("matches values in `expect`")
        );
    }

    #[test]
    fn a_missing_capture_names_itself_and_what_is_known() {
        let c = caps();
        let e = c.fill_text("/Users/${bob}").unwrap_err();
        assert!(
            e.starts_with(
                "`${bob}` is not captured by an earlier step (captured so far: `ada`, `n`, `obj`)"
            ),
            "{e}"
        );
        let e = Captures::default().want("${ada}").unwrap_err();
        assert!(e.contains("(captured so far: none)"), "{e}");
        assert!(
            c.check_expected(&json!({"a": ["${bob}"]}))
                .unwrap_err()
                .contains("${bob}")
        );
        assert!(
            c.check_expected(&json!({"a": ["${ada}", "${:any}"]}))
                .is_ok()
        );
    }

    #[test]
    fn expectations_resolve_to_kinds_or_values() {
        let c = caps();
        assert_eq!(c.want("${:any}").unwrap(), Want::Kind(Matcher::Any));
        assert_eq!(c.want("${n}").unwrap(), Want::Value(json!(7)));
        assert_eq!(c.want("plain").unwrap(), Want::Value(json!("plain")));
        assert!(
            c.want("x ${:string}")
                .unwrap_err()
                .contains("must be the whole string")
        );
        assert!(Matcher::Any.matches(&json!(0)));
        assert!(!Matcher::Any.matches(&Value::Null));
        assert!(Matcher::String.matches(&json!("")));
        assert!(!Matcher::String.matches(&json!(1)));
        assert!(Matcher::Number.matches(&json!(1.5)));
        assert!(!Matcher::Boolean.matches(&json!("true")));
        assert!(Matcher::Number.matches_text("12"));
        assert!(!Matcher::Boolean.matches_text("yes"));
    }
}
