use serde_json::json;

use super::*;

fn fleet(fleet_interval: Option<u32>, deckies: &[(&str, Option<u32>, u64)]) -> Fleet {
    let deckies: Vec<_> = deckies
        .iter()
        .enumerate()
        .map(|(i, (name, interval, last))| {
            json!({
                "name": name, "ip": format!("10.0.0.{}", i + 10), "hostname": name, "distro": "debian",
                "archetype": null, "os_family": "linux", "services": ["ssh"], "service_config": {},
                "mutate_interval": interval, "last_mutated": last,
            })
        })
        .collect();
    serde_json::from_value(json!({
        "name": "lab",
        "network": { "driver": "bridge", "subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "parent": null },
        "log_target": null, "mutate_interval": fleet_interval, "deckies": deckies,
        "custom_services": [], "fleet_services": [],
    }))
    .unwrap()
}

#[test]
fn due_when_the_interval_has_passed_and_reports_the_next() {
    // Default 30 min; a 5 min override; a fleet-wide 10 min.
    let lab = fleet(None, &[("a", None, 1_000), ("b", Some(5), 1_000), ("c", None, 2_700)]);
    let now = 1_000 + 30 * 60;
    assert_eq!(due(&lab, now), Due { now: vec!["a".into(), "b".into()], next_in: Some(1_700) });
    let lab = fleet(Some(10), &[("a", None, 1_000), ("b", Some(60), 1_000)]);
    assert_eq!(due(&lab, 1_000 + 599), Due { now: vec![], next_in: Some(1) });
    assert_eq!(due(&lab, 1_000 + 600), Due { now: vec!["a".into()], next_in: Some(3_000) });
}

#[test]
fn a_clock_behind_last_mutated_is_not_due() {
    let lab = fleet(None, &[("a", None, 10_000)]);
    assert_eq!(due(&lab, 5_000), Due { now: vec![], next_in: Some(1_800) });
}
