//! What a plugin says it offers (`catalog()` / `strategies()`), converted to host types and
//! checked before anything else trusts it: slugs and ids well-formed and unique, field keys
//! unique, defaults of the right kind and within their choices, images declared.

use std::collections::HashSet;

use crate::bindings::service::chaff::plugin::types as wit;
use crate::bindings::service::exports::chaff::plugin::service as wit_service;
use crate::bindings::strategy::exports::chaff::plugin::strategy as wit_strategy;
use crate::policy::{CAPABILITY_ALLOWLIST, SINGLETON_CAPABILITY_ALLOWLIST};
use crate::spec::{
    ConfigField, ConfigValue, FieldKind, ParameterSpec, Port, ServiceSpec, StrategyKind, StrategySpec,
    Transport,
};

/// Most services one plugin may define.
pub const MAX_SERVICES_PER_PLUGIN: usize = 64;
/// Most strategies one plugin may define.
pub const MAX_STRATEGIES_PER_PLUGIN: usize = 64;
/// Most ports one service may declare.
pub const MAX_PORTS_PER_SERVICE: usize = 1024;
/// Most config fields (or strategy parameters) one service (strategy) may declare.
pub const MAX_FIELDS: usize = 64;
/// Most choices one field may offer.
pub const MAX_CHOICES: usize = 256;
/// Most images / capabilities one service may declare.
pub const MAX_IMAGES: usize = 16;
/// Longest display name, label or placeholder.
pub const MAX_LABEL_LEN: usize = 128;
/// Longest description or help text.
pub const MAX_TEXT_LEN: usize = 2048;
/// Longest image reference (Docker's own limit is 255 for the name part).
pub const MAX_IMAGE_LEN: usize = 255;

type Checked = Result<(), String>;

pub(crate) fn service_from_wit(info: wit_service::ServiceInfo) -> ServiceSpec {
    ServiceSpec {
        slug: info.slug,
        display_name: info.display_name,
        description: info.description,
        ports: info
            .ports
            .into_iter()
            .map(|p| Port {
                number: p.number,
                transport: match p.transport {
                    wit::Transport::Tcp => Transport::Tcp,
                    wit::Transport::Udp => Transport::Udp,
                },
            })
            .collect(),
        fleet_singleton: info.fleet_singleton,
        fields: info.fields.into_iter().map(field_from_wit).collect(),
        images: info.images,
        capabilities: info.capabilities,
        read_only_root: info.read_only_root,
    }
}

fn field_from_wit(field: wit::ConfigField) -> ConfigField {
    ConfigField {
        key: field.key,
        label: field.label,
        kind: match field.kind {
            wit::FieldKind::Text => FieldKind::Text,
            wit::FieldKind::Password => FieldKind::Password,
            wit::FieldKind::Integer => FieldKind::Integer,
            wit::FieldKind::Boolean => FieldKind::Boolean,
            wit::FieldKind::Textarea => FieldKind::Textarea,
            wit::FieldKind::Choice => FieldKind::Choice,
            wit::FieldKind::MultiChoice => FieldKind::MultiChoice,
        },
        default: field.default.map(value_from_wit),
        help: field.help,
        choices: field.choices,
        placeholder: field.placeholder,
        secret: field.secret,
    }
}

pub(crate) fn value_from_wit(value: wit::ConfigValue) -> ConfigValue {
    match value {
        wit::ConfigValue::Text(s) => ConfigValue::Text(s),
        wit::ConfigValue::Integer(i) => ConfigValue::Integer(i),
        wit::ConfigValue::Boolean(b) => ConfigValue::Boolean(b),
        wit::ConfigValue::Choices(c) => ConfigValue::Choices(c),
    }
}

pub(crate) fn value_to_wit(value: &ConfigValue) -> wit::ConfigValue {
    match value {
        ConfigValue::Text(s) => wit::ConfigValue::Text(s.clone()),
        ConfigValue::Integer(i) => wit::ConfigValue::Integer(*i),
        ConfigValue::Boolean(b) => wit::ConfigValue::Boolean(*b),
        ConfigValue::Choices(c) => wit::ConfigValue::Choices(c.clone()),
    }
}

