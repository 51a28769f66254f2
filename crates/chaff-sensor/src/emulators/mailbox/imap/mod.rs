//! IMAP4rev1 (RFC 3501) as Dovecot's imap-login and imap answer it: LOGIN and AUTHENTICATE
//! PLAIN/LOGIN (with SASL-IR), then the bait mailbox: LIST/LSUB, SELECT/EXAMINE, STATUS,
//! FETCH, SEARCH, STORE, EXPUNGE, UID variants, IDLE. Flag changes and expunges last until
//! the connection ends; the next connection finds the mailbox as it was.

mod fetch;
mod syntax;

use std::io;

use tokio::io::AsyncReadExt;

use self::fetch::{DELETED, Item, SEEN};
use self::syntax::{Token, list_matches, set_contains};
use super::sasl::{Credentials, Mechanism, Refusal};
use super::{Conn, Exchange, MailServer, Transport};
use crate::emulators::text_lines::LineRead;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream};

/// Longest line of a command read whole.
const MAX_LINE: usize = 8192;
/// Most bytes of one command, its lines and literals together.
const MAX_COMMAND: usize = 64 * 1024;
/// Invalid commands after which Dovecot hangs up.
const MAX_BAD_COMMANDS: u32 = 20;

const PRE_LOGIN_CAPABILITIES: &str =
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN";
const CAPABILITIES: &str =
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE SPECIAL-USE LITERAL+";
/// The folders every account has, with their LIST attributes; only INBOX holds mail.
const FOLDERS: [(&str, &str); 5] = [
    ("INBOX", "\\HasNoChildren"),
    ("Drafts", "\\HasNoChildren \\Drafts"),
    ("Sent", "\\HasNoChildren \\Sent"),
    ("Junk", "\\HasNoChildren \\Junk"),
    ("Trash", "\\HasNoChildren \\Trash"),
];
const STANDARD_FLAGS: &str = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";

/// The IMAP server of one port.
pub struct Imap {
    server: MailServer,
}

