//! tracing to a daily rolling file in the app's log directory (and to stderr).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Log files kept before the oldest is deleted.
const KEPT_LOG_FILES: usize = 14;

/// Installs the subscriber; keep the guard alive for as long as logs should be written.
/// `RUST_LOG` overrides the default level (`info`).
pub fn init(dir: &Path) -> Option<WorkerGuard> {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter());
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("chaff-desktop")
        .filename_suffix("log")
        .max_log_files(KEPT_LOG_FILES)
        .build(dir);
    match appender {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let file =
                tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer).with_filter(filter());
            tracing_subscriber::registry().with(stderr).with(file).init();
            Some(guard)
        }
        Err(error) => {
            tracing_subscriber::registry().with(stderr).init();
            tracing::warn!(%error, dir = %dir.display(), "no log file: logging to stderr only");
            None
        }
    }
}
