//! Runtime errors that involve the mapping name the rule (call, attribute rule or hook) in the
//! sidecar's log line, and in the SCIM `detail` only with `server.error_detail = "mapping"`. Run
//! through the real stack against the dry run's fake application, whose log capture holds what
//! the sidecar logged at warning level and above.

use crate::support::temp_dir;
use scim_sidecar::dryrun::{CannedAnswer, DryRun, ScimRequest, Target};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn example_mapping() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/example-app/mapping.toml")
}

fn mapping_detail() -> Vec<(String, String)> {
    vec![(
        "SCIM_SIDECAR__SERVER__ERROR_DETAIL".into(),
        "mapping".into(),
    )]
}

async fn start(mapping: &Path, env: Vec<(String, String)>) -> DryRun {
    Target::from_mapping(mapping, env)
        .unwrap()
        .start()
        .await
        .unwrap()
}

fn request(method: &str, path: &str, body: Option<Value>) -> ScimRequest {
    ScimRequest {
        method: method.into(),
        path: path.into(),
        headers: Default::default(),
        body,
        body_raw: None,
    }
}

fn answer(method: &str, path: &str, status: u16, body: Option<Value>) -> CannedAnswer {
    CannedAnswer {
        method: Some(method.into()),
        path: Some(path.into()),
        status,
        body,
        ..CannedAnswer::default()
    }
}

fn user(status: &str) -> Value {
    json!({"user": {"id": 1, "email": "ada@example.com", "first_name": "Ada", "status": status}})
}

/// `(status, detail, log)` of a GET whose record has a status the value map does not know, and
/// of a deactivation whose suspend call fails with 500.
async fn two_failures(run: &DryRun) -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    let o = run
        .step(
            &request("GET", "/Users/1", None),
            vec![answer(
                "GET",
                "/api/v1/users/1",
                200,
                Some(user("archived")),
            )],
        )
        .await
        .unwrap();
    out.push(o);
    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let o = run
        .step(
            &request("PATCH", "/Users/1", Some(deactivate)),
            vec![
                answer("GET", "/api/v1/users/1", 200, Some(user("active"))),
                answer(
                    "POST",
                    "/api/v1/users/1/suspend",
                    500,
                    Some(json!({"error": "db down"})),
                ),
            ],
        )
        .await
        .unwrap();
    out.push(o);
    out.into_iter()
        .map(|o| {
            let detail = o.answer.body.as_ref().unwrap()["detail"]
                .as_str()
                .unwrap()
                .to_string();
            (o.answer.status, detail, o.log.join("\n"))
        })
        .collect()
}

/// Nothing personal or secret in a log line: no record values, no application body, no key.
fn assert_clean(log: &str) {
    for secret in [
        "ada@example.com",
        "Ada",
        "db down",
        scim_sidecar::dryrun::PLACEHOLDER_SECRET,
    ] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
}

#[tokio::test]
async fn by_default_the_log_names_the_rule_and_the_detail_does_not() {
    let run = start(&example_mapping(), Vec::new()).await;
    let got = two_failures(&run).await;

    let (status, detail, log) = &got[0];
    assert_eq!(*status, 502);
    assert_eq!(detail, "the application's answer did not match the mapping");
    for part in [
        "application error",
        "rule=\"users.attribute\"",
        "attribute=\"active\"",
        "active: the application value at `status` has no entry in `map`",
        "resource=\"User\"",
    ] {
        assert!(log.contains(part), "{part} missing from {log}");
    }
    assert_clean(log);

    let (status, detail, log) = &got[1];
    assert_eq!(*status, 502);
    assert_eq!(detail, "the application failed (HTTP 500)");
    assert!(log.contains("rule=\"users.deactivate\""), "{log}");
    assert!(log.contains("the application failed (HTTP 500)"), "{log}");
    assert_clean(log);
}

#[tokio::test]
async fn with_error_detail_mapping_the_detail_names_the_rule_too() {
    let run = start(&example_mapping(), mapping_detail()).await;
    let got = two_failures(&run).await;
    let (status, detail, log) = &got[0];
    assert_eq!(*status, 502);
    assert_eq!(
        detail,
        "the application's answer did not match the mapping (mapping: users.attribute \"active\")"
    );
    assert!(log.contains("rule=\"users.attribute\""), "{log}");
    let (status, detail, _) = &got[1];
    assert_eq!(*status, 502);
    assert_eq!(
        detail,
        "the application failed (HTTP 500) (mapping: users.deactivate)"
    );
    // Still nothing from the application's body or the record.
    for (_, detail, log) in &got {
        assert_clean(detail);
        assert_clean(log);
    }
}

#[tokio::test]
async fn a_failing_hook_is_named_by_hook_and_only_optionally_in_the_detail() {
    let dir = temp_dir("rule-hook");
    let mapping = dir.join("mapping.toml");
    std::fs::write(
        &mapping,
        scim_sidecar::demo::MAPPING_TOML.replace(
            "secret = { env = \"LEGACY_APP_API_KEY\" }",
            "secret = { value = \"k\" }",
        ),
    )
    .unwrap();
    // `from_app` divides by zero: a script error on every read.
    std::fs::write(
        dir.join("example-app.rhai"),
        "fn to_app(scim, app, ctx) { app }\nfn from_app(app, scim, ctx) { let zero = 0; let x = 1 / zero; scim }\n",
    )
    .unwrap();
    let get = || vec![answer("GET", "/api/v1/users/1", 200, Some(user("active")))];

    let run = start(&mapping, Vec::new()).await;
    let o = run
        .step(&request("GET", "/Users/1", None), get())
        .await
        .unwrap();
    assert_eq!(o.answer.status, 500);
    let detail = o.answer.body.as_ref().unwrap()["detail"].as_str().unwrap();
    assert_eq!(detail, "a mapping script failed");
    let log = o.log.join("\n");
    assert!(log.contains("hook=\"from_app\""), "{log}");
    assert!(
        log.contains("example-app.rhai line=2") && log.contains("resource=\"User\""),
        "{log}"
    );
    assert_clean(&log);

    let run = start(&mapping, mapping_detail()).await;
    let o = run
        .step(&request("GET", "/Users/1", None), get())
        .await
        .unwrap();
    assert_eq!(o.answer.status, 500);
    let detail = o.answer.body.as_ref().unwrap()["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        "a mapping script failed (mapping: users.hooks.from_app)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
