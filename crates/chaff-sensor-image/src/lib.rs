//! The image every Chaff container runs, `chaff-sensor:0.1`: the static `chaff-sensor`
//! binary (compiled by this crate's build script and embedded) in an image built locally
//! `FROM scratch`. No registry, no pull: a Docker engine builds it from
//! [`build_context`] offline.
//!
//! Whoever builds the image labels it with the binary's hash ([`SHA_LABEL`] =
//! [`binary_sha256`]), so an engine's image can be compared with this build and rebuilt
//! only when the sensor changed.

use std::io::Write as _;

/// The image's name and tag, as the service plugins reference it.
pub const IMAGE: &str = "chaff-sensor:0.1";

/// Where the binary is in the image (its entrypoint).
pub const BINARY_PATH_IN_IMAGE: &str = "/chaff-sensor";

/// The image label holding the sha256 (lowercase hex) of the binary inside.
pub const SHA_LABEL: &str = "io.chaff.sensor-sha256";

/// The label that marks images and containers as Chaff's.
pub const MANAGED_LABEL: &str = "io.chaff.managed";

/// Modification time of every file of the build context (2024-01-01T00:00:00Z), so equal
/// binaries give byte-identical contexts.
const CONTEXT_MTIME: u64 = 1_704_067_200;

static BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/chaff-sensor"));

/// The static `chaff-sensor` executable (x86_64 Linux, no dynamic loader, no libc needed).
pub fn binary() -> &'static [u8] {
    BINARY
}

/// The sha256 of [`binary`], lowercase hex, computed at build time.
pub fn binary_sha256() -> &'static str {
    env!("CHAFF_SENSOR_SHA256")
}

/// The image's Dockerfile: the binary alone on an empty filesystem, running `idle` unless
/// a command names an emulator.
pub fn dockerfile() -> String {
    let name = BINARY_PATH_IN_IMAGE.trim_start_matches('/');
    format!(
        "FROM scratch\n\
         COPY {name} {BINARY_PATH_IN_IMAGE}\n\
         LABEL {SHA_LABEL}={sha} {MANAGED_LABEL}=true\n\
         ENTRYPOINT [\"{BINARY_PATH_IN_IMAGE}\"]\n\
         CMD [\"idle\"]\n",
        sha = binary_sha256(),
    )
}

/// The Docker build context of [`IMAGE`]: an uncompressed tar holding `Dockerfile` and the
/// binary (mode 0755). Deterministic: the same binary always gives the same bytes. Feed it
/// to the engine's build endpoint (or `docker build -t chaff-sensor:0.1 - < context.tar`);
/// it needs no network.
pub fn build_context() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::with_capacity(BINARY.len() + 4096));
    append(&mut tar, "Dockerfile", 0o644, dockerfile().as_bytes());
    append(&mut tar, BINARY_PATH_IN_IMAGE.trim_start_matches('/'), 0o755, BINARY);
    let mut bytes = tar.into_inner().expect("writing a tar to memory cannot fail");
    bytes.flush().expect("flushing a Vec cannot fail");
    bytes
}

fn append(tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_mtime(CONTEXT_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, data).expect("writing a tar to memory cannot fail");
}

#[cfg(test)]
#[path = "elf.rs"]
mod elf;

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn sha_matches_the_embedded_binary() {
        use std::process::Command;
        // Recompute independently with the system's sha256sum, not the build script's code.
        let dir = std::env::temp_dir().join(format!("chaff-sensor-sha-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chaff-sensor");
        std::fs::write(&path, binary()).unwrap();
        let out = Command::new("sha256sum").arg(&path).output().expect("sha256sum runs");
        std::fs::remove_dir_all(&dir).unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert_eq!(printed.split_whitespace().next(), Some(binary_sha256()));
        assert_eq!(binary_sha256().len(), 64);
        assert!(binary_sha256().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn binary_is_a_static_elf_executable() {
        assert_eq!(&binary()[..4], b"\x7fELF");
        // Built for x86_64 (e_machine 62).
        assert_eq!(u16::from_le_bytes([binary()[18], binary()[19]]), 62);
        assert_eq!(elf::check_static(binary()), Ok(()));
    }

    #[test]
    fn the_static_check_refuses_dynamic_executables_and_non_elf_files() {
        // This test binary itself is linked dynamically.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = elf::check_static(&me).unwrap_err();
        assert!(err.contains("PT_INTERP"), "{err}");
        assert_eq!(elf::check_static(b"#!/bin/sh\n"), Err("not an ELF file".to_owned()));
        assert_eq!(elf::check_static(b"\x7fELF\x02\x01"), Err("truncated ELF header".to_owned()));
        assert!(elf::check_static(&binary()[..0x40]).is_err(), "program headers cut off");
    }

    #[test]
    fn dockerfile_is_from_scratch_and_labelled() {
        let sha = binary_sha256();
        assert_eq!(
            dockerfile(),
            format!(
                "FROM scratch\nCOPY chaff-sensor /chaff-sensor\n\
                 LABEL io.chaff.sensor-sha256={sha} io.chaff.managed=true\n\
                 ENTRYPOINT [\"/chaff-sensor\"]\nCMD [\"idle\"]\n"
            )
        );
    }

    #[test]
    fn context_holds_the_dockerfile_and_the_executable() {
        let context = build_context();
        let mut archive = tar::Archive::new(context.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let header = entry.header();
            let (mode, mtime, uid, gid) = (
                header.mode().unwrap(),
                header.mtime().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap(),
            );
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!((mtime, uid, gid), (CONTEXT_MTIME, 0, 0), "{path}");
            match path.as_str() {
                "Dockerfile" => {
                    assert_eq!(mode, 0o644);
                    assert_eq!(String::from_utf8(data).unwrap(), dockerfile());
                }
                "chaff-sensor" => {
                    assert_eq!(mode, 0o755);
                    assert!(data == binary(), "the binary in the context differs from the embedded one");
                }
                other => panic!("unexpected entry {other}"),
            }
            seen.push(path);
        }
        assert_eq!(seen, ["Dockerfile", "chaff-sensor"]);
    }

    #[test]
    fn context_is_deterministic() {
        assert!(build_context() == build_context());
    }
}
