//! Mapping test cases and dry runs: every shipped mapping's `cases/` pass; a broken case is
//! reported with a diff (so the runner can fail); `explain` and `test-mapping` work as commands;
//! a dry run never calls the real application and never shows its secret.

use crate::support::{API_KEY, example_mapping_text, mapping_dir, temp_dir};
use scim_sidecar::dryrun::cases::{self, default_cases_dir};
use scim_sidecar::dryrun::{CannedAnswer, ScimRequest, Target, explain};
use scim_sidecar::example_app;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every mapping file under `mappings/` (`mappings/*/*.toml`, and the cookbook's
/// `mappings/cookbook/*/mapping.toml`) that has a cases folder.
fn mappings_with_cases() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "cases") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "toml")
                && default_cases_dir(&path).is_dir()
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"),
        &mut out,
    );
    out.sort();
    out
}

#[tokio::test]
async fn every_shipped_mapping_passes_its_cases() {
    let mappings = mappings_with_cases();
    for shipped in [
        "example-app/mapping.toml",
        "example-app/roles-as-groups.toml",
        "json-server/mapping.toml",
        "tutorial/mapping.toml",
        "cookbook/default-role/mapping.toml",
        "cookbook/role-from-attribute/mapping.toml",
        "cookbook/status-string/mapping.toml",
        "cookbook/deactivate-by-delete/mapping.toml",
        "cookbook/immutable-email/mapping.toml",
        "cookbook/wrapped-bodies/mapping.toml",
        "cookbook/substring-search/mapping.toml",
        "cookbook/conflict-422/mapping.toml",
        "cookbook/reject-with-message/mapping.toml",
    ] {
        assert!(
            mappings.iter().any(|m| m.ends_with(shipped)),
            "{shipped} has no cases: {mappings:?}"
        );
    }
    for mapping in mappings {
        let target = Target::from_mapping(&mapping, Vec::new())
            .unwrap_or_else(|p| panic!("{}:\n{}", mapping.display(), p.join("\n")));
        let report = cases::run_dir(&target, &default_cases_dir(&mapping))
            .await
            .unwrap();
        assert_eq!(report.failed(), 0, "\n{}", report.render());
        assert!(report.cases.len() >= 2, "{}", report.render());
    }
}

/// Every code block of `mappings/README.md` marked `<!-- file: PATH -->` is a verbatim part of
/// that file under `mappings/`: what the tutorial and the cookbook show is what `cargo test` runs.
#[test]
fn readme_snippets_are_parts_of_real_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut checked = 0;
    for part in readme.split("<!-- file: ").skip(1) {
        let (path, rest) = part.split_once(" -->").expect("a closed marker");
        let fence = rest.find("```").expect("a code block after the marker");
        assert!(
            rest[..fence].trim().is_empty(),
            "the marker for {path} is not right before a code block"
        );
        let code = &rest[fence..];
        let start = code.find('\n').unwrap() + 1;
        let len = code[start..].find("```").unwrap();
        let snippet = &code[start..start + len];
        let file =
            std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            file.contains(snippet),
            "this snippet is not part of mappings/{path}:\n{snippet}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} marked snippets");
}

/// A shipped case with its expectations changed, in a folder of its own.
fn broken_cases_dir() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mappings/example-app/cases/deactivate-and-reactivate.json");
    let mut case: Value = serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
    let step = &mut case["steps"][0]["expect"];
    step["status"] = json!(204);
    step["body"]["userName"] = json!("ada@example.org");
    step["calls"][1]["path"] = json!("/api/v1/users/1001/deactivate");
    let dir = temp_dir("broken-case");
    std::fs::write(dir.join("broken.json"), case.to_string()).unwrap();
    // And one that is not even a case.
    std::fs::write(
        dir.join("typo.json"),
        r#"{"steps": [{"request": {"method": "GET", "path": "/Users"}, "expect": {"stauts": 200}}]}"#,
    )
    .unwrap();
    dir
}

fn example_mapping() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/example-app/mapping.toml")
}

