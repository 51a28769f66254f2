//! SMTP (ports 25 and 587, services `smtp` and `smtp_relay`): Postfix, Exim or Sendmail as
//! the decky's distribution packages them.
//!
//! Configuration (the plugin sets it):
//! * `SMTP_MTA` — `postfix` (default), `exim` or `sendmail`: greeting, EHLO capabilities,
//!   reply wording and queue ids ([`dialect`]).
//! * `SMTP_DISTRO` — the distribution slug (default `debian`): Postfix's banner tag
//!   (`Debian/GNU`, `Ubuntu`, none), Exim's and Sendmail's versions.
//! * `SMTP_BANNER` — the whole greeting line instead (`220 ` is added when missing); its host
//!   name is then the one EHLO answers with. Otherwise the host name is the decky's.
//! * `SMTP_OPEN_RELAY` — `0` (default): AUTH always fails (535) and recipients outside the
//!   server's own domains are refused as relaying; `1`: AUTH succeeds (235), every recipient
//!   is accepted and messages are queued.
//! * `SMTP_QUARANTINE_DIR` — where accepted messages are saved whole ([`quarantine`]); none
//!   are saved when unset.
//! * `SMTP_SERVICE_NAME` — `smtp` (default) or `smtp_relay`, the role: as `smtp_relay`, the
//!   deliveries the original made through `SMTP_UPSTREAM_HOST`/`PORT`/`USER`/`PASS`/`SENDER`,
//!   up to `SMTP_PROBE_LIMIT` per client, are recorded as `relay_withheld` ([`relay`]).
//!
//! Both ports behave the same and advertise `AUTH PLAIN LOGIN`; `STARTTLS` is neither
//! advertised nor available (454). Every command line is recorded as `command`; what it did
//! also as `auth`, `mail_from`, `rcpt_to`, `message` and `relay_withheld`.

mod dialect;
mod message;
mod quarantine;
mod relay;

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, SemaphorePermit};

pub use self::dialect::MAX_MESSAGE;
use self::dialect::{Dialect, Mta, Reply};
use self::message::{DotDecoder, base64_decode, domain_of, envelope_address, header};
use self::quarantine::Quarantine;
use self::relay::RelayProbes;
use super::text_lines::{LineRead, read_line};
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream, TcpLimits};

/// Postfix's `smtpd_timeout` (300 s) for silence; room for two largest messages per
/// connection.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(300),
    max_duration: Duration::from_secs(30 * 60),
    max_bytes_in: 24 * 1024 * 1024,
};

/// Longest command line read whole (Postfix's `line_length_limit`).
const MAX_LINE: usize = 2048;
/// Recipients per message: the least RFC 5321 lets a server accept, so that one
/// connection's transaction stays small (`MAX_RECIPIENTS * MAX_ADDRESS` bytes).
const MAX_RECIPIENTS: usize = 100;
/// The longest envelope address (RFC 5321's path limit); longer ones are syntax errors.
const MAX_ADDRESS: usize = 256;
/// Error replies after which the server hangs up (Postfix's `smtpd_hard_error_limit`).
const MAX_ERRORS: u32 = 20;
/// Bytes of messages in flight one port may hold in memory at once, over all its
/// connections; a message that cannot get its share is answered "insufficient storage".
const MESSAGE_BUDGET: usize = 32 * 1024 * 1024;
/// The budget is handed out in steps of this many bytes as a message grows.
const BUDGET_STEP: usize = 64 * 1024;
/// The longest SMTP_BANNER accepted.
const MAX_BANNER: usize = 512;

/// The mail server of one port of a decky.
#[derive(Debug)]
pub struct Smtp {
    dialect: Dialect,
    open_relay: bool,
    /// Domains whose recipients are accepted even when relaying is refused.
    local_domains: Vec<String>,
    quarantine: Option<Quarantine>,
    /// Set in the `smtp_relay` role with an upstream configured.
    relay: Option<RelayProbes>,
    /// Bytes of messages being received, all connections together.
    budget: Semaphore,
}

