//! `snmp` on 161/udp: an SNMP v1/v2c agent serving the system group (RFC 3418) and ifNumber.
//!
//! Requests (GET, GETNEXT, GETBULK, SET, ...) are parsed from BER with bounds on every length
//! and count, and recorded as `request` with the community, version, PDU type and OIDs. Only
//! requests with the read community (`SNMP_COMMUNITY`, default `public`) are answered; a wrong
//! community gets silence, as from Net-SNMP (which counts it in snmpInBadCommunityNames and
//! says nothing). SNMPv3 messages are recorded (version only) and not answered.
//!
//! The system group follows the decky's persona: `SNMP_ARCHETYPE` `printer` is an HP
//! JetDirect, `router` / `switch` a Cisco IOS device, `industrial-control` a Siemens S7-200
//! PLC (as conpot's agent), `SNMP_OS_FAMILY` `windows` a Windows Server, anything else
//! Net-SNMP on Linux with a kernel that fits `SNMP_DISTRO`. sysName is
//! the decky; sysUpTime starts at a value stable per decky and runs from the sensor's start.

use std::net::SocketAddr;
use std::time::Instant;

use super::ber::{
    TAG_INTEGER, TAG_NULL, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, expect, integer, oid, read_integer,
    read_tlv, tlv,
};
use crate::env::{ConfigError, Env};
use crate::event::{Event, Fields, Kind};
use crate::persona::decky_rng;
use crate::ports::Transport;
use crate::recorder::Recorder;

/// The catalogue port, reported as `dst_port` of protocol events.
const PORT: u16 = 161;

/// Most variable bindings read from one request, most arcs in one OID, most repetitions of
/// one GETBULK, and most bindings in one response: a request cannot make the agent build an
/// unbounded answer.
const MAX_VARBINDS: usize = 64;
const MAX_OID_ARCS: usize = 128;
const MAX_REPETITIONS: usize = 32;

const TAG_TIMETICKS: u8 = 0x43;
const TAG_NO_SUCH_OBJECT: u8 = 0x80;
const TAG_END_OF_MIB_VIEW: u8 = 0x82;

const PDU_GET: u8 = 0xa0;
const PDU_GETNEXT: u8 = 0xa1;
const PDU_RESPONSE: u8 = 0xa2;
const PDU_SET: u8 = 0xa3;
const PDU_GETBULK: u8 = 0xa5;

const ERROR_NO_SUCH_NAME: i64 = 2;
const ERROR_NOT_WRITABLE: i64 = 17;

/// The version field of v1, v2c and v3 messages.
const VERSION_1: i64 = 0;
const VERSION_2C: i64 = 1;
const VERSION_3: i64 = 3;

/// The system group's prefix, 1.3.6.1.2.1.1.
const SYSTEM: [u32; 7] = [1, 3, 6, 1, 2, 1, 1];

/// A value of the MIB.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Text(String),
    Oid(Vec<u32>),
    Integer(i64),
    /// sysUpTime and sysORLastChange: hundredths of a second since the agent started.
    Ticks(u32),
    /// sysUpTime: computed when asked.
    UpTime,
}

/// One object of the MIB.
struct Object {
    oid: Vec<u32>,
    value: Value,
}

/// The agent, as configured at start-up.
pub struct Snmp {
    community: Vec<u8>,
    /// Sorted by OID, so GETNEXT is the first one after the requested OID.
    mib: Vec<Object>,
    /// Hundredths of a second the decky claims it had been up when the sensor started.
    uptime_base: u32,
    started: Instant,
}

/// A request, as parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub version: i64,
    pub community: &'a [u8],
    pub pdu: u8,
    pub request_id: i64,
    /// error-status / non-repeaters and error-index / max-repetitions.
    pub field2: i64,
    pub field3: i64,
    pub oids: Vec<Vec<u32>>,
}

