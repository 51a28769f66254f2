//! `dns` on 53/udp and 53/tcp: a BIND 9 look-alike, authoritative for one zone.
//!
//! The zone is `DNS_DOMAIN`, else derived from the decky's name (`<decky>.internal`). It holds
//! an SOA, two NS, an MX and A records for a handful of usual hosts, at private addresses
//! chosen per decky, plus the `DNS_EXTRA_RECORDS` lines (`name [ttl] [IN] A|AAAA|CNAME|TXT
//! value`). Names in the zone that do not exist get NXDOMAIN with the SOA; zone transfers are
//! REFUSED; `version.bind` / `hostname.bind` CHAOS TXT answer `DNS_BIND_VERSION` and the
//! decky. In `auth` mode (`DNS_ZONE_MODE`) names outside the zone are REFUSED and RA is clear,
//! as on an authoritative-only BIND; in `recursive` and `open` mode RA is set and outside
//! names are sinkholed to a stable address per name (the sensor never forwards: it has no
//! network but its own ports, so `DNS_UPSTREAM`, `DNS_FORWARD_*`, `DNS_REAL_RECURSIVE` and
//! `DNS_STATE_PATH` have no effect). An EDNS query gets an OPT back, with `DNS_NSID` when the
//! client asked for NSID.
//!
//! Every parsable query is recorded as `query`; a datagram that is not one is only the
//! framework's `datagram` event and gets no answer (BIND drops what it cannot parse).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Event, Fields, Kind};
use crate::listener::{Session, Stream};
use crate::persona::{decky_rng, fnv1a};
use crate::ports::Transport;
use crate::recorder::Recorder;

pub mod wire;

use self::wire::{
    CLASS_CH, CLASS_IN, HEADER_BYTES, Header, TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_AXFR, TYPE_CNAME, TYPE_IXFR,
    TYPE_MX, TYPE_NS, TYPE_OPT, TYPE_SOA, TYPE_TXT, class_name, read_name, type_name, write_name,
};

/// The catalogue port, reported as `dst_port` of UDP protocol events.
const PORT: u16 = 53;

/// The BIND version when `DNS_BIND_VERSION` is unset.
const DEFAULT_BIND_VERSION: &str = "9.18.28-0ubuntu0.22.04.1-Ubuntu";

/// TTL of every record the zone serves; CHAOS answers have TTL 0, as BIND's.
const TTL: u32 = 3600;

/// Longest TXT data accepted from `DNS_EXTRA_RECORDS`: every answer stays within one
/// EDNS-sized datagram.
const MAX_TXT_BYTES: usize = 1024;

/// Offset of the question name in a message: answers about it point there (RFC 1035 §4.1.4).
const QUESTION_NAME_POINTER: [u8; 2] = [0xc0, 12];

const EDNS_NSID: u16 = 3;

const RCODE_NOERROR: u8 = 0;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_NOTIMP: u8 = 4;
const RCODE_REFUSED: u8 = 5;

/// What the server does with names outside its zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneMode {
    /// Authoritative only: REFUSED, no RA.
    Auth,
    /// Claims recursion (RA) and sinkholes outside names.
    Recursive,
}

/// The data of one resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ns(String),
    Mx(u16, String),
    Txt(String),
    Soa { mname: String, rname: String, serial: u32 },
}

impl RData {
    fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Aaaa(_) => TYPE_AAAA,
            RData::Cname(_) => TYPE_CNAME,
            RData::Ns(_) => TYPE_NS,
            RData::Mx(..) => TYPE_MX,
            RData::Txt(_) => TYPE_TXT,
            RData::Soa { .. } => TYPE_SOA,
        }
    }
}

/// One record of the zone; `name` is lowercase, fully qualified, without the final dot.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    name: String,
    data: RData,
}

/// The DNS server, as configured at start-up.
pub struct Dns {
    zone: String,
    records: Vec<Record>,
    mode: ZoneMode,
    bind_version: String,
    nsid: Option<String>,
    hostname: String,
}

/// The question of a query, as parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    pub flags: u16,
    /// The name as sent (case kept), without the final dot; empty for the root.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The client's EDNS OPT record, if any, and whether it asked for NSID.
    pub edns: Option<Edns>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub wants_nsid: bool,
}

