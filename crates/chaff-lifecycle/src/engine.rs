//! The engine: state, plugins, Docker and the bus, shared by operations and the runner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chaff_bus::{Bus, Event, Stamp};
use chaff_docker::DockerApi;
use chaff_plugin_host::PluginHost;
use chaff_state::{Store, Timestamp, Uuid};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::OpError;

/// How many deckies one operation drives at once. Docker serialises much of its work
/// internally; beyond this, more parallel requests only queue inside the daemon.
pub const MAX_PARALLEL_DECKIES: usize = 8;

/// The mutate strategy used when none is configured: the original's service rotation.
pub const DEFAULT_MUTATE_STRATEGY: &str = "rotate";

/// Where the engine reads the time. Passed in so scheduling and timestamps are testable.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub struct EngineOptions {
    pub clock: Clock,
    /// Seeds the engine's random choices (mutation seeds, hostnames on import).
    pub seed: u64,
    /// At most this many deckies of one operation are worked on at once.
    pub max_parallel_deckies: usize,
    pub mutate_strategy: String,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            clock: Arc::new(SystemTime::now),
            seed: fastrand::u64(..),
            max_parallel_deckies: MAX_PARALLEL_DECKIES,
            mutate_strategy: DEFAULT_MUTATE_STRATEGY.to_owned(),
        }
    }
}

/// The lifecycle engine. Cheap to clone; every clone drives the same state.
///
/// Operations are synchronous (they validate, run plugins and write SQLite: call them from a
/// blocking context in async code) and spawn their work on the runtime given to
/// [`Engine::new`]. Queries that need Docker are async.
pub struct Engine<D: DockerApi> {
    pub(crate) inner: Arc<Inner<D>>,
}

impl<D: DockerApi> Clone for Engine<D> {
    fn clone(&self) -> Self {
        Engine { inner: Arc::clone(&self.inner) }
    }
}

pub(crate) struct Inner<D> {
    pub(crate) store: Mutex<Store>,
    pub(crate) plugins: PluginHost,
    pub(crate) docker: D,
    pub(crate) bus: Bus,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) clock: Clock,
    pub(crate) rng: Mutex<fastrand::Rng>,
    pub(crate) max_parallel_deckies: usize,
    pub(crate) mutate_strategy: String,
    /// This database's [`chaff_engine::naming::labels::OWNER`] value (see [`owner_id`]).
    pub(crate) owner: String,
    /// Cancellation of every open row this process is running, by lifecycle id.
    pub(crate) running: Mutex<HashMap<Uuid, CancellationToken>>,
    pub(crate) shutdown: CancellationToken,
    /// Lifecycle jobs: [`Engine::idle`] waits for these.
    pub(crate) tasks: TaskTracker,
    /// Long-lived work that is not an operation (log readers, the event ingester, syslog
    /// forwarders): ends at shutdown, which waits for it.
    pub(crate) background: TaskTracker,
    /// Syslog forwarding per fleet (see [`crate::events`]).
    pub(crate) forwarders: Mutex<HashMap<String, crate::events::Forwarder>>,
}

/// A poisoned lock only means a panic elsewhere mid-update; the data (a connection, a map,
/// an rng) is still usable, and the runner must keep closing rows.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<D: DockerApi> Engine<D> {
    pub fn new(
        store: Store,
        plugins: PluginHost,
        docker: D,
        bus: Bus,
        runtime: tokio::runtime::Handle,
        options: EngineOptions,
    ) -> Engine<D> {
        let owner = owner_id(store.path());
        Engine {
            inner: Arc::new(Inner {
                owner,
                store: Mutex::new(store),
                plugins,
                docker,
                bus,
                runtime,
                clock: options.clock,
                rng: Mutex::new(fastrand::Rng::with_seed(options.seed)),
                max_parallel_deckies: options.max_parallel_deckies.max(1),
                mutate_strategy: options.mutate_strategy,
                running: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
                background: TaskTracker::new(),
                forwarders: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    pub fn plugins(&self) -> &PluginHost {
        &self.inner.plugins
    }

    pub fn docker(&self) -> &D {
        &self.inner.docker
    }

    /// Asks the job running row `id` to stop before its next step; the row then fails with
    /// "cancelled". `false` when no job of this process runs it.
    pub fn cancel(&self, id: Uuid) -> bool {
        match lock(&self.inner.running).get(&id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every running job and waits for all of them to close their rows, then for the
    /// background work (event readers and forwarders: they flush what they hold, bounded).
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        lock(&self.inner.forwarders).clear();
        self.inner.background.close();
        self.inner.background.wait().await;
    }

    /// Resolves once [`Engine::shutdown`] has begun: long-lived work of the embedder ends then.
    pub async fn stopped(&self) {
        self.inner.shutdown.cancelled().await;
    }

    /// Waits until every job spawned so far has finished (tests and the CLI's `--wait`).
    pub async fn idle(&self) {
        loop {
            if self.inner.tasks.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The owner label of everything created from the database at `path`: a digest of its
/// canonical path. Moving the database orphans its resources for the reaper of no database,
/// which is the safe direction: a reaper never removes what another database owns.
pub(crate) fn owner_id(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    hex::encode(&Sha256::digest(canonical.as_os_str().as_encoded_bytes())[..8])
}

/// A version-4 UUID from the engine's seeded generator (ids are reproducible under a seed).
pub(crate) fn random_uuid(rng: &mut fastrand::Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.u128(..).to_le_bytes()).into_uuid()
}

impl<D> Inner<D> {
    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    pub(crate) fn timestamp(&self) -> Timestamp {
        Timestamp::from_system_time(self.now())
    }

    pub(crate) fn unix_seconds(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }

    pub(crate) fn stamp(&self) -> Stamp {
        let ts = self.now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        Stamp { id: random_uuid(&mut lock(&self.rng)), ts }
    }

    pub(crate) fn seed(&self) -> u64 {
        lock(&self.rng).u64(..)
    }

    pub(crate) fn publish(&self, event: Result<Event, chaff_bus::TopicError>) {
        match event {
            Ok(event) => self.bus.publish(event),
            // Decky names satisfy the topic segment rules; this is logged, never fatal.
            Err(error) => tracing::warn!(%error, "event not published"),
        }
    }

    /// Runs `f` on the store.
    pub(crate) fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        f(&mut lock(&self.store))
    }
}
