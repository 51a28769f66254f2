//! `ftp`: FTP server that accepts logins and records commands and download attempts.

use chaff_plugin_sdk::prelude::*;

pub struct Ftp;

const SLUG: &str = "ftp";

impl ServicePlugin for Ftp {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new(
                SLUG,
                "FTP",
                "FTP server that accepts logins and records commands and download attempts.",
            )
            .tcp(21)
            .image(SENSOR_IMAGE)
            .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, _config: &Config) -> Result<Fragment, RenderError> {
        let info = Self::declared(service)?;
        Ok(Fragment::for_service(&info, decky).env("FTP_DISTRO", &decky.distro))
    }
}

chaff_plugin_sdk::export_service!(Ftp);

#[cfg(test)]
mod tests {
    use super::*;
    use chaff_plugin_sdk::testing::decky;
    use serde_json::json;

    #[test]
    fn catalog_matches_reference() {
        let [info] = &Ftp::catalog()[..] else { panic!("exactly one service") };
        assert_eq!(info.slug, "ftp");
        assert_eq!(info.ports, [Port { number: 21, transport: Transport::Tcp }]);
        assert!(info.fields.is_empty());
        assert!(!info.fleet_singleton);
        assert_eq!(info.images, [SENSOR_IMAGE]);
        assert_eq!(info.capabilities, &["NET_BIND_SERVICE"]);
    }

    #[test]
    fn render_sets_the_reference_env() {
        let fragment = Ftp::render(SLUG, &decky(), &Config::default()).unwrap();
        let fields = fragment.fields();
        assert_eq!(fields["image"], SENSOR_IMAGE);
        assert_eq!(fields["command"], json!([SLUG]));
        assert_eq!(fields["environment"], json!({"NODE_NAME": "decky-01", "FTP_DISTRO": "debian"}));
        assert_eq!(fields.get("cap_add"), Some(&json!(["NET_BIND_SERVICE"])));
    }

    #[test]
    fn render_refuses_other_services() {
        let err = Ftp::render("ssh", &decky(), &Config::default()).unwrap_err();
        assert_eq!(err, RenderError::unknown_service("ssh"));
    }
}
