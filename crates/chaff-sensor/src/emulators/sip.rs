//! `sip` on 5060/udp and 5060/tcp: an Asterisk PBX (chan_sip) that knows no one.
//!
//! Every request is parsed (start line, headers in full or compact form, folded lines) and
//! recorded as `request` with its method, request URI, From and To users, Call-ID, CSeq,
//! User-Agent and Contact; digest credentials in `Authorization` or `Proxy-Authorization`
//! are recorded as `auth` (username, realm, nonce, uri, response, ...). Answers, as Asterisk
//! with `alwaysauthreject` gives them to an unknown peer:
//!
//! * OPTIONS: `200 OK` with Allow, Supported, Accept and the `Server` banner, a version of
//!   Asterisk picked once per decky (what `nmap -sV` and `sip-methods` read);
//! * REGISTER, INVITE, SUBSCRIBE, NOTIFY, MESSAGE, PUBLISH, REFER: without credentials,
//!   `401 Unauthorized` with a digest challenge (realm `asterisk`, a fresh nonce each time);
//!   with credentials, `403 Forbidden` (every password is wrong);
//! * BYE, CANCEL, INFO, UPDATE, PRACK: `481 Call/Transaction Does Not Exist`;
//! * ACK: nothing; any other method: `501 Not Implemented`.
//!
//! Responses copy Via (adding `received` and filling `rport`, RFC 3581), From, To (with a tag
//! of ours), Call-ID and CSeq. On UDP one datagram is one message; on TCP messages are framed
//! by `Content-Length`, a head of at most [`MAX_HEAD_BYTES`] and a body of at most
//! [`MAX_BODY_BYTES`] (more closes the connection). What is not a SIP request (responses,
//! keep-alive CRLFs, garbage) gets no answer and, on UDP, only the framework's `datagram`
//! event; on TCP it closes the connection.

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Event, Fields, Kind};
use crate::listener::{Session, Stream};
use crate::persona::decky_rng;
use crate::ports::Transport;
use crate::recorder::Recorder;

/// The catalogue port, reported as `dst_port` of UDP protocol events.
const PORT: u16 = 5060;

/// Largest request head (start line and headers) read over TCP, and largest body.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Most headers kept from one request; the rest are ignored.
const MAX_HEADERS: usize = 64;

/// Most parameters read from one credentials header.
const MAX_AUTH_PARAMS: usize = 16;

/// Characters of one header value kept in an event.
const FIELD_CHARS: usize = 512;

/// What Asterisk's chan_sip allows, in its order.
const ALLOW: &str = "INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE";

/// chan_sip's default digest realm.
const REALM: &str = "asterisk";

/// The banners a decky may announce: Asterisk releases that still ship chan_sip, and FreePBX.
const SERVERS: [&str; 5] = [
    "Asterisk PBX 13.38.3",
    "Asterisk PBX 16.30.0",
    "Asterisk PBX 18.20.2",
    "Asterisk PBX 20.5.2",
    "FPBX-16.0.40.7(18.20.0)",
];

/// Compact header names (RFC 3261 §7.3.3 and extensions) and their full forms.
const COMPACT_HEADERS: [(&str, &str); 12] = [
    ("f", "from"),
    ("t", "to"),
    ("i", "call-id"),
    ("m", "contact"),
    ("v", "via"),
    ("l", "content-length"),
    ("c", "content-type"),
    ("k", "supported"),
    ("s", "subject"),
    ("e", "content-encoding"),
    ("o", "event"),
    ("r", "refer-to"),
];

/// The PBX, as configured at start-up.
pub struct Sip {
    server: &'static str,
}

/// A request, as parsed: header names lowercase and in full form, values unfolded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (lowercase, full form).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.headers.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The credentials header, if the request carries one.
    fn credentials(&self) -> Option<(&'static str, &str)> {
        ["authorization", "proxy-authorization"].into_iter().find_map(|name| Some((name, self.header(name)?)))
    }
}

/// What the PBX makes of one message: the events to record and the reply to send.
pub struct Handled {
    pub events: Vec<(&'static str, Fields)>,
    pub reply: Option<Vec<u8>>,
}

impl Sip {
    pub fn from_env(env: &Env) -> Result<Sip, ConfigError> {
        let mut rng = decky_rng(env.decky(), "sip-server");
        Ok(Sip { server: SERVERS[rng.usize(..SERVERS.len())] })
    }

