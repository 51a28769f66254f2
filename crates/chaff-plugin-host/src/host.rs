//! [`PluginHost`]: loads plugins (manifest, hash, trust, imports, world, catalogue) and keeps
//! what they provide. The calls into loaded plugins are in `calls.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::artifacts::{ArtifactCache, ArtifactSource, CacheStats};
use crate::bindings::{RenderExport, service::ServicePluginPre, strategy::StrategyPluginPre};
use crate::catalog;
use crate::error::{Call, HostError, LoadError};
use crate::imports;
use crate::invoke::invoke;
use crate::limits::Limits;
use crate::manifest::{API_VERSION, Manifest, Origin, PluginKind, sha256_hex};
use crate::sandbox::{CallLimits, CallState};
use crate::spec::{ServiceSpec, StrategySpec};
use crate::status::{DisabledReason, Health, PluginState, PluginStatus};
use crate::trust::TrustStore;

/// Largest `plugin.wasm` the host will read and compile.
pub const MAX_COMPONENT_BYTES: usize = 32 << 20;

/// Largest `plugin.toml` the host will read.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 10;

/// The manifest and component file names inside a plugin directory.
pub const MANIFEST_FILE: &str = "plugin.toml";
pub const COMPONENT_FILE: &str = "plugin.wasm";

#[derive(Clone, Debug, Default)]
pub struct HostOptions {
    pub limits: Limits,
    /// Where compiled components are cached between runs; `None` compiles every start.
    pub cache_dir: Option<PathBuf>,
}

/// A loaded plugin's id, as returned by [`PluginHost::load`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct PluginId(pub String);

impl std::fmt::Display for PluginId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) enum World {
    Service { pre: ServicePluginPre<CallState>, render: RenderExport, services: Vec<ServiceSpec> },
    Strategy { pre: StrategyPluginPre<CallState>, strategies: Vec<StrategySpec> },
}

pub(crate) struct Plugin {
    pub(crate) id: Arc<str>,
    pub(crate) manifest: Manifest,
    pub(crate) origin: Origin,
    pub(crate) artifact: ArtifactSource,
    pub(crate) imports: Vec<String>,
    pub(crate) world: World,
    pub(crate) health: Health,
}

/// The plugin host: one per application. Loading needs `&mut self`; calls (`render`,
/// `mutate`, `plan`) take `&self` and may run concurrently from many threads.
///
/// Invariants: plugin ids, service slugs and strategy ids are each unique across loaded
/// plugins; every loaded plugin passed every load check; `service_index` and
/// `strategy_index` point into `plugins` (which is append-only).
pub struct PluginHost {
    pub(crate) engine: &'static Engine,
    linker: Linker<CallState>,
    pub(crate) limits: Limits,
    artifacts: ArtifactCache,
    pub(crate) plugins: Vec<Plugin>,
    /// Plugins refused at load whose manifest could be read, by id (latest attempt).
    rejected: BTreeMap<String, PluginStatus>,
    /// slug → (index in `plugins`, index in its services).
    pub(crate) service_index: BTreeMap<String, (usize, usize)>,
    /// strategy id → (index in `plugins`, index in its strategies).
    pub(crate) strategy_index: BTreeMap<String, (usize, usize)>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PluginHost>();
};

