//! Fleets rendered with the REAL built-in plugins (wasm, loaded into a real `PluginHost`) are
//! compose files the real Compose tool accepts: `docker compose config -q` when the v2 plugin
//! is installed, else `docker-compose config -q` (1.29 on Debian). Set `CHAFF_KEEP_COMPOSE=<dir>`
//! to keep the rendered files there for inspection.

mod builtin;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use builtin::host;
use chaff_engine::fastrand::Rng;
use chaff_engine::ini::{ImportOptions, export_ini, import_ini};
use chaff_engine::model::Fleet;
use chaff_engine::render::{ComposeProject, render_fleet};
use chaff_engine::{Catalogue, naming};

fn import(text: &str) -> Fleet {
    let catalogue = Catalogue::from_plugins(host());
    let options = ImportOptions { default_fleet_name: "e2e", reserved: &[], now: 1_700_000_000 };
    import_ini(text, &catalogue, &options, &mut Rng::with_seed(11)).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The Compose command line to validate with: the v2 plugin if it works, else v1.
fn compose_command() -> Vec<&'static str> {
    let v2 = Command::new("docker").args(["compose", "version"]).output();
    if v2.is_ok_and(|o| o.status.success()) { vec!["docker", "compose"] } else { vec!["docker-compose"] }
}

/// Writes `project` to a temporary file and asserts `config -q` accepts it.
fn assert_compose_accepts(project: &ComposeProject) {
    let yaml = project.to_yaml().expect("yaml");
    if let Some(dir) = std::env::var_os("CHAFF_KEEP_COMPOSE") {
        std::fs::write(Path::new(&dir).join(format!("{}.yml", project.name)), &yaml).unwrap();
    }
    let mut file = tempfile::Builder::new().suffix(".yml").tempfile().expect("temp file");
    file.write_all(yaml.as_bytes()).unwrap();
    let (program, prefix) = compose_command().split_first().map(|(p, rest)| (*p, rest.to_vec())).unwrap();
    let output = run_config(program, &prefix, &project.name, file.path());
    assert!(
        output.status.success(),
        "{program} {prefix:?} config -q refused the file (exit {:?}):\n{}\n--- file\n{yaml}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr),
    );
}

