//! What the tests on the real built-in plugins share: one plugin host per test binary with
//! every built-in plugin loaded.

use std::sync::OnceLock;

use chaff_plugin_host::{HostOptions, Origin, PluginHost};

/// The host with every built-in plugin (wasm, compiled from `plugins/`), loaded once.
pub fn host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| {
        let mut host = PluginHost::new(HostOptions::default()).expect("plugin host");
        for plugin in chaff_builtin_plugins::BUILTIN {
            host.load(plugin.manifest, plugin.wasm, Origin::Builtin).expect("built-in plugin loads");
        }
        host
    })
}