impl Dns {
    pub fn from_env(env: &Env) -> Result<Dns, ConfigError> {
        let mode = match env.get_or("DNS_ZONE_MODE", "auth") {
            "auth" => ZoneMode::Auth,
            "recursive" | "open" => ZoneMode::Recursive,
            other => {
                return Err(ConfigError::new(
                    "DNS_ZONE_MODE",
                    format!("expected auth, recursive or open, got {other:?}"),
                ));
            }
        };
        let decky = env.decky();
        let zone = match env.get("DNS_DOMAIN") {
            Some(domain) => normalise_name(domain)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| ConfigError::new("DNS_DOMAIN", format!("not a domain name: {domain:?}")))?,
            None => derived_zone(decky),
        };
        let mut records = base_records(&zone, decky);
        for (number, line) in env.get_or("DNS_EXTRA_RECORDS", "").lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with(';') {
                continue;
            }
            let record = parse_record_line(line, &zone).map_err(|message| {
                ConfigError::new("DNS_EXTRA_RECORDS", format!("line {}: {message}", number + 1))
            })?;
            records.push(record);
        }
        Ok(Dns {
            zone,
            records,
            mode,
            bind_version: env.get_or("DNS_BIND_VERSION", DEFAULT_BIND_VERSION).to_owned(),
            nsid: env.get("DNS_NSID").map(str::to_owned),
            hostname: if decky.is_empty() { "ns1".to_owned() } else { decky.to_owned() },
        })
    }

    /// The reply to one UDP datagram; records the query.
    pub fn answer(&self, datagram: &[u8], peer: SocketAddr, recorder: &Recorder) -> Option<Vec<u8>> {
        let question = parse_query(datagram)?;
        recorder.record(&Event {
            transport: Transport::Udp,
            src: Some(peer),
            dst_port: PORT,
            conn: None,
            kind: Kind::Protocol { name: "query", fields: query_fields(&question) },
        });
        Some(self.respond(&question))
    }

    /// Serves DNS over TCP: messages framed by a two-byte length, until the client closes.
    pub async fn serve(&self, mut stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut message = Vec::with_capacity(512);
        loop {
            let mut length = [0u8; 2];
            match stream.read_exact(&mut length).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(EndReason::Eof),
                Err(e) => return Err(e),
            }
            // A u16 length bounds the message to 64 KiB.
            message.resize(usize::from(u16::from_be_bytes(length)), 0);
            match stream.read_exact(&mut message).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(EndReason::Eof),
                Err(e) => return Err(e),
            }
            let Some(question) = parse_query(&message) else { return Ok(EndReason::Closed) };
            session.record("query", query_fields(&question));
            let reply = self.respond(&question);
            let mut framed = Vec::with_capacity(reply.len() + 2);
            framed.extend_from_slice(&u16::try_from(reply.len()).unwrap_or(u16::MAX).to_be_bytes());
            framed.extend_from_slice(&reply);
            stream.write_all(&framed).await?;
        }
    }

    /// The response message to `question`.
    pub fn respond(&self, question: &Question) -> Vec<u8> {
        let name = question.name.to_ascii_lowercase();
        let opcode = (question.flags >> 11) & 0xf;
        let (rcode, authoritative, answers, authority) = if opcode != 0 {
            (RCODE_NOTIMP, false, Vec::new(), Vec::new())
        } else if question.qclass == CLASS_CH {
            self.chaos(&name, question.qtype)
        } else if (question.qclass != CLASS_IN && question.qclass != TYPE_ANY)
            || question.qtype == TYPE_AXFR
            || question.qtype == TYPE_IXFR
        {
            // Other classes are not served; zone transfers are never allowed.
            (RCODE_REFUSED, false, Vec::new(), Vec::new())
        } else if in_zone(&name, &self.zone) {
            self.authoritative(&name, question.qtype)
        } else {
            self.outside(&name, question.qtype)
        };
        self.encode(question, rcode, authoritative, &answers, &authority)
    }

    /// `version.bind`, `hostname.bind` and friends in class CHAOS.
    fn chaos(&self, name: &str, qtype: u16) -> (u8, bool, Vec<Record>, Vec<Record>) {
        let text = match name {
            "version.bind" | "version.server" => &self.bind_version,
            "hostname.bind" | "id.server" => &self.hostname,
            _ => return (RCODE_REFUSED, false, Vec::new(), Vec::new()),
        };
        let answers = if qtype == TYPE_TXT || qtype == TYPE_ANY {
            vec![Record { name: name.to_owned(), data: RData::Txt(text.clone()) }]
        } else {
            Vec::new()
        };
        (RCODE_NOERROR, true, answers, Vec::new())
    }

    fn authoritative(&self, name: &str, qtype: u16) -> (u8, bool, Vec<Record>, Vec<Record>) {
        let at_name: Vec<&Record> = self.records.iter().filter(|r| r.name == name).collect();
        let soa = || self.records.iter().filter(|r| r.data.rtype() == TYPE_SOA).cloned().collect();
        if at_name.is_empty() {
            return (RCODE_NXDOMAIN, true, Vec::new(), soa());
        }
        let matching: Vec<Record> = at_name
            .iter()
            .filter(|r| qtype == TYPE_ANY || r.data.rtype() == qtype || r.data.rtype() == TYPE_CNAME)
            .map(|r| (*r).clone())
            .collect();
        if matching.is_empty() {
            return (RCODE_NOERROR, true, Vec::new(), soa());
        }
        let authority = if qtype == TYPE_NS {
            Vec::new()
        } else {
            self.records
                .iter()
                .filter(|r| r.name == self.zone && r.data.rtype() == TYPE_NS)
                .cloned()
                .collect()
        };
        (RCODE_NOERROR, true, matching, authority)
    }

    fn outside(&self, name: &str, qtype: u16) -> (u8, bool, Vec<Record>, Vec<Record>) {
        match self.mode {
            ZoneMode::Auth => (RCODE_REFUSED, false, Vec::new(), Vec::new()),
            ZoneMode::Recursive if qtype == TYPE_A || qtype == TYPE_ANY => {
                let record = Record { name: name.to_owned(), data: RData::A(sinkhole_address(name)) };
                (RCODE_NOERROR, false, vec![record], Vec::new())
            }
            ZoneMode::Recursive => (RCODE_NOERROR, false, Vec::new(), Vec::new()),
        }
    }

    fn encode(
        &self,
        question: &Question,
        rcode: u8,
        authoritative: bool,
        answers: &[Record],
        authority: &[Record],
    ) -> Vec<u8> {
        let rd = question.flags & 0x0100;
        let opcode = question.flags & 0x7800;
        let mut flags = 0x8000 | opcode | rd | u16::from(rcode);
        if authoritative {
            flags |= 0x0400;
        }
        if self.mode == ZoneMode::Recursive {
            flags |= 0x0080;
        }
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&question.id.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes();
        out.extend_from_slice(&count(1));
        out.extend_from_slice(&count(answers.len()));
        out.extend_from_slice(&count(authority.len()));
        out.extend_from_slice(&count(usize::from(question.edns.is_some())));
        write_name(&mut out, &question.name);
        out.extend_from_slice(&question.qtype.to_be_bytes());
        out.extend_from_slice(&question.qclass.to_be_bytes());
        let class = if question.qclass == CLASS_CH { CLASS_CH } else { CLASS_IN };
        for record in answers.iter().chain(authority) {
            write_record(&mut out, record, class, &question.name);
        }
        if let Some(edns) = question.edns {
            self.write_opt(&mut out, edns);
        }
        out
    }

    fn write_opt(&self, out: &mut Vec<u8>, edns: Edns) {
        out.push(0); // root name
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&1232u16.to_be_bytes()); // UDP payload size, as BIND 9.18
        out.extend_from_slice(&0u32.to_be_bytes()); // extended rcode, version 0, no DO
        match (&self.nsid, edns.wants_nsid) {
            (Some(nsid), true) => {
                let nsid = &nsid.as_bytes()[..nsid.len().min(512)];
                out.extend_from_slice(&((nsid.len() + 4) as u16).to_be_bytes());
                out.extend_from_slice(&EDNS_NSID.to_be_bytes());
                out.extend_from_slice(&(nsid.len() as u16).to_be_bytes());
                out.extend_from_slice(nsid);
            }
            _ => out.extend_from_slice(&0u16.to_be_bytes()),
        }
    }
}

