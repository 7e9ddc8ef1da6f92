//! Listing and filtering. A filter is planned in this order:
//! 1. `id eq "x"`: one read by id;
//! 2. an equality on `userName` (a group's `displayName`) / `externalId`: the id cache (one read by id on a hit; concurrent
//!    misses for one value share one lookup), else as below;
//! 3. a comparison the application answers natively (a pushdown in the mapping), or an attribute
//!    kept in the sidecar's store: only those candidates are read;
//! 4. otherwise a bounded scan of the application's list (`max_scan`, then 400 `tooMany`).
//!
//! A group's members are read only for the page shown (or for every candidate when the filter
//! names `members`), and only when the answer shows them.
//!
//! Every candidate is checked against the whole filter by the sidecar, so an application that
//! matches loosely (substring, case) can never make a filter return the wrong user. Filters on
//! attributes the mapping does not know are refused (400 `invalidFilter`), never ignored.

use super::Provisioner;
use super::app_calls::{self, Source, fetch_range, scan_all};
use super::convert::to_scim_with;
use super::members;
use crate::error::{Error, Result};
use crate::ids::Lookup;
use crate::mapping::{DeactivationMode, Pushdown};
use crate::scim::ResourceKind;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::list::{ListQuery, list_response};
use serde_json::Value;
use std::sync::{Arc, Mutex};

pub(super) async fn list(p: &Provisioner, q: &ListQuery) -> Result<Value> {
    let start = q.start_index.max(1);
    // A group's members cost application calls: read them for every candidate only when the
    // filter needs them, else only for the page shown, and only when the answer shows them.
    let for_filter = members::in_filter(p, q);
    let (mut resources, total) = match &q.filter {
        None => unfiltered(p, start - 1, q.count, false).await?,
        Some(filter) => {
            check_known(p, filter)?;
            let all = filtered(p, filter, for_filter).await?;
            let total = all.len();
            let page: Vec<Value> = all.into_iter().skip(start - 1).take(q.count).collect();
            (page, total)
        }
    };
    if members::wanted(p, q) && !for_filter {
        members::attach(p, &mut resources).await?;
    }
    let projected = resources.into_iter().map(|r| p.project(r, q)).collect();
    Ok(list_response(projected, total, start))
}

/// A page of everything: the application's records in its order, then parked users.
async fn unfiltered(
    p: &Provisioner,
    offset: usize,
    count: usize,
    with: bool,
) -> Result<(Vec<Value>, usize)> {
    // With count 0 the client only wants the total: ask for one record to learn it.
    let page = fetch_range(p, offset, count.max(1), Source::of(p, None)).await?;
    let got = page.records.len();
    let app_total = match page.total {
        Some(t) => t,
        None if got < count.max(1) => offset + got,
        // No total in the answer and a full page: count by listing, within the scan bound.
        None => fetch_range(p, 0, p.map().max_scan, Source::of(p, None))
            .await?
            .records
            .len(),
    };
    let mut out = Vec::with_capacity(got.min(count));
    for record in page.records.into_iter().take(count) {
        out.push(to_scim_with(p, record, "list", with).await?);
    }
    let parked = parked_resources(p).await?;
    let total = app_total + parked.len();
    if out.len() < count && offset + out.len() >= app_total {
        let skip = (offset + out.len()).saturating_sub(app_total);
        let room = count - out.len();
        out.extend(parked.into_iter().skip(skip).take(room));
    }
    Ok((out, total))
}

async fn parked_resources(p: &Provisioner) -> Result<Vec<Value>> {
    if p.map().deactivation != DeactivationMode::Delete {
        return Ok(Vec::new());
    }
    Ok(p.store
        .parked(p.kind)
        .await?
        .into_iter()
        .filter_map(|e| e.parked)
        .collect())
}

/// Refuses filters on attributes the mapping cannot read.
fn check_known(p: &Provisioner, filter: &Filter) -> Result<()> {
    for path in filter.attr_paths() {
        let is_id = path.name.eq_ignore_ascii_case("id") && path.sub.is_none();
        let is_active = path.name.eq_ignore_ascii_case("active")
            && p.map().deactivation == DeactivationMode::Delete;
        let is_member = path.name.eq_ignore_ascii_case("members")
            && path.urn.is_none()
            && p.map().members.is_some();
        if !(is_id || is_active || is_member || p.map().knows(&path)) {
            return Err(Error::invalid_filter(format!(
                "cannot filter on `{}`: this mapping does not map that attribute",
                path
            )));
        }
    }
    Ok(())
}

