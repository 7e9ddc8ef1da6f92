//! SCIM PATCH (RFC 7644 §3.5.2) in every dialect Okta and Entra send: ops in any case; with and
//! without `path`; path-less values with dotted (`name.givenName`) and URN-qualified keys; value
//! filters in paths; `remove` with a value array; string booleans; `add` on single-valued
//! attributes; empty `Operations`.
//!
//! Patches are applied to the canonical SCIM resource (see [`crate::scim::resource`]); the caller
//! then maps the result to the application and sends only what changed. Application is atomic:
//! on error the resource is left untouched.

use crate::error::{ClientError, Error, Result};
use crate::scim::filter::{self, AttrPath, CompValue, CompareOp, Filter, PatchPath};
use crate::scim::resource::{coerce, get_ci};
use crate::scim::schema::{
    AttrDef, AttrType, BUILT_IN_SCHEMAS, Mutability, ResourceSchema, SchemaDef,
};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    /// `None` for a path-less operation. A path that is a whole schema URN
    /// (`urn:…:enterprise:2.0:User`) is kept as `AttrPath { urn: Some(urn), name: "", sub: None }`.
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchRequest {
    pub operations: Vec<PatchOp>,
}

/// Schema URNs recognised as a whole-schema path while parsing (before the resource type is
/// known). Declared extensions are recognised when the operation is applied, see
/// [`whole_extension`].
const SCHEMA_URNS: [&str; 3] = BUILT_IN_SCHEMAS;

/// Parses a PatchOp request body. Errors: `invalidSyntax` (not an object, `Operations` missing or
/// not an array, unknown `op`), `invalidPath` (bad `path`), `invalidValue` (`value` missing where
/// required).
///
/// Lenient where clients differ: `schemas` may be missing; `Operations`, `op`, `path` and `value`
/// keys and the op names are case-insensitive; an empty `path` means none; `Operations: []` is a
/// valid no-op.
pub fn parse_patch(body: &Value) -> Result<PatchRequest> {
    let obj = body
        .as_object()
        .ok_or_else(|| Error::invalid_syntax("the PATCH body must be a JSON object"))?;
    let ops = get_ci(obj, "Operations").ok_or_else(|| {
        Error::invalid_syntax("the PATCH body has no `Operations` array (RFC 7644 §3.5.2)")
    })?;
    let ops = ops
        .as_array()
        .ok_or_else(|| Error::invalid_syntax("`Operations` must be an array of operations"))?;
    let mut operations = Vec::with_capacity(ops.len());
    for (i, raw) in ops.iter().enumerate() {
        let n = i + 1;
        let o = raw
            .as_object()
            .ok_or_else(|| Error::invalid_syntax(format!("operation {n} must be a JSON object")))?;
        let op = match get_ci(o, "op") {
            Some(Value::String(s)) => parse_op_name(s).ok_or_else(|| {
                Error::invalid_syntax(format!(
                    "operation {n}: unknown op `{s}` (expected add, remove or replace)"
                ))
            })?,
            Some(other) => {
                return Err(Error::invalid_syntax(format!(
                    "operation {n}: `op` must be a string, got {other}"
                )));
            }
            None => {
                return Err(Error::invalid_syntax(format!("operation {n} has no `op`")));
            }
        };
        let path = match get_ci(o, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(parse_op_path(s.trim()).map_err(|e| in_op(n, e))?),
            Some(other) => {
                return Err(Error::invalid_path(format!(
                    "operation {n}: `path` must be a string, got {other}"
                )));
            }
        };
        let value = get_ci(o, "value").cloned();
        if value.is_none() && op != PatchOpKind::Remove {
            return Err(Error::invalid_value(format!(
                "operation {n} ({}) has no `value`",
                op.as_str()
            )));
        }
        operations.push(PatchOp { op, path, value });
    }
    Ok(PatchRequest { operations })
}

fn parse_op_name(s: &str) -> Option<PatchOpKind> {
    let s = s.trim();
    [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(s))
}

fn parse_op_path(s: &str) -> Result<PatchPath> {
    // A bare schema URN would otherwise split into `urn:…:2.0` + `User`.
    if let Some(urn) = SCHEMA_URNS.iter().find(|u| u.eq_ignore_ascii_case(s)) {
        return Ok(whole_schema_path(urn));
    }
    filter::parse_path(s)
}

fn whole_schema_path(urn: &str) -> PatchPath {
    PatchPath {
        attr: AttrPath {
            urn: Some(urn.to_string()),
            name: String::new(),
            sub: None,
        },
        value_filter: None,
        sub: None,
    }
}

/// Prefixes a client error's detail with the operation number, so the admin sees which one failed.
fn in_op(n: usize, e: Error) -> Error {
    let p = |m: String| format!("operation {n}: {m}");
    match e {
        Error::Client(c) => Error::Client(match c {
            ClientError::InvalidPath(m) => ClientError::InvalidPath(p(m)),
            ClientError::InvalidValue(m) => ClientError::InvalidValue(p(m)),
            ClientError::InvalidSyntax(m) => ClientError::InvalidSyntax(p(m)),
            ClientError::InvalidFilter(m) => ClientError::InvalidFilter(p(m)),
            ClientError::NoTarget(m) => ClientError::NoTarget(p(m)),
            ClientError::Mutability(m) => ClientError::Mutability(p(m)),
            other => other,
        }),
        other => other,
    }
}

/// Applies every operation in order to `resource` (canonical form). Errors: `noTarget` (a value
/// filter in a `replace`/`remove` path matched nothing where RFC requires a match), `invalidPath`
/// (unknown attribute), `invalidValue` (wrong type), `mutability` (a read-only attribute such as
/// `id` or `meta` changed to a *different* value; echoing the same `id` is accepted).
///
/// On error `resource` is left as it was.
pub fn apply_patch(
    resource: &mut Value,
    patch: &PatchRequest,
    schema: &ResourceSchema,
) -> Result<()> {
    if patch.operations.is_empty() {
        return Ok(());
    }
    *resource = patched(resource.clone(), patch, schema)?;
    Ok(())
}

/// [`apply_patch`] on a resource the caller no longer needs: returns the patched resource
/// (`resource` unchanged when there are no operations), without a working copy.
pub fn patched(
    mut resource: Value,
    patch: &PatchRequest,
    schema: &ResourceSchema,
) -> Result<Value> {
    if patch.operations.is_empty() {
        return Ok(resource);
    }
    let root = resource
        .as_object_mut()
        .ok_or_else(|| Error::bug("the resource to patch is not a JSON object"))?;
    for (i, op) in patch.operations.iter().enumerate() {
        apply_op(root, op, schema).map_err(|e| in_op(i + 1, e))?;
    }
    fix_schemas(root, schema);
    Ok(resource)
}

/// A resolved attribute: its extension schema (`None` for core and common attributes), its
/// definition, and the sub-attribute the path names, if any.
#[derive(Clone, Copy)]
struct Target {
    owner: Option<&'static SchemaDef>,
    def: &'static AttrDef,
    sub: Option<&'static AttrDef>,
}

impl Target {
    fn label(&self) -> String {
        let mut s = String::new();
        if let Some(ext) = self.owner {
            s.push_str(ext.id);
            s.push(':');
        }
        s.push_str(self.def.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(sub.name);
        }
        s
    }

    fn read_only(&self) -> bool {
        self.def.mutability == Mutability::ReadOnly
            || self
                .sub
                .is_some_and(|s| s.mutability == Mutability::ReadOnly)
    }
}

