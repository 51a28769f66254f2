//! The pop3 and imap emulators against real clients (curl, Python's poplib and imaplib) and
//! raw sockets, on loopback only, in the clear and over implicit TLS. Every configuration
//! variable is checked for a visible effect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

use chaff_sensor::recorder::MemoryLog;
use serde_json::{Value, json};

mod support;
use support::{connect, events, output_text as text, run_command, serve, wait_for, wait_for_kind};

// ---------------------------------------------------------------------------------------
// Helpers

/// Runs a client program, killing it after `limit`; returns its output.
fn run(program: &str, args: &[&str], limit: Duration) -> Output {
    run_command(Command::new(program).args(args), b"", limit)
}

fn curl(url: &str, credentials: &str, extra: &[&str]) -> Output {
    let mut args = vec!["-sS", "-v", "--max-time", "15", "-u", credentials];
    args.extend_from_slice(extra);
    args.push(url);
    run("curl", &args, Duration::from_secs(20))
}

fn python(script: &str, args: &[&str]) -> Output {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run("python3", &all, Duration::from_secs(30))
}

/// The `auth` events so far, once there are `count` of them.
fn auths(log: &MemoryLog, count: usize) -> Vec<Value> {
    let events = wait_for(log, "auth events", |e| e.iter().filter(|e| e["kind"] == "auth").count() >= count);
    events.into_iter().filter(|e| e["kind"] == "auth").collect()
}

/// The protocol fields of an event (without the common ones), for exact comparisons.
fn own_fields(event: &Value) -> Value {
    const COMMON: [&str; 10] =
        ["v", "ts", "decky", "service", "kind", "transport", "src_ip", "src_port", "dst_port", "conn"];
    let mut fields = event.as_object().unwrap().clone();
    fields.retain(|k, _| !COMMON.contains(&k.as_str()));
    Value::Object(fields)
}

fn commands(log: &MemoryLog) -> Vec<String> {
    events(log)
        .iter()
        .filter(|e| e["kind"] == "command")
        .map(|e| e["command"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A raw client: lines out, lines in.
struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = connect(addr);
        Raw { reader: BufReader::new(stream) }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    fn send(&mut self, text: &str) {
        self.reader.get_mut().write_all(text.as_bytes()).unwrap();
    }

    /// Lines up to and including the first that starts with `end`.
    fn until(&mut self, end: &str) -> String {
        let mut all = String::new();
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "connection closed; so far: {all}");
            all.push_str(&line);
            if line.starts_with(end) {
                return all;
            }
        }
    }

    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).is_ok()
    }
}

// ---------------------------------------------------------------------------------------
// POP3

#[test]
fn pop3_curl_failed_login_is_recorded_with_exact_credentials() {
    let (addr, log) = serve("pop3", 110, &[("NODE_NAME", "mail-01")]);
    let output = curl(&format!("pop3://{addr}/"), "mallory:S3cr3t!pw", &[]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("+OK Dovecot (Debian) ready."), "{}", text(&output));
    let auth = &auths(&log, 1)[0];
    assert_eq!(auth["service"], "pop3");
    assert_eq!(auth["dst_port"], addr.port());
    let fields = own_fields(auth);
    assert_eq!(fields["username"], "mallory");
    assert_eq!(fields["password"], "S3cr3t!pw");
    assert_eq!(fields["success"], false);
    assert!(["PLAIN", "LOGIN"].contains(&fields["mechanism"].as_str().unwrap()), "{fields}");
    assert!(commands(&log).contains(&"CAPA".to_owned()));
}

