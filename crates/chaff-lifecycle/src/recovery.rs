//! Start-up: close the rows a crash left open, and reap what no fleet owns.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chaff_docker::DockerApi;
use chaff_engine::naming::labels;
use chaff_engine::reconcile::{Owner, Scope, reconcile};
use chaff_state::{LifecycleRow, StatusChange};
use serde::Serialize;

use crate::OpError;
use crate::engine::{Engine, lock};
use crate::runner::{JobTarget, observe, publish_row, target};

/// The error of a row a crash left open whose decky does not match its design.
pub const INTERRUPTED: &str = "interrupted by restart";

/// What [`Engine::recover`] did with the rows a previous run left open.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Recovered {
    /// Docker matched the desired state: the work had been done.
    pub succeeded: Vec<LifecycleRow>,
    /// Failed with [`INTERRUPTED`] (or with why Docker could not be checked).
    pub failed: Vec<LifecycleRow>,
}

/// What [`Engine::reap`] removed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reaped {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
}

impl<D: DockerApi> Engine<D> {
    /// Closes every row left `pending` or `running` by a previous process: `succeeded` when
    /// Docker matches the decky's desired state, else `failed` "interrupted by restart". Run
    /// it once at start-up, before any operation. With Docker unreachable every open row
    /// fails, saying so.
    pub async fn recover(&self) -> Result<Recovered, OpError> {
        let inner = Arc::clone(&self.inner);
        let open = lock(&inner.store).open_lifecycle_rows()?;
        if open.is_empty() {
            return Ok(Recovered::default());
        }
        let observed = match observe(&inner.docker).await {
            Ok(observed) => observed,
            Err(error) => {
                let reason = format!("{INTERRUPTED}; Docker could not be checked: {error}");
                let failed = lock(&inner.store).close_open_rows(&reason, inner.timestamp())?;
                failed.iter().for_each(|row| publish_row(&inner, row, None));
                return Ok(Recovered { succeeded: Vec::new(), failed });
            }
        };
        let mut by_fleet: BTreeMap<String, Vec<LifecycleRow>> = BTreeMap::new();
        for row in open {
            by_fleet.entry(row.fleet.clone()).or_default().push(row);
        }
        let mut recovered = Recovered::default();
        for (fleet, rows) in by_fleet {
            let desired = target(&inner, &fleet, &JobTarget::Stored).await.map(|t| t.desired);
            for row in rows {
                let settled = match &desired {
                    Ok(desired) => {
                        let scope = Scope::Deckies(BTreeSet::from([row.decky.clone()]));
                        let plan = reconcile(desired, &observed, scope);
                        !plan.groups.iter().any(|g| g.owner == Owner::Decky(row.decky.clone()))
                    }
                    Err(_) => false,
                };
                let change = if settled {
                    StatusChange::succeeded().with_detail("recovered: Docker matches the desired state")
                } else {
                    StatusChange::failed(INTERRUPTED)
                };
                let row = lock(&inner.store).transition(row.id, change, inner.timestamp())?;
                publish_row(&inner, &row, None);
                if settled { recovered.succeeded.push(row) } else { recovered.failed.push(row) }
            }
        }
        tracing::info!(
            succeeded = recovered.succeeded.len(),
            failed = recovered.failed.len(),
            "recovered open rows"
        );
        Ok(recovered)
    }

    /// Removes containers and networks this database created (its owner label) whose fleet
    /// it no longer stores (left by a crash mid-teardown). Never touches a stored fleet's, nor
    /// anything another Chaff database on the same engine owns, nor anything unlabelled.
    pub async fn reap(&self) -> Result<Reaped, OpError> {
        let fleets: BTreeSet<String> = lock(&self.inner.store).fleet_names()?.into_iter().collect();
        let docker = &self.inner.docker;
        let owner = self.inner.owner.as_str();
        let orphan = |labels: &std::collections::HashMap<String, String>| {
            labels.get(labels::OWNER).map(String::as_str) == Some(owner)
                && labels.get(labels::FLEET).is_none_or(|fleet| !fleets.contains(fleet))
        };
        let mut containers: Vec<_> =
            docker.managed_containers().await?.into_iter().filter(|c| orphan(&c.labels)).collect();
        // Service containers before the bases whose namespace they share.
        containers.sort_by_key(|c| c.labels.get(labels::ROLE).map(String::as_str) == Some("base"));
        let mut reaped = Reaped::default();
        for container in containers {
            docker.remove_container(&container.name).await?;
            reaped.containers.push(container.name);
        }
        for network in docker.managed_networks().await?.into_iter().filter(|n| orphan(&n.labels)) {
            docker.remove_network(&network.name).await?;
            reaped.networks.push(network.name);
        }
        if !reaped.containers.is_empty() || !reaped.networks.is_empty() {
            tracing::info!(containers = ?reaped.containers, networks = ?reaped.networks, "reaped orphans");
        }
        Ok(reaped)
    }
}
