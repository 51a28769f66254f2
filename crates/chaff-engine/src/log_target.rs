//! A fleet's `log_target`: where its sensor events are forwarded as RFC 5424 syslog.
//!
//! Forms: `udp://host:port`, `tcp://host:port`, or bare `host:port` (UDP, syslog's usual
//! transport). The host is an IPv4 address, a bracketed IPv6 address (`[::1]`) or a DNS name;
//! the port is 1–65535. Parsing is pure; resolving the name is the forwarder's business.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::naming;

/// The forms, for messages.
pub const LOG_TARGET_FORMS: &str = "udp://host:port, tcp://host:port or host:port (UDP)";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogTransport {
    Udp,
    /// Octet-counting framing (RFC 6587).
    Tcp,
}

impl LogTransport {
    pub fn as_str(self) -> &'static str {
        match self {
            LogTransport::Udp => "udp",
            LogTransport::Tcp => "tcp",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogTarget {
    pub transport: LogTransport,
    /// A name or an address, without brackets.
    pub host: String,
    pub port: u16,
}

impl LogTarget {
    /// `host:port` as a socket address string resolvers accept (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for LogTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.transport.as_str(), self.authority())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("log_target '{text}' must be {LOG_TARGET_FORMS}: {problem}")]
pub struct LogTargetError {
    pub text: String,
    pub problem: String,
}

impl FromStr for LogTarget {
    type Err = LogTargetError;

    fn from_str(text: &str) -> Result<LogTarget, LogTargetError> {
        let error = |problem: &str| LogTargetError { text: text.to_owned(), problem: problem.to_owned() };
        let (transport, authority) = match text.split_once("://") {
            Some(("udp", rest)) => (LogTransport::Udp, rest),
            Some(("tcp", rest)) => (LogTransport::Tcp, rest),
            Some((scheme, _)) => return Err(error(&format!("unknown scheme '{scheme}'"))),
            None => (LogTransport::Udp, text),
        };
        let (host, port) = split_host_port(authority).ok_or_else(|| error("expected host:port"))?;
        if host.contains(':') && !authority.starts_with('[') {
            return Err(error("an IPv6 address goes in brackets: [address]:port"));
        }
        if !is_valid_host(host) {
            return Err(error(&format!("'{host}' is not an address or a host name")));
        }
        let port: u16 = port.parse().map_err(|_| error(&format!("port '{port}' is not a number 1-65535")))?;
        if port == 0 {
            return Err(error("port 0 cannot be sent to"));
        }
        Ok(LogTarget { transport, host: host.to_owned(), port })
    }
}

/// `host:port` or `[v6]:port`, split; the host without brackets.
fn split_host_port(authority: &str) -> Option<(&str, &str)> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, rest) = bracketed.split_once(']')?;
        host.parse::<Ipv6Addr>().ok()?;
        return Some((host, rest.strip_prefix(':')?));
    }
    let (host, port) = authority.rsplit_once(':')?;
    Some((host, port))
}

fn is_valid_host(host: &str) -> bool {
    host.parse::<Ipv4Addr>().is_ok() || host.parse::<Ipv6Addr>().is_ok() || naming::is_valid_hostname(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LogTarget, LogTargetError> {
        text.parse()
    }

    #[test]
    fn the_three_forms_parse() {
        let udp = parse("udp://10.0.0.5:514").unwrap();
        assert_eq!((udp.transport, udp.host.as_str(), udp.port), (LogTransport::Udp, "10.0.0.5", 514));
        let tcp = parse("tcp://logs.lab.example:6514").unwrap();
        assert_eq!(
            (tcp.transport, tcp.host.as_str(), tcp.port),
            (LogTransport::Tcp, "logs.lab.example", 6514)
        );
        assert_eq!(parse("10.0.0.5:514").unwrap(), udp, "bare host:port is UDP");
        let v6 = parse("tcp://[::1]:514").unwrap();
        assert_eq!((v6.host.as_str(), v6.authority()), ("::1", "[::1]:514".to_owned()));
        assert_eq!(v6.to_string(), "tcp://[::1]:514");
        assert_eq!(parse("logs:514").unwrap().to_string(), "udp://logs:514");
    }

    #[test]
    fn anything_else_is_refused_saying_why() {
        let cases = [
            ("", "expected host:port"),
            ("10.0.0.5", "expected host:port"),
            ("http://10.0.0.5:514", "unknown scheme 'http'"),
            ("udp://:514", "'' is not an address"),
            ("udp://bad host:514", "'bad host' is not an address"),
            ("udp://10.0.0.5:0", "port 0"),
            ("udp://10.0.0.5:65536", "port '65536'"),
            ("udp://10.0.0.5:syslog", "port 'syslog'"),
            ("tcp://[::1:514", "expected host:port"),
            ("tcp://[nope]:514", "expected host:port"),
            ("::1:514", "in brackets"),
        ];
        for (text, problem) in cases {
            match parse(text) {
                Err(error) => {
                    let message = error.to_string();
                    assert!(message.contains(problem), "{text:?}: {message}");
                    assert!(message.starts_with(&format!("log_target '{text}' must be udp://")), "{message}");
                }
                Ok(target) => panic!("{text:?} parsed as {target:?}"),
            }
        }
    }
}
