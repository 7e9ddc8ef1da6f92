//! Error answers told apart by their body: an endpoint's `[[….errors]]` entries, checked and
//! compiled, and the test that picks the first entry matching an application answer (status,
//! then `body_contains` and/or `field` = `equals`). Pure code: the caller turns the entry's
//! [`ErrorAnswer`] into the SCIM error.
//!
//! The application's body is only read to decide which entry matches; it never reaches the
//! SCIM answer (an entry's `detail` is the integrator's text).

use super::json_path::JsonPath;
use super::model;
use crate::error::ScimType;
use serde_json::Value;
use std::sync::OnceLock;

/// How much of an error body `body_contains` looks at: error bodies are short, and this keeps
/// the test cheap whatever the application sends (the client already caps bodies at 16 MiB).
pub const BODY_CONTAINS_LIMIT: usize = 64 * 1024;

/// A compiled `[[….errors]]` entry.
#[derive(Debug, Clone)]
pub struct ErrorRule {
    /// `users.create.errors[1]`, for logs.
    pub key: String,
    pub status: u16,
    /// Lower case.
    pub body_contains: Option<String>,
    pub field: Option<JsonPath>,
    pub equals: Option<Value>,
    pub answer: ErrorAnswer,
}

/// What a matching entry answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorAnswer {
    /// 409 `uniqueness`: "already exists", exactly as a `conflict_status` (so `on_duplicate`
    /// applies).
    Exists,
    /// 404: "no such record", exactly as a `not_found_status`.
    NotFound,
    /// Any other status, with its `scimType` and `detail`.
    Answer {
        status: u16,
        scim_type: Option<ScimType>,
        detail: Option<String>,
    },
}

