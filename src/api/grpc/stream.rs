//! `StreamTaskStatus`: every state change of a task and its steps, pushed as it happens.
//!
//! Driven by LISTEN/NOTIFY through the process's one [`NotificationHub`] (no connection and no
//! polling per stream): each stream subscribes to the hub's broadcast, then reads a snapshot of
//! the task and its steps in one REPEATABLE READ transaction, keeping that transaction's database
//! snapshot as its cursor. The first message is the snapshot. On a notification naming its task
//! (`tasker_task_changed` `<uuid>:<state>`, `tasker_steps_changed` `<uuid>,…`), after a reconnect
//! of the listener, or when the stream fell behind the broadcast (`Lagged`), it reads the changes
//! committed after its cursor (`tasker.task_history_after`: the history rows written by
//! transactions the cursor's snapshot does not see) together with the task (when it changed) and
//! the steps that changed, and moves its cursor to that read's snapshot. So every transition is
//! sent once, a change is never sent before one that committed earlier, and a read costs what
//! changed, not the task's whole history. The last message is the change into a final task
//! state. Each stream holds one of `max_concurrent_streams` permits.
//!
//! [`NotificationHub`]: crate::actors::listener::NotificationHub

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::{broadcast, mpsc, OwnedSemaphorePermit};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::tokio_stream::Stream;
use tonic::Status;
use uuid::Uuid;

use super::convert::ts;
use super::proto::{task_status_update, StepStateChange, TaskSnapshot, TaskStateChange, TaskStatusUpdate};
use super::GrpcState;
use crate::actors::listener::{Event, CHANNEL_STEPS_CHANGED, CHANNEL_TASK_CHANGED};
use crate::model::{FollowCursor, Step, Task, TaskChanges, TASK_FINAL_STATES};
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
    // Subscribe before the snapshot, so no notification of a later change is missed; the
    // snapshot's cursor says which changes it already shows.
    let events = hub.subscribe();
    let (task, steps, cursor) = state.service.task_snapshot(task_uuid).await?;
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    let follower = Follower {
        service: state.service.clone(),
        task_uuid,
        task_state: task.state.clone(),
        cursor,
        sequence: 0,
        tx,
        _permit: permit,
    };
    tokio::spawn(follower.run(task, steps, events, state.shutdown.clone()));
    Ok(TaskStatusStream { inner: ReceiverStream::new(rx) })
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

/// Why a stream stops.
enum Stop {
    /// The task reached a final state: the stream ends normally.
    Done,
    /// The client went away.
    Gone,
}

/// The task behind one stream: where its snapshot stands, what was sent since, where to send.
struct Follower {
    service: Service,
    task_uuid: Uuid,
    task_state: String,
    /// The snapshot of the last read: every change committed before it was sent.
    cursor: FollowCursor,
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
        // Changes committed between the snapshot and the subscription's first event are in the
        // history after the cursor: look once now.
        match self.refresh().await {
            Ok(Some(Stop::Done | Stop::Gone)) => return,
            Ok(None) => {}
            Err(e) => {
                let _ = self.tx.send(Err(e.into())).await;
                return;
            }
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
            // A burst of notifications needs one read: take what is already queued.
            while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = events.try_recv() {}
            match self.refresh().await {
                Ok(None) => {}
                Ok(Some(Stop::Done | Stop::Gone)) => return,
                Err(ServiceError::Unavailable(e)) => {
                    // The database is away; the hub's reconnect will trigger the next read.
                    tracing::warn!(task_uuid = %self.task_uuid, error = %e, "task status stream cannot read its task");
                }
                Err(e) => {
                    let _ = self.tx.send(Err(e.into())).await;
                    return;
                }
            }
        }
    }

    /// Sends every change committed since the cursor, in order, and moves the cursor; stops
    /// after the change into a final task state.
    async fn refresh(&mut self) -> Result<Option<Stop>, ServiceError> {
        let TaskChanges { events, task, steps, cursor } =
            self.service.task_changes_after(self.task_uuid, &self.cursor).await?;
        self.cursor = cursor;
        for event in events {
            let update = match event.step_uuid {
                Some(step_uuid) if event.kind == "step" => {
                    task_status_update::Update::StepStateChange(StepStateChange {
                        step_uuid: step_uuid.to_string(),
                        step_name: event.step_name.clone().unwrap_or_default(),
                        from_state: event.from_state.clone().unwrap_or_default(),
                        to_state: event.to_state.clone(),
                        changed_at: Some(ts(event.created_at)),
                        step: steps.iter().find(|s| s.step_uuid == step_uuid).cloned().map(Into::into),
                        event: event.event.clone(),
                        attempt: event.attempt.unwrap_or_default(),
                    })
                }
                _ => task_status_update::Update::TaskStateChange(TaskStateChange {
                    from_state: event.from_state.clone().unwrap_or_default(),
                    to_state: event.to_state.clone(),
                    changed_at: Some(ts(event.created_at)),
                    task: task.clone().map(Into::into),
                    event: event.event.clone(),
                }),
            };
            let terminal = event.kind == "task" && is_final(&event.to_state);
            if self.send(update, terminal).await.is_err() {
                return Ok(Some(Stop::Gone));
            }
            if terminal {
                return Ok(Some(Stop::Done));
            }
        }
        Ok(None)
    }

    /// Sends one update; `terminal` marks the last message of the stream.
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