#[test]
fn pop3_curl_lists_and_retrieves_with_a_configured_account() {
    let env = [("NODE_NAME", "mail-02"), ("IMAP_USERS", "alice:Tr0ub4dor&3")];
    let (addr, log) = serve("pop3", 110, &env);
    let listing = curl(&format!("pop3://{addr}/"), "alice:Tr0ub4dor&3", &[]);
    assert!(listing.status.success(), "{}", text(&listing));
    let lines: Vec<String> = String::from_utf8_lossy(&listing.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("1 "), "{lines:?}");
    let message = curl(&format!("pop3://{addr}/2"), "alice:Tr0ub4dor&3", &[]);
    let body = String::from_utf8_lossy(&message.stdout);
    assert!(body.contains("aws_access_key_id = AKIA"), "{body}");
    assert!(body.contains("To: Mail Administrator <postmaster@mail-02.local>"), "{body}");
    let auth = &auths(&log, 2)[0];
    assert_eq!(auth["username"], "alice");
    assert_eq!(auth["password"], "Tr0ub4dor&3");
    assert_eq!(auth["success"], true);
    // The default accounts are replaced, not extended.
    let refused = curl(&format!("pop3://{addr}/"), "admin:admin123", &[]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert_eq!(auths(&log, 3)[2]["success"], false);
}

const POPLIB_SESSION: &str = r#"
import poplib, ssl, sys
port, tls, user, password = int(sys.argv[1]), sys.argv[2] == "tls", sys.argv[3], sys.argv[4]
if tls:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    pop = poplib.POP3_SSL("127.0.0.1", port, timeout=10, context=context)
    print("CERT", pop.sock.getpeercert(binary_form=True) is not None)
else:
    pop = poplib.POP3("127.0.0.1", port, timeout=10)
print("WELCOME", pop.getwelcome().decode())
print("CAPA", sorted(pop.capa()))
print("USER", pop.user(user).decode())
print("PASS", pop.pass_(password).decode())
print("STAT", pop.stat())
print("UIDL", pop.uidl()[1])
response, lines, octets = pop.retr(3)
print("RETR", response.decode(), b"\n".join(lines).decode())
print("TOP", pop.top(1, 0)[1][:3])
print("DELE", pop.dele(1).decode())
print("STAT", pop.stat())
print("QUIT", pop.quit().decode())
"#;

#[test]
fn pop3_poplib_user_pass_session_in_the_clear_and_over_tls() {
    for (port, mode) in [(110, "plain"), (995, "tls")] {
        let (addr, log) = serve("pop3", port, &[("NODE_NAME", "mail-03")]);
        let port_arg = addr.port().to_string();
        let output = python(POPLIB_SESSION, &[&port_arg, mode, "mail", "mail"]);
        let out = text(&output);
        assert!(output.status.success(), "{mode}: {out}");
        assert!(out.contains("WELCOME +OK Dovecot (Debian) ready."), "{out}");
        assert!(out.contains("PASS +OK Logged in."), "{out}");
        assert!(out.contains("'SASL'") && out.contains("'USER'"), "{out}");
        assert!(out.contains("Backup of database 'production'"), "{out}");
        assert!(out.contains("mysqldump -u backup -p'"), "{out}");
        assert!(out.contains("DELE +OK Marked to be deleted."), "{out}");
        assert!(out.contains("QUIT +OK Logging out, messages deleted."), "{out}");
        let stats: Vec<&str> = out.lines().filter(|l| l.starts_with("STAT")).collect();
        assert_eq!(stats.len(), 2, "{out}");
        assert_ne!(stats[0], stats[1], "DELE hides the message: {out}");
        let auth = &auths(&log, 1)[0];
        assert_eq!(
            own_fields(auth),
            json!({"mechanism": "USER", "username": "mail", "password": "mail", "success": true})
        );
        let commands = commands(&log);
        assert!(commands.contains(&"RETR 3".to_owned()), "{commands:?}");
        assert!(commands.contains(&"DELE 1".to_owned()), "{commands:?}");
        let end = wait_for_kind(&log, "disconnect");
        assert_eq!(end["reason"], "closed", "{end}");
    }
}

#[test]
fn pop3s_curl_over_tls_records_the_credentials() {
    let (addr, log) = serve("pop3", 995, &[("NODE_NAME", "mail-04")]);
    let output = curl(&format!("pop3s://{addr}/"), "root:toor", &["-k"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("CN=mail-04"), "{}", text(&output));
    let auth = &auths(&log, 1)[0];
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("root"), Some("toor")));
    assert_eq!(auth["success"], true);
}

