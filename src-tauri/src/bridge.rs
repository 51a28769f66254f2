//! Engine → webview: bus events become Tauri events ([`chaff_app::ui_events`] names them),
//! Docker's reachability is watched, and the engine's background work (scheduled mutation,
//! event collection) runs for the life of the app.

use std::sync::Arc;

use chaff_app::docker_health::{self, CHECK_INTERVAL};
use chaff_app::{App, ui_events};
use chaff_bus::{Pattern, Received};
use tauri::{AppHandle, Emitter};

pub fn start(handle: AppHandle, app: Arc<App>) {
    let pattern = Pattern::new(ui_events::BUS_PATTERN).expect("the UI's bus pattern is valid");
    let mut subscription = app.engine().bus().subscribe(pattern);
    let events = handle.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(received) = subscription.recv().await {
            match received {
                Received::Event(event) => {
                    if let Some(ui) = ui_events::from_bus(&event) {
                        emit(&events, ui.name, &ui.payload);
                    }
                }
                Received::Lagged(lost) => emit(&events, ui_events::LAGGED, &lost),
            }
        }
    });
    let watched = Arc::clone(&app);
    tauri::async_runtime::spawn(async move {
        let stopped = watched.engine().clone();
        let stop = async move { stopped.stopped().await };
        docker_health::watch(watched.engine().docker(), CHECK_INTERVAL, stop, |health| {
            tracing::info!(reachable = health.reachable, error = ?health.error, "docker");
            emit(&handle, ui_events::DOCKER, health);
        })
        .await;
    });
    tauri::async_runtime::spawn(async move { app.watch().await });
}

/// Emitting fails only when the app is going away; the UI re-reads state on reload anyway.
fn emit(handle: &AppHandle, name: &str, payload: &impl serde::Serialize) {
    if let Err(error) = handle.emit(name, payload) {
        tracing::debug!(%error, name, "event not delivered");
    }
}
