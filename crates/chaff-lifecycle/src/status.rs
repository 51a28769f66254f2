//! What is deployed: the desired fleets next to what Docker runs.

use chaff_docker::{ContainerState, DockerApi, EngineVersion};
use chaff_engine::naming::labels;
use chaff_engine::{Catalogue, Fleet, Network};
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
        // Fleet singletons listed on a decky run once per fleet, never in the decky.
        let singletons = Catalogue::from_plugins(&self.inner.plugins).fleet_singletons();
        let fleets = fleets
            .into_iter()
            .map(|(fleet, last)| fleet_status(fleet, last, containers.as_deref(), &singletons))
            .collect();
        Ok(Status { docker, fleets })
    }
}

fn fleet_status(
    fleet: Fleet,
    last: Vec<Option<LifecycleRow>>,
    containers: Option<&[ContainerState]>,
    singletons: &[String],
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
            let expected = 1 + decky.services.iter().filter(|s| !singletons.contains(s)).count();
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    fn fleet(services: &[&str]) -> Fleet {
        serde_json::from_value(json!({
            "name": "lab",
            "network": { "driver": "bridge", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "parent": null },
            "log_target": null, "mutate_interval": null, "custom_services": [], "fleet_services": [],
            "deckies": [{
                "name": "web", "ip": "10.0.0.10", "hostname": "web", "distro": "debian", "archetype": null,
                "os_family": "linux", "services": services, "service_config": {}, "mutate_interval": null,
                "last_mutated": 0,
            }],
        }))
        .unwrap()
    }

    fn container(name: &str, role: &str, state: &str) -> ContainerState {
        let labels = HashMap::from([
            (labels::FLEET.to_owned(), "lab".to_owned()),
            (labels::DECKY.to_owned(), "web".to_owned()),
            (labels::ROLE.to_owned(), role.to_owned()),
        ]);
        ContainerState {
            id: name.into(),
            name: name.into(),
            image: "chaff-sensor:0.1".into(),
            labels,
            state: state.into(),
            status: String::new(),
        }
    }

    fn state(services: &[&str], containers: Option<&[ContainerState]>) -> DeckyState {
        let singletons = vec!["sniffer".to_owned()];
        fleet_status(fleet(services), vec![None], containers, &singletons).deckies[0].state
    }

    #[test]
    fn a_decky_is_running_when_its_base_and_every_own_service_run() {
        let up = [container("web", "base", "running"), container("web-ssh", "service", "running")];
        assert_eq!(state(&["ssh"], Some(&up)), DeckyState::Running);
        // A fleet singleton listed on the decky runs once per fleet, not in the decky.
        assert_eq!(state(&["ssh", "sniffer"], Some(&up)), DeckyState::Running);
        assert_eq!(state(&["ssh", "http"], Some(&up)), DeckyState::Degraded);
        let stopped = [container("web", "base", "running"), container("web-ssh", "service", "exited")];
        assert_eq!(state(&["ssh"], Some(&stopped)), DeckyState::Degraded);
        assert_eq!(state(&["ssh"], Some(&[])), DeckyState::Absent);
        assert_eq!(state(&["ssh"], None), DeckyState::Unknown);
    }
}
