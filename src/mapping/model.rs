//! The mapping file as written (TOML), deserialised with `deny_unknown_fields` so that a typo is
//! an error, not a silently ignored key. [`super::compile`] turns this raw model into the checked,
//! ready-to-run [`super::Mapping`]. `mappings/README.md` documents every key; keep them in step.
//! The same types (and their doc comments) generate the JSON Schema editors use
//! ([`json_schema`], checked in as `mappings/mapping.schema.json`).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::secret::SecretSource;

/// The whole mapping file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// Format version; only `1` exists.
    #[serde(default = "one")]
    pub version: u32,
    /// `[app]`: where the application lives and how the sidecar authenticates to it.
    pub app: AppSection,
    /// `[users]`: the calls and attribute rules behind `/Users` (required).
    pub users: ResourceSection,
    /// Groups; absent = `/Groups` is not served (and not advertised).
    #[serde(default)]
    pub groups: Option<ResourceSection>,
}

fn one() -> u32 {
    1
}

/// The JSON Schema of a mapping file (draft 7, which TOML editors such as Taplo understand),
/// pretty-printed with a final newline.
pub fn json_schema() -> String {
    let mut schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<MappingFile>();
    schema.insert("title".into(), "scim-sidecar mapping file".into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Where the application lives and how we authenticate to it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// `http://host:port[/prefix]`; the config's `app.base_url` overrides it per deployment.
    #[serde(default)]
    pub base_url: Option<String>,
    /// One header carrying a secret, e.g. `Authorization: Bearer <token>`.
    #[serde(default)]
    pub auth: Option<AppAuth>,
    /// Static extra headers sent on every call.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Whole-call timeout in milliseconds (default 10000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Connection timeout in milliseconds (default 2000).
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// Retries for idempotent calls on connect errors and 502/503 (default 2).
    #[serde(default)]
    pub retries: Option<u32>,
}

/// One header carrying a secret: `X-Api-Key: <secret>` or `Authorization: Bearer <secret>`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAuth {
    /// Header name, e.g. `Authorization` or `X-Api-Key`.
    pub header: String,
    /// Text before the secret, e.g. `"Bearer "`.
    #[serde(default)]
    pub prefix: String,
    /// Where the secret comes from: `{ env = "VAR" }`, `{ file = "/run/secrets/x" }` or
    /// `{ value = "…" }` (tests only).
    pub secret: SecretSource,
}

/// How SCIM ids relate to application ids.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdMode {
    /// The SCIM id is the application's id as a string. Stateless.
    #[default]
    App,
    /// The sidecar mints a stable UUID and keeps `scim id ↔ app id` in its store (mutable app
    /// keys, or deactivation by deletion).
    Minted,
}

/// What a create for a user that already exists in the application does.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// 409 `uniqueness` (what Okta and Entra expect).
    #[default]
    Conflict,
    /// Find the existing record by `userName` and answer with it (updated with the sent values).
    Adopt,
}

/// What SCIM `active: false` means in the application.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeactivationMode {
    /// `active` is an ordinary attribute rule (usually with a value map to a status field).
    #[default]
    Field,
    /// Dedicated `deactivate` / `reactivate` endpoints; `active` is read from a read-only rule.
    Endpoint,
    /// The record is deleted; the sidecar keeps the SCIM resource so GET still answers with
    /// `active: false`, and reactivation re-creates it under the same SCIM id (needs `ids = "minted"`).
    Delete,
}

