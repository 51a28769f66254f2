//! `tftp`: TFTP server that records read and write requests.

use chaff_plugin_sdk::prelude::*;

pub struct Tftp;

const SLUG: &str = "tftp";

impl ServicePlugin for Tftp {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(SLUG, "TFTP", "TFTP server that records read and write requests.")
                .udp(69)
                .image(SENSOR_IMAGE)
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky))
    }
}

chaff_plugin_sdk::export_service!(Tftp);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Tftp::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "tftp");
        assert_eq!(info.ports, [Port { number: 69, transport: Transport::Udp }]);
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Tftp::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01"}));
        assert_eq!(fields.get("cap_add"), Some(&json!(["NET_BIND_SERVICE"])));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Tftp::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