pub(crate) fn strategy_from_wit(info: wit_strategy::StrategyInfo) -> StrategySpec {
    StrategySpec {
        id: info.id,
        kind: match info.kind {
            wit_strategy::StrategyKind::Mutate => StrategyKind::Mutate,
            wit_strategy::StrategyKind::Deploy => StrategyKind::Deploy,
        },
        description: info.description,
        parameters: info
            .parameters
            .into_iter()
            .map(|p| ParameterSpec { key: p.key, description: p.description, default: p.default })
            .collect(),
    }
}

/// Checks a whole service catalogue: at least one service, at most
/// [`MAX_SERVICES_PER_PLUGIN`], unique slugs, each service well-formed.
pub fn check_services(services: &[ServiceSpec]) -> Checked {
    if services.is_empty() {
        return Err("catalog() returned no services".into());
    }
    if services.len() > MAX_SERVICES_PER_PLUGIN {
        return Err(format!(
            "catalog() returned {} services (at most {MAX_SERVICES_PER_PLUGIN})",
            services.len()
        ));
    }
    unique(services.iter().map(|s| s.slug.as_str()), "service slug")?;
    services.iter().try_for_each(|s| check_service(s).map_err(|e| format!("service '{}': {e}", s.slug)))
}

/// `^[a-z0-9_]{1,32}$`
pub fn is_service_slug(slug: &str) -> bool {
    (1..=32).contains(&slug.len()) && slug.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// `^[a-z0-9-]{1,32}$`
pub fn is_strategy_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
}

/// Config field keys and strategy parameter keys: `^[a-z0-9_-]{1,64}$`.
fn is_key(key: &str) -> bool {
    (1..=64).contains(&key.len()) && key.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
}

fn check_service(s: &ServiceSpec) -> Checked {
    if !is_service_slug(&s.slug) {
        return Err("slug must match ^[a-z0-9_]{1,32}$".into());
    }
    text(&s.display_name, "display name", MAX_LABEL_LEN, false)?;
    text(&s.description, "description", MAX_TEXT_LEN, true)?;
    check_ports(&s.ports)?;
    check_images(&s.images)?;
    check_capabilities(s)?;
    if s.fields.len() > MAX_FIELDS {
        return Err(format!("{} config fields (at most {MAX_FIELDS})", s.fields.len()));
    }
    unique(s.fields.iter().map(|f| f.key.as_str()), "config field key")?;
    s.fields.iter().try_for_each(|f| check_field(f).map_err(|e| format!("field '{}': {e}", f.key)))
}

fn text(value: &str, what: &str, max: usize, may_be_empty: bool) -> Checked {
    if !may_be_empty && value.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.len() > max {
        return Err(format!("{what} is longer than {max} bytes"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("{what} contains control characters"));
    }
    Ok(())
}

fn unique<'a>(items: impl Iterator<Item = &'a str>, what: &str) -> Checked {
    let mut seen = HashSet::new();
    for item in items {
        if !seen.insert(item) {
            return Err(format!("duplicate {what} '{item}'"));
        }
    }
    Ok(())
}

fn check_ports(ports: &[Port]) -> Checked {
    if ports.len() > MAX_PORTS_PER_SERVICE {
        return Err(format!("{} ports (at most {MAX_PORTS_PER_SERVICE})", ports.len()));
    }
    if ports.iter().any(|p| p.number == 0) {
        return Err("port 0 is not a port".into());
    }
    let mut seen = HashSet::new();
    match ports.iter().find(|p| !seen.insert(**p)) {
        Some(dup) => Err(format!("port {dup} declared twice")),
        None => Ok(()),
    }
}

fn check_images(images: &[String]) -> Checked {
    if images.is_empty() {
        return Err("declares no image (every fragment needs one)".into());
    }
    if images.len() > MAX_IMAGES {
        return Err(format!("{} images (at most {MAX_IMAGES})", images.len()));
    }
    for image in images {
        if image.is_empty()
            || image.len() > MAX_IMAGE_LEN
            || image.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("image '{image}' is not an image reference"));
        }
    }
    Ok(())
}

