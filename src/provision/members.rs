//! Group membership in the mapping's model:
//! - `record`: member ids in an array of the group record, written with the group's update call;
//! - `endpoints`: a members listing plus one call per added or removed member;
//! - `user_attribute`: each user record names its group(s), written with the users' update call.
//!
//! Changes are planned as a difference: the current members (read once) against the desired
//! list, compared by SCIM id, so a re-added member or a missing removal costs no write. Every
//! added member is checked to be an existing user *before* any write of the request, so a bad id
//! gives 400 `invalidValue` naming it and nothing is half-applied.

use super::app_calls::{self, Narrow, Source, Vars, app_id_of, id_text, label, render, send, wrap};
use super::{Provisioner, Target, convert};
use crate::error::{Error, Result};
use crate::mapping::model::AppType;
use crate::mapping::{MemberCall, MemberItems, Membership, UpdateBody};
use crate::scim::ResourceKind;
use crate::scim::list::ListQuery;
use crate::scim::resource::get_ci;
use serde_json::{Map, Value};

/// A member: the user's SCIM id, application id, and display name when known.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Member {
    pub scim_id: String,
    pub app_id: String,
    pub display: Option<String>,
}

/// What a membership change sends.
#[derive(Debug, Default)]
pub(super) struct Change {
    pub adds: Vec<Member>,
    pub removes: Vec<Member>,
    /// The membership after the change, in the client's order.
    pub result: Vec<Member>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.removes.is_empty()
    }
}

fn membership(p: &Provisioner) -> Option<&Membership> {
    p.map().members.as_ref()
}

fn users(p: &Provisioner) -> Result<&Provisioner> {
    p.users
        .as_deref()
        .ok_or_else(|| Error::bug("a group provisioner without the users' provisioner"))
}

/// Whether an answer to `q` shows a group's members (so they must be read).
pub(super) fn wanted(p: &Provisioner, q: &ListQuery) -> bool {
    if p.kind != ResourceKind::Group || membership(p).is_none() {
        return false;
    }
    let is_members = |a: &crate::scim::filter::AttrPath| a.name.eq_ignore_ascii_case("members");
    if !q.attributes.is_empty() {
        return q.attributes.iter().any(is_members);
    }
    !q.excluded_attributes
        .iter()
        .any(|a| is_members(a) && a.sub.is_none())
}

/// Whether a filter needs members to be evaluated.
pub(super) fn in_filter(p: &Provisioner, q: &ListQuery) -> bool {
    p.kind == ResourceKind::Group
        && q.filter.as_ref().is_some_and(|f| {
            f.attr_paths()
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case("members"))
        })
}

/// Whether a PATCH may change members (then the current members are read first).
pub(super) fn touched_by(request: &crate::scim::patch::PatchRequest) -> bool {
    request.operations.iter().any(|op| match &op.path {
        Some(path) => path.attr.name.eq_ignore_ascii_case("members"),
        None => op
            .value
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|v| v.keys().any(|k| k.eq_ignore_ascii_case("members"))),
    })
}

/// The members a SCIM resource lists (`members[].value`), deduplicated, in order. Members that
/// are groups are refused: nested groups cannot be expressed in any membership model.
pub(super) fn listed(resource: &Value) -> Result<Vec<(String, Option<String>)>> {
    let Some(obj) = resource.as_object() else {
        return Ok(Vec::new());
    };
    let items = match get_ci(obj, "members") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Error::invalid_value("members must be an array")),
    };
    let mut out: Vec<(String, Option<String>)> = Vec::with_capacity(items.len());
    for item in items {
        let Some(m) = item.as_object() else {
            return Err(Error::invalid_value(
                "each member must be an object with a `value`",
            ));
        };
        let value = match get_ci(m, "value") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(Error::invalid_value(
                    "each member needs a non-empty `value`",
                ));
            }
        };
        if get_ci(m, "type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Group"))
        {
            return Err(Error::invalid_value(format!(
                "member \"{value}\" is a group; this service provider does not support nested groups"
            )));
        }
        let display = get_ci(m, "display")
            .and_then(Value::as_str)
            .map(str::to_string);
        if !out.iter().any(|(v, _)| *v == value) {
            out.push((value, display));
        }
    }
    Ok(out)
}

