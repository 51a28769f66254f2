//! A VNC server (`vnc`, 5900) that nobody can log into, speaking RFB 3.8 and, for older
//! clients, 3.7 and 3.3 (RFC 6143). It offers VNC authentication only, sends a fresh
//! 16-byte challenge, records the client's 16-byte DES response with it (enough to test
//! password guesses offline) and answers SecurityResult failed, with the reason
//! `Authentication failed` in 3.8, then closes. No configuration.

use std::io;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::framed::read_all;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields, hex};
use crate::listener::{Session, Stream, TcpLimits};

/// A viewer gets as long to answer the password prompt as a person needs to type it.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(60),
    max_duration: Duration::from_secs(120),
    max_bytes_in: 4 * 1024,
};

const SERVER_VERSION: &[u8; 12] = b"RFB 003.008\n";
const SECURITY_VNC_AUTH: u8 = 2;
const CHALLENGE_LEN: usize = 16;
const SECURITY_RESULT_FAILED: u32 = 1;
const FAILURE_REASON: &str = "Authentication failed";

/// How the handshake goes, by the version the client chose (RFC 6143 7.1.1: unknown
/// versions are taken as 3.3, later ones as the latest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    /// The server names the security type; failures carry no reason.
    V33,
    /// The client picks from a list; failures carry no reason.
    V37,
    /// The client picks from a list; failures carry a reason.
    V38,
}

impl Dialect {
    fn of(major: u16, minor: u16) -> Dialect {
        match (major, minor) {
            (3, 7) => Dialect::V37,
            (3, 8..) | (4.., _) => Dialect::V38,
            _ => Dialect::V33,
        }
    }
}

/// The vnc emulator.
pub struct Vnc;

impl Vnc {
    /// Nothing is configurable; the constructor keeps every emulator's shape.
    pub fn from_env(_env: &Env) -> Result<Vnc, ConfigError> {
        Ok(Vnc)
    }

    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        stream.write_all(SERVER_VERSION).await?;
        let mut version = [0u8; 12];
        if !read_all(&mut stream, &mut version).await? {
            return Ok(EndReason::Eof);
        }
        let Some((major, minor)) = parse_version(&version) else {
            return refuse(session, "not an RFB protocol version");
        };
        let client_version = format!("{major}.{minor}");
        session.record("version", Fields::new().text("client_version", client_version.as_str()));
        let dialect = Dialect::of(major, minor);
        if dialect == Dialect::V33 {
            stream.write_all(&u32::from(SECURITY_VNC_AUTH).to_be_bytes()).await?;
        } else {
            stream.write_all(&[1, SECURITY_VNC_AUTH]).await?;
            let mut chosen = [0u8; 1];
            if !read_all(&mut stream, &mut chosen).await? {
                return Ok(EndReason::Eof);
            }
            if chosen[0] != SECURITY_VNC_AUTH {
                session.record(
                    "protocol_error",
                    Fields::new()
                        .text("error", "security type not offered")
                        .num("security_type", chosen[0].into()),
                );
                stream.write_all(&security_failed(dialect)).await?;
                return Ok(EndReason::Closed);
            }
        }
        let challenge: [u8; CHALLENGE_LEN] = std::array::from_fn(|_| fastrand::u8(..));
        stream.write_all(&challenge).await?;
        let mut response = [0u8; CHALLENGE_LEN];
        if !read_all(&mut stream, &mut response).await? {
            return Ok(EndReason::Eof);
        }
        let fields = Fields::new()
            .text("client_version", client_version)
            .num("security_type", SECURITY_VNC_AUTH.into())
            .text("challenge", hex(&challenge))
            .text("response", hex(&response))
            .flag("success", false);
        session.record("auth", fields);
        stream.write_all(&security_failed(dialect)).await?;
        let _ = stream.shutdown().await;
        Ok(EndReason::Closed)
    }
}

/// `RFB xxx.yyy\n`: (major, minor).
fn parse_version(version: &[u8; 12]) -> Option<(u16, u16)> {
    let text = std::str::from_utf8(version).ok()?;
    let numbers = text.strip_prefix("RFB ")?.strip_suffix('\n')?;
    let (major, minor) = numbers.split_once('.')?;
    let number = |digits: &str| {
        (digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    Some((number(major)?, number(minor)?))
}

/// SecurityResult failed, with the reason 3.8 carries.
fn security_failed(dialect: Dialect) -> Vec<u8> {
    let mut out = SECURITY_RESULT_FAILED.to_be_bytes().to_vec();
    if dialect == Dialect::V38 {
        out.extend_from_slice(&(FAILURE_REASON.len() as u32).to_be_bytes());
        out.extend_from_slice(FAILURE_REASON.as_bytes());
    }
    out
}

/// Records why the handshake stopped and closes, as a VNC server drops a client that does
/// not speak RFB.
fn refuse(session: &Session, problem: &str) -> io::Result<EndReason> {
    session.record("protocol_error", Fields::new().text("error", problem));
    Ok(EndReason::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_choose_the_dialect() {
        assert_eq!(parse_version(b"RFB 003.008\n"), Some((3, 8)));
        assert_eq!(parse_version(b"RFB 003.889\n"), Some((3, 889)));
        assert_eq!(parse_version(b"RFB 03.0008\n"), None);
        assert_eq!(parse_version(b"GET / HTTP/1"), None);
        assert_eq!(parse_version(b"RFB 003.00+\n"), None);
        assert_eq!(Dialect::of(3, 8), Dialect::V38);
        assert_eq!(Dialect::of(3, 889), Dialect::V38, "Apple Remote Desktop");
        assert_eq!(Dialect::of(3, 7), Dialect::V37);
        assert_eq!(Dialect::of(3, 5), Dialect::V33, "unknown versions are 3.3");
    }

    #[test]
    fn failures_carry_a_reason_from_3_8() {
        assert_eq!(security_failed(Dialect::V37), [0, 0, 0, 1]);
        assert_eq!(security_failed(Dialect::V38), b"\0\0\0\x01\0\0\0\x15Authentication failed");
    }
}
