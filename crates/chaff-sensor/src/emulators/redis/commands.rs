//! What the server answers to each command: one [`Client`] per connection executes
//! requests against its own keyspace and the server's shared state, and says what to
//! record.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Redis;
use super::keyspace::{DATABASES, DbSummary, Keyspace};
use super::persona::{Version, glob_match, random_hex};
use super::resp::{Protocol, Reply, parse_integer};
use super::sha1::sha1_hex;

const SYNTAX_ERROR: &str = "ERR syntax error";
const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";

/// Longest value `CONFIG SET` keeps (a path can be no longer).
pub const MAX_CONFIG_VALUE: usize = 4096;

/// Scripts one connection remembers for `EVALSHA`.
const MAX_SCRIPTS: usize = 64;

/// A command redis knows: its lowercase name, arity (exact if positive, a minimum if
/// negative, counting the name) and the version that introduced it.
struct Spec {
    name: &'static str,
    arity: i32,
    since: (u32, u32),
}

const fn spec(name: &'static str, arity: i32, since: (u32, u32)) -> Spec {
    Spec { name, arity, since }
}

const COMMANDS: &[Spec] = &[
    spec("acl", -2, (6, 0)),
    spec("auth", -2, (1, 0)),
    spec("bgrewriteaof", 1, (1, 0)),
    spec("bgsave", -1, (1, 0)),
    spec("client", -2, (2, 4)),
    spec("command", -1, (2, 8)),
    spec("config", -2, (2, 0)),
    spec("dbsize", 1, (1, 0)),
    spec("debug", -2, (1, 0)),
    spec("decr", 2, (1, 0)),
    spec("del", -2, (1, 0)),
    spec("echo", 2, (1, 0)),
    spec("eval", -3, (2, 6)),
    spec("evalsha", -3, (2, 6)),
    spec("exists", -2, (1, 0)),
    spec("expire", -3, (1, 0)),
    spec("flushall", -1, (1, 0)),
    spec("flushdb", -1, (1, 0)),
    spec("get", 2, (1, 0)),
    spec("hello", -1, (6, 0)),
    spec("host:", -1, (3, 2)),
    spec("incr", 2, (1, 0)),
    spec("info", -1, (1, 0)),
    spec("keys", 2, (1, 0)),
    spec("lastsave", 1, (1, 0)),
    spec("mget", -2, (1, 0)),
    spec("module", -2, (4, 0)),
    spec("monitor", 1, (1, 0)),
    spec("mset", -3, (1, 0)),
    spec("ping", -1, (1, 0)),
    spec("post", -1, (3, 2)),
    spec("pttl", 2, (2, 6)),
    spec("quit", -1, (1, 0)),
    spec("randomkey", 1, (1, 0)),
    spec("replicaof", 3, (5, 0)),
    spec("role", 1, (2, 8)),
    spec("save", 1, (1, 0)),
    spec("scan", -2, (2, 8)),
    spec("script", -2, (2, 6)),
    spec("select", 2, (1, 0)),
    spec("set", -3, (1, 0)),
    spec("setex", 4, (2, 0)),
    spec("setnx", 3, (1, 0)),
    spec("shutdown", -1, (1, 0)),
    spec("slaveof", 3, (1, 0)),
    spec("time", 1, (2, 6)),
    spec("ttl", 2, (1, 0)),
    spec("type", 2, (1, 0)),
    spec("unlink", -2, (4, 0)),
];

fn arity_allows(arity: i32, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    if arity >= 0 { argc == i64::from(arity) } else { argc >= -i64::from(arity) }
}

/// A login attempt to record.
#[derive(Debug, PartialEq, Eq)]
pub struct AuthAttempt {
    /// Given with the two-argument (ACL) form only.
    pub username: Option<Vec<u8>>,
    pub password: Vec<u8>,
    pub success: bool,
}

/// What executing one request produced.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `None`: the connection is closed without an answer.
    pub reply: Option<Reply>,
    pub close: bool,
    pub auth: Option<AuthAttempt>,
    /// Extra fields of the `command` event (where `SAVE` would write).
    pub notes: Vec<(&'static str, String)>,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Outcome {
        Outcome { reply: Some(reply), close: false, auth: None, notes: Vec::new() }
    }
}

impl Outcome {
    fn with_auth(reply: Reply, auth: AuthAttempt) -> Outcome {
        Outcome { auth: Some(auth), ..Outcome::from(reply) }
    }
}

fn error(text: impl Into<String>) -> Reply {
    Reply::error(text)
}

/// Lossy text of client bytes, for error messages.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// At most `max` bytes of `bytes` as text, for error messages (redis's `%.128s`).
fn clipped(bytes: &[u8], max: usize) -> String {
    text(&bytes[..bytes.len().min(max)])
}

fn lower(bytes: &[u8]) -> String {
    text(bytes).to_ascii_lowercase()
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// One connection's state.
pub struct Client<'a> {
    server: &'a Redis,
    pub id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    connected_at: Instant,
    pub protocol: Protocol,
    db: usize,
    name: Option<Vec<u8>>,
    keyspace: Keyspace,
    /// Ids of the scripts this connection sent, for `EVALSHA` and `SCRIPT EXISTS`.
    scripts: Vec<String>,
}

impl<'a> Client<'a> {
    pub fn new(server: &'a Redis, id: u64, peer: SocketAddr, local: SocketAddr, keyspace: Keyspace) -> Self {
        Client {
            server,
            id,
            peer,
            local,
            connected_at: Instant::now(),
            protocol: Protocol::Resp2,
            db: 0,
            name: None,
            keyspace,
            scripts: Vec::new(),
        }
    }

    fn version(&self) -> &Version {
        &self.server.persona.version
    }

    pub fn local_port(&self) -> u16 {
        self.local.port()
    }

    pub fn keyspace_bytes(&self) -> usize {
        self.keyspace.bytes()
    }

    pub fn keyspace_summary(&mut self) -> Vec<DbSummary> {
        self.keyspace.summary()
    }

    /// Executes one request (`args` is never empty).
    pub fn execute(&mut self, args: &[Vec<u8>]) -> Outcome {
        let name = lower(&args[0]);
        let version = self.version();
        let Some(spec) = COMMANDS.iter().find(|s| s.name == name && version.at_least(s.since.0, s.since.1))
        else {
            return self.unknown_command(args).into();
        };
        if !arity_allows(spec.arity, args.len()) {
            return wrong_arity(spec.name).into();
        }
        let rest = &args[1..];
        match spec.name {
            // redis's guard against HTTP requests smuggled to it: close without a word.
            "host:" | "post" => Outcome { reply: None, close: true, auth: None, notes: Vec::new() },
            "quit" => Outcome { close: true, ..Reply::ok().into() },
            "auth" => self.auth(rest),
            "hello" => self.hello(rest),
            "save" | "bgsave" | "bgrewriteaof" => self.save(spec.name),
            _ => self.reply_to(spec.name, rest).into(),
        }
    }

