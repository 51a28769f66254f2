//! What the system reports about itself (`uptime`, `ps`, `free`, `df`, `ip`, `/proc`, ...),
//! formatted as the real tools do, from the [`Host`]'s stable facts and the session.
//! Pure functions of their inputs: the clock is an argument.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::distro::Family;
use super::host::{Account, Host, stable_hash_u64};
use crate::event::civil_from_days;

/// Who is logged in through this session, for `w`, `who`, `ps` and the like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// The login account's name.
    pub user: String,
    pub tty: String,
    pub from: SocketAddr,
    /// The decky's own address as the client reached it.
    pub local: SocketAddr,
    /// Unix time of the login.
    pub at: u64,
    /// The protocol: `ssh` or `telnet` (which daemon `ps` shows).
    pub service: &'static str,
    /// PID of the login shell.
    pub shell_pid: u32,
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
    pub weekday: usize,
}

impl Clock {
    pub fn at(unix: u64) -> Clock {
        let days = unix / 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        let rem = unix % 86_400;
        Clock {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            weekday: ((days + 4) % 7) as usize,
        }
    }

    pub fn month_name(&self) -> &'static str {
        MONTHS[(self.month as usize).saturating_sub(1) % 12]
    }

    pub fn weekday_name(&self) -> &'static str {
        WEEKDAYS[self.weekday % 7]
    }

    /// `date`'s default: `Wed May  1 12:34:56 UTC 2024`.
    pub fn date(&self) -> String {
        format!(
            "{} {} {:>2} {:02}:{:02}:{:02} UTC {}",
            self.weekday_name(),
            self.month_name(),
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }

    /// `HH:MM:SS`.
    pub fn time(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }

    /// `2024-05-01`.
    pub fn iso_date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// `date +FORMAT` for the common conversions (`%s %Y %m %d %H %M %S %F %T %a %b %e %Z`).
pub fn strftime(format: &str, unix: u64) -> String {
    let t = Clock::at(unix);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match chars.next() {
            Some('s') => write!(out, "{unix}"),
            Some('Y') => write!(out, "{}", t.year),
            Some('m') => write!(out, "{:02}", t.month),
            Some('d') => write!(out, "{:02}", t.day),
            Some('e') => write!(out, "{:>2}", t.day),
            Some('H') => write!(out, "{:02}", t.hour),
            Some('M') => write!(out, "{:02}", t.minute),
            Some('S') => write!(out, "{:02}", t.second),
            Some('F') => write!(out, "{}", t.iso_date()),
            Some('T') => write!(out, "{}", t.time()),
            Some('a') => write!(out, "{}", t.weekday_name()),
            Some('b') => write!(out, "{}", t.month_name()),
            Some('Z') => write!(out, "UTC"),
            Some('%') => write!(out, "%"),
            Some(other) => write!(out, "%{other}"),
            None => write!(out, "%"),
        };
    }
    out
}

/// The three load averages at `now`: small, changing every minute, stable per decky.
pub fn load_average(host: &Host, now: u64) -> [f64; 3] {
    let minute = stable_hash_u64(host.seed ^ (now / 60));
    let base = (host.seed % 12) as f64 / 100.0;
    let jitter = |shift: u32, scale: f64| ((minute >> shift) % 100) as f64 / 100.0 * scale;
    [base + jitter(0, 0.25), base + jitter(8, 0.12), base + jitter(16, 0.06)]
}

/// `up 12 days,  3:04` as `uptime` and `w` print it.
fn up_for(seconds: u64) -> String {
    let days = seconds / 86_400;
    let hours = seconds % 86_400 / 3600;
    let minutes = seconds % 3600 / 60;
    let mut out = String::from("up ");
    if days > 0 {
        let _ = write!(out, "{days} day{}, ", if days == 1 { "" } else { "s" });
    }
    if hours > 0 {
        let _ = write!(out, "{hours:2}:{minutes:02}");
    } else {
        let _ = write!(out, "{minutes} min");
    }
    out
}

/// The first line of `uptime` and `w`.
pub fn uptime_line(host: &Host, now: u64) -> String {
    let [one, five, fifteen] = load_average(host, now);
    format!(
        " {} {},  1 user,  load average: {one:.2}, {five:.2}, {fifteen:.2}",
        Clock::at(now).time(),
        up_for(host.uptime(now))
    )
}

