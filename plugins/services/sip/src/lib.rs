//! `sip`: SIP PBX endpoint; records REGISTER and INVITE attempts and their credentials.

use chaff_plugin_sdk::prelude::*;

pub struct Sip;

const SLUG: &str = "sip";

impl ServicePlugin for Sip {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "SIP",
                "SIP PBX endpoint; records REGISTER and INVITE attempts and their credentials.",
            )
            .udp(5060)
            .tcp(5060)
            .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky))
    }
}

chaff_plugin_sdk::export_service!(Sip);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Sip::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "sip");
        assert_eq!(
            info.ports,
            [
                Port { number: 5060, transport: Transport::Udp },
                Port { number: 5060, transport: Transport::Tcp }
            ]
        );
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &[] as &[&str]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Sip::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01"}));
        assert_eq!(fields.get("cap_add"), None);
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Sip::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
