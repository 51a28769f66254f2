//! Following every service container's log for as long as the engine runs.
//!
//! One task per container reads its log (`follow`) from its cursor and sends the lines to one
//! ingesting task, which stores them in batches of up to [`INGEST_BATCH`] lines, waiting at
//! most [`INGEST_LINGER`] for a batch to fill. A container's follow stream ends when the
//! container stops; the follower attaches again when it starts.
//!
//! How a start is noticed: Docker's event stream (`start` of a managed container), not a
//! poll. A restart is then picked up within the daemon's own latency instead of a poll period,
//! and an idle fleet costs no API calls. The event stream is subscribed *before* the first
//! scan, so a container started in between is seen by one or the other. A restart's `stop`
//! (the stream ending) and `start` may reach the follower in either order: a start for a
//! container still attached is remembered and acted on when its stream ends. As a safety net
//! (the event stream lost with the daemon, a stream that ended for another reason) every
//! [`RESCAN_EVERY`] the running containers are listed and any not attached is attached.
//! Nothing is lost in any of these windows: a reader resumes from the stored cursor.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chaff_docker::{ContainerStarted, DockerApi, DockerError, StartStream};
use chaff_state::{EventOrigin, NewEvent};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::reader::LogReader;
use super::{container_origin, cursor_of, event_origin, ingest};
use crate::OpError;
use crate::engine::{Engine, Inner};

/// The most lines stored in one transaction.
pub const INGEST_BATCH: usize = 512;
/// How long a batch waits for more lines once it has one.
pub const INGEST_LINGER: Duration = Duration::from_millis(50);
/// How often the running containers are listed, in case a start was missed.
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);
/// Lines read but not yet stored; readers wait (Docker keeps the log) when it is full.
const LINE_QUEUE: usize = 4 * INGEST_BATCH;
/// After the event stream failed, how long before subscribing again.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(2);
/// Attempts at storing one batch (the database may be busy) before giving it up.
const INGEST_ATTEMPTS: u32 = 3;

impl<D: DockerApi> Engine<D> {
    /// Follows the log of every service container of this database and stores, publishes and
    /// forwards each new line, until the engine shuts down. Never fails: Docker being away
    /// is logged and retried.
    pub async fn follow_events(&self) {
        let inner = Arc::clone(&self.inner);
        let (lines, queued) = mpsc::channel(LINE_QUEUE);
        // The ingester ends once every reader has ended (all senders dropped), after storing
        // what they sent.
        inner.background.spawn_on(ingest_lines(Arc::clone(&inner), queued), &inner.runtime);
        Follower::new(Arc::clone(&inner), lines).run().await;
    }
}

/// Stores queued lines in batches until every sender is gone.
async fn ingest_lines<D: DockerApi>(inner: Arc<Inner<D>>, mut queued: mpsc::Receiver<NewEvent>) {
    while let Some(first) = queued.recv().await {
        let mut batch = vec![first];
        let deadline = Instant::now() + INGEST_LINGER;
        while batch.len() < INGEST_BATCH {
            match tokio::time::timeout_at(deadline, queued.recv()).await {
                Ok(Some(event)) => batch.push(event),
                Ok(None) | Err(_) => break,
            }
        }
        store_batch(&inner, batch).await;
    }
}

