//! Attribute rules in both directions: a SCIM resource (canonical form) → fields of an application
//! record, and an application record → a SCIM resource. Value maps, defaults, constants,
//! read-only / write-only / immutable flags, application-side type conversion, and attributes kept
//! by the sidecar's store instead of the application.
//!
//! Every rule's SCIM side is resolved against the schema tables once, at compile time, so the
//! per-request code only walks JSON.

use crate::error::{AppError, Error, Result};
use crate::mapping::json_path::JsonPath;
use crate::mapping::model::{AppType, AttributeRule};
use crate::scim::ResourceKind;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath, parse_path};
use crate::scim::resource::get_ci;
use crate::scim::schema::{AttrDef, AttrType, Mutability, ResourceSchema, SchemaDef};
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
    /// SCIM value as text → application value (already converted to `app_type`).
    pub map: Option<Vec<(String, Value)>>,
    /// Already converted to the SCIM attribute's type.
    pub map_default: Option<Value>,
    /// Already converted to `app_type`.
    pub default: Option<Value>,
    /// Already converted to `app_type`.
    pub constant: Option<Value>,
    pub read_only: bool,
    pub write_only: bool,
    pub immutable: bool,
    /// Advertised as required (the application cannot clear it).
    pub required: bool,
    pub app_type: Option<AppType>,
    /// The SCIM side resolved against the schema (`Some` exactly when `scim` is).
    target: Option<Target>,
}

/// Where a rule's SCIM value sits, resolved against the schema tables.
#[derive(Debug, Clone)]
struct Target {
    /// The extension schema, `None` for core and common attributes.
    ext: Option<&'static SchemaDef>,
    attr: &'static AttrDef,
    /// The sub-attribute (`name.givenName`, or `.value` after a value filter).
    sub: Option<&'static AttrDef>,
    /// For a multi-valued attribute addressed element-wise (`emails[type eq "work"].value`,
    /// `emails.value`): how the element is chosen.
    select: Option<Select>,
}

#[derive(Debug, Clone)]
struct Select {
    filter: Option<Filter>,
    /// The `eq` comparisons of the filter's top-level `and` chain (canonical sub-attribute name,
    /// value): what an element built from an application value carries.
    eqs: Vec<(&'static str, Value)>,
    /// Whether the filter is nothing but those comparisons (or absent).
    only_eqs: bool,
}

/// All rules of one resource type.
#[derive(Debug, Clone)]
pub struct Rules {
    pub kind: ResourceKind,
    pub rules: Vec<Rule>,
    /// The schemas the rules were resolved against (with the mapping's declared extensions).
    schema: &'static ResourceSchema,
}

impl Rules {
    /// Compiles the raw rules; every problem is returned (with the rule's index and key).
    /// Rules are numbered from 1 in file order: `users.attribute[3].scim: …` is the third
    /// `[[users.attribute]]` table.
    pub fn compile(kind: ResourceKind, raw: &[AttributeRule]) -> Result<Rules, Vec<String>> {
        Self::compile_in(ResourceSchema::for_kind(kind), raw)
    }

