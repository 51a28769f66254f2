//! The operations: validate, commit the desired state, open rows, spawn, return the ids.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use chaff_bus::{Event, MutationPayload, ServiceConfigChangedPayload, ServiceSetPayload, Trigger};
use chaff_docker::DockerApi;
use chaff_engine::model::ModelError;
use chaff_engine::reconcile::Scope;
use chaff_engine::render::RenderError;
use chaff_engine::{Catalogue, Fleet, ImportOptions, archetypes, import_ini, naming, render_fleet};
use chaff_plugin_host::spec::MutateInput;
use chaff_state::{LOCAL_HOST_ID, LifecycleRow, NewOperation, Operation, StatusChange, Store, Uuid};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::OpError;
use crate::engine::{Engine, Inner, lock};
use crate::fleet_record::{from_record, to_record};
use crate::runner::{Job, JobTarget, RemoveFirst};

/// An accepted operation: its rows, `pending`, in decky order.
#[derive(Clone, Debug, Serialize)]
pub struct Accepted {
    pub lifecycle_ids: Vec<Uuid>,
    pub rows: Vec<LifecycleRow>,
}

pub struct DeployRequest {
    pub fleet: Fleet,
    /// Replace the stored fleet of that name (its deckies not in `fleet` are torn down)
    /// instead of adding to it.
    pub replace: bool,
}

/// What to tear down.
pub enum TeardownTarget {
    /// Every decky of the fleet, its fleet services and its network; the fleet is then
    /// forgotten.
    Fleet(String),
    /// One decky (all its containers, base included), wherever it is.
    Decky(String),
}

/// A change to one service's configuration.
pub struct ConfigChange {
    pub decky: String,
    pub service: String,
    /// Raw values, validated against the service's declared fields (the original's coercion
    /// rules); replaces the stored configuration.
    pub config: IndexMap<String, Value>,
    /// Recreate the service's container with it now; otherwise it takes effect on the next
    /// change of that container.
    pub apply: bool,
}

impl<D: DockerApi> Engine<D> {
    /// A fleet from deployment INI text. Addresses of the stored fleet of the same name are
    /// reserved unless `replace`, so an additive deploy never hands one out twice.
    pub fn import_ini(&self, text: &str, default_fleet_name: &str, replace: bool) -> Result<Fleet, OpError> {
        let inner = &self.inner;
        let catalogue = Catalogue::from_plugins(&inner.plugins);
        let reserved: Vec<Ipv4Addr> = if replace {
            Vec::new()
        } else {
            // The fleet name is in the text; reserve every stored fleet's addresses of that
            // name once the name is known. Two passes keep the importer pure.
            let probe = import_ini(
                text,
                &catalogue,
                &ImportOptions { default_fleet_name, reserved: &[], now: inner.unix_seconds() },
                &mut fastrand::Rng::with_seed(0),
            )
            .map_err(ini_error)?;
            match inner.with_store(|s| Ok(s.load_fleet(&probe.name)?))? {
                Some(stored) => stored.record.deckies.iter().filter_map(|d| ipv4(d.ip)).collect(),
                None => Vec::new(),
            }
        };
        let options = ImportOptions { default_fleet_name, reserved: &reserved, now: inner.unix_seconds() };
        let mut rng = fastrand::Rng::with_seed(inner.seed());
        import_ini(text, &catalogue, &options, &mut rng).map_err(ini_error)
    }

