//! Which process may run start-up recovery.
//!
//! Several Chaff processes may share one data directory (the app and a CLI, two CLIs).
//! Every process that runs lifecycle jobs holds the runner lock *shared*; recovery closes
//! "abandoned" open rows, which is only right when no other process is running jobs, so it
//! runs only in a process that got the lock *exclusively*. A crashed process's lock is
//! released by the kernel, so its rows are recovered by the next start.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::Path;

pub struct RunnerLease {
    file: File,
    sole: bool,
}

impl RunnerLease {
    /// Takes the lock at `path` exclusively if no other process holds it, else shared
    /// (waiting for a process that is recovering right now).
    pub fn acquire(path: &Path) -> io::Result<RunnerLease> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(RunnerLease { file, sole: true }),
            Err(TryLockError::WouldBlock) => {
                file.lock_shared()?;
                Ok(RunnerLease { file, sole: false })
            }
            Err(TryLockError::Error(error)) => Err(error),
        }
    }

    /// Whether no other process was running jobs when this one started: recovery is safe.
    pub fn is_sole(&self) -> bool {
        self.sole
    }

    /// Lets other processes in once recovery is done.
    pub fn share(&mut self) -> io::Result<()> {
        if self.sole {
            self.file.unlock()?;
            self.file.lock_shared()?;
            self.sole = false;
        }
        Ok(())
    }
}