impl ErrorRule {
    /// Whether this entry matches an answer; `json` parses the body once for all entries.
    fn matches(&self, status: u16, body: &[u8], json: &OnceLock<Option<Value>>) -> bool {
        if status != self.status {
            return false;
        }
        if let Some(needle) = &self.body_contains {
            let head = &body[..body.len().min(BODY_CONTAINS_LIMIT)];
            if !String::from_utf8_lossy(head)
                .to_lowercase()
                .contains(needle)
            {
                return false;
            }
        }
        if let Some(path) = &self.field {
            let parsed = json.get_or_init(|| serde_json::from_slice(body).ok());
            let found = parsed.as_ref().and_then(|v| lookup(path, v));
            let ok = match (found, &self.equals) {
                (None | Some(Value::Null), _) => false,
                (Some(_), None) => true,
                (Some(got), Some(want)) => same(got, want),
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// The first entry matching an application answer, if any.
pub fn first_match<'a>(rules: &'a [ErrorRule], status: u16, body: &[u8]) -> Option<&'a ErrorRule> {
    let json = OnceLock::new();
    rules.iter().find(|r| r.matches(status, body, &json))
}

/// The value at a dotted path, where a numeric segment also indexes an array (`errors.0.code`).
fn lookup<'a>(path: &JsonPath, value: &'a Value) -> Option<&'a Value> {
    path.segments().iter().try_fold(value, |v, seg| match v {
        Value::Object(m) => m.get(seg),
        Value::Array(items) => items.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// JSON equality, numbers by value (`1` equals `1.0`).
fn same(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => got == want,
    }
}

/// Checks and compiles an endpoint's entries (`key` is `users.create.errors`); problems are
/// `(key of the entry or its field, message)`.
pub fn compile(key: &str, raw: &[model::ErrorRule]) -> (Vec<ErrorRule>, Vec<(String, String)>) {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let entry = format!("{key}[{}]", i + 1);
        let mut found: Vec<(String, String)> = Vec::new();
        let mut bad = |field: &str, message: String| {
            found.push((format!("{entry}.{field}"), message));
        };
        if !(400..=599).contains(&r.status) {
            bad(
                "status",
                format!(
                    "{} is not an error status (400–599); only error answers can be told apart",
                    r.status
                ),
            );
        }
        let body_contains = match &r.body_contains {
            Some(t) if t.trim().is_empty() => {
                bad("body_contains", "must not be empty".into());
                None
            }
            other => other.as_deref().map(str::to_lowercase),
        };
        let field = match r.field.as_deref() {
            None => None,
            Some("") => {
                bad("field", "must not be empty".into());
                None
            }
            Some(f) => match JsonPath::parse(f) {
                Ok(p) => Some(p),
                Err(m) => {
                    bad("field", m);
                    None
                }
            },
        };
        match (&r.equals, &r.field) {
            (Some(_), None) => bad(
                "equals",
                "needs `field`: the dotted path of the body value to compare".into(),
            ),
            (Some(Value::String(_) | Value::Number(_) | Value::Bool(_)), Some(_)) | (None, _) => {}
            (Some(other), Some(_)) => bad(
                "equals",
                format!("{other} is not a string, number or boolean"),
            ),
        }
        let answer = answer(r, &mut bad);
        if found.is_empty()
            && let Some(answer) = answer
        {
            rules.push(ErrorRule {
                key: entry.clone(),
                status: r.status,
                body_contains,
                field,
                equals: r.equals.clone(),
                answer,
            });
        }
        problems.extend(found);
    }
    (rules, problems)
}

fn answer(r: &model::ErrorRule, bad: &mut impl FnMut(&str, String)) -> Option<ErrorAnswer> {
    let status = r.scim_status;
    if !(400..=599).contains(&status) {
        bad(
            "scim_status",
            format!("{status} is not an error status (400–599)"),
        );
        return None;
    }
    if status == 401 {
        bad(
            "scim_status",
            "401 would tell the identity provider that its own token is wrong; use 403 or 502"
                .into(),
        );
        return None;
    }
    let scim_type = match r.scim_type.as_deref() {
        None => None,
        Some(t) => match ScimType::parse(t) {
            None => {
                bad(
                    "scim_type",
                    format!(
                        "unknown scimType \"{t}\"; expected one of RFC 7644's: invalidFilter, \
                         tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget, \
                         invalidValue, invalidVers, sensitive"
                    ),
                );
                return None;
            }
            Some(t) => {
                let fits = match t {
                    ScimType::Uniqueness => 409,
                    ScimType::Sensitive => 403,
                    _ => 400,
                };
                if fits != status {
                    bad(
                        "scim_type",
                        format!(
                            "\"{}\" goes with scim_status {fits} (RFC 7644 §3.12), not {status}",
                            t.as_str()
                        ),
                    );
                    return None;
                }
                Some(t)
            }
        },
    };
    let detail = match r.detail.as_deref() {
        Some(d) if d.trim().is_empty() => {
            bad("detail", "must not be empty".into());
            return None;
        }
        Some(_) if status == 409 || status == 404 => {
            bad(
                "detail",
                format!(
                    "not used with scim_status {status}: the sidecar answers \"{}\" with its own \
                     detail (naming the user); leave `detail` out",
                    if status == 409 {
                        "already exists"
                    } else {
                        "not found"
                    }
                ),
            );
            return None;
        }
        other => other.map(str::to_string),
    };
    Some(match status {
        409 => ErrorAnswer::Exists,
        404 => ErrorAnswer::NotFound,
        _ => ErrorAnswer::Answer {
            status,
            scim_type,
            detail,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(toml_text: &str) -> Vec<model::ErrorRule> {
        #[derive(serde::Deserialize)]
        struct W {
            errors: Vec<model::ErrorRule>,
        }
        toml::from_str::<W>(toml_text).unwrap().errors
    }

    fn compiled(toml_text: &str) -> Vec<ErrorRule> {
        let (rules, problems) = compile("users.create.errors", &raw(toml_text));
        assert!(problems.is_empty(), "{problems:?}");
        rules
    }

    const RULES: &str = r#"
        [[errors]]
        status = 422
        body_contains = "Already Been Taken"
        scim_status = 409
        [[errors]]
        status = 422
        field = "errors.0.code"
        equals = "quota"
        scim_status = 403
        detail = "The application's seat limit is reached."
        [[errors]]
        status = 400
        field = "error.retry"
        scim_status = 429
        [[errors]]
        status = 410
        scim_status = 404
    "#;

    #[test]
    fn the_first_matching_entry_wins_and_others_fall_through() {
        let rules = compiled(RULES);
        let hit = |status, body: &str| {
            first_match(&rules, status, body.as_bytes()).map(|r| r.key.as_str())
        };
        // Ignoring case, anywhere in the body (JSON or not).
        assert_eq!(
            hit(
                422,
                r#"{"errors":[{"field":"email","message":"has already been taken"}]}"#
            ),
            Some("users.create.errors[1]")
        );
        assert_eq!(
            hit(422, "email HAS ALREADY BEEN TAKEN"),
            Some("users.create.errors[1]")
        );
        assert_eq!(
            hit(422, r#"{"errors":[{"code":"quota"}]}"#),
            Some("users.create.errors[2]")
        );
        // A validation error matches no entry: the number-based translation applies.
        assert_eq!(
            hit(
                422,
                r#"{"errors":[{"code":"invalid","message":"is too long"}]}"#
            ),
            None
        );
        assert_eq!(hit(422, ""), None);
        assert_eq!(hit(422, "not json, no match"), None);
        // The status must be the entry's.
        assert_eq!(hit(409, "has already been taken"), None);
        // `field` alone: present and not null.
        assert_eq!(
            hit(400, r#"{"error":{"retry":5}}"#),
            Some("users.create.errors[3]")
        );
        assert_eq!(hit(400, r#"{"error":{"retry":null}}"#), None);
        assert_eq!(hit(400, r#"{"error":"retry"}"#), None);
        // No body condition: the status alone.
        assert_eq!(hit(410, ""), Some("users.create.errors[4]"));
        assert_eq!(rules[0].answer, ErrorAnswer::Exists);
        assert_eq!(rules[3].answer, ErrorAnswer::NotFound);
        assert_eq!(
            rules[1].answer,
            ErrorAnswer::Answer {
                status: 403,
                scim_type: None,
                detail: Some("The application's seat limit is reached.".into())
            }
        );
    }

    #[test]
    fn equals_compares_numbers_by_value_and_types_strictly() {
        let rules = compiled(
            "[[errors]]\nstatus = 422\nfield = \"code\"\nequals = 1062\nscim_status = 409\n",
        );
        let hit = |body: Value| first_match(&rules, 422, body.to_string().as_bytes()).is_some();
        assert!(hit(json!({"code": 1062})));
        assert!(hit(json!({"code": 1062.0})));
        assert!(!hit(json!({"code": "1062"})));
        assert!(!hit(json!({"code": 1063})));
        assert!(!hit(json!([1062])));
    }

    #[test]
    fn body_contains_reads_a_bounded_head() {
        let rules =
            compiled("[[errors]]\nstatus = 422\nbody_contains = \"taken\"\nscim_status = 409\n");
        let mut late = vec![b' '; BODY_CONTAINS_LIMIT];
        late.extend_from_slice(b"taken");
        assert!(first_match(&rules, 422, &late).is_none());
        let mut early = b"taken".to_vec();
        early.extend(vec![b' '; BODY_CONTAINS_LIMIT]);
        assert!(first_match(&rules, 422, &early).is_some());
        // Invalid UTF-8 does not stop the search.
        assert!(first_match(&rules, 422, b"\xff\xfe taken").is_some());
    }

    #[test]
    fn bad_entries_are_reported_with_their_key() {
        let (rules, problems) = compile(
            "users.update.errors",
            &raw(r#"
                [[errors]]
                status = 200
                scim_status = 401
                [[errors]]
                status = 422
                equals = "x"
                body_contains = " "
                scim_status = 409
                detail = "Taken."
                [[errors]]
                status = 422
                field = "a..b"
                scim_status = 400
                scim_type = "uniqueness"
                [[errors]]
                status = 422
                field = "a"
                equals = [1]
                scim_status = 400
                scim_type = "bogus"
                [[errors]]
                status = 422
                scim_status = 400
                scim_type = "invalidValue"
                detail = "The application refused a value."
            "#),
        );
        let problems: Vec<String> = problems
            .into_iter()
            .map(|(k, m)| format!("{k}: {m}"))
            .collect();
        assert_eq!(
            problems,
            [
                "users.update.errors[1].status: 200 is not an error status (400–599); only error answers can be told apart",
                "users.update.errors[1].scim_status: 401 would tell the identity provider that its own token is wrong; use 403 or 502",
                "users.update.errors[2].body_contains: must not be empty",
                "users.update.errors[2].equals: needs `field`: the dotted path of the body value to compare",
                "users.update.errors[2].detail: not used with scim_status 409: the sidecar answers \"already exists\" with its own detail (naming the user); leave `detail` out",
                "users.update.errors[3].field: `a..b` has an empty segment",
                "users.update.errors[3].scim_type: \"uniqueness\" goes with scim_status 409 (RFC 7644 §3.12), not 400",
                "users.update.errors[4].equals: [1] is not a string, number or boolean",
                "users.update.errors[4].scim_type: unknown scimType \"bogus\"; expected one of RFC 7644's: invalidFilter, tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget, invalidValue, invalidVers, sensitive",
            ]
        );
        // Only the good entry is kept.
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].key, "users.update.errors[5]");
    }
}
