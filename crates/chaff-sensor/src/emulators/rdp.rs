//! A Windows Remote Desktop endpoint (`rdp`, 3389) that nobody can log into. It reads the
//! X.224 Connection Request (TPKT framed): the `Cookie: mstshash=USER` the client names
//! itself with and the RDP_NEG_REQ's requested security protocols, and answers as Windows:
//!
//! * NLA on (`RDP_ENABLE_NLA` true): a client offering CredSSP gets it (RDP_NEG_RSP
//!   `PROTOCOL_HYBRID`), any other `HYBRID_REQUIRED_BY_SERVER`. CredSSP then runs over TLS
//!   (a certificate for the computer's DNS name, made at start-up as Windows makes its
//!   self-signed one): the TSRequests carry the NTLM exchange of [`super::ntlm`] (bare or
//!   in SPNEGO), the AUTHENTICATE is recorded and answered with `STATUS_LOGON_FAILURE`.
//! * NLA off (the server's security layer is standard RDP security): a client asking for
//!   TLS or CredSSP gets `SSL_NOT_ALLOWED_BY_SERVER`, one asking for nothing else gets
//!   `PROTOCOL_RDP` (a Connection Confirm without negotiation data for a client that sent
//!   none); the connection ends there.
//!
//! Configured by `RDP_ENABLE_NLA`, `RDP_HOSTNAME` and `RDP_DOMAIN` (see
//! [`super::ntlm::Identity`]) and `NODE_NAME`.

use std::io;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use super::ber::{self, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, context, expect, field, tlv};
use super::framed::read_all;
use super::http::tls;
use super::ntlm::{Exchange, Identity, Step};
use super::spnego;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream, TcpLimits};

/// A client has about as long as Windows gives it to authenticate.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(30),
    max_duration: Duration::from_secs(60),
    max_bytes_in: 64 * 1024,
};

const TPKT_VERSION: u8 = 3;
const TPKT_HEADER_LEN: usize = 4;
/// The largest Connection Request read (a cookie and a negotiation request are far less).
const MAX_CONNECTION_REQUEST: usize = 4096;
/// The largest TSRequest read; an NTLM AUTHENTICATE with its blob is a few KiB.
const MAX_TS_REQUEST: usize = 16 * 1024;
/// TSRequests read in one CredSSP exchange (negotiate, authenticate, one spare).
const MAX_TS_REQUESTS: usize = 3;

/// X.224 TPDU codes.
const X224_CONNECTION_REQUEST: u8 = 0xe0;
const X224_CONNECTION_CONFIRM: u8 = 0xd0;
/// The source reference Windows puts in every Connection Confirm.
const SOURCE_REFERENCE: [u8; 2] = [0x12, 0x34];

const COOKIE_PREFIX: &[u8] = b"Cookie: mstshash=";
const ROUTING_TOKEN_PREFIX: &[u8] = b"Cookie: msts=";

/// RDP_NEG_* types.
const NEG_REQ: u8 = 0x01;
const NEG_RSP: u8 = 0x02;
const NEG_FAILURE: u8 = 0x03;
/// Flags of Windows's RDP_NEG_RSP: extended client data, graphics pipeline, restricted
/// admin and redirected authentication supported.
const NEG_RSP_FLAGS: u8 = 0x1f;

/// Security protocols (MS-RDPBCGR 2.2.1.1.1).
mod protocol {
    pub const RDP: u32 = 0x00;
    pub const SSL: u32 = 0x01;
    pub const HYBRID: u32 = 0x02;
    pub const RDSTLS: u32 = 0x04;
    pub const HYBRID_EX: u32 = 0x08;
    pub const RDSAAD: u32 = 0x10;
}

const PROTOCOL_NAMES: [(u32, &str); 5] = [
    (protocol::SSL, "ssl"),
    (protocol::HYBRID, "hybrid"),
    (protocol::RDSTLS, "rdstls"),
    (protocol::HYBRID_EX, "hybrid_ex"),
    (protocol::RDSAAD, "rdsaad"),
];

