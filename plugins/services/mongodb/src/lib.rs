//! `mongodb`: MongoDB wire protocol; records handshakes, commands and SCRAM logins.

use chaff_plugin_sdk::prelude::*;

pub struct Mongodb;

const SLUG: &str = "mongodb";

impl ServicePlugin for Mongodb {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "MongoDB",
                "MongoDB wire protocol; records handshakes, commands and SCRAM logins.",
            )
            .tcp(27017)
            .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky))
    }
}

chaff_plugin_sdk::export_service!(Mongodb);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Mongodb::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "mongodb");
        assert_eq!(info.ports, [Port { number: 27017, transport: Transport::Tcp }]);
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &[] as &[&str]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Mongodb::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01"}));
        assert_eq!(fields.get("cap_add"), None);
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Mongodb::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
