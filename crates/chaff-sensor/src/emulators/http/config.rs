//! The web server's configuration from the environment the `http` plugin sets: `SERVER_HEADER`,
//! `RESPONSE_CODE`, `FAKE_APP`, `EXTRA_HEADERS`, `CUSTOM_BODY`, `HTTP_VERSIONS`, and the
//! decky's persona (`NODE_NAME`, `HTTP_DISTRO`). TLS variables are read by [`super::tls`].

use std::time::SystemTime;

use hyper::StatusCode;
use hyper::header::{HeaderName, HeaderValue};

use super::pages::epoch_plus;
use crate::env::{ConfigError, Env};

/// The applications the server can pose as (`FAKE_APP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeApp {
    None,
    WordPress,
    PhpMyAdmin,
    Tomcat,
    Jenkins,
}

impl FakeApp {
    pub const ALL: [FakeApp; 5] =
        [FakeApp::None, FakeApp::WordPress, FakeApp::PhpMyAdmin, FakeApp::Tomcat, FakeApp::Jenkins];

    /// The name in `FAKE_APP` and in `auth` events.
    pub const fn name(self) -> &'static str {
        match self {
            FakeApp::None => "none",
            FakeApp::WordPress => "wordpress",
            FakeApp::PhpMyAdmin => "phpmyadmin",
            FakeApp::Tomcat => "tomcat",
            FakeApp::Jenkins => "jenkins",
        }
    }
}

/// Which HTTP versions are served (`HTTP_VERSIONS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub http1: bool,
    pub http2: bool,
    /// `http/3` was asked for: this sensor does not speak QUIC, so it is only reported.
    pub http3_requested: bool,
}

impl Default for Versions {
    fn default() -> Self {
        Versions { http1: true, http2: false, http3_requested: false }
    }
}

/// Everything the environment says about the web server, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Seeds the per-decky choices (versions, dates, names): a hash of the decky's name.
    pub seed: u64,
    /// The decky's name: the fallback host name in pages.
    pub decky: String,
    /// The distribution the decky poses as (`HTTP_DISTRO`), when set.
    pub distro: Option<String>,
    /// `SERVER_HEADER`, when set; otherwise the application or the distribution decides.
    pub server_header: Option<String>,
    /// The status of the default page (`RESPONSE_CODE`, 200 when unset).
    pub status: StatusCode,
    /// `CUSTOM_BODY`: replaces the default page.
    pub custom_body: Option<String>,
    /// `EXTRA_HEADERS`, in the order given.
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
    pub app: FakeApp,
    pub versions: Versions,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let decky = env.decky().to_owned();
        Ok(Settings {
            seed: fnv1a(decky.as_bytes()),
            distro: env.get("HTTP_DISTRO").map(str::to_ascii_lowercase),
            server_header: env.get("SERVER_HEADER").map(server_header).transpose()?,
            status: env.get("RESPONSE_CODE").map(status).transpose()?.unwrap_or(StatusCode::OK),
            custom_body: env.get("CUSTOM_BODY").map(str::to_owned),
            extra_headers: env.get("EXTRA_HEADERS").map(extra_headers).transpose()?.unwrap_or_default(),
            app: env.get("FAKE_APP").map(fake_app).transpose()?.unwrap_or(FakeApp::None),
            versions: env.get("HTTP_VERSIONS").map(versions).transpose()?.unwrap_or_default(),
            decky,
        })
    }

    /// When the decky's web server was "installed": a stable moment in 2023–2024 that dates
    /// its default page and its certificate.
    pub fn installed(&self) -> SystemTime {
        // Day 19_400 since the epoch is 2023-02-12.
        epoch_plus(19_400 + self.number("installed-day", 420), self.number("installed-second", 86_400))
    }

    /// A stable choice among `options` for this decky; `purpose` keeps the choices for
    /// different things independent of each other.
    pub fn pick<T: Copy>(&self, purpose: &str, options: &[T]) -> T {
        let index = fnv1a_from(self.seed, purpose.as_bytes()) % options.len() as u64;
        options[index as usize]
    }

    /// A stable number below `bound` for this decky (see [`Settings::pick`]).
    pub fn number(&self, purpose: &str, bound: u64) -> u64 {
        fnv1a_from(self.seed, purpose.as_bytes()) % bound.max(1)
    }
}

