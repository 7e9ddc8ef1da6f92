//! Application record → SCIM resource: attribute rules, the `from_app` hook, the SCIM id (the
//! application's, or a minted one from the store), attributes kept by the sidecar, and `meta`.

use super::app_calls::{app_id_of, section};
use super::list::name_attr;
use super::{Provisioner, members};
use crate::error::{Result, Rule};
use crate::ids::IdEntry;
use crate::mapping::{DeactivationMode, IdMode};
use crate::scim::ResourceKind;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// The hook context: which operation and resource type a hook runs for.
pub(super) fn hook_ctx(p: &Provisioner, operation: &str) -> Value {
    json!({ "operation": operation, "resource": p.kind.name() })
}

/// Which of a group's members a conversion includes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Members {
    /// None: the caller sets them itself (writes read them once, when they need them).
    Skip,
    /// Those kept in the record itself (free); projection drops them when not asked for.
    IfFree,
    /// All, read in the mapping's model.
    Read,
}

/// Converts one application record into a SCIM resource (a group without members that cost an
/// application call).
pub(super) async fn to_scim(p: &Provisioner, record: Value, operation: &str) -> Result<Value> {
    convert(p, Cow::Owned(record), operation, Members::IfFree, None).await
}

/// [`to_scim`] for a record whose store entry the caller holds (`entry`: what the store has for
/// it now). With application ids that is exactly what the conversion would look up, so the
/// lookup is skipped; with minted ids the conversion still looks the record up by its id.
pub(super) async fn to_scim_known(
    p: &Provisioner,
    record: Value,
    operation: &str,
    entry: Option<&IdEntry>,
) -> Result<Value> {
    convert(
        p,
        Cow::Owned(record),
        operation,
        Members::IfFree,
        known(p, entry),
    )
    .await
}

/// Converts one application record into a SCIM resource without a group's members (for writes
/// that read the members themselves), with the caller's store entry (see [`to_scim_known`]);
/// the caller keeps the record (the hook reads it in place, no copy).
pub(super) async fn to_scim_bare_known(
    p: &Provisioner,
    record: &Value,
    operation: &str,
    entry: Option<&IdEntry>,
) -> Result<Value> {
    convert(
        p,
        Cow::Borrowed(record),
        operation,
        Members::Skip,
        known(p, entry),
    )
    .await
}

/// The entry a conversion may use without a lookup: only with application ids, where the lookup
/// is by the very id the caller's entry was read or written under, and only when its kept values
/// hold no fractional numbers (the store keeps them as JSON text, whose parse may differ in the
/// last bit).
fn known<'e>(p: &Provisioner, entry: Option<&'e IdEntry>) -> Option<Option<&'e IdEntry>> {
    if p.map().ids != IdMode::App || entry.is_some_and(|e| e.kept.values().any(has_float)) {
        return None;
    }
    Some(entry)
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(o) => o.values().any(has_float),
        _ => false,
    }
}

/// Converts one application record into a SCIM resource; a group's members are read (in the
/// mapping's model) only when `with_members`.
pub(super) async fn to_scim_with(
    p: &Provisioner,
    record: Value,
    operation: &str,
    with_members: bool,
) -> Result<Value> {
    let members = if with_members {
        Members::Read
    } else {
        Members::IfFree
    };
    convert(p, Cow::Owned(record), operation, members, None).await
}