impl Smtp {
    pub fn from_env(env: &Env) -> Result<Smtp, ConfigError> {
        let role = env.get_or("SMTP_SERVICE_NAME", "smtp");
        if role != "smtp" && role != "smtp_relay" {
            return Err(ConfigError::new(
                "SMTP_SERVICE_NAME",
                format!("expected smtp or smtp_relay, got {role:?}"),
            ));
        }
        let mta_name = env.get_or("SMTP_MTA", "postfix");
        let mta = Mta::parse(mta_name).ok_or_else(|| {
            ConfigError::new(
                "SMTP_MTA",
                format!("expected one of {}, got {mta_name:?}", Mta::NAMES.join(", ")),
            )
        })?;
        let open_relay = env.flag("SMTP_OPEN_RELAY")?.unwrap_or(false);
        let banner = env.get("SMTP_BANNER").map(greeting_line).transpose()?;
        let decky = if env.decky().is_empty() { "localhost" } else { env.decky() };
        let hostname = banner.as_deref().and_then(banner_host).unwrap_or(decky).to_owned();
        let distro = env.get_or("SMTP_DISTRO", "debian");
        let dialect = Dialect::new(mta, distro, hostname, banner).ok_or_else(|| {
            let known: Vec<&str> = dialect::known_distros().collect();
            ConfigError::new("SMTP_DISTRO", format!("expected one of {}, got {distro:?}", known.join(", ")))
        })?;
        let quarantine = env
            .get("SMTP_QUARANTINE_DIR")
            .map(|dir| {
                Quarantine::open(dir)
                    .map_err(|e| ConfigError::new("SMTP_QUARANTINE_DIR", format!("cannot use {dir:?}: {e}")))
            })
            .transpose()?;
        let relay = RelayProbes::from_env(env)?.filter(|_| role == "smtp_relay");
        Ok(Smtp {
            local_domains: local_domains(&dialect.hostname, decky),
            dialect,
            open_relay,
            quarantine,
            relay,
            budget: Semaphore::new(MESSAGE_BUDGET),
        })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut conn = Conn { io: BufReader::new(stream), dialect: &self.dialect, errors: 0 };
        let mut state = State::default();
        conn.send(Reply::Greeting).await?;
        let mut line = Vec::with_capacity(512);
        loop {
            let read = match conn.read_line(&mut line).await {
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    let _ = conn.send(Reply::IdleTimeout).await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            if read == LineRead::Eof {
                return Ok(EndReason::Eof);
            }
            session.record("command", Fields::new().bytes("command", &line));
            let flow = if read == LineRead::Truncated {
                conn.send(Reply::LineTooLong).await?;
                Flow::Continue
            } else {
                self.execute(&mut conn, &mut state, session, &line).await?
            };
            match flow {
                Flow::Continue if conn.errors >= MAX_ERRORS => {
                    conn.send(Reply::TooManyErrors).await?;
                    return Ok(EndReason::Closed);
                }
                Flow::Continue => {}
                Flow::Close => return Ok(EndReason::Closed),
                Flow::Gone => return Ok(EndReason::Eof),
            }
        }
    }

    async fn execute(
        &self,
        conn: &mut Conn<'_>,
        state: &mut State,
        session: &Session,
        line: &[u8],
    ) -> io::Result<Flow> {
        let (verb, arg) = split_command(line);
        let text = display(arg);
        let shown_line = display(&line[..line.len().min(64)]);
        let reply = match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => Reply::HeloSyntax { verb: &verb },
            "EHLO" | "HELO" => {
                state.end_transaction();
                state.extended = verb == "EHLO";
                let ip = session.peer.ip();
                if state.extended { Reply::Ehlo { helo: &text, ip } } else { Reply::Helo { helo: &text, ip } }
            }
            "MAIL" if state.from.is_some() => Reply::NestedMail,
            "MAIL" => match envelope_address(arg, "FROM").filter(|a| a.len() <= MAX_ADDRESS) {
                Some(address) => {
                    session.record("mail_from", Fields::new().bytes("address", address));
                    state.from = Some(address.to_vec());
                    conn.send(Reply::MailOk { from: &display(address) }).await?;
                    return Ok(Flow::Continue);
                }
                None => Reply::MailSyntax,
            },
            "RCPT" => return self.recipient(conn, state, session, arg).await.map(|()| Flow::Continue),
            "DATA" => return self.data(conn, state, session).await,
            "RSET" => {
                state.end_transaction();
                Reply::Reset
            }
            "NOOP" => Reply::Noop,
            "VRFY" if arg.is_empty() => Reply::VrfySyntax,
            "VRFY" => Reply::Vrfy { arg: &text },
            "EXPN" => Reply::Expn,
            "HELP" => Reply::Help,
            "STARTTLS" => Reply::StartTls,
            "AUTH" => return self.auth(conn, state, session, arg).await,
            "QUIT" => {
                conn.send(Reply::Quit).await?;
                return Ok(Flow::Close);
            }
            _ => Reply::Unknown { line: &shown_line },
        };
        conn.send(reply).await?;
        Ok(Flow::Continue)
    }

