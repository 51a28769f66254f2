//! The process-wide wasmtime engine and its epoch ticker.
//!
//! Invariant: there is exactly one [`Engine`] per process, configured once; every compiled
//! component, cache file and store belongs to it. Time budgets are epoch deadlines: a
//! background thread advances the epoch every [`EPOCH_TICK`], and a store whose deadline
//! passes traps with [`wasmtime::Trap::Interrupt`] at its next epoch check.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the resolution of every time budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The wasmtime version this crate is pinned to (`=48.0.8` in the workspace). Compiled
/// artifacts are only valid for the wasmtime that wrote them, so cache files carry it in
/// their name. A test keeps it in step with `Cargo.lock`.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Bytes at the start of each pooled memory kept resident between calls and reset in place
/// instead of being returned to the kernel. A plugin call touches a few pages near the start
/// of its memory (stack, data, the first pages of its heap); faulting those in and
/// `madvise`-ing them away again on every call was the largest cost of a call. Where the
/// kernel has `PAGEMAP_SCAN` (Linux 6.7+) only the pages the call dirtied are reset; on older
/// kernels the whole window is.
pub const POOL_KEEP_RESIDENT_BYTES: usize = 128 << 10;

/// Plugin calls that can be in flight at once across the process. Instances come from a pool
/// of pre-reserved slots (instantiating from a slot is a few microseconds; mapping fresh
/// memory for every call was most of a call's cost); a call beyond this waits for no one and
/// fails to instantiate, so it is far above any real concurrency (the runner's parallelism).
pub const CONCURRENT_CALL_SLOTS: u32 = 256;

/// Core instances, memories and tables one plugin instance may hold. A Rust component is one
/// core module with one memory plus a few small shim modules with tables.
const CORE_INSTANCES_PER_CALL: u32 = 16;
const MEMORIES_PER_CALL: u32 = 2;
const TABLES_PER_CALL: u32 = 16;

/// The largest linear memory the pool can give one plugin. Per-call caps ([`crate::Limits`])
/// are enforced below this by the store's limiter; this is only the slot size.
pub const POOL_MAX_MEMORY_BYTES: usize = 256 << 20;

/// Set (to anything) to have the engine write `/tmp/perf-<pid>.map`, so that `perf report`
/// names the plugins' compiled functions. Diagnostics only; it costs nothing when unset.
pub const PERFMAP_ENV: &str = "CHAFF_PLUGIN_PERFMAP";

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// The engine, created (with its ticker thread) on first use.
pub fn engine() -> Result<&'static Engine, String> {
    ENGINE.get_or_init(create).as_ref().map_err(Clone::clone)
}

fn create() -> Result<Engine, String> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    if std::env::var_os(PERFMAP_ENV).is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool()));
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
    tracing::debug!(tick_ms = EPOCH_TICK.as_millis() as u64, "plugin engine ready");
    Ok(engine)
}

fn pool() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(CONCURRENT_CALL_SLOTS)
        .total_core_instances(CONCURRENT_CALL_SLOTS * CORE_INSTANCES_PER_CALL)
        .total_memories(CONCURRENT_CALL_SLOTS * MEMORIES_PER_CALL)
        .total_tables(CONCURRENT_CALL_SLOTS * TABLES_PER_CALL)
        .max_memories_per_module(MEMORIES_PER_CALL)
        .max_tables_per_module(TABLES_PER_CALL)
        .max_memory_size(POOL_MAX_MEMORY_BYTES)
        .linear_memory_keep_resident(POOL_KEEP_RESIDENT_BYTES)
        .table_keep_resident(POOL_KEEP_RESIDENT_BYTES)
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Epoch ticks covering `budget`. One tick is added because the current tick may already
/// be nearly over: the budget is a floor, never cut short by tick alignment.
pub fn ticks_for(budget: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let ticks = budget.as_nanos().div_ceil(tick);
    u64::try_from(ticks).unwrap_or(u64::MAX - 1).saturating_add(1)
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
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
        let entry = format!("name = \"wasmtime\"\nversion = \"{WASMTIME_VERSION}\"");
        assert!(lock.contains(&entry), "Cargo.lock's wasmtime is not {WASMTIME_VERSION}");
    }
}
