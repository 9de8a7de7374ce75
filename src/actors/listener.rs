//! The notification hub: one dedicated LISTEN connection for the whole process.
//!
//! It listens on the engine's fixed channels, wakes the actor registered for each channel
//! (a `try_send` into the actor's bounded channel: a full channel already holds a wake-up, so
//! nothing is lost by coalescing), and broadcasts every notification to subscribers such as task
//! status streams. When the connection drops it reconnects ([`ReconnectingListener`], with backoff),
//! re-LISTENs, and wakes every actor and subscriber (`Event::Reconnected`), since notifications
//! sent meanwhile are lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::db::listen::{ListenEvent, ReconnectingListener};

/// Steps became ready without being dispatched (retries due, operator actions).
pub const CHANNEL_STEPS_READY: &str = "tasker_steps_ready";
/// Result messages were posted to the results queue (a trigger on its table notifies).
pub const CHANNEL_STEP_RESULTS: &str = "tasker_step_results";
/// Tasks were flagged for finalization.
pub const CHANNEL_TASK_FINALIZE: &str = "tasker_task_finalize";
/// A task changed state; payload `<task_uuid>:<state>`.
pub const CHANNEL_TASK_CHANGED: &str = "tasker_task_changed";
/// Steps of tasks changed state; payload: comma-separated task uuids.
pub const CHANNEL_STEPS_CHANGED: &str = "tasker_steps_changed";
/// A task entered the DLQ; payload: task uuid.
pub const CHANNEL_DLQ: &str = "tasker_dlq";

/// Every channel the hub listens on.
pub const CHANNELS: &[&str] = &[
    CHANNEL_STEPS_READY,
    CHANNEL_STEP_RESULTS,
    CHANNEL_TASK_FINALIZE,
    CHANNEL_TASK_CHANGED,
    CHANNEL_STEPS_CHANGED,
    CHANNEL_DLQ,
];

/// What subscribers receive.
#[derive(Debug, Clone)]
pub enum Event {
    /// A notification.
    Notification {
        /// Channel.
        channel: String,
        /// Payload.
        payload: String,
    },
    /// The listener reconnected: notifications may have been missed; re-read state.
    Reconnected,
}

/// A wake-up sent to an actor.
#[derive(Debug, Clone, Copy)]
pub struct Wake;

/// The hub. Register wakers before [`NotificationHub::run`]; subscribe any time.
pub struct NotificationHub {
    events: broadcast::Sender<Event>,
    wakers: HashMap<&'static str, Vec<mpsc::Sender<Wake>>>,
    connected: AtomicBool,
    reconnects: AtomicU64,
}

/// Default broadcast capacity; a subscriber that lags behind gets `Lagged` and should re-read state.
pub const DEFAULT_BROADCAST_CAPACITY: usize = 8192;

impl Default for NotificationHub {
    fn default() -> Self {
        Self::new()
    }
}

impl NotificationHub {
    /// A hub with no wakers.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(DEFAULT_BROADCAST_CAPACITY);
        Self { events, wakers: HashMap::new(), connected: AtomicBool::new(false), reconnects: AtomicU64::new(0) }
    }

    /// Wakes `tx` on every notification of `channel` (and on reconnect).
    pub fn register_waker(&mut self, channel: &'static str, tx: mpsc::Sender<Wake>) {
        self.wakers.entry(channel).or_default().push(tx);
    }

    /// A new subscription to every event.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Whether the LISTEN connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Times the connection was re-established.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    fn wake_all(&self) {
        for txs in self.wakers.values() {
            for tx in txs {
                let _ = tx.try_send(Wake);
            }
        }
        let _ = self.events.send(Event::Reconnected);
    }

    /// Listens until `shutdown`, reconnecting as needed (see [`ReconnectingListener`]).
    pub async fn run(self: Arc<Self>, pool: PgPool, shutdown: CancellationToken) {
        let mut listener = ReconnectingListener::new(pool, CHANNELS.iter().copied());
        while let Some(event) = listener.recv(&shutdown).await {
            match event {
                ListenEvent::Connected { reconnect } => {
                    self.connected.store(true, Ordering::Relaxed);
                    if reconnect {
                        self.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("notification listener reconnected");
                    }
                    // Anything sent while we were not listening is lost: have everyone look.
                    self.wake_all();
                }
                ListenEvent::Disconnected => self.connected.store(false, Ordering::Relaxed),
                ListenEvent::Notification(n) => self.dispatch(n.channel(), n.payload()),
            }
        }
        self.connected.store(false, Ordering::Relaxed);
    }

    fn dispatch(&self, channel: &str, payload: &str) {
        if let Some(txs) = self.wakers.get(channel) {
            for tx in txs {
                let _ = tx.try_send(Wake);
            }
        }
        let _ = self.events.send(Event::Notification { channel: channel.to_string(), payload: payload.to_string() });
    }
}
