//! Mail retrieval: Dovecot-style `imap` and `pop3` servers with a bait mailbox; both record
//! logins and commands.
//!
//! The original's host-path `email_seed` key (extra mail mounted read-only) is gone: plugins
//! may not mount host paths.

use chaff_plugin_sdk::prelude::*;

pub struct Mailbox;

/// What tells the two services apart.
struct Protocol {
    slug: &'static str,
    /// Also the prefix of the emulator's environment variables (`IMAP_DISTRO`).
    name: &'static str,
    /// Plain and TLS port.
    ports: [u16; 2],
}

const PROTOCOLS: [Protocol; 2] = [
    Protocol { slug: "imap", name: "IMAP", ports: [143, 993] },
    Protocol { slug: "pop3", name: "POP3", ports: [110, 995] },
];

impl Protocol {
    fn info(&self) -> ServiceInfo {
        let description =
            format!("Dovecot-style {} server with a bait mailbox; records logins and commands.", self.name);
        ServiceInfo::new(self.slug, self.name, &description)
            .tcp(self.ports[0])
            .tcp(self.ports[1])
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE")
    }

    fn render(&self, decky: &Decky) -> Fragment {
        Fragment::sensor(self.slug)
            .cap_add("NET_BIND_SERVICE")
            .env("NODE_NAME", &decky.name)
            .env(&format!("{}_DISTRO", self.name), &decky.distro)
    }
}

impl ServicePlugin for Mailbox {
    fn catalog() -> Vec<ServiceInfo> {
        PROTOCOLS.iter().map(Protocol::info).collect()
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let protocol = PROTOCOLS
            .iter()
            .find(|p| p.slug == service)
            .ok_or_else(|| RenderError::unknown_service(service))?;
        Ok(protocol.render(decky))
    }
}

chaff_plugin_sdk::export_service!(Mailbox);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let catalog = Mailbox::catalog();
        let slugs: Vec<&str> = catalog.iter().map(|i| i.slug.as_str()).collect();
        assert_eq!(slugs, ["imap", "pop3"]);
        let tcp = |number| Port { number, transport: Transport::Tcp };
        for ((slug, ports), info) in [("imap", [143, 993]), ("pop3", [110, 995])].into_iter().zip(&catalog) {
            assert_eq!(info.slug, slug);
            assert_eq!(info.ports, ports.map(tcp), "{slug}");
            assert!(info.fields.is_empty(), "{slug}");
            assert!(!info.fleet_singleton, "{slug}");
            assert_eq!(info.images, [SENSOR_IMAGE], "{slug}");
            assert_eq!(info.capabilities, &["NET_BIND_SERVICE"], "{slug}");
        }
    }

    #[test]
    fn render_sets_the_reference_env() {
        for (slug, distro_var) in [("imap", "IMAP_DISTRO"), ("pop3", "POP3_DISTRO")] {
            let fragment = Mailbox::render(slug, &decky(), &Config::default()).unwrap();
            let fields = fragment.fields();
            assert_eq!(fields["image"], SENSOR_IMAGE, "{slug}");
            assert_eq!(fields["command"], json!([slug]), "{slug}");
            assert_eq!(
                fields["environment"],
                json!({"NODE_NAME": "decky-01", distro_var: "debian"}),
                "{slug}"
            );
            assert_eq!(fields.get("cap_add"), Some(&json!(["NET_BIND_SERVICE"])), "{slug}");
        }
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Mailbox::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