    /// [`Rules::compile`] against `schema` (a resource type's schemas with declared extensions).
    pub fn compile_in(
        schema: &'static ResourceSchema,
        raw: &[AttributeRule],
    ) -> Result<Rules, Vec<String>> {
        let kind = schema.kind;
        let section = match kind {
            ResourceKind::User => "users",
            ResourceKind::Group => "groups",
        };
        let mut problems = Vec::new();
        let mut rules = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let key = format!("{section}.attribute[{}]", i + 1);
            if let Some(rule) = compile_rule(&key, r, schema, &mut problems) {
                rules.push(rule);
            }
        }
        if kind == ResourceKind::User {
            let has_user_name = rules.iter().filter(|r| !r.write_only).any(|r| {
                r.target.as_ref().is_some_and(|t| {
                    t.ext.is_none() && t.attr.name == "userName" && t.sub.is_none()
                })
            });
            // A rule that failed to compile may have been the userName rule; say nothing then.
            let raw_mentions = raw.iter().filter(|r| !r.write_only).any(|r| {
                r.scim
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("userName"))
            });
            if !has_user_name && !raw_mentions {
                problems.push(format!(
                    "{section}.attribute: a rule for `userName` is required (and must not be `write_only`)"
                ));
            }
        }
        if problems.is_empty() {
            Ok(Rules {
                kind,
                rules,
                schema,
            })
        } else {
            Err(problems)
        }
    }

    fn schema(&self) -> &'static ResourceSchema {
        self.schema
    }

    /// Writes every writable rule's value from `scim` into `app` (`{}` for a create, the current
    /// record for an update), applying value maps, defaults, constants and type conversion.
    /// Attributes absent from `scim` get their `default` (or `null` on update when no default).
    /// Errors: `invalidValue` when a value has no entry in a value map.
    ///
    /// When several rules write the same application field, a later rule overwrites an earlier
    /// one only when its SCIM value is present; defaults and `null`s never overwrite a field an
    /// earlier rule wrote. Rules without `scim`: a `constant` is always written, a `default` only
    /// on create.
    pub fn scim_to_app(&self, scim: &Value, app: &mut Value, kind: WriteKind) -> Result<()> {
        let schema = self.schema();
        let mut written: Vec<&JsonPath> = Vec::new();
        for rule in &self.rules {
            if rule.read_only || rule.store {
                continue;
            }
            let Some(path) = &rule.app else { continue };
            if let Some(c) = &rule.constant {
                path.set(app, c.clone());
                written.push(path);
                continue;
            }
            let Some(target) = &rule.target else {
                // An application-only default: new records get it, updates leave the field alone.
                if let (Some(d), WriteKind::Create) = (&rule.default, kind)
                    && !written.contains(&path)
                {
                    path.set(app, d.clone());
                    written.push(path);
                }
                continue;
            };
            match target.get(scim, schema) {
                Some(v) => {
                    let out = rule
                        .to_app_value(v)
                        .map_err(|e| e.in_rule(self.rule_ref(rule)))?;
                    path.set(app, out);
                    written.push(path);
                }
                None if written.contains(&path) => {}
                None => {
                    if let Some(d) = &rule.default {
                        path.set(app, d.clone());
                        written.push(path);
                    } else if kind == WriteKind::Update {
                        path.set(app, Value::Null);
                        written.push(path);
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether [`Rules::scim_to_app`] writes the same into any record from `a` as from `b`: every
    /// rule it reads finds equal values in both (it is a function of those values alone).
    /// `false` means "maybe not": compare the payloads.
    pub fn same_payload(&self, a: &Value, b: &Value) -> bool {
        let schema = self.schema();
        self.rules
            .iter()
            .filter(|r| !r.read_only && !r.store && r.app.is_some() && r.constant.is_none())
            .filter_map(|r| r.target.as_ref())
            .all(|t| t.get(a, schema) == t.get(b, schema))
    }

    /// Builds the SCIM resource (canonical form, with `schemas`; without `id`/`meta`, which the
    /// caller sets) from an application record.
    /// Errors: `BadResponse` when a mapped value cannot be converted.
    pub fn app_to_scim(&self, app: &Value) -> Result<Value> {
        // Sized once for `schemas`, the rules, `id` and `meta`: no rehash while it fills.
        let mut out = Map::with_capacity(self.rules.len() + 3);
        out.insert(
            "schemas".into(),
            Value::Array(vec![Value::String(self.kind.core_schema().into())]),
        );
        let mut touched: Vec<&Target> = Vec::new();
        for rule in &self.rules {
            if rule.write_only || rule.store {
                continue;
            }
            let (Some(path), Some(target)) = (&rule.app, &rule.target) else {
                continue;
            };
            let Some(raw) = path.get(app).filter(|v| !v.is_null()) else {
                continue;
            };
            let value = rule
                .to_scim_value(raw, target)
                .map_err(|m| Error::from(AppError::BadResponse(m)).in_rule(self.rule_ref(rule)))?;
            target.place(&mut out, value);
            touched.push(target);
        }
        mark_primary(&mut out, &touched);
        Ok(Value::Object(out))
    }

    /// Names `rule` in errors and log lines (`users.attribute "name.familyName"`).
    fn rule_ref(&self, rule: &Rule) -> crate::error::Rule {
        let resource = match self.kind {
            ResourceKind::User => "users",
            ResourceKind::Group => "groups",
        };
        crate::error::Rule::attribute(resource, rule.label())
    }

    /// The values of `store = true` rules in `scim`, keyed by the rule's SCIM path text.
    pub fn kept_from_scim(&self, scim: &Value) -> Map<String, Value> {
        let schema = self.schema();
        let mut kept = Map::new();
        for rule in self.rules.iter().filter(|r| r.store) {
            if let (Some(text), Some(target)) = (&rule.scim_text, &rule.target)
                && let Some(v) = target.get(scim, schema)
            {
                kept.insert(text.clone(), v.clone());
            }
        }
        kept
    }

    /// Puts kept values back into a SCIM resource.
    pub fn merge_kept(&self, scim: &mut Value, kept: &Map<String, Value>) {
        let Some(obj) = scim.as_object_mut() else {
            return;
        };
        let mut touched: Vec<&Target> = Vec::new();
        for rule in self.rules.iter().filter(|r| r.store) {
            if let (Some(text), Some(target)) = (&rule.scim_text, &rule.target)
                && let Some(v) = kept.get(text).filter(|v| !v.is_null())
            {
                target.place(obj, v.clone());
                touched.push(target);
            }
        }
        mark_primary(obj, &touched);
    }

    /// Fails with `mutability` when an `immutable` attribute differs between `old` and `new`
    /// (both canonical SCIM resources); absent in `new` counts as unchanged, and so does setting
    /// a value that `old` did not have (RFC 7643 §2.2: immutable values may be set once).
    /// Strings compare case-insensitively unless the attribute is `caseExact`.
    pub fn check_immutable(&self, old: &Value, new: &Value) -> Result<()> {
        let schema = self.schema();
        for rule in self.rules.iter().filter(|r| r.immutable) {
            let Some(target) = &rule.target else { continue };
            let (Some(a), Some(b)) = (target.get(old, schema), target.get(new, schema)) else {
                continue;
            };
            if !same_value(a, b, target.leaf().case_exact) {
                let name = rule.scim_text.as_deref().unwrap_or(target.attr.name);
                return Err(Error::mutability(format!(
                    "{name} cannot be changed once set"
                )));
            }
        }
        Ok(())
    }

    /// Whether the mapping can read this SCIM attribute (for filters): a rule exists whose SCIM
    /// side is this path, its parent (`name` for `name.givenName`) or one of its sub-attributes.
    /// A value-path rule (`emails[type eq "work"].value`) also covers the sub-attributes of the
    /// elements it builds: those its filter compares with `eq` (`emails.type`) and `primary`.
    /// Rules that are `write_only` do not count; `store` rules do (the sidecar has the value).
    /// `id` is never a rule (it comes from `id_field`), so it is not covered here.
    pub fn knows(&self, path: &AttrPath) -> bool {
        let schema = self.schema();
        let urn = path.urn.as_deref().filter(|u| !schema.is_core(u));
        self.rules
            .iter()
            .filter(|r| !r.write_only)
            .filter_map(|r| r.target.as_ref())
            .any(|t| {
                let same_schema = match (t.ext, urn) {
                    (None, None) => true,
                    (Some(e), Some(u)) => e.id.eq_ignore_ascii_case(u),
                    _ => false,
                };
                same_schema
                    && t.attr.name.eq_ignore_ascii_case(&path.name)
                    && match (t.sub, &path.sub) {
                        (None, _) | (_, None) => true,
                        (Some(a), Some(b)) => {
                            a.name.eq_ignore_ascii_case(b)
                                || t.element_subs().any(|s| s.eq_ignore_ascii_case(b))
                        }
                    }
            })
    }

    /// Attribute paths to advertise in `/Schemas` (readable or writable by some rule), spelled
    /// as the schema spells them, without duplicates. Value-path rules advertise `attr.sub` plus
    /// the sub-attributes of the elements they build (`emails.type`, `emails.primary`).
    pub fn advertised(&self) -> Vec<AttrPath> {
        let mut out: Vec<AttrPath> = Vec::new();
        for t in self.rules.iter().filter_map(|r| r.target.as_ref()) {
            let path = |sub: Option<&str>| AttrPath {
                urn: t.ext.map(|e| e.id.to_string()),
                name: t.attr.name.to_string(),
                sub: sub.map(str::to_string),
            };
            let subs = std::iter::once(t.sub.map(|s| s.name)).chain(
                t.sub
                    .is_some()
                    .then_some(t.element_subs())
                    .into_iter()
                    .flatten()
                    .map(Some),
            );
            for sub in subs {
                let p = path(sub);
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
        out
    }
}

impl Rule {
    fn label(&self) -> &str {
        self.scim_text.as_deref().unwrap_or("attribute")
    }

    /// SCIM value → application value: value map, then `app_type`.
    fn to_app_value(&self, v: &Value) -> Result<Value> {
        let label = self.label();
        let mapped = match &self.map {
            Some(map) => {
                let text = scalar_text(v).ok_or_else(|| {
                    Error::invalid_value(format!("{label}: expected a single value"))
                })?;
                let found = map.iter().find(|(k, _)| *k == text).or_else(|| {
                    map.iter()
                        .find(|(k, _)| k.to_lowercase() == text.to_lowercase())
                });
                match found {
                    Some((_, app)) => return Ok(app.clone()),
                    None => {
                        let allowed: Vec<String> =
                            map.iter().map(|(k, _)| format!("\"{k}\"")).collect();
                        return Err(Error::invalid_value(format!(
                            "{label}: \"{text}\" is not an allowed value; allowed: {}",
                            allowed.join(", ")
                        )));
                    }
                }
            }
            None => v,
        };
        match self.app_type {
            None => Ok(mapped.clone()),
            Some(t) => {
                convert_app(mapped, t).map_err(|m| Error::invalid_value(format!("{label}: {m}")))
            }
        }
    }

    /// Application value → SCIM value: reverse value map, then the schema type.
    fn to_scim_value(&self, raw: &Value, target: &Target) -> Result<Value, String> {
        // Only an error names the rule: built on the way out, not for every value converted.
        let app_desc = || self.app.as_ref().map(|p| p.to_string()).unwrap_or_default();
        if let Some(map) = &self.map {
            let found = map.iter().find(|(_, app)| {
                app == raw
                    || self
                        .app_type
                        .is_some_and(|t| convert_app(raw, t).ok().as_ref() == Some(app))
            });
            return match (found, &self.map_default) {
                (Some((k, _)), _) => Ok(target
                    .to_scim(&Value::String(k.clone()))
                    .unwrap_or_else(|_| Value::String(k.clone()))),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(format!(
                    "{}: the application value at `{}` has no entry in `map` \
                     (and there is no `map_default`)",
                    self.label(),
                    app_desc()
                )),
            };
        }
        target.to_scim(raw).map_err(|m| {
            format!(
                "{}: the application value at `{}` {m}",
                self.label(),
                app_desc()
            )
        })
    }
}

impl Target {
    /// Sub-attributes of the elements a value-path rule builds besides its own: the filter's
    /// `eq` comparisons and `primary` (schema spelling).
    fn element_subs(&self) -> impl Iterator<Item = &'static str> + '_ {
        let select = self.select.as_ref();
        let eqs = select
            .into_iter()
            .flat_map(|s| s.eqs.iter().map(|(n, _)| *n));
        let primary = select.and(self.attr.find_sub("primary")).map(|d| d.name);
        eqs.chain(primary)
    }

    /// The definition that types the value this rule moves.
    fn leaf(&self) -> &'static AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Whether the rule moves a whole complex value (an object, or the array of a multi-valued
    /// attribute) rather than a scalar.
    fn is_whole(&self) -> bool {
        self.sub.is_none() && self.attr.ty == AttrType::Complex
    }

    /// The SCIM value this rule addresses in `resource` (`None` when absent or null).
    fn get<'a>(&self, resource: &'a Value, schema: &ResourceSchema) -> Option<&'a Value> {
        let obj = resource.as_object()?;
        let container = match self.ext {
            Some(e) => get_ci(obj, e.id)?.as_object()?,
            None => obj,
        };
        let top = get_ci(container, self.attr.name).filter(|v| !v.is_null())?;
        let item = match &self.select {
            None => top,
            Some(sel) => {
                let elements = match top {
                    Value::Array(a) => a.as_slice(),
                    other => std::slice::from_ref(other),
                };
                self.pick(sel, elements, schema)?
            }
        };
        match self.sub {
            None => Some(item),
            Some(s) => get_ci(item.as_object()?, s.name).filter(|v| !v.is_null()),
        }
    }

    /// The element a value-path rule reads: the primary one among those matching the filter,
    /// else the first matching one; when none matches and the filter is only `eq` comparisons,
    /// the primary element, else the first element.
    fn pick<'a>(
        &self,
        sel: &Select,
        elements: &'a [Value],
        schema: &ResourceSchema,
    ) -> Option<&'a Value> {
        let matching: Vec<&Value> = elements
            .iter()
            .filter(|e| self.element_matches(sel, e, schema))
            .collect();
        if let Some(e) = matching.iter().find(|e| is_primary(e)).or(matching.first()) {
            return Some(e);
        }
        if sel.only_eqs {
            elements.iter().find(|e| is_primary(e)).or(elements.first())
        } else {
            None
        }
    }

    fn element_matches(&self, sel: &Select, element: &Value, schema: &ResourceSchema) -> bool {
        let Some(filter) = &sel.filter else {
            return true;
        };
        if sel.only_eqs {
            return self.has_eqs(sel, element);
        }
        // Anything richer than `eq`s goes through the filter evaluator, on a resource that holds
        // just this element.
        let mut single = Map::new();
        single.insert(self.attr.name.into(), Value::Array(vec![element.clone()]));
        let resource = match self.ext {
            Some(e) => {
                let mut top = Map::new();
                top.insert(e.id.into(), Value::Object(single));
                top
            }
            None => single,
        };
        let vp = Filter::ValuePath {
            attr: AttrPath {
                urn: self.ext.map(|e| e.id.to_string()),
                name: self.attr.name.to_string(),
                sub: None,
            },
            filter: Box::new(filter.clone()),
        };
        vp.matches(&Value::Object(resource), schema)
    }

    /// Whether `element` satisfies every `eq` constraint of the selection.
    fn has_eqs(&self, sel: &Select, element: &Value) -> bool {
        let Some(obj) = element.as_object() else {
            return false;
        };
        sel.eqs.iter().all(|(name, want)| {
            let case_exact = self.attr.find_sub(name).is_some_and(|d| d.case_exact);
            get_ci(obj, name).is_some_and(|have| same_value(have, want, case_exact))
        })
    }

    /// Puts `value` where this rule's SCIM side lives in `resource`, creating the extension
    /// object (and listing its URN in `schemas`), parent objects and array elements on the way.
    fn place(&self, resource: &mut Map<String, Value>, value: Value) {
        let container = match self.ext {
            Some(e) => {
                add_schema(resource, e.id);
                object_at(resource, e.id)
            }
            None => resource,
        };
        match &self.select {
            None => match self.sub {
                None => {
                    container.insert(self.attr.name.into(), value);
                }
                Some(s) => {
                    object_at(container, self.attr.name).insert(s.name.into(), value);
                }
            },
            Some(sel) => {
                let slot = container
                    .entry(self.attr.name)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let Value::Array(elements) = slot else { return };
                let pos = match elements.iter().position(|e| self.has_eqs(sel, e)) {
                    Some(p) => p,
                    None => {
                        let mut fresh = Map::new();
                        for (name, v) in &sel.eqs {
                            fresh.insert((*name).into(), v.clone());
                        }
                        elements.push(Value::Object(fresh));
                        elements.len() - 1
                    }
                };
                let Some(Value::Object(element)) = elements.get_mut(pos) else {
                    return;
                };
                match (self.sub, value) {
                    (Some(s), v) => {
                        element.insert(s.name.into(), v);
                    }
                    (None, Value::Object(fields)) => {
                        for (k, v) in fields {
                            if !sel.eqs.iter().any(|(n, _)| n.eq_ignore_ascii_case(&k)) {
                                element.insert(k, v);
                            }
                        }
                    }
                    // Checked by `to_scim`: a whole element is always an object.
                    (None, _) => {}
                }
            }
        }
    }

    /// Converts an application value to this attribute's SCIM type; the error completes
    /// "the application value at `x` …".
    fn to_scim(&self, v: &Value) -> Result<Value, String> {
        if self.is_whole() {
            let want_array = self.attr.multi && self.select.is_none();
            return match v {
                Value::Array(_) if want_array => Ok(v.clone()),
                Value::Object(_) if !want_array => Ok(v.clone()),
                _ if want_array => Err("is not an array".into()),
                _ => Err("is not an object".into()),
            };
        }
        to_scim_type(v, self.leaf().ty)
    }
}

/// Converts a scalar to a SCIM type; the error completes "the value …".
fn to_scim_type(v: &Value, ty: AttrType) -> Result<Value, String> {
    match ty {
        AttrType::String
        | AttrType::Reference
        | AttrType::DateTime
        | AttrType::Binary
        | AttrType::Complex => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err("is not a string, number or boolean".into()),
        },
        AttrType::Boolean => parse_bool(v)
            .map(Value::Bool)
            .ok_or_else(|| "is not a boolean (true/false)".to_string()),
        AttrType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| "is not an integer".to_string()),
            _ => Err("is not an integer".into()),
        },
        AttrType::Decimal => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "is not a number".to_string()),
            _ => Err("is not a number".into()),
        },
    }
}

