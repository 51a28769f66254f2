//! The runner: observe → reconcile → execute, one job per operation.
//!
//! A job moves its rows to `running`, reads Docker (containers and networks by our labels),
//! plans with the pure [`reconcile`], makes sure the images are on the machine, then runs the
//! plan: the fleet's network first, then each decky's steps (deckies in parallel, at most
//! [`crate::MAX_PARALLEL_DECKIES`] at once, each decky's steps in order), then network
//! removal. Each step is recorded on the decky's row and published. A service container is
//! removed only after its log was read to the end (its events stored), best effort. A failing decky fails
//! its own row only; a failure before the deckies' steps (Docker unavailable, a missing
//! image, the network) fails every row with that reason.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chaff_bus::{Event, LifecyclePayload, Progress, TopicError};
use chaff_docker::images::ensure_images;
use chaff_docker::{DockerApi, DockerError, container_request, network_request};
use chaff_engine::naming::labels;
use chaff_engine::reconcile::{
    Desired, Observed, ObservedContainer, ObservedNetwork, Owner, Plan, SPEC_HASH_LABEL, Scope, Step,
    reconcile,
};
use chaff_state::{EventOrigin, FleetRecord, LifecycleRow, Operation, StatusChange, Uuid};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::OpError;
use crate::engine::{Engine, Inner, lock};
use crate::events;
use crate::fleet_record::from_record;
use crate::operations::render;

/// What the job converges to.
pub(crate) enum JobTarget {
    /// The fleet as stored when the job runs.
    Stored,
    /// Nothing: every container (and, in fleet scope, the network) goes.
    Nothing,
}

/// Remove one container before anything else, then commit the fleet (remove-service order:
/// the container goes before the desired state says so).
pub(crate) struct RemoveFirst {
    pub container: String,
    pub then_save: FleetRecord,
}

pub(crate) struct Job {
    pub fleet: String,
    pub operation: Operation,
    pub scope: Scope,
    pub target: JobTarget,
    /// (decky, row id, row operation), filled when the rows are open.
    pub rows: Vec<(String, Uuid, Operation)>,
    pub remove_first: Option<RemoveFirst>,
    /// Published once every row succeeded.
    pub after_success: Vec<Result<Event, TopicError>>,
    /// Delete the stored fleet once every row succeeded (a whole-fleet teardown).
    pub forget_fleet_when_done: bool,
}

impl Job {
    pub(crate) fn new(fleet: &str, operation: Operation, scope: Scope, target: JobTarget) -> Job {
        Job {
            fleet: fleet.to_owned(),
            operation,
            scope,
            target,
            rows: Vec::new(),
            remove_first: None,
            after_success: Vec::new(),
            forget_fleet_when_done: false,
        }
    }
}

/// Publishes `row`'s state (and the step it is on) as `decky.<name>.lifecycle`.
pub(crate) fn publish_row<D>(inner: &Inner<D>, row: &LifecycleRow, step: Option<(&str, Option<Progress>)>) {
    let payload = LifecyclePayload {
        lifecycle_id: row.id,
        operation: row.operation.as_str().to_owned(),
        status: row.status.as_str().to_owned(),
        error: row.error.clone(),
        step: step.map(|(text, _)| text.to_owned()),
        progress: step.and_then(|(_, progress)| progress),
    };
    inner.publish(Event::lifecycle(&row.decky, &payload, inner.stamp()));
}

/// Spawns `job` under a supervisor that fails its still-open rows if the job panics.
pub(crate) fn spawn<D: DockerApi>(engine: &Engine<D>, job: Job) {
    let inner = Arc::clone(&engine.inner);
    let cancel = inner.shutdown.child_token();
    let ids: Vec<Uuid> = job.rows.iter().map(|(_, id, _)| *id).collect();
    {
        let mut running = lock(&inner.running);
        for id in &ids {
            running.insert(*id, cancel.clone());
        }
    }
    let runtime = inner.runtime.clone();
    let supervisor = {
        let inner = Arc::clone(&inner);
        async move {
            let work = inner.runtime.spawn(run(Arc::clone(&inner), job, cancel));
            if let Err(error) = work.await {
                tracing::error!(%error, "lifecycle job stopped unexpectedly");
                let reason = format!("internal error: the runner stopped unexpectedly ({error})");
                close_open(&inner, &ids, &reason).await;
            }
            let mut running = lock(&inner.running);
            for id in &ids {
                running.remove(id);
            }
        }
    };
    inner.tasks.spawn_on(supervisor, &runtime);
}

