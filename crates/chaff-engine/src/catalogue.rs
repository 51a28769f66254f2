//! The services a fleet can use: those its plugins define plus its own bring-your-own
//! services.

use std::collections::BTreeMap;

use chaff_plugin_host::spec::{DeckyContext, Port, ServiceConfig, ServiceSpec, Transport};
use serde_json::{Map, Value};

use crate::model::CustomService;
use crate::naming;

/// What the engine needs from the plugin host: the services plugins define, and a policy-checked
/// compose fragment for one of them. `chaff_plugin_host::PluginHost` is the implementation;
/// unit tests use a fake.
pub trait ServicePlugins {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Every service the loaded plugins define, fleet singletons included.
    fn service_specs(&self) -> Vec<ServiceSpec>;

    /// The fragment of service `slug` for `decky`, already checked against the fragment policy.
    fn render_fragment(
        &self,
        slug: &str,
        decky: &DeckyContext,
        config: &ServiceConfig,
    ) -> Result<Map<String, Value>, Self::Error>;
}

impl ServicePlugins for chaff_plugin_host::PluginHost {
    type Error = chaff_plugin_host::PluginError;

    fn service_specs(&self) -> Vec<ServiceSpec> {
        self.services().into_iter().cloned().collect()
    }

    fn render_fragment(
        &self,
        slug: &str,
        decky: &DeckyContext,
        config: &ServiceConfig,
    ) -> Result<Map<String, Value>, Self::Error> {
        self.render(slug, decky, config)
    }
}

/// Where a catalogue entry comes from, which decides who renders its fragment.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceOrigin {
    Plugin,
    Custom(CustomService),
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    spec: ServiceSpec,
    origin: ServiceOrigin,
}

/// The services a fleet can use, keyed by slug.
///
/// Invariant: no two entries share a container-name suffix (the slug with `_` as `-`), so
/// [`naming::service_container_name`] never gives two services of one decky the same name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalogue {
    entries: BTreeMap<String, Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("custom service name '{0}' must be 1-32 characters of a-z, 0-9, '_' and '-'")]
    InvalidCustomName(String),
    #[error("custom service '{0}' has the same name as an installed service")]
    CustomShadowsService(String),
    #[error("services '{0}' and '{1}' would share container names ('_' becomes '-' in container names)")]
    ContainerNameClash(String, String),
}

impl Catalogue {
    /// A catalogue of plugin-defined services. Slugs are unique per plugin host; should two
    /// specs share a slug or a container-name suffix anyway, the first one is kept.
    pub fn new(specs: impl IntoIterator<Item = ServiceSpec>) -> Self {
        let mut catalogue = Catalogue::default();
        for spec in specs {
            if let Err(err) = catalogue.insert(spec, ServiceOrigin::Plugin) {
                tracing::warn!(%err, "ignoring a conflicting plugin service");
            }
        }
        catalogue
    }

    pub fn from_plugins(plugins: &impl ServicePlugins) -> Self {
        Self::new(plugins.service_specs())
    }

    /// This catalogue plus `custom` services.
    pub fn with_custom(&self, custom: &[CustomService]) -> Result<Catalogue, CatalogueError> {
        let mut catalogue = self.clone();
        for service in custom {
            if !naming::is_valid_custom_service_name(&service.name) {
                return Err(CatalogueError::InvalidCustomName(service.name.clone()));
            }
            if catalogue.entries.contains_key(&service.name) {
                return Err(CatalogueError::CustomShadowsService(service.name.clone()));
            }
            catalogue.insert(custom_service_spec(service), ServiceOrigin::Custom(service.clone()))?;
        }
        Ok(catalogue)
    }

    fn insert(&mut self, spec: ServiceSpec, origin: ServiceOrigin) -> Result<(), CatalogueError> {
        let suffix = container_suffix(&spec.slug);
        if let Some(existing) = self.entries.keys().find(|slug| container_suffix(slug) == suffix) {
            return Err(CatalogueError::ContainerNameClash(existing.clone(), spec.slug));
        }
        self.entries.insert(spec.slug.clone(), Entry { spec, origin });
        Ok(())
    }

    pub fn spec(&self, slug: &str) -> Option<&ServiceSpec> {
        self.entries.get(slug).map(|e| &e.spec)
    }

    pub fn origin(&self, slug: &str) -> Option<&ServiceOrigin> {
        self.entries.get(slug).map(|e| &e.origin)
    }

    /// Whether `slug` is any known service, fleet singletons included.
    pub fn contains(&self, slug: &str) -> bool {
        self.entries.contains_key(slug)
    }

    /// Every service, sorted by slug.
    pub fn specs(&self) -> impl Iterator<Item = &ServiceSpec> {
        self.entries.values().map(|e| &e.spec)
    }

    /// Sorted slugs of the services a decky can run (fleet singletons excluded): the pool for
    /// random assignment and the set `services=` is checked against.
    pub fn available(&self) -> Vec<String> {
        self.specs().filter(|s| !s.fleet_singleton).map(|s| s.slug.clone()).collect()
    }

