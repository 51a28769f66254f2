//! Sensor events on the machine's REAL Docker daemon: a decky's redis sensor is connected to
//! from this host, and its events are read from the container's log by the engine — caught
//! up (`collect_events`) and followed (`follow_events`) — across container restarts and
//! fresh engines, each exactly once; published on the bus; forwarded as syslog to real UDP
//! and TCP listeners on 127.0.0.1.
//!
//! Each test owns a fleet name, a subnet (10.245.x) and decky names nobody else uses, and
//! removes what it created even when it fails. The tests of this file run one at a time.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use chaff_bus::{Bus, Pattern, Received};
use chaff_docker::BollardDocker;
use chaff_engine::data_dir::DataDir;
use chaff_lifecycle::{
    DeployRequest, Engine, EngineOptions, ErrorCode, LifecycleStatus, TeardownTarget, Uuid,
};
use chaff_state::{EventQuery, Store, StoredEvent, Timestamp};
use chaff_tests::{connect_and_send, container_ip, docker, remove_everything_of};

/// Guards against a hung daemon only; never a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(120);

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A fleet of one decky running `redis`, deployed by an engine with its own database.
struct Lab {
    fleet: String,
    decky: String,
    db: tempfile::TempDir,
}

impl Lab {
    async fn deploy(fleet: &str, decky: &str, subnet: u8, log_target: Option<&str>) -> Lab {
        remove_everything_of(fleet);
        let lab = Lab { fleet: fleet.to_owned(), decky: decky.to_owned(), db: tempfile::tempdir().unwrap() };
        let engine = lab.engine();
        let log_target = log_target.map(|t| format!("log_target = {t}\n")).unwrap_or_default();
        let ini = format!(
            "[general]\nname = {fleet}\nnet = 10.245.{subnet}.0/24\ngw = 10.245.{subnet}.1\n{log_target}\n\
             [{decky}]\nservices = redis\n"
        );
        let fleet_model = engine.import_ini(&ini, fleet, false).expect("INI imports");
        let ids = engine.deploy(DeployRequest { fleet: fleet_model, replace: false }).unwrap().lifecycle_ids;
        succeeded(&engine, &ids).await;
        engine.shutdown().await;
        lab
    }

    /// A new engine on the lab's database: a fresh process, as far as the engine can tell.
    fn engine(&self) -> Engine<BollardDocker> {
        engine_on(&self.db.path().join("chaff.db"), Bus::new())
    }

    fn engine_with_bus(&self, bus: Bus) -> Engine<BollardDocker> {
        engine_on(&self.db.path().join("chaff.db"), bus)
    }

    fn redis(&self) -> String {
        format!("{}-redis", self.decky)
    }

    /// Connects to the decky's redis port from this host; returns the source port.
    fn attack(&self, bytes: &[u8]) -> u16 {
        connect_and_send(&container_ip(&self.decky), 6379, bytes)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        remove_everything_of(&self.fleet);
    }
}

