//! Rendering mapping endpoints into application calls, sending them, and reading records, pages
//! and totals out of the answers. Every substituted value goes through the templates'
//! percent-encoding; bodies are serialised JSON, so no SCIM value can alter the URL called.

use super::Provisioner;
use crate::app_client::{AppCall, AppReply, check_status, retry_after_of};
use crate::error::{AppError, Error, Result, Rule};
use crate::mapping::template::encode_query_component;
use crate::mapping::{Endpoint, ErrorAnswer, JsonPath, ListEndpoint, Paging, Template};
use crate::scim::ResourceKind;
use bytes::Bytes;
use serde_json::Value;

/// Values available to templates in one call.
#[derive(Clone, Copy)]
pub(super) enum Vars<'a> {
    None,
    Id(&'a str),
    Value(&'a str),
    /// A per-member call: the group's and the user's application ids.
    Member {
        id: &'a str,
        member: &'a str,
    },
}

impl Vars<'_> {
    fn lookup(&self, name: &str) -> Option<String> {
        match (self, name) {
            (Vars::Id(v), "id") | (Vars::Value(v), "value") => Some((*v).to_string()),
            (Vars::Member { id, .. }, "id") => Some((*id).to_string()),
            (Vars::Member { member, .. }, "member") => Some((*member).to_string()),
            _ => None,
        }
    }
}

/// The span/log label of a call: `users.get`, `groups.members.add`, …
pub(super) fn label(kind: ResourceKind, op: &str) -> &'static str {
    match (kind, op) {
        (ResourceKind::User, "get") => "users.get",
        (ResourceKind::User, "list") => "users.list",
        (ResourceKind::User, "create") => "users.create",
        (ResourceKind::User, "update") => "users.update",
        (ResourceKind::User, "delete") => "users.delete",
        (ResourceKind::User, "deactivate") => "users.deactivate",
        (ResourceKind::User, "reactivate") => "users.reactivate",
        (ResourceKind::Group, "get") => "groups.get",
        (ResourceKind::Group, "list") => "groups.list",
        (ResourceKind::Group, "create") => "groups.create",
        (ResourceKind::Group, "update") => "groups.update",
        (ResourceKind::Group, "delete") => "groups.delete",
        (ResourceKind::Group, "members.list") => "groups.members.list",
        (ResourceKind::Group, "members.add") => "groups.members.add",
        (ResourceKind::Group, "members.remove") => "groups.members.remove",
        (ResourceKind::User, _) => "users.other",
        (ResourceKind::Group, _) => "groups.other",
    }
}

/// Builds `path?query` for an endpoint: its path (or `path_override`), its own query templates,
/// then `extra` parameters (already plain text; encoded here).
pub(super) fn render(
    ep: &Endpoint,
    path_override: Option<&Template>,
    vars: Vars<'_>,
    extra_templates: &[(String, Template)],
    extra: &[(String, String)],
) -> String {
    let var = |name: &str| vars.lookup(name);
    let mut out = path_override.unwrap_or(&ep.path).render_path(&var);
    let mut first = !out.contains('?');
    let mut push = |out: &mut String, k: &str, v: &str| {
        out.push(if first { '?' } else { '&' });
        first = false;
        out.push_str(&encode_query_component(k));
        out.push('=');
        out.push_str(v);
    };
    for (k, t) in ep.query.iter().chain(extra_templates) {
        let v = t.render_query(&var);
        push(&mut out, k, &v);
    }
    for (k, v) in extra {
        push(&mut out, k, &encode_query_component(v));
    }
    out
}

