//! Schema-aware, case-insensitive access to SCIM resource JSON.
//!
//! The sidecar keeps every resource in one canonical form: core and common attributes at the top
//! level under their schema spelling (`userName`, not `USERNAME`), extension attributes inside an
//! object under their schema URN. [`normalize_input`] turns what clients send into that form;
//! [`project`] applies `attributes` / `excludedAttributes` and the `returned` rules on the way out.
//! [`coerce`] type-checks and canonicalises one attribute value (shared with PATCH);
//! [`container`] and [`find_def`] resolve an [`AttrPath`] to where it lives and what it is.
//!
//! Lookups are case-insensitive everywhere, since clients (and applications) vary the spelling.

use crate::error::{Error, Result};
use crate::scim::filter::AttrPath;
use crate::scim::schema::{AttrDef, AttrType, Mutability, ResourceSchema, Returned, SchemaDef};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Case-insensitive key lookup in a JSON object.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match obj.get(key) {
        Some(v) => Some(v),
        None => obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v),
    }
}

/// Case-insensitive mutable key lookup in a JSON object.
pub fn get_ci_mut<'a>(obj: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    let real = obj.keys().find(|k| k.eq_ignore_ascii_case(key))?.clone();
    obj.get_mut(&real)
}

/// Removes a key case-insensitively, returning its value.
pub fn remove_ci(obj: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let real = obj.keys().find(|k| k.eq_ignore_ascii_case(key))?.clone();
    // `shift_remove` keeps the other keys in order (answers stay in a stable, readable order).
    obj.shift_remove(&real)
}

/// The extension URN whose object holds attribute `name`, or `None` for the top level. `urn` is
/// the path's schema URN: `None` or the core URN mean the top level, except that an unqualified
/// name unknown to the core schema but defined by an extension (`department`) resolves to that
/// extension, leniently. Unknown URNs are returned as written (looked up under that key).
fn extension_key<'p>(schema: &ResourceSchema, urn: Option<&'p str>, name: &str) -> Option<&'p str> {
    match urn {
        Some(u) if !schema.is_core(u) => Some(u),
        Some(_) => None,
        None if schema.find(None, name).is_some() => None,
        None => schema
            .extensions
            .iter()
            .find(|e| e.find(name).is_some())
            .map(|e| e.id),
    }
}

/// The JSON object that holds the top-level attribute `name` of schema `urn` in a canonical
/// resource: the resource itself, or the extension object under its URN key.
pub fn container<'a>(
    resource: &'a Value,
    urn: Option<&str>,
    name: &str,
    schema: &ResourceSchema,
) -> Option<&'a Map<String, Value>> {
    let obj = resource.as_object()?;
    match extension_key(schema, urn, name) {
        None => Some(obj),
        Some(key) => get_ci(obj, key)?.as_object(),
    }
}

/// The definition of the attribute (or sub-attribute) `path` names, resolved like [`container`].
pub fn find_def(schema: &ResourceSchema, path: &AttrPath) -> Option<&'static AttrDef> {
    find_def_in(schema, path.urn.as_deref(), &path.name, path.sub.as_deref())
}

/// [`find_def`] on the parts of a path.
pub fn find_def_in(
    schema: &ResourceSchema,
    urn: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Option<&'static AttrDef> {
    schema.find_attr(extension_key(schema, urn, name), name, sub)
}

/// The value at `path` in a canonical resource (`None` when absent or null). For a path with a
/// sub-attribute on a multi-valued attribute, returns an array of the elements' sub-values.
pub fn get_path<'a>(
    resource: &'a Value,
    path: &AttrPath,
    schema: &ResourceSchema,
) -> Option<Cow<'a, Value>> {
    let holder = container(resource, path.urn.as_deref(), &path.name, schema)?;
    let value = get_ci(holder, &path.name).filter(|v| !v.is_null())?;
    let Some(sub) = &path.sub else {
        return Some(Cow::Borrowed(value));
    };
    match value {
        Value::Object(o) => get_ci(o, sub).filter(|v| !v.is_null()).map(Cow::Borrowed),
        Value::Array(items) => {
            let subs: Vec<Value> = items
                .iter()
                .filter_map(|item| item.as_object().and_then(|o| get_ci(o, sub)))
                .filter(|v| !v.is_null())
                .cloned()
                .collect();
            (!subs.is_empty()).then(|| Cow::Owned(Value::Array(subs)))
        }
        _ => None,
    }
}

