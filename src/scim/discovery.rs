//! Discovery documents (RFC 7643 §5-§7, RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`
//! and `/Schemas`, generated once at start-up from what the loaded mapping really supports.
//!
//! Only the attributes the mapping stores are advertised in the Schema documents. The common
//! attributes (`id`, `externalId`, `meta`) are never listed inside a resource's schema, as in
//! RFC 7643 §8.7.1; `schemas` is not an attribute at all.

use crate::scim::filter::AttrPath;
use crate::scim::list::list_response;
use crate::scim::schema::{AttrDef, AttrType, ResourceSchema, SchemaDef};
use crate::scim::{
    RESOURCE_TYPE_SCHEMA, ResourceKind, SCHEMA_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA,
};
use serde_json::{Map, Value, json};

/// What one resource type supports under the loaded mapping.
#[derive(Debug, Clone)]
pub struct Advertised {
    pub kind: ResourceKind,
    /// The resource type's schemas, with the extensions the mapping declares.
    pub schema: &'static ResourceSchema,
    /// Attributes the mapping stores (in the app or the sidecar's store): `userName`,
    /// `name.givenName`, `emails.value`, `urn:…:enterprise:2.0:User:department`, …
    pub attributes: Vec<AttrPath>,
    /// Top-level attributes the application always holds (it cannot clear them), advertised as
    /// `required` even where the schema says otherwise (e.g. `active` backed by a status field).
    pub required: Vec<AttrPath>,
}

/// Service-wide features for `/ServiceProviderConfig`.
#[derive(Debug, Clone)]
pub struct Features {
    pub patch: bool,
    pub filter_max_results: usize,
    pub change_password: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

/// The three documents, rendered once.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub service_provider_config: Value,
    /// ListResponse of every ResourceType.
    pub resource_types: Value,
    /// ListResponse of every Schema (core, extensions in use).
    pub schemas: Value,
}

/// Which attributes of one schema are advertised: the top-level attribute and, when only some of
/// its sub-attributes are advertised, which ones (`None` = all of them).
struct Selection {
    schema: &'static SchemaDef,
    attrs: Vec<(&'static AttrDef, Option<Vec<&'static AttrDef>>)>,
}

impl Selection {
    fn new(schema: &'static SchemaDef) -> Self {
        Selection {
            schema,
            attrs: Vec::new(),
        }
    }

