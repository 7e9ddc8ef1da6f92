//! Okta's user lifecycle, as SCIM-CLIENTS.md describes it, against the example application
//! through the shipped mapping: test credentials, pre-check, create, duplicate, read, profile
//! update, deactivate/reactivate, password sync, import paging, and the cost of each in
//! application calls.

use crate::support::{Harness, enc, id_of, okta_user, patch_op};
use serde_json::{Value, json};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn precheck(user_name: &str) -> String {
    format!(
        "/Users?filter={}&startIndex=1&count=100",
        enc(&format!("userName eq \"{user_name}\""))
    )
}

/// The password must never appear anywhere in a SCIM answer.
fn assert_no_password(body: &Value) {
    let text = body.to_string();
    assert!(
        !text.contains("password") && !text.contains("Pa55"),
        "password echoed: {text}"
    );
}

#[tokio::test]
async fn test_credentials_answer_a_list_response_with_integers() {
    let h = Harness::start().await;
    for (email, given, family) in [
        ("ada@example.com", "Ada", "Lovelace"),
        ("grace@example.com", "Grace", "Hopper"),
        ("edsger@example.com", "Edsger", "Dijkstra"),
    ] {
        h.create(email, given, family).await;
    }
    let a = h.get("/Users?startIndex=1&count=2").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.header("content-type")
            .unwrap()
            .starts_with("application/scim+json")
    );
    assert_eq!(a.body["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(a.body["totalResults"], json!(3));
    assert_eq!(a.body["startIndex"], json!(1));
    assert_eq!(a.body["itemsPerPage"], json!(2));
    let resources = a.body["Resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    // What Okta's spec test checks on the first resource.
    let first = &resources[0];
    assert_eq!(first["id"], "1001");
    assert_eq!(first["userName"], "ada@example.com");
    assert_eq!(first["name"]["givenName"], "Ada");
    assert_eq!(first["name"]["familyName"], "Lovelace");
    assert_eq!(first["active"], true);
    assert_eq!(first["emails"][0]["value"], "ada@example.com");
    assert_no_password(first);
    assert_eq!(resources[1]["id"], "1002");
    assert_eq!(h.calls(), ["GET /api/v1/users?page=1&per_page=100"]);
    h.stop().await;
}

#[tokio::test]
async fn users_created_in_the_app_are_listed_with_their_email() {
    let h = Harness::start().await;
    h.app.seed(2);
    let a = h.get("/Users?startIndex=1&count=2").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let first = &a.body["Resources"][0];
    assert_eq!(first["userName"], "user1@example.com");
    assert_eq!(first["name"]["givenName"], "User");
    assert_eq!(first["name"]["familyName"], "1");
    assert_eq!(first["active"], true);
    assert_eq!(first["emails"][0]["value"], "user1@example.com", "{first}");
    assert_eq!(h.calls(), ["GET /api/v1/users?page=1&per_page=100"]);
    h.stop().await;
}

#[tokio::test]
async fn precheck_accepts_plus_and_percent20_spaces_and_ignores_case() {
    let h = Harness::start().await;
    h.app.seed(2);
    // Spaces as `+`: a cache miss, answered by the application's e-mail search.
    let a = h
        .get("/Users?filter=userName+eq+%22user2%40example.com%22&startIndex=1&count=100")
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["itemsPerPage"], 1);
    assert_eq!(a.body["Resources"][0]["id"], "1002");
    assert_eq!(a.body["Resources"][0]["userName"], "user2@example.com");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users?email=user2%40example.com&page=1&per_page=100"]
    );

    // Spaces as `%20`, same user: the id is cached, one read by id.
    h.reset();
    let a = h
        .get("/Users?filter=userName%20eq%20%22user2%40example.com%22&startIndex=1&count=100")
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["Resources"][0]["id"], "1002");
    assert_eq!(h.calls(), ["GET /api/v1/users/1002"]);

    // Different case, cached: still found, userName as the application stores it.
    h.reset();
    let a = h.get(&precheck("USER2@Example.COM")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["Resources"][0]["userName"], "user2@example.com");
    assert_eq!(h.calls(), ["GET /api/v1/users/1002"]);

    // Different case, not cached: the search is sent as written; the sidecar's check ignores case.
    h.reset();
    let a = h.get(&precheck("User1@EXAMPLE.com")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["Resources"][0]["id"], "1001");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users?email=User1%40EXAMPLE.com&page=1&per_page=100"]
    );
    h.stop().await;
}

