//! The application failing: server errors, rate limiting, slowness, dropped connections, broken
//! JSON and rejected credentials, each answered with the right SCIM status, retried only where
//! that is safe, and never leaking the application's body into `detail`.

use crate::support::{Answer, Env, Harness, example_mapping_with, okta_user, patch_op};
use scim_sidecar::example_app::Fault;
use serde_json::json;
use std::time::{Duration, Instant};

/// Text planted in every faulty application body; it must never reach a SCIM answer.
const MARKER: &str = "LEAK-3f9a internal stack trace at db.users";

fn status_fault(status: u16, times: usize) -> Fault {
    Fault::Status {
        status,
        body: format!(r#"{{"error":"{MARKER}"}}"#),
        times,
    }
}

fn assert_no_leak(a: &Answer) {
    let text = a.body.to_string();
    assert!(
        !text.contains("LEAK-3f9a"),
        "application body leaked: {text}"
    );
    assert!(
        !text.contains("invalid api key"),
        "application body leaked: {text}"
    );
    assert!(!text.contains("trunc"), "application body leaked: {text}");
}

#[tokio::test]
async fn app_500_is_502_and_not_retried() {
    let h = Harness::start().await;
    h.app.seed(1);
    h.app.inject(status_fault(500, 1));
    let a = h.get("/Users/1001").await;
    a.assert_error(502, None);
    assert_no_leak(&a);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);

    h.reset();
    h.app.inject(status_fault(500, 1));
    let a = h
        .post("/Users", okta_user("ada@example.com", "Ada", "L"))
        .await;
    a.assert_error(502, None);
    assert_no_leak(&a);
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    assert_eq!(h.app.users().len(), 1);

    // The fault is over: normal service.
    h.reset();
    assert_eq!(h.get("/Users/1001").await.status, 200);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    h.stop().await;
}

#[tokio::test]
async fn app_503_is_retried_for_reads_only() {
    let h = Harness::start().await;
    h.app.seed(1);
    // One 503, then success: the retry hides it.
    h.app.inject(status_fault(503, 1));
    let a = h.get("/Users/1001").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "GET /api/v1/users/1001"]
    );

    // 1 + retries (2) attempts, then 502.
    h.reset();
    h.app.inject(status_fault(503, 3));
    let a = h.get("/Users?startIndex=1&count=10").await;
    a.assert_error(502, None);
    assert_no_leak(&a);
    assert_eq!(h.calls(), ["GET /api/v1/users?page=1&per_page=100"; 3]);

    // A create is not idempotent: one attempt.
    h.reset();
    h.app.inject(status_fault(503, 3));
    let a = h
        .post("/Users", okta_user("ada@example.com", "Ada", "L"))
        .await;
    a.assert_error(502, None);
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    h.stop().await;
}

#[tokio::test]
async fn app_429_is_429_with_an_integer_retry_after() {
    let h = Harness::start().await;
    h.app.seed(1);
    for (method, path) in [
        ("GET", "/Users/1001"),
        ("GET", "/Users"),
        ("POST", "/Users"),
    ] {
        h.reset();
        h.app.inject(status_fault(429, 1));
        let a = if method == "POST" {
            h.post(path, okta_user("ada@example.com", "Ada", "L")).await
        } else {
            h.get(path).await
        };
        a.assert_error(429, None);
        assert_no_leak(&a);
        let retry = a.header("retry-after").expect("Retry-After");
        assert_eq!(retry, "7", "the application's delay is passed on");
        assert!(retry.parse::<u64>().is_ok());
        assert_eq!(h.calls().len(), 1, "{method} {path}: {:?}", h.calls());
    }
    assert_eq!(h.app.users().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn app_slower_than_the_timeout_is_504() {
    let mapping = example_mapping_with(&[("timeout_ms = 10000", "timeout_ms = 200")]);
    let h = Harness::with_mapping(&mapping, Env::new()).await;
    h.app.seed(1);
    h.app.inject(Fault::Delay {
        millis: 1500,
        times: 1,
    });
    let started = Instant::now();
    let a = h.get("/Users/1001").await;
    let took = started.elapsed();
    a.assert_error(504, None);
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}"
    );
    // A timed-out call is not retried (the application may still be working on it).
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);

    h.reset();
    h.app.inject(Fault::Delay {
        millis: 1500,
        times: 1,
    });
    let a = h
        .patch(
            "/Users/1001",
            patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    a.assert_error(504, None);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"]);
    assert_eq!(h.app.user(1001).unwrap()["status"], "active");

    // Within the timeout: served.
    h.reset();
    let a = h.get("/Users/1001").await;
    assert_eq!(a.status, 200, "{}", a.body);
    h.stop().await;
}

