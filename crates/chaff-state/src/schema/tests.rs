//! Migration tests: from an empty database, from every earlier schema, refusals.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::*;
use crate::{Store, Uuid};

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);
const T1: Timestamp = Timestamp::from_unix_millis(1_700_000_600_000);

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("chaff.db")
}

/// A database as a build that knew only migrations `1..=version` left it.
fn create_at_version(path: &Path, version: u32) {
    let mut conn = connect(path).unwrap();
    migrate_to(&mut conn, path, version, T0).unwrap();
    assert_eq!(current_version(&conn).unwrap(), version);
}

/// The schema as SQLite records it, for comparing databases.
fn schema_of(path: &Path) -> Vec<(String, String, Option<String>)> {
    let conn = Connection::open(path).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn migration_rows(path: &Path) -> Vec<(u32, i64)> {
    let conn = Connection::open(path).unwrap();
    let mut statement =
        conn.prepare("SELECT version, applied_at FROM schema_migrations ORDER BY version").unwrap();
    statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn file_digest(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn migrations_are_numbered_from_one_without_gaps() {
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        assert_eq!(migration.version as usize, index + 1, "migration {}", migration.name);
    }
    const { assert!(SCHEMA_VERSION >= 3) };
}

#[test]
fn an_empty_database_is_migrated_to_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(db_path(&dir), T0).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let expected: Vec<(u32, i64)> = (1..=SCHEMA_VERSION).map(|version| (version, T0.unix_millis())).collect();
    assert_eq!(migration_rows(store.path()), expected);
}

#[test]
fn reopening_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(db_path(&dir), T0).unwrap());
    drop(Store::open(db_path(&dir), T1).unwrap());
    assert!(migration_rows(&db_path(&dir)).iter().all(|(_, applied_at)| *applied_at == T0.unix_millis()));
}

#[test]
fn every_earlier_schema_migrates_to_the_same_schema_as_a_fresh_database() {
    let fresh = tempfile::tempdir().unwrap();
    drop(Store::open(db_path(&fresh), T0).unwrap());
    let expected = schema_of(&db_path(&fresh));
    for version in 0..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        create_at_version(&path, version);
        let store = Store::open(&path, T1).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION, "from version {version}");
        assert_eq!(schema_of(&path), expected, "from version {version}");
        let applied: Vec<u32> = migration_rows(&path).into_iter().map(|(v, _)| v).collect();
        assert_eq!(applied, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    }
}

#[test]
fn a_version_1_database_with_data_keeps_it_and_gains_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    create_at_version(&path, 1);
    let open_id = Uuid::from_u128(1);
    let done_id = Uuid::from_u128(2);
    {
        // Written as version-1 code wrote it.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO fleets VALUES ('lab', '{{\"driver\":\"bridge\"}}', 'logs:514', 12, '[]', '[]', 10, 20);
             INSERT INTO deckies VALUES ('lab', 0, 'web-01', '10.9.0.2', '{{\"name\":\"web-01\",\"ip\":\"10.9.0.2\"}}');
             INSERT INTO lifecycle (id, fleet, decky, host, operation, status, started_at, updated_at)
                 VALUES ('{open_id}', 'lab', 'web-01', 'local', 'deploy', 'running', 100, 110);
             INSERT INTO lifecycle (id, fleet, decky, host, operation, status, error, started_at, updated_at, completed_at)
                 VALUES ('{done_id}', 'lab', 'web-02', 'local', 'mutate', 'failed', 'boom', 50, 60, 60);
             INSERT INTO lifecycle_transitions (lifecycle_id, from_status, to_status, at)
                 VALUES ('{open_id}', NULL, 'pending', 100), ('{open_id}', 'pending', 'running', 110);"
        ))
        .unwrap();
    }

    let mut store = Store::open(&path, T1).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);

    let fleet = store.load_fleet("lab").unwrap().unwrap();
    assert_eq!(fleet.record.log_target.as_deref(), Some("logs:514"));
    assert_eq!(fleet.record.mutate_interval, Some(12));
    assert_eq!(fleet.record.deckies[0].name, "web-01");
    assert_eq!((fleet.created_at.unix_millis(), fleet.updated_at.unix_millis()), (10, 20));

    let rows = store.lifecycle_rows(&[open_id, done_id]).unwrap();
    assert_eq!(rows.iter().map(|row| row.id).collect::<Vec<_>>(), [done_id, open_id], "by started_at");
    assert!(rows.iter().all(|row| row.step.is_none()), "old rows have no step");
    assert_eq!(rows[0].error.as_deref(), Some("boom"));
    assert_eq!(store.transitions(open_id).unwrap().len(), 2);

    // Migration 2's column and index are in use on the old rows.
    let stepped = store.record_step(open_id, "starting ssh", T1).unwrap();
    assert_eq!(stepped.step.as_deref(), Some("starting ssh"));
    assert_eq!(store.decky_history("lab", "web-01").unwrap().len(), 1);
    let plan: String = store
        .conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT * FROM lifecycle WHERE fleet = 'lab' AND decky = 'web-02' ORDER BY started_at",
            [],
            |row| row.get(3),
        )
        .unwrap();
    assert!(plan.contains("lifecycle_by_decky"), "{plan}");
    // The one-open-per-decky rule of version 1 still holds for its rows.
    assert_eq!(store.open_lifecycle_rows().unwrap().len(), 1);
}

