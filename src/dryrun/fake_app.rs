//! The stand-in application of a dry run: an HTTP server on `127.0.0.1:0` that records every call
//! the sidecar makes (method, path and query, headers with secrets masked, body) and answers from
//! a list of canned answers, or with a documented default derived from the mapping when none
//! matches. It never forwards anything anywhere.
//!
//! Canned answers are tried in order; the first one whose method and path pattern match and that
//! has uses left answers. Defaults (see [`DefaultRoute`]) then cover the mapping's endpoints (users,
//! groups and group membership calls), and anything else is a 404.

use crate::mapping::{
    Endpoint, JsonPath, ListEndpoint, Mapping, MemberLookup, Membership, ResourceMapping, Template,
};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The text that replaces a masked header value.
pub const MASK: &str = "***";
/// Largest request body the fake application reads (the sidecar's own calls are far smaller).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Header names masked whatever the mapping says: they carry credentials by convention.
const ALWAYS_SECRET: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// One canned answer, as written in a case file or an `--app-answers` file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CannedAnswer {
    /// HTTP method to match (any case); any method when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path pattern, relative to the mapping's `base_url`. `*` matches any run of characters.
    /// A pattern without `?` is matched against the path only (any query); one with `?`
    /// against path and query (still percent-encoded, as sent). Any path when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Status to answer; default 200.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Extra response headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON body (sent as `application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Raw body text instead of JSON (e.g. a broken answer); excludes `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_raw: Option<String>,
    /// How many calls this answer serves; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<usize>,
}

fn default_status() -> u16 {
    200
}

impl Default for CannedAnswer {
    /// Any call, answered 200 without a body, once.
    fn default() -> Self {
        CannedAnswer {
            method: None,
            path: None,
            status: default_status(),
            headers: BTreeMap::new(),
            body: None,
            body_raw: None,
            times: None,
        }
    }
}

impl CannedAnswer {
    /// Problems that make the answer unusable (reported before anything runs).
    pub fn check(&self) -> Result<(), String> {
        if self.body.is_some() && self.body_raw.is_some() {
            return Err("give `body` or `body_raw`, not both".into());
        }
        if StatusCode::from_u16(self.status).is_err() {
            return Err(format!("status {} is not an HTTP status", self.status));
        }
        if let Some(m) = &self.method
            && http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).is_err()
        {
            return Err(format!("method {m:?} is not an HTTP method"));
        }
        if self.times == Some(0) {
            return Err("`times` must be at least 1".into());
        }
        for (name, value) in &self.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || HeaderValue::from_str(value).is_err()
            {
                return Err(format!("header {name:?} is not a valid HTTP header"));
            }
        }
        Ok(())
    }

    /// `GET /api/v1/users*`, for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.method.as_deref().unwrap_or("*"),
            self.path.as_deref().unwrap_or("*")
        )
    }

    fn matches(&self, method: &str, path: &str, query: Option<&str>) -> bool {
        if self
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method))
        {
            return false;
        }
        let Some(pattern) = self.path.as_deref() else {
            return true;
        };
        let target = match (pattern.contains('?'), query) {
            (true, Some(q)) => format!("{path}?{q}"),
            _ => path.to_string(),
        };
        glob(&Pattern::user(pattern), &target)
    }
}

/// One call as the fake application received it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordedCall {
    pub method: String,
    /// Path and query relative to the mapping's `base_url`, still percent-encoded as sent.
    pub path: String,
    /// Lower-case names in the order received; secrets replaced by [`MASK`]. `host` and
    /// `content-length` are left out (they only describe the dry run's own connection).
    pub headers: Vec<(String, String)>,
    /// The body as JSON, when it is JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The body as text, when it is not empty and not JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// The status the fake application answered.
    pub status: u16,
    /// Which answer was used: `canned answer 2 (GET /api/v1/users*)`, `default: …`.
    pub answered_by: String,
}