/// Fails whichever of `ids` are still open.
async fn close_open<D: DockerApi>(inner: &Arc<Inner<D>>, ids: &[Uuid], reason: &str) {
    for id in ids {
        let reason = reason.to_owned();
        let id = *id;
        let closed = blocking(inner, move |inner| {
            let mut store = lock(&inner.store);
            match store.lifecycle_rows(&[id]) {
                Ok(rows) if rows.first().is_some_and(|r| r.status.is_open()) => {
                    store.transition(id, StatusChange::failed(reason), inner.timestamp()).ok()
                }
                _ => None,
            }
        })
        .await;
        if let Some(row) = closed {
            publish_row(inner, &row, None);
        }
    }
}

/// Runs `f` with the engine on the blocking pool (the store and the plugins are synchronous).
pub(crate) async fn blocking<D: DockerApi, T: Send + 'static>(
    inner: &Arc<Inner<D>>,
    f: impl FnOnce(&Inner<D>) -> T + Send + 'static,
) -> T {
    let inner = Arc::clone(inner);
    match tokio::task::spawn_blocking(move || f(&inner)).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// One row of the job and how it ended.
struct RowState {
    decky: String,
    id: Uuid,
    outcome: Option<Result<(), String>>,
}

async fn run<D: DockerApi>(inner: Arc<Inner<D>>, job: Job, cancel: CancellationToken) {
    let mut rows: Vec<RowState> = job
        .rows
        .iter()
        .map(|(decky, id, _)| RowState { decky: decky.clone(), id: *id, outcome: None })
        .collect();
    for row in &rows {
        update(&inner, row.id, StatusChange::running().with_detail("preparing"), Some("preparing")).await;
    }
    let row_ids: HashMap<String, Uuid> = rows.iter().map(|r| (r.decky.clone(), r.id)).collect();
    match execute(&inner, &job, &row_ids, &cancel).await {
        Ok(outcomes) => {
            for row in &mut rows {
                let own = outcomes.deckies.get(&row.decky).cloned().unwrap_or(Ok(()));
                row.outcome = Some(own.and_then(|()| match &outcomes.fleet_services {
                    Some(error) => {
                        Err(format!("the decky is ready, but the fleet's services failed: {error}"))
                    }
                    None => Ok(()),
                }));
            }
        }
        Err(reason) => {
            for row in &mut rows {
                row.outcome = Some(Err(reason.clone()));
            }
        }
    }
    let mut all_ok = true;
    for row in &rows {
        let change = match row.outcome.clone().unwrap_or(Ok(())) {
            Ok(()) => StatusChange::succeeded(),
            Err(reason) => {
                all_ok = false;
                StatusChange::failed(reason)
            }
        };
        update(&inner, row.id, change, None).await;
    }
    if all_ok {
        finish(&inner, job).await;
    }
}

/// Moves row `id` and publishes the change.
async fn update<D: DockerApi>(inner: &Arc<Inner<D>>, id: Uuid, change: StatusChange, step: Option<&str>) {
    let updated =
        blocking(inner, move |inner| lock(&inner.store).transition(id, change, inner.timestamp())).await;
    match updated {
        Ok(row) => publish_row(inner, &row, step.map(|text| (text, None))),
        Err(error) => tracing::error!(%id, %error, "lifecycle row not updated"),
    }
}

/// Records `step` on row `id` and publishes it, with how far the decky's plan is when known.
async fn record_step<D: DockerApi>(
    inner: &Arc<Inner<D>>,
    id: Uuid,
    step: String,
    progress: Option<Progress>,
) {
    let shown = step.clone();
    let updated =
        blocking(inner, move |inner| lock(&inner.store).record_step(id, &step, inner.timestamp())).await;
    match updated {
        Ok(row) => publish_row(inner, &row, Some((&shown, progress))),
        Err(error) => tracing::warn!(%id, %error, "step not recorded"),
    }
}

async fn finish<D: DockerApi>(inner: &Arc<Inner<D>>, job: Job) {
    for event in job.after_success {
        inner.publish(event);
    }
    if job.forget_fleet_when_done {
        let fleet = job.fleet.clone();
        let forgotten = blocking(inner, move |inner| {
            let mut store = lock(&inner.store);
            match store.load_fleet(&fleet)? {
                Some(stored) if stored.record.deckies.is_empty() => store.delete_fleet(&fleet).map(|()| true),
                _ => Ok(false),
            }
        })
        .await;
        match forgotten {
            Ok(true) => tracing::info!(fleet = %job.fleet, "fleet torn down and forgotten"),
            Ok(false) => {}
            Err(error) => tracing::warn!(fleet = %job.fleet, %error, "fleet not forgotten"),
        }
    }
}

/// The desired state and the project's declared volumes.
pub(crate) struct Target {
    pub desired: Desired,
    pub volumes: Option<Map<String, Value>>,
}

/// What the job converges to, rendered from the store now.
pub(crate) async fn target<D: DockerApi>(
    inner: &Arc<Inner<D>>,
    fleet: &str,
    what: &JobTarget,
) -> Result<Target, OpError> {
    if matches!(what, JobTarget::Nothing) {
        return Ok(Target { desired: Desired::empty(fleet), volumes: None });
    }
    let name = fleet.to_owned();
    blocking(inner, move |inner| {
        let stored = lock(&inner.store).load_fleet(&name)?;
        let Some(stored) = stored else {
            return Ok(Target { desired: Desired::empty(&name), volumes: None });
        };
        let fleet = from_record(&stored.record)?;
        let project = render(inner, &fleet)?;
        let desired = Desired::from_project(&name, &project).map_err(|e| OpError::Internal(e.to_string()))?;
        let volumes = project.document.get("volumes").and_then(Value::as_object).cloned();
        Ok(Target { desired, volumes })
    })
    .await
}

/// Docker's state of the managed containers and networks.
pub(crate) async fn observe<D: DockerApi>(docker: &D) -> Result<Observed, DockerError> {
    let containers = docker.managed_containers().await?;
    let networks = docker.managed_networks().await?;
    Ok(Observed {
        containers: containers
            .into_iter()
            .map(|c| ObservedContainer {
                running: c.is_running() || c.state == "restarting",
                name: c.name,
                labels: c.labels.into_iter().collect(),
            })
            .collect(),
        networks: networks
            .into_iter()
            .map(|n| ObservedNetwork {
                name: n.name,
                labels: n.labels.into_iter().collect(),
                driver: n.driver,
                subnet: n.subnet,
            })
            .collect(),
    })
}

/// How a job's plan went: each decky that had steps (deckies without steps were already as
/// desired), and the fleet services' steps, which belong to no decky.
struct Outcomes {
    deckies: BTreeMap<String, Result<(), String>>,
    /// Why the fleet services (the sniffer) could not be brought to their design. Every row
    /// of the job reports it: the operation did not reach the desired state.
    fleet_services: Option<String>,
}

/// Runs the job's plan. `Err` fails every row with that reason.
async fn execute<D: DockerApi>(
    inner: &Arc<Inner<D>>,
    job: &Job,
    rows: &HashMap<String, Uuid>,
    cancel: &CancellationToken,
) -> Result<Outcomes, String> {
    inner.docker.ping().await.map_err(|e| e.to_string())?;
    if let Some(first) = &job.remove_first {
        for id in rows.values() {
            record_step(inner, *id, format!("remove {}", first.container), None).await;
        }
        if let Some(origin) =
            events::sources_by_name(inner).await.ok().and_then(|mut s| s.remove(&first.container))
        {
            events::save_before_removal(inner, &origin).await;
        }
        inner.docker.remove_container(&first.container).await.map_err(|e| e.to_string())?;
        let record = first.then_save.clone();
        blocking(inner, move |inner| lock(&inner.store).save_fleet(&record, inner.timestamp()))
            .await
            .map_err(|e| format!("container removed, but the new service list was not saved: {e}"))?;
    }
    let target = target(inner, &job.fleet, &job.target).await.map_err(|e| e.to_string())?;
    let observed = observe(&inner.docker).await.map_err(|e| e.to_string())?;
    let plan = reconcile(&target.desired, &observed, job.scope.clone());
    tracing::debug!(fleet = %job.fleet, operation = %job.operation.as_str(), "plan:\n{plan}");
    let images = images_to_create(&plan, &target.desired);
    if !images.is_empty() {
        for id in rows.values() {
            record_step(inner, *id, "check images".to_owned(), None).await;
        }
        ensure_images(&inner.docker, images.iter().map(String::as_str)).await.map_err(|e| e.to_string())?;
    }
    let doomed = doomed_sources(inner, &plan).await;
    let executor = Executor { inner, target: &target, cancel, doomed: &doomed };
    for step in &plan.first {
        executor.run(step).await.map_err(|e| format!("{step}: {e}"))?;
    }
    let executor = &executor;
    let mut work = Vec::with_capacity(plan.groups.len());
    for group in &plan.groups {
        let row = match &group.owner {
            Owner::Decky(decky) => rows.get(decky).copied(),
            Owner::FleetServices => None,
        };
        work.push(async move { (group.owner.clone(), executor.run_group(&group.steps, row).await) });
    }
    let groups: Vec<_> =
        futures_util::stream::iter(work).buffer_unordered(inner.max_parallel_deckies).collect().await;
    let mut outcomes = Outcomes { deckies: BTreeMap::new(), fleet_services: None };
    let mut failed = false;
    for (owner, outcome) in groups {
        failed |= outcome.is_err();
        match owner {
            Owner::Decky(decky) => {
                outcomes.deckies.insert(decky, outcome);
            }
            Owner::FleetServices => {
                if let Err(error) = outcome {
                    tracing::error!(fleet = %job.fleet, %error, "fleet services failed");
                    outcomes.fleet_services = Some(error);
                }
            }
        }
    }
    if !failed {
        for step in &plan.last {
            if let Err(error) = executor.run(step).await {
                tracing::warn!(fleet = %job.fleet, %error, "{step} failed");
            }
        }
    }
    Ok(outcomes)
}

/// The service containers the plan removes or recreates, with where their lines come from:
/// their logs are read to the end before they go. One listing, only when the plan removes.
async fn doomed_sources<D: DockerApi>(inner: &Arc<Inner<D>>, plan: &Plan) -> HashMap<String, EventOrigin> {
    let removes = |step: &Step| matches!(step, Step::RemoveContainer { .. } | Step::RecreateContainer { .. });
    if !plan.steps().any(removes) {
        return HashMap::new();
    }
    events::sources_by_name(inner).await.unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot list containers; events not saved before removal");
        HashMap::new()
    })
}

