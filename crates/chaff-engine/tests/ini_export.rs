//! INI export: the text re-imports to the same fleet.

mod common;

use chaff_engine::ini::{ImportOptions, export_ini, import_ini};
use chaff_engine::model::Fleet;
use chaff_plugin_host::spec::{ConfigValue, ServiceConfig};

const NOW: u64 = 1_700_000_000;

fn import(text: &str, seed: u64) -> Fleet {
    let options = ImportOptions { default_fleet_name: "lab", reserved: &[], now: NOW };
    import_ini(text, &common::catalogue(), &options, &mut fastrand::Rng::with_seed(seed))
        .unwrap_or_else(|e| panic!("{e}"))
}

const RICH: &str = "\
[general]
name = office
net = 192.168.40.0/24
gw = 192.168.40.254
interface = eth1
log_target = 192.168.40.10:514
mutate_interval = 20
fleet_services = sniffer

[custom-wiki]
binary = ghcr.io/example/wiki:2
exec = wiki --port 8080
ports = 8080

[ws]
archetype = windows-workstation
amount = 3

[ws.rdp]
nla = true

[mail]
archetype = mail-server
ip = 192.168.40.50
mutate_interval = 5

[web]
services = http, wiki, ssh
nmap_os = bsd

[web.http]
response_code = 503
http_versions = http/2, http/1.1
custom_body = <html>
  <body>down for maintenance</body>
  </html>
fake_app = jenkins

[web.ssh]
password = s3cret pass
hostname = build01

[random]
amount = 2
";

#[test]
fn export_then_import_gives_the_same_fleet() {
    let fleet = import(RICH, 7);
    // The gateway is .254, so the sniffer gets the next address down.
    assert_eq!(fleet.fleet_services[0].ip.to_string(), "192.168.40.253");
    let text = export_ini(&fleet, &common::catalogue()).unwrap();
    // A different seed: nothing random is left once exported.
    let back = import(&text, 12345);
    assert_eq!(back, fleet, "exported text:\n{text}");
    assert_eq!(export_ini(&back, &common::catalogue()).unwrap(), text, "export is stable");
}

#[test]
fn export_shape() {
    let fleet = import(RICH, 7);
    let text = export_ini(&fleet, &common::catalogue()).unwrap();
    assert!(
        text.starts_with(
            "# Fleet 'office', exported by Chaff.\n\n[general]\nname = office\ndriver = macvlan\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "\n[custom-wiki]\nbinary = ghcr.io/example/wiki:2\nexec = wiki --port 8080\nports = 8080\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nmutate_interval = 20\nfleet_services = sniffer\n"), "{text}");
    assert!(text.contains("\n[ws-02]\nip = 192.168.40.2\nhostname = "), "{text}");
    assert!(
        text.contains("\narchetype = windows-workstation\nservices = smb,rdp\nnmap_os = windows\n"),
        "{text}"
    );
    assert!(text.contains("\n[ws-01.rdp]\nnla = true\n"), "{text}");
    assert!(text.contains("\nhttp_versions = http/2,http/1.1\n"), "{text}");
    // The multi-line textarea travels base64-encoded.
    assert!(text.contains("\ncustom_body = b64:"), "{text}");
    assert!(text.contains("\nresponse_code = 503\n"), "{text}");
}

#[test]
fn config_of_services_the_decky_no_longer_runs_is_not_exported() {
    let mut fleet = import("[d]\nservices = ssh, http\n[d.http]\nresponse_code = 500\n", 1);
    fleet.deckies[0].services = vec!["ssh".into()];
    let text = export_ini(&fleet, &common::catalogue()).unwrap();
    assert!(!text.contains("[d.http]"), "{text}");
    import(&text, 1);
}

#[test]
fn values_ini_cannot_carry_are_refused() {
    let mut fleet = import("[d]\nservices = ssh\n", 1);
    let mut config = ServiceConfig::default();
    config.0.insert("hostname".into(), ConfigValue::Text("two\nlines".into()));
    fleet.deckies[0].service_config.insert("ssh".into(), config);
    assert_eq!(
        export_ini(&fleet, &common::catalogue()).unwrap_err().to_string(),
        "cannot export decky 'd', ssh.hostname: INI values are single lines without leading or trailing spaces"
    );
}

#[test]
fn invalid_fleets_are_not_exported() {
    let mut fleet = import("[d]\nservices = ssh\n", 1);
    fleet.deckies[0].hostname = "not a hostname".into();
    assert_eq!(
        export_ini(&fleet, &common::catalogue()).unwrap_err().to_string(),
        "cannot export an invalid fleet: decky 'd': hostname 'not a hostname' is not a valid host name"
    );
}

#[test]
fn textarea_values_that_look_base64_survive() {
    let mut fleet = import("[d]\nservices = http\n", 1);
    let mut config = ServiceConfig::default();
    config.0.insert("custom_body".into(), ConfigValue::Text("b64:literally".into()));
    fleet.deckies[0].service_config.insert("http".into(), config);
    let text = export_ini(&fleet, &common::catalogue()).unwrap();
    let back = import(&text, 1);
    assert_eq!(
        back.deckies[0].service_config["http"].get("custom_body"),
        Some(&ConfigValue::Text("b64:literally".into()))
    );
}

#[test]
fn fleet_services_at_addresses_import_would_not_give_are_refused() {
    let mut fleet = import("[general]\nfleet_services = sniffer\n[d]\nservices = ssh\n", 1);
    assert_eq!(fleet.fleet_services[0].ip.to_string(), "10.200.0.254");
    // Where import put it, it round-trips.
    let text = export_ini(&fleet, &common::catalogue()).unwrap();
    assert_eq!(import(&text, 2), fleet);
    fleet.fleet_services[0].ip = "10.200.0.100".parse().unwrap();
    assert_eq!(
        export_ini(&fleet, &common::catalogue()).unwrap_err().to_string(),
        "cannot export fleet service 'sniffer': INI cannot set a fleet service's address, and import would give \
         it another one (the highest address left free)"
    );
}
