//! Loads a mapping file and its scripts and checks everything, collecting every problem instead
//! of stopping at the first, each located as `file:line:column: key: message`.
//!
//! [`super::shape`] reads the TOML part by part and reports every syntax or shape error (unknown
//! keys, wrong types, missing keys); when the shape is right, everything else (values, templates,
//! rules, scripts, combinations of settings) is checked in full. Each problem names its key path
//! (`users.attribute[3].scim`, list entries numbered from 1 in file order), which
//! [`super::diagnostics::Locator`] finds in the text; a key that is absent points at the nearest
//! enclosing table. Script syntax errors keep the script's own file, line and column. Warnings
//! (settings that do nothing, attributes advertised that nothing fills) never stop a load.

use crate::mapping::diagnostics::{Locator, Problem, Severity, line_column};
use crate::mapping::errors::ErrorRule;
use crate::mapping::json_path::JsonPath;
use crate::mapping::model::{self, DeactivationMode, IdMode, PagingStyle};
use crate::mapping::rules::Rules;
use crate::mapping::script::{Script, ScriptLimits};
use crate::mapping::template::Template;
use crate::mapping::{
    AppSettings, Endpoint, Hooks, ListEndpoint, Mapping, MemberCall, MemberItems, MemberLookup,
    Membership, Paging, Pushdown, ResourceMapping,
};
use crate::scim::ResourceKind;
use crate::scim::filter::{AttrPath, CompareOp, parse_path};
use crate::scim::schema::ResourceSchema;
use crate::secret::Secret;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Every error found while loading a mapping (`file:line:column: key: message`), one per line
/// when displayed. Warnings are not included (see [`check_mapping_str`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub problems: Vec<String>,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// A mapping checked in full: the mapping when there is no error, and every problem found
/// (errors and warnings), in the order they were found.
#[derive(Debug)]
pub struct Checked {
    pub mapping: Option<Mapping>,
    pub problems: Vec<Problem>,
}

impl Checked {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
    }

    /// The mapping, or its errors (warnings dropped).
    pub fn into_result(self) -> Result<Mapping, LoadError> {
        match self.mapping {
            Some(m) => Ok(m),
            None => Err(LoadError {
                problems: self
                    .problems
                    .iter()
                    .filter(|p| p.severity == Severity::Error)
                    .map(Problem::to_string)
                    .collect(),
            }),
        }
    }
}

const DEFAULT_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
const DEFAULT_RETRIES: u32 = 2;
const DEFAULT_MAX_SCAN: usize = 10_000;
const DEFAULT_PAGE_SIZE: usize = 100;
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Reads and compiles the mapping at `path` (scripts are resolved relative to it).
/// `base_url_override` is the config's `app.base_url`, if any.
pub fn load_mapping(path: &Path, base_url_override: Option<&str>) -> Result<Mapping, LoadError> {
    check_mapping(path, base_url_override).into_result()
}

/// As [`load_mapping`], keeping warnings and the located problems.
pub fn check_mapping(path: &Path, base_url_override: Option<&str>) -> Checked {
    match std::fs::read_to_string(path) {
        Ok(text) => check_mapping_str(&text, path, base_url_override, &|p| {
            std::fs::read_to_string(p)
        }),
        Err(e) => Checked {
            mapping: None,
            problems: vec![Problem {
                severity: Severity::Error,
                file: path.display().to_string(),
                at: None,
                key: None,
                message: format!("cannot read: {e}"),
            }],
        },
    }
}