    /// Deploys `request.fleet`: adds its deckies to the stored fleet of that name (a name or
    /// address already there is a conflict), or replaces it. Rows: one `deploy` per new decky
    /// (every decky when replacing) and one `teardown` per decky a replace drops.
    pub fn deploy(&self, request: DeployRequest) -> Result<Accepted, OpError> {
        let inner = &self.inner;
        request.fleet.check().map_err(model_error)?;
        let mut store = lock(&inner.store);
        let existing = match store.load_fleet(&request.fleet.name)? {
            Some(stored) => Some(from_record(&stored.record)?),
            None => None,
        };
        let (merged, new_deckies, dropped) = merge(existing, request.fleet, request.replace)?;
        check_names_free(&store, &merged)?;
        render(inner, &merged)?;
        let mut rows: Vec<(String, Operation)> =
            new_deckies.iter().map(|d| (d.clone(), Operation::Deploy)).collect();
        rows.extend(dropped.iter().map(|d| (d.clone(), Operation::Teardown)));
        let scope = if request.replace {
            Scope::Fleet
        } else {
            Scope::DeckiesAndFleetServices(new_deckies.iter().cloned().collect())
        };
        let job = Job::new(&merged.name, Operation::Deploy, scope, JobTarget::Stored);
        self.commit_and_spawn(&mut store, &merged, rows, job)
    }

    /// Tears down one decky or a whole fleet.
    pub fn teardown(&self, target: TeardownTarget) -> Result<Accepted, OpError> {
        let inner = &self.inner;
        let mut store = lock(&inner.store);
        match target {
            TeardownTarget::Decky(decky) => {
                let mut fleet = fleet_of_decky(&store, &decky)?;
                fleet.deckies.retain(|d| d.name != decky);
                let scope = Scope::Deckies(BTreeSet::from([decky.clone()]));
                let job = Job::new(&fleet.name, Operation::Teardown, scope, JobTarget::Stored);
                self.commit_and_spawn(&mut store, &fleet, vec![(decky, Operation::Teardown)], job)
            }
            TeardownTarget::Fleet(name) => {
                let stored = store
                    .load_fleet(&name)?
                    .ok_or_else(|| OpError::NotFound(format!("fleet '{name}' not found")))?;
                let mut fleet = from_record(&stored.record)?;
                let rows = fleet.deckies.iter().map(|d| (d.name.clone(), Operation::Teardown)).collect();
                fleet.deckies.clear();
                fleet.fleet_services.clear();
                let mut job = Job::new(&name, Operation::Teardown, Scope::Fleet, JobTarget::Nothing);
                job.forget_fleet_when_done = true;
                self.commit_and_spawn(&mut store, &fleet, rows, job)
            }
        }
    }

    /// Gives `decky` a new service set chosen by the mutate strategy (the new shape is
    /// committed before Docker is touched).
    pub fn mutate(&self, decky: &str, trigger: Trigger) -> Result<Accepted, OpError> {
        let inner = &self.inner;
        let mut store = lock(&inner.store);
        let mut fleet = fleet_of_decky(&store, decky)?;
        let catalogue = Catalogue::from_plugins(&inner.plugins)
            .with_custom(&fleet.custom_services)
            .map_err(|e| OpError::invalid(Some("fleet"), e.to_string()))?;
        let target = fleet.deckies.iter_mut().find(|d| d.name == decky).expect("fleet_of_decky found it");
        let old = target.services.clone();
        let input = MutateInput {
            decky: decky.to_owned(),
            current: old.clone(),
            archetype_services: target
                .archetype
                .as_deref()
                .and_then(|a| archetypes::archetype(a).ok())
                .map(|a| a.services.iter().map(|s| s.to_string()).collect()),
            available: catalogue.available(),
            now: inner.unix_seconds(),
            seed: inner.seed(),
        };
        let chosen = inner
            .plugins
            .mutate(&inner.mutate_strategy, &input)
            .map_err(|e| OpError::Plugin(format!("mutate strategy '{}': {e}", inner.mutate_strategy)))?;
        let chosen = catalogue.without_port_clashes(chosen);
        if chosen.is_empty() {
            return Err(OpError::NotFound(format!("No services available to mutate {decky}")));
        }
        target.services = chosen.clone();
        target.last_mutated = inner.unix_seconds();
        render(inner, &fleet)?;
        let scope = Scope::Deckies(BTreeSet::from([decky.to_owned()]));
        let mut job = Job::new(&fleet.name, Operation::Mutate, scope, JobTarget::Stored);
        let payload = MutationPayload {
            decky: decky.to_owned(),
            old_services: old,
            new_services: chosen,
            trigger,
            actor: None,
        };
        job.after_success.push(Event::mutation(&payload, inner.stamp()));
        self.commit_and_spawn(&mut store, &fleet, vec![(decky.to_owned(), Operation::Mutate)], job)
    }

