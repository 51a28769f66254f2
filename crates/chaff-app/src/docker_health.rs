//! Whether Docker can be reached, and what to do when it cannot.

use std::time::Duration;

use chaff_docker::{DockerApi, DockerError};
use serde::Serialize;

/// How often the app asks Docker whether it is there.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Docker as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DockerHealth {
    pub reachable: bool,
    /// The engine's version when reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it could not be reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the analyst can do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
}

/// What fixes an unreachable engine in most cases, from the most to the least likely.
pub const UNREACHABLE_HINT: &str = "Start the Docker Engine (`sudo systemctl start docker`), make sure \
this user may use it (member of the `docker` group, then log in again), or point DOCKER_HOST at the \
engine Chaff should use. Chaff checks again every few seconds.";

/// Asks `docker` once.
pub async fn check<D: DockerApi>(docker: &D) -> DockerHealth {
    match docker.ping().await {
        Ok(version) => DockerHealth {
            reachable: true,
            version: Some(format!("{} (API {})", version.version, version.api_version)),
            error: None,
            hint: None,
        },
        Err(error) => {
            let hint = matches!(error, DockerError::Unavailable { .. }).then_some(UNREACHABLE_HINT);
            DockerHealth { reachable: false, version: None, error: Some(error.to_string()), hint }
        }
    }
}

/// Calls `changed` with Docker's health at start and whenever reachability flips, checking
/// every `interval`, until `stop` resolves.
pub async fn watch<D: DockerApi>(
    docker: &D,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
    mut changed: impl FnMut(&DockerHealth),
) {
    tokio::pin!(stop);
    let mut last: Option<bool> = None;
    loop {
        let health = check(docker).await;
        if last != Some(health.reachable) {
            last = Some(health.reachable);
            changed(&health);
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
