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
//! - canned answers that were never used are failures (the case no longer says what happens);
//! - a step's `capture` keeps values of its SCIM answer body for later steps, which write them
//!   as `${name}`; in expectations `${:string}` (and `any`, `number`, `boolean`) match any value
//!   of that kind (see [`captures`](super::captures)).

use super::captures::{Captures, Want, valid_name};
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
    /// Values of the SCIM answer body kept for later steps: name → JSON pointer (`"/id"`).
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
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
    check_captures(&case).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(case)
}

/// Capture names and pointers must be usable (checked before anything runs).
pub fn check_captures(case: &Case) -> Result<(), String> {
    for (i, step) in case.steps.iter().enumerate() {
        for (name, pointer) in &step.capture {
            if !valid_name(name) {
                return Err(format!(
                    "step {}: capture `{name}`: a capture name is a letter or `_`, then letters, \
                     digits, `_` or `-`",
                    i + 1
                ));
            }
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(format!(
                    "step {}: capture `{name}`: \"{pointer}\" is not a JSON pointer; write it \
                     like \"/id\" or \"/meta/version\"",
                    i + 1
                ));
            }
        }
    }
    Ok(())
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
/// and returns every failed expectation. A step that cannot run, or whose capture finds nothing,
/// ends the case.
pub async fn run_case(run: &DryRun, case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    let mut captures = Captures::default();
    for (i, step) in case.steps.iter().enumerate() {
        // The path as written (`/Users/${ada}`): the same in every run, unlike a minted id.
        let label = format!("step {} ({})", i + 1, step.request.line());
        let prepared = fill_step(step, &captures);
        let (request, answers) = match prepared {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                break;
            }
        };
        match run.step(&request, answers).await {
            Err(e) => {
                failures.push(format!("{label}: cannot run: {e}"));
                break;
            }
            Ok(outcome) => {
                let found = check_step_with(&step.expect, &outcome, &captures);
                for f in &found {
                    failures.push(format!("{label}: {f}"));
                }
                // What the sidecar logged is often the why (the rule, endpoint or hook).
                if !found.is_empty() && !outcome.log.is_empty() {
                    failures.push(format!("{label}: sidecar log:\n{}", outcome.log.join("\n")));
                }
                if let Err(e) = capture(&step.capture, &outcome, &mut captures) {
                    failures.push(format!("{label}: {e}"));
                    break;
                }
            }
        }
    }
    failures
}

/// The step's request and app answers with captured values filled in, after checking that its
/// expectations only name values captured earlier.
pub fn fill_step(
    step: &Step,
    captures: &Captures,
) -> Result<(ScimRequest, Vec<CannedAnswer>), String> {
    let filled = fill_request(&step.request, &step.app_answers, captures)?;
    let e = &step.expect;
    let expected = || -> Result<(), String> {
        for v in e.headers.values() {
            captures.want(v)?;
        }
        if let Some(b) = &e.body {
            captures.check_expected(b)?;
        }
        for (j, c) in e.calls.iter().flatten().enumerate() {
            let call = || -> Result<(), String> {
                captures.fill_text(&c.path)?;
                for v in c.headers.values() {
                    captures.want(v)?;
                }
                c.body
                    .as_ref()
                    .map_or(Ok(()), |b| captures.check_expected(b))
            };
            call().map_err(|err| format!("call {}: {err}", j + 1))?;
        }
        Ok(())
    };
    expected().map_err(|err| format!("expect: {err}"))?;
    Ok(filled)
}

