//! POP3 (RFC 1939, CAPA RFC 2449, AUTH RFC 5034) as Dovecot's pop3-login and pop3 answer
//! it: USER/PASS and AUTH PLAIN/LOGIN, then the bait mailbox (STAT, LIST, UIDL, RETR, TOP,
//! DELE, RSET). Deletions last until the connection ends; nothing is ever removed.

use std::io;

use super::sasl::{Credentials, Mechanism, Refusal};
use super::{Conn, Exchange, MailServer, Transport, display};
use crate::emulators::text_lines::LineRead;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream};

/// Longest command line read whole (RFC 2449 allows 255 octets; SASL responses are longer).
const MAX_LINE: usize = 4096;
/// Invalid commands after which Dovecot hangs up.
const MAX_BAD_COMMANDS: u32 = 10;

const CAPABILITIES: &str =
    "CAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN LOGIN\r\n";

/// The POP3 server of one port.
pub struct Pop3 {
    server: MailServer,
}

impl Pop3 {
    pub fn from_env(env: &Env, transport: Transport) -> Result<Pop3, ConfigError> {
        Ok(Pop3 { server: MailServer::from_env(env, "POP3", transport)? })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let connection = self.server.accept(stream).await?;
        let mut conn = Conn::new(connection, MAX_LINE);
        conn.send_line(&format!("+OK {}", self.server.ready)).await?;
        let mut state = State::LoggedOut { user: None };
        let mut line = Vec::with_capacity(256);
        loop {
            if conn.read_line(&mut line).await? == LineRead::Eof {
                return Ok(EndReason::Eof);
            }
            session.record("command", Fields::new().bytes("command", &line));
            let flow = match &mut state {
                State::LoggedOut { user } => {
                    let (flow, logged_in) = self.logged_out(&mut conn, session, user, &line).await?;
                    if logged_in {
                        state = State::LoggedIn { deleted: vec![false; self.server.messages.len()] };
                    }
                    flow
                }
                State::LoggedIn { deleted } => self.transaction(&mut conn, deleted, &line).await?,
            };
            match flow {
                Flow::Continue if conn.bad_commands >= MAX_BAD_COMMANDS => {
                    conn.send_line("-ERR Too many bad commands.").await?;
                    return Ok(EndReason::Closed);
                }
                Flow::Continue => {}
                Flow::Close => return Ok(EndReason::Closed),
                Flow::Gone => return Ok(EndReason::Eof),
            }
        }
    }

    /// The AUTHORIZATION state; also says whether the client logged in.
    async fn logged_out(
        &self,
        conn: &mut Conn,
        session: &Session,
        user: &mut Option<Vec<u8>>,
        line: &[u8],
    ) -> io::Result<(Flow, bool)> {
        let (verb, arg) = split_command(line);
        match verb.as_str() {
            "CAPA" => conn.send_line(&format!("+OK\r\n{CAPABILITIES}.")).await?,
            "USER" => {
                *user = Some(arg.to_vec());
                conn.send_line("+OK").await?;
            }
            "PASS" => {
                let Some(username) = user.take() else {
                    conn.bad("-ERR No username given.").await?;
                    return Ok((Flow::Continue, false));
                };
                let credentials = Credentials { authzid: Vec::new(), username, password: arg.to_vec() };
                return self.finish_login(conn, session, "USER", &credentials).await;
            }
            "AUTH" if arg.is_empty() => conn.send_line("+OK\r\nPLAIN\r\nLOGIN\r\n.").await?,
            "AUTH" => return self.auth(conn, session, arg).await,
            "APOP" => conn.bad("-ERR [AUTH] APOP not enabled.").await?,
            "STLS" => conn.bad("-ERR Unknown command.").await?,
            "NOOP" => conn.send_line("+OK").await?,
            "QUIT" => {
                conn.send_line("+OK Logging out").await?;
                return Ok((Flow::Close, false));
            }
            _ => conn.bad("-ERR Unknown command.").await?,
        }
        Ok((Flow::Continue, false))
    }