    /// Records a request datagram and answers it.
    pub fn answer(&self, datagram: &[u8], peer: SocketAddr, recorder: &Recorder) -> Option<Vec<u8>> {
        let (head, body) = split_message(datagram)?;
        let handled = self.handle(head, body.len(), peer)?;
        for (name, fields) in handled.events {
            recorder.record(&Event {
                transport: Transport::Udp,
                src: Some(peer),
                dst_port: PORT,
                conn: None,
                kind: Kind::Protocol { name, fields },
            });
        }
        handled.reply
    }

    /// Serves SIP over TCP: requests framed by `Content-Length`, until the client closes.
    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut buffer: Vec<u8> = Vec::with_capacity(2048);
        loop {
            let Some(head_end) = read_head(&mut stream, &mut buffer).await? else {
                return Ok(if buffer.is_empty() { EndReason::Eof } else { EndReason::Closed });
            };
            let head = buffer[..head_end].to_vec();
            let Some(request) = parse_head(&String::from_utf8_lossy(&head)) else {
                return Ok(EndReason::Closed);
            };
            let body_len = content_length(&request).filter(|&n| n <= MAX_BODY_BYTES);
            let Some(body_len) = body_len else { return Ok(EndReason::Closed) };
            let message_end = head_end + 4 + body_len;
            if !read_to(&mut stream, &mut buffer, message_end).await? {
                return Ok(EndReason::Eof);
            }
            let handled = self.handled(&request, body_len, session.peer);
            for (name, fields) in handled.events {
                session.record(name, fields);
            }
            if let Some(reply) = handled.reply {
                stream.write_all(&reply).await?;
            }
            buffer.drain(..message_end);
        }
    }

    /// Parses a request head and decides on it; `None` if it is not a request.
    pub fn handle(&self, head: &[u8], body_len: usize, peer: SocketAddr) -> Option<Handled> {
        let request = parse_head(&String::from_utf8_lossy(head))?;
        Some(self.handled(&request, body_len, peer))
    }

    fn handled(&self, request: &Request, body_len: usize, peer: SocketAddr) -> Handled {
        let mut events = vec![("request", request_fields(request, body_len))];
        if let Some((header, value)) = request.credentials() {
            events.push(("auth", auth_fields(&request.method, header, value)));
        }
        Handled { events, reply: self.reply(request, peer) }
    }

    /// The response Asterisk gives an unknown peer (none to an ACK).
    fn reply(&self, request: &Request, peer: SocketAddr) -> Option<Vec<u8>> {
        let (status, extra): (&str, Vec<(&str, String)>) = match request.method.as_str() {
            "ACK" => return None,
            "OPTIONS" => ("200 OK", vec![("Accept", "application/sdp".to_owned())]),
            "REGISTER" | "INVITE" | "SUBSCRIBE" | "NOTIFY" | "MESSAGE" | "PUBLISH" | "REFER" => {
                match request.credentials() {
                    Some(_) => ("403 Forbidden", Vec::new()),
                    None => ("401 Unauthorized", vec![("WWW-Authenticate", challenge())]),
                }
            }
            "BYE" | "CANCEL" | "INFO" | "UPDATE" | "PRACK" => {
                ("481 Call/Transaction Does Not Exist", Vec::new())
            }
            _ => ("501 Not Implemented", Vec::new()),
        };
        Some(self.response(request, peer, status, &extra))
    }

