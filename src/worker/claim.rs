//! Claiming: no more steps than there are free concurrency slots, round-robin over the namespaces
//! that have work, with `tasker.claim_steps`. Each claimed step holds a [`Slot`] until its result
//! is submitted (or abandoned); the slots also tell the heartbeat which messages to keep invisible.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sqlx::PgPool;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, warn};

use super::config::WorkerConfig;
use super::metrics::WorkerMetrics;
use super::namespaces::Namespaces;
use crate::db::worker::{self as sql, ClaimedStep};

/// SQLSTATE of `tasker.claim_steps` for a namespace that does not exist (any more).
const UNKNOWN_NAMESPACE: &str = "TK002";

/// The worker's concurrency slots and the dispatch messages its running steps hold.
#[derive(Debug)]
pub(super) struct Slots {
    permits: Arc<Semaphore>,
    /// namespace -> msg_id -> how many running steps of this worker hold it.
    held: Mutex<HashMap<String, BTreeMap<i64, usize>>>,
    freed: Notify,
    metrics: Arc<WorkerMetrics>,
}

impl Slots {
    /// `concurrency` slots, all free.
    pub(super) fn new(concurrency: usize, metrics: Arc<WorkerMetrics>) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            held: Mutex::new(HashMap::new()),
            freed: Notify::new(),
            metrics,
        })
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, BTreeMap<i64, usize>>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many slots are free.
    pub(super) fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Resolves when a slot is released (a wake-up is kept if nobody was waiting).
    pub(super) async fn freed(&self) {
        self.freed.notified().await;
    }

    /// The messages held by running steps, by namespace: what the heartbeat extends.
    pub(super) fn messages(&self) -> Vec<(String, Vec<i64>)> {
        self.held().iter().map(|(ns, ids)| (ns.clone(), ids.keys().copied().collect())).collect()
    }

    /// Up to `n` free slots reserved for a claim (none when no slot is free).
    pub(super) fn reserve(&self, n: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(n.min(self.available())).ok().filter(|n| *n > 0)?;
        Arc::clone(&self.permits).try_acquire_many_owned(n).ok()
    }

    /// Holds `permit` (one reserved for a claim) and the message `msg_id` for a claimed step.
    pub(super) fn hold(self: &Arc<Self>, namespace: &str, msg_id: i64, permit: Option<OwnedSemaphorePermit>) -> Slot {
        *self.held().entry(namespace.to_string()).or_default().entry(msg_id).or_insert(0) += 1;
        self.metrics.claimed.fetch_add(1, Ordering::Relaxed);
        self.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        Slot { slots: Arc::clone(self), namespace: namespace.to_string(), msg_id, permit }
    }
}

/// A claimed step's hold on a concurrency slot and on the heartbeat: released when dropped, that
/// is after its result is submitted (or abandoned).
#[derive(Debug)]
pub(super) struct Slot {
    slots: Arc<Slots>,
    namespace: String,
    msg_id: i64,
    permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// The namespace of the step holding this slot.
    pub(super) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Takes the slot's concurrency permit, for a chained claim: the step's result is being
    /// submitted, so its slot may go to a step claimed in the same transaction. The slot keeps
    /// holding its message for the heartbeat until it is dropped.
    pub(super) fn take_permit(&mut self) -> Option<OwnedSemaphorePermit> {
        self.permit.take()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut held = self.slots.held();
            if let Some(ids) = held.get_mut(&self.namespace) {
                if let Some(n) = ids.get_mut(&self.msg_id) {
                    *n -= 1;
                    if *n == 0 {
                        ids.remove(&self.msg_id);
                    }
                }
                if ids.is_empty() {
                    held.remove(&self.namespace);
                }
            }
        }
        self.slots.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(self.permit.take());
        self.slots.freed.notify_one();
    }
}

/// Claims steps for a worker.
#[derive(Debug)]
pub(super) struct Claimer {
    pool: PgPool,
    namespaces: Namespaces,
    slots: Arc<Slots>,
    batch_size: usize,
    vt_seconds: i32,
    worker_id: String,
    /// Where the next round starts in the sorted namespaces, so none is always served last.
    rotation: AtomicUsize,
}

impl Claimer {
    /// Claims from `config`'s namespaces into `slots`, at most `batch_size` per namespace per call.
    pub(super) fn new(pool: PgPool, config: &WorkerConfig, slots: Arc<Slots>) -> Self {
        Self {
            namespaces: Namespaces::new(pool.clone(), config.namespaces.clone()),
            pool,
            slots,
            batch_size: config.batch_size,
            vt_seconds: config.vt_seconds(),
            worker_id: config.worker_id.clone(),
            rotation: AtomicUsize::new(0),
        }
    }

    /// The namespaces this worker serves.
    pub(super) fn namespaces(&self) -> &Namespaces {
        &self.namespaces
    }

    /// Claims from the namespaces in `want`, as many steps as there are free slots. A namespace
    /// that yields fewer steps than asked is drained and leaves `want`. Returns the claimed
    /// steps, each holding its slot; an error after some claims is logged and ends the round.
    pub(super) async fn claim_round(
        &self,
        want: &mut HashSet<String>,
    ) -> Result<Vec<(ClaimedStep, Slot)>, sqlx::Error> {
        let mut order: Vec<String> = want.iter().cloned().collect();
        order.sort_unstable();
        if !order.is_empty() {
            let start = self.rotation.fetch_add(1, Ordering::Relaxed) % order.len();
            order.rotate_left(start);
        }
        let mut out = Vec::new();
        for ns in order {
            let limit = self.slots.available().min(self.batch_size);
            if limit == 0 {
                break;
            }
            let Ok(mut permits) = Arc::clone(&self.slots.permits).try_acquire_many_owned(limit as u32) else {
                break;
            };
            let limit_i32 = i32::try_from(limit).unwrap_or(i32::MAX);
            let rows = match sql::claim_steps(&self.pool, &ns, limit_i32, self.vt_seconds, &self.worker_id).await {
                Ok(rows) => rows,
                Err(e) if is_sqlstate(&e, UNKNOWN_NAMESPACE) => {
                    debug!(namespace = %ns, "namespace no longer exists");
                    want.remove(&ns);
                    self.namespaces.invalidate();
                    continue;
                }
                Err(e) if out.is_empty() => return Err(e),
                Err(e) => {
                    warn!(namespace = %ns, error = %e, "claim failed; running what was claimed");
                    break;
                }
            };
            if rows.len() < limit {
                want.remove(&ns);
            }
            for row in rows {
                let slot = self.slots.hold(&row.namespace, row.msg_id, permits.split(1));
                out.push((row, slot));
            }
        }
        if !out.is_empty() {
            debug!(claimed = out.len(), "claimed steps");
        }
        Ok(out)
    }
}

/// Whether `e` is a database error with SQLSTATE `code`.
pub(super) fn is_sqlstate(e: &sqlx::Error, code: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}
