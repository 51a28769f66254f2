//! `ssh`: an SSH server that records password and public-key attempts; the configured
//! credentials open a fake shell that records every command. Session transcripts and dropped
//! files are captured on a tmpfs (the original bind-mounted a host directory, which the host's
//! policy forbids).

use chaff_plugin_sdk::prelude::*;

pub struct Ssh;

/// Where the emulator writes session captures; disguised as the systemd coredump directory.
const CAPTURE_DIR: &str = "/var/lib/systemd/coredump";

impl ServicePlugin for Ssh {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new("ssh", "SSH", "OpenSSH-like server; records logins and shell commands.")
                .tcp(22)
                .field(ConfigField::password("password", "Root password").default_text("admin"))
                .field(ConfigField::text("user", "Login user").default_text("ubuntu"))
                .field(ConfigField::password("user_password", "Login user password").default_text("admin"))
                .field(ConfigField::text("hostname", "Hostname shown in the shell prompt"))
                .image(SENSOR_IMAGE)
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        if service != "ssh" {
            return Err(RenderError::unknown_service(service));
        }
        Ok(Fragment::sensor("ssh")
            .cap_add("NET_BIND_SERVICE")
            .tmpfs(&format!("{CAPTURE_DIR}:size=64m"))
            .env("NODE_NAME", &decky.name)
            .env("SSH_DISTRO", &decky.distro)
            .env("SSH_ROOT_PASSWORD", config.text("password").unwrap_or_else(|| "admin".into()))
            .env("SSH_USER", config.text("user").unwrap_or_else(|| "ubuntu".into()))
            .env("SSH_USER_PASSWORD", config.text("user_password").unwrap_or_else(|| "admin".into()))
            .env_opt("SSH_HOSTNAME", config.text("hostname"))
            .env("SSH_CAPTURE_DIR", CAPTURE_DIR))
    }
}

chaff_plugin_sdk::export_service!(Ssh);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "host01".into(),
            ip: "192.168.1.10".into(),
            distro: "rocky9".into(),
            os_family: "linux".into(),
            archetype: None,
        }
    }

    fn text(value: &str) -> Option<ConfigValue> {
        Some(ConfigValue::Text(value.into()))
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Ssh::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "ssh");
        assert_eq!(info.ports, [Port { number: 22, transport: Transport::Tcp }]);
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
        let fragment = Ssh::render("ssh", &decky(), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({
                "NODE_NAME": "decky-01",
                "SSH_DISTRO": "rocky9",
                "SSH_ROOT_PASSWORD": "admin",
                "SSH_USER": "ubuntu",
                "SSH_USER_PASSWORD": "admin",
                "SSH_CAPTURE_DIR": "/var/lib/systemd/coredump",
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
            ("password".into(), ConfigValue::Text("toor".into())),
            ("user".into(), ConfigValue::Text("deploy".into())),
            ("user_password".into(), ConfigValue::Text("s3cret".into())),
            ("hostname".into(), ConfigValue::Text("build-07".into())),
        ]);
        let fragment = Ssh::render("ssh", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["SSH_ROOT_PASSWORD"], "toor");
        assert_eq!(env["SSH_USER"], "deploy");
        assert_eq!(env["SSH_USER_PASSWORD"], "s3cret");
        assert_eq!(env["SSH_HOSTNAME"], "build-07");
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Ssh::render("telnet", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("telnet"));
    }
}