/// Where path-less keys are looked up: anywhere, or inside one schema (a URN key's object).
#[derive(Clone, Copy)]
enum Scope {
    Any,
    Core,
    Extension(&'static SchemaDef),
}

fn apply_op(root: &mut Map<String, Value>, op: &PatchOp, schema: &ResourceSchema) -> Result<()> {
    let Some(path) = &op.path else {
        return match op.op {
            PatchOpKind::Remove => Err(Error::no_target(
                "`remove` needs a `path` naming what to remove",
            )),
            kind => apply_pathless(root, kind, Scope::Any, op.value.clone(), schema),
        };
    };
    if path.attr.name.is_empty() {
        return apply_whole_schema(root, op, path, schema);
    }
    if let Some(ext) = whole_extension(path, schema) {
        return apply_whole_schema(root, op, &whole_schema_path(ext.id), schema);
    }
    let sub_name = match (&path.attr.sub, &path.sub) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid_path("a path has at most one sub-attribute"));
        }
        (a, b) => a.as_deref().or(b.as_deref()),
    };
    let target = resolve(schema, path.attr.urn.as_deref(), &path.attr.name, sub_name)?;
    apply_target(
        root,
        schema,
        op.op,
        target,
        path.value_filter.as_ref(),
        op.value.clone(),
    )
}

/// A declared extension's bare URN as a path: it parses as `urn:…:2.0` + attribute `User`.
fn whole_extension(path: &PatchPath, schema: &ResourceSchema) -> Option<&'static SchemaDef> {
    let urn = path.attr.urn.as_deref()?;
    if path.attr.sub.is_some() || path.sub.is_some() || path.value_filter.is_some() {
        return None;
    }
    schema.extension(&format!("{urn}:{}", path.attr.name))
}

/// A path that is a whole schema URN: the value is an object of that schema's attributes;
/// `remove` drops the whole extension.
fn apply_whole_schema(
    root: &mut Map<String, Value>,
    op: &PatchOp,
    path: &PatchPath,
    schema: &ResourceSchema,
) -> Result<()> {
    let urn = path.attr.urn.as_deref().unwrap_or_default();
    let scope = if schema.is_core(urn) {
        Scope::Core
    } else if let Some(ext) = schema.extension(urn) {
        Scope::Extension(ext)
    } else {
        return Err(Error::invalid_path(format!(
            "`{urn}` is not a schema of {} resources",
            schema.kind.name()
        )));
    };
    match (op.op, scope) {
        (PatchOpKind::Remove, Scope::Extension(ext)) => {
            if let Some(key) = find_key(root, ext.id) {
                root.shift_remove(&key);
            }
            Ok(())
        }
        (PatchOpKind::Remove, _) => Err(Error::invalid_path(format!(
            "cannot remove the whole core schema `{urn}`"
        ))),
        (kind, scope) => apply_pathless(root, kind, scope, op.value.clone(), schema),
    }
}

/// `add`/`replace` without a path: every key of the object value is an attribute path, a dotted
/// path, a URN-qualified path, or a schema URN holding an object of its attributes.
fn apply_pathless(
    root: &mut Map<String, Value>,
    kind: PatchOpKind,
    scope: Scope,
    value: Option<Value>,
    schema: &ResourceSchema,
) -> Result<()> {
    let obj = match value {
        Some(Value::Object(obj)) => obj,
        _ => {
            return Err(Error::invalid_value(format!(
                "`{}` without a `path` needs an object `value` of attributes",
                kind.as_str()
            )));
        }
    };
    for (key, v) in obj {
        let key_t = key.trim();
        // The id comes from the URL and meta is ours; Okta echoes both (and `schemas`, which
        // some clients also put inside an extension's object).
        if key_t.eq_ignore_ascii_case("schemas")
            || (matches!(scope, Scope::Any)
                && ["id", "meta"].iter().any(|k| k.eq_ignore_ascii_case(key_t)))
        {
            continue;
        }
        let urn = SCHEMA_URNS
            .iter()
            .copied()
            .chain(schema.extensions.iter().map(|e| e.id))
            .find(|u| u.eq_ignore_ascii_case(key_t));
        if let Some(urn) = urn {
            let inner = if !matches!(scope, Scope::Any) {
                None
            } else if schema.is_core(urn) {
                Some(Scope::Core)
            } else {
                schema.extension(urn).map(Scope::Extension)
            };
            let Some(inner) = inner else {
                return Err(Error::invalid_path(format!(
                    "`{key_t}` is not a schema of {} resources here",
                    schema.kind.name()
                )));
            };
            match v {
                Value::Null => continue,
                v @ Value::Object(_) => apply_pathless(root, kind, inner, Some(v), schema)?,
                _ => {
                    return Err(Error::invalid_value(format!(
                        "the value of `{key_t}` must be an object of its attributes"
                    )));
                }
            }
            continue;
        }
        let path = filter::parse_attr_path(key_t)?;
        let urn = match (scope, path.urn.as_deref()) {
            (Scope::Any, u) => u,
            (Scope::Core, None) => Some(schema.core.id),
            (Scope::Extension(ext), None) => Some(ext.id),
            (Scope::Core, Some(u)) if schema.is_core(u) => Some(u),
            (Scope::Extension(ext), Some(u)) if ext.id.eq_ignore_ascii_case(u) => Some(u),
            (_, Some(u)) => {
                return Err(Error::invalid_path(format!(
                    "`{key_t}` names schema `{u}` inside another schema's object"
                )));
            }
        };
        let target = resolve(schema, urn, &path.name, path.sub.as_deref())?;
        // Clients echo read-only attributes (`groups`, `meta.*`) in bodies; RFC 7643 §2.2 says
        // to ignore them.
        if target.read_only() {
            continue;
        }
        apply_target(root, schema, kind, target, None, Some(v))?;
    }
    Ok(())
}

