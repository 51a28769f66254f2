//! What one plugin call runs in: a fresh store holding an empty WASI context, a memory cap
//! that remembers being hit, a log sink bound to the plugin's id, and a small stderr buffer.
//!
//! Invariant: a store lives for exactly one call. Nothing a plugin does in one call (memory,
//! globals, a trapped instance) is visible to the next.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::service::chaff::plugin::{host, types::LogLevel};
use crate::engine::ticks_for;

/// Bytes of a call's stderr kept (a panic message fits); further writes see a closed stream.
pub const STDERR_CAPTURE_LIMIT: usize = 4096;

/// Most tables and instances a plugin store may create. A Rust component needs a handful.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 8;

/// Elements a plugin's tables may hold in total (each is a pointer on the host).
const MAX_TABLE_ELEMENTS: usize = 1 << 16;

/// The per-call store data.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    log: LogSink,
    stderr: MemoryOutputPipe,
}

/// Settings of one call.
#[derive(Clone, Copy, Debug)]
pub struct CallLimits {
    pub memory_bytes: usize,
    pub budget: std::time::Duration,
    pub log_message: usize,
    pub log_events: usize,
}

impl CallState {
    /// A store for one call of `plugin`: empty WASI context, memory cap armed, deadline set.
    pub fn store(engine: &wasmtime::Engine, plugin: &Arc<str>, limits: CallLimits) -> Store<CallState> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_LIMIT);
        // No preopens, no env, no args, no network: the builder starts from nothing and only
        // stderr is pointed somewhere (a bounded in-memory buffer).
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let state = CallState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap::new(limits.memory_bytes),
            log: LogSink::new(plugin.clone(), limits.log_message, limits.log_events),
            stderr,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.memory);
        store.set_epoch_deadline(ticks_for(limits.budget));
        store.epoch_deadline_trap();
        store
    }

    /// What the plugin wrote to stderr (lossy UTF-8, trimmed).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).trim().to_owned()
    }

    /// Ends the call's logging: reports messages dropped by the per-call cap, and what the
    /// plugin wrote to stderr (at debug level: the call's outcome is reported elsewhere).
    pub fn finish(&self, call: crate::error::Call) {
        self.log.report_suppressed();
        let stderr = self.stderr_text();
        if !stderr.is_empty() {
            tracing::debug!(plugin = &*self.log.plugin, %call, %stderr, "plugin stderr");
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps the total linear memory of a store and remembers whether the cap refused growth,
/// so that a resulting trap is reported as memory exhaustion rather than a generic trap.
#[derive(Debug)]
pub struct MemoryCap {
    limit: usize,
    /// Sum of all memories' current sizes.
    used: usize,
    table_elements: usize,
    pub(crate) denied: bool,
}

impl MemoryCap {
    fn new(limit: usize) -> Self {
        Self { limit, used: 0, table_elements: 0, denied: false }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.denied = true;
            // Trap instead of returning -1 from memory.grow: a Rust guest would abort anyway,
            // and a trap stops it at the exact allocation.
            return Err(wasmtime::format_err!(
                "plugin memory limit of {} bytes reached (asked for {total})",
                self.limit
            ));
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.table_elements.saturating_sub(current).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

/// `chaff:plugin/host.log` → a tracing event with `plugin = <id>`, bounded in size and count.
struct LogSink {
    plugin: Arc<str>,
    max_bytes: usize,
    max_events: usize,
    emitted: usize,
    suppressed: usize,
}

impl LogSink {
    fn new(plugin: Arc<str>, max_bytes: usize, max_events: usize) -> Self {
        Self { plugin, max_bytes, max_events, emitted: 0, suppressed: 0 }
    }

    fn record(&mut self, level: LogLevel, message: &str) {
        if self.emitted >= self.max_events {
            self.suppressed += 1;
            return;
        }
        self.emitted += 1;
        let (message, truncated) = truncate(message, self.max_bytes);
        let plugin = &*self.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, truncated, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, truncated, "{message}"),
            LogLevel::Info => tracing::info!(plugin, truncated, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, truncated, "{message}"),
            LogLevel::Error => tracing::error!(plugin, truncated, "{message}"),
        }
    }

    fn report_suppressed(&self) {
        if self.suppressed > 0 {
            tracing::warn!(
                plugin = &*self.plugin,
                suppressed = self.suppressed,
                "plugin log messages dropped"
            );
        }
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

impl host::Host for CallState {
    fn log(&mut self, level: LogLevel, message: String) {
        self.log.record(level, &message);
    }
}

impl crate::bindings::service::chaff::plugin::types::Host for CallState {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_char_boundaries() {
        assert_eq!(truncate("hello", 10), ("hello", false));
        assert_eq!(truncate("hello", 3), ("hel", true));
        assert_eq!(truncate("héllo", 2), ("h", true));
    }

    #[test]
    fn memory_cap_counts_all_memories_and_remembers_denials() {
        let mut cap = MemoryCap::new(100);
        assert!(cap.memory_growing(0, 60, None).unwrap());
        assert!(cap.memory_growing(0, 30, None).unwrap());
        assert!(!cap.denied);
        assert!(cap.memory_growing(60, 80, None).is_err());
        assert!(cap.denied);
    }
}