#[test]
fn a_version_2_database_with_data_keeps_it_and_gains_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    create_at_version(&path, 2);
    let id = Uuid::from_u128(9);
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "INSERT INTO fleets VALUES ('lab', '{{\"driver\":\"bridge\"}}', 'udp://logs:514', NULL, '[]', '[]', 10, 20);
             INSERT INTO lifecycle (id, fleet, decky, host, operation, status, step, started_at, updated_at)
                 VALUES ('{id}', 'lab', 'web-01', 'local', 'deploy', 'running', 'create web-01', 100, 110);"
        ))
        .unwrap();

    let mut store = Store::open(&path, T1).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        store.load_fleet("lab").unwrap().unwrap().record.log_target.as_deref(),
        Some("udp://logs:514")
    );
    assert_eq!(store.lifecycle_rows(&[id]).unwrap()[0].step.as_deref(), Some("create web-01"));

    // Migration 3's tables are in use: a line goes in once, its cursor moves, the JSON
    // column reads the line.
    let origin = crate::EventOrigin {
        container: "c1".into(),
        fleet: "lab".into(),
        decky: "web-01".into(),
        service: "redis".into(),
    };
    let line = r#"{"v":1,"ts":"2024-05-01T12:34:56.789Z","decky":"web-01","service":"redis","kind":"connect","transport":"tcp","dst_port":6379}"#;
    let event = || crate::NewEvent::from_line(&origin, 7, 0, line.to_owned());
    assert_eq!(store.ingest_events(vec![event()], T1).unwrap().inserted.len(), 1);
    assert_eq!(store.ingest_events(vec![event()], T1).unwrap().duplicates, 1);
    assert_eq!(store.event_cursor("c1").unwrap().map(|c| (c.docker_ts_ns, c.seq)), Some((7, 0)));
    let port: i64 = store
        .conn
        .query_row("SELECT json_extract(data, '$.dst_port') FROM events", [], |row| row.get(0))
        .unwrap();
    assert_eq!(port, 6379);
}

#[test]
fn a_newer_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(Store::open(&path, T0).unwrap());
    let newer = SCHEMA_VERSION + 1;
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 5)", [newer]).unwrap();
        conn.execute_batch("CREATE TABLE from_the_future (x)").unwrap();
    }
    let before = file_digest(&path);

    let error = Store::open(&path, T1).unwrap_err();
    assert!(
        matches!(error, StoreError::SchemaTooNew { found, known, .. } if found == newer && known == SCHEMA_VERSION),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!(
            "schema version {newer}, newer than this build of Chaff knows ({SCHEMA_VERSION})"
        )),
        "{error}"
    );
    assert_eq!(file_digest(&path), before);
    assert_eq!(migration_rows(&path).last().unwrap().0, newer);
}

#[test]
fn a_newer_database_in_rollback_journal_mode_is_not_switched_to_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO schema_migrations VALUES ({}, 0);",
            SCHEMA_VERSION + 7
        ))
        .unwrap();
    }
    let before = file_digest(&path);
    assert!(matches!(Store::open(&path, T0), Err(StoreError::SchemaTooNew { .. })));
    assert_eq!(file_digest(&path), before);
    let mode: String =
        Connection::open(&path).unwrap().query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "delete");
}

#[test]
fn someone_elses_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    Connection::open(&path).unwrap().execute_batch("CREATE TABLE notes (body TEXT)").unwrap();
    let before = file_digest(&path);
    assert!(matches!(Store::open(&path, T0), Err(StoreError::NotAChaffDatabase { .. })));
    assert_eq!(file_digest(&path), before);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(&path, "fleet = lab\n".repeat(200)).unwrap();
    let before = file_digest(&path);
    let error = Store::open(&path, T0).unwrap_err();
    assert!(matches!(&error, StoreError::Open { path: named, .. } if *named == path), "{error:?}");
    assert!(error.to_string().contains("chaff.db"), "{error}");
    assert_eq!(file_digest(&path), before);
}

#[test]
fn a_failing_migration_leaves_the_database_at_its_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut conn = connect(&path).unwrap();
    migrate_to(&mut conn, &path, SCHEMA_VERSION, T0).unwrap();
    let broken = Migration {
        version: SCHEMA_VERSION + 1,
        name: "broken",
        sql: "CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);",
    };
    let error = apply_if_pending(&mut conn, &path, &broken, T1).unwrap_err();
    assert!(matches!(error, StoreError::Migration { name: "broken", .. }), "{error:?}");
    assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
    let half_done: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(half_done, 0, "the migration's partial work was rolled back");
}

#[test]
fn several_openers_of_a_fresh_database_at_once_all_succeed() {
    // Races switching the new file to WAL and creating the schema; repeated to catch them.
    for _round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let barrier = Arc::new(Barrier::new(3));
        let openers: Vec<_> = (0..3)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open(&path, T0).map(|store| store.schema_version().unwrap())
                })
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap().unwrap(), SCHEMA_VERSION);
        }
        assert_eq!(migration_rows(&path).len(), SCHEMA_VERSION as usize);
    }
}

#[test]
fn wal_and_foreign_keys_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(db_path(&dir), T0).unwrap();
    assert_eq!(store.journal_mode().unwrap(), "wal");
    let foreign_keys: bool = store.conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0)).unwrap();
    assert!(foreign_keys);
    // WAL is recorded in the file: a plain connection sees it too.
    let mode: String = Connection::open(store.path())
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(dir.path().join("chaff.db-wal").exists());
}
