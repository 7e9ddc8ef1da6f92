//! The HTTP client to the application: HTTP/1.1 over a single-origin connection pool (`pool`)
//! with connect and request timeouts, bounded retries with jittered backoff for idempotent calls
//! on connect errors and 502/503, one immediate retry on a fresh connection when a reused
//! keep-alive connection fails before any byte of the answer arrived, and translation of
//! transport failures and generic statuses into [`AppError`] ([`check_status`], in `status`).
//!
//! Knows HTTP, not SCIM: callers hand it a method, an already-encoded path and query, and a body.

mod pool;
mod status;

pub use status::{check_status, retry_after_of};

use crate::error::AppError;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HOST, USER_AGENT};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use pool::{Pool, PoolSettings};
use rand::RngExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// Largest application answer we read; anything bigger is a broken or hostile answer.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Idle pooled connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// Most idle connections kept; more concurrent calls than this open connections that are closed
/// after their call.
const POOL_MAX_IDLE: usize = 256;
/// First backoff step; doubled per retry and jittered by ±50 %.
const BACKOFF_BASE: Duration = Duration::from_millis(25);
const USER_AGENT_VALUE: &str = concat!("scim-sidecar/", env!("CARGO_PKG_VERSION"));

/// Client settings, from the mapping's `[app]` section.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `http://host:port[/prefix]`, no trailing slash.
    pub base_url: String,
    /// Sent on every call; the bool marks secrets (masked in logs and `explain`).
    pub headers: Vec<(String, String, bool)>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra attempts for idempotent calls (GET, PUT, DELETE) on connect errors, dropped
    /// connections and 502/503.
    pub retries: u32,
}

/// One call to the application.
#[derive(Debug, Clone)]
pub struct AppCall {
    pub method: Method,
    /// Already percent-encoded, starting with `/`; appended to the base URL.
    pub path_and_query: String,
    /// JSON body (sent with `Content-Type: application/json`).
    pub body: Option<Bytes>,
    /// A short label for spans and logs: `users.get`, `users.create`, …
    pub label: &'static str,
}

/// The application's answer, whatever its status.
#[derive(Debug, Clone)]
pub struct AppReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Everything built once from the settings.
struct Inner {
    settings: ClientSettings,
    pool: Arc<Pool>,
    /// The base URL's path without a trailing slash (often empty).
    prefix: String,
    /// Default and configured headers, secrets marked sensitive.
    headers: HeaderMap,
    backoff_base: Duration,
}

/// The pooled client. Cheap to clone.
#[derive(Clone)]
pub struct AppClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be secrets: show names only.
        let names: Vec<&str> = self.inner.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("AppClient")
            .field("base_url", &self.inner.settings.base_url)
            .field("headers", &names)
            .field("timeout", &self.inner.settings.timeout)
            .field("retries", &self.inner.settings.retries)
            .finish()
    }
}

/// How one attempt failed; decides whether to retry.
enum AttemptError {
    /// No connection was made: the request never left, safe to retry.
    Connect(String),
    /// A reused keep-alive connection failed before any byte of the answer arrived (typically
    /// the application closed it while idle). The request may have reached the application.
    Stale(String),
    Other(AppError),
}

