//! An MQTT broker as Eclipse Mosquitto answers: MQTT 3.1 (`MQIsdp`), 3.1.1 and 5. It reads
//! the CONNECT (client id, user name, password, will), answers CONNACK, then serves
//! SUBSCRIBE / UNSUBSCRIBE, PUBLISH at QoS 0, 1 (PUBACK) and 2 (PUBREC, PUBREL, PUBCOMP),
//! PINGREQ and DISCONNECT. A subscription receives the retained messages of the decky's
//! persona whose topics it matches (an IoT site: `water_plant`, `building_hvac`,
//! `solar_farm` or `factory_line`, with plausible readings) and `$SYS/broker/version` and
//! `$SYS/broker/uptime`; a client's own publishes reach its own matching subscriptions.
//! Nothing is shared between connections.
//!
//! Configuration:
//! * `MQTT_CREDS` — accounts, `user:password` separated by commas; empty by default.
//! * `MQTT_ACCEPT_ALL` — a flag: whether any CONNECT is accepted, whatever its credentials.
//!   Default: on when `MQTT_CREDS` is empty (the open broker attackers look for), off when
//!   accounts are set, so that only they get in; the others are refused with "not
//!   authorised", as Mosquitto refuses a bad password.
//! * `MQTT_PERSONA` — the site whose retained topics are served, else a per-decky pick.
//! * `NODE_NAME` — the decky: the site's name and every reading are stable per decky.
//!
//! Events: `auth` for each CONNECT, `publish`, `subscribe`, `unsubscribe`, and
//! `protocol_error` when the client breaks the protocol (the connection is then closed).

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream, TcpLimits};
use crate::persona::decky_rng;

/// Subscribers stay connected for long and ping every keep-alive (60 s by default); the
/// broker waits one and a half keep-alives, as the specification asks.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(120),
    max_duration: Duration::from_secs(3600),
    max_bytes_in: 1024 * 1024,
};

/// The largest packet read (fixed header excluded); a larger one closes the connection.
/// Announced to MQTT 5 clients as the Maximum Packet Size.
const MAX_PACKET: usize = 64 * 1024;

/// Most bytes of a PUBLISH payload or will message kept in an event.
const MAX_RECORDED_PAYLOAD: usize = 1024;

/// Most subscriptions one connection holds, and most filters recorded of one packet.
const MAX_SUBSCRIPTIONS: usize = 64;

mod packet {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// CONNACK return codes of MQTT 3.x, and the reason codes MQTT 5 uses for the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnackCode {
    Accepted,
    UnacceptableProtocolVersion,
    IdentifierRejected,
    NotAuthorized,
}

impl ConnackCode {
    fn byte(self, v5: bool) -> u8 {
        match (self, v5) {
            (ConnackCode::Accepted, _) => 0x00,
            (ConnackCode::UnacceptableProtocolVersion, false) => 1,
            (ConnackCode::UnacceptableProtocolVersion, true) => 0x84,
            (ConnackCode::IdentifierRejected, false) => 2,
            (ConnackCode::IdentifierRejected, true) => 0x85,
            (ConnackCode::NotAuthorized, false) => 5,
            (ConnackCode::NotAuthorized, true) => 0x87,
        }
    }
}

/// Mosquitto releases a decky may run.
const BROKER_VERSIONS: &[&str] = &["2.0.11", "2.0.15", "2.0.18", "1.6.9"];

/// How one persona reading is drawn.
enum Reading {
    /// A decimal number in the range, with this many decimals.
    Number(f64, f64, usize),
    /// One of these texts.
    Text(&'static [&'static str]),
}

/// A site a broker may serve.
struct Persona {
    /// The `MQTT_PERSONA` value.
    name: &'static str,
    /// The first level of every topic.
    prefix: &'static str,
    /// (topic under `<prefix>/<site>/`, reading).
    topics: &'static [(&'static str, Reading)],
}