/// Plans the change from `current` to the `desired` SCIM ids, checking every added user exists.
pub(super) async fn plan(
    p: &Provisioner,
    current: &[Member],
    desired: Vec<(String, Option<String>)>,
) -> Result<Change> {
    let mut change = Change::default();
    let mut unknown = Vec::new();
    for (scim_id, display) in &desired {
        match current.iter().find(|m| m.scim_id == *scim_id) {
            Some(m) => change.result.push(m.clone()),
            None => unknown.push((scim_id.clone(), display.clone())),
        }
    }
    for m in current {
        if !desired.iter().any(|(id, _)| *id == m.scim_id) {
            change.removes.push(m.clone());
        }
    }
    // Per-member calls cannot be rolled back: when a change needs more than one, every added
    // user is read from the application first (not trusted to the names cache, which may
    // remember a user deleted since), so an unknown member fails the request before any write.
    // The `user_attribute` model reads every affected user before writing anyway (`apply`).
    let confirm = matches!(membership(p), Some(Membership::Endpoints { .. }))
        && unknown.len() + change.removes.len() > 1;
    let added = resolve(p, unknown, confirm).await?;
    for m in added {
        if let Some(slot) = change.result.iter().position(|r| r.scim_id == m.scim_id) {
            change.result[slot] = m.clone();
        } else {
            change.result.push(m.clone());
        }
        change.adds.push(m);
    }
    // Keep the client's order: `result` was filled current-first; reorder by `desired`.
    change.result.sort_by_key(|m| {
        desired
            .iter()
            .position(|(id, _)| *id == m.scim_id)
            .unwrap_or(usize::MAX)
    });
    Ok(change)
}

/// Resolves SCIM user ids to application ids, checking that each user exists (the names cache
/// answers for users the sidecar saw recently unless `confirm` asks for a read of each; others
/// are read once). The first unknown id fails the whole request with 400 `invalidValue`.
pub(super) async fn resolve(
    p: &Provisioner,
    ids: Vec<(String, Option<String>)>,
    confirm: bool,
) -> Result<Vec<Member>> {
    let users = users(p)?;
    let mut out = Vec::with_capacity(ids.len());
    for (scim_id, display) in ids {
        let unknown = || {
            Error::invalid_value(format!(
                "member \"{scim_id}\" is not an existing user of this service provider"
            ))
        };
        let target = match users.resolve(&scim_id).await {
            Ok(t) => t,
            Err(Error::Client(crate::error::ClientError::NotFound(_))) => return Err(unknown()),
            Err(e) => return Err(e),
        };
        let app_id = match target {
            Target::App { app_id, .. } => app_id,
            Target::Parked(_) => {
                return Err(Error::invalid_value(format!(
                    "member \"{scim_id}\" is a deactivated user and cannot join a group"
                )));
            }
        };
        let known = match confirm {
            true => None,
            false => users.names.get(ResourceKind::User, &scim_id).await,
        };
        let display = match known {
            Some(name) => Some(name),
            None => {
                let record = app_calls::fetch(users, &app_id)
                    .await?
                    .ok_or_else(unknown)?;
                // Converting fills the names cache (the user's display) as a side effect.
                // Boxed: converting a user may read groups, which may convert users.
                let scim = Box::pin(convert::to_scim(users, record, "get")).await?;
                scim.get("userName")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or(display)
            }
        };
        out.push(Member {
            scim_id,
            app_id,
            display,
        });
    }
    Ok(out)
}

/// A member item's user id as text (ids may be numbers in the application).
fn item_id(items: &MemberItems, item: &Value) -> Option<String> {
    match &items.id {
        Some(path) => id_text(path.get(item)?),
        None => id_text(item),
    }
}

/// An id as the application wants it in a body.
fn typed(id: &str, id_type: Option<AppType>) -> Value {
    match id_type {
        Some(AppType::Number) => id
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(id.to_string())),
        _ => Value::String(id.to_string()),
    }
}

