//! Prometheus metrics: actor throughput, latency, errors and channel depth, circuit breakers,
//! HTTP and gRPC requests, and gauges read from the database at scrape time (queue depths,
//! tasks and steps per state). Rendered in the Prometheus text format by [`Metrics::encode`].

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label: actor name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabel {
    /// Actor name.
    pub actor: String,
}

/// Label: circuit breaker name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BreakerLabel {
    /// Breaker name.
    pub breaker: String,
}

/// Labels of a request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `rest` or `grpc`.
    pub transport: String,
    /// Route template or gRPC method.
    pub route: String,
    /// HTTP status or gRPC code.
    pub status: String,
}

/// Label: queue name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    /// Queue name.
    pub queue: String,
}

/// Label: state name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// State.
    pub state: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

fn batch_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 14))
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Rows handled per actor.
    pub actor_processed: Family<ActorLabel, Counter>,
    /// Failed iterations per actor.
    pub actor_errors: Family<ActorLabel, Counter>,
    /// Iterations per actor.
    pub actor_iterations: Family<ActorLabel, Counter>,
    /// Rows per iteration.
    pub actor_batch_size: HistogramFamily<ActorLabel>,
    /// Seconds per iteration (one SQL call).
    pub actor_latency: HistogramFamily<ActorLabel>,
    /// Commands waiting in an actor's command channel (the task request actor's only: the
    /// batch actors' wake-ups are coalesced and report [`Metrics::actor_wake_up_pending`]).
    pub actor_channel_depth: Family<ActorLabel, Gauge>,
    /// The command channel's capacity (`task_request_channel_size`).
    pub actor_channel_capacity: Family<ActorLabel, Gauge>,
    /// 1 while a batch actor has a wake-up pending, else 0. Wake-ups coalesce, so this is all
    /// there is to know: there is no queue behind it to fill.
    pub actor_wake_up_pending: Family<ActorLabel, Gauge>,
    /// Commands refused because the channel was full.
    pub actor_backpressure: Family<ActorLabel, Counter>,
    /// 0 closed, 1 half-open, 2 open.
    pub breaker_state: Family<BreakerLabel, Gauge>,
    /// Requests served.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency.
    pub request_latency: HistogramFamily<RequestLabels>,
    /// pgmq queue depth.
    pub queue_depth: Family<QueueLabel, Gauge>,
    /// Tasks per state.
    pub tasks_by_state: Family<StateLabel, Gauge>,
    /// Steps per state.
    pub steps_by_state: Family<StateLabel, Gauge>,
    /// Times a scrape counted tasks and steps per state (`tasker.state_counts`); scrapes within
    /// the TTL of the last count reuse it.
    pub state_counts_scans: Counter,
    /// Final tasks purged by the housekeeping actor.
    pub retention_tasks_purged: Counter,
    /// pgmq archive messages trimmed by the housekeeping actor.
    pub retention_archive_messages_purged: Counter,
    /// When tasks and steps per state were last counted.
    state_counts_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tasker");
        let m = Metrics {
            actor_processed: Family::default(),
            actor_errors: Family::default(),
            actor_iterations: Family::default(),
            actor_batch_size: Family::new_with_constructor(batch_histogram as fn() -> Histogram),
            actor_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            actor_channel_depth: Family::default(),
            actor_channel_capacity: Family::default(),
            actor_wake_up_pending: Family::default(),
            actor_backpressure: Family::default(),
            breaker_state: Family::default(),
            requests: Family::default(),
            request_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            queue_depth: Family::default(),
            tasks_by_state: Family::default(),
            steps_by_state: Family::default(),
            state_counts_scans: Counter::default(),
            retention_tasks_purged: Counter::default(),
            retention_archive_messages_purged: Counter::default(),
            state_counts_at: std::sync::Mutex::new(None),
            registry: Registry::default(),
        };
        registry.register("actor_processed", "Rows handled by an actor", m.actor_processed.clone());
        registry.register("actor_errors", "Failed actor iterations", m.actor_errors.clone());
        registry.register("actor_iterations", "Actor iterations (SQL calls)", m.actor_iterations.clone());
        registry.register("actor_batch_size", "Rows per actor iteration", m.actor_batch_size.clone());
        registry.register("actor_iteration_seconds", "Seconds per actor iteration", m.actor_latency.clone());
        registry.register(
            "actor_channel_depth",
            "Commands waiting in an actor's command channel",
            m.actor_channel_depth.clone(),
        );
        registry.register(
            "actor_channel_capacity",
            "Capacity of an actor's command channel",
            m.actor_channel_capacity.clone(),
        );
        registry.register(
            "actor_wake_up_pending",
            "1 while a batch actor has a (coalesced) wake-up pending",
            m.actor_wake_up_pending.clone(),
        );
        registry.register("actor_backpressure", "Commands refused: channel full", m.actor_backpressure.clone());
        registry.register("circuit_breaker_state", "0 closed, 1 half-open, 2 open", m.breaker_state.clone());
        registry.register("requests", "API requests served", m.requests.clone());
        registry.register("request_seconds", "API request latency", m.request_latency.clone());
        registry.register("queue_depth", "Messages in a pgmq queue", m.queue_depth.clone());
        registry.register("tasks", "Tasks per state", m.tasks_by_state.clone());
        registry.register("steps", "Steps per state", m.steps_by_state.clone());
        registry.register(
            "state_counts_scans",
            "Scrapes that counted tasks and steps per state (others reused a recent count)",
            m.state_counts_scans.clone(),
        );
        registry.register(
            "retention_tasks_purged",
            "Final tasks purged by the housekeeping actor",
            m.retention_tasks_purged.clone(),
        );
        registry.register(
            "retention_archive_messages_purged",
            "pgmq archive messages trimmed by the housekeeping actor",
            m.retention_archive_messages_purged.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Records one API request.
    pub fn observe_request(&self, transport: &str, route: &str, status: &str, seconds: f64) {
        let labels = RequestLabels { transport: transport.into(), route: route.into(), status: status.into() };
        self.requests.get_or_create(&labels).inc();
        self.request_latency.get_or_create(&labels).observe(seconds);
    }

    /// Whether tasks and steps per state are due to be counted again: true (and the time noted)
    /// when the last count is older than `ttl` or there is none. Concurrent scrapes: one wins.
    pub fn claim_state_counts(&self, ttl: std::time::Duration) -> bool {
        let mut at = self.state_counts_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        match *at {
            Some(t) if now.duration_since(t) < ttl => false,
            _ => {
                *at = Some(now);
                true
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
