//! A Microsoft SQL Server that nobody can log into, speaking TDS 7.x: it answers the
//! PRELOGIN with its version and "encryption not supported", reads the LOGIN7 (user name,
//! de-obfuscated password, host, application, server, client library, database), records
//! it and answers the ERROR token SQL Server sends for a bad login, `18456 Login failed for
//! user 'u'.`, without a LOGINACK, then closes.
//!
//! Configured by `MSSQL_VERSION` (`major.minor.build.revision`, else a per-decky pick among
//! SQL Server 2017, 2019 and 2022 builds) and `NODE_NAME`, which is the server name the
//! errors carry.

use std::io;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::codec::utf16le_decode as utf16;
use crate::emulators::framed::read_all;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream, TcpLimits};
use crate::persona::decky_seed;

/// A client has its login timeout (15 s by default) to log in; be a little more patient.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(30),
    max_duration: Duration::from_secs(60),
    max_bytes_in: 64 * 1024,
};

const HEADER_LEN: usize = 8;
/// The largest message (all its packets) read; a LOGIN7 is at most a few KiB.
const MAX_MESSAGE: usize = 32 * 1024;

mod packet_type {
    pub const TABULAR_RESULT: u8 = 0x04;
    pub const LOGIN7: u8 = 0x10;
    pub const PRELOGIN: u8 = 0x12;
}

/// The last packet of a message.
const STATUS_EOM: u8 = 0x01;

mod option {
    pub const VERSION: u8 = 0x00;
    pub const ENCRYPTION: u8 = 0x01;
    pub const INSTOPT: u8 = 0x02;
    pub const THREADID: u8 = 0x03;
    pub const MARS: u8 = 0x04;
    pub const TERMINATOR: u8 = 0xff;
}

const ENCRYPT_NOT_SUP: u8 = 0x02;

/// Builds the decky may claim: 2017 CU31, 2019 RTM and CU25, 2022 RTM and CU12.
const VERSIONS: &[&str] = &["14.0.3456.2", "15.0.2000.5", "15.0.4355.3", "16.0.1000.6", "16.0.4125.3"];

/// A SQL Server build: `15.0.4355.3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    major: u8,
    minor: u8,
    build: u16,
    revision: u16,
}

impl Version {
    fn parse(text: &str) -> Option<Version> {
        let mut parts = text.split('.');
        let version = Version {
            major: parts.next()?.parse().ok()?,
            minor: parts.next()?.parse().ok()?,
            build: parts.next()?.parse().ok()?,
            revision: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(version)
    }

    /// The PRELOGIN VERSION option: major, minor, build (big-endian), sub-build.
    fn wire(self) -> [u8; 6] {
        let [b0, b1] = self.build.to_be_bytes();
        let [r0, r1] = self.revision.to_be_bytes();
        [self.major, self.minor, b0, b1, r0, r1]
    }
}

/// The mssql emulator of one decky.
pub struct Mssql {
    version: Version,
    server_name: String,
}

impl Mssql {
    pub fn from_env(env: &Env) -> Result<Mssql, ConfigError> {
        let version = match env.get("MSSQL_VERSION") {
            Some(text) => Version::parse(text).ok_or_else(|| {
                ConfigError::new("MSSQL_VERSION", format!("expected a build like 15.0.4355.3, got {text:?}"))
            })?,
            None => {
                let pick = VERSIONS[decky_seed(env.decky(), "mssql-version") as usize % VERSIONS.len()];
                Version::parse(pick).unwrap_or(Version { major: 15, minor: 0, build: 2000, revision: 5 })
            }
        };
        let server_name = match env.decky() {
            "" => "localhost".to_owned(),
            decky => decky.to_owned(),
        };
        Ok(Mssql { version, server_name })
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut message = match read_message(&mut stream).await? {
            Read::Message(message) => message,
            Read::Gone => return Ok(EndReason::Eof),
            Read::Bad(problem, kind) => return refuse(session, problem, kind),
        };
        if message.kind == packet_type::PRELOGIN {
            let Some(prelogin) = parse_prelogin(&message.payload) else {
                return refuse(session, "malformed prelogin", Some(message.kind));
            };
            record_prelogin(session, &prelogin);
            stream.write_all(&packet(packet_type::TABULAR_RESULT, &self.prelogin_reply(&prelogin))).await?;
            message = match read_message(&mut stream).await? {
                Read::Message(message) => message,
                Read::Gone => return Ok(EndReason::Eof),
                Read::Bad(problem, kind) => return refuse(session, problem, kind),
            };
        }
        if message.kind != packet_type::LOGIN7 {
            return refuse(session, "unexpected packet", Some(message.kind));
        }
        let Some(login) = parse_login7(&message.payload) else {
            return refuse(session, "malformed login", Some(message.kind));
        };
        record_auth(session, &login);
        stream.write_all(&packet(packet_type::TABULAR_RESULT, &self.login_failed(&login))).await?;
        let _ = stream.shutdown().await;
        Ok(EndReason::Closed)
    }

