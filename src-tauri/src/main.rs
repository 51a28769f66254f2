//! Chaff's desktop app: a thin Tauri shell. The engine runs in this process on its own tokio
//! runtime ([`chaff_app::App`]); the webview calls the commands in [`commands`] and listens
//! to the events [`bridge`] forwards. Nothing else is exposed to it (capabilities/main.json).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod bridge;
mod commands;
mod logging;

use std::process::ExitCode;
use std::sync::Arc;

use chaff_app::App;
use chaff_engine::data_dir::DataDir;
use chaff_lifecycle::EngineOptions;
use tauri::RunEvent;

/// Worker threads of the engine's runtime; the blocking pool (plugins, SQLite) is separate.
const ENGINE_WORKERS: usize = 2;

fn main() -> ExitCode {
    let data_dir = match DataDir::resolve(None).and_then(|dir| dir.ensure().map(|()| dir)) {
        Ok(dir) => dir,
        Err(error) => {
            // Before logging exists (its directory is in the data directory).
            eprintln!("chaff-desktop: {error}");
            return ExitCode::FAILURE;
        }
    };
    let _log = logging::init(&data_dir.logs());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(ENGINE_WORKERS)
        .thread_name("chaff-engine")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    tauri::async_runtime::set(runtime.handle().clone());
    tracing::info!(data_dir = %data_dir.root().display(), "starting");
    let app = match runtime.block_on(App::open(data_dir, EngineOptions::default())) {
        Ok(app) => Arc::new(app),
        Err(error) => {
            tracing::error!(%error, "cannot start the engine");
            return ExitCode::FAILURE;
        }
    };
    let background = Arc::clone(&app);
    let built = tauri::Builder::default()
        .manage(Arc::clone(&app))
        .invoke_handler(commands::handler())
        .setup(move |tauri_app| {
            bridge::start(tauri_app.handle().clone(), background);
            Ok(())
        })
        .build(tauri::generate_context!());
    let tauri_app = match built {
        Ok(tauri_app) => tauri_app,
        Err(error) => {
            tracing::error!(%error, "cannot start the window");
            runtime.block_on(app.shutdown());
            return ExitCode::FAILURE;
        }
    };
    tauri_app.run(move |_, event| {
        if let RunEvent::Exit = event {
            tracing::info!("shutting down: waiting for running jobs to close their rows");
            runtime.block_on(app.shutdown());
            tracing::info!("stopped");
        }
    });
    ExitCode::SUCCESS
}