/// `(app id, display)` of each member item.
fn from_items(items: &MemberItems, list: &[Value]) -> Vec<(String, Option<String>)> {
    list.iter()
        .filter_map(|item| {
            let id = item_id(items, item)?;
            let display = items
                .display
                .as_ref()
                .and_then(|d| d.get(item))
                .and_then(Value::as_str)
                .map(str::to_string);
            Some((id, display))
        })
        .collect()
}

/// The group's current members. `record` is the group's application record.
pub(super) async fn current(
    p: &Provisioner,
    group_app_id: &str,
    record: &Value,
) -> Result<Vec<Member>> {
    let Some(model) = membership(p) else {
        return Ok(Vec::new());
    };
    let users = users(p)?;
    let found: Vec<(String, Option<String>)> = match model {
        Membership::Record { field, items } => match field.get(record) {
            Some(Value::Array(list)) => from_items(items, list),
            _ => Vec::new(),
        },
        Membership::Endpoints { list, items, .. } => {
            let source = Source {
                list,
                label: label(p.kind, "members.list"),
                vars: Vars::Id(group_app_id),
                narrow: None,
            };
            from_items(items, &app_calls::scan_all(p, source).await?)
        }
        Membership::UserAttribute { field, lookup, .. } => {
            let narrow = lookup.as_ref().map(|l| Narrow {
                path: l.path.as_ref(),
                query: &l.query,
                vars: Vars::Id(group_app_id),
            });
            let records = app_calls::scan_all(users, Source::of(users, narrow)).await?;
            let mut out = Vec::new();
            for record in records {
                if !holds(field.get(&record), group_app_id) {
                    continue;
                }
                let app_id = app_id_of(users, &record)?;
                let scim = Box::pin(convert::to_scim(users, record, "list")).await?;
                if let Some(id) = scim.get("id").and_then(Value::as_str) {
                    out.push(Member {
                        scim_id: id.to_string(),
                        app_id,
                        display: scim
                            .get("userName")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    });
                }
            }
            return Ok(out);
        }
    };
    let mut out = Vec::with_capacity(found.len());
    for (app_id, display) in found {
        let scim_id = match convert::entry_for_app_id(users, &app_id).await? {
            Some(e) => e.scim_id,
            None => app_id.clone(),
        };
        let display = match display {
            Some(d) => Some(d),
            None => users.names.get(ResourceKind::User, &scim_id).await,
        };
        out.push(Member {
            scim_id,
            app_id,
            display,
        });
    }
    Ok(out)
}

/// Adds the members to groups converted without them (a list page, after filtering), so a
/// filter never reads the members of groups it drops. Record-model groups already have them.
pub(super) async fn attach(p: &Provisioner, resources: &mut [Value]) -> Result<()> {
    if matches!(membership(p), None | Some(Membership::Record { .. })) {
        return Ok(());
    }
    for resource in resources {
        let Some(id) = resource.get("id").and_then(Value::as_str) else {
            continue;
        };
        let Target::App { app_id, .. } = p.resolve(id).await? else {
            continue;
        };
        let list = current(p, &app_id, &Value::Null).await?;
        set_members(p, resource, &list).await;
    }
    Ok(())
}

/// Whether a user's group field (an array of ids, or one id) holds `group_app_id`.
fn holds(field: Option<&Value>, group_app_id: &str) -> bool {
    let same = |v: &Value| id_text(v).as_deref() == Some(group_app_id);
    match field {
        Some(Value::Array(ids)) => ids.iter().any(same),
        Some(v) => same(v),
        None => false,
    }
}

/// The SCIM `members` value for a membership.
pub(super) async fn render_members(p: &Provisioner, members: &[Member]) -> Value {
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let mut item = Map::new();
        item.insert("value".into(), Value::String(m.scim_id.clone()));
        let display = match &m.display {
            _ if !p.map().member_display => None,
            Some(d) => Some(d.clone()),
            None => p.names.get(ResourceKind::User, &m.scim_id).await,
        };
        if let Some(d) = display {
            item.insert("display".into(), Value::String(d));
        }
        item.insert("type".into(), Value::String("User".into()));
        item.insert(
            "$ref".into(),
            Value::String(p.resource_url(ResourceKind::User, &m.scim_id)),
        );
        out.push(Value::Object(item));
    }
    Value::Array(out)
}

