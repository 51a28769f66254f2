//! `snmp`: an SNMP v1/v2c agent that records community strings and queried OIDs. Its system
//! MIB (sysDescr, sysObjectID, ...) is shaped by the decky's archetype, distro and OS family.

use chaff_plugin_sdk::prelude::*;

pub struct Snmp;

const SLUG: &str = "snmp";

impl ServicePlugin for Snmp {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(SLUG, "SNMP", "SNMP v1/v2c agent; records community strings and queried OIDs.")
                .udp(161)
                .image(SENSOR_IMAGE)
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky)
            .env("SNMP_DISTRO", &decky.distro)
            .env("SNMP_OS_FAMILY", &decky.os_family)
            .env_opt("SNMP_ARCHETYPE", decky.archetype.as_deref()))
    }
}

chaff_plugin_sdk::export_service!(Snmp);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky(archetype: Option<&str>) -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "printer01".into(),
            ip: "192.168.1.10".into(),
            distro: "alpine".into(),
            os_family: "embedded".into(),
            archetype: archetype.map(Into::into),
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Snmp::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "snmp");
        assert_eq!(info.ports, [Port { number: 161, transport: Transport::Udp }]);
        assert!(info.fields.is_empty());
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, ["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_passes_the_persona() {
        let fragment = Snmp::render(SLUG, &decky(Some("printer")), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({
                "NODE_NAME": "decky-01",
                "SNMP_DISTRO": "alpine",
                "SNMP_OS_FAMILY": "embedded",
                "SNMP_ARCHETYPE": "printer",
            })
        );
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]));
    }

    #[test]
    fn render_without_archetype_leaves_it_unset() {
        let fragment = Snmp::render(SLUG, &decky(None), &Config::default()).unwrap();
        assert!(fragment.fields()["environment"].get("SNMP_ARCHETYPE").is_none());
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Snmp::render("ssh", &decky(None), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
