//! Deploy benchmarks on the local Docker engine, reported side by side in one run:
//!
//! 1. Deploying 20 deckies × 3 services (80 containers) with Chaff's lifecycle engine
//!    (`import_ini` + `deploy`, until every lifecycle row is terminal) vs `docker-compose up -d`
//!    on the compose file Chaff renders for the same fleet.
//! 2. The daemon's own limit: the same 80 containers created and started by a minimal parallel
//!    loop over the same Docker client (the network, then every base at once, then every
//!    service container at once).
//! 3. Adding one service to a decky of the running fleet (`add_service`) vs redeploying the
//!    whole fleet with that service (teardown + deploy).
//!
//! One discarded warm-up round, then the repetitions, interleaved (the order of the methods
//! rotates every round). Everything is torn down between repetitions (not measured), and a
//! repetition counts only if exactly the expected containers are running afterwards; an
//! invalid one is cleaned up and retried. Before each repetition the benchmark waits (up to
//! 20 s) for the CPUs to be mostly idle and for the last teardown's shims to exit, and it
//! reports the CPU other processes took during each one: the machine may be shared.
//!
//! Where the time goes: every Docker call the engine and the direct loop make is timed, and
//! the CPU time of dockerd, containerd, the shims, the storage driver's FUSE servers, the
//! sensors and compose is read from /proc.
//!
//! Needs Docker and `docker-compose` (v1) on this machine; every image is built locally (the
//! sensor image by Chaff itself). Owns fleet `benchdeploy`, network `chaff_benchdeploy`
//! (10.244.1.0/24), deckies `bench-d-01`..`bench-d-20` and compose project `benchcompose`, and
//! removes them before starting, at the end, on failure and on Ctrl-C.
//!
//! Run: `cargo bench -p chaff-bench --bench deploy` (see BENCHMARKS.md). Options after `--`:
//! `--reps N` (default 5) and `--max-parallel N` (deckies the engine drives at once; default the
//! engine's own, [`chaff_lifecycle::MAX_PARALLEL_DECKIES`]).

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use chaff_bus::Bus;
use chaff_docker::images::{SensorImage, ensure_sensor_image};
use chaff_docker::{
    BollardDocker, ContainerRequest, ContainerState, DockerApi, DockerError, EngineVersion, LogStream,
    NetworkCreateRequest, NetworkState, StartStream, container_request, network_request,
};
use chaff_engine::data_dir::DataDir;
use chaff_engine::naming::labels;
use chaff_engine::reconcile::Desired;
use chaff_engine::{Fleet, render_fleet};
use chaff_lifecycle::{
    Accepted, DeployRequest, Engine, EngineOptions, LifecycleStatus, OpError, TeardownTarget, Uuid,
};
use chaff_state::{Store, Timestamp};
use indexmap::IndexMap;
use tokio::task::JoinSet;

const FLEET: &str = "benchdeploy";
const NETWORK: &str = "chaff_benchdeploy";
const COMPOSE_PROJECT: &str = "benchcompose";
const DECKIES: usize = 20;
const SERVICES_PER_DECKY: usize = 3;
/// Bases and service containers of the fleet.
const CONTAINERS: usize = DECKIES * (1 + SERVICES_PER_DECKY);
const INI: &str = "\
[general]
name = benchdeploy
net = 10.244.1.0/24
gw = 10.244.1.1

[bench-d]
amount = 20
services = ssh,http,redis
";
/// The decky that gets a service live, and the service.
const ADD_DECKY: &str = "bench-d-01";
const ADD_SERVICE: &str = "ftp";
const DEFAULT_REPS: usize = 5;
/// Attempts at one repetition before the benchmark gives up.
const ATTEMPTS: usize = 3;
/// How often the lifecycle rows are read while waiting (the resolution of Chaff's timings).
const POLL: Duration = Duration::from_millis(10);
/// Before each repetition, wait until the CPUs are at most this busy (over half a second) ...
const SETTLED_BUSY: f64 = 0.25;
/// ... but no longer than this.
const SETTLE_MAX: Duration = Duration::from_secs(20);
/// No operation of this benchmark may take longer.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);

type Chaff = Engine<TimedDocker>;
type Result<T, E = String> = std::result::Result<T, E>;

struct Options {
    reps: usize,
    max_parallel: Option<usize>,
}

impl Options {
    /// `cargo bench` passes `--bench`; anything unknown is ignored.
    fn parse() -> Options {
        let args: Vec<String> = std::env::args().collect();
        let value = |flag: &str| {
            let at = args.iter().position(|a| a == flag)?;
            let text = args.get(at + 1)?;
            Some(
                text.parse::<usize>()
                    .unwrap_or_else(|_| panic!("{flag} takes a positive integer, got {text}")),
            )
        };
        Options {
            reps: value("--reps").unwrap_or(DEFAULT_REPS).max(1),
            max_parallel: value("--max-parallel"),
        }
    }
}

/// What every repetition shares.
struct Setup {
    /// Holds the engine's data directory and the compose file.
    _dir: tempfile::TempDir,
    compose_file: PathBuf,
    /// The rendered fleet, for the direct API loop.
    desired: Desired,
    /// For checks and clean-up (not timed).
    plain: Arc<BollardDocker>,
    /// The direct loop's own client (the engine has another).
    direct: Arc<TimedDocker>,
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let data_dir = DataDir::at(dir.path().join("data"));
    let plugins = chaff_engine::plugins::open_plugins(&data_dir).expect("plugins load").host;
    let store =
        Store::open(data_dir.state_db(), Timestamp::from_system_time(SystemTime::now())).expect("store");
    let mut engine_options = EngineOptions::default();
    if let Some(n) = options.max_parallel {
        engine_options.max_parallel_deckies = n;
    }
    let parallel = engine_options.max_parallel_deckies;
    let engine =
        Engine::new(store, plugins, TimedDocker::new(), Bus::new(), runtime.handle().clone(), engine_options);

