//! Fleets and deckies: save, load, delete, on real SQLite files.

use std::net::IpAddr;

use chaff_state::{
    DeckyRecord, FleetRecord, HostKind, HostRecord, LOCAL_HOST_ID, NewOperation, Operation, StatusChange,
    Store, StoreError, Timestamp, Uuid,
};
use serde_json::{Value, json};

const T0: Timestamp = Timestamp::from_unix_millis(1_700_000_000_000);
const T1: Timestamp = Timestamp::from_unix_millis(1_700_000_060_000);

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path().join("state.db"), T0).unwrap()
}

/// A decky shaped like the engine's `Decky` (member order, nesting, a large integer).
fn decky(name: &str, ip: &str) -> DeckyRecord {
    DeckyRecord::from_desired(json!({
        "name": name,
        "ip": ip,
        "hostname": format!("SRV-{}", name.to_uppercase()),
        "distro": "debian",
        "archetype": null,
        "os_family": "linux",
        "services": ["ssh", "http"],
        "service_config": {"ssh": {"banner": "OpenSSH_9.2p1 Débian-2", "port": 22}, "http": {}},
        "mutate_interval": null,
        "last_mutated": 18_446_744_073_709_551_615u64,
    }))
    .unwrap()
}

fn fleet(name: &str, deckies: Vec<DeckyRecord>) -> FleetRecord {
    FleetRecord {
        name: name.into(),
        network: json!({"driver": "macvlan", "subnet": "10.9.0.0/24", "gateway": "10.9.0.1", "parent": "eth0"}),
        log_target: Some("10.0.0.5:514".into()),
        mutate_interval: Some(45),
        custom_services: json!([{"name": "byo", "image": "nginx:1", "command": [], "ports": [80]}]),
        fleet_services: json!([{"slug": "sniffer", "ip": "10.9.0.254"}]),
        deckies,
    }
}

#[test]
fn a_fleet_round_trips_exactly_in_decky_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    // Not alphabetical: the fleet's order is kept.
    let saved =
        fleet("lab", vec![decky("zulu", "10.9.0.9"), decky("alpha", "10.9.0.2"), decky("mike", "10.9.0.5")]);
    store.save_fleet(&saved, T0).unwrap();

    let loaded = store.load_fleet("lab").unwrap().unwrap();
    assert_eq!(loaded.record, saved);
    // Member order too: the JSON text is identical.
    assert_eq!(serde_json::to_string(&loaded.record).unwrap(), serde_json::to_string(&saved).unwrap());
    assert_eq!((loaded.created_at, loaded.updated_at), (T0, T0));
}

#[test]
fn a_fleet_without_optional_fields_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    let mut saved = fleet("bare", vec![]);
    saved.log_target = None;
    saved.mutate_interval = None;
    saved.custom_services = json!([]);
    saved.fleet_services = json!([]);
    store.save_fleet(&saved, T0).unwrap();
    assert_eq!(store.load_fleet("bare").unwrap().unwrap().record, saved);
    store.save_fleet(&fleet("lab", vec![]), T0).unwrap();
    let targets = store.fleet_log_targets().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!((targets["bare"].as_deref(), targets["lab"].as_deref()), (None, Some("10.0.0.5:514")));
}

#[test]
fn saving_again_replaces_the_deckies_and_keeps_created_at() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    store
        .save_fleet(
            &fleet("lab", vec![decky("a", "10.9.0.2"), decky("b", "10.9.0.3"), decky("c", "10.9.0.4")]),
            T0,
        )
        .unwrap();

    // b removed, a and c swap addresses (would collide if updated one by one), d added.
    let mut changed =
        fleet("lab", vec![decky("c", "10.9.0.2"), decky("a", "10.9.0.4"), decky("d", "10.9.0.7")]);
    changed.log_target = None;
    store.save_fleet(&changed, T1).unwrap();

    let loaded = store.load_fleet("lab").unwrap().unwrap();
    assert_eq!(loaded.record, changed);
    assert_eq!((loaded.created_at, loaded.updated_at), (T0, T1));
}

#[test]
fn names_and_addresses_are_unique_per_fleet_not_across_fleets() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    store.save_fleet(&fleet("one", vec![decky("web", "10.9.0.2")]), T0).unwrap();
    store.save_fleet(&fleet("two", vec![decky("web", "10.9.0.2")]), T0).unwrap();
    assert_eq!(store.fleet_names().unwrap(), ["one", "two"]);
}

#[test]
fn duplicate_names_or_addresses_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    let original = fleet("lab", vec![decky("a", "10.9.0.2")]);
    store.save_fleet(&original, T0).unwrap();

    let twice = fleet("lab", vec![decky("a", "10.9.0.2"), decky("a", "10.9.0.3")]);
    let error = store.save_fleet(&twice, T1).unwrap_err();
    assert!(matches!(&error, StoreError::DuplicateDecky { decky, .. } if decky == "a"), "{error:?}");
    assert_eq!(error.to_string(), "fleet 'lab': decky name 'a' is used twice");

    let shared_ip = fleet("lab", vec![decky("a", "10.9.0.2"), decky("b", "10.9.0.2")]);
    let error = store.save_fleet(&shared_ip, T1).unwrap_err();
    assert_eq!(error.to_string(), "fleet 'lab': ip 10.9.0.2 is used by decky 'a' and decky 'b'");

    let loaded = store.load_fleet("lab").unwrap().unwrap();
    assert_eq!((loaded.record, loaded.updated_at), (original, T0));
}

