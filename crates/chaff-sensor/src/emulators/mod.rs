//! Which code answers on which port of which service.
//!
//! Every catalogue service runs the [`generic`] low-interaction listener for now. A protocol
//! emulator is added as a module here exporting a [`TcpHandler`] (and/or [`UdpHandler`]),
//! and one match arm in [`tcp_handler`] / [`udp_handler`]; the listening framework, the
//! events around each connection and the limits stay in [`crate::listener`].

pub mod generic;

use std::fmt;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::event::{Event, Kind};
use crate::listener::{self, TcpHandler, TcpLimits, UdpHandler};
use crate::ports::{Port, Service, Transport};
use crate::recorder::Recorder;

/// The handler for TCP connections to `port` of service `slug`.
// One arm per protocol emulator goes above the fallback.
#[allow(clippy::match_single_binding)]
pub fn tcp_handler(slug: &str, port: u16) -> TcpHandler {
    match (slug, port) {
        _ => generic::tcp,
    }
}

/// The handler for UDP datagrams to `port` of service `slug`.
// One arm per protocol emulator goes above the fallback.
#[allow(clippy::match_single_binding)]
pub fn udp_handler(slug: &str, port: u16) -> UdpHandler {
    match (slug, port) {
        _ => generic::udp,
    }
}

/// A port that could not be bound or served. Fatal: a sensor missing one of its ports
/// would be a decky that looks broken.
#[derive(Debug)]
pub struct StartError {
    pub port: Port,
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot listen on {} port {} ({}): {}",
            self.port.transport, self.port.number, self.addr, self.source
        )
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

enum Bound {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Binds every port of `service` on `ip`, then serves them all, each on its own thread.
/// Nothing is served unless every port could be bound; a failure is also recorded as an
/// `error` event.
pub fn start(
    service: &Service,
    ip: IpAddr,
    recorder: &Arc<Recorder>,
) -> Result<Vec<JoinHandle<()>>, StartError> {
    let fail = |port: Port, addr: SocketAddr, source: std::io::Error| {
        let error = StartError { port, addr, source };
        recorder.record(&Event {
            transport: port.transport,
            src: None,
            dst_port: port.number,
            conn: None,
            kind: Kind::Error { message: &error.to_string() },
        });
        error
    };
    let mut bound = Vec::with_capacity(service.ports.len());
    for &port in service.ports {
        let addr = SocketAddr::new(ip, port.number);
        let socket = match port.transport {
            Transport::Tcp => TcpListener::bind(addr).map(Bound::Tcp),
            Transport::Udp => UdpSocket::bind(addr).map(Bound::Udp),
        };
        bound.push((port, addr, socket.map_err(|e| fail(port, addr, e))?));
    }
    let mut threads = Vec::with_capacity(bound.len());
    for (port, addr, socket) in bound {
        let recorder = Arc::clone(recorder);
        let spawned = match socket {
            Bound::Tcp(l) => {
                listener::spawn_tcp(l, tcp_handler(service.slug, port.number), TcpLimits::default(), recorder)
            }
            Bound::Udp(s) => listener::spawn_udp(s, udp_handler(service.slug, port.number), recorder),
        };
        threads.push(spawned.map_err(|e| fail(port, addr, e))?);
    }
    Ok(threads)
}
