//! `conpot`: an industrial control system persona (Modbus PLC, SNMP agent, web HMI), shaped by
//! Conpot's `default` template.

use chaff_plugin_sdk::prelude::*;

pub struct Conpot;

const SLUG: &str = "conpot";

impl ServicePlugin for Conpot {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "Conpot (ICS)",
                "Industrial control system persona: Modbus PLC, SNMP agent and web HMI.",
            )
            .tcp(502)
            .udp(161)
            .tcp(80)
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky).env("CONPOT_TEMPLATE", "default"))
    }
}

chaff_plugin_sdk::export_service!(Conpot);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Conpot::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "conpot");
        assert_eq!(
            info.ports,
            [
                Port { number: 502, transport: Transport::Tcp },
                Port { number: 161, transport: Transport::Udp },
                Port { number: 80, transport: Transport::Tcp }
            ]
        );
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Conpot::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01", "CONPOT_TEMPLATE": "default"}));
        assert_eq!(fields.get("cap_add"), Some(&json!(["NET_BIND_SERVICE"])));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Conpot::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
