//! From parsed frames to events: which frames are worth recording (ARP who-has, gratuitous
//! ARP, address conflicts, connection attempts), deduplicated by a [`Tracker`].
//!
//! Invariants: the address table holds at most `capacity` addresses (when full, addresses
//! not heard from for a window are forgotten, and new ones are not learnt until there is
//! room); one frame yields at most two events (an announcement and a conflict).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::packet::{self, Arp, ArpOp, Frame, Ipv4, L4, Mac, tcp_flags};
use super::tracker::{Tracker, Verdict};
use crate::event::{Event, Fields, Kind};
use crate::ports::Transport;
use crate::recorder::Recorder;

/// ICMP requests recorded as probes: echo, timestamp, address mask.
const ICMP_REQUESTS: [u8; 3] = [8, 13, 17];

/// Something seen on the wire that is worth an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sighting {
    /// ARP who-has: `sender` asks for `target` (sender `0.0.0.0` is an RFC 5227 probe).
    ArpProbe { mac: Mac, sender: Ipv4Addr, target: Ipv4Addr },
    /// Gratuitous ARP: `mac` announces `ip`.
    ArpAnnounce { mac: Mac, ip: Ipv4Addr, op: ArpOp },
    /// `ip`, last heard at `previous`, is now claimed by `mac`.
    ArpConflict { mac: Mac, ip: Ipv4Addr, previous: Mac },
    /// A TCP segment without ACK or RST (SYN, NULL, FIN, Xmas), a UDP datagram or an ICMP
    /// request.
    Probe(Ipv4),
}

/// What a sighting is deduplicated by: kind, addresses, protocol and port (ICMP: type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    kind: &'static str,
    mac: Mac,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: &'static str,
    port: u16,
}

impl Sighting {
    pub fn key(&self) -> Key {
        let arp = |kind, mac, src, dst| Key { kind, mac, src, dst, proto: "arp", port: 0 };
        match *self {
            Sighting::ArpProbe { mac, sender, target } => arp("arp_probe", mac, sender, target),
            Sighting::ArpAnnounce { mac, ip, .. } => arp("arp_announce", mac, ip, ip),
            Sighting::ArpConflict { mac, ip, .. } => arp("arp_conflict", mac, ip, ip),
            Sighting::Probe(ip) => {
                let (proto, port) = proto_and_port(ip.transport);
                Key { kind: "probe", mac: [0; 6], src: ip.src, dst: ip.dst, proto, port }
            }
        }
    }

    /// The event of this sighting, with the tracker's counts.
    pub fn event(&self, repeats: u64, dropped: u64) -> Event<'static> {
        let counts = Fields::new().num("repeats", repeats).num("dropped", dropped);
        let arp_fields =
            |mac: &Mac| Fields::new().text("proto", "arp").text("src_mac", packet::mac_string(mac));
        let (transport, src, dst_port, name, fields) = match *self {
            Sighting::ArpProbe { mac, sender, target } => {
                let fields = arp_fields(&mac).text("target_ip", target.to_string());
                (Transport::Udp, (sender, 0), 0, "arp_probe", fields)
            }
            Sighting::ArpAnnounce { mac, ip, op } => {
                (Transport::Udp, (ip, 0), 0, "arp_announce", arp_fields(&mac).text("op", op.as_str()))
            }
            Sighting::ArpConflict { mac, ip, previous } => {
                let fields = arp_fields(&mac).text("previous_mac", packet::mac_string(&previous));
                (Transport::Udp, (ip, 0), 0, "arp_conflict", fields)
            }
            Sighting::Probe(ip) => probe_parts(&ip),
        };
        Event {
            transport,
            src: Some(SocketAddr::new(IpAddr::V4(src.0), src.1)),
            dst_port,
            conn: None,
            kind: Kind::Protocol { name, fields: fields.merge(counts) },
        }
    }
}

