//! `scim-sidecar check` against the example application: every check passes with the shipped
//! mapping; a wrong API key, a wrong record path or id field, and an application that is down each
//! give their own fail line; the application only ever receives GET requests; and the command
//! exits 1 on any failure without printing the key.

use crate::support::{API_KEY, example_mapping_text};
use scim_sidecar::check::{self, Level, Report};
use scim_sidecar::example_app::{self, LegacyApp};

async fn app() -> LegacyApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    example_app::start(listener, API_KEY.to_string()).await
}

async fn check_with(text: &str, base_url: &str) -> Report {
    let mapping = scim_sidecar::demo::mapping_with_example_script(text, base_url)
        .unwrap_or_else(|e| panic!("test mapping is invalid:\n{e}"));
    check::run(&mapping).await
}

fn level(report: &Report, name: &str) -> Level {
    report
        .line(name)
        .unwrap_or_else(|| panic!("no `{name}` line:\n{}", report.render_text()))
        .level
}

fn message<'r>(report: &'r Report, name: &str) -> &'r str {
    &report
        .line(name)
        .unwrap_or_else(|| panic!("no `{name}` line:\n{}", report.render_text()))
        .message
}

/// Every request the application received was a GET carrying the API key.
fn only_gets(app: &LegacyApp) -> usize {
    let requests = app.requests();
    for r in &requests {
        assert_eq!(r.method, "GET", "{} {}", r.method, r.path);
    }
    requests.len()
}

/// The first occurrence of `from` replaced (the users section comes before the groups one).
fn replace_first(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

#[tokio::test]
async fn the_shipped_mapping_passes_every_check_with_gets_only() {
    let app = app().await;
    let users = app.seed(3);
    app.seed_team("Eng", &users[..2]);
    app.seed_team("Ops", &[]);
    let report = check_with(&example_mapping_text(), &app.base_url()).await;
    let text = report.render_text();
    assert!(!report.failed(), "{text}");
    for name in [
        "reachable",
        "credentials",
        "users.list",
        "users.id",
        "users.paging",
        "users.get",
        "users.attributes",
        "users.hooks.from_app",
        "users.filter",
        "groups.list",
        "groups.id",
        "groups.paging",
        "groups.get",
        "groups.filter",
        "groups.members",
    ] {
        assert_eq!(level(&report, name), Level::Ok, "{name}:\n{text}");
    }
    let reachable = message(&report, "reachable");
    assert!(
        reachable.starts_with(&format!(
            "GET {}/api/v1/users?page=1&per_page=1 → 200 in ",
            app.base_url()
        )),
        "{reachable}"
    );
    assert!(
        message(&report, "users.list").contains(
            r#"record path "data" holds an array of 1 record(s); total field "meta.total" = 3"#
        ),
        "{text}"
    );
    assert_eq!(
        message(&report, "users.id"),
        r#"field "id" present (number 1001)"#
    );
    assert!(
        message(&report, "users.get").ends_with(
            r#"/api/v1/users/1001 → 200; record path "user" holds an object with id 1001"#
        ),
        "{text}"
    );
    assert!(
        message(&report, "groups.members").contains("member id at \"user_id\" present"),
        "{text}"
    );
    // The seeded users hold every mapped field (some as null): nothing to warn about.
    assert_eq!(report.count(Level::Warn), 0, "{text}");
    // Secrets are masked: the header is named, its value never printed.
    assert!(!text.contains(API_KEY), "{text}");
    assert!(text.contains("X-Api-Key: ****"), "{text}");
    let json = report.render_json().to_string();
    assert!(!json.contains(API_KEY));

    // Only GETs, each with the API key, and the filter probe asked the application itself.
    let n = only_gets(&app);
    assert!(n >= 8, "{n} requests");
    let requests = app.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-api-key") == Some(API_KEY))
    );
    assert!(
        requests
            .iter()
            .any(|r| r.query_param("email").as_deref() == Some("user1@example.com")),
        "the userName pushdown was probed"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/api/v1/teams/501/members")
    );
    // Nothing changed in the application.
    assert_eq!(app.users().len(), 3);
    assert_eq!(app.team_members(501), Some(users[..2].to_vec()));
    app.shutdown().await;
}