const PERSONAS: &[Persona] = &[
    Persona {
        name: "water_plant",
        prefix: "plant",
        topics: &[
            ("intake/flow_lps", Reading::Number(250.0, 600.0, 1)),
            ("chlorine/residual_mgl", Reading::Number(0.8, 2.2, 2)),
            ("reservoir/level_pct", Reading::Number(45.0, 95.0, 1)),
            ("pump/1/state", Reading::Text(&["RUNNING"])),
            ("pump/2/state", Reading::Text(&["STANDBY", "RUNNING", "FAULT"])),
            ("scada/mode", Reading::Text(&["AUTO", "MANUAL"])),
        ],
    },
    Persona {
        name: "building_hvac",
        prefix: "building",
        topics: &[
            ("ahu/1/supply_temp_c", Reading::Number(12.0, 16.0, 1)),
            ("zone/301/temp_c", Reading::Number(19.5, 24.0, 1)),
            ("zone/301/setpoint_c", Reading::Text(&["21.0", "21.5", "22.0"])),
            ("chiller/1/status", Reading::Text(&["ON", "OFF"])),
            ("boiler/1/status", Reading::Text(&["OFF", "ON"])),
            ("bms/occupancy", Reading::Text(&["occupied", "unoccupied"])),
        ],
    },
    Persona {
        name: "solar_farm",
        prefix: "solar",
        topics: &[
            ("inverter/1/power_kw", Reading::Number(300.0, 950.0, 1)),
            ("inverter/2/power_kw", Reading::Number(300.0, 950.0, 1)),
            ("inverter/2/state", Reading::Text(&["MPPT", "THROTTLED"])),
            ("meter/export_kwh", Reading::Number(800_000.0, 4_000_000.0, 0)),
            ("weather/irradiance_wm2", Reading::Number(150.0, 980.0, 0)),
            ("tracker/mode", Reading::Text(&["AUTO", "STOW"])),
        ],
    },
    Persona {
        name: "factory_line",
        prefix: "factory",
        topics: &[
            ("line1/conveyor/speed_mpm", Reading::Number(8.0, 24.0, 1)),
            ("line1/robot/3/state", Reading::Text(&["RUNNING", "IDLE", "E-STOP"])),
            ("line1/count/good", Reading::Number(10_000.0, 90_000.0, 0)),
            ("line1/count/reject", Reading::Number(20.0, 900.0, 0)),
            ("line1/oven/temp_c", Reading::Number(180.0, 240.0, 1)),
            ("plc/mode", Reading::Text(&["AUTO", "MAINT"])),
        ],
    },
];

/// Site names, one picked per decky.
const SITES: &[&str] = &["site1", "north", "plant-a", "hq", "east-campus", "unit2"];

/// The broker of one decky.
pub struct Mqtt {
    accounts: Vec<(String, String)>,
    accept_all: bool,
    /// The persona's retained messages, `$SYS` ones excluded.
    retained: Vec<(String, Vec<u8>)>,
    broker_version: &'static str,
    /// When the broker claims to have started.
    started: Instant,
    uptime_base: u64,
}