    /// Adds `service` to a running decky: persisted first, then only its container is created.
    pub fn add_service(
        &self,
        decky: &str,
        service: &str,
        config: IndexMap<String, Value>,
    ) -> Result<Accepted, OpError> {
        let inner = &self.inner;
        let mut store = lock(&inner.store);
        let mut fleet = fleet_of_decky(&store, decky)?;
        let validated = validate_service_config(inner, &fleet, service, &config)?;
        let target = fleet.deckies.iter_mut().find(|d| d.name == decky).expect("fleet_of_decky found it");
        if target.services.iter().any(|s| s == service) {
            return Err(OpError::conflict(format!("service '{service}' already on decky '{decky}'")));
        }
        target.services.push(service.to_owned());
        if !config.is_empty() {
            target.service_config.insert(service.to_owned(), validated);
        }
        let services = target.services.clone();
        render(inner, &fleet)?;
        let scope = Scope::Deckies(BTreeSet::from([decky.to_owned()]));
        let mut job = Job::new(&fleet.name, Operation::AddService, scope, JobTarget::Stored);
        let payload = service_set(decky, service, services);
        job.after_success.push(Event::service_added(&payload, inner.stamp()));
        self.commit_and_spawn(&mut store, &fleet, vec![(decky.to_owned(), Operation::AddService)], job)
    }

    /// Removes `service` from a decky: its one container is stopped and removed first, and the
    /// new service list is persisted only once it is gone.
    pub fn remove_service(&self, decky: &str, service: &str) -> Result<Accepted, OpError> {
        let inner = &self.inner;
        let mut store = lock(&inner.store);
        let mut fleet = fleet_of_decky(&store, decky)?;
        let target = fleet.deckies.iter_mut().find(|d| d.name == decky).expect("fleet_of_decky found it");
        if !target.services.iter().any(|s| s == service) {
            return Err(OpError::conflict(format!("service '{service}' not on decky '{decky}'")));
        }
        target.services.retain(|s| s != service);
        let services = target.services.clone();
        fleet.check().map_err(|e| OpError::invalid(Some("service"), e.to_string()))?;
        let rows =
            open_rows(inner, &mut store, &fleet.name, vec![(decky.to_owned(), Operation::RemoveService)])?;
        let scope = Scope::Deckies(BTreeSet::from([decky.to_owned()]));
        let mut job = Job::new(&fleet.name, Operation::RemoveService, scope, JobTarget::Stored);
        job.remove_first = Some(RemoveFirst {
            container: naming::service_container_name(decky, service),
            then_save: to_record(&fleet),
        });
        job.after_success.push(Event::service_removed(&service_set(decky, service, services), inner.stamp()));
        Ok(self.spawn(job, rows))
    }

