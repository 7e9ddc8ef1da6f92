//! What the mapping's `[groups]` section changes outside the group flows: `/Groups` and the
//! discovery documents with and without it, `members[].display` from the members listing, and
//! a user's read-only `groups` when membership is a user attribute.

use crate::support::{
    Env, Harness, Model, id_of, member_values, okta_group, patch_op, with_members_section,
    without_groups_text,
};
use serde_json::{Value, json};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The names of the resources in a ListResponse (`name` of each).
fn names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// The attribute named `name` in a schema document.
fn attribute<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
}

fn sub_names(attr: &Value) -> Vec<String> {
    attr["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn without_groups_the_endpoint_is_a_scim_404_and_not_advertised() {
    let h = Harness::with_mapping(&without_groups_text(), Env::new()).await;
    for (method, path, body) in [
        (http::Method::GET, "/Groups", None),
        (http::Method::GET, "/Groups/501", None),
        (http::Method::POST, "/Groups", Some(okta_group("Eng", &[]))),
        (http::Method::DELETE, "/Groups/501", None),
    ] {
        let a = h.scim(method.clone(), path, body).await;
        a.assert_error(404, None);
        assert!(
            a.body["detail"].as_str().unwrap().contains("/Groups"),
            "{method} {path}: {}",
            a.body
        );
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());

    let rt = h.get("/ResourceTypes").await;
    assert_eq!(rt.status, 200, "{}", rt.body);
    assert_eq!(names(&rt.body), ["User"]);
    assert_eq!(rt.body["totalResults"], 1);
    h.get("/ResourceTypes/Group").await.assert_error(404, None);
    let schemas = h.get("/Schemas").await;
    assert!(
        !schemas.body.to_string().contains(GROUP_SCHEMA),
        "{}",
        schemas.body
    );
    h.get(&format!("/Schemas/{GROUP_SCHEMA}"))
        .await
        .assert_error(404, None);
    // Users are still served, without a `groups` attribute.
    let user = h.create("ada@example.com", "Ada", "Lovelace").await;
    assert!(user.get("groups").is_none(), "{user}");
    h.stop().await;
}

#[tokio::test]
async fn with_groups_discovery_advertises_group_and_its_members() {
    for model in Model::ALL {
        let h = Harness::for_model(model).await;
        let rt = h.get("/ResourceTypes").await;
        assert_eq!(rt.status, 200, "{}", rt.body);
        assert_eq!(names(&rt.body), ["User", "Group"], "{model:?}");
        let group = h.get("/ResourceTypes/Group").await;
        assert_eq!(group.status, 200, "{}", group.body);
        assert_eq!(group.body["endpoint"], "/Groups");
        assert_eq!(group.body["schema"], GROUP_SCHEMA);

        let schema = h.get(&format!("/Schemas/{GROUP_SCHEMA}")).await;
        assert_eq!(schema.status, 200, "{}", schema.body);
        assert!(
            attribute(&schema.body, "displayName").is_some(),
            "{model:?}"
        );
        let members = attribute(&schema.body, "members")
            .unwrap_or_else(|| panic!("{model:?}: no members in {}", schema.body));
        assert_eq!(members["multiValued"], true);
        let mut subs = sub_names(members);
        subs.sort();
        assert_eq!(subs, ["$ref", "display", "type", "value"], "{model:?}");
        let all = h.get("/Schemas").await;
        assert!(all.body.to_string().contains(GROUP_SCHEMA), "{model:?}");

        // A user's `groups` is advertised (read-only) only where it is filled: the user
        // attribute model.
        let user = h.get(&format!("/Schemas/{USER_SCHEMA}")).await;
        let groups = attribute(&user.body, "groups");
        assert_eq!(groups.is_some(), model == Model::UserAttribute, "{model:?}");
        if let Some(groups) = groups {
            assert_eq!(groups["mutability"], "readOnly");
        }
        let spc = h.get("/ServiceProviderConfig").await;
        assert_eq!(spc.body["patch"]["supported"], true);
        assert!(h.calls().is_empty(), "{model:?}: {:?}", h.calls());
        h.stop().await;
    }
}

#[tokio::test]
async fn member_display_from_the_listing_costs_no_extra_call() {
    let mapping = crate::support::example_mapping_with(&[(
        "model = \"endpoints\"\n",
        "model = \"endpoints\"\ndisplay = true\nitem_display = \"email\"\n",
    )]);
    let h = Harness::with_mapping(&mapping, Env::new()).await;
    // Users the sidecar has never seen: their names can only come from the listing.
    let ids = h.app.seed(2);
    let team = h.app.seed_team("Eng", &ids);
    let a = h.get(&format!("/Groups/{team}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["members"],
        json!([
            {"value": "1001", "display": "user1@example.com", "type": "User",
             "$ref": format!("{}/Users/1001", h.base)},
            {"value": "1002", "display": "user2@example.com", "type": "User",
             "$ref": format!("{}/Users/1002", h.base)},
        ])
    );
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/teams/501",
            "GET /api/v1/teams/501/members?page=1&per_page=100"
        ]
    );

    // A member added by PATCH is shown with its userName (read once to check it exists).
    let more = h.app.seed(1);
    h.reset();
    let a = h
        .patch(
            "/Groups/501?attributes=members",
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "1003"}]}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(more, [1003]);
    assert_eq!(
        a.body["members"][2]["display"], "user3@example.com",
        "{}",
        a.body
    );
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/teams/501",
            "GET /api/v1/teams/501/members?page=1&per_page=100",
            "GET /api/v1/users/1003",
            "POST /api/v1/teams/501/members"
        ]
    );

    // The shipped setting (display off) leaves it out.
    let plain = Harness::start().await;
    let ids = plain.app.seed(1);
    plain.app.seed_team("Eng", &ids);
    let a = plain.get("/Groups/501").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["members"][0].get("display").is_none(), "{}", a.body);
    plain.stop().await;
    h.stop().await;
}

