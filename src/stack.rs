//! The only place the tower layers are composed. Every layer has a comment saying why it exists
//! and why it sits where it does. Outermost first:
//!
//! request id → propagate id → sensitive headers → trace span → SCIM error envelope →
//! layer-error mapping → timeout → load shed → concurrency limit → panic guard → body limit →
//! router.
//!
//! Every answer leaves this stack as SCIM: errors raised by layers (timeout, overload, panic,
//! oversized body) are rendered as RFC 7644 error JSON, and any stray non-SCIM error answer is
//! rewritten by the envelope layer.

use crate::error::{ClientError, Error, InternalError};
use crate::routes::{self, ServiceState};
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{CatchUnwind, Either, Lazy, Map, lazy};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::layer::layer_fn;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceBuilder};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tracing::Instrument;

/// The whole HTTP service, as hyper serves it.
/// Its error type is `BoxError` only to satisfy tower's `MapResult`; it never fails in practice:
/// every error is already a SCIM answer.
pub type HttpService =
    BoxCloneSyncService<Request<hyper::body::Incoming>, Response<Full<Bytes>>, BoxError>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What runs after an inner future, as a plain function: the future type stays nameable.
type ThenFn<T, U = T> = fn(T) -> U;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the service for one loaded configuration.
pub fn build(state: Arc<ServiceState>) -> HttpService {
    build_with_body::<hyper::body::Incoming>(state)
}

/// The same stack over any request body (tests drive it with `Full<Bytes>`).
pub fn build_with_body<B>(
    state: Arc<ServiceState>,
) -> BoxCloneSyncService<Request<B>, Response<Full<Bytes>>, BoxError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let settings = &state.settings;
    let max_body = settings.max_body_bytes;
    let router_state = state.clone();
    let router = tower::service_fn(move |req: Request<Bytes>| {
        let state = router_state.clone();
        async move { Ok::<_, Infallible>(routes::handle(&state, req).await) }
    });

    let stack = ServiceBuilder::new()
        // Outermost so that every later layer, every log line and the answer share one id.
        .layer(SetRequestIdLayer::x_request_id(FastRequestUuid))
        // Right after it: the client sees the id it can quote when reporting a problem.
        .layer(PropagateRequestIdLayer::x_request_id())
        // Before tracing, so no span or debug dump can ever show the bearer token.
        .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
        // The request span wraps everything below, so the status and latency it logs are final.
        .layer(layer_fn(|inner| Trace { inner }))
        // Below the span (so the logged status is the rewritten one) and above every layer that
        // can answer on its own: no non-SCIM error body can leave the service.
        .layer(layer_fn(|inner| Envelope { inner }))
        // Turns the errors the next layers raise (timeout, overload) into SCIM answers.
        .map_result(layer_error_to_response)
        // Bounds the whole request, including queueing and application calls, well within the
        // 60 s Okta and Entra wait, so they get a 504 rather than a dropped connection.
        .timeout(settings.request_timeout)
        // Sheds load instead of queueing without bound: a 429 with Retry-After makes IdPs back off.
        .load_shed()
        // Caps in-flight requests so a burst cannot exhaust the application or our memory.
        .concurrency_limit(settings.concurrency_limit)
        // Inside the limits so a panicking request still releases its permit; answers 500.
        .layer(layer_fn(|inner| PanicGuard { inner }))
        // Innermost before the router: handlers get the body as bytes, already bounded.
        .layer(layer_fn(move |inner| BodyLimit {
            inner,
            max: max_body,
        }))
        .service(router);
    BoxCloneSyncService::new(stack)
}

/// Request ids as random UUIDv4 text, like tower-http's `MakeRequestUuid`, but from the thread's
/// random generator: `MakeRequestUuid` makes a `getrandom` system call for every request.
#[derive(Clone, Copy)]
struct FastRequestUuid;

impl MakeRequestId for FastRequestUuid {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut text = uuid::Uuid::encode_buffer();
        http::HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
            .ok()
            .map(RequestId::new)
    }
}

/// Converts errors raised by tower layers into SCIM error answers.
fn layer_error_to_response(
    result: Result<Response<Full<Bytes>>, BoxError>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    Ok(match result {
        Ok(resp) => resp,
        Err(e) if e.is::<tower::timeout::error::Elapsed>() => {
            routes::error_response(&InternalError::Timeout.into())
        }
        Err(e) if e.is::<tower::load_shed::error::Overloaded>() => {
            routes::error_response(&InternalError::Overloaded.into())
        }
        Err(e) => routes::error_response(&Error::bug(format!("layer error: {e}"))),
    })
}

