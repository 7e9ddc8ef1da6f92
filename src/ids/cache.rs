//! moka caches in front of the application and the store: `userName → scim id`,
//! `externalId → scim id`, `displayName → group id`, `scim id → app id`.
//!
//! ## Rules
//! - **One [`IdCache`] per resource kind.** `externalId` exists on Users and Groups, and a SCIM id
//!   of one kind may equal one of the other, so the kinds must not share caches.
//! - **Keys are normalised per lookup** ([`Lookup::normalise`]): `userName` and `displayName` are
//!   compared case-insensitively (lowercased), `externalId` and SCIM ids exactly.
//! - **Only positive facts are cached.** A loader answering `None` ("no such record") or failing
//!   leaves nothing behind, so the next lookup asks again.
//! - **Concurrent misses for one key run one loader** (moka `try_get_with`); everyone waiting gets
//!   its answer, including `None` and errors.
//! - **Errors are rebuilt, not shared.** moka hands every waiter the same `Arc` of the loader's
//!   error, and [`Error`] is not `Clone`. All its variants hold plain data, so [`duplicate`]
//!   rebuilds an identical value (same variant, same fields, hence same status, `scimType`,
//!   `Retry-After` and `detail`), with an exhaustive match so a new variant must be handled.
//! - **Writes keep the cache honest**: create/rename paths [`IdCache::insert`] or
//!   [`IdCache::invalidate`] the keys they touch; delete paths call [`IdCache::invalidate_id`],
//!   which drops every entry pointing at (or keyed by) a SCIM id.
//! - Entries live at most `ttl` and the cache holds at most `max_entries` per lookup; with several
//!   replicas that bounds how long one replica may serve an id another replica changed.

use crate::error::{AppError, ClientError, Error, InternalError, Result};
use crate::scim::ResourceKind;
use moka::future::Cache;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

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

/// Why a load did not produce a value to cache. Shared between waiters by moka.
enum Miss {
    Absent,
    Failed(Error),
}

/// The id caches of one resource kind. Cheap to clone (the caches are shared).
#[derive(Clone)]
pub struct IdCache {
    user_name: Cache<String, String>,
    external_id: Cache<String, String>,
    display_name: Cache<String, String>,
    app_id: Cache<String, String>,
}

// moka's own Debug lists every entry (user names); show sizes only.
impl std::fmt::Debug for IdCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdCache")
            .field("user_name", &self.user_name.entry_count())
            .field("external_id", &self.external_id.entry_count())
            .field("display_name", &self.display_name.entry_count())
            .field("app_id", &self.app_id.entry_count())
            .finish()
    }
}

impl IdCache {
    pub fn new(settings: &CacheSettings) -> IdCache {
        let build = |name: &str| {
            Cache::builder()
                .name(name)
                .max_capacity(settings.max_entries)
                .time_to_live(settings.ttl)
                // Lets invalidate_id drop entries by value in O(1) instead of a scan.
                .support_invalidation_closures()
                .build()
        };
        IdCache {
            user_name: build("user_name"),
            external_id: build("external_id"),
            display_name: build("display_name"),
            app_id: build("app_id"),
        }
    }

    fn cache(&self, which: Lookup) -> &Cache<String, String> {
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
        // moka polls this only when it is the one loader for the key; otherwise it is dropped.
        let init = async move {
            match load().await {
                Ok(Some(id)) => Ok(id),
                Ok(None) => Err(Miss::Absent),
                Err(e) => Err(Miss::Failed(e)),
            }
        };
        match self
            .cache(which)
            .try_get_with_by_ref(key.as_ref(), init)
            .await
        {
            Ok(id) => Ok(Some(id)),
            Err(miss) => match Arc::try_unwrap(miss) {
                Ok(Miss::Absent) => Ok(None),
                Ok(Miss::Failed(e)) => Err(e),
                Err(shared) => match &*shared {
                    Miss::Absent => Ok(None),
                    Miss::Failed(e) => Err(duplicate(e)),
                },
            },
        }
    }

    /// The cached id for `key`, without loading.
    pub async fn get(&self, which: Lookup, key: &str) -> Option<String> {
        self.cache(which).get(which.normalise(key).as_ref()).await
    }

    /// Records a fact learnt elsewhere (a create, a rename, a list answer).
    pub async fn insert(&self, which: Lookup, key: &str, id: impl Into<String>) {
        self.cache(which)
            .insert(which.normalise(key).into_owned(), id.into())
            .await;
    }

    /// Forgets one key (e.g. the old `userName` after a rename).
    pub async fn invalidate(&self, which: Lookup, key: &str) {
        self.cache(which)
            .invalidate(which.normalise(key).as_ref())
            .await;
    }

    /// Forgets everything about SCIM id `id`: every key pointing at it and its app id. Entries
    /// written after this call are kept.
    pub async fn invalidate_id(&self, id: &str) {
        self.app_id.invalidate(id).await;
        for cache in [&self.user_name, &self.external_id, &self.display_name] {
            let target = id.to_owned();
            // moka never returns an entry matched by a registered predicate, even before its
            // housekeeping removes it. Registration only fails if closures are disabled, which
            // `new` never does; scan as a fallback rather than keep a stale id.
            if cache
                .invalidate_entries_if(move |_, v| *v == target)
                .is_err()
            {
                let keys: Vec<Arc<String>> = cache
                    .iter()
                    .filter(|(_, v)| v == id)
                    .map(|(k, _)| k)
                    .collect();
                for k in keys {
                    cache.invalidate(k.as_str()).await;
                }
            }
        }
    }

    /// Approximate number of entries over all lookups (for metrics; moka counts lazily).
    pub fn entry_count(&self) -> u64 {
        [
            &self.user_name,
            &self.external_id,
            &self.display_name,
            &self.app_id,
        ]
        .iter()
        .map(|c| c.entry_count())
        .sum()
    }

    /// Runs moka's pending maintenance (evictions, expirations, invalidations) now, so
    /// [`IdCache::entry_count`] is exact. Optional: moka also does this as it is used.
    pub async fn run_pending_tasks(&self) {
        for c in [
            &self.user_name,
            &self.external_id,
            &self.display_name,
            &self.app_id,
        ] {
            c.run_pending_tasks().await;
        }
    }
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
        self.0
            .insert((kind, scim_id.to_string()), name.to_string())
            .await;
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

    #[tokio::test]
    async fn settings_reach_every_cache() {
        let ttl = Duration::from_secs(42);
        let c = IdCache::new(&CacheSettings {
            max_entries: 7,
            ttl,
        });
        for which in [
            Lookup::UserName,
            Lookup::ExternalId,
            Lookup::DisplayName,
            Lookup::AppId,
        ] {
            let policy = c.cache(which).policy();
            assert_eq!(policy.time_to_live(), Some(ttl), "{which:?}");
            assert_eq!(policy.max_capacity(), Some(7), "{which:?}");
        }
        // Expiry itself is moka's job and needs real time to pass; it is not re-tested here.
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
