//! Hot reload: a new configuration (config file, mapping, scripts) is loaded and built off the
//! request path and swapped in atomically; an invalid one is refused, the current one stays, and
//! every problem is logged and counted in `GET /healthz`.
//!
//! Each request takes the current service once, when it starts ([`crate::server::Services`]), so
//! a request in flight during a reload finishes on the configuration it started with.
//!
//! What survives a reload: the id store (a file store cannot be opened twice, and its ids must not
//! be lost), and the [`Health`] record. Everything else — mapping, application client, caches,
//! discovery documents, token verifier, limits — is rebuilt from the new configuration. Settings
//! that cannot change without a restart (`server.listen`, `store.*`) make a reload fail, so the
//! running configuration always matches what the files say or the failure is visible.
//!
//! The tower stack (timeout, concurrency limit) is built per generation: for the moment requests
//! of the old generation are still running, both limits apply side by side.

use crate::config::{Config, LogSettings, StoreSettings};
use crate::ids::IdStore;
use crate::mapping::Mapping;
use crate::runtime;
use crate::server::Services;
use crate::stack::HttpService;
use arc_swap::ArcSwap;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The configuration generation and the outcome of the last reload, shown by `GET /healthz`.
#[derive(Debug)]
pub struct Health {
    generation: AtomicU64,
    last: Mutex<Option<LastReload>>,
}

/// The outcome of the most recent reload attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastReload {
    pub ok: bool,
    /// RFC 3339, UTC.
    pub at: String,
    /// How many problems made it fail (0 when it succeeded).
    pub errors: usize,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Generation 1, no reload yet.
    pub fn new() -> Health {
        Health {
            generation: AtomicU64::new(1),
            last: Mutex::new(None),
        }
    }

    /// The generation serving new requests (1 at start-up, +1 per successful reload).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn last_reload(&self) -> Option<LastReload> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The `/healthz` body.
    pub fn to_json(&self) -> Value {
        let last = self.last_reload().map_or(
            Value::Null,
            |l| json!({"ok": l.ok, "at": l.at, "errors": l.errors}),
        );
        json!({
            "status": "ok",
            "config_generation": self.generation(),
            "last_reload": last,
        })
    }

    fn record(&self, ok: bool, errors: usize) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(LastReload {
            ok,
            at: rfc3339(SystemTime::now()),
            errors,
        });
    }
}

/// Settings a reload cannot change.
#[derive(Debug, Clone)]
struct Fixed {
    listen: SocketAddr,
    store: StoreSettings,
    log: LogSettings,
}

struct Inner {
    current: Arc<ArcSwap<HttpService>>,
    store: Arc<dyn IdStore>,
    health: Arc<Health>,
    fixed: Fixed,
    /// Config, mapping and script files of the running configuration (for `--watch`).
    watched: Mutex<Vec<PathBuf>>,
    /// One reload at a time (SIGHUP and the watcher may fire together).
    reloading: tokio::sync::Mutex<()>,
}

/// A configuration that can be replaced while serving. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Reloadable {
    inner: Arc<Inner>,
}

