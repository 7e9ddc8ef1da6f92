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

/// A problem: the key it concerns (`users.extension[1].schema`) and what is wrong.
pub type Problem = (String, String);

/// Checks the declarations of one resource section (`section` is `users` or `groups`), pushing
/// its problems. Returns the declarations that passed every check.
pub fn check(
    section: &str,
    raw: &[ExtensionSchema],
    problems: &mut Vec<Problem>,
) -> Vec<ExtensionDecl> {
    let mut out: Vec<ExtensionDecl> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, ext) in raw.iter().enumerate() {
        let key = format!("{section}.extension[{}]", i + 1);
        let before = problems.len();
        let urn = ext.schema.trim();
        if let Err(m) = check_urn(urn) {
            problems.push((format!("{key}.schema"), m));
        } else if let Some(b) = BUILT_IN_SCHEMAS
            .iter()
            .find(|b| b.eq_ignore_ascii_case(urn))
        {
            problems.push((
                format!("{key}.schema"),
                format!("\"{urn}\" is a built-in schema ({b}); declare only custom extensions"),
            ));
        } else if let Some(b) = BUILT_IN_SCHEMAS
            .iter()
            .chain(seen.iter())
            .find(|b| under(urn, b) || under(b, urn))
        {
            problems.push((format!("{key}.schema"), format!(
                "\"{urn}\" overlaps \"{b}\" (one URN must not start with the other followed by \":\")"
            )));
        } else if is_protocol_urn(urn) {
            problems.push((
                format!("{key}.schema"),
                format!("\"{urn}\" is reserved for SCIM's own schemas and messages"),
            ));
        } else if seen.iter().any(|s| s.eq_ignore_ascii_case(urn)) {
            problems.push((
                format!("{key}.schema"),
                format!("\"{urn}\" is declared twice"),
            ));
        }
        if ext.attributes.is_empty() {
            problems.push((
                key.clone(),
                format!("declares no attribute (add `[[{section}.extension.attribute]]` tables)"),
            ));
        }
        let urn_ok = problems.len() == before;
        let attributes = attributes(
            &format!("{key}.attribute"),
            &ext.attributes,
            false,
            problems,
        );
        seen.push(urn);
        // With a good URN, the valid attributes are kept even when others have problems (the
        // load fails anyway), so rules naming them do not add "unknown attribute" noise.
        if !urn_ok {
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
) -> Vec<Problem> {
    // Rules and `script_attributes` name extension attributes by their full path.
    let owners: Vec<&str> = used
        .iter()
        .filter_map(|p| p.urn.as_deref())
        .filter_map(|u| schema.extension(u))
        .map(|e| e.id)
        .collect();
    declared
        .iter()
        .enumerate()
        .filter(|(_, d)| !owners.iter().any(|o| o.eq_ignore_ascii_case(&d.id)))
        .map(|(i, d)| {
            (
                format!("{section}.extension[{}]", i + 1),
                format!("no rule or `script_attributes` entry uses \"{}\"", d.id),
            )
        })
        .collect()
}

/// Problems when one URN is declared for both users and groups (`/Schemas` has one document per
/// URN, so the two declarations would have to agree; say it once instead).
pub fn shared(users: &[ExtensionSchema], groups: &[ExtensionSchema]) -> Vec<Problem> {
    groups
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            users
                .iter()
                .any(|u| u.schema.trim().eq_ignore_ascii_case(g.schema.trim()))
        })
        .map(|(i, g)| {
            (
                format!("groups.extension[{}].schema", i + 1),
                format!(
                    "\"{}\" is already declared in `users.extension`; one URN serves one \
                     resource type",
                    g.schema.trim()
                ),
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
    problems: &mut Vec<Problem>,
) -> Vec<AttrDecl> {
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let key = format!("{key}[{}]", i + 1);
        let before = problems.len();
        let name = a.name.trim();
        if !is_name(name) {
            problems.push((format!("{key}.name"), format!(
                "\"{name}\" is not a valid attribute name (a letter, then letters, digits, \"-\" or \"_\")"
            )));
        } else if raw[..i]
            .iter()
            .any(|b| b.name.trim().eq_ignore_ascii_case(name))
        {
            problems.push((
                format!("{key}.name"),
                format!("\"{name}\" is declared twice (names are case-insensitive)"),
            ));
        }
        let ty = attr_type(a.ty);
        let complex = ty == AttrType::Complex;
        if complex && nested {
            problems.push((
                format!("{key}.type"),
                "a sub-attribute cannot be \"complex\" (RFC 7643 §2.3.8)".to_string(),
            ));
        }
        if complex && a.sub_attributes.is_empty() {
            problems.push((
                key.clone(),
                "a \"complex\" attribute needs `sub_attribute` tables".to_string(),
            ));
        }
        if !complex && !a.sub_attributes.is_empty() {
            problems.push((
                format!("{key}.sub_attribute"),
                "only a \"complex\" attribute has sub-attributes".to_string(),
            ));
        }
        if !a.canonical_values.is_empty() && ty != AttrType::String {
            problems.push((
                format!("{key}.canonical_values"),
                "only a \"string\" attribute has canonical values".to_string(),
            ));
        }
        if !a.reference_types.is_empty() && ty != AttrType::Reference {
            problems.push((
                format!("{key}.reference_types"),
                "only a \"reference\" attribute has reference types".to_string(),
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
        if problems.len() > before {
            continue;
        }
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

#[cfg(test)]
mod tests {
    use crate::mapping::{LoadError, Mapping, load_mapping_str};
    use crate::scim::schema::{AttrType, Mutability, Returned};
    use crate::scim::{ENTERPRISE_USER_SCHEMA, ResourceKind};
    use serde_json::json;
    use std::path::Path;

    const ACME: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

    const BASE: &str = r#"
        version = 1
        [app]
        base_url = "http://127.0.0.1:1"
        [users.get]
        path = "/u/{id}"
        [users.list]
        path = "/u"
        [[users.attribute]]
        scim = "userName"
        app = "email"
    "#;

    const GROUPS: &str = r#"
        [groups.get]
        path = "/g/{id}"
        [groups.list]
        path = "/g"
        [[groups.attribute]]
        scim = "displayName"
        app = "name"
    "#;

    fn load(text: &str) -> Result<Mapping, LoadError> {
        load_mapping_str(text, Path::new("m.toml"), None, &|p| {
            Err(std::io::Error::other(format!("no file {}", p.display())))
        })
    }

    /// The problems, with each `file:line:column` shortened to `file` (positions are tested
    /// with the diagnostics; here the messages are).
    fn problems(text: &str) -> Vec<String> {
        match load(text) {
            Ok(_) => panic!("loaded but should not have"),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| match p.split_once(": ") {
                    Some((at, rest)) => {
                        let file = at.split(':').next().unwrap_or(at);
                        format!("{file}: {rest}")
                    }
                    None => p,
                })
                .collect(),
        }
    }

    /// A users section with one extension (`decl` goes right after `[[users.extension]]`) whose
    /// `appRole` is mapped.
    fn with_ext(decl: &str) -> String {
        format!(
            "{BASE}\n[[users.extension]]\n{decl}\n\
             [[users.attribute]]\nscim = \"{ACME}:appRole\"\napp = \"role\"\n"
        )
    }

    #[test]
    fn a_declared_extension_is_a_schema_everywhere() {
        let text = with_ext(&format!(
            "schema = \"{ACME}\"\nname = \"AcmeUser\"\nrequired = true\n\
             [[users.extension.attribute]]\nname = \"appRole\"\ncase_exact = true\n\
             canonical_values = [\"admin\", \"staff\"]\n\
             [[users.extension.attribute]]\nname = \"badge\"\ntype = \"complex\"\n\
             returned = \"request\"\n\
             [[users.extension.attribute.sub_attribute]]\nname = \"number\"\n\
             [[users.extension.attribute.sub_attribute]]\nname = \"expires\"\ntype = \"dateTime\"\n\
             mutability = \"readOnly\"\n"
        ));
        let m = load(&text).unwrap_or_else(|e| panic!("{e}"));
        let schema = m.users.schema;
        assert_eq!(schema.kind, ResourceKind::User);
        // Built-in extensions stay, the declared one comes after them.
        let ids: Vec<&str> = schema.extensions.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![ENTERPRISE_USER_SCHEMA, ACME]);
        assert!(schema.extension_required(&ACME.to_uppercase()));
        assert!(!schema.extension_required(ENTERPRISE_USER_SCHEMA));
        let role = schema.find_attr(Some(ACME), "APPROLE", None).unwrap();
        assert_eq!(
            (role.name, role.ty, role.case_exact),
            ("appRole", AttrType::String, true)
        );
        assert_eq!(role.canonical_values, &["admin", "staff"]);
        let badge = schema.find_attr(Some(ACME), "badge", None).unwrap();
        assert_eq!(
            (badge.ty, badge.returned),
            (AttrType::Complex, Returned::Request)
        );
        let expires = schema
            .find_attr(Some(ACME), "badge", Some("Expires"))
            .unwrap();
        assert_eq!(
            (expires.ty, expires.mutability),
            (AttrType::DateTime, Mutability::ReadOnly)
        );
        assert!(
            schema
                .find_attr(Some(ACME), "costCenterCode", None)
                .is_none()
        );
        // The rule resolved against it: it reads and writes under the URN key.
        let scim = m
            .users
            .rules
            .app_to_scim(&json!({"email": "a@x", "role": "admin"}));
        assert_eq!(
            scim.unwrap(),
            json!({"schemas": [crate::scim::USER_SCHEMA, ACME], "userName": "a@x",
                   ACME: {"appRole": "admin"}})
        );
        // Loading the same declaration again gives the same tables (nothing more is leaked).
        let again = load(&text).unwrap_or_else(|e| panic!("{e}"));
        assert!(std::ptr::eq(schema, again.users.schema));
    }

    #[test]
    fn without_the_declaration_the_rule_is_unknown() {
        let text =
            format!("{BASE}\n[[users.attribute]]\nscim = \"{ACME}:appRole\"\napp = \"role\"\n");
        assert_eq!(
            problems(&text),
            vec![format!(
                "m.toml: users.attribute[2].scim: unknown SCIM attribute \"{ACME}:appRole\""
            )]
        );
    }

    #[test]
    fn groups_may_declare_extensions_too() {
        let g = "urn:example:params:groups:1.0:Group";
        let text = format!(
            "{BASE}{GROUPS}\n[[groups.extension]]\nschema = \"{g}\"\n\
             [[groups.extension.attribute]]\nname = \"costCenter\"\n\
             [[groups.attribute]]\nscim = \"{g}:costCenter\"\napp = \"cc\"\n"
        );
        let m = load(&text).unwrap_or_else(|e| panic!("{e}"));
        let groups = m.groups.as_ref().unwrap();
        assert!(
            groups
                .schema
                .find_attr(Some(g), "costcenter", None)
                .is_some()
        );
        // Users keep the built-in tables.
        assert!(std::ptr::eq(
            m.users.schema,
            crate::scim::schema::ResourceSchema::for_kind(ResourceKind::User)
        ));
    }

    #[test]
    fn urn_problems_have_exact_messages() {
        let ex = "(e.g. \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\")";
        let cases: Vec<(&str, String)> = vec![
            (
                "acme:2.0:User",
                format!("\"acme:2.0:User\" is not a valid schema URN: it must start with \"urn:\" {ex}"),
            ),
            (
                "urn:acme:2.0 User",
                format!("\"urn:acme:2.0 User\" is not a valid schema URN: ' ' is not allowed (letters, digits, \":\", \".\", \"-\" and \"_\" only) {ex}"),
            ),
            (
                "urn:ac.me:User",
                format!("\"urn:ac.me:User\" is not a valid schema URN: the namespace after \"urn:\" must be 1 to 32 letters, digits or \"-\" {ex}"),
            ),
            (
                "urn:acme::User",
                format!("\"urn:acme::User\" is not a valid schema URN: it needs a namespace-specific part and no empty \":\" segments {ex}"),
            ),
            (
                "urn:acme",
                format!("\"urn:acme\" is not a valid schema URN: it needs a namespace-specific part and no empty \":\" segments {ex}"),
            ),
            (
                "urn:acme:2.0",
                format!("\"urn:acme:2.0\" is not a valid schema URN: its last segment must be a name such as \"User\" {ex}"),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User",
                "\"urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User\" is a built-in schema (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User); declare only custom extensions".into(),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "\"urn:ietf:params:scim:schemas:core:2.0:User\" is a built-in schema (urn:ietf:params:scim:schemas:core:2.0:User); declare only custom extensions".into(),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:extra",
                "\"urn:ietf:params:scim:schemas:core:2.0:User:extra\" overlaps \"urn:ietf:params:scim:schemas:core:2.0:User\" (one URN must not start with the other followed by \":\")".into(),
            ),
            (
                "urn:ietf:params:scim:api:messages:2.0:Custom",
                "\"urn:ietf:params:scim:api:messages:2.0:Custom\" is reserved for SCIM's own schemas and messages".into(),
            ),
        ];
        for (urn, message) in cases {
            let text = format!(
                "{BASE}\n[[users.extension]]\nschema = \"{urn}\"\n\
                 [[users.extension.attribute]]\nname = \"appRole\"\n"
            );
            assert_eq!(
                problems(&text),
                vec![format!("m.toml: users.extension[1].schema: {message}")],
                "{urn}"
            );
        }
    }

    #[test]
    fn duplicate_and_shared_urns_are_refused() {
        let text = format!(
            "{BASE}{GROUPS}\n[[users.extension]]\nschema = \"{ACME}\"\n\
             [[users.extension.attribute]]\nname = \"appRole\"\n\
             [[users.extension]]\nschema = \"{}\"\n\
             [[users.extension.attribute]]\nname = \"other\"\n\
             [[users.extension]]\nschema = \"{ACME}:Sub\"\n\
             [[users.extension.attribute]]\nname = \"x\"\n\
             [[groups.extension]]\nschema = \"{ACME}\"\n\
             [[groups.extension.attribute]]\nname = \"appRole\"\n\
             [[users.attribute]]\nscim = \"{ACME}:appRole\"\napp = \"role\"\n\
             [[groups.attribute]]\nscim = \"{ACME}:appRole\"\napp = \"role\"\n",
            ACME.to_lowercase()
        );
        assert_eq!(
            problems(&text),
            vec![
                format!(
                    "m.toml: users.extension[2].schema: \"{}\" is declared twice",
                    ACME.to_lowercase()
                ),
                format!(
                    "m.toml: users.extension[3].schema: \"{ACME}:Sub\" overlaps \"{ACME}\" (one URN must not start with the other followed by \":\")"
                ),
                format!(
                    "m.toml: groups.extension[1].schema: \"{ACME}\" is already declared in `users.extension`; one URN serves one resource type"
                ),
            ]
        );
    }

    #[test]
    fn attribute_problems_have_exact_messages() {
        let text = with_ext(&format!(
            "schema = \"{ACME}\"\n\
             [[users.extension.attribute]]\nname = \"appRole\"\n\
             [[users.extension.attribute]]\nname = \"APPROLE\"\n\
             [[users.extension.attribute]]\nname = \"app role\"\n\
             [[users.extension.attribute]]\nname = \"level\"\ntype = \"integer\"\n\
             canonical_values = [\"1\"]\nreference_types = [\"User\"]\n\
             [[users.extension.attribute]]\nname = \"badge\"\ntype = \"complex\"\n\
             [[users.extension.attribute]]\nname = \"flag\"\ntype = \"boolean\"\n\
             [[users.extension.attribute.sub_attribute]]\nname = \"x\"\n\
             [[users.extension.attribute]]\nname = \"card\"\ntype = \"complex\"\n\
             [[users.extension.attribute.sub_attribute]]\nname = \"inner\"\ntype = \"complex\"\n\
             [[users.extension.attribute.sub_attribute.sub_attribute]]\nname = \"deep\"\n\
             [[users.extension.attribute.sub_attribute]]\nname = \"1st\"\n"
        ));
        let k = "m.toml: users.extension[1].attribute";
        assert_eq!(
            problems(&text),
            vec![
                format!("{k}[2].name: \"APPROLE\" is declared twice (names are case-insensitive)"),
                format!(
                    "{k}[3].name: \"app role\" is not a valid attribute name (a letter, then letters, digits, \"-\" or \"_\")"
                ),
                format!(
                    "{k}[4].canonical_values: only a \"string\" attribute has canonical values"
                ),
                format!(
                    "{k}[4].reference_types: only a \"reference\" attribute has reference types"
                ),
                format!("{k}[5]: a \"complex\" attribute needs `sub_attribute` tables"),
                format!("{k}[6].sub_attribute: only a \"complex\" attribute has sub-attributes"),
                format!(
                    "{k}[7].sub_attribute[1].type: a sub-attribute cannot be \"complex\" (RFC 7643 §2.3.8)"
                ),
                format!(
                    "{k}[7].sub_attribute[2].name: \"1st\" is not a valid attribute name (a letter, then letters, digits, \"-\" or \"_\")"
                ),
            ]
        );
    }

    #[test]
    fn empty_and_unused_extensions_are_refused() {
        let empty = format!("{BASE}\n[[users.extension]]\nschema = \"{ACME}\"\n");
        assert_eq!(
            problems(&empty),
            vec!["m.toml: users.extension[1]: declares no attribute (add `[[users.extension.attribute]]` tables)".to_string()]
        );
        let unused = format!(
            "{BASE}\n[[users.extension]]\nschema = \"{ACME}\"\n\
             [[users.extension.attribute]]\nname = \"appRole\"\n"
        );
        assert_eq!(
            problems(&unused),
            vec![format!(
                "m.toml: users.extension[1]: no rule or `script_attributes` entry uses \"{ACME}\""
            )]
        );
        // A hook-only attribute counts as a use once declared in `script_attributes`.
        let m = load(&format!(
            "{}\n[[users.extension]]\nschema = \"{ACME}\"\n\
             [[users.extension.attribute]]\nname = \"appRole\"\n",
            BASE.replace(
                "[users.get]",
                &format!("[users]\nscript_attributes = [\"{ACME}:appRole\"]\n[users.get]")
            )
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.users.advertised().len(), 2);
    }

    /// The example in mappings/README.md's "Extension schemas" reference loads, and means what
    /// the text says.
    #[test]
    fn the_reference_example_loads() {
        let readme = include_str!("../../mappings/README.md");
        let section = &readme[readme.find("### Extension schemas").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let m = load(&format!("{BASE}\n{example}")).unwrap_or_else(|e| panic!("{e}"));
        let s = m.users.schema;
        let badge = s.find_attr(Some(ACME), "badge", None).unwrap();
        assert_eq!(badge.ty, AttrType::Complex);
        assert!(
            s.find_attr(Some(ACME), "badge", Some("number"))
                .unwrap()
                .case_exact
        );
        assert_eq!(
            s.find_attr(Some(ACME), "badge", Some("expires"))
                .unwrap()
                .ty,
            AttrType::DateTime
        );
        assert!(!s.extension_required(ACME));
        assert!(m.users.rules.knows(&crate::scim::filter::AttrPath {
            urn: Some(ACME.into()),
            name: "appRole".into(),
            sub: None,
        }));
    }

    #[test]
    fn unknown_types_stop_at_the_toml_shape_check() {
        let text = with_ext(&format!(
            "schema = \"{ACME}\"\n[[users.extension.attribute]]\nname = \"appRole\"\ntype = \"text\"\n"
        ));
        let p = problems(&text);
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("m.toml:"), "{}", p[0]);
        assert!(
            p[0].contains(
                "users.extension[1].attribute[1].type: expected one of \"string\", \"boolean\", \
                 \"integer\", \"decimal\", \"dateTime\", \"binary\", \"reference\", \"complex\", \
                 got \"text\""
            ),
            "{}",
            p[0]
        );
    }
}
