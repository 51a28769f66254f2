//! Reconciling desired against observed state, as plain-text plan snapshots. Desired states
//! are small fleets rendered with the fake plugins of `common`; observed states are built by
//! applying plans to an in-memory model of Docker ([`apply`]), which also checks that each
//! step is possible when it runs (no name taken twice, no base removed under its services,
//! no service created before its base).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chaff_engine::ini::{ImportOptions, import_ini};
use chaff_engine::model::Fleet;
use chaff_engine::naming::labels;
use chaff_engine::reconcile::{
    Desired, Observed, ObservedContainer, ObservedNetwork, Plan, SPEC_HASH_LABEL, Scope, Step, reconcile,
    spec_hash,
};
use chaff_engine::render::render_fleet;
use chaff_plugin_host::spec::ConfigValue;
use common::FakePlugins;
use serde_json::{Value, json};

const TWO_DECKIES: &str = "\
[general]
name = lab
net = 10.30.0.0/24

[gw]
services = ssh, http

[win]
archetype = windows-workstation
services = rdp
";

fn fleet() -> Fleet {
    fleet_from(TWO_DECKIES)
}

fn fleet_from(ini: &str) -> Fleet {
    let options = ImportOptions { default_fleet_name: "lab", reserved: &[], now: 1_700_000_000 };
    import_ini(ini, &common::catalogue(), &options, &mut fastrand::Rng::with_seed(3))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn desired(fleet: &Fleet) -> Desired {
    let project = render_fleet(fleet, &FakePlugins::new()).unwrap();
    Desired::from_project(&fleet.name, &project).unwrap()
}

fn deckies(names: &[&str]) -> Scope {
    Scope::Deckies(names.iter().map(|n| n.to_string()).collect())
}

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default()
}

/// The effect of `plan` on `observed`, as Docker would have it, with `desired` supplying the
/// specs of created things. Panics on a step that Docker would refuse or that breaks a
/// decky's namespace.
fn apply(plan: &Plan, desired: &Desired, observed: &Observed) -> Observed {
    let mut observed = observed.clone();
    for step in plan.steps() {
        match step {
            Step::EnsureNetwork { name } => {
                assert!(!observed.networks.iter().any(|n| &n.name == name), "{name} exists");
                let spec = &desired.networks.iter().find(|n| &n.name == name).unwrap().spec;
                observed.networks.push(ObservedNetwork {
                    name: name.clone(),
                    labels: string_map(&spec["labels"]),
                    driver: spec["driver"].as_str().unwrap().to_owned(),
                    subnet: spec["ipam"]["config"][0]["subnet"].as_str().map(str::to_owned),
                });
            }
            Step::CreateContainer { name, spec_hash } => create(&mut observed, desired, name, spec_hash),
            Step::StartContainer { name } => {
                observed.containers.iter_mut().find(|c| &c.name == name).unwrap().running = true;
            }
            Step::RemoveContainer { name } => remove(&mut observed, name),
            Step::RecreateContainer { name, spec_hash } => {
                remove(&mut observed, name);
                create(&mut observed, desired, name, spec_hash);
            }
            Step::RemoveNetwork { name } => {
                let in_use = observed.containers.iter().any(|c| {
                    c.labels.get(labels::FLEET) == Some(&desired.fleet)
                        && c.labels.get(labels::MANAGED).map(String::as_str) == Some("true")
                });
                assert!(!in_use, "network {name} removed while the fleet has containers");
                observed.networks.retain(|n| &n.name != name);
            }
        }
    }
    observed
}

fn create(observed: &mut Observed, desired: &Desired, name: &str, hash: &str) {
    assert!(!observed.containers.iter().any(|c| c.name == name), "{name} exists");
    let container = desired.containers.iter().find(|c| c.name == name).unwrap();
    assert_eq!(container.spec_hash, hash);
    if let Some(base) = container.spec["network_mode"].as_str().and_then(|m| m.strip_prefix("service:")) {
        assert!(observed.containers.iter().any(|c| c.name == base), "{name} created before its base");
    }
    for network in container.spec["networks"].as_object().into_iter().flat_map(|n| n.keys()) {
        assert!(observed.networks.iter().any(|n| &n.name == network), "{name} before network {network}");
    }
    let mut labels = string_map(&container.spec["labels"]);
    labels.insert(SPEC_HASH_LABEL.into(), hash.to_owned());
    observed.containers.push(ObservedContainer { name: name.to_owned(), labels, running: true });
}

