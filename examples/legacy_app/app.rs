//! The example legacy application: a small, deliberately awkward user API of the kind
//! `scim-sidecar` is built to front, served in-process by hyper 1.x (hyper-util auto builder on
//! tokio) with its state in memory.
//!
//! It is three things at once: the application of `cargo run --example legacy_app` and of the
//! `demo` command, the fake application of the integration tests (it records every request it
//! receives, in order, and can inject faults into the next requests), and the reference for the
//! shipped mapping in `mappings/example-app/`.
//!
//! The API (JSON everywhere, `X-Api-Key` on every call, 401 `{"error":"invalid api key"}` without):
//! - `GET /api/v1/users?page=&per_page=&email=` → `{"data":[…],"meta":{"page","per_page","total"}}`,
//!   ordered by id; `per_page` default 25, at most 100; `page` below 1 is 1; `email` matches
//!   exactly, ignoring case;
//! - `GET /api/v1/users/{id}` → `{"user":{…}}`, 404 `{"error":"not found"}`;
//! - `POST /api/v1/users` `{"user":{…}}` → 201; a missing email, a bad field or invalid JSON →
//!   422 `{"errors":{field:[messages]}}`; a duplicate email (ignoring case) is *also* 422,
//!   `{"errors":{"email":["has already been taken"]}}`;
//! - `PUT /api/v1/users/{id}` replaces every writable field: one not sent becomes `null` (email
//!   is required); `status` in the body is ignored;
//! - `DELETE /api/v1/users/{id}` → 204;
//! - `POST /api/v1/users/{id}/suspend` and `/unsuspend` → 200 `{"user":{…}}`: the only way to
//!   change `status`;
//! - `GET /api/v1/users?team_id=N` lists the members of team N, `?role=R` the users with role R.
//!
//! Teams (one membership relation, writable three ways, so that each of the sidecar's
//! membership models can be tested against the same application):
//! - `GET /api/v1/teams?page=&per_page=&name=` → `{"data":[…],"meta":{…}}`; `name` matches
//!   exactly, ignoring case;
//! - `GET /api/v1/teams/{id}` → `{"team":{…}}`;
//! - `POST /api/v1/teams` `{"team":{"name","description","member_ids"?}}` → 201; a duplicate
//!   name (ignoring case) is 409 `{"error":"name has already been taken"}`;
//! - `PATCH /api/v1/teams/{id}` `{"team":{…}}` changes only the fields sent (`member_ids`, when
//!   sent, replaces the membership); `DELETE /api/v1/teams/{id}` → 204;
//! - `GET /api/v1/teams/{id}/members?page=&per_page=` → `{"members":[{"user_id","email"}],
//!   "meta":{…}}`; `POST /api/v1/teams/{id}/members` `{"user_id":N}` → 201, 409 when already a
//!   member, 422 for an unknown user; `DELETE /api/v1/teams/{id}/members/{user_id}` → 204, 404
//!   when not a member;
//! - a user's `team_ids` (sorted) is in every user record; a PUT that sends `team_ids` replaces
//!   the user's teams (unknown team → 422), one that omits it leaves them alone.
//! - `GET /api/v1/roles`, `GET /api/v1/roles/{id}`: the fixed roles (`member`, `admin`, `guest`)
//!   as `{"roles":[{"id","name"}]}` / `{"role":{…}}`.
//!
//! A user: `id` (from 1001), `email`, `first_name`, `last_name`, `role` (`member`, `admin`,
//! `guest` or `null`; anything else is 422), `department`, `employee_number` (string), `display_name` (string), `locale`,
//! `status` (`active` | `suspended`), `created_at`, `updated_at` (RFC 3339, UTC). Fields the API
//! does not know (`id`, `status`, timestamps, anything else) are ignored in request bodies.

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Id of the first user created.
pub const FIRST_ID: u64 = 1001;
/// Id of the first team created.
pub const FIRST_TEAM_ID: u64 = 501;
/// Page size when `per_page` is absent or below 1.
pub const DEFAULT_PER_PAGE: u64 = 25;
/// Largest page size; larger requests are clamped to it.
pub const MAX_PER_PAGE: u64 = 100;
/// Bodies above this are answered with 413 (the app is small; so are its payloads).
const MAX_BODY_BYTES: usize = 1 << 20;
/// How long `shutdown` waits for in-flight requests before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// What `Fault::MalformedJson` answers: JSON cut off in the middle.
const MALFORMED_BODY: &str = r#"{"user": {"id": 1001, "email": "trunc"#;

const ROLES: [&str; 3] = ["member", "admin", "guest"];

/// A fault applied to the next request(s) instead of (or before) normal handling. Faults queue in
/// FIFO order; each one serves `times` requests, then the next one takes over. Every request is
/// recorded before its fault is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `status` with `body` (sent as is, `application/json`); a 429 also carries
    /// `Retry-After: 7`.
    Status {
        status: u16,
        body: String,
        times: usize,
    },
    /// Wait `millis` before handling the request normally.
    Delay { millis: u64, times: usize },
    /// Close the connection without answering.
    Drop { times: usize },
    /// Answer 200 with a body that is not valid JSON.
    MalformedJson { times: usize },
}

impl Fault {
    fn times_mut(&mut self) -> &mut usize {
        match self {
            Fault::Status { times, .. }
            | Fault::Delay { times, .. }
            | Fault::Drop { times }
            | Fault::MalformedJson { times } => times,
        }
    }
}

/// One request as the application received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, still percent-encoded.
    pub query: Option<String>,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// `None` for an empty body; the parsed JSON, or a JSON string holding the raw text when the
    /// body is not valid JSON.
    pub body: Option<Value>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of query parameter `name` (`+` is a space, as in HTML forms).
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(self.query.as_deref(), name)
    }
}

/// A handle on a running legacy application. Clones share the same server and state; the server
/// stops on [`LegacyApp::shutdown`] or when every handle is dropped.
#[derive(Clone)]
pub struct LegacyApp {
    shared: Arc<Shared>,
    control: Arc<Control>,
}

impl std::fmt::Debug for LegacyApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyApp")
            .field("addr", &self.control.addr)
            .finish_non_exhaustive()
    }
}

/// What the request handlers share.
struct Shared {
    api_key: String,
    /// Whether requests are recorded (tests); off for a long-running app (benchmarks), where the
    /// log would only grow.
    recording: AtomicBool,
    state: Mutex<State>,
}

/// What only the handles need.
struct Control {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    users: BTreeMap<u64, User>,
    teams: BTreeMap<u64, Team>,
    /// (team id, user id) pairs.
    memberships: BTreeSet<(u64, u64)>,
    next_team_id: u64,
    /// Lowercased e-mail → ids (ascending), so that duplicate checks and the e-mail search stay
    /// O(1) with many users. Seeding does not check duplicates, hence several ids per address.
    emails: HashMap<String, Vec<u64>>,
    next_id: u64,
    seeded: u64,
    requests: Vec<RecordedRequest>,
    faults: VecDeque<Fault>,
}

