//! A PostgreSQL server that nobody can log into: it declines TLS and GSS encryption
//! (`N`), reads the StartupMessage (protocol 3.0), asks for a password in cleartext
//! (`AuthenticationCleartextPassword`, pg_hba method `password`) or as an MD5 response
//! (`AuthenticationMD5Password` with a fresh 4-byte salt), records it and answers
//! `FATAL 28P01 password authentication failed for user "u"`, then closes.
//!
//! Configured by `POSTGRES_VERSION` (else a per-decky pick among the versions the decky's
//! `POSTGRES_DISTRO` ships), `POSTGRES_AUTH` (`md5` or `password`, else a per-decky pick,
//! mostly `md5`) and `NODE_NAME`. A server only says its version after a successful login;
//! before that the version shows where PostgreSQL shows it, in the source line numbers of
//! its error responses (which is what `nmap -sV` reads).

use std::io;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::emulators::framed::read_all;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields, escape};
use crate::listener::{Session, Stream, TcpLimits};
use crate::persona::decky_seed;

/// PostgreSQL gives a client `authentication_timeout` (1 minute) to log in.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(30),
    max_duration: Duration::from_secs(60),
    max_bytes_in: 64 * 1024,
};

/// `MAX_STARTUP_PACKET_LENGTH`: longer startup packets are refused unread.
const MAX_STARTUP_PACKET: usize = 10_000;

/// The longest password message read (PostgreSQL allows 1000 bytes during authentication).
const MAX_PASSWORD_PACKET: usize = 1000;

/// Special "protocol versions" of the startup packet.
const CANCEL_REQUEST_CODE: u32 = (1234 << 16) | 5678;
const SSL_REQUEST_CODE: u32 = (1234 << 16) | 5679;
const GSSENC_REQUEST_CODE: u32 = (1234 << 16) | 5680;

/// Longest configured version string accepted.
const MAX_VERSION_LEN: usize = 64;

/// Versions each distro's packages report (`SELECT version()` prefix); one is picked per
/// decky. Unknown distros get Debian's.
const DISTRO_VERSIONS: &[(&str, &[&str])] = &[
    (
        "debian",
        &["15.6 (Debian 15.6-0+deb12u1)", "15.5 (Debian 15.5-0+deb12u1)", "15.8 (Debian 15.8-0+deb12u1)"],
    ),
    ("ubuntu22", &["14.11 (Ubuntu 14.11-0ubuntu0.22.04.1)", "14.12 (Ubuntu 14.12-0ubuntu0.22.04.1)"]),
    ("ubuntu20", &["12.18 (Ubuntu 12.18-0ubuntu0.20.04.1)", "12.17 (Ubuntu 12.17-0ubuntu0.20.04.1)"]),
    ("rocky9", &["13.14", "13.11"]),
    ("centos7", &["13.14", "12.18"]),
    ("alpine", &["15.6", "14.11"]),
    ("fedora", &["15.6", "15.4"]),
    ("kali", &["15.6 (Debian 15.6-1)"]),
    ("arch", &["15.6"]),
];

/// Where a major version's `ereport` calls sit: the `L` field of its error responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SourceLines {
    major: u32,
    /// `ProcessStartupPacket` in postmaster.c, refusing a protocol version.
    unsupported_protocol: u32,
    /// `auth_failed` in auth.c.
    auth_failed: u32,
    /// `ProcessStartupPacket`, refusing a startup packet without a user name.
    no_user: u32,
}

/// Known majors, ascending; a version uses the last entry whose major is not above its own.
const SOURCE_LINES: &[SourceLines] = &[
    SourceLines { major: 12, unsupported_protocol: 2119, auth_failed: 333, no_user: 2205 },
    SourceLines { major: 13, unsupported_protocol: 2133, auth_failed: 326, no_user: 2219 },
    SourceLines { major: 14, unsupported_protocol: 2138, auth_failed: 335, no_user: 2224 },
    SourceLines { major: 15, unsupported_protocol: 2194, auth_failed: 335, no_user: 2280 },
];

/// How the server asks for the password (the pg_hba.conf method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// `password`: AuthenticationCleartextPassword.
    Cleartext,
    /// `md5`: AuthenticationMD5Password with a 4-byte salt.
    Md5,
}

