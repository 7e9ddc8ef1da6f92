//! Test harness: the example application (which records every request and can inject faults) and
//! a sidecar in front of it, both in-process on ephemeral ports, plus a small SCIM HTTP client,
//! and for groups the example mapping in each membership model ([`Model`], [`each_model!`]).

#![allow(dead_code)]

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use scim_sidecar::config::{Config, token_digest};
use scim_sidecar::example_app::{self, LegacyApp};
use scim_sidecar::runtime::{self, Running};
use serde_json::Value;

pub const TOKEN: &str = "integration-test-token-0123456789";
pub const API_KEY: &str = "integration-test-api-key";

/// An answer: status, headers, and the body as JSON (`Null` when empty; a non-JSON body fails the
/// test, since the sidecar must only ever answer SCIM).
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 7644 error envelope with this status and `scimType`.
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.body["schemas"][0],
            scim_sidecar::scim::ERROR_SCHEMA,
            "{}",
            self.body
        );
        assert_eq!(
            self.body["status"],
            Value::String(status.to_string()),
            "{}",
            self.body
        );
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{}",
            self.body
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "detail missing: {}",
            self.body
        );
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "content type: {:?}",
            self.header("content-type")
        );
    }
}

/// Extra environment for the sidecar's config (`SCIM_SIDECAR__…`).
pub type Env = Vec<(String, String)>;

