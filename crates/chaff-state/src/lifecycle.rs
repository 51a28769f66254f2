//! Lifecycle rows: one per operation on one decky, with an append-only transition log.
//!
//! Invariants (each enforced in code for a typed error, and in the schema as a backstop):
//! * at most one open (`pending` or `running`) row per decky — a partial unique index;
//! * status moves only `pending -> running`, `pending|running -> succeeded|failed`;
//!   terminal rows are never reopened — a retry is a new row;
//! * `completed_at` is set exactly when the status is terminal;
//! * every status change, creation included (`None -> pending`), appends one
//!   [`TransitionRecord`] in the same transaction as the change;
//! * error, step and detail texts hold at most [`crate::MAX_TEXT_CHARS`] characters (longer ones are
//!   cut at a character boundary on write).
//!
//! A decky is named by (fleet, decky name), as deckies are unique per fleet. Rows do not
//! reference the deckies table: history outlives a deleted fleet, and a teardown may target a
//! decky no longer in the design.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, ToSql, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use tracing::{debug, info};
use uuid::Uuid;

use crate::text::bounded;
use crate::{Store, StoreError, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Deploy,
    Teardown,
    Mutate,
    AddService,
    RemoveService,
    ApplyConfig,
}

impl Operation {
    pub const ALL: [Operation; 6] = [
        Operation::Deploy,
        Operation::Teardown,
        Operation::Mutate,
        Operation::AddService,
        Operation::RemoveService,
        Operation::ApplyConfig,
    ];

    /// The stored (and serialised) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Deploy => "deploy",
            Operation::Teardown => "teardown",
            Operation::Mutate => "mutate",
            Operation::AddService => "add_service",
            Operation::RemoveService => "remove_service",
            Operation::ApplyConfig => "apply_config",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl LifecycleStatus {
    pub const ALL: [LifecycleStatus; 4] = [
        LifecycleStatus::Pending,
        LifecycleStatus::Running,
        LifecycleStatus::Succeeded,
        LifecycleStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStatus::Pending => "pending",
            LifecycleStatus::Running => "running",
            LifecycleStatus::Succeeded => "succeeded",
            LifecycleStatus::Failed => "failed",
        }
    }

    /// Pending or running: the operation still holds its decky.
    pub fn is_open(self) -> bool {
        !self.is_terminal()
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, LifecycleStatus::Succeeded | LifecycleStatus::Failed)
    }

    /// The transition guard: `pending -> running`, `pending|running -> succeeded|failed`.
    pub fn can_become(self, to: LifecycleStatus) -> bool {
        use LifecycleStatus::*;
        matches!((self, to), (Pending, Running) | (Pending | Running, Succeeded | Failed))
    }
}

/// A spelling that names no value of an enum (an operation, a status, a host kind).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}'")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// Display, FromStr, ToSql and FromSql through the type's `ALL` and `as_str`.
macro_rules! text_enum {
    ($type:ty, $what:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = UnknownValue;

            fn from_str(text: &str) -> Result<Self, UnknownValue> {
                Self::ALL
                    .into_iter()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| UnknownValue { what: $what, value: text.to_owned() })
            }
        }

        impl ToSql for $type {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $type {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str()?.parse().map_err(|error| FromSqlError::Other(Box::new(error)))
            }
        }
    };
}

text_enum!(Operation, "lifecycle operation");
text_enum!(LifecycleStatus, "lifecycle status");
text_enum!(crate::HostKind, "host kind");

/// A request to open an operation on a decky; the caller creates the id (`Uuid::new_v4()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOperation {
    pub id: Uuid,
    pub fleet: String,
    pub decky: String,
    /// A host id of the hosts table ([`crate::LOCAL_HOST_ID`] for the local engine).
    pub host: String,
    pub operation: Operation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRow {
    pub id: Uuid,
    pub fleet: String,
    pub decky: String,
    pub host: String,
    pub operation: Operation,
    pub status: LifecycleStatus,
    /// Why it failed, at most [`crate::MAX_TEXT_CHARS`] characters.
    pub error: Option<String>,
    /// What the operation is doing or last did (progress), at most [`crate::MAX_TEXT_CHARS`].
    pub step: Option<String>,
    pub started_at: Timestamp,
    /// Bumped on every change.
    pub updated_at: Timestamp,
    /// Set exactly when the status is terminal.
    pub completed_at: Option<Timestamp>,
}