    async fn recipient(
        &self,
        conn: &mut Conn<'_>,
        state: &mut State,
        session: &Session,
        arg: &[u8],
    ) -> io::Result<()> {
        if state.from.is_none() {
            return conn.send(Reply::NeedMail).await;
        }
        let Some(address) = envelope_address(arg, "TO").filter(|a| !a.is_empty() && a.len() <= MAX_ADDRESS)
        else {
            return conn.send(Reply::RcptSyntax).await;
        };
        if state.recipients.len() >= MAX_RECIPIENTS {
            return conn.send(Reply::TooManyRecipients).await;
        }
        let accepted = self.open_relay || self.is_local(address);
        session.record("rcpt_to", Fields::new().bytes("address", address).flag("accepted", accepted));
        let rcpt = display(address);
        if accepted {
            state.recipients.push(address.to_vec());
            conn.send(Reply::RcptOk { rcpt: &rcpt }).await
        } else {
            conn.send(Reply::RelayDenied { rcpt: &rcpt }).await
        }
    }

    fn is_local(&self, address: &[u8]) -> bool {
        domain_of(address).is_none_or(|domain| self.local_domains.contains(&domain))
    }

    async fn data(&self, conn: &mut Conn<'_>, state: &mut State, session: &Session) -> io::Result<Flow> {
        if state.from.is_none() || state.recipients.is_empty() {
            conn.send(Reply::NoRecipients).await?;
            return Ok(Flow::Continue);
        }
        // Whatever happens to the message, the transaction ends with it.
        let (from, recipients) = state.end_transaction();
        conn.send(Reply::DataStart).await?;
        let received = self.receive(conn).await;
        let listed =
            recipients.iter().map(|r| Value::String(String::from_utf8_lossy(r).into_owned())).collect();
        let mut fields = Fields::new().bytes("from", &from).value("recipients", Value::Array(listed));
        fields = fields.num("size", received.size);
        if let Some(subject) = header(&received.body, "Subject") {
            fields = fields.bytes("subject", &subject);
        }
        let accepted = received.outcome == DataOutcome::Complete;
        fields = fields.flag("accepted", accepted);
        let reply = match received.outcome {
            DataOutcome::Lost => {
                session.record("message", fields);
                return match received.error {
                    Some(error) => Err(error),
                    None => Ok(Flow::Gone),
                };
            }
            DataOutcome::TooBig => Reply::MessageTooBig,
            DataOutcome::NoStorage => Reply::NoStorage,
            DataOutcome::Complete => {
                let queue_id = self.dialect.queue_id();
                fields = fields.text("queue_id", queue_id.as_str());
                match self.quarantine.as_ref().map(|q| q.store(&queue_id, &received.body)) {
                    Some(Ok(file)) => fields = fields.text("file", file),
                    Some(Err(e)) => fields = fields.text("quarantine_error", e.to_string()),
                    None => {}
                }
                session.record("message", fields);
                self.withhold_relay(session, &queue_id, &from, &recipients);
                conn.send(Reply::Queued { id: &queue_id }).await?;
                return Ok(Flow::Continue);
            }
        };
        session.record("message", fields);
        conn.send(reply).await?;
        Ok(Flow::Continue)
    }

    /// Records the delivery the original would have made through its upstream, if this
    /// message is one of the client's first probes and has foreign recipients.
    fn withhold_relay(&self, session: &Session, queue_id: &str, from: &[u8], recipients: &[Vec<u8>]) {
        let Some(relay) = &self.relay else { return };
        let foreign: Vec<Value> = recipients
            .iter()
            .filter(|r| !self.is_local(r))
            .map(|r| Value::String(String::from_utf8_lossy(r).into_owned()))
            .collect();
        if foreign.is_empty() {
            return;
        }
        let Some(count) = relay.would_relay(session.peer.ip()) else { return };
        let upstream = &relay.upstream;
        let mut fields = Fields::new()
            .text("queue_id", queue_id)
            .text("upstream_host", upstream.host.as_str())
            .num("upstream_port", upstream.port.into());
        if let Some(user) = &upstream.user {
            fields = fields.text("upstream_user", user.as_str());
        }
        let envelope_from = match &upstream.sender {
            Some(sender) => sender.clone(),
            None => String::from_utf8_lossy(from).into_owned(),
        };
        fields = fields
            .flag("upstream_auth", upstream.user.is_some() && upstream.has_password)
            .text("envelope_from", envelope_from)
            .value("recipients", Value::Array(foreign))
            .num("count", count.into())
            .num("probe_limit", relay.limit.into());
        session.record("relay_withheld", fields);
    }

