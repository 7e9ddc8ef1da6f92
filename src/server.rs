//! The accept loop: serves the stack on a listener with hyper-util (HTTP/1.1 and HTTP/2), and
//! shuts down gracefully — stop accepting, let in-flight requests finish within the grace time.
//! Each request takes its service when it arrives, so a reloaded configuration applies to the
//! next request, even on a kept-alive connection.

use crate::stack::HttpService;
use arc_swap::ArcSwap;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Where each request's service comes from.
#[derive(Clone)]
pub enum Services {
    /// One configuration for the server's lifetime.
    Fixed(HttpService),
    /// The current generation of a reloadable configuration ([`crate::reload`]), taken once per
    /// request, so a request in flight finishes on the one it started with.
    Current(Arc<ArcSwap<HttpService>>),
}

impl Services {
    fn get(&self) -> HttpService {
        match self {
            Services::Fixed(s) => s.clone(),
            Services::Current(current) => current.load().as_ref().clone(),
        }
    }
}

impl From<HttpService> for Services {
    fn from(s: HttpService) -> Services {
        Services::Fixed(s)
    }
}

/// Serves until `shutdown` completes, then drains connections for at most `grace`.
pub async fn run(
    listener: TcpListener,
    service: impl Into<Services>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let service = service.into();
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: log, back off a little, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let io = TokioIo::new(stream);
                let svc = service.clone();
                // A hyper service over the tower stack; the stack already renders every error
                // as SCIM, so the (never used) error arm only guards against a future layer.
                let hyper_svc = hyper::service::service_fn(move |req| {
                    let svc = svc.get();
                    async move {
                        Ok::<_, Infallible>(match svc.oneshot(req).await {
                            Ok(resp) => resp,
                            Err(e) => crate::routes::error_response(&crate::error::Error::bug(e.to_string())),
                        })
                    }
                });
                let conn = builder.serve_connection(io, hyper_svc).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: draining connections"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing remaining connections");
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
