//! `chaff events`, the real binary on the machine's real Docker daemon: a decky is attacked
//! from this host and what its sensor logged is printed — as JSON lines and as a table, with
//! filters — each event exactly once however often the command runs and across a container
//! restart; `--follow` prints new events until interrupted; a bad `--since` is invalid input.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chaff_tests::{connect_and_send, container_ip, docker, remove_everything_of};
use serde_json::Value;

const CHAFF: &str = env!("CARGO_BIN_EXE_chaff");
/// Guards against a hung daemon only; never a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(120);
const FLEET: &str = "cli-ev";
const DECKY: &str = "cev-a";

fn chaff(data: &Path, args: &[&str]) -> Output {
    Command::new(CHAFF).args(args).env("CHAFF_DATA_DIR", data).output().expect("run chaff")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `chaff events --json ARGS...`, parsed.
fn events(data: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["events", "--json"];
    if !args.contains(&"--limit") {
        all.extend(["--limit", "0"]);
    }
    all.extend_from_slice(args);
    stdout(&chaff(data, &all)).lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

/// How many events of each kind came from the client at `src_port`.
fn of_client(events: &[Value], src_port: u16) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for event in events.iter().filter(|e| e["src_port"] == src_port) {
        *kinds.entry(event["kind"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    kinds
}

/// Every event of one connection stored exactly once: its `connect`, its `disconnect`, and
/// what the emulator recorded in between (one request, so no kind twice).
fn assert_each_once(kinds: &BTreeMap<String, usize>) {
    assert!(kinds.get("connect") == Some(&1) && kinds.get("disconnect") == Some(&1), "{kinds:?}");
    assert!(kinds.values().all(|n| *n == 1), "an event stored twice: {kinds:?}");
}

/// Runs `chaff events` until the client's disconnect shows (Docker writes the sensor's line
/// to the log a moment after the client closed).
fn until_disconnect(data: &Path, src_port: u16) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let seen = events(data, &["--decky", DECKY]);
        if of_client(&seen, src_port).contains_key("disconnect") {
            return seen;
        }
        assert!(started.elapsed() < HANG_GUARD, "no disconnect from port {src_port}: {seen:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_everything_of(FLEET);
    }
}

#[test]
fn events_are_printed_once_each_across_runs_and_a_restart_and_followed_live() {
    remove_everything_of(FLEET);
    let _cleanup = Cleanup;
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let ini = data.join("ev.ini");
    std::fs::write(
        &ini,
        format!(
            "[general]\nname = {FLEET}\nnet = 10.245.4.0/24\ngw = 10.245.4.1\n\n[{DECKY}]\nservices = redis\n"
        ),
    )
    .unwrap();
    stdout(&chaff(data, &["deploy", "--config", ini.to_str().unwrap()]));
    let ip = container_ip(DECKY);

    let first = connect_and_send(&ip, 6379, b"*1\r\n$4\r\nPING\r\n");
    let seen = until_disconnect(data, first);
    assert_each_once(&of_client(&seen, first));
    let disconnect = seen.iter().find(|e| e["kind"] == "disconnect").unwrap();
    assert!(disconnect["id"].as_i64().is_some(), "{disconnect}");
    assert_eq!((disconnect["v"].as_i64(), disconnect["service"].as_str()), (Some(1), Some("redis")));
    assert_eq!(disconnect["preview"], "*1\\r\\n$4\\r\\nPING\\r\\n");

    // A restart keeps the log; the next runs read only what is new.
    let out =
        Command::new("docker").args(["restart", "-t", "1", &format!("{DECKY}-redis")]).output().unwrap();
    assert!(out.status.success());
    let second = connect_and_send(&ip, 6379, b"AUTH letmein\r\n");
    until_disconnect(data, second);
    for _ in 0..2 {
        let all = events(data, &[]);
        assert_each_once(&of_client(&all, first));
        assert_each_once(&of_client(&all, second));
        let log_lines = docker(&["logs", &format!("{DECKY}-redis")]).lines().count();
        assert_eq!(all.len(), log_lines, "each log line is one event: {all:#?}");
        let ids: Vec<i64> = all.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    }

    // Filters.
    let connects = events(data, &["--kind", "connect"]);
    assert_eq!(connects.len(), 2);
    assert!(connects.iter().all(|e| e["kind"] == "connect"));
    assert_eq!(events(data, &["--service", "ssh"]).len(), 0);
    assert_eq!(events(data, &["--decky", "nobody"]).len(), 0);
    let latest = events(data, &["--limit", "1"]);
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0]["src_port"], second, "the latest event");
    assert_eq!(events(data, &["--since", "1h"]).len(), events(data, &[]).len());
    assert_eq!(events(data, &["--since", "2999-01-01T00:00:00Z"]).len(), 0);
    let bad = chaff(data, &["events", "--since", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(3), "{}", String::from_utf8_lossy(&bad.stderr));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since 'last tuesday'"));

    // The table: a header and one row per event, with the fields worth a glance.
    let table = stdout(&chaff(data, &["events", "--kind", "disconnect"]));
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[0].starts_with("TIME") && rows[0].contains("DECKY") && rows[0].contains("DETAIL"),
        "{table}"
    );
    assert!(rows[1].contains(&format!("{DECKY}  redis    disconnect")), "{table}");
    assert!(rows[2].contains("reason=eof"), "{table}");

    follow_prints_new_events_until_interrupted(data, &ip);

    let down = chaff(data, &["teardown"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
}

fn follow_prints_new_events_until_interrupted(data: &Path, ip: &str) {
    let mut follow = Command::new(CHAFF)
        .args(["events", "--follow", "--json", "--limit", "0", "--decky", DECKY])
        .env("CHAFF_DATA_DIR", data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<Value>();
    let output = BufReader::new(follow.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in output.lines() {
            let _ = lines_tx.send(serde_json::from_str(&line.unwrap()).unwrap());
        }
    });
    // The stored events first (4 from the two clients, 2 `listening`), then live ones.
    let mut printed = Vec::new();
    while printed.len() < 6 {
        printed.push(lines.recv_timeout(HANG_GUARD).expect("the stored events"));
    }
    let third = connect_and_send(ip, 6379, b"INFO\r\n");
    let started = Instant::now();
    while !of_client(&printed, third).contains_key("disconnect") {
        let remaining = HANG_GUARD.saturating_sub(started.elapsed());
        printed.push(lines.recv_timeout(remaining).expect("the new client's events, followed"));
    }
    // SAFETY: signalling a child process this test started, by its id.
    assert_eq!(unsafe { libc::kill(follow.id() as i32, libc::SIGINT) }, 0);
    let status = follow.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success(), "{status:?}");
    assert_each_once(&of_client(&printed, third));
    let ids: Vec<i64> = printed.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "each event once, in order: {ids:?}");
}
