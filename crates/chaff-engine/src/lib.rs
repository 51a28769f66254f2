//! Chaff's engine: the fleet model, the data tables (archetypes, distros, OS families), INI
//! import and export, and rendering a fleet into a compose project.
//!
//! Time and randomness are inputs (`now`, a `fastrand::Rng`), so every function here is
//! deterministic and testable.

pub mod addressing;
pub mod archetypes;
pub mod catalogue;
pub mod data_dir;
pub mod distros;
pub mod ini;
pub mod log_target;
pub mod model;
pub mod naming;
pub mod os_family;
pub mod plugins;
pub mod reconcile;
pub mod render;

/// Re-exported: callers pass a `fastrand::Rng` to the functions that pick at random.
pub use fastrand;

pub use catalogue::{Catalogue, ServicePlugins};
pub use ini::{ImportOptions, IniError, export_ini, import_ini};
pub use log_target::{LogTarget, LogTargetError, LogTransport};
pub use model::{CustomService, Decky, Fleet, FleetService, Network, NetworkDriver};
pub use render::{ComposeProject, RenderError, render_fleet};
