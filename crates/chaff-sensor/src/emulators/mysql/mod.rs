//! A MySQL or MariaDB server that nobody can log into: it sends the protocol 10 greeting
//! (its version, a connection id, a fresh 20-byte scramble), reads the client's login and
//! refuses it with `ERROR 1045 (28000): Access denied for user 'u'@'ip'`, as a server
//! does for a wrong password.
//!
//! Configured by `MYSQL_VERSION` (else a per-decky pick among the versions the decky's
//! `MYSQL_DISTRO` shipped: MariaDB on Debian, MySQL 8.0 on Ubuntu, ...) and `NODE_NAME`.
//! The version decides the flavour: MariaDB 10 (announced as `5.5.5-10.x`, as MariaDB
//! does for old clients), MySQL 8 (auth plugin `caching_sha2_password`) or MySQL 5.
//!
//! Whatever plugin the client logs in with, the server asks it (AuthSwitchRequest) for a
//! `mysql_native_password` response, so every recorded `auth` event holds a response that
//! can be checked offline against password guesses with the recorded scramble. TLS is
//! not offered; a client asking for it anyway is refused as MySQL refuses a bad handshake.

mod wire;

use crate::persona::decky_seed;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::emulators::framed::read_all;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields, escape};
use crate::listener::{Session, Stream, TcpLimits};

use wire::{ClientHello, Greeting, HEADER_LEN, Login, SCRAMBLE_LEN, capability};

/// A real server gives a client `connect_timeout` (10 s) to log in.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(10),
    max_duration: Duration::from_secs(60),
    max_bytes_in: 64 * 1024,
};

/// Largest packet read during the login; a longer one is a bad handshake.
const MAX_PACKET: usize = 16 * 1024;

const NATIVE_PASSWORD: &str = "mysql_native_password";

/// Longest version string a server sends (`SERVER_VERSION_LENGTH`).
const MAX_VERSION_LEN: usize = 60;

/// Versions each distro's packages announce; one is picked per decky. Unknown distros
/// get Debian's.
const DISTRO_VERSIONS: &[(&str, &[&str])] = &[
    ("debian", &["10.11.6-MariaDB-0+deb12u1", "10.11.4-MariaDB-0+deb12u1"]),
    ("ubuntu22", &["8.0.36-0ubuntu0.22.04.1", "8.0.35-0ubuntu0.22.04.1", "8.0.37-0ubuntu0.22.04.3"]),
    ("ubuntu20", &["8.0.36-0ubuntu0.20.04.1", "8.0.35-0ubuntu0.20.04.1"]),
    ("rocky9", &["8.0.36", "10.5.22-MariaDB"]),
    ("centos7", &["5.5.68-MariaDB"]),
    ("alpine", &["10.11.6-MariaDB"]),
    ("fedora", &["8.0.36", "10.5.23-MariaDB"]),
    ("kali", &["10.11.6-MariaDB-2"]),
    ("arch", &["10.11.6-MariaDB"]),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    MySql5,
    MySql8,
    /// MariaDB 5.5, which still looks like MySQL 5.5.
    MariaDb55,
    MariaDb,
}

/// What the greeting says about the server.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Persona {
    flavour: Flavour,
    /// The version as configured or picked.
    version: String,
    /// The version as sent in the greeting.
    wire_version: String,
    capabilities: u32,
    charset: u8,
    mariadb_capabilities: Option<u32>,
    auth_plugin: &'static str,
}

impl Persona {
    fn from_env(env: &Env) -> Result<Persona, ConfigError> {
        let version = match env.get("MYSQL_VERSION") {
            Some(version) => {
                check_version(version).map_err(|message| ConfigError::new("MYSQL_VERSION", message))?;
                version.to_owned()
            }
            None => {
                let distro = env.get_or("MYSQL_DISTRO", "debian");
                let (_, versions) =
                    DISTRO_VERSIONS.iter().find(|(d, _)| *d == distro).unwrap_or(&DISTRO_VERSIONS[0]);
                versions[decky_seed(env.decky(), "mysql-version") as usize % versions.len()].to_owned()
            }
        };
        Ok(Persona::for_version(version))
    }

