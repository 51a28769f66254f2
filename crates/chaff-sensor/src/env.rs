//! The emulators' configuration: the container's environment, as the service plugins set it
//! (`SSH_USER`, `REDIS_VERSION`, `SERVER_HEADER`, ...). Read once at start-up into [`Env`],
//! which tests build from pairs.

use std::collections::BTreeMap;
use std::fmt;

/// Environment variables; an empty value counts as unset.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process environment (variables that are not UTF-8 are ignored).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect() }
    }

    /// This environment with `name` set to `value`: how an emulator reused by another service
    /// (conpot's SNMP agent and web server) is given that service's persona.
    pub fn with(&self, name: &str, value: &str) -> Env {
        let mut vars = self.vars.clone();
        vars.insert(name.to_owned(), value.to_owned());
        Env { vars }
    }

    /// The value of `name`, unless unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The value of `name`, or `default`.
    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }

    /// `name` parsed as `T`; unset is `None`, unparsable is an error naming the variable.
    pub fn parse<T: std::str::FromStr>(&self, name: &str, expected: &str) -> Result<Option<T>, ConfigError> {
        self.get(name)
            .map(|v| v.parse().map_err(|_| ConfigError::new(name, format!("expected {expected}, got {v:?}"))))
            .transpose()
    }

    /// `name` as a flag: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`, in any case and
    /// with surrounding blanks; unset is `None`, anything else an error naming the variable.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        self.get(name)
            .map(|value| match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(name, format!("expected true or false, got {value:?}"))),
            })
            .transpose()
    }

    /// `name` (else `default`) as accounts, `user:password,user:password`: a user name is
    /// non-empty and has no `:`; passwords may; at most [`MAX_ACCOUNTS_LEN`] bytes.
    pub fn accounts(&self, name: &str, default: &str) -> Result<Vec<(String, String)>, ConfigError> {
        parse_accounts(self.get_or(name, default)).map_err(|message| ConfigError::new(name, message))
    }

    /// The decky this sensor belongs to: `NODE_NAME`, else `HOSTNAME`, else empty.
    pub fn decky(&self) -> &str {
        self.get("NODE_NAME").or_else(|| self.get("HOSTNAME")).unwrap_or("")
    }
}

/// The longest list of accounts [`Env::accounts`] reads.
pub const MAX_ACCOUNTS_LEN: usize = 4096;

fn parse_accounts(value: &str) -> Result<Vec<(String, String)>, String> {
    if value.len() > MAX_ACCOUNTS_LEN {
        return Err(format!("longer than {MAX_ACCOUNTS_LEN} bytes"));
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
            _ => Err(format!("expected user:password entries separated by commas, got {entry:?}")),
        })
        .collect()
}

/// A variable the emulator cannot work with. Fatal at start-up: a decky answering with a
/// half-applied configuration would look broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub var: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { var: var.to_owned(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_pairs([("A", ""), ("B", "x")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get_or("A", "d"), "d");
        assert_eq!(env.get("B"), Some("x"));
    }

    #[test]
    fn parse_names_the_variable() {
        let env = Env::from_pairs([("PORT", "twenty")]);
        let error = env.parse::<u16>("PORT", "a port number").unwrap_err();
        assert_eq!(error.to_string(), "PORT: expected a port number, got \"twenty\"");
        assert_eq!(env.parse::<u16>("UNSET", "a port").unwrap(), None);
    }

    #[test]
    fn flags_take_the_usual_spellings() {
        let env = Env::from_pairs([("A", "TRUE"), ("B", "off"), ("C", "2"), ("D", " Yes ")]);
        assert_eq!(
            (env.flag("A"), env.flag("B"), env.flag("D"), env.flag("UNSET")),
            (Ok(Some(true)), Ok(Some(false)), Ok(Some(true)), Ok(None))
        );
        assert_eq!(env.flag("C").unwrap_err().to_string(), "C: expected true or false, got \"2\"");
    }

    #[test]
    fn accounts_are_user_colon_password_pairs() {
        let env = Env::from_pairs([("U", "bob:pw:x, eve:")]);
        assert_eq!(
            env.accounts("U", "").unwrap(),
            [("bob".to_owned(), "pw:x".to_owned()), ("eve".to_owned(), String::new())]
        );
        assert_eq!(env.accounts("UNSET", "a:b").unwrap(), [("a".to_owned(), "b".to_owned())]);
        for bad in ["nocolon", ":pw"] {
            assert_eq!(Env::from_pairs([("U", bad)]).accounts("U", "").unwrap_err().var, "U");
        }
    }

    #[test]
    fn with_sets_one_variable_and_leaves_the_original() {
        let env = Env::from_pairs([("A", "1")]);
        let more = env.with("B", "2").with("A", "3");
        assert_eq!((more.get("A"), more.get("B")), (Some("3"), Some("2")));
        assert_eq!((env.get("A"), env.get("B")), (Some("1"), None));
    }

    #[test]
    fn decky_falls_back_to_hostname() {
        assert_eq!(Env::from_pairs([("HOSTNAME", "h"), ("NODE_NAME", "n")]).decky(), "n");
        assert_eq!(Env::from_pairs([("HOSTNAME", "h")]).decky(), "h");
        assert_eq!(Env::default().decky(), "");
    }
}
