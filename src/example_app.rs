//! The example legacy application (source in `examples/legacy_app/app.rs`), compiled into the
//! library so that the `demo` command and the integration tests can run it in-process next to
//! the sidecar. See that file's documentation for its API; `mappings/example-app/` maps it.

#[path = "../examples/legacy_app/app.rs"]
mod app;

pub use app::*;
