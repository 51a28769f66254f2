//! Rendering a fleet into a compose project, with the fake plugin host of `common`.
//!
//! `snapshots/small_fleet.yaml` is the expected YAML of a small fleet; after an intended
//! change, regenerate it with `CHAFF_UPDATE_SNAPSHOTS=1 cargo test -p chaff-engine --test render`
//! and review the diff.

mod common;

use std::path::PathBuf;

use chaff_engine::ini::{ImportOptions, import_ini};
use chaff_engine::model::Fleet;
use chaff_engine::naming::service_container_name;
use chaff_engine::render::{RenderError, render_fleet};
use chaff_plugin_host::spec::{ConfigValue, ServiceConfig};
use common::FakePlugins;
use serde_json::{Value, json};

const SMALL_FLEET: &str = "\
[general]
name = lab
net = 10.20.0.0/24
interface = eth0

[custom-wiki]
binary = ghcr.io/example/wiki:2
exec = wiki --port 8080
ports = 8080

[gw]
services = ssh, docker_api
nmap_os = linux

[gw.ssh]
password = hunter2

[win]
archetype = windows-workstation
services = rdp, wiki
";

fn import(text: &str) -> Fleet {
    let options = ImportOptions { default_fleet_name: "lab", reserved: &[], now: 1_700_000_000 };
    import_ini(text, &common::catalogue(), &options, &mut fastrand::Rng::with_seed(3))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// SMALL_FLEET, with the fleet singleton `sniffer` added to `gw`'s services (an INI refuses
/// that: it belongs in `fleet_services=`), which rendering skips.
fn small_fleet() -> Fleet {
    let mut fleet = import(SMALL_FLEET);
    fleet.deckies[0].services.push("sniffer".into());
    fleet
}

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name)
}

fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if std::env::var_os("CHAFF_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with CHAFF_UPDATE_SNAPSHOTS=1", path.display()));
    if expected != actual {
        panic!("{name} differs from the snapshot.\n--- expected\n{expected}\n--- actual\n{actual}");
    }
}

#[test]
fn small_fleet_matches_the_snapshot() {
    let project = render_fleet(&small_fleet(), &FakePlugins::new()).unwrap();
    assert_eq!(project.name, "chaff-lab");
    assert_snapshot("small_fleet.yaml", &project.to_yaml().unwrap());
}

#[test]
fn rendering_is_deterministic() {
    let fleet = small_fleet();
    let first = render_fleet(&fleet, &FakePlugins::new()).unwrap().to_yaml().unwrap();
    let second = render_fleet(&fleet.clone(), &FakePlugins::new()).unwrap().to_yaml().unwrap();
    assert_eq!(first, second);
}

#[test]
fn base_container_shape() {
    let project = render_fleet(&small_fleet(), &FakePlugins::new()).unwrap();
    let base = &project.document["services"]["win"];
    assert_eq!(base["image"], "chaff-sensor:0.1");
    assert_eq!(base["command"], json!(["idle"]));
    assert_eq!(base["container_name"], "win");
    assert_eq!(base["networks"]["chaff_lab"]["ipv4_address"], "10.20.0.3");
    assert_eq!(base["sysctls"]["net.ipv4.ip_default_ttl"], "128", "windows family");
    assert_eq!(base["sysctls"].as_object().unwrap().len(), 10);
    assert_eq!(base["cap_add"], json!(["NET_ADMIN"]));
    assert_eq!(base["cap_drop"], json!(["ALL"]));
    assert_eq!(base["labels"]["io.chaff.role"], "base");
    assert_eq!(base["logging"]["options"]["max-file"], "5");
}

#[test]
fn service_containers_get_host_owned_keys() {
    let project = render_fleet(&small_fleet(), &FakePlugins::new()).unwrap();
    let services = project.document["services"].as_object().unwrap();
    let keys: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["gw", "gw-ssh", "gw-docker-api", "win", "win-rdp", "win-wiki"],
        "sniffer is not rendered"
    );
    let api = &services["gw-docker-api"];
    assert_eq!(api["container_name"], service_container_name("gw", "docker_api"));
    assert_eq!(api["network_mode"], "service:gw");
    assert_eq!(api["depends_on"], json!(["gw"]));
    assert_eq!(api["restart"], "unless-stopped");
    assert_eq!(api["environment"]["NODE_NAME"], "gw");
    assert_eq!(api["labels"]["io.chaff.service"], "docker_api");
    assert_eq!(api["labels"]["io.chaff.role"], "service");
    assert_eq!(api["security_opt"], json!(["no-new-privileges:true"]));
    assert_eq!(api["read_only"], true);
    assert_eq!(api["mem_limit"], "256m");
    assert_eq!(services["gw-ssh"]["environment"]["SSH_PASSWORD"], "hunter2");

    let wiki = &services["win-wiki"];
    assert_eq!(wiki["image"], "ghcr.io/example/wiki:2");
    assert_eq!(wiki["command"], json!(["wiki", "--port", "8080"]));
    assert_eq!(wiki.get("read_only"), None, "custom images keep a writable root");
    assert_eq!(wiki.get("cap_drop"), None);
}