impl AuthMethod {
    fn from_env(env: &Env) -> Result<AuthMethod, ConfigError> {
        match env.get("POSTGRES_AUTH") {
            Some("md5") => Ok(AuthMethod::Md5),
            Some("password") => Ok(AuthMethod::Cleartext),
            Some(other) => {
                Err(ConfigError::new("POSTGRES_AUTH", format!("expected md5 or password, got {other:?}")))
            }
            // Most servers that still ask for a password hash ask for MD5.
            None => Ok(if decky_seed(env.decky(), "postgres-auth").is_multiple_of(4) {
                AuthMethod::Cleartext
            } else {
                AuthMethod::Md5
            }),
        }
    }

    /// The pg_hba.conf name, as recorded in `method`.
    fn name(self) -> &'static str {
        match self {
            AuthMethod::Cleartext => "password",
            AuthMethod::Md5 => "md5",
        }
    }
}

/// The postgres emulator of one decky.
pub struct Postgres {
    version: String,
    lines: SourceLines,
    auth: AuthMethod,
}

impl Postgres {
    pub fn from_env(env: &Env) -> Result<Postgres, ConfigError> {
        let version = match env.get("POSTGRES_VERSION") {
            Some(version) => {
                check_version(version).map_err(|message| ConfigError::new("POSTGRES_VERSION", message))?;
                version.to_owned()
            }
            None => {
                let distro = env.get_or("POSTGRES_DISTRO", "debian");
                let (_, versions) =
                    DISTRO_VERSIONS.iter().find(|(d, _)| *d == distro).unwrap_or(&DISTRO_VERSIONS[0]);
                versions[decky_seed(env.decky(), "postgres-version") as usize % versions.len()].to_owned()
            }
        };
        let lines = source_lines(major_version(&version));
        Ok(Postgres { version, lines, auth: AuthMethod::from_env(env)? })
    }

    /// The version this decky claims.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        // Each encryption may be asked for once; asked again, its code is read as a protocol
        // version, as PostgreSQL does.
        let (mut ssl_declined, mut gss_declined) = (false, false);
        let startup = loop {
            let packet = match read_startup_packet(&mut stream).await? {
                StartupRead::Packet(packet) => packet,
                StartupRead::Gone => return Ok(EndReason::Eof),
                StartupRead::BadLength(len) => {
                    // PostgreSQL only logs this one (COMMERROR) and hangs up.
                    session.record(
                        "protocol_error",
                        Fields::new()
                            .text("error", "invalid length of startup packet")
                            .num("length", len.into()),
                    );
                    return Ok(EndReason::Closed);
                }
            };
            let startup = match parse_startup(&packet) {
                Startup::SslRequest if ssl_declined => Startup::unsupported(SSL_REQUEST_CODE),
                Startup::GssEncRequest if gss_declined => Startup::unsupported(GSSENC_REQUEST_CODE),
                startup => startup,
            };
            match startup {
                Startup::SslRequest => {
                    ssl_declined = true;
                    stream.write_all(b"N").await?;
                }
                Startup::GssEncRequest => {
                    gss_declined = true;
                    stream.write_all(b"N").await?;
                }
                Startup::Cancel => return Ok(EndReason::Closed),
                Startup::Unsupported { major, minor } => {
                    let message = format!(
                        "unsupported frontend protocol {major}.{minor}: server supports {} to 3.0",
                        self.earliest_protocol()
                    );
                    session.record("protocol_error", Fields::new().text("error", message.as_str()));
                    let line = self.lines.unsupported_protocol;
                    let error = self.fatal("0A000", &message, "postmaster.c", line, "ProcessStartupPacket");
                    return finish(&mut stream, &error).await;
                }
                Startup::Malformed => {
                    let message = "invalid startup packet layout: expected terminator as last byte";
                    session.record("protocol_error", Fields::new().text("error", message));
                    let error = self.fatal(
                        "08P01",
                        message,
                        "postmaster.c",
                        self.lines.no_user,
                        "ProcessStartupPacket",
                    );
                    return finish(&mut stream, &error).await;
                }
                Startup::Params(params) => break params,
            }
        };
        record_startup(session, &startup);
        let Some(user) = startup.user() else {
            let message = "no PostgreSQL user name specified in startup packet";
            let error =
                self.fatal("28000", message, "postmaster.c", self.lines.no_user, "ProcessStartupPacket");
            return finish(&mut stream, &error).await;
        };
        let salt: [u8; 4] = fastrand::u32(..).to_be_bytes();
        stream.write_all(&auth_request(self.auth, salt)).await?;
        let password = match read_password_message(&mut stream).await? {
            PasswordRead::Password(password) => password,
            PasswordRead::Gone => return Ok(EndReason::Eof),
            PasswordRead::Unexpected(kind) => {
                let message = format!("expected password response, got message type {}", kind);
                session.record("protocol_error", Fields::new().text("error", message.as_str()));
                let error =
                    self.fatal("08P01", &message, "auth.c", self.lines.auth_failed, "recv_password_packet");
                return finish(&mut stream, &error).await;
            }
        };
        self.record_auth(session, &startup, &password, salt);
        let message = format!("password authentication failed for user \"{}\"", lossy(user));
        let error = self.fatal("28P01", &message, "auth.c", self.lines.auth_failed, "auth_failed");
        finish(&mut stream, &error).await
    }

    /// `2.0` until PostgreSQL 14 dropped protocol 2.
    fn earliest_protocol(&self) -> &'static str {
        if self.lines.major >= 14 { "3.0" } else { "2.0" }
    }

    /// A FATAL ErrorResponse as this version words it.
    fn fatal(&self, code: &str, message: &str, file: &str, line: u32, routine: &str) -> Vec<u8> {
        let line = line.to_string();
        let mut fields: Vec<(u8, &str)> = vec![(b'S', "FATAL"), (b'V', "FATAL")];
        fields.extend([(b'C', code), (b'M', message), (b'F', file), (b'L', line.as_str()), (b'R', routine)]);
        error_response(&fields)
    }

    /// The `auth` event: `username`, `database`, `application_name` (when given), `method`,
    /// then `password` (cleartext) or `md5_response` and `salt_hex`, and `success`.
    fn record_auth(&self, session: &Session, startup: &StartupParams, password: &[u8], salt: [u8; 4]) {
        let mut fields = Fields::new().bytes("username", startup.user().unwrap_or_default());
        fields = fields.bytes("database", startup.database().unwrap_or_default());
        if let Some(application) = startup.get("application_name") {
            fields = fields.bytes("application_name", application);
        }
        fields = fields.text("method", self.auth.name());
        fields = match self.auth {
            AuthMethod::Cleartext => fields.bytes("password", password),
            AuthMethod::Md5 => fields.bytes("md5_response", password).text("salt_hex", hex(&salt)),
        };
        session.record("auth", fields.flag("success", false));
    }
}

