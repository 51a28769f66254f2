//! `conpot`: an industrial controller as Conpot's `default` template presents one, a Siemens
//! SIMATIC S7-200 CPU, on three ports:
//!
//! * 502/tcp, Modbus TCP ([`modbus`]): the PLC's coils, inputs and registers, and its device
//!   identification;
//! * 161/udp, the [`super::snmp`] agent with the `industrial-control` persona (sysDescr
//!   `Siemens, SIMATIC, S7-200`);
//! * 80/tcp, the [`super::http`] server answering the controller's overview page at `/` and
//!   `/index.html`, with an embedded web server's banner.
//!
//! `CONPOT_TEMPLATE` names the template; only `default` is emulated, and any other value stops
//! the sensor naming the variable (a decky claiming one device and showing another would be
//! worse than none).

pub mod modbus;

use super::http::{Http, Scheme};
use super::snmp::Snmp;
use crate::env::{ConfigError, Env};

pub const TEMPLATE_ENV: &str = "CONPOT_TEMPLATE";

/// The only template emulated, and the one used when `CONPOT_TEMPLATE` is unset.
const DEFAULT_TEMPLATE: &str = "default";

/// The SNMP persona of the controller (see `snmp`'s personas).
const SNMP_ARCHETYPE: &str = "industrial-control";

/// The web server's banner: Boa, the small server of many embedded devices.
const WEB_SERVER: &str = "Boa/0.94.14rc21";

/// Checks `CONPOT_TEMPLATE`.
pub fn check_template(env: &Env) -> Result<(), ConfigError> {
    match env.get_or(TEMPLATE_ENV, DEFAULT_TEMPLATE) {
        DEFAULT_TEMPLATE => Ok(()),
        other => Err(ConfigError::new(
            TEMPLATE_ENV,
            format!("only the {DEFAULT_TEMPLATE:?} template is emulated, got {other:?}"),
        )),
    }
}

/// The Modbus server of 502/tcp.
pub fn modbus(env: &Env) -> Result<modbus::Modbus, ConfigError> {
    check_template(env)?;
    Ok(modbus::Modbus::new(env.decky()))
}

/// The SNMP agent of 161/udp.
pub fn snmp(env: &Env) -> Result<Snmp, ConfigError> {
    check_template(env)?;
    Snmp::from_env(&env.with("SNMP_ARCHETYPE", SNMP_ARCHETYPE))
}

/// The web server of 80/tcp.
pub fn http(env: &Env) -> Result<Http, ConfigError> {
    check_template(env)?;
    let page = overview_page(env.decky());
    Http::from_env(&env.with("SERVER_HEADER", WEB_SERVER).with("CUSTOM_BODY", &page), Scheme::Plain)
}

/// The controller's status page, named after the decky.
fn overview_page(decky: &str) -> String {
    let station = if decky.is_empty() { "S7-200" } else { decky };
    format!(
        "<HTML>\n<HEAD>\n<TITLE>Overview - Siemens, SIMATIC, S7-200</TITLE>\n</HEAD>\n<BODY>\n\
         <h2>{station}</h2>\n<hr>\n<b>Status:</b><br>\n<table border=\"0\">\n\
         <tr><td style=\"width:150px;\"><b>Module:</b></td><td>CPU 226</td></tr>\n\
         <tr><td style=\"width:150px;\"><b>Operating mode:</b></td><td>RUN</td></tr>\n\
         </table>\n</BODY>\n</HTML>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_default_template_is_accepted() {
        assert!(check_template(&Env::default()).is_ok());
        assert!(check_template(&Env::from_pairs([(TEMPLATE_ENV, "default")])).is_ok());
        let error = check_template(&Env::from_pairs([(TEMPLATE_ENV, "guardian_ast")])).unwrap_err();
        assert_eq!(error.var, TEMPLATE_ENV);
        assert!(error.message.contains("guardian_ast"), "{error}");
    }

    #[test]
    fn the_page_names_the_decky() {
        assert!(overview_page("plc-01").contains("<h2>plc-01</h2>"));
        assert!(overview_page("").contains("<h2>S7-200</h2>"));
    }
}