// ---------------------------------------------------------------------------------------------
// Trace span: one per request with method, request id, operation and resource type; its closing
// event (the access log line) adds status and latency.

#[derive(Clone)]
struct Trace<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Trace<S>
where
    S: Service<Request<B>, Response = Response<Full<Bytes>>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // Handlers fill `operation` and `resource`; paths are not logged (they carry ids and
        // filter values, which may be personal data).
        let span = {
            let request_id = req
                .headers()
                .get(&X_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!(
                "scim_request",
                request_id = %request_id,
                method = %req.method(),
                operation = tracing::field::Empty,
                resource = tracing::field::Empty,
            )
        };
        let started = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(
            async move {
                let resp = fut.await?;
                let latency = started.elapsed().as_secs_f64() * 1000.0;
                // Only in the event, not also recorded into the span: with JSON logs every span
                // update re-parses and re-serialises the span's fields.
                tracing::info!(
                    status = resp.status().as_u16(),
                    latency_ms = latency,
                    "request done"
                );
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Envelope: any error answer without a SCIM body gets one (defence in depth for layers and bugs).

#[derive(Clone)]
struct Envelope<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Envelope<S>
where
    S: Service<Request<B>, Response = Response<Full<Bytes>>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = S::Error;
    // A plain function after the inner future: no box, no extra state.
    type Future = Map<S::Future, ThenFn<Result<Self::Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let envelope: ThenFn<Result<Self::Response, S::Error>> = |result| result.map(scim_envelope);
        self.inner.call(req).map(envelope)
    }
}

/// An error answer that is not SCIM JSON becomes one with the same status.
fn scim_envelope(resp: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let is_scim = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(crate::scim::SCIM_MEDIA_TYPE));
    if resp.status().as_u16() >= 400 && !is_scim {
        let status = resp.status().as_u16();
        let detail = resp
            .status()
            .canonical_reason()
            .unwrap_or("error")
            .to_string();
        return routes::json_response(status, &crate::scim::error_body(status, None, &detail));
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Panic guard: a panic in a handler becomes a logged 500 SCIM error, never a dropped connection.

#[derive(Clone)]
struct PanicGuard<S> {
    inner: S,
}

type Answer = Result<Response<Full<Bytes>>, Infallible>;

impl<S, B> Service<Request<B>> for PanicGuard<S>
where
    S: Service<Request<B>, Response = Response<Full<Bytes>>, Error = Infallible>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    // Named combinators rather than a boxed async block: one allocation less per request.
    type Future = Either<
        Lazy<fn(&mut Context<'_>) -> Answer>,
        Map<CatchUnwind<AssertUnwindSafe<S::Future>>, ThenFn<std::thread::Result<Answer>, Answer>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(fut) => {
                let answer: ThenFn<std::thread::Result<Answer>, Answer> =
                    |caught| caught.unwrap_or_else(|_| Ok(panic_response()));
                Either::Right(AssertUnwindSafe(fut).catch_unwind().map(answer))
            }
            // Rendered when polled, as before: inside the request span, so the log line has it.
            Err(_) => Either::Left(lazy(|_| Ok(panic_response()))),
        }
    }
}

fn panic_response() -> Response<Full<Bytes>> {
    tracing::error!("request handler panicked");
    routes::error_response(&InternalError::Panic.into())
}

// ---------------------------------------------------------------------------------------------
// Body limit: collect the body into `Bytes`, refusing more than `max` bytes with a SCIM 413.

#[derive(Clone)]
struct BodyLimit<S> {
    inner: S,
    max: usize,
}

impl<S, B> Service<Request<B>> for BodyLimit<S>
where
    S: Service<Request<Bytes>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The readied service handles this request; a fresh clone takes its place (tower idiom).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let max = self.max;
        Box::pin(async move {
            let too_large =
                || routes::error_response(&ClientError::PayloadTooLarge { limit: max }.into());
            let declared = req
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max as u64) {
                return Ok(too_large());
            }
            let (parts, body) = req.into_parts();
            let bytes = match Limited::new(body, max).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(too_large()),
                Err(_) => {
                    return Ok(routes::error_response(&Error::invalid_syntax(
                        "the request body could not be read",
                    )));
                }
            };
            inner.call(Request::from_parts(parts, bytes)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_uuid_v4() {
        let req = Request::new(());
        let mut make = FastRequestUuid;
        let ids: Vec<String> = (0..100)
            .map(|_| {
                let id = make.make_request_id(&req).expect("an id");
                id.header_value().to_str().expect("ASCII").to_string()
            })
            .collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(
                id,
                &parsed.hyphenated().to_string(),
                "lower-case, hyphenated"
            );
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