/// Capabilities must be names; ones the host will never grant are allowed in the catalogue
/// (the policy refuses them in fragments) but logged, so the author finds out early.
fn check_capabilities(s: &ServiceSpec) -> Checked {
    if s.capabilities.len() > MAX_IMAGES {
        return Err(format!("{} capabilities (at most {MAX_IMAGES})", s.capabilities.len()));
    }
    for cap in &s.capabilities {
        if cap.is_empty() || !cap.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
            return Err(format!("capability '{cap}' is not a capability name"));
        }
        let name = cap.to_ascii_uppercase();
        let name = name.strip_prefix("CAP_").unwrap_or(&name);
        let grantable = CAPABILITY_ALLOWLIST.contains(&name)
            || (s.fleet_singleton && SINGLETON_CAPABILITY_ALLOWLIST.contains(&name));
        if !grantable {
            tracing::warn!(service = %s.slug, capability = name, "declared capability is outside the host allowlist; fragments adding it will be refused");
        }
    }
    Ok(())
}

fn check_field(f: &ConfigField) -> Checked {
    if !is_key(&f.key) {
        return Err("key must match ^[a-z0-9_-]{1,64}$".into());
    }
    text(&f.label, "label", MAX_LABEL_LEN, false)?;
    text(f.help.as_deref().unwrap_or_default(), "help", MAX_TEXT_LEN, true)?;
    text(f.placeholder.as_deref().unwrap_or_default(), "placeholder", MAX_LABEL_LEN, true)?;
    let has_choices = matches!(f.kind, FieldKind::Choice | FieldKind::MultiChoice);
    if has_choices && f.choices.is_empty() {
        return Err("a choice field needs choices".into());
    }
    if !has_choices && !f.choices.is_empty() {
        return Err("only choice fields have choices".into());
    }
    if f.choices.len() > MAX_CHOICES {
        return Err(format!("{} choices (at most {MAX_CHOICES})", f.choices.len()));
    }
    unique(f.choices.iter().map(String::as_str), "choice")?;
    match &f.default {
        Some(default) => check_default(f, default),
        None => Ok(()),
    }
}

fn check_default(f: &ConfigField, default: &ConfigValue) -> Checked {
    let allowed = |v: &String| f.choices.contains(v);
    let ok = match (f.kind, default) {
        (FieldKind::Text | FieldKind::Password | FieldKind::Textarea, ConfigValue::Text(_)) => true,
        (FieldKind::Integer, ConfigValue::Integer(_)) | (FieldKind::Boolean, ConfigValue::Boolean(_)) => true,
        (FieldKind::Choice, ConfigValue::Text(v)) => allowed(v),
        (FieldKind::MultiChoice, ConfigValue::Choices(vs)) => {
            !vs.is_empty()
                && vs.iter().all(allowed)
                && unique(vs.iter().map(String::as_str), "default").is_ok()
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("default {default:?} does not fit a {:?} field with choices {:?}", f.kind, f.choices))
    }
}

/// Checks a strategy list: at least one, at most [`MAX_STRATEGIES_PER_PLUGIN`], unique ids,
/// each well-formed.
pub fn check_strategies(strategies: &[StrategySpec]) -> Checked {
    if strategies.is_empty() {
        return Err("strategies() returned no strategies".into());
    }
    if strategies.len() > MAX_STRATEGIES_PER_PLUGIN {
        return Err(format!(
            "strategies() returned {} (at most {MAX_STRATEGIES_PER_PLUGIN})",
            strategies.len()
        ));
    }
    unique(strategies.iter().map(|s| s.id.as_str()), "strategy id")?;
    strategies.iter().try_for_each(|s| check_strategy(s).map_err(|e| format!("strategy '{}': {e}", s.id)))
}

