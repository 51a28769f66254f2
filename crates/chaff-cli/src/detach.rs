//! `--detach`: print the lifecycle ids at once and let a background process finish the work.
//!
//! The work lives in the process that started it (rows are driven by in-memory jobs), so
//! detaching forks *before* anything else starts — no runtime, no threads yet — and the
//! child does everything: it starts the engine, starts the operation, sends the ids (or
//! the refusal) to the parent over a pipe, then follows the rows to the end with its output
//! in the log directory. The parent prints what it received and exits with the matching
//! status, so `ids=$(chaff deploy --detach ...)` returns as soon as the rows exist.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Mutex;

use chaff_engine::data_dir::DataDir;
use chaff_lifecycle::Accepted;

use crate::exit::CliError;
use crate::ops::{Verb, run_attached};

/// Where a detached process writes its log.
const DETACHED_LOG: &str = "detached.log";

pub fn run_detached(data_dir: &DataDir, verb: Verb) -> Result<(), CliError> {
    data_dir.ensure()?;
    std::fs::create_dir_all(data_dir.logs()).map_err(|e| CliError::Io(e.to_string()))?;
    let (mut reader, writer) =
        std::io::pipe().map_err(|e| CliError::Io(format!("cannot create a pipe: {e}")))?;
    // SAFETY: the process is still single-threaded here (argument parsing and logging set-up
    // start no thread), so the child may run arbitrary code after fork.
    match unsafe { libc::fork() } {
        -1 => Err(CliError::Io(format!("cannot fork: {}", std::io::Error::last_os_error()))),
        0 => {
            drop(reader);
            let code = run_child(data_dir, verb, writer);
            std::process::exit(code);
        }
        _child => {
            drop(writer);
            let mut answer = String::new();
            reader.read_to_string(&mut answer).map_err(|e| CliError::Io(e.to_string()))?;
            report(&answer, data_dir)
        }
    }
}

fn run_child(data_dir: &DataDir, verb: Verb, writer: std::io::PipeWriter) -> i32 {
    // SAFETY: plain libc calls on valid descriptors of this process.
    unsafe {
        libc::setsid();
    }
    let log = OpenOptions::new().create(true).append(true).open(data_dir.logs().join(DETACHED_LOG));
    if let Ok(log) = &log {
        // SAFETY: redirecting the standard descriptors to an open file / /dev/null.
        unsafe {
            libc::dup2(log.as_raw_fd(), libc::STDOUT_FILENO);
            libc::dup2(log.as_raw_fd(), libc::STDERR_FILENO);
        }
    }
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: as above.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDIN_FILENO);
        }
    }
    let writer = Mutex::new(Some(writer));
    let send = Box::new(move |accepted: &Result<Accepted, CliError>| {
        let message = match accepted {
            Ok(accepted) => {
                let ids: Vec<String> = accepted.lifecycle_ids.iter().map(ToString::to_string).collect();
                format!("ok {}", ids.join(" "))
            }
            Err(error) => format!("err {} {error}", error.exit_code()),
        };
        if let Some(mut writer) = writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.write_all(message.as_bytes());
        }
    });
    match run_attached(data_dir, verb, Some(send)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            i32::from(error.exit_code())
        }
    }
}

/// Prints the ids the child sent (one per line), or its refusal as this process's error.
fn report(answer: &str, data_dir: &DataDir) -> Result<(), CliError> {
    if let Some(ids) = answer.strip_prefix("ok") {
        for id in ids.split_whitespace() {
            println!("{id}");
        }
        eprintln!(
            "detached: follow with `chaff lifecycle <id>...`; log in {}",
            data_dir.logs().join(DETACHED_LOG).display()
        );
        return Ok(());
    }
    let refused = answer.strip_prefix("err ").and_then(|rest| rest.split_once(' '));
    match refused {
        Some((code, message)) => Err(CliError::from_exit_code(code.parse().unwrap_or(1), message.to_owned())),
        None => Err(CliError::Internal(format!(
            "the background process stopped before starting the operation; see {}",
            data_dir.logs().join(DETACHED_LOG).display()
        ))),
    }
}