#[tokio::test]
async fn a_broken_case_is_reported_with_a_diff() {
    let dir = broken_cases_dir();
    let target = Target::from_mapping(&example_mapping(), Vec::new()).unwrap();
    let report = cases::run_dir(&target, &dir).await.unwrap();
    assert_eq!(
        (report.passed(), report.failed()),
        (0, 2),
        "{}",
        report.render()
    );
    let broken = &report.cases[0];
    assert_eq!(broken.name, "broken");
    assert_eq!(
        broken.failures,
        [
            "step 1 (PATCH /Users/1001): status: expected 204, got 200",
            r#"step 1 (PATCH /Users/1001): body.userName: expected "ada@example.org", got "ada@example.com""#,
            "step 1 (PATCH /Users/1001): calls differ (expected 2, got 2; - expected only, + got only):\n  \
             GET /api/v1/users/1001\n\
             - POST /api/v1/users/1001/deactivate\n\
             + POST /api/v1/users/1001/suspend  [canned answer 2 (POST /api/v1/users/1001/suspend)]",
        ]
    );
    let typo = &report.cases[1];
    assert_eq!(typo.failures.len(), 1);
    assert!(
        typo.failures[0].contains("unknown field `stauts`"),
        "{:?}",
        typo.failures
    );
    let text = report.render();
    assert!(text.contains("FAIL  broken"), "{text}");
    assert!(text.contains("0 passed, 2 failed"), "{text}");
}

#[tokio::test]
async fn a_missing_or_empty_cases_folder_is_an_error() {
    let target = Target::from_mapping(&example_mapping(), Vec::new()).unwrap();
    let empty = temp_dir("no-cases");
    let e = cases::run_dir(&target, &empty).await.unwrap_err();
    assert!(e.contains("no *.json cases"), "{e}");
    let e = cases::run_dir(&target, &empty.join("nope"))
        .await
        .unwrap_err();
    assert!(e.contains("cannot read the cases folder"), "{e}");
}

/// A config in a temp folder: the example mapping with an inline secret, pointed at `app_url`.
fn config_for(app_url: &str) -> PathBuf {
    let dir = mapping_dir("explain", &example_mapping_text());
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\ntokens = [{{ env = \"SCIM_IT_TOKEN_THAT_IS_NOT_SET\" }}]\n\
             [mapping]\nfile = \"mapping.toml\"\n[app]\nbase_url = \"{app_url}/legacy\"\n"
        ),
    )
    .unwrap();
    config
}

#[tokio::test]
async fn a_dry_run_never_calls_the_real_application_nor_shows_its_secret() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let real = example_app::start(listener, API_KEY.to_string()).await;
    let target = Target::from_config(&config_for(&real.base_url()), Vec::new())
        .unwrap_or_else(|p| panic!("{}", p.join("\n")));
    assert!(!target.mapping.placeholder_secret);
    let run = target.start().await.unwrap();
    let input = explain::Input {
        steps: vec![
            (
                ScimRequest {
                    method: "post".into(),
                    path: "/Users".into(),
                    headers: Default::default(),
                    body: Some(
                        json!({"userName": "ada@example.com", "name": {"givenName": "Ada"}}),
                    ),
                    body_raw: None,
                },
                vec![],
            ),
            (
                ScimRequest {
                    method: "GET".into(),
                    path: "/Users/7".into(),
                    headers: Default::default(),
                    body: None,
                    body_raw: None,
                },
                vec![CannedAnswer {
                    method: Some("GET".into()),
                    path: Some("/api/v1/users/7".into()),
                    body: Some(
                        json!({"user": {"id": 7, "email": "x@example.com", "status": "active"}}),
                    ),
                    ..CannedAnswer::default()
                }],
            ),
        ],
        captures: Vec::new(),
    };
    let outcomes = explain::run(&run, &input).await.unwrap();
    assert!(
        real.requests().is_empty(),
        "the real application was called"
    );

    // Step 1: the default create answer echoes the record with id 1.
    let create = &outcomes[0];
    assert_eq!(create.answer.status, 201);
    assert_eq!(create.calls.len(), 1);
    assert_eq!(create.calls[0].line(), "POST /api/v1/users");
    assert_eq!(create.calls[0].header("x-api-key"), Some("***"));
    assert_eq!(create.answer.body.as_ref().unwrap()["id"], "1");
    // Step 2: the canned answer.
    assert_eq!(outcomes[1].answer.status, 200);
    assert_eq!(
        outcomes[1].answer.body.as_ref().unwrap()["userName"],
        "x@example.com"
    );

    let text = explain::render_text(&run, &outcomes);
    let json = explain::render_json(&run, &outcomes).to_string();
    for out in [&text, &json] {
        assert!(!out.contains(API_KEY), "secret shown:\n{out}");
        // The real URL (with the base URL's path prefix), not the fake application's.
        assert!(
            out.contains(&format!("{}/legacy/api/v1/users", real.base_url())),
            "{out}"
        );
    }
    assert!(text.contains("x-api-key: ***"), "{text}");
    assert!(text.contains("SCIM answer: 201 Created"), "{text}");
    real.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_reports_what_cannot_run() {
    let target = Target::from_mapping(&example_mapping(), Vec::new()).unwrap();
    let run = target.start().await.unwrap();
    let bad = |method: &str, body_raw: Option<&str>, body: Option<Value>| ScimRequest {
        method: method.into(),
        path: "/Users".into(),
        headers: Default::default(),
        body,
        body_raw: body_raw.map(str::to_string),
    };
    let e = run
        .step(&bad("NOT A METHOD", None, None), vec![])
        .await
        .unwrap_err();
    assert!(e.contains("not an HTTP method"), "{e}");
    let e = run
        .step(&bad("POST", Some("{"), Some(json!({}))), vec![])
        .await
        .unwrap_err();
    assert!(e.contains("not both"), "{e}");
    let bad_answer = CannedAnswer {
        status: 42,
        ..CannedAnswer::default()
    };
    let e = run
        .step(&bad("GET", None, None), vec![bad_answer])
        .await
        .unwrap_err();
    assert!(e.starts_with("app answer 1:"), "{e}");
    // Invalid JSON is the sidecar's to answer: a SCIM 400, no application call.
    let o = run
        .step(&bad("POST", Some("{"), None), vec![])
        .await
        .unwrap();
    assert_eq!(o.answer.status, 400);
    assert!(o.calls.is_empty());
}

#[tokio::test]
async fn a_mapping_with_problems_is_reported_as_validate_reports_it() {
    let text = example_mapping_text().replace(
        "path = \"/api/v1/users/{id}\"",
        "path = \"/api/v1/users/{user_id}\"",
    );
    let dir = mapping_dir("bad-mapping", &text);
    let problems = Target::from_mapping(&dir.join("mapping.toml"), Vec::new())
        .err()
        .expect("refused");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("users.get.path: unknown variable {user_id}")),
        "{problems:?}"
    );
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
}

