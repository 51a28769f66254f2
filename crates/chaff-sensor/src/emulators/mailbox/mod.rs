//! Mail retrieval as Dovecot serves it: `pop3` (ports 110 and 995) and `imap` (ports 143 and
//! 993), the second port of each over implicit TLS with a certificate made at start-up.
//!
//! Configuration (the plugin sets the first two; `<P>` is `POP3` or `IMAP`):
//! * `NODE_NAME` — the decky's name: the mail domain of the bait messages and the name in
//!   the TLS certificate.
//! * `<P>_DISTRO` — the distribution slug (default `debian`): the greeting's package tag,
//!   `Dovecot (Debian) ready.`, `Dovecot (Ubuntu) ready.` or `Dovecot ready.`.
//! * `IMAP_USERS` — the accounts that log in, `user:password` separated by commas (default
//!   the weak `admin:admin123,root:toor,mail:mail,user:user`); every other login fails. POP3
//!   shares it, as in the reference, so the two services of one mail host agree.
//!
//! A logged-in client finds the same three bait messages ([`store`]) in its INBOX; nothing
//! it does changes them for the next connection. A failed login is answered after two
//! seconds, as Dovecot does. Every command line is recorded as
//! `command` and every login attempt as `auth`.

pub mod imap;
pub mod pop3;
mod sasl;
mod store;

use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;

use self::sasl::{Credentials, Mechanism, Refusal};
use self::store::Message;
use crate::emulators::http::tls::{self, Connection};
use crate::emulators::shell::distro::Distro;
use crate::emulators::text_lines::{LineRead, read_line};
use crate::env::{ConfigError, Env};
use crate::event::Fields;
use crate::listener::{Session, Stream, TcpLimits};
use crate::persona::decky_seed;

/// Dovecot's pre-login and client idle timeouts are minutes, not seconds; room for a mail
/// client fetching every message.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(180),
    max_duration: Duration::from_secs(30 * 60),
    max_bytes_in: 1024 * 1024,
};

/// The accounts of both services (the reference's name: POP3 shares IMAP's).
const USERS_VAR: &str = "IMAP_USERS";

/// Dovecot's default `auth_failure_delay`.
const AUTH_FAILURE_DELAY: Duration = Duration::from_secs(2);

/// Accounts when `IMAP_USERS` is unset: the original's weak defaults.
const DEFAULT_USERS: &str = "admin:admin123,root:toor,mail:mail,user:user";

/// UIDVALIDITY is the mailbox's creation time in Dovecot: a stable moment of 2020-2023.
fn uid_validity(decky: &str) -> u32 {
    const EARLIEST: u32 = 1_580_000_000;
    const SPAN: u64 = 100_000_000;
    EARLIEST + (decky_seed(decky, "mailbox-uidvalidity") % SPAN) as u32
}

/// Whether a port speaks in the clear or inside TLS from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Plain,
    ImplicitTls,
}

/// What both protocols share on one port: greeting persona, accounts, bait messages, TLS.
pub struct MailServer {
    /// `Dovecot (Debian) ready.`: the text after `+OK ` or `* OK [...] `.
    ready: String,
    accounts: Vec<(String, String)>,
    messages: Vec<Message>,
    /// Stable per decky ([`uid_validity`]): IMAP's UIDVALIDITY, POP3's UIDL suffix.
    uid_validity: u32,
    tls: Option<TlsAcceptor>,
}

impl MailServer {
    /// The server configured from `<prefix>_DISTRO`, [`USERS_VAR`] and `NODE_NAME`.
    pub fn from_env(env: &Env, prefix: &str, transport: Transport) -> Result<MailServer, ConfigError> {
        let distro_var = format!("{prefix}_DISTRO");
        let distro = env.get_or(&distro_var, "debian");
        let ready = ready_text(distro).ok_or_else(|| {
            let known: Vec<&str> = Distro::slugs().collect();
            ConfigError::new(&distro_var, format!("expected one of {}, got {distro:?}", known.join(", ")))
        })?;
        let accounts = env.accounts(USERS_VAR, DEFAULT_USERS)?;
        let decky = if env.decky().is_empty() { "localhost" } else { env.decky() };
        let tls = match transport {
            Transport::Plain => None,
            Transport::ImplicitTls => Some(tls::made_acceptor(decky, distro).map_err(|e| {
                ConfigError::new("NODE_NAME", format!("cannot make a certificate for {decky:?}: {e}"))
            })?),
        };
        Ok(MailServer {
            ready,
            accounts,
            messages: store::bait_messages(decky),
            uid_validity: uid_validity(decky),
            tls,
        })
    }

    /// Whether `username` logs in with `password`.
    fn accepts(&self, username: &[u8], password: &[u8]) -> bool {
        self.accounts.iter().any(|(u, p)| u.as_bytes() == username && p.as_bytes() == password)
    }