impl Mqtt {
    pub fn from_env(env: &Env) -> Result<Mqtt, ConfigError> {
        let accounts = env.accounts("MQTT_CREDS", "")?;
        let accept_all = env.flag("MQTT_ACCEPT_ALL")?.unwrap_or(accounts.is_empty());
        let decky = env.decky();
        let mut rng = decky_rng(decky, "mqtt");
        let persona = match env.get("MQTT_PERSONA") {
            Some(name) => PERSONAS.iter().find(|p| p.name == name.trim()).ok_or_else(|| {
                let known: Vec<&str> = PERSONAS.iter().map(|p| p.name).collect();
                ConfigError::new(
                    "MQTT_PERSONA",
                    format!("expected one of {}, got {name:?}", known.join(", ")),
                )
            })?,
            None => &PERSONAS[rng.usize(..PERSONAS.len())],
        };
        Ok(Mqtt {
            accounts,
            accept_all,
            retained: persona_messages(persona, &mut rng),
            broker_version: BROKER_VERSIONS[rng.usize(..BROKER_VERSIONS.len())],
            started: Instant::now(),
            uptime_base: rng.u64(3_600..45 * 86_400),
        })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut conn = Conn { io: BufReader::new(stream), v5: false, subscriptions: Vec::new() };
        let connect = match conn.read_packet().await? {
            Read::Packet(packet::CONNECT, _, body) => body,
            Read::Packet(kind, _, _) => {
                return protocol_error(session, &format!("first packet is of type {kind}, not CONNECT"));
            }
            Read::Gone => return Ok(EndReason::Eof),
            Read::Malformed(error) => return protocol_error(session, error),
        };
        let connect = match parse_connect(&connect) {
            Ok(connect) => connect,
            Err(error) => return protocol_error(session, error),
        };
        conn.v5 = connect.is_v5();
        let code = self.connack_code(&connect);
        record_connect(session, &connect, code == ConnackCode::Accepted);
        conn.send(&connack(&connect, code)).await?;
        if code != ConnackCode::Accepted {
            return Ok(EndReason::Closed);
        }
        loop {
            let (kind, flags, body) = match conn.read_packet().await? {
                Read::Packet(kind, flags, body) => (kind, flags, body),
                Read::Gone => return Ok(EndReason::Eof),
                Read::Malformed(error) => return protocol_error(session, error),
            };
            let served = match kind {
                packet::PUBLISH => conn.publish(session, flags, &body).await?,
                packet::PUBREL => {
                    conn.send(&ack(packet::PUBCOMP, 0, &body)).await?;
                    Ok(())
                }
                packet::PUBACK | packet::PUBREC | packet::PUBCOMP => Ok(()),
                packet::SUBSCRIBE => conn.subscribe(session, &body, &self.retained_now()).await?,
                packet::UNSUBSCRIBE => conn.unsubscribe(session, &body).await?,
                packet::PINGREQ => {
                    conn.send(&[packet::PINGRESP << 4, 0]).await?;
                    Ok(())
                }
                packet::DISCONNECT => return Ok(EndReason::Closed),
                other => Err(format!("unexpected packet of type {other}")),
            };
            if let Err(error) = served {
                return protocol_error(session, &error);
            }
        }
    }

    fn connack_code(&self, connect: &Connect) -> ConnackCode {
        if connect.level_supported().is_none() {
            return ConnackCode::UnacceptableProtocolVersion;
        }
        if connect.client_id.is_empty() && !connect.clean_start && !connect.is_v5() {
            return ConnackCode::IdentifierRejected;
        }
        let matches_account = |(user, password): &(String, String)| {
            connect.username.as_deref() == Some(user.as_bytes())
                && connect.password.as_deref().unwrap_or_default() == password.as_bytes()
        };
        if self.accept_all || self.accounts.iter().any(matches_account) {
            ConnackCode::Accepted
        } else {
            ConnackCode::NotAuthorized
        }
    }

    /// The retained messages as of now: the persona's, then `$SYS`.
    fn retained_now(&self) -> Vec<(String, Vec<u8>)> {
        let uptime = self.uptime_base + self.started.elapsed().as_secs();
        let mut all = self.retained.clone();
        all.push((
            "$SYS/broker/version".to_owned(),
            format!("mosquitto version {}", self.broker_version).into(),
        ));
        all.push(("$SYS/broker/uptime".to_owned(), format!("{uptime} seconds").into()));
        all
    }
}

/// The persona's topics under `<prefix>/<site>/`, each with its reading.
fn persona_messages(persona: &Persona, rng: &mut fastrand::Rng) -> Vec<(String, Vec<u8>)> {
    let site = SITES[rng.usize(..SITES.len())];
    persona
        .topics
        .iter()
        .map(|(topic, reading)| {
            let value = match reading {
                Reading::Number(low, high, decimals) => {
                    format!("{:.*}", decimals, low + rng.f64() * (high - low))
                }
                Reading::Text(choices) => choices[rng.usize(..choices.len())].to_owned(),
            };
            (format!("{}/{site}/{topic}", persona.prefix), value.into_bytes())
        })
        .collect()
}

