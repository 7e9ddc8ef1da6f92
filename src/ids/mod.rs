//! Id correspondence: which application record a SCIM id names, plus attributes the application
//! cannot store. A [`IdStore`] keeps durable facts (memory for tests and stateless mappings, an
//! embedded crash-safe file for one replica, a shared server store later); an [`IdCache`] (moka)
//! in front keeps what is expensive to ask the application.

pub mod cache;
pub mod file;
pub mod memory;

pub use cache::{CacheSettings, IdCache};
pub use file::FileStore;
pub use memory::MemoryStore;

use crate::error::Result;
use crate::scim::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
/// when the call returns.
#[async_trait::async_trait]
pub trait IdStore: Send + Sync + std::fmt::Debug + 'static {
    async fn get(&self, kind: ResourceKind, scim_id: &str) -> Result<Option<IdEntry>>;
    async fn find_by_app_id(&self, kind: ResourceKind, app_id: &str) -> Result<Option<IdEntry>>;
    /// Entries whose kept attribute `attr` (or, for parked entries, whose snapshot's top-level
    /// attribute `attr`) equals `value`. `userName` compares case-insensitively, others exactly.
    async fn find_by_attr(
        &self,
        kind: ResourceKind,
        attr: &str,
        value: &str,
    ) -> Result<Vec<IdEntry>>;
    /// Inserts or replaces the entry for `entry.scim_id`.
    async fn put(&self, kind: ResourceKind, entry: IdEntry) -> Result<()>;
    async fn remove(&self, kind: ResourceKind, scim_id: &str) -> Result<()>;
    /// Every parked entry, in a stable order (for listing deactivated-by-deletion users).
    async fn parked(&self, kind: ResourceKind) -> Result<Vec<IdEntry>>;
}