    /// The options the client asked about, answered: this version, no encryption, the
    /// default instance; MARS only if the client named it, as SQL Server does.
    fn prelogin_reply(&self, prelogin: &Prelogin) -> Vec<u8> {
        let mut options: Vec<(u8, Vec<u8>)> = vec![
            (option::VERSION, self.version.wire().to_vec()),
            (option::ENCRYPTION, vec![ENCRYPT_NOT_SUP]),
            (option::INSTOPT, vec![0]),
            (option::THREADID, Vec::new()),
        ];
        if prelogin.mars.is_some() {
            options.push((option::MARS, vec![0]));
        }
        prelogin_options(&options)
    }

    /// ERROR 18456 (or 18452 for Windows authentication), then DONE with the error bit.
    fn login_failed(&self, login: &Login) -> Vec<u8> {
        let (number, text) = if login.integrated {
            (18452, "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication.".to_owned())
        } else {
            (18456, format!("Login failed for user '{}'.", login.username))
        };
        let modern = login.tds_version >= 0x7209_0002;
        let mut out = error_token(number, 1, 14, &text, &self.server_name, modern);
        out.extend(done_token(0x0002, modern));
        out
    }
}

/// A message: the type of its packets and their payloads joined.
struct Message {
    kind: u8,
    payload: Vec<u8>,
}

enum Read {
    Message(Message),
    Gone,
    /// Not a login message; the packet type when one was read.
    Bad(&'static str, Option<u8>),
}

/// Reads packets until end-of-message; only login messages (PRELOGIN, LOGIN7) are read,
/// every length is checked before it is read, and the whole message is bounded by
/// [`MAX_MESSAGE`].
async fn read_message(stream: &mut Stream) -> io::Result<Read> {
    let mut kind = None;
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; HEADER_LEN];
        if !read_all(stream, &mut header).await? {
            return Ok(Read::Gone);
        }
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let this_kind = Some(header[0]);
        if !matches!(header[0], packet_type::PRELOGIN | packet_type::LOGIN7) {
            return Ok(Read::Bad("unexpected packet type", this_kind));
        }
        if length < HEADER_LEN {
            return Ok(Read::Bad("bad packet length", this_kind));
        }
        if *kind.get_or_insert(header[0]) != header[0] {
            return Ok(Read::Bad("packet type changed within a message", this_kind));
        }
        if payload.len() + length - HEADER_LEN > MAX_MESSAGE {
            return Ok(Read::Bad("message too large", this_kind));
        }
        let start = payload.len();
        payload.resize(start + length - HEADER_LEN, 0);
        if !read_all(stream, &mut payload[start..]).await? {
            return Ok(Read::Gone);
        }
        if header[1] & STATUS_EOM != 0 {
            return Ok(Read::Message(Message { kind: header[0], payload }));
        }
    }
}

/// Records why the exchange stopped; the connection is closed without an answer, as SQL
/// Server closes on a packet it cannot use.
fn refuse(session: &Session, problem: &str, packet_type: Option<u8>) -> io::Result<EndReason> {
    let mut fields = Fields::new().text("error", problem);
    if let Some(kind) = packet_type {
        fields = fields.num("packet_type", kind.into());
    }
    session.record("protocol_error", fields);
    Ok(EndReason::Closed)
}

/// One server packet holding all of `payload` (which is far below the packet size).
fn packet(kind: u8, payload: &[u8]) -> Vec<u8> {
    let length = (HEADER_LEN + payload.len()) as u16;
    let mut out = Vec::with_capacity(usize::from(length));
    out.extend_from_slice(&[kind, STATUS_EOM]);
    out.extend_from_slice(&length.to_be_bytes());
    // SPID 0, packet id 1, window 0.
    out.extend_from_slice(&[0, 0, 1, 0]);
    out.extend_from_slice(payload);
    out
}

