use serde_json::json;

use super::*;

fn base_entry() -> Value {
    json!({
        "container_name": "web-1",
        "image": "chaff-sensor:0.1",
        "command": ["idle"],
        "hostname": "SRV-WEB-01",
        "networks": { "chaff_lab": { "ipv4_address": "10.200.0.10" } },
        "sysctls": { "net.ipv4.ip_default_ttl": "128" },
        "cap_drop": ["ALL"],
        "cap_add": ["NET_ADMIN"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": true,
        "restart": "unless-stopped",
        "labels": { "io.chaff.fleet": "lab", "io.chaff.role": "base" },
        "logging": { "driver": "json-file", "options": { "max-size": "10m", "max-file": "5" } },
        "mem_limit": "32m",
        "pids_limit": 32,
    })
}

#[test]
fn base_container_carries_identity_address_and_hardening() {
    let request = container_request("web-1", &base_entry(), None).unwrap();
    let body = &request.body;
    let host = body.host_config.as_ref().unwrap();
    assert_eq!(request.name, "web-1");
    assert_eq!(body.image.as_deref(), Some("chaff-sensor:0.1"));
    assert_eq!(body.cmd, Some(vec!["idle".to_owned()]));
    assert_eq!(body.hostname.as_deref(), Some("SRV-WEB-01"));
    assert_eq!(host.network_mode.as_deref(), Some("chaff_lab"));
    let endpoints = body.networking_config.as_ref().unwrap().endpoints_config.as_ref().unwrap();
    let address = endpoints["chaff_lab"].ipam_config.as_ref().unwrap().ipv4_address.as_deref();
    assert_eq!(address, Some("10.200.0.10"));
    assert_eq!(host.sysctls.as_ref().unwrap()["net.ipv4.ip_default_ttl"], "128");
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
    assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_owned()]));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.restart_policy.as_ref().unwrap().name, Some(RestartPolicyNameEnum::UNLESS_STOPPED));
    assert_eq!(host.log_config.as_ref().unwrap().config.as_ref().unwrap()["max-file"], "5");
    assert_eq!(host.memory, Some(32 * 1024 * 1024));
    assert_eq!(host.pids_limit, Some(32));
    assert_eq!(body.labels.as_ref().unwrap()["io.chaff.role"], "base");
}

#[test]
fn service_container_joins_the_base_namespace() {
    let entry = json!({
        "image": "chaff-sensor:0.1",
        "command": "ssh --verbose 'two words'",
        "network_mode": "service:web-1",
        "depends_on": ["web-1"],
        "environment": { "NODE_NAME": "web-1", "PORT": 22, "UNSET": null },
        "tmpfs": ["/tmp:size=16m", "/run"],
        "stop_grace_period": "1m30s",
        "cpus": 0.5,
        "ulimits": { "nofile": { "soft": 1024, "hard": 2048 }, "nproc": 64 },
    });
    let request = container_request("web-1-ssh", &entry, None).unwrap();
    let host = request.body.host_config.as_ref().unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("container:web-1"));
    assert!(request.body.networking_config.is_none());
    assert_eq!(request.body.cmd, Some(vec!["ssh".into(), "--verbose".into(), "two words".into()]));
    let mut env = request.body.env.clone().unwrap();
    env.sort();
    assert_eq!(env, vec!["NODE_NAME=web-1", "PORT=22"]);
    let tmpfs = host.tmpfs.as_ref().unwrap();
    assert_eq!(tmpfs["/tmp"], "size=16m");
    assert_eq!(tmpfs["/run"], "");
    assert_eq!(request.body.stop_timeout, Some(90));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    let mut ulimits = host.ulimits.clone().unwrap();
    ulimits.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!((ulimits[0].soft, ulimits[0].hard), (Some(1024), Some(2048)));
    assert_eq!((ulimits[1].soft, ulimits[1].hard), (Some(64), Some(64)));
}

#[test]
fn named_volumes_become_labelled_volume_mounts() {
    let entry = json!({ "image": "x", "volumes": ["web-1-ftp-data:/srv:ro", { "type": "volume", "source": "v2", "target": "/v" }] });
    let declared = json!({ "web-1-ftp-data": { "labels": { "io.chaff.fleet": "lab" } } });
    let request = container_request("web-1-ftp", &entry, declared.as_object()).unwrap();
    let mounts = request.body.host_config.unwrap().mounts.unwrap();
    assert_eq!(mounts[0].source.as_deref(), Some("web-1-ftp-data"));
    assert_eq!(mounts[0].target.as_deref(), Some("/srv"));
    assert_eq!(mounts[0].read_only, Some(true));
    assert_eq!(mounts[0].volume_options.as_ref().unwrap().labels.as_ref().unwrap()["io.chaff.fleet"], "lab");
    assert_eq!(mounts[1].source.as_deref(), Some("v2"));
    assert!(mounts[1].volume_options.is_none());
}

#[test]
fn errors_name_the_container_and_the_key() {
    let cases = [
        (json!({ "image": "x", "ports": ["22:22"] }), "ports", "not a key Chaff can apply"),
        (json!({ "image": "x", "mem_limit": "lots" }), "mem_limit", "expected a size"),
        (json!({ "image": "x", "volumes": ["/etc:/etc"] }), "volumes", "[0]: host paths are not mounted"),
        (json!({ "image": "x", "restart": "sometimes" }), "restart", "unknown restart policy"),
        (json!({ "image": "x", "stop_grace_period": "soon" }), "stop_grace_period", "not a duration"),
        (json!({ "image": "x", "networks": { "a": {}, "b": {} } }), "networks", "exactly one network"),
    ];
    for (entry, key, message) in cases {
        let error = container_request("web-1-x", &entry, None).unwrap_err();
        assert_eq!(error.name, "web-1-x");
        assert_eq!(error.key, key, "{error}");
        assert!(error.message.contains(message), "{error}");
        assert!(error.to_string().starts_with(&format!("container 'web-1-x', {key}: ")), "{error}");
    }
}

#[test]
fn network_request_keeps_driver_options_ipam_and_labels() {
    let entry = json!({
        "name": "chaff_lab",
        "driver": "macvlan",
        "driver_opts": { "parent": "dummy0" },
        "ipam": { "config": [{ "subnet": "10.77.0.0/24", "gateway": "10.77.0.1" }] },
        "labels": { "io.chaff.fleet": "lab", "io.chaff.managed": "true" },
    });
    let request = network_request("chaff_lab", &entry).unwrap();
    assert_eq!(request.name, "chaff_lab");
    assert_eq!(request.driver.as_deref(), Some("macvlan"));
    assert_eq!(request.options.as_ref().unwrap()["parent"], "dummy0");
    let config = &request.ipam.as_ref().unwrap().config.as_ref().unwrap()[0];
    assert_eq!(config.subnet.as_deref(), Some("10.77.0.0/24"));
    assert_eq!(config.gateway.as_deref(), Some("10.77.0.1"));
    assert_eq!(request.labels.as_ref().unwrap()["io.chaff.managed"], "true");
    let error = network_request("n", &json!({ "enable_ipv6": true })).unwrap_err();
    assert_eq!((error.object, error.key.as_str()), ("network", "enable_ipv6"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    for bad in ["", "s", "10x", "1.5s", "-1s"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}
