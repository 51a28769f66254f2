//! Logging through the host. On wasm each call reaches the host's log with the plugin's id
//! attached; natively (tests, benchmarks) messages are discarded.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[cfg(target_arch = "wasm32")]
pub fn log(level: Level, message: &str) {
    crate::glue::log(level, message);
}

#[cfg(not(target_arch = "wasm32"))]
pub fn log(_level: Level, _message: &str) {}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}
