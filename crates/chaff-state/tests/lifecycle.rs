//! Lifecycle rows: one open operation per decky, the transition guard, the log, recovery.

use std::path::Path;
use std::sync::{Arc, Barrier};

use chaff_state::{
    HostKind, HostRecord, LOCAL_HOST_ID, LifecycleRow, LifecycleStatus, MAX_TEXT_CHARS, NewOperation,
    Operation, StatusChange, Store, StoreError, Timestamp, TransitionRecord, Uuid,
};

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);
const T1: Timestamp = Timestamp::from_unix_millis(1_700_000_001_000);
const T2: Timestamp = Timestamp::from_unix_millis(1_700_000_002_000);

fn open(path: &Path) -> Store {
    Store::open(path, T0).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn request(n: u128, decky: &str, operation: Operation) -> NewOperation {
    NewOperation {
        id: id(n),
        fleet: "lab".into(),
        decky: decky.into(),
        host: LOCAL_HOST_ID.into(),
        operation,
    }
}

fn statuses(rows: &[LifecycleRow]) -> Vec<LifecycleStatus> {
    rows.iter().map(|row| row.status).collect()
}

fn moves(log: &[TransitionRecord]) -> Vec<(Option<LifecycleStatus>, LifecycleStatus)> {
    log.iter().map(|entry| (entry.from, entry.to)).collect()
}

#[test]
fn opening_operations_creates_pending_rows_and_logs_their_creation() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    let rows = store
        .open_operations(&[request(2, "web", Operation::Deploy), request(1, "db", Operation::AddService)], T0)
        .unwrap();
    assert_eq!(rows.iter().map(|row| row.id).collect::<Vec<_>>(), [id(2), id(1)], "request order");
    let web = &rows[0];
    assert_eq!(
        (web.fleet.as_str(), web.decky.as_str(), web.host.as_str(), web.operation, web.status),
        ("lab", "web", LOCAL_HOST_ID, Operation::Deploy, LifecycleStatus::Pending)
    );
    assert_eq!((web.started_at, web.updated_at, web.completed_at), (T0, T0, None));
    assert_eq!((web.error.as_deref(), web.step.as_deref()), (None, None));
    let log = store.transitions(id(2)).unwrap();
    assert_eq!(moves(&log), [(None, LifecycleStatus::Pending)]);
    assert_eq!(log[0].at, T0);
    assert!(store.open_operations(&[], T0).unwrap().is_empty());
}

#[test]
fn a_decky_with_an_open_operation_refuses_another_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.open_operations(&[request(1, "web", Operation::Deploy)], T0).unwrap();

    for status_change in [None, Some(StatusChange::running())] {
        if let Some(change) = status_change {
            store.transition(id(1), change, T1).unwrap();
        }
        let error = store.open_operations(&[request(2, "web", Operation::Mutate)], T1).unwrap_err();
        assert!(
            matches!(&error, StoreError::Conflict { decky, open_id, operation: Operation::Deploy, .. }
                if decky == "web" && *open_id == id(1)),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("decky 'web' of fleet 'lab' already has an operation in progress: deploy {}", id(1))
        );
    }
    assert!(store.lifecycle_rows(&[id(2)]).unwrap().is_empty());
}

#[test]
fn a_batch_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.open_operations(&[request(1, "web", Operation::Deploy)], T0).unwrap();
    let error = store
        .open_operations(&[request(2, "db", Operation::Deploy), request(3, "web", Operation::Deploy)], T1)
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { open_id, .. } if open_id == id(1)));
    assert!(store.lifecycle_rows(&[id(2), id(3)]).unwrap().is_empty(), "db's row was rolled back");
    assert!(store.transitions(id(2)).unwrap().is_empty());

    // The same decky twice in one batch: the second meets the first.
    let error = store
        .open_operations(&[request(4, "mail", Operation::Deploy), request(5, "mail", Operation::Mutate)], T1)
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { open_id, .. } if open_id == id(4)));
    assert_eq!(store.open_lifecycle_rows().unwrap().len(), 1);
}

