//! `chaff`: the headless command line over Chaff's engine, for labs, scripts and CI.

mod catalogue;
mod detach;
mod events;
mod exit;
mod ops;
mod plugins;
mod render;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::exit::CliError;

#[derive(Parser)]
#[command(
    name = "chaff",
    version,
    about = "Design, render and deploy networks of decoy hosts",
    after_help = "Exit codes: 0 ok, 1 internal, 2 usage, 3 invalid input, 4 not found, 5 plugin or policy, 6 I/O, 7 an operation failed, 8 Docker unavailable, 9 conflict"
)]
struct Cli {
    /// Where Chaff keeps plugins, caches and state [default: the platform data directory]
    #[arg(long, global = true, env = "CHAFF_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); CHAFF_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the service catalogue, or show one service's ports and config fields
    Services {
        /// A service slug to show in full
        slug: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the host archetypes (service sets with an OS persona)
    Archetypes {
        #[arg(long)]
        json: bool,
    },
    /// List the distro personas and their hostname styles
    Distros {
        #[arg(long)]
        json: bool,
    },
    /// Inspect and manage plugins
    Plugins {
        #[command(subcommand)]
        command: plugins::PluginsCommand,
    },
    /// Render a deployment INI to a compose file
    Render(render::RenderArgs),
    /// Resolve a deployment INI (expansions, addresses, random choices) and write it back explicitly
    Export(render::ExportArgs),
    /// Deploy the fleet of a deployment INI on Docker (adds to a deployed fleet of that name)
    Deploy(ops::DeployArgs),
    /// Show the deployed fleets and what Docker runs for each decky
    Status(ops::StatusArgs),
    /// Tear down a decky, a fleet, or everything
    Teardown(ops::TeardownArgs),
    /// Give a decky a new service set now
    Mutate(ops::MutateArgs),
    /// Add, remove or configure one service of a running decky
    Service {
        #[command(subcommand)]
        command: ops::ServiceCommand,
    },
    /// Show lifecycle rows by id
    Lifecycle(ops::LifecycleArgs),
    /// Show what the sensors saw (after reading the containers' logs); --follow keeps going
    Events(events::EventsArgs),
    /// Run scheduled mutation and event collection until interrupted
    Watch,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let data_dir = chaff_engine::data_dir::DataDir::resolve(cli.data_dir)?;
    match cli.command {
        Command::Services { slug, json } => catalogue::services(&data_dir, slug.as_deref(), json),
        Command::Archetypes { json } => catalogue::archetypes(json),
        Command::Distros { json } => catalogue::distros(json),
        Command::Plugins { command } => plugins::run(&data_dir, command),
        Command::Render(args) => render::render(&data_dir, args),
        Command::Export(args) => render::export(&data_dir, args),
        Command::Deploy(args) => ops::run(&data_dir, ops::Verb::Deploy(args)),
        Command::Status(args) => ops::run(&data_dir, ops::Verb::Status(args)),
        Command::Teardown(args) => ops::run(&data_dir, ops::Verb::Teardown(args)),
        Command::Mutate(args) => ops::run(&data_dir, ops::Verb::Mutate(args)),
        Command::Service { command } => ops::run(&data_dir, ops::Verb::Service(command)),
        Command::Lifecycle(args) => ops::run(&data_dir, ops::Verb::Lifecycle(args)),
        Command::Events(args) => ops::run(&data_dir, ops::Verb::Events(args)),
        Command::Watch => ops::run(&data_dir, ops::Verb::Watch),
    }
}

/// Logs go to stderr so that stdout stays clean for tables, JSON and compose output.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("CHAFF_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