impl Imap {
    pub fn from_env(env: &Env, transport: Transport) -> Result<Imap, ConfigError> {
        Ok(Imap { server: MailServer::from_env(env, "IMAP", transport)? })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let tls = self.server.tls.is_some();
        let connection = self.server.accept(stream).await?;
        let mut conn = Conn::new(connection, MAX_LINE);
        conn.send(format!("* OK [CAPABILITY {PRE_LOGIN_CAPABILITIES}] {}\r\n", self.server.ready)).await?;
        let mut state = State::NotAuthenticated;
        let mut raw = Vec::with_capacity(256);
        loop {
            let tokens = match conn.read_command(&mut raw).await? {
                CommandRead::Eof => return Ok(EndReason::Eof),
                CommandRead::Command(tokens) => tokens,
                CommandRead::Overflow => {
                    session.record("command", Fields::new().bytes("command", &raw));
                    conn.send("* BYE Too long command line.\r\n".to_owned()).await?;
                    return Ok(EndReason::Closed);
                }
            };
            session.record("command", Fields::new().bytes("command", &raw));
            let flow = match tokens.as_deref() {
                Some([Token::Atom(tag), Token::Atom(name), args @ ..]) => {
                    let command =
                        Command { tag, name: String::from_utf8_lossy(name).to_ascii_uppercase(), args };
                    self.execute(&mut conn, &mut state, session, &command, tls).await?
                }
                Some([Token::Atom(tag), ..]) => {
                    let tag = String::from_utf8_lossy(tag).into_owned();
                    conn.tagged(&tag, "BAD Error in IMAP command received by server.").await?;
                    Flow::Continue
                }
                _ => {
                    conn.bad_commands += 1;
                    conn.send("* BAD Error in IMAP command received by server.\r\n".to_owned()).await?;
                    Flow::Continue
                }
            };
            match flow {
                Flow::Continue if conn.bad_commands >= MAX_BAD_COMMANDS => {
                    conn.send("* BYE Too many invalid IMAP commands.\r\n".to_owned()).await?;
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
        conn: &mut Conn,
        state: &mut State,
        session: &Session,
        command: &Command<'_>,
        tls: bool,
    ) -> io::Result<Flow> {
        let tag = &String::from_utf8_lossy(command.tag).into_owned();
        let authenticated = !matches!(state, State::NotAuthenticated);
        match command.name.as_str() {
            "CAPABILITY" => {
                let capabilities = if authenticated { CAPABILITIES } else { PRE_LOGIN_CAPABILITIES };
                conn.send(format!("* CAPABILITY {capabilities}\r\n")).await?;
                let done = if authenticated {
                    "OK Capability completed (0.001 + 0.000 secs)."
                } else {
                    "OK Pre-login capabilities listed, post-login capabilities have more."
                };
                conn.tagged(tag, done).await?;
            }
            "NOOP" | "CHECK" if authenticated || command.name == "NOOP" => {
                conn.tagged(tag, &format!("OK {} completed (0.001 + 0.000 secs).", title(&command.name)))
                    .await?
            }
            "ID" => {
                conn.send("* ID (\"name\" \"Dovecot\")\r\n".to_owned()).await?;
                conn.tagged(tag, "OK ID completed (0.001 + 0.000 secs).").await?;
            }
            "LOGOUT" => {
                conn.send("* BYE Logging out\r\n".to_owned()).await?;
                conn.tagged(tag, "OK Logout completed (0.001 + 0.000 secs).").await?;
                return Ok(Flow::Close);
            }
            "STARTTLS" if tls => conn.tagged(tag, "BAD TLS is already active.").await?,
            "STARTTLS" => conn.tagged(tag, "BAD TLS support isn't enabled.").await?,
            "LOGIN" | "AUTHENTICATE" if authenticated => conn.tagged(tag, "BAD Already logged in.").await?,
            "LOGIN" => {
                let credentials =
                    match command.args {
                        [user, password] => user.astring().zip(password.astring()).map(|(u, p)| {
                            Credentials { authzid: Vec::new(), username: u.to_vec(), password: p.to_vec() }
                        }),
                        _ => None,
                    };
                match credentials {
                    Some(credentials) => {
                        self.finish_login(conn, state, session, tag, "LOGIN", &credentials).await?
                    }
                    None => conn.tagged(tag, "BAD Error in IMAP command LOGIN: Invalid arguments.").await?,
                }
            }
            "AUTHENTICATE" => return self.authenticate(conn, state, session, tag, command.args).await,
            _ if !authenticated => {
                conn.tagged(tag, "BAD Error in IMAP command received by server.").await?;
            }
            _ => self.mail_command(conn, state, tag, command).await?,
        }
        Ok(Flow::Continue)
    }

    async fn authenticate(
        &self,
        conn: &mut Conn,
        state: &mut State,
        session: &Session,
        tag: &str,
        args: &[Token],
    ) -> io::Result<Flow> {
        let (mechanism, initial) = match args {
            [name] => (name.astring().and_then(Mechanism::parse), None),
            [name, initial] => (name.astring().and_then(Mechanism::parse), initial.astring()),
            _ => (None, None),
        };
        let Some(mechanism) = mechanism else {
            conn.tagged(tag, "NO Unsupported authentication mechanism.").await?;
            return Ok(Flow::Continue);
        };
        let exchange = conn.sasl(mechanism, initial).await?;
        match exchange {
            Exchange::Credentials(credentials) => {
                self.finish_login(conn, state, session, tag, mechanism.name(), &credentials).await?
            }
            Exchange::Refused(Refusal::Cancelled) => {
                conn.tagged(tag, "BAD Authentication aborted by client.").await?
            }
            Exchange::Refused(Refusal::Malformed) => {
                conn.tagged(tag, "BAD Invalid base64 data in continued response").await?
            }
            Exchange::Gone => return Ok(Flow::Gone),
        }
        Ok(Flow::Continue)
    }

    async fn finish_login(
        &self,
        conn: &mut Conn,
        state: &mut State,
        session: &Session,
        tag: &str,
        mechanism: &str,
        credentials: &Credentials,
    ) -> io::Result<()> {
        if self.server.login(session, mechanism, credentials).await {
            *state = State::Authenticated;
            conn.tagged(tag, &format!("OK [CAPABILITY {CAPABILITIES}] Logged in")).await
        } else {
            conn.tagged(tag, "NO [AUTHENTICATIONFAILED] Authentication failed.").await
        }
    }

    /// Commands of the authenticated and selected states.
    async fn mail_command(
        &self,
        conn: &mut Conn,
        state: &mut State,
        tag: &str,
        command: &Command<'_>,
    ) -> io::Result<()> {
        let args = command.args;
        match command.name.as_str() {
            "LIST" | "LSUB" => match args {
                [reference, pattern] => {
                    let reference = reference.astring().unwrap_or_default();
                    let pattern = [reference, pattern.astring().unwrap_or_default()].concat();
                    let name = &command.name;
                    if pattern.is_empty() {
                        conn.send(format!("* {name} (\\Noselect) \"/\" \"\"\r\n")).await?;
                    }
                    for (folder, attributes) in
                        FOLDERS.iter().filter(|(f, _)| list_matches(&pattern, f.as_bytes()))
                    {
                        conn.send(format!("* {name} ({attributes}) \"/\" {folder}\r\n")).await?;
                    }
                    conn.tagged(tag, &format!("OK {} completed (0.001 + 0.000 secs).", title(&command.name)))
                        .await
                }
                _ => conn.tagged(tag, "BAD Error in IMAP command: Invalid arguments.").await,
            },
            "NAMESPACE" => {
                conn.send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n".to_owned()).await?;
                conn.tagged(tag, "OK Namespace completed (0.001 + 0.000 secs).").await
            }
            "ENABLE" => {
                conn.send("* ENABLED\r\n".to_owned()).await?;
                conn.tagged(tag, "OK Enabled.").await
            }
            "SELECT" | "EXAMINE" => self.select(conn, state, tag, command).await,
            "STATUS" => self.status(conn, tag, args).await,
            "SUBSCRIBE" | "UNSUBSCRIBE" => {
                conn.tagged(tag, &format!("OK {} completed (0.001 + 0.000 secs).", title(&command.name)))
                    .await
            }
            "CREATE" | "DELETE" | "RENAME" | "APPEND" => {
                conn.tagged(tag, "NO [NOPERM] Permission denied").await
            }
            "IDLE" => {
                conn.send("+ idling\r\n".to_owned()).await?;
                let mut line = Vec::new();
                if conn.read_line(&mut line).await? == LineRead::Eof {
                    return Ok(());
                }
                if line.eq_ignore_ascii_case(b"DONE") {
                    conn.tagged(tag, "OK Idle completed (0.001 + 1.000 secs).").await
                } else {
                    conn.tagged(tag, "BAD Expected DONE.").await
                }
            }
            "UNSELECT" | "CLOSE" | "FETCH" | "STORE" | "SEARCH" | "EXPUNGE" | "COPY" | "UID" => {
                let State::Selected(selected) = state else {
                    return conn.tagged(tag, "BAD No mailbox selected.").await;
                };
                match command.name.as_str() {
                    "UNSELECT" | "CLOSE" => {
                        if command.name == "CLOSE" && !selected.read_only {
                            selected.view.retain(|entry| entry.flags & DELETED == 0);
                        }
                        *state = State::Authenticated;
                        conn.tagged(
                            tag,
                            &format!("OK {} completed (0.001 + 0.000 secs).", title(&command.name)),
                        )
                        .await
                    }
                    "EXPUNGE" => self.expunge(conn, selected, tag).await,
                    _ => self.selected_command(conn, selected, tag, &command.name, args, false).await,
                }
            }
            _ => {
                conn.bad_commands += 1;
                conn.tagged(tag, "BAD Error in IMAP command received by server.").await
            }
        }
    }

    async fn select(
        &self,
        conn: &mut Conn,
        state: &mut State,
        tag: &str,
        command: &Command<'_>,
    ) -> io::Result<()> {
        let Some(folder) = command.args.first().and_then(Token::astring).and_then(folder) else {
            *state = State::Authenticated;
            let name = command.args.first().and_then(Token::astring).unwrap_or_default();
            let name = super::display(name);
            return conn.tagged(tag, &format!("NO Mailbox doesn't exist: {name}")).await;
        };
        let read_only = command.name == "EXAMINE";
        let view: Vec<Entry> = if folder == "INBOX" {
            let messages = self.server.messages.iter().enumerate();
            messages.map(|(index, m)| Entry { index, flags: if m.seen { SEEN } else { 0 } }).collect()
        } else {
            Vec::new()
        };
        let permanent = if read_only { "()".to_owned() } else { STANDARD_FLAGS.replace(')', " \\*)") };
        let mut reply = format!(
            "* FLAGS {STANDARD_FLAGS}\r\n* OK [PERMANENTFLAGS {permanent}] Flags permitted.\r\n* {} EXISTS\r\n* 0 RECENT\r\n",
            view.len()
        );
        if let Some(unseen) = view.iter().position(|entry| entry.flags & SEEN == 0) {
            reply.push_str(&format!("* OK [UNSEEN {}] First unseen.\r\n", unseen + 1));
        }
        let next_uid = self.next_uid(folder);
        reply.push_str(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {next_uid}] Predicted next UID\r\n",
            self.server.uid_validity
        ));
        conn.send(reply).await?;
        *state = State::Selected(Selected { read_only, view });
        let (access, verb) = if read_only { ("READ-ONLY", "Examine") } else { ("READ-WRITE", "Select") };
        conn.tagged(tag, &format!("OK [{access}] {verb} completed (0.001 + 0.000 secs).")).await
    }

    fn next_uid(&self, folder: &str) -> u32 {
        if folder == "INBOX" { self.server.messages.len() as u32 + 1 } else { 1 }
    }

    async fn status(&self, conn: &mut Conn, tag: &str, args: &[Token]) -> io::Result<()> {
        let Some((name, items)) = args.split_first() else {
            return conn.tagged(tag, "BAD Error in IMAP command STATUS: Invalid arguments.").await;
        };
        let Some(folder) = name.astring().and_then(folder) else {
            let name = super::display(name.astring().unwrap_or_default());
            return conn.tagged(tag, &format!("NO Mailbox doesn't exist: {name}")).await;
        };
        let messages = if folder == "INBOX" { self.server.messages.as_slice() } else { &[] };
        let mut values = Vec::new();
        for item in items.iter().filter_map(Token::keyword) {
            let value = match item.as_str() {
                "MESSAGES" => messages.len() as u32,
                "RECENT" => 0,
                "UIDNEXT" => self.next_uid(folder),
                "UIDVALIDITY" => self.server.uid_validity,
                "UNSEEN" => messages.iter().filter(|m| !m.seen).count() as u32,
                _ => return conn.tagged(tag, "BAD Error in IMAP command STATUS: Unknown status item").await,
            };
            values.push(format!("{item} {value}"));
        }
        conn.send(format!("* STATUS {folder} ({})\r\n", values.join(" "))).await?;
        conn.tagged(tag, "OK Status completed (0.001 + 0.000 secs).").await
    }

    async fn expunge(&self, conn: &mut Conn, selected: &mut Selected, tag: &str) -> io::Result<()> {
        if selected.read_only {
            return conn.tagged(tag, "NO Mailbox is read-only.").await;
        }
        let mut reply = String::new();
        // Each EXPUNGE renumbers the messages after it: report from the end.
        for position in (0..selected.view.len()).rev() {
            if selected.view[position].flags & DELETED != 0 {
                selected.view.remove(position);
                reply.push_str(&format!("* {} EXPUNGE\r\n", position + 1));
            }
        }
        conn.send(reply).await?;
        conn.tagged(tag, "OK Expunge completed (0.001 + 0.000 secs).").await
    }

    /// FETCH, STORE, SEARCH and COPY, or their UID forms (`uid`: sets name UIDs).
    async fn selected_command(
        &self,
        conn: &mut Conn,
        selected: &mut Selected,
        tag: &str,
        name: &str,
        args: &[Token],
        uid: bool,
    ) -> io::Result<()> {
        if name == "UID" && !uid {
            let Some((inner, rest)) = args.split_first() else {
                return conn.tagged(tag, "BAD Error in IMAP command UID: Invalid arguments.").await;
            };
            let inner = inner.keyword().unwrap_or_default();
            if !matches!(inner.as_str(), "FETCH" | "STORE" | "SEARCH" | "COPY") {
                conn.bad_commands += 1;
                return conn.tagged(tag, "BAD Error in IMAP command UID: Unknown command").await;
            }
            return Box::pin(self.selected_command(conn, selected, tag, &inner, rest, true)).await;
        }
        let label = if uid { format!("UID {}", title(name)) } else { title(name) };
        let done = format!("OK {label} completed (0.001 + 0.000 secs).");
        if name == "SEARCH" {
            let hits = self.search(selected, args, uid);
            conn.send(format!("* SEARCH{hits}\r\n")).await?;
            return conn.tagged(tag, &done).await;
        }
        let Some(set) = args.first().and_then(|t| match t {
            Token::Atom(set) => Some(set.as_slice()),
            _ => None,
        }) else {
            return conn.tagged(tag, &format!("BAD Error in IMAP command {label}: Invalid arguments.")).await;
        };
        let targets = match self.targets(selected, set, uid) {
            Some(targets) => targets,
            None => {
                return conn
                    .tagged(tag, &format!("BAD Error in IMAP command {label}: Invalid messageset"))
                    .await;
            }
        };
        match name {
            "FETCH" => {
                let Some(mut items) = fetch::parse_items(&args[1..]) else {
                    return conn
                        .tagged(tag, &format!("BAD Error in IMAP command {label}: Invalid arguments."))
                        .await;
                };
                if uid && !items.contains(&Item::Uid) {
                    items.insert(0, Item::Uid);
                }
                for position in targets {
                    let reply = self.fetch_one(selected, position, &items);
                    conn.write(&reply).await?;
                }
                conn.tagged(tag, &done).await
            }
            "STORE" => {
                let Some((operation, flags)) = store_arguments(&args[1..]) else {
                    return conn
                        .tagged(tag, &format!("BAD Error in IMAP command {label}: Invalid arguments."))
                        .await;
                };
                let mut reply = String::new();
                for position in targets {
                    let entry = &mut selected.view[position];
                    if !selected.read_only {
                        entry.flags = match operation.kind {
                            StoreKind::Add => entry.flags | flags,
                            StoreKind::Remove => entry.flags & !flags,
                            StoreKind::Replace => flags,
                        };
                    }
                    if !operation.silent {
                        let message = &self.server.messages[entry.index];
                        let uid_item = if uid { format!("UID {} ", message.uid) } else { String::new() };
                        let flags = fetch::flag_list(entry.flags);
                        reply.push_str(&format!("* {} FETCH ({uid_item}FLAGS {flags})\r\n", position + 1));
                    }
                }
                conn.send(reply).await?;
                conn.tagged(tag, &done).await
            }
            "COPY" => match args.get(1).and_then(Token::astring).and_then(folder) {
                Some(_) => conn.tagged(tag, &done).await,
                None => conn.tagged(tag, "NO [TRYCREATE] Mailbox doesn't exist").await,
            },
            _ => conn.tagged(tag, "BAD Error in IMAP command received by server.").await,
        }
    }

    /// Positions in the view named by a sequence set (of UIDs when `uid`); `None` if the set
    /// is malformed. Sets of sequence numbers beyond the mailbox are malformed too.
    fn targets(&self, selected: &Selected, set: &[u8], uid: bool) -> Option<Vec<usize>> {
        let count = selected.view.len() as u32;
        let numbers: Vec<u32> = if uid {
            selected.view.iter().map(|entry| self.server.messages[entry.index].uid).collect()
        } else {
            (1..=count).collect()
        };
        let largest = numbers.last().copied().unwrap_or(0);
        set_contains(set, 1, largest)?;
        if !uid {
            let beyond = set
                .split(|&b| b == b',' || b == b':')
                .filter_map(|n| std::str::from_utf8(n).ok()?.parse::<u32>().ok())
                .any(|n| n > count);
            if beyond {
                return None;
            }
        }
        let hits = numbers.iter().enumerate().filter(|(_, n)| set_contains(set, **n, largest) == Some(true));
        Some(hits.map(|(position, _)| position).collect())
    }

    fn fetch_one(&self, selected: &mut Selected, position: usize, items: &[Item]) -> Vec<u8> {
        let entry = &mut selected.view[position];
        let message = &self.server.messages[entry.index];
        let before = entry.flags;
        if !selected.read_only && items.iter().any(Item::sets_seen) {
            entry.flags |= SEEN;
        }
        let mut reply = format!("* {} FETCH (", position + 1).into_bytes();
        let mut first = true;
        for item in items {
            if !first {
                reply.push(b' ');
            }
            first = false;
            reply.extend_from_slice(&fetch::render(item, message, entry.flags));
        }
        if entry.flags != before && !items.contains(&Item::Flags) {
            reply.extend_from_slice(format!(" FLAGS {}", fetch::flag_list(entry.flags)).as_bytes());
        }
        reply.extend_from_slice(b")\r\n");
        reply
    }

    /// The hits of a SEARCH as ` 1 2 3`: the flag keys narrow it, other criteria match all.
    fn search(&self, selected: &Selected, args: &[Token], uid: bool) -> String {
        let keys: Vec<String> = args.iter().filter_map(Token::keyword).collect();
        let mut hits = String::new();
        for (position, entry) in selected.view.iter().enumerate() {
            let matches = keys.iter().all(|key| match key.as_str() {
                "SEEN" => entry.flags & SEEN != 0,
                "UNSEEN" | "NEW" => entry.flags & SEEN == 0,
                "DELETED" => entry.flags & DELETED != 0,
                "UNDELETED" => entry.flags & DELETED == 0,
                _ => true,
            });
            if matches {
                let number = if uid { self.server.messages[entry.index].uid } else { position as u32 + 1 };
                hits.push_str(&format!(" {number}"));
            }
        }
        hits
    }
}

/// The folder a mailbox name names (INBOX in any case), if it exists.
fn folder(name: &[u8]) -> Option<&'static str> {
    FOLDERS.iter().map(|(folder, _)| *folder).find(|folder| {
        if *folder == "INBOX" { name.eq_ignore_ascii_case(b"INBOX") } else { name == folder.as_bytes() }
    })
}

