//! Events and their wire form: one JSON object per line (schema in the crate docs and
//! `EVENTS.md`), written by hand so the static binary needs no serialisation library.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ports::Transport;

/// The `v` field of every event. Bumped only for a change that breaks readers; new fields
/// may be added within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// How many leading bytes of a connection or datagram the `preview` field shows.
pub const PREVIEW_BYTES: usize = 128;

/// Why a TCP connection ended (the `reason` of a `disconnect` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The client closed its side.
    Eof,
    /// The client sent nothing for the idle timeout, or the session reached its time limit.
    Timeout,
    /// The client sent more than the sensor reads from one connection.
    Limit,
    /// Too many connections were open; this one was closed at once.
    Busy,
    /// Reading failed (typically a reset by the client).
    Error,
    /// The emulator ended the session, as the real server would (QUIT, too many failed
    /// logins, a finished HTTP exchange).
    Closed,
}

impl EndReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            EndReason::Eof => "eof",
            EndReason::Timeout => "timeout",
            EndReason::Limit => "limit",
            EndReason::Busy => "busy",
            EndReason::Error => "error",
            EndReason::Closed => "closed",
        }
    }
}

/// What happened, with the fields only that kind has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A port is bound and being served.
    Listening { bind: SocketAddr },
    /// A TCP client connected.
    Connect,
    /// A TCP connection ended.
    Disconnect { bytes_in: u64, duration_ms: u64, preview: &'a [u8], reason: EndReason },
    /// One UDP datagram arrived.
    Datagram { bytes: usize, preview: &'a [u8] },
    /// Something failed on a port (binding, accepting, receiving).
    Error { message: &'a str },
    /// What a protocol emulator understood: a login attempt (`auth`), a shell `command`, an
    /// HTTP `request`, ... `name` is the kind; `fields` follow the common ones in order.
    Protocol { name: &'static str, fields: Fields },
}

impl Kind<'_> {
    pub const fn name(&self) -> &'static str {
        match self {
            Kind::Listening { .. } => "listening",
            Kind::Connect => "connect",
            Kind::Disconnect { .. } => "disconnect",
            Kind::Datagram { .. } => "datagram",
            Kind::Error { .. } => "error",
            Kind::Protocol { name, .. } => name,
        }
    }
}

/// One event on one port. `src` is the peer (absent for `listening` and most errors);
/// `conn` ties a connection's events together (TCP only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub transport: Transport,
    pub src: Option<SocketAddr>,
    pub dst_port: u16,
    pub conn: Option<u64>,
    pub kind: Kind<'a>,
}

impl Event<'_> {
    /// The event as one line of JSON (without the newline).
    pub fn to_json(&self, ts: SystemTime, decky: &str, service: &str) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        let mut obj = Obj { out: &mut out, first: true };
        obj.num("v", SCHEMA_VERSION.into());
        obj.str("ts", &rfc3339_millis(ts));
        obj.str("decky", decky);
        obj.str("service", service);
        obj.str("kind", self.kind.name());
        obj.str("transport", self.transport.as_str());
        if let Some(src) = self.src {
            obj.str("src_ip", &src.ip().to_canonical().to_string());
            obj.num("src_port", src.port().into());
        }
        obj.num("dst_port", self.dst_port.into());
        if let Some(conn) = self.conn {
            obj.num("conn", conn);
        }
        match &self.kind {
            Kind::Listening { bind } => obj.str("bind", &bind.to_string()),
            Kind::Connect => {}
            Kind::Disconnect { bytes_in, duration_ms, preview: head, reason } => {
                obj.num("bytes_in", *bytes_in);
                obj.num("duration_ms", *duration_ms);
                obj.str("preview", &preview(head));
                obj.str("reason", reason.as_str());
            }
            Kind::Datagram { bytes, preview: head } => {
                obj.num("bytes", *bytes as u64);
                obj.str("preview", &preview(head));
            }
            Kind::Error { message } => obj.str("message", message),
            Kind::Protocol { fields, .. } => {
                for (key, value) in &fields.0 {
                    obj.key(key);
                    obj.out.push_str(&value.to_string());
                }
            }
        }
        out.push('}');
        out
    }
}

/// The fields of a protocol event, in the order they are added. Captured bytes go through
/// [`Fields::bytes`], which keeps them exact and readable at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(serde_json::Map<String, serde_json::Value>);

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), serde_json::Value::String(value.into()));
        self
    }

    pub fn num(mut self, key: &str, value: u64) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    pub fn flag(mut self, key: &str, value: bool) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// Any JSON value (lists of headers, nested objects).
    pub fn value(mut self, key: &str, value: serde_json::Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }

    /// Captured bytes (a password, a key blob, a command line): as text under `key` when
    /// they are UTF-8; otherwise `key` holds the [`preview`]-escaped form of all of them and
    /// `<key>_hex` the exact bytes in lowercase hex.
    pub fn bytes(mut self, key: &str, value: &[u8]) -> Self {
        match std::str::from_utf8(value) {
            Ok(text) => self.0.insert(key.into(), text.into()),
            Err(_) => {
                self.0.insert(key.into(), escape(value).into());
                self.0.insert(format!("{key}_hex"), hex(value).into())
            }
        };
        self
    }

    /// These fields, then `other`'s (a key in both keeps its place and takes `other`'s value).
    pub fn merge(mut self, other: Fields) -> Self {
        self.0.extend(other.0);
        self
    }

    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.get(key)
    }
}

