//! # scim-sidecar
//!
//! A SCIM 2.0 service provider that runs beside an application without SCIM support and turns
//! every SCIM operation into calls to the application's existing REST user API, driven by a
//! declarative mapping file plus small sandboxed Rhai scripts.
//!
//! ## Request lifecycle
//! 1. [`server`] accepts connections (hyper 1.x via hyper-util on tokio);
//! 2. [`stack`] composes the tower layers: request id, trace span, timeout, concurrency limit,
//!    body limit, panic guard — every error they raise is rendered as SCIM;
//! 3. [`auth`] checks the bearer token in constant time;
//! 4. [`routes`] maps (method, path) to a handler;
//! 5. [`scim`] parses the request (filter AST, PatchOp, resource JSON, paging);
//! 6. [`provision`] plans and runs the application calls ([`mapping`] rules and hooks, [`ids`]
//!    cache and store, [`app_client`]);
//! 7. answers are rendered as SCIM, errors through one table in [`error`].
//!
//! ## Around the request path
//! [`reload`] swaps in a new configuration (SIGHUP, `--watch`) while requests in flight finish on
//! theirs; [`dryrun`] runs requests through the same state and stack against a fake application
//! (`explain`, `test-mapping`, mapping test cases); [`check`] probes the real application with
//! GET requests only.
//!
//! ## Dependency rules
//! [`scim`] and [`mapping`] are pure (no hyper, tokio or moka). [`app_client`] knows HTTP but not
//! SCIM. Only [`provision`] (the handlers' engine) joins protocol, mapping, ids and client.

pub mod app_client;
pub mod auth;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod dryrun;
pub mod error;
pub mod example_app;
pub mod ids;
pub mod mapping;
pub mod provision;
pub mod reload;
pub mod routes;
pub mod runtime;
pub mod scim;
pub mod secret;
pub mod server;
pub mod stack;
pub mod telemetry;
