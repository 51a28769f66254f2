//! Strategy plugin types: mutate (next service set) and deploy (ordered plan).

use crate::ConfigValue;

/// A strategy plugin. Implement on a unit struct and export with
/// [`export_strategy!`](crate::export_strategy). A plugin that offers only one kind of
/// strategy answers the other call with [`StrategyError::UnknownStrategy`], which is what the
/// default methods do.
pub trait StrategyPlugin {
    fn strategies() -> Vec<StrategyInfo>;

    fn mutate(strategy: &str, _input: &MutateInput) -> Result<Vec<String>, StrategyError> {
        Err(StrategyError::UnknownStrategy(strategy.to_owned()))
    }

    fn plan(strategy: &str, _input: &PlanInput) -> Result<Vec<PlanStep>, StrategyError> {
        Err(StrategyError::UnknownStrategy(strategy.to_owned()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyKind {
    Mutate,
    Deploy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterInfo {
    pub key: String,
    pub description: String,
    pub default: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategyInfo {
    pub id: String,
    pub kind: StrategyKind,
    pub description: String,
    pub parameters: Vec<ParameterInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutateInput {
    pub decky: String,
    pub current: Vec<String>,
    pub archetype_services: Option<Vec<String>>,
    pub available: Vec<String>,
    pub now: u64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanDecky {
    pub name: String,
    pub host: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanInput {
    pub deckies: Vec<PlanDecky>,
    pub hosts: Vec<String>,
    pub parameters: Vec<(String, ConfigValue)>,
    pub now: u64,
    pub seed: u64,
}

impl PlanInput {
    /// A parameter as text, whatever its kind.
    pub fn parameter(&self, key: &str) -> Option<String> {
        self.parameters.iter().find(|(k, _)| k == key).and_then(|(_, v)| match v {
            ConfigValue::Text(s) => Some(s.clone()),
            ConfigValue::Integer(i) => Some(i.to_string()),
            ConfigValue::Boolean(b) => Some(b.to_string()),
            ConfigValue::Choices(_) => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanStep {
    pub decky: String,
    pub host: String,
    pub batch: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrategyError {
    UnknownStrategy(String),
    InvalidInput(String),
    NoCandidates(String),
}
