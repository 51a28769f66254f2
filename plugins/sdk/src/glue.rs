//! WebAssembly glue: converts between the SDK's plain types and the generated WIT bindings.
//! Only compiled for `wasm32`; plugin authors never use it directly.

use crate::log::Level;
use crate::{
    Config, ConfigField, ConfigValue, Decky, FieldKind, MutateInput, PlanDecky, PlanInput, RenderError,
    ServiceInfo, ServicePlugin, StrategyError, StrategyInfo, StrategyKind, StrategyPlugin, Transport,
};

pub mod service_world {
    wit_bindgen::generate!({
        path: "../wit",
        world: "chaff:plugin/service-plugin@0.1.0",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "chaff_plugin_sdk::glue::service_world",
        type_section_suffix: "service",
    });
}

pub mod strategy_world {
    wit_bindgen::generate!({
        path: "../wit",
        world: "chaff:plugin/strategy-plugin@0.1.0",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "chaff_plugin_sdk::glue::strategy_world",
        type_section_suffix: "strategy",
    });
}

use service_world::chaff::plugin::types as st;
use service_world::exports::chaff::plugin::service as sw;
use strategy_world::chaff::plugin::types as gt;
use strategy_world::exports::chaff::plugin::strategy as gw;

// `chaff:plugin/host.log`, imported directly so that either world can call it without
// linking the other world's type information. Canonical ABI: enum as i32, string as (ptr, len).
#[link(wasm_import_module = "chaff:plugin/host@0.1.0")]
unsafe extern "C" {
    #[link_name = "log"]
    fn host_log(level: i32, ptr: *const u8, len: usize);
}

pub fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
    };
    // SAFETY: the pointer and length describe a live UTF-8 string for the whole call.
    unsafe { host_log(level, message.as_ptr(), message.len()) }
}

pub fn catalog<P: ServicePlugin>() -> Vec<sw::ServiceInfo> {
    P::catalog().into_iter().map(service_info_to_wit).collect()
}

pub fn render<P: ServicePlugin>(
    service: String,
    decky: sw::Decky,
    config: Vec<st::ConfigEntry>,
) -> Result<String, sw::RenderError> {
    let decky = Decky {
        name: decky.name,
        hostname: decky.hostname,
        ip: decky.ip,
        distro: decky.distro,
        os_family: decky.os_family,
        archetype: decky.archetype,
    };
    let config = Config::new(config.into_iter().map(|e| (e.key, service_value_from_wit(e.value))).collect());
    match P::render(&service, &decky, &config) {
        Ok(fragment) => Ok(fragment.to_json()),
        Err(RenderError::UnknownService(s)) => Err(sw::RenderError::UnknownService(s)),
        Err(RenderError::InvalidConfig { field, message }) => {
            Err(sw::RenderError::InvalidConfig(sw::InvalidConfig { field, message }))
        }
        Err(RenderError::Failed(m)) => Err(sw::RenderError::Failed(m)),
    }
}

fn service_info_to_wit(info: ServiceInfo) -> sw::ServiceInfo {
    sw::ServiceInfo {
        slug: info.slug,
        display_name: info.display_name,
        description: info.description,
        ports: info
            .ports
            .into_iter()
            .map(|p| st::Port {
                number: p.number,
                transport: match p.transport {
                    Transport::Tcp => st::Transport::Tcp,
                    Transport::Udp => st::Transport::Udp,
                },
            })
            .collect(),
        fleet_singleton: info.fleet_singleton,
        fields: info.fields.into_iter().map(field_to_wit).collect(),
        images: info.images,
        capabilities: info.capabilities,
        read_only_root: info.read_only_root,
    }
}

