//! Postfix-style ESMTP servers, one emulator in two roles. Every step of the conversation is
//! recorded and whole messages are quarantined on a tmpfs (the original bind-mounted a host
//! directory, which the host's policy forbids).
//!
//! - `smtp` refuses to relay: AUTH fails and foreign recipients are rejected.
//! - `smtp_relay` poses as an open relay: AUTH succeeds, any recipient is accepted and messages
//!   are queued. To convince spammers who test a relay by mailing themselves, up to
//!   `probe_limit` messages can really be delivered through a configured upstream server.
//!   Unlike the original, the `upstream_*` and `probe_limit` fields reach the emulator (the
//!   original declared them but never passed them on).

use chaff_plugin_sdk::prelude::*;

pub struct Smtp;

/// Where the emulator quarantines received messages.
const QUARANTINE_DIR: &str = "/var/spool/mqueue";

impl ServicePlugin for Smtp {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            mail_server(ServiceInfo::new(
                "smtp",
                "SMTP",
                "Mail server that refuses to relay; records and quarantines messages.",
            ))
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
            mail_server(ServiceInfo::new(
                "smtp_relay",
                "SMTP open relay",
                "Mail server posing as an open relay; records and quarantines messages.",
            ))
            .field(
                ConfigField::text("upstream_host", "Upstream SMTP host")
                    .help("Server that really delivers probe messages; none are delivered when empty."),
            )
            .field(ConfigField::integer("upstream_port", "Upstream SMTP port").default_int(25))
            .field(ConfigField::text("upstream_user", "Upstream user"))
            .field(ConfigField::text("upstream_pass", "Upstream password"))
            .field(
                ConfigField::text("upstream_sender", "Upstream envelope sender")
                    .help("MAIL FROM used when delivering through the upstream."),
            )
            .field(
                ConfigField::integer("probe_limit", "Probe deliveries")
                    .default_int(1)
                    .help("How many messages per attacker are really delivered."),
            )
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        match service {
            "smtp" => Ok(mail_server_env(service, decky, config, false)),
            "smtp_relay" => {
                let port = config.integer("upstream_port");
                check(
                    port.is_none_or(|p| (1..=65535).contains(&p)),
                    "upstream_port",
                    "a port is 1 to 65535",
                )?;
                let limit = config.integer("probe_limit");
                check(limit.is_none_or(|l| l >= 0), "probe_limit", "must not be negative")?;
                Ok(mail_server_env(service, decky, config, true)
                    .env_opt("SMTP_UPSTREAM_HOST", config.text("upstream_host"))
                    .env_opt("SMTP_UPSTREAM_PORT", port.map(|p| p.to_string()))
                    .env_opt("SMTP_UPSTREAM_USER", config.text("upstream_user"))
                    .env_opt("SMTP_UPSTREAM_PASS", config.text("upstream_pass"))
                    .env_opt("SMTP_UPSTREAM_SENDER", config.text("upstream_sender"))
                    .env_opt("SMTP_PROBE_LIMIT", limit.map(|l| l.to_string())))
            }
            other => Err(RenderError::unknown_service(other)),
        }
    }
}

/// The ports and fields both services have.
fn mail_server(info: ServiceInfo) -> ServiceInfo {
    info.tcp(25)
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
}

/// The fragment both services start from: the emulator in its role, with the shared fields.
fn mail_server_env(slug: &str, decky: &Decky, config: &Config, open_relay: bool) -> Fragment {
    let fragment = Fragment::sensor(slug)
        .cap_add("NET_BIND_SERVICE")
        .tmpfs(&format!("{QUARANTINE_DIR}:size=64m"))
        .env("NODE_NAME", &decky.name)
        .env("SMTP_DISTRO", &decky.distro);
    let fragment = if open_relay { fragment.env("SMTP_SERVICE_NAME", slug) } else { fragment };
    fragment
        .env("SMTP_OPEN_RELAY", if open_relay { "1" } else { "0" })
        .env("SMTP_QUARANTINE_DIR", QUARANTINE_DIR)
        .env_opt("SMTP_BANNER", config.text("banner"))
        .env_opt("SMTP_MTA", config.text("mta"))
}

