//! Create, replace, patch and delete, with the mapping's deactivation semantics:
//! - `field`: `active` is an ordinary attribute rule, part of the update call;
//! - `endpoint`: a change of `active` calls the deactivate/reactivate endpoint;
//! - `delete`: deactivation deletes the application record and parks the SCIM resource in the
//!   store (GET still answers, `active: false`); reactivation re-creates the record under the
//!   same SCIM id.
//!
//! Updates send only what changed: the new resource is mapped onto the current record and
//! compared with the current resource mapped the same way; no difference means no update call.
//! When the change is provably invisible to both the rules and `to_app` (see
//! [`crate::mapping::hook_args::ArgReads`]), the hook runs once instead of twice.

use super::app_calls::{
    self, Vars, app_id_of, label, render, section, send, send_for, take_record, wrap,
};
use super::convert::{finish, hook_ctx, mint_id, to_scim, to_scim_bare_known, to_scim_known};
use super::list::{name_attr, name_lookup};
use super::members;
use super::{Provisioner, Target};
use crate::error::{AppError, ClientError, Error, Result, Rule};
use crate::ids::{IdEntry, Lookup};
use crate::mapping::rules::WriteKind;
use crate::mapping::{DeactivationMode, Endpoint, IdMode, OnDuplicate, UpdateBody};
use crate::scim::patch::{PatchRequest, apply_patch, patched};
use serde_json::{Map, Value};

fn active_of(resource: &Value) -> bool {
    resource
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn set_active(resource: &mut Value, active: bool) {
    if let Some(obj) = resource.as_object_mut() {
        obj.insert("active".into(), Value::Bool(active));
    }
}

fn text<'a>(resource: &'a Value, key: &str) -> Option<&'a str> {
    resource.get(key).and_then(Value::as_str)
}

fn not_supported(what: &str) -> Error {
    ClientError::NotImplemented(format!("this mapping cannot {what}")).into()
}

/// Maps a SCIM resource onto `base` (an application record, or `{}`) and runs `to_app`.
fn to_app(p: &Provisioner, resource: &Value, mut base: Value, kind: WriteKind) -> Result<Value> {
    p.map().rules.scim_to_app(resource, &mut base, kind)?;
    run_to_app(p, resource, base, kind)
}

/// Runs the `to_app` hook (if any) on the payload the rules built from `resource`.
fn run_to_app(p: &Provisioner, resource: &Value, payload: Value, kind: WriteKind) -> Result<Value> {
    let map = p.map();
    let (Some(script), Some(hook)) = (&map.hooks.script, &map.hooks.to_app) else {
        return Ok(payload);
    };
    let op = match kind {
        WriteKind::Create => "create",
        WriteKind::Update => "update",
    };
    script
        .call_hook_ref(hook, resource, payload, hook_ctx(p, op))
        .map_err(|e| e.in_rule(Rule::hook(section(p.kind), hook)))
}

/// Whether `to_app` can see any top-level attribute that differs between `a` and `b`.
fn hook_sees_change(p: &Provisioner, a: &Value, b: &Value) -> bool {
    let reads = &p.map().hooks.to_app_reads;
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return true;
    };
    a.iter()
        .any(|(k, v)| b.get(k) != Some(v) && reads.may_read(k))
        || b.keys().any(|k| !a.contains_key(k) && reads.may_read(k))
}

/// The update payloads for the current resource and the new one (`baseline`, `desired`).
/// `None` when they are provably equal: the rules build the same payload from both, and the
/// hook cannot see what differs, so it would return the same for both. The hook still runs
/// once then, on the current resource: its refusals and limits apply as before.
fn update_payloads(
    p: &Provisioner,
    record: &Value,
    current: &Value,
    new: &Value,
) -> Result<Option<(Value, Value)>> {
    let rules = &p.map().rules;
    let blind = !hook_sees_change(p, current, new);
    let mut baseline = record.clone();
    if blind && rules.same_payload(current, new) {
        // The same rules and hook run on equal inputs: one run says it all.
        rules.scim_to_app(current, &mut baseline, WriteKind::Update)?;
        run_to_app(p, current, baseline, WriteKind::Update)?;
        return Ok(None);
    }
    rules.scim_to_app(current, &mut baseline, WriteKind::Update)?;
    let mut desired = record.clone();
    if let Err(e) = rules.scim_to_app(new, &mut desired, WriteKind::Update) {
        // The hook on the current resource came first before: its refusal wins.
        run_to_app(p, current, baseline, WriteKind::Update)?;
        return Err(e);
    }
    if blind && baseline == desired {
        run_to_app(p, current, baseline, WriteKind::Update)?;
        return Ok(None);
    }
    let baseline = run_to_app(p, current, baseline, WriteKind::Update)?;
    let desired = run_to_app(p, new, desired, WriteKind::Update)?;
    Ok(Some((baseline, desired)))
}