/// Converts a value to the application type; the error says what went wrong.
fn convert_app(v: &Value, t: AppType) -> Result<Value, String> {
    match t {
        AppType::String => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err("cannot be sent as a string".into()),
        },
        AppType::Number => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::Bool(b) => Ok(Value::from(u8::from(*b))),
            Value::String(s) => {
                let s = s.trim();
                if let Ok(i) = s.parse::<i64>() {
                    Ok(Value::from(i))
                } else {
                    s.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                        .ok_or_else(|| format!("\"{s}\" is not a number"))
                }
            }
            _ => Err("cannot be sent as a number".into()),
        },
        AppType::Boolean => parse_bool(v)
            .map(Value::Bool)
            .ok_or_else(|| "cannot be sent as a boolean".to_string()),
    }
}

/// `true`/`false`, the strings `"true"`/`"false"` (any case), `"1"`/`"0"`, or the numbers 1/0.
fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") || s == "1" {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") || s == "0" {
                Some(false)
            } else {
                None
            }
        }
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A scalar as map-key text: strings as they are, booleans as `true`/`false`, numbers as written.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn same_value(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact => {
            x == y || x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    }
}

fn is_primary(v: &Value) -> bool {
    v.as_object()
        .and_then(|o| get_ci(o, "primary"))
        .and_then(parse_bool)
        .unwrap_or(false)
}

/// The object under `key`, made an object if it is anything else.
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

fn add_schema(resource: &mut Map<String, Value>, urn: &str) {
    let slot = resource
        .entry("schemas")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(list) = slot
        && !list
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    {
        list.push(Value::String(urn.into()));
    }
}

