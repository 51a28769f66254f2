//! Web servers that answer every request and record it (with client fingerprints). Both can
//! pose as a known application:
//!
//! - `http`: HTTP/1.1 and/or cleartext HTTP/2;
//! - `https`: the same server behind TLS, with HTTP/1.1, HTTP/2 and HTTP/3 (QUIC, hence
//!   443/udp). Without a configured certificate the emulator makes a self-signed one for
//!   `tls_cn` (or the decky's name).
//!
//! The original's host-path `files` key (a directory served read-only) is gone: plugins may not
//! mount host paths.

use chaff_plugin_sdk::prelude::*;

pub struct Http;

const FAKE_APPS: &[&str] = &["none", "wordpress", "phpmyadmin", "tomcat", "jenkins"];

impl ServicePlugin for Http {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            web_service(
                ServiceInfo::new("http", "HTTP", "Web server that answers and records every request.")
                    .tcp(80)
                    .tcp(443),
                Vec::new(),
                &["http/1.1", "http/2"],
                "http/2 is offered in cleartext (h2c).",
            ),
            web_service(
                ServiceInfo::new(
                    "https",
                    "HTTPS",
                    "TLS web server (HTTP/1.1, 2 and 3) that records every request.",
                )
                .tcp(443)
                .udp(443),
                vec![
                    ConfigField::text("tls_cn", "Certificate common name")
                        .help("For the self-signed certificate; defaults to the decky's name."),
                    ConfigField::textarea("tls_cert", "TLS certificate (PEM)")
                        .secret()
                        .help("Leave empty for a self-signed certificate."),
                    ConfigField::textarea("tls_key", "TLS private key (PEM)").secret(),
                ],
                &["http/1.1", "http/2", "http/3"],
                "http/3 answers on 443/udp.",
            ),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        let tls = match service {
            "http" => false,
            "https" => true,
            other => return Err(RenderError::unknown_service(other)),
        };
        let fragment = Fragment::sensor(service)
            .cap_add("NET_BIND_SERVICE")
            .env("NODE_NAME", &decky.name)
            .env("HTTP_DISTRO", &decky.distro);
        let fragment = web_env(fragment, config)?;
        Ok(if tls {
            fragment
                .env_opt("TLS_CERT", config.text("tls_cert"))
                .env_opt("TLS_KEY", config.text("tls_key"))
                .env_opt("TLS_CN", config.text("tls_cn"))
        } else {
            fragment
        })
    }
}

/// Completes a web service's entry: the shared fields with the service's `own_fields` between
/// `custom_body` and `http_versions` (offering `versions`), the image and the capability.
fn web_service(
    info: ServiceInfo,
    own_fields: Vec<ConfigField>,
    versions: &[&str],
    versions_help: &str,
) -> ServiceInfo {
    let mut info = info
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
        .field(ConfigField::textarea("custom_body", "Custom body").help("Replaces the default page."));
    info.fields.extend(own_fields);
    info.field(
        ConfigField::multi_choice("http_versions", "HTTP versions", versions)
            .default_choices(&["http/1.1"])
            .help(versions_help),
    )
    .image(SENSOR_IMAGE)
    .capability("NET_BIND_SERVICE")
}

