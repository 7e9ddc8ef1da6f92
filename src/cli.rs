//! The command line: `serve`, `validate`, `explain`, `test-mapping`, `demo`, `token`,
//! `healthcheck`, `schema`. Each subcommand is a thin function over the library; `main.rs` only parses
//! arguments and picks one.

use crate::config::{Config, LogFormat, token_digest};
use crate::dryrun::{self, Target, cases, explain};
use crate::mapping::Severity;
use crate::reload::Reloadable;
use crate::{server, telemetry};
use clap::{Args, Parser, Subcommand, ValueEnum};
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
    /// Serve SCIM in front of the application described by the config's mapping. SIGHUP
    /// reloads the config, the mapping and its scripts; an invalid set is refused and logged.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
        /// Also reload when the config, mapping or script files change (checked every 2 s).
        #[arg(long)]
        watch: bool,
    },
    /// Load the config (or a mapping alone), the mapping and its scripts; report every problem
    /// as `file:line:column: key: message`; exit 1 on any error (warnings do not fail).
    Validate {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Print the JSON Schema of mapping files (for editor completion and checks).
    Schema,
    /// Dry run: the application calls a SCIM request would make (secrets masked) and the SCIM
    /// answer, against a fake application that answers from --app-answers or with defaults.
    /// Never calls the real application.
    Explain(ExplainArgs),
    /// Run a mapping's test cases (the `cases/` folder next to it); report every failing case
    /// with a diff; exit 1 on any failure.
    TestMapping {
        #[command(flatten)]
        target: TargetArgs,
        /// The cases folder (default: `cases/` next to the mapping file).
        #[arg(long)]
        cases: Option<PathBuf>,
    },
    /// Probe the real application with GET requests only: reachability, credentials, and whether
    /// its answers match the mapping; one line per check; exit 1 when any check fails.
    Check {
        #[command(flatten)]
        target: TargetArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
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

/// What a dry run runs against: a sidecar config, or a mapping file alone.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// The sidecar's config file (its tokens are not read).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// A mapping file, with default server settings.
    #[arg(long, short)]
    pub mapping: Option<PathBuf>,
}

impl TargetArgs {
    fn load(&self) -> Result<Target, Vec<String>> {
        match (&self.config, &self.mapping) {
            (Some(c), _) => Target::from_config(c, env_vars()),
            (None, Some(m)) => Target::from_mapping(m, env_vars()),
            (None, None) => Err(vec!["give --config or --mapping".into()]),
        }
    }
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

/// `validate`: checks the config and the mapping (with its scripts) in one run and prints every
/// problem (`error: file:line:column: key: message`, or `warning: …`), then a summary.
pub fn validate(target: &TargetArgs) -> ExitCode {
    let mut problems = Vec::new();
    let (subject, mapping_file, base_url) = match (&target.config, &target.mapping) {
        (Some(config_path), _) => {
            let config = crate::config::check(config_path, env_vars());
            problems = config.problems;
            let subject = config.config.is_some().then(|| config_path.clone());
            (subject, config.mapping_file, config.app_base_url)
        }
        (None, Some(mapping)) => (Some(mapping.clone()), Some(mapping.clone()), None),
        (None, None) => {
            eprintln!("error: give --config FILE or --mapping FILE");
            return ExitCode::FAILURE;
        }
    };
    let mut summary = None;
    if let Some(mapping_file) = &mapping_file {
        let checked = crate::mapping::compile::check_mapping(mapping_file, base_url.as_deref());
        problems.extend(checked.problems);
        if let Some(m) = &checked.mapping {
            let groups = match &m.groups {
                Some(g) => format!("{} for Groups", g.rules.rules.len()),
                None => "no Groups".into(),
            };
            summary = Some(format!(
                "{} attribute rules for Users, {groups}, application at {}",
                m.users.rules.rules.len(),
                m.app.base_url
            ));
        }
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    for p in &problems {
        let label = match p.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        eprintln!("{label}: {p}");
    }
    match (errors, summary, subject) {
        (0, Some(summary), Some(subject)) => {
            let note = if warnings > 0 {
                format!(", {warnings} warning(s)")
            } else {
                String::new()
            };
            println!("ok: {} is valid ({summary}{note})", subject.display());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{} error(s), {warnings} warning(s) found", errors.max(1));
            ExitCode::FAILURE
        }
    }
}

/// `schema`: prints the mapping file's JSON Schema.
pub fn schema() -> ExitCode {
    print!("{}", crate::mapping::model::json_schema());
    ExitCode::SUCCESS
}

/// `serve`: runs until SIGTERM / Ctrl-C; SIGHUP (and, with `watch`, a file change) reloads.
pub async fn serve(config_path: &Path, watch: bool, log_format: Option<LogFormat>) -> ExitCode {
    let config = match Config::load(Some(config_path), env_vars()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration errors:\n{e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(log_format.unwrap_or(config.log.format), &config.log.level);
    let mapping = match crate::runtime::load_mapping(&config) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!("mapping errors:\n{e}");
            eprintln!("mapping errors:\n{e}");
            return ExitCode::FAILURE;
        }
    };
    let reloadable = match Reloadable::new(&config, mapping, Some(config_path)) {
        Ok(r) => r,
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
    let on_hangup = reload_on_hangup(reloadable.clone(), config_path.to_path_buf());
    let watcher = watch.then(|| {
        tokio::spawn(reloadable.clone().watch(
            config_path.to_path_buf(),
            std::time::Duration::from_secs(2),
            env_vars,
        ))
    });
    server::run(
        listener,
        reloadable.services(),
        server::shutdown_signal(),
        config.server.shutdown_grace,
    )
    .await;
    if let Some(h) = on_hangup {
        h.abort();
    }
    if let Some(w) = watcher {
        w.abort();
    }
    ExitCode::SUCCESS
}

/// Reloads on every SIGHUP, in a task, until it is aborted. The handler is installed before this
/// returns, so a SIGHUP right after start-up reloads instead of ending the process.
fn reload_on_hangup(
    reloadable: Reloadable,
    config_path: PathBuf,
) -> Option<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload is unavailable");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the configuration");
                let _ = reloadable.reload_from(&config_path, env_vars()).await;
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = (reloadable, config_path);
        None
    }
}

fn print_problems(problems: &[String]) {
    for p in problems {
        eprintln!("error: {p}");
    }
    eprintln!("{} problem(s) found", problems.len());
}

fn note_placeholder(target: &Target) {
    if target.mapping.placeholder_secret {
        eprintln!(
            "note: app.auth.secret cannot be read here; a placeholder stands in for it \
             (a dry run never calls the application)"
        );
    }
}

/// Reads a file for a subcommand, or explains why not.
fn read_text(what: &str, path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// The inputs of `explain`, as parsed by clap.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// A request file (`{"method", "path", "headers"?, "body"?}`) or a case file.
    #[arg(long, conflicts_with_all = ["method", "path", "body"])]
    pub request: Option<PathBuf>,
    /// The request's method (with --path); default GET, or POST with --body.
    #[arg(long, requires = "path")]
    pub method: Option<String>,
    /// The request's path, relative to the SCIM base path (`/Users?filter=…`).
    #[arg(long, required_unless_present = "request")]
    pub path: Option<String>,
    /// The request's JSON body, or @FILE to read it from a file.
    #[arg(long, requires = "path")]
    pub body: Option<String>,
    /// A JSON array of canned application answers (see mappings/README.md).
    #[arg(long)]
    pub app_answers: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `explain`: one dry run, printed.
pub async fn explain(args: ExplainArgs) -> ExitCode {
    let target = match args.target.load() {
        Ok(t) => t,
        Err(problems) => {
            print_problems(&problems);
            return ExitCode::FAILURE;
        }
    };
    note_placeholder(&target);
    let input = (|| -> Result<explain::Input, String> {
        let answers = match &args.app_answers {
            Some(p) => Some(
                explain::parse_answers(&read_text("app answers", p)?)
                    .map_err(|e| format!("{}: {e}", p.display()))?,
            ),
            None => None,
        };
        if let Some(p) = &args.request {
            return explain::Input::parse(&read_text("request", p)?, answers)
                .map_err(|e| format!("{}: {e}", p.display()));
        }
        let body = match args.body.as_deref() {
            None => None,
            Some(b) => {
                let text = match b.strip_prefix('@') {
                    Some(file) => read_text("body", Path::new(file))?,
                    None => b.to_string(),
                };
                Some(
                    serde_json::from_str(&text)
                        .map_err(|e| format!("--body is not valid JSON: {e}"))?,
                )
            }
        };
        let method = args
            .method
            .clone()
            .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_string());
        Ok(explain::Input {
            steps: vec![(
                dryrun::ScimRequest {
                    method,
                    path: args.path.clone().unwrap_or_default(),
                    headers: Default::default(),
                    body,
                    body_raw: None,
                },
                answers.unwrap_or_default(),
            )],
            captures: Vec::new(),
        })
    })();
    let input = match input {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let run = target.start().await?;
        let outcomes = explain::run(&run, &input).await?;
        Ok::<_, String>(if args.json {
            serde_json::to_string_pretty(&explain::render_json(&run, &outcomes)).unwrap_or_default()
        } else {
            explain::render_text(&run, &outcomes)
        })
    }
    .await;
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `test-mapping`: runs a folder of cases, prints the report.
pub async fn test_mapping(target: &TargetArgs, cases_dir: Option<&Path>) -> ExitCode {
    let target = match target.load() {
        Ok(t) => t,
        Err(problems) => {
            print_problems(&problems);
            return ExitCode::FAILURE;
        }
    };
    note_placeholder(&target);
    let dir = cases_dir.map_or_else(
        || cases::default_cases_dir(&target.mapping.path),
        Path::to_path_buf,
    );
    match cases::run_dir(&target, &dir).await {
        Ok(report) => {
            print!("{}", report.render());
            if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
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

/// `check`: loads the mapping with its real secrets and probes the application (GET only).
pub async fn check(target: &TargetArgs, json: bool) -> ExitCode {
    // As the dry runs do: a mapping alone gets the default config, so `SCIM_SIDECAR__APP__BASE_URL`
    // still points it at a deployment.
    let config = match (&target.config, &target.mapping) {
        (Some(c), _) => Config::load_without_tokens(Some(c), env_vars()).map(|c| (c, None)),
        (None, Some(m)) => {
            let mut vars = env_vars();
            vars.push((
                "SCIM_SIDECAR__MAPPING__FILE".into(),
                m.display().to_string(),
            ));
            Config::load_without_tokens(None, vars).map(|c| (c, Some(m.clone())))
        }
        (None, None) => {
            print_problems(&["give --config or --mapping".into()]);
            return ExitCode::FAILURE;
        }
    };
    let mapping = config.map_err(|e| e.problems).and_then(|(config, given)| {
        let file = given.unwrap_or(config.mapping_file);
        crate::mapping::load_mapping(&file, config.app_base_url.as_deref()).map_err(|e| e.problems)
    });
    let mapping = match mapping {
        Ok(m) => m,
        Err(problems) => {
            print_problems(&problems);
            return ExitCode::FAILURE;
        }
    };
    let report = crate::check::run(&mapping).await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.render_json()).unwrap_or_default()
        );
    } else {
        print!("{}", report.render_text());
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
