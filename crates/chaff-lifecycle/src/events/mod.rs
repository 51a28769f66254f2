//! Sensor events, engine side: read the service containers' logs, store each line once,
//! publish it on the bus, forward it to the fleet's syslog target.
//!
//! Two ways in:
//! * [`Engine::collect_events`] catches up: every managed service container's log, from its
//!   cursor to now, then returns (the CLI's `chaff events`);
//! * [`Engine::follow_events`] keeps following until shutdown ([`Engine::watch`] runs it, and
//!   the desktop app can).
//!
//! Invariants:
//! * only service containers (roles `service` and `fleet-service`) this database created
//!   (its owner label) are read — never another database's, never a base container;
//! * a line is stored once whoever reads it and however often (see [`reader`] and the store),
//!   so catch-up, following, a second process and a restart may all overlap;
//! * a service container the runner removes (teardown, mutation, recreation, service
//!   removal) has its log read to the end first, best effort;
//! * every event stored by this process is published on `attacker.observed` (type: the
//!   event's kind, payload: [`StoredEvent::to_json`] plus `fleet`) and offered to its fleet's
//!   forwarder; neither can fail or slow ingestion.

mod follow;
mod forward;
mod reader;
pub mod syslog;

use std::collections::HashMap;
use std::sync::Arc;

use chaff_bus::{Event, topics};
use chaff_docker::{ContainerState, DockerApi};
use chaff_engine::LogTarget;
use chaff_engine::naming::labels;
use chaff_state::{EventCursor, EventOrigin, EventQuery, NewEvent, StoredEvent};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

pub use follow::{INGEST_BATCH, INGEST_LINGER, RESCAN_EVERY};
pub use forward::{FLUSH_ON_SHUTDOWN, FORWARD_QUEUE, ForwardStats, RECONNECT_AFTER, SEND_TIMEOUT};

use crate::OpError;
use crate::engine::{Engine, Inner, lock};
use crate::runner::blocking;
pub(crate) use forward::Forwarder;
use reader::LogReader;

/// What one [`Engine::collect_events`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// Service containers whose logs were read.
    pub containers: usize,
    /// Lines read past the cursors.
    pub lines: usize,
    /// Of those, the ones stored now (the rest were stored already).
    pub stored: usize,
    /// Of the stored ones, lines that were not sensor events.
    pub malformed: usize,
}

/// Roles of containers that run a sensor serving attackers.
const SERVICE_ROLES: [&str; 2] = ["service", "fleet-service"];

impl<D: DockerApi> Engine<D> {
    /// Reads every managed service container's log (running or not) from its cursor up to
    /// now, and stores, publishes and forwards what is new. Containers are read one after the
    /// other; the cursors of containers that no longer exist are forgotten (their events
    /// stay).
    pub async fn collect_events(&self) -> Result<Collected, OpError> {
        let sources = event_sources(&self.inner).await?;
        let ids: Vec<String> = sources.iter().map(|s| s.container.clone()).collect();
        self.inner.with_store(|store| Ok(store.forget_event_cursors_except(&ids)?))?;
        let mut collected = Collected::default();
        for origin in sources {
            let one = collect_container(&self.inner, origin).await?;
            collected.containers += 1;
            collected.lines += one.lines;
            collected.stored += one.stored;
            collected.malformed += one.malformed;
        }
        tracing::info!(
            containers = collected.containers,
            stored = collected.stored,
            malformed = collected.malformed,
            "collected events"
        );
        Ok(collected)
    }

    /// Stored events matching `query` (see [`EventQuery`]).
    pub fn events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, OpError> {
        self.inner.with_store(|store| Ok(store.events(query)?))
    }

    /// How many stored lines were not sensor events.
    pub fn malformed_events(&self) -> Result<u64, OpError> {
        self.inner.with_store(|store| Ok(store.malformed_count()?))
    }

