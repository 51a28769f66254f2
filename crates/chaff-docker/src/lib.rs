//! Chaff's Docker layer.
//!
//! * [`request`] turns the compose entries rendering produced into Docker API requests (pure);
//! * [`DockerApi`] is the narrow seam the lifecycle runner drives Docker through, implemented
//!   by [`BollardDocker`] against a real engine (local unix socket by default, `DOCKER_HOST`
//!   honoured);
//! * [`logs`] turns Docker's timestamped log frames into lines; [`DockerApi::container_logs`]
//!   and [`DockerApi::container_starts`] are what the event follower reads;
//! * [`images`] makes sure every image a fleet needs is on the machine before anything is
//!   created: Chaff's own sensor image is built locally from the embedded static binary, any
//!   other image must already be present — Chaff never pulls, so an offline lab never hangs
//!   on a registry.

mod client;
mod error;
pub mod images;
pub mod logs;
pub mod request;

use std::collections::HashMap;
use std::future::Future;

pub use bollard::models::NetworkCreateRequest;
pub use client::BollardDocker;
pub use error::DockerError;
use futures_util::stream::BoxStream;
pub use request::{ContainerRequest, SpecError, container_request, network_request};

/// Label every Chaff container and network carries (value `true`); listing filters on it.
pub const MANAGED_LABEL: &str = "io.chaff.managed";

/// A container as listed: only what observing and reporting need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub image: String,
    pub labels: HashMap<String, String>,
    /// Docker's state word: `created`, `running`, `restarting`, `exited`, ...
    pub state: String,
    /// Docker's human status (`Up 3 minutes`, `Exited (1) 2 seconds ago`).
    pub status: String,
}

impl ContainerState {
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

/// A network as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkState {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub labels: HashMap<String, String>,
    /// The first IPAM subnet, when there is one.
    pub subnet: Option<String>,
}

/// One line of a container's stdout, as its log holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Docker's timestamp of the line (when the daemon read it), nanoseconds since the epoch.
    pub docker_ts_ns: i64,
    /// The line without its newline (see [`logs::LineAssembler`] for lines Docker split).
    pub text: String,
}

/// A container's log lines, in log order.
pub type LogStream<'a> = BoxStream<'a, Result<LogLine, DockerError>>;

/// A managed container was started (created and started, or restarted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStarted {
    pub id: String,
    /// Its labels, as the event carries them.
    pub labels: HashMap<String, String>,
}

/// Container starts, as they happen.
pub type StartStream<'a> = BoxStream<'a, Result<ContainerStarted, DockerError>>;

/// The engine's identity, as the ping reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EngineVersion {
    pub version: String,
    pub api_version: String,
}

/// Everything the lifecycle runner asks of a Docker engine. Every method is one API call
/// (or one build); names are container and network names, which Chaff keeps unique.
///
/// Removal is idempotent: removing what is already gone succeeds.
pub trait DockerApi: Send + Sync + 'static {
    /// Where the engine is, for messages (`unix:///var/run/docker.sock`).
    fn endpoint(&self) -> &str;
    fn ping(&self) -> impl Future<Output = Result<EngineVersion, DockerError>> + Send;
    /// Every container (running or not) labelled [`MANAGED_LABEL`]`=true`.
    fn managed_containers(&self) -> impl Future<Output = Result<Vec<ContainerState>, DockerError>> + Send;
    /// Every network labelled [`MANAGED_LABEL`]`=true`.
    fn managed_networks(&self) -> impl Future<Output = Result<Vec<NetworkState>, DockerError>> + Send;
    fn create_network(
        &self,
        request: NetworkCreateRequest,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;
    fn remove_network(&self, name: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    /// Creates (does not start) the container; returns its id.
    fn create_container(
        &self,
        request: ContainerRequest,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;
    fn start_container(&self, name: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    /// Stops (SIGTERM, then SIGKILL after a short grace) and removes the container with its
    /// anonymous volumes.
    fn remove_container(&self, name: &str) -> impl Future<Output = Result<(), DockerError>> + Send;
    /// The image's labels, or `None` when the image is not on the machine.
    fn image_labels(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<Option<HashMap<String, String>>, DockerError>> + Send;
    /// Builds `tag` from a tar build context held in memory (no pull: `FROM scratch` only).
    fn build_image(
        &self,
        tag: &str,
        context: Vec<u8>,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;
    /// The stdout of container `id` (name or id) from `since_unix_seconds` on (0: from the
    /// start; Docker's `since` has whole seconds), each line with Docker's timestamp. With
    /// `follow` the stream goes on until the container stops; without, it ends at the log's
    /// current end. The request is sent when the stream is first polled: a missing container
    /// is the stream's first item, an error.
    fn container_logs(
        &self,
        id: &str,
        since_unix_seconds: i64,
        follow: bool,
    ) -> impl Future<Output = Result<LogStream<'_>, DockerError>> + Send;
    /// Every start of a container labelled [`MANAGED_LABEL`]`=true` from now on, until the
    /// stream is dropped or the engine goes away (the stream then ends or yields an error).
    fn container_starts(&self) -> impl Future<Output = Result<StartStream<'_>, DockerError>> + Send;
}
