//! Compose entries → Docker API requests. Pure: no daemon, no I/O.
//!
//! Rendering produces compose `services.<name>` and `networks.<name>` entries (so the same
//! model can be written as a compose file); this module turns each into the body Docker's
//! create endpoint takes. Every key rendering or the fragment policy lets through is
//! translated; anything else is a [`SpecError`] naming the container and the key, never
//! silently dropped — a fragment that reaches Docker means exactly what the compose file says.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig,
    Ipam, IpamConfig, Mount, MountType, MountVolumeOptions, NetworkCreateRequest, NetworkingConfig,
    ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};
use chaff_plugin_host::policy::parse_byte_size;
use serde_json::{Map, Value};

/// A container to create: its name and the create body.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRequest {
    pub name: String,
    pub body: ContainerCreateBody,
}

/// Why a compose entry cannot be expressed as a Docker request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{object} '{name}', {key}: {message}")]
pub struct SpecError {
    /// `container` or `network`.
    pub object: &'static str,
    pub name: String,
    /// The compose key (`mem_limit`, `volumes[0]`, ...).
    pub key: String,
    pub message: String,
}

type Entry<'a> = &'a Map<String, Value>;

/// Compose keys that only order or describe containers for the compose tool; the plan
/// already orders creation, so they have no Docker counterpart.
const ORDERING_ONLY_KEYS: &[&str] = &["depends_on", "container_name"];

/// The create request of container `name` from its compose entry. `volumes` is the
/// project's top-level `volumes` map (labels of named volumes come from it).
pub fn container_request(
    name: &str,
    entry: &Value,
    volumes: Option<&Map<String, Value>>,
) -> Result<ContainerRequest, SpecError> {
    let err = |key: &str, message: &str| SpecError {
        object: "container",
        name: name.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    };
    let entry = entry.as_object().ok_or_else(|| err("<entry>", "expected a mapping"))?;
    let mut body = ContainerCreateBody::default();
    let mut host = HostConfig::default();
    for (key, value) in entry {
        apply_key(&mut body, &mut host, key, value, volumes).map_err(|message| err(key, &message))?;
    }
    body.host_config = Some(host);
    Ok(ContainerRequest { name: name.to_owned(), body })
}

fn apply_key(
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
    key: &str,
    value: &Value,
    volumes: Option<&Map<String, Value>>,
) -> Result<(), String> {
    match key {
        "image" => body.image = Some(string(value)?.to_owned()),
        "command" => body.cmd = Some(argv(value)?),
        "entrypoint" => body.entrypoint = Some(argv(value)?),
        "environment" => body.env = Some(environment(value)?),
        "labels" => body.labels = Some(string_map(value)?),
        "hostname" => body.hostname = Some(string(value)?.to_owned()),
        "working_dir" => body.working_dir = Some(string(value)?.to_owned()),
        "user" => body.user = Some(scalar(value)?),
        "stop_signal" => body.stop_signal = Some(string(value)?.to_owned()),
        "stop_grace_period" => body.stop_timeout = Some(duration(value)?.as_secs() as i64),
        "healthcheck" => body.healthcheck = Some(healthcheck(value)?),
        "tty" => body.tty = Some(boolean(value)?),
        "stdin_open" => body.open_stdin = Some(boolean(value)?),
        "networks" => attach_networks(body, host, value)?,
        "network_mode" => host.network_mode = Some(network_mode(value)?),
        "sysctls" => host.sysctls = Some(string_map(value)?),
        "cap_add" => host.cap_add = Some(strings(value)?),
        "cap_drop" => host.cap_drop = Some(strings(value)?),
        "security_opt" => host.security_opt = Some(strings(value)?),
        "read_only" => host.readonly_rootfs = Some(boolean(value)?),
        "init" => host.init = Some(boolean(value)?),
        "privileged" => host.privileged = Some(boolean(value)?),
        "tmpfs" => host.tmpfs = Some(tmpfs(value)?),
        "volumes" => host.mounts = Some(mounts(value, volumes)?),
        "restart" => host.restart_policy = Some(restart_policy(value)?),
        "logging" => host.log_config = Some(logging(value)?),
        "mem_limit" => host.memory = Some(bytes(value)?),
        "mem_reservation" => host.memory_reservation = Some(bytes(value)?),
        "memswap_limit" => host.memory_swap = Some(bytes(value)?),
        "shm_size" => host.shm_size = Some(bytes(value)?),
        "pids_limit" => host.pids_limit = Some(integer(value)?),
        "cpu_shares" => host.cpu_shares = Some(integer(value)?),
        "cpus" => host.nano_cpus = Some(nano_cpus(value)?),
        "ulimits" => host.ulimits = Some(ulimits(value)?),
        k if ORDERING_ONLY_KEYS.contains(&k) => {}
        _ => return Err("not a key Chaff can apply through the Docker API".into()),
    }
    Ok(())
}

