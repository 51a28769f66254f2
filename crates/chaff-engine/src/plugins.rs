//! The plugin host as the app runs it: the built-in plugins shipped in the binary, then the
//! third-party plugins installed in the data directory (only those the user trusts), with
//! compiled components cached on disk between runs.

use chaff_plugin_host::{HostError, HostOptions, LoadError, Origin, PluginHost, TrustError, TrustStore};

use crate::data_dir::{DataDir, DataDirError};

/// A ready host, and what could not be loaded from the data directory. Refused third-party
/// plugins do not stop Chaff: they are reported here and listed as disabled by the host.
pub struct LoadedPlugins {
    pub host: PluginHost,
    pub refused: Vec<LoadError>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenPluginsError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("cannot read the plugin trust list: {0}")]
    Trust(#[from] TrustError),
    /// A built-in plugin failing to load is a defect of this build, never a user error.
    #[error("built-in plugin failed to load: {0}")]
    Builtin(LoadError),
}

pub fn open_plugins(data_dir: &DataDir) -> Result<LoadedPlugins, OpenPluginsError> {
    data_dir.ensure()?;
    let options = HostOptions { cache_dir: Some(data_dir.cache()), ..HostOptions::default() };
    let mut host = PluginHost::new(options)?;
    for plugin in chaff_builtin_plugins::BUILTIN {
        host.load(plugin.manifest, plugin.wasm, Origin::Builtin).map_err(OpenPluginsError::Builtin)?;
    }
    let trust = TrustStore::load(&data_dir.trust_file())?;
    let refused: Vec<LoadError> =
        host.load_dir(&data_dir.plugins(), &trust).into_iter().filter_map(Result::err).collect();
    for error in &refused {
        tracing::warn!(%error, "third-party plugin not loaded");
    }
    Ok(LoadedPlugins { host, refused })
}
