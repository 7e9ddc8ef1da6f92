//! A mapping whose deactivation deletes the application record (`deactivation = "delete"`,
//! minted ids): the sidecar keeps the SCIM user (readable, listed, filterable, `active: false`)
//! and reactivation re-creates the record under the same SCIM id.

use crate::support::{Env, Harness, delete_mapping_text, enc, id_of, okta_user, patch_op};
use serde_json::{Value, json};

async fn start() -> Harness {
    Harness::with_mapping(&delete_mapping_text(), Env::new()).await
}

fn deactivate() -> Value {
    patch_op(json!([{"op": "replace", "value": {"active": false}}]))
}

fn reactivate() -> Value {
    patch_op(json!([{"op": "replace", "value": {"active": true}}]))
}

/// Creates Ada and deactivates her; returns her SCIM id with the app's requests cleared.
async fn parked_ada(h: &Harness) -> String {
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let id = id_of(&created);
    let a = h.patch(&format!("/Users/{id}"), deactivate()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        !h.app
            .users()
            .iter()
            .any(|u| u["email"] == "ada@example.com"),
        "the record is deleted"
    );
    h.reset();
    id
}

fn assert_uuid(id: &str) {
    assert!(uuid::Uuid::parse_str(id).is_ok(), "not a minted id: {id}");
}

#[tokio::test]
async fn deactivation_deletes_the_record_and_get_still_answers() {
    let h = start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let id = id_of(&created);
    assert_uuid(&id);
    assert_eq!(created["active"], true);
    let path = format!("/Users/{id}");

    let a = h.patch(&path, deactivate()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], id);
    assert_eq!(a.body["active"], false);
    assert_eq!(a.body["userName"], "ada@example.com");
    assert_eq!(a.body["name"]["familyName"], "Lovelace");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "DELETE /api/v1/users/1001"]
    );
    assert!(h.app.users().is_empty());

    // Readable from the sidecar alone.
    h.reset();
    let got = h.get(&path).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["id"], id);
    assert_eq!(got.body["active"], false);
    assert_eq!(got.body["userName"], "ada@example.com");
    assert_eq!(got.body["externalId"], created["externalId"]);
    assert!(h.calls().is_empty(), "{:?}", h.calls());

    // Deactivating again changes nothing and calls nothing.
    let again = h.patch(&path, deactivate()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["active"], false);
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.stop().await;
}

#[tokio::test]
async fn a_parked_user_is_listed_and_filterable() {
    let h = start().await;
    h.app.seed(2);
    let id = parked_ada(&h).await;

    let list = h.get("/Users?startIndex=1&count=100").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["totalResults"], 3);
    assert_eq!(list.body["itemsPerPage"], 3);
    let resources = list.body["Resources"].as_array().unwrap();
    assert_eq!(resources[2]["id"], id);
    assert_eq!(resources[2]["active"], false);
    assert!(resources[..2].iter().all(|r| r["active"] == true));
    assert_eq!(h.calls(), ["GET /api/v1/users?page=1&per_page=100"]);

    // The pre-check finds it (case-insensitively), so a re-assignment does not create a twin.
    for name in ["ada@example.com", "ADA@example.com"] {
        h.reset();
        let a = h
            .get(&format!(
                "/Users?filter={}&startIndex=1&count=100",
                enc(&format!("userName eq \"{name}\""))
            ))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["totalResults"], 1, "{name}: {}", a.body);
        assert_eq!(a.body["Resources"][0]["id"], id);
        assert_eq!(a.body["Resources"][0]["active"], false);
        // Known from the create: the cached id names the parked user, no application call.
        assert!(h.calls().is_empty(), "{name}: {:?}", h.calls());
    }

    h.reset();
    let inactive = h
        .get(&format!("/Users?filter={}", enc("active eq false")))
        .await;
    assert_eq!(inactive.status, 200, "{}", inactive.body);
    assert_eq!(inactive.body["totalResults"], 1);
    assert_eq!(inactive.body["Resources"][0]["id"], id);
    assert_eq!(h.calls(), ["GET /api/v1/users?page=1&per_page=100"]);
    h.stop().await;
}

#[tokio::test]
async fn a_parked_user_is_found_by_user_name_without_the_cache() {
    let h = Harness::with_mapping(
        &delete_mapping_text(),
        vec![("SCIM_SIDECAR__CACHE__MAX_ENTRIES".into(), "0".into())],
    )
    .await;
    let id = parked_ada(&h).await;
    let a = h
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"ada@example.com\"")
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(a.body["Resources"][0]["id"], id);
    assert_eq!(a.body["Resources"][0]["active"], false);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users?email=ada%40example.com&page=1&per_page=100"]
    );
    h.stop().await;
}

#[tokio::test]
async fn reactivation_recreates_the_record_under_the_same_scim_id() {
    let h = start().await;
    let id = parked_ada(&h).await;
    let path = format!("/Users/{id}");

    let a = h.patch(&path, reactivate()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], id, "the SCIM id survives");
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body["userName"], "ada@example.com");
    assert_eq!(a.body["name"]["givenName"], "Ada");
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    let user = h.app.requests()[0].body.clone().unwrap()["user"].clone();
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["role"], "member");
    let users = h.app.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["id"], 1002, "a new application record");

    // The id now names the new record.
    h.reset();
    let got = h.get(&path).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["id"], id);
    assert_eq!(got.body["active"], true);
    assert_eq!(h.calls(), ["GET /api/v1/users/1002"]);

    // And a second deactivation deletes that record.
    h.reset();
    let a = h.patch(&path, deactivate()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["active"], false);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1002", "DELETE /api/v1/users/1002"]
    );
    let list = h.get("/Users").await;
    assert_eq!(list.body["totalResults"], 1, "no twin: {}", list.body);
    h.stop().await;
}

#[tokio::test]
async fn put_with_active_false_deletes_and_put_with_active_true_recreates() {
    let h = start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let id = id_of(&created);
    let path = format!("/Users/{id}");
    let mut body = created.clone();
    body["active"] = json!(false);
    let a = h.put(&path, body.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["active"], false);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "DELETE /api/v1/users/1001"]
    );

    h.reset();
    body["active"] = json!(true);
    body["name"]["familyName"] = json!("King");
    let a = h.put(&path, body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], id);
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body["name"]["familyName"], "King");
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    assert_eq!(h.app.user(1002).unwrap()["last_name"], "King");
    h.stop().await;
}

#[tokio::test]
async fn deleting_a_parked_user_forgets_it_without_an_app_call() {
    let h = start().await;
    let id = parked_ada(&h).await;
    let path = format!("/Users/{id}");
    let a = h.delete(&path).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.get(&path).await.assert_error(404, None);
    h.delete(&path).await.assert_error(404, None);
    let list = h.get("/Users").await;
    assert_eq!(list.body["totalResults"], 0, "{}", list.body);
    h.stop().await;
}

#[tokio::test]
async fn a_user_created_inactive_is_only_parked() {
    let h = start().await;
    let mut body = okta_user("ada@example.com", "Ada", "Lovelace");
    body["active"] = json!(false);
    let a = h.post("/Users", body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["active"], false);
    let id = id_of(&a.body);
    assert_uuid(&id);
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert!(h.app.users().is_empty());
    let got = h.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["active"], false);
    h.stop().await;
}
