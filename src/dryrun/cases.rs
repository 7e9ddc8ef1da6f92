//! Mapping test cases: JSON files in a `cases/` folder next to a mapping, each a list of steps —
//! a SCIM request, the application's canned answers, and what to expect: the exact application
//! calls and the SCIM answer. The runner sends each case through a fresh [`DryRun`] and reports
//! every failed expectation as a readable difference (expected vs got, per field).
//!
//! Comparison rules (documented in `mappings/README.md`):
//! - calls: the same methods and paths (with query) in the same order; a call's `headers` must be
//!   present with those values; its `body` is compared exactly unless `body_match = "subset"`;
//! - the SCIM answer: `status` equal; `headers` present with those values; `body` compared as a
//!   subset unless `body_match = "exact"`;
//! - subset: every key of an expected object must be in the actual one with a matching value, an
//!   expected `null` means "absent or null", and arrays must have the same length with elements
//!   matching in order; exact: equal JSON;
//! - a `null` body expectation means "no body"; an absent one is not checked;
//! - canned answers that were never used are failures (the case no longer says what happens).

use super::{CannedAnswer, DryRun, RecordedCall, ScimRequest, StepOutcome, Target};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One case file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows, for people reading it.
    #[serde(default)]
    pub description: String,
    /// Run in order against the same sidecar state (ids and kept attributes carry over).
    pub steps: Vec<Step>,
}

/// One SCIM request with its canned answers and expectations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub request: ScimRequest,
    #[serde(default)]
    pub app_answers: Vec<CannedAnswer>,
    #[serde(default)]
    pub expect: Expect,
}

/// What a step must do; absent parts are not checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The application calls, all of them, in order.
    #[serde(default)]
    pub calls: Option<Vec<ExpectedCall>>,
    pub status: Option<u16>,
    /// SCIM answer headers (any case) and their exact values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The SCIM answer body; `null` means no body.
    #[serde(default, deserialize_with = "present")]
    pub body: Option<Value>,
    /// Default `subset`.
    #[serde(default)]
    pub body_match: Option<Match>,
}

/// One expected application call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCall {
    pub method: String,
    /// Path and query relative to the mapping's `base_url`, percent-encoded as sent.
    pub path: String,
    /// Headers (any case) and their exact values; secrets appear as `***`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body sent; `null` means no body.
    #[serde(default, deserialize_with = "present")]
    pub body: Option<Value>,
    /// Default `exact`.
    #[serde(default)]
    pub body_match: Option<Match>,
}

/// How a body is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    Exact,
    Subset,
}

/// A present key is `Some`, even when its value is `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl ExpectedCall {
    fn line(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.path)
    }
}

/// Reads one case file; the error names the file and, for JSON errors, the line and column.
pub fn load_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    // serde_json's message ends with the line and column.
    let case: Case = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if case.steps.is_empty() {
        return Err(format!(
            "{}: a case needs at least one step",
            path.display()
        ));
    }
    Ok(case)
}

/// Where a mapping's cases are: `cases/` next to a `mapping.toml`; `cases/NAME/` for any other
/// mapping file `NAME.toml` (so one folder can hold several mappings and their cases).
pub fn default_cases_dir(mapping_file: &Path) -> PathBuf {
    let dir = mapping_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("cases");
    match mapping_file.file_stem() {
        Some(stem) if stem != "mapping" => dir.join(stem),
        _ => dir,
    }
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The file name without `.json`.
    pub name: String,
    pub file: PathBuf,
    /// Empty when the case passed; otherwise every failed expectation.
    pub failures: Vec<String>,
    pub elapsed: Duration,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The outcome of a folder of cases.
#[derive(Debug, Clone)]
pub struct SuiteReport {
    pub dir: PathBuf,
    pub cases: Vec<CaseReport>,
    pub elapsed: Duration,
}

impl SuiteReport {
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// One line per case, the failures of failed ones indented below, and a summary.
    pub fn render(&self) -> String {
        let mut out = format!("{}: {} case(s)\n", self.dir.display(), self.cases.len());
        for c in &self.cases {
            let mark = if c.passed() { "ok  " } else { "FAIL" };
            let _ = writeln!(out, "  {mark}  {} ({} ms)", c.name, c.elapsed.as_millis());
            for f in &c.failures {
                for (i, line) in f.lines().enumerate() {
                    let indent = if i == 0 { "        " } else { "          " };
                    let _ = writeln!(out, "{indent}{line}");
                }
            }
        }
        let _ = writeln!(
            out,
            "{} passed, {} failed ({} ms)",
            self.passed(),
            self.failed(),
            self.elapsed.as_millis()
        );
        out
    }
}

/// Runs every `*.json` case in `dir` (sorted by name), each from a fresh state.
pub async fn run_dir(target: &Target, dir: &Path) -> Result<SuiteReport, String> {
    let started = Instant::now();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read the cases folder: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no *.json cases", dir.display()));
    }
    let mut run = target.start().await?;
    let mut cases = Vec::new();
    for file in files {
        let case_started = Instant::now();
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let failures = match load_case(&file) {
            Err(e) => vec![e],
            Ok(case) => {
                run.fresh()?;
                run_case(&run, &case).await
            }
        };
        cases.push(CaseReport {
            name,
            file,
            failures,
            elapsed: case_started.elapsed(),
        });
    }
    Ok(SuiteReport {
        dir: dir.to_path_buf(),
        cases,
        elapsed: started.elapsed(),
    })
}

