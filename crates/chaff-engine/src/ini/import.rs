//! INI text → [`Fleet`].

use std::collections::HashMap;
use std::net::Ipv4Addr;

use chaff_plugin_host::spec::ServiceConfig;
use indexmap::IndexMap;
use ipnet::Ipv4Net;
use serde_json::Value;

use super::IniError;
use super::parser::{self, Section};
use crate::addressing::{self, FreeAddresses};
use crate::archetypes::{self, Archetype};
use crate::catalogue::Catalogue;
use crate::distros::{self, DISTROS, Distro};
use crate::log_target::LogTarget;
use crate::model::{CustomService, Decky, Fleet, FleetService, Network, NetworkDriver};
use crate::naming::{self, NAME_RULE};
use crate::os_family::{self, DEFAULT_OS_FAMILY};

/// Largest INI text accepted, in characters (the original's 512 KB).
pub const MAX_INI_CHARS: usize = 512 * 1024;

/// Largest `amount=` of one decky section.
pub const MAX_AMOUNT: u32 = 100;

/// The subnet of a fleet whose `[general]` names none. Chosen outside Docker's default
/// address pools (172.17–172.31/16, 192.168/16) so a bridge fleet does not collide with
/// networks Docker creates on its own; its gateway is the first host, 10.200.0.1.
pub const DEFAULT_SUBNET: &str = "10.200.0.0/24";

/// What an import needs besides the text and the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions<'a> {
    /// The fleet name when `[general]` has no `name=`.
    pub default_fleet_name: &'a str,
    /// Addresses in use elsewhere (e.g. deckies of the existing fleet): never handed out, and
    /// an explicit `ip=` on one is an error.
    pub reserved: &'a [Ipv4Addr],
    /// Unix seconds recorded as every decky's `last_mutated`.
    pub now: u64,
}

/// Builds a fleet from deployment INI `text`.
///
/// `catalogue` holds the installed services; `[custom-*]` sections add to it. `rng` picks
/// hostnames and, for deckies with neither `services=` nor `archetype=`, their services.
pub fn import_ini(
    text: &str,
    catalogue: &Catalogue,
    options: &ImportOptions<'_>,
    rng: &mut fastrand::Rng,
) -> Result<Fleet, IniError> {
    let text = check_text(text)?;
    let document = parser::parse(&text)?;
    if document.sections.is_empty() {
        return Err(IniError::whole(
            "The provided INI content must contain at least one section (no sections found)",
        ));
    }
    let sections = classify(&document.sections, catalogue);
    let general = read_general(sections.general, options.default_fleet_name)?;
    let (custom_services, catalogue) = read_custom_services(&sections.custom, catalogue)?;
    let fleet_slugs = check_fleet_services(general.fleet_services, &catalogue)?;
    let specs = read_decky_sections(&sections.deckies)?;
    if specs.is_empty() {
        return Err(IniError::whole("INI must contain at least one decky section"));
    }
    check_explicit_ips(&specs, &general.network, options.reserved)?;
    let configs = resolve_service_sections(&sections.service_configs, &specs)?;

    let mut builder = DeckyBuilder {
        catalogue: &catalogue,
        free_ips: free_addresses(&general.network, options.reserved, &specs),
        subnet: general.network.subnet,
        now: options.now,
        rng,
    };
    let mut deckies = Vec::new();
    for spec in &specs {
        for name in &spec.names {
            let mut decky = builder.build(spec, name, deckies.len())?;
            decky.service_config = configure_services(&decky, configs.get(name.as_str()), &catalogue)?;
            deckies.push(decky);
        }
    }
    // After the deckies, from the other end of the same pool: deckies get the addresses they
    // would get without fleet services, and running out names the fleet service.
    let fleet_services = allocate_fleet_services(fleet_slugs, &mut builder.free_ips, general.network.subnet)?;

    let fleet = Fleet {
        name: general.name,
        network: general.network,
        log_target: general.log_target,
        mutate_interval: general.mutate_interval,
        deckies,
        custom_services,
        fleet_services,
    };
    // Everything above enforces the model's invariants with located messages; this is the
    // backstop that keeps an importer bug from producing an invalid fleet.
    fleet.check().map_err(|err| IniError::whole(err.to_string()))?;
    tracing::debug!(fleet = %fleet.name, deckies = fleet.deckies.len(), "imported INI");
    Ok(fleet)
}

