//! Id correspondence: which application record a SCIM id names, plus attributes the application
//! cannot store. A [`IdStore`] keeps durable facts (memory for tests and stateless mappings, an
//! embedded crash-safe file for one replica, a shared server store later); an [`IdCache`]
//! in front keeps what is expensive to ask the application.
//!
//! ## Nothing here is tied to one process
//!
//! A shared store (Redis, PostgreSQL) serving several replicas must be able to implement
//! [`IdStore`] unchanged, so:
//! - an [`IdEntry`] is plain data (strings and JSON) and is stored as its serde JSON form; it holds
//!   no handles, counters or timestamps that only make sense inside one process;
//! - every method is one self-contained request keyed by `(kind, …)` strings; no method relies on
//!   an earlier call in the same process (no sessions, no cursors, no locks held between calls);
//! - `put` replaces the whole entry for its SCIM id (last writer wins) and `remove` of a missing id
//!   is not an error, so a retried call is harmless;
//! - the lookups a store answers are defined here ([`index_terms`], [`normalise_value`]), not by
//!   an implementation, so every store finds the same entries for the same query;
//! - results come back sorted by SCIM id, an order any store can reproduce.
//!
//! The [`IdCache`] is per process on purpose: it only holds positive facts, each for at most its
//! TTL, so a replica that missed another replica's write serves a stale id at most that long.

pub mod cache;
mod compact;
pub mod file;
pub mod memory;

pub use cache::{CacheSettings, IdCache, Lookup, Names};
pub use file::FileStore;
pub use memory::MemoryStore;

use crate::error::Result;
use crate::scim::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// What the sidecar knows about one SCIM resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdEntry {
    pub scim_id: String,
    /// The application's id; `None` while the record is parked (deactivated by deletion).
    pub app_id: Option<String>,
    /// Attributes the application cannot store, keyed by SCIM path text (`externalId`).
    #[serde(default)]
    pub kept: Map<String, Value>,
    /// The full SCIM resource of a user deactivated by deletion, so GET still answers and
    /// reactivation can re-create it under the same SCIM id.
    #[serde(default)]
    pub parked: Option<Value>,
}

/// Durable id facts. Implementations must be safe to share between requests; a write is durable
/// when the call returns. See the module docs for what keeps this usable by a shared store.
#[async_trait::async_trait]
pub trait IdStore: Send + Sync + std::fmt::Debug + 'static {
    async fn get(&self, kind: ResourceKind, scim_id: &str) -> Result<Option<IdEntry>>;
    async fn find_by_app_id(&self, kind: ResourceKind, app_id: &str) -> Result<Option<IdEntry>>;
    /// Entries whose kept attribute `attr` (or, for parked entries, whose snapshot's top-level
    /// attribute `attr`, one of [`PARKED_INDEXED`]) equals `value`, sorted by SCIM id. Attribute
    /// names compare case-insensitively; `userName` and `displayName` values case-insensitively,
    /// other values exactly. Only string values are indexed.
    async fn find_by_attr(
        &self,
        kind: ResourceKind,
        attr: &str,
        value: &str,
    ) -> Result<Vec<IdEntry>>;
    /// Inserts or replaces the entry for `entry.scim_id`. When another entry already claims the
    /// same app id, the app-id lookup answers the newer entry.
    async fn put(&self, kind: ResourceKind, entry: IdEntry) -> Result<()>;
    /// Removes the entry; removing an unknown id is not an error.
    async fn remove(&self, kind: ResourceKind, scim_id: &str) -> Result<()>;
    /// Every parked entry, sorted by SCIM id (for listing deactivated-by-deletion users).
    async fn parked(&self, kind: ResourceKind) -> Result<Vec<IdEntry>>;
}

/// Top-level attributes of a parked snapshot that [`IdStore::find_by_attr`] can find.
pub const PARKED_INDEXED: [&str; 3] = ["userName", "externalId", "displayName"];

/// Attributes whose values compare case-insensitively (RFC 7643 `caseExact: false`).
const CASE_INSENSITIVE: [&str; 2] = ["username", "displayname"];

/// The index form of an attribute name: SCIM attribute names are case-insensitive.
pub fn normalise_attr(attr: &str) -> String {
    attr.to_ascii_lowercase()
}

/// The index form of a value of `attr`: lowercase for `userName` and `displayName`, exact
/// otherwise.
pub fn normalise_value(attr: &str, value: &str) -> String {
    if CASE_INSENSITIVE
        .iter()
        .any(|a| a.eq_ignore_ascii_case(attr))
    {
        value.to_lowercase()
    } else {
        value.to_owned()
    }
}

/// Every `(normalised attr, normalised value)` pair under which `entry` is found by
/// [`IdStore::find_by_attr`]: its kept string attributes and, when parked, the string values of
/// the snapshot's [`PARKED_INDEXED`] attributes (names matched case-insensitively).
pub fn index_terms(entry: &IdEntry) -> BTreeSet<(String, String)> {
    let mut terms = BTreeSet::new();
    for (attr, value) in &entry.kept {
        if let Value::String(s) = value {
            terms.insert((normalise_attr(attr), normalise_value(attr, s)));
        }
    }
    if let Some(Value::Object(snapshot)) = &entry.parked {
        for (attr, value) in snapshot {
            let indexed = PARKED_INDEXED.iter().any(|a| a.eq_ignore_ascii_case(attr));
            if let (true, Value::String(s)) = (indexed, value) {
                terms.insert((normalise_attr(attr), normalise_value(attr, s)));
            }
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_lowercased_only_for_case_insensitive_attributes() {
        assert_eq!(normalise_value("userName", "Ann@X.org"), "ann@x.org");
        assert_eq!(normalise_value("USERNAME", "Ann"), "ann");
        assert_eq!(normalise_value("displayName", "Admins"), "admins");
        assert_eq!(normalise_value("externalId", "AbC"), "AbC");
        assert_eq!(normalise_attr("externalId"), "externalid");
    }

    #[test]
    fn index_terms_cover_kept_strings_and_parked_snapshot_names() {
        let mut kept = Map::new();
        kept.insert("externalId".into(), json!("Ext-1"));
        kept.insert("count".into(), json!(3));
        let entry = IdEntry {
            scim_id: "s1".into(),
            app_id: None,
            kept,
            parked: Some(json!({
                "userName": "Ann@X.org",
                "externalId": "Ext-1",
                "name": {"givenName": "Ann"},
                "title": "Boss",
                "displayName": 7
            })),
        };
        let terms: Vec<_> = index_terms(&entry).into_iter().collect();
        assert_eq!(
            terms,
            vec![
                ("externalid".to_string(), "Ext-1".to_string()),
                ("username".to_string(), "ann@x.org".to_string()),
            ]
        );
    }

    #[test]
    fn unparked_entries_index_only_kept_attributes() {
        let entry = IdEntry {
            scim_id: "s1".into(),
            app_id: Some("1".into()),
            kept: Map::new(),
            parked: Some(json!("not an object")),
        };
        assert!(index_terms(&entry).is_empty());
    }

    #[test]
    fn entry_json_round_trips_and_defaults_optional_fields() {
        let e: IdEntry = serde_json::from_str(r#"{"scim_id":"a","app_id":"1"}"#).unwrap();
        assert_eq!(e.kept, Map::new());
        assert_eq!(e.parked, None);
        let back: IdEntry = serde_json::from_slice(&serde_json::to_vec(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(serde_json::from_str::<IdEntry>(r#"{"app_id":"1"}"#).is_err());
    }
}