/// `uptime -p`.
pub fn uptime_pretty(host: &Host, now: u64) -> String {
    let seconds = host.uptime(now);
    let (weeks, days, hours, minutes) =
        (seconds / 604_800, seconds % 604_800 / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    let mut parts = Vec::new();
    for (n, unit) in [(weeks, "week"), (days, "day"), (hours, "hour"), (minutes, "minute")] {
        if n > 0 {
            parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        parts.push("0 minutes".into());
    }
    format!("up {}", parts.join(", "))
}

/// `/proc/uptime`.
pub fn proc_uptime(host: &Host, now: u64) -> String {
    let up = host.uptime(now);
    let idle = up * u64::from(host.hardware.cpus) * 97 / 100;
    format!("{up}.{:02} {idle}.{:02}\n", now % 97, now % 89)
}

/// `/proc/loadavg`.
pub fn proc_loadavg(host: &Host, now: u64) -> String {
    let [one, five, fifteen] = load_average(host, now);
    format!("{one:.2} {five:.2} {fifteen:.2} 1/{} {}\n", 180 + host.seed % 60, 1000 + now % 30_000)
}

/// `/proc/version`.
pub fn proc_version(host: &Host) -> String {
    let d = host.distro;
    format!("Linux version {} {} {}\n", d.kernel_release, d.kernel_builder, d.kernel_version)
}

/// `/proc/cpuinfo`.
pub fn proc_cpuinfo(host: &Host) -> String {
    let hw = &host.hardware;
    let amd = hw.cpu_model.contains("AMD");
    let mut out = String::new();
    for cpu in 0..hw.cpus {
        let _ = write!(
            out,
            "processor\t: {cpu}\nvendor_id\t: {}\ncpu family\t: {}\nmodel\t\t: {}\nmodel name\t: {}\n\
             stepping\t: {}\nmicrocode\t: 0x{}\ncpu MHz\t\t: {}\ncache size\t: {} KB\nphysical id\t: 0\n\
             siblings\t: {n}\ncore id\t\t: {cpu}\ncpu cores\t: {n}\napicid\t\t: {cpu}\ninitial apicid\t: {cpu}\n\
             fpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: 13\nwp\t\t: yes\nflags\t\t: fpu vme de pse \
             tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx \
             rdtscp lm constant_tsc rep_good nopl xtopology cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 \
             pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm \
             3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms xsaveopt\nbogomips\t: {:.2}\n\
             clflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 46 bits physical, 48 bits virtual\n\
             power management:\n\n",
            if amd { "AuthenticAMD" } else { "GenuineIntel" },
            if amd { 23 } else { 6 },
            if amd { 1 } else { 85 },
            hw.cpu_model,
            if amd { 2 } else { 7 },
            if amd { "800126e" } else { "5003604" },
            hw.cpu_mhz,
            if amd { 512 } else { 33_792 },
            hw.cpu_mhz.parse::<f64>().unwrap_or(2300.0) * 2.0,
            n = hw.cpus,
        );
    }
    out
}

/// Memory in KiB: (total, used, free, shared, buff/cache, available).
pub fn memory(host: &Host) -> [u64; 6] {
    let total = host.hardware.memory_kib;
    let free = total / 5 + host.seed % 50_000;
    let cache = total * 55 / 100;
    let shared = 1_024 + host.seed % 4_096;
    let used = total.saturating_sub(free + cache);
    [total, used, free, shared, cache, free + cache * 4 / 5]
}

/// `/proc/meminfo` (its first lines).
pub fn proc_meminfo(host: &Host) -> String {
    let [total, _used, free, shared, cache, available] = memory(host);
    let mut out = String::new();
    for (key, value) in [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", available),
        ("Buffers", cache / 20),
        ("Cached", cache - cache / 20),
        ("SwapCached", 0),
        ("Active", total * 3 / 10),
        ("Inactive", total * 2 / 10),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Dirty", 120),
        ("Shmem", shared),
    ] {
        let _ = writeln!(out, "{:<16}{value:>8} kB", format!("{key}:"));
    }
    out
}

/// `free` with `unit` KiB per displayed unit (1, 1024, 1024²), or human-readable.
pub fn free(host: &Host, unit: Option<u64>) -> String {
    let [total, used, free, shared, cache, available] = memory(host);
    let show = |kib: u64| match unit {
        Some(unit) => (kib / unit).to_string(),
        None => human_kib(kib),
    };
    format!(
        "{:>15}{:>12}{:>12}{:>12}{:>12}{:>12}\n{:<8}{:>7}{:>12}{:>12}{:>12}{:>12}{:>12}\n{:<8}{:>7}{:>12}{:>12}\n",
        "total",
        "used",
        "free",
        "shared",
        "buff/cache",
        "available",
        "Mem:",
        show(total),
        show(used),
        show(free),
        show(shared),
        show(cache),
        show(available),
        "Swap:",
        show(0),
        show(0),
        show(0),
    )
}

/// `3.8Gi`, as `free -h` writes sizes given in KiB.
fn human_kib(kib: u64) -> String {
    let units = ["Ki", "Mi", "Gi", "Ti"];
    let mut value = kib as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if kib == 0 {
        "0B".into()
    } else if value < 10.0 {
        format!("{value:.1}{}", units[unit])
    } else {
        format!("{value:.0}{}", units[unit])
    }
}

/// `1.9G`, as `df -h` writes sizes given in KiB.
fn df_human(kib: u64) -> String {
    if kib == 0 {
        return "0".into();
    }
    human_kib(kib).trim_end_matches('i').to_owned()
}

/// `df`, in KiB blocks or human-readable.
pub fn df(host: &Host, human: bool) -> String {
    let disk = host.hardware.disk_gib * 1024 * 1024;
    let used = disk * (18 + host.seed % 30) / 100;
    let memory = host.hardware.memory_kib;
    let rows = [
        ("udev", memory / 2, 0, "/dev"),
        ("tmpfs", memory / 10, 1_100, "/run"),
        ("/dev/vda1", disk, used, "/"),
        ("tmpfs", memory / 2, 0, "/dev/shm"),
        ("tmpfs", 5_120, 0, "/run/lock"),
        ("/dev/vda15", 106_858, 6_186, "/boot/efi"),
    ];
    let mut out = if human {
        String::from("Filesystem      Size  Used Avail Use% Mounted on\n")
    } else {
        String::from("Filesystem     1K-blocks    Used Available Use% Mounted on\n")
    };
    for (device, size, used, mount) in rows {
        let avail = size.saturating_sub(used);
        let percent = if size == 0 { 0 } else { (used * 100).div_ceil(size) };
        if human {
            let _ = writeln!(
                out,
                "{device:<15}{:>5}{:>6}{:>6}{:>4}% {mount}",
                df_human(size),
                df_human(used),
                df_human(avail),
                percent
            );
        } else {
            let _ = writeln!(out, "{device:<14}{size:>10}{used:>8}{avail:>10}{percent:>4}% {mount}");
        }
    }
    out
}

/// The decky's IPv4 address as the client sees it, else the host's stable stand-in.
pub fn interface_address(host: &Host, local: IpAddr) -> Ipv4Addr {
    match local.to_canonical() {
        IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => ip,
        _ => host.fallback_ip,
    }
}

fn mac_string(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The EUI-64 link-local address of `mac`.
fn link_local(mac: [u8; 6]) -> String {
    format!(
        "fe80::{:x}:{:x}:{:x}:{:x}",
        u16::from_be_bytes([mac[0] ^ 0x02, mac[1]]),
        u16::from_be_bytes([mac[2], 0xff]),
        u16::from_be_bytes([0xfe, mac[3]]),
        u16::from_be_bytes([mac[4], mac[5]])
    )
}

/// (network, broadcast, gateway) of `ip` in its /24.
fn subnet(ip: Ipv4Addr) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr) {
    let [a, b, c, _] = ip.octets();
    (Ipv4Addr::new(a, b, c, 0), Ipv4Addr::new(a, b, c, 255), Ipv4Addr::new(a, b, c, 1))
}

/// `ifconfig`.
pub fn ifconfig(host: &Host, local: IpAddr, now: u64) -> String {
    let ip = interface_address(host, local);
    let (_, broadcast, _) = subnet(ip);
    let up = host.uptime(now);
    let (rx_packets, tx_packets) = (up * 13 + host.seed % 9_999, up * 7 + host.seed % 7_777);
    let (rx_bytes, tx_bytes) = (rx_packets * 611, tx_packets * 298);
    let (lo_packets, lo_bytes) = (up / 9, up / 9 * 84);
    let size = |bytes: u64| {
        let (value, unit) = if bytes >= 1_000_000_000 {
            (bytes as f64 / 1e9, "GB")
        } else if bytes >= 1_000_000 {
            (bytes as f64 / 1e6, "MB")
        } else {
            (bytes as f64 / 1e3, "KB")
        };
        format!("{value:.1} {unit}")
    };
    format!(
        "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n\
         \x20       inet {ip}  netmask 255.255.255.0  broadcast {broadcast}\n\
         \x20       inet6 {}  prefixlen 64  scopeid 0x20<link>\n\
         \x20       ether {}  txqueuelen 1000  (Ethernet)\n\
         \x20       RX packets {rx_packets}  bytes {rx_bytes} ({})\n\
         \x20       RX errors 0  dropped 0  overruns 0  frame 0\n\
         \x20       TX packets {tx_packets}  bytes {tx_bytes} ({})\n\
         \x20       TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n\n\
         lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536\n\
         \x20       inet 127.0.0.1  netmask 255.0.0.0\n\
         \x20       inet6 ::1  prefixlen 128  scopeid 0x10<host>\n\
         \x20       loop  txqueuelen 1000  (Local Loopback)\n\
         \x20       RX packets {lo_packets}  bytes {lo_bytes} ({})\n\
         \x20       RX errors 0  dropped 0  overruns 0  frame 0\n\
         \x20       TX packets {lo_packets}  bytes {lo_bytes} ({})\n\
         \x20       TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n\n",
        link_local(host.mac),
        mac_string(host.mac),
        size(rx_bytes),
        size(tx_bytes),
        size(lo_bytes),
        size(lo_bytes),
    )
}

/// `ip addr`.
pub fn ip_addr(host: &Host, local: IpAddr) -> String {
    let ip = interface_address(host, local);
    let (_, broadcast, _) = subnet(ip);
    format!(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n\
         \x20   link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
         \x20   inet 127.0.0.1/8 scope host lo\n\
         \x20      valid_lft forever preferred_lft forever\n\
         \x20   inet6 ::1/128 scope host \n\
         \x20      valid_lft forever preferred_lft forever\n\
         2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000\n\
         \x20   link/ether {} brd ff:ff:ff:ff:ff:ff\n\
         \x20   altname enp0s3\n\
         \x20   inet {ip}/24 brd {broadcast} scope global eth0\n\
         \x20      valid_lft forever preferred_lft forever\n\
         \x20   inet6 {}/64 scope link \n\
         \x20      valid_lft forever preferred_lft forever\n",
        mac_string(host.mac),
        link_local(host.mac),
    )
}

/// `ip link`.
pub fn ip_link(host: &Host) -> String {
    format!(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\n\
         \x20   link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
         2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP mode DEFAULT group default qlen 1000\n\
         \x20   link/ether {} brd ff:ff:ff:ff:ff:ff\n\
         \x20   altname enp0s3\n",
        mac_string(host.mac)
    )
}

/// `ip route`.
pub fn ip_route(host: &Host, local: IpAddr) -> String {
    let ip = interface_address(host, local);
    let (network, _, gateway) = subnet(ip);
    format!(
        "default via {gateway} dev eth0 proto static \n{network}/24 dev eth0 proto kernel scope link src {ip} \n"
    )
}

/// `route -n` / `netstat -rn`.
pub fn route_table(host: &Host, local: IpAddr) -> String {
    let ip = interface_address(host, local);
    let (network, _, gateway) = subnet(ip);
    format!(
        "Kernel IP routing table\n\
         Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n\
         0.0.0.0         {gateway:<15} 0.0.0.0         UG    0      0        0 eth0\n\
         {network:<15} 0.0.0.0         255.255.255.0   U     0      0        0 eth0\n"
    )
}

/// `netstat -tlnp` / `ss -tlnp`: the daemon listening on the session's port.
pub fn listening(login: &Login, ss: bool) -> String {
    let (port, daemon) = if login.service == "telnet" { (23, "telnetd") } else { (22, "sshd") };
    if ss {
        format!(
            "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n\
             LISTEN 0      128          0.0.0.0:{port:<5}      0.0.0.0:*    users:((\"{daemon}\",pid=612,fd=3))\n\
             LISTEN 0      4096   127.0.0.53%lo:53         0.0.0.0:*    users:((\"systemd-resolve\",pid=401,fd=14))\n"
        )
    } else {
        format!(
            "Active Internet connections (only servers)\n\
             Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    \n\
             tcp        0      0 0.0.0.0:{port:<16}0.0.0.0:*               LISTEN      612/{daemon}        \n\
             tcp        0      0 127.0.0.53:53           0.0.0.0:*               LISTEN      401/systemd-resolve \n"
        )
    }
}

/// `lscpu` (its first lines).
pub fn lscpu(host: &Host) -> String {
    let hw = &host.hardware;
    let vendor = if hw.cpu_model.contains("AMD") { "AuthenticAMD" } else { "GenuineIntel" };
    format!(
        "Architecture:            x86_64\n  CPU op-mode(s):        32-bit, 64-bit\n  Address sizes:         46 bits physical, 48 bits virtual\n  Byte Order:            Little Endian\n\
         CPU(s):                  {0}\n  On-line CPU(s) list:   0-{1}\n\
         Vendor ID:               {vendor}\n  Model name:            {2}\n    CPU family:          6\n\
         \x20   Thread(s) per core:  1\n    Core(s) per socket:  {0}\n    Socket(s):           1\n\
         \x20   BogoMIPS:            {3:.2}\n\
         Virtualization features: \n  Hypervisor vendor:     KVM\n  Virtualization type:   full\n",
        hw.cpus,
        hw.cpus - 1,
        hw.cpu_model,
        hw.cpu_mhz.parse::<f64>().unwrap_or(2300.0) * 2.0,
    )
}

/// One line of the process table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub user: String,
    pub pid: u32,
    pub ppid: u32,
    /// Virtual size and resident set in KiB.
    pub vsz: u64,
    pub rss: u64,
    pub tty: String,
    pub stat: &'static str,
    /// Unix start time.
    pub start: u64,
    /// CPU seconds used.
    pub cpu_time: u64,
    pub command: String,
}

/// The processes a `ps` run as `pid` shows, with the session's login at the end.
pub fn processes(host: &Host, login: &Login, account: &Account, command: &str, pid: u32) -> Vec<Process> {
    let boot = host.booted_at;
    let systemd = host.distro.uses_systemd();
    let redhat = host.distro.family == Family::RedHat;
    let lib = if redhat || host.distro.family == Family::Arch { "/usr/lib/systemd" } else { "/lib/systemd" };
    let mut table: Vec<(&str, u32, u32, u64, u64, &'static str, String)> = Vec::new();
    let daemon = |user: &'static str, pid: u32, vsz: u64, rss: u64, stat: &'static str, cmd: String| {
        (user, pid, 1, vsz, rss, stat, cmd)
    };
    if systemd {
        let init = if redhat {
            "/usr/lib/systemd/systemd --switched-root --system --deserialize 31".to_owned()
        } else {
            "/sbin/init".to_owned()
        };
        table.push(("root", 1, 0, 167_612, 12_104, "Ss", init));
        table.push(("root", 2, 0, 0, 0, "S", "[kthreadd]".into()));
        for (pid, name) in [
            (3, "rcu_gp"),
            (4, "rcu_par_gp"),
            (9, "mm_percpu_wq"),
            (12, "ksoftirqd/0"),
            (13, "rcu_sched"),
            (14, "migration/0"),
        ] {
            table.push(("root", pid, 2, 0, 0, "I<", format!("[{name}]")));
        }
        table.push(daemon("root", 312, 48_232, 15_400, "Ss", format!("{lib}/systemd-journald")));
        table.push(daemon("root", 345, 25_332, 6_160, "Ss", format!("{lib}/systemd-udevd")));
        if host.distro.family == Family::Ubuntu {
            table.push(daemon("systemd+", 401, 25_528, 12_900, "Ss", format!("{lib}/systemd-resolved")));
        }
        table.push(daemon("message+", 510, 8_576, 4_800, "Ss", "@dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only".into()));
        table.push(daemon("root", 520, 17_200, 7_700, "Ss", format!("{lib}/systemd-logind")));
        let cron = if redhat { "/usr/sbin/crond -n" } else { "/usr/sbin/cron -f" };
        table.push(daemon("root", 530, 6_684, 2_700, "Ss", cron.into()));
        table.push(daemon("root", 544, 222_400, 5_400, "Ssl", "/usr/sbin/rsyslogd -n -iNONE".into()));
        table.push(daemon(
            "root",
            560,
            5_880,
            1_000,
            "Ss+",
            "/sbin/agetty -o -p -- \\u --noclear tty1 linux".into(),
        ));
    } else {
        table.push(("root", 1, 0, 1_612, 904, "S", "/sbin/init".into()));
        table.push(daemon("root", 250, 1_612, 828, "S", "/sbin/syslogd -t -n".into()));
        table.push(daemon("root", 402, 1_612, 812, "S", "/usr/sbin/crond -c /etc/crontabs -f".into()));
        table.push(daemon("root", 460, 1_612, 788, "Ss+", "/sbin/getty 38400 tty1".into()));
    }
    let mut out: Vec<Process> = table
        .into_iter()
        .map(|(user, pid, ppid, vsz, rss, stat, command)| Process {
            user: user.to_owned(),
            pid,
            ppid,
            vsz,
            rss,
            tty: if stat.ends_with('+') { "tty1".into() } else { "?".into() },
            stat,
            start: boot + u64::from(pid) / 40,
            cpu_time: u64::from(pid % 7),
            command,
        })
        .collect();
    let shell_pid = login.shell_pid;
    let daemon_pid = 612;
    let (daemon_cmd, session_cmds): (String, Vec<(String, String)>) = if login.service == "telnet" {
        ("/usr/sbin/telnetd -F -p 23".into(), vec![("root".into(), format!("login -- {}", login.user))])
    } else {
        let listener = if host.distro.sshd_version.starts_with("OpenSSH_9") {
            "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"
        } else {
            "/usr/sbin/sshd -D"
        };
        (
            listener.into(),
            vec![
                ("root".into(), format!("sshd: {} [priv]", login.user)),
                (login.user.clone(), format!("sshd: {}@{}", login.user, login.tty)),
            ],
        )
    };
    out.push(Process {
        user: "root".into(),
        pid: daemon_pid,
        ppid: 1,
        vsz: 15_432,
        rss: 9_100,
        tty: "?".into(),
        stat: "Ss",
        start: boot + 14,
        cpu_time: 0,
        command: daemon_cmd,
    });
    let count = session_cmds.len() as u32;
    for (i, (user, command)) in session_cmds.into_iter().enumerate() {
        let i = i as u32;
        out.push(Process {
            user,
            pid: shell_pid - count + i,
            ppid: if i == 0 { daemon_pid } else { shell_pid - count + i - 1 },
            vsz: 17_000,
            rss: 10_900,
            tty: "?".into(),
            stat: "Ss",
            start: login.at,
            cpu_time: 0,
            command,
        });
    }
    let shell = match host.distro.shell {
        super::distro::LoginShell::Bash => "-bash",
        super::distro::LoginShell::Ash => "-ash",
        super::distro::LoginShell::Zsh => "-zsh",
    };
    out.push(Process {
        user: login.user.clone(),
        pid: shell_pid,
        ppid: shell_pid - 1,
        vsz: 8_828,
        rss: 5_424,
        tty: login.tty.clone(),
        stat: "Ss",
        start: login.at,
        cpu_time: 0,
        command: shell.into(),
    });
    out.push(Process {
        user: account.name.clone(),
        pid,
        ppid: shell_pid,
        vsz: 11_164,
        rss: 4_504,
        tty: login.tty.clone(),
        stat: "R+",
        start: login.at.max(boot),
        cpu_time: 0,
        command: command.to_owned(),
    });
    out
}

/// `Apr28` or `12:34`, as `ps` shows start times (today: the time).
fn ps_start(start: u64, now: u64) -> String {
    let at = Clock::at(start);
    if now.saturating_sub(start) < 86_400 && Clock::at(now).day == at.day {
        format!("{:02}:{:02}", at.hour, at.minute)
    } else {
        format!("{}{:02}", at.month_name(), at.day)
    }
}

/// A user name as procps prints it: at most 8 columns, else cut with `+`.
fn ps_user(user: &str) -> String {
    if user.chars().count() > 8 {
        format!("{}+", user.chars().take(7).collect::<String>())
    } else {
        user.to_owned()
    }
}

/// `ps aux`.
pub fn ps_aux(table: &[Process], host: &Host, now: u64) -> String {
    let mut out =
        String::from("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n");
    let memory = host.hardware.memory_kib.max(1);
    for p in table {
        let mem = p.rss as f64 * 100.0 / memory as f64;
        let _ = writeln!(
            out,
            "{:<8} {:>7}  0.0 {mem:>4.1} {:>6} {:>5} {:<8} {:<4} {:>5} {:>3}:{:02} {}",
            ps_user(&p.user),
            p.pid,
            p.vsz,
            p.rss,
            p.tty,
            p.stat,
            ps_start(p.start, now),
            p.cpu_time / 60,
            p.cpu_time % 60,
            p.command
        );
    }
    out
}

/// `ps -ef`.
pub fn ps_ef(table: &[Process], now: u64) -> String {
    let mut out = String::from("UID          PID    PPID  C STIME TTY          TIME CMD\n");
    for p in table {
        let _ = writeln!(
            out,
            "{:<8} {:>7} {:>7}  0 {:<5} {:<8} 00:00:{:02} {}",
            ps_user(&p.user),
            p.pid,
            p.ppid,
            ps_start(p.start, now),
            p.tty,
            p.cpu_time,
            p.command
        );
    }
    out
}

/// `ps` with no options: this terminal's processes.
pub fn ps_terminal(table: &[Process], tty: &str) -> String {
    let mut out = String::from("    PID TTY          TIME CMD\n");
    for p in table.iter().filter(|p| p.tty == tty) {
        let name = p.command.split_whitespace().next().unwrap_or("").trim_start_matches('-');
        let name = name.rsplit('/').next().unwrap_or(name);
        let _ = writeln!(out, "{:>7} {:<8} 00:00:00 {name}", p.pid, p.tty);
    }
    out
}

/// busybox `ps`.
pub fn ps_busybox(table: &[Process]) -> String {
    let mut out = String::from("PID   USER     TIME  COMMAND\n");
    for p in table {
        let _ = writeln!(
            out,
            "{:>5} {:<8} {:>2}:{:02} {}",
            p.pid,
            ps_user(&p.user),
            p.cpu_time / 60,
            p.cpu_time % 60,
            p.command
        );
    }
    out
}

/// `top -b -n 1`.
pub fn top(table: &[Process], host: &Host, now: u64) -> String {
    let [total, used, free, _, cache, available] = memory(host);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let tasks = 90 + host.seed % 40;
    let mut out = format!(
        "top - {}\nTasks: {tasks:>3} total,   1 running, {:>3} sleeping,   0 stopped,   0 zombie\n\
         %Cpu(s):  0.3 us,  0.2 sy,  0.0 ni, 99.5 id,  0.0 wa,  0.0 hi,  0.0 si,  0.0 st\n\
         MiB Mem : {:>8.1} total, {:>8.1} free, {:>8.1} used, {:>8.1} buff/cache\n\
         MiB Swap:      0.0 total,      0.0 free,      0.0 used. {:>8.1} avail Mem\n\n\
         \x20   PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND\n",
        uptime_line(host, now).trim_start().replacen("  1 user", " 1 user", 1),
        tasks - 1,
        mib(total),
        mib(free),
        mib(used),
        mib(cache),
        mib(available),
    );
    let memory = host.hardware.memory_kib.max(1) as f64;
    for p in table {
        let name = p.command.split_whitespace().next().unwrap_or("").trim_start_matches('-');
        let name = name.rsplit('/').next().unwrap_or(name).trim_matches(|c| c == '[' || c == ']' || c == ':');
        let _ = writeln!(
            out,
            "{:>7} {:<8}  20   0 {:>7} {:>6} {:>6} {}   0.0 {:>5.1} {:>3}:{:02}.{:02} {name}",
            p.pid,
            ps_user(&p.user),
            p.vsz,
            p.rss,
            p.rss * 2 / 3,
            if p.stat.starts_with('R') { 'R' } else { 'S' },
            p.rss as f64 * 100.0 / memory,
            p.cpu_time / 60,
            p.cpu_time % 60,
            p.pid % 100,
        );
    }
    out
}

/// `w`.
pub fn w(host: &Host, login: &Login, now: u64) -> String {
    let at = Clock::at(login.at);
    format!(
        "{}\nUSER     TTY      FROM             LOGIN@   IDLE   JCPU   PCPU WHAT\n\
         {:<8} {:<8} {:<16} {:02}:{:02}    0.00s  0.02s  0.00s w\n",
        uptime_line(host, now),
        ps_user(&login.user),
        login.tty,
        login.from.ip().to_canonical(),
        at.hour,
        at.minute
    )
}

/// `who`.
pub fn who(login: &Login) -> String {
    let at = Clock::at(login.at);
    format!(
        "{:<8} {:<12} {} {:02}:{:02} ({})\n",
        login.user,
        login.tty,
        at.iso_date(),
        at.hour,
        at.minute,
        login.from.ip().to_canonical()
    )
}

/// `last`: this login, the previous one and the boot.
pub fn last(host: &Host, login: &Login) -> String {
    let stamp = |unix: u64| {
        let t = Clock::at(unix);
        format!("{} {} {:>2} {:02}:{:02}", t.weekday_name(), t.month_name(), t.day, t.hour, t.minute)
    };
    let (previous, previous_from) = host.last_login;
    let duration = 600 + host.seed % 3000;
    let end = Clock::at(previous + duration);
    let boot = Clock::at(host.booted_at);
    format!(
        "{:<8} {:<12} {:<16} {}   still logged in\n\
         {:<8} {:<12} {:<16} {} - {:02}:{:02}  (00:{:02})\n\
         reboot   system boot  {:<16} {}   still running\n\n\
         wtmp begins {} {} {:>2} {} {}\n",
        login.user,
        login.tty,
        login.from.ip().to_canonical(),
        stamp(login.at),
        host.user().name,
        "pts/0",
        previous_from,
        stamp(previous),
        end.hour,
        end.minute,
        duration / 60,
        host.distro.kernel_release,
        stamp(host.booted_at),
        boot.weekday_name(),
        boot.month_name(),
        boot.day,
        boot.time(),
        boot.year,
    )
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::super::host::tests::host;
    use super::*;

    const NOW: u64 = 1_714_566_896; // Wed May  1 12:34:56 UTC 2024

    fn login() -> Login {
        Login {
            user: "deploy".into(),
            tty: "pts/0".into(),
            from: "10.9.8.7:50000".parse().unwrap(),
            local: "192.168.1.10:22".parse().unwrap(),
            at: NOW - 60,
            service: "ssh",
            shell_pid: 4242,
        }
    }

    #[test]
    fn clock_and_dates() {
        assert_eq!(Clock::at(NOW).date(), "Wed May  1 12:34:56 UTC 2024");
        assert_eq!(Clock::at(0).date(), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(strftime("%F %T %s %%x", NOW), "2024-05-01 12:34:56 1714566896 %x");
    }

    #[test]
    fn uptime_formats() {
        assert_eq!(up_for(59), "up 0 min");
        assert_eq!(up_for(3 * 3600 + 4 * 60), "up  3:04");
        assert_eq!(up_for(86_400 + 61), "up 1 day, 1 min");
        assert_eq!(up_for(12 * 86_400 + 3 * 3600 + 4 * 60), "up 12 days,  3:04");
        let host = host("debian");
        let line = uptime_line(&host, NOW);
        assert!(line.starts_with(" 12:34:56 up "), "{line}");
        assert!(line.contains(",  1 user,  load average: "), "{line}");
        assert_eq!(load_average(&host, NOW), load_average(&host, NOW + 1));
        assert!(uptime_pretty(&host, NOW).starts_with("up "));
    }

    #[test]
    fn addresses_prefer_the_connection() {
        let host = host("debian");
        assert_eq!(interface_address(&host, "192.168.1.10".parse().unwrap()), Ipv4Addr::new(192, 168, 1, 10));
        let mapped = IpAddr::V6(Ipv4Addr::new(172, 16, 0, 5).to_ipv6_mapped());
        assert_eq!(interface_address(&host, mapped), Ipv4Addr::new(172, 16, 0, 5));
        assert_eq!(interface_address(&host, "127.0.0.1".parse().unwrap()), host.fallback_ip);
        assert_eq!(interface_address(&host, IpAddr::V6(Ipv6Addr::LOCALHOST)), host.fallback_ip);
        let out = ip_addr(&host, "192.168.1.10".parse().unwrap());
        assert!(out.contains("inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0"), "{out}");
        let out = ifconfig(&host, "192.168.1.10".parse().unwrap(), NOW);
        assert!(out.contains("inet 192.168.1.10  netmask 255.255.255.0  broadcast 192.168.1.255"), "{out}");
        assert!(out.contains("ether 52:54:00:"), "{out}");
        assert_eq!(link_local([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), "fe80::5054:ff:fe12:3456");
        assert!(
            ip_route(&host, "192.168.1.10".parse().unwrap()).starts_with("default via 192.168.1.1 dev eth0")
        );
    }

    #[test]
    fn process_tables() {
        let host = host("ubuntu22");
        let login = login();
        let account = host.user().clone();
        let table = processes(&host, &login, &account, "ps aux", 4250);
        let aux = ps_aux(&table, &host, NOW);
        assert!(
            aux.starts_with("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n")
        );
        assert!(aux.contains("sshd: deploy@pts/0"), "{aux}");
        assert!(aux.contains("message+"), "{aux}");
        assert!(aux.trim_end().ends_with("ps aux"), "{aux}");
        let plain = ps_terminal(&table, "pts/0");
        assert_eq!(
            plain,
            "    PID TTY          TIME CMD\n   4242 pts/0    00:00:00 bash\n   4250 pts/0    00:00:00 ps\n"
        );
        assert!(ps_ef(&table, NOW).contains(" 4242    4241  0 12:33 pts/0    00:00:00 -bash"));
        let alpine = super::super::host::tests::host("alpine");
        let table = processes(&alpine, &login, &account, "ps", 4250);
        assert!(ps_busybox(&table).contains("/sbin/init"));
        assert!(top(&table, &alpine, NOW).starts_with("top - 12:34:56 up "));
    }

    #[test]
    fn memory_and_disks_add_up() {
        let host = host("rocky9");
        let [total, used, free, _, cache, _] = memory(&host);
        assert_eq!(total, used + free + cache);
        let out = free_output(&host);
        assert!(out.lines().nth(1).unwrap().starts_with("Mem:"), "{out}");
        assert!(df(&host, true).contains(" /\n"));
        assert_eq!(human_kib(4_025_872), "3.8Gi");
        assert_eq!(df_human(4_025_872), "3.8G");
        assert_eq!(df_human(0), "0");
    }

    fn free_output(host: &Host) -> String {
        free(host, Some(1))
    }

    #[test]
    fn sessions_list_the_login() {
        let host = host("debian");
        let login = login();
        assert!(w(&host, &login, NOW).contains("deploy   pts/0    10.9.8.7         12:33"));
        assert_eq!(who(&login), "deploy   pts/0        2024-05-01 12:33 (10.9.8.7)\n");
        assert!(last(&host, &login).contains("still logged in"));
        assert!(listening(&login, false).contains("0.0.0.0:22 "));
    }

    #[test]
    fn proc_files() {
        let host = host("debian");
        assert_eq!(proc_cpuinfo(&host).matches("processor\t:").count() as u32, host.hardware.cpus);
        assert!(
            proc_meminfo(&host).starts_with(&format!("MemTotal:       {:>8} kB\n", host.hardware.memory_kib))
        );
        assert!(proc_version(&host).starts_with("Linux version 6.1.0-18-amd64 (debian-kernel@"));
        assert_eq!(proc_uptime(&host, NOW).split(' ').count(), 2);
        assert_eq!(proc_loadavg(&host, NOW).split(' ').count(), 5);
    }
}