use crate::persona::{fnv1a, fnv1a_continue as fnv1a_from};

fn server_header(value: &str) -> Result<String, ConfigError> {
    HeaderValue::from_str(value)
        .map(|_| value.to_owned())
        .map_err(|_| ConfigError::new("SERVER_HEADER", "contains characters a header cannot carry"))
}

/// A final status (a 1xx cannot end an exchange, so it cannot be the page's status).
fn status(value: &str) -> Result<StatusCode, ConfigError> {
    let invalid = || {
        ConfigError::new("RESPONSE_CODE", format!("expected an HTTP status from 200 to 599, got {value:?}"))
    };
    let code: u16 = value.trim().parse().map_err(|_| invalid())?;
    if !(200..=599).contains(&code) {
        return Err(invalid());
    }
    StatusCode::from_u16(code).map_err(|_| invalid())
}

fn fake_app(value: &str) -> Result<FakeApp, ConfigError> {
    let wanted = value.trim().to_ascii_lowercase();
    FakeApp::ALL.into_iter().find(|app| app.name() == wanted).ok_or_else(|| {
        let names: Vec<&str> = FakeApp::ALL.iter().map(|app| app.name()).collect();
        ConfigError::new("FAKE_APP", format!("expected one of {}, got {value:?}", names.join(", ")))
    })
}

/// Headers the server itself must control: they frame the message or the connection (and
/// HTTP/2 forbids the connection-specific ones).
const RESERVED_HEADERS: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
];

/// `EXTRA_HEADERS`: a JSON object of names to values (strings, numbers or booleans), or
/// `Name: value` lines.
fn extra_headers(text: &str) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
    let error = |message: String| ConfigError::new("EXTRA_HEADERS", message);
    let pairs: Vec<(String, String)> = if text.trim_start().starts_with('{') {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| error(format!("not a JSON object of header values: {e}")))?;
        object
            .into_iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(s) => Ok((name, s)),
                serde_json::Value::Number(n) => Ok((name, n.to_string())),
                serde_json::Value::Bool(b) => Ok((name, b.to_string())),
                other => Err(error(format!("the value of {name:?} must be a string, got {other}"))),
            })
            .collect::<Result<_, _>>()?
    } else {
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| match line.split_once(':') {
                Some((name, value)) => Ok((name.trim().to_owned(), value.trim().to_owned())),
                None => Err(error(format!("expected a JSON object or `Name: value` lines, got {line:?}"))),
            })
            .collect::<Result<_, _>>()?
    };
    pairs
        .into_iter()
        .map(|(name, value)| {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| error(format!("{name:?} is not a header name")))?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(error(format!("{name} is set by the server itself")));
            }
            let value = HeaderValue::from_str(&value).map_err(|_| {
                error(format!("the value of {name} contains characters a header cannot carry"))
            })?;
            Ok((header, value))
        })
        .collect()
}

