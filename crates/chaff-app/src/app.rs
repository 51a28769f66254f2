//! The commands of the desktop app over one started engine.

use std::sync::{Mutex, MutexGuard, PoisonError};

use chaff_bus::Trigger;
use chaff_docker::BollardDocker;
use chaff_engine::data_dir::DataDir;
use chaff_engine::{Fleet, render_fleet};
use chaff_lifecycle::lease::RunnerLease;
use chaff_lifecycle::local::{StartError, start};
use chaff_lifecycle::{
    Accepted, ConfigChange, DeployRequest, Engine, EngineOptions, LifecycleRow, Recovered, Status,
    TeardownTarget, Uuid,
};
use chaff_state::EventQuery;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::UiError;
use crate::docker_health::{self, DockerHealth};
use crate::views::{Catalogue, Plugins, Preview, ServiceConfigView};

/// At most this many attacker events per query: the feed pages with `after_id`.
pub const MAX_EVENTS_PER_QUERY: usize = 500;

/// How many recent events a text filter looks through.
const TEXT_SEARCH_WINDOW: usize = 5_000;

/// The desktop app's engine and the commands over it. Cheap to share behind an `Arc`.
pub struct App {
    engine: Engine<BollardDocker>,
    /// The fleet the last preview showed, by its request: deploying the same request deploys
    /// exactly what was previewed (an import draws hostnames and distros at random).
    previewed: Mutex<Option<(ImportRequest, Fleet)>>,
    data_dir: DataDir,
    refused_plugins: Vec<String>,
    recovered: Option<Recovered>,
    _lease: RunnerLease,
}

/// Which attacker events to show.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventFilter {
    pub decky: Option<String>,
    pub service: Option<String>,
    pub kind: Option<String>,
    /// Case-insensitive text anywhere in the event's line.
    pub text: Option<String>,
    /// Only events newer than this id (the live feed's cursor).
    pub after_id: Option<i64>,
    pub limit: Option<usize>,
}

impl App {
    /// Starts the engine in `data_dir` on the current tokio runtime (recovery included).
    pub async fn open(data_dir: DataDir, options: EngineOptions) -> Result<App, UiError> {
        let started = start(&data_dir, options).await.map_err(|error| match error {
            StartError::Plugins(e) => UiError::new("plugin_failure", e.to_string()),
            other => UiError::internal(other.to_string()),
        })?;
        Ok(App {
            engine: started.engine,
            previewed: Mutex::new(None),
            data_dir,
            refused_plugins: started.refused_plugins.iter().map(ToString::to_string).collect(),
            recovered: started.recovered,
            _lease: started.lease,
        })
    }

    pub fn engine(&self) -> &Engine<BollardDocker> {
        &self.engine
    }

    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// What start-up recovery closed, if it ran.
    pub fn recovered(&self) -> Option<&Recovered> {
        self.recovered.as_ref()
    }

    /// Scheduled mutation and event collection, until [`App::shutdown`].
    pub async fn watch(&self) {
        self.engine.watch().await;
    }

    /// Stops every job (their rows close) and the background work.
    pub async fn shutdown(&self) {
        self.engine.shutdown().await;
    }

    /// The fleet an INI text describes and the compose file it renders to; changes nothing.
    pub async fn preview_ini(
        &self,
        text: String,
        fleet_name: String,
        replace: bool,
    ) -> Result<Preview, UiError> {
        let request = ImportRequest { text, fleet_name, replace };
        let imported = request.clone();
        let (fleet, preview) = self
            .blocking(move |engine| {
                let fleet = engine.import_ini(&imported.text, &imported.fleet_name, imported.replace)?;
                let yaml = render_fleet(&fleet, engine.plugins())
                    .and_then(|project| project.to_yaml())
                    .map_err(|e| UiError::invalid("config", e.to_string()))?;
                let preview = Preview::of(&fleet, yaml);
                Ok((fleet, preview))
            })
            .await?;
        *lock(&self.previewed) = Some((request, fleet));
        Ok(preview)
    }

