//! FTP (port 21): vsftpd or ProFTPD, as the decky's distribution packages them.
//!
//! Configuration: `FTP_DISTRO` (a distribution slug, default `debian`) chooses the servers a
//! decky may run; the decky's name (`NODE_NAME`) picks one of them, and the sizes and dates of
//! its files, so one decky always answers the same and deckies differ.
//!
//! Logins: `anonymous` and `ftp` get in with any password. Any other user gets in when the
//! pair (user, password) passes a stable rule: never `root` (both servers refuse it by
//! default), never an empty password, otherwise one pair in four, chosen by a hash of the
//! decky, user and password ([`login_accepted`]) — retrying the same pair gives the same
//! answer, as on a real server. Three failed logins close the connection.
//!
//! Every command line is recorded as `command`; logins as `auth`, `RETR` as `download`,
//! `STOR`/`APPE` as `upload` (at most 1 MiB is read, counted and dropped; the first bytes are
//! kept in the event). Data connections are passive only ([`data`]).

mod data;
mod files;
mod persona;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncWriteExt, BufReader};

use self::data::{DataChannel, OpenError};
use self::files::{Body, Tree};
use self::persona::{Reply, Server, TransferType};
use super::text_lines::{LineRead, read_line};
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream, TcpLimits};
use crate::persona::fnv1a;

/// Longest command line read whole (vsftpd's own limit).
const MAX_LINE: usize = 4096;
/// Failed logins after which the server hangs up (both servers' default).
const MAX_LOGIN_FAILURES: u32 = 3;
/// The pause before answering a failed login (vsftpd's `delay_failed_login`).
const FAILED_LOGIN_DELAY: Duration = Duration::from_secs(1);
/// One non-anonymous (user, password) pair in this many is let in.
const LOGIN_ACCEPT_ONE_IN: u64 = 4;

/// Users logged in without a password check.
const ANONYMOUS_USERS: [&str; 2] = ["anonymous", "ftp"];

/// FTP sessions last as long as the servers' own idle timeout allows (300 s); only the
/// control connection counts against the byte cap (uploads arrive on data connections).
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(300),
    max_duration: Duration::from_secs(30 * 60),
    max_bytes_in: 256 * 1024,
};

/// The FTP server of one decky.
#[derive(Debug)]
pub struct Ftp {
    server: Server,
    tree: Tree,
    decky: String,
}

/// Whether a non-anonymous login of `user` with `password` on `decky` succeeds (see the
/// module docs).
pub fn login_accepted(decky: &str, user: &[u8], password: &[u8]) -> bool {
    if user == b"root" || password.is_empty() {
        return false;
    }
    let key = [decky.as_bytes(), user, password].join(&0u8);
    fnv1a(&key).is_multiple_of(LOGIN_ACCEPT_ONE_IN)
}

