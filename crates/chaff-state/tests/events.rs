//! Events in the store: each line once, cursors, queries, malformed lines, retention.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chaff_state::{
    EventCursor, EventOrigin, EventQuery, MALFORMED_KIND, NewEvent, Retention, Store, StoredEvent, Timestamp,
};

const T0: Timestamp = Timestamp::from_unix_millis(1_714_566_896_000);
/// 2024-05-01T12:34:56Z in nanoseconds: Docker's timestamps in these tests start here.
const DOCKER_T0: i64 = 1_714_566_896_000_000_000;

fn open(path: &Path) -> Store {
    Store::open(path, T0).unwrap()
}

fn origin(container: &str, decky: &str, service: &str) -> EventOrigin {
    EventOrigin {
        container: container.into(),
        fleet: "lab".into(),
        decky: decky.into(),
        service: service.into(),
    }
}

/// A sensor line at `ms` milliseconds after T0.
fn line(decky: &str, service: &str, kind: &str, ms: i64, conn: u64) -> String {
    let ts = chaff_state::rfc3339::format_millis(T0.unix_millis() + ms);
    format!(
        r#"{{"v":1,"ts":"{ts}","decky":"{decky}","service":"{service}","kind":"{kind}","transport":"tcp","src_ip":"10.0.0.9","src_port":40000,"dst_port":6379,"conn":{conn}}}"#
    )
}

/// `count` lines of one container, one per Docker millisecond.
fn lines(from: &EventOrigin, count: usize) -> Vec<NewEvent> {
    (0..count)
        .map(|i| {
            let raw = line(&from.decky, &from.service, "connect", i as i64, i as u64);
            NewEvent::from_line(from, DOCKER_T0 + i as i64 * 1_000_000, 0, raw)
        })
        .collect()
}

fn ids(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id).collect()
}

#[test]
fn a_batch_is_stored_once_with_its_cursor_and_read_back_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    let redis = origin("c-redis", "web-01", "redis");
    let batch = lines(&redis, 5);
    let ingested = store.ingest_events(batch.clone(), T0).unwrap();
    assert_eq!((ingested.inserted.len(), ingested.duplicates), (5, 0));
    let last = EventCursor { docker_ts_ns: DOCKER_T0 + 4_000_000, seq: 0 };
    assert_eq!(store.event_cursor("c-redis").unwrap(), Some(last));
    assert_eq!(store.event_cursor("c-other").unwrap(), None);

    let all = store.events(&EventQuery::default()).unwrap();
    assert_eq!(all, ingested.inserted, "what ingestion returned is what a query reads");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let first = &all[0];
    assert_eq!(
        (first.fleet.as_str(), first.decky.as_str(), first.service.as_str()),
        ("lab", "web-01", "redis")
    );
    assert_eq!((first.kind.as_str(), first.ts, first.dst_port), ("connect", T0, Some(6379)));
    assert_eq!(first.raw, batch[0].raw);

    // The same lines again (a resume from an older cursor): nothing new, cursor unchanged.
    let again = store.ingest_events(batch, T0).unwrap();
    assert_eq!((again.inserted.len(), again.duplicates), (0, 5));
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 5);
    // An older line never moves the cursor back.
    store.ingest_events(lines(&redis, 1), T0).unwrap();
    assert_eq!(store.event_cursor("c-redis").unwrap(), Some(last));
}

