//! Chaff's plugin host: loads WebAssembly component plugins (`chaff:plugin@0.1.0`, built for
//! `wasm32-wasip2`) into a sandbox and checks everything they return.
//!
//! * [`PluginHost`] loads plugins (manifest, hash, trust, import allowlist, world, catalogue)
//!   and calls them (`render`, `mutate`, `plan`), each call in a fresh store under memory,
//!   time and output limits ([`Limits`]).
//! * [`validate_config`] coerces a service's configuration with the original's rules.
//! * [`check_fragment`] is the fragment policy: the security boundary between a plugin and
//!   Docker.
//! * [`TrustStore`] records which third-party plugin builds the user trusts.

pub mod artifacts;
mod bindings;
mod calls;
pub mod catalog;
pub mod config;
pub mod engine;
pub mod error;
pub mod host;
pub mod imports;
mod invoke;
pub mod limits;
pub mod manifest;
pub mod output;
pub mod policy;
mod sandbox;
pub mod spec;
pub mod status;
pub mod trust;

pub use artifacts::{ArtifactSource, CacheStats};
pub use config::{ConfigError, TEXTAREA_BASE64_PREFIX, validate_config};
pub use error::{Call, HostError, LoadError, PluginError, RenderFailure, StrategyFailure};
pub use host::{HostOptions, PluginHost, PluginId};
pub use limits::{Limits, PluginLimits};
pub use manifest::{API_VERSION, Manifest, Origin, PluginKind, sha256_hex};
pub use policy::{PolicyViolation, ViolationKind, check_fragment};
pub use spec::*;
pub use status::{DisabledReason, PluginState, PluginStatus};
pub use trust::{TrustError, TrustStore, TrustedPlugin};