    /// Validates and stores a service's configuration; with `apply`, recreates only that
    /// service's container with it (one `apply_config` row), else returns no rows.
    pub fn configure_service(&self, change: ConfigChange) -> Result<Accepted, OpError> {
        let inner = &self.inner;
        let ConfigChange { decky, service, config, apply } = change;
        let mut store = lock(&inner.store);
        let mut fleet = fleet_of_decky(&store, &decky)?;
        let validated = validate_service_config(inner, &fleet, &service, &config)?;
        let target = fleet.deckies.iter_mut().find(|d| d.name == decky).expect("fleet_of_decky found it");
        if !target.services.iter().any(|s| s == &service) {
            return Err(OpError::conflict(format!("service '{service}' not on decky '{decky}'")));
        }
        let shown: serde_json::Map<String, Value> = validated
            .0
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).expect("config values are JSON")))
            .collect();
        target.service_config.insert(service.clone(), validated);
        render(inner, &fleet)?;
        let payload = |recreated| ServiceConfigChangedPayload {
            decky_name: decky.clone(),
            service_name: service.clone(),
            topology_id: None,
            service_config: shown.clone(),
            recreated,
        };
        if !apply {
            store.save_fleet(&to_record(&fleet), inner.timestamp())?;
            inner.publish(Event::service_config_changed(&payload(false), inner.stamp()));
            return Ok(Accepted { lifecycle_ids: Vec::new(), rows: Vec::new() });
        }
        let scope = Scope::Deckies(BTreeSet::from([decky.clone()]));
        let mut job = Job::new(&fleet.name, Operation::ApplyConfig, scope, JobTarget::Stored);
        job.after_success.push(Event::service_config_changed(&payload(true), inner.stamp()));
        self.commit_and_spawn(&mut store, &fleet, vec![(decky.clone(), Operation::ApplyConfig)], job)
    }

    /// The rows with these ids (unknown ids are left out), oldest first.
    pub fn lifecycle(&self, ids: &[Uuid]) -> Result<Vec<LifecycleRow>, OpError> {
        self.inner.with_store(|s| Ok(s.lifecycle_rows(ids)?))
    }

    /// Every row still `pending` or `running`, oldest first: what a reloaded UI follows.
    pub fn open_lifecycle(&self) -> Result<Vec<LifecycleRow>, OpError> {
        self.inner.with_store(|s| Ok(s.open_lifecycle_rows()?))
    }

    /// Names of the stored fleets.
    pub fn fleet_names(&self) -> Result<Vec<String>, OpError> {
        self.inner.with_store(|s| Ok(s.fleet_names()?))
    }

    /// The stored (desired) fleet.
    pub fn fleet(&self, name: &str) -> Result<Option<Fleet>, OpError> {
        let stored = self.inner.with_store(|s| Ok(s.load_fleet(name)?))?;
        stored.map(|s| from_record(&s.record)).transpose()
    }

    /// Opens the rows, then commits `fleet`; spawns `job`. Rows first: a conflict must leave
    /// the desired state untouched.
    fn commit_and_spawn(
        &self,
        store: &mut Store,
        fleet: &Fleet,
        rows: Vec<(String, Operation)>,
        job: Job,
    ) -> Result<Accepted, OpError> {
        let inner = &self.inner;
        let opened = open_rows(inner, store, &fleet.name, rows)?;
        if let Err(error) = store.save_fleet(&to_record(fleet), inner.timestamp()) {
            for row in &opened {
                let _ = store.transition(
                    row.id,
                    StatusChange::failed(format!("not saved: {error}")),
                    inner.timestamp(),
                );
            }
            return Err(error.into());
        }
        Ok(self.spawn(job, opened))
    }

    fn spawn(&self, mut job: Job, rows: Vec<LifecycleRow>) -> Accepted {
        job.rows = rows.iter().map(|r| (r.decky.clone(), r.id, r.operation)).collect();
        for row in &rows {
            crate::runner::publish_row(&self.inner, row, None);
        }
        crate::runner::spawn(self, job);
        Accepted { lifecycle_ids: rows.iter().map(|r| r.id).collect(), rows }
    }
}

/// An INI refusal, naming the field at fault (`log_target`) or else the config as a whole.
/// An INI refusal names the key at fault (`net`, `amount`, ...) so a form can mark it, or
/// `config` when it is about the text as a whole.
fn ini_error(error: chaff_engine::IniError) -> OpError {
    let field = error.field.map(str::to_owned).or_else(|| ini_key(&error.message));
    OpError::invalid(Some(field.as_deref().unwrap_or("config")), error.to_string())
}