/// Runs a case's steps in order on `run` (as it is: call [`DryRun::fresh`] first for isolation)
/// and returns every failed expectation. A step that cannot run ends the case.
pub async fn run_case(run: &DryRun, case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, step) in case.steps.iter().enumerate() {
        let label = format!("step {} ({})", i + 1, step.request.line());
        match run.step(&step.request, step.app_answers.clone()).await {
            Err(e) => {
                failures.push(format!("{label}: cannot run: {e}"));
                break;
            }
            Ok(outcome) => {
                let found = check_step(&step.expect, &outcome);
                for f in &found {
                    failures.push(format!("{label}: {f}"));
                }
                // What the sidecar logged is often the why (the rule, endpoint or hook).
                if !found.is_empty() && !outcome.log.is_empty() {
                    failures.push(format!("{label}: sidecar log:\n{}", outcome.log.join("\n")));
                }
            }
        }
    }
    failures
}

/// Every way `outcome` differs from `expect`.
pub fn check_step(expect: &Expect, outcome: &StepOutcome) -> Vec<String> {
    let mut out = Vec::new();
    let answer = &outcome.answer;
    if let Some(status) = expect.status
        && status != answer.status
    {
        let detail = answer
            .body
            .as_ref()
            .and_then(|b| b.get("detail"))
            .and_then(Value::as_str)
            .map(|d| format!(" (detail: {d})"))
            .unwrap_or_default();
        out.push(format!(
            "status: expected {status}, got {}{detail}",
            answer.status
        ));
    }
    for (name, value) in &expect.headers {
        let got = answer
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        if got != Some(value.as_str()) {
            out.push(format!(
                "header {name}: expected {value:?}, got {}",
                got.map_or("nothing".to_string(), |g| format!("{g:?}"))
            ));
        }
    }
    if let Some(expected) = &expect.body {
        let mode = expect.body_match.unwrap_or(Match::Subset);
        check_body(
            "body",
            expected,
            answer.body.as_ref(),
            answer.body_text.as_deref(),
            mode,
            &mut out,
        );
    }
    if let Some(calls) = &expect.calls {
        check_calls(calls, &outcome.calls, &mut out);
    }
    for (i, a) in &outcome.unused_answers {
        out.push(format!(
            "app answer {i} ({}) was not used{}",
            a.describe(),
            if a.times.is_some() {
                " as many times as `times` says"
            } else {
                ""
            }
        ));
    }
    out
}

fn check_body(
    label: &str,
    expected: &Value,
    got: Option<&Value>,
    got_text: Option<&str>,
    mode: Match,
    out: &mut Vec<String>,
) {
    match (expected, got, got_text) {
        (Value::Null, None, None) => {}
        (Value::Null, _, _) => out.push(format!(
            "{label}: expected no body, got {}",
            got.map_or_else(|| format!("{:?}", got_text.unwrap_or("")), show)
        )),
        (_, None, Some(text)) => out.push(format!("{label}: expected JSON, got text {text:?}")),
        (_, None, None) => out.push(format!("{label}: expected {}, got no body", show(expected))),
        (_, Some(g), _) => diff(label, expected, g, mode, out),
    }
}

