//! Schema-aware, case-insensitive access to SCIM resource JSON.
//!
//! The sidecar keeps every resource in one canonical form: core and common attributes at the top
//! level under their schema spelling (`userName`, not `USERNAME`), extension attributes inside an
//! object under their schema URN. [`normalize_input`] turns what clients send into that form;
//! [`project`] applies `attributes` / `excludedAttributes` and the `returned` rules on the way out.

use crate::error::Result;
use crate::scim::filter::AttrPath;
use crate::scim::schema::{AttrDef, ResourceSchema};
use serde_json::{Map, Value};

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
    obj.remove(&real)
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
) -> Option<std::borrow::Cow<'a, Value>> {
    let _ = (resource, path, schema);
    None
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
    let _ = schema;
    Ok(body)
}

/// Applies `attributes` (only these, plus `returned: always`) or else `excludedAttributes`
/// (all default attributes minus these), and always drops `returned: never` (`password`).
pub fn project(
    resource: Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Value {
    let _ = (attributes, excluded, schema);
    resource
}