#[tokio::test]
async fn user_attribute_model_fills_a_users_read_only_groups() {
    let h = Harness::for_model(Model::UserAttribute).await;
    let ada = h.create("ada@example.com", "Ada", "Lovelace").await;
    let id = id_of(&ada);
    assert!(ada.get("groups").is_none(), "no teams yet: {ada}");
    let a = h.post("/Groups", okta_group("Eng", &[&id])).await;
    assert_eq!(a.status, 201, "{}", a.body);
    // A team made in the application, never seen by the sidecar.
    h.app.seed_team("Ops", &[1001]);

    h.reset();
    let got = h.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(
        got.body["groups"],
        json!([
            {"value": "501", "display": "Eng", "type": "direct",
             "$ref": format!("{}/Groups/501", h.base)},
            {"value": "502", "type": "direct", "$ref": format!("{}/Groups/502", h.base)},
        ])
    );
    // Free: it is in the user record.
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);

    // Listed users carry it too.
    let list = h.get("/Users?startIndex=1&count=10").await;
    assert_eq!(list.body["Resources"][0]["groups"][0]["value"], "501");

    // Read-only: Okta's profile PUT echoes other groups; the memberships stay as they are.
    h.reset();
    let mut body = got.body.clone();
    body["groups"] = json!([{"value": "777", "display": "Other"}]);
    body["name"]["familyName"] = json!("King");
    let a = h.put(&format!("/Users/{id}"), body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["name"]["familyName"], "King");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "PUT /api/v1/users/1001"]
    );
    let sent = h.app.requests()[1].body.clone().unwrap();
    assert_eq!(sent["user"]["team_ids"], json!([501, 502]), "{sent}");
    assert_eq!(h.app.team_members(501), Some(vec![1001]));
    assert_eq!(h.app.team_members(502), Some(vec![1001]));
    let groups: Vec<String> = a.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(groups, ["501", "502"]);

    // Leaving a team shows at once.
    h.patch(
        "/Groups/501",
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
    )
    .await;
    let got = h.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body["groups"][0]["value"], "502", "{}", got.body);
    assert_eq!(got.body["groups"].as_array().unwrap().len(), 1);
    assert_eq!(member_values(&h.get("/Groups/502").await.body), [id]);

    // The other models do not fill it.
    for model in [Model::Record, Model::Endpoints] {
        let other = Harness::for_model(model).await;
        let ada = other.create("ada@example.com", "Ada", "Lovelace").await;
        other.create_group("Eng", &[&id_of(&ada)]).await;
        let got = other.get("/Users/1001").await;
        assert!(got.body.get("groups").is_none(), "{model:?}: {}", got.body);
        assert_eq!(other.calls(), ["GET /api/v1/users/1001"]);
        other.stop().await;
    }
    h.stop().await;
}

#[test]
fn model_mappings_swap_only_the_members_section() {
    let shipped = Model::Endpoints.mapping_text();
    for model in [Model::Record, Model::UserAttribute] {
        let text = model.mapping_text();
        assert!(!text.contains("[groups.members.list]"), "{model:?}");
        assert!(!text.contains("[groups.members.add]"), "{model:?}");
        assert_eq!(text.matches("[groups.members]").count(), 1, "{model:?}");
        let head = &shipped[..shipped.find("\n[groups.members]\n").unwrap()];
        assert!(text.starts_with(head), "{model:?}");
    }
    assert!(with_members_section("# x\n").ends_with("\n# x\n"));
    assert!(!without_groups_text().contains("[groups"));
    assert!(without_groups_text().contains("[users]"));
}
