//! Problems found in a mapping, its scripts or the configuration, as integrators read them:
//! `file:line:column: key: message`. [`Locator`] finds the line and column of a key path such as
//! `users.attribute[3].scim` in the TOML text (or of the nearest enclosing table that exists, for
//! a key that is absent); [`readable`] rewrites serde's type errors into what was expected and
//! what was found.

use std::fmt;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Whether a problem stops the mapping from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    /// Loads and works, but probably not as meant (an unused setting, an attribute advertised
    /// that nothing fills). Never fails `validate`.
    Warning,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// The file as the user named it (mapping, script or configuration).
    pub file: String,
    /// 1-based line and column, when known.
    pub at: Option<(usize, usize)>,
    /// The key path concerned (`users.get.path`), when there is one.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some((line, column)) = self.at {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Finds key paths in one TOML text. A text that does not parse locates nothing.
pub struct Locator<'a> {
    text: &'a str,
    doc: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: DeTable::parse(text).ok(),
        }
    }

    /// Line and column of `key` (`users.attribute[3].scim`, list entries numbered from 1), or of
    /// the deepest part of it that exists; `None` when not even the first part exists.
    pub fn locate(&self, key: &str) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let offset = find_offset(doc.get_ref(), key)?;
        Some(line_column(self.text, offset))
    }

    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// Byte offset of the deepest existing part of `key` in `table`. Keys are matched greedily, so a
/// key that itself holds dots (a header name `X.Y`) is still found.
fn find_offset(table: &DeTable<'_>, key: &str) -> Option<usize> {
    let mut table = table;
    let mut rest = key;
    let mut found = None;
    loop {
        // The longest key of this table that `rest` starts with, followed by `.`, `[` or the end.
        let best = table
            .iter()
            .filter(|(k, _)| {
                let k = k.get_ref().as_ref();
                rest.strip_prefix(k)
                    .is_some_and(|after| after.is_empty() || after.starts_with(['.', '[']))
            })
            .max_by_key(|(k, _)| k.get_ref().len());
        let Some((k, v)) = best else {
            return found;
        };
        found = Some(k.span().start);
        rest = &rest[k.get_ref().len()..];
        let mut value = v;
        // `[n]` selects the n-th entry (from 1) of an array.
        while let Some(after) = rest.strip_prefix('[') {
            let Some((index, tail)) = after.split_once(']') else {
                return found;
            };
            let entry = index
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| match value.get_ref() {
                    DeValue::Array(a) => a.get(i),
                    _ => None,
                });
            let Some(entry) = entry else {
                return found;
            };
            found = Some(entry.span().start);
            value = entry;
            rest = tail;
        }
        match (rest.strip_prefix('.'), value.get_ref()) {
            (Some(tail), DeValue::Table(t)) => {
                table = t;
                rest = tail;
            }
            _ => return found,
        }
    }
}

/// Rewrites a serde message about `key` into `expected …, got …` terms an integrator knows
/// (TOML's names for types, and what the key holds).
pub fn readable(key: &str, message: &str) -> String {
    let message = message.trim_end();
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!(
                "expected {}, got {}",
                expected_for(key, expected),
                found_text(found)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return format!(
                "expected {}, got {}",
                expected_for(key, expected),
                found_text(found)
            );
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let expected = expected.replace('`', "\"");
        let found = found.replace('`', "\"");
        return if expected.is_empty() {
            format!("unknown value {found}")
        } else {
            format!("expected {expected}, got {found}")
        };
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        return format!("wrong number of entries: {rest}");
    }
    message.to_string()
}

/// What a key holds, for the keys whose serde expectation ("a map") says too little.
fn expected_for(key: &str, serde_expected: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.split('[').next().unwrap_or(last);
    let specific = match last {
        "map" => Some("a table of SCIM value → application value"),
        "query" => Some("a table of parameter name → value template"),
        "headers" => Some("a table of header name → value"),
        "secret" => Some("a table with one of `env`, `file` or `value`"),
        "hooks" => Some("a table with `to_app` and/or `from_app`"),
        "paging" => Some("a table such as { style = \"page\" }"),
        "not_found_status" | "conflict_status" => Some("an array of HTTP statuses, e.g. [404]"),
        "script_attributes" => Some("an array of SCIM attribute names"),
        _ => None,
    };
    match specific {
        Some(s) if serde_expected.contains("map") || serde_expected.contains("sequence") => {
            s.to_string()
        }
        _ => type_name(serde_expected),
    }
}

