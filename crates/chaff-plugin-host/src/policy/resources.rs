//! Resource settings a fragment may ask for, each capped by a host maximum (and never
//! "unlimited").

use serde_json::Value;

use super::{Checked, PolicyViolation, ViolationKind, invalid};

/// Largest `mem_limit` / `mem_reservation` / `memswap_limit` a fragment may ask for.
pub const MAX_MEMORY_BYTES: u64 = 1 << 30;

/// Largest `shm_size` a fragment may ask for.
pub const MAX_SHM_BYTES: u64 = 256 << 20;

/// Largest `pids_limit` (and `ulimits.nproc`) a fragment may ask for.
pub const MAX_PIDS: i64 = 1024;

/// Largest `cpus` a fragment may ask for.
pub const MAX_CPUS: f64 = 2.0;

/// Largest `cpu_shares` a fragment may ask for (Docker's default weight).
pub const MAX_CPU_SHARES: i64 = 1024;

/// Largest `ulimits.nofile` a fragment may ask for.
pub const MAX_NOFILE: i64 = 65536;

/// Limits a fragment may set under `ulimits`.
pub const ULIMIT_ALLOWLIST: &[&str] = &["nofile", "nproc"];

fn resource(field: &str, message: String) -> PolicyViolation {
    PolicyViolation::new(field, ViolationKind::ResourceLimit, message)
}

/// A compose byte size (`512m`, `1g`, `1048576`, `64kb`) no larger than `max`.
pub(super) fn bytes_at_most(field: &str, value: &Value, max: u64) -> Checked {
    let bytes = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse_byte_size(s),
        _ => None,
    }
    .ok_or_else(|| invalid(field, "a byte size such as 256m"))?;
    if bytes == 0 || bytes > max {
        return Err(resource(field, format!("{bytes} bytes is outside 1..={max}")));
    }
    Ok(())
}

/// Compose byte sizes: digits, then an optional unit b/k/m/g (optionally followed by `b`).
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let shift = match unit {
        "" | "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

pub(super) fn integer_in(field: &str, value: &Value, min: i64, max: i64) -> Checked {
    let n = value.as_i64().ok_or_else(|| invalid(field, "an integer"))?;
    if (min..=max).contains(&n) {
        return Ok(());
    }
    Err(resource(field, format!("{n} is outside {min}..={max}")))
}

pub(super) fn check_cpus(value: &Value) -> Checked {
    let cpus = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("cpus", "a number of CPUs"))?;
    if cpus > 0.0 && cpus <= MAX_CPUS {
        return Ok(());
    }
    Err(resource("cpus", format!("{cpus} is outside (0, {MAX_CPUS}]")))
}

/// `ulimits: { nofile: 1024 }` or `{ nofile: { soft: 1024, hard: 2048 } }`, allowlisted names only.
pub(super) fn check_ulimits(value: &Value) -> Checked {
    let map = value.as_object().ok_or_else(|| invalid("ulimits", "a mapping"))?;
    for (name, limit) in map {
        let field = format!("ulimits.{name}");
        let max = match name.as_str() {
            "nofile" => MAX_NOFILE,
            "nproc" => MAX_PIDS,
            _ => {
                return Err(resource(
                    &field,
                    format!("ulimit '{name}' is refused (allowed: {})", ULIMIT_ALLOWLIST.join(", ")),
                ));
            }
        };
        match limit {
            Value::Object(pair) => {
                if let Some(key) = pair.keys().find(|k| *k != "soft" && *k != "hard") {
                    return Err(invalid(format!("{field}.{key}"), "soft or hard"));
                }
                for (key, v) in pair {
                    integer_in(&format!("{field}.{key}"), v, 0, max)?;
                }
            }
            other => integer_in(&field, other, 0, max)?,
        }
    }
    Ok(())
}
