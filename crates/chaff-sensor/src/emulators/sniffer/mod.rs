//! `sniffer`: the fleet's one passive observer. It runs in a container of its own on the
//! fleet network (the only one granted `NET_RAW` and `NET_ADMIN`) and records what reaches
//! its interface: on a bridge or macvlan network that is every broadcast (so every ARP
//! who-has, the first step of any contact with a decky or a dark address), every gratuitous
//! ARP, and whatever unicast is addressed to it or flooded to it (a SYN, a UDP datagram, an
//! ICMP echo sent to its own or, in promiscuous mode, any other address).
//!
//! It has no ports: [`start`] opens an `AF_PACKET` socket (no libpcap: the sensor is a static
//! binary in a `FROM scratch` image) on `SNIFFER_INTERFACE` and serves it as one task.
//! Frames are parsed by [`packet`], classified by [`observe`] and deduplicated by
//! [`tracker`]. Configuration (a bad value fails start-up, naming the variable):
//!
//! * `SNIFFER_INTERFACE` — the interface to capture on, default `eth0`;
//! * `SNIFFER_PROMISCUOUS` — a flag, default true: also see unicast not addressed to it;
//! * `SNIFFER_DEDUP_SECONDS` — the window in which a sighting is recorded once, 1 to 86400,
//!   default 300 (the original's TTL).

pub mod observe;
pub mod packet;
mod socket;
pub mod tracker;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

use self::observe::Observer;
use self::socket::RawSocket;
use crate::env::{ConfigError, Env};
use crate::event::{Event, Fields, Kind};
use crate::ports::Transport;
use crate::recorder::Recorder;

/// The catalogue slug this start path serves.
pub const SLUG: &str = "sniffer";
/// Keys remembered for deduplication, and addresses for conflict detection (each).
pub const TABLE_CAPACITY: usize = 4096;
/// Bytes kept of each frame: enough for Ethernet + VLAN + the longest IPv4 header + the
/// TCP flags; longer frames are truncated by the kernel.
pub const SNAPLEN: usize = 256;
/// After a receive error (the interface went down), how long before reading again; doubled
/// after each error in a row up to [`MAX_ERROR_PAUSE`], so a lost interface costs one event
/// a minute, not a flood.
const ERROR_PAUSE: Duration = Duration::from_secs(1);
const MAX_ERROR_PAUSE: Duration = Duration::from_secs(60);

const INTERFACE_ENV: &str = "SNIFFER_INTERFACE";
const PROMISCUOUS_ENV: &str = "SNIFFER_PROMISCUOUS";
const DEDUP_ENV: &str = "SNIFFER_DEDUP_SECONDS";
/// Linux's limit on interface names, terminating NUL excluded.
const MAX_INTERFACE_NAME: usize = 15;
const MAX_DEDUP_SECONDS: u64 = 86_400;

/// The sniffer's configuration, from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffer {
    pub interface: String,
    pub promiscuous: bool,
    pub window: Duration,
}

impl Sniffer {
    pub fn from_env(env: &Env) -> Result<Sniffer, ConfigError> {
        let interface = env.get_or(INTERFACE_ENV, "eth0");
        if !valid_interface_name(interface) {
            return Err(ConfigError::new(INTERFACE_ENV, format!("not an interface name: {interface:?}")));
        }
        let seconds = env.parse::<u64>(DEDUP_ENV, "seconds from 1 to 86400")?.unwrap_or(300);
        if !(1..=MAX_DEDUP_SECONDS).contains(&seconds) {
            return Err(ConfigError::new(
                DEDUP_ENV,
                format!("expected seconds from 1 to 86400, got {seconds}"),
            ));
        }
        Ok(Sniffer {
            interface: interface.to_owned(),
            promiscuous: env.flag(PROMISCUOUS_ENV)?.unwrap_or(true),
            window: Duration::from_secs(seconds),
        })
    }
}

/// Linux's rule (`dev_valid_name`): 1 to 15 bytes, not `.` or `..`, no `/`, `:`, NUL or
/// whitespace.
fn valid_interface_name(name: &str) -> bool {
    (1..=MAX_INTERFACE_NAME).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
}

/// Why the sniffer could not start.
#[derive(Debug)]
pub enum CaptureError {
    /// The environment configures it wrongly (including an interface that does not exist).
    Config(ConfigError),
    /// The capture socket could not be opened (no `NET_RAW`, typically).
    Open { interface: String, source: io::Error },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Config(e) => write!(f, "cannot configure the capture: {e}"),
            CaptureError::Open { interface, source } => write!(f, "cannot capture on {interface}: {source}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Config(e) => Some(e),
            CaptureError::Open { source, .. } => Some(source),
        }
    }
}

