//! Reads a mapping's TOML into the raw model ([`super::model`]) part by part, so that every shape
//! error (unknown key, wrong type, missing key) is reported in one run, not just the first.
//!
//! The top-level tables, and each `[[…attribute]]` and `[[…filter]]` entry, are deserialised on
//! their own. Inside one part, the key at fault is removed and the part read again, which finds
//! the next independent error in it (up to a limit); an error caused only by that removal (the
//! key was required) ends the part. serde's `flatten` (endpoints inside `list`, `update`, member
//! calls) loses the path of a wrong type, so such an error is pinned to its key by removing each
//! key of the table in turn until the error goes away.

use crate::mapping::diagnostics::readable;
use crate::mapping::model::{
    AppSection, AttributeRule, FilterPushdown, MappingFile, ResourceSection,
};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// One shape problem: the key concerned, the message, and where toml saw it (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeProblem {
    pub key: Option<String>,
    pub message: String,
    pub offset: Option<usize>,
}

/// Top-level keys of [`MappingFile`] (checked against the type in a test).
pub(crate) const ROOT_KEYS: [&str; 4] = ["version", "app", "users", "groups"];
/// Most errors reported for one part before giving up on it.
const MAX_PER_PART: usize = 20;

/// Reads `text` as a mapping file, or every syntax or shape problem found.
pub fn read(text: &str) -> Result<MappingFile, Vec<ShapeProblem>> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        // Shape errors in a document that did not parse would mostly be echoes.
        let mut out: Vec<ShapeProblem> = syntax
            .iter()
            .map(|e| ShapeProblem {
                key: None,
                message: e.message().trim_end().to_string(),
                offset: e.span().map(|s| s.start),
            })
            .collect();
        out.dedup();
        return Err(out);
    }
    let root = doc.get_ref();
    let mut out = Vec::new();
    for (k, _) in root.iter() {
        let name: &str = k.get_ref();
        if !ROOT_KEYS.contains(&name) {
            out.push(ShapeProblem {
                key: Some(name.to_string()),
                message: unknown_key_message(name, &ROOT_KEYS),
                offset: Some(k.span().start),
            });
        }
    }
    let version = match root.get("version") {
        Some(v) => part::<u32>(v, "version", &mut out),
        None => Some(1),
    };
    let app = match root.get("app") {
        Some(v) => part::<AppSection>(v, "app", &mut out),
        None => {
            out.push(missing("app", "an `[app]` table is required"));
            None
        }
    };
    let users = match root.get("users") {
        Some(v) => resource(v, "users", &mut out),
        None => {
            out.push(missing(
                "users",
                "a `[users]` section is required (at least `[users.get]` and `[users.list]`)",
            ));
            None
        }
    };
    let groups = root.get("groups").map(|v| resource(v, "groups", &mut out));
    if !out.is_empty() {
        return Err(out);
    }
    match (version, app, users, groups) {
        (Some(version), Some(app), Some(users), groups @ (None | Some(Some(_)))) => {
            Ok(MappingFile {
                version,
                app,
                users,
                groups: groups.flatten(),
            })
        }
        // Every `None` above pushed a problem; this is only reached if that changes.
        _ => Err(vec![missing("", "the mapping could not be read")]),
    }
}

fn missing(key: &str, message: &str) -> ShapeProblem {
    ShapeProblem {
        key: (!key.is_empty()).then(|| key.to_string()),
        message: message.to_string(),
        offset: None,
    }
}

/// `[users]` or `[groups]`: the section without its lists, then each list entry on its own.
fn resource(
    value: &Spanned<DeValue<'_>>,
    section: &str,
    out: &mut Vec<ShapeProblem>,
) -> Option<ResourceSection> {
    let mut stripped = value.clone();
    let mut lists = (None, None);
    if let DeValue::Table(t) = stripped.get_mut() {
        lists = (t.remove("attribute"), t.remove("filter"));
    }
    let raw = part::<ResourceSection>(&stripped, section, out);
    let attributes = lists.0.map_or(Some(Vec::new()), |v| {
        entries::<AttributeRule>(&v, &format!("{section}.attribute"), out)
    });
    let filters = lists.1.map_or(Some(Vec::new()), |v| {
        entries::<FilterPushdown>(&v, &format!("{section}.filter"), out)
    });
    let (raw, attributes, filters) = (raw?, attributes?, filters?);
    Some(ResourceSection {
        attributes,
        filters,
        ..raw
    })
}

