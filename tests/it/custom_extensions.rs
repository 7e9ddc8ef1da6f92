//! Custom extension schemas declared in the mapping (`[[users.extension]]`), end to end against
//! the example application: an Okta-shaped create whose custom attribute becomes the app's
//! `role`, reads, PATCH by path and by a value keyed by the URN, a filter pushed down to the
//! app, the attribute seen by both hooks, and the discovery documents.

use crate::support::*;
use serde_json::{Value, json};

const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

/// Hooks that move `costCenterCode` (declared, handled by no rule) into the app's `department`
/// and back, and give new users without a role the member role.
const SCRIPT: &str = r#"
// Functions see no globals: the URN comes from a function.
fn acme_urn() { "urn:ietf:params:scim:schemas:extension:acme:2.0:User" }

fn to_app(scim, app, ctx) {
    let acme = scim[acme_urn()];
    if type_of(acme) == "map" && type_of(acme["costCenterCode"]) == "string" {
        app.department = "cost center " + acme["costCenterCode"];
    }
    if type_of(app["role"]) != "string" {
        app.role = "member";
    }
    app
}

fn from_app(app, scim, ctx) {
    let d = app["department"];
    if type_of(d) == "string" && d.starts_with("cost center ") {
        let acme = scim[acme_urn()];
        if type_of(acme) != "map" {
            acme = #{};
        }
        acme.costCenterCode = d.sub_string(12);
        scim[acme_urn()] = acme;
    }
    scim
}
"#;

/// The example mapping with the acme extension: `appRole` ↔ `role` (pushed down as `?role=`),
/// `costCenterCode` for the hooks. The enterprise `department` rule is dropped (the hooks own
/// that field here).
fn mapping(dir: &std::path::Path) -> String {
    let script = dir.join("acme.rhai");
    std::fs::write(&script, SCRIPT).unwrap();
    example_mapping_with(&[
        (
            "script = \"example-app.rhai\"",
            &format!(
                "script = {:?}\nscript_attributes = [\"{ACME}:costCenterCode\"]",
                script.display().to_string()
            ),
        ),
        (
            "[[users.attribute]]\nscim = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\"\napp = \"department\"\n",
            &format!(
                r#"[[users.attribute]]
scim = "{ACME}:appRole"
app = "role"

[[users.filter]]
attribute = "{ACME}:appRole"
op = "eq"
query = {{ role = "{{value}}" }}

[[users.extension]]
schema = "{ACME}"
name = "AcmeUser"
description = "Acme's user attributes"

[[users.extension.attribute]]
name = "appRole"
canonical_values = ["admin", "member", "guest"]
description = "The user's role in the app."

[[users.extension.attribute]]
name = "costCenterCode"
case_exact = true
"#
            ),
        ),
    ])
}

async fn harness(label: &str) -> Harness {
    Harness::with_mapping(&mapping(&temp_dir(label)), Env::new()).await
}

