//! gRPC messages as the REST API's JSON: each message becomes the model type REST serializes
//! ([`crate::model`], [`crate::service`]), so both backends print the same JSON shape.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::api::grpc::convert::{from_pvalue, from_struct};
use crate::api::grpc::proto;
use crate::cli::error::{CliError, CliResult};
use crate::model;

/// A serializable value as JSON.
pub fn json<T: Serialize>(v: &T) -> CliResult<Value> {
    serde_json::to_value(v).map_err(|e| CliError::unexpected(e.to_string()))
}

fn uuid(field: &str, raw: &str) -> CliResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| CliError::unexpected(format!("{field} '{raw}' is not a UUID")))
}

fn time(t: Option<Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
}

fn required_time(field: &str, t: Option<Timestamp>) -> CliResult<DateTime<Utc>> {
    time(t).ok_or_else(|| CliError::unexpected(format!("{field} is missing or not a valid time")))
}

fn value(v: Option<prost_types::Value>) -> Option<Value> {
    v.map(from_pvalue)
}

fn object(s: Option<prost_types::Struct>) -> Value {
    s.map(from_struct).unwrap_or(Value::Null)
}

/// A task.
pub fn task(t: proto::Task) -> CliResult<model::Task> {
    let c = t.step_counts.unwrap_or_default();
    Ok(model::Task {
        task_uuid: uuid("task_uuid", &t.task_uuid)?,
        namespace: t.namespace,
        name: t.name,
        version: t.version,
        state: t.state,
        context: t.context.map(from_struct),
        priority: t.priority,
        tags: t.tags,
        initiator: t.initiator,
        source_system: t.source_system,
        reason: t.reason,
        idempotency_key: t.idempotency_key,
        correlation_id: uuid("correlation_id", &t.correlation_id)?,
        steps_total: t.steps_total,
        step_counts: model::StepCounts {
            pending: c.pending,
            enqueued: c.enqueued,
            in_progress: c.in_progress,
            waiting_for_retry: c.waiting_for_retry,
            complete: c.complete,
            error: c.error,
            cancelled: c.cancelled,
            resolved_manually: c.resolved_manually,
        },
        completion_pct: t.completion_pct,
        last_error: value(t.last_error),
        created_at: required_time("created_at", t.created_at)?,
        updated_at: required_time("updated_at", t.updated_at)?,
        completed_at: time(t.completed_at),
    })
}

/// A step.
pub fn step(s: proto::Step) -> CliResult<model::Step> {
    Ok(model::Step {
        step_uuid: uuid("step_uuid", &s.step_uuid)?,
        task_uuid: uuid("task_uuid", &s.task_uuid)?,
        name: s.name,
        handler: s.handler,
        position: s.position,
        state: s.state,
        attempts: s.attempts,
        max_attempts: s.max_attempts,
        depends_on: s.depends_on,
        parents_pending: s.parents_pending,
        ready: s.ready,
        next_retry_at: time(s.next_retry_at),
        results: value(s.results),
        last_error: value(s.last_error),
        timeout_seconds: s.timeout_seconds,
        enqueued_at: time(s.enqueued_at),
        claimed_at: time(s.claimed_at),
        completed_at: time(s.completed_at),
        created_at: required_time("created_at", s.created_at)?,
        updated_at: required_time("updated_at", s.updated_at)?,
    })
}

/// A step transition.
pub fn transition(t: proto::StepTransition) -> CliResult<model::StepTransition> {
    Ok(model::StepTransition {
        id: t.id,
        from_state: t.from_state,
        to_state: t.to_state,
        event: t.event,
        attempt: t.attempt,
        metadata: value(t.metadata),
        created_at: required_time("created_at", t.created_at)?,
    })
}

/// The outcome of a batch retry.
pub fn retry_outcome(r: proto::RetryFailedStepsResponse) -> CliResult<model::RetryOutcome> {
    let steps = r
        .steps
        .into_iter()
        .map(|s| {
            Ok(model::RetriedStep {
                step_uuid: uuid("step_uuid", &s.step_uuid)?,
                task_uuid: uuid("task_uuid", &s.task_uuid)?,
                namespace: s.namespace,
                task_name: s.task_name,
                step_name: s.step_name,
                previous_attempts: s.previous_attempts,
                last_error: value(s.last_error),
                task_state_before: s.task_state_before,
                task_state_after: s.task_state_after,
            })
        })
        .collect::<CliResult<Vec<_>>>()?;
    Ok(model::RetryOutcome { dry_run: r.dry_run, count: r.count as usize, steps })
}

/// A template.
pub fn template(t: proto::Template) -> CliResult<model::Template> {
    Ok(model::Template {
        template_uuid: uuid("template_uuid", &t.template_uuid)?,
        namespace: t.namespace,
        name: t.name,
        version: t.version,
        description: t.description,
        definition: object(t.definition),
        created_at: required_time("created_at", t.created_at)?,
        updated_at: required_time("updated_at", t.updated_at)?,
    })
}

