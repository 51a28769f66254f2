//! `ports` and `expose`: every port named (container side and published side, each port of a
//! range) must be one the service declared, with the same protocol.

use serde_json::{Map, Value};

use super::{Checked, PolicyViolation, ViolationKind, invalid};
use crate::spec::{Port, ServiceSpec, Transport};

/// `ports`: short (`"22"`, `"2222:22"`, `"127.0.0.1:2222:22/tcp"`, ranges) or long syntax.
/// Both the container port and any published port must be declared by the service.
pub(super) fn check_ports(spec: &ServiceSpec, value: &Value) -> Checked {
    let items = value.as_array().ok_or_else(|| invalid("ports", "a list"))?;
    for (i, item) in items.iter().enumerate() {
        let field = format!("ports[{i}]");
        let named = match item {
            Value::Number(_) => vec![(port_range(&field, &item.to_string())?, Transport::Tcp)],
            Value::String(short) => short_port(&field, short)?,
            Value::Object(long) => long_port(&field, long)?,
            _ => return Err(invalid(field, "a port mapping")),
        };
        for (range, transport) in named {
            require_declared(spec, &field, range, transport)?;
        }
    }
    Ok(())
}

/// `expose`: `"80"`, `"80/udp"`, `"8000-8010"`, or a number.
pub(super) fn check_expose(spec: &ServiceSpec, value: &Value) -> Checked {
    let items = value.as_array().ok_or_else(|| invalid("expose", "a list"))?;
    for (i, item) in items.iter().enumerate() {
        let field = format!("expose[{i}]");
        let text = match item {
            Value::Number(_) => item.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err(invalid(field, "a port")),
        };
        let (ports, transport) = split_protocol(&field, &text)?;
        require_declared(spec, &field, port_range(&field, ports)?, transport)?;
    }
    Ok(())
}

type PortRange = (u16, u16);

fn short_port(field: &str, text: &str) -> Result<Vec<(PortRange, Transport)>, PolicyViolation> {
    let (mapping, transport) = split_protocol(field, text)?;
    // [host_ip:][published:]target; an IPv6 host ip comes in brackets.
    let without_ip = match mapping.rfind(']') {
        Some(end) => mapping[end + 1..].trim_start_matches(':'),
        None => mapping,
    };
    let parts: Vec<&str> = without_ip.split(':').collect();
    let (published, target) = match parts.as_slice() {
        [target] => (None, *target),
        [published, target] => (Some(*published), *target),
        [_ip, published, target] => (Some(*published), *target),
        _ => return Err(invalid(field, "[IP:][HOST:]CONTAINER[/PROTOCOL]")),
    };
    let mut named = vec![(port_range(field, target)?, transport)];
    if let Some(published) = published.filter(|p| !p.is_empty()) {
        named.push((port_range(field, published)?, transport));
    }
    Ok(named)
}

fn long_port(field: &str, long: &Map<String, Value>) -> Result<Vec<(PortRange, Transport)>, PolicyViolation> {
    const KEYS: &[&str] = &["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"];
    if let Some(key) = long.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(invalid(format!("{field}.{key}"), "a known port key"));
    }
    let transport = match long.get("protocol").map(|p| p.as_str()) {
        None | Some(Some("tcp")) => Transport::Tcp,
        Some(Some("udp")) => Transport::Udp,
        _ => return Err(invalid(format!("{field}.protocol"), "tcp or udp")),
    };
    let text = |v: &Value| {
        if let Some(s) = v.as_str() { s.to_owned() } else { v.to_string() }
    };
    let target = long.get("target").ok_or_else(|| invalid(field, "a target port"))?;
    let mut named = vec![(port_range(field, &text(target))?, transport)];
    if let Some(published) = long.get("published") {
        named.push((port_range(field, &text(published))?, transport));
    }
    Ok(named)
}

fn split_protocol<'a>(field: &str, text: &'a str) -> Result<(&'a str, Transport), PolicyViolation> {
    match text.rsplit_once('/') {
        None => Ok((text, Transport::Tcp)),
        Some((ports, "tcp")) => Ok((ports, Transport::Tcp)),
        Some((ports, "udp")) => Ok((ports, Transport::Udp)),
        Some(_) => Err(invalid(field, "protocol tcp or udp")),
    }
}

/// `22` or `8000-8010`.
fn port_range(field: &str, text: &str) -> Result<PortRange, PolicyViolation> {
    let port = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
    let range = match text.split_once('-') {
        Some((lo, hi)) => port(lo).zip(port(hi)).filter(|(lo, hi)| lo <= hi),
        None => port(text).map(|p| (p, p)),
    };
    range.ok_or_else(|| invalid(field, "a port number or range"))
}

fn require_declared(spec: &ServiceSpec, field: &str, (lo, hi): PortRange, transport: Transport) -> Checked {
    for number in lo..=hi {
        let port = Port { number, transport };
        if !spec.ports.contains(&port) {
            return Err(PolicyViolation::new(
                field,
                ViolationKind::Port,
                format!("port {port} is not declared by service '{}'", spec.slug),
            ));
        }
    }
    Ok(())
}