/// An array of tables, each entry read on its own (numbered from 1).
fn entries<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    key: &str,
    out: &mut Vec<ShapeProblem>,
) -> Option<Vec<T>> {
    let DeValue::Array(items) = value.get_ref() else {
        out.push(ShapeProblem {
            key: Some(key.to_string()),
            message: format!(
                "expected an array of tables (`[[{key}]]` entries), got {}",
                a_type(value.get_ref())
            ),
            offset: Some(value.span().start),
        });
        return None;
    };
    let before = out.len();
    let list: Vec<Option<T>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| part::<T>(item, &format!("{key}[{}]", i + 1), out))
        .collect();
    if out.len() > before {
        return None;
    }
    list.into_iter().collect()
}

/// A path inside one part.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Deserialises one part, reporting up to [`MAX_PER_PART`] independent errors in it.
fn part<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    key: &str,
    out: &mut Vec<ShapeProblem>,
) -> Option<T> {
    let mut current = value.clone();
    let mut removed: Vec<Vec<Seg>> = Vec::new();
    let mut failed = false;
    for _ in 0..MAX_PER_PART {
        let (mut path, message, mut offset) = match deserialize::<T>(&current) {
            Ok(t) => return (!failed).then_some(t),
            Err(e) => e,
        };
        failed = true;
        if let Some(field) = between(&message, "missing field `", "`") {
            path.push(Seg::Key(field.to_string()));
            if removed.contains(&path) {
                // Only missing because an earlier error removed it.
                break;
            }
            out.push(ShapeProblem {
                key: Some(render(key, &path)),
                message: "missing; this key is required".into(),
                offset: None,
            });
            break;
        }
        let text = if let Some(field) = between(&message, "unknown field `", "`") {
            if path.last() != Some(&Seg::Key(field.to_string())) {
                // Inside a flattened table the path stops at the table.
                offset = child_offset(&current, &path, field).or(offset);
                path.push(Seg::Key(field.to_string()));
            }
            let expected: Vec<&str> = message
                .split_once("expected ")
                .map(|(_, list)| list.split(['`', ',', ' ']).filter(|s| !s.is_empty()))
                .into_iter()
                .flatten()
                .filter(|s| *s != "one" && *s != "of" && *s != "or")
                .collect();
            unknown_key_message(field, &expected)
        } else {
            if is_table(&current, &path) && !message.starts_with("invalid type: map") {
                // A flattened table: find the key whose removal changes the error.
                if let Some((child, at)) = pin_down::<T>(&current, &path, &message) {
                    path.push(Seg::Key(child));
                    offset = Some(at);
                }
            }
            match get(&current, &path) {
                // toml's own message for an enum given something other than a name.
                Some(v) if message == "wanted string or table" => {
                    format!("expected a string, got {}", a_type(v.get_ref()))
                }
                _ => readable(&render(key, &path), &message),
            }
        };
        out.push(ShapeProblem {
            key: Some(render(key, &path)),
            message: text,
            offset,
        });
        // Drop the key at fault (the whole array for an entry of one) and look again.
        while matches!(path.last(), Some(Seg::Index(_))) {
            path.pop();
        }
        if path.is_empty() || !remove(&mut current, &path) {
            break;
        }
        removed.push(path);
    }
    None
}

/// One attempt: the value, or (path in the part, serde's message, toml's byte offset).
fn deserialize<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
) -> Result<T, (Vec<Seg>, String, Option<usize>)> {
    serde_path_to_error::deserialize(ValueDeserializer::from(value.clone())).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let path = e
                .path()
                .iter()
                .filter_map(|s| match s {
                    Segment::Map { key } => Some(Seg::Key(key.clone())),
                    Segment::Seq { index } => Some(Seg::Index(*index)),
                    _ => None,
                })
                .collect();
            let inner = e.into_inner();
            (
                path,
                inner.message().trim_end().to_string(),
                inner.span().map(|s| s.start),
            )
        },
    )
}

