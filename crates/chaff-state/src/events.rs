//! Sensor events: the lines service containers write on stdout, stored once each.
//!
//! Invariants:
//! * every line read is stored — a line that is not a sensor event is stored with kind
//!   [`MALFORMED_KIND`] and its raw text, never dropped;
//! * a line is stored at most once: (container, Docker timestamp, `seq`) is unique and
//!   ingestion is `INSERT OR IGNORE`, so re-reading a log (a resume, two processes following
//!   one container) adds nothing;
//! * a container's read cursor (its last line ingested, [`EventCursor`]) moves in the same
//!   transaction as its lines and never backwards, so after a crash a reader resumes exactly
//!   where the committed lines end;
//! * retention (count and age, [`Retention`]) runs inside ingestion, at most once per
//!   [`PRUNE_EVERY_EVENTS`] inserted events or [`PRUNE_EVERY`] of time, never per row.

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::{debug, info};

use chaff_time as rfc3339;

use crate::{Store, StoreError, Timestamp};

/// The kind of a stored line that is not a sensor event.
pub const MALFORMED_KIND: &str = "malformed";

/// Events kept at most; the oldest (by id) go first. The cap counts ids, which may have gaps
/// (see [`StoredEvent::id`]): the store holds at most this many, a few fewer after duplicates.
pub const DEFAULT_MAX_EVENTS: u64 = 1_000_000;
/// Events older than this (by their `ts`) are removed.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Retention runs once this many events were inserted since it last ran...
pub const PRUNE_EVERY_EVENTS: u64 = 10_000;
/// ...or once this much time passed (so a quiet store still ages out), checked per batch.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// How many events the store keeps, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub max_events: u64,
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { max_events: DEFAULT_MAX_EVENTS, max_age: DEFAULT_MAX_AGE }
    }
}

/// Where a line was read: the container and what its labels say it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventOrigin {
    /// Docker's container id.
    pub container: String,
    pub fleet: String,
    pub decky: String,
    pub service: String,
}

/// One line to ingest, already classified ([`NewEvent::from_line`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub container: String,
    /// Docker's timestamp of the line, nanoseconds since the epoch.
    pub docker_ts_ns: i64,
    /// Among this container's lines with the same `docker_ts_ns`, this one's position (from 0).
    pub seq: u32,
    pub fleet: String,
    pub decky: String,
    pub service: String,
    pub kind: String,
    pub ts: Timestamp,
    pub src_ip: Option<String>,
    pub dst_port: Option<u16>,
    pub raw: String,
    /// The sensor's object; `None` for a malformed line.
    pub data: Option<Map<String, Value>>,
}

impl NewEvent {
    /// Classifies `raw`, a line of `origin`'s stdout. A sensor event is a JSON object with an
    /// integer `v`, an RFC 3339 `ts`, a non-empty string `kind` and a string `service`;
    /// anything else is [`MALFORMED_KIND`], timed by Docker. The decky and service are the
    /// container's labels (what Chaff deployed), not what the line claims.
    pub fn from_line(origin: &EventOrigin, docker_ts_ns: i64, seq: u32, raw: String) -> NewEvent {
        let parsed = serde_json::from_str::<Value>(&raw).ok().and_then(|value| match value {
            Value::Object(object) => sensor_fields(&object).map(|fields| (fields, object)),
            _ => None,
        });
        let mut event = NewEvent {
            container: origin.container.clone(),
            docker_ts_ns,
            seq,
            fleet: origin.fleet.clone(),
            decky: origin.decky.clone(),
            service: origin.service.clone(),
            kind: MALFORMED_KIND.to_owned(),
            ts: Timestamp::from_unix_millis(docker_ts_ns.div_euclid(1_000_000)),
            src_ip: None,
            dst_port: None,
            raw,
            data: None,
        };
        if let Some((fields, object)) = parsed {
            event.kind = fields.kind;
            event.ts = fields.ts;
            event.src_ip = fields.src_ip;
            event.dst_port = fields.dst_port;
            event.data = Some(object);
        }
        event
    }

    pub fn is_malformed(&self) -> bool {
        self.data.is_none()
    }
}

/// The indexed fields of a well-formed sensor object.
struct SensorFields {
    kind: String,
    ts: Timestamp,
    src_ip: Option<String>,
    dst_port: Option<u16>,
}

