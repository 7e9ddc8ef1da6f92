//! `scim-sidecar demo`: the example application and the sidecar in one process, with the shipped
//! example mapping embedded in the binary, so a newcomer sees the product work with one command.

use crate::cli;
use crate::config::LogFormat;
use std::net::SocketAddr;
use std::process::ExitCode;

/// The environment variable the example mapping reads the application's API key from.
pub const API_KEY_ENV: &str = "LEGACY_APP_API_KEY";

/// Sets the example application's API key in the environment when it is not set. Call before
/// any thread starts.
pub fn prepare_env() {
    if std::env::var_os(API_KEY_ENV).is_none() {
        // SAFETY: called from `main` before the runtime or any other thread exists.
        unsafe { std::env::set_var(API_KEY_ENV, cli::new_token()) };
    }
}

/// Runs the demo until Ctrl-C / SIGTERM.
pub async fn run(
    listen: SocketAddr,
    token: Option<String>,
    log_format: Option<LogFormat>,
) -> ExitCode {
    let _ = (listen, token, log_format);
    ExitCode::FAILURE
}
