//! Mapping files: the integrator's description of an application's user API, compiled once at
//! start-up into ready-to-run tables. Pure code (no I/O besides reading the files at load time).
//!
//! - [`model`]: the file as written (TOML, `deny_unknown_fields`);
//! - [`compile`]: checks everything, reports every problem at once, builds [`Mapping`];
//! - [`shape`]: reads the TOML part by part so that every shape error is reported;
//! - [`diagnostics`]: problems located as `file:line:column: key: message`;
//! - [`extensions`]: custom extension schemas declared per resource type;
//! - [`template`]: path and query templates with percent-encoding of every substituted value;
//! - [`json_path`]: dotted paths into application JSON;
//! - [`errors`]: error answers told apart by their body (`[[….errors]]`);
//! - [`rules`]: attribute rules in both directions (SCIM ↔ application record);
//! - [`script`]: the sandboxed Rhai engine and hook calls;
//! - [`hook_args`]: which parts of its arguments each hook can reach (read from the script);

pub mod compile;
pub mod diagnostics;
pub mod errors;
pub mod extensions;
pub mod hook_args;
pub mod json_path;
pub mod model;
pub mod rules;
pub mod script;
pub mod shape;
pub mod template;

use crate::scim::ResourceKind;
use crate::scim::filter::{AttrPath, CompareOp};
use crate::scim::schema::ResourceSchema;
use crate::secret::Secret;
pub use compile::{Checked, LoadError, check_mapping_str, load_mapping, load_mapping_str};
pub use diagnostics::{Problem, Severity};
pub use errors::{ErrorAnswer, ErrorRule};
pub use json_path::JsonPath;
pub use model::{DeactivationMode, IdMode, OnDuplicate, PagingStyle, UpdateBody};
pub use rules::Rules;
pub use script::{Script, ScriptLimits};
use std::sync::Arc;
use std::time::Duration;
pub use template::Template;

/// A loaded, checked mapping: everything needed to serve requests, built once.
#[derive(Debug)]
pub struct Mapping {
    pub app: AppSettings,
    pub users: ResourceMapping,
    /// `None`: the mapping does not serve `/Groups`.
    pub groups: Option<ResourceMapping>,
}

impl Mapping {
    pub fn resource(&self, kind: ResourceKind) -> Option<&ResourceMapping> {
        match kind {
            ResourceKind::User => Some(&self.users),
            ResourceKind::Group => self.groups.as_ref(),
        }
    }

    /// How a user record names its groups, when membership is a user attribute (then a user's
    /// `groups` attribute costs nothing).
    pub fn user_group_field(&self) -> Option<(&JsonPath, bool)> {
        match self.groups.as_ref()?.members.as_ref()? {
            Membership::UserAttribute { field, single, .. } => Some((field, *single)),
            _ => None,
        }
    }
}

/// How to reach the application.
#[derive(Debug, Clone)]
pub struct AppSettings {
    /// Without a trailing slash.
    pub base_url: String,
    /// Headers sent on every call; the bool marks secret values (never logged).
    pub headers: Vec<(String, Secret, bool)>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
}

/// One resource type's mapping.
#[derive(Debug)]
pub struct ResourceMapping {
    pub kind: ResourceKind,
    /// The resource type's schemas: built-in plus the extensions the mapping declares.
    pub schema: &'static ResourceSchema,
    pub ids: IdMode,
    pub id_field: JsonPath,
    pub on_duplicate: OnDuplicate,
    /// Look names up before creates and renames (`check_duplicates`).
    pub check_duplicates: bool,
    pub deactivation: DeactivationMode,
    pub max_scan: usize,
    pub get: Endpoint,
    pub list: ListEndpoint,
    pub create: Option<Endpoint>,
    pub update: Option<(Endpoint, UpdateBody)>,
    pub delete: Option<Endpoint>,
    pub deactivate: Option<Endpoint>,
    pub reactivate: Option<Endpoint>,
    pub pushdowns: Vec<Pushdown>,
    pub rules: Rules,
    pub hooks: Hooks,
    /// Attributes the hooks handle without a rule (`script_attributes`).
    pub script_attributes: Vec<AttrPath>,
    /// Groups: where membership lives (`None` for users, or groups without members).
    pub members: Option<Membership>,
    /// Groups: fill `members[].display` (`[groups.members] display = true`).
    pub member_display: bool,
}

