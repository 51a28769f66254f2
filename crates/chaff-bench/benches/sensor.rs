//! Sensor benchmarks on the local Docker engine, reported side by side in one run:
//!
//! 1. The image: its size, and the time to build it from the embedded binary (Docker's part:
//!    the image removed, then [`ensure_sensor_image`]); with `--compile`, also the time to
//!    compile the static sensor binary from nothing (an empty target dir, the same flags as
//!    `crates/chaff-sensor-image/build.rs`).
//! 2. Idle memory: the resident set (VmRSS, read from /proc on the host) of one container
//!    per service, each with its emulator started and idle, vs the smallest
//!    alternative a user would otherwise run per service: a Python asyncio TCP listener that
//!    does nothing (the original framework runs one Python emulator per service).
//! 3. The http emulator under load: `wrk` with many concurrent connections from the host to
//!    a sensor container on a bridge network, vs Python's `http.server`
//!    (ThreadingHTTPServer) on loopback serving a page of the same size. Every request the
//!    sensor answers must also be recorded: the `request` events in the container's log are
//!    counted against wrk's total.
//!
//! Needs Docker, `wrk` and `python3` on this machine. Owns containers `bench-sensor-*`,
//! network `benchsensor` (10.244.9.0/24) and removes them before starting and at the end.
//!
//! Run: `cargo bench -p chaff-bench --bench sensor` (see BENCHMARKS.md). Options after
//! `--`: `--reps N` (image builds, default 5), `--connections N` (default 1000),
//! `--duration S` (seconds of load per server, default 15), `--compile`, `--memory-only`
//! (only the idle memory part).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chaff_docker::BollardDocker;
use chaff_docker::images::ensure_sensor_image;

const NETWORK: &str = "benchsensor";
const SUBNET: &str = "10.244.9.0/24";
const HTTP_IP: &str = "10.244.9.10";
const PREFIX: &str = "bench-sensor-";
/// The services whose idle memory is measured (every service that runs on a decky), with
/// the environment their plugin sets where the emulator needs it.
const SERVICES: [(&str, &[(&str, &str)]); 28] = [
    ("ssh", &[("SSH_USER", "ubuntu"), ("SSH_USER_PASSWORD", "admin"), ("SSH_ROOT_PASSWORD", "admin")]),
    (
        "telnet",
        &[("TELNET_USER", "ubuntu"), ("TELNET_USER_PASSWORD", "admin"), ("TELNET_ROOT_PASSWORD", "admin")],
    ),
    ("http", &[]),
    ("https", &[]),
    ("ftp", &[]),
    ("smtp", &[("SMTP_OPEN_RELAY", "0"), ("SMTP_QUARANTINE_DIR", "/tmp")]),
    (
        "smtp_relay",
        &[("SMTP_OPEN_RELAY", "1"), ("SMTP_QUARANTINE_DIR", "/tmp"), ("SMTP_SERVICE_NAME", "smtp_relay")],
    ),
    ("redis", &[]),
    ("mysql", &[]),
    ("postgres", &[]),
    ("mssql", &[]),
    ("pop3", &[]),
    ("imap", &[]),
    ("elasticsearch", &[]),
    ("docker_api", &[]),
    ("k8s", &[]),
    ("dns", &[]),
    ("snmp", &[]),
    ("tftp", &[]),
    ("conpot", &[]),
    ("ldap", &[]),
    ("llmnr", &[]),
    ("mongodb", &[]),
    ("mqtt", &[]),
    ("rdp", &[]),
    ("sip", &[]),
    ("smb", &[]),
    ("vnc", &[]),
];

struct Options {
    reps: usize,
    connections: usize,
    duration: u64,
    compile: bool,
    memory_only: bool,
}

impl Options {
    fn parse() -> Options {
        let mut options =
            Options { reps: 5, connections: 1000, duration: 15, compile: false, memory_only: false };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = |name: &str| -> usize {
                args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} takes a number"))
            };
            match arg.as_str() {
                "--reps" => options.reps = number("--reps").max(1),
                "--connections" => options.connections = number("--connections").max(1),
                "--duration" => options.duration = number("--duration").max(1) as u64,
                "--compile" => options.compile = true,
                "--memory-only" => options.memory_only = true,
                // cargo bench passes --bench; anything else is a mistake worth stopping for.
                "--bench" => {}
                other => panic!("unknown option {other}"),
            }
        }
        options
    }
}