/// The key a name is locked under: names compare ignoring case, as SCIM's `userName` and
/// `displayName` do in filters.
fn name_key_of(name: &str) -> String {
    name.to_lowercase()
}

/// `check_duplicates`: refuses a rename to a `userName` / `displayName` another resource has,
/// before anything is written. A change of case only is no rename. The returned guard orders
/// this rename with creates and renames to the same name; keep it until the write is done.
async fn check_rename(
    p: &Provisioner,
    current: &Value,
    new: &Value,
) -> Result<Option<tokio::sync::OwnedMutexGuard<()>>> {
    let key = name_attr(p.kind);
    let (Some(old), Some(name)) = (text(current, key), text(new, key)) else {
        return Ok(None);
    };
    if !p.map().check_duplicates || name_key_of(old) == name_key_of(name) {
        return Ok(None);
    }
    let guard = p.name_locks.lock(&name_key_of(name)).await;
    if let Some(other) = super::list::find_by_name(p, name).await?
        && text(&other, "id") != text(current, "id")
    {
        return Err(Error::uniqueness(format!(
            "a {} with {key} \"{name}\" already exists",
            p.kind.name()
        )));
    }
    Ok(Some(guard))
}

/// Remembers `userName` (or a group's `displayName`) / `externalId` → SCIM id after a write.
async fn remember(p: &Provisioner, resource: &Value) {
    let Some(id) = text(resource, "id") else {
        return;
    };
    if let Some(name) = text(resource, name_attr(p.kind)) {
        p.cache.insert(name_lookup(p.kind), name, id).await;
    }
    if let Some(ext) = text(resource, "externalId") {
        p.cache.insert(Lookup::ExternalId, ext, id).await;
    }
}

/// Calls a record-returning endpoint for `app_id` without a body (deactivate, reactivate).
async fn call_plain(
    p: &Provisioner,
    ep: &Endpoint,
    op: &str,
    app_id: &str,
) -> Result<Option<Value>> {
    let (answer, _) = send_for(p, ep, op, app_id, None).await?;
    Ok(take_record(ep, answer))
}

/// `POST /Users`, `POST /Groups`.
pub(super) async fn create(p: &Provisioner, resource: Value) -> Result<Value> {
    let map = p.map();
    let plural = p.kind.endpoint().to_ascii_lowercase();
    if map.create.is_none() {
        return Err(not_supported(&format!("create {plural}")));
    }
    let name_key = name_attr(p.kind);
    let name = match text(&resource, name_key) {
        Some(n) if !n.trim().is_empty() => n.to_string(),
        _ => return Err(Error::invalid_value(format!("{name_key} is required"))),
    };
    // Members are checked before anything is written, so a bad id leaves no group behind.
    let members = new_members(p, &resource).await?;
    // Held until the record exists (and the name is cached), so a concurrent create or rename
    // to the same name waits and then finds it taken.
    let _name = if map.check_duplicates {
        Some(p.name_locks.lock(&name_key_of(&name)).await)
    } else {
        None
    };
    let taken = map.check_duplicates && super::list::find_by_name(p, &name).await?.is_some();
    let active = active_of(&resource);
    if map.deactivation == DeactivationMode::Delete && !active && !taken {
        // Created inactive where inactive means "not in the application": park it directly.
        return park_new(p, resource).await;
    }
    let created = if taken {
        // The application would accept the duplicate: refuse it as its conflict answer would.
        Err(Error::App(AppError::Conflict(
            "the name is taken (check_duplicates)".into(),
        )))
    } else {
        app_create(p, &resource, members.as_deref()).await
    };
    let record = match created {
        Ok(r) => r,
        Err(e) if matches!(e.app(), Some(AppError::Conflict(_))) => {
            return match map.on_duplicate {
                OnDuplicate::Conflict => Err(Error::uniqueness(format!(
                    "a {} with {name_key} \"{name}\" already exists",
                    p.kind.name()
                ))),
                OnDuplicate::Adopt => adopt(p, resource, &name).await,
            };
        }
        Err(e) => return Err(e),
    };
    let app_id = app_id_of(p, &record)?;
    if let Some(list) = &members
        && !list.is_empty()
    {
        let change = members::Change {
            adds: list.clone(),
            removes: Vec::new(),
            result: list.clone(),
        };
        if let Err(e) = members::apply(p, &app_id, &change).await {
            undo_create(p, &app_id).await;
            return Err(e);
        }
    }
    let kept = map.rules.kept_from_scim(&resource);
    // With store rules, every SCIM-created record gets an entry, even with nothing kept yet: it
    // tells hooks (`ctx.stored`) the record is managed through SCIM.
    let entry = if map.ids == IdMode::Minted || map.uses_store() {
        let scim_id = match map.ids {
            IdMode::App => app_id.clone(),
            IdMode::Minted => mint_id(),
        };
        let entry = IdEntry {
            scim_id,
            app_id: Some(app_id.clone()),
            kept,
            parked: None,
        };
        p.store.put(p.kind, entry.clone()).await?;
        Some(entry)
    } else {
        None
    };
    let mut record = record;
    if map.deactivation == DeactivationMode::Endpoint && !active {
        let ep = map
            .deactivate
            .as_ref()
            .ok_or_else(|| not_supported("deactivate users"))?;
        if let Some(r) = call_plain(p, ep, "deactivate", &app_id).await? {
            record = r;
        }
    }
    let mut scim = to_scim_known(p, record, "create", entry.as_ref()).await?;
    if let Some(list) = &members {
        members::set_members(p, &mut scim, list).await;
    }
    remember(p, &scim).await;
    Ok(scim)
}

