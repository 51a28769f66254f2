//! The fake shell: runs command lines against the [`Host`] without executing anything.
//! [`Shell::run`] takes one line and returns what a real login shell would have printed,
//! plus what the session should record (downloads, `su` passwords). Pure apart from the
//! clock and `$RANDOM`; every buffer it keeps is bounded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::distro::{Family, LoginShell, Motd};
use super::fs::{Content, Kind, Node, join, parent};
use super::host::{Account, Host, unix_now};
use super::parse::{self, Here, KEYWORDS, ParseError, Part, Pipeline, Redirect, Simple, Word};
use super::sysinfo::{self, Clock, Login};

/// Output of one command line, at most; the rest is cut (as if the client scrolled away).
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Nested `$(...)`, `sh -c` and scripts, at most.
const MAX_DEPTH: usize = 4;
/// What one shell remembers is bounded in entries and in bytes: at most about 200 KiB per
/// shell, whatever is typed (an SSH connection may run ten).
const MAX_HISTORY: usize = 500;
const MAX_HISTORY_BYTES: usize = 32 * 1024;
const MAX_VARIABLES: usize = 128;
const MAX_VARIABLE_LEN: usize = 4096;
const MAX_VARIABLE_BYTES: usize = 32 * 1024;
/// Files the session writes (`echo x > f`) live in memory, within these bounds.
const MAX_SESSION_FILES: usize = 64;
const MAX_SESSION_BYTES: usize = 128 * 1024;
/// `sleep` and failed `su` really wait, but never longer than this per line.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Whether a person types at a terminal (prompts, `logout`) or commands come from a
/// script: `ssh host cmd`, or commands piped into a shell without a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Interactive,
    Script,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fd {
    Out,
    Err,
}

/// Something the session should record besides the command line itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A download the shell pretended to attempt (`wget`, `curl`).
    Download { tool: String, url: String },
    /// A password typed to `su`.
    Su { username: String, password: Vec<u8>, success: bool },
}

/// The result of one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Standard output and error, in the order they were written.
    pub output: Vec<(Fd, String)>,
    pub status: u8,
    /// The shell ended (`exit`, `logout`).
    pub exit: bool,
    /// The next line is a secret (a password) read without echo, after this prompt.
    pub secret_prompt: Option<String>,
    /// How long the real system would have taken before answering.
    pub delay: Duration,
    pub notes: Vec<Note>,
}

impl Outcome {
    /// Everything written, as a terminal shows it.
    pub fn text(&self) -> String {
        self.output.iter().map(|(_, text)| text.as_str()).collect()
    }

    fn delay(&mut self, delay: Duration) {
        self.delay = (self.delay + delay).min(MAX_DELAY);
    }
}

/// Output collected while running, capped at [`MAX_OUTPUT`].
#[derive(Debug, Default)]
struct Output {
    chunks: Vec<(Fd, String)>,
    len: usize,
}

impl Output {
    fn push(&mut self, fd: Fd, text: &str) {
        let room = MAX_OUTPUT.saturating_sub(self.len);
        if text.is_empty() || room == 0 {
            return;
        }
        let text = truncate(text, room);
        self.len += text.len();
        match self.chunks.last_mut() {
            Some((last, buffer)) if *last == fd => buffer.push_str(text),
            _ => self.chunks.push((fd, text.to_owned())),
        }
    }

    fn extend(&mut self, other: Output) {
        for (fd, text) in other.chunks {
            self.push(fd, &text);
        }
    }

    /// Standard output only; error output moves to `errors`.
    fn split(self, errors: &mut Output) -> String {
        let mut out = String::new();
        for (fd, text) in self.chunks {
            match fd {
                Fd::Out => out.push_str(&text),
                Fd::Err => errors.push(Fd::Err, &text),
            }
        }
        out
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What one program printed, and its exit status.
#[derive(Debug, Default)]
pub(super) struct Io {
    pub out: String,
    pub err: String,
    pub status: u8,
    /// For a script: `out` and `err` as they interleaved, shown in that order when neither
    /// is redirected.
    pub interleaved: Vec<(Fd, String)>,
}

impl Io {
    pub fn ok(out: impl Into<String>) -> Io {
        Io { out: out.into(), ..Io::default() }
    }

    pub fn fail(err: impl Into<String>, status: u8) -> Io {
        Io { err: err.into(), status, ..Io::default() }
    }
}

/// One level of `su`/`sudo -i`: who the shell runs as, and where.
#[derive(Clone, Debug)]
struct Frame {
    account: Account,
    cwd: String,
    /// Entered as a login shell (`su -`, `sudo -i`): `exit` prints `logout`.
    login: bool,
}

/// An answer the shell waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Su { target: String, login: bool, command: Option<String> },
}

/// Where an output stream of a command goes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Destination {
    Out,
    Err,
    Discard,
    File { path: String, append: bool },
}