fn main() {
    let options = Options::parse();
    cleanup();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let docker = BollardDocker::from_env();

    if options.memory_only {
        runtime.block_on(ensure_sensor_image(&docker)).expect("the sensor image builds");
    } else {
        println!("== image");
        image(&runtime, &docker, options.reps);
    }
    if options.compile {
        compile_from_nothing();
    }
    println!("\n== idle memory per service container (VmRSS)");
    idle_memory();
    if options.memory_only {
        cleanup();
        return;
    }
    println!("\n== http under load: {} connections, {} s each", options.connections, options.duration);
    http_load(options.connections, options.duration);
    cleanup();
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI runs");
    assert!(out.status.success(), "docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn cleanup() {
    let ids =
        Command::new("docker").args(["ps", "-aq", "--filter", &format!("name={PREFIX}")]).output().unwrap();
    for id in String::from_utf8_lossy(&ids.stdout).lines() {
        let _ = Command::new("docker").args(["rm", "-f", id]).output();
    }
    let _ = Command::new("docker").args(["network", "rm", NETWORK]).output();
}

fn image(runtime: &tokio::runtime::Runtime, client: &BollardDocker, reps: usize) {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let _ = Command::new("docker").args(["rmi", "-f", chaff_sensor_image::IMAGE]).output();
        let started = Instant::now();
        runtime.block_on(ensure_sensor_image(client)).expect("the sensor image builds");
        times.push(started.elapsed());
    }
    let size: u64 =
        docker(&["image", "inspect", "-f", "{{.Size}}", chaff_sensor_image::IMAGE]).parse().unwrap();
    println!("image {}: {size} bytes ({:.2} MiB)", chaff_sensor_image::IMAGE, size as f64 / 1048576.0);
    println!("embedded binary: {} bytes", chaff_sensor_image::binary().len());
    println!("docker build from the in-memory context, {reps} runs: {}", summary(&times));
}

/// Compiles the static sensor into an empty target dir with the image crate's flags.
fn compile_from_nothing() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "chaff-sensor",
            "--target",
            "x86_64-unknown-linux-gnu",
        ])
        .arg("--target-dir")
        .arg(target.path())
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in [("OPT_LEVEL", "s"), ("LTO", "true"), ("CODEGEN_UNITS", "1"), ("STRIP", "symbols")] {
        cmd.env(format!("CARGO_PROFILE_RELEASE_{key}"), value);
    }
    let started = Instant::now();
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "the sensor compiles");
    println!(
        "compile the static sensor from nothing (empty target dir): {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn idle_memory() {
    let mut rows = Vec::new();
    for (slug, env) in SERVICES {
        let name = format!("{PREFIX}{slug}");
        let mut args =
            vec!["run", "-d", "--name", &name, "--network", "none", "--read-only", "--tmpfs", "/tmp"];
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for pair in &env {
            args.extend(["-e", pair]);
        }
        args.extend(["-e", "NODE_NAME=bench-rss", chaff_sensor_image::IMAGE, slug]);
        docker(&args);
        rows.push((slug.to_owned(), name));
    }
    // The emulators prepare everything (keys, certificates, pages) at start-up; give them
    // time to settle before reading.
    std::thread::sleep(Duration::from_secs(3));
    let python = PythonListener::start();
    std::thread::sleep(Duration::from_secs(1));
    println!("{:<14} {:>10}", "service", "VmRSS");
    for (slug, name) in &rows {
        let pid = docker(&["inspect", "-f", "{{.State.Pid}}", name]);
        let running = docker(&["inspect", "-f", "{{.State.Running}}", name]);
        assert_eq!(running, "true", "{slug} is still running: {}", docker(&["logs", name]));
        println!("{slug:<14} {:>7.2} MiB", vm_rss_kib(&pid) as f64 / 1024.0);
    }
    println!(
        "{:<14} {:>7.2} MiB   (baseline: an idle Python asyncio TCP listener)",
        "python",
        vm_rss_kib(&python.0.id().to_string()) as f64 / 1024.0
    );
}

