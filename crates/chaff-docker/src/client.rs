//! [`DockerApi`] over bollard.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::EventMessage;
use bollard::models::{ContainerSummary, Network, NetworkCreateRequest};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, EventsOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::{StreamExt, stream};
use tokio::sync::OnceCell;

use crate::logs::LineAssembler;
use crate::{
    ContainerRequest, ContainerStarted, ContainerState, DockerApi, DockerError, EngineVersion, LogStream,
    MANAGED_LABEL, NetworkState, StartStream,
};

/// Seconds a container gets between SIGTERM and SIGKILL when Chaff removes it. Our sensor
/// exits on SIGTERM at once; a third-party image gets a short grace, not compose's 10 s.
pub const STOP_GRACE_SECONDS: i32 = 3;

/// Per-request timeout; an image build gets the same bound per streamed answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A Docker engine reached with bollard. The connection is opened and the API version
/// negotiated (the engine may be older than the client: 20.10 speaks 1.41) on first use, and
/// retried on the next call when that failed — Chaff starts without Docker and says so.
pub struct BollardDocker {
    endpoint: String,
    client: OnceCell<Docker>,
}

impl BollardDocker {
    /// The engine `DOCKER_HOST` names, else the local unix socket.
    pub fn from_env() -> BollardDocker {
        let endpoint = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
        BollardDocker::at(endpoint)
    }

    /// The engine at `endpoint` (`unix:///path` or `tcp://host:port`).
    pub fn at(endpoint: impl Into<String>) -> BollardDocker {
        BollardDocker { endpoint: endpoint.into(), client: OnceCell::new() }
    }

    async fn client(&self) -> Result<&Docker, DockerError> {
        self.client
            .get_or_try_init(|| async {
                let unavailable = |e: bollard::errors::Error| DockerError::Unavailable {
                    endpoint: self.endpoint.clone(),
                    reason: e.to_string(),
                };
                let docker = Docker::connect_with_host(&self.endpoint)
                    .map_err(unavailable)?
                    .with_timeout(REQUEST_TIMEOUT);
                docker.negotiate_version().await.map_err(unavailable)
            })
            .await
    }

    fn error(&self, action: &str) -> impl FnOnce(bollard::errors::Error) -> DockerError + '_ {
        let action = action.to_owned();
        move |e| DockerError::from_bollard(e, &action, &self.endpoint)
    }
}

fn managed_filter() -> HashMap<&'static str, Vec<String>> {
    HashMap::from([("label", vec![format!("{MANAGED_LABEL}=true")])])
}

/// The stdout frames of a log stream as lines: frames are joined by a [`LineAssembler`],
/// stderr is left out, and an unfinished last line is given when the stream ends. A frame
/// without a timestamp cannot come with `timestamps=true`; one would be logged and skipped.
fn log_lines<'a>(
    frames: impl futures_util::Stream<Item = Result<LogOutput, DockerError>> + Send + 'a,
) -> LogStream<'a> {
    let state = (Box::pin(frames), LineAssembler::default(), false);
    stream::unfold(state, |(mut frames, mut lines, mut done)| async move {
        loop {
            if done {
                return None;
            }
            let frame = match frames.next().await {
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => message,
                Some(Ok(_)) => continue,
                Some(Err(error)) => {
                    done = true;
                    return Some((Err(error), (frames, lines, done)));
                }
                None => {
                    done = true;
                    let last = lines.finish()?;
                    return Some((Ok(last), (frames, lines, done)));
                }
            };
            match lines.push(&frame) {
                Ok(Some(line)) => return Some((Ok(line), (frames, lines, done))),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "log frame skipped"),
            }
        }
    })
    .boxed()
}

/// A start event as [`ContainerStarted`]; other events (the filter asks for none) are `None`.
fn container_started(event: EventMessage) -> Option<ContainerStarted> {
    let actor = event.actor?;
    Some(ContainerStarted { id: actor.id?, labels: actor.attributes.unwrap_or_default() })
}

fn container_state(summary: ContainerSummary) -> ContainerState {
    let name = summary
        .names
        .and_then(|names| names.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_owned())
        .unwrap_or_default();
    ContainerState {
        id: summary.id.unwrap_or_default(),
        name,
        image: summary.image.unwrap_or_default(),
        labels: summary.labels.unwrap_or_default(),
        state: summary.state.map(|s| s.to_string()).unwrap_or_default(),
        status: summary.status.unwrap_or_default(),
    }
}

fn network_state(network: Network) -> NetworkState {
    let subnet = network
        .ipam
        .and_then(|ipam| ipam.config)
        .and_then(|configs| configs.into_iter().find_map(|c| c.subnet));
    NetworkState {
        id: network.id.unwrap_or_default(),
        name: network.name.unwrap_or_default(),
        driver: network.driver.unwrap_or_default(),
        labels: network.labels.unwrap_or_default(),
        subnet,
    }
}

impl DockerApi for BollardDocker {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn ping(&self) -> Result<EngineVersion, DockerError> {
        let version = self.client().await?.version().await.map_err(self.error("read the engine version"))?;
        Ok(EngineVersion {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
        })
    }

