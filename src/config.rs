//! Configuration: built-in defaults → the config file (`--config`, TOML) → the environment
//! (`SCIM_SIDECAR__SECTION__KEY`), merged by the `config` crate, deserialised with
//! `deny_unknown_fields` (unknown keys are errors naming the key), then validated into a typed
//! [`Config`] with every problem reported at once. Secrets come from env or files and are held in
//! [`crate::secret::Secret`], whose `Debug` is redacted.

use crate::ids::CacheSettings;
use crate::mapping::ScriptLimits;
use crate::mapping::diagnostics::{Locator, Problem, Severity, line_column, readable};
use crate::mapping::shape::unknown_key_message;
use crate::secret::{Secret, SecretSource};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment prefix: `SCIM_SIDECAR__SERVER__LISTEN=0.0.0.0:8080`.
pub const ENV_PREFIX: &str = "SCIM_SIDECAR";

const DEFAULTS: &str = r#"
[server]
listen = "127.0.0.1:8080"
base_path = "/scim/v2"
request_timeout_ms = 30000
max_body_bytes = 1048576
concurrency_limit = 512
shutdown_grace_ms = 10000
default_count = 100
max_results = 1000
error_detail = "generic"

[auth]
accept_bare_token = false

[store]
kind = "memory"

[cache]
max_entries = 100000
ttl_secs = 3600

[log]
format = "pretty"
level = "info"
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    auth: RawAuth,
    mapping: RawMapping,
    #[serde(default)]
    app: RawApp,
    store: RawStore,
    cache: RawCache,
    log: RawLog,
    #[serde(default)]
    scripts: Option<RawScripts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    base_path: String,
    #[serde(default)]
    public_url: Option<String>,
    request_timeout_ms: u64,
    max_body_bytes: usize,
    concurrency_limit: usize,
    shutdown_grace_ms: u64,
    default_count: usize,
    max_results: usize,
    error_detail: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default)]
    tokens: Vec<RawToken>,
    /// SHA-256 hashes (hex) of accepted tokens; handy as one env var:
    /// `SCIM_SIDECAR__AUTH__TOKEN_SHA256=hex1,hex2`.
    #[serde(default)]
    token_sha256: Vec<String>,
    accept_bare_token: bool,
}

/// One accepted token: a secret (`env`, `file`, `value`) or its SHA-256 (`sha256`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    file: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApp {
    #[serde(default)]
    base_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    kind: String,
    #[serde(default)]
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    max_entries: u64,
    ttl_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    level: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScripts {
    #[serde(default)]
    max_operations: Option<u64>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerSettings,
    pub auth: AuthSettings,
    /// The mapping file; scripts are resolved relative to it.
    pub mapping_file: PathBuf,
    /// Overrides the mapping's `app.base_url` (deployment-specific).
    pub app_base_url: Option<String>,
    pub store: StoreSettings,
    pub cache: CacheSettings,
    pub log: LogSettings,
    pub script_limits: ScriptLimits,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// Normalised: leading `/`, no trailing `/` (empty for the root).
    pub base_path: String,
    /// Public SCIM base URL for `meta.location`; default `http://<listen><base_path>`.
    pub public_url: String,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    pub concurrency_limit: usize,
    pub shutdown_grace: Duration,
    pub default_count: usize,
    pub max_results: usize,
    /// Whether SCIM error `detail`s name the mapping rule involved (`generic`: never).
    pub error_detail: crate::error::ErrorDetail,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// SHA-256 digests of accepted tokens (plain tokens are hashed at load).
    pub token_hashes: Vec<[u8; 32]>,
    pub accept_bare_token: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    Memory,
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// An `EnvFilter` directive (`info`, `scim_sidecar=debug`).
    pub level: String,
}

/// Every problem found in the configuration, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// SHA-256 of a token, as stored in `token_hashes`.
pub fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

