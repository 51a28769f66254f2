//! `tftp` on 69/udp: a tftpd-hpa look-alike that serves nothing and accepts nothing.
//!
//! A read request (RRQ) is answered with ERROR 1 "File not found", a write request (WRQ)
//! with ERROR 2 "Access violation" — what tftpd-hpa answers from an empty, read-only
//! `/srv/tftp` (no `--create`). No transfer is ever started, so the sensor opens no ports
//! beyond its own and stores nothing. Every request is recorded as `request` with its file
//! name, mode and RFC 2347 options. Anything else sent to port 69 (other opcodes, malformed
//! requests) is recorded as a `request` with `opcode` only and not answered, as tftpd-hpa
//! drops it.

use std::net::SocketAddr;

use crate::env::{ConfigError, Env};
use crate::event::{Event, Fields, Kind};
use crate::ports::Transport;
use crate::recorder::Recorder;

/// The catalogue port, reported as `dst_port` of protocol events.
const PORT: u16 = 69;

/// Most options recorded from one request (a datagram could carry thousands).
const MAX_OPTIONS: usize = 16;

const OPCODE_RRQ: u16 = 1;
const OPCODE_WRQ: u16 = 2;
const OPCODE_ERROR: u16 = 5;

/// The TFTP server; it has nothing to configure.
pub struct Tftp;

/// A read or write request, as parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub opcode: u16,
    pub filename: &'a [u8],
    pub mode: &'a [u8],
    /// RFC 2347 option names and values, at most [`MAX_OPTIONS`].
    pub options: Vec<(&'a [u8], &'a [u8])>,
}

impl Tftp {
    pub fn from_env(_env: &Env) -> Result<Tftp, ConfigError> {
        Ok(Tftp)
    }

    /// Records the request and answers with the error a server with no files sends.
    pub fn answer(&self, datagram: &[u8], peer: SocketAddr, recorder: &Recorder) -> Option<Vec<u8>> {
        let opcode = u16::from_be_bytes(datagram.get(..2)?.try_into().ok()?);
        let (fields, reply) = match parse_request(datagram) {
            Some(request) if request.opcode == OPCODE_RRQ => {
                (request_fields(&request), Some(error_packet(1, "File not found")))
            }
            Some(request) => (request_fields(&request), Some(error_packet(2, "Access violation"))),
            None => (Fields::new().text("opcode", opcode_name(opcode)), None),
        };
        recorder.record(&Event {
            transport: Transport::Udp,
            src: Some(peer),
            dst_port: PORT,
            conn: None,
            kind: Kind::Protocol { name: "request", fields },
        });
        reply
    }
}

fn request_fields(request: &Request<'_>) -> Fields {
    let options: serde_json::Map<String, serde_json::Value> = request
        .options
        .iter()
        .map(|(name, value)| {
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            (name, String::from_utf8_lossy(value).into_owned().into())
        })
        .collect();
    Fields::new()
        .text("opcode", opcode_name(request.opcode))
        .bytes("filename", request.filename)
        .text("mode", String::from_utf8_lossy(request.mode).to_ascii_lowercase())
        .value("options", options.into())
}

fn opcode_name(opcode: u16) -> String {
    match opcode {
        OPCODE_RRQ => "RRQ".to_owned(),
        OPCODE_WRQ => "WRQ".to_owned(),
        3 => "DATA".to_owned(),
        4 => "ACK".to_owned(),
        OPCODE_ERROR => "ERROR".to_owned(),
        6 => "OACK".to_owned(),
        other => other.to_string(),
    }
}

/// Parses an RRQ or WRQ: opcode, then NUL-terminated file name, mode, and option pairs.
pub fn parse_request(datagram: &[u8]) -> Option<Request<'_>> {
    let opcode = u16::from_be_bytes(datagram.get(..2)?.try_into().ok()?);
    if opcode != OPCODE_RRQ && opcode != OPCODE_WRQ {
        return None;
    }
    let mut strings = datagram[2..].split(|&b| b == 0);
    let filename = strings.next()?;
    let mode = strings.next()?;
    // The mode must end with its NUL: `split` yields a last piece after the final NUL.
    if datagram.last() != Some(&0) || filename.is_empty() {
        return None;
    }
    let mut options = Vec::new();
    while let (Some(name), Some(value)) = (strings.next(), strings.next()) {
        if name.is_empty() || options.len() == MAX_OPTIONS {
            break;
        }
        options.push((name, value));
    }
    Some(Request { opcode, filename, mode, options })
}

/// An ERROR packet with `code` and `message`.
pub fn error_packet(code: u16, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.extend_from_slice(&OPCODE_ERROR.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(message.as_bytes());
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests_with_options() {
        let request =
            parse_request(b"\x00\x01pxelinux.0\x00octet\x00tsize\x000\x00blksize\x001468\x00").unwrap();
        assert_eq!(request.opcode, OPCODE_RRQ);
        assert_eq!(request.filename, b"pxelinux.0");
        assert_eq!(request.mode, b"octet");
        assert_eq!(request.options, [(&b"tsize"[..], &b"0"[..]), (&b"blksize"[..], &b"1468"[..])]);
    }

    #[test]
    fn rejects_malformed_requests() {
        assert_eq!(parse_request(b"\x00\x01"), None);
        assert_eq!(parse_request(b"\x00\x01file\x00octet"), None);
        assert_eq!(parse_request(b"\x00\x01\x00octet\x00"), None);
        assert_eq!(parse_request(b"\x00\x03\x00\x01data"), None);
    }

    #[test]
    fn options_are_bounded() {
        let mut datagram = b"\x00\x02f\x00octet\x00".to_vec();
        for _ in 0..1000 {
            datagram.extend_from_slice(b"a\x00b\x00");
        }
        assert_eq!(parse_request(&datagram).unwrap().options.len(), MAX_OPTIONS);
    }

    #[test]
    fn error_packets_are_well_formed() {
        assert_eq!(error_packet(1, "File not found"), b"\x00\x05\x00\x01File not found\x00");
    }
}