/// A template in a listing.
pub fn template_summary(t: proto::TemplateSummary) -> CliResult<model::TemplateSummary> {
    Ok(model::TemplateSummary {
        template_uuid: uuid("template_uuid", &t.template_uuid)?,
        namespace: t.namespace,
        name: t.name,
        version: t.version,
        description: t.description,
        step_count: t.step_count,
        created_at: required_time("created_at", t.created_at)?,
    })
}

/// A DLQ entry.
pub fn dlq_entry(e: proto::DlqEntry) -> CliResult<model::DlqEntry> {
    Ok(model::DlqEntry {
        id: e.id,
        task_uuid: uuid("task_uuid", &e.task_uuid)?,
        namespace: e.namespace,
        name: e.name,
        version: e.version,
        reason: e.reason,
        state_at_entry: e.state_at_entry,
        task_state_now: e.task_state_now,
        resolution_status: e.resolution_status,
        resolution_notes: e.resolution_notes,
        resolved_by: e.resolved_by,
        failed_steps: e.failed_steps,
        snapshot: value(e.snapshot),
        created_at: required_time("created_at", e.created_at)?,
        updated_at: required_time("updated_at", e.updated_at)?,
        resolved_at: time(e.resolved_at),
    })
}

/// DLQ statistics.
pub fn dlq_stats(s: proto::DlqStats) -> model::DlqStats {
    model::DlqStats {
        total: s.total,
        by_status: s
            .by_status
            .into_iter()
            .map(|c| model::DlqStatusCount { resolution_status: c.resolution_status, count: c.count })
            .collect(),
        oldest_open_age_seconds: s.oldest_open_age_seconds,
    }
}

/// A list of items as the REST page shape (`items`, `next_cursor`).
pub fn page<T>(items: Vec<T>, next_page_token: String) -> model::Page<T> {
    model::Page { items, next_cursor: (!next_page_token.is_empty()).then_some(next_page_token) }
}

fn component(c: proto::ComponentStatus) -> model::ComponentStatus {
    model::ComponentStatus { name: c.name, healthy: c.healthy, message: c.message }
}

/// The detailed health report.
pub fn detailed_health(d: proto::DetailedHealth) -> model::DetailedHealth {
    let pool = d.pool.unwrap_or_default();
    model::DetailedHealth {
        status: d.status,
        version: d.version,
        uptime_seconds: d.uptime_seconds,
        checks: d.checks.into_iter().map(component).collect(),
        pool: model::PoolStats { size: pool.size, idle: pool.idle, max: pool.max },
        queues: d
            .queues
            .into_iter()
            .map(|q| model::QueueDepth {
                queue_name: q.queue_name,
                length: q.length,
                visible: q.visible,
                oldest_msg_age_seconds: q.oldest_msg_age_seconds,
            })
            .collect(),
        actors: d
            .actors
            .into_iter()
            .map(|a| model::ActorStatus {
                name: a.name,
                running: a.running,
                intake: if a.intake == "wake_up" { model::ActorIntake::WakeUp } else { model::ActorIntake::Queue },
                wake_up_pending: a.wake_up_pending,
                channel_capacity: a.channel_capacity as usize,
                channel_depth: a.channel_depth as usize,
                channel_saturation: a.channel_saturation,
                processed: a.processed,
                errors: a.errors,
                iterations: a.iterations,
            })
            .collect(),
        circuit_breakers: d
            .circuit_breakers
            .into_iter()
            .map(|b| model::BreakerStatus {
                name: b.name,
                state: b.state,
                consecutive_failures: b.consecutive_failures,
                total_failures: b.total_failures,
                opened_count: b.opened_count,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::grpc::convert::ts;

    #[test]
    fn a_task_round_trips_to_the_rest_json() {
        let now = Utc::now();
        let t = model::Task {
            task_uuid: Uuid::now_v7(),
            namespace: "demo".into(),
            name: "diamond".into(),
            version: "1.0.0".into(),
            state: "complete".into(),
            context: Some(serde_json::json!({"n": 1, "s": "x"})),
            priority: 3,
            tags: vec!["a".into()],
            initiator: None,
            source_system: Some("cli".into()),
            reason: None,
            idempotency_key: Some("k".into()),
            correlation_id: Uuid::now_v7(),
            steps_total: 4,
            step_counts: model::StepCounts { complete: 4, ..Default::default() },
            completion_pct: 100.0,
            last_error: None,
            created_at: now,
            updated_at: now,
            completed_at: Some(now),
        };
        let rest = json(&t).ok();
        let grpc = task(proto::Task::from(t)).ok().and_then(|t| json(&t).ok());
        assert!(rest.is_some());
        assert_eq!(rest, grpc);
        assert_eq!(time(Some(ts(now))), Some(now));
    }
}
