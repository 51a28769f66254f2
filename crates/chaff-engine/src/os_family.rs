//! OS families: the TCP/IP fingerprint personas a decky can wear.
//!
//! Each family is a set of kernel sysctls applied to the decky's base container (service
//! containers share its network namespace and so inherit them). The numbers are the same as
//! the original's; the values are strings because that is what compose `sysctls` carries.

/// The family a decky gets when neither its INI section nor its archetype names one.
pub const DEFAULT_OS_FAMILY: &str = "linux";

/// Every profile sets exactly these keys, in this order.
pub const SYSCTL_KEYS: [&str; 10] = [
    "net.ipv4.ip_default_ttl",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_window_scaling",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_ecn",
    "net.ipv4.ip_no_pmtu_disc",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.icmp_ratelimit",
    "net.ipv4.icmp_ratemask",
];

/// One OS persona. `values[i]` is the value of `SYSCTL_KEYS[i]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OsFamily {
    pub slug: &'static str,
    values: [&'static str; 10],
}

impl OsFamily {
    /// The sysctls of this family as (key, value) pairs, in `SYSCTL_KEYS` order.
    pub fn sysctls(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        SYSCTL_KEYS.iter().copied().zip(self.values.iter().copied())
    }
}

/// The six families, in the original's order.
pub const OS_FAMILIES: [OsFamily; 6] = [
    OsFamily { slug: "linux", values: ["64", "6", "1", "1", "1", "2", "0", "60", "1000", "6168"] },
    OsFamily { slug: "windows", values: ["128", "2", "1", "1", "1", "0", "0", "30", "0", "0"] },
    OsFamily { slug: "windows_server", values: ["128", "2", "1", "1", "1", "1", "0", "30", "0", "0"] },
    OsFamily { slug: "bsd", values: ["64", "6", "1", "1", "1", "0", "0", "60", "250", "6168"] },
    OsFamily { slug: "embedded", values: ["255", "3", "0", "0", "0", "0", "1", "15", "0", "0"] },
    OsFamily { slug: "cisco", values: ["255", "2", "0", "0", "0", "0", "1", "15", "0", "0"] },
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Unknown OS family '{slug}'. Available: {}", available_os_families().join(", "))]
pub struct UnknownOsFamily {
    pub slug: String,
}

/// The family called `slug`. Unlike the original, an unknown slug is an error, never a
/// silent fall-back to `linux`.
pub fn os_family(slug: &str) -> Result<&'static OsFamily, UnknownOsFamily> {
    OS_FAMILIES
        .iter()
        .find(|family| family.slug == slug)
        .ok_or_else(|| UnknownOsFamily { slug: slug.to_owned() })
}

/// Every family slug, sorted.
pub fn available_os_families() -> Vec<&'static str> {
    let mut slugs: Vec<_> = OS_FAMILIES.iter().map(|f| f.slug).collect();
    slugs.sort_unstable();
    slugs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_families_in_the_original_order() {
        let slugs: Vec<_> = OS_FAMILIES.iter().map(|f| f.slug).collect();
        assert_eq!(slugs, ["linux", "windows", "windows_server", "bsd", "embedded", "cisco"]);
    }

    #[test]
    fn linux_sysctls_are_exact() {
        let linux: Vec<_> = os_family("linux").unwrap().sysctls().collect();
        assert_eq!(
            linux,
            [
                ("net.ipv4.ip_default_ttl", "64"),
                ("net.ipv4.tcp_syn_retries", "6"),
                ("net.ipv4.tcp_timestamps", "1"),
                ("net.ipv4.tcp_window_scaling", "1"),
                ("net.ipv4.tcp_sack", "1"),
                ("net.ipv4.tcp_ecn", "2"),
                ("net.ipv4.ip_no_pmtu_disc", "0"),
                ("net.ipv4.tcp_fin_timeout", "60"),
                ("net.ipv4.icmp_ratelimit", "1000"),
                ("net.ipv4.icmp_ratemask", "6168"),
            ]
        );
    }

    #[test]
    fn distinguishing_values_of_other_families() {
        let get =
            |slug: &str, key: &str| os_family(slug).unwrap().sysctls().find(|(k, _)| *k == key).unwrap().1;
        assert_eq!(get("windows", "net.ipv4.ip_default_ttl"), "128");
        assert_eq!(get("windows", "net.ipv4.tcp_ecn"), "0");
        assert_eq!(get("windows_server", "net.ipv4.tcp_ecn"), "1");
        assert_eq!(get("bsd", "net.ipv4.icmp_ratelimit"), "250");
        assert_eq!(get("embedded", "net.ipv4.tcp_syn_retries"), "3");
        assert_eq!(get("cisco", "net.ipv4.tcp_syn_retries"), "2");
        assert_eq!(get("cisco", "net.ipv4.ip_no_pmtu_disc"), "1");
    }

    #[test]
    fn unknown_family_is_an_error_listing_the_sorted_slugs() {
        let err = os_family("solaris").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown OS family 'solaris'. Available: bsd, cisco, embedded, linux, windows, windows_server"
        );
    }
}