    /// A response to `request`, its dialog headers copied, in chan_sip's header order.
    fn response(
        &self,
        request: &Request,
        peer: SocketAddr,
        status: &str,
        extra: &[(&str, String)],
    ) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {status}\r\n");
        for (i, via) in request.all("via").enumerate() {
            let via = if i == 0 { Cow::Owned(stamp_via(via, peer)) } else { Cow::Borrowed(via) };
            out.push_str(&format!("Via: {via}\r\n"));
        }
        let mut header = |name: &str, value: &str| out.push_str(&format!("{name}: {value}\r\n"));
        header("From", request.header("from").unwrap_or(""));
        header("To", &tagged(request.header("to").unwrap_or("")));
        header("Call-ID", request.header("call-id").unwrap_or(""));
        header("CSeq", request.header("cseq").unwrap_or(""));
        header("Server", self.server);
        header("Allow", ALLOW);
        header("Supported", "replaces, timer");
        for (name, value) in extra {
            header(name, value);
        }
        header("Content-Length", "0");
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// Splits a datagram at the blank line ending the head; `None` without one.
fn split_message(datagram: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = find_blank_line(datagram)?;
    Some((&datagram[..end], &datagram[end + 4..]))
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Reads until `buffer` holds a whole head (leading keep-alive CRLFs dropped); returns where
/// its blank line starts, or `None` at the end of the stream or past [`MAX_HEAD_BYTES`].
async fn read_head(stream: &mut Stream, buffer: &mut Vec<u8>) -> io::Result<Option<usize>> {
    loop {
        let blank = buffer.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        buffer.drain(..blank);
        if let Some(end) = find_blank_line(buffer) {
            return Ok(Some(end));
        }
        if buffer.len() > MAX_HEAD_BYTES || !read_more(stream, buffer).await? {
            return Ok(None);
        }
    }
}

/// Reads until `buffer` holds `len` bytes; `false` if the stream ends first.
async fn read_to(stream: &mut Stream, buffer: &mut Vec<u8>, len: usize) -> io::Result<bool> {
    while buffer.len() < len {
        if !read_more(stream, buffer).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Appends one read's bytes to `buffer`; `false` at the end of the stream.
async fn read_more(stream: &mut Stream, buffer: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Parses a request head: `METHOD URI SIP/2.0`, then headers. `None` for a response or
/// anything that is not a SIP request line.
pub fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let mut start = lines.next()?.split(' ');
    let (method, uri, version) = (start.next()?, start.next()?, start.next()?);
    let is_token = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-');
    if !is_token || uri.is_empty() || !version.starts_with("SIP/") || start.next().is_some() {
        return None;
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // A folded line continues the previous header's value.
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            if headers.len() == MAX_HEADERS {
                break;
            }
            headers.push((full_header_name(name.trim()), value.trim().to_owned()));
        }
    }
    Some(Request { method: method.to_owned(), uri: uri.to_owned(), headers })
}

fn full_header_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    COMPACT_HEADERS.iter().find(|(short, _)| *short == lower).map_or(lower, |(_, full)| (*full).to_owned())
}

/// The declared body length; 0 when absent, `None` when unreadable.
fn content_length(request: &Request) -> Option<usize> {
    request.header("content-length").map_or(Some(0), |v| v.parse().ok())
}

/// The user part of the URI in a From, To or Contact value: `"Bob" <sip:100@pbx>;tag=1` → `100`.
pub fn uri_user(value: &str) -> Option<&str> {
    let lower = value.to_ascii_lowercase();
    let start = ["sip:", "sips:", "tel:"].iter().filter_map(|s| lower.find(s).map(|i| i + s.len())).min()?;
    let rest = &value[start..];
    let end = rest.find(['>', ';', '?', ' ']).unwrap_or(rest.len());
    let address = &rest[..end];
    match address.split_once('@') {
        Some((user, _)) => Some(user.split(':').next().unwrap_or(user)),
        None if lower[..start].ends_with("tel:") => Some(address),
        None => None,
    }
    .filter(|user| !user.is_empty())
}

fn bounded(value: &str) -> String {
    value.chars().take(FIELD_CHARS).collect()
}

/// The `request` event's fields.
fn request_fields(request: &Request, body_len: usize) -> Fields {
    let mut fields =
        Fields::new().text("method", bounded(&request.method)).text("uri", bounded(&request.uri));
    for (key, header) in [("from_user", "from"), ("to_user", "to")] {
        if let Some(user) = request.header(header).and_then(uri_user) {
            fields = fields.text(key, bounded(user));
        }
    }
    for (key, header) in
        [("call_id", "call-id"), ("cseq", "cseq"), ("user_agent", "user-agent"), ("contact", "contact")]
    {
        if let Some(value) = request.header(header) {
            fields = fields.text(key, bounded(value));
        }
    }
    fields.num("body_bytes", body_len as u64)
}

/// The `auth` event's fields: the scheme and the digest parameters that were sent.
fn auth_fields(method: &str, header: &str, value: &str) -> Fields {
    let (scheme, params) = auth_params(value);
    let mut fields =
        Fields::new().text("method", bounded(method)).text("header", header).text("scheme", bounded(scheme));
    for key in ["username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "nc", "qop", "opaque"]
    {
        if let Some((_, v)) = params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            fields = fields.text(key, bounded(v));
        }
    }
    fields
}

/// Splits `Digest k="v", k2=v2` into the scheme and at most [`MAX_AUTH_PARAMS`] parameters
/// (quoted values unescaped; commas inside quotes kept).
pub fn auth_params(value: &str) -> (&str, Vec<(String, String)>) {
    let value = value.trim();
    let (scheme, mut rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    let mut params = Vec::new();
    while params.len() < MAX_AUTH_PARAMS {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some((key, after)) = rest.split_once('=') else { break };
        let after = after.trim_start();
        let (parsed, remainder) = match after.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted),
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_owned(), &after[end..])
            }
        };
        params.push((key.trim().to_owned(), parsed));
        rest = remainder;
    }
    (scheme, params)
}