/// The PRELOGIN option table (token, offset, length; then 0xff) followed by the data.
fn prelogin_options(options: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let table_len = options.len() * 5 + 1;
    let mut table = Vec::with_capacity(table_len);
    let mut data = Vec::new();
    for (token, value) in options {
        table.push(*token);
        table.extend_from_slice(&((table_len + data.len()) as u16).to_be_bytes());
        table.extend_from_slice(&(value.len() as u16).to_be_bytes());
        data.extend_from_slice(value);
    }
    table.push(option::TERMINATOR);
    table.extend(data);
    table
}

/// What the client's PRELOGIN said.
#[derive(Debug, Default, PartialEq, Eq)]
struct Prelogin {
    client_version: Option<String>,
    encryption: Option<u8>,
    instance: Option<String>,
    thread_id: Option<u32>,
    mars: Option<u8>,
}

fn parse_prelogin(payload: &[u8]) -> Option<Prelogin> {
    let mut prelogin = Prelogin::default();
    let mut entries = payload;
    loop {
        let (&token, rest) = entries.split_first()?;
        if token == option::TERMINATOR {
            return Some(prelogin);
        }
        let [o0, o1, l0, l1, ..] = *rest else { return None };
        entries = &rest[4..];
        let offset = usize::from(u16::from_be_bytes([o0, o1]));
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        let value = payload.get(offset..offset + length)?;
        match (token, value) {
            (option::VERSION, [a, b, c, d, e, f]) => {
                let build = u16::from_be_bytes([*c, *d]);
                let sub_build = u16::from_be_bytes([*e, *f]);
                prelogin.client_version = Some(format!("{a}.{b}.{build}.{sub_build}"));
            }
            (option::ENCRYPTION, [encryption]) => prelogin.encryption = Some(*encryption),
            (option::INSTOPT, name) => {
                let name = name.split(|&b| b == 0).next().unwrap_or_default();
                prelogin.instance = Some(String::from_utf8_lossy(name).into_owned());
            }
            (option::THREADID, [a, b, c, d]) => {
                prelogin.thread_id = Some(u32::from_be_bytes([*a, *b, *c, *d]))
            }
            (option::MARS, [mars]) => prelogin.mars = Some(*mars),
            _ => {}
        }
    }
}

fn encryption_name(value: u8) -> String {
    match value {
        0 => "off".to_owned(),
        1 => "on".to_owned(),
        2 => "not_supported".to_owned(),
        3 => "required".to_owned(),
        other => format!("0x{other:02x}"),
    }
}

/// The `prelogin` event: `client_version`, `encryption`, `instance`, `thread_id`, `mars`,
/// each when the client sent it.
fn record_prelogin(session: &Session, prelogin: &Prelogin) {
    let mut fields = Fields::new();
    if let Some(version) = &prelogin.client_version {
        fields = fields.text("client_version", version.as_str());
    }
    if let Some(encryption) = prelogin.encryption {
        fields = fields.text("encryption", encryption_name(encryption));
    }
    if let Some(instance) = &prelogin.instance {
        fields = fields.text("instance", instance.as_str());
    }
    if let Some(thread_id) = prelogin.thread_id {
        fields = fields.num("thread_id", thread_id.into());
    }
    if let Some(mars) = prelogin.mars {
        fields = fields.flag("mars", mars != 0);
    }
    session.record("prelogin", fields);
}

/// What a LOGIN7 carries that matters.
#[derive(Debug, Default, PartialEq, Eq)]
struct Login {
    tds_version: u32,
    client_pid: u32,
    /// Windows (SSPI) authentication: no user name or password.
    integrated: bool,
    hostname: String,
    username: String,
    password: String,
    app_name: String,
    server_name: String,
    library: String,
    language: String,
    database: String,
}

/// `fIntSecurity` in OptionFlags2.
const INTEGRATED_SECURITY: u8 = 0x80;

/// Where the offset/length pairs start, and how many bytes precede them.
const LOGIN7_VARIABLE_TABLE: usize = 36;