fn check(ok: bool, field: &str, message: &str) -> Result<(), RenderError> {
    if ok { Ok(()) } else { Err(RenderError::InvalidConfig { field: field.into(), message: message.into() }) }
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
        let catalog = Smtp::catalog();
        let slugs: Vec<&str> = catalog.iter().map(|i| i.slug.as_str()).collect();
        assert_eq!(slugs, ["smtp", "smtp_relay"]);
        let shared = vec![
            ("banner", FieldKind::Text, None),
            ("mta", FieldKind::Choice, Some(ConfigValue::Text("postfix".into()))),
        ];
        let relay = [
            ("upstream_host", FieldKind::Text, None),
            ("upstream_port", FieldKind::Integer, Some(ConfigValue::Integer(25))),
            ("upstream_user", FieldKind::Text, None),
            ("upstream_pass", FieldKind::Text, None),
            ("upstream_sender", FieldKind::Text, None),
            ("probe_limit", FieldKind::Integer, Some(ConfigValue::Integer(1))),
        ];
        let expected = [shared.clone(), [shared, relay.to_vec()].concat()];
        let tcp = |number| Port { number, transport: Transport::Tcp };
        for (info, expected) in catalog.iter().zip(expected) {
            let slug = &info.slug;
            assert_eq!(info.ports, [tcp(25), tcp(587)], "{slug}");
            let fields: Vec<_> =
                info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone())).collect();
            assert_eq!(fields, expected, "{slug}");
            assert_eq!(info.fields[1].choices, ["postfix", "exim", "sendmail"], "{slug}");
            assert_eq!(info.images, [SENSOR_IMAGE], "{slug}");
            assert_eq!(info.capabilities, ["NET_BIND_SERVICE"], "{slug}");
        }
    }

    #[test]
    fn render_without_config() {
        let cases = [
            (
                "smtp",
                json!({
                    "NODE_NAME": "decky-01",
                    "SMTP_DISTRO": "debian",
                    "SMTP_OPEN_RELAY": "0",
                    "SMTP_QUARANTINE_DIR": "/var/spool/mqueue",
                }),
            ),
            (
                "smtp_relay",
                json!({
                    "NODE_NAME": "decky-01",
                    "SMTP_DISTRO": "debian",
                    "SMTP_SERVICE_NAME": "smtp_relay",
                    "SMTP_OPEN_RELAY": "1",
                    "SMTP_QUARANTINE_DIR": "/var/spool/mqueue",
                }),
            ),
        ];
        for (slug, env) in cases {
            let fragment = Smtp::render(slug, &decky(), &Config::default()).unwrap();
            assert_eq!(fragment.fields()["environment"], env, "{slug}");
            assert_eq!(fragment.fields()["command"], json!([slug]), "{slug}");
            assert_eq!(
                fragment.fields()["tmpfs"],
                json!(["/tmp:size=16m", "/var/spool/mqueue:size=64m"]),
                "{slug}"
            );
            assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]), "{slug}");
            assert!(fragment.fields().get("volumes").is_none(), "{slug}");
        }
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
    fn render_passes_the_upstream_on() {
        let config = Config::new(vec![
            ("mta".into(), ConfigValue::Text("sendmail".into())),
            ("upstream_host".into(), ConfigValue::Text("smtp.relay.example".into())),
            ("upstream_port".into(), ConfigValue::Integer(587)),
            ("upstream_user".into(), ConfigValue::Text("probe".into())),
            ("upstream_pass".into(), ConfigValue::Text("hunter2".into())),
            ("upstream_sender".into(), ConfigValue::Text("bounce@relay.example".into())),
            ("probe_limit".into(), ConfigValue::Integer(3)),
        ]);
        let fragment = Smtp::render("smtp_relay", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["SMTP_MTA"], "sendmail");
        assert_eq!(env["SMTP_UPSTREAM_HOST"], "smtp.relay.example");
        assert_eq!(env["SMTP_UPSTREAM_PORT"], "587");
        assert_eq!(env["SMTP_UPSTREAM_USER"], "probe");
        assert_eq!(env["SMTP_UPSTREAM_PASS"], "hunter2");
        assert_eq!(env["SMTP_UPSTREAM_SENDER"], "bounce@relay.example");
        assert_eq!(env["SMTP_PROBE_LIMIT"], "3");
    }

    #[test]
    fn render_rejects_unusable_numbers() {
        for (key, value) in [("upstream_port", 0), ("upstream_port", 70000), ("probe_limit", -1)] {
            let config = Config::new(vec![(key.into(), ConfigValue::Integer(value))]);
            let err = Smtp::render("smtp_relay", &decky(), &config).unwrap_err();
            assert!(
                matches!(&err, RenderError::InvalidConfig { field, .. } if field == key),
                "{key}={value}"
            );
        }
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Smtp::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
