//! The listening framework every emulator shares: accept loops and receive loops on the
//! sensor's single-threaded tokio runtime, one task per TCP connection, the `connect` /
//! `disconnect` / `datagram` events, and the limits that keep a flood from exhausting the
//! container.
//!
//! An emulator only supplies what to do with one connection ([`Emulator::serve`]) or one
//! datagram ([`Emulator::answer`]); the framework records the events around it. Invariant:
//! every recorded `connect` is followed by exactly one `disconnect` with the same `conn`,
//! whether the emulator returns, fails, panics or exceeds a limit (only stopping the process
//! itself can cut that short).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::emulators::Emulator;
use crate::event::{EndReason, Event, Fields, Kind, PREVIEW_BYTES};
use crate::ports::Transport;
use crate::recorder::Recorder;

/// Connections served at once by this process; one more is accepted, recorded and closed
/// at once (`reason: busy`). Bounds the memory a flood can cost.
pub const MAX_CONNECTIONS: usize = 1024;

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
    /// Bytes read from one connection; the emulator sees the end of the stream once they
    /// are reached.
    pub max_bytes_in: u64,
}

impl TcpLimits {
    /// For protocols a person types into (shells): patient, and room for a session.
    pub const INTERACTIVE: TcpLimits = TcpLimits {
        idle_timeout: Duration::from_secs(300),
        max_duration: Duration::from_secs(3600),
        max_bytes_in: 4 * 1024 * 1024,
    };
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

/// One TCP connection as an emulator sees it: who it is with, and where its events go.
#[derive(Clone)]
pub struct Session {
    pub conn: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    recorder: Arc<Recorder>,
}

impl Session {
    /// A session not tied to a listener (for emulator unit tests).
    pub fn new(conn: u64, peer: SocketAddr, local: SocketAddr, recorder: Arc<Recorder>) -> Self {
        Self { conn, peer, local, recorder }
    }

    /// Records a protocol event (`auth`, `command`, `request`, ...) of this connection.
    pub fn record(&self, kind: &'static str, fields: Fields) {
        self.recorder.record(&Event {
            transport: Transport::Tcp,
            src: Some(self.peer),
            dst_port: self.local.port(),
            conn: Some(self.conn),
            kind: Kind::Protocol { name: kind, fields },
        });
    }

    pub fn decky(&self) -> &str {
        self.recorder.decky()
    }
}

/// What the framework knows about a connection's input, shared between the [`Stream`] the
/// emulator owns and the `disconnect` event.
#[derive(Debug, Default)]
struct Meter {
    bytes_in: u64,
    head: Vec<u8>,
    /// Set when the stream itself ended the session (idle timeout, byte cap).
    reason: Option<EndReason>,
}

/// The client's TCP stream, metered: counts what is read and keeps its first bytes for the
/// `disconnect` preview; a read fails with `TimedOut` after the idle timeout, and the
/// stream reads as ended once the byte cap is reached.
pub struct Stream {
    inner: TcpStream,
    meter: Arc<Mutex<Meter>>,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    max_bytes_in: u64,
}

impl Stream {
    fn new(inner: TcpStream, limits: TcpLimits) -> (Stream, Arc<Mutex<Meter>>) {
        let meter = Arc::new(Mutex::new(Meter::default()));
        let stream = Stream {
            inner,
            meter: Arc::clone(&meter),
            idle_timeout: limits.idle_timeout,
            idle: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            max_bytes_in: limits.max_bytes_in,
        };
        (stream, meter)
    }

