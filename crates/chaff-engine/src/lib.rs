//! Chaff's engine.
