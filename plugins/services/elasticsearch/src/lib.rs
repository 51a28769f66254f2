//! `elasticsearch`: Elasticsearch 7.x-style REST API; records cluster and security reconnaissance.

use chaff_plugin_sdk::prelude::*;

pub struct Elasticsearch;

const SLUG: &str = "elasticsearch";

impl ServicePlugin for Elasticsearch {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "Elasticsearch",
                "Elasticsearch 7.x-style REST API; records cluster and security reconnaissance.",
            )
            .tcp(9200)
            .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky))
    }
}

chaff_plugin_sdk::export_service!(Elasticsearch);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Elasticsearch::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "elasticsearch");
        assert_eq!(info.ports, [Port { number: 9200, transport: Transport::Tcp }]);
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &[] as &[&str]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Elasticsearch::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01"}));
        assert_eq!(fields.get("cap_add"), None);
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Elasticsearch::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
