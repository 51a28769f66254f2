//! INI import: the original's format and messages (with line numbers), and the quirks we fix.

mod common;

use std::net::Ipv4Addr;

use chaff_engine::catalogue::Catalogue;
use chaff_engine::ini::{ImportOptions, IniError, import_ini};
use chaff_engine::model::{Fleet, NetworkDriver};
use chaff_plugin_host::spec::ConfigValue;

const NOW: u64 = 1_700_000_000;

fn import_with(
    text: &str,
    catalogue: &Catalogue,
    reserved: &[Ipv4Addr],
    seed: u64,
) -> Result<Fleet, IniError> {
    let options = ImportOptions { default_fleet_name: "lab", reserved, now: NOW };
    import_ini(text, catalogue, &options, &mut fastrand::Rng::with_seed(seed))
}

fn import(text: &str) -> Fleet {
    import_with(text, &common::catalogue(), &[], 1).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    import_with(text, &common::catalogue(), &[], 1).unwrap_err().to_string()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn names(fleet: &Fleet) -> Vec<&str> {
    fleet.deckies.iter().map(|d| d.name.as_str()).collect()
}

fn ips(fleet: &Fleet) -> Vec<String> {
    fleet.deckies.iter().map(|d| d.ip.to_string()).collect()
}

// --- whole-file checks -------------------------------------------------------------------

#[test]
fn whole_file_errors_keep_the_original_messages() {
    assert_eq!(error(""), "INI content is empty");
    assert_eq!(error("  \n\t\n"), "INI content is empty");
    assert_eq!(
        error("# only a comment\n"),
        "The provided INI content must contain at least one section (no sections found)"
    );
    assert_eq!(error("[general]\nnet = 10.1.0.0/24\n"), "INI must contain at least one decky section");
    let huge = format!("[d]\nservices = ssh\n#{}\n", "x".repeat(512 * 1024));
    assert_eq!(error(&huge), "INI content is too large (max 512KB)");
}

#[test]
fn size_limit_counts_characters_not_bytes() {
    // 200k three-byte characters: 600 KB but only 200k characters.
    let text = format!("[d]\nservices = ssh\n#{}\n", "€".repeat(200 * 1024));
    import(&text);
}

#[test]
fn parse_errors_name_their_line() {
    assert_eq!(error("\nservices = ssh\n[d]\n"), "line 2: Invalid INI format: no sections found");
    assert_eq!(
        error("[d]\n= ssh\n"),
        "line 2: Invalid INI format: a key is needed before the delimiter in '= ssh'"
    );
}

#[test]
fn crlf_and_cr_line_endings_are_normalised() {
    let fleet = import("[general]\r\nnet = 10.5.0.0/24\r\n\r\n[d]\rservices = ssh, http\r\n");
    assert_eq!(fleet.network.subnet.to_string(), "10.5.0.0/24");
    assert_eq!(fleet.deckies[0].services, ["ssh", "http"]);
}

// --- [general] ---------------------------------------------------------------------------

#[test]
fn defaults_without_general() {
    let fleet = import("[decky-01]\nservices = ssh\n");
    assert_eq!(fleet.name, "lab");
    assert_eq!(fleet.network.driver, NetworkDriver::Bridge);
    assert_eq!(fleet.network.subnet.to_string(), "10.200.0.0/24");
    assert_eq!(fleet.network.gateway, ip("10.200.0.1"));
    assert_eq!(fleet.network.parent, None);
    assert_eq!((fleet.log_target.as_deref(), fleet.mutate_interval), (None, None));
    let decky = &fleet.deckies[0];
    assert_eq!(decky.ip, ip("10.200.0.2"));
    assert_eq!(decky.distro, "debian");
    assert_eq!(decky.os_family, "linux");
    assert_eq!(decky.archetype, None);
    assert_eq!(decky.last_mutated, NOW);
    assert!(decky.hostname.starts_with("SRV-"), "{}", decky.hostname);
}

#[test]
fn log_target_is_checked_where_it_is_written() {
    for good in ["udp://10.0.0.5:514", "tcp://logs.lab:6514", "10.0.0.5:514", "tcp://[fd00::5]:514"] {
        let fleet = import(&format!("[general]\nlog_target = {good}\n[d]\nservices = ssh\n"));
        assert_eq!(fleet.log_target.as_deref(), Some(good), "kept as written");
    }
    let refused = import_with(
        "[general]\nname = lab\nlog-target = http://10.0.0.5:514\n[d]\nservices = ssh\n",
        &common::catalogue(),
        &[],
        1,
    )
    .unwrap_err();
    assert_eq!((refused.line, refused.field), (Some(3), Some("log_target")));
    assert_eq!(
        refused.to_string(),
        "line 3: [general] log_target 'http://10.0.0.5:514' must be udp://host:port, tcp://host:port \
         or host:port (UDP): unknown scheme 'http'"
    );
    assert!(error("[general]\nlog_target = 10.0.0.5\n[d]\nservices = ssh\n").contains("expected host:port"));
    // Other errors name no field.
    let other = import_with("[general]\nnet = nope\n[d]\nservices = ssh\n", &common::catalogue(), &[], 1);
    assert_eq!(other.unwrap_err().field, None);
}

#[test]
fn general_section_keys() {
    let fleet = import(
        "[general]\nname = office\nnet = 192.168.10.0/24\ngw = 192.168.10.254\ninterface = eth0\n\
         log_target = 10.0.0.5:514\nmutate_interval = 45\n[d]\nservices = ssh\n",
    );
    assert_eq!(fleet.name, "office");
    assert_eq!(fleet.network.driver, NetworkDriver::Macvlan, "an interface without driver= means macvlan");
    assert_eq!(fleet.network.gateway, ip("192.168.10.254"));
    assert_eq!(fleet.network.parent.as_deref(), Some("eth0"));
    assert_eq!(fleet.log_target.as_deref(), Some("10.0.0.5:514"));
    assert_eq!(fleet.mutate_interval, Some(45), "honoured in [general], unlike the original");
    assert_eq!(fleet.deckies[0].ip, ip("192.168.10.1"), "the gateway is not .1 here, so .1 is free");

    let ipvlan =
        import("[general]\ndriver = ipvlan\ninterface = enp3s0\nmutate-interval = 5\n[d]\nservices = ssh\n");
    assert_eq!(ipvlan.network.driver, NetworkDriver::Ipvlan);
    assert_eq!(ipvlan.mutate_interval, Some(5));
    let by_parent = import("[general]\ndriver = macvlan\nparent = dummy0\n[d]\nservices = ssh\n");
    assert_eq!(
        by_parent.network.parent.as_deref(),
        Some("dummy0"),
        "parent= is interface= in Docker's words"
    );
}

#[test]
fn host_bits_of_net_are_ignored() {
    let fleet = import("[general]\nnet = 10.1.2.3/24\n[d]\nservices = ssh\n");
    assert_eq!(fleet.network.subnet.to_string(), "10.1.2.0/24");
    assert_eq!(fleet.network.gateway, ip("10.1.2.1"));
}

#[test]
fn general_section_errors() {
    assert_eq!(
        error("[general]\nnet = 10.1.0.0\n[d]\nservices = ssh\n"),
        "line 2: [general] net= must be an IPv4 subnet like 192.168.1.0/24, got '10.1.0.0'"
    );
    assert_eq!(
        error("[general]\nnet = 10.1.0.0/31\n[d]\nservices = ssh\n"),
        "line 2: [general] net=10.1.0.0/31 is too small: a fleet needs at least a /30"
    );
    assert_eq!(
        error("[general]\nnet = 10.1.0.0/24\ngw = 10.2.0.1\n[d]\nservices = ssh\n"),
        "line 3: [general] gw=10.2.0.1 is outside the subnet 10.1.0.0/24"
    );
    assert_eq!(
        error("[general]\nnet = 10.1.0.0/24\ngw = 10.1.0.255\n[d]\nservices = ssh\n"),
        "line 3: [general] gw=10.1.0.255 is the broadcast address of 10.1.0.0/24"
    );
    assert_eq!(
        error("[general]\ngw = gateway\n[d]\nservices = ssh\n"),
        "line 2: [general] gw= must be an IPv4 address, got 'gateway'"
    );
    assert_eq!(
        error("[general]\ndriver = overlay\n[d]\nservices = ssh\n"),
        "line 2: [general] driver= must be bridge, macvlan or ipvlan, got 'overlay'"
    );
    assert_eq!(
        error("[general]\ndriver = macvlan\n[d]\nservices = ssh\n"),
        "line 2: [general] driver=macvlan needs interface= or parent= (the host network interface the deckies attach to)"
    );
    assert_eq!(
        error("[general]\ndriver = bridge\ninterface = eth0\n[d]\nservices = ssh\n"),
        "line 3: [general] interface= only applies to driver=macvlan or driver=ipvlan, not bridge"
    );
    assert_eq!(
        error("[general]\ninterface = eth0 # lan\n[d]\nservices = ssh\n"),
        "line 2: [general] interface= must be a network interface name (at most 15 characters, no spaces, '/' or ':'), got 'eth0 # lan'"
    );
    assert_eq!(
        error("[general]\nname = My Lab\n[d]\nservices = ssh\n"),
        "line 2: [general] name= must match ^[a-z0-9-]{1,64}$, got 'My Lab'"
    );
    assert_eq!(
        error("[general]\nmutate_interval = often\n[d]\nservices = ssh\n"),
        "line 2: [general] mutate_interval= must be an integer, got 'often'"
    );
    assert_eq!(
        error("[general]\nmutate_interval = 0\n[d]\nservices = ssh\n"),
        "line 2: [general] mutate_interval= must be at least 1, got '0'"
    );
    assert_eq!(
        error("[general]\nmutate_interval = 99999999999\n[d]\nservices = ssh\n"),
        "line 2: [general] mutate_interval= is too large, got '99999999999'"
    );
}

// --- decky sections ----------------------------------------------------------------------

#[test]
fn decky_keys_and_aliases() {
    let fleet = import(
        "[a]\nservices = ssh\nnmap_os = bsd\nmutate_interval = 7\n\
         [b]\nservices = http\nnmap-os = cisco\nmutate-interval = 9\n",
    );
    assert_eq!((fleet.deckies[0].os_family.as_str(), fleet.deckies[0].mutate_interval), ("bsd", Some(7)));
    assert_eq!((fleet.deckies[1].os_family.as_str(), fleet.deckies[1].mutate_interval), ("cisco", Some(9)));
}

#[test]
fn decky_key_errors() {
    assert_eq!(
        error("[d]\nservices = ssh\nmutate_interval = soon\n"),
        "line 3: [d] mutate_interval= must be an integer, got 'soon'"
    );
    assert_eq!(
        error("[d]\nservices = ssh\nnmap_os = beos\n"),
        "line 3: [d] nmap_os=beos: Unknown OS family 'beos'. Available: bsd, cisco, embedded, linux, windows, windows_server"
    );
    assert_eq!(
        error("[d]\narchetype = nas\n"),
        "line 2: Unknown archetype 'nas'. Available: database-server, deaddeck, devops-host, domain-controller, \
         file-server, industrial-control, iot-device, linux-server, mail-server, monitoring-node, printer, \
         voip-server, web-server, windows-server, windows-workstation"
    );
    assert_eq!(
        error("[d]\nservices = ssh\ndistro = gentoo\n"),
        "line 3: Unknown distro 'gentoo'. Available: alpine, arch, centos7, debian, fedora, kali, rocky9, ubuntu20, ubuntu22"
    );
    assert_eq!(error("[d]\nservices = ssh, ssh\n"), "line 2: [d] services= lists 'ssh' twice");
    assert_eq!(
        error("[d]\nservices = ssh\nhostname = web_01\n"),
        "line 3: [d] hostname= must be a valid host name (letters, digits, '-' and '.'), got 'web_01'"
    );
}

#[test]
fn unknown_services_list_like_python() {
    assert_eq!(
        error("[general]\n[decky-01]\nservices = ssh, telnetd, gopher\n"),
        "line 3: Unknown service(s) in [decky-01]: ['telnetd', 'gopher']. Available: ['conpot', 'docker_api', \
         'ftp', 'http', 'imap', 'k8s', 'ldap', 'llmnr', 'mqtt', 'mysql', 'pop3', 'postgres', 'rdp', 'redis', \
         'sip', 'smb', 'smtp', 'snmp', 'ssh', 'telnet']"
    );
    // Inline comments are not comments: the value is the whole rest of the line.
    assert!(error("[d]\nservices = ssh # main box\n").contains("['ssh # main box']"));
}

#[test]
fn decky_names_must_follow_our_rule() {
    let rule = "must match ^[a-z0-9-]{1,64}$ (lowercase letters, digits and '-', at most 64)";
    assert_eq!(
        error("[Decky-01]\nservices = ssh\n"),
        format!("line 1: [Decky-01] decky name 'Decky-01' {rule}")
    );
    assert_eq!(error("\n[web_01]\nservices = ssh\n"), format!("line 2: [web_01] decky name 'web_01' {rule}"));
    assert_eq!(
        error("[decky.webmail]\nservices = ssh\n"),
        format!("line 1: [decky.webmail] decky name 'decky.webmail' {rule}"),
        "webmail is not a service, so this is a decky section"
    );
    let long = "a".repeat(62);
    assert_eq!(
        error(&format!("[{long}]\nservices = ssh\namount = 2\n")),
        format!("line 1: [{long}] decky name '{long}-01' {rule}")
    );
    import(&format!("[{}]\nservices = ssh\namount = 2\n", "a".repeat(61)));
}

#[test]
fn amount_expands_into_numbered_deckies() {
    let fleet = import("[web]\nservices = http\namount = 3\n[db]\nservices = mysql\n");
    assert_eq!(names(&fleet), ["web-01", "web-02", "web-03", "db"]);
    assert_eq!(ips(&fleet), ["10.200.0.2", "10.200.0.3", "10.200.0.4", "10.200.0.5"]);
    assert!(fleet.deckies.iter().all(|d| d.services == ["http"] || d.name == "db"));

    let hundred = import("[general]\nnet = 10.0.0.0/16\n[web]\nservices = http\namount = 100\n");
    assert_eq!(hundred.deckies.len(), 100);
    assert_eq!(hundred.deckies[99].name, "web-100");
}

#[test]
fn amount_errors_keep_the_original_messages() {
    assert_eq!(
        error("[web]\nservices = http\namount = x\n"),
        "line 3: [web] amount= must be a positive integer, got 'x'"
    );
    assert_eq!(
        error("[web]\nservices = http\namount = 0\n"),
        "line 3: [web] amount= must be a positive integer, got '0'"
    );
    assert_eq!(
        error("[web]\nservices = http\namount =\n"),
        "line 3: [web] amount= must be a positive integer, got ''"
    );
    assert_eq!(
        error("[web]\nservices = http\namount = 101\n"),
        "line 3: [web] amount=101 exceeds maximum allowed (100)."
    );
    assert_eq!(
        error("[web]\nservices = http\nip = 10.200.0.9\namount = 2\n"),
        "line 3: [web] Cannot combine ip= with amount=2. Remove ip= or use amount=1."
    );
    assert_eq!(
        error("[web]\nservices = http\nhostname = www\namount = 2\n"),
        "line 3: [web] Cannot combine hostname= with amount=2. Remove hostname= or use amount=1."
    );
}

#[test]
fn expanded_names_cannot_collide_with_other_sections() {
    assert_eq!(
        error("[web]\nservices = http\namount = 2\n[web-02]\nservices = ssh\n"),
        "line 4: [web-02] decky name 'web-02' is already used by [web]"
    );
}

#[test]
fn repeated_sections_merge() {
    let fleet = import("[d]\nservices = ssh\n[e]\nservices = ftp\n[d]\nnmap_os = bsd\n");
    assert_eq!(names(&fleet), ["d", "e"]);
    assert_eq!(fleet.deckies[0].os_family, "bsd");
}

#[test]
fn default_section_applies_to_every_decky() {
    let fleet = import("[DEFAULT]\nservices = ssh\n[a]\n[b]\nservices = ftp\n");
    assert_eq!(fleet.deckies[0].services, ["ssh"]);
    assert_eq!(fleet.deckies[1].services, ["ftp"]);
}

// --- addresses ---------------------------------------------------------------------------

#[test]
fn auto_addresses_skip_gateway_reserved_and_explicit_ones() {
    let text = "[general]\nnet = 10.7.0.0/24\n[a]\nservices = ssh\n[b]\nservices = ssh\nip = 10.7.0.3\n\
                [c]\nservices = ssh\n[d]\nservices = ssh\n";
    let fleet = import_with(text, &common::catalogue(), &[ip("10.7.0.2"), ip("10.7.0.5")], 1).unwrap();
    assert_eq!(ips(&fleet), ["10.7.0.4", "10.7.0.3", "10.7.0.6", "10.7.0.7"]);
}

#[test]
fn explicit_address_errors() {
    let net = "[general]\nnet = 10.7.0.0/24\n";
    let cases = [
        ("10.8.0.9", "is outside the subnet 10.7.0.0/24"),
        ("10.7.0.0", "is the network address of 10.7.0.0/24"),
        ("10.7.0.255", "is the broadcast address of 10.7.0.0/24"),
        ("10.7.0.1", "is the gateway"),
    ];
    for (address, problem) in cases {
        assert_eq!(
            error(&format!("{net}[d]\nservices = ssh\nip = {address}\n")),
            format!("line 5: [d] ip={address} {problem}")
        );
    }
    assert_eq!(
        error(&format!("{net}[d]\nservices = ssh\nip = 10.7.0\n")),
        "line 5: [d] ip= must be an IPv4 address, got '10.7.0'"
    );
    assert_eq!(
        error(&format!("{net}[a]\nservices = ssh\nip = 10.7.0.9\n[b]\nservices = ssh\nip = 10.7.0.9\n")),
        "line 8: [b] ip=10.7.0.9 is already assigned to [a]"
    );
    let reserved = import_with(
        &format!("{net}[d]\nservices = ssh\nip = 10.7.0.9\n"),
        &common::catalogue(),
        &[ip("10.7.0.9")],
        1,
    );
    assert_eq!(
        reserved.unwrap_err().to_string(),
        "line 5: [d] ip=10.7.0.9 is already in use outside this file"
    );
}

#[test]
fn running_out_of_addresses() {
    // A /29 has 6 hosts: the gateway plus 5 deckies.
    let text = "[general]\nnet = 10.7.0.0/29\n[web]\nservices = http\namount = 6\n";
    assert_eq!(error(text), "line 3: Not enough free IPs in 10.7.0.0/29 while assigning IP for 'web-06'.");
    import("[general]\nnet = 10.7.0.0/29\n[web]\nservices = http\namount = 5\n");
}

// --- fleet services ----------------------------------------------------------------------

#[test]
fn fleet_services_take_the_top_of_the_pool() {
    let text = "[general]\nnet = 10.7.0.0/24\nfleet_services = sniffer\n[web]\nservices = http\namount = 3\n";
    let fleet = import(text);
    assert_eq!(fleet.fleet_services.len(), 1);
    assert_eq!(fleet.fleet_services[0].slug, "sniffer");
    assert_eq!(fleet.fleet_services[0].ip, ip("10.7.0.254"));
    let without = import("[general]\nnet = 10.7.0.0/24\n[web]\nservices = http\namount = 3\n");
    assert_eq!(ips(&fleet), ips(&without), "deckies keep the low addresses");
    assert_eq!(ips(&fleet), ["10.7.0.2", "10.7.0.3", "10.7.0.4"]);
    assert!(without.fleet_services.is_empty());
}

#[test]
fn fleet_service_addresses_skip_gateway_reserved_and_explicit_ones() {
    let text = "[general]\nnet = 10.7.0.0/24\ngw = 10.7.0.254\nfleet-services = sniffer\n\
                [a]\nservices = ssh\nip = 10.7.0.253\n[b]\nservices = ssh\n";
    let fleet = import_with(text, &common::catalogue(), &[ip("10.7.0.252")], 1).unwrap();
    assert_eq!(fleet.fleet_services[0].ip, ip("10.7.0.251"));
    assert_eq!(ips(&fleet), ["10.7.0.253", "10.7.0.1"]);
}

#[test]
fn several_fleet_services_take_addresses_downwards_in_order() {
    let mut catalogue_specs = common::specs();
    let mut tap = catalogue_specs.iter().find(|s| s.slug == "sniffer").unwrap().clone();
    tap.slug = "tap".into();
    catalogue_specs.push(tap);
    let catalogue = Catalogue::new(catalogue_specs);
    let text = "[general]\nnet = 10.7.0.0/24\nfleet_services = tap, sniffer\n[d]\nservices = ssh\n";
    let fleet = import_with(text, &catalogue, &[], 1).unwrap();
    let got: Vec<(&str, String)> =
        fleet.fleet_services.iter().map(|s| (s.slug.as_str(), s.ip.to_string())).collect();
    assert_eq!(got, [("tap", "10.7.0.254".to_string()), ("sniffer", "10.7.0.253".to_string())]);
}

#[test]
fn running_out_of_addresses_names_the_fleet_service() {
    // A /29 has 6 hosts: the gateway, 5 deckies, and no room for the sniffer.
    let text = "[general]\nnet = 10.7.0.0/29\nfleet_services = sniffer\n[web]\nservices = http\namount = 5\n";
    assert_eq!(
        error(text),
        "line 3: Not enough free IPs in 10.7.0.0/29 while assigning IP for fleet service 'sniffer'."
    );
    let fleet = import(
        "[general]\nnet = 10.7.0.0/29\nfleet_services = sniffer\n[web]\nservices = http\namount = 4\n",
    );
    assert_eq!(fleet.fleet_services[0].ip, ip("10.7.0.6"));
}

#[test]
fn fleet_services_errors() {
    assert_eq!(
        error("[general]\nfleet_services = sniffer, gopher, telnetd\n[d]\nservices = ssh\n"),
        "line 2: Unknown fleet service(s) in [general]: ['gopher', 'telnetd']. Available: ['sniffer']"
    );
    assert_eq!(
        error("[general]\nfleet_services = sniffer, ssh\n[d]\nservices = ssh\n"),
        "line 2: [general] fleet_services= lists 'ssh', which runs on deckies, not once per fleet: \
         list it in a decky's services= instead"
    );
    assert_eq!(
        error("[general]\nfleet_services = wiki\n[custom-wiki]\nbinary = wiki:1\n[d]\nservices = ssh\n"),
        "line 2: [general] fleet_services= lists 'wiki', which runs on deckies, not once per fleet: \
         list it in a decky's services= instead"
    );
    assert_eq!(
        error("[general]\nfleet_services = sniffer, sniffer\n[d]\nservices = ssh\n"),
        "line 2: [general] fleet_services= lists 'sniffer' twice"
    );
    assert!(import("[general]\nfleet_services = , \n[d]\nservices = ssh\n").fleet_services.is_empty());
}

#[test]
fn a_decky_listing_a_fleet_singleton_is_told_where_it_belongs() {
    assert_eq!(
        error("[general]\n[web]\nservices = ssh, sniffer\namount = 2\n"),
        "line 3: [web] service 'sniffer' runs once per fleet, not on a decky: remove it here and \
         enable it with fleet_services = sniffer in [general]"
    );
    // Unknown services are reported first, with the original's message.
    assert_eq!(
        error("[d]\nservices = sniffer, gopher\n"),
        "line 2: Unknown service(s) in [d]: ['gopher']. Available: ['conpot', 'docker_api', 'ftp', 'http', \
         'imap', 'k8s', 'ldap', 'llmnr', 'mqtt', 'mysql', 'pop3', 'postgres', 'rdp', 'redis', 'sip', 'smb', \
         'smtp', 'snmp', 'ssh', 'telnet']"
    );
}

// --- services, archetypes, distros -------------------------------------------------------

#[test]
fn archetype_supplies_services_distros_and_os_family() {
    let fleet = import("[plain]\nservices = ssh\n[ws]\narchetype = windows-workstation\namount = 3\n");
    let ws: Vec<_> = fleet.deckies[1..].iter().map(|d| (d.distro.as_str(), d.os_family.as_str())).collect();
    // k = 1, 2, 3 over [debian, ubuntu22]
    assert_eq!(ws, [("ubuntu22", "windows"), ("debian", "windows"), ("ubuntu22", "windows")]);
    assert!(fleet.deckies[1..].iter().all(|d| d.services == ["smb", "rdp"]));
    assert_eq!(fleet.deckies[1].archetype.as_deref(), Some("windows-workstation"));

    let overridden = import("[dc]\narchetype = domain-controller\nservices = ssh\nnmap_os = linux\n");
    assert_eq!(overridden.deckies[0].services, ["ssh"], "explicit services win over the archetype's");
    assert_eq!(overridden.deckies[0].os_family, "linux", "explicit nmap_os wins over the archetype's");
}

#[test]
fn distros_round_robin_in_table_order() {
    let fleet = import("[general]\n[d]\nservices = ssh\namount = 10\n");
    let distros: Vec<_> = fleet.deckies.iter().map(|d| d.distro.as_str()).collect();
    assert_eq!(
        distros,
        ["debian", "ubuntu22", "ubuntu20", "rocky9", "centos7", "alpine", "fedora", "kali", "arch", "debian"]
    );
    let styles: Vec<bool> = vec![
        fleet.deckies[3].hostname.ends_with(".localdomain"),
        !fleet.deckies[5].hostname.contains('.') && fleet.deckies[5].hostname.contains('-'),
    ];
    assert_eq!(styles, [true, true]);
}

#[test]
fn explicit_distro_and_hostname() {
    let fleet = import("[d]\nservices = ssh\ndistro = kali\nhostname = kali-box\n[e]\nservices = ssh\n");
    assert_eq!((fleet.deckies[0].distro.as_str(), fleet.deckies[0].hostname.as_str()), ("kali", "kali-box"));
    assert_eq!(fleet.deckies[1].distro, "ubuntu22", "the round-robin counts every decky");
}

#[test]
fn archetype_services_must_be_installed() {
    let catalogue = Catalogue::new(common::specs().into_iter().filter(|s| s.slug != "rdp"));
    let err = import_with("[ws]\narchetype = windows-workstation\n", &catalogue, &[], 1).unwrap_err();
    assert!(
        err.to_string().starts_with("line 2: Unknown service(s) in [ws]: ['rdp']. Available: ['conpot'"),
        "{err}"
    );
}

#[test]
fn random_services_when_neither_services_nor_archetype() {
    let catalogue = common::catalogue();
    let available = catalogue.available();
    let fleet = import_with("[r]\namount = 40\n", &catalogue, &[], 99).unwrap();
    let mut counts = [0; 4];
    for decky in &fleet.deckies {
        assert!((1..=3).contains(&decky.services.len()), "{:?}", decky.services);
        assert!(decky.services.iter().all(|s| available.contains(s) && s != "sniffer"));
        let mut unique = decky.services.clone();
        unique.dedup();
        assert_eq!(unique.len(), decky.services.len());
        counts[decky.services.len()] += 1;
    }
    assert!(counts[1] > 0 && counts[2] > 0 && counts[3] > 0, "{counts:?}");
    let again = import_with("[r]\namount = 40\n", &catalogue, &[], 99).unwrap();
    assert_eq!(again, fleet, "the same seed gives the same fleet");
}

#[test]
fn empty_services_value_counts_as_absent() {
    let fleet = import("[d]\narchetype = deaddeck\nservices =\n");
    assert_eq!(fleet.deckies[0].services, ["ssh"]);
}

// --- [decky.service] sections ------------------------------------------------------------

#[test]
fn service_sections_are_validated() {
    let fleet = import(
        "[d]\nservices = ssh, http, rdp\n\
         [d.ssh]\npassword = hunter2\nunknown_key = dropped\n\
         [d.http]\nresponse_code = 404\nhttp_versions = http/1.1, http/2\n\
         [d.rdp]\nnla = false\n",
    );
    let config = &fleet.deckies[0].service_config;
    assert_eq!(config["ssh"].get("password"), Some(&ConfigValue::Text("hunter2".into())));
    assert_eq!(config["ssh"].get("user"), Some(&ConfigValue::Text("ubuntu".into())), "defaults filled in");
    assert_eq!(config["ssh"].get("unknown_key"), None);
    assert_eq!(config["http"].get("response_code"), Some(&ConfigValue::Integer(404)));
    assert_eq!(
        config["http"].get("http_versions"),
        Some(&ConfigValue::Choices(vec!["http/1.1".into(), "http/2".into()]))
    );
    assert_eq!(
        config["rdp"].get("nla"),
        Some(&ConfigValue::Boolean(false)),
        "'false' is false, not truthy text"
    );
}

#[test]
fn service_section_errors_name_section_key_and_line() {
    assert_eq!(
        error("[d]\nservices = rdp\n\n[d.rdp]\nnla = maybe\n"),
        "line 5: [d.rdp] nla: expected bool, got 'maybe'"
    );
    let not_allowed = error("[d]\nservices = http\n[d.http]\nfake_app = drupal\n");
    assert!(
        not_allowed.starts_with("line 4: [d.http] fake_app: 'drupal' not in allowed values"),
        "{not_allowed}"
    );
    assert_eq!(
        error("[d]\nservices = http\n[d.ssh]\npassword = x\n"),
        "line 3: [d.ssh] decky 'd' does not run ssh (its services: http)"
    );
    assert_eq!(
        error("[d]\nservices = ssh\n[ghost.ssh]\npassword = x\n"),
        "line 3: [ghost.ssh] there is no decky 'ghost' (nor a [ghost] section with amount=) to configure"
    );
}

#[test]
fn group_sections_reach_only_the_group_and_exact_sections_override() {
    let fleet = import(
        "[web]\nservices = ssh\namount = 2\n[web-extra]\nservices = ssh\n\
         [web.ssh]\npassword = group\nuser = admin\n[web-02.ssh]\npassword = own\n",
    );
    let password =
        |i: usize| fleet.deckies[i].service_config.get("ssh").and_then(|c| c.get("password")).cloned();
    let user = |i: usize| fleet.deckies[i].service_config.get("ssh").and_then(|c| c.get("user")).cloned();
    assert_eq!(password(0), Some(ConfigValue::Text("group".into())));
    assert_eq!(password(1), Some(ConfigValue::Text("own".into())), "the exact section overrides the group");
    assert_eq!(user(1), Some(ConfigValue::Text("admin".into())), "group keys it does not override remain");
    assert_eq!(password(2), None, "web-extra shares the prefix but is not of the group (quirk fixed)");
}

#[test]
fn exact_name_wins_over_group() {
    // [web] is a single decky named web; [web.ssh] configures it and nothing else.
    let fleet = import("[web]\nservices = ssh\n[web-01]\nservices = ssh\n[web.ssh]\npassword = p\n");
    assert!(fleet.deckies[0].service_config.contains_key("ssh"));
    assert!(!fleet.deckies[1].service_config.contains_key("ssh"));
}

// --- [custom-*] --------------------------------------------------------------------------

#[test]
fn custom_services_are_defined_and_usable() {
    let fleet = import(
        "[custom-web-app]\nbinary = nginx:1.27\nexec = nginx -g daemon off;\nports = 80, 8443\n\
         [d]\nservices = web-app, ssh\n",
    );
    let custom = &fleet.custom_services[0];
    assert_eq!(custom.name, "web-app");
    assert_eq!(custom.image, "nginx:1.27");
    assert_eq!(custom.command, ["nginx", "-g", "daemon", "off;"]);
    assert_eq!(custom.ports, [80, 8443]);
    assert_eq!(fleet.deckies[0].services, ["web-app", "ssh"]);
}

#[test]
fn custom_service_errors() {
    assert_eq!(
        error("[custom-x]\nexec = run\n[d]\nservices = ssh\n"),
        "line 1: [custom-x] binary= is required: the image the service runs"
    );
    assert_eq!(
        error("[custom-x]\nbinary = img\nports = 80, http\n[d]\nservices = ssh\n"),
        "line 3: [custom-x] ports= must be a comma list of port numbers (1-65535), got '80, http'"
    );
    assert_eq!(
        error("[custom-ssh]\nbinary = img\n[d]\nservices = ssh\n"),
        "line 1: [custom-ssh] custom service 'ssh' has the same name as an installed service"
    );
    assert_eq!(
        error("[custom-My_App]\nbinary = img\n[d]\nservices = ssh\n"),
        "line 1: [custom-My_App] custom service name 'My_App' must be 1-32 characters of a-z, 0-9, '_' and '-'"
    );
}