/// Size and emptiness checks (reference §3.2), then CRLF / CR normalised to LF.
fn check_text(text: &str) -> Result<String, IniError> {
    if text.len() > MAX_INI_CHARS && text.chars().count() > MAX_INI_CHARS {
        return Err(IniError::whole("INI content is too large (max 512KB)"));
    }
    if text.trim().is_empty() {
        return Err(IniError::whole("INI content is empty"));
    }
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

// ---------------------------------------------------------------------------------------------
// Sections

#[derive(Default)]
struct ClassifiedSections<'d> {
    general: Option<&'d Section>,
    deckies: Vec<&'d Section>,
    custom: Vec<(&'d Section, &'d str)>,
    service_configs: Vec<ServiceSection<'d>>,
}

/// A `[<decky>.<service>]` section.
struct ServiceSection<'d> {
    section: &'d Section,
    decky: &'d str,
    service: &'d str,
}

/// Sorts sections by what they define, in the original's order of precedence: a name whose
/// part after the last dot is a known service is a service section; then `custom-*`; then a
/// decky. Service sections of custom services are recognised too (after the custom names are
/// known).
fn classify<'d>(sections: &'d [Section], catalogue: &Catalogue) -> ClassifiedSections<'d> {
    let service_part = |name: &'d str| name.rsplit_once('.');
    let custom_names: Vec<&str> = sections
        .iter()
        .filter(|s| !service_part(&s.name).is_some_and(|(_, svc)| catalogue.contains(svc)))
        .filter_map(|s| s.name.strip_prefix("custom-"))
        .collect();
    let mut classified = ClassifiedSections::default();
    for section in sections {
        let name = section.name.as_str();
        let split = service_part(name);
        if name == "general" {
            classified.general = Some(section);
        } else if let Some((decky, service)) = split.filter(|(_, svc)| catalogue.contains(svc)) {
            classified.service_configs.push(ServiceSection { section, decky, service });
        } else if let Some(custom) = name.strip_prefix("custom-") {
            classified.custom.push((section, custom));
        } else if let Some((decky, service)) = split.filter(|(_, svc)| custom_names.contains(svc)) {
            classified.service_configs.push(ServiceSection { section, decky, service });
        } else {
            classified.deckies.push(section);
        }
    }
    classified
}

/// The value of the first of `keys` that is set to something non-empty, with its line.
fn value<'s>(section: &'s Section, keys: &[&str]) -> Option<(&'s str, usize)> {
    keys.iter().find_map(|key| {
        let entry = section.get(key)?;
        let text = entry.value.as_deref()?;
        (!text.is_empty()).then_some((text, entry.line))
    })
}

/// A positive whole number of minutes from `mutate_interval` / `mutate-interval`.
fn mutate_interval(section: &Section) -> Result<Option<u32>, IniError> {
    let Some((raw, line)) = value(section, &["mutate_interval", "mutate-interval"]) else {
        return Ok(None);
    };
    let sec = &section.name;
    let minutes: i64 = raw.parse().map_err(|_| {
        IniError::at(line, format!("[{sec}] mutate_interval= must be an integer, got '{raw}'"))
    })?;
    if minutes < 1 {
        return Err(IniError::at(line, format!("[{sec}] mutate_interval= must be at least 1, got '{raw}'")));
    }
    u32::try_from(minutes)
        .map(Some)
        .map_err(|_| IniError::at(line, format!("[{sec}] mutate_interval= is too large, got '{raw}'")))
}

