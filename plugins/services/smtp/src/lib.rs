//! `smtp`: a Postfix-style ESMTP server that refuses to relay: AUTH fails and foreign
//! recipients are rejected, but every step of the conversation is recorded and whole messages
//! are quarantined on a tmpfs (the original bind-mounted a host directory, which the host's
//! policy forbids).

use chaff_plugin_sdk::prelude::*;

pub struct Smtp;

/// Where the emulator quarantines received messages.
const QUARANTINE_DIR: &str = "/var/spool/mqueue";

impl ServicePlugin for Smtp {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                "smtp",
                "SMTP",
                "Mail server that refuses to relay; records and quarantines messages.",
            )
            .tcp(25)
            .tcp(587)
            .field(
                ConfigField::text("banner", "Greeting banner")
                    .help("The 220 greeting; an MTA-style one naming the decky when empty.")
                    .placeholder("220 mail.example.com ESMTP Postfix (Debian/GNU)"),
            )
            .field(
                ConfigField::choice("mta", "Mail server to imitate", &["postfix", "exim", "sendmail"])
                    .default_text("postfix"),
            )
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        if service != "smtp" {
            return Err(RenderError::unknown_service(service));
        }
        Ok(Fragment::sensor("smtp")
            .cap_add("NET_BIND_SERVICE")
            .tmpfs(&format!("{QUARANTINE_DIR}:size=64m"))
            .env("NODE_NAME", &decky.name)
            .env("SMTP_DISTRO", &decky.distro)
            .env("SMTP_OPEN_RELAY", "0")
            .env("SMTP_QUARANTINE_DIR", QUARANTINE_DIR)
            .env_opt("SMTP_BANNER", config.text("banner"))
            .env_opt("SMTP_MTA", config.text("mta")))
    }
}

chaff_plugin_sdk::export_service!(Smtp);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "mail01".into(),
            ip: "192.168.1.10".into(),
            distro: "debian".into(),
            os_family: "linux".into(),
            archetype: Some("mail-server".into()),
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Smtp::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "smtp");
        let tcp = |number| Port { number, transport: Transport::Tcp };
        assert_eq!(info.ports, [tcp(25), tcp(587)]);
        let fields: Vec<_> =
            info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone())).collect();
        assert_eq!(
            fields,
            [
                ("banner", FieldKind::Text, None),
                ("mta", FieldKind::Choice, Some(ConfigValue::Text("postfix".into())))
            ]
        );
        assert_eq!(info.fields[1].choices, ["postfix", "exim", "sendmail"]);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, ["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_without_config() {
        let fragment = Smtp::render("smtp", &decky(), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({
                "NODE_NAME": "decky-01",
                "SMTP_DISTRO": "debian",
                "SMTP_OPEN_RELAY": "0",
                "SMTP_QUARANTINE_DIR": "/var/spool/mqueue",
            })
        );
        assert_eq!(fragment.fields()["tmpfs"], json!(["/tmp:size=16m", "/var/spool/mqueue:size=64m"]));
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]));
        assert!(fragment.fields().get("volumes").is_none());
    }

    #[test]
    fn render_with_config() {
        let config = Config::new(vec![
            ("banner".into(), ConfigValue::Text("220 mx.corp.local ESMTP Exim 4.96".into())),
            ("mta".into(), ConfigValue::Text("exim".into())),
        ]);
        let fragment = Smtp::render("smtp", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["SMTP_BANNER"], "220 mx.corp.local ESMTP Exim 4.96");
        assert_eq!(env["SMTP_MTA"], "exim");
        assert_eq!(env["SMTP_OPEN_RELAY"], "0");
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Smtp::render("smtp_relay", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("smtp_relay"));
    }
}