fn parse_login7(payload: &[u8]) -> Option<Login> {
    let u32_le = |at: usize| payload.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    // The bytes of the variable part's n-th (offset, length in characters) pair.
    let field = |index: usize| -> Option<&[u8]> {
        let at = LOGIN7_VARIABLE_TABLE + index * 4;
        let pair = payload.get(at..at + 4)?;
        let offset = usize::from(u16::from_le_bytes([pair[0], pair[1]]));
        let chars = usize::from(u16::from_le_bytes([pair[2], pair[3]]));
        payload.get(offset..offset + chars * 2)
    };
    let text = |index: usize| field(index).map(utf16);
    let option_flags2 = *payload.get(25)?;
    Some(Login {
        tds_version: u32_le(4)?,
        client_pid: u32_le(16)?,
        integrated: option_flags2 & INTEGRATED_SECURITY != 0,
        hostname: text(0)?,
        username: text(1)?,
        password: utf16(&deobfuscate(field(2)?)),
        app_name: text(3)?,
        server_name: text(4)?,
        // 5 is the unused/extension slot.
        library: text(6)?,
        language: text(7)?,
        database: text(8)?,
    })
}

/// Undoes the LOGIN7 password obfuscation (the client swapped each byte's nibbles, then
/// XORed it with 0xA5).
fn deobfuscate(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|&b| (b ^ 0xa5).rotate_left(4)).collect()
}

/// The `auth` event: `username`, `password`, `method` (`sql` or `windows`), `hostname`,
/// `app_name`, `server_name`, `library`, `language`, `database`, `tds_version`,
/// `client_pid`, `success`.
fn record_auth(session: &Session, login: &Login) {
    let fields = Fields::new()
        .text("username", login.username.as_str())
        .text("password", login.password.as_str())
        .text("method", if login.integrated { "windows" } else { "sql" })
        .text("hostname", login.hostname.as_str())
        .text("app_name", login.app_name.as_str())
        .text("server_name", login.server_name.as_str())
        .text("library", login.library.as_str())
        .text("language", login.language.as_str())
        .text("database", login.database.as_str())
        .text("tds_version", format!("0x{:08x}", login.tds_version))
        .num("client_pid", login.client_pid.into())
        .flag("success", false);
    session.record("auth", fields);
}

/// US_VARCHAR: length in UTF-16 units, then UTF-16LE.
fn push_us_varchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().take(usize::from(u16::MAX)).collect();
    out.extend_from_slice(&(units.len() as u16).to_le_bytes());
    units.iter().for_each(|u| out.extend_from_slice(&u.to_le_bytes()));
}

/// B_VARCHAR: length (one byte) in UTF-16 units, then UTF-16LE.
fn push_b_varchar(out: &mut Vec<u8>, text: &str) {
    let units: Vec<u16> = text.encode_utf16().take(usize::from(u8::MAX)).collect();
    out.push(units.len() as u8);
    units.iter().for_each(|u| out.extend_from_slice(&u.to_le_bytes()));
}

/// The ERROR token (0xAA); `modern` (TDS 7.2+) line numbers are 4 bytes.
fn error_token(number: u32, state: u8, class: u8, text: &str, server: &str, modern: bool) -> Vec<u8> {
    let mut body = number.to_le_bytes().to_vec();
    body.extend_from_slice(&[state, class]);
    push_us_varchar(&mut body, text);
    push_b_varchar(&mut body, server);
    push_b_varchar(&mut body, "");
    if modern {
        body.extend_from_slice(&1u32.to_le_bytes());
    } else {
        body.extend_from_slice(&1u16.to_le_bytes());
    }
    let mut out = vec![0xaa];
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend(body);
    out
}

