//! In-memory [`IdStore`]: for tests and for mappings that keep nothing durable.
//!
//! One `std::sync::RwLock` over per-kind maps. The lock is only taken inside synchronous
//! sections (never across an `.await`), so it cannot stall the runtime or deadlock a task.
//!
//! Every map element is one [`Keyed`] allocation (see [`super::compact`]): an entry is its SCIM
//! id followed by its app id and its kept attributes and parked snapshot as compact JSON text
//! (a tree of a few e-mail objects costs about 2 KiB of small allocations per user, its text a
//! tenth of that, and unpacking it costs about what the copy handed to callers cost anyway); an
//! index element is its key followed by the SCIM ids it names. That keeps a created user at
//! about a sixth of what `String` maps took.

use super::compact::{Keyed, Reader, put_bytes, text};
use super::{IdEntry, IdStore, index_terms};
use crate::error::{InternalError, Result};
use crate::scim::ResourceKind;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Flags in front of an entry's payload: which parts follow.
const HAS_APP_ID: u8 = 1;
/// The app id is the SCIM id (`ids = "app"`), so it is not stored twice.
const SAME_APP_ID: u8 = 2;
const HAS_KEPT: u8 = 4;
const HAS_PARKED: u8 = 8;

/// One entry's parts as stored: `kept` and `parked` are compact JSON text, each absent when
/// empty.
struct Parts<'a> {
    scim_id: &'a [u8],
    app_id: Option<&'a [u8]>,
    kept: Option<&'a [u8]>,
    parked: Option<&'a [u8]>,
}

/// Packs an entry: key = SCIM id; payload = flags, then the app id (unless it is the SCIM id)
/// and kept text, length-prefixed, then the parked text to the end.
fn pack(entry: &IdEntry) -> Keyed {
    let mut flags = 0;
    let mut payload = vec![0];
    if let Some(app_id) = &entry.app_id {
        flags |= HAS_APP_ID;
        if *app_id == entry.scim_id {
            flags |= SAME_APP_ID;
        } else {
            put_bytes(&mut payload, app_id.as_bytes());
        }
    }
    if !entry.kept.is_empty() {
        flags |= HAS_KEPT;
        // Serialising JSON values cannot fail: every key is a string.
        put_bytes(
            &mut payload,
            &serde_json::to_vec(&entry.kept).unwrap_or_default(),
        );
    }
    if let Some(parked) = &entry.parked {
        flags |= HAS_PARKED;
        payload.extend_from_slice(&serde_json::to_vec(parked).unwrap_or_default());
    }
    payload[0] = flags;
    Keyed::new(entry.scim_id.as_bytes(), &payload)
}

/// The parts of a packed entry; `None` only if the bytes are not what [`pack`] wrote (a bug).
fn parts(packed: &Keyed) -> Option<Parts<'_>> {
    let scim_id = packed.key();
    let mut r = Reader(packed.payload());
    let flags = r.byte()?;
    let app_id = match (flags & HAS_APP_ID != 0, flags & SAME_APP_ID != 0) {
        (false, _) => None,
        (true, true) => Some(scim_id),
        (true, false) => Some(r.bytes()?),
    };
    let kept = if flags & HAS_KEPT != 0 {
        Some(r.bytes()?)
    } else {
        None
    };
    let parked = (flags & HAS_PARKED != 0).then_some(r.0);
    Some(Parts {
        scim_id,
        app_id,
        kept,
        parked,
    })
}

fn is_parked(packed: &Keyed) -> bool {
    packed
        .payload()
        .first()
        .is_some_and(|f| f & HAS_PARKED != 0)
}

fn app_id_of(packed: &Keyed) -> Option<&[u8]> {
    parts(packed).and_then(|p| p.app_id)
}

