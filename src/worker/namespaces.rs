//! Which namespaces a worker serves, and which queue belongs to which namespace: a cache of
//! `tasker.list_namespaces()`, re-read on a timer, for a notification about an unknown queue, and
//! after a claim finds a namespace gone.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use sqlx::PgPool;

use crate::db::worker as sql;

/// The namespaces a worker serves, as far as it knows.
#[derive(Debug)]
pub(super) struct Namespaces {
    pool: PgPool,
    /// The configured namespaces; empty serves every namespace.
    configured: Vec<String>,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    /// queue name -> namespace.
    by_queue: HashMap<String, String>,
    /// Every namespace, sorted.
    names: Vec<String>,
    loaded: bool,
}

impl Namespaces {
    /// Serves `configured` (every namespace when empty); nothing is read until first asked.
    pub(super) fn new(pool: PgPool, configured: Vec<String>) -> Self {
        Self { pool, configured, cache: Mutex::new(Cache::default()) }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Re-reads the namespaces and their queues.
    pub(super) async fn refresh(&self) -> Result<(), sqlx::Error> {
        let rows = sql::list_namespaces(&self.pool).await?;
        let mut cache = self.cache();
        cache.names = rows.iter().map(|r| r.name.clone()).collect();
        cache.by_queue = rows.into_iter().map(|r| (r.queue_name, r.name)).collect();
        cache.loaded = true;
        Ok(())
    }

    /// Forgets what was read: the next [`served`](Self::served) re-reads.
    pub(super) fn invalidate(&self) {
        self.cache().loaded = false;
    }

    fn serves(&self, namespace: &str) -> bool {
        self.configured.is_empty() || self.configured.iter().any(|n| n == namespace)
    }

    /// The namespaces to claim from: the configured ones that exist, or all.
    pub(super) async fn served(&self) -> Result<Vec<String>, sqlx::Error> {
        if !self.cache().loaded {
            self.refresh().await?;
        }
        let cache = self.cache();
        Ok(cache.names.iter().filter(|n| self.serves(n)).cloned().collect())
    }

    /// The served namespace whose queue is `queue`, re-reading once for an unknown queue.
    pub(super) async fn for_queue(&self, queue: &str) -> Result<Option<String>, sqlx::Error> {
        let known = self.cache().by_queue.get(queue).cloned();
        let namespace = match known {
            Some(ns) => Some(ns),
            None => {
                self.refresh().await?;
                self.cache().by_queue.get(queue).cloned()
            }
        };
        Ok(namespace.filter(|n| self.serves(n)))
    }
}
