//! The plugins that ship with Chaff: every service of the catalogue and the built-in
//! strategies, compiled from `plugins/` for `wasm32-wasip2` at build time and embedded.
//!
//! The example plugin and the hostile test fixtures are compiled too but not embedded; they
//! are packaged on disk, in the layout a third party would ship, under [`PACKAGED_DIR`].

use std::path::PathBuf;

/// One embedded plugin: its manifest (with the sha256 of `wasm`) and its component.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinPlugin {
    pub manifest: &'static str,
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/index.rs"));

/// The packaged directory of the workspace plugin crate `crate_name` (e.g. `chaff-example-echo`).
pub fn packaged(crate_name: &str) -> PathBuf {
    PathBuf::from(PACKAGED_DIR).join(crate_name)
}
