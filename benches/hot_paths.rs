//! Criterion micro-benchmarks of the sidecar's pure hot parts, on the shipped example mapping and
//! a typical user: filter parsing, PATCH parse + apply, mapping in both directions, one Rhai hook
//! call, and JSON in/out. `cargo bench --bench hot_paths`; the end-to-end benchmark is
//! `benches/run.py`.

use criterion::{Criterion, criterion_group, criterion_main};
use scim_sidecar::demo::{MAPPING_TOML, mapping_with_example_script};
use scim_sidecar::mapping::Mapping;
use scim_sidecar::mapping::rules::WriteKind;
use scim_sidecar::scim::ResourceKind;
use scim_sidecar::scim::filter::parse_filter;
use scim_sidecar::scim::patch::{apply_patch, parse_patch};
use scim_sidecar::scim::resource::normalize_input;
use scim_sidecar::scim::schema::ResourceSchema;
use serde_json::{Value, json};
use std::hint::black_box;

/// The shipped mapping with its API key inline (no environment needed).
fn mapping() -> Mapping {
    let text = MAPPING_TOML.replace(
        r#"secret = { env = "LEGACY_APP_API_KEY" }"#,
        r#"secret = { value = "bench-key" }"#,
    );
    match mapping_with_example_script(&text, "http://127.0.0.1:4000") {
        Ok(m) => m,
        Err(e) => panic!("the example mapping does not load: {e}"),
    }
}

/// A record as the example application answers `GET /api/v1/users/{id}`.
fn app_record() -> Value {
    json!({
        "id": 1042, "email": "user42@example.com", "first_name": "User", "last_name": "42",
        "role": "member", "department": "R&D", "employee_number": "E-42",
        "display_name": "User 42", "locale": "en-US", "status": "active",
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"
    })
}

/// A user as Okta sends it on create.
fn scim_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        "displayName": "Ada Lovelace", "locale": "en-GB", "externalId": "00u1abc",
        "active": true, "password": "Never-echoed-1",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
            {"department": "R&D", "employeeNumber": "42"}
    })
}

fn filters(c: &mut Criterion) {
    c.bench_function("filter/parse userName eq", |b| {
        b.iter(|| parse_filter(black_box(r#"userName eq "ada@example.com""#)))
    });
    let complex = r#"(userName sw "ada" or emails[type eq "work" and value co "@example"]) and active eq true and not (meta.lastModified gt "2026-01-01T00:00:00Z")"#;
    c.bench_function("filter/parse complex", |b| {
        b.iter(|| parse_filter(black_box(complex)))
    });
}

fn patch(c: &mut Criterion) {
    let schema = ResourceSchema::for_kind(ResourceKind::User);
    let okta = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let entra = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Ada L."},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada@example.org"},
            {"op": "Add", "path": "name.familyName", "value": "King"},
            {"op": "Replace", "path": "active", "value": "False"}
        ]
    });
    let user = match normalize_input(scim_user(), schema) {
        Ok(u) => u,
        Err(e) => panic!("the sample user is not valid: {e}"),
    };
    for (name, body) in [("okta deactivate", okta), ("entra 4 ops", entra)] {
        c.bench_function(&format!("patch/parse + apply {name}"), |b| {
            b.iter(|| {
                let request = parse_patch(black_box(&body))?;
                let mut target = user.clone();
                apply_patch(&mut target, &request, schema)?;
                Ok::<_, scim_sidecar::error::Error>(target)
            })
        });
    }
}

fn mapping_rules(c: &mut Criterion) {
    let m = mapping();
    let rules = &m.users.rules;
    let record = app_record();
    c.bench_function("mapping/app_to_scim", |b| {
        b.iter(|| rules.app_to_scim(black_box(&record)))
    });
    let schema = ResourceSchema::for_kind(ResourceKind::User);
    let user = match normalize_input(scim_user(), schema) {
        Ok(u) => u,
        Err(e) => panic!("the sample user is not valid: {e}"),
    };
    c.bench_function("mapping/scim_to_app create", |b| {
        b.iter(|| {
            let mut app = Value::Object(Default::default());
            rules.scim_to_app(black_box(&user), &mut app, WriteKind::Create)?;
            Ok::<_, scim_sidecar::error::Error>(app)
        })
    });
    c.bench_function("mapping/scim_to_app update (send full)", |b| {
        b.iter(|| {
            let mut app = record.clone();
            rules.scim_to_app(black_box(&user), &mut app, WriteKind::Update)?;
            Ok::<_, scim_sidecar::error::Error>(app)
        })
    });
}

fn hooks(c: &mut Criterion) {
    let m = mapping();
    let (Some(script), Some(from_app), Some(to_app)) = (
        m.users.hooks.script.as_ref(),
        m.users.hooks.from_app.as_deref(),
        m.users.hooks.to_app.as_deref(),
    ) else {
        panic!("the example mapping has hooks");
    };
    let record = app_record();
    let scim = match m.users.rules.app_to_scim(&record) {
        Ok(s) => s,
        Err(e) => panic!("app_to_scim: {e}"),
    };
    let ctx = json!({"operation": "get", "resource": "User", "stored": true});
    // The smallest possible hook: the floor of any hook call (argument and result conversion,
    // the call itself).
    let identity = match scim_sidecar::mapping::Script::compile(
        "fn from_app(app, scim, ctx) { scim }",
        std::path::Path::new("identity.rhai"),
        &Default::default(),
    ) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    c.bench_function("hook/identity from_app", |b| {
        b.iter(|| identity.call_hook("from_app", record.clone(), scim.clone(), ctx.clone()))
    });
    c.bench_function("hook/from_app (example script)", |b| {
        b.iter(|| script.call_hook(from_app, record.clone(), scim.clone(), ctx.clone()))
    });
    let user = scim_user();
    let mut payload = Value::Object(Default::default());
    if let Err(e) = m
        .users
        .rules
        .scim_to_app(&user, &mut payload, WriteKind::Create)
    {
        panic!("scim_to_app: {e}");
    }
    let ctx = json!({"operation": "create", "resource": "User"});
    c.bench_function("hook/to_app (example script)", |b| {
        b.iter(|| script.call_hook(to_app, user.clone(), payload.clone(), ctx.clone()))
    });
}

fn json_io(c: &mut Criterion) {
    let record = serde_json::to_vec(&json!({ "user": app_record() })).unwrap_or_default();
    c.bench_function("json/parse app answer (1 user)", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&record)))
    });
    let user = scim_user();
    c.bench_function("json/serialise SCIM user", |b| {
        b.iter(|| serde_json::to_vec(black_box(&user)))
    });
}

criterion_group!(hot_paths, filters, patch, mapping_rules, hooks, json_io);
criterion_main!(hot_paths);
