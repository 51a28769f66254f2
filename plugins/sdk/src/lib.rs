//! The Chaff plugin SDK.
//!
//! A plugin author implements [`ServicePlugin`] (or [`StrategyPlugin`]) on a unit struct in
//! plain Rust and calls [`export_service!`] (or [`export_strategy!`]) once. The SDK owns the
//! WebAssembly glue: on `wasm32` the macro exports the `chaff:plugin@0.1.0` world; on any
//! other target it expands to nothing, so the same logic can be unit-tested and benchmarked
//! natively.
//!
//! ```ignore
//! use chaff_plugin_sdk::prelude::*;
//!
//! pub struct Echo;
//!
//! impl ServicePlugin for Echo {
//!     fn catalog() -> Vec<ServiceInfo> {
//!         vec![ServiceInfo::new("echo", "Echo", "Answers with what it hears.").tcp(7)
//!             .image(SENSOR_IMAGE)]
//!     }
//!     fn render(service: &str, decky: &Decky, config: &Config) -> Result<Fragment, RenderError> {
//!         Ok(Fragment::sensor("echo").env("NODE_NAME", &decky.name))
//!     }
//! }
//!
//! chaff_plugin_sdk::export_service!(Echo);
//! ```

mod fragment;
pub mod log;
mod service;
mod strategy;
pub mod testing;

#[cfg(target_arch = "wasm32")]
mod call_heap;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod glue;

pub use fragment::{Fragment, SENSOR_IMAGE};
pub use service::{
    Config, ConfigField, ConfigValue, Decky, FieldKind, Port, RenderError, ServiceInfo, ServicePlugin,
    Transport,
};
pub use strategy::{
    MutateInput, ParameterInfo, PlanDecky, PlanInput, PlanStep, StrategyError, StrategyInfo, StrategyKind,
    StrategyPlugin,
};

/// The API version this SDK speaks; a plugin's manifest must name it.
pub const API_VERSION: &str = "0.1.0";

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::{
        Config, ConfigField, ConfigValue, Decky, FieldKind, Fragment, MutateInput, ParameterInfo, PlanDecky,
        PlanInput, PlanStep, Port, RenderError, SENSOR_IMAGE, ServiceInfo, ServicePlugin, StrategyError,
        StrategyInfo, StrategyKind, StrategyPlugin, Transport,
    };
}

/// Exports a [`ServicePlugin`] implementation as the plugin's `service` interface.
///
/// Expands to nothing outside `wasm32`, so the crate still builds natively.
#[macro_export]
macro_rules! export_service {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::glue::service_world::exports::chaff::plugin::service as wit;
            struct Export;
            impl wit::Guest for Export {
                fn catalog() -> ::std::vec::Vec<wit::ServiceInfo> {
                    $crate::glue::catalog::<$plugin>()
                }
                fn render(
                    service: ::std::string::String,
                    decky: wit::Decky,
                    config: ::std::vec::Vec<wit::ConfigEntry>,
                ) -> ::std::result::Result<::std::string::String, wit::RenderError> {
                    $crate::glue::render::<$plugin>(service, decky, config)
                }
            }
    $crate::glue::service_world::export!(Export with_types_in $crate::glue::service_world);
        };
    };
}

/// Exports a [`StrategyPlugin`] implementation as the plugin's `strategy` interface.
///
/// Expands to nothing outside `wasm32`, so the crate still builds natively.
#[macro_export]
macro_rules! export_strategy {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::glue::strategy_world::exports::chaff::plugin::strategy as wit;
            struct Export;
            impl wit::Guest for Export {
                fn strategies() -> ::std::vec::Vec<wit::StrategyInfo> {
                    $crate::glue::strategies::<$plugin>()
                }
                fn mutate(
                    strategy: ::std::string::String,
                    input: wit::MutateInput,
                ) -> ::std::result::Result<::std::vec::Vec<::std::string::String>, wit::StrategyError>
                {
                    $crate::glue::mutate::<$plugin>(strategy, input)
                }
                fn plan(
                    strategy: ::std::string::String,
                    input: wit::PlanInput,
                ) -> ::std::result::Result<::std::vec::Vec<wit::PlanStep>, wit::StrategyError> {
                    $crate::glue::plan::<$plugin>(strategy, input)
                }
            }
    $crate::glue::strategy_world::export!(Export with_types_in $crate::glue::strategy_world);
        };
    };
}