/// `bytes` in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl Obj<'_> {
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_str(self.out, key);
        self.out.push(':');
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_str(self.out, value);
    }

    fn num(&mut self, key: &str, value: u64) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }
}

/// Appends `s` as a JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Cuts `text` to at most `max` bytes on a character boundary, and marks the cut with
/// `...` (so a cut text is at most `max + 3` bytes).
pub fn cut_text(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
}

/// A printable, unambiguous rendering of the first [`PREVIEW_BYTES`] of `bytes`: printable
/// ASCII as is, `\\` for a backslash, `\r` `\n` `\t`, and `\xNN` for every other byte. The
/// result is pure ASCII, so it survives any log pipeline, and decodes back to the bytes.
pub fn preview(bytes: &[u8]) -> String {
    escape(&bytes[..bytes.len().min(PREVIEW_BYTES)])
}

/// All of `bytes` escaped as in [`preview`].
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// `t` as RFC 3339 in UTC with milliseconds: `2024-05-01T12:34:56.789Z`. Times before the
/// Unix epoch (a clock that is badly wrong) are written as the epoch.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let since_epoch = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// (year, month 1-12, day 1-31) of the day `days` after 1970-01-01 in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis)
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(at(951_782_400, 7)), "2000-02-29T00:00:00.007Z");
        assert_eq!(rfc3339_millis(at(1_709_251_199, 999)), "2024-02-29T23:59:59.999Z");
        assert_eq!(rfc3339_millis(at(1_714_566_896, 789)), "2024-05-01T12:34:56.789Z");
        assert_eq!(rfc3339_millis(at(4_102_444_799, 0)), "2099-12-31T23:59:59.000Z");
        assert_eq!(rfc3339_millis(at(4_107_542_400, 0)), "2100-03-01T00:00:00.000Z");
        // Sub-millisecond parts are truncated, never rounded up into the next second.
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH + Duration::from_nanos(59_999_999_999)),
            "1970-01-01T00:00:59.999Z"
        );
        assert_eq!(rfc3339_millis(UNIX_EPOCH - Duration::from_secs(5)), "1970-01-01T00:00:00.000Z");
    }

    /// Walks day by day from 1970 to 2400 and checks the calendar never skips or repeats.
    #[test]
    fn civil_from_days_is_a_calendar() {
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_len = |y: i64, m: u32| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut expected = (1970i64, 1u32, 1u32);
        for days in 0..(430 * 366) {
            let got = civil_from_days(days);
            assert_eq!(got, expected, "day {days}");
            let (y, m, d) = expected;
            expected = if d < month_len(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn preview_escapes_everything_unprintable() {
        assert_eq!(preview(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n");
        assert_eq!(preview(b"a\\b\t\"c\""), "a\\\\b\\t\"c\"");
        assert_eq!(preview(&[0x00, 0x1b, 0x7f, 0x80, 0xff, b'~', b' ']), "\\x00\\x1b\\x7f\\x80\\xff~ ");
        assert_eq!(preview("é".as_bytes()), "\\xc3\\xa9");
        assert_eq!(preview(b""), "");
        let long = vec![b'A'; PREVIEW_BYTES * 3];
        assert_eq!(preview(&long).len(), PREVIEW_BYTES);
    }

    #[test]
    fn cut_texts_end_on_a_character() {
        let mut text = "abcé".to_owned();
        cut_text(&mut text, 4);
        assert_eq!(text, "abc...");
        let mut short = "abc".to_owned();
        cut_text(&mut short, 3);
        assert_eq!(short, "abc");
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}e\u{7f}f é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001e\u007ff é""#);
        let parsed: String = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}e\u{7f}f é");
    }

    fn parse(event: &Event) -> Value {
        let line = event.to_json(at(1_714_566_896, 789), "web-01", "redis");
        assert!(!line.contains('\n'));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn src() -> Option<SocketAddr> {
        Some("10.0.0.9:40000".parse().unwrap())
    }

    #[test]
    fn connect_event() {
        let event = Event {
            transport: Transport::Tcp,
            src: src(),
            dst_port: 6379,
            conn: Some(3),
            kind: Kind::Connect,
        };
        let line = event.to_json(at(1_714_566_896, 789), "web-01", "redis");
        assert_eq!(
            line,
            r#"{"v":1,"ts":"2024-05-01T12:34:56.789Z","decky":"web-01","service":"redis","kind":"connect","transport":"tcp","src_ip":"10.0.0.9","src_port":40000,"dst_port":6379,"conn":3}"#
        );
    }

    #[test]
    fn disconnect_event() {
        let event = Event {
            transport: Transport::Tcp,
            src: src(),
            dst_port: 6379,
            conn: Some(3),
            kind: Kind::Disconnect {
                bytes_in: 14,
                duration_ms: 1500,
                preview: b"PING\r\n\"\\\x00",
                reason: EndReason::Eof,
            },
        };
        let v = parse(&event);
        assert_eq!(v["kind"], "disconnect");
        assert_eq!(v["bytes_in"], 14);
        assert_eq!(v["duration_ms"], 1500);
        assert_eq!(v["preview"], "PING\\r\\n\"\\\\\\x00");
        assert_eq!(v["reason"], "eof");
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "v",
                "ts",
                "decky",
                "service",
                "kind",
                "transport",
                "src_ip",
                "src_port",
                "dst_port",
                "conn",
                "bytes_in",
                "duration_ms",
                "preview",
                "reason"
            ]
        );
    }

    #[test]
    fn datagram_event() {
        let event = Event {
            transport: Transport::Udp,
            src: src(),
            dst_port: 161,
            conn: None,
            kind: Kind::Datagram { bytes: 3, preview: &[0x30, 0x82, b'a'] },
        };
        let v = parse(&event);
        assert_eq!(
            v,
            json!({"v":1,"ts":"2024-05-01T12:34:56.789Z","decky":"web-01","service":"redis",
                "kind":"datagram","transport":"udp","src_ip":"10.0.0.9","src_port":40000,
                "dst_port":161,"bytes":3,"preview":"0\\x82a"})
        );
    }

    #[test]
    fn listening_and_error_events_have_no_source() {
        let bind = "0.0.0.0:6379".parse().unwrap();
        let v = parse(&Event {
            transport: Transport::Tcp,
            src: None,
            dst_port: 6379,
            conn: None,
            kind: Kind::Listening { bind },
        });
        assert_eq!(v["kind"], "listening");
        assert_eq!(v["bind"], "0.0.0.0:6379");
        assert!(v.get("src_ip").is_none() && v.get("src_port").is_none() && v.get("conn").is_none());

        let v = parse(&Event {
            transport: Transport::Udp,
            src: None,
            dst_port: 161,
            conn: None,
            kind: Kind::Error { message: "bind: \"denied\"\n" },
        });
        assert_eq!(v["kind"], "error");
        assert_eq!(v["message"], "bind: \"denied\"\n");
    }

    #[test]
    fn mapped_ipv6_sources_are_written_as_ipv4() {
        let src = Some("[::ffff:10.1.2.3]:5000".parse().unwrap());
        let v = parse(&Event {
            transport: Transport::Tcp,
            src,
            dst_port: 22,
            conn: Some(1),
            kind: Kind::Connect,
        });
        assert_eq!(v["src_ip"], "10.1.2.3");
    }

    #[test]
    fn protocol_events_follow_the_common_fields_in_order() {
        let fields = Fields::new().text("username", "root").bytes("password", b"toor").num("attempt", 2);
        let event = Event {
            transport: Transport::Tcp,
            src: src(),
            dst_port: 22,
            conn: Some(7),
            kind: Kind::Protocol { name: "auth", fields },
        };
        let line = event.to_json(at(1_714_566_896, 789), "web-01", "ssh");
        assert_eq!(
            line,
            r#"{"v":1,"ts":"2024-05-01T12:34:56.789Z","decky":"web-01","service":"ssh","kind":"auth","transport":"tcp","src_ip":"10.0.0.9","src_port":40000,"dst_port":22,"conn":7,"username":"root","password":"toor","attempt":2}"#
        );
    }

    #[test]
    fn captured_bytes_are_text_when_utf8_and_escaped_plus_hex_otherwise() {
        let text = Fields::new().bytes("password", "pässwörd\n\"".as_bytes());
        assert_eq!(text.get("password"), Some(&json!("pässwörd\n\"")));
        assert_eq!(text.get("password_hex"), None);

        let binary = Fields::new().bytes("auth_response", &[0x00, b'a', 0xff, b'\\']);
        assert_eq!(binary.get("auth_response"), Some(&json!("\\x00a\\xff\\\\")));
        assert_eq!(binary.get("auth_response_hex"), Some(&json!("0061ff5c")));
    }

    #[test]
    fn hostile_decky_names_stay_one_line_of_valid_json() {
        let event =
            Event { transport: Transport::Tcp, src: src(), dst_port: 22, conn: None, kind: Kind::Connect };
        let line = event.to_json(UNIX_EPOCH, "x\"}\n{\"kind\":\"forged", "ssh");
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["kind"], "connect");
        assert_eq!(v["decky"], "x\"}\n{\"kind\":\"forged");
    }
}
