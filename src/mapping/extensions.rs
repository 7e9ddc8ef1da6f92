//! Custom extension schemas declared in a mapping file (`[[users.extension]]`,
//! `[[groups.extension]]`): checks every declaration, reporting each problem with its key, and
//! turns the valid ones into [`ExtensionDecl`]s for [`ResourceSchema::with_extensions`].
//!
//! Rules that may surprise: a URN must not reuse or sit under a built-in schema's URN (it would
//! read as an attribute path of that schema), its last segment must be a plain name (a bare URN
//! used as a PATCH path or in `attributes=` parses as `urn:…:2.0` + that name), and one URN may
//! be declared for one resource type only.

use crate::mapping::model::{
    ExtensionAttrType, ExtensionAttribute, ExtensionMutability, ExtensionReturned, ExtensionSchema,
    ExtensionUniqueness,
};
use crate::scim::filter::AttrPath;
use crate::scim::schema::{
    AttrDecl, AttrType, BUILT_IN_SCHEMAS, ExtensionDecl, Mutability, ResourceSchema, Returned,
    Uniqueness,
};

/// Checks the declarations of one resource section (`section` is `users` or `groups`), pushing
/// `key: message` problems. Returns the declarations that passed every check.
pub fn check(
    section: &str,
    raw: &[ExtensionSchema],
    problems: &mut Vec<String>,
) -> Vec<ExtensionDecl> {
    let mut out: Vec<ExtensionDecl> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, ext) in raw.iter().enumerate() {
        let key = format!("{section}.extension[{}]", i + 1);
        let before = problems.len();
        let urn = ext.schema.trim();
        if let Err(m) = check_urn(urn) {
            problems.push(format!("{key}.schema: {m}"));
        } else if let Some(b) = BUILT_IN_SCHEMAS
            .iter()
            .find(|b| b.eq_ignore_ascii_case(urn))
        {
            problems.push(format!(
                "{key}.schema: \"{urn}\" is a built-in schema ({b}); declare only custom extensions"
            ));
        } else if let Some(b) = BUILT_IN_SCHEMAS
            .iter()
            .chain(seen.iter())
            .find(|b| under(urn, b) || under(b, urn))
        {
            problems.push(format!(
                "{key}.schema: \"{urn}\" overlaps \"{b}\" (one URN must not start with the other followed by \":\")"
            ));
        } else if is_protocol_urn(urn) {
            problems.push(format!(
                "{key}.schema: \"{urn}\" is reserved for SCIM's own schemas and messages"
            ));
        } else if seen.iter().any(|s| s.eq_ignore_ascii_case(urn)) {
            problems.push(format!("{key}.schema: \"{urn}\" is declared twice"));
        }
        if ext.attributes.is_empty() {
            problems.push(format!(
                "{key}: declares no attribute (add `[[{section}.extension.attribute]]` tables)"
            ));
        }
        let attributes = attributes(
            &format!("{key}.attribute"),
            &ext.attributes,
            false,
            problems,
        );
        seen.push(urn);
        if problems.len() > before {
            continue;
        }
        out.push(ExtensionDecl {
            id: urn.to_string(),
            name: ext.name.clone().unwrap_or_default(),
            description: ext.description.clone().unwrap_or_default(),
            required: ext.required,
            attributes,
        });
    }
    out
}

/// Problems for declared extensions that no rule and no `script_attributes` entry uses: their
/// values would be dropped on the way in and never appear on the way out.
pub fn unused(
    section: &str,
    schema: &ResourceSchema,
    declared: &[ExtensionDecl],
    used: &[AttrPath],
) -> Vec<String> {
    let owner = |p: &AttrPath| -> Option<&'static str> {
        match p.urn.as_deref() {
            Some(u) if !schema.is_core(u) => schema.extension(u).map(|e| e.id),
            Some(_) => None,
            // Unqualified names resolve to an extension when the core schema lacks them.
            None if schema.find(None, &p.name).is_some() => None,
            None => schema
                .extensions
                .iter()
                .find(|e| e.find(&p.name).is_some())
                .map(|e| e.id),
        }
    };
    let owners: Vec<&str> = used.iter().filter_map(owner).collect();
    declared
        .iter()
        .enumerate()
        .filter(|(_, d)| !owners.iter().any(|o| o.eq_ignore_ascii_case(&d.id)))
        .map(|(i, d)| {
            format!(
                "{section}.extension[{}]: no rule or `script_attributes` entry uses \"{}\"",
                i + 1,
                d.id
            )
        })
        .collect()
}

/// Problems when one URN is declared for both users and groups (`/Schemas` has one document per
/// URN, so the two declarations would have to agree; say it once instead).
pub fn shared(users: &[ExtensionSchema], groups: &[ExtensionSchema]) -> Vec<String> {
    groups
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            users
                .iter()
                .any(|u| u.schema.trim().eq_ignore_ascii_case(g.schema.trim()))
        })
        .map(|(i, g)| {
            format!(
                "groups.extension[{}].schema: \"{}\" is already declared in `users.extension`; \
                 one URN serves one resource type",
                i + 1,
                g.schema.trim()
            )
        })
        .collect()
}

/// `b` followed by `:` starts `a` (ignoring case).
fn under(a: &str, b: &str) -> bool {
    a.len() > b.len()
        && a.as_bytes()[b.len()] == b':'
        && a.get(..b.len()).is_some_and(|p| p.eq_ignore_ascii_case(b))
}

