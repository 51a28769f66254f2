//! The environment the REAL built-in plugins render (wasm, in a real `PluginHost`, through
//! `render_fleet`) is one the sensor starts from: for every service container of a fleet that
//! runs every service on every distribution, with every config field set, and on every
//! archetype, each port's emulator is configured from that container's environment without
//! an error; and each config field reaches the sensor under the variable its emulator reads.
//! No Docker: the sensor's own configuration step (`Emulator::for_port`) is what is run.

mod builtin;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use builtin::host;
use chaff_engine::fastrand::Rng;
use chaff_engine::ini::{ImportOptions, import_ini};
use chaff_engine::model::Fleet;
use chaff_engine::render::render_fleet;
use chaff_engine::{Catalogue, archetypes, distros, naming};
use chaff_sensor::emulators::Emulator;
use chaff_sensor::{Env, service_named};

/// A value for every config field of the built-in services, none of them a default, and the
/// variable of the sensor's emulator that must carry it (with the value it must have there).
/// `(service, field, INI value, variable, value in the environment)`.
const CONFIG: &[(&str, &str, &str, &str, &str)] = &[
    ("dns", "zone_mode", "recursive", "DNS_ZONE_MODE", "recursive"),
    ("dns", "domain", "corp.example", "DNS_DOMAIN", "corp.example"),
    ("dns", "bind_version", "9.16.1-Ubuntu", "DNS_BIND_VERSION", "9.16.1-Ubuntu"),
    ("dns", "nsid", "ns7", "DNS_NSID", "ns7"),
    ("dns", "extra_records", "vpn 300 IN A 10.0.0.5", "DNS_EXTRA_RECORDS", "vpn 300 IN A 10.0.0.5"),
    ("http", "server_header", "nginx/1.22.1", "SERVER_HEADER", "nginx/1.22.1"),
    ("http", "response_code", "404", "RESPONSE_CODE", "404"),
    ("http", "fake_app", "wordpress", "FAKE_APP", "wordpress"),
    ("http", "extra_headers", "X-Powered-By: PHP/7.4", "EXTRA_HEADERS", "X-Powered-By: PHP/7.4"),
    ("http", "custom_body", "<html>It works</html>", "CUSTOM_BODY", "<html>It works</html>"),
    ("http", "http_versions", "http/1.1, http/2", "HTTP_VERSIONS", r#"["http/1.1","http/2"]"#),
    ("https", "server_header", "Apache/2.4.57 (Debian)", "SERVER_HEADER", "Apache/2.4.57 (Debian)"),
    ("https", "response_code", "403", "RESPONSE_CODE", "403"),
    ("https", "fake_app", "jenkins", "FAKE_APP", "jenkins"),
    ("https", "extra_headers", "X-Frame-Options: DENY", "EXTRA_HEADERS", "X-Frame-Options: DENY"),
    ("https", "custom_body", "{\"status\":\"ok\"}", "CUSTOM_BODY", "{\"status\":\"ok\"}"),
    ("https", "http_versions", "http/2", "HTTP_VERSIONS", r#"["http/2"]"#),
    ("https", "tls_cn", "www.example.com", "TLS_CN", "www.example.com"),
    ("mysql", "version", "8.0.36", "MYSQL_VERSION", "8.0.36"),
    ("redis", "version", "7.2.4", "REDIS_VERSION", "7.2.4"),
    ("redis", "os_string", "Linux 6.1.0-18-amd64 x86_64", "REDIS_OS", "Linux 6.1.0-18-amd64 x86_64"),
    ("smtp", "banner", "220 mail.example.com ESMTP", "SMTP_BANNER", "220 mail.example.com ESMTP"),
    ("smtp", "mta", "exim", "SMTP_MTA", "exim"),
    ("smtp_relay", "banner", "220 relay.example.com ESMTP", "SMTP_BANNER", "220 relay.example.com ESMTP"),
    ("smtp_relay", "mta", "sendmail", "SMTP_MTA", "sendmail"),
    ("smtp_relay", "upstream_host", "mx.example.com", "SMTP_UPSTREAM_HOST", "mx.example.com"),
    ("smtp_relay", "upstream_port", "2525", "SMTP_UPSTREAM_PORT", "2525"),
    ("smtp_relay", "upstream_user", "relay", "SMTP_UPSTREAM_USER", "relay"),
    ("smtp_relay", "upstream_pass", "s3cret", "SMTP_UPSTREAM_PASS", "s3cret"),
    ("smtp_relay", "upstream_sender", "bounce@example.com", "SMTP_UPSTREAM_SENDER", "bounce@example.com"),
    ("smtp_relay", "probe_limit", "3", "SMTP_PROBE_LIMIT", "3"),
    ("ssh", "password", "hunter2", "SSH_ROOT_PASSWORD", "hunter2"),
    ("ssh", "user", "backup", "SSH_USER", "backup"),
    ("ssh", "user_password", "backup123", "SSH_USER_PASSWORD", "backup123"),
    ("ssh", "hostname", "files01", "SSH_HOSTNAME", "files01"),
    ("telnet", "password", "root", "TELNET_ROOT_PASSWORD", "root"),
    ("telnet", "user", "admin", "TELNET_USER", "admin"),
    ("telnet", "user_password", "admin1", "TELNET_USER_PASSWORD", "admin1"),
    ("telnet", "hostname", "router01", "TELNET_HOSTNAME", "router01"),
    ("rdp", "nla", "true", "RDP_ENABLE_NLA", "true"),
];

/// One decky per (service, distribution), every config field of [`CONFIG`] set on it, and
/// one decky per archetype.
fn everything_everywhere() -> Fleet {
    let catalogue = Catalogue::from_plugins(host());
    let mut ini = String::from("[general]\nname = envcheck\nnet = 10.211.0.0/16\n");
    for slug in catalogue.available() {
        for distro in distros::DISTROS {
            let decky = format!("{}-{}", slug.replace('_', "-"), distro.slug);
            let _ = write!(ini, "\n[{decky}]\nservices = {slug}\ndistro = {}\n", distro.slug);
            let fields: Vec<_> = CONFIG.iter().filter(|(service, ..)| *service == slug).collect();
            if !fields.is_empty() {
                let _ = writeln!(ini, "\n[{decky}.{slug}]");
                for (_, field, value, ..) in fields {
                    let _ = writeln!(ini, "{field} = {value}");
                }
            }
        }
    }
    for archetype in archetypes::ARCHETYPES {
        let _ = write!(ini, "\n[arch-{}]\narchetype = {}\n", archetype.slug, archetype.slug);
    }
    let options = ImportOptions { default_fleet_name: "envcheck", reserved: &[], now: 1_700_000_000 };
    import_ini(&ini, &catalogue, &options, &mut Rng::with_seed(5)).unwrap_or_else(|e| panic!("{e}\n{ini}"))
}

/// One service container of the rendered fleet.
struct Container {
    name: String,
    decky: String,
    distro: String,
    slug: String,
    env: BTreeMap<String, String>,
}

/// Every service container: its decky, slug (its command) and environment.
fn sensor_containers(fleet: &Fleet) -> Vec<Container> {
    let project = render_fleet(fleet, host()).unwrap_or_else(|e| panic!("{e}"));
    let services = project.document["services"].as_object().unwrap();
    let mut containers = Vec::new();
    for decky in &fleet.deckies {
        for slug in &decky.services {
            let name = naming::service_container_name(&decky.name, slug);
            let container = &services[&name];
            assert_eq!(container["command"], serde_json::json!([slug]), "{name} runs the sensor as {slug}");
            let environment =
                container["environment"].as_object().unwrap_or_else(|| panic!("{name}: no environment"));
            let mounts = tmpfs_mounts(container);
            let env = environment
                .iter()
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    let value = if mounts.contains(&value) { stand_in_for(&value) } else { value };
                    (k.clone(), value)
                })
                .collect();
            containers.push(Container {
                name,
                decky: decky.name.clone(),
                distro: decky.distro.clone(),
                slug: slug.clone(),
                env,
            });
        }
    }
    containers
}

