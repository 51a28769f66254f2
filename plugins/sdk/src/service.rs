//! Service plugin types: what a service is, and what `render` receives.

use crate::Fragment;

/// A honeypot service plugin. Implement on a unit struct and export with
/// [`export_service!`](crate::export_service).
pub trait ServicePlugin {
    /// The services this plugin defines. Must be cheap and deterministic.
    fn catalog() -> Vec<ServiceInfo>;

    /// The compose fragment for `service` on `decky`. `config` is already validated by the
    /// host against the declared fields and holds every field that has a value.
    fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError>;

    /// The catalogue entry of `service`, or [`RenderError::UnknownService`] if this plugin
    /// does not define it: the guard every `render` starts with.
    fn declared(service: &str) -> Result<ServiceInfo, RenderError> {
        Self::catalog()
            .into_iter()
            .find(|info| info.slug == service)
            .ok_or_else(|| RenderError::unknown_service(service))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port {
    pub number: u16,
    pub transport: Transport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Password,
    Integer,
    Boolean,
    Textarea,
    Choice,
    MultiChoice,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    Text(String),
    Integer(i64),
    Boolean(bool),
    Choices(Vec<String>),
}

/// One user-editable knob of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigField {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub default: Option<ConfigValue>,
    pub help: Option<String>,
    pub choices: Vec<String>,
    pub placeholder: Option<String>,
    pub secret: bool,
}

impl ConfigField {
    fn new(key: &str, label: &str, kind: FieldKind) -> Self {
        Self {
            key: key.to_owned(),
            label: label.to_owned(),
            kind,
            default: None,
            help: None,
            choices: Vec::new(),
            placeholder: None,
            secret: false,
        }
    }

    pub fn text(key: &str, label: &str) -> Self {
        Self::new(key, label, FieldKind::Text)
    }

    /// A credential: masked in forms, and secret unless told otherwise.
    pub fn password(key: &str, label: &str) -> Self {
        Self { secret: true, ..Self::new(key, label, FieldKind::Password) }
    }

    pub fn integer(key: &str, label: &str) -> Self {
        Self::new(key, label, FieldKind::Integer)
    }

    pub fn boolean(key: &str, label: &str) -> Self {
        Self::new(key, label, FieldKind::Boolean)
    }

    pub fn textarea(key: &str, label: &str) -> Self {
        Self::new(key, label, FieldKind::Textarea)
    }

    pub fn choice(key: &str, label: &str, choices: &[&str]) -> Self {
        Self { choices: to_strings(choices), ..Self::new(key, label, FieldKind::Choice) }
    }

    pub fn multi_choice(key: &str, label: &str, choices: &[&str]) -> Self {
        Self { choices: to_strings(choices), ..Self::new(key, label, FieldKind::MultiChoice) }
    }

    pub fn default_text(mut self, value: &str) -> Self {
        self.default = Some(ConfigValue::Text(value.to_owned()));
        self
    }

    pub fn default_int(mut self, value: i64) -> Self {
        self.default = Some(ConfigValue::Integer(value));
        self
    }

    pub fn default_bool(mut self, value: bool) -> Self {
        self.default = Some(ConfigValue::Boolean(value));
        self
    }

    pub fn default_choices(mut self, values: &[&str]) -> Self {
        self.default = Some(ConfigValue::Choices(to_strings(values)));
        self
    }

    pub fn help(mut self, help: &str) -> Self {
        self.help = Some(help.to_owned());
        self
    }

    pub fn placeholder(mut self, placeholder: &str) -> Self {
        self.placeholder = Some(placeholder.to_owned());
        self
    }

    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Marks a field as not secret (a password-kind field is secret by default).
    pub fn not_secret(mut self) -> Self {
        self.secret = false;
        self
    }
}

/// What a service is: the catalogue entry the host and the UI see.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceInfo {
    pub slug: String,
    pub display_name: String,
    pub description: String,
    pub ports: Vec<Port>,
    pub fleet_singleton: bool,
    pub fields: Vec<ConfigField>,
    pub images: Vec<String>,
    pub capabilities: Vec<String>,
    pub read_only_root: bool,
}

impl ServiceInfo {
    /// A per-decky service with no ports, fields, images or capabilities yet, and a
    /// read-only root (the default for sensor emulators).
    pub fn new(slug: &str, display_name: &str, description: &str) -> Self {
        Self {
            slug: slug.to_owned(),
            display_name: display_name.to_owned(),
            description: description.to_owned(),
            ports: Vec::new(),
            fleet_singleton: false,
            fields: Vec::new(),
            images: Vec::new(),
            capabilities: Vec::new(),
            read_only_root: true,
        }
    }

    pub fn tcp(mut self, number: u16) -> Self {
        self.ports.push(Port { number, transport: Transport::Tcp });
        self
    }

    pub fn udp(mut self, number: u16) -> Self {
        self.ports.push(Port { number, transport: Transport::Udp });
        self
    }

    pub fn field(mut self, field: ConfigField) -> Self {
        self.fields.push(field);
        self
    }

    pub fn image(mut self, image: &str) -> Self {
        self.images.push(image.to_owned());
        self
    }

    pub fn capability(mut self, capability: &str) -> Self {
        self.capabilities.push(capability.to_owned());
        self
    }

    pub fn fleet_singleton(mut self) -> Self {
        self.fleet_singleton = true;
        self
    }

    pub fn writable_root(mut self) -> Self {
        self.read_only_root = false;
        self
    }
}

/// The decky a fragment is rendered for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decky {
    pub name: String,
    pub hostname: String,
    pub ip: String,
    pub distro: String,
    pub os_family: String,
    pub archetype: Option<String>,
}

/// A validated service configuration: every declared field that has a value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, ConfigValue)>,
}

impl Config {
    pub fn new(entries: Vec<(String, ConfigValue)>) -> Self {
        Self { entries }
    }

    pub fn get(&self, key: &str) -> Option<&ConfigValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A text-like value (text, password, textarea, choice), or an integer/bool as text.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            ConfigValue::Text(s) => Some(s.clone()),
            ConfigValue::Integer(i) => Some(i.to_string()),
            ConfigValue::Boolean(b) => Some(b.to_string()),
            ConfigValue::Choices(_) => None,
        }
    }

    pub fn integer(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            ConfigValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn boolean(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn choices(&self, key: &str) -> Option<&[String]> {
        match self.get(key)? {
            ConfigValue::Choices(c) => Some(c),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(String, ConfigValue)] {
        &self.entries
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderError {
    UnknownService(String),
    InvalidConfig { field: String, message: String },
    Failed(String),
}

impl RenderError {
    pub fn unknown_service(service: &str) -> Self {
        Self::UnknownService(service.to_owned())
    }
}

fn to_strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}
