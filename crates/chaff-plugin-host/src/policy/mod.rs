//! The fragment policy: the real security boundary. A fragment is what Docker runs with
//! root-like power, so every key a plugin returns is checked here against an explicit
//! allowlist before the engine ever sees it. Each refusal names the offending field
//! (`privileged`, `volumes[0]`, `cap_add[1]`, `labels[io.chaff.decky]`).
//!
//! What a fragment may say: which declared image runs what, with which environment,
//! capabilities (within the allowlist), scratch space, named volumes, declared ports,
//! healthcheck, labels and modest resource caps. Everything about identity, networking,
//! restart, logging and namespaces belongs to the host, which adds it after this check.

mod mounts;
mod ports;
mod resources;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::spec::ServiceSpec;
pub use resources::{
    MAX_CPU_SHARES, MAX_CPUS, MAX_MEMORY_BYTES, MAX_NOFILE, MAX_PIDS, MAX_SHM_BYTES, ULIMIT_ALLOWLIST,
    parse_byte_size,
};

/// Capabilities a fragment may ever add, whatever the service declares. A service's
/// effective allowlist is its declared capabilities intersected with this list.
pub const CAPABILITY_ALLOWLIST: &[&str] =
    &["NET_BIND_SERVICE", "CHOWN", "SETUID", "SETGID", "DAC_OVERRIDE", "FOWNER", "KILL"];

/// Capabilities only a fleet-singleton service (a sniffer, say) may add, on top of
/// [`CAPABILITY_ALLOWLIST`].
pub const SINGLETON_CAPABILITY_ALLOWLIST: &[&str] = &["NET_RAW", "NET_ADMIN"];

/// Label prefix the host uses for its own bookkeeping; fragments may not set it.
pub const RESERVED_LABEL_PREFIX: &str = "io.chaff.";

/// The only `security_opt` entries allowed: they add confinement, never remove it.
pub const SECURITY_OPT_ALLOWLIST: &[&str] =
    &["no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"];

/// Keys the host owns: it sets them itself (identity, networking, restart, logging), so a
/// fragment that names them at all is refused.
pub const HOST_OWNED_KEYS: &[&str] = &[
    "network_mode",
    "networks",
    "hostname",
    "domainname",
    "container_name",
    "depends_on",
    "links",
    "external_links",
    "build",
    "extends",
    "restart",
    "logging",
    "dns",
    "dns_search",
    "dns_opt",
    "extra_hosts",
    "mac_address",
    "sysctls",
    "cgroup_parent",
    "deploy",
    "profiles",
    "scale",
    "pull_policy",
    "runtime",
];

/// Keys that select a namespace; `host` (or another container's) escapes the sandbox.
pub const NAMESPACE_KEYS: &[&str] = &["pid", "ipc", "userns_mode", "uts", "cgroup"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// The fragment is not a JSON object.
    NotAnObject,
    /// `image` is missing.
    MissingImage,
    /// A key outside the allowlist.
    UnknownKey,
    /// A key the host owns (networking, identity, restart, logging, sysctls...).
    HostOwnedKey,
    /// A value of the wrong shape (e.g. environment not a map of strings).
    InvalidValue,
    Privileged,
    /// `pid`/`ipc`/`userns_mode`/`uts`/`cgroup` set (to `host` or another container).
    HostNamespace,
    /// `devices`, `device_cgroup_rules`, `gpus`.
    Device,
    /// A `security_opt` entry that weakens confinement.
    SecurityOpt,
    /// A bind mount of a host path.
    BindMount,
    /// A mount of the Docker daemon's socket.
    DockerSocket,
    VolumesFrom,
    /// A capability outside the service's effective allowlist.
    Capability,
    /// An image the service did not declare.
    Image,
    /// A port the service did not declare.
    Port,
    /// A label under the host's reserved prefix.
    ReservedLabel,
    /// A resource setting beyond the host's maxima (or unlimited).
    ResourceLimit,
}

/// Why a fragment was refused, naming the field (`volumes[0]`, `cap_add[1]`, ...).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct PolicyViolation {
    pub field: String,
    pub kind: ViolationKind,
    pub message: String,
}

impl PolicyViolation {
    fn new(field: impl Into<String>, kind: ViolationKind, message: impl Into<String>) -> Self {
        Self { field: field.into(), kind, message: message.into() }
    }
}

type Checked = Result<(), PolicyViolation>;

