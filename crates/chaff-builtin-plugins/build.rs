//! Compiles the plugin workspace (`plugins/`) for `wasm32-wasip2` with a nested cargo, then
//! packages every plugin as a manifest (`plugin.toml` with its sha256 filled in) next to its
//! `plugin.wasm`. Built-in plugins (`services/`, `strategies/`) are embedded in the crate;
//! the example and the hostile fixtures are left packaged on disk for tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use sha2::{Digest, Sha256};

const WASM_TARGET: &str = "wasm32-wasip2";
/// Plugin groups: (directory under plugins/, embedded in the app).
const GROUPS: &[(&str, bool)] =
    &[("services", true), ("strategies", true), ("examples", false), ("fixtures", false)];

#[derive(serde::Deserialize)]
struct CargoManifest {
    package: Package,
}

#[derive(serde::Deserialize)]
struct Package {
    name: String,
}

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let plugins_dir = crate_dir.join("../../plugins").canonicalize().expect("plugins/ exists");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    for watched in ["wit", "sdk", "Cargo.toml", "Cargo.lock", ".cargo"] {
        println!("cargo:rerun-if-changed={}", plugins_dir.join(watched).display());
    }
    for (group, _) in GROUPS {
        println!("cargo:rerun-if-changed={}", plugins_dir.join(group).display());
    }
    println!("cargo:rerun-if-env-changed=CHAFF_WASM_TARGET_DIR");

    let target_dir = wasm_target_dir(&plugins_dir);
    build_plugins(&plugins_dir, &target_dir);
    let wasm_dir = target_dir.join(WASM_TARGET).join("release");

    let packaged_root = out_dir.join("packaged");
    let _ = fs::remove_dir_all(&packaged_root);
    let mut embedded = Vec::new();
    for (group, embed) in GROUPS {
        for plugin_dir in plugin_dirs(&plugins_dir.join(group)) {
            let packaged = package(&plugin_dir, &wasm_dir, &packaged_root);
            if *embed {
                embedded.push(packaged);
            }
        }
    }
    write_index(&out_dir, &packaged_root, &embedded);
}

/// Where the nested cargo builds. Never the outer target dir: the outer cargo holds its lock.
fn wasm_target_dir(plugins_dir: &Path) -> PathBuf {
    if let Ok(dir) = env::var("CHAFF_WASM_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    match env::var("CARGO_TARGET_DIR") {
        Ok(dir) => PathBuf::from(dir).join("wasm-plugins"),
        Err(_) => plugins_dir.join("target"),
    }
}

fn build_plugins(plugins_dir: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugins_dir)
        .args(["build", "--release", "--workspace", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(plugins_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if plugins_dir.join("Cargo.lock").exists() {
        cmd.arg("--locked");
    }
    // The outer build's flags and target are not the guest's.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the plugin workspace");
    assert!(
        status.success(),
        "building plugins/ for {WASM_TARGET} failed (is the target installed? `rustup target add {WASM_TARGET}`)"
    );
}

fn plugin_dirs(group_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(group_dir) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").exists() && p.join("plugin.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

struct Packaged {
    dir: PathBuf,
}

/// Writes `<packaged_root>/<crate>/{plugin.toml, plugin.wasm}` with the wasm's sha256 filled in.
fn package(plugin_dir: &Path, wasm_dir: &Path, packaged_root: &Path) -> Packaged {
    let cargo_toml = fs::read_to_string(plugin_dir.join("Cargo.toml")).unwrap();
    let crate_name = toml::from_str::<CargoManifest>(&cargo_toml).unwrap().package.name;
    let wasm_path = wasm_dir.join(format!("{}.wasm", crate_name.replace('-', "_")));
    let wasm = fs::read(&wasm_path).unwrap_or_else(|e| panic!("{} was not built: {e}", wasm_path.display()));
    let manifest = fs::read_to_string(plugin_dir.join("plugin.toml")).unwrap();
    let mut table: toml::Table =
        toml::from_str(&manifest).unwrap_or_else(|e| panic!("{}/plugin.toml: {e}", plugin_dir.display()));
    table.insert("sha256".into(), toml::Value::String(hex::encode(Sha256::digest(&wasm))));

    let dir = packaged_root.join(&crate_name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("plugin.toml"), toml::to_string(&table).unwrap()).unwrap();
    fs::write(dir.join("plugin.wasm"), &wasm).unwrap();
    Packaged { dir }
}

fn write_index(out_dir: &Path, packaged_root: &Path, embedded: &[Packaged]) {
    let mut code =
        String::from("/// The plugins that ship with Chaff.\npub static BUILTIN: &[BuiltinPlugin] = &[\n");
    for p in embedded {
        code.push_str(&format!(
            "    BuiltinPlugin {{ manifest: include_str!({:?}), wasm: include_bytes!({:?}) }},\n",
            p.dir.join("plugin.toml"),
            p.dir.join("plugin.wasm"),
        ));
    }
    code.push_str("];\n");
    code.push_str(&format!(
        "/// Every plugin of the workspace, packaged as `<crate>/{{plugin.toml, plugin.wasm}}`.\npub const PACKAGED_DIR: &str = {:?};\n",
        packaged_root
    ));
    fs::write(out_dir.join("index.rs"), code).unwrap();
}