/// Compares the calls: first which calls were made (a line diff of `METHOD path`, so a missing
/// or extra call shows where it is), then headers and bodies of the calls both lists share.
fn check_calls(expected: &[ExpectedCall], got: &[RecordedCall], out: &mut Vec<String>) {
    let want: Vec<String> = expected.iter().map(ExpectedCall::line).collect();
    let have: Vec<String> = got.iter().map(RecordedCall::line).collect();
    let pairs = lcs_pairs(&want, &have);
    if pairs.len() != want.len() || pairs.len() != have.len() {
        let mut text = format!(
            "calls differ (expected {}, got {}; - expected only, + got only):",
            want.len(),
            have.len()
        );
        let (mut i, mut j) = (0, 0);
        for &(pi, pj) in pairs
            .iter()
            .chain(std::iter::once(&(want.len(), have.len())))
        {
            while i < pi {
                let _ = write!(text, "\n- {}", want[i]);
                i += 1;
            }
            while j < pj {
                let _ = write!(text, "\n+ {}  [{}]", have[j], got[j].answered_by);
                j += 1;
            }
            if pi < want.len() {
                let _ = write!(text, "\n  {}", want[pi]);
                i += 1;
                j += 1;
            }
        }
        out.push(text);
    }
    for (wi, gi) in pairs {
        let (e, g) = (&expected[wi], &got[gi]);
        let label = format!("call {} ({})", gi + 1, g.line());
        for (name, value) in &e.headers {
            match g.header(name) {
                Some(v) if v == value => {}
                other => out.push(format!(
                    "{label}: header {name}: expected {value:?}, got {}",
                    other.map_or("nothing".to_string(), |v| format!("{v:?}"))
                )),
            }
        }
        if let Some(body) = &e.body {
            let mode = e.body_match.unwrap_or(Match::Exact);
            check_body(
                &format!("{label}: body"),
                body,
                g.body.as_ref(),
                g.body_text.as_deref(),
                mode,
                out,
            );
        }
    }
}

/// Index pairs of a longest common subsequence of `a` and `b`, in order.
fn lcs_pairs(a: &[String], b: &[String]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    // len[i][j]: LCS length of a[i..] and b[j..].
    let mut len = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[i][j] = if a[i] == b[j] {
                len[i + 1][j + 1] + 1
            } else {
                len[i + 1][j].max(len[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if a[i] == b[j] {
            out.push((i, j));
            i += 1;
            j += 1;
        } else if len[i + 1][j] >= len[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Every difference between `expected` and `got` under `path`, one line each.
pub fn diff(path: &str, expected: &Value, got: &Value, mode: Match, out: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(e), Value::Object(g)) => {
            for (k, ev) in e {
                let sub = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => diff(&sub, ev, gv, mode, out),
                    None if ev.is_null() && mode == Match::Subset => {}
                    None => out.push(format!("{sub}: expected {}, got nothing", show(ev))),
                }
            }
            if mode == Match::Exact {
                for (k, gv) in g {
                    if !e.contains_key(k) {
                        out.push(format!("{path}.{k}: not expected, got {}", show(gv)));
                    }
                }
            }
        }
        (Value::Array(e), Value::Array(g)) if e.len() == g.len() => {
            for (i, (ev, gv)) in e.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), ev, gv, mode, out);
            }
        }
        (Value::Array(e), Value::Array(g)) => out.push(format!(
            "{path}: expected {} element(s), got {}: {}",
            e.len(),
            g.len(),
            show(got)
        )),
        (e, g) if e == g => {}
        (e, g) => out.push(format!("{path}: expected {}, got {}", show(e), show(g))),
    }
}