impl Snmp {
    pub fn from_env(env: &Env) -> Result<Snmp, ConfigError> {
        let decky = env.decky();
        let persona = persona(
            decky,
            env.get("SNMP_ARCHETYPE"),
            env.get_or("SNMP_OS_FAMILY", "linux"),
            env.get_or("SNMP_DISTRO", "debian"),
        );
        let mut rng = decky_rng(decky, "snmp-system");
        let contact = ["root", "admin@localhost", "IT Support <it-support@localhost>", "netops"];
        let location = ["Server Room", "Rack 3, Row B", "Datacenter 1", "Main Office, 2nd floor"];
        let system = |leaf: u32| {
            let mut oid = SYSTEM.to_vec();
            oid.extend([leaf, 0]);
            oid
        };
        let uptime_base = rng.u32(3 * 8_640_000..120 * 8_640_000);
        let mib = vec![
            Object { oid: system(1), value: Value::Text(persona.descr) },
            Object { oid: system(2), value: Value::Oid(persona.object_id) },
            Object { oid: system(3), value: Value::UpTime },
            Object { oid: system(4), value: Value::Text(contact[rng.usize(..contact.len())].to_owned()) },
            Object { oid: system(5), value: Value::Text(decky.to_owned()) },
            Object { oid: system(6), value: Value::Text(location[rng.usize(..location.len())].to_owned()) },
            Object { oid: system(7), value: Value::Integer(persona.services) },
            Object { oid: system(8), value: Value::Ticks(rng.u32(0..200)) },
            // ifNumber (IF-MIB), so that a walk of the system group ends at the next group
            // as on a real agent, not at the end of the MIB.
            Object { oid: vec![1, 3, 6, 1, 2, 1, 2, 1, 0], value: Value::Integer(2) },
        ];
        Ok(Snmp {
            community: env.get_or("SNMP_COMMUNITY", "public").as_bytes().to_vec(),
            mib,
            uptime_base,
            started: Instant::now(),
        })
    }

    /// Records the request; answers it if it carries the community.
    pub fn answer(&self, datagram: &[u8], peer: SocketAddr, recorder: &Recorder) -> Option<Vec<u8>> {
        let version = message_version(datagram)?;
        let request = if version == VERSION_3 { None } else { parse_request(datagram) };
        let fields = match &request {
            Some(request) => request_fields(request),
            None => Fields::new().text("version", version_name(version)),
        };
        recorder.record(&Event {
            transport: Transport::Udp,
            src: Some(peer),
            dst_port: PORT,
            conn: None,
            kind: Kind::Protocol { name: "request", fields },
        });
        // Like Net-SNMP, unknown versions and wrong communities get silence.
        let request = request.filter(|r| matches!(r.version, VERSION_1 | VERSION_2C))?;
        (request.community == self.community).then(|| self.respond(&request)).flatten()
    }

    /// The response to an authorised request; `None` for PDUs an agent does not answer.
    fn respond(&self, request: &Request<'_>) -> Option<Vec<u8>> {
        let v1 = request.version == VERSION_1;
        let mut error = (0, 0);
        let mut bindings: Vec<(Vec<u32>, Binding)> = Vec::with_capacity(request.oids.len());
        match request.pdu {
            PDU_GET | PDU_GETNEXT => {
                for (i, oid) in request.oids.iter().enumerate() {
                    let found = if request.pdu == PDU_GET { self.get(oid) } else { self.next(oid) };
                    match found {
                        Some((oid, value)) => bindings.push((oid.clone(), Binding::Value(value))),
                        None if v1 => {
                            error = (ERROR_NO_SUCH_NAME, i as i64 + 1);
                            break;
                        }
                        None if request.pdu == PDU_GET => bindings.push((oid.clone(), Binding::NoSuchObject)),
                        None => bindings.push((oid.clone(), Binding::EndOfMibView)),
                    }
                }
            }
            PDU_GETBULK if !v1 => bindings = self.bulk(request),
            PDU_SET => error = (if v1 { ERROR_NO_SUCH_NAME } else { ERROR_NOT_WRITABLE }, 1),
            _ => return None,
        }
        if error.0 != 0 {
            // An error response echoes the request's bindings.
            bindings = request.oids.iter().map(|oid| (oid.clone(), Binding::Null)).collect();
        }
        Some(encode_response(request, error, &bindings))
    }

