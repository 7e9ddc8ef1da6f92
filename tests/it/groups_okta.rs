//! Okta's "Push Groups", as SCIM-CLIENTS.md describes it, against the example application in
//! each of the three membership models (team record, per-member endpoints, user attribute):
//! create, the reconciliation PATCH, add, remove by filter, add and remove in one request,
//! rename, full push with `replace` (also `[]`), PUT with members (AIW), unlink (delete), link
//! by `displayName`, import, unknown and nested members, duplicates, members the sidecar has not
//! seen, teams past one page, names with reserved characters, bad bodies. Every flow asserts the
//! SCIM answer and the exact application calls, in order: only the needed writes, none for a
//! no-op.

use crate::support::{Harness, Model, each_model, enc, member_values, okta_group, patch_op};
use serde_json::{Value, json};

const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const TEAM: &str = "GET /api/v1/teams/501";
const PATCH_TEAM: &str = "PATCH /api/v1/teams/501";
const CREATE_TEAM: &str = "POST /api/v1/teams";
const ADD_MEMBER: &str = "POST /api/v1/teams/501/members";

each_model!(
    push_create_then_reconciliation_patch,
    add_member_and_re_add_without_a_write,
    remove_by_filter_and_remove_missing_without_a_write,
    add_and_remove_in_one_request,
    rename_alone_and_with_a_membership_update,
    full_push_replace_sends_only_the_difference,
    put_with_members_sends_only_the_difference,
    unlink_deletes_then_404,
    link_by_display_name_uses_the_cache_and_follows_renames,
    import_lists_teams_with_members,
    unknown_member_fails_the_whole_request_before_any_write,
    removing_the_last_member_empties_the_team,
    duplicate_create_is_409_before_any_member_call,
    nested_group_member_is_400_without_a_call,
    patch_answers_204_unless_attributes_are_asked,
    adding_a_user_the_sidecar_has_not_seen_reads_it_first,
    a_big_team_is_read_page_by_page,
    names_with_reserved_characters_are_encoded,
);

/// Three users created through SCIM (ids 1001–1003, so the sidecar knows their names, as after
/// Okta pushed them), no application calls remembered.
async fn setup(model: Model) -> Harness {
    let h = Harness::for_model(model).await;
    h.create("ada@example.com", "Ada", "Lovelace").await;
    h.create("grace@example.com", "Grace", "Hopper").await;
    h.create("edsger@example.com", "Edsger", "Dijkstra").await;
    h
}

/// `first`, then the member reads, then `rest`.
fn with_reads(first: &[&str], model: Model, rest: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = first.iter().map(|s| s.to_string()).collect();
    out.extend(model.member_reads(501));
    out.extend(rest.iter().map(|s| s.to_string()));
    out
}

/// The expected calls, chosen by model.
fn by_model(
    model: Model,
    record: Vec<String>,
    endpoints: Vec<String>,
    users: Vec<String>,
) -> Vec<String> {
    match model {
        Model::Record => record,
        Model::Endpoints => endpoints,
        Model::UserAttribute => users,
    }
}