impl Config {
    /// Loads defaults → `file` → environment, then validates. `env` is the environment to read
    /// (`std::env::vars()` in production; a fixed list in tests).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::load_checking(file, env, true)
    }

    /// As [`Config::load`], but without reading the accepted tokens (none are kept): for dry runs
    /// (`explain`, `test-mapping`), which use their own token and need no secret.
    pub fn load_without_tokens(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::load_checking(file, env, false)
    }

    fn load_checking(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        tokens: bool,
    ) -> Result<Config, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError {
                    problems: vec![format!("{}: file not found", path.display())],
                });
            }
            builder = builder.add_source(
                config::File::from(path.to_path_buf()).format(config::FileFormat::Toml),
            );
        }
        let env_map: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("auth.token_sha256")
                .try_parsing(true)
                .source(Some(env_map)),
        );
        let merged = builder.build().map_err(|e| ConfigError {
            problems: vec![format!("configuration: {e}")],
        })?;
        // serde_path_to_error names the key of the first deserialisation problem (`server.listn`).
        let raw: RawConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
            let path = e.path().to_string();
            ConfigError {
                problems: vec![format!("configuration key `{path}`: {}", e.inner())],
            }
        })?;
        let base_dir = file.and_then(Path::parent).unwrap_or(Path::new("."));
        validate(raw, base_dir, tokens)
    }
}

/// What `validate` needs from a config file: every problem located in it, the config when it
/// has none, and (even then, when the file says so) the mapping file and base URL override to
/// check next.
pub struct Checked {
    pub config: Option<Config>,
    pub problems: Vec<Problem>,
    pub mapping_file: Option<PathBuf>,
    pub app_base_url: Option<String>,
}

/// Loads `file` as [`Config::load`] does and locates each problem (`file:line:column: key:
/// message`; no position for a value that comes from the environment or the defaults).
pub fn check(file: &Path, env: impl IntoIterator<Item = (String, String)>) -> Checked {
    let env: Vec<(String, String)> = env.into_iter().collect();
    let display = file.display().to_string();
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let locator = Locator::new(&text);
    let located = |key: Option<String>, message: String| Problem {
        severity: Severity::Error,
        file: display.clone(),
        at: key.as_deref().and_then(|k| locator.locate(k)),
        key,
        message,
    };
    // A syntax error is reported with toml's own position.
    if let Err(e) = toml::de::DeTable::parse(&text) {
        return Checked {
            config: None,
            problems: vec![Problem {
                at: e.span().map(|s| line_column(&text, s.start)),
                ..located(None, e.message().trim_end().to_string())
            }],
            mapping_file: None,
            app_base_url: None,
        };
    }
    match Config::load(Some(file), env.clone()) {
        Ok(config) => Checked {
            mapping_file: Some(config.mapping_file.clone()),
            app_base_url: config.app_base_url.clone(),
            config: Some(config),
            problems: Vec::new(),
        },
        Err(e) => {
            let problems = e
                .problems
                .iter()
                .map(|p| {
                    if let Some(rest) = p.strip_prefix("configuration key `")
                        && let Some((key, message)) = rest.split_once("`: ")
                    {
                        let message = match message.strip_prefix("unknown field `") {
                            Some(m) => {
                                let name = m.split('`').next().unwrap_or_default();
                                let m = m.split(" for key `").next().unwrap_or(m);
                                let expected: Vec<&str> = m
                                    .split_once("expected ")
                                    .map(|(_, l)| l.split(['`', ',', ' ']))
                                    .into_iter()
                                    .flatten()
                                    .filter(|s| !s.is_empty() && !matches!(*s, "one" | "of" | "or"))
                                    .collect();
                                unknown_key_message(name, &expected)
                            }
                            None => readable(key, message),
                        };
                        return located(Some(key.to_string()), message);
                    }
                    match p.split_once(": ") {
                        Some((key, message))
                            if !key.is_empty()
                                && key
                                    .chars()
                                    .all(|c| c.is_ascii_alphanumeric() || "._[]".contains(c)) =>
                        {
                            located(Some(key.to_string()), message.to_string())
                        }
                        _ => located(None, p.trim_start_matches("configuration: ").to_string()),
                    }
                })
                .collect();
            // The mapping can still be checked when the file names it.
            let table: Option<toml::Table> = text.parse().ok();
            let entry = |section: &str, key: &str| {
                let var = format!(
                    "{ENV_PREFIX}__{}__{}",
                    section.to_ascii_uppercase(),
                    key.to_ascii_uppercase()
                );
                env.iter()
                    .find(|(k, _)| *k == var)
                    .map(|(_, v)| v.clone())
                    .or_else(|| {
                        table
                            .as_ref()?
                            .get(section)?
                            .get(key)?
                            .as_str()
                            .map(String::from)
                    })
            };
            let base_dir = file.parent().unwrap_or(Path::new("."));
            Checked {
                config: None,
                problems,
                mapping_file: entry("mapping", "file").map(|f| base_dir.join(f)),
                app_base_url: entry("app", "base_url"),
            }
        }
    }
}

