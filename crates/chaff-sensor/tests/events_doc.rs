//! Every example line in EVENTS.md is exactly what the sensor writes for that event.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chaff_sensor::event::{EndReason, Event, Fields, Kind};
use chaff_sensor::ports::Transport;
use serde_json::Value;

/// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` (days_from_civil, the inverse of the sensor's).
fn parse_ts(ts: &str) -> SystemTime {
    let n = |range: std::ops::Range<usize>| ts[range].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    UNIX_EPOCH + Duration::from_millis(secs as u64 * 1000 + n(20..23) as u64)
}

/// The bytes a `preview` stands for.
fn unescape(preview: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = preview.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c as u8);
            continue;
        }
        match chars.next().unwrap() {
            '\\' => out.push(b'\\'),
            'r' => out.push(b'\r'),
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            other => panic!("bad escape \\{other}"),
        }
    }
    out
}

/// The fields common to every event; the rest of a protocol event's fields are its own.
const COMMON: [&str; 10] =
    ["v", "ts", "decky", "service", "kind", "transport", "src_ip", "src_port", "dst_port", "conn"];

fn kind_of(line: &str) -> &str {
    let start = line.find(r#""kind":""#).map(|i| i + 8).unwrap_or_else(|| panic!("no kind: {line}"));
    &line[start..start + line[start..].find('"').unwrap()]
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn protocol_fields(v: &Value) -> Fields {
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !COMMON.contains(&k.as_str()))
        .fold(Fields::new(), |fields, (k, value)| fields.value(k, value.clone()))
}

#[test]
fn examples_in_events_md_are_what_the_sensor_writes() {
    let doc = include_str!("../EVENTS.md");
    let mut examples = Vec::new();
    let mut in_block = false;
    for line in doc.lines() {
        match line {
            "```json" => in_block = true,
            "```" => in_block = false,
            l if in_block => examples.push(l),
            _ => {}
        }
    }
    let mut kinds: Vec<&str> = examples.iter().map(|l| kind_of(l)).collect();
    kinds.sort();
    kinds.dedup();
    assert!(kinds.len() >= 5, "one example per framework kind at least: {kinds:?}");

    for line in examples {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let transport = if v["transport"] == "tcp" { Transport::Tcp } else { Transport::Udp };
        let src = v
            .get("src_ip")
            .map(|ip| format!("{}:{}", ip.as_str().unwrap(), v["src_port"]).parse::<SocketAddr>().unwrap());
        let preview = v.get("preview").map(|p| unescape(p.as_str().unwrap())).unwrap_or_default();
        let u = |key: &str| v[key].as_u64().unwrap();
        let kind = match v["kind"].as_str().unwrap() {
            "listening" => Kind::Listening { bind: v["bind"].as_str().unwrap().parse().unwrap() },
            "connect" => Kind::Connect,
            "disconnect" => Kind::Disconnect {
                bytes_in: u("bytes_in"),
                duration_ms: u("duration_ms"),
                preview: &preview,
                reason: match v["reason"].as_str().unwrap() {
                    "eof" => EndReason::Eof,
                    "timeout" => EndReason::Timeout,
                    "limit" => EndReason::Limit,
                    "busy" => EndReason::Busy,
                    "closed" => EndReason::Closed,
                    _ => EndReason::Error,
                },
            },
            "datagram" => Kind::Datagram { bytes: u("bytes") as usize, preview: &preview },
            "error" => Kind::Error { message: v["message"].as_str().unwrap() },
            protocol => Kind::Protocol { name: leak(protocol), fields: protocol_fields(&v) },
        };
        let event = Event {
            transport,
            src,
            dst_port: u("dst_port") as u16,
            conn: v.get("conn").map(|c| c.as_u64().unwrap()),
            kind,
        };
        let written = event.to_json(
            parse_ts(v["ts"].as_str().unwrap()),
            v["decky"].as_str().unwrap(),
            v["service"].as_str().unwrap(),
        );
        assert_eq!(written, line);
    }
}
