//! Login shells, one emulator per protocol with the same fields and environment:
//!
//! - `ssh`: an SSH server that records password and public-key attempts;
//! - `telnet`: a busybox-style telnet login that records credentials.
//!
//! The configured credentials open a fake shell that records every command. Session
//! transcripts and dropped files are captured on a tmpfs (the original bind-mounted a host
//! directory, which the host's policy forbids).

use chaff_plugin_sdk::prelude::*;

pub struct Shell;

/// Where the emulators write session captures; disguised as the systemd coredump directory.
const CAPTURE_DIR: &str = "/var/lib/systemd/coredump";

/// What tells the two services apart.
struct Protocol {
    slug: &'static str,
    display_name: &'static str,
    description: &'static str,
    port: u16,
    /// Prefix of the emulator's environment variables (`SSH_USER`, `TELNET_USER`, ...).
    env_prefix: &'static str,
}

const PROTOCOLS: [Protocol; 2] = [
    Protocol {
        slug: "ssh",
        display_name: "SSH",
        description: "OpenSSH-like server; records logins and shell commands.",
        port: 22,
        env_prefix: "SSH",
    },
    Protocol {
        slug: "telnet",
        display_name: "Telnet",
        description: "Telnet login; records credentials and shell commands.",
        port: 23,
        env_prefix: "TELNET",
    },
];

impl Protocol {
    fn info(&self) -> ServiceInfo {
        ServiceInfo::new(self.slug, self.display_name, self.description)
            .tcp(self.port)
            .field(ConfigField::password("password", "Root password").default_text("admin"))
            .field(ConfigField::text("user", "Login user").default_text("ubuntu"))
            .field(ConfigField::password("user_password", "Login user password").default_text("admin"))
            .field(ConfigField::text("hostname", "Hostname shown in the shell prompt"))
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE")
    }

    fn render(&self, decky: &Decky, config: &Config) -> Fragment {
        let var = |name: &str| format!("{}_{name}", self.env_prefix);
        Fragment::sensor(self.slug)
            .cap_add("NET_BIND_SERVICE")
            .tmpfs(&format!("{CAPTURE_DIR}:size=64m"))
            .env("NODE_NAME", &decky.name)
            .env(&var("DISTRO"), &decky.distro)
            .env(&var("ROOT_PASSWORD"), config.text("password").unwrap_or_else(|| "admin".into()))
            .env(&var("USER"), config.text("user").unwrap_or_else(|| "ubuntu".into()))
            .env(&var("USER_PASSWORD"), config.text("user_password").unwrap_or_else(|| "admin".into()))
            .env_opt(&var("HOSTNAME"), config.text("hostname"))
            .env(&var("CAPTURE_DIR"), CAPTURE_DIR)
    }
}

impl ServicePlugin for Shell {
    fn catalog() -> Vec<ServiceInfo> {
        PROTOCOLS.iter().map(Protocol::info).collect()
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        let protocol = PROTOCOLS
            .iter()
            .find(|p| p.slug == service)
            .ok_or_else(|| RenderError::unknown_service(service))?;
        Ok(protocol.render(decky, config))
    }
}

chaff_plugin_sdk::export_service!(Shell);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// (slug, port, env prefix) of each service.
    const SERVICES: [(&str, u16, &str); 2] = [("ssh", 22, "SSH"), ("telnet", 23, "TELNET")];

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
        let catalog = Shell::catalog();
        let slugs: Vec<&str> = catalog.iter().map(|i| i.slug.as_str()).collect();
        assert_eq!(slugs, ["ssh", "telnet"]);
        for ((slug, port, _), info) in SERVICES.into_iter().zip(&catalog) {
            assert_eq!(info.slug, slug);
            assert_eq!(info.ports, [Port { number: port, transport: Transport::Tcp }], "{slug}");
            let fields: Vec<_> =
                info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone(), f.secret)).collect();
            assert_eq!(
                fields,
                [
                    ("password", FieldKind::Password, text("admin"), true),
                    ("user", FieldKind::Text, text("ubuntu"), false),
                    ("user_password", FieldKind::Password, text("admin"), true),
                    ("hostname", FieldKind::Text, None, false),
                ],
                "{slug}"
            );
            assert_eq!(info.images, [SENSOR_IMAGE], "{slug}");
            assert_eq!(info.capabilities, ["NET_BIND_SERVICE"], "{slug}");
        }
    }

    #[test]
    fn render_with_defaults() {
        for (slug, _, prefix) in SERVICES {
            let fragment = Shell::render(slug, &decky(), &Config::default()).unwrap();
            let mut env = serde_json::Map::new();
            env.insert("NODE_NAME".into(), json!("decky-01"));
            for (name, value) in [
                ("DISTRO", "rocky9"),
                ("ROOT_PASSWORD", "admin"),
                ("USER", "ubuntu"),
                ("USER_PASSWORD", "admin"),
                ("CAPTURE_DIR", "/var/lib/systemd/coredump"),
            ] {
                env.insert(format!("{prefix}_{name}"), json!(value));
            }
            assert_eq!(fragment.fields()["environment"], json!(env), "{slug}");
            assert_eq!(fragment.fields()["command"], json!([slug]));
            assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]), "{slug}");
            assert_eq!(
                fragment.fields()["tmpfs"],
                json!(["/tmp:size=16m", "/var/lib/systemd/coredump:size=64m"]),
                "{slug}"
            );
            assert!(fragment.fields().get("volumes").is_none(), "{slug}");
        }
    }

    #[test]
    fn render_with_config() {
        let cases = [
            ("ssh", "SSH", ["toor", "deploy", "s3cret", "build-07"]),
            ("telnet", "TELNET", ["12345", "support", "support", "ipcam"]),
        ];
        for (slug, prefix, [password, user, user_password, hostname]) in cases {
            let config = Config::new(vec![
                ("password".into(), ConfigValue::Text(password.into())),
                ("user".into(), ConfigValue::Text(user.into())),
                ("user_password".into(), ConfigValue::Text(user_password.into())),
                ("hostname".into(), ConfigValue::Text(hostname.into())),
            ]);
            let fragment = Shell::render(slug, &decky(), &config).unwrap();
            let env = &fragment.fields()["environment"];
            assert_eq!(env[format!("{prefix}_ROOT_PASSWORD")], password, "{slug}");
            assert_eq!(env[format!("{prefix}_USER")], user, "{slug}");
            assert_eq!(env[format!("{prefix}_USER_PASSWORD")], user_password, "{slug}");
            assert_eq!(env[format!("{prefix}_HOSTNAME")], hostname, "{slug}");
        }
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Shell::render("ftp", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ftp"));
    }
}