/// Marks the first element of each multi-valued attribute that value-path rules filled
/// `primary: true`, unless some element already is primary.
fn mark_primary(resource: &mut Map<String, Value>, touched: &[&Target]) {
    for t in touched.iter().filter(|t| t.select.is_some()) {
        let container = match t.ext {
            Some(e) => match resource.get_mut(e.id).and_then(Value::as_object_mut) {
                Some(c) => c,
                None => continue,
            },
            None => &mut *resource,
        };
        if let Some(Value::Array(elements)) = container.get_mut(t.attr.name)
            && !elements.iter().any(is_primary)
            && let Some(Value::Object(first)) = elements.first_mut()
        {
            first.insert("primary".into(), Value::Bool(true));
        }
    }
}

fn comp_to_json(v: &CompValue) -> Value {
    match v {
        CompValue::Null => Value::Null,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::String(s) => Value::String(s.clone()),
    }
}

/// Collects the `eq` comparisons of `f`'s top-level `and` chain into `out`; returns whether `f`
/// is made of nothing else.
fn collect_eqs(f: &Filter, attr: &AttrDef, out: &mut Vec<(&'static str, Value)>) -> bool {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() && *value != CompValue::Null => {
            match attr.find_sub(&path.name) {
                Some(d) => {
                    out.push((d.name, comp_to_json(value)));
                    true
                }
                None => false,
            }
        }
        Filter::And(a, b) => {
            let left = collect_eqs(a, attr, out);
            let right = collect_eqs(b, attr, out);
            left && right
        }
        _ => false,
    }
}

/// Checks that a value filter only names sub-attributes of `attr`.
fn check_value_filter(f: &Filter, attr: &AttrDef) -> Result<(), String> {
    let check = |p: &AttrPath| {
        if p.urn.is_none() && p.sub.is_none() && attr.find_sub(&p.name).is_some() {
            Ok(())
        } else {
            Err(format!(
                "the value filter names \"{}\", which is not a sub-attribute of {}",
                p.name, attr.name
            ))
        }
    };
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => check(path),
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_value_filter(a, attr)?;
            check_value_filter(b, attr)
        }
        Filter::Not(inner) => check_value_filter(inner, attr),
        Filter::ValuePath { .. } => Err("nested value filters are not supported".into()),
    }
}

/// Resolves a parsed SCIM path against the schema; the error is the message after the key.
fn resolve(pp: &PatchPath, text: &str, schema: &ResourceSchema) -> Result<Target, String> {
    let unknown = || format!("unknown SCIM attribute \"{text}\"");
    let (owner, attr) = schema
        .find(pp.attr.urn.as_deref(), &pp.attr.name)
        .ok_or_else(unknown)?;
    let ext = owner.filter(|s| !std::ptr::eq(*s, schema.core));
    if ext.is_none() && owner.is_none() && attr.name == "id" {
        return Err("`id` cannot be mapped by a rule; set `id_field` instead".into());
    }
    let sub_name = pp.attr.sub.as_deref().or(pp.sub.as_deref());
    let sub = match sub_name {
        None => None,
        Some(s) => Some(attr.find_sub(s).ok_or_else(unknown)?),
    };
    let select = match &pp.value_filter {
        Some(f) => {
            if !attr.multi {
                return Err(format!(
                    "\"{text}\": a value filter needs a multi-valued attribute; {} is single-valued",
                    attr.name
                ));
            }
            check_value_filter(f, attr).map_err(|m| format!("\"{text}\": {m}"))?;
            let mut eqs = Vec::new();
            let only_eqs = collect_eqs(f, attr, &mut eqs);
            Some(Select {
                filter: Some(f.clone()),
                eqs,
                only_eqs,
            })
        }
        None if attr.multi && sub.is_some() => Some(Select {
            filter: None,
            eqs: Vec::new(),
            only_eqs: true,
        }),
        None => None,
    };
    Ok(Target {
        ext,
        attr,
        sub,
        select,
    })
}

