//! The wasm glue is transparent: every built-in service, loaded as a real wasm component,
//! declares the same catalogue entry and renders the same fragment as its own code compiled
//! natively. This is also what makes the native benchmark baseline a fair one.

use chaff_bench::{native_catalog, native_render, sdk_config, sdk_decky};
use chaff_plugin_host::{DeckyContext, HostOptions, Origin, PluginHost, check_fragment, validate_config};

fn builtin_host() -> PluginHost {
    let mut host = PluginHost::new(HostOptions::default()).unwrap();
    for plugin in chaff_builtin_plugins::BUILTIN {
        host.load(plugin.manifest, plugin.wasm, Origin::Builtin).unwrap();
    }
    host
}

#[test]
fn wasm_and_native_builds_of_every_service_agree() {
    let host = builtin_host();
    let decky = DeckyContext {
        name: "decky-01".into(),
        hostname: "web-42".into(),
        ip: "172.30.0.10".into(),
        distro: "alpine".into(),
        os_family: "embedded".into(),
        archetype: Some("iot-device".into()),
    };
    let native = native_catalog();
    assert_eq!(native.len(), 29, "one native entry per built-in service");
    for info in native {
        let spec = host.service(&info.slug).unwrap_or_else(|| panic!("{} loaded from wasm", info.slug));
        let ports: Vec<u16> = spec.ports.iter().map(|p| p.number).collect();
        let native_ports: Vec<u16> = info.ports.iter().map(|p| p.number).collect();
        assert_eq!(ports, native_ports, "{}: ports", info.slug);
        let keys: Vec<&str> = spec.fields.iter().map(|f| f.key.as_str()).collect();
        let native_keys: Vec<&str> = info.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, native_keys, "{}: fields", info.slug);
        if spec.fleet_singleton {
            continue;
        }

        let config = validate_config(spec, &Default::default()).unwrap();
        let from_wasm = host.render(&info.slug, &decky, &config).unwrap();
        let fragment = native_render(&info.slug, &sdk_decky(&decky), &sdk_config(&config)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&fragment.to_json()).unwrap();
        let from_native = check_fragment(spec, &json).unwrap();
        assert_eq!(from_wasm, from_native, "{}: fragment", info.slug);
    }
}
