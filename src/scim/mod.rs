//! Pure SCIM 2.0 protocol code (RFC 7643/7644): no I/O, no HTTP, no mapping knowledge.
//!
//! - [`schema`]: attribute definitions of the core User, enterprise User and Group schemas, and
//!   of the extension schemas a mapping declares;
//! - [`resource`]: case-insensitive, schema-aware access to resource JSON, normalisation of what
//!   clients send, and `attributes` / `excludedAttributes` projection;
//! - [`filter`]: the filter and attribute-path grammar, with in-memory evaluation;
//! - [`patch`]: PatchOp parsing and application in every dialect real clients send;
//! - [`list`]: query parameters, paging rules and ListResponse rendering;
//! - [`discovery`]: ServiceProviderConfig, ResourceTypes and Schemas documents.

pub mod discovery;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resource;
pub mod schema;

use crate::error::Error;
use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The media type of every answer.
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// The resource types the sidecar serves. Groups use the same machinery as Users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The `meta.resourceType` / ResourceType `name`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// The endpoint segment under the base path.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }
}

/// Renders the RFC 7644 §3.12 error envelope (`status` is a string, as the RFC says).
pub fn error_body(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut body = json!({
        "schemas": [ERROR_SCHEMA],
        "status": status.to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = Value::String(t.to_string());
    }
    body
}

/// Renders an [`Error`] as its envelope.
pub fn error_json(err: &Error) -> Value {
    let class = err.class();
    error_body(
        class.status,
        class.scim_type.map(|t| t.as_str()),
        &err.detail(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_has_string_status_and_optional_scim_type() {
        let b = error_body(409, Some("uniqueness"), "exists");
        assert_eq!(b["status"], "409");
        assert_eq!(b["scimType"], "uniqueness");
        assert_eq!(b["schemas"][0], ERROR_SCHEMA);
        let b = error_body(404, None, "no such user");
        assert!(b.get("scimType").is_none());
        assert_eq!(b["detail"], "no such user");
    }
}
