//! Chaff's sensor: the one process inside every decky container, built as a static binary
//! and shipped in the local image `chaff-sensor:0.1` (see `chaff-sensor-image`).
//!
//! * `chaff-sensor idle` — the base container: holds the decky's network namespace, does
//!   nothing, exits 0 on SIGTERM, SIGINT or SIGHUP.
//! * `chaff-sensor <slug>` — a service container: binds every port of catalogue service
//!   `<slug>` ([`ports::SERVICES`]) on 0.0.0.0, configured by the environment the service
//!   plugin set ([`Env`]), and serves each with its protocol emulator ([`emulators`]); ports
//!   without one run the low-interaction [`emulators::generic`] listener: TCP connections are
//!   accepted and read (at most 64 KiB, closed after 30 s of silence or 10 minutes), UDP
//!   datagrams are recorded, nothing is answered. `sniffer` has no ports: it captures
//!   frames on its interface ([`emulators::sniffer`]).
//!
//! Everything runs on one single-threaded tokio runtime ([`listener`]).
//!
//! The library holds the port table, the event format and the listeners; `src/main.rs` is
//! the command line.
//!
//! # Events
//!
//! One JSON object per line on stdout (diagnostics go to stderr as plain text). Schema
//! version 1 (`EVENTS.md` in this crate has examples):
//!
//! | field        | type    | present | meaning                                                      |
//! |--------------|---------|---------|--------------------------------------------------------------|
//! | `v`          | integer | always  | schema version, `1`                                          |
//! | `ts`         | string  | always  | RFC 3339 UTC with milliseconds, `2024-05-01T12:34:56.789Z`  |
//! | `decky`      | string  | always  | `NODE_NAME`, else `HOSTNAME`, else empty                     |
//! | `service`    | string  | always  | the catalogue slug, e.g. `redis`                             |
//! | `kind`       | string  | always  | `listening`, `connect`, `disconnect`, `datagram`, `error`, or a protocol kind |
//! | `transport`  | string  | always  | `tcp` or `udp`                                               |
//! | `src_ip`     | string  | with a peer | the client's address (IPv4-mapped IPv6 written as IPv4)  |
//! | `src_port`   | integer | with a peer | the client's port                                        |
//! | `dst_port`   | integer | always  | the sensor's port the event is about                         |
//! | `conn`       | integer | TCP connections | connection id, unique per process; ties `connect` to `disconnect` |
//!
//! Fields of each kind, after the common ones:
//!
//! * `listening`: `bind` (string, `0.0.0.0:22`) — the port is served.
//! * `connect`: none.
//! * `disconnect`: `bytes_in` (integer, bytes read from the client), `duration_ms` (integer),
//!   `preview` (string, the first 128 bytes received, escaped: printable ASCII as is, `\\`,
//!   `\r`, `\n`, `\t`, and `\xNN` for any other byte), `reason` (`eof` client closed,
//!   `timeout` silence or session time limit, `limit` read cap reached, `busy` too many open
//!   connections, `error` read failed, e.g. reset, `closed` the emulator ended the session).
//! * `datagram`: `bytes` (integer, payload size), `preview` (as above).
//! * `error`: `message` (string). A port that cannot be bound or configured is recorded as an
//!   `error` event, reported on stderr, and the sensor exits 1.
//! * protocol kinds (`auth`, `command`, `request`, ...): the emulator's own fields; captured
//!   bytes as text when UTF-8, else escaped plus `<name>_hex` ([`Fields::bytes`]).
//!
//! Readers must ignore fields they do not know: new fields may appear within version 1.

pub mod codec;
pub mod emulators;
pub mod env;
pub mod event;
pub mod listener;
pub mod persona;
pub mod ports;
pub mod recorder;

pub use env::{ConfigError, Env};
pub use event::{EndReason, Event, Fields, Kind, SCHEMA_VERSION};
pub use ports::{IDLE, Port, SERVICES, Service, Transport, service_named};
pub use recorder::Recorder;

/// The sensor's version, as `chaff-sensor --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
