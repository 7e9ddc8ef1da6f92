//! Attribute definitions (RFC 7643 §4, §5 and §8.7.1) for the core User schema, the enterprise
//! User extension, the Group schema and the common attributes (`id`, `externalId`, `meta`).
//!
//! These static tables drive case-insensitive lookup, `caseExact` comparison in filters,
//! mutability checks in PATCH, `returned` rules in projection, and the `/Schemas` documents
//! (which advertise only the attributes the loaded mapping stores).
//!
//! Extension schemas declared by a mapping file ([`ExtensionDecl`]) join the same tables: see
//! [`ResourceSchema::with_extensions`], which turns them into `'static` definitions once per
//! distinct declaration, so every lookup treats them exactly like the enterprise extension.

use super::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ResourceKind, USER_SCHEMA};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute (or sub-attribute) definition.
#[derive(Debug, Clone, Copy)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub description: &'static str,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub: &'static [AttrDef],
}

impl AttrDef {
    const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        AttrDef {
            name,
            ty,
            multi: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            description,
            canonical_values: &[],
            reference_types: &[],
            sub: &[],
        }
    }
    const fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    const fn unique(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    const fn canonical(mut self, v: &'static [&'static str]) -> Self {
        self.canonical_values = v;
        self
    }
    const fn refs(mut self, r: &'static [&'static str]) -> Self {
        self.reference_types = r;
        self
    }
    const fn sub(mut self, s: &'static [AttrDef]) -> Self {
        self.sub = s;
        self
    }

    /// Finds a sub-attribute by name, case-insensitively.
    pub fn find_sub(&self, name: &str) -> Option<&'static AttrDef> {
        self.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema: its URN, name (may be empty: RFC 7643 §7 makes it optional) and top-level
/// attributes.
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