/// Every resource matching `filter`, in a stable order.
async fn filtered(p: &Provisioner, filter: &Filter, with: bool) -> Result<Vec<Value>> {
    let candidates = comparisons(filter);
    // 1. by id
    if let Some((_, _, id)) = candidates
        .iter()
        .find(|(path, op, _)| *op == CompareOp::Eq && is_named(path, "id"))
    {
        return by_id(p, filter, id, with).await;
    }
    // 2. cached userName / displayName / externalId
    for (path, op, value) in &candidates {
        if *op != CompareOp::Eq {
            continue;
        }
        let which = if is_named(path, name_attr(p.kind)) {
            name_lookup(p.kind)
        } else if is_named(path, "externalId") {
            Lookup::ExternalId
        } else {
            continue;
        };
        return cached(p, filter, which, path, value, with).await;
    }
    // 3./4. pushdown, store, or scan
    search(p, filter, &candidates, with).await
}

/// The attribute that names a resource uniquely for clients: `userName` or `displayName`.
pub(super) fn name_attr(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    }
}

/// The id cache keyed by [`name_attr`].
pub(super) fn name_lookup(kind: ResourceKind) -> Lookup {
    match kind {
        ResourceKind::User => Lookup::UserName,
        ResourceKind::Group => Lookup::DisplayName,
    }
}

