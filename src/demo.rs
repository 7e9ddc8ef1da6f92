//! `scim-sidecar demo`: the example application and the sidecar in one process, with the shipped
//! example mapping embedded in the binary, so a newcomer sees the product work with one command.

use crate::cli;
use crate::config::{Config, LogFormat, token_digest};
use crate::example_app;
use crate::mapping::{Mapping, load_mapping_str};
use crate::{runtime, server, telemetry};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// The environment variable the example mapping reads the application's API key from.
pub const API_KEY_ENV: &str = "LEGACY_APP_API_KEY";

/// Where the shipped example mapping lives (its script resolves beside it). The files themselves
/// are embedded once, in [`crate::example_app`], so the demo runs from any directory.
pub const MAPPING_PATH: &str = "mappings/example-app/mapping.toml";
pub use crate::example_app::{MAPPING_TOML, SCRIPT_RHAI as MAPPING_SCRIPT};

/// Sets the example application's API key in the environment when it is not set. Call before
/// any thread starts.
pub fn prepare_env() {
    if std::env::var_os(API_KEY_ENV).is_none() {
        // SAFETY: called from `main` before the runtime or any other thread exists.
        unsafe { std::env::set_var(API_KEY_ENV, cli::new_token()) };
    }
}

/// The demo's configuration: defaults, the given listen address and token, the example mapping.
pub fn demo_config(listen: SocketAddr, token: &str) -> Result<Config, String> {
    Config::load(
        None,
        vec![
            ("SCIM_SIDECAR__SERVER__LISTEN".into(), listen.to_string()),
            ("SCIM_SIDECAR__MAPPING__FILE".into(), MAPPING_PATH.into()),
            (
                "SCIM_SIDECAR__AUTH__TOKEN_SHA256".into(),
                hex::encode(token_digest(token)),
            ),
        ],
    )
    .map_err(|e| e.to_string())
}

/// The embedded example mapping, pointed at `app_base_url`.
pub fn example_mapping(app_base_url: &str) -> Result<Mapping, String> {
    mapping_with_example_script(MAPPING_TOML, app_base_url)
}

/// Compiles mapping text that sits beside the example script (the demo's mapping, or a test's
/// variant of it): `example-app.rhai` comes from the binary, any other script from disk.
pub fn mapping_with_example_script(text: &str, app_base_url: &str) -> Result<Mapping, String> {
    load_mapping_str(text, Path::new(MAPPING_PATH), Some(app_base_url), &|p| {
        if p.file_name().is_some_and(|n| n == "example-app.rhai") {
            Ok(MAPPING_SCRIPT.to_string())
        } else {
            std::fs::read_to_string(p)
        }
    })
    .map_err(|e| e.to_string())
}

/// Runs the demo until Ctrl-C / SIGTERM.
pub async fn run(
    listen: SocketAddr,
    token: Option<String>,
    log_format: Option<LogFormat>,
) -> ExitCode {
    telemetry::init(log_format.unwrap_or(LogFormat::Pretty), "info");
    let token = token
        .filter(|t| !t.is_empty())
        .unwrap_or_else(cli::new_token);
    let api_key = std::env::var(API_KEY_ENV).unwrap_or_default();
    let app_listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot start the example application: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = example_app::start(app_listener, api_key).await;
    let started = async {
        let config = demo_config(listen, &token)?;
        let mapping = example_mapping(&app.base_url())?;
        let state = runtime::build_state(&config, mapping)?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        runtime::spawn(listener, state, server::shutdown_signal()).map_err(|e| e.to_string())
    }
    .await;
    let running = match started {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo failed to start:\n{e}");
            app.shutdown().await;
            return ExitCode::FAILURE;
        }
    };
    println!("scim-sidecar demo is running (Ctrl-C to stop)");
    println!("  SCIM base URL:        http://{}/scim/v2", running.addr);
    println!("  Bearer token:         {token}");
    println!(
        "  Example application:  {} (header X-Api-Key: ${API_KEY_ENV})",
        app.base_url()
    );
    println!();
    println!("Try:");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' http://{}/scim/v2/Users",
        running.addr
    );
    running.wait().await;
    app.shutdown().await;
    ExitCode::SUCCESS
}