    // The compose file Chaff renders for the same fleet (the same images, labels and names).
    let fleet = engine.import_ini(INI, FLEET, false).expect("the benchmark INI imports");
    let project = render_fleet(&fleet, engine.plugins()).expect("the fleet renders");
    let compose_file = dir.path().join("compose.yml");
    std::fs::write(&compose_file, project.to_yaml().expect("yaml")).expect("write the compose file");
    let desired = Desired::from_project(FLEET, &project).expect("desired state");
    assert_eq!(desired.containers.len(), CONTAINERS, "the rendered fleet has {CONTAINERS} containers");

    let setup = Arc::new(Setup {
        _dir: dir,
        compose_file,
        desired,
        plain: Arc::new(BollardDocker::from_env()),
        direct: Arc::new(TimedDocker::new()),
    });
    let outcome = runtime.block_on(async {
        let machine = match machine(&setup.plain).await {
            Ok(machine) => machine,
            Err(error) => return Err(format!("Docker or docker-compose unusable: {error}")),
        };
        if let Err(error) = reset(&engine, &setup).await {
            return Err(format!("cannot remove what a previous run left: {error}"));
        }
        let work = tokio::spawn(run(engine.clone(), Arc::clone(&setup), options.reps));
        let abort = work.abort_handle();
        let result = tokio::select! {
            joined = work => joined.unwrap_or_else(|e| Err(format!("the benchmark stopped: {e}"))),
            _ = tokio::signal::ctrl_c() => {
                abort.abort();
                Err("interrupted".to_owned())
            }
        };
        // A finished run leaves the fleet deployed: the engine tears it down. After a failure,
        // stop the engine's jobs first, then remove whatever they or the failure left.
        let cleaned = match &result {
            Ok(_) => reset(&engine, &setup).await,
            Err(_) => {
                engine.shutdown().await;
                clean(&setup.plain).await
            }
        };
        engine.shutdown().await;
        let report = result?;
        cleaned.map_err(|e| format!("benchmark done, but cleaning up failed: {e}"))?;
        Ok((machine, report))
    });
    let failed = match outcome {
        Ok((machine, report)) => {
            report.print(&machine, options.reps, parallel);
            false
        }
        Err(error) => {
            eprintln!("deploy benchmark failed: {error}");
            true
        }
    };
    // Tasks hold the setup; dropping the runtime drops them, then the temporary directory goes.
    drop(runtime);
    drop(engine);
    drop(setup);
    if failed {
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The runs.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Chaff,
    Compose,
    Direct,
}

struct Report {
    chaff: Vec<Sample>,
    compose: Vec<Sample>,
    direct: Vec<Sample>,
    add: Vec<Sample>,
    /// Full redeploys: (teardown, deploy) parts of each.
    redeploy: Vec<(Duration, Duration)>,
}

/// One measured repetition and, when the calls were timed, where its time went.
struct Sample {
    total: Duration,
    breakdown: Option<Breakdown>,
    /// What the machine's CPUs did meanwhile.
    cpu: Option<CpuUse>,
    /// The direct loop's phases: the network, every base, every service container.
    phases: Option<[Duration; 3]>,
}

async fn run(engine: Chaff, setup: Arc<Setup>, reps: usize) -> Result<Report> {
    let mut report = Report {
        chaff: Vec::new(),
        compose: Vec::new(),
        direct: Vec::new(),
        add: Vec::new(),
        redeploy: Vec::new(),
    };
    let (engine, setup): (&Chaff, &Setup) = (&engine, &setup);
    // Round 0 warms up (images, page cache, connection pools) and is discarded.
    for round in 0..=reps {
        let mut order = [Method::Chaff, Method::Compose, Method::Direct];
        order.rotate_left(round % 3);
        for method in order {
            let label = if round == 0 { "warm-up".to_owned() } else { format!("rep {round}") };
            let sample = attempt(engine, setup, &format!("{method:?} deploy, {label}"), || async move {
                match method {
                    Method::Chaff => chaff_deploy(engine, setup).await,
                    Method::Compose => compose_deploy(setup).await,
                    Method::Direct => direct_deploy(setup).await,
                }
            })
            .await?;
            eprintln!("{method:?} deploy, {label}: {:.2} s", sample.total.as_secs_f64());
            if round > 0 {
                match method {
                    Method::Chaff => report.chaff.push(sample),
                    Method::Compose => report.compose.push(sample),
                    Method::Direct => report.direct.push(sample),
                }
            }
        }
    }

    // Live add-service vs full redeploy, on the running 20-decky fleet.
    for round in 0..=reps {
        let label = if round == 0 { "warm-up".to_owned() } else { format!("rep {round}") };
        let add_first = round % 2 == 0;
        for add in [add_first, !add_first] {
            if add {
                let sample =
                    attempt(engine, setup, &format!("add-service, {label}"), || add_service(engine, setup))
                        .await?;
                eprintln!("add-service, {label}: {:.0} ms", ms(sample.total));
                if round > 0 {
                    report.add.push(sample);
                }
            } else {
                let parts =
                    attempt(engine, setup, &format!("full redeploy, {label}"), || redeploy(engine, setup))
                        .await?;
                eprintln!(
                    "full redeploy, {label}: {:.2} s (teardown {:.2} s + deploy {:.2} s)",
                    (parts.0 + parts.1).as_secs_f64(),
                    parts.0.as_secs_f64(),
                    parts.1.as_secs_f64()
                );
                if round > 0 {
                    report.redeploy.push(parts);
                }
            }
        }
    }
    Ok(report)
}

/// Runs one repetition, retrying it (after a full clean-up) when it was invalid.
async fn attempt<T, F, Fut>(engine: &Chaff, setup: &Setup, what: &str, mut once: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut last = String::new();
    for n in 1..=ATTEMPTS {
        match once().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                eprintln!("{what}: attempt {n} invalid, not counted: {error}");
                last = error;
                reset(engine, setup).await?;
            }
        }
    }
    Err(format!("{what}: {ATTEMPTS} invalid attempts in a row; the last: {last}"))
}