/// One resource type (`[users]` or `[groups]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceSection {
    /// How SCIM ids relate to application ids: `app` (default) or `minted`.
    #[serde(default)]
    pub ids: IdMode,
    /// Path of the id in an application record (default `id`).
    #[serde(default)]
    pub id_field: Option<String>,
    /// A create for a user that already exists: `conflict` (default, 409) or `adopt`.
    #[serde(default)]
    pub on_duplicate: OnDuplicate,
    /// The application does not refuse duplicates: the sidecar looks the `userName` /
    /// `displayName` up before a create or a rename, and a match counts as a conflict.
    #[serde(default)]
    pub check_duplicates: bool,
    /// What SCIM `active: false` means: `field` (default), `endpoint` or `delete`.
    #[serde(default)]
    pub deactivation: DeactivationMode,
    /// Most records the sidecar will list from the application to evaluate a filter the
    /// application cannot answer (default 10000); past it, 400 `tooMany`.
    #[serde(default)]
    pub max_scan: Option<usize>,
    /// Rhai script file, relative to the mapping file.
    #[serde(default)]
    pub script: Option<String>,
    /// Script functions called at fixed points: `to_app`, `from_app`.
    #[serde(default)]
    pub hooks: Hooks,
    /// SCIM attributes the hooks produce or read that no rule maps (e.g. a `displayName` computed
    /// by `from_app`): advertised in `/Schemas` and accepted in filters.
    #[serde(default)]
    pub script_attributes: Vec<String>,
    /// Reads one record: `path` uses `{id}` (required).
    pub get: Endpoint,
    /// Lists records, with paging (required).
    pub list: ListEndpoint,
    /// Creates a record (default method POST); absent = SCIM POST is refused.
    #[serde(default)]
    pub create: Option<Endpoint>,
    /// Updates a record (default method PUT); needed for PUT and PATCH of mapped attributes.
    #[serde(default)]
    pub update: Option<UpdateEndpoint>,
    /// Deletes a record (default method DELETE); absent = SCIM DELETE is refused.
    #[serde(default)]
    pub delete: Option<Endpoint>,
    /// With `deactivation = "endpoint"`: the call that deactivates a user (default POST).
    #[serde(default)]
    pub deactivate: Option<Endpoint>,
    /// With `deactivation = "endpoint"`: the call that reactivates a user (default POST).
    #[serde(default)]
    pub reactivate: Option<Endpoint>,
    /// Filters the application answers natively.
    #[serde(default, rename = "filter")]
    pub filters: Vec<FilterPushdown>,
    /// Attribute rules, in order.
    #[serde(default, rename = "attribute")]
    pub attributes: Vec<AttributeRule>,
    /// Groups only: where the application keeps membership.
    #[serde(default)]
    pub members: Option<MembersSection>,
    /// Custom extension schemas (`[[users.extension]]`), beyond the built-in ones.
    #[serde(default, rename = "extension")]
    pub extensions: Vec<ExtensionSchema>,
}

/// How the application stores group membership.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembersModel {
    /// An array of member ids inside the group record (`field`), written with the group's update.
    Record,
    /// Per-member endpoints: `list` the members, `add` one, `remove` one.
    Endpoints,
    /// Each user record holds its groups (`field` on the user: an array of group ids, or one
    /// group id with `single = true`), written with the users' update call.
    UserAttribute,
}

/// `[groups.members]`: the membership model and what it needs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersSection {
    /// Where membership lives: `record`, `endpoints` or `user_attribute`.
    pub model: MembersModel,
    /// `record`: path of the member array in the group record. `user_attribute`: path of the
    /// group id(s) in the user record.
    #[serde(default)]
    pub field: Option<String>,
    /// Member items are objects holding the user id at this path (e.g. `user_id`); absent: the
    /// items are plain ids. (`record` and `endpoints` models.)
    #[serde(default)]
    pub item_id: Option<String>,
    /// Path of a display name in each member item (with `display = true`).
    #[serde(default)]
    pub item_display: Option<String>,
    /// Fill `members[].display` with the member's name: from `item_display`, else from the
    /// users the sidecar has seen (never an extra call). Off by default: `display` is optional,
    /// and some clients and conformance checkers expect members exactly as they sent them.
    #[serde(default)]
    pub display: bool,
    /// How ids are written into bodies: `string` (default) or `number`.
    #[serde(default)]
    pub id_type: Option<AppType>,
    /// `endpoints`: the members listing (`{id}` is the group's application id).
    #[serde(default)]
    pub list: Option<ListEndpoint>,
    /// `endpoints`: adds one member (`{id}`, `{member}` = the user's application id).
    #[serde(default)]
    pub add: Option<MemberCall>,
    /// `endpoints`: removes one member (`{id}`, `{member}`).
    #[serde(default)]
    pub remove: Option<MemberCall>,
    /// `user_attribute`: narrows the users list to one group's members (`{id}` in `query` or
    /// `path`); without it the sidecar scans the users list (within `users.max_scan`).
    #[serde(default)]
    pub lookup: Option<MemberLookup>,
    /// `user_attribute`: the field holds one group id (e.g. a role), not an array.
    #[serde(default)]
    pub single: bool,
    /// `user_attribute` with `single`: the value written when a user leaves the group
    /// (default `null`), e.g. the default role.
    #[serde(default)]
    pub removed_value: Option<Value>,
}

