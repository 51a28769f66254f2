//! CLI errors and the exit codes scripts can act on.

use std::path::Path;

use chaff_engine::data_dir::DataDirError;
use chaff_engine::plugins::OpenPluginsError;
use chaff_engine::render::RenderError;

/// Exit codes: 0 success, 2 usage (from clap), and the codes below.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: an INI, a config value, an argument. Exit 3.
    #[error("{0}")]
    InvalidInput(String),
    /// A named thing (service, plugin) does not exist. Exit 4.
    #[error("{0}")]
    NotFound(String),
    /// A plugin failed or a fragment broke the security policy. Exit 5.
    #[error("{0}")]
    Plugin(String),
    /// The data directory or another file could not be read or written. Exit 6.
    #[error("{0}")]
    Io(String),
    /// One or more lifecycle rows of the operation failed. Exit 7.
    #[error("{0}")]
    Failed(String),
    /// The Docker engine cannot be reached. Exit 8.
    #[error("{0}")]
    DockerUnavailable(String),
    /// Already there, not there, or an operation in progress on the decky. Exit 9.
    #[error("{0}")]
    Conflict(String),
    /// A defect in Chaff itself. Exit 1.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Internal(_) => 1,
            CliError::InvalidInput(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Plugin(_) => 5,
            CliError::Io(_) => 6,
            CliError::Failed(_) => 7,
            CliError::DockerUnavailable(_) => 8,
            CliError::Conflict(_) => 9,
        }
    }

    /// The error a child process reported by its exit code.
    pub fn from_exit_code(code: u8, message: String) -> Self {
        match code {
            3 => CliError::InvalidInput(message),
            4 => CliError::NotFound(message),
            5 => CliError::Plugin(message),
            6 => CliError::Io(message),
            7 => CliError::Failed(message),
            8 => CliError::DockerUnavailable(message),
            9 => CliError::Conflict(message),
            _ => CliError::Internal(message),
        }
    }

    pub fn from_render(config: &Path, error: RenderError) -> Self {
        let message = format!("{}: {error}", config.display());
        // Exhaustive on purpose: a new kind of render failure must choose its exit code.
        match error {
            RenderError::Plugin { .. }
            | RenderError::Policy { .. }
            | RenderError::FleetServicePlugin { .. } => CliError::Plugin(message),
            RenderError::Yaml(_) => CliError::Internal(message),
            RenderError::Model(_)
            | RenderError::Catalogue(_)
            | RenderError::UnknownService { .. }
            | RenderError::InvalidConfig { .. }
            | RenderError::UnknownFleetService { .. }
            | RenderError::NotAFleetService { .. }
            | RenderError::FleetServiceConfig { .. }
            | RenderError::PortClash { .. }
            | RenderError::ContainerNameClash { .. } => CliError::InvalidInput(message),
        }
    }
}

impl From<DataDirError> for CliError {
    fn from(error: DataDirError) -> Self {
        CliError::Io(error.to_string())
    }
}

impl From<OpenPluginsError> for CliError {
    fn from(error: OpenPluginsError) -> Self {
        match error {
            OpenPluginsError::Builtin(_) | OpenPluginsError::Host(_) => CliError::Internal(error.to_string()),
            OpenPluginsError::DataDir(_) | OpenPluginsError::Trust(_) => CliError::Io(error.to_string()),
        }
    }
}