    async fn auth(&self, conn: &mut Conn, session: &Session, arg: &[u8]) -> io::Result<(Flow, bool)> {
        let (name, initial) = match arg.iter().position(|&b| b == b' ') {
            Some(space) => (&arg[..space], Some(arg[space + 1..].trim_ascii())),
            None => (arg, None),
        };
        let Some(mechanism) = Mechanism::parse(name) else {
            conn.bad("-ERR [AUTH] Unsupported authentication mechanism.").await?;
            return Ok((Flow::Continue, false));
        };
        let exchange = conn.sasl(mechanism, initial).await?;
        match exchange {
            Exchange::Credentials(credentials) => {
                self.finish_login(conn, session, mechanism.name(), &credentials).await
            }
            Exchange::Refused(Refusal::Cancelled) => {
                conn.bad("-ERR Authentication aborted by client.").await?;
                Ok((Flow::Continue, false))
            }
            Exchange::Refused(Refusal::Malformed) => {
                conn.bad("-ERR Invalid base64 data in continued response").await?;
                Ok((Flow::Continue, false))
            }
            Exchange::Gone => Ok((Flow::Gone, false)),
        }
    }

    async fn finish_login(
        &self,
        conn: &mut Conn,
        session: &Session,
        mechanism: &str,
        credentials: &Credentials,
    ) -> io::Result<(Flow, bool)> {
        let success = self.server.login(session, mechanism, credentials).await;
        if success {
            conn.send_line("+OK Logged in.").await?;
        } else {
            conn.bad("-ERR [AUTH] Authentication failed.").await?;
        }
        Ok((Flow::Continue, success))
    }

    /// The TRANSACTION state, over the bait messages; `deleted` marks DELE'd ones.
    async fn transaction(&self, conn: &mut Conn, deleted: &mut [bool], line: &[u8]) -> io::Result<Flow> {
        let (verb, arg) = split_command(line);
        let messages = &self.server.messages;
        let live = || messages.iter().zip(deleted.iter()).enumerate().filter(|(_, (_, gone))| !**gone);
        let args: Vec<&[u8]> = arg.split(|&b| b == b' ').filter(|a| !a.is_empty()).take(3).collect();
        let pick = |arg: Option<&&[u8]>| -> Result<usize, &'static str> {
            let number = arg.ok_or("-ERR Invalid number")?;
            let index = std::str::from_utf8(number)
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| n.checked_sub(1))
                .ok_or("-ERR Invalid number")?;
            match deleted.get(index) {
                None => Err("-ERR There's no message"),
                Some(true) => Err("-ERR Message is deleted."),
                Some(false) => Ok(index),
            }
        };
        let reply = match verb.as_str() {
            "STAT" => {
                let (count, size) = live().fold((0, 0), |(n, s), (_, (m, _))| (n + 1, s + m.size()));
                format!("+OK {count} {size}")
            }
            "LIST" | "UIDL" if args.is_empty() => {
                let mut reply = if verb == "LIST" {
                    format!("+OK {} messages:\r\n", live().count())
                } else {
                    "+OK\r\n".to_owned()
                };
                for (index, (message, _)) in live() {
                    reply.push_str(&listing(
                        &verb,
                        index,
                        message.size(),
                        message.uid,
                        self.server.uid_validity,
                    ));
                    reply.push_str("\r\n");
                }
                reply.push('.');
                reply
            }
            "LIST" | "UIDL" => match pick(args.first()) {
                Ok(index) => {
                    let message = &messages[index];
                    format!(
                        "+OK {}",
                        listing(&verb, index, message.size(), message.uid, self.server.uid_validity)
                    )
                }
                Err(error) => error.to_owned(),
            },
            "RETR" => match pick(args.first()) {
                Ok(index) => {
                    let message = &messages[index];
                    format!("+OK {} octets\r\n{}.", message.size(), dot_stuff(&message.raw))
                }
                Err(error) => error.to_owned(),
            },
            "TOP" => match (
                pick(args.first()),
                args.get(1).and_then(|n| std::str::from_utf8(n).ok()?.parse().ok()),
            ) {
                (Ok(index), Some(lines)) => {
                    let message = &messages[index];
                    let body: String =
                        message.body().split_inclusive("\r\n").take(lines).collect::<Vec<_>>().concat();
                    format!("+OK\r\n{}{}.", dot_stuff(message.header()), dot_stuff(&body))
                }
                (Err(error), _) => error.to_owned(),
                (Ok(_), None) => "-ERR Invalid number of lines".to_owned(),
            },
            "DELE" => match pick(args.first()) {
                Ok(index) => {
                    deleted[index] = true;
                    "+OK Marked to be deleted.".to_owned()
                }
                Err(error) => error.to_owned(),
            },
            "RSET" => {
                deleted.fill(false);
                "+OK".to_owned()
            }
            "NOOP" => "+OK".to_owned(),
            "CAPA" => format!("+OK\r\n{CAPABILITIES}."),
            "QUIT" => {
                let removed = deleted.iter().any(|&d| d);
                conn.send_line(if removed {
                    "+OK Logging out, messages deleted."
                } else {
                    "+OK Logging out."
                })
                .await?;
                return Ok(Flow::Close);
            }
            _ => {
                conn.bad("-ERR Unknown command.").await?;
                return Ok(Flow::Continue);
            }
        };
        if reply.starts_with('-') {
            conn.bad(&reply).await?;
        } else {
            conn.send_line(&reply).await?;
        }
        Ok(Flow::Continue)
    }
}

