//! `scim-sidecar check`: a read-only probe of the real application with the loaded mapping. It
//! sends only GET requests, through the server's own application client (same headers, auth,
//! timeouts and retries, see [`crate::runtime::app_client`]), and reports one line per check:
//! reachability, credentials, and for each resource type whether the list, get, id field, total,
//! paging, mapped fields, hooks, filter pushdowns and (groups) the members listing answer the way
//! the mapping says.
//!
//! What it prints: URLs with the base URL's user info masked, header names (never values),
//! statuses, record counts, field names and ids. Record values only appear as types, except the
//! sample id. An endpoint the mapping declares with another method than GET is not called.

use crate::app_client::{AppCall, AppClient, AppReply};
use crate::error::AppError;
use crate::mapping::json_path::kind_name;
use crate::mapping::template::encode_query_component;
use crate::mapping::{
    Endpoint, JsonPath, ListEndpoint, Mapping, Membership, Paging, Pushdown, ResourceMapping,
    Template,
};
use crate::provision::{as_count, header_count, id_text};
use crate::scim::ResourceKind;
use crate::scim::filter::CompareOp;
use crate::scim::resource::get_ci;
use serde_json::{Value, json};
use std::time::Instant;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    /// Worth a look, not necessarily wrong (optional fields, loose filters).
    Warn,
    /// The mapping and the application disagree, or the application cannot be used.
    Fail,
    /// Not run (an earlier check failed, or it would need a non-GET request).
    Skip,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
            Level::Skip => "skip",
        }
    }
}

/// One reported line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Line {
    pub level: Level,
    /// `reachable`, `credentials`, `users.list`, `groups.members`, …
    pub check: String,
    pub message: String,
}

/// Every check's outcome, in order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub lines: Vec<Line>,
}

impl Report {
    /// Records `check` as skipped when its endpoint is declared with another method than GET
    /// (check sends only GET); whether it was.
    fn skip_unless_get(&mut self, check: impl Into<String>, method: &http::Method) -> bool {
        if *method == http::Method::GET {
            return false;
        }
        let message = format!("uses {method}; check sends only GET requests");
        self.push(Level::Skip, check, message);
        true
    }

    /// Records a failed check; `None` for callers that give up on what the check was reading.
    fn fail<T>(&mut self, check: impl Into<String>, message: impl Into<String>) -> Option<T> {
        self.push(Level::Fail, check, message);
        None
    }

    fn push(&mut self, level: Level, check: impl Into<String>, message: impl Into<String>) {
        self.lines.push(Line {
            level,
            check: check.into(),
            message: message.into(),
        });
    }

    /// How many checks came out at `level`.
    pub fn count(&self, level: Level) -> usize {
        self.lines.iter().filter(|l| l.level == level).count()
    }

    /// Whether any check failed (the command then exits 1).
    pub fn failed(&self) -> bool {
        self.count(Level::Fail) > 0
    }

    /// The first line of a check, for tests and callers.
    pub fn line(&self, check: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.check == check)
    }

    /// One aligned line per check, then a summary.
    pub fn render_text(&self) -> String {
        let width = self
            .lines
            .iter()
            .map(|l| l.check.chars().count())
            .max()
            .unwrap_or(0)
            .max(15);
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(&format!(
                "{:<5} {:<width$} {}\n",
                l.level.as_str(),
                l.check,
                l.message
            ));
        }
        out.push_str(&format!(
            "{} ok, {} warning(s), {} failed, {} skipped\n",
            self.count(Level::Ok),
            self.count(Level::Warn),
            self.count(Level::Fail),
            self.count(Level::Skip)
        ));
        out
    }

    /// `{"ok": bool, "checks": [...], "summary": {...}}`.
    pub fn render_json(&self) -> Value {
        json!({
            "ok": !self.failed(),
            "checks": self.lines,
            "summary": {
                "ok": self.count(Level::Ok),
                "warn": self.count(Level::Warn),
                "fail": self.count(Level::Fail),
                "skip": self.count(Level::Skip),
            }
        })
    }
}