/// Reads a quoted string's content (after its opening quote): the unescaped text and what
/// follows the closing quote (nothing if it is missing).
fn quoted_string(input: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = input.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &input[i + 1..]),
            '\\' => out.extend(chars.next().map(|(_, escaped)| escaped)),
            c => out.push(c),
        }
    }
    (out, "")
}

/// The first Via value with `received` added and an empty `rport` filled (RFC 3581).
fn stamp_via(via: &str, peer: SocketAddr) -> String {
    let (first, others) = match via.split_once(',') {
        Some((first, others)) => (first, Some(others)),
        None => (via, None),
    };
    let ip = peer.ip().to_canonical();
    let mut params: Vec<String> = first.split(';').map(str::to_owned).collect();
    for param in params.iter_mut().skip(1) {
        if param.trim().eq_ignore_ascii_case("rport") {
            *param = format!("rport={}", peer.port());
        }
    }
    if !params.iter().skip(1).any(|p| p.trim().to_ascii_lowercase().starts_with("received=")) {
        params.push(format!("received={ip}"));
    }
    let stamped = params.join(";");
    match others {
        Some(others) => format!("{stamped},{others}"),
        None => stamped,
    }
}

/// The To value with a tag of ours, unless it has one (chan_sip's `as` and 8 hex digits).
fn tagged(to: &str) -> String {
    if to.to_ascii_lowercase().contains(";tag=") {
        to.to_owned()
    } else {
        format!("{to};tag=as{:08x}", fastrand::u32(..))
    }
}

