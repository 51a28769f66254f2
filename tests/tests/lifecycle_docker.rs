//! The lifecycle engine on the machine's REAL Docker daemon, with the real built-in plugins
//! and Chaff's own sensor image (built locally on first use).
//!
//! Each test owns a fleet name, a subnet and decky names nobody else uses, and removes what
//! it created even when it fails. The tests of this file run one at a time: they share the
//! daemon, and a parallel image build would only race.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chaff_bus::{Bus, Trigger};
use chaff_docker::BollardDocker;
use chaff_engine::data_dir::DataDir;
use chaff_lifecycle::{
    ConfigChange, DeployRequest, Engine, EngineOptions, ErrorCode, LifecycleRow, LifecycleStatus,
    TeardownTarget, Uuid,
};
use chaff_state::{Store, Timestamp};
use chaff_tests::{container_ip, docker, fleet_container_ids, network_exists, remove_everything_of};
use indexmap::IndexMap;
use serde_json::Value;

/// Guards against a hung daemon only; never a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(600);

/// Each test holds this for its whole run (an async lock: tests await while holding it, and a
/// failed test does not poison it).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An engine with its own database, sharing the compiled-plugin cache between tests.
struct Lab {
    engine: Engine<BollardDocker>,
    fleet: String,
    db: tempfile::TempDir,
}

impl Lab {
    fn new(fleet: &str, docker: BollardDocker) -> Lab {
        Lab::with_options(fleet, docker, EngineOptions { seed: 7, ..EngineOptions::default() })
    }

