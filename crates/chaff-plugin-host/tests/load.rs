//! Loading plugins: manifest checks, hashes, trust, imports, worlds, conflicts, the compile
//! cache. Real components built from source.

mod common;

use chaff_plugin_host::{
    ArtifactSource, DisabledReason, HostOptions, Limits, LoadError, Origin, PluginHost, PluginKind,
    PluginState, ServiceConfig, TrustStore, sha256_hex,
};
use common::*;

#[test]
fn loads_ssh_and_lists_it() {
    let mut host = host();
    let (manifest, wasm) = ssh();
    let id = host.load(manifest, wasm, Origin::Builtin).unwrap();
    assert_eq!(id.0, "shell");

    let slugs: Vec<&str> = host.services().iter().map(|s| s.slug.as_str()).collect();
    assert_eq!(slugs, ["ssh", "telnet"]);
    let ssh = host.service("ssh").unwrap();
    assert!(ssh.images.contains(&"chaff-sensor:0.1".to_owned()));
    assert!(host.strategies().is_empty());

    let status = host.plugin("shell").unwrap();
    assert_eq!(status.kind, PluginKind::Service);
    assert_eq!(status.origin, Origin::Builtin);
    assert_eq!(status.state, PluginState::Enabled);
    assert_eq!(status.services, ["ssh", "telnet"]);
    assert_eq!(status.sha256, sha256_hex(wasm));
    assert_eq!(status.limits.memory_bytes, chaff_plugin_host::limits::SERVICE_MEMORY_LIMIT);
    assert!(status.imports.iter().all(|i| chaff_plugin_host::imports::is_allowed(i)));
    assert!(status.imports.iter().any(|i| i.starts_with("wasi:cli/")), "{:?}", status.imports);
}

#[test]
fn forbidden_import_is_refused_at_load_naming_the_import() {
    let mut host = host();
    let (manifest, wasm) = fixture("forbidden-import");
    let err = host.load(&manifest, &wasm, Origin::ThirdParty { trusted: true }).unwrap_err();
    let LoadError::ForbiddenImport { plugin, import } = &err else {
        panic!("expected ForbiddenImport, got {err}")
    };
    assert_eq!(plugin, "fixture-forbidden-import");
    assert!(import.starts_with("wasi:sockets/"), "{import}");
    let message = err.to_string();
    assert!(message.contains("fixture-forbidden-import") && message.contains("wasi:sockets/"), "{message}");

    // Nothing of it is usable, and it is listed as disabled with the reason.
    assert!(host.service("fx_forbidden_import").is_none());
    let status = host.plugin("fixture-forbidden-import").unwrap();
    let PluginState::Disabled { reason: DisabledReason::LoadFailed { error } } = status.state else {
        panic!("expected a load failure, got {:?}", status.state)
    };
    assert!(error.contains("wasi:sockets/"), "{error}");
}

#[test]
fn hash_mismatch_is_refused() {
    let mut host = host();
    let (manifest, mut wasm) = fixture("privileged");
    let tampered = wasm.len() - 1;
    wasm[tampered] ^= 0xff;
    let err = host.load(&manifest, &wasm, Origin::ThirdParty { trusted: true }).unwrap_err();
    let LoadError::HashMismatch { plugin, expected, actual } = &err else {
        panic!("expected HashMismatch, got {err}")
    };
    assert_eq!(plugin, "fixture-privileged");
    assert_eq!(actual, &sha256_hex(&wasm));
    assert_ne!(expected, actual);
    assert!(err.to_string().contains("fixture-privileged"));
}

#[test]
fn wrong_api_version_is_refused() {
    let mut host = host();
    let (manifest, wasm) = fixture("panic");
    let manifest = with_line(&manifest, "api_version", "\"0.2.0\"");
    let err = host.load(&manifest, &wasm, Origin::ThirdParty { trusted: true }).unwrap_err();
    let LoadError::UnsupportedApi { plugin, found, supported } = &err else {
        panic!("expected UnsupportedApi, got {err}")
    };
    assert_eq!((plugin.as_str(), found.as_str(), *supported), ("fixture-panic", "0.2.0", "0.1.0"));
}

