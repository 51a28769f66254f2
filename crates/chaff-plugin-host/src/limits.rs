//! The resource limits every plugin call runs under. Each default is a named constant; a
//! [`Limits`] value overrides them per host (tests use short budgets, a lab may want more).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::manifest::PluginKind;

/// Linear memory a service plugin may use during one call (all its memories together).
pub const SERVICE_MEMORY_LIMIT: usize = 32 << 20;

/// Linear memory a strategy plugin may use during one call; strategies see whole fleets.
pub const STRATEGY_MEMORY_LIMIT: usize = 64 << 20;

/// Time budget of `catalog()` / `strategies()`, called once at load. Describing oneself is
/// cheap; a plugin that takes longer is broken or hostile.
pub const CATALOG_TIME_BUDGET: Duration = Duration::from_millis(250);

/// Time budget of one `render`, `mutate` or `plan` call, instantiation included.
pub const CALL_TIME_BUDGET: Duration = Duration::from_secs(2);

/// Largest compose fragment (JSON text) a `render` may return.
pub const FRAGMENT_SIZE_LIMIT: usize = 256 << 10;

/// Largest strategy answer, counted as the bytes of every string in it plus four bytes per
/// plan step (its batch number).
pub const STRATEGY_OUTPUT_LIMIT: usize = 256 << 10;

/// Consecutive timeouts after which a plugin is disabled for the life of the host.
pub const TIMEOUTS_BEFORE_DISABLE: u32 = 3;

/// Longest message a plugin may log in one `log` call; longer ones are cut (at a character
/// boundary) and marked as truncated.
pub const LOG_MESSAGE_LIMIT: usize = 1024;

/// Most `log` calls recorded per plugin call; the rest are counted and reported once.
pub const LOG_EVENTS_PER_CALL: usize = 64;

/// Per-host overrides of the limits above. `Limits::default()` is exactly the constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub service_memory: usize,
    pub strategy_memory: usize,
    pub catalog_budget: Duration,
    pub call_budget: Duration,
    pub fragment_size: usize,
    pub strategy_output: usize,
    pub timeouts_before_disable: u32,
    pub log_message: usize,
    pub log_events_per_call: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            service_memory: SERVICE_MEMORY_LIMIT,
            strategy_memory: STRATEGY_MEMORY_LIMIT,
            catalog_budget: CATALOG_TIME_BUDGET,
            call_budget: CALL_TIME_BUDGET,
            fragment_size: FRAGMENT_SIZE_LIMIT,
            strategy_output: STRATEGY_OUTPUT_LIMIT,
            timeouts_before_disable: TIMEOUTS_BEFORE_DISABLE,
            log_message: LOG_MESSAGE_LIMIT,
            log_events_per_call: LOG_EVENTS_PER_CALL,
        }
    }
}

impl Limits {
    /// The memory cap of one call into a plugin of `kind`.
    pub fn memory_for(&self, kind: PluginKind) -> usize {
        match kind {
            PluginKind::Service => self.service_memory,
            PluginKind::Strategy => self.strategy_memory,
        }
    }

    /// The output cap of one call into a plugin of `kind`.
    pub fn output_for(&self, kind: PluginKind) -> usize {
        match kind {
            PluginKind::Service => self.fragment_size,
            PluginKind::Strategy => self.strategy_output,
        }
    }

    /// What one plugin of `kind` runs under, for `chaff plugins inspect`.
    pub fn effective(&self, kind: PluginKind) -> PluginLimits {
        PluginLimits {
            memory_bytes: self.memory_for(kind),
            catalog_budget_ms: millis(self.catalog_budget),
            call_budget_ms: millis(self.call_budget),
            output_bytes: self.output_for(kind),
        }
    }
}

/// The limits one plugin runs under, in plain numbers (for display and JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginLimits {
    pub memory_bytes: usize,
    pub catalog_budget_ms: u64,
    pub call_budget_ms: u64,
    pub output_bytes: usize,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
