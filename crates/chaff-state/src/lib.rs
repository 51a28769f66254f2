//! Chaff's state store: one SQLite database holding the fleets (their desired state), the
//! hosts, the lifecycle rows of every operation on a decky with their transition log, and the
//! events the sensors logged (with a read cursor per container).
//!
//! One store only — the original kept two unsynced stores (a JSON file and a DB key), which is
//! the bug this crate exists to avoid. Everything Chaff persists goes through [`Store`].
//!
//! * **Synchronous.** [`Store`] wraps one `rusqlite::Connection`. Callers on tokio run its
//!   methods inside `tokio::task::spawn_blocking` (or keep a store on a dedicated thread);
//!   never call it directly from an async task. Several stores (connections) may share one
//!   file, in one process or several: writes take SQLite's write lock up front
//!   (`BEGIN IMMEDIATE`) and wait up to [`BUSY_TIMEOUT`] for it.
//! * **Inputs, not ambient state.** Time is a [`Timestamp`] passed by the caller; lifecycle ids
//!   are `Uuid`s the caller creates (`Uuid::new_v4()`), so every rule is testable.
//! * **No engine dependency.** Fleets and deckies are stored as JSON plus the columns the
//!   database must index ([`FleetRecord`], [`DeckyRecord`]); the engine converts its `Fleet` to
//!   and from them with serde. This keeps wasmtime out of the store's dependencies.

mod error;
mod events;
mod fleets;
mod hosts;
mod lifecycle;
mod schema;
mod text;
mod time;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

/// Re-exported: event times are RFC 3339 text on the way in and out.
pub use chaff_time as rfc3339;
pub use error::StoreError;
pub use events::{
    DEFAULT_MAX_AGE, DEFAULT_MAX_EVENTS, EventCursor, EventOrigin, EventQuery, Ingested, MALFORMED_KIND,
    NewEvent, PRUNE_EVERY, PRUNE_EVERY_EVENTS, Retention, StoredEvent,
};
pub use fleets::{DeckyRecord, FleetRecord, StoredFleet};
pub use hosts::{HostKind, HostRecord, LOCAL_HOST_ID};
pub use lifecycle::{LifecycleRow, LifecycleStatus, NewOperation, Operation, StatusChange, TransitionRecord};
pub use schema::SCHEMA_VERSION;
pub use text::{MAX_TEXT_CHARS, truncate_chars};
pub use time::Timestamp;
/// Re-exported: lifecycle ids are `Uuid`s.
pub use uuid::Uuid;

/// How long a write waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The state database. See the crate documentation for the threading rule.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    retention: events::RetentionState,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if absent) the database at `path` and migrates it to
    /// [`SCHEMA_VERSION`]; `now` stamps the migrations it applies.
    ///
    /// Refuses, changing nothing, a database written by a newer Chaff
    /// ([`StoreError::SchemaTooNew`]) and a SQLite file that is not a Chaff database
    /// ([`StoreError::NotAChaffDatabase`]).
    pub fn open(path: impl AsRef<Path>, now: Timestamp) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = schema::connect(&path)?;
        schema::migrate_to(&mut conn, &path, SCHEMA_VERSION, now)?;
        Ok(Store { conn, path, retention: events::RetentionState::new(Retention::default()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The highest migration applied to the database (equals [`SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(schema::current_version(&self.conn)?)
    }

    /// The database's journal mode as SQLite reports it (`"wal"` for every open store).
    pub fn journal_mode(&self) -> Result<String, StoreError> {
        Ok(self.conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    /// Callers move a store into `spawn_blocking` or onto its own thread.
    #[test]
    fn a_store_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<super::Store>();
    }
}