fn remove(observed: &mut Observed, name: &str) {
    let container =
        observed.containers.iter().find(|c| c.name == name).expect("removing a missing container");
    if container.labels.get(labels::ROLE).map(String::as_str) == Some("base") {
        // Its service containers: managed, of the same fleet and decky.
        let same = |c: &ObservedContainer, key: &str| c.labels.get(key) == container.labels.get(key);
        let dependants: Vec<&str> = observed
            .containers
            .iter()
            .filter(|c| {
                c.name != name && [labels::FLEET, labels::DECKY, labels::MANAGED].iter().all(|k| same(c, k))
            })
            .map(|c| c.name.as_str())
            .collect();
        assert!(dependants.is_empty(), "base {name} removed before {dependants:?}");
    }
    observed.containers.retain(|c| c.name != name);
}

/// What deploying `desired` from scratch leaves on Docker.
fn deployed(desired: &Desired) -> Observed {
    let plan = reconcile(desired, &Observed::default(), Scope::Fleet);
    apply(&plan, desired, &Observed::default())
}

/// The plan for `scope`, checked to converge: applied, then reconciled again, it is empty.
fn converging_plan(desired: &Desired, observed: &Observed, scope: Scope) -> Plan {
    let plan = reconcile(desired, observed, scope.clone());
    let after = apply(&plan, desired, observed);
    let again = reconcile(desired, &after, scope);
    assert!(again.is_empty(), "not idempotent: after\n{plan}\nstill\n{again}");
    plan
}

fn assert_plan(plan: &Plan, expected: &str) {
    let actual = plan.to_string();
    assert_eq!(actual, expected, "\n--- expected\n{expected}\n--- actual\n{actual}");
}

#[test]
fn fresh_deploy_of_two_deckies() {
    let desired = desired(&fleet());
    let plan = converging_plan(&desired, &Observed::default(), Scope::Fleet);
    assert_plan(
        &plan,
        "\
fleet lab, first:
  ensure network chaff_lab
decky gw:
  create gw
  create gw-ssh
  create gw-http
decky win:
  create win
  create win-rdp
",
    );
    let Step::CreateContainer { spec_hash, .. } = &plan.groups[0].steps[0] else { panic!("{plan:?}") };
    assert_eq!(spec_hash, &desired.containers[0].spec_hash);
    assert_eq!(spec_hash.len(), 64);
}

#[test]
fn a_deployed_fleet_needs_nothing() {
    let desired = desired(&fleet());
    let observed = deployed(&desired);
    assert_plan(&reconcile(&desired, &observed, Scope::Fleet), "no changes\n");
    assert_plan(&reconcile(&desired, &observed, deckies(&["gw", "win"])), "no changes\n");
}

#[test]
fn adding_a_service_creates_only_its_container() {
    let mut fleet = fleet();
    let observed = deployed(&desired(&fleet));
    fleet.deckies[1].services.push("smtp".into());
    let plan = converging_plan(&desired(&fleet), &observed, deckies(&["win"]));
    assert_plan(&plan, "decky win:\n  create win-smtp\n");
    assert_eq!(plan, reconcile(&desired(&fleet), &observed, Scope::Fleet));
}

#[test]
fn changing_a_service_config_recreates_only_its_container() {
    let mut fleet = fleet();
    let observed = deployed(&desired(&fleet));
    let config = fleet.deckies[0].service_config.entry("ssh".into()).or_default();
    config.0.insert("password".into(), ConfigValue::Text("hunter2".into()));
    let plan = converging_plan(&desired(&fleet), &observed, Scope::Fleet);
    assert_plan(&plan, "decky gw:\n  recreate gw-ssh\n");
}

#[test]
fn changing_a_base_recreates_the_services_that_share_its_namespace() {
    let mut fleet = fleet();
    let observed = deployed(&desired(&fleet));
    fleet.deckies[0].hostname = "gw-renamed".into();
    let plan = converging_plan(&desired(&fleet), &observed, deckies(&["gw"]));
    assert_plan(
        &plan,
        "\
decky gw:
  remove gw-ssh
  remove gw-http
  recreate gw
  create gw-ssh
  create gw-http
",
    );
}

