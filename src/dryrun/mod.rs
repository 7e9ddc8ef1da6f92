//! Dry runs: SCIM requests sent through the real service (the same [`crate::runtime`] state and
//! [`crate::stack`] the server uses) against a fake application in the same process, which records
//! every call the sidecar makes and answers from canned answers or mapping-derived defaults. The
//! real application is never called, and a fresh in-memory id store is used, so the configured
//! store is never touched. `explain` and `test-mapping` are built on it.
//!
//! - [`fake_app`]: the recording, answering application;
//! - [`cases`]: mapping test cases (files of steps with expectations) and their runner;
//! - [`captures`]: values kept from one step for the next (`${name}`) and value matchers;
//! - [`explain`]: the human and JSON renderings of a dry run.
//!
//! Secrets: a dry run needs none. The config's bearer tokens are not read (a random token is
//! used), and when the mapping's `app.auth.secret` cannot be read, a placeholder stands in for
//! it. Recorded secret header values are masked ([`MASK`]).

pub mod captures;
pub mod cases;
pub mod explain;
pub mod fake_app;

pub use fake_app::{CannedAnswer, FakeApp, Hold, MASK, RecordedCall};

use crate::config::{Config, token_digest};
use crate::ids::MemoryStore;
use crate::mapping::{Mapping, load_mapping_str};
use crate::reload::Health;
use crate::runtime;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceExt};
use tracing::instrument::WithSubscriber;

/// What stands in for an application secret that cannot be read during a dry run.
pub const PLACEHOLDER_SECRET: &str = "dry-run-placeholder-secret";

/// One SCIM request, as written in a request file or a case step.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScimRequest {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE` (any case).
    pub method: String,
    /// Relative to the SCIM base path (`/Users?filter=…`); a path that already starts with the
    /// base path is used as is. Spaces and quotes may be written plainly; they are encoded.
    pub path: String,
    /// Extra request headers. `Authorization` is always the dry run's own token.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Raw body text instead (e.g. invalid JSON); excludes `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_raw: Option<String>,
}

impl ScimRequest {
    /// `PATCH /Users/1`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.path)
    }
}

/// The sidecar's answer to one SCIM request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScimAnswer {
    pub status: u16,
    /// The headers a client acts on (`content-type`, `location`, `retry-after`, `allow`,
    /// `www-authenticate`), lower case.
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The body as text when it is not JSON (never expected: the sidecar answers SCIM JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
}

/// What one SCIM request did.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    pub request: ScimRequest,
    /// The application calls, in order, with the fake application's answers.
    pub calls: Vec<RecordedCall>,
    pub answer: ScimAnswer,
    /// Canned answers given for this request that were never used (position from 1).
    #[serde(skip)]
    pub unused_answers: Vec<(usize, CannedAnswer)>,
    /// What the sidecar logged while answering, at warning level and above, plus script
    /// `print`s: where a mapping error names its rule, endpoint or hook.
    pub log: Vec<String>,
}