#[test]
fn lines_sharing_a_docker_timestamp_are_told_apart_by_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    let redis = origin("c-redis", "web-01", "redis");
    let same = |seq| NewEvent::from_line(&redis, DOCKER_T0, seq, line("web-01", "redis", "connect", 0, 1));
    let stored = store.ingest_events(vec![same(0), same(1)], T0).unwrap();
    assert_eq!(stored.inserted.len(), 2, "two identical lines at one instant are two events");
    assert_eq!(store.event_cursor("c-redis").unwrap(), Some(EventCursor { docker_ts_ns: DOCKER_T0, seq: 1 }));
    assert_eq!(store.ingest_events(vec![same(0), same(1), same(2)], T0).unwrap().inserted.len(), 1);
    let cursor = store.event_cursor("c-redis").unwrap().unwrap();
    assert_eq!(cursor, EventCursor { docker_ts_ns: DOCKER_T0, seq: 2 });
    assert!(cursor.covers(DOCKER_T0, 2) && cursor.covers(DOCKER_T0 - 1, 9));
    assert!(!cursor.covers(DOCKER_T0, 3) && !cursor.covers(DOCKER_T0 + 1, 0));
}

#[test]
fn two_stores_ingesting_the_same_container_at_once_store_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(open(&path));
    let redis = origin("c-redis", "web-01", "redis");
    let batch = lines(&redis, 2_000);
    let barrier = Arc::new(Barrier::new(2));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (path, barrier, batch) = (path.clone(), barrier.clone(), batch.clone());
            std::thread::spawn(move || {
                let mut store = open(&path);
                barrier.wait();
                let mut inserted = 0;
                for chunk in batch.chunks(100) {
                    inserted += store.ingest_events(chunk.to_vec(), T0).unwrap().inserted.len();
                }
                inserted
            })
        })
        .collect();
    let inserted: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(inserted, 2_000, "between them, each line was inserted by exactly one");
    assert_eq!(open(&path).count_events(&EventQuery::default()).unwrap(), 2_000);
}

