//! [`Fleet`] → INI text that [`super::import_ini`] turns back into the same fleet (given the
//! same catalogue and `now`): every decky is written with its explicit `ip`, `hostname`,
//! `distro`, `services` and `nmap_os`, so nothing is left to chance on re-import. Fleet
//! services are written as `fleet_services=` without addresses: import derives them (the
//! highest free addresses), and export refuses a fleet whose fleet services sit elsewhere.

use std::fmt::Write as _;

use base64::Engine as _;
use chaff_plugin_host::spec::{ConfigValue, FieldKind, ServiceConfig};

use crate::addressing::FreeAddresses;
use crate::catalogue::Catalogue;
use crate::model::{CustomService, Decky, Fleet, ModelError};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("cannot export an invalid fleet: {0}")]
    InvalidFleet(#[from] ModelError),
    /// A value INI cannot carry faithfully. `place` is what it belongs to, e.g.
    /// `decky 'web-01', ssh.hostname`.
    #[error("cannot export {place}: {reason}")]
    Unrepresentable { place: String, reason: &'static str },
}

const NOT_ONE_LINE: &str = "INI values are single lines without leading or trailing spaces";

/// The INI text of `fleet`. `catalogue` tells which configuration fields are textareas:
/// multi-line textarea values are written base64-encoded (`b64:...`), which import decodes.
pub fn export_ini(fleet: &Fleet, catalogue: &Catalogue) -> Result<String, ExportError> {
    fleet.check()?;
    let mut out = format!("# Fleet '{}', exported by Chaff.\n", fleet.name);
    write_general(&mut out, fleet)?;
    for custom in &fleet.custom_services {
        write_custom(&mut out, custom)?;
    }
    for decky in &fleet.deckies {
        write_decky(&mut out, decky);
        for service in &decky.services {
            if let Some(config) = decky.service_config.get(service) {
                write_service_config(&mut out, decky, service, config, catalogue)?;
            }
        }
    }
    Ok(out)
}

fn write_general(out: &mut String, fleet: &Fleet) -> Result<(), ExportError> {
    let network = &fleet.network;
    out.push_str("\n[general]\n");
    line(out, "name", &fleet.name);
    line(out, "driver", network.driver.as_str());
    line(out, "net", &network.subnet.to_string());
    line(out, "gw", &network.gateway.to_string());
    if let Some(parent) = &network.parent {
        line(out, "interface", one_line(parent, || "the network interface".into())?);
    }
    if let Some(target) = &fleet.log_target {
        line(out, "log_target", one_line(target, || "the log target".into())?);
    }
    if let Some(minutes) = fleet.mutate_interval {
        line(out, "mutate_interval", &minutes.to_string());
    }
    if !fleet.fleet_services.is_empty() {
        check_fleet_service_addresses(fleet)?;
        let slugs: Vec<&str> = fleet.fleet_services.iter().map(|s| s.slug.as_str()).collect();
        line(out, "fleet_services", &slugs.join(","));
    }
    Ok(())
}

/// INI cannot give a fleet service an address: import hands each, in order, the highest
/// address left free by the gateway and the deckies (all explicit in exported text). A fleet
/// whose fleet services sit elsewhere would come back changed, so it is refused.
fn check_fleet_service_addresses(fleet: &Fleet) -> Result<(), ExportError> {
    let network = &fleet.network;
    let mut derived =
        FreeAddresses::new(network.subnet, network.gateway, fleet.deckies.iter().map(|d| d.ip)).rev();
    for service in &fleet.fleet_services {
        if derived.next() != Some(service.ip) {
            return Err(ExportError::Unrepresentable {
                place: format!("fleet service '{}'", service.slug),
                reason: "INI cannot set a fleet service's address, and import would give it another one \
                         (the highest address left free)",
            });
        }
    }
    Ok(())
}

fn write_custom(out: &mut String, custom: &CustomService) -> Result<(), ExportError> {
    let place = || format!("custom service '{}'", custom.name);
    let _ = writeln!(out, "\n[custom-{}]", custom.name);
    line(out, "binary", one_line(&custom.image, place)?);
    if !custom.command.is_empty() {
        if custom.command.iter().any(|arg| arg.is_empty() || arg.contains(char::is_whitespace)) {
            return Err(ExportError::Unrepresentable {
                place: place(),
                reason: "exec= is split on whitespace, so arguments cannot contain any",
            });
        }
        line(out, "exec", &custom.command.join(" "));
    }
    if !custom.ports.is_empty() {
        let ports: Vec<String> = custom.ports.iter().map(u16::to_string).collect();
        line(out, "ports", &ports.join(","));
    }
    Ok(())
}

fn write_decky(out: &mut String, decky: &Decky) {
    let _ = writeln!(out, "\n[{}]", decky.name);
    line(out, "ip", &decky.ip.to_string());
    line(out, "hostname", &decky.hostname);
    line(out, "distro", &decky.distro);
    if let Some(archetype) = &decky.archetype {
        line(out, "archetype", archetype);
    }
    line(out, "services", &decky.services.join(","));
    line(out, "nmap_os", &decky.os_family);
    if let Some(minutes) = decky.mutate_interval {
        line(out, "mutate_interval", &minutes.to_string());
    }
}

fn write_service_config(
    out: &mut String,
    decky: &Decky,
    service: &str,
    config: &ServiceConfig,
    catalogue: &Catalogue,
) -> Result<(), ExportError> {
    let _ = writeln!(out, "\n[{}.{service}]", decky.name);
    for (key, value) in &config.0 {
        let place = || format!("decky '{}', {service}.{key}", decky.name);
        if !is_plain_key(key) {
            return Err(ExportError::Unrepresentable {
                place: place(),
                reason: "INI keys are lower-case words",
            });
        }
        let kind = catalogue.spec(service).and_then(|s| s.field(key)).map(|f| f.kind);
        line(out, key, &config_text(value, kind, place)?);
    }
    Ok(())
}

/// A configuration value as INI text that validation turns back into `value`.
fn config_text(
    value: &ConfigValue,
    kind: Option<FieldKind>,
    place: impl Fn() -> String,
) -> Result<String, ExportError> {
    match value {
        ConfigValue::Text(text) if kind == Some(FieldKind::Textarea) => Ok(textarea_text(text)),
        ConfigValue::Text(text) => one_line(text, place).map(str::to_owned),
        ConfigValue::Choices(items) => {
            for item in items {
                one_line(item, &place)?;
                if item.contains(',') {
                    return Err(ExportError::Unrepresentable {
                        place: place(),
                        reason: "a choice containing ',' cannot be comma-joined",
                    });
                }
            }
            Ok(items.join(","))
        }
        other => Ok(other.to_text()),
    }
}

/// Plain when it survives INI as is, else `b64:<base64>` (which a textarea field decodes).
fn textarea_text(text: &str) -> String {
    let survives = is_one_line(text) && !text.starts_with(chaff_plugin_host::config::TEXTAREA_BASE64_PREFIX);
    if survives {
        text.to_owned()
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        format!("{}{encoded}", chaff_plugin_host::config::TEXTAREA_BASE64_PREFIX)
    }
}

fn is_one_line(text: &str) -> bool {
    !text.contains(['\n', '\r']) && text.trim() == text
}

fn one_line(text: &str, place: impl Fn() -> String) -> Result<&str, ExportError> {
    if is_one_line(text) {
        Ok(text)
    } else {
        Err(ExportError::Unrepresentable { place: place(), reason: NOT_ONE_LINE })
    }
}

/// A key the parser reads back unchanged: lower-case, no delimiter, no blank, not a comment.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key == key.to_lowercase()
        && !key.contains(|c: char| c == '=' || c == ':' || c.is_whitespace())
        && !key.starts_with(['#', ';', '['])
}

fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {value}");
}