/// Checks `fragment` (the compose `services.<name>` entry rendered for `spec`) and returns
/// it as a map, unchanged, if every key passes.
pub fn check_fragment(spec: &ServiceSpec, fragment: &Value) -> Result<Map<String, Value>, PolicyViolation> {
    let Value::Object(map) = fragment else {
        return Err(PolicyViolation::new(
            "<fragment>",
            ViolationKind::NotAnObject,
            "a fragment must be a JSON object",
        ));
    };
    if !map.contains_key("image") {
        return Err(PolicyViolation::new("image", ViolationKind::MissingImage, "image is required"));
    }
    for (key, value) in map {
        check_key(spec, key, value)?;
    }
    Ok(map.clone())
}

fn check_key(spec: &ServiceSpec, key: &str, value: &Value) -> Checked {
    match key {
        "image" => check_image(spec, value),
        "command" | "entrypoint" => string_or_strings(key, value),
        "environment" => check_key_values(key, value, false),
        "labels" => check_key_values(key, value, true),
        "cap_add" => check_cap_add(spec, value),
        "cap_drop" => strings(key, value).map(drop),
        "read_only" | "init" | "tty" | "stdin_open" => boolean(key, value),
        "privileged" => check_privileged(value),
        "tmpfs" => mounts::check_tmpfs(value),
        "volumes" => mounts::check_volumes(value),
        "ports" => ports::check_ports(spec, value),
        "expose" => ports::check_expose(spec, value),
        "working_dir" => absolute_path(key, value),
        "user" => check_user(value),
        "healthcheck" => check_healthcheck(value),
        "stop_signal" | "stop_grace_period" => string(key, value).map(drop),
        "security_opt" => check_security_opt(value),
        "mem_limit" | "mem_reservation" | "memswap_limit" => {
            resources::bytes_at_most(key, value, MAX_MEMORY_BYTES)
        }
        "shm_size" => resources::bytes_at_most(key, value, MAX_SHM_BYTES),
        "pids_limit" => resources::integer_in(key, value, 1, MAX_PIDS),
        "cpu_shares" => resources::integer_in(key, value, 2, MAX_CPU_SHARES),
        "cpus" => resources::check_cpus(value),
        "ulimits" => resources::check_ulimits(value),
        "volumes_from" => Err(PolicyViolation::new(
            key,
            ViolationKind::VolumesFrom,
            "volumes_from shares another container's mounts; refused",
        )),
        "devices" | "device_cgroup_rules" | "gpus" => {
            Err(PolicyViolation::new(key, ViolationKind::Device, "access to host devices is refused"))
        }
        k if NAMESPACE_KEYS.contains(&k) => check_namespace(key, value),
        k if HOST_OWNED_KEYS.contains(&k) => Err(PolicyViolation::new(
            key,
            ViolationKind::HostOwnedKey,
            format!("{key} is set by the host, not by plugins"),
        )),
        _ => Err(PolicyViolation::new(
            key,
            ViolationKind::UnknownKey,
            format!("'{key}' is not an allowed fragment key"),
        )),
    }
}

fn invalid(field: impl Into<String>, expected: &str) -> PolicyViolation {
    PolicyViolation::new(field, ViolationKind::InvalidValue, format!("expected {expected}"))
}

fn string<'a>(field: &str, value: &'a Value) -> Result<&'a str, PolicyViolation> {
    value.as_str().ok_or_else(|| invalid(field, "a string"))
}

fn boolean(field: &str, value: &Value) -> Checked {
    value.as_bool().map(drop).ok_or_else(|| invalid(field, "true or false"))
}

fn strings<'a>(field: &str, value: &'a Value) -> Result<Vec<&'a str>, PolicyViolation> {
    let items = value.as_array().ok_or_else(|| invalid(field, "a list of strings"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| item.as_str().ok_or_else(|| invalid(format!("{field}[{i}]"), "a string")))
        .collect()
}

fn string_or_strings(field: &str, value: &Value) -> Checked {
    if value.is_string() { Ok(()) } else { strings(field, value).map(drop) }
}

fn absolute_path(field: &str, value: &Value) -> Checked {
    if string(field, value)?.starts_with('/') { Ok(()) } else { Err(invalid(field, "an absolute path")) }
}

fn check_image(spec: &ServiceSpec, value: &Value) -> Checked {
    let image = string("image", value)?;
    if spec.images.iter().any(|declared| declared == image) {
        return Ok(());
    }
    Err(PolicyViolation::new(
        "image",
        ViolationKind::Image,
        format!(
            "image '{image}' is not declared by service '{}' (declared: [{}])",
            spec.slug,
            spec.images.join(", ")
        ),
    ))
}

