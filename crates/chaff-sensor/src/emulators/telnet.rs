//! Telnet (port 23) as busybox `telnetd -l /bin/login` answers: the same option
//! negotiation (DO ECHO, DO NAWS, WILL ECHO, WILL SGA), `<host> login:` and `Password:`,
//! three seconds and `Login incorrect` after a failure, the connection closed after the
//! third, and a 60-second limit to log in. The client's options are parsed and ignored.
//! Every attempt is recorded as `auth`; the configured credentials open the fake shell
//! (see [`shell`](super::shell)).

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::shell::{Account, Console, Event, Host, LineEditor, Settings, Start, Terminal};
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream};

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const EL: u8 = 248;
const EC: u8 = 247;
const IP: u8 = 244;
const SE: u8 = 240;
const OPTION_ECHO: u8 = 1;
const OPTION_SGA: u8 = 3;
const OPTION_NAWS: u8 = 31;

/// What busybox telnetd sends first.
const NEGOTIATION: [u8; 12] =
    [IAC, DO, OPTION_ECHO, IAC, DO, OPTION_NAWS, IAC, WILL, OPTION_ECHO, IAC, WILL, OPTION_SGA];
/// busybox login: failures before it exits, its pause after each, its time limit, and
/// how many empty user names it takes.
const MAX_LOGIN_FAILURES: u32 = 3;
const LOGIN_FAILURE_DELAY: Duration = Duration::from_secs(3);
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_EMPTY_USERNAMES: u32 = 10;

/// The telnet emulator of one decky.
pub struct Telnet {
    host: Arc<Host>,
}

impl Telnet {
    /// Reads the `TELNET_*` variables.
    pub fn from_env(env: &Env) -> Result<Telnet, ConfigError> {
        let settings = Settings::from_env(env, "TELNET")?;
        Ok(Telnet { host: Arc::new(Host::new(settings, SystemTime::now())) })
    }

    /// Serves one connection: login, then the shell.
    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut wire = Wire::new(stream);
        let mut opening = NEGOTIATION.to_vec();
        opening.extend_from_slice(format!("\r\r\n{} login: ", self.host.hostname).as_bytes());
        wire.stream.write_all(&opening).await?;

        let account = match tokio::time::timeout(LOGIN_TIMEOUT, self.login(&mut wire, session)).await {
            Err(_elapsed) => {
                wire.write(b"\r\nLogin timed out after 60 seconds\r\n").await?;
                return Ok(EndReason::Timeout);
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Login::Granted(account))) => account,
            Ok(Ok(Login::Refused)) => return Ok(EndReason::Closed),
            Ok(Ok(Login::Gone)) => return Ok(EndReason::Eof),
        };

        let console =
            Console::open(&self.host, &account, session, "telnet", Start::Shell { term: Some("linux") }, 1);
        let mut terminal = Terminal::continuing(console, std::mem::take(&mut wire.editor));
        wire.write(&terminal.greeting()).await?;
        while let Some(input) = wire.read_data().await? {
            for reply in terminal.feed(&input) {
                if !reply.delay.is_zero() {
                    tokio::time::sleep(reply.delay).await;
                }
                wire.write(&reply.bytes).await?;
            }
            if terminal.ended() {
                return Ok(EndReason::Closed);
            }
        }
        Ok(EndReason::Eof)
    }

    /// The login dialogue, up to a granted account or the third failure. The
    /// `<host> login: ` prompt has been sent.
    async fn login(&self, wire: &mut Wire, session: &Session) -> io::Result<Login> {
        let mut failures = 0;
        let mut empty = 0;
        loop {
            let Some(username) = wire.read_line(true).await? else { return Ok(Login::Gone) };
            let username = username.trim_ascii();
            if username.is_empty() {
                empty += 1;
                if empty >= MAX_EMPTY_USERNAMES {
                    return Ok(Login::Refused);
                }
                wire.write(format!("{} login: ", self.host.hostname).as_bytes()).await?;
                continue;
            }
            wire.write(b"Password: ").await?;
            let Some(password) = wire.read_line(false).await? else { return Ok(Login::Gone) };
            wire.write(b"\r\n").await?;

            let name = String::from_utf8_lossy(username);
            let account = self.host.authenticate(&name, &password).cloned();
            session.record(
                "auth",
                Fields::new()
                    .bytes("username", username)
                    .bytes("password", &password)
                    .flag("success", account.is_some()),
            );
            if let Some(account) = account {
                return Ok(Login::Granted(account));
            }
            failures += 1;
            tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
            wire.write(b"\r\nLogin incorrect\r\n").await?;
            if failures >= MAX_LOGIN_FAILURES {
                return Ok(Login::Refused);
            }
            wire.write(format!("{} login: ", self.host.hostname).as_bytes()).await?;
        }
    }
}

enum Login {
    Granted(Account),
    /// Too many failures or empty names: login exits.
    Refused,
    /// The client closed, or ended its input (`^D`).
    Gone,
}

/// The connection with telnet framing removed from input and added to output.
struct Wire {
    stream: Stream,
    decoder: Decoder,
    /// Decoded input not consumed yet (at most one read's worth).
    input: VecDeque<u8>,
    editor: LineEditor,
}

impl Wire {
    fn new(stream: Stream) -> Wire {
        Wire { stream, decoder: Decoder::default(), input: VecDeque::new(), editor: LineEditor::default() }
    }

