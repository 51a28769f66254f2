//! `redis`: a Redis server speaking RESP that records AUTH attempts and every command. `INFO`
//! reports the configured version and OS, else ones picked per decky to suit its distro.

use chaff_plugin_sdk::prelude::*;

pub struct Redis;

impl ServicePlugin for Redis {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new("redis", "Redis", "Redis server; records AUTH attempts and commands.")
                .tcp(6379)
                .field(
                    ConfigField::text("version", "Redis version")
                        .help("Reported by INFO; picked per decky when empty.")
                        .placeholder("6.2.14"),
                )
                .field(
                    ConfigField::text("os_string", "OS string")
                        .help("The `os:` line of INFO; derived from the decky's distro when empty.")
                        .placeholder("Linux 5.15.0-91-generic x86_64"),
                )
                .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky)
            .env("REDIS_DISTRO", &decky.distro)
            .env_opt("REDIS_VERSION", config.text("version"))
            .env_opt("REDIS_OS", config.text("os_string")))
    }
}

chaff_plugin_sdk::export_service!(Redis);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "cache01".into(),
            ip: "192.168.1.10".into(),
            distro: "debian".into(),
            os_family: "linux".into(),
            archetype: None,
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Redis::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "redis");
        assert_eq!(info.ports, [Port { number: 6379, transport: Transport::Tcp }]);
        let fields: Vec<_> =
            info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone())).collect();
        assert_eq!(fields, [("version", FieldKind::Text, None), ("os_string", FieldKind::Text, None)]);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert!(info.capabilities.is_empty());
    }

    #[test]
    fn render_without_config() {
        let fragment = Redis::render("redis", &decky(), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({"NODE_NAME": "decky-01", "REDIS_DISTRO": "debian"})
        );
    }

    #[test]
    fn render_with_config() {
        let config = Config::new(vec![
            ("version".into(), ConfigValue::Text("7.2.4".into())),
            ("os_string".into(), ConfigValue::Text("Linux 6.1.0-18-amd64 x86_64".into())),
        ]);
        let fragment = Redis::render("redis", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["REDIS_VERSION"], "7.2.4");
        assert_eq!(env["REDIS_OS"], "Linux 6.1.0-18-amd64 x86_64");
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Redis::render("mysql", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("mysql"));
    }
}
