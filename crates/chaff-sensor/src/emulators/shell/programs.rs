//! The programs the fake shell answers for, as their real counterparts print. Nothing is
//! executed: each program reads the [`Host`](super::host::Host) and the session's files.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::distro::Family;
use super::fs::{Kind, Node, join};
use super::host::Account;
use super::interp::{Entry, Io, Mode, Note, Outcome, Shell};
use super::sysinfo::{self, Clock};
use super::text::{self, Filtered};

impl From<Filtered> for Io {
    fn from(f: Filtered) -> Io {
        Io { out: f.out, err: f.err, status: f.status, ..Io::default() }
    }
}

impl Shell {
    /// Runs program `name` (not a builtin) with `args`.
    pub(super) fn program(
        &mut self,
        name: &str,
        args: &[String],
        input: Option<String>,
        depth: usize,
        outcome: &mut Outcome,
    ) -> Io {
        let program = if name.contains('/') {
            match self.program_at(name) {
                Ok(Some(program)) => program,
                Ok(None) => {
                    let path = self.absolute(name);
                    let script = self.session_files.get(&path).cloned().unwrap_or_default();
                    return self.run_script(&script, depth, outcome);
                }
                Err(io) => return io,
            }
        } else if self.which(name).is_some() {
            name.to_owned()
        } else {
            return Io::fail(self.not_found(name), 127);
        };
        let stdin = input.unwrap_or_default();
        self.run_program(&program, args, &stdin, depth, outcome)
    }

    /// What running the path `name` means: the program it names (`/bin/ls`), `None` for a
    /// script written this session, or the error.
    fn program_at(&self, name: &str) -> Result<Option<String>, Io> {
        let path = self.absolute(name);
        let prefix = self.error_prefix();
        match self.lookup(&path) {
            None => Err(Io::fail(format!("{prefix}{name}: No such file or directory\n"), 127)),
            Some(Entry::SessionFile(_)) => Ok(None),
            Some(entry) if entry.is_dir() => Err(Io::fail(format!("{prefix}{name}: Is a directory\n"), 126)),
            Some(Entry::Node(node)) if node.mode & 0o111 != 0 => {
                Ok(Some(path.rsplit('/').next().unwrap_or(&path).to_owned()))
            }
            Some(_) => Err(Io::fail(format!("{prefix}{name}: Permission denied\n"), 126)),
        }
    }