impl RecordedCall {
    /// `GET /api/v1/users?page=1`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The value of header `name` (case-insensitive), masked if secret.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the fake application answers for a call no canned answer matches, derived from one
/// endpoint of the mapping.
#[derive(Debug, Clone)]
pub struct DefaultRoute {
    method: http::Method,
    pattern: Pattern,
    kind: DefaultKind,
}

#[derive(Debug, Clone)]
enum DefaultKind {
    /// A read by id: 404 (the fake application has no records).
    Get,
    /// A list or filtered list: 200, an empty page (records `[]`, total 0).
    List {
        records: Option<JsonPath>,
        total: Option<JsonPath>,
    },
    /// A create: 201, the record sent (without `wrap`) with a new id, placed at `record`.
    Create {
        wrap: Option<String>,
        record: Option<JsonPath>,
        id_field: JsonPath,
    },
    /// An update: 200, the record sent, placed at `record` (its id from the path if missing).
    Update {
        wrap: Option<String>,
        record: Option<JsonPath>,
        id_field: JsonPath,
    },
    /// A delete, deactivate or reactivate: 204 without a body.
    NoContent,
}

impl DefaultKind {
    fn describe(&self) -> &'static str {
        match self {
            DefaultKind::Get => "default: no such record (404)",
            DefaultKind::List { .. } => "default: an empty list",
            DefaultKind::Create { .. } => "default: the record sent, with the new id",
            DefaultKind::Update { .. } => "default: the record sent",
            DefaultKind::NoContent => "default: 204 No Content",
        }
    }
}

/// The default routes for every resource type of a mapping.
pub fn default_routes(mapping: &Mapping) -> Vec<DefaultRoute> {
    let mut out = Vec::new();
    for resource in std::iter::once(&mapping.users).chain(mapping.groups.as_ref()) {
        if let Some(members) = &resource.members {
            member_routes(members, &mapping.users.list, &mut out);
        }
        routes_for(resource, &mut out);
    }
    out
}

/// Group membership calls: member listings and narrowed user lists answer an empty page, adding
/// and removing a member 204.
fn member_routes(members: &Membership, users_list: &ListEndpoint, out: &mut Vec<DefaultRoute>) {
    let empty = |l: &ListEndpoint| DefaultKind::List {
        records: l.records.clone(),
        total: l.total.clone(),
    };
    match members {
        Membership::Endpoints {
            list, add, remove, ..
        } => {
            out.push(DefaultRoute {
                method: list.endpoint.method.clone(),
                pattern: Pattern::template(&list.endpoint.path),
                kind: empty(list),
            });
            for call in [add, remove] {
                out.push(DefaultRoute {
                    method: call.endpoint.method.clone(),
                    pattern: Pattern::template(&call.endpoint.path),
                    kind: DefaultKind::NoContent,
                });
            }
        }
        Membership::UserAttribute {
            lookup: Some(MemberLookup {
                path: Some(path), ..
            }),
            ..
        } => out.push(DefaultRoute {
            method: users_list.endpoint.method.clone(),
            pattern: Pattern::template(path),
            kind: empty(users_list),
        }),
        Membership::UserAttribute { .. } | Membership::Record { .. } => {}
    }
}