/// Compact JSON, shortened past 160 characters.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dryrun::ScimAnswer;
    use serde_json::json;

    fn diffs(expected: Value, got: Value, mode: Match) -> Vec<String> {
        let mut out = Vec::new();
        diff("body", &expected, &got, mode, &mut out);
        out
    }

    #[test]
    fn subset_ignores_extra_keys_and_reports_each_difference() {
        let got =
            json!({"id": "1", "name": {"givenName": "Ada", "familyName": "L"}, "active": true});
        assert!(
            diffs(
                json!({"name": {"givenName": "Ada"}}),
                got.clone(),
                Match::Subset
            )
            .is_empty()
        );
        assert_eq!(
            diffs(
                json!({"name": {"givenName": "Eve"}, "active": false, "title": "x"}),
                got.clone(),
                Match::Subset
            ),
            [
                r#"body.name.givenName: expected "Eve", got "Ada""#,
                "body.active: expected false, got true",
                r#"body.title: expected "x", got nothing"#,
            ]
        );
        // null: absent or null.
        assert!(diffs(json!({"password": null}), got.clone(), Match::Subset).is_empty());
        assert_eq!(
            diffs(json!({"active": null}), got, Match::Subset),
            ["body.active: expected null, got true"]
        );
    }

    #[test]
    fn exact_reports_extra_keys_and_arrays_need_the_same_length() {
        assert_eq!(
            diffs(json!({"a": 1}), json!({"a": 1, "b": 2}), Match::Exact),
            ["body.b: not expected, got 2"]
        );
        assert_eq!(
            diffs(json!({"a": [1]}), json!({"a": [1, 2]}), Match::Subset),
            ["body.a: expected 1 element(s), got 2: [1,2]"]
        );
        assert_eq!(
            diffs(json!([{"v": 1}]), json!([{"v": 2, "w": 3}]), Match::Subset),
            ["body[0].v: expected 1, got 2"]
        );
        assert_eq!(diffs(json!(1), json!(1.0), Match::Exact).len(), 1);
    }

    #[test]
    fn each_mapping_file_has_its_own_cases_folder() {
        assert_eq!(
            default_cases_dir(Path::new("m/app/mapping.toml")),
            Path::new("m/app/cases")
        );
        assert_eq!(
            default_cases_dir(Path::new("m/app/roles.toml")),
            Path::new("m/app/cases/roles")
        );
        assert_eq!(
            default_cases_dir(Path::new("mapping.toml")),
            Path::new("cases")
        );
    }

    #[test]
    fn a_case_file_must_have_the_known_shape() {
        let ok: Case = serde_json::from_value(json!({
            "steps": [{"request": {"method": "GET", "path": "/Users"},
                       "expect": {"body": null, "calls": [{"method": "GET", "path": "/x", "body": null}]}}]
        }))
        .unwrap();
        // A present null is an expectation ("no body"); an absent key is none.
        assert_eq!(ok.steps[0].expect.body, Some(Value::Null));
        assert_eq!(
            ok.steps[0].expect.calls.as_ref().unwrap()[0].body,
            Some(Value::Null)
        );
        assert!(ok.steps[0].expect.status.is_none());
        let typo = serde_json::from_value::<Case>(json!({
            "steps": [{"request": {"method": "GET", "path": "/Users"}, "expect": {"stauts": 200}}]
        }));
        assert!(typo.unwrap_err().to_string().contains("stauts"));
    }

    fn call(method: &str, path: &str, body: Option<Value>) -> RecordedCall {
        RecordedCall {
            method: method.into(),
            path: path.into(),
            headers: vec![("x-api-key".into(), "***".into())],
            body,
            body_text: None,
            status: 200,
            answered_by: "default".into(),
        }
    }

    fn expected(method: &str, path: &str, body: Option<Value>) -> ExpectedCall {
        ExpectedCall {
            method: method.into(),
            path: path.into(),
            headers: BTreeMap::new(),
            body,
            body_match: None,
        }
    }

    #[test]
    fn call_lists_are_diffed_line_by_line() {
        let got = [
            call("GET", "/a", None),
            call("POST", "/b", Some(json!({"x": 1}))),
        ];
        let mut out = Vec::new();
        check_calls(
            &[
                expected("get", "/a", None),
                expected("POST", "/b", Some(json!({"x": 2}))),
            ],
            &got,
            &mut out,
        );
        assert_eq!(out, ["call 2 (POST /b): body.x: expected 2, got 1"]);

        let mut out = Vec::new();
        check_calls(
            &[expected("GET", "/a", None), expected("DELETE", "/c", None)],
            &got,
            &mut out,
        );
        assert_eq!(
            out,
            [
                "calls differ (expected 2, got 2; - expected only, + got only):\n  GET /a\n- DELETE /c\n+ POST /b  [default]"
            ]
        );

        let mut out = Vec::new();
        let mut e = expected("GET", "/a", Some(Value::Null));
        e.headers.insert("X-Api-Key".into(), "secret".into());
        check_calls(&[e], &got[..1], &mut out);
        assert_eq!(
            out,
            [r#"call 1 (GET /a): header X-Api-Key: expected "secret", got "***""#]
        );
    }

    #[test]
    fn steps_report_status_with_detail_headers_and_unused_answers() {
        let outcome = StepOutcome {
            request: ScimRequest {
                method: "GET".into(),
                path: "/Users/1".into(),
                headers: BTreeMap::new(),
                body: None,
                body_raw: None,
            },
            calls: vec![],
            answer: ScimAnswer {
                status: 404,
                headers: vec![("content-type".into(), "application/scim+json".into())],
                body: Some(json!({"detail": "User 1 not found"})),
                body_text: None,
            },
            unused_answers: vec![(1, CannedAnswer::default())],
            log: vec![],
        };
        let expect = Expect {
            status: Some(200),
            headers: BTreeMap::from([("Location".into(), "x".into())]),
            calls: Some(vec![]),
            ..Expect::default()
        };
        assert_eq!(
            check_step(&expect, &outcome),
            [
                "status: expected 200, got 404 (detail: User 1 not found)",
                r#"header Location: expected "x", got nothing"#,
                "app answer 1 (* *) was not used",
            ]
        );
        assert_eq!(check_step(&Expect::default(), &outcome).len(), 1);
    }
}