/// The writes of a user-attribute membership change: every user is read first (so a missing one
/// fails the request before any write), then each full record is PUT back.
fn user_puts(uids: &[u64]) -> Vec<String> {
    let reads = uids.iter().map(|u| format!("GET /api/v1/users/{u}"));
    reads
        .chain(uids.iter().map(|u| format!("PUT /api/v1/users/{u}")))
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The JSON bodies the application received, in order (`Null` for none).
fn bodies(h: &Harness) -> Vec<Value> {
    h.app
        .requests()
        .into_iter()
        .map(|r| r.body.unwrap_or(Value::Null))
        .collect()
}

/// Checks the writes' bodies: the team PATCH (record model) carries exactly `member_ids`; a
/// per-member add carries the numeric user id; a user PUT carries the full record with the
/// changed `team_ids`.
fn assert_write_bodies(h: &Harness, model: Model, member_ids: &[u64]) {
    let reqs = h.app.requests();
    for r in &reqs {
        let line = crate::support::call_line(r);
        let body = r.body.clone().unwrap_or(Value::Null);
        if line == PATCH_TEAM && model == Model::Record {
            // Any order: the application keeps a set.
            let mut sent: Vec<u64> = body["team"]["member_ids"]
                .as_array()
                .unwrap_or_else(|| panic!("{line}: {body}"))
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            sent.sort();
            assert_eq!(sent, member_ids, "{line}: {body}");
        } else if line == ADD_MEMBER {
            let uid = body["user_id"].as_u64().unwrap_or_else(|| panic!("{body}"));
            assert!(member_ids.contains(&uid), "{line}: {body}");
        } else if r.method == "PUT" && r.path.starts_with("/api/v1/users/") {
            let user = &body["user"];
            assert!(
                user["email"].as_str().is_some_and(|e| e.contains('@')),
                "full record: {body}"
            );
            assert!(user["first_name"].is_string(), "full record: {body}");
            assert_eq!(user["role"], "member", "full record: {body}");
            let uid: u64 = r.path.rsplit('/').next().unwrap().parse().unwrap();
            let in_team = user["team_ids"].as_array().unwrap().contains(&json!(501));
            assert_eq!(in_team, member_ids.contains(&uid), "{line}: {body}");
        }
    }
}

async fn push_create_then_reconciliation_patch(model: Model) {
    let h = setup(model).await;
    let a = h.post("/Groups", okta_group("Eng", &[])).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["id"], "501");
    assert_eq!(a.body["displayName"], "Eng");
    assert_eq!(a.body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(member_values(&a.body), Vec::<String>::new());
    assert_eq!(a.body["meta"]["resourceType"], "Group");
    let location = a.body["meta"]["location"].as_str().unwrap();
    assert!(location.ends_with("/Groups/501"), "{location}");
    assert_eq!(a.header("location"), Some(location));
    assert_eq!(h.calls(), [CREATE_TEAM]);
    let team = &bodies(&h)[0]["team"];
    match model {
        Model::Record => assert_eq!(*team, json!({"name": "Eng", "member_ids": []})),
        _ => assert_eq!(*team, json!({"name": "Eng"})),
    }
    assert_eq!(h.app.team_members(501), Some(vec![]));

    // Right after: a path-less replace echoing the id and the same name. Nothing to write.
    h.reset();
    let a = h
        .patch(
            "/Groups/501",
            patch_op(json!([{"op": "replace", "value": {"id": "501", "displayName": "Eng"}}])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(a.body, Value::Null);
    assert_eq!(h.calls(), [TEAM]);

    // Members may be pre-filled on create.
    h.reset();
    let a = h
        .post("/Groups", okta_group("Ops", &["1001", "1002"]))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["id"], "502");
    assert_eq!(member_values(&a.body), ["1001", "1002"]);
    let first = &a.body["members"][0];
    assert_eq!(first["type"], "User");
    assert!(
        first["$ref"].as_str().unwrap().ends_with("/Users/1001"),
        "{first}"
    );
    assert!(first.get("display").is_none(), "display is off: {first}");
    let expected = by_model(
        model,
        s(&[CREATE_TEAM]),
        s(&[
            CREATE_TEAM,
            "POST /api/v1/teams/502/members",
            "POST /api/v1/teams/502/members",
        ]),
        [vec![CREATE_TEAM.to_string()], user_puts(&[1001, 1002])].concat(),
    );
    assert_eq!(h.calls(), expected);
    if model == Model::Record {
        assert_eq!(bodies(&h)[0]["team"]["member_ids"], json!([1001, 1002]));
    }
    assert_eq!(h.app.team_members(502), Some(vec![1001, 1002]));

    // Read back: the members come from the model's source.
    h.reset();
    let a = h.get("/Groups/502").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(member_values(&a.body), ["1001", "1002"]);
    let mut expected = vec!["GET /api/v1/teams/502".to_string()];
    expected.extend(model.member_reads(502));
    assert_eq!(h.calls(), expected);
    h.stop().await;
}

async fn add_member_and_re_add_without_a_write(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &[]).await;
    let add = |ids: &[&str]| {
        let value: Vec<Value> = ids
            .iter()
            .map(|id| json!({"value": id, "display": format!("user {id}")}))
            .collect();
        patch_op(json!([{"op": "add", "path": "members", "value": value}]))
    };

    let a = h.patch("/Groups/501", add(&["1001"])).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(&[TEAM], model, &[ADD_MEMBER]),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1001])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[1001]);
    if model == Model::Endpoints {
        assert_eq!(bodies(&h)[2], json!({"user_id": 1001}));
    }
    assert_eq!(h.app.team_members(501), Some(vec![1001]));

    // Okta re-sends a member it already pushed: success, reads only.
    h.reset();
    let a = h.patch("/Groups/501", add(&["1001"])).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));
    assert_eq!(h.app.team_members(501), Some(vec![1001]));

    // One existing, one new: only the new one is written.
    h.reset();
    let a = h.patch("/Groups/501", add(&["1001", "1002"])).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(&[TEAM], model, &[ADD_MEMBER]),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1002])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[1001, 1002]);
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002]));
    h.stop().await;
}

