//! The image on the real Docker daemon: built from `build_context()` with no registry and no
//! network, run the way Chaff runs its containers (read-only root, every capability dropped
//! but the declared ones), and reached over a bridge network this test creates.
//!
//! Every image, container and network is named `chaff-sensor-test-<random>` and removed
//! when the test ends, pass or fail. The only addresses contacted are the containers' on
//! those networks.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chaff_plugin_host::{HostOptions, Origin, PluginHost};
use serde_json::Value;

fn random_name() -> String {
    format!("chaff-sensor-test-{:016x}", fastrand::u64(..))
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("the docker CLI runs")
}

/// Runs docker, fails the test with its stderr if it fails, returns its trimmed stdout.
fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Everything a test created on the daemon, removed on drop (also when the test panics).
#[derive(Default)]
struct Resources {
    images: Vec<String>,
    containers: Vec<String>,
    networks: Vec<String>,
}

impl Drop for Resources {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = docker(&["rm", "-f", "-v", container]);
        }
        for network in &self.networks {
            let _ = docker(&["network", "rm", network]);
        }
        for image in &self.images {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

impl Resources {
    /// Builds the image from `build_context()` with the engine's classic builder (the one
    /// the Docker API's build endpoint runs), with no network, and returns its tag.
    fn build_image(&mut self) -> String {
        let tag = format!("chaff-sensor:test-{:016x}", fastrand::u64(..));
        self.images.push(tag.clone());
        let mut child = Command::new("docker")
            .args(["build", "--network", "none", "--pull=false", "-t", &tag, "-"])
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker build starts");
        let mut stdin = child.stdin.take().unwrap();
        let context = chaff_sensor_image::build_context();
        let feeder = std::thread::spawn(move || stdin.write_all(&context));
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap().expect("the context was sent");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "docker build failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stdout.contains("Pulling"), "the build pulled something: {stdout}");
        tag
    }

    /// `docker run -d` with Chaff's hardening and `args` (options, image, command).
    fn run(&mut self, args: &[&str]) -> String {
        let name = random_name();
        self.containers.push(name.clone());
        let mut full = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--read-only",
            "--tmpfs",
            "/tmp:size=16m",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
        ];
        full.extend_from_slice(args);
        docker_ok(&full);
        name
    }

    /// A user-defined bridge network on a random free 10.x.y.0/24; returns (name, subnet base).
    fn network(&mut self) -> (String, [u8; 3]) {
        for _ in 0..20 {
            let base = [10, fastrand::u8(200..=250), fastrand::u8(..)];
            let subnet = format!("{}.{}.{}.0/24", base[0], base[1], base[2]);
            let name = random_name();
            let out = docker(&["network", "create", "--driver", "bridge", "--subnet", &subnet, &name]);
            if out.status.success() {
                self.networks.push(name.clone());
                return (name, base);
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("overlap"), "docker network create failed: {stderr}");
        }
        panic!("no free 10.x.y.0/24 subnet found");
    }
}

fn inspect(object: &str, format: &str) -> String {
    docker_ok(&["inspect", "--format", format, object])
}