/// A status change to apply with [`Store::transition`]. An error goes only with `failed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    to: LifecycleStatus,
    error: Option<String>,
    detail: Option<String>,
}

impl StatusChange {
    pub fn running() -> StatusChange {
        StatusChange { to: LifecycleStatus::Running, error: None, detail: None }
    }

    pub fn succeeded() -> StatusChange {
        StatusChange { to: LifecycleStatus::Succeeded, error: None, detail: None }
    }

    pub fn failed(error: impl Into<String>) -> StatusChange {
        StatusChange { to: LifecycleStatus::Failed, error: Some(error.into()), detail: None }
    }

    /// Notes the step (e.g. "pulling image") in the log and as the row's current step.
    pub fn with_detail(mut self, detail: impl Into<String>) -> StatusChange {
        self.detail = Some(detail.into());
        self
    }

    pub fn to(&self) -> LifecycleStatus {
        self.to
    }
}

/// One entry of the append-only transition log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionRecord {
    pub lifecycle_id: Uuid,
    /// `None` for the row's creation.
    pub from: Option<LifecycleStatus>,
    pub to: LifecycleStatus,
    pub at: Timestamp,
    pub error: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    /// Opens one `pending` row per request, all or none, in one transaction.
    ///
    /// Refused, writing nothing, with [`StoreError::Conflict`] (naming the open row) when a
    /// decky already has an open operation — or is named twice in `requests` — and with
    /// [`StoreError::UnknownHost`] / [`StoreError::DuplicateLifecycleId`]. Returns the new rows
    /// in request order.
    pub fn open_operations(
        &mut self,
        requests: &[NewOperation],
        now: Timestamp,
    ) -> Result<Vec<LifecycleRow>, StoreError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for request in requests {
            insert_pending(&tx, request, now)?;
        }
        let ids: Vec<Uuid> = requests.iter().map(|request| request.id).collect();
        let rows = rows_by_ids(&tx, &ids)?;
        tx.commit()?;
        debug!(count = rows.len(), "opened lifecycle rows");
        Ok(rows)
    }

    /// Moves row `id` to `change.to()` if the guard allows it (see
    /// [`LifecycleStatus::can_become`]), logging the transition in the same transaction.
    /// Terminal targets set `completed_at = now`. Refused, writing nothing, with
    /// [`StoreError::AlreadyTerminal`], [`StoreError::InvalidTransition`] or
    /// [`StoreError::LifecycleNotFound`]. Returns the updated row.
    pub fn transition(
        &mut self,
        id: Uuid,
        change: StatusChange,
        now: Timestamp,
    ) -> Result<LifecycleRow, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = row_by_id(&tx, id)?.ok_or(StoreError::LifecycleNotFound(id))?;
        check_transition(id, current.status, change.to)?;
        let error = change.error.as_deref().map(bounded);
        let detail = change.detail.as_deref().map(bounded);
        tx.execute(
            "UPDATE lifecycle SET status = ?2, error = coalesce(?3, error), step = coalesce(?4, step),
                                  updated_at = ?5, completed_at = ?6
             WHERE id = ?1",
            params![id.to_string(), change.to, error, detail, now, change.to.is_terminal().then_some(now)],
        )?;
        append_transition(&tx, id, Some(current.status), change.to, now, error, detail)?;
        let updated = row_by_id(&tx, id)?.ok_or(StoreError::LifecycleNotFound(id))?;
        tx.commit()?;
        debug!(%id, from = %current.status, to = %change.to, "lifecycle transition");
        Ok(updated)
    }

    /// Records what open row `id` is doing now (progress), without a status change.
    pub fn record_step(&mut self, id: Uuid, step: &str, now: Timestamp) -> Result<LifecycleRow, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = row_by_id(&tx, id)?.ok_or(StoreError::LifecycleNotFound(id))?;
        if current.status.is_terminal() {
            return Err(StoreError::AlreadyTerminal { id, status: current.status });
        }
        tx.execute(
            "UPDATE lifecycle SET step = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.to_string(), bounded(step), now],
        )?;
        let updated = row_by_id(&tx, id)?.ok_or(StoreError::LifecycleNotFound(id))?;
        tx.commit()?;
        Ok(updated)
    }

    /// The rows with these ids, ordered by `started_at` (then creation order); unknown ids are
    /// omitted, repeated ids give one row.
    pub fn lifecycle_rows(&self, ids: &[Uuid]) -> Result<Vec<LifecycleRow>, StoreError> {
        rows_by_ids(&self.conn, ids)
    }

    /// Every open (`pending` or `running`) row, oldest first — what start-up recovery checks.
    pub fn open_lifecycle_rows(&self) -> Result<Vec<LifecycleRow>, StoreError> {
        query_rows(&self.conn, "WHERE status IN ('pending', 'running')", [])
    }

    /// Every operation on one decky, oldest first.
    pub fn decky_history(&self, fleet: &str, decky: &str) -> Result<Vec<LifecycleRow>, StoreError> {
        query_rows(&self.conn, "WHERE fleet = ?1 AND decky = ?2", params![fleet, decky])
    }

    /// The transition log of row `id`, in order (empty for an unknown id).
    pub fn transitions(&self, id: Uuid) -> Result<Vec<TransitionRecord>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT lifecycle_id, from_status, to_status, at, error, detail
             FROM lifecycle_transitions WHERE lifecycle_id = ?1 ORDER BY seq",
        )?;
        let records = statement.query_map([id.to_string()], read_transition)?;
        Ok(records.collect::<Result<_, _>>()?)
    }

    /// Fails every open row with `reason` as its error (e.g. "interrupted by restart"), in one
    /// transaction, logging each; returns the closed rows, oldest first.
    pub fn close_open_rows(&mut self, reason: &str, now: Timestamp) -> Result<Vec<LifecycleRow>, StoreError> {
        let reason = bounded(reason);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let open = query_rows(&tx, "WHERE status IN ('pending', 'running')", [])?;
        for row in &open {
            tx.execute(
                "UPDATE lifecycle SET status = 'failed', error = ?2, updated_at = ?3, completed_at = ?3 WHERE id = ?1",
                params![row.id.to_string(), reason, now],
            )?;
            append_transition(
                &tx,
                row.id,
                Some(row.status),
                LifecycleStatus::Failed,
                now,
                Some(reason),
                None,
            )?;
        }
        let ids: Vec<Uuid> = open.iter().map(|row| row.id).collect();
        let closed = rows_by_ids(&tx, &ids)?;
        tx.commit()?;
        if !closed.is_empty() {
            info!(count = closed.len(), reason, "closed open lifecycle rows");
        }
        Ok(closed)
    }
}

