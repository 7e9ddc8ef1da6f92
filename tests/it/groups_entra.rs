//! Microsoft Entra ID's group provisioning, as SCIM-CLIENTS.md describes it, against the example
//! application in each membership model: the `excludedAttributes=members` pre-check and reads,
//! create with the extra Microsoft schema URI and `externalId`, `Add` with `$ref: null` (several
//! members per request), `Remove` with a value array, rename by path, a new `externalId`, empty
//! PATCH, delete twice, and member changes sent as concurrent PATCHes. Every flow asserts the
//! SCIM answer and the exact application calls, in order.

use crate::support::{Answer, Harness, Model, TOKEN, each_model, enc, member_values, patch_op};
use http::Method;
use serde_json::{Value, json};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const MS_GROUP_SCHEMA: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const TEAM: &str = "GET /api/v1/teams/501";
const PATCH_TEAM: &str = "PATCH /api/v1/teams/501";
const ADD_MEMBER: &str = "POST /api/v1/teams/501/members";

each_model!(
    create_after_a_precheck_with_the_microsoft_schema_and_external_id,
    excluded_members_are_never_read,
    add_several_with_null_ref,
    remove_with_a_value_array,
    rename_by_path_and_empty_patch,
    delete_twice_is_204_then_404,
    concurrent_member_patches_are_all_applied,
);

/// A request as Entra sends it: its own `Accept`, SCIM bodies, its version header.
async fn entra(h: &Harness, method: Method, path: &str, body: Option<Value>) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("accept", "application/json"),
        ("content-type", "application/scim+json; charset=utf-8"),
        ("adscimversion", "2020"),
        ("user-agent", "Azure Active Directory SCIM Client"),
    ];
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    let a = h.send(method, path, &headers, body).await;
    if a.status != 204 {
        assert!(
            a.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "{:?}",
            a.header("content-type")
        );
    }
    a
}

/// Entra's create body: both schema URIs, `externalId`, members.
fn entra_group(name: &str, external_id: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({
        "schemas": [GROUP_SCHEMA, MS_GROUP_SCHEMA],
        "externalId": external_id,
        "displayName": name,
        "members": members
    })
}

/// Entra's matching query for a group.
fn precheck(name: &str) -> String {
    format!(
        "/Groups?excludedAttributes=members&filter={}",
        enc(&format!("displayName eq \"{name}\""))
    )
}

/// Three users created through SCIM (1001–1003), then team 501 "Sales" created as Entra does,
/// with `members`; application calls forgotten.
async fn setup(model: Model, members: &[&str]) -> Harness {
    let h = Harness::for_model(model).await;
    h.create("ada@contoso.example", "Ada", "Lovelace").await;
    h.create("grace@contoso.example", "Grace", "Hopper").await;
    h.create("edsger@contoso.example", "Edsger", "Dijkstra")
        .await;
    let a = entra(
        &h,
        Method::POST,
        "/Groups",
        Some(entra_group("Sales", "ext-sales", members)),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["id"], "501");
    h.reset();
    h
}

/// `first`, the member reads, `rest`.
fn with_reads(first: &[&str], model: Model, rest: &[String]) -> Vec<String> {
    let mut out: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    out.extend(model.member_reads(501));
    out.extend(rest.iter().cloned());
    out
}

/// The member writes per model: the team PATCH (record), per-member calls (endpoints), or a
/// read and PUT of each user (user attribute). `removed` go first.
fn writes(model: Model, removed: &[u64], added: &[u64]) -> Vec<String> {
    match model {
        Model::Record => vec![PATCH_TEAM.to_string()],
        // With more than one per-member call, added users are read first.
        Model::Endpoints => added
            .iter()
            .filter(|_| removed.len() + added.len() > 1)
            .map(|u| format!("GET /api/v1/users/{u}"))
            .chain(
                removed
                    .iter()
                    .map(|u| format!("DELETE /api/v1/teams/501/members/{u}")),
            )
            .chain(added.iter().map(|_| ADD_MEMBER.to_string()))
            .collect(),
        // Every affected user is read before the first PUT.
        Model::UserAttribute => {
            let users: Vec<&u64> = removed.iter().chain(added).collect();
            let reads = users.iter().map(|u| format!("GET /api/v1/users/{u}"));
            reads
                .chain(users.iter().map(|u| format!("PUT /api/v1/users/{u}")))
                .collect()
        }
    }
}