fn check_strategy(s: &StrategySpec) -> Checked {
    if !is_strategy_id(&s.id) {
        return Err("id must match ^[a-z0-9-]{1,32}$".into());
    }
    text(&s.description, "description", MAX_TEXT_LEN, true)?;
    if s.parameters.len() > MAX_FIELDS {
        return Err(format!("{} parameters (at most {MAX_FIELDS})", s.parameters.len()));
    }
    unique(s.parameters.iter().map(|p| p.key.as_str()), "parameter")?;
    for p in &s.parameters {
        if !is_key(&p.key) {
            return Err(format!("parameter '{}': key must match ^[a-z0-9_-]{{1,64}}$", p.key));
        }
        text(&p.description, "parameter description", MAX_TEXT_LEN, true)?;
        text(&p.default, "parameter default", MAX_LABEL_LEN, true)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, kind: FieldKind) -> ConfigField {
        ConfigField {
            key: key.into(),
            label: key.into(),
            kind,
            default: None,
            help: None,
            choices: Vec::new(),
            placeholder: None,
            secret: false,
        }
    }

    fn service(slug: &str) -> ServiceSpec {
        ServiceSpec {
            slug: slug.into(),
            display_name: "Svc".into(),
            description: "d".into(),
            ports: vec![Port { number: 22, transport: Transport::Tcp }],
            fleet_singleton: false,
            fields: vec![field("user", FieldKind::Text)],
            images: vec!["chaff-sensor:0.1".into()],
            capabilities: vec!["NET_BIND_SERVICE".into()],
            read_only_root: true,
        }
    }

    fn refused(s: ServiceSpec) -> String {
        check_services(&[s]).unwrap_err()
    }

    #[test]
    fn accepts_a_good_service() {
        check_services(&[service("ssh"), service("docker_api")]).unwrap();
    }

    #[test]
    fn refuses_bad_slugs_and_duplicates() {
        for slug in ["", "SSH", "my-svc", &"a".repeat(33)] {
            assert!(refused(service(slug)).contains("slug"), "{slug}");
        }
        assert!(
            check_services(&[service("a"), service("a")]).unwrap_err().contains("duplicate service slug 'a'")
        );
        assert!(check_services(&[]).is_err());
    }

    #[test]
    fn refuses_bad_ports_images_and_capabilities() {
        let mut s = service("x");
        s.ports.push(s.ports[0]);
        assert!(refused(s).contains("22/tcp declared twice"));
        let mut s = service("x");
        s.ports[0].number = 0;
        assert!(refused(s).contains("port 0"));
        let mut s = service("x");
        s.images.clear();
        assert!(refused(s).contains("no image"));
        let mut s = service("x");
        s.images = vec!["has space".into()];
        assert!(refused(s).contains("image"));
        let mut s = service("x");
        s.capabilities = vec!["NET BIND".into()];
        assert!(refused(s).contains("capability"));
        // Declaring a capability the host never grants is allowed (the policy refuses its use).
        let mut s = service("x");
        s.capabilities = vec!["SYS_ADMIN".into()];
        check_services(&[s]).unwrap();
    }

    #[test]
    fn refuses_bad_fields() {
        let mut s = service("x");
        s.fields.push(field("user", FieldKind::Integer));
        assert!(refused(s).contains("duplicate config field key 'user'"));

        let mut s = service("x");
        s.fields = vec![field("Bad Key", FieldKind::Text)];
        assert!(refused(s).contains("key must match"));

        let mut s = service("x");
        s.fields = vec![field("mode", FieldKind::Choice)];
        assert!(refused(s).contains("needs choices"));

        let mut s = service("x");
        let mut f = field("mode", FieldKind::Choice);
        f.choices = vec!["a".into(), "b".into()];
        f.default = Some(ConfigValue::Text("c".into()));
        s.fields = vec![f.clone()];
        assert!(refused(s).contains("default"));

        f.default = Some(ConfigValue::Text("b".into()));
        let mut s = service("x");
        s.fields = vec![f.clone()];
        check_services(&[s]).unwrap();

        let mut multi = f.clone();
        multi.kind = FieldKind::MultiChoice;
        multi.default = Some(ConfigValue::Choices(vec!["a".into(), "a".into()]));
        let mut s = service("x");
        s.fields = vec![multi];
        assert!(refused(s).contains("default"));

        let mut wrong_kind = field("port", FieldKind::Integer);
        wrong_kind.default = Some(ConfigValue::Text("22".into()));
        let mut s = service("x");
        s.fields = vec![wrong_kind];
        assert!(refused(s).contains("default"));
    }

    #[test]
    fn checks_strategies() {
        let strategy = |id: &str| StrategySpec {
            id: id.into(),
            kind: StrategyKind::Mutate,
            description: String::new(),
            parameters: vec![ParameterSpec {
                key: "batch-size".into(),
                description: String::new(),
                default: "2".into(),
            }],
        };
        check_strategies(&[strategy("rotate"), strategy("rolling")]).unwrap();
        assert!(check_strategies(&[strategy("Rotate")]).unwrap_err().contains("id must match"));
        assert!(check_strategies(&[strategy("a"), strategy("a")]).unwrap_err().contains("duplicate"));
        let mut s = strategy("a");
        s.parameters.push(s.parameters[0].clone());
        assert!(check_strategies(&[s]).unwrap_err().contains("duplicate parameter"));
        assert!(check_strategies(&[]).is_err());
    }
}