/// The DONE token (0xFD); `modern` (TDS 7.2+) row counts are 8 bytes.
fn done_token(status: u16, modern: bool) -> Vec<u8> {
    let mut out = vec![0xfd];
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(if modern { &[0u8; 8][..] } else { &[0u8; 4][..] });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::utf16le_encode as utf16le;

    fn obfuscate(bytes: &[u8]) -> Vec<u8> {
        bytes.iter().map(|&b| b.rotate_left(4) ^ 0xa5).collect()
    }

    /// A LOGIN7 with the given strings, laid out as clients lay it out.
    fn login7(strings: [&str; 9], flags2: u8) -> Vec<u8> {
        let mut fixed = vec![0u8; 94];
        fixed[4..8].copy_from_slice(&0x7400_0004u32.to_le_bytes());
        fixed[16..20].copy_from_slice(&4242u32.to_le_bytes());
        fixed[25] = flags2;
        let mut data = Vec::new();
        for (index, text) in strings.iter().enumerate() {
            let mut encoded = utf16le(text);
            if index == 2 {
                encoded = obfuscate(&encoded);
            }
            let at = LOGIN7_VARIABLE_TABLE + index * 4;
            fixed[at..at + 2].copy_from_slice(&((94 + data.len()) as u16).to_le_bytes());
            fixed[at + 2..at + 4].copy_from_slice(&(text.encode_utf16().count() as u16).to_le_bytes());
            data.extend(encoded);
        }
        fixed.extend(data);
        let length = fixed.len() as u32;
        fixed[0..4].copy_from_slice(&length.to_le_bytes());
        fixed
    }

    #[test]
    fn login7_is_parsed_and_the_password_recovered() {
        let strings = ["WS01", "sa", "P@ss wörd", "sqlcmd", "db01", "", "ODBC", "us_english", "master"];
        let login = parse_login7(&login7(strings, 0)).unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.as_str(), login.hostname.as_str()),
            ("sa", "P@ss wörd", "WS01")
        );
        assert_eq!((login.app_name.as_str(), login.server_name.as_str()), ("sqlcmd", "db01"));
        assert_eq!(
            (login.library.as_str(), login.language.as_str(), login.database.as_str()),
            ("ODBC", "us_english", "master")
        );
        assert_eq!((login.tds_version, login.client_pid, login.integrated), (0x7400_0004, 4242, false));
        assert!(parse_login7(&login7(strings, INTEGRATED_SECURITY)).unwrap().integrated);
        // Offsets pointing outside the message are refused, not read.
        let mut bad = login7(strings, 0);
        bad[40..42].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert_eq!(parse_login7(&bad), None);
        assert_eq!(parse_login7(&[0u8; 20]), None);
    }

    #[test]
    fn prelogin_reply_matches_sql_server_layout() {
        let mssql = Mssql::from_env(&Env::from_pairs([("MSSQL_VERSION", "15.0.4355.3")])).unwrap();
        let reply = packet(packet_type::TABULAR_RESULT, &mssql.prelogin_reply(&Prelogin::default()));
        // What nmap's ms-sql-s probe expects from SQL Server 2019.
        assert_eq!(
            reply,
            b"\x04\x01\x00\x25\x00\x00\x01\x00\x00\x00\x15\x00\x06\x01\x00\x1b\x00\x01\x02\x00\x1c\x00\x01\x03\x00\x1d\x00\x00\xff\x0f\x00\x11\x03\x00\x03\x02\x00"
        );
        let request = prelogin_options(&[
            (option::VERSION, vec![9, 0, 0, 0, 0, 0]),
            (option::ENCRYPTION, vec![1]),
            (option::INSTOPT, b"MSSQLServer\0".to_vec()),
            (option::THREADID, 4711u32.to_be_bytes().to_vec()),
            (option::MARS, vec![0]),
        ]);
        let prelogin = parse_prelogin(&request).unwrap();
        assert_eq!(prelogin.client_version.as_deref(), Some("9.0.0.0"));
        assert_eq!((prelogin.encryption, prelogin.thread_id, prelogin.mars), (Some(1), Some(4711), Some(0)));
        assert_eq!(prelogin.instance.as_deref(), Some("MSSQLServer"));
        assert_eq!(parse_prelogin(&[0, 0, 0x40, 0, 6, 0xff]), None, "option outside the message");
    }

    #[test]
    fn versions_are_picked_per_decky_or_configured() {
        let version = |pairs: &[(&str, &str)]| {
            Mssql::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap().version()
        };
        assert_eq!(version(&[("NODE_NAME", "sql-01")]), version(&[("NODE_NAME", "sql-01")]));
        let picks: std::collections::BTreeSet<u8> =
            (0..20).map(|i| version(&[("NODE_NAME", &format!("sql-{i}"))]).major).collect();
        assert!(picks.len() > 1, "{picks:?}");
        for bad in ["2019", "15.0.4355", "15.0.4355.3.1", "15.0.x.3", "300.0.1.1"] {
            let Err(error) = Mssql::from_env(&Env::from_pairs([("MSSQL_VERSION", bad)])) else {
                panic!("{bad}")
            };
            assert_eq!(error.var, "MSSQL_VERSION");
        }
    }

    #[test]
    fn login_failure_tokens() {
        let token = error_token(18456, 1, 14, "x", "db", true);
        assert_eq!(
            token,
            b"\xaa\x14\x00\x18\x48\x00\x00\x01\x0e\x01\x00x\x00\x02d\x00b\x00\x00\x01\x00\x00\x00"
        );
        assert_eq!(done_token(2, true).len(), 13);
        assert_eq!(done_token(2, false).len(), 9);
    }
}
