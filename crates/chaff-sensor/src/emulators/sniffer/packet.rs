//! Header parsing of captured Ethernet frames: Ethernet (with at most one 802.1Q tag), ARP
//! over Ethernet/IPv4, and IPv4 with the first bytes of TCP, UDP or ICMP.
//!
//! Invariants: every read goes through a bounds-checked slice accessor, so a truncated or
//! hostile frame yields `None` (or a shorter parse), never a panic; nothing is allocated.

use std::net::Ipv4Addr;

/// A MAC address.
pub type Mac = [u8; 6];

/// The all-ones Ethernet destination.
pub const BROADCAST: Mac = [0xff; 6];

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERNET_HEADER: usize = 14;
const VLAN_TAG: usize = 4;

const IP_PROTO_ICMP: u8 = 1;
const IP_PROTO_TCP: u8 = 6;
const IP_PROTO_UDP: u8 = 17;

/// One frame, as far as the sniffer cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    Arp(Arp),
    Ipv4(Ipv4),
}

/// `op` of an ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
}

impl ArpOp {
    pub const fn as_str(self) -> &'static str {
        match self {
            ArpOp::Request => "request",
            ArpOp::Reply => "reply",
        }
    }
}

/// An ARP packet for IPv4 over Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arp {
    /// The Ethernet destination of the frame (broadcast for a who-has).
    pub eth_dst: Mac,
    pub op: ArpOp,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

/// An IPv4 packet: addresses and what its transport header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4 {
    pub src_mac: Mac,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub transport: L4,
}

/// The transport header of an IPv4 packet (first fragment only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: u8,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    Icmp {
        icmp_type: u8,
        code: u8,
    },
    /// Another protocol, a later fragment, or a header cut short.
    Other {
        protocol: u8,
    },
}

/// TCP flag bits, low byte of the flags field.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
    /// Names in the order they are written.
    pub const NAMES: [(u8, &str); 8] = [
        (SYN, "SYN"),
        (ACK, "ACK"),
        (FIN, "FIN"),
        (RST, "RST"),
        (PSH, "PSH"),
        (URG, "URG"),
        (ECE, "ECE"),
        (CWR, "CWR"),
    ];
}

/// `flags` as names joined by `,` (`"SYN"`, `"FIN,PSH,URG"`); `""` for none.
pub fn tcp_flag_names(flags: u8) -> String {
    let names: Vec<&str> =
        tcp_flags::NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|&(_, name)| name).collect();
    names.join(",")
}

/// `mac` as `aa:bb:cc:dd:ee:ff`.
pub fn mac_string(mac: &Mac) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// The frame's ARP or IPv4 content; `None` for anything else or anything malformed.
pub fn parse(frame: &[u8]) -> Option<Frame> {
    let eth_dst = mac_at(frame, 0)?;
    let src_mac = mac_at(frame, 6)?;
    let mut ethertype = u16_at(frame, 12)?;
    let mut payload = frame.get(ETHERNET_HEADER..)?;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = u16_at(payload, 2)?;
        payload = payload.get(VLAN_TAG..)?;
    }
    match ethertype {
        ETHERTYPE_ARP => parse_arp(eth_dst, payload).map(Frame::Arp),
        ETHERTYPE_IPV4 => parse_ipv4(src_mac, payload).map(Frame::Ipv4),
        _ => None,
    }
}

/// ARP for Ethernet (htype 1, hlen 6) and IPv4 (ptype 0x0800, plen 4) only.
fn parse_arp(eth_dst: Mac, p: &[u8]) -> Option<Arp> {
    let well_formed = u16_at(p, 0)? == 1 && u16_at(p, 2)? == ETHERTYPE_IPV4 && p.get(4..6)? == [6, 4];
    if !well_formed {
        return None;
    }
    let op = match u16_at(p, 6)? {
        1 => ArpOp::Request,
        2 => ArpOp::Reply,
        _ => return None,
    };
    Some(Arp {
        eth_dst,
        op,
        sender_mac: mac_at(p, 8)?,
        sender_ip: ipv4_at(p, 14)?,
        target_mac: mac_at(p, 18)?,
        target_ip: ipv4_at(p, 24)?,
    })
}