    fn get(&self, oid: &[u32]) -> Option<(&Vec<u32>, Value)> {
        self.mib.iter().find(|o| o.oid == oid).map(|o| (&o.oid, self.value(&o.value)))
    }

    fn next(&self, oid: &[u32]) -> Option<(&Vec<u32>, Value)> {
        self.mib.iter().find(|o| o.oid.as_slice() > oid).map(|o| (&o.oid, self.value(&o.value)))
    }

    /// GETBULK (RFC 3416 §4.2.3): the first `non-repeaters` OIDs once, then the others
    /// `max-repetitions` times, each from where the last left off.
    fn bulk(&self, request: &Request<'_>) -> Vec<(Vec<u32>, Binding)> {
        let non_repeaters = usize::try_from(request.field2).unwrap_or(0).min(request.oids.len());
        let repetitions = usize::try_from(request.field3).unwrap_or(0).min(MAX_REPETITIONS);
        let mut out = Vec::new();
        let step = |oid: &[u32], out: &mut Vec<(Vec<u32>, Binding)>| match self.next(oid) {
            Some((next, value)) => {
                out.push((next.clone(), Binding::Value(value)));
                next.clone()
            }
            None => {
                out.push((oid.to_vec(), Binding::EndOfMibView));
                oid.to_vec()
            }
        };
        for oid in &request.oids[..non_repeaters] {
            step(oid, &mut out);
        }
        let mut cursors: Vec<Vec<u32>> = request.oids[non_repeaters..].to_vec();
        for _ in 0..repetitions {
            if cursors.is_empty() || out.len() + cursors.len() > MAX_VARBINDS {
                break;
            }
            for cursor in &mut cursors {
                *cursor = step(cursor, &mut out);
            }
            if out.iter().rev().take(cursors.len()).all(|(_, b)| *b == Binding::EndOfMibView) {
                break;
            }
        }
        out
    }

    fn value(&self, value: &Value) -> Value {
        match value {
            Value::UpTime => {
                let elapsed = u32::try_from(self.started.elapsed().as_millis() / 10).unwrap_or(u32::MAX);
                Value::Ticks(self.uptime_base.wrapping_add(elapsed))
            }
            other => other.clone(),
        }
    }
}

/// What the response binds to one OID.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Binding {
    Value(Value),
    Null,
    NoSuchObject,
    EndOfMibView,
}

/// What the system group says about the device.
struct Persona {
    descr: String,
    object_id: Vec<u32>,
    /// sysServices: the OSI layers served, as a bit mask.
    services: i64,
}

fn persona(decky: &str, archetype: Option<&str>, os_family: &str, distro: &str) -> Persona {
    let mut rng = decky_rng(decky, "snmp-persona");
    match (archetype, os_family) {
        (Some("printer"), _) => Persona {
            descr: format!(
                "HP ETHERNET MULTI-ENVIRONMENT,ROM none,JETDIRECT,JD153,EEPROM JSI2{}0{:03},CIDATE 0{}/1{}/2021",
                rng.u8(1..=9),
                rng.u16(0..1000),
                rng.u8(1..=9),
                rng.u8(0..=9)
            ),
            object_id: vec![1, 3, 6, 1, 4, 1, 11, 2, 3, 9, 1],
            services: 72,
        },
        // Conpot's default template: a Siemens S7-200 PLC, under Siemens' enterprise number.
        (Some("industrial-control"), _) => Persona {
            descr: "Siemens, SIMATIC, S7-200".to_owned(),
            object_id: vec![1, 3, 6, 1, 4, 1, 4329, 20, 1, 1, 1],
            services: 72,
        },
        (Some("router" | "switch"), _) => Persona {
            descr: "Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M5, RELEASE \
                    SOFTWARE (fc1)\r\nTechnical Support: http://www.cisco.com/techsupport\r\nCopyright (c) \
                    1986-2019 by Cisco Systems, Inc.\r\nCompiled Fri 01-Feb-19 04:30 by prod_rel_team"
                .to_owned(),
            object_id: vec![1, 3, 6, 1, 4, 1, 9, 1, 1041],
            services: 78,
        },
        (_, "windows") => Persona {
            descr: "Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE - Software: Windows \
                    Version 6.3 (Build 17763 Multiprocessor Free)"
                .to_owned(),
            object_id: vec![1, 3, 6, 1, 4, 1, 311, 1, 1, 3, 1, 2],
            services: 76,
        },
        _ => Persona {
            descr: format!("Linux {decky} {}", linux_kernel(distro, os_family, &mut rng)),
            object_id: vec![1, 3, 6, 1, 4, 1, 8072, 3, 2, 10],
            services: 72,
        },
    }
}