/// SCIM's own core and message namespaces (`urn:ietf:params:scim:schemas:core:…`,
/// `urn:ietf:params:scim:api:…`).
fn is_protocol_urn(urn: &str) -> bool {
    [
        "urn:ietf:params:scim:schemas:core:",
        "urn:ietf:params:scim:api:",
    ]
    .iter()
    .any(|p| {
        urn.get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    })
}

/// `urn:<nid>:<nss>` (RFC 8141) in the characters SCIM attribute paths allow, ending in a name.
fn check_urn(urn: &str) -> Result<(), String> {
    let example = "e.g. \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\"";
    let bad = |why: &str| {
        Err(format!(
            "\"{urn}\" is not a valid schema URN: {why} ({example})"
        ))
    };
    let Some(rest) = urn
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("urn:"))
        .map(|_| &urn[4..])
    else {
        return bad("it must start with \"urn:\"");
    };
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_')))
    {
        return bad(&format!(
            "{c:?} is not allowed (letters, digits, \":\", \".\", \"-\" and \"_\" only)"
        ));
    }
    let segments: Vec<&str> = rest.split(':').collect();
    let nid = segments[0];
    if nid.is_empty() || nid.len() > 32 || nid.starts_with('-') || nid.contains(['.', '_']) {
        return bad("the namespace after \"urn:\" must be 1 to 32 letters, digits or \"-\"");
    }
    if segments.len() < 2 || segments.iter().any(|s| s.is_empty()) {
        return bad("it needs a namespace-specific part and no empty \":\" segments");
    }
    let last = segments[segments.len() - 1];
    if !is_name(last) {
        return bad("its last segment must be a name such as \"User\"");
    }
    Ok(())
}

/// An attribute name (RFC 7643 §2.1): a letter, then letters, digits, `-` or `_`.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks the attributes (or, with `nested`, the sub-attributes) at `key`.
fn attributes(
    key: &str,
    raw: &[ExtensionAttribute],
    nested: bool,
    problems: &mut Vec<String>,
) -> Vec<AttrDecl> {
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let key = format!("{key}[{}]", i + 1);
        let name = a.name.trim();
        if !is_name(name) {
            problems.push(format!(
                "{key}.name: \"{name}\" is not a valid attribute name (a letter, then letters, digits, \"-\" or \"_\")"
            ));
        } else if raw[..i]
            .iter()
            .any(|b| b.name.trim().eq_ignore_ascii_case(name))
        {
            problems.push(format!(
                "{key}.name: \"{name}\" is declared twice (names are case-insensitive)"
            ));
        }
        let ty = attr_type(a.ty);
        let complex = ty == AttrType::Complex;
        if complex && nested {
            problems.push(format!(
                "{key}.type: a sub-attribute cannot be \"complex\" (RFC 7643 §2.3.8)"
            ));
        }
        if complex && a.sub_attributes.is_empty() {
            problems.push(format!(
                "{key}: a \"complex\" attribute needs `sub_attribute` tables"
            ));
        }
        if !complex && !a.sub_attributes.is_empty() {
            problems.push(format!(
                "{key}.sub_attribute: only a \"complex\" attribute has sub-attributes"
            ));
        }
        if !a.canonical_values.is_empty() && ty != AttrType::String {
            problems.push(format!(
                "{key}.canonical_values: only a \"string\" attribute has canonical values"
            ));
        }
        if !a.reference_types.is_empty() && ty != AttrType::Reference {
            problems.push(format!(
                "{key}.reference_types: only a \"reference\" attribute has reference types"
            ));
        }
        let sub = if complex && !nested {
            attributes(
                &format!("{key}.sub_attribute"),
                &a.sub_attributes,
                true,
                problems,
            )
        } else {
            Vec::new()
        };
        out.push(AttrDecl {
            name: name.to_string(),
            ty,
            multi: a.multi_valued,
            case_exact: a.case_exact,
            mutability: match a.mutability {
                ExtensionMutability::ReadWrite => Mutability::ReadWrite,
                ExtensionMutability::ReadOnly => Mutability::ReadOnly,
                ExtensionMutability::Immutable => Mutability::Immutable,
                ExtensionMutability::WriteOnly => Mutability::WriteOnly,
            },
            returned: match a.returned {
                ExtensionReturned::Default => Returned::Default,
                ExtensionReturned::Always => Returned::Always,
                ExtensionReturned::Never => Returned::Never,
                ExtensionReturned::Request => Returned::Request,
            },
            uniqueness: match a.uniqueness {
                ExtensionUniqueness::None => Uniqueness::None,
                ExtensionUniqueness::Server => Uniqueness::Server,
                ExtensionUniqueness::Global => Uniqueness::Global,
            },
            description: a.description.clone().unwrap_or_default(),
            canonical_values: a.canonical_values.clone(),
            reference_types: a.reference_types.clone(),
            sub,
        });
    }
    out
}

fn attr_type(t: ExtensionAttrType) -> AttrType {
    match t {
        ExtensionAttrType::String => AttrType::String,
        ExtensionAttrType::Boolean => AttrType::Boolean,
        ExtensionAttrType::Integer => AttrType::Integer,
        ExtensionAttrType::Decimal => AttrType::Decimal,
        ExtensionAttrType::DateTime => AttrType::DateTime,
        ExtensionAttrType::Binary => AttrType::Binary,
        ExtensionAttrType::Reference => AttrType::Reference,
        ExtensionAttrType::Complex => AttrType::Complex,
    }
}