/// A CONNECT packet, as far as it is recorded and answered.
#[derive(Debug, Default, PartialEq, Eq)]
struct Connect {
    protocol: Vec<u8>,
    level: u8,
    clean_start: bool,
    keep_alive: u16,
    client_id: Vec<u8>,
    will: Option<(Vec<u8>, Vec<u8>)>,
    username: Option<Vec<u8>>,
    password: Option<Vec<u8>>,
}

impl Connect {
    /// The version name when the protocol name and level go together.
    fn level_supported(&self) -> Option<&'static str> {
        match (self.protocol.as_slice(), self.level) {
            (b"MQIsdp", 3) => Some("3.1"),
            (b"MQTT", 4) => Some("3.1.1"),
            (b"MQTT", 5) => Some("5"),
            _ => None,
        }
    }

    /// MQTT 5: an unknown level is answered in the 3.1.1 format every client reads.
    fn is_v5(&self) -> bool {
        self.level == 5 && self.level_supported().is_some()
    }
}

/// Parses a CONNECT body; the error says what is malformed.
fn parse_connect(body: &[u8]) -> Result<Connect, &'static str> {
    let mut r = Reader(body);
    let protocol = r.binary().ok_or("truncated protocol name")?.to_vec();
    let level = r.u8().ok_or("truncated protocol level")?;
    let flags = r.u8().ok_or("truncated connect flags")?;
    if flags & 0x01 != 0 {
        return Err("reserved connect flag set");
    }
    let keep_alive = r.u16().ok_or("truncated keep alive")?;
    let mut connect =
        Connect { protocol, level, clean_start: flags & 0x02 != 0, keep_alive, ..Connect::default() };
    if connect.level_supported().is_none() {
        // Answered "unacceptable protocol version" without reading further, as brokers do.
        return Ok(connect);
    }
    let v5 = connect.is_v5();
    if v5 {
        r.skip_properties().ok_or("malformed connect properties")?;
    }
    connect.client_id = r.binary().ok_or("truncated client identifier")?.to_vec();
    if flags & 0x04 != 0 {
        if v5 {
            r.skip_properties().ok_or("malformed will properties")?;
        }
        let topic = r.binary().ok_or("truncated will topic")?.to_vec();
        let message = r.binary().ok_or("truncated will message")?.to_vec();
        connect.will = Some((topic, message));
    }
    if flags & 0x80 != 0 {
        connect.username = Some(r.binary().ok_or("truncated user name")?.to_vec());
    }
    if flags & 0x40 != 0 {
        connect.password = Some(r.binary().ok_or("truncated password")?.to_vec());
    }
    Ok(connect)
}

/// The `auth` event of a CONNECT.
fn record_connect(session: &Session, connect: &Connect, success: bool) {
    let mut fields = Fields::new()
        .bytes("protocol", &connect.protocol)
        .num("protocol_level", connect.level.into())
        .bytes("client_id", &connect.client_id);
    if let Some(username) = &connect.username {
        fields = fields.bytes("username", username);
    }
    if let Some(password) = &connect.password {
        fields = fields.bytes("password", password);
    }
    fields = fields.num("keep_alive", connect.keep_alive.into()).flag("clean_start", connect.clean_start);
    if let Some((topic, message)) = &connect.will {
        fields = fields.bytes("will_topic", topic).bytes("will_message", bounded(message));
    }
    session.record("auth", fields.flag("success", success));
}