    fn for_version(version: String) -> Persona {
        let bare = version.strip_prefix("5.5.5-").unwrap_or(&version);
        let major: u32 = bare.split(['.', '-']).next().and_then(|m| m.parse().ok()).unwrap_or(0);
        let flavour = match (version.contains("MariaDB"), major) {
            (true, 10..) => Flavour::MariaDb,
            (true, _) => Flavour::MariaDb55,
            (false, 8..) => Flavour::MySql8,
            (false, _) => Flavour::MySql5,
        };
        // MariaDB 10 prefixes "5.5.5-" so that clients expecting MySQL 5 keep working;
        // MariaDB 11 stopped.
        let wire_version = if flavour == Flavour::MariaDb && major < 11 && !version.starts_with("5.5.5-") {
            format!("5.5.5-{version}")
        } else {
            version.clone()
        };
        // The servers' capabilities without CLIENT_SSL, which is not offered.
        let (capabilities, charset, mariadb_capabilities, auth_plugin) = match flavour {
            Flavour::MySql8 => (0xdfff_f7ff, 255, None, "caching_sha2_password"),
            Flavour::MySql5 => (0x81ff_f7ff, 8, None, NATIVE_PASSWORD),
            Flavour::MariaDb55 => (0x807f_f7ff, 8, None, NATIVE_PASSWORD),
            Flavour::MariaDb => (0x81bf_f7fe, 45, Some(0x1d), NATIVE_PASSWORD),
        };
        Persona { flavour, version, wire_version, capabilities, charset, mariadb_capabilities, auth_plugin }
    }

    /// A fresh scramble, drawn from the bytes this flavour's server draws from.
    fn scramble(&self) -> [u8; SCRAMBLE_LEN] {
        let mut scramble = [0u8; SCRAMBLE_LEN];
        for b in &mut scramble {
            *b = match self.flavour {
                // MariaDB: printable ASCII.
                Flavour::MariaDb | Flavour::MariaDb55 => fastrand::u8(33..=126),
                // MySQL (`generate_user_salt`): 7 bits, never NUL or '$'.
                Flavour::MySql5 | Flavour::MySql8 => match fastrand::u8(1..=127) {
                    b'$' => b'%',
                    other => other,
                },
            };
        }
        scramble
    }
}

/// Why a version cannot be announced.
fn check_version(version: &str) -> Result<(), String> {
    let printable = version.bytes().all(|b| b.is_ascii_graphic());
    let starts_with_digit = version.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if version.len() <= MAX_VERSION_LEN && printable && starts_with_digit {
        Ok(())
    } else {
        Err(format!(
            "expected a server version like 8.0.36-0ubuntu0.22.04.1 (up to {MAX_VERSION_LEN} printable characters), got {version:?}"
        ))
    }
}

/// The mysql emulator of one decky.
pub struct Mysql {
    persona: Persona,
    /// Connection ids grow like a busy server's, from a per-decky start.
    next_connection_id: AtomicU32,
}

/// How the login ended.
enum LoginEnd {
    /// The server refused it and closed the connection.
    Refused,
    /// The client went away first.
    ClientLeft,
}

impl Mysql {
    pub fn from_env(env: &Env) -> Result<Mysql, ConfigError> {
        let persona = Persona::from_env(env)?;
        let first_id = 8 + (decky_seed(env.decky(), "mysql-connection-id") % 40_000) as u32;
        Ok(Mysql { persona, next_connection_id: AtomicU32::new(first_id) })
    }

    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        let connection_id = self.next_connection_id.fetch_add(1 + fastrand::u32(..3), Ordering::Relaxed);
        let scramble = self.persona.scramble();
        let greeting = wire::greeting(&Greeting {
            version: &self.persona.wire_version,
            connection_id,
            scramble: &scramble,
            capabilities: self.persona.capabilities,
            charset: self.persona.charset,
            status: 0x0002,
            mariadb_capabilities: self.persona.mariadb_capabilities,
            auth_plugin: self.persona.auth_plugin,
        });
        stream.write_all(&wire::packet(0, &greeting)).await?;
        let hello = match read_packet(&mut stream, 1).await? {
            Packet::Gone => return Ok(EndReason::Eof),
            Packet::Bad { seq, problem } => {
                return refuse_handshake(&mut stream, session, seq, problem).await;
            }
            Packet::Payload(payload) => payload,
        };
        let login = match wire::parse_client_hello(&hello) {
            Some(ClientHello::Login(login)) => login,
            Some(ClientHello::SslRequest) => {
                return refuse_handshake(&mut stream, session, 1, "SSL requested, but not offered").await;
            }
            None => return refuse_handshake(&mut stream, session, 1, "malformed handshake response").await,
        };
        match self.authenticate(&mut stream, session, login, &scramble).await? {
            LoginEnd::Refused => Ok(EndReason::Closed),
            LoginEnd::ClientLeft => Ok(EndReason::Eof),
        }
    }

    /// Gets a `mysql_native_password` response if the client can give one, records the
    /// attempt and refuses it.
    async fn authenticate(
        &self,
        stream: &mut Stream,
        session: &Session,
        login: Login,
        scramble: &[u8; SCRAMBLE_LEN],
    ) -> io::Result<LoginEnd> {
        let mut attempt = Attempt {
            plugin: login.auth_plugin.as_deref().map_or_else(|| default_plugin(&login).to_owned(), lossy),
            response: login.auth_response.clone(),
        };
        let mut next_seq = 2;
        let switch = login.has(capability::PLUGIN_AUTH)
            && attempt.plugin != NATIVE_PASSWORD
            && !attempt.response.is_empty();
        if switch {
            stream.write_all(&wire::packet(next_seq, &wire::auth_switch(NATIVE_PASSWORD, scramble))).await?;
            match read_packet(stream, next_seq + 1).await? {
                Packet::Payload(response) => {
                    attempt = Attempt { plugin: NATIVE_PASSWORD.to_owned(), response };
                    next_seq += 2;
                }
                Packet::Gone => {
                    record_auth(session, &login, &attempt, scramble);
                    return Ok(LoginEnd::ClientLeft);
                }
                Packet::Bad { seq, problem } => {
                    record_auth(session, &login, &attempt, scramble);
                    refuse_handshake(stream, session, seq, problem).await?;
                    return Ok(LoginEnd::Refused);
                }
            }
        }
        record_auth(session, &login, &attempt, scramble);
        let message = access_denied(&login.username, session, !attempt.response.is_empty());
        let sql_state = login.has(capability::PROTOCOL_41).then_some("28000");
        stream.write_all(&wire::packet(next_seq, &wire::error(1045, sql_state, &message))).await?;
        let _ = stream.shutdown().await;
        Ok(LoginEnd::Refused)
    }
}