fn sensor_fields(object: &Map<String, Value>) -> Option<SensorFields> {
    object.get("v")?.as_u64()?;
    object.get("service")?.as_str()?;
    let kind = object.get("kind")?.as_str().filter(|k| !k.is_empty())?;
    let ts = rfc3339::parse_millis(object.get("ts")?.as_str()?)?;
    Some(SensorFields {
        kind: kind.to_owned(),
        ts: Timestamp::from_unix_millis(ts),
        src_ip: object.get("src_ip").and_then(Value::as_str).map(str::to_owned),
        dst_port: object.get("dst_port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()),
    })
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Increasing in ingestion order, never reused (follow with [`EventQuery::after_id`]);
    /// there may be gaps (a line found to be a duplicate uses up an id).
    pub id: i64,
    pub container: String,
    pub docker_ts_ns: i64,
    pub fleet: String,
    pub decky: String,
    pub service: String,
    pub kind: String,
    pub ts: Timestamp,
    pub src_ip: Option<String>,
    pub dst_port: Option<u16>,
    pub raw: String,
    pub data: Option<Map<String, Value>>,
}

impl StoredEvent {
    fn inserted(id: i64, event: NewEvent) -> StoredEvent {
        StoredEvent {
            id,
            container: event.container,
            docker_ts_ns: event.docker_ts_ns,
            fleet: event.fleet,
            decky: event.decky,
            service: event.service,
            kind: event.kind,
            ts: event.ts,
            src_ip: event.src_ip,
            dst_port: event.dst_port,
            raw: event.raw,
            data: event.data,
        }
    }

    pub fn is_malformed(&self) -> bool {
        self.data.is_none()
    }

    /// The event as one JSON object: the sensor's own object with `id` first; for a malformed
    /// line `{id, kind: "malformed", ts, decky, service, malformed: <raw text>}`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), self.id.into());
        match &self.data {
            Some(object) => {
                out.extend(object.iter().filter(|(k, _)| *k != "id").map(|(k, v)| (k.clone(), v.clone())))
            }
            None => {
                out.insert("kind".into(), MALFORMED_KIND.into());
                out.insert("ts".into(), rfc3339::format_millis(self.ts.unix_millis()).into());
                out.insert("decky".into(), self.decky.clone().into());
                out.insert("service".into(), self.service.clone().into());
                out.insert("malformed".into(), self.raw.clone().into());
            }
        }
        Value::Object(out)
    }

    /// A field of the sensor's object as text (strings as is, other values as JSON).
    pub fn field(&self, name: &str) -> Option<String> {
        match self.data.as_ref()?.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// Where a container's log was read up to: its last line ingested. Lines are ordered by
/// (Docker timestamp, position among lines of that timestamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EventCursor {
    pub docker_ts_ns: i64,
    pub seq: u32,
}

impl EventCursor {
    /// Whether the line (`docker_ts_ns`, `seq`) is at or before this cursor: stored already.
    pub fn covers(self, docker_ts_ns: i64, seq: u32) -> bool {
        (docker_ts_ns, seq) <= (self.docker_ts_ns, self.seq)
    }
}

/// What one [`Store::ingest_events`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ingested {
    /// The events that were new, in the order given, with their ids.
    pub inserted: Vec<StoredEvent>,
    /// Lines already stored (ignored).
    pub duplicates: usize,
    /// Events retention removed in this call.
    pub pruned: u64,
}

/// Which events a query returns; every filter is optional and they combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub fleet: Option<String>,
    pub decky: Option<String>,
    pub service: Option<String>,
    pub kind: Option<String>,
    /// Events at or after this time (their `ts`).
    pub since: Option<Timestamp>,
    /// Events with an id greater than this (following: the last id already seen).
    pub after_id: Option<i64>,
    /// At most this many; see [`EventQuery::latest`].
    pub limit: Option<usize>,
    /// With a limit, the *latest* matching events (still returned oldest first) instead of
    /// the first ones after `after_id`.
    pub latest: bool,
}

/// In-memory retention bookkeeping of one [`Store`] (one connection).
#[derive(Debug)]
pub(crate) struct RetentionState {
    pub(crate) policy: Retention,
    inserted_since_prune: u64,
    last_prune: Option<Timestamp>,
}

