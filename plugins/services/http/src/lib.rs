//! `http`: a web server that answers every request and records it (with client fingerprints).
//! It can pose as a known application and speaks HTTP/1.1 and/or cleartext HTTP/2.
//!
//! The original's host-path `files` key (a directory served read-only) is gone: plugins may not
//! mount host paths.

use chaff_plugin_sdk::prelude::*;

pub struct Http;

const FAKE_APPS: &[&str] = &["none", "wordpress", "phpmyadmin", "tomcat", "jenkins"];

impl ServicePlugin for Http {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new("http", "HTTP", "Web server that answers and records every request.")
                .tcp(80)
                .tcp(443)
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
                    ConfigField::multi_choice("http_versions", "HTTP versions", &["http/1.1", "http/2"])
                        .default_choices(&["http/1.1"])
                        .help("http/2 is offered in cleartext (h2c)."),
                )
                .image(SENSOR_IMAGE)
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        if service != "http" {
            return Err(RenderError::unknown_service(service));
        }
        let fragment = Fragment::sensor("http")
            .cap_add("NET_BIND_SERVICE")
            .env("NODE_NAME", &decky.name)
            .env("HTTP_DISTRO", &decky.distro);
        web_env(fragment, config)
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
            distro: "ubuntu22".into(),
            os_family: "linux".into(),
            archetype: None,
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Http::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "http");
        let tcp = |number| Port { number, transport: Transport::Tcp };
        assert_eq!(info.ports, [tcp(80), tcp(443)]);
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
                (
                    "http_versions",
                    FieldKind::MultiChoice,
                    Some(ConfigValue::Choices(vec!["http/1.1".into()])),
                    false
                ),
            ]
        );
        assert_eq!(info.fields[2].choices, FAKE_APPS);
        assert_eq!(info.fields[5].choices, ["http/1.1", "http/2"]);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, ["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_without_config_sets_only_the_persona() {
        let fragment = Http::render("http", &decky(), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({"NODE_NAME": "decky-01", "HTTP_DISTRO": "ubuntu22"})
        );
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]));
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
                "HTTP_DISTRO": "ubuntu22",
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
    fn render_rejects_an_impossible_status() {
        let config = Config::new(vec![("response_code".into(), ConfigValue::Integer(42))]);
        let err = Http::render("http", &decky(), &config).unwrap_err();
        assert!(matches!(err, RenderError::InvalidConfig { field, .. } if field == "response_code"));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Http::render("https", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("https"));
    }
}