/// The create request of network `name` from its compose entry.
pub fn network_request(name: &str, entry: &Value) -> Result<NetworkCreateRequest, SpecError> {
    let err = |key: &str, message: String| SpecError {
        object: "network",
        name: name.to_owned(),
        key: key.to_owned(),
        message,
    };
    let entry = entry.as_object().ok_or_else(|| err("<entry>", "expected a mapping".into()))?;
    let mut request = NetworkCreateRequest { name: name.to_owned(), ..Default::default() };
    for (key, value) in entry {
        let applied: Result<(), String> = (|| {
            match key.as_str() {
                "name" => request.name = string(value)?.to_owned(),
                "driver" => request.driver = Some(string(value)?.to_owned()),
                "driver_opts" => request.options = Some(string_map(value)?),
                "labels" => request.labels = Some(string_map(value)?),
                "internal" => request.internal = Some(boolean(value)?),
                "attachable" => request.attachable = Some(boolean(value)?),
                "ipam" => request.ipam = Some(ipam(value)?),
                _ => return Err("not a key Chaff can apply through the Docker API".into()),
            }
            Ok(())
        })();
        applied.map_err(|message| err(key, message))?;
    }
    Ok(request)
}

fn ipam(value: &Value) -> Result<Ipam, String> {
    let map = mapping(value)?;
    let config = match map.get("config") {
        None => None,
        Some(items) => Some(
            items
                .as_array()
                .ok_or("config: expected a list")?
                .iter()
                .map(|item| {
                    let item = mapping(item)?;
                    let field = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
                    Ok(IpamConfig {
                        subnet: field("subnet"),
                        gateway: field("gateway"),
                        ip_range: field("ip_range"),
                        ..Default::default()
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
        ),
    };
    let driver = map.get("driver").map(string).transpose()?.map(str::to_owned);
    Ok(Ipam { driver, config, options: None })
}

/// `networks: {<name>: {ipv4_address: ..}}`: the container's one network and its address.
/// Chaff attaches a container to at most one network (a decky has one address).
fn attach_networks(
    body: &mut ContainerCreateBody,
    host: &mut HostConfig,
    value: &Value,
) -> Result<(), String> {
    let networks = mapping(value)?;
    let mut names = networks.iter();
    let Some((network, settings)) = names.next() else { return Ok(()) };
    if names.next().is_some() {
        return Err("a container joins exactly one network".into());
    }
    let address = match settings {
        Value::Null => None,
        settings => mapping(settings)?.get("ipv4_address").map(string).transpose()?.map(str::to_owned),
    };
    let endpoint = EndpointSettings {
        ipam_config: address.map(|ip| EndpointIpamConfig { ipv4_address: Some(ip), ..Default::default() }),
        ..Default::default()
    };
    host.network_mode = Some(network.clone());
    body.networking_config =
        Some(NetworkingConfig { endpoints_config: Some(HashMap::from([(network.clone(), endpoint)])) });
    Ok(())
}

/// Compose's `service:<name>` (join that service's namespace) is Docker's `container:<name>`:
/// compose service keys are container names in a Chaff project.
fn network_mode(value: &Value) -> Result<String, String> {
    let mode = string(value)?;
    Ok(match mode.strip_prefix("service:") {
        Some(container) => format!("container:{container}"),
        None => mode.to_owned(),
    })
}

fn restart_policy(value: &Value) -> Result<RestartPolicy, String> {
    let text = string(value)?;
    let (name, retries) = match text.split_once(':') {
        Some(("on-failure", n)) => {
            (RestartPolicyNameEnum::ON_FAILURE, Some(n.parse::<i64>().map_err(|_| "bad retry count")?))
        }
        Some(_) => return Err(format!("unknown restart policy '{text}'")),
        None => match text {
            "no" => (RestartPolicyNameEnum::NO, None),
            "always" => (RestartPolicyNameEnum::ALWAYS, None),
            "unless-stopped" => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
            "on-failure" => (RestartPolicyNameEnum::ON_FAILURE, None),
            other => return Err(format!("unknown restart policy '{other}'")),
        },
    };
    Ok(RestartPolicy { name: Some(name), maximum_retry_count: retries })
}

fn logging(value: &Value) -> Result<HostConfigLogConfig, String> {
    let map = mapping(value)?;
    let typ = map.get("driver").map(string).transpose()?.map(str::to_owned);
    let config = map.get("options").map(string_map).transpose()?;
    Ok(HostConfigLogConfig { typ, config })
}

/// `tmpfs: /run` or `[/tmp:size=16m, ...]` → mount point → options.
fn tmpfs(value: &Value) -> Result<HashMap<String, String>, String> {
    let items = match value {
        Value::String(one) => vec![one.clone()],
        _ => strings(value)?,
    };
    Ok(items
        .into_iter()
        .map(|item| match item.split_once(':') {
            Some((path, options)) => (path.to_owned(), options.to_owned()),
            None => (item, String::new()),
        })
        .collect())
}

/// Named volumes only (the policy refuses host paths): short `name:/target[:ro]` or long
/// `{type: volume, source, target, read_only}` syntax.
fn mounts(value: &Value, volumes: Option<&Map<String, Value>>) -> Result<Vec<Mount>, String> {
    let items = value.as_array().ok_or("expected a list")?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| volume_mount(item, volumes).map_err(|message| format!("[{i}]: {message}")))
        .collect()
}

fn volume_mount(item: &Value, volumes: Option<&Map<String, Value>>) -> Result<Mount, String> {
    let (source, target, read_only) = match item {
        Value::String(short) => {
            let mut parts = short.split(':');
            let (Some(source), Some(target)) = (parts.next(), parts.next()) else {
                return Err("expected name:/path".into());
            };
            let read_only = match parts.next() {
                None | Some("rw") => false,
                Some("ro") => true,
                Some(mode) => return Err(format!("unknown mode '{mode}'")),
            };
            (source.to_owned(), target.to_owned(), read_only)
        }
        Value::Object(long) => {
            if long.get("type").and_then(Value::as_str) != Some("volume") {
                return Err("only named volumes are supported".into());
            }
            let field = |k: &str| long.get(k).and_then(Value::as_str).map(str::to_owned);
            let source = field("source").ok_or("missing source")?;
            let target = field("target").ok_or("missing target")?;
            (source, target, long.get("read_only").and_then(Value::as_bool).unwrap_or(false))
        }
        _ => return Err("expected a string or a mapping".into()),
    };
    if source.starts_with('/') || source.starts_with('.') || source.starts_with('~') {
        return Err("host paths are not mounted".into());
    }
    let labels = volumes
        .and_then(|v| v.get(&source))
        .and_then(|definition| definition.get("labels"))
        .map(string_map)
        .transpose()?;
    Ok(Mount {
        typ: Some(MountType::VOLUME),
        source: Some(source),
        target: Some(target),
        read_only: Some(read_only),
        volume_options: labels
            .map(|labels| MountVolumeOptions { labels: Some(labels), ..Default::default() }),
        ..Default::default()
    })
}

fn healthcheck(value: &Value) -> Result<HealthConfig, String> {
    let map = mapping(value)?;
    if map.get("disable").and_then(Value::as_bool) == Some(true) {
        return Ok(HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() });
    }
    let test = match map.get("test") {
        None => None,
        Some(Value::String(shell)) => Some(vec!["CMD-SHELL".to_owned(), shell.clone()]),
        Some(list) => Some(strings(list)?),
    };
    let nanos = |key: &str| -> Result<Option<i64>, String> {
        map.get(key).map(|v| duration(v).map(|d| d.as_nanos() as i64)).transpose()
    };
    Ok(HealthConfig {
        test,
        interval: nanos("interval")?,
        timeout: nanos("timeout")?,
        start_period: nanos("start_period")?,
        start_interval: nanos("start_interval")?,
        retries: map.get("retries").map(integer).transpose()?,
    })
}

/// `nofile: {soft, hard}` or `nproc: 65535`.
fn ulimits(value: &Value) -> Result<Vec<ResourcesUlimits>, String> {
    mapping(value)?
        .iter()
        .map(|(name, limit)| {
            let (soft, hard) = match limit {
                Value::Object(pair) => (
                    pair.get("soft").map(integer).transpose()?.ok_or("missing soft")?,
                    pair.get("hard").map(integer).transpose()?.ok_or("missing hard")?,
                ),
                single => {
                    let n = integer(single)?;
                    (n, n)
                }
            };
            Ok(ResourcesUlimits { name: Some(name.clone()), soft: Some(soft), hard: Some(hard) })
        })
        .collect()
}

fn nano_cpus(value: &Value) -> Result<i64, String> {
    let cpus = match value {
        Value::Number(n) => n.as_f64().ok_or("expected a number")?,
        Value::String(s) => s.parse::<f64>().map_err(|_| "expected a number")?,
        _ => return Err("expected a number".into()),
    };
    Ok((cpus * 1e9).round() as i64)
}

/// Compose durations: `90s`, `1m30s`, `250ms`, `2h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if text.is_empty() {
        return None;
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let amount: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount * 60),
            "h" => Duration::from_secs(amount * 3600),
            _ => return None,
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn duration(value: &Value) -> Result<Duration, String> {
    match value {
        Value::Number(n) => n.as_u64().map(Duration::from_secs).ok_or_else(|| "expected a duration".into()),
        Value::String(s) => {
            parse_duration(s).ok_or_else(|| format!("'{s}' is not a duration like 10s or 1m30s"))
        }
        _ => Err("expected a duration".into()),
    }
}

fn bytes(value: &Value) -> Result<i64, String> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse_byte_size(s),
        _ => None,
    };
    parsed.and_then(|b| i64::try_from(b).ok()).ok_or_else(|| "expected a size like 256m".into())
}