/// The full sequence for a membership change: read the team, read its members (not needed for
/// the record model), write.
fn member_change(model: Model, removed: &[u64], added: &[u64]) -> Vec<String> {
    with_reads(&[TEAM], model, &writes(model, removed, added))
}

async fn create_after_a_precheck_with_the_microsoft_schema_and_external_id(model: Model) {
    let h = Harness::for_model(model).await;
    h.create("ada@contoso.example", "Ada", "Lovelace").await;

    // Matching: no such group yet. Members excluded, so none are read.
    let a = entra(&h, Method::GET, &precheck("Sales"), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0);
    assert_eq!(a.body["Resources"], json!([]));
    assert_eq!(
        h.calls(),
        ["GET /api/v1/teams?name=Sales&page=1&per_page=100"]
    );

    h.reset();
    let a = entra(
        &h,
        Method::POST,
        "/Groups",
        Some(entra_group("Sales", "8d0b1c4e-ext", &[])),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["id"], "501");
    assert_eq!(a.body["displayName"], "Sales");
    assert_eq!(a.body["externalId"], "8d0b1c4e-ext", "kept by the store");
    assert_eq!(a.body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(h.calls(), ["POST /api/v1/teams"]);
    let sent = h.app.requests()[0].body.clone().unwrap();
    assert!(
        !sent.to_string().contains("8d0b1c4e"),
        "externalId is not the application's: {sent}"
    );
    assert_eq!(sent["team"]["name"], "Sales");

    // Entra's next cycle matches again: the cached id, one read, externalId still there.
    h.reset();
    let a = entra(&h, Method::GET, &precheck("sales"), None).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    let found = &a.body["Resources"][0];
    assert_eq!(found["id"], "501");
    assert_eq!(found["externalId"], "8d0b1c4e-ext");
    assert!(found.get("members").is_none(), "{found}");
    assert_eq!(h.calls(), [TEAM]);

    // By externalId (kept by the sidecar): one read of the team the store names.
    h.reset();
    let a = entra(
        &h,
        Method::GET,
        &format!(
            "/Groups?excludedAttributes=members&filter={}",
            enc("externalId eq \"8d0b1c4e-ext\"")
        ),
        None,
    )
    .await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(a.body["Resources"][0]["displayName"], "Sales");
    assert_eq!(h.calls(), [TEAM]);

    // A create with members, as Entra may send: checked and written in the model.
    h.reset();
    let a = entra(
        &h,
        Method::POST,
        "/Groups",
        Some(entra_group("Support", "ext-support", &["1001"])),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(member_values(&a.body), ["1001"]);
    assert_eq!(h.app.team_members(502), Some(vec![1001]));

    // Entra re-POSTs after a timeout: 409 uniqueness, nothing else made.
    h.reset();
    let a = entra(
        &h,
        Method::POST,
        "/Groups",
        Some(entra_group("Sales", "8d0b1c4e-ext", &[])),
    )
    .await;
    a.assert_error(409, Some("uniqueness"));
    assert_eq!(h.calls(), ["POST /api/v1/teams"]);
    assert_eq!(h.app.teams().len(), 2);
    h.stop().await;
}

async fn excluded_members_are_never_read(model: Model) {
    let h = setup(model, &["1001", "1002"]).await;
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002]));

    let a = entra(
        &h,
        Method::GET,
        "/Groups/501?excludedAttributes=members",
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["displayName"], "Sales");
    assert_eq!(a.body["externalId"], "ext-sales");
    assert!(a.body.get("members").is_none(), "{}", a.body);
    assert_eq!(h.calls(), [TEAM]);

    // Without the exclusion the members are read and shown.
    h.reset();
    let a = entra(&h, Method::GET, "/Groups/501", None).await;
    assert_eq!(member_values(&a.body), ["1001", "1002"]);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));

    // `attributes` without members: not read either.
    h.reset();
    let a = entra(&h, Method::GET, "/Groups/501?attributes=displayName", None).await;
    assert_eq!(a.body["displayName"], "Sales");
    assert!(a.body.get("members").is_none(), "{}", a.body);
    assert_eq!(h.calls(), [TEAM]);

    // The filter and the whole list, members excluded: no member reads.
    h.reset();
    let a = entra(&h, Method::GET, &precheck("Sales"), None).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert!(a.body["Resources"][0].get("members").is_none());
    assert_eq!(h.calls(), [TEAM]);
    h.reset();
    let a = entra(&h, Method::GET, "/Groups?excludedAttributes=members", None).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert!(a.body["Resources"][0].get("members").is_none());
    assert_eq!(h.calls(), ["GET /api/v1/teams?page=1&per_page=100"]);
    h.stop().await;
}

