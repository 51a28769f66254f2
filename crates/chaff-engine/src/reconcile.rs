//! Desired vs observed → a plan of steps (DESIGN.md §4: observe → reconcile → execute).
//!
//! [`reconcile`] is pure: no Docker, no I/O. The observer reads containers and networks by
//! our labels into an [`Observed`]; [`Desired`] comes from a rendered [`ComposeProject`];
//! the executor runs the [`Plan`].
//!
//! Invariants of every plan (each is tested):
//!
//! * a container is matched by name; whether it is up to date is decided by its
//!   [`SPEC_HASH_LABEL`] alone, so a container with the desired hash that is running produces
//!   no step, and one that is stopped gets only [`Step::StartContainer`];
//! * only containers labelled with this fleet and [`labels::MANAGED`] are ever touched:
//!   other fleets' containers and unlabelled ones are invisible here;
//! * within a decky's group, removals come first (service containers before their base),
//!   then the base, then its service containers; a service container never outlives or
//!   precedes the namespace it joins. When the base is recreated or started, it gets a new
//!   network namespace, so its existing service containers (joined to the old one) are
//!   removed before it and created after it;
//! * in a decky scope only the containers of those deckies are touched, the network is
//!   created if missing (and needed) but never removed, and fleet services are left alone;
//! * applying a plan's effect and reconciling again gives an empty plan.
//!
//! Teardown is reconciling against [`Desired::empty`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::naming::labels;
use crate::render::ComposeProject;

/// Label the executor puts on every container it creates: the [`DesiredContainer::spec_hash`]
/// of the spec it was created from. A container without it, or with another value, is
/// recreated.
pub const SPEC_HASH_LABEL: &str = "io.chaff.spec-hash";

/// The `io.chaff.role` of a decky's base container.
const ROLE_BASE: &str = "base";

/// A container as the observer read it from Docker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedContainer {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
}

/// A network as the observer read it from Docker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedNetwork {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub driver: String,
    pub subnet: Option<String>,
}

/// What Docker has, as read by our labels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub containers: Vec<ObservedContainer>,
    pub networks: Vec<ObservedNetwork>,
}

/// Whom a container belongs to; plan steps are grouped by it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    Decky(String),
    /// The fleet's own service containers (fleet singletons): no decky owns them.
    FleetServices,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Decky(name) => write!(f, "decky {name}"),
            Owner::FleetServices => f.write_str("fleet services"),
        }
    }
}

/// One container of the desired state.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredContainer {
    pub name: String,
    pub owner: Owner,
    /// A decky's base container: its service containers join its network namespace.
    pub is_base: bool,
    /// The compose service spec, as rendered.
    pub spec: Value,
    /// [`spec_hash`] of `spec`.
    pub spec_hash: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredNetwork {
    pub name: String,
    /// The compose network definition, as rendered.
    pub spec: Value,
}

