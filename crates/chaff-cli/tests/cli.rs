//! The real `chaff` binary: real plugins, a real data directory, the real Compose tool.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tempfile::TempDir;

const CHAFF: &str = env!("CARGO_BIN_EXE_chaff");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A compile cache filled once per test process, so each test's fresh data dir starts warm
/// (compiling all built-in plugins is the slow part of a cold start).
fn warm_cache() -> &'static Path {
    static CACHE: OnceLock<TempDir> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = TempDir::new().unwrap();
            let out = Command::new(CHAFF)
                .args(["plugins", "list"])
                .env("CHAFF_DATA_DIR", dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            dir
        })
        .path()
}

/// An isolated data directory with the warm compile cache copied in.
fn data_dir() -> TempDir {
    let dir = TempDir::new().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    for entry in std::fs::read_dir(warm_cache().join("cache")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), cache.join(entry.file_name())).unwrap();
    }
    dir
}

fn chaff(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(CHAFF)
        .args(args)
        .current_dir(repo_root())
        .env("CHAFF_DATA_DIR", data_dir)
        .env_remove("CHAFF_LOG")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

#[test]
fn services_lists_the_whole_catalogue_with_ports() {
    let dir = data_dir();
    let out = chaff(dir.path(), &["services"]);
    assert_ok(&out);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 29, "{text}");
    assert!(text.lines().any(|l| l.starts_with("dns ") && l.contains("53/tcp,53/udp")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("sniffer ") && l.contains("fleet")), "{text}");

    let json = chaff(dir.path(), &["services", "--json"]);
    assert_ok(&json);
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 29);
}