/// The child key of the table at `path` whose removal changes the error, and its value's offset.
fn pin_down<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    path: &[Seg],
    message: &str,
) -> Option<(String, usize)> {
    let DeValue::Table(table) = get(value, path)?.get_ref() else {
        return None;
    };
    for (k, v) in table.iter() {
        let name: &str = k.get_ref();
        let mut trial = value.clone();
        let mut child = path.to_vec();
        child.push(Seg::Key(name.to_string()));
        if !remove(&mut trial, &child) {
            continue;
        }
        match deserialize::<T>(&trial) {
            Err((p, m, _)) if p == path && m == message => {}
            _ => return Some((name.to_string(), v.span().start)),
        }
    }
    None
}

fn get<'v, 'i>(value: &'v Spanned<DeValue<'i>>, path: &[Seg]) -> Option<&'v Spanned<DeValue<'i>>> {
    let mut v = value;
    for seg in path {
        v = match (seg, v.get_ref()) {
            (Seg::Key(k), DeValue::Table(t)) => t.get(k.as_str())?,
            (Seg::Index(i), DeValue::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn is_table(value: &Spanned<DeValue<'_>>, path: &[Seg]) -> bool {
    get(value, path).is_some_and(|v| v.get_ref().is_table())
}

fn child_offset(value: &Spanned<DeValue<'_>>, path: &[Seg], child: &str) -> Option<usize> {
    match get(value, path)?.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .find(|(k, _)| {
                let name: &str = k.get_ref();
                name == child
            })
            .map(|(k, _)| k.span().start),
        _ => None,
    }
}

/// Removes the key at `path` (whose last segment is a key); false when there is none.
fn remove(value: &mut Spanned<DeValue<'_>>, path: &[Seg]) -> bool {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return false;
    };
    let mut v = value;
    for seg in parents {
        v = match (seg, v.get_mut()) {
            (Seg::Key(k), DeValue::Table(t)) => match t.get_mut(k.as_str()) {
                Some(x) => x,
                None => return false,
            },
            (Seg::Index(i), DeValue::Array(a)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return false,
            },
            _ => return false,
        };
    }
    match v.get_mut() {
        DeValue::Table(t) => t.remove(last.as_str()).is_some(),
        _ => false,
    }
}

/// `users.get` + [`path`] → `users.get.path`; indices from 1.
fn render(key: &str, path: &[Seg]) -> String {
    let mut s = key.to_string();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{}]", i + 1)),
        }
    }
    s
}

fn between<'m>(message: &'m str, start: &str, end: &str) -> Option<&'m str> {
    let rest = message.split_once(start)?.1;
    Some(rest.split_once(end)?.0)
}

/// `unknown key; did you mean `base_url`? (expected one of …)`.
pub(crate) fn unknown_key_message(name: &str, expected: &[&str]) -> String {
    let near = expected
        .iter()
        .map(|e| (distance(name, e), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 4))
        .min();
    let mut m = "unknown key".to_string();
    if let Some((_, e)) = near {
        m.push_str(&format!("; did you mean `{e}`?"));
    }
    if !expected.is_empty() {
        m.push_str(&format!(" (expected one of: {})", expected.join(", ")));
    }
    m
}

