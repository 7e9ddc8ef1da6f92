//! Hot reload: a valid new mapping changes behaviour (and keeps the id store); an invalid one is
//! refused, the old one keeps serving, and `/healthz` shows the failure; a request in flight
//! during a reload finishes on the configuration it started with.

use crate::support::{API_KEY, TOKEN, example_mapping_text, fetch, mapping_dir, okta_user};
use http::Method;
use scim_sidecar::config::{Config, token_digest};
use scim_sidecar::dryrun::{CannedAnswer, FakeApp};
use scim_sidecar::example_app;
use scim_sidecar::reload::Reloadable;
use scim_sidecar::runtime::{self, Running};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A config, the example mapping and its script in a temp folder, the app at `app_url`.
fn write_files(app_url: &str) -> PathBuf {
    let dir = mapping_dir("reload", &example_mapping_text());
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\ntoken_sha256 = [\"{}\"]\n[mapping]\nfile = \"mapping.toml\"\n\
             [app]\nbase_url = \"{app_url}\"\n",
            hex::encode(token_digest(TOKEN))
        ),
    )
    .unwrap();
    config
}

fn edit_mapping(config: &Path, from: &str, to: &str) {
    let path = config.with_file_name("mapping.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "the mapping has no `{from}`");
    std::fs::write(path, text.replace(from, to)).unwrap();
}

async fn serve(config_path: &Path) -> (Reloadable, Running) {
    let config = Config::load(Some(config_path), Vec::new()).unwrap();
    let mapping = runtime::load_mapping(&config).unwrap();
    let reloadable = Reloadable::new(&config, mapping, Some(config_path)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = runtime::spawn_reloadable(
        listener,
        &reloadable,
        config.server.shutdown_grace,
        std::future::pending(),
    )
    .unwrap();
    (reloadable, running)
}

async fn scim(
    running: &Running,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> crate::support::Answer {
    let auth = format!("Bearer {TOKEN}");
    let url = format!("http://{}/scim/v2{path}", running.addr);
    fetch(
        method,
        &url,
        &[
            ("authorization", &auth),
            ("content-type", "application/scim+json"),
        ],
        body,
    )
    .await
}

async fn healthz(running: &Running) -> Value {
    let a = fetch(
        Method::GET,
        &format!("http://{}/healthz", running.addr),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    a.body
}

const LOCALE_RULE: &str = "[[users.attribute]]\nscim = \"locale\"\napp = \"locale\"\n";

#[tokio::test]
async fn a_valid_reload_changes_behaviour_and_keeps_the_store() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = example_app::start(listener, API_KEY.to_string()).await;
    let config = write_files(&app.base_url());
    let (reloadable, running) = serve(&config).await;
    let dir = config.parent().unwrap();
    assert_eq!(
        reloadable.watched(),
        [
            config.clone(),
            dir.join("mapping.toml"),
            dir.join("example-app.rhai")
        ],
        "--watch looks at the config, the mapping and its script"
    );
    assert_eq!(
        healthz(&running).await,
        json!({"status": "ok", "config_generation": 1, "last_reload": null})
    );

    let created = scim(
        &running,
        Method::POST,
        "/Users",
        Some(okta_user("ada@example.com", "Ada", "L")),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["locale"], "en-US");
    let external_id = created.body["externalId"].clone();
    assert!(external_id.is_string());

    // The new mapping no longer maps locale.
    edit_mapping(&config, LOCALE_RULE, "");
    assert_eq!(reloadable.reload_from(&config, Vec::new()).await, Ok(2));
    let health = healthz(&running).await;
    assert_eq!(health["config_generation"], 2);
    assert_eq!(health["last_reload"]["ok"], true);
    assert_eq!(health["last_reload"]["errors"], 0);

    let read = scim(&running, Method::GET, "/Users/1001", None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.get("locale").is_none(), "{}", read.body);
    // Kept attributes live in the store, which survived the reload.
    assert_eq!(read.body["externalId"], external_id);
    running.stop().await;
    app.shutdown().await;
}

#[tokio::test]
async fn an_invalid_reload_keeps_the_old_configuration_and_says_so() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = example_app::start(listener, API_KEY.to_string()).await;
    app.seed(1);
    let config = write_files(&app.base_url());
    let (reloadable, running) = serve(&config).await;

    // Two problems: an unknown template variable and an unknown SCIM attribute.
    edit_mapping(
        &config,
        "path = \"/api/v1/users/{id}\"\nrecord",
        "path = \"/api/v1/users/{user_id}\"\nrecord",
    );
    edit_mapping(&config, "scim = \"locale\"", "scim = \"lcoale\"");
    let problems = reloadable
        .reload_from(&config, Vec::new())
        .await
        .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("users.get.path: unknown variable {user_id}"),
        "{problems:?}"
    );
    let health = healthz(&running).await;
    assert_eq!(health["config_generation"], 1);
    assert_eq!(health["last_reload"]["ok"], false);
    assert_eq!(health["last_reload"]["errors"], 2);

    // Still serving the first configuration.
    let read = scim(&running, Method::GET, "/Users/1001", None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["userName"], "user1@example.com");

    // A broken script and a broken config file are refused the same way.
    std::fs::write(
        config.with_file_name("example-app.rhai"),
        "fn to_app(scim, app, ctx) {",
    )
    .unwrap();
    let problems = reloadable
        .reload_from(&config, Vec::new())
        .await
        .unwrap_err();
    assert!(
        problems.iter().any(|p| p.contains("example-app.rhai")),
        "{problems:?}"
    );
    std::fs::write(&config, "[server]\nlistn = 1\n").unwrap();
    let problems = reloadable
        .reload_from(&config, Vec::new())
        .await
        .unwrap_err();
    assert!(problems[0].contains("listn"), "{problems:?}");
    // So is a setting that needs a restart.
    let restart = write_files(&app.base_url());
    let text = std::fs::read_to_string(&restart).unwrap()
        + "[store]\nkind = \"file\"\npath = \"ids.redb\"\n";
    std::fs::write(&restart, text).unwrap();
    let problems = reloadable
        .reload_from(&restart, Vec::new())
        .await
        .unwrap_err();
    assert_eq!(problems, ["store settings changed; restart to apply"]);
    assert_eq!(healthz(&running).await["config_generation"], 1);

    // A good one afterwards succeeds.
    assert_eq!(
        reloadable
            .reload_from(&write_files(&app.base_url()), Vec::new())
            .await,
        Ok(2)
    );
    assert_eq!(healthz(&running).await["last_reload"]["ok"], true);
    running.stop().await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_configuration_it_started_with() {
    let app = FakeApp::start("", &[], Vec::new()).await.unwrap();
    app.set_answers(vec![CannedAnswer {
        method: Some("GET".into()),
        path: Some("/api/v1/users/1001".into()),
        body: Some(json!({"user": {"id": 1001, "email": "ada@example.com", "locale": "en-GB", "status": "active"}})),
        times: Some(2),
        ..CannedAnswer::default()
    }]);
    let env = vec![
        (
            "SCIM_SIDECAR__AUTH__TOKEN_SHA256".to_string(),
            hex::encode(token_digest(TOKEN)),
        ),
        (
            "SCIM_SIDECAR__MAPPING__FILE".to_string(),
            scim_sidecar::demo::MAPPING_PATH.to_string(),
        ),
    ];
    let config = Config::load(None, env).unwrap();
    let old =
        scim_sidecar::demo::mapping_with_example_script(&example_mapping_text(), &app.base_url())
            .unwrap();
    let reloadable = Reloadable::new(&config, old, None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = runtime::spawn_reloadable(
        listener,
        &reloadable,
        config.server.shutdown_grace,
        std::future::pending(),
    )
    .unwrap();
    let base = format!("http://{}/scim/v2", running.addr);
    let auth = format!("Bearer {TOKEN}");

    let hold = app.hold_next();
    let in_flight = {
        let (url, auth) = (format!("{base}/Users/1001"), auth.clone());
        tokio::spawn(
            async move { fetch(Method::GET, &url, &[("authorization", &auth)], None).await },
        )
    };
    // The application has the request: the sidecar is waiting for its answer.
    hold.arrived.await.unwrap();
    let new_text = example_mapping_text().replace(LOCALE_RULE, "");
    let new = scim_sidecar::demo::mapping_with_example_script(&new_text, &app.base_url()).unwrap();
    assert_eq!(reloadable.install(&config, new, None), Ok(2));
    let _ = hold.release.send(());

    let old_answer = in_flight.await.unwrap();
    assert_eq!(old_answer.status, 200, "{}", old_answer.body);
    assert_eq!(
        old_answer.body["locale"], "en-GB",
        "the old mapping maps locale"
    );
    let new_answer = fetch(
        Method::GET,
        &format!("{base}/Users/1001"),
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(new_answer.status, 200, "{}", new_answer.body);
    assert!(
        new_answer.body.get("locale").is_none(),
        "{}",
        new_answer.body
    );
    assert_eq!(app.take_calls().len(), 2);
    running.stop().await;
}