#[tokio::test]
async fn precheck_without_a_match_is_an_empty_200_every_time() {
    let h = Harness::start().await;
    h.app.seed(2);
    for _ in 0..2 {
        h.reset();
        let a = h.get(&precheck("nobody@example.com")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["schemas"], json!([LIST_RESPONSE]));
        assert_eq!(a.body["totalResults"], json!(0));
        assert_eq!(a.body["itemsPerPage"], json!(0));
        assert_eq!(a.body["startIndex"], json!(1));
        assert_eq!(a.body["Resources"], json!([]));
        // Absence is never cached: each pre-check asks the application again.
        assert_eq!(
            h.calls(),
            ["GET /api/v1/users?email=nobody%40example.com&page=1&per_page=100"]
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn assign_user_precheck_then_create_costs_two_app_calls() {
    let h = Harness::start().await;
    let user_name = "Ada.Lovelace@Example.com";
    let miss = h.get(&precheck(user_name)).await;
    assert_eq!(miss.status, 200);
    assert_eq!(miss.body["totalResults"], 0);

    let a = h
        .post("/Users", okta_user(user_name, "Ada", "Lovelace"))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = id_of(&a.body);
    assert_eq!(id, "1001");
    assert_eq!(a.body["userName"], user_name, "userName exactly as sent");
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body["name"]["givenName"], "Ada");
    assert_eq!(a.body["name"]["familyName"], "Lovelace");
    assert_eq!(a.body["emails"][0]["value"], user_name);
    assert_eq!(a.body["displayName"], "Ada Lovelace");
    assert_eq!(
        a.body["externalId"],
        okta_user(user_name, "", "")["externalId"]
    );
    assert_eq!(a.body["meta"]["resourceType"], "User");
    let location = a.body["meta"]["location"].as_str().unwrap();
    assert!(location.ends_with("/Users/1001"), "{location}");
    assert_eq!(a.header("location"), Some(location));
    assert_no_password(&a.body);

    let seen = h.app.requests();
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/users?email=Ada.Lovelace%40Example.com&page=1&per_page=100",
            "POST /api/v1/users",
        ]
    );
    let sent = seen[1].body.clone().unwrap();
    let user = sent["user"].as_object().unwrap();
    assert_eq!(user["email"], user_name);
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["locale"], "en-US");
    assert_eq!(user["role"], "member", "the script's default role");
    assert_eq!(user["display_name"], "Ada Lovelace");
    assert!(!sent.to_string().contains("Pa55"), "password sent: {sent}");
    assert!(
        !user.contains_key("id") && !user.contains_key("status"),
        "{sent}"
    );
    assert_eq!(seen[1].header("x-api-key"), Some(crate::support::API_KEY));
    assert_eq!(seen[1].header("content-type"), Some("application/json"));

    // Stable: read back and found by the next pre-check under the same id.
    h.reset();
    let got = h.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["id"], "1001");
    assert_eq!(got.body["userName"], user_name);
    assert_eq!(got.body["externalId"], a.body["externalId"]);
    assert_no_password(&got.body);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    let again = h.get(&precheck(user_name)).await;
    assert_eq!(again.body["totalResults"], 1);
    assert_eq!(again.body["Resources"][0]["id"], "1001");
    h.stop().await;
}

