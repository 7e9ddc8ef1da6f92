//! `explain`: what a SCIM request (or each step of a case) would make the sidecar do — the
//! application calls with their real URLs, headers (secrets masked) and bodies, the answers the
//! fake application gave, and the SCIM answer — as text for people or JSON for tools.

use super::captures::Captures;
use super::cases::{self, Case};
use super::{CannedAnswer, DryRun, ScimRequest, StepOutcome};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What to explain: one request with its canned answers, or every step of a case.
#[derive(Debug, Clone)]
pub struct Input {
    pub steps: Vec<(ScimRequest, Vec<CannedAnswer>)>,
    /// A case's `capture` per step (empty for a single request): later steps' `${name}` are
    /// filled in from earlier answers, as `test-mapping` does.
    pub captures: Vec<BTreeMap<String, String>>,
}

impl Input {
    /// Reads a request file: `{method, path, headers?, body?}`, or a case (`{"steps": […]}`),
    /// whose steps bring their own answers. `answers` (from `--app-answers`) go with a single
    /// request; with a case they are refused, since each step has its own.
    pub fn parse(text: &str, answers: Option<Vec<CannedAnswer>>) -> Result<Input, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
        if value.get("steps").is_some() {
            if answers.is_some() {
                return Err(
                    "a case brings its own app answers per step; leave out --app-answers".into(),
                );
            }
            let case: Case = serde_json::from_value(value).map_err(|e| e.to_string())?;
            cases::check_captures(&case)?;
            return Ok(Input {
                captures: case.steps.iter().map(|s| s.capture.clone()).collect(),
                steps: case
                    .steps
                    .into_iter()
                    .map(|s| (s.request, s.app_answers))
                    .collect(),
            });
        }
        let request: ScimRequest = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Ok(Input {
            steps: vec![(request, answers.unwrap_or_default())],
            captures: Vec::new(),
        })
    }
}

/// Parses an `--app-answers` file: a JSON array of canned answers.
pub fn parse_answers(text: &str) -> Result<Vec<CannedAnswer>, String> {
    let answers: Vec<CannedAnswer> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (i, a) in answers.iter().enumerate() {
        a.check().map_err(|e| format!("answer {}: {e}", i + 1))?;
    }
    Ok(answers)
}

/// Runs every step in order on `run`, filling in captured values.
pub async fn run(run: &DryRun, input: &Input) -> Result<Vec<StepOutcome>, String> {
    let mut out = Vec::new();
    let mut captures = Captures::default();
    for (i, (request, answers)) in input.steps.iter().enumerate() {
        let (request, answers) = cases::fill_request(request, answers, &captures)
            .map_err(|e| format!("step {}: {e}", i + 1))?;
        let outcome = run
            .step(&request, answers)
            .await
            .map_err(|e| format!("step {}: {e}", i + 1))?;
        if let Some(wanted) = input.captures.get(i) {
            cases::capture(wanted, &outcome, &mut captures)
                .map_err(|e| format!("step {}: {e}", i + 1))?;
        }
        out.push(outcome);
    }
    Ok(out)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The human-readable explanation.
pub fn render_text(run: &DryRun, outcomes: &[StepOutcome]) -> String {
    let mut out = String::new();
    let many = outcomes.len() > 1;
    for (n, o) in outcomes.iter().enumerate() {
        if many {
            let _ = writeln!(out, "=== step {} ===", n + 1);
        }
        let _ = writeln!(out, "SCIM request: {}", o.request.line());
        if let Some(b) = &o.request.body {
            let _ = writeln!(out, "{}", indent(&pretty(b), "  "));
        } else if let Some(raw) = &o.request.body_raw {
            let _ = writeln!(out, "  {raw}");
        }
        let _ = writeln!(out);
        if o.calls.is_empty() {
            let _ = writeln!(out, "Application calls: none");
        } else {
            let _ = writeln!(out, "Application calls ({}):", o.calls.len());
        }
        for (i, c) in o.calls.iter().enumerate() {
            let _ = writeln!(out, "  {}. {} {}", i + 1, c.method, run.url(c));
            for (k, v) in &c.headers {
                let _ = writeln!(out, "     {k}: {v}");
            }
            if let Some(b) = &c.body {
                let _ = writeln!(out, "{}", indent(&pretty(b), "     "));
            } else if let Some(t) = &c.body_text {
                let _ = writeln!(out, "     {t}");
            }
            let _ = writeln!(out, "     → {} ({})", c.status, c.answered_by);
        }
        for (i, a) in &o.unused_answers {
            let _ = writeln!(out, "  (app answer {i}, {}, was not used)", a.describe());
        }
        if !o.log.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "Sidecar log:");
            for line in &o.log {
                let _ = writeln!(out, "  {line}");
            }
        }
        let _ = writeln!(out);
        let a = &o.answer;
        let reason = http::StatusCode::from_u16(a.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let _ = writeln!(out, "SCIM answer: {} {reason}", a.status);
        for (k, v) in &a.headers {
            let _ = writeln!(out, "  {k}: {v}");
        }
        if let Some(b) = &a.body {
            let _ = writeln!(out, "{}", indent(&pretty(b), "  "));
        } else if let Some(t) = &a.body_text {
            let _ = writeln!(out, "  {t}");
        }
        if many && n + 1 < outcomes.len() {
            let _ = writeln!(out);
        }
    }
    out
}

