//! A Windows file server that nobody can log into, speaking SMB2 (`smb`: 445 direct, 139
//! over the NetBIOS session service). It answers the NEGOTIATE with the highest dialect the
//! client offers up to 3.1.1 and a SPNEGO token offering NTLMSSP; an SMB1 NEGOTIATE offering
//! `SMB 2.???` (how smbclient and nmap start) is answered in SMB2 so the client negotiates
//! again, and one offering no SMB2 dialect is dropped, as Windows with SMB1 disabled drops
//! it. SESSION_SETUP runs the NTLM exchange of [`super::ntlm`] (`STATUS_MORE_PROCESSING_REQUIRED`
//! with the challenge, then the AUTHENTICATE recorded) and always ends in
//! `STATUS_LOGON_FAILURE`. Port 139 first takes the NetBIOS session request and accepts it,
//! whatever name it calls.
//!
//! Configured by `SMB_HOSTNAME` and `SMB_DOMAIN` (see [`super::ntlm::Identity`]) and
//! `NODE_NAME`; the server GUID is stable per decky.

mod wire;

use std::io;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncWriteExt;

use super::framed::read_all;
use super::ntlm::{self, Exchange, Identity, Step};
use super::spnego;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields, hex};
use crate::listener::{Session, Stream, TcpLimits};
use crate::persona::decky_rng;
use wire::{command, dialect, nbss, status};

/// Windows drops a connection that has not negotiated and logged in within a minute or so.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(30),
    max_duration: Duration::from_secs(60),
    max_bytes_in: 64 * 1024,
};

/// The largest SMB message read; a NEGOTIATE or an NTLM SESSION_SETUP is at most a few KiB.
const MAX_MESSAGE: usize = 16 * 1024;

/// Longest NetBIOS session request (two encoded names of 34 bytes, with scope ids).
const MAX_SESSION_REQUEST: usize = 512;

/// SMB2 dialects served, ascending.
const DIALECTS: [u16; 5] =
    [dialect::SMB202, dialect::SMB210, dialect::SMB300, dialect::SMB302, dialect::SMB311];

/// The SMB1 dialect strings that lead to SMB2.
const SMB2_WILDCARD: &str = "SMB 2.???";
const SMB2_002: &str = "SMB 2.002";

/// How the port carries SMB messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Port 445: each message behind a 4-byte length.
    Direct,
    /// Port 139: a NetBIOS session request first.
    NetBios,
}

/// The smb emulator of one port.
pub struct Smb {
    identity: Identity,
    guid: [u8; 16],
    framing: Framing,
    /// The NEGOTIATE response's SPNEGO token.
    security_blob: Vec<u8>,
}

/// One connection's progress.
#[derive(Default)]
struct Connection {
    exchange: Exchange,
    /// The session id given by the first SESSION_SETUP answer, until the login fails.
    session_id: Option<u64>,
}

/// One NetBIOS session packet read.
enum Packet {
    Message { kind: u8, payload: Vec<u8> },
    Gone,
    Bad(&'static str),
}

impl Smb {
    pub fn from_env(env: &Env, framing: Framing) -> Result<Smb, ConfigError> {
        let mut rng = decky_rng(env.decky(), "smb-server-guid");
        Ok(Smb {
            identity: Identity::from_env(env, "SMB")?,
            guid: std::array::from_fn(|_| rng.u8(..)),
            framing,
            security_blob: spnego::init_offering_ntlm(),
        })
    }

    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        if self.framing == Framing::NetBios
            && let Some(end) = start_netbios_session(&mut stream, session).await?
        {
            return Ok(end);
        }
        let mut connection = Connection::default();
        loop {
            let message = match read_packet(&mut stream, MAX_MESSAGE).await? {
                Packet::Message { kind: nbss::SESSION_MESSAGE, payload } => payload,
                Packet::Message { kind: nbss::KEEP_ALIVE, .. } => continue,
                Packet::Message { .. } => return refuse(session, "unexpected NetBIOS packet type"),
                Packet::Gone => return Ok(EndReason::Eof),
                Packet::Bad(problem) => return refuse(session, problem),
            };
            match self.answer(&message, &mut connection, session) {
                Some(reply) => stream.write_all(&wire::frame(nbss::SESSION_MESSAGE, &reply)).await?,
                None => return Ok(EndReason::Closed),
            }
        }
    }

    /// The answer to one message; `None` closes the connection (already recorded).
    fn answer(&self, message: &[u8], connection: &mut Connection, session: &Session) -> Option<Vec<u8>> {
        if let Some(dialects) = wire::smb1_dialects(message) {
            return self.answer_smb1(&dialects, session);
        }
        let Some(header) = wire::parse_header(message) else {
            record_problem(session, "not an SMB2 message");
            return None;
        };
        Some(match header.command {
            command::NEGOTIATE => {
                let Some(negotiate) = wire::parse_negotiate(message) else {
                    record_problem(session, "malformed negotiate");
                    return None;
                };
                self.answer_negotiate(&header, &negotiate, session)
            }
            command::SESSION_SETUP => self.answer_session_setup(&header, message, connection, session),
            command::ECHO => wire::echo_response(&header, header.session_id),
            command::LOGOFF => wire::error_response(&header, status::USER_SESSION_DELETED, header.session_id),
            _ => wire::error_response(&header, status::ACCESS_DENIED, header.session_id),
        })
    }