/// A request and its app answers with captured values filled in.
pub fn fill_request(
    r: &ScimRequest,
    app_answers: &[CannedAnswer],
    captures: &Captures,
) -> Result<(ScimRequest, Vec<CannedAnswer>), String> {
    let request = ScimRequest {
        method: r.method.clone(),
        path: captures
            .fill_text(&r.path)
            .map_err(|e| format!("path: {e}"))?,
        headers: fill_headers(&r.headers, captures).map_err(|e| format!("headers: {e}"))?,
        body: r
            .body
            .as_ref()
            .map(|b| captures.fill(b))
            .transpose()
            .map_err(|e| format!("body: {e}"))?,
        body_raw: r
            .body_raw
            .as_deref()
            .map(|b| captures.fill_text(b))
            .transpose()
            .map_err(|e| format!("body_raw: {e}"))?,
    };
    let mut answers = Vec::with_capacity(app_answers.len());
    for (i, a) in app_answers.iter().enumerate() {
        let fill = || -> Result<CannedAnswer, String> {
            Ok(CannedAnswer {
                path: a
                    .path
                    .as_deref()
                    .map(|p| captures.fill_text(p))
                    .transpose()?,
                headers: fill_headers(&a.headers, captures)?,
                body: a.body.as_ref().map(|b| captures.fill(b)).transpose()?,
                body_raw: a
                    .body_raw
                    .as_deref()
                    .map(|b| captures.fill_text(b))
                    .transpose()?,
                ..a.clone()
            })
        };
        answers.push(fill().map_err(|e| format!("app answer {}: {e}", i + 1))?);
    }
    Ok((request, answers))
}

fn fill_headers(
    headers: &BTreeMap<String, String>,
    captures: &Captures,
) -> Result<BTreeMap<String, String>, String> {
    headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), captures.fill_text(v)?)))
        .collect()
}

/// Keeps values of the SCIM answer body (`wanted`: name → JSON pointer).
pub fn capture(
    wanted: &BTreeMap<String, String>,
    outcome: &StepOutcome,
    captures: &mut Captures,
) -> Result<(), String> {
    for (name, pointer) in wanted {
        match outcome
            .answer
            .body
            .as_ref()
            .and_then(|b| b.pointer(pointer))
        {
            Some(v) => captures.insert(name, v.clone()),
            None => {
                let what = match &outcome.answer.body {
                    Some(b) => format!("the SCIM answer has nothing at \"{pointer}\": {}", show(b)),
                    None => format!(
                        "the SCIM answer (HTTP {}) has no JSON body",
                        outcome.answer.status
                    ),
                };
                return Err(format!("capture `{name}`: {what}"));
            }
        }
    }
    Ok(())
}

/// Every way `outcome` differs from `expect` (an expectation without placeholders).
pub fn check_step(expect: &Expect, outcome: &StepOutcome) -> Vec<String> {
    check_step_with(expect, outcome, &Captures::default())
}

/// Every way `outcome` differs from `expect`, with `${name}` standing for captured values.
pub fn check_step_with(expect: &Expect, outcome: &StepOutcome, captures: &Captures) -> Vec<String> {
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
        if let Some(problem) = header_problem(value, got, captures) {
            out.push(format!("header {name}: {problem}"));
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
            captures,
            &mut out,
        );
    }
    if let Some(calls) = &expect.calls {
        check_calls_with(calls, &outcome.calls, captures, &mut out);
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

/// Why header value `got` does not match `expected` (exact text, or a matcher), if it does not.
fn header_problem(expected: &str, got: Option<&str>, captures: &Captures) -> Option<String> {
    let shown = || got.map_or("nothing".to_string(), |g| format!("{g:?}"));
    match captures.want(expected) {
        Err(e) => Some(e),
        Ok(Want::Kind(m)) => match got {
            Some(g) if m.matches_text(g) => None,
            _ => Some(format!("expected {m}, got {}", shown())),
        },
        Ok(Want::Value(v)) => {
            let text = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (got != Some(text.as_str())).then(|| format!("expected {text:?}, got {}", shown()))
        }
    }
}

fn check_body(
    label: &str,
    expected: &Value,
    got: Option<&Value>,
    got_text: Option<&str>,
    mode: Match,
    captures: &Captures,
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
        (_, Some(g), _) => diff_with(label, expected, g, mode, Some(captures), out),
    }
}

/// Compares the calls: first which calls were made (a line diff of `METHOD path`, so a missing
/// or extra call shows where it is), then headers and bodies of the calls both lists share.
#[cfg(test)]
fn check_calls(expected: &[ExpectedCall], got: &[RecordedCall], out: &mut Vec<String>) {
    check_calls_with(expected, got, &Captures::default(), out)
}