/// Chaff: import the INI, deploy, wait until every row is terminal. Then torn down by the
/// engine (not measured).
async fn chaff_deploy(engine: &Chaff, setup: &Setup) -> Result<Sample> {
    expect_nothing(setup).await?;
    image_ready(&setup.plain).await?;
    settle().await;
    engine.docker().take();
    let cpu = CpuTimes::now();
    let start = Instant::now();
    let end = operate(engine, "deploy", deploy_ini).await?;
    let cpu = CpuTimes::now().since(&cpu);
    engine.idle().await;
    let spans = engine.docker().take();
    no_build(&spans)?;
    expect_running(&setup.plain, CONTAINERS).await?;
    chaff_teardown(engine).await?;
    Ok(Sample { total: end - start, breakdown: Some(Breakdown::new(start, end, &spans)), cpu, phases: None })
}

/// `docker-compose up -d` on the rendered file; then `docker-compose down` (not measured).
async fn compose_deploy(setup: &Setup) -> Result<Sample> {
    expect_nothing(setup).await?;
    image_ready(&setup.plain).await?;
    settle().await;
    let file = setup.compose_file.clone();
    let cpu = CpuTimes::now();
    let start = Instant::now();
    let up = blocking(move || compose(&file, &["up", "-d"])).await;
    let total = start.elapsed();
    let cpu = CpuTimes::now().since(&cpu);
    up?;
    expect_running(&setup.plain, CONTAINERS).await?;
    let file = setup.compose_file.clone();
    blocking(move || compose(&file, &["down", "-t", "3"])).await?;
    Ok(Sample { total, breakdown: None, cpu, phases: None })
}

/// The daemon's limit: the network, then every base at once, then every service container at
/// once, each created then started, over the same client code the engine uses. The requests
/// are built before the clock starts; teardown by parallel removal (not measured).
async fn direct_deploy(setup: &Setup) -> Result<Sample> {
    expect_nothing(setup).await?;
    image_ready(&setup.plain).await?;
    settle().await;
    let network = &setup.desired.networks[0];
    let network = network_request(&network.name, &network.spec).map_err(|e| e.to_string())?;
    let requests = |bases: bool| -> Result<Vec<ContainerRequest>> {
        setup
            .desired
            .containers
            .iter()
            .filter(|c| c.is_base == bases)
            .map(|c| container_request(&c.name, &c.spec, None).map_err(|e| e.to_string()))
            .collect()
    };
    let (bases, services) = (requests(true)?, requests(false)?);
    let docker = &setup.direct;
    docker.take();
    let cpu = CpuTimes::now();
    let start = Instant::now();
    docker.create_network(network).await.map_err(|e| e.to_string())?;
    let networked = Instant::now();
    create_and_start_all(docker, bases).await?;
    let based = Instant::now();
    create_and_start_all(docker, services).await?;
    let end = Instant::now();
    let cpu = CpuTimes::now().since(&cpu);
    let spans = docker.take();
    expect_running(&setup.plain, CONTAINERS).await?;
    clean(&setup.plain).await?;
    Ok(Sample {
        total: end - start,
        breakdown: Some(Breakdown::new(start, end, &spans)),
        cpu,
        phases: Some([networked - start, based - networked, end - based]),
    })
}

