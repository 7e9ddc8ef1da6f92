//! In-memory [`IdStore`]: for tests and for mappings that keep nothing durable.
//!
//! One `std::sync::RwLock` over per-kind maps. The lock is only taken inside synchronous
//! sections (never across an `.await`), so it cannot stall the runtime or deadlock a task.
//!
//! Entries are held packed ([`Packed`]: the kept attributes and parked snapshot as JSON text)
//! rather than as JSON trees: a tree of a few e-mail objects costs about 2 KiB of small
//! allocations per user, its text a tenth of that, and unpacking it costs about what the copy
//! handed to callers cost anyway.

use super::{IdEntry, IdStore, index_terms};
use crate::error::{InternalError, Result};
use crate::scim::ResourceKind;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One entry without its SCIM id (the map key): `kept` and `parked` as compact JSON text, each
/// absent when empty.
#[derive(Debug)]
struct Packed {
    app_id: Option<Box<str>>,
    kept: Option<Box<str>>,
    parked: Option<Box<str>>,
}

impl Packed {
    fn pack(entry: &IdEntry) -> Packed {
        Packed {
            app_id: entry.app_id.as_deref().map(Into::into),
            // Serialising JSON values cannot fail: every key is a string.
            kept: (!entry.kept.is_empty()).then(|| {
                serde_json::to_string(&entry.kept)
                    .unwrap_or_default()
                    .into()
            }),
            parked: entry.parked.as_ref().map(|v| v.to_string().into()),
        }
    }

    fn unpack(&self, scim_id: &str) -> IdEntry {
        // The text was written by `pack` from valid JSON, so it parses back; a failure would be
        // a bug, shown as an empty value rather than a panic.
        IdEntry {
            scim_id: scim_id.to_owned(),
            app_id: self.app_id.as_deref().map(str::to_owned),
            kept: self
                .kept
                .as_deref()
                .and_then(|t| serde_json::from_str::<Map<String, Value>>(t).ok())
                .unwrap_or_default(),
            parked: self
                .parked
                .as_deref()
                .map(|t| serde_json::from_str(t).unwrap_or(Value::Null)),
        }
    }
}

/// Entries of one resource kind with their lookup indexes.
#[derive(Debug, Default)]
struct KindMaps {
    /// scim id → entry; a BTreeMap so listings come out sorted by SCIM id.
    entries: BTreeMap<String, Packed>,
    /// app id → scim id.
    by_app_id: HashMap<String, String>,
    /// (normalised attr, normalised value) → scim ids, sorted. A vector, not a BTreeSet: nearly
    /// every value names one entry, and a set's first node alone is ~300 bytes.
    by_attr: HashMap<(String, String), Vec<String>>,
}

impl KindMaps {
    fn index(&mut self, entry: &IdEntry) {
        if let Some(app_id) = &entry.app_id {
            // With `ids = "app"` both ids are the same text: the entry itself is the index
            // (see `find_app_id`), which saves two strings and a slot per user.
            if *app_id == entry.scim_id {
                self.by_app_id.remove(app_id);
            } else {
                self.by_app_id.insert(app_id.clone(), entry.scim_id.clone());
            }
        }
        for term in index_terms(entry) {
            let ids = self.by_attr.entry(term).or_default();
            if let Err(at) = ids.binary_search(&entry.scim_id) {
                ids.insert(at, entry.scim_id.clone());
            }
        }
    }

    /// The SCIM id of the entry holding `app_id`: the explicit index first, else the entry
    /// whose SCIM id is that same text.
    fn find_app_id<'a>(&'a self, app_id: &'a str) -> Option<&'a str> {
        if let Some(scim_id) = self.by_app_id.get(app_id) {
            return Some(scim_id);
        }
        self.entries
            .get(app_id)
            .filter(|p| p.app_id.as_deref() == Some(app_id))
            .map(|_| app_id)
    }

    fn unindex(&mut self, entry: &IdEntry) {
        if let Some(app_id) = &entry.app_id {
            // Another entry may have claimed this app id since; leave its index alone.
            if self.by_app_id.get(app_id) == Some(&entry.scim_id) {
                self.by_app_id.remove(app_id);
            }
        }
        for term in index_terms(entry) {
            if let Some(ids) = self.by_attr.get_mut(&term) {
                if let Ok(at) = ids.binary_search(&entry.scim_id) {
                    ids.remove(at);
                }
                if ids.is_empty() {
                    self.by_attr.remove(&term);
                }
            }
        }
    }
}