fn routes_for(r: &ResourceMapping, out: &mut Vec<DefaultRoute>) {
    let route = |e: &Endpoint, kind: DefaultKind| DefaultRoute {
        method: e.method.clone(),
        pattern: Pattern::template(&e.path),
        kind,
    };
    // Writes first: a create shares its path with the list, and only the method tells them apart.
    if let Some(e) = &r.create {
        out.push(route(
            e,
            DefaultKind::Create {
                wrap: e.wrap.clone(),
                record: e.record.clone(),
                id_field: r.id_field.clone(),
            },
        ));
    }
    if let Some((e, _)) = &r.update {
        out.push(route(
            e,
            DefaultKind::Update {
                wrap: e.wrap.clone(),
                record: e.record.clone(),
                id_field: r.id_field.clone(),
            },
        ));
    }
    for e in [&r.delete, &r.deactivate, &r.reactivate]
        .into_iter()
        .flatten()
    {
        out.push(route(e, DefaultKind::NoContent));
    }
    let list = |l: &ListEndpoint| DefaultKind::List {
        records: l.records.clone(),
        total: l.total.clone(),
    };
    for p in &r.pushdowns {
        if let Some(path) = &p.path {
            out.push(DefaultRoute {
                method: r.list.endpoint.method.clone(),
                pattern: Pattern::template(path),
                kind: list(&r.list),
            });
        }
    }
    out.push(route(&r.list.endpoint, list(&r.list)));
    out.push(route(&r.get, DefaultKind::Get));
}

/// A path pattern: literal text, `*` (any run of characters) and template variables (any run of
/// characters within one path segment).
#[derive(Debug, Clone, PartialEq)]
struct Pattern(Vec<Token>);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lit(String),
    Any,
    Segment,
}

/// Stands for a template variable while rendering; only unreserved characters, so the renderer
/// leaves it as is.
const SENTINEL: &str = "zzDryRunVarzz";

impl Pattern {
    fn user(text: &str) -> Pattern {
        let mut tokens = Vec::new();
        for (i, part) in text.split('*').enumerate() {
            if i > 0 {
                tokens.push(Token::Any);
            }
            if !part.is_empty() {
                tokens.push(Token::Lit(part.to_string()));
            }
        }
        Pattern(tokens)
    }

    fn template(t: &Template) -> Pattern {
        let rendered = t.render_path(&|_| Some(SENTINEL.to_string()));
        let mut tokens = Vec::new();
        for (i, part) in rendered.split(SENTINEL).enumerate() {
            if i > 0 {
                tokens.push(Token::Segment);
            }
            if !part.is_empty() {
                tokens.push(Token::Lit(part.to_string()));
            }
        }
        Pattern(tokens)
    }
}

/// Whether `text` matches the whole pattern (backtracking; patterns and paths are short).
fn glob(pattern: &Pattern, text: &str) -> bool {
    fn go(tokens: &[Token], text: &str) -> bool {
        match tokens.split_first() {
            None => text.is_empty(),
            Some((Token::Lit(l), rest)) => {
                text.strip_prefix(l.as_str()).is_some_and(|t| go(rest, t))
            }
            Some((Token::Any, rest)) => text
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .any(|i| go(rest, &text[i..])),
            Some((Token::Segment, rest)) => {
                let end = text.find('/').unwrap_or(text.len());
                // A variable is never empty: `/users/` is not `/users/{id}`.
                (1..=end)
                    .filter(|i| text.is_char_boundary(*i))
                    .any(|i| go(rest, &text[i..]))
            }
        }
    }
    go(&pattern.0, text)
}