pub struct Harness {
    pub app: LegacyApp,
    pub sidecar: Option<Running>,
    /// `http://127.0.0.1:port/scim/v2`
    pub base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The shipped example mapping with the API key inline (tests don't touch the process env).
pub fn example_mapping_text() -> String {
    scim_sidecar::demo::MAPPING_TOML.replace(
        "secret = { env = \"LEGACY_APP_API_KEY\" }",
        &format!("secret = {{ value = \"{API_KEY}\" }}"),
    )
}

impl Harness {
    /// The example application behind the shipped example mapping.
    pub async fn start() -> Harness {
        Harness::with_mapping(&example_mapping_text(), Env::new()).await
    }

    /// The example application behind `mapping` (TOML text; scripts resolve to the shipped
    /// example script), with extra config environment.
    pub async fn with_mapping(mapping: &str, env: Env) -> Harness {
        let app_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = example_app::start(app_listener, API_KEY.to_string()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut vars: Env = vec![
            ("SCIM_SIDECAR__SERVER__LISTEN".into(), addr.to_string()),
            (
                "SCIM_SIDECAR__MAPPING__FILE".into(),
                scim_sidecar::demo::MAPPING_PATH.into(),
            ),
            (
                "SCIM_SIDECAR__AUTH__TOKEN_SHA256".into(),
                hex::encode(token_digest(TOKEN)),
            ),
        ];
        vars.extend(env);
        let config = Config::load(None, vars).expect("test config is valid");
        let mapping = scim_sidecar::demo::mapping_with_example_script(mapping, &app.base_url())
            .unwrap_or_else(|e| panic!("test mapping is invalid:\n{e}"));
        Harness::serve(app, listener, &config, mapping)
    }

    /// Serves an already-built mapping and config in front of `app`.
    pub fn serve(
        app: LegacyApp,
        listener: tokio::net::TcpListener,
        config: &Config,
        mapping: scim_sidecar::mapping::Mapping,
    ) -> Harness {
        let state = runtime::build_state(config, mapping).expect("state builds");
        let sidecar = runtime::spawn(listener, state, std::future::pending()).expect("serves");
        let base = format!("http://{}/scim/v2", sidecar.addr);
        let client = Client::builder(TokioExecutor::new()).build_http();
        Harness {
            app,
            sidecar: Some(sidecar),
            base,
            client,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.sidecar.take() {
            s.stop().await;
        }
        self.app.shutdown().await;
    }

    /// Sends any request; `path` is relative to the SCIM base (`/Users?filter=…`).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        self.send_url(method, &format!("{}{path}", self.base), headers, body)
            .await
    }

    /// `http://127.0.0.1:port`, the sidecar's root (outside the SCIM base path).
    pub fn root(&self) -> String {
        self.base.trim_end_matches("/scim/v2").to_string()
    }

    /// Sends any request to an absolute URL.
    pub async fn send_url(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let resp = self.client.request(req).await.expect("sidecar answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "non-JSON answer ({status}): {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A SCIM request as Okta sends it (bearer token, SCIM media types).
    pub async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let auth = format!("Bearer {TOKEN}");
        let headers = [
            ("authorization", auth.as_str()),
            ("accept", "application/scim+json"),
            ("content-type", "application/scim+json; charset=utf-8"),
            ("user-agent", "Okta SCIM Client 1.0.0"),
        ];
        self.send(
            method,
            path,
            &headers,
            body.map(|b| serde_json::to_vec(&b).unwrap()),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.scim(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.scim(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.scim(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.scim(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.scim(Method::DELETE, path, None).await
    }
}

/// Sends one request to an absolute URL with a fresh client (for servers not started by a
/// [`Harness`]); the answer is read as [`Harness::send_url`] reads it.
pub async fn fetch(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    let resp = client
        .request(req.body(Full::new(Bytes::from(bytes))).unwrap())
        .await
        .expect("server answers");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON answer")
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A fresh, empty folder under the system temp folder.
pub fn temp_dir(label: &str) -> std::path::PathBuf {
    let unique = &scim_sidecar::cli::new_token()[..16];
    let dir = std::env::temp_dir().join(format!("scim-it-{label}-{unique}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh folder holding `mapping` as `mapping.toml` beside the example script
/// (`example-app.rhai`); returns the folder.
pub fn mapping_dir(label: &str, mapping: &str) -> std::path::PathBuf {
    let dir = temp_dir(label);
    std::fs::write(dir.join("mapping.toml"), mapping).unwrap();
    std::fs::write(
        dir.join("example-app.rhai"),
        scim_sidecar::demo::MAPPING_SCRIPT,
    )
    .unwrap();
    dir
}

/// Percent-encodes a filter for a query string (spaces as `%20`, quotes, etc.).
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Okta's create body for a user.
pub fn okta_user(email: &str, given: &str, family: &str) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{}", email.len()),
        "groups": [],
        "password": "Okta-Random-Pa55word!",
        "active": true
    })
}

/// One application call as a line: `METHOD /path?query` (the query still percent-encoded, as the
/// application received it).
pub fn call_line(r: &scim_sidecar::example_app::RecordedRequest) -> String {
    match &r.query {
        Some(q) => format!("{} {}?{q}", r.method, r.path),
        None => format!("{} {}", r.method, r.path),
    }
}

impl Harness {
    /// The application calls received since the last [`Harness::reset`], as [`call_line`]s.
    pub fn calls(&self) -> Vec<String> {
        self.app.requests().iter().map(call_line).collect()
    }

    /// Forgets the application calls recorded so far.
    pub fn reset(&self) {
        self.app.clear_requests();
    }

    /// Creates a user as Okta does (no pre-check), asserts 201 and returns the SCIM resource;
    /// the application calls it caused are forgotten.
    pub async fn create(&self, email: &str, given: &str, family: &str) -> Value {
        let a = self.post("/Users", okta_user(email, given, family)).await;
        assert_eq!(a.status, 201, "create {email}: {}", a.body);
        self.reset();
        a.body
    }
}

/// The SCIM id of a resource.
pub fn id_of(resource: &Value) -> String {
    resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no string id in {resource}"))
        .to_string()
}

/// A PatchOp body with these operations.
pub fn patch_op(ops: Value) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    })
}

/// The example mapping with `from` replaced by `to` (which must occur).
pub fn example_mapping_with(edits: &[(&str, &str)]) -> String {
    let mut text = example_mapping_text();
    for (from, to) in edits {
        assert!(text.contains(from), "the example mapping has no `{from}`");
        text = text.replace(from, to);
    }
    text
}

/// A mapping for the same application where deactivation deletes the record: minted SCIM ids, no
/// suspend/unsuspend endpoints, `active` not read from the record (a record that exists is
/// active). Otherwise as the example mapping (wrapper, paging, e-mail pushdown, script).
pub fn delete_mapping_text() -> String {
    format!(
        r#"
version = 1

[app]
base_url = "http://127.0.0.1:4000"
timeout_ms = 10000
retries = 2

[app.auth]
header = "X-Api-Key"
secret = {{ value = "{API_KEY}" }}

[users]
ids = "minted"
id_field = "id"
on_duplicate = "conflict"
deactivation = "delete"
script = "example-app.rhai"

[users.hooks]
to_app = "to_app"
from_app = "from_app"

[users.get]
path = "/api/v1/users/{{id}}"
record = "user"

[users.list]
path = "/api/v1/users"
records = "data"
total = "meta.total"

[users.list.paging]
style = "page"
page_param = "page"
first_page = 1
size_param = "per_page"
max_size = 100

[users.create]
path = "/api/v1/users"
wrap = "user"
record = "user"
conflict_status = [422]

[users.update]
method = "PUT"
path = "/api/v1/users/{{id}}"
wrap = "user"
record = "user"
send = "full"
conflict_status = [422]

[users.delete]
path = "/api/v1/users/{{id}}"

[[users.filter]]
attribute = "userName"
op = "eq"
query = {{ email = "{{value}}" }}

[[users.attribute]]
scim = "userName"
app = "email"

[[users.attribute]]
scim = "name.givenName"
app = "first_name"

[[users.attribute]]
scim = "name.familyName"
app = "last_name"

[[users.attribute]]
scim = "locale"
app = "locale"

[[users.attribute]]
scim = "externalId"
store = true
"#
    )
}

/// The three ways a mapping can keep group membership, all served by the example application
/// (it keeps one membership relation, writable three ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Member ids in the team record (`member_ids`), written with `PATCH /api/v1/teams/{id}`.
    Record,
    /// The shipped mapping: `GET`/`POST`/`DELETE /api/v1/teams/{id}/members`.
    Endpoints,
    /// Each user record names its teams (`team_ids`), written with the users' `PUT`.
    UserAttribute,
}

impl Model {
    pub const ALL: [Model; 3] = [Model::Record, Model::Endpoints, Model::UserAttribute];

    /// The mapping text for this model: the shipped one, with `[groups.members]` swapped.
    pub fn mapping_text(self) -> String {
        match self {
            Model::Endpoints => example_mapping_text(),
            Model::Record => with_members_section(
                "[groups.members]\nmodel = \"record\"\nfield = \"member_ids\"\nid_type = \"number\"\n",
            ),
            Model::UserAttribute => with_members_section(
                "[groups.members]\nmodel = \"user_attribute\"\nfield = \"team_ids\"\n\
                 id_type = \"number\"\nlookup = { query = { team_id = \"{id}\" } }\n",
            ),
        }
    }
}

impl Model {
    /// The application calls that read team `team`'s current members: none for the record model
    /// (they are in the team record), the members listing, or the users narrowed to the team.
    pub fn member_reads(self, team: u64) -> Vec<String> {
        match self {
            Model::Record => vec![],
            Model::Endpoints => vec![format!(
                "GET /api/v1/teams/{team}/members?page=1&per_page=100"
            )],
            Model::UserAttribute => vec![format!(
                "GET /api/v1/users?team_id={team}&page=1&per_page=100"
            )],
        }
    }
}

/// One `#[tokio::test]` per flow and model: `async fn flow(model: Model)` in the calling module
/// becomes `record::flow`, `endpoints::flow` and `user_attribute::flow`.
macro_rules! each_model {
    ($($flow:ident),* $(,)?) => {
        mod record {
            $(#[tokio::test]
            async fn $flow() {
                super::$flow(crate::support::Model::Record).await;
            })*
        }
        mod endpoints {
            $(#[tokio::test]
            async fn $flow() {
                super::$flow(crate::support::Model::Endpoints).await;
            })*
        }
        mod user_attribute {
            $(#[tokio::test]
            async fn $flow() {
                super::$flow(crate::support::Model::UserAttribute).await;
            })*
        }
    };
}
pub(crate) use each_model;

/// The example mapping with everything from `[groups.members]` on (the last section of the
/// file, with its list/add/remove tables) replaced by `section`.
pub fn with_members_section(section: &str) -> String {
    let text = example_mapping_text();
    let at = text
        .find("\n[groups.members]\n")
        .expect("the example mapping has a [groups.members] section");
    format!("{}\n{section}", &text[..at])
}

/// The example mapping without any `[groups…]` section (users only).
pub fn without_groups_text() -> String {
    let text = example_mapping_text();
    let at = text
        .find("\n[groups]\n")
        .expect("the example mapping has a [groups] section");
    text[..at].to_string()
}

/// The `value`s of a group's `members` (empty when the attribute is absent).
pub fn member_values(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .map(|m| m["value"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

impl Harness {
    /// The example application behind the example mapping in membership model `model`.
    pub async fn for_model(model: Model) -> Harness {
        Harness::with_mapping(&model.mapping_text(), Env::new()).await
    }

    /// Creates a group as Okta's "Push Groups" does, asserts 201 and returns it; the application
    /// calls it caused are forgotten.
    pub async fn create_group(&self, name: &str, members: &[&str]) -> Value {
        let a = self.post("/Groups", okta_group(name, members)).await;
        assert_eq!(a.status, 201, "create group {name}: {}", a.body);
        self.reset();
        a.body
    }
}

/// Okta's create body for a group.
pub fn okta_group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| serde_json::json!({"value": m}))
        .collect();
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members
    })
}
