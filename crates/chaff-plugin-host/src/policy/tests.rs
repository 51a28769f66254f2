//! The fragment policy, one rule at a time.

use serde_json::json;

use super::*;
use crate::spec::{Port, Transport};

fn spec() -> ServiceSpec {
    ServiceSpec {
        slug: "web".into(),
        display_name: "Web".into(),
        description: String::new(),
        ports: vec![
            Port { number: 80, transport: Transport::Tcp },
            Port { number: 8080, transport: Transport::Tcp },
            Port { number: 8081, transport: Transport::Tcp },
            Port { number: 53, transport: Transport::Udp },
        ],
        fleet_singleton: false,
        fields: Vec::new(),
        images: vec!["chaff-sensor:0.1".into()],
        capabilities: vec!["NET_BIND_SERVICE".into(), "SYS_ADMIN".into(), "NET_RAW".into()],
        read_only_root: true,
    }
}

fn base() -> Map<String, Value> {
    json!({ "image": "chaff-sensor:0.1" }).as_object().unwrap().clone()
}

fn with(key: &str, value: Value) -> Value {
    let mut m = base();
    m.insert(key.into(), value);
    Value::Object(m)
}

fn violation(key: &str, value: Value) -> PolicyViolation {
    check_fragment(&spec(), &with(key, value)).expect_err("should be refused")
}

fn assert_refused(key: &str, value: Value, field: &str, kind: ViolationKind) {
    let v = violation(key, value.clone());
    assert_eq!((v.field.as_str(), v.kind), (field, kind), "{key}: {value} -> {v}");
}

fn assert_allowed(key: &str, value: Value) {
    if let Err(v) = check_fragment(&spec(), &with(key, value.clone())) {
        panic!("{key}: {value} refused: {v}");
    }
}

#[test]
fn a_typical_sensor_fragment_passes_unchanged() {
    let fragment = json!({
        "image": "chaff-sensor:0.1",
        "command": ["ssh"],
        "environment": { "NODE_NAME": "decky-01" },
        "cap_drop": ["ALL"],
        "cap_add": ["NET_BIND_SERVICE"],
        "read_only": true,
        "tmpfs": ["/tmp:size=16m"],
    });
    let checked = check_fragment(&spec(), &fragment).unwrap();
    assert_eq!(Value::Object(checked), fragment);
}

#[test]
fn shape_and_image() {
    let v = check_fragment(&spec(), &json!(["image"])).unwrap_err();
    assert_eq!(v.kind, ViolationKind::NotAnObject);
    let v = check_fragment(&spec(), &json!({ "command": "x" })).unwrap_err();
    assert_eq!((v.field.as_str(), v.kind), ("image", ViolationKind::MissingImage));
    assert_refused("image", json!("alpine:latest"), "image", ViolationKind::Image);
    assert_refused("image", json!(5), "image", ViolationKind::InvalidValue);
    assert!(violation("image", json!("alpine:latest")).message.contains("alpine:latest"));
}

#[test]
fn unknown_and_host_owned_keys() {
    assert_refused("x-custom", json!(1), "x-custom", ViolationKind::UnknownKey);
    assert_refused("oom_kill_disable", json!(true), "oom_kill_disable", ViolationKind::UnknownKey);
    for key in HOST_OWNED_KEYS {
        assert_refused(key, json!("anything"), key, ViolationKind::HostOwnedKey);
    }
}

#[test]
fn privileged_and_namespaces() {
    assert_refused("privileged", json!(true), "privileged", ViolationKind::Privileged);
    assert_allowed("privileged", json!(false));
    for key in NAMESPACE_KEYS {
        assert_refused(key, json!("host"), key, ViolationKind::HostNamespace);
        assert_refused(key, json!("container:other"), key, ViolationKind::HostNamespace);
    }
    assert!(violation("pid", json!("host")).message.contains("host"));
    assert_refused("network_mode", json!("host"), "network_mode", ViolationKind::HostOwnedKey);
}

#[test]
fn devices() {
    assert_refused("devices", json!(["/dev/mem:/dev/mem"]), "devices", ViolationKind::Device);
    assert_refused("device_cgroup_rules", json!(["c 1:3 mr"]), "device_cgroup_rules", ViolationKind::Device);
    assert_refused("gpus", json!("all"), "gpus", ViolationKind::Device);
}

#[test]
fn security_opt_may_only_add_confinement() {
    assert_allowed("security_opt", json!(["no-new-privileges:true"]));
    for bad in [
        "seccomp:unconfined",
        "apparmor:unconfined",
        "label:disable",
        "label=disable",
        "systempaths=unconfined",
        "seccomp=/x.json",
    ] {
        assert_refused(
            "security_opt",
            json!(["no-new-privileges", bad]),
            "security_opt[1]",
            ViolationKind::SecurityOpt,
        );
    }
}