#[test]
fn removing_a_decky_from_the_desired_state_removes_its_containers() {
    let mut fleet = fleet();
    let observed = deployed(&desired(&fleet));
    fleet.deckies.retain(|d| d.name != "win");
    let plan = converging_plan(&desired(&fleet), &observed, Scope::Fleet);
    assert_plan(&plan, "decky win:\n  remove win-rdp\n  remove win\n");
}

#[test]
fn removing_a_service_removes_only_its_container() {
    let mut fleet = fleet();
    let observed = deployed(&desired(&fleet));
    fleet.deckies[0].services.retain(|s| s != "ssh");
    let plan = converging_plan(&desired(&fleet), &observed, deckies(&["gw"]));
    assert_plan(&plan, "decky gw:\n  remove gw-ssh\n");
}

#[test]
fn whole_fleet_teardown_removes_everything_then_the_network() {
    let observed = deployed(&desired(&fleet()));
    let empty = Desired::empty("lab");
    let plan = converging_plan(&empty, &observed, Scope::Fleet);
    assert_plan(
        &plan,
        "\
decky gw:
  remove gw-http
  remove gw-ssh
  remove gw
decky win:
  remove win-rdp
  remove win
fleet lab, last:
  remove network chaff_lab
",
    );
    assert_eq!(apply(&plan, &empty, &observed), Observed::default());
}

#[test]
fn decky_scoped_teardown_touches_only_that_decky_and_keeps_the_network() {
    let mut fleet = fleet();
    let observed = deployed(&desired(&fleet));
    fleet.deckies.retain(|d| d.name != "win");
    let expected = "decky win:\n  remove win-rdp\n  remove win\n";
    assert_plan(&converging_plan(&desired(&fleet), &observed, deckies(&["win"])), expected);
    assert_plan(&converging_plan(&Desired::empty("lab"), &observed, deckies(&["win"])), expected);
}

#[test]
fn a_stopped_container_with_the_right_spec_is_only_started() {
    let desired = desired(&fleet());
    let mut observed = deployed(&desired);
    observed.containers.iter_mut().find(|c| c.name == "gw-ssh").unwrap().running = false;
    let plan = converging_plan(&desired, &observed, Scope::Fleet);
    assert_plan(&plan, "decky gw:\n  start gw-ssh\n");
    assert_plan(&reconcile(&desired, &observed, deckies(&["win"])), "no changes\n");
}

#[test]
fn a_started_base_gets_its_running_services_recreated_in_its_new_namespace() {
    let desired = desired(&fleet());
    let mut observed = deployed(&desired);
    observed.containers.iter_mut().find(|c| c.name == "gw").unwrap().running = false;
    let plan = converging_plan(&desired, &observed, deckies(&["gw"]));
    assert_plan(
        &plan,
        "\
decky gw:
  remove gw-ssh
  remove gw-http
  start gw
  create gw-ssh
  create gw-http
",
    );
}

#[test]
fn a_container_without_a_spec_hash_is_recreated() {
    let desired = desired(&fleet());
    let mut observed = deployed(&desired);
    observed.containers.iter_mut().find(|c| c.name == "win-rdp").unwrap().labels.remove(SPEC_HASH_LABEL);
    assert_plan(&converging_plan(&desired, &observed, Scope::Fleet), "decky win:\n  recreate win-rdp\n");
}

fn container(name: &str, labels: &[(&str, &str)]) -> ObservedContainer {
    let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ObservedContainer { name: name.into(), labels, running: true }
}

