//! Tracing setup (`pretty` or `json` output, an `EnvFilter` level) and the conventions for what
//! may be logged: operation, resource type, status, latency, request id, application call labels.
//! Never tokens, passwords, or whole bodies: the `Authorization` header is marked sensitive in the
//! stack, and no code logs bodies.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` wins over `level` when set. Safe to call twice (the
/// second call is ignored), which keeps tests and the demo simple.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            // The current span already carries the request's fields; the list would repeat them.
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