fn validate(raw: RawConfig, base_dir: &Path, tokens: bool) -> Result<Config, ConfigError> {
    let mut problems = Vec::new();
    let s = raw.server;

    let listen = s.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
        problems.push(format!(
            "server.listen: expected an address like 127.0.0.1:8080, got {:?}",
            s.listen
        ));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let base_path = normalize_base_path(&s.base_path).unwrap_or_else(|msg| {
        problems.push(format!("server.base_path: {msg}"));
        String::new()
    });
    let public_url = match s.public_url {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            u.trim_end_matches('/').to_string()
        }
        Some(u) => {
            problems.push(format!(
                "server.public_url: expected an http(s) URL, got {u:?}"
            ));
            String::new()
        }
        None => format!("http://{listen}{base_path}"),
    };
    for (key, v) in [
        ("server.request_timeout_ms", s.request_timeout_ms as usize),
        ("server.max_body_bytes", s.max_body_bytes),
        ("server.concurrency_limit", s.concurrency_limit),
        ("server.max_results", s.max_results),
    ] {
        if v == 0 {
            problems.push(format!("{key}: must be greater than 0"));
        }
    }
    if s.default_count > s.max_results {
        problems.push(format!(
            "server.default_count: {} is larger than server.max_results ({})",
            s.default_count, s.max_results
        ));
    }

    let mut token_hashes = Vec::new();
    let raw_tokens: &[RawToken] = if tokens { &raw.auth.tokens } else { &[] };
    for (i, t) in raw_tokens.iter().enumerate() {
        match token_from_raw(t) {
            Ok(h) => token_hashes.push(h),
            Err(msg) => problems.push(format!("auth.tokens[{}]: {msg}", i + 1)),
        }
    }
    for (i, h) in raw.auth.token_sha256.iter().enumerate() {
        match parse_sha256(h) {
            Ok(d) => token_hashes.push(d),
            Err(msg) => problems.push(format!("auth.token_sha256[{}]: {msg}", i + 1)),
        }
    }
    if !tokens {
        token_hashes.clear();
        problems.retain(|p| !p.starts_with("auth."));
    } else if token_hashes.is_empty() && !problems.iter().any(|p| p.starts_with("auth.")) {
        problems
            .push("auth.tokens: at least one token is required (see `scim-sidecar token`)".into());
    }

    let mapping_file = base_dir.join(&raw.mapping.file);
    let app_base_url = raw.app.base_url;

    let store = match raw.store.kind.as_str() {
        "memory" => StoreSettings::Memory,
        "file" => match raw.store.path {
            Some(p) if !p.is_empty() => StoreSettings::File(base_dir.join(p)),
            _ => {
                problems.push("store.path: required when store.kind = \"file\"".into());
                StoreSettings::Memory
            }
        },
        other => {
            problems.push(format!(
                "store.kind: expected \"memory\" or \"file\", got {other:?}"
            ));
            StoreSettings::Memory
        }
    };

    let error_detail = match s.error_detail.as_str() {
        "generic" => crate::error::ErrorDetail::Generic,
        "mapping" => crate::error::ErrorDetail::Mapping,
        other => {
            problems.push(format!(
                "server.error_detail: expected \"generic\" or \"mapping\", got {other:?}"
            ));
            crate::error::ErrorDetail::Generic
        }
    };
    let format = match raw.log.format.as_str() {
        "pretty" => LogFormat::Pretty,
        "json" => LogFormat::Json,
        other => {
            problems.push(format!(
                "log.format: expected \"pretty\" or \"json\", got {other:?}"
            ));
            LogFormat::Pretty
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&raw.log.level).is_err() {
        problems.push(format!(
            "log.level: not a valid filter directive: {:?}",
            raw.log.level
        ));
    }

    let mut script_limits = ScriptLimits::default();
    if let Some(ops) = raw.scripts.and_then(|s| s.max_operations) {
        script_limits.max_operations = ops;
    }

    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(Config {
        server: ServerSettings {
            listen,
            base_path,
            public_url,
            request_timeout: Duration::from_millis(s.request_timeout_ms),
            max_body_bytes: s.max_body_bytes,
            concurrency_limit: s.concurrency_limit,
            shutdown_grace: Duration::from_millis(s.shutdown_grace_ms),
            default_count: s.default_count,
            max_results: s.max_results,
            error_detail,
        },
        auth: AuthSettings {
            token_hashes,
            accept_bare_token: raw.auth.accept_bare_token,
        },
        mapping_file,
        app_base_url,
        store,
        cache: CacheSettings {
            max_entries: raw.cache.max_entries,
            ttl: Duration::from_secs(raw.cache.ttl_secs),
        },
        log: LogSettings {
            format,
            level: raw.log.level,
        },
        script_limits,
    })
}

