//! The directory's persona: OpenLDAP's slapd on Linux deckies, an Active Directory domain
//! controller on Windows ones. It decides the root DSE (what `ldapsearch -s base -b ""`
//! shows), which attributes a request without a list gets, and the servers' own wording of
//! their errors.

use std::time::SystemTime;

use crate::event::civil_from_days;
use crate::persona::decky_rng;

/// Which server the decky runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    OpenLdap,
    ActiveDirectory,
}

/// Domains a decky may serve when `LDAP_DOMAIN` is unset.
const DOMAINS: &[&str] = &["corp.local", "ad.internal", "hq.example.lan", "office.local", "intranet.lan"];

/// Controls OpenLDAP 2.5 announces.
const OPENLDAP_CONTROLS: &[&str] = &[
    "2.16.840.1.113730.3.4.18",
    "2.16.840.1.113730.3.4.2",
    "1.3.6.1.4.1.4203.1.10.1",
    "1.3.6.1.1.22",
    "1.2.840.113556.1.4.319",
    "1.2.826.0.1.3344810.2.3",
    "1.3.6.1.1.13.2",
    "1.3.6.1.1.13.1",
    "1.3.6.1.1.12",
];

/// Controls a Windows Server 2019 domain controller announces (the first of them).
const AD_CONTROLS: &[&str] = &[
    "1.2.840.113556.1.4.319",
    "1.2.840.113556.1.4.801",
    "1.2.840.113556.1.4.473",
    "1.2.840.113556.1.4.528",
    "1.2.840.113556.1.4.417",
    "1.2.840.113556.1.4.619",
    "1.2.840.113556.1.4.841",
    "1.2.840.113556.1.4.529",
    "1.2.840.113556.1.4.805",
    "1.2.840.113556.1.4.521",
    "1.2.840.113556.1.4.970",
    "1.2.840.113556.1.4.1338",
    "1.2.840.113556.1.4.474",
    "1.2.840.113556.1.4.1339",
    "1.2.840.113556.1.4.1340",
    "1.2.840.113556.1.4.1413",
    "2.16.840.1.113730.3.4.9",
    "2.16.840.1.113730.3.4.10",
    "1.2.840.113556.1.4.1504",
    "1.2.840.113556.1.4.1852",
    "1.2.840.113556.1.4.802",
    "1.2.840.113556.1.4.1907",
    "1.2.840.113556.1.4.1948",
    "1.2.840.113556.1.4.1974",
    "1.2.840.113556.1.4.1341",
    "1.2.840.113556.1.4.2026",
    "1.2.840.113556.1.4.2064",
    "1.2.840.113556.1.4.2065",
    "1.2.840.113556.1.4.2066",
    "1.2.840.113556.1.4.2090",
    "1.2.840.113556.1.4.2205",
    "1.2.840.113556.1.4.2204",
    "1.2.840.113556.1.4.2206",
    "1.2.840.113556.1.4.2211",
    "1.2.840.113556.1.4.2239",
    "1.2.840.113556.1.4.2255",
    "1.2.840.113556.1.4.2256",
    "1.2.840.113556.1.4.2309",
];

/// Capabilities of a Windows Server 2016+ domain controller.
const AD_CAPABILITIES: &[&str] = &[
    "1.2.840.113556.1.4.800",
    "1.2.840.113556.1.4.1670",
    "1.2.840.113556.1.4.1791",
    "1.2.840.113556.1.4.1935",
    "1.2.840.113556.1.4.2080",
    "1.2.840.113556.1.4.2237",
];

const AD_POLICIES: &[&str] = &[
    "MaxPoolThreads",
    "MaxPercentDirSyncRequests",
    "MaxDatagramRecv",
    "MaxReceiveBuffer",
    "InitRecvTimeout",
    "MaxConnections",
    "MaxConnIdleTime",
    "MaxPageSize",
    "MaxBatchReturnMessages",
    "MaxQueryDuration",
    "MaxDirSyncDuration",
    "MaxTempTableSize",
    "MaxResultSetSize",
    "MinResultSets",
    "MaxResultSetsPerConn",
    "MaxNotificationPerConn",
    "MaxValRange",
    "MaxValRangeTransitive",
    "ThreadMemoryLimit",
    "SystemMemoryLimitPercent",
];