#[test]
fn volumes_are_named_only() {
    assert_allowed("volumes", json!(["data:/var/lib/x", "cache:/cache:ro", "/anonymous"]));
    assert_allowed("volumes", json!([{ "type": "volume", "source": "data", "target": "/data" }]));
    assert_allowed("volumes", json!([{ "type": "tmpfs", "target": "/run", "tmpfs": { "size": 1024 } }]));
    for bind in ["/etc:/etc", "./x:/x", "~/x:/x", "../x:/x", "/:/host:ro"] {
        assert_refused("volumes", json!(["data:/d", bind]), "volumes[1]", ViolationKind::BindMount);
    }
    assert_refused(
        "volumes",
        json!([{ "type": "bind", "source": "/etc", "target": "/etc" }]),
        "volumes[0]",
        ViolationKind::BindMount,
    );
    assert_refused(
        "volumes",
        json!([{ "type": "npipe", "source": "x", "target": "/x" }]),
        "volumes[0]",
        ViolationKind::BindMount,
    );
    assert_refused(
        "volumes",
        json!([{ "source": "x", "target": "/x" }]),
        "volumes[0]",
        ViolationKind::BindMount,
    );
    assert_refused(
        "volumes",
        json!([{ "type": "volume", "source": "/etc", "target": "/x" }]),
        "volumes[0]",
        ViolationKind::BindMount,
    );
    assert_refused(
        "volumes",
        json!([{ "type": "volume", "target": "/x", "bind": {} }]),
        "volumes[0].bind",
        ViolationKind::BindMount,
    );
    assert_refused("volumes", json!(["data:relative"]), "volumes[0]", ViolationKind::InvalidValue);
    assert_refused("volumes_from", json!(["other"]), "volumes_from", ViolationKind::VolumesFrom);
}

#[test]
fn the_docker_socket_is_named_specifically() {
    for sock in [
        "/var/run/docker.sock:/var/run/docker.sock",
        "/run/docker.sock:/sock",
        "/run/containerd/containerd.sock:/c",
    ] {
        let v = violation("volumes", json!([sock]));
        assert_eq!((v.field.as_str(), v.kind), ("volumes[0]", ViolationKind::DockerSocket), "{sock}");
        assert!(v.message.contains("Docker socket"), "{v}");
    }
    assert_refused(
        "volumes",
        json!([{ "type": "bind", "source": "/var/run/docker.sock", "target": "/s" }]),
        "volumes[0]",
        ViolationKind::DockerSocket,
    );
}

#[test]
fn capabilities_are_declared_and_allowlisted() {
    assert_allowed("cap_add", json!(["NET_BIND_SERVICE", "cap_net_bind_service"]));
    // Declared but outside the global allowlist.
    assert_refused(
        "cap_add",
        json!(["NET_BIND_SERVICE", "SYS_ADMIN"]),
        "cap_add[1]",
        ViolationKind::Capability,
    );
    assert!(violation("cap_add", json!(["SYS_ADMIN"])).message.contains("allowlist"));
    // NET_RAW is for fleet singletons only.
    assert_refused("cap_add", json!(["NET_RAW"]), "cap_add[0]", ViolationKind::Capability);
    // Allowlisted but not declared.
    let v = violation("cap_add", json!(["CHOWN"]));
    assert_eq!((v.field.as_str(), v.kind), ("cap_add[0]", ViolationKind::Capability));
    assert!(v.message.contains("not declared"), "{v}");
    assert_refused("cap_add", json!(["ALL"]), "cap_add[0]", ViolationKind::Capability);

    let mut singleton = spec();
    singleton.fleet_singleton = true;
    assert!(check_fragment(&singleton, &with("cap_add", json!(["NET_RAW"]))).is_ok());
    assert_eq!(effective_capabilities(&singleton), ["NET_BIND_SERVICE", "NET_RAW"]);
    assert_allowed("cap_drop", json!(["ALL"]));
}