/// A group's members as sent on create, resolved and checked (`None` for users, or when the
/// mapping stores no membership and none was sent).
async fn new_members(p: &Provisioner, resource: &Value) -> Result<Option<Vec<members::Member>>> {
    if p.kind != crate::scim::ResourceKind::Group {
        return Ok(None);
    }
    let listed = members::listed(resource)?;
    if p.map().members.is_none() {
        if listed.is_empty() {
            return Ok(None);
        }
        return Err(Error::invalid_value(
            "this service provider does not keep group members",
        ));
    }
    // A failed add after the create is undone (`undo_create`), so the cache may answer.
    Ok(Some(members::resolve(p, listed, false).await?))
}

/// Members could not be added to a group just created: delete it again, so a retried create
/// does not meet a half-made group. Best effort; the original error is what the client sees.
async fn undo_create(p: &Provisioner, app_id: &str) {
    let Some(ep) = p.map().delete.as_ref() else {
        tracing::warn!(
            app_id,
            rule = "groups.delete",
            "group created but its members failed; no delete endpoint to undo"
        );
        return;
    };
    if let Err(e) = send_for(p, ep, "delete", app_id, None).await {
        tracing::warn!(
            app_id,
            rule = e.rule().map(|r| r.name.as_str()),
            error = %e,
            "group created but its members failed; undo failed"
        );
    }
}

/// Sends the create call; returns the created record (read back when the answer has none).
async fn app_create(
    p: &Provisioner,
    resource: &Value,
    members: Option<&[members::Member]>,
) -> Result<Value> {
    let map = p.map();
    let ep = map
        .create
        .as_ref()
        .ok_or_else(|| not_supported("create resources"))?;
    let mut payload = to_app(p, resource, Value::Object(Map::new()), WriteKind::Create)?;
    if let Some(list) = members {
        members::write_into(p, &mut payload, list);
    }
    let body = wrap(ep, payload);
    let (answer, reply) = send(
        p,
        ep,
        label(p.kind, "create"),
        render(ep, None, Vars::None, &[], &[]),
        Some(&body),
    )
    .await?;
    if let Some(record) = take_record(ep, answer) {
        return Ok(record);
    }
    // Some APIs answer 201 with only a Location header: read the record back once.
    let id = reply
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| loc.trim_end_matches('/').rsplit('/').next())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::from(AppError::BadResponse(
                "create: no record and no Location in the answer".into(),
            ))
            .in_rule(Rule::call(label(p.kind, "create")))
        })?;
    app_calls::fetch(p, &id).await?.ok_or_else(|| {
        Error::from(AppError::BadResponse(
            "create: the created record cannot be read back".into(),
        ))
        .in_rule(Rule::call(label(p.kind, "create")))
    })
}

