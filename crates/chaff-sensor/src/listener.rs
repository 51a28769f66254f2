//! The listening framework every emulator shares: accept loops and receive loops, one thread
//! per listener and per TCP connection, the `connect` / `disconnect` / `datagram` events,
//! and the limits that keep a flood from exhausting the container.
//!
//! An emulator only supplies what to do with one connection ([`TcpHandler`]) or one
//! datagram ([`UdpHandler`]); the framework records the events around it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::event::{EndReason, Event, Kind, PREVIEW_BYTES};
use crate::ports::Transport;
use crate::recorder::Recorder;

/// Connections served at once by this process; one more is accepted, recorded and closed
/// at once (`reason: busy`). Bounds the threads (and memory) a flood can cost.
pub const MAX_CONNECTIONS: usize = 256;

/// Stack of a connection or listener thread: handlers keep their buffers small.
const THREAD_STACK: usize = 128 * 1024;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_536;

/// After a failed `accept` or `recv` (e.g. out of file descriptors), wait this long before
/// trying again, so the failure does not spin or flood the log.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Limits on one TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Silence from the client after which the connection is closed.
    pub idle_timeout: Duration,
    /// Total time a connection may stay open.
    pub max_duration: Duration,
    /// Bytes read from one connection; the connection is closed once they are reached.
    pub max_bytes_in: u64,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            max_duration: Duration::from_secs(600),
            max_bytes_in: 64 * 1024,
        }
    }
}

/// One TCP connection as the framework tracks it; handlers report what they read through
/// [`Session::received`].
#[derive(Debug)]
pub struct Session {
    pub conn: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub limits: TcpLimits,
    started: Instant,
    bytes_in: u64,
    head: Vec<u8>,
}

impl Session {
    fn new(conn: u64, peer: SocketAddr, local: SocketAddr, limits: TcpLimits) -> Self {
        Self { conn, peer, local, limits, started: Instant::now(), bytes_in: 0, head: Vec::new() }
    }

    /// Counts `data` as read from the client and keeps the first bytes for the preview.
    pub fn received(&mut self, data: &[u8]) {
        self.bytes_in += data.len() as u64;
        let keep = PREVIEW_BYTES.saturating_sub(self.head.len()).min(data.len());
        self.head.extend_from_slice(&data[..keep]);
    }

    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// How many more bytes the handler may read.
    pub fn bytes_left(&self) -> u64 {
        self.limits.max_bytes_in.saturating_sub(self.bytes_in)
    }

    /// The read timeout for the next read: the idle timeout, or less if the session's time
    /// is nearly up; `None` once it is up.
    pub fn next_read_timeout(&self) -> Option<Duration> {
        let left = self.limits.max_duration.checked_sub(self.started.elapsed())?;
        (!left.is_zero()).then(|| left.min(self.limits.idle_timeout))
    }
}

/// Serves one TCP connection until it should end, and says why it ended. The framework has
/// recorded `connect` and records `disconnect`, then closes the stream.
pub type TcpHandler = fn(&mut TcpStream, &mut Session, &Recorder) -> EndReason;

/// Answers one datagram, if the protocol answers; the framework has recorded it.
pub type UdpHandler = fn(&UdpSocket, &[u8], SocketAddr, &Recorder);

static ACTIVE_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// One slot of [`MAX_CONNECTIONS`], released on drop (also if a handler panics).
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        let taken = ACTIVE_CONNECTIONS.fetch_add(1, Ordering::AcqRel);
        if taken >= MAX_CONNECTIONS {
            ACTIVE_CONNECTIONS.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        ACTIVE_CONNECTIONS.fetch_sub(1, Ordering::AcqRel);
    }
}

fn spawn_named<F: FnOnce() + Send + 'static>(name: String, f: F) -> io::Result<JoinHandle<()>> {
    thread::Builder::new().name(name).stack_size(THREAD_STACK).spawn(f)
}

/// Records `listening` and serves `listener` on its own thread: every accepted connection
/// gets `connect`, a thread running `handler`, then `disconnect`.
pub fn spawn_tcp(
    listener: TcpListener,
    handler: TcpHandler,
    limits: TcpLimits,
    recorder: Arc<Recorder>,
) -> io::Result<JoinHandle<()>> {
    let bind = listener.local_addr()?;
    recorder.record(&Event {
        transport: Transport::Tcp,
        src: None,
        dst_port: bind.port(),
        conn: None,
        kind: Kind::Listening { bind },
    });
    spawn_named(format!("tcp/{}", bind.port()), move || {
        accept_loop(&listener, bind, handler, limits, &recorder)
    })
}

