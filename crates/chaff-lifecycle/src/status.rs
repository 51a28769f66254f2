//! What is deployed: the desired fleets next to what Docker runs.

use chaff_docker::{ContainerState, DockerApi, EngineVersion};
use chaff_engine::naming::labels;
use chaff_engine::{Fleet, Network};
use chaff_state::LifecycleRow;
use serde::Serialize;

use crate::OpError;
use crate::engine::{Engine, lock};
use crate::fleet_record::from_record;

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The engine's version, or why it could not be reached.
    pub docker: Result<EngineVersion, String>,
    pub fleets: Vec<FleetStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FleetStatus {
    pub name: String,
    pub network: Network,
    pub deckies: Vec<DeckyStatus>,
}

/// How a decky's containers compare with its design.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeckyState {
    /// Base and every service container running.
    Running,
    /// Some of its containers are missing or not running.
    Degraded,
    /// None of its containers exists.
    Absent,
    /// Docker could not be asked.
    Unknown,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeckyStatus {
    pub name: String,
    pub ip: String,
    pub hostname: String,
    pub os_family: String,
    pub archetype: Option<String>,
    pub services: Vec<String>,
    pub last_mutated: u64,
    pub state: DeckyState,
    pub containers: Vec<ContainerStatus>,
    /// The newest lifecycle row of the decky.
    pub last_operation: Option<LifecycleRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ContainerStatus {
    pub name: String,
    pub role: String,
    pub service: Option<String>,
    pub state: String,
    pub status: String,
}

impl<D: DockerApi> Engine<D> {
    /// Every stored fleet with Docker's view of each decky. Docker being unreachable is
    /// reported in [`Status::docker`], not an error: the design is still worth showing.
    pub async fn status(&self) -> Result<Status, OpError> {
        let fleets: Vec<(Fleet, Vec<Option<LifecycleRow>>)> = {
            let store = lock(&self.inner.store);
            let mut fleets = Vec::new();
            for name in store.fleet_names()? {
                let Some(stored) = store.load_fleet(&name)? else { continue };
                let fleet = from_record(&stored.record)?;
                let last = fleet
                    .deckies
                    .iter()
                    .map(|d| store.decky_history(&fleet.name, &d.name).map(|mut h| h.pop()))
                    .collect::<Result<Vec<_>, _>>()?;
                fleets.push((fleet, last));
            }
            fleets
        };
        let docker = self.inner.docker.ping().await.map_err(|e| e.to_string());
        let containers = match &docker {
            Ok(_) => Some(self.inner.docker.managed_containers().await.map_err(OpError::from)?),
            Err(_) => None,
        };
        let fleets = fleets
            .into_iter()
            .map(|(fleet, last)| fleet_status(fleet, last, containers.as_deref()))
            .collect();
        Ok(Status { docker, fleets })
    }
}

fn fleet_status(
    fleet: Fleet,
    last: Vec<Option<LifecycleRow>>,
    containers: Option<&[ContainerState]>,
) -> FleetStatus {
    let deckies = fleet
        .deckies
        .into_iter()
        .zip(last)
        .map(|(decky, last_operation)| {
            let label = |c: &ContainerState, key: &str| c.labels.get(key).cloned();
            let mine: Vec<ContainerStatus> = containers
                .unwrap_or_default()
                .iter()
                .filter(|c| {
                    label(c, labels::FLEET).as_deref() == Some(fleet.name.as_str())
                        && label(c, labels::DECKY).as_deref() == Some(decky.name.as_str())
                })
                .map(|c| ContainerStatus {
                    name: c.name.clone(),
                    role: label(c, labels::ROLE).unwrap_or_default(),
                    service: label(c, labels::SERVICE),
                    state: c.state.clone(),
                    status: c.status.clone(),
                })
                .collect();
            let expected = 1 + decky.services.len();
            let running = mine.iter().filter(|c| c.state == "running").count();
            let state = match containers {
                None => DeckyState::Unknown,
                Some(_) if mine.is_empty() => DeckyState::Absent,
                Some(_) if running >= expected => DeckyState::Running,
                Some(_) => DeckyState::Degraded,
            };
            DeckyStatus {
                name: decky.name,
                ip: decky.ip.to_string(),
                hostname: decky.hostname,
                os_family: decky.os_family,
                archetype: decky.archetype,
                services: decky.services,
                last_mutated: decky.last_mutated,
                state,
                containers: mine,
                last_operation,
            }
        })
        .collect();
    FleetStatus { name: fleet.name, network: fleet.network, deckies }
}
