//! IPv4 addressing inside a fleet subnet: which addresses a decky may use, and handing out
//! free ones in order (deckies from the bottom of the subnet, fleet services from the top).

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Why an address cannot be a decky's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressProblem {
    OutsideSubnet(Ipv4Net),
    NetworkAddress(Ipv4Net),
    BroadcastAddress(Ipv4Net),
    Gateway,
}

impl fmt::Display for AddressProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressProblem::OutsideSubnet(net) => write!(f, "is outside the subnet {net}"),
            AddressProblem::NetworkAddress(net) => write!(f, "is the network address of {net}"),
            AddressProblem::BroadcastAddress(net) => write!(f, "is the broadcast address of {net}"),
            AddressProblem::Gateway => write!(f, "is the gateway"),
        }
    }
}

/// Whether `subnet` has room for hosts: /30 or larger (a /31 or /32 has no network and
/// broadcast address to skip, and no room for a gateway plus a decky).
pub fn has_host_room(subnet: Ipv4Net) -> bool {
    subnet.prefix_len() <= 30
}

/// The first host address of `subnet` (the conventional gateway), if it has host room.
pub fn first_host(subnet: Ipv4Net) -> Option<Ipv4Addr> {
    has_host_room(subnet).then(|| Ipv4Addr::from(u32::from(subnet.network()) + 1))
}

/// Whether `ip` is a host address of `subnet`: inside it, and neither its network nor its
/// broadcast address.
pub fn check_host_address(subnet: Ipv4Net, ip: Ipv4Addr) -> Result<(), AddressProblem> {
    if !subnet.contains(&ip) {
        Err(AddressProblem::OutsideSubnet(subnet))
    } else if ip == subnet.network() {
        Err(AddressProblem::NetworkAddress(subnet))
    } else if ip == subnet.broadcast() {
        Err(AddressProblem::BroadcastAddress(subnet))
    } else {
        Ok(())
    }
}

/// Whether a decky may use `ip`: a host address of `subnet` that is not the gateway.
pub fn check_decky_address(subnet: Ipv4Net, gateway: Ipv4Addr, ip: Ipv4Addr) -> Result<(), AddressProblem> {
    check_host_address(subnet, ip)?;
    if ip == gateway { Err(AddressProblem::Gateway) } else { Ok(()) }
}

/// The host addresses of a subnet, minus the gateway and every address already taken:
/// ascending from the front (`next`), descending from the back (`next_back`). Addresses it
/// yields are marked taken, so it never yields one twice, whichever end they come from.
#[derive(Clone, Debug)]
pub struct FreeAddresses {
    /// Lowest candidate not yet looked at.
    next: u32,
    /// Highest candidate not yet looked at (inclusive); `next > last` means exhausted.
    last: u32,
    taken: HashSet<Ipv4Addr>,
}

impl FreeAddresses {
    pub fn new(subnet: Ipv4Net, gateway: Ipv4Addr, taken: impl IntoIterator<Item = Ipv4Addr>) -> Self {
        let mut taken: HashSet<Ipv4Addr> = taken.into_iter().collect();
        taken.insert(gateway);
        let (next, last) = if has_host_room(subnet) {
            (u32::from(subnet.network()) + 1, u32::from(subnet.broadcast()) - 1)
        } else {
            (1, 0)
        };
        Self { next, last, taken }
    }
}

impl Iterator for FreeAddresses {
    type Item = Ipv4Addr;

    fn next(&mut self) -> Option<Ipv4Addr> {
        while self.next <= self.last {
            let candidate = Ipv4Addr::from(self.next);
            self.next += 1;
            if self.taken.insert(candidate) {
                return Some(candidate);
            }
        }
        None
    }
}

impl DoubleEndedIterator for FreeAddresses {
    fn next_back(&mut self) -> Option<Ipv4Addr> {
        while self.next <= self.last {
            let candidate = Ipv4Addr::from(self.last);
            // `last >= next >= 1` here (the network address is never a candidate): no underflow.
            self.last -= 1;
            if self.taken.insert(candidate) {
                return Some(candidate);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn free_addresses_skip_network_broadcast_gateway_and_taken() {
        let free: Vec<_> =
            FreeAddresses::new(net("10.0.0.0/29"), ip("10.0.0.1"), [ip("10.0.0.3"), ip("10.0.0.9")])
                .collect();
        assert_eq!(free, [ip("10.0.0.2"), ip("10.0.0.4"), ip("10.0.0.5"), ip("10.0.0.6")]);
    }

    #[test]
    fn free_addresses_from_both_ends_never_meet_twice() {
        let mut free =
            FreeAddresses::new(net("10.0.0.0/29"), ip("10.0.0.1"), [ip("10.0.0.6"), ip("10.0.0.3")]);
        assert_eq!(free.next_back(), Some(ip("10.0.0.5")), "the broadcast and taken .6 are skipped");
        assert_eq!(free.next(), Some(ip("10.0.0.2")));
        assert_eq!(free.next_back(), Some(ip("10.0.0.4")));
        assert_eq!(free.next(), None);
        assert_eq!(free.next_back(), None);
        let top_down: Vec<_> = FreeAddresses::new(net("10.0.0.0/30"), ip("10.0.0.1"), []).rev().collect();
        assert_eq!(top_down, [ip("10.0.0.2")]);
        assert_eq!(FreeAddresses::new(net("10.0.0.0/31"), ip("10.0.0.0"), []).next_back(), None);
        let last = FreeAddresses::new(net("255.255.255.248/29"), ip("255.255.255.249"), []).next_back();
        assert_eq!(last, Some(ip("255.255.255.254")));
    }

    #[test]
    fn tiny_subnets_have_no_free_addresses() {
        assert_eq!(FreeAddresses::new(net("10.0.0.0/31"), ip("10.0.0.0"), []).count(), 0);
        assert_eq!(FreeAddresses::new(net("10.0.0.4/32"), ip("10.0.0.4"), []).count(), 0);
        assert_eq!(first_host(net("10.0.0.0/31")), None);
        let slash30: Vec<_> = FreeAddresses::new(net("10.0.0.0/30"), ip("10.0.0.1"), []).collect();
        assert_eq!(slash30, [ip("10.0.0.2")]);
    }

    #[test]
    fn the_last_subnet_of_the_address_space_does_not_overflow() {
        let free: Vec<_> = FreeAddresses::new(net("255.255.255.248/29"), ip("255.255.255.249"), []).collect();
        assert_eq!(free.last(), Some(&ip("255.255.255.254")));
        assert_eq!(free.len(), 5);
    }

    #[test]
    fn decky_address_checks() {
        let subnet = net("192.168.5.0/24");
        let gw = ip("192.168.5.1");
        assert_eq!(check_decky_address(subnet, gw, ip("192.168.5.20")), Ok(()));
        assert_eq!(
            check_decky_address(subnet, gw, ip("10.0.0.1")).unwrap_err().to_string(),
            "is outside the subnet 192.168.5.0/24"
        );
        assert_eq!(
            check_decky_address(subnet, gw, ip("192.168.5.0")).unwrap_err().to_string(),
            "is the network address of 192.168.5.0/24"
        );
        assert_eq!(
            check_decky_address(subnet, gw, ip("192.168.5.255")).unwrap_err().to_string(),
            "is the broadcast address of 192.168.5.0/24"
        );
        assert_eq!(check_decky_address(subnet, gw, gw), Err(AddressProblem::Gateway));
    }
}
