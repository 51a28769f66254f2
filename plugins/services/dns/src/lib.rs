//! `dns`: a BIND 9 look-alike on 53/tcp and 53/udp. Authoritative for a zone derived from the
//! decky (or `domain`), refuses zone transfers, and in recursive/open mode sinkholes or forwards
//! within a rate budget; flags amplification, tunnelling and floods.

use chaff_plugin_sdk::prelude::*;

pub struct Dns;

const BIND_VERSION: &str = "9.11.4-P2-RedHat-9.11.4-26.P2.el7_9.10";

/// (field, env var, default) for every text-like field. The emulator gets all of them, always.
const TEXT_ENV: &[(&str, &str, &str)] = &[
    ("zone_mode", "DNS_ZONE_MODE", "auth"),
    ("domain", "DNS_DOMAIN", ""),
    ("bind_version", "DNS_BIND_VERSION", BIND_VERSION),
    ("nsid", "DNS_NSID", ""),
    ("extra_records", "DNS_EXTRA_RECORDS", ""),
    ("upstream", "DNS_UPSTREAM", "8.8.8.8:53"),
    ("forward_budget", "DNS_FORWARD_BUDGET", "50"),
    ("forward_window", "DNS_FORWARD_WINDOW", "1.0"),
    ("state_path", "DNS_STATE_PATH", ""),
];

impl ServicePlugin for Dns {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                "dns",
                "DNS",
                "BIND-like DNS server; records queries, zone transfers and abuse.",
            )
            .tcp(53)
            .udp(53)
            .field(
                ConfigField::choice("zone_mode", "Mode", &["auth", "recursive", "open"])
                    .default_text("auth")
                    .help("auth answers only its zone; recursive and open also resolve other names."),
            )
            .field(
                ConfigField::text("domain", "Zone")
                    .default_text("")
                    .help("Derived from the decky's name when empty.")
                    .placeholder("corp.example.com"),
            )
            .field(
                ConfigField::text("bind_version", "version.bind answer")
                    .default_text(BIND_VERSION)
                    .help("What a CHAOS TXT version.bind query returns."),
            )
            .field(ConfigField::text("nsid", "NSID").default_text("").help("EDNS name server identifier."))
            .field(
                ConfigField::textarea("extra_records", "Extra records")
                    .default_text("")
                    .help("Zone-file lines added to the zone, one record per line."),
            )
            .field(
                ConfigField::boolean("real_recursive", "Really forward")
                    .default_bool(false)
                    .help("In recursive mode, forward to the upstream instead of sinkholing."),
            )
            .field(ConfigField::text("upstream", "Upstream resolver").default_text("8.8.8.8:53"))
            .field(
                ConfigField::text("forward_budget", "Forward budget")
                    .default_text("50")
                    .help("Most queries forwarded per window."),
            )
            .field(
                ConfigField::text("forward_window", "Forward window (s)")
                    .default_text("1.0")
                    .help("Length of the forwarding window in seconds."),
            )
            .field(
                ConfigField::text("state_path", "State file")
                    .default_text("")
                    .help("Where the emulator keeps its tracking state; in memory when empty."),
            )
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        let mut fragment = Fragment::for_service(&info, decky);
        for (key, env, default) in TEXT_ENV {
            fragment = fragment.env(env, config.text(key).unwrap_or_else(|| (*default).to_owned()));
        }
        let recursive = config.boolean("real_recursive").unwrap_or(false);
        Ok(fragment.env("DNS_REAL_RECURSIVE", if recursive { "true" } else { "false" }))
    }
}

chaff_plugin_sdk::export_service!(Dns);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "ns1".into(),
            ip: "192.168.1.10".into(),
            distro: "rocky9".into(),
            os_family: "linux".into(),
            archetype: None,
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Dns::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "dns");
        assert_eq!(
            info.ports,
            [Port { number: 53, transport: Transport::Tcp }, Port { number: 53, transport: Transport::Udp }]
        );
        let text = |s: &str| Some(ConfigValue::Text(s.into()));
        let fields: Vec<_> =
            info.fields.iter().map(|f| (f.key.as_str(), f.kind, f.default.clone())).collect();
        assert_eq!(
            fields,
            [
                ("zone_mode", FieldKind::Choice, text("auth")),
                ("domain", FieldKind::Text, text("")),
                ("bind_version", FieldKind::Text, text("9.11.4-P2-RedHat-9.11.4-26.P2.el7_9.10")),
                ("nsid", FieldKind::Text, text("")),
                ("extra_records", FieldKind::Textarea, text("")),
                ("real_recursive", FieldKind::Boolean, Some(ConfigValue::Boolean(false))),
                ("upstream", FieldKind::Text, text("8.8.8.8:53")),
                ("forward_budget", FieldKind::Text, text("50")),
                ("forward_window", FieldKind::Text, text("1.0")),
                ("state_path", FieldKind::Text, text("")),
            ]
        );
        assert_eq!(info.fields[0].choices, ["auth", "recursive", "open"]);
        assert!(info.fields.iter().all(|f| !f.secret));
        assert_eq!(info.capabilities, ["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_always_sets_every_dns_var() {
        let fragment = Dns::render("dns", &decky(), &Config::default()).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({
                "NODE_NAME": "decky-01",
                "DNS_ZONE_MODE": "auth",
                "DNS_DOMAIN": "",
                "DNS_BIND_VERSION": "9.11.4-P2-RedHat-9.11.4-26.P2.el7_9.10",
                "DNS_NSID": "",
                "DNS_EXTRA_RECORDS": "",
                "DNS_UPSTREAM": "8.8.8.8:53",
                "DNS_FORWARD_BUDGET": "50",
                "DNS_FORWARD_WINDOW": "1.0",
                "DNS_STATE_PATH": "",
                "DNS_REAL_RECURSIVE": "false",
            })
        );
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]));
    }

    #[test]
    fn render_with_config() {
        let config = Config::new(vec![
            ("zone_mode".into(), ConfigValue::Text("recursive".into())),
            ("domain".into(), ConfigValue::Text("corp.example.com".into())),
            ("extra_records".into(), ConfigValue::Text("vpn IN A 10.0.0.5\nmail IN A 10.0.0.6".into())),
            ("real_recursive".into(), ConfigValue::Boolean(true)),
            ("forward_budget".into(), ConfigValue::Text("10".into())),
        ]);
        let fragment = Dns::render("dns", &decky(), &config).unwrap();
        let env = &fragment.fields()["environment"];
        assert_eq!(env["DNS_ZONE_MODE"], "recursive");
        assert_eq!(env["DNS_DOMAIN"], "corp.example.com");
        assert_eq!(env["DNS_EXTRA_RECORDS"], "vpn IN A 10.0.0.5\nmail IN A 10.0.0.6");
        assert_eq!(env["DNS_REAL_RECURSIVE"], "true");
        assert_eq!(env["DNS_FORWARD_BUDGET"], "10");
        assert_eq!(env["DNS_UPSTREAM"], "8.8.8.8:53");
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Dns::render("llmnr", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("llmnr"));
    }
}
