//! Conversions between the model (the JSON of REST) and the protobuf messages.
//!
//! JSON values travel as `google.protobuf.Value` / `Struct`. Protobuf numbers are doubles, so a
//! whole number that fits a double exactly (|n| <= 2^53) is turned back into a JSON integer:
//! `{"n": 5}` sent over gRPC is stored as `5`, the same as over REST.

use chrono::{DateTime, Utc};
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Timestamp, Value as PValue};
use serde_json::{Map, Number, Value};
use tonic::Status;
use uuid::Uuid;

use super::proto;
use crate::model;
use crate::model::{ComponentStatus, DetailedHealth, HealthReport};

/// Largest integer a double holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// A JSON value as a protobuf `Value`.
pub fn to_pvalue(v: Value) -> PValue {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(a) => Kind::ListValue(ListValue { values: a.into_iter().map(to_pvalue).collect() }),
        Value::Object(o) => Kind::StructValue(to_struct_map(o)),
    };
    PValue { kind: Some(kind) }
}

fn to_struct_map(o: Map<String, Value>) -> Struct {
    Struct { fields: o.into_iter().map(|(k, v)| (k, to_pvalue(v))).collect() }
}

/// A JSON object as a `Struct`; any other value is wrapped as `{"value": v}` (absent for null).
pub fn to_struct(v: Value) -> Option<Struct> {
    match v {
        Value::Null => None,
        Value::Object(o) => Some(to_struct_map(o)),
        other => Some(Struct { fields: [("value".to_string(), to_pvalue(other))].into_iter().collect() }),
    }
}

/// A protobuf `Value` as JSON (an unset kind is null; a non-finite number is null).
pub fn from_pvalue(v: PValue) -> Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => number(n),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(from_pvalue).collect()),
        Some(Kind::StructValue(s)) => from_struct(s),
    }
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
    }
}

/// A `Struct` as a JSON object.
pub fn from_struct(s: Struct) -> Value {
    Value::Object(s.fields.into_iter().map(|(k, v)| (k, from_pvalue(v))).collect())
}

/// An optional JSON value as an optional protobuf `Value`.
pub fn opt_pvalue(v: Option<Value>) -> Option<PValue> {
    v.map(to_pvalue)
}

