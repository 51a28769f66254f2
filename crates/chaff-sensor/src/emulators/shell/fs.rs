//! The fake file system the shell shows: a read-only tree built once per host from the
//! persona and the accounts. Nothing here touches the real disk.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use super::distro::{Distro, Family, LoginShell};
use super::host::{Account, stable_hash, stable_hash_u64};

/// What a file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Text(String),
    /// Computed when read (`/proc/uptime`, `/proc/loadavg`).
    Generated(Generated),
    /// A binary or a log nobody should see: reads as nothing.
    Opaque,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generated {
    Uptime,
    LoadAvg,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Content),
    /// A symbolic link and its target as written (`usr/bin`).
    Link(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits (`0o755`, `0o1777`).
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub size: u64,
    /// Unix time of the last change.
    pub mtime: u64,
}

impl Node {
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir)
    }

    /// Whether `account` may read it (a directory: list it).
    pub fn readable_by(&self, account: &Account) -> bool {
        account.is_root()
            || if self.owner == account.name { self.mode & 0o400 != 0 } else { self.mode & 0o004 != 0 }
    }

    /// `drwxr-xr-x`, as `ls -l` prints it.
    pub fn mode_string(&self) -> String {
        let kind = match self.kind {
            Kind::Dir => 'd',
            Kind::File(_) => '-',
            Kind::Link(_) => 'l',
        };
        let mut out = String::with_capacity(10);
        out.push(kind);
        for shift in [6, 3, 0] {
            let bits = (self.mode >> shift) & 7;
            out.push(if bits & 4 != 0 { 'r' } else { '-' });
            out.push(if bits & 2 != 0 { 'w' } else { '-' });
            out.push(if bits & 1 != 0 { 'x' } else { '-' });
        }
        if self.mode & 0o1000 != 0 {
            let last = if self.mode & 1 != 0 { 't' } else { 'T' };
            out.pop();
            out.push(last);
        }
        out
    }
}

/// Programs on the `PATH` of every persona. The shell emulates many of them; the others
/// exist so that `ls` and `which` look normal.
pub const USR_BIN: &[&str] = &[
    "awk", "base64", "bash", "cat", "chmod", "chown", "cp", "crontab", "curl", "cut", "date", "df", "du",
    "echo", "env", "false", "find", "free", "grep", "groups", "gzip", "head", "hostname", "id", "kill",
    "last", "less", "ln", "ls", "lscpu", "mkdir", "mv", "nano", "nproc", "passwd", "perl", "ping",
    "printenv", "ps", "pwd", "python3", "rm", "scp", "sed", "sh", "sleep", "sort", "ssh", "su", "sudo",
    "tail", "tar", "top", "touch", "tr", "true", "uname", "uniq", "uptime", "vi", "w", "wc", "wget", "which",
    "who", "whoami", "xargs",
];

/// Administration programs in `/usr/sbin`.
pub const USR_SBIN: &[&str] = &[
    "chpasswd", "ifconfig", "ip", "netstat", "reboot", "route", "shutdown", "ss", "sshd", "useradd",
    "usermod",
];

/// Programs only some personas have (see [`Distro::has_program`]).
pub const OPTIONAL_BIN: &[&str] = &[
    "apk",
    "apt",
    "apt-get",
    "busybox",
    "dnf",
    "dpkg",
    "journalctl",
    "lsb_release",
    "pacman",
    "rc-service",
    "rpm",
    "systemctl",
    "yum",
];

/// The tree, by absolute normalised path.
#[derive(Debug, Default)]
pub struct FakeFs {
    nodes: BTreeMap<String, Node>,
}

impl FakeFs {
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The node at absolute normalised `path` and its real path, following symbolic links
    /// in every component (eight links at most, as a loop guard).
    pub fn resolve(&self, path: &str) -> Option<(String, &Node)> {
        let mut resolved = String::from("/");
        let mut remaining: VecDeque<String> = components(path);
        let mut links = 0;
        while let Some(part) = remaining.pop_front() {
            let candidate = join(&resolved, &part);
            match &self.nodes.get(&candidate)?.kind {
                Kind::Link(target) => {
                    links += 1;
                    if links > 8 {
                        return None;
                    }
                    let mut rest = components(&join(&resolved, target));
                    rest.extend(remaining);
                    remaining = rest;
                    resolved = String::from("/");
                }
                _ => resolved = candidate,
            }
        }
        self.nodes.get(&resolved).map(|node| (resolved, node))
    }

