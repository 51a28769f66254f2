//! The deployment INI: import (compatible with the original's files, its error messages
//! prefixed with the line they are about) and export (text that imports back to the same
//! fleet).
//!
//! Format, section by section:
//!
//! * `[general]` — `net` (subnet, CIDR), `gw` (gateway), `interface` (host interface for
//!   macvlan/ipvlan), and Chaff's own: `name` (fleet name), `driver` (`bridge`, `macvlan`,
//!   `ipvlan`), `log_target`, `mutate_interval` (the original ignored the last one here),
//!   `fleet_services` (comma list of fleet singletons, like `sniffer`, to run once for the
//!   whole fleet; each gets the highest free address of the subnet).
//! * `[<decky>]` — `ip`, `services` (comma list), `archetype`, `nmap_os` / `nmap-os`,
//!   `mutate_interval` / `mutate-interval`, `amount` (1..=100, expands to `<decky>-01`...), and
//!   Chaff's own: `distro`, `hostname`.
//! * `[<decky>.<service>]` — configuration of one service of that decky, or of every decky
//!   expanded from `[<decky>]` with `amount=`; validated against the service's fields.
//! * `[custom-<name>]` — a bring-your-own service: `binary` (image), `exec` (command),
//!   `ports` (comma list).

mod export;
mod import;
mod parser;

use std::fmt;

pub use export::{ExportError, export_ini};
pub use import::{DEFAULT_SUBNET, ImportOptions, MAX_AMOUNT, MAX_INI_CHARS, import_ini};

/// Why an INI file was refused. `line` is the 1-based line the problem is on, when it is
/// about one line; `field` names the fleet field at fault when callers report fields
/// (`log_target`), else `None` (the file as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IniError {
    pub line: Option<usize>,
    pub message: String,
    pub field: Option<&'static str>,
}

impl IniError {
    pub(crate) fn at(line: usize, message: impl Into<String>) -> Self {
        Self { line: Some(line), message: message.into(), field: None }
    }

    pub(crate) fn whole(message: impl Into<String>) -> Self {
        Self { line: None, message: message.into(), field: None }
    }

    pub(crate) fn for_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for IniError {}
