//! The process-wide wasmtime engine and its epoch ticker.
//!
//! Invariant: there is exactly one [`Engine`] per process, configured once; every compiled
//! component, cache file and store belongs to it. Time budgets are epoch deadlines: a
//! background thread advances the epoch every [`EPOCH_TICK`], and a store whose deadline
//! passes traps with [`wasmtime::Trap::Interrupt`] at its next epoch check.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine};

/// How often the epoch advances: the resolution of every time budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The wasmtime version this crate is pinned to (`=48.0.8` in the workspace). Compiled
/// artifacts are only valid for the wasmtime that wrote them, so cache files carry it in
/// their name. A test keeps it in step with `Cargo.lock`.
pub const WASMTIME_VERSION: &str = "48.0.8";

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// The engine, created (with its ticker thread) on first use.
pub fn engine() -> Result<&'static Engine, String> {
    ENGINE.get_or_init(create).as_ref().map_err(Clone::clone)
}

fn create() -> Result<Engine, String> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
    let ticking = engine.clone();
    std::thread::Builder::new()
        .name("chaff-plugin-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                ticking.increment_epoch();
            }
        })
        .map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
    tracing::debug!(
        tick_ms = EPOCH_TICK.as_millis() as u64,
        "plugin engine ready"
    );
    Ok(engine)
}

/// Epoch ticks covering `budget`. One tick is added because the current tick may already
/// be nearly over: the budget is a floor, never cut short by tick alignment.
pub fn ticks_for(budget: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let ticks = budget.as_nanos().div_ceil(tick);
    u64::try_from(ticks)
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_and_add_one() {
        assert_eq!(ticks_for(Duration::from_millis(250)), 26);
        assert_eq!(ticks_for(Duration::from_millis(1)), 2);
        assert_eq!(ticks_for(Duration::ZERO), 1);
    }

    #[test]
    fn the_pinned_version_matches_the_lock_file() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .unwrap();
        let entry = format!("name = \"wasmtime\"\nversion = \"{WASMTIME_VERSION}\"");
        assert!(
            lock.contains(&entry),
            "Cargo.lock's wasmtime is not {WASMTIME_VERSION}"
        );
    }
}