#[test]
fn deckies_are_told_apart_by_fleet_and_a_closed_operation_frees_its_decky() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    let mut other_fleet = request(2, "web", Operation::Deploy);
    other_fleet.fleet = "dmz".into();
    store.open_operations(&[request(1, "web", Operation::Deploy), other_fleet], T0).unwrap();

    store.transition(id(1), StatusChange::failed("no such image"), T1).unwrap();
    // A retry is a new row; the failed one stays failed.
    store.open_operations(&[request(3, "web", Operation::Deploy)], T2).unwrap();
    let history = store.decky_history("lab", "web").unwrap();
    assert_eq!(statuses(&history), [LifecycleStatus::Failed, LifecycleStatus::Pending]);
}

#[test]
fn unknown_hosts_and_reused_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    let mut elsewhere = request(1, "web", Operation::Deploy);
    elsewhere.host = "nowhere".into();
    assert!(
        matches!(store.open_operations(&[elsewhere.clone()], T0), Err(StoreError::UnknownHost(host)) if host == "nowhere")
    );

    store
        .save_host(&HostRecord {
            id: "nowhere".into(),
            name: "bench".into(),
            kind: HostKind::Local,
            docker_endpoint: None,
        })
        .unwrap();
    store.open_operations(&[elsewhere], T0).unwrap();
    let reused = request(1, "db", Operation::Deploy);
    assert!(
        matches!(store.open_operations(&[reused], T0), Err(StoreError::DuplicateLifecycleId(reused)) if reused == id(1))
    );
}

#[test]
fn the_happy_path_is_logged_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.open_operations(&[request(1, "web", Operation::Deploy)], T0).unwrap();

    let running = store.transition(id(1), StatusChange::running().with_detail("pulling image"), T1).unwrap();
    assert_eq!(
        (running.status, running.updated_at, running.completed_at),
        (LifecycleStatus::Running, T1, None)
    );
    assert_eq!(running.step.as_deref(), Some("pulling image"));

    let stepped = store.record_step(id(1), "starting ssh", T1).unwrap();
    assert_eq!(stepped.step.as_deref(), Some("starting ssh"));

    let done = store.transition(id(1), StatusChange::succeeded(), T2).unwrap();
    assert_eq!((done.status, done.updated_at, done.completed_at), (LifecycleStatus::Succeeded, T2, Some(T2)));
    assert_eq!(done.step.as_deref(), Some("starting ssh"), "a transition without detail keeps the step");
    assert_eq!(done.started_at, T0);

    let log = store.transitions(id(1)).unwrap();
    use LifecycleStatus::*;
    assert_eq!(moves(&log), [(None, Pending), (Some(Pending), Running), (Some(Running), Succeeded)]);
    assert_eq!(log.iter().map(|entry| entry.at).collect::<Vec<_>>(), [T0, T1, T2]);
    assert_eq!(log[1].detail.as_deref(), Some("pulling image"));
}

#[test]
fn pending_may_end_directly() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store
        .open_operations(&[request(1, "a", Operation::Teardown), request(2, "b", Operation::Teardown)], T0)
        .unwrap();
    assert_eq!(
        store.transition(id(1), StatusChange::succeeded(), T1).unwrap().status,
        LifecycleStatus::Succeeded
    );
    let failed = store.transition(id(2), StatusChange::failed("docker unavailable"), T1).unwrap();
    assert_eq!(
        (failed.status, failed.error.as_deref()),
        (LifecycleStatus::Failed, Some("docker unavailable"))
    );
    assert_eq!(failed.completed_at, Some(T1));
}

