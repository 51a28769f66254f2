//! `chaff-sensor`: `idle`, `<slug>`, `--version`. It runs as PID 1 in its container, where
//! no signal has a default action, so SIGTERM, SIGINT and SIGHUP are handled explicitly.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;

use chaff_sensor::{Env, IDLE, Recorder, VERSION, emulators, ports};
use tokio::signal::unix::{SignalKind, signal};

/// Bad command line.
const EXIT_USAGE: u8 = 2;
/// A port could not be bound, or the sensor could not start.
const EXIT_FAILURE: u8 = 1;

fn usage() -> String {
    let names: Vec<&str> = ports::known_names().collect();
    format!(
        "usage: chaff-sensor <emulator>\n       chaff-sensor --version\n\n\
         emulators: {}\n\nEvents are written to stdout, one JSON object per line.\n",
        names.join(", ")
    )
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.as_slice() {
        [arg] if arg == "--version" || arg == "-V" => {
            println!("chaff-sensor {VERSION}");
            ExitCode::SUCCESS
        }
        [arg] if arg == "--help" || arg == "-h" => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        [name] => run(&name.to_string_lossy()),
        _ => {
            eprint!("{}", usage());
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run(name: &str) -> ExitCode {
    let service = if name == IDLE {
        None
    } else {
        match ports::service_named(name) {
            Some(service) => Some(service),
            None => {
                let names: Vec<&str> = ports::known_names().collect();
                eprintln!("chaff-sensor: unknown emulator {name:?}; known: {}", names.join(", "));
                return ExitCode::from(EXIT_USAGE);
            }
        }
    };
    // One thread: a container serves one service, and an idle sensor should cost nothing.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chaff-sensor: cannot start: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(async {
        // Registered before any port is bound, so a stop during start-up is honoured too.
        let stop = match stop_signals() {
            Ok(stop) => stop,
            Err(e) => {
                eprintln!("chaff-sensor: cannot handle signals: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        if let Some(service) = service {
            let env = Env::from_process();
            let recorder = Arc::new(Recorder::stdout(env.decky(), service.slug));
            if let Err(e) = emulators::start(service, IpAddr::V4(Ipv4Addr::UNSPECIFIED), &env, &recorder) {
                eprintln!("chaff-sensor: {}: {e}", service.slug);
                return ExitCode::from(EXIT_FAILURE);
            }
        }
        stop.await;
        ExitCode::SUCCESS
    })
}

/// Resolves at the first SIGTERM, SIGINT or SIGHUP.
fn stop_signals() -> std::io::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
    })
}