/// An IPv4 header (version 4, IHL ≥ 5 and within the packet) and its transport header.
fn parse_ipv4(src_mac: Mac, p: &[u8]) -> Option<Ipv4> {
    let first = *p.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < 20 {
        return None;
    }
    let protocol = *p.get(9)?;
    let (src, dst) = (ipv4_at(p, 12)?, ipv4_at(p, 16)?);
    // A later fragment starts mid-datagram: its first bytes are not a transport header.
    let fragment_offset = u16_at(p, 6)? & 0x1fff;
    let body = p.get(header_len..)?;
    let transport = if fragment_offset != 0 { L4::Other { protocol } } else { parse_l4(protocol, body) };
    Some(Ipv4 { src_mac, src, dst, transport })
}

fn parse_l4(protocol: u8, b: &[u8]) -> L4 {
    let parsed = match protocol {
        IP_PROTO_TCP => {
            (|| Some(L4::Tcp { src_port: u16_at(b, 0)?, dst_port: u16_at(b, 2)?, flags: *b.get(13)? }))()
        }
        IP_PROTO_UDP => (|| Some(L4::Udp { src_port: u16_at(b, 0)?, dst_port: u16_at(b, 2)? }))(),
        IP_PROTO_ICMP => (|| Some(L4::Icmp { icmp_type: *b.first()?, code: *b.get(1)? }))(),
        _ => None,
    };
    parsed.unwrap_or(L4::Other { protocol })
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn mac_at(b: &[u8], at: usize) -> Option<Mac> {
    b.get(at..at + 6)?.try_into().ok()
}

fn ipv4_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

/// Handmade frames, shared by the tests of this module and of the classifier.
#[cfg(test)]
pub mod frames {
    use super::*;

    pub const MAC_A: Mac = [0x02, 0, 0, 0, 0, 0x0a];
    pub const MAC_B: Mac = [0x02, 0, 0, 0, 0, 0x0b];

    pub fn ethernet(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    pub fn arp(op: u16, sender: (Mac, [u8; 4]), target: (Mac, [u8; 4]), eth_dst: Mac) -> Vec<u8> {
        let mut p = vec![0, 1, 0x08, 0x00, 6, 4];
        p.extend_from_slice(&op.to_be_bytes());
        p.extend_from_slice(&sender.0);
        p.extend_from_slice(&sender.1);
        p.extend_from_slice(&target.0);
        p.extend_from_slice(&target.1);
        ethernet(eth_dst, sender.0, ETHERTYPE_ARP, &p)
    }

    pub fn who_has(sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
        arp(1, (MAC_A, sender_ip), ([0; 6], target_ip), BROADCAST)
    }

    pub fn ipv4(protocol: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let total = (20 + l4.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(l4);
        ethernet(MAC_B, MAC_A, ETHERTYPE_IPV4, &p)
    }

    pub fn tcp(src: [u8; 4], dst: [u8; 4], ports: (u16, u16), flags: u8) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&ports.0.to_be_bytes());
        h.extend_from_slice(&ports.1.to_be_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        ipv4(IP_PROTO_TCP, src, dst, &h)
    }

    pub fn udp(src: [u8; 4], dst: [u8; 4], ports: (u16, u16)) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&ports.0.to_be_bytes());
        h.extend_from_slice(&ports.1.to_be_bytes());
        h.extend_from_slice(&[0, 10, 0, 0, b'h', b'i']);
        ipv4(IP_PROTO_UDP, src, dst, &h)
    }

    pub fn echo(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        ipv4(IP_PROTO_ICMP, src, dst, &[8, 0, 0, 0, 0, 1, 0, 1])
    }
}

#[cfg(test)]
mod tests {
    use super::frames::*;
    use super::*;

    const A: [u8; 4] = [10, 249, 0, 2];
    const B: [u8; 4] = [10, 249, 0, 9];

