//! Bad and hostile input: malformed, mistyped, non-UTF-8, oversized and deeply nested bodies, bad
//! filters, unknown routes and methods, missing or wrong tokens, odd but harmless URLs, and values
//! that try to change which application URL is called. Every answer is a SCIM error (or a normal
//! answer), and the application receives nothing it should not.

use crate::support::{Harness, TOKEN, enc, okta_user, patch_op};
use http::Method;
use serde_json::{Value, json};

/// Sends raw bytes as a SCIM request with the right token.
async fn raw(h: &Harness, method: Method, path: &str, body: Vec<u8>) -> crate::support::Answer {
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/scim+json"),
    ];
    h.send(method, path, &headers, Some(body)).await
}

fn detail(a: &crate::support::Answer) -> String {
    a.body["detail"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn malformed_json_is_invalid_syntax_and_never_reaches_the_app() {
    let h = Harness::start().await;
    h.app.seed(1);
    for (method, path) in [
        (Method::POST, "/Users"),
        (Method::PUT, "/Users/1001"),
        (Method::PATCH, "/Users/1001"),
        (Method::POST, "/Users/.search"),
    ] {
        for body in [
            &b"{\"userName\": "[..],
            b"{\"userName\": \"a\",}",
            b"not json",
            b"",
        ] {
            let a = raw(&h, method.clone(), path, body.to_vec()).await;
            a.assert_error(400, Some("invalidSyntax"));
        }
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert_eq!(h.app.user(1001).unwrap()["first_name"], "User");
    h.stop().await;
}

#[tokio::test]
async fn wrong_types_are_refused_before_any_app_call() {
    let h = Harness::start().await;
    for (body, scim_type) in [
        (json!({"userName": 5}), "invalidValue"),
        (
            json!({"userName": ["a@example.com", "b@example.com"]}),
            "invalidValue",
        ),
        (
            json!({"userName": {"value": "a@example.com"}}),
            "invalidValue",
        ),
        (
            json!({"userName": "a@example.com", "emails": "a@example.com"}),
            "invalidValue",
        ),
        (
            json!({"userName": "a@example.com", "active": "maybe"}),
            "invalidValue",
        ),
        (
            json!({"userName": "a@example.com", "name": "Ada"}),
            "invalidValue",
        ),
        (json!({"name": {"givenName": "Ada"}}), "invalidValue"),
        (json!({"userName": "  "}), "invalidValue"),
        (json!(["userName", "a@example.com"]), "invalidSyntax"),
        (json!("a@example.com"), "invalidSyntax"),
    ] {
        let a = h.post("/Users", body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        a.assert_error(400, Some(scim_type));
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert!(h.app.users().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn malformed_patch_requests_are_refused_before_any_app_call() {
    let h = Harness::start().await;
    h.app.seed(1);
    for body in [
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}),
        json!({"Operations": "replace"}),
        json!({"Operations": [{"path": "active", "value": false}]}),
        json!({"Operations": [{"op": "frobnicate", "path": "active", "value": false}]}),
        json!({"Operations": [42]}),
    ] {
        let a = h.patch("/Users/1001", body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        a.assert_error(400, Some("invalidSyntax"));
    }
    for body in [
        patch_op(json!([{"op": "replace", "path": "name..givenName", "value": "x"}])),
        patch_op(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
    ] {
        let a = h.patch("/Users/1001", body.clone()).await;
        a.assert_error(400, Some("invalidPath"));
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert_eq!(h.app.user(1001).unwrap()["status"], "active");
    h.stop().await;
}

#[tokio::test]
async fn non_utf8_bodies_are_invalid_syntax() {
    let h = Harness::start().await;
    let mut inside = b"{\"userName\": \"a".to_vec();
    inside.extend_from_slice(&[0xff, 0xfe]);
    inside.extend_from_slice(b"@example.com\"}");
    for body in [vec![0xff, 0xfe, 0x00, 0x7b], inside] {
        let a = raw(&h, Method::POST, "/Users", body).await;
        a.assert_error(400, Some("invalidSyntax"));
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.stop().await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let h = Harness::start().await;
    let mut body = okta_user("ada@example.com", "Ada", "Lovelace");
    body["nickName"] = json!("x".repeat(1 << 20));
    let a = h.post("/Users", body).await;
    a.assert_error(413, None);
    assert!(detail(&a).contains("1048576"), "{}", a.body);
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    // Just under the limit is served (an unknown attribute is ignored).
    let mut body = okta_user("ada@example.com", "Ada", "Lovelace");
    body["padding"] = json!("x".repeat(1000 * 1000));
    let a = h.post("/Users", body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    h.stop().await;
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_a_crash() {
    let h = Harness::start().await;
    h.app.seed(1);
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let create = format!(r#"{{"userName":"ada@example.com","nickName":{nested}}}"#);
    let a = raw(&h, Method::POST, "/Users", create.into_bytes()).await;
    a.assert_error(400, Some("invalidSyntax"));
    let patch =
        format!(r#"{{"Operations":[{{"op":"replace","path":"nickName","value":{nested}}}]}}"#);
    let a = raw(&h, Method::PATCH, "/Users/1001", patch.into_bytes()).await;
    a.assert_error(400, Some("invalidSyntax"));
    let objects = format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let a = raw(&h, Method::PUT, "/Users/1001", objects.into_bytes()).await;
    a.assert_error(400, Some("invalidSyntax"));
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    // Still serving.
    assert_eq!(h.get("/Users/1001").await.status, 200);
    h.stop().await;
}

#[tokio::test]
async fn bad_filters_are_invalid_filter_naming_the_column() {
    let h = Harness::start().await;
    h.app.seed(1);
    for (filter, column) in [
        ("userName eq", 12),
        ("userName eq \"abc", 13),
        ("userName xx \"a\"", 10),
        ("(userName eq \"a\"", 1),
        ("userName eq \"a\" and", 20),
        ("userName eq \"a\" foo", 17),
        ("userName eq 'a'", 13),
    ] {
        let a = h.get(&format!("/Users?filter={}", enc(filter))).await;
        a.assert_error(400, Some("invalidFilter"));
        assert!(
            detail(&a).contains(&format!("column {column}")),
            "{filter}: {}",
            a.body
        );
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.stop().await;
}

#[tokio::test]
async fn filters_on_unmapped_attributes_are_refused_not_ignored() {
    let h = Harness::start().await;
    h.app.seed(2);
    for (filter, attribute) in [
        ("title eq \"Engineer\"", "title"),
        ("nickName eq \"ada\"", "nickName"),
        (
            "userName eq \"user1@example.com\" and title eq \"x\"",
            "title",
        ),
        (
            "phoneNumbers[type eq \"work\"].value eq \"1\"",
            "phoneNumbers",
        ),
        ("foo eq \"bar\"", "foo"),
    ] {
        let a = h.get(&format!("/Users?filter={}", enc(filter))).await;
        a.assert_error(400, Some("invalidFilter"));
        assert!(detail(&a).contains(attribute), "{filter}: {}", a.body);
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.stop().await;
}

#[tokio::test]
async fn bad_paging_values_are_invalid_value() {
    let h = Harness::start().await;
    for q in ["startIndex=abc", "count=ten", "count=1.5"] {
        let a = h.get(&format!("/Users?{q}")).await;
        a.assert_error(400, Some("invalidValue"));
        assert!(
            detail(&a).contains(q.split('=').next().unwrap()),
            "{q}: {}",
            a.body
        );
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.stop().await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_scim_bodies() {
    let h = Harness::start().await;
    h.app.seed(1);
    for path in ["/Foo", "/Users/1001/extra", "", "/Groups/501/extra"] {
        h.get(path).await.assert_error(404, None);
    }
    // Outside the base path: no token needed, still a SCIM answer.
    for path in ["/", "/scim", "/scim/v1/Users", "/api/v1/users"] {
        let a = h
            .send_url(Method::GET, &format!("{}{path}", h.root()), &[], None)
            .await;
        a.assert_error(404, None);
    }
    for (method, path, allow) in [
        (Method::DELETE, "/Users", "GET, POST"),
        (Method::PUT, "/Users", "GET, POST"),
        (Method::POST, "/Users/1001", "GET, PUT, PATCH, DELETE"),
        (Method::GET, "/Users/.search", "POST"),
        (Method::PUT, "/ServiceProviderConfig", "GET"),
        (Method::DELETE, "/Schemas", "GET"),
    ] {
        let a = h.scim(method.clone(), path, Some(json!({}))).await;
        a.assert_error(405, None);
        assert_eq!(a.header("allow"), Some(allow), "{method} {path}");
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert_eq!(h.app.users().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn missing_or_wrong_tokens_are_401_with_a_bearer_challenge() {
    let h = Harness::start().await;
    h.app.seed(1);
    let wrong = format!("Bearer {TOKEN}x");
    let basic = "Basic dXNlcjpwYXNz".to_string();
    for auth in [
        None,
        Some(wrong.as_str()),
        Some("Bearer "),
        Some("Bearer"),
        Some(basic.as_str()),
        Some(TOKEN),
    ] {
        for (method, path) in [
            (Method::GET, "/Users"),
            (Method::GET, "/Users/1001"),
            (Method::POST, "/Users"),
            (Method::DELETE, "/Users/1001"),
            (Method::GET, "/ServiceProviderConfig"),
            (Method::GET, "/Nowhere"),
        ] {
            let mut headers = vec![("content-type", "application/scim+json")];
            if let Some(a) = auth {
                headers.push(("authorization", a));
            }
            let body = serde_json::to_vec(&okta_user("eve@example.com", "Eve", "X")).unwrap();
            let a = h.send(method.clone(), path, &headers, Some(body)).await;
            a.assert_error(401, None);
            assert!(
                a.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{auth:?} {method} {path}: {:?}",
                a.header("www-authenticate")
            );
        }
    }
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert_eq!(h.app.users().len(), 1);
    // The scheme is case-insensitive.
    let lower = format!("bearer {TOKEN}");
    let a = h
        .send(
            Method::GET,
            "/Users/1001",
            &[("authorization", lower.as_str())],
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    h.stop().await;
}

#[tokio::test]
async fn trailing_slashes_and_a_trailing_ampersand_work() {
    let h = Harness::start().await;
    h.app.seed(2);
    let a = h.get("/Users/").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 2);
    // A base URL configured with a trailing slash gives `…/v2//Users`.
    let a = h.get("//Users/1002").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], "1002");
    let a = h.get("/Users/1002/").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], "1002");
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/users?page=1&per_page=100",
            "GET /api/v1/users/1002",
            "GET /api/v1/users/1002",
        ]
    );

    // OneLogin's trailing `&` (and `+` for spaces).
    h.reset();
    let a = h
        .get("/Users?filter=userName+eq+%22user1%40example.com%22&startIndex=1&count=10&")
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 1);
    assert_eq!(a.body["Resources"][0]["id"], "1001");
    let a = h.get("/Users?&&startIndex=2&count=1&").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["startIndex"], 2);
    assert_eq!(a.body["itemsPerPage"], 1);
    assert_eq!(a.body["Resources"][0]["id"], "1002");
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/users?email=user1%40example.com&page=1&per_page=100",
            "GET /api/v1/users?page=1&per_page=100",
        ]
    );
    h.stop().await;
}

/// Filter values that would change the application URL if pasted into it unencoded: each one
/// becomes exactly the `email` parameter, nothing else.
#[tokio::test]
async fn filter_values_cannot_change_the_app_url() {
    let h = Harness::start().await;
    h.app.seed(1);
    for (value, encoded) in [
        ("../../admin", "..%2F..%2Fadmin"),
        ("a?per_page=1", "a%3Fper_page%3D1"),
        ("a#fragment", "a%23fragment"),
        ("%2e%2e%2fadmin", "%252e%252e%252fadmin"),
        (
            "x&email=user1@example.com",
            "x%26email%3Duser1%40example.com",
        ),
        ("a+b c", "a%2Bb%20c"),
        ("a;b=c/d\\e", "a%3Bb%3Dc%2Fd%5Ce"),
    ] {
        h.reset();
        let filter = format!("userName eq \"{}\"", value.replace('\\', "\\\\"));
        let a = h.get(&format!("/Users?filter={}", enc(&filter))).await;
        assert_eq!(a.status, 200, "{value}: {}", a.body);
        assert_eq!(a.body["totalResults"], 0, "{value}: {}", a.body);
        let seen = h.app.requests();
        assert_eq!(seen.len(), 1, "{value}: {:?}", h.calls());
        assert_eq!(seen[0].method, "GET");
        assert_eq!(seen[0].path, "/api/v1/users", "{value}");
        assert_eq!(
            seen[0].query.as_deref(),
            Some(format!("email={encoded}&page=1&per_page=100").as_str()),
            "{value}"
        );
        assert_eq!(seen[0].query_param("email").as_deref(), Some(value));
    }
    h.stop().await;
}

/// CR/LF in a filter value, as JSON escapes or raw: decoded, then percent-encoded into the one
/// parameter; never a header line of its own.
#[tokio::test]
async fn line_breaks_in_filter_values_cannot_split_the_app_request() {
    let h = Harness::start().await;
    let a = h
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"a\\r\\nX-Injected: 1\"")
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users?email=a%0D%0AX-Injected%3A%201&page=1&per_page=100"]
    );
    assert_eq!(h.app.requests()[0].header("x-injected"), None);

    // Raw control characters inside the quotes are taken as they are, and encoded the same way.
    h.reset();
    let a = h
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"a\r\nX-Injected: 1\"")
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["totalResults"], 0);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users?email=a%0D%0AX-Injected%3A%201&page=1&per_page=100"]
    );
    assert_eq!(h.app.requests()[0].header("x-injected"), None);
    h.stop().await;
}

/// Ids that would reach another record or endpoint if pasted into the path unencoded: each one
/// is exactly one path segment, so the application answers 404 and nothing changes.
#[tokio::test]
async fn ids_cannot_change_the_app_path() {
    let h = Harness::start().await;
    h.app.seed(2);
    let before = h.app.users();
    for (id, encoded) in [
        ("../1002", "%2E%2E%2F1002"),
        ("..", "%2E%2E"),
        ("1001/suspend", "1001%2Fsuspend"),
        ("1001?x=1", "1001%3Fx%3D1"),
        ("1001#x", "1001%23x"),
        ("%2e%2e", "%252e%252e"),
        ("1001\r\nX-Injected: 1", "1001%0D%0AX-Injected%3A%201"),
        ("1001&email=x", "1001%26email%3Dx"),
        ("1001 ", "1001%20"),
    ] {
        let scim_path = format!("/Users/{}", enc(id));
        let app_path = format!("/api/v1/users/{encoded}");
        h.reset();
        h.get(&scim_path).await.assert_error(404, None);
        h.delete(&scim_path).await.assert_error(404, None);
        let put = h
            .put(&scim_path, okta_user("user1@example.com", "Eve", "X"))
            .await;
        put.assert_error(404, None);
        let patch = h
            .patch(
                &scim_path,
                patch_op(json!([{"op": "replace", "value": {"active": false}}])),
            )
            .await;
        patch.assert_error(404, None);
        let seen = h.app.requests();
        let lines: Vec<(String, String, Option<String>)> = seen
            .iter()
            .map(|r| (r.method.clone(), r.path.clone(), r.query.clone()))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("GET".to_string(), app_path.clone(), None),
                ("DELETE".to_string(), app_path.clone(), None),
                ("GET".to_string(), app_path.clone(), None),
                ("GET".to_string(), app_path.clone(), None),
            ],
            "{id:?}"
        );
        assert!(seen.iter().all(|r| r.header("x-injected").is_none()));
    }
    assert_eq!(h.app.users(), before, "no record changed");
    h.stop().await;
}

/// A hostile userName travels only inside the JSON body.
#[tokio::test]
async fn a_hostile_user_name_stays_in_the_body() {
    let h = Harness::start().await;
    let name = "x&email=victim@example.com/../?#%2e\r\n";
    let a = h.post("/Users", okta_user(name, "Eve", "X")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["userName"], name);
    let seen = h.app.requests();
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    assert_eq!(
        seen[0].body.as_ref().unwrap()["user"]["email"],
        Value::from(name)
    );
    h.stop().await;
}