/// A per-member call: an endpoint plus an optional JSON body template in which the strings
/// `"{id}"` and `"{member}"` are replaced by the ids (typed per `id_type`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberCall {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// JSON body template; the whole strings `"{id}"` and `"{member}"` are replaced.
    #[serde(default)]
    pub body: Option<Value>,
}

/// A narrowed users list for one group (`user_attribute` model).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberLookup {
    /// A users-list path for one group (`{id}` = the group's application id).
    #[serde(default)]
    pub path: Option<String>,
    /// Query parameters added to the users list (`{id}` = the group's application id).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
}

/// Names of Rhai functions in the resource's script, called at fixed points.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// `fn to_app(scim, app, ctx)` → the application payload, before create/update is sent.
    #[serde(default)]
    pub to_app: Option<String>,
    /// `fn from_app(app, scim, ctx)` → the SCIM resource, after a record is read.
    #[serde(default)]
    pub from_app: Option<String>,
}

/// One application call. `path` and `query` values are templates: `{id}` is the application id,
/// `{value}` a filter value; every substituted value is percent-encoded.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Default: GET for get/list, POST for create, DELETE for delete, POST for (de|re)activate.
    #[serde(default)]
    pub method: Option<String>,
    /// Path appended to `app.base_url`, e.g. `/api/users/{id}`; values are percent-encoded.
    pub path: String,
    /// Query parameters (templates), e.g. `{ page_size = "100" }`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Wrap the body sent: `wrap = "user"` sends `{"user": {...}}`.
    #[serde(default)]
    pub wrap: Option<String>,
    /// Where the record sits in the answer (dotted path; absent = the whole body). When the
    /// answer has no record (e.g. 204), the sidecar reads it back with `get`.
    #[serde(default)]
    pub record: Option<String>,
    /// Statuses that mean "no such record" (default `[404]`).
    #[serde(default)]
    pub not_found_status: Option<Vec<u16>>,
    /// Statuses that mean "already exists" (default `[409]`).
    #[serde(default)]
    pub conflict_status: Option<Vec<u16>>,
    /// Error answers told apart by their body (`[[users.create.errors]]`), tried in order
    /// before `not_found_status`, `conflict_status` and the generic translation.
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
}

/// One `[[….errors]]` entry: an application error answer, recognised by its status and body,
/// and the SCIM answer to give instead.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// The application's status (400–599).
    pub status: u16,
    /// Text the body must contain (ignoring case; the first 64 KiB are read).
    #[serde(default)]
    pub body_contains: Option<String>,
    /// A dotted path into the JSON body (`error.code`, `errors.0.code`) that must be present…
    #[serde(default)]
    pub field: Option<String>,
    /// …and, when given, equal to this string, number or boolean.
    #[serde(default)]
    pub equals: Option<Value>,
    /// The SCIM status to answer: 409 means "already exists" (as `conflict_status`), 404 "no
    /// such record" (as `not_found_status`); any other 4xx/5xx is answered as is.
    pub scim_status: u16,
    /// RFC 7644 `scimType` (`uniqueness` with 409, `sensitive` with 403, the others with 400).
    #[serde(default)]
    pub scim_type: Option<String>,
    /// The SCIM `detail` (never the application's body); not with 404 or 409, which have the
    /// sidecar's own.
    #[serde(default)]
    pub detail: Option<String>,
}

