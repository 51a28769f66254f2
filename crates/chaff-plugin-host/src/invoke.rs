//! Running one call into a plugin under its limits, and turning whatever went wrong into
//! the specific [`PluginError`] for it.

use std::sync::Arc;

use wasmtime::{Engine, Store, Trap};

use crate::error::{Call, PluginError};
use crate::sandbox::{CallLimits, CallState};

/// Most characters of a trap description kept in an error message.
const TRAP_MESSAGE_LIMIT: usize = 2048;

/// Runs `body` (instantiate + call) in a fresh store for `plugin` under `limits`.
pub fn invoke<R>(
    engine: &Engine,
    plugin: &Arc<str>,
    call: Call,
    limits: CallLimits,
    body: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
) -> Result<R, PluginError> {
    let mut store = CallState::store(engine, plugin, limits);
    let outcome = body(&mut store);
    store.data().finish(call);
    outcome.map_err(|error| classify(&error, store.data(), plugin, call, limits))
}

/// Memory first (a denied growth traps, and nothing else explains the trap better), then
/// the epoch deadline, then everything else as a trap with the plugin's stderr attached
/// (that is where a Rust panic message goes).
fn classify(
    error: &wasmtime::Error,
    state: &CallState,
    plugin: &str,
    call: Call,
    limits: CallLimits,
) -> PluginError {
    let plugin = plugin.to_owned();
    if state.memory.denied {
        return PluginError::MemoryExceeded { plugin, call, limit: limits.memory_bytes };
    }
    if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return PluginError::Timeout { plugin, call, budget: limits.budget };
    }
    PluginError::Trapped { plugin, call, message: describe(error, &state.stderr_text()) }
}

fn describe(error: &wasmtime::Error, stderr: &str) -> String {
    let cause = if let Some(trap) = error.downcast_ref::<Trap>() {
        trap.to_string()
    } else if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        format!("the plugin exited with status {}", exit.0)
    } else {
        error.root_cause().to_string()
    };
    let message = if stderr.is_empty() { cause } else { format!("{stderr} ({cause})") };
    message.chars().take(TRAP_MESSAGE_LIMIT).collect()
}