    /// The entries directly inside directory `dir`, sorted by name.
    pub fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let prefix = if dir == "/" { "/".to_owned() } else { format!("{dir}/") };
        let len = prefix.len();
        self.nodes.range(prefix.clone()..).take_while(move |(path, _)| path.starts_with(&prefix)).filter_map(
            move |(path, node)| {
                let name = &path[len..];
                (!name.is_empty() && !name.contains('/')).then_some((name, node))
            },
        )
    }

    /// Adds a world-readable text file owned by root (the `/proc` files the host computes from
    /// its hardware; like the kernel's, they report size 0).
    pub fn insert_proc_file(&mut self, path: &str, text: String, mtime: u64) {
        let kind = Kind::File(Content::Text(text));
        let node = Node { kind, mode: 0o444, owner: "root".into(), group: "root".into(), size: 0, mtime };
        self.nodes.insert(path.to_owned(), node);
    }

    /// The tree of a `distro` host named `hostname` with `accounts` (root first).
    pub fn build(
        distro: &Distro,
        hostname: &str,
        accounts: &[Account],
        installed_at: u64,
        seed: u64,
    ) -> FakeFs {
        let mut fs = Builder { fs: FakeFs::default(), installed_at, seed };
        fs.skeleton(distro);
        fs.system_files(distro, hostname, accounts, seed);
        for account in accounts {
            fs.home(distro, account);
        }
        fs.programs(distro);
        fs.fs
    }
}

struct Builder {
    fs: FakeFs,
    installed_at: u64,
    seed: u64,
}

impl Builder {
    /// A time between installation and a few weeks later, stable per path.
    fn mtime(&self, path: &str) -> u64 {
        self.installed_at + stable_hash_u64(self.seed ^ stable_hash(path)) % (40 * 86_400)
    }

    /// Adds `path`, dated by [`Builder::mtime`].
    fn add(&mut self, path: &str, kind: Kind, mode: u32, (owner, group): (&str, &str), size: u64) {
        let mtime = self.mtime(path);
        let node = Node { kind, mode, owner: owner.to_owned(), group: group.to_owned(), size, mtime };
        self.fs.nodes.insert(path.to_owned(), node);
    }

    fn dir(&mut self, path: &str, mode: u32, owner: &str) {
        self.add(path, Kind::Dir, mode, (owner, owner), 4096);
    }

    fn text(&mut self, path: &str, mode: u32, owner: &str, group: &str, text: String) {
        let size = text.len() as u64;
        self.add(path, Kind::File(Content::Text(text)), mode, (owner, group), size);
    }

    fn opaque(&mut self, path: &str, mode: u32, owner: &str, group: &str, size: u64) {
        self.add(path, Kind::File(Content::Opaque), mode, (owner, group), size);
    }

    fn link(&mut self, path: &str, target: &str) {
        self.add(path, Kind::Link(target.to_owned()), 0o777, ("root", "root"), target.len() as u64);
    }

    fn skeleton(&mut self, distro: &Distro) {
        for dir in [
            "/",
            "/boot",
            "/dev",
            "/etc",
            "/etc/cron.d",
            "/etc/ssh",
            "/home",
            "/media",
            "/mnt",
            "/opt",
            "/run",
            "/srv",
            "/usr",
            "/usr/bin",
            "/usr/include",
            "/usr/lib",
            "/usr/lib64",
            "/usr/local",
            "/usr/local/bin",
            "/usr/local/sbin",
            "/usr/sbin",
            "/usr/share",
            "/var",
            "/var/cache",
            "/var/lib",
            "/var/log",
            "/var/mail",
            "/var/opt",
            "/var/spool",
            "/var/spool/cron",
            "/var/www",
        ] {
            self.dir(dir, 0o755, "root");
        }
        self.dir("/proc", 0o555, "root");
        self.dir("/sys", 0o555, "root");
        self.dir("/root", 0o700, "root");
        self.dir("/tmp", 0o1777, "root");
        self.dir("/var/tmp", 0o1777, "root");
        if distro.merged_usr() {
            self.link("/bin", "usr/bin");
            self.link("/sbin", "usr/sbin");
            self.link("/lib", "usr/lib");
            self.link("/lib64", "usr/lib64");
        } else {
            for dir in ["/bin", "/sbin", "/lib"] {
                self.dir(dir, 0o755, "root");
            }
        }
    }