/// Why a version cannot be claimed.
fn check_version(version: &str) -> Result<(), String> {
    let printable = version.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    if version.len() <= MAX_VERSION_LEN && printable && major_version(version).is_some() {
        Ok(())
    } else {
        Err(format!(
            "expected a server version like 15.6 (Debian 15.6-0+deb12u1) (up to {MAX_VERSION_LEN} printable characters), got {version:?}"
        ))
    }
}

/// The major version: `15` of `15.6 (Debian ...)`, `9` of `9.6.24`.
fn major_version(version: &str) -> Option<u32> {
    let digits: &str = &version[..version.bytes().take_while(u8::is_ascii_digit).count()];
    digits.parse().ok()
}

fn source_lines(major: Option<u32>) -> SourceLines {
    let major = major.unwrap_or(0);
    SOURCE_LINES.iter().rev().find(|lines| lines.major <= major).copied().unwrap_or(SOURCE_LINES[0])
}

/// The startup parameters, in the order sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct StartupParams(Vec<(Vec<u8>, Vec<u8>)>);

impl StartupParams {
    fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.iter().find(|(key, _)| key == name.as_bytes()).map(|(_, value)| value.as_slice())
    }

    fn user(&self) -> Option<&[u8]> {
        self.get("user").filter(|user| !user.is_empty())
    }

    /// The database, which defaults to the user name.
    fn database(&self) -> Option<&[u8]> {
        self.get("database").filter(|db| !db.is_empty()).or_else(|| self.user())
    }
}

/// What the first packet of a connection asks for.
#[derive(Debug, PartialEq, Eq)]
enum Startup {
    SslRequest,
    GssEncRequest,
    Cancel,
    Unsupported { major: u32, minor: u32 },
    Malformed,
    Params(StartupParams),
}

