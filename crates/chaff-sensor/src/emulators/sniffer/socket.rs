//! The capture socket: `AF_PACKET`/`SOCK_RAW` bound to one interface, non-blocking, through
//! `libc` (the only `unsafe` of the sniffer, each block a single system call on memory it
//! owns).

use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// One received frame: its length as received (at most the buffer's) and whether the host
/// itself sent it.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    pub len: usize,
    pub outgoing: bool,
}

/// An open capture socket; closed on drop (promiscuous mode, taken as a membership of this
/// socket, ends with it).
#[derive(Debug)]
pub struct RawSocket(OwnedFd);

/// The index of interface `name`, or `None` if there is none.
pub fn interface_index(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

impl RawSocket {
    /// Opens a non-blocking capture of every protocol on interface `index`.
    pub fn open(index: u32, promiscuous: bool) -> io::Result<RawSocket> {
        // Protocol 0: the socket receives nothing until `bind` names the protocol and the
        // interface, so no frame of another interface is ever read.
        // SAFETY: plain system call; the result is checked before use.
        let fd = unsafe {
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let socket = RawSocket(unsafe { OwnedFd::from_raw_fd(fd) });
        let ifindex = i32::try_from(index).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        socket.bind(ifindex)?;
        if promiscuous {
            socket.promiscuous(ifindex)?;
        }
        Ok(socket)
    }

    fn bind(&self, ifindex: i32) -> io::Result<()> {
        // SAFETY: an all-zero `sockaddr_ll` is valid; the fields that matter are set below.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex;
        let len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `addr` lives across the call and `len` is its size.
        let rc = unsafe { libc::bind(self.0.as_raw_fd(), (&raw const addr).cast(), len) };
        check(rc)
    }

    fn promiscuous(&self, ifindex: i32) -> io::Result<()> {
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        let len = mem::size_of::<libc::packet_mreq>() as libc::socklen_t;
        // SAFETY: `mreq` lives across the call and `len` is its size.
        let rc = unsafe {
            libc::setsockopt(
                self.0.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                (&raw const mreq).cast(),
                len,
            )
        };
        check(rc)
    }

    /// This socket registered with the current tokio runtime, for readiness (call inside one).
    pub fn into_async(self) -> io::Result<AsyncFd<RawSocket>> {
        // SAFETY: `RawSocket` owns its descriptor for its whole life and `as_raw_fd` always
        // returns that one: it stays open and the same until the `AsyncFd` drops it.
        Ok(unsafe { AsyncFd::register_with_interest(self, Interest::READABLE) }?)
    }

    /// Receives one frame into `buf` (truncated to its length); `WouldBlock` when none waits.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        // SAFETY: as in `bind`.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        let mut len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buf` and `addr` are valid for writes of the lengths passed, and live
        // across the call.
        let n = unsafe {
            libc::recvfrom(
                self.0.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut addr).cast(),
                &mut len,
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        Ok(Received { len: n.min(buf.len()), outgoing: addr.sll_pkttype == libc::PACKET_OUTGOING })
    }
}

impl AsRawFd for RawSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}
