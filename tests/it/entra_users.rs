//! Microsoft Entra ID's dialects, as SCIM-CLIENTS.md describes them, against the example
//! application: its create body (enterprise extension, nulls, `roles: []`), capitalised PATCH ops
//! with paths, the newer path-less ops with dotted and URN keys, string booleans, filters on its
//! matching attributes, test connection, hard delete, its query flag and `Accept` headers.

use crate::support::{Harness, TOKEN, enc, id_of, patch_op};
use http::Method;
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Entra's create body.
fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ENTERPRISE
        ],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "displayName": "Ada Lovelace",
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "title": null,
        "preferredLanguage": null,
        "roles": [],
        ENTERPRISE: {"department": "Research", "employeeNumber": null}
    })
}

/// Headers as Entra sends them: its own `Accept`, SCIM bodies, its version header.
fn entra_headers(auth: &str) -> Vec<(&str, &str)> {
    vec![
        ("authorization", auth),
        ("accept", "application/json"),
        ("content-type", "application/scim+json; charset=utf-8"),
        ("adscimversion", "2020"),
        ("user-agent", "Azure Active Directory SCIM Client"),
    ]
}

async fn entra_create(h: &Harness, user_name: &str, external_id: &str) -> Value {
    let a = h.post("/Users", entra_user(user_name, external_id)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    h.reset();
    a.body
}

fn filter(expr: &str) -> String {
    format!("/Users?filter={}", enc(expr))
}

#[tokio::test]
async fn create_with_enterprise_extension_nulls_and_empty_roles() {
    let h = Harness::start().await;
    let a = h
        .post("/Users", entra_user("ada@contoso.example", "ext-ada"))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["userName"], "ada@contoso.example");
    assert_eq!(a.body["externalId"], "ext-ada");
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body[ENTERPRISE]["department"], "Research");
    assert!(
        a.body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE)),
        "{}",
        a.body
    );
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    let sent = h.app.requests()[0].body.clone().unwrap();
    assert_eq!(sent["user"]["email"], "ada@contoso.example");
    assert_eq!(sent["user"]["first_name"], "Ada");
    assert_eq!(sent["user"]["last_name"], "Lovelace");
    assert_eq!(sent["user"]["department"], "Research");
    assert_eq!(sent["user"]["role"], "member");
    assert_eq!(h.app.user(1001).unwrap()["department"], "Research");
    h.stop().await;
}

#[tokio::test]
async fn capitalised_ops_with_paths_in_one_request() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .patch(
            &path,
            patch_op(json!([
                {"op": "Replace", "path": "name.familyName", "value": "Byron"},
                {"op": "Add", "path": format!("{ENTERPRISE}:department"), "value": "Engineering"},
                {"op": "Replace", "path": "locale", "value": "en-GB"}
            ])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], "1001");
    assert_eq!(a.body["name"]["familyName"], "Byron");
    assert_eq!(a.body["name"]["givenName"], "Ada");
    assert_eq!(a.body["locale"], "en-GB");
    assert_eq!(a.body[ENTERPRISE]["department"], "Engineering");
    // One read, one full-record PUT carrying all three changes.
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    let user = h.app.requests()[1].body.clone().unwrap()["user"].clone();
    assert_eq!(user["email"], "ada@contoso.example");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Byron");
    assert_eq!(user["department"], "Engineering");
    assert_eq!(user["locale"], "en-GB");
    assert_eq!(user["role"], "member");
    let stored = h.app.user(1001).unwrap();
    assert_eq!(stored["last_name"], "Byron");
    assert_eq!(stored["department"], "Engineering");
    assert_eq!(stored["role"], "member");
    h.stop().await;
}

#[tokio::test]
async fn work_email_value_path_is_applied_and_read_back() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .patch(
            &path,
            patch_op(json!([{
                "op": "Replace",
                "path": "emails[type eq \"work\"].value",
                "value": "ada.work@contoso.example"
            }])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let work: Vec<&Value> = a.body["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "work")
        .collect();
    assert_eq!(work.len(), 1, "{}", a.body);
    assert_eq!(work[0]["value"], "ada.work@contoso.example");
    // userName is the application's login and did not change.
    assert_eq!(a.body["userName"], "ada@contoso.example");
    assert_eq!(h.app.user(1001).unwrap()["email"], "ada@contoso.example");
    // The e-mails are kept by the sidecar: no application write.
    assert!(
        h.calls().iter().all(|c| c == "GET /api/v1/users/1001"),
        "{:?}",
        h.calls()
    );
    let got = h.get(&path).await;
    assert_eq!(got.body["emails"], a.body["emails"]);
    h.stop().await;
}

#[tokio::test]
async fn changing_only_kept_attributes_costs_one_read() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .patch(
            &path,
            patch_op(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@contoso.example"},
                {"op": "Replace", "path": "externalId", "value": "ext-ada-2"}
            ])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["externalId"], "ext-ada-2");
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    h.stop().await;
}