/// The CONNACK for `connect`: MQTT 5 ones carry the broker's limits and, for an empty client
/// id, the one assigned.
fn connack(connect: &Connect, code: ConnackCode) -> Vec<u8> {
    let mut body = vec![0, code.byte(connect.is_v5())];
    if connect.is_v5() {
        let mut properties = Vec::new();
        if code == ConnackCode::Accepted {
            properties.push(0x27); // Maximum Packet Size
            properties.extend_from_slice(&(MAX_PACKET as u32).to_be_bytes());
            properties.extend_from_slice(&[0x22, 0, 10]); // Topic Alias Maximum
            if connect.client_id.is_empty() {
                let id = format!("auto-{:08X}-{:04X}", fastrand::u32(..), fastrand::u16(..));
                properties.push(0x12); // Assigned Client Identifier
                properties.extend(string(id.as_bytes()));
            }
        }
        body.extend(varint(properties.len()));
        body.extend(properties);
    }
    frame(packet::CONNACK << 4, &body)
}

/// PUBACK, PUBREC or PUBCOMP (`kind`, with `flags`) for the packet id at the start of `body`.
fn ack(kind: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let id = body.get(..2).unwrap_or(&[0, 0]);
    frame(kind << 4 | flags, id)
}

/// One connection: the packet stream and what the client subscribed to.
struct Conn {
    io: BufReader<Stream>,
    /// MQTT 5 adds properties and reason codes to packets.
    v5: bool,
    subscriptions: Vec<Vec<u8>>,
}

/// What reading one packet gave.
enum Read {
    /// Type, flags (the low nibble of the first byte) and body.
    Packet(u8, u8, Vec<u8>),
    Gone,
    Malformed(&'static str),
}

/// The (topic filter, subscription options) pairs of a SUBSCRIBE or UNSUBSCRIBE.
type Filters = Vec<(Vec<u8>, u8)>;

/// The result of serving one packet: `Err` is a protocol error that closes the connection.
type Served = Result<(), String>;

impl Conn {
    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.io.get_mut();
        stream.write_all(bytes).await?;
        stream.flush().await
    }