fn remove_one(uid: &str) -> Value {
    patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]))
}

async fn remove_by_filter_and_remove_missing_without_a_write(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001", "1002"]).await;

    let a = h.patch("/Groups/501", remove_one("1001")).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(&[TEAM], model, &["DELETE /api/v1/teams/501/members/1001"]),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1001])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[1002]);
    assert_eq!(h.app.team_members(501), Some(vec![1002]));

    // Removing it again, a user who never was a member, and an id that is no user at all:
    // success, no write.
    for uid in ["1001", "1003", "4242"] {
        h.reset();
        let a = h.patch("/Groups/501", remove_one(uid)).await;
        assert_eq!(a.status, 204, "{uid}: {}", a.body);
        assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]), "{uid}");
    }
    assert_eq!(h.app.team_members(501), Some(vec![1002]));
    h.stop().await;
}

async fn add_and_remove_in_one_request(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001", "1002"]).await;
    let a = h
        .patch(
            "/Groups/501",
            patch_op(json!([
                {"op": "remove", "path": "members[value eq \"1001\"]"},
                {"op": "add", "path": "members", "value": [{"value": "1003"}]}
            ])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    // Removals first; the record model writes both in one call.
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(
            &[TEAM],
            model,
            &[
                "GET /api/v1/users/1003",
                "DELETE /api/v1/teams/501/members/1001",
                ADD_MEMBER,
            ],
        ),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1001, 1003])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[1002, 1003]);
    assert_eq!(h.app.team_members(501), Some(vec![1002, 1003]));

    // Adding and removing the same member in one request nets to nothing: no write.
    h.reset();
    let a = h
        .patch(
            "/Groups/501",
            patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": "1001"}]},
                {"op": "remove", "path": "members[value eq \"1001\"]"}
            ])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));
    assert_eq!(h.app.team_members(501), Some(vec![1002, 1003]));
    h.stop().await;
}

async fn rename_alone_and_with_a_membership_update(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001"]).await;
    h.create_group("Ops", &[]).await;
    let rename = |name: &str| json!({"op": "replace", "value": {"id": "501", "displayName": name}});

    // A rename reads no members.
    let a = h
        .patch("/Groups/501", patch_op(json!([rename("Engineering")])))
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), [TEAM, PATCH_TEAM]);
    assert_eq!(bodies(&h)[1], json!({"team": {"name": "Engineering"}}));
    assert_eq!(h.app.teams()[0]["name"], "Engineering");
    assert_eq!(h.app.team_members(501), Some(vec![1001]));

    // The same name again: read only.
    h.reset();
    let a = h
        .patch("/Groups/501", patch_op(json!([rename("Engineering")])))
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), [TEAM]);

    // Okta re-sends the name with membership updates.
    h.reset();
    let a = h
        .patch(
            "/Groups/501",
            patch_op(json!([
                rename("Eng"),
                {"op": "add", "path": "members", "value": [{"value": "1002"}]}
            ])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(&[TEAM], model, &[PATCH_TEAM, ADD_MEMBER]),
        [
            with_reads(&[TEAM], model, &[PATCH_TEAM]),
            user_puts(&[1002]),
        ]
        .concat(),
    );
    assert_eq!(h.calls(), expected);
    let patch_body = bodies(&h)
        .into_iter()
        .zip(h.calls())
        .find(|(_, c)| c == PATCH_TEAM)
        .map(|(b, _)| b)
        .unwrap();
    match model {
        // One call carries both.
        Model::Record => assert_eq!(
            patch_body,
            json!({"team": {"name": "Eng", "member_ids": [1001, 1002]}})
        ),
        _ => assert_eq!(patch_body, json!({"team": {"name": "Eng"}})),
    }
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002]));

    h.reset();
    let a = h.get("/Groups/501").await;
    assert_eq!(a.body["displayName"], "Eng");
    assert_eq!(member_values(&a.body), ["1001", "1002"]);

    // Renaming onto another team's name (any case): the application's 409 is uniqueness.
    h.reset();
    let a = h
        .patch("/Groups/501", patch_op(json!([rename("OPS")])))
        .await;
    a.assert_error(409, Some("uniqueness"));
    assert_eq!(h.calls(), [TEAM, PATCH_TEAM]);
    assert_eq!(h.app.teams()[0]["name"], "Eng");
    h.stop().await;
}