    fn system_files(&mut self, distro: &Distro, hostname: &str, accounts: &[Account], seed: u64) {
        let users: Vec<&Account> = accounts.iter().filter(|a| !a.is_root()).collect();
        self.text("/etc/passwd", 0o644, "root", "root", passwd(distro, &users));
        self.text("/etc/group", 0o644, "root", "root", group(distro, &users));
        let (shadow_mode, shadow_group) =
            if distro.family == Family::RedHat { (0o000, "root") } else { (0o640, "shadow") };
        self.text("/etc/shadow", shadow_mode, "root", shadow_group, shadow(accounts, seed));
        self.text("/etc/hostname", 0o644, "root", "root", format!("{hostname}\n"));
        let short = hostname.split('.').next().unwrap_or(hostname);
        self.text(
            "/etc/hosts",
            0o644,
            "root",
            "root",
            format!(
                "127.0.0.1\tlocalhost\n127.0.1.1\t{hostname} {short}\n\n\
                 ::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
            ),
        );
        self.text("/etc/os-release", 0o644, "root", "root", distro.os_release.to_owned());
        self.text("/etc/issue", 0o644, "root", "root", distro.issue.to_owned());
        let (release_path, release_text) = distro.release_file;
        self.text(release_path, 0o644, "root", "root", release_text.to_owned());
        self.text(
            "/etc/resolv.conf",
            0o644,
            "root",
            "root",
            "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n".to_owned(),
        );
        self.text("/etc/machine-id", 0o444, "root", "root", format!("{}\n", machine_id(seed)));
        self.text("/etc/shells", 0o644, "root", "root", "/bin/sh\n/bin/bash\n/usr/bin/bash\n".to_owned());
        self.text(
            "/etc/crontab",
            0o644,
            "root",
            "root",
            "SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n\n\
             17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n"
                .to_owned(),
        );
        self.text(
            "/etc/ssh/sshd_config",
            0o644,
            "root",
            "root",
            "Include /etc/ssh/sshd_config.d/*.conf\n\nPermitRootLogin yes\nPasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\nUsePAM yes\nX11Forwarding yes\nPrintMotd no\n\
             AcceptEnv LANG LC_*\nSubsystem\tsftp\t/usr/lib/openssh/sftp-server\n"
                .to_owned(),
        );
        let (auth_log, syslog) = match distro.family {
            Family::RedHat | Family::Arch => ("/var/log/secure", "/var/log/messages"),
            Family::Debian | Family::Ubuntu => ("/var/log/auth.log", "/var/log/syslog"),
            Family::Alpine => ("/var/log/dmesg", "/var/log/messages"),
        };
        let size = |salt: u64| 40_000 + stable_hash_u64(seed ^ salt) % 900_000;
        self.opaque(auth_log, 0o640, "root", "adm", size(21));
        self.opaque(syslog, 0o640, "root", "adm", size(22));
        self.opaque("/var/log/wtmp", 0o664, "root", "utmp", size(23));
        self.opaque("/var/log/lastlog", 0o664, "root", "utmp", size(24));
        self.dir("/var/log/apt", 0o755, "root");
    }

    fn home(&mut self, distro: &Distro, account: &Account) {
        let name = account.name.as_str();
        if !account.is_root() {
            let mode = if distro.family == Family::Ubuntu { 0o750 } else { 0o700 };
            self.dir(&account.home, mode, name);
        }
        let rc = match distro.shell {
            LoginShell::Zsh => ".zshrc",
            LoginShell::Bash | LoginShell::Ash => ".bashrc",
        };
        let home = &account.home;
        self.text(&format!("{home}/{rc}"), 0o644, name, name, BASHRC.to_owned());
        self.text(&format!("{home}/.profile"), 0o644, name, name, PROFILE.to_owned());
        if !account.is_root() {
            self.text(&format!("{home}/.bash_logout"), 0o644, name, name, BASH_LOGOUT.to_owned());
        }
        self.dir(&format!("{home}/.ssh"), 0o700, name);
        self.text(&format!("{home}/.ssh/authorized_keys"), 0o600, name, name, String::new());
    }

