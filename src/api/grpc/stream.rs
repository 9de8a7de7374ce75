//! `StreamTaskStatus`: a task's state changes, pushed as they happen.
//!
//! Driven by LISTEN/NOTIFY through the process's one [`NotificationHub`] (no connection and no
//! polling per stream): each stream subscribes to the hub's broadcast, and on a notification that
//! names its task (`tasker_task_changed` `<uuid>:<state>`, `tasker_steps_changed` `<uuid>,…`)
//! re-reads the task and its steps through the service and emits what changed since the last
//! read — step changes and the task change, ordered by when they happened. After a reconnect of
//! the listener, or when the stream fell behind the broadcast (`Lagged`), notifications may have
//! been missed, so it re-reads as well. The first message is a snapshot; the last is the change
//! into a final task state. Each stream holds one of `max_concurrent_streams` permits.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};

use tokio::sync::{broadcast, mpsc, OwnedSemaphorePermit};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::tokio_stream::Stream;
use tonic::Status;
use uuid::Uuid;

use super::convert::ts;
use super::proto::{task_status_update, StepStateChange, TaskSnapshot, TaskStateChange, TaskStatusUpdate};
use super::GrpcState;
use crate::actors::listener::{Event, CHANNEL_STEPS_CHANGED, CHANNEL_TASK_CHANGED};
use crate::model::{Step, Task, TASK_FINAL_STATES};
use crate::service::{Service, ServiceError};

/// Messages buffered per stream before the stream waits for its client.
const STREAM_BUFFER: usize = 64;

/// The response stream of `StreamTaskStatus`.
pub struct TaskStatusStream {
    inner: ReceiverStream<Result<TaskStatusUpdate, Status>>,
}

