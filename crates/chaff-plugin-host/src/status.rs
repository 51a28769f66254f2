//! How each plugin is doing, for `chaff plugins list|inspect` and the UI: what it is, where it
//! came from, whether it is enabled (and if not, why), what it provides, what it runs under.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Deserialize, Serialize};

use crate::artifacts::ArtifactSource;
use crate::limits::PluginLimits;
use crate::manifest::{Origin, PluginKind};

/// Why a plugin is not in use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum DisabledReason {
    /// A third-party plugin whose exact hash the user has not trusted.
    Untrusted,
    /// Disabled after timing out this many times in a row.
    RepeatedTimeouts { count: u32 },
    /// Refused at load (bad hash, forbidden import, broken catalogue...).
    LoadFailed { error: String },
}

impl std::fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisabledReason::Untrusted => f.write_str("not trusted"),
            DisabledReason::RepeatedTimeouts { count } => {
                write!(f, "timed out {count} times in a row")
            }
            DisabledReason::LoadFailed { error } => write!(f, "failed to load: {error}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PluginState {
    Enabled,
    Disabled { reason: DisabledReason },
}

impl PluginState {
    pub fn is_enabled(&self) -> bool {
        matches!(self, PluginState::Enabled)
    }
}

/// One plugin as `chaff plugins list|inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginStatus {
    pub id: String,
    pub version: String,
    pub kind: PluginKind,
    pub origin: Origin,
    pub description: String,
    pub sha256: String,
    pub state: PluginState,
    /// Service slugs (service plugins), sorted.
    pub services: Vec<String>,
    /// Strategy ids (strategy plugins), sorted.
    pub strategies: Vec<String>,
    pub limits: PluginLimits,
    /// Where its compiled code came from; `None` when it was refused before compiling.
    pub artifact: Option<ArtifactSource>,
    /// Its component imports, sorted; empty when it was refused before compiling.
    pub imports: Vec<String>,
}

/// A loaded plugin's run-time health: consecutive timeouts, and the reason it was disabled.
///
/// Invariant: once disabled, a plugin stays disabled for the life of the host.
#[derive(Debug, Default)]
pub(crate) struct Health {
    consecutive_timeouts: AtomicU32,
    disabled: Mutex<Option<DisabledReason>>,
}

impl Health {
    pub fn disabled(&self) -> Option<DisabledReason> {
        self.disabled.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records a call outcome; returns true when this timeout just disabled the plugin.
    pub fn record(&self, timed_out: bool, disable_after: u32) -> bool {
        if !timed_out {
            self.consecutive_timeouts.store(0, Ordering::Relaxed);
            return false;
        }
        let count = self.consecutive_timeouts.fetch_add(1, Ordering::Relaxed) + 1;
        if count < disable_after {
            return false;
        }
        let mut disabled = self.disabled.lock().unwrap_or_else(|p| p.into_inner());
        if disabled.is_some() {
            return false;
        }
        *disabled = Some(DisabledReason::RepeatedTimeouts { count });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disables_after_consecutive_timeouts_only() {
        let health = Health::default();
        assert!(!health.record(true, 3));
        assert!(!health.record(true, 3));
        assert!(!health.record(false, 3));
        assert!(!health.record(true, 3));
        assert!(!health.record(true, 3));
        assert!(health.disabled().is_none());
        assert!(health.record(true, 3));
        assert_eq!(health.disabled(), Some(DisabledReason::RepeatedTimeouts { count: 3 }));
        assert!(!health.record(true, 3), "disabling happens once");
    }
}