#[test]
fn one_service_shows_its_fields_with_secrets_masked() {
    let dir = data_dir();
    let out = chaff(dir.path(), &["services", "ssh"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(text.contains("22/tcp"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("password") && l.contains("(secret)")), "{text}");
    assert!(!text.contains("admin"), "secret defaults are not printed: {text}");
}

#[test]
fn an_unknown_service_is_not_found_with_the_alternatives() {
    let dir = data_dir();
    let out = chaff(dir.path(), &["services", "gopher"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("Unknown service: 'gopher'. Available: conpot, dns"), "{}", stderr(&out));
}

#[test]
fn archetypes_and_distros_are_the_reference_tables() {
    let dir = data_dir();
    let out = chaff(dir.path(), &["archetypes", "--json"]);
    assert_ok(&out);
    let archetypes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(archetypes.as_array().unwrap().len(), 15);
    let out = chaff(dir.path(), &["distros"]);
    assert_ok(&out);
    assert_eq!(stdout(&out).lines().count(), 1 + 9);
}

#[test]
fn render_writes_a_compose_file_the_compose_tool_accepts() {
    let dir = data_dir();
    let output = dir.path().join("lab.yml");
    let out = chaff(
        dir.path(),
        &["render", "--config", "examples/lab.ini", "-o", output.to_str().unwrap(), "--seed", "3"],
    );
    assert_ok(&out);
    assert!(stderr(&out).contains("project 'chaff-lab'"), "{}", stderr(&out));
    let check = Command::new("docker-compose")
        .args(["-p", "chaff-lab", "-f"])
        .arg(&output)
        .args(["config", "-q"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "docker-compose refused the file: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let again = chaff(dir.path(), &["render", "--config", "examples/lab.ini", "--seed", "3"]);
    assert_ok(&again);
    assert_eq!(stdout(&again), std::fs::read_to_string(&output).unwrap(), "same INI and seed, same bytes");
}

#[test]
fn a_bad_ini_fails_with_its_line_and_writes_nothing() {
    let dir = data_dir();
    let ini = dir.path().join("bad.ini");
    std::fs::write(&ini, "[general]\nnet = 10.9.0.0/24\n\n[web]\nservices = ssh\namount = lots\n").unwrap();
    let output = dir.path().join("out.yml");
    let out = chaff(dir.path(), &["render", "-c", ini.to_str().unwrap(), "-o", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 6: [web] amount= must be a positive integer, got 'lots'"),
        "{}",
        stderr(&out)
    );
    assert!(!output.exists());
}

#[test]
fn a_bad_service_config_names_the_section_and_field() {
    let dir = data_dir();
    let ini = dir.path().join("bad.ini");
    std::fs::write(&ini, "[box]\nservices = rdp\n\n[box.rdp]\nnla = maybe\n").unwrap();
    let out = chaff(dir.path(), &["render", "-c", ini.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("[box.rdp]") && err.contains("nla: expected bool, got 'maybe'"), "{err}");
}

#[test]
fn a_missing_config_file_is_invalid_input() {
    let dir = data_dir();
    let out = chaff(dir.path(), &["render", "-c", "no/such.ini"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("Config file not found: no/such.ini"), "{}", stderr(&out));
}

#[test]
fn export_pins_every_choice_so_the_export_renders_identically() {
    let dir = data_dir();
    let pinned = dir.path().join("pinned.ini");
    let out = chaff(
        dir.path(),
        &["export", "-c", "examples/lab.ini", "-o", pinned.to_str().unwrap(), "--seed", "11"],
    );
    assert_ok(&out);
    let original = chaff(dir.path(), &["render", "-c", "examples/lab.ini", "--seed", "11"]);
    let pinned_path = dir.path().join("lab.ini");
    std::fs::copy(&pinned, &pinned_path).unwrap();
    let from_export = chaff(dir.path(), &["render", "-c", pinned_path.to_str().unwrap(), "--seed", "999"]);
    assert_ok(&original);
    assert_ok(&from_export);
    assert_eq!(stdout(&original), stdout(&from_export));
}

#[test]
fn plugins_list_and_inspect_show_every_builtin() {
    let dir = data_dir();
    let out = chaff(dir.path(), &["plugins", "list", "--json"]);
    assert_ok(&out);
    let plugins: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let plugins = plugins.as_array().unwrap();
    assert_eq!(plugins.len(), chaff_builtin_plugins::BUILTIN.len());
    assert!(plugins.iter().all(|p| p["state"]["state"] == "enabled"), "{plugins:?}");

    let out = chaff(dir.path(), &["plugins", "inspect", "rotate"]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        text.contains("strategy plugin") && text.contains("sha256:") && text.contains("memory 64 MiB"),
        "{text}"
    );

    let out = chaff(dir.path(), &["plugins", "inspect", "nope"]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn a_third_party_plugin_loads_only_once_trusted() {
    let dir = data_dir();
    let installed = dir.path().join("plugins/echo");
    std::fs::create_dir_all(&installed).unwrap();
    let packaged = chaff_builtin_plugins::packaged("chaff-example-echo");
    for file in ["plugin.toml", "plugin.wasm"] {
        std::fs::copy(packaged.join(file), installed.join(file)).unwrap();
    }

    let out = chaff(dir.path(), &["plugins", "list"]);
    assert_ok(&out);
    let echo = stdout(&out).lines().find(|l| l.starts_with("echo ")).map(str::to_owned).unwrap_or_default();
    assert!(
        echo.contains("third-party, untrusted") && echo.contains("disabled: not trusted"),
        "{}",
        stdout(&out)
    );
    assert_eq!(chaff(dir.path(), &["services", "echo"]).status.code(), Some(4));

    let out = chaff(dir.path(), &["plugins", "trust", "echo"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("loaded and enabled"), "{}", stdout(&out));
    assert_ok(&chaff(dir.path(), &["services", "echo"]));

    // A different build of the same plugin is not trusted by the earlier decision.
    let mut wasm = std::fs::read(installed.join("plugin.wasm")).unwrap();
    wasm.extend_from_slice(b"\0");
    std::fs::write(installed.join("plugin.wasm"), wasm).unwrap();
    assert_eq!(chaff(dir.path(), &["services", "echo"]).status.code(), Some(4));

    assert_ok(&chaff(dir.path(), &["plugins", "untrust", "echo"]));
    assert_eq!(chaff(dir.path(), &["plugins", "untrust", "echo"]).status.code(), Some(4));
}

#[test]
fn the_data_dir_flag_and_variable_isolate_state() {
    let by_flag = data_dir();
    let by_var = data_dir();
    let out = Command::new(CHAFF)
        .args(["--data-dir"])
        .arg(by_flag.path())
        .args(["plugins", "list"])
        .env("CHAFF_DATA_DIR", by_var.path().join("ignored"))
        .output()
        .unwrap();
    assert_ok(&out);
    assert!(by_flag.path().join("plugins").is_dir(), "the flag wins over the variable");
    assert!(!by_var.path().join("ignored").exists());
}
