//! `https`: the `http` web server behind TLS, with HTTP/1.1, HTTP/2 and HTTP/3 (QUIC, hence
//! 443/udp). Without a configured certificate the emulator makes a self-signed one for
//! `tls_cn` (or the decky's name).
//!
//! The original's host-path `files` key (a directory served read-only) is gone: plugins may not
//! mount host paths.

use chaff_plugin_sdk::prelude::*;

pub struct Https;

const FAKE_APPS: &[&str] = &["none", "wordpress", "phpmyadmin", "tomcat", "jenkins"];

impl ServicePlugin for Https {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                "https",
                "HTTPS",
                "TLS web server (HTTP/1.1, 2 and 3) that records every request.",
            )
            .tcp(443)
            .udp(443)
            .field(
                ConfigField::text("server_header", "Server header")
                    .help("Sent as `Server:`; a plausible one is picked per decky when empty.")
                    .placeholder("Apache/2.4.57 (Debian)"),
            )
            .field(ConfigField::integer("response_code", "Response status").default_int(200))
            .field(
                ConfigField::choice("fake_app", "Application to imitate", FAKE_APPS)
                    .default_text("none")
                    .help("Serves the login pages and paths of a known application."),
            )
            .field(
                ConfigField::textarea("extra_headers", "Extra headers")
                    .help("A JSON object of header names to values, added to every response."),
            )
            .field(ConfigField::textarea("custom_body", "Custom body").help("Replaces the default page."))
            .field(
                ConfigField::text("tls_cn", "Certificate common name")
                    .help("For the self-signed certificate; defaults to the decky's name."),
            )
            .field(
                ConfigField::textarea("tls_cert", "TLS certificate (PEM)")
                    .secret()
                    .help("Leave empty for a self-signed certificate."),
            )
            .field(ConfigField::textarea("tls_key", "TLS private key (PEM)").secret())
            .field(
                ConfigField::multi_choice(
                    "http_versions",
                    "HTTP versions",
                    &["http/1.1", "http/2", "http/3"],
                )
                .default_choices(&["http/1.1"])
                .help("http/3 answers on 443/udp."),
            )
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        if service != "https" {
            return Err(RenderError::unknown_service(service));
        }
        let fragment = Fragment::sensor("https")
            .cap_add("NET_BIND_SERVICE")
            .env("NODE_NAME", &decky.name)
            .env("HTTP_DISTRO", &decky.distro);
        Ok(web_env(fragment, config)?
            .env_opt("TLS_CERT", config.text("tls_cert"))
            .env_opt("TLS_KEY", config.text("tls_key"))
            .env_opt("TLS_CN", config.text("tls_cn")))
    }
}

/// The env vars the http emulator reads, each set only when its field has a value.
fn web_env(fragment: Fragment, config: &Config) -> Result<Fragment, RenderError> {
    let code = config.integer("response_code");
    if code.is_some_and(|c| !(100..=599).contains(&c)) {
        return Err(RenderError::InvalidConfig {
            field: "response_code".into(),
            message: format!("an HTTP status is 100 to 599, got {}", code.unwrap_or_default()),
        });
    }
    Ok(fragment
        .env_opt("SERVER_HEADER", config.text("server_header"))
        .env_opt("RESPONSE_CODE", code.map(|c| c.to_string()))
        .env_opt("FAKE_APP", config.text("fake_app"))
        .env_opt("EXTRA_HEADERS", config.text("extra_headers"))
        .env_opt("CUSTOM_BODY", config.text("custom_body"))
        .env_opt("HTTP_VERSIONS", config.choices("http_versions").map(|v| serde_json::json!(v).to_string())))
}

chaff_plugin_sdk::export_service!(Https);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "web01".into(),
            ip: "192.168.1.10".into(),
            distro: "debian".into(),
            os_family: "linux".into(),
            archetype: None,
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Https::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "https");
        assert_eq!(
            info.ports,
            [
                Port { number: 443, transport: Transport::Tcp },
                Port { number: 443, transport: Transport::Udp }
            ]
        );
        let fields: Vec<_> =
            info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone(), f.secret)).collect();
        assert_eq!(
            fields,
            [
                ("server_header", FieldKind::Text, None, false),
                ("response_code", FieldKind::Integer, Some(ConfigValue::Integer(200)), false),
                ("fake_app", FieldKind::Choice, Some(ConfigValue::Text("none".into())), false),
                ("extra_headers", FieldKind::Textarea, None, false),
                ("custom_body", FieldKind::Textarea, None, false),
                ("tls_cn", FieldKind::Text, None, false),
                ("tls_cert", FieldKind::Textarea, None, true),
                ("tls_key", FieldKind::Textarea, None, true),
                (
                    "http_versions",
                    FieldKind::MultiChoice,
                    Some(ConfigValue::Choices(vec!["http/1.1".into()])),
                    false
                ),
            ]
        );
        assert_eq!(info.fields[2].choices, FAKE_APPS);
        assert_eq!(info.fields[8].choices, ["http/1.1", "http/2", "http/3"]);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, ["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_with_host_defaults() {
        // What the host passes when nothing was set: the declared defaults.
        let config = Config::new(vec![
            ("response_code".into(), ConfigValue::Integer(200)),
            ("fake_app".into(), ConfigValue::Text("none".into())),
            ("http_versions".into(), ConfigValue::Choices(vec!["http/1.1".into()])),
        ]);
        let fragment = Https::render("https", &decky(), &config).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({
                "NODE_NAME": "decky-01",
                "HTTP_DISTRO": "debian",
                "RESPONSE_CODE": "200",
                "FAKE_APP": "none",
                "HTTP_VERSIONS": r#"["http/1.1"]"#,
            })
        );
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]));
    }

    #[test]
    fn render_with_tls_config() {
        let config = Config::new(vec![
            ("tls_cn".into(), ConfigValue::Text("intranet.corp.local".into())),
            ("tls_cert".into(), ConfigValue::Text("-----BEGIN CERTIFICATE-----\n...".into())),
            ("tls_key".into(), ConfigValue::Text("-----BEGIN PRIVATE KEY-----\n...".into())),
            ("http_versions".into(), ConfigValue::Choices(vec!["http/2".into(), "http/3".into()])),
        ]);
        let fragment = Https::render("https", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["TLS_CN"], "intranet.corp.local");
        assert_eq!(env["TLS_CERT"], "-----BEGIN CERTIFICATE-----\n...");
        assert_eq!(env["TLS_KEY"], "-----BEGIN PRIVATE KEY-----\n...");
        assert_eq!(env["HTTP_VERSIONS"], r#"["http/2","http/3"]"#);
        assert!(env.get("RESPONSE_CODE").is_none());
    }

    #[test]
    fn render_rejects_an_impossible_status() {
        let config = Config::new(vec![("response_code".into(), ConfigValue::Integer(1000))]);
        let err = Https::render("https", &decky(), &config).unwrap_err();
        assert!(matches!(err, RenderError::InvalidConfig { field, .. } if field == "response_code"));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Https::render("http", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("http"));
    }
}
