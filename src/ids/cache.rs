//! moka caches in front of the application and the store: `userName → scim id`,
//! `externalId → scim id`, `displayName → group id`, `scim id → app id`.

#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub max_entries: u64,
    pub ttl: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct IdCache {}