/// The update call, plus whether it takes a partial or a full record.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `full` (default): the sidecar sends the current record with the mapped fields changed
    /// (safe for PUT-replaces-everything APIs). `changes`: only the changed mapped fields.
    #[serde(default)]
    pub send: UpdateBody,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateBody {
    /// The current record with the mapped fields changed.
    #[default]
    Full,
    /// Only the changed mapped fields.
    Changes,
}

/// The list call and how the application pages.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// Where the array of records is (dotted path; absent = the body is the array).
    #[serde(default)]
    pub records: Option<String>,
    /// Where the total count is in the body (dotted path)…
    #[serde(default)]
    pub total: Option<String>,
    /// …or in a response header (`X-Total-Count`).
    #[serde(default)]
    pub total_header: Option<String>,
    /// How the application pages: `{ style = "page" }`, `{ style = "offset" }` or none.
    #[serde(default)]
    pub paging: Paging,
}

/// How the list call pages through the application's records.
#[derive(Debug, Clone, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// `page`, `offset` or `none` (default: one call returns everything).
    #[serde(default)]
    pub style: PagingStyle,
    /// `page` style: page number parameter (default `page`) and first page number (default 1).
    #[serde(default)]
    pub page_param: Option<String>,
    /// `page` style: number of the first page (default 1).
    #[serde(default)]
    pub first_page: Option<u64>,
    /// `offset` style: offset parameter (default `offset`), 0-based.
    #[serde(default)]
    pub offset_param: Option<String>,
    /// Page size parameter, both styles (default `per_page` / `limit`).
    #[serde(default)]
    pub size_param: Option<String>,
    /// Largest page the application serves (default 100).
    #[serde(default)]
    pub max_size: Option<usize>,
}

/// The paging style of the list call.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PagingStyle {
    /// Page numbers (`page_param`, `size_param`).
    Page,
    /// Offsets from 0 (`offset_param`, `size_param`).
    Offset,
    /// One call returns everything.
    #[default]
    None,
}

/// A filter the application answers natively: `attribute op "value"` becomes these query
/// parameters (or this path) on the list call. The sidecar still checks every returned record
/// against the full filter, so an application that matches loosely (substring, case) is safe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterPushdown {
    /// SCIM attribute path, e.g. `userName`, `externalId`, `emails[type eq "work"].value`.
    pub attribute: String,
    /// Operator (default `eq`).
    #[serde(default)]
    pub op: Option<String>,
    /// Query parameters added to the list call; `{value}` is the filter value.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Optional different path for this lookup (otherwise the list path).
    #[serde(default)]
    pub path: Option<String>,
}

/// One attribute rule: where a SCIM attribute lives in the application record, both directions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeRule {
    /// SCIM path: `userName`, `name.givenName`, `emails[type eq "work"].value`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`. Absent for a
    /// rule that only sets an application field (`constant` / `default`).
    #[serde(default)]
    pub scim: Option<String>,
    /// Application JSON path (dotted: `profile.first_name`).
    #[serde(default)]
    pub app: Option<String>,
    /// Kept by the sidecar's store instead of the application (e.g. `externalId`).
    #[serde(default)]
    pub store: bool,
    /// Value map, SCIM value (as text: `"true"`, `"Admin"`) → application value. Reading maps back;
    /// an application value with no entry is an error unless `map_default` says otherwise.
    #[serde(default)]
    pub map: Option<BTreeMap<String, Value>>,
    /// SCIM value for application values missing from `map` (checked against the SCIM type).
    #[serde(default)]
    pub map_default: Option<Value>,
    /// Application value used when the SCIM attribute is absent on create (and on a PUT that
    /// omits it). In a rule without `scim`, written on create only.
    #[serde(default)]
    pub default: Option<Value>,
    /// Application value always sent, whatever SCIM says (no `scim` needed).
    #[serde(default)]
    pub constant: Option<Value>,
    /// Only read from the application, never sent.
    #[serde(default)]
    pub read_only: bool,
    /// Only sent to the application, never read back (e.g. `password`).
    #[serde(default)]
    pub write_only: bool,
    /// May be set on create (or while unset); a later change is refused with 400 `mutability`.
    #[serde(default)]
    pub immutable: bool,
    /// The application always holds a value (e.g. `active` backed by a status field): advertised
    /// as `required` in `/Schemas`, so clients do not expect to be able to remove it.
    #[serde(default)]
    pub required: bool,
    /// Convert the application value: `string`, `number`, `boolean` (e.g. numeric ids).
    #[serde(default)]
    pub app_type: Option<AppType>,
}