/// `on_duplicate = "adopt"`: the existing resource takes the sent values.
async fn adopt(p: &Provisioner, resource: Value, name: &str) -> Result<Value> {
    let existing = super::list::find_by_name(p, name).await?.ok_or_else(|| {
        Error::uniqueness(format!(
            "a {} named \"{name}\" already exists but cannot be found to adopt",
            p.kind.name()
        ))
    })?;
    let id = text(&existing, "id").unwrap_or_default().to_string();
    replace(p, &id, resource).await
}

/// A new user that starts deactivated under `deactivation = "delete"`: only the store holds it.
async fn park_new(p: &Provisioner, mut resource: Value) -> Result<Value> {
    let scim_id = mint_id();
    set_active(&mut resource, false);
    let kept = p.map().rules.kept_from_scim(&resource);
    let snapshot = finish(p, resource, &scim_id);
    let entry = IdEntry {
        scim_id,
        app_id: None,
        kept,
        parked: Some(snapshot.clone()),
    };
    p.store.put(p.kind, entry).await?;
    remember(p, &snapshot).await;
    Ok(snapshot)
}

/// `PUT /Users/{id}`.
pub(super) async fn replace(p: &Provisioner, id: &str, mut new: Value) -> Result<Value> {
    match p.resolve(id).await? {
        Target::Parked(entry) => {
            if new.get("active").is_none() {
                set_active(&mut new, false);
            }
            update_parked(p, entry, new).await
        }
        Target::App { app_id, entry } => {
            let Some(record) = fetch_live(p, id, &app_id, &entry).await? else {
                return Box::pin(replace(p, id, new)).await;
            };
            let mut current = to_scim_bare_known(p, &record, "update", entry.as_ref()).await?;
            let mut now = None;
            if p.kind == crate::scim::ResourceKind::User {
                // A PUT without `active` keeps the current state rather than reactivating.
                if new.get("active").is_none() {
                    set_active(&mut new, active_of(&current));
                }
            } else if p.map().members.is_some() {
                let list = members::current(p, &app_id, &record).await?;
                members::set_members(p, &mut current, &list).await;
                // A PUT without `members` keeps them: safer than emptying a team because a
                // client left the list out. `"members": []` empties it.
                if new.get("members").is_none() {
                    members::set_members(p, &mut new, &list).await;
                }
                now = Some(list);
            }
            update_live(p, &app_id, entry, record, current, new, now).await
        }
    }
}

/// `PATCH /Users/{id}`. A group's members are read when the request may change them, or when
/// `with_members` (the answer shows them).
pub(super) async fn patch(
    p: &Provisioner,
    id: &str,
    request: &PatchRequest,
    with_members: bool,
) -> Result<Value> {
    match p.resolve(id).await? {
        Target::Parked(entry) => {
            let mut new = entry.parked.clone().unwrap_or(Value::Null);
            let before = new.clone();
            apply_patch(&mut new, request, p.schema)?;
            if new == before {
                return Ok(before);
            }
            update_parked(p, entry, new).await
        }
        Target::App { app_id, entry } => {
            let Some(record) = fetch_live(p, id, &app_id, &entry).await? else {
                return Box::pin(patch(p, id, request, with_members)).await;
            };
            let mut current = to_scim_bare_known(p, &record, "update", entry.as_ref()).await?;
            // Members are read only when the request may change them (not for a rename), or
            // when the answer shows them.
            let now = if p.map().members.is_some() && (with_members || members::touched_by(request))
            {
                let list = members::current(p, &app_id, &record).await?;
                members::set_members(p, &mut current, &list).await;
                Some(list)
            } else {
                None
            };
            let new = patched(current.clone(), request, p.schema)?;
            if new == current {
                // Nothing changes (an empty Operations list, a repeated value): no application call.
                return Ok(current);
            }
            update_live(p, &app_id, entry, record, current, new, now).await
        }
    }
}

/// Reads the live record. `Ok(None)` means the record vanished while a parked snapshot exists
/// (a deactivation interrupted between its steps): the caller retries on the parked snapshot.
async fn fetch_live(
    p: &Provisioner,
    id: &str,
    app_id: &str,
    entry: &Option<IdEntry>,
) -> Result<Option<Value>> {
    match app_calls::fetch(p, app_id).await? {
        Some(r) => Ok(Some(r)),
        None => match entry {
            Some(e) if e.parked.is_some() => {
                let mut e = e.clone();
                e.app_id = None;
                p.store.put(p.kind, e).await?;
                Ok(None)
            }
            _ => Err(p.not_found(id)),
        },
    }
}

