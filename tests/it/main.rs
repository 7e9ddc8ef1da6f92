//! The integration test binary (one binary for all suites, as DESIGN.md §9 asks). Each suite
//! starts the example application and a sidecar in-process on `127.0.0.1:0`, drives SCIM over
//! real HTTP, and asserts both the SCIM answer and what the application received.

mod app_faults;
mod bad_input;
mod check;
mod custom_extensions;
mod deactivate_by_delete;
mod entra_users;
mod groups_entra;
mod groups_mapping;
mod groups_okta;
mod json_server;
mod mapping_cases;
mod okta_users;
mod patch_hooks;
mod reload;
mod roles_as_groups;
mod rule_errors;
mod support;
