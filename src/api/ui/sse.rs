//! Server-sent events that tell an open page to re-render: fed by the process's one notification
//! hub (the LISTEN connection the gRPC `StreamTaskStatus` uses), so an open browser costs no
//! database connection and no polling. Each stream holds one of [`super::MAX_EVENT_STREAMS`]
//! permits and ends when the server shuts down.
//!
//! Events are only hints (`event: change`, data: the new task state or `steps`): the page then
//! fetches itself again. A burst of notifications (a running fan-out) is coalesced into one event
//! per [`COALESCE`]. After a reconnect of the hub or a lagging subscriber, a change is sent too,
//! since notifications may have been missed.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::{broadcast, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;

use super::page::UiError;
use super::pages::task::parse_uuid;
use super::session::Viewer;
use super::UiState;
use crate::actors::listener::{Event, CHANNEL_DLQ, CHANNEL_STEPS_CHANGED, CHANNEL_TASK_CHANGED};

/// Notifications arriving within this long after the first are sent as one event.
pub const COALESCE: Duration = Duration::from_millis(250);
/// The overview re-renders at most this often (it counts every task).
pub const OVERVIEW_COALESCE: Duration = Duration::from_secs(2);

/// What a stream reacts to.
#[derive(Debug, Clone)]
enum Filter {
    /// Changes of one task and its steps.
    Task(String),
    /// Any task state change or DLQ entry.
    Overview,
}

impl Filter {
    /// The event data for a notification that concerns this stream, if it does.
    fn matches(&self, channel: &str, payload: &str) -> Option<String> {
        match (self, channel) {
            (Filter::Task(me), CHANNEL_TASK_CHANGED) => {
                payload.split_once(':').filter(|(uuid, _)| uuid == me).map(|(_, state)| state.to_string())
            }
            (Filter::Task(me), CHANNEL_STEPS_CHANGED) => {
                payload.split(',').any(|u| u.trim() == me).then(|| "steps".to_string())
            }
            (Filter::Overview, CHANNEL_TASK_CHANGED | CHANNEL_DLQ) => Some(channel.to_string()),
            _ => None,
        }
    }
}

/// `/ui/tasks/{uuid}/events`: changes of one task.
pub async fn task_events(
    State(state): State<UiState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, UiError> {
    state.require(&viewer, "tasks:read")?;
    let task_uuid = parse_uuid("task uuid", &raw)?;
    // An unknown task is a 404 here too, not a stream that never says anything.
    state.service.get_task(task_uuid).await?;
    open(&state, Filter::Task(task_uuid.to_string()), COALESCE)
}

/// `/ui/events`: task state changes and DLQ entries, for the overview.
pub async fn overview_events(State(state): State<UiState>, viewer: Viewer) -> Result<Response, UiError> {
    state.require_login(&viewer)?;
    open(&state, Filter::Overview, OVERVIEW_COALESCE)
}

fn open(state: &UiState, filter: Filter, coalesce: Duration) -> Result<Response, UiError> {
    let unavailable = |m: &str| UiError::new(StatusCode::SERVICE_UNAVAILABLE, m);
    let permit = state
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| unavailable("Too many live pages are open; reload later."))?;
    let hub = state
        .service
        .runtime_status()
        .map(|s| s.hub.clone())
        .ok_or_else(|| unavailable("Live updates need the notification hub, which is not running."))?;
    let events = hub.subscribe();
    let s = follow(events, filter, coalesce, state.shutdown.clone(), permit);
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}

struct Follow {
    events: broadcast::Receiver<Event>,
    filter: Filter,
    coalesce: Duration,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
}

/// The event stream: waits for a relevant notification, gathers what follows within `coalesce`,
/// and yields one `change` event; ends on shutdown or when the hub stops.
fn follow(
    events: broadcast::Receiver<Event>,
    filter: Filter,
    coalesce: Duration,
    shutdown: CancellationToken,
    permit: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let state = Follow { events, filter, coalesce, shutdown, _permit: permit };
    stream::unfold(state, |mut f| async move {
        let data = loop {
            let next = tokio::select! {
                () = f.shutdown.cancelled() => return None,
                e = f.events.recv() => e,
            };
            match next {
                Ok(Event::Notification { channel, payload }) => {
                    if let Some(d) = f.filter.matches(&channel, &payload) {
                        break d;
                    }
                }
                Ok(Event::Reconnected) | Err(broadcast::error::RecvError::Lagged(_)) => break "resync".to_string(),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        };
        // Let a burst settle, then report once (the last task state seen wins).
        let mut data = data;
        let settle = tokio::time::sleep(f.coalesce);
        tokio::pin!(settle);
        loop {
            tokio::select! {
                () = &mut settle => break,
                () = f.shutdown.cancelled() => return None,
                e = f.events.recv() => match e {
                    Ok(Event::Notification { channel, payload }) => {
                        if let Some(d) = f.filter.matches(&channel, &payload) {
                            if d != "steps" {
                                data = d;
                            }
                        }
                    }
                    Ok(Event::Reconnected) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
        Some((Ok(SseEvent::default().event("change").data(data)), f))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_stream_reacts_to_its_own_task_only() {
        let f = Filter::Task("t1".into());
        assert_eq!(f.matches(CHANNEL_TASK_CHANGED, "t1:complete").as_deref(), Some("complete"));
        assert_eq!(f.matches(CHANNEL_TASK_CHANGED, "t2:complete"), None);
        assert_eq!(f.matches(CHANNEL_STEPS_CHANGED, "t2, t1").as_deref(), Some("steps"));
        assert_eq!(f.matches(CHANNEL_STEPS_CHANGED, "t2"), None);
        assert_eq!(f.matches(CHANNEL_DLQ, "t1"), None);
        assert!(Filter::Overview.matches(CHANNEL_DLQ, "t1").is_some());
        assert!(Filter::Overview.matches(CHANNEL_STEPS_CHANGED, "t1").is_none());
    }
}