/// A file as the shell sees it: written this session, or from the fake tree.
pub(super) enum Entry<'a> {
    SessionFile(&'a str),
    SessionDir,
    Node(&'a Node),
}

pub struct Shell {
    pub(super) host: Arc<Host>,
    pub(super) login: Login,
    pub(super) mode: Mode,
    frames: Vec<Frame>,
    pub(super) variables: BTreeMap<String, String>,
    pub(super) history: VecDeque<String>,
    status: u8,
    /// The PID the next program gets.
    pub(super) next_pid: u32,
    pending: Option<Pending>,
    pub(super) session_files: BTreeMap<String, String>,
    pub(super) session_dirs: BTreeSet<String>,
    /// Line number in a script (error messages of `bash -c` name it).
    line: u32,
    /// Subshells running (`sh -c`, scripts, `$(...)`, pipeline members): `exit` in one
    /// ends only it.
    subshells: usize,
    /// `exit` ran in the innermost subshell.
    leaving_subshell: bool,
    /// A fixed clock (tests); the system clock otherwise.
    pub(super) clock: Option<u64>,
}

impl Shell {
    /// The login shell of `account` for the session `login`.
    pub fn new(host: Arc<Host>, account: &Account, login: Login, mode: Mode) -> Shell {
        let mut shell = Shell {
            next_pid: login.shell_pid + 1,
            host,
            login,
            mode,
            frames: Vec::new(),
            variables: BTreeMap::new(),
            history: VecDeque::new(),
            status: 0,
            pending: None,
            session_files: BTreeMap::new(),
            session_dirs: BTreeSet::new(),
            line: 0,
            subshells: 0,
            leaving_subshell: false,
            clock: None,
        };
        shell.enter(account.clone(), true);
        shell
    }

    /// Freezes the clock at unix time `now` (for tests).
    pub fn with_clock(mut self, now: u64) -> Shell {
        self.clock = Some(now);
        self
    }

    pub(super) fn now(&self) -> u64 {
        self.clock.unwrap_or_else(unix_now)
    }

    /// The account commands run as now.
    pub fn account(&self) -> &Account {
        &self.frame().account
    }

    fn frame(&self) -> &Frame {
        // Invariant: `frames` is never empty; the login frame is never popped.
        &self.frames[self.frames.len() - 1]
    }

    fn frame_mut(&mut self) -> &mut Frame {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    pub fn cwd(&self) -> &str {
        &self.frame().cwd
    }

    /// Starts a shell as `account` (login, `su`, `sudo -i`).
    fn enter(&mut self, account: Account, login: bool) {
        let cwd = if login || self.frames.is_empty() { account.home.clone() } else { self.cwd().to_owned() };
        let distro = self.host.distro;
        let lang = if distro.family == Family::Debian { "C.UTF-8" } else { "en_US.UTF-8" };
        let path = if account.is_root() {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        } else {
            "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
        };
        let vars = [
            ("HOME", account.home.clone()),
            ("USER", account.name.clone()),
            ("LOGNAME", account.name.clone()),
            ("SHELL", distro.shell_path().to_owned()),
            ("PATH", path.to_owned()),
            ("PWD", cwd.clone()),
            ("LANG", lang.to_owned()),
            ("MAIL", format!("/var/mail/{}", account.name)),
            ("SHLVL", (self.frames.len() + 1).to_string()),
            ("HOSTNAME", self.host.hostname.clone()),
        ];
        for (name, value) in vars {
            self.variables.insert(name.to_owned(), value);
        }
        if self.frames.is_empty() {
            let from = self.login.from;
            let local = self.login.local;
            self.variables.insert("TERM".into(), "xterm-256color".into());
            if self.login.service == "ssh" {
                let client = format!("{} {} {}", from.ip().to_canonical(), from.port(), local.port());
                let connection = format!(
                    "{} {} {} {}",
                    from.ip().to_canonical(),
                    from.port(),
                    local.ip().to_canonical(),
                    local.port()
                );
                self.variables.insert("SSH_CLIENT".into(), client);
                self.variables.insert("SSH_CONNECTION".into(), connection);
                if self.mode == Mode::Interactive {
                    self.variables.insert("SSH_TTY".into(), format!("/dev/{}", self.login.tty));
                }
            }
        }
        self.frames.push(Frame { account, cwd, login });
    }

    /// Leaves a `su` shell; false at the login shell.
    fn leave(&mut self) -> Option<Frame> {
        if self.frames.len() < 2 {
            return None;
        }
        let frame = self.frames.pop()?;
        let account = self.account().clone();
        for (name, value) in [
            ("HOME", account.home.clone()),
            ("USER", account.name.clone()),
            ("LOGNAME", account.name.clone()),
            ("PWD", self.cwd().to_owned()),
            ("SHLVL", self.frames.len().to_string()),
        ] {
            self.variables.insert(name.to_owned(), value);
        }
        Some(frame)
    }

    /// Whether the next line answers a password prompt (and must not be recorded as a
    /// command).
    pub fn awaits_secret(&self) -> bool {
        self.pending.is_some()
    }

    /// Abandons a password prompt (`^C`, end of input).
    pub fn cancel_secret(&mut self) {
        self.pending = None;
    }

    /// Sets the terminal type the client announced.
    pub fn set_term(&mut self, term: &str) {
        if !term.is_empty() && term.len() <= 64 {
            self.variables.insert("TERM".into(), term.to_owned());
        }
    }

    /// The prompt before the next command, as the persona's shell draws it.
    pub fn prompt(&self) -> String {
        let account = self.account();
        let host = self.host.short_hostname();
        let sign = if account.is_root() { '#' } else { '$' };
        let cwd = self.cwd();
        let tilde = if cwd == account.home {
            "~".to_owned()
        } else if let Some(rest) = cwd.strip_prefix(&account.home).filter(|r| r.starts_with('/')) {
            format!("~{rest}")
        } else {
            cwd.to_owned()
        };
        match self.host.distro.shell {
            LoginShell::Zsh => format!("┌──({}㉿{host})-[{tilde}]\n└─{sign} ", account.name),
            LoginShell::Ash => format!("{host}:{tilde}{sign} "),
            LoginShell::Bash => match self.host.distro.family {
                Family::RedHat | Family::Arch => {
                    let base = if tilde == "~" { "~" } else { tilde.rsplit('/').next().unwrap_or("/") };
                    let base = if base.is_empty() { "/" } else { base };
                    format!("[{}@{host} {base}]{sign} ", account.name)
                }
                Family::Debian | Family::Ubuntu | Family::Alpine => {
                    format!("{}@{host}:{tilde}{sign} ", account.name)
                }
            },
        }
    }

    /// What the system prints between a successful login and the first prompt.
    pub fn welcome(&self) -> String {
        let host = &self.host;
        let distro = host.distro;
        let now = self.now();
        let mut out = match distro.motd {
            Motd::DebianNotice { name } => format!(
                "Linux {} {} {} x86_64\n\nThe programs included with the {name} system are free software;\n\
                 the exact distribution terms for each program are described in the\n\
                 individual files in /usr/share/doc/*/copyright.\n\n\
                 {name} comes with ABSOLUTELY NO WARRANTY, to the extent\npermitted by applicable law.\n",
                host.hostname, distro.kernel_release, distro.kernel_version
            ),
            Motd::UbuntuWelcome => {
                let [load, ..] = sysinfo::load_average(host, now);
                let [total, used, ..] = sysinfo::memory(host);
                let disk = host.hardware.disk_gib as f64 * 0.967;
                let ip = sysinfo::interface_address(host, self.login.local.ip());
                format!(
                    "Welcome to {} (GNU/Linux {} x86_64)\n\n\
                     \x20* Documentation:  https://help.ubuntu.com\n\
                     \x20* Management:     https://landscape.canonical.com\n\
                     \x20* Support:        https://ubuntu.com/pro\n\n\
                     \x20 System information as of {}\n\n\
                     \x20 System load:  {load:<18.2}Processes:             {}\n\
                     \x20 Usage of /:   {:<18}Users logged in:       0\n\
                     \x20 Memory usage: {:<18}IPv4 address for eth0: {ip}\n\
                     \x20 Swap usage:   0%\n\n\n\
                     Expanded Security Maintenance for Applications is not enabled.\n\n\
                     0 updates can be applied immediately.\n\n",
                    distro.pretty_name,
                    distro.kernel_release,
                    Clock::at(now).date(),
                    100 + host.seed % 40,
                    format!("{:.1}% of {disk:.2}GB", 18.0 + (host.seed % 300) as f64 / 10.0),
                    format!("{}%", used * 100 / total.max(1)),
                )
            }
            Motd::Cockpit => {
                "Activate the web console with: systemctl enable --now cockpit.socket\n\n".to_owned()
            }
            Motd::Alpine => {
                "Welcome to Alpine!\n\nThe Alpine Wiki contains a large amount of how-to guides and general\n\
                 information about administrating Alpine systems.\nSee <https://wiki.alpinelinux.org/>.\n\n\
                 You can setup the system with the command: setup-alpine\n\n\
                 You may change this message by editing /etc/motd.\n\n"
                    .to_owned()
            }
            Motd::None => String::new(),
        };
        if self.login.service == "ssh" && distro.family != Family::Alpine {
            let (at, from) = host.last_login;
            let t = Clock::at(at);
            out.push_str(&format!(
                "Last login: {} {} {:>2} {} {} from {from}\n",
                t.weekday_name(),
                t.month_name(),
                t.day,
                t.time(),
                t.year
            ));
        }
        out
    }

    /// Runs one line (without its newline) and says what it printed.
    pub fn run(&mut self, line: &str) -> Outcome {
        let mut outcome = Outcome::default();
        self.line += 1;
        if let Some(pending) = self.pending.take() {
            let output = self.answer(pending, line, &mut outcome);
            outcome.output = output.chunks;
            outcome.status = self.status;
            return outcome;
        }
        if line.trim().is_empty() {
            outcome.status = self.status;
            return outcome;
        }
        self.remember(line);
        let output = self.execute(line, 0, &mut outcome);
        outcome.output = output.chunks;
        outcome.status = self.status;
        outcome
    }

    fn remember(&mut self, line: &str) {
        let line = truncate(line, MAX_VARIABLE_LEN);
        let mut used: usize = self.history.iter().map(String::len).sum();
        while self.history.len() >= MAX_HISTORY
            || !self.history.is_empty() && used + line.len() > MAX_HISTORY_BYTES
        {
            used -= self.history.pop_front().map_or(0, |old| old.len());
        }
        self.history.push_back(line.to_owned());
    }

    /// Parses and runs `line` at nesting `depth`.
    fn execute(&mut self, line: &str, depth: usize, outcome: &mut Outcome) -> Output {
        let mut output = Output::default();
        if depth > MAX_DEPTH {
            return output;
        }
        let pipelines = match parse::parse(line) {
            Ok(pipelines) => pipelines,
            Err(error) => {
                output.push(Fd::Err, &self.syntax_error(&error));
                self.status = 2;
                return output;
            }
        };
        for pipeline in &pipelines {
            if outcome.exit || outcome.secret_prompt.is_some() || self.leaving_subshell {
                break;
            }
            let skip = match pipeline.join {
                parse::Join::Always => false,
                parse::Join::And => self.status != 0,
                parse::Join::Or => self.status == 0,
            };
            if !skip {
                self.status = self.pipeline(pipeline, depth, outcome, &mut output);
            }
        }
        output
    }

    /// Runs `run` in a subshell: an `exit` inside ends only the subshell, and what it
    /// changed in the shell itself (directory, variables, `su`) is undone when it ends.
    /// Files it wrote stay.
    fn subshell<T>(&mut self, run: impl FnOnce(&mut Shell) -> T) -> T {
        let frames = self.frames.len();
        let cwd = self.cwd().to_owned();
        let variables = self.variables.clone();
        self.subshells += 1;
        let result = run(self);
        self.subshells -= 1;
        self.leaving_subshell = false;
        self.leave_to(frames);
        self.frame_mut().cwd = cwd;
        self.variables = variables;
        result
    }

    /// Leaves `su` shells until `frames` remain (at least the login shell).
    fn leave_to(&mut self, frames: usize) {
        while self.frames.len() > frames.max(1) && self.leave().is_some() {}
    }

    /// Runs every line of `script` (a file, `sh -c`, stdin of `sh`) in a subshell.
    pub(super) fn run_script(&mut self, script: &str, depth: usize, outcome: &mut Outcome) -> Io {
        let output = self.subshell(|shell| {
            let mut output = Output::default();
            for line in script.lines() {
                if outcome.exit || shell.leaving_subshell || depth > MAX_DEPTH {
                    break;
                }
                if line.starts_with("#!") || line.trim().is_empty() {
                    continue;
                }
                output.extend(shell.execute(line, depth + 1, outcome));
            }
            output
        });
        let interleaved = output.chunks;
        let text = |wanted: Fd| -> String {
            interleaved.iter().filter(|(fd, _)| *fd == wanted).map(|(_, text)| text.as_str()).collect()
        };
        Io { out: text(Fd::Out), err: text(Fd::Err), status: self.status, interleaved }
    }

    fn pipeline(
        &mut self,
        pipeline: &Pipeline,
        depth: usize,
        outcome: &mut Outcome,
        output: &mut Output,
    ) -> u8 {
        let mut input: Option<String> = None;
        let mut status = 0;
        let last = pipeline.commands.len() - 1;
        for (i, command) in pipeline.commands.iter().enumerate() {
            // The members of a real pipeline are subshells: `cd` or `exit` there changes nothing.
            let io = if last > 0 {
                let stdin = input.take();
                self.subshell(|shell| shell.simple(command, stdin, depth, outcome, output))
            } else {
                self.simple(command, input.take(), depth, outcome, output)
            };
            status = io.status;
            if i == last && !io.interleaved.is_empty() {
                for (fd, text) in &io.interleaved {
                    output.push(*fd, text);
                }
            } else if i == last {
                output.push(Fd::Err, &io.err);
                output.push(Fd::Out, &io.out);
            } else {
                output.push(Fd::Err, &io.err);
                input = Some(io.out);
            }
            if outcome.exit || self.leaving_subshell {
                break;
            }
        }
        status
    }

    /// One command with its assignments and redirections.
    fn simple(
        &mut self,
        command: &Simple,
        input: Option<String>,
        depth: usize,
        outcome: &mut Outcome,
        output: &mut Output,
    ) -> Io {
        // Expansions can multiply a line (`$A$A$A...`); the words stay within the output bound.
        let mut words = Vec::new();
        let mut size = 0;
        for word in &command.words {
            for field in self.expand(word, depth, outcome, output) {
                if size < MAX_OUTPUT {
                    size += field.len();
                    words.push(field);
                }
            }
        }
        let mut assignments = Vec::new();
        for (name, value) in &command.assignments {
            let value = self.expand(value, depth, outcome, output).join(" ");
            assignments.push((name.clone(), value));
        }

        let mut input = input;
        let mut destinations = (Destination::Out, Destination::Err);
        for redirect in &command.redirects {
            match self.redirect(redirect, &mut destinations, depth, outcome, output) {
                Ok(Some(text)) => input = Some(text),
                Ok(None) => {}
                Err(io) => return io,
            }
        }

        let io = if words.is_empty() {
            for (name, value) in assignments {
                self.set_variable(&name, value);
            }
            Io::ok("")
        } else if words[0] == "export" || words[0] == "readonly" || words[0] == "declare" {
            // `export A=b` reaches here as a word; treat it as the assignment it is.
            for arg in &words[1..] {
                if let Some((name, value)) = arg.split_once('=').filter(|(name, _)| parse::is_name(name)) {
                    self.set_variable(name, value.to_owned());
                }
            }
            Io::ok("")
        } else {
            self.dispatch(&words, input, depth, outcome)
        };
        self.deliver(io, destinations)
    }

    /// Applies one redirection: returns the new standard input, if it sets one.
    fn redirect(
        &mut self,
        redirect: &Redirect,
        destinations: &mut (Destination, Destination),
        depth: usize,
        outcome: &mut Outcome,
        output: &mut Output,
    ) -> Result<Option<String>, Io> {
        match redirect {
            Redirect::Duplicate { fd: 2, to: 1 } => destinations.1 = destinations.0.clone(),
            Redirect::Duplicate { fd: 1, to: 2 } => destinations.0 = destinations.1.clone(),
            Redirect::Duplicate { .. } => {}
            Redirect::Output { fd, target, append } => {
                let target = self.expand(target, depth, outcome, output).join(" ");
                let destination = self.output_file(&target, *append)?;
                match fd {
                    Some(1) => destinations.0 = destination,
                    Some(2) => destinations.1 = destination,
                    None => {
                        destinations.0 = destination.clone();
                        destinations.1 = destination;
                    }
                    Some(_) => {}
                }
            }
            Redirect::Input { target, here } => {
                let target = self.expand(target, depth, outcome, output).join(" ");
                return match here {
                    Here::String => Ok(Some(format!("{target}\n"))),
                    Here::Document => Ok(Some(String::new())),
                    Here::File => match self.read_file(&target) {
                        Ok(text) => Ok(Some(text)),
                        Err(error) => Err(Io::fail(format!("{}{target}: {error}\n", self.error_prefix()), 1)),
                    },
                };
            }
        }
        Ok(None)
    }

    /// Where `> target` writes, if the account may write there.
    fn output_file(&mut self, target: &str, append: bool) -> Result<Destination, Io> {
        let path = self.absolute(target);
        if path == "/dev/null" || path == "/dev/zero" {
            return Ok(Destination::Discard);
        }
        if self.lookup(&path).is_some_and(|entry| entry.is_dir()) {
            return Err(Io::fail(format!("{}{target}: Is a directory\n", self.error_prefix()), 1));
        }
        if !self.may_write(&path) {
            return Err(Io::fail(format!("{}{target}: Permission denied\n", self.error_prefix()), 1));
        }
        if !append {
            self.write_file(&path, "", false);
        }
        Ok(Destination::File { path, append: true })
    }

    fn deliver(&mut self, io: Io, (out, err): (Destination, Destination)) -> Io {
        if (&out, &err) == (&Destination::Out, &Destination::Err) {
            return io;
        }
        let mut result = Io { status: io.status, ..Io::default() };
        for (text, destination) in [(io.out, out), (io.err, err)] {
            match destination {
                Destination::Out => result.out.push_str(&text),
                Destination::Err => result.err.push_str(&text),
                Destination::Discard => {}
                Destination::File { path, append } => self.write_file(&path, &text, append),
            }
        }
        result
    }

    /// Expands one word into fields: variables, `~`, command substitution, field splitting
    /// of unquoted expansions.
    fn expand(
        &mut self,
        word: &Word,
        depth: usize,
        outcome: &mut Outcome,
        output: &mut Output,
    ) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        let mut current: Option<String> = None;
        for part in &word.parts {
            let (text, quoted) = match part {
                Part::Text { text, quoted } => (text.clone(), *quoted || !text.is_empty()),
                Part::Home => (self.account().home.clone(), true),
                Part::Var { name, quoted } => (self.variable(name), *quoted),
                Part::Command { line, quoted } => {
                    let captured = if depth >= MAX_DEPTH {
                        String::new()
                    } else {
                        let inner = self.subshell(|shell| shell.execute(line, depth + 1, outcome));
                        inner.split(output)
                    };
                    (captured.trim_end_matches('\n').to_owned(), *quoted)
                }
            };
            let expanded =
                current.as_ref().map_or(0, String::len) + fields.iter().map(String::len).sum::<usize>();
            if expanded > MAX_OUTPUT {
                break;
            }
            let splits =
                matches!(part, Part::Var { quoted: false, .. } | Part::Command { quoted: false, .. });
            if !splits {
                if quoted || !text.is_empty() {
                    current.get_or_insert_with(String::new).push_str(&text);
                }
                continue;
            }
            let mut pieces = text.split_whitespace();
            if text.starts_with(char::is_whitespace)
                && let Some(field) = current.take()
            {
                fields.push(field);
            }
            if let Some(first) = pieces.next() {
                current.get_or_insert_with(String::new).push_str(first);
            }
            for piece in pieces {
                if let Some(field) = current.take() {
                    fields.push(field);
                }
                current = Some(piece.to_owned());
            }
            if text.ends_with(char::is_whitespace)
                && let Some(field) = current.take()
            {
                fields.push(field);
            }
        }
        fields.extend(current);
        fields
    }

    pub(super) fn variable(&self, name: &str) -> String {
        match name {
            "?" => self.status.to_string(),
            "$" => self.login.shell_pid.to_string(),
            "#" => "0".into(),
            "0" => match self.host.distro.shell {
                LoginShell::Bash => "-bash".into(),
                LoginShell::Ash => "-ash".into(),
                LoginShell::Zsh => "-zsh".into(),
            },
            "RANDOM" => fastrand::u16(..32_768).to_string(),
            "UID" | "EUID" => self.account().uid.to_string(),
            "PPID" => (self.login.shell_pid - 1).to_string(),
            "BASH_VERSION" if self.host.distro.shell == LoginShell::Bash => {
                let version = self.host.distro.shell_version;
                version.split_whitespace().nth(3).unwrap_or("").to_owned()
            }
            name => self.variables.get(name).cloned().unwrap_or_default(),
        }
    }

    /// Sets a variable, unless that would pass the shell's bounds (the assignment is lost,
    /// as in a shell out of memory).
    pub(super) fn set_variable(&mut self, name: &str, value: String) {
        let value = truncate(&value, MAX_VARIABLE_LEN);
        let others: usize =
            self.variables.iter().filter(|(k, _)| k.as_str() != name).map(|(k, v)| k.len() + v.len()).sum();
        let new = !self.variables.contains_key(name);
        if new && self.variables.len() >= MAX_VARIABLES
            || others + name.len() + value.len() > MAX_VARIABLE_BYTES
        {
            return;
        }
        self.variables.insert(name.to_owned(), value.to_owned());
    }

    /// Runs a builtin or a program.
    pub(super) fn dispatch(
        &mut self,
        words: &[String],
        input: Option<String>,
        depth: usize,
        outcome: &mut Outcome,
    ) -> Io {
        let name = words[0].as_str();
        let args = &words[1..];
        match name {
            "exit" | "logout" => self.exit(args, outcome),
            "cd" => self.cd(args),
            "pwd" => Io::ok(format!("{}\n", self.cwd())),
            "echo" => echo(args),
            "printf" => printf(args),
            "history" => self.history(args),
            "unset" => {
                for name in args {
                    self.variables.remove(name);
                }
                Io::ok("")
            }
            "type" => self.type_of(args),
            "command" if args.first().is_some_and(|a| a == "-v") => self.command_v(&args[1..]),
            "command" | "exec" | "nohup" | "nice" | "time" | "timeout" => {
                self.wrapper(name, args, input, depth, outcome)
            }
            "alias" | "unalias" | "set" | "shopt" | "trap" | "wait" | "jobs" | "disown" | "true" | ":"
            | "hash" | "ulimit" | "read" | "bind" | "complete" | "builtin" => Io::ok(""),
            "false" => Io::fail("", 1),
            "umask" if args.is_empty() => Io::ok(if self.account().is_root() { "0022\n" } else { "0002\n" }),
            "umask" => Io::ok(""),
            "source" | "." => self.source(args, depth, outcome),
            "su" => self.su(args, depth, outcome),
            "sudo" if self.which("sudo").is_none() => Io::fail(self.not_found("sudo"), 127),
            "sudo" => self.sudo(args, input, depth, outcome),
            "sleep" => {
                let seconds: f64 =
                    args.first().and_then(|a| a.trim_end_matches('s').parse().ok()).unwrap_or(0.0);
                if seconds.is_finite() && seconds > 0.0 {
                    outcome.delay(Duration::from_secs_f64(seconds.min(MAX_DELAY.as_secs_f64())));
                }
                Io::ok("")
            }
            _ if KEYWORDS.contains(&name) => Io::ok(""),
            _ => self.program(name, args, input, depth, outcome),
        }
    }

    /// `nohup cmd`, `timeout 5 cmd`, `exec cmd`, `command cmd`: runs what follows.
    fn wrapper(
        &mut self,
        name: &str,
        args: &[String],
        input: Option<String>,
        depth: usize,
        outcome: &mut Outcome,
    ) -> Io {
        let skip = match name {
            "timeout" => args.iter().position(|a| !a.starts_with('-')).map_or(args.len(), |i| i + 1),
            "nice" => args.iter().position(|a| !a.starts_with('-')).unwrap_or(args.len()),
            _ => 0,
        };
        let rest = &args[skip.min(args.len())..];
        if rest.is_empty() {
            return Io::ok("");
        }
        let mut io = self.dispatch(rest, input, depth, outcome);
        if name == "nohup" {
            io.err.insert_str(0, "nohup: ignoring input and appending output to 'nohup.out'\n");
            let out = std::mem::take(&mut io.out);
            let path = join(self.cwd(), "nohup.out");
            self.write_file(&path, &out, true);
        }
        io
    }

    fn exit(&mut self, args: &[String], outcome: &mut Outcome) -> Io {
        let status =
            args.first().and_then(|a| a.parse::<i64>().ok()).map_or(self.status, |s| s.rem_euclid(256) as u8);
        if self.subshells > 0 {
            self.leaving_subshell = true;
            return Io { status, ..Io::default() };
        }
        if let Some(frame) = self.leave() {
            let mut io = Io::ok(if frame.login { "logout\n" } else { "exit\n" });
            io.status = status;
            return io;
        }
        outcome.exit = true;
        let mut io = Io::ok(if self.mode == Mode::Interactive { "logout\n" } else { "" });
        io.status = status;
        io
    }

    fn cd(&mut self, args: &[String]) -> Io {
        let home = self.account().home.clone();
        let target = match args.first().map(String::as_str) {
            None | Some("~") => home,
            Some("-") => self.variables.get("OLDPWD").cloned().unwrap_or_else(|| self.cwd().to_owned()),
            Some(dir) => dir.to_owned(),
        };
        let path = self.absolute(&target);
        let error = match self.lookup(&path) {
            Some(Entry::SessionDir) => None,
            Some(Entry::Node(node)) if node.is_dir() && node.readable_by(self.account()) => None,
            Some(Entry::Node(node)) if node.is_dir() => Some("Permission denied"),
            Some(_) => Some("Not a directory"),
            None => Some("No such file or directory"),
        };
        if let Some(error) = error {
            let message = match self.host.distro.shell {
                LoginShell::Bash => format!("{}cd: {target}: {error}\n", self.error_prefix()),
                LoginShell::Ash => format!("{}cd: can't cd to {target}: {error}\n", self.error_prefix()),
                LoginShell::Zsh => format!("cd: {}: {target}\n", error.to_lowercase()),
            };
            return Io::fail(message, 1);
        }
        let resolved = self.host.fs.resolve(&path).map_or(path.clone(), |(p, _)| p);
        let resolved = if matches!(self.lookup(&path), Some(Entry::SessionDir)) { path } else { resolved };
        let old = std::mem::replace(&mut self.frame_mut().cwd, resolved.clone());
        self.variables.insert("OLDPWD".into(), old);
        self.variables.insert("PWD".into(), resolved.clone());
        if args.first().is_some_and(|a| a == "-") {
            return Io::ok(format!("{resolved}\n"));
        }
        Io::ok("")
    }

    fn history(&mut self, args: &[String]) -> Io {
        if args.first().is_some_and(|a| a == "-c") {
            self.history.clear();
            return Io::ok("");
        }
        let mut out = String::new();
        for (i, line) in self.history.iter().enumerate() {
            out.push_str(&format!("{:>5}  {line}\n", i + 1));
        }
        Io::ok(out)
    }

    fn source(&mut self, args: &[String], depth: usize, outcome: &mut Outcome) -> Io {
        let Some(file) = args.first() else {
            return Io::fail(format!("{}source: filename argument required\n", self.error_prefix()), 2);
        };
        match self.read_file(file) {
            Ok(text) if self.session_files.contains_key(&self.absolute(file)) => {
                self.run_script(&text, depth, outcome)
            }
            Ok(_) => Io::ok(""),
            Err(error) => Io::fail(format!("{}{file}: {error}\n", self.error_prefix()), 1),
        }
    }

    fn type_of(&mut self, args: &[String]) -> Io {
        let mut io = Io::ok("");
        for name in args {
            if BUILTINS.contains(&name.as_str()) {
                io.out.push_str(&format!("{name} is a shell builtin\n"));
            } else if let Some(path) = self.which(name) {
                io.out.push_str(&format!("{name} is {path}\n"));
            } else {
                io.err.push_str(&format!("{}type: {name}: not found\n", self.error_prefix()));
                io.status = 1;
            }
        }
        io
    }

    fn command_v(&mut self, args: &[String]) -> Io {
        let mut io = Io::ok("");
        for name in args {
            if BUILTINS.contains(&name.as_str()) {
                io.out.push_str(&format!("{name}\n"));
            } else if let Some(path) = self.which(name) {
                io.out.push_str(&format!("{path}\n"));
            } else {
                io.status = 1;
            }
        }
        io
    }

    /// The path a program name runs from, if it is on the `PATH`.
    pub(super) fn which(&self, name: &str) -> Option<String> {
        if name.contains('/') {
            let path = self.absolute(name);
            return self.lookup(&path).is_some().then_some(path);
        }
        let path = self.variables.get("PATH").cloned().unwrap_or_default();
        path.split(':').filter(|dir| !dir.is_empty()).find_map(|dir| {
            let candidate = format!("{dir}/{name}");
            match self.lookup(&candidate) {
                Some(Entry::Node(node)) if !node.is_dir() && node.mode & 0o111 != 0 => Some(candidate),
                Some(Entry::SessionFile(_)) => Some(candidate),
                _ => None,
            }
        })
    }

    fn su(&mut self, args: &[String], depth: usize, outcome: &mut Outcome) -> Io {
        let mut login = false;
        let mut command = None;
        let mut target = None;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "-" | "-l" | "--login" => login = true,
                "-c" | "--command" => command = rest.next().cloned(),
                flag if flag.starts_with('-') => {}
                name => target = Some(name.to_owned()),
            }
        }
        let target = target.unwrap_or_else(|| "root".into());
        let Some(account) = self.host.account(&target).cloned() else {
            return Io::fail(
                format!(
                    "su: user {target} does not exist or the user entry does not contain all the required fields\n"
                ),
                1,
            );
        };
        if self.account().is_root() {
            return self.become_user(account, login, command, depth, outcome);
        }
        if self.mode == Mode::Script {
            return Io::fail("su: must be run from a terminal\n", 1);
        }
        self.pending = Some(Pending::Su { target, login, command });
        outcome.secret_prompt = Some("Password: ".into());
        Io::ok("")
    }

    /// Switches to `account` (a shell), or runs `command` as it.
    fn become_user(
        &mut self,
        account: Account,
        login: bool,
        command: Option<String>,
        depth: usize,
        outcome: &mut Outcome,
    ) -> Io {
        let frames = self.frames.len();
        self.enter(account, login);
        let Some(command) = command else { return Io::ok("") };
        let io = self.run_script(&command, depth, outcome);
        self.leave_to(frames);
        io
    }

    /// The line after a secret prompt.
    fn answer(&mut self, pending: Pending, line: &str, outcome: &mut Outcome) -> Output {
        let mut output = Output::default();
        match pending {
            Pending::Su { target, login, command } => {
                let account = self.host.authenticate(&target, line.as_bytes()).cloned();
                outcome.notes.push(Note::Su {
                    username: target,
                    password: line.as_bytes().to_vec(),
                    success: account.is_some(),
                });
                output.push(Fd::Out, "\n");
                match account {
                    Some(account) => {
                        let io = self.become_user(account, login, command, 0, outcome);
                        output.push(Fd::Err, &io.err);
                        output.push(Fd::Out, &io.out);
                        self.status = io.status;
                    }
                    None => {
                        // pam_unix's delay after a wrong password.
                        outcome.delay(Duration::from_millis(2000 + u64::from(fastrand::u16(..500))));
                        output.push(Fd::Err, "su: Authentication failure\n");
                        self.status = 1;
                    }
                }
            }
        }
        output
    }

    /// `sudo`: the login user may run anything as root without a password (as on cloud
    /// images).
    fn sudo(&mut self, args: &[String], input: Option<String>, depth: usize, outcome: &mut Outcome) -> Io {
        let mut rest = args;
        let mut shell = false;
        while let Some(first) = rest.first() {
            match first.as_str() {
                "-i" | "-s" | "--login" | "--shell" => {
                    shell = true;
                    rest = &rest[1..];
                }
                "-u" | "-g" | "-C" | "-h" | "-p" => rest = &rest[2.min(rest.len())..],
                "-l" | "--list" => {
                    let user = &self.account().name;
                    let host = self.host.short_hostname();
                    return Io::ok(format!(
                        "Matching Defaults entries for {user} on {host}:\n    env_reset, mail_badpass,\n    \
                         secure_path=/usr/local/sbin\\:/usr/local/bin\\:/usr/sbin\\:/usr/bin\\:/sbin\\:/bin\n\n\
                         User {user} may run the following commands on {host}:\n    (ALL : ALL) ALL\n    (ALL) NOPASSWD: ALL\n"
                    ));
                }
                "-v" | "-k" | "-K" => return Io::ok(""),
                flag if flag.starts_with('-') => rest = &rest[1..],
                _ => break,
            }
        }
        let root = self.host.root().clone();
        let becomes_shell = shell && rest.is_empty()
            || matches!(rest.first().map(String::as_str), Some("su" | "bash" | "sh" | "zsh" | "ash"))
                && rest.len() <= 2
                && rest.iter().skip(1).all(|a| a == "-" || a == "-l" || a == "root" || a == "-i");
        if becomes_shell {
            self.enter(root, true);
            return Io::ok("");
        }
        if rest.is_empty() {
            return Io::fail(
                "usage: sudo -h | -K | -k | -V\nusage: sudo [-AbEHknPS] [-C num] [-D directory] [-g group] [-h host] [-p prompt] [-u user] command\n",
                1,
            );
        }
        // sudo runs programs: a builtin (`cd`, `exit`) is not found.
        if self.which(&rest[0]).is_none() {
            return Io::fail(format!("sudo: {}: command not found\n", rest[0]), 1);
        }
        let frames = self.frames.len();
        self.frames.push(Frame { account: root, cwd: self.cwd().to_owned(), login: false });
        let io = self.dispatch(rest, input, depth, outcome);
        self.leave_to(frames);
        io
    }

    /// The shell's own error prefix: `-bash: `, `bash: line 3: `, `-ash: `, `zsh: `.
    pub(super) fn error_prefix(&self) -> String {
        match (self.host.distro.shell, self.mode) {
            (LoginShell::Bash, Mode::Interactive) => "-bash: ".into(),
            (LoginShell::Bash, Mode::Script) if self.host.distro.shell_version.contains("version 4.") => {
                "bash: ".into()
            }
            (LoginShell::Bash, Mode::Script) => format!("bash: line {}: ", self.line),
            (LoginShell::Ash, Mode::Interactive) => "-ash: ".into(),
            (LoginShell::Ash, Mode::Script) => "ash: ".into(),
            (LoginShell::Zsh, Mode::Interactive) => "zsh: ".into(),
            (LoginShell::Zsh, Mode::Script) => format!("zsh:{}: ", self.line),
        }
    }

    /// `foo: command not found` in the persona's words.
    pub(super) fn not_found(&self, name: &str) -> String {
        match self.host.distro.shell {
            LoginShell::Bash
                if self.host.distro.family == Family::Ubuntu && self.mode == Mode::Interactive =>
            {
                format!("{name}: command not found\n")
            }
            LoginShell::Bash => format!("{}{name}: command not found\n", self.error_prefix()),
            LoginShell::Ash => format!("{}{name}: not found\n", self.error_prefix()),
            LoginShell::Zsh => format!("{}command not found: {name}\n", self.error_prefix()),
        }
    }

    fn syntax_error(&self, error: &ParseError) -> String {
        let prefix = self.error_prefix();
        match error {
            ParseError::Unterminated(c) => {
                let c = if *c == '(' { ')' } else { *c };
                format!("{prefix}unexpected EOF while looking for matching `{c}'\n")
            }
            ParseError::UnexpectedToken(token) => {
                let token = if token == "\n" { "newline" } else { token };
                format!("{prefix}syntax error near unexpected token `{token}'\n")
            }
            ParseError::UnexpectedEnd => format!("{prefix}syntax error: unexpected end of file\n"),
        }
    }

    /// `path` made absolute against the working directory.
    pub(super) fn absolute(&self, path: &str) -> String {
        join(self.cwd(), path)
    }

    /// What is at absolute `path`, written this session or in the tree (links followed).
    pub(super) fn lookup(&self, path: &str) -> Option<Entry<'_>> {
        if let Some(text) = self.session_files.get(path) {
            return Some(Entry::SessionFile(text));
        }
        if self.session_dirs.contains(path) {
            return Some(Entry::SessionDir);
        }
        self.host.fs.resolve(path).map(|(_, node)| Entry::Node(node))
    }

    /// The text of the file at `path`, or why it cannot be read (`No such file or
    /// directory`, `Permission denied`, `Is a directory`).
    pub(super) fn read_file(&self, path: &str) -> Result<String, &'static str> {
        let absolute = self.absolute(path);
        match self.lookup(&absolute) {
            None => Err("No such file or directory"),
            Some(Entry::SessionFile(text)) => Ok(text.to_owned()),
            Some(Entry::SessionDir) => Err("Is a directory"),
            Some(Entry::Node(node)) => {
                if node.is_dir() {
                    return Err("Is a directory");
                }
                if !node.readable_by(self.account()) {
                    return Err("Permission denied");
                }
                Ok(match &node.kind {
                    Kind::File(Content::Text(text)) => text.clone(),
                    Kind::File(Content::Generated(super::fs::Generated::Uptime)) => {
                        sysinfo::proc_uptime(&self.host, self.now())
                    }
                    Kind::File(Content::Generated(super::fs::Generated::LoadAvg)) => {
                        sysinfo::proc_loadavg(&self.host, self.now())
                    }
                    Kind::File(Content::Opaque) | Kind::Dir | Kind::Link(_) => String::new(),
                })
            }
        }
    }

    /// Whether the current account may create or change files at `path`.
    pub(super) fn may_write(&self, path: &str) -> bool {
        if path.starts_with("/proc/") || path.starts_with("/sys/") {
            return false;
        }
        if self.account().is_root() {
            return true;
        }
        let home = &self.account().home;
        let dir = parent(path);
        [home.as_str(), "/tmp", "/var/tmp", "/dev/shm"]
            .iter()
            .any(|allowed| dir == *allowed || dir.starts_with(&format!("{allowed}/")))
            || self.session_dirs.contains(dir)
    }

    /// Writes `text` to the session file at absolute `path` (bounded: beyond the session's
    /// budget, writes are cut short, as on a full disk).
    pub(super) fn write_file(&mut self, path: &str, text: &str, append: bool) {
        let used: usize = self.session_files.values().map(String::len).sum();
        let existing = self.session_files.get(path).map_or(0, String::len);
        if !self.session_files.contains_key(path) && self.session_files.len() >= MAX_SESSION_FILES {
            return;
        }
        let budget = MAX_SESSION_BYTES.saturating_sub(used - existing.min(used));
        let file = self.session_files.entry(path.to_owned()).or_default();
        if !append {
            file.clear();
        }
        let room = budget.saturating_sub(file.len());
        file.push_str(truncate(text, room));
    }

    pub(super) fn make_dir(&mut self, path: &str) {
        if self.session_dirs.len() < MAX_SESSION_FILES {
            self.session_dirs.insert(path.to_owned());
        }
    }

    /// A fresh PID for a program run now.
    pub(super) fn spawn_pid(&mut self) -> u32 {
        self.next_pid += 1 + fastrand::u32(..3);
        self.next_pid
    }
}

