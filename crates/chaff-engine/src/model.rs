//! The fleet model: what the user designed, independent of how it is deployed.
//!
//! A [`Fleet`] is plain data (serde) so it can be stored and sent to the UI. [`Fleet::check`]
//! states the invariants every consumer may rely on; the INI importer only produces fleets
//! that pass it, and rendering refuses fleets that don't.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use chaff_plugin_host::spec::ServiceConfig;
use indexmap::IndexMap;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::addressing::{self, AddressProblem};
use crate::log_target::LogTarget;
use crate::naming::{self, NAME_RULE};
use crate::{archetypes, distros, os_family};

/// Minutes between mutations when neither the decky nor the fleet sets an interval.
pub const DEFAULT_MUTATE_INTERVAL: u32 = 30;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    /// Satisfies [`NAME_RULE`].
    pub name: String,
    pub network: Network,
    /// Where the fleet's sensor events are forwarded as RFC 5424 syslog, if anywhere: a
    /// [`crate::LogTarget`] (`udp://host:port`, `tcp://host:port`, bare `host:port` = UDP),
    /// checked by the lifecycle engine at import and deploy.
    pub log_target: Option<String>,
    /// Minutes between mutations for deckies without their own interval; `None` means
    /// [`DEFAULT_MUTATE_INTERVAL`].
    pub mutate_interval: Option<u32>,
    pub deckies: Vec<Decky>,
    /// Bring-your-own services: plain images the deckies of this fleet may list in `services`.
    pub custom_services: Vec<CustomService>,
    /// Services that run once for the whole fleet (fleet singletons, like the sniffer), each
    /// in its own container on the fleet network. Slugs unique; addresses unique among
    /// themselves and the deckies'. Whether a slug is a fleet singleton depends on the
    /// installed plugins, so rendering checks that, not [`Fleet::check`].
    #[serde(default)]
    pub fleet_services: Vec<FleetService>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkDriver {
    Bridge,
    Macvlan,
    Ipvlan,
}

impl NetworkDriver {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkDriver::Bridge => "bridge",
            NetworkDriver::Macvlan => "macvlan",
            NetworkDriver::Ipvlan => "ipvlan",
        }
    }

    /// macvlan and ipvlan attach to a host interface; a bridge is host-internal.
    pub fn needs_parent(self) -> bool {
        !matches!(self, NetworkDriver::Bridge)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub driver: NetworkDriver,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// The host interface for macvlan/ipvlan; `None` exactly when the driver is bridge.
    pub parent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decky {
    /// Satisfies [`NAME_RULE`]; unique in its fleet.
    pub name: String,
    /// A host address of the fleet subnet, not the gateway; unique in its fleet.
    pub ip: Ipv4Addr,
    pub hostname: String,
    /// A slug of [`distros::DISTROS`].
    pub distro: String,
    /// A slug of [`archetypes::ARCHETYPES`], if the decky was built from one.
    pub archetype: Option<String>,
    /// A slug of [`os_family::OS_FAMILIES`] (the original's `nmap_os`).
    pub os_family: String,
    /// Service slugs, in order, without duplicates; never empty.
    pub services: Vec<String>,
    /// Validated configuration per service slug. A service without an entry runs with its
    /// defaults; an entry for a service the decky does not run is kept but unused.
    pub service_config: IndexMap<String, ServiceConfig>,
    /// Minutes between mutations; `None` inherits the fleet's.
    pub mutate_interval: Option<u32>,
    /// Unix seconds of the last mutation (or of creation).
    pub last_mutated: u64,
}

/// A bring-your-own service: an image the user names, run as is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomService {
    /// Satisfies [`naming::is_valid_custom_service_name`].
    pub name: String,
    pub image: String,
    /// The container command; empty keeps the image's own.
    pub command: Vec<String>,
    /// TCP ports the image listens on.
    pub ports: Vec<u16>,
}