impl State {
    /// Takes the fault for the request being handled, if any.
    fn next_fault(&mut self) -> Option<Fault> {
        let front = self.faults.front_mut()?;
        let times = front.times_mut();
        *times = times.saturating_sub(1);
        let exhausted = *times == 0;
        let fault = front.clone();
        if exhausted {
            self.faults.pop_front();
        }
        Some(fault)
    }

    /// A user as the API shows it, with its teams.
    fn user_json(&self, user: &User) -> Value {
        let mut v = user.to_json();
        let teams: Vec<u64> = self
            .memberships
            .iter()
            .filter(|(_, u)| *u == user.id)
            .map(|(t, _)| *t)
            .collect();
        v["team_ids"] = json!(teams);
        v
    }

    /// The ids of a team's members, ascending.
    fn member_ids(&self, team_id: u64) -> Vec<u64> {
        self.memberships
            .range((team_id, 0)..=(team_id, u64::MAX))
            .map(|(_, u)| *u)
            .collect()
    }

    /// A team as the API shows it, with its member ids.
    fn team_json(&self, team: &Team) -> Value {
        let members = self.member_ids(team.id);
        json!({
            "id": team.id,
            "name": team.name,
            "description": team.description,
            "member_ids": members,
            "created_at": team.created_at,
            "updated_at": team.updated_at,
        })
    }

    fn team_name_taken(&self, name: &str, except: Option<u64>) -> bool {
        let name = name.to_lowercase();
        self.teams
            .values()
            .any(|t| Some(t.id) != except && t.name.to_lowercase() == name)
    }

    fn email_taken(&self, email: &str, except: Option<u64>) -> bool {
        self.with_email(email).iter().any(|id| Some(*id) != except)
    }

    /// Ids of the users with this e-mail (ignoring case), ascending.
    fn with_email(&self, email: &str) -> &[u64] {
        self.emails
            .get(&email.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    fn index_email(&mut self, email: &str, id: u64) {
        let ids = self.emails.entry(email.to_lowercase()).or_default();
        if let Err(at) = ids.binary_search(&id) {
            ids.insert(at, id);
        }
    }

    fn unindex_email(&mut self, email: &str, id: u64) {
        let key = email.to_lowercase();
        if let Some(ids) = self.emails.get_mut(&key) {
            ids.retain(|i| *i != id);
            if ids.is_empty() {
                self.emails.remove(&key);
            }
        }
    }

    fn insert(&mut self, input: UserInput) -> &User {
        let id = self.next_id.max(FIRST_ID);
        self.next_id = id + 1;
        let now = rfc3339(SystemTime::now());
        let user = User {
            id,
            email: input.email,
            first_name: input.first_name,
            last_name: input.last_name,
            role: input.role,
            department: input.department,
            employee_number: input.employee_number,
            display_name: input.display_name,
            locale: input.locale,
            suspended: false,
            created_at: now.clone(),
            updated_at: now,
        };
        self.index_email(&user.email, id);
        self.users.entry(id).or_insert(user)
    }
}

#[derive(Debug, Clone)]
struct Team {
    id: u64,
    name: String,
    description: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Clone)]
struct User {
    id: u64,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<String>,
    department: Option<String>,
    employee_number: Option<String>,
    display_name: Option<String>,
    locale: Option<String>,
    suspended: bool,
    created_at: String,
    updated_at: String,
}

impl User {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "role": self.role,
            "department": self.department,
            "employee_number": self.employee_number,
            "display_name": self.display_name,
            "locale": self.locale,
            "status": if self.suspended { "suspended" } else { "active" },
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// PUT semantics: every writable field takes the sent value, `null` when not sent.
    fn replace(&mut self, input: UserInput) {
        self.email = input.email;
        self.first_name = input.first_name;
        self.last_name = input.last_name;
        self.role = input.role;
        self.department = input.department;
        self.employee_number = input.employee_number;
        self.display_name = input.display_name;
        self.locale = input.locale;
        self.touch();
    }

    fn touch(&mut self) {
        self.updated_at = rfc3339(SystemTime::now());
    }
}

/// The writable fields of a request body, validated.
struct UserInput {
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<String>,
    department: Option<String>,
    employee_number: Option<String>,
    display_name: Option<String>,
    locale: Option<String>,
}

/// Starts the application on `listener` (bind `127.0.0.1:0` in tests) and returns at once.
pub async fn start(listener: TcpListener, api_key: String) -> LegacyApp {
    // Fall back to the unspecified address only if the OS cannot tell us ours (it always can
    // for a bound TCP listener); the handle must not panic.
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let shared = Arc::new(Shared {
        api_key,
        recording: AtomicBool::new(true),
        state: Mutex::new(State {
            next_id: FIRST_ID,
            ..State::default()
        }),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(listener, Arc::clone(&shared), stopped));
    LegacyApp {
        shared,
        control: Arc::new(Control {
            addr,
            stop,
            task: Mutex::new(Some(task)),
        }),
    }
}

impl LegacyApp {
    pub fn addr(&self) -> SocketAddr {
        self.control.addr
    }

    /// `http://host:port`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.control.addr)
    }

    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    /// Every user as `GET /api/v1/users/{id}` shows it, ordered by id.
    pub fn users(&self) -> Vec<Value> {
        let state = self.shared.lock();
        state.users.values().map(|u| state.user_json(u)).collect()
    }

    /// One user as the API shows it.
    pub fn user(&self, id: u64) -> Option<Value> {
        let state = self.shared.lock();
        state.users.get(&id).map(|u| state.user_json(u))
    }

    /// Every team as `GET /api/v1/teams/{id}` shows it, ordered by id.
    pub fn teams(&self) -> Vec<Value> {
        let state = self.shared.lock();
        state.teams.values().map(|t| state.team_json(t)).collect()
    }

    /// One team's member ids, sorted (`None`: no such team).
    pub fn team_members(&self, team_id: u64) -> Option<Vec<u64>> {
        let state = self.shared.lock();
        state.teams.get(&team_id)?;
        Some(state.member_ids(team_id))
    }

    /// Adds a team with these members directly (not recorded as a request); returns its id.
    pub fn seed_team(&self, name: &str, members: &[u64]) -> u64 {
        let mut state = self.shared.lock();
        let id = state.next_team_id.max(FIRST_TEAM_ID);
        state.next_team_id = id + 1;
        let now = rfc3339(SystemTime::now());
        state.teams.insert(
            id,
            Team {
                id,
                name: name.to_string(),
                description: None,
                created_at: now.clone(),
                updated_at: now,
            },
        );
        for m in members {
            state.memberships.insert((id, *m));
        }
        id
    }

    /// Adds `n` active members `userK@example.com` (first name `User`, last name `K`), numbering
    /// on from earlier calls, and returns their ids. Seeding is not recorded as requests.
    pub fn seed(&self, n: usize) -> Vec<u64> {
        let mut state = self.shared.lock();
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            state.seeded += 1;
            let k = state.seeded;
            let user = state.insert(UserInput {
                email: format!("user{k}@example.com"),
                first_name: Some("User".into()),
                last_name: Some(k.to_string()),
                role: Some("member".into()),
                department: None,
                employee_number: None,
                display_name: None,
                locale: Some("en-US".into()),
            });
            ids.push(user.id);
        }
        ids
    }