    /// Reads the message after `354`, up to the end-of-data line, keeping at most the size
    /// limit and only what the port's memory budget grants.
    async fn receive(&self, conn: &mut Conn<'_>) -> Received<'_> {
        let limit = self.dialect.size_limit();
        let mut decoder = DotDecoder::default();
        let mut body = Vec::new();
        let mut permit: Option<SemaphorePermit<'_>> = None;
        let mut granted = 0usize;
        loop {
            let input = match conn.io.fill_buf().await {
                Ok(input) if !input.is_empty() => input,
                ended => {
                    let (size, error) = (decoder.size, ended.err());
                    return Received { body, size, outcome: DataOutcome::Lost, error, _permit: permit };
                }
            };
            let wanted = (body.len() + input.len()).min(limit);
            while granted < wanted {
                let Ok(more) = self.budget.try_acquire_many(BUDGET_STEP as u32) else { break };
                match permit.as_mut() {
                    Some(held) => held.merge(more),
                    None => permit = Some(more),
                }
                granted += BUDGET_STEP;
                body.reserve_exact(granted.min(limit) - body.len());
            }
            let (consumed, done) = decoder.feed(input, &mut body, granted.min(limit));
            conn.io.consume(consumed);
            if done {
                break;
            }
        }
        let outcome = if decoder.size > limit as u64 {
            DataOutcome::TooBig
        } else if (body.len() as u64) < decoder.size {
            DataOutcome::NoStorage
        } else {
            DataOutcome::Complete
        };
        Received { body, size: decoder.size, outcome, error: None, _permit: permit }
    }

    async fn auth(
        &self,
        conn: &mut Conn<'_>,
        state: &mut State,
        session: &Session,
        arg: &[u8],
    ) -> io::Result<Flow> {
        let refusal = if !state.extended {
            Some(Reply::AuthNeedsEhlo)
        } else if state.authenticated {
            Some(Reply::AuthAlready)
        } else if state.from.is_some() {
            Some(Reply::AuthInTransaction)
        } else if arg.is_empty() {
            Some(Reply::AuthSyntax)
        } else {
            None
        };
        if let Some(reply) = refusal {
            conn.send(reply).await?;
            return Ok(Flow::Continue);
        }
        let (mechanism, initial) = match arg.iter().position(|&b| b == b' ') {
            Some(space) => (display(&arg[..space]).to_ascii_uppercase(), Some(&arg[space + 1..])),
            None => (display(arg).to_ascii_uppercase(), None),
        };
        let exchange = match mechanism.as_str() {
            "PLAIN" => auth_plain(conn, initial).await?,
            "LOGIN" => auth_login(conn, initial).await?,
            _ => Exchange::Refused(Reply::AuthBadMechanism),
        };
        let credentials = match exchange {
            Exchange::Credentials(credentials) => credentials,
            Exchange::Gone => return Ok(Flow::Gone),
            Exchange::Refused(reply) => {
                conn.send(reply).await?;
                return Ok(Flow::Continue);
            }
        };
        let success = self.open_relay;
        let mut fields = Fields::new()
            .text("mechanism", mechanism.as_str())
            .bytes("username", &credentials.username)
            .bytes("password", &credentials.password)
            .flag("success", success);
        if !credentials.authzid.is_empty() {
            fields = fields.bytes("authzid", &credentials.authzid);
        }
        session.record("auth", fields);
        state.authenticated = success;
        conn.send(if success { Reply::AuthOk } else { Reply::AuthFailed }).await?;
        Ok(Flow::Continue)
    }
}

/// AUTH PLAIN: `authzid NUL authcid NUL password`, base64, in the command or after `334`.
async fn auth_plain(conn: &mut Conn<'_>, initial: Option<&[u8]>) -> io::Result<Exchange> {
    let response = match initial {
        Some(response) => response.to_vec(),
        None => match conn.challenge("").await? {
            Some(response) => response,
            None => return Ok(Exchange::Gone),
        },
    };
    Ok(match decode_response(&response) {
        Ok(decoded) => {
            let mut parts = decoded.splitn(3, |&b| b == 0).map(<[u8]>::to_vec);
            let authzid = parts.next().unwrap_or_default();
            let username = parts.next().unwrap_or_default();
            let password = parts.next().unwrap_or_default();
            Exchange::Credentials(Credentials { authzid, username, password })
        }
        Err(reply) => Exchange::Refused(reply),
    })
}

/// AUTH LOGIN: the user name (possibly in the command) and the password, each base64 after
/// its `334` prompt.
async fn auth_login(conn: &mut Conn<'_>, initial: Option<&[u8]>) -> io::Result<Exchange> {
    let username = match initial {
        Some(response) => response.to_vec(),
        None => match conn.challenge("VXNlcm5hbWU6").await? {
            Some(response) => response,
            None => return Ok(Exchange::Gone),
        },
    };
    let username = match decode_response(&username) {
        Ok(username) => username,
        Err(reply) => return Ok(Exchange::Refused(reply)),
    };
    let Some(password) = conn.challenge("UGFzc3dvcmQ6").await? else { return Ok(Exchange::Gone) };
    Ok(match decode_response(&password) {
        Ok(password) => Exchange::Credentials(Credentials { authzid: Vec::new(), username, password }),
        Err(reply) => Exchange::Refused(reply),
    })
}

/// What an AUTH exchange came to.
enum Exchange {
    Credentials(Credentials),
    /// Cancelled, undecodable or an unknown mechanism: the reply says which.
    Refused(Reply<'static>),
    /// The client went away in the middle.
    Gone,
}

/// One AUTH response line: `*` cancels, anything else must be base64.
fn decode_response(response: &[u8]) -> Result<Vec<u8>, Reply<'static>> {
    if response.trim_ascii() == b"*" {
        return Err(Reply::AuthAborted);
    }
    base64_decode(response).ok_or(Reply::AuthBadBase64)
}

#[derive(Debug, PartialEq, Eq)]
struct Credentials {
    authzid: Vec<u8>,
    username: Vec<u8>,
    password: Vec<u8>,
}

/// How the DATA phase ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataOutcome {
    Complete,
    /// Larger than the size limit: refused, nothing kept.
    TooBig,
    /// The memory budget ran out before the end: refused.
    NoStorage,
    /// The client went away (or went quiet, or the connection failed) before the end of
    /// data.
    Lost,
}

