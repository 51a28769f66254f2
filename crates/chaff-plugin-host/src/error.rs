//! The host's errors: setting up ([`HostError`]), loading a plugin ([`LoadError`]) and one call
//! into a loaded plugin ([`PluginError`]). Every message names the plugin it is about.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::manifest::{ManifestError, PluginKind};
use crate::policy::PolicyViolation;

/// The plugin entry points, for error messages and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Call {
    Catalog,
    Strategies,
    Render,
    Mutate,
    Plan,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Call::Catalog => "catalog",
            Call::Strategies => "strategies",
            Call::Render => "render",
            Call::Mutate => "mutate",
            Call::Plan => "plan",
        })
    }
}

#[derive(Debug, Error)]
pub enum HostError {
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot link the plugin imports: {0}")]
    Linker(String),
    #[error("cannot create the plugin cache directory {path}: {source}")]
    CacheDir { path: PathBuf, source: std::io::Error },
}

/// Why a plugin was not loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{source} (in {origin})")]
    Manifest { origin: String, source: ManifestError },
    #[error("cannot read plugin files in {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("plugin '{plugin}' targets API {found}, this host speaks {supported}")]
    UnsupportedApi { plugin: String, found: String, supported: &'static str },
    #[error("plugin '{plugin}': plugin.wasm has sha256 {actual}, its manifest says {expected}")]
    HashMismatch { plugin: String, expected: String, actual: String },
    #[error("plugin '{plugin}' (sha256 {sha256}) is not trusted; trust it to load it")]
    Untrusted { plugin: String, sha256: String },
    #[error("plugin '{plugin}' is not a valid component: {message}")]
    Compile { plugin: String, message: String },
    #[error("plugin '{plugin}' imports '{import}', which plugins may not use")]
    ForbiddenImport { plugin: String, import: String },
    #[error("plugin '{plugin}' declares kind {kind} but does not implement that world: {message}")]
    WorldMismatch { plugin: String, kind: PluginKind, message: String },
    #[error("plugin '{plugin}' failed to describe itself: {source}")]
    Catalog { plugin: String, source: Box<PluginError> },
    #[error("plugin '{plugin}' describes itself incorrectly: {message}")]
    InvalidCatalog { plugin: String, message: String },
    #[error("plugin id '{plugin}' is already taken by a loaded plugin ({existing_sha256})")]
    DuplicatePlugin { plugin: String, existing_sha256: String },
    #[error("plugin '{plugin}' defines service '{slug}', which plugin '{existing}' already provides")]
    ServiceConflict { plugin: String, slug: String, existing: String },
    #[error("plugin '{plugin}' defines strategy '{strategy}', which plugin '{existing}' already provides")]
    StrategyConflict { plugin: String, strategy: String, existing: String },
}

impl LoadError {
    /// The plugin id the error is about, when it is known.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            LoadError::Manifest { .. } | LoadError::Io { .. } => None,
            LoadError::UnsupportedApi { plugin, .. }
            | LoadError::HashMismatch { plugin, .. }
            | LoadError::Untrusted { plugin, .. }
            | LoadError::Compile { plugin, .. }
            | LoadError::ForbiddenImport { plugin, .. }
            | LoadError::WorldMismatch { plugin, .. }
            | LoadError::Catalog { plugin, .. }
            | LoadError::InvalidCatalog { plugin, .. }
            | LoadError::DuplicatePlugin { plugin, .. }
            | LoadError::ServiceConflict { plugin, .. }
            | LoadError::StrategyConflict { plugin, .. } => Some(plugin),
        }
    }
}

/// A service's `render` refused, in the plugin's own terms (`render-error` in the WIT).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RenderFailure {
    #[error("the plugin does not define service '{0}'")]
    UnknownService(String),
    #[error("{field}: {message}")]
    InvalidConfig { field: String, message: String },
    #[error("{0}")]
    Failed(String),
}

/// A strategy refused, in the plugin's own terms (`strategy-error` in the WIT).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum StrategyFailure {
    #[error("the plugin has no strategy '{0}'")]
    UnknownStrategy(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("no candidates: {0}")]
    NoCandidates(String),
}

/// Why one call into a plugin failed. The host and the plugin stay usable (except that a
/// plugin that keeps timing out is disabled).
#[derive(Debug, Error)]
pub enum PluginError {
    #[error("no loaded plugin provides service '{0}'")]
    UnknownService(String),
    #[error("no loaded plugin provides strategy '{0}'")]
    UnknownStrategy(String),
    #[error("strategy '{strategy}' is a {actual} strategy, not a {expected} one")]
    WrongStrategyKind {
        strategy: String,
        expected: crate::spec::StrategyKind,
        actual: crate::spec::StrategyKind,
    },
    #[error("plugin '{plugin}' is disabled: {reason}")]
    Disabled { plugin: String, reason: crate::status::DisabledReason },
    #[error("plugin '{plugin}' exceeded its {budget:?} time budget in {call}")]
    Timeout { plugin: String, call: Call, budget: Duration },
    #[error("plugin '{plugin}' exceeded its memory limit of {limit} bytes in {call}")]
    MemoryExceeded { plugin: String, call: Call, limit: usize },
    #[error("plugin '{plugin}' returned {size} bytes from {call}, more than the limit of {limit}")]
    OutputTooLarge { plugin: String, call: Call, size: usize, limit: usize },
    #[error("plugin '{plugin}' trapped in {call}: {message}")]
    Trapped { plugin: String, call: Call, message: String },
    #[error("plugin '{plugin}' returned malformed output from {call}: {message}")]
    MalformedOutput { plugin: String, call: Call, message: String },
    #[error("plugin '{plugin}' rendered a fragment for '{service}' that breaks the policy: {violation}")]
    Policy { plugin: String, service: String, violation: PolicyViolation },
    #[error("plugin '{plugin}' could not render '{service}': {failure}")]
    Render { plugin: String, service: String, failure: RenderFailure },
    #[error("strategy '{strategy}' of plugin '{plugin}' failed: {failure}")]
    Strategy { plugin: String, strategy: String, failure: StrategyFailure },
}

impl PluginError {
    /// The plugin the error is about, when one was called.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            PluginError::UnknownService(_)
            | PluginError::UnknownStrategy(_)
            | PluginError::WrongStrategyKind { .. } => None,
            PluginError::Disabled { plugin, .. }
            | PluginError::Timeout { plugin, .. }
            | PluginError::MemoryExceeded { plugin, .. }
            | PluginError::OutputTooLarge { plugin, .. }
            | PluginError::Trapped { plugin, .. }
            | PluginError::MalformedOutput { plugin, .. }
            | PluginError::Policy { plugin, .. }
            | PluginError::Render { plugin, .. }
            | PluginError::Strategy { plugin, .. } => Some(plugin),
        }
    }
}