async fn add_several_with_null_ref(model: Model) {
    let h = setup(model, &[]).await;
    let add = |ids: &[&str]| {
        let value: Vec<Value> = ids
            .iter()
            .map(|id| json!({"$ref": null, "value": id}))
            .collect();
        patch_op(json!([{"op": "Add", "path": "members", "value": value}]))
    };
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(add(&["1001", "1002"])),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(a.body, Value::Null);
    assert_eq!(h.calls(), member_change(model, &[], &[1001, 1002]));
    if model == Model::Record {
        assert_eq!(
            h.app.requests()[1].body,
            Some(json!({"team": {"member_ids": [1001, 1002]}}))
        );
    }
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002]));

    // Again, with one more: only the new one is written.
    h.reset();
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(add(&["1001", "1002", "1003"])),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), member_change(model, &[], &[1003]));
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002, 1003]));

    // All already there: reads only.
    h.reset();
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(add(&["1003", "1001"])),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));

    // An unknown id among them: 400 naming it, nothing written.
    h.reset();
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(patch_op(json!([
            {"op": "Remove", "path": "members", "value": [{"value": "1001"}]},
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "7777"}]}
        ]))),
    )
    .await;
    a.assert_error(400, Some("invalidValue"));
    assert!(
        a.body["detail"].as_str().unwrap().contains("7777"),
        "{}",
        a.body
    );
    assert_eq!(
        h.calls(),
        with_reads(&[TEAM], model, &["GET /api/v1/users/7777".to_string()])
    );
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002, 1003]));
    h.stop().await;
}

async fn remove_with_a_value_array(model: Model) {
    let h = setup(model, &["1001", "1002", "1003"]).await;
    let remove = |ids: &[&str]| {
        let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
        patch_op(json!([{"op": "Remove", "path": "members", "value": value}]))
    };
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(remove(&["1001", "1003"])),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), member_change(model, &[1001, 1003], &[]));
    if model == Model::Record {
        assert_eq!(
            h.app.requests()[1].body,
            Some(json!({"team": {"member_ids": [1002]}}))
        );
    }
    assert_eq!(h.app.team_members(501), Some(vec![1002]));

    // Removing members that are not there (one is no user at all): reads only.
    h.reset();
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(remove(&["1001", "9999"])),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));

    // The newer form, a filter in the path.
    h.reset();
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(patch_op(
            json!([{"op": "Remove", "path": "members[value eq \"1002\"]"}]),
        )),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), member_change(model, &[1002], &[]));
    assert_eq!(h.app.team_members(501), Some(vec![]));
    h.stop().await;
}

async fn rename_by_path_and_empty_patch(model: Model) {
    let h = setup(model, &["1001"]).await;
    let rename =
        |name: &str| patch_op(json!([{"op": "Replace", "path": "displayName", "value": name}]));
    let a = entra(&h, Method::PATCH, "/Groups/501", Some(rename("Sales EMEA"))).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), [TEAM, PATCH_TEAM]);
    assert_eq!(
        h.app.requests()[1].body,
        Some(json!({"team": {"name": "Sales EMEA"}}))
    );
    assert_eq!(h.app.teams()[0]["name"], "Sales EMEA");
    assert_eq!(h.app.team_members(501), Some(vec![1001]));

    // The same name again, and an empty Operations list: success, one read, no write.
    for body in [rename("Sales EMEA"), patch_op(json!([]))] {
        h.reset();
        let a = entra(&h, Method::PATCH, "/Groups/501", Some(body.clone())).await;
        assert_eq!(a.status, 204, "{body}: {}", a.body);
        assert_eq!(h.calls(), [TEAM], "{body}");
    }

    // A new externalId is kept by the sidecar: no application write.
    h.reset();
    let a = entra(
        &h,
        Method::PATCH,
        "/Groups/501",
        Some(patch_op(
            json!([{"op": "Replace", "path": "externalId", "value": "ext-sales-2"}]),
        )),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), [TEAM]);

    // Matching follows the rename: the old name is asked of the application and not found, the
    // new one is a cached id.
    h.reset();
    let a = entra(&h, Method::GET, &precheck("Sales"), None).await;
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/teams?name=Sales&page=1&per_page=100"]
    );
    h.reset();
    let a = entra(&h, Method::GET, &precheck("Sales EMEA"), None).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(a.body["Resources"][0]["externalId"], "ext-sales-2");
    assert_eq!(h.calls(), [TEAM]);
    for (ext, found) in [("ext-sales", 0), ("ext-sales-2", 1)] {
        let a = entra(
            &h,
            Method::GET,
            &format!(
                "/Groups?excludedAttributes=members&filter={}",
                enc(&format!("externalId eq \"{ext}\""))
            ),
            None,
        )
        .await;
        assert_eq!(a.body["totalResults"], found, "{ext}: {}", a.body);
    }
    h.stop().await;
}