/// A batch that cannot be stored is given up after a few attempts: its containers' cursors
/// did not move, so the next read of them (a restart, `collect_events`) stores it.
async fn store_batch<D: DockerApi>(inner: &Arc<Inner<D>>, batch: Vec<NewEvent>) {
    for attempt in 1..INGEST_ATTEMPTS {
        match ingest(inner, batch.clone()).await {
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(%error, attempt, "storing events failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
        }
    }
    let lines = batch.len();
    if let Err(error) = ingest(inner, batch).await {
        tracing::error!(%error, lines, "storing events failed; given up until those containers are read again");
    }
}

struct Follower<D> {
    inner: Arc<Inner<D>>,
    lines: mpsc::Sender<NewEvent>,
    /// Containers with a reading task, and where their lines come from.
    attached: HashMap<String, EventOrigin>,
    /// Attached containers that started again before their stream ended.
    restarted: HashSet<String>,
    ended_tx: mpsc::UnboundedSender<String>,
    ended: mpsc::UnboundedReceiver<String>,
}

impl<D: DockerApi> Follower<D> {
    fn new(inner: Arc<Inner<D>>, lines: mpsc::Sender<NewEvent>) -> Follower<D> {
        let (ended_tx, ended) = mpsc::unbounded_channel();
        Follower { inner, lines, attached: HashMap::new(), restarted: HashSet::new(), ended_tx, ended }
    }

    async fn run(mut self) {
        let inner = Arc::clone(&self.inner);
        let shutdown = inner.shutdown.clone();
        let mut starts = subscribe(&inner.docker).await;
        self.scan(true).await;
        let mut rescan = tokio::time::interval_at(Instant::now() + RESCAN_EVERY, RESCAN_EVERY);
        loop {
            let subscribed = starts.is_some();
            tokio::select! {
                () = shutdown.cancelled() => return,
                started = next_start(&mut starts) => match started {
                    Some(Ok(started)) => self.on_start(started),
                    Some(Err(error)) => {
                        tracing::warn!(%error, "lost Docker's event stream; subscribing again");
                        starts = None;
                    }
                    None => starts = None,
                },
                () = wait_to_resubscribe(!subscribed) => {
                    starts = subscribe(&inner.docker).await;
                    self.scan(false).await;
                }
                Some(id) = self.ended.recv() => self.on_end(&id),
                _ = rescan.tick() => self.scan(false).await,
            }
        }
    }

    /// Attaches every service container not attached: all of them with `stopped_too` (to
    /// catch up on logs written while no one followed), else the running ones.
    async fn scan(&mut self, stopped_too: bool) {
        let containers = match self.inner.docker.managed_containers().await {
            Ok(containers) => containers,
            Err(error) => {
                tracing::warn!(%error, "cannot list containers to follow");
                return;
            }
        };
        for container in containers {
            if !(stopped_too || container.is_running()) || self.attached.contains_key(&container.id) {
                continue;
            }
            if let Some(origin) = container_origin(&self.inner.owner, &container) {
                self.attach(origin);
            }
        }
    }

    fn on_start(&mut self, started: ContainerStarted) {
        let name = started.labels.get("name").cloned().unwrap_or_default();
        let Some(origin) = event_origin(&self.inner.owner, &started.id, &name, &started.labels) else {
            return;
        };
        if self.attached.contains_key(&origin.container) {
            self.restarted.insert(origin.container);
        } else {
            self.attach(origin);
        }
    }

    fn on_end(&mut self, id: &str) {
        let origin = self.attached.remove(id);
        if let (true, Some(origin)) = (self.restarted.remove(id), origin) {
            self.attach(origin);
        }
    }

    fn attach(&mut self, origin: EventOrigin) {
        tracing::debug!(container = %origin.container, decky = %origin.decky, service = %origin.service, "following");
        self.attached.insert(origin.container.clone(), origin.clone());
        let (inner, lines, ended) = (Arc::clone(&self.inner), self.lines.clone(), self.ended_tx.clone());
        let task = async move {
            let id = origin.container.clone();
            if let Err(error) = follow_container(&inner, origin, lines).await {
                tracing::debug!(container = %id, %error, "stopped following");
            }
            let _ = ended.send(id);
        };
        self.inner.background.spawn_on(task, &self.inner.runtime);
    }
}

async fn subscribe<D: DockerApi>(docker: &D) -> Option<StartStream<'_>> {
    match docker.container_starts().await {
        Ok(starts) => Some(starts),
        Err(error) => {
            tracing::warn!(%error, "cannot watch Docker's events; retrying");
            None
        }
    }
}

async fn next_start(starts: &mut Option<StartStream<'_>>) -> Option<Result<ContainerStarted, DockerError>> {
    match starts {
        Some(starts) => starts.next().await,
        None => std::future::pending().await,
    }
}

async fn wait_to_resubscribe(needed: bool) {
    if needed {
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    } else {
        std::future::pending::<()>().await;
    }
}

/// Reads one container's log from its cursor until the stream ends (the container stopped)
/// or the engine shuts down, sending each new line to the ingester.
async fn follow_container<D: DockerApi>(
    inner: &Arc<Inner<D>>,
    origin: EventOrigin,
    lines: mpsc::Sender<NewEvent>,
) -> Result<(), OpError> {
    let cursor = cursor_of(inner, &origin.container).await?;
    let mut reader = LogReader::new(origin, cursor);
    let mut log =
        inner.docker.container_logs(&reader.origin().container, reader.since_seconds(), true).await?;
    loop {
        let line = tokio::select! {
            () = inner.shutdown.cancelled() => return Ok(()),
            line = log.next() => line,
        };
        let Some(line) = line else { return Ok(()) };
        if let Some(event) = reader.accept(line?)
            && lines.send(event).await.is_err()
        {
            return Ok(()); // the ingester is gone: the engine is stopping
        }
    }
}