/// Logs keys a section does not use (the original ignored them silently; so do we, but
/// a typo should at least be visible in the log).
fn warn_unused_keys(section: &Section, known: &[&str]) {
    for (key, entry) in &section.entries {
        if !known.contains(&key.as_str()) {
            tracing::warn!(section = %section.name, line = entry.line, key = %key, "ignoring an unknown key");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// [general]

const GENERAL_KEYS: &[&str] = &[
    "name",
    "net",
    "gw",
    "interface",
    "parent",
    "driver",
    "log_target",
    "log-target",
    "mutate_interval",
    "mutate-interval",
    "fleet_services",
    "fleet-services",
];

struct General {
    name: String,
    network: Network,
    log_target: Option<String>,
    mutate_interval: Option<u32>,
    /// `fleet_services=` as written (not yet checked against the catalogue), with its line.
    fleet_services: Option<(Vec<String>, usize)>,
}

fn read_general(section: Option<&Section>, default_name: &str) -> Result<General, IniError> {
    let Some(section) = section else {
        let subnet: Ipv4Net = DEFAULT_SUBNET.parse().expect("DEFAULT_SUBNET is a valid CIDR");
        let gateway = addressing::first_host(subnet).expect("DEFAULT_SUBNET has hosts");
        return Ok(General {
            name: default_name.to_owned(),
            network: Network { driver: NetworkDriver::Bridge, subnet, gateway, parent: None },
            log_target: None,
            mutate_interval: None,
            fleet_services: None,
        });
    };
    warn_unused_keys(section, GENERAL_KEYS);
    let name = match value(section, &["name"]) {
        Some((name, _)) if naming::is_valid_name(name) => name.to_owned(),
        Some((name, line)) => {
            return Err(IniError::at(line, format!("[general] name= must match {NAME_RULE}, got '{name}'")));
        }
        None => default_name.to_owned(),
    };
    Ok(General {
        name,
        network: read_network(section)?,
        log_target: read_log_target(section)?,
        mutate_interval: mutate_interval(section)?,
        fleet_services: read_list(section, &["fleet_services", "fleet-services"])?,
    })
}

/// `log_target=`, checked to be a [`LogTarget`] (kept as written).
fn read_log_target(section: &Section) -> Result<Option<String>, IniError> {
    let Some((raw, line)) = value(section, &["log_target", "log-target"]) else { return Ok(None) };
    match raw.parse::<LogTarget>() {
        Ok(_) => Ok(Some(raw.to_owned())),
        Err(error) => Err(IniError::at(line, format!("[general] {error}")).for_field("log_target")),
    }
}

fn read_network(section: &Section) -> Result<Network, IniError> {
    let subnet = match value(section, &["net"]) {
        Some((raw, line)) => parse_subnet(raw, line)?,
        None => DEFAULT_SUBNET.parse().expect("DEFAULT_SUBNET is a valid CIDR"),
    };
    let gateway = match value(section, &["gw"]) {
        Some((raw, line)) => parse_gateway(raw, line, subnet)?,
        None => addressing::first_host(subnet).expect("subnet was checked for host room"),
    };
    // `interface=` is the original's key; `parent=` says the same in Docker's words.
    let parent = match value(section, &["interface", "parent"]) {
        Some((raw, line)) => Some((parse_interface(raw, line)?, line)),
        None => None,
    };
    let driver = read_driver(section, parent.is_some())?;
    if driver.needs_parent() && parent.is_none() {
        let line = section.get("driver").map_or(section.line, |e| e.line);
        return Err(IniError::at(
            line,
            format!(
                "[general] driver={} needs interface= or parent= (the host network interface the deckies attach to)",
                driver.as_str()
            ),
        ));
    }
    if let (NetworkDriver::Bridge, Some((_, line))) = (driver, &parent) {
        return Err(IniError::at(
            *line,
            "[general] interface= only applies to driver=macvlan or driver=ipvlan, not bridge",
        ));
    }
    Ok(Network { driver, subnet, gateway, parent: parent.map(|(p, _)| p) })
}

fn parse_subnet(raw: &str, line: usize) -> Result<Ipv4Net, IniError> {
    let subnet: Ipv4Net = raw.parse().map_err(|_| {
        IniError::at(line, format!("[general] net= must be an IPv4 subnet like 192.168.1.0/24, got '{raw}'"))
    })?;
    // Host bits are ignored, as Python's `ip_network(strict=False)` does.
    let subnet = subnet.trunc();
    if !addressing::has_host_room(subnet) {
        return Err(IniError::at(
            line,
            format!("[general] net={raw} is too small: a fleet needs at least a /30"),
        ));
    }
    Ok(subnet)
}

fn parse_gateway(raw: &str, line: usize, subnet: Ipv4Net) -> Result<Ipv4Addr, IniError> {
    let gateway: Ipv4Addr = raw
        .parse()
        .map_err(|_| IniError::at(line, format!("[general] gw= must be an IPv4 address, got '{raw}'")))?;
    addressing::check_host_address(subnet, gateway)
        .map_err(|problem| IniError::at(line, format!("[general] gw={raw} {problem}")))?;
    Ok(gateway)
}

/// A Linux interface name: 1 to 15 characters, no whitespace, `/` or `:`.
fn parse_interface(raw: &str, line: usize) -> Result<String, IniError> {
    let valid =
        (1..=15).contains(&raw.len()) && !raw.chars().any(|c| c.is_whitespace() || c == '/' || c == ':');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(IniError::at(
            line,
            format!(
                "[general] interface= must be a network interface name (at most 15 characters, no spaces, '/' or ':'), got '{raw}'"
            ),
        ))
    }
}

/// `driver=`, or when absent: macvlan if an interface is named (the original's files name
/// one because they always meant macvlan), else bridge.
fn read_driver(section: &Section, has_interface: bool) -> Result<NetworkDriver, IniError> {
    match value(section, &["driver"]) {
        Some(("bridge", _)) => Ok(NetworkDriver::Bridge),
        Some(("macvlan", _)) => Ok(NetworkDriver::Macvlan),
        Some(("ipvlan", _)) => Ok(NetworkDriver::Ipvlan),
        Some((other, line)) => Err(IniError::at(
            line,
            format!("[general] driver= must be bridge, macvlan or ipvlan, got '{other}'"),
        )),
        None if has_interface => Ok(NetworkDriver::Macvlan),
        None => Ok(NetworkDriver::Bridge),
    }
}

// ---------------------------------------------------------------------------------------------
// [custom-*]

fn read_custom_services(
    sections: &[(&Section, &str)],
    catalogue: &Catalogue,
) -> Result<(Vec<CustomService>, Catalogue), IniError> {
    let mut catalogue = catalogue.clone();
    let mut services = Vec::new();
    for (section, name) in sections {
        let service = read_custom_service(section, name)?;
        catalogue = catalogue
            .with_custom(std::slice::from_ref(&service))
            .map_err(|err| IniError::at(section.line, format!("[{}] {err}", section.name)))?;
        services.push(service);
    }
    Ok((services, catalogue))
}

fn read_custom_service(section: &Section, name: &str) -> Result<CustomService, IniError> {
    let sec = &section.name;
    warn_unused_keys(section, &["binary", "exec", "ports"]);
    if !naming::is_valid_custom_service_name(name) {
        return Err(IniError::at(
            section.line,
            format!("[{sec}] custom service name '{name}' must be 1-32 characters of a-z, 0-9, '_' and '-'"),
        ));
    }
    let Some((image, _)) = value(section, &["binary"]) else {
        return Err(IniError::at(
            section.line,
            format!("[{sec}] binary= is required: the image the service runs"),
        ));
    };
    let command = value(section, &["exec"])
        .map(|(exec, _)| exec.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let ports = match value(section, &["ports"]) {
        Some((raw, line)) => parse_ports(raw).ok_or_else(|| {
            IniError::at(
                line,
                format!("[{sec}] ports= must be a comma list of port numbers (1-65535), got '{raw}'"),
            )
        })?,
        None => Vec::new(),
    };
    Ok(CustomService { name: name.to_owned(), image: image.to_owned(), command, ports })
}

/// `80, 443` → `[80, 443]`; empty items are skipped; `None` if any item is not a port.
fn parse_ports(raw: &str) -> Option<Vec<u16>> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let all_digits = item.bytes().all(|b| b.is_ascii_digit());
            all_digits.then(|| item.parse::<u16>().ok()).flatten().filter(|p| *p != 0)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Decky sections

/// A decky section, read and checked, not yet turned into deckies.
struct DeckySpec<'d> {
    section: &'d Section,
    /// The section name, or `<section>-01` ... when `amount` > 1.
    names: Vec<String>,
    ip: Option<(Ipv4Addr, usize)>,
    services: Option<(Vec<String>, usize)>,
    archetype: Option<(&'static Archetype, usize)>,
    os_family: Option<&'static str>,
    distro: Option<&'static Distro>,
    hostname: Option<String>,
    mutate_interval: Option<u32>,
}

fn read_decky_sections<'d>(sections: &[&'d Section]) -> Result<Vec<DeckySpec<'d>>, IniError> {
    let mut owners: HashMap<String, &str> = HashMap::new();
    let mut specs = Vec::new();
    for section in sections {
        let spec = read_decky_section(section)?;
        for name in &spec.names {
            if let Some(owner) = owners.insert(name.clone(), &section.name) {
                return Err(IniError::at(
                    section.line,
                    format!("[{}] decky name '{name}' is already used by [{owner}]", section.name),
                ));
            }
        }
        specs.push(spec);
    }
    Ok(specs)
}