    fn with_options(fleet: &str, docker: BollardDocker, options: EngineOptions) -> Lab {
        remove_everything_of(fleet);
        let shared = DataDir::at(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chaff-e2e-data"));
        let plugins = chaff_engine::plugins::open_plugins(&shared).expect("plugins").host;
        let db = tempfile::tempdir().unwrap();
        let store = Store::open(db.path().join("chaff.db"), Timestamp::from_unix_millis(0)).unwrap();
        let engine =
            Engine::new(store, plugins, docker, Bus::new(), tokio::runtime::Handle::current(), options);
        Lab { engine, fleet: fleet.to_owned(), db }
    }

    fn deploy(&self, ini: &str) -> Vec<Uuid> {
        let fleet = self.engine.import_ini(ini, &self.fleet, false).expect("INI imports");
        self.engine.deploy(DeployRequest { fleet, replace: false }).expect("deploy accepted").lifecycle_ids
    }

    async fn wait(&self, ids: &[Uuid]) -> Vec<LifecycleRow> {
        let started = Instant::now();
        loop {
            let rows = self.engine.lifecycle(ids).unwrap();
            if rows.len() == ids.len() && rows.iter().all(|r| r.status.is_terminal()) {
                return rows;
            }
            assert!(started.elapsed() < HANG_GUARD, "rows still open: {rows:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn expect_success(&self, ids: &[Uuid]) {
        for row in self.wait(ids).await {
            assert_eq!(row.status, LifecycleStatus::Succeeded, "{row:#?}");
        }
    }

    fn deckies(&self) -> Vec<chaff_engine::Decky> {
        self.engine.fleet(&self.fleet).unwrap().expect("fleet stored").deckies
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        remove_everything_of(&self.fleet);
    }
}

/// name → (id, started at) of every container of `fleet`.
fn containers_of(fleet: &str) -> BTreeMap<String, (String, String)> {
    fleet_container_ids(fleet)
        .iter()
        .map(|id| {
            let line = docker(&["inspect", "-f", "{{.Name}} {{.Id}} {{.State.StartedAt}}", id]);
            let mut parts = line.split_whitespace();
            let name = parts.next().unwrap().trim_start_matches('/').to_owned();
            (name, (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned()))
        })
        .collect()
}

fn inspect(name: &str) -> Value {
    let text = docker(&["inspect", name]);
    let all: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("inspect {name}: {e}: {text}"));
    all[0].clone()
}

/// The network namespace of a running container, as the kernel names it.
fn netns(name: &str) -> String {
    let pid = inspect(name)["State"]["Pid"].as_i64().unwrap();
    std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap().display().to_string()
}

/// Every container of `fleet` except `changed` kept its id and start time.
fn unchanged_except(
    before: &BTreeMap<String, (String, String)>,
    after: &BTreeMap<String, (String, String)>,
    changed: &str,
) {
    for (name, identity) in before {
        if name != changed && after.contains_key(name) {
            assert_eq!(&after[name], identity, "{name} was touched by a change to {changed}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_deckies_deploy_then_live_service_changes_touch_only_their_container() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::new("e2e-five", BollardDocker::from_env());
    let ids = lab.deploy(
        "[general]\nname = e2e-five\nnet = 10.241.1.0/24\ngw = 10.241.1.1\n\n\
         [e5]\namount = 5\nservices = ssh, http\nnmap_os = windows\n",
    );
    assert_eq!(ids.len(), 5);
    lab.expect_success(&ids).await;

    let deckies = lab.deckies();
    let network = "chaff_e2e-five";
    for decky in &deckies {
        let base = inspect(&decky.name);
        assert_eq!(base["State"]["Running"], true);
        assert_eq!(base["NetworkSettings"]["Networks"][network]["IPAddress"], decky.ip.to_string());
        assert_eq!(base["Config"]["Hostname"], decky.hostname);
        assert_eq!(base["HostConfig"]["Sysctls"]["net.ipv4.ip_default_ttl"], "128", "windows TTL");
        let labels = &base["Config"]["Labels"];
        assert_eq!(labels["io.chaff.fleet"], "e2e-five");
        assert_eq!(labels["io.chaff.decky"], decky.name);
        assert_eq!(labels["io.chaff.role"], "base");
        assert!(labels["io.chaff.spec-hash"].as_str().is_some_and(|h| h.len() == 64));
        for service in ["ssh", "http"] {
            let name = format!("{}-{service}", decky.name);
            let container = inspect(&name);
            assert_eq!(container["State"]["Running"], true, "{name}");
            assert_eq!(container["Config"]["Labels"]["io.chaff.service"], service);
            assert_eq!(container["HostConfig"]["ReadonlyRootfs"], true);
            assert_eq!(netns(&name), netns(&decky.name), "{name} shares its base's network namespace");
        }
    }

    let d0 = deckies[0].name.clone();
    let before = containers_of("e2e-five");
    let added = lab.engine.add_service(&d0, "ftp", IndexMap::new()).unwrap();
    lab.expect_success(&added.lifecycle_ids).await;
    let after = containers_of("e2e-five");
    let ftp = format!("{d0}-ftp");
    assert!(after.contains_key(&ftp) && !before.contains_key(&ftp));
    assert_eq!(after.len(), before.len() + 1);
    unchanged_except(&before, &after, &ftp);

    let removed = lab.engine.remove_service(&d0, "ftp").unwrap();
    lab.expect_success(&removed.lifecycle_ids).await;
    let after_remove = containers_of("e2e-five");
    assert_eq!(after_remove, before, "removing ftp removed exactly its container");

    let ssh = format!("{d0}-ssh");
    let config = IndexMap::from([("user".to_owned(), Value::from("operator"))]);
    let change = ConfigChange { decky: d0.clone(), service: "ssh".into(), config, apply: true };
    let applied = lab.engine.configure_service(change).unwrap();
    lab.expect_success(&applied.lifecycle_ids).await;
    let after_apply = containers_of("e2e-five");
    assert_ne!(after_apply[&ssh].0, before[&ssh].0, "ssh was recreated");
    unchanged_except(&before, &after_apply, &ssh);
    let env = inspect(&ssh)["Config"]["Env"].clone();
    assert!(env.as_array().unwrap().iter().any(|e| e == "SSH_USER=operator"), "{env}");

    let d1 = deckies[1].name.clone();
    let mutated = lab.engine.mutate(&d1, Trigger::Operator).unwrap();
    // A second operation on a decky with one open is refused, naming the open one.
    let refused = lab.engine.mutate(&d1, Trigger::Operator).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Conflict, "{refused}");
    assert!(refused.to_string().contains(&mutated.lifecycle_ids[0].to_string()), "{refused}");
    lab.expect_success(&mutated.lifecycle_ids).await;
    let services = lab.deckies()[1].services.clone();
    assert_ne!(services, vec!["ssh".to_owned(), "http".to_owned()], "mutation changed the set");
    let running: Vec<String> =
        containers_of("e2e-five").into_keys().filter(|n| n.starts_with(&format!("{d1}-"))).collect();
    let mut expected: Vec<String> =
        services.iter().map(|s| chaff_engine::naming::service_container_name(&d1, s)).collect();
    expected.sort();
    assert_eq!(running, expected);

    let down = lab.engine.teardown(TeardownTarget::Fleet("e2e-five".into())).unwrap();
    assert_eq!(down.lifecycle_ids.len(), 5);
    lab.expect_success(&down.lifecycle_ids).await;
    assert!(containers_of("e2e-five").is_empty());
    assert!(!network_exists("e2e-five"));
    assert!(lab.engine.fleet("e2e-five").unwrap().is_none(), "a torn-down fleet is forgotten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decky_whose_address_is_taken_fails_alone() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::new("e2e-taken", BollardDocker::from_env());
    let first = lab.deploy("[general]\nname = e2e-taken\nnet = 10.241.2.0/24\ngw = 10.241.2.1\n\n[tk-one]\nip = 10.241.2.10\nservices = redis\n");
    lab.expect_success(&first).await;
    // Something outside Chaff takes .11 on the fleet's network.
    let squatter = "e2e-taken-squatter";
    docker(&["rm", "-f", squatter]);
    let run = Command::new("docker")
        .args(["run", "-d", "--name", squatter, "--network", "chaff_e2e-taken", "--ip", "10.241.2.11"])
        .args(["chaff-sensor:0.1", "idle"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let ids = lab.deploy(
        "[general]\nname = e2e-taken\nnet = 10.241.2.0/24\ngw = 10.241.2.1\n\n\
         [tk-two]\nip = 10.241.2.11\nservices = redis\n\n[tk-three]\nip = 10.241.2.12\nservices = redis\n",
    );
    let rows = lab.wait(&ids).await;
    docker(&["rm", "-f", squatter]);
    let by_decky: BTreeMap<&str, &LifecycleRow> = rows.iter().map(|r| (r.decky.as_str(), r)).collect();
    assert_eq!(by_decky["tk-three"].status, LifecycleStatus::Succeeded, "{rows:#?}");
    let failed = by_decky["tk-two"];
    assert_eq!(failed.status, LifecycleStatus::Failed);
    let error = failed.error.as_deref().unwrap();
    println!("error of the decky whose address was taken: {error}");
    assert!(error.contains("tk-two") && error.to_lowercase().contains("address"), "{error}");
    assert_eq!(inspect("tk-one")["State"]["Running"], true, "the earlier decky is untouched");

    let down = lab.engine.teardown(TeardownTarget::Fleet("e2e-taken".into())).unwrap();
    lab.expect_success(&down.lifecycle_ids).await;
    assert!(containers_of("e2e-taken").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_service_that_cannot_be_created_fails_the_rows_saying_so() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::new("e2e-fsvc", BollardDocker::from_env());
    let general =
        "[general]\nname = e2e-fsvc\nnet = 10.241.15.0/24\ngw = 10.241.15.1\nfleet_services = sniffer\n\n";
    let first = lab.deploy(&format!("{general}[fs-one]\nservices = redis\n"));
    lab.expect_success(&first).await;
    // The sniffer goes away and something outside Chaff takes its address.
    let sniffer = chaff_engine::naming::fleet_service_container_name("e2e-fsvc", "sniffer");
    let address = container_ip(&sniffer);
    assert!(address.starts_with("10.241.15."), "the sniffer has a fleet address: {address:?}");
    docker(&["rm", "-f", &sniffer]);
    let squatter = "e2e-fsvc-squatter";
    docker(&["rm", "-f", squatter]);
    let run = Command::new("docker")
        .args(["run", "-d", "--name", squatter, "--network", "chaff_e2e-fsvc", "--ip", &address])
        .args(["chaff-sensor:0.1", "idle"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    // Adding a decky also brings the fleet services back to their design, which now fails.
    let ids = lab.deploy(&format!("{general}[fs-two]\nservices = redis\n"));
    let rows = lab.wait(&ids).await;
    docker(&["rm", "-f", squatter]);
    let [row] = &rows[..] else { panic!("one row: {rows:#?}") };
    assert_eq!((row.decky.as_str(), row.status), ("fs-two", LifecycleStatus::Failed), "{row:#?}");
    let error = row.error.as_deref().unwrap();
    println!("error of the row whose fleet service failed: {error}");
    assert!(error.contains("fleet's services failed") && error.contains(&sniffer), "{error}");
    assert_eq!(inspect("fs-two")["State"]["Running"], true, "the decky itself is up");

    let down = lab.engine.teardown(TeardownTarget::Fleet("e2e-fsvc".into())).unwrap();
    lab.expect_success(&down.lifecycle_ids).await;
    assert!(containers_of("e2e-fsvc").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_unreachable_fails_the_rows_with_that_reason_and_creates_nothing() {
    let _serial = SERIAL.lock().await;
    let dead = tempfile::tempdir().unwrap();
    let endpoint = format!("unix://{}", dead.path().join("docker.sock").display());
    let lab = Lab::new("e2e-dead", BollardDocker::at(endpoint.clone()));
    let ids = lab.deploy(
        "[general]\nname = e2e-dead\nnet = 10.241.3.0/24\ngw = 10.241.3.1\n\n[dead-a]\nservices = ssh\n",
    );
    let rows = lab.wait(&ids).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, LifecycleStatus::Failed);
    let error = rows[0].error.as_deref().unwrap();
    assert!(error.starts_with("Docker is unavailable at") && error.contains(&endpoint), "{error}");
    assert!(containers_of("e2e-dead").is_empty());
    let status = lab.engine.status().await.unwrap();
    assert!(status.docker.is_err());
    assert_eq!(status.fleets[0].deckies[0].state, chaff_lifecycle::DeckyState::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_operations_on_twenty_deckies_at_once_all_end() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::new("e2e-twenty", BollardDocker::from_env());
    let ids = lab.deploy("[general]\nname = e2e-twenty\nnet = 10.241.4.0/24\ngw = 10.241.4.1\n\n[tw]\namount = 20\nservices = redis\n");
    assert_eq!(ids.len(), 20);
    lab.expect_success(&ids).await;
    let engine = lab.engine.clone();
    let names: Vec<String> = lab.deckies().into_iter().map(|d| d.name).collect();
    let started = tokio::task::spawn_blocking(move || {
        names
            .iter()
            .map(|n| engine.add_service(n, "ftp", IndexMap::new()).unwrap().lifecycle_ids[0])
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    lab.expect_success(&started).await;
    assert_eq!(containers_of("e2e-twenty").len(), 60);
    let down = lab.engine.teardown(TeardownTarget::Fleet("e2e-twenty".into())).unwrap();
    lab.expect_success(&down.lifecycle_ids).await;
    assert!(containers_of("e2e-twenty").is_empty());
}

/// A host-local interface as the parent of macvlan and ipvlan networks: a dummy interface
/// where the kernel has the module, else one end of a veth pair (this machine's kernel has no
/// dummy driver). Deckies get their addresses on it without any traffic leaving the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macvlan_and_ipvlan_fleets_on_a_local_parent_interface() {
    let _serial = SERIAL.lock().await;
    let parent = "chaffpar0";
    let ip = |args: &[&str]| Command::new("ip").args(args).output().expect("iproute2");
    let _ = ip(&["link", "del", parent]);
    let created = if ip(&["link", "add", parent, "type", "dummy"]).status.success() {
        "dummy"
    } else {
        let veth = ip(&["link", "add", parent, "type", "veth", "peer", "name", "chaffpar1"]);
        assert!(veth.status.success(), "{}", String::from_utf8_lossy(&veth.stderr));
        ip(&["link", "set", "chaffpar1", "up"]);
        "veth"
    };
    println!("parent interface {parent}: {created}");
    ip(&["link", "set", parent, "up"]);
    for (driver, octet) in [("macvlan", 5), ("ipvlan", 6)] {
        let fleet = format!("e2e-{driver}");
        let lab = Lab::new(&fleet, BollardDocker::from_env());
        let ids = lab.deploy(&format!(
            "[general]\nname = {fleet}\nnet = 10.241.{octet}.0/24\ngw = 10.241.{octet}.1\n\
             driver = {driver}\nparent = {parent}\n\n[{driver}-a]\nip = 10.241.{octet}.20\nservices = redis\n"
        ));
        let rows = lab.wait(&ids).await;
        let network = inspect(&format!("chaff_{fleet}"));
        if driver == "ipvlan" && !kernel_has_ipvlan(parent) {
            // Docker creates the network; the kernel cannot make the port. The decky must fail
            // alone with Docker's reason, and the teardown still clean up.
            let error = rows[0].error.as_deref().unwrap_or_default();
            println!("this kernel has no ipvlan driver; the decky failed with: {error}");
            assert_eq!(rows[0].status, LifecycleStatus::Failed);
            assert!(error.contains("ipvlan") && error.contains("not supported"), "{error}");
        } else {
            for row in &rows {
                assert_eq!(row.status, LifecycleStatus::Succeeded, "{row:#?}");
            }
            let base = inspect(&format!("{driver}-a"));
            let address = &base["NetworkSettings"]["Networks"][format!("chaff_{fleet}")]["IPAddress"];
            assert_eq!(address, &format!("10.241.{octet}.20"));
        }
        assert_eq!(network["Driver"], driver);
        assert_eq!(network["Options"]["parent"], parent);
        let down = lab.engine.teardown(TeardownTarget::Fleet(fleet.clone())).unwrap();
        lab.expect_success(&down.lifecycle_ids).await;
        assert!(containers_of(&fleet).is_empty());
        assert!(!network_exists(&fleet));
    }
    ip(&["link", "del", parent]);
}

/// Whether the kernel can make an ipvlan port (it is a module some kernels lack).
fn kernel_has_ipvlan(parent: &str) -> bool {
    let probe = "chaffipvl0";
    let made = Command::new("ip").args(["link", "add", probe, "link", parent, "type", "ipvlan"]).output();
    let ok = made.is_ok_and(|o| o.status.success());
    if ok {
        let _ = Command::new("ip").args(["link", "del", probe]).output();
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_removes_only_what_its_own_database_left_behind() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::new("e2e-reap", BollardDocker::from_env());
    let ids = lab.deploy(
        "[general]\nname = e2e-reap\nnet = 10.241.7.0/24\ngw = 10.241.7.1\n\n[reap-a]\nservices = redis\n",
    );
    lab.expect_success(&ids).await;
    assert_eq!(containers_of("e2e-reap").len(), 2);

    // Another database on the same engine does not own this fleet: it must leave it alone.
    let other = Lab::new("e2e-reap-other", BollardDocker::from_env());
    let reaped = other.engine.reap().await.unwrap();
    assert!(!reaped.containers.iter().any(|c| c.starts_with("reap-a")), "{reaped:?}");
    assert_eq!(containers_of("e2e-reap").len(), 2);
    assert!(network_exists("e2e-reap"));

    // The owner forgets the fleet without tearing it down (as a crash mid-teardown would
    // leave it): now its containers and network are orphans, and its reaper removes them.
    let mut store = Store::open(lab.db.path().join("chaff.db"), Timestamp::from_unix_millis(0)).unwrap();
    store.delete_fleet("e2e-reap").unwrap();
    let reaped = lab.engine.reap().await.unwrap();
    let mut names = reaped.containers.clone();
    names.sort();
    assert_eq!(names, ["reap-a", "reap-a-redis"], "{reaped:?}");
    assert_eq!(reaped.networks, ["chaff_e2e-reap"]);
    assert!(containers_of("e2e-reap").is_empty());
    assert!(!network_exists("e2e-reap"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_sees_every_row_of_a_real_deploy_go_pending_running_succeeded_with_its_steps() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::new("e2e-bus", BollardDocker::from_env());
    let mut lifecycle = lab.engine.bus().subscribe(chaff_bus::Pattern::new("decky.*.lifecycle").unwrap());
    let ids = lab.deploy("[general]\nname = e2e-bus\nnet = 10.241.12.0/24\ngw = 10.241.12.1\n\n[bus]\namount = 3\nservices = ssh, redis\n");
    lab.expect_success(&ids).await;

    // id → (status, step) of every event about it, in the order received.
    let mut seen: BTreeMap<Uuid, Vec<(String, Option<String>)>> = BTreeMap::new();
    while seen.values().filter(|s| s.last().is_some_and(|(status, _)| status == "succeeded")).count()
        < ids.len()
    {
        let received = tokio::time::timeout(HANG_GUARD, lifecycle.recv()).await.expect("events keep coming");
        let event = match received.expect("the bus is alive") {
            chaff_bus::Received::Event(event) => event,
            chaff_bus::Received::Lagged(n) => panic!("the subscriber lost {n} events"),
        };
        let payload: chaff_bus::LifecyclePayload = serde_json::from_value(event.payload.clone()).unwrap();
        assert!(ids.contains(&payload.lifecycle_id), "only this deploy's rows: {payload:?}");
        seen.entry(payload.lifecycle_id).or_default().push((payload.status, payload.step));
    }
    for id in &ids {
        let events = &seen[id];
        let statuses: Vec<&str> = events.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(statuses.first(), Some(&"pending"), "{events:?}");
        assert_eq!(statuses.last(), Some(&"succeeded"), "{events:?}");
        assert!(statuses[1..statuses.len() - 1].iter().all(|s| *s == "running"), "{events:?}");
        let steps: Vec<&str> = events.iter().filter_map(|(_, step)| step.as_deref()).collect();
        println!("steps published for {id}: {steps:?}");
        for container in ["ssh", "redis"] {
            assert!(
                steps.iter().any(|s| s.contains(container)),
                "a step about the {container} container: {steps:?}"
            );
        }
    }
    let down = lab.engine.teardown(TeardownTarget::Fleet("e2e-bus".into())).unwrap();
    lab.expect_success(&down.lifecycle_ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_deploy_fails_its_rows_and_teardown_still_converges() {
    let _serial = SERIAL.lock().await;
    let lab = Lab::new("e2e-cancel", BollardDocker::from_env());
    let ids = lab.deploy("[general]\nname = e2e-cancel\nnet = 10.241.13.0/24\ngw = 10.241.13.1\n\n[cx]\namount = 4\nservices = ssh, http, redis\n");
    assert!(lab.engine.cancel(ids[0]), "the job of a just-accepted deploy is running");
    let rows = lab.wait(&ids).await;
    for row in &rows {
        assert_eq!(row.status, LifecycleStatus::Failed, "{row:#?}");
        let error = row.error.as_deref().unwrap();
        assert!(error.starts_with("cancelled before:"), "{error}");
    }
    println!("cancelled rows: {:?}", rows.iter().map(|r| r.error.as_deref().unwrap()).collect::<Vec<_>>());
    assert!(!lab.engine.cancel(ids[0]), "a closed row has no job to cancel");

    // Whatever the cancelled job left, a teardown removes all of it.
    let down = lab.engine.teardown(TeardownTarget::Fleet("e2e-cancel".into())).unwrap();
    lab.expect_success(&down.lifecycle_ids).await;
    assert!(containers_of("e2e-cancel").is_empty());
    assert!(!network_exists("e2e-cancel"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_loop_mutates_each_decky_when_it_is_due_and_sleeps_until_the_next() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let _serial = SERIAL.lock().await;
    // The engine's clock runs with real time plus an offset the test moves forward.
    let offset = Arc::new(AtomicU64::new(0));
    let clock_offset = Arc::clone(&offset);
    let clock: chaff_lifecycle::Clock = Arc::new(move || {
        std::time::SystemTime::now() + Duration::from_secs(clock_offset.load(Ordering::SeqCst))
    });
    let options = EngineOptions { seed: 7, clock, ..EngineOptions::default() };
    let lab = Lab::with_options("e2e-watch", BollardDocker::from_env(), options);
    let ids = lab.deploy(
        "[general]\nname = e2e-watch\nnet = 10.241.14.0/24\ngw = 10.241.14.1\n\n\
         [watch-soon]\nservices = ssh, redis\nmutate_interval = 1\n\n\
         [watch-later]\nservices = ssh, redis\nmutate_interval = 2\n",
    );
    lab.expect_success(&ids).await;

    // 70 s later: watch-soon (every minute) is due, watch-later (every 2 minutes) is due in
    // 50 s, so the loop mutates the first at once and sleeps until the second is due.
    offset.store(70, Ordering::SeqCst);
    let started = Instant::now();
    let watcher = tokio::spawn({
        let engine = lab.engine.clone();
        async move { engine.watch().await }
    });
    let mutations_of = |decky: &str| -> Vec<LifecycleRow> {
        let store = Store::open(lab.db.path().join("chaff.db"), Timestamp::from_unix_millis(0)).unwrap();
        let history = store.decky_history("e2e-watch", decky).unwrap();
        history.into_iter().filter(|r| r.operation == chaff_lifecycle::Operation::Mutate).collect()
    };
    let wait_for_mutation = |decky: &'static str| async move {
        loop {
            if let Some(row) = mutations_of(decky).into_iter().find(|r| r.status.is_terminal()) {
                return row;
            }
            assert!(started.elapsed() < HANG_GUARD, "{decky} was never mutated");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let soon = wait_for_mutation("watch-soon").await;
    let soon_after = started.elapsed();
    assert_eq!(soon.status, LifecycleStatus::Succeeded, "{soon:#?}");
    assert!(mutations_of("watch-later").is_empty(), "watch-later is not due yet");
    let later = wait_for_mutation("watch-later").await;
    let later_after = started.elapsed();
    assert_eq!(later.status, LifecycleStatus::Succeeded, "{later:#?}");
    println!(
        "watch-soon mutated after {soon_after:?}, watch-later after {later_after:?} (due 50 s after start)"
    );
    assert!(later_after >= Duration::from_secs(45), "watch-later was mutated before it was due");
    assert_eq!(mutations_of("watch-soon").len(), 1, "one mutation per interval");

    lab.engine.shutdown().await;
    tokio::time::timeout(HANG_GUARD, watcher).await.expect("watch returns at shutdown").unwrap();
}
