//! SCIM PATCH (RFC 7644 §3.5.2) in every dialect Okta and Entra send: ops in any case; with and
//! without `path`; path-less values with dotted (`name.givenName`) and URN-qualified keys; value
//! filters in paths; `remove` with a value array; string booleans; `add` on single-valued
//! attributes; empty `Operations`.
//!
//! Patches are applied to the canonical SCIM resource (see [`crate::scim::resource`]); the caller
//! then maps the result to the application and sends only what changed.

use crate::error::{Error, Result};
use crate::scim::filter::PatchPath;
use crate::scim::schema::ResourceSchema;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchRequest {
    pub operations: Vec<PatchOp>,
}

/// Parses a PatchOp request body. Errors: `invalidSyntax` (not an object, `Operations` missing or
/// not an array, unknown `op`), `invalidPath` (bad `path`), `invalidValue` (`value` missing where
/// required).
pub fn parse_patch(body: &Value) -> Result<PatchRequest> {
    let _ = body;
    Err(Error::invalid_syntax("PATCH is not implemented yet"))
}

/// Applies every operation in order to `resource` (canonical form). Errors: `noTarget` (a value
/// filter in a `replace`/`remove` path matched nothing where RFC requires a match), `invalidPath`
/// (unknown attribute), `invalidValue` (wrong type), `mutability` (a read-only attribute such as
/// `id` or `meta` changed to a *different* value; echoing the same `id` is accepted).
pub fn apply_patch(
    resource: &mut Value,
    patch: &PatchRequest,
    schema: &ResourceSchema,
) -> Result<()> {
    let _ = (resource, patch, schema);
    Err(Error::invalid_syntax("PATCH is not implemented yet"))
}