/// The mount points of a container's tmpfs entries (`/var/spool/mqueue:size=64m`).
fn tmpfs_mounts(container: &serde_json::Value) -> Vec<String> {
    let entries = match &container["tmpfs"] {
        serde_json::Value::String(one) => vec![one.as_str()],
        serde_json::Value::Array(many) => many.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    };
    entries.into_iter().map(|e| e.split(':').next().unwrap_or(e).to_owned()).collect()
}

/// A directory standing in for the tmpfs the container would have at `path`: variables
/// naming a tmpfs mount point (a quarantine, a capture directory) need one to exist, and
/// this test runs no container.
fn stand_in_for(path: &str) -> String {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    let root = ROOT.get_or_init(|| tempfile::tempdir().expect("temporary directory"));
    let dir = root.path().join(path.trim_start_matches('/'));
    std::fs::create_dir_all(&dir).expect("stand-in directory");
    dir.to_string_lossy().into_owned()
}

#[test]
fn every_rendered_service_configures_the_sensor() {
    let fleet = everything_everywhere();
    let containers = sensor_containers(&fleet);
    assert!(containers.len() > 28 * distros::DISTROS.len(), "{} containers", containers.len());
    let mut failures = Vec::new();
    for Container { name, slug, env, .. } in &containers {
        let env = Env::from_pairs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let service =
            service_named(slug).unwrap_or_else(|| panic!("{name}: the sensor does not know {slug}"));
        for &port in service.ports {
            if let Err(error) = Emulator::for_port(slug, port, &env) {
                failures.push(format!("{name} ({slug} {port}): {error}"));
            }
        }
    }
    assert!(failures.is_empty(), "the sensor refuses what the plugins render:\n{}", failures.join("\n"));
}

