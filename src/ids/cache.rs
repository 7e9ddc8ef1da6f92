//! Caches in front of the application and the store: `userName → scim id`,
//! `externalId → scim id`, `displayName → group id`, `scim id → app id`.
//!
//! The id lookups are compact tables ([`Table`]: an insertion-ordered map from one allocation
//! holding key and id to a write time, behind one mutex, evicting the oldest-written entries
//! first), not moka: a moka entry costs about 540 bytes, a table entry about 45 plus its key and
//! id text, and with a full cache of 100,000 users that was the difference between ~100 MiB and
//! well under 25 MiB. What moka gave besides
//! (one loader for concurrent misses) is kept with an in-flight map.
//!
//! ## Rules
//! - **One [`IdCache`] per resource kind.** `externalId` exists on Users and Groups, and a SCIM id
//!   of one kind may equal one of the other, so the kinds must not share caches.
//! - **Keys are normalised per lookup** ([`Lookup::normalise`]): `userName` and `displayName` are
//!   compared case-insensitively (lowercased), `externalId` and SCIM ids exactly.
//! - **Only positive facts are cached.** A loader answering `None` ("no such record") or failing
//!   leaves nothing behind, so the next lookup asks again.
//! - **Concurrent misses for one key run one loader**; everyone waiting gets its answer,
//!   including `None` and errors. If the loading request is cancelled, a waiter loads instead.
//! - **Errors are rebuilt, not shared.** Every waiter sees the same stored outcome of the loader,
//!   and [`Error`] is not `Clone`. All its variants hold plain data, so [`duplicate`]
//!   rebuilds an identical value (same variant, same fields, hence same status, `scimType`,
//!   `Retry-After` and `detail`), with an exhaustive match so a new variant must be handled.
//! - **Writes keep the cache honest**: create/rename paths [`IdCache::insert`] or
//!   [`IdCache::invalidate`] the keys they touch; delete paths call [`IdCache::invalidate_id`],
//!   which drops every entry pointing at (or keyed by) a SCIM id.
//! - Entries live at most `ttl` and the cache holds at most `max_entries` per lookup; with several
//!   replicas that bounds how long one replica may serve an id another replica changed.
//! - [`IdCache::invalidate_id`] scans its tables (a few milliseconds for 100,000 entries): it runs
//!   on deletes only.

use super::compact::{Keyed, text};
use crate::error::{AppError, ClientError, Error, InternalError, Result};
use crate::scim::ResourceKind;
use indexmap::IndexMap;
use moka::future::Cache;
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::OnceCell;
// tokio's clock: the same as std's, except that tests can pause and advance it.
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Upper bound on entries, per lookup cache.
    pub max_entries: u64,
    /// How long an entry may be served after it was written.
    pub ttl: std::time::Duration,
}

/// Which correspondence a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// `userName` → SCIM id (case-insensitive key).
    UserName,
    /// `externalId` → SCIM id (exact key).
    ExternalId,
    /// `displayName` → SCIM id, for groups (case-insensitive key).
    DisplayName,
    /// SCIM id → application id (exact key), for minted ids.
    AppId,
}

impl Lookup {
    /// The key as stored: lowercased for `userName` and `displayName`, unchanged otherwise.
    pub fn normalise(self, key: &str) -> Cow<'_, str> {
        match self {
            Lookup::UserName | Lookup::DisplayName => Cow::Owned(key.to_lowercase()),
            Lookup::ExternalId | Lookup::AppId => Cow::Borrowed(key),
        }
    }
}

/// A load's outcome, shared by everyone waiting on it.
type Outcome = std::result::Result<Box<str>, Miss>;

/// One load in flight: set once by the loader, read by every waiter.
type Flight = Arc<OnceCell<Arc<Outcome>>>;

/// Why a load did not produce a value to cache.
enum Miss {
    Absent,
    Failed(Error),
}