/// RDP_NEG_FAILURE codes.
const SSL_NOT_ALLOWED_BY_SERVER: u32 = 0x02;
const HYBRID_REQUIRED_BY_SERVER: u32 = 0x05;

/// The CredSSP version spoken (Windows 10 1803 and later).
const CREDSSP_VERSION: i64 = 6;
const STATUS_LOGON_FAILURE: u32 = 0xc000_006d;

/// The rdp emulator of one decky.
pub struct Rdp {
    identity: Identity,
    /// TLS for CredSSP, when NLA is on.
    nla: Option<TlsAcceptor>,
}

/// What the client asked for in its Connection Request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ConnectionRequest {
    cookie: Option<Vec<u8>>,
    routing_token: Option<Vec<u8>>,
    /// The RDP_NEG_REQ's requestedProtocols, when there was one.
    requested: Option<u32>,
}

/// The server's answer to a Connection Request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// A Connection Confirm without negotiation data (the client sent none).
    Plain,
    Selected(u32),
    Failure(u32),
}

impl Rdp {
    pub fn from_env(env: &Env) -> Result<Rdp, ConfigError> {
        let identity = Identity::from_env(env, "RDP")?;
        let nla = match env.flag("RDP_ENABLE_NLA")?.unwrap_or(false) {
            true => Some(tls_acceptor(&identity.dns_computer).map_err(|e| {
                ConfigError::new(
                    "RDP_HOSTNAME",
                    format!("cannot make a certificate for {}: {e}", identity.dns_computer),
                )
            })?),
            false => None,
        };
        Ok(Rdp { identity, nla })
    }

    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        let payload = match read_tpkt(&mut stream).await? {
            Tpkt::Payload(payload) => payload,
            Tpkt::Gone => return Ok(EndReason::Eof),
            Tpkt::Bad(problem) => return refuse(session, problem),
        };
        let Some(request) = parse_connection_request(&payload) else {
            return refuse(session, "malformed connection request");
        };
        let answer = self.answer(request.requested);
        record_connection_request(session, &request, answer);
        stream.write_all(&connection_confirm(answer)).await?;
        match (answer, &self.nla) {
            (Answer::Selected(protocol::HYBRID), Some(acceptor)) => match acceptor.accept(stream).await {
                Ok(tls) => self.credssp(tls, session).await,
                Err(e) => refuse(session, &format!("tls handshake failed: {e}")),
            },
            _ => Ok(EndReason::Closed),
        }
    }

    /// Windows's choice for `requested` protocols (`None`: no RDP_NEG_REQ).
    fn answer(&self, requested: Option<u32>) -> Answer {
        let wants = |protocol: u32| requested.is_some_and(|r| r & protocol != 0);
        match self.nla {
            Some(_) if wants(protocol::HYBRID | protocol::HYBRID_EX) => Answer::Selected(protocol::HYBRID),
            Some(_) => Answer::Failure(HYBRID_REQUIRED_BY_SERVER),
            None => match requested {
                None => Answer::Plain,
                Some(protocol::RDP) => Answer::Selected(protocol::RDP),
                Some(_) => Answer::Failure(SSL_NOT_ALLOWED_BY_SERVER),
            },
        }
    }

    /// CredSSP over `tls`: the NTLM exchange in TSRequests, ending in a logon failure.
    async fn credssp<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut tls: S,
        session: &Session,
    ) -> io::Result<EndReason> {
        let mut exchange = Exchange::default();
        for _ in 0..MAX_TS_REQUESTS {
            let request = match read_der(&mut tls, MAX_TS_REQUEST).await? {
                Tpkt::Payload(request) => request,
                Tpkt::Gone => return Ok(EndReason::Eof),
                Tpkt::Bad(problem) => return refuse(session, problem),
            };
            let Some((version, token)) = parse_ts_request(&request) else {
                return refuse(session, "malformed TSRequest");
            };
            let Some((message, framing)) = spnego::ntlm_message(token) else {
                return refuse(session, "no NTLM token in TSRequest");
            };
            let version = version.min(CREDSSP_VERSION);
            match exchange.step(&self.identity, message, session) {
                Step::Challenge(challenge) => {
                    tls.write_all(&ts_request(version, &framing.wrap(&challenge))).await?
                }
                Step::Authenticated(_) => {
                    tls.write_all(&ts_request_error(version, STATUS_LOGON_FAILURE)).await?;
                    let _ = tls.shutdown().await;
                    return Ok(EndReason::Closed);
                }
                Step::Unexpected(problem) => return refuse(session, problem),
            }
        }
        refuse(session, "too many TSRequests")
    }
}

