//! A MongoDB server without access control, as attackers find them: the wire protocol's
//! OP_MSG and the legacy OP_QUERY (which servers from 5.1 on accept for the `hello` /
//! `isMaster` handshake only, answering anything else with error 352, as real ones do),
//! `hello`, `buildInfo`, `serverStatus`, `listDatabases`, `getLog` and the other commands
//! tools and drivers start with, empty answers to reads and writes. SCRAM-SHA-1 and
//! SCRAM-SHA-256 logins run up to the client's proof, which is recorded, and then fail with
//! "Authentication failed." (code 18), as for a user the server does not have; PLAIN logins
//! fail the same way with their password recorded. An HTTP request on the port gets
//! mongod's "It looks like you are trying to access MongoDB over HTTP" page.
//!
//! Configuration:
//! * `MONGO_VERSION` — the version claimed (`7.0.14`), else a per-decky pick of 4.4 to 7.0
//!   releases; it decides the wire version and whether legacy OP_QUERY commands work.
//! * `MONGO_REPL_SET` — a replica set name: the server then answers as its primary.
//! * `NODE_NAME` — the decky: its host name and the databases it holds.
//!
//! Every command is recorded as `command`; logins as `auth_start` and `auth`; input that is
//! not the protocol as `protocol_error` (the connection is then closed).

mod bson;
mod scram;

use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::bson::{Bson, Document, read_cstring};
use self::scram::Conversation;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields, cut_text};
use crate::listener::{Session, Stream, TcpLimits};
use crate::persona::{decky_rng, decky_seed};

/// Drivers keep pooled connections open and idle; monitoring sends `hello` every 10 s.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(120),
    max_duration: Duration::from_secs(3600),
    max_bytes_in: 4 * 1024 * 1024,
};

/// The largest message read; a larger one closes the connection, as mongod closes on a
/// message over its `maxMessageSizeBytes`.
const MAX_MESSAGE: usize = 1024 * 1024;

/// The longest `preview` of a command in an event.
const MAX_PREVIEW: usize = 1024;

const HEADER_LEN: usize = 16;

mod opcode {
    pub const REPLY: i32 = 1;
    pub const QUERY: i32 = 2004;
    pub const MSG: i32 = 2013;
}

/// OP_MSG flag bits.
const CHECKSUM_PRESENT: u32 = 1;
const MORE_TO_COME: u32 = 1 << 1;

/// Releases a decky may claim.
const VERSIONS: &[&str] = &["7.0.14", "7.0.12", "6.0.16", "6.0.13", "5.0.26", "4.4.29"];

/// Wire versions of the releases (major, minor, maxWireVersion); a release uses the last
/// entry not above it.
const WIRE_VERSIONS: &[(u32, u32, i32)] =
    &[(4, 0, 7), (4, 2, 8), (4, 4, 9), (5, 0, 13), (5, 1, 14), (6, 0, 17), (7, 0, 21), (8, 0, 25)];

/// Databases an application leaves on a server, picked per decky.
const APP_DATABASES: &[&str] = &["app", "shop", "crm", "inventory", "customers", "production", "analytics"];

/// mongod's answer to an HTTP request on its driver port.
const HTTP_REPLY: &[u8] = b"HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 84\r\n\r\nIt looks like you are trying to access MongoDB over HTTP on the native driver port.\n";

/// The server of one decky.
pub struct Mongodb {
    version: String,
    version_array: [i32; 3],
    wire_version: i32,
    git_version: String,
    repl_set: Option<String>,
    /// (name, size on disk), `admin`, `config` and `local` included.
    databases: Vec<(String, i64)>,
    /// `topologyVersion.processId` and `electionId` of this process.
    process_id: [u8; 12],
    started: Instant,
    pid: i64,
    next_connection_id: AtomicI64,
    decky: String,
}

