//! A small catalogue of services shaped like the built-in ones, and a fake plugin host that
//! renders sensor-style fragments, for fast tests of the engine alone. The end-to-end tests
//! in `tests/` (workspace root) use the real plugins.
#![allow(dead_code)]

use chaff_engine::catalogue::{Catalogue, ServicePlugins};
use chaff_plugin_host::spec::{
    ConfigField, ConfigValue, DeckyContext, FieldKind, Port, ServiceConfig, ServiceSpec, Transport,
};
use serde_json::{Map, Value, json};

pub const SENSOR_IMAGE: &str = "chaff-sensor:0.1";

fn field(key: &str, kind: FieldKind, default: Option<ConfigValue>, choices: &[&str]) -> ConfigField {
    ConfigField {
        key: key.into(),
        label: key.into(),
        kind,
        default,
        help: None,
        choices: choices.iter().map(|c| c.to_string()).collect(),
        placeholder: None,
        secret: false,
    }
}

fn service(slug: &str, ports: &[u16], fields: Vec<ConfigField>) -> ServiceSpec {
    ServiceSpec {
        slug: slug.into(),
        display_name: slug.to_uppercase(),
        description: format!("{slug} honeypot"),
        ports: ports.iter().map(|&number| Port { number, transport: Transport::Tcp }).collect(),
        fleet_singleton: false,
        fields,
        images: vec![SENSOR_IMAGE.into()],
        capabilities: vec!["NET_BIND_SERVICE".into()],
        read_only_root: true,
    }
}

/// ssh, http, rdp and smtp with fields; the rest of the archetype services without; a
/// fleet-singleton sniffer.
pub fn specs() -> Vec<ServiceSpec> {
    let text = |s: &str| Some(ConfigValue::Text(s.into()));
    let mut specs = vec![
        service(
            "ssh",
            &[22],
            vec![
                field("password", FieldKind::Password, text("admin"), &[]),
                field("user", FieldKind::Text, text("ubuntu"), &[]),
                field("hostname", FieldKind::Text, None, &[]),
            ],
        ),
        service(
            "http",
            &[80, 443],
            vec![
                field("server_header", FieldKind::Text, None, &[]),
                field("response_code", FieldKind::Integer, Some(ConfigValue::Integer(200)), &[]),
                field("fake_app", FieldKind::Choice, text("none"), &["none", "wordpress", "jenkins"]),
                field("custom_body", FieldKind::Textarea, None, &[]),
                field(
                    "http_versions",
                    FieldKind::MultiChoice,
                    Some(ConfigValue::Choices(vec!["http/1.1".into()])),
                    &["http/1.1", "http/2"],
                ),
            ],
        ),
        service(
            "rdp",
            &[3389],
            vec![field("nla", FieldKind::Boolean, Some(ConfigValue::Boolean(false)), &[])],
        ),
        service(
            "smtp",
            &[25, 587],
            vec![field("mta", FieldKind::Choice, text("postfix"), &["postfix", "exim", "sendmail"])],
        ),
    ];
    for (slug, port) in [
        ("ftp", 21),
        ("smb", 445),
        ("ldap", 389),
        ("llmnr", 5355),
        ("mysql", 3306),
        ("postgres", 5432),
        ("redis", 6379),
        ("pop3", 110),
        ("imap", 143),
        ("snmp", 161),
        ("mqtt", 1883),
        ("telnet", 23),
        ("conpot", 502),
        ("sip", 5060),
        ("docker_api", 2375),
        ("k8s", 6443),
    ] {
        specs.push(service(slug, &[port], vec![]));
    }
    let mut sniffer = service("sniffer", &[], vec![]);
    sniffer.fleet_singleton = true;
    specs.push(sniffer);
    specs
}

pub fn catalogue() -> Catalogue {
    Catalogue::new(specs())
}

/// Renders what a built-in sensor plugin would: the sensor image running the service's
/// emulator, with its configuration as environment variables.
pub struct FakePlugins {
    pub specs: Vec<ServiceSpec>,
}

impl FakePlugins {
    pub fn new() -> Self {
        Self { specs: specs() }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("fake plugin: {0}")]
pub struct FakeError(String);

impl ServicePlugins for FakePlugins {
    type Error = FakeError;

    fn service_specs(&self) -> Vec<ServiceSpec> {
        self.specs.clone()
    }

    fn render_fragment(
        &self,
        slug: &str,
        decky: &DeckyContext,
        config: &ServiceConfig,
    ) -> Result<Map<String, Value>, FakeError> {
        let spec = self.specs.iter().find(|s| s.slug == slug).ok_or_else(|| FakeError(slug.into()))?;
        let mut environment = Map::new();
        environment.insert("SENSOR_DISTRO".into(), json!(decky.distro));
        for (key, value) in &config.0 {
            environment
                .insert(format!("{}_{}", slug.to_uppercase(), key.to_uppercase()), json!(value.to_text()));
        }
        let mut fragment = json!({
            "image": SENSOR_IMAGE,
            "command": [slug],
            "environment": environment,
            "cap_drop": ["ALL"],
            "read_only": true,
            "tmpfs": ["/tmp:size=16m"],
        });
        if !spec.capabilities.is_empty() && spec.ports.iter().any(|p| p.number < 1024) {
            fragment["cap_add"] = json!(["NET_BIND_SERVICE"]);
        }
        chaff_plugin_host::check_fragment(spec, &fragment).map_err(|e| FakeError(e.to_string()))
    }
}