    /// Commands that only reply.
    fn reply_to(&mut self, name: &str, args: &[Vec<u8>]) -> Reply {
        match name {
            "ping" => match args {
                [] => Reply::status("PONG"),
                [message] => Reply::bulk(message.clone()),
                _ => wrong_arity("ping"),
            },
            "echo" => Reply::bulk(args[0].clone()),
            "select" => self.select(&args[0]),
            "dbsize" => Reply::Integer(self.keyspace.keys(self.db).len() as i64),
            "keys" => {
                let keys = self.keyspace.keys(self.db);
                Reply::bulks(keys.into_iter().filter(|k| glob_match(&args[0], k, false)))
            }
            "scan" => self.scan(args),
            "randomkey" => {
                let keys = self.keyspace.keys(self.db);
                if keys.is_empty() {
                    Reply::Nil
                } else {
                    Reply::bulk(keys[fastrand::usize(..keys.len())].clone())
                }
            }
            "get" => self.keyspace.get(self.db, &args[0]).map_or(Reply::Nil, Reply::bulk),
            "mget" => Reply::Array(
                args.iter().map(|k| self.keyspace.get(self.db, k).map_or(Reply::Nil, Reply::bulk)).collect(),
            ),
            "set" => self.set(args),
            "setnx" => {
                if self.keyspace.contains(self.db, &args[0]) {
                    return Reply::Integer(0);
                }
                match self.keyspace.set(self.db, &args[0], args[1].clone(), None, false) {
                    Ok(()) => Reply::Integer(1),
                    Err(oom) => error(oom),
                }
            }
            "setex" => match parse_integer(&args[1]) {
                None => error(NOT_AN_INTEGER),
                Some(secs) if secs <= 0 => error("ERR invalid expire time in 'setex' command"),
                Some(secs) => {
                    self.store(&args[0], args[2].clone(), Some(Duration::from_secs(secs as u64)), false)
                }
            },
            "mset" => {
                if !args.len().is_multiple_of(2) {
                    return wrong_arity("mset");
                }
                for pair in args.chunks_exact(2) {
                    if let Err(oom) = self.keyspace.set(self.db, &pair[0], pair[1].clone(), None, false) {
                        return error(oom);
                    }
                }
                Reply::ok()
            }
            "incr" => self.increment(&args[0], 1),
            "decr" => self.increment(&args[0], -1),
            "del" | "unlink" => {
                Reply::Integer(args.iter().filter(|k| self.keyspace.remove(self.db, k)).count() as i64)
            }
            "exists" => {
                Reply::Integer(args.iter().filter(|k| self.keyspace.contains(self.db, k)).count() as i64)
            }
            "type" => {
                Reply::status(if self.keyspace.contains(self.db, &args[0]) { "string" } else { "none" })
            }
            "ttl" | "pttl" => match self.keyspace.ttl(self.db, &args[0]) {
                None => Reply::Integer(-2),
                Some(None) => Reply::Integer(-1),
                // Rounded to the nearest second, as redis does.
                Some(Some(left)) if name == "ttl" => Reply::Integer(((left.as_millis() + 500) / 1000) as i64),
                Some(Some(left)) => Reply::Integer(left.as_millis() as i64),
            },
            "expire" => match parse_integer(&args[1]) {
                None => error(NOT_AN_INTEGER),
                Some(secs) if secs <= 0 => Reply::Integer(i64::from(self.keyspace.remove(self.db, &args[0]))),
                Some(secs) => {
                    let ttl = Some(Duration::from_secs(secs as u64));
                    Reply::Integer(i64::from(self.keyspace.set_ttl(self.db, &args[0], ttl)))
                }
            },
            "flushdb" | "flushall" => match args {
                [] => self.flush(name),
                [mode] if ["async", "sync"].contains(&lower(mode).as_str()) => self.flush(name),
                _ => error(SYNTAX_ERROR),
            },
            // One section at most before 7.0.
            "info" if args.len() > 1 && !self.version().at_least(7, 0) => error(SYNTAX_ERROR),
            "info" => {
                let sections: Vec<String> = args.iter().map(|a| lower(a)).collect();
                let server = self.server;
                Reply::Verbatim(server.info(&sections, self))
            }
            "config" => self.config(args),
            "client" => self.client(args),
            "command" => self.command(args),
            "lastsave" => Reply::Integer(self.server.last_save() as i64),
            "slaveof" | "replicaof" => self.replicaof(&args[0], &args[1]),
            "role" => match self.server.master() {
                None => {
                    Reply::Array(vec![Reply::bulk("master"), Reply::Integer(0), Reply::Array(Vec::new())])
                }
                Some((host, port)) => Reply::Array(vec![
                    Reply::bulk("slave"),
                    Reply::bulk(host),
                    Reply::Integer(parse_integer(port.as_bytes()).unwrap_or(0)),
                    Reply::bulk("connect"),
                    Reply::Integer(-1),
                ]),
            },
            "module" => self.module(args),
            "time" => {
                let now = unix_now();
                Reply::bulks([now.as_secs().to_string(), now.subsec_micros().to_string()])
            }
            "shutdown" => error("ERR Errors trying to SHUTDOWN. Check logs."),
            "monitor" => Reply::ok(),
            "eval" => self.eval(&args[0], &args[1], args.len() - 2),
            "evalsha" => self.evalsha(&args[0], &args[1], args.len() - 2),
            "script" => self.script(args),
            "acl" => self.acl(args),
            "debug" => self.debug(args),
            // Every command in the table is handled above.
            _ => self.unknown_command(&[name.as_bytes().to_vec()]),
        }
    }

    /// `unknown command 'x', with args beginning with: 'a' 'b' ` (backquotes before 7.0):
    /// arguments are listed while the list is under 128 bytes.
    fn unknown_command(&self, args: &[Vec<u8>]) -> Reply {
        let modern = self.version().at_least(7, 0);
        let mut listed = String::new();
        for arg in &args[1..] {
            if listed.len() >= 128 {
                break;
            }
            let arg = clipped(arg, 128 - listed.len());
            listed.push_str(&if modern { format!("'{arg}' ") } else { format!("`{arg}`, ") });
        }
        let name = clipped(&args[0], 128);
        if modern {
            error(format!("ERR unknown command '{name}', with args beginning with: {listed}"))
        } else {
            error(format!("ERR unknown command `{name}`, with args beginning with: {listed}"))
        }
    }