#[tokio::test]
async fn duplicate_create_is_409_uniqueness() {
    let h = Harness::start().await;
    h.create("ada@example.com", "Ada", "Lovelace").await;
    let a = h
        .post("/Users", okta_user("ADA@example.com", "Ada", "Lovelace"))
        .await;
    a.assert_error(409, Some("uniqueness"));
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    assert_eq!(h.app.users().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn unknown_id_is_a_scim_404() {
    let h = Harness::start().await;
    let a = h.get("/Users/4242").await;
    a.assert_error(404, None);
    assert_eq!(h.calls(), ["GET /api/v1/users/4242"]);
    h.stop().await;
}

#[tokio::test]
async fn profile_update_put_with_echoed_id_meta_groups_password() {
    let h = Harness::start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let id = id_of(&created);
    let read = h.get(&format!("/Users/{id}")).await;
    assert_eq!(read.status, 200);
    h.reset();

    // What Okta sends: the body it read, plus changes, plus what it always echoes.
    let mut body = read.body.clone();
    body["name"]["familyName"] = json!("King");
    body["meta"]["created"] = json!("2024-01-05 10:00:00");
    body["meta"]["lastModified"] = json!("not a date");
    body["groups"] = json!([{"value": "00g1", "display": "Eng"}]);
    body["password"] = json!("Okta-Random-Pa55word!");
    let a = h.put(&format!("/Users/{id}"), body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], id);
    assert_eq!(a.body["name"]["familyName"], "King");
    assert_eq!(a.body["name"]["givenName"], "Ada");
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body["externalId"], created["externalId"]);
    assert_no_password(&a.body);

    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    // The PUT carries the full record (the application nulls anything not sent).
    let sent = h.app.requests()[1].body.clone().unwrap();
    let user = &sent["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "King");
    assert_eq!(user["role"], "member");
    assert_eq!(user["locale"], "en-US");
    assert!(!sent.to_string().contains("Pa55"), "password sent: {sent}");
    let stored = h.app.user(1001).unwrap();
    assert_eq!(stored["last_name"], "King");
    assert_eq!(stored["role"], "member");
    assert_eq!(stored["locale"], "en-US");
    h.stop().await;
}

#[tokio::test]
async fn put_with_active_false_suspends_without_a_put() {
    // Okta's AIW deactivates with a PUT of the user it read, with active:false.
    let h = Harness::start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let id = id_of(&created);
    let mut body = created.clone();
    body["active"] = json!(false);
    let a = h.put(&format!("/Users/{id}"), body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["active"], false);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "POST /api/v1/users/1001/suspend"]
    );
    assert_eq!(h.app.user(1001).unwrap()["status"], "suspended");
    h.stop().await;
}

#[tokio::test]
async fn deactivate_then_reactivate_keeps_the_user_and_its_id() {
    let h = Harness::start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let id = id_of(&created);
    let path = format!("/Users/{id}");

    let a = h
        .patch(
            &path,
            patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], id);
    assert_eq!(a.body["active"], false);
    assert_eq!(a.body["userName"], "ada@example.com");
    // At most two application calls: read, suspend.
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "POST /api/v1/users/1001/suspend"]
    );
    assert_eq!(h.app.requests()[1].body, None);
    assert_eq!(h.app.user(1001).unwrap()["status"], "suspended");

    // Still readable, and found by a re-assignment's pre-check.
    h.reset();
    let got = h.get(&path).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["active"], false);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    let found = h.get(&precheck("ada@example.com")).await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["active"], false);

    h.reset();
    let a = h
        .patch(
            &path,
            patch_op(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], id);
    assert_eq!(a.body["active"], true);
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/users/1001",
            "POST /api/v1/users/1001/unsuspend"
        ]
    );
    assert_eq!(h.app.user(1001).unwrap()["status"], "active");
    assert_eq!(h.app.users().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn password_sync_is_accepted_not_echoed_and_not_sent() {
    let h = Harness::start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let path = format!("/Users/{}", id_of(&created));
    for op in [
        json!({"op": "replace", "value": {"password": "New-Pa55word!"}}),
        json!({"op": "replace", "path": "password", "value": "New-Pa55word!"}),
    ] {
        h.reset();
        let a = h.patch(&path, patch_op(json!([op]))).await;
        assert_eq!(a.status, 200, "{op}: {}", a.body);
        assert_eq!(a.body["id"], "1001");
        assert_eq!(a.body["userName"], "ada@example.com");
        assert_no_password(&a.body);
        // The application stores no passwords: one read, no write.
        assert_eq!(h.calls(), ["GET /api/v1/users/1001"], "{op}");
    }
    h.stop().await;
}

#[tokio::test]
async fn import_pages_through_250_users_in_a_stable_order() {
    let h = Harness::start().await;
    let ids = h.app.seed(250);
    let mut seen: Vec<String> = Vec::new();
    for (page, (start, expected)) in [(1, 100), (101, 100), (201, 50)].into_iter().enumerate() {
        h.reset();
        let a = h.get(&format!("/Users?startIndex={start}&count=100")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["totalResults"], json!(250));
        assert_eq!(a.body["startIndex"], json!(start));
        assert_eq!(a.body["itemsPerPage"], json!(expected));
        let resources = a.body["Resources"].as_array().unwrap();
        assert_eq!(resources.len(), expected);
        seen.extend(resources.iter().map(id_of));
        assert_eq!(
            h.calls(),
            [format!("GET /api/v1/users?page={}&per_page=100", page + 1)]
        );
    }
    let expected: Vec<String> = ids.iter().map(u64::to_string).collect();
    assert_eq!(
        seen, expected,
        "same order as the application, no duplicates, none missing"
    );

    // Past the end: an empty page, still with the total.
    let a = h.get("/Users?startIndex=251&count=100").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["totalResults"], 250);
    assert_eq!(a.body["itemsPerPage"], 0);
    assert_eq!(a.body["Resources"], json!([]));
    h.stop().await;
}