fn token_from_raw(t: &RawToken) -> Result<[u8; 32], String> {
    if let Some(h) = &t.sha256 {
        if t.env.is_some() || t.file.is_some() || t.value.is_some() {
            return Err("give either `sha256` or one of `env`, `file`, `value`".into());
        }
        return parse_sha256(h);
    }
    let source = SecretSource {
        env: t.env.clone(),
        file: t.file.clone(),
        value: t.value.clone(),
    };
    let secret: Secret = source.resolve()?;
    if secret.expose().len() < 16 {
        return Err("tokens must be at least 16 characters long".into());
    }
    Ok(token_digest(secret.expose()))
}

fn parse_sha256(h: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(h.trim())
        .map_err(|_| "expected 64 hexadecimal characters (a SHA-256 digest)".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "expected 64 hexadecimal characters (a SHA-256 digest)".to_string())
}

fn normalize_base_path(p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!("must start with '/', got {p:?}"));
    }
    if p.contains(['?', '#', ' ']) {
        return Err(format!("must be a plain path, got {p:?}"));
    }
    Ok(p.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &str, name: &str, text: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("scim-sidecar-cfg-{dir}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const MINIMAL: &str = r#"
[auth]
tokens = [{ value = "0123456789abcdef0123" }]
[mapping]
file = "mapping.toml"
"#;

    #[test]
    fn defaults_file_and_env_layer_in_order() {
        let p = write(
            "layers",
            "c.toml",
            &format!("{MINIMAL}\n[server]\nlisten = \"127.0.0.1:9000\"\n"),
        );
        let env = vec![
            (
                "SCIM_SIDECAR__SERVER__BASE_PATH".to_string(),
                "/scim/v2/".to_string(),
            ),
            ("SCIM_SIDECAR__LOG__FORMAT".to_string(), "json".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let c = Config::load(Some(&p), env).unwrap();
        assert_eq!(c.server.listen.port(), 9000);
        assert_eq!(c.server.base_path, "/scim/v2");
        assert_eq!(c.server.public_url, "http://127.0.0.1:9000/scim/v2");
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.server.max_body_bytes, 1024 * 1024);
        assert_eq!(
            c.auth.token_hashes,
            vec![token_digest("0123456789abcdef0123")]
        );
        assert_eq!(c.mapping_file, p.parent().unwrap().join("mapping.toml"));
    }

    #[test]
    fn dry_runs_load_without_reading_tokens_but_check_the_rest() {
        let text = "[auth]\ntokens = [{ env = \"SCIM_SIDECAR_TEST_UNSET_TOKEN\" }]\n[mapping]\nfile = \"m.toml\"\n";
        let p = write("dryrun", "c.toml", text);
        let e = Config::load(Some(&p), vec![]).unwrap_err();
        assert!(e.problems[0].starts_with("auth.tokens[1]"), "{e}");
        let c = Config::load_without_tokens(Some(&p), vec![]).unwrap();
        assert!(c.auth.token_hashes.is_empty());
        let bad = write(
            "dryrun-bad",
            "c.toml",
            &format!("{text}[server]\nmax_results = 0\n"),
        );
        let e = Config::load_without_tokens(Some(&bad), vec![]).unwrap_err();
        assert!(
            e.problems
                .iter()
                .any(|p| p.starts_with("server.max_results")),
            "{e}"
        );
        assert!(!e.problems.iter().any(|p| p.starts_with("auth.")), "{e}");
    }

    #[test]
    fn error_detail_is_generic_unless_set_to_mapping() {
        let p = write("detail", "c.toml", MINIMAL);
        let c = Config::load(Some(&p), vec![]).unwrap();
        assert_eq!(c.server.error_detail, crate::error::ErrorDetail::Generic);
        let env = |v: &str| {
            vec![(
                "SCIM_SIDECAR__SERVER__ERROR_DETAIL".to_string(),
                v.to_string(),
            )]
        };
        let c = Config::load(Some(&p), env("mapping")).unwrap();
        assert_eq!(c.server.error_detail, crate::error::ErrorDetail::Mapping);
        let e = Config::load(Some(&p), env("verbose")).unwrap_err();
        assert!(
            e.problems
                .iter()
                .any(|p| p.starts_with("server.error_detail: expected")),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let p = write(
            "unknown",
            "c.toml",
            &format!("{MINIMAL}\n[server]\nlistn = \"x\"\n"),
        );
        let e = Config::load(Some(&p), vec![]).unwrap_err();
        assert!(e.problems[0].contains("listn"), "{e}");
        assert!(e.problems[0].contains("server"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
[server]
listen = "nowhere"
base_path = "scim"
[auth]
tokens = [{ value = "short" }, { sha256 = "zz" }]
[mapping]
file = "m.toml"
[store]
kind = "file"
[log]
format = "xml"
"#;
        let p = write("many", "c.toml", text);
        let e = Config::load(Some(&p), vec![]).unwrap_err();
        let all = e.to_string();
        for key in [
            "server.listen",
            "server.base_path",
            "auth.tokens[1]",
            "auth.tokens[2]",
            "store.path",
            "log.format",
        ] {
            assert!(all.contains(key), "missing {key} in:\n{all}");
        }
        assert!(!all.contains("short\""), "secret value leaked: {all}");
    }

    #[test]
    fn hashed_tokens_from_env_list() {
        let h1 = hex::encode(token_digest("first-token-0123456"));
        let h2 = hex::encode(token_digest("second-token-012345"));
        let p = write("hashes", "c.toml", "[mapping]\nfile = \"m.toml\"\n");
        let env = vec![(
            "SCIM_SIDECAR__AUTH__TOKEN_SHA256".to_string(),
            format!("{h1},{h2}"),
        )];
        let c = Config::load(Some(&p), env).unwrap();
        assert_eq!(c.auth.token_hashes.len(), 2);
        assert_eq!(c.auth.token_hashes[1], token_digest("second-token-012345"));
    }

    #[test]
    fn missing_tokens_is_an_error() {
        let p = write("notoken", "c.toml", "[mapping]\nfile = \"m.toml\"\n");
        let e = Config::load(Some(&p), vec![]).unwrap_err();
        assert!(e.to_string().contains("auth.tokens"), "{e}");
    }

    #[test]
    fn check_locates_problems_and_still_names_the_mapping() {
        let text = "[server]\nlisten = \"nowhere\"\n[auth]\ntokens = [{ value = \"short\" }]\n\
                    [mapping]\nfile = \"m.toml\"\n";
        let p = write("check", "c.toml", text);
        let c = check(&p, vec![]);
        assert!(c.config.is_none());
        let lines: Vec<String> = c.problems.iter().map(|p| p.to_string()).collect();
        let file = p.display().to_string();
        assert_eq!(
            lines,
            [
                format!(
                    "{file}:2:1: server.listen: expected an address like 127.0.0.1:8080, got \"nowhere\""
                ),
                format!("{file}:4:11: auth.tokens[1]: tokens must be at least 16 characters long"),
            ]
        );
        assert_eq!(c.mapping_file, Some(p.parent().unwrap().join("m.toml")));

        let typo = write(
            "check-typo",
            "c.toml",
            &format!("{MINIMAL}[server]\nlistn = 1\n"),
        );
        let c = check(&typo, vec![]);
        let file = typo.display().to_string();
        assert_eq!(
            c.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            [format!(
                "{file}:7:1: server.listn: unknown key; did you mean `listen`? (expected one of: \
                 listen, base_path, public_url, request_timeout_ms, max_body_bytes, \
                 concurrency_limit, shutdown_grace_ms, default_count, max_results, error_detail)"
            )]
        );
        assert_eq!(
            c.mapping_file,
            Some(typo.parent().unwrap().join("mapping.toml"))
        );

        let broken = write("check-syntax", "c.toml", "[server\n");
        let c = check(&broken, vec![]);
        assert_eq!(c.problems.len(), 1);
        assert!(c.problems[0].at.is_some(), "{:?}", c.problems);

        let good = write("check-good", "c.toml", MINIMAL);
        let c = check(&good, vec![]);
        assert!(c.config.is_some() && c.problems.is_empty());
    }
}
