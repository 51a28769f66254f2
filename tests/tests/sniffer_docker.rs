//! The sniffer fleet service on the machine's REAL Docker daemon, deployed by the real engine:
//! a fleet of one decky with `fleet_services = sniffer` on 10.249.50.0/24. Connecting from
//! this host to the decky makes the host ask who has the decky's address (ARP, broadcast);
//! the sniffer, in its own container on the fleet network, records it as `arp_probe`, and the
//! engine stores it from the sniffer's log. Removes what it created even when it fails.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chaff_bus::Bus;
use chaff_docker::BollardDocker;
use chaff_engine::data_dir::DataDir;
use chaff_engine::naming;
use chaff_lifecycle::{DeployRequest, Engine, EngineOptions, LifecycleStatus};
use chaff_state::{EventQuery, Store, StoredEvent, Timestamp};
use chaff_tests::{connect_and_send, container_ip, remove_everything_of};

/// Guards against a hung daemon only; never a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(120);
const FLEET: &str = "snf-e2e";
const DECKY: &str = "snf-e2e-d1";
/// The fleet's gateway: the host's address on the fleet bridge, the source of its ARP.
const GATEWAY: &str = "10.249.50.1";

/// Removes the fleet on drop, whatever state the test left it in.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_everything_of(FLEET);
    }
}

fn engine_on(db: &Path) -> Engine<BollardDocker> {
    let shared = DataDir::at(Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaff-e2e-data"));
    let plugins = chaff_engine::plugins::open_plugins(&shared).expect("plugins").host;
    let store = Store::open(db, Timestamp::from_unix_millis(0)).unwrap();
    let options = EngineOptions { seed: 11, ..EngineOptions::default() };
    Engine::new(
        store,
        plugins,
        BollardDocker::from_env(),
        Bus::new(),
        tokio::runtime::Handle::current(),
        options,
    )
}

/// Collects the containers' logs until an event of `kind` from the sniffer satisfies
/// `wanted`; returns it.
async fn sniffer_event(
    engine: &Engine<BollardDocker>,
    kind: &str,
    wanted: impl Fn(&StoredEvent) -> bool,
) -> StoredEvent {
    let sniffer = naming::fleet_service_container_name(FLEET, "sniffer");
    let query = EventQuery { decky: Some(sniffer), ..EventQuery::default() };
    let started = Instant::now();
    loop {
        engine.collect_events().await.expect("collect");
        let events = engine.events(&query).unwrap();
        if let Some(event) = events.iter().find(|e| e.kind == kind && wanted(e)) {
            return event.clone();
        }
        assert!(started.elapsed() < HANG_GUARD, "no {kind} from the sniffer: {events:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sniffer_records_the_hosts_arp_for_a_decky() {
    remove_everything_of(FLEET);
    let _cleanup = Cleanup;
    let db = tempfile::tempdir().unwrap();
    let engine = engine_on(&db.path().join("chaff.db"));
    let ini = format!(
        "[general]\nname = {FLEET}\nnet = 10.249.50.0/24\ngw = {GATEWAY}\nfleet_services = sniffer\n\n\
         [{DECKY}]\nservices = redis\n"
    );
    let fleet = engine.import_ini(&ini, FLEET, false).expect("INI imports");
    let ids = engine.deploy(DeployRequest { fleet, replace: false }).unwrap().lifecycle_ids;
    let started = Instant::now();
    loop {
        let rows = engine.lifecycle(&ids).unwrap();
        if rows.iter().all(|r| r.status.is_terminal()) {
            assert!(rows.iter().all(|r| r.status == LifecycleStatus::Succeeded), "{rows:#?}");
            break;
        }
        assert!(started.elapsed() < HANG_GUARD, "deploy still running: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let capturing = sniffer_event(&engine, "capturing", |_| true).await;
    assert_eq!(capturing.field("interface").as_deref(), Some("eth0"));
    assert_eq!(capturing.service, "sniffer");

    // The host must ask: forget anything it may have learnt of the decky's address.
    let decky_ip = container_ip(DECKY);
    assert!(decky_ip.starts_with("10.249.50."), "{decky_ip}");
    let _ = Command::new("ip").args(["neigh", "flush", "to", &decky_ip]).output();
    connect_and_send(&decky_ip, 6379, b"*1\r\n$4\r\nPING\r\n");

    let probe =
        sniffer_event(&engine, "arp_probe", |e| e.field("target_ip").as_deref() == Some(decky_ip.as_str()))
            .await;
    assert_eq!(probe.fleet, FLEET);
    assert_eq!(probe.src_ip.as_deref(), Some(GATEWAY));
    assert_eq!(probe.field("proto").as_deref(), Some("arp"));
    engine.shutdown().await;
}
