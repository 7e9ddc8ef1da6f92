//! One write at a time per resource: writes are read-modify-write (the current record is read,
//! changed, sent back whole or as changes), so two concurrent writes on one record would lose
//! one of them. Entra sends a group's member changes as concurrent PATCHes; a user's membership
//! (model `user_attribute`) is also changed by writes to several groups at once. Only this
//! sidecar's own writes are ordered; replicas sharing an application are not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::OwnedMutexGuard;

/// Async locks keyed by SCIM id, created on demand and dropped when nobody holds or waits on them.
#[derive(Default)]
pub(super) struct WriteLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl WriteLocks {
    /// Waits until no other write on `id` is under way; the write lasts as long as the guard.
    pub async fn lock(&self, id: &str) -> OwnedMutexGuard<()> {
        let lock = {
            // A poisoned map only means a panic elsewhere while it was held; its content is fine.
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.retain(|_, l| l.strong_count() > 0);
            match locks.get(id).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(id.to_string(), Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_owned().await
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, l| l.strong_count() > 0);
        locks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_holder_per_id_others_independent() {
        let locks = WriteLocks::default();
        let held = locks.lock("501").await;
        // Another id is free.
        let other = locks.lock("502").await;
        drop(other);
        // The same id waits until the first guard is dropped: polled once, it is not ready.
        tokio::select! {
            biased;
            _ = locks.lock("501") => panic!("a second write on 501 must wait"),
            _ = std::future::ready(()) => {}
        }
        drop(held);
        let again = tokio::time::timeout(Duration::from_secs(5), locks.lock("501")).await;
        assert!(again.is_ok(), "free once released");
    }

    #[tokio::test]
    async fn unused_locks_are_forgotten() {
        let locks = WriteLocks::default();
        for id in ["a", "b", "c"] {
            drop(locks.lock(id).await);
        }
        assert_eq!(locks.len(), 0);
        let _held = locks.lock("a").await;
        assert_eq!(locks.len(), 1);
    }
}
