//! The command line: `serve`, `validate`, `demo`, `token`, `healthcheck`. Each subcommand is a
//! thin function over the library; `main.rs` only parses arguments and picks one.

use crate::config::{Config, LogFormat, token_digest};
use crate::{runtime, server, stack, telemetry};
use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "scim-sidecar",
    version,
    about = "A SCIM 2.0 endpoint for applications that only have a REST user API"
)]
pub struct Cli {
    /// Log output format (overrides the config's `log.format`).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Json,
    Pretty,
}

impl From<LogFormatArg> for LogFormat {
    fn from(a: LogFormatArg) -> LogFormat {
        match a {
            LogFormatArg::Json => LogFormat::Json,
            LogFormatArg::Pretty => LogFormat::Pretty,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve SCIM in front of the application described by the config's mapping.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Load the config, the mapping and its scripts; report every problem; exit 1 on any.
    Validate {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Start the example application in this process and serve SCIM in front of it.
    Demo {
        /// Address for the SCIM endpoint.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Bearer token to accept (generated when not given).
        #[arg(long)]
        token: Option<String>,
    },
    /// Print a new random token and its SHA-256 hash (for `auth.token_sha256`).
    Token,
    /// Exit 0 when the URL answers 200 (for container health checks without curl).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
    },
}

/// A new random token: 32 random bytes, hex-encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}

fn env_vars() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// `validate`: prints every problem, or a one-line summary.
pub fn validate(config_path: &Path) -> ExitCode {
    let config = match Config::load(Some(config_path), env_vars()) {
        Ok(c) => c,
        Err(e) => {
            for p in &e.problems {
                eprintln!("error: {p}");
            }
            eprintln!("{} problem(s) found", e.problems.len());
            return ExitCode::FAILURE;
        }
    };
    match runtime::load_mapping(&config) {
        Ok(m) => {
            let groups = match &m.groups {
                Some(g) => format!("{} for Groups", g.rules.rules.len()),
                None => "no Groups".into(),
            };
            println!(
                "ok: {} is valid ({} attribute rules for Users, {groups}, application at {})",
                config_path.display(),
                m.users.rules.rules.len(),
                m.app.base_url
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            let n = problems.lines().count();
            for p in problems.lines() {
                eprintln!("error: {p}");
            }
            eprintln!("{n} problem(s) found");
            ExitCode::FAILURE
        }
    }
}

/// `serve`: runs until SIGTERM / Ctrl-C.
pub async fn serve(config_path: &Path, log_format: Option<LogFormat>) -> ExitCode {
    let config = match Config::load(Some(config_path), env_vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration errors:\n{e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(log_format.unwrap_or(config.log.format), &config.log.level);
    let mapping = match runtime::load_mapping(&config) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("mapping errors:\n{e}");
            eprintln!("mapping errors:\n{e}");
            return ExitCode::FAILURE;
        }
    };
    let state = match runtime::build_state(&config, mapping) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("start-up failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.server.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", config.server.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %config.server.listen, base_path = %config.server.base_path, "serving SCIM");
    server::run(
        listener,
        stack::build(state),
        server::shutdown_signal(),
        config.server.shutdown_grace,
    )
    .await;
    ExitCode::SUCCESS
}

/// `healthcheck`: a plain HTTP/1.1 GET over TCP (no client library needed in the image).
pub fn healthcheck(url: &str) -> ExitCode {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else {
        eprintln!("only http:// URLs are supported");
        return ExitCode::FAILURE;
    };
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let result = (|| -> std::io::Result<bool> {
        let addr = std::net::ToSocketAddrs::to_socket_addrs(host)?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(3)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    })();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("healthcheck failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `token`.
pub fn token() -> ExitCode {
    let t = new_token();
    println!("token:  {t}");
    println!("sha256: {}", hex::encode(token_digest(&t)));
    println!();
    println!("Give the token to the identity provider; put the hash in the config:");
    println!(
        "  [auth]\n  token_sha256 = [\"{}\"]",
        hex::encode(token_digest(&t))
    );
    ExitCode::SUCCESS
}
