//! An example Chaff service plugin: `echo`, the RFC 862 echo service on TCP port 7.
//!
//! A service plugin does two things, both pure (no files, network or clock):
//!
//! 1. `catalog()` describes the services it offers: slug, ports, the settings users may edit,
//!    and everything its fragments may use (images, capabilities). The host reads it once at
//!    load and checks every fragment against it.
//! 2. `render()` turns one service on one decky, with the user's settings, into a Docker
//!    Compose fragment (the `services.<name>` entry). The host validates it against its
//!    policy, then adds naming, networking, labels, logging, resource caps and hardening.
//!
//! Everything here is plain Rust; `export_service!` at the bottom does the WebAssembly part.

use chaff_plugin_sdk::prelude::*;

/// The plugin: a unit struct that implements [`ServicePlugin`].
pub struct Echo;

/// The service's slug: `^[a-z0-9_]{1,32}$`, unique among all loaded services. Users put it in
/// a decky's service list.
const SLUG: &str = "echo";

/// Bounds for `max_line`; anything else is refused at render time.
const MAX_LINE: std::ops::RangeInclusive<i64> = 1..=65_536;

impl ServicePlugin for Echo {
    fn catalog() -> Vec<ServiceInfo> {
        // One plugin may define several services; this one defines one.
        vec![
            ServiceInfo::new(SLUG, "Echo", "RFC 862 echo service; records what clients send.")
                // Every port the service listens on, inside the decky. Ports not declared here
                // cannot be published.
                .tcp(7)
                // Settings users can edit. The host validates and coerces values against these
                // declarations before `render` runs, and fills in defaults, so `render` never
                // sees a wrong type or an undeclared key.
                .field(
                    ConfigField::text("greeting", "Greeting")
                        .help("A line sent when a client connects; nothing when empty.")
                        .placeholder("echo ready"),
                )
                .field(
                    ConfigField::integer("max_line", "Longest line (bytes)")
                        .default_int(1024)
                        .help("Longer lines are cut; 1 to 65536."),
                )
                // Every image a fragment may name. This is Chaff's sensor image, whose
                // emulators are chosen by `command` (see `Fragment::sensor`). A plugin with its
                // own emulator declares its own image instead (see README.md).
                .image(SENSOR_IMAGE)
                // Every capability a fragment may add. Fragments start with all capabilities
                // dropped; binding a port below 1024 needs NET_BIND_SERVICE.
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        // The host only asks for slugs from `catalog()`, but answer anything else cleanly.
        if service != SLUG {
            return Err(RenderError::unknown_service(service));
        }

        // Values arrive already typed. `max_line` has a default, so it is always present when
        // the host calls; the fallback only matters when calling `render` directly.
        let max_line = config.integer("max_line").unwrap_or(1024);
        if !MAX_LINE.contains(&max_line) {
            // A typed error names the field; the user sees it next to that setting.
            return Err(RenderError::InvalidConfig {
                field: "max_line".into(),
                message: format!("must be between 1 and 65536, got {max_line}"),
            });
        }

        // `Fragment::sensor` starts from a locked-down entry: the sensor image running the
        // named emulator, every capability dropped, a read-only root and a small /tmp.
        Ok(Fragment::sensor(SLUG)
            // Declared in the catalog above, so the host's policy accepts it.
            .cap_add("NET_BIND_SERVICE")
            // The decky's name tags every event the emulator logs.
            .env("NODE_NAME", &decky.name)
            .env("ECHO_MAX_LINE", max_line.to_string())
            // Optional settings: set the variable only when the user gave a value.
            .env_opt("ECHO_GREETING", config.text("greeting")))
    }
}

// Exports `Echo` as the plugin's `chaff:plugin/service` interface when built for wasm32; on
// any other target it expands to nothing, so `cargo test` runs the code above natively.
chaff_plugin_sdk::export_service!(Echo);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_declares_port_fields_image_and_capability() {
        let [info] = &Echo::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "echo");
        assert_eq!(info.ports, [Port { number: 7, transport: Transport::Tcp }]);
        let keys: Vec<_> = info.fields.iter().map(|f| (f.key.as_str(), f.kind)).collect();
        assert_eq!(keys, [("greeting", FieldKind::Text), ("max_line", FieldKind::Integer)]);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, ["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_with_settings() {
        let config = Config::new(vec![
            ("greeting".into(), ConfigValue::Text("hello".into())),
            ("max_line".into(), ConfigValue::Integer(80)),
        ]);
        let fragment = Echo::render("echo", &decky(), &config).unwrap();
        assert_eq!(
            fragment.fields()["environment"],
            json!({"NODE_NAME": "decky-01", "ECHO_MAX_LINE": "80", "ECHO_GREETING": "hello"})
        );
        assert_eq!(fragment.fields()["cap_add"], json!(["NET_BIND_SERVICE"]));
    }

    #[test]
    fn render_refuses_bad_settings_and_other_services() {
        let config = Config::new(vec![("max_line".into(), ConfigValue::Integer(0))]);
        let err = Echo::render("echo", &decky(), &config).unwrap_err();
        assert!(matches!(err, RenderError::InvalidConfig { field, .. } if field == "max_line"));
        let err = Echo::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
