//! The store's typed errors.

use std::path::PathBuf;

use uuid::Uuid;

use crate::lifecycle::{LifecycleStatus, Operation};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the state database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the state database {path} is at schema version {found}, newer than this build of Chaff \
         knows ({known}); use a newer Chaff (the database was left unchanged)"
    )]
    SchemaTooNew { path: PathBuf, found: u32, known: u32 },
    #[error(
        "{path} is a SQLite database but not Chaff's (it has tables and no schema_migrations); it was left unchanged"
    )]
    NotAChaffDatabase { path: PathBuf },
    #[error("the state database {path} cannot use WAL journaling (SQLite kept '{mode}')")]
    NoWal { path: PathBuf, mode: String },
    #[error("migrating the state database {path} to version {version} ({name}) failed: {source}")]
    Migration { path: PathBuf, version: u32, name: &'static str, source: rusqlite::Error },

    #[error("fleet '{0}' not found")]
    FleetNotFound(String),
    #[error("fleet '{fleet}': decky name '{decky}' is used twice")]
    DuplicateDecky { fleet: String, decky: String },
    #[error("fleet '{fleet}': ip {ip} is used by decky '{first}' and decky '{second}'")]
    DuplicateAddress { fleet: String, ip: String, first: String, second: String },
    /// The indexed column of a [`crate::DeckyRecord`] disagrees with the same member of its JSON.
    #[error("fleet '{fleet}': decky '{decky}' has {field} '{column}' but its JSON says {json}")]
    InconsistentDecky { fleet: String, decky: String, field: &'static str, column: String, json: String },
    /// The fleet can't be deleted while one of its deckies has an open operation.
    #[error("fleet '{fleet}' has an operation in progress: {operation} {id} on decky '{decky}'")]
    FleetBusy { fleet: String, decky: String, id: Uuid, operation: Operation },

    #[error("unknown host '{0}'")]
    UnknownHost(String),

    /// One open operation per decky: `open_id` is the pending or running row in the way.
    #[error("decky '{decky}' of fleet '{fleet}' already has an operation in progress: {operation} {open_id}")]
    Conflict { fleet: String, decky: String, open_id: Uuid, operation: Operation },
    #[error("lifecycle id {0} is already used")]
    DuplicateLifecycleId(Uuid),
    #[error("lifecycle row {0} not found")]
    LifecycleNotFound(Uuid),
    /// Terminal rows are never reopened or changed; a retry is a new row.
    #[error("lifecycle row {id} already {status}; terminal rows are never reopened")]
    AlreadyTerminal { id: Uuid, status: LifecycleStatus },
    #[error("lifecycle row {id} cannot go from {from} to {to}")]
    InvalidTransition { id: Uuid, from: LifecycleStatus, to: LifecycleStatus },

    /// A stored value the store itself could not have written (hand-edited or damaged file).
    #[error("the state database holds a corrupt value: {0}")]
    Corrupt(String),
    #[error("serialising JSON for the state database: {0}")]
    Json(#[from] serde_json::Error),
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
