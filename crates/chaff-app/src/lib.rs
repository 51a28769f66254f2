//! The desktop app's core, free of Tauri (DESIGN.md §1: the shell is thin).
//!
//! * [`App`] holds the started engine and answers every command the webview may call; long
//!   work returns lifecycle ids at once, exactly as the engine does.
//! * [`UiError`] is the one error shape the UI sees: `{code, message, field?}`.
//! * [`ui_events`] is the one place that names the events the webview listens to, and maps
//!   bus events onto them.
//! * [`docker_health`] watches whether Docker can be reached and says how to fix it.
//!
//! Invariant: nothing here blocks an async worker on SQLite or a plugin call; those run on
//! the blocking pool, so a long deploy never stalls a command's answer.

mod app;
pub mod docker_health;
mod error;
pub mod ui_events;
pub mod views;

pub use app::{App, EventFilter};
pub use error::UiError;
