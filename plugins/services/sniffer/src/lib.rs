//! `sniffer`: the fleet's passive observer. It records what reaches its interface on the
//! fleet network: ARP who-has for any address (every first contact with a decky or an unused
//! address), gratuitous ARP and address conflicts, and the SYNs, UDP datagrams and ICMP echoes
//! that reach it. One instance serves the whole fleet, never one per decky. It listens on no
//! port; it needs raw sockets to capture, and is the only service granted them.

use chaff_plugin_sdk::prelude::*;

pub struct Sniffer;

const SLUG: &str = "sniffer";
const CAPABILITIES: [&str; 2] = ["NET_RAW", "NET_ADMIN"];

impl ServicePlugin for Sniffer {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "Network sniffer",
                "Fleet-wide passive capture: who probes which decky or unused address (ARP, SYN, UDP, ICMP).",
            )
            .fleet_singleton()
            .image(SENSOR_IMAGE)
            .capability(CAPABILITIES[0])
            .capability(CAPABILITIES[1]),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky))
    }
}

chaff_plugin_sdk::export_service!(Sniffer);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_is_a_portless_fleet_singleton() {
        let [info] = &Sniffer::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "sniffer");
        assert!(info.ports.is_empty());
        assert!(info.fleet_singleton);
        assert!(info.fields.is_empty());
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, ["NET_RAW", "NET_ADMIN"]);
    }

    #[test]
    fn render_adds_the_capture_capabilities() {
        let fragment = Sniffer::render(SLUG, &decky(), &Config::default()).unwrap();
        assert_eq!(fragment.fields()["environment"], json!({"NODE_NAME": "decky-01"}));
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_RAW", "NET_ADMIN"]));
        assert_eq!(fragment.fields()["cap_drop"], json!(["ALL"]));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Sniffer::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