/// The machine-readable explanation: `{"steps": [{request, calls, answer}]}`.
pub fn render_json(run: &DryRun, outcomes: &[StepOutcome]) -> Value {
    let steps: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let calls: Vec<Value> = o
                .calls
                .iter()
                .map(|c| {
                    let headers: Map<String, Value> = c
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect();
                    let mut call = json!({
                        "method": c.method,
                        "path": c.path,
                        "url": run.url(c),
                        "headers": headers,
                        "answer": {"status": c.status, "answered_by": c.answered_by},
                    });
                    if let Some(b) = &c.body {
                        call["body"] = b.clone();
                    } else if let Some(t) = &c.body_text {
                        call["body_text"] = Value::String(t.clone());
                    }
                    call
                })
                .collect();
            let headers: Map<String, Value> = o
                .answer
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let mut answer = json!({"status": o.answer.status, "headers": headers});
            if let Some(b) = &o.answer.body {
                answer["body"] = b.clone();
            } else if let Some(t) = &o.answer.body_text {
                answer["body_text"] = Value::String(t.clone());
            }
            let unused: Vec<Value> = o
                .unused_answers
                .iter()
                .map(|(i, a)| json!({"position": i, "answer": a.describe()}))
                .collect();
            json!({
                "request": serde_json::to_value(&o.request).unwrap_or(Value::Null),
                "calls": calls,
                "answer": answer,
                "unused_app_answers": unused,
                "log": o.log,
            })
        })
        .collect();
    json!({"steps": steps})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_a_request_or_a_case() {
        let one = Input::parse(r#"{"method": "GET", "path": "/Users"}"#, None).unwrap();
        assert_eq!(one.steps.len(), 1);
        assert!(one.steps[0].1.is_empty());
        let case = r#"{"steps": [{"request": {"method": "GET", "path": "/Users/1"},
                        "app_answers": [{"method": "GET", "path": "/u/1", "status": 404}]},
                       {"request": {"method": "DELETE", "path": "/Users/1"}}]}"#;
        let two = Input::parse(case, None).unwrap();
        assert_eq!(two.steps.len(), 2);
        assert_eq!(two.steps[0].1[0].status, 404);
        assert!(Input::parse(case, Some(vec![])).is_err());
        let e = Input::parse(r#"{"method": "GET"}"#, None).unwrap_err();
        assert!(e.contains("path"), "{e}");
        let e = Input::parse("{", None).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn answer_files_are_checked() {
        let ok = parse_answers(r#"[{"method": "GET", "path": "/x*", "status": 503}]"#).unwrap();
        assert_eq!(ok[0].status, 503);
        assert!(parse_answers(r#"[{"status": 99999}]"#).is_err());
        assert!(parse_answers(r#"[{"stauts": 200}]"#).is_err());
        assert!(parse_answers(r#"{"status": 200}"#).is_err());
    }
}
