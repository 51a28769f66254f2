//! `postgres`: PostgreSQL server that records startup messages and MD5 password hashes.

use chaff_plugin_sdk::prelude::*;

pub struct Postgres;

const SLUG: &str = "postgres";

impl ServicePlugin for Postgres {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "PostgreSQL",
                "PostgreSQL server that records startup messages and MD5 password hashes.",
            )
            .tcp(5432)
            .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky).env("POSTGRES_DISTRO", &decky.distro))
    }
}

chaff_plugin_sdk::export_service!(Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Postgres::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "postgres");
        assert_eq!(info.ports, [Port { number: 5432, transport: Transport::Tcp }]);
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &[] as &[&str]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Postgres::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01", "POSTGRES_DISTRO": "debian"}));
        assert_eq!(fields.get("cap_add"), None);
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Postgres::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