    /// Deploys an INI text (additive unless `replace`): the fleet last previewed for the same
    /// request, else a fresh import.
    pub async fn deploy_ini(
        &self,
        text: String,
        fleet_name: String,
        replace: bool,
    ) -> Result<Accepted, UiError> {
        let request = ImportRequest { text, fleet_name, replace };
        let previewed = match lock(&self.previewed).take() {
            Some((seen, fleet)) if seen == request => Some(fleet),
            _ => None,
        };
        self.blocking(move |engine| {
            let fleet = match previewed {
                Some(fleet) => fleet,
                None => engine.import_ini(&request.text, &request.fleet_name, request.replace)?,
            };
            Ok(engine.deploy(DeployRequest { fleet, replace: request.replace })?)
        })
        .await
    }

    pub async fn teardown_decky(&self, decky: String) -> Result<Accepted, UiError> {
        self.blocking(move |engine| Ok(engine.teardown(TeardownTarget::Decky(decky))?)).await
    }

    /// Tears down every fleet.
    pub async fn teardown_all(&self) -> Result<Accepted, UiError> {
        self.blocking(|engine| {
            let fleets = engine.fleet_names()?;
            if fleets.is_empty() {
                return Err(UiError::new("not_found", "nothing is deployed"));
            }
            let mut all = Accepted { lifecycle_ids: Vec::new(), rows: Vec::new() };
            for fleet in fleets {
                let accepted = engine.teardown(TeardownTarget::Fleet(fleet))?;
                all.lifecycle_ids.extend(accepted.lifecycle_ids);
                all.rows.extend(accepted.rows);
            }
            Ok(all)
        })
        .await
    }

    pub async fn mutate(&self, decky: String) -> Result<Accepted, UiError> {
        self.blocking(move |engine| Ok(engine.mutate(&decky, Trigger::Operator)?)).await
    }

    pub async fn add_service(
        &self,
        decky: String,
        service: String,
        config: IndexMap<String, Value>,
    ) -> Result<Accepted, UiError> {
        self.blocking(move |engine| Ok(engine.add_service(&decky, &service, config)?)).await
    }

    pub async fn remove_service(&self, decky: String, service: String) -> Result<Accepted, UiError> {
        self.blocking(move |engine| Ok(engine.remove_service(&decky, &service)?)).await
    }

    /// Replaces a service's configuration. A secret field left out (or `null`) keeps its
    /// stored value: the UI never holds secrets, so it cannot send them back.
    pub async fn configure_service(
        &self,
        decky: String,
        service: String,
        mut config: IndexMap<String, Value>,
        apply: bool,
    ) -> Result<Accepted, UiError> {
        self.blocking(move |engine| {
            let (fleet, spec) = decky_service(engine, &decky, &service)?;
            let stored = fleet.decky(&decky).and_then(|d| d.service_config.get(&service));
            for field in spec.fields.iter().filter(|f| f.secret) {
                let kept = stored.and_then(|c| c.0.get(&field.key));
                match (config.get(&field.key), kept) {
                    (None | Some(Value::Null), Some(value)) => {
                        config.insert(field.key.clone(), Value::String(value.to_text()));
                    }
                    (Some(Value::Null), None) => {
                        config.shift_remove(&field.key);
                    }
                    _ => {}
                }
            }
            Ok(engine.configure_service(ConfigChange { decky, service, config, apply })?)
        })
        .await
    }

    /// A service's stored configuration on a decky, secrets masked.
    pub async fn service_config(&self, decky: String, service: String) -> Result<ServiceConfigView, UiError> {
        self.blocking(move |engine| {
            let (fleet, spec) = decky_service(engine, &decky, &service)?;
            let decky = fleet.decky(&decky).expect("decky_service found it");
            Ok(ServiceConfigView::of(decky, &spec))
        })
        .await
    }

    /// Rows by id, so a reloaded window can pick up where it was.
    pub async fn lifecycle(&self, ids: Vec<Uuid>) -> Result<Vec<LifecycleRow>, UiError> {
        self.blocking(move |engine| Ok(engine.lifecycle(&ids)?)).await
    }

    /// Every row still pending or running.
    pub async fn open_lifecycle(&self) -> Result<Vec<LifecycleRow>, UiError> {
        self.blocking(|engine| Ok(engine.open_lifecycle()?)).await
    }

