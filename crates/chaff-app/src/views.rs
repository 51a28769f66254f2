//! What the UI shows, shaped for it: plain serialisable data, secrets masked.

use chaff_engine::archetypes::{ARCHETYPES, Archetype};
use chaff_engine::distros::{DISTROS, Distro};
use chaff_engine::os_family::OS_FAMILIES;
use chaff_engine::{Decky, Fleet};
use chaff_plugin_host::{ConfigValue, PluginHost, PluginStatus, ServiceSpec, StrategySpec};
use indexmap::IndexMap;
use serde::Serialize;

/// Everything a fleet can be made of.
#[derive(Clone, Debug, Serialize)]
pub struct Catalogue {
    pub services: Vec<ServiceSpec>,
    pub strategies: Vec<StrategySpec>,
    pub archetypes: Vec<Archetype>,
    pub distros: Vec<Distro>,
    pub os_families: Vec<&'static str>,
}

impl Catalogue {
    pub fn of(host: &PluginHost) -> Catalogue {
        Catalogue {
            services: host.services().into_iter().cloned().collect(),
            strategies: host.strategies().into_iter().cloned().collect(),
            archetypes: ARCHETYPES.to_vec(),
            distros: DISTROS.to_vec(),
            os_families: OS_FAMILIES.iter().map(|family| family.slug).collect(),
        }
    }
}

/// A fleet before it is deployed: what the import made of the text, and the compose file it
/// renders to.
#[derive(Clone, Debug, Serialize)]
pub struct Preview {
    pub fleet: String,
    pub network: chaff_engine::Network,
    pub deckies: Vec<DeckyPreview>,
    pub compose_yaml: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeckyPreview {
    pub name: String,
    pub ip: String,
    pub hostname: String,
    pub distro: String,
    pub os_family: String,
    pub archetype: Option<String>,
    pub services: Vec<String>,
}

impl Preview {
    pub fn of(fleet: &Fleet, compose_yaml: String) -> Preview {
        Preview {
            fleet: fleet.name.clone(),
            network: fleet.network.clone(),
            deckies: fleet.deckies.iter().map(DeckyPreview::of).collect(),
            compose_yaml,
        }
    }
}

impl DeckyPreview {
    fn of(decky: &Decky) -> DeckyPreview {
        DeckyPreview {
            name: decky.name.clone(),
            ip: decky.ip.to_string(),
            hostname: decky.hostname.clone(),
            distro: decky.distro.clone(),
            os_family: decky.os_family.clone(),
            archetype: decky.archetype.clone(),
            services: decky.services.clone(),
        }
    }
}

/// A service's stored configuration on one decky, for its edit form. Secret values never
/// leave the engine: they are `null` here with `secrets_set` naming which ones have a value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceConfigView {
    pub decky: String,
    pub service: String,
    pub values: IndexMap<String, Option<ConfigValue>>,
    pub secrets_set: Vec<String>,
}

impl ServiceConfigView {
    pub fn of(decky: &Decky, spec: &ServiceSpec) -> ServiceConfigView {
        let stored = decky.service_config.get(&spec.slug);
        let mut values = IndexMap::new();
        let mut secrets_set = Vec::new();
        for field in &spec.fields {
            let value = stored.and_then(|config| config.0.get(&field.key)).cloned();
            if field.secret {
                if value.is_some() {
                    secrets_set.push(field.key.clone());
                }
                values.insert(field.key.clone(), None);
            } else {
                values.insert(field.key.clone(), value);
            }
        }
        ServiceConfigView { decky: decky.name.clone(), service: spec.slug.clone(), values, secrets_set }
    }
}

/// Every plugin the host knows, and why third-party ones were refused.
#[derive(Clone, Debug, Serialize)]
pub struct Plugins {
    pub plugins: Vec<PluginStatus>,
    pub refused: Vec<String>,
    /// Where a third-party plugin is installed (`<dir>/<id>/`).
    pub install_dir: String,
}