    /// Every request received since the start (or the last [`LegacyApp::clear_requests`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Turns request recording on (the default) or off. A long-running app (the example binary,
    /// benchmarks) turns it off: nobody reads the log there, and it would grow without bound.
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Queues a fault for the next request(s). A fault with `times: 0` does nothing.
    pub fn inject(&self, mut fault: Fault) {
        if *fault.times_mut() > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), closes idle
    /// keep-alive connections and returns when the server task has ended. Idempotent.
    pub async fn shutdown(&self) {
        let _ = self.control.stop.send(true);
        let task = self
            .control
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Shared {
    /// Poisoning only means a test panicked while holding the lock; the data is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The accept loop; ends on the stop signal (or when every handle is gone), then drains.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of descriptors and the like: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&shared);
                let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
                let conn = builder.serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    // Connection errors (resets, injected drops) are part of the job.
                    let _ = conn.await;
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Returned by the service to make hyper close the connection without an answer.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

type Resp = Response<Full<Bytes>>;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    let (parts, body) = req.into_parts();
    let bytes = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map(|c| c.to_bytes());
    let recorded = shared
        .recording
        .load(Ordering::Relaxed)
        .then(|| RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: bytes.as_ref().ok().and_then(|b| recorded_body(b)),
        });
    let fault = {
        let mut state = shared.lock();
        state.requests.extend(recorded);
        state.next_fault()
    };
    match fault {
        Some(Fault::Status { status, body, .. }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = respond(status, Bytes::from(body));
            if status == StatusCode::TOO_MANY_REQUESTS {
                resp.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("7"));
            }
            return Ok(resp);
        }
        Some(Fault::Delay { millis, .. }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
        }
        Some(Fault::Drop { .. }) => return Err(DropConnection),
        Some(Fault::MalformedJson { .. }) => {
            return Ok(respond(
                StatusCode::OK,
                Bytes::from_static(MALFORMED_BODY.as_bytes()),
            ));
        }
        None => {}
    }
    let Ok(bytes) = bytes else {
        return Ok(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        ));
    };
    let key_ok = parts
        .headers
        .get("x-api-key")
        .is_some_and(|v| v.as_bytes() == shared.api_key.as_bytes());
    if !key_ok {
        return Ok(error(StatusCode::UNAUTHORIZED, "invalid api key"));
    }
    Ok(route(
        &shared,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &bytes,
    ))
}

fn recorded_body(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned())),
    )
}

fn route(shared: &Shared, method: &Method, path: &str, query: Option<&str>, body: &[u8]) -> Resp {
    if let Some(rest) = path.strip_prefix("/api/v1/teams") {
        return teams::route(shared, method, rest, query, body);
    }
    if let Some(rest) = path.strip_prefix("/api/v1/roles") {
        return teams::roles(method, rest);
    }
    let Some(rest) = path.strip_prefix("/api/v1/users") else {
        return not_found();
    };
    let Some(segments) = segments(rest) else {
        return not_found();
    };
    match segments.as_slice() {
        [] => match *method {
            Method::GET => list(shared, query),
            Method::POST => create(shared, body),
            _ => method_not_allowed("GET, POST"),
        },
        [id] => {
            if !matches!(*method, Method::GET | Method::PUT | Method::DELETE) {
                return method_not_allowed("GET, PUT, DELETE");
            }
            let Some(id) = parse_id(id) else {
                return not_found();
            };
            match *method {
                Method::GET => show(shared, id),
                Method::PUT => update(shared, id, body),
                _ => destroy(shared, id),
            }
        }
        [id, action @ ("suspend" | "unsuspend")] => {
            if *method != Method::POST {
                return method_not_allowed("POST");
            }
            match parse_id(id) {
                Some(id) => set_suspended(shared, id, *action == "suspend"),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// Ids are plain decimal numbers (no sign, no spaces).
fn parse_id(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The segments after a collection's prefix (`""` → none, `"/5/members"` → `["5", "members"]`);
/// `None` when the prefix is only part of a longer name (`/api/v1/usersx`).
fn segments(rest: &str) -> Option<Vec<&str>> {
    if rest.is_empty() {
        Some(Vec::new())
    } else {
        Some(rest.strip_prefix('/')?.split('/').collect())
    }
}

/// `page` (from 1) and `per_page` (default 25, at most 100), as every list reads them.
fn paging(query: Option<&str>) -> (u64, u64) {
    let page = query_param(query, "page")
        .and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .map_or(1, |p| p.unsigned_abs());
    let per_page = query_param(query, "per_page")
        .and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .map_or(DEFAULT_PER_PAGE, |p| p.unsigned_abs().min(MAX_PER_PAGE));
    (page, per_page)
}

/// The items of one page.
fn page_of<T>(items: impl IntoIterator<Item = T>, page: u64, per_page: u64) -> Vec<T> {
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    items
        .into_iter()
        .skip(skip)
        .take(per_page as usize)
        .collect()
}

fn list(shared: &Shared, query: Option<&str>) -> Resp {
    let (page, per_page) = paging(query);
    let email = query_param(query, "email")
        .filter(|e| !e.is_empty())
        .map(|e| e.to_lowercase());
    let team = query_param(query, "team_id").filter(|t| !t.is_empty());
    let role = query_param(query, "role").filter(|r| !r.is_empty());
    let state = shared.lock();
    let matching: Vec<&User> = match &email {
        Some(e) => state
            .with_email(e)
            .iter()
            .filter_map(|id| state.users.get(id))
            .collect(),
        None => state.users.values().collect(),
    };
    let matching: Vec<&User> = matching
        .into_iter()
        .filter(|u| {
            team.as_ref()
                .is_none_or(|t| parse_id(t).is_some_and(|t| state.memberships.contains(&(t, u.id))))
        })
        .filter(|u| role.as_ref().is_none_or(|r| u.role.as_ref() == Some(r)))
        .collect();
    let data: Vec<Value> = page_of(&matching, page, per_page)
        .into_iter()
        .map(|u| state.user_json(u))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "data": data,
            "meta": {"page": page, "per_page": per_page, "total": matching.len()},
        }),
    )
}

fn show(shared: &Shared, id: u64) -> Resp {
    let state = shared.lock();
    match state.users.get(&id) {
        Some(user) => json_response(StatusCode::OK, &json!({ "user": state.user_json(user) })),
        None => not_found(),
    }
}

fn create(shared: &Shared, body: &[u8]) -> Resp {
    let input = match parse_input(body) {
        Ok(input) => input,
        Err(errors) => return unprocessable(errors),
    };
    let mut state = shared.lock();
    if state.email_taken(&input.email, None) {
        return taken();
    }
    let user = state.insert(input).clone();
    let user = state.user_json(&user);
    json_response(StatusCode::CREATED, &json!({ "user": user }))
}

fn update(shared: &Shared, id: u64, body: &[u8]) -> Resp {
    let mut state = shared.lock();
    if !state.users.contains_key(&id) {
        return not_found();
    }
    let input = match parse_input(body) {
        Ok(input) => input,
        Err(errors) => return unprocessable(errors),
    };
    if state.email_taken(&input.email, Some(id)) {
        return taken();
    }
    let teams = match team_ids(&state, body) {
        Ok(t) => t,
        Err(resp) => return *resp,
    };
    let Some(user) = state.users.get_mut(&id) else {
        return not_found();
    };
    let old = std::mem::take(&mut user.email);
    user.replace(input);
    let user = user.clone();
    state.unindex_email(&old, id);
    state.index_email(&user.email, id);
    if let Some(teams) = teams {
        state.memberships.retain(|(_, u)| *u != id);
        for t in teams {
            state.memberships.insert((t, id));
        }
    }
    json_response(StatusCode::OK, &json!({ "user": state.user_json(&user) }))
}

fn destroy(shared: &Shared, id: u64) -> Resp {
    let mut state = shared.lock();
    match state.users.remove(&id) {
        Some(user) => {
            state.unindex_email(&user.email, id);
            state.memberships.retain(|(_, u)| *u != id);
            respond(StatusCode::NO_CONTENT, Bytes::new())
        }
        None => not_found(),
    }
}

/// `team_ids` of a user PUT body: `Ok(None)` when not sent; unknown teams are 422.
fn team_ids(state: &State, body: &[u8]) -> Result<Option<Vec<u64>>, Box<Resp>> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let invalid = |msg: &str| {
        Box::new(unprocessable(Map::from_iter([(
            "team_ids".to_string(),
            json!([msg]),
        )])))
    };
    match parsed.pointer("/user/team_ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(ids)) => {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match id.as_u64() {
                    Some(t) if state.teams.contains_key(&t) => out.push(t),
                    Some(_) => return Err(invalid("contains an unknown team")),
                    None => return Err(invalid("must be a list of team ids")),
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(invalid("must be a list of team ids")),
    }
}

fn set_suspended(shared: &Shared, id: u64, suspended: bool) -> Resp {
    let mut state = shared.lock();
    match state.users.get_mut(&id) {
        Some(user) => {
            if user.suspended != suspended {
                user.suspended = suspended;
                user.touch();
            }
            let user = user.clone();
            json_response(StatusCode::OK, &json!({ "user": state.user_json(&user) }))
        }
        None => not_found(),
    }
}

/// Validates a `{"user": {...}}` body; on failure, the `errors` object (every problem at once).
fn parse_input(body: &[u8]) -> Result<UserInput, Map<String, Value>> {
    let mut errors = Map::new();
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            errors.insert("base".into(), json!(["request body is not valid JSON"]));
            return Err(errors);
        }
    };
    let Some(user) = parsed.get("user").and_then(Value::as_object) else {
        errors.insert("user".into(), json!(["is missing"]));
        return Err(errors);
    };
    let mut text = |field: &str| -> Option<String> {
        match user.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.insert(field.into(), json!(["must be a string"]));
                None
            }
        }
    };
    let email = text("email");
    let first_name = text("first_name");
    let last_name = text("last_name");
    let role = text("role");
    let department = text("department");
    let employee_number = text("employee_number");
    let display_name = text("display_name");
    let locale = text("locale");
    let email = match email {
        Some(e) if !e.trim().is_empty() => e,
        _ => {
            errors
                .entry("email")
                .or_insert_with(|| json!(["can't be blank"]));
            String::new()
        }
    };
    if let Some(r) = &role {
        if !ROLES.contains(&r.as_str()) {
            errors.insert("role".into(), json!(["is not included in the list"]));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(UserInput {
        email,
        first_name,
        last_name,
        role,
        department,
        employee_number,
        display_name,
        locale,
    })
}

/// The first value of `name` in a form-encoded query string, decoded (`+` is a space).
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k) == name).then(|| form_decode(v))
    })
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

