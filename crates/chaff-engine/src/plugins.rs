//! The plugin host as the app runs it: the built-in plugins shipped in the binary, then the
//! third-party plugins installed in the data directory (only those the user trusts), with
//! compiled components cached on disk between runs.

use chaff_plugin_host::{
    HostError, HostOptions, LoadError, Origin, PluginHost, TrustError, TrustStore, sha256_hex,
};

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

#[derive(Debug, thiserror::Error)]
pub enum TrustInstalledError {
    #[error("no installed plugin '{id}': cannot read {path}: {source}")]
    NotInstalled { id: String, path: String, source: std::io::Error },
    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// Trusts the exact build of installed plugin `id` now on disk; returns its sha256. It loads
/// from the next [`open_plugins`] on (a new build must be trusted again).
pub fn trust_installed(data_dir: &DataDir, id: &str) -> Result<String, TrustInstalledError> {
    let path = data_dir.plugins().join(id).join(chaff_plugin_host::host::COMPONENT_FILE);
    let wasm = std::fs::read(&path).map_err(|source| TrustInstalledError::NotInstalled {
        id: id.to_owned(),
        path: path.display().to_string(),
        source,
    })?;
    let sha256 = sha256_hex(&wasm);
    let mut store = TrustStore::load(&data_dir.trust_file())?;
    store.trust(id, &sha256)?;
    store.save()?;
    Ok(sha256)
}

/// Stops trusting plugin `id`; `false` when it was not trusted. It no longer loads from the
/// next [`open_plugins`] on.
pub fn untrust(data_dir: &DataDir, id: &str) -> Result<bool, TrustError> {
    let mut store = TrustStore::load(&data_dir.trust_file())?;
    if !store.revoke(id) {
        return Ok(false);
    }
    store.save()?;
    Ok(true)
}
