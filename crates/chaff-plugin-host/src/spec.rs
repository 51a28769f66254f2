//! What plugins declare, in host terms: services, their ports and config fields, strategies.
//! These mirror the WIT types of `chaff:plugin@0.1.0`; they are what the rest of Chaff sees.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Port {
    pub number: u16,
    pub transport: Transport,
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = match self.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        write!(f, "{}/{t}", self.number)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Password,
    Integer,
    Boolean,
    Textarea,
    Choice,
    MultiChoice,
}

/// A configuration value after validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    Boolean(bool),
    Integer(i64),
    Text(String),
    Choices(Vec<String>),
}

impl ConfigValue {
    /// The value as an INI / command-line string (choices comma-joined).
    pub fn to_text(&self) -> String {
        match self {
            ConfigValue::Boolean(b) => b.to_string(),
            ConfigValue::Integer(i) => i.to_string(),
            ConfigValue::Text(s) => s.clone(),
            ConfigValue::Choices(c) => c.join(","),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigField {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub default: Option<ConfigValue>,
    pub help: Option<String>,
    /// Allowed values for `choice` and `multi_choice`; empty otherwise.
    pub choices: Vec<String>,
    pub placeholder: Option<String>,
    pub secret: bool,
}

/// A service as its plugin declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub slug: String,
    pub display_name: String,
    pub description: String,
    pub ports: Vec<Port>,
    pub fleet_singleton: bool,
    pub fields: Vec<ConfigField>,
    /// Every image a fragment of this service may reference.
    pub images: Vec<String>,
    /// Every Linux capability a fragment of this service may add.
    pub capabilities: Vec<String>,
    /// The service runs with a read-only root filesystem.
    pub read_only_root: bool,
}

impl ServiceSpec {
    pub fn field(&self, key: &str) -> Option<&ConfigField> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// A validated configuration: every declared field that has a value (explicit or default),
/// in declaration order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConfig(pub IndexMap<String, ConfigValue>);

impl ServiceConfig {
    pub fn get(&self, key: &str) -> Option<&ConfigValue> {
        self.0.get(key)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a plugin is told about the decky it renders for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeckyContext {
    pub name: String,
    pub hostname: String,
    pub ip: String,
    pub distro: String,
    pub os_family: String,
    pub archetype: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyKind {
    Mutate,
    Deploy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterSpec {
    pub key: String,
    pub description: String,
    pub default: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategySpec {
    pub id: String,
    pub kind: StrategyKind,
    pub description: String,
    pub parameters: Vec<ParameterSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutateInput {
    pub decky: String,
    pub current: Vec<String>,
    pub archetype_services: Option<Vec<String>>,
    pub available: Vec<String>,
    pub now: u64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanDecky {
    pub name: String,
    pub host: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    pub deckies: Vec<PlanDecky>,
    pub hosts: Vec<String>,
    pub parameters: IndexMap<String, String>,
    pub now: u64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    pub decky: String,
    pub host: String,
    pub batch: u32,
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StrategyKind::Mutate => "mutate",
            StrategyKind::Deploy => "deploy",
        })
    }
}