/// Nothing worth keeping: `null` or `{}`.
fn is_void(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Turns a client-sent resource body into canonical form:
/// - keys respelled as the schema spells them; extension attributes moved under their URN key
///   (clients may also send `"urn:…:User:department": "x"` flattened at top level);
/// - `null` values and empty objects dropped; string booleans (`"True"`) turned into booleans for
///   boolean attributes;
/// - read-only attributes the client echoes (`id`, `meta`, `groups`) dropped, as are unknown
///   extension schemas and unknown attributes (RFC 7644 lets us ignore them);
/// - `schemas` rewritten to the core URN plus the extensions actually present.
///
/// Fails with `invalidValue`/`invalidSyntax` when the body is not an object or an attribute has
/// the wrong JSON type (e.g. `userName: 5`, `emails: "x"`).
pub fn normalize_input(body: Value, schema: &ResourceSchema) -> Result<Value> {
    let Value::Object(body) = body else {
        return Err(Error::invalid_syntax(format!(
            "the {} resource must be a JSON object",
            schema.kind.name()
        )));
    };
    let mut out = Out {
        core: Map::new(),
        exts: schema.extensions.iter().map(|e| (*e, Map::new())).collect(),
    };
    for (key, value) in body {
        if value.is_null() || key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if !starts_with_ci(&key, "urn:") {
            out.put(schema, None, &key, value)?;
            continue;
        }
        if let Some(ext) = schema.extension(&key) {
            let Value::Object(inner) = value else {
                return Err(Error::invalid_value(format!(
                    "`{}` must be an object",
                    ext.id
                )));
            };
            for (k, v) in inner {
                out.put(schema, Some(ext), &k, v)?;
            }
        } else if schema.is_core(&key) {
            // Some clients nest core attributes under the core URN.
            let Value::Object(inner) = value else {
                return Err(Error::invalid_value(format!(
                    "`{}` must be an object",
                    schema.core.id
                )));
            };
            for (k, v) in inner {
                out.put(schema, None, &k, v)?;
            }
        } else if let Some(colon) = key.rfind(':') {
            // Flattened: `urn:…:enterprise:2.0:User:department` or `…:User:manager.value`.
            let (urn, attr) = (&key[..colon], &key[colon + 1..]);
            if let Some(ext) = schema.extension(urn) {
                out.put(schema, Some(ext), attr, value)?;
            } else if schema.is_core(urn) {
                out.put(schema, None, attr, value)?;
            }
            // Anything else is an extension this resource type does not have: ignored.
        }
    }
    let mut result = Map::new();
    let mut schemas = vec![Value::String(schema.core.id.to_string())];
    schemas.extend(
        out.exts
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(e, _)| Value::String(e.id.to_string())),
    );
    result.insert("schemas".into(), Value::Array(schemas));
    result.extend(out.core);
    for (ext, attrs) in out.exts {
        if !attrs.is_empty() {
            result.insert(ext.id.to_string(), Value::Object(attrs));
        }
    }
    Ok(Value::Object(result))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The canonical resource being built by [`normalize_input`].
struct Out {
    core: Map<String, Value>,
    exts: Vec<(&'static SchemaDef, Map<String, Value>)>,
}

impl Out {
    /// Adds one client-sent attribute (`name` or dotted `name.sub`) of the core schema (`ext`
    /// `None`) or of an extension.
    fn put(
        &mut self,
        schema: &ResourceSchema,
        ext: Option<&'static SchemaDef>,
        key: &str,
        value: Value,
    ) -> Result<()> {
        if value.is_null() {
            return Ok(());
        }
        let (name, sub) = match key.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (key, None),
        };
        let def = match ext {
            Some(e) => e.find(name),
            None => schema.find(None, name).map(|(_, d)| d),
        };
        // Unknown attributes and the read-only ones clients echo (`id`, `meta`, `groups`).
        let Some(def) = def.filter(|d| d.mutability != Mutability::ReadOnly) else {
            return Ok(());
        };
        let label = Label {
            parent: None,
            urn: ext.map(|e| e.id),
            name: def.name,
        };
        let value = match sub {
            None => coerce_at(def, value, &label)?,
            Some(sub) => {
                // A dotted key only makes sense on a single-valued complex attribute.
                let Some(sd) = def.find_sub(sub).filter(|_| !def.multi) else {
                    return Ok(());
                };
                let v = coerce_at(sd, value, &label.sub(sd.name))?;
                if is_void(&v) {
                    return Ok(());
                }
                let mut m = Map::new();
                m.insert(sd.name.to_string(), v);
                Value::Object(m)
            }
        };
        if is_void(&value) {
            return Ok(());
        }
        let target = match ext {
            None => &mut self.core,
            Some(e) => match self.exts.iter_mut().find(|(x, _)| x.id == e.id) {
                Some((_, m)) => m,
                None => return Ok(()),
            },
        };
        // `name` and `name.givenName` (or `userName` and `USERNAME`) may both be sent: merge.
        match (target.get_mut(def.name), value) {
            (Some(Value::Object(existing)), Value::Object(new)) => existing.extend(new),
            (_, value) => {
                target.insert(def.name.to_string(), value);
            }
        }
        Ok(())
    }
}

/// Type-checks one attribute value against its definition and brings it to canonical form:
/// sub-attribute keys respelled as the schema spells them (unknown ones and nulls dropped),
/// string booleans (`"True"`) turned into booleans, and, leniently, a single object where an
/// array is expected wrapped into an array, a one-element array where a single value is expected
/// unwrapped (Entra's `manager: [{"value": …}]`), and a plain value where a complex attribute
/// with a `value` sub-attribute is expected turned into `{"value": …}` (Entra's manager id).
///
/// Returns `Null` for `null` (or an empty array on a single-valued attribute): the caller decides
/// what absence means. `label` names the attribute in errors (`invalidValue`).
pub fn coerce(def: &AttrDef, value: Value, label: &str) -> Result<Value> {
    coerce_at(def, value, &Label::plain(label))
}

/// Names an attribute in error messages without building the text unless an error is written:
/// an extension URN, a name, and the label of the attribute it belongs to (`urn:…:User:manager`
/// then `.value`). Every attribute of every written resource is checked, and a `format!` per
/// attribute and sub-attribute was a noticeable part of a create.
#[derive(Clone, Copy)]
struct Label<'a> {
    parent: Option<&'a Label<'a>>,
    urn: Option<&'a str>,
    name: &'a str,
}

impl<'a> Label<'a> {
    fn plain(name: &'a str) -> Label<'a> {
        Label {
            parent: None,
            urn: None,
            name,
        }
    }

    fn sub(&'a self, name: &'a str) -> Label<'a> {
        Label {
            parent: Some(self),
            urn: None,
            name,
        }
    }
}

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        if let Some(urn) = self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(self.name)
    }
}

fn coerce_at(def: &AttrDef, value: Value, label: &Label) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if def.multi {
        let items = match value {
            Value::Array(items) => items,
            obj @ Value::Object(_) => vec![obj],
            _ => return Err(wrong_type(def, label, true)),
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.is_null() {
                continue;
            }
            let v = coerce_one(def, item, label, true)?;
            if !is_void(&v) {
                out.push(v);
            }
        }
        return Ok(Value::Array(out));
    }
    match value {
        Value::Array(mut items) if items.len() <= 1 => match items.pop() {
            Some(item) => coerce_one(def, item, label, false),
            None => Ok(Value::Null),
        },
        value => coerce_one(def, value, label, false),
    }
}