fn respond(status: StatusCode, body: Bytes) -> Resp {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    if status != StatusCode::NO_CONTENT {
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    resp
}

fn json_response(status: StatusCode, value: &Value) -> Resp {
    respond(status, Bytes::from(value.to_string()))
}

fn error(status: StatusCode, message: &str) -> Resp {
    json_response(status, &json!({ "error": message }))
}

fn not_found() -> Resp {
    error(StatusCode::NOT_FOUND, "not found")
}

fn method_not_allowed(allow: &'static str) -> Resp {
    let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

fn unprocessable(errors: Map<String, Value>) -> Resp {
    json_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({ "errors": errors }),
    )
}

/// The awkward part of this API: a duplicate is a validation error, not a 409.
fn taken() -> Resp {
    unprocessable(Map::from_iter([(
        "email".to_string(),
        json!(["has already been taken"]),
    )]))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for `t` (clock before 1970 → the epoch).
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Gregorian date of the day `days` after 1970-01-01. Counts in 400-year eras starting on
/// 0000-03-01, so that the leap day is the last day of each shifted year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    const DAYS_PER_ERA: u64 = 146_097;
    // 0000-03-01 is 719 468 days before the Unix epoch.
    let shifted = days + 719_468;
    let era = shifted / DAYS_PER_ERA;
    let day_of_era = shifted % DAYS_PER_ERA;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 153 days per five months.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// Teams, their members, and the fixed roles.
mod teams {
    use super::*;

    pub(super) fn route(
        shared: &Shared,
        method: &Method,
        rest: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let Some(segments) = segments(rest) else {
            return not_found();
        };
        match segments.as_slice() {
            [] => match *method {
                Method::GET => list(shared, query),
                Method::POST => create(shared, body),
                _ => method_not_allowed("GET, POST"),
            },
            [id] => {
                let Some(id) = parse_id(id) else {
                    return not_found();
                };
                match *method {
                    Method::GET => show(shared, id),
                    Method::PATCH => update(shared, id, body),
                    Method::DELETE => destroy(shared, id),
                    _ => method_not_allowed("GET, PATCH, DELETE"),
                }
            }
            [id, "members"] => {
                let Some(id) = parse_id(id) else {
                    return not_found();
                };
                match *method {
                    Method::GET => members(shared, id, query),
                    Method::POST => add_member(shared, id, body),
                    _ => method_not_allowed("GET, POST"),
                }
            }
            [id, "members", user] => {
                let (Some(id), Some(user)) = (parse_id(id), parse_id(user)) else {
                    return not_found();
                };
                match *method {
                    Method::DELETE => remove_member(shared, id, user),
                    _ => method_not_allowed("DELETE"),
                }
            }
            _ => not_found(),
        }
    }

    fn list(shared: &Shared, query: Option<&str>) -> Resp {
        let (page, per_page) = paging(query);
        let name = query_param(query, "name")
            .filter(|n| !n.is_empty())
            .map(|n| n.to_lowercase());
        let state = shared.lock();
        let matching: Vec<&Team> = state
            .teams
            .values()
            .filter(|t| name.as_ref().is_none_or(|n| t.name.to_lowercase() == *n))
            .collect();
        let total = matching.len();
        let data: Vec<Value> = page_of(matching, page, per_page)
            .into_iter()
            .map(|t| state.team_json(t))
            .collect();
        json_response(
            StatusCode::OK,
            &json!({
                "data": data,
                "meta": {"page": page, "per_page": per_page, "total": total},
            }),
        )
    }

    fn show(shared: &Shared, id: u64) -> Resp {
        let state = shared.lock();
        match state.teams.get(&id) {
            Some(team) => json_response(StatusCode::OK, &json!({ "team": state.team_json(team) })),
            None => not_found(),
        }
    }

    /// The `team` object of a body, validated: name (required on create), description,
    /// member_ids (known users).
    struct TeamInput {
        name: Option<String>,
        description: Option<Option<String>>,
        member_ids: Option<Vec<u64>>,
    }

    fn parse(state: &State, body: &[u8]) -> Result<TeamInput, Map<String, Value>> {
        let mut errors = Map::new();
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => {
                errors.insert("base".into(), json!(["request body is not valid JSON"]));
                return Err(errors);
            }
        };
        let Some(team) = parsed.get("team").and_then(Value::as_object) else {
            errors.insert("team".into(), json!(["is missing"]));
            return Err(errors);
        };
        let name = match team.get("name") {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => {
                errors.insert("name".into(), json!(["can't be blank"]));
                None
            }
        };
        let description = match team.get("description") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                errors.insert("description".into(), json!(["must be a string"]));
                None
            }
        };
        let member_ids = match team.get("member_ids") {
            None | Some(Value::Null) => None,
            Some(Value::Array(ids)) => {
                let ids: Vec<Option<u64>> = ids.iter().map(Value::as_u64).collect();
                if ids
                    .iter()
                    .any(|i| i.is_none_or(|i| !state.users.contains_key(&i)))
                {
                    errors.insert("member_ids".into(), json!(["contains an unknown user"]));
                    None
                } else {
                    Some(ids.into_iter().flatten().collect())
                }
            }
            Some(_) => {
                errors.insert("member_ids".into(), json!(["must be a list of user ids"]));
                None
            }
        };
        if errors.is_empty() {
            Ok(TeamInput {
                name,
                description,
                member_ids,
            })
        } else {
            Err(errors)
        }
    }

    fn name_taken() -> Resp {
        error(StatusCode::CONFLICT, "name has already been taken")
    }

    fn create(shared: &Shared, body: &[u8]) -> Resp {
        let mut state = shared.lock();
        let input = match parse(&state, body) {
            Ok(i) => i,
            Err(errors) => return unprocessable(errors),
        };
        let Some(name) = input.name else {
            return unprocessable(Map::from_iter([(
                "name".to_string(),
                json!(["can't be blank"]),
            )]));
        };
        if state.team_name_taken(&name, None) {
            return name_taken();
        }
        let id = state.next_team_id.max(FIRST_TEAM_ID);
        state.next_team_id = id + 1;
        let now = rfc3339(SystemTime::now());
        let team = Team {
            id,
            name,
            description: input.description.flatten(),
            created_at: now.clone(),
            updated_at: now,
        };
        for u in input.member_ids.unwrap_or_default() {
            state.memberships.insert((id, u));
        }
        let json = state.team_json(&team);
        state.teams.insert(id, team);
        json_response(StatusCode::CREATED, &json!({ "team": json }))
    }

    fn update(shared: &Shared, id: u64, body: &[u8]) -> Resp {
        let mut state = shared.lock();
        if !state.teams.contains_key(&id) {
            return not_found();
        }
        let input = match parse(&state, body) {
            Ok(i) => i,
            Err(errors) => return unprocessable(errors),
        };
        if let Some(name) = &input.name
            && state.team_name_taken(name, Some(id))
        {
            return name_taken();
        }
        if let Some(members) = input.member_ids {
            state.memberships.retain(|(t, _)| *t != id);
            for u in members {
                state.memberships.insert((id, u));
            }
        }
        let Some(team) = state.teams.get_mut(&id) else {
            return not_found();
        };
        if let Some(name) = input.name {
            team.name = name;
        }
        if let Some(description) = input.description {
            team.description = description;
        }
        team.updated_at = rfc3339(SystemTime::now());
        let team = team.clone();
        json_response(StatusCode::OK, &json!({ "team": state.team_json(&team) }))
    }

    fn destroy(shared: &Shared, id: u64) -> Resp {
        let mut state = shared.lock();
        match state.teams.remove(&id) {
            Some(_) => {
                state.memberships.retain(|(t, _)| *t != id);
                respond(StatusCode::NO_CONTENT, Bytes::new())
            }
            None => not_found(),
        }
    }

    fn members(shared: &Shared, id: u64, query: Option<&str>) -> Resp {
        let (page, per_page) = paging(query);
        let state = shared.lock();
        if !state.teams.contains_key(&id) {
            return not_found();
        }
        let all = state.member_ids(id);
        let total = all.len();
        let members: Vec<Value> = page_of(all, page, per_page)
            .into_iter()
            .map(|u| {
                let email = state.users.get(&u).map(|u| u.email.clone());
                json!({"user_id": u, "email": email})
            })
            .collect();
        json_response(
            StatusCode::OK,
            &json!({
                "members": members,
                "meta": {"page": page, "per_page": per_page, "total": total},
            }),
        )
    }

    fn add_member(shared: &Shared, id: u64, body: &[u8]) -> Resp {
        let mut state = shared.lock();
        if !state.teams.contains_key(&id) {
            return not_found();
        }
        let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let user = parsed.get("user_id").and_then(Value::as_u64);
        let Some(user) = user.filter(|u| state.users.contains_key(u)) else {
            return unprocessable(Map::from_iter([(
                "user_id".to_string(),
                json!(["is not a known user"]),
            )]));
        };
        if !state.memberships.insert((id, user)) {
            return error(StatusCode::CONFLICT, "already a member");
        }
        json_response(
            StatusCode::CREATED,
            &json!({"member": {"team_id": id, "user_id": user}}),
        )
    }

    fn remove_member(shared: &Shared, id: u64, user: u64) -> Resp {
        if shared.lock().memberships.remove(&(id, user)) {
            respond(StatusCode::NO_CONTENT, Bytes::new())
        } else {
            not_found()
        }
    }

    fn role_json(id: &str) -> Value {
        let mut name = id.to_string();
        if let Some(first) = name.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        json!({"id": id, "name": name})
    }

    /// `GET /api/v1/roles[/{id}]`: the fixed roles.
    pub(super) fn roles(method: &Method, rest: &str) -> Resp {
        if *method != Method::GET {
            return method_not_allowed("GET");
        }
        match rest.strip_prefix('/') {
            None if rest.is_empty() => json_response(
                StatusCode::OK,
                &json!({"roles": ROLES.iter().map(|r| role_json(r)).collect::<Vec<_>>()}),
            ),
            Some(id) if ROLES.contains(&id) => {
                json_response(StatusCode::OK, &json!({"role": role_json(id)}))
            }
            _ => not_found(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const KEY: &str = "test-key";

    async fn app() -> LegacyApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        start(listener, KEY.to_string()).await
    }

    #[derive(Debug)]
    struct Answer {
        /// 0 when the connection closed without an answer.
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
        }
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// One request over a fresh connection, read until the server closes it.
    async fn call(
        app: &LegacyApp,
        method: &str,
        target: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut stream = TcpStream::connect(app.addr()).await.unwrap();
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: legacy\r\nConnection: close\r\n");
        if let Some(key) = key {
            head.push_str(&format!("X-Api-Key: {key}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body);
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        // A dropped connection may end in a reset rather than a clean EOF.
        let _ = stream.read_to_end(&mut raw).await;
        let raw = String::from_utf8(raw).unwrap();
        let Some((head, body)) = raw.split_once("\r\n\r\n") else {
            assert!(raw.is_empty(), "partial answer: {raw:?}");
            return Answer {
                status: 0,
                headers: Vec::new(),
                body: String::new(),
            };
        };
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    async fn get(app: &LegacyApp, target: &str) -> Answer {
        call(app, "GET", target, Some(KEY), None).await
    }

    async fn send(app: &LegacyApp, method: &str, target: &str, body: Value) -> Answer {
        call(app, method, target, Some(KEY), Some(&body.to_string())).await
    }

    async fn create_user(app: &LegacyApp, user: Value) -> Answer {
        send(app, "POST", "/api/v1/users", json!({ "user": user })).await
    }

    #[tokio::test]
    async fn create_returns_the_full_user_with_defaults() {
        let app = app().await;
        let a = create_user(
            &app,
            json!({"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace",
                   "role": "admin", "status": "suspended", "id": 5, "nickname": "ignored"}),
        )
        .await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(
            a.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let user = &a.json()["user"];
        assert_eq!(user["id"], 1001);
        assert_eq!(user["email"], "Ada@Example.com");
        assert_eq!(user["first_name"], "Ada");
        assert_eq!(user["role"], "admin");
        // status and id in the body are ignored; unknown fields are dropped.
        assert_eq!(user["status"], "active");
        assert!(user.get("nickname").is_none());
        assert_eq!(user["department"], Value::Null);
        assert_eq!(user["employee_number"], Value::Null);
        assert_eq!(user["created_at"], user["updated_at"]);
        let created = user["created_at"].as_str().unwrap();
        assert_eq!(created.len(), 20);
        assert!(created.ends_with('Z') && created.as_bytes()[10] == b'T');
        assert_eq!(app.user(1001).as_ref(), Some(user));

        let b = create_user(&app, json!({"email": "bob@example.com"})).await;
        assert_eq!(b.status, 201);
        assert_eq!(b.json()["user"]["id"], 1002);
        assert_eq!(b.json()["user"]["role"], Value::Null);
        assert_eq!(app.users().len(), 2);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn create_rejects_bad_input_with_422() {
        let app = app().await;
        let missing = create_user(&app, json!({"first_name": "No"})).await;
        assert_eq!(missing.status, 422);
        assert_eq!(
            missing.json(),
            json!({"errors": {"email": ["can't be blank"]}})
        );

        let blank = create_user(&app, json!({"email": "  ", "role": "boss", "locale": 7})).await;
        assert_eq!(blank.status, 422);
        let errors = &blank.json()["errors"];
        assert_eq!(errors["email"], json!(["can't be blank"]));
        assert_eq!(errors["role"], json!(["is not included in the list"]));
        assert_eq!(errors["locale"], json!(["must be a string"]));

        let broken = call(&app, "POST", "/api/v1/users", Some(KEY), Some("{\"user\":")).await;
        assert_eq!(broken.status, 422);
        assert!(broken.json()["errors"]["base"].is_array());

        let unwrapped = send(&app, "POST", "/api/v1/users", json!({"email": "x@y.z"})).await;
        assert_eq!(unwrapped.status, 422);
        assert_eq!(unwrapped.json()["errors"]["user"], json!(["is missing"]));
        assert!(app.users().is_empty());
        app.shutdown().await;
    }

    #[tokio::test]
    async fn duplicate_email_is_422_ignoring_case() {
        let app = app().await;
        assert_eq!(
            create_user(&app, json!({"email": "ada@example.com"}))
                .await
                .status,
            201
        );
        let dup = create_user(&app, json!({"email": "ADA@example.COM"})).await;
        assert_eq!(dup.status, 422);
        assert_eq!(
            dup.json(),
            json!({"errors": {"email": ["has already been taken"]}})
        );
        assert_eq!(app.users().len(), 1);

        // A PUT onto another user's email is refused the same way; onto its own is fine.
        let bob = create_user(&app, json!({"email": "bob@example.com"})).await;
        let bob_id = bob.json()["user"]["id"].as_u64().unwrap();
        let path = format!("/api/v1/users/{bob_id}");
        let clash = send(
            &app,
            "PUT",
            &path,
            json!({"user": {"email": "Ada@Example.com"}}),
        )
        .await;
        assert_eq!(clash.status, 422);
        assert_eq!(
            clash.json()["errors"]["email"],
            json!(["has already been taken"])
        );
        let own = send(
            &app,
            "PUT",
            &path,
            json!({"user": {"email": "BOB@example.com"}}),
        )
        .await;
        assert_eq!(own.status, 200);
        assert_eq!(own.json()["user"]["email"], "BOB@example.com");
        app.shutdown().await;
    }

    #[tokio::test]
    async fn list_pages_in_id_order_with_total() {
        let app = app().await;
        let ids = app.seed(7);
        assert_eq!(ids, (1001..=1007).collect::<Vec<_>>());

        let first = get(&app, "/api/v1/users").await;
        assert_eq!(first.status, 200);
        let body = first.json();
        assert_eq!(body["meta"], json!({"page": 1, "per_page": 25, "total": 7}));
        assert_eq!(body["data"].as_array().unwrap().len(), 7);
        assert_eq!(body["data"][0]["email"], "user1@example.com");

        let page2 = get(&app, "/api/v1/users?page=2&per_page=3").await.json();
        let emails: Vec<&str> = page2["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap())
            .collect();
        assert_eq!(
            emails,
            [
                "user4@example.com",
                "user5@example.com",
                "user6@example.com"
            ]
        );
        assert_eq!(page2["meta"], json!({"page": 2, "per_page": 3, "total": 7}));

        let last = get(&app, "/api/v1/users?page=3&per_page=3").await.json();
        assert_eq!(last["data"].as_array().unwrap().len(), 1);
        let past = get(&app, "/api/v1/users?page=9&per_page=3").await.json();
        assert_eq!(past["data"], json!([]));
        assert_eq!(past["meta"]["total"], 7);

        // page < 1 → 1; per_page clamped to 100; nonsense → defaults.
        let clamped = get(&app, "/api/v1/users?page=-4&per_page=1000")
            .await
            .json();
        assert_eq!(
            clamped["meta"],
            json!({"page": 1, "per_page": 100, "total": 7})
        );
        let nonsense = get(&app, "/api/v1/users?page=x&per_page=0&").await.json();
        assert_eq!(
            nonsense["meta"],
            json!({"page": 1, "per_page": 25, "total": 7})
        );
        let huge = get(&app, "/api/v1/users?page=99999999999999999&per_page=100").await;
        assert_eq!(huge.status, 200);
        assert_eq!(huge.json()["data"], json!([]));
        app.shutdown().await;
    }

    #[tokio::test]
    async fn email_search_is_exact_and_ignores_case() {
        let app = app().await;
        app.seed(12);
        assert_eq!(
            create_user(&app, json!({"email": "ada+scim@example.com"}))
                .await
                .status,
            201
        );
        let hit = get(&app, "/api/v1/users?email=USER1%40Example.com")
            .await
            .json();
        assert_eq!(hit["meta"]["total"], 1);
        assert_eq!(hit["data"][0]["email"], "user1@example.com");
        // Exact: user1 must not match user10..12.
        let miss = get(&app, "/api/v1/users?email=user").await.json();
        assert_eq!(miss["meta"]["total"], 0);
        assert_eq!(miss["data"], json!([]));
        // Form decoding: an unencoded `+` is a space, so only %2B finds the address.
        let plus = get(&app, "/api/v1/users?email=ada%2Bscim%40example.com")
            .await
            .json();
        assert_eq!(plus["meta"]["total"], 1);
        let space = get(&app, "/api/v1/users?email=ada+scim@example.com")
            .await
            .json();
        assert_eq!(space["meta"]["total"], 0);
        // An empty filter is no filter.
        let all = get(&app, "/api/v1/users?email=").await.json();
        assert_eq!(all["meta"]["total"], 13);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn get_and_delete_by_id() {
        let app = app().await;
        let id = app.seed(1)[0];
        let found = get(&app, &format!("/api/v1/users/{id}")).await;
        assert_eq!(found.status, 200);
        assert_eq!(found.json()["user"]["email"], "user1@example.com");
        for target in [
            "/api/v1/users/999",
            "/api/v1/users/abc",
            "/api/v1/users/+1001",
            "/api/v1/users/",
        ] {
            let a = get(&app, target).await;
            assert_eq!(a.status, 404, "{target}");
            assert_eq!(a.json(), json!({"error": "not found"}));
        }
        let path = format!("/api/v1/users/{id}");
        let deleted = call(&app, "DELETE", &path, Some(KEY), None).await;
        assert_eq!(deleted.status, 204);
        assert_eq!(deleted.body, "");
        assert_eq!(get(&app, &path).await.status, 404);
        assert_eq!(
            call(&app, "DELETE", &path, Some(KEY), None).await.status,
            404
        );
        assert!(app.users().is_empty());
        app.shutdown().await;
    }

    #[tokio::test]
    async fn put_replaces_every_field_and_ignores_status() {
        let app = app().await;
        let created = create_user(
            &app,
            json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
                   "role": "admin", "department": "R&D", "employee_number": "42", "locale": "en-GB"}),
        )
        .await
        .json();
        let id = created["user"]["id"].as_u64().unwrap();
        let path = format!("/api/v1/users/{id}");
        let a = send(
            &app,
            "PUT",
            &path,
            json!({"user": {"email": "ada@example.com", "first_name": "Augusta", "status": "suspended"}}),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let user = &a.json()["user"];
        assert_eq!(user["first_name"], "Augusta");
        for gone in [
            "last_name",
            "role",
            "department",
            "employee_number",
            "locale",
        ] {
            assert_eq!(user[gone], Value::Null, "{gone}");
        }
        assert_eq!(user["status"], "active");
        assert_eq!(user["created_at"], created["user"]["created_at"]);
        assert_eq!(app.user(id).as_ref(), Some(user));

        let no_email = send(&app, "PUT", &path, json!({"user": {"first_name": "X"}})).await;
        assert_eq!(no_email.status, 422);
        assert_eq!(
            no_email.json()["errors"]["email"],
            json!(["can't be blank"])
        );
        assert_eq!(app.user(id).unwrap()["first_name"], "Augusta");
        let absent = send(
            &app,
            "PUT",
            "/api/v1/users/4242",
            json!({"user": {"email": "a@b.c"}}),
        )
        .await;
        assert_eq!(absent.status, 404);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn suspend_and_unsuspend() {
        let app = app().await;
        let id = app.seed(1)[0];
        let s = call(
            &app,
            "POST",
            &format!("/api/v1/users/{id}/suspend"),
            Some(KEY),
            None,
        )
        .await;
        assert_eq!(s.status, 200);
        assert_eq!(s.json()["user"]["status"], "suspended");
        assert_eq!(app.user(id).unwrap()["status"], "suspended");
        // Idempotent.
        let again = call(
            &app,
            "POST",
            &format!("/api/v1/users/{id}/suspend"),
            Some(KEY),
            None,
        )
        .await;
        assert_eq!(again.json()["user"]["status"], "suspended");
        let u = call(
            &app,
            "POST",
            &format!("/api/v1/users/{id}/unsuspend"),
            Some(KEY),
            None,
        )
        .await;
        assert_eq!(u.status, 200);
        assert_eq!(u.json()["user"]["status"], "active");
        let missing = call(&app, "POST", "/api/v1/users/7/suspend", Some(KEY), None).await;
        assert_eq!(missing.status, 404);
        let wrong = get(&app, &format!("/api/v1/users/{id}/suspend")).await;
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), Some("POST"));
        app.shutdown().await;
    }

    #[tokio::test]
    async fn auth_routes_and_methods() {
        let app = app().await;
        for key in [None, Some("wrong"), Some("")] {
            let a = call(&app, "GET", "/api/v1/users", key, None).await;
            assert_eq!(a.status, 401, "{key:?}");
            assert_eq!(a.json(), json!({"error": "invalid api key"}));
        }
        let unknown = get(&app, "/api/v2/users").await;
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.json(), json!({"error": "not found"}));
        assert_eq!(get(&app, "/api/v1/usersx").await.status, 404);
        assert_eq!(get(&app, "/api/v1/users/1/roles").await.status, 404);
        let patch = call(&app, "PATCH", "/api/v1/users/1001", Some(KEY), Some("{}")).await;
        assert_eq!(patch.status, 405);
        assert_eq!(patch.header("allow"), Some("GET, PUT, DELETE"));
        assert_eq!(patch.json(), json!({"error": "method not allowed"}));
        let del = call(&app, "DELETE", "/api/v1/users", Some(KEY), None).await;
        assert_eq!(del.status, 405);
        assert!(app.users().is_empty());
        app.shutdown().await;
    }

    #[tokio::test]
    async fn email_index_follows_renames_and_deletes() {
        let app = app().await;
        let created = create_user(&app, json!({"email": "ada@example.com"})).await;
        let id = created.json()["user"]["id"].as_u64().unwrap();
        let path = format!("/api/v1/users/{id}");
        let total = |body: Value| body["meta"]["total"].clone();
        let renamed = send(
            &app,
            "PUT",
            &path,
            json!({"user": {"email": "Augusta@example.com"}}),
        );
        assert_eq!(renamed.await.status, 200);
        let old = get(&app, "/api/v1/users?email=ada%40example.com").await;
        assert_eq!(total(old.json()), 0);
        let new = get(&app, "/api/v1/users?email=augusta%40example.com").await;
        assert_eq!(total(new.json()), 1);
        // The old address is free again, the new one taken; keeping one's own is no conflict.
        let ada = create_user(&app, json!({"email": "ADA@example.com"})).await;
        assert_eq!(ada.status, 201);
        let taken = create_user(&app, json!({"email": "augusta@EXAMPLE.com"})).await;
        assert_eq!(taken.status, 422);
        let same = send(
            &app,
            "PUT",
            &path,
            json!({"user": {"email": "augusta@example.com"}}),
        );
        assert_eq!(same.await.status, 200);
        assert_eq!(
            call(&app, "DELETE", &path, Some(KEY), None).await.status,
            204
        );
        let gone = get(&app, "/api/v1/users?email=augusta%40example.com").await;
        assert_eq!(total(gone.json()), 0);
        let again = create_user(&app, json!({"email": "augusta@example.com"})).await;
        assert_eq!(again.status, 201);
        // Seeding does not check duplicates: the search finds both, in id order.
        let first = create_user(&app, json!({"email": "user1@example.com"})).await;
        assert_eq!(first.status, 201);
        let seeded = app.seed(1)[0];
        let both = get(&app, "/api/v1/users?email=USER1%40example.com")
            .await
            .json();
        assert_eq!(total(both.clone()), 2);
        assert_eq!(both["data"][1]["id"], seeded);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn recording_can_be_turned_off() {
        let app = app().await;
        app.set_recording(false);
        get(&app, "/api/v1/users").await;
        assert!(app.requests().is_empty());
        app.set_recording(true);
        get(&app, "/api/v1/users").await;
        assert_eq!(app.requests().len(), 1);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn records_every_request_in_order() {
        let app = app().await;
        call(
            &app,
            "GET",
            "/api/v1/users?email=a%40b.c&page=2",
            None,
            None,
        )
        .await;
        create_user(&app, json!({"email": "ada@example.com"})).await;
        call(&app, "POST", "/api/v1/users", Some(KEY), Some("not json")).await;
        let seen = app.requests();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].method, "GET");
        assert_eq!(seen[0].path, "/api/v1/users");
        assert_eq!(seen[0].query.as_deref(), Some("email=a%40b.c&page=2"));
        assert_eq!(seen[0].query_param("email").as_deref(), Some("a@b.c"));
        assert_eq!(seen[0].header("x-api-key"), None);
        assert_eq!(seen[0].body, None);
        assert_eq!(seen[1].method, "POST");
        assert_eq!(seen[1].query, None);
        assert_eq!(seen[1].header("X-API-KEY"), Some(KEY));
        assert_eq!(seen[1].header("content-type"), Some("application/json"));
        assert_eq!(
            seen[1].body,
            Some(json!({"user": {"email": "ada@example.com"}}))
        );
        assert_eq!(seen[2].body, Some(Value::String("not json".into())));
        // Seeding is not a request.
        app.seed(2);
        app.clear_requests();
        assert!(app.requests().is_empty());
        get(&app, "/api/v1/users/1001").await;
        assert_eq!(app.requests().len(), 1);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn status_fault_then_normal_handling() {
        let app = app().await;
        app.seed(1);
        // A fault for zero requests is not queued.
        app.inject(Fault::Status {
            status: 500,
            body: "{}".into(),
            times: 0,
        });
        app.inject(Fault::Status {
            status: 503,
            body: r#"{"error":"maintenance"}"#.into(),
            times: 2,
        });
        for _ in 0..2 {
            let a = get(&app, "/api/v1/users/1001").await;
            assert_eq!(a.status, 503);
            assert_eq!(a.json(), json!({"error": "maintenance"}));
            assert_eq!(a.header("retry-after"), None);
        }
        assert_eq!(get(&app, "/api/v1/users/1001").await.status, 200);
        // Faults apply before auth and routing, and are recorded like any request.
        app.inject(Fault::Status {
            status: 429,
            body: "{}".into(),
            times: 1,
        });
        let limited = call(&app, "DELETE", "/api/v1/users/1001", None, None).await;
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("retry-after"), Some("7"));
        assert_eq!(app.users().len(), 1);
        assert_eq!(app.requests().len(), 4);
        assert_eq!(app.requests()[3].method, "DELETE");
        app.shutdown().await;
    }

    #[tokio::test]
    async fn delay_fault_delays_one_request() {
        let app = app().await;
        app.inject(Fault::Delay {
            millis: 150,
            times: 1,
        });
        let started = std::time::Instant::now();
        let a = get(&app, "/api/v1/users").await;
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(a.status, 200);
        assert_eq!(app.requests().len(), 1);
        app.shutdown().await;
    }

    #[tokio::test]
    async fn drop_and_malformed_faults_in_fifo_order() {
        let app = app().await;
        app.inject(Fault::Drop { times: 1 });
        app.inject(Fault::MalformedJson { times: 2 });
        let dropped = create_user(&app, json!({"email": "ada@example.com"})).await;
        assert_eq!(dropped.status, 0);
        assert!(app.users().is_empty(), "a dropped request is not handled");
        for _ in 0..2 {
            let broken = get(&app, "/api/v1/users").await;
            assert_eq!(broken.status, 200);
            assert_eq!(broken.body, MALFORMED_BODY);
            assert!(serde_json::from_str::<Value>(&broken.body).is_err());
        }
        assert_eq!(get(&app, "/api/v1/users").await.json()["meta"]["total"], 0);
        let seen = app.requests();
        assert_eq!(seen.len(), 4);
        assert_eq!(
            seen[0].body,
            Some(json!({"user": {"email": "ada@example.com"}}))
        );
        app.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_closes_keep_alive_connections_and_stops_accepting() {
        use hyper_util::client::legacy::Client;
        let app = app().await;
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let req = Request::get(format!("{}/api/v1/users", app.base_url()))
            .header("x-api-key", KEY)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap()["meta"]["total"],
            0
        );
        // The pooled keep-alive connection must not hold shutdown up.
        tokio::time::timeout(Duration::from_secs(3), app.shutdown())
            .await
            .expect("shutdown finished");
        assert!(TcpStream::connect(app.addr()).await.is_err());
        app.shutdown().await;
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = |s: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(86_399), "1970-01-01T23:59:59Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(at(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn query_params_are_form_decoded() {
        let q = Some("a=1&email=x%2By%40z&sp=a+b&flag&a=2");
        assert_eq!(query_param(q, "a").as_deref(), Some("1"));
        assert_eq!(query_param(q, "email").as_deref(), Some("x+y@z"));
        assert_eq!(query_param(q, "sp").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "flag").as_deref(), Some(""));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param(None, "a"), None);
        assert_eq!(parse_id("1001"), Some(1001));
        assert_eq!(parse_id("99999999999999999999999"), None);
        assert_eq!(parse_id("-1"), None);
    }
}