fn field_to_wit(field: ConfigField) -> st::ConfigField {
    st::ConfigField {
        key: field.key,
        label: field.label,
        kind: match field.kind {
            FieldKind::Text => st::FieldKind::Text,
            FieldKind::Password => st::FieldKind::Password,
            FieldKind::Integer => st::FieldKind::Integer,
            FieldKind::Boolean => st::FieldKind::Boolean,
            FieldKind::Textarea => st::FieldKind::Textarea,
            FieldKind::Choice => st::FieldKind::Choice,
            FieldKind::MultiChoice => st::FieldKind::MultiChoice,
        },
        default: field.default.map(service_value_to_wit),
        help: field.help,
        choices: field.choices,
        placeholder: field.placeholder,
        secret: field.secret,
    }
}

fn service_value_to_wit(value: ConfigValue) -> st::ConfigValue {
    match value {
        ConfigValue::Text(s) => st::ConfigValue::Text(s),
        ConfigValue::Integer(i) => st::ConfigValue::Integer(i),
        ConfigValue::Boolean(b) => st::ConfigValue::Boolean(b),
        ConfigValue::Choices(c) => st::ConfigValue::Choices(c),
    }
}

fn service_value_from_wit(value: st::ConfigValue) -> ConfigValue {
    match value {
        st::ConfigValue::Text(s) => ConfigValue::Text(s),
        st::ConfigValue::Integer(i) => ConfigValue::Integer(i),
        st::ConfigValue::Boolean(b) => ConfigValue::Boolean(b),
        st::ConfigValue::Choices(c) => ConfigValue::Choices(c),
    }
}

fn strategy_value_from_wit(value: gt::ConfigValue) -> ConfigValue {
    match value {
        gt::ConfigValue::Text(s) => ConfigValue::Text(s),
        gt::ConfigValue::Integer(i) => ConfigValue::Integer(i),
        gt::ConfigValue::Boolean(b) => ConfigValue::Boolean(b),
        gt::ConfigValue::Choices(c) => ConfigValue::Choices(c),
    }
}

pub fn strategies<P: StrategyPlugin>() -> Vec<gw::StrategyInfo> {
    P::strategies().into_iter().map(strategy_info_to_wit).collect()
}

fn strategy_info_to_wit(info: StrategyInfo) -> gw::StrategyInfo {
    gw::StrategyInfo {
        id: info.id,
        kind: match info.kind {
            StrategyKind::Mutate => gw::StrategyKind::Mutate,
            StrategyKind::Deploy => gw::StrategyKind::Deploy,
        },
        description: info.description,
        parameters: info
            .parameters
            .into_iter()
            .map(|p| gw::ParameterInfo { key: p.key, description: p.description, default: p.default })
            .collect(),
    }
}

pub fn mutate<P: StrategyPlugin>(
    strategy: String,
    input: gw::MutateInput,
) -> Result<Vec<String>, gw::StrategyError> {
    let input = MutateInput {
        decky: input.decky,
        current: input.current,
        archetype_services: input.archetype_services,
        available: input.available,
        now: input.now,
        seed: input.seed,
    };
    P::mutate(&strategy, &input).map_err(strategy_error_to_wit)
}

pub fn plan<P: StrategyPlugin>(
    strategy: String,
    input: gw::PlanInput,
) -> Result<Vec<gw::PlanStep>, gw::StrategyError> {
    let input = PlanInput {
        deckies: input.deckies.into_iter().map(|d| PlanDecky { name: d.name, host: d.host }).collect(),
        hosts: input.hosts,
        parameters: input.parameters.into_iter().map(|e| (e.key, strategy_value_from_wit(e.value))).collect(),
        now: input.now,
        seed: input.seed,
    };
    P::plan(&strategy, &input)
        .map(|steps| {
            steps.into_iter().map(|s| gw::PlanStep { decky: s.decky, host: s.host, batch: s.batch }).collect()
        })
        .map_err(strategy_error_to_wit)
}

fn strategy_error_to_wit(error: StrategyError) -> gw::StrategyError {
    match error {
        StrategyError::UnknownStrategy(s) => gw::StrategyError::UnknownStrategy(s),
        StrategyError::InvalidInput(s) => gw::StrategyError::InvalidInput(s),
        StrategyError::NoCandidates(s) => gw::StrategyError::NoCandidates(s),
    }
}
