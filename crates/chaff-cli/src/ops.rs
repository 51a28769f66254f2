//! The lifecycle verbs: deploy, status, teardown, mutate, service, lifecycle, events, watch.
//!
//! Each verb starts the engine (state in the data directory, built-in and trusted plugins,
//! the Docker engine `DOCKER_HOST` names or the local socket), recovers what a previous run
//! left open (only when no other Chaff process is running jobs), starts the operation, and
//! follows its rows to the end with one progress line per decky. `--detach` prints the ids
//! and lets a background process finish the work.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use chaff_bus::Trigger;
use chaff_docker::BollardDocker;
use chaff_engine::data_dir::DataDir;
use chaff_lifecycle::lease::RunnerLease;
use chaff_lifecycle::local::StartError;
use chaff_lifecycle::{
    Accepted, ConfigChange, DeckyState, DeployRequest, Engine, EngineOptions, ErrorCode, LifecycleRow,
    LifecycleStatus, OpError, TeardownTarget, Uuid,
};
use clap::{Args, Subcommand};
use indexmap::IndexMap;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::exit::CliError;
use crate::table;

/// How often a foreground verb re-reads its rows.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Args)]
pub struct FollowArgs {
    /// Print the lifecycle ids and return; a background process finishes the work
    #[arg(long)]
    detach: bool,
    /// Print the final rows as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct DeployArgs {
    /// The deployment INI
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Replace the stored fleet of that name instead of adding deckies to it
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    follow: FollowArgs,
}

#[derive(Args)]
pub struct TeardownArgs {
    /// Only this decky (all its containers, base included)
    #[arg(long, conflicts_with = "fleet")]
    decky: Option<String>,
    /// Only this fleet [default: every fleet]
    #[arg(long)]
    fleet: Option<String>,
    #[command(flatten)]
    follow: FollowArgs,
}

#[derive(Args)]
pub struct MutateArgs {
    /// The decky to give a new service set
    decky: String,
    #[command(flatten)]
    follow: FollowArgs,
}

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Add a service to a running decky (only its container is created)
    Add {
        decky: String,
        service: String,
        /// A configuration value, KEY=VALUE (repeatable)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// Remove a service from a decky (only its container is removed)
    Remove {
        decky: String,
        service: String,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// Store a service's configuration; --apply recreates its container with it now
    Config {
        decky: String,
        service: String,
        /// KEY=VALUE pairs
        #[arg(value_name = "KEY=VALUE", required = true)]
        values: Vec<String>,
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        follow: FollowArgs,
    },
}

#[derive(Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct LifecycleArgs {
    /// Lifecycle ids
    #[arg(required = true)]
    ids: Vec<String>,
    #[arg(long)]
    json: bool,
}

/// Receives an operation's ids (or its refusal) as soon as it is started (`--detach`).
pub type AcceptedSink = Box<dyn FnOnce(&Result<Accepted, CliError>) + Send>;

/// What a verb asks of the engine.
pub enum Verb {
    Deploy(DeployArgs),
    Teardown(TeardownArgs),
    Mutate(MutateArgs),
    Service(ServiceCommand),
    Status(StatusArgs),
    Lifecycle(LifecycleArgs),
    Events(crate::events::EventsArgs),
    Watch,
}

pub fn run(data_dir: &DataDir, verb: Verb) -> Result<(), CliError> {
    if verb.follow().is_some_and(|follow| follow.detach) {
        return crate::detach::run_detached(data_dir, verb);
    }
    run_attached(data_dir, verb, None)
}

impl Verb {
    fn follow(&self) -> Option<&FollowArgs> {
        match self {
            Verb::Deploy(a) => Some(&a.follow),
            Verb::Teardown(a) => Some(&a.follow),
            Verb::Mutate(a) => Some(&a.follow),
            Verb::Service(ServiceCommand::Add { follow, .. })
            | Verb::Service(ServiceCommand::Remove { follow, .. })
            | Verb::Service(ServiceCommand::Config { follow, .. }) => Some(follow),
            Verb::Status(_) | Verb::Lifecycle(_) | Verb::Events(_) | Verb::Watch => None,
        }
    }
}

/// Runs `verb` in this process. `accepted_to`, when given, receives the accepted ids (or
/// the refusal) as soon as the operation is started; the rows are then followed silently.
pub fn run_attached(
    data_dir: &DataDir,
    verb: Verb,
    accepted_to: Option<AcceptedSink>,
) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let (engine, _lease) = start(data_dir).await?;
        let result = dispatch(&engine, verb, accepted_to).await;
        engine.shutdown().await;
        result
    })
}

async fn start(data_dir: &DataDir) -> Result<(Engine<BollardDocker>, RunnerLease), CliError> {
    let started =
        chaff_lifecycle::local::start(data_dir, EngineOptions::default()).await.map_err(|e| match e {
            StartError::Plugins(e) => CliError::from(e),
            other => CliError::Io(other.to_string()),
        })?;
    if let Some(recovered) = &started.recovered {
        report_recovered(&recovered.failed, &recovered.succeeded);
    }
    Ok((started.engine, started.lease))
}

