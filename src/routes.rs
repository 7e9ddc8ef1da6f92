//! (method, path) → handler. Handlers only orchestrate: authenticate, parse the SCIM request with
//! [`crate::scim`], call the [`crate::provision`] engine, and render the answer or the error.
//! Errors are logged here, once, at the level their side deserves.

use crate::auth::TokenVerifier;
use crate::config::ServerSettings;
use crate::error::{ClientError, Error, ErrorDetail};
use crate::provision::Provisioner;
use crate::scim::discovery::Discovery;
use crate::scim::{self, ResourceKind, list, patch};
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// Everything a request needs, built once per loaded configuration.
pub struct ServiceState {
    pub settings: ServerSettings,
    pub verifier: TokenVerifier,
    pub discovery: Discovery,
    pub users: Arc<Provisioner>,
    /// `None` when the mapping has no `[groups]`.
    pub groups: Option<Provisioner>,
    /// Shared by every generation of a reloadable configuration (`/healthz`).
    pub health: Arc<crate::reload::Health>,
}

/// Renders a JSON answer as `application/scim+json`.
pub fn json_response(status: u16, body: &Value) -> Response<Full<Bytes>> {
    // Room for a typical resource up front: `to_vec` starts at 128 bytes and grows by copying.
    let mut bytes = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut bytes, body).is_err() {
        bytes = b"{}".to_vec();
    }
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json; charset=utf-8"),
    );
    resp
}

/// Renders an error as the RFC 7644 envelope, with `Retry-After`, `WWW-Authenticate` and `Allow`
/// where the status calls for them.
pub fn error_response(err: &Error) -> Response<Full<Bytes>> {
    error_response_with(err, ErrorDetail::Generic)
}

/// [`error_response`] with the configured `server.error_detail`.
pub fn error_response_with(err: &Error, mode: ErrorDetail) -> Response<Full<Bytes>> {
    let class = err.class();
    let body = scim::error_body(
        class.status,
        class.scim_type.map(|t| t.as_str()),
        &err.detail_for(mode),
    );
    let mut resp = json_response(class.status, &body);
    if let Some(secs) = class.retry_after {
        resp.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    if class.status == 401 {
        resp.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scim\""),
        );
    }
    resp
}

/// Logs an error once, at the level its side deserves, then renders it (`detail` never names
/// mapping rules: these errors arise outside them).
fn fail(err: Error) -> Response<Full<Bytes>> {
    fail_with(err, ErrorDetail::Generic)
}

/// [`fail`] for errors that may have arisen in a mapping rule: the log line names the rule
/// (`rule`, and `hook` or `attribute` where they apply), and so does `detail` when `mode` says so.
fn fail_with(err: Error, mode: ErrorDetail) -> Response<Full<Bytes>> {
    use crate::error::InternalError;
    let status = err.class().status;
    let rule = err.rule();
    let name = rule.map(|r| r.name.as_str());
    let hook = rule.and_then(|r| r.hook.as_deref());
    let attribute = rule.and_then(|r| r.attribute.as_deref());
    match err.root() {
        Error::Client(_) => {
            tracing::debug!(status, rule = name, hook, attribute, error = %err, "client error")
        }
        Error::App(_) => {
            tracing::warn!(status, rule = name, hook, attribute, error = %err, "application error")
        }
        // Also logged at error level where it failed, with the script path and position.
        Error::Internal(InternalError::Script { .. }) => {
            tracing::debug!(status, rule = name, hook, error = %err, "script error")
        }
        // The cause stays out of `detail`; the log is where it belongs.
        Error::Internal(InternalError::Store(cause) | InternalError::Bug(cause)) => {
            tracing::error!(status, rule = name, error = %err, cause = %cause, "internal error")
        }
        Error::Internal(_) | Error::InRule { .. } => {
            tracing::error!(status, rule = name, error = %err, "internal error")
        }
    }
    error_response_with(&err, mode)
}

