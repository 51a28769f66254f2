//! The real `chaff` binary driving the machine's real Docker daemon: deploy with --detach,
//! a process killed with SIGKILL in the middle of a deploy, recovery at the next start, and a
//! teardown that leaves nothing behind.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chaff_state::{Store, Timestamp};
use chaff_tests::{fleet_container_ids, network_exists, remove_everything_of};

const CHAFF: &str = env!("CARGO_BIN_EXE_chaff");
/// Guards against a hung daemon only; never a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(600);

fn chaff(data: &Path, args: &[&str]) -> Output {
    Command::new(CHAFF).args(args).env("CHAFF_DATA_DIR", data).output().expect("run chaff")
}

fn open_rows(data: &Path) -> usize {
    let store = Store::open(data.join("chaff.db"), Timestamp::from_unix_millis(0)).unwrap();
    store.open_lifecycle_rows().unwrap().len()
}

#[test]
fn sigkill_mid_deploy_then_restart_closes_every_row_and_teardown_leaves_nothing() {
    let fleet = "cli-kill";
    remove_everything_of(fleet);
    let data = tempfile::tempdir().unwrap();
    let ini = data.path().join("kill.ini");
    std::fs::write(
        &ini,
        "[general]\nname = cli-kill\nnet = 10.241.8.0/24\ngw = 10.241.8.1\n\n[kill]\namount = 12\nservices = ssh, http, redis\n",
    )
    .unwrap();
    let mut deploy = Command::new(CHAFF)
        .args(["deploy", "--config", ini.to_str().unwrap()])
        .env("CHAFF_DATA_DIR", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once Docker has some of the fleet, but (very likely) not all of it.
    let started = Instant::now();
    while fleet_container_ids(fleet).len() < 3 {
        assert!(started.elapsed() < HANG_GUARD, "the deploy never created a container");
        assert!(deploy.try_wait().unwrap().is_none(), "the deploy ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    deploy.kill().unwrap(); // SIGKILL
    deploy.wait().unwrap();
    let left = fleet_container_ids(fleet).len();
    let open = open_rows(data.path());
    println!("killed with {left} containers up and {open} rows open");
    assert!(open > 0, "the kill happened before any row was closed");

    // The next start recovers: every row is closed, succeeded only where Docker matches.
    let status = chaff(data.path(), &["status", "--json"]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let recovered = String::from_utf8_lossy(&status.stderr);
    assert!(recovered.contains("recovered:"), "{recovered}");
    assert_eq!(open_rows(data.path()), 0, "no row stays open after a restart");
    let lifecycle_failed = recovered.lines().filter(|l| l.contains("interrupted by restart")).count();
    println!("recovery: {lifecycle_failed} rows failed \"interrupted by restart\"");

    // The fleet is still the design: a deploy of the same INI is now a conflict, and the
    // status says which deckies are not fully up.
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let deckies = status["fleets"][0]["deckies"].as_array().unwrap();
    assert_eq!(deckies.len(), 12);
    let again = chaff(data.path(), &["deploy", "--config", ini.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(9), "{}", String::from_utf8_lossy(&again.stderr));

    // Teardown converges from whatever the kill left.
    let down = chaff(data.path(), &["teardown", "--fleet", fleet]);
    assert!(
        down.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&down.stdout),
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(fleet_container_ids(fleet).is_empty());
    assert!(!network_exists(fleet));
    assert_eq!(open_rows(data.path()), 0);
}

#[test]
fn detached_deploy_prints_ids_and_a_background_process_finishes_the_rows() {
    let fleet = "cli-detach";
    remove_everything_of(fleet);
    let data = tempfile::tempdir().unwrap();
    let ini = data.path().join("detach.ini");
    std::fs::write(&ini, "[general]\nname = cli-detach\nnet = 10.241.9.0/24\ngw = 10.241.9.1\n\n[det-a]\nservices = redis\n\n[det-b]\nservices = ftp\n").unwrap();
    let out = chaff(data.path(), &["deploy", "--config", ini.to_str().unwrap(), "--detach"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(ids.len(), 2, "one id per decky: {ids:?}");
    let mut args = vec!["lifecycle", "--json"];
    args.extend(ids.iter().map(String::as_str));
    let started = Instant::now();
    loop {
        let rows = chaff(data.path(), &args);
        let rows: serde_json::Value = serde_json::from_slice(&rows.stdout).unwrap();
        let statuses: Vec<&str> =
            rows.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        if statuses.iter().all(|s| *s == "succeeded" || *s == "failed") {
            assert_eq!(statuses, ["succeeded", "succeeded"], "{rows:#}");
            break;
        }
        assert!(started.elapsed() < HANG_GUARD, "rows still open: {rows:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(fleet_container_ids(fleet).len(), 4);
    // Errors of the refused kind keep their exit codes: unknown decky, unknown service.
    assert_eq!(chaff(data.path(), &["mutate", "no-such-decky"]).status.code(), Some(4));
    assert_eq!(chaff(data.path(), &["service", "add", "det-a", "gopher"]).status.code(), Some(3));
    assert_eq!(chaff(data.path(), &["service", "add", "det-a", "redis"]).status.code(), Some(9));
    let down = chaff(data.path(), &["teardown"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(fleet_container_ids(fleet).is_empty());
}