/// A `uname -rvm` that fits the distribution.
fn linux_kernel(distro: &str, os_family: &str, rng: &mut fastrand::Rng) -> String {
    if os_family == "embedded" {
        return format!("4.14.{} #1 SMP PREEMPT armv7l", rng.u16(100..300));
    }
    match distro {
        d if d.starts_with("ubuntu") => {
            let abi = rng.u16(80..120);
            format!("5.15.0-{abi}-generic #{}-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023 x86_64", abi + 10)
        }
        d if d.starts_with("rocky") || d.starts_with("centos") || d.starts_with("alma") => format!(
            "5.14.0-362.{}.1.el9_3.x86_64 #1 SMP PREEMPT_DYNAMIC Wed Mar 13 11:24:35 UTC 2024 x86_64",
            rng.u8(8..25)
        ),
        d if d.starts_with("alpine") => {
            format!("6.6.{}-0-lts #1-Alpine SMP PREEMPT_DYNAMIC 2024-03-04 x86_64", rng.u8(14..30))
        }
        _ => format!(
            "6.1.0-{}-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64",
            rng.u8(13..22)
        ),
    }
}

fn version_name(version: i64) -> String {
    match version {
        VERSION_1 => "1".to_owned(),
        VERSION_2C => "2c".to_owned(),
        VERSION_3 => "3".to_owned(),
        other => other.to_string(),
    }
}

fn pdu_name(pdu: u8) -> String {
    match pdu {
        PDU_GET => "get".to_owned(),
        PDU_GETNEXT => "getnext".to_owned(),
        PDU_RESPONSE => "response".to_owned(),
        PDU_SET => "set".to_owned(),
        0xa4 => "trap".to_owned(),
        PDU_GETBULK => "getbulk".to_owned(),
        0xa6 => "inform".to_owned(),
        0xa7 => "trapv2".to_owned(),
        0xa8 => "report".to_owned(),
        other => format!("0x{other:02x}"),
    }
}

fn request_fields(request: &Request<'_>) -> Fields {
    let oids: Vec<serde_json::Value> = request.oids.iter().map(|oid| oid_text(oid).into()).collect();
    Fields::new()
        .text("version", version_name(request.version))
        .bytes("community", request.community)
        .text("pdu", pdu_name(request.pdu))
        .value("request_id", request.request_id.into())
        .value("oids", oids.into())
}

/// Dotted form, `1.3.6.1.2.1.1.1.0`.
pub fn oid_text(oid: &[u32]) -> String {
    oid.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// Decodes an OID's content; `None` if malformed or longer than [`MAX_OID_ARCS`].
pub fn read_oid(content: &[u8]) -> Option<Vec<u32>> {
    let mut arcs = Vec::new();
    let mut value: u32 = 0;
    for &b in content {
        value = value.checked_mul(128)? | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.extend([first, value - first * 40]);
            } else {
                arcs.push(value);
            }
            if arcs.len() > MAX_OID_ARCS {
                return None;
            }
            value = 0;
        }
    }
    (content.last().is_some_and(|b| b & 0x80 == 0)).then_some(arcs)
}