fn wrong_type(def: &AttrDef, label: &Label, in_multi: bool) -> Error {
    let expected = match def.ty {
        AttrType::Complex => "an object",
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::String | AttrType::DateTime | AttrType::Binary | AttrType::Reference => {
            "a string"
        }
    };
    if in_multi || def.multi {
        let expected = match def.ty {
            AttrType::Complex => "objects",
            AttrType::Boolean => "booleans",
            AttrType::Integer => "integers",
            AttrType::Decimal => "numbers",
            _ => "strings",
        };
        Error::invalid_value(format!("`{label}` must be an array of {expected}"))
    } else {
        Error::invalid_value(format!("`{label}` must be {expected}"))
    }
}

/// One (single, or one element of a multi-valued) value.
fn coerce_one(def: &AttrDef, value: Value, label: &Label, in_multi: bool) -> Result<Value> {
    match (def.ty, value) {
        (AttrType::Complex, Value::Object(obj)) => {
            let mut out = Map::new();
            for (k, v) in obj {
                let Some(sd) = def.find_sub(&k) else {
                    continue;
                };
                let v = coerce_at(sd, v, &label.sub(sd.name))?;
                if !is_void(&v) {
                    out.insert(sd.name.to_string(), v);
                }
            }
            Ok(Value::Object(out))
        }
        (AttrType::Complex, v @ (Value::String(_) | Value::Number(_) | Value::Bool(_)))
            if !in_multi =>
        {
            let Some(vd) = def.find_sub("value") else {
                return Err(wrong_type(def, label, in_multi));
            };
            let v = coerce_at(vd, v, &label.sub("value"))?;
            let mut out = Map::new();
            out.insert(vd.name.to_string(), v);
            Ok(Value::Object(out))
        }
        (AttrType::Boolean, Value::Bool(b)) => Ok(Value::Bool(b)),
        (AttrType::Boolean, Value::String(s)) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong_type(def, label, in_multi)),
        },
        (
            AttrType::String | AttrType::DateTime | AttrType::Binary | AttrType::Reference,
            v @ Value::String(_),
        ) => Ok(v),
        (AttrType::Decimal, v @ Value::Number(_)) => Ok(v),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
        _ => Err(wrong_type(def, label, in_multi)),
    }
}

/// Where a requested attribute path points, resolved against the schema.
enum Target<'p> {
    /// A whole extension object (`attributes=urn:…:enterprise:2.0:User`).
    Extension(&'static str),
    /// A top-level attribute (`ext` `None`) or one inside an extension object.
    Attr {
        ext: Option<&'p str>,
        name: &'p str,
        sub: Option<&'p str>,
    },
}

fn target<'p>(path: &'p AttrPath, schema: &ResourceSchema) -> Target<'p> {
    if let (Some(urn), None) = (&path.urn, &path.sub) {
        // A bare extension URN parses as `urn:…:2.0` + `User`.
        if let Some(ext) = schema.extension(&format!("{urn}:{}", path.name)) {
            return Target::Extension(ext.id);
        }
    }
    Target::Attr {
        ext: extension_key(schema, path.urn.as_deref(), &path.name),
        name: &path.name,
        sub: path.sub.as_deref(),
    }
}

/// Applies `attributes` (only these, plus `returned: always`) or else `excludedAttributes`
/// (all default attributes minus these), and always drops `returned: never` (`password`).
pub fn project(
    resource: Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Value {
    let Value::Object(mut obj) = resource else {
        return resource;
    };
    if attributes.is_empty() && excluded.is_empty() {
        // The usual read: `returned: request` and `never` attributes go, and extensions left
        // empty, in one pass in place instead of rebuilding the map (what `exclude` with no
        // targets, `strip_never` and the emptiness check give, in the same order).
        obj.retain(|key, value| {
            if key.eq_ignore_ascii_case("schemas") {
                return true;
            }
            match schema.extension(key) {
                Some(ext) => {
                    if let Value::Object(inner) = value {
                        strip_attrs(inner, &|k| ext.find(k), true);
                    }
                    !is_void(value)
                }
                None => keep_attr(schema.find(None, key).map(|(_, d)| d), value, true),
            }
        });
        list_schemas(&mut obj, schema);
        return Value::Object(obj);
    }
    let targets: Vec<Target> = if attributes.is_empty() {
        excluded
    } else {
        attributes
    }
    .iter()
    .map(|p| target(p, schema))
    .collect();
    let mut obj = if attributes.is_empty() {
        exclude(obj, &targets, schema)
    } else {
        keep_only(obj, &targets, schema)
    };
    strip_never(&mut obj, schema);
    obj.retain(|k, v| schema.extension(k).is_none() || !is_void(v));
    list_schemas(&mut obj, schema);
    Value::Object(obj)
}

/// Sets `schemas` to the core URN plus the extensions present, so an extension emptied by the
/// projection (or added by a hook) is listed exactly when its object is there.
fn list_schemas(obj: &mut Map<String, Value>, schema: &ResourceSchema) {
    if get_ci(obj, "schemas").is_none() {
        return;
    }
    let mut list = vec![Value::String(schema.core.id.to_string())];
    list.extend(
        schema
            .extensions
            .iter()
            .filter(|e| obj.keys().any(|k| k.eq_ignore_ascii_case(e.id)))
            .map(|e| Value::String(e.id.to_string())),
    );
    if let Some(slot) = get_ci_mut(obj, "schemas") {
        *slot = Value::Array(list);
    }
}

/// Whether the requests in `targets` for attribute `key` of extension `ext` (or the core) keep
/// the whole attribute (`Some(None)`), some sub-attributes (`Some(Some(subs))`), or nothing.
fn requested<'t>(
    targets: &'t [Target<'t>],
    ext: Option<&str>,
    key: &str,
) -> Option<Option<Vec<&'t str>>> {
    let mut subs = Vec::new();
    let mut any = false;
    for t in targets {
        let Target::Attr { ext: e, name, sub } = t else {
            continue;
        };
        let same_scope = match (ext, e) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        if !same_scope || !name.eq_ignore_ascii_case(key) {
            continue;
        }
        any = true;
        match sub {
            None => return Some(None),
            Some(s) => subs.push(*s),
        }
    }
    any.then_some(Some(subs))
}

fn whole_extension(targets: &[Target], key: &str) -> bool {
    targets
        .iter()
        .any(|t| matches!(t, Target::Extension(id) if id.eq_ignore_ascii_case(key)))
}