/// Sets (or, when empty, removes) `members` on a SCIM resource.
pub(super) async fn set_members(p: &Provisioner, resource: &mut Value, members: &[Member]) {
    let rendered = render_members(p, members).await;
    if let Some(obj) = resource.as_object_mut() {
        if members.is_empty() {
            obj.remove("members");
        } else {
            obj.insert("members".into(), rendered);
        }
    }
}

/// `record` model: writes the member ids into a group payload.
pub(super) fn write_into(p: &Provisioner, payload: &mut Value, members: &[Member]) {
    let Some(Membership::Record { field, items }) = membership(p) else {
        return;
    };
    let list = members
        .iter()
        .map(|m| {
            let id = typed(&m.app_id, items.id_type);
            match &items.id {
                Some(path) => {
                    let mut obj = Value::Object(Map::new());
                    path.set(&mut obj, id);
                    obj
                }
                None => id,
            }
        })
        .collect();
    field.set(payload, Value::Array(list));
}

/// `endpoints` and `user_attribute` models: sends the calls a change needs (removals first, so
/// an application with a member limit is never pushed over it).
pub(super) async fn apply(p: &Provisioner, group_app_id: &str, change: &Change) -> Result<()> {
    match membership(p) {
        None | Some(Membership::Record { .. }) => Ok(()),
        Some(Membership::Endpoints {
            add, remove, items, ..
        }) => {
            for m in &change.removes {
                member_call(
                    p,
                    remove,
                    "members.remove",
                    group_app_id,
                    m,
                    items.id_type,
                    true,
                )
                .await?;
            }
            for m in &change.adds {
                member_call(p, add, "members.add", group_app_id, m, items.id_type, false).await?;
            }
            Ok(())
        }
        Some(Membership::UserAttribute {
            field,
            single,
            removed_value,
            id_type,
            ..
        }) => {
            let users = users(p)?;
            let mut edits: Vec<(&Member, bool)> = change
                .removes
                .iter()
                .map(|m| (m, false))
                .chain(change.adds.iter().map(|m| (m, true)))
                .collect();
            // Each record is read and written back whole: no other write on it between. Locks
            // are taken in id order so two groups editing the same users cannot deadlock.
            let mut order: Vec<&str> = edits.iter().map(|(m, _)| m.scim_id.as_str()).collect();
            order.sort_unstable();
            order.dedup();
            let mut _writing = Vec::with_capacity(order.len());
            for id in order {
                _writing.push(users.write_locks.lock(id).await);
            }
            // Every record is read before the first write, so a member deleted in the
            // application meanwhile fails the request with nothing written.
            let mut records = Vec::with_capacity(edits.len());
            for (m, joining) in &edits {
                match app_calls::fetch(users, &m.app_id).await? {
                    Some(record) => records.push(Some(record)),
                    None if *joining => {
                        return Err(Error::invalid_value(format!(
                            "member \"{}\" is not an existing user of this service provider",
                            m.scim_id
                        )));
                    }
                    None => records.push(None),
                }
            }
            for ((m, joining), record) in edits.drain(..).zip(records) {
                let Some(mut record) = record else { continue };
                let before = field.get(&record).cloned();
                let after = edit_field(
                    before.clone(),
                    group_app_id,
                    joining,
                    *single,
                    removed_value,
                    *id_type,
                );
                if Some(&after) == before.as_ref() {
                    continue;
                }
                field.set(&mut record, after.clone());
                update_user(users, &m.app_id, record, field, after).await?;
            }
            Ok(())
        }
    }
}