/// Compiles a mapping from text; `read` loads scripts (so the demo can embed its files).
pub fn load_mapping_str(
    text: &str,
    path: &Path,
    base_url_override: Option<&str>,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Mapping, LoadError> {
    check_mapping_str(text, path, base_url_override, read).into_result()
}

/// Checks a mapping from text, reporting every problem (errors and warnings) located.
pub fn check_mapping_str(
    text: &str,
    path: &Path,
    base_url_override: Option<&str>,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Checked {
    let display = path.display().to_string();
    let locator = Locator::new(text);
    let file = match super::shape::read(text) {
        Ok(f) => f,
        Err(shape) => {
            let problems = shape
                .into_iter()
                .map(|p| Problem {
                    severity: Severity::Error,
                    file: display.clone(),
                    at: p
                        .offset
                        .map(|o| line_column(text, o))
                        .or_else(|| p.key.as_deref().and_then(|k| locator.locate(k))),
                    key: p.key,
                    message: p.message,
                })
                .collect();
            return Checked {
                mapping: None,
                problems,
            };
        }
    };
    let mut c = Checker {
        problems: Vec::new(),
    };
    if file.version != 1 {
        c.problem(
            "version",
            format!("unsupported version {}; only 1 exists", file.version),
        );
    }
    let app = c.app(&file.app, base_url_override);
    let users = c.resource(ResourceKind::User, "users", &file.users, path, read);
    let groups = file
        .groups
        .as_ref()
        .map(|g| c.resource(ResourceKind::Group, "groups", g, path, read));
    if let (Some(Some(g)), Some(u)) = (&groups, &users)
        && matches!(g.members, Some(Membership::UserAttribute { .. }))
        && u.update.is_none()
    {
        c.problem(
            "groups.members.model",
            "\"user_attribute\" writes membership with the users' update call: add `users.update`"
                .into(),
        );
    }
    if let Some(g) = &file.groups {
        let shared = super::extensions::shared(&file.users.extensions, &g.extensions);
        c.keyed(shared);
    }
    let ok = c.errors() == 0;
    let problems = c
        .problems
        .into_iter()
        .map(|f| {
            let (file, at) = match f.elsewhere {
                Some((file, at)) => (file, at),
                None if f.key.contains(" (") => (display.clone(), None),
                None => (display.clone(), locator.locate(&f.key)),
            };
            Problem {
                severity: f.severity,
                file,
                at,
                key: Some(f.key),
                message: f.message,
            }
        })
        .collect();
    let mapping = match (app, users, groups) {
        (Some(app), Some(users), None) if ok => Some(Mapping {
            app,
            users,
            groups: None,
        }),
        (Some(app), Some(users), Some(Some(groups))) if ok => Some(Mapping {
            app,
            users,
            groups: Some(groups),
        }),
        _ => None,
    };
    Checked { mapping, problems }
}

/// One problem as the checks find it: the key it concerns, and for a problem located in another
/// file (a script), that file and position.
struct Found {
    severity: Severity,
    key: String,
    message: String,
    elsewhere: Option<(String, Option<(usize, usize)>)>,
}

/// Collects problems by key.
struct Checker {
    problems: Vec<Found>,
}

/// Which template variables an endpoint may use.
const ID_VARS: &[&str] = &["id"];
const NO_VARS: &[&str] = &[];
const VALUE_VARS: &[&str] = &["value"];
const MEMBER_VARS: &[&str] = &["id", "member"];

impl Checker {
    fn problem(&mut self, key: &str, message: String) {
        self.push(Severity::Error, key, message);
    }

    /// Problems found by a checker of its own (custom extension declarations).
    fn keyed(&mut self, problems: Vec<super::extensions::Problem>) {
        for (key, message) in problems {
            self.problem(&key, message);
        }
    }

    fn warning(&mut self, key: &str, message: String) {
        self.push(Severity::Warning, key, message);
    }

    fn push(&mut self, severity: Severity, key: &str, message: String) {
        self.problems.push(Found {
            severity,
            key: key.to_string(),
            message,
            elsewhere: None,
        });
    }

    /// Errors so far (a section compiles only if it added none).
    fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    fn app(&mut self, raw: &model::AppSection, base_override: Option<&str>) -> Option<AppSettings> {
        let before = self.errors();
        let base_url = match base_override.or(raw.base_url.as_deref()) {
            None => {
                self.problem(
                    "app.base_url",
                    "required (in the mapping file or the config's `app.base_url`)".into(),
                );
                String::new()
            }
            Some(url) => match check_base_url(url) {
                Ok(u) => u,
                Err(m) => {
                    let key = if base_override.is_some() {
                        "app.base_url (from the configuration)"
                    } else {
                        "app.base_url"
                    };
                    self.problem(key, m);
                    String::new()
                }
            },
        };

        let mut headers = Vec::new();
        if let Some(auth) = &raw.auth {
            let name_ok = self.header_name("app.auth.header", &auth.header);
            match auth.secret.resolve() {
                Err(m) => self.problem("app.auth.secret", m),
                Ok(secret) => {
                    let value = format!("{}{}", auth.prefix, secret.expose());
                    if http::HeaderValue::from_str(&value).is_err() {
                        // Never echo the value: it holds the secret.
                        self.problem(
                            "app.auth",
                            "the prefix and secret do not form a valid HTTP header value \
                             (control characters or non-ASCII text?)"
                                .into(),
                        );
                    } else if name_ok {
                        headers.push((auth.header.clone(), Secret::new(value), true));
                    }
                }
            }
        }
        for (name, value) in &raw.headers {
            let key = format!("app.headers.{name}");
            let name_ok = self.header_name(&key, name);
            if http::HeaderValue::from_str(value).is_err() {
                self.problem(
                    &key,
                    "not a valid HTTP header value (control characters or non-ASCII text?)".into(),
                );
            } else if name_ok {
                headers.push((name.clone(), Secret::new(value.clone()), false));
            }
        }
        if let (Some(auth), true) = (&raw.auth, !raw.headers.is_empty())
            && raw
                .headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case(&auth.header))
        {
            self.problem(
                "app.headers",
                format!("`{}` is already set by `app.auth`", auth.header),
            );
        }

        let timeout = self.positive_ms("app.timeout_ms", raw.timeout_ms, DEFAULT_TIMEOUT_MS);
        let connect_timeout = self.positive_ms(
            "app.connect_timeout_ms",
            raw.connect_timeout_ms,
            DEFAULT_CONNECT_TIMEOUT_MS,
        );
        (self.errors() == before).then_some(AppSettings {
            base_url,
            headers,
            timeout,
            connect_timeout,
            retries: raw.retries.unwrap_or(DEFAULT_RETRIES),
        })
    }

    fn header_name(&mut self, key: &str, name: &str) -> bool {
        let ok = http::HeaderName::from_bytes(name.as_bytes()).is_ok();
        if !ok {
            self.problem(key, format!("\"{name}\" is not a valid HTTP header name"));
        }
        ok
    }

    fn positive_ms(&mut self, key: &str, value: Option<u64>, default: u64) -> Duration {
        match value {
            Some(0) => {
                self.problem(key, "must be greater than 0".into());
                Duration::ZERO
            }
            v => Duration::from_millis(v.unwrap_or(default)),
        }
    }

    fn resource(
        &mut self,
        kind: ResourceKind,
        section: &str,
        raw: &model::ResourceSection,
        file: &Path,
        read: &dyn Fn(&Path) -> std::io::Result<String>,
    ) -> Option<ResourceMapping> {
        let before = self.errors();
        let id_field = self.json_path(
            &format!("{section}.id_field"),
            raw.id_field.as_deref().unwrap_or("id"),
            false,
        );
        let max_scan = raw.max_scan.unwrap_or(DEFAULT_MAX_SCAN);
        if max_scan == 0 {
            self.problem(&format!("{section}.max_scan"), "must be at least 1".into());
        }

        let get = self.endpoint(&format!("{section}.get"), &raw.get, "GET", ID_VARS);
        let list = self.list_endpoint(&format!("{section}.list"), &raw.list, NO_VARS);
        let create = raw
            .create
            .as_ref()
            .and_then(|e| self.endpoint(&format!("{section}.create"), e, "POST", NO_VARS));
        let update = raw.update.as_ref().and_then(|u| {
            self.endpoint(&format!("{section}.update"), &u.endpoint, "PUT", ID_VARS)
                .map(|e| (e, u.send))
        });
        let delete = raw
            .delete
            .as_ref()
            .and_then(|e| self.endpoint(&format!("{section}.delete"), e, "DELETE", ID_VARS));
        let deactivate = raw
            .deactivate
            .as_ref()
            .and_then(|e| self.endpoint(&format!("{section}.deactivate"), e, "POST", ID_VARS));
        let reactivate = raw
            .reactivate
            .as_ref()
            .and_then(|e| self.endpoint(&format!("{section}.reactivate"), e, "POST", ID_VARS));

        let mut found = Vec::new();
        let declared = super::extensions::check(section, &raw.extensions, &mut found);
        self.keyed(found);
        let schema = ResourceSchema::with_extensions(kind, &declared);

        let mut pushdowns = Vec::new();
        for (i, f) in raw.filters.iter().enumerate() {
            if let Some(p) = self.pushdown(&format!("{section}.filter[{}]", i + 1), schema, f) {
                pushdowns.push(p);
            }
        }

        let rules = match Rules::compile_in(schema, &raw.attributes) {
            Ok(r) => Some(r),
            Err(problems) => {
                for p in problems {
                    // Rules report `key: message`; their keys never hold ": ".
                    match p.split_once(": ") {
                        Some((key, message)) => self.problem(key, message.to_string()),
                        None => self.problem(&format!("{section}.attribute"), p),
                    }
                }
                None
            }
        };

        // Semantics that tie settings together.
        let key = format!("{section}.deactivation");
        match raw.deactivation {
            DeactivationMode::Field => {}
            DeactivationMode::Endpoint => {
                if raw.deactivate.is_none() || raw.reactivate.is_none() {
                    self.problem(
                        &key,
                        format!(
                            "\"endpoint\" needs `{section}.deactivate` and `{section}.reactivate`"
                        ),
                    );
                }
                let writable_active = raw.attributes.iter().any(|a| {
                    a.scim
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case("active"))
                        && !a.read_only
                });
                if writable_active {
                    self.problem(
                        &key,
                        "with \"endpoint\", the `active` rule must be `read_only = true` \
                         (the endpoints change it)"
                            .into(),
                    );
                }
            }
            DeactivationMode::Delete => {
                if raw.ids != IdMode::Minted {
                    self.problem(
                        &key,
                        format!(
                            "\"delete\" needs `{section}.ids = \"minted\"` (the SCIM id must outlive the record)"
                        ),
                    );
                }
                if raw.delete.is_none() || raw.create.is_none() {
                    self.problem(
                        &key,
                        format!(
                            "\"delete\" needs `{section}.delete` and `{section}.create` (reactivation re-creates the record)"
                        ),
                    );
                }
            }
        }

        let members = self.kind_specific(kind, section, raw);
        let hooks = self.hooks(section, raw, file, read);
        self.unused(kind, section, raw);

        if self.errors() > before {
            return None;
        }
        let mut script_attributes = Vec::new();
        for (i, text) in raw.script_attributes.iter().enumerate() {
            let key = format!("{section}.script_attributes[{}]", i + 1);
            match crate::scim::filter::parse_attr_path(text) {
                Ok(path)
                    if schema
                        .find_attr(path.urn.as_deref(), &path.name, path.sub.as_deref())
                        .is_some() =>
                {
                    script_attributes.push(path)
                }
                Ok(_) => self.problem(&key, format!("unknown SCIM attribute {text:?}")),
                Err(e) => self.problem(&key, e.to_string()),
            }
        }
        let rules = rules?;
        let mut used = rules.advertised();
        used.extend(script_attributes.iter().cloned());
        let unused = super::extensions::unused(section, schema, &declared, &used);
        // After a bad `script_attributes` entry, "unused" could be a consequence: say nothing.
        if self.errors() == before && !unused.is_empty() {
            self.keyed(unused);
            return None;
        }
        Some(ResourceMapping {
            schema,
            script_attributes,
            kind,
            ids: raw.ids,
            id_field: id_field?,
            on_duplicate: raw.on_duplicate,
            check_duplicates: raw.check_duplicates,
            deactivation: raw.deactivation,
            max_scan,
            get: get?,
            list: list?,
            create,
            update,
            delete,
            deactivate,
            reactivate,
            pushdowns,
            rules,
            hooks,
            member_display: raw.members.as_ref().is_some_and(|m| m.display),
            members,
        })
    }

    /// Warnings: settings that load but do nothing, and what is advertised but cannot work.
    fn unused(&mut self, kind: ResourceKind, section: &str, raw: &model::ResourceSection) {
        if kind == ResourceKind::User && raw.deactivation == DeactivationMode::Field {
            for (name, given) in [
                ("deactivate", raw.deactivate.is_some()),
                ("reactivate", raw.reactivate.is_some()),
            ] {
                if given {
                    self.warning(
                        &format!("{section}.{name}"),
                        format!(
                            "never called with deactivation = \"field\" \
                             (set `{section}.deactivation = \"endpoint\"` to use it)"
                        ),
                    );
                }
            }
        }
        if !raw.script_attributes.is_empty() && raw.hooks.from_app.is_none() {
            self.warning(
                &format!("{section}.script_attributes"),
                format!(
                    "advertised in /Schemas, but without `{section}.hooks.from_app` nothing \
                     fills them"
                ),
            );
        }
        let writable = raw.attributes.iter().any(|a| {
            !a.read_only
                && !a.store
                && a.app.is_some()
                && a.scim.is_some()
                && !(raw.deactivation == DeactivationMode::Endpoint
                    && a.scim
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case("active")))
        });
        if raw.update.is_none() && writable {
            self.warning(
                &format!("{section}.update"),
                "absent: mapped attributes can be set on create but a later PUT or PATCH that \
                 changes them is refused (add an update call, or mark the rules `read_only`)"
                    .into(),
            );
        }
    }

    /// What only users or only groups may (or must) say; compiles `[groups.members]`.
    fn kind_specific(
        &mut self,
        kind: ResourceKind,
        section: &str,
        raw: &model::ResourceSection,
    ) -> Option<Membership> {
        let rule_on = |name: &str| {
            raw.attributes.iter().any(|a| {
                a.scim.as_deref().is_some_and(|s| {
                    s.eq_ignore_ascii_case(name)
                        || s.to_ascii_lowercase()
                            .starts_with(&format!("{}.", name.to_ascii_lowercase()))
                        || s.to_ascii_lowercase()
                            .starts_with(&format!("{}[", name.to_ascii_lowercase()))
                })
            })
        };
        match kind {
            ResourceKind::User => {
                if raw.members.is_some() {
                    self.problem(
                        &format!("{section}.members"),
                        "only groups have members (put it under `[groups.members]`)".into(),
                    );
                }
                if rule_on("groups") {
                    self.problem(
                        &format!("{section}.attribute"),
                        "a user's `groups` is read-only and filled from `[groups.members]`; \
                         remove the rule"
                            .into(),
                    );
                }
                None
            }
            ResourceKind::Group => {
                if raw.deactivation != DeactivationMode::Field
                    || raw.deactivate.is_some()
                    || raw.reactivate.is_some()
                {
                    self.problem(
                        &format!("{section}.deactivation"),
                        "groups have no `active` state: remove deactivation, deactivate and \
                         reactivate"
                            .into(),
                    );
                }
                if rule_on("members") {
                    self.problem(
                        &format!("{section}.attribute"),
                        "membership is declared in `[groups.members]`, not by an attribute rule"
                            .into(),
                    );
                }
                let named = rule_on("displayName")
                    || raw
                        .script_attributes
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case("displayName"));
                if !named {
                    self.problem(
                        &format!("{section}.attribute"),
                        "a rule for `displayName` is required".into(),
                    );
                }
                let m = raw.members.as_ref()?;
                self.members(&format!("{section}.members"), m, raw)
            }
        }
    }

    fn members(
        &mut self,
        key: &str,
        m: &model::MembersSection,
        raw: &model::ResourceSection,
    ) -> Option<Membership> {
        use model::MembersModel;
        let before = self.errors();
        let name = match m.model {
            MembersModel::Record => "record",
            MembersModel::Endpoints => "endpoints",
            MembersModel::UserAttribute => "user_attribute",
        };
        // Keys that belong to other models are mistakes worth naming.
        let unused = format!("not used with model = \"{name}\"");
        let given = [
            ("field", m.field.is_some()),
            ("list", m.list.is_some()),
            ("add", m.add.is_some()),
            ("remove", m.remove.is_some()),
            ("lookup", m.lookup.is_some()),
            ("single", m.single),
            ("removed_value", m.removed_value.is_some()),
            ("item_id", m.item_id.is_some()),
            ("item_display", m.item_display.is_some()),
        ];
        let allowed: &[&str] = match m.model {
            MembersModel::Record => &["field", "item_id", "item_display"],
            MembersModel::Endpoints => &["list", "add", "remove", "item_id", "item_display"],
            // (`display` applies to every model.)
            MembersModel::UserAttribute => &["field", "lookup", "single", "removed_value"],
        };
        for (k, set) in given {
            if set && !allowed.contains(&k) {
                self.problem(&format!("{key}.{k}"), unused.clone());
            }
        }
        if m.item_display.is_some() && !m.display {
            self.problem(
                &format!("{key}.item_display"),
                "only used with `display = true`".into(),
            );
        }
        let items = MemberItems {
            id: m
                .item_id
                .as_deref()
                .and_then(|p| self.json_path(&format!("{key}.item_id"), p, false)),
            display: m
                .item_display
                .as_deref()
                .and_then(|p| self.json_path(&format!("{key}.item_display"), p, false)),
            id_type: m.id_type,
        };
        if m.id_type == Some(model::AppType::Boolean) {
            self.problem(
                &format!("{key}.id_type"),
                "expected \"string\" or \"number\"".into(),
            );
        }
        let mut field = || match &m.field {
            Some(f) => self.json_path(&format!("{key}.field"), f, false),
            None => {
                self.problem(
                    &format!("{key}.field"),
                    format!("model = \"{name}\" needs `field`"),
                );
                None
            }
        };
        let out = match m.model {
            MembersModel::Record => {
                let field = field();
                if raw.update.is_none() {
                    self.problem(
                        &format!("{key}.model"),
                        "\"record\" writes membership with the group's update call: add \
                         `groups.update`"
                            .into(),
                    );
                }
                field.map(|field| Membership::Record { field, items })
            }
            MembersModel::UserAttribute => {
                let field = field();
                let lookup = m.lookup.as_ref().map(|l| {
                    let lk = format!("{key}.lookup");
                    let path = l
                        .path
                        .as_deref()
                        .and_then(|p| self.path_template(&format!("{lk}.path"), p, ID_VARS));
                    let query = self.query(&format!("{lk}.query"), &l.query, ID_VARS);
                    let uses_id = path
                        .iter()
                        .chain(query.iter().map(|(_, t)| t))
                        .any(|t| t.vars().any(|v| v == "id"));
                    if !uses_id {
                        self.problem(&lk, "neither `path` nor `query` uses {id}".into());
                    }
                    MemberLookup { path, query }
                });
                if m.removed_value.is_some() && !m.single {
                    self.problem(
                        &format!("{key}.removed_value"),
                        "only used with `single = true` (an array just loses the id)".into(),
                    );
                }
                field.map(|field| Membership::UserAttribute {
                    field,
                    single: m.single,
                    removed_value: m.removed_value.clone().unwrap_or(Value::Null),
                    id_type: m.id_type,
                    lookup,
                })
            }
            MembersModel::Endpoints => {
                let mut need = |k: &str, present: bool| {
                    if !present {
                        self.problem(
                            &format!("{key}.{k}"),
                            "model = \"endpoints\" needs `list`, `add` and `remove`".into(),
                        );
                    }
                };
                need("list", m.list.is_some());
                need("add", m.add.is_some());
                need("remove", m.remove.is_some());
                let list = m
                    .list
                    .as_ref()
                    .and_then(|l| self.list_endpoint(&format!("{key}.list"), l, ID_VARS));
                let add = m
                    .add
                    .as_ref()
                    .and_then(|c| self.member_call(&format!("{key}.add"), c, "POST"));
                let remove = m
                    .remove
                    .as_ref()
                    .and_then(|c| self.member_call(&format!("{key}.remove"), c, "DELETE"));
                match (list, add, remove) {
                    (Some(list), Some(add), Some(remove)) => Some(Membership::Endpoints {
                        list,
                        items,
                        add,
                        remove,
                    }),
                    _ => None,
                }
            }
        };
        if self.errors() > before {
            return None;
        }
        out
    }

    fn member_call(
        &mut self,
        key: &str,
        raw: &model::MemberCall,
        default_method: &str,
    ) -> Option<MemberCall> {
        let endpoint = self.endpoint(key, &raw.endpoint, default_method, MEMBER_VARS);
        if let Some(body) = &raw.body {
            let mut bad = Vec::new();
            body_placeholders(body, &mut bad);
            for text in bad {
                self.problem(
                    &format!("{key}.body"),
                    format!(
                        "{text:?}: only the whole strings \"{{id}}\" and \"{{member}}\" are replaced in a body"
                    ),
                );
            }
        }
        Some(MemberCall {
            endpoint: endpoint?,
            body: raw.body.clone(),
        })
    }

    fn json_path(&mut self, key: &str, text: &str, root_ok: bool) -> Option<JsonPath> {
        if text.is_empty() && !root_ok {
            self.problem(key, "must not be empty".into());
            return None;
        }
        match JsonPath::parse(text) {
            Ok(p) => Some(p),
            Err(m) => {
                self.problem(key, m);
                None
            }
        }
    }

    fn endpoint(
        &mut self,
        key: &str,
        raw: &model::Endpoint,
        default_method: &str,
        vars: &[&str],
    ) -> Option<Endpoint> {
        let before = self.errors();
        let method_text = raw.method.as_deref().unwrap_or(default_method);
        let upper = method_text.to_ascii_uppercase();
        let method = if METHODS.contains(&upper.as_str()) {
            http::Method::from_bytes(upper.as_bytes()).ok()
        } else {
            None
        };
        if method.is_none() {
            self.problem(
                &format!("{key}.method"),
                format!(
                    "unknown method \"{method_text}\"; expected one of {}",
                    METHODS.join(", ")
                ),
            );
        }
        let path = self.path_template(&format!("{key}.path"), &raw.path, vars);
        let query = self.query(&format!("{key}.query"), &raw.query, vars);
        if let Some(w) = &raw.wrap
            && w.is_empty()
        {
            self.problem(&format!("{key}.wrap"), "must not be empty".into());
        }
        let record = raw
            .record
            .as_deref()
            .and_then(|r| self.json_path(&format!("{key}.record"), r, false));
        let not_found_status = self.statuses(
            &format!("{key}.not_found_status"),
            &raw.not_found_status,
            404,
        );
        let conflict_status =
            self.statuses(&format!("{key}.conflict_status"), &raw.conflict_status, 409);
        let errors = self.error_rules(&format!("{key}.errors"), &raw.errors);
        if self.errors() > before {
            return None;
        }
        Some(Endpoint {
            method: method?,
            path: path?,
            query,
            wrap: raw.wrap.clone(),
            record,
            not_found_status,
            conflict_status,
            errors,
        })
    }

    /// `[[….errors]]` entries (see [`crate::mapping::errors`]).
    fn error_rules(&mut self, key: &str, raw: &[model::ErrorRule]) -> Vec<ErrorRule> {
        let (rules, problems) = crate::mapping::errors::compile(key, raw);
        for (k, m) in problems {
            self.problem(&k, m);
        }
        rules
    }

    fn path_template(&mut self, key: &str, text: &str, vars: &[&str]) -> Option<Template> {
        if !text.starts_with('/') {
            self.problem(
                key,
                format!("\"{text}\" must start with `/` (it is appended to `app.base_url`)"),
            );
            return None;
        }
        match Template::parse(text, vars) {
            Err(m) => {
                self.problem(key, m);
                None
            }
            Ok(t) => {
                let bad = t.literals().flat_map(str::chars).find(|c| {
                    !c.is_ascii_graphic() || matches!(c, '?' | '#' | '"' | '<' | '>' | '\\' | '`')
                });
                match bad {
                    Some(c) => {
                        let hint = if c == '?' {
                            "; put query parameters in `query`"
                        } else {
                            ""
                        };
                        self.problem(
                            key,
                            format!("contains {c:?}, which cannot appear in a URL path{hint}"),
                        );
                        None
                    }
                    None => Some(t),
                }
            }
        }
    }

    fn query(
        &mut self,
        key: &str,
        raw: &std::collections::BTreeMap<String, String>,
        vars: &[&str],
    ) -> Vec<(String, Template)> {
        let mut out = Vec::new();
        for (name, value) in raw {
            let k = format!("{key}.{name}");
            if name.is_empty() {
                self.problem(key, "a parameter name is empty".into());
                continue;
            }
            match Template::parse(value, vars) {
                Err(m) => self.problem(&k, m),
                Ok(t) => {
                    let bad = t.literals().flat_map(str::chars).find(|c| {
                        !c.is_ascii_graphic() || matches!(c, '&' | '#' | '"' | '<' | '>' | '\\')
                    });
                    match bad {
                        Some(c) => self.problem(
                            &k,
                            format!(
                                "contains {c:?}, which cannot appear in a query value as written"
                            ),
                        ),
                        None => out.push((name.clone(), t)),
                    }
                }
            }
        }
        out
    }

    fn statuses(&mut self, key: &str, raw: &Option<Vec<u16>>, default: u16) -> Vec<u16> {
        match raw {
            None => vec![default],
            Some(list) => {
                for s in list {
                    if !(100..=599).contains(s) {
                        self.problem(key, format!("{s} is not an HTTP status"));
                    }
                }
                list.clone()
            }
        }
    }

    fn list_endpoint(
        &mut self,
        key: &str,
        raw: &model::ListEndpoint,
        vars: &[&str],
    ) -> Option<ListEndpoint> {
        let before = self.errors();
        let endpoint = self.endpoint(key, &raw.endpoint, "GET", vars);
        let records = raw
            .records
            .as_deref()
            .and_then(|r| self.json_path(&format!("{key}.records"), r, false));
        let total = raw
            .total
            .as_deref()
            .and_then(|r| self.json_path(&format!("{key}.total"), r, false));
        if let Some(h) = &raw.total_header {
            self.header_name(&format!("{key}.total_header"), h);
        }
        if raw.total.is_some() && raw.total_header.is_some() {
            self.problem(
                &format!("{key}.total_header"),
                "give `total` or `total_header`, not both".into(),
            );
        }
        let p = &raw.paging;
        let pk = format!("{key}.paging");
        let max_size = p.max_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if max_size == 0 {
            self.problem(&format!("{pk}.max_size"), "must be at least 1".into());
        }
        let mut param = |name: &str, value: &Option<String>, default: &str, used: bool| {
            if !used {
                if value.is_some() {
                    self.problem(
                        &format!("{pk}.{name}"),
                        format!("not used with style = \"{}\"", style_name(p.style)),
                    );
                }
                return String::new();
            }
            let v = value.clone().unwrap_or_else(|| default.to_string());
            if v.is_empty() {
                self.problem(&format!("{pk}.{name}"), "must not be empty".into());
            }
            v
        };
        let paging = match p.style {
            PagingStyle::Page => {
                let page_param = param("page_param", &p.page_param, "page", true);
                let size_param = param("size_param", &p.size_param, "per_page", true);
                param("offset_param", &p.offset_param, "", false);
                Paging::Page {
                    page_param,
                    size_param,
                    first_page: p.first_page.unwrap_or(1),
                    max_size,
                }
            }
            PagingStyle::Offset => {
                let offset_param = param("offset_param", &p.offset_param, "offset", true);
                let size_param = param("size_param", &p.size_param, "limit", true);
                param("page_param", &p.page_param, "", false);
                if p.first_page.is_some() {
                    self.problem(
                        &format!("{pk}.first_page"),
                        "not used with style = \"offset\" (offsets start at 0)".into(),
                    );
                }
                Paging::Offset {
                    offset_param,
                    size_param,
                    max_size,
                }
            }
            PagingStyle::None => {
                for (name, set) in [
                    ("page_param", p.page_param.is_some()),
                    ("offset_param", p.offset_param.is_some()),
                    ("size_param", p.size_param.is_some()),
                    ("first_page", p.first_page.is_some()),
                    ("max_size", p.max_size.is_some()),
                ] {
                    if set {
                        self.problem(
                            &format!("{pk}.{name}"),
                            "not used with style = \"none\" (set `style`)".into(),
                        );
                    }
                }
                Paging::None
            }
        };
        if self.errors() > before {
            return None;
        }
        Some(ListEndpoint {
            endpoint: endpoint?,
            records,
            total,
            total_header: raw.total_header.clone(),
            paging,
        })
    }

    fn pushdown(
        &mut self,
        key: &str,
        schema: &ResourceSchema,
        raw: &model::FilterPushdown,
    ) -> Option<Pushdown> {
        let before = self.errors();
        let mut attribute = None;
        let mut value_path = None;
        match parse_path(&raw.attribute) {
            Err(e) => self.problem(
                &format!("{key}.attribute"),
                format!("\"{}\": {}", raw.attribute, e.detail()),
            ),
            Ok(pp) => {
                let sub = pp.attr.sub.clone().or_else(|| pp.sub.clone());
                let plain = AttrPath {
                    urn: pp.attr.urn.clone(),
                    name: pp.attr.name.clone(),
                    sub,
                };
                if schema
                    .find_attr(plain.urn.as_deref(), &plain.name, plain.sub.as_deref())
                    .is_none()
                {
                    self.problem(
                        &format!("{key}.attribute"),
                        format!("unknown SCIM attribute \"{}\"", raw.attribute),
                    );
                }
                if pp.value_filter.is_some() {
                    value_path = Some(pp);
                }
                attribute = Some(plain);
            }
        }
        let op_text = raw.op.as_deref().unwrap_or("eq");
        let op = CompareOp::parse(op_text);
        if op.is_none() {
            self.problem(
                &format!("{key}.op"),
                format!(
                    "unknown operator \"{op_text}\"; expected one of eq, ne, co, sw, ew, gt, ge, lt, le"
                ),
            );
        }
        if raw.query.is_empty() && raw.path.is_none() {
            self.problem(key, "needs `query` or `path`".into());
        }
        let path = raw
            .path
            .as_deref()
            .and_then(|p| self.path_template(&format!("{key}.path"), p, VALUE_VARS));
        let query = self.query(&format!("{key}.query"), &raw.query, VALUE_VARS);
        let uses_value = path
            .iter()
            .chain(query.iter().map(|(_, t)| t))
            .any(|t| t.vars().any(|v| v == "value"));
        if self.errors() > before {
            return None;
        }
        if !uses_value {
            self.problem(key, "neither `path` nor `query` uses {value}".into());
            return None;
        }
        Some(Pushdown {
            attribute: attribute?,
            value_path,
            op: op?,
            path,
            query,
        })
    }

    fn hooks(
        &mut self,
        section: &str,
        raw: &model::ResourceSection,
        file: &Path,
        read: &dyn Fn(&Path) -> std::io::Result<String>,
    ) -> Hooks {
        let mut hooks = Hooks::default();
        let named = [
            ("to_app", raw.hooks.to_app.as_deref(), "scim, app, ctx"),
            ("from_app", raw.hooks.from_app.as_deref(), "app, scim, ctx"),
        ];
        let Some(script_name) = &raw.script else {
            for (hook, name, _) in named {
                if name.is_some() {
                    self.problem(
                        &format!("{section}.hooks.{hook}"),
                        format!("needs `{section}.script` (the file that defines it)"),
                    );
                }
            }
            return hooks;
        };
        let script_path = file
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(script_name);
        let source = match read(&script_path) {
            Ok(s) => s,
            Err(e) => {
                self.problem(
                    &format!("{section}.script"),
                    format!("cannot read {}: {e}", script_path.display()),
                );
                return hooks;
            }
        };
        let script = match Script::compile(&source, &script_path, &ScriptLimits::default()) {
            Ok(s) => s,
            Err(m) => {
                // `script:line:column: message`: reported at the script's own position.
                let file = script_path.display().to_string();
                let (at, message) = split_position(&m, &file);
                self.problems.push(Found {
                    severity: Severity::Error,
                    key: format!("{section}.script"),
                    message: message.to_string(),
                    elsewhere: Some((file, at)),
                });
                return hooks;
            }
        };
        for (hook, name, params) in named {
            match name {
                Some(name) if !script.has_fn(name, 3) => {
                    let arities: Vec<String> = (0..=8)
                        .filter(|n| script.has_fn(name, *n))
                        .map(|n| n.to_string())
                        .collect();
                    let found = if arities.is_empty() {
                        "not found".to_string()
                    } else {
                        format!("has {} parameter(s); a hook takes 3", arities.join(" or "))
                    };
                    self.problem(
                        &format!("{section}.hooks.{hook}"),
                        format!(
                            "function {name}({params}) {found} in {}",
                            script_path.display()
                        ),
                    );
                }
                Some(_) => {}
                None if script.has_fn(hook, 3) => self.warning(
                    &format!("{section}.hooks"),
                    format!(
                        "{} defines {hook}({params}) but `{section}.hooks.{hook}` is not set, \
                         so it is never called",
                        script_path.display()
                    ),
                ),
                None => {}
            }
        }
        if let Some(name) = &raw.hooks.to_app {
            hooks.to_app_reads = script.first_arg_reads(name);
        }
        hooks.to_app = raw.hooks.to_app.clone();
        hooks.from_app = raw.hooks.from_app.clone();
        hooks.script = Some(Arc::new(script));
        hooks
    }
}