/// Okta's create body with the custom extension.
fn okta_acme_user(email: &str, role: &str, cost_center: &str) -> Value {
    let mut u = okta_user(email, "Ada", "Lovelace");
    u["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ACME]);
    u[ACME] = json!({"appRole": role, "costCenterCode": cost_center, "undeclared": "x"});
    u
}

/// The body of the last application call.
fn last_body(h: &Harness) -> Value {
    let requests = h.app.requests();
    let last = requests.last().expect("the application got a call");
    last.body.clone().unwrap_or(Value::Null)
}

#[tokio::test]
async fn okta_create_get_patch_and_filter_on_a_custom_attribute() {
    let h = harness("ext-okta").await;

    // Create: the rule sends appRole as `role`, the hook sends costCenterCode as `department`.
    let a = h
        .post(
            "/Users",
            okta_acme_user("ada@example.com", "admin", "CC-12"),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = id_of(&a.body);
    let sent = last_body(&h);
    assert_eq!(sent["user"]["role"], "admin", "{sent}");
    assert_eq!(sent["user"]["department"], "cost center CC-12", "{sent}");
    assert!(sent.to_string().find("undeclared").is_none(), "{sent}");
    let app_id: u64 = id.parse().unwrap();
    let stored = h.app.user(app_id).unwrap();
    assert_eq!(stored["role"], "admin");
    assert_eq!(stored["department"], "cost center CC-12");
    assert_eq!(
        a.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ACME])
    );
    assert_eq!(
        a.body[ACME],
        json!({"appRole": "admin", "costCenterCode": "CC-12"})
    );
    assert!(
        a.body
            .get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .is_none()
    );

    // GET returns it under the URN key; attributes= and excludedAttributes= select it.
    h.reset();
    let g = h.get(&format!("/Users/{id}")).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body[ACME]["appRole"], "admin");
    assert_eq!(h.calls(), vec![format!("GET /api/v1/users/{id}")]);
    let g = h
        .get(&format!(
            "/Users/{id}?attributes={}",
            enc(&format!("{ACME}:appRole"))
        ))
        .await;
    assert_eq!(g.body[ACME], json!({"appRole": "admin"}), "{}", g.body);
    assert!(g.body.get("userName").is_none());
    let g = h
        .get(&format!("/Users/{id}?excludedAttributes={}", enc(ACME)))
        .await;
    assert!(g.body.get(ACME).is_none(), "{}", g.body);
    assert_eq!(
        g.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );

    // PATCH replace by path (Okta): the app gets the new role; the hook still sends the cost
    // center it reads from the current record.
    h.reset();
    let p = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(
                json!([{"op": "replace", "path": format!("{ACME}:appRole"), "value": "guest"}]),
            ),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.body[ACME]["appRole"], "guest");
    assert_eq!(
        h.calls(),
        vec![
            format!("GET /api/v1/users/{id}"),
            format!("PUT /api/v1/users/{id}")
        ]
    );
    assert_eq!(last_body(&h)["user"]["role"], "guest");
    assert_eq!(h.app.user(app_id).unwrap()["role"], "guest");

    // PATCH without a path, the value keyed by the URN (Entra's shape).
    h.reset();
    let p = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "Replace", "value": {ACME: {"appRole": "member", "costCenterCode": "CC-99"}}}])),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        p.body[ACME],
        json!({"appRole": "member", "costCenterCode": "CC-99"})
    );
    let stored = h.app.user(app_id).unwrap();
    assert_eq!(stored["role"], "member");
    assert_eq!(stored["department"], "cost center CC-99");

    // An undeclared attribute in a PATCH is refused like an unknown core one; nothing is sent.
    h.reset();
    let bad = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(
                json!([{"op": "replace", "path": format!("{ACME}:undeclared"), "value": "x"}]),
            ),
        )
        .await;
    bad.assert_error(400, Some("invalidPath"));
    assert!(
        h.calls().iter().all(|c| c.starts_with("GET ")),
        "{:?}",
        h.calls()
    );

    // A filter on it is pushed down to the app's `?role=` and re-checked by the sidecar.
    h.create("bob@example.com", "Bob", "Builder").await;
    h.reset();
    let f = h
        .get(&format!(
            "/Users?filter={}",
            enc(&format!("{ACME}:appRole eq \"member\""))
        ))
        .await;
    assert_eq!(f.status, 200, "{}", f.body);
    let names: Vec<&str> = f.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["ada@example.com", "bob@example.com"]);
    assert!(
        h.calls()[0].contains("role=member"),
        "not pushed down: {:?}",
        h.calls()
    );
    let f = h
        .get(&format!(
            "/Users?filter={}",
            enc(&format!("{ACME}:costCenterCode eq \"cc-99\""))
        ))
        .await;
    // costCenterCode is declared case-exact.
    assert_eq!(f.body["totalResults"], 0, "{}", f.body);
    let f = h
        .get(&format!(
            "/Users?filter={}",
            enc(&format!("{ACME}:costCenterCode eq \"CC-99\""))
        ))
        .await;
    assert_eq!(f.body["totalResults"], 1, "{}", f.body);
    h.stop().await;
}

#[tokio::test]
async fn without_the_extension_the_hook_decides() {
    let h = harness("ext-absent").await;
    let mut u = okta_user("grace@example.com", "Grace", "Hopper");
    // A flattened key for an undeclared schema is ignored, as before.
    u["urn:example:other:1.0:User:x"] = json!("y");
    let a = h.post("/Users", u).await;
    assert_eq!(a.status, 201, "{}", a.body);
    // The hook's default role; no department.
    let sent = last_body(&h);
    assert_eq!(sent["user"]["role"], "member");
    assert!(sent["user"].get("department").is_none_or(Value::is_null));
    // The app's role reads back as appRole, so the extension is present and listed.
    assert_eq!(a.body[ACME], json!({"appRole": "member"}));
    assert_eq!(
        a.body["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ACME])
    );
    // Removing the whole extension clears `role` in the rules; the hook gives the member role
    // back, so the record would not change and nothing is written.
    let id: u64 = id_of(&a.body).parse().unwrap();
    h.reset();
    let p = h
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "remove", "path": ACME}])),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(h.calls(), vec![format!("GET /api/v1/users/{id}")]);
    assert_eq!(p.body[ACME], json!({"appRole": "member"}));
    assert_eq!(h.app.user(id).unwrap()["role"], "member");
    h.stop().await;
}

#[tokio::test]
async fn discovery_documents_advertise_the_declared_extension() {
    let h = harness("ext-discovery").await;
    let rt = h.get("/ResourceTypes/User").await;
    assert_eq!(rt.status, 200);
    let exts = rt.body["schemaExtensions"].as_array().unwrap();
    assert_eq!(
        exts,
        &vec![
            json!({"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": false}),
            json!({"schema": ACME, "required": false}),
        ]
    );
    let s = h.get(&format!("/Schemas/{ACME}")).await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["id"], ACME);
    assert_eq!(s.body["name"], "AcmeUser");
    assert_eq!(s.body["description"], "Acme's user attributes");
    let attrs = s.body["attributes"].as_array().unwrap();
    let names: Vec<&str> = attrs.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["appRole", "costCenterCode"]);
    assert_eq!(
        attrs[0]["canonicalValues"],
        json!(["admin", "member", "guest"])
    );
    assert_eq!(attrs[0]["caseExact"], false);
    assert_eq!(attrs[1]["caseExact"], true);
    assert_eq!(attrs[1]["type"], "string");
    let all = h.get("/Schemas").await;
    let ids: Vec<&str> = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&ACME), "{ids:?}");
    // An unknown schema URN is still a 404.
    h.get("/Schemas/urn:example:nothing:1.0:User")
        .await
        .assert_error(404, None);
    h.stop().await;
}