/// Keeps only the `subs` of a complex value (or of each element of a multi-valued one).
fn keep_subs(value: Value, subs: &[&str]) -> Option<Value> {
    select_subs(value, subs, true)
}

fn returned(
    schema: &ResourceSchema,
    ext: Option<&'static SchemaDef>,
    key: &str,
) -> Option<Returned> {
    match ext {
        Some(e) => e.find(key),
        None => schema.find(None, key).map(|(_, d)| d),
    }
    .map(|d| d.returned)
}

fn keep_only(
    obj: Map<String, Value>,
    targets: &[Target],
    schema: &ResourceSchema,
) -> Map<String, Value> {
    let select = |ext: Option<&'static SchemaDef>, key: &str, value: Value| -> Option<Value> {
        if returned(schema, ext, key) == Some(Returned::Always) {
            return Some(value);
        }
        match requested(targets, ext.map(|e| e.id), key)? {
            None => Some(value),
            Some(subs) => keep_subs(value, &subs),
        }
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key, value);
        } else if let Some(ext) = schema.extension(&key) {
            if whole_extension(targets, &key) {
                out.insert(key, value);
            } else if let Value::Object(inner) = value {
                let kept: Map<String, Value> = inner
                    .into_iter()
                    .filter_map(|(k, v)| select(Some(ext), &k, v).map(|v| (k, v)))
                    .collect();
                out.insert(key, Value::Object(kept));
            }
        } else if let Some(v) = select(None, &key, value) {
            out.insert(key, v);
        }
    }
    out
}

/// Removes the `subs` of a complex value (or of each element of a multi-valued one); `None` when
/// nothing is left.
fn drop_subs(value: Value, subs: &[&str]) -> Option<Value> {
    select_subs(value, subs, false)
}

/// Keeps (`keep`) or removes (`!keep`) the named sub-attributes of a complex value or of each
/// element of a multi-valued one; `None` when nothing is left. Non-object values have no
/// sub-attributes: selecting drops them, removing leaves them.
fn select_subs(value: Value, subs: &[&str], keep: bool) -> Option<Value> {
    let select = |mut o: Map<String, Value>| -> Option<Value> {
        o.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)) == keep);
        (!o.is_empty()).then_some(Value::Object(o))
    };
    match value {
        Value::Object(o) => select(o),
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(o) => select(o),
                    other => (!keep).then_some(other),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        other => (!keep).then_some(other),
    }
}

fn exclude(
    mut obj: Map<String, Value>,
    targets: &[Target],
    schema: &ResourceSchema,
) -> Map<String, Value> {
    if targets.is_empty() {
        // Nothing asked to be left out (most requests): only `returned: request` attributes
        // go, filtered in place rather than re-inserting (re-hashing) every key.
        let keep = |ext, key: &str| returned(schema, ext, key) != Some(Returned::Request);
        obj.retain(|key, value| {
            if key.eq_ignore_ascii_case("schemas") {
                return true;
            }
            let Some(ext) = schema.extension(key) else {
                return keep(None, key);
            };
            if let Value::Object(inner) = value {
                inner.retain(|k, _| keep(Some(ext), k));
            }
            true
        });
        return obj;
    }
    let select = |ext: Option<&'static SchemaDef>, key: &str, value: Value| -> Option<Value> {
        match returned(schema, ext, key) {
            Some(Returned::Always) => return Some(value),
            // `returned: request` attributes appear only when asked for by name.
            Some(Returned::Request) => return None,
            _ => {}
        }
        match requested(targets, ext.map(|e| e.id), key) {
            None => Some(value),
            Some(None) => None,
            Some(Some(subs)) => drop_subs(value, &subs),
        }
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key, value);
        } else if let Some(ext) = schema.extension(&key) {
            if whole_extension(targets, &key) {
                continue;
            }
            match value {
                Value::Object(inner) => {
                    let kept: Map<String, Value> = inner
                        .into_iter()
                        .filter_map(|(k, v)| select(Some(ext), &k, v).map(|v| (k, v)))
                        .collect();
                    out.insert(key, Value::Object(kept));
                }
                other => {
                    out.insert(key, other);
                }
            }
        } else if let Some(v) = select(None, &key, value) {
            out.insert(key, v);
        }
    }
    out
}

/// Drops `returned: never` attributes and sub-attributes (`password`) everywhere.
fn strip_never(obj: &mut Map<String, Value>, schema: &ResourceSchema) {
    strip_attrs(obj, &|k| schema.find(None, k).map(|(_, d)| d), false);
    for ext in schema.extensions {
        if let Some(Value::Object(inner)) = get_ci_mut(obj, ext.id) {
            strip_attrs(inner, &|k| ext.find(k), false);
        }
    }
}

/// Drops the `returned: never` attributes of one schema's level (and, with `drop_request`, the
/// `returned: request` ones), and `returned: never` sub-attributes inside the others.
fn strip_attrs(
    obj: &mut Map<String, Value>,
    find: &dyn Fn(&str) -> Option<&'static AttrDef>,
    drop_request: bool,
) {
    obj.retain(|k, v| keep_attr(find(k), v, drop_request));
}

