//! Event ingestion into SQLite (WAL), events per second, side by side:
//!
//! * **batched** — what the engine does: [`Store::ingest_events`] with batches of N lines
//!   (one transaction each: `INSERT OR IGNORE` per line, the containers' cursors, retention
//!   when due), for N = 64, 512 (the follower's batch) and 4,096;
//! * **naive** — the obvious alternative: one `INSERT` per event in autocommit mode (a
//!   transaction per event), into the same table with the same indexes and the same
//!   connection settings (WAL, `synchronous = NORMAL`).
//!
//! Both sides classify each line first (JSON parse, the sensor's fields, RFC 3339), as
//! ingestion does; "classify only" measures that part alone. The workload: 5,000 lines from 20 service containers, a realistic mix of
//! the sensor's kinds (connect, disconnect with a preview, auth with credentials, command,
//! HTTP request, and 1% malformed lines), each iteration into a fresh database file.
//!
//! Run: `cargo bench -p chaff-bench --bench ingest` (see BENCHMARKS.md, "Event ingestion").

use std::time::Duration;

use chaff_state::{EventOrigin, NewEvent, Store, Timestamp};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::params;

const LINES: usize = 5_000;
const CONTAINERS: usize = 20;
const T0: Timestamp = Timestamp::from_unix_millis(1_714_566_896_000);
const DOCKER_T0: i64 = 1_714_566_896_000_000_000;

/// (origin, Docker timestamp, line) for the workload, in log order per container.
fn workload() -> Vec<(EventOrigin, i64, String)> {
    let origins: Vec<EventOrigin> = (0..CONTAINERS)
        .map(|i| EventOrigin {
            container: format!("{:064x}", 0x00c0_ffee_0000_u64 + i as u64),
            fleet: "lab".into(),
            decky: format!("decky-{:02}", i / 2),
            service: ["ssh", "http"][i % 2].into(),
        })
        .collect();
    (0..LINES)
        .map(|n| {
            let origin = &origins[n % CONTAINERS];
            let docker_ts = DOCKER_T0 + n as i64 * 137_000;
            (origin.clone(), docker_ts, line(n, origin))
        })
        .collect()
}

fn line(n: usize, origin: &EventOrigin) -> String {
    let ts = chaff_state::rfc3339::format_millis(T0.unix_millis() + n as i64);
    let common = format!(
        r#""v":1,"ts":"{ts}","decky":"{}","service":"{}","transport":"tcp","src_ip":"203.0.113.{}","src_port":{},"dst_port":{},"conn":{}"#,
        origin.decky,
        origin.service,
        n % 250,
        40_000 + n % 20_000,
        if origin.service == "ssh" { 22 } else { 80 },
        n / 4
    );
    match n % 100 {
        0 => format!("thread 'main' panicked at src/main.rs:{n}"),
        1..=30 => format!(r#"{{{common},"kind":"connect"}}"#),
        31..=55 => format!(
            r#"{{{common},"kind":"disconnect","bytes_in":{},"duration_ms":{},"preview":"SSH-2.0-libssh2_1.10.0\\r\\n\\x00\\x00\\x05\\xdc","reason":"eof"}}"#,
            n % 4096,
            n % 900
        ),
        56..=75 => format!(
            r#"{{{common},"kind":"auth","username":"root","password":"hunter{n}","method":"password"}}"#
        ),
        76..=90 => {
            format!(r#"{{{common},"kind":"command","command":"uname -a; cat /etc/passwd | grep {n}"}}"#)
        }
        _ => format!(
            r#"{{{common},"kind":"request","method":"GET","path":"/wp-login.php?id={n}","headers":{{"user-agent":"Mozilla/5.0 zgrab/0.x"}}}}"#
        ),
    }
}

/// Classifies the workload as ingestion does; lines sharing a Docker timestamp are numbered.
fn classify(work: &[(EventOrigin, i64, String)]) -> Vec<NewEvent> {
    work.iter().map(|(origin, ts, raw)| NewEvent::from_line(origin, *ts, 0, raw.clone())).collect()
}

/// A fresh store (schema migrated, WAL) in its own directory.
fn fresh_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("chaff.db"), T0).unwrap();
    (dir, store)
}

fn batched(store: &mut Store, work: &[(EventOrigin, i64, String)], batch: usize) {
    for chunk in work.chunks(batch) {
        let ingested = store.ingest_events(classify(chunk), T0).unwrap();
        assert_eq!(ingested.inserted.len(), chunk.len());
    }
}

/// One INSERT per event, autocommit, on a plain connection to the store's file with the
/// store's settings.
fn naive(dir: &tempfile::TempDir, work: &[(EventOrigin, i64, String)]) {
    let conn = rusqlite::Connection::open(dir.path().join("chaff.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    let mut insert = conn
        .prepare(
            "INSERT INTO events (container, docker_ts, seq, fleet, decky, service, kind, ts, src_ip, dst_port, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .unwrap();
    for event in classify(work) {
        insert
            .execute(params![
                event.container,
                event.docker_ts_ns,
                event.seq,
                event.fleet,
                event.decky,
                event.service,
                event.kind,
                event.ts.unix_millis(),
                event.src_ip,
                event.dst_port,
                event.raw,
            ])
            .unwrap();
    }
}

fn ingestion(c: &mut Criterion) {
    let work = workload();
    let mut group = c.benchmark_group("event ingestion");
    group.throughput(Throughput::Elements(LINES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for batch in [64, 512, 4096] {
        group.bench_with_input(BenchmarkId::new("batched", batch), &batch, |b, &batch| {
            b.iter_batched(
                fresh_store,
                |(_dir, mut store)| batched(&mut store, &work, batch),
                BatchSize::PerIteration,
            )
        });
    }
    // The share of the work that is not the database: classifying the lines alone.
    group.bench_function("classify only, no database", |b| b.iter(|| classify(&work)));
    group.bench_function("naive: one INSERT per event, autocommit", |b| {
        b.iter_batched(
            fresh_store,
            |(dir, store)| {
                drop(store);
                naive(&dir, &work)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, ingestion);
criterion_main!(benches);