async fn delete_twice_is_204_then_404(model: Model) {
    let h = setup(model, &["1001", "1002"]).await;
    let a = entra(&h, Method::DELETE, "/Groups/501", None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), ["DELETE /api/v1/teams/501"]);
    assert!(h.app.teams().is_empty());
    assert_eq!(h.app.user(1001).unwrap()["team_ids"], json!([]));

    h.reset();
    entra(
        &h,
        Method::GET,
        "/Groups/501?excludedAttributes=members",
        None,
    )
    .await
    .assert_error(404, None);
    assert_eq!(h.calls(), [TEAM]);
    h.reset();
    entra(&h, Method::DELETE, "/Groups/501", None)
        .await
        .assert_error(404, None);
    assert_eq!(h.calls(), ["DELETE /api/v1/teams/501"]);

    // Neither its name nor its externalId finds it any more.
    h.reset();
    let a = entra(&h, Method::GET, &precheck("Sales"), None).await;
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/teams?name=Sales&page=1&per_page=100"]
    );
    h.reset();
    let a = entra(
        &h,
        Method::GET,
        &format!("/Groups?filter={}", enc("externalId eq \"ext-sales\"")),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.stop().await;
}

/// Entra may send a group's member changes as separate, concurrent PATCHes.
async fn concurrent_member_patches_are_all_applied(model: Model) {
    let h = setup(model, &[]).await;
    let add = |id: &str| {
        Some(patch_op(
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}]}]),
        ))
    };
    let (a, b, c) = tokio::join!(
        entra(&h, Method::PATCH, "/Groups/501", add("1001")),
        entra(&h, Method::PATCH, "/Groups/501", add("1002")),
        entra(&h, Method::PATCH, "/Groups/501", add("1003")),
    );
    assert_eq!((a.status, b.status, c.status), (204, 204, 204));
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002, 1003]));
    // Each request's calls, whatever the order the three were served in.
    let mut expected: Vec<String> = [1001, 1002, 1003]
        .iter()
        .flat_map(|u| member_change(model, &[], &[*u]))
        .collect();
    expected.sort();
    let mut seen = h.calls();
    seen.sort();
    assert_eq!(seen, expected);
    h.stop().await;
}

/// With membership in the user record, adding one user to two teams at once changes that one
/// record twice: both teams must stay.
#[tokio::test]
async fn concurrent_adds_of_one_user_to_two_teams_keep_both() {
    let h = setup(Model::UserAttribute, &[]).await;
    let a = entra(
        &h,
        Method::POST,
        "/Groups",
        Some(entra_group("Support", "ext-support", &[])),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let add = Some(patch_op(
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "1001"}]}]),
    ));
    let (a, b) = tokio::join!(
        entra(&h, Method::PATCH, "/Groups/501", add.clone()),
        entra(&h, Method::PATCH, "/Groups/502", add.clone()),
    );
    assert_eq!((a.status, b.status), (204, 204));
    assert_eq!(h.app.user(1001).unwrap()["team_ids"], json!([501, 502]));
    assert_eq!(h.app.team_members(501), Some(vec![1001]));
    assert_eq!(h.app.team_members(502), Some(vec![1001]));
    h.stop().await;
}