fn method_not_allowed(method: &Method, allow: &'static str) -> Response<Full<Bytes>> {
    let mut resp = fail(
        ClientError::MethodNotAllowed {
            method: method.to_string(),
        }
        .into(),
    );
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

fn record(operation: &'static str, resource: &'static str) {
    let span = tracing::Span::current();
    // Both fields in one update: with JSON logs every update re-serialises the span's fields.
    let Some(meta) = span.metadata() else { return };
    let fields = meta.fields();
    if let (Some(op), Some(res)) = (fields.field("operation"), fields.field("resource")) {
        span.record_all(&fields.value_set(&[
            (&op, Some(&operation as &dyn tracing::field::Value)),
            (&res, Some(&resource as &dyn tracing::field::Value)),
        ]));
    }
}

/// Entry point from the stack.
pub async fn handle(state: &ServiceState, req: Request<Bytes>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    // Liveness for container health checks: outside the SCIM base path, no token needed.
    if path == "/healthz" {
        record("health", "-");
        return json_response(200, &state.health.to_json());
    }
    let base = state.settings.base_path.as_str();
    let Some(rest) = path
        .strip_prefix(base)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        record("unknown", "-");
        return fail(Error::not_found("no SCIM endpoint at this path"));
    };
    // Both `/scim/v2/Users` and `/scim/v2/Users/` are the same resource.
    let rest = rest.trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();

    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !state.verifier.verify(authorization) {
        record("auth", "-");
        return fail(ClientError::Unauthorized.into());
    }

    let method = parts.method.clone();
    let query = parts.uri.query();
    // Decoded copies only for segments with escapes.
    let segs: Vec<Cow<str>> = segments.iter().map(|s| percent_decode(s)).collect();
    let segs: Vec<&str> = segs.iter().map(|s| s.as_ref()).collect();

    match segs.as_slice() {
        [] => fail(Error::not_found("no SCIM endpoint at the base path itself")),
        [ep, rest @ ..] if rest.len() <= 1 && resource_kind(ep).is_some() => {
            let Some(kind) = resource_kind(ep) else {
                return fail(Error::bug("resource kind vanished"));
            };
            let name = kind.name();
            let Some(service) = service(state, kind) else {
                record("any", name);
                return fail(Error::not_found(format!(
                    "this sidecar's mapping does not serve /{}",
                    kind.endpoint()
                )));
            };
            // Each operation's future is boxed where it starts: they reach 10 KB (create), and
            // unboxed they would make this future, and every layer's above it, that large, to
            // be copied whole each time the stack moves or boxes it.
            match (rest, method) {
                ([], Method::GET) => {
                    record("list", name);
                    Box::pin(list_resources(state, service, query)).await
                }
                ([], Method::POST) => {
                    record("create", name);
                    Box::pin(create_resource(state, service, query, &body)).await
                }
                ([], m) => method_not_allowed(&m, "GET, POST"),
                ([id], m) if id.eq_ignore_ascii_case(".search") => {
                    record("search", name);
                    if m != Method::POST {
                        return method_not_allowed(&m, "POST");
                    }
                    Box::pin(search_resources(state, service, &body)).await
                }
                ([id], Method::GET) => {
                    record("get", name);
                    Box::pin(get_resource(state, service, id, query)).await
                }
                ([id], Method::PUT) => {
                    record("replace", name);
                    Box::pin(replace_resource(state, service, id, query, &body)).await
                }
                ([id], Method::PATCH) => {
                    record("patch", name);
                    Box::pin(patch_resource(state, service, id, query, &body)).await
                }
                ([id], Method::DELETE) => {
                    record("delete", name);
                    Box::pin(delete_resource(state, service, id)).await
                }
                (_, m) => method_not_allowed(&m, "GET, PUT, PATCH, DELETE"),
            }
        }
        [ep] if ep.eq_ignore_ascii_case("ServiceProviderConfig") => {
            record("discovery", "ServiceProviderConfig");
            if method != Method::GET {
                return method_not_allowed(&method, "GET");
            }
            json_response(200, &state.discovery.service_provider_config)
        }
        [ep, rest @ ..] if ep.eq_ignore_ascii_case("ResourceTypes") && rest.len() <= 1 => {
            record("discovery", "ResourceType");
            discovery_doc(&method, rest, &state.discovery.resource_types, |name| {
                state
                    .discovery
                    .resource_type(name)
                    .ok_or_else(|| Error::not_found(format!("no resource type named {name}")))
            })
        }
        [ep, rest @ ..] if ep.eq_ignore_ascii_case("Schemas") && rest.len() <= 1 => {
            record("discovery", "Schema");
            discovery_doc(&method, rest, &state.discovery.schemas, |urn| {
                state
                    .discovery
                    .schema(urn)
                    .ok_or_else(|| Error::not_found(format!("no schema {urn}")))
            })
        }
        [ep, ..]
            if ["Bulk", "Me", ".search"]
                .iter()
                .any(|e| ep.eq_ignore_ascii_case(e)) =>
        {
            record("unsupported", "-");
            fail(
                ClientError::NotImplemented(format!(
                    "/{ep} is not supported by this service provider"
                ))
                .into(),
            )
        }
        _ => {
            record("unknown", "-");
            fail(Error::not_found("no SCIM endpoint at this path"))
        }
    }
}

/// `GET /ResourceTypes[/{name}]` and `GET /Schemas[/{urn}]`: the whole list, or one entry.
fn discovery_doc<'a>(
    method: &Method,
    rest: &[&str],
    all: &'a Value,
    one: impl FnOnce(&str) -> Result<&'a Value, Error>,
) -> Response<Full<Bytes>> {
    if method != Method::GET {
        return method_not_allowed(method, "GET");
    }
    match rest {
        [] => json_response(200, all),
        [name] => match one(name) {
            Ok(doc) => json_response(200, doc),
            Err(e) => fail(e),
        },
        _ => fail(Error::not_found("no such discovery document")),
    }
}