/// What the fleet should look like on Docker.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub fleet: String,
    /// In render order: each decky's base, then its service containers; fleet services last.
    pub containers: Vec<DesiredContainer>,
    pub networks: Vec<DesiredNetwork>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DesiredError {
    #[error("compose document has no `{0}` map")]
    MissingSection(&'static str),
    #[error("container '{0}' is not a map")]
    NotAMap(String),
    #[error("container '{container}' has no label {label}")]
    MissingLabel { container: String, label: &'static str },
}

impl Desired {
    /// Nothing: reconciling against it tears the fleet (or the scoped deckies) down.
    pub fn empty(fleet: &str) -> Self {
        Desired { fleet: fleet.to_owned(), containers: Vec::new(), networks: Vec::new() }
    }

    /// The desired state of `fleet` from its rendered project. Each container's owner and
    /// role come from the labels rendering put on it.
    pub fn from_project(fleet: &str, project: &ComposeProject) -> Result<Self, DesiredError> {
        let services = section(&project.document, "services")?;
        let containers = services
            .iter()
            .map(|(name, spec)| desired_container(name, spec))
            .collect::<Result<Vec<_>, _>>()?;
        let networks = section(&project.document, "networks")?
            .iter()
            .map(|(name, spec)| DesiredNetwork { name: name.clone(), spec: spec.clone() })
            .collect();
        Ok(Desired { fleet: fleet.to_owned(), containers, networks })
    }
}

fn section<'a>(document: &'a Value, key: &'static str) -> Result<&'a Map<String, Value>, DesiredError> {
    document.get(key).and_then(Value::as_object).ok_or(DesiredError::MissingSection(key))
}

fn desired_container(name: &str, spec: &Value) -> Result<DesiredContainer, DesiredError> {
    let labels = spec
        .as_object()
        .ok_or_else(|| DesiredError::NotAMap(name.to_owned()))?
        .get("labels")
        .and_then(Value::as_object);
    let label = |key: &'static str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let missing = |label| DesiredError::MissingLabel { container: name.to_owned(), label };
    let role = label(labels::ROLE).ok_or_else(|| missing(labels::ROLE))?;
    let owner = match label(labels::DECKY) {
        Some(decky) => Owner::Decky(decky.to_owned()),
        None if role == "fleet-service" => Owner::FleetServices,
        None => return Err(missing(labels::DECKY)),
    };
    Ok(DesiredContainer {
        name: name.to_owned(),
        owner,
        is_base: role == ROLE_BASE,
        spec: spec.clone(),
        spec_hash: spec_hash(spec),
    })
}

/// Hex SHA-256 of the canonical JSON of `spec` (object keys sorted, no whitespace): equal
/// specs hash equal whatever their key order.
pub fn spec_hash(spec: &Value) -> String {
    let canonical = serde_json::to_string(&canonical(spec)).expect("a JSON value serializes");
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// `value` with every object's keys in sorted order (serde_json keeps insertion order here).
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Which part of the fleet a reconciliation may touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything of the fleet: orphans of the fleet are removed, and so is the network when
    /// nothing wants it.
    Fleet,
    /// Only the containers of these deckies.
    Deckies(BTreeSet<String>),
    /// The containers of these deckies and the fleet services (a deploy: the fleet's own
    /// containers come up with its first deckies), nothing else of the fleet.
    DeckiesAndFleetServices(BTreeSet<String>),
}

impl Scope {
    fn covers(&self, owner: &Owner) -> bool {
        match (self, owner) {
            (Scope::Fleet, _) => true,
            (Scope::Deckies(names), Owner::Decky(name)) => names.contains(name),
            (Scope::Deckies(_), Owner::FleetServices) => false,
            (Scope::DeckiesAndFleetServices(names), Owner::Decky(name)) => names.contains(name),
            (Scope::DeckiesAndFleetServices(_), Owner::FleetServices) => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    EnsureNetwork {
        name: String,
    },
    CreateContainer {
        name: String,
        spec_hash: String,
    },
    StartContainer {
        name: String,
    },
    RemoveContainer {
        name: String,
    },
    /// Remove, then create from the spec with `spec_hash`.
    RecreateContainer {
        name: String,
        spec_hash: String,
    },
    RemoveNetwork {
        name: String,
    },
}

impl Step {
    fn creates(&self) -> bool {
        matches!(self, Step::CreateContainer { .. } | Step::RecreateContainer { .. })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::EnsureNetwork { name } => write!(f, "ensure network {name}"),
            Step::CreateContainer { name, .. } => write!(f, "create {name}"),
            Step::StartContainer { name } => write!(f, "start {name}"),
            Step::RemoveContainer { name } => write!(f, "remove {name}"),
            Step::RecreateContainer { name, .. } => write!(f, "recreate {name}"),
            Step::RemoveNetwork { name } => write!(f, "remove network {name}"),
        }
    }
}

/// The steps of one owner, to run in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepGroup {
    pub owner: Owner,
    pub steps: Vec<Step>,
}

/// `first`, then the groups (independent of each other: they may run in parallel), then
/// `last`. No group and no step list is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub fleet: String,
    /// Network creation, before any container.
    pub first: Vec<Step>,
    /// Desired deckies in desired order, then the other deckies by name, then fleet services.
    pub groups: Vec<StepGroup>,
    /// Network removal, after every container.
    pub last: Vec<Step>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.groups.is_empty() && self.last.is_empty()
    }

    /// Every step in an order that is safe to run one after the other.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.first.iter().chain(self.groups.iter().flat_map(|g| &g.steps)).chain(&self.last)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "no changes");
        }
        let sections = std::iter::once((format!("fleet {}, first", self.fleet), &self.first))
            .chain(self.groups.iter().map(|g| (g.owner.to_string(), &g.steps)))
            .chain(std::iter::once((format!("fleet {}, last", self.fleet), &self.last)));
        for (header, steps) in sections.filter(|(_, steps)| !steps.is_empty()) {
            writeln!(f, "{header}:")?;
            for step in steps {
                writeln!(f, "  {step}")?;
            }
        }
        Ok(())
    }
}

/// The steps that take `observed` to `desired`, touching only what `scope` covers.
pub fn reconcile(desired: &Desired, observed: &Observed, scope: Scope) -> Plan {
    let ours: Vec<&ObservedContainer> =
        observed.containers.iter().filter(|c| is_ours(&c.labels, &desired.fleet)).collect();
    let groups: Vec<StepGroup> = owners(desired, &ours)
        .into_iter()
        .filter(|owner| scope.covers(owner))
        .filter_map(|owner| group(desired, &ours, owner))
        .collect();
    let creates = groups.iter().flat_map(|g| &g.steps).any(Step::creates);
    let first = desired
        .networks
        .iter()
        .filter(|n| !observed.networks.iter().any(|o| o.name == n.name))
        .filter(|_| creates || scope == Scope::Fleet)
        .map(|n| Step::EnsureNetwork { name: n.name.clone() })
        .collect();
    let last = match scope {
        Scope::Fleet => orphan_networks(desired, observed),
        Scope::Deckies(_) | Scope::DeckiesAndFleetServices(_) => Vec::new(),
    };
    Plan { fleet: desired.fleet.clone(), first, groups, last }
}

