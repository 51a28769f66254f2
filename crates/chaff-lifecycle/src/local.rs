//! Starting the engine the way the app and the CLI run it: on the local Docker engine, with
//! its state, plugins and runner lock in one data directory.

use std::io;

use chaff_bus::Bus;
use chaff_docker::BollardDocker;
use chaff_engine::data_dir::DataDir;
use chaff_engine::plugins::{OpenPluginsError, open_plugins};
use chaff_plugin_host::LoadError;
use chaff_state::{Store, Timestamp};

use crate::lease::RunnerLease;
use crate::{Engine, EngineOptions, Recovered};

/// A started engine and what starting it found.
pub struct Started {
    pub engine: Engine<BollardDocker>,
    /// Held for as long as the engine runs jobs (see [`crate::lease`]).
    pub lease: RunnerLease,
    /// What start-up recovery closed; `None` when another process was already running jobs
    /// (recovery is then that process's business) or Docker could not be asked.
    pub recovered: Option<Recovered>,
    /// Third-party plugins that were refused (untrusted, tampered, hostile).
    pub refused_plugins: Vec<LoadError>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot lock {path}: {source}")]
    Lock { path: String, source: io::Error },
    #[error("cannot open the state database {path}: {message}")]
    State { path: String, message: String },
    #[error(transparent)]
    Plugins(#[from] OpenPluginsError),
}

/// Opens the data directory, loads the plugins and starts the engine on the local Docker
/// engine, on the current tokio runtime. When this is the only process running jobs, rows a
/// crash left open are recovered and orphaned containers reaped first.
pub async fn start(data_dir: &DataDir, options: EngineOptions) -> Result<Started, StartError> {
    data_dir.ensure().map_err(OpenPluginsError::from)?;
    let lock_path = data_dir.runner_lock();
    let mut lease = RunnerLease::acquire(&lock_path)
        .map_err(|source| StartError::Lock { path: lock_path.display().to_string(), source })?;
    let now = Timestamp::from_system_time((options.clock)());
    let store = Store::open(data_dir.state_db(), now).map_err(|e| StartError::State {
        path: data_dir.state_db().display().to_string(),
        message: e.to_string(),
    })?;
    let plugins = open_plugins(data_dir)?;
    let engine = Engine::new(
        store,
        plugins.host,
        BollardDocker::from_env(),
        Bus::new(),
        tokio::runtime::Handle::current(),
        options,
    );
    let mut recovered = None;
    if lease.is_sole() {
        match engine.recover().await {
            Ok(done) => recovered = Some(done),
            Err(error) => tracing::warn!(%error, "start-up recovery failed"),
        }
        if let Err(error) = engine.reap().await {
            tracing::debug!(%error, "reaper skipped");
        }
    }
    lease.share().map_err(|source| StartError::Lock { path: lock_path.display().to_string(), source })?;
    Ok(Started { engine, lease, recovered, refused_plugins: plugins.refused })
}