#[test]
fn every_config_field_reaches_the_variable_its_emulator_reads() {
    let fleet = everything_everywhere();
    let containers = sensor_containers(&fleet);
    let catalogue = Catalogue::from_plugins(host());
    // Every declared field of a service the sensor emulates is in the table.
    for spec in catalogue.specs() {
        let emulated = service_named(&spec.slug).is_some_and(|s| !s.ports.is_empty());
        for field in spec.fields.iter().filter(|_| emulated) {
            let listed = CONFIG.iter().any(|(service, key, ..)| *service == spec.slug && *key == field.key);
            let unused = UNUSED_BY_THE_SENSOR.contains(&(spec.slug.as_str(), field.key.as_str()));
            assert!(listed || unused, "{}.{} is not checked here", spec.slug, field.key);
        }
    }
    for Container { name, decky, slug, env, .. } in &containers {
        if decky.starts_with("arch-") {
            continue;
        }
        for (_, field, _, var, expected) in CONFIG.iter().filter(|(service, ..)| service == slug) {
            let got = env.get(*var).map(String::as_str);
            assert_eq!(got, Some(*expected), "{name}: {slug}.{field} must reach the sensor as {var}");
        }
    }
}

/// Declared fields the sensor has no use for: it never forwards DNS queries (so the
/// forwarding settings are carried and documented as without effect), and https's certificate
/// pair is a PEM pair the emulator's own tests cover.
const UNUSED_BY_THE_SENSOR: &[(&str, &str)] = &[
    ("dns", "real_recursive"),
    ("dns", "upstream"),
    ("dns", "forward_budget"),
    ("dns", "forward_window"),
    ("dns", "state_path"),
    ("https", "tls_cert"),
    ("https", "tls_key"),
];

#[test]
fn the_persona_of_each_decky_reaches_the_sensor() {
    let fleet = everything_everywhere();
    let containers = sensor_containers(&fleet);
    for Container { name, decky, distro, slug, env } in &containers {
        assert_eq!(env.get("NODE_NAME"), Some(decky), "{name}");
        let distro_var = match slug.as_str() {
            "http" | "https" => Some("HTTP_DISTRO".to_owned()),
            "smtp" | "smtp_relay" => Some("SMTP_DISTRO".to_owned()),
            "ftp" | "ldap" | "mysql" | "postgres" | "redis" | "snmp" | "ssh" | "telnet" | "imap" | "pop3" => {
                Some(format!("{}_DISTRO", slug.to_ascii_uppercase()))
            }
            _ => None,
        };
        if let Some(var) = distro_var {
            assert_eq!(env.get(&var), Some(distro), "{name}: the distro reaches the sensor as {var}");
        }
    }
}