/// `Select`, `Uid fetch`: a command name as Dovecot's completion texts spell it.
fn title(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let mut chars = lower.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreKind {
    Add,
    Remove,
    Replace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StoreOperation {
    kind: StoreKind,
    silent: bool,
}

/// STORE's `+FLAGS.SILENT (\Seen)`: the operation and the system flags named.
fn store_arguments(args: &[Token]) -> Option<(StoreOperation, u8)> {
    let (operation, flags) = args.split_first()?;
    let operation = operation.keyword()?;
    let (kind, rest) = match operation.as_bytes().first()? {
        b'+' => (StoreKind::Add, &operation[1..]),
        b'-' => (StoreKind::Remove, &operation[1..]),
        _ => (StoreKind::Replace, operation.as_str()),
    };
    let silent = match rest {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return None,
    };
    let bits =
        flags.iter().filter_map(Token::astring).filter_map(fetch::flag_bit).fold(0, |all, bit| all | bit);
    Some((StoreOperation { kind, silent }, bits))
}

struct Command<'a> {
    tag: &'a [u8],
    /// Upper case.
    name: String,
    args: &'a [Token],
}

enum State {
    NotAuthenticated,
    Authenticated,
    Selected(Selected),
}

/// The selected mailbox as this connection sees it.
struct Selected {
    read_only: bool,
    /// The messages still there, in sequence-number order.
    view: Vec<Entry>,
}

struct Entry {
    /// Into the server's messages.
    index: usize,
    flags: u8,
}

/// Whether the session goes on after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    Gone,
}