/// `known`: the record's store entry when the caller has it, else it is looked up.
async fn convert(
    p: &Provisioner,
    record: Cow<'_, Value>,
    operation: &str,
    with: Members,
    known: Option<Option<&IdEntry>>,
) -> Result<Value> {
    let map = p.map();
    let app_id = app_id_of(p, &record)?;
    let mut scim = map.rules.app_to_scim(&record)?;
    let looked_up;
    let entry = match known {
        Some(e) => e,
        None => {
            looked_up = entry_for_app_id(p, &app_id).await?;
            looked_up.as_ref()
        }
    };
    // Read from the record before the hook takes it.
    let free = matches!(map.members, Some(crate::mapping::Membership::Record { .. }));
    let read = match with {
        Members::Skip => false,
        Members::IfFree => free,
        Members::Read => true,
    };
    let members = if read && p.kind == ResourceKind::Group {
        Some(members::current(p, &app_id, &record).await?)
    } else {
        None
    };
    let groups = if p.kind == ResourceKind::User {
        members::user_groups(p, &record).await?
    } else {
        None
    };
    if let (Some(script), Some(hook)) = (&map.hooks.script, &map.hooks.from_app) {
        let mut ctx = hook_ctx(p, operation);
        // Lets a script offer defaults only for records the sidecar has no entry for (created in
        // the application directly), without overriding what an IdP removed on purpose.
        ctx["stored"] = Value::Bool(entry.is_some());
        scim = match record {
            Cow::Owned(record) => script.call_hook(hook, record, scim, ctx),
            Cow::Borrowed(record) => script.call_hook_ref(hook, record, scim, ctx),
        }
        .map_err(|e| e.in_rule(Rule::hook(section(p.kind), hook)))?;
    }
    let scim_id = entry.map_or(app_id, |e| e.scim_id.clone());
    if let Some(e) = entry {
        map.rules.merge_kept(&mut scim, &e.kept);
    }
    if map.deactivation == DeactivationMode::Delete
        && let Some(obj) = scim.as_object_mut()
    {
        // A record that exists in the application is active: deactivation deletes it.
        obj.entry("active").or_insert(Value::Bool(true));
    }
    if let Some(members) = members {
        members::set_members(p, &mut scim, &members).await;
    }
    if let (Some(groups), Some(obj)) = (groups, scim.as_object_mut())
        && groups.as_array().is_some_and(|g| !g.is_empty())
    {
        obj.insert("groups".into(), groups);
    }
    remember_name(p, &scim, &scim_id).await;
    Ok(finish(p, scim, &scim_id))
}

/// Keeps the display name of a resource the sidecar just saw (see [`crate::ids::Names`]). Only
/// group membership reads these names: without it, nothing is kept (one cache write less per
/// converted record).
async fn remember_name(p: &Provisioner, scim: &Value, scim_id: &str) {
    if p.mapping
        .groups
        .as_ref()
        .is_none_or(|g| g.members.is_none())
    {
        return;
    }
    if let Some(name) = scim.get(name_attr(p.kind)).and_then(Value::as_str) {
        p.names.insert(p.kind, scim_id, name).await;
    }
}

/// Sets `id` and `meta` (keeping `meta.created`/`lastModified` produced by the rules).
pub(super) fn finish(p: &Provisioner, mut scim: Value, scim_id: &str) -> Value {
    let Some(obj) = scim.as_object_mut() else {
        return scim;
    };
    let mut meta = match obj.remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.insert("resourceType".into(), Value::String(p.kind.name().into()));
    meta.insert(
        "location".into(),
        Value::String(p.resource_url(p.kind, scim_id)),
    );
    // `id` first: easier to read in logs and by admins. Moved in place: rebuilding the map
    // would hash every key again.
    obj.shift_remove("id");
    obj.shift_insert(0, "id".into(), Value::String(scim_id.to_string()));
    obj.insert("meta".into(), Value::Object(meta));
    scim
}

/// The store entry for an application record: looked up by application id; with minted ids a
/// record seen for the first time (created outside the sidecar) gets a new SCIM id.
pub(super) async fn entry_for_app_id(p: &Provisioner, app_id: &str) -> Result<Option<IdEntry>> {
    let map = p.map();
    match map.ids {
        IdMode::App => {
            if map.uses_store() {
                p.store.get(p.kind, app_id).await
            } else {
                Ok(None)
            }
        }
        IdMode::Minted => {
            if let Some(e) = p.store.find_by_app_id(p.kind, app_id).await? {
                return Ok(Some(e));
            }
            let _guard = p.mint_lock.lock().await;
            if let Some(e) = p.store.find_by_app_id(p.kind, app_id).await? {
                return Ok(Some(e));
            }
            let entry = IdEntry {
                scim_id: mint_id(),
                app_id: Some(app_id.to_string()),
                kept: Map::new(),
                parked: None,
            };
            p.store.put(p.kind, entry.clone()).await?;
            Ok(Some(entry))
        }
    }
}

/// A new stable SCIM id.
pub(super) fn mint_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
