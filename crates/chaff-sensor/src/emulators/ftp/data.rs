//! FTP data connections: one passive listener at a time per session, on an ephemeral port of
//! the address the client reached, accepting only the control connection's peer. Active mode
//! (`PORT`, `EPRT`) is accepted as a command but never connects out: the sensor makes no
//! outbound connections, so transfers fail as if a firewall dropped them.
//!
//! Every wait is bounded in time and every read in size.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout, timeout_at};

use crate::event::PREVIEW_BYTES;

/// How long a passive listener waits for the client once a transfer command came.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Silence on a data connection after which the transfer is abandoned.
const TRANSFER_IDLE: Duration = Duration::from_secs(30);
/// The longest one transfer may take.
const TRANSFER_DEADLINE: Duration = Duration::from_secs(120);
/// The most bytes of one upload the sensor reads; the rest is refused.
pub const MAX_UPLOAD: u64 = 1024 * 1024;

/// The data connection the next transfer will use.
#[derive(Debug, Default)]
pub enum DataChannel {
    /// Nothing prepared: transfers fail with 425.
    #[default]
    None,
    /// `PASV`/`EPSV`: the client will connect here.
    Passive(TcpListener),
    /// `PORT`/`EPRT`: the client's address is never connected to (the command line, recorded
    /// as a `command` event, keeps it).
    Active,
}

/// Why a transfer found no data connection.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// No `PASV`/`EPSV`/`PORT` came before the transfer command.
    NotPrepared,
    /// The client did not connect in time, connected from elsewhere, or asked for active mode.
    Failed,
}

impl DataChannel {
    /// Opens a passive listener on an ephemeral port of `local` (the address of the control
    /// connection), replacing any previous one.
    pub async fn passive(local: IpAddr) -> io::Result<(DataChannel, u16)> {
        let listener = TcpListener::bind(SocketAddr::new(local, 0)).await?;
        let port = listener.local_addr()?.port();
        Ok((DataChannel::Passive(listener), port))
    }

    /// Consumes the prepared channel: waits for the client at `peer` on the passive
    /// listener. A connection from any other address fails the transfer (and is closed), as
    /// vsftpd and ProFTPD do, so the port cannot be used to bounce traffic.
    pub async fn open(&mut self, peer: IpAddr) -> Result<TcpStream, OpenError> {
        match std::mem::take(self) {
            DataChannel::None => Err(OpenError::NotPrepared),
            DataChannel::Active => Err(OpenError::Failed),
            DataChannel::Passive(listener) => match timeout(ACCEPT_TIMEOUT, listener.accept()).await {
                Ok(Ok((stream, from))) if from.ip().to_canonical() == peer.to_canonical() => Ok(stream),
                _ => Err(OpenError::Failed),
            },
        }
    }
}

/// Sends `bytes` and closes the connection; `false` if the client did not take them in time.
pub async fn send(mut conn: TcpStream, bytes: &[u8]) -> bool {
    let transfer = async {
        conn.write_all(bytes).await?;
        conn.shutdown().await
    };
    matches!(timeout(TRANSFER_DEADLINE, transfer).await, Ok(Ok(())))
}

/// What one upload brought.
#[derive(Debug, PartialEq, Eq)]
pub struct Upload {
    /// Bytes read (at most [`MAX_UPLOAD`]).
    pub size: u64,
    /// The first [`PREVIEW_BYTES`] of them.
    pub head: Vec<u8>,
    /// Whether the client finished sending (end of stream) within the limits.
    pub complete: bool,
}

/// Reads an upload to its end, or up to `cap` bytes, keeping only its first bytes; the rest
/// is discarded as it arrives.
pub async fn receive(mut conn: TcpStream, cap: u64) -> Upload {
    let deadline = Instant::now() + TRANSFER_DEADLINE;
    let mut upload = Upload { size: 0, head: Vec::new(), complete: false };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = timeout_at(deadline, timeout(TRANSFER_IDLE, conn.read(&mut buf))).await;
        let n = match read {
            Ok(Ok(Ok(n))) => n,
            _ => return upload,
        };
        if n == 0 {
            upload.complete = true;
            return upload;
        }
        let room = cap - upload.size;
        let taken = (n as u64).min(room) as usize;
        let keep = PREVIEW_BYTES.saturating_sub(upload.head.len()).min(taken);
        upload.head.extend_from_slice(&buf[..keep]);
        upload.size += taken as u64;
        if (n as u64) > room {
            return upload;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn passive_channel_accepts_the_peer_once() {
        let (mut channel, port) = DataChannel::passive(LOOPBACK).await.unwrap();
        let client = tokio::spawn(async move {
            let mut conn = TcpStream::connect((LOOPBACK, port)).await.unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).await.unwrap();
            got
        });
        let conn = channel.open(LOOPBACK).await.unwrap();
        assert!(send(conn, b"listing\r\n").await);
        assert_eq!(client.await.unwrap(), b"listing\r\n");
        assert_eq!(channel.open(LOOPBACK).await.unwrap_err(), OpenError::NotPrepared);
    }

    #[tokio::test]
    async fn a_connection_from_another_address_fails_the_transfer() {
        let (mut channel, port) = DataChannel::passive(LOOPBACK).await.unwrap();
        let _client = TcpStream::connect((LOOPBACK, port)).await.unwrap();
        let elsewhere: IpAddr = "10.9.9.9".parse().unwrap();
        assert_eq!(channel.open(elsewhere).await.unwrap_err(), OpenError::Failed);
    }

    #[tokio::test]
    async fn active_mode_never_connects() {
        let mut channel = DataChannel::Active;
        assert_eq!(channel.open(LOOPBACK).await.unwrap_err(), OpenError::Failed);
    }

    async fn upload(bytes: Vec<u8>, cap: u64) -> Upload {
        let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            // The server may stop reading (and reset) before everything is sent.
            let _ = conn.write_all(&bytes).await;
        });
        let (conn, _) = listener.accept().await.unwrap();
        let got = receive(conn, cap).await;
        client.await.unwrap();
        got
    }

    #[tokio::test]
    async fn uploads_are_counted_and_cut_at_the_cap() {
        let whole = upload(b"#!/bin/sh\nid\n".to_vec(), 100).await;
        assert_eq!(whole, Upload { size: 13, head: b"#!/bin/sh\nid\n".to_vec(), complete: true });

        let big = upload(vec![7u8; 50_000], 20_000).await;
        assert_eq!(big.size, 20_000);
        assert_eq!(big.head.len(), PREVIEW_BYTES);
        assert!(!big.complete);
    }
}
