//! Calls into loaded plugins: `render`, `mutate`, `plan`. Each runs in a fresh store under
//! the call limits; whatever comes back is checked (size, shape, policy, sense) before it is
//! returned. A timeout counts towards disabling the plugin; any other outcome resets the count.

use serde_json::{Map, Value};

use crate::bindings::service::chaff::plugin::types::ConfigEntry;
use crate::bindings::service::exports::chaff::plugin::service as wit_service;
use crate::bindings::strategy::exports::chaff::plugin::strategy as wit_strategy;
use crate::catalog::value_to_wit;
use crate::error::{Call, PluginError, RenderFailure, StrategyFailure};
use crate::host::{Plugin, PluginHost, World};
use crate::invoke::invoke;
use crate::manifest::PluginKind;
use crate::output;
use crate::policy::check_fragment;
use crate::sandbox::CallLimits;
use crate::spec::{
    ConfigValue, DeckyContext, MutateInput, PlanInput, PlanStep, ServiceConfig, StrategyKind, StrategySpec,
};

impl PluginHost {
    fn call_limits(&self, kind: PluginKind) -> CallLimits {
        CallLimits {
            memory_bytes: self.limits.memory_for(kind),
            budget: self.limits.call_budget,
            log_message: self.limits.log_message,
            log_events: self.limits.log_events_per_call,
        }
    }