fn replace_members(ids: &[&str]) -> Value {
    let value: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    patch_op(json!([{"op": "replace", "path": "members", "value": value}]))
}

async fn full_push_replace_sends_only_the_difference(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001", "1002"]).await;

    let a = h
        .patch("/Groups/501", replace_members(&["1002", "1003"]))
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(
            &[TEAM],
            model,
            &[
                "GET /api/v1/users/1003",
                "DELETE /api/v1/teams/501/members/1001",
                ADD_MEMBER,
            ],
        ),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1001, 1003])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[1002, 1003]);
    assert_eq!(h.app.team_members(501), Some(vec![1002, 1003]));

    // The same members again, in either order: nothing to write.
    for order in [["1002", "1003"], ["1003", "1002"]] {
        h.reset();
        let a = h.patch("/Groups/501", replace_members(&order)).await;
        assert_eq!(a.status, 204, "{order:?}: {}", a.body);
        assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]), "{order:?}");
    }

    // A full push of nobody empties the team.
    h.reset();
    let a = h.patch("/Groups/501", replace_members(&[])).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(
            &[TEAM],
            model,
            &[
                "DELETE /api/v1/teams/501/members/1002",
                "DELETE /api/v1/teams/501/members/1003",
            ],
        ),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1002, 1003])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[]);
    assert_eq!(h.app.team_members(501), Some(vec![]));

    h.reset();
    let a = h.patch("/Groups/501", replace_members(&[])).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));
    h.stop().await;
}

fn put_body(name: &str, members: Option<&[&str]>) -> Value {
    let mut body = json!({
        "schemas": [GROUP_SCHEMA],
        "id": "501",
        "displayName": name,
        "meta": {"resourceType": "Group"}
    });
    if let Some(ids) = members {
        body["members"] = ids
            .iter()
            .map(|id| json!({"value": id, "display": format!("user {id}")}))
            .collect();
    }
    body
}

async fn put_with_members_sends_only_the_difference(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001", "1002"]).await;

    // Okta AIW: PUT with the whole list.
    let a = h
        .put("/Groups/501", put_body("Eng", Some(&["1003", "1002"])))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], "501");
    assert_eq!(a.body["displayName"], "Eng");
    assert_eq!(
        member_values(&a.body),
        ["1003", "1002"],
        "the client's order"
    );
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(
            &[TEAM],
            model,
            &[
                "GET /api/v1/users/1003",
                "DELETE /api/v1/teams/501/members/1001",
                ADD_MEMBER,
            ],
        ),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1001, 1003])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[1002, 1003]);
    assert_eq!(h.app.team_members(501), Some(vec![1002, 1003]));

    // The same PUT again: reads only.
    h.reset();
    let a = h
        .put("/Groups/501", put_body("Eng", Some(&["1002", "1003"])))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(member_values(&a.body), ["1002", "1003"]);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));

    // A PUT without `members` renames and keeps the members.
    h.reset();
    let a = h.put("/Groups/501", put_body("Engineering", None)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["displayName"], "Engineering");
    assert_eq!(member_values(&a.body), ["1002", "1003"]);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[PATCH_TEAM]));
    let patch_body = bodies(&h).pop().unwrap();
    assert_eq!(patch_body, json!({"team": {"name": "Engineering"}}));
    assert_eq!(h.app.team_members(501), Some(vec![1002, 1003]));

    // `"members": []` empties it.
    h.reset();
    let a = h
        .put("/Groups/501", put_body("Engineering", Some(&[])))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(member_values(&a.body), Vec::<String>::new());
    assert_eq!(h.app.team_members(501), Some(vec![]));
    h.stop().await;
}