#[test]
fn malformed_manifests_are_refused() {
    let mut host = host();
    let (manifest, wasm) = fixture("panic");
    let unknown_key = format!("{manifest}\nentrypoint = \"main\"\n");
    assert!(matches!(host.load(&unknown_key, &wasm, Origin::Builtin), Err(LoadError::Manifest { .. })));
    let bad_id = with_line(&manifest, "id", "\"Not Valid\"");
    let err = host.load(&bad_id, &wasm, Origin::Builtin).unwrap_err();
    assert!(err.to_string().contains("Not Valid"), "{err}");
}

#[test]
fn declared_kind_must_match_the_world() {
    let mut host = host();
    let (manifest, wasm) = fixture("strategy");
    let manifest = with_line(&manifest, "kind", "\"service\"");
    let err = host.load(&manifest, &wasm, Origin::ThirdParty { trusted: true }).unwrap_err();
    assert!(
        matches!(&err, LoadError::WorldMismatch { plugin, kind: PluginKind::Service, .. } if plugin == "fixture-strategy"),
        "{err}"
    );
}

#[test]
fn untrusted_third_party_is_refused_then_loads_once_trusted() {
    let plugins = tempfile::tempdir().unwrap();
    let installed = plugins.path().join("privileged");
    std::fs::create_dir(&installed).unwrap();
    for file in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(fixture_dir("privileged").join(file), installed.join(file)).unwrap();
    }
    let trust_path = plugins.path().join("trust.toml");
    let mut trust = TrustStore::load(&trust_path).unwrap();

    let mut host = host();
    let results = host.load_dir(plugins.path(), &trust);
    assert_eq!(results.len(), 1);
    let err = results.into_iter().next().unwrap().unwrap_err();
    let LoadError::Untrusted { plugin, sha256 } = &err else { panic!("expected Untrusted, got {err}") };
    assert_eq!(plugin, "fixture-privileged");
    assert!(host.service("fx_privileged").is_none());

    // Listed as disabled so the UI/CLI can offer to trust it.
    let status = host.plugin("fixture-privileged").unwrap();
    assert_eq!(status.state, PluginState::Disabled { reason: DisabledReason::Untrusted });
    assert_eq!(status.origin, Origin::ThirdParty { trusted: false });
    assert_eq!(&status.sha256, sha256);

    trust.trust(plugin, sha256).unwrap();
    trust.save().unwrap();
    let trust = TrustStore::load(&trust_path).unwrap();
    let results = host.load_dir(plugins.path(), &trust);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].as_ref().unwrap().0, "fixture-privileged");
    assert!(host.service("fx_privileged").is_some());
    let status = host.plugin("fixture-privileged").unwrap();
    assert_eq!(status.state, PluginState::Enabled);
    assert_eq!(status.origin, Origin::ThirdParty { trusted: true });
    assert_eq!(host.plugins().iter().filter(|p| p.id == "fixture-privileged").count(), 1);
}

#[test]
fn a_missing_plugins_dir_is_empty_and_incomplete_dirs_are_errors() {
    let mut host = host();
    let root = tempfile::tempdir().unwrap();
    assert!(host.load_dir(&root.path().join("nope"), &TrustStore::empty()).is_empty());
    std::fs::create_dir(root.path().join("broken")).unwrap();
    let results = host.load_dir(root.path(), &TrustStore::empty());
    assert!(matches!(results.as_slice(), [Err(LoadError::Io { .. })]), "{results:?}");
}

#[test]
fn duplicate_ids_and_slugs_are_refused_naming_both() {
    let mut host = host();
    load_ssh(&mut host);
    let (manifest, wasm) = ssh();

    let err = host.load(manifest, wasm, Origin::Builtin).unwrap_err();
    assert!(matches!(&err, LoadError::DuplicatePlugin { plugin, .. } if plugin == "shell"), "{err}");

    // Same component under another id: its slug `ssh` is taken by plugin `shell`.
    let renamed = with_line(manifest, "id", "\"ssh-copy\"");
    let err = host.load(&renamed, wasm, Origin::Builtin).unwrap_err();
    let LoadError::ServiceConflict { plugin, slug, existing } = &err else {
        panic!("expected ServiceConflict, got {err}")
    };
    assert_eq!((plugin.as_str(), slug.as_str(), existing.as_str()), ("ssh-copy", "ssh", "shell"));
    let message = err.to_string();
    assert!(message.contains("ssh-copy") && message.contains("'ssh'"), "{message}");

    // The original still works.
    host.render("ssh", &decky(), &ServiceConfig::default()).unwrap();
}