/// A fresh digest challenge, as chan_sip words it.
fn challenge() -> String {
    format!("Digest algorithm=MD5, realm=\"{REALM}\", nonce=\"{:08x}\"", fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &str = "REGISTER sip:pbx.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-1;rport\r\n\
        f: \"Alice\" <sip:100@pbx.example.com>;tag=abc\r\n\
        t: <sip:100@pbx.example.com>\r\n\
        i: 1-2-3@10.0.0.9\r\n\
        CSeq: 1 REGISTER\r\n\
        User-Agent: friendly-scanner\r\n\
        Contact: <sip:100@10.0.0.9:5062>\r\n\
        Content-Length: 0\r\n\r\n";

    fn sip() -> Sip {
        Sip::from_env(&Env::from_pairs([("NODE_NAME", "pbx-01")])).unwrap()
    }

    fn peer() -> SocketAddr {
        "10.0.0.9:5062".parse().unwrap()
    }

    fn reply(message: &str) -> String {
        let (head, body) = split_message(message.as_bytes()).unwrap();
        let handled = sip().handle(head, body.len(), peer()).unwrap();
        String::from_utf8(handled.reply.unwrap()).unwrap()
    }

    #[test]
    fn register_without_credentials_is_challenged() {
        let answer = reply(REGISTER);
        assert!(answer.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{answer}");
        assert!(
            answer
                .contains("Via: SIP/2.0/UDP 10.0.0.9:5062;branch=z9hG4bK-1;rport=5062;received=10.0.0.9\r\n")
        );
        assert!(answer.contains("To: <sip:100@pbx.example.com>;tag=as"), "{answer}");
        assert!(answer.contains("Call-ID: 1-2-3@10.0.0.9\r\nCSeq: 1 REGISTER\r\n"), "{answer}");
        assert!(answer.contains("WWW-Authenticate: Digest algorithm=MD5, realm=\"asterisk\", nonce=\""));
        assert!(answer.ends_with("Content-Length: 0\r\n\r\n"));
        assert_ne!(reply(REGISTER), answer, "every challenge has a fresh nonce and tag");
    }

    #[test]
    fn requests_are_recorded_and_credentials_forbidden() {
        let with_auth = REGISTER.replace(
            "Content-Length",
            "Authorization: Digest username=\"100\", realm=\"asterisk\", nonce=\"1a2b\", uri=\"sip:pbx\", \
             response=\"0123456789abcdef\", algorithm=MD5\r\nContent-Length",
        );
        let (head, body) = split_message(with_auth.as_bytes()).unwrap();
        let handled = sip().handle(head, body.len(), peer()).unwrap();
        assert!(String::from_utf8(handled.reply.unwrap()).unwrap().starts_with("SIP/2.0 403 Forbidden\r\n"));
        let [(request_kind, request), (auth_kind, auth)] = &handled.events[..] else { panic!("two events") };
        assert_eq!((*request_kind, *auth_kind), ("request", "auth"));
        assert_eq!(request.get("method").unwrap(), "REGISTER");
        assert_eq!(request.get("from_user").unwrap(), "100");
        assert_eq!(request.get("call_id").unwrap(), "1-2-3@10.0.0.9");
        assert_eq!(request.get("user_agent").unwrap(), "friendly-scanner");
        assert_eq!(auth.get("username").unwrap(), "100");
        assert_eq!(auth.get("response").unwrap(), "0123456789abcdef");
        assert_eq!(auth.get("algorithm").unwrap(), "MD5");
    }

    #[test]
    fn options_answer_with_the_banner_and_allow() {
        let answer = reply(&REGISTER.replace("REGISTER", "OPTIONS"));
        assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
        assert!(answer.contains(&format!("Server: {}\r\nAllow: {ALLOW}\r\n", sip().server)), "{answer}");
        assert!(answer.contains("Accept: application/sdp\r\n"));
    }

    #[test]
    fn other_methods() {
        assert!(reply(&REGISTER.replace("REGISTER", "BYE")).starts_with("SIP/2.0 481 "));
        assert!(reply(&REGISTER.replace("REGISTER", "FOO")).starts_with("SIP/2.0 501 Not Implemented"));
        let (head, _) = split_message(REGISTER.replace("REGISTER", "ACK").as_bytes())
            .map(|(h, b)| (h.to_vec(), b.len()))
            .unwrap();
        assert!(sip().handle(&head, 0, peer()).unwrap().reply.is_none());
    }

    #[test]
    fn users_and_digest_parameters() {
        assert_eq!(uri_user("\"Bob\" <sip:200@pbx>;tag=1"), Some("200"));
        assert_eq!(uri_user("<sips:alice:secret@host:5061;transport=tls>"), Some("alice"));
        assert_eq!(uri_user("sip:host.example"), None);
        assert_eq!(uri_user("<tel:+4930123>"), Some("+4930123"));
        assert_eq!(uri_user("garbage"), None);
        let (scheme, params) = auth_params("Digest username=\"a,\\\"b\", nc=00000001 ,qop=auth, realm=\"x");
        assert_eq!(scheme, "Digest");
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(params, [("username", "a,\"b"), ("nc", "00000001"), ("qop", "auth"), ("realm", "x")]);
        assert_eq!(auth_params(&format!("Digest {}", "k=v,".repeat(1000))).1.len(), MAX_AUTH_PARAMS);
    }

    #[test]
    fn not_requests_and_garbage() {
        assert_eq!(parse_head("SIP/2.0 200 OK\r\nVia: x"), None);
        assert_eq!(parse_head("GET / HTTP/1.1"), None);
        assert_eq!(parse_head(""), None);
        assert_eq!(parse_head("INVITE  SIP/2.0"), None);
        let folded = parse_head("INVITE sip:1@h SIP/2.0\r\nSubject: a\r\n  b\r\nX-Y: z").unwrap();
        assert_eq!(folded.header("subject"), Some("a b"));
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..2000 {
            let mut bytes = REGISTER.as_bytes().to_vec();
            for _ in 0..rng.usize(1..8) {
                let at = rng.usize(..bytes.len());
                bytes[at] = rng.u8(..);
            }
            bytes.truncate(rng.usize(..=bytes.len()));
            if let Some((head, body)) = split_message(&bytes) {
                let _ = sip().handle(head, body.len(), peer());
            }
        }
    }

    #[test]
    fn the_banner_is_stable_per_decky() {
        assert_eq!(sip().server, sip().server);
        let servers: std::collections::HashSet<&str> = (0..40)
            .map(|i| {
                Sip::from_env(&Env::from_pairs([("NODE_NAME", format!("pbx-{i}").as_str())])).unwrap().server
            })
            .collect();
        assert!(servers.len() > 1);
    }
}