/// Runs every check against the application the mapping points at.
pub async fn run(mapping: &Mapping) -> Report {
    let mut report = Report::default();
    let client = match crate::runtime::app_client(&mapping.app) {
        Ok(c) => c,
        Err(e) => {
            report.push(Level::Fail, "client", e);
            return report;
        }
    };
    let mut probe = Probe {
        client,
        mapping,
        report,
        base_display: mask_user_info(&mapping.app.base_url),
    };
    if probe.connection().await {
        let user = probe.resource(&mapping.users, None).await;
        if let Some(groups) = &mapping.groups {
            probe.resource(groups, user.as_ref()).await;
        }
    }
    probe.report
}

/// A pushdown's path override and query templates.
type Narrow<'t> = (Option<&'t Template>, &'t [(String, Template)]);

/// A list page as read: the records and the total when the mapping says where it is.
struct Listed {
    records: Vec<Value>,
    total: Option<usize>,
    /// `record path "data" holds an array of 1 record(s); total field "meta.total" = 250`.
    summary: String,
}

struct Probe<'a> {
    client: AppClient,
    mapping: &'a Mapping,
    report: Report,
    base_display: String,
}

impl Probe<'_> {
    /// `reachable` and `credentials`, on the users list's first page. False: stop here.
    async fn connection(&mut self) -> bool {
        let users = &self.mapping.users;
        let list = &users.list;
        if list.endpoint.method != http::Method::GET {
            self.report.push(
                Level::Skip,
                "reachable",
                format!(
                    "users.list uses {}; check sends only GET requests",
                    list.endpoint.method
                ),
            );
            return false;
        }
        let pq = render(
            &list.endpoint,
            None,
            &|_| None,
            &[],
            &paging_params(&list.paging, 0, 1),
        );
        let started = Instant::now();
        let reply = self.get("users.list", pq.clone()).await;
        let ms = started.elapsed().as_millis();
        let url = format!("{}{pq}", self.base_display);
        let reply = match reply {
            Ok(r) => r,
            Err(e) => {
                let cause = match &e {
                    AppError::Timeout => format!(
                        "no answer within {} ms (app.timeout_ms)",
                        self.mapping.app.timeout.as_millis()
                    ),
                    AppError::Unreachable(cause) => cause.clone(),
                    other => other.to_string(),
                };
                self.report.push(
                    Level::Fail,
                    "reachable",
                    format!("GET {url} failed: {cause}"),
                );
                self.report.push(
                    Level::Skip,
                    "credentials",
                    "not checked: the application is not reachable",
                );
                return false;
            }
        };
        self.report.push(
            Level::Ok,
            "reachable",
            format!("GET {url} → {} in {ms} ms", reply.status),
        );
        let header = self.auth_header_names();
        if matches!(reply.status, 401 | 403) {
            let what = if header.is_empty() {
                "no auth header is configured (app.auth)".to_string()
            } else {
                format!("the auth header {header} was refused")
            };
            self.report.push(
                Level::Fail,
                "credentials",
                format!("HTTP {}: {what}; check app.auth.secret", reply.status),
            );
            return false;
        }
        let sent = if header.is_empty() {
            "no auth header configured".to_string()
        } else {
            format!("{header}: ****")
        };
        self.report.push(
            Level::Ok,
            "credentials",
            format!("accepted (not 401/403; {sent})"),
        );
        true
    }

    /// Names of the secret headers, for messages (never their values).
    fn auth_header_names(&self) -> String {
        let names: Vec<&str> = self
            .mapping
            .app
            .headers
            .iter()
            .filter(|(_, _, secret)| *secret)
            .map(|(n, _, _)| n.as_str())
            .collect();
        names.join(", ")
    }

    async fn get(&self, label: &'static str, pq: String) -> Result<AppReply, AppError> {
        self.client
            .send(AppCall {
                method: http::Method::GET,
                path_and_query: pq,
                body: None,
                label,
            })
            .await
    }

    /// Every check of one resource type; returns the sample record (users, for the groups'
    /// `user_attribute` membership check).
    async fn resource(&mut self, map: &ResourceMapping, user: Option<&Value>) -> Option<Value> {
        let res = resource_name(map.kind);
        let name = |op: &str| format!("{res}.{op}");
        let listed = self
            .list(&name("list"), &map.list, &|_| None, None, 0, 1)
            .await?;
        self.report
            .push(Level::Ok, name("list"), listed.summary.clone());
        let Some(first) = listed.records.into_iter().next() else {
            self.report.push(
                Level::Warn,
                name("records"),
                format!(
                    "the application has no {res} yet: id, get, field and filter checks skipped"
                ),
            );
            return None;
        };
        let id = self.id(&name("id"), &map.id_field, &first)?;
        self.paging(map, &id, listed.total).await;
        let record = self.get_one(map, &id).await.unwrap_or(first);
        self.attributes(map, &record);
        if let (ResourceKind::Group, Some(user)) = (map.kind, user) {
            self.user_attribute_members(user);
        }
        let scim = self.convert(map, &record);
        if let Some(scim) = &scim {
            for pushdown in &map.pushdowns {
                self.pushdown(map, pushdown, scim, &id, listed.total).await;
            }
        }
        if map.kind == ResourceKind::Group {
            self.members(&record, &id).await;
        }
        Some(record)
    }

    /// One list call and whether its answer matches the mapping; `None` after a fail line.
    async fn list(
        &mut self,
        check: &str,
        list: &ListEndpoint,
        vars: &dyn Fn(&str) -> Option<String>,
        narrow: Option<Narrow<'_>>,
        page: u64,
        size: usize,
    ) -> Option<Listed> {
        let ep = &list.endpoint;
        if self.report.skip_unless_get(check, &ep.method) {
            return None;
        }
        let (path, templates) = narrow.unwrap_or((None, &[]));
        let pq = render(
            ep,
            path,
            vars,
            templates,
            &paging_params(&list.paging, page, size),
        );
        let (body, reply) = match self.json(check, pq).await {
            Ok(x) => x,
            Err(message) => {
                self.report.push(Level::Fail, check, message);
                return None;
            }
        };
        let records = match &list.records {
            Some(path) => path.get(&body),
            None => Some(&body),
        };
        let at = match &list.records {
            Some(p) => format!("record path \"{p}\""),
            None => "the answer".to_string(),
        };
        let records = match records {
            Some(Value::Array(items)) => items.clone(),
            Some(other) => {
                self.report.push(
                    Level::Fail,
                    check,
                    format!(
                        "{at} holds {}, not an array of records (list.records)",
                        kind_name(other)
                    ),
                );
                return None;
            }
            None => {
                self.report.push(
                    Level::Fail,
                    check,
                    format!(
                        "{at} is not in the answer (list.records); its top-level keys: {}",
                        keys(&body)
                    ),
                );
                return None;
            }
        };
        let mut summary = format!("{at} holds an array of {} record(s)", records.len());
        // Where the total comes from (a body field or a header), its name and key, and its value.
        let source = match (&list.total, &list.total_header) {
            (Some(path), _) => Some((
                "field",
                path.to_string(),
                "list.total",
                path.get(&body).and_then(as_count),
            )),
            (None, Some(h)) => Some((
                "header",
                h.clone(),
                "list.total_header",
                header_count(&reply.headers, h),
            )),
            (None, None) => None,
        };
        let total = match source {
            Some((kind, name, _, Some(n))) => {
                summary.push_str(&format!("; total {kind} \"{name}\" = {n}"));
                Some(n)
            }
            Some((kind, name, key, None)) => {
                return self.report.fail(
                    check,
                    format!("{summary}, but the total {kind} \"{name}\" is missing or not a count ({key})"),
                );
            }
            None => {
                summary.push_str("; no total configured");
                None
            }
        };
        Some(Listed {
            records,
            total,
            summary,
        })
    }

    /// Sends a GET and parses a 2xx JSON answer; the error is a fail message.
    async fn json(&self, check: &str, pq: String) -> Result<(Value, AppReply), String> {
        let url = format!("{}{pq}", self.base_display);
        let reply = self
            .get(static_label(check), pq)
            .await
            .map_err(|e| format!("GET {url} failed: {e}"))?;
        if !(200..300).contains(&reply.status) {
            return Err(format!(
                "GET {url} → {}: {}",
                reply.status,
                status_meaning(reply.status)
            ));
        }
        let body = serde_json::from_slice(&reply.body)
            .map_err(|_| format!("GET {url} → {}: the answer is not JSON", reply.status))?;
        Ok((body, reply))
    }

    /// The id field of a listed record, as text.
    fn id(&mut self, check: &str, field: &JsonPath, record: &Value) -> Option<String> {
        match field.get(record) {
            Some(Value::Number(n)) => {
                self.report.push(
                    Level::Ok,
                    check,
                    format!("field \"{field}\" present (number {n})"),
                );
                Some(n.to_string())
            }
            Some(Value::String(s)) if !s.is_empty() => {
                self.report.push(
                    Level::Ok,
                    check,
                    format!("field \"{field}\" present (string \"{s}\")"),
                );
                Some(s.clone())
            }
            Some(other) => self.report.fail(
                check,
                format!(
                    "field \"{field}\" holds {}, not a string or number (id_field)",
                    kind_name(other)
                ),
            ),
            None => self.report.fail(
                check,
                format!(
                    "field \"{field}\" is not in the listed record (id_field); its keys: {}",
                    keys(record)
                ),
            ),
        }
    }

    /// The second page must start after the first: catches a wrong page parameter, first page
    /// or ignored page size.
    async fn paging(&mut self, map: &ResourceMapping, first_id: &str, total: Option<usize>) {
        let check = format!("{}.paging", resource_name(map.kind));
        if matches!(map.list.paging, Paging::None) {
            self.report.push(
                Level::Ok,
                check,
                "paging style \"none\": one call returns every record",
            );
            return;
        }
        if total.is_some_and(|t| t < 2) {
            self.report.push(
                Level::Skip,
                check,
                "fewer than 2 records: the second page cannot be checked",
            );
            return;
        }
        let params = paging_params(&map.list.paging, 1, 1);
        let shown = params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let Some(next) = self.list(&check, &map.list, &|_| None, None, 1, 1).await else {
            return;
        };
        if next.records.len() > 1 {
            self.report.push(
                Level::Fail,
                check,
                format!(
                    "{shown} returned {} records for a page size of 1: the size parameter \
                     seems ignored (paging.size_param)",
                    next.records.len()
                ),
            );
            return;
        }
        let Some(second) = next.records.first() else {
            if total.is_none() {
                self.report.push(
                    Level::Skip,
                    check,
                    format!("{shown} is empty: only one record to page through"),
                );
            } else {
                self.report.push(
                    Level::Fail,
                    check,
                    format!(
                        "{shown} is empty although the total says there are more records \
                         (paging.first_page / page_param / offset_param)"
                    ),
                );
            }
            return;
        };
        let second_id = map.id_field.get(second).and_then(id_text);
        if second_id.as_deref() == Some(first_id) {
            self.report.push(
                Level::Fail,
                check,
                format!(
                    "{shown} returned the same record ({first_id}) as the first page \
                     (paging.first_page / page_param / offset_param)"
                ),
            );
        } else {
            self.report.push(
                Level::Ok,
                check,
                format!(
                    "{shown} returns the next record (id {})",
                    second_id.unwrap_or_else(|| "?".into())
                ),
            );
        }
    }

    /// Reads the listed record back with `get`.
    async fn get_one(&mut self, map: &ResourceMapping, id: &str) -> Option<Value> {
        let check = format!("{}.get", resource_name(map.kind));
        let ep = &map.get;
        if self.report.skip_unless_get(&check, &ep.method) {
            return None;
        }
        let var = |name: &str| (name == "id").then(|| id.to_string());
        let pq = render(ep, None, &var, &[], &[]);
        let url = format!("{}{pq}", self.base_display);
        let reply = match self.get(static_label(&check), pq).await {
            Ok(r) => r,
            Err(e) => {
                self.report
                    .push(Level::Fail, check, format!("GET {url} failed: {e}"));
                return None;
            }
        };
        if ep.not_found_status.contains(&reply.status) {
            self.report.push(
                Level::Fail,
                check,
                format!(
                    "GET {url} → {}: the listed record {id} is not found by get (get.path, \
                     id_field)",
                    reply.status
                ),
            );
            return None;
        }
        if !(200..300).contains(&reply.status) {
            self.report.push(
                Level::Fail,
                check,
                format!(
                    "GET {url} → {}: {}",
                    reply.status,
                    status_meaning(reply.status)
                ),
            );
            return None;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
            self.report.push(
                Level::Fail,
                check,
                format!("GET {url} → {}: the answer is not JSON", reply.status),
            );
            return None;
        };
        let at = match &ep.record {
            Some(p) => format!("record path \"{p}\""),
            None => "the answer".to_string(),
        };
        let record = match &ep.record {
            Some(p) => p.get(&body),
            None => Some(&body),
        };
        match record {
            Some(r @ Value::Object(_)) => {
                let got = map.id_field.get(r).and_then(id_text);
                if got.as_deref() == Some(id) {
                    self.report.push(
                        Level::Ok,
                        check,
                        format!(
                            "GET {url} → {}; {at} holds an object with id {id}",
                            reply.status
                        ),
                    );
                    Some(r.clone())
                } else {
                    self.report.fail(
                        check,
                        format!(
                            "GET {url} → {}; {at} holds an object whose \"{}\" is {} instead of \
                             {id}",
                            reply.status,
                            map.id_field,
                            got.unwrap_or_else(|| "missing".to_string())
                        ),
                    )
                }
            }
            Some(other) => self.report.fail(
                check,
                format!(
                    "GET {url} → {}; {at} holds {}, not a record object (get.record)",
                    reply.status,
                    kind_name(other)
                ),
            ),
            None => self.report.fail(
                check,
                format!(
                    "GET {url} → {}; {at} is not in the answer (get.record); its top-level \
                         keys: {}",
                    reply.status,
                    keys(&body)
                ),
            ),
        }
    }

    /// Mapped application fields present in the sample record (warnings: fields may be optional).
    fn attributes(&mut self, map: &ResourceMapping, record: &Value) {
        let check = format!("{}.attribute", resource_name(map.kind));
        let mut read = 0;
        let mut present = 0;
        for rule in &map.rules.rules {
            let Some(app) = &rule.app else { continue };
            if rule.write_only || rule.store {
                continue;
            }
            read += 1;
            if app.get(record).is_some() {
                present += 1;
            } else {
                let scim = rule.scim_text.as_deref().unwrap_or("(no SCIM attribute)");
                self.report.push(
                    Level::Warn,
                    check.clone(),
                    format!("field \"{app}\" mapped to {scim} is absent in the sample record"),
                );
            }
        }
        self.report.push(
            Level::Ok,
            format!("{}.attributes", resource_name(map.kind)),
            format!("{present} of {read} mapped field(s) present in the sample record"),
        );
    }

    /// `user_attribute` membership: the users' group field.
    fn user_attribute_members(&mut self, user: &Value) {
        let Some((field, single)) = self.mapping.user_group_field() else {
            return;
        };
        let check = "groups.members";
        match field.get(user) {
            None => self.report.push(
                Level::Warn,
                check,
                format!("field \"{field}\" (members.field) is absent in the sample user"),
            ),
            Some(Value::Array(_)) if !single => self.report.push(
                Level::Ok,
                check,
                format!("field \"{field}\" in the sample user holds an array of group ids"),
            ),
            Some(Value::Array(_)) => self.report.push(
                Level::Fail,
                check,
                format!("field \"{field}\" holds an array, but members.single = true"),
            ),
            Some(v) if single => self.report.push(
                Level::Ok,
                check,
                format!(
                    "field \"{field}\" in the sample user holds {}",
                    kind_name(v)
                ),
            ),
            Some(v) => self.report.push(
                Level::Fail,
                check,
                format!(
                    "field \"{field}\" holds {}, not an array (set members.single = true for one \
                     group id)",
                    kind_name(v)
                ),
            ),
        }
    }

    /// The sample record through the attribute rules and the `from_app` hook, as the server
    /// converts it; the SCIM resource for the filter checks.
    fn convert(&mut self, map: &ResourceMapping, record: &Value) -> Option<Value> {
        let res = resource_name(map.kind);
        let scim = match map.rules.app_to_scim(record) {
            Ok(s) => s,
            Err(e) => {
                self.report.push(
                    Level::Fail,
                    format!("{res}.convert"),
                    format!("the sample record does not convert to SCIM: {e}"),
                );
                return None;
            }
        };
        let (Some(script), Some(hook)) = (&map.hooks.script, &map.hooks.from_app) else {
            self.report.push(
                Level::Ok,
                format!("{res}.convert"),
                "the sample record converts to SCIM",
            );
            return Some(scim);
        };
        let check = format!("{res}.hooks.from_app");
        let ctx = json!({"operation": "get", "resource": map.kind.name(), "stored": false});
        match script.call_hook(hook, record.clone(), scim.clone(), ctx) {
            Ok(out) => {
                self.report.push(
                    Level::Ok,
                    check,
                    format!("the sample record converts to SCIM through hook `{hook}`"),
                );
                Some(out)
            }
            Err(e) => {
                let message = match &e {
                    crate::error::Error::Internal(crate::error::InternalError::Script {
                        message,
                        ..
                    }) => message.clone(),
                    other => other.to_string(),
                };
                self.report.push(
                    Level::Fail,
                    check,
                    format!("hook `{hook}` failed on the sample record: {message}"),
                );
                Some(scim)
            }
        }
    }

    /// A filter pushdown with a value from the sample record must bring the record back.
    async fn pushdown(
        &mut self,
        map: &ResourceMapping,
        p: &Pushdown,
        scim: &Value,
        id: &str,
        unfiltered_total: Option<usize>,
    ) {
        let res = resource_name(map.kind);
        let attr = match &p.value_path {
            Some(vp) => vp.attr.to_string(),
            None => p.attribute.to_string(),
        };
        let check = format!("{res}.filter");
        let what = format!("{attr} {}", p.op.keyword());
        if !matches!(
            p.op,
            CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew
        ) || p.value_path.is_some()
        {
            self.report.push(
                Level::Skip,
                check,
                format!("{what}: not probed (only simple eq, co, sw and ew filters are)"),
            );
            return;
        }
        let Some(value) = scim_value(scim, p).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }) else {
            self.report.push(
                Level::Skip,
                check,
                format!("{what}: the sample record has no single value to filter by"),
            );
            return;
        };
        let var = |name: &str| (name == "value").then(|| value.clone());
        let max = match &map.list.paging {
            Paging::Page { max_size, .. } | Paging::Offset { max_size, .. } => *max_size,
            Paging::None => 0,
        };
        let Some(listed) = self
            .list(
                &check,
                &map.list,
                &var,
                Some((p.path.as_ref(), &p.query)),
                0,
                max.max(1),
            )
            .await
        else {
            return;
        };
        let back = listed
            .records
            .iter()
            .any(|r| map.id_field.get(r).and_then(id_text).as_deref() == Some(id));
        let n = listed.records.len();
        let params: Vec<String> = p.query.iter().map(|(k, _)| k.clone()).collect();
        let via = if params.is_empty() {
            "its path".to_string()
        } else {
            format!("query {}", params.join(", "))
        };
        if !back {
            self.report.push(
                Level::Fail,
                check,
                format!(
                    "{what} <value of the sample record> via {via}: {n} record(s), without the \
                     sample record {id}"
                ),
            );
        } else if n > 1 && unfiltered_total.is_some_and(|t| listed.total == Some(t)) {
            self.report.push(
                Level::Warn,
                check,
                format!(
                    "{what} via {via}: the answer has the same total as the whole list; the \
                     application may ignore the parameter (the sidecar still filters, by scanning)"
                ),
            );
        } else {
            self.report.push(
                Level::Ok,
                check,
                format!(
                    "{what} <value of the sample record> via {via}: the record comes back ({n} \
                     record(s))"
                ),
            );
        }
    }

    /// Groups: where the members are, per the membership model.
    async fn members(&mut self, group: &Value, group_id: &str) {
        let Some(groups) = &self.mapping.groups else {
            return;
        };
        let check = "groups.members";
        match &groups.members {
            None | Some(Membership::UserAttribute { .. }) => {}
            Some(Membership::Record { field, .. }) => match field.get(group) {
                Some(Value::Array(items)) => self.report.push(
                    Level::Ok,
                    check,
                    format!(
                        "field \"{field}\" holds an array of {} member(s)",
                        items.len()
                    ),
                ),
                Some(other) => self.report.push(
                    Level::Fail,
                    check,
                    format!(
                        "field \"{field}\" holds {}, not an array (members.field)",
                        kind_name(other)
                    ),
                ),
                None => self.report.push(
                    Level::Warn,
                    check,
                    format!("field \"{field}\" (members.field) is absent in the sample group"),
                ),
            },
            Some(Membership::Endpoints { list, items, .. }) => {
                let var = |name: &str| (name == "id").then(|| group_id.to_string());
                let Some(listed) = self.list(check, list, &var, None, 0, 1).await else {
                    return;
                };
                let Some(first) = listed.records.first() else {
                    self.report.push(
                        Level::Ok,
                        check,
                        format!(
                            "{} (group {group_id} has no members: the item shape is not checked)",
                            listed.summary
                        ),
                    );
                    return;
                };
                let id = match &items.id {
                    Some(path) => path.get(first).and_then(id_text),
                    None => id_text(first),
                };
                let at = items
                    .id
                    .as_ref()
                    .map_or("the item itself".to_string(), |p| format!("\"{p}\""));
                match id {
                    Some(_) => self.report.push(
                        Level::Ok,
                        check,
                        format!("{}; member id at {at} present", listed.summary),
                    ),
                    None => self.report.push(
                        Level::Fail,
                        check,
                        format!("{}; no member id at {at} (members.item_id)", listed.summary),
                    ),
                }
            }
        }
    }
}