/// Finds an attribute: `urn` is the core URN, an extension URN, or `None` (core and common
/// attributes first, then the extensions, so Entra's bare `manager` works).
fn resolve(
    schema: &ResourceSchema,
    urn: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> Result<Target> {
    let full = || match urn {
        Some(u) => format!("{u}:{name}"),
        None => name.to_string(),
    };
    let found = match urn {
        Some(u) if !schema.is_core(u) && schema.extension(u).is_none() => {
            return Err(Error::invalid_path(format!(
                "unknown attribute `{}`: `{u}` is not a schema of {} resources",
                full(),
                schema.kind.name()
            )));
        }
        Some(u) => schema.find(Some(u), name),
        None => schema.find(None, name).or_else(|| {
            schema
                .extensions
                .iter()
                .find_map(|ext| ext.find(name).map(|a| (Some(*ext), a)))
        }),
    };
    let Some((owner, def)) = found else {
        return Err(Error::invalid_path(format!(
            "unknown attribute `{}` for {} resources",
            full(),
            schema.kind.name()
        )));
    };
    let owner = owner.filter(|s| !std::ptr::eq(*s, schema.core));
    let sub = match sub {
        None => None,
        Some(s) => {
            if def.ty != AttrType::Complex {
                return Err(Error::invalid_path(format!(
                    "`{}` has no sub-attributes (asked for `{s}`)",
                    def.name
                )));
            }
            Some(def.find_sub(s).ok_or_else(|| {
                Error::invalid_path(format!("unknown sub-attribute `{}.{s}`", def.name))
            })?)
        }
    };
    Ok(Target { owner, def, sub })
}

/// The real key in `obj` equal to `key` ignoring ASCII case.
fn find_key(obj: &Map<String, Value>, key: &str) -> Option<String> {
    if obj.contains_key(key) {
        return Some(key.to_string());
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// Sets `obj[name]` (schema spelling), replacing any differently-cased key in place.
fn set_ci(obj: &mut Map<String, Value>, name: &str, value: Value) {
    match find_key(obj, name) {
        Some(k) if k == name => {
            obj.insert(k, value);
        }
        Some(k) => {
            obj.shift_remove(&k);
            obj.insert(name.to_string(), value);
        }
        None => {
            obj.insert(name.to_string(), value);
        }
    }
}

fn remove_key_ci(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let k = find_key(obj, name)?;
    obj.shift_remove(&k)
}

/// Runs one operation on one attribute: takes its current value out of its container, computes
/// the new one, checks mutability and `required`, and writes it back in canonical form.
fn apply_target(
    root: &mut Map<String, Value>,
    schema: &ResourceSchema,
    kind: PatchOpKind,
    target: Target,
    value_filter: Option<&Filter>,
    value: Option<Value>,
) -> Result<()> {
    let def = target.def;
    let ext_key = match target.owner {
        None => None,
        Some(ext) => Some(match find_key(root, ext.id) {
            Some(k) => k,
            None => {
                if kind == PatchOpKind::Remove {
                    return Ok(());
                }
                root.insert(ext.id.to_string(), Value::Object(Map::new()));
                ext.id.to_string()
            }
        }),
    };
    let container: &mut Map<String, Value> = match &ext_key {
        None => root,
        Some(k) => {
            let slot = root
                .get_mut(k)
                .ok_or_else(|| Error::bug("extension object vanished"))?;
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            match slot {
                Value::Object(m) => m,
                _ => return Err(Error::bug("extension object is not an object")),
            }
        }
    };

    let key = find_key(container, def.name);
    let current = key
        .as_ref()
        .and_then(|k| container.get_mut(k))
        .map(std::mem::take)
        .and_then(tidy);
    let before = if target.read_only() || def.required {
        current.clone()
    } else {
        None
    };
    let ctx = Ctx {
        schema,
        target,
        label: target.label(),
    };
    let after = compute(&ctx, kind, value_filter, current, value)?.and_then(tidy);

    if target.read_only() && before != after {
        return Err(Error::mutability(format!(
            "`{}` is read-only and cannot be changed",
            ctx.label
        )));
    }
    if def.required && before.is_some() && after.is_none() {
        return Err(Error::invalid_value(format!(
            "`{}` is required and cannot be removed",
            def.name
        )));
    }

    match (key, after) {
        (Some(k), Some(v)) if k == def.name => {
            container.insert(k, v);
        }
        (Some(k), Some(v)) => {
            container.shift_remove(&k);
            container.insert(def.name.to_string(), v);
        }
        (None, Some(v)) => {
            container.insert(def.name.to_string(), v);
        }
        (Some(k), None) => {
            container.shift_remove(&k);
        }
        (None, None) => {}
    }
    if let Some(k) = ext_key
        && root
            .get(&k)
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
    {
        root.shift_remove(&k);
    }
    Ok(())
}

/// What an operation on one attribute needs to know.
struct Ctx<'a> {
    schema: &'a ResourceSchema,
    target: Target,
    label: String,
}

fn compute(
    ctx: &Ctx<'_>,
    kind: PatchOpKind,
    value_filter: Option<&Filter>,
    current: Option<Value>,
    value: Option<Value>,
) -> Result<Option<Value>> {
    match (value_filter, ctx.target.sub) {
        (Some(f), _) => compute_filtered(ctx, kind, f, current, value),
        (None, Some(sub)) => compute_sub(ctx, kind, sub, current, value),
        (None, None) => compute_whole(ctx, kind, current, value),
    }
}

/// `coerce` for one element of a multi-valued attribute.
fn coerce_element(def: &AttrDef, elem: Value, label: &str) -> Result<Value> {
    let coerced = coerce(def, Value::Array(vec![elem]), label)?;
    match coerced {
        Value::Array(mut items) if items.len() == 1 => Ok(items.remove(0)),
        Value::Array(items) if items.is_empty() => Ok(Value::Object(Map::new())),
        other => Ok(other),
    }
}

/// A multi-valued attribute's value as a list: an array, or a single element.
fn into_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// The value for a single-valued complex attribute. Entra sends `manager` as `[{"value": id}]`
/// or as a plain id; an empty array means "no value".
fn single_complex(def: &AttrDef, v: Value, label: &str) -> Result<Option<Value>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(mut items) => match items.len() {
            0 => Ok(None),
            1 => single_complex(def, items.remove(0), label),
            n => Err(Error::invalid_value(format!(
                "`{label}` is single-valued but got {n} values"
            ))),
        },
        Value::Object(_) => Ok(Some(v)),
        scalar if def.find_sub("value").is_some() => {
            let mut m = Map::new();
            m.insert("value".into(), scalar);
            Ok(Some(Value::Object(m)))
        }
        other => Ok(Some(other)),
    }
}

/// The sub-attributes a complex value sets to `null` (meaning "unassign" in a merge), noted
/// before `coerce` drops nulls.
fn null_subs(def: &AttrDef, v: &Value) -> Vec<&'static str> {
    match v {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| v.is_null())
            .filter_map(|(k, _)| def.find_sub(k).map(|s| s.name))
            .collect(),
        _ => Vec::new(),
    }
}

/// Merges `new`'s sub-attributes into `base`, then unassigns `cleared`.
fn merge_clearing(base: &mut Map<String, Value>, new: Map<String, Value>, cleared: &[&str]) {
    merge_into(base, new);
    for k in cleared {
        remove_key_ci(base, k);
    }
}

/// Merges `new`'s sub-attributes into `base`; a `null` sub-attribute removes it.
fn merge_into(base: &mut Map<String, Value>, new: Map<String, Value>) {
    for (k, v) in new {
        if v.is_null() {
            remove_key_ci(base, &k);
        } else {
            set_ci(base, &k, v);
        }
    }
}

fn into_object(v: Option<Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn into_array(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(items)) => items,
        // A stray single value in the canonical resource is treated as one element.
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// Operation on the attribute as a whole (`path: "emails"`, path-less `{"active": false}`).
fn compute_whole(
    ctx: &Ctx<'_>,
    kind: PatchOpKind,
    current: Option<Value>,
    value: Option<Value>,
) -> Result<Option<Value>> {
    let def = ctx.target.def;
    let label = ctx.label.as_str();
    let value = match (kind, value) {
        (PatchOpKind::Remove, Some(given)) if def.multi && !given.is_null() => {
            // Entra: `{"op":"Remove","path":"members","value":[{"value":"<uid>"}]}`.
            let given = into_list(given);
            let mut items = into_array(current);
            items.retain(|e| !given.iter().any(|g| selects(def, g, e)));
            return Ok(Some(Value::Array(items)));
        }
        (PatchOpKind::Remove, _) => return Ok(None),
        (_, None) | (_, Some(Value::Null)) => {
            // RFC 7643 §2.5: null is "unassigned"; adding nothing changes nothing.
            return Ok(if kind == PatchOpKind::Add {
                current
            } else {
                None
            });
        }
        (_, Some(v)) => v,
    };
    if def.multi {
        let new = match coerce(def, Value::Array(into_list(value)), label)? {
            Value::Array(items) => items,
            other => vec![other],
        };
        let mut items = if kind == PatchOpKind::Add {
            into_array(current)
        } else {
            Vec::new()
        };
        let mut touched = Vec::with_capacity(new.len());
        for elem in new {
            touched.push(append_or_merge(def, &mut items, elem));
        }
        single_primary(&mut items, &touched);
        Ok(Some(Value::Array(items)))
    } else if def.ty == AttrType::Complex {
        let Some(v) = single_complex(def, value, label)? else {
            return Ok(if kind == PatchOpKind::Add {
                current
            } else {
                None
            });
        };
        // RFC 7644 §3.5.2.1/§3.5.2.3: both add and replace merge sub-attributes.
        let cleared = null_subs(def, &v);
        let new = match coerce(def, v, label)? {
            Value::Object(m) => m,
            other => {
                return Err(Error::invalid_value(format!(
                    "`{label}` must be an object, got {other}"
                )));
            }
        };
        let mut base = into_object(current);
        merge_clearing(&mut base, new, &cleared);
        Ok(Some(Value::Object(base)))
    } else {
        match coerce(def, value, label)? {
            // `[]` on a single-valued attribute coerces to null: no value.
            Value::Null if kind == PatchOpKind::Add => Ok(current),
            v => Ok(Some(v)),
        }
    }
}

/// Appends `elem` unless an equal element exists, in which case the new sub-attributes are merged
/// into it (Okta re-adds existing members). Returns the element's index.
fn append_or_merge(def: &AttrDef, items: &mut Vec<Value>, elem: Value) -> usize {
    if let Some(i) = items.iter().position(|e| same_element(def, e, &elem)) {
        if let (Value::Object(base), Value::Object(new)) = (&mut items[i], elem) {
            merge_into(base, new);
        }
        return i;
    }
    items.push(elem);
    items.len() - 1
}

/// Whether two elements of a multi-valued attribute stand for the same value: equal JSON, or the
/// same `value` (and the same `type` when both have one).
fn same_element(def: &AttrDef, a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return false;
    };
    let (Some(va), Some(vb)) = (get_ci(a, "value"), get_ci(b, "value")) else {
        return false;
    };
    if !values_equal(def.find_sub("value"), va, vb) {
        return false;
    }
    match (get_ci(a, "type"), get_ci(b, "type")) {
        (Some(ta), Some(tb)) => values_equal(def.find_sub("type"), ta, tb),
        _ => true,
    }
}