impl PluginHost {
    pub fn new(options: HostOptions) -> Result<Self, HostError> {
        let engine = crate::engine::engine().map_err(HostError::Engine)?;
        let linker = imports::linker(engine).map_err(|e| HostError::Linker(format!("{e:#}")))?;
        Ok(Self {
            engine,
            linker,
            limits: options.limits,
            artifacts: ArtifactCache::new(options.cache_dir)?,
            plugins: Vec::new(),
            rejected: BTreeMap::new(),
            service_index: BTreeMap::new(),
            strategy_index: BTreeMap::new(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Where compiled code came from so far (compiled, disk cache, memory).
    pub fn cache_stats(&self) -> CacheStats {
        self.artifacts.stats()
    }

    /// The cache file a component with this sha256 is (or would be) stored in.
    pub fn cache_file(&self, sha256: &str) -> Option<PathBuf> {
        self.artifacts.path_for(sha256)
    }

    /// Loads one plugin from its manifest text and component bytes.
    ///
    /// Checks, in order: manifest shape, API version, size, hash, trust, duplicate id,
    /// compilation, import allowlist, world, catalogue (called under the catalogue budget,
    /// then validated), slug/id conflicts. A plugin refused after its manifest was read is
    /// still listed by [`plugins`](Self::plugins) as disabled, with the reason.
    pub fn load(&mut self, manifest_toml: &str, wasm: &[u8], origin: Origin) -> Result<PluginId, LoadError> {
        self.load_from(manifest_toml, wasm, origin, "plugin.toml")
    }

    fn load_from(
        &mut self,
        manifest_toml: &str,
        wasm: &[u8],
        origin: Origin,
        source: &str,
    ) -> Result<PluginId, LoadError> {
        let manifest = Manifest::parse(manifest_toml).map_err(|source_error| LoadError::Manifest {
            origin: source.to_owned(),
            source: source_error,
        })?;
        let result = self.load_checked(&manifest, wasm, origin);
        match &result {
            Ok(id) => {
                self.rejected.remove(&id.0);
                tracing::info!(plugin = %id, version = %manifest.version, kind = %manifest.kind, "plugin loaded");
            }
            Err(error) => self.reject(&manifest, origin, error),
        }
        result
    }

    /// Loads every plugin directory (`<dir>/<name>/{plugin.toml, plugin.wasm}`) under `dir`,
    /// in name order. Third-party plugins are trusted when `trust` has their (id, sha256).
    /// A missing `dir` is an empty result (no third-party plugins installed yet).
    pub fn load_dir(&mut self, dir: &Path, trust: &TrustStore) -> Vec<Result<PluginId, LoadError>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(source) => {
                return vec![Err(LoadError::Io { path: dir.to_owned(), source })];
            }
        };
        let mut plugin_dirs: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        plugin_dirs.sort();
        plugin_dirs.into_iter().map(|plugin_dir| self.load_one_dir(&plugin_dir, trust)).collect()
    }

    fn load_one_dir(&mut self, plugin_dir: &Path, trust: &TrustStore) -> Result<PluginId, LoadError> {
        let manifest_path = plugin_dir.join(MANIFEST_FILE);
        let manifest_toml = read_bounded(&manifest_path, MAX_MANIFEST_BYTES)?;
        // The component is read only up to its cap; a larger file is refused by `load_checked`.
        let wasm = read_bounded_bytes(&plugin_dir.join(COMPONENT_FILE), MAX_COMPONENT_BYTES as u64 + 1)?;
        let id = Manifest::parse(&manifest_toml).map(|m| m.id).unwrap_or_default();
        let trusted = trust.is_trusted(&id, &sha256_hex(&wasm));
        let origin = Origin::ThirdParty { trusted };
        self.load_from(&manifest_toml, &wasm, origin, &manifest_path.display().to_string())
    }

    fn load_checked(
        &mut self,
        manifest: &Manifest,
        wasm: &[u8],
        origin: Origin,
    ) -> Result<PluginId, LoadError> {
        let plugin = manifest.id.clone();
        if manifest.api_version != API_VERSION {
            return Err(LoadError::UnsupportedApi {
                plugin,
                found: manifest.api_version.clone(),
                supported: API_VERSION,
            });
        }
        if wasm.len() > MAX_COMPONENT_BYTES {
            return Err(LoadError::Compile {
                plugin,
                message: format!("{} bytes is larger than the {MAX_COMPONENT_BYTES}-byte limit", wasm.len()),
            });
        }
        let actual = sha256_hex(wasm);
        if actual != manifest.sha256 {
            return Err(LoadError::HashMismatch { plugin, expected: manifest.sha256.clone(), actual });
        }
        if origin == (Origin::ThirdParty { trusted: false }) {
            return Err(LoadError::Untrusted { plugin, sha256: actual });
        }
        if let Some(existing) = self.plugins.iter().find(|p| p.manifest.id == manifest.id) {
            return Err(LoadError::DuplicatePlugin {
                plugin,
                existing_sha256: existing.manifest.sha256.clone(),
            });
        }
        let (component, artifact) = self
            .artifacts
            .component(self.engine, &actual, wasm)
            .map_err(|e| LoadError::Compile { plugin: plugin.clone(), message: format!("{e:#}") })?;
        if let Some(import) = imports::first_forbidden(self.engine, &component) {
            return Err(LoadError::ForbiddenImport { plugin, import });
        }
        let id: Arc<str> = Arc::from(plugin.as_str());
        let world = self.world(&id, manifest.kind, &component)?;
        self.check_conflicts(&plugin, &world)?;
        let imports = imports::import_names(self.engine, &component);
        self.insert(Plugin {
            id,
            manifest: manifest.clone(),
            origin,
            artifact,
            imports,
            world,
            health: Health::default(),
        });
        Ok(PluginId(plugin))
    }

    /// Pre-instantiates the component for its declared world and asks it what it offers.
    fn world(&self, id: &Arc<str>, kind: PluginKind, component: &Component) -> Result<World, LoadError> {
        let mismatch = |e: wasmtime::Error| LoadError::WorldMismatch {
            plugin: id.to_string(),
            kind,
            message: format!("{e:#}"),
        };
        let pre = self.linker.instantiate_pre(component).map_err(mismatch)?;
        let invalid = |message: String| LoadError::InvalidCatalog { plugin: id.to_string(), message };
        match kind {
            PluginKind::Service => {
                let pre = ServicePluginPre::new(pre).map_err(mismatch)?;
                let (services, render) = self.describe_services(id, &pre)?;
                catalog::check_services(&services).map_err(invalid)?;
                Ok(World::Service { pre, render, services })
            }
            PluginKind::Strategy => {
                let pre = StrategyPluginPre::new(pre).map_err(mismatch)?;
                let strategies = self.describe_strategies(id, &pre)?;
                catalog::check_strategies(&strategies).map_err(invalid)?;
                Ok(World::Strategy { pre, strategies })
            }
        }
    }

    fn catalog_limits(&self, kind: PluginKind) -> CallLimits {
        CallLimits {
            memory_bytes: self.limits.memory_for(kind),
            budget: self.limits.catalog_budget,
            log_message: self.limits.log_message,
            log_events: self.limits.log_events_per_call,
        }
    }

    fn describe_services(
        &self,
        id: &Arc<str>,
        pre: &ServicePluginPre<CallState>,
    ) -> Result<(Vec<ServiceSpec>, RenderExport), LoadError> {
        let limits = self.catalog_limits(PluginKind::Service);
        let (infos, render) = invoke(self.engine, id, Call::Catalog, limits, |store| {
            let instance = pre.instance_pre().instantiate(&mut *store)?;
            let render = RenderExport::check(pre.instance_pre().component(), store, &instance)?;
            let infos = crate::bindings::service::ServicePlugin::new(&mut *store, &instance)?
                .chaff_plugin_service()
                .call_catalog(&mut *store)?;
            Ok((infos, render))
        })
        .map_err(|e| LoadError::Catalog { plugin: id.to_string(), source: Box::new(e) })?;
        Ok((infos.into_iter().map(catalog::service_from_wit).collect(), render))
    }

    fn describe_strategies(
        &self,
        id: &Arc<str>,
        pre: &StrategyPluginPre<CallState>,
    ) -> Result<Vec<StrategySpec>, LoadError> {
        let limits = self.catalog_limits(PluginKind::Strategy);
        let infos = invoke(self.engine, id, Call::Strategies, limits, |store| {
            pre.instantiate(&mut *store)?.chaff_plugin_strategy().call_strategies(&mut *store)
        })
        .map_err(|e| LoadError::Catalog { plugin: id.to_string(), source: Box::new(e) })?;
        Ok(infos.into_iter().map(catalog::strategy_from_wit).collect())
    }

    fn check_conflicts(&self, plugin: &str, world: &World) -> Result<(), LoadError> {
        let owner = |(index, _): &(usize, usize)| self.plugins[*index].manifest.id.clone();
        match world {
            World::Service { services, .. } => {
                services.iter().try_for_each(|s| match self.service_index.get(&s.slug) {
                    Some(entry) => Err(LoadError::ServiceConflict {
                        plugin: plugin.to_owned(),
                        slug: s.slug.clone(),
                        existing: owner(entry),
                    }),
                    None => Ok(()),
                })
            }
            World::Strategy { strategies, .. } => {
                strategies.iter().try_for_each(|s| match self.strategy_index.get(&s.id) {
                    Some(entry) => Err(LoadError::StrategyConflict {
                        plugin: plugin.to_owned(),
                        strategy: s.id.clone(),
                        existing: owner(entry),
                    }),
                    None => Ok(()),
                })
            }
        }
    }

    fn insert(&mut self, plugin: Plugin) {
        let index = self.plugins.len();
        match &plugin.world {
            World::Service { services, .. } => {
                for (i, s) in services.iter().enumerate() {
                    self.service_index.insert(s.slug.clone(), (index, i));
                }
            }
            World::Strategy { strategies, .. } => {
                for (i, s) in strategies.iter().enumerate() {
                    self.strategy_index.insert(s.id.clone(), (index, i));
                }
            }
        }
        self.plugins.push(plugin);
    }

    /// Remembers a refused plugin so that `plugins()` can show it (and the UI offer to trust
    /// it). A refused duplicate is not recorded: its id belongs to the loaded plugin.
    fn reject(&mut self, manifest: &Manifest, origin: Origin, error: &LoadError) {
        tracing::warn!(plugin = %manifest.id, %error, "plugin refused");
        if matches!(error, LoadError::DuplicatePlugin { .. }) {
            return;
        }
        let reason = match error {
            LoadError::Untrusted { .. } => DisabledReason::Untrusted,
            other => DisabledReason::LoadFailed { error: other.to_string() },
        };
        let status = PluginStatus {
            id: manifest.id.clone(),
            version: manifest.version.clone(),
            kind: manifest.kind,
            origin,
            description: manifest.description.clone(),
            sha256: manifest.sha256.clone(),
            state: PluginState::Disabled { reason },
            services: Vec::new(),
            strategies: Vec::new(),
            limits: self.limits.effective(manifest.kind),
            artifact: None,
            imports: Vec::new(),
        };
        self.rejected.insert(manifest.id.clone(), status);
    }

    fn enabled(&self, index: usize) -> bool {
        self.plugins[index].health.disabled().is_none()
    }

    /// Services of enabled plugins, sorted by slug.
    pub fn services(&self) -> Vec<&ServiceSpec> {
        self.service_index
            .values()
            .filter(|(p, _)| self.enabled(*p))
            .map(|&(p, s)| self.service_at(p, s))
            .collect()
    }

    /// A loaded service by slug, even if its plugin has since been disabled (a `render` then
    /// says why).
    pub fn service(&self, slug: &str) -> Option<&ServiceSpec> {
        self.service_index.get(slug).map(|&(p, s)| self.service_at(p, s))
    }

    /// Strategies of enabled plugins, sorted by id.
    pub fn strategies(&self) -> Vec<&StrategySpec> {
        self.strategy_index
            .values()
            .filter(|(p, _)| self.enabled(*p))
            .map(|&(p, s)| self.strategy_at(p, s))
            .collect()
    }

    /// A loaded strategy by id, even if its plugin has since been disabled.
    pub fn strategy(&self, id: &str) -> Option<&StrategySpec> {
        self.strategy_index.get(id).map(|&(p, s)| self.strategy_at(p, s))
    }

    pub(crate) fn service_at(&self, plugin: usize, service: usize) -> &ServiceSpec {
        match &self.plugins[plugin].world {
            World::Service { services, .. } => &services[service],
            World::Strategy { .. } => unreachable!("service_index points at service plugins only"),
        }
    }

    pub(crate) fn strategy_at(&self, plugin: usize, strategy: usize) -> &StrategySpec {
        match &self.plugins[plugin].world {
            World::Strategy { strategies, .. } => &strategies[strategy],
            World::Service { .. } => unreachable!("strategy_index points at strategy plugins only"),
        }
    }

    /// Every plugin, loaded or refused, sorted by id.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        let mut all: Vec<PluginStatus> = self.plugins.iter().map(|p| self.status(p)).collect();
        all.extend(self.rejected.values().cloned());
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// One plugin's status by id.
    pub fn plugin(&self, id: &str) -> Option<PluginStatus> {
        match self.plugins.iter().find(|p| &*p.id == id) {
            Some(p) => Some(self.status(p)),
            None => self.rejected.get(id).cloned(),
        }
    }

    fn status(&self, plugin: &Plugin) -> PluginStatus {
        let (mut services, mut strategies) = match &plugin.world {
            World::Service { services, .. } => {
                (services.iter().map(|s| s.slug.clone()).collect(), Vec::new())
            }
            World::Strategy { strategies, .. } => {
                (Vec::new(), strategies.iter().map(|s| s.id.clone()).collect())
            }
        };
        services.sort();
        strategies.sort();
        let state = match plugin.health.disabled() {
            Some(reason) => PluginState::Disabled { reason },
            None => PluginState::Enabled,
        };
        PluginStatus {
            id: plugin.manifest.id.clone(),
            version: plugin.manifest.version.clone(),
            kind: plugin.manifest.kind,
            origin: plugin.origin,
            description: plugin.manifest.description.clone(),
            sha256: plugin.manifest.sha256.clone(),
            state,
            services,
            strategies,
            limits: self.limits.effective(plugin.manifest.kind),
            artifact: Some(plugin.artifact),
            imports: plugin.imports.clone(),
        }
    }
}

fn read_bounded(path: &Path, limit: u64) -> Result<String, LoadError> {
    let bytes = read_bounded_bytes(path, limit)?;
    String::from_utf8(bytes).map_err(|_| LoadError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
    })
}

/// Reads at most `limit` bytes of `path`.
fn read_bounded_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
    Ok(bytes)
}
