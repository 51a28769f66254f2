//! Compiles `chaff-sensor` as a static executable with a nested cargo (release,
//! `+crt-static`, its own target dir), checks that it really is static, and leaves it in
//! `OUT_DIR` with its sha256 for the library to embed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use sha2::{Digest, Sha256};

// Shared with the library's tests, which check it against real static and dynamic files.
#[path = "src/elf.rs"]
mod elf;

const SENSOR_PACKAGE: &str = "chaff-sensor";
const SENSOR_TARGET: &str = "x86_64-unknown-linux-gnu";

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = crate_dir.join("../..").canonicalize().expect("the workspace root exists");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-changed={}", workspace.join("crates").join(SENSOR_PACKAGE).display());
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.lock").display());
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_dir = sensor_target_dir(&workspace);
    build_sensor(&workspace, &target_dir);
    let built = target_dir.join(SENSOR_TARGET).join("release").join(SENSOR_PACKAGE);
    let binary = fs::read(&built).unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
    if let Err(problem) = elf::check_static(&binary) {
        panic!(
            "{} is not a static executable: {problem}. It must run in a FROM-scratch image \
             with no C library; is the static glibc (libc6-dev) installed?",
            built.display()
        );
    }
    fs::write(out_dir.join(SENSOR_PACKAGE), &binary).unwrap();
    println!("cargo:rustc-env=CHAFF_SENSOR_SHA256={}", hex::encode(Sha256::digest(&binary)));
}

/// Where the nested cargo builds. Never the outer target dir: the outer cargo holds its lock.
/// One directory per workspace checkout: checkouts sharing a `CARGO_TARGET_DIR` would
/// otherwise overwrite each other's binary at the same path.
fn sensor_target_dir(workspace: &Path) -> PathBuf {
    let checkout = hex::encode(&Sha256::digest(workspace.as_os_str().as_encoded_bytes())[..4]);
    let root = match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace.join("target"),
    };
    root.join("sensor-static").join(checkout)
}

fn build_sensor(workspace: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--locked", "-p", SENSOR_PACKAGE, "--target", SENSOR_TARGET])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's flags, target and wrappers (clippy) are not the sensor's.
    for var in [
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    // Static C runtime; paths of this machine kept out of the binary (and its hash).
    let mut flags = vec!["-Ctarget-feature=+crt-static".to_owned()];
    flags.push(format!("--remap-path-prefix={}=/chaff", workspace.display()));
    if let Some(home) = cargo_home() {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    // A small binary: the workspace's release profile is tuned for the app, not for this.
    for (key, value) in [
        ("OPT_LEVEL", "s"),
        ("LTO", "true"),
        ("CODEGEN_UNITS", "1"),
        ("STRIP", "symbols"),
        ("DEBUG", "false"),
        ("INCREMENTAL", "false"),
    ] {
        cmd.env(format!("CARGO_PROFILE_RELEASE_{key}"), value);
    }
    let status = cmd.status().expect("run cargo for chaff-sensor");
    assert!(status.success(), "building {SENSOR_PACKAGE} as a static {SENSOR_TARGET} executable failed");
}

fn cargo_home() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .and_then(|p| p.canonicalize().ok())
}