#[test]
fn the_fleet_log_target_reaches_every_service() {
    let fleet = import("[general]\nlog_target = 10.0.0.5:514\n[d]\nservices = ssh\n");
    let project = render_fleet(&fleet, &FakePlugins::new()).unwrap();
    assert_eq!(project.document["services"]["d-ssh"]["environment"]["LOG_TARGET"], "10.0.0.5:514");
    let without = render_fleet(&import("[d]\nservices = ssh\n"), &FakePlugins::new()).unwrap();
    assert_eq!(without.document["services"]["d-ssh"]["environment"].get("LOG_TARGET"), None);
}

#[test]
fn network_definitions_per_driver() {
    let macvlan = render_fleet(&small_fleet(), &FakePlugins::new()).unwrap();
    assert_eq!(
        macvlan.document["networks"],
        json!({ "chaff_lab": {
            "name": "chaff_lab",
            "driver": "macvlan",
            "driver_opts": { "parent": "eth0" },
            "ipam": { "config": [{ "subnet": "10.20.0.0/24", "gateway": "10.20.0.1" }] },
            "labels": { "io.chaff.fleet": "lab", "io.chaff.managed": "true" },
        }})
    );
    let ipvlan = import("[general]\ndriver = ipvlan\ninterface = eth0\n[d]\nservices = ssh\n");
    let ipvlan = render_fleet(&ipvlan, &FakePlugins::new()).unwrap();
    assert_eq!(
        ipvlan.document["networks"]["chaff_lab"]["driver_opts"],
        json!({ "parent": "eth0", "ipvlan_mode": "l2" })
    );
    let bridge = render_fleet(&import("[d]\nservices = ssh\n"), &FakePlugins::new()).unwrap();
    assert_eq!(bridge.document["networks"]["chaff_lab"]["driver"], "bridge");
    assert_eq!(bridge.document["networks"]["chaff_lab"].get("driver_opts"), None);
}

#[test]
fn stored_config_is_revalidated_before_render() {
    let mut fleet = import("[d]\nservices = http\n");
    let mut config = ServiceConfig::default();
    config.0.insert("response_code".into(), ConfigValue::Text("teapot".into()));
    fleet.deckies[0].service_config.insert("http".into(), config);
    let err = render_fleet(&fleet, &FakePlugins::new()).unwrap_err();
    assert_eq!(err.to_string(), "decky 'd', service 'http': response_code: expected int, got 'teapot'");
    let RenderError::InvalidConfig { source, .. } = err else { panic!("{err:?}") };
    assert_eq!(source.field, "response_code");
}

#[test]
fn render_errors() {
    let mut fleet = import("[d]\nservices = ssh\n");
    fleet.deckies[0].services.push("gopher".into());
    assert_eq!(
        render_fleet(&fleet, &FakePlugins::new()).unwrap_err().to_string(),
        "decky 'd': unknown service 'gopher'"
    );

    let mut fleet = import("[d]\nservices = ssh\n[d-ssh]\nservices = ftp\n");
    assert_eq!(
        render_fleet(&fleet, &FakePlugins::new()).unwrap_err().to_string(),
        "container name 'd-ssh' would be used twice (by service ssh of decky 'd' and by decky 'd-ssh')"
    );

    fleet.deckies[1].name = "Bad".into();
    assert_eq!(
        render_fleet(&fleet, &FakePlugins::new()).unwrap_err().to_string(),
        "invalid fleet: decky name 'Bad' must match ^[a-z0-9-]{1,64}$"
    );

    let mut fleet = import("[custom-app]\nbinary = app:1\n[d]\nservices = app\n");
    fleet.custom_services[0].image = "app:1".into();
    fleet.deckies[0].services = vec!["app".into()];
    let mut plugins = FakePlugins::new();
    plugins.specs.retain(|s| s.slug != "ssh");
    render_fleet(&fleet, &plugins).unwrap();
}

