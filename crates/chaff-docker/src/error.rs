//! What can go wrong talking to Docker, in terms a caller can act on.

use crate::request::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine cannot be reached (no socket, refused, timed out, not a Docker API).
    #[error("Docker is unavailable at {endpoint}: {reason}")]
    Unavailable { endpoint: String, reason: String },
    /// Chaff never pulls: an image must be on the machine already (or be Chaff's own, which
    /// is built locally).
    #[error(
        "image '{image}' is not on this machine and Chaff does not pull images; \
         load it with `docker load -i <archive>` (or build it) and try again"
    )]
    ImageMissing { image: String },
    #[error("building image '{image}' failed: {message}")]
    Build { image: String, message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The engine refused because of existing state (name in use, address taken, ...).
    #[error("{action}: {message}")]
    Conflict { action: String, message: String },
    #[error("{action}: Docker answered {status}: {message}")]
    Api { action: String, status: u16, message: String },
    #[error(transparent)]
    Spec(#[from] SpecError),
}

impl DockerError {
    /// Maps a bollard error of `action` (e.g. "create container web-1") at `endpoint`.
    pub(crate) fn from_bollard(error: bollard::errors::Error, action: &str, endpoint: &str) -> DockerError {
        use bollard::errors::Error as E;
        let action = action.to_owned();
        match error {
            E::DockerResponseServerError { status_code: 404, message } => {
                DockerError::NotFound { what: message }
            }
            E::DockerResponseServerError { status_code: 409, message } => {
                DockerError::Conflict { action, message }
            }
            E::DockerResponseServerError { status_code, message } => {
                DockerError::Api { action, status: status_code, message: message.trim().to_owned() }
            }
            other if is_transport(&other) => {
                DockerError::Unavailable { endpoint: endpoint.to_owned(), reason: other.to_string() }
            }
            other => DockerError::Api { action, status: 0, message: other.to_string() },
        }
    }
}

fn is_transport(error: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        error,
        E::SocketNotFoundError(_)
            | E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::RequestTimeoutError
            | E::APIVersionParseError {}
            | E::HttpClientError { .. }
    )
}