/// Parses a startup packet (without its length word).
fn parse_startup(packet: &[u8]) -> Startup {
    let Some((code, body)) = packet.split_first_chunk::<4>() else {
        return Startup::Malformed;
    };
    match u32::from_be_bytes(*code) {
        SSL_REQUEST_CODE => Startup::SslRequest,
        GSSENC_REQUEST_CODE => Startup::GssEncRequest,
        CANCEL_REQUEST_CODE => Startup::Cancel,
        version if version >> 16 == 3 && version & 0xffff == 0 => {
            parse_params(body).map_or(Startup::Malformed, Startup::Params)
        }
        version => Startup::unsupported(version),
    }
}

impl Startup {
    fn unsupported(version: u32) -> Startup {
        Startup::Unsupported { major: version >> 16, minor: version & 0xffff }
    }
}

/// `name\0value\0 ... \0`: pairs of C strings ended by an empty name.
fn parse_params(body: &[u8]) -> Option<StartupParams> {
    let (&0, mut rest) = body.split_last()? else {
        return None;
    };
    let mut params = Vec::new();
    while !rest.is_empty() {
        let (name, after_name) = split_cstring(rest)?;
        let (value, after_value) = split_cstring(after_name)?;
        params.push((name.to_vec(), value.to_vec()));
        rest = after_value;
    }
    Some(StartupParams(params))
}

/// The C string at the start of `bytes` and what follows its NUL.
fn split_cstring(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == 0)?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// The `startup` event: `username`, `database`, `application_name` and the other
/// parameters as `params`.
fn record_startup(session: &Session, startup: &StartupParams) {
    let mut fields = Fields::new();
    if let Some(user) = startup.user() {
        fields = fields.bytes("username", user);
    }
    if let Some(database) = startup.database() {
        fields = fields.bytes("database", database);
    }
    if let Some(application) = startup.get("application_name") {
        fields = fields.bytes("application_name", application);
    }
    let others = startup
        .0
        .iter()
        .filter(|(key, _)| !matches!(key.as_slice(), b"user" | b"database" | b"application_name"))
        .map(|(key, value)| (printable(key), serde_json::Value::String(printable(value))));
    session.record("startup", fields.value("params", serde_json::Value::Object(others.collect())));
}

/// AuthenticationCleartextPassword (3) or AuthenticationMD5Password (5) with `salt`.
fn auth_request(method: AuthMethod, salt: [u8; 4]) -> Vec<u8> {
    match method {
        AuthMethod::Cleartext => message(b'R', &3u32.to_be_bytes()),
        AuthMethod::Md5 => {
            let mut body = 5u32.to_be_bytes().to_vec();
            body.extend_from_slice(&salt);
            message(b'R', &body)
        }
    }
}

