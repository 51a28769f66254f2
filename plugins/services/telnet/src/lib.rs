//! `telnet`: a busybox-style telnet login that records credentials; the configured credentials
//! open a fake shell that records every command. Session transcripts and dropped files are
//! captured on a tmpfs (the original bind-mounted a host directory, which the host's policy
//! forbids).

use chaff_plugin_sdk::prelude::*;

pub struct Telnet;

/// Where the emulator writes session captures; disguised as the systemd coredump directory.
const CAPTURE_DIR: &str = "/var/lib/systemd/coredump";

impl ServicePlugin for Telnet {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new("telnet", "Telnet", "Telnet login; records credentials and shell commands.")
                .tcp(23)
                .field(ConfigField::password("password", "Root password").default_text("admin"))
                .field(ConfigField::text("user", "Login user").default_text("ubuntu"))
                .field(ConfigField::password("user_password", "Login user password").default_text("admin"))
                .field(ConfigField::text("hostname", "Hostname shown in the shell prompt"))
                .image(SENSOR_IMAGE)
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        if service != "telnet" {
            return Err(RenderError::unknown_service(service));
        }
        Ok(Fragment::sensor("telnet")
            .cap_add("NET_BIND_SERVICE")
            .tmpfs(&format!("{CAPTURE_DIR}:size=64m"))
            .env("NODE_NAME", &decky.name)
            .env("TELNET_DISTRO", &decky.distro)
            .env("TELNET_ROOT_PASSWORD", config.text("password").unwrap_or_else(|| "admin".into()))
            .env("TELNET_USER", config.text("user").unwrap_or_else(|| "ubuntu".into()))
            .env("TELNET_USER_PASSWORD", config.text("user_password").unwrap_or_else(|| "admin".into()))
            .env_opt("TELNET_HOSTNAME", config.text("hostname"))
            .env("TELNET_CAPTURE_DIR", CAPTURE_DIR))
    }
}

chaff_plugin_sdk::export_service!(Telnet);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "cam01".into(),
            ip: "192.168.1.10".into(),
            distro: "alpine".into(),
            os_family: "linux".into(),
            archetype: Some("iot-device".into()),
        }
    }

    fn text(value: &str) -> Option<ConfigValue> {
        Some(ConfigValue::Text(value.into()))
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Telnet::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "telnet");
        assert_eq!(info.ports, [Port { number: 23, transport: Transport::Tcp }]);
        let fields: Vec<_> =
            info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone(), f.secret)).collect();
        assert_eq!(
            fields,
            [
                ("password", FieldKind::Password, text("admin"), true),
                ("user", FieldKind::Text, text("ubuntu"), false),
                ("user_password", FieldKind::Password, text("admin"), true),
                ("hostname", FieldKind::Text, None, false),
            ]
        );
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, ["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_with_defaults() {
        let fragment = Telnet::render("telnet", &decky(), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({
                "NODE_NAME": "decky-01",
                "TELNET_DISTRO": "alpine",
                "TELNET_ROOT_PASSWORD": "admin",
                "TELNET_USER": "ubuntu",
                "TELNET_USER_PASSWORD": "admin",
                "TELNET_CAPTURE_DIR": "/var/lib/systemd/coredump",
            })
        );
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]));
        assert_eq!(
            fragment.fields()["tmpfs"],
            json!(["/tmp:size=16m", "/var/lib/systemd/coredump:size=64m"])
        );
        assert!(fragment.fields().get("volumes").is_none());
    }

    #[test]
    fn render_with_config() {
        let config = Config::new(vec![
            ("password".into(), ConfigValue::Text("12345".into())),
            ("user".into(), ConfigValue::Text("support".into())),
            ("user_password".into(), ConfigValue::Text("support".into())),
            ("hostname".into(), ConfigValue::Text("ipcam".into())),
        ]);
        let fragment = Telnet::render("telnet", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["TELNET_ROOT_PASSWORD"], "12345");
        assert_eq!(env["TELNET_USER"], "support");
        assert_eq!(env["TELNET_USER_PASSWORD"], "support");
        assert_eq!(env["TELNET_HOSTNAME"], "ipcam");
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Telnet::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