    #[test]
    fn arp_who_has() {
        let Some(Frame::Arp(arp)) = parse(&who_has(A, B)) else { panic!("not ARP") };
        assert_eq!(arp.op, ArpOp::Request);
        assert_eq!((arp.sender_mac, arp.sender_ip, arp.target_ip), (MAC_A, A.into(), B.into()));
        assert_eq!(arp.eth_dst, BROADCAST);
    }

    #[test]
    fn tcp_udp_icmp() {
        let Some(Frame::Ipv4(ip)) = parse(&tcp(A, B, (40000, 22), tcp_flags::SYN)) else { panic!() };
        assert_eq!((ip.src, ip.dst, ip.src_mac), (A.into(), B.into(), MAC_A));
        assert_eq!(ip.transport, L4::Tcp { src_port: 40000, dst_port: 22, flags: tcp_flags::SYN });
        let Some(Frame::Ipv4(ip)) = parse(&udp(A, B, (5000, 53))) else { panic!() };
        assert_eq!(ip.transport, L4::Udp { src_port: 5000, dst_port: 53 });
        let Some(Frame::Ipv4(ip)) = parse(&echo(A, B)) else { panic!() };
        assert_eq!(ip.transport, L4::Icmp { icmp_type: 8, code: 0 });
    }

    #[test]
    fn a_vlan_tag_is_skipped() {
        let plain = who_has(A, B);
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        tagged.extend_from_slice(&plain[12..]);
        assert_eq!(parse(&tagged), parse(&plain));
    }

    #[test]
    fn later_fragments_and_short_transport_headers_are_other() {
        let mut fragment = udp(A, B, (1, 2));
        fragment[14 + 6] = 0x00;
        fragment[14 + 7] = 0x10; // offset 16 × 8 bytes
        let Some(Frame::Ipv4(ip)) = parse(&fragment) else { panic!() };
        assert_eq!(ip.transport, L4::Other { protocol: IP_PROTO_UDP });
        let short = tcp(A, B, (1, 2), tcp_flags::SYN);
        let Some(Frame::Ipv4(ip)) = parse(&short[..14 + 20 + 10]) else { panic!() };
        assert_eq!(ip.transport, L4::Other { protocol: IP_PROTO_TCP });
    }

    #[test]
    fn every_truncation_of_every_frame_parses_or_is_refused_without_panic() {
        let samples = [who_has(A, B), tcp(A, B, (1, 2), 0x3f), udp(A, B, (1, 2)), echo(A, B)];
        for frame in &samples {
            for len in 0..frame.len() {
                let _ = parse(&frame[..len]);
            }
        }
        // Truncated inside the ARP body or the IPv4 header: refused.
        assert_eq!(parse(&who_has(A, B)[..14 + 27]), None);
        assert_eq!(parse(&echo(A, B)[..14 + 19]), None);
    }

    #[test]
    fn garbage_is_refused_or_harmless() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let len = rng.usize(0..80);
            let mut frame: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            if len > 14 && rng.bool() {
                frame[12..14].copy_from_slice(&[0x08, if rng.bool() { 0x00 } else { 0x06 }]);
            }
            let _ = parse(&frame);
        }
        // Wrong version, IHL below 5, IHL beyond the packet, ARP for another hardware type.
        for (at, byte) in [(14, 0x65), (14, 0x44), (14, 0x4f)] {
            let mut f = echo(A, B);
            f[at] = byte;
            assert_eq!(parse(&f), None, "byte {byte:#x}");
        }
        let mut f = who_has(A, B);
        f[15] = 6;
        assert_eq!(parse(&f), None);
    }

    #[test]
    fn names() {
        assert_eq!(tcp_flag_names(tcp_flags::SYN), "SYN");
        assert_eq!(tcp_flag_names(tcp_flags::FIN | tcp_flags::PSH | tcp_flags::URG), "FIN,PSH,URG");
        assert_eq!(tcp_flag_names(0), "");
        assert_eq!(mac_string(&[0x02, 0xab, 0, 1, 2, 0xff]), "02:ab:00:01:02:ff");
    }
}