    /// Reads one control packet; its length is checked before anything is allocated for it.
    async fn read_packet(&mut self) -> io::Result<Read> {
        let Some(first) = self.read_byte().await? else { return Ok(Read::Gone) };
        let mut length = 0usize;
        for position in 0..4 {
            let Some(byte) = self.read_byte().await? else { return Ok(Read::Gone) };
            length |= usize::from(byte & 0x7f) << (7 * position);
            if byte & 0x80 == 0 {
                if length > MAX_PACKET {
                    return Ok(Read::Malformed("packet too large"));
                }
                let mut body = vec![0u8; length];
                return match self.io.read_exact(&mut body).await {
                    Ok(_) => Ok(Read::Packet(first >> 4, first & 0x0f, body)),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Read::Gone),
                    Err(e) => Err(e),
                };
            }
        }
        Ok(Read::Malformed("remaining length longer than four bytes"))
    }

    async fn read_byte(&mut self) -> io::Result<Option<u8>> {
        match self.io.read_u8().await {
            Ok(byte) => Ok(Some(byte)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records a PUBLISH, acknowledges it by its QoS, and delivers it to the client's own
    /// matching subscriptions.
    async fn publish(&mut self, session: &Session, flags: u8, body: &[u8]) -> io::Result<Served> {
        let qos = (flags >> 1) & 0x03;
        if qos == 3 {
            return Ok(Err("PUBLISH with QoS 3".to_owned()));
        }
        let mut r = Reader(body);
        let Some(topic) = r.binary() else { return Ok(Err("truncated PUBLISH topic".to_owned())) };
        let id = if qos > 0 { r.u16() } else { Some(0) };
        let Some(id) = id else { return Ok(Err("truncated PUBLISH packet id".to_owned())) };
        if self.v5 && r.skip_properties().is_none() {
            return Ok(Err("malformed PUBLISH properties".to_owned()));
        }
        let payload = r.0;
        session.record(
            "publish",
            Fields::new()
                .bytes("topic", topic)
                .num("qos", qos.into())
                .flag("retain", flags & 0x01 != 0)
                .bytes("payload", bounded(payload))
                .num("payload_bytes", payload.len() as u64),
        );
        match qos {
            1 => self.send(&frame(packet::PUBACK << 4, &id.to_be_bytes())).await?,
            2 => self.send(&frame(packet::PUBREC << 4, &id.to_be_bytes())).await?,
            _ => {}
        }
        if self.subscriptions.iter().any(|filter| topic_matches(filter, topic)) {
            let delivery = self.delivery(topic, payload, false);
            self.send(&delivery).await?;
        }
        Ok(Ok(()))
    }

    /// Records a SUBSCRIBE, grants each filter its QoS, then sends the retained messages it
    /// matches.
    async fn subscribe(
        &mut self,
        session: &Session,
        body: &[u8],
        retained: &[(String, Vec<u8>)],
    ) -> io::Result<Served> {
        let Some((id, requests)) = self.filters(body, true) else {
            return Ok(Err("malformed SUBSCRIBE".to_owned()));
        };
        let recorded: Vec<serde_json::Value> = requests
            .iter()
            .take(MAX_SUBSCRIPTIONS)
            .map(|(filter, options)| {
                serde_json::json!({"filter": String::from_utf8_lossy(filter), "qos": options & 0x03})
            })
            .collect();
        session.record("subscribe", Fields::new().value("filters", recorded.into()));
        let mut granted = Vec::with_capacity(requests.len());
        for (filter, options) in &requests {
            let valid = filter_is_valid(filter) && options & 0x03 != 3;
            granted.push(if valid { options & 0x03 } else { 0x80 });
            if valid && self.subscriptions.len() < MAX_SUBSCRIPTIONS && !self.subscriptions.contains(filter) {
                self.subscriptions.push(filter.clone());
            }
        }
        let mut reply = id.to_be_bytes().to_vec();
        if self.v5 {
            reply.push(0);
        }
        reply.extend(granted);
        self.send(&frame(packet::SUBACK << 4, &reply)).await?;
        for (topic, payload) in retained {
            if requests.iter().any(|(filter, _)| topic_matches(filter, topic.as_bytes())) {
                let delivery = self.delivery(topic.as_bytes(), payload, true);
                self.send(&delivery).await?;
            }
        }
        Ok(Ok(()))
    }

    async fn unsubscribe(&mut self, session: &Session, body: &[u8]) -> io::Result<Served> {
        let Some((id, filters)) = self.filters(body, false) else {
            return Ok(Err("malformed UNSUBSCRIBE".to_owned()));
        };
        let recorded: Vec<serde_json::Value> =
            filters.iter().take(MAX_SUBSCRIPTIONS).map(|(f, _)| String::from_utf8_lossy(f).into()).collect();
        session.record("unsubscribe", Fields::new().value("filters", recorded.into()));
        let mut reply = id.to_be_bytes().to_vec();
        if self.v5 {
            reply.push(0);
            for (filter, _) in &filters {
                reply.push(if self.subscriptions.contains(filter) { 0x00 } else { 0x11 });
            }
        }
        self.subscriptions.retain(|s| !filters.iter().any(|(f, _)| f == s));
        self.send(&frame(packet::UNSUBACK << 4, &reply)).await?;
        Ok(Ok(()))
    }

    /// The packet id and the (filter, options) pairs of a SUBSCRIBE (`with_options`) or an
    /// UNSUBSCRIBE; at least one filter.
    fn filters(&self, body: &[u8], with_options: bool) -> Option<(u16, Filters)> {
        let mut r = Reader(body);
        let id = r.u16()?;
        if self.v5 {
            r.skip_properties()?;
        }
        let mut filters = Vec::new();
        while !r.0.is_empty() {
            let filter = r.binary()?.to_vec();
            let options = if with_options { r.u8()? } else { 0 };
            filters.push((filter, options));
        }
        (!filters.is_empty()).then_some((id, filters))
    }

    /// A QoS 0 PUBLISH of `payload` on `topic` to this client.
    fn delivery(&self, topic: &[u8], payload: &[u8], retain: bool) -> Vec<u8> {
        let mut body = string(topic);
        if self.v5 {
            body.push(0);
        }
        body.extend_from_slice(payload);
        frame(packet::PUBLISH << 4 | u8::from(retain), &body)
    }
}

/// Records a `protocol_error` and ends the connection, as the broker drops such a client.
fn protocol_error(session: &Session, error: &str) -> io::Result<EndReason> {
    session.record("protocol_error", Fields::new().text("error", error));
    Ok(EndReason::Closed)
}

/// Whether `topic` matches subscription `filter` (`+` one level, `#` the rest; topics
/// beginning with `$` are not matched by a filter beginning with a wildcard).
fn topic_matches(filter: &[u8], topic: &[u8]) -> bool {
    if topic.first() == Some(&b'$') && matches!(filter.first(), Some(b'+' | b'#')) {
        return false;
    }
    let mut levels = topic.split(|&b| b == b'/');
    for part in filter.split(|&b| b == b'/') {
        match (part, levels.next()) {
            (b"#", _) => return true,
            (b"+", Some(_)) => {}
            (part, Some(level)) if part == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// A filter is not empty, and `#` / `+` stand alone in their level, `#` only last.
fn filter_is_valid(filter: &[u8]) -> bool {
    let levels: Vec<&[u8]> = filter.split(|&b| b == b'/').collect();
    !filter.is_empty()
        && levels.iter().enumerate().all(|(i, level)| {
            let wild =
                |w: u8| level.contains(&w) && (level.len() != 1 || (w == b'#' && i + 1 != levels.len()));
            !wild(b'#') && !wild(b'+')
        })
}

/// A packet: first byte, remaining length, body.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(varint(body.len()));
    out.extend_from_slice(body);
    out
}

/// MQTT's variable byte integer.
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    loop {
        let byte = (n % 128) as u8;
        n /= 128;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A length-prefixed string (at most 64 KiB of it).
fn string(bytes: &[u8]) -> Vec<u8> {
    let bytes = &bytes[..bytes.len().min(usize::from(u16::MAX))];
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

fn bounded(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_RECORDED_PAYLOAD)]
}

/// A cursor over a packet body; every read checks what is left.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let taken = self.0.get(..n)?;
        self.0 = &self.0[n..];
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let bytes = self.take(2)?;
        Some(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// A string or binary field: two length bytes, then the bytes.
    fn binary(&mut self) -> Option<&'a [u8]> {
        let length = self.u16()?;
        self.take(usize::from(length))
    }

    fn varint(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for position in 0..4 {
            let byte = self.u8()?;
            n |= usize::from(byte & 0x7f) << (7 * position);
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// MQTT 5 properties: their length, then that many bytes, skipped.
    fn skip_properties(&mut self) -> Option<()> {
        let length = self.varint()?;
        self.take(length).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqtt(pairs: &[(&str, &str)]) -> Mqtt {
        Mqtt::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap()
    }

    fn connect_body(level: u8, username: Option<&str>, password: Option<&str>) -> Vec<u8> {
        let mut body = string(if level == 3 { b"MQIsdp" } else { b"MQTT" });
        let flags =
            0x02 | if username.is_some() { 0x80 } else { 0 } | if password.is_some() { 0x40 } else { 0 };
        body.extend([level, flags, 0, 60]);
        if level >= 5 {
            body.push(0);
        }
        body.extend(string(b"sensor-7"));
        for field in [username, password].into_iter().flatten() {
            body.extend(string(field.as_bytes()));
        }
        body
    }

    #[test]
    fn connect_is_parsed_for_every_version() {
        for level in [3, 4, 5] {
            let connect = parse_connect(&connect_body(level, Some("admin"), Some("pw"))).unwrap();
            assert_eq!(connect.client_id, b"sensor-7");
            assert_eq!(connect.username.as_deref(), Some(&b"admin"[..]));
            assert_eq!(connect.password.as_deref(), Some(&b"pw"[..]));
            assert!(connect.level_supported().is_some());
        }
        let whole = connect_body(5, Some("admin"), Some("pw"));
        for cut in 0..whole.len() {
            assert!(parse_connect(&whole[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn credentials_decide_the_connack() {
        let connect = |u, p| parse_connect(&connect_body(4, u, p)).unwrap();
        let open = mqtt(&[]);
        assert_eq!(open.connack_code(&connect(None, None)), ConnackCode::Accepted);
        let closed = mqtt(&[("MQTT_CREDS", "plc:Siemens1,ops:")]);
        assert_eq!(closed.connack_code(&connect(Some("plc"), Some("Siemens1"))), ConnackCode::Accepted);
        assert_eq!(closed.connack_code(&connect(Some("ops"), None)), ConnackCode::Accepted);
        assert_eq!(closed.connack_code(&connect(Some("plc"), Some("x"))), ConnackCode::NotAuthorized);
        assert_eq!(closed.connack_code(&connect(None, None)), ConnackCode::NotAuthorized);
        let both = mqtt(&[("MQTT_CREDS", "plc:Siemens1"), ("MQTT_ACCEPT_ALL", "true")]);
        assert_eq!(both.connack_code(&connect(Some("plc"), Some("x"))), ConnackCode::Accepted);
        let unknown = Connect { protocol: b"MQTT".to_vec(), level: 9, ..Connect::default() };
        assert_eq!(open.connack_code(&unknown), ConnackCode::UnacceptableProtocolVersion);
        assert_eq!(connack(&unknown, ConnackCode::UnacceptableProtocolVersion), [0x20, 2, 0, 1]);
    }

    #[test]
    fn topics_match_filters_as_brokers_do() {
        assert!(topic_matches(b"#", b"plant/site1/pump/1/state"));
        assert!(topic_matches(b"plant/+/pump/#", b"plant/site1/pump/1/state"));
        assert!(topic_matches(b"a/#", b"a"));
        assert!(!topic_matches(b"plant/+", b"plant/site1/pump"));
        assert!(!topic_matches(b"#", b"$SYS/broker/version"));
        assert!(topic_matches(b"$SYS/#", b"$SYS/broker/version"));
        assert!(filter_is_valid(b"a/+/b/#") && filter_is_valid(b"#") && filter_is_valid(b"+"));
        assert!(!filter_is_valid(b"a/#/b") && !filter_is_valid(b"a+") && !filter_is_valid(b""));
    }

    #[test]
    fn personas_are_stable_per_decky_and_configurable() {
        let a = mqtt(&[("NODE_NAME", "iot-01")]);
        assert_eq!(a.retained, mqtt(&[("NODE_NAME", "iot-01")]).retained);
        let solar = mqtt(&[("NODE_NAME", "iot-01"), ("MQTT_PERSONA", "solar_farm")]);
        assert!(solar.retained.iter().all(|(topic, _)| topic.starts_with("solar/")), "{:?}", solar.retained);
        for (var, bad) in [("MQTT_PERSONA", "moon_base"), ("MQTT_ACCEPT_ALL", "perhaps"), ("MQTT_CREDS", "x")]
        {
            let Err(error) = Mqtt::from_env(&Env::from_pairs([(var, bad)])) else { panic!("{bad} accepted") };
            assert_eq!(error.var, var);
        }
    }

    #[test]
    fn varints_encode_as_the_specification_shows() {
        assert_eq!(varint(0), [0]);
        assert_eq!(varint(127), [0x7f]);
        assert_eq!(varint(128), [0x80, 0x01]);
        assert_eq!(varint(16_383), [0xff, 0x7f]);
        assert_eq!(Reader(&varint(2_097_151)).varint(), Some(2_097_151));
        assert_eq!(Reader(&[0xff, 0xff, 0xff, 0xff, 0x01]).varint(), None);
    }
}