/// The response the client gave and the plugin that computed it.
struct Attempt {
    plugin: String,
    response: Vec<u8>,
}

/// The scheme a client that names no plugin uses.
fn default_plugin(login: &Login) -> &'static str {
    if login.has(capability::SECURE_CONNECTION) { NATIVE_PASSWORD } else { "mysql_old_password" }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `Access denied for user 'u'@'10.0.0.9' (using password: YES)`.
fn access_denied(username: &[u8], session: &Session, with_password: bool) -> String {
    let host = session.peer.ip().to_canonical();
    let using = if with_password { "YES" } else { "NO" };
    format!("Access denied for user '{}'@'{host}' (using password: {using})", lossy(username))
}

/// The `auth` event: `username`, `auth_plugin` and `auth_response` (what the client
/// computed from its password and `scramble_hex`), `client_auth_plugin` (what it chose
/// first, if it said), `database`, `client_attributes`, `client_capabilities`,
/// `using_password`, `success`.
fn record_auth(session: &Session, login: &Login, attempt: &Attempt, scramble: &[u8; SCRAMBLE_LEN]) {
    let mut fields = Fields::new()
        .bytes("username", &login.username)
        .text("auth_plugin", attempt.plugin.as_str())
        .bytes("auth_response", &attempt.response)
        .text("scramble_hex", scramble.iter().map(|b| format!("{b:02x}")).collect::<String>());
    if let Some(plugin) = &login.auth_plugin {
        fields = fields.bytes("client_auth_plugin", plugin);
    }
    if let Some(database) = &login.database {
        fields = fields.bytes("database", database);
    }
    if !login.attributes.is_empty() {
        let attributes =
            login.attributes.iter().map(|(k, v)| (printable(k), serde_json::Value::String(printable(v))));
        fields = fields.value("client_attributes", serde_json::Value::Object(attributes.collect()));
    }
    session.record(
        "auth",
        fields
            .num("client_capabilities", u64::from(login.capabilities))
            .flag("using_password", !attempt.response.is_empty())
            .flag("success", false),
    );
}

/// Attribute text as sent when UTF-8, else escaped as in `preview`.
fn printable(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes).map_or_else(|_| escape(bytes), str::to_owned)
}

/// A packet read during the login.
enum Packet {
    Payload(Vec<u8>),
    /// The client closed the connection.
    Gone,
    /// Out of order or too long: the server answers with a bad handshake, sequenced after
    /// the client's `seq`.
    Bad {
        seq: u8,
        problem: &'static str,
    },
}

/// Reads one packet, expected with sequence id `expected_seq`; its declared length is
/// checked before anything is allocated for it.
async fn read_packet(stream: &mut Stream, expected_seq: u8) -> io::Result<Packet> {
    let mut header = [0u8; HEADER_LEN];
    if !read_all(stream, &mut header).await? {
        return Ok(Packet::Gone);
    }
    let (len, seq) = wire::parse_header(header);
    if seq != expected_seq {
        return Ok(Packet::Bad { seq, problem: "packet out of order" });
    }
    if len > MAX_PACKET {
        return Ok(Packet::Bad { seq, problem: "packet too large" });
    }
    let mut payload = vec![0u8; len];
    if !read_all(stream, &mut payload).await? {
        return Ok(Packet::Gone);
    }
    Ok(Packet::Payload(payload))
}