async fn succeeded(engine: &Engine<BollardDocker>, ids: &[Uuid]) {
    let started = Instant::now();
    loop {
        let rows = engine.lifecycle(ids).unwrap();
        if rows.iter().all(|r| r.status.is_terminal()) {
            assert!(rows.iter().all(|r| r.status == LifecycleStatus::Succeeded), "{rows:#?}");
            return;
        }
        assert!(started.elapsed() < HANG_GUARD, "operation still running: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn engine_on(db: &Path, bus: Bus) -> Engine<BollardDocker> {
    let shared = DataDir::at(Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaff-e2e-data"));
    let plugins = chaff_engine::plugins::open_plugins(&shared).expect("plugins").host;
    let store = Store::open(db, Timestamp::from_unix_millis(0)).unwrap();
    let options = EngineOptions { seed: 11, ..EngineOptions::default() };
    Engine::new(store, plugins, BollardDocker::from_env(), bus, tokio::runtime::Handle::current(), options)
}

/// Every stored event of the lab's decky.
fn stored(engine: &Engine<BollardDocker>, decky: &str) -> Vec<StoredEvent> {
    engine.events(&EventQuery { decky: Some(decky.to_owned()), ..EventQuery::default() }).unwrap()
}

/// The events of one client connection (by its source port), as (kind, count).
fn of_client(events: &[StoredEvent], src_port: u16) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for event in events.iter().filter(|e| e.field("src_port").as_deref() == Some(&src_port.to_string())) {
        *kinds.entry(event.kind.clone()).or_insert(0) += 1;
    }
    kinds
}

/// Every event of one connection stored exactly once: its `connect`, its `disconnect`, and
/// what the emulator recorded in between (one request, so no kind twice).
fn assert_each_once(kinds: &BTreeMap<String, usize>) {
    assert!(kinds.get("connect") == Some(&1) && kinds.get("disconnect") == Some(&1), "{kinds:?}");
    assert!(kinds.values().all(|n| *n == 1), "an event stored twice: {kinds:?}");
}

/// Collects until the client's `disconnect` is stored (the sensor logs it once the client
/// closed; Docker writes it to the log a moment later).
async fn collect_until_disconnect(engine: &Engine<BollardDocker>, decky: &str, src_port: u16) {
    let started = Instant::now();
    loop {
        engine.collect_events().await.expect("collect");
        if of_client(&stored(engine, decky), src_port).contains_key("disconnect") {
            return;
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "no disconnect from port {src_port}: {:#?}",
            stored(engine, decky)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn docker_restart(container: &str) {
    let out = std::process::Command::new("docker").args(["restart", "-t", "1", container]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collected_events_are_stored_once_across_restarts_repeats_and_fresh_engines() {
    let _serial = SERIAL.lock().await;
    let syslog = UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let target = format!("udp://127.0.0.1:{}", syslog.local_addr().unwrap().port());
    let lab = Lab::deploy("ev-once", "evo-a", 1, Some(&target)).await;

    let bus = Bus::new();
    let mut observed = bus.subscribe(Pattern::new("attacker.observed").unwrap());
    let engine = lab.engine_with_bus(bus);
    let first = lab.attack(b"*1\r\n$4\r\nPING\r\n");
    collect_until_disconnect(&engine, &lab.decky, first).await;
    let events = stored(&engine, &lab.decky);
    assert_each_once(&of_client(&events, first));
    assert_eq!(events.iter().filter(|e| e.kind == "listening").count(), 1, "{events:#?}");
    let disconnect = events.iter().find(|e| e.kind == "disconnect").unwrap();
    assert_eq!((disconnect.fleet.as_str(), disconnect.service.as_str()), ("ev-once", "redis"));
    assert_eq!(disconnect.field("preview").as_deref(), Some("*1\\r\\n$4\\r\\nPING\\r\\n"));
    assert_eq!(disconnect.dst_port, Some(6379));
    assert_eq!(engine.malformed_events().unwrap(), 0);

    // Every stored event was published once, with its JSON.
    let mut published = Vec::new();
    while let Ok(Received::Event(event)) = observed.try_recv() {
        published.push(event);
    }
    assert_eq!(published.len(), events.len(), "{published:#?}");
    assert!(published.iter().all(|e| e.topic == "attacker.observed" && e.payload["fleet"] == "ev-once"));
    assert_eq!(published.last().unwrap().payload["id"], disconnect.id);
    assert_eq!(published.last().unwrap().kind, "disconnect");

    // ...and forwarded as RFC 5424 over UDP.
    let mut buffer = [0u8; 8192];
    let mut forwarded = Vec::new();
    while forwarded.len() < events.len() {
        let size = syslog.recv(&mut buffer).expect("a syslog datagram");
        forwarded.push(String::from_utf8(buffer[..size].to_vec()).unwrap());
    }
    let last = forwarded.last().unwrap();
    assert!(last.starts_with("<134>1 "), "{last}");
    assert!(last.contains(" evo-a redis - disconnect [chaff@55555 fleet=\"ev-once\" "), "{last}");
    assert!(last.ends_with(&disconnect.raw), "{last}");

    // Collecting again stores nothing.
    let again = engine.collect_events().await.unwrap();
    assert_eq!((again.containers, again.stored), (1, 0), "{again:?}");

    // A restarted container keeps its log; its new lines are read, its old ones not again.
    docker_restart(&lab.redis());
    let second = lab.attack(b"AUTH hunter2\r\n");
    collect_until_disconnect(&engine, &lab.decky, second).await;
    engine.shutdown().await;

    // A fresh engine (a new process) finds nothing new, twice.
    for _ in 0..2 {
        let fresh = lab.engine();
        assert_eq!(fresh.collect_events().await.unwrap().stored, 0);
        fresh.shutdown().await;
    }
    let events = stored(&lab.engine(), &lab.decky);
    assert_each_once(&of_client(&events, first));
    assert_each_once(&of_client(&events, second));
    assert_eq!(events.iter().filter(|e| e.kind == "listening").count(), 2, "one per start");
    // Each line of the container's log is exactly one event.
    let log_lines = docker(&["logs", &lab.redis()]).lines().count();
    assert_eq!(events.len(), log_lines, "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_reattaches_after_a_restart_and_forwards_over_tcp() {
    let _serial = SERIAL.lock().await;
    let syslog = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp://127.0.0.1:{}", syslog.local_addr().unwrap().port());
    let lab = Lab::deploy("ev-follow", "evf-a", 2, Some(&target)).await;

    let engine = lab.engine();
    let following = tokio::spawn({
        let engine = engine.clone();
        async move { engine.follow_events().await }
    });
    let first = lab.attack(b"PING\r\n");
    wait_for_disconnect(&engine, &lab.decky, first).await;

    // Restarted twice: the follower attaches again each time, without a collect.
    for round in 0..2 {
        docker_restart(&lab.redis());
        let port = lab.attack(format!("round {round}\r\n").as_bytes());
        wait_for_disconnect(&engine, &lab.decky, port).await;
        assert_each_once(&of_client(&stored(&engine, &lab.decky), port));
    }
    let stats = engine.forwarding_stats();
    engine.shutdown().await;
    following.await.unwrap();
    assert_eq!(stats["ev-follow"].dropped, 0, "{stats:?}");

    // What the follower stored is all there is: a catch-up from a fresh engine adds nothing.
    let fresh = lab.engine();
    assert_eq!(fresh.collect_events().await.unwrap().stored, 0);
    let events = stored(&fresh, &lab.decky);
    assert_eq!(events.len(), docker(&["logs", &lab.redis()]).lines().count());
    assert_each_once(&of_client(&events, first));
    fresh.shutdown().await;

    // The TCP listener got every event, octet-counted, in order, on one connection.
    let (mut connection, _) = syslog.accept().unwrap();
    connection.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut received = Vec::new();
    connection.read_to_end(&mut received).unwrap();
    let messages = octet_frames(&String::from_utf8(received).unwrap());
    assert_eq!(messages.len(), events.len(), "{messages:#?}");
    for (message, event) in messages.iter().zip(&events) {
        assert!(message.ends_with(&event.raw), "{message}");
        assert!(message.contains(&format!(" evf-a redis - {} [chaff@55555 ", event.kind)), "{message}");
    }
}

/// Polls the store (the follower stores on its own) until the client's disconnect is there.
async fn wait_for_disconnect(engine: &Engine<BollardDocker>, decky: &str, src_port: u16) {
    let started = Instant::now();
    while !of_client(&stored(engine, decky), src_port).contains_key("disconnect") {
        assert!(
            started.elapsed() < HANG_GUARD,
            "not followed: port {src_port}: {:#?}",
            stored(engine, decky)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `LEN SP MSG` frames, split.
fn octet_frames(mut stream: &str) -> Vec<String> {
    let mut messages = Vec::new();
    while !stream.is_empty() {
        let (length, rest) = stream.split_once(' ').expect("LEN SP");
        let length: usize = length.parse().expect("a length");
        messages.push(rest[..length].to_owned());
        stream = &rest[length..];
    }
    messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_containers_log_is_read_before_the_container_is_removed() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::deploy("ev-gone", "evg-a", 5, None).await;
    let port = lab.attack(b"QUIT\r\n");
    // Docker has the client's lines; nobody has collected them.
    let started = Instant::now();
    while !docker(&["logs", &lab.redis()])
        .contains(&format!("\"src_port\":{port},\"dst_port\":6379,\"conn\":1,\"bytes_in\""))
    {
        assert!(started.elapsed() < HANG_GUARD, "the sensor never logged the disconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let engine = lab.engine();
    let ids = engine.teardown(TeardownTarget::Decky(lab.decky.clone())).unwrap().lifecycle_ids;
    succeeded(&engine, &ids).await;
    assert!(chaff_tests::fleet_container_ids(&lab.fleet).is_empty(), "the decky is gone");
    let events = stored(&engine, &lab.decky);
    assert_each_once(&of_client(&events, port));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_log_target_is_refused_at_import_and_deploy_changing_nothing() {
    let _serial = SERIAL.lock().await;
    let db = tempfile::tempdir().unwrap();
    let engine = engine_on(&db.path().join("chaff.db"), Bus::new());
    let ini = "[general]\nname = ev-bad\nnet = 10.245.3.0/24\nlog_target = syslog://10.0.0.5:514\n\n[evb-a]\nservices = redis\n";
    let error = engine.import_ini(ini, "ev-bad", false).unwrap_err();
    assert_eq!((error.code(), error.field()), (ErrorCode::InvalidInput, Some("log_target")));
    assert!(error.to_string().contains("unknown scheme 'syslog'"), "{error}");

    let mut fleet = engine.import_ini(&ini.replace("syslog://", "udp://"), "ev-bad", false).unwrap();
    fleet.log_target = Some("10.0.0.5".into());
    let error = engine.deploy(DeployRequest { fleet, replace: false }).unwrap_err();
    assert_eq!((error.code(), error.field()), (ErrorCode::InvalidInput, Some("log_target")));
    assert!(engine.fleet_names().unwrap().is_empty(), "nothing was stored");
    assert!(chaff_tests::fleet_container_ids("ev-bad").is_empty(), "nothing was created");
    engine.shutdown().await;
}