/// The version of any SNMP message: the first INTEGER of the outer SEQUENCE.
fn message_version(datagram: &[u8]) -> Option<i64> {
    let (message, _) = expect(datagram, TAG_SEQUENCE)?;
    let (version, _) = expect(message, TAG_INTEGER)?;
    read_integer(version)
}

/// Parses a v1/v2c message.
pub fn parse_request(datagram: &[u8]) -> Option<Request<'_>> {
    let (message, _) = expect(datagram, TAG_SEQUENCE)?;
    let (version, rest) = expect(message, TAG_INTEGER)?;
    let (community, rest) = expect(rest, TAG_OCTET_STRING)?;
    let (pdu, pdu_content, _) = read_tlv(rest)?;
    let (request_id, rest) = expect(pdu_content, TAG_INTEGER)?;
    let (field2, rest) = expect(rest, TAG_INTEGER)?;
    let (field3, rest) = expect(rest, TAG_INTEGER)?;
    let (mut varbinds, _) = expect(rest, TAG_SEQUENCE)?;
    let mut oids = Vec::new();
    while !varbinds.is_empty() && oids.len() < MAX_VARBINDS {
        let (binding, rest) = expect(varbinds, TAG_SEQUENCE)?;
        let (oid, _) = expect(binding, TAG_OID)?;
        oids.push(read_oid(oid)?);
        varbinds = rest;
    }
    Some(Request {
        version: read_integer(version)?,
        community,
        pdu,
        request_id: read_integer(request_id)?,
        field2: read_integer(field2)?,
        field3: read_integer(field3)?,
        oids,
    })
}

fn unsigned(tag: u8, value: u32) -> Vec<u8> {
    integer(tag, i64::from(value))
}

fn encode_binding(binding: &Binding) -> Vec<u8> {
    match binding {
        Binding::Value(Value::Text(text)) => tlv(TAG_OCTET_STRING, text.as_bytes()),
        Binding::Value(Value::Oid(arcs)) => oid(arcs),
        Binding::Value(Value::Integer(n)) => integer(TAG_INTEGER, *n),
        Binding::Value(Value::Ticks(ticks)) => unsigned(TAG_TIMETICKS, *ticks),
        // Resolved by `Snmp::value` before encoding; a NULL never reaches a client.
        Binding::Value(Value::UpTime) | Binding::Null => tlv(TAG_NULL, &[]),
        Binding::NoSuchObject => tlv(TAG_NO_SUCH_OBJECT, &[]),
        Binding::EndOfMibView => tlv(TAG_END_OF_MIB_VIEW, &[]),
    }
}