/// The `query` event's fields.
fn query_fields(question: &Question) -> Fields {
    Fields::new()
        .num("id", question.id.into())
        .num("flags", question.flags.into())
        .flag("recursion_desired", question.flags & 0x0100 != 0)
        .bytes("name", question.name.as_bytes())
        .text("type", type_name(question.qtype))
        .text("class", class_name(question.qclass))
}

/// Parses a query: header, the first question, and an OPT record among the additional ones.
/// `None` for anything that is not a query with one readable question.
pub fn parse_query(message: &[u8]) -> Option<Question> {
    let header = Header::parse(message)?;
    if !header.is_query() {
        return None;
    }
    let (wire::Question { name, qtype, qclass }, at) = wire::read_question(message, HEADER_BYTES)?;
    let edns = if header.questions == 1 { find_opt(message, at, &header) } else { None };
    Some(Question { id: header.id, flags: header.flags, name, qtype, qclass, edns })
}

/// Walks the answer, authority and additional records from `at`, looking for an OPT.
fn find_opt(message: &[u8], mut at: usize, header: &Header) -> Option<Edns> {
    let total = u32::from(header.answers) + u32::from(header.authority) + u32::from(header.additional);
    for _ in 0..total.min(64) {
        let (_, after_name) = read_name(message, at)?;
        let fixed = message.get(after_name..after_name + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlength = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rdata = message.get(after_name + 10..after_name + 10 + rdlength)?;
        if rtype == TYPE_OPT {
            return Some(Edns { wants_nsid: has_option(rdata, EDNS_NSID) });
        }
        at = after_name + 10 + rdlength;
    }
    None
}

fn has_option(mut rdata: &[u8], wanted: u16) -> bool {
    while rdata.len() >= 4 {
        let code = u16::from_be_bytes([rdata[0], rdata[1]]);
        let length = usize::from(u16::from_be_bytes([rdata[2], rdata[3]]));
        if code == wanted {
            return true;
        }
        rdata = rdata.get(4 + length..).unwrap_or_default();
    }
    false
}

/// Writes `record`; its name is compressed to a pointer when it is the question's.
fn write_record(out: &mut Vec<u8>, record: &Record, class: u16, question_name: &str) {
    if record.name.eq_ignore_ascii_case(question_name) {
        out.extend_from_slice(&QUESTION_NAME_POINTER);
    } else {
        write_name(out, &record.name);
    }
    out.extend_from_slice(&record.data.rtype().to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    let ttl = if class == CLASS_CH { 0 } else { TTL };
    out.extend_from_slice(&ttl.to_be_bytes());
    let mut rdata = Vec::with_capacity(64);
    match &record.data {
        RData::A(ip) => rdata.extend_from_slice(&ip.octets()),
        RData::Aaaa(ip) => rdata.extend_from_slice(&ip.octets()),
        RData::Cname(target) | RData::Ns(target) => write_name(&mut rdata, target),
        RData::Mx(preference, target) => {
            rdata.extend_from_slice(&preference.to_be_bytes());
            write_name(&mut rdata, target);
        }
        RData::Txt(text) => {
            for chunk in text.as_bytes().chunks(255) {
                rdata.push(chunk.len() as u8);
                rdata.extend_from_slice(chunk);
            }
        }
        RData::Soa { mname, rname, serial } => {
            write_name(&mut rdata, mname);
            write_name(&mut rdata, rname);
            for value in [*serial, 10_800, 3_600, 604_800, 86_400] {
                rdata.extend_from_slice(&value.to_be_bytes());
            }
        }
    }
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
}

/// Lowercase, without a final dot; `None` if a label is empty or longer than 63 bytes.
fn normalise_name(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return Some(name);
    }
    let valid = name.len() <= 253
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_graphic()));
    valid.then_some(name)
}