#[test]
fn indexed_columns_must_agree_with_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    let mut renamed = decky("a", "10.9.0.2");
    renamed.name = "b".into();
    let error = store.save_fleet(&fleet("lab", vec![renamed]), T0).unwrap_err();
    assert!(matches!(&error, StoreError::InconsistentDecky { field: "name", .. }), "{error:?}");

    let mut moved = decky("a", "10.9.0.2");
    moved.ip = "10.9.0.3".parse::<IpAddr>().unwrap();
    let error = store.save_fleet(&fleet("lab", vec![moved]), T0).unwrap_err();
    assert_eq!(error.to_string(), "fleet 'lab': decky 'a' has ip '10.9.0.3' but its JSON says \"10.9.0.2\"");

    // JSON without those members is the caller's business.
    let opaque =
        DeckyRecord { name: "a".into(), ip: "10.9.0.2".parse().unwrap(), desired: json!({"services": []}) };
    store.save_fleet(&fleet("lab", vec![opaque]), T0).unwrap();
    assert!(store.load_fleet("nope").unwrap().is_none());
}

#[test]
fn decky_records_can_be_read_from_their_json() {
    let record = DeckyRecord::from_desired(json!({"name": "a", "ip": "10.9.0.2", "x": 1})).unwrap();
    assert_eq!((record.name.as_str(), record.ip.to_string()), ("a", "10.9.0.2".to_owned()));
    assert!(DeckyRecord::from_desired(json!({"name": "a"})).is_none());
    assert!(DeckyRecord::from_desired(json!({"name": "a", "ip": "not-an-ip"})).is_none());
    assert!(DeckyRecord::from_desired(Value::Null).is_none());
}

#[test]
fn deleting_a_fleet_removes_its_deckies_but_keeps_lifecycle_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    store.save_fleet(&fleet("lab", vec![decky("a", "10.9.0.2")]), T0).unwrap();
    let id = Uuid::from_u128(7);
    let request = NewOperation {
        id,
        fleet: "lab".into(),
        decky: "a".into(),
        host: LOCAL_HOST_ID.into(),
        operation: Operation::Teardown,
    };
    store.open_operations(&[request], T0).unwrap();

    let error = store.delete_fleet("lab").unwrap_err();
    assert!(
        matches!(&error, StoreError::FleetBusy { id: busy, operation: Operation::Teardown, .. } if *busy == id),
        "{error:?}"
    );
    assert!(store.load_fleet("lab").unwrap().is_some(), "a busy fleet is kept");

    store.transition(id, StatusChange::succeeded(), T1).unwrap();
    store.delete_fleet("lab").unwrap();
    assert!(store.load_fleet("lab").unwrap().is_none());
    assert!(store.fleet_names().unwrap().is_empty());
    assert_eq!(store.decky_history("lab", "a").unwrap().len(), 1);

    // Its deckies went with it: the name and address are free again.
    store.save_fleet(&fleet("lab", vec![decky("a", "10.9.0.2")]), T1).unwrap();
    assert!(matches!(store.delete_fleet("ghost"), Err(StoreError::FleetNotFound(name)) if name == "ghost"));
}

#[test]
fn the_schema_itself_refuses_a_duplicate_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    store.save_fleet(&fleet("lab", vec![decky("a", "10.9.0.2")]), T0).unwrap();
    let raw = rusqlite::Connection::open(store.path()).unwrap();
    let error = raw
        .execute(
            "INSERT INTO deckies (fleet, position, name, ip, desired) VALUES ('lab', 1, 'b', '10.9.0.2', '{}')",
            [],
        )
        .unwrap_err();
    assert!(error.to_string().contains("UNIQUE"), "{error}");
}

#[test]
fn hosts_start_with_the_local_engine_and_can_be_added() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir);
    let local = HostRecord {
        id: LOCAL_HOST_ID.into(),
        name: "local".into(),
        kind: HostKind::Local,
        docker_endpoint: None,
    };
    assert_eq!(store.hosts().unwrap(), std::slice::from_ref(&local));

    let lab = HostRecord {
        id: "lab-2".into(),
        name: "bench".into(),
        kind: HostKind::Local,
        docker_endpoint: Some("unix:///run/user/1000/docker.sock".into()),
    };
    store.save_host(&lab).unwrap();
    assert_eq!(store.host("lab-2").unwrap(), Some(lab.clone()));
    assert_eq!(store.hosts().unwrap(), [lab, local]);
    assert_eq!(store.host("missing").unwrap(), None);
}