impl Ftp {
    pub fn from_env(env: &Env) -> Result<Ftp, ConfigError> {
        let distro = env.get_or("FTP_DISTRO", "debian");
        let seed = fnv1a(env.decky().as_bytes());
        let server = Server::for_distro(distro, seed).ok_or_else(|| {
            let known: Vec<&str> = persona::known_distros().collect();
            ConfigError::new("FTP_DISTRO", format!("expected one of {}, got {distro:?}", known.join(", ")))
        })?;
        Ok(Ftp { server, tree: Tree::new(seed), decky: env.decky().to_owned() })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut conn = Control { io: BufReader::new(stream), server: self.server };
        let mut state = State::new(self.tree.clone());
        conn.send(Reply::Banner { local: session.local.ip() }).await?;
        let mut line = Vec::with_capacity(256);
        loop {
            let read = match read_line(&mut conn.io, MAX_LINE, &mut line).await {
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
            if read == LineRead::Truncated {
                conn.send(Reply::LineTooLong).await?;
                continue;
            }
            let command = Command::parse(&line);
            if self.execute(&mut conn, &mut state, session, &command).await? == Flow::Close {
                return Ok(EndReason::Closed);
            }
        }
    }

    /// Commands either server answers before a login.
    fn allowed_before_login(&self, verb: &str) -> bool {
        match verb {
            "USER" | "PASS" | "QUIT" | "FEAT" | "OPTS" => true,
            "HELP" | "SYST" | "NOOP" => self.server == Server::Proftpd,
            _ => false,
        }
    }

    async fn execute(
        &self,
        conn: &mut Control,
        state: &mut State,
        session: &Session,
        command: &Command,
    ) -> io::Result<Flow> {
        let (verb, arg) = (command.verb.as_str(), command.arg.as_str());
        if state.user.is_none() && !self.allowed_before_login(verb) {
            // ProFTPD rejects unknown commands before asking for a login; vsftpd asks first.
            let reply = if self.server == Server::Proftpd && !KNOWN_VERBS.contains(&verb) {
                Reply::Unknown { verb }
            } else {
                Reply::PleaseLogin
            };
            conn.send(reply).await?;
            return Ok(Flow::Continue);
        }
        let reply = match verb {
            "USER" => self.user(state, command),
            "PASS" => return self.pass(conn, state, session, command).await,
            "QUIT" => {
                conn.send(Reply::Goodbye).await?;
                return Ok(Flow::Close);
            }
            "SYST" => Reply::Syst,
            "FEAT" => Reply::Features,
            "HELP" => Reply::Help,
            "NOOP" => Reply::Noop,
            "OPTS" if arg.eq_ignore_ascii_case("UTF8 ON") => Reply::Utf8On,
            "OPTS"
                if self.server.has_mlst()
                    && arg.get(..5).is_some_and(|o| o.eq_ignore_ascii_case("MLST ")) =>
            {
                Reply::MlstFacts { facts: &arg[5..] }
            }
            "OPTS" => Reply::BadOption,
            "PWD" | "XPWD" => Reply::Pwd { path: &state.cwd },
            "CWD" | "XCWD" => self.change_directory(state, arg),
            "CDUP" | "XCUP" => self.change_directory(state, ".."),
            "TYPE" => match arg.bytes().next().map(|b| b.to_ascii_uppercase()) {
                Some(b'A') => state.set_type(TransferType::Ascii),
                Some(b'I' | b'L') => state.set_type(TransferType::Binary),
                _ => Reply::BadType,
            },
            "MODE" if arg.eq_ignore_ascii_case("S") => Reply::ModeStream,
            "STRU" if arg.eq_ignore_ascii_case("F") => Reply::StructureFile,
            "PASV" => return self.passive(conn, state, session, false).await.map(|()| Flow::Continue),
            "EPSV" if arg.eq_ignore_ascii_case("ALL") => Reply::EpsvAll,
            "EPSV" => return self.passive(conn, state, session, true).await.map(|()| Flow::Continue),
            "PORT" if parse_port(arg).is_some() => state.set_active(Reply::PortAccepted),
            "EPRT" if parse_eprt(arg).is_some() => state.set_active(Reply::EprtAccepted),
            "PORT" | "EPRT" => Reply::BadPort,
            "LIST" | "NLST" => {
                return self.list(conn, state, session, command).await.map(|()| Flow::Continue);
            }
            "MLSD" if self.server.has_mlst() => {
                return self.list(conn, state, session, command).await.map(|()| Flow::Continue);
            }
            "MLST" if self.server.has_mlst() => {
                return self.mlst(conn, state, arg).await.map(|()| Flow::Continue);
            }
            "RETR" => return self.retrieve(conn, state, session, arg).await.map(|()| Flow::Continue),
            "STOR" | "APPE" => return self.store(conn, state, session, arg).await.map(|()| Flow::Continue),
            "SIZE" => match state.tree.get(&files::resolve(&state.cwd, arg)) {
                Some(entry) if !entry.is_dir() => Reply::Size(entry.size()),
                _ => Reply::SizeFailed { arg },
            },
            "MDTM" => match state.tree.get(&files::resolve(&state.cwd, arg)) {
                Some(entry) if !entry.is_dir() => {
                    let stamp = files::mdtm(entry.mtime);
                    conn.send(Reply::Mdtm(&stamp)).await?;
                    return Ok(Flow::Continue);
                }
                _ => Reply::MdtmFailed { arg },
            },
            "MFMT" if self.server.has_mlst() => match arg.split_once(' ') {
                Some((stamp, name)) if is_timestamp(stamp) => {
                    match state.tree.get(&files::resolve(&state.cwd, name)) {
                        Some(_) => Reply::Mfmt { stamp, arg: name },
                        None => Reply::ListMissing { arg: name },
                    }
                }
                _ => Reply::BadOption,
            },
            "MKD" | "XMKD" | "RMD" | "XRMD" | "DELE" | "RNFR" | "RNTO" | "SITE" | "STOU" => {
                Reply::Refused { verb, arg }
            }
            "REST" => {
                state.restart = arg.trim().parse().unwrap_or(0);
                Reply::Restart(state.restart)
            }
            "ABOR" => Reply::NoTransferToAbort,
            "STAT" => Reply::Status {
                peer: session.peer.ip(),
                user: state.user.as_deref(),
                transfer_type: state.transfer_type,
            },
            _ => Reply::Unknown { verb },
        };
        conn.send(reply).await?;
        Ok(Flow::Continue)
    }

    fn user<'a>(&self, state: &mut State, command: &'a Command) -> Reply<'a> {
        if state.user.is_some() {
            return Reply::CannotChangeUser;
        }
        let anonymous = ANONYMOUS_USERS.iter().any(|a| command.arg.eq_ignore_ascii_case(a));
        state.pending_user = Some(command.raw_arg.clone());
        Reply::NeedPassword { user: &command.arg, anonymous }
    }

    async fn pass(
        &self,
        conn: &mut Control,
        state: &mut State,
        session: &Session,
        command: &Command,
    ) -> io::Result<Flow> {
        if state.user.is_some() {
            conn.send(Reply::AlreadyLoggedIn).await?;
            return Ok(Flow::Continue);
        }
        let Some(user) = state.pending_user.take() else {
            conn.send(Reply::UserFirst).await?;
            return Ok(Flow::Continue);
        };
        let name = display(&user);
        let anonymous = ANONYMOUS_USERS.iter().any(|a| name.eq_ignore_ascii_case(a));
        let success = anonymous || login_accepted(&self.decky, &user, &command.raw_arg);
        session.record(
            "auth",
            Fields::new()
                .bytes("username", &user)
                .bytes("password", &command.raw_arg)
                .flag("success", success),
        );
        if success {
            conn.send(Reply::LoggedIn { user: &name, anonymous }).await?;
            state.user = Some(if anonymous { "ftp".to_owned() } else { name });
            return Ok(Flow::Continue);
        }
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        conn.send(Reply::LoginIncorrect).await?;
        state.failures += 1;
        Ok(if state.failures >= MAX_LOGIN_FAILURES { Flow::Close } else { Flow::Continue })
    }

    fn change_directory<'a>(&self, state: &mut State, arg: &'a str) -> Reply<'a> {
        let path = files::resolve(&state.cwd, arg);
        match state.tree.get(&path) {
            Some(entry) if entry.is_dir() && entry.readable() => {
                state.cwd = path;
                Reply::DirectoryChanged
            }
            Some(entry) if entry.is_dir() => Reply::DirectoryDenied { arg },
            _ => Reply::NoSuchDirectory { arg },
        }
    }

    async fn passive(
        &self,
        conn: &mut Control,
        state: &mut State,
        session: &Session,
        extended: bool,
    ) -> io::Result<()> {
        // Drop the previous listener first: one passive port per session at a time.
        state.data = DataChannel::None;
        let local = session.local.ip().to_canonical();
        let ipv4 = match local {
            IpAddr::V4(v4) => Some(v4.octets()),
            IpAddr::V6(_) => None,
        };
        let reply = match (DataChannel::passive(local).await, ipv4) {
            (Ok((channel, port)), _) if extended => {
                state.data = channel;
                Reply::ExtendedPassive { port }
            }
            (Ok((channel, port)), Some(ip)) => {
                state.data = channel;
                Reply::Passive { ip, port }
            }
            _ => Reply::PassiveUnavailable,
        };
        conn.send(reply).await
    }

    /// `MLST`: the facts of one path, on the control connection.
    async fn mlst(&self, conn: &mut Control, state: &State, arg: &str) -> io::Result<()> {
        let path = files::resolve(&state.cwd, arg);
        let shown = if arg.is_empty() { state.cwd.as_str() } else { arg };
        let facts = state.tree.get(&path).map(|entry| state.tree.facts(self.server, entry, &path));
        conn.send(match &facts {
            Some(facts) => Reply::Mlst { path: shown, facts },
            None => Reply::ListMissing { arg: shown },
        })
        .await
    }

    /// Opens the prepared data connection, answering 425 when there is none.
    async fn open_data(
        &self,
        conn: &mut Control,
        state: &mut State,
        session: &Session,
    ) -> io::Result<Option<tokio::net::TcpStream>> {
        match state.data.open(session.peer.ip()).await {
            Ok(stream) => Ok(Some(stream)),
            Err(OpenError::NotPrepared) => conn.send(Reply::NoDataConnection).await.map(|()| None),
            Err(OpenError::Failed) => conn.send(Reply::DataConnectionFailed).await.map(|()| None),
        }
    }

    /// `LIST`, `NLST` and `MLSD`: options (`-la`) are ignored, the rest is the path.
    async fn list(
        &self,
        conn: &mut Control,
        state: &mut State,
        session: &Session,
        command: &Command,
    ) -> io::Result<()> {
        let arg = list_path(&command.arg);
        let listing = self.listing(state, &command.verb, arg);
        let failure = match &listing {
            Ok(_) => None,
            Err(failure) => Some(failure.reply(arg)),
        };
        // ProFTPD refuses before opening the data connection; vsftpd opens it, sends
        // nothing and says so in its final reply.
        if let (Some(reply), Server::Proftpd) = (failure, self.server) {
            return conn.send(reply).await;
        }
        let Some(stream) = self.open_data(conn, state, session).await? else { return Ok(()) };
        let start = if command.verb == "MLSD" { Reply::MlsdStart } else { Reply::ListStart };
        conn.send(start).await?;
        let text = listing.unwrap_or_default();
        let sent = data::send(stream, text.as_bytes()).await;
        conn.send(match failure {
            Some(reply) => reply,
            None if sent => Reply::ListDone,
            None => Reply::DataConnectionFailed,
        })
        .await
    }

    fn listing(&self, state: &State, verb: &str, arg: &str) -> Result<String, ListFailure> {
        let path = files::resolve(&state.cwd, arg);
        let entry = state.tree.get(&path).ok_or(ListFailure::Missing)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let entries: Vec<&files::Entry> = if entry.is_dir() {
            if !entry.readable() {
                return Err(ListFailure::Unreadable);
            }
            state.tree.children(&path).collect()
        } else {
            vec![entry]
        };
        let prefix = if entry.is_dir() && !arg.is_empty() {
            format!("{}/", arg.trim_end_matches('/'))
        } else {
            String::new()
        };
        Ok(entries
            .into_iter()
            .map(|e| match verb {
                "NLST" if entry.is_dir() => format!("{prefix}{}\r\n", e.name()),
                "NLST" => format!("{arg}\r\n"),
                "MLSD" => format!("{}\r\n", state.tree.facts(self.server, e, e.name())),
                _ => state.tree.list_line(self.server, e, now),
            })
            .collect())
    }

    async fn retrieve(
        &self,
        conn: &mut Control,
        state: &mut State,
        session: &Session,
        arg: &str,
    ) -> io::Result<()> {
        let path = files::resolve(&state.cwd, arg);
        let text = match state.tree.get(&path) {
            Some(entry) if entry.readable() => match entry.body {
                Body::Text(text) => Some(text),
                Body::Directory | Body::Private(_) => None,
            },
            _ => None,
        };
        let offset = std::mem::take(&mut state.restart);
        let Some(text) = text else {
            session.record("download", Fields::new().text("path", path).flag("served", false));
            return conn.send(Reply::CannotOpen { arg }).await;
        };
        let Some(stream) = self.open_data(conn, state, session).await? else { return Ok(()) };
        let body = text.as_bytes().get(offset as usize..).unwrap_or_default();
        let name = path.rsplit('/').next().unwrap_or_default();
        conn.send(Reply::RetrieveStart { name, size: text.len() as u64, transfer_type: state.transfer_type })
            .await?;
        let sent = data::send(stream, body).await;
        session.record(
            "download",
            Fields::new().text("path", path.as_str()).flag("served", sent).num("size", body.len() as u64),
        );
        conn.send(if sent { Reply::TransferComplete } else { Reply::DataConnectionFailed }).await
    }

    async fn store(
        &self,
        conn: &mut Control,
        state: &mut State,
        session: &Session,
        arg: &str,
    ) -> io::Result<()> {
        let path = files::resolve(&state.cwd, arg);
        let directory = state.tree.get(files::parent(&path));
        if arg.is_empty() || path == "/" || !directory.is_some_and(|d| d.is_dir() && d.readable()) {
            return conn.send(Reply::CannotCreate { arg }).await;
        }
        let Some(stream) = self.open_data(conn, state, session).await? else { return Ok(()) };
        let name = path.rsplit('/').next().unwrap_or_default();
        conn.send(Reply::StoreStart { name, transfer_type: state.transfer_type }).await?;
        let upload = data::receive(stream, data::MAX_UPLOAD).await;
        session.record(
            "upload",
            Fields::new()
                .text("path", path.as_str())
                .num("size", upload.size)
                .flag("complete", upload.complete)
                .bytes("head", &upload.head),
        );
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        state.tree.add_upload(&path, upload.size, now);
        conn.send(if upload.complete { Reply::TransferComplete } else { Reply::StoreTooLarge { arg } }).await
    }
}

