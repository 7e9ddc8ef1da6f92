//! A PATCH that only changes `active` under `deactivation = "endpoint"` runs `to_app` once
//! instead of twice when the script cannot see `active` (src/mapping/hook_reads.rs). These
//! tests pin what must not change with that shortcut: the application calls, the answer, a
//! hook that does read `active` still shaping an update call, and a hook refusal still
//! refusing.

use crate::support::*;
use serde_json::json;

/// The example mapping running `script` (written to a fresh folder) instead of the shipped one.
fn with_script(label: &str, script: &str) -> String {
    let dir = temp_dir(label);
    let path = dir.join("hooks.rhai");
    std::fs::write(&path, script).unwrap();
    example_mapping_with(&[(
        "script = \"example-app.rhai\"",
        &format!("script = {:?}", path.display().to_string()),
    )])
}

fn deactivate() -> serde_json::Value {
    patch_op(json!([{"op": "replace", "value": {"active": false}}]))
}

#[tokio::test]
async fn okta_deactivate_sends_the_same_calls_and_answers_what_a_read_shows() {
    let h = Harness::start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let path = format!("/Users/{}", id_of(&created));
    h.reset();

    let a = h.patch(&path, deactivate()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "POST /api/v1/users/1001/suspend"]
    );
    assert_eq!(h.app.requests()[1].body, None);
    let stored = h.app.user(1001).unwrap();
    assert_eq!(stored["status"], "suspended");
    assert_eq!(stored["role"], "member");
    assert_eq!(stored["display_name"], "Ada Lovelace");

    // The answer is the resource as a read shows it afterwards, field for field.
    let got = h.get(&path).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(a.body, got.body);
    assert_eq!(a.body["active"], false);
    assert_eq!(a.body["emails"], created["emails"]);
    assert_eq!(a.body["externalId"], created["externalId"]);

    // The same PATCH again changes nothing: no suspend call.
    h.reset();
    let again = h.patch(&path, deactivate()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    assert_eq!(again.body, got.body);
    h.stop().await;
}

#[tokio::test]
async fn a_hook_that_reads_active_still_shapes_the_update() {
    // `active` is handled by the suspend endpoint, but this hook writes it into a field: the
    // payloads differ, so the update call must go out as before.
    let script = r#"
fn to_app(scim, app, ctx) {
    app.role = "member";
    if scim.active == false { app.department = "left"; } else { app.department = "here"; }
    app
}
fn from_app(app, scim, ctx) { scim }
"#;
    let h = Harness::with_mapping(&with_script("reads-active", script), Env::new()).await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let path = format!("/Users/{}", id_of(&created));
    assert_eq!(h.app.user(1001).unwrap()["department"], "here");
    h.reset();

    let a = h.patch(&path, deactivate()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/users/1001",
            "PUT /api/v1/users/1001",
            "POST /api/v1/users/1001/suspend"
        ]
    );
    let put = h.app.requests()[1].body.clone().unwrap();
    assert_eq!(put["user"]["department"], "left");
    let stored = h.app.user(1001).unwrap();
    assert_eq!(stored["department"], "left");
    assert_eq!(stored["status"], "suspended");
    assert_eq!(a.body["active"], false);
    h.stop().await;
}

#[tokio::test]
async fn a_hook_refusal_still_refuses_a_deactivation() {
    // The hook cannot see `active`, so it runs once, on the current user: its refusal stands.
    let script = r#"
fn to_app(scim, app, ctx) {
    if ctx.operation == "update" && scim.userName.ends_with("@frozen.example") {
        reject(400, "mutability", "frozen users cannot change");
    }
    app.role = "member";
    app
}
fn from_app(app, scim, ctx) { scim }
"#;
    let h = Harness::with_mapping(&with_script("refuses", script), Env::new()).await;
    let frozen = h.create("fay@frozen.example", "Fay", "Frost").await;
    let ok = h.create("ada@example.com", "Ada", "Lovelace").await;
    h.reset();

    let a = h
        .patch(&format!("/Users/{}", id_of(&frozen)), deactivate())
        .await;
    a.assert_error(400, Some("mutability"));
    assert!(a.body["detail"].as_str().unwrap().contains("frozen"));
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    assert_eq!(h.app.user(1001).unwrap()["status"], "active");

    // Everyone else is deactivated as usual.
    h.reset();
    let b = h
        .patch(&format!("/Users/{}", id_of(&ok)), deactivate())
        .await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1002", "POST /api/v1/users/1002/suspend"]
    );
    assert_eq!(h.app.user(1002).unwrap()["status"], "suspended");
    h.stop().await;
}