fn check_transition(id: Uuid, from: LifecycleStatus, to: LifecycleStatus) -> Result<(), StoreError> {
    if from.is_terminal() {
        return Err(StoreError::AlreadyTerminal { id, status: from });
    }
    if !from.can_become(to) {
        return Err(StoreError::InvalidTransition { id, from, to });
    }
    Ok(())
}

/// Inserts one pending row and its creation log entry. The partial unique index makes the
/// one-open-per-decky check atomic; its violation is turned into a `Conflict` naming the
/// row in the way.
fn insert_pending(conn: &Connection, request: &NewOperation, now: Timestamp) -> Result<(), StoreError> {
    if !host_exists(conn, &request.host)? {
        return Err(StoreError::UnknownHost(request.host.clone()));
    }
    if row_by_id(conn, request.id)?.is_some() {
        return Err(StoreError::DuplicateLifecycleId(request.id));
    }
    let inserted = conn.execute(
        "INSERT INTO lifecycle (id, fleet, decky, host, operation, status, started_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
        params![request.id.to_string(), request.fleet, request.decky, request.host, request.operation, now],
    );
    match inserted {
        Ok(_) => append_transition(conn, request.id, None, LifecycleStatus::Pending, now, None, None),
        Err(error) if is_unique_violation(&error) => Err(conflict_with_open_row(conn, request, error)),
        Err(error) => Err(error.into()),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == ErrorCode::ConstraintViolation
            && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

fn conflict_with_open_row(
    conn: &Connection,
    request: &NewOperation,
    violation: rusqlite::Error,
) -> StoreError {
    match open_row_of_decky(conn, &request.fleet, &request.decky) {
        Ok(Some(open)) => StoreError::Conflict {
            fleet: request.fleet.clone(),
            decky: request.decky.clone(),
            open_id: open.id,
            operation: open.operation,
        },
        Ok(None) => violation.into(),
        Err(error) => error,
    }
}

fn host_exists(conn: &Connection, host: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row("SELECT 1 FROM hosts WHERE id = ?1", [host], |_| Ok(())).optional()?.is_some())
}

fn append_transition(
    conn: &Connection,
    id: Uuid,
    from: Option<LifecycleStatus>,
    to: LifecycleStatus,
    at: Timestamp,
    error: Option<&str>,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO lifecycle_transitions (lifecycle_id, from_status, to_status, at, error, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id.to_string(), from, to, at, error, detail],
    )?;
    Ok(())
}