    fn run_program(
        &mut self,
        name: &str,
        args: &[String],
        stdin: &str,
        depth: usize,
        outcome: &mut Outcome,
    ) -> Io {
        let account = self.account().clone();
        match name {
            "ls" | "dir" => self.ls(args),
            "cat" => self.cat(args, stdin),
            "head" => text::head_tail(false, args, stdin, &self.reader()).into(),
            "tail" => text::head_tail(true, args, stdin, &self.reader()).into(),
            "grep" | "egrep" | "fgrep" => {
                let mut args = args.to_vec();
                if name == "egrep" {
                    args.insert(0, "-E".into());
                } else if name == "fgrep" {
                    args.insert(0, "-F".into());
                }
                text::grep(&args, stdin, &self.reader()).into()
            }
            "wc" => text::wc(args, stdin, &self.reader()).into(),
            "sort" => text::sort(args, stdin, &self.reader()).into(),
            "uniq" => text::uniq(args, stdin, &self.reader()).into(),
            "cut" => text::cut(args, stdin, &self.reader()).into(),
            "awk" | "gawk" | "mawk" => text::awk(args, stdin, &self.reader()).into(),
            "base64" => text::base64(args, stdin, &self.reader()).into(),
            "tr" => text::tr(args, stdin).into(),
            "whoami" => Io::ok(format!("{}\n", account.name)),
            "id" => self.id(args),
            "groups" => {
                let target = args.first().and_then(|n| self.host.account(n)).unwrap_or(&account).clone();
                let names: Vec<String> = self.groups(&target).into_iter().map(|(_, name)| name).collect();
                Io::ok(format!("{}\n", names.join(" ")))
            }
            "hostname" => self.hostname(args),
            "uname" => self.uname(args),
            "arch" => Io::ok("x86_64\n"),
            "nproc" => Io::ok(format!("{}\n", self.host.hardware.cpus)),
            "uptime" if args.iter().any(|a| a == "-p" || a == "--pretty") => {
                Io::ok(format!("{}\n", sysinfo::uptime_pretty(&self.host, self.now())))
            }
            "uptime" => Io::ok(format!("{}\n", sysinfo::uptime_line(&self.host, self.now()))),
            "w" => Io::ok(sysinfo::w(&self.host, &self.login, self.now())),
            "who" => Io::ok(sysinfo::who(&self.login)),
            "users" => Io::ok(format!("{}\n", self.login.user)),
            "last" => Io::ok(sysinfo::last(&self.host, &self.login)),
            "ps" => self.ps(args),
            "top" | "htop" => {
                let pid = self.spawn_pid();
                let table = sysinfo::processes(&self.host, &self.login, &account, "top", pid);
                Io::ok(sysinfo::top(&table, &self.host, self.now()))
            }
            "free" => {
                let unit = match args.iter().find(|a| a.starts_with('-')).map(String::as_str) {
                    Some("-h" | "--human") => None,
                    Some("-m" | "--mebi") => Some(1024),
                    Some("-g" | "--gibi") => Some(1024 * 1024),
                    _ => Some(1),
                };
                Io::ok(sysinfo::free(&self.host, unit))
            }
            "df" => {
                Io::ok(sysinfo::df(&self.host, args.iter().any(|a| a.starts_with('-') && a.contains('h'))))
            }
            "lscpu" => Io::ok(sysinfo::lscpu(&self.host)),
            "date" => {
                let now = self.now();
                match args.iter().find(|a| a.starts_with('+')) {
                    Some(format) => Io::ok(format!("{}\n", sysinfo::strftime(&format[1..], now))),
                    None => Io::ok(format!("{}\n", Clock::at(now).date())),
                }
            }
            "env" | "printenv" => self.env(name, args, stdin, depth, outcome),
            "ifconfig" => Io::ok(sysinfo::ifconfig(&self.host, self.login.local.ip(), self.now())),
            "ip" => self.ip(args),
            "route" => Io::ok(sysinfo::route_table(&self.host, self.login.local.ip())),
            "netstat" if args.iter().any(|a| a.contains('r')) => {
                Io::ok(sysinfo::route_table(&self.host, self.login.local.ip()))
            }
            "netstat" => Io::ok(sysinfo::listening(&self.login, false)),
            "ss" => Io::ok(sysinfo::listening(&self.login, true)),
            "wget" => self.wget(args, outcome),
            "curl" => self.curl(args, outcome),
            "ping" => ping(args),
            "which" => {
                let mut io = Io::ok("");
                for arg in args.iter().filter(|a| !a.starts_with('-')) {
                    match self.which(arg) {
                        Some(path) => io.out.push_str(&format!("{path}\n")),
                        None => io.status = 1,
                    }
                }
                io
            }
            "touch" => self.touch(args),
            "mkdir" => self.mkdir(args),
            "rm" | "rmdir" => self.rm(name, args),
            "cp" | "mv" => self.copy(name, args),
            "passwd" => {
                Io::fail("passwd: Authentication token manipulation error\npasswd: password unchanged\n", 10)
            }
            "chpasswd" | "useradd" | "usermod" | "userdel" if !account.is_root() => {
                Io::fail(format!("{name}: cannot lock /etc/passwd; try again later.\n"), 1)
            }
            "crontab" if args.iter().any(|a| a == "-l" || a == "-r") => {
                Io::fail(format!("no crontab for {}\n", account.name), 1)
            }
            "lsb_release" => self.lsb_release(args),
            "busybox" => self.busybox(args, stdin, depth, outcome),
            "dmesg" if !account.is_root() => {
                Io::fail("dmesg: read kernel buffer failed: Operation not permitted\n", 1)
            }
            "dmesg" => Io::ok(format!(
                "[    0.000000] Linux version {}\n[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-{} root=/dev/vda1 ro console=tty1 console=ttyS0\n[    0.000000] BIOS-provided physical RAM map:\n",
                sysinfo::proc_version(&self.host).trim_end().trim_start_matches("Linux version "),
                self.host.distro.kernel_release
            )),
            "mount" if args.is_empty() => Io::ok(
                "/dev/vda1 on / type ext4 (rw,relatime,discard,errors=remount-ro)\nproc on /proc type proc (rw,nosuid,nodev,noexec,relatime)\n\
                 sysfs on /sys type sysfs (rw,nosuid,nodev,noexec,relatime)\ntmpfs on /run type tmpfs (rw,nosuid,nodev,noexec,relatime,mode=755,inode64)\n\
                 /dev/vda15 on /boot/efi type vfat (rw,relatime,fmask=0077,dmask=0077)\n",
            ),
            "mount" => Io::fail("mount: only root can do that.\n", 1),
            "clear" | "reset" => Io::ok("\u{1b}[H\u{1b}[2J\u{1b}[3J"),
            "sh" | "bash" | "ash" | "dash" | "zsh" => self.sh(name, args, stdin, depth, outcome),
            "apt" | "apt-get" => self.apt(name, args),
            "yum" | "dnf" => self.dnf(args),
            "apk" => self.apk(args),
            "pacman" => self.pacman(),
            "systemctl" | "service" => self.systemctl(name, args),
            _ => Io::ok(""),
        }
    }

    /// Reads files for the text filters, as this account.
    fn reader(&self) -> impl Fn(&str) -> Result<String, &'static str> + '_ {
        move |path| self.read_file(path)
    }

    fn id(&self, args: &[String]) -> Io {
        let flags: String =
            args.iter().filter(|a| a.starts_with('-')).map(|a| a.trim_start_matches('-')).collect();
        let target = match args.iter().find(|a| !a.starts_with('-')) {
            Some(name) => match self.host.account(name) {
                Some(account) => account.clone(),
                None => return Io::fail(format!("id: '{name}': no such user\n"), 1),
            },
            None => self.account().clone(),
        };
        let groups = self.groups(&target);
        let (gid, group) = groups[0].clone();
        let names = flags.contains('n');
        let out = if flags.contains('u') {
            if names { target.name.clone() } else { target.uid.to_string() }
        } else if flags.contains('G') {
            let list: Vec<String> = groups
                .iter()
                .map(|(id, name)| if names { name.to_string() } else { id.to_string() })
                .collect();
            list.join(" ")
        } else if flags.contains('g') {
            if names { group } else { gid.to_string() }
        } else {
            let list: Vec<String> = groups.iter().map(|(id, name)| format!("{id}({name})")).collect();
            let mut line =
                format!("uid={}({}) gid={gid}({group}) groups={}", target.uid, target.name, list.join(","));
            if self.host.distro.selinux() && args.is_empty() {
                line.push_str(" context=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023");
            }
            line
        };
        Io::ok(format!("{out}\n"))
    }

