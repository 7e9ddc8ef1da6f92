//! Discovery documents (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`,
//! generated once at start-up from what the loaded mapping really supports. Only attributes the
//! mapping stores are advertised; `id`, `schemas` and `meta` always are.

use crate::scim::ResourceKind;
use crate::scim::filter::AttrPath;
use serde_json::Value;

/// What one resource type supports under the loaded mapping.
#[derive(Debug, Clone)]
pub struct Advertised {
    pub kind: ResourceKind,
    /// Attributes the mapping stores (in the app or the sidecar's store): `userName`,
    /// `name.givenName`, `emails.value`, `urn:…:enterprise:2.0:User:department`, …
    pub attributes: Vec<AttrPath>,
}

/// Service-wide features for `/ServiceProviderConfig`.
#[derive(Debug, Clone)]
pub struct Features {
    pub patch: bool,
    pub filter_max_results: usize,
    pub change_password: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

/// The three documents, rendered once.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub service_provider_config: Value,
    /// ListResponse of every ResourceType.
    pub resource_types: Value,
    /// ListResponse of every Schema (core, extensions in use).
    pub schemas: Value,
}

impl Discovery {
    /// Builds the documents. `base_url` is the public SCIM base (for `meta.location`), e.g.
    /// `http://host/scim/v2`.
    pub fn build(features: &Features, resources: &[Advertised], base_url: &str) -> Discovery {
        let _ = (features, resources, base_url);
        Discovery {
            service_provider_config: Value::Null,
            resource_types: Value::Null,
            schemas: Value::Null,
        }
    }

    /// One ResourceType by name (`User`), for `/ResourceTypes/User`.
    pub fn resource_type(&self, name: &str) -> Option<&Value> {
        let _ = name;
        None
    }

    /// One Schema by URN, for `/Schemas/{urn}`.
    pub fn schema(&self, urn: &str) -> Option<&Value> {
        let _ = urn;
        None
    }
}