async fn unlink_deletes_then_404(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001"]).await;
    let a = h.delete("/Groups/501").await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(a.body, Value::Null);
    assert_eq!(h.calls(), ["DELETE /api/v1/teams/501"]);
    assert!(h.app.teams().is_empty());
    // The users stay, without the team.
    assert_eq!(h.app.users().len(), 3);
    assert_eq!(h.app.user(1001).unwrap()["team_ids"], json!([]));

    h.reset();
    h.get("/Groups/501").await.assert_error(404, None);
    assert_eq!(h.calls(), [TEAM]);
    h.reset();
    h.delete("/Groups/501").await.assert_error(404, None);
    assert_eq!(h.calls(), ["DELETE /api/v1/teams/501"]);
    h.reset();
    h.patch("/Groups/501", remove_one("1001"))
        .await
        .assert_error(404, None);
    assert_eq!(h.calls(), [TEAM]);

    // The name is forgotten with the group: a link search asks the application, not the id.
    h.reset();
    let a = h.get(&link_filter("Eng")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/teams?name=Eng&page=1&per_page=100"]
    );
    h.stop().await;
}

fn link_filter(name: &str) -> String {
    format!(
        "/Groups?filter={}&startIndex=1&count=100",
        enc(&format!("displayName eq \"{name}\""))
    )
}

async fn link_by_display_name_uses_the_cache_and_follows_renames(model: Model) {
    let h = setup(model).await;
    // A team made in the application, which Okta's "Link Group" finds by name.
    let team = h.app.seed_team("Eng", &[1001, 1002]);
    assert_eq!(team, 501);

    let a = h.get(&link_filter("eng")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["startIndex"], 1);
    assert_eq!(a.body["itemsPerPage"], 1);
    let found = &a.body["Resources"][0];
    assert_eq!(found["id"], "501");
    assert_eq!(
        found["displayName"], "Eng",
        "the name as the application has it"
    );
    assert_eq!(member_values(found), ["1001", "1002"]);
    let search = "GET /api/v1/teams?name=eng&page=1&per_page=100";
    assert_eq!(h.calls(), with_reads(&[search], model, &[]));

    // Again: the cache names the id; one read by id replaces the search (same count of calls,
    // but a read by id instead of a search).
    h.reset();
    let a = h.get(&link_filter("ENG")).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(a.body["Resources"][0]["id"], "501");
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));

    // After a rename the old name finds nothing (asked of the application), the new one finds
    // the team by its cached id.
    let a = h
        .patch(
            "/Groups/501",
            patch_op(json!([{"op": "replace", "value": {"id": "501", "displayName": "Platform"}}])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    h.reset();
    let a = h.get(&link_filter("Eng")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0, "{}", a.body);
    assert_eq!(a.body["Resources"], json!([]));
    assert_eq!(
        h.calls(),
        ["GET /api/v1/teams?name=Eng&page=1&per_page=100"]
    );
    h.reset();
    let a = h.get(&link_filter("platform")).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(a.body["Resources"][0]["displayName"], "Platform");
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));

    // A page past the only result: the total, no resources.
    h.reset();
    let a = h
        .get(&link_filter("platform").replace("startIndex=1", "startIndex=2"))
        .await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(a.body["itemsPerPage"], 0);
    assert_eq!(a.body["Resources"], json!([]));
    h.stop().await;
}