/// A time as a `Timestamp`.
pub fn ts(t: DateTime<Utc>) -> Timestamp {
    Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

/// An optional time as an optional `Timestamp`.
pub fn opt_ts(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(ts)
}

/// A `Timestamp` field as a time; out of range is INVALID_ARGUMENT naming the field.
pub fn from_ts(field: &str, t: Option<Timestamp>) -> Result<Option<DateTime<Utc>>, Status> {
    match t {
        None => Ok(None),
        Some(t) => u32::try_from(t.nanos)
            .ok()
            .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
            .map(Some)
            .ok_or_else(|| Status::invalid_argument(format!("{field} is not a valid timestamp"))),
    }
}

/// Parses a UUID field; a malformed one is INVALID_ARGUMENT naming the field.
pub fn parse_uuid(field: &str, raw: &str) -> Result<Uuid, Status> {
    if raw.is_empty() {
        return Err(Status::invalid_argument(format!("{field} is required")));
    }
    Uuid::parse_str(raw).map_err(|_| Status::invalid_argument(format!("{field} '{raw}' is not a valid UUID")))
}

/// A page size: 0 means the service's default.
pub fn page_size(n: u32) -> Option<u32> {
    (n != 0).then_some(n)
}

/// A page token: empty means the first page.
pub fn page_token(t: String) -> Option<String> {
    (!t.is_empty()).then_some(t)
}

/// A `CreateTaskRequest` as the service's `TaskRequest`.
pub fn task_request(r: proto::CreateTaskRequest) -> Result<model::TaskRequest, Status> {
    let correlation_id = match r.correlation_id.as_deref() {
        None | Some("") => None,
        Some(c) => Some(parse_uuid("correlation_id", c)?),
    };
    Ok(model::TaskRequest {
        name: r.name,
        namespace: r.namespace,
        version: r.version,
        context: r.context.map(from_struct),
        initiator: r.initiator,
        source_system: r.source_system,
        reason: r.reason,
        tags: r.tags,
        priority: r.priority,
        idempotency_key: r.idempotency_key,
        correlation_id,
    })
}

/// A `ListTasksRequest` as the service's query.
pub fn task_list_query(r: proto::ListTasksRequest) -> Result<model::TaskListQuery, Status> {
    Ok(model::TaskListQuery {
        namespace: r.namespace,
        name: r.name,
        state: r.state,
        created_after: from_ts("created_after", r.created_after)?,
        created_before: from_ts("created_before", r.created_before)?,
        limit: page_size(r.page_size),
        cursor: page_token(r.page_token),
        include: r.include_context.then(|| "context".to_string()),
    })
}

/// A `RetryFailedStepsRequest` as the service's filter.
pub fn retry_filter(r: proto::RetryFailedStepsRequest) -> Result<model::RetryFilter, Status> {
    let task_uuids = if r.task_uuids.is_empty() {
        None
    } else {
        Some(r.task_uuids.iter().map(|u| parse_uuid("task_uuids", u)).collect::<Result<Vec<_>, _>>()?)
    };
    Ok(model::RetryFilter {
        namespace: r.namespace,
        name: r.name,
        version: r.version,
        task_uuids,
        step_names: (!r.step_names.is_empty()).then_some(r.step_names),
        error_contains: r.error_contains,
        error_class: r.error_class,
        failed_after: from_ts("failed_after", r.failed_after)?,
        failed_before: from_ts("failed_before", r.failed_before)?,
        limit: r.limit,
        dry_run: r.dry_run,
        reason: r.reason,
    })
}

/// The step action of a `ResolveStepRequest`.
pub fn step_action(action: i32) -> Result<model::StepAction, Status> {
    match proto::StepAction::try_from(action) {
        Ok(proto::StepAction::ResolveManually) => Ok(model::StepAction::ResolveManually),
        Ok(proto::StepAction::CompleteManually) => Ok(model::StepAction::CompleteManually),
        Ok(proto::StepAction::ResetForRetry) => Ok(model::StepAction::ResetForRetry),
        Ok(proto::StepAction::Unspecified) | Err(_) => Err(Status::invalid_argument(
            "action is required: STEP_ACTION_RESOLVE_MANUALLY, STEP_ACTION_COMPLETE_MANUALLY or STEP_ACTION_RESET_FOR_RETRY",
        )),
    }
}

impl From<model::StepCounts> for proto::StepCounts {
    fn from(c: model::StepCounts) -> Self {
        Self {
            pending: c.pending,
            enqueued: c.enqueued,
            in_progress: c.in_progress,
            waiting_for_retry: c.waiting_for_retry,
            complete: c.complete,
            error: c.error,
            cancelled: c.cancelled,
            resolved_manually: c.resolved_manually,
        }
    }
}

impl From<model::Task> for proto::Task {
    fn from(t: model::Task) -> Self {
        Self {
            task_uuid: t.task_uuid.to_string(),
            namespace: t.namespace,
            name: t.name,
            version: t.version,
            state: t.state,
            context: t.context.and_then(to_struct),
            priority: t.priority,
            tags: t.tags,
            initiator: t.initiator,
            source_system: t.source_system,
            reason: t.reason,
            idempotency_key: t.idempotency_key,
            correlation_id: t.correlation_id.to_string(),
            steps_total: t.steps_total,
            step_counts: Some(t.step_counts.into()),
            completion_pct: t.completion_pct,
            last_error: opt_pvalue(t.last_error),
            created_at: Some(ts(t.created_at)),
            updated_at: Some(ts(t.updated_at)),
            completed_at: opt_ts(t.completed_at),
        }
    }
}

impl From<model::Step> for proto::Step {
    fn from(s: model::Step) -> Self {
        Self {
            step_uuid: s.step_uuid.to_string(),
            task_uuid: s.task_uuid.to_string(),
            name: s.name,
            handler: s.handler,
            position: s.position,
            state: s.state,
            attempts: s.attempts,
            max_attempts: s.max_attempts,
            depends_on: s.depends_on,
            parents_pending: s.parents_pending,
            ready: s.ready,
            next_retry_at: opt_ts(s.next_retry_at),
            results: opt_pvalue(s.results),
            last_error: opt_pvalue(s.last_error),
            timeout_seconds: s.timeout_seconds,
            enqueued_at: opt_ts(s.enqueued_at),
            claimed_at: opt_ts(s.claimed_at),
            completed_at: opt_ts(s.completed_at),
            created_at: Some(ts(s.created_at)),
            updated_at: Some(ts(s.updated_at)),
        }
    }
}

impl From<model::StepTransition> for proto::StepTransition {
    fn from(t: model::StepTransition) -> Self {
        Self {
            id: t.id,
            from_state: t.from_state,
            to_state: t.to_state,
            event: t.event,
            attempt: t.attempt,
            metadata: opt_pvalue(t.metadata),
            created_at: Some(ts(t.created_at)),
        }
    }
}

impl From<model::RetriedStep> for proto::RetriedStep {
    fn from(s: model::RetriedStep) -> Self {
        Self {
            step_uuid: s.step_uuid.to_string(),
            task_uuid: s.task_uuid.to_string(),
            namespace: s.namespace,
            task_name: s.task_name,
            step_name: s.step_name,
            previous_attempts: s.previous_attempts,
            last_error: opt_pvalue(s.last_error),
            task_state_before: s.task_state_before,
            task_state_after: s.task_state_after,
        }
    }
}

impl From<model::RetryOutcome> for proto::RetryFailedStepsResponse {
    fn from(o: model::RetryOutcome) -> Self {
        Self { dry_run: o.dry_run, count: o.count as u64, steps: o.steps.into_iter().map(Into::into).collect() }
    }
}

impl From<model::Template> for proto::Template {
    fn from(t: model::Template) -> Self {
        Self {
            template_uuid: t.template_uuid.to_string(),
            namespace: t.namespace,
            name: t.name,
            version: t.version,
            description: t.description,
            definition: to_struct(t.definition),
            created_at: Some(ts(t.created_at)),
            updated_at: Some(ts(t.updated_at)),
        }
    }
}

impl From<model::TemplateSummary> for proto::TemplateSummary {
    fn from(t: model::TemplateSummary) -> Self {
        Self {
            template_uuid: t.template_uuid.to_string(),
            namespace: t.namespace,
            name: t.name,
            version: t.version,
            description: t.description,
            step_count: t.step_count,
            created_at: Some(ts(t.created_at)),
        }
    }
}

impl From<model::DlqEntry> for proto::DlqEntry {
    fn from(e: model::DlqEntry) -> Self {
        Self {
            id: e.id,
            task_uuid: e.task_uuid.to_string(),
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
            snapshot: e.snapshot.map(to_pvalue),
            created_at: Some(ts(e.created_at)),
            updated_at: Some(ts(e.updated_at)),
            resolved_at: opt_ts(e.resolved_at),
        }
    }
}

impl From<model::DlqStats> for proto::DlqStats {
    fn from(s: model::DlqStats) -> Self {
        Self {
            total: s.total,
            by_status: s
                .by_status
                .into_iter()
                .map(|c| proto::DlqStatusCount { resolution_status: c.resolution_status, count: c.count })
                .collect(),
            oldest_open_age_seconds: s.oldest_open_age_seconds,
        }
    }
}

impl From<model::PerformanceMetrics> for proto::PerformanceMetrics {
    fn from(m: model::PerformanceMetrics) -> Self {
        Self {
            hours: m.hours,
            tasks_created: m.tasks_created,
            tasks_completed: m.tasks_completed,
            tasks_failed: m.tasks_failed,
            tasks_cancelled: m.tasks_cancelled,
            tasks_active: m.tasks_active,
            completion_rate: m.completion_rate,
            error_rate: m.error_rate,
            mean_task_duration_ms: m.mean_task_duration_ms,
            mean_step_duration_ms: m.mean_step_duration_ms,
            steps_completed: m.steps_completed,
            steps_per_second: m.steps_per_second,
            tasks_per_hour: m.tasks_per_hour,
        }
    }
}

impl From<model::Bottlenecks> for proto::Bottlenecks {
    fn from(b: model::Bottlenecks) -> Self {
        Self {
            slowest_steps: b
                .slowest_steps
                .into_iter()
                .map(|s| proto::SlowStep {
                    namespace: s.namespace,
                    task_name: s.task_name,
                    step_name: s.step_name,
                    executions: s.executions,
                    mean_ms: s.mean_ms,
                    p95_ms: s.p95_ms,
                    error_rate: s.error_rate,
                })
                .collect(),
            slowest_templates: b
                .slowest_templates
                .into_iter()
                .map(|t| proto::SlowTemplate {
                    namespace: t.namespace,
                    name: t.name,
                    version: t.version,
                    tasks: t.tasks,
                    mean_ms: t.mean_ms,
                    p95_ms: t.p95_ms,
                })
                .collect(),
        }
    }
}

fn component(c: ComponentStatus) -> proto::ComponentStatus {
    proto::ComponentStatus { name: c.name, healthy: c.healthy, message: c.message }
}

impl From<HealthReport> for proto::HealthReport {
    fn from(r: HealthReport) -> Self {
        Self {
            status: r.status,
            version: r.version,
            uptime_seconds: r.uptime_seconds,
            checks: r.checks.into_iter().map(component).collect(),
        }
    }
}

impl From<DetailedHealth> for proto::DetailedHealth {
    fn from(d: DetailedHealth) -> Self {
        Self {
            status: d.status,
            version: d.version,
            uptime_seconds: d.uptime_seconds,
            checks: d.checks.into_iter().map(component).collect(),
            pool: Some(proto::PoolStats { size: d.pool.size, idle: d.pool.idle, max: d.pool.max }),
            queues: d
                .queues
                .into_iter()
                .map(|q| proto::QueueDepth {
                    queue_name: q.queue_name,
                    length: q.length,
                    visible: q.visible,
                    oldest_msg_age_seconds: q.oldest_msg_age_seconds,
                })
                .collect(),
            actors: d
                .actors
                .into_iter()
                .map(|a| proto::ActorStatus {
                    name: a.name,
                    running: a.running,
                    channel_capacity: a.channel_capacity as u64,
                    channel_depth: a.channel_depth as u64,
                    channel_saturation: a.channel_saturation,
                    processed: a.processed,
                    errors: a.errors,
                    iterations: a.iterations,
                    intake: match a.intake {
                        model::ActorIntake::Queue => "queue",
                        model::ActorIntake::WakeUp => "wake_up",
                    }
                    .into(),
                    wake_up_pending: a.wake_up_pending,
                })
                .collect(),
            circuit_breakers: d
                .circuit_breakers
                .into_iter()
                .map(|b| proto::BreakerStatus {
                    name: b.name,
                    state: b.state,
                    consecutive_failures: b.consecutive_failures,
                    total_failures: b.total_failures,
                    opened_count: b.opened_count,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_round_trips_with_integers_kept() {
        let v = json!({"n": 5, "f": 1.5, "s": "x", "b": true, "z": null, "a": [1, {"k": -2}]});
        assert_eq!(from_pvalue(to_pvalue(v.clone())), v);
        let s = to_struct(v.clone()).unwrap_or_default();
        assert_eq!(from_struct(s), v);
    }

    #[test]
    fn timestamps_round_trip_and_bad_ones_are_rejected() {
        let t = Utc::now();
        assert_eq!(from_ts("t", Some(ts(t))).ok().flatten(), Some(t));
        let bad = Timestamp { seconds: 0, nanos: -1 };
        assert_eq!(from_ts("t", Some(bad)).map_err(|e| e.code()), Err(tonic::Code::InvalidArgument));
    }
}