/// Managed by Chaff and belonging to `fleet`.
fn is_ours(labels: &BTreeMap<String, String>, fleet: &str) -> bool {
    labels.get(labels::MANAGED).map(String::as_str) == Some("true")
        && labels.get(labels::FLEET).map(String::as_str) == Some(fleet)
}

fn observed_owner(container: &ObservedContainer) -> Owner {
    match container.labels.get(labels::DECKY) {
        Some(decky) => Owner::Decky(decky.clone()),
        None => Owner::FleetServices,
    }
}

/// Every owner once: desired deckies in desired order, then observed-only deckies by name,
/// then fleet services.
fn owners(desired: &Desired, ours: &[&ObservedContainer]) -> Vec<Owner> {
    let mut owners: Vec<Owner> = Vec::new();
    for container in &desired.containers {
        if matches!(container.owner, Owner::Decky(_)) && !owners.contains(&container.owner) {
            owners.push(container.owner.clone());
        }
    }
    let leftovers: BTreeSet<Owner> = ours.iter().map(|c| observed_owner(c)).collect();
    for owner in leftovers {
        if matches!(owner, Owner::Decky(_)) && !owners.contains(&owner) {
            owners.push(owner);
        }
    }
    owners.push(Owner::FleetServices);
    owners
}

/// What one container needs, before ordering.
enum Need {
    Nothing,
    Create,
    Start,
    Recreate,
}

fn need(container: &DesiredContainer, observed: Option<&ObservedContainer>) -> Need {
    match observed {
        None => Need::Create,
        Some(o) if o.labels.get(SPEC_HASH_LABEL) != Some(&container.spec_hash) => Need::Recreate,
        Some(o) if !o.running => Need::Start,
        Some(_) => Need::Nothing,
    }
}

/// The ordered steps of `owner`, or `None` when it needs none.
fn group(desired: &Desired, ours: &[&ObservedContainer], owner: Owner) -> Option<StepGroup> {
    let wanted: Vec<&DesiredContainer> = desired.containers.iter().filter(|c| c.owner == owner).collect();
    let present: Vec<&ObservedContainer> =
        ours.iter().copied().filter(|c| observed_owner(c) == owner).collect();
    let find = |name: &str| present.iter().copied().find(|c| c.name == name);

    let mut unwanted: Vec<&ObservedContainer> =
        present.iter().copied().filter(|c| !wanted.iter().any(|w| w.name == c.name)).collect();
    unwanted.sort_by(|a, b| is_base(a).cmp(&is_base(b)).then_with(|| a.name.cmp(&b.name)));
    let mut steps: Vec<Step> =
        unwanted.into_iter().map(|c| Step::RemoveContainer { name: c.name.clone() }).collect();

    // A recreated or started base has a new network namespace: every service container that
    // joined the old one is removed before it and created again after it.
    let base_renewed =
        wanted.iter().any(|c| c.is_base && matches!(need(c, find(&c.name)), Need::Recreate | Need::Start));
    let (bases, services): (Vec<&DesiredContainer>, Vec<&DesiredContainer>) =
        wanted.into_iter().partition(|c| c.is_base);
    if base_renewed {
        for service in services.iter().filter(|s| find(&s.name).is_some()) {
            steps.push(Step::RemoveContainer { name: service.name.clone() });
        }
    }
    for container in bases {
        steps.extend(step_for(container, need(container, find(&container.name))));
    }
    for container in services {
        let need = if base_renewed { Need::Create } else { need(container, find(&container.name)) };
        steps.extend(step_for(container, need));
    }
    (!steps.is_empty()).then_some(StepGroup { owner, steps })
}

fn is_base(container: &ObservedContainer) -> bool {
    container.labels.get(labels::ROLE).map(String::as_str) == Some(ROLE_BASE)
}

fn step_for(container: &DesiredContainer, need: Need) -> Option<Step> {
    let name = container.name.clone();
    let spec_hash = container.spec_hash.clone();
    match need {
        Need::Nothing => None,
        Need::Create => Some(Step::CreateContainer { name, spec_hash }),
        Need::Start => Some(Step::StartContainer { name }),
        Need::Recreate => Some(Step::RecreateContainer { name, spec_hash }),
    }
}

/// Networks of this fleet that no desired network names, by name.
fn orphan_networks(desired: &Desired, observed: &Observed) -> Vec<Step> {
    let names: BTreeSet<&String> = observed
        .networks
        .iter()
        .filter(|n| is_ours(&n.labels, &desired.fleet))
        .filter(|n| !desired.networks.iter().any(|d| d.name == n.name))
        .map(|n| &n.name)
        .collect();
    names.into_iter().map(|name| Step::RemoveNetwork { name: name.clone() }).collect()
}