/// A JSON type in the application's records.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppType {
    /// JSON string.
    String,
    /// JSON number.
    Number,
    /// JSON `true` / `false`.
    Boolean,
}

/// A custom extension schema a client may send (`[[users.extension]]`): e.g. Okta's or Entra's
/// `urn:ietf:params:scim:schemas:extension:acme:2.0:User`. Its attributes become SCIM attributes
/// like the enterprise extension's: rules, filters, PATCH paths, `/Schemas`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionSchema {
    /// The schema URN (`urn:ietf:params:scim:schemas:extension:acme:2.0:User`).
    pub schema: String,
    /// Human-readable name in `/Schemas` (optional there too).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `schemaExtensions[].required` in `/ResourceTypes`.
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "attribute")]
    pub attributes: Vec<ExtensionAttribute>,
}

/// One attribute of a custom extension schema (RFC 7643 §7 characteristics).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionAttribute {
    pub name: String,
    /// Default `string`.
    #[serde(default, rename = "type")]
    pub ty: ExtensionAttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: ExtensionMutability,
    #[serde(default)]
    pub returned: ExtensionReturned,
    #[serde(default)]
    pub uniqueness: ExtensionUniqueness,
    #[serde(default)]
    pub description: Option<String>,
    /// Suggested values (`string` attributes).
    #[serde(default)]
    pub canonical_values: Vec<String>,
    /// What a `reference` points to: `external`, `uri`, `User`, `Group`.
    #[serde(default)]
    pub reference_types: Vec<String>,
    /// The sub-attributes of a `complex` attribute (`[[users.extension.attribute.sub_attribute]]`).
    #[serde(default, rename = "sub_attribute")]
    pub sub_attributes: Vec<ExtensionAttribute>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExtensionAttrType {
    #[default]
    String,
    Boolean,
    Integer,
    Decimal,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExtensionMutability {
    #[default]
    ReadWrite,
    ReadOnly,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExtensionReturned {
    #[default]
    Default,
    Always,
    Never,
    Request,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ExtensionUniqueness {
    #[default]
    None,
    Server,
    Global,
}

#[cfg(test)]
mod tests {
    /// The checked-in schema is what the types generate: it cannot drift.
    #[test]
    fn checked_in_schema_is_current() {
        let checked_in = include_str!("../../mappings/mapping.schema.json");
        assert!(
            checked_in == super::json_schema(),
            "mappings/mapping.schema.json is out of date with src/mapping/model.rs; regenerate it \
             with `cargo run -- schema > mappings/mapping.schema.json`"
        );
    }

    #[test]
    fn schema_describes_keys_and_names_enum_values() {
        let schema: serde_json::Value = serde_json::from_str(&super::json_schema()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert!(
            schema["properties"]["users"]["description"]
                .as_str()
                .unwrap()
                .contains("`/Users`")
        );
        let rule = &schema["definitions"]["AttributeRule"];
        assert_eq!(
            rule["additionalProperties"], false,
            "unknown keys are flagged"
        );
        assert!(rule["properties"]["map"]["description"].is_string());
        let ids = serde_json::to_string(&schema["definitions"]["IdMode"]).unwrap();
        assert!(ids.contains("\"minted\""), "{ids}");
    }
}