pub const OID_START_TLS: &str = "1.3.6.1.4.1.1466.20037";
pub const OID_WHO_AM_I: &str = "1.3.6.1.4.1.4203.1.11.3";
const OID_PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
const OID_CANCEL: &str = "1.3.6.1.1.8";

/// One attribute of an entry: description and values.
pub type Attribute = (&'static str, Vec<String>);

/// What one decky's directory says about itself.
pub struct Persona {
    pub flavour: Flavour,
    /// `dc=corp,dc=local` (`DC=` on Active Directory).
    pub suffix: String,
    /// The domain, `corp.local`.
    pub domain: String,
    /// The host name in capitals (the DC's NetBIOS name).
    host: String,
    highest_usn: u64,
}

impl Persona {
    /// `domain` is `LDAP_DOMAIN` (already checked), else a per-decky pick.
    pub fn new(flavour: Flavour, decky: &str, domain: Option<&str>) -> Persona {
        let mut rng = decky_rng(decky, "ldap");
        let domain = domain.map_or_else(|| DOMAINS[rng.usize(..DOMAINS.len())].to_owned(), str::to_lowercase);
        let dc = if flavour == Flavour::ActiveDirectory { "DC" } else { "dc" };
        let suffix = domain.split('.').map(|label| format!("{dc}={label}")).collect::<Vec<_>>().join(",");
        let host: String = decky.chars().take(15).collect::<String>().to_uppercase();
        let host = if host.is_empty() { "DC01".to_owned() } else { host };
        Persona { flavour, suffix, domain, host, highest_usn: rng.u64(20_000..900_000) }
    }

    /// Whether `dn` is the suffix or below it (case-insensitive, spaces after commas
    /// ignored).
    pub fn holds(&self, dn: &[u8]) -> bool {
        let normal: String = String::from_utf8_lossy(dn)
            .to_lowercase()
            .split(',')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(",");
        let suffix = self.suffix.to_lowercase();
        normal == suffix || normal.ends_with(&format!(",{suffix}"))
    }

    /// The root DSE's attributes that a search for `requested` returns, in the server's
    /// order. OpenLDAP returns its operational attributes only when asked for (`+` or by
    /// name); Active Directory returns everything unless names are given.
    pub fn root_dse(&self, requested: &[String], now: SystemTime) -> Vec<Attribute> {
        let all = match self.flavour {
            Flavour::OpenLdap => self.openldap_root_dse(),
            Flavour::ActiveDirectory => self.ad_root_dse(now),
        };
        let wants = |name: &str| requested.iter().any(|r| r.eq_ignore_ascii_case(name));
        let default = requested.is_empty() || wants("*");
        all.into_iter()
            .filter(|(name, _)| match self.flavour {
                Flavour::OpenLdap if *name == "objectClass" => default || wants(name),
                Flavour::OpenLdap => wants("+") || wants(name),
                Flavour::ActiveDirectory => default || wants(name),
            })
            .collect()
    }

    fn openldap_root_dse(&self) -> Vec<Attribute> {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        vec![
            ("objectClass", list(&["top", "OpenLDAProotDSE"])),
            ("structuralObjectClass", list(&["OpenLDAProotDSE"])),
            ("configContext", list(&["cn=config"])),
            ("namingContexts", vec![self.suffix.clone()]),
            ("supportedControl", list(OPENLDAP_CONTROLS)),
            ("supportedExtension", list(&[OID_START_TLS, OID_PASSWORD_MODIFY, OID_WHO_AM_I, OID_CANCEL])),
            (
                "supportedFeatures",
                list(&[
                    "1.3.6.1.1.14",
                    "1.3.6.1.4.1.4203.1.5.1",
                    "1.3.6.1.4.1.4203.1.5.2",
                    "1.3.6.1.4.1.4203.1.5.3",
                    "1.3.6.1.4.1.4203.1.5.4",
                    "1.3.6.1.4.1.4203.1.5.5",
                ]),
            ),
            ("supportedLDAPVersion", list(&["3"])),
            ("supportedSASLMechanisms", list(&["DIGEST-MD5", "CRAM-MD5", "NTLM"])),
            ("entryDN", list(&[""])),
            ("subschemaSubentry", list(&["cn=Subschema"])),
        ]
    }

    fn ad_root_dse(&self, now: SystemTime) -> Vec<Attribute> {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let suffix = &self.suffix;
        let configuration = format!("CN=Configuration,{suffix}");
        let schema = format!("CN=Schema,{configuration}");
        let server =
            format!("CN={},CN=Servers,CN=Default-First-Site-Name,CN=Sites,{configuration}", self.host);
        let dns_host = format!("{}.{}", self.host.to_lowercase(), self.domain);
        vec![
            ("currentTime", vec![generalized_time(now)]),
            ("subschemaSubentry", vec![format!("CN=Aggregate,{schema}")]),
            ("dsServiceName", vec![format!("CN=NTDS Settings,{server}")]),
            (
                "namingContexts",
                vec![
                    suffix.clone(),
                    configuration.clone(),
                    schema.clone(),
                    format!("DC=DomainDnsZones,{suffix}"),
                    format!("DC=ForestDnsZones,{suffix}"),
                ],
            ),
            ("defaultNamingContext", vec![suffix.clone()]),
            ("rootDomainNamingContext", vec![suffix.clone()]),
            ("configurationNamingContext", vec![configuration.clone()]),
            ("schemaNamingContext", vec![schema]),
            ("serverName", vec![server]),
            ("supportedControl", list(AD_CONTROLS)),
            ("supportedLDAPVersion", list(&["3", "2"])),
            ("supportedLDAPPolicies", list(AD_POLICIES)),
            ("highestCommittedUSN", vec![self.highest_usn.to_string()]),
            ("supportedSASLMechanisms", list(&["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"])),
            ("dnsHostName", vec![dns_host.clone()]),
            (
                "ldapServiceName",
                vec![format!("{}:{}$@{}", self.domain, self.host.to_lowercase(), self.domain.to_uppercase())],
            ),
            ("isSynchronized", list(&["TRUE"])),
            ("isGlobalCatalogReady", list(&["TRUE"])),
            ("domainFunctionality", list(&["7"])),
            ("forestFunctionality", list(&["7"])),
            ("domainControllerFunctionality", list(&["7"])),
            ("supportedCapabilities", list(AD_CAPABILITIES)),
        ]
    }
}

/// LDAP's GeneralizedTime as Active Directory writes it: `20240501123456.0Z`.
fn generalized_time(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}.0Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn openldap_shows_operational_attributes_only_when_asked() {
        let persona = Persona::new(Flavour::OpenLdap, "dir-01", Some("Example.ORG"));
        assert_eq!(persona.suffix, "dc=example,dc=org");
        let names = |requested: &[&str]| -> Vec<&str> {
            let requested: Vec<String> = requested.iter().map(|s| (*s).to_owned()).collect();
            persona.root_dse(&requested, UNIX_EPOCH).into_iter().map(|(name, _)| name).collect()
        };
        assert_eq!(names(&[]), ["objectClass"]);
        assert_eq!(
            names(&["namingcontexts", "supportedLDAPVersion"]),
            ["namingContexts", "supportedLDAPVersion"]
        );
        assert_eq!(names(&["+"]).len(), 10);
        assert!(persona.holds(b"uid=admin, ou=People,DC=example,dc=org"));
        assert!(!persona.holds(b"dc=evil,dc=org"));
    }

    #[test]
    fn active_directory_names_its_domain_controller() {
        let persona = Persona::new(Flavour::ActiveDirectory, "dc01", Some("corp.local"));
        let dse = persona.root_dse(&[], UNIX_EPOCH + Duration::from_secs(1_714_566_896));
        assert_eq!(dse[0], ("currentTime", vec!["20240501123456.0Z".to_owned()]));
        let service = &dse.iter().find(|(n, _)| *n == "dsServiceName").unwrap().1[0];
        assert_eq!(
            service,
            "CN=NTDS Settings,CN=DC01,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=corp,DC=local"
        );
        let picked = Persona::new(Flavour::ActiveDirectory, "dc01", None).domain;
        assert_eq!(picked, Persona::new(Flavour::ActiveDirectory, "dc01", None).domain);
    }
}
