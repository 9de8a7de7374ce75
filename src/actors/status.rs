//! What the actors report to health and metrics. The reports are `model` types
//! ([`ActorStatus`], [`BreakerStatus`]).
//!
//! Two kinds of intake are reported differently. The task request actor's bounded channel
//! carries work: its depth against its capacity is meaningful and a full channel is
//! backpressure. The batch actors' wake-ups are coalesced (a pending wake-up absorbs every
//! later one), so they report only whether a wake-up is pending; nothing about them can saturate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::circuit_breaker::CircuitBreaker;
use super::listener::{NotificationHub, Wake};
use super::task_request::CreateTask;
use crate::metrics::{ActorLabel, BreakerLabel, Metrics};
use crate::model::{ActorIntake, ActorStatus, BreakerStatus};

/// How work reaches an actor, as health measures it.
pub(crate) enum Intake {
    /// A bounded channel of commands.
    Queue(mpsc::Sender<CreateTask>),
    /// A coalesced wake-up (capacity one).
    WakeUp(mpsc::Sender<Wake>),
}

/// One actor as the status sees it.
pub(crate) struct ActorEntry {
    pub name: &'static str,
    pub running: Arc<AtomicBool>,
    pub intake: Intake,
}

/// The running actors, their breakers, the notification hub and the metrics.
pub struct RuntimeStatus {
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// The notification hub.
    pub hub: Arc<NotificationHub>,
    pub(crate) actors: Vec<ActorEntry>,
    pub(crate) breakers: Vec<Arc<CircuitBreaker>>,
}

impl RuntimeStatus {
    /// A snapshot of every actor (also refreshes the intake gauges).
    pub fn actors(&self) -> Vec<ActorStatus> {
        self.actors
            .iter()
            .map(|a| {
                let label = ActorLabel { actor: a.name.to_string() };
                let (intake, capacity, depth, saturation, pending) = match &a.intake {
                    Intake::Queue(tx) => {
                        let capacity = tx.max_capacity();
                        let depth = capacity - tx.capacity();
                        self.metrics.actor_channel_depth.get_or_create(&label).set(depth as i64);
                        self.metrics.actor_channel_capacity.get_or_create(&label).set(capacity as i64);
                        (ActorIntake::Queue, capacity, depth, Some(depth as f64 / capacity.max(1) as f64), None)
                    }
                    Intake::WakeUp(tx) => {
                        let pending = tx.capacity() == 0;
                        self.metrics.actor_wake_up_pending.get_or_create(&label).set(i64::from(pending));
                        (ActorIntake::WakeUp, 1, usize::from(pending), None, Some(pending))
                    }
                };
                ActorStatus {
                    name: a.name.to_string(),
                    running: a.running.load(Ordering::Relaxed),
                    intake,
                    channel_capacity: capacity,
                    channel_depth: depth,
                    channel_saturation: saturation,
                    wake_up_pending: pending,
                    processed: self.metrics.actor_processed.get_or_create(&label).get(),
                    errors: self.metrics.actor_errors.get_or_create(&label).get(),
                    iterations: self.metrics.actor_iterations.get_or_create(&label).get(),
                }
            })
            .collect()
    }

    /// A snapshot of every circuit breaker (also refreshes their gauges).
    pub fn breakers(&self) -> Vec<BreakerStatus> {
        self.breakers
            .iter()
            .map(|b| {
                self.metrics
                    .breaker_state
                    .get_or_create(&BreakerLabel { breaker: b.name().to_string() })
                    .set(b.state_code());
                b.status()
            })
            .collect()
    }
}