/// Compares two values of (sub-)attribute `def`, honouring `caseExact` for strings.
fn values_equal(def: Option<&AttrDef>, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if def.is_some_and(|d| d.case_exact) {
                x == y
            } else {
                x.eq_ignore_ascii_case(y) || x.to_lowercase() == y.to_lowercase()
            }
        }
        _ => a == b,
    }
}

/// Whether the `given` value of a `remove` selects element `elem`: every non-null sub-attribute
/// of an object must match; a scalar matches the element's `value` (or a simple element).
fn selects(def: &AttrDef, given: &Value, elem: &Value) -> bool {
    match (given, elem) {
        (Value::Object(g), Value::Object(e)) => {
            let mut any = false;
            for (k, gv) in g {
                if gv.is_null() {
                    continue;
                }
                any = true;
                match get_ci(e, k) {
                    Some(ev) if values_equal(def.find_sub(k), gv, ev) => {}
                    _ => return false,
                }
            }
            any
        }
        (Value::Object(_), _) => false,
        (scalar, Value::Object(e)) => {
            get_ci(e, "value").is_some_and(|ev| values_equal(def.find_sub("value"), scalar, ev))
        }
        (scalar, other) => values_equal(Some(def), scalar, other),
    }
}

fn is_primary(v: &Value) -> bool {
    v.as_object()
        .and_then(|o| get_ci(o, "primary"))
        .is_some_and(|p| p == &Value::Bool(true))
}

/// RFC 7643 §2.4: `primary: true` appears at most once. When an operation wrote a primary element,
/// the others lose the flag.
fn single_primary(items: &mut [Value], touched: &[usize]) {
    let Some(&keep) = touched
        .iter()
        .rev()
        .find(|&&i| items.get(i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep
            && is_primary(item)
            && let Value::Object(o) = item
        {
            set_ci(o, "primary", Value::Bool(false));
        }
    }
}

/// Operation on a sub-attribute without a value filter (`name.familyName`, `emails.value`).
fn compute_sub(
    ctx: &Ctx<'_>,
    kind: PatchOpKind,
    sub: &'static AttrDef,
    current: Option<Value>,
    value: Option<Value>,
) -> Result<Option<Value>> {
    let def = ctx.target.def;
    let label = ctx.label.as_str();
    let value = match value {
        Some(Value::Null) | None => None,
        Some(v) => Some(coerce(sub, v, label)?).filter(|v| !v.is_null()),
    };
    if !def.multi {
        let mut obj = into_object(current);
        match (kind, value) {
            (PatchOpKind::Remove, _) | (PatchOpKind::Replace, None) => {
                remove_key_ci(&mut obj, sub.name);
            }
            (PatchOpKind::Add, None) => {}
            (_, Some(v)) => set_ci(&mut obj, sub.name, v),
        }
        return Ok(Some(Value::Object(obj)));
    }
    let mut items = into_array(current);
    match (kind, value) {
        (PatchOpKind::Remove, _) | (PatchOpKind::Replace, None) => {
            for item in &mut items {
                if let Value::Object(o) = item {
                    remove_key_ci(o, sub.name);
                }
            }
        }
        (PatchOpKind::Add, None) => {}
        (_, Some(v)) => {
            // Without a filter only an unambiguous element can be meant: the only one, or the
            // primary one.
            let index = match items.len() {
                0 => {
                    items.push(Value::Object(Map::new()));
                    0
                }
                1 => 0,
                _ => items.iter().position(is_primary).ok_or_else(|| {
                    Error::invalid_path(format!(
                        "`{label}` is ambiguous: `{}` has several values; select one with a \
                         filter such as `{}[type eq \"work\"].{}`",
                        def.name, def.name, sub.name
                    ))
                })?,
            };
            if let Value::Object(o) = &mut items[index] {
                set_ci(o, sub.name, v);
            } else {
                let mut o = Map::new();
                o.insert(sub.name.to_string(), v);
                items[index] = Value::Object(o);
            }
            single_primary(&mut items, &[index]);
        }
    }
    Ok(Some(Value::Array(items)))
}

/// Whether element `elem` of the target attribute matches `filter` (relative to the element).
/// The filter code evaluates value paths against a resource, so the element is wrapped into a
/// one-element resource: `{"emails": [elem]}` (or under the extension URN).
fn element_matches(ctx: &Ctx<'_>, value_path: &Filter, elem: &Value) -> bool {
    let def = ctx.target.def;
    let mut holder = Map::new();
    holder.insert(def.name.to_string(), Value::Array(vec![elem.clone()]));
    let mut doc = Map::new();
    match ctx.target.owner {
        None => doc = holder,
        Some(ext) => {
            doc.insert(ext.id.to_string(), Value::Object(holder));
        }
    }
    value_path.matches(&Value::Object(doc), ctx.schema)
}

/// The element a filter made only of `eq` comparisons joined by `and` describes
/// (`type eq "work" and primary eq true` → `{"type": "work", "primary": true}`), or `None`.
fn eq_constraints(def: &AttrDef, f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::And(a, b) => eq_constraints(def, a, out) && eq_constraints(def, b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub.is_none() => {
            let Some(sub) = def.find_sub(&path.name) else {
                return false;
            };
            let v = match value {
                CompValue::Null => return false,
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::String(s) => Value::String(s.clone()),
            };
            out.insert(sub.name.to_string(), v);
            true
        }
        _ => false,
    }
}

/// Operation with a value filter (`members[value eq "x"]`, `emails[type eq "work"].value`).
fn compute_filtered(
    ctx: &Ctx<'_>,
    kind: PatchOpKind,
    f: &Filter,
    current: Option<Value>,
    value: Option<Value>,
) -> Result<Option<Value>> {
    let def = ctx.target.def;
    let label = ctx.label.as_str();
    if !def.multi || def.ty != AttrType::Complex {
        return Err(Error::invalid_path(format!(
            "value filters apply to multi-valued complex attributes; `{}` is not one",
            def.name
        )));
    }
    let sub = ctx.target.sub;
    let value_path = Filter::ValuePath {
        attr: AttrPath {
            urn: ctx.target.owner.map(|e| e.id.to_string()),
            name: def.name.to_string(),
            sub: None,
        },
        filter: Box::new(f.clone()),
    };
    let mut items = into_array(current);
    let matching: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, e)| element_matches(ctx, &value_path, e))
        .map(|(i, _)| i)
        .collect();
    let value = match (value, sub) {
        (Some(Value::Null) | None, _) => None,
        (Some(v), Some(s)) => Some(coerce(s, v, label)?).filter(|v| !v.is_null()),
        (Some(v), None) => Some(v),
    };

    let (kind, value) = match (kind, value) {
        (PatchOpKind::Add, None) => return Ok(Some(Value::Array(items))),
        // Remove, or replace with null (unassign): same effect.
        (PatchOpKind::Remove, _) | (PatchOpKind::Replace, None) => {
            match sub {
                Some(s) => {
                    for &i in &matching {
                        if let Value::Object(o) = &mut items[i] {
                            remove_key_ci(o, s.name);
                        }
                    }
                }
                None => {
                    let mut i = 0;
                    items.retain(|_| {
                        let keep = !matching.contains(&i);
                        i += 1;
                        keep
                    });
                }
            }
            return Ok(Some(Value::Array(items)));
        }
        (k, Some(v)) => (k, v),
    };

    // The new content: a sub-attribute value, or an element object.
    enum New {
        Sub(&'static AttrDef, Value),
        Element(Map<String, Value>),
    }
    let mut cleared = Vec::new();
    let new = match sub {
        Some(s) => New::Sub(s, value),
        None => {
            let Some(v) = single_complex(def, value, label)? else {
                return Ok(Some(Value::Array(items)));
            };
            cleared = null_subs(def, &v);
            match coerce_element(def, v, label)? {
                Value::Object(m) => New::Element(m),
                other => {
                    return Err(Error::invalid_value(format!(
                        "`{label}` elements must be objects, got {other}"
                    )));
                }
            }
        }
    };

    let mut constraints = Map::new();
    let creatable = eq_constraints(def, f, &mut constraints);
    let touched = if matching.is_empty() {
        // Clients rely on `emails[type eq "work"].value` creating the work email.
        if !creatable {
            return Err(Error::no_target(format!(
                "no value of `{}` matches the filter, and it is not made of `eq` comparisons \
                 joined by `and`, so no value can be created from it",
                def.name
            )));
        }
        let mut elem = constraints;
        match new {
            New::Sub(s, v) => {
                set_ci(&mut elem, s.name, v);
            }
            New::Element(m) => merge_into(&mut elem, m),
        }
        let elem = coerce_element(def, Value::Object(elem), label)?;
        items.push(elem);
        vec![items.len() - 1]
    } else {
        for &i in &matching {
            let item = &mut items[i];
            if !item.is_object() {
                *item = Value::Object(Map::new());
            }
            let Value::Object(o) = item else { continue };
            match &new {
                New::Sub(s, v) => set_ci(o, s.name, v.clone()),
                New::Element(m) if kind == PatchOpKind::Add => {
                    merge_clearing(o, m.clone(), &cleared)
                }
                New::Element(m) => {
                    // Replacing the element keeps what the filter selected it by, unless the
                    // value says otherwise.
                    let mut fresh = if creatable {
                        constraints.clone()
                    } else {
                        Map::new()
                    };
                    merge_into(&mut fresh, m.clone());
                    *o = fresh;
                }
            }
        }
        matching
    };
    single_primary(&mut items, &touched);
    Ok(Some(Value::Array(items)))
}