    /// Runs one call into `plugin` (refused if it is disabled) and keeps its timeout count.
    fn run<R>(
        &self,
        plugin: &Plugin,
        call: Call,
        body: impl FnOnce(&mut wasmtime::Store<crate::sandbox::CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        if let Some(reason) = plugin.health.disabled() {
            return Err(PluginError::Disabled { plugin: plugin.id.to_string(), reason });
        }
        let limits = self.call_limits(plugin.manifest.kind);
        let outcome = invoke(self.engine, &plugin.id, call, limits, body);
        let timed_out = matches!(outcome, Err(PluginError::Timeout { .. }));
        if plugin.health.record(timed_out, self.limits.timeouts_before_disable) {
            tracing::error!(plugin = %plugin.id, count = self.limits.timeouts_before_disable, "plugin disabled after repeated timeouts");
        }
        outcome
    }

    /// Renders `slug`'s compose fragment for `decky` with a validated `config` (see
    /// [`validate_config`](crate::validate_config)), and checks it: size, JSON object, policy.
    pub fn render(
        &self,
        slug: &str,
        decky: &DeckyContext,
        config: &ServiceConfig,
    ) -> Result<Map<String, Value>, PluginError> {
        let &(index, service) =
            self.service_index.get(slug).ok_or_else(|| PluginError::UnknownService(slug.to_owned()))?;
        let plugin = &self.plugins[index];
        let World::Service { pre, render, .. } = &plugin.world else {
            unreachable!("service_index points at service plugins")
        };
        let spec = self.service_at(index, service);
        let decky = decky_to_wit(decky);
        let entries = entries_to_wit(config.0.iter());
        let answer = self.run(plugin, Call::Render, |store| {
            let instance = pre.instance_pre().instantiate(&mut *store)?;
            render.call(store, &instance, (slug, &decky, &entries))
        })?;
        let id = plugin.id.to_string();
        let json = answer.map_err(|e| PluginError::Render {
            plugin: id.clone(),
            service: slug.to_owned(),
            failure: render_failure(e),
        })?;
        let limit = self.limits.fragment_size;
        if json.len() > limit {
            return Err(PluginError::OutputTooLarge {
                plugin: id,
                call: Call::Render,
                size: json.len(),
                limit,
            });
        }
        let malformed = |message: String| PluginError::MalformedOutput {
            plugin: id.clone(),
            call: Call::Render,
            message,
        };
        let fragment: Value = serde_json::from_str(&json).map_err(|e| malformed(format!("not JSON: {e}")))?;
        if !fragment.is_object() {
            return Err(malformed("the fragment is not a JSON object".into()));
        }
        check_fragment(spec, &fragment).map_err(|violation| PluginError::Policy {
            plugin: id.clone(),
            service: slug.to_owned(),
            violation,
        })
    }

    /// Finds `id` among loaded strategies and checks it is of `kind`.
    fn strategy_for(&self, id: &str, kind: StrategyKind) -> Result<(&Plugin, &StrategySpec), PluginError> {
        let &(index, strategy) =
            self.strategy_index.get(id).ok_or_else(|| PluginError::UnknownStrategy(id.to_owned()))?;
        let spec = self.strategy_at(index, strategy);
        if spec.kind != kind {
            return Err(PluginError::WrongStrategyKind {
                strategy: id.to_owned(),
                expected: kind,
                actual: spec.kind,
            });
        }
        Ok((&self.plugins[index], spec))
    }

    /// Asks mutate strategy `strategy` for a decky's next service set. The answer is
    /// non-empty, duplicate-free and drawn from `input.available`.
    pub fn mutate(&self, strategy: &str, input: &MutateInput) -> Result<Vec<String>, PluginError> {
        let (plugin, _) = self.strategy_for(strategy, StrategyKind::Mutate)?;
        let World::Strategy { pre, .. } = &plugin.world else {
            unreachable!("strategy_index points at strategy plugins")
        };
        let wit_input = wit_strategy::MutateInput {
            decky: input.decky.clone(),
            current: input.current.clone(),
            archetype_services: input.archetype_services.clone(),
            available: input.available.clone(),
            now: input.now,
            seed: input.seed,
        };
        let answer = self.run(plugin, Call::Mutate, |store| {
            pre.instantiate(&mut *store)?.chaff_plugin_strategy().call_mutate(
                &mut *store,
                strategy,
                &wit_input,
            )
        })?;
        let services = answer.map_err(|e| strategy_error(plugin, strategy, e))?;
        self.check_strategy_output(plugin, Call::Mutate, output::mutate_size(&services))?;
        output::check_mutate(input, &services).map_err(|message| PluginError::MalformedOutput {
            plugin: plugin.id.to_string(),
            call: Call::Mutate,
            message,
        })?;
        Ok(services)
    }

    /// Asks deploy strategy `strategy` for a plan. Parameters the strategy does not declare
    /// are dropped and declared ones missing from `input` get their defaults. The answer
    /// places every input decky exactly once, on a known host (its pinned host if any).
    pub fn plan(&self, strategy: &str, input: &PlanInput) -> Result<Vec<PlanStep>, PluginError> {
        let (plugin, spec) = self.strategy_for(strategy, StrategyKind::Deploy)?;
        let World::Strategy { pre, .. } = &plugin.world else {
            unreachable!("strategy_index points at strategy plugins")
        };
        let parameters: Vec<(String, ConfigValue)> = spec
            .parameters
            .iter()
            .map(|p| {
                let value = input.parameters.get(&p.key).unwrap_or(&p.default);
                (p.key.clone(), ConfigValue::Text(value.clone()))
            })
            .collect();
        let wit_input = wit_strategy::PlanInput {
            deckies: input
                .deckies
                .iter()
                .map(|d| wit_strategy::PlanDecky { name: d.name.clone(), host: d.host.clone() })
                .collect(),
            hosts: input.hosts.clone(),
            parameters: entries_to_wit(parameters.iter().map(|(k, v)| (k, v))),
            now: input.now,
            seed: input.seed,
        };
        let answer = self.run(plugin, Call::Plan, |store| {
            pre.instantiate(&mut *store)?.chaff_plugin_strategy().call_plan(&mut *store, strategy, &wit_input)
        })?;
        let steps: Vec<PlanStep> = answer
            .map_err(|e| strategy_error(plugin, strategy, e))?
            .into_iter()
            .map(|s| PlanStep { decky: s.decky, host: s.host, batch: s.batch })
            .collect();
        self.check_strategy_output(plugin, Call::Plan, output::plan_size(&steps))?;
        output::check_plan(input, &steps).map_err(|message| PluginError::MalformedOutput {
            plugin: plugin.id.to_string(),
            call: Call::Plan,
            message,
        })?;
        Ok(steps)
    }

    fn check_strategy_output(&self, plugin: &Plugin, call: Call, size: usize) -> Result<(), PluginError> {
        let limit = self.limits.strategy_output;
        if size > limit {
            return Err(PluginError::OutputTooLarge { plugin: plugin.id.to_string(), call, size, limit });
        }
        Ok(())
    }
}

fn decky_to_wit(decky: &DeckyContext) -> wit_service::Decky {
    wit_service::Decky {
        name: decky.name.clone(),
        hostname: decky.hostname.clone(),
        ip: decky.ip.clone(),
        distro: decky.distro.clone(),
        os_family: decky.os_family.clone(),
        archetype: decky.archetype.clone(),
    }
}

fn entries_to_wit<'a>(entries: impl Iterator<Item = (&'a String, &'a ConfigValue)>) -> Vec<ConfigEntry> {
    entries.map(|(key, value)| ConfigEntry { key: key.clone(), value: value_to_wit(value) }).collect()
}

fn render_failure(error: wit_service::RenderError) -> RenderFailure {
    match error {
        wit_service::RenderError::UnknownService(s) => RenderFailure::UnknownService(s),
        wit_service::RenderError::InvalidConfig(c) => {
            RenderFailure::InvalidConfig { field: c.field, message: c.message }
        }
        wit_service::RenderError::Failed(m) => RenderFailure::Failed(m),
    }
}

fn strategy_error(plugin: &Plugin, strategy: &str, error: wit_strategy::StrategyError) -> PluginError {
    let failure = match error {
        wit_strategy::StrategyError::UnknownStrategy(s) => StrategyFailure::UnknownStrategy(s),
        wit_strategy::StrategyError::InvalidInput(s) => StrategyFailure::InvalidInput(s),
        wit_strategy::StrategyError::NoCandidates(s) => StrategyFailure::NoCandidates(s),
    };
    PluginError::Strategy { plugin: plugin.id.to_string(), strategy: strategy.to_owned(), failure }
}
