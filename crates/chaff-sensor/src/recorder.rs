//! Where events go: one line each, written whole, to stdout in the container (Docker keeps
//! it; the engine follows the container's log) or to memory in tests.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::event::Event;

/// Writes the events of one service of one decky.
pub struct Recorder {
    decky: String,
    service: String,
    out: Mutex<Box<dyn Write + Send>>,
    next_conn: AtomicU64,
}

impl Recorder {
    pub fn new(decky: impl Into<String>, service: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        Self {
            decky: decky.into(),
            service: service.into(),
            out: Mutex::new(out),
            next_conn: AtomicU64::new(1),
        }
    }

    /// Events of `service` of `decky` to stdout.
    pub fn stdout(decky: &str, service: &str) -> Self {
        Self::new(decky, service, Box::new(io::stdout()))
    }

    /// A recorder writing to memory, and the handle to read what it wrote.
    pub fn memory(decky: &str, service: &str) -> (Self, MemoryLog) {
        let log = MemoryLog::default();
        (Self::new(decky, service, Box::new(log.clone())), log)
    }

    pub fn decky(&self) -> &str {
        &self.decky
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// A fresh connection id (1, 2, ...), unique within this process.
    pub fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes `event` as one line. A failed write (stdout closed) is dropped: recording must
    /// never stop the service.
    pub fn record(&self, event: &Event) {
        let mut line = event.to_json(SystemTime::now(), &self.decky, &self.service);
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
    }
}

/// A shared in-memory event log (for tests).
#[derive(Clone, Debug, Default)]
pub struct MemoryLog(Arc<Mutex<Vec<u8>>>);

impl MemoryLog {
    /// Every line written so far.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect()
    }
}

impl Write for MemoryLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