#[tokio::test]
async fn pathless_op_with_dotted_and_urn_keys() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .patch(
            &path,
            patch_op(json!([{"op": "replace", "value": {
                "name.givenName": "Augusta",
                format!("{ENTERPRISE}:employeeNumber"): "7"
            }}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["givenName"], "Augusta");
    assert_eq!(a.body["name"]["familyName"], "Lovelace");
    assert_eq!(a.body[ENTERPRISE]["employeeNumber"], "7");
    assert_eq!(a.body[ENTERPRISE]["department"], "Research");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    let user = h.app.requests()[1].body.clone().unwrap()["user"].clone();
    assert_eq!(user["first_name"], "Augusta");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["employee_number"], "7");
    assert_eq!(user["department"], "Research");
    h.stop().await;
}

#[tokio::test]
async fn several_ops_on_one_attribute_apply_in_order() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .patch(
            &path,
            patch_op(json!([
                {"op": "Replace", "path": "name.givenName", "value": "A"},
                {"op": "Replace", "path": "name.givenName", "value": "Augusta"}
            ])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["givenName"], "Augusta");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    assert_eq!(h.app.user(1001).unwrap()["first_name"], "Augusta");
    h.stop().await;
}

#[tokio::test]
async fn string_booleans_disable_and_enable_and_the_user_stays_listed() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .patch(
            &path,
            patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["active"], false);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "POST /api/v1/users/1001/suspend"]
    );
    assert_eq!(h.app.user(1001).unwrap()["status"], "suspended");

    // Still readable, listed and found by its matching attribute.
    h.reset();
    let list = h.get("/Users").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["totalResults"], 1);
    assert_eq!(list.body["Resources"][0]["active"], false);
    assert_eq!(h.calls(), ["GET /api/v1/users?page=1&per_page=100"]);
    let found = h.get(&filter("userName eq \"ada@contoso.example\"")).await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["active"], false);

    h.reset();
    let a = h
        .patch(
            &path,
            patch_op(json!([{"op": "Replace", "path": "active", "value": "True"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["active"], true);
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/users/1001",
            "POST /api/v1/users/1001/unsuspend"
        ]
    );
    // The newer dialect: a real boolean.
    h.reset();
    let a = h
        .patch(
            &path,
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(a.body["active"], false);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "POST /api/v1/users/1001/suspend"]
    );
    h.stop().await;
}

#[tokio::test]
async fn filter_on_the_work_email() {
    let h = Harness::start().await;
    h.app.seed(2);
    entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let a = h
        .get(&filter(
            "emails[type eq \"work\"].value eq \"ada@contoso.example\"",
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["Resources"][0]["id"], "1003");
    assert_eq!(a.body["Resources"][0]["userName"], "ada@contoso.example");
    // Evaluated by the sidecar: one listing of the application's users.
    assert_eq!(h.calls(), ["GET /api/v1/users?page=1&per_page=100"]);

    h.reset();
    let miss = h
        .get(&filter(
            "emails[type eq \"work\"].value eq \"nobody@contoso.example\"",
        ))
        .await;
    assert_eq!(miss.status, 200, "{}", miss.body);
    assert_eq!(miss.body["totalResults"], 0);
    assert_eq!(miss.body["Resources"], json!([]));
    h.stop().await;
}

async fn external_id_filter(h: &Harness) {
    entra_create(h, "ada@contoso.example", "ext-ADA-1").await;
    let a = h.get(&filter("externalId eq \"ext-ADA-1\"")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["Resources"][0]["id"], "1001");
    assert_eq!(a.body["Resources"][0]["externalId"], "ext-ADA-1");
    // The sidecar keeps externalId: it names the record, which is read by id.
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);

    // externalId is case-exact; absence costs no application call.
    for missing in ["ext-ada-1", "ext-other"] {
        h.reset();
        let a = h
            .get(&filter(&format!("externalId eq \"{missing}\"")))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["totalResults"], 0, "{missing}");
        assert_eq!(a.body["Resources"], json!([]));
        assert!(h.calls().is_empty(), "{missing}: {:?}", h.calls());
    }
}

