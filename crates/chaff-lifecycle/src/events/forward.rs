//! Best-effort syslog forwarding of one fleet's events to its `log_target`.
//!
//! Invariants:
//! * ingestion never waits for forwarding: [`Forwarder::offer`] puts the message on a bounded
//!   queue ([`FORWARD_QUEUE`]) or, when it is full, drops it and counts it;
//! * one task per forwarder sends the queue in order: one datagram per message over UDP, an
//!   octet-counted stream over one TCP connection (re-opened after a failure, at most once per
//!   [`RECONNECT_AFTER`]; what arrives while it is down is dropped and counted);
//! * at shutdown the task sends what is already queued for at most [`FLUSH_ON_SHUTDOWN`], then
//!   stops; the name is resolved again after every failure.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chaff_engine::{LogTarget, LogTransport};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::syslog;

/// Messages waiting to be sent, per fleet, before new ones are dropped.
pub const FORWARD_QUEUE: usize = 4096;
/// The longest wait for a TCP connection or one write.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// After a failed connection or send, messages are dropped (not retried) for this long.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// At shutdown, queued messages are still sent for at most this long.
pub const FLUSH_ON_SHUTDOWN: Duration = Duration::from_secs(2);

/// Counters of one forwarder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ForwardStats {
    pub sent: u64,
    /// Dropped: the queue was full, or the target could not be reached.
    pub dropped: u64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
}

/// The sending side of one fleet's forwarding task.
pub(crate) struct Forwarder {
    target: LogTarget,
    queue: mpsc::Sender<String>,
    counters: Arc<Counters>,
}

impl Forwarder {
    /// Starts the task on `runtime`, tracked by `tracker`; it ends when every `Forwarder`
    /// handle is dropped (after sending what is queued) or at `shutdown` (after a bounded
    /// flush).
    pub(crate) fn spawn(
        target: LogTarget,
        capacity: usize,
        runtime: &tokio::runtime::Handle,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Forwarder {
        let (queue, messages) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let task =
            Sender { target: target.clone(), counters: Arc::clone(&counters), link: None, down_until: None };
        tracker.spawn_on(task.run(messages, shutdown), runtime);
        Forwarder { target, queue, counters }
    }

    pub(crate) fn target(&self) -> &LogTarget {
        &self.target
    }

    /// Queues `message` (unframed); drops and counts it when the queue is full. Never waits.
    pub(crate) fn offer(&self, message: String) {
        if self.queue.try_send(message).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn stats(&self) -> ForwardStats {
        ForwardStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

/// An open way to the target.
enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream),
}

struct Sender {
    target: LogTarget,
    counters: Arc<Counters>,
    link: Option<Link>,
    /// While set and in the future, messages are dropped without trying.
    down_until: Option<Instant>,
}

impl Sender {
    async fn run(mut self, mut messages: mpsc::Receiver<String>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                message = messages.recv() => match message {
                    Some(message) => self.send(message).await,
                    None => return,
                },
                () = shutdown.cancelled() => break,
            }
        }
        let deadline = Instant::now() + FLUSH_ON_SHUTDOWN;
        while let Ok(message) = messages.try_recv() {
            if Instant::now() >= deadline {
                self.counters.dropped.fetch_add(1 + messages.len() as u64, Ordering::Relaxed);
                return;
            }
            let _ = tokio::time::timeout_at(deadline, self.send(message)).await;
        }
    }

    async fn send(&mut self, message: String) {
        if self.down_until.is_some_and(|until| Instant::now() < until) {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.try_send(&message).await {
            Ok(()) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                self.down_until = None;
            }
            Err(error) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if self.down_until.is_none() {
                    tracing::warn!(target_addr = %self.target, %error, "syslog forwarding failed; dropping events until it works again");
                }
                self.link = None;
                self.down_until = Some(Instant::now() + RECONNECT_AFTER);
            }
        }
    }

    async fn try_send(&mut self, message: &str) -> std::io::Result<()> {
        if self.link.is_none() {
            self.link = Some(connect(&self.target).await?);
        }
        match self.link.as_mut().expect("connected above") {
            Link::Udp(socket) => socket.send(syslog::for_datagram(message).as_bytes()).await.map(|_| ()),
            Link::Tcp(stream) => {
                let framed = syslog::octet_counted(message);
                within(SEND_TIMEOUT, stream.write_all(framed.as_bytes())).await
            }
        }
    }
}