#[tokio::test]
async fn dropped_connection_on_a_create_is_502_without_a_retry() {
    let h = Harness::start().await;
    h.app.inject(Fault::Drop { times: 3 });
    let a = h
        .post("/Users", okta_user("ada@example.com", "Ada", "L"))
        .await;
    a.assert_error(502, None);
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    assert!(h.app.users().is_empty());
    h.stop().await;
}

#[tokio::test]
async fn dropped_connections_on_a_read_are_retried_then_502() {
    let h = Harness::start().await;
    h.app.seed(1);
    // Every attempt dropped: 1 + retries (2) attempts.
    h.app.inject(Fault::Drop { times: 3 });
    let a = h.get("/Users/1001").await;
    a.assert_error(502, None);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"; 3]);

    // One drop: the retry succeeds.
    h.reset();
    h.app.inject(Fault::Drop { times: 1 });
    let a = h.get("/Users/1001").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(h.calls(), ["GET /api/v1/users/1001"; 2]);
    h.stop().await;
}

#[tokio::test]
async fn malformed_json_from_the_app_is_502() {
    let h = Harness::start().await;
    h.app.seed(1);
    for path in [
        "/Users/1001",
        "/Users?startIndex=1&count=10",
        "/Users?filter=userName%20eq%20%22user1%40example.com%22",
    ] {
        h.reset();
        h.app.inject(Fault::MalformedJson { times: 1 });
        let a = h.get(path).await;
        a.assert_error(502, None);
        assert_no_leak(&a);
        assert_eq!(h.calls().len(), 1, "{path}: {:?}", h.calls());
    }
    h.reset();
    h.app.inject(Fault::MalformedJson { times: 1 });
    let a = h
        .post("/Users", okta_user("ada@example.com", "Ada", "L"))
        .await;
    a.assert_error(502, None);
    assert_no_leak(&a);
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    h.stop().await;
}

#[tokio::test]
async fn wrong_api_key_is_502_not_401() {
    let mapping = example_mapping_with(&[(crate::support::API_KEY, "not-the-application-key")]);
    let h = Harness::with_mapping(&mapping, Env::new()).await;
    h.app.seed(1);
    for a in [
        h.get("/Users/1001").await,
        h.get("/Users?filter=userName%20eq%20%22user1%40example.com%22")
            .await,
        h.post("/Users", okta_user("ada@example.com", "Ada", "L"))
            .await,
    ] {
        a.assert_error(502, None);
        assert_no_leak(&a);
        assert_eq!(a.header("www-authenticate"), None, "not the client's token");
        assert!(
            a.body["detail"].as_str().unwrap().contains("credentials"),
            "{}",
            a.body
        );
    }
    assert_eq!(
        h.calls(),
        [
            "GET /api/v1/users/1001",
            "GET /api/v1/users?email=user1%40example.com&page=1&per_page=100",
            "POST /api/v1/users",
        ]
    );
    assert!(
        h.app
            .requests()
            .iter()
            .all(|r| r.header("x-api-key") == Some("not-the-application-key"))
    );
    assert_eq!(h.app.users().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn application_statuses_map_to_scim_without_leaking_bodies() {
    let h = Harness::start().await;
    h.app.seed(1);
    // (application status on GET /Users/1001, SCIM status, scimType)
    for (status, scim, scim_type) in [
        (400, 400, Some("invalidValue")),
        (401, 502, None),
        (403, 502, None),
        (404, 404, None),
        (418, 502, None),
        (422, 400, Some("invalidValue")),
        (500, 502, None),
        (501, 502, None),
        (504, 502, None),
    ] {
        h.reset();
        h.app.inject(status_fault(status, 1));
        let a = h.get("/Users/1001").await;
        a.assert_error(scim, scim_type);
        assert_no_leak(&a);
        assert_eq!(h.calls(), ["GET /api/v1/users/1001"], "{status}");
    }
    // On a create, the mapping's conflict status (422) means "exists".
    h.reset();
    h.app.inject(status_fault(422, 1));
    let a = h
        .post("/Users", okta_user("ada@example.com", "Ada", "L"))
        .await;
    a.assert_error(409, Some("uniqueness"));
    assert_no_leak(&a);
    assert_eq!(h.calls(), ["POST /api/v1/users"]);
    h.stop().await;
}

#[tokio::test]
async fn a_failed_suspend_leaves_the_user_active() {
    let h = Harness::start().await;
    h.app.seed(1);
    // The read succeeds, the suspend fails.
    h.app.inject(Fault::Delay {
        millis: 0,
        times: 1,
    });
    h.app.inject(status_fault(500, 1));
    let a = h
        .patch(
            "/Users/1001",
            patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    a.assert_error(502, None);
    assert_no_leak(&a);
    assert_eq!(
        h.calls(),
        ["GET /api/v1/users/1001", "POST /api/v1/users/1001/suspend"]
    );
    assert_eq!(h.app.user(1001).unwrap()["status"], "active");
    let got = h.get("/Users/1001").await;
    assert_eq!(got.body["active"], true);
    h.stop().await;
}
