//! `mysql`: a MySQL server handshake that reads the login and answers Access Denied. The
//! version string is configurable, else picked per decky to suit its distro.

use chaff_plugin_sdk::prelude::*;

pub struct Mysql;

impl ServicePlugin for Mysql {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new("mysql", "MySQL", "MySQL server handshake; records login attempts.")
                .tcp(3306)
                .field(
                    ConfigField::text("version", "Server version")
                        .help("Announced in the handshake; a plausible one is picked per decky when empty.")
                        .placeholder("5.7.42-0ubuntu0.18.04.1"),
                )
                .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky)
            .env("MYSQL_DISTRO", &decky.distro)
            .env_opt("MYSQL_VERSION", config.text("version")))
    }
}

chaff_plugin_sdk::export_service!(Mysql);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "db01".into(),
            ip: "192.168.1.10".into(),
            distro: "ubuntu20".into(),
            os_family: "linux".into(),
            archetype: Some("database-server".into()),
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Mysql::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "mysql");
        assert_eq!(info.ports, [Port { number: 3306, transport: Transport::Tcp }]);
        let fields: Vec<_> =
            info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone())).collect();
        assert_eq!(fields, [("version", FieldKind::Text, None)]);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert!(info.capabilities.is_empty());
    }

    #[test]
    fn render_without_config() {
        let fragment = Mysql::render("mysql", &decky(), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({"NODE_NAME": "decky-01", "MYSQL_DISTRO": "ubuntu20"})
        );
        assert!(fragment.fields().get("cap_add").is_none());
    }

    #[test]
    fn render_with_version() {
        let config = Config::new(vec![("version".into(), ConfigValue::Text("8.0.36".into()))]);
        let fragment = Mysql::render("mysql", &decky(), &config).unwrap();
        assert_eq!(fragment.fields()["environment"]["MYSQL_VERSION"], "8.0.36");
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Mysql::render("postgres", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("postgres"));
    }
}