const DECKY_KEYS: &[&str] = &[
    "ip",
    "services",
    "archetype",
    "nmap_os",
    "nmap-os",
    "mutate_interval",
    "mutate-interval",
    "amount",
    "distro",
    "hostname",
];

fn read_decky_section(section: &Section) -> Result<DeckySpec<'_>, IniError> {
    let sec = section.name.as_str();
    warn_unused_keys(section, DECKY_KEYS);
    let amount = read_amount(section)?;
    let names = if amount == 1 {
        vec![sec.to_owned()]
    } else {
        (1..=amount).map(|i| format!("{sec}-{i:02}")).collect()
    };
    if let Some(bad) = names.iter().find(|n| !naming::is_valid_name(n)) {
        return Err(IniError::at(
            section.line,
            format!(
                "[{sec}] decky name '{bad}' must match {NAME_RULE} (lowercase letters, digits and '-', at most 64)"
            ),
        ));
    }
    let ip = read_ip(section)?;
    if let Some((_, line)) = ip.filter(|_| amount > 1) {
        return Err(IniError::at(
            line,
            format!("[{sec}] Cannot combine ip= with amount={amount}. Remove ip= or use amount=1."),
        ));
    }
    let hostname = read_hostname(section)?;
    if let Some((_, line)) = hostname.as_ref().filter(|_| amount > 1) {
        return Err(IniError::at(
            *line,
            format!(
                "[{sec}] Cannot combine hostname= with amount={amount}. Remove hostname= or use amount=1."
            ),
        ));
    }
    Ok(DeckySpec {
        section,
        names,
        ip,
        services: read_services(section)?,
        archetype: read_archetype(section)?,
        os_family: read_os_family(section)?,
        distro: read_distro(section)?,
        hostname: hostname.map(|(h, _)| h),
        mutate_interval: mutate_interval(section)?,
    })
}