#[test]
fn pop3_raw_auth_login_sasl_and_error_limit() {
    let (addr, log) = serve("pop3", 110, &[]);
    let mut raw = Raw::connect(addr);
    assert_eq!(raw.line(), "+OK Dovecot (Debian) ready.\r\n");
    raw.send("AUTH\r\n");
    assert_eq!(raw.until("."), "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n");
    raw.send("AUTH LOGIN\r\n");
    assert_eq!(raw.line(), "+ VXNlcm5hbWU6\r\n");
    raw.send("Ym9i\r\n");
    assert_eq!(raw.line(), "+ UGFzc3dvcmQ6\r\n");
    raw.send("aHVudGVyMg==\r\n");
    assert_eq!(raw.line(), "-ERR [AUTH] Authentication failed.\r\n");
    let auth = &auths(&log, 1)[0];
    assert_eq!(
        own_fields(auth),
        json!({"mechanism": "LOGIN", "username": "bob", "password": "hunter2", "success": false})
    );
    raw.send("STAT\r\n");
    assert_eq!(raw.line(), "-ERR Unknown command.\r\n");
    for _ in 0..8 {
        raw.send("XYZZY\r\n");
        assert_eq!(raw.line(), "-ERR Unknown command.\r\n");
    }
    assert_eq!(raw.line(), "-ERR Too many bad commands.\r\n");
    assert!(raw.closed());
}

// ---------------------------------------------------------------------------------------
// IMAP

#[test]
fn imap_curl_failed_login_is_recorded_with_exact_credentials() {
    let (addr, log) = serve("imap", 143, &[("NODE_NAME", "mail-05")]);
    let output = curl(&format!("imap://{addr}/"), "eve:Pa55 w0rd\"x", &[]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("Dovecot (Debian) ready."), "{}", text(&output));
    let auth = &auths(&log, 1)[0];
    assert_eq!(auth["service"], "imap");
    assert_eq!(auth["username"], "eve");
    assert_eq!(auth["password"], "Pa55 w0rd\"x");
    assert_eq!(auth["success"], false);
}

#[test]
fn imap_curl_lists_folders_and_fetches_a_message() {
    let env = [("NODE_NAME", "mail-06"), ("IMAP_USERS", "carol:c4r0l!")];
    let (addr, log) = serve("imap", 143, &env);
    let listing = curl(&format!("imap://{addr}/"), "carol:c4r0l!", &[]);
    let out = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.status.success(), "{}", text(&listing));
    assert!(out.contains("* LIST (\\HasNoChildren) \"/\" INBOX"), "{out}");
    assert!(out.contains("\\Trash) \"/\" Trash"), "{out}");
    let message = curl(&format!("imap://{addr}/INBOX;UID=1"), "carol:c4r0l!", &[]);
    let body = String::from_utf8_lossy(&message.stdout);
    assert!(message.status.success(), "{}", text(&message));
    assert!(body.contains("Your temporary password is:"), "{body}");
    assert!(body.contains("vpn.mail-06.local"), "{body}");
    let auth = &auths(&log, 2)[1];
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("carol"), Some("c4r0l!")));
    assert_eq!(auth["success"], true);
    let commands = commands(&log);
    assert!(commands.iter().any(|c| c.ends_with("SELECT INBOX")), "{commands:?}");
    assert!(commands.iter().any(|c| c.contains("FETCH 1 BODY[]")), "{commands:?}");
}

#[test]
fn imaps_curl_over_tls_records_the_credentials() {
    let (addr, log) = serve("imap", 993, &[("NODE_NAME", "mail-07")]);
    let output = curl(&format!("imaps://{addr}/"), "admin:admin123", &["-k"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("CN=mail-07"), "{}", text(&output));
    let auth = &auths(&log, 1)[0];
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("admin"), Some("admin123")));
    assert_eq!(auth["success"], true);
}