    /// Sent and dropped counts of each fleet's syslog forwarding in this process.
    pub fn forwarding_stats(&self) -> HashMap<String, ForwardStats> {
        lock(&self.inner.forwarders).iter().map(|(fleet, f)| (fleet.clone(), f.stats())).collect()
    }
}

/// The origins of this database's service containers, running or not.
async fn event_sources<D: DockerApi>(inner: &Inner<D>) -> Result<Vec<EventOrigin>, OpError> {
    let containers = inner.docker.managed_containers().await?;
    Ok(containers.iter().filter_map(|c| container_origin(&inner.owner, c)).collect())
}

/// This database's service containers by container name (what the runner's steps name).
pub(crate) async fn sources_by_name<D: DockerApi>(
    inner: &Inner<D>,
) -> Result<HashMap<String, EventOrigin>, OpError> {
    let containers = inner.docker.managed_containers().await?;
    Ok(containers.iter().filter_map(|c| Some((c.name.clone(), container_origin(&inner.owner, c)?))).collect())
}

/// Reads a service container's log to its end before the container is removed (its log goes
/// with it). Best effort: a failure is logged, and the removal goes ahead.
pub(crate) async fn save_before_removal<D: DockerApi>(inner: &Arc<Inner<D>>, origin: &EventOrigin) {
    match collect_container(inner, origin.clone()).await {
        Ok(collected) if collected.stored > 0 => {
            tracing::debug!(container = %origin.container, stored = collected.stored, "events saved before removal")
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(container = %origin.container, %error, "events not saved before removal")
        }
    }
}

/// Where the lines of a container come from, if it is one of `owner`'s service containers.
fn event_origin(
    owner: &str,
    id: &str,
    name: &str,
    container_labels: &HashMap<String, String>,
) -> Option<EventOrigin> {
    let label = |key: &str| container_labels.get(key).map(String::as_str);
    if label(labels::OWNER) != Some(owner) || !label(labels::ROLE).is_some_and(|r| SERVICE_ROLES.contains(&r))
    {
        return None;
    }
    Some(EventOrigin {
        container: id.to_owned(),
        fleet: label(labels::FLEET)?.to_owned(),
        // A fleet service belongs to no decky: its container name is its host name.
        decky: label(labels::DECKY).unwrap_or(name).to_owned(),
        service: label(labels::SERVICE)?.to_owned(),
    })
}

pub(crate) fn container_origin(owner: &str, container: &ContainerState) -> Option<EventOrigin> {
    event_origin(owner, &container.id, &container.name, &container.labels)
}

/// Reads one container's log from its cursor to its current end, ingesting in batches.
async fn collect_container<D: DockerApi>(
    inner: &Arc<Inner<D>>,
    origin: EventOrigin,
) -> Result<Collected, OpError> {
    let cursor = cursor_of(inner, &origin.container).await?;
    let mut reader = LogReader::new(origin, cursor);
    let mut lines =
        inner.docker.container_logs(&reader.origin().container, reader.since_seconds(), false).await?;
    let mut collected = Collected::default();
    let mut batch = Vec::with_capacity(INGEST_BATCH);
    while let Some(line) = lines.next().await {
        let Some(event) = reader.accept(line?) else { continue };
        collected.lines += 1;
        batch.push(event);
        if batch.len() >= INGEST_BATCH {
            add(&mut collected, ingest(inner, std::mem::take(&mut batch)).await?);
        }
    }
    if !batch.is_empty() {
        add(&mut collected, ingest(inner, batch).await?);
    }
    Ok(collected)
}

fn add(collected: &mut Collected, stored: Vec<StoredEvent>) {
    collected.stored += stored.len();
    collected.malformed += stored.iter().filter(|e| e.is_malformed()).count();
}

pub(crate) async fn cursor_of<D: DockerApi>(
    inner: &Arc<Inner<D>>,
    container: &str,
) -> Result<Option<EventCursor>, OpError> {
    let container = container.to_owned();
    blocking(inner, move |inner| Ok(lock(&inner.store).event_cursor(&container)?)).await
}