async fn create_and_start_all(docker: &Arc<TimedDocker>, requests: Vec<ContainerRequest>) -> Result<()> {
    let mut work = JoinSet::new();
    for request in requests {
        let docker = Arc::clone(docker);
        work.spawn(async move {
            let name = request.name.clone();
            docker.create_container(request).await?;
            docker.start_container(&name).await
        });
    }
    while let Some(done) = work.join_next().await {
        done.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Adds [`ADD_SERVICE`] to [`ADD_DECKY`] of the running fleet and waits for its row; then
/// removes it again (not measured).
async fn add_service(engine: &Chaff, setup: &Setup) -> Result<Sample> {
    base_fleet_running(engine, setup).await?;
    image_ready(&setup.plain).await?;
    settle().await;
    engine.docker().take();
    let start = Instant::now();
    let end =
        operate(engine, "add-service", |e| e.add_service(ADD_DECKY, ADD_SERVICE, IndexMap::new())).await?;
    engine.idle().await;
    let spans = engine.docker().take();
    no_build(&spans)?;
    expect_running(&setup.plain, CONTAINERS + 1).await?;
    remove_added(engine, setup).await?;
    Ok(Sample {
        total: end - start,
        breakdown: Some(Breakdown::new(start, end, &spans)),
        cpu: None,
        phases: None,
    })
}

/// Tears the running fleet down and deploys it again with [`ADD_SERVICE`] on [`ADD_DECKY`]:
/// the same end state as [`add_service`]. Returns the (teardown, deploy) parts.
async fn redeploy(engine: &Chaff, setup: &Setup) -> Result<(Duration, Duration)> {
    base_fleet_running(engine, setup).await?;
    image_ready(&setup.plain).await?;
    settle().await;
    let e = engine.clone();
    let mut fleet: Fleet =
        blocking(move || e.fleet(FLEET)).await.map_err(|e| e.to_string())?.ok_or("no fleet")?;
    let decky = fleet.deckies.iter_mut().find(|d| d.name == ADD_DECKY).ok_or("no such decky")?;
    decky.services.push(ADD_SERVICE.to_owned());
    engine.docker().take();
    let start = Instant::now();
    operate(engine, "teardown", |e| e.teardown(TeardownTarget::Fleet(FLEET.to_owned()))).await?;
    // The job forgets the fleet right after closing its rows; the deploy must not race it.
    engine.idle().await;
    let torn_down = Instant::now();
    let end = operate(engine, "deploy", move |e| e.deploy(DeployRequest { fleet, replace: false })).await?;
    engine.idle().await;
    no_build(&engine.docker().take())?;
    expect_running(&setup.plain, CONTAINERS + 1).await?;
    remove_added(engine, setup).await?;
    Ok((torn_down - start, end - torn_down))
}

/// Deploys the 20-decky fleet with the engine unless it is already running as designed.
async fn base_fleet_running(engine: &Chaff, setup: &Setup) -> Result<()> {
    let e = engine.clone();
    let stored = blocking(move || e.fleet(FLEET)).await.map_err(|e| e.to_string())?;
    let as_designed = stored.is_some_and(|f| {
        f.deckies.len() == DECKIES && f.deckies.iter().all(|d| d.services.len() == SERVICES_PER_DECKY)
    });
    if as_designed && expect_running(&setup.plain, CONTAINERS).await.is_ok() {
        return Ok(());
    }
    reset(engine, setup).await?;
    image_ready(&setup.plain).await?;
    operate(engine, "deploy", deploy_ini).await?;
    engine.idle().await;
    expect_running(&setup.plain, CONTAINERS).await
}

async fn remove_added(engine: &Chaff, setup: &Setup) -> Result<()> {
    operate(engine, "remove-service", |e| e.remove_service(ADD_DECKY, ADD_SERVICE)).await?;
    engine.idle().await;
    expect_running(&setup.plain, CONTAINERS).await
}

async fn chaff_teardown(engine: &Chaff) -> Result<()> {
    operate(engine, "teardown", |e| e.teardown(TeardownTarget::Fleet(FLEET.to_owned()))).await?;
    engine.idle().await;
    Ok(())
}

/// Starts an operation on the blocking pool and waits for its rows (see [`wait_rows`]).
async fn operate(
    engine: &Chaff,
    what: &str,
    operation: impl FnOnce(&Chaff) -> Result<Accepted, OpError> + Send + 'static,
) -> Result<Instant> {
    let e = engine.clone();
    let accepted = blocking(move || operation(&e)).await.map_err(|err| format!("{what} refused: {err}"))?;
    wait_rows(engine, &accepted.lifecycle_ids).await
}

/// Imports the benchmark's INI and deploys it.
fn deploy_ini(engine: &Chaff) -> Result<Accepted, OpError> {
    let fleet = engine.import_ini(INI, FLEET, false)?;
    engine.deploy(DeployRequest { fleet, replace: false })
}

/// Polls the rows until every one is terminal; the instant they were seen so. A failed row
/// makes the repetition invalid.
async fn wait_rows(engine: &Chaff, ids: &[Uuid]) -> Result<Instant> {
    let deadline = Instant::now() + OPERATION_TIMEOUT;
    loop {
        let (e, wanted) = (engine.clone(), ids.to_vec());
        let rows = blocking(move || e.lifecycle(&wanted)).await.map_err(|e| e.to_string())?;
        if rows.len() == ids.len() && rows.iter().all(|r| r.status.is_terminal()) {
            let seen = Instant::now();
            let failed: Vec<String> = rows
                .iter()
                .filter(|r| r.status == LifecycleStatus::Failed)
                .map(|r| format!("{}: {}", r.decky, r.error.as_deref().unwrap_or("failed")))
                .collect();
            return if failed.is_empty() {
                Ok(seen)
            } else {
                Err(format!("rows failed: {}", failed.join("; ")))
            };
        }
        if Instant::now() > deadline {
            return Err(format!("rows still open after {} s", OPERATION_TIMEOUT.as_secs()));
        }
        tokio::time::sleep(POLL).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Docker state: checks and clean-up.

/// This benchmark's containers (every state).
async fn ours(docker: &BollardDocker) -> Result<Vec<ContainerState>> {
    let all = docker.managed_containers().await.map_err(|e| e.to_string())?;
    Ok(all.into_iter().filter(|c| c.labels.get(labels::FLEET).map(String::as_str) == Some(FLEET)).collect())
}

async fn our_networks(docker: &BollardDocker) -> Result<Vec<NetworkState>> {
    let all = docker.managed_networks().await.map_err(|e| e.to_string())?;
    Ok(all
        .into_iter()
        .filter(|n| n.name == NETWORK || n.labels.get(labels::FLEET).map(String::as_str) == Some(FLEET))
        .collect())
}

/// Exactly `expected` containers of the fleet, all running.
async fn expect_running(docker: &BollardDocker, expected: usize) -> Result<()> {
    let mine = ours(docker).await?;
    let running = mine.iter().filter(|c| c.is_running()).count();
    if running == expected && mine.len() == expected {
        Ok(())
    } else {
        Err(format!("{running} of {} containers running, expected {expected}", mine.len()))
    }
}

async fn expect_nothing(setup: &Setup) -> Result<()> {
    let (containers, networks) = (ours(&setup.plain).await?, our_networks(&setup.plain).await?);
    if containers.is_empty() && networks.is_empty() {
        Ok(())
    } else {
        Err(format!("{} containers and {} networks left before the run", containers.len(), networks.len()))
    }
}

/// Waits (at most [`SETTLE_MAX`]) until the machine's CPUs are mostly idle, so a repetition
/// does not start while the last teardown's aftermath (or anything else) still runs.
///
/// Docker lists a removed container as gone before its shim and storage processes have
/// exited; the wait also lasts until no more shims run than containers.
async fn settle() {
    let give_up = Instant::now() + SETTLE_MAX;
    while Instant::now() < give_up {
        let before = CpuTimes::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let quiet = CpuTimes::now().since(&before).is_none_or(|cpu| cpu.busy < SETTLED_BUSY);
        if quiet && shim_count() <= running_containers().await {
            return;
        }
    }
    eprintln!("note: the machine stayed busy for {} s before this repetition", SETTLE_MAX.as_secs());
}

/// Every running container on the engine, whoever runs it (`docker ps -q`).
async fn running_containers() -> usize {
    let out = blocking(|| Command::new("docker").args(["ps", "-q"]).output()).await;
    out.map(|o| String::from_utf8_lossy(&o.stdout).lines().count()).unwrap_or(usize::MAX)
}

/// Chaff's sensor image, present and built from this build's binary, before the clock starts
/// (anyone on the machine may have rebuilt it from another build).
async fn image_ready(docker: &BollardDocker) -> Result<()> {
    if ensure_sensor_image(docker).await.map_err(|e| e.to_string())? == SensorImage::Built {
        eprintln!("note: chaff-sensor:0.1 (re)built from this build before the repetition (not measured)");
    }
    Ok(())
}

/// A repetition during which the engine rebuilt the image (someone replaced it meanwhile)
/// measured the build, not the deploy.
fn no_build(spans: &[Span]) -> Result<()> {
    if spans.iter().any(|s| s.call == Call::BuildImage) {
        Err("the sensor image was rebuilt during the measurement".to_owned())
    } else {
        Ok(())
    }
}

/// Makes the engine forget the fleet (tearing it down) and removes every container and network
/// of the fleet, whoever created them, until none is left.
async fn reset(engine: &Chaff, setup: &Setup) -> Result<()> {
    engine.idle().await;
    for _ in 0..2 {
        let e = engine.clone();
        if blocking(move || e.fleet(FLEET)).await.map_err(|e| e.to_string())?.is_none() {
            break;
        }
        match chaff_teardown(engine).await {
            Ok(()) => break,
            Err(error) => {
                eprintln!("clean-up: engine teardown: {error}");
                clean(&setup.plain).await?;
            }
        }
    }
    let e = engine.clone();
    if blocking(move || e.fleet(FLEET)).await.map_err(|e| e.to_string())?.is_some() {
        return Err(format!("the engine still stores fleet {FLEET}"));
    }
    clean(&setup.plain).await
}

/// Removes every container (service containers first) and the network of the fleet.
async fn clean(docker: &Arc<BollardDocker>) -> Result<()> {
    for _ in 0..10 {
        let containers = ours(docker).await?;
        let networks = our_networks(docker).await?;
        if containers.is_empty() && networks.is_empty() {
            return Ok(());
        }
        let (bases, services): (Vec<_>, Vec<_>) = containers
            .into_iter()
            .partition(|c| c.labels.get(labels::ROLE).map(String::as_str) == Some("base"));
        for group in [services, bases] {
            let mut work = JoinSet::new();
            for container in group {
                let docker = Arc::clone(docker);
                work.spawn(async move { docker.remove_container(&container.name).await });
            }
            while let Some(done) = work.join_next().await {
                if let Ok(Err(error)) = done {
                    eprintln!("clean-up: {error}");
                }
            }
        }
        for network in networks {
            if let Err(error) = docker.remove_network(&network.name).await {
                eprintln!("clean-up: {error}");
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("containers or network of {FLEET} still there after 10 clean-up rounds"))
}

/// Runs `docker-compose -p benchcompose -f FILE ARGS...`.
fn compose(file: &std::path::Path, args: &[&str]) -> Result<()> {
    let out = Command::new("docker-compose")
        .args(["-p", COMPOSE_PROJECT, "-f"])
        .arg(file)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run docker-compose: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        Err(format!(
            "docker-compose {} failed: {}",
            args.join(" "),
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

// ---------------------------------------------------------------------------------------------
// Where the time goes: every Docker call timed.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Ping,
    ListContainers,
    ListNetworks,
    CreateNetwork,
    RemoveNetwork,
    CreateContainer,
    StartContainer,
    RemoveContainer,
    InspectImage,
    BuildImage,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    call: Call,
    start: Instant,
    end: Instant,
}

/// [`BollardDocker`] with every call's start and end recorded (one clock read pair and a
/// short lock per call).
struct TimedDocker {
    inner: BollardDocker,
    spans: Mutex<Vec<Span>>,
}

impl TimedDocker {
    fn new() -> TimedDocker {
        TimedDocker { inner: BollardDocker::from_env(), spans: Mutex::new(Vec::new()) }
    }

    /// The calls recorded since the last take.
    fn take(&self) -> Vec<Span> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn timed<T>(&self, call: Call, work: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let out = work.await;
        let span = Span { call, start, end: Instant::now() };
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).push(span);
        out
    }
}

impl DockerApi for TimedDocker {
    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    async fn ping(&self) -> Result<EngineVersion, DockerError> {
        self.timed(Call::Ping, self.inner.ping()).await
    }

    async fn managed_containers(&self) -> Result<Vec<ContainerState>, DockerError> {
        self.timed(Call::ListContainers, self.inner.managed_containers()).await
    }

    async fn managed_networks(&self) -> Result<Vec<NetworkState>, DockerError> {
        self.timed(Call::ListNetworks, self.inner.managed_networks()).await
    }

    async fn create_network(&self, request: NetworkCreateRequest) -> Result<(), DockerError> {
        self.timed(Call::CreateNetwork, self.inner.create_network(request)).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        self.timed(Call::RemoveNetwork, self.inner.remove_network(name)).await
    }

    async fn create_container(&self, request: ContainerRequest) -> Result<String, DockerError> {
        self.timed(Call::CreateContainer, self.inner.create_container(request)).await
    }

    async fn start_container(&self, name: &str) -> Result<(), DockerError> {
        self.timed(Call::StartContainer, self.inner.start_container(name)).await
    }

    async fn remove_container(&self, name: &str) -> Result<(), DockerError> {
        self.timed(Call::RemoveContainer, self.inner.remove_container(name)).await
    }

    async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<std::collections::HashMap<String, String>>, DockerError> {
        self.timed(Call::InspectImage, self.inner.image_labels(image)).await
    }

    async fn build_image(&self, tag: &str, context: Vec<u8>) -> Result<(), DockerError> {
        self.timed(Call::BuildImage, self.inner.build_image(tag, context)).await
    }

    // Not part of a deploy: passed through untimed.
    async fn container_logs(
        &self,
        id: &str,
        since_unix_seconds: i64,
        follow: bool,
    ) -> Result<LogStream<'_>, DockerError> {
        self.inner.container_logs(id, since_unix_seconds, follow).await
    }

    async fn container_starts(&self) -> Result<StartStream<'_>, DockerError> {
        self.inner.container_starts().await
    }
}

/// One repetition's wall time split at its Docker calls.
#[derive(Clone, Debug)]
struct Breakdown {
    /// From the start to the first Docker call (import, validation, render, store, spawn).
    before_docker: Duration,
    /// From the first Docker call to the first container create (ping, listing, image check,
    /// network).
    preparing: Duration,
    /// From the first container create to the last container call's answer.
    containers: Duration,
    /// From the last Docker answer to the end (rows closed, and seen closed by polling).
    after_docker: Duration,
    creates: usize,
    create_mean: Duration,
    starts: usize,
    start_mean: Duration,
    /// Container calls in flight, on average over [`Breakdown::containers`], and at most.
    in_flight_mean: f64,
    in_flight_max: usize,
    /// Docker calls of every kind.
    calls: usize,
}

impl Breakdown {
    fn new(start: Instant, end: Instant, spans: &[Span]) -> Breakdown {
        let container_call = |s: &&Span| matches!(s.call, Call::CreateContainer | Call::StartContainer);
        let first_call = spans.iter().map(|s| s.start).min().unwrap_or(end);
        let last_answer = spans.iter().map(|s| s.end).max().unwrap_or(end).min(end);
        let first_create = spans.iter().filter(container_call).map(|s| s.start).min().unwrap_or(last_answer);
        let last_container = spans.iter().filter(container_call).map(|s| s.end).max().unwrap_or(first_create);
        let mean = |call: Call| {
            let durations: Vec<Duration> =
                spans.iter().filter(|s| s.call == call).map(|s| s.end - s.start).collect();
            let n = durations.len();
            (n, if n == 0 { Duration::ZERO } else { durations.iter().sum::<Duration>() / n as u32 })
        };
        let (creates, create_mean) = mean(Call::CreateContainer);
        let (starts, start_mean) = mean(Call::StartContainer);
        let window = last_container.saturating_duration_since(first_create);
        let busy: Duration = spans.iter().filter(container_call).map(|s| s.end - s.start).sum();
        let mut edges: Vec<(Instant, i64)> =
            spans.iter().filter(container_call).flat_map(|s| [(s.start, 1), (s.end, -1)]).collect();
        edges.sort_by_key(|&(at, delta)| (at, delta));
        let (mut now, mut max) = (0i64, 0i64);
        for (_, delta) in edges {
            now += delta;
            max = max.max(now);
        }
        Breakdown {
            before_docker: first_call.saturating_duration_since(start),
            preparing: first_create.saturating_duration_since(first_call),
            containers: window,
            after_docker: end.saturating_duration_since(last_answer.max(last_container)),
            creates,
            create_mean,
            starts,
            start_mean,
            in_flight_mean: if window.is_zero() { 0.0 } else { busy.as_secs_f64() / window.as_secs_f64() },
            in_flight_max: max as usize,
            calls: spans.len(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Where the CPU goes: /proc (Linux), in clock ticks.

/// Process groups CPU time is reported by, from the process name.
const GROUPS: [&str; 8] = [
    "dockerd",
    "containerd",
    "shims + runc",
    "fuse-overlayfs",
    "sensors",
    "docker-compose",
    "this benchmark",
    "other",
];
const COMPOSE_GROUP: usize = 5;
const SELF_GROUP: usize = 6;
const OTHER_GROUP: usize = 7;

/// Where the benchmark's reaped children (the `docker-compose` runs) are counted.
const CHILDREN: u32 = u32::MAX;

fn group_of(comm: &str) -> usize {
    match comm {
        "dockerd" => 0,
        "containerd" => 1,
        "runc" => 2,
        c if c.starts_with("containerd-shim") => 2,
        // The storage driver of the reference machine: one FUSE server per mounted layer.
        "fuse-overlayfs" => 3,
        "chaff-sensor" => 4,
        "docker-compose" => COMPOSE_GROUP,
        _ => OTHER_GROUP,
    }
}

/// The containerd shims now (one per running container).
fn shim_count() -> usize {
    let comms = std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|entry| {
        entry.file_name().to_str()?.parse::<u32>().ok()?;
        std::fs::read_to_string(entry.path().join("comm")).ok()
    });
    comms.filter(|comm| comm.starts_with("containerd-shim")).count()
}

/// The machine's CPU time and every process's (with its reaped children's), at one moment.
struct CpuTimes {
    total: u64,
    idle: u64,
    /// By pid: (start time, group, ticks, name).
    processes: std::collections::HashMap<u32, (u64, usize, u64, String)>,
}

/// Shares of the machine's CPU capacity during a repetition.
#[derive(Clone, Debug)]
struct CpuUse {
    busy: f64,
    groups: [f64; GROUPS.len()],
    /// The largest users among "other", by process name.
    top_other: Vec<(String, f64)>,
}

impl CpuTimes {
    fn now() -> CpuTimes {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|t| t.parse().ok())
            .collect();
        let total = ticks.iter().sum();
        let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
        let mut processes = std::collections::HashMap::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else { continue };
            let comm = &text[open + 1..close];
            // Fields after the name, from field 3 (state): utime is field 14.
            let fields: Vec<u64> =
                text[close + 1..].split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
            if fields.len() < 20 {
                continue;
            }
            let (own, children) = (fields[10] + fields[11], fields[12] + fields[13]);
            if pid == std::process::id() {
                processes.insert(pid, (fields[18], SELF_GROUP, own, comm.to_owned()));
                processes
                    .insert(CHILDREN, (fields[18], COMPOSE_GROUP, children, "docker-compose".to_owned()));
            } else if pid == 1 {
                // Init reaps the shims and FUSE servers of removed containers: their whole
                // lifetime's CPU would land in its children's time at once.
                processes.insert(pid, (fields[18], OTHER_GROUP, own, comm.to_owned()));
            } else {
                processes.insert(pid, (fields[18], group_of(comm), own + children, comm.to_owned()));
            }
        }
        CpuTimes { total, idle, processes }
    }

    /// What happened between `before` and now (`self`); `None` without /proc.
    fn since(&self, before: &CpuTimes) -> Option<CpuUse> {
        let capacity = self.total.checked_sub(before.total).filter(|t| *t > 0)? as f64;
        let idle = self.idle.saturating_sub(before.idle) as f64;
        let mut groups = [0.0; GROUPS.len()];
        let mut other: std::collections::HashMap<&str, f64> = std::collections::HashMap::new();
        for (pid, (started, group, used, name)) in &self.processes {
            let earlier = match before.processes.get(pid) {
                Some((s, _, u, _)) if s == started => *u,
                _ => 0,
            };
            let share = used.saturating_sub(earlier) as f64 / capacity;
            groups[*group] += share;
            if *group == OTHER_GROUP {
                *other.entry(name.as_str()).or_default() += share;
            }
        }
        let mut top_other: Vec<(String, f64)> = other.into_iter().map(|(n, s)| (n.to_owned(), s)).collect();
        top_other.sort_by(|a, b| b.1.total_cmp(&a.1));
        top_other.truncate(3);
        Some(CpuUse { busy: 1.0 - idle / capacity, groups, top_other })
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

struct Machine {
    cpus: usize,
    docker: String,
    api: String,
    compose: String,
}

async fn machine(docker: &BollardDocker) -> Result<Machine> {
    let version = docker.ping().await.map_err(|e| e.to_string())?;
    let out = blocking(|| Command::new("docker-compose").args(["version", "--short"]).output())
        .await
        .map_err(|e| format!("cannot run docker-compose: {e}"))?;
    Ok(Machine {
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        docker: version.version,
        api: version.api_version,
        compose: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    })
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// The sample whose total is the median.
fn median_sample(samples: &[Sample]) -> &Sample {
    let mut sorted: Vec<&Sample> = samples.iter().collect();
    sorted.sort_by_key(|s| s.total);
    sorted[sorted.len() / 2]
}

fn totals(samples: &[Sample]) -> Vec<Duration> {
    samples.iter().map(|s| s.total).collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", ms(d))
}

fn row(label: &str, values: &[Duration], show: fn(Duration) -> String) {
    let cells: Vec<String> = values.iter().map(|&v| format!("{:>9}", show(v))).collect();
    println!("{label:<44} {}  | {:>9}", cells.join(" "), show(median(values)));
}

impl Report {
    fn print(&self, machine: &Machine, reps: usize, parallel: usize) {
        println!(
            "Chaff deploy benchmarks: {DECKIES} deckies x {SERVICES_PER_DECKY} services = {CONTAINERS} containers"
        );
        println!(
            "{} CPUs, Docker {} (API {}), docker-compose {}; engine drives {parallel} deckies at once",
            machine.cpus, machine.docker, machine.api, machine.compose
        );
        println!("{reps} repetitions each after one discarded warm-up round, interleaved; medians\n");
        let header: Vec<String> = (1..=reps).map(|r| format!("{:>9}", format!("rep {r}"))).collect();
        println!("{:<44} {}  | {:>9}", "deploy until every container runs", header.join(" "), "median");
        let (chaff, compose, direct) = (totals(&self.chaff), totals(&self.compose), totals(&self.direct));
        row("chaff (engine: import_ini + deploy)", &chaff, secs);
        row("docker-compose up -d (same compose file)", &compose, secs);
        row("direct API loop (the daemon's limit)", &direct, secs);
        let noise = |samples: &[Sample]| -> String {
            let shares: Vec<String> = samples
                .iter()
                .map(|s| {
                    format!(
                        "{:>9}",
                        s.cpu
                            .as_ref()
                            .map_or("?".to_owned(), |c| format!("{:.0}%", c.groups[OTHER_GROUP] * 100.0))
                    )
                })
                .collect();
            shares.join(" ")
        };
        println!("CPU taken by other processes (noise), per rep:");
        println!("{:<44} {}", "  during chaff", noise(&self.chaff));
        println!("{:<44} {}", "  during compose", noise(&self.compose));
        println!("{:<44} {}", "  during direct", noise(&self.direct));
        let ratio = |a: &[Duration], b: &[Duration]| median(a).as_secs_f64() / median(b).as_secs_f64();
        let goal = if ratio(&chaff, &compose) <= 0.6 { "met" } else { "NOT met" };
        println!("\nratio chaff / compose   : {:.2}x  (goal <= 0.60x: {goal})", ratio(&chaff, &compose));
        println!("ratio chaff / direct    : {:.2}x", ratio(&chaff, &direct));
        println!("ratio compose / direct  : {:.2}x", ratio(&compose, &direct));

        println!("\nwhere the time goes (the median repetition)      chaff     direct");
        let (cs, ds) = (median_sample(&self.chaff), median_sample(&self.direct));
        if let (Some(c), Some(d)) = (&cs.breakdown, &ds.breakdown) {
            let line = |label: &str, a: String, b: String| println!("  {label:<44} {a:>9} {b:>9}");
            line("before the first Docker call", millis(c.before_docker), millis(d.before_docker));
            line("ping, listing, image check, network", millis(c.preparing), millis(d.preparing));
            line("container creates and starts", millis(c.containers), millis(d.containers));
            line("after the last Docker answer", millis(c.after_docker), millis(d.after_docker));
            line("total", millis(cs.total), millis(ds.total));
            line("mean create call", millis(c.create_mean), millis(d.create_mean));
            line("mean start call", millis(c.start_mean), millis(d.start_mean));
            line(
                "container calls in flight, mean",
                format!("{:.1}", c.in_flight_mean),
                format!("{:.1}", d.in_flight_mean),
            );
            line("container calls in flight, max", c.in_flight_max.to_string(), d.in_flight_max.to_string());
            line(
                "Docker calls (creates + starts)",
                format!("{} ({}+{})", c.calls, c.creates, c.starts),
                format!("{} ({}+{})", d.calls, d.creates, d.starts),
            );
        }

        if let Some([network, bases, services]) = ds.phases {
            println!(
                "  direct loop phases: network {}, {DECKIES} bases {}, {} service containers {}",
                millis(network),
                millis(bases),
                CONTAINERS - DECKIES,
                millis(services)
            );
        }

        println!("\nCPU during the median repetition (share of {} CPUs' capacity)", machine.cpus);
        let cpu_line = |label: &str, sample: &Sample| {
            if let Some(cpu) = &sample.cpu {
                let parts: Vec<String> = GROUPS
                    .iter()
                    .zip(cpu.groups)
                    .filter(|(_, share)| *share >= 0.005)
                    .map(|(name, share)| format!("{name} {:.0}%", share * 100.0))
                    .collect();
                let other: Vec<String> = cpu
                    .top_other
                    .iter()
                    .filter(|(_, share)| *share >= 0.005)
                    .map(|(name, share)| format!("{name} {:.0}%", share * 100.0))
                    .collect();
                let unattributed = cpu.busy - cpu.groups.iter().sum::<f64>();
                println!(
                    "  {label:<10} busy {:.0}%: {}, unattributed (kernel, exited processes) {:.0}%",
                    cpu.busy * 100.0,
                    parts.join(", "),
                    unattributed * 100.0
                );
                if !other.is_empty() {
                    println!("  {:<10} other: {}", "", other.join(", "));
                }
            }
        };
        cpu_line("chaff", cs);
        cpu_line("compose", median_sample(&self.compose));
        cpu_line("direct", ds);

        println!("\nadd {ADD_SERVICE} to {ADD_DECKY} of the running fleet");
        println!("{:<44} {}  | {:>9}", "", header.join(" "), "median");
        let add = totals(&self.add);
        let redeploy: Vec<Duration> = self.redeploy.iter().map(|(t, d)| *t + *d).collect();
        let teardown: Vec<Duration> = self.redeploy.iter().map(|(t, _)| *t).collect();
        let deploy: Vec<Duration> = self.redeploy.iter().map(|(_, d)| *d).collect();
        row("live add-service (one container)", &add, millis);
        row("full redeploy (teardown + deploy)", &redeploy, secs);
        row("  of which teardown", &teardown, secs);
        row("  of which deploy", &deploy, secs);
        println!("\nratio redeploy / add-service: {:.1}x", ratio(&redeploy, &add));
        if let Some(b) = &median_sample(&self.add).breakdown {
            println!(
                "add-service (median): {} before Docker, {} ping/listing/image check, {} create+start, {} after",
                millis(b.before_docker),
                millis(b.preparing),
                millis(b.containers),
                millis(b.after_docker)
            );
        }
    }
}