#[test]
fn the_guard_refuses_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.open_operations(&[request(1, "web", Operation::Mutate)], T0).unwrap();
    store.transition(id(1), StatusChange::running(), T1).unwrap();

    let error = store.transition(id(1), StatusChange::running(), T2).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::InvalidTransition {
                from: LifecycleStatus::Running,
                to: LifecycleStatus::Running,
                ..
            }
        ),
        "{error:?}"
    );

    store.transition(id(1), StatusChange::failed("boom"), T1).unwrap();
    let settled = store.lifecycle_rows(&[id(1)]).unwrap();
    let log_length = store.transitions(id(1)).unwrap().len();
    for change in [StatusChange::running(), StatusChange::succeeded(), StatusChange::failed("again")] {
        let error = store.transition(id(1), change, T2).unwrap_err();
        assert!(
            matches!(error, StoreError::AlreadyTerminal { status: LifecycleStatus::Failed, .. }),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("lifecycle row {} already failed; terminal rows are never reopened", id(1))
        );
    }
    assert!(matches!(store.record_step(id(1), "late", T2), Err(StoreError::AlreadyTerminal { .. })));
    assert_eq!(store.lifecycle_rows(&[id(1)]).unwrap(), settled);
    assert_eq!(store.transitions(id(1)).unwrap().len(), log_length);

    assert!(
        matches!(store.transition(id(9), StatusChange::running(), T2), Err(StoreError::LifecycleNotFound(missing)) if missing == id(9))
    );
    assert!(matches!(store.record_step(id(9), "x", T2), Err(StoreError::LifecycleNotFound(_))));
}

#[test]
fn errors_are_cut_to_2000_characters_at_a_character_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.open_operations(&[request(1, "web", Operation::Deploy)], T0).unwrap();
    // 1999 ASCII characters, then multibyte ones: byte 2000 falls inside 'é'.
    let long = format!("{}é🦀{}", "x".repeat(MAX_TEXT_CHARS - 1), "ü".repeat(50));
    let failed =
        store.transition(id(1), StatusChange::failed(long.clone()).with_detail(long.clone()), T1).unwrap();

    let error = failed.error.unwrap();
    assert_eq!(error.chars().count(), MAX_TEXT_CHARS);
    assert_eq!(error, format!("{}é", "x".repeat(MAX_TEXT_CHARS - 1)));
    assert!(long.starts_with(&error));
    let logged = store.transitions(id(1)).unwrap().pop().unwrap();
    assert_eq!(logged.error.as_deref(), Some(error.as_str()));
    assert_eq!(logged.detail.unwrap().chars().count(), MAX_TEXT_CHARS);
    assert_eq!(failed.step.unwrap().chars().count(), MAX_TEXT_CHARS);

    // Exactly 2000 is kept whole.
    store.open_operations(&[request(2, "db", Operation::Deploy)], T1).unwrap();
    let exact = "🦀".repeat(MAX_TEXT_CHARS);
    let kept = store.transition(id(2), StatusChange::failed(exact.clone()), T2).unwrap();
    assert_eq!(kept.error.as_deref(), Some(exact.as_str()));
}

#[test]
fn rows_by_id_are_ordered_by_start_and_unknown_ids_omitted() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store.open_operations(&[request(3, "c", Operation::Deploy)], T2).unwrap();
    store
        .open_operations(&[request(1, "a", Operation::Deploy), request(2, "b", Operation::Deploy)], T0)
        .unwrap();

    let rows = store.lifecycle_rows(&[id(3), id(42), id(2), id(1), id(3)]).unwrap();
    assert_eq!(rows.iter().map(|row| row.id).collect::<Vec<_>>(), [id(1), id(2), id(3)]);
    assert!(store.lifecycle_rows(&[]).unwrap().is_empty());
    assert!(store.lifecycle_rows(&[id(42)]).unwrap().is_empty());
}