#[derive(Debug, Default)]
struct Maps {
    users: KindMaps,
    groups: KindMaps,
}

impl Maps {
    fn kind(&self, kind: ResourceKind) -> &KindMaps {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }
    fn kind_mut(&mut self, kind: ResourceKind) -> &mut KindMaps {
        match kind {
            ResourceKind::User => &mut self.users,
            ResourceKind::Group => &mut self.groups,
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    maps: RwLock<Maps>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    // A poisoned lock means a panic inside one of the short sections below, all of which leave
    // the maps consistent or not at all; report it as a store failure rather than panicking too.
    fn read(&self) -> Result<RwLockReadGuard<'_, Maps>> {
        self.maps
            .read()
            .map_err(|_| InternalError::Store("memory store lock poisoned".into()).into())
    }
    fn write(&self) -> Result<RwLockWriteGuard<'_, Maps>> {
        self.maps
            .write()
            .map_err(|_| InternalError::Store("memory store lock poisoned".into()).into())
    }
}

#[async_trait::async_trait]
impl IdStore for MemoryStore {
    async fn get(&self, kind: ResourceKind, scim_id: &str) -> Result<Option<IdEntry>> {
        Ok(self
            .read()?
            .kind(kind)
            .entries
            .get(scim_id)
            .map(|p| p.unpack(scim_id)))
    }

    async fn find_by_app_id(&self, kind: ResourceKind, app_id: &str) -> Result<Option<IdEntry>> {
        let maps = self.read()?;
        let maps = maps.kind(kind);
        Ok(maps
            .find_app_id(app_id)
            .and_then(|scim_id| maps.entries.get(scim_id).map(|p| p.unpack(scim_id))))
    }

    async fn find_by_attr(
        &self,
        kind: ResourceKind,
        attr: &str,
        value: &str,
    ) -> Result<Vec<IdEntry>> {
        let term = (
            super::normalise_attr(attr),
            super::normalise_value(attr, value),
        );
        let maps = self.read()?;
        let maps = maps.kind(kind);
        Ok(maps
            .by_attr
            .get(&term)
            .into_iter()
            .flatten()
            .filter_map(|scim_id| maps.entries.get(scim_id).map(|p| p.unpack(scim_id)))
            .collect())
    }

    async fn put(&self, kind: ResourceKind, entry: IdEntry) -> Result<()> {
        let mut maps = self.write()?;
        let maps = maps.kind_mut(kind);
        if let Some(old) = maps.entries.remove(&entry.scim_id) {
            maps.unindex(&old.unpack(&entry.scim_id));
        }
        maps.index(&entry);
        maps.entries
            .insert(entry.scim_id.clone(), Packed::pack(&entry));
        Ok(())
    }

    async fn remove(&self, kind: ResourceKind, scim_id: &str) -> Result<()> {
        let mut maps = self.write()?;
        let maps = maps.kind_mut(kind);
        if let Some(old) = maps.entries.remove(scim_id) {
            maps.unindex(&old.unpack(scim_id));
        }
        Ok(())
    }