    fn server_info(&self) -> wire::ServerInfo<'_> {
        wire::ServerInfo {
            guid: self.guid,
            system_time: ntlm::filetime(SystemTime::now()),
            security_blob: &self.security_blob,
        }
    }

    /// SMB1 is off: only a client offering SMB2 gets an answer, in SMB2.
    fn answer_smb1(&self, dialects: &[String], session: &Session) -> Option<Vec<u8>> {
        let offers = |name: &str| dialects.iter().any(|d| d == name);
        let revision = if offers(SMB2_WILDCARD) {
            Some(dialect::WILDCARD)
        } else if offers(SMB2_002) {
            Some(dialect::SMB202)
        } else {
            None
        };
        record_negotiate(session, true, dialects.to_vec(), revision, None);
        Some(wire::negotiate_response_to_smb1(revision?, &self.server_info()))
    }

    fn answer_negotiate(
        &self,
        header: &wire::Header,
        negotiate: &wire::Negotiate,
        session: &Session,
    ) -> Vec<u8> {
        let revision = DIALECTS.into_iter().rev().find(|d| negotiate.dialects.contains(d));
        let offered = negotiate.dialects.iter().map(|&d| wire::dialect_name(d)).collect();
        record_negotiate(session, false, offered, revision, Some(&negotiate.client_guid));
        match revision {
            Some(revision) => {
                wire::negotiate_response(header, revision, &self.server_info(), &negotiate.ciphers)
            }
            None => wire::error_response(header, status::NOT_SUPPORTED, 0),
        }
    }

    /// The NTLM exchange: the challenge with `MORE_PROCESSING_REQUIRED`, then
    /// `LOGON_FAILURE` (after which the client may start again).
    fn answer_session_setup(
        &self,
        header: &wire::Header,
        message: &[u8],
        connection: &mut Connection,
        session: &Session,
    ) -> Vec<u8> {
        let session_id = *connection.session_id.get_or_insert_with(|| fastrand::u64(1..));
        let Some((ntlm, framing)) = wire::session_setup_token(message).and_then(spnego::ntlm_message) else {
            record_problem(session, "no NTLM token in session setup");
            *connection = Connection::default();
            return wire::error_response(header, status::LOGON_FAILURE, session_id);
        };
        match connection.exchange.step(&self.identity, ntlm, session) {
            Step::Challenge(challenge) => wire::session_setup_response(
                header,
                status::MORE_PROCESSING_REQUIRED,
                session_id,
                &framing.wrap(&challenge),
            ),
            Step::Authenticated(_) => {
                *connection = Connection::default();
                wire::error_response(header, status::LOGON_FAILURE, session_id)
            }
            Step::Unexpected(problem) => {
                record_problem(session, problem);
                *connection = Connection::default();
                wire::error_response(header, status::LOGON_FAILURE, session_id)
            }
        }
    }
}

/// Port 139's first packet: a session request is accepted (and recorded); anything else is
/// refused as Windows refuses it, and ends the connection (`Some`).
async fn start_netbios_session(stream: &mut Stream, session: &Session) -> io::Result<Option<EndReason>> {
    match read_packet(stream, MAX_SESSION_REQUEST).await? {
        Packet::Message { kind: nbss::SESSION_REQUEST, payload } => {
            let (called, calling) = wire::session_request_names(&payload).unwrap_or_default();
            session.record("session_request", Fields::new().text("called", called).text("calling", calling));
            stream.write_all(&wire::frame(nbss::POSITIVE_RESPONSE, &[])).await?;
            Ok(None)
        }
        Packet::Gone => Ok(Some(EndReason::Eof)),
        Packet::Bad(problem) => refuse(session, problem).map(Some),
        Packet::Message { .. } => {
            record_problem(session, "no NetBIOS session request");
            stream.write_all(&wire::frame(nbss::NEGATIVE_RESPONSE, &[nbss::UNSPECIFIED_ERROR])).await?;
            Ok(Some(EndReason::Closed))
        }
    }
}

/// Reads one NetBIOS session packet (type, 24-bit length) of at most `max` bytes; the
/// length is checked before anything is read for it.
async fn read_packet(stream: &mut Stream, max: usize) -> io::Result<Packet> {
    let mut header = [0u8; 4];
    if !read_all(stream, &mut header).await? {
        return Ok(Packet::Gone);
    }
    let length = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
    if length > max {
        return Ok(Packet::Bad("message too large"));
    }
    let mut payload = vec![0u8; length];
    if !read_all(stream, &mut payload).await? {
        return Ok(Packet::Gone);
    }
    Ok(Packet::Message { kind: header[0], payload })
}

/// The `negotiate` event: `smb1` (the client's NEGOTIATE was SMB1), `dialects` (what it
/// offered), `dialect` (what was chosen, when any), `client_guid` (hex, SMB2 only).
fn record_negotiate(
    session: &Session,
    smb1: bool,
    dialects: Vec<String>,
    chosen: Option<u16>,
    client_guid: Option<&[u8; 16]>,
) {
    let mut fields = Fields::new().flag("smb1", smb1).value("dialects", dialects.into());
    if let Some(revision) = chosen {
        fields = fields.text("dialect", wire::dialect_name(revision));
    }
    if let Some(guid) = client_guid {
        fields = fields.text("client_guid", hex(guid));
    }
    session.record("negotiate", fields);
}

fn record_problem(session: &Session, problem: &str) {
    session.record("protocol_error", Fields::new().text("error", problem));
}

/// Records why the exchange stopped and closes without an answer, as Windows closes on a
/// packet it cannot frame.
fn refuse(session: &Session, problem: &str) -> io::Result<EndReason> {
    record_problem(session, problem);
    Ok(EndReason::Closed)
}