impl Stream for TaskStatusStream {
    type Item = Result<TaskStatusUpdate, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// Opens a stream on `task_uuid`: RESOURCE_EXHAUSTED beyond the permits, NOT_FOUND for an
/// unknown task, UNAVAILABLE without a notification hub.
pub(super) async fn open(state: &GrpcState, task_uuid: Uuid) -> Result<TaskStatusStream, Status> {
    let permit = state.streams.clone().try_acquire_owned().map_err(|_| {
        Status::resource_exhausted(format!(
            "too many task status streams open (at most {}); retry later",
            state.max_streams
        ))
    })?;
    let hub =
        state.service.runtime_status().map(|s| s.hub.clone()).ok_or_else(|| {
            Status::unavailable("task status streams need the notification hub, which is not running")
        })?;
    // Subscribe before the snapshot: a change committed after it is then seen as a notification.
    let events = hub.subscribe();
    let (task, steps) = read(&state.service, task_uuid).await?;
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let follower = Follower {
        service: state.service.clone(),
        task_uuid,
        task_state: task.state.clone(),
        steps: steps.iter().map(|s| (s.step_uuid, s.state.clone())).collect(),
        sequence: 0,
        tx,
        _permit: permit,
    };
    tokio::spawn(follower.run(task, steps, events, state.shutdown.clone()));
    Ok(TaskStatusStream { inner: ReceiverStream::new(rx) })
}

async fn read(service: &Service, task_uuid: Uuid) -> Result<(Task, Vec<Step>), ServiceError> {
    let task = service.get_task(task_uuid).await?;
    let steps = service.list_steps(task_uuid).await?;
    Ok((task, steps))
}

fn is_final(state: &str) -> bool {
    TASK_FINAL_STATES.contains(&state)
}

/// Whether a notification concerns `task`.
fn names_task(channel: &str, payload: &str, task: &str) -> bool {
    match channel {
        CHANNEL_TASK_CHANGED => payload.split_once(':').is_some_and(|(uuid, _)| uuid == task),
        CHANNEL_STEPS_CHANGED => payload.split(',').any(|uuid| uuid.trim() == task),
        _ => false,
    }
}

/// Sort key of the changes found by one re-read: a final task change last, then by time, a task
/// change after step changes of the same instant, steps in template order.
type ChangeOrder = (bool, DateTime<Utc>, u8, i32);

/// Why a stream stops.
enum Stop {
    /// The task reached a final state: the stream ends normally.
    Done,
    /// The client went away.
    Gone,
}

/// The task behind one stream: what was last sent, and where to send.
struct Follower {
    service: Service,
    task_uuid: Uuid,
    task_state: String,
    steps: HashMap<Uuid, String>,
    sequence: u64,
    tx: mpsc::Sender<Result<TaskStatusUpdate, Status>>,
    /// Held while the stream is open.
    _permit: OwnedSemaphorePermit,
}

impl Follower {
    async fn run(
        mut self,
        task: Task,
        steps: Vec<Step>,
        mut events: broadcast::Receiver<Event>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let terminal = is_final(&task.state);
        let snapshot = task_status_update::Update::Snapshot(TaskSnapshot {
            task: Some(task.into()),
            steps: steps.into_iter().map(Into::into).collect(),
        });
        if self.send(snapshot, terminal).await.is_err() || terminal {
            return;
        }
        let me = self.task_uuid.to_string();
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => {
                    let _ = self.tx.send(Err(Status::unavailable("the server is shutting down; reconnect to resume"))).await;
                    return;
                }
                _ = self.tx.closed() => return,
                e = events.recv() => e,
            };
            let relevant = match event {
                Ok(Event::Notification { channel, payload }) => names_task(&channel, &payload, &me),
                Ok(Event::Reconnected) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => {
                    let _ = self
                        .tx
                        .send(Err(Status::unavailable("the notification hub stopped; reconnect to resume")))
                        .await;
                    return;
                }
            };
            if !relevant {
                continue;
            }
            // A burst of notifications needs one re-read: take what is already queued.
            while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = events.try_recv() {}
            match self.refresh().await {
                Ok(None) => {}
                Ok(Some(Stop::Done | Stop::Gone)) => return,
                Err(ServiceError::Unavailable(e)) => {
                    // The database is away; the hub's reconnect will trigger the next re-read.
                    tracing::warn!(task_uuid = %self.task_uuid, error = %e, "task status stream cannot re-read its task");
                }
                Err(e) => {
                    let _ = self.tx.send(Err(e.into())).await;
                    return;
                }
            }
        }
    }

    /// Re-reads the task and its steps and sends every change since the last read.
    async fn refresh(&mut self) -> Result<Option<Stop>, ServiceError> {
        let (task, steps) = read(&self.service, self.task_uuid).await?;
        let mut changes: Vec<(ChangeOrder, task_status_update::Update)> = Vec::new();
        for step in steps {
            let previous = self.steps.insert(step.step_uuid, step.state.clone()).unwrap_or_default();
            if previous == step.state {
                continue;
            }
            let key = (false, step.updated_at, 0, step.position);
            let change = StepStateChange {
                step_uuid: step.step_uuid.to_string(),
                step_name: step.name.clone(),
                from_state: previous,
                to_state: step.state.clone(),
                changed_at: Some(ts(step.updated_at)),
                step: Some(step.into()),
            };
            changes.push((key, task_status_update::Update::StepStateChange(change)));
        }
        let terminal = is_final(&task.state);
        if task.state != self.task_state {
            // A final state comes last, whatever the clocks say: it ends the stream.
            let key = (terminal, task.updated_at, 1, 0);
            let change = TaskStateChange {
                from_state: self.task_state.clone(),
                to_state: task.state.clone(),
                changed_at: Some(ts(task.updated_at)),
                task: Some(task.into()),
            };
            changes.push((key, task_status_update::Update::TaskStateChange(change)));
        }
        changes.sort_by_key(|(key, _)| *key);
        let n = changes.len();
        for (i, (_, update)) in changes.into_iter().enumerate() {
            if self.send(update, terminal && i + 1 == n).await.is_err() {
                return Ok(Some(Stop::Gone));
            }
        }
        Ok(terminal.then_some(Stop::Done))
    }

    /// Sends one update; `task_state` is the task's state once it is applied.
    async fn send(&mut self, update: task_status_update::Update, terminal: bool) -> Result<(), ()> {
        match &update {
            task_status_update::Update::TaskStateChange(c) => self.task_state = c.to_state.clone(),
            task_status_update::Update::Snapshot(s) => {
                if let Some(t) = &s.task {
                    self.task_state = t.state.clone();
                }
            }
            task_status_update::Update::StepStateChange(_) => {}
        }
        self.sequence += 1;
        let message = TaskStatusUpdate {
            task_uuid: self.task_uuid.to_string(),
            sequence: self.sequence,
            task_state: self.task_state.clone(),
            terminal,
            update: Some(update),
        };
        self.tx.send(Ok(message)).await.map_err(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_matched_to_their_task() {
        let t = "0190a5c4-0000-7000-8000-000000000001";
        assert!(names_task(CHANNEL_TASK_CHANGED, &format!("{t}:complete"), t));
        assert!(!names_task(CHANNEL_TASK_CHANGED, "0190a5c4-0000-7000-8000-000000000002:complete", t));
        assert!(names_task(CHANNEL_STEPS_CHANGED, &format!("0190a5c4-0000-7000-8000-000000000002,{t}"), t));
        assert!(!names_task(CHANNEL_STEPS_CHANGED, "0190a5c4-0000-7000-8000-000000000002", t));
        assert!(!names_task("tasker_dlq", t, t));
    }
}
