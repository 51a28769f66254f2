//! Connection set-up and the embedded migrations.
//!
//! Invariants:
//! * `MIGRATIONS` are numbered 1, 2, 3, ... in order; each runs once, in its own
//!   `BEGIN IMMEDIATE` transaction together with its `schema_migrations` row, so a database is
//!   always exactly at some version — never between two.
//! * A database whose highest applied version exceeds [`SCHEMA_VERSION`] is refused before
//!   anything is written (not even the journal mode).
//! * Released migrations are never edited; the schema evolves by appending one.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tracing::{debug, info};

use crate::{BUSY_TIMEOUT, StoreError, Timestamp};

struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "base", sql: include_str!("migrations/0001_base.sql") },
    Migration { version: 2, name: "lifecycle_step", sql: include_str!("migrations/0002_lifecycle_step.sql") },
    Migration { version: 3, name: "events", sql: include_str!("migrations/0003_events.sql") },
];

/// The schema version this build writes: the number of embedded migrations.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

const TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// Opens `path` with the per-connection settings (foreign keys, busy timeout), refuses a
/// database this build can't own, then switches it to WAL.
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |source| StoreError::Open { path: path.to_path_buf(), source };
    let conn = Connection::open(path).map_err(open_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(open_error)?;
    refuse_foreign_database(&conn, path).map_err(|error| with_path(error, path))?;
    enable_wal(&conn, path).map_err(|error| with_path(error, path))?;
    Ok(conn)
}

/// SQLite failures while opening (a file that is not a database, say) name the file.
fn with_path(error: StoreError, path: &Path) -> StoreError {
    match error {
        StoreError::Sqlite(source) => StoreError::Open { path: path.to_path_buf(), source },
        other => other,
    }
}

/// Read-only checks, before the first write: newer schema, or someone else's database. Run in
/// one read transaction so both queries see the same snapshot (another opener may be
/// creating the schema meanwhile).
fn refuse_foreign_database(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let snapshot = conn.unchecked_transaction()?;
    if has_tracking_table(&snapshot)? {
        let found = current_version(&snapshot)?;
        return check_not_newer(found, path);
    }
    let user_tables: i64 = snapshot.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        [],
        |row| row.get(0),
    )?;
    if user_tables > 0 {
        return Err(StoreError::NotAChaffDatabase { path: path.to_path_buf() });
    }
    Ok(())
}

fn check_not_newer(found: u32, path: &Path) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { path: path.to_path_buf(), found, known: SCHEMA_VERSION });
    }
    Ok(())
}

/// WAL is persistent (recorded in the file); `synchronous = NORMAL` is the usual pairing —
/// durable against application crashes, at most the last commits lost on power failure.
fn enable_wal(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mode = switch_to_wal(conn)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal { path: path.to_path_buf(), mode });
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// When two connections switch a new file to WAL at the same moment, SQLite answers one of
/// them SQLITE_BUSY without calling the busy handler (each would wait for the other), so
/// that one retries, for at most [`BUSY_TIMEOUT`]. Returns the mode SQLite settled on.
fn switch_to_wal(conn: &Connection) -> Result<String, rusqlite::Error> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)) {
            Err(error) if is_busy(&error) && Instant::now() < deadline => {
                debug!("the database is busy switching to WAL; retrying");
                std::thread::sleep(WAL_SWITCH_RETRY);
            }
            settled => return settled,
        }
    }
}

const WAL_SWITCH_RETRY: Duration = Duration::from_millis(10);

fn is_busy(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

fn has_tracking_table(conn: &Connection) -> Result<bool, rusqlite::Error> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

/// The highest applied migration; 0 for an empty database.
pub(crate) fn current_version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    if !has_tracking_table(conn)? {
        return Ok(0);
    }
    conn.query_row("SELECT coalesce(max(version), 0) FROM schema_migrations", [], |row| row.get(0))
}

/// Applies, in order, every migration up to and including `target` not yet applied.
/// Safe against other connections migrating at the same time: each step re-reads the version
/// under the write lock.
pub(crate) fn migrate_to(
    conn: &mut Connection,
    path: &Path,
    target: u32,
    now: Timestamp,
) -> Result<(), StoreError> {
    for migration in MIGRATIONS.iter().take_while(|m| m.version <= target) {
        apply_if_pending(conn, path, migration, now)?;
    }
    Ok(())
}

fn apply_if_pending(
    conn: &mut Connection,
    path: &Path,
    migration: &Migration,
    now: Timestamp,
) -> Result<(), StoreError> {
    let failed = |source| StoreError::Migration {
        path: path.to_path_buf(),
        version: migration.version,
        name: migration.name,
        source,
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(TRACKING_TABLE)?;
    let current = current_version(&tx)?;
    check_not_newer(current, path)?;
    if current >= migration.version {
        debug!(version = migration.version, "migration already applied");
        return Ok(()); // dropping `tx` rolls back the no-op
    }
    // Migrations run in order, so the database is exactly one version behind this one.
    debug_assert_eq!(current + 1, migration.version);
    tx.execute_batch(migration.sql).map_err(failed)?;
    tx.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
        params![migration.version, now.unix_millis()],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)?;
    info!(version = migration.version, name = migration.name, path = %path.display(), "applied state migration");
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