#[tokio::test]
async fn external_id_filter_uses_the_kept_attribute() {
    let h = Harness::start().await;
    external_id_filter(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn external_id_filter_without_the_cache() {
    let h = Harness::with_mapping(
        &crate::support::example_mapping_text(),
        vec![("SCIM_SIDECAR__CACHE__MAX_ENTRIES".into(), "0".into())],
    )
    .await;
    external_id_filter(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn test_connection_with_a_random_guid_is_an_empty_200() {
    let h = Harness::start().await;
    h.app.seed(3);
    let guid = "0f3c6a52-9d1e-4a3b-8c7d-2e5f6a7b8c9d";
    let a = h.get(&filter(&format!("userName eq \"{guid}\""))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0);
    assert_eq!(a.body["Resources"], json!([]));
    assert_eq!(
        h.calls(),
        [format!(
            "GET /api/v1/users?email={guid}&page=1&per_page=100"
        )]
    );
    h.stop().await;
}

#[tokio::test]
async fn hard_delete_then_404_for_get_and_second_delete() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h.delete(&path).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(a.body, Value::Null);
    assert_eq!(h.calls(), ["DELETE /api/v1/users/1001"]);
    assert!(h.app.users().is_empty());

    h.reset();
    h.get(&path).await.assert_error(404, None);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    h.reset();
    h.delete(&path).await.assert_error(404, None);
    assert_eq!(h.calls(), ["DELETE /api/v1/users/1001"]);

    // Neither found by its old userName nor by its externalId any more.
    let by_name = h.get(&filter("userName eq \"ada@contoso.example\"")).await;
    assert_eq!(by_name.body["totalResults"], 0, "{}", by_name.body);
    let by_ext = h.get(&filter("externalId eq \"ext-ada\"")).await;
    assert_eq!(by_ext.body["totalResults"], 0, "{}", by_ext.body);
    h.stop().await;
}

#[tokio::test]
async fn unknown_query_parameter_is_ignored() {
    let h = Harness::start().await;
    let created = entra_create(&h, "ada@contoso.example", "ext-ada").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .get(&format!(
            "/Users?aadOptscim062020&filter={}",
            enc("userName eq \"ada@contoso.example\"")
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    let a = h.get(&format!("{path}?aadOptscim062020")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], "1001");
    h.reset();
    let a = h
        .patch(
            &format!("{path}?aadOptscim062020=true"),
            patch_op(json!([{"op": "Replace", "path": "name.givenName", "value": "Augusta"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["givenName"], "Augusta");
    // The flag never reaches the application.
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    h.stop().await;
}

#[tokio::test]
async fn accept_not_naming_scim_is_answered_as_scim() {
    let h = Harness::start().await;
    let auth = format!("Bearer {TOKEN}");
    let body = serde_json::to_vec(&entra_user("ada@contoso.example", "ext-ada")).unwrap();
    let a = h
        .send(Method::POST, "/Users", &entra_headers(&auth), Some(body))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        a.header("content-type")
            .unwrap()
            .starts_with("application/scim+json"),
        "{:?}",
        a.header("content-type")
    );
    for accept in ["application/json", "*/*", "text/html", "application/xml"] {
        let headers = [("authorization", auth.as_str()), ("accept", accept)];
        let a = h.send(Method::GET, "/Users/1001", &headers, None).await;
        assert_eq!(a.status, 200, "{accept}: {}", a.body);
        assert!(
            a.header("content-type")
                .unwrap()
                .starts_with("application/scim+json"),
            "{accept}"
        );
        assert_eq!(a.body["userName"], "ada@contoso.example");
    }
    // A plain JSON body (Okta's own test suite sends one) is as good as a SCIM one.
    h.reset();
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let patch = patch_op(json!([{"op": "Replace", "path": "name.givenName", "value": "Augusta"}]));
    let a = h
        .send(
            Method::PATCH,
            "/Users/1001",
            &headers,
            Some(serde_json::to_vec(&patch).unwrap()),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["givenName"], "Augusta");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    h.stop().await;
}