/// One lookup's entries: bounded, each served for at most `ttl` after it was written. Insertion
/// order is write order (a rewrite moves the key to the end), so the oldest write goes first when
/// the table is full, and an expired entry met on a read is dropped.
struct Table {
    /// Key (normalised) with the cached id as payload → when it was written (milliseconds since
    /// the table was made). One allocation per entry: see [`Keyed`].
    entries: Mutex<IndexMap<Keyed, u64>>,
    /// Misses being loaded now, by key; the cell holds the loader's outcome.
    loading: Mutex<HashMap<Box<str>, Flight>>,
    max_entries: usize,
    ttl: Duration,
    born: Instant,
}

impl Table {
    fn new(settings: &CacheSettings) -> Table {
        Table {
            entries: Mutex::new(IndexMap::new()),
            loading: Mutex::new(HashMap::new()),
            max_entries: usize::try_from(settings.max_entries).unwrap_or(usize::MAX),
            ttl: settings.ttl,
            born: Instant::now(),
        }
    }

    // A poisoned lock means a panic while it was held; every section below leaves the map valid.
    fn lock(&self) -> MutexGuard<'_, IndexMap<Keyed, u64>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn fresh(&self, written: u64, now: u64) -> bool {
        u128::from(now.saturating_sub(written)) < self.ttl.as_millis()
    }

    fn get(&self, key: &str) -> Option<String> {
        let now = self.now();
        let mut entries = self.lock();
        let (entry, &written) = entries.get_key_value(key.as_bytes())?;
        if self.fresh(written, now) {
            return Some(text(entry.payload()));
        }
        entries.shift_remove(key.as_bytes());
        None
    }

    fn insert(&self, key: &str, id: &str) {
        if self.max_entries == 0 {
            return;
        }
        let entry = Keyed::new(key.as_bytes(), id.as_bytes());
        let written = self.now();
        let mut entries = self.lock();
        // Re-inserted at the end: its write is the newest.
        entries.shift_remove(key.as_bytes());
        while entries.len() >= self.max_entries {
            entries.shift_remove_index(0);
        }
        entries.insert(entry, written);
    }

    fn remove(&self, key: &str) {
        self.lock().shift_remove(key.as_bytes());
    }

    fn remove_values(&self, id: &str) {
        self.lock()
            .retain(|entry, _| entry.payload() != id.as_bytes());
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// The cached id, or else the outcome of `load`, run once for all concurrent misses of `key`.
    async fn get_or_load<Fut>(&self, key: &str, load: impl FnOnce() -> Fut) -> Arc<Outcome>
    where
        Fut: Future<Output = Outcome>,
    {
        if let Some(id) = self.get(key) {
            return Arc::new(Ok(id.into()));
        }
        let cell = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(loading.entry(key.into()).or_default())
        };
        let mut ran = false;
        let outcome = Arc::clone(
            cell.get_or_init(|| async {
                ran = true;
                // Another load of this key may have finished between our miss and now.
                if let Some(id) = self.get(key) {
                    return Arc::new(Ok(id.into()));
                }
                let outcome = load().await;
                if let Ok(id) = &outcome {
                    self.insert(key, id);
                }
                Arc::new(outcome)
            })
            .await,
        );
        if ran {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            if loading.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                loading.remove(key);
            }
        }
        outcome
    }
}

/// The id caches of one resource kind. Cheap to clone (the caches are shared).
#[derive(Clone)]
pub struct IdCache {
    user_name: Arc<Table>,
    external_id: Arc<Table>,
    display_name: Arc<Table>,
    app_id: Arc<Table>,
}

// Keys are user names: show sizes only.
impl std::fmt::Debug for IdCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdCache")
            .field("user_name", &self.user_name.len())
            .field("external_id", &self.external_id.len())
            .field("display_name", &self.display_name.len())
            .field("app_id", &self.app_id.len())
            .finish()
    }
}

impl IdCache {
    pub fn new(settings: &CacheSettings) -> IdCache {
        let table = || Arc::new(Table::new(settings));
        IdCache {
            user_name: table(),
            external_id: table(),
            display_name: table(),
            app_id: table(),
        }
    }

