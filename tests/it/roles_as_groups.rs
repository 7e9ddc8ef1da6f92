//! "Group push sets the role": `mappings/example-app/roles-as-groups.toml` maps SCIM groups to
//! the example application's fixed roles. Membership is the user's single `role` field, and a
//! Rhai hook gives each role the name of the IdP group linked to it.

use crate::support::*;
use serde_json::json;

const ROLES_MAPPING: &str = include_str!("../../mappings/example-app/roles-as-groups.toml");

async fn start() -> Harness {
    let text = ROLES_MAPPING.replace(
        "secret = { env = \"LEGACY_APP_API_KEY\" }",
        &format!("secret = {{ value = \"{API_KEY}\" }}"),
    );
    Harness::with_mapping(&text, Env::new()).await
}

#[tokio::test]
async fn linking_a_group_and_pushing_members_sets_their_role() {
    let h = start().await;
    let ada = id_of(&h.create("ada@example.com", "Ada", "Lovelace").await);
    let bob = id_of(&h.create("bob@example.com", "Bob", "Byte").await);
    let app_id = |id: &str| id.parse::<u64>().unwrap();
    assert_eq!(h.app.user(app_id(&ada)).unwrap()["role"], "member");

    // Okta "Link Group": the hook's name for the admin role, found by the sidecar over 3 roles.
    let filter = enc("displayName eq \"example admins\"");
    let found = h
        .get(&format!("/Groups?filter={filter}&startIndex=1&count=100"))
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["totalResults"], 1);
    let group = &found.body["Resources"][0];
    assert_eq!(group["id"], "admin");
    assert_eq!(group["displayName"], "Example Admins");
    // The role list, then the members of the one match only (the answer shows members).
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/roles",
            "GET /api/v1/users?role=admin&page=1&per_page=100"
        ]
    );
    h.reset();

    // Push members: each one's role becomes admin (read the users, write each back whole).
    let add = patch_op(json!([{"op": "add", "path": "members",
        "value": [{"value": ada, "display": "ada@example.com"}, {"value": bob}]}]));
    let a = h.patch("/Groups/admin", add).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.app.user(app_id(&ada)).unwrap()["role"], "admin");
    assert_eq!(h.app.user(app_id(&bob)).unwrap()["role"], "admin");
    let calls = h.calls();
    assert_eq!(
        calls,
        [
            "GET /api/v1/roles/admin".to_string(),
            "GET /api/v1/users?role=admin&page=1&per_page=100".into(),
            format!("GET /api/v1/users/{ada}"),
            format!("GET /api/v1/users/{bob}"),
            format!("PUT /api/v1/users/{ada}"),
            format!("PUT /api/v1/users/{bob}"),
        ]
    );
    h.reset();

    // The group lists them, and each user's read-only `groups` names the group for free.
    let g = h.get("/Groups/admin").await;
    let values: Vec<&str> = g.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, [ada.as_str(), bob.as_str()]);
    h.reset();
    let u = h.get(&format!("/Users/{ada}")).await;
    assert_eq!(u.body["groups"][0]["value"], "admin");
    assert_eq!(u.body["groups"][0]["display"], "Example Admins");
    assert_eq!(h.calls(), [format!("GET /api/v1/users/{ada}")]);
    h.reset();

    // Re-adding a member writes nothing; removing one sets the default role back.
    let again = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": ada}]}]));
    assert_eq!(h.patch("/Groups/admin", again).await.status, 204);
    assert!(
        h.calls().iter().all(|c| c.starts_with("GET ")),
        "{:?}",
        h.calls()
    );
    h.reset();
    let remove =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]));
    assert_eq!(h.patch("/Groups/admin", remove).await.status, 204);
    assert_eq!(h.app.user(app_id(&bob)).unwrap()["role"], "member");
    assert_eq!(h.app.user(app_id(&ada)).unwrap()["role"], "admin");
    h.stop().await;
}

#[tokio::test]
async fn roles_cannot_be_created_renamed_or_deleted() {
    let h = start().await;
    let created = h
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Eng", "members": []}),
        )
        .await;
    created.assert_error(501, None);
    let deleted = h.delete("/Groups/admin").await;
    deleted.assert_error(501, None);
    // A rename touches only a read-only attribute: nothing is sent to the application.
    h.reset();
    let rename =
        patch_op(json!([{"op": "replace", "value": {"id": "admin", "displayName": "Admins"}}]));
    let a = h.patch("/Groups/admin", rename).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), ["GET /api/v1/roles/admin"]);
    assert!(h.get("/Groups/nobody").await.status == 404);
    h.stop().await;
}
