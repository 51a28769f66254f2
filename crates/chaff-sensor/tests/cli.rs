//! The real binary's command line: `--version`, usage, unknown emulators, `idle` and signals.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_chaff-sensor");

#[test]
fn version() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("chaff-sensor {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_arguments_prints_usage_and_exits_2() {
    let out = Command::new(BIN).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("usage: chaff-sensor <emulator>"), "{stderr}");
    assert!(stderr.contains("idle, "), "{stderr}");
}

#[test]
fn too_many_arguments_exit_2() {
    let out = Command::new(BIN).args(["ssh", "telnet"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unknown_emulator_lists_the_known_ones_and_exits_2() {
    let out = Command::new(BIN).arg("gopher").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("unknown emulator \"gopher\""), "{stderr}");
    for name in chaff_sensor::ports::known_names() {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
}

fn stops_on(signal: &str, emulator: &str) {
    stops_on_with(signal, emulator, &[]);
}

fn stops_on_with(signal: &str, emulator: &str, env: &[(&str, &str)]) {
    let mut child = Command::new(BIN)
        .arg(emulator)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let it install its handlers (before that, the default action would also end it, but
    // with a signal instead of exit code 0).
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "{emulator} should keep running");
    let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{emulator} did not stop on SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "{emulator} on SIG{signal}: {status}");
}

#[test]
fn idle_exits_0_on_sigterm() {
    stops_on("TERM", "idle");
}

#[test]
fn idle_exits_0_on_sigint() {
    stops_on("INT", "idle");
}

/// Capturing needs `CAP_NET_RAW`: the tests run as root.
#[test]
fn sniffer_captures_and_exits_0_on_sigterm() {
    stops_on_with("TERM", "sniffer", &[("SNIFFER_INTERFACE", "lo")]);
}

#[test]
fn sniffer_on_a_missing_interface_names_the_variable_and_exits_1() {
    let out = Command::new(BIN).arg("sniffer").env("SNIFFER_INTERFACE", "chaff-nothere").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("SNIFFER_INTERFACE: no interface named \"chaff-nothere\""), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(r#""kind":"error""#), "{stdout}");
}