    fn cache(&self, which: Lookup) -> &Table {
        match which {
            Lookup::UserName => &self.user_name,
            Lookup::ExternalId => &self.external_id,
            Lookup::DisplayName => &self.display_name,
            Lookup::AppId => &self.app_id,
        }
    }

    /// The id for `key`: from the cache, or else from `load`, which runs at most once for all
    /// concurrent misses of the same key. `Ok(Some(id))` from `load` is cached; `Ok(None)` and
    /// errors are returned to every waiter and not cached.
    pub async fn lookup<F, Fut>(&self, which: Lookup, key: &str, load: F) -> Result<Option<String>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<String>>>,
    {
        let key = which.normalise(key);
        let init = || async move {
            match load().await {
                Ok(Some(id)) => Ok(id.into_boxed_str()),
                Ok(None) => Err(Miss::Absent),
                Err(e) => Err(Miss::Failed(e)),
            }
        };
        let outcome = self.cache(which).get_or_load(key.as_ref(), init).await;
        match Arc::try_unwrap(outcome) {
            Ok(Ok(id)) => Ok(Some(id.into_string())),
            Ok(Err(Miss::Absent)) => Ok(None),
            Ok(Err(Miss::Failed(e))) => Err(e),
            Err(shared) => match &*shared {
                Ok(id) => Ok(Some(id.to_string())),
                Err(Miss::Absent) => Ok(None),
                Err(Miss::Failed(e)) => Err(duplicate(e)),
            },
        }
    }

    /// The cached id for `key`, without loading.
    pub async fn get(&self, which: Lookup, key: &str) -> Option<String> {
        self.cache(which).get(which.normalise(key).as_ref())
    }

    /// Records a fact learnt elsewhere (a create, a rename, a list answer).
    pub async fn insert(&self, which: Lookup, key: &str, id: impl Into<String>) {
        let id = id.into();
        self.cache(which).insert(which.normalise(key).as_ref(), &id);
    }

    /// Forgets one key (e.g. the old `userName` after a rename).
    pub async fn invalidate(&self, which: Lookup, key: &str) {
        self.cache(which).remove(which.normalise(key).as_ref());
    }

    /// Forgets everything about SCIM id `id`: every key pointing at it and its app id. Entries
    /// written after this call are kept.
    pub async fn invalidate_id(&self, id: &str) {
        self.app_id.remove(id);
        for table in [&self.user_name, &self.external_id, &self.display_name] {
            table.remove_values(id);
        }
    }

    /// Number of entries over all lookups (expired ones count until a read meets them).
    pub fn entry_count(&self) -> u64 {
        [
            &self.user_name,
            &self.external_id,
            &self.display_name,
            &self.app_id,
        ]
        .iter()
        .map(|t| t.len() as u64)
        .sum()
    }

    /// Kept for callers written against moka's lazy counts: the tables are always exact.
    pub async fn run_pending_tasks(&self) {}
}

/// Display names by SCIM id (`userName` for users, `displayName` for groups), shared by both
/// resource kinds: fills `members[].display` and `groups[].display` without asking the
/// application, and tells member validation that a user id was seen recently. Only what the
/// sidecar itself read or wrote is kept; a miss just means "ask the application".
#[derive(Clone)]
pub struct Names(Cache<(ResourceKind, String), String>);

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Names").field(&self.0.entry_count()).finish()
    }
}

impl Names {
    pub fn new(settings: &CacheSettings) -> Names {
        Names(
            Cache::builder()
                .name("display_names")
                .max_capacity(settings.max_entries)
                .time_to_live(settings.ttl)
                .build(),
        )
    }

    pub async fn get(&self, kind: ResourceKind, scim_id: &str) -> Option<String> {
        self.0.get(&(kind, scim_id.to_string())).await
    }

    pub async fn insert(&self, kind: ResourceKind, scim_id: &str, name: &str) {
        let key = (kind, scim_id.to_string());
        // Every converted record passes through here (reads and list pages too): a read is far
        // cheaper than moka's write path, and most records were seen with the same name before.
        // Skipping the write keeps the entry's age, so it still expires `ttl` after it was
        // first written, as an unchanged name would by the application's own rules anyway.
        if self.0.get(&key).await.as_deref() == Some(name) {
            return;
        }
        self.0.insert(key, name.to_string()).await;
    }