/// A fleet service: one container of a fleet-singleton service on the fleet network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetService {
    /// A service slug (`^[a-z0-9_]{1,32}$`).
    pub slug: String,
    /// The container's own fixed address: a host address of the fleet subnet, not the
    /// gateway. Fixed so Docker's dynamic allocation can never hand it a decky's address;
    /// the INI importer takes it from the top of the free addresses, leaving the bottom to
    /// deckies.
    pub ip: Ipv4Addr,
}

impl Fleet {
    pub fn decky(&self, name: &str) -> Option<&Decky> {
        self.deckies.iter().find(|d| d.name == name)
    }

    /// Minutes between mutations of `decky`: its own, else the fleet's, else the default.
    pub fn effective_mutate_interval(&self, decky: &Decky) -> u32 {
        decky.mutate_interval.or(self.mutate_interval).unwrap_or(DEFAULT_MUTATE_INTERVAL)
    }

    /// Checks every invariant documented on the model's fields.
    pub fn check(&self) -> Result<(), ModelError> {
        if !naming::is_valid_name(&self.name) {
            return Err(ModelError::FleetName(self.name.clone()));
        }
        check_network(&self.network)?;
        if let Some(target) = &self.log_target {
            target.parse::<LogTarget>().map_err(ModelError::LogTarget)?;
        }
        check_interval("the fleet", self.mutate_interval)?;
        check_custom_services(&self.custom_services)?;
        let mut names = HashSet::new();
        let mut ips: HashMap<Ipv4Addr, &str> = HashMap::new();
        for decky in &self.deckies {
            check_decky(decky, &self.network)?;
            if !names.insert(decky.name.as_str()) {
                return Err(ModelError::DuplicateDecky(decky.name.clone()));
            }
            if let Some(other) = ips.insert(decky.ip, &decky.name) {
                return Err(ModelError::DuplicateAddress {
                    decky: decky.name.clone(),
                    ip: decky.ip,
                    other: other.to_owned(),
                });
            }
        }
        check_fleet_services(&self.fleet_services, &self.network, &ips)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("fleet name '{0}' must match {NAME_RULE}")]
    FleetName(String),
    #[error("subnet {0} is too small: a fleet needs at least a /30")]
    SubnetTooSmall(Ipv4Net),
    #[error("gateway {gateway} {problem}")]
    Gateway { gateway: Ipv4Addr, problem: AddressProblem },
    #[error("a {0} network needs a parent interface")]
    MissingParent(&'static str),
    #[error("a bridge network takes no parent interface (got '{0}')")]
    UnexpectedParent(String),
    #[error(transparent)]
    LogTarget(crate::log_target::LogTargetError),
    #[error("mutate interval of {owner} must be at least 1 minute, got {value}")]
    MutateInterval { owner: String, value: u32 },
    #[error("decky name '{0}' must match {NAME_RULE}")]
    DeckyName(String),
    #[error("decky name '{0}' is used twice")]
    DuplicateDecky(String),
    #[error("decky '{decky}': ip {ip} {problem}")]
    Address { decky: String, ip: Ipv4Addr, problem: AddressProblem },
    #[error("decky '{decky}': ip {ip} is already used by decky '{other}'")]
    DuplicateAddress { decky: String, ip: Ipv4Addr, other: String },
    #[error("decky '{decky}': hostname '{hostname}' is not a valid host name")]
    Hostname { decky: String, hostname: String },
    #[error("decky '{decky}': {source}")]
    Distro { decky: String, source: distros::UnknownDistro },
    #[error("decky '{decky}': {source}")]
    Archetype { decky: String, source: archetypes::UnknownArchetype },
    #[error("decky '{decky}': {source}")]
    OsFamily { decky: String, source: os_family::UnknownOsFamily },
    #[error("decky '{0}' has no services")]
    NoServices(String),
    #[error("decky '{decky}' lists service '{service}' twice")]
    DuplicateService { decky: String, service: String },
    #[error("custom service name '{0}' must be 1-32 characters of a-z, 0-9, '_' and '-'")]
    CustomServiceName(String),
    #[error("custom service '{0}' is defined twice")]
    DuplicateCustomService(String),
    #[error("custom service '{0}' needs an image")]
    CustomServiceImage(String),
    #[error("custom service '{0}': port 0 is not a port")]
    CustomServicePort(String),
    #[error("fleet service '{0}' must be a service slug (1-32 characters of a-z, 0-9 and '_')")]
    FleetServiceSlug(String),
    #[error("fleet service '{0}' is listed twice")]
    DuplicateFleetService(String),
    #[error("fleet service '{service}': ip {ip} {problem}")]
    FleetServiceAddress { service: String, ip: Ipv4Addr, problem: AddressProblem },
    /// `other` says whose address it is: `decky 'web'` or `fleet service 'sniffer'`.
    #[error("fleet service '{service}': ip {ip} is already used by {other}")]
    FleetServiceDuplicateAddress { service: String, ip: Ipv4Addr, other: String },
}

fn check_network(network: &Network) -> Result<(), ModelError> {
    if !addressing::has_host_room(network.subnet) {
        return Err(ModelError::SubnetTooSmall(network.subnet));
    }
    addressing::check_host_address(network.subnet, network.gateway)
        .map_err(|problem| ModelError::Gateway { gateway: network.gateway, problem })?;
    match (&network.parent, network.driver.needs_parent()) {
        (None, true) => Err(ModelError::MissingParent(network.driver.as_str())),
        (Some(parent), false) => Err(ModelError::UnexpectedParent(parent.clone())),
        _ => Ok(()),
    }
}

fn check_interval(owner: &str, interval: Option<u32>) -> Result<(), ModelError> {
    match interval {
        Some(0) => Err(ModelError::MutateInterval { owner: owner.to_owned(), value: 0 }),
        _ => Ok(()),
    }
}

fn check_custom_services(services: &[CustomService]) -> Result<(), ModelError> {
    let mut seen = HashSet::new();
    for service in services {
        if !naming::is_valid_custom_service_name(&service.name) {
            return Err(ModelError::CustomServiceName(service.name.clone()));
        }
        if !seen.insert(service.name.as_str()) {
            return Err(ModelError::DuplicateCustomService(service.name.clone()));
        }
        if service.image.trim().is_empty() {
            return Err(ModelError::CustomServiceImage(service.name.clone()));
        }
        if service.ports.contains(&0) {
            return Err(ModelError::CustomServicePort(service.name.clone()));
        }
    }
    Ok(())
}

/// Slugs well-formed and unique; addresses host addresses of the subnet, not the gateway,
/// and neither a decky's (`decky_ips`, address → decky name) nor another fleet service's.
fn check_fleet_services(
    services: &[FleetService],
    network: &Network,
    decky_ips: &HashMap<Ipv4Addr, &str>,
) -> Result<(), ModelError> {
    let mut slugs = HashSet::new();
    let mut owners: HashMap<Ipv4Addr, &str> = HashMap::new();
    for service in services {
        let slug = || service.slug.clone();
        if !chaff_plugin_host::catalog::is_service_slug(&service.slug) {
            return Err(ModelError::FleetServiceSlug(slug()));
        }
        if !slugs.insert(service.slug.as_str()) {
            return Err(ModelError::DuplicateFleetService(slug()));
        }
        addressing::check_decky_address(network.subnet, network.gateway, service.ip).map_err(|problem| {
            ModelError::FleetServiceAddress { service: slug(), ip: service.ip, problem }
        })?;
        let other = if let Some(decky) = decky_ips.get(&service.ip) {
            format!("decky '{decky}'")
        } else if let Some(other) = owners.insert(service.ip, &service.slug) {
            format!("fleet service '{other}'")
        } else {
            continue;
        };
        return Err(ModelError::FleetServiceDuplicateAddress { service: slug(), ip: service.ip, other });
    }
    Ok(())
}

fn check_decky(decky: &Decky, network: &Network) -> Result<(), ModelError> {
    let name = || decky.name.clone();
    if !naming::is_valid_name(&decky.name) {
        return Err(ModelError::DeckyName(name()));
    }
    addressing::check_decky_address(network.subnet, network.gateway, decky.ip)
        .map_err(|problem| ModelError::Address { decky: name(), ip: decky.ip, problem })?;
    if !naming::is_valid_hostname(&decky.hostname) {
        return Err(ModelError::Hostname { decky: name(), hostname: decky.hostname.clone() });
    }
    distros::distro(&decky.distro).map_err(|source| ModelError::Distro { decky: name(), source })?;
    if let Some(slug) = &decky.archetype {
        archetypes::archetype(slug).map_err(|source| ModelError::Archetype { decky: name(), source })?;
    }
    os_family::os_family(&decky.os_family)
        .map_err(|source| ModelError::OsFamily { decky: name(), source })?;
    check_interval(&format!("decky '{}'", decky.name), decky.mutate_interval)?;
    if decky.services.is_empty() {
        return Err(ModelError::NoServices(name()));
    }
    let mut seen = HashSet::new();
    for service in &decky.services {
        if !seen.insert(service.as_str()) {
            return Err(ModelError::DuplicateService { decky: name(), service: service.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_fleet() -> Fleet {
        Fleet {
            name: "lab".into(),
            network: Network {
                driver: NetworkDriver::Bridge,
                subnet: "10.9.0.0/24".parse().unwrap(),
                gateway: "10.9.0.1".parse().unwrap(),
                parent: None,
            },
            log_target: None,
            mutate_interval: None,
            deckies: vec![Decky {
                name: "decky-01".into(),
                ip: "10.9.0.2".parse().unwrap(),
                hostname: "SRV-ALPHA-12".into(),
                distro: "debian".into(),
                archetype: None,
                os_family: "linux".into(),
                services: vec!["ssh".into()],
                service_config: IndexMap::new(),
                mutate_interval: None,
                last_mutated: 0,
            }],
            custom_services: vec![],
            fleet_services: vec![],
        }
    }

    fn sniffer(ip: &str) -> FleetService {
        FleetService { slug: "sniffer".into(), ip: ip.parse().unwrap() }
    }

    #[test]
    fn sample_fleet_is_valid_and_round_trips_through_json() {
        let fleet = sample_fleet();
        fleet.check().unwrap();
        let json = serde_json::to_string(&fleet).unwrap();
        assert!(json.contains(r#""driver":"bridge""#), "{json}");
        assert!(json.contains(r#""subnet":"10.9.0.0/24""#), "{json}");
        let back: Fleet = serde_json::from_str(&json).unwrap();
        assert_eq!(back, fleet);
    }

    #[test]
    fn check_refuses_a_log_target_that_is_not_one() {
        let mut fleet = sample_fleet();
        fleet.log_target = Some("tcp://10.9.0.200:514".into());
        fleet.check().unwrap();
        fleet.log_target = Some("syslog.example".into());
        let error = fleet.check().unwrap_err();
        assert!(matches!(&error, ModelError::LogTarget(e) if e.text == "syslog.example"), "{error:?}");
    }

    #[test]
    fn fleets_stored_before_fleet_services_still_load() {
        let mut json = serde_json::to_value(sample_fleet()).unwrap();
        json.as_object_mut().unwrap().remove("fleet_services");
        let back: Fleet = serde_json::from_value(json).unwrap();
        assert_eq!(back, sample_fleet());
    }

    #[test]
    fn check_reports_each_broken_fleet_service() {
        let mut fleet = sample_fleet();
        fleet.fleet_services.push(sniffer("10.9.0.254"));
        fleet.check().unwrap();
        assert_eq!(
            check_err(|f| f.fleet_services = vec![sniffer("10.9.0.254"), sniffer("10.9.0.253")]),
            "fleet service 'sniffer' is listed twice"
        );
        assert_eq!(
            check_err(|f| f.fleet_services =
                vec![FleetService { slug: "tls-sniffer".into(), ip: "10.9.0.9".parse().unwrap() }]),
            "fleet service 'tls-sniffer' must be a service slug (1-32 characters of a-z, 0-9 and '_')"
        );
        assert_eq!(
            check_err(|f| f.fleet_services = vec![sniffer("10.9.0.1")]),
            "fleet service 'sniffer': ip 10.9.0.1 is the gateway"
        );
        assert_eq!(
            check_err(|f| f.fleet_services = vec![sniffer("10.9.1.5")]),
            "fleet service 'sniffer': ip 10.9.1.5 is outside the subnet 10.9.0.0/24"
        );
        assert_eq!(
            check_err(|f| f.fleet_services = vec![sniffer("10.9.0.2")]),
            "fleet service 'sniffer': ip 10.9.0.2 is already used by decky 'decky-01'"
        );
        assert_eq!(
            check_err(|f| {
                let other = FleetService { slug: "tap".into(), ip: "10.9.0.200".parse().unwrap() };
                f.fleet_services = vec![other, sniffer("10.9.0.200")];
            }),
            "fleet service 'sniffer': ip 10.9.0.200 is already used by fleet service 'tap'"
        );
    }

    #[test]
    fn effective_mutate_interval_falls_back_to_fleet_then_default() {
        let mut fleet = sample_fleet();
        assert_eq!(fleet.effective_mutate_interval(&fleet.deckies[0]), 30);
        fleet.mutate_interval = Some(12);
        assert_eq!(fleet.effective_mutate_interval(&fleet.deckies[0]), 12);
        fleet.deckies[0].mutate_interval = Some(5);
        assert_eq!(fleet.effective_mutate_interval(&fleet.deckies[0]), 5);
    }

    fn check_err(edit: impl FnOnce(&mut Fleet)) -> String {
        let mut fleet = sample_fleet();
        edit(&mut fleet);
        fleet.check().unwrap_err().to_string()
    }

    #[test]
    fn check_reports_each_broken_invariant() {
        assert_eq!(check_err(|f| f.name = "Lab".into()), "fleet name 'Lab' must match ^[a-z0-9-]{1,64}$");
        assert_eq!(
            check_err(|f| f.deckies[0].name = "Decky_01".into()),
            "decky name 'Decky_01' must match ^[a-z0-9-]{1,64}$"
        );
        assert_eq!(
            check_err(|f| f.deckies[0].ip = "10.9.0.1".parse().unwrap()),
            "decky 'decky-01': ip 10.9.0.1 is the gateway"
        );
        assert_eq!(
            check_err(|f| f.deckies.push(f.deckies[0].clone())),
            "decky name 'decky-01' is used twice"
        );
        assert_eq!(
            check_err(|f| {
                let mut twin = f.deckies[0].clone();
                twin.name = "decky-02".into();
                f.deckies.push(twin);
            }),
            "decky 'decky-02': ip 10.9.0.2 is already used by decky 'decky-01'"
        );
        assert_eq!(
            check_err(|f| f.network.driver = NetworkDriver::Macvlan),
            "a macvlan network needs a parent interface"
        );
        assert_eq!(
            check_err(|f| f.network.parent = Some("eth0".into())),
            "a bridge network takes no parent interface (got 'eth0')"
        );
        assert_eq!(
            check_err(|f| f.network.subnet = "10.9.0.0/31".parse().unwrap()),
            "subnet 10.9.0.0/31 is too small: a fleet needs at least a /30"
        );
        assert_eq!(
            check_err(|f| f.deckies[0].os_family = "beos".into()),
            "decky 'decky-01': Unknown OS family 'beos'. Available: bsd, cisco, embedded, linux, windows, windows_server"
        );
        assert_eq!(check_err(|f| f.deckies[0].services.clear()), "decky 'decky-01' has no services");
        assert_eq!(
            check_err(|f| f.deckies[0].services.push("ssh".into())),
            "decky 'decky-01' lists service 'ssh' twice"
        );
        assert_eq!(
            check_err(|f| f.deckies[0].mutate_interval = Some(0)),
            "mutate interval of decky 'decky-01' must be at least 1 minute, got 0"
        );
        assert_eq!(
            check_err(|f| f.deckies[0].hostname = "bad host".into()),
            "decky 'decky-01': hostname 'bad host' is not a valid host name"
        );
    }
}
