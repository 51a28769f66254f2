//! Host-side bindings of the two plugin worlds, generated from `plugins/wit`.
//!
//! Both worlds share `chaff:plugin/types` and `chaff:plugin/host`; the strategy bindings
//! reuse the service bindings' modules for them so that one `Host` implementation and one
//! linker serve both worlds.

pub mod service {
    wasmtime::component::bindgen!({
        path: "../../plugins/wit",
        world: "chaff:plugin/service-plugin@0.1.0",
    });
}

pub mod strategy {
    wasmtime::component::bindgen!({
        path: "../../plugins/wit",
        world: "chaff:plugin/strategy-plugin@0.1.0",
        with: {
            "chaff:plugin/types": crate::bindings::service::chaff::plugin::types,
            "chaff:plugin/host": crate::bindings::service::chaff::plugin::host,
        },
    });
}