/// Applies `new` to a live record: update call if mapped fields change, membership calls,
/// (de)activation, kept attributes. `record`/`current` are the record and its SCIM form before
/// the change; `now` the group's members when they were read (then `new` says the members).
async fn update_live(
    p: &Provisioner,
    app_id: &str,
    entry: Option<IdEntry>,
    record: Value,
    current: Value,
    new: Value,
    now: Option<Vec<members::Member>>,
) -> Result<Value> {
    let map = p.map();
    map.rules.check_immutable(&current, &new)?;
    let _renaming = check_rename(p, &current, &new).await?;
    // Planned (and every added member checked) before anything is written.
    let change = match &now {
        Some(list) => Some(members::plan(p, list, members::listed(&new)?).await?),
        None => None,
    };
    let (old_active, new_active) = (active_of(&current), active_of(&new));
    if map.deactivation == DeactivationMode::Delete && old_active && !new_active {
        let entry = entry.ok_or_else(|| Error::bug("deactivation by deletion needs minted ids"))?;
        return deactivate_by_delete(p, app_id, entry, new).await;
    }

    let mut latest: Option<Value> = None;
    let mut changed = false;
    let mut app_called = false;

    // Members written into the record are compared too: no shortcut when they were read.
    let payloads = match (&now, &change) {
        (Some(list), Some(change)) => {
            let mut baseline = to_app(p, &current, record.clone(), WriteKind::Update)?;
            let mut desired = to_app(p, &new, record.clone(), WriteKind::Update)?;
            members::write_into(p, &mut baseline, list);
            // The client's order is for the answer only: the same members in another order are
            // no change, so they must not make the record differ.
            let written = if change.is_empty() {
                list
            } else {
                &change.result
            };
            members::write_into(p, &mut desired, written);
            Some((baseline, desired))
        }
        _ => update_payloads(p, &record, &current, &new)?,
    };
    if let Some((baseline, desired)) = payloads
        && desired != baseline
    {
        let (ep, body_kind) = map
            .update
            .as_ref()
            .ok_or_else(|| not_supported("update these resources"))?;
        let payload = match body_kind {
            UpdateBody::Full => desired,
            UpdateBody::Changes => changes(&baseline, desired),
        };
        let (answer, _) = send_for(p, ep, "update", app_id, Some(payload)).await?;
        latest = take_record(ep, answer);
        changed = true;
        app_called = true;
    }

    if let Some(change) = &change
        && !change.is_empty()
    {
        // Per-member calls do not change the group record: no re-read needed for them.
        members::apply(p, app_id, change).await?;
        changed = true;
    }

    if map.deactivation == DeactivationMode::Endpoint && old_active != new_active {
        let (ep, op) = if new_active {
            (map.reactivate.as_ref(), "reactivate")
        } else {
            (map.deactivate.as_ref(), "deactivate")
        };
        let ep = ep.ok_or_else(|| not_supported("change a user's active state"))?;
        latest = call_plain(p, ep, op, app_id).await?;
        changed = true;
        app_called = true;
    }

    let kept = map.rules.kept_from_scim(&new);
    let unchanged = match &entry {
        Some(e) => e.kept == kept,
        None => kept.is_empty(),
    };
    // What the store holds for the record from here on.
    let entry = if unchanged {
        entry
    } else {
        let mut e = entry.unwrap_or_else(|| IdEntry {
            scim_id: app_id.to_string(),
            app_id: Some(app_id.to_string()),
            kept: Map::new(),
            parked: None,
        });
        e.kept = kept;
        p.store.put(p.kind, e.clone()).await?;
        changed = true;
        Some(e)
    };

    if !changed {
        return Ok(current);
    }
    let record = match latest {
        Some(r) => r,
        // Only kept attributes changed: the record read at the start is still current.
        None if !app_called => record,
        None => app_calls::fetch(p, app_id)
            .await?
            .ok_or_else(|| AppError::NotFound("the record vanished during the update".into()))?,
    };
    let mut updated = to_scim_known(p, record, "update", entry.as_ref()).await?;
    if let Some(change) = &change {
        members::set_members(p, &mut updated, &change.result).await;
    }
    forget_renamed(p, &current, &updated).await;
    remember(p, &updated).await;
    Ok(updated)
}

