//! A circuit breaker around an actor's database calls: closed -> open after `failure_threshold`
//! consecutive failures -> half-open after `open_duration` (one probe call goes through) ->
//! closed on success, open again on failure. While open, calls are skipped, so a database outage
//! costs one quick check per tick instead of a storm of failing queries.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::BreakerStatus;

/// Default consecutive failures that open a breaker.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// Default open period before a probe.
pub const DEFAULT_OPEN_DURATION: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open { since: Instant },
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive_failures: u32,
    total_failures: u64,
    opened_count: u64,
}

/// A named circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    failure_threshold: u32,
    open_duration: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(name: impl Into<String>, failure_threshold: u32, open_duration: Duration) -> Self {
        Self {
            name: name.into(),
            failure_threshold: failure_threshold.max(1),
            open_duration,
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive_failures: 0,
                total_failures: 0,
                opened_count: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a call may go through now (an open breaker past its open period lets one probe pass).
    pub fn allow(&self) -> bool {
        let mut g = self.lock();
        match g.state {
            State::Closed | State::HalfOpen => true,
            State::Open { since } if since.elapsed() >= self.open_duration => {
                g.state = State::HalfOpen;
                true
            }
            State::Open { .. } => false,
        }
    }

    /// Records a successful call: the breaker closes.
    pub fn record_success(&self) {
        let mut g = self.lock();
        g.state = State::Closed;
        g.consecutive_failures = 0;
    }

    /// Records a failed call: a probe failure or the threshold reached opens the breaker.
    pub fn record_failure(&self) {
        let mut g = self.lock();
        g.consecutive_failures += 1;
        g.total_failures += 1;
        let open = matches!(g.state, State::HalfOpen) || g.consecutive_failures >= self.failure_threshold;
        if open && !matches!(g.state, State::Open { .. }) {
            g.state = State::Open { since: Instant::now() };
            g.opened_count += 1;
            tracing::warn!(breaker = %self.name, failures = g.consecutive_failures, "circuit breaker opened");
        }
    }

    /// 0 closed, 1 half-open, 2 open (the metric's encoding).
    pub fn state_code(&self) -> i64 {
        match self.lock().state {
            State::Closed => 0,
            State::HalfOpen => 1,
            State::Open { .. } => 2,
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A snapshot for health.
    pub fn status(&self) -> BreakerStatus {
        let g = self.lock();
        BreakerStatus {
            name: self.name.clone(),
            state: match g.state {
                State::Closed => "closed",
                State::HalfOpen => "half_open",
                State::Open { .. } => "open",
            }
            .into(),
            consecutive_failures: g.consecutive_failures,
            total_failures: g.total_failures,
            opened_count: g.opened_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_recovers_after_a_successful_probe() {
        let b = CircuitBreaker::new("db", 2, Duration::from_millis(20));
        assert!(b.allow());
        b.record_failure();
        assert_eq!(b.state_code(), 0);
        b.record_failure();
        assert_eq!(b.state_code(), 2);
        assert!(!b.allow(), "open breaker refuses calls");
        std::thread::sleep(Duration::from_millis(25));
        assert!(b.allow(), "probe allowed after the open period");
        assert_eq!(b.state_code(), 1);
        b.record_success();
        assert_eq!(b.state_code(), 0);
    }

    #[test]
    fn a_failed_probe_reopens_at_once() {
        let b = CircuitBreaker::new("db", 3, Duration::from_millis(1));
        for _ in 0..3 {
            b.record_failure();
        }
        std::thread::sleep(Duration::from_millis(2));
        assert!(b.allow());
        b.record_failure();
        assert_eq!(b.state_code(), 2);
        assert_eq!(b.status().opened_count, 2);
    }
}