fn report_recovered(failed: &[LifecycleRow], succeeded: &[LifecycleRow]) {
    for row in failed {
        eprintln!(
            "recovered: {} {} {} → failed ({})",
            row.id,
            row.decky,
            row.operation.as_str(),
            row.error.as_deref().unwrap_or("")
        );
    }
    for row in succeeded {
        eprintln!("recovered: {} {} {} → succeeded", row.id, row.decky, row.operation.as_str());
    }
}

async fn dispatch(
    engine: &Engine<BollardDocker>,
    verb: Verb,
    accepted_to: Option<AcceptedSink>,
) -> Result<(), CliError> {
    let follow = verb.follow().map(|f| (f.json, accepted_to.is_some()));
    let accepted = match verb {
        Verb::Status(args) => return status(engine, args.json).await,
        Verb::Lifecycle(args) => return lifecycle(engine, &args),
        Verb::Events(args) => return crate::events::run(engine, args).await,
        Verb::Watch => return watch(engine).await,
        Verb::Deploy(args) => {
            let text = std::fs::read_to_string(&args.config).map_err(|e| {
                CliError::InvalidInput(format!("Config file not found: {} ({e})", args.config.display()))
            })?;
            let default_name = crate::render::fleet_name_from_path(&args.config);
            let replace = args.replace;
            blocking(engine, move |engine| {
                let fleet = engine.import_ini(&text, &default_name, replace)?;
                engine.deploy(DeployRequest { fleet, replace })
            })
            .await
        }
        Verb::Teardown(args) => teardown(engine, args).await,
        Verb::Mutate(args) => blocking(engine, move |e| e.mutate(&args.decky, Trigger::Operator)).await,
        Verb::Service(ServiceCommand::Add { decky, service, set, .. }) => match parse_pairs(&set) {
            Ok(config) => blocking(engine, move |e| e.add_service(&decky, &service, config)).await,
            Err(error) => Err(error),
        },
        Verb::Service(ServiceCommand::Remove { decky, service, .. }) => {
            blocking(engine, move |e| e.remove_service(&decky, &service)).await
        }
        Verb::Service(ServiceCommand::Config { decky, service, values, apply, .. }) => {
            match parse_pairs(&values) {
                Ok(config) => {
                    let change = ConfigChange { decky, service, config, apply };
                    blocking(engine, move |e| e.configure_service(change)).await
                }
                Err(error) => Err(error),
            }
        }
    };
    let (json, detached) = follow.unwrap_or((false, false));
    if let Some(send) = accepted_to {
        send(&accepted);
    }
    let accepted = accepted?;
    if accepted.lifecycle_ids.is_empty() {
        if !detached {
            eprintln!("saved (nothing to run)");
        }
        return Ok(());
    }
    let rows = follow_rows(engine, &accepted.lifecycle_ids, !detached && !json).await?;
    if detached {
        return Ok(());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"));
    } else {
        print_rows(&rows);
    }
    outcome(&rows)
}

async fn teardown(engine: &Engine<BollardDocker>, args: TeardownArgs) -> Result<Accepted, CliError> {
    if let Some(decky) = args.decky {
        return blocking(engine, move |e| e.teardown(TeardownTarget::Decky(decky))).await;
    }
    let fleets = match args.fleet {
        Some(fleet) => vec![fleet],
        None => engine.fleet_names().map_err(op_error)?,
    };
    if fleets.is_empty() {
        return Err(CliError::NotFound("nothing is deployed".into()));
    }
    let mut all = Accepted { lifecycle_ids: Vec::new(), rows: Vec::new() };
    for fleet in fleets {
        let accepted = blocking(engine, move |e| e.teardown(TeardownTarget::Fleet(fleet))).await?;
        all.lifecycle_ids.extend(accepted.lifecycle_ids);
        all.rows.extend(accepted.rows);
    }
    Ok(all)
}

/// Runs an operation on the blocking pool (operations run plugins and write SQLite).
async fn blocking(
    engine: &Engine<BollardDocker>,
    operation: impl FnOnce(&Engine<BollardDocker>) -> Result<Accepted, OpError> + Send + 'static,
) -> Result<Accepted, CliError> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || operation(&engine))
        .await
        .map_err(|e| CliError::Internal(format!("operation panicked: {e}")))?
        .map_err(op_error)
}

pub fn op_error(error: OpError) -> CliError {
    let message = match error.field() {
        Some(field) if !error.to_string().contains(field) => format!("{error} (field: {field})"),
        _ => error.to_string(),
    };
    match error.code() {
        ErrorCode::NotFound => CliError::NotFound(message),
        ErrorCode::Conflict => CliError::Conflict(message),
        ErrorCode::InvalidInput => CliError::InvalidInput(message),
        ErrorCode::PolicyViolation | ErrorCode::PluginFailure => CliError::Plugin(message),
        ErrorCode::DockerUnavailable => CliError::DockerUnavailable(message),
        ErrorCode::Internal => CliError::Internal(message),
    }
}