/// An ErrorResponse with `fields` (code byte, text) in order.
fn error_response(fields: &[(u8, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for &(code, text) in fields {
        body.push(code);
        body.extend(text.bytes().filter(|&b| b != 0));
        body.push(0);
    }
    body.push(0);
    message(b'E', &body)
}

/// A backend message: type byte, length (itself included), body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(kind);
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Sends a final error and closes, as the backend exits.
async fn finish(stream: &mut Stream, error: &[u8]) -> io::Result<EndReason> {
    stream.write_all(error).await?;
    let _ = stream.shutdown().await;
    Ok(EndReason::Closed)
}

enum StartupRead {
    Packet(Vec<u8>),
    Gone,
    BadLength(u32),
}

/// Reads one startup packet; its length is checked before anything is allocated for it.
async fn read_startup_packet(stream: &mut Stream) -> io::Result<StartupRead> {
    let mut length = [0u8; 4];
    if !read_all(stream, &mut length).await? {
        return Ok(StartupRead::Gone);
    }
    let length = u32::from_be_bytes(length);
    if !(8..=MAX_STARTUP_PACKET as u32).contains(&length) {
        return Ok(StartupRead::BadLength(length));
    }
    let mut packet = vec![0u8; length as usize - 4];
    if !read_all(stream, &mut packet).await? {
        return Ok(StartupRead::Gone);
    }
    Ok(StartupRead::Packet(packet))
}

enum PasswordRead {
    /// The password or response, without its NUL.
    Password(Vec<u8>),
    Gone,
    /// Another message type, or a bad length.
    Unexpected(char),
}

/// Reads the PasswordMessage (`p`) answering the authentication request.
async fn read_password_message(stream: &mut Stream) -> io::Result<PasswordRead> {
    let mut header = [0u8; 5];
    if !read_all(stream, &mut header).await? {
        return Ok(PasswordRead::Gone);
    }
    let [kind, length @ ..] = header;
    let length = u32::from_be_bytes(length) as usize;
    if kind != b'p' || !(4..=MAX_PASSWORD_PACKET).contains(&length) {
        return Ok(PasswordRead::Unexpected(char::from(kind)));
    }
    let mut body = vec![0u8; length - 4];
    if !read_all(stream, &mut body).await? {
        return Ok(PasswordRead::Gone);
    }
    // The password is a C string; keep what precedes its NUL.
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    body.truncate(end);
    Ok(PasswordRead::Password(body))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn printable(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).map_or_else(|_| escape(bytes), str::to_owned)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres(pairs: &[(&str, &str)]) -> Postgres {
        Postgres::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn startup_packets_are_classified() {
        assert_eq!(parse_startup(&SSL_REQUEST_CODE.to_be_bytes()), Startup::SslRequest);
        assert_eq!(parse_startup(&GSSENC_REQUEST_CODE.to_be_bytes()), Startup::GssEncRequest);
        assert_eq!(
            parse_startup(&[0xff, 0x53, 0x4d, 0x42]),
            Startup::Unsupported { major: 65363, minor: 19778 }
        );
        assert_eq!(parse_startup(&[0, 3]), Startup::Malformed);
        let mut packet = 0x0003_0000u32.to_be_bytes().to_vec();
        packet.extend_from_slice(b"user\0alice\0application_name\0psql\0\0");
        let Startup::Params(params) = parse_startup(&packet) else { panic!("not parsed") };
        assert_eq!(params.user(), Some(&b"alice"[..]));
        assert_eq!(params.database(), Some(&b"alice"[..]), "defaults to the user");
        assert_eq!(params.get("application_name"), Some(&b"psql"[..]));
        packet.pop();
        assert_eq!(parse_startup(&packet), Startup::Malformed, "no terminator");
        assert_eq!(parse_startup(&[0, 3, 0, 0, b'u', 0]), Startup::Malformed, "name without value");
    }

    #[test]
    fn errors_are_laid_out_like_postgresql() {
        let error = error_response(&[(b'S', "FATAL"), (b'C', "28P01"), (b'M', "m")]);
        assert_eq!(error, b"E\0\0\0\x16SFATAL\0C28P01\0Mm\0\0");
        assert_eq!(auth_request(AuthMethod::Md5, [1, 2, 3, 4]), b"R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04");
        assert_eq!(auth_request(AuthMethod::Cleartext, [1, 2, 3, 4]), b"R\0\0\0\x08\0\0\0\x03");
    }

    #[test]
    fn versions_follow_the_distro_and_the_decky() {
        let debian = postgres(&[("NODE_NAME", "db-01")]);
        assert!(debian.version().starts_with("15."), "{}", debian.version());
        assert_eq!(debian.lines.major, 15);
        let ubuntu = postgres(&[("NODE_NAME", "db-01"), ("POSTGRES_DISTRO", "ubuntu20")]);
        assert!(ubuntu.version().contains("Ubuntu"), "{}", ubuntu.version());
        assert_eq!(ubuntu.lines.major, 12);
        assert_eq!(ubuntu.earliest_protocol(), "2.0");
        let picks: std::collections::BTreeSet<String> =
            (0..20).map(|i| postgres(&[("NODE_NAME", &format!("db-{i}"))]).version).collect();
        assert!(picks.len() > 1, "{picks:?}");
        let methods: std::collections::BTreeSet<&str> =
            (0..40).map(|i| postgres(&[("NODE_NAME", &format!("db-{i}"))]).auth.name()).collect();
        assert_eq!(methods.len(), 2, "{methods:?}");
    }

    #[test]
    fn configuration_is_checked() {
        let configured = postgres(&[("POSTGRES_VERSION", "16.2"), ("POSTGRES_AUTH", "password")]);
        assert_eq!((configured.version(), configured.lines.major), ("16.2", 15));
        assert_eq!(configured.auth, AuthMethod::Cleartext);
        assert_eq!(postgres(&[("POSTGRES_VERSION", "9.6.24")]).lines.major, 12);
        for (var, bad) in
            [("POSTGRES_VERSION", "latest"), ("POSTGRES_VERSION", "15\n"), ("POSTGRES_AUTH", "scram")]
        {
            let Err(error) = Postgres::from_env(&Env::from_pairs([(var, bad)])) else {
                panic!("{bad} accepted")
            };
            assert_eq!(error.var, var);
        }
    }
}