/// The values the template variables took in `text`, in order (for `{id}` in an update path).
fn captures(pattern: &Pattern, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    for (i, token) in pattern.0.iter().enumerate() {
        match token {
            Token::Lit(l) => match rest.strip_prefix(l.as_str()) {
                Some(r) => rest = r,
                None => return out,
            },
            Token::Segment => {
                // Up to the next literal (or the segment's end), as the templates put them.
                let end = match pattern.0.get(i + 1) {
                    Some(Token::Lit(next)) => rest.find(next.as_str()).unwrap_or(rest.len()),
                    _ => rest.find('/').unwrap_or(rest.len()),
                };
                out.push(
                    percent_encoding::percent_decode_str(&rest[..end])
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                rest = &rest[end..];
            }
            Token::Any => return out,
        }
    }
    out
}

/// Holds the next call until released (tests use it to keep a request in flight).
pub struct Hold {
    /// Completes when the held call has arrived (and been recorded).
    pub arrived: oneshot::Receiver<()>,
    /// Send (or drop) to let the held call be answered.
    pub release: oneshot::Sender<()>,
}

struct State {
    answers: Vec<(CannedAnswer, usize)>,
    calls: Vec<RecordedCall>,
    next_id: u64,
    hold: Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>,
}

struct Shared {
    /// Path prefix of the mapping's `base_url` (`/legacy`), stripped from recorded paths.
    prefix: String,
    /// Lower-case header names whose values are masked.
    secret_headers: Vec<String>,
    defaults: Vec<DefaultRoute>,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written in a way that
        // matters for a dry run; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake application. Dropping it stops the server.
pub struct FakeApp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApp {
    /// Starts on `127.0.0.1:0`. `prefix` is the path of the mapping's `base_url`; headers named
    /// in `secret_headers` (any case) are masked, besides `Authorization`, `Proxy-Authorization`
    /// and `Cookie`.
    pub async fn start(
        prefix: &str,
        secret_headers: &[String],
        defaults: Vec<DefaultRoute>,
    ) -> std::io::Result<FakeApp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut secrets: Vec<String> = secret_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        secrets.extend(ALWAYS_SECRET.iter().map(|h| h.to_string()));
        let shared = Arc::new(Shared {
            prefix: prefix.trim_end_matches('/').to_string(),
            secret_headers: secrets,
            defaults,
            state: Mutex::new(State {
                answers: Vec::new(),
                calls: Vec::new(),
                next_id: 1,
                hold: None,
            }),
        });
        let task = tokio::spawn(serve(listener, shared.clone()));
        Ok(FakeApp { addr, shared, task })
    }

    /// `http://127.0.0.1:port` plus the mapping's path prefix: the `base_url` to give the sidecar.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.shared.prefix)
    }

    /// Replaces the canned answers (and forgets which were used).
    pub fn set_answers(&self, answers: Vec<CannedAnswer>) {
        self.shared.lock().answers = answers.into_iter().map(|a| (a, 0)).collect();
    }

    /// Canned answers that served fewer calls than their `times`, with their position (from 1).
    pub fn unused_answers(&self) -> Vec<(usize, CannedAnswer)> {
        self.shared
            .lock()
            .answers
            .iter()
            .enumerate()
            .filter(|(_, (a, used))| *used == 0 || (a.times.is_some_and(|t| *used < t)))
            .map(|(i, (a, _))| (i + 1, a.clone()))
            .collect()
    }

    /// Returns and forgets the calls recorded so far.
    pub fn take_calls(&self) -> Vec<RecordedCall> {
        std::mem::take(&mut self.shared.lock().calls)
    }

    /// Back to a fresh start: no answers, no calls, ids from 1.
    pub fn reset(&self) {
        let mut s = self.shared.lock();
        s.answers.clear();
        s.calls.clear();
        s.next_id = 1;
        s.hold = None;
    }

    /// Holds the next call after recording it, until the returned [`Hold::release`] fires.
    pub fn hold_next(&self) -> Hold {
        let (arrived_tx, arrived) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        self.shared.lock().hold = Some((arrived_tx, release_rx));
        Hold { arrived, release }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: stop rather than spin; the sidecar then reports
            // the application as unreachable, which the dry run shows.
            break;
        };
        let shared = shared.clone();
        let svc = hyper::service::service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(&shared, req).await) }
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), svc)
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let method = parts.method.as_str().to_string();
    let full_path = parts.uri.path();
    let path = full_path
        .strip_prefix(shared.prefix.as_str())
        .filter(|p| p.starts_with('/'))
        .unwrap_or(full_path)
        .to_string();
    let query = parts.uri.query().map(str::to_string);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(k, _)| *k != http::header::HOST && *k != http::header::CONTENT_LENGTH)
        .map(|(k, v)| {
            let name = k.as_str().to_string();
            let value = if shared.secret_headers.contains(&name) {
                MASK.to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect();
    let (body_json, body_text) = if bytes.is_empty() {
        (None, None)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => (Some(v), None),
            Err(_) => (None, Some(String::from_utf8_lossy(&bytes).into_owned())),
        }
    };

    let (answer, hold) = {
        let mut state = shared.lock();
        let answer = choose(
            shared,
            &mut state,
            &method,
            &path,
            query.as_deref(),
            body_json.as_ref(),
        );
        let path_and_query = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        };
        state.calls.push(RecordedCall {
            method: method.clone(),
            path: path_and_query,
            headers,
            body: body_json,
            body_text,
            status: answer.status,
            answered_by: answer.source.clone(),
        });
        (answer, state.hold.take())
    };
    if let Some((arrived, release)) = hold {
        let _ = arrived.send(());
        let _ = release.await;
    }
    answer.into_response()
}

