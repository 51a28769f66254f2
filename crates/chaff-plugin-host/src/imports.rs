//! What a plugin may import, and the linker that provides exactly that.
//!
//! A std Rust guest for `wasm32-wasip2` imports a dozen WASI interfaces even when it does no
//! I/O (std's runtime references stdio, environment, exit and the random seed of its hash
//! maps). Those are allowed and linked against an empty context, where each is inert: no
//! preopened directories, no environment or arguments, stdin closed, stdout discarded, stderr
//! captured in a small buffer, exit ends the call. Networking (`wasi:sockets/*`, `wasi:http/*`)
//! and anything unknown is refused at load, and is not even present in the linker.

use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings as wasi;
use wasmtime_wasi::random::WasiRandom;

use crate::bindings::service::chaff::plugin as chaff;
use crate::sandbox::CallState;

/// The plugin contract's own interfaces, at the API version this host speaks.
pub const CHAFF_IMPORTS: &[&str] = &["chaff:plugin/host@0.1.0", "chaff:plugin/types@0.1.0"];

/// WASI 0.2 interfaces a plugin may import (any 0.2.x version), and why:
/// * `cli/*`: std's runtime (stdio handles, args/env at start-up, `exit` on abort);
/// * `io/*`: the streams behind stdio;
/// * `clocks/*`: `std::time` (harmless: plugins get `now` as an input and must use it);
/// * `random/*`: the hash-map seed and `getrandom`;
/// * `filesystem/*`: `std::fs`, which finds no preopened directory and so opens nothing.
pub const WASI_IMPORTS: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// The WASI release line the linker implements; any patch version of it links.
pub const WASI_VERSION_PREFIX: &str = "0.2.";

/// Whether a component import name (`wasi:cli/exit@0.2.6`) is allowed.
pub fn is_allowed(import: &str) -> bool {
    if CHAFF_IMPORTS.contains(&import) {
        return true;
    }
    let Some((interface, version)) = import.split_once('@') else {
        return false;
    };
    WASI_IMPORTS.contains(&interface)
        && version
            .strip_prefix(WASI_VERSION_PREFIX)
            .is_some_and(|patch| !patch.is_empty() && patch.chars().all(|c| c.is_ascii_digit()))
}

/// The first import of `component` outside the allowlist, if any.
pub fn first_forbidden(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::Component,
) -> Option<String> {
    let ty = component.component_type();
    let mut imports: Vec<&str> = ty.imports(engine).map(|(name, _)| name).collect();
    imports.sort_unstable();
    imports.into_iter().find(|name| !is_allowed(name)).map(str::to_owned)
}

/// Every import of `component`, sorted (for `chaff plugins inspect`).
pub fn import_names(engine: &wasmtime::Engine, component: &wasmtime::component::Component) -> Vec<String> {
    let ty = component.component_type();
    let mut names: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_owned()).collect();
    names.sort_unstable();
    names
}

/// `wasi:io` host traits are implemented on the resource table itself.
struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// A linker providing `chaff:plugin/host` and exactly [`WASI_IMPORTS`] (synchronous WASI
/// 0.2 from `wasmtime-wasi`), nothing else.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut l = Linker::<CallState>::new(engine);
    chaff::host::add_to_linker::<CallState, HasSelf<CallState>>(&mut l, |s| s)?;
    chaff::types::add_to_linker::<CallState, HasSelf<CallState>>(&mut l, |s| s)?;

    wasi::cli::environment::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::exit::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::stdin::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::stdout::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::stderr::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::terminal_input::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::terminal_output::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::terminal_stdin::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::terminal_stdout::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;
    wasi::cli::terminal_stderr::add_to_linker::<CallState, WasiCli>(&mut l, CallState::cli)?;

    wasi::sync::io::error::add_to_linker::<CallState, HasIo>(&mut l, |s| s.ctx().table)?;
    wasi::sync::io::poll::add_to_linker::<CallState, HasIo>(&mut l, |s| s.ctx().table)?;
    wasi::sync::io::streams::add_to_linker::<CallState, HasIo>(&mut l, |s| s.ctx().table)?;

    wasi::clocks::wall_clock::add_to_linker::<CallState, WasiClocks>(&mut l, CallState::clocks)?;
    wasi::clocks::monotonic_clock::add_to_linker::<CallState, WasiClocks>(&mut l, CallState::clocks)?;

    wasi::sync::filesystem::types::add_to_linker::<CallState, WasiFilesystem>(&mut l, CallState::filesystem)?;
    wasi::filesystem::preopens::add_to_linker::<CallState, WasiFilesystem>(&mut l, CallState::filesystem)?;

    wasi::random::random::add_to_linker::<CallState, WasiRandom>(&mut l, |s| s.ctx().ctx.random())?;
    wasi::random::insecure::add_to_linker::<CallState, WasiRandom>(&mut l, |s| s.ctx().ctx.random())?;
    wasi::random::insecure_seed::add_to_linker::<CallState, WasiRandom>(&mut l, |s| s.ctx().ctx.random())?;
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_std_wasi_and_the_contract_only() {
        assert!(is_allowed("wasi:cli/environment@0.2.6"));
        assert!(is_allowed("wasi:io/streams@0.2.0"));
        assert!(is_allowed("wasi:random/insecure-seed@0.2.10"));
        assert!(is_allowed("chaff:plugin/host@0.1.0"));
        assert!(!is_allowed("chaff:plugin/host@0.2.0"));
        assert!(!is_allowed("wasi:sockets/tcp@0.2.6"));
        assert!(!is_allowed("wasi:sockets/ip-name-lookup@0.2.6"));
        assert!(!is_allowed("wasi:http/outgoing-handler@0.2.6"));
        assert!(!is_allowed("wasi:cli/environment@0.3.0"));
        assert!(!is_allowed("wasi:cli/environment"));
        assert!(!is_allowed("wasi:cli/environment@0.2."));
        assert!(!is_allowed("evil:thing/x@1.0.0"));
    }
}