async fn import_lists_teams_with_members(model: Model) {
    let h = setup(model).await;
    h.app.seed_team("Eng", &[1001, 1002]);
    h.app.seed_team("Ops", &[]);
    let a = h.get("/Groups?startIndex=1&count=100").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 2);
    assert_eq!(a.body["itemsPerPage"], 2);
    let groups = a.body["Resources"].as_array().unwrap();
    assert_eq!(groups[0]["displayName"], "Eng");
    assert_eq!(member_values(&groups[0]), ["1001", "1002"]);
    assert_eq!(groups[1]["displayName"], "Ops");
    assert_eq!(member_values(&groups[1]), Vec::<String>::new());
    let mut expected = vec!["GET /api/v1/teams?page=1&per_page=100".to_string()];
    expected.extend(model.member_reads(501));
    expected.extend(model.member_reads(502));
    assert_eq!(h.calls(), expected);
    h.stop().await;
}

async fn unknown_member_fails_the_whole_request_before_any_write(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001"]).await;
    let unknown = "GET /api/v1/users/4242";
    let check = |a: &crate::support::Answer| {
        a.assert_error(400, Some("invalidValue"));
        assert!(
            a.body["detail"].as_str().unwrap().contains("\"4242\""),
            "{}",
            a.body
        );
    };

    let reads: &[&str] = match model {
        Model::Endpoints => &["GET /api/v1/users/1002", unknown],
        _ => &[unknown],
    };

    // One good member and one unknown: nothing is written, not even the good one.
    for op in ["add", "replace"] {
        h.reset();
        let a = h
            .patch(
                "/Groups/501",
                patch_op(json!([{"op": op, "path": "members",
                    "value": [{"value": "1002"}, {"value": "4242"}]}])),
            )
            .await;
        check(&a);
        // (`replace` would also drop 1001: still nothing is written.) With several per-member
        // calls to make, the endpoints model reads every added user, the good one too.
        assert_eq!(h.calls(), with_reads(&[TEAM], model, reads), "{op}");
        assert_eq!(h.app.team_members(501), Some(vec![1001]), "{op}");
    }

    // The same in a PUT.
    h.reset();
    let a = h
        .put("/Groups/501", put_body("Eng", Some(&["1002", "4242"])))
        .await;
    check(&a);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, reads));
    assert_eq!(h.app.team_members(501), Some(vec![1001]));

    // And on create: no team is made.
    h.reset();
    let a = h
        .post("/Groups", okta_group("Ops", &["1001", "4242"]))
        .await;
    check(&a);
    assert_eq!(h.calls(), [unknown]);
    assert_eq!(h.app.teams().len(), 1);
    h.stop().await;
}

async fn removing_the_last_member_empties_the_team(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001"]).await;
    let a = h.patch("/Groups/501", remove_one("1001")).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let expected = by_model(
        model,
        s(&[TEAM, PATCH_TEAM]),
        with_reads(&[TEAM], model, &["DELETE /api/v1/teams/501/members/1001"]),
        [with_reads(&[TEAM], model, &[]), user_puts(&[1001])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_write_bodies(&h, model, &[]);
    assert_eq!(h.app.team_members(501), Some(vec![]));
    h.reset();
    let a = h.get("/Groups/501").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["displayName"], "Eng");
    assert_eq!(member_values(&a.body), Vec::<String>::new());

    // A path-only remove of `members` (RFC 7644 form) empties a team as well.
    h.create_group("Ops", &["1002", "1003"]).await;
    let a = h
        .patch(
            "/Groups/502",
            patch_op(json!([{"op": "remove", "path": "members"}])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(h.app.team_members(502), Some(vec![]));
    h.stop().await;
}

async fn duplicate_create_is_409_before_any_member_call(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &[]).await;
    let a = h.post("/Groups", okta_group("ENG", &["1001"])).await;
    a.assert_error(409, Some("uniqueness"));
    assert!(
        a.body["detail"].as_str().unwrap().contains("ENG"),
        "{}",
        a.body
    );
    assert_eq!(h.calls(), [CREATE_TEAM]);
    assert_eq!(h.app.teams().len(), 1);
    assert_eq!(h.app.team_members(501), Some(vec![]));
    h.stop().await;
}

async fn nested_group_member_is_400_without_a_call(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &[]).await;
    let mut body = okta_group("Ops", &[]);
    body["members"] = json!([{"value": "1001"}, {"value": "501", "type": "Group"}]);
    let a = h.post("/Groups", body).await;
    a.assert_error(400, Some("invalidValue"));
    assert!(
        a.body["detail"].as_str().unwrap().contains("501"),
        "{}",
        a.body
    );
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert_eq!(h.app.teams().len(), 1);

    // Added by PATCH: refused before any write.
    h.reset();
    let a = h
        .patch(
            "/Groups/501",
            patch_op(json!([{"op": "add", "path": "members",
                "value": [{"value": "502", "type": "Group"}]}])),
        )
        .await;
    a.assert_error(400, Some("invalidValue"));
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[]));
    assert_eq!(h.app.team_members(501), Some(vec![]));
    h.stop().await;
}