fn run_config(program: &str, prefix: &[&str], project: &str, file: &Path) -> std::process::Output {
    Command::new(program)
        .args(prefix)
        .args(["-p", project, "-f"])
        .arg(file)
        .args(["config", "-q"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Guards the tests below: the check really runs Compose and really fails on a bad file.
#[test]
fn compose_refuses_a_broken_file() {
    let broken = ComposeProject {
        name: "chaff-broken".into(),
        document: serde_json::json!({ "services": { "a": { "image": "x", "network_mode": "service:missing" } } }),
    };
    let yaml = broken.to_yaml().unwrap();
    let mut file = tempfile::Builder::new().suffix(".yml").tempfile().unwrap();
    file.write_all(yaml.as_bytes()).unwrap();
    let command = compose_command();
    let output = run_config(command[0], &command[1..], &broken.name, file.path());
    assert!(!output.status.success(), "a service joined to a missing service must be refused");
}

#[test]
fn the_real_plugins_provide_the_29_services() {
    let catalogue = Catalogue::from_plugins(host());
    let all: Vec<_> = catalogue.specs().map(|s| s.slug.as_str()).collect();
    assert_eq!(all.len(), 29, "{all:?}");
    assert_eq!(catalogue.available().len(), 28, "every service but the sniffer runs per decky");
}

#[test]
fn one_decky_per_builtin_service() {
    let catalogue = Catalogue::from_plugins(host());
    let mut ini = String::from("[general]\nnet = 10.210.0.0/24\n");
    for slug in catalogue.available() {
        ini.push_str(&format!("\n[{}]\nservices = {slug}\n", naming::service_container_name("d", &slug)));
    }
    let mut fleet = import(&ini);
    // A fleet singleton belongs in `fleet_services=`, not a decky's services; a decky that
    // lists it anyway renders without it.
    fleet.deckies[0].services.push("sniffer".into());
    let project = render_fleet(&fleet, host()).unwrap_or_else(|e| panic!("{e}"));
    let services = project.document["services"].as_object().unwrap();
    assert_eq!(services.len(), 2 * 28, "a base and a service container per decky, no sniffer");
    for decky in &fleet.deckies {
        let container = naming::service_container_name(&decky.name, &decky.services[0]);
        assert_eq!(services[&container]["network_mode"], format!("service:{}", decky.name));
    }
    assert_compose_accepts(&project);
}

/// Every built-in service (the sniffer fleet-wide), a custom service, service sections,
/// expansion and archetypes.
const EVERYTHING: &str = "\
[general]
name = everything
net = 192.168.77.0/24
gw = 192.168.77.254
interface = eth0
driver = ipvlan
log_target = 192.168.77.10:514
mutate_interval = 15
fleet_services = sniffer

[custom-wiki]
binary = ghcr.io/example/wiki:2
exec = wiki --listen 0.0.0.0:8080
ports = 8080

[ws]
archetype = windows-workstation
amount = 3

[ws.rdp]
nla = true

[dc]
archetype = domain-controller
ip = 192.168.77.10

[files]
archetype = file-server
services = smb, ftp, ssh, tftp, wiki

[files.ssh]
password = hunter2
user = backup
hostname = files01

[mail]
archetype = mail-server
services = smtp, pop3, imap
nmap_os = linux

[relay]
services = smtp_relay

[mail.smtp]
mta = exim
banner = 220 mail.example.com ESMTP

[relay.smtp_relay]
upstream_port = 2525
probe_limit = 3

[web]
archetype = web-server
services = http, https, elasticsearch
amount = 2

[web.http]
response_code = 404
fake_app = wordpress
http_versions = http/1.1, http/2
custom_body = <html><body>It works</body></html>

[web-02.https]
tls_cn = www.example.com

[db]
archetype = database-server
services = mysql, postgres, redis, mongodb, mssql

[db.mysql]
version = 8.0.36

[db.redis]
version = 7.2.4
os_string = Linux 6.1.0 x86_64

[infra]
services = dns, ldap, llmnr, snmp, sip, vnc, telnet, k8s, docker_api, mqtt, conpot
nmap_os = embedded

[infra.dns]
zone_mode = recursive
domain = corp.example
real_recursive = false

[infra.telnet]
password = root

[random]
amount = 4
";

#[test]
fn an_ini_using_every_builtin_service() {
    let fleet = import(EVERYTHING);
    let catalogue = Catalogue::from_plugins(host());
    let on_deckies = fleet.deckies.iter().flat_map(|d| d.services.iter().map(String::as_str));
    let fleet_wide = fleet.fleet_services.iter().map(|s| s.slug.as_str());
    let used: std::collections::BTreeSet<&str> = on_deckies.chain(fleet_wide).collect();
    for spec in catalogue.specs() {
        assert!(used.contains(spec.slug.as_str()), "{} is not used", spec.slug);
    }
    let project = render_fleet(&fleet, host()).unwrap_or_else(|e| panic!("{e}"));
    let services = &project.document["services"];
    let sniffer = &services[naming::fleet_service_container_name("everything", "sniffer")];
    assert_eq!(sniffer["container_name"], "everything-sniffer");
    assert_eq!(sniffer["networks"]["chaff_everything"]["ipv4_address"], "192.168.77.253", "top free address");
    assert_eq!(sniffer["labels"]["io.chaff.role"], "fleet-service");
    assert_eq!(sniffer["cap_add"], serde_json::json!(["NET_RAW", "NET_ADMIN"]));
    assert_eq!(sniffer["environment"]["NODE_NAME"], "everything-sniffer");
    // Raw sockets for the sniffer only; NET_ADMIN also for the bases (they tune the decky's
    // network stack), never for another service container.
    for (name, service) in services.as_object().unwrap() {
        let caps: Vec<&str> =
            service["cap_add"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
        let role = service["labels"][naming::labels::ROLE].as_str();
        let expected: &[&str] = match role {
            Some("fleet-service") => &["NET_RAW", "NET_ADMIN"],
            Some("base") => &["NET_ADMIN"],
            _ => &[],
        };
        let privileged: Vec<&str> =
            caps.into_iter().filter(|c| ["NET_RAW", "NET_ADMIN"].contains(c)).collect();
        assert_eq!(privileged, expected, "{name} ({role:?})");
    }
    assert_eq!(services["files-wiki"]["image"], "ghcr.io/example/wiki:2");
    assert_eq!(services["relay-smtp-relay"]["container_name"], "relay-smtp-relay");
    assert_eq!(project.document["networks"]["chaff_everything"]["driver_opts"]["ipvlan_mode"], "l2");
    assert_compose_accepts(&project);
}

#[test]
fn the_everything_fleet_survives_export_and_import() {
    let fleet = import(EVERYTHING);
    let text = export_ini(&fleet, &Catalogue::from_plugins(host())).unwrap();
    assert_eq!(import(&text), fleet, "{text}");
}

#[test]
fn rendering_with_the_real_plugins_is_deterministic() {
    let fleet = import(EVERYTHING);
    let first = render_fleet(&fleet, host()).unwrap().to_yaml().unwrap();
    let second = render_fleet(&fleet, host()).unwrap().to_yaml().unwrap();
    assert_eq!(first, second);
}