fn accept_loop(
    listener: &TcpListener,
    bind: SocketAddr,
    handler: TcpHandler,
    limits: TcpLimits,
    recorder: &Arc<Recorder>,
) {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let message = format!("accept failed: {e}");
                recorder.record(&Event {
                    transport: Transport::Tcp,
                    src: None,
                    dst_port: bind.port(),
                    conn: None,
                    kind: Kind::Error { message: &message },
                });
                thread::sleep(RETRY_PAUSE);
                continue;
            }
        };
        let local = stream.local_addr().unwrap_or(bind);
        let session = Session::new(recorder.next_conn(), peer, local, limits);
        recorder.record(&Event {
            transport: Transport::Tcp,
            src: Some(peer),
            dst_port: local.port(),
            conn: Some(session.conn),
            kind: Kind::Connect,
        });
        let Some(slot) = Slot::take() else {
            end(stream, &session, EndReason::Busy, recorder);
            continue;
        };
        let thread_recorder = Arc::clone(recorder);
        // If no thread can be started the closure is dropped unrun, which closes the stream;
        // keep what the `disconnect` event needs.
        let (conn, started) = (session.conn, Instant::now());
        let spawned = spawn_named(format!("conn/{}", session.conn), move || {
            let _slot = slot;
            serve_connection(stream, session, handler, &thread_recorder);
        });
        if let Err(e) = spawned {
            let message = format!("cannot start a thread for connection {conn}: {e}");
            recorder.record(&Event {
                transport: Transport::Tcp,
                src: Some(peer),
                dst_port: local.port(),
                conn: Some(conn),
                kind: Kind::Error { message: &message },
            });
            recorder.record(&Event {
                transport: Transport::Tcp,
                src: Some(peer),
                dst_port: local.port(),
                conn: Some(conn),
                kind: Kind::Disconnect {
                    bytes_in: 0,
                    duration_ms: started.elapsed().as_millis() as u64,
                    preview: &[],
                    reason: EndReason::Busy,
                },
            });
        }
    }
}

fn serve_connection(mut stream: TcpStream, mut session: Session, handler: TcpHandler, recorder: &Recorder) {
    let _ = stream.set_read_timeout(Some(session.limits.idle_timeout));
    let _ = stream.set_write_timeout(Some(session.limits.idle_timeout));
    let reason = handler(&mut stream, &mut session, recorder);
    end(stream, &session, reason, recorder);
}

/// Closes the connection and records `disconnect`.
fn end(stream: TcpStream, session: &Session, reason: EndReason, recorder: &Recorder) {
    let _ = stream.shutdown(std::net::Shutdown::Both);
    drop(stream);
    recorder.record(&Event {
        transport: Transport::Tcp,
        src: Some(session.peer),
        dst_port: session.local.port(),
        conn: Some(session.conn),
        kind: Kind::Disconnect {
            bytes_in: session.bytes_in,
            duration_ms: session.started.elapsed().as_millis() as u64,
            preview: &session.head,
            reason,
        },
    });
}

/// Records `listening` and serves `socket` on its own thread: every datagram is recorded,
/// then passed to `handler`.
pub fn spawn_udp(
    socket: UdpSocket,
    handler: UdpHandler,
    recorder: Arc<Recorder>,
) -> io::Result<JoinHandle<()>> {
    let bind = socket.local_addr()?;
    recorder.record(&Event {
        transport: Transport::Udp,
        src: None,
        dst_port: bind.port(),
        conn: None,
        kind: Kind::Listening { bind },
    });
    spawn_named(format!("udp/{}", bind.port()), move || receive_loop(&socket, bind, handler, &recorder))
}

fn receive_loop(socket: &UdpSocket, bind: SocketAddr, handler: UdpHandler, recorder: &Recorder) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((n, peer)) => {
                let data = &buf[..n];
                recorder.record(&Event {
                    transport: Transport::Udp,
                    src: Some(peer),
                    dst_port: bind.port(),
                    conn: None,
                    kind: Kind::Datagram { bytes: n, preview: data },
                });
                handler(socket, data, peer, recorder);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let message = format!("receive failed: {e}");
                recorder.record(&Event {
                    transport: Transport::Udp,
                    src: None,
                    dst_port: bind.port(),
                    conn: None,
                    kind: Kind::Error { message: &message },
                });
                thread::sleep(RETRY_PAUSE);
            }
        }
    }
}
