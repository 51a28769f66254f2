//! `ssh`: an SSH server that records password and public-key attempts; the configured
//! credentials open a fake shell that records every command.

use chaff_plugin_sdk::prelude::*;

pub struct Ssh;

impl ServicePlugin for Ssh {
    fn catalog() -> Vec<ServiceInfo> {
        vec![
            ServiceInfo::new("ssh", "SSH", "OpenSSH-like server; records logins and shell commands.")
                .tcp(22)
                .field(ConfigField::password("password", "Root password").default_text("admin"))
                .field(ConfigField::text("user", "Login user").default_text("ubuntu"))
                .field(ConfigField::password("user_password", "Login user password").default_text("admin"))
                .field(ConfigField::text("hostname", "Hostname shown in the shell prompt"))
                .image(SENSOR_IMAGE)
                .capability("NET_BIND_SERVICE"),
        ]
    }

    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
        if service != "ssh" {
            return Err(RenderError::unknown_service(service));
        }
        Ok(Fragment::sensor("ssh")
            .cap_add("NET_BIND_SERVICE")
            .env("NODE_NAME", &decky.name)
            .env("SSH_DISTRO", &decky.distro)
            .env("SSH_ROOT_PASSWORD", config.text("password").unwrap_or_else(|| "admin".into()))
            .env("SSH_USER", config.text("user").unwrap_or_else(|| "ubuntu".into()))
            .env("SSH_USER_PASSWORD", config.text("user_password").unwrap_or_else(|| "admin".into()))
            .env_opt("SSH_HOSTNAME", config.text("hostname")))
    }
}

chaff_plugin_sdk::export_service!(Ssh);