    /// The subcommand of `command` in `args[0]`, if `table` (name, arity counting the
    /// command) has it and the arity fits; else the error redis gives.
    fn subcommand(
        &self,
        command: &str,
        args: &[Vec<u8>],
        table: &[(&'static str, i32)],
    ) -> Result<&'static str, Reply> {
        let sub = lower(&args[0]);
        match table.iter().find(|(name, _)| *name == sub) {
            Some((name, arity)) if arity_allows(*arity, args.len() + 1) => Ok(name),
            Some((name, _)) if self.version().at_least(7, 0) => {
                Err(wrong_arity(&format!("{command}|{name}")))
            }
            _ => Err(self.unknown_subcommand(command, &args[0])),
        }
    }

    /// `AUTH [username] password`. No password is configured: the one-argument form is
    /// refused, the default user (`nopass`) accepts any password, other users do not exist.
    fn auth(&mut self, args: &[Vec<u8>]) -> Outcome {
        let acl = self.version().at_least(6, 0);
        match args {
            [password] => {
                let message = if acl {
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
                } else {
                    "ERR Client sent AUTH, but no password is set"
                };
                let attempt = AuthAttempt { username: None, password: password.clone(), success: false };
                Outcome::with_auth(error(message), attempt)
            }
            [username, password] if acl => {
                let (reply, success) = self.check_user(username);
                let attempt =
                    AuthAttempt { username: Some(username.clone()), password: password.clone(), success };
                Outcome::with_auth(reply, attempt)
            }
            _ if acl => error(SYNTAX_ERROR).into(),
            _ => wrong_arity("auth").into(),
        }
    }

    fn check_user(&self, username: &[u8]) -> (Reply, bool) {
        if username == b"default" {
            (Reply::ok(), true)
        } else if self.version().at_least(6, 2) {
            (error("WRONGPASS invalid username-password pair or user is disabled."), false)
        } else {
            (error("WRONGPASS invalid username-password pair"), false)
        }
    }

    /// `HELLO [protover [AUTH username password] [SETNAME name]]`.
    fn hello(&mut self, args: &[Vec<u8>]) -> Outcome {
        let mut protocol = self.protocol;
        if let Some(version) = args.first() {
            protocol = match parse_integer(version) {
                None => return error("ERR Protocol version is not an integer or out of range").into(),
                Some(2) => Protocol::Resp2,
                Some(3) => Protocol::Resp3,
                Some(_) => return error("NOPROTO unsupported protocol version").into(),
            };
        }
        let mut auth = None;
        let mut name = None;
        let mut options = args.get(1..).unwrap_or_default();
        while let [option, more @ ..] = options {
            match (lower(option).as_str(), more) {
                ("auth", [username, password, after @ ..]) => {
                    auth = Some(AuthAttempt {
                        username: Some(username.clone()),
                        password: password.clone(),
                        success: false,
                    });
                    options = after;
                }
                ("setname", [client_name, after @ ..]) => {
                    name = Some(client_name.clone());
                    options = after;
                }
                _ => {
                    return error(format!("ERR Syntax error in HELLO option '{}'", clipped(option, 128)))
                        .into();
                }
            }
        }
        if let Some(attempt) = &mut auth {
            let (reply, success) = self.check_user(attempt.username.as_deref().unwrap_or_default());
            attempt.success = success;
            if !success {
                return Outcome { auth, ..reply.into() };
            }
        }
        if let Some(name) = name {
            if let Err(reply) = valid_client_name(&name) {
                return Outcome { auth, ..reply.into() };
            }
            self.name = (!name.is_empty()).then_some(name);
        }
        self.protocol = protocol;
        let role = if self.server.master().is_some() { "replica" } else { "master" };
        let reply = Reply::Map(vec![
            (Reply::bulk("server"), Reply::bulk("redis")),
            (Reply::bulk("version"), Reply::bulk(self.version().text.clone())),
            (Reply::bulk("proto"), Reply::Integer(protocol.number())),
            (Reply::bulk("id"), Reply::Integer(self.id as i64)),
            (Reply::bulk("mode"), Reply::bulk("standalone")),
            (Reply::bulk("role"), Reply::bulk(role)),
            (Reply::bulk("modules"), Reply::Array(Vec::new())),
        ]);
        Outcome { auth, ..reply.into() }
    }

    fn select(&mut self, index: &[u8]) -> Reply {
        match parse_integer(index) {
            None => error(NOT_AN_INTEGER),
            Some(db) if (0..DATABASES as i64).contains(&db) => {
                self.db = db as usize;
                Reply::ok()
            }
            Some(_) => error("ERR DB index is out of range"),
        }
    }

    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: the keyspace is small, so
    /// one call returns every match and cursor 0.
    fn scan(&mut self, args: &[Vec<u8>]) -> Reply {
        if !args[0].iter().all(u8::is_ascii_digit) || args[0].is_empty() {
            return error("ERR invalid cursor");
        }
        let mut pattern: &[u8] = b"*";
        let mut only_strings = true;
        let mut options = &args[1..];
        while let [option, value, rest @ ..] = options {
            match lower(option).as_str() {
                "match" => pattern = value,
                "count" => match parse_integer(value) {
                    None => return error(NOT_AN_INTEGER),
                    Some(count) if count < 1 => return error(SYNTAX_ERROR),
                    Some(_) => {}
                },
                "type" => only_strings = lower(value) == "string",
                _ => return error(SYNTAX_ERROR),
            }
            options = rest;
        }
        if !options.is_empty() {
            return error(SYNTAX_ERROR);
        }
        let keys = if only_strings { self.keyspace.keys(self.db) } else { Vec::new() };
        let matching = keys.into_iter().filter(|k| glob_match(pattern, k, false));
        Reply::Array(vec![Reply::bulk("0"), Reply::bulks(matching)])
    }

    /// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]`.
    fn set(&mut self, args: &[Vec<u8>]) -> Reply {
        let (key, value) = (&args[0], &args[1]);
        let (mut nx, mut xx, mut get, mut keep_ttl) = (false, false, false, false);
        let mut ttl = None;
        let mut options = &args[2..];
        while let [option, rest @ ..] = options {
            let option = lower(option);
            options = rest;
            match option.as_str() {
                "nx" if !xx => nx = true,
                "xx" if !nx => xx = true,
                "get" if self.version().at_least(6, 2) => get = true,
                "keepttl" if ttl.is_none() && self.version().at_least(6, 0) => keep_ttl = true,
                "ex" | "px" | "exat" | "pxat" if ttl.is_none() && !keep_ttl => {
                    let [amount, rest @ ..] = options else { return error(SYNTAX_ERROR) };
                    options = rest;
                    let Some(amount) = parse_integer(amount) else { return error(NOT_AN_INTEGER) };
                    let now_ms = unix_now().as_millis() as i64;
                    let millis = match option.as_str() {
                        "ex" => amount.checked_mul(1000),
                        "px" => Some(amount),
                        "exat" => amount.checked_mul(1000).map(|at| at - now_ms),
                        _ => Some(amount - now_ms),
                    };
                    match millis {
                        Some(ms) if amount > 0 => ttl = Some(Duration::from_millis(ms.max(0) as u64)),
                        _ => return error("ERR invalid expire time in 'set' command"),
                    }
                }
                _ => return error(SYNTAX_ERROR),
            }
        }
        let old = self.keyspace.get(self.db, key).map(<[u8]>::to_vec);
        let previous = || old.clone().map_or(Reply::Nil, Reply::bulk);
        if (nx && old.is_some()) || (xx && old.is_none()) {
            return if get { previous() } else { Reply::Nil };
        }
        match self.store(key, value.clone(), ttl, keep_ttl) {
            Reply::Error(e) => Reply::Error(e),
            ok if !get => ok,
            _ => previous(),
        }
    }

    fn store(&mut self, key: &[u8], value: Vec<u8>, ttl: Option<Duration>, keep_ttl: bool) -> Reply {
        match self.keyspace.set(self.db, key, value, ttl, keep_ttl) {
            Ok(()) => Reply::ok(),
            Err(oom) => error(oom),
        }
    }

    fn increment(&mut self, key: &[u8], by: i64) -> Reply {
        let current = match self.keyspace.get(self.db, key) {
            None => 0,
            Some(value) => match parse_integer(value) {
                Some(n) => n,
                None => return error(NOT_AN_INTEGER),
            },
        };
        let Some(next) = current.checked_add(by) else {
            return error("ERR increment or decrement would overflow");
        };
        match self.keyspace.set(self.db, key, next.to_string().into_bytes(), None, true) {
            Ok(()) => Reply::Integer(next),
            Err(oom) => error(oom),
        }
    }

    fn flush(&mut self, name: &str) -> Reply {
        if name == "flushall" {
            self.keyspace.flush_all();
        } else {
            self.keyspace.flush_db(self.db);
        }
        Reply::ok()
    }

    /// `SAVE`, `BGSAVE`, `BGREWRITEAOF`: the save "happens", and the command event notes
    /// where the file would have been written (`dir` and `dbfilename`, or
    /// `appendfilename`): the `CONFIG SET dir` trick's target.
    fn save(&mut self, name: &str) -> Outcome {
        let reply = match name {
            "save" => Reply::ok(),
            "bgsave" => Reply::status("Background saving started"),
            _ => Reply::status("Background append only file rewriting started"),
        };
        if name != "bgrewriteaof" {
            self.server.saved(unix_now().as_secs());
        }
        let file = if name == "bgrewriteaof" { "appendfilename" } else { "dbfilename" };
        let notes = vec![
            ("dir", text(&self.server.config_value("dir").unwrap_or_default())),
            (file, text(&self.server.config_value(file).unwrap_or_default())),
        ];
        Outcome { notes, ..reply.into() }
    }

    fn config(&mut self, args: &[Vec<u8>]) -> Reply {
        let modern = self.version().at_least(7, 0);
        let table: &[(&str, i32)] = if modern {
            &[("get", -3), ("set", -4), ("resetstat", 2), ("rewrite", 2), ("help", 2)]
        } else {
            &[("get", 3), ("set", 4), ("resetstat", 2), ("rewrite", 2), ("help", 2)]
        };
        let sub = match self.subcommand("config", args, table) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        match sub {
            "get" => {
                let port = self.local.port().to_string().into_bytes();
                let mut pairs = Vec::new();
                for (name, value) in self.server.config_snapshot() {
                    if args[1..].iter().any(|pattern| glob_match(pattern, name.as_bytes(), true)) {
                        let value = if name == "port" { port.clone() } else { value };
                        pairs.push((Reply::bulk(name), Reply::bulk(value)));
                    }
                }
                Reply::Map(pairs)
            }
            "set" => {
                let pairs = &args[1..];
                if !pairs.len().is_multiple_of(2) {
                    return wrong_arity("config|set");
                }
                for pair in pairs.chunks_exact(2) {
                    if let Err(reply) = self.server.set_config(&pair[0], &pair[1], modern) {
                        return reply;
                    }
                }
                Reply::ok()
            }
            "help" => Reply::Array(
                [
                    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "GET <pattern>",
                    "    Return parameters matching the glob-like <pattern> and their values.",
                    "SET <directive> <value>",
                    "    Set the configuration <directive> to <value>.",
                    "RESETSTAT",
                    "    Reset statistics reported by the INFO command.",
                    "REWRITE",
                    "    Rewrite the configuration file.",
                    "HELP",
                    "    Prints this help.",
                ]
                .into_iter()
                .map(Reply::status)
                .collect(),
            ),
            _ => Reply::ok(),
        }
    }

    fn client(&mut self, args: &[Vec<u8>]) -> Reply {
        let table: &[(&str, i32)] = &[
            ("id", 2),
            ("getname", 2),
            ("setname", 3),
            ("list", -2),
            ("info", 2),
            ("kill", -3),
            ("setinfo", 4),
            ("no-evict", 3),
            ("no-touch", 3),
            ("reply", 3),
            ("pause", -3),
            ("unpause", 2),
            ("tracking", -3),
            ("caching", 3),
            ("help", 2),
        ];
        let sub = match self.subcommand("client", args, table) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        match sub {
            "id" => Reply::Integer(self.id as i64),
            "getname" => self.name.clone().map_or(Reply::Nil, Reply::bulk),
            "setname" => match valid_client_name(&args[1]) {
                Ok(()) => {
                    self.name = (!args[1].is_empty()).then(|| args[1].clone());
                    Reply::ok()
                }
                Err(reply) => reply,
            },
            "list" => Reply::Verbatim(self.client_line("list")),
            "info" if self.version().at_least(6, 2) => Reply::Verbatim(self.client_line("info")),
            "kill" if args.len() == 2 => error("ERR No such client"),
            "kill" => Reply::Integer(0),
            "help" => Reply::Array(vec![Reply::status(
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            )]),
            "setinfo" | "no-touch" if self.version().at_least(7, 2) => Reply::ok(),
            "no-evict" if self.version().at_least(7, 0) => Reply::ok(),
            "info" | "setinfo" | "no-touch" | "no-evict" => self.unknown_subcommand("client", &args[0]),
            _ => Reply::ok(),
        }
    }

    /// The error for a subcommand `command` does not have (in this version).
    fn unknown_subcommand(&self, command: &str, sub: &[u8]) -> Reply {
        let (sub, command) = (clipped(sub, 128), command.to_ascii_uppercase());
        if self.version().at_least(7, 0) {
            error(format!("ERR unknown subcommand '{sub}'. Try {command} HELP."))
        } else {
            error(format!(
                "ERR Unknown subcommand or wrong number of arguments for '{sub}'. Try {command} HELP."
            ))
        }
    }

    /// This connection as `CLIENT LIST` and `CLIENT INFO` describe it.
    fn client_line(&self, sub: &str) -> String {
        let v = self.version();
        let name = self.name.as_deref().map(text).unwrap_or_default();
        let age = self.connected_at.elapsed().as_secs();
        let mut line = format!("id={} addr={}", self.id, self.peer);
        if v.at_least(6, 2) {
            line.push_str(&format!(" laddr={}", self.local));
        }
        line.push_str(&format!(" fd=8 name={name} age={age} idle=0 flags=N db={} sub=0 psub=0", self.db));
        if v.at_least(7, 0) {
            line.push_str(&format!(
                " ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22298 events=r cmd=client|{sub} user=default redir=-1 resp={}",
                self.protocol.number()
            ));
        } else if v.at_least(6, 2) {
            line.push_str(" multi=-1 qbuf=26 qbuf-free=40928 argv-mem=10 obl=0 oll=0 omem=0 tot-mem=61466 events=r cmd=client user=default redir=-1");
        } else if v.at_least(6, 0) {
            line.push_str(
                " multi=-1 qbuf=26 qbuf-free=32742 obl=0 oll=0 omem=0 events=r cmd=client user=default",
            );
        } else {
            line.push_str(" multi=-1 qbuf=26 qbuf-free=32742 obl=0 oll=0 omem=0 events=r cmd=client");
        }
        line.push('\n');
        line
    }

    /// `COMMAND`, `COMMAND COUNT|DOCS|INFO|LIST`: the commands this server knows.
    fn command(&self, args: &[Vec<u8>]) -> Reply {
        let known = || COMMANDS.iter().filter(|s| self.version().at_least(s.since.0, s.since.1));
        if args.is_empty() {
            return Reply::Array(known().map(|s| self.command_entry(s)).collect());
        }
        let table: &[(&str, i32)] = &[("count", 2), ("docs", -2), ("info", -2), ("list", -2), ("help", 2)];
        let sub = match self.subcommand("command", args, table) {
            Ok(sub) => sub,
            Err(reply) => return reply,
        };
        let v = self.version();
        match sub {
            "count" => Reply::Integer(match (v.major, v.minor) {
                (7, 2..) | (8.., _) => 241,
                (7, _) => 240,
                (6, 2..) => 224,
                (6, _) => 204,
                _ => 200,
            }),
            "docs" if v.at_least(7, 0) => Reply::Map(Vec::new()),
            "list" if v.at_least(7, 0) => Reply::bulks(known().map(|s| s.name)),
            "info" => Reply::Array(
                args[1..]
                    .iter()
                    .map(|name| {
                        let name = lower(name);
                        known().find(|s| s.name == name).map_or(Reply::Nil, |s| self.command_entry(s))
                    })
                    .collect(),
            ),
            "help" => Reply::Array(vec![Reply::status(
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            )]),
            _ => self.unknown_subcommand("command", sub.as_bytes()),
        }
    }

    fn command_entry(&self, spec: &Spec) -> Reply {
        let mut entry = vec![
            Reply::bulk(spec.name),
            Reply::Integer(i64::from(spec.arity)),
            Reply::Array(Vec::new()),
            Reply::Integer(0),
            Reply::Integer(0),
            Reply::Integer(0),
        ];
        if self.version().at_least(6, 0) {
            entry.push(Reply::Array(Vec::new()));
        }
        if self.version().at_least(7, 0) {
            entry.extend([Reply::Array(Vec::new()), Reply::Array(Vec::new()), Reply::Array(Vec::new())]);
        }
        Reply::Array(entry)
    }

    /// `SLAVEOF host port` / `REPLICAOF`: remembered (INFO replication shows it) and
    /// recorded; the sensor never connects out.
    fn replicaof(&mut self, host: &[u8], port: &[u8]) -> Reply {
        if lower(host) == "no" && lower(port) == "one" {
            self.server.set_master(None);
            return Reply::ok();
        }
        match parse_integer(port) {
            Some(port) if (0..=65_535).contains(&port) => {
                self.server.set_master(Some((clipped(host, 255), port.to_string())));
                Reply::ok()
            }
            Some(_) => error("ERR Invalid master port"),
            None => error(NOT_AN_INTEGER),
        }
    }

    /// `MODULE LOAD path`: the file is not there, as when a rogue master's payload never
    /// arrived.
    fn module(&mut self, args: &[Vec<u8>]) -> Reply {
        let table: &[(&str, i32)] = &[("load", -3), ("loadex", -3), ("list", 2), ("unload", 3), ("help", 2)];
        match self.subcommand("module", args, table) {
            Ok("load") => error("ERR Error loading the extension. Please check the server logs."),
            Ok("loadex") if self.version().at_least(7, 0) => {
                error("ERR Error loading the extension. Please check the server logs.")
            }
            Ok("list") => Reply::Array(Vec::new()),
            Ok("unload") => error("ERR Error unloading module: no such module with that name"),
            Ok("help") => Reply::Array(vec![Reply::status(
                "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            )]),
            Ok(_) => self.unknown_subcommand("module", &args[0]),
            Err(reply) => reply,
        }
    }

    /// `EVAL script numkeys ...`: no Lua runs. A script reaching for what redis's sandbox
    /// removed (the CVE-2022-0543 `package.loadlib` escape) gets the sandbox's error;
    /// anything else returns nil.
    fn eval(&mut self, script: &[u8], numkeys: &[u8], rest: usize) -> Reply {
        if let Err(reply) = check_numkeys(numkeys, rest) {
            return reply;
        }
        let sha = sha1_hex(script);
        self.remember_script(&sha);
        let Some((global, line)) = sandboxed_global(script) else { return Reply::Nil };
        if self.version().at_least(7, 0) {
            error(format!(
                "ERR user_script:{line}: Script attempted to access nonexistent global variable '{global}' script: {sha}, on @user_script:{line}."
            ))
        } else {
            error(format!(
                "ERR Error running script (call to f_{sha}): @enable_strict_lua:15: user_script:{line}: Script attempted to access nonexistent global variable '{global}'"
            ))
        }
    }

    fn evalsha(&mut self, sha: &[u8], numkeys: &[u8], rest: usize) -> Reply {
        if let Err(reply) = check_numkeys(numkeys, rest) {
            return reply;
        }
        if self.scripts.iter().any(|known| known.as_bytes().eq_ignore_ascii_case(sha)) {
            Reply::Nil
        } else {
            error("NOSCRIPT No matching script. Please use EVAL.")
        }
    }

    fn remember_script(&mut self, sha: &str) {
        if !self.scripts.iter().any(|s| s == sha) {
            if self.scripts.len() == MAX_SCRIPTS {
                self.scripts.remove(0);
            }
            self.scripts.push(sha.to_owned());
        }
    }

    fn script(&mut self, args: &[Vec<u8>]) -> Reply {
        let table: &[(&str, i32)] = &[("load", 3), ("exists", -3), ("flush", -2), ("kill", 2), ("help", 2)];
        match self.subcommand("script", args, table) {
            Ok("load") => {
                let sha = sha1_hex(&args[1]);
                self.remember_script(&sha);
                Reply::bulk(sha)
            }
            Ok("exists") => Reply::Array(
                args[1..]
                    .iter()
                    .map(|sha| {
                        Reply::Integer(i64::from(
                            self.scripts.iter().any(|s| s.as_bytes().eq_ignore_ascii_case(sha)),
                        ))
                    })
                    .collect(),
            ),
            Ok("flush") => {
                self.scripts.clear();
                Reply::ok()
            }
            Ok("kill") => error("NOTBUSY No scripts in execution right now."),
            Ok(_) => Reply::Array(vec![Reply::status(
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            )]),
            Err(reply) => reply,
        }
    }

    fn acl(&mut self, args: &[Vec<u8>]) -> Reply {
        let table: &[(&str, i32)] = &[
            ("whoami", 2),
            ("users", 2),
            ("list", 2),
            ("cat", -2),
            ("setuser", -3),
            ("deluser", -3),
            ("getuser", 3),
            ("log", -2),
            ("genpass", -2),
            ("save", 2),
            ("load", 2),
            ("help", 2),
        ];
        let v = self.version();
        match self.subcommand("acl", args, table) {
            Ok("whoami") => Reply::bulk("default"),
            Ok("users") => Reply::bulks(["default"]),
            Ok("list") => Reply::bulks([match (v.major, v.minor) {
                (6, 0) => "user default on nopass ~* +@all",
                (6, _) => "user default on nopass ~* &* +@all",
                _ => "user default on nopass sanitize-payload ~* &* +@all",
            }]),
            Ok("cat") => Reply::bulks([
                "keyspace",
                "read",
                "write",
                "string",
                "admin",
                "dangerous",
                "connection",
                "scripting",
            ]),
            Ok("setuser") => Reply::ok(),
            Ok("deluser") => Reply::Integer(0),
            Ok("getuser") if args[1] == b"default" => Reply::Map(vec![
                (Reply::bulk("flags"), Reply::bulks(["on", "nopass"])),
                (Reply::bulk("passwords"), Reply::Array(Vec::new())),
                (Reply::bulk("commands"), Reply::bulk("+@all")),
                (Reply::bulk("keys"), Reply::bulk("~*")),
            ]),
            Ok("getuser") => Reply::Nil,
            Ok("log") => Reply::Array(Vec::new()),
            Ok("genpass") => Reply::bulk(random_hex(&mut fastrand::Rng::new(), 64)),
            Ok("save" | "load") => error(
                "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
            ),
            Ok(_) => Reply::Array(vec![Reply::status(
                "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            )]),
            Err(reply) => reply,
        }
    }

    /// `DEBUG`: refused since 7.0 (`enable-debug-command no`); earlier versions comply.
    fn debug(&mut self, _args: &[Vec<u8>]) -> Reply {
        if self.version().at_least(7, 0) {
            error(
                "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
            )
        } else {
            Reply::ok()
        }
    }
}

fn wrong_arity(name: &str) -> Reply {
    error(format!("ERR wrong number of arguments for '{name}' command"))
}

fn check_numkeys(numkeys: &[u8], args: usize) -> Result<(), Reply> {
    match parse_integer(numkeys) {
        None => Err(error(NOT_AN_INTEGER)),
        Some(n) if n < 0 => Err(error("ERR Number of keys can't be negative")),
        Some(n) if n as u64 > args as u64 => {
            Err(error("ERR Number of keys can't be greater than number of args"))
        }
        Some(_) => Ok(()),
    }
}

fn valid_client_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().all(|b| (b'!'..=b'~').contains(b)) {
        Ok(())
    } else {
        Err(error("ERR Client names cannot contain spaces, newlines or special characters."))
    }
}

/// Globals redis's Lua sandbox does not have; the first one `script` uses, with its line.
fn sandboxed_global(script: &[u8]) -> Option<(&'static str, usize)> {
    const REMOVED: [&str; 6] = ["package", "io", "loadfile", "dofile", "require", "loadstring"];
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut line = 1;
    let mut i = 0;
    while i < script.len() {
        let b = script[i];
        if b == b'\n' {
            line += 1;
        }
        let starts_word = is_ident(b) && (i == 0 || !is_ident(script[i - 1]) && script[i - 1] != b'.');
        if starts_word {
            let end = script[i..].iter().position(|&c| !is_ident(c)).map_or(script.len(), |n| i + n);
            if let Some(global) = REMOVED.iter().find(|g| g.as_bytes() == &script[i..end]) {
                return Some((global, line));
            }
            i = end;
            continue;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    fn server(version: &str) -> Redis {
        Redis::from_env(&Env::from_pairs([("NODE_NAME", "db-01"), ("REDIS_VERSION", version)])).unwrap()
    }

    fn run(server: &Redis, requests: &[&[&str]]) -> Vec<Outcome> {
        let addr = "127.0.0.1:6379".parse().unwrap();
        let mut client =
            Client::new(server, 7, "10.0.0.9:40000".parse().unwrap(), addr, Keyspace::seeded("db-01"));
        requests
            .iter()
            .map(|args| client.execute(&args.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>()))
            .collect()
    }

    fn replies(version: &str, requests: &[&[&str]]) -> Vec<Reply> {
        run(&server(version), requests).into_iter().map(|o| o.reply.unwrap()).collect()
    }

    fn reply(version: &str, request: &[&str]) -> Reply {
        replies(version, &[request]).remove(0)
    }

    #[test]
    fn unknown_commands_are_answered_like_each_version() {
        assert_eq!(
            reply("7.0.15", &["FOO", "a", "b c"]),
            Reply::Error("ERR unknown command 'FOO', with args beginning with: 'a' 'b c' ".into())
        );
        assert_eq!(
            reply("7.0.15", &["foo"]),
            Reply::Error("ERR unknown command 'foo', with args beginning with: ".into())
        );
        assert_eq!(
            reply("6.0.16", &["foo", "a"]),
            Reply::Error("ERR unknown command `foo`, with args beginning with: `a`, ".into())
        );
        // Commands newer than the version do not exist yet.
        assert!(
            matches!(reply("5.0.7", &["HELLO", "3"]), Reply::Error(e) if e.starts_with("ERR unknown command `HELLO`"))
        );
        let long = "x".repeat(300);
        let Reply::Error(e) = reply("7.0.15", &["foo", &long, "next"]) else { panic!() };
        assert!(e.len() < 200 && !e.contains("next"), "{e}");
    }

    #[test]
    fn arity_errors_name_the_command_in_lowercase() {
        assert_eq!(
            reply("7.0.15", &["GET"]),
            Reply::Error("ERR wrong number of arguments for 'get' command".into())
        );
        assert_eq!(
            reply("7.0.15", &["GET", "/", "HTTP/1.0"]),
            Reply::Error("ERR wrong number of arguments for 'get' command".into())
        );
        assert_eq!(
            reply("7.0.15", &["config", "get"]),
            Reply::Error("ERR wrong number of arguments for 'config|get' command".into())
        );
        assert_eq!(
            reply("6.2.14", &["config", "nope"]),
            Reply::Error(
                "ERR Unknown subcommand or wrong number of arguments for 'nope'. Try CONFIG HELP.".into()
            )
        );
        assert_eq!(
            reply("7.0.15", &["config", "nope"]),
            Reply::Error("ERR unknown subcommand 'nope'. Try CONFIG HELP.".into())
        );
    }

    #[test]
    fn auth_without_a_configured_password() {
        let server = server("7.0.15");
        let [one, acl, other] =
            &run(&server, &[&["AUTH", "hunter2"], &["AUTH", "default", "pw"], &["auth", "admin", "pw"]])[..]
        else {
            panic!()
        };
        assert!(
            matches!(&one.reply, Some(Reply::Error(e)) if e.starts_with("ERR AUTH <password> called without any password configured"))
        );
        assert_eq!(
            one.auth,
            Some(AuthAttempt { username: None, password: b"hunter2".to_vec(), success: false })
        );
        assert_eq!(acl.reply, Some(Reply::ok()));
        assert_eq!(acl.auth.as_ref().map(|a| a.success), Some(true));
        assert_eq!(
            other.reply,
            Some(Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into()))
        );
        assert_eq!(other.auth.as_ref().map(|a| a.username.clone()), Some(Some(b"admin".to_vec())));

        assert_eq!(
            reply("5.0.7", &["AUTH", "pw"]),
            Reply::Error("ERR Client sent AUTH, but no password is set".into())
        );
        assert_eq!(
            reply("5.0.7", &["AUTH", "u", "pw"]),
            Reply::Error("ERR wrong number of arguments for 'auth' command".into())
        );
    }

    #[test]
    fn hello_switches_protocol_and_can_authenticate() {
        let server = server("7.0.15");
        let addr = "127.0.0.1:6379".parse().unwrap();
        let mut client = Client::new(&server, 9, addr, addr, Keyspace::empty());
        let args = |a: &[&str]| a.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let hello = client.execute(&args(&["HELLO", "3", "AUTH", "bob", "secret"]));
        assert_eq!(hello.auth.unwrap().password, b"secret");
        assert_eq!(client.protocol, Protocol::Resp2, "a refused HELLO changes nothing");
        let hello = client.execute(&args(&["HELLO", "3", "SETNAME", "scanner"]));
        let Some(Reply::Map(fields)) = hello.reply else { panic!() };
        assert_eq!(fields[1], (Reply::bulk("version"), Reply::bulk("7.0.15")));
        assert_eq!(client.protocol, Protocol::Resp3);
        assert_eq!(client.execute(&args(&["CLIENT", "GETNAME"])).reply, Some(Reply::bulk("scanner")));
        assert_eq!(
            client.execute(&args(&["HELLO", "4"])).reply,
            Some(Reply::Error("NOPROTO unsupported protocol version".into()))
        );
    }

    #[test]
    fn strings_live_per_connection() {
        let got = replies(
            "7.0.15",
            &[
                &["SET", "k", "v", "EX", "100"],
                &["GET", "k"],
                &["TTL", "k"],
                &["SET", "k", "w", "NX"],
                &["SET", "k", "w", "XX", "GET"],
                &["INCR", "n"],
                &["INCR", "k"],
                &["EXISTS", "k", "n", "none"],
                &["DEL", "k", "none"],
                &["SET", "k", "v", "EX", "0"],
                &["SET", "k", "v", "BOGUS"],
                &["SELECT", "3"],
                &["DBSIZE"],
                &["SELECT", "16"],
            ],
        );
        assert_eq!(
            got,
            [
                Reply::ok(),
                Reply::bulk("v"),
                Reply::Integer(100),
                Reply::Nil,
                Reply::bulk("v"),
                Reply::Integer(1),
                Reply::Error(NOT_AN_INTEGER.into()),
                Reply::Integer(2),
                Reply::Integer(1),
                Reply::Error("ERR invalid expire time in 'set' command".into()),
                Reply::Error(SYNTAX_ERROR.into()),
                Reply::ok(),
                Reply::Integer(0),
                Reply::Error("ERR DB index is out of range".into()),
            ]
        );
    }

    #[test]
    fn keys_and_scan_show_the_fake_keyspace() {
        let [keys, scan, scan_match] = &replies(
            "7.0.15",
            &[&["KEYS", "*"], &["SCAN", "0", "COUNT", "100"], &["SCAN", "0", "MATCH", "config:*"]],
        )[..] else {
            panic!()
        };
        let Reply::Array(all) = keys else { panic!() };
        assert!(all.len() >= 7 && all.contains(&Reply::bulk("config:app")));
        assert_eq!(scan, &Reply::Array(vec![Reply::bulk("0"), keys.clone()]));
        assert_eq!(scan_match, &Reply::Array(vec![Reply::bulk("0"), Reply::bulks(["config:app"])]));
    }

    #[test]
    fn config_get_and_set_are_shared_by_connections() {
        let server = server("7.0.15");
        let [set, get, unknown] = &run(
            &server,
            &[
                &["CONFIG", "SET", "dir", "/root/.ssh", "dbfilename", "authorized_keys"],
                &["config", "get", "d*"],
                &["CONFIG", "SET", "nope", "1"],
            ],
        )[..] else {
            panic!()
        };
        assert_eq!(set.reply, Some(Reply::ok()));
        assert_eq!(
            get.reply,
            Some(Reply::Map(vec![
                (Reply::bulk("dbfilename"), Reply::bulk("authorized_keys")),
                (Reply::bulk("dir"), Reply::bulk("/root/.ssh")),
                (Reply::bulk("databases"), Reply::bulk("16")),
                (Reply::bulk("daemonize"), Reply::bulk("no")),
            ]))
        );
        assert_eq!(
            unknown.reply,
            Some(Reply::Error("ERR Unknown option or number of arguments for CONFIG SET - 'nope'".into()))
        );
        let [save] = &run(&server, &[&["SAVE"]])[..] else { panic!() };
        assert_eq!(
            save.notes,
            [("dir", "/root/.ssh".to_owned()), ("dbfilename", "authorized_keys".to_owned())]
        );
        assert_eq!(
            reply("6.2.14", &["CONFIG", "SET", "nope", "1"]),
            Reply::Error("ERR Unsupported CONFIG parameter: nope".into())
        );
        let Reply::Error(e) = reply("7.0.15", &["CONFIG", "SET", "dir", &"d".repeat(MAX_CONFIG_VALUE + 1)])
        else {
            panic!()
        };
        assert!(e.contains("File name too long"), "{e}");
    }

    #[test]
    fn replication_and_modules() {
        let server = server("7.0.15");
        let outcomes = run(
            &server,
            &[
                &["SLAVEOF", "10.9.9.9", "8888"],
                &["ROLE"],
                &["MODULE", "LOAD", "/tmp/exp.so"],
                &["REPLICAOF", "NO", "ONE"],
            ],
        );
        assert_eq!(outcomes[0].reply, Some(Reply::ok()));
        assert_eq!(
            outcomes[1].reply,
            Some(Reply::Array(vec![
                Reply::bulk("slave"),
                Reply::bulk("10.9.9.9"),
                Reply::Integer(8888),
                Reply::bulk("connect"),
                Reply::Integer(-1)
            ]))
        );
        assert_eq!(
            outcomes[2].reply,
            Some(Reply::Error("ERR Error loading the extension. Please check the server logs.".into()))
        );
        assert_eq!(server.master(), None);
    }

    #[test]
    fn eval_answers_like_the_lua_sandbox() {
        let escape =
            "local io_l = package.loadlib(\"/usr/lib/x86_64-linux-gnu/liblua5.1.so.0\", \"luaopen_io\")";
        let Reply::Error(e) = reply("7.0.15", &["EVAL", escape, "0"]) else { panic!() };
        let sha = sha1_hex(escape.as_bytes());
        assert_eq!(
            e,
            format!(
                "ERR user_script:1: Script attempted to access nonexistent global variable 'package' script: {sha}, on @user_script:1."
            )
        );
        let Reply::Error(e) = reply("6.0.16", &["EVAL", "local x = 1\nreturn io.popen('id')", "0"]) else {
            panic!()
        };
        assert!(
            e.starts_with("ERR Error running script (call to f_")
                && e.ends_with("user_script:2: Script attempted to access nonexistent global variable 'io'"),
            "{e}"
        );
        assert_eq!(reply("7.0.15", &["EVAL", "return redis.call('ping')", "0"]), Reply::Nil);
        assert_eq!(
            reply("7.0.15", &["EVAL", "return 1", "2", "k"]),
            Reply::Error("ERR Number of keys can't be greater than number of args".into())
        );
        let got = replies(
            "7.0.15",
            &[
                &["SCRIPT", "LOAD", "return 1"],
                &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
                &["EVALSHA", "ffff", "0"],
            ],
        );
        assert_eq!(got[0], Reply::bulk("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
        assert_eq!(got[1], Reply::Nil);
        assert_eq!(got[2], Reply::Error("NOSCRIPT No matching script. Please use EVAL.".into()));
    }

    #[test]
    fn http_requests_close_the_connection_silently() {
        let [post] = &run(&server("7.0.15"), &[&["POST", "/", "HTTP/1.1"]])[..] else { panic!() };
        assert_eq!((post.reply.clone(), post.close), (None, true));
        let [quit] = &run(&server("7.0.15"), &[&["QUIT"]])[..] else { panic!() };
        assert_eq!((quit.reply.clone(), quit.close), (Some(Reply::ok()), true));
    }

    #[test]
    fn client_list_describes_the_connection() {
        let Reply::Verbatim(line) = reply("7.0.15", &["CLIENT", "LIST"]) else { panic!() };
        assert!(line.starts_with("id=7 addr=10.0.0.9:40000 laddr=127.0.0.1:6379 fd=8 name= age=0"), "{line}");
        assert!(line.ends_with("cmd=client|list user=default redir=-1 resp=2\n"), "{line}");
        let Reply::Verbatim(line) = reply("5.0.7", &["CLIENT", "LIST"]) else { panic!() };
        assert!(!line.contains("laddr") && line.ends_with("cmd=client\n"), "{line}");
    }

    #[test]
    fn sandboxed_globals_are_found_as_words() {
        assert_eq!(sandboxed_global(b"return package.loaded"), Some(("package", 1)));
        assert_eq!(sandboxed_global(b"local mypackage = 1\nreturn x.io"), None);
        assert_eq!(sandboxed_global(b"\n\nrequire('x')"), Some(("require", 3)));
    }
}
