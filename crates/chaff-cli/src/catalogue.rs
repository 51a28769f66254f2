//! `chaff services`, `chaff archetypes`, `chaff distros`: what a fleet can be made of.

use chaff_engine::archetypes::ARCHETYPES;
use chaff_engine::data_dir::DataDir;
use chaff_engine::distros::DISTROS;
use chaff_plugin_host::{ConfigValue, ServiceSpec};

use crate::exit::CliError;
use crate::table;

pub fn services(data_dir: &DataDir, slug: Option<&str>, json: bool) -> Result<(), CliError> {
    let plugins = chaff_engine::plugins::open_plugins(data_dir)?;
    let host = plugins.host;
    if let Some(slug) = slug {
        let spec =
            host.service(slug).ok_or_else(|| CliError::NotFound(unknown_service(slug, &host.services())))?;
        if json {
            return print_json(spec);
        }
        print!("{}", describe_service(spec));
        return Ok(());
    }
    let services = host.services();
    if json {
        return print_json(&services);
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                s.slug.clone(),
                ports(s),
                if s.fleet_singleton { "fleet".into() } else { "decky".into() },
                s.fields.len().to_string(),
                s.description.clone(),
            ]
        })
        .collect();
    print!("{}", table::render(&["SERVICE", "PORTS", "SCOPE", "FIELDS", "DESCRIPTION"], &rows));
    Ok(())
}

pub fn archetypes(json: bool) -> Result<(), CliError> {
    if json {
        return print_json(&ARCHETYPES);
    }
    let rows: Vec<Vec<String>> = ARCHETYPES
        .iter()
        .map(|a| {
            vec![
                a.slug.into(),
                a.services.join(","),
                a.os_family.into(),
                a.preferred_distros.join(","),
                a.description.into(),
            ]
        })
        .collect();
    print!("{}", table::render(&["ARCHETYPE", "SERVICES", "OS", "DISTROS", "DESCRIPTION"], &rows));
    Ok(())
}

pub fn distros(json: bool) -> Result<(), CliError> {
    if json {
        return print_json(&DISTROS);
    }
    let rows: Vec<Vec<String>> = DISTROS
        .iter()
        .map(|d| vec![d.slug.into(), format!("{:?}", d.hostname_style).to_lowercase(), d.display_name.into()])
        .collect();
    print!("{}", table::render(&["DISTRO", "HOSTNAMES", "NAME"], &rows));
    Ok(())
}

fn ports(spec: &ServiceSpec) -> String {
    if spec.ports.is_empty() {
        return "-".into();
    }
    spec.ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn describe_service(spec: &ServiceSpec) -> String {
    let mut out = format!("{} — {}\n{}\n\n", spec.slug, spec.display_name, spec.description);
    out.push_str(&format!("ports:        {}\n", ports(spec)));
    out.push_str(&format!(
        "scope:        {}\n",
        if spec.fleet_singleton { "once per fleet" } else { "per decky" }
    ));
    out.push_str(&format!("images:       {}\n", spec.images.join(", ")));
    let caps = if spec.capabilities.is_empty() { "none".into() } else { spec.capabilities.join(", ") };
    out.push_str(&format!("capabilities: {caps}\n"));
    if spec.fields.is_empty() {
        out.push_str("config:       none\n");
        return out;
    }
    let rows: Vec<Vec<String>> = spec
        .fields
        .iter()
        .map(|f| {
            let default = match &f.default {
                Some(_) if f.secret => "(secret)".into(),
                Some(ConfigValue::Text(s)) if s.is_empty() => "\"\"".into(),
                Some(v) => v.to_text(),
                None => "-".into(),
            };
            let kind = if f.choices.is_empty() {
                format!("{:?}", f.kind).to_lowercase()
            } else {
                format!("{:?} of {}", f.kind, f.choices.join("|")).to_lowercase()
            };
            vec![f.key.clone(), kind, default, f.help.clone().unwrap_or_else(|| f.label.clone())]
        })
        .collect();
    out.push_str("\nconfig (set in INI as [<decky>.");
    out.push_str(&spec.slug);
    out.push_str("] key = value):\n");
    out.push_str(&table::render(&["KEY", "KIND", "DEFAULT", "HELP"], &rows));
    out
}

fn unknown_service(slug: &str, services: &[&ServiceSpec]) -> String {
    let names: Vec<&str> = services.iter().map(|s| s.slug.as_str()).collect();
    format!("Unknown service: '{slug}'. Available: {}", names.join(", "))
}

pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}