fn resource_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    }
}

/// The client's call label (logs and spans want a `'static` name).
fn static_label(check: &str) -> &'static str {
    match check {
        "users.list" | "users.paging" | "users.filter" => "users.list",
        "users.get" => "users.get",
        "groups.list" | "groups.paging" | "groups.filter" => "groups.list",
        "groups.get" => "groups.get",
        "groups.members" => "groups.members.list",
        _ => "check",
    }
}

/// Paging parameters for 0-based page `page` of `size` records.
fn paging_params(paging: &Paging, page: u64, size: usize) -> Vec<(String, String)> {
    match paging {
        Paging::Page {
            page_param,
            size_param,
            first_page,
            ..
        } => vec![
            (page_param.clone(), (first_page + page).to_string()),
            (size_param.clone(), size.to_string()),
        ],
        Paging::Offset {
            offset_param,
            size_param,
            ..
        } => vec![
            (offset_param.clone(), (page * size as u64).to_string()),
            (size_param.clone(), size.to_string()),
        ],
        Paging::None => Vec::new(),
    }
}

/// `path?query` as the server builds it: the endpoint's (or an overriding) path, its query
/// templates, extra templates, then plain parameters; every value percent-encoded.
fn render(
    ep: &Endpoint,
    path: Option<&Template>,
    var: &dyn Fn(&str) -> Option<String>,
    templates: &[(String, Template)],
    extra: &[(String, String)],
) -> String {
    let mut out = path.unwrap_or(&ep.path).render_path(var);
    let mut sep = if out.contains('?') { '&' } else { '?' };
    for (k, t) in ep.query.iter().chain(templates) {
        out.push(sep);
        sep = '&';
        out.push_str(&encode_query_component(k));
        out.push('=');
        out.push_str(&t.render_query(var));
    }
    for (k, v) in extra {
        out.push(sep);
        sep = '&';
        out.push_str(&encode_query_component(k));
        out.push('=');
        out.push_str(&encode_query_component(v));
    }
    out
}

