//! The user's trust decisions about third-party plugins: a TOML file of (id, sha256) pairs.
//! Trust is in one exact build of a plugin: a new version (a new hash) must be trusted again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::manifest::is_plugin_id;

#[derive(Debug, Error)]
pub enum TrustError {
    #[error("cannot read trust store {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("trust store {path} is malformed: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("cannot write trust store {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("trust store has no file to save to")]
    NoPath,
    #[error("cannot trust plugin '{id}': {reason}")]
    Invalid { id: String, reason: &'static str },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPlugin {
    pub id: String,
    pub sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default, rename = "plugin")]
    plugins: Vec<TrustedPlugin>,
}

/// Trusted (id, sha256) pairs, optionally backed by a file.
///
/// Invariant: no pair appears twice; ids and hashes are well-formed.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    path: Option<PathBuf>,
    entries: Vec<TrustedPlugin>,
}

impl TrustStore {
    /// A store that trusts nothing and is never saved (built-in plugins only, tests).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads the store at `path`; a missing file is an empty store that `save` creates.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(TrustError::Read { path: path.to_owned(), source });
            }
        };
        let malformed = |message: String| TrustError::Malformed { path: path.to_owned(), message };
        let file: TrustFile = toml::from_str(&text).map_err(|e| malformed(e.message().to_owned()))?;
        let mut store = Self { path: Some(path.to_owned()), entries: Vec::new() };
        for entry in file.plugins {
            store.trust(&entry.id, &entry.sha256).map_err(|e| malformed(e.to_string()))?;
        }
        Ok(store)
    }

    /// Trusts exactly this build of plugin `id`. Idempotent.
    pub fn trust(&mut self, id: &str, sha256: &str) -> Result<(), TrustError> {
        if !is_plugin_id(id) {
            return Err(TrustError::Invalid { id: id.to_owned(), reason: "invalid plugin id" });
        }
        if sha256.len() != 64 || !sha256.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(TrustError::Invalid {
                id: id.to_owned(),
                reason: "sha256 must be 64 lower-case hex digits",
            });
        }
        if !self.is_trusted(id, sha256) {
            self.entries.push(TrustedPlugin { id: id.to_owned(), sha256: sha256.to_owned() });
        }
        Ok(())
    }

    /// Forgets every trusted build of plugin `id`; returns whether any was trusted.
    pub fn revoke(&mut self, id: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.id != id);
        before != self.entries.len()
    }

    pub fn is_trusted(&self, id: &str, sha256: &str) -> bool {
        self.entries.iter().any(|e| e.id == id && e.sha256 == sha256)
    }

    pub fn entries(&self) -> &[TrustedPlugin] {
        &self.entries
    }

    /// Writes the store back to the file it was loaded from (atomically: temp file + rename).
    pub fn save(&self) -> Result<(), TrustError> {
        let path = self.path.as_deref().ok_or(TrustError::NoPath)?;
        let write = |source| TrustError::Write { path: path.to_owned(), source };
        let file = TrustFile { plugins: self.entries.clone() };
        let text = toml::to_string(&file).expect("a list of string pairs always serialises");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "ab00000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/trust.toml");
        let mut store = TrustStore::load(&path).unwrap();
        assert!(!store.is_trusted("echo", HASH));
        store.trust("echo", HASH).unwrap();
        store.trust("echo", HASH).unwrap();
        store.save().unwrap();

        let again = TrustStore::load(&path).unwrap();
        assert!(again.is_trusted("echo", HASH));
        assert!(!again.is_trusted("echo", &HASH.replace("ab", "cd")));
        assert_eq!(again.entries().len(), 1);
    }

    #[test]
    fn refuses_malformed_entries() {
        let mut store = TrustStore::empty();
        assert!(store.trust("Echo", HASH).is_err());
        assert!(store.trust("echo", "xyz").is_err());
        assert!(matches!(store.save(), Err(TrustError::NoPath)));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.toml");
        std::fs::write(&path, "[[plugin]]\nid = \"echo\"\nsha256 = \"nope\"\n").unwrap();
        assert!(matches!(TrustStore::load(&path), Err(TrustError::Malformed { .. })));
    }

    #[test]
    fn revokes_by_id() {
        let mut store = TrustStore::empty();
        store.trust("echo", HASH).unwrap();
        assert!(store.revoke("echo"));
        assert!(!store.is_trusted("echo", HASH));
        assert!(!store.revoke("echo"));
    }
}
