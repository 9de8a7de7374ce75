//! Health: liveness, readiness and a detailed report of every component. The reports are
//! `model` types ([`HealthReport`], [`DetailedHealth`]).

use super::{Service, ServiceResult};
use crate::db::engine;
use crate::model::{ComponentStatus, DetailedHealth, HealthReport, PoolStats};

fn report(service: &Service, checks: Vec<ComponentStatus>) -> HealthReport {
    let healthy = checks.iter().all(|c| c.healthy);
    HealthReport {
        status: if healthy { "healthy" } else { "unhealthy" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: service.inner.started.elapsed().as_secs(),
        checks,
    }
}

impl Service {
    /// Liveness: the process answers. No dependency is checked.
    pub fn liveness(&self) -> HealthReport {
        report(self, vec![ComponentStatus { name: "process".into(), healthy: true, message: None }])
    }

    /// Readiness: database reachable, migrations current, actors running, circuit breakers closed.
    /// Checked through the system pool: busy API connections never make the server look down.
    pub async fn readiness(&self) -> HealthReport {
        let mut checks = Vec::new();
        let db = engine::health::ping(self.system_pool()).await;
        let db_ok = db.is_ok();
        checks.push(ComponentStatus {
            name: "database".into(),
            healthy: db_ok,
            message: db.err().map(|e| format!("unreachable: {}", short(&e.to_string()))),
        });
        if db_ok {
            let current = crate::db::migrate::is_current(self.system_pool()).await;
            checks.push(ComponentStatus {
                name: "migrations".into(),
                healthy: matches!(current, Ok(true)),
                message: match current {
                    Ok(true) => None,
                    Ok(false) => Some("schema is behind this build: run tasker-server migrate".into()),
                    Err(e) => Some(short(&e.to_string())),
                },
            });
        }
        if let Some(status) = self.runtime_status() {
            let actors = status.actors();
            let stopped: Vec<_> = actors.iter().filter(|a| !a.running).map(|a| a.name.clone()).collect();
            checks.push(ComponentStatus {
                name: "actors".into(),
                healthy: stopped.is_empty(),
                message: (!stopped.is_empty()).then(|| format!("not running: {}", stopped.join(", "))),
            });
            let open: Vec<_> = status.breakers().into_iter().filter(|b| b.state != "closed").map(|b| b.name).collect();
            checks.push(ComponentStatus {
                name: "circuit_breakers".into(),
                healthy: open.is_empty(),
                message: (!open.is_empty()).then(|| format!("not closed: {}", open.join(", "))),
            });
        }
        report(self, checks)
    }

    /// The readiness checks plus pool use, queue depths, actors and breakers.
    pub async fn detailed_health(&self) -> ServiceResult<DetailedHealth> {
        let ready = self.readiness().await;
        let queues = if ready.checks.first().is_some_and(|c| c.healthy) {
            engine::health::queue_depths(self.system_pool()).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        let pool = PoolStats {
            size: self.pool().size(),
            idle: self.pool().num_idle() as u32,
            max: self.pool().options().get_max_connections(),
        };
        let (actors, circuit_breakers) = match self.runtime_status() {
            Some(s) => (s.actors(), s.breakers()),
            None => (Vec::new(), Vec::new()),
        };
        Ok(DetailedHealth {
            status: ready.status,
            version: ready.version,
            uptime_seconds: ready.uptime_seconds,
            checks: ready.checks,
            pool,
            queues,
            actors,
            circuit_breakers,
        })
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// How long a count of tasks and steps per state serves scrapes. `tasker.state_counts` scans
/// every step (a `GROUP BY` over the whole table); a scrape every few seconds on a big table
/// would make that the heaviest query the server runs. Within the TTL the gauges keep the last
/// count, so per-state gauges may lag by up to this much.
pub const STATE_COUNTS_TTL: std::time::Duration = std::time::Duration::from_secs(30);

impl Service {
    /// Refreshes the gauges read from the database (queue depths; tasks and steps per state at
    /// most once per [`STATE_COUNTS_TTL`]) and the actor and breaker gauges, before `/metrics`
    /// is rendered. Failures leave the previous values (a scrape must not fail because the
    /// database is down).
    pub async fn refresh_metrics(&self, metrics: &crate::metrics::Metrics) {
        use crate::metrics::{QueueLabel, StateLabel};
        if let Some(s) = self.runtime_status() {
            s.actors();
            s.breakers();
        }
        if let Ok(queues) = engine::health::queue_depths(self.system_pool()).await {
            for q in queues {
                metrics.queue_depth.get_or_create(&QueueLabel { queue: q.queue_name }).set(q.length);
            }
        }
        if !metrics.claim_state_counts(STATE_COUNTS_TTL) {
            return;
        }
        metrics.state_counts_scans.inc();
        if let Ok(rows) = engine::analytics::state_counts(self.system_pool()).await {
            for state in crate::model::TASK_STATES {
                metrics.tasks_by_state.get_or_create(&StateLabel { state: (*state).to_string() }).set(0);
            }
            for state in crate::model::STEP_STATES {
                metrics.steps_by_state.get_or_create(&StateLabel { state: (*state).to_string() }).set(0);
            }
            for (kind, state, n) in rows {
                let family = if kind == "task" { &metrics.tasks_by_state } else { &metrics.steps_by_state };
                family.get_or_create(&StateLabel { state }).set(n);
            }
        }
    }
}
