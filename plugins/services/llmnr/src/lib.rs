//! `llmnr`: LLMNR and mDNS listener that flags name-poisoning tools such as Responder.

use chaff_plugin_sdk::prelude::*;

pub struct Llmnr;

const SLUG: &str = "llmnr";

impl ServicePlugin for Llmnr {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "LLMNR / mDNS",
                "LLMNR and mDNS listener that flags name-poisoning tools such as Responder.",
            )
            .udp(5355)
            .udp(5353)
            .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky))
    }
}

chaff_plugin_sdk::export_service!(Llmnr);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Llmnr::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "llmnr");
        assert_eq!(
            info.ports,
            [
                Port { number: 5355, transport: Transport::Udp },
                Port { number: 5353, transport: Transport::Udp }
            ]
        );
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &[] as &[&str]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Llmnr::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01"}));
        assert_eq!(fields.get("cap_add"), None);
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Llmnr::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