impl RetentionState {
    pub(crate) fn new(policy: Retention) -> RetentionState {
        RetentionState { policy, inserted_since_prune: 0, last_prune: None }
    }

    /// Due on the first ingestion of this connection, then every [`PRUNE_EVERY_EVENTS`]
    /// inserted events or [`PRUNE_EVERY`] of time.
    fn due(&self, now: Timestamp) -> bool {
        match self.last_prune {
            None => true,
            Some(last) => {
                self.inserted_since_prune >= PRUNE_EVERY_EVENTS
                    || now.unix_millis().saturating_sub(last.unix_millis()) >= millis(PRUNE_EVERY)
            }
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events
    (container, docker_ts, seq, fleet, decky, service, kind, ts, src_ip, dst_port, raw)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// The cursor only moves forward, whoever writes.
const ADVANCE_CURSOR: &str = "INSERT INTO event_cursors (container, docker_ts, seq, updated_at)
    VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (container) DO UPDATE SET docker_ts = excluded.docker_ts, seq = excluded.seq,
                                          updated_at = excluded.updated_at
    WHERE (excluded.docker_ts, excluded.seq) > (event_cursors.docker_ts, event_cursors.seq)";

const EVENT_COLUMNS: &str =
    "id, container, docker_ts, fleet, decky, service, kind, ts, src_ip, dst_port, raw";

impl Store {
    /// Replaces the retention policy of this store (default [`Retention::default`]).
    pub fn set_event_retention(&mut self, policy: Retention) {
        self.retention.policy = policy;
    }

    pub fn event_retention(&self) -> Retention {
        self.retention.policy
    }

    /// Stores `events` in one transaction: each new line once (already-stored lines are
    /// ignored), each container's cursor advanced to its newest line given, and retention
    /// applied when it is due. `now` dates the cursors and is the clock of age retention.
    pub fn ingest_events(&mut self, events: Vec<NewEvent>, now: Timestamp) -> Result<Ingested, StoreError> {
        let mut ingested = Ingested::default();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut cursors: HashMap<String, EventCursor> = HashMap::new();
        {
            let mut insert = tx.prepare_cached(INSERT_EVENT)?;
            for event in events {
                let line = EventCursor { docker_ts_ns: event.docker_ts_ns, seq: event.seq };
                let cursor = cursors.entry(event.container.clone()).or_insert(line);
                *cursor = (*cursor).max(line);
                let changed = insert.execute(params![
                    event.container,
                    event.docker_ts_ns,
                    event.seq,
                    event.fleet,
                    event.decky,
                    event.service,
                    event.kind,
                    event.ts,
                    event.src_ip,
                    event.dst_port,
                    event.raw,
                ])?;
                if changed == 0 {
                    ingested.duplicates += 1;
                } else {
                    ingested.inserted.push(StoredEvent::inserted(tx.last_insert_rowid(), event));
                }
            }
            let mut advance = tx.prepare_cached(ADVANCE_CURSOR)?;
            for (container, cursor) in &cursors {
                advance.execute(params![container, cursor.docker_ts_ns, cursor.seq, now])?;
            }
        }
        self.retention.inserted_since_prune += ingested.inserted.len() as u64;
        if self.retention.due(now) {
            ingested.pruned = prune(&tx, self.retention.policy, now)?;
            self.retention.inserted_since_prune = 0;
            self.retention.last_prune = Some(now);
        }
        tx.commit()?;
        debug!(inserted = ingested.inserted.len(), duplicates = ingested.duplicates, "ingested events");
        Ok(ingested)
    }

    /// Applies retention now, whatever the bookkeeping says; returns how many events went.
    pub fn prune_events(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pruned = prune(&tx, self.retention.policy, now)?;
        tx.commit()?;
        self.retention.inserted_since_prune = 0;
        self.retention.last_prune = Some(now);
        Ok(pruned)
    }

    /// The last line ingested from `container`, if any.
    pub fn event_cursor(&self, container: &str) -> Result<Option<EventCursor>, StoreError> {
        let read = |row: &Row<'_>| Ok(EventCursor { docker_ts_ns: row.get(0)?, seq: row.get(1)? });
        let sql = "SELECT docker_ts, seq FROM event_cursors WHERE container = ?1";
        Ok(self.conn.query_row(sql, [container], read).optional()?)
    }

    /// Forgets the cursors of containers not in `keep` (containers that no longer exist);
    /// returns how many were forgotten. Their events stay.
    pub fn forget_event_cursors_except(&mut self, keep: &[String]) -> Result<usize, StoreError> {
        let keep = serde_json::to_string(keep)?;
        Ok(self.conn.execute(
            "DELETE FROM event_cursors WHERE container NOT IN (SELECT value FROM json_each(?1))",
            [keep],
        )?)
    }

    /// The events matching `query`, oldest (lowest id) first.
    pub fn events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let (filter, values) = where_clause(query);
        let order = if query.latest && query.limit.is_some() { "DESC" } else { "ASC" };
        let limit = query.limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events {filter} ORDER BY id {order} LIMIT {limit}");
        let mut statement = self.conn.prepare(&sql)?;
        let rows = statement.query_map(params_from_iter(values), read_event)?;
        let mut events = rows.collect::<Result<Vec<_>, _>>()?;
        if order == "DESC" {
            events.reverse();
        }
        Ok(events)
    }

    /// How many events match `query` (its limit is ignored).
    pub fn count_events(&self, query: &EventQuery) -> Result<u64, StoreError> {
        let (filter, values) = where_clause(query);
        let sql = format!("SELECT count(*) FROM events {filter}");
        let count: i64 = self.conn.query_row(&sql, params_from_iter(values), |row| row.get(0))?;
        Ok(count.unsigned_abs())
    }

    /// How many stored lines were not sensor events.
    pub fn malformed_count(&self) -> Result<u64, StoreError> {
        self.count_events(&EventQuery { kind: Some(MALFORMED_KIND.to_owned()), ..EventQuery::default() })
    }
}

/// Deletes beyond the count cap (by id: ids only grow, so the oldest go) and past the age.
fn prune(conn: &Connection, policy: Retention, now: Timestamp) -> Result<u64, StoreError> {
    let max_events = i64::try_from(policy.max_events).unwrap_or(i64::MAX);
    let by_count =
        conn.execute("DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - ?1", [max_events])?;
    let cutoff = now.unix_millis().saturating_sub(millis(policy.max_age));
    let by_age = conn.execute("DELETE FROM events WHERE ts < ?1", [cutoff])?;
    let pruned = (by_count + by_age) as u64;
    if pruned > 0 {
        info!(by_count, by_age, "event retention removed old events");
    }
    Ok(pruned)
}

/// The `WHERE` clause of `query` and its values, in order.
fn where_clause(query: &EventQuery) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as Sql;
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    let text_filters = [
        ("fleet", &query.fleet),
        ("decky", &query.decky),
        ("service", &query.service),
        ("kind", &query.kind),
    ];
    for (column, wanted) in text_filters {
        if let Some(wanted) = wanted {
            values.push(Sql::Text(wanted.clone()));
            clauses.push(format!("{column} = ?{}", values.len()));
        }
    }
    if let Some(since) = query.since {
        values.push(Sql::Integer(since.unix_millis()));
        clauses.push(format!("ts >= ?{}", values.len()));
    }
    if let Some(after) = query.after_id {
        values.push(Sql::Integer(after));
        clauses.push(format!("id > ?{}", values.len()));
    }
    if clauses.is_empty() {
        return (String::new(), values);
    }
    (format!("WHERE {}", clauses.join(" AND ")), values)
}

fn read_event(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let kind: String = row.get(6)?;
    let raw: String = row.get(10)?;
    // Only well-formed objects were stored under another kind.
    let data = if kind == MALFORMED_KIND {
        None
    } else {
        match serde_json::from_str::<Value>(&raw) {
            Ok(Value::Object(object)) => Some(object),
            _ => {
                let problem = format!("event with kind '{kind}' holds a line that is not a JSON object");
                return Err(rusqlite::Error::FromSqlConversionFailure(
                    10,
                    rusqlite::types::Type::Text,
                    problem.into(),
                ));
            }
        }
    };
    Ok(StoredEvent {
        id: row.get(0)?,
        container: row.get(1)?,
        docker_ts_ns: row.get(2)?,
        fleet: row.get(3)?,
        decky: row.get(4)?,
        service: row.get(5)?,
        kind,
        ts: row.get(7)?,
        src_ip: row.get(8)?,
        dst_port: row.get(9)?,
        raw,
        data,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn origin() -> EventOrigin {
        EventOrigin {
            container: "c0ffee".into(),
            fleet: "lab".into(),
            decky: "web-01".into(),
            service: "redis".into(),
        }
    }

    const CONNECT: &str = r#"{"v":1,"ts":"2024-05-01T12:34:56.789Z","decky":"web-01","service":"redis","kind":"connect","transport":"tcp","src_ip":"10.0.0.9","src_port":40000,"dst_port":6379,"conn":3}"#;

    #[test]
    fn a_sensor_line_is_classified_with_its_indexed_fields() {
        let event = NewEvent::from_line(&origin(), 5, 0, CONNECT.into());
        assert_eq!(event.kind, "connect");
        assert_eq!(event.ts.unix_millis(), 1_714_566_896_789);
        assert_eq!((event.src_ip.as_deref(), event.dst_port), (Some("10.0.0.9"), Some(6379)));
        assert_eq!(event.data.as_ref().unwrap()["conn"], json!(3));
        assert!(!event.is_malformed());
        // Labels, not the line, say which decky and service.
        let claims = CONNECT.replace("\"decky\":\"web-01\"", "\"decky\":\"elsewhere\"");
        assert_eq!(NewEvent::from_line(&origin(), 5, 0, claims).decky, "web-01");
    }

    #[test]
    fn unknown_fields_and_kinds_are_kept_as_they_are() {
        let line = r#"{"v":1,"ts":"2024-05-01T12:00:00.000Z","decky":"d","service":"ssh","kind":"auth","transport":"tcp","username":"root","password":"toor","extra":{"nested":[1,2]}}"#;
        let event = NewEvent::from_line(&origin(), 0, 0, line.into());
        assert_eq!(event.kind, "auth");
        assert_eq!(event.data.as_ref().unwrap()["extra"], json!({"nested": [1, 2]}));
        assert_eq!((event.src_ip, event.dst_port), (None, None));
    }

    #[test]
    fn lines_that_are_not_sensor_events_are_malformed_and_timed_by_docker() {
        let docker_ts = 1_714_566_896_789_123_456;
        for raw in [
            "panic: something",
            "",
            "[1,2,3]",
            "\"text\"",
            r#"{"ts":"2024-05-01T12:00:00Z","kind":"connect","service":"x"}"#,
            r#"{"v":"1","ts":"2024-05-01T12:00:00Z","kind":"connect","service":"x"}"#,
            r#"{"v":1,"kind":"connect","service":"x"}"#,
            r#"{"v":1,"ts":"yesterday","kind":"connect","service":"x"}"#,
            r#"{"v":1,"ts":"2024-05-01T12:00:00Z","service":"x"}"#,
            r#"{"v":1,"ts":"2024-05-01T12:00:00Z","kind":"","service":"x"}"#,
            r#"{"v":1,"ts":"2024-05-01T12:00:00Z","kind":"connect"}"#,
            r#"{"v":1,"ts":"2024-05-01T12:00:00Z","kind":"connect","service":"x""#,
        ] {
            let event = NewEvent::from_line(&origin(), docker_ts, 0, raw.into());
            assert_eq!(event.kind, MALFORMED_KIND, "{raw:?}");
            assert!(event.is_malformed());
            assert_eq!(event.raw, raw);
            assert_eq!(event.ts.unix_millis(), 1_714_566_896_789, "{raw:?}");
        }
    }

    #[test]
    fn json_output_is_the_sensor_object_with_its_id_or_the_malformed_form() {
        let mut stored = StoredEvent::inserted(42, NewEvent::from_line(&origin(), 0, 0, CONNECT.into()));
        let value = stored.to_json();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys[..3], ["id", "v", "ts"]);
        assert_eq!(value["id"], json!(42));
        assert_eq!(value["src_port"], json!(40000));
        assert_eq!(stored.field("src_port").as_deref(), Some("40000"));
        assert_eq!(stored.field("src_ip").as_deref(), Some("10.0.0.9"));

        stored = StoredEvent::inserted(43, NewEvent::from_line(&origin(), 1_000_000, 0, "oops".into()));
        assert_eq!(
            stored.to_json(),
            json!({"id": 43, "kind": "malformed", "ts": "1970-01-01T00:00:00.001Z", "decky": "web-01",
                   "service": "redis", "malformed": "oops"})
        );
        assert_eq!(stored.field("src_ip"), None);
    }
}
