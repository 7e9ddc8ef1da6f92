//! Attribute rules in both directions: a SCIM resource (canonical form) → fields of an application
//! record, and an application record → a SCIM resource. Value maps, defaults, constants,
//! read-only / write-only / immutable flags, application-side type conversion, and attributes kept
//! by the sidecar's store instead of the application.

use crate::error::Result;
use crate::mapping::json_path::JsonPath;
use crate::mapping::model::{AppType, AttributeRule};
use crate::scim::ResourceKind;
use crate::scim::filter::{AttrPath, PatchPath};
use serde_json::{Map, Value};

/// Whether a write creates a record or updates an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    Update,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The SCIM side (`None` for application-only constants/defaults).
    pub scim: Option<PatchPath>,
    /// The SCIM path as written in the file, for messages.
    pub scim_text: Option<String>,
    pub app: Option<JsonPath>,
    pub store: bool,
    /// SCIM value as text → application value.
    pub map: Option<Vec<(String, Value)>>,
    pub map_default: Option<Value>,
    pub default: Option<Value>,
    pub constant: Option<Value>,
    pub read_only: bool,
    pub write_only: bool,
    pub immutable: bool,
    pub app_type: Option<AppType>,
}

/// All rules of one resource type.
#[derive(Debug, Clone)]
pub struct Rules {
    pub kind: ResourceKind,
    pub rules: Vec<Rule>,
}

impl Rules {
    /// Compiles the raw rules; every problem is returned (with the rule's index and key).
    pub fn compile(kind: ResourceKind, raw: &[AttributeRule]) -> Result<Rules, Vec<String>> {
        let _ = raw;
        Ok(Rules {
            kind,
            rules: Vec::new(),
        })
    }

    /// Writes every writable rule's value from `scim` into `app` (`{}` for a create, the current
    /// record for an update), applying value maps, defaults, constants and type conversion.
    /// Attributes absent from `scim` get their `default` (or `null` on update when no default).
    /// Errors: `invalidValue` when a value has no entry in a value map.
    pub fn scim_to_app(&self, scim: &Value, app: &mut Value, kind: WriteKind) -> Result<()> {
        let _ = (scim, app, kind);
        Ok(())
    }

    /// Builds the SCIM resource (canonical form, with `schemas`; without `id`/`meta`, which the
    /// caller sets) from an application record.
    /// Errors: `BadResponse` when a mapped value cannot be converted.
    pub fn app_to_scim(&self, app: &Value) -> Result<Value> {
        let _ = app;
        Ok(Value::Object(Map::new()))
    }

    /// The values of `store = true` rules in `scim`, keyed by the rule's SCIM path text.
    pub fn kept_from_scim(&self, scim: &Value) -> Map<String, Value> {
        let _ = scim;
        Map::new()
    }

    /// Puts kept values back into a SCIM resource.
    pub fn merge_kept(&self, scim: &mut Value, kept: &Map<String, Value>) {
        let _ = (scim, kept);
    }

    /// Fails with `mutability` when an `immutable` attribute differs between `old` and `new`
    /// (both canonical SCIM resources); absent in `new` counts as unchanged.
    pub fn check_immutable(&self, old: &Value, new: &Value) -> Result<()> {
        let _ = (old, new);
        Ok(())
    }

    /// Whether the mapping can read this SCIM attribute (for filters): a rule exists whose SCIM
    /// side is this path, its parent (`name` for `name.givenName`) or one of its sub-attributes.
    pub fn knows(&self, path: &AttrPath) -> bool {
        let _ = path;
        false
    }

    /// Attribute paths to advertise in `/Schemas` (readable or writable by some rule).
    pub fn advertised(&self) -> Vec<AttrPath> {
        Vec::new()
    }
}