impl SchemaDef {
    pub fn find(&self, name: &str) -> Option<&'static AttrDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

use AttrType as T;
use Mutability as M;

const S: AttrType = T::String;
const B: AttrType = T::Boolean;
const R: AttrType = T::Reference;
const C: AttrType = T::Complex;

const TYPE_WHP: &[&str] = &["work", "home", "other"];

/// `value`/`display`/`type`/`primary` – the shape shared by most multi-valued attributes.
const fn multi_value_subs(value_ty: AttrType, value_desc: &'static str) -> [AttrDef; 4] {
    [
        AttrDef::new("value", value_ty, value_desc),
        AttrDef::new(
            "display",
            S,
            "A human-readable name, primarily used for display purposes.",
        ),
        AttrDef::new("type", S, "A label indicating the attribute's function."),
        AttrDef::new(
            "primary",
            B,
            "Indicates the primary or preferred attribute value.",
        ),
    ]
}

const NAME_SUBS: &[AttrDef] = &[
    AttrDef::new("formatted", S, "The full name, formatted for display."),
    AttrDef::new("familyName", S, "The family name of the User."),
    AttrDef::new("givenName", S, "The given name of the User."),
    AttrDef::new("middleName", S, "The middle name(s) of the User."),
    AttrDef::new(
        "honorificPrefix",
        S,
        "The honorific prefix(es) of the User.",
    ),
    AttrDef::new(
        "honorificSuffix",
        S,
        "The honorific suffix(es) of the User.",
    ),
];

const EMAIL_SUBS: &[AttrDef] = &[
    AttrDef::new("value", S, "Email address for the User."),
    AttrDef::new(
        "display",
        S,
        "A human-readable name, primarily used for display purposes.",
    ),
    AttrDef::new("type", S, "A label indicating the attribute's function.").canonical(TYPE_WHP),
    AttrDef::new(
        "primary",
        B,
        "Indicates the primary or preferred email address.",
    ),
];

const PHONE_SUBS: &[AttrDef] = &multi_value_subs(S, "Phone number of the User.");
const IMS_SUBS: &[AttrDef] = &multi_value_subs(S, "Instant messaging address for the User.");
const PHOTO_SUBS: &[AttrDef] = &multi_value_subs(R, "URL of a photo of the User.");
const ENTITLEMENT_SUBS: &[AttrDef] = &multi_value_subs(S, "The value of an entitlement.");
const ROLE_SUBS: &[AttrDef] = &multi_value_subs(S, "The value of a role.");
const CERT_SUBS: &[AttrDef] = &multi_value_subs(T::Binary, "The value of an X.509 certificate.");

const ADDRESS_SUBS: &[AttrDef] = &[
    AttrDef::new("formatted", S, "The full mailing address."),
    AttrDef::new("streetAddress", S, "The full street address component."),
    AttrDef::new("locality", S, "The city or locality component."),
    AttrDef::new("region", S, "The state or region component."),
    AttrDef::new("postalCode", S, "The zip code or postal code component."),
    AttrDef::new("country", S, "The country name component."),
    AttrDef::new("type", S, "A label indicating the attribute's function.").canonical(TYPE_WHP),
    AttrDef::new("primary", B, "Indicates the primary or preferred address."),
];

const GROUPS_SUBS: &[AttrDef] = &[
    AttrDef::new("value", S, "The identifier of the User's group.").mutability(M::ReadOnly),
    AttrDef::new("$ref", R, "The URI of the corresponding 'Group' resource.")
        .mutability(M::ReadOnly)
        .refs(&["Group"]),
    AttrDef::new("display", S, "A human-readable name of the group.").mutability(M::ReadOnly),
    AttrDef::new(
        "type",
        S,
        "A label indicating the membership: 'direct' or 'indirect'.",
    )
    .mutability(M::ReadOnly)
    .canonical(&["direct", "indirect"]),
];

/// Attributes every resource has (RFC 7643 §3.1).
pub static COMMON_ATTRIBUTES: &[AttrDef] = &[
    AttrDef::new(
        "id",
        S,
        "Unique identifier for the resource, assigned by the service provider.",
    )
    .case_exact()
    .mutability(M::ReadOnly)
    .returned(Returned::Always)
    .unique(Uniqueness::Server),
    AttrDef::new(
        "externalId",
        S,
        "An identifier for the resource as defined by the provisioning client.",
    )
    .case_exact(),
    AttrDef::new("meta", C, "Resource metadata.")
        .mutability(M::ReadOnly)
        .sub(&[
            AttrDef::new("resourceType", S, "The name of the resource type.")
                .case_exact()
                .mutability(M::ReadOnly),
            AttrDef::new("created", T::DateTime, "When the resource was added.")
                .mutability(M::ReadOnly),
            AttrDef::new(
                "lastModified",
                T::DateTime,
                "When the resource was last modified.",
            )
            .mutability(M::ReadOnly),
            AttrDef::new("location", R, "The URI of the resource.")
                .case_exact()
                .mutability(M::ReadOnly),
            AttrDef::new("version", S, "The version (ETag) of the resource.")
                .case_exact()
                .mutability(M::ReadOnly),
        ]),
];

pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: &[
        AttrDef::new(
            "userName",
            S,
            "Unique identifier for the User, used to sign in.",
        )
        .required()
        .unique(Uniqueness::Server),
        AttrDef::new("name", C, "The components of the user's real name.").sub(NAME_SUBS),
        AttrDef::new(
            "displayName",
            S,
            "The name of the User, suitable for display.",
        ),
        AttrDef::new("nickName", S, "The casual way to address the user."),
        AttrDef::new(
            "profileUrl",
            R,
            "A fully qualified URL pointing to the User's profile.",
        )
        .refs(&["external"]),
        AttrDef::new("title", S, "The user's title, such as 'Vice President'."),
        AttrDef::new(
            "userType",
            S,
            "The relationship between the organization and the user.",
        ),
        AttrDef::new(
            "preferredLanguage",
            S,
            "The User's preferred written or spoken language.",
        ),
        AttrDef::new("locale", S, "The User's default location for localisation."),
        AttrDef::new("timezone", S, "The User's time zone in IANA format."),
        AttrDef::new("active", B, "The User's administrative status."),
        AttrDef::new("password", S, "The User's cleartext password.")
            .case_exact()
            .mutability(M::WriteOnly)
            .returned(Returned::Never),
        AttrDef::new("emails", C, "Email addresses for the user.")
            .multi()
            .sub(EMAIL_SUBS),
        AttrDef::new("phoneNumbers", C, "Phone numbers for the User.")
            .multi()
            .sub(PHONE_SUBS),
        AttrDef::new("ims", C, "Instant messaging addresses for the User.")
            .multi()
            .sub(IMS_SUBS),
        AttrDef::new("photos", C, "URLs of photos of the User.")
            .multi()
            .sub(PHOTO_SUBS),
        AttrDef::new("addresses", C, "A physical mailing address for this User.")
            .multi()
            .sub(ADDRESS_SUBS),
        AttrDef::new("groups", C, "A list of groups to which the user belongs.")
            .multi()
            .mutability(M::ReadOnly)
            .sub(GROUPS_SUBS),
        AttrDef::new("entitlements", C, "A list of entitlements for the User.")
            .multi()
            .sub(ENTITLEMENT_SUBS),
        AttrDef::new("roles", C, "A list of roles for the User.")
            .multi()
            .sub(ROLE_SUBS),
        AttrDef::new(
            "x509Certificates",
            C,
            "A list of certificates issued to the User.",
        )
        .multi()
        .sub(CERT_SUBS),
    ],
};

pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        AttrDef::new(
            "employeeNumber",
            S,
            "Numeric or alphanumeric identifier assigned to a person.",
        ),
        AttrDef::new("costCenter", S, "Identifies the name of a cost center."),
        AttrDef::new("organization", S, "Identifies the name of an organization."),
        AttrDef::new("division", S, "Identifies the name of a division."),
        AttrDef::new("department", S, "Identifies the name of a department."),
        AttrDef::new("manager", C, "The User's manager.").sub(&[
            AttrDef::new(
                "value",
                S,
                "The id of the SCIM resource representing the manager.",
            ),
            AttrDef::new("$ref", R, "The URI of the manager's SCIM resource.").refs(&["User"]),
            AttrDef::new("displayName", S, "The displayName of the User's manager.")
                .mutability(M::ReadOnly),
        ]),
    ],
};

pub static GROUP: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &[
        AttrDef::new("displayName", S, "A human-readable name for the Group.").required(),
        AttrDef::new("members", C, "A list of members of the Group.")
            .multi()
            .sub(&[
                AttrDef::new("value", S, "Identifier of the member of this Group.")
                    .case_exact()
                    .mutability(M::Immutable),
                AttrDef::new("$ref", R, "The URI of the member resource.")
                    .mutability(M::Immutable)
                    .refs(&["User", "Group"]),
                AttrDef::new("display", S, "A human-readable name of the member.")
                    .mutability(M::ReadOnly),
                AttrDef::new("type", S, "The type of member: 'User' or 'Group'.")
                    .mutability(M::Immutable)
                    .canonical(&["User", "Group"]),
            ]),
    ],
};

/// Everything known about one resource type's attributes: core schema, extensions, common.
#[derive(Debug)]
pub struct ResourceSchema {
    pub kind: ResourceKind,
    pub core: &'static SchemaDef,
    pub extensions: &'static [&'static SchemaDef],
    /// URNs of the extensions a resource must carry (`schemaExtensions[].required`).
    pub required_extensions: &'static [&'static str],
}

pub static USER_RESOURCE: ResourceSchema = ResourceSchema {
    kind: ResourceKind::User,
    core: &USER,
    extensions: &[&ENTERPRISE_USER],
    required_extensions: &[],
};

pub static GROUP_RESOURCE: ResourceSchema = ResourceSchema {
    kind: ResourceKind::Group,
    core: &GROUP,
    extensions: &[],
    required_extensions: &[],
};

/// Every schema URN the sidecar itself defines for resources: a declared extension may not reuse
/// one (nor sit under one, as `urn:…:enterprise:2.0:User:x` would read as an attribute path).
pub const BUILT_IN_SCHEMAS: [&str; 3] = [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA];

/// An extension schema declared by a mapping file, in owned form (see
/// [`ResourceSchema::with_extensions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionDecl {
    pub id: String,
    /// Empty: no `name` in the Schema document.
    pub name: String,
    pub description: String,
    pub required: bool,
    pub attributes: Vec<AttrDecl>,
}

/// One declared attribute (or sub-attribute) of an [`ExtensionDecl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrDecl {
    pub name: String,
    pub ty: AttrType,
    pub multi: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub description: String,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    pub sub: Vec<AttrDecl>,
}

impl AttrDecl {
    /// A `'static` definition. Leaks: callers go through the interning in
    /// [`ResourceSchema::with_extensions`].
    fn leak(&self) -> AttrDef {
        let strs = |v: &[String]| -> &'static [&'static str] {
            v.iter()
                .map(|s| &*s.clone().leak())
                .collect::<Vec<_>>()
                .leak()
        };
        AttrDef {
            name: self.name.clone().leak(),
            ty: self.ty,
            multi: self.multi,
            required: false,
            case_exact: self.case_exact,
            mutability: self.mutability,
            returned: self.returned,
            uniqueness: self.uniqueness,
            description: self.description.clone().leak(),
            canonical_values: strs(&self.canonical_values),
            reference_types: strs(&self.reference_types),
            sub: self
                .sub
                .iter()
                .map(AttrDecl::leak)
                .collect::<Vec<_>>()
                .leak(),
        }
    }
}