#[test]
fn other_fleets_and_unmanaged_containers_are_never_touched() {
    let desired = desired(&fleet());
    let mut observed = deployed(&desired);
    let other = [(labels::FLEET, "other"), (labels::DECKY, "gw"), (labels::MANAGED, "true")];
    observed.containers.push(container("other-gw", &other));
    observed.containers.push(container("handmade", &[(labels::FLEET, "lab"), (labels::DECKY, "gw")]));
    observed.containers.push(container("stranger", &[]));
    observed.networks.push(ObservedNetwork {
        name: "chaff_other".into(),
        labels: [(labels::FLEET, "other"), (labels::MANAGED, "true")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        driver: "bridge".into(),
        subnet: Some("10.31.0.0/24".into()),
    });
    assert_plan(&converging_plan(&desired, &observed, Scope::Fleet), "no changes\n");

    let empty = Desired::empty("lab");
    let plan = converging_plan(&empty, &observed, Scope::Fleet);
    let touched: BTreeSet<String> = plan.steps().map(|s| s.to_string()).collect();
    for untouched in ["other-gw", "handmade", "stranger", "chaff_other"] {
        assert!(!touched.iter().any(|s| s.ends_with(untouched)), "{untouched} touched:\n{plan}");
    }
    let after = apply(&plan, &empty, &observed);
    let left: Vec<&str> = after.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(left, ["other-gw", "handmade", "stranger"]);
}

#[test]
fn orphans_of_this_fleet_are_removed_only_in_whole_fleet_scope() {
    let desired = desired(&fleet());
    let mut observed = deployed(&desired);
    let ghost = |role| {
        [(labels::FLEET, "lab"), (labels::DECKY, "ghost"), (labels::ROLE, role), (labels::MANAGED, "true")]
    };
    observed.containers.push(container("ghost", &ghost("base")));
    observed.containers.push(container("ghost-ftp", &ghost("service")));
    assert_plan(&converging_plan(&desired, &observed, deckies(&["gw", "win"])), "no changes\n");
    assert_plan(
        &converging_plan(&desired, &observed, Scope::Fleet),
        "decky ghost:\n  remove ghost-ftp\n  remove ghost\n",
    );
}

#[test]
fn fleet_services_are_their_own_group_outside_any_decky_scope() {
    let fleet = fleet_from(
        &TWO_DECKIES.replace("net = 10.30.0.0/24\n", "net = 10.30.0.0/24\nfleet_services = sniffer\n"),
    );
    let desired = desired(&fleet);
    let fresh = converging_plan(&desired, &Observed::default(), deckies(&["win"]));
    assert_plan(
        &fresh,
        "fleet lab, first:\n  ensure network chaff_lab\ndecky win:\n  create win\n  create win-rdp\n",
    );
    let plan = converging_plan(&desired, &apply(&fresh, &desired, &Observed::default()), Scope::Fleet);
    assert_plan(
        &plan,
        "decky gw:\n  create gw\n  create gw-ssh\n  create gw-http\nfleet services:\n  create lab-sniffer\n",
    );
}

#[test]
fn a_decky_scope_creates_a_missing_network_only_when_it_creates_containers() {
    let desired = desired(&fleet());
    let mut observed = deployed(&desired);
    observed.networks.clear();
    assert_plan(&reconcile(&desired, &observed, deckies(&["gw"])), "no changes\n");
    assert_plan(
        &reconcile(&desired, &observed, Scope::Fleet),
        "fleet lab, first:\n  ensure network chaff_lab\n",
    );
}

#[test]
fn the_spec_hash_ignores_key_order_but_not_values() {
    let a = json!({ "image": "x", "labels": { "a": "1", "b": "2" }, "command": ["y", "z"] });
    let b = json!({ "command": ["y", "z"], "labels": { "b": "2", "a": "1" }, "image": "x" });
    assert_eq!(spec_hash(&a), spec_hash(&b));
    assert_ne!(
        spec_hash(&a),
        spec_hash(&json!({ "image": "x", "labels": { "a": "1", "b": "2" }, "command": ["z", "y"] }))
    );
}

#[test]
fn desired_state_errors() {
    use chaff_engine::reconcile::DesiredError;
    use chaff_engine::render::ComposeProject;
    let project = |document| ComposeProject { name: "chaff-lab".into(), document };
    assert_eq!(
        Desired::from_project("lab", &project(json!({ "networks": {} }))).unwrap_err(),
        DesiredError::MissingSection("services")
    );
    let unlabelled = json!({ "services": { "x": { "image": "y" } }, "networks": {} });
    assert_eq!(
        Desired::from_project("lab", &project(unlabelled)).unwrap_err().to_string(),
        "container 'x' has no label io.chaff.role"
    );
}