    /// Every fleet with Docker's view of each decky.
    pub async fn status(&self) -> Result<Status, UiError> {
        Ok(self.engine.status().await?)
    }

    pub fn catalogue(&self) -> Catalogue {
        Catalogue::of(self.engine.plugins())
    }

    pub fn plugins(&self) -> Plugins {
        Plugins {
            plugins: self.engine.plugins().plugins(),
            refused: self.refused_plugins.clone(),
            install_dir: self.data_dir.plugins().display().to_string(),
        }
    }

    /// Trusts the installed build of a third-party plugin; it loads from the next start.
    pub fn trust_plugin(&self, id: &str) -> Result<String, UiError> {
        chaff_engine::plugins::trust_installed(&self.data_dir, id).map_err(|error| match error {
            chaff_engine::plugins::TrustInstalledError::NotInstalled { .. } => {
                UiError::new("not_found", error.to_string())
            }
            other => UiError::invalid("id", other.to_string()),
        })
    }

    /// Stops trusting a third-party plugin; it no longer loads from the next start.
    pub fn untrust_plugin(&self, id: &str) -> Result<(), UiError> {
        match chaff_engine::plugins::untrust(&self.data_dir, id) {
            Ok(true) => Ok(()),
            Ok(false) => Err(UiError::new("not_found", format!("plugin '{id}' is not trusted"))),
            Err(error) => Err(UiError::internal(error.to_string())),
        }
    }

    /// Attacker events matching `filter`, oldest first, each shaped as the live
    /// `chaff:attacker-event` payload ([`chaff_lifecycle::events::event_json`]).
    pub async fn events(&self, filter: EventFilter) -> Result<Vec<Value>, UiError> {
        self.blocking(move |engine| {
            let limit = filter.limit.unwrap_or(MAX_EVENTS_PER_QUERY).clamp(1, MAX_EVENTS_PER_QUERY);
            let needle =
                filter.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase);
            let query = EventQuery {
                decky: filter.decky.filter(|s| !s.is_empty()),
                service: filter.service.filter(|s| !s.is_empty()),
                kind: filter.kind.filter(|s| !s.is_empty()),
                after_id: filter.after_id,
                limit: Some(if needle.is_some() { TEXT_SEARCH_WINDOW } else { limit }),
                latest: true,
                ..EventQuery::default()
            };
            let mut events = engine.events(&query)?;
            if let Some(needle) = needle {
                events.retain(|event| event.raw.to_lowercase().contains(&needle));
                let excess = events.len().saturating_sub(limit);
                events.drain(..excess);
            }
            Ok(events.iter().map(chaff_lifecycle::events::event_json).collect())
        })
        .await
    }

    pub async fn docker_health(&self) -> DockerHealth {
        docker_health::check(self.engine.docker()).await
    }

    /// Runs `work` on the blocking pool: operations run plugins and write SQLite.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Engine<BollardDocker>) -> Result<T, UiError> + Send + 'static,
    ) -> Result<T, UiError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || work(&engine))
            .await
            .map_err(|e| UiError::internal(format!("command panicked: {e}")))?
    }
}

/// What an import was asked to read.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ImportRequest {
    text: String,
    fleet_name: String,
    replace: bool,
}

/// A poisoned lock only means a panic elsewhere mid-update of a plain cache.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fleet holding `decky`, and `service`'s spec, which the decky must run.
fn decky_service(
    engine: &Engine<BollardDocker>,
    decky: &str,
    service: &str,
) -> Result<(Fleet, chaff_plugin_host::ServiceSpec), UiError> {
    let spec = engine
        .plugins()
        .service(service)
        .cloned()
        .ok_or_else(|| UiError::invalid("service", format!("Unknown service '{service}'")))?;
    for name in engine.fleet_names()? {
        let Some(fleet) = engine.fleet(&name)? else { continue };
        let Some(found) = fleet.decky(decky) else { continue };
        if !found.services.iter().any(|s| s == service) {
            return Err(UiError::new("conflict", format!("Service '{service}' is not on decky '{decky}'")));
        }
        return Ok((fleet, spec));
    }
    Err(UiError::new("not_found", format!("Decky '{decky}' not found")))
}