fn encode_response(request: &Request<'_>, error: (i64, i64), bindings: &[(Vec<u32>, Binding)]) -> Vec<u8> {
    let mut varbinds = Vec::new();
    for (name, binding) in bindings {
        let mut pair = oid(name);
        pair.extend(encode_binding(binding));
        varbinds.extend(tlv(TAG_SEQUENCE, &pair));
    }
    let mut pdu = integer(TAG_INTEGER, request.request_id);
    pdu.extend(integer(TAG_INTEGER, error.0));
    pdu.extend(integer(TAG_INTEGER, error.1));
    pdu.extend(tlv(TAG_SEQUENCE, &varbinds));
    let mut message = integer(TAG_INTEGER, request.version);
    message.extend(tlv(TAG_OCTET_STRING, request.community));
    message.extend(tlv(PDU_RESPONSE, &pdu));
    tlv(TAG_SEQUENCE, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(pairs: &[(&str, &str)]) -> Snmp {
        Snmp::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn request(version: i64, community: &str, pdu: u8, oids: &[&[u32]]) -> Vec<u8> {
        let mut varbinds = Vec::new();
        for arcs in oids {
            let mut pair = oid(arcs);
            pair.extend(tlv(TAG_NULL, &[]));
            varbinds.extend(tlv(TAG_SEQUENCE, &pair));
        }
        let mut body = integer(TAG_INTEGER, 4242);
        body.extend(integer(TAG_INTEGER, 0));
        body.extend(integer(TAG_INTEGER, if pdu == PDU_GETBULK { 10 } else { 0 }));
        body.extend(tlv(TAG_SEQUENCE, &varbinds));
        let mut message = integer(TAG_INTEGER, version);
        message.extend(tlv(TAG_OCTET_STRING, community.as_bytes()));
        message.extend(tlv(pdu, &body));
        tlv(TAG_SEQUENCE, &message)
    }

    fn reply_oids(reply: &[u8]) -> Vec<Vec<u32>> {
        parse_request(reply).unwrap().oids
    }

    #[test]
    fn oids_round_trip() {
        let arcs = vec![1, 3, 6, 1, 4, 1, 8072, 3, 2, 10, 4_294_967_295];
        let encoded = oid(&arcs);
        let (_, content, _) = read_tlv(&encoded).unwrap();
        assert_eq!(read_oid(content), Some(arcs));
    }

    #[test]
    fn get_getnext_and_bulk_walk_the_system_group() {
        let snmp = agent(&[("NODE_NAME", "web-01")]);
        let descr: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
        let get = snmp.respond(&parse_request(&request(1, "public", PDU_GET, &[descr])).unwrap()).unwrap();
        assert_eq!(reply_oids(&get), [descr.to_vec()]);
        let next = request(1, "public", PDU_GETNEXT, &[&[1, 3, 6, 1, 2, 1, 1]]);
        assert_eq!(reply_oids(&snmp.respond(&parse_request(&next).unwrap()).unwrap()), [descr.to_vec()]);
        let bulk = request(1, "public", PDU_GETBULK, &[&[1, 3, 6, 1, 2, 1, 1]]);
        let walked = reply_oids(&snmp.respond(&parse_request(&bulk).unwrap()).unwrap());
        assert_eq!(walked.len(), 10, "eight objects, ifNumber, then endOfMibView");
    }

    #[test]
    fn unknown_versions_and_wrong_communities_get_no_answer() {
        let (recorder, log) = Recorder::memory("d", "snmp");
        let snmp = agent(&[]);
        let peer = "127.0.0.1:1".parse().unwrap();
        let name: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];
        assert!(snmp.answer(&request(2, "public", PDU_GET, &[name]), peer, &recorder).is_none());
        assert!(snmp.answer(&request(1, "private", PDU_GET, &[name]), peer, &recorder).is_none());
        assert!(snmp.answer(&request(1, "public", PDU_GET, &[name]), peer, &recorder).is_some());
        assert_eq!(log.lines().len(), 3, "every request is recorded");
    }

    #[test]
    fn v1_errors_name_the_binding() {
        let snmp = agent(&[]);
        let reply =
            snmp.respond(&parse_request(&request(0, "public", PDU_GET, &[&[1, 3, 6, 9]])).unwrap()).unwrap();
        let parsed = parse_request(&reply).unwrap();
        assert_eq!((parsed.field2, parsed.field3), (ERROR_NO_SUCH_NAME, 1));
    }

    #[test]
    fn malformed_input_is_rejected() {
        let whole = request(1, "public", PDU_GET, &[&[1, 3, 6, 1]]);
        for cut in 0..whole.len() {
            assert_eq!(parse_request(&whole[..cut]), None, "cut at {cut}");
        }
        assert_eq!(read_oid(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), None);
    }

    #[test]
    fn the_persona_follows_archetype_and_os() {
        let descr = |archetype, os, distro| persona("d", archetype, os, distro).descr;
        assert!(descr(Some("printer"), "embedded", "alpine").starts_with("HP ETHERNET"));
        assert!(descr(None, "windows", "windows").starts_with("Hardware: Intel64"));
        assert!(descr(None, "linux", "ubuntu22").contains("-Ubuntu SMP"));
        assert!(descr(None, "linux", "rocky9").contains(".el9_3."));
        assert_eq!(descr(None, "linux", "debian"), descr(None, "linux", "debian"));
    }
}