/// Canonical form drops nulls, empty objects and empty arrays (RFC 7643 §2.5: all "unassigned").
fn tidy(v: Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let m: Map<String, Value> = m
                .into_iter()
                .filter_map(|(k, v)| tidy(v).map(|v| (k, v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(items) => {
            let items: Vec<Value> = items.into_iter().filter_map(tidy).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        other => Some(other),
    }
}

/// Keeps extension objects under their URN spelling, drops empty ones, and lists the core schema
/// plus the extensions present in `schemas`.
fn fix_schemas(root: &mut Map<String, Value>, schema: &ResourceSchema) {
    let mut present = Vec::new();
    for ext in schema.extensions {
        let Some(key) = find_key(root, ext.id) else {
            continue;
        };
        let empty = root
            .get(&key)
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
        if empty {
            root.shift_remove(&key);
            continue;
        }
        if key != ext.id
            && let Some(v) = root.shift_remove(&key)
        {
            root.insert(ext.id.to_string(), v);
        }
        present.push(Value::String(ext.id.to_string()));
    }
    if find_key(root, "schemas").is_some() || !present.is_empty() {
        let mut list = vec![Value::String(schema.core.id.to_string())];
        list.extend(present);
        set_ci(root, "schemas", Value::Array(list));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::scim::{
        ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, ResourceKind, USER_SCHEMA,
    };
    use serde_json::json;

    const ENT: &str = ENTERPRISE_USER_SCHEMA;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "u1",
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "active": true,
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [GROUP_SCHEMA],
            "id": "g1",
            "displayName": "Eng",
            "members": [{"value": "u1", "display": "ada"}],
        })
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    fn run(res: &mut Value, kind: ResourceKind, ops: Value) -> Result<()> {
        let p = parse_patch(&body(ops))?;
        apply_patch(res, &p, ResourceSchema::for_kind(kind))
    }

    /// Applies `ops` to [`user`] with the declared `urn:…:acme:2.0:User` extension.
    fn patch_acme(ops: Value) -> Result<Value> {
        let mut u = user();
        let p = parse_patch(&body(ops))?;
        apply_patch(&mut u, &p, crate::scim::schema::acme_user_schema())?;
        Ok(u)
    }

    #[test]
    fn declared_extensions_patch_like_built_in_ones() {
        use crate::scim::schema::ACME_TEST_URN as ACME;
        // Replace by attribute path (Okta), any case.
        let u = patch_acme(
            json!([{"op": "Replace", "path": format!("{ACME}:appRole"), "value": "admin"}]),
        )
        .unwrap();
        assert_eq!(u[ACME], json!({"appRole": "admin"}));
        assert_eq!(u["schemas"], json!([USER_SCHEMA, ACME]));
        let u = patch_acme(json!([{"op": "add", "path": format!("{}:APPROLE", ACME.to_lowercase()), "value": "staff"}]))
            .unwrap();
        assert_eq!(u[ACME], json!({"appRole": "staff"}));
        // A path-less value keyed by the URN (Entra), and the URN-qualified flat key.
        let u = patch_acme(
            json!([{"op": "replace", "value": {ACME: {"appRole": "admin", "level": "3"}}}]),
        );
        assert_eq!(
            u.unwrap_err().detail(),
            format!("operation 1: `{ACME}:level` must be an integer")
        );
        let u = patch_acme(
            json!([{"op": "replace", "value": {ACME: {"appRole": "admin", "level": 3}}}]),
        )
        .unwrap();
        assert_eq!(u[ACME], json!({"appRole": "admin", "level": 3}));
        let u = patch_acme(
            json!([{"op": "replace", "value": {format!("{ACME}:badge.number"): "B-1"}}]),
        )
        .unwrap();
        assert_eq!(u[ACME], json!({"badge": {"number": "B-1"}}));
        // The whole extension by its bare URN: replace its object, then remove it.
        let u = patch_acme(json!([
            {"op": "add", "path": ACME, "value": {"appRole": "admin", "tags": ["a"]}},
            {"op": "replace", "path": ACME, "value": {"tags": ["b"]}}
        ]))
        .unwrap();
        assert_eq!(u[ACME], json!({"appRole": "admin", "tags": ["b"]}));
        let u = patch_acme(json!([
            {"op": "add", "path": ACME, "value": {"appRole": "admin"}},
            {"op": "remove", "path": ACME}
        ]))
        .unwrap();
        assert!(u.get(ACME).is_none());
        assert_eq!(u["schemas"], json!([USER_SCHEMA]));
        // Unknown attributes inside the extension are refused, as unknown core ones are.
        let e = patch_acme(
            json!([{"op": "replace", "path": format!("{ACME}:costCenterCode"), "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(e.class().scim_type, Some(ScimType::InvalidPath));
        assert_eq!(
            e.detail(),
            format!("operation 1: unknown attribute `{ACME}:costCenterCode` for User resources")
        );
        let e = patch_acme(json!([{"op": "replace", "value": {ACME: {"costCenterCode": "x"}}}]))
            .unwrap_err();
        assert_eq!(e.class().scim_type, Some(ScimType::InvalidPath));
        // Without the declaration, the same URN is not a schema of User resources.
        let mut u = user();
        let e = run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "replace", "path": format!("{ACME}:appRole"), "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(
            e.detail(),
            format!(
                "operation 1: unknown attribute `{ACME}:appRole`: `{ACME}` is not a schema of User resources"
            )
        );
    }

    fn patch_user(ops: Value) -> Value {
        let mut u = user();
        run(&mut u, ResourceKind::User, ops).unwrap();
        u
    }

    fn patch_group(ops: Value) -> Value {
        let mut g = group();
        run(&mut g, ResourceKind::Group, ops).unwrap();
        g
    }

    fn user_err(ops: Value) -> Error {
        let mut u = user();
        let e = run(&mut u, ResourceKind::User, ops).unwrap_err();
        assert_eq!(
            u,
            user(),
            "a failed patch must leave the resource unchanged"
        );
        e
    }

    fn scim_type(e: &Error) -> Option<&'static str> {
        e.class().scim_type.map(ScimType::as_str)
    }

    // ---- parsing ----

    #[test]
    fn parse_accepts_any_case_and_missing_schemas() {
        let p = parse_patch(&json!({
            "operations": [
                {"OP": "Replace", "PATH": "displayName", "VALUE": "x"},
                {"op": "ADD", "value": {"a": 1}},
                {"op": "remove", "path": "  "},
            ]
        }))
        .unwrap();
        assert_eq!(p.operations.len(), 3);
        assert_eq!(p.operations[0].op, PatchOpKind::Replace);
        assert_eq!(
            p.operations[0].path.as_ref().unwrap().attr.name,
            "displayName"
        );
        assert_eq!(p.operations[0].value, Some(json!("x")));
        assert_eq!(p.operations[1].op, PatchOpKind::Add);
        assert!(p.operations[1].path.is_none());
        assert_eq!(p.operations[2].op, PatchOpKind::Remove);
        assert!(p.operations[2].path.is_none(), "empty path means none");
        assert!(p.operations[2].value.is_none());
    }

    #[test]
    fn parse_keeps_value_filters() {
        let p = parse_patch(&body(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}
        ])))
        .unwrap();
        let path = p.operations[0].path.as_ref().unwrap();
        assert_eq!(path.attr.name, "emails");
        assert!(path.value_filter.is_some());
        assert_eq!(path.sub.as_deref(), Some("value"));
    }

    #[test]
    fn parse_whole_schema_path() {
        let p = parse_patch(&body(json!([
            {"op": "add", "path": ENT.to_uppercase(), "value": {"department": "R&D"}}
        ])))
        .unwrap();
        let path = p.operations[0].path.as_ref().unwrap();
        assert_eq!(path.attr.urn.as_deref(), Some(ENT));
        assert!(path.attr.name.is_empty());
    }

    #[test]
    fn parse_empty_operations_is_a_no_op() {
        let p = parse_patch(&body(json!([]))).unwrap();
        assert!(p.operations.is_empty());
        let mut u = user();
        apply_patch(&mut u, &p, ResourceSchema::for_kind(ResourceKind::User)).unwrap();
        assert_eq!(u, user());
    }

    #[test]
    fn parse_rejects_bad_bodies() {
        let cases = [
            (json!([]), "invalidSyntax"),
            (json!("x"), "invalidSyntax"),
            (json!({"schemas": [PATCH_OP_SCHEMA]}), "invalidSyntax"),
            (json!({"Operations": {"op": "add"}}), "invalidSyntax"),
            (body(json!(["add"])), "invalidSyntax"),
            (
                body(json!([{"path": "active", "value": true}])),
                "invalidSyntax",
            ),
            (body(json!([{"op": 1, "path": "active"}])), "invalidSyntax"),
            (
                body(json!([{"op": "update", "value": {}}])),
                "invalidSyntax",
            ),
            (
                body(json!([{"op": "add", "path": "emails[type eq]", "value": 1}])),
                "invalidPath",
            ),
            (
                body(json!([{"op": "add", "path": 5, "value": 1}])),
                "invalidPath",
            ),
            (
                body(json!([{"op": "add", "path": "active"}])),
                "invalidValue",
            ),
            (body(json!([{"op": "replace"}])), "invalidValue"),
        ];
        for (b, want) in cases {
            let e = parse_patch(&b).unwrap_err();
            assert_eq!(scim_type(&e), Some(want), "{b}: {}", e.detail());
        }
    }

    #[test]
    fn parse_error_names_the_op_and_its_number() {
        let e = parse_patch(&body(json!([
            {"op": "add", "path": "active", "value": true},
            {"op": "Merge", "value": {}}
        ])))
        .unwrap_err();
        assert!(e.detail().contains("Merge"), "{}", e.detail());
        assert!(e.detail().contains("operation 2"), "{}", e.detail());
    }

    // ---- Okta ----

    #[test]
    fn okta_deactivate_and_reactivate_pathless() {
        let u = patch_user(json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(u["active"], false);
        assert_eq!(u["id"], "u1");
        let mut u = u;
        run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .unwrap();
        assert_eq!(u, user());
    }

    #[test]
    fn okta_password_sync() {
        let u = patch_user(json!([{"op": "replace", "value": {"password": "S3cret!"}}]));
        assert_eq!(u["password"], "S3cret!");
    }

    #[test]
    fn okta_group_rename_ignores_echoed_id() {
        let g = patch_group(json!([
            {"op": "replace", "value": {"id": "other-id", "displayName": "Engineering",
                "schemas": [GROUP_SCHEMA], "meta": {"resourceType": "Group"}}}
        ]));
        assert_eq!(g["id"], "g1");
        assert_eq!(g["displayName"], "Engineering");
        assert!(g.get("meta").is_none());
    }

    #[test]
    fn okta_member_add_without_type_appends_once() {
        let g = patch_group(json!([
            {"op": "add", "path": "members",
             "value": [{"value": "u2", "display": "bob@x"}, {"value": "u1", "display": "ada"}]}
        ]));
        assert_eq!(
            g["members"],
            json!([{"value": "u1", "display": "ada"}, {"value": "u2", "display": "bob@x"}])
        );
        // Adding again is not an error and changes nothing.
        let mut g2 = g.clone();
        run(
            &mut g2,
            ResourceKind::Group,
            json!([{"op": "add", "path": "members", "value": [{"value": "u2"}]}]),
        )
        .unwrap();
        assert_eq!(g2, g);
    }

    #[test]
    fn okta_member_add_single_object() {
        let g = patch_group(json!([
            {"op": "add", "path": "members", "value": {"value": "u3"}}
        ]));
        assert_eq!(g["members"][1], json!({"value": "u3"}));
    }

    #[test]
    fn okta_member_remove_by_filter() {
        let mut g = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "u2"}]}
        ]));
        run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "u2"}]));
        // Removing a missing member is a success with no change.
        let before = g.clone();
        run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}]),
        )
        .unwrap();
        assert_eq!(g, before);
        // `value` is caseExact for members.
        run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "remove", "path": "members[value eq \"U2\"]"}]),
        )
        .unwrap();
        assert_eq!(g, before);
    }

    #[test]
    fn okta_replace_members_whole_and_with_empty_list() {
        let g = patch_group(json!([
            {"op": "replace", "path": "members", "value": [{"value": "u7"}, {"value": "u8"}]}
        ]));
        assert_eq!(g["members"], json!([{"value": "u7"}, {"value": "u8"}]));
        let g = patch_group(json!([{"op": "replace", "path": "members", "value": []}]));
        assert!(g.get("members").is_none(), "{g}");
        assert_eq!(g["displayName"], "Eng");
    }

    // ---- Entra ----

    #[test]
    fn entra_capitalised_ops_with_paths() {
        let u = patch_user(json!([
            {"op": "Replace", "path": "name.familyName", "value": "Byron"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada@new.example"},
            {"op": "Add", "path": format!("{ENT}:department"), "value": "Analytics"},
        ]));
        assert_eq!(
            u["name"],
            json!({"givenName": "Ada", "familyName": "Byron"})
        );
        assert_eq!(
            u["emails"],
            json!([{"value": "ada@new.example", "type": "work", "primary": true}])
        );
        assert_eq!(u[ENT], json!({"department": "Analytics"}));
        assert_eq!(u["schemas"], json!([USER_SCHEMA, ENT]));
    }

    #[test]
    fn entra_pathless_dotted_and_urn_keys() {
        let u = patch_user(json!([{"op": "replace", "value": {
            "name.givenName": "Augusta",
            format!("{ENT}:employeeNumber"): "7",
            "DISPLAYNAME": "Ada L.",
        }}]));
        assert_eq!(u["name"]["givenName"], "Augusta");
        assert_eq!(u["name"]["familyName"], "Lovelace");
        assert_eq!(u[ENT]["employeeNumber"], "7");
        assert_eq!(u["displayName"], "Ada L.");
        assert!(u.get("DISPLAYNAME").is_none());
    }

    #[test]
    fn pathless_extension_object_key() {
        let u = patch_user(json!([{"op": "add", "value": {
            ENT: {"department": "R&D", "manager": {"value": "m1"}},
        }}]));
        assert_eq!(
            u[ENT],
            json!({"department": "R&D", "manager": {"value": "m1"}})
        );
    }

    #[test]
    fn entra_manager_forms() {
        let u = patch_user(json!([
            {"op": "Add", "path": "manager", "value": [{"value": "m1"}]}
        ]));
        assert_eq!(u[ENT]["manager"], json!({"value": "m1"}));
        let u = patch_user(json!([
            {"op": "Replace", "path": format!("{ENT}:manager"), "value": "m2"}
        ]));
        assert_eq!(u[ENT]["manager"], json!({"value": "m2"}));
        let mut u = u;
        run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "Remove", "path": format!("{ENT}:manager")}]),
        )
        .unwrap();
        assert!(u.get(ENT).is_none(), "empty extension dropped: {u}");
        assert_eq!(u["schemas"], json!([USER_SCHEMA]));
        let e = user_err(json!([
            {"op": "Add", "path": "manager", "value": [{"value": "a"}, {"value": "b"}]}
        ]));
        assert_eq!(scim_type(&e), Some("invalidValue"));
    }

    #[test]
    fn entra_string_booleans() {
        let u = patch_user(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        assert_eq!(u["active"], false);
        let u = patch_user(json!([{"op": "replace", "value": {"active": "True"}}]));
        assert_eq!(u["active"], true);
    }

    #[test]
    fn entra_value_array_remove() {
        let mut g = patch_group(json!([
            {"op": "Add", "path": "members",
             "value": [{"$ref": null, "value": "u2"}, {"$ref": null, "value": "u3"}]}
        ]));
        assert_eq!(g["members"][1], json!({"value": "u2"}), "nulls dropped");
        run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u3"}]}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "u2"}]));
        run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u2"}]}]),
        )
        .unwrap();
        assert!(g.get("members").is_none());
    }

    #[test]
    fn several_ops_on_one_attribute() {
        let u = patch_user(json!([
            {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "ada@home"},
            {"op": "Replace", "path": "emails[type eq \"home\"].primary", "value": "True"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada@work"},
        ]));
        assert_eq!(
            u["emails"],
            json!([
                {"value": "ada@work", "type": "work", "primary": false},
                {"type": "home", "value": "ada@home", "primary": true},
            ])
        );
    }

    #[test]
    fn emails_primary_filter_updates_or_creates() {
        let u = patch_user(json!([
            {"op": "replace", "path": "emails[primary eq true].value", "value": "x@y.z"}
        ]));
        assert_eq!(u["emails"][0]["value"], "x@y.z");
        assert_eq!(u["emails"].as_array().unwrap().len(), 1);
        let mut u = user();
        u.as_object_mut().unwrap().remove("emails");
        run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "replace", "path": "emails[primary eq true].value", "value": "x@y.z"}]),
        )
        .unwrap();
        assert_eq!(u["emails"], json!([{"primary": true, "value": "x@y.z"}]));
    }

    #[test]
    fn addresses_primary_filter_creates_the_address() {
        let u = patch_user(json!([
            {"op": "replace", "path": "addresses[primary eq true].locality", "value": "London"},
            {"op": "replace", "path": "addresses[primary eq true].country", "value": "UK"},
        ]));
        assert_eq!(
            u["addresses"],
            json!([{"primary": true, "locality": "London", "country": "UK"}])
        );
    }

    #[test]
    fn add_with_filter_and_sub_creates_from_eq_constraints() {
        let u = patch_user(json!([
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\" and primary eq true].value",
             "value": "+44"}
        ]));
        assert_eq!(
            u["phoneNumbers"],
            json!([{"type": "mobile", "primary": true, "value": "+44"}])
        );
    }

    #[test]
    fn replace_with_non_eq_filter_and_no_match_is_no_target() {
        let e = user_err(json!([
            {"op": "replace", "path": "emails[type ne \"work\"].value", "value": "a"}
        ]));
        assert_eq!(scim_type(&e), Some("noTarget"));
        let e = user_err(json!([
            {"op": "replace", "path": "emails[type eq \"home\" or type eq \"other\"].value",
             "value": "a"}
        ]));
        assert_eq!(scim_type(&e), Some("noTarget"));
    }

    #[test]
    fn replace_element_by_filter_keeps_the_selector() {
        let u = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "n@e.w"}}
        ]));
        assert_eq!(u["emails"], json!([{"type": "work", "value": "n@e.w"}]));
    }

    #[test]
    fn add_element_by_filter_merges() {
        let u = patch_user(json!([
            {"op": "add", "path": "emails[type eq \"work\"]", "value": {"display": "Work"}}
        ]));
        assert_eq!(
            u["emails"],
            json!([{"value": "ada@example.com", "type": "work", "primary": true, "display": "Work"}])
        );
    }

    #[test]
    fn add_element_by_filter_can_clear_a_sub() {
        let u = patch_user(json!([
            {"op": "add", "path": "emails[type eq \"work\"]", "value": {"primary": null}}
        ]));
        assert_eq!(
            u["emails"],
            json!([{"value": "ada@example.com", "type": "work"}])
        );
    }

    #[test]
    fn remove_with_filter_and_sub() {
        let u = patch_user(json!([
            {"op": "remove", "path": "emails[type eq \"work\"].primary"}
        ]));
        assert_eq!(
            u["emails"],
            json!([{"value": "ada@example.com", "type": "work"}])
        );
    }

    // ---- general semantics ----

    #[test]
    fn add_multi_dedupes_and_keeps_one_primary() {
        let u = patch_user(json!([
            {"op": "add", "path": "emails", "value": [
                {"value": "ADA@example.com", "type": "work"},
                {"value": "ada@home", "type": "home", "primary": true}
            ]}
        ]));
        assert_eq!(
            u["emails"],
            json!([
                {"value": "ADA@example.com", "type": "work", "primary": false},
                {"value": "ada@home", "type": "home", "primary": true}
            ])
        );
    }

    #[test]
    fn pathless_add_appends_and_replace_replaces_multi() {
        let u = patch_user(json!([
            {"op": "add", "value": {"emails": [{"value": "b@x", "type": "home"}]}}
        ]));
        assert_eq!(u["emails"].as_array().unwrap().len(), 2);
        let u = patch_user(json!([
            {"op": "replace", "value": {"emails": [{"value": "b@x", "type": "home"}]}}
        ]));
        assert_eq!(u["emails"], json!([{"value": "b@x", "type": "home"}]));
    }

    #[test]
    fn complex_values_merge_sub_attributes() {
        let u = patch_user(json!([
            {"op": "replace", "path": "name", "value": {"middleName": "K", "givenName": "A."}}
        ]));
        assert_eq!(
            u["name"],
            json!({"givenName": "A.", "familyName": "Lovelace", "middleName": "K"})
        );
        let u = patch_user(json!([
            {"op": "add", "value": {"name": {"familyName": null, "honorificPrefix": "Lady"}}}
        ]));
        assert_eq!(
            u["name"],
            json!({"givenName": "Ada", "honorificPrefix": "Lady"})
        );
    }

    #[test]
    fn add_on_single_valued_sets() {
        let u = patch_user(json!([
            {"op": "add", "path": "displayName", "value": "Ada"},
            {"op": "Add", "path": "title", "value": "Countess"},
        ]));
        assert_eq!(u["displayName"], "Ada");
        assert_eq!(u["title"], "Countess");
    }

    #[test]
    fn remove_sub_and_whole_attributes_leaves_no_empties() {
        let u = patch_user(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "NAME.familyName"},
            {"op": "remove", "path": "emails"},
            {"op": "remove", "path": "nickName"},
        ]));
        assert!(u.get("name").is_none(), "{u}");
        assert!(u.get("emails").is_none(), "{u}");
        assert_eq!(u["userName"], "ada@example.com");
    }

    #[test]
    fn null_value_unassigns_on_replace_and_is_ignored_on_add() {
        let u = patch_user(json!([{"op": "replace", "path": "active", "value": null}]));
        assert!(u.get("active").is_none());
        let u = patch_user(json!([{"op": "add", "value": {"active": null}}]));
        assert_eq!(u["active"], true);
    }

    #[test]
    fn entra_work_email_on_a_user_without_emails() {
        let mut u = user();
        u.as_object_mut().unwrap().remove("emails");
        run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "w@x"}]),
        )
        .unwrap();
        assert_eq!(u["emails"], json!([{"type": "work", "value": "w@x"}]));
    }

    #[test]
    fn empty_array_on_single_valued_means_no_value() {
        let u = patch_user(json!([{"op": "add", "path": "active", "value": []}]));
        assert_eq!(u["active"], true);
        let u = patch_user(json!([{"op": "replace", "path": "active", "value": []}]));
        assert!(u.get("active").is_none());
        let u = patch_user(json!([{"op": "replace", "path": "name.givenName", "value": []}]));
        assert_eq!(u["name"], json!({"familyName": "Lovelace"}));
    }

    #[test]
    fn bare_extension_attribute_resolves() {
        let u = patch_user(json!([{"op": "add", "path": "department", "value": "Ops"}]));
        assert_eq!(u[ENT]["department"], "Ops");
    }

    #[test]
    fn schemas_inside_an_extension_object_is_ignored() {
        let mut u = json!({"schemas": [crate::scim::USER_SCHEMA], "userName": "a"});
        let p = parse_patch(&json!({"Operations": [{"op": "add", "path": ENT,
            "value": {"schemas": [ENT], "department": "R&D"}}]}))
        .unwrap();
        apply_patch(&mut u, &p, &crate::scim::schema::USER_RESOURCE).unwrap();
        assert_eq!(u[ENT]["department"], "R&D");
        assert!(u[ENT].get("schemas").is_none());
    }

    #[test]
    fn whole_extension_path() {
        let mut u = patch_user(json!([
            {"op": "add", "path": ENT, "value": {"costCenter": "42", "division": "D"}}
        ]));
        assert_eq!(u[ENT], json!({"costCenter": "42", "division": "D"}));
        run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "remove", "path": ENT}]),
        )
        .unwrap();
        assert!(u.get(ENT).is_none());
        assert_eq!(u["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn sub_without_filter_on_multi_targets_the_primary() {
        let u = patch_user(json!([
            {"op": "add", "path": "emails", "value": [{"value": "h@x", "type": "home"}]},
            {"op": "replace", "path": "emails.display", "value": "Main"},
        ]));
        assert_eq!(u["emails"][0]["display"], "Main");
        assert!(u["emails"][1].get("display").is_none());
    }

    #[test]
    fn sub_without_filter_on_ambiguous_multi_is_invalid_path() {
        let mut u = user();
        u["emails"] = json!([{"value": "a@x"}, {"value": "b@x"}]);
        let e = run(
            &mut u,
            ResourceKind::User,
            json!([{"op": "replace", "path": "emails.value", "value": "c@x"}]),
        )
        .unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidPath"));
    }

    #[test]
    fn group_members_are_writable() {
        let g = patch_group(json!([
            {"op": "add", "value": {"members": [{"value": "u9", "type": "User"}]}}
        ]));
        assert_eq!(g["members"][1], json!({"value": "u9", "type": "User"}));
    }

    // ---- errors ----

    #[test]
    fn remove_without_path_is_no_target() {
        let e = user_err(json!([{"op": "remove"}]));
        assert_eq!(scim_type(&e), Some("noTarget"));
        let e = user_err(json!([{"op": "remove", "value": {"active": true}}]));
        assert_eq!(scim_type(&e), Some("noTarget"));
    }

    #[test]
    fn unknown_attributes_are_invalid_path_and_named() {
        for (ops, name) in [
            (
                json!([{"op": "replace", "path": "favouriteColour", "value": "red"}]),
                "favouriteColour",
            ),
            (
                json!([{"op": "replace", "value": {"shoeSize": 42}}]),
                "shoeSize",
            ),
            (
                json!([{"op": "replace", "path": "name.nickname", "value": "x"}]),
                "nickname",
            ),
            (
                json!([{"op": "replace", "path": "active.value", "value": true}]),
                "active",
            ),
            (
                json!([{"op": "add", "path": "urn:x:custom:Thing:attr", "value": 1}]),
                "urn:x:custom:Thing",
            ),
            (
                json!([{"op": "replace", "value": {"urn:x:custom:Thing:attr": 1}}]),
                "urn:x:custom:Thing",
            ),
        ] {
            let e = user_err(ops);
            assert_eq!(scim_type(&e), Some("invalidPath"), "{}", e.detail());
            assert!(e.detail().contains(name), "{}", e.detail());
        }
    }

    #[test]
    fn filter_on_single_valued_attribute_is_invalid_path() {
        let e = user_err(json!([
            {"op": "replace", "path": "name[givenName eq \"Ada\"].familyName", "value": "x"}
        ]));
        assert_eq!(scim_type(&e), Some("invalidPath"));
    }

    #[test]
    fn wrong_types_are_invalid_value() {
        for ops in [
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            json!([{"op": "replace", "value": {"userName": 5}}]),
            json!([{"op": "add", "path": "emails", "value": ["a@b"]}]),
            json!([{"op": "replace", "path": "name", "value": 3.5}]),
            json!([{"op": "replace", "value": "active=false"}]),
            json!([{"op": "add", "value": [{"active": false}]}]),
            json!([{"op": "replace", "value": {ENT: "R&D"}}]),
        ] {
            let e = user_err(ops.clone());
            assert_eq!(scim_type(&e), Some("invalidValue"), "{ops}: {}", e.detail());
        }
    }

    #[test]
    fn read_only_attributes_through_a_path_are_mutability() {
        for ops in [
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            json!([{"op": "remove", "path": "id"}]),
            json!([{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}]),
            json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]),
        ] {
            let e = user_err(ops.clone());
            assert_eq!(scim_type(&e), Some("mutability"), "{ops}: {}", e.detail());
        }
    }

    #[test]
    fn read_only_sub_through_a_filter_path_is_mutability() {
        let mut g = group();
        let e = run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(scim_type(&e), Some("mutability"));
        assert_eq!(g, group());
    }

    #[test]
    fn echoing_the_same_id_is_fine() {
        let u = patch_user(json!([
            {"op": "replace", "path": "id", "value": "u1"},
            {"op": "add", "path": "groups", "value": []},
        ]));
        assert_eq!(u, user());
    }

    #[test]
    fn read_only_keys_in_pathless_values_are_ignored() {
        let u = patch_user(json!([{"op": "replace", "value": {
            "groups": [{"value": "g1"}],
            "meta": {"created": "x"},
            "id": "zzz",
            "displayName": "Ada",
        }}]));
        assert!(u.get("groups").is_none());
        assert_eq!(u["id"], "u1");
        assert_eq!(u["meta"], user()["meta"]);
        assert_eq!(u["displayName"], "Ada");
    }

    #[test]
    fn required_attribute_cannot_be_removed() {
        let e = user_err(json!([{"op": "remove", "path": "userName"}]));
        assert_eq!(scim_type(&e), Some("invalidValue"));
        let mut g = group();
        let e = run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "replace", "value": {"displayName": null}}]),
        )
        .unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidValue"));
    }

    #[test]
    fn failure_in_a_later_op_rolls_back_earlier_ones() {
        let e = user_err(json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "nope", "value": 1},
        ]));
        assert!(e.detail().starts_with("operation 2:"), "{}", e.detail());
    }

    #[test]
    fn user_schema_attributes_are_unknown_on_groups() {
        let mut g = group();
        let e = run(
            &mut g,
            ResourceKind::Group,
            json!([{"op": "replace", "path": "userName", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(scim_type(&e), Some("invalidPath"));
        assert_eq!(g, group());
    }

    #[test]
    fn non_object_resource_is_a_bug() {
        let mut v = json!([1]);
        let p = parse_patch(&body(
            json!([{"op": "add", "path": "active", "value": true}]),
        ))
        .unwrap();
        let e = apply_patch(&mut v, &p, ResourceSchema::for_kind(ResourceKind::User)).unwrap_err();
        assert_eq!(e.class().status, 500);
    }
}