/// Opens the capture described by `env` and serves it as a task on the current tokio
/// runtime (call it inside one). Records `capturing` once the socket is open; a failure is
/// recorded as an `error` event and returned.
pub fn start(env: &Env, recorder: &Arc<Recorder>) -> Result<JoinHandle<()>, CaptureError> {
    let opened = open(env);
    let (sniffer, socket) = opened.inspect_err(|e| record_error(recorder, &e.to_string()))?;
    recorder.record(&event(Kind::Protocol {
        name: "capturing",
        fields: Fields::new()
            .text("interface", sniffer.interface.as_str())
            .flag("promiscuous", sniffer.promiscuous)
            .num("dedup_seconds", sniffer.window.as_secs()),
    }));
    let observer = Observer::new(sniffer.window, TABLE_CAPACITY, Instant::now());
    Ok(tokio::spawn(capture(socket, observer, Arc::clone(recorder))))
}

fn record_error(recorder: &Recorder, message: &str) {
    recorder.record(&event(Kind::Error { message }));
}

fn open(env: &Env) -> Result<(Sniffer, AsyncFd<RawSocket>), CaptureError> {
    let sniffer = Sniffer::from_env(env).map_err(CaptureError::Config)?;
    let open_error = |source| CaptureError::Open { interface: sniffer.interface.clone(), source };
    let Some(index) = socket::interface_index(&sniffer.interface) else {
        let message = format!("no interface named {:?}", sniffer.interface);
        return Err(CaptureError::Config(ConfigError::new(INTERFACE_ENV, message)));
    };
    let socket = RawSocket::open(index, sniffer.promiscuous).and_then(RawSocket::into_async);
    let socket = socket.map_err(open_error)?;
    Ok((sniffer, socket))
}

/// A sniffer event: no peer port, no local port (the kind's fields say what was seen).
fn event(kind: Kind<'_>) -> Event<'_> {
    Event { transport: Transport::Udp, src: None, dst_port: 0, conn: None, kind }
}

/// Reads frames until the task is aborted. Frames the host sent itself are skipped: only
/// what reached the interface is a sighting.
async fn capture(socket: AsyncFd<RawSocket>, mut observer: Observer, recorder: Arc<Recorder>) {
    let mut buf = [0u8; SNAPLEN];
    let mut pause = ERROR_PAUSE;
    loop {
        let mut ready = match socket.readable().await {
            Ok(ready) => ready,
            Err(e) => return record_error(&recorder, &format!("capture: {e}")),
        };
        match ready.try_io(|s| s.get_ref().recv(&mut buf)) {
            Ok(Ok(received)) => {
                pause = ERROR_PAUSE;
                if !received.outgoing {
                    observer.frame(&buf[..received.len.min(SNAPLEN)], Instant::now(), &recorder);
                }
            }
            Err(_would_block) => {}
            Ok(Err(e)) => {
                record_error(&recorder, &format!("capture: {e}"));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_ERROR_PAUSE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Sniffer, String> {
        Sniffer::from_env(&Env::from_pairs(pairs.iter().copied())).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let expected =
            Sniffer { interface: "eth0".into(), promiscuous: true, window: Duration::from_secs(300) };
        assert_eq!(config(&[]), Ok(expected));
        let set = config(&[(INTERFACE_ENV, "veth1"), (PROMISCUOUS_ENV, "off"), (DEDUP_ENV, "5")]).unwrap();
        assert_eq!((set.interface.as_str(), set.promiscuous, set.window.as_secs()), ("veth1", false, 5));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for bad in ["eth0/1", "a b", "..", "sixteen-chars-xx", "eth0:1"] {
            assert_eq!(
                config(&[(INTERFACE_ENV, bad)]),
                Err(format!("SNIFFER_INTERFACE: not an interface name: {bad:?}"))
            );
        }
        assert_eq!(
            config(&[(DEDUP_ENV, "0")]),
            Err("SNIFFER_DEDUP_SECONDS: expected seconds from 1 to 86400, got 0".into())
        );
        assert!(config(&[(DEDUP_ENV, "soon")]).unwrap_err().starts_with("SNIFFER_DEDUP_SECONDS: "));
        assert!(config(&[(PROMISCUOUS_ENV, "maybe")]).unwrap_err().starts_with("SNIFFER_PROMISCUOUS: "));
    }

    #[test]
    fn a_missing_interface_fails_start_naming_the_variable() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (recorder, log) = Recorder::memory("d", SLUG);
        let recorder = Arc::new(recorder);
        let env = Env::from_pairs([(INTERFACE_ENV, "chaff-nothere")]);
        let error = runtime.block_on(async { start(&env, &recorder).unwrap_err() });
        let message = "cannot configure the capture: SNIFFER_INTERFACE: no interface named \"chaff-nothere\"";
        assert_eq!(error.to_string(), message);
        let lines = log.lines();
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains(r#""kind":"error","transport":"udp","dst_port":0,"message":"cannot configure"#)
        );
    }
}