fn read_amount(section: &Section) -> Result<u32, IniError> {
    let Some(entry) = section.get("amount") else { return Ok(1) };
    let raw = entry.value.as_deref().unwrap_or("");
    let sec = &section.name;
    let amount: i64 = raw.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
        IniError::at(entry.line, format!("[{sec}] amount= must be a positive integer, got '{raw}'"))
    })?;
    if amount > i64::from(MAX_AMOUNT) {
        return Err(IniError::at(
            entry.line,
            format!("[{sec}] amount={amount} exceeds maximum allowed ({MAX_AMOUNT})."),
        ));
    }
    Ok(amount as u32)
}

fn read_ip(section: &Section) -> Result<Option<(Ipv4Addr, usize)>, IniError> {
    let Some((raw, line)) = value(section, &["ip"]) else { return Ok(None) };
    let ip = raw.parse().map_err(|_| {
        IniError::at(line, format!("[{}] ip= must be an IPv4 address, got '{raw}'", section.name))
    })?;
    Ok(Some((ip, line)))
}

fn read_hostname(section: &Section) -> Result<Option<(String, usize)>, IniError> {
    let Some((raw, line)) = value(section, &["hostname"]) else { return Ok(None) };
    if !naming::is_valid_hostname(raw) {
        return Err(IniError::at(
            line,
            format!(
                "[{}] hostname= must be a valid host name (letters, digits, '-' and '.'), got '{raw}'",
                section.name
            ),
        ));
    }
    Ok(Some((raw.to_owned(), line)))
}

/// `services=` as a list: items trimmed, empty items skipped; an empty list counts as absent.
fn read_services(section: &Section) -> Result<Option<(Vec<String>, usize)>, IniError> {
    read_list(section, &["services"])
}

/// The comma list of the first of `keys` that is set (errors name `keys[0]`): items trimmed,
/// empty items skipped, none twice; an empty list counts as absent.
fn read_list(section: &Section, keys: &[&str]) -> Result<Option<(Vec<String>, usize)>, IniError> {
    let Some((raw, line)) = value(section, keys) else { return Ok(None) };
    let mut items: Vec<String> = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if items.iter().any(|s| s == item) {
            return Err(IniError::at(line, format!("[{}] {}= lists '{item}' twice", section.name, keys[0])));
        }
        items.push(item.to_owned());
    }
    Ok((!items.is_empty()).then_some((items, line)))
}

fn read_archetype(section: &Section) -> Result<Option<(&'static Archetype, usize)>, IniError> {
    let Some((raw, line)) = value(section, &["archetype"]) else { return Ok(None) };
    let archetype = archetypes::archetype(raw).map_err(|err| IniError::at(line, err.to_string()))?;
    Ok(Some((archetype, line)))
}