    async fn managed_containers(&self) -> Result<Vec<ContainerState>, DockerError> {
        let options = ListContainersOptionsBuilder::new().all(true).filters(&managed_filter()).build();
        let listed = self
            .client()
            .await?
            .list_containers(Some(options))
            .await
            .map_err(self.error("list containers"))?;
        Ok(listed.into_iter().map(container_state).collect())
    }

    async fn managed_networks(&self) -> Result<Vec<NetworkState>, DockerError> {
        let options = ListNetworksOptionsBuilder::new().filters(&managed_filter()).build();
        let listed =
            self.client().await?.list_networks(Some(options)).await.map_err(self.error("list networks"))?;
        Ok(listed.into_iter().map(network_state).collect())
    }

    async fn create_network(&self, request: NetworkCreateRequest) -> Result<(), DockerError> {
        let action = format!("create network {}", request.name);
        self.client().await?.create_network(request).await.map_err(self.error(&action))?;
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self
            .client()
            .await?
            .remove_network(name)
            .await
            .map_err(self.error(&format!("remove network {name}")))
        {
            Ok(()) | Err(DockerError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn create_container(&self, request: ContainerRequest) -> Result<String, DockerError> {
        let options = CreateContainerOptionsBuilder::new().name(&request.name).build();
        let action = format!("create container {}", request.name);
        let created = self
            .client()
            .await?
            .create_container(Some(options), request.body)
            .await
            .map_err(self.error(&action))?;
        Ok(created.id)
    }

    async fn start_container(&self, name: &str) -> Result<(), DockerError> {
        let action = format!("start container {name}");
        self.client().await?.start_container(name, None).await.map_err(self.error(&action))
    }

    async fn remove_container(&self, name: &str) -> Result<(), DockerError> {
        let client = self.client().await?;
        let stop = StopContainerOptionsBuilder::new().t(STOP_GRACE_SECONDS).build();
        match client
            .stop_container(name, Some(stop))
            .await
            .map_err(self.error(&format!("stop container {name}")))
        {
            // 304 (already stopped) arrives as an Api error with that status.
            Ok(()) | Err(DockerError::NotFound { .. }) | Err(DockerError::Api { status: 304, .. }) => {}
            Err(e) => return Err(e),
        }
        let remove = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        match client
            .remove_container(name, Some(remove))
            .await
            .map_err(self.error(&format!("remove container {name}")))
        {
            Ok(()) | Err(DockerError::NotFound { .. }) => Ok(()),
            // "removal already in progress": another remover got there first.
            Err(DockerError::Conflict { message, .. }) if message.contains("already in progress") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn image_labels(&self, image: &str) -> Result<Option<HashMap<String, String>>, DockerError> {
        match self
            .client()
            .await?
            .inspect_image(image)
            .await
            .map_err(self.error(&format!("inspect image {image}")))
        {
            Ok(inspected) => Ok(Some(inspected.config.and_then(|c| c.labels).unwrap_or_default())),
            Err(DockerError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn build_image(&self, tag: &str, context: Vec<u8>) -> Result<(), DockerError> {
        let client = self.client().await?;
        let options = BuildImageOptionsBuilder::new().t(tag).rm(true).forcerm(true).build();
        let body = bollard::body_full(context.into());
        let mut progress = client.build_image(options, None, Some(body));
        let failed = |message: String| DockerError::Build { image: tag.to_owned(), message };
        while let Some(item) = progress.next().await {
            let info = item.map_err(|e| match DockerError::from_bollard(e, "build", &self.endpoint) {
                unavailable @ DockerError::Unavailable { .. } => unavailable,
                other => failed(other.to_string()),
            })?;
            if let Some(detail) = info.error_detail {
                return Err(failed(detail.message.unwrap_or_else(|| "unknown build error".into())));
            }
            if let Some(line) = info.stream.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
                tracing::debug!(image = tag, "{line}");
            }
        }
        Ok(())
    }

    async fn container_logs(
        &self,
        id: &str,
        since_unix_seconds: i64,
        follow: bool,
    ) -> Result<LogStream<'_>, DockerError> {
        let client = self.client().await?;
        // The API's `since` is an i32 of seconds; past 2038 read from the start (the cursor
        // still skips what was read).
        let since = i32::try_from(since_unix_seconds.max(0)).unwrap_or(0);
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(false)
            .timestamps(true)
            .follow(follow)
            .since(since)
            .build();
        let action = format!("read the log of container {id}");
        let frames = client
            .logs(id, Some(options))
            .map(move |item| item.map_err(|e| DockerError::from_bollard(e, &action, &self.endpoint)));
        Ok(log_lines(frames))
    }

    async fn container_starts(&self) -> Result<StartStream<'_>, DockerError> {
        let client = self.client().await?;
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("event", vec!["start".to_owned()]),
            ("label", vec![format!("{MANAGED_LABEL}=true")]),
        ]);
        let options = EventsOptionsBuilder::new().filters(&filters).build();
        let events = client.events(Some(options)).filter_map(move |item| {
            let mapped = match item {
                Ok(event) => container_started(event).map(Ok),
                Err(e) => Some(Err(DockerError::from_bollard(e, "watch container events", &self.endpoint))),
            };
            std::future::ready(mapped)
        });
        Ok(events.boxed())
    }
}