/// `KEY=VALUE` pairs as raw config values (strings; the service's field kinds coerce them).
fn parse_pairs(pairs: &[String]) -> Result<IndexMap<String, Value>, CliError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), Value::String(value.to_owned()))),
            _ => Err(CliError::InvalidInput(format!("'{pair}' is not KEY=VALUE"))),
        })
        .collect()
}

/// Waits until every row is terminal, showing one progress line per decky when `show`.
async fn follow_rows(
    engine: &Engine<BollardDocker>,
    ids: &[Uuid],
    show: bool,
) -> Result<Vec<LifecycleRow>, CliError> {
    let show = show && std::io::stderr().is_terminal();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}").expect("valid template");
    let mut lines: BTreeMap<Uuid, ProgressBar> = BTreeMap::new();
    loop {
        let rows = engine.lifecycle(ids).map_err(op_error)?;
        for row in &rows {
            if !show {
                break;
            }
            let bar = lines.entry(row.id).or_insert_with(|| {
                let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(format!("{} {}", row.decky, row.operation.as_str()));
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            });
            match row.status {
                LifecycleStatus::Succeeded => bar.finish_with_message("✓ succeeded"),
                LifecycleStatus::Failed => {
                    bar.finish_with_message(format!("✗ failed: {}", row.error.as_deref().unwrap_or("")))
                }
                _ => {
                    bar.set_message(format!("{} {}", row.status.as_str(), row.step.as_deref().unwrap_or("")))
                }
            }
        }
        if rows.iter().all(|r| r.status.is_terminal()) {
            if show {
                bars.clear().ok();
            }
            return Ok(rows);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn print_rows(rows: &[LifecycleRow]) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.decky.clone(),
                row.operation.as_str().to_owned(),
                row.status.as_str().to_owned(),
                row.id.to_string(),
                row.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", table::render(&["DECKY", "OPERATION", "STATUS", "ID", "ERROR"], &cells));
}

/// Exit status of a followed operation: the rows' failures, Docker's absence first.
fn outcome(rows: &[LifecycleRow]) -> Result<(), CliError> {
    let failed: Vec<&LifecycleRow> = rows.iter().filter(|r| r.status == LifecycleStatus::Failed).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let summary = format!("{} of {} operations failed", failed.len(), rows.len());
    if failed.iter().all(|r| r.error.as_deref().is_some_and(|e| e.starts_with("Docker is unavailable"))) {
        return Err(CliError::DockerUnavailable(format!(
            "{summary}: {}",
            failed[0].error.as_deref().unwrap_or("")
        )));
    }
    Err(CliError::Failed(summary))
}

async fn status(engine: &Engine<BollardDocker>, json: bool) -> Result<(), CliError> {
    let status = engine.status().await.map_err(op_error)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status).expect("status serialises"));
        return Ok(());
    }
    match &status.docker {
        Ok(version) => println!("docker: {} (API {})", version.version, version.api_version),
        Err(error) => println!("docker: {error}"),
    }
    if status.fleets.is_empty() {
        println!("nothing deployed: `chaff deploy --config <file.ini>` starts a fleet");
    }
    for fleet in &status.fleets {
        println!("\nfleet {} ({} {})", fleet.name, fleet.network.driver.as_str(), fleet.network.subnet);
        let mut cells = Vec::new();
        for decky in &fleet.deckies {
            let state = match decky.state {
                DeckyState::Running => "running",
                DeckyState::Degraded => "degraded",
                DeckyState::Absent => "absent",
                DeckyState::Unknown => "unknown",
            };
            let last = decky
                .last_operation
                .as_ref()
                .map(|r| format!("{} {}", r.operation.as_str(), r.status.as_str()))
                .unwrap_or_default();
            cells.push(vec![
                decky.name.clone(),
                decky.ip.clone(),
                decky.hostname.clone(),
                decky.os_family.clone(),
                decky.services.join(","),
                state.to_owned(),
                last,
            ]);
        }
        print!(
            "{}",
            table::render(&["DECKY", "IP", "HOSTNAME", "OS", "SERVICES", "STATE", "LAST OPERATION"], &cells)
        );
    }
    Ok(())
}

fn lifecycle(engine: &Engine<BollardDocker>, args: &LifecycleArgs) -> Result<(), CliError> {
    let ids = args
        .ids
        .iter()
        .map(|id| {
            id.parse::<Uuid>().map_err(|_| CliError::InvalidInput(format!("'{id}' is not a lifecycle id")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows = engine.lifecycle(&ids).map_err(op_error)?;
    if rows.is_empty() {
        return Err(CliError::NotFound("no lifecycle row has these ids".into()));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("rows serialise"));
    } else {
        print_rows(&rows);
    }
    Ok(())
}

async fn watch(engine: &Engine<BollardDocker>) -> Result<(), CliError> {
    eprintln!("watching: mutating deckies as their intervals come due and collecting events (Ctrl-C stops)");
    tokio::select! {
        () = engine.watch() => Ok(()),
        signal = tokio::signal::ctrl_c() => {
            signal.map_err(|e| CliError::Internal(format!("cannot wait for Ctrl-C: {e}")))?;
            eprintln!("stopping: waiting for running operations to finish their rows");
            Ok(())
        }
    }
}
