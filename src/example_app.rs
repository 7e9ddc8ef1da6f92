//! The example legacy application (source in `examples/legacy_app/app.rs`), compiled into the
//! library so that the `demo` command and the integration tests can run it in-process next to
//! the sidecar. See that file's documentation for its API; `mappings/example-app/` maps it.

#[path = "../examples/legacy_app/app.rs"]
mod app;

pub use app::*;

/// The shipped mapping for this application, as text (the demo embeds it).
pub const MAPPING_TOML: &str = include_str!("../mappings/example-app/mapping.toml");
/// The shipped script, as text; `MAPPING_TOML` names it `example-app.rhai`.
pub const SCRIPT_RHAI: &str = include_str!("../mappings/example-app/example-app.rhai");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::model::{
        DeactivationMode, IdMode, MappingFile, OnDuplicate, PagingStyle, UpdateBody,
    };
    use rhai::{Dynamic, Engine, EvalAltResult, Scope};
    use serde_json::{Value, json};

    #[test]
    fn shipped_mapping_follows_the_model() {
        let file: MappingFile = toml::from_str(MAPPING_TOML).unwrap();
        assert_eq!(file.version, 1);
        assert_eq!(file.app.base_url.as_deref(), Some("http://127.0.0.1:4000"));
        let auth = file.app.auth.as_ref().unwrap();
        assert_eq!(auth.header, "X-Api-Key");
        assert_eq!(auth.secret.env.as_deref(), Some("LEGACY_APP_API_KEY"));
        let groups = file.groups.as_ref().unwrap();
        let members = groups.members.as_ref().unwrap();
        assert_eq!(
            members.model,
            crate::mapping::model::MembersModel::Endpoints
        );
        assert_eq!(members.item_id.as_deref(), Some("user_id"));

        let users = &file.users;
        assert_eq!(users.ids, IdMode::App);
        assert_eq!(users.on_duplicate, OnDuplicate::Conflict);
        assert_eq!(users.deactivation, DeactivationMode::Endpoint);
        assert_eq!(users.script.as_deref(), Some("example-app.rhai"));
        assert_eq!(users.hooks.to_app.as_deref(), Some("to_app"));
        assert_eq!(users.hooks.from_app.as_deref(), Some("from_app"));
        assert_eq!(users.get.path, "/api/v1/users/{id}");
        assert_eq!(users.list.records.as_deref(), Some("data"));
        assert_eq!(users.list.total.as_deref(), Some("meta.total"));
        assert_eq!(users.list.paging.style, PagingStyle::Page);
        assert_eq!(users.list.paging.max_size, Some(MAX_PER_PAGE as usize));
        let update = users.update.as_ref().unwrap();
        assert_eq!(update.endpoint.method.as_deref(), Some("PUT"));
        assert_eq!(update.send, UpdateBody::Full);
        assert_eq!(update.endpoint.wrap.as_deref(), Some("user"));
        // The app's duplicate answer is 422, on create and update.
        assert_eq!(
            users.create.as_ref().unwrap().conflict_status,
            Some(vec![422])
        );
        assert_eq!(update.endpoint.conflict_status, Some(vec![422]));
        assert!(
            users
                .deactivate
                .as_ref()
                .unwrap()
                .path
                .ends_with("/suspend")
        );
        assert!(
            users
                .reactivate
                .as_ref()
                .unwrap()
                .path
                .ends_with("/unsuspend")
        );
        assert_eq!(users.filters.len(), 1);
        assert!(
            users
                .filters
                .iter()
                .all(|f| f.query.get("email").map(String::as_str) == Some("{value}"))
        );

        let rule = |scim: &str| {
            users
                .attributes
                .iter()
                .find(|r| r.scim.as_deref() == Some(scim))
                .unwrap_or_else(|| panic!("no rule for {scim}"))
        };
        assert_eq!(rule("userName").app.as_deref(), Some("email"));
        assert!(rule("active").read_only);
        assert_eq!(
            rule("active").map.as_ref().unwrap()["false"],
            json!("suspended")
        );
        assert!(rule("externalId").store);
        assert!(rule("meta.created").read_only && rule("meta.lastModified").read_only);
        // userName comes after the work e-mail so that it wins when both are sent.
        let pos = |scim: &str| {
            users
                .attributes
                .iter()
                .position(|r| r.scim.as_deref() == Some(scim))
        };
        assert!(pos("userName") > pos(r#"emails[type eq "work"].value"#));
        assert!(pos("password").is_none());
        // The script name resolves to the shipped file.
        assert!(SCRIPT_RHAI.contains("fn to_app(scim, app, ctx)"));
    }

    #[test]
    fn the_model_refuses_a_typo_so_the_test_above_can_fail() {
        let typo = MAPPING_TOML.replace("on_duplicate", "on_duplicates");
        assert!(toml::from_str::<MappingFile>(&typo).is_err());
    }

    /// An engine close to the sidecar's: `reject` registered, undefined variables are errors, an
    /// absent map key reads as `()` (the script relies on it), no `eval`.
    fn engine() -> Engine {
        let mut engine = Engine::new();
        engine.set_strict_variables(true);
        engine.disable_symbol("eval");
        engine.set_max_operations(100_000);
        engine.register_fn(
            "reject",
            |status: i64, scim_type: &str, detail: &str| -> Result<(), Box<EvalAltResult>> {
                Err(format!("reject {status} {scim_type}: {detail}").into())
            },
        );
        engine.on_print(|_| {});
        engine
    }

    fn hook(name: &str, a: Value, b: Value) -> Result<Value, String> {
        hook_op(name, a, b, "test")
    }

    fn hook_op(name: &str, a: Value, b: Value, operation: &str) -> Result<Value, String> {
        let engine = engine();
        let ast = engine.compile(SCRIPT_RHAI).map_err(|e| e.to_string())?;
        let args = (
            rhai::serde::to_dynamic(a).unwrap(),
            rhai::serde::to_dynamic(b).unwrap(),
            rhai::serde::to_dynamic(json!({"operation": operation})).unwrap(),
        );
        let out: Dynamic = engine
            .call_fn(&mut Scope::new(), &ast, name, args)
            .map_err(|e| e.to_string())?;
        rhai::serde::from_dynamic(&out).map_err(|e| e.to_string())
    }

    #[test]
    fn to_app_gives_new_users_the_member_role() {
        let scim = json!({"userName": "ada@example.com", "name": {"givenName": "Ada"}});
        let out = hook("to_app", scim, json!({"email": "ada@example.com"})).unwrap();
        assert_eq!(out, json!({"email": "ada@example.com", "role": "member"}));
    }

    #[test]
    fn to_app_takes_the_role_from_user_type() {
        for (user_type, role) in [
            ("Admin", "admin"),
            ("contractor", "guest"),
            (" Guest ", "guest"),
            ("Employee", "member"),
        ] {
            let scim = json!({"userName": "ada@example.com", "userType": user_type});
            let out = hook("to_app", scim, json!({"email": "x", "role": "member"})).unwrap();
            assert_eq!(out["role"], role, "{user_type}");
        }
        // Without userType an update keeps the record's role.
        let scim = json!({"userName": "ada@example.com"});
        let out = hook("to_app", scim, json!({"id": 1001, "role": "admin"})).unwrap();
        assert_eq!(out["role"], "admin");
        let err = hook(
            "to_app",
            json!({"userName": "ada@example.com", "userType": "Wizard"}),
            json!({}),
        )
        .unwrap_err();
        assert!(err.contains("reject 400 invalidValue"), "{err}");
        assert!(err.contains(r#"userType "Wizard""#), "{err}");
    }

    #[test]
    fn to_app_rejects_the_blocked_domain() {
        for user_name in ["eve@blocked.example", "EVE@Sub.Blocked.Example"] {
            let err = hook("to_app", json!({"userName": user_name}), json!({})).unwrap_err();
            assert!(
                err.contains(
                    "reject 400 invalidValue: users from blocked.example may not be provisioned"
                ),
                "{err}"
            );
        }
        let ok = hook(
            "to_app",
            json!({"userName": "eve@notblocked.example"}),
            json!({}),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn to_app_computes_a_display_name_on_create_only() {
        let scim = json!({"userName": "ada@example.com"});
        let app = json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"});
        let out = hook_op("to_app", scim.clone(), app.clone(), "create").unwrap();
        assert_eq!(out["display_name"], "Ada Lovelace");

        let only_last = json!({"email": "b@example.com", "first_name": null, "last_name": "Smith"});
        let out = hook_op("to_app", scim.clone(), only_last, "create").unwrap();
        assert_eq!(out["display_name"], "Smith");

        // Sent by the IdP: kept as is.
        let mut given = app.clone();
        given["display_name"] = json!("Countess");
        let out = hook_op("to_app", scim.clone(), given, "create").unwrap();
        assert_eq!(out["display_name"], "Countess");

        // On update, a removed display name stays removed.
        let out = hook_op("to_app", scim, app, "update").unwrap();
        assert!(out.get("display_name").is_none(), "{out}");
    }
}