#[test]
fn a_shared_port_goes_to_the_more_specific_service_and_equal_claims_are_refused() {
    let mut plugins = FakePlugins::new();
    let clone = |plugins: &FakePlugins, from: &str, to: &str| {
        let mut spec = plugins.specs.iter().find(|s| s.slug == from).unwrap().clone();
        spec.slug = to.into();
        spec
    };
    let mut https = clone(&plugins, "http", "https");
    https.ports.retain(|p| p.number == 443);
    let relay = clone(&plugins, "smtp", "smtp_relay");
    plugins.specs.extend([https, relay]);

    // http (80, 443) and https (443): https serves 443, http is told to leave it alone.
    let mut fleet = import("[d]\nservices = ssh\n");
    fleet.deckies[0].services = vec!["http".into(), "https".into()];
    let project = render_fleet(&fleet, &plugins).unwrap();
    let services = &project.document["services"];
    assert_eq!(services["d-http"]["environment"]["CHAFF_SKIP_PORTS"], "443/tcp");
    assert!(services["d-https"]["environment"].get("CHAFF_SKIP_PORTS").is_none());

    // smtp and smtp_relay claim 25 and 587 equally: refused, naming both.
    fleet.deckies[0].services = vec!["smtp".into(), "smtp_relay".into()];
    let error = render_fleet(&fleet, &plugins).unwrap_err();
    assert!(matches!(error, RenderError::PortClash { .. }));
    assert_eq!(
        error.to_string(),
        "decky 'd': services 'smtp' and 'smtp_relay' both listen on 25/tcp; keep one of them"
    );
    // Random draws and mutations keep the first of clashing services.
    let catalogue = chaff_engine::catalogue::Catalogue::from_plugins(&plugins);
    let draw = ["smtp_relay", "ssh", "smtp", "http", "https", "gopher"].map(String::from).to_vec();
    assert_eq!(catalogue.without_port_clashes(draw), ["smtp_relay", "ssh", "http", "https", "gopher"]);
}