/// `<decky>.internal`, the decky's name reduced to a valid label.
fn derived_zone(decky: &str) -> String {
    let label: String = decky
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    format!("{}.internal", if label.is_empty() { "corp" } else { label })
}

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.strip_suffix(zone).is_some_and(|head| head.ends_with('.'))
}

/// The zone's own records: SOA, NS, MX and A records of usual hosts, on a private /24 that
/// is stable per decky.
fn base_records(zone: &str, decky: &str) -> Vec<Record> {
    let mut rng = decky_rng(decky, "dns-zone");
    let subnet = [10, rng.u8(0..=254), rng.u8(0..=254)];
    let mut hosts: Vec<u8> = (2..=250).collect();
    rng.shuffle(&mut hosts);
    let address = |i: usize| Ipv4Addr::new(subnet[0], subnet[1], subnet[2], hosts[i]);
    let fqdn = |host: &str| format!("{host}.{zone}");
    let serial = 2_024_000_000 + rng.u32(0..999_999);
    let mut records = vec![
        Record {
            name: zone.to_owned(),
            data: RData::Soa { mname: fqdn("ns1"), rname: fqdn("hostmaster"), serial },
        },
        Record { name: zone.to_owned(), data: RData::Ns(fqdn("ns1")) },
        Record { name: zone.to_owned(), data: RData::Ns(fqdn("ns2")) },
        Record { name: zone.to_owned(), data: RData::Mx(10, fqdn("mail")) },
        Record { name: zone.to_owned(), data: RData::A(address(0)) },
    ];
    for (i, host) in ["ns1", "ns2", "www", "mail", "vpn", "intranet", "git", "db01"].into_iter().enumerate() {
        records.push(Record { name: fqdn(host), data: RData::A(address(i + 1)) });
    }
    records
}