/// The entry as callers see it. The text was written by [`pack`] from valid JSON, so it parses
/// back; a failure would be a bug, shown as an empty value rather than a panic.
fn unpack(packed: &Keyed) -> IdEntry {
    let Some(p) = parts(packed) else {
        return IdEntry {
            scim_id: text(packed.key()),
            app_id: None,
            kept: Map::new(),
            parked: None,
        };
    };
    IdEntry {
        scim_id: text(p.scim_id),
        app_id: p.app_id.map(text),
        kept: p
            .kept
            .and_then(|t| serde_json::from_slice::<Map<String, Value>>(t).ok())
            .unwrap_or_default(),
        parked: p
            .parked
            .map(|t| serde_json::from_slice(t).unwrap_or(Value::Null)),
    }
}

/// The index key of a normalised `(attr, value)` term: the three attributes the sidecar itself
/// looks up by get one-byte codes, any other name is spelt out after a 0, then the value. The
/// name's length is explicit, so no value can pass for another attribute's.
fn term_key(attr: &str, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(value.len() + 2);
    match attr {
        "username" => key.push(1),
        "externalid" => key.push(2),
        "displayname" => key.push(3),
        other => {
            key.push(0);
            put_bytes(&mut key, other.as_bytes());
        }
    }
    key.extend_from_slice(value.as_bytes());
    key
}

/// The SCIM ids in an index element's payload, in stored (sorted) order.
fn posting_ids(posting: &Keyed) -> impl Iterator<Item = &[u8]> {
    let mut r = Reader(posting.payload());
    std::iter::from_fn(move || r.bytes())
}

fn posting(key: &[u8], ids: &[&[u8]]) -> Keyed {
    let mut payload = Vec::with_capacity(ids.iter().map(|i| i.len() + 1).sum());
    for id in ids {
        put_bytes(&mut payload, id);
    }
    Keyed::new(key, &payload)
}

/// An app-id index element: key = app id, payload = the SCIM id.
fn app_link(app_id: &str, scim_id: &str) -> Keyed {
    Keyed::new(app_id.as_bytes(), scim_id.as_bytes())
}

/// Entries of one resource kind with their lookup indexes.
#[derive(Debug, Default)]
struct KindMaps {
    /// Packed entries by SCIM id; ordered so listings come out sorted by SCIM id.
    entries: BTreeSet<Keyed>,
    /// app id → scim id, only where they differ.
    by_app_id: HashSet<Keyed>,
    /// [`term_key`] → scim ids, sorted. Nearly every value names one entry, so the ids live in
    /// the element itself and a change rewrites it.
    by_attr: HashSet<Keyed>,
}

impl KindMaps {
    fn index(&mut self, entry: &IdEntry) {
        if let Some(app_id) = &entry.app_id {
            // With `ids = "app"` both ids are the same text: the entry itself is the index
            // (see `find_app_id`), which saves an element per user.
            if *app_id == entry.scim_id {
                self.by_app_id.remove(app_id.as_bytes());
            } else {
                self.by_app_id.replace(app_link(app_id, &entry.scim_id));
            }
        }
        let id = entry.scim_id.as_bytes();
        for (attr, value) in index_terms(entry) {
            let key = term_key(&attr, &value);
            let updated = match self.by_attr.get(key.as_slice()) {
                None => posting(&key, &[id]),
                Some(old) => {
                    let mut ids: Vec<&[u8]> = posting_ids(old).collect();
                    match ids.binary_search(&id) {
                        Ok(_) => continue,
                        Err(at) => ids.insert(at, id),
                    }
                    posting(&key, &ids)
                }
            };
            self.by_attr.replace(updated);
        }
    }

    /// The entry holding `app_id`: the explicit index first, else the entry
    /// whose SCIM id is that same text.
    fn find_app_id(&self, app_id: &str) -> Option<&Keyed> {
        if let Some(link) = self.by_app_id.get(app_id.as_bytes()) {
            return self.entries.get(link.payload());
        }
        self.entries
            .get(app_id.as_bytes())
            .filter(|p| app_id_of(p) == Some(app_id.as_bytes()))
    }

