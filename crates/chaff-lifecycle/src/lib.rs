//! Chaff's lifecycle engine (DESIGN.md §4): the operations the CLI and the desktop app call,
//! and the runner that carries them out on Docker.
//!
//! Every long operation (deploy, teardown, mutate, add/remove a service, apply a service
//! configuration) is fire-and-forget: the call validates, commits the new desired state,
//! opens one lifecycle row per affected decky (`pending`), spawns the work on tokio and
//! returns the ids at once. The runner moves each row `pending → running → succeeded |
//! failed`, recording its current step, and publishes every change on the bus.
//!
//! Invariants:
//! * a refused operation changed nothing: validation (names, services, configuration, the
//!   fragment policy — rendering runs the plugins) happens before any write;
//! * one open operation per decky: the store refuses a second one, naming the open row;
//! * the database is the source of truth, events are best-effort: publishing never fails
//!   an operation;
//! * no row stays open: every spawned job closes its rows, even when it panics, and
//!   [`Engine::recover`] closes the rows a crash left open;
//! * one decky failing does not fail the others of the same operation;
//! * every line a service container logs is stored once, published on `attacker.observed`
//!   and forwarded to its fleet's syslog target ([`events`]).

mod engine;
mod error;
pub mod events;
mod fleet_record;
pub mod lease;
pub mod local;
mod operations;
mod recovery;
mod runner;
pub mod schedule;
mod status;

pub use chaff_state::{LifecycleRow, LifecycleStatus, Operation, Uuid};
pub use engine::{Clock, Engine, EngineOptions, MAX_PARALLEL_DECKIES};
pub use error::{ErrorCode, OpError};
pub use events::{Collected, ForwardStats};
pub use operations::{Accepted, ConfigChange, DeployRequest, TeardownTarget};
pub use recovery::{Reaped, Recovered};
pub use status::{ContainerStatus, DeckyState, DeckyStatus, FleetStatus, Status};
