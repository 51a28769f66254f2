//! `imap`: Dovecot-style IMAP server with a bait mailbox; records logins and commands.
//!
//! The original's host-path `email_seed` key (extra mail mounted read-only) is gone: plugins
//! may not mount host paths.

use chaff_plugin_sdk::prelude::*;

pub struct Imap;

const SLUG: &str = "imap";

impl ServicePlugin for Imap {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "IMAP",
                "Dovecot-style IMAP server with a bait mailbox; records logins and commands.",
            )
            .tcp(143)
            .tcp(993)
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        if service != SLUG {
            return Err(RenderError::unknown_service(service));
        }
        Ok(Fragment::sensor(SLUG)
            .cap_add("NET_BIND_SERVICE")
            .env("NODE_NAME", &decky.name)
            .env("IMAP_DISTRO", &decky.distro))
    }
}

chaff_plugin_sdk::export_service!(Imap);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decky() -> Decky {
        Decky {
            name: "decky-01".into(),
            hostname: "host01".into(),
            ip: "192.168.1.10".into(),
            distro: "debian".into(),
            os_family: "linux".into(),
            archetype: None,
        }
    }

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Imap::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "imap");
        assert_eq!(
            info.ports,
            [
                Port { number: 143, transport: Transport::Tcp },
                Port { number: 993, transport: Transport::Tcp }
            ]
        );
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Imap::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01", "IMAP_DISTRO": "debian"}));
        assert_eq!(fields.get("cap_add"), Some(&json!(["NET_BIND_SERVICE"])));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Imap::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
