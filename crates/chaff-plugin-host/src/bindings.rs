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

/// A service plugin's `render` export, found and type-checked once when the plugin loads.
///
/// The generated bindings look up and type-check *every* export on every instantiation; for
/// one `render` per fresh instance that was a fifth of a call. Invariant: `index` belongs to
/// the component this was built from, and `check` succeeded on it, so the unchecked typed
/// call in `call` is sound for every instance of that component.
pub(crate) struct RenderExport {
    index: wasmtime::component::ComponentExportIndex,
}

type RenderParams<'a> = (
    &'a str,
    &'a service::exports::chaff::plugin::service::Decky,
    &'a [service::chaff::plugin::types::ConfigEntry],
);
type RenderResults = (Result<String, service::exports::chaff::plugin::service::RenderError>,);

/// The export name of the service interface; the version is part of it.
const SERVICE_INTERFACE: &str = "chaff:plugin/service@0.1.0";

impl RenderExport {
    /// Finds `render` in `component` and checks its type against a live `instance` of it.
    pub(crate) fn check<T>(
        component: &wasmtime::component::Component,
        store: &mut wasmtime::Store<T>,
        instance: &wasmtime::component::Instance,
    ) -> wasmtime::Result<Self> {
        let interface = component
            .get_export_index(None, SERVICE_INTERFACE)
            .ok_or_else(|| wasmtime::format_err!("no export `{SERVICE_INTERFACE}`"))?;
        let index = component
            .get_export_index(Some(&interface), "render")
            .ok_or_else(|| wasmtime::format_err!("no export `{SERVICE_INTERFACE}#render`"))?;
        instance.get_typed_func::<RenderParams<'_>, RenderResults>(&mut *store, &index)?;
        Ok(Self { index })
    }

    /// Calls `render` on a fresh `instance` of the component `check` saw.
    pub(crate) fn call<T>(
        &self,
        store: &mut wasmtime::Store<T>,
        instance: &wasmtime::component::Instance,
        params: RenderParams<'_>,
    ) -> wasmtime::Result<Result<String, service::exports::chaff::plugin::service::RenderError>> {
        let func = instance
            .get_func(&mut *store, self.index)
            .ok_or_else(|| wasmtime::format_err!("`render` vanished from its component"))?;
        // SAFETY: `check` type-checked this export of this component against exactly these
        // parameter and result types; a component's types never change.
        let render =
            unsafe { wasmtime::component::TypedFunc::<RenderParams<'_>, RenderResults>::new_unchecked(func) };
        let (answer,) = render.call(&mut *store, params)?;
        Ok(answer)
    }
}