/// The user's group field after joining or leaving `group`.
fn edit_field(
    before: Option<Value>,
    group: &str,
    joining: bool,
    single: bool,
    removed_value: &Value,
    id_type: Option<AppType>,
) -> Value {
    let id = typed(group, id_type);
    if single {
        return match (joining, holds(before.as_ref(), group)) {
            (true, _) => id,
            // Leaving a group the user is no longer in (moved elsewhere since) changes nothing.
            (false, true) => removed_value.clone(),
            (false, false) => before.unwrap_or(Value::Null),
        };
    }
    let mut ids = match before {
        Some(Value::Array(ids)) => ids,
        _ => Vec::new(),
    };
    let pos = ids.iter().position(|v| holds(Some(v), group));
    match (joining, pos) {
        (true, None) => ids.push(id),
        (false, Some(i)) => {
            ids.remove(i);
        }
        _ => {}
    }
    Value::Array(ids)
}

/// Sends the users' update call for a membership edit.
async fn update_user(
    users: &Provisioner,
    app_id: &str,
    record: Value,
    field: &crate::mapping::JsonPath,
    value: Value,
) -> Result<()> {
    let (ep, body_kind) = users
        .map()
        .update
        .as_ref()
        .ok_or_else(|| Error::bug("user_attribute membership without users.update"))?;
    let payload = match body_kind {
        UpdateBody::Full => record,
        UpdateBody::Changes => {
            let mut v = Value::Object(Map::new());
            field.set(&mut v, value);
            v
        }
    };
    app_calls::send_for(users, ep, "update", app_id, Some(payload)).await?;
    Ok(())
}

