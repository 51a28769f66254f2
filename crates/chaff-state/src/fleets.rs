//! Fleets and their deckies: the desired state, saved and loaded whole.
//!
//! The store does not know the engine's `Fleet` type (that would pull wasmtime into the
//! store). The engine fills a [`FleetRecord`] with serde: the fleet's own fields as columns or
//! JSON, each decky as its full JSON plus the two members the database must index (name, ip).
//! Saving then loading gives back an equal record (JSON member order included, with
//! serde_json's `preserve_order`), so `Fleet -> FleetRecord -> Fleet` round-trips exactly.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::debug;

use crate::{Store, StoreError, Timestamp, lifecycle};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetRecord {
    /// The fleet's key; saving under another name makes another fleet.
    pub name: String,
    /// The engine's `Network` as JSON.
    pub network: Value,
    pub log_target: Option<String>,
    pub mutate_interval: Option<u32>,
    /// The engine's `Vec<CustomService>` as JSON.
    pub custom_services: Value,
    /// The engine's `Vec<FleetService>` as JSON.
    pub fleet_services: Value,
    /// In the fleet's order, which loading preserves. Names unique, ips unique.
    pub deckies: Vec<DeckyRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeckyRecord {
    pub name: String,
    pub ip: IpAddr,
    /// The engine's `Decky` as JSON. When it is an object with `name` / `ip` members they
    /// must equal the fields above (saving checks), so the indexed columns never lie.
    pub desired: Value,
}

impl DeckyRecord {
    /// A record whose name and ip are read from `desired`'s `name` and `ip` members.
    pub fn from_desired(desired: Value) -> Option<DeckyRecord> {
        let name = desired.get("name")?.as_str()?.to_owned();
        let ip = desired.get("ip")?.as_str()?.parse().ok()?;
        Some(DeckyRecord { name, ip, desired })
    }
}

/// A fleet as loaded: the record plus when it was first and last saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredFleet {
    pub record: FleetRecord,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Store {
    /// Saves `fleet` and exactly its deckies (deckies no longer listed are removed), in one
    /// transaction. Keeps `created_at` of an existing fleet; sets `updated_at` to `now`.
    pub fn save_fleet(&mut self, fleet: &FleetRecord, now: Timestamp) -> Result<(), StoreError> {
        check_deckies(fleet)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        upsert_fleet_row(&tx, fleet, now)?;
        replace_deckies(&tx, fleet)?;
        tx.commit()?;
        debug!(fleet = %fleet.name, deckies = fleet.deckies.len(), "saved fleet");
        Ok(())
    }

    /// Every stored fleet's `log_target` as written (`None`: not forwarded), by name.
    pub fn fleet_log_targets(&self) -> Result<HashMap<String, Option<String>>, StoreError> {
        let mut statement = self.conn.prepare_cached("SELECT name, log_target FROM fleets")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The fleet named `name` with its deckies, read from one snapshot; `None` if absent.
    pub fn load_fleet(&self, name: &str) -> Result<Option<StoredFleet>, StoreError> {
        let snapshot = self.conn.unchecked_transaction()?;
        let Some(mut stored) = read_fleet_row(&snapshot, name)? else {
            return Ok(None);
        };
        stored.record.deckies = read_deckies(&snapshot, name)?;
        Ok(Some(stored))
    }

    /// Names of every saved fleet, sorted.
    pub fn fleet_names(&self) -> Result<Vec<String>, StoreError> {
        let mut statement = self.conn.prepare("SELECT name FROM fleets ORDER BY name")?;
        let names = statement.query_map([], |row| row.get(0))?;
        Ok(names.collect::<Result<_, _>>()?)
    }

    /// Deletes the fleet and its deckies (not its lifecycle history). Refused with
    /// [`StoreError::FleetBusy`] while any of its deckies has an open operation.
    pub fn delete_fleet(&mut self, name: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(open) = lifecycle::first_open_in_fleet(&tx, name)? {
            return Err(StoreError::FleetBusy {
                fleet: name.to_owned(),
                decky: open.decky,
                id: open.id,
                operation: open.operation,
            });
        }
        if tx.execute("DELETE FROM fleets WHERE name = ?1", [name])? == 0 {
            return Err(StoreError::FleetNotFound(name.to_owned()));
        }
        tx.commit()?;
        debug!(fleet = name, "deleted fleet");
        Ok(())
    }
}

/// Names unique, ips unique, and the indexed columns agree with the JSON. Checked before
/// writing for clear errors; the schema's unique constraints are the backstop.
fn check_deckies(fleet: &FleetRecord) -> Result<(), StoreError> {
    let mut names = HashSet::new();
    let mut ips: HashMap<IpAddr, &str> = HashMap::new();
    for decky in &fleet.deckies {
        check_desired_agrees(&fleet.name, decky)?;
        if !names.insert(decky.name.as_str()) {
            return Err(StoreError::DuplicateDecky { fleet: fleet.name.clone(), decky: decky.name.clone() });
        }
        if let Some(first) = ips.insert(decky.ip, &decky.name) {
            return Err(StoreError::DuplicateAddress {
                fleet: fleet.name.clone(),
                ip: decky.ip.to_string(),
                first: first.to_owned(),
                second: decky.name.clone(),
            });
        }
    }
    Ok(())
}

fn check_desired_agrees(fleet: &str, decky: &DeckyRecord) -> Result<(), StoreError> {
    let disagree = |field, column: String, json: &Value| StoreError::InconsistentDecky {
        fleet: fleet.to_owned(),
        decky: decky.name.clone(),
        field,
        column,
        json: json.to_string(),
    };
    if let Some(json) = decky.desired.get("name")
        && json.as_str() != Some(decky.name.as_str())
    {
        return Err(disagree("name", decky.name.clone(), json));
    }
    if let Some(json) = decky.desired.get("ip")
        && json.as_str().and_then(|text| text.parse::<IpAddr>().ok()) != Some(decky.ip)
    {
        return Err(disagree("ip", decky.ip.to_string(), json));
    }
    Ok(())
}

fn upsert_fleet_row(conn: &Connection, fleet: &FleetRecord, now: Timestamp) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO fleets (name, network, log_target, mutate_interval, custom_services, fleet_services,
                             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (name) DO UPDATE SET
             network = excluded.network, log_target = excluded.log_target,
             mutate_interval = excluded.mutate_interval, custom_services = excluded.custom_services,
             fleet_services = excluded.fleet_services, updated_at = excluded.updated_at",
        params![
            fleet.name,
            serde_json::to_string(&fleet.network)?,
            fleet.log_target,
            fleet.mutate_interval,
            serde_json::to_string(&fleet.custom_services)?,
            serde_json::to_string(&fleet.fleet_services)?,
            now.unix_millis(),
        ],
    )?;
    Ok(())
}

/// Delete-then-insert, so swapping two deckies' names or ips never trips a unique constraint
/// halfway.
fn replace_deckies(conn: &Connection, fleet: &FleetRecord) -> Result<(), StoreError> {
    conn.execute("DELETE FROM deckies WHERE fleet = ?1", [&fleet.name])?;
    let mut insert =
        conn.prepare("INSERT INTO deckies (fleet, position, name, ip, desired) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (position, decky) in fleet.deckies.iter().enumerate() {
        insert.execute(params![
            fleet.name,
            position as i64,
            decky.name,
            decky.ip.to_string(),
            serde_json::to_string(&decky.desired)?,
        ])?;
    }
    Ok(())
}

fn read_fleet_row(conn: &Connection, name: &str) -> Result<Option<StoredFleet>, StoreError> {
    type Columns = (String, Option<String>, Option<i64>, String, String, i64, i64);
    let columns: Option<Columns> = conn
        .query_row(
            "SELECT network, log_target, mutate_interval, custom_services, fleet_services, created_at, updated_at
             FROM fleets WHERE name = ?1",
            [name],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?)),
        )
        .optional()?;
    let Some((network, log_target, mutate_interval, custom_services, fleet_services, created_at, updated_at)) =
        columns
    else {
        return Ok(None);
    };
    let record = FleetRecord {
        name: name.to_owned(),
        network: parse_json("fleets.network", &network)?,
        log_target,
        mutate_interval: mutate_interval
            .map(|minutes| u32::try_from(minutes).map_err(|_| corrupt_interval(name, minutes)))
            .transpose()?,
        custom_services: parse_json("fleets.custom_services", &custom_services)?,
        fleet_services: parse_json("fleets.fleet_services", &fleet_services)?,
        deckies: Vec::new(),
    };
    Ok(Some(StoredFleet {
        record,
        created_at: Timestamp::from_unix_millis(created_at),
        updated_at: Timestamp::from_unix_millis(updated_at),
    }))
}

fn read_deckies(conn: &Connection, fleet: &str) -> Result<Vec<DeckyRecord>, StoreError> {
    let mut statement =
        conn.prepare("SELECT name, ip, desired FROM deckies WHERE fleet = ?1 ORDER BY position")?;
    let rows = statement.query_map([fleet], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
    })?;
    let mut deckies = Vec::new();
    for row in rows {
        let (name, ip, desired) = row?;
        let ip =
            ip.parse().map_err(|_| StoreError::Corrupt(format!("deckies.ip '{ip}' of decky '{name}'")))?;
        deckies.push(DeckyRecord { name, ip, desired: parse_json("deckies.desired", &desired)? });
    }
    Ok(deckies)
}

fn parse_json(column: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("{column} is not JSON: {error}")))
}

fn corrupt_interval(fleet: &str, minutes: i64) -> StoreError {
    StoreError::Corrupt(format!("fleets.mutate_interval {minutes} of fleet '{fleet}'"))
}