fn open_row_of_decky(
    conn: &Connection,
    fleet: &str,
    decky: &str,
) -> Result<Option<LifecycleRow>, StoreError> {
    let rows = query_rows(
        conn,
        "WHERE fleet = ?1 AND decky = ?2 AND status IN ('pending', 'running')",
        params![fleet, decky],
    )?;
    Ok(rows.into_iter().next())
}

/// Some open operation on a decky of `fleet`, if any.
pub(crate) fn first_open_in_fleet(
    conn: &Connection,
    fleet: &str,
) -> Result<Option<LifecycleRow>, StoreError> {
    let rows = query_rows(conn, "WHERE fleet = ?1 AND status IN ('pending', 'running')", [fleet])?;
    Ok(rows.into_iter().next())
}

fn row_by_id(conn: &Connection, id: Uuid) -> Result<Option<LifecycleRow>, StoreError> {
    let rows = query_rows(conn, "WHERE id = ?1", [id.to_string()])?;
    Ok(rows.into_iter().next())
}

/// Passes the ids as one JSON array, so any number of them is one statement.
fn rows_by_ids(conn: &Connection, ids: &[Uuid]) -> Result<Vec<LifecycleRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(ids)?;
    query_rows(conn, "WHERE id IN (SELECT value FROM json_each(?1))", [ids])
}

/// Lifecycle rows matching `filter` (a `WHERE` clause), by `started_at` then creation order.
fn query_rows(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<LifecycleRow>, StoreError> {
    let sql = format!(
        "SELECT id, fleet, decky, host, operation, status, error, step, started_at, updated_at, completed_at
         FROM lifecycle {filter} ORDER BY started_at, rowid"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params, read_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<LifecycleRow> {
    Ok(LifecycleRow {
        id: read_uuid(row, 0)?,
        fleet: row.get(1)?,
        decky: row.get(2)?,
        host: row.get(3)?,
        operation: row.get(4)?,
        status: row.get(5)?,
        error: row.get(6)?,
        step: row.get(7)?,
        started_at: row.get(8)?,
        updated_at: row.get(9)?,
        completed_at: row.get(10)?,
    })
}

fn read_transition(row: &Row<'_>) -> rusqlite::Result<TransitionRecord> {
    Ok(TransitionRecord {
        lifecycle_id: read_uuid(row, 0)?,
        from: row.get(1)?,
        to: row.get(2)?,
        at: row.get(3)?,
        error: row.get(4)?,
        detail: row.get(5)?,
    })
}

fn read_uuid(row: &Row<'_>, column: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(column)?;
    Uuid::parse_str(&text).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(error))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_TEXT_CHARS;

    #[test]
    fn guard_allows_exactly_the_documented_moves() {
        use LifecycleStatus::*;
        let allowed = [
            (Pending, Running),
            (Pending, Succeeded),
            (Pending, Failed),
            (Running, Succeeded),
            (Running, Failed),
        ];
        for from in LifecycleStatus::ALL {
            for to in LifecycleStatus::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn spellings_round_trip_and_match_serde() {
        for operation in Operation::ALL {
            assert_eq!(operation.as_str().parse::<Operation>().unwrap(), operation);
            assert_eq!(serde_json::to_value(operation).unwrap(), operation.as_str());
        }
        for status in LifecycleStatus::ALL {
            assert_eq!(status.as_str().parse::<LifecycleStatus>().unwrap(), status);
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(
            "reboot".parse::<Operation>().unwrap_err().to_string(),
            "unknown lifecycle operation 'reboot'"
        );
        assert_eq!("local".parse::<crate::HostKind>().unwrap(), crate::HostKind::Local);
    }

    #[test]
    fn max_text_is_the_schema_limit() {
        assert!(
            include_str!("schema/migrations/0001_base.sql")
                .contains(&format!("length(error) <= {MAX_TEXT_CHARS}"))
        );
    }
}