#[test]
fn ports_must_be_declared_with_their_protocol() {
    assert_allowed(
        "ports",
        json!(["80", "80:80", "8080-8081:8080-8081", "127.0.0.1:80:80/tcp", "53:53/udp", 80]),
    );
    assert_allowed("ports", json!([{ "target": 80, "published": "80", "protocol": "tcp" }]));
    assert_allowed("ports", json!(["[::1]:80:80"]));
    assert_refused("ports", json!(["80", "2222:2222"]), "ports[1]", ViolationKind::Port);
    assert_refused("ports", json!(["2222:80"]), "ports[0]", ViolationKind::Port);
    assert_refused("ports", json!(["80/udp"]), "ports[0]", ViolationKind::Port);
    assert_refused("ports", json!(["53"]), "ports[0]", ViolationKind::Port);
    assert_refused("ports", json!(["8080-8082"]), "ports[0]", ViolationKind::Port);
    assert_refused("ports", json!([{ "target": 53, "protocol": "tcp" }]), "ports[0]", ViolationKind::Port);
    assert_refused("ports", json!(["80/sctp"]), "ports[0]", ViolationKind::InvalidValue);
    assert!(violation("ports", json!(["2222:2222"])).message.contains("2222/tcp"));
    assert_allowed("expose", json!(["80", 8080, "53/udp"]));
    assert_refused("expose", json!(["80", "443"]), "expose[1]", ViolationKind::Port);
}

#[test]
fn environment_and_labels() {
    assert_allowed("environment", json!({ "A": "1", "B": "" }));
    assert_allowed("environment", json!(["A=1", "B="]));
    assert_refused("environment", json!({ "A": 1 }), "environment[A]", ViolationKind::InvalidValue);
    assert_refused("environment", json!(["NOEQUALS"]), "environment[0]", ViolationKind::InvalidValue);
    assert_refused("environment", json!("A=1"), "environment", ViolationKind::InvalidValue);
    assert_allowed("labels", json!({ "com.example.role": "web" }));
    assert_refused(
        "labels",
        json!({ "io.chaff.decky": "x" }),
        "labels[io.chaff.decky]",
        ViolationKind::ReservedLabel,
    );
    assert_refused(
        "labels",
        json!(["io.chaff.fleet=x"]),
        "labels[io.chaff.fleet]",
        ViolationKind::ReservedLabel,
    );
}

#[test]
fn resource_caps_stay_under_host_maxima() {
    assert_allowed("mem_limit", json!("256m"));
    assert_allowed("mem_limit", json!(1 << 20));
    assert_refused("mem_limit", json!("4g"), "mem_limit", ViolationKind::ResourceLimit);
    assert_refused("mem_limit", json!("lots"), "mem_limit", ViolationKind::InvalidValue);
    assert_refused("memswap_limit", json!(-1), "memswap_limit", ViolationKind::InvalidValue);
    assert_refused("shm_size", json!("1g"), "shm_size", ViolationKind::ResourceLimit);
    assert_allowed("pids_limit", json!(128));
    assert_refused("pids_limit", json!(-1), "pids_limit", ViolationKind::ResourceLimit);
    assert_refused("pids_limit", json!(100000), "pids_limit", ViolationKind::ResourceLimit);
    assert_allowed("cpus", json!("0.5"));
    assert_refused("cpus", json!(16), "cpus", ViolationKind::ResourceLimit);
    assert_refused("cpu_shares", json!(4096), "cpu_shares", ViolationKind::ResourceLimit);
    assert_allowed("ulimits", json!({ "nofile": { "soft": 1024, "hard": 4096 }, "nproc": 64 }));
    assert_refused("ulimits", json!({ "memlock": -1 }), "ulimits.memlock", ViolationKind::ResourceLimit);
    assert_refused("ulimits", json!({ "nofile": 1 << 30 }), "ulimits.nofile", ViolationKind::ResourceLimit);
    assert_eq!(parse_byte_size("64kb"), Some(64 << 10));
    assert_eq!(parse_byte_size("2G"), Some(2 << 30));
    assert_eq!(parse_byte_size("1.5g"), None);
}

#[test]
fn plain_keys_are_type_checked() {
    assert_allowed("command", json!("sleep infinity"));
    assert_refused("command", json!([1]), "command[0]", ViolationKind::InvalidValue);
    assert_refused("read_only", json!("yes"), "read_only", ViolationKind::InvalidValue);
    assert_allowed("working_dir", json!("/srv"));
    assert_refused("working_dir", json!("srv"), "working_dir", ViolationKind::InvalidValue);
    assert_allowed("user", json!("1000:1000"));
    assert_allowed("user", json!(1000));
    assert_refused("tmpfs", json!(["relative"]), "tmpfs[0]", ViolationKind::InvalidValue);
    assert_allowed("tmpfs", json!("/run"));
    assert_allowed("healthcheck", json!({ "test": ["CMD", "true"], "interval": "10s" }));
    assert_refused(
        "healthcheck",
        json!({ "privileged": true }),
        "healthcheck.privileged",
        ViolationKind::UnknownKey,
    );
    assert_allowed("stop_signal", json!("SIGINT"));
}