    fn add(&mut self, attr: &'static AttrDef, sub: Option<&str>) {
        let sub_def = match sub {
            Some(s) => match attr.find_sub(s) {
                Some(d) => Some(d),
                // Unknown sub-attributes are skipped like unknown attributes.
                None => return,
            },
            None => None,
        };
        let entry = match self.attrs.iter_mut().find(|(a, _)| std::ptr::eq(*a, attr)) {
            Some(e) => e,
            None => {
                self.attrs.push((attr, Some(Vec::new())));
                let last = self.attrs.len() - 1;
                &mut self.attrs[last]
            }
        };
        match (sub_def, &mut entry.1) {
            // The whole attribute wins over any selection of subs.
            (None, subs) => *subs = None,
            (Some(_), None) => {}
            (Some(d), Some(subs)) => {
                if !subs.iter().any(|s| std::ptr::eq(*s, d)) {
                    subs.push(d);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    /// Renders the attributes in the schema table's order, subs too, whatever order the mapping
    /// listed them in.
    fn render(&self) -> Vec<Value> {
        self.schema
            .attributes
            .iter()
            .filter_map(|def| {
                let (_, subs) = self.attrs.iter().find(|(a, _)| std::ptr::eq(*a, def))?;
                let rendered_subs: Vec<Value> = def
                    .sub
                    .iter()
                    .filter(|s| match subs {
                        None => true,
                        Some(list) => list.iter().any(|l| std::ptr::eq(*l, *s)),
                    })
                    .map(|s| attribute_doc(s, &[]))
                    .collect();
                Some(attribute_doc(def, &rendered_subs))
            })
            .collect()
    }
}

/// One attribute definition as RFC 7643 §7 describes it.
fn attribute_doc(def: &AttrDef, subs: &[Value]) -> Value {
    let mut doc = Map::new();
    doc.insert("name".into(), json!(def.name));
    doc.insert("type".into(), json!(def.ty.as_str()));
    doc.insert("multiValued".into(), json!(def.multi));
    if !def.description.is_empty() {
        doc.insert("description".into(), json!(def.description));
    }
    doc.insert("required".into(), json!(def.required));
    doc.insert("caseExact".into(), json!(def.case_exact));
    doc.insert("mutability".into(), json!(def.mutability.as_str()));
    doc.insert("returned".into(), json!(def.returned.as_str()));
    doc.insert("uniqueness".into(), json!(def.uniqueness.as_str()));
    if !def.canonical_values.is_empty() {
        doc.insert("canonicalValues".into(), json!(def.canonical_values));
    }
    if def.ty == AttrType::Reference {
        // RFC 7643 §7 expects referenceTypes on every reference; a table entry without any
        // (e.g. `photos.value`) points outside SCIM.
        let refs: &[&str] = if def.reference_types.is_empty() {
            &["external"]
        } else {
            def.reference_types
        };
        doc.insert("referenceTypes".into(), json!(refs));
    } else if !def.reference_types.is_empty() {
        doc.insert("referenceTypes".into(), json!(def.reference_types));
    }
    if def.ty == AttrType::Complex {
        doc.insert("subAttributes".into(), Value::Array(subs.to_vec()));
    }
    Value::Object(doc)
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({ "resourceType": resource_type, "location": location })
}

impl Discovery {
    /// Builds the documents. `base_url` is the public SCIM base (for `meta.location`), e.g.
    /// `http://host/scim/v2`; a trailing slash is ignored.
    ///
    /// Attributes that no schema knows, and the common attributes, are skipped here (the mapping
    /// loader reports unknown ones). Several entries for one kind are merged.
    pub fn build(features: &Features, resources: &[Advertised], base_url: &str) -> Discovery {
        let base = base_url.trim_end_matches('/');

        // Merge entries per kind, keeping the order in which kinds first appear.
        let mut kinds: Vec<(ResourceKind, &'static ResourceSchema, Vec<&AttrPath>)> = Vec::new();
        for adv in resources {
            match kinds.iter_mut().find(|(k, _, _)| *k == adv.kind) {
                Some((_, _, attrs)) => attrs.extend(adv.attributes.iter()),
                None => kinds.push((adv.kind, adv.schema, adv.attributes.iter().collect())),
            }
        }

        let mut resource_type_docs = Vec::new();
        let mut selections: Vec<Selection> = Vec::new();
        for (kind, rs, attrs) in &kinds {
            let mut core = Selection::new(rs.core);
            let mut exts: Vec<Selection> =
                rs.extensions.iter().map(|e| Selection::new(e)).collect();
            for path in attrs {
                let Some((Some(owner), def)) = rs.find(path.urn.as_deref(), &path.name) else {
                    continue;
                };
                let target = if std::ptr::eq(owner, rs.core) {
                    &mut core
                } else if let Some(sel) = exts.iter_mut().find(|s| std::ptr::eq(s.schema, owner)) {
                    sel
                } else {
                    continue;
                };
                target.add(def, path.sub.as_deref());
            }
            exts.retain(|s| !s.is_empty());

            let name = kind.name();
            let extensions: Vec<Value> = exts
                .iter()
                .map(|s| json!({ "schema": s.schema.id, "required": rs.extension_required(s.schema.id) }))
                .collect();
            resource_type_docs.push(json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": name,
                "name": name,
                "endpoint": format!("/{}", kind.endpoint()),
                "description": rs.core.description,
                "schema": rs.core.id,
                "schemaExtensions": extensions,
                "meta": meta("ResourceType", format!("{base}/ResourceTypes/{name}")),
            }));

            for sel in std::iter::once(core).chain(exts) {
                if !selections
                    .iter()
                    .any(|s| std::ptr::eq(s.schema, sel.schema))
                {
                    selections.push(sel);
                }
            }
        }

        let required: Vec<&AttrPath> = resources.iter().flat_map(|a| a.required.iter()).collect();
        let schema_docs: Vec<Value> = selections
            .iter()
            .map(|sel| {
                let mut attributes = sel.render();
                for doc in attributes.iter_mut() {
                    let name = doc["name"].as_str().unwrap_or_default().to_string();
                    let is_required = required.iter().any(|r| {
                        r.sub.is_none()
                            && r.name.eq_ignore_ascii_case(&name)
                            && r.urn
                                .as_deref()
                                .is_none_or(|u| u.eq_ignore_ascii_case(sel.schema.id))
                    });
                    if is_required {
                        doc["required"] = Value::Bool(true);
                    }
                }
                let mut doc = json!({
                    "schemas": [SCHEMA_SCHEMA],
                    "id": sel.schema.id,
                    "name": sel.schema.name,
                    "description": sel.schema.description,
                    "attributes": attributes,
                    "meta": meta("Schema", format!("{base}/Schemas/{}", sel.schema.id)),
                });
                // Both are optional (RFC 7643 §7); a declared extension may leave them out.
                if let Some(obj) = doc.as_object_mut() {
                    for key in ["name", "description"] {
                        if obj.get(key).and_then(Value::as_str) == Some("") {
                            obj.shift_remove(key);
                        }
                    }
                }
                doc
            })
            .collect();

        let mut spc = json!({
            "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
            "patch": { "supported": features.patch },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": features.filter_max_results },
            "changePassword": { "supported": features.change_password },
            "sort": { "supported": false },
            "etag": { "supported": features.etag },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with a bearer token in the Authorization header",
                "primary": true,
            }],
            "meta": meta("ServiceProviderConfig", format!("{base}/ServiceProviderConfig")),
        });
        if let (Some(uri), Value::Object(obj)) = (&features.documentation_uri, &mut spc) {
            obj.insert("documentationUri".into(), json!(uri));
        }

        let rt_total = resource_type_docs.len();
        let schema_total = schema_docs.len();
        Discovery {
            service_provider_config: spc,
            resource_types: list_response(resource_type_docs, rt_total, 1),
            schemas: list_response(schema_docs, schema_total, 1),
        }
    }

    /// One ResourceType by name (`User`, case-insensitive), for `/ResourceTypes/User`.
    pub fn resource_type(&self, name: &str) -> Option<&Value> {
        find_in_list(&self.resource_types, "name", name)
    }

    /// One Schema by URN (case-insensitive), for `/Schemas/{urn}`.
    pub fn schema(&self, urn: &str) -> Option<&Value> {
        find_in_list(&self.schemas, "id", urn)
    }
}

/// The element of a ListResponse whose `key` equals `wanted`, ignoring ASCII case.
fn find_in_list<'a>(list: &'a Value, key: &str, wanted: &str) -> Option<&'a Value> {
    list.get("Resources")?.as_array()?.iter().find(|doc| {
        doc.get(key)
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, LIST_RESPONSE_SCHEMA, USER_SCHEMA};

    fn p(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: urn.map(str::to_string),
            name: name.into(),
            sub: sub.map(str::to_string),
        }
    }

    fn features() -> Features {
        Features {
            patch: true,
            filter_max_results: 200,
            change_password: false,
            etag: false,
            documentation_uri: None,
        }
    }

    fn user_attrs() -> Vec<AttrPath> {
        vec![
            p(None, "id", None),
            p(None, "externalId", None),
            p(None, "userName", None),
            p(None, "name", Some("givenName")),
            p(None, "NAME", Some("familyName")),
            p(None, "emails", None),
            p(None, "emails", Some("value")),
            p(None, "active", None),
            p(Some(ENTERPRISE_USER_SCHEMA), "department", None),
            p(None, "nosuch", None),
            p(None, "name", Some("nosuch")),
        ]
    }

    fn standard() -> Discovery {
        Discovery::build(
            &features(),
            &[
                Advertised {
                    required: vec![],
                    kind: ResourceKind::User,
                    schema: ResourceSchema::for_kind(ResourceKind::User),
                    attributes: user_attrs(),
                },
                Advertised {
                    required: vec![],
                    kind: ResourceKind::Group,
                    schema: ResourceSchema::for_kind(ResourceKind::Group),
                    attributes: vec![p(None, "displayName", None), p(None, "members", None)],
                },
            ],
            "https://h.example/scim/v2/",
        )
    }

    fn names(attrs: &Value) -> Vec<&str> {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn service_provider_config_is_rfc_shaped() {
        let d = standard();
        let spc = &d.service_provider_config;
        assert_eq!(spc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(spc["patch"], json!({"supported": true}));
        assert_eq!(
            spc["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
        );
        assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(spc["changePassword"], json!({"supported": false}));
        assert_eq!(spc["sort"], json!({"supported": false}));
        assert_eq!(spc["etag"], json!({"supported": false}));
        let auth = &spc["authenticationSchemes"];
        assert_eq!(auth.as_array().unwrap().len(), 1);
        assert_eq!(auth[0]["type"], "oauthbearertoken");
        assert_eq!(auth[0]["name"], "OAuth Bearer Token");
        assert_eq!(auth[0]["primary"], true);
        assert!(auth[0]["description"].as_str().unwrap().contains("bearer"));
        assert_eq!(spc["meta"]["resourceType"], "ServiceProviderConfig");
        assert_eq!(
            spc["meta"]["location"],
            "https://h.example/scim/v2/ServiceProviderConfig"
        );
        assert!(spc.get("documentationUri").is_none());
        assert!(spc.get("id").is_none());
    }

    #[test]
    fn service_provider_config_follows_features() {
        let f = Features {
            patch: false,
            filter_max_results: 7,
            change_password: true,
            etag: true,
            documentation_uri: Some("https://docs.example/scim".into()),
        };
        let d = Discovery::build(&f, &[], "http://x");
        let spc = &d.service_provider_config;
        assert_eq!(spc["patch"]["supported"], false);
        assert_eq!(spc["filter"]["maxResults"], 7);
        assert_eq!(spc["changePassword"]["supported"], true);
        assert_eq!(spc["etag"]["supported"], true);
        assert_eq!(spc["documentationUri"], "https://docs.example/scim");
        assert_eq!(spc["meta"]["location"], "http://x/ServiceProviderConfig");
    }

    #[test]
    fn resource_types_list_each_advertised_kind() {
        let d = standard();
        let rts = &d.resource_types;
        assert_eq!(rts["schemas"], json!([LIST_RESPONSE_SCHEMA]));
        assert_eq!(rts["totalResults"], 2);
        assert_eq!(rts["itemsPerPage"], 2);
        assert_eq!(rts["startIndex"], 1);
        let user = &rts["Resources"][0];
        assert_eq!(
            user,
            &json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER_SCHEMA,
                "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA, "required": false}],
                "meta": {
                    "resourceType": "ResourceType",
                    "location": "https://h.example/scim/v2/ResourceTypes/User"
                }
            })
        );
        let group = &rts["Resources"][1];
        assert_eq!(group["id"], "Group");
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schema"], GROUP_SCHEMA);
        assert_eq!(group["schemaExtensions"], json!([]));
    }

    #[test]
    fn extension_is_only_declared_when_used() {
        let d = Discovery::build(
            &features(),
            &[Advertised {
                required: vec![],
                kind: ResourceKind::User,
                schema: ResourceSchema::for_kind(ResourceKind::User),
                attributes: vec![p(None, "userName", None)],
            }],
            "http://x",
        );
        assert_eq!(
            d.resource_types["Resources"][0]["schemaExtensions"],
            json!([])
        );
        assert!(d.schema(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(d.schemas["totalResults"], 1);
    }

    #[test]
    fn lookups_are_case_insensitive() {
        let d = standard();
        assert_eq!(d.resource_type("user").unwrap()["name"], "User");
        assert_eq!(d.resource_type("GROUP").unwrap()["name"], "Group");
        assert!(d.resource_type("Device").is_none());
        let urn = USER_SCHEMA.to_ascii_uppercase();
        assert_eq!(d.schema(&urn).unwrap()["id"], USER_SCHEMA);
        assert_eq!(d.schema(GROUP_SCHEMA).unwrap()["name"], "Group");
        assert!(d.schema("urn:x").is_none());
    }

    #[test]
    fn schemas_list_core_and_extensions_in_use() {
        let d = standard();
        let ids: Vec<&str> = d.schemas["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA]);
        assert_eq!(d.schemas["totalResults"], 3);
        let ent = d.schema(ENTERPRISE_USER_SCHEMA).unwrap();
        assert_eq!(ent["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(ent["name"], "EnterpriseUser");
        assert_eq!(names(&ent["attributes"]), vec!["department"]);
        assert_eq!(ent["meta"]["resourceType"], "Schema");
        assert_eq!(
            ent["meta"]["location"],
            format!("https://h.example/scim/v2/Schemas/{ENTERPRISE_USER_SCHEMA}")
        );
    }

    #[test]
    fn user_schema_lists_only_advertised_attributes_in_table_order() {
        let d = standard();
        let user = d.schema(USER_SCHEMA).unwrap();
        assert_eq!(user["description"], "User Account");
        // No id/externalId/meta (RFC 7643 §8.7.1), unknown names skipped, table order kept.
        assert_eq!(
            names(&user["attributes"]),
            vec!["userName", "name", "active", "emails"]
        );
        let name = &user["attributes"][1];
        // Table order, not the order the mapping listed them in.
        assert_eq!(
            names(&name["subAttributes"]),
            vec!["familyName", "givenName"]
        );
        // `emails` was advertised whole, so all subs are listed even though `emails.value` too.
        let emails = &user["attributes"][3];
        assert_eq!(
            names(&emails["subAttributes"]),
            vec!["value", "display", "type", "primary"]
        );
    }

    #[test]
    fn attribute_characteristics_are_complete() {
        let d = standard();
        let user = d.schema(USER_SCHEMA).unwrap();
        let user_name = &user["attributes"][0];
        assert_eq!(
            user_name,
            &json!({
                "name": "userName",
                "type": "string",
                "multiValued": false,
                "description": "Unique identifier for the User, used to sign in.",
                "required": true,
                "caseExact": false,
                "mutability": "readWrite",
                "returned": "default",
                "uniqueness": "server",
            })
        );
        let emails = &user["attributes"][3];
        assert_eq!(emails["type"], "complex");
        assert_eq!(emails["multiValued"], true);
        let email_type = &emails["subAttributes"][2];
        assert_eq!(
            email_type["canonicalValues"],
            json!(["work", "home", "other"])
        );
        assert!(email_type.get("subAttributes").is_none());
        assert!(email_type.get("referenceTypes").is_none());
        let group = d.schema(GROUP_SCHEMA).unwrap();
        let members = &group["attributes"][1];
        let mref = &members["subAttributes"][1];
        assert_eq!(mref["name"], "$ref");
        assert_eq!(mref["type"], "reference");
        assert_eq!(mref["referenceTypes"], json!(["User", "Group"]));
        assert_eq!(members["subAttributes"][0]["mutability"], "immutable");
    }

    #[test]
    fn declared_extensions_are_documented_and_listed() {
        use crate::scim::schema::{
            ACME_TEST_URN, AttrDecl, ExtensionDecl, Mutability, Returned, Uniqueness,
            acme_user_schema,
        };
        let group_ext = "urn:example:groups:1.0:Group";
        let groups = ResourceSchema::with_extensions(
            ResourceKind::Group,
            &[ExtensionDecl {
                id: group_ext.into(),
                name: String::new(),
                description: "Acme group data".into(),
                required: true,
                attributes: vec![AttrDecl {
                    name: "costCenter".into(),
                    ty: AttrType::String,
                    multi: false,
                    case_exact: true,
                    mutability: Mutability::Immutable,
                    returned: Returned::Always,
                    uniqueness: Uniqueness::Server,
                    description: String::new(),
                    canonical_values: vec![],
                    reference_types: vec![],
                    sub: vec![],
                }],
            }],
        );
        let d = Discovery::build(
            &features(),
            &[
                Advertised {
                    kind: ResourceKind::User,
                    schema: acme_user_schema(),
                    attributes: vec![
                        p(None, "userName", None),
                        p(Some(ACME_TEST_URN), "appRole", None),
                        p(Some(ACME_TEST_URN), "badge", Some("number")),
                    ],
                    required: vec![p(Some(ACME_TEST_URN), "appRole", None)],
                },
                Advertised {
                    kind: ResourceKind::Group,
                    schema: groups,
                    attributes: vec![
                        p(None, "displayName", None),
                        p(Some(group_ext), "costCenter", None),
                    ],
                    required: vec![],
                },
            ],
            "http://h/scim/v2",
        );
        // Only the used extensions are listed; required as declared.
        assert_eq!(
            d.resource_type("User").unwrap()["schemaExtensions"],
            json!([{"schema": ACME_TEST_URN, "required": false}])
        );
        assert_eq!(
            d.resource_type("group").unwrap()["schemaExtensions"],
            json!([{"schema": group_ext, "required": true}])
        );
        let ids: Vec<&str> = d.schemas["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![USER_SCHEMA, ACME_TEST_URN, GROUP_SCHEMA, group_ext]
        );
        assert!(d.schema(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(
            d.schema(&ACME_TEST_URN.to_uppercase()).unwrap(),
            &json!({
                "schemas": [SCHEMA_SCHEMA],
                "id": ACME_TEST_URN,
                "name": "AcmeUser",
                "attributes": [
                    {"name": "appRole", "type": "string", "multiValued": false,
                     "description": "Role in Acme.", "required": true, "caseExact": false,
                     "mutability": "readWrite", "returned": "default", "uniqueness": "none",
                     "canonicalValues": ["admin", "staff"]},
                    {"name": "badge", "type": "complex", "multiValued": false, "required": false,
                     "caseExact": false, "mutability": "readWrite", "returned": "default",
                     "uniqueness": "none", "subAttributes": [
                        {"name": "number", "type": "string", "multiValued": false,
                         "required": false, "caseExact": true, "mutability": "readWrite",
                         "returned": "default", "uniqueness": "none"}
                     ]}
                ],
                "meta": {"resourceType": "Schema",
                         "location": format!("http://h/scim/v2/Schemas/{ACME_TEST_URN}")}
            })
        );
        // No name declared: none in the document (RFC 7643 §7 makes it optional).
        let g = d.schema(group_ext).unwrap();
        assert!(g.get("name").is_none());
        assert_eq!(g["description"], "Acme group data");
        assert_eq!(g["attributes"][0]["caseExact"], true);
        assert_eq!(g["attributes"][0]["mutability"], "immutable");
        assert_eq!(g["attributes"][0]["returned"], "always");
        assert_eq!(g["attributes"][0]["uniqueness"], "server");
    }

    #[test]
    fn reference_without_types_is_external() {
        let d = Discovery::build(
            &features(),
            &[Advertised {
                required: vec![],
                kind: ResourceKind::User,
                schema: ResourceSchema::for_kind(ResourceKind::User),
                attributes: vec![p(None, "photos", Some("value"))],
            }],
            "http://x",
        );
        let photos = &d.schema(USER_SCHEMA).unwrap()["attributes"][0];
        assert_eq!(names(&photos["subAttributes"]), vec!["value"]);
        assert_eq!(
            photos["subAttributes"][0]["referenceTypes"],
            json!(["external"])
        );
    }

    #[test]
    fn sub_attribute_advertises_only_that_sub() {
        let d = Discovery::build(
            &features(),
            &[Advertised {
                required: vec![],
                kind: ResourceKind::User,
                schema: ResourceSchema::for_kind(ResourceKind::User),
                attributes: vec![
                    p(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value")),
                    p(Some(USER_SCHEMA), "emails", Some("value")),
                    p(None, "emails", Some("TYPE")),
                    p(None, "emails", Some("value")),
                    p(None, "addresses", Some("nosuch")),
                ],
            }],
            "http://x",
        );
        let user = d.schema(USER_SCHEMA).unwrap();
        assert_eq!(names(&user["attributes"]), vec!["emails"]);
        assert_eq!(
            names(&user["attributes"][0]["subAttributes"]),
            vec!["value", "type"]
        );
        let ent = d.schema(ENTERPRISE_USER_SCHEMA).unwrap();
        assert_eq!(names(&ent["attributes"][0]["subAttributes"]), vec!["value"]);
    }

    #[test]
    fn groups_attribute_is_read_only() {
        let d = Discovery::build(
            &features(),
            &[Advertised {
                required: vec![],
                kind: ResourceKind::User,
                schema: ResourceSchema::for_kind(ResourceKind::User),
                attributes: vec![p(None, "groups", None), p(None, "password", None)],
            }],
            "http://x",
        );
        let attrs = &d.schema(USER_SCHEMA).unwrap()["attributes"];
        assert_eq!(names(attrs), vec!["password", "groups"]);
        assert_eq!(attrs[0]["returned"], "never");
        assert_eq!(attrs[0]["mutability"], "writeOnly");
        assert_eq!(attrs[1]["mutability"], "readOnly");
    }

    #[test]
    fn duplicate_kinds_are_merged() {
        let d = Discovery::build(
            &features(),
            &[
                Advertised {
                    required: vec![],
                    kind: ResourceKind::Group,
                    schema: ResourceSchema::for_kind(ResourceKind::Group),
                    attributes: vec![p(None, "displayName", None)],
                },
                Advertised {
                    required: vec![],
                    kind: ResourceKind::Group,
                    schema: ResourceSchema::for_kind(ResourceKind::Group),
                    attributes: vec![p(None, "members", None)],
                },
            ],
            "http://x",
        );
        assert_eq!(d.resource_types["totalResults"], 1);
        let g = d.schema(GROUP_SCHEMA).unwrap();
        assert_eq!(names(&g["attributes"]), vec!["displayName", "members"]);
    }

    #[test]
    fn nothing_advertised_gives_empty_lists() {
        let d = Discovery::build(&features(), &[], "http://x");
        assert_eq!(d.resource_types["totalResults"], 0);
        assert_eq!(d.resource_types["Resources"], json!([]));
        assert_eq!(d.schemas["totalResults"], 0);
        assert!(d.resource_type("User").is_none());
    }

    #[test]
    fn required_overrides_are_advertised() {
        let d = Discovery::build(
            &Features {
                patch: true,
                filter_max_results: 10,
                change_password: false,
                etag: false,
                documentation_uri: None,
            },
            &[Advertised {
                kind: ResourceKind::User,
                schema: ResourceSchema::for_kind(ResourceKind::User),
                attributes: vec![
                    crate::scim::filter::parse_attr_path("active").unwrap(),
                    crate::scim::filter::parse_attr_path("locale").unwrap(),
                ],
                required: vec![crate::scim::filter::parse_attr_path("active").unwrap()],
            }],
            "http://x/scim/v2",
        );
        let user = d.schema(crate::scim::USER_SCHEMA).unwrap();
        let attr = |n: &str| {
            user["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == n)
                .cloned()
                .unwrap()
        };
        assert_eq!(attr("active")["required"], true);
        assert_eq!(attr("locale")["required"], false);
    }
}