/// Resource schemas built from declarations so far: each distinct `(kind, declarations)` is
/// turned into `'static` tables once, so reloading an unchanged mapping leaks nothing more and
/// the request path keeps its plain `&'static` lookups.
type Declared = Vec<(ResourceKind, Vec<ExtensionDecl>, &'static ResourceSchema)>;
static DECLARED: std::sync::Mutex<Declared> = std::sync::Mutex::new(Vec::new());

impl ResourceSchema {
    /// The built-in schema of a resource type (no declared extensions).
    pub fn for_kind(kind: ResourceKind) -> &'static ResourceSchema {
        match kind {
            ResourceKind::User => &USER_RESOURCE,
            ResourceKind::Group => &GROUP_RESOURCE,
        }
    }

    /// The built-in schema of `kind` plus the declared extensions, after the built-in ones.
    /// The declarations must already be checked (URNs valid and distinct from every other
    /// schema's, attribute names unique): this only builds tables.
    pub fn with_extensions(kind: ResourceKind, decls: &[ExtensionDecl]) -> &'static ResourceSchema {
        let base = Self::for_kind(kind);
        if decls.is_empty() {
            return base;
        }
        // A poisoned lock only means another thread panicked while pushing: the list is intact.
        let mut declared = DECLARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, schema)) = declared
            .iter()
            .find(|(k, d, _)| *k == kind && d.as_slice() == decls)
        {
            return schema;
        }
        let mut extensions: Vec<&'static SchemaDef> = base.extensions.to_vec();
        let mut required: Vec<&'static str> = base.required_extensions.to_vec();
        for d in decls {
            let def: &'static SchemaDef = Box::leak(Box::new(SchemaDef {
                id: d.id.clone().leak(),
                name: d.name.clone().leak(),
                description: d.description.clone().leak(),
                attributes: d
                    .attributes
                    .iter()
                    .map(AttrDecl::leak)
                    .collect::<Vec<_>>()
                    .leak(),
            }));
            extensions.push(def);
            if d.required {
                required.push(def.id);
            }
        }
        let schema: &'static ResourceSchema = Box::leak(Box::new(ResourceSchema {
            kind,
            core: base.core,
            extensions: extensions.leak(),
            required_extensions: required.leak(),
        }));
        declared.push((kind, decls.to_vec(), schema));
        schema
    }

    /// Whether the extension `urn` is required on every resource of this type.
    pub fn extension_required(&self, urn: &str) -> bool {
        self.required_extensions
            .iter()
            .any(|u| u.eq_ignore_ascii_case(urn))
    }

    /// The extension schema with this URN (case-insensitive), if the resource type has it.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Whether `urn` names this resource type's core schema.
    pub fn is_core(&self, urn: &str) -> bool {
        self.core.id.eq_ignore_ascii_case(urn)
    }

    /// Finds a top-level attribute. `urn` is `None` or the core URN for core and common
    /// attributes, or an extension URN. Returns the schema the attribute belongs to, with
    /// `None` for the common attributes (`id`, `externalId`, `meta`).
    pub fn find(
        &self,
        urn: Option<&str>,
        name: &str,
    ) -> Option<(Option<&'static SchemaDef>, &'static AttrDef)> {
        match urn {
            Some(u) if !self.is_core(u) => {
                let ext = self.extension(u)?;
                ext.find(name).map(|a| (Some(ext), a))
            }
            _ => {
                if let Some(a) = self.core.find(name) {
                    return Some((Some(self.core), a));
                }
                COMMON_ATTRIBUTES
                    .iter()
                    .find(|a| a.name.eq_ignore_ascii_case(name))
                    .map(|a| (None, a))
            }
        }
    }

    /// Finds an attribute or, with `sub`, its sub-attribute.
    pub fn find_attr(
        &self,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<&'static AttrDef> {
        let (_, attr) = self.find(urn, name)?;
        match sub {
            None => Some(attr),
            Some(s) => attr.find_sub(s),
        }
    }
}

