//! Scheduled mutation (the original's `mutate_interval` semantics).
//!
//! A decky's interval is its own `mutate_interval`, else its fleet's, else
//! [`chaff_engine::model::DEFAULT_MUTATE_INTERVAL`] minutes; it is due when at least that long
//! has passed since its `last_mutated`. [`due`] is pure; [`Engine::watch`] loops on it.

use std::time::Duration;

use chaff_bus::Trigger;
use chaff_docker::DockerApi;
use chaff_engine::Fleet;
use serde::Serialize;

use crate::engine::Engine;
use crate::{ErrorCode, OpError};

/// The longest the watch loop sleeps, so a fleet deployed meanwhile is noticed.
pub const MAX_WATCH_SLEEP: Duration = Duration::from_secs(60);
/// The shortest, so a decky that keeps failing does not spin the loop.
pub const MIN_WATCH_SLEEP: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Due {
    /// Deckies due now, in fleet order.
    pub now: Vec<String>,
    /// Seconds until the earliest decky not yet due, if any.
    pub next_in: Option<u64>,
}

/// Which deckies of `fleet` are due at `now` (unix seconds).
pub fn due(fleet: &Fleet, now: u64) -> Due {
    let mut due = Due::default();
    for decky in &fleet.deckies {
        let interval = u64::from(fleet.effective_mutate_interval(decky)) * 60;
        let elapsed = now.saturating_sub(decky.last_mutated);
        if elapsed >= interval {
            due.now.push(decky.name.clone());
        } else {
            let remaining = interval - elapsed;
            due.next_in = Some(due.next_in.map_or(remaining, |n| n.min(remaining)));
        }
    }
    due
}

impl<D: DockerApi> Engine<D> {
    /// Mutates every due decky once; returns how long until the next one is due. A decky
    /// with an operation in progress is skipped (it is picked up on a later pass).
    pub fn mutate_due(&self) -> Result<(Vec<crate::Accepted>, Option<Duration>), OpError> {
        let now = self.inner.unix_seconds();
        let mut accepted = Vec::new();
        let mut next: Option<u64> = None;
        for name in self.fleet_names()? {
            let Some(fleet) = self.fleet(&name)? else { continue };
            let due = due(&fleet, now);
            next = match (next, due.next_in) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for decky in due.now {
                match self.mutate(&decky, Trigger::Scheduled) {
                    Ok(ok) => accepted.push(ok),
                    Err(error) if error.code() == ErrorCode::Conflict => {
                        tracing::debug!(%decky, %error, "busy; mutation deferred");
                        next = Some(next.map_or(1, |n| n.min(1)));
                    }
                    Err(error) => tracing::warn!(%decky, %error, "scheduled mutation refused"),
                }
            }
        }
        Ok((accepted, next.map(Duration::from_secs)))
    }

    /// Watches the fleets until the engine shuts down: scheduled mutation
    /// ([`Engine::mutate_on_schedule`]) and event collection ([`Engine::follow_events`]).
    pub async fn watch(&self) {
        tokio::join!(self.mutate_on_schedule(), self.follow_events());
    }

    /// Runs scheduled mutation until the engine shuts down: mutate what is due, sleep until
    /// the next decky is due (between [`MIN_WATCH_SLEEP`] and [`MAX_WATCH_SLEEP`]).
    pub async fn mutate_on_schedule(&self) {
        loop {
            let engine = self.clone();
            let pass = tokio::task::spawn_blocking(move || engine.mutate_due()).await;
            let sleep = match pass {
                Ok(Ok((accepted, next))) => {
                    if !accepted.is_empty() {
                        tracing::info!(count = accepted.len(), "scheduled mutations started");
                    }
                    next.unwrap_or(MAX_WATCH_SLEEP)
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "scheduled mutation pass failed");
                    MAX_WATCH_SLEEP
                }
                Err(error) => {
                    tracing::error!(%error, "scheduled mutation pass panicked");
                    MAX_WATCH_SLEEP
                }
            };
            let sleep = sleep.clamp(MIN_WATCH_SLEEP, MAX_WATCH_SLEEP);
            tokio::select! {
                () = self.inner.shutdown.cancelled() => return,
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