/// Drops cache entries for a `userName`/`displayName`/`externalId` that changed.
async fn forget_renamed(p: &Provisioner, before: &Value, after: &Value) {
    for (key, which) in [
        (name_attr(p.kind), name_lookup(p.kind)),
        ("externalId", Lookup::ExternalId),
    ] {
        if let Some(old) = text(before, key)
            && text(after, key) != Some(old)
        {
            p.cache.invalidate(which, old).await;
        }
    }
}

/// The top-level fields of `desired` that differ from `baseline` (for `send = "changes"`).
fn changes(baseline: &Value, desired: Value) -> Value {
    let Value::Object(desired) = desired else {
        return desired;
    };
    let out: Map<String, Value> = desired
        .into_iter()
        .filter(|(k, v)| baseline.get(k) != Some(v))
        .collect();
    Value::Object(out)
}

/// Deactivation by deletion: park the resource first, then delete the record, then mark the
/// entry detached, so a crash between steps never loses the user.
async fn deactivate_by_delete(
    p: &Provisioner,
    app_id: &str,
    mut entry: IdEntry,
    mut new: Value,
) -> Result<Value> {
    let map = p.map();
    let ep = map
        .delete
        .as_ref()
        .ok_or_else(|| not_supported("delete users"))?;
    set_active(&mut new, false);
    let snapshot = finish(p, new, &entry.scim_id);
    entry.kept = map.rules.kept_from_scim(&snapshot);
    entry.parked = Some(snapshot.clone());
    p.store.put(p.kind, entry.clone()).await?;
    match send_for(p, ep, "delete", app_id, None).await {
        Ok(_) => {}
        Err(e) if matches!(e.app(), Some(AppError::NotFound(_))) => {}
        Err(e) => return Err(e),
    }
    entry.app_id = None;
    p.store.put(p.kind, entry).await?;
    Ok(snapshot)
}

/// A parked user changes: reactivation re-creates the record under the same SCIM id; otherwise
/// only the snapshot changes.
async fn update_parked(p: &Provisioner, mut entry: IdEntry, new: Value) -> Result<Value> {
    let map = p.map();
    if let Some(old) = &entry.parked {
        map.rules.check_immutable(old, &new)?;
    }
    if !active_of(&new) {
        let snapshot = finish(p, new, &entry.scim_id);
        entry.kept = map.rules.kept_from_scim(&snapshot);
        entry.parked = Some(snapshot.clone());
        p.store.put(p.kind, entry).await?;
        remember(p, &snapshot).await;
        return Ok(snapshot);
    }
    let record = match app_create(p, &new, None).await {
        Ok(r) => r,
        Err(e) if matches!(e.app(), Some(AppError::Conflict(_))) => {
            return Err(Error::uniqueness(
                "cannot reactivate: the application already has a user with these values",
            ));
        }
        Err(e) => return Err(e),
    };
    entry.app_id = Some(app_id_of(p, &record)?);
    entry.kept = map.rules.kept_from_scim(&new);
    entry.parked = None;
    p.store.put(p.kind, entry).await?;
    let scim = to_scim(p, record, "update").await?;
    remember(p, &scim).await;
    Ok(scim)
}

/// `DELETE /Users/{id}`, `DELETE /Groups/{id}`.
pub(super) async fn delete(p: &Provisioner, id: &str) -> Result<()> {
    let map = p.map();
    match p.resolve(id).await? {
        Target::Parked(_) => {}
        Target::App { app_id, entry } => {
            let ep = map
                .delete
                .as_ref()
                .ok_or_else(|| not_supported("delete these resources"))?;
            match send_for(p, ep, "delete", &app_id, None).await {
                Ok(_) => {}
                Err(e)
                    if matches!(e.app(), Some(AppError::NotFound(_)))
                        && entry.as_ref().is_some_and(|en| en.parked.is_some()) => {}
                Err(e) if matches!(e.app(), Some(AppError::NotFound(_))) => {
                    return Err(p.not_found(id));
                }
                Err(e) => return Err(e),
            }
        }
    }
    if map.ids == IdMode::Minted || map.uses_store() {
        p.store.remove(p.kind, id).await?;
    }
    p.cache.invalidate_id(id).await;
    p.names.remove(p.kind, id).await;
    Ok(())
}