fn read_os_family(section: &Section) -> Result<Option<&'static str>, IniError> {
    let Some((raw, line)) = value(section, &["nmap_os", "nmap-os"]) else { return Ok(None) };
    let family = os_family::os_family(raw)
        .map_err(|err| IniError::at(line, format!("[{}] nmap_os={raw}: {err}", section.name)))?;
    Ok(Some(family.slug))
}

fn read_distro(section: &Section) -> Result<Option<&'static Distro>, IniError> {
    let Some((raw, line)) = value(section, &["distro"]) else { return Ok(None) };
    let distro = distros::distro(raw).map_err(|err| IniError::at(line, err.to_string()))?;
    Ok(Some(distro))
}

// ---------------------------------------------------------------------------------------------
// Addresses

/// Every explicit `ip=` must be a decky address of the subnet, not reserved, and not given
/// to two deckies (the original checked none of this).
fn check_explicit_ips(
    specs: &[DeckySpec<'_>],
    network: &Network,
    reserved: &[Ipv4Addr],
) -> Result<(), IniError> {
    let mut owners: HashMap<Ipv4Addr, &str> = HashMap::new();
    for spec in specs {
        let Some((ip, line)) = spec.ip else { continue };
        let sec = &spec.section.name;
        addressing::check_decky_address(network.subnet, network.gateway, ip)
            .map_err(|problem| IniError::at(line, format!("[{sec}] ip={ip} {problem}")))?;
        if reserved.contains(&ip) {
            return Err(IniError::at(line, format!("[{sec}] ip={ip} is already in use outside this file")));
        }
        if let Some(owner) = owners.insert(ip, sec) {
            return Err(IniError::at(line, format!("[{sec}] ip={ip} is already assigned to [{owner}]")));
        }
    }
    Ok(())
}

/// The automatic pool: subnet hosts in order, minus gateway, reserved and explicit IPs.
/// Deckies take from the bottom, fleet services from the top.
fn free_addresses(network: &Network, reserved: &[Ipv4Addr], specs: &[DeckySpec<'_>]) -> FreeAddresses {
    let explicit = specs.iter().filter_map(|s| s.ip.map(|(ip, _)| ip));
    FreeAddresses::new(network.subnet, network.gateway, reserved.iter().copied().chain(explicit))
}

/// Each fleet service gets the highest address still free, in the order listed.
fn allocate_fleet_services(
    slugs: Option<(Vec<String>, usize)>,
    free_ips: &mut FreeAddresses,
    subnet: Ipv4Net,
) -> Result<Vec<FleetService>, IniError> {
    let Some((slugs, line)) = slugs else { return Ok(Vec::new()) };
    let mut services = Vec::with_capacity(slugs.len());
    for slug in slugs {
        let ip = free_ips.next_back().ok_or_else(|| {
            IniError::at(
                line,
                format!("Not enough free IPs in {subnet} while assigning IP for fleet service '{slug}'."),
            )
        })?;
        tracing::debug!(service = %slug, %ip, "fleet service address");
        services.push(FleetService { slug, ip });
    }
    Ok(services)
}

// ---------------------------------------------------------------------------------------------
// Fleet services

/// `fleet_services=` (if written) checked against `catalogue`: every item a fleet singleton.
/// Returns the list and its line, unchanged.
fn check_fleet_services(
    listed: Option<(Vec<String>, usize)>,
    catalogue: &Catalogue,
) -> Result<Option<(Vec<String>, usize)>, IniError> {
    let Some((slugs, line)) = listed else { return Ok(None) };
    let unknown: Vec<&str> = slugs.iter().map(String::as_str).filter(|s| !catalogue.contains(s)).collect();
    if !unknown.is_empty() {
        return Err(IniError::at(
            line,
            format!(
                "Unknown fleet service(s) in [general]: {}. Available: {}",
                python_list(unknown.iter().copied()),
                python_list(catalogue.fleet_singletons().iter().map(String::as_str)),
            ),
        ));
    }
    if let Some(per_decky) = slugs.iter().find(|s| !catalogue.is_fleet_singleton(s)) {
        return Err(IniError::at(
            line,
            format!(
                "[general] fleet_services= lists '{per_decky}', which runs on deckies, not once per fleet: \
                 list it in a decky's services= instead"
            ),
        ));
    }
    Ok(Some((slugs, line)))
}

// ---------------------------------------------------------------------------------------------
// Building deckies

struct DeckyBuilder<'a, 'r> {
    catalogue: &'a Catalogue,
    free_ips: FreeAddresses,
    subnet: Ipv4Net,
    now: u64,
    rng: &'r mut fastrand::Rng,
}

impl DeckyBuilder<'_, '_> {
    /// Decky `name` of `spec`; `built_so_far` drives the distro round-robin.
    fn build(&mut self, spec: &DeckySpec<'_>, name: &str, built_so_far: usize) -> Result<Decky, IniError> {
        let archetype = spec.archetype.map(|(a, _)| a);
        let distro = spec.distro.unwrap_or_else(|| round_robin_distro(archetype, built_so_far));
        let hostname = match &spec.hostname {
            Some(hostname) => hostname.clone(),
            None => distros::random_hostname(distro.hostname_style, self.rng),
        };
        let ip = match spec.ip {
            Some((ip, _)) => ip,
            None => self.free_ips.next().ok_or_else(|| {
                IniError::at(
                    spec.section.line,
                    format!("Not enough free IPs in {} while assigning IP for '{name}'.", self.subnet),
                )
            })?,
        };
        let services = self.services(spec, name)?;
        let os_family = spec.os_family.or(archetype.map(|a| a.os_family)).unwrap_or(DEFAULT_OS_FAMILY);
        Ok(Decky {
            name: name.to_owned(),
            ip,
            hostname,
            distro: distro.slug.to_owned(),
            archetype: archetype.map(|a| a.slug.to_owned()),
            os_family: os_family.to_owned(),
            services,
            service_config: IndexMap::new(),
            mutate_interval: spec.mutate_interval,
            last_mutated: self.now,
        })
    }

    /// Explicit services, else the archetype's, else 1 to 3 picked at random; every one must
    /// be a service a decky can run.
    fn services(&mut self, spec: &DeckySpec<'_>, name: &str) -> Result<Vec<String>, IniError> {
        let (services, line) = match (&spec.services, spec.archetype) {
            (Some((services, line)), _) => (services.clone(), *line),
            (None, Some((archetype, line))) => {
                (archetype.services.iter().map(|s| s.to_string()).collect(), line)
            }
            (None, None) => return self.random_services(spec, name),
        };
        let unknown: Vec<&str> =
            services.iter().map(String::as_str).filter(|s| !self.catalogue.contains(s)).collect();
        if !unknown.is_empty() {
            return Err(IniError::at(
                line,
                format!(
                    "Unknown service(s) in [{name}]: {}. Available: {}",
                    python_list(unknown.iter().copied()),
                    python_list(self.catalogue.available().iter().map(String::as_str)),
                ),
            ));
        }
        if let Some(singleton) = services.iter().find(|s| self.catalogue.is_fleet_singleton(s)) {
            return Err(IniError::at(
                line,
                format!(
                    "[{}] service '{singleton}' runs once per fleet, not on a decky: remove it here and \
                     enable it with fleet_services = {singleton} in [general]",
                    spec.section.name
                ),
            ));
        }
        Ok(services)
    }

    fn random_services(&mut self, spec: &DeckySpec<'_>, name: &str) -> Result<Vec<String>, IniError> {
        let mut pool = self.catalogue.available();
        if pool.is_empty() {
            return Err(IniError::at(
                spec.section.line,
                format!("No services are installed to pick from for [{name}]"),
            ));
        }
        let count = self.rng.usize(1..=pool.len().min(3));
        // Partial Fisher-Yates: the first `count` slots end up a uniform sample.
        for i in 0..count {
            let j = self.rng.usize(i..pool.len());
            pool.swap(i, j);
        }
        pool.truncate(count);
        Ok(self.catalogue.without_port_clashes(pool))
    }
}

/// The archetype's preferred distros (or all, in table order), taken in turn by the
/// `built_so_far`-th decky of the file.
fn round_robin_distro(archetype: Option<&Archetype>, built_so_far: usize) -> &'static Distro {
    match archetype {
        Some(archetype) => {
            let slug = archetype.preferred_distros[built_so_far % archetype.preferred_distros.len()];
            distros::distro(slug).expect("archetype tables only name known distros")
        }
        None => &DISTROS[built_so_far % DISTROS.len()],
    }
}

/// Python's `repr` of a list of strings, `['a', 'b']`, as the original's messages print it.
fn python_list<'s>(items: impl Iterator<Item = &'s str>) -> String {
    let list = items.map(|item| serde_json::Value::String(item.to_owned())).collect();
    chaff_plugin_host::config::py_repr(&serde_json::Value::Array(list))
}