enum CommandRead {
    Eof,
    /// The tokens, or `None` if the command could not be tokenized.
    Command(Option<Vec<Token>>),
    /// The command grew past [`MAX_COMMAND`].
    Overflow,
}

impl Conn {
    async fn send(&mut self, text: String) -> io::Result<()> {
        self.write(text.as_bytes()).await
    }

    /// The tagged completion of a command; `BAD` ones count towards the hang-up.
    async fn tagged(&mut self, tag: &str, status: &str) -> io::Result<()> {
        if status.starts_with("BAD") {
            self.bad_commands += 1;
        }
        let tag = super::display(tag.as_bytes());
        self.send(format!("{tag} {status}\r\n")).await
    }

    /// Reads one command, its literals included; `raw` receives it as sent (without the
    /// last line end), at most [`MAX_COMMAND`] bytes.
    async fn read_command(&mut self, raw: &mut Vec<u8>) -> io::Result<CommandRead> {
        raw.clear();
        let mut tokens = Vec::new();
        let mut well_formed = true;
        let mut line = Vec::new();
        loop {
            match self.read_line(&mut line).await? {
                LineRead::Eof => return Ok(CommandRead::Eof),
                LineRead::Truncated => {
                    raw.extend_from_slice(&line);
                    return Ok(CommandRead::Command(None));
                }
                LineRead::Line => {}
            }
            raw.extend_from_slice(&line);
            let Some((before, literal)) = syntax::literal_suffix(&line) else {
                well_formed &= syntax::tokenize(&line, &mut tokens).is_ok();
                return Ok(CommandRead::Command(well_formed.then_some(tokens)));
            };
            well_formed &= syntax::tokenize(before, &mut tokens).is_ok();
            if raw.len().saturating_add(literal.len) > MAX_COMMAND {
                return Ok(CommandRead::Overflow);
            }
            if literal.synchronizing {
                self.write(b"+ OK\r\n").await?;
            }
            let mut bytes = vec![0; literal.len];
            if self.io.read_exact(&mut bytes).await.is_err() {
                return Ok(CommandRead::Eof);
            }
            raw.extend_from_slice(b"\r\n");
            raw.extend_from_slice(&bytes);
            tokens.push(Token::Str(bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_arguments_parse() {
        let mut tokens = Vec::new();
        syntax::tokenize(b"+FLAGS.SILENT (\\Seen \\Deleted $Junk)", &mut tokens).unwrap();
        let (operation, flags) = store_arguments(&tokens).unwrap();
        assert_eq!(operation, StoreOperation { kind: StoreKind::Add, silent: true });
        assert_eq!(flags, SEEN | DELETED);
        assert_eq!(store_arguments(&[Token::Atom(b"LABELS".to_vec())]), None);
    }

    #[test]
    fn folders_and_titles() {
        assert_eq!(folder(b"inbox"), Some("INBOX"));
        assert_eq!(folder(b"Sent"), Some("Sent"));
        assert_eq!(folder(b"sent"), None);
        assert_eq!(title("FETCH"), "Fetch");
    }
}