/// Test tables: the User schema with a declared `urn:…:acme:2.0:User` extension holding
/// `appRole` (string), `level` (integer), `tags` (multi-valued, case-exact) and `badge`
/// (complex: `number`, case-exact; `issued`, read-only).
#[cfg(test)]
pub(crate) fn acme_user_schema() -> &'static ResourceSchema {
    let attr = |name: &str, ty: AttrType| AttrDecl {
        name: name.into(),
        ty,
        multi: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        description: String::new(),
        canonical_values: Vec::new(),
        reference_types: Vec::new(),
        sub: Vec::new(),
    };
    ResourceSchema::with_extensions(
        ResourceKind::User,
        &[ExtensionDecl {
            id: ACME_TEST_URN.into(),
            name: "AcmeUser".into(),
            description: String::new(),
            required: false,
            attributes: vec![
                AttrDecl {
                    canonical_values: vec!["admin".into(), "staff".into()],
                    description: "Role in Acme.".into(),
                    ..attr("appRole", AttrType::String)
                },
                attr("level", AttrType::Integer),
                AttrDecl {
                    multi: true,
                    case_exact: true,
                    ..attr("tags", AttrType::String)
                },
                AttrDecl {
                    sub: vec![
                        AttrDecl {
                            case_exact: true,
                            ..attr("number", AttrType::String)
                        },
                        AttrDecl {
                            mutability: Mutability::ReadOnly,
                            ..attr("issued", AttrType::DateTime)
                        },
                    ],
                    ..attr("badge", AttrType::Complex)
                },
            ],
        }],
    )
}

#[cfg(test)]
pub(crate) const ACME_TEST_URN: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_extensions_join_the_tables_once() {
        let s = acme_user_schema();
        assert!(std::ptr::eq(s, acme_user_schema()), "interned");
        assert_eq!(s.kind, ResourceKind::User);
        assert!(std::ptr::eq(s.core, &USER));
        assert_eq!(s.extensions.len(), 2);
        assert!(std::ptr::eq(s.extensions[0], &ENTERPRISE_USER));
        let ext = s.extension(&ACME_TEST_URN.to_lowercase()).unwrap();
        assert_eq!((ext.id, ext.name), (ACME_TEST_URN, "AcmeUser"));
        let (owner, role) = s.find(Some(ACME_TEST_URN), "approle").unwrap();
        assert!(std::ptr::eq(owner.unwrap(), ext));
        assert_eq!(role.name, "appRole");
        assert_eq!(role.canonical_values, &["admin", "staff"]);
        assert!(
            s.find_attr(Some(ACME_TEST_URN), "badge", Some("NUMBER"))
                .unwrap()
                .case_exact
        );
        // Core lookups are unchanged; the extension's names are not core names.
        assert!(s.find_attr(None, "userName", None).is_some());
        assert!(s.find_attr(None, "appRole", None).is_none());
        assert!(
            s.find_attr(Some("urn:x:other:User"), "appRole", None)
                .is_none()
        );
        assert!(!s.extension_required(ACME_TEST_URN));
        // The built-in tables do not know it.
        assert!(USER_RESOURCE.extension(ACME_TEST_URN).is_none());
        // No declarations: the built-in tables themselves.
        assert!(std::ptr::eq(
            ResourceSchema::with_extensions(ResourceKind::Group, &[]),
            &GROUP_RESOURCE
        ));
    }

    #[test]
    fn lookup_is_case_insensitive_and_knows_extensions() {
        let s = ResourceSchema::for_kind(ResourceKind::User);
        assert_eq!(
            s.find_attr(None, "USERNAME", None).unwrap().name,
            "userName"
        );
        assert_eq!(
            s.find_attr(None, "name", Some("GIVENNAME")).unwrap().name,
            "givenName"
        );
        assert!(s.find_attr(None, "id", None).unwrap().case_exact);
        let ext = ENTERPRISE_USER_SCHEMA.to_ascii_lowercase();
        assert_eq!(
            s.find_attr(Some(&ext), "Department", None).unwrap().name,
            "department"
        );
        assert!(s.find_attr(None, "department", None).is_none());
        assert!(s.find_attr(Some("urn:x:unknown"), "a", None).is_none());
        assert_eq!(
            s.find_attr(Some(USER_SCHEMA), "emails", Some("value"))
                .unwrap()
                .name,
            "value"
        );
    }
}