fn check_privileged(value: &Value) -> Checked {
    match value {
        Value::Bool(false) => Ok(()),
        Value::Bool(true) => Err(PolicyViolation::new(
            "privileged",
            ViolationKind::Privileged,
            "privileged containers are refused",
        )),
        _ => Err(invalid("privileged", "false")),
    }
}

fn check_namespace(key: &str, value: &Value) -> Checked {
    let mode = value.as_str().unwrap_or_default();
    let message = if mode == "host" {
        format!("{key}: host shares the host's namespace; refused")
    } else {
        format!("{key} is set by the host, not by plugins")
    };
    Err(PolicyViolation::new(key, ViolationKind::HostNamespace, message))
}

/// `environment` / `labels`: a map of strings, or a list of `KEY=VALUE` strings. Labels may
/// not use the host's reserved prefix.
fn check_key_values(field: &str, value: &Value, labels: bool) -> Checked {
    let pairs: Vec<(String, &str)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().ok_or_else(|| invalid(format!("{field}[{k}]"), "a string value"))?;
                Ok((k.clone(), v))
            })
            .collect::<Result<_, PolicyViolation>>()?,
        Value::Array(_) => strings(field, value)?
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let (k, v) =
                    entry.split_once('=').ok_or_else(|| invalid(format!("{field}[{i}]"), "KEY=VALUE"))?;
                Ok((k.to_owned(), v))
            })
            .collect::<Result<_, PolicyViolation>>()?,
        _ => return Err(invalid(field, "a map of strings or a list of KEY=VALUE")),
    };
    for (key, value) in pairs {
        let entry = format!("{field}[{key}]");
        if key.is_empty() || key.contains(['=', '\0']) || value.contains('\0') {
            return Err(invalid(entry, "a non-empty key without '=' or NUL"));
        }
        if labels && key.starts_with(RESERVED_LABEL_PREFIX) {
            return Err(PolicyViolation::new(
                entry,
                ViolationKind::ReservedLabel,
                format!("labels under '{RESERVED_LABEL_PREFIX}' are reserved for the host"),
            ));
        }
    }
    Ok(())
}

/// The capabilities `spec`'s fragments may add: declared ∩ allowlist (+ singleton extras).
pub fn effective_capabilities(spec: &ServiceSpec) -> Vec<String> {
    spec.capabilities
        .iter()
        .map(|c| normalise_capability(c))
        .filter(|c| {
            CAPABILITY_ALLOWLIST.contains(&c.as_str())
                || (spec.fleet_singleton && SINGLETON_CAPABILITY_ALLOWLIST.contains(&c.as_str()))
        })
        .collect()
}

/// Docker accepts `net_admin`, `CAP_NET_ADMIN` and `NET_ADMIN` alike.
fn normalise_capability(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").map(str::to_owned).unwrap_or(upper)
}

fn check_cap_add(spec: &ServiceSpec, value: &Value) -> Checked {
    let allowed = effective_capabilities(spec);
    for (i, cap) in strings("cap_add", value)?.into_iter().enumerate() {
        let name = normalise_capability(cap);
        if allowed.contains(&name) {
            continue;
        }
        let why = if !spec.capabilities.iter().any(|c| normalise_capability(c) == name) {
            format!("capability {name} is not declared by service '{}'", spec.slug)
        } else {
            format!("capability {name} is outside the host's capability allowlist")
        };
        return Err(PolicyViolation::new(format!("cap_add[{i}]"), ViolationKind::Capability, why));
    }
    Ok(())
}

fn check_security_opt(value: &Value) -> Checked {
    for (i, opt) in strings("security_opt", value)?.into_iter().enumerate() {
        if !SECURITY_OPT_ALLOWLIST.contains(&opt) {
            return Err(PolicyViolation::new(
                format!("security_opt[{i}]"),
                ViolationKind::SecurityOpt,
                format!("'{opt}' is refused; only no-new-privileges is allowed"),
            ));
        }
    }
    Ok(())
}

fn check_user(value: &Value) -> Checked {
    match value {
        Value::String(_) => Ok(()),
        Value::Number(n) if n.is_u64() => Ok(()),
        _ => Err(invalid("user", "a user name or id")),
    }
}

fn check_healthcheck(value: &Value) -> Checked {
    const KEYS: &[&str] =
        &["test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"];
    let map = value.as_object().ok_or_else(|| invalid("healthcheck", "a mapping"))?;
    match map.keys().find(|k| !KEYS.contains(&k.as_str())) {
        Some(key) => Err(PolicyViolation::new(
            format!("healthcheck.{key}"),
            ViolationKind::UnknownKey,
            format!("'{key}' is not an allowed healthcheck key"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