impl Mongodb {
    pub fn from_env(env: &Env) -> Result<Mongodb, ConfigError> {
        let decky = env.decky();
        let mut rng = decky_rng(decky, "mongodb");
        let version = match env.get("MONGO_VERSION").map(str::trim) {
            Some(version) => version.to_owned(),
            None => VERSIONS[rng.usize(..VERSIONS.len())].to_owned(),
        };
        let version_array = parse_version(&version).ok_or_else(|| {
            ConfigError::new("MONGO_VERSION", format!("expected a release like 7.0.14, got {version:?}"))
        })?;
        let repl_set = env.get("MONGO_REPL_SET").map(str::trim).map(str::to_owned);
        if let Some(name) = repl_set.as_deref().filter(|name| !is_replica_set_name(name)) {
            return Err(ConfigError::new(
                "MONGO_REPL_SET",
                format!("expected a replica set name of letters, digits, '-', '_' and '.', got {name:?}"),
            ));
        }
        let mut databases = vec![("admin".to_owned(), 40_960), ("config".to_owned(), 110_592)];
        for _ in 0..rng.usize(1..=2) {
            let name = APP_DATABASES[rng.usize(..APP_DATABASES.len())].to_owned();
            if !databases.iter().any(|(n, _)| *n == name) {
                databases.push((name, rng.i64(200_000..900_000_000) / 4096 * 4096));
            }
        }
        databases.push(("local".to_owned(), 73_728));
        let git_hash = decky_seed(&version, "mongodb-git");
        Ok(Mongodb {
            wire_version: wire_version(version_array),
            git_version: format!("{git_hash:016x}{:016x}{:08x}", git_hash.rotate_left(21), git_hash >> 32),
            version,
            version_array,
            repl_set,
            databases,
            process_id: std::array::from_fn(|_| fastrand::u8(..)),
            started: Instant::now(),
            pid: rng.i64(300..40_000),
            next_connection_id: AtomicI64::new(rng.i64(3..400)),
            decky: if decky.is_empty() { "localhost".to_owned() } else { decky.to_owned() },
        })
    }

    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut conn = Connection {
            id: self.next_connection_id.fetch_add(1, Ordering::Relaxed),
            scram: None,
            peer: session.peer.to_string(),
            me: session.local.to_string(),
        };
        loop {
            let (header, body) = match read_message(&mut stream).await? {
                MessageRead::Message(header, body) => (header, body),
                MessageRead::Gone => return Ok(EndReason::Eof),
                MessageRead::Http => {
                    session.record(
                        "protocol_error",
                        Fields::new().text("error", "HTTP request on the driver port"),
                    );
                    stream.write_all(HTTP_REPLY).await?;
                    let _ = stream.shutdown().await;
                    return Ok(EndReason::Closed);
                }
                MessageRead::Refused(error) => {
                    session.record("protocol_error", Fields::new().text("error", error));
                    return Ok(EndReason::Closed);
                }
            };
            let reply = match header.op_code {
                opcode::MSG => self.op_msg(&header, &body, &mut conn, session),
                opcode::QUERY => self.op_query(&header, &body, &mut conn, session),
                other => Err(format!("unsupported opcode {other}")),
            };
            match reply {
                Ok(Some(reply)) => stream.write_all(&reply).await?,
                Ok(None) => {}
                Err(error) => {
                    session.record("protocol_error", Fields::new().text("error", error));
                    return Ok(EndReason::Closed);
                }
            }
        }
    }

    /// An OP_MSG: the body section's command (with its document sequences added as arrays)
    /// answered in an OP_MSG, unless the client asked for no answer.
    fn op_msg(
        &self,
        header: &Header,
        body: &[u8],
        conn: &mut Connection,
        session: &Session,
    ) -> Result<Option<Vec<u8>>, String> {
        let flags =
            u32::from_le_bytes(body.get(..4).ok_or("truncated OP_MSG")?.try_into().unwrap_or_default());
        let end = if flags & CHECKSUM_PRESENT != 0 { body.len().saturating_sub(4) } else { body.len() };
        let mut sections = body.get(4..end).ok_or("truncated OP_MSG")?;
        let mut command = None;
        let mut sequences = Vec::new();
        while let Some((&kind, rest)) = sections.split_first() {
            match kind {
                0 => {
                    let (document, length) = Document::parse(rest).ok_or("malformed OP_MSG body")?;
                    command = Some(document);
                    sections = &rest[length..];
                }
                1 => {
                    let size = rest.get(..4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    let size = size.and_then(|n| usize::try_from(n).ok()).filter(|&n| n >= 4);
                    let sequence = size.and_then(|n| rest.get(4..n)).ok_or("malformed OP_MSG sequence")?;
                    let (name, mut documents) = read_cstring(sequence).ok_or("malformed OP_MSG sequence")?;
                    let mut items = Vec::new();
                    while !documents.is_empty() {
                        let (document, length) =
                            Document::parse(documents).ok_or("malformed OP_MSG sequence")?;
                        items.push(Bson::Document(document));
                        documents = &documents[length..];
                    }
                    sequences.push((name, Bson::Array(items)));
                    sections = &rest[size.unwrap_or(0)..];
                }
                other => return Err(format!("unknown OP_MSG section kind {other}")),
            }
        }
        let mut command = command.ok_or("OP_MSG without a body")?;
        command.0.extend(sequences);
        let database = command.get_str("$db").unwrap_or("admin").to_owned();
        let reply = self.run(&command, &database, "OP_MSG", conn, session);
        if flags & MORE_TO_COME != 0 {
            return Ok(None);
        }
        let mut out = 0u32.to_le_bytes().to_vec();
        out.push(0);
        out.extend(reply.to_bytes());
        Ok(Some(frame(header.request_id, opcode::MSG, &out)))
    }

    /// A legacy OP_QUERY: a command on `<db>.$cmd` answered in an OP_REPLY; a query of a
    /// collection finds nothing. From 5.1 on only the handshake is served.
    fn op_query(
        &self,
        header: &Header,
        body: &[u8],
        conn: &mut Connection,
        session: &Session,
    ) -> Result<Option<Vec<u8>>, String> {
        let (namespace, rest) =
            read_cstring(body.get(4..).ok_or("truncated OP_QUERY")?).ok_or("truncated OP_QUERY")?;
        let (query, _) =
            Document::parse(rest.get(8..).ok_or("truncated OP_QUERY")?).ok_or("malformed OP_QUERY")?;
        // Old drivers wrap the command with its read preference: {$query: {...}, ...}.
        let command = query.get_document("$query").or(query.get_document("query")).cloned().unwrap_or(query);
        let (database, collection) = namespace.split_once('.').unwrap_or((namespace.as_str(), ""));
        let reply = if collection != "$cmd" {
            record_command(session, &command, database, "OP_QUERY");
            if self.wire_version >= 14 {
                error(
                    5_739_101,
                    "Location5739101",
                    "OP_QUERY is no longer supported. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal",
                )
            } else {
                return Ok(Some(frame(header.request_id, opcode::REPLY, &reply_body(&[]))));
            }
        } else if self.wire_version >= 14 && !is_handshake(&command) {
            record_command(session, &command, database, "OP_QUERY");
            let name = command.0.first().map_or("", |(name, _)| name.as_str());
            error(
                352,
                "UnsupportedOpQueryCommand",
                &format!(
                    "Unsupported OP_QUERY command: {name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal"
                ),
            )
        } else {
            self.run(&command, database, "OP_QUERY", conn, session)
        };
        Ok(Some(frame(header.request_id, opcode::REPLY, &reply_body(&[reply]))))
    }

    /// Records and answers one command.
    fn run(
        &self,
        command: &Document,
        database: &str,
        op: &str,
        conn: &mut Connection,
        session: &Session,
    ) -> Document {
        record_command(session, command, database, op);
        let Some((name, _)) = command.0.first() else {
            return error(59, "CommandNotFound", "no such command: ''");
        };
        let ok = || Document::new().with("ok", 1.0);
        match name.to_ascii_lowercase().as_str() {
            "hello" | "ismaster" => self.hello(command, database, conn, session),
            "buildinfo" => self.build_info(),
            "serverstatus" => self.server_status(),
            "listdatabases" => self.list_databases(command),
            "ping" | "endsessions" | "killcursors" | "logout" | "drop" | "create" | "createindexes" => ok(),
            "whatsmyuri" => Document::new().with("you", conn.peer.as_str()).with("ok", 1.0),
            "getparameter" => Document::new()
                .with("featureCompatibilityVersion", Document::new().with("version", self.feature_version()))
                .with("ok", 1.0),
            "getlog" => self.startup_warnings(),
            "getnonce" => {
                Document::new().with("nonce", format!("{:016x}", fastrand::u64(..))).with("ok", 1.0)
            }
            "listcollections" | "listindexes" | "find" | "aggregate" => {
                let collection = match &command.0[0].1 {
                    Bson::String(collection) => collection.as_str(),
                    _ => "$cmd.listCollections",
                };
                empty_cursor(&format!("{database}.{collection}"))
            }
            "count" => Document::new().with("n", 0i32).with("ok", 1.0),
            "insert" | "update" | "delete" => {
                let key = match name.to_ascii_lowercase().as_str() {
                    "insert" => "documents",
                    "update" => "updates",
                    _ => "deletes",
                };
                let n = match command.get(key) {
                    Some(Bson::Array(items)) => items.len() as i32,
                    _ => 0,
                };
                Document::new().with("n", n).with("ok", 1.0)
            }
            "saslstart" => self.sasl_start(command, database, conn, session).unwrap_or_else(|e| e),
            "saslcontinue" => self.sasl_continue(command, conn, session),
            "authenticate" => {
                let user = command.get_str("user").unwrap_or_default();
                let mechanism = command.get_str("mechanism").unwrap_or("MONGODB-CR");
                session.record(
                    "auth",
                    Fields::new()
                        .text("mechanism", mechanism)
                        .text("username", user)
                        .text("database", database)
                        .flag("success", false),
                );
                auth_failed()
            }
            _ => error(59, "CommandNotFound", &format!("no such command: '{name}'")),
        }
    }

    fn hello(
        &self,
        command: &Document,
        database: &str,
        conn: &mut Connection,
        session: &Session,
    ) -> Document {
        let legacy = !command.0[0].0.eq_ignore_ascii_case("hello");
        let mut reply = Document::new();
        if command.is_true("helloOk") {
            reply = reply.with("helloOk", true);
        }
        reply = reply.with(if legacy { "ismaster" } else { "isWritablePrimary" }, true).with(
            "topologyVersion",
            Document::new().with("processId", Bson::ObjectId(self.process_id)).with("counter", 0i64),
        );
        if let Some(set) = &self.repl_set {
            let me = conn.me.as_str();
            let now = unix_millis();
            let op_time =
                Document::new().with("ts", Bson::Timestamp(((now / 1000) as u64) << 32 | 1)).with("t", 1i64);
            let mut election_id = [0u8; 12];
            election_id[..4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
            election_id[11] = 1;
            reply = reply
                .with("hosts", vec![Bson::from(me)])
                .with("setName", set.as_str())
                .with("setVersion", 1i32)
                .with("secondary", false)
                .with("primary", me)
                .with("me", me)
                .with("electionId", Bson::ObjectId(election_id))
                .with(
                    "lastWrite",
                    Document::new()
                        .with("opTime", op_time.clone())
                        .with("lastWriteDate", Bson::DateTime(now))
                        .with("majorityOpTime", op_time)
                        .with("majorityWriteDate", Bson::DateTime(now)),
                );
        }
        reply = reply
            .with("maxBsonObjectSize", 16_777_216i32)
            .with("maxMessageSizeBytes", 48_000_000i32)
            .with("maxWriteBatchSize", 100_000i32)
            .with("localTime", Bson::DateTime(unix_millis()))
            .with("logicalSessionTimeoutMinutes", 30i32)
            .with("connectionId", conn.id)
            .with("minWireVersion", 0i32)
            .with("maxWireVersion", self.wire_version)
            .with("readOnly", false);
        // Drivers may start the login inside the handshake.
        if let Some(start) = command.get_document("speculativeAuthenticate") {
            let db = start.get_str("db").unwrap_or(database).to_owned();
            if let Ok(first) = self.sasl_start(start, &db, conn, session) {
                reply.0.push(("speculativeAuthenticate".to_owned(), Bson::Document(first.without("ok"))));
            }
        }
        reply.with("ok", 1.0)
    }

    fn build_info(&self) -> Document {
        let [major, minor, patch] = self.version_array;
        let engines: Vec<Bson> = if major >= 7 {
            vec!["devnull".into(), "wiredTiger".into()]
        } else {
            vec!["devnull".into(), "ephemeralForTest".into(), "wiredTiger".into()]
        };
        Document::new()
            .with("version", self.version.as_str())
            .with("gitVersion", self.git_version.as_str())
            .with("modules", Vec::<Bson>::new())
            .with("allocator", "tcmalloc")
            .with("javascriptEngine", "mozjs")
            .with("sysInfo", "deprecated")
            .with("versionArray", vec![Bson::from(major), minor.into(), patch.into(), 0i32.into()])
            .with(
                "openssl",
                Document::new()
                    .with("running", "OpenSSL 3.0.2 15 Mar 2022")
                    .with("compiled", "OpenSSL 3.0.2 15 Mar 2022"),
            )
            .with(
                "buildEnvironment",
                Document::new()
                    .with("distmod", if major >= 6 { "ubuntu2204" } else { "ubuntu2004" })
                    .with("distarch", "x86_64")
                    .with("target_arch", "x86_64")
                    .with("target_os", "linux"),
            )
            .with("bits", 64i32)
            .with("debug", false)
            .with("maxBsonObjectSize", 16_777_216i32)
            .with("storageEngines", engines)
            .with("ok", 1.0)
    }

    fn server_status(&self) -> Document {
        let uptime = self.started.elapsed();
        Document::new()
            .with("host", self.decky.as_str())
            .with("version", self.version.as_str())
            .with("process", "mongod")
            .with("pid", self.pid)
            .with("uptime", uptime.as_secs_f64().floor())
            .with("uptimeMillis", uptime.as_millis() as i64)
            .with("uptimeEstimate", uptime.as_secs() as i64)
            .with("localTime", Bson::DateTime(unix_millis()))
            .with(
                "connections",
                Document::new()
                    .with("current", 1i32)
                    .with("available", 838_859i32)
                    .with("totalCreated", self.next_connection_id.load(Ordering::Relaxed) as i32),
            )
            .with("ok", 1.0)
    }

    fn list_databases(&self, command: &Document) -> Document {
        let name_only = command.is_true("nameOnly");
        let databases: Vec<Bson> = self
            .databases
            .iter()
            .map(|(name, size)| {
                let entry = Document::new().with("name", name.as_str());
                let entry =
                    if name_only { entry } else { entry.with("sizeOnDisk", *size).with("empty", false) };
                Bson::Document(entry)
            })
            .collect();
        let mut reply = Document::new().with("databases", databases);
        if !name_only {
            let total: i64 = self.databases.iter().map(|(_, size)| size).sum();
            reply = reply.with("totalSize", total).with("totalSizeMb", total / (1024 * 1024));
        }
        reply.with("ok", 1.0)
    }

    /// `getLog: "startupWarnings"` on a server without access control.
    fn startup_warnings(&self) -> Document {
        let line = serde_json::json!({
            "t": {"$date": crate::event::rfc3339_millis(SystemTime::now() - self.started.elapsed())},
            "s": "W", "c": "CONTROL", "id": 22120, "ctx": "initandlisten",
            "msg": "Access control is not enabled for the database. Read and write access to data and configuration is unrestricted",
            "tags": ["startupWarnings"]
        });
        Document::new()
            .with("totalLinesWritten", 1i32)
            .with("log", vec![Bson::from(line.to_string())])
            .with("ok", 1.0)
    }

    fn feature_version(&self) -> String {
        format!("{}.{}", self.version_array[0], self.version_array[1])
    }

    /// A `saslStart`: SCRAM goes on to the server's challenge; PLAIN and the rest fail here.
    /// `Err` is the failure reply.
    fn sasl_start(
        &self,
        command: &Document,
        database: &str,
        conn: &mut Connection,
        session: &Session,
    ) -> Result<Document, Document> {
        let mechanism = command.get_str("mechanism").unwrap_or_default();
        let payload = command.get_bytes("payload").unwrap_or_default();
        let fields = Fields::new().text("mechanism", mechanism).text("database", database);
        if mechanism == "PLAIN" {
            let mut parts = payload.splitn(3, |&b| b == 0).skip(1);
            let (user, password) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
            session.record(
                "auth",
                fields.bytes("username", user).bytes("password", password).flag("success", false),
            );
            return Err(auth_failed());
        }
        let Some(hash) = scram::Hash::named(mechanism) else {
            session.record("auth", fields.flag("success", false));
            return Err(error(
                334,
                "MechanismUnavailable",
                &format!("Received authentication for mechanism {mechanism} which is not enabled"),
            ));
        };
        let Some(conversation) = Conversation::start(hash, payload, &self.decky) else {
            session.record("auth", fields.bytes("payload", payload).flag("success", false));
            return Err(auth_failed());
        };
        session.record("auth_start", fields.bytes("username", conversation.username()));
        let server_first = conversation.server_first().to_vec();
        conn.scram = Some((conversation, database.to_owned()));
        Ok(Document::new()
            .with("conversationId", 1i32)
            .with("done", false)
            .with("payload", Bson::Binary(0, server_first))
            .with("ok", 1.0))
    }

    /// A `saslContinue` with the client's proof: recorded, then the login fails.
    fn sasl_continue(&self, command: &Document, conn: &mut Connection, session: &Session) -> Document {
        let Some((conversation, database)) = conn.scram.take() else {
            return error(17, "ProtocolError", "No SASL session state found");
        };
        let payload = command.get_bytes("payload").unwrap_or_default();
        let mut fields = Fields::new()
            .text("mechanism", conversation.mechanism())
            .text("database", database)
            .bytes("username", conversation.username());
        if let Some(proof) = conversation.finish(payload) {
            fields = fields
                .text("client_proof", proof.client_proof)
                .text("salt", proof.salt)
                .num("iterations", proof.iterations.into())
                .bytes("auth_message", &proof.auth_message);
        }
        session.record("auth", fields.flag("success", false));
        auth_failed()
    }
}

/// What one connection remembers.
struct Connection {
    id: i64,
    /// A SCRAM login waiting for the client's proof, and its database.
    scram: Option<(Conversation, String)>,
    /// The client's and the server's address, `ip:port`.
    peer: String,
    me: String,
}

/// The `command` event: name, database, opcode, and the document as JSON, cut.
fn record_command(session: &Session, command: &Document, database: &str, op: &str) {
    let name = command.0.first().map_or("", |(name, _)| name.as_str());
    let mut preview = command.to_json().to_string();
    cut_text(&mut preview, MAX_PREVIEW);
    session.record(
        "command",
        Fields::new()
            .text("command", name)
            .text("database", database)
            .text("opcode", op)
            .text("preview", preview),
    );
}

/// At most 128 letters, digits, `-`, `_` and `.`.
fn is_replica_set_name(name: &str) -> bool {
    name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn is_handshake(command: &Document) -> bool {
    command.0.first().is_some_and(|(name, _)| name == "hello" || name.eq_ignore_ascii_case("ismaster"))
}

fn error(code: i32, name: &str, message: &str) -> Document {
    Document::new().with("ok", 0.0).with("errmsg", message).with("code", code).with("codeName", name)
}

fn auth_failed() -> Document {
    error(18, "AuthenticationFailed", "Authentication failed.")
}

fn empty_cursor(namespace: &str) -> Document {
    let cursor =
        Document::new().with("firstBatch", Vec::<Bson>::new()).with("id", 0i64).with("ns", namespace);
    Document::new().with("cursor", cursor).with("ok", 1.0)
}

fn unix_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64
}

/// `7.0.14` as [7, 0, 14].
fn parse_version(version: &str) -> Option<[i32; 3]> {
    let mut parts = version.split('.').map(|part| part.parse::<i32>().ok().filter(|n| (0..1000).contains(n)));
    let parsed = [parts.next()??, parts.next()??, parts.next()??];
    parts.next().is_none().then_some(parsed)
}

fn wire_version([major, minor, _]: [i32; 3]) -> i32 {
    let release = (major as u32, minor as u32);
    WIRE_VERSIONS.iter().rev().find(|(ma, mi, _)| (*ma, *mi) <= release).map_or(6, |(_, _, wire)| *wire)
}

/// An OP_REPLY's body: no flags, no cursor, the documents.
fn reply_body(documents: &[Document]) -> Vec<u8> {
    let mut out = 0i32.to_le_bytes().to_vec();
    out.extend_from_slice(&0i64.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&(documents.len() as i32).to_le_bytes());
    for document in documents {
        out.extend(document.to_bytes());
    }
    out
}

/// A message answering request `response_to`.
fn frame(response_to: i32, op_code: i32, body: &[u8]) -> Vec<u8> {
    static NEXT_ID: AtomicI64 = AtomicI64::new(1);
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&((HEADER_LEN + body.len()) as i32).to_le_bytes());
    out.extend_from_slice(&(NEXT_ID.fetch_add(1, Ordering::Relaxed) as i32).to_le_bytes());
    out.extend_from_slice(&response_to.to_le_bytes());
    out.extend_from_slice(&op_code.to_le_bytes());
    out.extend_from_slice(body);
    out
}

