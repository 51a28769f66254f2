//! The end-to-end test package: its tests live in `tests/tests/`. This library is empty; it
//! exists because a cargo package needs a target of its own.