fn vm_rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process exists");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A child process killed when dropped.
struct PythonListener(Child);

impl PythonListener {
    fn start() -> PythonListener {
        let script = "import asyncio\n\
                      async def h(r, w):\n    await r.read(65536)\n    w.close()\n\
                      async def main():\n    s = await asyncio.start_server(h, '127.0.0.1', 0)\n    await s.serve_forever()\n\
                      asyncio.run(main())\n";
        PythonListener(Command::new("python3").args(["-c", script]).spawn().expect("python3 runs"))
    }
}

impl Drop for PythonListener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_load(connections: usize, duration: u64) {
    docker(&["network", "create", "--subnet", SUBNET, NETWORK]);
    let name = format!("{PREFIX}load");
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        NETWORK,
        "--ip",
        HTTP_IP,
        // Every event of the run stays in the log to be counted (the daemon may rotate).
        "--log-opt",
        "max-size=2g",
        "--log-opt",
        "max-file=1",
        "-e",
        "NODE_NAME=bench-load",
        "-e",
        "RESPONSE_CODE=200",
        chaff_sensor_image::IMAGE,
        "http",
    ]);
    let sensor_url = format!("http://{HTTP_IP}/");
    wait_for_http(&sensor_url);
    let page = Command::new("curl").args(["-s", &sensor_url]).output().expect("curl runs").stdout;

    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), &page).unwrap();
    let python = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "18089", "--directory"])
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let python = PythonListener(python);
    let python_url = "http://127.0.0.1:18089/";
    wait_for_http(python_url);

    println!("page: {} bytes", page.len());
    let sensor = wrk(&sensor_url, connections, duration);
    let baseline = wrk(python_url, connections, duration);
    drop(python);
    println!(
        "{:<28} {:>12} {:>10} {:>10} {:>10} {:>8}",
        "server", "requests/s", "p50", "p99", "requests", "errors"
    );
    for (label, run) in [("chaff-sensor http (bridge)", &sensor), ("python http.server (lo)", &baseline)] {
        println!(
            "{label:<28} {:>12.0} {:>10} {:>10} {:>10} {:>8}",
            run.requests_per_sec, run.p50, run.p99, run.requests, run.errors
        );
    }
    // Let the sensor finish writing, then count what it recorded.
    std::thread::sleep(Duration::from_secs(2));
    let logs = Command::new("docker").args(["logs", &name]).output().unwrap();
    let recorded =
        String::from_utf8_lossy(&logs.stdout).lines().filter(|l| l.contains(r#""kind":"request""#)).count();
    println!("request events the sensor recorded: {recorded} (wrk completed {})", sensor.requests);
}

fn wait_for_http(url: &str) {
    let started = Instant::now();
    while !Command::new("curl").args(["-s", "-o", "/dev/null", url]).status().unwrap().success() {
        assert!(started.elapsed() < Duration::from_secs(30), "{url} never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct WrkRun {
    requests_per_sec: f64,
    requests: u64,
    errors: u64,
    p50: String,
    p99: String,
}

fn wrk(url: &str, connections: usize, duration: u64) -> WrkRun {
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string(), "-d", &format!("{duration}s"), "--latency", url])
        .output()
        .expect("wrk runs (apt install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let errors = field("Socket errors:")
        .map(|s| s.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum())
        .unwrap_or(0)
        + field("Non-2xx or 3xx responses:").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    WrkRun {
        requests_per_sec: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or(0.0),
        requests,
        errors,
        p50: field("50%").unwrap_or_default(),
        p99: field("99%").unwrap_or_default(),
    }
}

fn summary(times: &[Duration]) -> String {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    format!("median {:.0} ms (min {:.0}, max {:.0})", ms[ms.len() / 2], ms[0], ms[ms.len() - 1])
}