/// The container's stdout as events (stderr is plain-text diagnostics).
fn events(container: &str) -> Vec<Value> {
    let out = docker(&["logs", container]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON event: {l}: {e}")))
        .collect()
}

/// Polls the container's events until `done` holds, or fails after 30 s.
fn wait_for_events(container: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = events(container);
        if done(&events) {
            return events;
        }
        if Instant::now() > deadline {
            let stderr = String::from_utf8_lossy(&docker(&["logs", container]).stderr).into_owned();
            panic!("timed out waiting for {what} in {container}; events: {events:#?}; stderr: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

/// Waits for the container to stop by itself; returns its exit code.
fn wait_exit(container: &str) -> i64 {
    docker_ok(&["wait", container]).parse().unwrap()
}

/// Resident memory of the container's main process, in KiB, from the host's /proc.
fn rss_kib(container: &str) -> u64 {
    let pid = inspect(container, "{{.State.Pid}}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/<pid>/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn image_builds_offline_with_its_label_and_runs_the_sensor() {
    let mut res = Resources::default();
    let tag = res.build_image();

    let labels: BTreeMap<String, String> =
        serde_json::from_str(&inspect(&tag, "{{json .Config.Labels}}")).unwrap();
    assert_eq!(
        labels.get(chaff_sensor_image::SHA_LABEL).map(String::as_str),
        Some(chaff_sensor_image::binary_sha256())
    );
    assert_eq!(labels.get("io.chaff.managed").map(String::as_str), Some("true"));
    assert_eq!(inspect(&tag, "{{json .Config.Entrypoint}}"), r#"["/chaff-sensor"]"#);
    assert_eq!(inspect(&tag, "{{json .Config.Cmd}}"), r#"["idle"]"#);
    let size: u64 = inspect(&tag, "{{.Size}}").parse().unwrap();
    eprintln!("image size: {size} bytes (binary {} bytes)", chaff_sensor_image::binary().len());
    // The binary is the image: no base layer.
    assert!(size < chaff_sensor_image::binary().len() as u64 + 64 * 1024, "image size {size}");

    let version = docker_ok(&["run", "--rm", "--network", "none", &tag, "--version"]);
    assert_eq!(version, format!("chaff-sensor {}", chaff_sensor::VERSION));

    let unknown = docker(&["run", "--rm", "--network", "none", &tag, "gopher"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown emulator \"gopher\""));
}

#[test]
fn idle_base_container_stops_with_exit_code_0() {
    let mut res = Resources::default();
    let tag = res.build_image();
    // The default command is `idle`.
    let container = res.run(&["--network", "none", &tag]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inspect(&container, "{{.State.Running}}"), "true");
    eprintln!(
        "idle RSS: {} KiB; docker stats: {}",
        rss_kib(&container),
        docker_ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", &container])
    );
    assert!(rss_kib(&container) < 5 * 1024, "idle sensor uses {} KiB", rss_kib(&container));

    docker_ok(&["stop", "-t", "10", &container]);
    assert_eq!(inspect(&container, "{{.State.ExitCode}}"), "0", "idle must exit 0 on SIGTERM, not be killed");
    assert_eq!(inspect(&container, "{{.State.OOMKilled}}"), "false");
    assert!(events(&container).is_empty(), "idle writes no events");
}

#[test]
fn tcp_service_records_a_connection_from_the_host() {
    let mut res = Resources::default();
    let tag = res.build_image();
    let (network, base) = res.network();
    let ip = Ipv4Addr::new(base[0], base[1], base[2], 10);
    let ip_text = ip.to_string();
    let container = res.run(&[
        "--network",
        &network,
        "--ip",
        &ip_text,
        "--hostname",
        "decky-tcp",
        "--cap-add",
        "NET_BIND_SERVICE",
        "-e",
        "NODE_NAME=decky-tcp",
        &tag,
        "redis",
    ]);
    let listening = wait_for_events(&container, "listening", |e| count(e, "listening") == 1);
    assert_eq!(listening[0]["bind"], "0.0.0.0:6379");
    eprintln!("redis RSS: {} KiB", rss_kib(&container));

    let target = SocketAddr::from((ip, 6379));
    let mut client =
        TcpStream::connect_timeout(&target, Duration::from_secs(10)).expect("reach the container");
    let local = client.local_addr().unwrap();
    client.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let events = wait_for_events(&container, "disconnect", |e| count(e, "disconnect") == 1);
    let connect = events.iter().find(|e| e["kind"] == "connect").expect("a connect event");
    let disconnect = events.iter().find(|e| e["kind"] == "disconnect").unwrap();
    for e in [connect, disconnect] {
        assert_eq!(e["v"], 1);
        assert_eq!(e["decky"], "decky-tcp");
        assert_eq!(e["service"], "redis");
        assert_eq!(e["transport"], "tcp");
        assert_eq!(e["src_ip"], local.ip().to_string());
        assert_eq!(e["src_port"], local.port());
        assert_eq!(e["dst_port"], 6379);
        assert_eq!(e["conn"], connect["conn"]);
    }
    assert_eq!(disconnect["bytes_in"], 14);
    assert_eq!(disconnect["preview"], "*1\\r\\n$4\\r\\nPING\\r\\n");
    assert_eq!(disconnect["reason"], "eof");

    docker_ok(&["stop", "-t", "10", &container]);
    assert_eq!(inspect(&container, "{{.State.ExitCode}}"), "0");
}

#[test]
fn udp_service_records_a_datagram_from_the_host() {
    let mut res = Resources::default();
    let tag = res.build_image();
    let (network, base) = res.network();
    let ip = Ipv4Addr::new(base[0], base[1], base[2], 10);
    let ip_text = ip.to_string();
    let container = res.run(&[
        "--network",
        &network,
        "--ip",
        &ip_text,
        "--cap-add",
        "NET_BIND_SERVICE",
        "-e",
        "NODE_NAME=decky-udp",
        &tag,
        "snmp",
    ]);
    wait_for_events(&container, "listening", |e| count(e, "listening") == 1);

    let client = UdpSocket::bind("0.0.0.0:0").unwrap();
    client.connect(SocketAddr::from((ip, 161))).unwrap();
    let local = client.local_addr().unwrap();
    // An SNMPv1 GetRequest prefix with community "public".
    client.send(b"\x30\x26\x02\x01\x00\x04\x06public").unwrap();

    let events = wait_for_events(&container, "datagram", |e| count(e, "datagram") == 1);
    let datagram = events.iter().find(|e| e["kind"] == "datagram").unwrap();
    assert_eq!(datagram["decky"], "decky-udp");
    assert_eq!(datagram["service"], "snmp");
    assert_eq!(datagram["transport"], "udp");
    assert_eq!(datagram["src_ip"], local.ip().to_string());
    assert_eq!(datagram["src_port"], local.port());
    assert_eq!(datagram["dst_port"], 161);
    assert_eq!(datagram["bytes"], 13);
    assert_eq!(datagram["preview"], "0&\\x02\\x01\\x00\\x04\\x06public");

    docker_ok(&["stop", "-t", "10", &container]);
    assert_eq!(inspect(&container, "{{.State.ExitCode}}"), "0");
}

/// Every catalogue service starts with exactly the capabilities its plugin declares, on a
/// host that reserves ports below 1024 for NET_BIND_SERVICE, binds all its ports, and
/// stops cleanly.
#[test]
fn every_catalogue_service_binds_its_ports_with_its_declared_capabilities() {
    let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaff-sensor-image-plugin-cache");
    let mut host = PluginHost::new(HostOptions { cache_dir: Some(cache), ..HostOptions::default() }).unwrap();
    for plugin in chaff_builtin_plugins::BUILTIN {
        host.load(plugin.manifest, plugin.wasm, Origin::Builtin).unwrap();
    }
    let mut res = Resources::default();
    let tag = res.build_image();
    let services = host.services();
    let mut started = Vec::new();
    for service in &services {
        let env = format!("NODE_NAME=decky-{}", service.slug.replace('_', "-"));
        let mut args =
            vec!["--network", "none", "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024", "-e", &env];
        if service.ports.is_empty() {
            // The sniffer listens on no port: it captures, here on loopback (there is no eth0
            // without a network).
            args.extend(["-e", "SNIFFER_INTERFACE=lo"]);
        }
        for cap in &service.capabilities {
            args.extend(["--cap-add", cap]);
        }
        args.extend([tag.as_str(), service.slug.as_str()]);
        started.push((service, res.run(&args)));
    }
    for (service, container) in &started {
        let ready = if service.ports.is_empty() { "capturing" } else { "listening" };
        let events = wait_for_events(container, ready, |e| {
            let started = count(e, "listening") == service.ports.len() && count(e, ready) >= 1;
            started || count(e, "error") > 0
        });
        assert_eq!(count(&events, "error"), 0, "{}: {events:#?}", service.slug);
        let mut bound: Vec<(u64, String)> = events
            .iter()
            .filter(|e| e["kind"] == "listening")
            .map(|e| (e["dst_port"].as_u64().unwrap(), e["transport"].as_str().unwrap().to_owned()))
            .collect();
        let mut declared: Vec<(u64, String)> = service
            .ports
            .iter()
            .map(|p| (u64::from(p.number), p.to_string().rsplit('/').next().unwrap().to_owned()))
            .collect();
        bound.sort();
        declared.sort();
        assert_eq!(bound, declared, "{}", service.slug);
        assert_eq!(inspect(container, "{{.State.Running}}"), "true", "{}", service.slug);
    }
    for (service, container) in &started {
        docker_ok(&["stop", "-t", "10", container]);
        assert_eq!(inspect(container, "{{.State.ExitCode}}"), "0", "{}", service.slug);
    }
}

/// Without NET_BIND_SERVICE on a host that reserves low ports, ssh cannot bind port 22:
/// the sensor says so and exits 1 instead of running half a service.
#[test]
fn a_port_that_cannot_be_bound_is_fatal() {
    let mut res = Resources::default();
    let tag = res.build_image();
    let container =
        res.run(&["--network", "none", "--sysctl", "net.ipv4.ip_unprivileged_port_start=1024", &tag, "ssh"]);
    assert_eq!(wait_exit(&container), 1);
    let logs = docker(&["logs", &container]);
    let stderr = String::from_utf8_lossy(&logs.stderr);
    assert!(stderr.contains("cannot listen on tcp port 22"), "{stderr}");
    let events = events(&container);
    assert_eq!(count(&events, "error"), 1, "{events:#?}");
    assert_eq!(events[0]["dst_port"], 22);
}
