//! `chaff plugins list|inspect|trust|untrust`.

use std::fmt::Write as _;

use chaff_engine::data_dir::DataDir;
use chaff_engine::plugins::TrustInstalledError;
use chaff_plugin_host::{Origin, PluginState, PluginStatus, TrustError};
use clap::Subcommand;

use crate::catalogue::print_json;
use crate::exit::CliError;
use crate::table;

#[derive(Subcommand)]
pub enum PluginsCommand {
    /// Every plugin: built-in and installed, enabled or not
    List {
        #[arg(long)]
        json: bool,
    },
    /// One plugin in full: manifest, hash, state, what it provides, its limits and imports
    Inspect {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Trust an installed third-party plugin (exactly the build now on disk)
    Trust { id: String },
    /// Withdraw trust from a third-party plugin
    Untrust { id: String },
}

pub fn run(data_dir: &DataDir, command: PluginsCommand) -> Result<(), CliError> {
    match command {
        PluginsCommand::List { json } => list(data_dir, json),
        PluginsCommand::Inspect { id, json } => inspect(data_dir, &id, json),
        PluginsCommand::Trust { id } => trust(data_dir, &id),
        PluginsCommand::Untrust { id } => untrust(data_dir, &id),
    }
}

fn list(data_dir: &DataDir, json: bool) -> Result<(), CliError> {
    let plugins = chaff_engine::plugins::open_plugins(data_dir)?.host.plugins();
    if json {
        return print_json(&plugins);
    }
    let rows: Vec<Vec<String>> = plugins
        .iter()
        .map(|p| {
            vec![p.id.clone(), p.version.clone(), kind(p), origin(&p.origin), state(&p.state), provides(p)]
        })
        .collect();
    print!("{}", table::render(&["ID", "VERSION", "KIND", "ORIGIN", "STATE", "PROVIDES"], &rows));
    Ok(())
}

fn inspect(data_dir: &DataDir, id: &str, json: bool) -> Result<(), CliError> {
    let host = chaff_engine::plugins::open_plugins(data_dir)?.host;
    let plugin = host.plugin(id).ok_or_else(|| {
        let ids: Vec<String> = host.plugins().into_iter().map(|p| p.id).collect();
        CliError::NotFound(format!("no plugin '{id}'. Available: {}", ids.join(", ")))
    })?;
    if json {
        return print_json(&plugin);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({} plugin, {})",
        plugin.id,
        plugin.version,
        kind(&plugin),
        origin(&plugin.origin)
    );
    let _ = writeln!(out, "{}", plugin.description);
    let _ = writeln!(out, "state:     {}", state(&plugin.state));
    let _ = writeln!(out, "sha256:    {}", plugin.sha256);
    let _ = writeln!(out, "provides:  {}", provides(&plugin));
    let l = &plugin.limits;
    let _ = writeln!(
        out,
        "limits:    memory {} MiB, catalogue {} ms, call {} ms, output {} KiB",
        l.memory_bytes >> 20,
        l.catalog_budget_ms,
        l.call_budget_ms,
        l.output_bytes >> 10,
    );
    if let Some(artifact) = &plugin.artifact {
        let _ = writeln!(out, "compiled:  {artifact:?}");
    }
    let _ = writeln!(
        out,
        "imports:   {}",
        if plugin.imports.is_empty() { "-".into() } else { plugin.imports.join("\n           ") }
    );
    print!("{out}");
    Ok(())
}

fn trust(data_dir: &DataDir, id: &str) -> Result<(), CliError> {
    let sha256 = chaff_engine::plugins::trust_installed(data_dir, id).map_err(|e| match e {
        TrustInstalledError::NotInstalled { .. } => CliError::NotFound(e.to_string()),
        TrustInstalledError::Trust(TrustError::Invalid { .. }) => CliError::InvalidInput(e.to_string()),
        TrustInstalledError::Trust(other) => CliError::Io(other.to_string()),
    })?;
    // Load it now so the user learns at once whether the trusted plugin is actually usable.
    let host = chaff_engine::plugins::open_plugins(data_dir)?.host;
    match host.plugin(id).map(|p| p.state) {
        Some(PluginState::Enabled) => {
            println!("trusted {id} (sha256 {sha256}); it is loaded and enabled");
            Ok(())
        }
        Some(PluginState::Disabled { reason }) => {
            Err(CliError::Plugin(format!("trusted {id} (sha256 {sha256}), but it does not load: {reason}")))
        }
        None => Err(CliError::Plugin(format!("trusted {id} (sha256 {sha256}), but it does not load"))),
    }
}

fn untrust(data_dir: &DataDir, id: &str) -> Result<(), CliError> {
    match chaff_engine::plugins::untrust(data_dir, id) {
        Ok(true) => {
            println!("{id} is no longer trusted; it will not load");
            Ok(())
        }
        Ok(false) => Err(CliError::NotFound(format!("plugin '{id}' is not trusted"))),
        Err(error) => Err(CliError::Io(error.to_string())),
    }
}

fn kind(p: &PluginStatus) -> String {
    format!("{:?}", p.kind).to_lowercase()
}

fn origin(origin: &Origin) -> String {
    match origin {
        Origin::Builtin => "built-in".into(),
        Origin::ThirdParty { trusted: true } => "third-party, trusted".into(),
        Origin::ThirdParty { trusted: false } => "third-party, untrusted".into(),
    }
}

fn state(state: &PluginState) -> String {
    match state {
        PluginState::Enabled => "enabled".into(),
        PluginState::Disabled { reason } => format!("disabled: {reason}"),
    }
}

fn provides(p: &PluginStatus) -> String {
    let items = if p.services.is_empty() { &p.strategies } else { &p.services };
    if items.is_empty() { "-".into() } else { items.join(",") }
}