#[test]
fn start_up_recovery_lists_and_closes_open_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir.path().join("s.db"));
    store
        .open_operations(
            &[
                request(1, "a", Operation::Deploy),
                request(2, "b", Operation::Mutate),
                request(3, "c", Operation::Deploy),
            ],
            T0,
        )
        .unwrap();
    store.transition(id(2), StatusChange::running(), T1).unwrap();
    store.transition(id(3), StatusChange::succeeded(), T1).unwrap();

    let open = store.open_lifecycle_rows().unwrap();
    assert_eq!(open.iter().map(|row| row.id).collect::<Vec<_>>(), [id(1), id(2)]);

    let closed = store.close_open_rows("interrupted by restart", T2).unwrap();
    assert_eq!(closed.iter().map(|row| row.id).collect::<Vec<_>>(), [id(1), id(2)]);
    for row in &closed {
        assert_eq!(row.status, LifecycleStatus::Failed);
        assert_eq!(row.error.as_deref(), Some("interrupted by restart"));
        assert_eq!((row.updated_at, row.completed_at), (T2, Some(T2)));
    }
    let log = store.transitions(id(2)).unwrap();
    assert_eq!(moves(&log).last(), Some(&(Some(LifecycleStatus::Running), LifecycleStatus::Failed)));
    assert_eq!(log.last().unwrap().error.as_deref(), Some("interrupted by restart"));

    assert!(store.open_lifecycle_rows().unwrap().is_empty());
    assert!(store.close_open_rows("again", T2).unwrap().is_empty());
    assert_eq!(
        store.lifecycle_rows(&[id(3)]).unwrap()[0].status,
        LifecycleStatus::Succeeded,
        "terminal rows untouched"
    );
}

#[test]
fn two_connections_racing_for_one_decky_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(open(&path));
    for round in 0..20u128 {
        let decky = format!("decky-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2u128)
            .map(|side| {
                let (path, barrier, decky) = (path.clone(), barrier.clone(), decky.clone());
                std::thread::spawn(move || {
                    let mut store = open(&path);
                    let mine = request(round * 10 + side + 1, &decky, Operation::Deploy);
                    barrier.wait();
                    store.open_operations(&[mine], T0)
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|racer| racer.join().unwrap()).collect();
        let winners: Vec<&LifecycleRow> =
            results.iter().filter_map(|result| result.as_ref().ok()).flatten().collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let loser = results.iter().find_map(|result| result.as_ref().err()).unwrap();
        assert!(
            matches!(loser, StoreError::Conflict { open_id, .. } if *open_id == winners[0].id),
            "round {round}: {loser:?}"
        );
    }
    assert_eq!(open(&path).open_lifecycle_rows().unwrap().len(), 20);
}

#[test]
fn the_schema_enforces_the_rules_for_any_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = open(&path);
    store.open_operations(&[request(1, "web", Operation::Deploy)], T0).unwrap();
    store.transition(id(1), StatusChange::succeeded(), T1).unwrap();
    store.open_operations(&[request(2, "web", Operation::Mutate)], T1).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();

    let reopen = raw.execute(
        &format!("UPDATE lifecycle SET status = 'running', completed_at = NULL WHERE id = '{}'", id(1)),
        [],
    );
    assert!(reopen.unwrap_err().to_string().contains("never reopened"));

    let second_open = raw.execute(
        "INSERT INTO lifecycle (id, fleet, decky, host, operation, status, started_at, updated_at)
         VALUES ('x', 'lab', 'web', 'local', 'deploy', 'pending', 0, 0)",
        [],
    );
    assert!(second_open.unwrap_err().to_string().contains("UNIQUE"));

    let open_but_completed =
        raw.execute(&format!("UPDATE lifecycle SET completed_at = 5 WHERE id = '{}'", id(2)), []);
    assert!(open_but_completed.unwrap_err().to_string().contains("CHECK"));

    let unknown_operation = raw.execute(
        "INSERT INTO lifecycle (id, fleet, decky, host, operation, status, started_at, updated_at)
         VALUES ('y', 'lab', 'db', 'local', 'reboot', 'pending', 0, 0)",
        [],
    );
    assert!(unknown_operation.unwrap_err().to_string().contains("CHECK"));

    let too_long = raw.execute(
        &format!("UPDATE lifecycle SET error = '{}' WHERE id = '{}'", "x".repeat(MAX_TEXT_CHARS + 1), id(2)),
        [],
    );
    assert!(too_long.unwrap_err().to_string().contains("CHECK"));

    assert!(
        raw.execute("DELETE FROM lifecycle_transitions", []).unwrap_err().to_string().contains("append-only")
    );
    assert!(
        raw.execute("UPDATE lifecycle_transitions SET at = 0", [])
            .unwrap_err()
            .to_string()
            .contains("append-only")
    );
}