fn percent_decode(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

fn resource_kind(segment: &str) -> Option<ResourceKind> {
    if segment.eq_ignore_ascii_case("Users") {
        Some(ResourceKind::User)
    } else if segment.eq_ignore_ascii_case("Groups") {
        Some(ResourceKind::Group)
    } else {
        None
    }
}

/// The provisioner for a resource type, `None` when the mapping does not serve it.
fn service(state: &ServiceState, kind: ResourceKind) -> Option<&Provisioner> {
    match kind {
        ResourceKind::User => Some(&state.users),
        ResourceKind::Group => state.groups.as_ref(),
    }
}

/// Parses a JSON body; non-UTF-8 and malformed JSON are `invalidSyntax`.
fn parse_body(body: &Bytes) -> Result<Value, Error> {
    if body.is_empty() {
        return Err(Error::invalid_syntax("the request body is empty"));
    }
    serde_json::from_slice(body).map_err(|e| {
        Error::invalid_syntax(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

fn parse_query(state: &ServiceState, query: Option<&str>) -> Result<list::ListQuery, Error> {
    list::parse_query(
        query,
        state.settings.default_count,
        state.settings.max_results,
    )
}

fn with_location(mut resp: Response<Full<Bytes>>, resource: &Value) -> Response<Full<Bytes>> {
    if let Some(loc) = resource.pointer("/meta/location").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(loc)
    {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// Renders a handler's outcome: the body with `status` (a 201 also gets `Location`), or the
/// error.
fn respond(
    state: &ServiceState,
    result: Result<Value, Error>,
    status: u16,
) -> Response<Full<Bytes>> {
    match result {
        Ok(body) if status == 201 => with_location(json_response(status, &body), &body),
        Ok(body) => json_response(status, &body),
        Err(e) => fail_with(e, state.settings.error_detail),
    }
}

async fn list_resources(
    state: &ServiceState,
    service: &Provisioner,
    query: Option<&str>,
) -> Response<Full<Bytes>> {
    let result = async { service.list(&parse_query(state, query)?).await }.await;
    respond(state, result, 200)
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): the body's parameters, then the same as a list.
async fn search_resources(
    state: &ServiceState,
    service: &Provisioner,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let result = async {
        let query = search_body_to_query(&parse_body(body)?)?;
        service.list(&parse_query(state, Some(&query))?).await
    }
    .await;
    respond(state, result, 200)
}

/// Turns a SearchRequest body into the equivalent query string, so both forms share one parser
/// (and its clamping rules).
fn search_body_to_query(body: &Value) -> Result<String, Error> {
    let obj = body
        .as_object()
        .ok_or_else(|| Error::invalid_syntax("a SearchRequest must be a JSON object"))?;
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut parts = Vec::new();
    for (key, value) in obj {
        let text = match (key.as_str(), value) {
            ("schemas", _) => continue,
            (_, Value::String(s)) => s.clone(),
            (_, Value::Number(n)) => n.to_string(),
            (_, Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        Error::invalid_value(format!("{key} must be a list of strings"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            (_, Value::Null) => continue,
            _ => return Err(Error::invalid_value(format!("unexpected value for {key}"))),
        };
        parts.push(format!("{}={}", enc(key), enc(&text)));
    }
    Ok(parts.join("&"))
}

async fn get_resource(
    state: &ServiceState,
    service: &Provisioner,
    id: &str,
    query: Option<&str>,
) -> Response<Full<Bytes>> {
    let result = async { service.get(id, &parse_query(state, query)?).await }.await;
    respond(state, result, 200)
}

async fn create_resource(
    state: &ServiceState,
    service: &Provisioner,
    query: Option<&str>,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let result = async {
        let q = parse_query(state, query)?;
        service.create(parse_body(body)?, &q).await
    }
    .await;
    respond(state, result, 201)
}

async fn replace_resource(
    state: &ServiceState,
    service: &Provisioner,
    id: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let result = async {
        let q = parse_query(state, query)?;
        service.replace(id, parse_body(body)?, &q).await
    }
    .await;
    respond(state, result, 200)
}

async fn patch_resource(
    state: &ServiceState,
    service: &Provisioner,
    id: &str,
    query: Option<&str>,
    body: &Bytes,
) -> Response<Full<Bytes>> {
    let result = async {
        let q = parse_query(state, query)?;
        let request = patch::parse_patch(&parse_body(body)?)?;
        service.patch(id, &request, &q).await
    }
    .await;
    match result {
        Ok(Some(body)) => json_response(200, &body),
        Ok(None) => no_content(),
        Err(e) => fail_with(e, state.settings.error_detail),
    }
}

fn no_content() -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

async fn delete_resource(
    state: &ServiceState,
    service: &Provisioner,
    id: &str,
) -> Response<Full<Bytes>> {
    match service.delete(id).await {
        Ok(()) => no_content(),
        Err(e) => fail_with(e, state.settings.error_detail),
    }
}