    pub async fn remove(&self, kind: ResourceKind, scim_id: &str) {
        self.0.invalidate(&(kind, scim_id.to_string())).await;
    }
}

/// An identical copy of `e` (see the module docs for why this is needed).
pub fn duplicate(e: &Error) -> Error {
    match e {
        Error::InRule { rule, error } => Error::InRule {
            rule: rule.clone(),
            error: Box::new(duplicate(error)),
        },
        Error::Client(c) => Error::Client(match c {
            ClientError::InvalidFilter(m) => ClientError::InvalidFilter(m.clone()),
            ClientError::TooMany(m) => ClientError::TooMany(m.clone()),
            ClientError::Uniqueness(m) => ClientError::Uniqueness(m.clone()),
            ClientError::Mutability(m) => ClientError::Mutability(m.clone()),
            ClientError::InvalidSyntax(m) => ClientError::InvalidSyntax(m.clone()),
            ClientError::InvalidPath(m) => ClientError::InvalidPath(m.clone()),
            ClientError::NoTarget(m) => ClientError::NoTarget(m.clone()),
            ClientError::InvalidValue(m) => ClientError::InvalidValue(m.clone()),
            ClientError::NotFound(m) => ClientError::NotFound(m.clone()),
            ClientError::Unauthorized => ClientError::Unauthorized,
            ClientError::MethodNotAllowed { method } => ClientError::MethodNotAllowed {
                method: method.clone(),
            },
            ClientError::PayloadTooLarge { limit } => {
                ClientError::PayloadTooLarge { limit: *limit }
            }
            ClientError::NotImplemented(m) => ClientError::NotImplemented(m.clone()),
            ClientError::Rejected {
                status,
                scim_type,
                detail,
            } => ClientError::Rejected {
                status: *status,
                scim_type: *scim_type,
                detail: detail.clone(),
            },
        }),
        Error::App(a) => Error::App(match a {
            AppError::Unauthorized { status } => AppError::Unauthorized { status: *status },
            AppError::NotFound(m) => AppError::NotFound(m.clone()),
            AppError::Conflict(m) => AppError::Conflict(m.clone()),
            AppError::BadRequest { status } => AppError::BadRequest { status: *status },
            AppError::RateLimited { retry_after } => AppError::RateLimited {
                retry_after: *retry_after,
            },
            AppError::ServerError { status } => AppError::ServerError { status: *status },
            AppError::Timeout => AppError::Timeout,
            AppError::Unreachable(m) => AppError::Unreachable(m.clone()),
            AppError::BadResponse(m) => AppError::BadResponse(m.clone()),
            AppError::UnexpectedStatus { status } => AppError::UnexpectedStatus { status: *status },
            AppError::Mapped {
                app_status,
                status,
                scim_type,
                detail,
            } => AppError::Mapped {
                app_status: *app_status,
                status: *status,
                scim_type: *scim_type,
                detail: detail.clone(),
            },
        }),
        Error::Internal(i) => Error::Internal(match i {
            InternalError::Script { hook, message } => InternalError::Script {
                hook: hook.clone(),
                message: message.clone(),
            },
            InternalError::Store(m) => InternalError::Store(m.clone()),
            InternalError::Timeout => InternalError::Timeout,
            InternalError::Overloaded => InternalError::Overloaded,
            InternalError::Panic => InternalError::Panic,
            InternalError::Bug(m) => InternalError::Bug(m.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn cache() -> IdCache {
        IdCache::new(&CacheSettings {
            max_entries: 1000,
            ttl: Duration::from_secs(600),
        })
    }

    /// A loader that counts its calls and answers `answer`.
    fn counted(
        calls: &Arc<AtomicUsize>,
        answer: Result<Option<&str>>,
    ) -> impl FnOnce() -> std::future::Ready<Result<Option<String>>> {
        let calls = Arc::clone(calls);
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::ready(answer.map(|o| o.map(str::to_owned)))
        }
    }

    #[tokio::test]
    async fn miss_loads_then_hit_serves_from_cache() {
        let c = cache();
        let calls = Arc::new(AtomicUsize::new(0));
        let got = c
            .lookup(Lookup::ExternalId, "e1", counted(&calls, Ok(Some("s1"))))
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some("s1"));
        let got = c
            .lookup(Lookup::ExternalId, "e1", counted(&calls, Ok(Some("other"))))
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some("s1"), "a hit must not reload");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(c.get(Lookup::ExternalId, "e1").await.as_deref(), Some("s1"));
        // Lookups are separate namespaces.
        assert_eq!(c.get(Lookup::UserName, "e1").await, None);
        assert_eq!(c.get(Lookup::AppId, "e1").await, None);
    }

    #[tokio::test]
    async fn case_rules_per_lookup() {
        let c = cache();
        c.insert(Lookup::UserName, "Ann@Example.com", "u1").await;
        c.insert(Lookup::DisplayName, "Admins", "g1").await;
        c.insert(Lookup::ExternalId, "Ext-1", "u1").await;
        c.insert(Lookup::AppId, "Abc", "42").await;
        assert_eq!(
            c.get(Lookup::UserName, "ANN@example.COM").await.as_deref(),
            Some("u1")
        );
        assert_eq!(
            c.get(Lookup::DisplayName, "admins").await.as_deref(),
            Some("g1")
        );
        assert_eq!(
            c.get(Lookup::ExternalId, "Ext-1").await.as_deref(),
            Some("u1")
        );
        assert_eq!(c.get(Lookup::ExternalId, "ext-1").await, None);
        assert_eq!(c.get(Lookup::AppId, "abc").await, None);
        assert_eq!(c.get(Lookup::AppId, "Abc").await.as_deref(), Some("42"));
        // Unicode case folding, not just ASCII.
        c.insert(Lookup::UserName, "ÉMILE", "u2").await;
        assert_eq!(
            c.get(Lookup::UserName, "émile").await.as_deref(),
            Some("u2")
        );
        // A lookup with a differently-cased key is a hit, not a load.
        let calls = Arc::new(AtomicUsize::new(0));
        let got = c
            .lookup(
                Lookup::UserName,
                "ann@EXAMPLE.com",
                counted(&calls, Ok(None)),
            )
            .await
            .unwrap();
        assert_eq!(
            (got.as_deref(), calls.load(Ordering::SeqCst)),
            (Some("u1"), 0)
        );
    }

    #[tokio::test]
    async fn only_positive_answers_are_cached() {
        let c = cache();
        let calls = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let got = c
                .lookup(Lookup::UserName, "nobody", counted(&calls, Ok(None)))
                .await
                .unwrap();
            assert_eq!(got, None);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2, "None must not be cached");
        for _ in 0..2 {
            let err = c
                .lookup(
                    Lookup::UserName,
                    "nobody",
                    counted(&calls, Err(AppError::Timeout.into())),
                )
                .await
                .unwrap_err();
            assert_eq!(err.class().status, 504);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4, "errors must not be cached");
        assert_eq!(c.get(Lookup::UserName, "nobody").await, None);
        c.run_pending_tasks().await;
        assert_eq!(c.entry_count(), 0);
    }

    /// Spawns `n` tasks that all miss `key` at once; their shared loader waits for the gate.
    /// Returns the answers and the number of loader calls seen before the gate opened.
    async fn concurrent_misses(
        c: &IdCache,
        n: usize,
        answer: fn() -> Result<Option<String>>,
    ) -> (Vec<Result<Option<String>>>, usize, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let (gate, open) = tokio::sync::watch::channel(false);
        let start = Arc::new(tokio::sync::Barrier::new(n + 1));
        let mut tasks = Vec::new();
        for _ in 0..n {
            let (c, calls, start) = (c.clone(), Arc::clone(&calls), Arc::clone(&start));
            let mut open = open.clone();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                c.lookup(Lookup::UserName, "Same", || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // Hold the miss open until every task has had its chance to miss too.
                    let _ = open.wait_for(|o| *o).await;
                    answer()
                })
                .await
            }));
        }
        start.wait().await;
        // Single-threaded test runtime: yielding lets every task reach its wait point.
        for _ in 0..200 {
            tokio::task::yield_now().await;
        }
        let before = calls.load(Ordering::SeqCst);
        gate.send_replace(true);
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        (answers, before, calls)
    }

    #[tokio::test]
    async fn concurrent_misses_call_the_loader_once() {
        let c = cache();
        let (answers, before, calls) =
            concurrent_misses(&c, 16, || Ok(Some("u1".to_string()))).await;
        assert_eq!(before, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(
            answers
                .iter()
                .all(|a| matches!(a, Ok(Some(id)) if id == "u1"))
        );
        assert_eq!(c.get(Lookup::UserName, "same").await.as_deref(), Some("u1"));
    }

    #[tokio::test]
    async fn concurrent_misses_share_an_absent_answer_without_caching_it() {
        let c = cache();
        let (answers, before, calls) = concurrent_misses(&c, 8, || Ok(None)).await;
        assert_eq!((before, calls.load(Ordering::SeqCst)), (1, 1));
        assert!(answers.iter().all(|a| matches!(a, Ok(None))));
        assert_eq!(c.get(Lookup::UserName, "same").await, None);
    }

    #[tokio::test]
    async fn concurrent_misses_all_get_an_equivalent_error() {
        let c = cache();
        let (answers, before, calls) = concurrent_misses(&c, 8, || {
            Err(AppError::RateLimited {
                retry_after: Some(7),
            }
            .into())
        })
        .await;
        assert_eq!((before, calls.load(Ordering::SeqCst)), (1, 1));
        for a in answers {
            let e = a.unwrap_err();
            assert!(matches!(
                e,
                Error::App(AppError::RateLimited {
                    retry_after: Some(7)
                })
            ));
            assert_eq!(e.class().retry_after, Some(7));
        }
        // The error was not cached: the next lookup loads again.
        let again = c
            .lookup(Lookup::UserName, "same", counted(&calls, Ok(Some("u9"))))
            .await
            .unwrap();
        assert_eq!(again.as_deref(), Some("u9"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn invalidate_forgets_one_key() {
        let c = cache();
        c.insert(Lookup::UserName, "Ann", "u1").await;
        c.insert(Lookup::UserName, "Bob", "u2").await;
        c.invalidate(Lookup::UserName, "ANN").await;
        assert_eq!(c.get(Lookup::UserName, "ann").await, None);
        assert_eq!(c.get(Lookup::UserName, "bob").await.as_deref(), Some("u2"));
        // Invalidating an unknown key or another lookup's key is harmless.
        c.invalidate(Lookup::ExternalId, "bob").await;
        c.invalidate(Lookup::UserName, "nobody").await;
        assert_eq!(c.get(Lookup::UserName, "bob").await.as_deref(), Some("u2"));
    }

    #[tokio::test]
    async fn invalidate_id_drops_every_entry_for_that_id() {
        let c = cache();
        c.insert(Lookup::UserName, "ann", "u1").await;
        c.insert(Lookup::UserName, "ann.old", "u1").await;
        c.insert(Lookup::ExternalId, "e1", "u1").await;
        c.insert(Lookup::DisplayName, "ann's group", "u1").await;
        c.insert(Lookup::AppId, "u1", "42").await;
        c.insert(Lookup::UserName, "bob", "u2").await;
        c.insert(Lookup::AppId, "u2", "u1").await;
        c.invalidate_id("u1").await;
        for (which, key) in [
            (Lookup::UserName, "ann"),
            (Lookup::UserName, "ann.old"),
            (Lookup::ExternalId, "e1"),
            (Lookup::DisplayName, "ann's group"),
            (Lookup::AppId, "u1"),
        ] {
            assert_eq!(c.get(which, key).await, None, "{which:?} {key}");
        }
        assert_eq!(c.get(Lookup::UserName, "bob").await.as_deref(), Some("u2"));
        // AppId values are app ids, not SCIM ids: u2's app id "u1" stays.
        assert_eq!(c.get(Lookup::AppId, "u2").await.as_deref(), Some("u1"));
        // Facts written after the invalidation are kept, and a miss loads again.
        c.insert(Lookup::UserName, "ann", "u1").await;
        assert_eq!(c.get(Lookup::UserName, "ann").await.as_deref(), Some("u1"));
        c.run_pending_tasks().await;
        assert_eq!(c.entry_count(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn settings_reach_every_cache() {
        let c = IdCache::new(&CacheSettings {
            max_entries: 3,
            ttl: Duration::from_secs(42),
        });
        for which in [
            Lookup::UserName,
            Lookup::ExternalId,
            Lookup::DisplayName,
            Lookup::AppId,
        ] {
            // Bounded: the oldest write goes first; a rewrite counts as new.
            for k in ["a", "b", "c"] {
                c.insert(which, k, format!("id-{k}")).await;
            }
            c.insert(which, "a", "id-a2").await;
            c.insert(which, "d", "id-d").await;
            assert_eq!(c.get(which, "b").await, None, "{which:?}: oldest evicted");
            for (k, id) in [("a", "id-a2"), ("c", "id-c"), ("d", "id-d")] {
                assert_eq!(c.get(which, k).await.as_deref(), Some(id), "{which:?}");
            }
            assert_eq!(c.cache(which).len(), 3, "{which:?}");
        }
        // Served until the TTL is over, then gone and loaded again.
        tokio::time::advance(Duration::from_secs(41)).await;
        c.insert(Lookup::UserName, "late", "id-late").await;
        assert_eq!(c.get(Lookup::UserName, "a").await.as_deref(), Some("id-a2"));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(c.get(Lookup::UserName, "a").await, None, "expired");
        assert_eq!(c.get(Lookup::AppId, "d").await, None, "expired");
        assert_eq!(
            c.get(Lookup::UserName, "late").await.as_deref(),
            Some("id-late")
        );
        let calls = Arc::new(AtomicUsize::new(0));
        let got = c
            .lookup(Lookup::ExternalId, "c", counted(&calls, Ok(Some("fresh"))))
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some("fresh"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_zero_sized_cache_keeps_nothing_but_still_loads() {
        let c = IdCache::new(&CacheSettings {
            max_entries: 0,
            ttl: Duration::from_secs(60),
        });
        let calls = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let got = c
                .lookup(Lookup::UserName, "x", counted(&calls, Ok(Some("s"))))
                .await
                .unwrap();
            assert_eq!(got.as_deref(), Some("s"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(c.entry_count(), 0);
    }

    #[tokio::test]
    async fn debug_does_not_show_keys() {
        let c = cache();
        c.insert(Lookup::UserName, "secret.person@example.com", "u1")
            .await;
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret.person"), "{shown}");
    }

    #[test]
    fn duplicate_keeps_variant_class_and_detail() {
        let samples: Vec<Error> = vec![
            Error::invalid_filter("bad filter"),
            ClientError::Rejected {
                status: 403,
                scim_type: Some(ScimType::Sensitive),
                detail: "no".into(),
            }
            .into(),
            ClientError::MethodNotAllowed {
                method: "PUT".into(),
            }
            .into(),
            AppError::RateLimited { retry_after: None }.into(),
            AppError::Unreachable("refused".into()).into(),
            InternalError::Script {
                hook: "h".into(),
                message: "m".into(),
            }
            .into(),
            InternalError::Overloaded.into(),
        ];
        for e in &samples {
            let d = duplicate(e);
            assert_eq!(d.class(), e.class());
            assert_eq!(d.detail(), e.detail());
            assert_eq!(format!("{d:?}"), format!("{e:?}"));
        }
    }
}