const IMAPLIB_SESSION: &str = r#"
import imaplib, ssl, sys
port, tls, user, password = int(sys.argv[1]), sys.argv[2] == "tls", sys.argv[3], sys.argv[4]
if tls:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=10)
else:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=10)
print("WELCOME", imap.welcome.decode())
print("LOGIN", imap.login(user, password))
print("LIST", imap.list())
print("STATUS", imap.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)"))
print("SELECT", imap.select("INBOX"))
print("SEARCH", imap.search(None, "UNSEEN"))
typ, data = imap.fetch("1:*", "(UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
for item in data:
    print("FETCH", item)
typ, data = imap.uid("FETCH", "2", "(RFC822)")
print("BODY", data[0][1].decode())
print("STORE", imap.store("1", "+FLAGS", "(\\Deleted)"))
print("EXPUNGE", imap.expunge())
print("SELECT2", imap.select("Sent"))
print("CLOSE", imap.close())
print("LOGOUT", imap.logout())
"#;

#[test]
fn imap_imaplib_session_in_the_clear_and_over_tls() {
    for (port, mode) in [(143, "plain"), (993, "tls")] {
        let (addr, log) = serve("imap", port, &[("NODE_NAME", "mail-08"), ("IMAP_DISTRO", "ubuntu22")]);
        let port_arg = addr.port().to_string();
        let output = python(IMAPLIB_SESSION, &[&port_arg, mode, "user", "user"]);
        let out = text(&output);
        assert!(output.status.success(), "{mode}: {out}");
        assert!(out.contains("Dovecot (Ubuntu) ready."), "{out}");
        assert!(out.contains("LOGIN ('OK', [b'[CAPABILITY"), "{out}");
        assert!(out.contains("SELECT ('OK', [b'3'])"), "{out}");
        assert!(out.contains("SEARCH ('OK', [b'2 3'])"), "{out}");
        assert!(out.contains("(MESSAGES 3 UNSEEN 2 UIDNEXT 4)"), "{out}");
        assert!(out.contains("Subject: AWS access keys for the backup bucket"), "{out}");
        assert!(out.contains("ENVELOPE (\\\"") || out.contains("ENVELOPE (\""), "{out}");
        assert!(out.contains("aws_secret_access_key = "), "{out}");
        assert!(out.contains("EXPUNGE ('OK', [b'1'])"), "{out}");
        assert!(out.contains("SELECT2 ('OK', [b'0'])"), "{out}");
        assert!(out.contains("LOGOUT ('BYE'"), "{out}");
        let auth = &auths(&log, 1)[0];
        assert_eq!(
            own_fields(auth),
            json!({"mechanism": "LOGIN", "username": "user", "password": "user", "success": true})
        );
        let commands = commands(&log);
        assert!(commands.iter().any(|c| c.ends_with("UID FETCH 2 (RFC822)")), "{commands:?}");
    }
}

#[test]
fn imap_raw_literals_authenticate_and_states() {
    let (addr, log) = serve("imap", 143, &[]);
    let mut raw = Raw::connect(addr);
    let greeting = raw.line();
    assert!(greeting.starts_with("* OK [CAPABILITY IMAP4rev1 SASL-IR"), "{greeting}");
    raw.send("a1 SELECT INBOX\r\n");
    assert_eq!(raw.line(), "a1 BAD Error in IMAP command received by server.\r\n");
    raw.send("a2 LOGIN {5}\r\n");
    assert_eq!(raw.line(), "+ OK\r\n");
    raw.send("r\u{f6}ot {4+}\r\nt\0or\r\n");
    assert_eq!(raw.line(), "a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    let auth = &auths(&log, 1)[0];
    assert_eq!(auth["username"], "r\u{f6}ot");
    assert_eq!(auth["password"], "t\u{0}or");
    raw.send("a3 AUTHENTICATE PLAIN\r\n");
    assert_eq!(raw.line(), "+ \r\n");
    raw.send("AGFkbWluAGFkbWluMTIz\r\n");
    assert!(raw.line().starts_with("a3 OK [CAPABILITY IMAP4rev1"));
    assert_eq!(
        own_fields(&auths(&log, 2)[1]),
        json!({"mechanism": "PLAIN", "username": "admin", "password": "admin123", "success": true})
    );
    raw.send("a4 FETCH 1 FLAGS\r\n");
    assert_eq!(raw.line(), "a4 BAD No mailbox selected.\r\n");
    raw.send("a5 EXAMINE INBOX\r\n");
    let examine = raw.until("a5 ");
    assert!(examine.contains("* 3 EXISTS\r\n") && examine.contains("a5 OK [READ-ONLY]"), "{examine}");
    raw.send("a6 FETCH 9 FLAGS\r\n");
    assert_eq!(raw.line(), "a6 BAD Error in IMAP command Fetch: Invalid messageset\r\n");
    raw.send("a7 STARTTLS\r\n");
    assert_eq!(raw.line(), "a7 BAD TLS support isn't enabled.\r\n");
    raw.send("a8 IDLE\r\n");
    assert_eq!(raw.line(), "+ idling\r\n");
    raw.send("DONE\r\n");
    assert!(raw.line().starts_with("a8 OK Idle completed"));
    raw.send(&format!("a9 LOGIN {{{}}}\r\n", 200 * 1024));
    assert_eq!(raw.line(), "* BYE Too long command line.\r\n");
    assert!(raw.closed());
}

// ---------------------------------------------------------------------------------------
// Configuration

fn greeting(slug: &str, port: u16, env: &[(&str, &str)]) -> String {
    let (addr, _log) = serve(slug, port, env);
    Raw::connect(addr).line()
}

#[test]
fn distro_chooses_the_greeting_of_either_protocol() {
    for (distro, tag) in [
        ("debian", "Dovecot (Debian) ready."),
        ("ubuntu20", "Dovecot (Ubuntu) ready."),
        ("rocky9", "Dovecot ready."),
    ] {
        assert_eq!(greeting("pop3", 110, &[("POP3_DISTRO", distro)]), format!("+OK {tag}\r\n"));
        let imap = greeting("imap", 143, &[("IMAP_DISTRO", distro)]);
        assert!(imap.ends_with(&format!("] {tag}\r\n")), "{imap}");
    }
}

#[test]
fn node_name_shapes_the_messages_and_the_certificate() {
    let retrieve = |decky: &str| {
        let (addr, _log) = serve("pop3", 110, &[("NODE_NAME", decky)]);
        let output = curl(&format!("pop3://{addr}/2"), "mail:mail", &[]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let first = retrieve("files-01");
    assert!(first.contains("postmaster@files-01.local"), "{first}");
    assert_eq!(first, retrieve("files-01"), "one decky always shows the same mail");
    let other = retrieve("files-02");
    assert!(other.contains("postmaster@files-02.local"), "{other}");
    let key_line = |text: &str| text.lines().find(|l| l.starts_with("aws_access_key_id")).map(str::to_owned);
    assert_ne!(key_line(&first), key_line(&other));
}

#[test]
fn invalid_configuration_is_refused_naming_the_variable() {
    use chaff_sensor::Env;
    use chaff_sensor::emulators::Emulator;
    use chaff_sensor::ports::{Port, Transport};
    for (slug, port, var, value) in [
        ("pop3", 110, "POP3_DISTRO", "gentoo"),
        ("imap", 993, "IMAP_DISTRO", "solaris"),
        ("imap", 143, "IMAP_USERS", "no-colon"),
        ("pop3", 995, "IMAP_USERS", "no-colon"),
    ] {
        let env = Env::from_pairs([(var, value)]);
        let Err(error) = Emulator::for_port(slug, Port { number: port, transport: Transport::Tcp }, &env)
        else {
            panic!("{var}={value} accepted");
        };
        assert!(error.to_string().contains(var), "{error}");
    }
}

/// Serves all four ports, per greeting persona, for a manual `nmap -sV`: run with
/// `--ignored --nocapture`.
#[test]
#[ignore = "binds fixed privileged ports and waits for nmap; run by hand"]
fn serve_for_nmap() {
    for distro in ["debian", "ubuntu22", "rocky9"] {
        for (slug, port) in [("pop3", 110), ("pop3", 995), ("imap", 143), ("imap", 993)] {
            let env = [("NODE_NAME", "mail-01"), ("POP3_DISTRO", distro), ("IMAP_DISTRO", distro)];
            let (addr, _log) = serve(slug, port, &env);
            println!("{distro} {slug}/{port} on {addr}");
        }
    }
    std::thread::sleep(Duration::from_secs(600));
}
