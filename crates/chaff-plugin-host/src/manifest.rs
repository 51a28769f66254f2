//! `plugin.toml`: what a plugin says about itself before any of its code runs.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The plugin API version this host speaks: the version of the WIT package
/// `chaff:plugin`. A manifest naming any other version is refused.
pub const API_VERSION: &str = "0.1.0";

/// Longest plugin id (the id pattern is `^[a-z0-9][a-z0-9_-]{0,63}$`).
pub const MAX_PLUGIN_ID_LEN: usize = 64;

/// Longest manifest `version` string.
pub const MAX_VERSION_LEN: usize = 64;

/// Longest manifest `description`.
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// Which world a plugin implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Service,
    Strategy,
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PluginKind::Service => "service",
            PluginKind::Strategy => "strategy",
        })
    }
}

/// Where a plugin comes from. Built-in plugins ship inside the app; third-party plugins load
/// only when the user trusts their exact hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "origin")]
pub enum Origin {
    Builtin,
    ThirdParty { trusted: bool },
}

/// A parsed, checked `plugin.toml`. Unknown keys are an error: a typo in a manifest must not
/// silently mean something else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    pub api_version: String,
    pub kind: PluginKind,
    pub description: String,
    /// Lower-case hex sha256 of `plugin.wasm`.
    pub sha256: String,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ManifestError {
    #[error("plugin.toml is not a valid manifest: {0}")]
    Syntax(String),
    #[error("plugin id '{0}' is invalid (expected ^[a-z0-9][a-z0-9_-]{{0,63}}$)")]
    InvalidId(String),
    #[error("plugin '{plugin}': {field} is invalid: {reason}")]
    InvalidField { plugin: String, field: &'static str, reason: String },
}

impl Manifest {
    /// Parses and checks a manifest. The API version and the hash are compared by the loader
    /// (they have their own errors); here they are only checked for shape.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().to_owned()))?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), ManifestError> {
        if !is_plugin_id(&self.id) {
            return Err(ManifestError::InvalidId(self.id.clone()));
        }
        let invalid = |field, reason: &str| ManifestError::InvalidField {
            plugin: self.id.clone(),
            field,
            reason: reason.to_owned(),
        };
        if self.version.is_empty()
            || self.version.len() > MAX_VERSION_LEN
            || !self.version.chars().all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c))
        {
            return Err(invalid("version", "expected a short version such as 1.2.0"));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid("description", "longer than 1024 bytes"));
        }
        if self.description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid("description", "contains control characters"));
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(invalid("sha256", "expected 64 lower-case hex digits"));
        }
        Ok(())
    }
}

/// `^[a-z0-9][a-z0-9_-]{0,63}$`
pub fn is_plugin_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('a'..='z' | '0'..='9'))
        && id.len() <= MAX_PLUGIN_ID_LEN
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "ssh"
version = "0.1.0"
api_version = "0.1.0"
kind = "service"
description = "SSH"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.id, "ssh");
        assert_eq!(m.kind, PluginKind::Service);
    }

    #[test]
    fn refuses_unknown_keys() {
        let err = Manifest::parse(&format!("{GOOD}\nentrypoint = \"x\"\n")).unwrap_err();
        assert!(matches!(err, ManifestError::Syntax(ref m) if m.contains("entrypoint")), "{err}");
    }

    #[test]
    fn refuses_bad_ids() {
        for id in ["", "-x", "Ssh", "a b", "x/y", &"a".repeat(65)] {
            let text = GOOD.replace("id = \"ssh\"", &format!("id = \"{id}\""));
            assert!(matches!(Manifest::parse(&text), Err(ManifestError::InvalidId(_))), "{id}");
        }
        assert!(is_plugin_id(&"a".repeat(64)));
        assert!(is_plugin_id("fixture-infinite-loop"));
        assert!(is_plugin_id("0_x"));
    }

    #[test]
    fn refuses_a_bad_kind_and_hash() {
        assert!(Manifest::parse(&GOOD.replace("\"service\"", "\"daemon\"")).is_err());
        let err = Manifest::parse(&GOOD.replace(&"0".repeat(64), "abc")).unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
    }
}