    /// The groups of `account` (primary first), as the persona sets them up.
    fn groups(&self, account: &Account) -> Vec<(u32, String)> {
        let family = self.host.distro.family;
        let named =
            |list: &[(u32, &str)]| list.iter().map(|&(id, name)| (id, name.to_owned())).collect::<Vec<_>>();
        if account.is_root() {
            if family == Family::Alpine {
                return named(&[
                    (0, "root"),
                    (1, "bin"),
                    (2, "daemon"),
                    (3, "sys"),
                    (4, "adm"),
                    (6, "disk"),
                    (10, "wheel"),
                    (11, "floppy"),
                    (20, "dialout"),
                    (26, "tape"),
                    (27, "video"),
                ]);
            }
            return named(&[(0, "root")]);
        }
        let mut groups = vec![(account.uid, account.name.clone())];
        let (admin_name, admin_gid) = self.host.distro.admin_group();
        let admin = (admin_gid, admin_name);
        groups.extend(named(&match family {
            Family::Debian => vec![
                (24, "cdrom"),
                (25, "floppy"),
                admin,
                (29, "audio"),
                (30, "dip"),
                (44, "video"),
                (46, "plugdev"),
                (100, "users"),
                (106, "netdev"),
            ],
            Family::Ubuntu => {
                vec![(4, "adm"), (24, "cdrom"), admin, (30, "dip"), (46, "plugdev"), (110, "lxd")]
            }
            Family::RedHat | Family::Alpine | Family::Arch => vec![admin],
        }));
        groups
    }

    fn hostname(&self, args: &[String]) -> Io {
        let ip = sysinfo::interface_address(&self.host, self.login.local.ip());
        match args.first().map(String::as_str) {
            None | Some("-f" | "--fqdn" | "--long") => Io::ok(format!("{}\n", self.host.hostname)),
            Some("-s" | "--short") => Io::ok(format!("{}\n", self.host.short_hostname())),
            Some("-I" | "--all-ip-addresses") => Io::ok(format!("{ip} \n")),
            Some("-i" | "--ip-address") => Io::ok(format!("{ip}\n")),
            Some(name) if !name.starts_with('-') && !self.account().is_root() => {
                Io::fail("hostname: you must be root to change the host name\n", 1)
            }
            Some(_) => Io::ok(""),
        }
    }

    fn uname(&self, args: &[String]) -> Io {
        let distro = self.host.distro;
        let gnu = distro.family != Family::Alpine;
        let platform = if distro.family == Family::RedHat { "x86_64" } else { "unknown" };
        let mut wanted = String::new();
        for arg in args {
            match arg.as_str() {
                "--all" => wanted.push('a'),
                "--kernel-name" => wanted.push('s'),
                "--nodename" => wanted.push('n'),
                "--kernel-release" => wanted.push('r'),
                "--kernel-version" => wanted.push('v'),
                "--machine" => wanted.push('m'),
                "--operating-system" => wanted.push('o'),
                a if a.starts_with('-') && !a.starts_with("--") => {
                    for c in a[1..].chars() {
                        if !"asnrvmpio".contains(c) {
                            return Io::fail(
                                format!(
                                    "uname: invalid option -- '{c}'\nTry 'uname --help' for more information.\n"
                                ),
                                1,
                            );
                        }
                        wanted.push(c);
                    }
                }
                a => {
                    return Io::fail(
                        format!("uname: extra operand '{a}'\nTry 'uname --help' for more information.\n"),
                        1,
                    );
                }
            }
        }
        if wanted.is_empty() {
            wanted.push('s');
        }
        let all = wanted.contains('a');
        let os = if gnu { "GNU/Linux" } else { "Linux" };
        let mut parts = Vec::new();
        for (flag, value) in [
            ('s', "Linux"),
            ('n', self.host.hostname.as_str()),
            ('r', distro.kernel_release),
            ('v', distro.kernel_version),
            ('m', "x86_64"),
            ('p', platform),
            ('i', platform),
            ('o', os),
        ] {
            let shown_by_all = all && !(matches!(flag, 'p' | 'i') && (value == "unknown" || !gnu));
            if shown_by_all || wanted.contains(flag) {
                parts.push(value);
            }
        }
        Io::ok(format!("{}\n", parts.join(" ")))
    }

    fn ps(&mut self, args: &[String]) -> Io {
        let pid = self.spawn_pid();
        let command = format!("ps {}", args.join(" "));
        let table = sysinfo::processes(&self.host, &self.login, self.account(), command.trim_end(), pid);
        let now = self.now();
        if self.host.distro.family == Family::Alpine {
            return Io::ok(sysinfo::ps_busybox(&table));
        }
        let flags: String = args.concat();
        let out = if flags.contains('f') && flags.contains('e') || flags.contains('f') && flags.contains('A')
        {
            sysinfo::ps_ef(&table, now)
        } else if flags.contains('a') || flags.contains('x') || flags.contains('e') || flags.contains('A') {
            sysinfo::ps_aux(&table, &self.host, now)
        } else {
            sysinfo::ps_terminal(&table, &self.login.tty)
        };
        Io::ok(out)
    }

    fn env(&mut self, name: &str, args: &[String], stdin: &str, depth: usize, outcome: &mut Outcome) -> Io {
        let rest: Vec<String> =
            args.iter().skip_while(|a| a.contains('=') || a.starts_with('-')).cloned().collect();
        if name == "env" && !rest.is_empty() {
            return self.dispatch(&rest, Some(stdin.to_owned()), depth, outcome);
        }
        if name == "printenv" && !args.is_empty() {
            let values: Vec<String> = args.iter().filter_map(|a| self.variables.get(a).cloned()).collect();
            let status = if values.len() == args.len() { 0 } else { 1 };
            let mut io = Io::ok(values.iter().map(|v| format!("{v}\n")).collect::<String>());
            io.status = status;
            return io;
        }
        let mut out: String = self.variables.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        out.push_str(&format!("_=/usr/bin/{name}\n"));
        Io::ok(out)
    }