/// The key an INI message is about: messages about one key read `[section] key=...`.
fn ini_key(message: &str) -> Option<String> {
    let (_, rest) = message.strip_prefix('[')?.split_once("] ")?;
    let (key, _) = rest.split_once('=')?;
    let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-');
    is_key.then(|| key.replace('-', "_"))
}

/// A fleet that breaks the model's invariants, naming `log_target` when that is the fault.
fn model_error(error: ModelError) -> OpError {
    let field = match error {
        ModelError::LogTarget(_) => "log_target",
        _ => "fleet",
    };
    OpError::invalid(Some(field), error.to_string())
}

fn ipv4(ip: std::net::IpAddr) -> Option<Ipv4Addr> {
    match ip {
        std::net::IpAddr::V4(v4) => Some(v4),
        std::net::IpAddr::V6(_) => None,
    }
}

fn open_rows<D>(
    inner: &Inner<D>,
    store: &mut Store,
    fleet: &str,
    rows: Vec<(String, Operation)>,
) -> Result<Vec<LifecycleRow>, OpError> {
    let requests: Vec<NewOperation> = rows
        .into_iter()
        .map(|(decky, operation)| NewOperation {
            id: crate::engine::random_uuid(&mut lock(&inner.rng)),
            fleet: fleet.to_owned(),
            decky,
            host: LOCAL_HOST_ID.to_owned(),
            operation,
        })
        .collect();
    Ok(store.open_operations(&requests, inner.timestamp())?)
}

/// The fleet after the deploy, the deckies that are new (or all, replacing), and the
/// deckies a replace drops.
fn merge(
    existing: Option<Fleet>,
    incoming: Fleet,
    replace: bool,
) -> Result<(Fleet, Vec<String>, Vec<String>), OpError> {
    let incoming_names: Vec<String> = incoming.deckies.iter().map(|d| d.name.clone()).collect();
    let Some(mut fleet) = existing else { return Ok((incoming, incoming_names, Vec::new())) };
    if replace {
        let dropped = fleet
            .deckies
            .iter()
            .filter(|d| !incoming_names.contains(&d.name))
            .map(|d| d.name.clone())
            .collect();
        return Ok((incoming, incoming_names, dropped));
    }
    if fleet.network != incoming.network {
        return Err(OpError::conflict(format!(
            "fleet '{}' already runs on a {} network {}; deploy with replace to change its network",
            fleet.name,
            fleet.network.driver.as_str(),
            fleet.network.subnet
        )));
    }
    for decky in &incoming.deckies {
        if fleet.decky(&decky.name).is_some() {
            return Err(OpError::conflict(format!(
                "decky '{}' already exists; submit with replace_fleet=true to overwrite the fleet",
                decky.name
            )));
        }
        if fleet.deckies.iter().any(|d| d.ip == decky.ip)
            || fleet.fleet_services.iter().any(|s| s.ip == decky.ip)
        {
            return Err(OpError::conflict(format!("IP {} is already in use by an existing decky", decky.ip)));
        }
    }
    for custom in incoming.custom_services {
        if !fleet.custom_services.iter().any(|c| c.name == custom.name) {
            fleet.custom_services.push(custom);
        }
    }
    for service in incoming.fleet_services {
        if !fleet.fleet_services.iter().any(|s| s.slug == service.slug) {
            fleet.fleet_services.push(service);
        }
    }
    fleet.deckies.extend(incoming.deckies);
    fleet.check().map_err(model_error)?;
    Ok((fleet, incoming_names, Vec::new()))
}

/// Container names are global on an engine: a decky name must not be used by another fleet.
fn check_names_free(store: &Store, fleet: &Fleet) -> Result<(), OpError> {
    for other in store.fleet_names()?.into_iter().filter(|n| *n != fleet.name) {
        let Some(stored) = store.load_fleet(&other)? else { continue };
        if let Some(clash) = stored.record.deckies.iter().find(|d| fleet.decky(&d.name).is_some()) {
            return Err(OpError::conflict(format!(
                "decky '{}' already exists in fleet '{other}'",
                clash.name
            )));
        }
    }
    Ok(())
}