    /// Which of `services` serves each port they declare. A decky's services share its
    /// address, so a port declared by several goes to the one declaring the fewest port
    /// numbers, the more specific service (`https`'s 443 over `http`'s 80 and 443); the others leave it
    /// alone. Two equally specific claims (`smtp` and `smtp_relay`) are a clash. Unknown
    /// slugs and fleet singletons claim nothing.
    pub fn port_owners<'s>(&self, services: &'s [String]) -> Result<BTreeMap<Port, &'s str>, PortClash> {
        let mut owners: BTreeMap<Port, &'s str> = BTreeMap::new();
        for slug in services {
            let Some(spec) = self.spec(slug).filter(|s| !s.fleet_singleton) else { continue };
            for &port in &spec.ports {
                let Some(&holder) = owners.get(&port) else {
                    owners.insert(port, slug);
                    continue;
                };
                let held_by = self.spec(holder).map_or(0, port_numbers);
                match port_numbers(spec).cmp(&held_by) {
                    std::cmp::Ordering::Less => {
                        owners.insert(port, slug);
                    }
                    std::cmp::Ordering::Greater => {}
                    std::cmp::Ordering::Equal => {
                        return Err(PortClash { port, first: holder.to_owned(), second: slug.clone() });
                    }
                }
            }
        }
        Ok(owners)
    }

    /// `services` without those that would clash with an earlier one of them
    /// ([`Catalogue::port_owners`]): what random assignment and mutation keep of a draw such
    /// as `smtp, smtp_relay`.
    pub fn without_port_clashes(&self, services: Vec<String>) -> Vec<String> {
        let mut kept: Vec<String> = Vec::with_capacity(services.len());
        for slug in services {
            kept.push(slug);
            if self.port_owners(&kept).is_err() {
                kept.pop();
            }
        }
        kept
    }

    /// Whether a decky can run `slug`.
    pub fn is_available(&self, slug: &str) -> bool {
        self.spec(slug).is_some_and(|s| !s.fleet_singleton)
    }

    /// Sorted slugs of the fleet singletons: the services a fleet can run once, fleet-wide
    /// (`[general] fleet_services=`), and no decky can run.
    pub fn fleet_singletons(&self) -> Vec<String> {
        self.specs().filter(|s| s.fleet_singleton).map(|s| s.slug.clone()).collect()
    }

    /// Whether `slug` is a fleet singleton.
    pub fn is_fleet_singleton(&self, slug: &str) -> bool {
        self.spec(slug).is_some_and(|s| s.fleet_singleton)
    }
}

fn container_suffix(slug: &str) -> String {
    slug.replace('_', "-")
}

/// The spec of a bring-your-own service: its TCP ports, its one image, no configuration, no
/// added capabilities, a writable root (arbitrary images expect one).
pub fn custom_service_spec(custom: &CustomService) -> ServiceSpec {
    ServiceSpec {
        slug: custom.name.clone(),
        display_name: custom.name.clone(),
        description: format!("Custom service running the image {}", custom.image),
        ports: custom.ports.iter().map(|&number| Port { number, transport: Transport::Tcp }).collect(),
        fleet_singleton: false,
        fields: Vec::new(),
        images: vec![custom.image.clone()],
        capabilities: Vec::new(),
        read_only_root: false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn plain_spec(slug: &str) -> ServiceSpec {
        ServiceSpec {
            slug: slug.into(),
            display_name: slug.to_uppercase(),
            description: String::new(),
            ports: vec![Port { number: 1000, transport: Transport::Tcp }],
            fleet_singleton: false,
            fields: Vec::new(),
            images: vec!["chaff-sensor:0.1".into()],
            capabilities: Vec::new(),
            read_only_root: true,
        }
    }

    fn custom(name: &str) -> CustomService {
        CustomService { name: name.into(), image: "nginx:1".into(), command: vec![], ports: vec![80, 8080] }
    }

    #[test]
    fn available_is_sorted_and_excludes_singletons() {
        let mut sniffer = plain_spec("sniffer");
        sniffer.fleet_singleton = true;
        let catalogue = Catalogue::new([plain_spec("ssh"), sniffer, plain_spec("ftp")])
            .with_custom(&[custom("web-app")])
            .unwrap();
        assert_eq!(catalogue.available(), ["ftp", "ssh", "web-app"]);
        assert!(catalogue.contains("sniffer"));
        assert!(!catalogue.is_available("sniffer"));
        assert!(catalogue.is_available("web-app"));
        assert_eq!(catalogue.fleet_singletons(), ["sniffer"]);
        assert!(catalogue.is_fleet_singleton("sniffer"));
        assert!(!catalogue.is_fleet_singleton("ssh") && !catalogue.is_fleet_singleton("gopher"));
    }

    #[test]
    fn custom_service_spec_is_minimal() {
        let spec = custom_service_spec(&custom("web"));
        assert_eq!(spec.images, ["nginx:1"]);
        assert_eq!(spec.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(), ["80/tcp", "8080/tcp"]);
        assert!(spec.fields.is_empty() && spec.capabilities.is_empty() && !spec.read_only_root);
    }

    #[test]
    fn custom_services_cannot_shadow_or_collide() {
        let catalogue = Catalogue::new([plain_spec("ssh"), plain_spec("docker_api")]);
        assert_eq!(
            catalogue.with_custom(&[custom("ssh")]).unwrap_err().to_string(),
            "custom service 'ssh' has the same name as an installed service"
        );
        assert_eq!(
            catalogue.with_custom(&[custom("docker-api")]).unwrap_err().to_string(),
            "services 'docker_api' and 'docker-api' would share container names ('_' becomes '-' in container names)"
        );
        assert_eq!(
            catalogue.with_custom(&[custom("Web")]).unwrap_err(),
            CatalogueError::InvalidCustomName("Web".into())
        );
    }
}

/// How many distinct port numbers `spec` declares (443/tcp and 443/udp count once).
fn port_numbers(spec: &ServiceSpec) -> usize {
    let mut numbers: Vec<u16> = spec.ports.iter().map(|p| p.number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers.len()
}

/// Two services of one decky that claim the same port equally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortClash {
    pub port: Port,
    pub first: String,
    pub second: String,
}