impl Reloadable {
    /// Builds generation 1 (opening the store). `config_path` is watched when given.
    pub fn new(
        config: &Config,
        mapping: Mapping,
        config_path: Option<&Path>,
    ) -> Result<Reloadable, String> {
        let store = runtime::open_store(&config.store)?;
        let health = Arc::new(Health::new());
        let watched = watched_files(config_path, config, &mapping);
        let state =
            runtime::build_state_with(config, Arc::new(mapping), store.clone(), health.clone())?;
        Ok(Reloadable {
            inner: Arc::new(Inner {
                current: Arc::new(ArcSwap::from_pointee(crate::stack::build(state))),
                store,
                health,
                fixed: Fixed {
                    listen: config.server.listen,
                    store: config.store.clone(),
                    log: config.log.clone(),
                },
                watched: Mutex::new(watched),
                reloading: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// What the server serves: always the current generation, taken once per request.
    pub fn services(&self) -> Services {
        Services::Current(self.inner.current.clone())
    }

    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// The files whose change `--watch` reacts to.
    pub fn watched(&self) -> Vec<PathBuf> {
        self.inner
            .watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Builds a generation from an already loaded config and mapping and swaps it in. On failure
    /// the current generation stays, and the problems are logged and recorded.
    pub fn install(
        &self,
        config: &Config,
        mapping: Mapping,
        config_path: Option<&Path>,
    ) -> Result<u64, Vec<String>> {
        let result = self.try_install(config, mapping, config_path);
        self.finish(result)
    }

    fn try_install(
        &self,
        config: &Config,
        mapping: Mapping,
        config_path: Option<&Path>,
    ) -> Result<u64, Vec<String>> {
        let fixed = &self.inner.fixed;
        let mut problems = Vec::new();
        if config.server.listen != fixed.listen {
            problems.push(format!(
                "server.listen changed ({} → {}); restart to apply",
                fixed.listen, config.server.listen
            ));
        }
        if config.store != fixed.store {
            problems.push("store settings changed; restart to apply".to_string());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if config.log.level != fixed.log.level || config.log.format != fixed.log.format {
            tracing::warn!("log settings changed; they apply after a restart");
        }
        let watched = watched_files(config_path, config, &mapping);
        let state = runtime::build_state_with(
            config,
            Arc::new(mapping),
            self.inner.store.clone(),
            self.inner.health.clone(),
        )
        .map_err(|e| vec![e])?;
        self.inner
            .current
            .store(Arc::new(crate::stack::build(state)));
        *self.inner.watched.lock().unwrap_or_else(|p| p.into_inner()) = watched;
        Ok(self.inner.health.generation.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Records and logs the outcome of a reload attempt.
    fn finish(&self, result: Result<u64, Vec<String>>) -> Result<u64, Vec<String>> {
        match &result {
            Ok(generation) => {
                self.inner.health.record(true, 0);
                tracing::info!(generation, "configuration reloaded");
            }
            Err(problems) => {
                self.inner.health.record(false, problems.len());
                for p in problems {
                    tracing::error!(problem = %p, "reload refused");
                }
                tracing::error!(
                    problems = problems.len(),
                    generation = self.inner.health.generation(),
                    "reload failed; still serving the previous configuration"
                );
            }
        }
        result
    }

    /// Loads the config file, the mapping and its scripts, and installs them; all file reading
    /// and compiling runs on the blocking pool, never on a request's task.
    pub async fn reload_from(
        &self,
        config_path: &Path,
        env: Vec<(String, String)>,
    ) -> Result<u64, Vec<String>> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        let this = self.clone();
        let path = config_path.to_path_buf();
        let joined = tokio::task::spawn_blocking(move || {
            let config = match Config::load(Some(&path), env) {
                Ok(c) => c,
                Err(e) => return this.finish(Err(e.problems)),
            };
            let mapping = match runtime::load_mapping(&config) {
                Ok(m) => m,
                Err(e) => return this.finish(Err(e.lines().map(str::to_string).collect())),
            };
            this.install(&config, mapping, Some(&path))
        })
        .await;
        joined.unwrap_or_else(|e| self.finish(Err(vec![format!("reload task failed: {e}")])))
    }

    /// Polls the watched files every `every` and reloads when one changed (size or modification
    /// time, or it appeared or vanished). Runs until the task is dropped.
    pub async fn watch(
        self,
        config_path: PathBuf,
        every: Duration,
        env: fn() -> Vec<(String, String)>,
    ) {
        let mut seen = fingerprint(&self.watched());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let now = fingerprint(&self.watched());
            if now != seen {
                tracing::info!("configuration files changed; reloading");
                let _ = self.reload_from(&config_path, env()).await;
                // The new set of files (or the same set after a refused reload), as it is now,
                // so a broken file is reported once, not on every tick.
                seen = fingerprint(&self.watched());
            }
        }
    }
}

/// The config file (when given), the mapping file and every script it uses (users and groups).
pub fn watched_files(
    config_path: Option<&Path>,
    config: &Config,
    mapping: &Mapping,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = config_path.map(Path::to_path_buf).into_iter().collect();
    out.push(config.mapping_file.clone());
    for resource in std::iter::once(&mapping.users).chain(mapping.groups.as_ref()) {
        if let Some(script) = &resource.hooks.script
            && !out.contains(&script.path)
        {
            out.push(script.path.clone());
        }
    }
    out
}

/// A file's state as far as change detection goes: `None` when it cannot be read.
pub type FileStamp = Option<(SystemTime, u64)>;

/// The state of each file, in order.
pub fn fingerprint(paths: &[PathBuf]) -> Vec<FileStamp> {
    paths
        .iter()
        .map(|p| {
            let meta = std::fs::metadata(p).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

/// `2025-01-31T12:00:00Z`.
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = date_of_day(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counting in 400-year eras (146 097
/// days each) from 0000-03-01, so leap days fall at the end of a counted year.
pub(crate) fn date_of_day(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(date_of_day(0), (1970, 1, 1));
        assert_eq!(date_of_day(59), (1970, 3, 1));
        assert_eq!(date_of_day(11_016), (2000, 2, 29));
        assert_eq!(date_of_day(11_017), (2000, 3, 1));
        assert_eq!(date_of_day(19_782), (2024, 2, 29));
        assert_eq!(date_of_day(-1), (1969, 12, 31));
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn health_counts_generations_and_remembers_the_last_reload() {
        let h = Health::new();
        assert_eq!(
            h.to_json(),
            json!({"status": "ok", "config_generation": 1, "last_reload": null})
        );
        h.record(false, 3);
        let j = h.to_json();
        assert_eq!(j["last_reload"]["ok"], false);
        assert_eq!(j["last_reload"]["errors"], 3);
        assert!(j["last_reload"]["at"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn fingerprints_change_when_a_file_changes_or_vanishes() {
        let dir = std::env::temp_dir().join(format!("scim-fp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.toml");
        std::fs::write(&file, "a").unwrap();
        let paths = vec![file.clone(), dir.join("missing")];
        let before = fingerprint(&paths);
        assert!(before[0].is_some() && before[1].is_none());
        assert_eq!(before, fingerprint(&paths));
        std::fs::write(&file, "ab").unwrap();
        assert_ne!(before, fingerprint(&paths));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(fingerprint(&paths), vec![None, None]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