/// Images of the containers the plan creates.
fn images_to_create(plan: &Plan, desired: &Desired) -> Vec<String> {
    let mut images: Vec<String> = plan
        .steps()
        .filter_map(|step| match step {
            Step::CreateContainer { name, .. } | Step::RecreateContainer { name, .. } => Some(name),
            _ => None,
        })
        .filter_map(|name| desired.containers.iter().find(|c| &c.name == name))
        .filter_map(|c| c.spec.get("image").and_then(Value::as_str).map(str::to_owned))
        .collect();
    images.sort();
    images.dedup();
    images
}

struct Executor<'a, D> {
    inner: &'a Arc<Inner<D>>,
    target: &'a Target,
    cancel: &'a CancellationToken,
    /// Service containers to read to the end before removing them, by name.
    doomed: &'a HashMap<String, EventOrigin>,
}

impl<D: DockerApi> Executor<'_, D> {
    /// One owner's steps in order, each recorded on `row`; stops at the first failure.
    async fn run_group(&self, steps: &[Step], row: Option<Uuid>) -> Result<(), String> {
        let total = u32::try_from(steps.len()).unwrap_or(u32::MAX);
        for (done, step) in (1..).zip(steps) {
            if self.cancel.is_cancelled() {
                return Err(format!("cancelled before: {step}"));
            }
            if let Some(id) = row {
                record_step(self.inner, id, step.to_string(), Some(Progress { done, total })).await;
            }
            self.run(step).await.map_err(|e| format!("{step}: {e}"))?;
        }
        Ok(())
    }

    async fn run(&self, step: &Step) -> Result<(), DockerError> {
        let docker = &self.inner.docker;
        match step {
            Step::EnsureNetwork { name } => {
                let spec = self.target.desired.networks.iter().find(|n| &n.name == name).map(|n| &n.spec);
                let spec =
                    spec.ok_or_else(|| DockerError::NotFound { what: format!("desired network {name}") })?;
                let mut request = network_request(name, spec)?;
                let owner = (labels::OWNER.to_owned(), self.inner.owner.clone());
                request.labels.get_or_insert_with(Default::default).extend([owner]);
                match docker.create_network(request).await {
                    // Another job created it meanwhile.
                    Err(DockerError::Conflict { .. }) => Ok(()),
                    other => other,
                }
            }
            Step::CreateContainer { name, spec_hash } => self.create_and_start(name, spec_hash).await,
            Step::StartContainer { name } => docker.start_container(name).await,
            Step::RemoveContainer { name } => {
                self.save_events(name).await;
                docker.remove_container(name).await
            }
            Step::RecreateContainer { name, spec_hash } => {
                self.save_events(name).await;
                docker.remove_container(name).await?;
                self.create_and_start(name, spec_hash).await
            }
            Step::RemoveNetwork { name } => docker.remove_network(name).await,
        }
    }

    async fn save_events(&self, name: &str) {
        if let Some(origin) = self.doomed.get(name) {
            events::save_before_removal(self.inner, origin).await;
        }
    }

    async fn create_and_start(&self, name: &str, spec_hash: &str) -> Result<(), DockerError> {
        let container = self.target.desired.containers.iter().find(|c| c.name == name);
        let container =
            container.ok_or_else(|| DockerError::NotFound { what: format!("desired container {name}") })?;
        let mut request = container_request(name, &container.spec, self.target.volumes.as_ref())?;
        let added = request.body.labels.get_or_insert_with(Default::default);
        added.insert(SPEC_HASH_LABEL.to_owned(), spec_hash.to_owned());
        added.insert(labels::OWNER.to_owned(), self.inner.owner.clone());
        self.inner.docker.create_container(request).await?;
        self.inner.docker.start_container(name).await
    }
}
