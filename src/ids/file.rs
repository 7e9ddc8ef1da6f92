//! Embedded, crash-safe file [`IdStore`] for a single replica, on redb.

#[derive(Debug)]
pub struct FileStore {}