#[test]
fn the_commands_exit_with_the_outcome() {
    let ok = binary()
        .args(["test-mapping", "--mapping"])
        .arg(example_mapping())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains(" failed ("), "{stdout}");

    let failing = binary()
        .args(["test-mapping", "--mapping"])
        .arg(example_mapping())
        .arg("--cases")
        .arg(broken_cases_dir())
        .output()
        .unwrap();
    assert_eq!(failing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&failing.stdout).contains("- POST /api/v1/users/1001/deactivate")
    );

    let explained = binary()
        .args(["explain", "--json", "--mapping"])
        .arg(example_mapping())
        .args(["--method", "DELETE", "--path", "/Users/5"])
        .output()
        .unwrap();
    assert!(
        explained.status.success(),
        "{}",
        String::from_utf8_lossy(&explained.stderr)
    );
    let out: Value = serde_json::from_slice(&explained.stdout).unwrap();
    assert_eq!(out["steps"][0]["calls"][0]["path"], "/api/v1/users/5");
    assert_eq!(out["steps"][0]["answer"]["status"], 204);

    let refused = binary()
        .args(["explain", "--mapping"])
        .arg(example_mapping())
        .args(["--path", "/Users", "--body", "{not json"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--body is not valid JSON"));
}

#[tokio::test]
async fn mapping_errors_name_the_rule_in_the_log_and_not_in_the_detail() {
    let target = Target::from_mapping(&example_mapping(), Vec::new()).unwrap();
    let run = target.start().await.unwrap();
    let request = ScimRequest {
        method: "GET".into(),
        path: "/Users/1".into(),
        headers: Default::default(),
        body: None,
        body_raw: None,
    };
    let archived = CannedAnswer {
        path: Some("/api/v1/users/1".into()),
        body: Some(json!({"user": {"id": 1, "email": "a@example.com", "status": "archived"}})),
        ..CannedAnswer::default()
    };
    let o = run.step(&request, vec![archived]).await.unwrap();
    assert_eq!(o.answer.status, 502);
    let detail = o.answer.body.as_ref().unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !detail.contains("status") && !detail.contains("active"),
        "{detail}"
    );
    assert_eq!(o.log.len(), 1, "{:?}", o.log);
    let line = &o.log[0];
    for part in [
        "active: the application value at `status` has no entry in `map`",
        "operation=\"get\"",
        "resource=\"User\"",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    let text = explain::render_text(&run, &[o]);
    assert!(text.contains("Sidecar log:"), "{text}");

    // A clean request logs nothing at warning level.
    let ok = CannedAnswer {
        path: Some("/api/v1/users/1".into()),
        body: Some(json!({"user": {"id": 1, "email": "a@example.com", "status": "active"}})),
        ..CannedAnswer::default()
    };
    let o = run.step(&request, vec![ok]).await.unwrap();
    assert_eq!(o.answer.status, 200);
    assert!(o.log.is_empty(), "{:?}", o.log);
}

/// `[[….errors]]` entries through the whole stack: an entry's own status, `scimType` and
/// `detail` (never the application's text), a 429 with the application's `Retry-After`, and
/// the number-based translation when no entry matches.
#[tokio::test]
async fn error_entries_answer_as_the_mapping_says() {
    let dir = temp_dir("error-entries");
    std::fs::write(
        dir.join("mapping.toml"),
        r#"
version = 1
[app]
base_url = "http://127.0.0.1:3000"
[users.get]
path = "/users/{id}"
[users.list]
path = "/users"
[users.create]
path = "/users"
[[users.create.errors]]
status = 422
field = "error.code"
equals = "seats"
scim_status = 403
detail = "No seats left in the application."
[[users.create.errors]]
status = 400
body_contains = "slow down"
scim_status = 429
[[users.attribute]]
scim = "userName"
app = "email"
"#,
    )
    .unwrap();
    let target = Target::from_mapping(&dir.join("mapping.toml"), Vec::new())
        .unwrap_or_else(|p| panic!("{}", p.join("\n")));
    let run = target.start().await.unwrap();
    let create = ScimRequest {
        method: "POST".into(),
        path: "/Users".into(),
        headers: Default::default(),
        body: Some(json!({"userName": "ada@example.com"})),
        body_raw: None,
    };
    let answer = |status, body: Value, headers: &[(&str, &str)]| {
        vec![CannedAnswer {
            method: Some("POST".into()),
            path: Some("/users".into()),
            status,
            body: Some(body),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..CannedAnswer::default()
        }]
    };

    let seats = json!({"error": {"code": "seats", "message": "Plan SECRET-PLAN is full"}});
    let out = run.step(&create, answer(422, seats, &[])).await.unwrap();
    assert_eq!(out.answer.status, 403, "{:?}", out.answer);
    let body = out.answer.body.clone().unwrap();
    assert_eq!(body["detail"], "No seats left in the application.");
    assert!(body.get("scimType").is_none(), "{body}");
    assert!(!body.to_string().contains("SECRET-PLAN"), "{body}");
    assert_eq!(out.calls.len(), 1, "sent once: {:?}", out.calls);
    // The log names the entry that decided (the detail does not, by default).
    assert!(
        out.log.iter().any(|l| l.contains("users.create.errors[1]")),
        "{:?}",
        out.log
    );

    let slow = json!({"message": "Slow down, please"});
    let out = run
        .step(&create, answer(400, slow, &[("Retry-After", "12")]))
        .await
        .unwrap();
    assert_eq!(out.answer.status, 429, "{:?}", out.answer);
    assert!(
        out.answer
            .headers
            .contains(&("retry-after".into(), "12".into())),
        "{:?}",
        out.answer.headers
    );

    // No entry matches: a 422 is a 400 as always, and a 400 without the text too.
    let other = json!({"error": {"code": "invalid", "message": "SECRET-TEXT"}});
    let out = run.step(&create, answer(422, other, &[])).await.unwrap();
    assert_eq!(out.answer.status, 400);
    let body = out.answer.body.clone().unwrap();
    assert_eq!(body["scimType"], "invalidValue");
    assert!(!body.to_string().contains("SECRET-TEXT"), "{body}");
    let out = run
        .step(&create, answer(400, json!({"message": "bad"}), &[]))
        .await
        .unwrap();
    assert_eq!(out.answer.status, 400);
}

/// A case using captured values that no longer matches is reported with readable lines, the
/// step shown as written (`/Users/${ada}`), and a missing capture names the step and the name.
#[tokio::test]
async fn a_broken_capture_case_is_reported_with_a_diff() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/cookbook/deactivate-by-delete");
    let mut case: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("cases/deactivate-and-reactivate.json")).unwrap(),
    )
    .unwrap();
    case["steps"][3]["expect"]["body"]["id"] = json!("${:number}");
    let dir = temp_dir("capture-cases");
    std::fs::write(dir.join("a-wrong-kind.json"), case.to_string()).unwrap();
    case["steps"][1]["request"]["path"] = json!("/Users/${bob}");
    std::fs::write(dir.join("b-missing.json"), case.to_string()).unwrap();

    let target = Target::from_mapping(&root.join("mapping.toml"), Vec::new()).unwrap();
    let report = cases::run_dir(&target, &dir).await.unwrap();
    assert_eq!(report.failed(), 2, "{}", report.render());
    let wrong = &report.cases[0].failures;
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(
        wrong[0].starts_with("step 4 (PATCH /Users/${ada}): body.id: expected any number, got \""),
        "{wrong:?}"
    );
    assert_eq!(
        report.cases[1].failures,
        [
            "step 2 (PATCH /Users/${bob}): path: `${bob}` is not captured by an earlier step \
             (captured so far: `ada`); add `\"capture\": {\"bob\": \"/id\"}` (a JSON pointer into \
             the SCIM answer) to the step that returns it"
        ]
    );
}
