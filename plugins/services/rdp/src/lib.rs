//! `rdp`: a Remote Desktop endpoint that records the connection request and `mstshash` cookie.
//! With NLA on it upgrades to TLS and captures the NTLMv2 response from CredSSP.

use chaff_plugin_sdk::prelude::*;

pub struct Rdp;

impl ServicePlugin for Rdp {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                "rdp",
                "RDP",
                "Remote Desktop endpoint; records connection cookies and NTLM logins.",
            )
            .tcp(3389)
            .field(
                ConfigField::boolean("nla", "Network Level Authentication")
                    .default_bool(false)
                    .help("Require NLA (CredSSP) and capture the NTLMv2 response of each login."),
            )
            .image(SENSOR_IMAGE),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        let nla = config.boolean("nla").unwrap_or(false);
        Ok(Fragment::for_service(&info, decky)
            .env_opt("RDP_ENABLE_NLA", nla.then_some("true"))
            .env_opt("RDP_HOSTNAME", computer_name(decky)))
    }
}

/// The computer name the host gives in NTLM: the first label of the decky's host name.
fn computer_name(decky: &Decky) -> Option<&str> {
    decky.hostname.split('.').next().filter(|label| !label.is_empty())
}

chaff_plugin_sdk::export_service!(Rdp);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "WS-0042".into(),
            ip: "192.168.1.10".into(),
            distro: "debian".into(),
            os_family: "windows".into(),
            archetype: Some("windows-workstation".into()),
        }
    }

    fn nla(on: bool) -> Config {
        Config::new(vec![("nla".into(), ConfigValue::Boolean(on))])
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Rdp::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "rdp");
        assert_eq!(info.ports, [Port { number: 3389, transport: Transport::Tcp }]);
        let fields: Vec<_> =
            info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone())).collect();
        assert_eq!(fields, [("nla", FieldKind::Boolean, Some(ConfigValue::Boolean(false)))]);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert!(info.capabilities.is_empty());
    }

    #[test]
    fn nla_env_only_when_enabled() {
        for config in [Config::default(), nla(false)] {
            let fragment = Rdp::render("rdp", &decky(), &config).unwrap();
            assert_eq!(
                fragment.fields()["environment"],
                json!({"NODE_NAME": "decky-01", "RDP_HOSTNAME": "WS-0042"})
            );
        }
        let fragment = Rdp::render("rdp", &decky(), &nla(true)).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({"NODE_NAME": "decky-01", "RDP_ENABLE_NLA": "true", "RDP_HOSTNAME": "WS-0042"})
        );
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Rdp::render("vnc", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("vnc"));
    }
}