/// An answer about to be sent.
struct Chosen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Bytes>,
    source: String,
}

impl Chosen {
    fn json(status: u16, body: Value, source: String) -> Chosen {
        Chosen {
            status,
            headers: Vec::new(),
            body: Some(Bytes::from(body.to_string())),
            source,
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let has_body = self.body.is_some();
        let mut resp = Response::new(Full::new(self.body.unwrap_or_default()));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        if has_body {
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }
}

fn choose(
    shared: &Shared,
    state: &mut State,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Option<&Value>,
) -> Chosen {
    for (i, (answer, used)) in state.answers.iter_mut().enumerate() {
        if *used >= answer.times.unwrap_or(1) || !answer.matches(method, path, query) {
            continue;
        }
        *used += 1;
        let body = match (&answer.body, &answer.body_raw) {
            (Some(v), _) => Some(Bytes::from(v.to_string())),
            (None, Some(raw)) => Some(Bytes::from(raw.clone())),
            (None, None) => None,
        };
        return Chosen {
            status: answer.status,
            headers: answer.headers.clone().into_iter().collect(),
            body,
            source: format!("canned answer {} ({})", i + 1, answer.describe()),
        };
    }
    let route = shared
        .defaults
        .iter()
        .find(|r| r.method.as_str() == method && glob(&r.pattern, path));
    let Some(route) = route else {
        return Chosen::json(
            404,
            json!({"error": "not found"}),
            "default: no endpoint of the mapping has this path (404)".into(),
        );
    };
    let source = route.kind.describe().to_string();
    match &route.kind {
        DefaultKind::Get => Chosen::json(404, json!({"error": "not found"}), source),
        DefaultKind::List { records, total } => {
            let mut page = Value::Null;
            match records {
                Some(p) if !p.is_root() => p.set(&mut page, json!([])),
                _ => page = json!([]),
            }
            if let Some(t) = total
                && page.is_object()
            {
                t.set(&mut page, json!(0));
            }
            Chosen::json(200, page, source)
        }
        DefaultKind::Create {
            wrap,
            record,
            id_field,
        } => {
            let mut rec = unwrap(body, wrap.as_deref());
            let id = state.next_id;
            state.next_id += 1;
            id_field.set(&mut rec, json!(id));
            Chosen::json(201, place(rec, record.as_ref()), format!("{source}: {id}"))
        }
        DefaultKind::Update {
            wrap,
            record,
            id_field,
        } => {
            let mut rec = unwrap(body, wrap.as_deref());
            if id_field.get(&rec).is_none()
                && let Some(id) = captures(&route.pattern, path).into_iter().next()
            {
                id_field.set(&mut rec, json!(id));
            }
            Chosen::json(200, place(rec, record.as_ref()), source)
        }
        DefaultKind::NoContent => Chosen {
            status: 204,
            headers: Vec::new(),
            body: None,
            source,
        },
    }
}

/// The record inside a sent body (without its `wrap`), or an empty object.
fn unwrap(body: Option<&Value>, wrap: Option<&str>) -> Value {
    let inner = match (body, wrap) {
        (Some(b), Some(w)) => b.get(w).cloned(),
        (Some(b), None) => Some(b.clone()),
        (None, _) => None,
    };
    match inner {
        Some(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    }
}

/// A record placed where the mapping reads it from in an answer.
fn place(record: Value, at: Option<&JsonPath>) -> Value {
    match at {
        Some(p) if !p.is_root() => {
            let mut out = Value::Null;
            p.set(&mut out, record);
            out
        }
        _ => record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_patterns_match_paths_and_queries() {
        let a = |p: &str| CannedAnswer {
            method: Some("get".into()),
            path: Some(p.into()),
            ..CannedAnswer::default()
        };
        assert!(a("/api/v1/users").matches("GET", "/api/v1/users", Some("page=1")));
        assert!(!a("/api/v1/users").matches("GET", "/api/v1/users/1", None));
        assert!(!a("/api/v1/users").matches("POST", "/api/v1/users", None));
        assert!(a("/api/v1/users/*").matches("GET", "/api/v1/users/1001", None));
        assert!(a("/api/v1/users/*").matches("GET", "/api/v1/users/1/suspend", None));
        assert!(a("/api/v1/users?*email=*").matches(
            "GET",
            "/api/v1/users",
            Some("email=a&page=1")
        ));
        assert!(!a("/api/v1/users?email=*").matches("GET", "/api/v1/users", Some("page=1")));
        assert!(!a("/api/v1/users?*").matches("GET", "/api/v1/users", None));
        let any = CannedAnswer::default();
        assert!(any.matches("DELETE", "/x", None));
    }

    #[test]
    fn template_patterns_match_one_segment_per_variable() {
        let t = Template::parse("/api/v1/users/{id}/suspend", &["id"]).unwrap();
        let p = Pattern::template(&t);
        assert!(glob(&p, "/api/v1/users/1001/suspend"));
        assert!(!glob(&p, "/api/v1/users/1001"));
        assert!(!glob(&p, "/api/v1/users//suspend"));
        assert!(!glob(&p, "/api/v1/users/a/b/suspend"));
        assert_eq!(captures(&p, "/api/v1/users/10%2F1/suspend"), ["10/1"]);
        let t = Template::parse("/u/{id}.json", &["id"]).unwrap();
        assert_eq!(captures(&Pattern::template(&t), "/u/7.json"), ["7"]);
    }

    #[test]
    fn canned_answers_are_checked() {
        let bad = CannedAnswer {
            body: Some(json!({})),
            body_raw: Some("x".into()),
            ..CannedAnswer::default()
        };
        assert!(bad.check().is_err());
        assert!(
            CannedAnswer {
                status: 1000,
                ..CannedAnswer::default()
            }
            .check()
            .is_err()
        );
        assert!(
            CannedAnswer {
                times: Some(0),
                status: 200,
                ..CannedAnswer::default()
            }
            .check()
            .is_err()
        );
        assert!(
            CannedAnswer {
                status: 200,
                ..CannedAnswer::default()
            }
            .check()
            .is_ok()
        );
        let bad_header = CannedAnswer {
            status: 200,
            headers: BTreeMap::from([("a b".into(), "x".into())]),
            ..CannedAnswer::default()
        };
        assert!(bad_header.check().is_err());
    }

    #[test]
    fn bodies_are_unwrapped_and_placed() {
        let body = json!({"user": {"email": "a@x"}});
        let rec = unwrap(Some(&body), Some("user"));
        assert_eq!(rec, json!({"email": "a@x"}));
        assert_eq!(unwrap(Some(&json!([1])), None), json!({}));
        assert_eq!(
            place(rec, Some(&JsonPath::parse("data.user").unwrap())),
            json!({"data": {"user": {"email": "a@x"}}})
        );
    }
}