/// First octets of large public allocations (cloud and CDN networks): sinkhole answers
/// never fall in private, loopback or reserved space.
const SINKHOLE_FIRST_OCTETS: [u8; 10] = [23, 34, 35, 52, 54, 104, 142, 151, 185, 199];

/// A stable public-looking address for a sinkholed name.
fn sinkhole_address(name: &str) -> Ipv4Addr {
    let [a, b, c, d, ..] = fnv1a(name.as_bytes()).to_be_bytes();
    let first = SINKHOLE_FIRST_OCTETS[usize::from(a) % SINKHOLE_FIRST_OCTETS.len()];
    Ipv4Addr::new(first, b, c, 1 + d % 254)
}

/// Parses one zone-file line `name [ttl] [IN] TYPE value`; `name` relative to `zone` unless
/// it ends with a dot, `@` for the apex.
fn parse_record_line(line: &str, zone: &str) -> Result<Record, String> {
    let mut words = line.split_whitespace().peekable();
    let owner = words.next().ok_or("empty line")?;
    if words.peek().is_some_and(|w| w.parse::<u32>().is_ok()) {
        words.next();
    }
    if words.peek().is_some_and(|w| w.eq_ignore_ascii_case("IN")) {
        words.next();
    }
    let rtype = words.next().ok_or("missing record type")?.to_ascii_uppercase();
    let value = words.collect::<Vec<_>>().join(" ");
    if value.is_empty() {
        return Err("missing record data".into());
    }
    let absolute = |name: &str| -> Result<String, String> {
        let full = match name {
            "@" => zone.to_owned(),
            n if n.ends_with('.') => n.to_owned(),
            n => format!("{n}.{zone}"),
        };
        normalise_name(&full).ok_or_else(|| format!("bad name {name:?}"))
    };
    let data = match rtype.as_str() {
        "A" => RData::A(value.parse().map_err(|_| format!("bad IPv4 address {value:?}"))?),
        "AAAA" => RData::Aaaa(value.parse().map_err(|_| format!("bad IPv6 address {value:?}"))?),
        "CNAME" => RData::Cname(absolute(&value)?),
        "TXT" if value.len() > MAX_TXT_BYTES => return Err(format!("TXT longer than {MAX_TXT_BYTES} bytes")),
        "TXT" => RData::Txt(value.trim_matches('"').to_owned()),
        other => return Err(format!("unsupported record type {other:?} (A, AAAA, CNAME, TXT)")),
    };
    Ok(Record { name: absolute(owner)?, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(pairs: &[(&str, &str)]) -> Dns {
        Dns::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn query(name: &str, qtype: u16, qclass: u16) -> Vec<u8> {
        let mut out = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        write_name(&mut out, name);
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&qclass.to_be_bytes());
        out
    }

    fn rcode(reply: &[u8]) -> u8 {
        reply[3] & 0x0f
    }

    #[test]
    fn parses_a_question() {
        let q = parse_query(&query("WWW.Example.com", TYPE_A, CLASS_IN)).unwrap();
        assert_eq!(
            (q.id, q.flags, q.name.as_str(), q.qtype, q.qclass),
            (0x1234, 0x0100, "WWW.Example.com", 1, 1)
        );
        assert_eq!(q.edns, None);
    }

    #[test]
    fn pointer_loops_and_truncation_are_rejected() {
        let mut looped = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(parse_query(&looped), None);
        let whole = query("www.example.com", TYPE_A, CLASS_IN);
        for cut in 0..whole.len() {
            assert_eq!(parse_query(&whole[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn zone_names_resolve_and_others_are_refused_or_missing() {
        let server = dns(&[("NODE_NAME", "web-01"), ("DNS_DOMAIN", "corp.example.com")]);
        let answer = |name: &str, t| server.respond(&parse_query(&query(name, t, CLASS_IN)).unwrap());
        let www = answer("www.corp.example.com", TYPE_A);
        assert_eq!((rcode(&www), www[2] & 0x04 != 0, www[3] & 0x80), (RCODE_NOERROR, true, 0));
        assert_eq!(u16::from_be_bytes([www[6], www[7]]), 1);
        assert_eq!(rcode(&answer("nope.corp.example.com", TYPE_A)), RCODE_NXDOMAIN);
        assert_eq!(rcode(&answer("google.com", TYPE_A)), RCODE_REFUSED);
        assert_eq!(rcode(&answer("corp.example.com", TYPE_AXFR)), RCODE_REFUSED);
    }

    #[test]
    fn extra_records_parse_and_bad_ones_name_the_variable() {
        let record = parse_record_line("vpn 300 IN A 10.0.0.5", "corp.example.com").unwrap();
        assert_eq!(
            record,
            Record { name: "vpn.corp.example.com".into(), data: RData::A([10, 0, 0, 5].into()) }
        );
        let error = Dns::from_env(&Env::from_pairs([("DNS_EXTRA_RECORDS", "x IN A nope")])).err().unwrap();
        assert_eq!(error.var, "DNS_EXTRA_RECORDS");
        let error = Dns::from_env(&Env::from_pairs([("DNS_ZONE_MODE", "loud")])).err().unwrap();
        assert_eq!(error.var, "DNS_ZONE_MODE");
    }

    #[test]
    fn zones_differ_per_decky_and_stay_put() {
        assert_eq!(base_records("z", "a"), base_records("z", "a"));
        assert_ne!(base_records("z", "a"), base_records("z", "b"));
        assert_eq!(derived_zone("Web_01"), "web-01.internal");
    }

    #[test]
    fn recursive_mode_sets_ra_and_sinkholes() {
        let server = dns(&[("DNS_ZONE_MODE", "recursive")]);
        let reply = server.respond(&parse_query(&query("google.com", TYPE_A, CLASS_IN)).unwrap());
        assert_eq!((rcode(&reply), reply[3] & 0x80 != 0), (RCODE_NOERROR, true));
        assert_eq!(u16::from_be_bytes([reply[6], reply[7]]), 1);
    }

    #[test]
    fn sinkhole_addresses_are_public_and_stable() {
        for name in ["google.com", "example.org", "a", "evil.test", "x.y.z"] {
            let address = sinkhole_address(name);
            assert_eq!(address, sinkhole_address(name));
            assert!(!address.is_private() && !address.is_loopback() && address.octets()[3] != 0, "{address}");
        }
        assert!(parse_record_line(&format!("big TXT {}", "x".repeat(2000)), "z").is_err());
    }

    #[test]
    fn unknown_opcodes_are_not_implemented() {
        let server = dns(&[]);
        let mut message = query("x", TYPE_A, CLASS_IN);
        message[2] = 0x28; // UPDATE
        assert_eq!(rcode(&server.respond(&parse_query(&message).unwrap())), RCODE_NOTIMP);
    }
}