/// A TLS acceptor with a self-signed certificate for `name`, as Windows makes its own
/// Remote Desktop certificate (`CN=<computer FQDN>`).
fn tls_acceptor(name: &str) -> Result<TlsAcceptor, Box<dyn std::error::Error>> {
    let (chain, key) = tls::made_identity(name, tls::IssuerStyle::Snakeoil, SystemTime::now())?;
    Ok(TlsAcceptor::from(tls::config_for(chain, key, Vec::new())?))
}

/// One read of a length-prefixed unit.
enum Tpkt {
    Payload(Vec<u8>),
    Gone,
    Bad(&'static str),
}

/// Reads one TPKT and returns what follows its header; the length is checked first.
async fn read_tpkt(stream: &mut Stream) -> io::Result<Tpkt> {
    let mut header = [0u8; TPKT_HEADER_LEN];
    if !read_all(stream, &mut header).await? {
        return Ok(Tpkt::Gone);
    }
    if header[0] != TPKT_VERSION {
        return Ok(Tpkt::Bad("not a TPKT"));
    }
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if !(TPKT_HEADER_LEN..=MAX_CONNECTION_REQUEST).contains(&length) {
        return Ok(Tpkt::Bad("bad TPKT length"));
    }
    let mut payload = vec![0u8; length - TPKT_HEADER_LEN];
    if !read_all(stream, &mut payload).await? {
        return Ok(Tpkt::Gone);
    }
    Ok(Tpkt::Payload(payload))
}

/// Reads one DER TLV (a TSRequest) of at most `max` bytes, whole.
async fn read_der<S: AsyncRead + Unpin>(stream: &mut S, max: usize) -> io::Result<Tpkt> {
    let mut head = [0u8; 2];
    if !read_all(stream, &mut head).await? {
        return Ok(Tpkt::Gone);
    }
    let mut unit = head.to_vec();
    let length = if head[1] < 0x80 {
        usize::from(head[1])
    } else {
        let count = usize::from(head[1] & 0x7f);
        if !(1..=4).contains(&count) {
            return Ok(Tpkt::Bad("bad TSRequest length"));
        }
        let mut bytes = vec![0u8; count];
        if !read_all(stream, &mut bytes).await? {
            return Ok(Tpkt::Gone);
        }
        unit.extend_from_slice(&bytes);
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    if head[0] != TAG_SEQUENCE || length > max {
        return Ok(Tpkt::Bad("not a TSRequest"));
    }
    let start = unit.len();
    unit.resize(start + length, 0);
    if !read_all(stream, &mut unit[start..]).await? {
        return Ok(Tpkt::Gone);
    }
    Ok(Tpkt::Payload(unit))
}

/// Parses an X.224 Connection Request TPDU (the TPKT's payload).
fn parse_connection_request(tpdu: &[u8]) -> Option<ConnectionRequest> {
    let (&length_indicator, rest) = tpdu.split_first()?;
    let tpdu = rest.get(..usize::from(length_indicator))?;
    // Code, destination reference (2), source reference (2), class option.
    if tpdu.first()? & 0xf0 != X224_CONNECTION_REQUEST || tpdu.len() < 6 {
        return None;
    }
    let mut variable = &tpdu[6..];
    let mut request = ConnectionRequest::default();
    for (prefix, slot) in
        [(COOKIE_PREFIX, &mut request.cookie), (ROUTING_TOKEN_PREFIX, &mut request.routing_token)]
    {
        if let Some(after) = variable.strip_prefix(prefix) {
            let end = after.windows(2).position(|w| w == b"\r\n")?;
            *slot = Some(after[..end].to_vec());
            variable = &after[end + 2..];
        }
    }
    if let [NEG_REQ, _flags, 8, 0, a, b, c, d, ..] = *variable {
        request.requested = Some(u32::from_le_bytes([a, b, c, d]));
    }
    Some(request)
}

/// The TPKT holding the Connection Confirm for `answer`.
fn connection_confirm(answer: Answer) -> Vec<u8> {
    let negotiation: Vec<u8> = match answer {
        Answer::Plain => Vec::new(),
        Answer::Selected(protocol) => [&[NEG_RSP, NEG_RSP_FLAGS, 8, 0][..], &protocol.to_le_bytes()].concat(),
        Answer::Failure(code) => [&[NEG_FAILURE, 0, 8, 0][..], &code.to_le_bytes()].concat(),
    };
    let mut tpdu = vec![X224_CONNECTION_CONFIRM, 0, 0, SOURCE_REFERENCE[0], SOURCE_REFERENCE[1], 0];
    tpdu.extend(negotiation);
    let length = (TPKT_HEADER_LEN + 1 + tpdu.len()) as u16;
    let mut out = vec![TPKT_VERSION, 0];
    out.extend_from_slice(&length.to_be_bytes());
    out.push(tpdu.len() as u8);
    out.extend(tpdu);
    out
}

/// A TSRequest's version and its first negoToken.
fn parse_ts_request(request: &[u8]) -> Option<(i64, &[u8])> {
    let (fields, _) = expect(request, TAG_SEQUENCE)?;
    let (version, _) = expect(field(fields, context(0))?, TAG_INTEGER)?;
    let (nego_data, _) = expect(field(fields, context(1))?, TAG_SEQUENCE)?;
    let (first, _) = expect(nego_data, TAG_SEQUENCE)?;
    let (token, _) = expect(field(first, context(0))?, TAG_OCTET_STRING)?;
    Some((ber::read_integer(version)?, token))
}

/// A TSRequest carrying `token` in its negoTokens.
fn ts_request(version: i64, token: &[u8]) -> Vec<u8> {
    let nego_data = tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &tlv(context(0), &tlv(TAG_OCTET_STRING, token))));
    tlv(
        TAG_SEQUENCE,
        &[tlv(context(0), &ber::integer(TAG_INTEGER, version)), tlv(context(1), &nego_data)].concat(),
    )
}