/// One per-member call. A removal the application answers with "not found" already holds.
async fn member_call(
    p: &Provisioner,
    call: &MemberCall,
    op: &str,
    group_app_id: &str,
    m: &Member,
    id_type: Option<AppType>,
    removing: bool,
) -> Result<()> {
    let ep = &call.endpoint;
    let vars = Vars::Member {
        id: group_app_id,
        member: &m.app_id,
    };
    let body = call
        .body
        .as_ref()
        .map(|b| fill_body(b, group_app_id, &m.app_id, id_type));
    let body = body.map(|b| wrap(ep, b));
    match send(
        p,
        ep,
        label(p.kind, op),
        render(ep, None, vars, &[], &[]),
        body.as_ref(),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.app(), Some(crate::error::AppError::NotFound(_))) && removing => {
            Ok(())
        }
        // Added meanwhile by someone else: the member is there, which is what was asked.
        Err(e) if matches!(e.app(), Some(crate::error::AppError::Conflict(_))) && !removing => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A body template with `"{id}"` and `"{member}"` replaced (JSON-typed, never spliced as text).
fn fill_body(template: &Value, group: &str, member: &str, id_type: Option<AppType>) -> Value {
    match template {
        Value::String(s) if s == "{id}" => typed(group, id_type),
        Value::String(s) if s == "{member}" => typed(member, id_type),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| fill_body(v, group, member, id_type))
                .collect(),
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), fill_body(v, group, member, id_type)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A user's read-only `groups`, when membership is a user attribute (free: it is in the record).
/// Group ids the sidecar cannot name (minted ids not seen yet) are left out.
pub(super) async fn user_groups(p: &Provisioner, record: &Value) -> Result<Option<Value>> {
    let Some((field, _)) = p.mapping.user_group_field() else {
        return Ok(None);
    };
    let ids: Vec<String> = match field.get(record) {
        Some(Value::Array(ids)) => ids.iter().filter_map(id_text).collect(),
        Some(v) => id_text(v).into_iter().collect(),
        None => Vec::new(),
    };
    let minted = p
        .mapping
        .groups
        .as_ref()
        .is_some_and(|g| g.ids == crate::mapping::IdMode::Minted);
    let mut out = Vec::with_capacity(ids.len());
    for app_id in ids {
        let scim_id = if minted {
            match p.store.find_by_app_id(ResourceKind::Group, &app_id).await? {
                Some(e) => e.scim_id,
                None => continue,
            }
        } else {
            app_id
        };
        let mut item = Map::new();
        if let Some(name) = p.names.get(ResourceKind::Group, &scim_id).await {
            item.insert("display".into(), Value::String(name));
        }
        item.insert(
            "$ref".into(),
            Value::String(p.resource_url(ResourceKind::Group, &scim_id)),
        );
        item.insert("type".into(), Value::String("direct".into()));
        item.insert("value".into(), Value::String(scim_id));
        out.push(Value::Object(item));
    }
    Ok(Some(Value::Array(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listed_members_are_deduplicated_and_groups_refused() {
        let r = json!({"members": [
            {"value": "1", "display": "ada"}, {"value": "2", "$ref": null}, {"value": "1"}
        ]});
        assert_eq!(
            listed(&r).unwrap(),
            vec![("1".into(), Some("ada".into())), ("2".into(), None)]
        );
        assert!(listed(&json!({})).unwrap().is_empty());
        let nested = json!({"members": [{"value": "g1", "type": "Group"}]});
        let e = listed(&nested).unwrap_err();
        assert_eq!(e.class().status, 400);
        assert!(e.to_string().contains("g1"), "{e}");
        assert!(listed(&json!({"members": [{"display": "x"}]})).is_err());
        assert!(listed(&json!({"members": "1"})).is_err());
    }

    #[test]
    fn field_edits_for_arrays_and_single_values() {
        let none = Value::Null;
        assert_eq!(
            edit_field(
                Some(json!([1, 2])),
                "3",
                true,
                false,
                &none,
                Some(AppType::Number)
            ),
            json!([1, 2, 3])
        );
        assert_eq!(
            edit_field(
                Some(json!([1, 3])),
                "3",
                true,
                false,
                &none,
                Some(AppType::Number)
            ),
            json!([1, 3]),
            "joining twice changes nothing"
        );
        assert_eq!(
            edit_field(Some(json!(["1", "3"])), "3", false, false, &none, None),
            json!(["1"])
        );
        assert_eq!(
            edit_field(None, "7", true, false, &none, None),
            json!(["7"])
        );
        let member = json!("member");
        assert_eq!(
            edit_field(Some(json!("billing")), "admin", true, true, &member, None),
            json!("admin")
        );
        assert_eq!(
            edit_field(Some(json!("admin")), "admin", false, true, &member, None),
            json!("member")
        );
        assert_eq!(
            edit_field(Some(json!("billing")), "admin", false, true, &member, None),
            json!("billing"),
            "leaving a group the user already left keeps the current value"
        );
    }

    #[test]
    fn body_templates_are_typed_not_spliced() {
        let t = json!({"user_id": "{member}", "team": "{id}", "note": "x", "n": [ "{member}" ]});
        assert_eq!(
            fill_body(&t, "5", "12", Some(AppType::Number)),
            json!({"user_id": 12, "team": 5, "note": "x", "n": [12]})
        );
        assert_eq!(
            fill_body(&t, "5", "a\"b", None),
            json!({"user_id": "a\"b", "team": "5", "note": "x", "n": ["a\"b"]})
        );
        // A non-numeric id stays a string even when numbers are expected.
        assert_eq!(typed("abc", Some(AppType::Number)), json!("abc"));
    }

    #[test]
    fn member_items_plain_or_objects() {
        let plain = MemberItems::default();
        assert_eq!(
            from_items(&plain, &[json!(1), json!("2"), json!(null)]),
            vec![("1".into(), None), ("2".into(), None)]
        );
        let objects = MemberItems {
            id: Some(crate::mapping::JsonPath::parse("user.id").unwrap()),
            display: Some(crate::mapping::JsonPath::parse("email").unwrap()),
            id_type: None,
        };
        assert_eq!(
            from_items(&objects, &[json!({"user": {"id": 4}, "email": "a@b"})]),
            vec![("4".into(), Some("a@b".into()))]
        );
    }

    #[test]
    fn holds_matches_numbers_and_strings() {
        assert!(holds(Some(&json!([1, 2])), "2"));
        assert!(holds(Some(&json!("2")), "2"));
        assert!(!holds(Some(&json!([1])), "2"));
        assert!(!holds(None, "2"));
    }
}
