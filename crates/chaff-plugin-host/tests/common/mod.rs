//! Helpers shared by the integration tests: real components, built from source by
//! `chaff-builtin-plugins`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chaff_plugin_host::{DeckyContext, HostOptions, Limits, Origin, PluginHost};

/// The packaged directory of fixture `name` (`plugins/fixtures/<name>`).
pub fn fixture_dir(name: &str) -> PathBuf {
    chaff_builtin_plugins::packaged(&format!("chaff-fixture-{name}"))
}

/// (manifest text, component bytes) of a packaged plugin directory.
pub fn read_packaged(dir: &Path) -> (String, Vec<u8>) {
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    let wasm = std::fs::read(dir.join("plugin.wasm")).unwrap();
    (manifest, wasm)
}

pub fn fixture(name: &str) -> (String, Vec<u8>) {
    read_packaged(&fixture_dir(name))
}

/// The built-in `shell` plugin, which defines the `ssh` (and `telnet`) service.
pub fn ssh() -> (&'static str, &'static [u8]) {
    let plugin = chaff_builtin_plugins::BUILTIN
        .iter()
        .find(|p| p.manifest.lines().any(|l| l.trim() == "id = \"shell\""))
        .expect("the shell plugin is built in");
    (plugin.manifest, plugin.wasm)
}

/// A compile cache shared by all tests and kept between runs (under the target dir), so
/// each component version compiles once. Entries are keyed by sha256, so a rebuilt fixture
/// simply gets a new entry. Tests of the cache itself use a fresh directory instead.
pub fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaff-plugin-host-cache")
}

pub fn host_with(limits: Limits) -> PluginHost {
    PluginHost::new(HostOptions { limits, cache_dir: Some(shared_cache()) }).unwrap()
}

pub fn host() -> PluginHost {
    host_with(Limits::default())
}

/// Loads a fixture as a trusted third-party plugin.
pub fn load_fixture(host: &mut PluginHost, name: &str) {
    let (manifest, wasm) = fixture(name);
    host.load(&manifest, &wasm, Origin::ThirdParty { trusted: true })
        .unwrap_or_else(|e| panic!("fixture {name} should load: {e}"));
}

pub fn load_ssh(host: &mut PluginHost) {
    let (manifest, wasm) = ssh();
    host.load(manifest, wasm, Origin::Builtin).unwrap();
}

pub fn decky() -> DeckyContext {
    DeckyContext {
        name: "decky-01".into(),
        hostname: "web01".into(),
        ip: "192.168.1.10".into(),
        distro: "debian".into(),
        os_family: "linux".into(),
        archetype: None,
    }
}

/// Replaces one `key = value` line of a manifest.
pub fn with_line(manifest: &str, key: &str, value: &str) -> String {
    manifest
        .lines()
        .map(|l| if l.starts_with(&format!("{key} =")) { format!("{key} = {value}") } else { l.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
}