/// serde's expectation in TOML terms.
fn type_name(expected: &str) -> String {
    let e = expected.trim();
    let plain = match e {
        "a map" | "map" => "a table",
        "a sequence" | "sequence" => "an array",
        "a string" | "a borrowed string" | "string" => "a string",
        "a boolean" | "bool" => "true or false",
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number ≥ 0",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "any valid JSON value" => "a value",
        _ => "",
    };
    if e.starts_with("struct ") {
        return "a table".into();
    }
    if plain.is_empty() {
        e.replace('`', "\"")
    } else {
        plain.to_string()
    }
}

/// serde's `Unexpected` text in TOML terms: `string "x"` → `a string ("x")`.
fn found_text(found: &str) -> String {
    let (kind, value) = match found.split_once(' ') {
        Some((k, v)) => (k, Some(v.trim_matches('`'))),
        None => (found, None),
    };
    let kind = match kind {
        "string" => "a string",
        "integer" => "an integer",
        "boolean" => "a boolean",
        "floating" => {
            // "floating point `1.5`"
            return format!(
                "a float ({})",
                found
                    .trim_start_matches("floating point")
                    .trim()
                    .trim_matches('`')
            );
        }
        "map" => "a table",
        "sequence" => "an array",
        "character" => "a string",
        _ => return found.replace('`', ""),
    };
    match value {
        Some(v) if !v.is_empty() => format!("{kind} ({v})"),
        _ => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "version = 1\n[app]\nbase_url = \"x\"\n\
                        headers = { \"X.Key\" = \"v\" }\n\
                        [users.get]\npath = \"/u\"\n\
                        [[users.attribute]]\nscim = \"a\"\n\
                        [[users.attribute]]\n  scim = \"b\"\n";

    #[test]
    fn locates_keys_entries_and_nearest_tables() {
        let l = Locator::new(TEXT);
        assert_eq!(l.locate("version"), Some((1, 1)));
        assert_eq!(l.locate("app.base_url"), Some((3, 1)));
        assert_eq!(l.locate("app.headers.X.Key"), Some((4, 13)), "dotted key");
        assert_eq!(l.locate("users.get.path"), Some((6, 1)));
        assert_eq!(l.locate("users.attribute[2]"), Some((9, 1)));
        assert_eq!(l.locate("users.attribute[2].scim"), Some((10, 3)));
        // Absent keys point at the nearest table that exists.
        assert_eq!(l.locate("users.get.record"), Some((5, 8)));
        assert_eq!(l.locate("users.attribute[7].scim"), Some((7, 9)));
        assert_eq!(
            l.locate("app.base_url (from the configuration)"),
            Some((2, 2))
        );
        assert_eq!(l.locate("groups.members"), None);
        assert_eq!(Locator::new("[bad").locate("app"), None);
    }

    #[test]
    fn display_has_every_part_it_knows() {
        let mut p = Problem {
            severity: Severity::Error,
            file: "m.toml".into(),
            at: Some((3, 7)),
            key: Some("users.get.path".into()),
            message: "must start with `/`".into(),
        };
        assert_eq!(
            p.to_string(),
            "m.toml:3:7: users.get.path: must start with `/`"
        );
        p.at = None;
        p.key = None;
        assert_eq!(p.to_string(), "m.toml: must start with `/`");
    }

    #[test]
    fn serde_messages_become_expected_and_got() {
        assert_eq!(
            readable(
                "users.attribute[2].map",
                "invalid type: string \"active\", expected a map"
            ),
            "expected a table of SCIM value → application value, got a string (\"active\")"
        );
        assert_eq!(
            readable(
                "app.timeout_ms",
                "invalid type: string \"fast\", expected u64"
            ),
            "expected a whole number ≥ 0, got a string (\"fast\")"
        );
        assert_eq!(
            readable(
                "x.read_only",
                "invalid type: integer `4`, expected a boolean"
            ),
            "expected true or false, got an integer (4)"
        );
        assert_eq!(
            readable(
                "users.ids",
                "unknown variant `mintd`, expected `app` or `minted`"
            ),
            "expected \"app\" or \"minted\", got \"mintd\""
        );
        assert_eq!(
            readable("app.retries", "invalid value: integer `-1`, expected u32"),
            "expected a whole number ≥ 0, got an integer (-1)"
        );
        assert_eq!(
            readable(
                "a.b",
                "invalid type: floating point `1.5`, expected a string"
            ),
            "expected a string, got a float (1.5)"
        );
        assert_eq!(readable("a", "something else\n"), "something else");
    }
}