// ---------------------------------------------------------------------------------------------
// [<decky>.<service>] sections

/// How a service section found its deckies; exact ones override group ones key by key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    /// `[group.svc]` for every decky expanded from `[group]` with `amount=`.
    Group,
    /// `[decky.svc]` for the decky of exactly that name.
    Exact,
}

/// Service sections per decky name, per service, in the order to apply them.
type ServiceSections<'d> = HashMap<String, IndexMap<&'d str, Vec<(Reach, &'d Section)>>>;

/// Finds the deckies of every `[<decky>.<service>]` section: the decky named exactly
/// `<decky>`, else the deckies expanded from section `[<decky>]`. Never a decky that merely
/// shares the prefix (the original's quirk). A section that reaches no decky is an error.
fn resolve_service_sections<'d>(
    sections: &[ServiceSection<'d>],
    specs: &[DeckySpec<'_>],
) -> Result<ServiceSections<'d>, IniError> {
    let mut resolved: ServiceSections<'d> = HashMap::new();
    for ServiceSection { section, decky, service } in sections {
        let exact = specs.iter().flat_map(|s| &s.names).find(|n| n == decky);
        let (reach, targets): (Reach, Vec<&String>) = match exact {
            Some(name) => (Reach::Exact, vec![name]),
            None => match specs.iter().find(|s| s.section.name == *decky && s.names.len() > 1) {
                Some(group) => (Reach::Group, group.names.iter().collect()),
                None => {
                    return Err(IniError::at(
                        section.line,
                        format!(
                            "[{}] there is no decky '{decky}' (nor a [{decky}] section with amount=) to configure",
                            section.name
                        ),
                    ));
                }
            },
        };
        for target in targets {
            resolved.entry(target.clone()).or_default().entry(service).or_default().push((reach, *section));
        }
    }
    for per_service in resolved.values_mut() {
        for sections in per_service.values_mut() {
            // Stable: sections of one reach keep their file order.
            sections.sort_by_key(|(reach, _)| *reach);
        }
    }
    Ok(resolved)
}

/// Validated configuration of `decky`'s services from its service sections.
fn configure_services(
    decky: &Decky,
    sections: Option<&IndexMap<&str, Vec<(Reach, &Section)>>>,
    catalogue: &Catalogue,
) -> Result<IndexMap<String, ServiceConfig>, IniError> {
    let mut configs = IndexMap::new();
    let Some(sections) = sections else { return Ok(configs) };
    for (service, service_sections) in sections {
        let first = service_sections[0].1;
        if !decky.services.iter().any(|s| s == service) {
            return Err(IniError::at(
                first.line,
                format!(
                    "[{}] decky '{}' does not run {service} (its services: {})",
                    first.name,
                    decky.name,
                    decky.services.join(", ")
                ),
            ));
        }
        let spec = catalogue.spec(service).expect("service sections only name catalogue services");
        let raw = merge_raw_config(service_sections);
        for (key, (_, line, section)) in &raw {
            if spec.field(key).is_none() {
                tracing::warn!(section = %section.name, line, key = %key, "ignoring a key {service} does not declare");
            }
        }
        let values: IndexMap<String, Value> =
            raw.iter().map(|(k, (v, _, _))| (k.clone(), v.clone())).collect();
        let config = chaff_plugin_host::validate_config(spec, &values).map_err(|err| {
            let (line, section) =
                raw.get(&err.field).map_or((first.line, first), |(_, line, section)| (*line, *section));
            IniError::at(line, format!("[{}] {err}", section.name))
        })?;
        configs.insert(service.to_string(), config);
    }
    Ok(configs)
}

/// All keys of `sections` (later ones override), each with its value, line and section.
/// A key written without a value is `null`, which validation treats as unset.
fn merge_raw_config<'d>(sections: &[(Reach, &'d Section)]) -> IndexMap<String, (Value, usize, &'d Section)> {
    let mut raw = IndexMap::new();
    for (_, section) in sections {
        for (key, entry) in &section.entries {
            let value = entry.value.clone().map_or(Value::Null, Value::String);
            raw.insert(key.clone(), (value, entry.line, *section));
        }
    }
    raw
}