/// One LIST or UIDL line: `<n> <size>` or `<n> <uid-string>` (Dovecot's default
/// `%08Xu%08Xv`).
fn listing(verb: &str, index: usize, size: usize, uid: u32, uid_validity: u32) -> String {
    if verb == "LIST" {
        format!("{} {size}", index + 1)
    } else {
        format!("{} {uid:08X}{uid_validity:08X}", index + 1)
    }
}

/// Multi-line content with lines starting with `.` doubled (RFC 1939 byte-stuffing).
fn dot_stuff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    if !out.is_empty() && !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out
}

/// The verb (upper case) and the argument of a command line.
fn split_command(line: &[u8]) -> (String, &[u8]) {
    let (verb, arg) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &[][..]),
    };
    (display(verb).to_ascii_uppercase(), arg)
}

enum State {
    /// AUTHORIZATION: the name given by USER, waiting for PASS.
    LoggedOut { user: Option<Vec<u8>> },
    /// TRANSACTION: which messages the client marked deleted.
    LoggedIn { deleted: Vec<bool> },
}

/// Whether the session goes on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    Gone,
}

impl Conn {
    /// Sends an error reply, counting it towards the hang-up.
    async fn bad(&mut self, reply: &str) -> io::Result<()> {
        self.bad_commands += 1;
        self.send_line(reply).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_content_is_dot_stuffed_and_terminated() {
        assert_eq!(dot_stuff("a\r\n.b\r\nc"), "a\r\n..b\r\nc\r\n");
        assert_eq!(dot_stuff(""), "");
    }

    #[test]
    fn listings_number_from_one() {
        assert_eq!(listing("LIST", 0, 512, 1, 7), "1 512");
        assert_eq!(listing("UIDL", 2, 512, 3, 0x6543_21ab), "3 00000003654321AB");
    }

    #[test]
    fn commands_split_into_verb_and_argument() {
        assert_eq!(split_command(b"user bob smith"), ("USER".to_owned(), &b"bob smith"[..]));
        assert_eq!(split_command(b"STAT"), ("STAT".to_owned(), &b""[..]));
    }
}