/// Edit distance (insertions, deletions, substitutions), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn a_type(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(String, String)> {
        match read(text) {
            Ok(_) => panic!("read but should not have"),
            Err(p) => p
                .into_iter()
                .map(|p| (p.key.unwrap_or_default(), p.message))
                .collect(),
        }
    }

    const GOOD: &str = "[app]\nbase_url = \"http://a\"\n\
                        [users.get]\npath = \"/u/{id}\"\n\
                        [users.list]\npath = \"/u\"\npaging = { style = \"page\" }\n\
                        [users.update]\npath = \"/u/{id}\"\nsend = \"changes\"\n\
                        [[users.filter]]\nattribute = \"userName\"\nquery = { q = \"{value}\" }\n\
                        [[users.attribute]]\nscim = \"userName\"\napp = \"email\"\n\
                        [[users.attribute]]\nscim = \"active\"\napp = \"on\"\n\
                        map = { \"true\" = 1, \"false\" = 0 }\n\
                        [groups.get]\npath = \"/g/{id}\"\n[groups.list]\npath = \"/g\"\n\
                        [groups.members]\nmodel = \"endpoints\"\n\
                        [groups.members.add]\npath = \"/g/{id}/m\"\nbody = { u = \"{member}\" }\n";

    #[test]
    fn reads_what_serde_reads() {
        let ours = read(GOOD).unwrap();
        let whole: MappingFile = toml::from_str(GOOD).unwrap();
        assert_eq!(format!("{ours:?}"), format!("{whole:?}"));
        assert_eq!(ours.users.attributes.len(), 2);
        assert_eq!(ours.users.filters.len(), 1);
    }

    #[test]
    fn independent_errors_are_all_reported() {
        let text = GOOD
            .replace(
                "[users.get]",
                "[users]\nids = 3\nmax_scan = \"all\"\n[users.get]",
            )
            .replace("[groups.members]", "[groups.members]\ndispaly = true")
            .replace("map = {", "read_only = \"yes\"\nmap = {")
            .replace("query = { q", "opp = \"eq\"\nquery = { q")
            .replace("[app]", "versoin = 1\n[app]");
        let p = problems(&text);
        let expected = [
            (
                "versoin",
                "unknown key; did you mean `version`? (expected one of: version, app, users, groups)",
            ),
            ("users.ids", "expected a string, got an integer"),
            (
                "users.max_scan",
                "expected a whole number ≥ 0, got a string (\"all\")",
            ),
            (
                "users.attribute[2].read_only",
                "expected true or false, got a string (\"yes\")",
            ),
            (
                "users.filter[1].opp",
                "unknown key; did you mean `op`? (expected one of: attribute, op, query, path)",
            ),
        ];
        for (k, m) in expected {
            assert!(
                p.contains(&(k.to_string(), m.to_string())),
                "missing {k}: {m} in {p:#?}"
            );
        }
        assert!(
            p.iter().any(
                |(k, m)| k == "groups.members.dispaly" && m.contains("did you mean `display`?")
            ),
            "{p:#?}"
        );
        assert_eq!(p.len(), 6, "{p:#?}");
    }

    #[test]
    fn flattened_tables_still_name_the_key() {
        let text = GOOD.replace("paging = {", "query = 5\nrecrods = \"x\"\npaging = {");
        let p = problems(&text);
        assert_eq!(
            p,
            [
                (
                    "users.list.query".to_string(),
                    "expected a table of parameter name → value template, got an integer (5)"
                        .to_string()
                ),
                ("users.list.recrods".to_string(), "unknown key".to_string()),
            ]
        );
    }

    #[test]
    fn missing_and_misplaced_parts() {
        let p = problems("version = \"one\"\nusers = 3\n");
        assert_eq!(
            p,
            [
                (
                    "version".to_string(),
                    "expected a whole number ≥ 0, got a string (\"one\")".to_string()
                ),
                (
                    "app".to_string(),
                    "an `[app]` table is required".to_string()
                ),
                (
                    "users".to_string(),
                    "expected a table, got an integer (3)".to_string()
                ),
            ]
        );
        let p = problems(&GOOD.replace("[users.get]\npath = \"/u/{id}\"\n", "[users.get]\n"));
        assert_eq!(
            p,
            [(
                "users.get.path".to_string(),
                "missing; this key is required".to_string()
            )]
        );
        // A wrong type for a required key is one problem, not two.
        let p =
            problems(&GOOD.replace("path = \"/u/{id}\"\n[users.list]", "path = 7\n[users.list]"));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].0, "users.get.path");
        let p = problems(&GOOD.replace("[[users.filter]]", "[users.filter]"));
        assert_eq!(p[0].0, "users.filter", "{p:#?}");
        assert!(p[0].1.starts_with("expected an array of tables"), "{p:#?}");
    }

    #[test]
    fn syntax_errors_stop_with_their_position() {
        let e = read("[app]\nbase_url = \"http://a\"\n[users\n").unwrap_err();
        assert!(!e.is_empty());
        assert!(
            e.iter().all(|p| p.key.is_none() && p.offset.is_some()),
            "{e:#?}"
        );
    }

    #[test]
    fn root_keys_match_the_model() {
        let schema = serde_json::to_value(schemars::schema_for!(MappingFile)).unwrap();
        let mut keys: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        let mut ours = ROOT_KEYS.to_vec();
        ours.sort();
        assert_eq!(keys, ours);
    }

    #[test]
    fn distances() {
        assert_eq!(distance("bse_url", "base_url"), 1);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(
            unknown_key_message("zzz", &["a"]),
            "unknown key (expected one of: a)"
        );
    }
}