impl AppClient {
    pub fn new(settings: ClientSettings) -> Result<AppClient, String> {
        let uri: Uri = settings
            .base_url
            .parse()
            .map_err(|e| format!("base_url `{}` is not a valid URL: {e}", settings.base_url))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!(
                    "base_url `{}`: scheme `{other}` is not supported (only http)",
                    settings.base_url
                ));
            }
            None => return Err(format!("base_url `{}` needs http://", settings.base_url)),
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("base_url `{}` has no host", settings.base_url))?;
        if uri.query().is_some() {
            return Err(format!(
                "base_url `{}` must not have a query",
                settings.base_url
            ));
        }
        let prefix = uri.path().trim_end_matches('/').to_string();

        let mut headers = HeaderMap::new();
        // What hyper-util would otherwise format from the URI on every call: the host, and the
        // port unless it is 80.
        let host = match authority.port() {
            Some(port) if port.as_u16() != 80 => format!("{}:{port}", authority.host()),
            _ => authority.host().to_string(),
        };
        let host = HeaderValue::from_str(&host)
            .map_err(|_| format!("base_url `{}` has an invalid host", settings.base_url))?;
        headers.insert(HOST, host);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        for (name, value, secret) in &settings.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header name `{name}` is not valid"))?;
            // Never echo the value: it may be a secret.
            let mut v = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header `{name}` is not a valid header value"))?;
            v.set_sensitive(*secret);
            // A configured header replaces a default of the same name (e.g. a custom Accept).
            headers.insert(header, v);
        }

        let pool = Arc::new(Pool::new(PoolSettings {
            host: authority.host().to_string(),
            port: authority.port_u16().unwrap_or(80),
            connect_timeout: settings.connect_timeout,
            idle_timeout: POOL_IDLE,
            max_idle: POOL_MAX_IDLE,
        }));

        Ok(AppClient {
            inner: Arc::new(Inner {
                settings,
                pool,
                prefix,
                headers,
                backoff_base: BACKOFF_BASE,
            }),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// Sends a call (with retries where allowed) and returns the answer for any HTTP status.
    /// Errors only for transport failures: `Timeout`, `Unreachable` (and `BadResponse` for an
    /// answer over the 16 MiB cap).
    pub async fn send(&self, call: AppCall) -> Result<AppReply, AppError> {
        // Debug level: at the default `info` the span is never built, and its field updates cost
        // nothing (with JSON logs, each update re-serialises the span's fields). The request's
        // own log line already carries its status and latency.
        let span = tracing::debug_span!(
            "app_call",
            label = call.label,
            method = %call.method,
            status = tracing::field::Empty,
            attempt = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        self.send_in_span(call).instrument(span).await
    }

    async fn send_in_span(&self, call: AppCall) -> Result<AppReply, AppError> {
        let started = Instant::now();
        let deadline = started + self.inner.settings.timeout;
        let target = self.target(&call.path_and_query)?;
        let idempotent = matches!(
            call.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        let mut attempts = if idempotent {
            self.inner.settings.retries.saturating_add(1)
        } else {
            1
        };

        let mut attempt: u32 = 0;
        let mut fresh = false;
        let mut stale_retried = false;
        let outcome = loop {
            attempt += 1;
            let result = match tokio::time::timeout_at(
                deadline,
                self.attempt(&call, &target, fresh),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(AttemptError::Other(AppError::Timeout)),
            };
            if let Err(AttemptError::Stale(cause)) = &result {
                // A keep-alive connection the application closed must not fail the call: once,
                // at once, on a new connection. It uses up a retry when one is left, and is
                // made even with none (the application most likely never saw the request).
                if idempotent && !stale_retried {
                    stale_retried = true;
                    attempts = attempts.max(attempt + 1);
                    fresh = true;
                    tracing::debug!(attempt, cause = %cause, "reused connection failed, retrying");
                    continue;
                }
            }
            fresh = false;
            let retryable = match &result {
                Ok(reply) => matches!(reply.status, 502 | 503),
                Err(AttemptError::Connect(_)) => true,
                // A connection dropped mid-call (e.g. a pooled connection the application closed):
                // safe to repeat, since only idempotent calls get more than one attempt.
                Err(AttemptError::Stale(_)) => true,
                Err(AttemptError::Other(AppError::Unreachable(_))) => true,
                Err(AttemptError::Other(_)) => false,
            };
            if retryable && attempt < attempts {
                let wait = self.backoff(attempt);
                // Only retry when the retry can still finish in time.
                if Instant::now() + wait < deadline {
                    tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            break result;
        };

        let span = tracing::Span::current();
        span.record("attempt", attempt);
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        match outcome {
            Ok(reply) => {
                span.record("status", reply.status);
                tracing::debug!("application answered");
                Ok(reply)
            }
            Err(AttemptError::Connect(cause)) => {
                tracing::debug!(cause = %cause, "application unreachable");
                Err(AppError::Unreachable(cause))
            }
            Err(AttemptError::Stale(cause)) => {
                tracing::debug!(cause = %cause, "application call failed");
                Err(AppError::Unreachable(cause))
            }
            Err(AttemptError::Other(e)) => {
                tracing::debug!(error = %e, "application call failed");
                Err(e)
            }
        }
    }

    /// The request target (origin form): the base URL's path + the already-encoded path and
    /// query, without re-encoding anything.
    fn target(&self, path_and_query: &str) -> Result<PathAndQuery, AppError> {
        let mut pq = String::with_capacity(self.inner.prefix.len() + path_and_query.len() + 1);
        pq.push_str(&self.inner.prefix);
        if !path_and_query.starts_with('/') {
            pq.push('/');
        }
        pq.push_str(path_and_query);
        PathAndQuery::try_from(pq)
            // The mapping's templates encode every value, so this is a bug, not the app's fault;
            // the only fitting transport-level answer is that the app cannot be reached with it.
            .map_err(|_| AppError::Unreachable("invalid request target".into()))
    }

    /// The absolute URL of a call (for tests; requests carry the origin form and `Host`).
    #[cfg(test)]
    fn uri(&self, path_and_query: &str) -> Result<Uri, AppError> {
        let base: Uri = self
            .inner
            .settings
            .base_url
            .parse()
            .map_err(|_| AppError::Unreachable("invalid base URL".into()))?;
        Uri::builder()
            .scheme(http::uri::Scheme::HTTP)
            .authority(
                base.authority()
                    .cloned()
                    .ok_or_else(|| AppError::Unreachable("invalid base URL".into()))?,
            )
            .path_and_query(self.target(path_and_query)?)
            .build()
            .map_err(|_| AppError::Unreachable("invalid request target".into()))
    }

    /// `base · 2^(n-1)`, jittered by ±50 % so that retries from many requests spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self.inner.backoff_base * 2u32.saturating_pow(attempt.saturating_sub(1).min(10));
        step.mul_f64(rand::rng().random_range(0.5..1.5))
    }

    /// One request and its whole body, on a pooled connection (a new one when `fresh`).
    async fn attempt(
        &self,
        call: &AppCall,
        target: &PathAndQuery,
        fresh: bool,
    ) -> Result<AppReply, AttemptError> {
        let mut req = Request::new(Full::new(call.body.clone().unwrap_or_default()));
        *req.method_mut() = call.method.clone();
        *req.uri_mut() = Uri::from(target.clone());
        *req.headers_mut() = self.inner.headers.clone();
        if call.body.is_some() {
            req.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }

        let (conn, response) = loop {
            let mut conn = self
                .inner
                .pool
                .checkout(fresh)
                .await
                .map_err(|e| AttemptError::Connect(format!("connect: {}", e.0)))?;
            let read_before = conn.bytes_read();
            match conn.sender().try_send_request(req).await {
                Ok(response) => break (conn, response),
                Err(mut e) => {
                    if let Some(unsent) = e.take_message() {
                        // The connection closed before the request was written: it never left,
                        // so any method may go again on another connection (as hyper-util did).
                        if conn.reused() {
                            req = unsent;
                            continue;
                        }
                    }
                    let cause = short_cause(&e.into_error());
                    return Err(if conn.reused() && conn.bytes_read() == read_before {
                        AttemptError::Stale(cause)
                    } else {
                        AttemptError::Other(AppError::Unreachable(cause))
                    });
                }
            }
        };
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    AttemptError::Other(AppError::BadResponse(format!(
                        "the answer is larger than {} MiB",
                        MAX_BODY / (1024 * 1024)
                    )))
                } else {
                    AttemptError::Other(AppError::Unreachable(format!(
                        "reading the answer: {}",
                        short_cause(e.as_ref())
                    )))
                }
            })?
            .to_bytes();
        // The whole answer was read: the connection can serve the next call. One the
        // application asked to close is closed by hyper and dropped by the pool.
        self.inner.pool.checkin(conn);
        Ok(AppReply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    #[cfg(test)]
    fn with_pool_max_idle(self, max_idle: usize) -> AppClient {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("client shared"));
        AppClient {
            inner: Arc::new(Inner {
                pool: Arc::new(inner.pool.with_max_idle(max_idle)),
                ..inner
            }),
        }
    }

    #[cfg(test)]
    fn with_backoff_base(self, base: Duration) -> AppClient {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("client shared"));
        AppClient {
            inner: Arc::new(Inner {
                backoff_base: base,
                ..inner
            }),
        }
    }
}

/// The innermost cause of a transport error (e.g. "Connection refused (os error 111)"): hyper's
/// outer messages say little, and none of these include the URL.
fn short_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    let mut text = last.to_string();
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::convert::Infallible;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;

    /// What the test server received.
    #[derive(Debug, Clone)]
    struct Seen {
        method: Method,
        uri: String,
        headers: HeaderMap,
        body: Bytes,
    }

    struct TestServer {
        base_url: String,
        seen: Arc<Mutex<Vec<Seen>>>,
        hits: Arc<AtomicUsize>,
    }

    impl TestServer {
        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    type Responder = dyn Fn(usize) -> (u16, Vec<(&'static str, &'static str)>, Bytes) + Send + Sync;

    /// A tiny HTTP/1 server on 127.0.0.1:0; `respond(n)` answers the n-th request (0-based).
    async fn server(respond: Arc<Responder>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let hits = Arc::new(AtomicUsize::new(0));
        let (seen2, hits2) = (seen.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, hits, respond) = (seen2.clone(), hits2.clone(), respond.clone());
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let (seen, hits, respond) = (seen.clone(), hits.clone(), respond.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        seen.lock().unwrap().push(Seen {
                            method: parts.method,
                            uri: parts.uri.to_string(),
                            headers: parts.headers,
                            body,
                        });
                        let n = hits.fetch_add(1, Ordering::SeqCst);
                        let (status, headers, body) = respond(n);
                        let mut resp = hyper::Response::new(Full::new(body));
                        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        for (k, v) in headers {
                            resp.headers_mut().insert(k, HeaderValue::from_static(v));
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestServer {
            base_url: format!("http://{addr}"),
            seen,
            hits,
        }
    }

    fn fixed(status: u16, body: &'static str) -> Arc<Responder> {
        Arc::new(move |_| (status, vec![], Bytes::from_static(body.as_bytes())))
    }

    fn settings(base_url: &str) -> ClientSettings {
        ClientSettings {
            base_url: base_url.to_string(),
            headers: vec![
                ("Authorization".into(), "Bearer s3cret".into(), true),
                ("X-Tenant".into(), "acme".into(), false),
            ],
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retries: 2,
        }
    }

    fn client(s: ClientSettings) -> AppClient {
        AppClient::new(s)
            .unwrap()
            .with_backoff_base(Duration::from_millis(1))
    }

    fn call(method: Method, pq: &str, body: Option<&'static str>) -> AppCall {
        AppCall {
            method,
            path_and_query: pq.to_string(),
            body: body.map(|b| Bytes::from_static(b.as_bytes())),
            label: "users.test",
        }
    }

    #[tokio::test]
    async fn sends_request_line_headers_and_body_as_given() {
        let srv = server(Arc::new(|_| {
            (
                201,
                vec![("x-app", "1")],
                Bytes::from_static(br#"{"id":42}"#),
            )
        }))
        .await;
        let c = client(settings(&format!("{}/base", srv.base_url)));
        let pq = "/api/users?email=a%2Bb%40example.com&name=%E2%9C%93&x=%2F..%2F";
        let reply = c
            .send(call(Method::POST, pq, Some(r#"{"name":"Ada"}"#)))
            .await
            .unwrap();
        assert_eq!(reply.status, 201);
        assert_eq!(reply.body, Bytes::from_static(br#"{"id":42}"#));
        assert_eq!(reply.headers["x-app"], "1");

        let seen = srv.seen();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert_eq!(s.method, Method::POST);
        assert_eq!(
            s.uri,
            format!("/base{pq}"),
            "path and query must not be re-encoded"
        );
        assert_eq!(s.body, Bytes::from_static(br#"{"name":"Ada"}"#));
        assert_eq!(s.headers["authorization"], "Bearer s3cret");
        assert_eq!(s.headers["x-tenant"], "acme");
        assert_eq!(s.headers["accept"], "application/json");
        assert_eq!(s.headers["content-type"], "application/json");
        assert_eq!(
            s.headers["user-agent"],
            format!("scim-sidecar/{}", env!("CARGO_PKG_VERSION"))
        );

        // Without a body, no content type; GET reuses the pooled connection.
        let reply = c
            .send(call(Method::GET, "/api/users/42", None))
            .await
            .unwrap();
        assert_eq!(reply.status, 201);
        let s = &srv.seen()[1];
        assert_eq!(s.uri, "/base/api/users/42");
        assert!(s.headers.get("content-type").is_none());
        assert!(s.body.is_empty());
    }

    #[tokio::test]
    async fn host_is_sent_as_hyper_util_would_and_a_configured_one_wins() {
        let srv = server(fixed(200, "{}")).await;
        let c = client(settings(&srv.base_url));
        c.send(call(Method::GET, "/u", None)).await.unwrap();
        let authority = srv.base_url.trim_start_matches("http://");
        let authority = authority.split('/').next().unwrap();
        assert_eq!(srv.seen()[0].headers["host"], authority);
        assert_eq!(srv.seen()[0].headers.get_all("host").iter().count(), 1);

        let mut s = settings(&srv.base_url);
        s.headers.push(("Host".into(), "app.example".into(), false));
        client(s).send(call(Method::GET, "/u", None)).await.unwrap();
        assert_eq!(srv.seen()[1].headers["host"], "app.example");
        assert_eq!(srv.seen()[1].headers.get_all("host").iter().count(), 1);

        // The default port is left out, other ports kept.
        let host = |url: &str| AppClient::new(settings(url)).unwrap().inner.headers[HOST].clone();
        assert_eq!(host("http://app.internal:80/api"), "app.internal");
        assert_eq!(host("http://app.internal/api"), "app.internal");
        assert_eq!(host("http://[::1]:8080"), "[::1]:8080");
    }

    #[test]
    fn secrets_are_sensitive_and_not_in_debug_output() {
        let c = AppClient::new(settings("http://127.0.0.1:9")).unwrap();
        assert!(c.inner.headers["authorization"].is_sensitive());
        assert!(!c.inner.headers["x-tenant"].is_sensitive());
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("authorization"), "{dbg}");
    }

    #[test]
    fn bad_settings_are_refused() {
        let with = |url: &str| AppClient::new(settings(url));
        assert!(with("http://127.0.0.1:8080").is_ok());
        assert!(with("http://app.internal:8080/api/v2/").is_ok());
        assert!(
            with("https://example.com")
                .unwrap_err()
                .contains("only http")
        );
        assert!(with("ftp://example.com").is_err());
        assert!(with("/just/a/path").is_err());
        assert!(with("http://host/?q=1").is_err());
        assert!(with("not a url").is_err());

        let mut s = settings("http://h");
        s.headers = vec![("bad header".into(), "v".into(), false)];
        assert!(AppClient::new(s).unwrap_err().contains("bad header"));
        let mut s = settings("http://h");
        s.headers = vec![("x-key".into(), "line\nbreak-secret".into(), true)];
        let err = AppClient::new(s).unwrap_err();
        assert!(err.contains("x-key") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn trailing_slash_in_base_url_is_not_doubled() {
        let c = AppClient::new(settings("http://h:1/api/")).unwrap();
        assert_eq!(
            c.uri("/users?x=1").unwrap().to_string(),
            "http://h:1/api/users?x=1"
        );
        let c = AppClient::new(settings("http://h:1")).unwrap();
        assert_eq!(c.uri("/users").unwrap().to_string(), "http://h:1/users");
        assert!(matches!(c.uri("/bad path"), Err(AppError::Unreachable(_))));
    }

    #[tokio::test]
    async fn get_is_retried_on_503_until_success() {
        let srv = server(Arc::new(|n| {
            if n < 2 {
                (503, vec![], Bytes::from_static(b"busy"))
            } else {
                (200, vec![], Bytes::from_static(b"{}"))
            }
        }))
        .await;
        let c = client(settings(&srv.base_url));
        let reply = c.send(call(Method::GET, "/u", None)).await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(srv.hits(), 3);
    }

    #[tokio::test]
    async fn retries_are_bounded_and_the_last_answer_returned() {
        let srv = server(fixed(502, "bad gateway")).await;
        let c = client(settings(&srv.base_url));
        let reply = c.send(call(Method::PUT, "/u/1", Some("{}"))).await.unwrap();
        assert_eq!(reply.status, 502);
        assert_eq!(srv.hits(), 3, "one attempt + two retries");

        let srv = server(fixed(503, "")).await;
        let mut s = settings(&srv.base_url);
        s.retries = 0;
        let reply = client(s)
            .send(call(Method::DELETE, "/u/1", None))
            .await
            .unwrap();
        assert_eq!(reply.status, 503);
        assert_eq!(srv.hits(), 1);
    }

    #[tokio::test]
    async fn a_retry_that_cannot_finish_in_time_is_skipped() {
        let srv = server(fixed(503, "")).await;
        let mut s = settings(&srv.base_url);
        s.timeout = Duration::from_secs(2);
        // The first backoff (5–15 s) cannot fit in the 2 s budget.
        let c = AppClient::new(s)
            .unwrap()
            .with_backoff_base(Duration::from_secs(10));
        let started = std::time::Instant::now();
        let reply = c.send(call(Method::GET, "/u", None)).await.unwrap();
        assert_eq!(reply.status, 503);
        assert_eq!(srv.hits(), 1);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn post_is_not_retried() {
        let srv = server(fixed(503, "")).await;
        let c = client(settings(&srv.base_url));
        let reply = c.send(call(Method::POST, "/u", Some("{}"))).await.unwrap();
        assert_eq!(reply.status, 503);
        assert_eq!(srv.hits(), 1);
        let srv = server(fixed(503, "")).await;
        let c = client(settings(&srv.base_url));
        c.send(call(Method::PATCH, "/u/1", Some("{}")))
            .await
            .unwrap();
        assert_eq!(srv.hits(), 1);
    }

    #[tokio::test]
    async fn no_retry_on_500_or_other_statuses() {
        for status in [500, 504, 429, 404] {
            let srv = server(fixed(status, "")).await;
            let c = client(settings(&srv.base_url));
            let reply = c.send(call(Method::GET, "/u", None)).await.unwrap();
            assert_eq!(reply.status, status);
            assert_eq!(srv.hits(), 1, "status {status}");
        }
    }

    #[tokio::test]
    async fn connection_refused_is_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let c = client(settings(&format!("http://{addr}")));
        match c.send(call(Method::GET, "/u", None)).await {
            Err(AppError::Unreachable(cause)) => {
                assert!(cause.starts_with("connect:"), "{cause}");
                assert!(!cause.contains("/u"), "{cause}");
            }
            other => panic!("{other:?}"),
        }
        match c.send(call(Method::POST, "/u", Some("{}"))).await {
            Err(AppError::Unreachable(_)) => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        // Accepts connections and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        let mut s = settings(&format!("http://{addr}"));
        s.timeout = Duration::from_millis(50);
        let started = std::time::Instant::now();
        let result = client(s).send(call(Method::GET, "/u", None)).await;
        assert!(matches!(result, Err(AppError::Timeout)), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        held.abort();
    }

    #[tokio::test]
    async fn oversized_answers_are_refused() {
        let big = Bytes::from(vec![b'x'; MAX_BODY + 1]);
        let srv = server(Arc::new(move |_| (200, vec![], big.clone()))).await;
        let c = client(settings(&srv.base_url));
        match c.send(call(Method::GET, "/u", None)).await {
            Err(AppError::BadResponse(msg)) => assert!(msg.contains("16 MiB"), "{msg}"),
            other => panic!("{:?}", other.map(|r| r.status)),
        }
        assert_eq!(srv.hits(), 1, "a too-large answer is not retried");

        let fits = Bytes::from(vec![b'y'; MAX_BODY]);
        let srv = server(Arc::new(move |_| (200, vec![], fits.clone()))).await;
        let c = client(settings(&srv.base_url));
        let reply = c.send(call(Method::GET, "/u", None)).await.unwrap();
        assert_eq!(reply.body.len(), MAX_BODY);
    }

    #[test]
    fn backoff_grows_and_is_jittered() {
        let c = AppClient::new(settings("http://h")).unwrap();
        for attempt in 1..=4u32 {
            let step = BACKOFF_BASE * 2u32.pow(attempt - 1);
            for _ in 0..20 {
                let b = c.backoff(attempt);
                assert!(b >= step / 2 && b <= step * 3 / 2, "{attempt}: {b:?}");
            }
        }
        // Huge attempt numbers do not overflow.
        let _ = c.backoff(u32::MAX);
    }

    // ---- The connection pool ----

    /// A server that counts the connections it accepted and those still open.
    struct ConnServer {
        base_url: String,
        accepted: Arc<AtomicUsize>,
        open: tokio::sync::watch::Receiver<usize>,
        hits: Arc<AtomicUsize>,
    }

    impl ConnServer {
        fn accepted(&self) -> usize {
            self.accepted.load(Ordering::SeqCst)
        }
        /// Waits (bounded) until exactly `n` connections are open at the server.
        async fn until_open(&mut self, n: usize) {
            let waited = tokio::time::timeout(
                Duration::from_secs(10),
                self.open.wait_for(|open| *open == n),
            )
            .await
            .map(|r| r.is_ok());
            assert!(
                waited.is_ok(),
                "open connections: {} (want {n})",
                *self.open.borrow()
            );
        }
    }

    async fn conn_server() -> ConnServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let hits = Arc::new(AtomicUsize::new(0));
        let (open_tx, open) = tokio::sync::watch::channel(0usize);
        let open_tx = Arc::new(open_tx);
        let (accepted2, hits2) = (accepted.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted2.fetch_add(1, Ordering::SeqCst);
                open_tx.send_modify(|n| *n += 1);
                let (open_tx, hits) = (open_tx.clone(), hits2.clone());
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let hits = hits.clone();
                    async move {
                        let _ = req.into_body().collect().await;
                        hits.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"{}",
                        ))))
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    open_tx.send_modify(|n| *n -= 1);
                });
            }
        });
        ConnServer {
            base_url: format!("http://{addr}"),
            accepted,
            open,
            hits,
        }
    }

    #[tokio::test]
    async fn one_connection_serves_a_sequence_of_calls() {
        let mut srv = conn_server().await;
        let c = client(settings(&srv.base_url));
        for i in 0..6 {
            let call = if i % 2 == 0 {
                call(Method::GET, "/u/1", None)
            } else {
                call(Method::POST, "/u", Some("{}"))
            };
            assert_eq!(c.send(call).await.unwrap().status, 200);
        }
        assert_eq!(srv.hits.load(Ordering::SeqCst), 6);
        assert_eq!(srv.accepted(), 1, "every call reused the first connection");
        assert_eq!(c.inner.pool.idle_count(), 1);
        srv.until_open(1).await;

        // An error answer keeps the connection too (its body was read).
        let srv2 = server(fixed(404, r#"{"error":"nope"}"#)).await;
        let c2 = client(settings(&srv2.base_url));
        for _ in 0..3 {
            assert_eq!(
                c2.send(call(Method::GET, "/u", None)).await.unwrap().status,
                404
            );
        }
        assert_eq!(c2.inner.pool.idle_count(), 1);
    }

    /// How the raw server treats one request.
    #[derive(Clone, Copy, Debug)]
    enum Act {
        Answer,
        /// Answer, then close the connection (without `Connection: close`, as an idle timeout
        /// on the application's side would).
        AnswerAndClose,
        /// Read the request and close without a byte of answer.
        Drop,
        /// Never answer; log `closed` when the client closes the connection.
        Hang,
    }

    type Script = dyn Fn(usize, usize) -> Act + Send + Sync;

    /// What the raw server saw: (connection number, request line) per request.
    type Log = Arc<Mutex<Vec<(usize, String)>>>;

    /// A hand-written HTTP/1.1 server whose `script(connection, request)` (both 0-based)
    /// decides how each request is treated.
    async fn raw_server(script: Arc<Script>) -> (String, Log) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Log = Arc::default();
        let log2 = log.clone();
        tokio::spawn(async move {
            let mut conn_no = 0;
            while let Ok((mut stream, _)) = listener.accept().await {
                let (script, log, this) = (script.clone(), log2.clone(), conn_no);
                conn_no += 1;
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    for req_no in 0.. {
                        // Read one request: head, then a Content-Length body.
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.drain(..head_end + len);
                        let line = head.lines().next().unwrap_or_default().to_string();
                        log.lock().unwrap().push((this, line));
                        let act = script(this, req_no);
                        if let Act::Drop = act {
                            return;
                        }
                        if let Act::Hang = act {
                            let mut chunk = [0u8; 4096];
                            while let Ok(n) = stream.read(&mut chunk).await {
                                if n == 0 {
                                    break;
                                }
                            }
                            log.lock().unwrap().push((this, "closed".to_string()));
                            return;
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                        if let Act::AnswerAndClose = act {
                            return;
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), log)
    }

    fn lines(log: &Log) -> Vec<(usize, String)> {
        log.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_connection_the_app_closed_while_idle_is_replaced_without_an_error() {
        // Every connection serves one request, then the application closes it.
        let (url, log) = raw_server(Arc::new(|_, _| Act::AnswerAndClose)).await;
        let mut s = settings(&url);
        s.retries = 0;
        let c = client(s);
        for (i, (method, body)) in [
            (Method::GET, None),
            (Method::POST, Some("{}")),
            (Method::PATCH, Some("{}")),
            (Method::GET, None),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                // The pooled connection has been seen closed by the client.
                tokio::time::timeout(Duration::from_secs(10), c.inner.pool.until_idle_closed())
                    .await
                    .expect("the client notices the closed connection");
            }
            let reply = c.send(call(method.clone(), "/u", body)).await;
            assert_eq!(
                reply.map(|r| r.status).ok(),
                Some(200),
                "call {i}: {method}"
            );
        }
        let seen = lines(&log);
        let conns: Vec<usize> = seen.iter().map(|(c, _)| *c).collect();
        assert_eq!(conns, [0, 1, 2, 3], "one new connection per call: {seen:?}");
        assert_eq!(
            seen[1].1, "POST /u HTTP/1.1",
            "each call sent once: {seen:?}"
        );
    }

    #[tokio::test]
    async fn a_reused_connection_failing_before_the_answer_is_retried_once_for_idempotent_calls() {
        // The first connection answers its first request and drops the second without a byte
        // (as an application closing an idle connection at that moment looks to the client).
        let (url, log) = raw_server(Arc::new(|conn, req| match (conn, req) {
            (0, 0) => Act::Answer,
            (0, _) => Act::Drop,
            _ => Act::Answer,
        }))
        .await;
        let mut s = settings(&url);
        s.retries = 0;
        let c = client(s);
        c.send(call(Method::GET, "/a", None)).await.unwrap();
        let reply = c.send(call(Method::PUT, "/b", Some("{}"))).await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(
            lines(&log),
            [
                (0, "GET /a HTTP/1.1".to_string()),
                (0, "PUT /b HTTP/1.1".to_string()),
                (1, "PUT /b HTTP/1.1".to_string()),
            ],
            "retried once, at once, on a new connection"
        );

        // A POST may have been processed: not repeated (as with hyper-util), a 502 for the IdP.
        let (url, log) = raw_server(Arc::new(|conn, req| match (conn, req) {
            (0, 0) => Act::Answer,
            (0, _) => Act::Drop,
            _ => Act::Answer,
        }))
        .await;
        let c = client(settings(&url));
        c.send(call(Method::GET, "/a", None)).await.unwrap();
        match c.send(call(Method::POST, "/b", Some("{}"))).await {
            Err(AppError::Unreachable(cause)) => assert!(!cause.starts_with("connect:"), "{cause}"),
            other => panic!("{:?}", other.map(|r| r.status)),
        }
        assert_eq!(
            lines(&log),
            [
                (0, "GET /a HTTP/1.1".to_string()),
                (0, "POST /b HTTP/1.1".to_string()),
            ]
        );

        // Only one such retry per call: a fresh connection dropping the request is an ordinary
        // failure, retried with backoff within the budget (1 + 2 retries here).
        let (url, log) = raw_server(Arc::new(|conn, req| match (conn, req) {
            (0, 0) => Act::Answer,
            _ => Act::Drop,
        }))
        .await;
        let c = client(settings(&url));
        c.send(call(Method::GET, "/a", None)).await.unwrap();
        assert!(matches!(
            c.send(call(Method::GET, "/b", None)).await,
            Err(AppError::Unreachable(_))
        ));
        let seen = lines(&log);
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(
            seen.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [0, 0, 1, 2],
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn connect_timeout_applies_and_counts_as_never_connected() {
        // A listener whose accept queue is full: the kernel drops further SYNs, so connecting
        // hangs. Fill it until one filler connection hangs.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        loop {
            match tokio::time::timeout(
                Duration::from_millis(300),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                Ok(stream) => fillers.push(stream.unwrap()),
                Err(_) => break,
            }
            assert!(fillers.len() < 64, "the accept queue never filled");
        }

        let mut s = settings(&format!("http://{addr}"));
        s.connect_timeout = Duration::from_millis(100);
        s.retries = 1;
        let c = client(s);
        let started = std::time::Instant::now();
        match c.send(call(Method::GET, "/u", None)).await {
            Err(AppError::Unreachable(cause)) => {
                assert_eq!(cause, "connect: deadline has elapsed")
            }
            other => panic!("{:?}", other.map(|r| r.status)),
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(5),
            "two attempts of 100 ms each: {took:?}"
        );
        // A create is never retried, but a connect failure is still "never connected".
        match c.send(call(Method::POST, "/u", Some("{}"))).await {
            Err(AppError::Unreachable(cause)) => assert!(cause.starts_with("connect:"), "{cause}"),
            other => panic!("{:?}", other.map(|r| r.status)),
        }
        assert_eq!(c.inner.pool.idle_count(), 0);
        drop(listener);
    }

    #[tokio::test]
    async fn concurrent_calls_leave_no_connection_behind() {
        let mut srv = conn_server().await;
        let c = client(settings(&srv.base_url));
        let batch = |n: usize| {
            let c = c.clone();
            futures_util::future::join_all((0..n).map(move |i| {
                let c = c.clone();
                async move {
                    let call = if i % 3 == 0 {
                        call(Method::POST, "/u", Some("{}"))
                    } else {
                        call(Method::GET, "/u", None)
                    };
                    c.send(call).await.map(|r| r.status).ok()
                }
            }))
        };
        let answers = batch(40).await;
        assert!(answers.iter().all(|a| *a == Some(200)), "{answers:?}");
        let first = srv.accepted();
        assert!((1..=40).contains(&first), "{first}");
        // Every connection is back in the pool (none lost, none closed) and still open.
        assert_eq!(c.inner.pool.idle_count(), first);
        srv.until_open(first).await;

        // A second wave reuses them: no more connections than calls at once.
        let answers = batch(40).await;
        assert!(answers.iter().all(|a| *a == Some(200)), "{answers:?}");
        assert!(srv.accepted() <= 40, "{}", srv.accepted());
        assert_eq!(c.inner.pool.idle_count(), srv.accepted());
        assert_eq!(srv.hits.load(Ordering::SeqCst), 80);

        // With a small cap, connections over it are closed after their call.
        let mut srv = conn_server().await;
        let c = client(settings(&srv.base_url)).with_pool_max_idle(3);
        let c2 = c.clone();
        let answers = futures_util::future::join_all((0..20).map(|_| {
            let c = c2.clone();
            async move {
                c.send(call(Method::GET, "/u", None))
                    .await
                    .map(|r| r.status)
                    .ok()
            }
        }))
        .await;
        assert!(answers.iter().all(|a| *a == Some(200)), "{answers:?}");
        assert!(c.inner.pool.idle_count() <= 3);
        let idle = c.inner.pool.idle_count();
        srv.until_open(idle).await;

        // Dropping the client closes its idle connections.
        drop(c);
        drop(c2);
        srv.until_open(0).await;
    }

    #[tokio::test]
    async fn idle_connections_expire() {
        let mut srv = conn_server().await;
        let c = client(settings(&srv.base_url));
        c.send(call(Method::GET, "/u", None)).await.unwrap();
        assert_eq!(c.inner.pool.idle_count(), 1);
        // Not yet expired: reused.
        c.inner.pool.age_idle(POOL_IDLE - Duration::from_secs(5));
        c.send(call(Method::GET, "/u", None)).await.unwrap();
        assert_eq!(srv.accepted(), 1);
        // Expired: a new connection, the old one closed.
        c.inner.pool.age_idle(POOL_IDLE);
        c.send(call(Method::GET, "/u", None)).await.unwrap();
        assert_eq!(srv.accepted(), 2);
        srv.until_open(1).await;
        // The reaper's sweep closes expired connections without a call.
        c.inner.pool.age_idle(POOL_IDLE);
        c.inner.pool.expire_now();
        assert_eq!(c.inner.pool.idle_count(), 0);
        srv.until_open(0).await;
    }

    #[tokio::test]
    async fn a_timed_out_call_closes_its_connection() {
        let (url, log) = raw_server(Arc::new(|conn, _| match conn {
            0 => Act::Hang,
            _ => Act::Answer,
        }))
        .await;
        let mut s = settings(&url);
        s.timeout = Duration::from_millis(200);
        let c = client(s);
        assert!(matches!(
            c.send(call(Method::GET, "/slow", None)).await,
            Err(AppError::Timeout)
        ));
        assert_eq!(c.inner.pool.idle_count(), 0);
        c.send(call(Method::GET, "/next", None)).await.unwrap();
        // The server sees the abandoned connection closed by the client.
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            while !lines(&log).contains(&(0, "closed".to_string())) {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(closed.is_ok(), "{:?}", lines(&log));
        let seen = lines(&log);
        assert!(
            seen.contains(&(1, "GET /next HTTP/1.1".to_string())),
            "{seen:?}"
        );
        assert_eq!(seen.len(), 3, "{seen:?}");
    }
}
