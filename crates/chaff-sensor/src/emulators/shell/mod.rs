//! The fake shell the login emulators ([`ssh`](super::ssh), [`telnet`](super::telnet)) open
//! for the configured credentials. It never executes anything: [`interp::Shell`] answers
//! each line from a persona ([`distro`]), a machine ([`host`]) and a read-only file tree
//! ([`fs`]). This module ties a shell to a connection: [`Console`] records every command
//! (`command`), download (`download`) and `su` password (`auth`) and writes the session
//! transcript; [`Terminal`] adds the pty's line discipline, [`Script`] reads commands
//! without a terminal.
//!
//! Environment (prefix `SSH` or `TELNET`): `<P>_DISTRO`, `<P>_ROOT_PASSWORD` (default
//! `admin`), `<P>_USER` (default `ubuntu`), `<P>_USER_PASSWORD` (default `admin`),
//! `<P>_HOSTNAME` (default: the decky's name), `<P>_CAPTURE_DIR` (transcripts; optional).

pub mod distro;
pub mod fs;
pub mod host;
pub mod interp;
mod parse;
mod programs;
pub mod sysinfo;
pub mod terminal;
#[cfg(test)]
mod tests;
mod text;
mod transcript;

use std::sync::Arc;
use std::time::Duration;

pub use host::{Account, Host, Settings};
pub use interp::{Fd, Mode, Note, Outcome, Shell};
use sysinfo::{Clock, Login};
pub use terminal::{Event, LineEditor, MAX_LINE, crlf};
use transcript::Transcript;

use crate::event::Fields;
use crate::listener::Session;

/// How a shell session was asked for (the `mode` of its `session` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start<'a> {
    /// An interactive login shell; `term` is the terminal type when there is a pty.
    Shell { term: Option<&'a str> },
    /// One command (`ssh host cmd`).
    Exec,
}

/// One shell session of a connection, and everything recorded about it.
pub struct Console {
    shell: Shell,
    session: Session,
    transcript: Transcript,
}

impl Console {
    /// Opens a session for `account`, records its `session` event and starts its
    /// transcript (`<service>-<time>-<conn>-<number>.log` in the capture directory).
    pub fn open(
        host: &Arc<Host>,
        account: &Account,
        session: &Session,
        service: &'static str,
        start: Start<'_>,
        number: u32,
    ) -> Console {
        let now = host::unix_now();
        let mode = match start {
            Start::Shell { term: Some(_) } => Mode::Interactive,
            Start::Shell { term: None } | Start::Exec => Mode::Script,
        };
        let login = Login {
            user: account.name.clone(),
            tty: "pts/0".into(),
            from: session.peer,
            local: session.local,
            at: now,
            service,
            // Login shells of successive connections get increasing PIDs, as on a real host.
            shell_pid: 2_000 + (host.seed % 20_000) as u32 + (session.conn % 4_000) as u32 * 7,
        };
        let mut shell = Shell::new(Arc::clone(host), account, login, mode);
        if let Start::Shell { term: Some(term) } = start {
            shell.set_term(term);
        }

        let t = Clock::at(now);
        let name = format!(
            "{service}-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}-{number}.log",
            t.year, t.month, t.day, t.hour, t.minute, t.second, session.conn
        );
        let mut transcript = Transcript::create(host.capture_dir.as_deref(), &name);
        let mode_name = match start {
            Start::Shell { .. } => "shell",
            Start::Exec => "exec",
        };
        transcript.write(&format!(
            "# {service} {mode_name} session of {} from {} at {}\n",
            account.name,
            session.peer,
            t.date()
        ));

        let mut fields = Fields::new().text("username", account.name.clone()).text("mode", mode_name);
        if let Start::Shell { term: Some(term) } = start {
            fields = fields.text("term", term);
        }
        if let Some(path) = transcript.path() {
            fields = fields.text("transcript", path.to_string_lossy());
        }
        session.record("session", fields);
        Console { shell, session: session.clone(), transcript }
    }

    pub fn shell(&self) -> &Shell {
        &self.shell
    }

    /// The login banner and the first prompt.
    pub fn greeting(&mut self) -> String {
        let text = format!("{}{}", self.shell.welcome(), self.shell.prompt());
        self.transcript.write(&text);
        text
    }

    /// Runs one input line: records it (unless it answers a password prompt), runs it,
    /// records what it tried, and adds both to the transcript.
    pub fn execute(&mut self, line: &[u8]) -> Outcome {
        let text = String::from_utf8_lossy(line);
        let secret = self.shell.awaits_secret();
        if !secret && !text.trim().is_empty() {
            self.session.record(
                "command",
                Fields::new().text("username", self.shell.account().name.clone()).bytes("command", line),
            );
        }
        let shown = if secret { "" } else { &text };
        if self.shell.mode == Mode::Script {
            self.transcript.write(&format!("{}{shown}\n", self.shell.prompt()));
        } else {
            self.transcript.write(&format!("{shown}\n"));
        }
        let outcome = self.shell.run(&text);
        self.transcript.write(&outcome.text());
        for note in &outcome.notes {
            self.record(note);
        }
        outcome
    }

