//! Archetypes: ready-made decky roles (a Windows workstation, a mail server, ...), each a
//! service set, the distros it usually runs and its OS family.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Archetype {
    pub slug: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub services: &'static [&'static str],
    /// Distros handed out round-robin to deckies of this archetype; never empty.
    pub preferred_distros: &'static [&'static str],
    /// OS family slug (the original's `nmap_os`).
    pub os_family: &'static str,
}

/// The fifteen archetypes in the original's order.
pub const ARCHETYPES: [Archetype; 15] = [
    Archetype {
        slug: "windows-workstation",
        display_name: "Windows Workstation",
        description: "An office desktop on the corporate LAN: file sharing and remote desktop.",
        services: &["smb", "rdp"],
        preferred_distros: &["debian", "ubuntu22"],
        os_family: "windows",
    },
    Archetype {
        slug: "windows-server",
        display_name: "Windows Server",
        description: "A domain member server: file sharing, remote desktop and directory lookups.",
        services: &["smb", "rdp", "ldap"],
        preferred_distros: &["debian", "ubuntu22"],
        os_family: "windows_server",
    },
    Archetype {
        slug: "domain-controller",
        display_name: "Domain Controller",
        description: "An Active Directory controller: LDAP, SMB, RDP and name resolution.",
        services: &["ldap", "smb", "rdp", "llmnr"],
        preferred_distros: &["debian", "ubuntu22"],
        os_family: "windows_server",
    },
    Archetype {
        slug: "linux-server",
        display_name: "Linux Server",
        description: "A general-purpose Linux box with remote shell and a web server.",
        services: &["ssh", "http"],
        preferred_distros: &["debian", "ubuntu22", "rocky9", "fedora"],
        os_family: "linux",
    },
    Archetype {
        slug: "web-server",
        display_name: "Web Server",
        description: "A web host with FTP for content uploads.",
        services: &["http", "ftp"],
        preferred_distros: &["debian", "ubuntu22", "ubuntu20"],
        os_family: "linux",
    },
    Archetype {
        slug: "database-server",
        display_name: "Database Server",
        description: "A database host: MySQL, PostgreSQL and Redis.",
        services: &["mysql", "postgres", "redis"],
        preferred_distros: &["debian", "ubuntu22"],
        os_family: "linux",
    },
    Archetype {
        slug: "mail-server",
        display_name: "Mail Server",
        description: "A mail host: SMTP for delivery, IMAP and POP3 for mailboxes.",
        services: &["smtp", "pop3", "imap"],
        preferred_distros: &["debian", "ubuntu22"],
        os_family: "linux",
    },
    Archetype {
        slug: "file-server",
        display_name: "File Server",
        description: "A file store reachable over SMB, FTP and SSH.",
        services: &["smb", "ftp", "ssh"],
        preferred_distros: &["debian", "ubuntu22", "rocky9"],
        os_family: "linux",
    },
    Archetype {
        slug: "printer",
        display_name: "Network Printer",
        description: "A networked printer: SNMP management and FTP print upload.",
        services: &["snmp", "ftp"],
        preferred_distros: &["alpine", "debian"],
        os_family: "embedded",
    },
    Archetype {
        slug: "iot-device",
        display_name: "IoT Device",
        description: "A connected device: MQTT telemetry, SNMP and a Telnet console.",
        services: &["mqtt", "snmp", "telnet"],
        preferred_distros: &["alpine"],
        os_family: "embedded",
    },
    Archetype {
        slug: "industrial-control",
        display_name: "Industrial Control System",
        description: "A PLC-like controller speaking industrial protocols, with SNMP.",
        services: &["conpot", "snmp"],
        preferred_distros: &["debian"],
        os_family: "embedded",
    },
    Archetype {
        slug: "voip-server",
        display_name: "VoIP Server",
        description: "A SIP telephone exchange.",
        services: &["sip"],
        preferred_distros: &["debian", "ubuntu22"],
        os_family: "linux",
    },
    Archetype {
        slug: "monitoring-node",
        display_name: "Monitoring Node",
        description: "A monitoring collector: SNMP and SSH.",
        services: &["snmp", "ssh"],
        preferred_distros: &["debian", "rocky9"],
        os_family: "linux",
    },
    Archetype {
        slug: "devops-host",
        display_name: "DevOps Host",
        description: "A build and orchestration box: Docker API, Kubernetes API and SSH.",
        services: &["docker_api", "ssh", "k8s"],
        preferred_distros: &["ubuntu22", "debian"],
        os_family: "linux",
    },
    Archetype {
        slug: "deaddeck",
        display_name: "Deaddeck (Entry Point)",
        description: "An internet-facing entry point that offers only SSH.",
        services: &["ssh"],
        preferred_distros: &["debian", "ubuntu22"],
        os_family: "linux",
    },
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unknown archetype '{slug}'. Available: {}", available_archetypes().join(", "))]
pub struct UnknownArchetype {
    pub slug: String,
}

pub fn archetype(slug: &str) -> Result<&'static Archetype, UnknownArchetype> {
    ARCHETYPES.iter().find(|a| a.slug == slug).ok_or_else(|| UnknownArchetype { slug: slug.to_owned() })
}

/// Every archetype slug, sorted.
pub fn available_archetypes() -> Vec<&'static str> {
    let mut slugs: Vec<_> = ARCHETYPES.iter().map(|a| a.slug).collect();
    slugs.sort_unstable();
    slugs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{distros, os_family};

    #[test]
    fn fifteen_archetypes_with_exact_facts() {
        assert_eq!(ARCHETYPES.len(), 15);
        assert_eq!(ARCHETYPES[0].slug, "windows-workstation");
        assert_eq!(ARCHETYPES[14].slug, "deaddeck");
        let dc = archetype("domain-controller").unwrap();
        assert_eq!(dc.display_name, "Domain Controller");
        assert_eq!(dc.services, ["ldap", "smb", "rdp", "llmnr"]);
        assert_eq!(dc.preferred_distros, ["debian", "ubuntu22"]);
        assert_eq!(dc.os_family, "windows_server");
        let devops = archetype("devops-host").unwrap();
        assert_eq!(devops.services, ["docker_api", "ssh", "k8s"]);
        assert_eq!(devops.preferred_distros, ["ubuntu22", "debian"]);
        assert_eq!(archetype("iot-device").unwrap().preferred_distros, ["alpine"]);
        assert_eq!(archetype("printer").unwrap().os_family, "embedded");
    }

    #[test]
    fn every_archetype_refers_to_known_distros_and_families() {
        for a in &ARCHETYPES {
            assert!(!a.preferred_distros.is_empty() && !a.services.is_empty(), "{}", a.slug);
            for d in a.preferred_distros {
                distros::distro(d).unwrap();
            }
            os_family::os_family(a.os_family).unwrap();
        }
    }

    #[test]
    fn unknown_archetype_lists_sorted_slugs() {
        assert_eq!(
            archetype("nas").unwrap_err().to_string(),
            "Unknown archetype 'nas'. Available: database-server, deaddeck, devops-host, \
             domain-controller, file-server, industrial-control, iot-device, linux-server, \
             mail-server, monitoring-node, printer, voip-server, web-server, windows-server, \
             windows-workstation"
        );
    }
}
