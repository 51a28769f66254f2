//! `chaff render` and `chaff export`: a deployment INI → a compose file, or → an explicit INI.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chaff_engine::catalogue::Catalogue;
use chaff_engine::data_dir::DataDir;
use chaff_engine::ini::{ImportOptions, export_ini, import_ini};
use chaff_engine::{Fleet, render::render_fleet};
use chaff_plugin_host::PluginHost;
use clap::Args;

use crate::exit::CliError;

/// The fleet name when the INI's `[general]` has no `name=` and its file name gives none.
const FALLBACK_FLEET_NAME: &str = "chaff";

#[derive(Args)]
pub struct RenderArgs {
    /// The deployment INI
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Write the compose YAML here instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Seed for the random choices (hostnames, services of deckies that name none)
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The deployment INI
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Write the explicit INI here instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Seed for the random choices (hostnames, services of deckies that name none)
    #[arg(long)]
    seed: Option<u64>,
}

pub fn render(data_dir: &DataDir, args: RenderArgs) -> Result<(), CliError> {
    let host = chaff_engine::plugins::open_plugins(data_dir)?.host;
    let fleet = import(&host, &args.config, args.seed)?;
    let project = render_fleet(&fleet, &host).map_err(|e| CliError::from_render(&args.config, e))?;
    let yaml = project.to_yaml().map_err(|e| CliError::Internal(e.to_string()))?;
    let services = project.document["services"].as_object().map_or(0, |s| s.len());
    let summary =
        format!("{} deckies, {} containers, project '{}'", fleet.deckies.len(), services, project.name);
    emit(args.output.as_deref(), &yaml, &summary)
}

pub fn export(data_dir: &DataDir, args: ExportArgs) -> Result<(), CliError> {
    let host = chaff_engine::plugins::open_plugins(data_dir)?.host;
    let fleet = import(&host, &args.config, args.seed)?;
    let catalogue = Catalogue::from_plugins(&host);
    let text = export_ini(&fleet, &catalogue).map_err(|e| CliError::InvalidInput(e.to_string()))?;
    emit(args.output.as_deref(), &text, &format!("{} deckies", fleet.deckies.len()))
}

fn import(host: &PluginHost, path: &Path, seed: Option<u64>) -> Result<Fleet, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::InvalidInput(format!("Config file not found: {} ({e})", path.display())))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut rng = seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    let fleet_name = fleet_name_from_path(path);
    let options = ImportOptions { default_fleet_name: &fleet_name, reserved: &[], now };
    import_ini(&text, &Catalogue::from_plugins(host), &options, &mut rng)
        .map_err(|e| CliError::InvalidInput(format!("{}: {e}", path.display())))
}

/// `labs/Branch-Office.ini` → `branch-office`: the file stem, if it is a valid fleet name
/// once lower-cased.
pub(crate) fn fleet_name_from_path(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_lowercase)
        .filter(|name| chaff_engine::naming::is_valid_name(name))
        .unwrap_or_else(|| FALLBACK_FLEET_NAME.to_owned())
}

/// Writes `text` to `output` (atomically, via a temporary file) or to stdout.
fn emit(output: Option<&Path>, text: &str, summary: &str) -> Result<(), CliError> {
    let Some(path) = output else {
        print!("{text}");
        return Ok(());
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::Io(format!("cannot write {}: {e}", path.display())))?;
    eprintln!("wrote {} ({summary})", path.display());
    Ok(())
}