    /// Checks a login attempt and records it as `auth`; a failure is answered only after
    /// Dovecot's `auth_failure_delay`.
    async fn login(&self, session: &Session, mechanism: &str, credentials: &Credentials) -> bool {
        let success = self.accepts(&credentials.username, &credentials.password);
        let mut fields = Fields::new()
            .text("mechanism", mechanism)
            .bytes("username", &credentials.username)
            .bytes("password", &credentials.password);
        if !credentials.authzid.is_empty() {
            fields = fields.bytes("authzid", &credentials.authzid);
        }
        session.record("auth", fields.flag("success", success));
        if !success {
            tokio::time::sleep(AUTH_FAILURE_DELAY).await;
        }
        success
    }

    /// The client's stream, inside TLS on an implicit-TLS port.
    async fn accept(&self, stream: Stream) -> std::io::Result<Box<dyn Connection>> {
        Ok(match &self.tls {
            None => Box::new(stream),
            Some(acceptor) => Box::new(acceptor.accept(stream).await?),
        })
    }
}

/// The connection of one client: lines in, replies out, error replies counted.
struct Conn {
    io: BufReader<Box<dyn Connection>>,
    /// Longest line read whole; the rest of a longer one is dropped.
    max_line: usize,
    bad_commands: u32,
}

/// What a SASL exchange came to.
enum Exchange {
    Credentials(Credentials),
    Refused(Refusal),
    /// The client went away in the middle.
    Gone,
}

impl Conn {
    fn new(connection: Box<dyn Connection>, max_line: usize) -> Conn {
        Conn { io: BufReader::new(connection), max_line, bad_commands: 0 }
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let stream = self.io.get_mut();
        stream.write_all(bytes).await?;
        stream.flush().await
    }

    /// Sends one line (CR LF added).
    async fn send_line(&mut self, line: &str) -> std::io::Result<()> {
        self.write(format!("{line}\r\n").as_bytes()).await
    }

    async fn read_line(&mut self, line: &mut Vec<u8>) -> std::io::Result<LineRead> {
        read_line(&mut self.io, self.max_line, line).await
    }

    /// Sends `+ <prompt>` and reads the answer; `None` if the client went away.
    async fn challenge(&mut self, prompt: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.send_line(&format!("+ {prompt}")).await?;
        let mut line = Vec::new();
        Ok(match self.read_line(&mut line).await? {
            LineRead::Eof => None,
            LineRead::Line | LineRead::Truncated => Some(line),
        })
    }

    /// Runs `mechanism`'s exchange, starting from the client's initial response if it sent
    /// one with the command.
    async fn sasl(&mut self, mechanism: Mechanism, initial: Option<&[u8]>) -> std::io::Result<Exchange> {
        let first_prompt = match mechanism {
            Mechanism::Plain => "",
            Mechanism::Login => sasl::LOGIN_USERNAME_PROMPT,
        };
        let first = match initial {
            Some(response) => response.to_vec(),
            None => match self.challenge(first_prompt).await? {
                Some(response) => response,
                None => return Ok(Exchange::Gone),
            },
        };
        let first = match sasl::decode_response(&first) {
            Ok(decoded) => decoded,
            Err(refusal) => return Ok(Exchange::Refused(refusal)),
        };
        if mechanism == Mechanism::Plain {
            return Ok(Exchange::Credentials(sasl::plain_credentials(&first)));
        }
        let Some(password) = self.challenge(sasl::LOGIN_PASSWORD_PROMPT).await? else {
            return Ok(Exchange::Gone);
        };
        Ok(match sasl::decode_response(&password) {
            Ok(password) => {
                Exchange::Credentials(Credentials { authzid: Vec::new(), username: first, password })
            }
            Err(refusal) => Exchange::Refused(refusal),
        })
    }
}

/// Dovecot's greeting text for a distribution: Debian-family packages tag it.
fn ready_text(distro: &str) -> Option<String> {
    let distro = Distro::named(distro)?;
    Some(match distro.slug {
        "debian" | "kali" => "Dovecot (Debian) ready.".to_owned(),
        "ubuntu22" | "ubuntu20" => "Dovecot (Ubuntu) ready.".to_owned(),
        _ => "Dovecot ready.".to_owned(),
    })
}

/// Client text as it may appear in a reply: lossy UTF-8, control characters replaced.
fn display(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_follow_the_distribution() {
        assert_eq!(ready_text("debian").unwrap(), "Dovecot (Debian) ready.");
        assert_eq!(ready_text("ubuntu20").unwrap(), "Dovecot (Ubuntu) ready.");
        assert_eq!(ready_text("rocky9").unwrap(), "Dovecot ready.");
        assert_eq!(ready_text("gentoo"), None);
    }

    #[test]
    fn configuration_errors_name_their_variable() {
        for (var, value) in [("POP3_DISTRO", "gentoo"), ("IMAP_USERS", "nobody")] {
            let error = MailServer::from_env(&Env::from_pairs([(var, value)]), "POP3", Transport::Plain)
                .err()
                .unwrap();
            assert_eq!(error.var, var, "{error}");
        }
    }
}