/// `users` or `groups`: the mapping section a rule name starts with.
pub(super) fn section(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

/// Sends a call and applies the endpoint's status meanings; returns the parsed JSON body
/// (`Null` when empty) and the reply headers. Every error names the call (`users.update`).
pub(super) async fn send(
    p: &Provisioner,
    ep: &Endpoint,
    label: &'static str,
    path_and_query: String,
    body: Option<&Value>,
) -> Result<(Value, AppReply)> {
    send_unnamed(p, ep, label, path_and_query, body)
        .await
        .map_err(|e| e.in_rule(Rule::call(label)))
}

async fn send_unnamed(
    p: &Provisioner,
    ep: &Endpoint,
    label: &'static str,
    path_and_query: String,
    body: Option<&Value>,
) -> Result<(Value, AppReply)> {
    let body = match body {
        Some(v) => Some(Bytes::from(
            serde_json::to_vec(v).map_err(|e| Error::bug(format!("serialising body: {e}")))?,
        )),
        None => None,
    };
    let reply = p
        .client
        .send(AppCall {
            method: ep.method.clone(),
            path_and_query,
            body,
            label,
        })
        .await?;
    // `[[….errors]]` first (error answers only, so success costs nothing); the status lists
    // and the generic translation apply when no entry matches. A matching entry is the error's
    // rule (`users.create.errors[1]`), named in the log.
    let entry = if ep.errors.is_empty() || reply.status < 400 {
        None
    } else {
        crate::mapping::errors::first_match(&ep.errors, reply.status, &reply.body)
    };
    let named = |e: AppError| match entry {
        Some(r) => Error::from(e).in_rule(Rule::call(&r.key)),
        None => e.into(),
    };
    let (not_found, exists) = match entry.map(|r| &r.answer) {
        None => (
            ep.not_found_status.contains(&reply.status),
            ep.conflict_status.contains(&reply.status),
        ),
        Some(ErrorAnswer::NotFound) => (true, false),
        Some(ErrorAnswer::Exists) => (false, true),
        Some(ErrorAnswer::Answer {
            status,
            scim_type,
            detail,
        }) => {
            return Err(named(if *status == 429 {
                AppError::RateLimited {
                    retry_after: retry_after_of(&reply),
                }
            } else {
                AppError::Mapped {
                    app_status: reply.status,
                    status: *status,
                    scim_type: *scim_type,
                    detail: detail.clone(),
                }
            }));
        }
    };
    if not_found {
        return Err(named(AppError::NotFound(format!(
            "{} not found in the application",
            p.kind.name()
        ))));
    }
    if exists {
        return Err(named(AppError::Conflict(format!(
            "a {} with these values already exists",
            p.kind.name()
        ))));
    }
    let mut reply = check_status(reply)?;
    let json = if reply.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&reply.body)
            .map_err(|_| AppError::BadResponse(format!("{label}: the answer is not valid JSON")))?
    };
    reply.body = Bytes::new();
    Ok((json, reply))
}

/// Takes the record out of an answer (`record` path), `None` when the answer carries none.
pub(super) fn take_record(ep: &Endpoint, mut body: Value) -> Option<Value> {
    let record = match &ep.record {
        Some(path) => path.take(&mut body)?,
        None => body,
    };
    record.is_object().then_some(record)
}

/// Wraps a payload as the endpoint asks (`{"user": {...}}`).
pub(super) fn wrap(ep: &Endpoint, payload: Value) -> Value {
    match &ep.wrap {
        Some(key) => {
            let mut m = serde_json::Map::new();
            m.insert(key.clone(), payload);
            Value::Object(m)
        }
        None => payload,
    }
}

/// Sends a call on one record (get, update, delete, (de)activate): the templates take its
/// application id as `{id}`; a body is wrapped as the endpoint asks. `op` names the call in logs.
pub(super) async fn send_for(
    p: &Provisioner,
    ep: &Endpoint,
    op: &str,
    app_id: &str,
    body: Option<Value>,
) -> Result<(Value, AppReply)> {
    let path = render(ep, None, Vars::Id(app_id), &[], &[]);
    let body = body.map(|b| wrap(ep, b));
    send(p, ep, label(p.kind, op), path, body.as_ref()).await
}