/// Splits `file:line:column: message` (or `file:line: message`) into the position and message.
fn split_position<'m>(text: &'m str, file: &str) -> (Option<(usize, usize)>, &'m str) {
    let Some(rest) = text.strip_prefix(file).and_then(|r| r.strip_prefix(':')) else {
        return (
            None,
            text.strip_prefix(file)
                .map_or(text, |r| r.trim_start_matches(": ")),
        );
    };
    let mut parts = rest.splitn(3, ':');
    let line = parts.next().and_then(|l| l.parse::<usize>().ok());
    let second = parts.next();
    match (
        line,
        second.and_then(|c| c.parse::<usize>().ok()),
        parts.next(),
    ) {
        (Some(line), Some(col), Some(message)) => (Some((line, col)), message.trim_start()),
        (Some(line), _, _) => (
            Some((line, 1)),
            rest.split_once(':').map_or(rest, |(_, m)| m).trim_start(),
        ),
        _ => (None, rest.trim_start()),
    }
}

/// Strings in a body template that look like placeholders but are not exactly `{id}`/`{member}`.
fn body_placeholders(v: &Value, bad: &mut Vec<String>) {
    match v {
        Value::String(s) if s.contains('{') && s != "{id}" && s != "{member}" => {
            bad.push(s.clone())
        }
        Value::Array(a) => a.iter().for_each(|x| body_placeholders(x, bad)),
        Value::Object(o) => o.values().for_each(|x| body_placeholders(x, bad)),
        _ => {}
    }
}