/// Collects a dry run's log lines (a `MakeWriter` over a shared buffer).
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn take_lines(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// A subscriber for one dry run: warnings and errors, and script `print`s (their target is
/// `scim_sidecar::script`, see `mapping::script`), as plain one-line text, inside the request
/// span (which names the operation and resource type).
fn log_dispatch(buffer: LogBuffer) -> tracing::Dispatch {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    let filter = tracing_subscriber::filter::filter_fn(|m| {
        if m.is_span() {
            // `app_call` too: the client records on the current span, which must be its own.
            matches!(m.name(), "scim_request" | "app_call")
        } else {
            *m.level() <= tracing::Level::WARN || m.target() == "scim_sidecar::script"
        }
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(buffer)
        .with_ansi(false)
        .without_time()
        .compact()
        .with_filter(filter);
    tracing::Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// A mapping file's text, ready to compile for dry runs (with a placeholder secret when the real
/// one cannot be read).
#[derive(Debug, Clone)]
pub struct MappingSource {
    pub path: PathBuf,
    text: String,
    /// Whether `app.auth.secret` was replaced by [`PLACEHOLDER_SECRET`].
    pub placeholder_secret: bool,
}

impl MappingSource {
    /// Reads and checks the mapping at `path`. Problems are reported as `validate` reports them,
    /// except an unreadable `app.auth.secret`, which a dry run does not need.
    pub fn read(
        path: &Path,
        base_url_override: Option<&str>,
    ) -> Result<(MappingSource, Mapping), Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
        let mut source = MappingSource {
            path: path.to_path_buf(),
            text,
            placeholder_secret: false,
        };
        match source.compile(base_url_override) {
            Ok(m) => Ok((source, m)),
            Err(problems) => {
                let (secret, other): (Vec<String>, Vec<String>) = problems
                    .into_iter()
                    .partition(|p| p.contains(": app.auth.secret: "));
                if !other.is_empty() || secret.is_empty() {
                    return Err(other);
                }
                source.text =
                    with_placeholder_secret(&source.text).ok_or_else(|| secret.clone())?;
                source.placeholder_secret = true;
                let m = source.compile(base_url_override)?;
                Ok((source, m))
            }
        }
    }

    /// Compiles the mapping (scripts are read from beside the file).
    pub fn compile(&self, base_url_override: Option<&str>) -> Result<Mapping, Vec<String>> {
        load_mapping_str(&self.text, &self.path, base_url_override, &|p| {
            std::fs::read_to_string(p)
        })
        .map_err(|e| e.problems)
    }
}

/// The mapping text with `app.auth.secret` replaced by an inline placeholder, or `None` when it
/// has no such key. Only used when the text is otherwise valid, so the reformatting (which moves
/// lines) cannot shift the position of a reported problem.
fn with_placeholder_secret(text: &str) -> Option<String> {
    let mut table: toml::Table = text.parse().ok()?;
    let auth = table
        .get_mut("app")?
        .as_table_mut()?
        .get_mut("auth")?
        .as_table_mut()?;
    let mut secret = toml::Table::new();
    secret.insert(
        "value".into(),
        toml::Value::String(PLACEHOLDER_SECRET.into()),
    );
    auth.insert("secret".into(), toml::Value::Table(secret));
    toml::to_string(&table).ok()
}

/// What a dry run runs against: a configuration and a mapping.
pub struct Target {
    pub config: Config,
    pub mapping: MappingSource,
    /// The application's real base URL (config override applied), for display.
    pub base_url: String,
    /// Names of the headers the mapping marks secret.
    secret_headers: Vec<String>,
    defaults: Vec<fake_app::DefaultRoute>,
}

impl Target {
    /// From a sidecar configuration file (its `auth` tokens are not read).
    pub fn from_config(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Target, Vec<String>> {
        let config = Config::load_without_tokens(Some(path), env).map_err(|e| e.problems)?;
        Target::new(config)
    }

    /// From a mapping file alone, with default server settings.
    pub fn from_mapping(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Target, Vec<String>> {
        let mut vars: Vec<(String, String)> = env.into_iter().collect();
        vars.push((
            "SCIM_SIDECAR__MAPPING__FILE".into(),
            path.display().to_string(),
        ));
        let mut config = Config::load_without_tokens(None, vars).map_err(|e| e.problems)?;
        // As given, not joined to the current folder, so reports name it as the user wrote it.
        config.mapping_file = path.to_path_buf();
        Target::new(config)
    }

    fn new(config: Config) -> Result<Target, Vec<String>> {
        let (mapping, compiled) =
            MappingSource::read(&config.mapping_file, config.app_base_url.as_deref())?;
        Ok(Target {
            base_url: compiled.app.base_url.clone(),
            secret_headers: compiled
                .app
                .headers
                .iter()
                .filter(|(_, _, secret)| *secret)
                .map(|(name, _, _)| name.clone())
                .collect(),
            defaults: fake_app::default_routes(&compiled),
            config,
            mapping,
        })
    }

    /// Starts the fake application and builds the service in front of it.
    pub async fn start(&self) -> Result<DryRun, String> {
        let prefix = self
            .base_url
            .parse::<http::Uri>()
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        let app = FakeApp::start(&prefix, &self.secret_headers, self.defaults.clone())
            .await
            .map_err(|e| format!("cannot start the fake application: {e}"))?;
        let mapping = self
            .mapping
            .compile(Some(&app.base_url()))
            .map_err(|p| p.join("\n"))?;
        let token = crate::cli::new_token();
        let mut config = self.config.clone();
        config.auth.token_hashes = vec![token_digest(&token)];
        let log = LogBuffer::default();
        let mut run = DryRun {
            app,
            mapping: Arc::new(mapping),
            config,
            token,
            base_url: self.base_url.clone(),
            service: None,
            dispatch: log_dispatch(log.clone()),
            log,
        };
        run.fresh()?;
        Ok(run)
    }
}

type Service = BoxCloneSyncService<Request<Full<Bytes>>, http::Response<Full<Bytes>>, BoxError>;

/// A running dry run: SCIM requests in, recorded calls and answers out. State (the id store and
/// caches) carries over from one request to the next until [`DryRun::fresh`].
pub struct DryRun {
    app: FakeApp,
    mapping: Arc<crate::mapping::Mapping>,
    config: Config,
    token: String,
    base_url: String,
    service: Option<Service>,
    /// Collects what the sidecar logs while a step runs (scoped to the step's future, so the
    /// process's own logging is untouched).
    dispatch: tracing::Dispatch,
    log: LogBuffer,
}

impl DryRun {
    /// Starts over: an empty id store, empty caches, no recorded calls, new ids from 1.
    pub fn fresh(&mut self) -> Result<(), String> {
        self.app.reset();
        let state = runtime::build_state_with(
            &self.config,
            self.mapping.clone(),
            Arc::new(MemoryStore::new()),
            Arc::new(Health::new()),
        )?;
        self.service = Some(crate::stack::build_with_body::<Full<Bytes>>(state));
        Ok(())
    }

    /// The fake application (to hold a call, or to inspect it).
    pub fn fake_app(&self) -> &FakeApp {
        &self.app
    }

    /// The real URL a recorded call would have gone to.
    pub fn url(&self, call: &RecordedCall) -> String {
        format!("{}{}", self.base_url, call.path)
    }

    /// Sends one SCIM request with these canned answers.
    pub async fn step(
        &self,
        request: &ScimRequest,
        answers: Vec<CannedAnswer>,
    ) -> Result<StepOutcome, String> {
        for (i, a) in answers.iter().enumerate() {
            a.check()
                .map_err(|e| format!("app answer {}: {e}", i + 1))?;
        }
        let req = self.build_request(request)?;
        let service = self
            .service
            .clone()
            .ok_or_else(|| "the dry run is not started".to_string())?;
        self.app.set_answers(answers);
        self.log.take_lines();
        let resp = service
            .oneshot(req)
            .with_subscriber(self.dispatch.clone())
            .await
            .map_err(|e| format!("the service failed: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter(|(k, _)| {
                [
                    "content-type",
                    "location",
                    "retry-after",
                    "allow",
                    "www-authenticate",
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let (body, body_text) = if bytes.is_empty() {
            (None, None)
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => (Some(v), None),
                Err(_) => (None, Some(String::from_utf8_lossy(&bytes).into_owned())),
            }
        };
        Ok(StepOutcome {
            request: request.clone(),
            calls: self.app.take_calls(),
            answer: ScimAnswer {
                status,
                headers,
                body,
                body_text,
            },
            unused_answers: self.app.unused_answers(),
            log: self.log.take_lines(),
        })
    }

    fn build_request(&self, r: &ScimRequest) -> Result<Request<Full<Bytes>>, String> {
        let method = http::Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("method {:?} is not an HTTP method", r.method))?;
        let body = match (&r.body, &r.body_raw) {
            (Some(_), Some(_)) => return Err("give `body` or `body_raw`, not both".into()),
            (Some(v), None) => Some(Bytes::from(v.to_string())),
            (None, Some(raw)) => Some(Bytes::from(raw.clone())),
            (None, None) => None,
        };
        let uri = full_path(&self.config.server.base_path, &r.path);
        let mut builder = Request::builder()
            .method(method)
            .uri(&uri)
            .header("accept", "application/scim+json");
        if body.is_some() {
            builder = builder.header("content-type", "application/scim+json");
        }
        let mut req = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("request {uri}: {e}"))?;
        for (name, value) in &r.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header {name:?} is not a valid header name"))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header {name} is not valid"))?;
            req.headers_mut().insert(name, value);
        }
        let auth = http::HeaderValue::from_str(&format!("Bearer {}", self.token))
            .map_err(|_| "bad token".to_string())?;
        req.headers_mut().insert(http::header::AUTHORIZATION, auth);
        Ok(req)
    }
}

/// Characters a request file may write plainly but a URI may not hold.
const LOOSE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'#');

/// The request target: the base path (unless already there) and the path, with characters a URI
/// cannot hold percent-encoded (`%` is left alone, so encoded paths pass unchanged).
fn full_path(base_path: &str, path: &str) -> String {
    let has_base = !base_path.is_empty()
        && path
            .strip_prefix(base_path)
            .is_some_and(|r| r.is_empty() || r.starts_with('/') || r.starts_with('?'));
    let joined = if has_base {
        path.to_string()
    } else if path.starts_with('/') {
        format!("{base_path}{path}")
    } else {
        format!("{base_path}/{path}")
    };
    percent_encoding::utf8_percent_encode(&joined, LOOSE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_get_the_base_path_once_and_loose_characters_encoded() {
        assert_eq!(full_path("/scim/v2", "/Users"), "/scim/v2/Users");
        assert_eq!(full_path("/scim/v2", "Users/1"), "/scim/v2/Users/1");
        assert_eq!(full_path("/scim/v2", "/scim/v2/Users"), "/scim/v2/Users");
        assert_eq!(full_path("/scim/v2", "/scim/v2x"), "/scim/v2/scim/v2x");
        assert_eq!(full_path("", "/Users"), "/Users");
        assert_eq!(
            full_path("/scim/v2", r#"/Users?filter=userName eq "a@x""#),
            "/scim/v2/Users?filter=userName%20eq%20%22a@x%22"
        );
        assert_eq!(
            full_path("/scim/v2", "/Users?filter=userName%20eq%20%22é%22"),
            "/scim/v2/Users?filter=userName%20eq%20%22%C3%A9%22"
        );
    }

    #[test]
    fn the_placeholder_replaces_only_the_auth_secret() {
        let text = "version = 1\n[app]\nbase_url = \"http://a\"\n[app.auth]\nheader = \"X-Key\"\nsecret = { env = \"NOPE\" }\n";
        let out = with_placeholder_secret(text).unwrap();
        let t: toml::Table = out.parse().unwrap();
        assert_eq!(
            t["app"]["auth"]["secret"]["value"].as_str(),
            Some(PLACEHOLDER_SECRET)
        );
        assert!(t["app"]["auth"]["secret"].get("env").is_none());
        assert_eq!(t["app"]["auth"]["header"].as_str(), Some("X-Key"));
        assert!(with_placeholder_secret("[app]\nbase_url = \"http://a\"\n").is_none());
        assert!(with_placeholder_secret("not toml [").is_none());
    }
}