/// A TSRequest carrying `status` in its errorCode (CredSSP 3 and later; the NTSTATUS as
/// the signed 32-bit value Windows writes).
fn ts_request_error(version: i64, status: u32) -> Vec<u8> {
    let error = i64::from(status as i32);
    tlv(
        TAG_SEQUENCE,
        &[
            tlv(context(0), &ber::integer(TAG_INTEGER, version)),
            tlv(context(4), &ber::integer(TAG_INTEGER, error)),
        ]
        .concat(),
    )
}

fn protocol_names(mask: u32) -> Vec<String> {
    let mut names: Vec<String> = PROTOCOL_NAMES
        .iter()
        .filter(|(bit, _)| mask & bit != 0)
        .map(|(_, name)| (*name).to_owned())
        .collect();
    if mask == protocol::RDP {
        names.push("rdp".to_owned());
    }
    names
}

fn selected_name(protocol: u32) -> &'static str {
    PROTOCOL_NAMES.iter().find(|(bit, _)| *bit == protocol).map_or("rdp", |(_, name)| name)
}

fn failure_name(code: u32) -> &'static str {
    match code {
        SSL_NOT_ALLOWED_BY_SERVER => "ssl_not_allowed_by_server",
        _ => "hybrid_required_by_server",
    }
}