fn style_name(s: PagingStyle) -> &'static str {
    match s {
        PagingStyle::Page => "page",
        PagingStyle::Offset => "offset",
        PagingStyle::None => "none",
    }
}

/// Checks an application base URL and strips trailing slashes.
fn check_base_url(url: &str) -> Result<String, String> {
    let starts = |prefix: &str| {
        url.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    if starts("https://") {
        return Err(format!(
            "\"{url}\": https is not supported yet; reach the application over http:// \
             (e.g. on the same host or through a local TLS proxy)"
        ));
    }
    if !starts("http://") {
        return Err(format!("\"{url}\" must start with http://"));
    }
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed.get("http://".len()..).unwrap_or_default();
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("\"{url}\" has no host"));
    }
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|_| format!("\"{url}\" is not a valid URL"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("\"{url}\" has no host"));
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(format!(
            "\"{url}\" must not have a query or fragment; use `app.headers` or endpoint `query`"
        ));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::UpdateBody;
    use crate::mapping::model::OnDuplicate;
    use std::path::PathBuf;

    const MINIMAL: &str = r#"
        [app]
        base_url = "http://app.internal:8080/legacy/"

        [users.get]
        path = "/api/users/{id}"

        [users.list]
        path = "/api/users"

        [[users.attribute]]
        scim = "userName"
        app = "email"
    "#;

    fn no_files(p: &Path) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no file {}", p.display()),
        ))
    }

    fn load(text: &str) -> Result<Mapping, LoadError> {
        load_mapping_str(text, Path::new("maps/app.toml"), None, &no_files)
    }

    fn ok(text: &str) -> Mapping {
        match load(text) {
            Ok(m) => m,
            Err(e) => panic!("mapping did not load:\n{e}"),
        }
    }

    /// Errors as `file: key: message` (positions are checked in their own tests).
    fn problems(text: &str) -> Vec<String> {
        let checked = check_mapping_str(text, Path::new("maps/app.toml"), None, &no_files);
        assert!(
            checked.mapping.is_none(),
            "mapping loaded but should not have"
        );
        unlocated(checked.errors())
    }

    fn unlocated<'a>(problems: impl Iterator<Item = &'a Problem>) -> Vec<String> {
        problems
            .map(|p| {
                Problem {
                    at: None,
                    ..p.clone()
                }
                .to_string()
            })
            .collect()
    }

    /// Warnings of a mapping that loads, as `key: message`.
    fn warnings(text: &str, read: &dyn Fn(&Path) -> std::io::Result<String>) -> Vec<String> {
        let checked = check_mapping_str(text, Path::new("maps/app.toml"), None, read);
        assert!(
            checked.mapping.is_some(),
            "mapping did not load: {:#?}",
            checked.problems
        );
        checked
            .warnings()
            .map(|p| format!("{}: {}", p.key.as_deref().unwrap_or_default(), p.message))
            .collect()
    }

    fn assert_has(problems: &[String], expected: &[&str]) {
        for e in expected {
            assert!(
                problems.iter().any(|p| p.starts_with(e)),
                "missing {e:?} in {problems:#?}"
            );
        }
    }

    #[test]
    fn minimal_file_gets_every_default() {
        let m = ok(MINIMAL);
        assert_eq!(m.app.base_url, "http://app.internal:8080/legacy");
        assert!(m.app.headers.is_empty());
        assert_eq!(m.app.timeout, Duration::from_secs(10));
        assert_eq!(m.app.connect_timeout, Duration::from_secs(2));
        assert_eq!(m.app.retries, 2);
        let u = &m.users;
        assert_eq!(u.kind, ResourceKind::User);
        assert_eq!(u.ids, IdMode::App);
        assert_eq!(u.id_field, JsonPath::parse("id").unwrap());
        assert_eq!(u.on_duplicate, OnDuplicate::Conflict);
        assert!(
            !u.check_duplicates,
            "the application is trusted to refuse duplicates"
        );
        assert_eq!(u.deactivation, DeactivationMode::Field);
        assert_eq!(u.max_scan, 10_000);
        assert_eq!(u.get.method, http::Method::GET);
        assert_eq!(u.get.not_found_status, [404]);
        assert_eq!(u.get.conflict_status, [409]);
        assert_eq!(
            u.get.path.render_path(&|_| Some("a/b".into())),
            "/api/users/a%2Fb"
        );
        assert!(u.get.record.is_none() && u.get.wrap.is_none());
        assert_eq!(u.list.endpoint.method, http::Method::GET);
        assert!(matches!(u.list.paging, Paging::None));
        assert!(u.create.is_none() && u.update.is_none() && u.delete.is_none());
        assert!(u.pushdowns.is_empty());
        assert!(u.hooks.script.is_none());
        assert_eq!(u.rules.rules.len(), 1);
    }

    #[test]
    fn full_file_compiles_every_section() {
        let text = r#"
            version = 1
            [app]
            base_url = "http://127.0.0.1:4000"
            timeout_ms = 5000
            connect_timeout_ms = 500
            retries = 0
            headers = { Accept = "application/json", "X-Tenant" = "acme" }
            [app.auth]
            header = "Authorization"
            prefix = "Bearer "
            secret = { value = "tok123" }

            [users]
            ids = "minted"
            id_field = "data.uid"
            on_duplicate = "adopt"
            check_duplicates = true
            deactivation = "delete"
            max_scan = 500
            script = "hooks/users.rhai"
            hooks = { to_app = "out", from_app = "back" }

            [users.get]
            path = "/api/v1/users/{id}"
            record = "user"
            not_found_status = [404, 410]

            [users.list]
            path = "/api/v1/users"
            query = { active = "any" }
            records = "data"
            total_header = "X-Total-Count"
            paging = { style = "offset", max_size = 50 }

            [users.create]
            path = "/api/v1/users"
            wrap = "user"
            conflict_status = [409, 422]

            [users.update]
            method = "patch"
            path = "/api/v1/users/{id}"
            send = "changes"

            [users.delete]
            path = "/api/v1/users/{id}"

            [[users.filter]]
            attribute = "userName"
            query = { email = "{value}" }

            [[users.filter]]
            attribute = 'emails[type eq "work"].value'
            op = "EQ"
            path = "/api/v1/users/by-email/{value}"

            [[users.filter]]
            attribute = "name.familyName"
            op = "sw"
            query = { "q[last]" = "{value}*" }

            [[users.attribute]]
            scim = "userName"
            app = "email"

            [[users.attribute]]
            scim = "externalId"
            store = true
        "#;
        let read = |p: &Path| -> std::io::Result<String> {
            assert_eq!(p, Path::new("/etc/maps/hooks/users.rhai"));
            Ok("fn out(scim, app, ctx) { app }\nfn back(app, scim, ctx) { scim }\n".into())
        };
        let m = load_mapping_str(text, Path::new("/etc/maps/app.toml"), None, &read)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.app.base_url, "http://127.0.0.1:4000");
        assert_eq!(m.app.timeout, Duration::from_millis(5000));
        assert_eq!(m.app.connect_timeout, Duration::from_millis(500));
        assert_eq!(m.app.retries, 0);
        let headers: Vec<(&str, &str, bool)> = m
            .app
            .headers
            .iter()
            .map(|(n, v, s)| (n.as_str(), v.expose(), *s))
            .collect();
        assert_eq!(
            headers,
            [
                ("Authorization", "Bearer tok123", true),
                ("Accept", "application/json", false),
                ("X-Tenant", "acme", false),
            ]
        );
        assert!(
            !format!("{:?}", m.app).contains("tok123"),
            "secret stays redacted"
        );
        let u = &m.users;
        assert_eq!(u.ids, IdMode::Minted);
        assert_eq!(u.id_field.to_string(), "data.uid");
        assert_eq!(u.on_duplicate, OnDuplicate::Adopt);
        assert!(u.check_duplicates);
        assert_eq!(u.deactivation, DeactivationMode::Delete);
        assert_eq!(u.max_scan, 500);
        assert_eq!(u.get.not_found_status, [404, 410]);
        assert_eq!(
            u.get.record.as_ref().map(|r| r.to_string()).as_deref(),
            Some("user")
        );
        assert_eq!(
            u.list.records.as_ref().map(|r| r.to_string()).as_deref(),
            Some("data")
        );
        assert_eq!(u.list.total_header.as_deref(), Some("X-Total-Count"));
        assert_eq!(u.list.endpoint.query.len(), 1);
        match &u.list.paging {
            Paging::Offset {
                offset_param,
                size_param,
                max_size,
            } => assert_eq!(
                (offset_param.as_str(), size_param.as_str(), *max_size),
                ("offset", "limit", 50)
            ),
            other => panic!("{other:?}"),
        }
        let create = u.create.as_ref().unwrap();
        assert_eq!(create.method, http::Method::POST);
        assert_eq!(create.wrap.as_deref(), Some("user"));
        assert_eq!(create.conflict_status, [409, 422]);
        let (update, send) = u.update.as_ref().unwrap();
        assert_eq!(update.method, http::Method::PATCH);
        assert_eq!(*send, UpdateBody::Changes);
        assert_eq!(u.delete.as_ref().unwrap().method, http::Method::DELETE);

        assert_eq!(u.pushdowns.len(), 3);
        let p = &u.pushdowns[0];
        assert_eq!(
            (p.attribute.name.as_str(), p.op),
            ("userName", CompareOp::Eq)
        );
        assert!(p.value_path.is_none() && p.path.is_none());
        assert_eq!(p.query[0].0, "email");
        assert_eq!(
            p.query[0].1.render_query(&|_| Some("a&b=c".into())),
            "a%26b%3Dc"
        );
        let p = &u.pushdowns[1];
        assert_eq!(
            (p.attribute.name.as_str(), p.attribute.sub.as_deref()),
            ("emails", Some("value"))
        );
        assert!(
            p.value_path
                .as_ref()
                .is_some_and(|v| v.value_filter.is_some())
        );
        assert_eq!(
            p.path
                .as_ref()
                .unwrap()
                .render_path(&|_| Some("a@b.c".into())),
            "/api/v1/users/by-email/a%40b%2Ec"
        );
        let p = &u.pushdowns[2];
        assert_eq!(p.op, CompareOp::Sw);
        assert_eq!(
            (p.attribute.name.as_str(), p.attribute.sub.as_deref()),
            ("name", Some("familyName"))
        );

        let script = u.hooks.script.as_ref().unwrap();
        assert_eq!(script.path, PathBuf::from("/etc/maps/hooks/users.rhai"));
        assert_eq!(u.hooks.to_app.as_deref(), Some("out"));
        assert_eq!(u.hooks.from_app.as_deref(), Some("back"));
    }

    #[test]
    fn override_base_url_wins_and_may_replace_a_missing_one() {
        let m = load_mapping_str(
            MINIMAL,
            Path::new("m.toml"),
            Some("http://10.0.0.5:9000/"),
            &no_files,
        )
        .unwrap();
        assert_eq!(m.app.base_url, "http://10.0.0.5:9000");
        let without = MINIMAL.replace("base_url = \"http://app.internal:8080/legacy/\"", "");
        assert_eq!(
            problems(&without),
            [
                "maps/app.toml: app.base_url: required (in the mapping file or the config's `app.base_url`)"
            ]
        );
        let m =
            load_mapping_str(&without, Path::new("m.toml"), Some("http://x"), &no_files).unwrap();
        assert_eq!(m.app.base_url, "http://x");
        let e =
            load_mapping_str(MINIMAL, Path::new("m.toml"), Some("ftp://x"), &no_files).unwrap_err();
        assert!(
            e.problems[0].starts_with("m.toml: app.base_url (from the configuration): "),
            "{e}"
        );
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(check_base_url("http://a:1//").unwrap(), "http://a:1");
        assert_eq!(check_base_url("HTTP://a/p").unwrap(), "HTTP://a/p");
        assert!(
            check_base_url("https://a")
                .unwrap_err()
                .contains("https is not supported yet")
        );
        assert!(
            check_base_url("a.example")
                .unwrap_err()
                .contains("must start with http://")
        );
        assert!(check_base_url("http://").is_err());
        assert!(check_base_url("http://a/?x=1").is_err());
        assert!(check_base_url("http://a/#x").is_err());
        assert!(check_base_url("http://a b").is_err());
        assert!(check_base_url("ht").is_err());
        assert!(check_base_url("é").is_err(), "no panic on multi-byte text");
    }

    #[test]
    fn five_mistakes_are_all_reported_with_their_keys() {
        let text = r#"
            version = 2
            [app]
            base_url = "https://app.example"

            [users]
            deactivation = "endpoint"

            [users.get]
            path = "/api/users/{user_id}"

            [users.list]
            path = "/api/users"

            [[users.filter]]
            attribute = "userName"
            op = "like"
            query = { q = "{value}" }

            [[users.attribute]]
            scim = "userName"
            app = "email"

            [[users.attribute]]
            scim = "nmae.givenName"
            app = "first"
        "#;
        let p = problems(text);
        let expected = [
            "maps/app.toml: version: unsupported version 2; only 1 exists",
            "maps/app.toml: app.base_url: \"https://app.example\": https is not supported yet",
            "maps/app.toml: users.get.path: unknown variable {user_id}; allowed: {id}",
            "maps/app.toml: users.filter[1].op: unknown operator \"like\"",
            "maps/app.toml: users.attribute[2].scim: unknown SCIM attribute \"nmae.givenName\"",
            "maps/app.toml: users.deactivation: \"endpoint\" needs `users.deactivate` and `users.reactivate`",
        ];
        assert_has(&p, &expected);
        assert_eq!(p.len(), expected.len(), "{p:#?}");
    }

    #[test]
    fn toml_errors_have_line_and_column() {
        let e = load("[app]\nbse_url = \"http://a\"\n").unwrap_err();
        assert_eq!(
            e.problems,
            [
                "maps/app.toml:2:1: app.bse_url: unknown key; did you mean `base_url`? (expected \
                 one of: base_url, auth, headers, timeout_ms, connect_timeout_ms, retries)",
                "maps/app.toml: users: a `[users]` section is required (at least `[users.get]` \
                 and `[users.list]`)",
            ]
        );
        let e = load("[app]\nbase_url = \"http://a\"\n[users\n").unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert!(e.problems[0].starts_with("maps/app.toml:3:"), "{e}");
        let typo = MINIMAL.replace("[users.list]", "[users.list]\nrecrods = \"data\"");
        let e = load(&typo).unwrap_err();
        // Inside a flattened table, the key itself is found.
        assert_eq!(
            e.problems,
            ["maps/app.toml:9:1: users.list.recrods: unknown key"]
        );
        let wrong_type = MINIMAL.replace("[app]", "[app]\ntimeout_ms = \"fast\"");
        let e = load(&wrong_type).unwrap_err();
        assert_eq!(
            e.problems,
            [
                "maps/app.toml:3:14: app.timeout_ms: expected a whole number ≥ 0, got a string \
                 (\"fast\")"
            ]
        );
        let e = load("").unwrap_err();
        assert!(
            e.problems[0].contains("an `[app]` table is required"),
            "{e}"
        );
    }

    /// Every kind of problem carries the line and column of its key (or of the nearest
    /// enclosing table when the key is absent).
    #[test]
    fn semantic_problems_have_line_and_column() {
        let text = "[app]\nbase_url = \"http://a\"\n\
                    [users]\ndeactivation = \"endpoint\"\n\
                    [users.get]\npath = \"/u/{user_id}\"\n\
                    [users.list]\npath = \"/u\"\n\
                    [[users.attribute]]\nscim = \"userName\"\napp = \"email\"\n\
                    [[users.attribute]]\nscim = \"nmae.givenName\"\napp = \"first\"\n\
                    [groups.get]\npath = \"/g/{id}\"\n[groups.list]\npath = \"/g\"\n\
                    [[groups.attribute]]\nscim = \"displayName\"\napp = \"name\"\n\
                    [groups.members]\nmodel = \"user_attribute\"\nfield = \"team\"\n";
        let e = load(text).unwrap_err();
        assert_eq!(
            e.problems,
            [
                "maps/app.toml:6:1: users.get.path: unknown variable {user_id}; allowed: {id}",
                "maps/app.toml:13:1: users.attribute[2].scim: unknown SCIM attribute \"nmae.givenName\"",
                "maps/app.toml:4:1: users.deactivation: \"endpoint\" needs `users.deactivate` and `users.reactivate`",
            ]
        );
        // Checked once both sections compile; it used to carry the file name twice.
        let fixed = text
            .replace("deactivation = \"endpoint\"\n", "")
            .replace("{user_id}", "{id}")
            .replace("nmae", "name");
        let e = load(&fixed).unwrap_err();
        assert_eq!(
            e.problems,
            [
                "maps/app.toml:22:1: groups.members.model: \"user_attribute\" writes membership with the users' update call: add `users.update`"
            ]
        );
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é = 1", 3), (1, 3));
        assert_eq!(line_column("é", 1), (1, 1), "inside a character");
        assert_eq!(line_column("x", 99), (1, 2));
    }

    #[test]
    fn endpoint_and_template_problems_name_their_keys() {
        let text = r#"
            [app]
            base_url = "http://a"
            headers = { "Bad Header" = "x", "X-Ok" = "line\nbreak" }
            timeout_ms = 0
            [app.auth]
            header = "X-Ok"
            secret = { env = "SCIM_SIDECAR_TEST_SURELY_UNSET_VAR" }

            [users]
            id_field = ""
            max_scan = 0

            [users.get]
            method = "FETCH"
            path = "api/users/{id}"

            [users.list]
            path = "/api/users?all=1"
            query = { page = "{id}", q = "a b" }
            records = "a..b"
            total = "meta.total"
            total_header = "X-Total"
            paging = { style = "page", offset_param = "o", max_size = 0 }

            [users.create]
            path = "/api/users/{id}"
            not_found_status = [99]

            [users.update]
            path = "/api/users/{id"

            [users.delete]
            path = "/api/users/{id}}"

            [[users.attribute]]
            scim = "userName"
            app = "email"
        "#;
        let p = problems(text);
        let expected = [
            "maps/app.toml: app.auth.secret: environment variable SCIM_SIDECAR_TEST_SURELY_UNSET_VAR is not set",
            "maps/app.toml: app.headers.Bad Header: \"Bad Header\" is not a valid HTTP header name",
            "maps/app.toml: app.headers.X-Ok: not a valid HTTP header value",
            "maps/app.toml: app.headers: `X-Ok` is already set by `app.auth`",
            "maps/app.toml: app.timeout_ms: must be greater than 0",
            "maps/app.toml: users.id_field: must not be empty",
            "maps/app.toml: users.max_scan: must be at least 1",
            "maps/app.toml: users.get.method: unknown method \"FETCH\"",
            "maps/app.toml: users.get.path: \"api/users/{id}\" must start with `/`",
            "maps/app.toml: users.list.path: contains '?', which cannot appear in a URL path; put query parameters in `query`",
            "maps/app.toml: users.list.query.page: unknown variable {id}; no variables are allowed here",
            "maps/app.toml: users.list.query.q: contains ' '",
            "maps/app.toml: users.list.records: `a..b` has an empty segment",
            "maps/app.toml: users.list.total_header: give `total` or `total_header`, not both",
            "maps/app.toml: users.list.paging.max_size: must be at least 1",
            "maps/app.toml: users.list.paging.offset_param: not used with style = \"page\"",
            "maps/app.toml: users.create.path: unknown variable {id}; no variables are allowed here",
            "maps/app.toml: users.create.not_found_status: 99 is not an HTTP status",
            "maps/app.toml: users.update.path: unclosed `{`",
            "maps/app.toml: users.delete.path: unmatched `}`",
        ];
        assert_has(&p, &expected);
        assert_eq!(p.len(), expected.len(), "{p:#?}");
    }

    #[test]
    fn semantic_requirements_are_checked() {
        let base = MINIMAL.to_string();
        let p = problems(&base.replace(
            "[users.get]",
            "[users]\ndeactivation = \"delete\"\n[users.get]",
        ));
        assert_has(
            &p,
            &[
                "maps/app.toml: users.deactivation: \"delete\" needs `users.ids = \"minted\"`",
                "maps/app.toml: users.deactivation: \"delete\" needs `users.delete` and `users.create`",
            ],
        );
        assert_eq!(p.len(), 2, "{p:#?}");

        let endpoint = base.replace(
            "[users.get]",
            "[users]\ndeactivation = \"endpoint\"\n\
             [users.deactivate]\npath = \"/api/users/{id}/suspend\"\n\
             [users.reactivate]\npath = \"/api/users/{id}/unsuspend\"\n[users.get]",
        ) + "\n[[users.attribute]]\nscim = \"active\"\napp = \"status\"\nmap = { \"true\" = \"on\", \"false\" = \"off\" }\n";
        let p = problems(&endpoint);
        assert_eq!(
            p,
            [
                "maps/app.toml: users.deactivation: with \"endpoint\", the `active` rule must be `read_only = true` (the endpoints change it)"
            ]
        );
        let m = ok(&endpoint.replace("app = \"status\"", "app = \"status\"\nread_only = true"));
        let d = m.users.deactivate.as_ref().unwrap();
        assert_eq!(d.method, http::Method::POST);
        assert_eq!(
            d.path.render_path(&|_| Some("7".into())),
            "/api/users/7/suspend"
        );

        let p = problems(
            &(base.clone() + "\n[groups.get]\npath = \"/g/{id}\"\n[groups.list]\npath = \"/g\"\n"),
        );
        assert_eq!(
            p,
            ["maps/app.toml: groups.attribute: a rule for `displayName` is required"]
        );

        let no_user_name = base.replace("scim = \"userName\"", "scim = \"displayName\"");
        assert_eq!(
            problems(&no_user_name),
            [
                "maps/app.toml: users.attribute: a rule for `userName` is required (and must not be `write_only`)"
            ]
        );
        let write_only = base.replace("app = \"email\"", "app = \"email\"\nwrite_only = true");
        assert_eq!(problems(&write_only).len(), 1);
        let backtick = base.replace("/api/users/{id}", "/api/`users`/{id}");
        assert_eq!(
            problems(&backtick),
            ["maps/app.toml: users.get.path: contains '`', which cannot appear in a URL path"]
        );
    }

    #[test]
    fn paging_defaults_per_style() {
        let page = MINIMAL.replace(
            "[users.list]",
            "[users.list]\npaging = { style = \"page\" }",
        );
        match ok(&page).users.list.paging {
            Paging::Page {
                page_param,
                size_param,
                first_page,
                max_size,
            } => assert_eq!(
                (
                    page_param.as_str(),
                    size_param.as_str(),
                    first_page,
                    max_size
                ),
                ("page", "per_page", 1, 100)
            ),
            other => panic!("{other:?}"),
        }
        let page0 = MINIMAL.replace(
            "[users.list]",
            "[users.list]\npaging = { style = \"page\", first_page = 0, page_param = \"p\", size_param = \"n\" }",
        );
        assert!(matches!(
            ok(&page0).users.list.paging,
            Paging::Page { first_page: 0, ref page_param, .. } if page_param == "p"
        ));
        let none_with_param = MINIMAL.replace(
            "[users.list]",
            "[users.list]\npaging = { size_param = \"n\" }",
        );
        assert_eq!(
            problems(&none_with_param),
            [
                "maps/app.toml: users.list.paging.size_param: not used with style = \"none\" (set `style`)"
            ]
        );
    }

    #[test]
    fn pushdown_problems() {
        let text = MINIMAL.to_string()
            + r#"
            [[users.filter]]
            attribute = "userName"
            [[users.filter]]
            attribute = "nope"
            query = { q = "{value}" }
            [[users.filter]]
            attribute = "userName"
            op = "pr"
            query = { q = "{value}" }
            [[users.filter]]
            attribute = "userName"
            query = { q = "fixed" }
            [[users.filter]]
            attribute = "emails[type eq"
            query = { q = "{value}" }
            [[users.filter]]
            attribute = "userName"
            path = "/by/{id}"
        "#;
        let p = problems(&text);
        let expected = [
            "maps/app.toml: users.filter[1]: needs `query` or `path`",
            "maps/app.toml: users.filter[2].attribute: unknown SCIM attribute \"nope\"",
            "maps/app.toml: users.filter[3].op: unknown operator \"pr\"",
            "maps/app.toml: users.filter[4]: neither `path` nor `query` uses {value}",
            "maps/app.toml: users.filter[5].attribute: \"emails[type eq\": invalid path at column",
            "maps/app.toml: users.filter[6].path: unknown variable {id}; allowed: {value}",
        ];
        assert_has(&p, &expected);
        assert_eq!(p.len(), expected.len(), "{p:#?}");
    }

    #[test]
    fn script_and_hook_problems() {
        let with_hooks = |hooks: &str| {
            MINIMAL.replace(
                "[users.get]",
                &format!("[users]\nscript = \"s.rhai\"\nhooks = {{ {hooks} }}\n[users.get]"),
            )
        };
        let script = |src: &'static str| {
            move |p: &Path| -> std::io::Result<String> {
                assert_eq!(p, Path::new("maps/s.rhai"));
                Ok(src.to_string())
            }
        };
        // A missing function and one with the wrong number of parameters.
        let e = load_mapping_str(
            &with_hooks("to_app = \"to_app\", from_app = \"from_app\""),
            Path::new("maps/app.toml"),
            None,
            &script("fn from_app(app, scim) { scim }"),
        )
        .unwrap_err();
        assert_eq!(
            e.problems,
            [
                "maps/app.toml:7:11: users.hooks.to_app: function to_app(scim, app, ctx) not found in maps/s.rhai",
                "maps/app.toml:7:30: users.hooks.from_app: function from_app(app, scim, ctx) has 2 parameter(s); a hook takes 3 in maps/s.rhai",
            ]
        );
        // A syntax error keeps the script's own file:line:column.
        let e = load_mapping_str(
            &with_hooks("to_app = \"to_app\""),
            Path::new("maps/app.toml"),
            None,
            &script("fn to_app(scim, app, ctx) {\n  app +\n}"),
        )
        .unwrap_err();
        assert_eq!(e.problems.len(), 1, "{e}");
        assert!(
            e.problems[0].starts_with("maps/s.rhai:3:1: users.script: "),
            "{e}"
        );
        // An unreadable script.
        let p = problems(&with_hooks("to_app = \"to_app\""));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].starts_with("maps/app.toml: users.script: cannot read maps/s.rhai: "),
            "{p:?}"
        );
        // Hooks without a script.
        let p = problems(&MINIMAL.replace(
            "[users.get]",
            "[users.hooks]\nfrom_app = \"f\"\n[users.get]",
        ));
        assert_eq!(
            p,
            [
                "maps/app.toml: users.hooks.from_app: needs `users.script` (the file that defines it)"
            ]
        );
        // A script without hooks is fine (nothing calls it).
        let m = load_mapping_str(
            &MINIMAL.replace("[users.get]", "[users]\nscript = \"s.rhai\"\n[users.get]"),
            Path::new("maps/app.toml"),
            None,
            &script("fn helper(x) { x }"),
        )
        .unwrap();
        assert!(m.users.hooks.script.is_some() && m.users.hooks.to_app.is_none());
        // A hook the script defines but the mapping does not name is a warning.
        let text = MINIMAL.replace("[users.get]", "[users]\nscript = \"s.rhai\"\n[users.get]");
        assert_eq!(
            warnings(&text, &script("fn from_app(app, scim, ctx) { scim }")),
            [
                "users.hooks: maps/s.rhai defines from_app(app, scim, ctx) but \
                 `users.hooks.from_app` is not set, so it is never called",
                "users.update: absent: mapped attributes can be set on create but a later PUT or \
                 PATCH that changes them is refused (add an update call, or mark the rules \
                 `read_only`)",
            ]
        );
    }

    /// The example in mappings/README.md is the one integrators copy: it must load.
    #[test]
    fn readme_example_loads() {
        let whole = include_str!("../../mappings/README.md");
        // The tutorial comes first; the example is the first block of its own section.
        let readme = &whole[whole
            .find("## A complete example")
            .expect("the example section")..];
        let block = |lang: &str| {
            let start = readme
                .find(&format!("```{lang}\n"))
                .unwrap_or_else(|| panic!("no {lang} block"))
                + lang.len()
                + 4;
            let len = readme[start..].find("```").unwrap();
            readme[start..start + len].to_string()
        };
        let toml_text = block("toml").replace(
            "secret = { env = \"EXAMPLE_APP_TOKEN\" }",
            "secret = { value = \"t\" }",
        );
        let rhai = block("rhai");
        let read = move |p: &Path| -> std::io::Result<String> {
            assert_eq!(p, Path::new("mappings/example.rhai"));
            Ok(rhai.clone())
        };
        let m = load_mapping_str(&toml_text, Path::new("mappings/example.toml"), None, &read)
            .unwrap_or_else(|e| panic!("README example does not load:\n{e}"));
        let u = &m.users;
        assert!(matches!(u.list.paging, Paging::Page { .. }));
        assert_eq!(u.pushdowns.len(), 2);
        // The rules do what the README says they do.
        let scim = u
            .rules
            .app_to_scim(&serde_json::json!({
                "id": 42, "email": "ada@example.com", "first_name": "Ada", "status": "disabled",
                "employee_no": 7, "role": "member", "created_at": "2024-01-01T00:00:00Z"
            }))
            .unwrap();
        assert_eq!(scim["active"], false);
        assert_eq!(scim["userName"], "ada@example.com");
        assert_eq!(
            scim[crate::scim::ENTERPRISE_USER_SCHEMA]["employeeNumber"],
            "7"
        );
        let script = u.hooks.script.as_ref().unwrap();
        let err = script
            .call_hook(
                "to_app",
                serde_json::json!({"userName": "x@contractor.example"}),
                serde_json::json!({}),
                serde_json::json!({"operation": "create", "resource": "User"}),
            )
            .unwrap_err();
        assert_eq!(err.class().status, 403);
    }

    /// A `[groups]` section with the given `[groups.members]` body (plus a displayName rule).
    fn with_groups(members: &str) -> String {
        let base = ok_base();
        format!(
            "{base}\n[groups.get]\npath = \"/g/{{id}}\"\n[groups.list]\npath = \"/g\"\n\
             [groups.update]\nmethod = \"PATCH\"\npath = \"/g/{{id}}\"\n\
             [[groups.attribute]]\nscim = \"displayName\"\napp = \"name\"\n{members}"
        )
    }

    fn ok_base() -> String {
        "version = 1\n[app]\nbase_url = \"http://127.0.0.1:9\"\n\
         [users.get]\npath = \"/u/{id}\"\n[users.list]\npath = \"/u\"\n\
         [users.update]\npath = \"/u/{id}\"\n\
         [[users.attribute]]\nscim = \"userName\"\napp = \"email\"\n"
            .to_string()
    }

    #[test]
    fn each_membership_model_compiles() {
        let m = ok(&with_groups(
            "[groups.members]\nmodel = \"record\"\nfield = \"member_ids\"\nid_type = \"number\"\n",
        ));
        let g = m.groups.as_ref().unwrap();
        assert!(matches!(g.members, Some(Membership::Record { .. })));
        assert!(!g.member_display);
        assert!(m.user_group_field().is_none());

        let m = ok(&with_groups(
            "[groups.members]\nmodel = \"endpoints\"\nitem_id = \"user_id\"\ndisplay = true\n\
             item_display = \"email\"\n\
             [groups.members.list]\npath = \"/g/{id}/members\"\nrecords = \"members\"\n\
             [groups.members.add]\npath = \"/g/{id}/members\"\nbody = { user_id = \"{member}\" }\n\
             [groups.members.remove]\npath = \"/g/{id}/members/{member}\"\n",
        ));
        let g = m.groups.as_ref().unwrap();
        assert!(g.member_display);
        let Some(Membership::Endpoints { add, remove, .. }) = &g.members else {
            panic!("endpoints model expected");
        };
        assert_eq!(add.endpoint.method, http::Method::POST);
        assert_eq!(remove.endpoint.method, http::Method::DELETE);
        assert_eq!(
            remove
                .endpoint
                .path
                .render_path(&|v| Some(if v == "id" { "7" } else { "a/b" }.into())),
            "/g/7/members/a%2Fb"
        );

        let m = ok(&with_groups(
            "[groups.members]\nmodel = \"user_attribute\"\nfield = \"team_ids\"\n\
             lookup = { query = { team_id = \"{id}\" } }\n",
        ));
        let (field, single) = m.user_group_field().unwrap();
        assert_eq!(field.to_string(), "team_ids");
        assert!(!single);
    }

    #[test]
    fn membership_problems_name_their_keys() {
        let p = problems(&with_groups(
            "[groups.members]\nmodel = \"endpoints\"\nfield = \"x\"\nitem_display = \"email\"\n\
             [groups.members.list]\npath = \"/g/{member}/members\"\n\
             [groups.members.add]\npath = \"/g/{id}/members\"\nbody = { user = \"id={member}\" }\n",
        ));
        assert_has(
            &p,
            &[
                "maps/app.toml: groups.members.field: not used with model = \"endpoints\"",
                "maps/app.toml: groups.members.item_display: only used with `display = true`",
                "maps/app.toml: groups.members.remove: model = \"endpoints\" needs `list`, `add` and `remove`",
                "maps/app.toml: groups.members.list.path: unknown variable {member}; allowed: {id}",
                "maps/app.toml: groups.members.add.body: \"id={member}\": only the whole strings",
            ],
        );
        let p = problems(&with_groups(
            "[groups.members]\nmodel = \"user_attribute\"\nremoved_value = \"member\"\n\
             lookup = { query = { team = \"all\" } }\n",
        ));
        assert_has(
            &p,
            &[
                "maps/app.toml: groups.members.field: model = \"user_attribute\" needs `field`",
                "maps/app.toml: groups.members.lookup: neither `path` nor `query` uses {id}",
                "maps/app.toml: groups.members.removed_value: only used with `single = true`",
            ],
        );
        // Records need the group's update call; members are not attribute rules; no deactivation.
        let p = problems(
            &(with_groups("[groups.members]\nmodel = \"record\"\nfield = \"m\"\n").replace(
                "[groups.update]\nmethod = \"PATCH\"\npath = \"/g/{id}\"\n",
                "",
            ) + "[[groups.attribute]]\nscim = \"members\"\napp = \"m\"\n"),
        );
        assert_has(
            &p,
            &[
                "maps/app.toml: groups.members.model: \"record\" writes membership with the group's update call",
                "maps/app.toml: groups.attribute: membership is declared in `[groups.members]`",
            ],
        );
        let p = problems(&(with_groups("") + "[groups]\ndeactivation = \"endpoint\"\n"));
        assert!(
            p.iter()
                .any(|x| x.contains("groups.deactivation: groups have no `active` state")),
            "{p:?}"
        );
        let p = problems(&(ok_base() + "[users.members]\nmodel = \"record\"\n"));
        assert_has(
            &p,
            &["maps/app.toml: users.members: only groups have members"],
        );
    }

    #[test]
    fn error_entries_are_compiled_in_order_and_bad_ones_named() {
        let text = format!(
            "{MINIMAL}\n[users.create]\npath = \"/api/users\"\nconflict_status = [409]\n\
             [[users.create.errors]]\nstatus = 422\nbody_contains = \"taken\"\nscim_status = 409\n\
             [[users.create.errors]]\nstatus = 422\nfield = \"error.code\"\nequals = \"seats\"\n\
             scim_status = 403\ndetail = \"No seats left.\"\n"
        );
        let m = ok(&text);
        let create = m.users.create.as_ref().unwrap();
        assert_eq!(create.errors.len(), 2);
        assert_eq!(create.errors[0].key, "users.create.errors[1]");
        assert_eq!(create.errors[0].answer, crate::mapping::ErrorAnswer::Exists);
        assert_eq!(create.conflict_status, [409]);
        assert!(m.users.get.errors.is_empty());

        let bad = format!(
            "{MINIMAL}\n[[users.get.errors]]\nstatus = 422\nequals = 1\nscim_status = 409\n\
             detail = \"x\"\n[[users.get.errors]]\nstatus = 422\nscim_status = 400\n\
             scim_type = \"uniqueness\"\n"
        );
        let p = problems(&bad);
        assert_has(
            &p,
            &[
                "maps/app.toml: users.get.errors[1].equals: needs `field`",
                "maps/app.toml: users.get.errors[1].detail: not used with scim_status 409",
                "maps/app.toml: users.get.errors[2].scim_type: \"uniqueness\" goes with scim_status 409",
            ],
        );
        // A misspelt key is refused, with a suggestion.
        let typo = format!(
            "{MINIMAL}\n[[users.get.errors]]\nstatus = 422\nbody_containz = \"x\"\nscim_status = 400\n"
        );
        assert!(
            problems(&typo)[0].contains(
                "users.get.errors[1].body_containz: unknown key; did you mean `body_contains`?"
            ),
            "{:?}",
            problems(&typo)
        );
    }
}