/// Commands the servers know (for ProFTPD's pre-login answer to unknown ones); `AUTH` is not
/// one of them: without TLS, ProFTPD does not know it.
const KNOWN_VERBS: &[&str] = &[
    "ABOR", "ACCT", "ALLO", "APPE", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT", "HELP", "LIST", "MDTM",
    "MFMT", "MKD", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PORT", "PWD", "QUIT",
    "REIN", "REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR", "STOU", "STRU",
    "SYST", "TYPE", "USER", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD",
];

/// Why a listing is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListFailure {
    Missing,
    Unreadable,
}

impl ListFailure {
    fn reply(self, arg: &str) -> Reply<'_> {
        match self {
            ListFailure::Missing => Reply::ListMissing { arg },
            ListFailure::Unreadable => Reply::ListUnreadable { arg },
        }
    }
}

/// The path of a `LIST` argument: leading `-la`-style options are skipped.
fn list_path(arg: &str) -> &str {
    let mut rest = arg.trim_start();
    while rest.starts_with('-') {
        rest = rest.split_once(' ').map_or("", |(_, after)| after.trim_start());
    }
    rest
}

/// `YYYYMMDDhhmmss`, as `MFMT` takes it.
fn is_timestamp(text: &str) -> bool {
    text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit())
}

