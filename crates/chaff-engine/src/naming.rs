//! Names Chaff gives to things, in one place so every consumer (compose rendering, the Docker
//! API path, status probes, the UI) derives the same name the same way.

/// The rule for decky and fleet names, as shown to users.
pub const NAME_RULE: &str = "^[a-z0-9-]{1,64}$";

/// Label keys put on every container and network Chaff creates.
pub mod labels {
    pub const FLEET: &str = "io.chaff.fleet";
    pub const DECKY: &str = "io.chaff.decky";
    pub const SERVICE: &str = "io.chaff.service";
    /// `base` for a decky's base container, `service` for a service container,
    /// `fleet-service` for the container of a fleet service.
    pub const ROLE: &str = "io.chaff.role";
    /// Always `"true"`: the resource is Chaff's to create and remove.
    pub const MANAGED: &str = "io.chaff.managed";
    /// Which state database created the resource (added when it is created). Several Chaff
    /// databases may share one Docker engine; each only ever reaps its own resources.
    pub const OWNER: &str = "io.chaff.owner";
}

/// Whether `name` satisfies [`NAME_RULE`]: 1 to 64 characters of `a-z`, `0-9` and `-`.
/// Every decky and fleet name satisfies it, so names are safe in container names, network
/// names, label values and URL paths.
pub fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `name` can name a bring-your-own service: 1 to 32 characters of `a-z`, `0-9`, `_`
/// and `-` (plugin slugs use `a-z0-9_`; custom services may also use `-`).
pub fn is_valid_custom_service_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Whether `hostname` is a valid host name: dot-separated labels of 1 to 63 letters, digits
/// and `-`, not starting or ending with `-`, 253 characters at most.
pub fn is_valid_hostname(hostname: &str) -> bool {
    hostname.len() <= 253
        && hostname.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The base container of a decky is named after the decky itself.
pub fn base_container_name(decky: &str) -> String {
    decky.to_owned()
}

/// The container (and compose service key) of service `slug` on `decky`: `<decky>-<slug>`
/// with every `_` of the slug turned into `-` (`decky-01-docker-api`, `decky-01-smtp-relay`).
/// This is the only rule: the original mixed raw and dashed slugs (its quirk 11.1).
pub fn service_container_name(decky: &str, slug: &str) -> String {
    format!("{decky}-{}", slug.replace('_', "-"))
}

/// The container (and compose key) of fleet service `slug` of `fleet`: `<fleet>-<slug>` with
/// every `_` of the slug turned into `-` (`lab-sniffer`), the same rule as for a decky's
/// service containers. It can clash with a decky's container names (a decky named
/// `lab-sniffer`); rendering refuses a fleet where it does.
pub fn fleet_service_container_name(fleet: &str, slug: &str) -> String {
    format!("{fleet}-{}", slug.replace('_', "-"))
}

/// The Docker network of a fleet.
pub fn network_name(fleet: &str) -> String {
    format!("chaff_{fleet}")
}

/// The compose project of a fleet (`docker-compose -p <project>`).
pub fn project_name(fleet: &str) -> String {
    format!("chaff-{fleet}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rule() {
        assert!(is_valid_name("decky-01"));
        assert!(is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name(&"a".repeat(65)));
        assert!(!is_valid_name(""));
        for bad in ["Decky", "decky_01", "decky.01", "decky 01", "déc"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn hostname_rule() {
        for good in ["SRV-ALPHA-12", "alpha12.localdomain", "nova-kilo", "a"] {
            assert!(is_valid_hostname(good), "{good}");
        }
        for bad in ["", "-web", "web-", "we b", "a..b", "web_01", &"a".repeat(64)] {
            assert!(!is_valid_hostname(bad), "{bad}");
        }
    }

    #[test]
    fn one_naming_rule_for_service_containers() {
        assert_eq!(service_container_name("decky-01", "ssh"), "decky-01-ssh");
        assert_eq!(service_container_name("decky-01", "docker_api"), "decky-01-docker-api");
        assert_eq!(service_container_name("decky-01", "smtp_relay"), "decky-01-smtp-relay");
        assert_eq!(base_container_name("decky-01"), "decky-01");
        assert_eq!(fleet_service_container_name("lab", "sniffer"), "lab-sniffer");
        assert_eq!(fleet_service_container_name("lab", "tls_sniffer"), "lab-tls-sniffer");
        assert_eq!(network_name("lab"), "chaff_lab");
        assert_eq!(project_name("lab"), "chaff-lab");
    }
}
