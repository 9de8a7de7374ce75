//! What the actors report to health and metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::circuit_breaker::{BreakerStatus, CircuitBreaker};
use super::listener::NotificationHub;
use crate::metrics::{ActorLabel, BreakerLabel, Metrics};

/// One actor's status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActorStatus {
    /// Actor name.
    pub name: String,
    /// Whether its loop is running.
    pub running: bool,
    /// Channel capacity.
    pub channel_capacity: usize,
    /// Commands waiting.
    pub channel_depth: usize,
    /// depth / capacity, 0-1.
    pub channel_saturation: f64,
    /// Rows handled since start.
    pub processed: u64,
    /// Failed iterations since start.
    pub errors: u64,
    /// Iterations (SQL calls) since start.
    pub iterations: u64,
}

/// A channel the status can measure.
pub(crate) trait ChannelGauge: Send + Sync {
    fn depth(&self) -> usize;
    fn capacity(&self) -> usize;
}

impl<T: Send> ChannelGauge for tokio::sync::mpsc::Sender<T> {
    fn depth(&self) -> usize {
        self.max_capacity() - self.capacity()
    }
    fn capacity(&self) -> usize {
        self.max_capacity()
    }
}

pub(crate) struct ActorEntry {
    pub name: &'static str,
    pub running: Arc<AtomicBool>,
    pub channel: Box<dyn ChannelGauge>,
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
    /// A snapshot of every actor (also refreshes the channel gauges).
    pub fn actors(&self) -> Vec<ActorStatus> {
        self.actors
            .iter()
            .map(|a| {
                let label = ActorLabel { actor: a.name.to_string() };
                let depth = a.channel.depth();
                let capacity = a.channel.capacity();
                self.metrics.actor_channel_depth.get_or_create(&label).set(depth as i64);
                self.metrics.actor_channel_capacity.get_or_create(&label).set(capacity as i64);
                ActorStatus {
                    name: a.name.to_string(),
                    running: a.running.load(Ordering::Relaxed),
                    channel_capacity: capacity,
                    channel_depth: depth,
                    channel_saturation: if capacity == 0 { 0.0 } else { depth as f64 / capacity as f64 },
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