/// Resolves the target and opens a UDP socket connected to it, or a TCP connection.
async fn connect(target: &LogTarget) -> std::io::Result<Link> {
    let address = within(SEND_TIMEOUT, resolve(target)).await?;
    match target.transport {
        LogTransport::Udp => {
            let local: SocketAddr =
                if address.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
            let socket = UdpSocket::bind(local).await?;
            socket.connect(address).await?;
            Ok(Link::Udp(socket))
        }
        LogTransport::Tcp => {
            let stream = within(SEND_TIMEOUT, TcpStream::connect(address)).await?;
            stream.set_nodelay(true)?;
            Ok(Link::Tcp(stream))
        }
    }
}

async fn resolve(target: &LogTarget) -> std::io::Result<SocketAddr> {
    let mut addresses = tokio::net::lookup_host(target.authority()).await?;
    addresses.next().ok_or_else(|| std::io::Error::other(format!("{} resolves to no address", target.host)))
}

async fn within<T>(limit: Duration, work: impl Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")))
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    fn target(transport: LogTransport, port: u16) -> LogTarget {
        LogTarget { transport, host: "127.0.0.1".into(), port }
    }

    fn start(target: LogTarget, capacity: usize) -> (Forwarder, TaskTracker, CancellationToken) {
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let forwarder = Forwarder::spawn(
            target,
            capacity,
            &tokio::runtime::Handle::current(),
            &tracker,
            shutdown.clone(),
        );
        (forwarder, tracker, shutdown)
    }

    async fn stop(forwarder: Forwarder, tracker: TaskTracker) -> ForwardStats {
        let stats = forwarder.stats();
        drop(forwarder);
        tracker.close();
        tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await.expect("the task ends");
        stats
    }

    #[tokio::test]
    async fn udp_sends_one_datagram_per_message() {
        let listener = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (forwarder, tracker, _) = start(target(LogTransport::Udp, port), 16);
        for n in 0..3 {
            forwarder.offer(format!("<134>1 - - - - - - message {n}"));
        }
        let mut buffer = [0u8; 2048];
        for n in 0..3 {
            let size = tokio::time::timeout(Duration::from_secs(10), listener.recv(&mut buffer))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                std::str::from_utf8(&buffer[..size]).unwrap(),
                format!("<134>1 - - - - - - message {n}")
            );
        }
        let counters = Arc::clone(&forwarder.counters);
        stop(forwarder, tracker).await;
        assert_eq!(counters.sent.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn tcp_frames_every_message_by_octet_counting_on_one_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (forwarder, tracker, _) = start(target(LogTransport::Tcp, port), 16);
        forwarder.offer("<134>1 first é".into());
        forwarder.offer("<133>1 second".into());
        let (mut connection, _) =
            tokio::time::timeout(Duration::from_secs(10), listener.accept()).await.unwrap().unwrap();
        let stats = stop(forwarder, tracker).await;
        let mut received = String::new();
        connection.read_to_string(&mut received).await.unwrap();
        assert_eq!(received, "15 <134>1 first é13 <133>1 second");
        assert_eq!(stats.dropped, 0);
    }

    #[tokio::test]
    async fn an_unreachable_target_drops_and_counts_without_blocking_the_offerer() {
        // A port nothing listens on: the connection is refused.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let (forwarder, tracker, _) = start(target(LogTransport::Tcp, port), 4);
        let started = std::time::Instant::now();
        for n in 0..100 {
            forwarder.offer(format!("message {n}"));
        }
        assert!(started.elapsed() < Duration::from_secs(1), "offering never waits");
        let counters = Arc::clone(&forwarder.counters);
        stop(forwarder, tracker).await;
        assert_eq!(counters.sent.load(Ordering::Relaxed), 0);
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 100, "every message is accounted for");
    }

    #[tokio::test]
    async fn a_full_queue_drops_new_messages() {
        let listener = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // On a current-thread runtime the task cannot run while this test offers.
        let (forwarder, tracker, shutdown) = start(target(LogTransport::Udp, port), 2);
        for n in 0..5 {
            forwarder.offer(format!("message {n}"));
        }
        assert_eq!(forwarder.stats().dropped, 3);
        shutdown.cancel();
        let counters = Arc::clone(&forwarder.counters);
        stop(forwarder, tracker).await;
        assert_eq!(counters.sent.load(Ordering::Relaxed), 2, "the queued ones are flushed at shutdown");
    }
}