type Parts = (Transport, (Ipv4Addr, u16), u16, &'static str, Fields);

fn probe_parts(ip: &Ipv4) -> Parts {
    let (proto, _) = proto_and_port(ip.transport);
    let fields = Fields::new()
        .text("proto", proto)
        .text("dst_ip", ip.dst.to_string())
        .text("src_mac", packet::mac_string(&ip.src_mac));
    match ip.transport {
        L4::Tcp { src_port, dst_port, flags } => {
            let fields = fields.text("tcp_flags", packet::tcp_flag_names(flags));
            (Transport::Tcp, (ip.src, src_port), dst_port, "probe", fields)
        }
        L4::Udp { src_port, dst_port } => (Transport::Udp, (ip.src, src_port), dst_port, "probe", fields),
        L4::Icmp { icmp_type, .. } => {
            (Transport::Udp, (ip.src, 0), 0, "probe", fields.num("icmp_type", icmp_type.into()))
        }
        L4::Other { protocol } => {
            (Transport::Udp, (ip.src, 0), 0, "probe", fields.num("ip_proto", protocol.into()))
        }
    }
}

/// The `proto` name and the port a probe is deduplicated by (ICMP: its type).
fn proto_and_port(l4: L4) -> (&'static str, u16) {
    match l4 {
        L4::Tcp { dst_port, .. } => ("tcp", dst_port),
        L4::Udp { dst_port, .. } => ("udp", dst_port),
        L4::Icmp { icmp_type, .. } => ("icmp", icmp_type.into()),
        L4::Other { protocol } => ("other", protocol.into()),
    }
}

/// Classifies frames, learns which MAC holds which address, and records what the tracker
/// lets through.
pub struct Observer {
    window: Duration,
    capacity: usize,
    tracker: Tracker<Key>,
    /// Address → (MAC last heard claiming it, when).
    holders: HashMap<Ipv4Addr, (Mac, Instant)>,
}

impl Observer {
    pub fn new(window: Duration, capacity: usize, now: Instant) -> Self {
        Self { window, capacity, tracker: Tracker::new(window, capacity, now), holders: HashMap::new() }
    }

    /// Records what `frame` shows, if anything.
    pub fn frame(&mut self, frame: &[u8], now: Instant, recorder: &Recorder) {
        let Some(parsed) = packet::parse(frame) else { return };
        for sighting in self.classify(parsed, now).into_iter().flatten() {
            if let Verdict::Record { repeats, dropped } = self.tracker.observe(sighting.key(), now) {
                recorder.record(&sighting.event(repeats, dropped));
            }
        }
    }

    /// What `frame` shows: at most an ARP sighting and a conflict, or a probe.
    pub fn classify(&mut self, frame: Frame, now: Instant) -> [Option<Sighting>; 2] {
        match frame {
            Frame::Arp(arp) => [arp_sighting(&arp), self.learn(&arp, now)],
            Frame::Ipv4(ip) => [is_probe(ip.transport).then_some(Sighting::Probe(ip)), None],
        }
    }

    /// Remembers who claims the sender address; a different MAC than last time is a conflict.
    fn learn(&mut self, arp: &Arp, now: Instant) -> Option<Sighting> {
        if arp.sender_ip.is_unspecified() {
            return None;
        }
        let previous = self.holders.get(&arp.sender_ip).map(|&(mac, _)| mac);
        if previous.is_none() && !self.has_room(now) {
            return None;
        }
        self.holders.insert(arp.sender_ip, (arp.sender_mac, now));
        previous.filter(|&mac| mac != arp.sender_mac).map(|previous| Sighting::ArpConflict {
            mac: arp.sender_mac,
            ip: arp.sender_ip,
            previous,
        })
    }

    fn has_room(&mut self, now: Instant) -> bool {
        if self.holders.len() >= self.capacity {
            let window = self.window;
            self.holders.retain(|_, &mut (_, heard)| now.saturating_duration_since(heard) < window);
        }
        self.holders.len() < self.capacity
    }
}

/// Who-has requests and gratuitous ARP (a request or reply for the sender's own address, or
/// a reply broadcast to everyone); ordinary replies are not sightings.
fn arp_sighting(arp: &Arp) -> Option<Sighting> {
    let own_address = arp.sender_ip == arp.target_ip && !arp.sender_ip.is_unspecified();
    match arp.op {
        _ if own_address => {
            Some(Sighting::ArpAnnounce { mac: arp.sender_mac, ip: arp.sender_ip, op: arp.op })
        }
        ArpOp::Request => {
            Some(Sighting::ArpProbe { mac: arp.sender_mac, sender: arp.sender_ip, target: arp.target_ip })
        }
        ArpOp::Reply if arp.eth_dst == packet::BROADCAST => {
            Some(Sighting::ArpAnnounce { mac: arp.sender_mac, ip: arp.sender_ip, op: arp.op })
        }
        ArpOp::Reply => None,
    }
}

/// Whether a transport header is a first contact rather than part of a conversation.
fn is_probe(l4: L4) -> bool {
    match l4 {
        L4::Tcp { flags, .. } => flags & (tcp_flags::ACK | tcp_flags::RST) == 0,
        L4::Udp { .. } => true,
        L4::Icmp { icmp_type, .. } => ICMP_REQUESTS.contains(&icmp_type),
        L4::Other { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::packet::BROADCAST;
    use super::super::packet::frames::*;
    use super::*;

    const A: [u8; 4] = [10, 249, 0, 2];
    const B: [u8; 4] = [10, 249, 0, 9];
    const WINDOW: Duration = Duration::from_secs(300);

    fn observe(frames: &[Vec<u8>]) -> Vec<Value> {
        let (recorder, log) = Recorder::memory("lab-sniffer", "sniffer");
        let now = Instant::now();
        let mut observer = Observer::new(WINDOW, 64, now);
        for frame in frames {
            observer.frame(frame, now, &recorder);
        }
        let events = log.lines().iter().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<Value>>();
        // The common fields are checked once here; tests compare the rest.
        events
            .into_iter()
            .map(|mut e| {
                let o = e.as_object_mut().unwrap();
                assert_eq!((o.remove("v"), o.remove("service")), (Some(json!(1)), Some(json!("sniffer"))));
                assert_eq!(o.remove("decky"), Some(json!("lab-sniffer")));
                assert!(o.remove("ts").is_some());
                e
            })
            .collect()
    }

    #[test]
    fn who_has_is_an_arp_probe_recorded_once_per_window() {
        let events = observe(&[who_has(A, B), who_has(A, B), who_has(A, [10, 249, 0, 10])]);
        assert_eq!(
            events,
            [
                json!({"kind":"arp_probe","transport":"udp","src_ip":"10.249.0.2","src_port":0,"dst_port":0,
                    "proto":"arp","src_mac":"02:00:00:00:00:0a","target_ip":"10.249.0.9","repeats":0,"dropped":0}),
                json!({"kind":"arp_probe","transport":"udp","src_ip":"10.249.0.2","src_port":0,"dst_port":0,
                    "proto":"arp","src_mac":"02:00:00:00:00:0a","target_ip":"10.249.0.10","repeats":0,"dropped":0}),
            ]
        );
    }

    #[test]
    fn gratuitous_arp_and_a_conflict() {
        let announce = arp(1, (MAC_A, B), ([0; 6], B), BROADCAST);
        let rival = arp(2, (MAC_B, B), ([0; 6], B), BROADCAST);
        let events = observe(&[announce, rival]);
        let kinds: Vec<_> =
            events.iter().map(|e| (e["kind"].as_str().unwrap(), e["src_mac"].clone())).collect();
        assert_eq!(
            kinds,
            [
                ("arp_announce", json!("02:00:00:00:00:0a")),
                ("arp_announce", json!("02:00:00:00:00:0b")),
                ("arp_conflict", json!("02:00:00:00:00:0b")),
            ]
        );
        assert_eq!((&events[1]["op"], &events[1]["src_ip"]), (&json!("reply"), &json!("10.249.0.9")));
        assert_eq!(events[2]["previous_mac"], "02:00:00:00:00:0a");
    }

    #[test]
    fn ordinary_replies_and_rfc5227_probes() {
        let reply = arp(2, (MAC_B, B), (MAC_A, A), MAC_A);
        let probe = arp(1, (MAC_A, [0; 4]), ([0; 6], B), BROADCAST);
        let events = observe(&[reply, probe]);
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!((&events[0]["kind"], &events[0]["src_ip"]), (&json!("arp_probe"), &json!("0.0.0.0")));
    }

    #[test]
    fn probes_syn_udp_and_echo_but_not_conversations() {
        let syn = tcp(A, B, (40000, 22), tcp_flags::SYN);
        let syn_again = tcp(A, B, (40001, 22), tcp_flags::SYN);
        let established = tcp(A, B, (40000, 22), tcp_flags::ACK | tcp_flags::PSH);
        let reset = tcp(A, B, (40000, 22), tcp_flags::RST);
        let xmas = tcp(A, B, (40000, 23), tcp_flags::FIN | tcp_flags::PSH | tcp_flags::URG);
        let reply = ipv4(1, A, B, &[0, 0, 0, 0]);
        let events =
            observe(&[syn, syn_again, established, reset, xmas, udp(A, B, (5000, 53)), echo(A, B), reply]);
        assert_eq!(
            events,
            [
                json!({"kind":"probe","transport":"tcp","src_ip":"10.249.0.2","src_port":40000,"dst_port":22,
                    "proto":"tcp","dst_ip":"10.249.0.9","src_mac":"02:00:00:00:00:0a","tcp_flags":"SYN",
                    "repeats":0,"dropped":0}),
                json!({"kind":"probe","transport":"tcp","src_ip":"10.249.0.2","src_port":40000,"dst_port":23,
                    "proto":"tcp","dst_ip":"10.249.0.9","src_mac":"02:00:00:00:00:0a","tcp_flags":"FIN,PSH,URG",
                    "repeats":0,"dropped":0}),
                json!({"kind":"probe","transport":"udp","src_ip":"10.249.0.2","src_port":5000,"dst_port":53,
                    "proto":"udp","dst_ip":"10.249.0.9","src_mac":"02:00:00:00:00:0a","repeats":0,"dropped":0}),
                json!({"kind":"probe","transport":"udp","src_ip":"10.249.0.2","src_port":0,"dst_port":0,
                    "proto":"icmp","dst_ip":"10.249.0.9","src_mac":"02:00:00:00:00:0a","icmp_type":8,
                    "repeats":0,"dropped":0}),
            ]
        );
    }

    #[test]
    fn the_address_table_is_bounded() {
        let now = Instant::now();
        let mut observer = Observer::new(WINDOW, 2, now);
        for last in 1..=5u8 {
            let Some(frame) = packet::parse(&who_has([10, 249, 1, last], B)) else { panic!() };
            observer.classify(frame, now);
        }
        assert_eq!(observer.holders.len(), 2);
        let Some(frame) = packet::parse(&who_has([10, 249, 1, 9], B)) else { panic!() };
        observer.classify(frame, now + WINDOW);
        assert_eq!(observer.holders.len(), 1, "expired addresses are forgotten when full");
    }

    #[test]
    fn garbage_frames_never_panic() {
        let mut rng = fastrand::Rng::with_seed(11);
        let frames: Vec<Vec<u8>> =
            (0..5000).map(|_| (0..rng.usize(0..60)).map(|_| rng.u8(..)).collect()).collect();
        let (recorder, _log) = Recorder::memory("d", "sniffer");
        let mut observer = Observer::new(WINDOW, 64, Instant::now());
        for frame in &frames {
            observer.frame(frame, Instant::now(), &recorder);
        }
    }
}
