//! Operation errors: typed, each with a code the CLI and the UI act on.

use chaff_docker::DockerError;
use chaff_state::{StoreError, Uuid};
use serde::Serialize;

/// What kind of failure, as the boundary (CLI exit code, UI `{code, message, field?}`) sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    NotFound,
    Conflict,
    InvalidInput,
    PolicyViolation,
    DockerUnavailable,
    PluginFailure,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::PolicyViolation => "policy_violation",
            ErrorCode::DockerUnavailable => "docker_unavailable",
            ErrorCode::PluginFailure => "plugin_failure",
            ErrorCode::Internal => "internal",
        }
    }
}

/// Why an operation was refused. A refused operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    NotFound(String),
    /// Already there, not there, or another operation in progress on the decky.
    #[error("{message}")]
    Conflict { message: String, open_operation: Option<Uuid> },
    #[error("{message}")]
    InvalidInput { field: Option<String>, message: String },
    #[error("{message}")]
    Policy { field: Option<String>, message: String },
    #[error("{0}")]
    DockerUnavailable(String),
    #[error("{0}")]
    Plugin(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl OpError {
    pub fn code(&self) -> ErrorCode {
        match self {
            OpError::NotFound(_) => ErrorCode::NotFound,
            OpError::Conflict { .. } => ErrorCode::Conflict,
            OpError::InvalidInput { .. } => ErrorCode::InvalidInput,
            OpError::Policy { .. } => ErrorCode::PolicyViolation,
            OpError::DockerUnavailable(_) => ErrorCode::DockerUnavailable,
            OpError::Plugin(_) => ErrorCode::PluginFailure,
            OpError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The input field at fault, when one is.
    pub fn field(&self) -> Option<&str> {
        match self {
            OpError::InvalidInput { field, .. } | OpError::Policy { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn conflict(message: impl Into<String>) -> OpError {
        OpError::Conflict { message: message.into(), open_operation: None }
    }

    pub(crate) fn invalid(field: Option<&str>, message: impl Into<String>) -> OpError {
        OpError::InvalidInput { field: field.map(str::to_owned), message: message.into() }
    }
}

impl From<StoreError> for OpError {
    fn from(error: StoreError) -> OpError {
        match error {
            StoreError::Conflict { open_id, .. } => {
                OpError::Conflict { message: error.to_string(), open_operation: Some(open_id) }
            }
            StoreError::FleetBusy { id, .. } => {
                OpError::Conflict { message: error.to_string(), open_operation: Some(id) }
            }
            other => OpError::Internal(other.to_string()),
        }
    }
}

impl From<DockerError> for OpError {
    fn from(error: DockerError) -> OpError {
        match error {
            DockerError::Unavailable { .. } => OpError::DockerUnavailable(error.to_string()),
            DockerError::NotFound { .. } => OpError::NotFound(error.to_string()),
            DockerError::Conflict { .. } => OpError::conflict(error.to_string()),
            DockerError::ImageMissing { .. } => OpError::invalid(Some("image"), error.to_string()),
            other => OpError::Internal(other.to_string()),
        }
    }
}