/// `PORT h1,h2,h3,h4,p1,p2`.
fn parse_port(arg: &str) -> Option<SocketAddr> {
    let numbers: Vec<u8> = arg.split(',').map(|n| n.trim().parse().ok()).collect::<Option<_>>()?;
    let [a, b, c, d, p1, p2] = numbers[..] else { return None };
    let ip = Ipv4Addr::new(a, b, c, d);
    Some(SocketAddr::from((ip, u16::from_be_bytes([p1, p2]))))
}

/// `EPRT |1|132.235.1.2|6275|` (any delimiter, address family 1 or 2).
fn parse_eprt(arg: &str) -> Option<SocketAddr> {
    let delimiter = arg.chars().next()?;
    let fields: Vec<&str> = arg.split(delimiter).collect();
    let [_, "1" | "2", ip, port, _] = fields[..] else { return None };
    Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?))
}

/// Client text as it may appear in a reply: lossy UTF-8, control characters replaced, so no
/// reply can be split or forged by what the client sent.
fn display(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// One command line: the verb in upper case, and its argument (exact bytes, and as text).
#[derive(Debug)]
struct Command {
    verb: String,
    raw_arg: Vec<u8>,
    arg: String,
}

impl Command {
    fn parse(line: &[u8]) -> Command {
        let (verb, raw_arg) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (line, &[][..]),
        };
        Command { verb: display(verb).to_ascii_uppercase(), raw_arg: raw_arg.to_vec(), arg: display(raw_arg) }
    }
}

