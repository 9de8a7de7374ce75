//! A LISTEN connection that reconnects by itself: the one reconnect policy shared by the server's
//! notification hub (`actors::listener`) and the worker runtime.
//!
//! [`ReconnectingListener::recv`] yields notifications, and tells its caller whenever the connection
//! is (re-)established ([`ListenEvent::Connected`]): notifications sent while nobody was listening
//! are lost, so the caller should then look for work as if it had been notified about everything.
//! A connection that cannot be opened is retried with exponential backoff until the caller stops.

use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgNotification};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// First pause before reconnecting after a failure; doubled per consecutive failure.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A connection that stayed up this long before it dropped resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// What [`ReconnectingListener::recv`] reports.
#[derive(Debug)]
pub enum ListenEvent {
    /// The connection is up and listening on every channel. `reconnect` is false the first
    /// time: when true, notifications may have been missed since the last connection.
    Connected {
        /// Whether this is a re-connection.
        reconnect: bool,
    },
    /// The connection was lost; the next calls reconnect (after a backoff).
    Disconnected,
    /// A notification on one of the channels.
    Notification(PgNotification),
}

/// A LISTEN connection on fixed channels, re-opened (and re-LISTENed) whenever it drops.
pub struct ReconnectingListener {
    pool: PgPool,
    channels: Vec<String>,
    listener: Option<PgListener>,
    /// Consecutive failures (connection errors, or drops of a connection that never proved
    /// healthy): the exponent of the backoff.
    failures: u32,
    connected_once: bool,
    connected_at: Instant,
}

impl std::fmt::Debug for ReconnectingListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconnectingListener")
            .field("channels", &self.channels)
            .field("connected", &self.listener.is_some())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl ReconnectingListener {
    /// A listener on `channels` over a connection taken from `pool` (it keeps that connection while
    /// connected). Nothing is opened until the first [`recv`](Self::recv).
    pub fn new<I, S>(pool: PgPool, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            pool,
            channels: channels.into_iter().map(Into::into).collect(),
            listener: None,
            failures: 0,
            connected_once: false,
            connected_at: Instant::now(),
        }
    }

    /// Whether the connection is currently up.
    pub fn is_connected(&self) -> bool {
        self.listener.is_some()
    }

    /// The next event, connecting first if needed. `None` once `stop` is cancelled or the pool is
    /// closed (a closed pool cannot give a connection again).
    pub async fn recv(&mut self, stop: &CancellationToken) -> Option<ListenEvent> {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                if self.failures > 0 && sleep_or_stop(backoff(self.failures), stop).await {
                    return None;
                }
                let connected = tokio::select! {
                    _ = stop.cancelled() => return None,
                    r = connect(&self.pool, &self.channels) => r,
                };
                match connected {
                    Ok(l) => {
                        debug!(channels = ?self.channels, "listening");
                        self.listener = Some(l);
                        self.connected_at = Instant::now();
                        let reconnect = std::mem::replace(&mut self.connected_once, true);
                        return Some(ListenEvent::Connected { reconnect });
                    }
                    Err(sqlx::Error::PoolClosed) => return None,
                    Err(e) => {
                        self.failures += 1;
                        warn!(error = %e, channels = ?self.channels, "cannot LISTEN; retrying");
                        continue;
                    }
                }
            };
            let next = tokio::select! {
                _ = stop.cancelled() => return None,
                n = listener.try_recv() => n,
            };
            return match next {
                Ok(Some(n)) => {
                    self.failures = 0;
                    Some(ListenEvent::Notification(n))
                }
                // sqlx re-established the connection and re-listened before returning None
                // (its eager reconnect): only what was sent in between is lost.
                Ok(None) => {
                    info!(channels = ?self.channels, "notification connection re-established");
                    self.connected_at = Instant::now();
                    Some(ListenEvent::Connected { reconnect: true })
                }
                Err(sqlx::Error::PoolClosed) => {
                    self.listener = None;
                    None
                }
                Err(e) => {
                    self.listener = None;
                    if self.connected_at.elapsed() >= HEALTHY_AFTER {
                        self.failures = 0;
                    }
                    self.failures += 1;
                    warn!(error = %e, channels = ?self.channels, "notification connection lost; reconnecting");
                    Some(ListenEvent::Disconnected)
                }
            };
        }
    }
}

async fn connect(pool: &PgPool, channels: &[String]) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // End the wait with PoolClosed when the pool closes, rather than holding its connection.
    listener.ignore_pool_close_event(false);
    listener.listen_all(channels.iter().map(String::as_str)).await?;
    Ok(listener)
}

/// `INITIAL_BACKOFF * 2^(failures - 1)`, at most [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    INITIAL_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(MAX_BACKOFF)
}

/// Sleeps `d` unless `stop` fires first; returns whether it fired.
async fn sleep_or_stop(d: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_initial_pause_up_to_the_cap() {
        assert_eq!(backoff(1), INITIAL_BACKOFF);
        assert_eq!(backoff(2), INITIAL_BACKOFF * 2);
        assert_eq!(backoff(4), INITIAL_BACKOFF * 8);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
