//! Mounts: tmpfs, named volumes and anonymous volumes only; never a host path, and the Docker
//! socket is refused by name wherever it appears.

use serde_json::{Map, Value};

use super::{Checked, PolicyViolation, ViolationKind, invalid, string, strings};

/// Container paths of the Docker daemon's socket (and its usual aliases). Mounting any of them
/// gives the container root on the host.
const DOCKER_SOCKET_NAMES: &[&str] = &["docker.sock", "containerd.sock", "podman.sock"];

pub(super) fn check_tmpfs(value: &Value) -> Checked {
    let mounts = if let Some(one) = value.as_str() { vec![one] } else { strings("tmpfs", value)? };
    for (i, mount) in mounts.into_iter().enumerate() {
        if !mount.starts_with('/') {
            return Err(invalid(format!("tmpfs[{i}]"), "an absolute container path"));
        }
    }
    Ok(())
}

/// Volumes: named volumes and anonymous (container-path-only) volumes; never a host path.
pub(super) fn check_volumes(value: &Value) -> Checked {
    let items = value.as_array().ok_or_else(|| invalid("volumes", "a list"))?;
    for (i, item) in items.iter().enumerate() {
        let field = format!("volumes[{i}]");
        match item {
            Value::String(short) => check_short_volume(&field, short)?,
            Value::Object(long) => check_long_volume(&field, long)?,
            _ => return Err(invalid(field, "a string or a mapping")),
        }
    }
    Ok(())
}

/// `source:target[:mode]` or `target`.
fn check_short_volume(field: &str, spec: &str) -> Checked {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [target] => check_volume_target(field, target),
        [source, target] | [source, target, _] => {
            check_volume_source(field, source)?;
            check_volume_target(field, target)
        }
        _ => Err(invalid(field, "SOURCE:TARGET[:MODE]")),
    }
}

fn check_long_volume(field: &str, long: &Map<String, Value>) -> Checked {
    const LONG_KEYS: &[&str] = &["type", "source", "target", "read_only", "volume", "tmpfs", "consistency"];
    if let Some(key) = long.keys().find(|k| !LONG_KEYS.contains(&k.as_str())) {
        let kind = if key == "bind" { ViolationKind::BindMount } else { ViolationKind::UnknownKey };
        return Err(PolicyViolation::new(
            format!("{field}.{key}"),
            kind,
            format!("'{key}' is not allowed in a volume"),
        ));
    }
    let source = long.get("source").map(|s| string(field, s)).transpose()?;
    if let Some(source) = source {
        refuse_docker_socket(field, source)?;
    }
    match long.get("type").and_then(Value::as_str) {
        Some("volume") => {
            if let Some(source) = source {
                check_volume_source(field, source)?;
            }
        }
        Some("tmpfs") if source.is_none() => {}
        Some("tmpfs") => return Err(invalid(field, "no source for a tmpfs mount")),
        Some("bind") => {
            return Err(PolicyViolation::new(
                field,
                ViolationKind::BindMount,
                format!("bind mount of host path '{}' is refused", source.unwrap_or_default()),
            ));
        }
        // npipe, cluster, image, a missing type: all reach outside the container's own
        // storage, or are not ours to judge.
        other => {
            return Err(PolicyViolation::new(
                field,
                ViolationKind::BindMount,
                format!(
                    "volume type '{}' is refused; use a named volume or tmpfs",
                    other.unwrap_or("<none>")
                ),
            ));
        }
    }
    let target = long.get("target").ok_or_else(|| invalid(field, "a target"))?;
    check_volume_target(field, string(field, target)?)
}

/// A named volume's name; anything path-like is a host bind mount.
fn check_volume_source(field: &str, source: &str) -> Checked {
    refuse_docker_socket(field, source)?;
    let named = source.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && source.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if named {
        return Ok(());
    }
    Err(PolicyViolation::new(
        field,
        ViolationKind::BindMount,
        format!("bind mount of host path '{source}' is refused; only named volumes are allowed"),
    ))
}

fn refuse_docker_socket(field: &str, path: &str) -> Checked {
    let file = path.rsplit('/').next().unwrap_or(path);
    if DOCKER_SOCKET_NAMES.contains(&file) {
        return Err(PolicyViolation::new(
            field,
            ViolationKind::DockerSocket,
            format!("mounting the Docker socket ({path}) gives root on the host; refused"),
        ));
    }
    Ok(())
}

fn check_volume_target(field: &str, target: &str) -> Checked {
    refuse_docker_socket(field, target)?;
    if target.starts_with('/') { Ok(()) } else { Err(invalid(field, "an absolute container path")) }
}