/// Reads one record by application id; `None` when the application says it does not exist.
pub(super) async fn fetch(p: &Provisioner, app_id: &str) -> Result<Option<Value>> {
    let ep = &p.map().get;
    match send_for(p, ep, "get", app_id, None).await {
        Ok((body, _)) => take_record(ep, body).map(Some).ok_or_else(|| {
            Error::from(AppError::BadResponse("get: no record in the answer".into()))
                .in_rule(Rule::call(label(p.kind, "get")))
        }),
        Err(e) if matches!(e.app(), Some(AppError::NotFound(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A lookup narrowing the list call (a filter pushdown, or the users of one group): its path
/// override, query templates and their variables.
#[derive(Clone, Copy)]
pub(super) struct Narrow<'a> {
    pub path: Option<&'a Template>,
    pub query: &'a [(String, Template)],
    pub vars: Vars<'a>,
}

/// Which listing to page through: a resource's list call (optionally narrowed), or a group's
/// members listing (`vars` = the group id).
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub list: &'a ListEndpoint,
    pub label: &'static str,
    pub vars: Vars<'a>,
    pub narrow: Option<Narrow<'a>>,
}

impl<'a> Source<'a> {
    /// The resource's own list call, optionally narrowed by a lookup.
    pub fn of(p: &'a Provisioner, narrow: Option<Narrow<'a>>) -> Source<'a> {
        Source {
            list: &p.map().list,
            label: label(p.kind, "list"),
            vars: Vars::None,
            narrow,
        }
    }
}

/// One page of records from the list endpoint (or a pushdown path), with the total if known.
pub(super) struct Page {
    pub records: Vec<Value>,
    pub total: Option<usize>,
}

/// Requests `size` records starting at 0-based `offset`, aligned to the application's paging by
/// the caller. `lookup` adds a pushdown's path and query.
async fn list_call(
    p: &Provisioner,
    paging_params: &[(String, String)],
    source: Source<'_>,
) -> Result<Page> {
    let list = source.list;
    let ep = &list.endpoint;
    let (path_override, templates, vars) = match source.narrow {
        Some(n) => (n.path, n.query, n.vars),
        None => (None, &[][..], source.vars),
    };
    let pq = render(ep, path_override, vars, templates, paging_params);
    let (mut body, reply) = send(p, ep, source.label, pq, None).await?;
    let total = match (&list.total, &list.total_header) {
        (Some(path), _) => path.get(&body).and_then(as_count),
        (None, Some(h)) => header_count(&reply.headers, h),
        (None, None) => None,
    };
    let records = match &list.records {
        Some(path) => path.take(&mut body),
        None => Some(body),
    };
    let Some(Value::Array(records)) = records else {
        let at = list
            .records
            .as_ref()
            .map(JsonPath::to_string)
            .unwrap_or_else(|| "the top level".into());
        return Err(Error::from(AppError::BadResponse(format!(
            "list: no array of records at {at}"
        )))
        .in_rule(Rule::call(source.label)));
    };
    Ok(Page { records, total })
}

/// A count in an application answer: a number, or a string holding one.
pub(crate) fn as_count(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A count in a response header (`X-Total-Count: 250`).
pub(crate) fn header_count(headers: &http::HeaderMap, name: &str) -> Option<usize> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Records `[offset, offset + count)` of the application's list (optionally narrowed by a
/// pushdown), and the application's total when it reports one.
pub(super) async fn fetch_range(
    p: &Provisioner,
    offset: usize,
    count: usize,
    lookup: Source<'_>,
) -> Result<Page> {
    let paging = &lookup.list.paging;
    match paging {
        Paging::None => {
            let mut page = list_call(p, &[], lookup).await?;
            let all = page.records.len();
            let total = page.total.unwrap_or(all);
            page.records = page.records.into_iter().skip(offset).take(count).collect();
            Ok(Page {
                records: page.records,
                total: Some(total),
            })
        }
        Paging::Page {
            page_param,
            size_param,
            first_page,
            max_size,
        } => {
            let size = (*max_size).max(1);
            let mut page_no = (offset / size) as u64;
            let mut skip = offset % size;
            let mut out = Vec::new();
            let mut total = None;
            loop {
                let params = [
                    (page_param.clone(), (first_page + page_no).to_string()),
                    (size_param.clone(), size.to_string()),
                ];
                let page = list_call(p, &params, lookup).await?;
                total = total.or(page.total);
                let got = page.records.len();
                out.extend(page.records.into_iter().skip(skip).take(count - out.len()));
                skip = 0;
                page_no += 1;
                let seen = page_no as usize * size;
                if got < size || out.len() >= count || total.is_some_and(|t| seen >= t) {
                    break;
                }
            }
            Ok(Page {
                records: out,
                total,
            })
        }
        Paging::Offset {
            offset_param,
            size_param,
            max_size,
        } => {
            let size = (*max_size).max(1);
            let mut at = offset;
            let mut out = Vec::new();
            let mut total = None;
            loop {
                let want = (count - out.len()).min(size).max(1);
                let params = [
                    (offset_param.clone(), at.to_string()),
                    (size_param.clone(), want.to_string()),
                ];
                let page = list_call(p, &params, lookup).await?;
                total = total.or(page.total);
                let got = page.records.len();
                out.extend(page.records.into_iter().take(count - out.len()));
                at += got;
                if got < want || out.len() >= count || total.is_some_and(|t| at >= t) {
                    break;
                }
            }
            Ok(Page {
                records: out,
                total,
            })
        }
    }
}

/// Every record of a listing, refusing with `tooMany` past `max_scan`.
pub(super) async fn scan_all(p: &Provisioner, lookup: Source<'_>) -> Result<Vec<Value>> {
    let max_scan = p.map().max_scan;
    // Ask for one more than the bound: getting it proves the bound is exceeded.
    let page = fetch_range(p, 0, max_scan.saturating_add(1), lookup).await?;
    if page.records.len() > max_scan {
        return Err(Error::too_many(format!(
            "this filter must be evaluated by the sidecar over more than {max_scan} records; \
             narrow it with an attribute the application can search (e.g. userName eq)"
        )));
    }
    Ok(page.records)
}

/// The application id in a record, as text.
pub(super) fn app_id_of(p: &Provisioner, record: &Value) -> Result<String> {
    p.map()
        .id_field
        .get(record)
        .and_then(id_text)
        .ok_or_else(|| {
            Error::from(AppError::BadResponse(format!(
                "record has no id at `{}`",
                p.map().id_field
            )))
            .in_rule(Rule::call(&format!("{}.id_field", section(p.kind))))
        })
}

/// An application id as text: a non-empty string, or a number (`1001` → `"1001"`).
pub(crate) fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