async fn patch_answers_204_unless_attributes_are_asked(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &["1001"]).await;
    let a = h
        .patch(
            "/Groups/501?attributes=members",
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "1002"}]}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], "501");
    assert_eq!(member_values(&a.body), ["1001", "1002"]);
    assert!(a.body.get("displayName").is_none(), "{}", a.body);
    assert_eq!(h.app.team_members(501), Some(vec![1001, 1002]));

    h.reset();
    let a = h
        .patch(
            "/Groups/501?attributes=displayName",
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Eng2"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["displayName"], "Eng2");
    assert!(a.body.get("members").is_none(), "{}", a.body);
    assert_eq!(h.calls(), [TEAM, PATCH_TEAM]);

    // Members asked for on a PATCH that does not touch them: read for the answer.
    h.reset();
    let a = h
        .patch(
            "/Groups/501?attributes=members,displayName",
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Eng4"}])),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["displayName"], "Eng4");
    assert_eq!(member_values(&a.body), ["1001", "1002"]);
    assert_eq!(h.calls(), with_reads(&[TEAM], model, &[PATCH_TEAM]));

    // `excludedAttributes` alone does not ask for a body.
    h.reset();
    let a = h
        .patch(
            "/Groups/501?excludedAttributes=members",
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Eng3"}])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(a.body, Value::Null);
    h.stop().await;
}

async fn adding_a_user_the_sidecar_has_not_seen_reads_it_first(model: Model) {
    let h = setup(model).await;
    h.create_group("Eng", &[]).await;
    // Made in the application: the sidecar does not know it exists.
    let ids = h.app.seed(1);
    assert_eq!(ids, [1004]);
    h.reset();
    let a = h
        .patch(
            "/Groups/501",
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "1004"}]}])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let check = "GET /api/v1/users/1004";
    let expected = by_model(
        model,
        s(&[TEAM, check, PATCH_TEAM]),
        with_reads(&[TEAM], model, &[check, ADD_MEMBER]),
        [with_reads(&[TEAM], model, &[check]), user_puts(&[1004])].concat(),
    );
    assert_eq!(h.calls(), expected);
    assert_eq!(h.app.team_members(501), Some(vec![1004]));

    // Seen now: adding it elsewhere needs no check.
    h.create_group("Ops", &[]).await;
    let a = h
        .patch(
            "/Groups/502",
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": "1004"}]}])),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let team = "GET /api/v1/teams/502".to_string();
    let expected = by_model(
        model,
        vec![team.clone(), "PATCH /api/v1/teams/502".into()],
        [
            vec![team.clone()],
            model.member_reads(502),
            vec!["POST /api/v1/teams/502/members".into()],
        ]
        .concat(),
        [vec![team], model.member_reads(502), user_puts(&[1004])].concat(),
    );
    assert_eq!(h.calls(), expected);
    h.stop().await;
}