fn check_calls_with(
    expected: &[ExpectedCall],
    got: &[RecordedCall],
    captures: &Captures,
    out: &mut Vec<String>,
) {
    // Placeholders in paths were checked before the step ran; a failure here is shown as is.
    let want: Vec<String> = expected
        .iter()
        .map(|e| {
            let path = captures
                .fill_text(&e.path)
                .unwrap_or_else(|_| e.path.clone());
            format!("{} {path}", e.method.to_ascii_uppercase())
        })
        .collect();
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
            if let Some(problem) = header_problem(value, g.header(name), captures) {
                out.push(format!("{label}: header {name}: {problem}"));
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
                captures,
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

/// Every difference between `expected` and `got` under `path`, one line each (expected strings
/// taken literally).
pub fn diff(path: &str, expected: &Value, got: &Value, mode: Match, out: &mut Vec<String>) {
    diff_with(path, expected, got, mode, None, out)
}

/// [`diff`], with `${…}` in expected strings resolved against `captures` when given (a captured
/// value is then compared literally: its own text is never read as placeholders).
pub fn diff_with(
    path: &str,
    expected: &Value,
    got: &Value,
    mode: Match,
    captures: Option<&Captures>,
    out: &mut Vec<String>,
) {
    match (expected, got) {
        (Value::String(s), _) if captures.is_some() && s.contains("${") => {
            match captures.map(|c| c.want(s)) {
                Some(Ok(Want::Kind(m))) if !m.matches(got) => {
                    out.push(format!("{path}: expected {m}, got {}", show(got)));
                }
                Some(Ok(Want::Kind(_))) | None => {}
                Some(Ok(Want::Value(v))) => {
                    let mut found = Vec::new();
                    diff_with(path, &v, got, mode, None, &mut found);
                    if !found.is_empty() {
                        out.push(format!(
                            "{path}: expected {s} = {}, got {}",
                            show(&v),
                            show(got)
                        ));
                    }
                }
                Some(Err(e)) => out.push(format!("{path}: {e}")),
            }
        }
        (Value::Object(e), Value::Object(g)) => {
            for (k, ev) in e {
                let sub = format!("{path}.{k}");
                match g.get(k) {
                    Some(gv) => diff_with(&sub, ev, gv, mode, captures, out),
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
                diff_with(&format!("{path}[{i}]"), ev, gv, mode, captures, out);
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

    fn answered(status: u16, body: Value) -> StepOutcome {
        StepOutcome {
            request: ScimRequest {
                method: "POST".into(),
                path: "/Users".into(),
                headers: BTreeMap::new(),
                body: None,
                body_raw: None,
            },
            calls: vec![call(
                "POST",
                "/users",
                Some(json!({"email": "ada@example.com"})),
            )],
            answer: ScimAnswer {
                status,
                headers: vec![(
                    "location".into(),
                    "http://localhost/scim/v2/Users/5d1e".into(),
                )],
                body: Some(body),
                body_text: None,
            },
            unused_answers: vec![],
            log: vec![],
        }
    }

    fn case(steps: Value) -> Case {
        serde_json::from_value(json!({ "steps": steps })).unwrap()
    }

    #[test]
    fn captured_values_fill_later_requests_answers_and_expectations() {
        let c = case(json!([
            {"request": {"method": "POST", "path": "/Users"}, "capture": {"ada": "/id", "v": "/meta/version"}},
            {"request": {"method": "PATCH", "path": "/Users/${ada}", "headers": {"If-Match": "${v}"},
                         "body": {"value": {"externalId": "${ada}", "n": "${n}"}}},
             "app_answers": [{"method": "GET", "path": "/users/${n}", "body": {"id": "${n}", "ref": "u-${n}"}}],
             "expect": {"calls": [{"method": "GET", "path": "/users/${n}"}],
                        "headers": {"Location": "http://localhost/scim/v2/Users/${ada}"},
                        "body": {"id": "${ada}", "meta": {"created": "${:string}"}}}}
        ]));
        assert!(check_captures(&c).is_ok());
        let mut caps = Captures::default();
        caps.insert("n", json!(7));
        let first = answered(201, json!({"id": "5d1e", "meta": {"version": "W/\"1\""}}));
        capture(&c.steps[0].capture, &first, &mut caps).unwrap();
        assert_eq!(caps.get("ada"), Some(&json!("5d1e")));

        let (request, answers) = fill_step(&c.steps[1], &caps).unwrap();
        assert_eq!(request.path, "/Users/5d1e");
        assert_eq!(request.headers["If-Match"], "W/\"1\"");
        assert_eq!(
            request.body,
            Some(json!({"value": {"externalId": "5d1e", "n": 7}}))
        );
        assert_eq!(answers[0].path.as_deref(), Some("/users/7"));
        assert_eq!(answers[0].body, Some(json!({"id": 7, "ref": "u-7"})));

        // The same id, any string for the timestamp: passes.
        let mut second = answered(
            200,
            json!({"id": "5d1e", "meta": {"created": "2026-01-01T00:00:00Z"}}),
        );
        second.calls = vec![call("GET", "/users/7", None)];
        assert_eq!(
            check_step_with(&c.steps[1].expect, &second, &caps),
            Vec::<String>::new()
        );
        // Another id and a number where a string is expected: each a readable line.
        second.answer.body = Some(json!({"id": "9999", "meta": {"created": 17}}));
        second.calls = vec![call("GET", "/users/8", None)];
        assert_eq!(
            check_step_with(&c.steps[1].expect, &second, &caps),
            [
                r#"body.id: expected ${ada} = "5d1e", got "9999""#,
                "body.meta.created: expected any string, got 17",
                "calls differ (expected 1, got 1; - expected only, + got only):\n- GET /users/7\n+ GET /users/8  [default]",
            ]
        );
    }

    #[test]
    fn a_missing_capture_is_a_clear_error_naming_the_step_part_and_name() {
        let c = case(json!([
            {"request": {"method": "GET", "path": "/Users/${bob}"}},
            {"request": {"method": "GET", "path": "/Users"}, "expect": {"calls": [{"method": "GET", "path": "/u/${carol}"}]}},
            {"request": {"method": "GET", "path": "/Users"}, "app_answers": [{"body": {"id": "${:string}"}}]}
        ]));
        let mut caps = Captures::default();
        caps.insert("ada", json!("1"));
        let e = fill_step(&c.steps[0], &caps).unwrap_err();
        assert!(
            e.starts_with(
                "path: `${bob}` is not captured by an earlier step (captured so far: `ada`)"
            ),
            "{e}"
        );
        let e = fill_step(&c.steps[1], &caps).unwrap_err();
        assert!(
            e.starts_with("expect: call 1: `${carol}` is not captured"),
            "{e}"
        );
        let e = fill_step(&c.steps[2], &caps).unwrap_err();
        assert!(
            e.starts_with("app answer 1: `${:string}` matches values in `expect`"),
            "{e}"
        );

        // A pointer that finds nothing names the capture and shows the answer.
        let wanted = BTreeMap::from([("ada".to_string(), "/uid".to_string())]);
        let e = capture(&wanted, &answered(201, json!({"id": "1"})), &mut caps).unwrap_err();
        assert_eq!(
            e,
            r#"capture `ada`: the SCIM answer has nothing at "/uid": {"id":"1"}"#
        );
        let mut no_body = answered(204, json!(null));
        no_body.answer.body = None;
        let e = capture(&wanted, &no_body, &mut caps).unwrap_err();
        assert_eq!(
            e,
            "capture `ada`: the SCIM answer (HTTP 204) has no JSON body"
        );

        // Names and pointers are checked when the case is read.
        for (capture, message) in [
            (
                json!({"a b": "/id"}),
                "step 1: capture `a b`: a capture name is",
            ),
            (
                json!({"ada": "id"}),
                "step 1: capture `ada`: \"id\" is not a JSON pointer",
            ),
        ] {
            let bad =
                case(json!([{"request": {"method": "GET", "path": "/Users"}, "capture": capture}]));
            let e = check_captures(&bad).unwrap_err();
            assert!(e.starts_with(message), "{e}");
        }
    }

    #[test]
    fn literal_text_is_never_read_as_a_placeholder_where_none_is_meant() {
        // `diff` is literal; in cases `$${` writes a literal `${`, and a captured value's own
        // text is compared as is.
        assert!(diffs(json!({"a": "${x}"}), json!({"a": "${x}"}), Match::Subset).is_empty());
        let mut caps = Captures::default();
        caps.insert("x", json!("${y}"));
        let mut out = Vec::new();
        diff_with(
            "body",
            &json!({"a": "$${x}", "b": "${x}"}),
            &json!({"a": "${x}", "b": "${y}"}),
            Match::Subset,
            Some(&caps),
            &mut out,
        );
        assert_eq!(out, Vec::<String>::new());
    }
}
