//! The sensor's port table: which ports each catalogue service listens on.
//!
//! It must equal the catalogue the built-in service plugins declare (`plugins/services/*`);
//! `crates/chaff-sensor-image/tests/catalogue.rs` loads the real plugins and checks it.

use std::fmt;

/// The argument that runs no service: the base container's process, which only holds the
/// network namespace.
pub const IDLE: &str = "idle";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    /// The name used in events and messages: `tcp` or `udp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One listening port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    pub number: u16,
    pub transport: Transport,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.transport)
    }
}

/// A catalogue service as the sensor knows it: its slug (the emulator's name on the command
/// line) and the ports it binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    pub slug: &'static str,
    pub ports: &'static [Port],
}

const fn tcp(number: u16) -> Port {
    Port { number, transport: Transport::Tcp }
}

const fn udp(number: u16) -> Port {
    Port { number, transport: Transport::Udp }
}

const fn service(slug: &'static str, ports: &'static [Port]) -> Service {
    Service { slug, ports }
}

/// Every catalogue service, in the order of the plugin sources, with the ports it declares.
pub const SERVICES: &[Service] = &[
    service("conpot", &[tcp(502), udp(161), tcp(80)]),
    service("dns", &[tcp(53), udp(53)]),
    service("docker_api", &[tcp(2375), tcp(2376)]),
    service("elasticsearch", &[tcp(9200)]),
    service("ftp", &[tcp(21)]),
    service("http", &[tcp(80), tcp(443)]),
    service("https", &[tcp(443), udp(443)]),
    service("k8s", &[tcp(6443), tcp(8080)]),
    service("ldap", &[tcp(389), tcp(636)]),
    service("llmnr", &[udp(5355), udp(5353)]),
    service("imap", &[tcp(143), tcp(993)]),
    service("pop3", &[tcp(110), tcp(995)]),
    service("mongodb", &[tcp(27017)]),
    service("mqtt", &[tcp(1883)]),
    service("mssql", &[tcp(1433)]),
    service("mysql", &[tcp(3306)]),
    service("postgres", &[tcp(5432)]),
    service("rdp", &[tcp(3389)]),
    service("redis", &[tcp(6379)]),
    service("ssh", &[tcp(22)]),
    service("telnet", &[tcp(23)]),
    service("sip", &[udp(5060), tcp(5060)]),
    service("smb", &[tcp(445), tcp(139)]),
    service("smtp", &[tcp(25), tcp(587)]),
    service("smtp_relay", &[tcp(25), tcp(587)]),
    // Captures traffic of the whole fleet rather than answering on a port.
    service("sniffer", &[]),
    service("snmp", &[udp(161)]),
    service("tftp", &[udp(69)]),
    service("vnc", &[tcp(5900)]),
];

/// The service named `slug`, if the sensor knows it.
pub fn service_named(slug: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.slug == slug)
}

/// Every name the sensor accepts on its command line: `idle`, then the services' slugs.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    std::iter::once(IDLE).chain(SERVICES.iter().map(|s| s.slug))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn slugs_are_unique_and_not_idle() {
        let mut seen = HashSet::new();
        for s in SERVICES {
            assert!(seen.insert(s.slug), "{} listed twice", s.slug);
            assert_ne!(s.slug, IDLE);
        }
    }

    #[test]
    fn no_service_lists_a_port_twice() {
        for s in SERVICES {
            let unique: HashSet<_> = s.ports.iter().collect();
            assert_eq!(unique.len(), s.ports.len(), "{}", s.slug);
        }
    }

    #[test]
    fn lookup_and_names() {
        assert_eq!(service_named("redis").unwrap().ports, &[tcp(6379)]);
        assert!(service_named("idle").is_none());
        assert!(service_named("gopher").is_none());
        let names: Vec<_> = known_names().collect();
        assert_eq!(names[0], "idle");
        assert_eq!(names.len(), SERVICES.len() + 1);
        assert_eq!(tcp(22).to_string(), "22/tcp");
    }
}
