//! What wakes the claim loop besides its polling tick: dispatch notifications on
//! [`DISPATCH_CHANNEL`], heard over a [`ReconnectingListener`], collected as the queues to claim
//! from, or as "claim from everything" after a (re)connection, when notifications may have been
//! missed.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use tracing::warn;

use super::namespaces::Namespaces;
use crate::db::listen::{ListenEvent, ReconnectingListener};

/// The channel the engine notifies when it sends steps to a worker queue; the payload is the
/// queue name (`worker_<namespace>_queue`).
pub const DISPATCH_CHANNEL: &str = "tasker_step_dispatched";

/// The wake-ups collected since the claim loop last looked.
#[derive(Debug, Default)]
pub(super) struct Wakeups {
    state: Mutex<Woken>,
    notify: Notify,
}

/// What the claim loop was woken for.
#[derive(Debug, Default)]
pub(super) struct Woken {
    /// Claim from every served namespace.
    all: bool,
    /// Claim from these queues.
    queues: HashSet<String>,
}

impl Woken {
    /// Adds the served namespaces of the woken queues to `want`; returns whether to claim from
    /// every namespace (asked for, or a queue could not be resolved).
    pub(super) async fn add_to(self, want: &mut HashSet<String>, namespaces: &Namespaces) -> bool {
        let mut all = self.all;
        for queue in self.queues {
            match namespaces.for_queue(&queue).await {
                Ok(Some(ns)) => {
                    want.insert(ns);
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(error = %e, "reading namespaces failed");
                    all = true;
                }
            }
        }
        all
    }
}

impl Wakeups {
    fn state(&self) -> MutexGuard<'_, Woken> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Steps were sent to `queue`.
    pub(super) fn queue(&self, queue: &str) {
        self.state().queues.insert(queue.to_string());
        self.notify.notify_one();
    }

    /// Anything may have been sent: look everywhere.
    pub(super) fn all(&self) {
        self.state().all = true;
        self.notify.notify_one();
    }

    /// Resolves when there is something to [`take`](Self::take).
    pub(super) async fn notified(&self) {
        self.notify.notified().await;
    }

    /// What was collected, leaving nothing.
    pub(super) fn take(&self) -> Woken {
        std::mem::take(&mut *self.state())
    }

    /// Listens on [`DISPATCH_CHANNEL`] until `stop`, turning notifications into wake-ups. After
    /// every (re)connection it asks for a full claim round: notifications sent while it was not
    /// listening are lost.
    pub(super) async fn listen(&self, pool: PgPool, stop: CancellationToken) {
        let mut listener = ReconnectingListener::new(pool, [DISPATCH_CHANNEL]);
        while let Some(event) = listener.recv(&stop).await {
            match event {
                ListenEvent::Connected { .. } => self.all(),
                ListenEvent::Notification(n) => self.queue(n.payload()),
                // Polling covers the gap; the listener reconnects on the next call.
                ListenEvent::Disconnected => {}
            }
        }
    }
}