impl ResourceMapping {
    /// Whether a filter may name this attribute: a rule maps it or a hook declares it.
    pub fn knows(&self, path: &AttrPath) -> bool {
        self.rules.knows(path)
            || self.script_attributes.iter().any(|a| {
                a.name.eq_ignore_ascii_case(&path.name)
                    && a.urn.as_deref().map(str::to_ascii_lowercase)
                        == path.urn.as_deref().map(str::to_ascii_lowercase)
                    && (a.sub.is_none()
                        || a.sub.as_deref().map(str::to_ascii_lowercase)
                            == path.sub.as_deref().map(str::to_ascii_lowercase))
            })
    }

    /// Whether some rule keeps attributes in the sidecar's store (so records need store entries).
    pub fn uses_store(&self) -> bool {
        self.rules.rules.iter().any(|r| r.store)
    }

    /// Top-level attributes advertised as required (`required = true` rules).
    pub fn required(&self) -> Vec<AttrPath> {
        self.rules
            .rules
            .iter()
            .filter(|r| r.required)
            .filter_map(|r| r.scim.as_ref())
            .map(|p| AttrPath {
                urn: p.attr.urn.clone(),
                name: p.attr.name.clone(),
                sub: None,
            })
            .collect()
    }

    /// Attributes to advertise in `/Schemas`.
    pub fn advertised(&self) -> Vec<AttrPath> {
        let mut out = self.rules.advertised();
        for a in &self.script_attributes {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }
}

/// How the application stores group membership (see `model::MembersModel`).
// Built once per configuration and never moved on the request path: size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Membership {
    /// Member ids in an array of the group record.
    Record { field: JsonPath, items: MemberItems },
    /// Per-member endpoints.
    Endpoints {
        list: ListEndpoint,
        items: MemberItems,
        add: MemberCall,
        remove: MemberCall,
    },
    /// The user record names its group(s).
    UserAttribute {
        field: JsonPath,
        single: bool,
        removed_value: serde_json::Value,
        id_type: Option<model::AppType>,
        /// Narrowed users list (path override, query); `None` = scan the users list.
        lookup: Option<MemberLookup>,
    },
}

/// A users list narrowed to one group's members: path override and query templates (`{id}`).
#[derive(Debug, Clone)]
pub struct MemberLookup {
    pub path: Option<Template>,
    pub query: Vec<(String, Template)>,
}

/// How member items look in the application (record array or members listing).
#[derive(Debug, Clone, Default)]
pub struct MemberItems {
    /// Path of the user id in an item object; `None`: items are plain ids.
    pub id: Option<JsonPath>,
    pub display: Option<JsonPath>,
    pub id_type: Option<model::AppType>,
}

/// A compiled per-member call.
#[derive(Debug, Clone)]
pub struct MemberCall {
    pub endpoint: Endpoint,
    pub body: Option<serde_json::Value>,
}

/// A compiled application call.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub method: http::Method,
    pub path: Template,
    pub query: Vec<(String, Template)>,
    pub wrap: Option<String>,
    pub record: Option<JsonPath>,
    pub not_found_status: Vec<u16>,
    pub conflict_status: Vec<u16>,
    /// `[[….errors]]`: error answers told apart by their body, first match wins.
    pub errors: Vec<ErrorRule>,
}

/// A compiled list call.
#[derive(Debug, Clone)]
pub struct ListEndpoint {
    pub endpoint: Endpoint,
    pub records: Option<JsonPath>,
    pub total: Option<JsonPath>,
    pub total_header: Option<String>,
    pub paging: Paging,
}

/// How the application pages, with defaults filled in.
#[derive(Debug, Clone)]
pub enum Paging {
    /// `page_param` numbered from `first_page`, `size_param` per page.
    Page {
        page_param: String,
        size_param: String,
        first_page: u64,
        max_size: usize,
    },
    /// 0-based `offset_param`, `size_param` per page.
    Offset {
        offset_param: String,
        size_param: String,
        max_size: usize,
    },
    /// One call returns every record.
    None,
}

/// A filter the application answers natively.
#[derive(Debug, Clone)]
pub struct Pushdown {
    pub attribute: AttrPath,
    /// For value-path attributes (`emails[type eq "work"].value`), the whole SCIM path as written,
    /// compared structurally with the filter's value path.
    pub value_path: Option<crate::scim::filter::PatchPath>,
    pub op: CompareOp,
    /// Path override (else the list endpoint's path) and query parameters with `{value}`.
    pub path: Option<Template>,
    pub query: Vec<(String, Template)>,
}

/// The script and hook names for one resource type.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    pub script: Option<Arc<Script>>,
    pub to_app: Option<String>,
    pub from_app: Option<String>,
    /// The top-level SCIM attributes `to_app` can see (`Any` unless the script was analysed).
    pub to_app_reads: hook_args::ArgReads,
}