#[test]
fn named_volumes_are_namespaced_per_container_and_declared() {
    struct VolumePlugins(FakePlugins);
    impl chaff_engine::ServicePlugins for VolumePlugins {
        type Error = common::FakeError;
        fn service_specs(&self) -> Vec<chaff_plugin_host::spec::ServiceSpec> {
            self.0.service_specs()
        }
        fn render_fragment(
            &self,
            slug: &str,
            decky: &chaff_plugin_host::spec::DeckyContext,
            config: &ServiceConfig,
        ) -> Result<serde_json::Map<String, Value>, common::FakeError> {
            let mut fragment = self.0.render_fragment(slug, decky, config)?;
            fragment.insert(
                "volumes".into(),
                json!(["spool:/var/spool:rw", { "type": "volume", "source": "data", "target": "/data" }, "/anon"]),
            );
            fragment.insert("ports".into(), json!(["22:22"]));
            Ok(fragment)
        }
    }
    let fleet = import("[a]\nservices = ssh\n[b]\nservices = ssh\n");
    let project = render_fleet(&fleet, &VolumePlugins(FakePlugins::new())).unwrap();
    let a = &project.document["services"]["a-ssh"];
    assert_eq!(
        a["volumes"],
        json!(["a-ssh-spool:/var/spool:rw", { "type": "volume", "source": "a-ssh-data", "target": "/data" }, "/anon"])
    );
    assert_eq!(a.get("ports"), None, "published ports cannot coexist with a shared namespace");
    let volumes: Vec<&str> =
        project.document["volumes"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(volumes, ["a-ssh-spool", "a-ssh-data", "b-ssh-spool", "b-ssh-data"]);
    assert_eq!(project.document["volumes"]["b-ssh-data"]["labels"]["io.chaff.decky"], "b");
}

/// SMALL_FLEET with the sniffer enabled fleet-wide.
fn small_fleet_with_sniffer() -> Fleet {
    import(&SMALL_FLEET.replace("interface = eth0\n", "interface = eth0\nfleet_services = sniffer\n"))
}

#[test]
fn a_fleet_service_is_one_container_on_the_fleet_network() {
    let mut fleet = small_fleet_with_sniffer();
    fleet.log_target = Some("10.20.0.9:514".into());
    assert_eq!(fleet.fleet_services[0].ip.to_string(), "10.20.0.254");
    let project = render_fleet(&fleet, &FakePlugins::new()).unwrap();
    let services = project.document["services"].as_object().unwrap();
    let keys: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(keys, ["gw", "gw-ssh", "gw-docker-api", "win", "win-rdp", "win-wiki", "lab-sniffer"]);
    let sniffer = &services["lab-sniffer"];
    assert_eq!(sniffer["container_name"], "lab-sniffer");
    assert_eq!(sniffer["image"], "chaff-sensor:0.1");
    assert_eq!(sniffer["command"], json!(["sniffer"]));
    assert_eq!(sniffer["networks"], json!({ "chaff_lab": { "ipv4_address": "10.20.0.254" } }));
    assert_eq!(sniffer.get("network_mode"), None);
    assert_eq!(sniffer.get("depends_on"), None);
    assert_eq!(
        sniffer["labels"],
        json!({
            "io.chaff.fleet": "lab",
            "io.chaff.service": "sniffer",
            "io.chaff.role": "fleet-service",
            "io.chaff.managed": "true",
        })
    );
    assert_eq!(sniffer["environment"]["NODE_NAME"], "lab-sniffer");
    assert_eq!(sniffer["environment"]["HOSTNAME"], "lab-sniffer");
    assert_eq!(sniffer["environment"]["LOG_TARGET"], "10.20.0.9:514");
    assert_eq!(sniffer["environment"]["SENSOR_DISTRO"], "debian");
    assert_eq!(sniffer["restart"], "unless-stopped");
    assert_eq!(sniffer["logging"]["options"]["max-size"], "10m");
    assert_eq!(sniffer["security_opt"], json!(["no-new-privileges:true"]));
    assert_eq!(sniffer["read_only"], true);
    assert_eq!(sniffer["mem_limit"], "256m");
    assert_eq!(sniffer["pids_limit"], 256);
}

#[test]
fn fleet_services_only_add_their_container() {
    let with = render_fleet(&small_fleet_with_sniffer(), &FakePlugins::new()).unwrap();
    let without = render_fleet(&import(SMALL_FLEET), &FakePlugins::new()).unwrap();
    let mut trimmed = with.document.clone();
    trimmed["services"].as_object_mut().unwrap().shift_remove("lab-sniffer");
    assert_eq!(trimmed, without.document);
}

#[test]
fn the_plugin_of_a_fleet_service_renders_for_a_stand_in_decky() {
    struct Recording(FakePlugins, std::cell::RefCell<Vec<chaff_plugin_host::spec::DeckyContext>>);
    impl chaff_engine::ServicePlugins for Recording {
        type Error = common::FakeError;
        fn service_specs(&self) -> Vec<chaff_plugin_host::spec::ServiceSpec> {
            self.0.service_specs()
        }
        fn render_fragment(
            &self,
            slug: &str,
            decky: &chaff_plugin_host::spec::DeckyContext,
            config: &ServiceConfig,
        ) -> Result<serde_json::Map<String, Value>, common::FakeError> {
            if slug == "sniffer" {
                self.1.borrow_mut().push(decky.clone());
            }
            self.0.render_fragment(slug, decky, config)
        }
    }
    let plugins = Recording(FakePlugins::new(), Default::default());
    render_fleet(&small_fleet_with_sniffer(), &plugins).unwrap();
    let seen = plugins.1.into_inner();
    assert_eq!(
        seen,
        [chaff_plugin_host::spec::DeckyContext {
            name: "lab-sniffer".into(),
            hostname: "lab-sniffer".into(),
            ip: "10.20.0.254".into(),
            distro: "debian".into(),
            os_family: "linux".into(),
            archetype: None,
        }]
    );
}

#[test]
fn fleet_service_render_errors() {
    let fleet =
        import("[general]\nfleet_services = sniffer\n[d]\nservices = ssh\n[lab-sniffer]\nservices = ftp\n");
    assert_eq!(
        render_fleet(&fleet, &FakePlugins::new()).unwrap_err().to_string(),
        "container name 'lab-sniffer' would be used twice (by decky 'lab-sniffer' and by fleet service sniffer)"
    );

    let mut fleet = import("[general]\nfleet_services = sniffer\n[d]\nservices = ssh\n");
    let mut plugins = FakePlugins::new();
    plugins.specs.retain(|s| s.slug != "sniffer");
    assert_eq!(
        render_fleet(&fleet, &plugins).unwrap_err().to_string(),
        "fleet service 'sniffer' is not an installed service"
    );

    fleet.fleet_services[0].slug = "ftp".into();
    assert_eq!(
        render_fleet(&fleet, &FakePlugins::new()).unwrap_err().to_string(),
        "fleet service 'ftp' runs on deckies, not once per fleet"
    );

    fleet.fleet_services[0].ip = fleet.deckies[0].ip;
    assert_eq!(
        render_fleet(&fleet, &FakePlugins::new()).unwrap_err().to_string(),
        "invalid fleet: fleet service 'ftp': ip 10.200.0.2 is already used by decky 'd'"
    );
}