/// `HTTP_VERSIONS`: a JSON list among `http/1.1`, `http/2`, `http/3`. HTTP/1.1 is always
/// served unless the list names HTTP/2 only; an empty list means the default.
fn versions(text: &str) -> Result<Versions, ConfigError> {
    let error = |message: String| ConfigError::new("HTTP_VERSIONS", message);
    let list: Vec<String> = serde_json::from_str(text).map_err(|_| {
        error(format!("expected a JSON list such as [\"http/1.1\", \"http/2\"], got {text:?}"))
    })?;
    if list.is_empty() {
        return Ok(Versions::default());
    }
    let mut versions = Versions { http1: false, http2: false, http3_requested: false };
    for entry in &list {
        match entry.trim().to_ascii_lowercase().as_str() {
            "http/1.1" | "http/1" => versions.http1 = true,
            "http/2" => versions.http2 = true,
            "http/3" => versions.http3_requested = true,
            other => {
                return Err(error(format!("unknown version {other:?}; expected http/1.1, http/2 or http/3")));
            }
        }
    }
    // Something must answer: a list of http/3 alone falls back to HTTP/1.1.
    versions.http1 |= !versions.http2;
    Ok(versions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults() {
        let s = settings(&[("NODE_NAME", "web-01")]).unwrap();
        assert_eq!(s.decky, "web-01");
        assert_eq!(s.status, StatusCode::OK);
        assert_eq!(s.app, FakeApp::None);
        assert_eq!(s.versions, Versions { http1: true, http2: false, http3_requested: false });
        assert!(s.server_header.is_none() && s.custom_body.is_none() && s.extra_headers.is_empty());
    }

    #[test]
    fn response_code() {
        assert_eq!(settings(&[("RESPONSE_CODE", "403")]).unwrap().status, StatusCode::FORBIDDEN);
        for bad in ["abc", "99", "100", "600", "2000", "-1"] {
            let error = settings(&[("RESPONSE_CODE", bad)]).unwrap_err();
            assert_eq!(error.var, "RESPONSE_CODE", "{bad}");
        }
    }

    #[test]
    fn fake_apps() {
        for app in FakeApp::ALL {
            assert_eq!(settings(&[("FAKE_APP", app.name())]).unwrap().app, app);
        }
        assert_eq!(settings(&[("FAKE_APP", "Jenkins")]).unwrap().app, FakeApp::Jenkins);
        assert_eq!(settings(&[("FAKE_APP", "drupal")]).unwrap_err().var, "FAKE_APP");
    }

    #[test]
    fn extra_headers_as_json_or_lines() {
        let json =
            settings(&[("EXTRA_HEADERS", r#"{"X-Powered-By": "PHP/7.4", "X-Count": 3, "X-On": true}"#)])
                .unwrap()
                .extra_headers;
        let rendered: Vec<(&str, &str)> =
            json.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
        assert_eq!(rendered, [("x-powered-by", "PHP/7.4"), ("x-count", "3"), ("x-on", "true")]);

        let lines =
            settings(&[("EXTRA_HEADERS", "X-A: 1\r\n\nSet-Cookie: a=b; Path=/\n")]).unwrap().extra_headers;
        let rendered: Vec<(&str, &str)> =
            lines.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
        assert_eq!(rendered, [("x-a", "1"), ("set-cookie", "a=b; Path=/")]);

        for bad in [
            "{not json",
            r#"{"X-A": {"nested": 1}}"#,
            r#"{"Bad Name": "x"}"#,
            r#"{"X-A": "line\nbreak"}"#,
            "no colon here",
            "Content-Length: 5",
            "Transfer-Encoding: chunked",
        ] {
            let error = settings(&[("EXTRA_HEADERS", bad)]).unwrap_err();
            assert_eq!(error.var, "EXTRA_HEADERS", "{bad}");
        }
    }

    #[test]
    fn http_versions() {
        let v = |text: &str| settings(&[("HTTP_VERSIONS", text)]).map(|s| s.versions);
        assert_eq!(
            v(r#"["http/1.1"]"#).unwrap(),
            Versions { http1: true, http2: false, http3_requested: false }
        );
        assert_eq!(
            v(r#"["http/1.1","http/2"]"#).unwrap(),
            Versions { http1: true, http2: true, http3_requested: false }
        );
        assert_eq!(
            v(r#"["http/2"]"#).unwrap(),
            Versions { http1: false, http2: true, http3_requested: false }
        );
        assert_eq!(
            v(r#"["http/3"]"#).unwrap(),
            Versions { http1: true, http2: false, http3_requested: true }
        );
        assert_eq!(v("[]").unwrap(), Versions::default());
        assert_eq!(v(r#"["http/1.1","spdy"]"#).unwrap_err().var, "HTTP_VERSIONS");
        assert_eq!(v("http/1.1").unwrap_err().var, "HTTP_VERSIONS");
    }

    #[test]
    fn server_header_must_be_a_header_value() {
        assert_eq!(settings(&[("SERVER_HEADER", "nginx")]).unwrap().server_header.as_deref(), Some("nginx"));
        assert_eq!(settings(&[("SERVER_HEADER", "a\nb")]).unwrap_err().var, "SERVER_HEADER");
    }

    #[test]
    fn per_decky_choices_are_stable_and_differ_between_deckies() {
        let options: Vec<u32> = (0..1000).collect();
        let a = settings(&[("NODE_NAME", "web-01")]).unwrap();
        let b = settings(&[("NODE_NAME", "web-02")]).unwrap();
        assert_eq!(a.pick("x", &options), settings(&[("NODE_NAME", "web-01")]).unwrap().pick("x", &options));
        assert_ne!(a.pick("x", &options), b.pick("x", &options));
        assert_ne!(a.pick("x", &options), a.pick("y", &options));
        assert!(a.number("n", 10) < 10);
    }
}