#[test]
fn strategy_id_conflicts_are_refused() {
    let mut host = host();
    load_fixture(&mut host, "strategy");
    let (manifest, wasm) = fixture("strategy");
    let renamed = with_line(&manifest, "id", "\"strategy-copy\"");
    let err = host.load(&renamed, &wasm, Origin::ThirdParty { trusted: true }).unwrap_err();
    assert!(
        matches!(&err, LoadError::StrategyConflict { plugin, existing, .. } if plugin == "strategy-copy" && existing == "fixture-strategy"),
        "{err}"
    );
}

#[test]
fn a_warm_start_deserialises_instead_of_compiling() {
    let cache = tempfile::tempdir().unwrap();
    let options = || HostOptions { limits: Limits::default(), cache_dir: Some(cache.path().to_owned()) };
    let (manifest, wasm) = ssh();
    let sha = sha256_hex(wasm);

    let mut cold = PluginHost::new(options()).unwrap();
    cold.load(manifest, wasm, Origin::Builtin).unwrap();
    assert_eq!(cold.cache_stats().compiled, 1);
    assert_eq!(cold.plugin("shell").unwrap().artifact, Some(ArtifactSource::Compiled));
    let file = cold.cache_file(&sha).unwrap();
    assert!(file.is_file(), "{} should exist", file.display());
    assert!(
        file.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with(&format!("-{}.cwasm", chaff_plugin_host::engine::WASMTIME_VERSION))
    );

    let mut warm = PluginHost::new(options()).unwrap();
    warm.load(manifest, wasm, Origin::Builtin).unwrap();
    let stats = warm.cache_stats();
    assert_eq!((stats.compiled, stats.from_disk), (0, 1), "{stats:?}");
    assert_eq!(warm.plugin("shell").unwrap().artifact, Some(ArtifactSource::DiskCache));
    warm.render("ssh", &decky(), &ServiceConfig::default()).unwrap();

    // A corrupt cache file is recompiled (and replaced), never fatal.
    std::fs::write(&file, b"not a compiled component").unwrap();
    let mut repaired = PluginHost::new(options()).unwrap();
    repaired.load(manifest, wasm, Origin::Builtin).unwrap();
    let stats = repaired.cache_stats();
    assert_eq!((stats.compiled, stats.from_disk, stats.disk_rejected), (1, 0, 1), "{stats:?}");
    repaired.render("ssh", &decky(), &ServiceConfig::default()).unwrap();

    let mut again = PluginHost::new(options()).unwrap();
    again.load(manifest, wasm, Origin::Builtin).unwrap();
    assert_eq!(again.cache_stats().from_disk, 1);
}

#[test]
fn the_same_component_compiles_once_per_host() {
    let mut host = PluginHost::new(HostOptions::default()).unwrap();
    let (manifest, wasm) = ssh();
    host.load(manifest, wasm, Origin::Builtin).unwrap();
    // A second id for the same bytes is refused for its slug, but reuses the compiled code.
    let renamed = with_line(manifest, "id", "\"ssh-copy\"");
    assert!(host.load(&renamed, wasm, Origin::Builtin).is_err());
    let stats = host.cache_stats();
    assert_eq!((stats.compiled, stats.from_memory), (1, 1), "{stats:?}");
}

#[test]
fn every_builtin_plugin_loads_and_renders_with_defaults() {
    let mut host = host();
    for plugin in chaff_builtin_plugins::BUILTIN {
        if let Err(e) = host.load(plugin.manifest, plugin.wasm, Origin::Builtin) {
            panic!("built-in plugin refused: {e}");
        }
    }
    let slugs: Vec<String> = host.services().iter().map(|s| s.slug.clone()).collect();
    assert!(slugs.contains(&"ssh".to_owned()));
    for slug in slugs {
        let spec = host.service(&slug).unwrap();
        let config = chaff_plugin_host::validate_config(spec, &Default::default()).unwrap();
        if let Err(e) = host.render(&slug, &decky(), &config) {
            panic!("{slug} does not render with its defaults: {e}");
        }
    }
}