/// Whether the session goes on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// One session's state.
struct State {
    /// Who is logged in (`ftp` for anonymous logins).
    user: Option<String>,
    /// The user named by `USER`, waiting for `PASS`.
    pending_user: Option<Vec<u8>>,
    failures: u32,
    cwd: String,
    transfer_type: TransferType,
    restart: u64,
    data: DataChannel,
    /// The decky's tree plus this session's uploads.
    tree: Tree,
}

impl State {
    fn new(tree: Tree) -> State {
        State {
            user: None,
            pending_user: None,
            failures: 0,
            cwd: "/".to_owned(),
            transfer_type: TransferType::Ascii,
            restart: 0,
            data: DataChannel::None,
            tree,
        }
    }

    /// Active mode chosen: the next transfer will fail, as no connection is ever made out.
    fn set_active(&mut self, reply: Reply<'static>) -> Reply<'static> {
        self.data = DataChannel::Active;
        reply
    }

    fn set_type(&mut self, transfer_type: TransferType) -> Reply<'static> {
        self.transfer_type = transfer_type;
        Reply::Type(transfer_type)
    }
}

/// The control connection: commands in, replies out.
struct Control {
    io: BufReader<Stream>,
    server: Server,
}

impl Control {
    async fn send(&mut self, reply: Reply<'_>) -> io::Result<()> {
        let mut text = self.server.reply(reply);
        text.push_str("\r\n");
        let stream = self.io.get_mut();
        stream.write_all(text.as_bytes()).await?;
        stream.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_into_verb_and_argument() {
        let c = Command::parse(b"retr pub/README.txt");
        assert_eq!((c.verb.as_str(), c.arg.as_str()), ("RETR", "pub/README.txt"));
        let c = Command::parse(b"PASS \xffsecret\r");
        assert_eq!(c.raw_arg, b"\xffsecret\r");
        assert_eq!(c.arg, "\u{fffd}secret?");
        let c = Command::parse(b"NOOP");
        assert_eq!((c.verb.as_str(), c.arg.as_str()), ("NOOP", ""));
    }

    #[test]
    fn list_arguments_skip_options() {
        assert_eq!(list_path("-la"), "");
        assert_eq!(list_path("-l -a /pub"), "/pub");
        assert_eq!(list_path("pub"), "pub");
    }

    #[test]
    fn active_mode_addresses_parse() {
        assert_eq!(parse_port("10,0,0,9,156,65"), Some("10.0.0.9:40001".parse().unwrap()));
        assert_eq!(parse_port("10,0,0,9,156"), None);
        assert_eq!(parse_port("10,0,0,999,1,1"), None);
        assert_eq!(parse_eprt("|1|10.0.0.9|40001|"), Some("10.0.0.9:40001".parse().unwrap()));
        assert_eq!(parse_eprt("|2|::1|21|"), Some("[::1]:21".parse().unwrap()));
        assert_eq!(parse_eprt("|3|x|1|"), None);
    }

    #[test]
    fn the_login_rule_is_stable_and_refuses_root_and_empty_passwords() {
        assert!(!login_accepted("decky-01", b"root", b"anything"));
        assert!(!login_accepted("decky-01", b"admin", b""));
        let accepted =
            (0..1000).filter(|i| login_accepted("decky-01", b"admin", format!("pw{i}").as_bytes())).count();
        assert!((150..350).contains(&accepted), "{accepted} of 1000");
        for i in 0..50 {
            let pw = format!("pw{i}");
            assert_eq!(login_accepted("d", b"u", pw.as_bytes()), login_accepted("d", b"u", pw.as_bytes()));
        }
        let differ = (0..200)
            .filter(|i| {
                let pw = format!("pw{i}");
                login_accepted("decky-01", b"u", pw.as_bytes())
                    != login_accepted("decky-02", b"u", pw.as_bytes())
            })
            .count();
        assert!(differ > 0);
    }

    #[test]
    fn client_text_cannot_break_a_reply() {
        assert_eq!(display(b"a\rb\nc\x00"), "a?b?c?");
    }

    #[test]
    fn unknown_distros_are_refused_by_name() {
        let env = Env::from_pairs([("FTP_DISTRO", "gentoo")]);
        let error = Ftp::from_env(&env).unwrap_err();
        assert_eq!(error.var, "FTP_DISTRO");
        assert!(error.message.contains("debian"), "{error}");
    }
}
