//! `ldap`: LDAP directory that records bind DNs and passwords. The decky's OS family decides
//! the server (an Active Directory domain controller on Windows deckies, OpenLDAP elsewhere)
//! and its distro how the TLS certificate of port 636 is made.

use chaff_plugin_sdk::prelude::*;

pub struct Ldap;

const SLUG: &str = "ldap";

impl ServicePlugin for Ldap {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(SLUG, "LDAP", "LDAP directory that records bind DNs and passwords.")
                .tcp(389)
                .tcp(636)
                .image(SENSOR_IMAGE)
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky)
            .env("LDAP_OS_FAMILY", &decky.os_family)
            .env("LDAP_DISTRO", &decky.distro))
    }
}

chaff_plugin_sdk::export_service!(Ldap);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Ldap::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "ldap");
        assert_eq!(
            info.ports,
            [
                Port { number: 389, transport: Transport::Tcp },
                Port { number: 636, transport: Transport::Tcp }
            ]
        );
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Ldap::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(
            fields["environment"],
            json!({"NODE_NAME": "decky-01", "LDAP_OS_FAMILY": "linux", "LDAP_DISTRO": "debian"})
        );
        assert_eq!(fields.get("cap_add"), Some(&json!(["NET_BIND_SERVICE"])));
    }

    #[test]
    fn windows_deckies_get_active_directory() {
        let windows = Decky { os_family: "windows".into(), ..decky() };
        let fragment = Ldap::render(SLUG, &windows, &Config::default()).unwrap();
        assert_eq!(fragment.fields()["environment"]["LDAP_OS_FAMILY"], "windows");
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Ldap::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