impl Entry<'_> {
    pub(super) fn is_dir(&self) -> bool {
        match self {
            Entry::SessionDir => true,
            Entry::SessionFile(_) => false,
            Entry::Node(node) => node.is_dir(),
        }
    }
}

/// Names `type` calls shell builtins.
const BUILTINS: &[&str] = &[
    "cd", "pwd", "echo", "printf", "exit", "logout", "export", "unset", "alias", "unalias", "history",
    "type", "set", "source", ".", "read", "ulimit", "umask", "wait", "jobs", "trap", "true", "false", ":",
    "exec", "command",
];

/// `echo`: `-n` drops the newline, `-e` interprets backslash escapes.
fn echo(args: &[String]) -> Io {
    let mut newline = true;
    let mut escapes = false;
    let mut rest = args;
    while let Some(flag) = rest
        .first()
        .filter(|a| a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| "neE".contains(c)))
    {
        for c in flag[1..].chars() {
            match c {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        rest = &rest[1..];
    }
    let mut out = rest.join(" ");
    if escapes {
        out = unescape(&out);
    }
    if newline {
        out.push('\n');
    }
    Io::ok(out)
}

/// `printf FORMAT ARGS...` with `%s`, `%d`, `%b`, `%%` and escapes; the format repeats
/// while arguments remain, as in the shell.
fn printf(args: &[String]) -> Io {
    let Some(format) = args.first() else {
        return Io::fail("printf: usage: printf [-v var] format [arguments]\n", 2);
    };
    let format = unescape(format);
    let mut values = args[1..].iter();
    let mut out = String::new();
    loop {
        let mut consumed = false;
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            // Flags and width are accepted and ignored.
            while chars.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | ' ' | '0')) {
                chars.next();
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('s') => {
                    consumed = true;
                    out.push_str(values.next().map_or("", String::as_str));
                }
                Some('b') => {
                    consumed = true;
                    out.push_str(&unescape(values.next().map_or("", String::as_str)));
                }
                Some('d' | 'i' | 'u') => {
                    consumed = true;
                    let value = values.next().map_or("0", String::as_str);
                    out.push_str(&value.trim().parse::<i64>().unwrap_or(0).to_string());
                }
                Some('x') => {
                    consumed = true;
                    let value = values.next().map_or("0", String::as_str);
                    out.push_str(&format!("{:x}", value.trim().parse::<i64>().unwrap_or(0)));
                }
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
            if out.len() > MAX_OUTPUT {
                return Io::ok(truncate(&out, MAX_OUTPUT).to_owned());
            }
        }
        if !consumed || values.len() == 0 {
            break;
        }
    }
    Io::ok(out)
}

/// Interprets `\n`, `\t`, `\\`, `\e`, `\xHH` and `\0NNN` (`echo -e`, `printf`).
pub(super) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\u{7}'),
            Some('e') => out.push('\u{1b}'),
            Some('\\') => out.push('\\'),
            Some('x') => {
                let mut value = 0u32;
                let mut digits = 0;
                while digits < 2
                    && let Some(d) = chars.peek().and_then(|c| c.to_digit(16))
                {
                    value = value * 16 + d;
                    chars.next();
                    digits += 1;
                }
                if digits == 0 {
                    out.push_str("\\x");
                } else {
                    out.push(char::from_u32(value).unwrap_or('?'));
                }
            }
            Some('0') => {
                let mut value = 0u32;
                let mut digits = 0;
                while digits < 3
                    && let Some(d) = chars.peek().and_then(|c| c.to_digit(8))
                {
                    value = value * 8 + d;
                    chars.next();
                    digits += 1;
                }
                out.push(char::from_u32(value).unwrap_or('?'));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