    fn unindex(&mut self, entry: &IdEntry) {
        if let Some(app_id) = &entry.app_id {
            // Another entry may have claimed this app id since; leave its index alone.
            if self
                .by_app_id
                .get(app_id.as_bytes())
                .is_some_and(|link| link.payload() == entry.scim_id.as_bytes())
            {
                self.by_app_id.remove(app_id.as_bytes());
            }
        }
        let id = entry.scim_id.as_bytes();
        for (attr, value) in index_terms(entry) {
            let key = term_key(&attr, &value);
            let Some(old) = self.by_attr.get(key.as_slice()) else {
                continue;
            };
            let ids: Vec<&[u8]> = posting_ids(old).filter(|i| *i != id).collect();
            if ids.is_empty() {
                self.by_attr.remove(key.as_slice());
            } else {
                let updated = posting(&key, &ids);
                self.by_attr.replace(updated);
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
            .get(scim_id.as_bytes())
            .map(unpack))
    }

    async fn find_by_app_id(&self, kind: ResourceKind, app_id: &str) -> Result<Option<IdEntry>> {
        Ok(self.read()?.kind(kind).find_app_id(app_id).map(unpack))
    }

    async fn find_by_attr(
        &self,
        kind: ResourceKind,
        attr: &str,
        value: &str,
    ) -> Result<Vec<IdEntry>> {
        let key = term_key(
            &super::normalise_attr(attr),
            &super::normalise_value(attr, value),
        );
        let maps = self.read()?;
        let maps = maps.kind(kind);
        Ok(maps
            .by_attr
            .get(key.as_slice())
            .into_iter()
            .flat_map(posting_ids)
            .filter_map(|scim_id| maps.entries.get(scim_id).map(unpack))
            .collect())
    }

    async fn put(&self, kind: ResourceKind, entry: IdEntry) -> Result<()> {
        let packed = pack(&entry);
        let mut maps = self.write()?;
        let maps = maps.kind_mut(kind);
        if let Some(old) = maps.entries.take(entry.scim_id.as_bytes()) {
            maps.unindex(&unpack(&old));
        }
        maps.index(&entry);
        maps.entries.insert(packed);
        Ok(())
    }

    async fn remove(&self, kind: ResourceKind, scim_id: &str) -> Result<()> {
        let mut maps = self.write()?;
        let maps = maps.kind_mut(kind);
        if let Some(old) = maps.entries.take(scim_id.as_bytes()) {
            maps.unindex(&unpack(&old));
        }
        Ok(())
    }

    async fn parked(&self, kind: ResourceKind) -> Result<Vec<IdEntry>> {
        Ok(self
            .read()?
            .kind(kind)
            .entries
            .iter()
            .filter(|p| is_parked(p))
            .map(unpack)
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

    #[test]
    fn packing_round_trips_every_shape() {
        let long = "x".repeat(300);
        let mut shapes = vec![
            entry("s", None, json!({})),
            entry("s", Some("s"), json!({})),
            entry("s", Some("other"), json!({"externalId": "e", "n": 1})),
            entry("", Some(""), json!({"": ""})),
            entry(&long, Some(&long), json!({"externalId": long.clone()})),
            entry("ü-1", Some(&long), json!({})),
        ];
        for (i, parked) in [json!({"userName": "a"}), json!(null), json!("x")]
            .into_iter()
            .enumerate()
        {
            let mut e = entry("p", Some("1").filter(|_| i == 0), json!({"k": [1, 2]}));
            e.parked = Some(parked);
            shapes.push(e);
        }
        for e in shapes {
            let packed = pack(&e);
            assert_eq!(unpack(&packed), e);
            assert_eq!(is_parked(&packed), e.parked.is_some());
            assert_eq!(app_id_of(&packed), e.app_id.as_deref().map(str::as_bytes));
        }
    }

    #[test]
    fn term_keys_keep_attributes_apart() {
        // A spelt-out attribute never collides with a coded one or with another name's value.
        let keys = [
            term_key("username", "ab"),
            term_key("externalid", "ab"),
            term_key("displayname", "ab"),
            term_key("title", "ab"),
            term_key("titl", "eab"),
            term_key("", "\u{1}ab"),
            term_key("username", "a"),
        ];
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[tokio::test]
    async fn shared_index_values_keep_every_id_sorted_through_puts_and_removes() {
        let store = MemoryStore::new();
        let k = ResourceKind::User;
        let shared = json!({"externalId": "same", "title": "Boss"});
        for id in ["m", "z", "a", "q"] {
            store
                .put(k, entry(id, Some(id), shared.clone()))
                .await
                .unwrap();
        }
        let found = |attr: &'static str, value: &'static str| {
            let store = &store;
            async move {
                let got = store.find_by_attr(k, attr, value).await.unwrap();
                got.into_iter().map(|e| e.scim_id).collect::<Vec<_>>()
            }
        };
        assert_eq!(found("externalId", "same").await, ["a", "m", "q", "z"]);
        assert_eq!(found("TITLE", "Boss").await, ["a", "m", "q", "z"]);
        assert!(found("title", "boss").await.is_empty(), "exact values");
        // Re-putting the same entry does not duplicate its id.
        store
            .put(k, entry("m", Some("m"), shared.clone()))
            .await
            .unwrap();
        assert_eq!(found("externalId", "same").await, ["a", "m", "q", "z"]);
        // Removing the first, a middle and the last id keeps the rest in order.
        store.remove(k, "a").await.unwrap();
        assert_eq!(found("externalId", "same").await, ["m", "q", "z"]);
        store
            .put(k, entry("q", Some("q"), json!({"externalId": "own"})))
            .await
            .unwrap();
        assert_eq!(found("externalId", "same").await, ["m", "z"]);
        assert_eq!(found("externalId", "own").await, ["q"]);
        assert_eq!(found("title", "Boss").await, ["m", "z"]);
        store.remove(k, "z").await.unwrap();
        store.remove(k, "m").await.unwrap();
        assert!(found("externalId", "same").await.is_empty());
        let maps = store.read().unwrap();
        assert_eq!(maps.users.by_attr.len(), 1, "only q's own value is left");
        assert_eq!(maps.users.entries.len(), 1);
    }

    #[tokio::test]
    async fn minted_ids_index_app_ids_until_removed_or_changed() {
        let store = MemoryStore::new();
        let k = ResourceKind::User;
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let e = entry(uuid, Some("17"), json!({}));
        store.put(k, e.clone()).await.unwrap();
        assert_eq!(store.find_by_app_id(k, "17").await.unwrap(), Some(e));
        // The SCIM id is not an app id here.
        assert_eq!(store.find_by_app_id(k, uuid).await.unwrap(), None);
        // Parked (no app id): no longer found by the old app id.
        let mut parked = entry(uuid, None, json!({}));
        parked.parked = Some(json!({"userName": "Ann"}));
        store.put(k, parked.clone()).await.unwrap();
        assert_eq!(store.find_by_app_id(k, "17").await.unwrap(), None);
        assert!(store.read().unwrap().users.by_app_id.is_empty());
        assert_eq!(store.parked(k).await.unwrap(), vec![parked]);
        // Reactivated under a new app id.
        let back = entry(uuid, Some("18"), json!({}));
        store.put(k, back.clone()).await.unwrap();
        assert_eq!(store.find_by_app_id(k, "18").await.unwrap(), Some(back));
        assert!(store.parked(k).await.unwrap().is_empty());
        assert!(
            store
                .find_by_attr(k, "userName", "ann")
                .await
                .unwrap()
                .is_empty()
        );
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