async fn a_big_team_is_read_page_by_page(model: Model) {
    let h = Harness::for_model(model).await;
    let ids = h.app.seed(150);
    let team = h.app.seed_team("Everyone", &ids);
    let a = h.get(&format!("/Groups/{team}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let expected: Vec<String> = ids.iter().map(u64::to_string).collect();
    assert_eq!(member_values(&a.body), expected);
    let page2 = match model {
        Model::Record => vec![],
        Model::Endpoints => vec!["GET /api/v1/teams/501/members?page=2&per_page=100".to_string()],
        Model::UserAttribute => {
            vec!["GET /api/v1/users?team_id=501&page=2&per_page=100".to_string()]
        }
    };
    assert_eq!(h.calls(), [with_reads(&[TEAM], model, &[]), page2].concat());

    // Removing one member of 150 is one write (two for user records).
    h.reset();
    let a = h.patch("/Groups/501", remove_one("1075")).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let writes: Vec<String> = h
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("GET /api/v1/teams") && !c.contains("team_id="))
        .collect();
    let expected = by_model(
        model,
        s(&[PATCH_TEAM]),
        s(&["DELETE /api/v1/teams/501/members/1075"]),
        user_puts(&[1075]),
    );
    assert_eq!(writes, expected);
    assert_eq!(h.app.team_members(501).unwrap().len(), 149);
    h.stop().await;
}

async fn names_with_reserved_characters_are_encoded(model: Model) {
    let h = setup(model).await;
    let name = "R&D / Ops \"EU\"+1";
    let a = h.post("/Groups", okta_group(name, &["1001"])).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["displayName"], name);
    assert_eq!(h.app.teams()[0]["name"], name);
    // A name the sidecar has not cached: the search carries it encoded, as one parameter.
    h.app.seed_team("a=b&name=x", &[]);
    h.reset();
    let filter = format!(
        "/Groups?excludedAttributes=members&filter={}",
        enc("displayName eq \"A=B&NAME=X\"")
    );
    let a = h.get(&filter).await;
    assert_eq!(a.body["totalResults"], 1, "{}", a.body);
    assert_eq!(a.body["Resources"][0]["displayName"], "a=b&name=x");
    assert_eq!(
        h.calls(),
        ["GET /api/v1/teams?name=A%3DB%26NAME%3DX&page=1&per_page=100"]
    );
    let found = h.app.requests()[0].query_param("name");
    assert_eq!(found.as_deref(), Some("A=B&NAME=X"));
    h.stop().await;
}

#[tokio::test]
async fn bad_group_bodies_are_400_without_a_call() {
    let h = setup(Model::Endpoints).await;
    for body in [
        json!({"schemas": [GROUP_SCHEMA], "members": []}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "  "}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "X", "members": "1001"}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "X", "members": [{"display": "no value"}]}),
        json!({"schemas": [GROUP_SCHEMA], "displayName": "X", "members": [{"value": ""}]}),
    ] {
        h.reset();
        let a = h.post("/Groups", body.clone()).await;
        a.assert_error(400, Some("invalidValue"));
        assert!(h.calls().is_empty(), "{body}: {:?}", h.calls());
    }
    assert!(h.app.teams().is_empty());
    h.stop().await;
}

/// A user deleted in the application directly (not through SCIM) is still in the sidecar's names
/// cache (up to `cache.ttl_secs`); a change that needs several per-member writes reads every added
/// user first, so it fails with nothing written rather than half-applied.
#[tokio::test]
async fn member_deleted_in_the_app_is_refused_before_any_write() {
    for model in [Model::Endpoints, Model::UserAttribute] {
        let h = setup(model).await;
        h.create_group("Eng", &["1001"]).await;
        let url = format!("{}/api/v1/users/1003", h.app.base_url());
        let a = h
            .send_url(
                http::Method::DELETE,
                &url,
                &[("x-api-key", crate::support::API_KEY)],
                None,
            )
            .await;
        assert_eq!(a.status, 204);
        h.reset();
        let a = h
            .patch("/Groups/501", replace_members(&["1002", "1003"]))
            .await;
        a.assert_error(400, Some("invalidValue"));
        assert!(
            a.body["detail"].as_str().unwrap().contains("1003"),
            "{}",
            a.body
        );
        let writes: Vec<String> = h
            .calls()
            .into_iter()
            .filter(|c| !c.starts_with("GET "))
            .collect();
        assert!(writes.is_empty(), "{model:?}: {writes:?}");
        assert_eq!(h.app.team_members(501), Some(vec![1001]), "{model:?}");
        h.stop().await;
    }
}