/// Compiles one rule, pushing every problem found; `None` when the rule is unusable.
fn compile_rule(
    key: &str,
    r: &AttributeRule,
    schema: &ResourceSchema,
    problems: &mut Vec<String>,
) -> Option<Rule> {
    let before = problems.len();
    let mut problem = |k: &str, msg: String| {
        if k.is_empty() {
            problems.push(format!("{key}: {msg}"));
        } else {
            problems.push(format!("{key}.{k}: {msg}"));
        }
    };

    let mut parsed = None;
    let mut target = None;
    if let Some(text) = &r.scim {
        match parse_path(text) {
            Err(e) => problem("scim", format!("\"{text}\": {}", e.detail())),
            Ok(pp) => match resolve(&pp, text, schema) {
                Err(m) => problem("scim", m),
                Ok(t) => {
                    let mutability = t.sub.map(|s| s.mutability);
                    let read_only_attr = t.attr.mutability == Mutability::ReadOnly
                        || mutability == Some(Mutability::ReadOnly);
                    let write_only_attr = t.attr.mutability == Mutability::WriteOnly
                        || mutability == Some(Mutability::WriteOnly);
                    if read_only_attr && !r.read_only {
                        problem(
                            "read_only",
                            format!(
                                "\"{text}\" is read-only in SCIM; the rule must say `read_only = true`"
                            ),
                        );
                    }
                    if write_only_attr && !r.write_only && !r.store {
                        problem(
                            "write_only",
                            format!(
                                "\"{text}\" is write-only in SCIM (never returned); the rule must say `write_only = true`"
                            ),
                        );
                    }
                    parsed = Some(pp);
                    target = Some(t);
                }
            },
        }
    } else if r.constant.is_none() && r.default.is_none() {
        problem(
            "scim",
            "required (only a rule with `constant` or `default` may leave it out)".into(),
        );
    }

    let mut app = None;
    match (&r.app, r.store) {
        (Some(_), true) => problem(
            "store",
            "`store = true` and `app` exclude each other".into(),
        ),
        (Some(text), false) if text.is_empty() => problem("app", "must not be empty".into()),
        (Some(text), false) => match JsonPath::parse(text) {
            Ok(p) => app = Some(p),
            Err(m) => problem("app", m),
        },
        (None, false) => problem(
            "app",
            "required (or `store = true` to keep the value in the sidecar)".into(),
        ),
        (None, true) => {}
    }
    if r.store {
        if r.scim.is_none() {
            problem("store", "needs `scim` (the attribute to keep)".into());
        }
        for (k, set) in [
            ("map", r.map.is_some()),
            ("map_default", r.map_default.is_some()),
            ("default", r.default.is_some()),
            ("constant", r.constant.is_some()),
            ("app_type", r.app_type.is_some()),
        ] {
            if set {
                problem(k, "not used with `store = true`".into());
            }
        }
    }
    if r.read_only && r.write_only {
        problem(
            "read_only",
            "`read_only` and `write_only` exclude each other".into(),
        );
    }
    if r.read_only {
        for (k, set) in [
            ("default", r.default.is_some()),
            ("constant", r.constant.is_some()),
        ] {
            if set {
                problem(k, "a `read_only` rule never sends anything".into());
            }
        }
    }
    if r.constant.is_some() && r.default.is_some() {
        problem("default", "has no effect next to `constant`".into());
    }
    if r.immutable && r.scim.is_none() {
        problem("immutable", "needs `scim`".into());
    }
    if r.map_default.is_some() && r.map.is_none() {
        problem("map_default", "needs `map`".into());
    }

    let whole = target.as_ref().is_some_and(Target::is_whole);
    if whole {
        let text = r.scim.as_deref().unwrap_or_default();
        if r.map.is_some() {
            problem(
                "map",
                format!("\"{text}\" is a complex value; a value map needs a single value"),
            );
        }
        if r.app_type.is_some() {
            problem(
                "app_type",
                format!("\"{text}\" is a complex value and cannot be converted"),
            );
        }
    }

    let convert = |v: &Value| match r.app_type {
        Some(t) => convert_app(v, t),
        None => Ok(v.clone()),
    };
    let mut map = None;
    if let (Some(raw), false, false) = (&r.map, whole, r.store) {
        if raw.is_empty() {
            problem("map", "is empty".into());
        }
        let boolean = target
            .as_ref()
            .is_some_and(|t| t.leaf().ty == AttrType::Boolean);
        let mut entries = Vec::new();
        for (k, v) in raw {
            if boolean && !k.eq_ignore_ascii_case("true") && !k.eq_ignore_ascii_case("false") {
                problem(
                    "map",
                    format!(
                        "keys for a boolean attribute must be \"true\" or \"false\", not \"{k}\""
                    ),
                );
            }
            match convert(v) {
                Ok(c) => entries.push((k.clone(), c)),
                Err(m) => problem("map", format!("entry \"{k}\": {m}")),
            }
        }
        map = Some(entries);
    }
    let mut map_default = None;
    if let Some(d) = &r.map_default {
        match &target {
            Some(t) if !whole => match to_scim_type(d, t.leaf().ty) {
                Ok(v) => map_default = Some(v),
                Err(m) => problem(
                    "map_default",
                    format!("{m} (expected a SCIM {})", t.leaf().ty.as_str()),
                ),
            },
            _ => map_default = Some(d.clone()),
        }
    }
    let mut converted = |k: &str, v: &Option<Value>| -> Option<Value> {
        let v = v.as_ref()?;
        match convert(v) {
            Ok(c) => Some(c),
            Err(m) => {
                problem(k, m);
                None
            }
        }
    };
    let default = if r.store {
        None
    } else {
        converted("default", &r.default)
    };
    let constant = if r.store {
        None
    } else {
        converted("constant", &r.constant)
    };

    if problems.len() > before {
        return None;
    }
    Some(Rule {
        scim: parsed,
        scim_text: r.scim.clone(),
        app,
        store: r.store,
        map,
        map_default,
        default,
        constant,
        read_only: r.read_only,
        write_only: r.write_only,
        immutable: r.immutable,
        required: r.required,
        app_type: r.app_type,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ClientError;
    use crate::scim::ENTERPRISE_USER_SCHEMA as ENT;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct File {
        attribute: Vec<AttributeRule>,
    }

    fn try_rules(toml_text: &str) -> Result<Rules, Vec<String>> {
        let f: File = toml::from_str(toml_text).expect("test TOML parses");
        Rules::compile(ResourceKind::User, &f.attribute)
    }

    fn rules(toml_text: &str) -> Rules {
        match try_rules(toml_text) {
            Ok(r) => r,
            Err(p) => panic!("rules did not compile: {p:#?}"),
        }
    }

    fn problems(toml_text: &str) -> Vec<String> {
        match try_rules(toml_text) {
            Ok(_) => panic!("rules compiled but should not have"),
            Err(p) => p,
        }
    }

    fn to_app(r: &Rules, scim: Value, kind: WriteKind, mut app: Value) -> Value {
        r.scim_to_app(&scim, &mut app, kind).expect("scim_to_app");
        app
    }

    #[test]
    fn same_payload_says_yes_only_when_every_read_value_is_equal() {
        let text = format!(
            "{FULL}\n[[attribute]]\nscim = \"title\"\napp = \"title\"\nread_only = true\n\
             [[attribute]]\napp = \"source\"\nconstant = \"scim\"\n"
        );
        let r = rules(&text);
        let base = json!({
            "userName": "ada", "name": {"givenName": "Ada"}, "active": true,
            "emails": [{"type": "work", "value": "ada@x"}], "externalId": "e1", "title": "T"
        });
        let record = json!({"id": 7, "status": "active", "other": 1});
        let check = |changed: Value, expected: bool| {
            assert_eq!(r.same_payload(&base, &changed), expected, "{changed}");
            let a = to_app(&r, base.clone(), WriteKind::Update, record.clone());
            let b = to_app(&r, changed.clone(), WriteKind::Update, record.clone());
            // `true` must mean equal payloads; `false` here always comes with a real difference.
            assert_eq!(a == b, expected, "{changed}");
        };
        check(base.clone(), true);
        // Read-only, stored and unmapped attributes do not reach the payload.
        let mut c = base.clone();
        c["title"] = json!("U");
        c["externalId"] = json!("e2");
        c["nickName"] = json!("Countess");
        check(c, true);
        let mut c = base.clone();
        c["active"] = json!(false);
        check(c, false);
        let mut c = base.clone();
        c["emails"][0]["value"] = json!("ada@y");
        check(c, false);
        let mut c = base.clone();
        c["name"] = json!({"givenName": "Ada", "familyName": "L"});
        check(c, false);
    }

    const FULL: &str = r#"
        [[attribute]]
        scim = "userName"
        app = "email"
        immutable = true
        [[attribute]]
        scim = "name.givenName"
        app = "profile.first_name"
        [[attribute]]
        scim = "name.familyName"
        app = "profile.last_name"
        [[attribute]]
        scim = "emails[type eq \"work\"].value"
        app = "email"
        [[attribute]]
        scim = "phoneNumbers[type eq \"mobile\"].value"
        app = "mobile"
        [[attribute]]
        scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
        app = "dept"
        [[attribute]]
        scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
        app = "manager_id"
        app_type = "number"
        [[attribute]]
        scim = "active"
        app = "status"
        map = { "true" = "active", "false" = "suspended" }
        [[attribute]]
        scim = "roles"
        app = "roles"
        [[attribute]]
        scim = "externalId"
        store = true
        [[attribute]]
        scim = "password"
        app = "password"
        write_only = true
        [[attribute]]
        scim = "meta.created"
        app = "created_at"
        read_only = true
        [[attribute]]
        app = "role"
        default = "member"
        [[attribute]]
        app = "source"
        constant = "scim"
    "#;

    fn okta_user() -> Value {
        json!({
            "schemas": [crate::scim::USER_SCHEMA, ENT],
            "userName": "ada@example.com",
            "externalId": "00u1",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@work.example", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
            "active": true,
            "password": "s3cret",
            "roles": [{"value": "admin"}],
            ENT: {"department": "R&D", "manager": {"value": "17"}},
        })
    }

    #[test]
    fn full_create_writes_every_writable_rule() {
        let r = rules(FULL);
        let app = to_app(&r, okta_user(), WriteKind::Create, json!({}));
        assert_eq!(
            app,
            json!({
                // userName first, then the work email (present) overwrites the same field.
                "email": "ada@work.example",
                "profile": {"first_name": "Ada", "last_name": "Lovelace"},
                "mobile": "+1 555",
                "dept": "R&D",
                "manager_id": 17,
                "status": "active",
                "roles": [{"value": "admin"}],
                "password": "s3cret",
                "role": "member",
                "source": "scim",
            })
        );
    }

    #[test]
    fn create_leaves_absent_attributes_out_and_update_nulls_them() {
        let r = rules(FULL);
        let scim = json!({"userName": "bob", "active": false});
        let app = to_app(&r, scim.clone(), WriteKind::Create, json!({}));
        assert_eq!(
            app,
            json!({"email": "bob", "status": "suspended", "role": "member", "source": "scim"})
        );
        let current = json!({
            "id": 5, "email": "old", "profile": {"first_name": "Old", "last_name": "Name"},
            "mobile": "1", "dept": "X", "manager_id": 3, "status": "active",
            "role": "admin", "created_at": "2020", "source": "ui", "extra": true
        });
        let app = to_app(&r, scim, WriteKind::Update, current);
        assert_eq!(
            app,
            json!({
                "id": 5, "email": "bob",
                "profile": {"first_name": null, "last_name": null},
                "mobile": null, "dept": null, "manager_id": null, "status": "suspended",
                // Application-only defaults apply to new records only.
                "role": "admin",
                "created_at": "2020", "source": "scim", "extra": true,
                "roles": null, "password": null,
            })
        );
    }

    #[test]
    fn a_later_rule_for_the_same_field_wins_only_when_present() {
        let r = rules(FULL);
        // The work email is absent: the userName value stays, even on update (no null).
        let app = to_app(
            &r,
            json!({"userName": "ada"}),
            WriteKind::Update,
            json!({"email": "old"}),
        );
        assert_eq!(app["email"], "ada");
        // Reversed order: the later userName rule is always present and wins.
        let r = rules(
            r#"
            [[attribute]]
            scim = "emails[type eq \"work\"].value"
            app = "email"
            [[attribute]]
            scim = "userName"
            app = "email"
            "#,
        );
        let app = to_app(&r, okta_user(), WriteKind::Create, json!({}));
        assert_eq!(app, json!({"email": "ada@example.com"}));
    }

    #[test]
    fn scim_defaults_fill_absent_values_on_create_and_update() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "locale"
            app = "locale"
            default = "en-US"
            "#,
        );
        let app = to_app(&r, json!({"userName": "a"}), WriteKind::Create, json!({}));
        assert_eq!(app, json!({"login": "a", "locale": "en-US"}));
        let app = to_app(
            &r,
            json!({"userName": "a"}),
            WriteKind::Update,
            json!({"locale": "fr"}),
        );
        assert_eq!(app, json!({"login": "a", "locale": "en-US"}));
        let app = to_app(
            &r,
            json!({"userName": "a", "locale": "de"}),
            WriteKind::Create,
            json!({}),
        );
        assert_eq!(app["locale"], "de");
    }

    #[test]
    fn value_maps_match_exactly_then_case_insensitively_and_refuse_the_rest() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "userType"
            app = "kind"
            map = { Employee = "emp", Contractor = "ext", contractor = "lower" }
            "#,
        );
        let send = |t: &str| {
            let mut app = json!({});
            r.scim_to_app(
                &json!({"userName": "a", "userType": t}),
                &mut app,
                WriteKind::Create,
            )
            .map(|_| app["kind"].clone())
        };
        assert_eq!(send("Employee").unwrap(), "emp");
        assert_eq!(send("contractor").unwrap(), "lower");
        assert_eq!(send("EMPLOYEE").unwrap(), "emp");
        let err = send("Intern").unwrap_err();
        assert_eq!(err.class().status, 400);
        assert!(matches!(
            err.root(),
            Error::Client(ClientError::InvalidValue(_))
        ));
        let msg = err.to_string();
        assert!(msg.contains("userType"), "{msg}");
        assert!(msg.contains("\"Intern\""), "{msg}");
        assert!(msg.contains("\"Contractor\", \"Employee\""), "{msg}");
        // A complex value cannot be looked up.
        let mut app = json!({});
        let err = r
            .scim_to_app(
                &json!({"userName": "a", "userType": {"x": 1}}),
                &mut app,
                WriteKind::Create,
            )
            .unwrap_err();
        assert!(err.to_string().contains("single value"), "{err}");
    }

    #[test]
    fn map_values_go_through_app_type() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            app_type = "string"
            [[attribute]]
            scim = "active"
            app = "enabled"
            map = { "true" = "1", "false" = "0" }
            app_type = "number"
            [[attribute]]
            scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
            app = "emp_no"
            app_type = "number"
            [[attribute]]
            scim = "nickName"
            app = "vip"
            app_type = "boolean"
            "#,
        );
        let scim = json!({"userName": "a", "active": false, ENT: {"employeeNumber": "0042"}, "nickName": "TRUE"});
        let app = to_app(&r, scim, WriteKind::Create, json!({}));
        assert_eq!(
            app,
            json!({"login": "a", "enabled": 0, "emp_no": 42, "vip": true})
        );
        // And back: 0 → false through the reverse map, 42 → "42", true → "true".
        let back = r.app_to_scim(&app).unwrap();
        assert_eq!(back["active"], false);
        assert_eq!(back[ENT]["employeeNumber"], "42");
        assert_eq!(back["nickName"], "true");
        let mut app = json!({});
        let err = r
            .scim_to_app(
                &json!({"userName": "a", ENT: {"employeeNumber": "A7"}}),
                &mut app,
                WriteKind::Create,
            )
            .unwrap_err();
        assert!(err.to_string().contains("employeeNumber"), "{err}");
        assert!(err.to_string().contains("not a number"), "{err}");
    }

    #[test]
    fn value_paths_fall_back_to_primary_then_first_for_eq_filters() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "emails[type eq \"work\"].value"
            app = "email"
            "#,
        );
        let email = |emails: Value| {
            to_app(
                &r,
                json!({"userName": "u", "emails": emails}),
                WriteKind::Create,
                json!({}),
            )["email"]
                .clone()
        };
        assert_eq!(
            email(
                json!([{"value": "h", "type": "home", "primary": true}, {"value": "w", "type": "WORK"}])
            ),
            "w",
            "type compares case-insensitively"
        );
        assert_eq!(
            email(
                json!([{"value": "w1", "type": "work"}, {"value": "w2", "type": "work", "primary": true}])
            ),
            "w2",
            "the primary one among matches"
        );
        assert_eq!(
            email(json!([{"value": "o", "type": "other"}, {"value": "p", "primary": true}])),
            "p",
            "no match: the primary element"
        );
        assert_eq!(
            email(json!([{"value": "first"}, {"value": "second"}])),
            "first",
            "no match and no primary: the first element"
        );
        assert_eq!(email(json!([])), Value::Null);
    }

    #[test]
    fn value_paths_with_richer_filters_do_not_fall_back() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "emails[type eq \"work\" or type eq \"other\"].value"
            app = "email"
            "#,
        );
        let app = to_app(
            &r,
            json!({"userName": "u", "emails": [{"value": "h", "type": "home", "primary": true}]}),
            WriteKind::Create,
            json!({}),
        );
        assert!(app.get("email").is_none(), "{app}");
        let app = to_app(
            &r,
            json!({"userName": "u", "emails": [{"value": "h", "type": "home"}, {"value": "o", "type": "other"}]}),
            WriteKind::Create,
            json!({}),
        );
        assert_eq!(app["email"], "o");
    }

    #[test]
    fn dotted_multi_valued_sub_attribute_reads_the_primary_element() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "emails.value"
            app = "email"
            "#,
        );
        let app = to_app(
            &r,
            json!({"userName": "u", "emails": [{"value": "a"}, {"value": "b", "primary": true}]}),
            WriteKind::Create,
            json!({}),
        );
        assert_eq!(app["email"], "b");
        let scim = r.app_to_scim(&json!({"login": "u", "email": "x"})).unwrap();
        assert_eq!(scim["emails"], json!([{"value": "x", "primary": true}]));
    }

    #[test]
    fn app_to_scim_builds_canonical_resources() {
        let r = rules(FULL);
        let app = json!({
            "id": 7,
            "email": "ada@example.com",
            "profile": {"first_name": "Ada", "last_name": null},
            "mobile": 5551234,
            "dept": "R&D",
            "manager_id": 17,
            "status": "active",
            "roles": [{"value": "admin"}],
            "password": "hash",
            "created_at": "2024-01-02T03:04:05Z",
            "role": "member",
        });
        let scim = r.app_to_scim(&app).unwrap();
        assert_eq!(
            scim,
            json!({
                "schemas": [crate::scim::USER_SCHEMA, ENT],
                "userName": "ada@example.com",
                "name": {"givenName": "Ada"},
                "emails": [{"type": "work", "value": "ada@example.com", "primary": true}],
                "phoneNumbers": [{"type": "mobile", "value": "5551234", "primary": true}],
                ENT: {"department": "R&D", "manager": {"value": "17"}},
                "active": true,
                "roles": [{"value": "admin"}],
                "meta": {"created": "2024-01-02T03:04:05Z"},
            })
        );
        assert!(scim.get("password").is_none());
        assert!(scim.get("externalId").is_none());
        assert!(scim.get("id").is_none());
        // An empty record gives just the schemas.
        assert_eq!(
            r.app_to_scim(&json!({})).unwrap(),
            json!({"schemas": [crate::scim::USER_SCHEMA]})
        );
    }

    #[test]
    fn several_value_paths_share_one_multi_valued_attribute() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "emails[type eq \"work\"].value"
            app = "work_email"
            [[attribute]]
            scim = "emails[type eq \"home\"].value"
            app = "home_email"
            [[attribute]]
            scim = "emails[type eq \"home\"].display"
            app = "home_label"
            [[attribute]]
            scim = "addresses[type eq \"work\"].locality"
            app = "city"
            [[attribute]]
            scim = "addresses[type eq \"work\"].postalCode"
            app = "zip"
            "#,
        );
        let scim = r
            .app_to_scim(&json!({
                "login": "u", "work_email": "w@x", "home_email": "h@x", "home_label": "Home",
                "city": "Paris", "zip": 75001
            }))
            .unwrap();
        assert_eq!(
            scim["emails"],
            json!([
                {"type": "work", "value": "w@x", "primary": true},
                {"type": "home", "value": "h@x", "display": "Home"},
            ])
        );
        assert_eq!(
            scim["addresses"],
            json!([{"type": "work", "locality": "Paris", "postalCode": "75001", "primary": true}])
        );
        // Only the home email known: it is the first, so it is primary.
        let scim = r
            .app_to_scim(&json!({"login": "u", "home_email": "h@x"}))
            .unwrap();
        assert_eq!(
            scim["emails"],
            json!([{"type": "home", "value": "h@x", "primary": true}])
        );
    }

    #[test]
    fn primary_eq_filters_set_primary_themselves() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "emails[type eq \"home\"].value"
            app = "home"
            [[attribute]]
            scim = "emails[primary eq true].value"
            app = "main"
            "#,
        );
        let scim = r
            .app_to_scim(&json!({"login": "u", "home": "h", "main": "m"}))
            .unwrap();
        assert_eq!(
            scim["emails"],
            json!([{"type": "home", "value": "h"}, {"primary": true, "value": "m"}])
        );
        let app = to_app(
            &r,
            json!({"userName": "u", "emails": [{"value": "a"}, {"value": "b", "primary": true}]}),
            WriteKind::Create,
            json!({}),
        );
        assert_eq!(app["main"], "b");
    }

    #[test]
    fn reverse_maps_type_values_and_use_map_default() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "active"
            app = "status"
            map = { "TRUE" = "active", "false" = "locked" }
            map_default = false
            [[attribute]]
            scim = "title"
            app = "level"
            map = { Boss = 1, Staff = 2 }
            "#,
        );
        let s = r
            .app_to_scim(&json!({"login": "u", "status": "active", "level": 2}))
            .unwrap();
        assert_eq!(s["active"], true);
        assert_eq!(s["title"], "Staff");
        let s = r
            .app_to_scim(&json!({"login": "u", "status": "pending"}))
            .unwrap();
        assert_eq!(s["active"], false, "map_default");
        let err = r
            .app_to_scim(&json!({"login": "u", "level": 9}))
            .unwrap_err();
        assert!(
            matches!(err.root(), Error::App(AppError::BadResponse(_))),
            "{err:?}"
        );
        assert_eq!(err.class().status, 502);
        let msg = err.to_string();
        assert!(msg.contains("title") && msg.contains("`level`"), "{msg}");
        assert!(
            !msg.contains('9'),
            "application values stay out of the detail: {msg}"
        );
    }

    #[test]
    fn app_values_are_converted_to_the_scim_type() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "active"
            app = "enabled"
            [[attribute]]
            scim = "name"
            app = "name"
            [[attribute]]
            scim = "roles"
            app = "roles"
            "#,
        );
        let s = r
            .app_to_scim(&json!({"login": 42, "enabled": "TRUE", "name": {"givenName": "A"}}))
            .unwrap();
        assert_eq!(s["userName"], "42");
        assert_eq!(s["active"], true);
        assert_eq!(s["name"], json!({"givenName": "A"}));
        let s = r.app_to_scim(&json!({"login": "x", "enabled": 0})).unwrap();
        assert_eq!(s["active"], false);
        for bad in [
            json!({"login": {"a": 1}}),
            json!({"login": "x", "enabled": "maybe"}),
            json!({"login": "x", "roles": "admin"}),
            json!({"login": "x", "name": "Ada"}),
        ] {
            let err = r.app_to_scim(&bad).unwrap_err();
            assert!(
                matches!(err.root(), Error::App(AppError::BadResponse(_))),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn read_only_write_only_and_store_rules_go_one_way() {
        let r = rules(FULL);
        let app = to_app(&r, okta_user(), WriteKind::Create, json!({}));
        assert!(app.get("created_at").is_none(), "read_only is never sent");
        assert_eq!(app["password"], "s3cret", "write_only is sent");
        assert!(app.get("externalId").is_none(), "store is never sent");
        let scim = r
            .app_to_scim(&json!({"email": "a", "password": "x", "externalId": "e"}))
            .unwrap();
        assert!(scim.get("password").is_none(), "write_only is never read");
        assert!(
            scim.get("externalId").is_none(),
            "store is never read from the app"
        );
    }

    #[test]
    fn kept_values_round_trip_through_the_store() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "externalId"
            store = true
            [[attribute]]
            scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"
            store = true
            [[attribute]]
            scim = "phoneNumbers[type eq \"fax\"].value"
            store = true
            "#,
        );
        let scim = json!({
            "userName": "u", "externalId": "00u1",
            ENT: {"costCenter": "CC-1"},
            "phoneNumbers": [{"type": "fax", "value": "123"}],
        });
        let kept = r.kept_from_scim(&scim);
        assert_eq!(
            Value::Object(kept.clone()),
            json!({
                "externalId": "00u1",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": "CC-1",
                "phoneNumbers[type eq \"fax\"].value": "123",
            })
        );
        let mut back = r.app_to_scim(&json!({"login": "u"})).unwrap();
        r.merge_kept(&mut back, &kept);
        assert_eq!(
            back,
            json!({
                "schemas": [crate::scim::USER_SCHEMA, ENT],
                "userName": "u",
                "externalId": "00u1",
                ENT: {"costCenter": "CC-1"},
                "phoneNumbers": [{"type": "fax", "value": "123", "primary": true}],
            })
        );
        assert!(r.kept_from_scim(&json!({"userName": "u"})).is_empty());
        let mut untouched = json!({"userName": "u"});
        r.merge_kept(&mut untouched, &Map::new());
        assert_eq!(untouched, json!({"userName": "u"}));
    }

    #[test]
    fn immutable_attributes_cannot_change() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            immutable = true
            [[attribute]]
            scim = "externalId"
            store = true
            immutable = true
            "#,
        );
        let old = json!({"userName": "Ada", "externalId": "x1"});
        assert!(r.check_immutable(&old, &json!({"userName": "Ada"})).is_ok());
        assert!(
            r.check_immutable(&old, &json!({"userName": "ADA"})).is_ok(),
            "userName is not caseExact"
        );
        assert!(
            r.check_immutable(&old, &json!({})).is_ok(),
            "absent = unchanged"
        );
        let err = r
            .check_immutable(&old, &json!({"userName": "Bob"}))
            .unwrap_err();
        assert_eq!(
            err.class().scim_type.map(|t| t.as_str()),
            Some("mutability")
        );
        assert!(err.to_string().contains("userName"), "{err}");
        let err = r
            .check_immutable(&old, &json!({"externalId": "X1"}))
            .unwrap_err();
        assert!(err.to_string().contains("externalId"), "caseExact: {err}");
        assert!(
            r.check_immutable(&json!({}), &json!({"externalId": "new"}))
                .is_ok(),
            "setting a value not yet set is allowed"
        );
    }

    fn ap(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.into(),
            sub: sub.map(str::to_string),
        }
    }

    #[test]
    fn knows_parents_children_and_extensions() {
        let r = rules(FULL);
        assert!(r.knows(&ap(None, "userName", None)));
        assert!(r.knows(&ap(None, "USERNAME", None)));
        assert!(r.knows(&ap(Some(crate::scim::USER_SCHEMA), "userName", None)));
        assert!(r.knows(&ap(None, "name", Some("givenName"))));
        assert!(
            r.knows(&ap(None, "name", None)),
            "parent of a mapped sub-attribute"
        );
        assert!(!r.knows(&ap(None, "name", Some("middleName"))));
        assert!(r.knows(&ap(None, "emails", Some("value"))));
        assert!(r.knows(&ap(None, "emails", None)));
        assert!(!r.knows(&ap(None, "emails", Some("display"))));
        assert!(
            r.knows(&ap(None, "emails", Some("TYPE"))),
            "the rule's eq constraint"
        );
        assert!(
            r.knows(&ap(None, "emails", Some("primary"))),
            "marked by the sidecar"
        );
        assert!(!r.knows(&ap(None, "addresses", Some("type"))));
        assert!(
            r.knows(&ap(None, "roles", Some("value"))),
            "child of a whole attribute"
        );
        assert!(r.knows(&ap(Some(ENT), "department", None)));
        assert!(r.knows(&ap(Some(&ENT.to_lowercase()), "manager", Some("value"))));
        assert!(
            !r.knows(&ap(None, "department", None)),
            "extension needs its URN"
        );
        assert!(
            r.knows(&ap(None, "externalId", None)),
            "stored attributes are known"
        );
        assert!(r.knows(&ap(None, "meta", Some("created"))));
        assert!(!r.knows(&ap(None, "password", None)), "write-only");
        assert!(!r.knows(&ap(None, "title", None)));
        assert!(!r.knows(&ap(None, "id", None)));
    }

    #[test]
    fn advertised_paths_are_canonical_and_unique() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "USERNAME"
            app = "login"
            [[attribute]]
            scim = "userName"
            app = "email"
            [[attribute]]
            scim = "emails[type eq \"work\"].value"
            app = "email"
            [[attribute]]
            scim = "emails[type eq \"home\"].value"
            app = "home"
            [[attribute]]
            scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:DEPARTMENT"
            app = "dept"
            [[attribute]]
            app = "x"
            constant = 1
            "#,
        );
        assert_eq!(
            r.advertised(),
            vec![
                ap(None, "userName", None),
                ap(None, "emails", Some("value")),
                ap(None, "emails", Some("type")),
                ap(None, "emails", Some("primary")),
                ap(Some(ENT), "department", None),
            ]
        );
    }

    #[test]
    fn valid_rule_forms_compile() {
        let r = rules(FULL);
        assert_eq!(r.rules.len(), 14);
        let manager = &r.rules[6];
        assert_eq!(manager.app_type, Some(AppType::Number));
        assert_eq!(
            manager.scim.as_ref().map(|p| p.attr.name.as_str()),
            Some("manager")
        );
        // Constants and defaults are stored converted to `app_type`.
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            app = "org"
            constant = "12"
            app_type = "number"
            "#,
        );
        assert_eq!(r.rules[1].constant, Some(json!(12)));
        // A group rule set does not need userName.
        let f: File = toml::from_str(
            r#"
            [[attribute]]
            scim = "displayName"
            app = "name"
            "#,
        )
        .unwrap();
        assert!(Rules::compile(ResourceKind::Group, &f.attribute).is_ok());
    }

    #[test]
    fn every_mistake_is_reported_with_its_key() {
        let p = problems(
            r#"
            [[attribute]]
            scim = "nmae.givenName"
            app = "first"
            [[attribute]]
            scim = "id"
            app = "id"
            [[attribute]]
            scim = "meta.created"
            app = "created"
            [[attribute]]
            scim = "password"
            app = "pw"
            [[attribute]]
            scim = "externalId"
            app = "ext"
            store = true
            [[attribute]]
            scim = "title"
            app = "title"
            read_only = true
            write_only = true
            [[attribute]]
            scim = "active"
            app = "status"
            map = { yes = "on", "false" = "off" }
            [[attribute]]
            scim = "nickName"
            [[attribute]]
            app = "x"
            [[attribute]]
            scim = "locale"
            app = "loc"
            map_default = "en"
            [[attribute]]
            scim = "title"
            app = "level"
            map = { Boss = "high" }
            app_type = "number"
            [[attribute]]
            scim = "name[givenName eq \"x\"].familyName"
            app = "n"
            [[attribute]]
            scim = "emails[kind eq \"work\"].value"
            app = "e"
            [[attribute]]
            scim = "emails[type eq"
            app = "e"
            [[attribute]]
            scim = "roles"
            app = "roles"
            map = { a = "b" }
            [[attribute]]
            scim = "groups"
            app = "groups"
            "#,
        );
        let expect = [
            "users.attribute[1].scim: unknown SCIM attribute \"nmae.givenName\"",
            "users.attribute[2].scim: `id` cannot be mapped by a rule",
            "users.attribute[3].read_only: \"meta.created\" is read-only in SCIM",
            "users.attribute[4].write_only: \"password\" is write-only in SCIM",
            "users.attribute[5].store: `store = true` and `app` exclude each other",
            "users.attribute[6].read_only: `read_only` and `write_only` exclude each other",
            "users.attribute[7].map: keys for a boolean attribute must be \"true\" or \"false\", not \"yes\"",
            "users.attribute[8].app: required",
            "users.attribute[9].scim: required",
            "users.attribute[10].map_default: needs `map`",
            "users.attribute[11].map: entry \"Boss\": \"high\" is not a number",
            "users.attribute[12].scim: \"name[givenName eq \"x\"].familyName\": a value filter needs a multi-valued attribute",
            "users.attribute[13].scim: \"emails[kind eq \"work\"].value\": the value filter names \"kind\"",
            "users.attribute[14].scim: \"emails[type eq\": invalid path at column 15",
            "users.attribute[15].map: \"roles\" is a complex value",
            "users.attribute[16].read_only: \"groups\" is read-only in SCIM",
            "users.attribute: a rule for `userName` is required",
        ];
        for e in expect {
            assert!(
                p.iter().any(|m| m.starts_with(e)),
                "missing {e:?} in {p:#?}"
            );
        }
        assert_eq!(p.len(), expect.len(), "{p:#?}");
    }

    #[test]
    fn more_combinations_are_refused() {
        let p = problems(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            read_only = true
            default = "x"
            [[attribute]]
            scim = "externalId"
            store = true
            map = { a = "b" }
            [[attribute]]
            app = "flag"
            constant = true
            default = false
            [[attribute]]
            app = "y"
            default = 1
            immutable = true
            [[attribute]]
            scim = "title"
            app = "a..b"
            [[attribute]]
            scim = "title"
            app = ""
            [[attribute]]
            scim = "active"
            app = "on"
            map = { "true" = 1, "false" = 0 }
            map_default = "maybe"
            "#,
        );
        let expect = [
            "users.attribute[1].default: a `read_only` rule never sends anything",
            "users.attribute[2].map: not used with `store = true`",
            "users.attribute[3].default: has no effect next to `constant`",
            "users.attribute[4].immutable: needs `scim`",
            "users.attribute[5].app: `a..b` has an empty segment",
            "users.attribute[6].app: must not be empty",
            "users.attribute[7].map_default: is not a boolean",
        ];
        for e in expect {
            assert!(
                p.iter().any(|m| m.starts_with(e)),
                "missing {e:?} in {p:#?}"
            );
        }
        assert_eq!(p.len(), expect.len(), "{p:#?}");
    }

    #[test]
    fn constants_win_over_scim_values() {
        let r = rules(
            r#"
            [[attribute]]
            scim = "userName"
            app = "login"
            [[attribute]]
            scim = "userType"
            app = "kind"
            constant = "employee"
            "#,
        );
        let app = to_app(
            &r,
            json!({"userName": "u", "userType": "Contractor"}),
            WriteKind::Update,
            json!({"kind": "x"}),
        );
        assert_eq!(app["kind"], "employee");
        // Read back like any rule.
        assert_eq!(r.app_to_scim(&app).unwrap()["userType"], "employee");
    }
}