    fn meter(&self) -> std::sync::MutexGuard<'_, Meter> {
        self.meter.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let left = this.max_bytes_in.saturating_sub(this.meter().bytes_in);
        if left == 0 {
            this.meter().reason.get_or_insert(EndReason::Limit);
            return Poll::Ready(Ok(()));
        }
        let want = buf.remaining().min(usize::try_from(left).unwrap_or(usize::MAX));
        let mut limited = buf.take(want);
        match Pin::new(&mut this.inner).poll_read(cx, &mut limited) {
            Poll::Ready(Ok(())) => {
                let n = limited.filled().len();
                if n > 0 {
                    let mut meter = this.meter();
                    meter.bytes_in += n as u64;
                    let keep = PREVIEW_BYTES.saturating_sub(meter.head.len()).min(n);
                    meter.head.extend_from_slice(&limited.filled()[..keep]);
                }
                // SAFETY: `limited` is a view of `buf`'s unfilled part, and the read above
                // initialised and filled its first `n` bytes.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                let deadline = tokio::time::Instant::now() + this.idle_timeout;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                ready!(this.idle.as_mut().poll(cx));
                this.meter().reason.get_or_insert(EndReason::Timeout);
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client went quiet")))
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Records the connection's `disconnect` when dropped: after the emulator returns, and also
/// when it panics or its task is cancelled at the session time limit.
struct OpenConnection {
    session: Session,
    meter: Arc<Mutex<Meter>>,
    started: Instant,
    /// Why the emulator says it ended; the stream's own reason (timeout, limit) wins.
    outcome: Option<EndReason>,
}

impl OpenConnection {
    fn end(mut self, outcome: EndReason) {
        self.outcome = Some(outcome);
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
        let reason = meter.reason.or(self.outcome).unwrap_or(EndReason::Error);
        self.session.recorder.record(&Event {
            transport: Transport::Tcp,
            src: Some(self.session.peer),
            dst_port: self.session.local.port(),
            conn: Some(self.session.conn),
            kind: Kind::Disconnect {
                bytes_in: meter.bytes_in,
                duration_ms: self.started.elapsed().as_millis() as u64,
                preview: &meter.head,
                reason,
            },
        });
    }
}

fn record_port_event(recorder: &Recorder, transport: Transport, port: u16, kind: Kind<'_>) {
    recorder.record(&Event { transport, src: None, dst_port: port, conn: None, kind });
}

/// Records `listening`, then serves `listener` until the process ends: every accepted
/// connection gets `connect`, a task running the emulator, then `disconnect`.
pub async fn serve_tcp(
    listener: TcpListener,
    emulator: Arc<Emulator>,
    limits: TcpLimits,
    recorder: Arc<Recorder>,
) {
    let Ok(bind) = listener.local_addr() else { return };
    record_port_event(&recorder, Transport::Tcp, bind.port(), Kind::Listening { bind });
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                let message = format!("accept failed: {e}");
                record_port_event(&recorder, Transport::Tcp, bind.port(), Kind::Error { message: &message });
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let local = stream.local_addr().unwrap_or(bind);
        let session = Session::new(recorder.next_conn(), peer, local, Arc::clone(&recorder));
        recorder.record(&Event {
            transport: Transport::Tcp,
            src: Some(peer),
            dst_port: local.port(),
            conn: Some(session.conn),
            kind: Kind::Connect,
        });
        let (stream, meter) = Stream::new(stream, limits);
        let open = OpenConnection { session, meter, started: Instant::now(), outcome: None };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            open.end(EndReason::Busy);
            continue;
        };
        let emulator = Arc::clone(&emulator);
        tokio::spawn(async move {
            let _slot = slot;
            let session = open.session.clone();
            let served = tokio::time::timeout(limits.max_duration, emulator.serve(stream, &session)).await;
            open.end(match served {
                Ok(Ok(reason)) => reason,
                Ok(Err(_)) => EndReason::Error,
                Err(_elapsed) => EndReason::Timeout,
            });
        });
    }
}

/// Records `listening`, then serves `socket` until the process ends: every datagram is
/// recorded, then answered if the emulator answers it.
pub async fn serve_udp(socket: UdpSocket, emulator: Arc<Emulator>, recorder: Arc<Recorder>) {
    let Ok(bind) = socket.local_addr() else { return };
    record_port_event(&recorder, Transport::Udp, bind.port(), Kind::Listening { bind });
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                let data = &buf[..n];
                recorder.record(&Event {
                    transport: Transport::Udp,
                    src: Some(peer),
                    dst_port: bind.port(),
                    conn: None,
                    kind: Kind::Datagram { bytes: n, preview: data },
                });
                if let Some(reply) = emulator.answer(data, peer, &recorder) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
            Err(e) => {
                let message = format!("receive failed: {e}");
                record_port_event(&recorder, Transport::Udp, bind.port(), Kind::Error { message: &message });
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}
