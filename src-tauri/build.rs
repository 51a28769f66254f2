// The commands the webview may call. Each gets its own `allow-<command>` permission, and
// capabilities/main.json grants exactly these: a command left out here is unreachable.
const COMMANDS: &[&str] = &[
    "app_info",
    "docker_health",
    "catalogue",
    "fleet_status",
    "preview_ini",
    "deploy_ini",
    "teardown_decky",
    "teardown_all",
    "mutate_decky",
    "add_service",
    "remove_service",
    "service_config",
    "configure_service",
    "lifecycle",
    "open_lifecycle",
    "attacker_events",
    "plugins",
    "trust_plugin",
    "untrust_plugin",
];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri build step (config, capabilities, permissions)");
}