/// A message as received: the bytes kept (and the budget share holding them).
struct Received<'a> {
    body: Vec<u8>,
    size: u64,
    outcome: DataOutcome,
    /// Why the connection was lost, if it failed rather than closed.
    error: Option<io::Error>,
    _permit: Option<SemaphorePermit<'a>>,
}

/// Whether the session goes on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The server ended the session (QUIT).
    Close,
    /// The client went away in the middle of a command.
    Gone,
}

/// One session's state: its greeting and the mail transaction in progress.
#[derive(Debug, Default)]
struct State {
    /// The client said EHLO (not HELO): AUTH may follow.
    extended: bool,
    authenticated: bool,
    from: Option<Vec<u8>>,
    recipients: Vec<Vec<u8>>,
}

impl State {
    /// Ends the mail transaction, handing over its sender and recipients.
    fn end_transaction(&mut self) -> (Vec<u8>, Vec<Vec<u8>>) {
        (self.from.take().unwrap_or_default(), std::mem::take(&mut self.recipients))
    }
}

/// The connection: command lines in, replies out, error replies counted.
struct Conn<'d> {
    io: BufReader<Stream>,
    dialect: &'d Dialect,
    errors: u32,
}

impl Conn<'_> {
    async fn send(&mut self, reply: Reply<'_>) -> io::Result<()> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut text = self.dialect.reply(reply, now);
        if text.starts_with(['4', '5']) {
            self.errors += 1;
        }
        text.push_str("\r\n");
        let stream = self.io.get_mut();
        stream.write_all(text.as_bytes()).await?;
        stream.flush().await
    }

    async fn read_line(&mut self, line: &mut Vec<u8>) -> io::Result<LineRead> {
        read_line(&mut self.io, MAX_LINE, line).await
    }

    /// Sends `334 <prompt>` and reads the client's answer line; `None` if it went away.
    async fn challenge(&mut self, prompt: &str) -> io::Result<Option<Vec<u8>>> {
        self.send(Reply::AuthChallenge(prompt)).await?;
        let mut line = Vec::new();
        Ok(match self.read_line(&mut line).await? {
            LineRead::Eof => None,
            LineRead::Line | LineRead::Truncated => Some(line),
        })
    }
}