#[tokio::test]
async fn noop_patch_makes_no_write_call() {
    let h = Harness::start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let path = format!("/Users/{}", id_of(&created));
    for ops in [
        json!([]),
        json!([{"op": "replace", "path": "name.givenName", "value": "Ada"}]),
        json!([{"op": "replace", "value": {"active": true}}]),
        json!([{"op": "Replace", "path": "userName", "value": "ada@example.com"}]),
    ] {
        h.reset();
        let a = h.patch(&path, patch_op(ops.clone())).await;
        assert_eq!(a.status, 200, "{ops}: {}", a.body);
        assert_eq!(a.body["name"]["givenName"], "Ada");
        assert_eq!(a.body["active"], true);
        assert_eq!(h.calls(), ["GET /api/v1/users/1001"], "{ops}");
    }
    h.stop().await;
}

#[tokio::test]
async fn user_type_sets_the_role_and_a_blocked_domain_never_reaches_the_app() {
    let h = Harness::start().await;
    let mut body = okta_user("grace@example.com", "Grace", "Hopper");
    body["userType"] = json!("Administrator");
    let a = h.post("/Users", body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    assert_eq!(
        h.app.requests()[0].body.as_ref().unwrap()["user"]["role"],
        "admin"
    );
    assert_eq!(h.app.user(1001).unwrap()["role"], "admin");

    h.reset();
    let a = h
        .post("/Users", okta_user("eve@blocked.example", "Eve", "Blocked"))
        .await;
    a.assert_error(400, Some("invalidValue"));
    assert!(
        a.body["detail"]
            .as_str()
            .unwrap()
            .contains("blocked.example"),
        "{}",
        a.body
    );
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert_eq!(h.app.users().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_renamed_user_is_found_under_the_new_user_name_only() {
    let h = Harness::start().await;
    let created = h.create("ada@example.com", "Ada", "Lovelace").await;
    let path = format!("/Users/{}", id_of(&created));
    let a = h
        .patch(
            &path,
            patch_op(
                json!([{"op": "replace", "path": "userName", "value": "ada.king@example.com"}]),
            ),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["userName"], "ada.king@example.com");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    assert_eq!(
        h.app.requests()[1].body.as_ref().unwrap()["user"]["email"],
        "ada.king@example.com"
    );

    h.reset();
    let old = h.get(&precheck("ada@example.com")).await;
    assert_eq!(old.status, 200);
    assert_eq!(old.body["totalResults"], 0, "{}", old.body);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users?email=ada%40example.com&page=1&per_page=100"]
    );
    h.reset();
    let new = h.get(&precheck("ada.king@example.com")).await;
    assert_eq!(new.body["totalResults"], 1, "{}", new.body);
    assert_eq!(new.body["Resources"][0]["id"], "1001");
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    h.stop().await;
}

#[tokio::test]
async fn renaming_onto_an_existing_user_name_is_409() {
    let h = Harness::start().await;
    h.create("ada@example.com", "Ada", "Lovelace").await;
    let grace = h.create("grace@example.com", "Grace", "Hopper").await;
    let mut body = grace.clone();
    body["userName"] = json!("ADA@example.com");
    let a = h.put(&format!("/Users/{}", id_of(&grace)), body).await;
    a.assert_error(409, Some("uniqueness"));
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1002", "PUT /api/v1/users/1002"]
    );
    assert_eq!(h.app.user(1002).unwrap()["email"], "grace@example.com");
    h.stop().await;
}
