//! Chaff's plugin host.
pub mod spec;