    /// `^D` at an empty line: the shell exits as if told to (nothing is recorded).
    pub fn end_of_input(&mut self) -> Outcome {
        self.transcript.write("\n");
        self.shell.cancel_secret();
        let outcome = self.shell.run("exit");
        self.transcript.write(&outcome.text());
        outcome
    }

    /// `^C`: a pending password prompt is abandoned.
    pub fn interrupt(&mut self) {
        self.shell.cancel_secret();
        self.transcript.write("^C\n");
    }

    /// The prompt for the next line, added to the transcript.
    pub fn prompt(&mut self) -> String {
        let prompt = self.shell.prompt();
        self.transcript.write(&prompt);
        prompt
    }

    fn record(&self, note: &Note) {
        let username = self.shell.account().name.clone();
        match note {
            Note::Download { tool, url } => self.session.record(
                "download",
                Fields::new()
                    .text("username", username)
                    .text("tool", tool.clone())
                    .bytes("url", url.as_bytes()),
            ),
            Note::Su { username: target, password, success } => self.session.record(
                "auth",
                Fields::new()
                    .text("username", target.clone())
                    .bytes("password", password)
                    .text("method", "su")
                    .flag("success", *success),
            ),
        }
    }
}

/// What to send after a pause.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// How long the real system would take before this (a failed `su`, `sleep`).
    pub delay: Duration,
    pub bytes: Vec<u8>,
}

/// A shell on a terminal (telnet, or ssh with a pty): echo, line editing, prompts.
pub struct Terminal {
    console: Console,
    editor: LineEditor,
    ended: bool,
}

impl Terminal {
    pub fn new(console: Console) -> Terminal {
        Terminal::continuing(console, LineEditor::default())
    }

    /// A terminal whose input was being read by `editor` (the login dialogue): a line end
    /// split across the switch (CR, then LF) stays one line end.
    pub fn continuing(console: Console, mut editor: LineEditor) -> Terminal {
        editor.echo = true;
        Terminal { console, editor, ended: false }
    }

    /// The login banner and first prompt, ready for the wire.
    pub fn greeting(&mut self) -> Vec<u8> {
        crlf(&self.console.greeting())
    }

    /// Whether the shell has exited.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Feeds what the client typed; returns what the terminal shows, in order.
    pub fn feed(&mut self, input: &[u8]) -> Vec<Reply> {
        let mut replies = Vec::new();
        let mut echo = Vec::new();
        for &byte in input {
            if self.ended {
                break;
            }
            let outcome = match self.editor.push(byte, &mut echo) {
                None => continue,
                Some(Event::Line(line)) => self.console.execute(&line),
                Some(Event::EndOfInput) => self.console.end_of_input(),
                Some(Event::Interrupt) => {
                    self.console.interrupt();
                    Outcome::default()
                }
            };
            replies.push(Reply { delay: Duration::ZERO, bytes: std::mem::take(&mut echo) });
            let mut text = outcome.text();
            self.editor.echo = outcome.secret_prompt.is_none();
            if outcome.exit {
                self.ended = true;
            } else if let Some(prompt) = &outcome.secret_prompt {
                text.push_str(prompt);
            } else {
                text.push_str(&self.console.prompt());
            }
            replies.push(Reply { delay: outcome.delay, bytes: crlf(&text) });
        }
        if !echo.is_empty() {
            replies.push(Reply { delay: Duration::ZERO, bytes: echo });
        }
        replies.retain(|r| !r.bytes.is_empty() || !r.delay.is_zero());
        replies
    }
}

/// What a shell without a terminal writes for one line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptReply {
    pub delay: Duration,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ScriptReply {
    pub fn of(outcome: &Outcome) -> ScriptReply {
        let mut reply = ScriptReply { delay: outcome.delay, ..ScriptReply::default() };
        for (fd, text) in &outcome.output {
            match fd {
                Fd::Out => reply.stdout.extend_from_slice(text.as_bytes()),
                Fd::Err => reply.stderr.extend_from_slice(text.as_bytes()),
            }
        }
        reply
    }
}

/// A shell reading commands from a pipe (`echo id | ssh host`): no echo, no prompt.
pub struct Script {
    console: Console,
    partial: Vec<u8>,
    ended: bool,
    status: u8,
}

impl Script {
    pub fn new(console: Console) -> Script {
        Script { console, partial: Vec::new(), ended: false, status: 0 }
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The exit status of the last command.
    pub fn status(&self) -> u8 {
        self.status
    }

    /// Feeds input; every complete line runs.
    pub fn feed(&mut self, input: &[u8]) -> Vec<ScriptReply> {
        let mut replies = Vec::new();
        for &byte in input {
            if self.ended {
                break;
            }
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                replies.push(self.run(&line));
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(byte);
            }
        }
        replies
    }

    /// The input ended: a last unterminated line runs, then the shell exits.
    pub fn finish(&mut self) -> Option<ScriptReply> {
        let line = std::mem::take(&mut self.partial);
        let reply = (!self.ended && !line.is_empty()).then(|| self.run(&line));
        self.ended = true;
        reply
    }

    fn run(&mut self, line: &[u8]) -> ScriptReply {
        let outcome = self.console.execute(line);
        self.status = outcome.status;
        self.ended = outcome.exit;
        ScriptReply::of(&outcome)
    }
}
