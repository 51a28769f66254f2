//! What the sensor's integration tests share: the sensor's runtime on its own threads (so
//! test clients stay plain blocking sockets, or real client programs), emulators served on
//! loopback with an injected environment, and waiting for events.
#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chaff_sensor::emulators::Emulator;
use chaff_sensor::listener::{self, TcpLimits};
use chaff_sensor::recorder::MemoryLog;
use chaff_sensor::{Env, Port, Recorder, Transport};
use serde_json::Value;
use tokio::runtime::Runtime;

pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    })
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Serves `emulator` over TCP on a free loopback port with `limits`.
pub fn serve_emulator(
    emulator: Emulator,
    limits: TcpLimits,
    decky: &str,
    slug: &str,
) -> (SocketAddr, MemoryLog) {
    let (recorder, log) = Recorder::memory(decky, slug);
    let listener = TcpListener::bind(loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let _guard = runtime().enter();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    runtime().spawn(listener::serve_tcp(listener, Arc::new(emulator), limits, Arc::new(recorder)));
    (addr, log)
}

/// Serves the emulator of catalogue port `port`/tcp of service `slug`, configured by `env`,
/// on a free loopback port (the catalogue ports are privileged), with the emulator's limits.
pub fn serve(slug: &str, port: u16, env: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    let env = Env::from_pairs(env.iter().copied());
    let emulator = Emulator::for_port(slug, Port { number: port, transport: Transport::Tcp }, &env)
        .unwrap_or_else(|e| panic!("{slug}/{port}: {e}"));
    let limits = emulator.limits();
    serve_emulator(emulator, limits, env.decky(), slug)
}

/// Serves the emulator of catalogue port `port`/udp of service `slug`, configured by `env`,
/// on a free loopback port.
pub fn serve_udp_service(slug: &str, port: u16, env: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    let env = Env::from_pairs(env.iter().copied());
    let emulator = Emulator::for_port(slug, Port { number: port, transport: Transport::Udp }, &env)
        .unwrap_or_else(|e| panic!("{slug}/{port}: {e}"));
    serve_udp(emulator, env.decky(), slug)
}

/// Runs a client program with no input and `env` added to the test's environment, for at
/// most `seconds`.
pub fn run_client(program: &str, args: &[&str], env: &[(&str, &str)], seconds: u32) -> Output {
    Command::new("timeout")
        .arg(seconds.to_string())
        .arg(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs `command` with `stdin` as its input; a command still running after `limit` is
/// killed and fails the test with what it printed.
pub fn run_command(command: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("{command:?} still running after {limit:?}\n{}", output_text(&output));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// [`run_client`] with the test's environment as it is, for at most 20 seconds.
pub fn run(program: &str, args: &[&str]) -> Output {
    run_client(program, args, &[], 20)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What a client printed, stdout then stderr.
pub fn output_text(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// `dig @127.0.0.1 -p <port of addr> <args>`, one try of at most 5 s; its output.
pub fn dig(addr: SocketAddr, args: &[&str]) -> String {
    let port = addr.port().to_string();
    let mut all = vec!["@127.0.0.1", "-p", &port, "+tries=1", "+time=5"];
    all.extend_from_slice(args);
    stdout(&run("dig", &all))
}

/// Serves `emulator` over UDP on a free loopback port.
pub fn serve_udp(emulator: Emulator, decky: &str, slug: &str) -> (SocketAddr, MemoryLog) {
    let (recorder, log) = Recorder::memory(decky, slug);
    let socket = UdpSocket::bind(loopback()).unwrap();
    let addr = socket.local_addr().unwrap();
    socket.set_nonblocking(true).unwrap();
    let _guard = runtime().enter();
    let socket = tokio::net::UdpSocket::from_std(socket).unwrap();
    runtime().spawn(listener::serve_udp(socket, Arc::new(emulator), Arc::new(recorder)));
    (addr, log)
}

/// Every event so far, parsed.
pub fn events(log: &MemoryLog) -> Vec<Value> {
    log.lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Polls the log until `done` holds for its events, or fails after 10 s.
pub fn wait_for(log: &MemoryLog, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = events(log);
        if done(&events) {
            return events;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; events: {events:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the first event of `kind` and returns it.
pub fn wait_for_kind(log: &MemoryLog, kind: &str) -> Value {
    let events = wait_for(log, kind, |e| e.iter().any(|e| e["kind"] == kind));
    events.into_iter().find(|e| e["kind"] == kind).unwrap()
}

/// The events of `kind` so far.
pub fn events_of(log: &MemoryLog, kind: &str) -> Vec<Value> {
    events(log).into_iter().filter(|e| e["kind"] == kind).collect()
}

pub fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

/// Serves `(slug, port)` emulators on their real ports of 127.0.0.1, configured by the
/// process environment, for `seconds`, events on stdout: for probing by hand with
/// `nmap -sV` (the ignored `serve_*` tests).
pub fn serve_on_real_ports(services: &[(&str, u16)], seconds: u64) {
    let ports: Vec<(&str, Port)> =
        services.iter().map(|&(slug, number)| (slug, Port { number, transport: Transport::Tcp })).collect();
    serve_on_real_ports_of(&ports, seconds);
}

/// [`serve_on_real_ports`] for ports of either transport.
pub fn serve_on_real_ports_of(services: &[(&str, Port)], seconds: u64) {
    let env = Env::from_process();
    let _guard = runtime().enter();
    for &(slug, port) in services {
        let emulator = Emulator::for_port(slug, port, &env).unwrap_or_else(|e| panic!("{slug}: {e}"));
        let recorder = Arc::new(Recorder::stdout(env.decky(), slug));
        match port.transport {
            Transport::Tcp => {
                let limits = emulator.limits();
                let listener = TcpListener::bind(("127.0.0.1", port.number)).unwrap();
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                runtime().spawn(listener::serve_tcp(listener, Arc::new(emulator), limits, recorder));
            }
            Transport::Udp => {
                let socket = UdpSocket::bind(("127.0.0.1", port.number)).unwrap();
                socket.set_nonblocking(true).unwrap();
                let socket = tokio::net::UdpSocket::from_std(socket).unwrap();
                runtime().spawn(listener::serve_udp(socket, Arc::new(emulator), recorder));
            }
        }
    }
    std::thread::sleep(Duration::from_secs(seconds));
}

/// A blocking client socket that gives up reading after 10 s.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Everything the server sends until it closes the connection (a reset, for a server closing
/// with part of the request unread, is a close too).
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return received,
            Err(e) => panic!("reading: {e}"),
        }
    }
}