    fn ip(&self, args: &[String]) -> Io {
        let local = self.login.local.ip();
        let object = args.iter().find(|a| !a.starts_with('-')).map(String::as_str).unwrap_or("");
        match object {
            "a" | "ad" | "addr" | "address" => Io::ok(sysinfo::ip_addr(&self.host, local)),
            "r" | "ro" | "route" => Io::ok(sysinfo::ip_route(&self.host, local)),
            "l" | "li" | "link" => Io::ok(sysinfo::ip_link(&self.host)),
            "" => Io::fail(
                "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n       ip [ -force ] -batch filename\n\
                 where  OBJECT := { address | link | neighbor | route | rule | tunnel }\n",
                255,
            ),
            other => Io::fail(format!("Object \"{other}\" is unknown, try \"ip help\".\n"), 1),
        }
    }

    fn ls(&self, args: &[String]) -> Io {
        let mut flags = String::new();
        let mut paths = Vec::new();
        for arg in args {
            match arg.as_str() {
                "--all" => flags.push('a'),
                "--almost-all" => flags.push('A'),
                a if a.starts_with("--") => {}
                a if a.starts_with('-') && a.len() > 1 => flags.push_str(&a[1..]),
                a => paths.push(a.to_owned()),
            }
        }
        let long = flags.contains('l') || flags.contains('n') || flags.contains('g');
        let one_per_line = flags.contains('1') || self.mode == Mode::Script;
        let hidden = if flags.contains('a') {
            Hidden::All
        } else if flags.contains('A') {
            Hidden::AlmostAll
        } else {
            Hidden::None
        };
        let listing_dirs = !flags.contains('d');
        if paths.is_empty() {
            paths.push(".".into());
        }
        let mut io = Io::ok("");
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for path in &paths {
            let absolute = self.absolute(path);
            match self.lookup(&absolute) {
                None => {
                    io.err.push_str(&format!("ls: cannot access '{path}': No such file or directory\n"));
                    io.status = 2;
                }
                Some(entry) if entry.is_dir() && listing_dirs => dirs.push((path.clone(), absolute)),
                Some(_) => files.push((path.clone(), self.listed(&absolute))),
            }
        }
        let render = |entries: &[(String, Listed)]| {
            if long {
                long_listing(entries, self.now(), flags.contains('h'))
            } else {
                columns(entries.iter().map(|(name, _)| name.as_str()).collect(), one_per_line)
            }
        };
        io.out.push_str(&render(&files));
        let headers = paths.len() > 1;
        for (i, (path, absolute)) in dirs.iter().enumerate() {
            let node_readable = match self.lookup(absolute) {
                Some(Entry::Node(node)) => node.readable_by(self.account()),
                _ => true,
            };
            if !node_readable {
                io.err.push_str(&format!("ls: cannot open directory '{path}': Permission denied\n"));
                io.status = 2;
                continue;
            }
            if headers {
                if i > 0 || !files.is_empty() {
                    io.out.push('\n');
                }
                io.out.push_str(&format!("{path}:\n"));
            }
            let entries = self.directory(absolute, hidden);
            if long {
                let blocks: u64 = entries.iter().map(|(_, l)| l.size.div_ceil(4096) * 4).sum();
                io.out.push_str(&format!("total {blocks}\n"));
            }
            io.out.push_str(&render(&entries));
        }
        io
    }

    /// The entries of directory `dir`, sorted, with `.` and `..` for `-a`.
    fn directory(&self, dir: &str, hidden: Hidden) -> Vec<(String, Listed)> {
        let mut entries: Vec<(String, Listed)> = Vec::new();
        if hidden == Hidden::All {
            entries.push((".".into(), self.listed(dir)));
            entries.push(("..".into(), self.listed(super::fs::parent(dir))));
        }
        let mut names: Vec<(String, Listed)> = self
            .host
            .fs
            .children(dir)
            .map(|(name, node)| (name.to_owned(), Listed::from_node(node)))
            .collect();
        let prefix = if dir == "/" { "/".to_owned() } else { format!("{dir}/") };
        let session = self.session_files.keys().chain(self.session_dirs.iter());
        for path in session {
            if let Some(name) = path.strip_prefix(&prefix).filter(|n| !n.contains('/'))
                && !names.iter().any(|(n, _)| n == name)
            {
                names.push((name.to_owned(), self.listed(path)));
            }
        }
        names.retain(|(name, _)| hidden != Hidden::None || !name.starts_with('.'));
        names.sort_by_key(|(name, _)| sort_key(name));
        entries.extend(names);
        entries
    }

    fn listed(&self, path: &str) -> Listed {
        let owner = self.account().name.clone();
        match self.lookup(path) {
            Some(Entry::SessionFile(text)) => Listed {
                mode: "-rw-rw-r--".into(),
                links: 1,
                owner: owner.clone(),
                group: owner,
                size: text.len() as u64,
                mtime: self.now(),
                target: None,
            },
            Some(Entry::SessionDir) => Listed {
                mode: "drwxrwxr-x".into(),
                links: 2,
                owner: owner.clone(),
                group: owner,
                size: 4096,
                mtime: self.now(),
                target: None,
            },
            Some(Entry::Node(_)) | None => {
                let node = self.host.fs.get(path).or_else(|| self.host.fs.resolve(path).map(|(_, n)| n));
                node.map(Listed::from_node).unwrap_or_default()
            }
        }
    }