struct Header {
    request_id: i32,
    op_code: i32,
}

enum MessageRead {
    Message(Header, Vec<u8>),
    Gone,
    Http,
    Refused(&'static str),
}

/// Reads one message; its length is checked before anything is allocated for it.
async fn read_message(stream: &mut Stream) -> io::Result<MessageRead> {
    let mut header = [0u8; HEADER_LEN];
    match stream.read_exact(&mut header[..4]).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(MessageRead::Gone),
        Err(e) => return Err(e),
    }
    if &header[..4] == b"GET " {
        return Ok(MessageRead::Http);
    }
    let length = i32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let Some(length) = usize::try_from(length).ok().filter(|n| (HEADER_LEN..=MAX_MESSAGE).contains(n)) else {
        return Ok(MessageRead::Refused("bad message length"));
    };
    let mut rest = vec![0u8; length - 4];
    match stream.read_exact(&mut rest).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(MessageRead::Gone),
        Err(e) => return Err(e),
    }
    let word = |i: usize| i32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
    let header = Header { request_id: word(0), op_code: word(8) };
    Ok(MessageRead::Message(header, rest.split_off(12)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mongodb(pairs: &[(&str, &str)]) -> Mongodb {
        Mongodb::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    #[test]
    fn versions_decide_the_wire_version() {
        assert_eq!(mongodb(&[("MONGO_VERSION", "7.0.14")]).wire_version, 21);
        assert_eq!(mongodb(&[("MONGO_VERSION", "6.0.16")]).wire_version, 17);
        assert_eq!(mongodb(&[("MONGO_VERSION", "5.0.26")]).wire_version, 13);
        assert_eq!(mongodb(&[("MONGO_VERSION", "4.4.29")]).wire_version, 9);
        assert_eq!(mongodb(&[("MONGO_VERSION", "3.6.8")]).wire_version, 6);
        let picked = mongodb(&[("NODE_NAME", "db-02")]);
        assert_eq!(picked.version, mongodb(&[("NODE_NAME", "db-02")]).version);
        assert_eq!(picked.databases, mongodb(&[("NODE_NAME", "db-02")]).databases);
    }

    #[test]
    fn configuration_is_checked() {
        for (var, bad) in [("MONGO_VERSION", "latest"), ("MONGO_VERSION", "7.0"), ("MONGO_REPL_SET", "rs 0")]
        {
            let Err(error) = Mongodb::from_env(&Env::from_pairs([(var, bad)])) else {
                panic!("{bad} accepted")
            };
            assert_eq!(error.var, var);
        }
    }
}