fn keep_attr(def: Option<&AttrDef>, v: &mut Value, drop_request: bool) -> bool {
    let Some(def) = def else {
        return true;
    };
    if def.returned == Returned::Never || (drop_request && def.returned == Returned::Request) {
        return false;
    }
    if def.sub.iter().any(|s| s.returned == Returned::Never) {
        let never = |k: &String| {
            def.find_sub(k)
                .is_some_and(|s| s.returned == Returned::Never)
        };
        match v {
            Value::Object(o) => o.retain(|k, _| !never(k)),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(o) = item {
                        o.retain(|k, _| !never(k));
                    }
                }
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::scim::filter::parse_attr_path;
    use crate::scim::schema::{ENTERPRISE_USER, GROUP_RESOURCE, USER, USER_RESOURCE};
    use crate::scim::{ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, USER_SCHEMA};
    use serde_json::json;

    fn p(s: &str) -> AttrPath {
        parse_attr_path(s).unwrap()
    }
    fn paths(list: &[&str]) -> Vec<AttrPath> {
        list.iter().map(|s| p(s)).collect()
    }
    fn norm(v: Value) -> Value {
        normalize_input(v, &USER_RESOURCE).unwrap()
    }
    fn norm_err(v: Value) -> (Option<ScimType>, String) {
        let e = normalize_input(v, &USER_RESOURCE).unwrap_err();
        (e.class().scim_type, e.detail())
    }

    #[test]
    fn declared_extensions_normalize_project_and_filter() {
        use crate::scim::filter::parse_filter;
        use crate::scim::schema::{ACME_TEST_URN as ACME, acme_user_schema};
        let schema = acme_user_schema();
        // Okta's shape: the URN key, an undeclared attribute (ignored, as unknown core ones
        // are), URN spelled in another case; a flattened key works too.
        let r = normalize_input(
            json!({
                "schemas": [USER_SCHEMA, ACME],
                "userName": "ada",
                ACME.to_lowercase(): {"APPROLE": "admin", "costCenterCode": "CC-12"},
                format!("{ACME}:badge.number"): "B-7",
                "urn:example:unknown:1.0:User": {"x": 1}
            }),
            schema,
        )
        .unwrap();
        assert_eq!(
            r,
            json!({"schemas": [USER_SCHEMA, ACME], "userName": "ada",
                   ACME: {"appRole": "admin", "badge": {"number": "B-7"}}})
        );
        // Without the declaration the extension is dropped (the old behaviour).
        let plain = normalize_input(
            json!({"userName": "ada", ACME: {"appRole": "admin"}}),
            &USER_RESOURCE,
        )
        .unwrap();
        assert_eq!(plain, json!({"schemas": [USER_SCHEMA], "userName": "ada"}));
        // Types are checked as for core attributes.
        let e =
            normalize_input(json!({"userName": "a", ACME: {"level": "x"}}), schema).unwrap_err();
        assert_eq!(e.class().scim_type, Some(ScimType::InvalidValue));
        assert_eq!(e.detail(), format!("`{ACME}:level` must be an integer"));

        // Projection: by attribute, by whole URN, excluded; `schemas` follows what is left.
        let stored = json!({"schemas": [USER_SCHEMA, ACME], "id": "1", "userName": "ada",
                            ACME: {"appRole": "admin", "level": 2}});
        let only = |a: &[&str], x: &[&str]| project(stored.clone(), &paths(a), &paths(x), schema);
        assert_eq!(
            only(&[&format!("{ACME}:appRole")], &[]),
            json!({"schemas": [USER_SCHEMA, ACME], "id": "1", ACME: {"appRole": "admin"}})
        );
        assert_eq!(
            only(&[ACME], &[]),
            json!({"schemas": [USER_SCHEMA, ACME], "id": "1", ACME: {"appRole": "admin", "level": 2}})
        );
        assert_eq!(
            only(&["userName"], &[]),
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "ada"})
        );
        assert_eq!(
            only(&[], &[&format!("{ACME}:level")]),
            json!({"schemas": [USER_SCHEMA, ACME], "id": "1", "userName": "ada", ACME: {"appRole": "admin"}})
        );
        assert_eq!(
            only(&[], &[ACME]),
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "ada"})
        );

        // Filters: case-insensitive unless the declaration says case_exact.
        let u = json!({"schemas": [USER_SCHEMA, ACME], "userName": "ada",
                       ACME: {"appRole": "Admin", "tags": ["Blue"], "level": 2}});
        let m = |f: &str| parse_filter(f).unwrap().matches(&u, schema);
        assert!(m(&format!("{ACME}:appRole eq \"admin\"")));
        assert!(m(&format!("{}:APPROLE sw \"ad\"", ACME.to_lowercase())));
        assert!(m(&format!("{ACME}:tags eq \"Blue\"")));
        assert!(!m(&format!("{ACME}:tags eq \"blue\"")));
        assert!(m(&format!("{ACME}:level gt 1")));
        assert!(!m(&format!("{ACME}:level gt 2")));
        assert!(m(&format!(
            "{ACME}:appRole pr and not ({ACME}:badge.number pr)"
        )));
    }

    #[test]
    fn case_insensitive_map_helpers() {
        let mut m = json!({"userName": "a", "Name": {"x": 1}, "z": 2})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(get_ci(&m, "USERNAME"), Some(&json!("a")));
        assert_eq!(get_ci(&m, "nope"), None);
        *get_ci_mut(&mut m, "name").unwrap() = json!(5);
        assert_eq!(m["Name"], 5);
        assert_eq!(remove_ci(&mut m, "username"), Some(json!("a")));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["Name", "z"], "order kept");
        assert_eq!(remove_ci(&mut m, "username"), None);
    }

    fn stored_user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENT],
            "id": "u1",
            "userName": "ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"value": "ada@work.example", "type": "work", "primary": true},
                {"value": "ada@home.example", "type": "home"},
                {"type": "other"}
            ],
            "password": "s3cret",
            "nickName": null,
            "meta": {"resourceType": "User"},
            ENT: {"department": "R&D", "manager": {"value": "m1", "displayName": "Boss"}}
        })
    }

    #[test]
    fn get_path_resolves_core_sub_multi_and_extension_paths() {
        let u = stored_user();
        let s = &USER_RESOURCE;
        assert_eq!(
            get_path(&u, &p("USERNAME"), s).as_deref(),
            Some(&json!("ada"))
        );
        assert_eq!(
            get_path(&u, &p("name.GIVENNAME"), s).as_deref(),
            Some(&json!("Ada"))
        );
        assert_eq!(
            get_path(&u, &p("emails.value"), s).as_deref(),
            Some(&json!(["ada@work.example", "ada@home.example"]))
        );
        assert_eq!(get_path(&u, &p("emails.display"), s), None);
        assert_eq!(get_path(&u, &p("nickName"), s), None, "null is absent");
        assert_eq!(get_path(&u, &p("title"), s), None);
        assert_eq!(get_path(&u, &p("userName.x"), s), None);
        assert_eq!(
            get_path(&u, &p(&format!("{ENT}:department")), s).as_deref(),
            Some(&json!("R&D"))
        );
        assert_eq!(
            get_path(&u, &p(&format!("{}:manager.value", ENT.to_uppercase())), s).as_deref(),
            Some(&json!("m1"))
        );
        assert_eq!(
            get_path(&u, &p(&format!("{USER_SCHEMA}:name.familyName")), s).as_deref(),
            Some(&json!("Lovelace"))
        );
        assert_eq!(
            get_path(&u, &p("department"), s).as_deref(),
            Some(&json!("R&D"))
        );
        assert_eq!(get_path(&u, &p("urn:x:y:department"), s), None);
        assert!(matches!(
            get_path(&u, &p("userName"), s),
            Some(Cow::Borrowed(_))
        ));
        assert_eq!(get_path(&json!([1]), &p("userName"), s), None);
    }

    #[test]
    fn normalize_respells_keys_and_rewrites_schemas() {
        let out = norm(json!({
            "SCHEMAS": ["urn:something:else"],
            "USERNAME": "Ada@Example.com",
            "Name": {"GivenName": "Ada", "FAMILYNAME": "L", "unknownSub": "x", "middleName": null},
            "Emails": [{"Value": "a@b.c", "TYPE": "work", "Primary": "True"}],
            "active": "FALSE",
            "password": "pw",
            "externalId": "e-1",
            "favouriteColour": "blue"
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA],
                "userName": "Ada@Example.com",
                "name": {"givenName": "Ada", "familyName": "L"},
                "emails": [{"value": "a@b.c", "type": "work", "primary": true}],
                "active": false,
                "password": "pw",
                "externalId": "e-1"
            })
        );
        // Key order in the output: schemas first.
        assert_eq!(out.as_object().unwrap().keys().next().unwrap(), "schemas");
    }

    #[test]
    fn normalize_drops_echoed_read_only_attributes_nulls_and_empties() {
        // What Okta echoes on PUT.
        let out = norm(json!({
            "schemas": [USER_SCHEMA],
            "id": "u1",
            "meta": {"created": "x", "lastModified": "not a date"},
            "groups": [{"value": "g1"}],
            "userName": "ada",
            "name": {},
            "nickName": null,
            "title": "",
            "roles": [],
            "emails": [null, {"value": null}, {"value": "a@b.c"}],
            "urn:ietf:params:scim:schemas:extension:unknown:2.0:User": {"x": 1},
            "urn:ietf:params:scim:schemas:extension:unknown:2.0:User:y": 2,
            ENT: {}
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA],
                "userName": "ada",
                "title": "",
                "roles": [],
                "emails": [{"value": "a@b.c"}]
            })
        );
        // Groups keep members.
        let g = normalize_input(
            json!({"schemas": [GROUP_SCHEMA, "urn:ietf:params:scim:schemas:extension:Microsoft:2.0:Group"],
                   "id": "g1", "DisplayName": "Eng", "externalId": "x",
                   "members": [{"$ref": null, "value": "u1", "Display": "Ada"}]}),
            &GROUP_RESOURCE,
        )
        .unwrap();
        assert_eq!(
            g,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "externalId": "x",
                   "members": [{"value": "u1", "display": "Ada"}]})
        );
    }

    #[test]
    fn normalize_moves_extension_attributes_under_their_urn() {
        let out = norm(json!({
            "userName": "ada",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Manager.Value": "m1",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Ada L",
            "name.givenName": "Ada"
        }));
        assert_eq!(
            out,
            json!({
                "schemas": [USER_SCHEMA, ENT],
                "userName": "ada",
                "displayName": "Ada L",
                "name": {"givenName": "Ada"},
                ENT: {"department": "R&D", "manager": {"value": "m1"}}
            })
        );
        // Entra: the extension object with odd-cased keys, plus `null`s.
        let out = norm(json!({
            "userName": "ada",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user":
                {"EmployeeNumber": "7", "costCenter": null, "manager": {"value": "m2"}}
        }));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
        assert_eq!(
            out[ENT],
            json!({"employeeNumber": "7", "manager": {"value": "m2"}})
        );
        // Whole object and dotted key merge.
        let out = norm(json!({"name": {"givenName": "A"}, "name.familyName": "B"}));
        assert_eq!(out["name"], json!({"givenName": "A", "familyName": "B"}));
    }

    #[test]
    fn normalize_is_lenient_with_shapes_clients_send() {
        let out = norm(json!({
            "userName": "ada",
            "emails": {"value": "a@b.c", "primary": "true"},
            ENT: {"manager": "m3"}
        }));
        assert_eq!(out["emails"], json!([{"value": "a@b.c", "primary": true}]));
        assert_eq!(out[ENT]["manager"], json!({"value": "m3"}));
        let out = norm(json!({ENT: {"manager": [{"value": "m4"}]}}));
        assert_eq!(out[ENT]["manager"], json!({"value": "m4"}));
        let out = norm(json!({"active": [true]}));
        assert_eq!(out["active"], json!(true));
    }

    #[test]
    fn normalize_rejects_wrong_types_naming_the_attribute() {
        let iv = Some(ScimType::InvalidValue);
        assert_eq!(
            norm_err(json!({"userName": 5})),
            (iv, "`userName` must be a string".into())
        );
        assert_eq!(
            norm_err(json!({"name": "Ada"})),
            (iv, "`name` must be an object".into())
        );
        assert_eq!(
            norm_err(json!({"emails": "x"})),
            (iv, "`emails` must be an array of objects".into())
        );
        assert_eq!(
            norm_err(json!({"emails": ["a@b.c"]})),
            (iv, "`emails` must be an array of objects".into())
        );
        assert_eq!(
            norm_err(json!({"active": "yes"})),
            (iv, "`active` must be a boolean".into())
        );
        assert_eq!(
            norm_err(json!({"emails": [{"primary": "maybe"}]})),
            (iv, "`emails.primary` must be a boolean".into())
        );
        assert_eq!(
            norm_err(json!({"name": {"givenName": 3}})),
            (iv, "`name.givenName` must be a string".into())
        );
        assert_eq!(
            norm_err(json!({ENT: {"department": true}})),
            (iv, format!("`{ENT}:department` must be a string"))
        );
        assert_eq!(
            norm_err(json!({ENT: {"manager": {"value": 5}}})),
            (iv, format!("`{ENT}:manager.value` must be a string"))
        );
        assert_eq!(
            norm_err(json!({"name.givenName": 5})),
            (iv, "`name.givenName` must be a string".into())
        );
        assert_eq!(norm_err(json!({ENT: "x"})).0, iv);
        assert_eq!(norm_err(json!({"displayName": ["a", "b"]})).0, iv);
        for body in [json!([]), json!("x"), json!(null), json!(1)] {
            assert_eq!(norm_err(body).0, Some(ScimType::InvalidSyntax));
        }
    }

    #[test]
    fn coerce_checks_one_value() {
        let active = USER.find("active").unwrap();
        assert_eq!(
            coerce(active, json!("True"), "active").unwrap(),
            json!(true)
        );
        assert_eq!(
            coerce(active, json!(" false "), "active").unwrap(),
            json!(false)
        );
        assert_eq!(coerce(active, json!(null), "active").unwrap(), Value::Null);
        assert!(coerce(active, json!(1), "active").is_err());
        let emails = USER.find("emails").unwrap();
        assert_eq!(
            coerce(emails, json!([{"VALUE": "x", "extra": 1}]), "emails").unwrap(),
            json!([{"value": "x"}])
        );
        assert_eq!(coerce(emails, json!([]), "emails").unwrap(), json!([]));
        let manager = ENTERPRISE_USER.find("manager").unwrap();
        assert_eq!(
            coerce(manager, json!("m"), "manager").unwrap(),
            json!({"value": "m"})
        );
        assert_eq!(coerce(manager, json!([]), "manager").unwrap(), Value::Null);
        assert_eq!(
            coerce(
                manager,
                json!({"$REF": "../Users/m", "value": "m"}),
                "manager"
            )
            .unwrap(),
            json!({"$ref": "../Users/m", "value": "m"})
        );
        let e = coerce(USER.find("name").unwrap(), json!(true), "name").unwrap_err();
        assert_eq!(e.detail(), "`name` must be an object");
    }

    #[test]
    fn project_with_attributes_keeps_only_those_plus_always_and_schemas() {
        let out = project(
            stored_user(),
            &paths(&["userName", "name.givenName"]),
            &[],
            &USER_RESOURCE,
        );
        // `schemas` lists only the extensions left in the answer (RFC 7643 §3).
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "ada", "name": {"givenName": "Ada"}})
        );
        let out = project(
            stored_user(),
            &paths(&["EMAILS.value", "emails.type"]),
            &[],
            &USER_RESOURCE,
        );
        assert_eq!(
            out["emails"],
            json!([
                {"value": "ada@work.example", "type": "work"},
                {"value": "ada@home.example", "type": "home"},
                {"type": "other"}
            ])
        );
        let out = project(
            stored_user(),
            &paths(&["name", "password"]),
            &[],
            &USER_RESOURCE,
        );
        assert_eq!(
            out["name"],
            json!({"givenName": "Ada", "familyName": "Lovelace"})
        );
        assert!(out.get("password").is_none(), "returned: never wins");
        let out = project(
            stored_user(),
            &paths(&[&format!("{ENT}:manager.value"), "userName"]),
            &paths(&["userName"]),
            &USER_RESOURCE,
        );
        assert_eq!(out[ENT], json!({"manager": {"value": "m1"}}));
        assert_eq!(
            out["userName"], "ada",
            "excluded is ignored when attributes are given"
        );
        let out = project(stored_user(), &paths(&["department"]), &[], &USER_RESOURCE);
        assert_eq!(out[ENT], json!({"department": "R&D"}));
        // A whole extension by its URN.
        let out = project(stored_user(), &paths(&[ENT]), &[], &USER_RESOURCE);
        assert_eq!(out[ENT]["department"], "R&D");
        // Nothing requested from the extension: the empty object is dropped.
        let out = project(stored_user(), &paths(&["userName"]), &[], &USER_RESOURCE);
        assert!(out.get(ENT).is_none());
        // …and so is its URN in `schemas`, which lists only the schemas present.
        assert_eq!(out["schemas"], json!([USER_SCHEMA]));
        let out = project(
            stored_user(),
            &paths(&["bogus", "name.bogus"]),
            &[],
            &USER_RESOURCE,
        );
        assert_eq!(out, json!({"schemas": [USER_SCHEMA], "id": "u1"}));
    }

    #[test]
    fn project_with_excluded_removes_those_but_never_id_or_schemas() {
        let out = project(stored_user(), &[], &[], &USER_RESOURCE);
        let mut expected = stored_user();
        expected.as_object_mut().unwrap().remove("password");
        assert_eq!(out, expected, "default view only drops returned: never");
        let out = project(
            stored_user(),
            &[],
            &paths(&[
                "ID",
                "schemas",
                "name.familyName",
                "emails.type",
                "meta",
                &format!("{ENT}:manager"),
            ]),
            &USER_RESOURCE,
        );
        assert_eq!(out["id"], "u1");
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENT]));
        assert_eq!(out["name"], json!({"givenName": "Ada"}));
        assert_eq!(
            out["emails"],
            json!([{"value": "ada@work.example", "primary": true}, {"value": "ada@home.example"}])
        );
        assert!(out.get("meta").is_none());
        assert_eq!(out[ENT], json!({"department": "R&D"}));
        let out = project(
            stored_user(),
            &[],
            &paths(&["name.givenName", "name.familyName"]),
            &USER_RESOURCE,
        );
        assert!(
            out.get("name").is_none(),
            "an emptied complex attribute is dropped"
        );
        let out = project(
            stored_user(),
            &[],
            &paths(&["department", "manager"]),
            &USER_RESOURCE,
        );
        assert!(
            out.get(ENT).is_none(),
            "an emptied extension object is dropped"
        );
        let out = project(stored_user(), &[], &paths(&[ENT]), &USER_RESOURCE);
        assert!(out.get(ENT).is_none());
        // Entra: excludedAttributes=members on a group.
        let g = json!({"schemas": [GROUP_SCHEMA], "id": "g1", "displayName": "Eng", "members": [{"value": "u1"}]});
        let out = project(g, &[], &paths(&["Members"]), &GROUP_RESOURCE);
        assert_eq!(
            out,
            json!({"schemas": [GROUP_SCHEMA], "id": "g1", "displayName": "Eng"})
        );
        assert_eq!(project(json!("x"), &[], &[], &USER_RESOURCE), json!("x"));
    }

    #[test]
    fn project_matches_keys_case_insensitively() {
        let r = json!({"ID": "u1", "UserName": "ada", "PASSWORD": "x", "Name": {"GivenName": "A", "familyName": "L"},
                       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "D"}});
        let out = project(
            r.clone(),
            &paths(&["username", "name.givenname", &format!("{ENT}:department")]),
            &[],
            &USER_RESOURCE,
        );
        assert_eq!(
            out,
            json!({"ID": "u1", "UserName": "ada", "Name": {"GivenName": "A"},
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "D"}})
        );
        let out = project(r, &[], &[], &USER_RESOURCE);
        assert!(out.get("PASSWORD").is_none());
    }

    #[test]
    fn get_path_returns_whole_multi_valued_and_complex_values() {
        let u = stored_user();
        let s = &USER_RESOURCE;
        assert_eq!(get_path(&u, &p("emails"), s).as_deref(), Some(&u["emails"]));
        assert_eq!(
            get_path(&u, &p(&format!("{ENT}:manager")), s).as_deref(),
            Some(&u[ENT]["manager"])
        );
        assert_eq!(
            get_path(&u, &p("emails.type"), s).as_deref(),
            Some(&json!(["work", "home", "other"]))
        );
        let g = json!({"members": []});
        assert_eq!(get_path(&g, &p("members.value"), &GROUP_RESOURCE), None);
        assert_eq!(
            get_path(&g, &p("members"), &GROUP_RESOURCE).as_deref(),
            Some(&json!([]))
        );
    }

    #[test]
    fn normalize_group_bodies() {
        let g = normalize_input(
            json!({"displayName": "Eng", "members": {"value": "u1"}, "urn:ietf:params:scim:schemas:core:2.0:Group": {"externalId": "x"}}),
            &GROUP_RESOURCE,
        )
        .unwrap();
        assert_eq!(
            g,
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": "u1"}], "externalId": "x"})
        );
        // Enterprise attributes do not exist on groups.
        let g = normalize_input(
            json!({"displayName": "Eng", ENT: {"department": "x"}}),
            &GROUP_RESOURCE,
        )
        .unwrap();
        assert_eq!(g, json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"}));
        let e = normalize_input(json!({"members": [{"value": 5}]}), &GROUP_RESOURCE).unwrap_err();
        assert_eq!(e.detail(), "`members.value` must be a string");
    }

    #[test]
    fn coerce_numbers_by_type() {
        let mut def = *USER.find("active").unwrap();
        def.ty = AttrType::Integer;
        assert_eq!(coerce(&def, json!(3), "n").unwrap(), json!(3));
        assert_eq!(coerce(&def, json!(-3), "n").unwrap(), json!(-3));
        assert_eq!(
            coerce(&def, json!(3.5), "n").unwrap_err().detail(),
            "`n` must be an integer"
        );
        assert!(coerce(&def, json!("3"), "n").is_err());
        def.ty = AttrType::Decimal;
        assert_eq!(coerce(&def, json!(3.5), "n").unwrap(), json!(3.5));
        assert_eq!(
            coerce(&def, json!(true), "n").unwrap_err().detail(),
            "`n` must be a number"
        );
        def.ty = AttrType::DateTime;
        assert_eq!(
            coerce(&def, json!("2024-01-01T00:00:00Z"), "d").unwrap(),
            json!("2024-01-01T00:00:00Z")
        );
        assert!(coerce(&def, json!(20240101), "d").is_err());
    }

    #[test]
    fn project_without_a_selection_keeps_everything_returned_in_order() {
        let mut user = stored_user();
        user["title"] = json!("Countess");
        user[ENT]["costCenter"] = json!("");
        let out = project(user.clone(), &[], &[], &USER_RESOURCE);
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // `password` (returned: never) goes; `nickName: null` is kept as sent; order is kept.
        assert_eq!(
            keys,
            [
                "schemas", "id", "userName", "name", "emails", "nickName", "meta", ENT, "title"
            ]
        );
        let inner: Vec<&str> = out[ENT]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(inner, ["department", "manager", "costCenter"]);
        let mut expected = user;
        expected.as_object_mut().unwrap().shift_remove("password");
        assert_eq!(out, expected);
    }

    #[test]
    fn project_keeps_common_attributes_on_request() {
        let out = project(
            stored_user(),
            &paths(&["meta.resourceType", "externalId"]),
            &[],
            &USER_RESOURCE,
        );
        assert_eq!(
            out,
            json!({"schemas": [USER_SCHEMA], "id": "u1", "meta": {"resourceType": "User"}})
        );
        let out = project(
            stored_user(),
            &paths(&[&format!("{USER_SCHEMA}:userName")]),
            &[],
            &USER_RESOURCE,
        );
        assert_eq!(out["userName"], "ada", "core-URN-qualified names work");
    }

    #[test]
    fn a_plain_read_projects_like_an_empty_exclusion_list() {
        let mut user = stored_user();
        user["password"] = json!("secret");
        user[ENT]["manager"] = json!({"value": "9", "$ref": "../Users/9"});
        let general = {
            let Value::Object(obj) = user.clone() else {
                unreachable!()
            };
            let mut obj = exclude(obj, &[], &USER_RESOURCE);
            strip_never(&mut obj, &USER_RESOURCE);
            obj.retain(|k, v| USER_RESOURCE.extension(k).is_none() || !is_void(v));
            list_schemas(&mut obj, &USER_RESOURCE);
            Value::Object(obj)
        };
        let fast = project(user, &[], &[], &USER_RESOURCE);
        assert_eq!(fast, general);
        assert!(fast.get("password").is_none());
        // Same keys in the same order.
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&fast), keys(&general));
    }
}
