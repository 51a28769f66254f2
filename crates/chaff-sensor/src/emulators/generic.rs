//! The low-interaction baseline: accept, say nothing, read what the client sends (within
//! the session's limits) and let the framework record it. UDP datagrams get no answer.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream, UdpSocket};

use crate::event::EndReason;
use crate::listener::Session;
use crate::recorder::Recorder;

/// Reads until the client closes, goes quiet, or reaches the session's limits.
pub fn tcp(stream: &mut TcpStream, session: &mut Session, _recorder: &Recorder) -> EndReason {
    let mut buf = [0u8; 4096];
    loop {
        let Some(timeout) = session.next_read_timeout() else { return EndReason::Timeout };
        let want = session.bytes_left().min(buf.len() as u64) as usize;
        if want == 0 {
            return EndReason::Limit;
        }
        if stream.set_read_timeout(Some(timeout)).is_err() {
            return EndReason::Error;
        }
        match stream.read(&mut buf[..want]) {
            Ok(0) => return EndReason::Eof,
            Ok(n) => session.received(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return EndReason::Timeout;
            }
            Err(_) => return EndReason::Error,
        }
    }
}

/// Sends nothing back.
pub fn udp(_socket: &UdpSocket, _data: &[u8], _peer: SocketAddr, _recorder: &Recorder) {}