    fn programs(&mut self, distro: &Distro) {
        let (bin, sbin) = if distro.merged_usr() { ("/usr/bin", "/usr/sbin") } else { ("/bin", "/sbin") };
        for (dir, names) in [(bin, USR_BIN), (sbin, USR_SBIN), (bin, OPTIONAL_BIN)] {
            for name in names.iter().filter(|name| distro.has_program(name)) {
                let path = format!("{dir}/{name}");
                let size = 18_000 + stable_hash_u64(self.seed ^ stable_hash(&path)) % 300_000;
                self.opaque(&path, 0o755, "root", "root", size);
            }
        }
        self.add("/dev/null", Kind::File(Content::Text(String::new())), 0o666, ("root", "root"), 0);
        for (path, text) in [("/proc/uptime", Generated::Uptime), ("/proc/loadavg", Generated::LoadAvg)] {
            self.add(path, Kind::File(Content::Generated(text)), 0o444, ("root", "root"), 0);
        }
    }
}

/// `/etc/machine-id`: 32 hex digits.
pub fn machine_id(seed: u64) -> String {
    format!("{:016x}{:016x}", stable_hash_u64(seed ^ 0x6d61_6368), stable_hash_u64(seed ^ 0x696e_6521))
}

fn passwd(distro: &Distro, users: &[&Account]) -> String {
    let system = match distro.family {
        Family::Debian | Family::Ubuntu => DEBIAN_PASSWD,
        Family::RedHat => REDHAT_PASSWD,
        Family::Alpine => ALPINE_PASSWD,
        Family::Arch => ARCH_PASSWD,
    };
    let shell = distro.shell_path();
    let mut out = format!("root:x:0:0:root:/root:{shell}\n{system}");
    for user in users {
        let gecos = match distro.family {
            Family::Debian => ",,,",
            Family::Alpine => "Linux User,,,",
            Family::Ubuntu | Family::RedHat | Family::Arch => "",
        };
        let _ = writeln!(out, "{0}:x:{1}:{1}:{gecos}:{2}:{shell}", user.name, user.uid, user.home);
    }
    out
}

fn group(distro: &Distro, users: &[&Account]) -> String {
    let (admin, gid) = distro.admin_group();
    let members: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let members = members.join(",");
    let mut out = String::from("root:x:0:\n");
    let system: &[(&str, u32)] = match distro.family {
        Family::Debian | Family::Ubuntu => &[
            ("daemon", 1),
            ("bin", 2),
            ("sys", 3),
            ("adm", 4),
            ("tty", 5),
            ("disk", 6),
            ("lp", 7),
            ("mail", 8),
            ("news", 9),
            ("uucp", 10),
            ("man", 12),
            ("proxy", 13),
            ("kmem", 15),
            ("dialout", 20),
            ("cdrom", 24),
            ("audio", 29),
            ("dip", 30),
            ("www-data", 33),
            ("backup", 34),
            ("shadow", 42),
            ("utmp", 43),
            ("video", 44),
            ("plugdev", 46),
            ("staff", 50),
            ("users", 100),
            ("nogroup", 65534),
        ],
        Family::RedHat | Family::Arch | Family::Alpine => &[
            ("bin", 1),
            ("daemon", 2),
            ("sys", 3),
            ("adm", 4),
            ("tty", 5),
            ("disk", 6),
            ("lp", 7),
            ("mem", 8),
            ("kmem", 9),
            ("mail", 12),
            ("uucp", 14),
            ("man", 15),
            ("games", 20),
            ("video", 39),
            ("ftp", 50),
            ("utmp", 22),
            ("users", 100),
            ("nobody", 65534),
        ],
    };
    for (name, id) in system {
        let extra = if *name == "adm" && distro.family == Family::Ubuntu { members.as_str() } else { "" };
        let _ = writeln!(out, "{name}:x:{id}:{extra}");
    }
    let _ = writeln!(out, "{admin}:x:{gid}:{members}");
    for user in users {
        let _ = writeln!(out, "{0}:x:{1}:", user.name, user.uid);
    }
    out
}