fn integer(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| "expected an integer".into()),
        Value::String(s) => s.parse().map_err(|_| "expected an integer".into()),
        _ => Err("expected an integer".into()),
    }
}

fn boolean(value: &Value) -> Result<bool, String> {
    value.as_bool().ok_or_else(|| "expected true or false".into())
}

fn string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "expected a string".into())
}

/// A string, number or boolean as text (compose allows `user: 1000`).
fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("expected a string".into()),
    }
}

fn mapping(value: &Value) -> Result<Entry<'_>, String> {
    value.as_object().ok_or_else(|| "expected a mapping".into())
}

fn strings(value: &Value) -> Result<Vec<String>, String> {
    let items = value.as_array().ok_or("expected a list of strings")?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| item.as_str().map(str::to_owned).ok_or_else(|| format!("[{i}]: expected a string")))
        .collect()
}

/// `command` / `entrypoint`: a list as is, a string split like a shell would.
fn argv(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(line) => shlex::split(line).ok_or_else(|| "unbalanced quotes".into()),
        _ => strings(value),
    }
}

/// A compose key/value map (or `KEY=VALUE` list) with scalar values.
fn string_map(value: &Value) -> Result<HashMap<String, String>, String> {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| Ok((k.clone(), scalar(v)?))).collect(),
        Value::Array(_) => strings(value)?
            .into_iter()
            .map(|item| match item.split_once('=') {
                Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
                None => Err(format!("'{item}' is not KEY=VALUE")),
            })
            .collect(),
        _ => Err("expected a mapping".into()),
    }
}

/// `environment` as Docker's `KEY=VALUE` list; a null value (compose: "unset") is left out.
fn environment(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Object(map) => {
            let mut env = Vec::with_capacity(map.len());
            for (key, value) in map {
                if !value.is_null() {
                    env.push(format!("{key}={}", scalar(value).map_err(|m| format!("{key}: {m}"))?));
                }
            }
            Ok(env)
        }
        Value::Array(_) => strings(value),
        _ => Err("expected a mapping".into()),
    }
}

#[cfg(test)]
mod tests;