#[tokio::test]
async fn a_wrong_api_key_fails_the_credentials_check_and_stops() {
    let app = app().await;
    app.seed(2);
    let text = example_mapping_text().replace(API_KEY, "not-the-key");
    let report = check_with(&text, &app.base_url()).await;
    let out = report.render_text();
    assert!(report.failed());
    assert_eq!(level(&report, "reachable"), Level::Ok, "{out}");
    assert_eq!(level(&report, "credentials"), Level::Fail, "{out}");
    assert_eq!(
        message(&report, "credentials"),
        "HTTP 401: the auth header X-Api-Key was refused; check app.auth.secret"
    );
    assert!(report.line("users.list").is_none(), "{out}");
    assert!(!out.contains("not-the-key"), "{out}");
    assert_eq!(only_gets(&app), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_wrong_record_path_is_named_in_the_list_line() {
    let app = app().await;
    app.seed(2);
    let text = replace_first(
        &example_mapping_text(),
        "records = \"data\"",
        "records = \"items\"",
    );
    let report = check_with(&text, &app.base_url()).await;
    let out = report.render_text();
    assert!(report.failed());
    assert_eq!(level(&report, "credentials"), Level::Ok, "{out}");
    assert_eq!(level(&report, "users.list"), Level::Fail, "{out}");
    assert_eq!(
        message(&report, "users.list"),
        "record path \"items\" is not in the answer (list.records); its top-level keys: data, meta"
    );
    // Groups are still checked, and pass.
    assert_eq!(level(&report, "groups.list"), Level::Ok, "{out}");
    only_gets(&app);
    app.shutdown().await;
}

#[tokio::test]
async fn a_wrong_get_record_path_and_id_field_are_named() {
    let app = app().await;
    app.seed(2);
    let text = replace_first(
        &example_mapping_text(),
        "id_field = \"id\"",
        "id_field = \"uid\"",
    );
    let report = check_with(&text, &app.base_url()).await;
    let out = report.render_text();
    assert_eq!(level(&report, "users.id"), Level::Fail, "{out}");
    assert!(
        message(&report, "users.id").starts_with(
            "field \"uid\" is not in the listed record (id_field); its keys: id, email,"
        ),
        "{out}"
    );
    assert!(report.line("users.get").is_none(), "{out}");

    let text = replace_first(
        &example_mapping_text(),
        "record = \"user\"",
        "record = \"account\"",
    );
    let report = check_with(&text, &app.base_url()).await;
    let out = report.render_text();
    assert_eq!(level(&report, "users.get"), Level::Fail, "{out}");
    assert!(
        message(&report, "users.get").ends_with(
            "/api/v1/users/1001 → 200; record path \"account\" is not in the answer (get.record); \
             its top-level keys: user"
        ),
        "{out}"
    );
    only_gets(&app);
    app.shutdown().await;
}

#[tokio::test]
async fn a_value_map_mismatch_fails_the_conversion_check() {
    let app = app().await;
    app.seed(1);
    let text = replace_first(
        &example_mapping_text(),
        r#"map = { "true" = "active", "false" = "suspended" }"#,
        r#"map = { "true" = "enabled", "false" = "suspended" }"#,
    );
    let report = check_with(&text, &app.base_url()).await;
    let out = report.render_text();
    assert_eq!(level(&report, "users.convert"), Level::Fail, "{out}");
    assert!(
        message(&report, "users.convert").contains("active: the application value at `status`"),
        "{out}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_mapped_field_missing_from_the_record_is_a_warning_not_a_failure() {
    let app = app().await;
    app.seed(2);
    let text = replace_first(
        &example_mapping_text(),
        "app = \"locale\"",
        "app = \"language\"",
    );
    let report = check_with(&text, &app.base_url()).await;
    let out = report.render_text();
    assert!(!report.failed(), "{out}");
    assert_eq!(level(&report, "users.attribute"), Level::Warn, "{out}");
    assert_eq!(
        message(&report, "users.attribute"),
        "field \"language\" mapped to locale is absent in the sample record"
    );
    assert_eq!(
        message(&report, "users.attributes"),
        "9 of 10 mapped field(s) present in the sample record"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_application_that_is_down_fails_reachable_with_the_cause() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let report = check_with(&example_mapping_text(), &format!("http://{addr}")).await;
    let out = report.render_text();
    assert!(report.failed());
    assert_eq!(level(&report, "reachable"), Level::Fail, "{out}");
    let m = message(&report, "reachable");
    assert!(
        m.starts_with(&format!(
            "GET http://{addr}/api/v1/users?page=1&per_page=1 failed: connect:"
        )),
        "{m}"
    );
    assert_eq!(level(&report, "credentials"), Level::Skip, "{out}");
    assert_eq!(report.lines.len(), 2, "{out}");
}

#[tokio::test]
async fn an_empty_application_warns_and_does_not_fail() {
    let app = app().await;
    let report = check_with(&example_mapping_text(), &app.base_url()).await;
    let out = report.render_text();
    assert!(!report.failed(), "{out}");
    assert_eq!(level(&report, "users.records"), Level::Warn, "{out}");
    assert_eq!(level(&report, "groups.records"), Level::Warn, "{out}");
    only_gets(&app);
    app.shutdown().await;
}

/// Runs the binary's `check` with these arguments and extra environment (off the runtime's
/// thread, so the in-process application keeps answering).
async fn binary(args: &[&str], env: Vec<(&'static str, String)>) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_scim-sidecar"))
            .args(&args)
            .env_remove("RUST_LOG")
            .env_remove("LEGACY_APP_API_KEY")
            .env_remove("SCIM_SIDECAR__APP__BASE_URL")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_command_exits_with_the_outcome_and_prints_no_secret() {
    let app = app().await;
    app.seed(2);
    let mapping = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/mappings/example-app/mapping.toml"
    );
    let env = |key: &str, url: String| {
        vec![
            ("LEGACY_APP_API_KEY", key.to_string()),
            ("SCIM_SIDECAR__APP__BASE_URL", url),
        ]
    };

    let ok = binary(
        &["check", "--mapping", mapping],
        env(API_KEY, app.base_url()),
    )
    .await;
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.contains("ok    credentials"), "{out}");
    assert!(!out.contains(API_KEY), "{out}");

    let refused = binary(
        &["check", "--mapping", mapping, "--json"],
        env("wrong-key", app.base_url()),
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["checks"][1]["check"], "credentials");
    assert_eq!(json["checks"][1]["level"], "fail");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("wrong-key"));

    // An unreadable secret is a load problem, reported before anything is sent.
    let before = app.requests().len();
    let missing = binary(&["check", "--mapping", mapping], Vec::new()).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("LEGACY_APP_API_KEY"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert_eq!(app.requests().len(), before);
    only_gets(&app);
    app.shutdown().await;
}

#[tokio::test]
async fn the_roles_as_groups_mapping_passes_too() {
    let app = app().await;
    app.seed(2);
    let text = include_str!("../../mappings/example-app/roles-as-groups.toml").replace(
        "secret = { env = \"LEGACY_APP_API_KEY\" }",
        &format!("secret = {{ value = \"{API_KEY}\" }}"),
    );
    let report = check_with(&text, &app.base_url()).await;
    let out = report.render_text();
    assert!(!report.failed(), "{out}");
    assert_eq!(level(&report, "groups.list"), Level::Ok, "{out}");
    // Membership is the users' single `role` field.
    assert_eq!(level(&report, "groups.members"), Level::Ok, "{out}");
    assert_eq!(
        message(&report, "groups.members"),
        "field \"role\" in the sample user holds a string"
    );
    only_gets(&app);
    app.shutdown().await;
}