/// The stored fleet holding `decky`.
fn fleet_of_decky(store: &Store, decky: &str) -> Result<Fleet, OpError> {
    if !naming::is_valid_name(decky) {
        return Err(OpError::invalid(
            Some("decky"),
            format!("decky name '{decky}' must match {}", naming::NAME_RULE),
        ));
    }
    for name in store.fleet_names()? {
        if let Some(stored) = store.load_fleet(&name)?
            && stored.record.deckies.iter().any(|d| d.name == decky)
        {
            return from_record(&stored.record);
        }
    }
    Err(OpError::NotFound(format!("decky '{decky}' not found")))
}

/// Renders `fleet` to run every plugin and the fragment policy before anything is written.
pub(crate) fn render<D>(inner: &Inner<D>, fleet: &Fleet) -> Result<chaff_engine::ComposeProject, OpError> {
    render_fleet(fleet, &inner.plugins).map_err(render_error)
}

pub(crate) fn render_error(error: RenderError) -> OpError {
    let message = error.to_string();
    match error {
        RenderError::Policy { decky, service, source } => {
            OpError::Policy { field: Some(format!("{decky}.{service}.{}", source.field)), message }
        }
        RenderError::InvalidConfig { decky, service, source } => {
            OpError::invalid(Some(&format!("{decky}.{service}.{}", source.field)), message)
        }
        RenderError::FleetServiceConfig { service, source } => {
            OpError::invalid(Some(&format!("{service}.{}", source.field)), message)
        }
        RenderError::Plugin { .. } | RenderError::FleetServicePlugin { .. } => OpError::Plugin(message),
        RenderError::Yaml(_) => OpError::Internal(message),
        _ => OpError::invalid(None, message),
    }
}

/// The configuration of `service` checked against its declared fields, refusing services a
/// decky cannot run (unknown, or a fleet singleton).
fn validate_service_config<D>(
    inner: &Inner<D>,
    fleet: &Fleet,
    service: &str,
    config: &IndexMap<String, Value>,
) -> Result<chaff_plugin_host::ServiceConfig, OpError> {
    let catalogue = Catalogue::from_plugins(&inner.plugins)
        .with_custom(&fleet.custom_services)
        .map_err(|e| OpError::invalid(Some("fleet"), e.to_string()))?;
    let spec = catalogue
        .spec(service)
        .ok_or_else(|| OpError::invalid(Some("service"), format!("unknown service '{service}'")))?;
    if spec.fleet_singleton {
        return Err(OpError::invalid(
            Some("service"),
            format!("service '{service}' is fleet_singleton; not addable per-decky"),
        ));
    }
    chaff_plugin_host::validate_config(spec, config)
        .map_err(|e| OpError::invalid(Some(&format!("config.{}", e.field)), e.to_string()))
}

fn service_set(decky: &str, service: &str, services: Vec<String>) -> ServiceSetPayload {
    ServiceSetPayload {
        decky_name: decky.to_owned(),
        service_name: service.to_owned(),
        topology_id: None,
        services,
    }
}

#[cfg(test)]
mod ini_key_tests {
    use super::ini_key;

    #[test]
    fn names_the_key_a_message_is_about() {
        assert_eq!(
            ini_key("[general] net= must be an IPv4 subnet like 192.168.1.0/24, got 'x'").as_deref(),
            Some("net")
        );
        assert_eq!(ini_key("[web] amount=101 exceeds maximum allowed (100).").as_deref(), Some("amount"));
        assert_eq!(ini_key("[web] nmap-os=plan9: unknown").as_deref(), Some("nmap_os"));
        assert_eq!(ini_key("Invalid INI format: no sections found"), None);
        assert_eq!(ini_key("[web] Unknown service 'gopher'"), None);
    }
}
