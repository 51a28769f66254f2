//! Docker engines deckies run on.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// The host every database has from migration 1 on: the machine Chaff runs on.
pub const LOCAL_HOST_ID: &str = "local";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    /// The Docker engine of the machine Chaff runs on.
    Local,
}

impl HostKind {
    pub const ALL: [HostKind; 1] = [HostKind::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Local => "local",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub id: String,
    /// Unique among hosts.
    pub name: String,
    pub kind: HostKind,
    /// How to reach the engine (`unix:///var/run/docker.sock`); `None` for the default.
    pub docker_endpoint: Option<String>,
}

impl Store {
    /// Inserts `host`, or replaces the host with its id.
    pub fn save_host(&mut self, host: &HostRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO hosts (id, name, kind, docker_endpoint) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                                            docker_endpoint = excluded.docker_endpoint",
            params![host.id, host.name, host.kind, host.docker_endpoint],
        )?;
        Ok(())
    }

    pub fn host(&self, id: &str) -> Result<Option<HostRecord>, StoreError> {
        let found = self
            .conn
            .query_row(
                "SELECT id, name, kind, docker_endpoint FROM hosts WHERE id = ?1",
                [id],
                read_host_columns,
            )
            .optional()?;
        Ok(found.map(into_host))
    }

    /// Every host, by name.
    pub fn hosts(&self) -> Result<Vec<HostRecord>, StoreError> {
        let mut statement =
            self.conn.prepare("SELECT id, name, kind, docker_endpoint FROM hosts ORDER BY name")?;
        let rows = statement.query_map([], read_host_columns)?;
        Ok(rows.map(|row| row.map(into_host)).collect::<Result<_, _>>()?)
    }
}

type HostColumns = (String, String, HostKind, Option<String>);

fn read_host_columns(row: &Row<'_>) -> rusqlite::Result<HostColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn into_host((id, name, kind, docker_endpoint): HostColumns) -> HostRecord {
    HostRecord { id, name, kind, docker_endpoint }
}