/// `http://user:pass@host` → `http://****@host`: credentials in a URL are secrets too.
fn mask_user_info(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://****{}", &rest[at..]),
        None => url.to_string(),
    }
}

fn status_meaning(status: u16) -> &'static str {
    match status {
        401 | 403 => "the application refused the credentials",
        404 => "not found (check the path)",
        405 => "method not allowed (check the path)",
        400 | 422 => "the application refused the request's parameters",
        429 => "the application is rate limiting",
        500..=599 => "the application failed",
        300..=399 => "a redirect (check base_url and the path)",
        _ => "unexpected status",
    }
}

/// Top-level key names of an object (names only, never values).
fn keys(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "none".into(),
        Value::Object(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
        other => format!("none (the answer is {})", kind_name(other)),
    }
}

/// The value of a simple (non value-path) pushdown attribute in a SCIM resource.
fn scim_value<'v>(scim: &'v Value, p: &Pushdown) -> Option<&'v Value> {
    let mut obj = scim.as_object()?;
    if let Some(urn) = &p.attribute.urn {
        obj = get_ci(obj, urn)?.as_object()?;
    }
    let v = get_ci(obj, &p.attribute.name)?;
    match &p.attribute.sub {
        Some(sub) => get_ci(v.as_object()?, sub),
        None => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_in_the_base_url_is_masked() {
        assert_eq!(
            mask_user_info("http://admin:hunter2@app:8080/api"),
            "http://****@app:8080/api"
        );
        assert_eq!(mask_user_info("http://app:8080/a@b"), "http://app:8080/a@b");
        assert_eq!(mask_user_info("not a url"), "not a url");
    }

    #[test]
    fn paging_parameters_follow_the_style() {
        let page = Paging::Page {
            page_param: "page".into(),
            size_param: "per_page".into(),
            first_page: 1,
            max_size: 100,
        };
        assert_eq!(
            paging_params(&page, 1, 1),
            vec![
                ("page".to_string(), "2".to_string()),
                ("per_page".to_string(), "1".to_string())
            ]
        );
        let offset = Paging::Offset {
            offset_param: "offset".into(),
            size_param: "limit".into(),
            max_size: 50,
        };
        assert_eq!(
            paging_params(&offset, 2, 10),
            vec![
                ("offset".to_string(), "20".to_string()),
                ("limit".to_string(), "10".to_string())
            ]
        );
        assert!(paging_params(&Paging::None, 3, 1).is_empty());
    }

    #[test]
    fn the_report_renders_aligned_text_and_json() {
        let mut r = Report::default();
        r.push(Level::Ok, "reachable", "GET http://a/x → 200 in 1 ms");
        r.push(Level::Fail, "users.list", "boom");
        let text = r.render_text();
        assert!(text.starts_with("ok    reachable       GET"), "{text}");
        assert!(text.contains("\nfail  users.list      boom\n"), "{text}");
        assert!(
            text.ends_with("1 ok, 0 warning(s), 1 failed, 0 skipped\n"),
            "{text}"
        );
        assert!(r.failed());
        let j = r.render_json();
        assert_eq!(j["ok"], false);
        assert_eq!(j["checks"][1]["level"], "fail");
        assert_eq!(j["checks"][1]["check"], "users.list");
        assert_eq!(j["summary"]["fail"], 1);
        let mut fine = Report::default();
        fine.push(Level::Warn, "users.attribute", "x");
        assert!(!fine.failed());
    }
}
