//! `smb`: Windows file sharing (SMB2); captures NTLMv2 authentication attempts.

use chaff_plugin_sdk::prelude::*;

pub struct Smb;

const SLUG: &str = "smb";

impl ServicePlugin for Smb {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "SMB",
                "Windows file sharing (SMB2); captures NTLMv2 authentication attempts.",
            )
            .tcp(445)
            .tcp(139)
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky).env_opt("SMB_HOSTNAME", computer_name(decky)))
    }
}

/// The computer name the host gives in NTLM: the first label of the decky's host name.
fn computer_name(decky: &Decky) -> Option<&str> {
    decky.hostname.split('.').next().filter(|label| !label.is_empty())
}

chaff_plugin_sdk::export_service!(Smb);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Smb::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "smb");
        assert_eq!(
            info.ports,
            [
                Port { number: 445, transport: Transport::Tcp },
                Port { number: 139, transport: Transport::Tcp }
            ]
        );
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Smb::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01", "SMB_HOSTNAME": "host01"}));
        assert_eq!(fields.get("cap_add"), Some(&json!(["NET_BIND_SERVICE"])));
    }

    #[test]
    fn the_computer_name_is_the_first_label_of_the_host_name() {
        let mut rhel = decky();
        rhel.hostname = "files12.localdomain".into();
        let fragment = Smb::render(SLUG, &rhel, &Config::default()).unwrap();
        assert_eq!(fragment.fields()["environment"]["SMB_HOSTNAME"], "files12");
        rhel.hostname = String::new();
        let fragment = Smb::render(SLUG, &rhel, &Config::default()).unwrap();
        assert_eq!(fragment.fields()["environment"], json!({"NODE_NAME": "decky-01"}));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Smb::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