    async fn parked(&self, kind: ResourceKind) -> Result<Vec<IdEntry>> {
        Ok(self
            .read()?
            .kind(kind)
            .entries
            .iter()
            .filter(|(_, p)| p.parked.is_some())
            .map(|(id, p)| p.unpack(id))
            .collect())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Behaviour every [`IdStore`] must show; [`super::super::file`] runs the same checks.

    use super::*;
    use serde_json::{Map, Value, json};

    pub(crate) fn entry(scim_id: &str, app_id: Option<&str>, kept: Value) -> IdEntry {
        let kept: Map<String, Value> = match kept {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        IdEntry {
            scim_id: scim_id.into(),
            app_id: app_id.map(Into::into),
            kept,
            parked: None,
        }
    }

    fn ids(entries: &[IdEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.scim_id.as_str()).collect()
    }

    pub(crate) async fn round_trip(store: &dyn IdStore) {
        let e = entry("s1", Some("42"), json!({"externalId": "ext-1"}));
        assert_eq!(store.get(ResourceKind::User, "s1").await.unwrap(), None);
        store.put(ResourceKind::User, e.clone()).await.unwrap();
        assert_eq!(
            store.get(ResourceKind::User, "s1").await.unwrap(),
            Some(e.clone())
        );
        assert_eq!(
            store
                .find_by_app_id(ResourceKind::User, "42")
                .await
                .unwrap(),
            Some(e.clone())
        );
        assert_eq!(
            store
                .find_by_app_id(ResourceKind::User, "43")
                .await
                .unwrap(),
            None
        );
        // Kinds are separate namespaces.
        assert_eq!(store.get(ResourceKind::Group, "s1").await.unwrap(), None);
        assert_eq!(
            store
                .find_by_app_id(ResourceKind::Group, "42")
                .await
                .unwrap(),
            None
        );
        assert!(
            store
                .find_by_attr(ResourceKind::Group, "externalId", "ext-1")
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(crate) async fn put_reindexes(store: &dyn IdStore) {
        let k = ResourceKind::User;
        store
            .put(k, entry("s1", Some("42"), json!({"externalId": "old"})))
            .await
            .unwrap();
        let new = entry("s1", Some("43"), json!({"externalId": "new"}));
        store.put(k, new.clone()).await.unwrap();
        assert_eq!(store.find_by_app_id(k, "42").await.unwrap(), None);
        assert_eq!(
            store.find_by_app_id(k, "43").await.unwrap(),
            Some(new.clone())
        );
        assert!(
            store
                .find_by_attr(k, "externalId", "old")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.find_by_attr(k, "externalId", "new").await.unwrap(),
            vec![new]
        );
        // A newer entry claiming the same app id wins; removing the older one keeps it.
        let other = entry("s0", Some("43"), json!({}));
        store.put(k, other.clone()).await.unwrap();
        assert_eq!(
            store.find_by_app_id(k, "43").await.unwrap(),
            Some(other.clone())
        );
        store.remove(k, "s1").await.unwrap();
        assert_eq!(store.find_by_app_id(k, "43").await.unwrap(), Some(other));
    }

    pub(crate) async fn remove_unindexes(store: &dyn IdStore) {
        let k = ResourceKind::Group;
        let mut e = entry("g1", Some("7"), json!({"externalId": "x"}));
        e.parked = Some(json!({"displayName": "Admins"}));
        store.put(k, e).await.unwrap();
        store
            .put(k, entry("g2", Some("8"), json!({})))
            .await
            .unwrap();
        store.remove(k, "g1").await.unwrap();
        assert_eq!(store.get(k, "g1").await.unwrap(), None);
        assert_eq!(store.find_by_app_id(k, "7").await.unwrap(), None);
        assert!(
            store
                .find_by_attr(k, "externalId", "x")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .find_by_attr(k, "displayName", "admins")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.parked(k).await.unwrap().is_empty());
        // Removing again, or an id never stored, is fine.
        store.remove(k, "g1").await.unwrap();
        store.remove(k, "nope").await.unwrap();
        assert!(store.get(k, "g2").await.unwrap().is_some());
    }

    pub(crate) async fn find_by_attr_case_rules(store: &dyn IdStore) {
        let k = ResourceKind::User;
        let mut parked = entry("s2", None, json!({}));
        parked.parked = Some(json!({
            "userName": "Ann@Example.COM",
            "externalId": "Ext-9",
            "displayName": "Ann A",
            "title": "Boss"
        }));
        store.put(k, parked.clone()).await.unwrap();
        let kept = entry(
            "s1",
            Some("1"),
            json!({"externalId": "Ext-9", "userName": "ANN@example.com"}),
        );
        store.put(k, kept.clone()).await.unwrap();

        // userName and displayName: case-insensitive; attribute names too.
        let found = store
            .find_by_attr(k, "userName", "ann@example.com")
            .await
            .unwrap();
        assert_eq!(ids(&found), ["s1", "s2"]);
        let found = store
            .find_by_attr(k, "USERNAME", "ANN@EXAMPLE.COM")
            .await
            .unwrap();
        assert_eq!(ids(&found), ["s1", "s2"]);
        let found = store.find_by_attr(k, "displayName", "ann a").await.unwrap();
        assert_eq!(found, vec![parked.clone()]);
        // externalId: exact.
        let found = store.find_by_attr(k, "externalId", "Ext-9").await.unwrap();
        assert_eq!(ids(&found), ["s1", "s2"]);
        assert!(
            store
                .find_by_attr(k, "externalId", "ext-9")
                .await
                .unwrap()
                .is_empty()
        );
        // Other snapshot attributes are not indexed; values are not prefixes.
        assert!(
            store
                .find_by_attr(k, "title", "Boss")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .find_by_attr(k, "externalId", "Ext")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .find_by_attr(k, "userName", "")
                .await
                .unwrap()
                .is_empty()
        );
        // Separator characters inside values do not confuse the lookup.
        let odd = entry("s3", Some("3"), json!({"externalId": "a\u{0}b"}));
        store.put(k, odd.clone()).await.unwrap();
        assert!(
            store
                .find_by_attr(k, "externalId", "a")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .find_by_attr(k, "externalId", "a\u{0}b")
                .await
                .unwrap(),
            vec![odd]
        );
    }

    pub(crate) async fn parked_listing(store: &dyn IdStore) {
        let k = ResourceKind::User;
        for id in ["c", "a", "b"] {
            let mut e = entry(id, None, json!({}));
            e.parked = Some(json!({"userName": id}));
            store.put(k, e).await.unwrap();
        }
        store
            .put(k, entry("0", Some("1"), json!({})))
            .await
            .unwrap();
        assert_eq!(ids(&store.parked(k).await.unwrap()), ["a", "b", "c"]);
        assert!(store.parked(ResourceKind::Group).await.unwrap().is_empty());
        // Un-parking (reactivation) drops it from the listing.
        store
            .put(k, entry("b", Some("9"), json!({})))
            .await
            .unwrap();
        assert_eq!(ids(&store.parked(k).await.unwrap()), ["a", "c"]);
        assert!(
            store
                .find_by_attr(k, "userName", "b")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn memory_round_trip() {
        round_trip(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn memory_put_reindexes() {
        put_reindexes(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn memory_remove_unindexes() {
        remove_unindexes(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn memory_find_by_attr_case_rules() {
        find_by_attr_case_rules(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn memory_parked_listing() {
        parked_listing(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn memory_indexes_stay_small_after_removal() {
        let store = MemoryStore::new();
        let k = ResourceKind::User;
        store
            .put(k, entry("s1", Some("1"), json!({"externalId": "x"})))
            .await
            .unwrap();
        store.remove(k, "s1").await.unwrap();
        let maps = store.read().unwrap();
        assert!(maps.users.by_attr.is_empty());
        assert!(maps.users.by_app_id.is_empty());
    }

    #[tokio::test]
    async fn same_ids_need_no_app_id_index_and_a_later_claim_still_wins() {
        let store = MemoryStore::new();
        let k = ResourceKind::User;
        store
            .put(k, entry("42", Some("42"), json!({})))
            .await
            .unwrap();
        assert!(store.read().unwrap().users.by_app_id.is_empty());
        assert_eq!(
            store
                .find_by_app_id(k, "42")
                .await
                .unwrap()
                .map(|e| e.scim_id),
            Some("42".to_string())
        );
        // Another entry claims app id 42: it is found instead, until it goes.
        store
            .put(k, entry("s9", Some("42"), json!({})))
            .await
            .unwrap();
        assert_eq!(
            store
                .find_by_app_id(k, "42")
                .await
                .unwrap()
                .map(|e| e.scim_id),
            Some("s9".to_string())
        );
        // Re-put of the first entry takes the id back, as the last write did before.
        store
            .put(k, entry("42", Some("42"), json!({})))
            .await
            .unwrap();
        assert_eq!(
            store
                .find_by_app_id(k, "42")
                .await
                .unwrap()
                .map(|e| e.scim_id),
            Some("42".to_string())
        );
        store.remove(k, "42").await.unwrap();
        assert_eq!(store.find_by_app_id(k, "42").await.unwrap(), None);
        assert_eq!(store.find_by_app_id(k, "7").await.unwrap(), None);
    }
}