    /// Reads and decodes more input; false at the end of the stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 1024];
        loop {
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(false);
            }
            self.input.extend(buf[..n].iter().filter_map(|&b| self.decoder.push(b)));
            if !self.input.is_empty() {
                return Ok(true);
            }
        }
    }

    /// The next decoded bytes, or `None` at the end of the stream.
    async fn read_data(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.input.is_empty() && !self.fill().await? {
            return Ok(None);
        }
        Ok(Some(self.input.drain(..).collect()))
    }

    /// One line typed at the login prompt, echoed or not; `None` when the client leaves or
    /// ends its input. `^C` gives an empty line.
    async fn read_line(&mut self, echo: bool) -> io::Result<Option<Vec<u8>>> {
        self.editor.echo = echo;
        let mut shown = Vec::new();
        loop {
            while let Some(byte) = self.input.pop_front() {
                let event = match self.editor.push(byte, &mut shown) {
                    None => continue,
                    Some(Event::Line(line)) => Some(line),
                    Some(Event::Interrupt) => Some(Vec::new()),
                    Some(Event::EndOfInput) => None,
                };
                self.write(&shown).await?;
                return Ok(event);
            }
            self.write(&std::mem::take(&mut shown)).await?;
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Writes `bytes` as telnet data (IAC doubled).
    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.stream.write_all(&escape(bytes)).await
    }
}

/// `bytes` with every IAC doubled, as telnet data must be.
fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if b == IAC {
            out.push(IAC);
        }
        out.push(b);
    }
    out
}

/// Strips telnet commands from the client's bytes. Option negotiation and
/// subnegotiation are consumed (busybox answers none); IP, EC and EL become the `^C`,
/// erase and kill characters. Holds no buffer: a subnegotiation of any length costs
/// nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Decoder {
    #[default]
    Data,
    Command,
    /// After WILL, WONT, DO or DONT: the option byte follows.
    Option,
    Subnegotiation,
    SubnegotiationCommand,
}

impl Decoder {
    /// The data byte `byte` stands for, if any.
    fn push(&mut self, byte: u8) -> Option<u8> {
        let (next, data) = match (*self, byte) {
            (Decoder::Data, IAC) => (Decoder::Command, None),
            (Decoder::Data, b) => (Decoder::Data, Some(b)),
            (Decoder::Command, IAC) => (Decoder::Data, Some(IAC)),
            (Decoder::Command, WILL | WONT | DO | DONT) => (Decoder::Option, None),
            (Decoder::Command, SB) => (Decoder::Subnegotiation, None),
            (Decoder::Command, IP) => (Decoder::Data, Some(0x03)),
            (Decoder::Command, EC) => (Decoder::Data, Some(0x7f)),
            (Decoder::Command, EL) => (Decoder::Data, Some(0x15)),
            (Decoder::Command, _) => (Decoder::Data, None),
            (Decoder::Option, _) => (Decoder::Data, None),
            (Decoder::Subnegotiation, IAC) => (Decoder::SubnegotiationCommand, None),
            (Decoder::Subnegotiation, _) => (Decoder::Subnegotiation, None),
            (Decoder::SubnegotiationCommand, SE) => (Decoder::Data, None),
            (Decoder::SubnegotiationCommand, _) => (Decoder::Subnegotiation, None),
        };
        *self = next;
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<u8> {
        let mut decoder = Decoder::default();
        bytes.iter().filter_map(|&b| decoder.push(b)).collect()
    }

    #[test]
    fn negotiation_is_stripped() {
        // A Linux telnet client's replies, then a NAWS subnegotiation, then data.
        let input = [
            IAC,
            WONT,
            OPTION_ECHO,
            IAC,
            WILL,
            OPTION_NAWS,
            IAC,
            DO,
            OPTION_ECHO,
            IAC,
            DO,
            OPTION_SGA,
            IAC,
            SB,
            OPTION_NAWS,
            0,
            80,
            0,
            24,
            IAC,
            SE,
            b'r',
            b'o',
            b'o',
            b't',
            b'\r',
            0,
        ];
        assert_eq!(decode(&input), b"root\r\0");
    }

    #[test]
    fn escaped_iac_and_commands() {
        assert_eq!(decode(&[b'a', IAC, IAC, b'b']), [b'a', IAC, b'b']);
        assert_eq!(decode(&[IAC, IP, IAC, EC, IAC, EL, IAC, 241, b'x']), [0x03, 0x7f, 0x15, b'x']);
        // IAC inside a subnegotiation is data of the subnegotiation, not its end.
        assert_eq!(decode(&[IAC, SB, 24, IAC, IAC, 1, IAC, SE, b'y']), b"y");
        // An unterminated subnegotiation swallows everything, holding nothing.
        assert_eq!(decode(&[[IAC, SB].as_slice(), &[b'z'; 10_000]].concat()), b"");
    }

    #[test]
    fn output_doubles_iac() {
        assert_eq!(escape(&[1, IAC, 2]), [1, IAC, IAC, 2]);
        assert_eq!(escape(b"login: "), b"login: ");
    }

    #[test]
    fn the_opening_is_busybox_telnetd() {
        assert_eq!(NEGOTIATION, [0xff, 0xfd, 0x01, 0xff, 0xfd, 0x1f, 0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03]);
    }
}