    fn cat(&self, args: &[String], stdin: &str) -> Io {
        let files: Vec<&String> = args.iter().filter(|a| !a.starts_with('-') || *a == "-").collect();
        if files.is_empty() {
            return Io::ok(stdin);
        }
        let mut io = Io::ok("");
        for file in files {
            if file == "-" {
                io.out.push_str(stdin);
                continue;
            }
            match self.read_file(file) {
                Ok(text) => io.out.push_str(&text),
                Err(error) => {
                    io.err.push_str(&format!("cat: {file}: {error}\n"));
                    io.status = 1;
                }
            }
            if io.out.len() > super::interp::MAX_OUTPUT {
                break;
            }
        }
        io
    }

    fn touch(&mut self, args: &[String]) -> Io {
        let mut io = Io::ok("");
        for file in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.absolute(file);
            if self.lookup(&path).is_some() {
                continue;
            }
            let error = if self.lookup(super::fs::parent(&path)).is_none() {
                Some("No such file or directory")
            } else if !self.may_write(&path) {
                Some("Permission denied")
            } else {
                None
            };
            match error {
                Some(error) => {
                    io.err.push_str(&format!("touch: cannot touch '{file}': {error}\n"));
                    io.status = 1;
                }
                None => self.write_file(&path, "", true),
            }
        }
        io
    }

    fn mkdir(&mut self, args: &[String]) -> Io {
        let parents = args.iter().any(|a| a.starts_with('-') && a.contains('p'));
        let mut io = Io::ok("");
        for dir in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.absolute(dir);
            let error = if self.lookup(&path).is_some() {
                (!parents).then_some("File exists")
            } else if !self.may_write(&path) {
                Some("Permission denied")
            } else if !parents && self.lookup(super::fs::parent(&path)).is_none() {
                Some("No such file or directory")
            } else {
                None
            };
            match error {
                Some(error) => {
                    io.err.push_str(&format!("mkdir: cannot create directory '{dir}': {error}\n"));
                    io.status = 1;
                }
                None if self.lookup(&path).is_none() => self.make_dir(&path),
                None => {}
            }
        }
        io
    }

    fn rm(&mut self, name: &str, args: &[String]) -> Io {
        let force = args.iter().any(|a| a.starts_with('-') && a.contains('f'));
        let mut io = Io::ok("");
        for file in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.absolute(file);
            if self.session_files.remove(&path).is_some() || self.session_dirs.remove(&path) {
                continue;
            }
            let error = match self.lookup(&path) {
                None if force => None,
                None => Some("No such file or directory"),
                Some(_) if !self.may_write(&path) => Some("Permission denied"),
                Some(_) => None,
            };
            if let Some(error) = error {
                io.err.push_str(&format!("{name}: cannot remove '{file}': {error}\n"));
                io.status = 1;
            }
        }
        io
    }

    fn copy(&mut self, name: &str, args: &[String]) -> Io {
        let operands: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let [source, target] = operands[..] else {
            return Io::fail(
                format!("{name}: missing file operand\nTry '{name} --help' for more information.\n"),
                1,
            );
        };
        let text = match self.read_file(source) {
            Ok(text) => text,
            Err(error) => return Io::fail(format!("{name}: cannot stat '{source}': {error}\n"), 1),
        };
        let mut path = self.absolute(target);
        if self.lookup(&path).is_some_and(|e| e.is_dir()) {
            let base = source.rsplit('/').next().unwrap_or(source);
            path = join(&path, base);
        }
        if !self.may_write(&path) {
            return Io::fail(
                format!("{name}: cannot create regular file '{target}': Permission denied\n"),
                1,
            );
        }
        self.write_file(&path, &text, false);
        if name == "mv" {
            let source = self.absolute(source);
            self.session_files.remove(&source);
        }
        Io::ok("")
    }

    /// `sh -c LINE`, `sh SCRIPT`, or `sh` reading commands from a pipe.
    fn sh(&mut self, name: &str, args: &[String], stdin: &str, depth: usize, outcome: &mut Outcome) -> Io {
        if let Some(i) = args.iter().position(|a| a == "-c") {
            let line = args.get(i + 1).cloned().unwrap_or_default();
            return self.run_script(&line, depth, outcome);
        }
        if let Some(script) = args.iter().find(|a| !a.starts_with('-')) {
            return match self.read_file(script) {
                Ok(text) => self.run_script(&text, depth, outcome),
                Err(error) => Io::fail(format!("{name}: {script}: {error}\n"), 127),
            };
        }
        self.run_script(stdin, depth, outcome)
    }

    fn lsb_release(&self, args: &[String]) -> Io {
        let release = self.host.distro.os_release;
        let field = |key: &str| {
            release
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or("")
                .trim_matches('"')
                .to_owned()
        };
        let id = match field("ID").as_str() {
            "ubuntu" => "Ubuntu".to_owned(),
            "debian" => "Debian".to_owned(),
            "kali" => "Kali".to_owned(),
            other => other.to_owned(),
        };
        let codename = field("VERSION_CODENAME");
        let all = args.is_empty() || args.iter().any(|a| a.contains('a'));
        let mut out = String::new();
        if all || args.iter().any(|a| a.contains('i')) {
            let _ = writeln!(out, "Distributor ID:\t{id}");
        }
        if all || args.iter().any(|a| a.contains('d')) {
            let _ = writeln!(out, "Description:\t{}", self.host.distro.pretty_name);
        }
        if all || args.iter().any(|a| a.contains('r')) {
            let _ = writeln!(out, "Release:\t{}", field("VERSION_ID"));
        }
        if all || args.iter().any(|a| a.contains('c')) {
            let _ = writeln!(out, "Codename:\t{codename}");
        }
        Io { out, err: "No LSB modules are available.\n".into(), ..Io::default() }
    }

    /// Alpine's multi-call binary: `busybox APPLET ...`, or `APPLET: applet not found`.
    fn busybox(&mut self, args: &[String], stdin: &str, depth: usize, outcome: &mut Outcome) -> Io {
        let Some(applet) = args.first() else {
            return Io::ok(format!(
                "{}\nBusyBox is copyrighted by many authors between 1998-2015.\nLicensed under GPLv2.\n\
                 See source distribution for detailed copyright notices.\n\n\
                 Usage: busybox [function [arguments]...]\n   or: busybox --list[-full]\n   or: function [arguments]...\n",
                self.host.distro.shell_version
            ));
        };
        if applet == "--list" {
            let mut names: Vec<&str> =
                super::fs::USR_BIN.iter().chain(super::fs::USR_SBIN).copied().collect();
            names.sort_unstable();
            return Io::ok(names.iter().map(|n| format!("{n}\n")).collect::<String>());
        }
        let known =
            super::fs::USR_BIN.contains(&applet.as_str()) || super::fs::USR_SBIN.contains(&applet.as_str());
        if !known || !self.host.distro.has_program(applet) {
            return Io::fail(format!("{applet}: applet not found\n"), 127);
        }
        self.dispatch(args, Some(stdin.to_owned()), depth, outcome)
    }

    /// `wget URL...`: records each URL and fails as an offline host does.
    fn wget(&mut self, args: &[String], outcome: &mut Outcome) -> Io {
        let quiet = args.iter().any(|a| a == "-q" || a == "--quiet");
        let urls =
            urls(args, &["-O", "-o", "-P", "-U", "-e", "-t", "-T", "-a", "-i", "--header", "--user-agent"]);
        if urls.is_empty() {
            return Io::fail(
                "wget: missing URL\nUsage: wget [OPTION]... [URL]...\n\nTry `wget --help' for more options.\n",
                1,
            );
        }
        let busybox = self.host.distro.family == Family::Alpine;
        let now = Clock::at(self.now());
        let mut io = Io::fail("", if busybox { 1 } else { 4 });
        for url in urls {
            outcome.notes.push(Note::Download { tool: "wget".into(), url: url.clone() });
            let parsed = Url::parse(&url);
            if quiet {
                continue;
            }
            let message = match (busybox, parsed.host.parse::<IpAddr>().is_ok()) {
                (true, true) => format!(
                    "Connecting to {}:{} ({}:{})\nwget: can't connect to remote host ({}): Connection refused\n",
                    parsed.host, parsed.port, parsed.host, parsed.port, parsed.host
                ),
                (true, false) => format!("wget: bad address '{}'\n", parsed.host),
                (false, true) => format!(
                    "--{} {}--  {}\nConnecting to {}:{}... failed: Connection refused.\n",
                    now.iso_date(),
                    now.time(),
                    parsed.full,
                    parsed.host,
                    parsed.port
                ),
                (false, false) => format!(
                    "--{} {}--  {}\nResolving {host} ({host})... failed: Temporary failure in name resolution.\n\
                     wget: unable to resolve host address ‘{host}’\n",
                    now.iso_date(),
                    now.time(),
                    parsed.full,
                    host = parsed.host
                ),
            };
            io.err.push_str(&message);
        }
        io
    }

    /// `curl URL...`: records each URL and fails as an offline host does.
    fn curl(&mut self, args: &[String], outcome: &mut Outcome) -> Io {
        let silent = args.iter().any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('s'))
            && !args.iter().any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('S'));
        let urls = urls(
            args,
            &[
                "-o",
                "-H",
                "-A",
                "-d",
                "-X",
                "-u",
                "-x",
                "-e",
                "-m",
                "-T",
                "-F",
                "-b",
                "-c",
                "--output",
                "--data",
                "--header",
                "--user-agent",
                "--connect-timeout",
                "--max-time",
                "--request",
            ],
        );
        if urls.is_empty() {
            return Io::fail("curl: try 'curl --help' or 'curl --manual' for more information\n", 2);
        }
        let mut io = Io::fail("", 0);
        for url in urls {
            outcome.notes.push(Note::Download { tool: "curl".into(), url: url.clone() });
            let parsed = Url::parse(&url);
            let (status, message) = if parsed.host.parse::<IpAddr>().is_ok() {
                (
                    7,
                    format!(
                        "curl: (7) Failed to connect to {} port {} after 0 ms: Connection refused\n",
                        parsed.host, parsed.port
                    ),
                )
            } else {
                (6, format!("curl: (6) Could not resolve host: {}\n", parsed.host))
            };
            io.status = status;
            if !silent {
                io.err.push_str(&message);
            }
        }
        io
    }

    fn apt(&self, name: &str, args: &[String]) -> Io {
        let action = args.iter().find(|a| !a.starts_with('-')).map(String::as_str).unwrap_or("");
        if action.is_empty() {
            return Io::ok(format!("apt 2.6.1 (amd64)\nUsage: {name} [options] command\n"));
        }
        if !self.account().is_root() {
            return Io::fail(
                "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\n\
                 E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?\n",
                100,
            );
        }
        let mirror =
            if self.host.distro.family == Family::Ubuntu { "archive.ubuntu.com" } else { "deb.debian.org" };
        match action {
            "update" => Io {
                out: format!(
                    "Err:1 http://{mirror}/debian stable InRelease\n  Temporary failure resolving '{mirror}'\n\
                     Reading package lists... Done\n"
                ),
                err: format!(
                    "W: Failed to fetch http://{mirror}/debian/dists/stable/InRelease  Temporary failure resolving '{mirror}'\n\
                     W: Some index files failed to download. They have been ignored, or old ones used instead.\n"
                ),
                ..Io::default()
            },
            "install" => {
                let package = args.iter().filter(|a| !a.starts_with('-')).nth(1).cloned().unwrap_or_default();
                Io {
                    out: "Reading package lists... Done\nBuilding dependency tree... Done\nReading state information... Done\n".into(),
                    err: format!("E: Unable to locate package {package}\n"),
                    status: 100,
                    ..Io::default()
                }
            }
            _ => Io::ok("Reading package lists... Done\n"),
        }
    }

    fn dnf(&self, args: &[String]) -> Io {
        if !self.account().is_root()
            && args.iter().any(|a| matches!(a.as_str(), "install" | "update" | "upgrade" | "remove"))
        {
            return Io::fail(
                "Error: This command has to be run with superuser privileges (under the root user on most systems).\n",
                1,
            );
        }
        Io {
            out: String::new(),
            err: "Errors during downloading metadata for repository 'baseos':\n  - Curl error (6): Couldn't resolve host name for \
                  https://mirrors.rockylinux.org/mirrorlist?arch=x86_64&repo=BaseOS-9 [Could not resolve host: mirrors.rockylinux.org]\n\
                  Error: Failed to download metadata for repo 'baseos': Cannot prepare internal mirrorlist: Curl error (6): \
                  Couldn't resolve host name\n"
                .into(),
            status: 1,
            ..Io::default()
        }
    }

    fn apk(&self, args: &[String]) -> Io {
        if !self.account().is_root() {
            return Io::fail(
                "ERROR: Unable to lock database: Permission denied\nERROR: Failed to open apk database: Permission denied\n",
                99,
            );
        }
        let package = args.iter().filter(|a| !a.starts_with('-')).nth(1).cloned().unwrap_or_default();
        Io::fail(
            format!(
                "fetch https://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/APKINDEX.tar.gz\n\
                 WARNING: fetching https://dl-cdn.alpinelinux.org/alpine/v3.19/main: DNS lookup error\n\
                 ERROR: unable to select packages:\n  {package} (no such package):\n    required by: world[{package}]\n"
            ),
            1,
        )
    }

    fn pacman(&self) -> Io {
        if !self.account().is_root() {
            return Io::fail("error: you cannot perform this operation unless you are root.\n", 1);
        }
        Io::fail(
            ":: Synchronizing package databases...\nerror: failed retrieving file 'core.db' from geo.mirror.pkgbuild.com : \
             Could not resolve host: geo.mirror.pkgbuild.com\nerror: failed to synchronize all databases (invalid url for server)\n",
            1,
        )
    }

    fn systemctl(&self, name: &str, args: &[String]) -> Io {
        let operands: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let (action, unit) = if name == "service" {
            (
                operands.get(1).map(|s| s.as_str()).unwrap_or("status"),
                operands.first().map(|s| s.as_str()).unwrap_or(""),
            )
        } else {
            (
                operands.first().map(|s| s.as_str()).unwrap_or("list-units"),
                operands.get(1).map(|s| s.as_str()).unwrap_or(""),
            )
        };
        let unit = unit.trim_end_matches(".service");
        let known =
            matches!(unit, "ssh" | "sshd" | "cron" | "crond" | "rsyslog" | "systemd-journald" | "networking");
        match action {
            "status" if known => Io::ok(format!(
                "● {unit}.service\n     Loaded: loaded (/lib/systemd/system/{unit}.service; enabled; preset: enabled)\n     Active: active (running)\n"
            )),
            "status" | "start" | "stop" | "restart" | "enable" | "disable" | "reload" if !known => {
                let status = if action == "status" { 4 } else { 5 };
                let message = if action == "status" {
                    format!("Unit {unit}.service could not be found.\n")
                } else {
                    format!("Failed to {action} {unit}.service: Unit {unit}.service not found.\n")
                };
                Io::fail(message, status)
            }
            _ if !self.account().is_root() && action != "list-units" => Io::fail(
                format!(
                    "Failed to {action} {unit}.service: Access denied\nSee system logs and 'systemctl status {unit}.service' for details.\n"
                ),
                1,
            ),
            _ => Io::ok(""),
        }
    }
}