/// The env vars the http emulator reads, each set only when its field has a value.
fn web_env(fragment: Fragment, config: &Config) -> Result<Fragment, RenderError> {
    let code = config.integer("response_code");
    // 1xx are interim answers, never the final status of a response.
    if code.is_some_and(|c| !(200..=599).contains(&c)) {
        return Err(RenderError::InvalidConfig {
            field: "response_code".into(),
            message: format!("a final HTTP status is 200 to 599, got {}", code.unwrap_or_default()),
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

chaff_plugin_sdk::export_service!(Http);

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

    fn info(slug: &str) -> ServiceInfo {
        Http::catalog().into_iter().find(|i| i.slug == slug).unwrap()
    }

    #[test]
    fn catalog_matches_reference() {
        let slugs: Vec<String> = Http::catalog().into_iter().map(|i| i.slug).collect();
        assert_eq!(slugs, ["http", "https"]);
        let tcp = |number| Port { number, transport: Transport::Tcp };
        assert_eq!(info("http").ports, [tcp(80), tcp(443)]);
        assert_eq!(info("https").ports, [tcp(443), Port { number: 443, transport: Transport::Udp }]);

        let shared = [
            ("server_header", FieldKind::Text, None, false),
            ("response_code", FieldKind::Integer, Some(ConfigValue::Integer(200)), false),
            ("fake_app", FieldKind::Choice, Some(ConfigValue::Text("none".into())), false),
            ("extra_headers", FieldKind::Textarea, None, false),
            ("custom_body", FieldKind::Textarea, None, false),
        ];
        let tls = [
            ("tls_cn", FieldKind::Text, None, false),
            ("tls_cert", FieldKind::Textarea, None, true),
            ("tls_key", FieldKind::Textarea, None, true),
        ];
        let versions = (
            "http_versions",
            FieldKind::MultiChoice,
            Some(ConfigValue::Choices(vec!["http/1.1".into()])),
            false,
        );
        let cases = [
            ("http", [&shared[..], std::slice::from_ref(&versions)].concat(), &["http/1.1", "http/2"][..]),
            ("https", [&shared[..], &tls[..], &[versions]].concat(), &["http/1.1", "http/2", "http/3"][..]),
        ];
        for (slug, expected, version_choices) in cases {
            let info = info(slug);
            let fields: Vec<_> =
                info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone(), f.secret)).collect();
            assert_eq!(fields, expected, "{slug}");
            assert_eq!(info.fields[2].choices, FAKE_APPS, "{slug}");
            assert_eq!(info.fields.last().unwrap().choices, version_choices, "{slug}");
            assert_eq!(info.images, [SENSOR_IMAGE], "{slug}");
            assert_eq!(info.capabilities, ["NET_BIND_SERVICE"], "{slug}");
        }
    }

    #[test]
    fn render_without_config_sets_only_the_persona() {
        for slug in ["http", "https"] {
            let fragment = Http::render(slug, &decky(), &Config::default()).unwrap();
            assert_eq!(
                fragment.fields()["environment"],
                json!({"NODE_NAME": "decky-01", "HTTP_DISTRO": "debian"}),
                "{slug}"
            );
            assert_eq!(fragment.fields()["command"], json!([slug]));
            assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]), "{slug}");
        }
    }

    #[test]
    fn render_with_host_defaults() {
        for slug in ["http", "https"] {
            // What the host passes when nothing was set: the declared defaults.
            let config = Config::new(vec![
                ("response_code".into(), ConfigValue::Integer(200)),
                ("fake_app".into(), ConfigValue::Text("none".into())),
                ("http_versions".into(), ConfigValue::Choices(vec!["http/1.1".into()])),
            ]);
            let fragment = Http::render(slug, &decky(), &config).unwrap();
            assert_eq!(
                fragment.fields()["environment"],
                json!({
                    "NODE_NAME": "decky-01",
                    "HTTP_DISTRO": "debian",
                    "RESPONSE_CODE": "200",
                    "FAKE_APP": "none",
                    "HTTP_VERSIONS": r#"["http/1.1"]"#,
                }),
                "{slug}"
            );
            assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]), "{slug}");
        }
    }

    #[test]
    fn render_with_config() {
        let config = Config::new(vec![
            ("server_header".into(), ConfigValue::Text("nginx/1.18.0".into())),
            ("response_code".into(), ConfigValue::Integer(401)),
            ("fake_app".into(), ConfigValue::Text("jenkins".into())),
            ("extra_headers".into(), ConfigValue::Text(r#"{"X-Powered-By": "PHP/7.4"}"#.into())),
            ("custom_body".into(), ConfigValue::Text("<h1>hi</h1>".into())),
            ("http_versions".into(), ConfigValue::Choices(vec!["http/1.1".into(), "http/2".into()])),
        ]);
        let fragment = Http::render("http", &decky(), &config).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({
                "NODE_NAME": "decky-01",
                "HTTP_DISTRO": "debian",
                "SERVER_HEADER": "nginx/1.18.0",
                "RESPONSE_CODE": "401",
                "FAKE_APP": "jenkins",
                "EXTRA_HEADERS": r#"{"X-Powered-By": "PHP/7.4"}"#,
                "CUSTOM_BODY": "<h1>hi</h1>",
                "HTTP_VERSIONS": r#"["http/1.1","http/2"]"#,
            })
        );
    }

    #[test]
    fn render_with_tls_config() {
        let config = Config::new(vec![
            ("tls_cn".into(), ConfigValue::Text("intranet.corp.local".into())),
            ("tls_cert".into(), ConfigValue::Text("-----BEGIN CERTIFICATE-----\n...".into())),
            ("tls_key".into(), ConfigValue::Text("-----BEGIN PRIVATE KEY-----\n...".into())),
            ("http_versions".into(), ConfigValue::Choices(vec!["http/2".into(), "http/3".into()])),
        ]);
        let fragment = Http::render("https", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["TLS_CN"], "intranet.corp.local");
        assert_eq!(env["TLS_CERT"], "-----BEGIN CERTIFICATE-----\n...");
        assert_eq!(env["TLS_KEY"], "-----BEGIN PRIVATE KEY-----\n...");
        assert_eq!(env["HTTP_VERSIONS"], r#"["http/2","http/3"]"#);
        assert!(env.get("RESPONSE_CODE").is_none());
    }

    #[test]
    fn render_rejects_an_impossible_status() {
        for slug in ["http", "https"] {
            for code in [42, 101, 199, 1000] {
                let config = Config::new(vec![("response_code".into(), ConfigValue::Integer(code))]);
                let err = Http::render(slug, &decky(), &config).unwrap_err();
                assert!(
                    matches!(err, RenderError::InvalidConfig { field, .. } if field == "response_code"),
                    "{slug}: {code}"
                );
            }
        }
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Http::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
