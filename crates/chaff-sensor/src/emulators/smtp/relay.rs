//! The open relay's probe deliveries, withheld. Spammers test a relay by mailing themselves;
//! the original delivered the first `SMTP_PROBE_LIMIT` messages of each client through the
//! upstream server (`SMTP_UPSTREAM_*`) to look convincing. The sensor never sends traffic
//! anywhere: it records each delivery it would have made as a `relay_withheld` event instead.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use crate::env::{ConfigError, Env};

/// Clients whose probe counts are remembered; when more come, the counts start over (which
/// can only add events, never send anything).
const MAX_TRACKED_CLIENTS: usize = 4096;

/// The upstream the original would have relayed through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    /// Whether a password is configured (it is never written anywhere).
    pub has_password: bool,
    /// The envelope sender of relayed messages; the client's own when unset.
    pub sender: Option<String>,
}

#[derive(Debug)]
pub struct RelayProbes {
    pub upstream: Upstream,
    /// Messages per client that would have been relayed.
    pub limit: u32,
    sent: Mutex<HashMap<IpAddr, u32>>,
}

impl RelayProbes {
    /// The relay configuration, `None` when no upstream host is set (the original then
    /// relayed nothing).
    pub fn from_env(env: &Env) -> Result<Option<RelayProbes>, ConfigError> {
        let port = env.parse::<u16>("SMTP_UPSTREAM_PORT", "a port number (1-65535)")?.unwrap_or(25);
        if port == 0 {
            return Err(ConfigError::new(
                "SMTP_UPSTREAM_PORT",
                "expected a port number (1-65535), got \"0\"",
            ));
        }
        let limit = env.parse::<u32>("SMTP_PROBE_LIMIT", "a count of messages")?.unwrap_or(1);
        let Some(host) = env.get("SMTP_UPSTREAM_HOST") else { return Ok(None) };
        let upstream = Upstream {
            host: host.to_owned(),
            port,
            user: env.get("SMTP_UPSTREAM_USER").map(str::to_owned),
            has_password: env.get("SMTP_UPSTREAM_PASS").is_some(),
            sender: env.get("SMTP_UPSTREAM_SENDER").map(str::to_owned),
        };
        Ok(Some(RelayProbes { upstream, limit, sent: Mutex::new(HashMap::new()) }))
    }

    /// Counts one relayable message from `client`: `Some(n)` (1-based) when it is within the
    /// client's probe limit, i.e. the original would have delivered it.
    pub fn would_relay(&self, client: IpAddr) -> Option<u32> {
        let client = client.to_canonical();
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if sent.len() >= MAX_TRACKED_CLIENTS && !sent.contains_key(&client) {
            sent.clear();
        }
        let count = sent.entry(client).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(*count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probes(pairs: &[(&str, &str)]) -> Result<Option<RelayProbes>, ConfigError> {
        RelayProbes::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn no_upstream_host_means_nothing_would_be_relayed() {
        assert!(probes(&[("SMTP_PROBE_LIMIT", "3")]).unwrap().is_none());
    }

    #[test]
    fn the_upstream_is_read_whole_and_checked() {
        let relay = probes(&[
            ("SMTP_UPSTREAM_HOST", "smtp.example.net"),
            ("SMTP_UPSTREAM_PORT", "587"),
            ("SMTP_UPSTREAM_USER", "probe"),
            ("SMTP_UPSTREAM_PASS", "hunter2"),
            ("SMTP_UPSTREAM_SENDER", "bounce@example.net"),
            ("SMTP_PROBE_LIMIT", "2"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            relay.upstream,
            Upstream {
                host: "smtp.example.net".into(),
                port: 587,
                user: Some("probe".into()),
                has_password: true,
                sender: Some("bounce@example.net".into()),
            }
        );
        assert_eq!(relay.limit, 2);
        let defaults = probes(&[("SMTP_UPSTREAM_HOST", "h")]).unwrap().unwrap();
        assert_eq!((defaults.upstream.port, defaults.limit), (25, 1));
        for (var, value) in
            [("SMTP_UPSTREAM_PORT", "0"), ("SMTP_UPSTREAM_PORT", "70000"), ("SMTP_PROBE_LIMIT", "-1")]
        {
            let error = probes(&[("SMTP_UPSTREAM_HOST", "h"), (var, value)]).unwrap_err();
            assert_eq!(error.var, var);
        }
    }

    #[test]
    fn each_client_gets_at_most_the_limit() {
        let relay = probes(&[("SMTP_UPSTREAM_HOST", "h"), ("SMTP_PROBE_LIMIT", "2")]).unwrap().unwrap();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert_eq!(relay.would_relay(a), Some(1));
        assert_eq!(relay.would_relay(a), Some(2));
        assert_eq!(relay.would_relay(a), None);
        assert_eq!(relay.would_relay(b), Some(1));
        let none = probes(&[("SMTP_UPSTREAM_HOST", "h"), ("SMTP_PROBE_LIMIT", "0")]).unwrap().unwrap();
        assert_eq!(none.would_relay(a), None);
    }

    #[test]
    fn the_memory_of_clients_is_bounded() {
        let relay = probes(&[("SMTP_UPSTREAM_HOST", "h")]).unwrap().unwrap();
        for i in 0..(MAX_TRACKED_CLIENTS as u32 + 10) {
            relay.would_relay(IpAddr::from(i.to_be_bytes()));
        }
        assert!(relay.sent.lock().unwrap().len() <= MAX_TRACKED_CLIENTS);
    }
}
