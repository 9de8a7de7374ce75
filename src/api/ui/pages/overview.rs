//! `/ui`: tasks by state, the last hour and day, throughput and failure rate per hour, queue
//! depths, actors and circuit breakers, DLQ entries pending. Each panel needs the permission of
//! its REST route; a panel the key may not see says so instead.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup, PreEscaped};

use super::NoticeQuery;
use crate::api::ui::page::{notice, respond, shell, state_badge, UiError};
use crate::api::ui::session::Viewer;
use crate::api::ui::UiState;
use crate::model::{PerformanceMetrics, ThroughputBucket, TASK_STATES};

/// Hours the throughput chart covers.
pub const CHART_HOURS: u32 = 24;

/// The overview page.
pub async fn overview(
    State(state): State<UiState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, UiError> {
    // Any valid key opens the page (as /health/detailed); each panel checks its own permission.
    state.require_login(&viewer)?;
    let analytics = if state.allows(&viewer, "analytics:read") {
        let s = &state.service;
        Some((s.state_counts().await?, s.performance_metrics(1).await?, s.performance_metrics(24).await?, {
            s.throughput_series(CHART_HOURS).await?
        }))
    } else {
        None
    };
    let health = state.service.detailed_health().await?;
    let dlq = if state.allows(&viewer, "dlq:read") { Some(state.service.dlq_stats().await?) } else { None };
    let body = html! {
        h1 { "Overview" }
        (notice(q.notice.as_deref()))
        div id="live-region" {
            @match &analytics {
                Some((counts, hour, day, series)) => {
                    section class="panel" aria-labelledby="by-state" {
                        h2 id="by-state" { "Tasks by state" }
                        (state_table(counts))
                    }
                    section class="panel" aria-labelledby="windows" {
                        h2 id="windows" { "Last hour and last day" }
                        (windows(hour, day))
                    }
                    section class="panel wide" aria-labelledby="chart" {
                        h2 id="chart" { "Throughput and failure rate, per hour (last " (CHART_HOURS) " h)" }
                        (chart(series))
                    }
                }
                None => { (needs("analytics:read", "task counts and throughput")) }
            }
            section class="panel" aria-labelledby="queues" {
                h2 id="queues" { "Queue depths" }
                @if health.queues.is_empty() {
                    p class="muted" { "No queues." }
                } @else {
                    table {
                        thead { tr { th scope="col" { "Queue" } th scope="col" class="num" { "Messages" } th scope="col" class="num" { "Visible" } th scope="col" class="num" { "Oldest (s)" } } }
                        tbody {
                            @for q in &health.queues {
                                tr {
                                    td { code { (q.queue_name) } }
                                    td class="num" { (q.length) }
                                    td class="num" { (q.visible) }
                                    td class="num" { (q.oldest_msg_age_seconds.map(|a| a.to_string()).unwrap_or_else(|| "—".into())) }
                                }
                            }
                        }
                    }
                }
            }
            section class="panel" aria-labelledby="actors" {
                h2 id="actors" { "Actors and circuit breakers" }
                p { "Server: " (state_badge(if health.status == "healthy" { "complete" } else { "error" })) " " (health.status) }
                table {
                    thead { tr { th scope="col" { "Actor" } th scope="col" { "Running" } th scope="col" class="num" { "Processed" } th scope="col" class="num" { "Errors" } } }
                    tbody {
                        @for a in &health.actors {
                            tr {
                                td { (a.name) }
                                td { @if a.running { span class="ok" { "✔ running" } } @else { span class="bad" { "✘ stopped" } } }
                                td class="num" { (a.processed) }
                                td class="num" { (a.errors) }
                            }
                        }
                    }
                }
                table {
                    thead { tr { th scope="col" { "Circuit breaker" } th scope="col" { "State" } th scope="col" class="num" { "Failures" } th scope="col" class="num" { "Opened" } } }
                    tbody {
                        @for b in &health.circuit_breakers {
                            tr {
                                td { (b.name) }
                                td { @if b.state == "closed" { span class="ok" { "✔ closed" } } @else { span class="bad" { "✘ " (b.state) } } }
                                td class="num" { (b.total_failures) }
                                td class="num" { (b.opened_count) }
                            }
                        }
                    }
                }
            }
            section class="panel" aria-labelledby="dlq" {
                h2 id="dlq" { "Dead letter queue" }
                @match &dlq {
                    Some(stats) => {
                        @let pending = stats.by_status.iter().find(|s| s.resolution_status == "pending").map_or(0, |s| s.count);
                        p class="big" { a href="/ui/dlq?resolution_status=pending" { (pending) " pending" } }
                        p class="muted" { (stats.total) " entries in all" }
                    }
                    None => { (needs("dlq:read", "the DLQ")) }
                }
            }
        }
    };
    Ok(respond(&viewer, shell("Overview", &viewer, "/ui", Some("/ui/events"), body)))
}

fn needs(permission: &str, what: &str) -> Markup {
    html! { section class="panel" { p class="muted" { "Your API key lacks " code { (permission) } " to see " (what) "." } } }
}

fn state_table(counts: &[(String, String, i64)]) -> Markup {
    let tasks: BTreeMap<&str, i64> =
        counts.iter().filter(|(k, _, _)| k == "task").map(|(_, s, n)| (s.as_str(), *n)).collect();
    html! {
        table class="states" {
            thead { tr { th scope="col" { "State" } th scope="col" class="num" { "Tasks" } } }
            tbody {
                @for s in TASK_STATES {
                    @let n = tasks.get(s).copied().unwrap_or(0);
                    tr class=[(n == 0).then_some("zero")] {
                        td { a href={ "/ui/tasks?state=" (s) } { (state_badge(s)) } }
                        td class="num" { (n) }
                    }
                }
            }
        }
    }
}

fn windows(hour: &PerformanceMetrics, day: &PerformanceMetrics) -> Markup {
    let row = |label: &str, f: &dyn Fn(&PerformanceMetrics) -> String| {
        html! { tr { th scope="row" { (label) } td class="num" { (f(hour)) } td class="num" { (f(day)) } } }
    };
    html! {
        table {
            thead { tr { td {} th scope="col" class="num" { "Last hour" } th scope="col" class="num" { "Last day" } } }
            tbody {
                (row("Created", &|m| m.tasks_created.to_string()))
                (row("Completed", &|m| m.tasks_completed.to_string()))
                (row("Failed", &|m| m.tasks_failed.to_string()))
                (row("Cancelled", &|m| m.tasks_cancelled.to_string()))
                (row("Still running", &|m| m.tasks_active.to_string()))
                (row("Failure rate", &|m| format!("{:.1} %", m.error_rate * 100.0)))
                (row("Steps per second", &|m| format!("{:.2}", m.steps_per_second)))
            }
        }
    }
}

/// Stacked bars (completed, failed) per hour and a failure-rate line, with the numbers in a
/// table for screen readers and for anyone who prefers them.
fn chart(series: &[ThroughputBucket]) -> Markup {
    let (w, h, pad) = (720.0_f64, 180.0_f64, 28.0_f64);
    let max = series.iter().map(|b| b.tasks_completed + b.tasks_failed).max().unwrap_or(0).max(1) as f64;
    let n = series.len().max(1) as f64;
    let slot = (w - 2.0 * pad) / n;
    let mut bars = String::new();
    let mut line = Vec::new();
    for (i, b) in series.iter().enumerate() {
        let x = pad + i as f64 * slot + slot * 0.15;
        let bw = slot * 0.7;
        let ok_h = (h - 2.0 * pad) * b.tasks_completed as f64 / max;
        let bad_h = (h - 2.0 * pad) * b.tasks_failed as f64 / max;
        let base = h - pad;
        let _ = write!(
            bars,
            r#"<rect class="bar-ok" x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{ok_h:.1}"/><rect class="bar-bad" x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{bad_h:.1}"/>"#,
            base - ok_h,
            base - ok_h - bad_h,
        );
        let done = b.tasks_completed + b.tasks_failed;
        let rate = if done == 0 { 0.0 } else { b.tasks_failed as f64 / done as f64 };
        line.push(format!("{:.1},{:.1}", x + bw / 2.0, base - rate * (h - 2.0 * pad)));
    }
    let first = series.first().map(|b| b.bucket_start.format("%m-%d %H:%M").to_string()).unwrap_or_default();
    let last = series.last().map(|b| b.bucket_start.format("%m-%d %H:%M").to_string()).unwrap_or_default();
    html! {
        svg class="chart" role="img" aria-label="Tasks completed and failed per hour, with the failure rate"
            viewBox={ "0 0 " (w) " " (h) } width=(w) height=(h) {
            line class="axis" x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) {}
            (PreEscaped(bars))
            polyline class="rate" points=(line.join(" ")) {}
            text class="tick" x=(pad) y=(h - 8.0) { (first) }
            text class="tick end" x=(w - pad) y=(h - 8.0) { (last) " UTC" }
            text class="tick" x=(pad) y=(pad - 10.0) { "max " (max) " / h" }
        }
        p class="legend" {
            span class="key key-ok" {} " completed "
            span class="key key-bad" {} " failed "
            span class="key key-rate" {} " failure rate (0–100 %)"
        }
        details {
            summary { "The numbers" }
            table {
                thead { tr { th scope="col" { "Hour (UTC)" } th scope="col" class="num" { "Created" } th scope="col" class="num" { "Completed" } th scope="col" class="num" { "Failed" } } }
                tbody {
                    @for b in series {
                        tr { td { (b.bucket_start.format("%m-%d %H:00")) } td class="num" { (b.tasks_created) } td class="num" { (b.tasks_completed) } td class="num" { (b.tasks_failed) } }
                    }
                }
            }
        }
    }
}