/// Stores `events` (one transaction), then publishes and forwards the new ones. Returns them.
pub(crate) async fn ingest<D: DockerApi>(
    inner: &Arc<Inner<D>>,
    events: Vec<NewEvent>,
) -> Result<Vec<StoredEvent>, OpError> {
    let (stored, targets) = blocking(inner, move |inner| -> Result<_, OpError> {
        let mut store = lock(&inner.store);
        let ingested = store.ingest_events(events, inner.timestamp())?;
        let targets =
            if ingested.inserted.is_empty() { HashMap::new() } else { store.fleet_log_targets()? };
        Ok((ingested.inserted, targets))
    })
    .await?;
    for event in &stored {
        publish(inner, event);
    }
    forward(inner, &targets, &stored);
    Ok(stored)
}

/// An event as it is published and shown: [`StoredEvent::to_json`] with its `fleet`.
pub fn event_json(event: &StoredEvent) -> Value {
    let mut payload = event.to_json();
    if let Value::Object(object) = &mut payload {
        object.entry("fleet").or_insert_with(|| event.fleet.clone().into());
    }
    payload
}

/// `attacker.observed`, type the event's kind, payload [`event_json`].
fn publish<D>(inner: &Inner<D>, event: &StoredEvent) {
    let payload = event_json(event);
    let topic = topics::attacker(topics::ATTACKER_OBSERVED);
    inner.publish(topic.map(|topic| Event::new(topic, event.kind.clone(), payload, inner.stamp())));
}

/// Offers each event to its fleet's forwarder, starting (or re-targeting) forwarders to
/// match `targets` (fleet → `log_target` as stored). A target that does not parse (written
/// before targets were checked) is logged and not forwarded to.
fn forward<D>(inner: &Inner<D>, targets: &HashMap<String, Option<String>>, events: &[StoredEvent]) {
    let mut forwarders = lock(&inner.forwarders);
    for event in events {
        let Some(Some(text)) = targets.get(&event.fleet) else {
            forwarders.remove(&event.fleet);
            continue;
        };
        let Ok(target) = text.parse::<LogTarget>() else {
            tracing::warn!(fleet = %event.fleet, log_target = %text, "not a valid log target; events not forwarded");
            continue;
        };
        if !forwarders.get(&event.fleet).is_some_and(|current| *current.target() == target) {
            // A new target replaces the old forwarder, which sends what it holds and ends.
            let started = Forwarder::spawn(
                target,
                FORWARD_QUEUE,
                &inner.runtime,
                &inner.background,
                inner.shutdown.clone(),
            );
            forwarders.insert(event.fleet.clone(), started);
        }
        forwarders[&event.fleet].offer(syslog::format(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container_labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn only_this_databases_service_containers_are_sources() {
        let service = container_labels(&[
            (labels::OWNER, "me"),
            (labels::ROLE, "service"),
            (labels::FLEET, "lab"),
            (labels::DECKY, "web"),
            (labels::SERVICE, "redis"),
        ]);
        let origin = event_origin("me", "id1", "web-redis", &service).unwrap();
        assert_eq!(
            origin,
            EventOrigin {
                container: "id1".into(),
                fleet: "lab".into(),
                decky: "web".into(),
                service: "redis".into()
            }
        );
        assert_eq!(event_origin("someone-else", "id1", "web-redis", &service), None);
        let mut base = service.clone();
        base.insert(labels::ROLE.into(), "base".into());
        assert_eq!(event_origin("me", "id1", "web", &base), None);
        let mut unowned = service.clone();
        unowned.remove(labels::OWNER);
        assert_eq!(event_origin("me", "id1", "web-redis", &unowned), None);

        let sniffer = container_labels(&[
            (labels::OWNER, "me"),
            (labels::ROLE, "fleet-service"),
            (labels::FLEET, "lab"),
            (labels::SERVICE, "sniffer"),
        ]);
        assert_eq!(event_origin("me", "id2", "lab-sniffer", &sniffer).unwrap().decky, "lab-sniffer");
    }
}