#[test]
fn malformed_lines_are_stored_with_their_text_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    let ssh = origin("c-ssh", "web-01", "ssh");
    let batch = vec![
        NewEvent::from_line(&ssh, DOCKER_T0, 0, "thread 'main' panicked".into()),
        NewEvent::from_line(&ssh, DOCKER_T0 + 1, 0, line("web-01", "ssh", "connect", 0, 1)),
        NewEvent::from_line(&ssh, DOCKER_T0 + 2, 0, r#"{"v":1,"kind":"connect"}"#.into()),
        NewEvent::from_line(&ssh, DOCKER_T0 + 3, 0, "[]".into()),
    ];
    store.ingest_events(batch, T0).unwrap();
    assert_eq!(store.malformed_count().unwrap(), 3);
    let malformed =
        store.events(&EventQuery { kind: Some(MALFORMED_KIND.into()), ..EventQuery::default() }).unwrap();
    let texts: Vec<&str> = malformed.iter().map(|e| e.raw.as_str()).collect();
    assert_eq!(texts, ["thread 'main' panicked", r#"{"v":1,"kind":"connect"}"#, "[]"]);
    assert!(malformed.iter().all(|e| e.data.is_none() && e.decky == "web-01" && e.service == "ssh"));
    assert_eq!(malformed[0].to_json()["malformed"], "thread 'main' panicked");
}

#[test]
fn queries_filter_by_fleet_decky_service_kind_time_and_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    let web = origin("c-web", "web-01", "http");
    let db = EventOrigin { fleet: "other".into(), ..origin("c-db", "db-01", "mysql") };
    let mut batch = Vec::new();
    for i in 0..10i64 {
        let (from, kind) = if i % 2 == 0 { (&web, "connect") } else { (&db, "disconnect") };
        let raw = line(&from.decky, &from.service, kind, i * 60_000, i as u64);
        batch.push(NewEvent::from_line(from, DOCKER_T0 + i, 0, raw));
    }
    let all = store.ingest_events(batch, T0).unwrap().inserted;
    let query = |q: EventQuery| ids(&store.events(&q).unwrap());
    let even: Vec<i64> = all.iter().step_by(2).map(|e| e.id).collect();
    let odd: Vec<i64> = all.iter().skip(1).step_by(2).map(|e| e.id).collect();

    assert_eq!(query(EventQuery { decky: Some("web-01".into()), ..Default::default() }), even);
    assert_eq!(query(EventQuery { fleet: Some("other".into()), ..Default::default() }), odd);
    assert_eq!(query(EventQuery { service: Some("mysql".into()), ..Default::default() }), odd);
    assert_eq!(query(EventQuery { kind: Some("connect".into()), ..Default::default() }), even);
    let since = Timestamp::from_unix_millis(T0.unix_millis() + 6 * 60_000);
    assert_eq!(query(EventQuery { since: Some(since), ..Default::default() }), ids(&all[6..]));
    assert_eq!(query(EventQuery { after_id: Some(all[7].id), ..Default::default() }), ids(&all[8..]));
    // A limit takes the first ones after `after_id` (following), or the latest ones.
    assert_eq!(query(EventQuery { limit: Some(3), ..Default::default() }), ids(&all[..3]));
    assert_eq!(query(EventQuery { limit: Some(3), latest: true, ..Default::default() }), ids(&all[7..]));
    let combined = EventQuery {
        decky: Some("web-01".into()),
        since: Some(since),
        limit: Some(1),
        latest: true,
        ..Default::default()
    };
    assert_eq!(query(combined.clone()), [all[8].id]);
    assert_eq!(store.count_events(&combined).unwrap(), 2, "a count ignores the limit");
    assert!(query(EventQuery { decky: Some("nobody".into()), ..Default::default() }).is_empty());
}

#[test]
fn retention_caps_the_count_and_the_age_during_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.set_event_retention(Retention { max_events: 100, max_age: Duration::from_secs(3600) });
    let redis = origin("c-redis", "web-01", "redis");
    // The first ingestion of a store prunes (nothing to prune yet); the next ones do not
    // until enough events or time went by.
    let first = store.ingest_events(lines(&redis, 150), T0).unwrap();
    assert_eq!(first.pruned, 50);
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 100);
    let oldest = store.events(&EventQuery { limit: Some(1), ..Default::default() }).unwrap();
    assert_eq!(oldest[0].id, first.inserted[50].id, "the oldest went first");

    let more: Vec<NewEvent> = lines(&redis, 200).into_iter().skip(150).collect();
    assert_eq!(store.ingest_events(more, T0).unwrap().pruned, 0, "not due: cheap batches");
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 150);

    // Ten minutes later retention is due again: the count cap and the age both apply.
    let later = Timestamp::from_unix_millis(T0.unix_millis() + 3_601_000);
    let young = NewEvent::from_line(&redis, DOCKER_T0 + 10_000_000_000_000, 0, {
        line("web-01", "redis", "connect", 3_600_000, 999)
    });
    let pruned = store.ingest_events(vec![young], later).unwrap().pruned;
    assert_eq!(pruned, 150, "every event older than an hour went");
    let left = store.events(&EventQuery::default()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].data.as_ref().unwrap()["conn"], 999);

    // Ids are never reused, even after everything was pruned.
    store.set_event_retention(Retention { max_events: 0, max_age: Duration::from_secs(3600) });
    assert_eq!(store.prune_events(later).unwrap(), 1);
    let next = store.ingest_events(lines(&origin("c-new", "web-01", "redis"), 1), later).unwrap();
    assert!(next.inserted[0].id > left[0].id);
}

#[test]
fn cursors_of_containers_that_are_gone_are_forgotten_but_their_events_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.ingest_events(lines(&origin("c-old", "web-01", "redis"), 2), T0).unwrap();
    store.ingest_events(lines(&origin("c-new", "web-01", "redis"), 2), T0).unwrap();
    assert_eq!(store.forget_event_cursors_except(&["c-new".to_owned()]).unwrap(), 1);
    assert_eq!(store.event_cursor("c-old").unwrap(), None);
    assert!(store.event_cursor("c-new").unwrap().is_some());
    assert_eq!(store.count_events(&EventQuery::default()).unwrap(), 4);
}
