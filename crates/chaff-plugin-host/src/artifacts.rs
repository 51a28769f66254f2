//! Compiled components, by sha256: compiled once per host, and, with a cache directory,
//! written to `<dir>/<sha256>-<wasmtime version>.cwasm` so the next start deserialises
//! instead of compiling.
//!
//! Invariants: a cache file is only ever read for the hash in its name and the wasmtime that
//! wrote it; an unreadable, truncated or incompatible file is recompiled and rewritten, never
//! an error; files are written whole (temp file + rename), so a crash cannot leave half of one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::engine::WASMTIME_VERSION;
use crate::error::HostError;

/// Where a loaded plugin's compiled code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactSource {
    /// Compiled from the wasm during this load.
    Compiled,
    /// Deserialised from the cache directory.
    DiskCache,
    /// Already compiled by this host (same sha256 loaded before).
    MemoryCache,
}

/// Counters of where compiled code came from, for tests and `chaff plugins` diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    pub compiled: usize,
    pub from_disk: usize,
    pub from_memory: usize,
    /// Cache files that existed but could not be used (and were replaced).
    pub disk_rejected: usize,
    /// Cache files that could not be written (the plugin still loaded).
    pub write_failures: usize,
}

pub(crate) struct ArtifactCache {
    dir: Option<PathBuf>,
    memory: HashMap<String, Component>,
    stats: CacheStats,
}

impl ArtifactCache {
    pub fn new(dir: Option<PathBuf>) -> Result<Self, HostError> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)
                .map_err(|source| HostError::CacheDir { path: dir.clone(), source })?;
        }
        Ok(Self { dir, memory: HashMap::new(), stats: CacheStats::default() })
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// The cache file of a component with this hash, when a cache directory is set.
    pub fn path_for(&self, sha256: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(format!("{sha256}-{WASMTIME_VERSION}.cwasm")))
    }

    /// The compiled component for `wasm`, whose sha256 the caller has already verified.
    pub fn component(
        &mut self,
        engine: &Engine,
        sha256: &str,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, ArtifactSource)> {
        if let Some(component) = self.memory.get(sha256) {
            self.stats.from_memory += 1;
            return Ok((component.clone(), ArtifactSource::MemoryCache));
        }
        let path = self.path_for(sha256);
        let cached = path.as_deref().and_then(|p| self.read(engine, p));
        let (component, source) = match cached {
            Some(component) => {
                self.stats.from_disk += 1;
                (component, ArtifactSource::DiskCache)
            }
            None => {
                let component = Component::new(engine, wasm)?;
                self.stats.compiled += 1;
                if let Some(path) = &path {
                    self.write(&component, path);
                }
                (component, ArtifactSource::Compiled)
            }
        };
        self.memory.insert(sha256.to_owned(), component.clone());
        Ok((component, source))
    }

    fn read(&mut self, engine: &Engine, path: &Path) -> Option<Component> {
        // Read into memory rather than `deserialize_file`, which maps the file: a mapped file
        // truncated by someone else would crash the process with SIGBUS.
        let bytes = std::fs::read(path).ok()?;
        // SAFETY: wasmtime requires that deserialised bytes were produced by
        // `Component::serialize` of a compatible engine and not tampered with. The file lives
        // in Chaff's own cache directory, is written only by `write` below (whole, via
        // rename), and is named by the hash of the wasm it was compiled from; wasmtime itself
        // checks the header (version, target, engine settings) and refuses a mismatch. Anyone
        // able to write there can already replace the application itself.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => Some(component),
            Err(error) => {
                self.stats.disk_rejected += 1;
                tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "unusable plugin cache file; recompiling");
                None
            }
        }
    }

    fn write(&mut self, component: &Component, path: &Path) {
        let written = component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|bytes| write_whole(path, &bytes).map_err(|e| e.to_string()));
        if let Err(error) = written {
            self.stats.write_failures += 1;
            tracing::warn!(path = %path.display(), %error, "cannot write plugin cache file");
        }
    }
}

/// Distinguishes concurrent writers' temp files within one process.
static WRITE_SEQUENCE: AtomicU64 = AtomicU64::new(0);

fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let sequence = WRITE_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("cwasm.{}-{sequence}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