/// Records why the handshake failed and answers `ERROR 1043 (08S01): Bad handshake`.
async fn refuse_handshake(
    stream: &mut Stream,
    session: &Session,
    seq: u8,
    problem: &str,
) -> io::Result<EndReason> {
    session.record("protocol_error", Fields::new().text("error", problem));
    let reply = wire::error(1043, Some("08S01"), "Bad handshake");
    stream.write_all(&wire::packet(seq.wrapping_add(1), &reply)).await?;
    let _ = stream.shutdown().await;
    Ok(EndReason::Closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persona(pairs: &[(&str, &str)]) -> Persona {
        Persona::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn flavours_follow_the_version() {
        let mariadb = Persona::for_version("10.11.6-MariaDB-0+deb12u1".into());
        assert_eq!(mariadb.flavour, Flavour::MariaDb);
        assert_eq!(mariadb.wire_version, "5.5.5-10.11.6-MariaDB-0+deb12u1");
        assert_eq!(mariadb.capabilities & 1, 0, "MariaDB clears CLIENT_MYSQL");
        let prefixed = Persona::for_version("5.5.5-10.6.16-MariaDB".into());
        assert_eq!(
            (prefixed.flavour, prefixed.wire_version.as_str()),
            (Flavour::MariaDb, "5.5.5-10.6.16-MariaDB")
        );
        assert_eq!(Persona::for_version("11.4.2-MariaDB".into()).wire_version, "11.4.2-MariaDB");
        assert_eq!(Persona::for_version("5.5.68-MariaDB".into()).flavour, Flavour::MariaDb55);
        let mysql8 = Persona::for_version("8.0.36-0ubuntu0.22.04.1".into());
        assert_eq!(
            (mysql8.flavour, mysql8.auth_plugin, mysql8.charset),
            (Flavour::MySql8, "caching_sha2_password", 255)
        );
        let mysql5 = Persona::for_version("5.7.42-0ubuntu0.18.04.1".into());
        assert_eq!((mysql5.flavour, mysql5.auth_plugin), (Flavour::MySql5, NATIVE_PASSWORD));
        for p in [mariadb, mysql8, mysql5] {
            assert_eq!(p.capabilities & capability::SSL, 0);
            assert_ne!(p.capabilities & capability::PROTOCOL_41, 0);
            assert_ne!(p.capabilities & capability::SECURE_CONNECTION, 0);
            assert_ne!(p.capabilities & capability::PLUGIN_AUTH, 0);
        }
    }

    #[test]
    fn versions_are_picked_per_decky_from_the_distro() {
        let ubuntu = persona(&[("NODE_NAME", "db-01"), ("MYSQL_DISTRO", "ubuntu22")]);
        assert!(DISTRO_VERSIONS[1].1.contains(&ubuntu.version.as_str()), "{}", ubuntu.version);
        assert_eq!(ubuntu, persona(&[("NODE_NAME", "db-01"), ("MYSQL_DISTRO", "ubuntu22")]));
        let debian = persona(&[("NODE_NAME", "db-01")]);
        assert_eq!(debian.flavour, Flavour::MariaDb);
        let picks: std::collections::BTreeSet<String> = (0..20)
            .map(|i| persona(&[("NODE_NAME", &format!("db-{i}")), ("MYSQL_DISTRO", "ubuntu22")]).version)
            .collect();
        assert!(picks.len() > 1, "{picks:?}");
        assert_eq!(persona(&[("MYSQL_DISTRO", "gentoo")]).flavour, Flavour::MariaDb);
    }

    #[test]
    fn configured_versions_are_checked() {
        assert_eq!(
            persona(&[("MYSQL_VERSION", "5.7.42-0ubuntu0.18.04.1")]).wire_version,
            "5.7.42-0ubuntu0.18.04.1"
        );
        for bad in ["latest", "8.0 36", "8.0.36\0", &"8".repeat(61)] {
            let err = Persona::from_env(&Env::from_pairs([("MYSQL_VERSION", bad)])).unwrap_err();
            assert_eq!(err.var, "MYSQL_VERSION", "{bad}");
        }
    }

    #[test]
    fn scrambles_use_each_servers_alphabet() {
        for _ in 0..50 {
            let mysql = Persona::for_version("8.0.36".into()).scramble();
            assert!(mysql.iter().all(|&b| (1..=127).contains(&b) && b != b'$'), "{mysql:?}");
            let mariadb = Persona::for_version("10.11.6-MariaDB".into()).scramble();
            assert!(mariadb.iter().all(|b| b.is_ascii_graphic()), "{mariadb:?}");
        }
        assert_ne!(
            Persona::for_version("8.0.36".into()).scramble(),
            Persona::for_version("8.0.36".into()).scramble()
        );
    }
}
