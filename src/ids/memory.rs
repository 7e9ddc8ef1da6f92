//! In-memory [`IdStore`]: for tests and for mappings that keep nothing durable.

#[derive(Debug, Default)]
pub struct MemoryStore {}
