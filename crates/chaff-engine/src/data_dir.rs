//! Where Chaff keeps its state: one directory, following the platform convention unless the
//! user names another (`--data-dir`, `CHAFF_DATA_DIR`), so tests and labs can isolate state.

use std::io;
use std::path::{Path, PathBuf};

/// The environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "CHAFF_DATA_DIR";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// `explicit` (a flag) wins over `CHAFF_DATA_DIR`, which wins over the platform's data
    /// directory (`$XDG_DATA_HOME/chaff`, usually `~/.local/share/chaff`).
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self, DataDirError> {
        let root = explicit
            .or_else(|| std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
            .or_else(|| directories::ProjectDirs::from("", "", "chaff").map(|d| d.data_dir().to_path_buf()))
            .ok_or(DataDirError::NoHome)?;
        Ok(Self { root })
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates the directory tree if missing.
    pub fn ensure(&self) -> Result<(), DataDirError> {
        for dir in [self.root.clone(), self.plugins(), self.cache(), self.logs()] {
            std::fs::create_dir_all(&dir).map_err(|source| DataDirError::Create { path: dir, source })?;
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Third-party plugins, one `<id>/{plugin.toml, plugin.wasm}` directory each.
    pub fn plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }

    /// Compiled plugin components, keyed by hash; safe to delete.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The user's trust decisions for third-party plugins.
    pub fn trust_file(&self) -> PathBuf {
        self.root.join("trust.toml")
    }

    /// The state database (fleets, lifecycle rows).
    pub fn state_db(&self) -> PathBuf {
        self.root.join("chaff.db")
    }

    /// Held shared by every process running lifecycle jobs, so start-up recovery (which takes
    /// it exclusively) never closes the rows of a process that is still working.
    pub fn runner_lock(&self) -> PathBuf {
        self.root.join("runner.lock")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("no data directory: set {DATA_DIR_ENV} or pass --data-dir (no home directory found)")]
    NoHome,
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
}
