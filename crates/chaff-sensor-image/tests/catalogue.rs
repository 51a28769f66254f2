//! The sensor's port table against the real catalogue: every built-in service plugin,
//! compiled from `plugins/` and loaded into the real plugin host.

use std::collections::{BTreeMap, BTreeSet};

use chaff_plugin_host::{HostOptions, Origin, PluginHost, Transport};

type Ports = BTreeSet<(u16, &'static str)>;

/// A host with every built-in plugin, compiled components cached between runs.
fn host() -> PluginHost {
    let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaff-sensor-image-plugin-cache");
    let mut host = PluginHost::new(HostOptions { cache_dir: Some(cache), ..HostOptions::default() }).unwrap();
    for plugin in chaff_builtin_plugins::BUILTIN {
        host.load(plugin.manifest, plugin.wasm, Origin::Builtin).expect("built-in plugins load");
    }
    host
}

fn catalogue() -> BTreeMap<String, Ports> {
    host()
        .services()
        .into_iter()
        .map(|s| {
            let ports = s
                .ports
                .iter()
                .map(|p| {
                    let transport = match p.transport {
                        Transport::Tcp => "tcp",
                        Transport::Udp => "udp",
                    };
                    (p.number, transport)
                })
                .collect();
            (s.slug.clone(), ports)
        })
        .collect()
}

fn sensor() -> BTreeMap<String, Ports> {
    chaff_sensor::SERVICES
        .iter()
        .map(|s| (s.slug.to_owned(), s.ports.iter().map(|p| (p.number, p.transport.as_str())).collect()))
        .collect()
}

#[test]
fn sensor_ports_equal_the_catalogue() {
    let catalogue = catalogue();
    let sensor = sensor();
    assert!(catalogue.len() >= 29, "the catalogue should not be this small: {:?}", catalogue.keys());

    let unknown: Vec<&String> = catalogue.keys().filter(|slug| !sensor.contains_key(*slug)).collect();
    assert!(unknown.is_empty(), "catalogue services the sensor does not know: {unknown:?}");
    let extra: Vec<&String> = sensor.keys().filter(|slug| !catalogue.contains_key(*slug)).collect();
    assert!(extra.is_empty(), "sensor services not in the catalogue: {extra:?}");

    for (slug, ports) in &catalogue {
        assert_eq!(&sensor[slug], ports, "ports of {slug}");
    }
    // Each port listed once (the sets above would hide a duplicate).
    for service in chaff_sensor::SERVICES {
        let unique: BTreeSet<_> = service.ports.iter().collect();
        assert_eq!(unique.len(), service.ports.len(), "{} lists a port twice", service.slug);
    }
}

#[test]
fn every_catalogue_service_runs_the_sensor_image_with_its_slug() {
    let host = host();
    for service in host.services() {
        assert_eq!(service.images, [chaff_sensor_image::IMAGE], "{}", service.slug);
        assert!(chaff_sensor::service_named(&service.slug).is_some(), "{}", service.slug);
    }
}
