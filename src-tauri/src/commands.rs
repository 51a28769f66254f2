//! The commands the webview calls: one per engine operation or query, each a thin wrapper
//! over [`chaff_app::App`]. Long work returns lifecycle ids at once; errors reach the UI as
//! `{code, message, field?}`. Arguments are snake_case on the JavaScript side too.

use std::sync::Arc;

use chaff_app::docker_health::DockerHealth;
use chaff_app::views::{Catalogue, Plugins, Preview, ServiceConfigView};
use chaff_app::{App, EventFilter, UiError};
use chaff_lifecycle::{Accepted, LifecycleRow, Status, Uuid};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use tauri::State;

type Shell<'a> = State<'a, Arc<App>>;
type Answer<T> = Result<T, UiError>;

pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        app_info,
        docker_health,
        catalogue,
        fleet_status,
        preview_ini,
        deploy_ini,
        teardown_decky,
        teardown_all,
        mutate_decky,
        add_service,
        remove_service,
        service_config,
        configure_service,
        lifecycle,
        open_lifecycle,
        attacker_events,
        plugins,
        trust_plugin,
        untrust_plugin,
    ]
}

/// Where the app keeps its data, and what start-up recovery did.
#[derive(Serialize)]
pub struct AppInfo {
    version: &'static str,
    data_dir: String,
    log_dir: String,
    recovered_failed: usize,
    recovered_succeeded: usize,
}

#[tauri::command(rename_all = "snake_case")]
fn app_info(shell: Shell<'_>) -> AppInfo {
    let recovered = shell.recovered();
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: shell.data_dir().root().display().to_string(),
        log_dir: shell.data_dir().logs().display().to_string(),
        recovered_failed: recovered.map_or(0, |r| r.failed.len()),
        recovered_succeeded: recovered.map_or(0, |r| r.succeeded.len()),
    }
}

#[tauri::command(rename_all = "snake_case")]
async fn docker_health(shell: Shell<'_>) -> Answer<DockerHealth> {
    Ok(shell.docker_health().await)
}

#[tauri::command(rename_all = "snake_case")]
fn catalogue(shell: Shell<'_>) -> Catalogue {
    shell.catalogue()
}

#[tauri::command(rename_all = "snake_case")]
async fn fleet_status(shell: Shell<'_>) -> Answer<Status> {
    shell.status().await
}

#[tauri::command(rename_all = "snake_case")]
async fn preview_ini(shell: Shell<'_>, text: String, fleet_name: String, replace: bool) -> Answer<Preview> {
    shell.preview_ini(text, fleet_name, replace).await
}

#[tauri::command(rename_all = "snake_case")]
async fn deploy_ini(shell: Shell<'_>, text: String, fleet_name: String, replace: bool) -> Answer<Accepted> {
    shell.deploy_ini(text, fleet_name, replace).await
}

#[tauri::command(rename_all = "snake_case")]
async fn teardown_decky(shell: Shell<'_>, decky: String) -> Answer<Accepted> {
    shell.teardown_decky(decky).await
}

#[tauri::command(rename_all = "snake_case")]
async fn teardown_all(shell: Shell<'_>) -> Answer<Accepted> {
    shell.teardown_all().await
}

#[tauri::command(rename_all = "snake_case")]
async fn mutate_decky(shell: Shell<'_>, decky: String) -> Answer<Accepted> {
    shell.mutate(decky).await
}

#[tauri::command(rename_all = "snake_case")]
async fn add_service(
    shell: Shell<'_>,
    decky: String,
    service: String,
    config: IndexMap<String, Value>,
) -> Answer<Accepted> {
    shell.add_service(decky, service, config).await
}

#[tauri::command(rename_all = "snake_case")]
async fn remove_service(shell: Shell<'_>, decky: String, service: String) -> Answer<Accepted> {
    shell.remove_service(decky, service).await
}

#[tauri::command(rename_all = "snake_case")]
async fn service_config(shell: Shell<'_>, decky: String, service: String) -> Answer<ServiceConfigView> {
    shell.service_config(decky, service).await
}

#[tauri::command(rename_all = "snake_case")]
async fn configure_service(
    shell: Shell<'_>,
    decky: String,
    service: String,
    config: IndexMap<String, Value>,
    apply: bool,
) -> Answer<Accepted> {
    shell.configure_service(decky, service, config, apply).await
}

#[tauri::command(rename_all = "snake_case")]
async fn lifecycle(shell: Shell<'_>, ids: Vec<Uuid>) -> Answer<Vec<LifecycleRow>> {
    shell.lifecycle(ids).await
}

#[tauri::command(rename_all = "snake_case")]
async fn open_lifecycle(shell: Shell<'_>) -> Answer<Vec<LifecycleRow>> {
    shell.open_lifecycle().await
}

#[tauri::command(rename_all = "snake_case")]
async fn attacker_events(shell: Shell<'_>, filter: EventFilter) -> Answer<Vec<Value>> {
    shell.events(filter).await
}

#[tauri::command(rename_all = "snake_case")]
fn plugins(shell: Shell<'_>) -> Plugins {
    shell.plugins()
}

#[tauri::command(rename_all = "snake_case")]
fn trust_plugin(shell: Shell<'_>, id: String) -> Answer<String> {
    shell.trust_plugin(&id)
}

#[tauri::command(rename_all = "snake_case")]
fn untrust_plugin(shell: Shell<'_>, id: String) -> Answer<()> {
    shell.untrust_plugin(&id)
}