/// The `connection_request` event: `cookie` (the mstshash user) and `routing_token`
/// (captured bytes) and `requested_protocols` when sent; `selected` or `failure`.
fn record_connection_request(session: &Session, request: &ConnectionRequest, answer: Answer) {
    let mut fields = Fields::new();
    if let Some(cookie) = &request.cookie {
        fields = fields.bytes("cookie", cookie);
    }
    if let Some(token) = &request.routing_token {
        fields = fields.bytes("routing_token", token);
    }
    if let Some(requested) = request.requested {
        fields = fields.value("requested_protocols", protocol_names(requested).into());
    }
    fields = match answer {
        Answer::Plain => fields.text("selected", "rdp"),
        Answer::Selected(protocol) => fields.text("selected", selected_name(protocol)),
        Answer::Failure(code) => fields.text("failure", failure_name(code)),
    };
    session.record("connection_request", fields);
}

/// Records why the exchange stopped and closes, as Windows drops a client it cannot follow.
fn refuse(session: &Session, problem: &str) -> io::Result<EndReason> {
    session.record("protocol_error", Fields::new().text("error", problem));
    Ok(EndReason::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nmap's TerminalServerCookie probe, without its TPKT header.
    const NMAP_COOKIE_PROBE: &[u8] = b"%\xe0\0\0\0\0\0Cookie: mstshash=nmap\r\n\x01\0\x08\0\x03\0\0\0";

    fn rdp(nla: bool) -> Rdp {
        let env = [("NODE_NAME", "ws-01"), ("RDP_ENABLE_NLA", if nla { "true" } else { "false" })];
        Rdp::from_env(&Env::from_pairs(env)).unwrap()
    }

    #[test]
    fn connection_requests_parse() {
        let request = parse_connection_request(NMAP_COOKIE_PROBE).unwrap();
        assert_eq!(request.cookie.as_deref(), Some(&b"nmap"[..]));
        assert_eq!(request.requested, Some(protocol::SSL | protocol::HYBRID));
        let bare = parse_connection_request(b"\x06\xe0\0\0\0\0\0").unwrap();
        assert_eq!(bare, ConnectionRequest::default());
        for cut in 0..NMAP_COOKIE_PROBE.len() {
            // A cut request is refused or read without the parts that are missing.
            let _ = parse_connection_request(&NMAP_COOKIE_PROBE[..cut]);
        }
        assert_eq!(parse_connection_request(b"\x06\xd0\0\0\0\0\0"), None);
    }

    #[test]
    fn confirms_are_what_nmap_knows_windows_by() {
        let with_nla = rdp(true);
        let answer = with_nla.answer(Some(3));
        assert_eq!(connection_confirm(answer), b"\x03\0\0\x13\x0e\xd0\0\0\x124\0\x02\x1f\x08\0\x02\0\0\0");
        assert_eq!(with_nla.answer(Some(protocol::SSL)), Answer::Failure(HYBRID_REQUIRED_BY_SERVER));
        let without = rdp(false);
        assert_eq!(connection_confirm(without.answer(None)), b"\x03\0\0\x0b\x06\xd0\0\0\x124\0");
        assert_eq!(without.answer(Some(3)), Answer::Failure(SSL_NOT_ALLOWED_BY_SERVER));
        assert_eq!(without.answer(Some(0)), Answer::Selected(protocol::RDP));
    }

    #[test]
    fn ts_requests_round_trip() {
        let request = ts_request(6, b"NTLMSSP\0\x01\0\0\0");
        assert_eq!(parse_ts_request(&request), Some((6, &b"NTLMSSP\0\x01\0\0\0"[..])));
        assert_eq!(
            ts_request_error(6, STATUS_LOGON_FAILURE),
            b"\x30\x0d\xa0\x03\x02\x01\x06\xa4\x06\x02\x04\xc0\x00\x00\x6d"
        );
        for cut in 0..request.len() {
            assert_eq!(parse_ts_request(&request[..cut]), None);
        }
    }

    #[test]
    fn nla_flag_is_checked() {
        let error = Rdp::from_env(&Env::from_pairs([("RDP_ENABLE_NLA", "maybe")])).err().unwrap();
        assert_eq!(error.var, "RDP_ENABLE_NLA");
        assert!(rdp(true).nla.is_some() && rdp(false).nla.is_none());
    }
}