/// The verb (upper case) and the argument of a command line.
fn split_command(line: &[u8]) -> (String, &[u8]) {
    let (verb, arg) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], line[space + 1..].trim_ascii()),
        None => (line, &[][..]),
    };
    (display(verb).to_ascii_uppercase(), arg)
}

/// Client text as it may appear in a reply: lossy UTF-8 with control characters replaced,
/// so no reply can be split or forged by what the client sent.
fn display(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// `SMTP_BANNER` as a greeting line: one printable line, `220 ` added when missing.
fn greeting_line(banner: &str) -> Result<String, ConfigError> {
    let text = banner.strip_prefix("220").map_or(banner, |rest| rest.trim_start_matches([' ', '-']));
    if text.trim().is_empty() || banner.len() > MAX_BANNER || banner.chars().any(char::is_control) {
        return Err(ConfigError::new(
            "SMTP_BANNER",
            format!("expected one printable line of at most {MAX_BANNER} bytes, got {banner:?}"),
        ));
    }
    Ok(format!("220 {text}"))
}

/// The host name a greeting line claims (`220 mx.example.com ESMTP ...`), if it names one.
fn banner_host(greeting: &str) -> Option<&str> {
    let host = greeting.strip_prefix("220 ")?.split(' ').next()?;
    let hostname_like = host.contains(|c: char| c.is_ascii_alphabetic())
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    (hostname_like && !host.eq_ignore_ascii_case("ESMTP")).then_some(host)
}

/// The domains the server delivers to itself: its host name, the domain that name is in,
/// the decky's name and localhost.
fn local_domains(hostname: &str, decky: &str) -> Vec<String> {
    let mut domains = vec!["localhost".to_owned(), "localhost.localdomain".to_owned()];
    for name in [hostname, decky] {
        let name = name.to_ascii_lowercase();
        if let Some((_, parent)) = name.split_once('.').filter(|(_, parent)| parent.contains('.')) {
            domains.push(parent.to_owned());
        }
        domains.push(name);
    }
    domains.sort();
    domains.dedup();
    domains
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banners_are_single_greeting_lines() {
        assert_eq!(
            greeting_line("220 mx.corp.local ESMTP Exim 4.96").unwrap(),
            "220 mx.corp.local ESMTP Exim 4.96"
        );
        assert_eq!(greeting_line("mx ESMTP").unwrap(), "220 mx ESMTP");
        assert_eq!(greeting_line("220-mx ESMTP").unwrap(), "220 mx ESMTP");
        for bad in ["220", "220 x\r\n250 y", &"x".repeat(600)] {
            assert_eq!(greeting_line(bad).unwrap_err().var, "SMTP_BANNER", "{bad:?}");
        }
        assert_eq!(banner_host("220 mx.corp.local ESMTP"), Some("mx.corp.local"));
        assert_eq!(banner_host("220 ESMTP ready"), None);
        assert_eq!(banner_host("220 [10.0.0.1] ready"), None);
    }

    #[test]
    fn local_domains_come_from_the_host_name() {
        assert_eq!(
            local_domains("mx.corp.local", "decky-01"),
            ["corp.local", "decky-01", "localhost", "localhost.localdomain", "mx.corp.local"]
        );
        assert_eq!(local_domains("mail", "mail"), ["localhost", "localhost.localdomain", "mail"]);
    }

    #[test]
    fn commands_split_into_verb_and_argument() {
        assert_eq!(split_command(b"mail FROM:<a@b> "), ("MAIL".to_owned(), &b"FROM:<a@b>"[..]));
        assert_eq!(split_command(b"QUIT"), ("QUIT".to_owned(), &b""[..]));
    }

    #[test]
    fn configuration_errors_name_their_variable() {
        for (var, value) in [
            ("SMTP_MTA", "qmail"),
            ("SMTP_DISTRO", "gentoo"),
            ("SMTP_OPEN_RELAY", "maybe"),
            ("SMTP_SERVICE_NAME", "smtps"),
            ("SMTP_QUARANTINE_DIR", "/nonexistent/quarantine"),
            ("SMTP_BANNER", "220 a\nb"),
        ] {
            let error = Smtp::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
            assert_eq!(error.var, var, "{error}");
        }
    }

    #[test]
    fn plain_credentials_split_on_nul() {
        let decoded = decode_response(b"AGJvYgBodW50ZXIy").unwrap();
        assert_eq!(decoded, b"\0bob\0hunter2");
        assert!(matches!(decode_response(b"*"), Err(Reply::AuthAborted)));
        assert!(matches!(decode_response(b"not base64!"), Err(Reply::AuthBadBase64)));
    }
}