/// Shadow entries with hashes that look like yescrypt but match no password.
fn shadow(accounts: &[Account], seed: u64) -> String {
    const ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::new();
    for account in accounts {
        let mut state = seed ^ stable_hash(&account.name);
        let mut text = |len: usize| -> String {
            (0..len)
                .map(|_| {
                    state = stable_hash_u64(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
                    ALPHABET[(state % ALPHABET.len() as u64) as usize] as char
                })
                .collect()
        };
        let salt = text(22);
        let hash = text(43);
        let _ = writeln!(out, "{}:$y$j9T${salt}${hash}:19782:0:99999:7:::", account.name);
    }
    for system in ["daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "nobody", "sshd"] {
        let _ = writeln!(out, "{system}:*:19782:0:99999:7:::");
    }
    out
}

/// The components of an absolute normalised path.
fn components(path: &str) -> VecDeque<String> {
    path.split('/').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// The directory part of absolute `path` (`/` for `/x`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `path` resolved against absolute directory `base`, normalised: no `.`, `..`, empty or
/// trailing components. `..` at the root stays at the root.
pub fn join(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let start = if path.starts_with('/') { "" } else { base };
    for part in start.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let mut out = String::with_capacity(path.len() + base.len() + 1);
    for part in &parts {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

const DEBIAN_PASSWD: &str = "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
systemd-timesync:x:997:997:systemd Time Synchronization:/:/usr/sbin/nologin
messagebus:x:100:107::/nonexistent:/usr/sbin/nologin
sshd:x:101:65534::/run/sshd:/usr/sbin/nologin
";

const REDHAT_PASSWD: &str = "bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/spool/mail:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
games:x:12:100:games:/usr/games:/sbin/nologin
ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin
systemd-coredump:x:999:997:systemd Core Dumper:/:/sbin/nologin
dbus:x:81:81:System message bus:/:/sbin/nologin
tss:x:59:59:Account used for TPM access:/dev/null:/sbin/nologin
sssd:x:998:995:User for sssd:/:/sbin/nologin
sshd:x:74:74:Privilege-separated SSH:/usr/share/empty.sshd:/sbin/nologin
chrony:x:997:994::/var/lib/chrony:/sbin/nologin
";

const ALPINE_PASSWD: &str = "bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
";

const ARCH_PASSWD: &str = "bin:x:1:1::/:/usr/bin/nologin
daemon:x:2:2::/:/usr/bin/nologin
mail:x:8:12::/var/spool/mail:/usr/bin/nologin
ftp:x:14:11::/srv/ftp:/usr/bin/nologin
http:x:33:33::/srv/http:/usr/bin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/usr/bin/nologin
dbus:x:81:81:System Message Bus:/:/usr/bin/nologin
systemd-coredump:x:984:984:systemd Core Dumper:/:/usr/bin/nologin
systemd-network:x:982:982:systemd Network Management:/:/usr/bin/nologin
systemd-resolve:x:981:981:systemd Resolver:/:/usr/bin/nologin
systemd-timesync:x:980:980:systemd Time Synchronization:/:/usr/bin/nologin
sshd:x:975:975:sshd user:/var/empty:/usr/bin/nologin
";

const BASHRC: &str = "# ~/.bashrc: executed by bash(1) for non-login shells.

# If not running interactively, don't do anything
case $- in
    *i*) ;;
      *) return;;
esac

HISTCONTROL=ignoreboth
shopt -s histappend
HISTSIZE=1000
HISTFILESIZE=2000
shopt -s checkwinsize

if [ -x /usr/bin/dircolors ]; then
    test -r ~/.dircolors && eval \"$(dircolors -b ~/.dircolors)\" || eval \"$(dircolors -b)\"
    alias ls='ls --color=auto'
    alias grep='grep --color=auto'
fi

alias ll='ls -alF'
alias la='ls -A'
alias l='ls -CF'

if [ -f ~/.bash_aliases ]; then
    . ~/.bash_aliases
fi
";

const PROFILE: &str = "# ~/.profile: executed by the command interpreter for login shells.

if [ -n \"$BASH_VERSION\" ]; then
    if [ -f \"$HOME/.bashrc\" ]; then
\t. \"$HOME/.bashrc\"
    fi
fi

if [ -d \"$HOME/bin\" ] ; then
    PATH=\"$HOME/bin:$PATH\"
fi

if [ -d \"$HOME/.local/bin\" ] ; then
    PATH=\"$HOME/.local/bin:$PATH\"
fi
";

const BASH_LOGOUT: &str = "# ~/.bash_logout: executed by bash(1) when login shell exits.

if [ \"$SHLVL\" = 1 ]; then
    [ -x /usr/bin/clear_console ] && /usr/bin/clear_console -q
fi
";

#[cfg(test)]
mod tests {
    use super::super::host::tests::host;
    use super::*;

    #[test]
    fn paths_normalise() {
        assert_eq!(join("/home/u", "x"), "/home/u/x");
        assert_eq!(join("/home/u", "../v/./y/"), "/home/v/y");
        assert_eq!(join("/home/u", "/etc//passwd"), "/etc/passwd");
        assert_eq!(join("/", "../../.."), "/");
        assert_eq!(join("/tmp", ""), "/tmp");
        assert_eq!(parent("/etc/passwd"), "/etc");
        assert_eq!(parent("/etc"), "/");
        assert_eq!(parent("/"), "/");
    }

    #[test]
    fn tree_has_the_accounts_and_the_persona() {
        let host = host("ubuntu22");
        let fs = &host.fs;
        let passwd = match &fs.get("/etc/passwd").unwrap().kind {
            Kind::File(Content::Text(text)) => text.clone(),
            other => panic!("{other:?}"),
        };
        assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/bash\n"));
        assert!(passwd.ends_with("deploy:x:1000:1000::/home/deploy:/bin/bash\n"), "{passwd}");
        let home = fs.get("/home/deploy").unwrap();
        assert_eq!((home.owner.as_str(), home.mode_string().as_str()), ("deploy", "drwxr-x---"));
        let children: Vec<&str> = fs.children("/home/deploy").map(|(name, _)| name).collect();
        assert_eq!(children, [".bash_logout", ".bashrc", ".profile", ".ssh"]);
        assert_eq!(fs.get("/tmp").unwrap().mode_string(), "drwxrwxrwt");
        let (path, bin) = fs.resolve("/bin/ls").unwrap();
        assert_eq!((path.as_str(), bin.mode), ("/usr/bin/ls", 0o755));
        assert_eq!(fs.resolve("/").unwrap().0, "/");
        assert_eq!(fs.resolve("/bin").unwrap().0, "/usr/bin");
        assert!(fs.get("/bin").is_some_and(|n| matches!(n.kind, Kind::Link(_))));
        assert!(fs.resolve("/bin/nothing").is_none());
        assert!(fs.get("/etc/debian_version").is_some());

        let alpine = super::super::host::tests::host("alpine");
        assert!(alpine.fs.get("/bin/busybox").is_some());
        assert!(alpine.fs.get("/bin").unwrap().is_dir());
        let passwd = match &alpine.fs.get("/etc/passwd").unwrap().kind {
            Kind::File(Content::Text(text)) => text.clone(),
            other => panic!("{other:?}"),
        };
        assert!(passwd.contains("deploy:x:1000:1000:Linux User,,,:/home/deploy:/bin/ash\n"));
    }

    #[test]
    fn permissions_follow_owner_and_other_bits() {
        let host = host("rocky9");
        let shadow = host.fs.get("/etc/shadow").unwrap();
        assert_eq!(shadow.mode_string(), "----------");
        assert!(shadow.readable_by(host.root()));
        assert!(!shadow.readable_by(host.user()));
        assert!(!host.fs.get("/root").unwrap().readable_by(host.user()));
        assert!(host.fs.get("/etc/passwd").unwrap().readable_by(host.user()));
    }

    #[test]
    fn fake_hashes_are_stable_and_crack_nothing() {
        let a = host("debian");
        let b = host("debian");
        let text = |h: &super::super::host::Host| match &h.fs.get("/etc/shadow").unwrap().kind {
            Kind::File(Content::Text(text)) => text.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(text(&a), text(&b));
        assert!(text(&a).starts_with("root:$y$j9T$"));
        assert!(!text(&a).contains("toor"));
    }
}