/// Which dot-files `ls` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hidden {
    None,
    AlmostAll,
    All,
}

/// One line of `ls -l`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Listed {
    mode: String,
    links: u64,
    owner: String,
    group: String,
    size: u64,
    mtime: u64,
    target: Option<String>,
}

impl Listed {
    fn from_node(node: &Node) -> Listed {
        Listed {
            mode: node.mode_string(),
            links: if node.is_dir() { 2 } else { 1 },
            owner: node.owner.clone(),
            group: node.group.clone(),
            size: node.size,
            mtime: node.mtime,
            target: match &node.kind {
                Kind::Link(target) => Some(target.clone()),
                _ => None,
            },
        }
    }
}

/// `ls` sorts ignoring leading dots and case, as in an English locale.
fn sort_key(name: &str) -> String {
    name.trim_start_matches('.').to_lowercase()
}

fn long_listing(entries: &[(String, Listed)], now: u64, human: bool) -> String {
    let size = |l: &Listed| if human { human_size(l.size) } else { l.size.to_string() };
    let width = |f: &dyn Fn(&Listed) -> String| entries.iter().map(|(_, l)| f(l).len()).max().unwrap_or(0);
    let (links_w, owner_w, group_w, size_w) = (
        width(&|l| l.links.to_string()),
        width(&|l| l.owner.clone()),
        width(&|l| l.group.clone()),
        width(&|l| size(l)),
    );
    let mut out = String::new();
    for (name, l) in entries {
        let t = Clock::at(l.mtime);
        let recent = now.saturating_sub(l.mtime) < 180 * 86_400;
        let when = if recent {
            format!("{} {:>2} {:02}:{:02}", t.month_name(), t.day, t.hour, t.minute)
        } else {
            format!("{} {:>2}  {}", t.month_name(), t.day, t.year)
        };
        let _ = write!(
            out,
            "{} {:>links_w$} {:<owner_w$} {:<group_w$} {:>size_w$} {when} {name}",
            l.mode,
            l.links,
            l.owner,
            l.group,
            size(l)
        );
        if let Some(target) = &l.target {
            let _ = write!(out, " -> {target}");
        }
        out.push('\n');
    }
    out
}

fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    let units = ['K', 'M', 'G', 'T'];
    while value >= 1024.0 && unit < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    let unit = units[unit - 1];
    if value < 10.0 {
        format!("{:.1}{unit}", (value * 10.0).ceil() / 10.0)
    } else {
        format!("{}{unit}", value.ceil())
    }
}

/// Names in columns filling an 80-column terminal down then across, as `ls` lays them out;
/// one per line when the output is not a terminal.
fn columns(names: Vec<&str>, one_per_line: bool) -> String {
    if names.is_empty() {
        return String::new();
    }
    if one_per_line {
        return names.iter().map(|n| format!("{n}\n")).collect();
    }
    const WIDTH: usize = 80;
    let lens: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    let mut layout = (1, vec![lens.iter().copied().max().unwrap_or(0)]);
    for cols in (2..=names.len().min(WIDTH / 3)).rev() {
        let rows = names.len().div_ceil(cols);
        let widths: Vec<usize> =
            (0..cols).map(|c| lens.iter().skip(c * rows).take(rows).copied().max().unwrap_or(0)).collect();
        let total: usize = widths.iter().sum::<usize>() + 2 * (cols - 1);
        if total < WIDTH {
            layout = (cols, widths);
            break;
        }
    }
    let (cols, widths) = layout;
    let rows = names.len().div_ceil(cols);
    let mut out = String::new();
    for r in 0..rows {
        let mut line = String::new();
        for (c, width) in widths.iter().enumerate() {
            let Some(name) = names.get(c * rows + r) else { continue };
            if !line.is_empty() {
                line.push_str("  ");
            }
            let _ = write!(line, "{name:<width$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The URL operands of a download command: arguments that are not options nor the values
/// of the options in `with_values`.
fn urls(args: &[String], with_values: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for arg in args {
        if skip {
            skip = false;
            continue;
        }
        if with_values.contains(&arg.as_str()) {
            skip = true;
        } else if !arg.starts_with('-') && !arg.is_empty() {
            out.push(arg.clone());
        }
    }
    out
}

/// The parts of a URL the error messages show.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    /// With a scheme (wget adds `http://`).
    full: String,
    host: String,
    port: u16,
}

impl Url {
    fn parse(url: &str) -> Url {
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "https" => 443,
            "ftp" => 21,
            _ => 80,
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                (host.to_owned(), port.parse().unwrap_or(default_port))
            }
            _ => (authority.to_owned(), default_port),
        };
        let full = if url.contains("://") { url.to_owned() } else { format!("http://{url}") };
        let full = if full[full.find("://").map_or(0, |i| i + 3)..].contains('/') {
            full
        } else {
            format!("{full}/")
        };
        Url { full, host: host.trim_matches(['[', ']']).to_owned(), port }
    }
}

/// `ping`: the host has no route out.
fn ping(args: &[String]) -> Io {
    let with_values = ["-c", "-i", "-W", "-w", "-s", "-t", "-I"];
    let Some(target) = urls(args, &with_values).into_iter().next() else {
        return Io::fail("ping: usage error: Destination address required\n", 1);
    };
    if target.parse::<IpAddr>().is_ok() {
        Io::fail("ping: connect: Network is unreachable\n", 2)
    } else {
        Io::fail(format!("ping: {target}: Temporary failure in name resolution\n"), 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_like_the_tools() {
        let url = Url::parse("http://1.2.3.4:8080/x.sh");
        assert_eq!((url.host.as_str(), url.port), ("1.2.3.4", 8080));
        let url = Url::parse("evil.example/bins.sh");
        assert_eq!(
            (url.full.as_str(), url.host.as_str(), url.port),
            ("http://evil.example/bins.sh", "evil.example", 80)
        );
        let url = Url::parse("https://user:pw@host.example");
        assert_eq!(
            (url.full.as_str(), url.host.as_str(), url.port),
            ("https://user:pw@host.example/", "host.example", 443)
        );
    }

    #[test]
    fn download_operands_skip_option_values() {
        let args: Vec<String> =
            ["-O", "/tmp/x", "-q", "http://a/b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(urls(&args, &["-O"]), ["http://a/b", "c"]);
    }

    #[test]
    fn ls_columns() {
        assert_eq!(columns(vec!["a", "b"], false), "a  b\n");
        assert_eq!(columns(vec!["a", "b"], true), "a\nb\n");
        let many: Vec<String> = (0..30).map(|i| format!("file{i:02}")).collect();
        let out = columns(many.iter().map(String::as_str).collect(), false);
        assert!(out.lines().all(|l| l.len() < 80), "{out}");
        assert!(out.starts_with("file00  file03"), "{out}");
        assert_eq!(human_size(4096), "4.0K");
        assert_eq!(human_size(812_000), "793K");
    }
}