async fn by_id(p: &Provisioner, filter: &Filter, id: &str, with: bool) -> Result<Vec<Value>> {
    match p.read_with(id, "list", with).await {
        Ok(r) if filter.matches(&r, p.schema) => Ok(vec![r]),
        Ok(_) => Ok(Vec::new()),
        Err(Error::Client(crate::error::ClientError::NotFound(_))) => Ok(Vec::new()),
        Err(e) if matches!(e.app(), Some(crate::error::AppError::NotFound(_))) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// An equality on a unique attribute: the cache names the id; a miss searches once for all
/// concurrent askers and caches the (positive) answer.
async fn cached(
    p: &Provisioner,
    filter: &Filter,
    which: Lookup,
    path: &AttrPath,
    value: &str,
    with: bool,
) -> Result<Vec<Value>> {
    let found: Arc<Mutex<Option<Vec<Value>>>> = Arc::new(Mutex::new(None));
    let slot = found.clone();
    let candidates = vec![(path.clone(), CompareOp::Eq, value.to_string())];
    let id = p
        .cache
        .lookup(which, value, || async move {
            let results = search(p, filter, &candidates, with).await?;
            let first = results
                .first()
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Ok(mut s) = slot.lock() {
                *s = Some(results);
            }
            Ok(first)
        })
        .await?;
    let mine = found.lock().ok().and_then(|mut s| s.take());
    if let Some(results) = mine {
        return Ok(results);
    }
    let Some(id) = id else { return Ok(Vec::new()) };
    // Another request (or an earlier one) found the id: read it and re-check, since the user may
    // have been renamed or deleted since.
    let hit = by_id(p, filter, &id, with).await?;
    if hit.is_empty() {
        p.cache.invalidate(which, value).await;
        return search(
            p,
            filter,
            &[(path.clone(), CompareOp::Eq, value.to_string())],
            with,
        )
        .await;
    }
    Ok(hit)
}

/// Reads the candidates a pushdown or the store names, or scans; keeps those matching `filter`.
async fn search(
    p: &Provisioner,
    filter: &Filter,
    candidates: &[(AttrPath, CompareOp, String)],
    with: bool,
) -> Result<Vec<Value>> {
    let map = p.map();
    let pushdown = candidates.iter().find_map(|(path, op, value)| {
        map.pushdowns
            .iter()
            .find(|pd: &&Pushdown| pd.op == *op && same_attr(p, &pd.attribute, path))
            .map(|pd| (pd, value.as_str()))
    });
    let mut out = Vec::new();
    if let Some((pd, value)) = pushdown {
        let narrow = app_calls::Narrow {
            path: pd.path.as_ref(),
            query: &pd.query,
            vars: app_calls::Vars::Value(value),
        };
        let records = scan_all(p, Source::of(p, Some(narrow))).await?;
        for record in records {
            let r = to_scim_with(p, record, "list", with).await?;
            if filter.matches(&r, p.schema) {
                out.push(r);
            }
        }
    } else if let Some((path, value)) = candidates.iter().find_map(|(path, op, value)| {
        (*op == CompareOp::Eq && is_kept(p, path)).then_some((path, value))
    }) {
        let key = path.to_string();
        for entry in p.store.find_by_attr(p.kind, &key, value).await? {
            let r = match resolve_entry(p, entry, with).await? {
                Some(r) => r,
                None => continue,
            };
            if filter.matches(&r, p.schema) {
                out.push(r);
            }
        }
        return Ok(out);
    } else {
        for record in scan_all(p, Source::of(p, None)).await? {
            let r = to_scim_with(p, record, "list", with).await?;
            if filter.matches(&r, p.schema) {
                out.push(r);
            }
        }
    }
    for r in parked_resources(p).await? {
        if filter.matches(&r, p.schema) {
            out.push(r);
        }
    }
    Ok(out)
}

async fn resolve_entry(
    p: &Provisioner,
    entry: crate::ids::IdEntry,
    with: bool,
) -> Result<Option<Value>> {
    match entry.app_id {
        Some(app_id) => match app_calls::fetch(p, &app_id).await? {
            Some(record) => Ok(Some(to_scim_with(p, record, "list", with).await?)),
            None => Ok(None),
        },
        None => Ok(entry.parked),
    }
}

/// Whether a SCIM path is kept by the sidecar's store.
fn is_kept(p: &Provisioner, path: &AttrPath) -> bool {
    p.map().rules.rules.iter().any(|r| {
        r.store
            && r.scim.as_ref().is_some_and(|s| {
                s.value_filter.is_none() && s.sub.is_none() && same_attr(p, &s.attr, path)
            })
    })
}

fn is_named(path: &AttrPath, name: &str) -> bool {
    path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case(name)
}

/// Same attribute, ignoring case and treating "no URN" as the core schema's URN.
fn same_attr(p: &Provisioner, a: &AttrPath, b: &AttrPath) -> bool {
    let core = p.kind.core_schema();
    let urn = |x: &AttrPath| {
        x.urn
            .clone()
            .unwrap_or_else(|| core.to_string())
            .to_ascii_lowercase()
    };
    a.name.eq_ignore_ascii_case(&b.name)
        && urn(a) == urn(b)
        && match (&a.sub, &b.sub) {
            (None, None) => true,
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
            _ => false,
        }
}

/// String comparisons that must all hold (the top-level `and` chain), value paths flattened to
/// `attr.sub` (`emails[type eq "work"].value eq "x"` gives `emails.value eq "x"`).
fn comparisons(f: &Filter) -> Vec<(AttrPath, CompareOp, String)> {
    match f {
        Filter::Compare {
            path,
            op,
            value: CompValue::String(s),
        } => vec![(path.clone(), *op, s.clone())],
        Filter::And(a, b) => {
            let mut v = comparisons(a);
            v.extend(comparisons(b));
            v
        }
        Filter::ValuePath { attr, filter } => comparisons(filter)
            .into_iter()
            .filter(|(inner, _, _)| inner.urn.is_none() && inner.sub.is_none())
            .map(|(inner, op, v)| {
                (
                    AttrPath {
                        urn: attr.urn.clone(),
                        name: attr.name.clone(),
                        sub: Some(inner.name),
                    },
                    op,
                    v,
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The resource with this `userName` / `displayName`, if any (`on_duplicate = "adopt"`).
pub(super) async fn find_by_name(p: &Provisioner, name: &str) -> Result<Option<Value>> {
    let filter = Filter::Compare {
        path: AttrPath {
            urn: None,
            name: name_attr(p.kind).into(),
            sub: None,
        },
        op: CompareOp::Eq,
        value: CompValue::String(name.to_string()),
    };
    Ok(filtered(p, &filter, false).await?.into_iter().next())
}
