//! The sensor's first-wave emulators on the machine's REAL Docker daemon, reached by REAL
//! clients: a fleet deployed with the `chaff` binary, a login attempt with known credentials
//! against every service (OpenSSH `ssh` through `sshpass`, a telnet session, `curl` for
//! http, https and ftp, `swaks`, `redis-cli`, the MariaDB `mysql` client), each attempt
//! found with exactly those credentials in `chaff events --json`, `nmap -sV` naming every
//! service, and a container restart that neither loses nor duplicates an event.
//!
//! Clients and nmap are Debian packages that `scripts/setup.sh` installs. Every address is on
//! a bridge network this test creates on this machine.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chaff_tests::remove_everything_of;
use serde_json::Value;

const CHAFF: &str = env!("CARGO_BIN_EXE_chaff");
const FLEET: &str = "cli-sensors";
const DECKY: &str = "sensors-01";
const RELAY_DECKY: &str = "sensors-02";
const IP: &str = "10.241.10.10";
const RELAY_IP: &str = "10.241.10.11";
/// Guards against a hung client or daemon only; never a performance assertion.
const HANG_GUARD: Duration = Duration::from_secs(120);

const INI: &str = "\
[general]
name = cli-sensors
net = 10.241.10.0/24
gw = 10.241.10.1

[sensors-01]
ip = 10.241.10.10
services = ssh, telnet, http, https, ftp, smtp, redis, mysql

[sensors-01.http]
fake_app = wordpress
server_header = Apache/2.4.57 (Debian)

[sensors-01.https]
tls_cn = intranet.example.org

[sensors-01.redis]
version = 7.2.4

[sensors-01.mysql]
version = 8.0.36-0ubuntu0.22.04.1

[sensors-02]
ip = 10.241.10.11
services = smtp_relay
";

fn chaff(data: &Path, args: &[&str]) -> Output {
    Command::new(CHAFF).args(args).env("CHAFF_DATA_DIR", data).output().expect("run chaff")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a client program to completion (killed after [`HANG_GUARD`]); its exit status is the
/// client's business: a refused login is what most of these attempts expect.
fn client(program: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("timeout")
        .arg(HANG_GUARD.as_secs().to_string())
        .arg(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs (scripts/setup.sh installs it): {e}"));
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    println!(
        "$ {program} {}\n  exit {:?}\n  stdout: {}\n  stderr: {}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout).trim(),
        text(&out.stderr).trim()
    );
    out
}

/// Every stored event of `decky` as `chaff events --json` prints it.
fn events_of(data: &Path, decky: &str) -> Vec<Value> {
    let out = chaff(data, &["events", "--json", "--decky", decky]);
    assert!(out.status.success(), "chaff events failed: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Polls `chaff events` until an event satisfies `matches` (the sensor writes it a moment
/// after the client's exchange).
fn wait_for_event(data: &Path, decky: &str, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let events = events_of(data, decky);
        if let Some(found) = events.iter().find(|e| matches(e)) {
            return found.clone();
        }
        assert!(started.elapsed() < HANG_GUARD, "no event for {what}; events of {decky}: {events:#?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn auth_with(
    service: &'static str,
    user: Option<&'static str>,
    password: Option<&'static str>,
) -> impl Fn(&Value) -> bool {
    move |e: &Value| {
        e["service"] == service
            && e["kind"] == "auth"
            && user.is_none_or(|u| e["username"] == u)
            && password.is_none_or(|p| e["password"] == p)
    }
}

/// Waits until `port` of `ip` accepts TCP connections (the containers start a moment after
/// the deploy returns).
fn wait_for_port(ip: &str, port: u16) {
    let addr = format!("{ip}:{port}").parse().unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(started.elapsed() < HANG_GUARD, "{ip}:{port} never accepted a connection");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// OpenSSH's `ssh` through `sshpass`: one password attempt as `user`, running `command`.
fn ssh_with_password(user: &str, password: &str, command: &str) -> Output {
    let target = format!("{user}@{IP}");
    let mut args = vec!["-p", password, "ssh"];
    for option in [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "PreferredAuthentications=password",
        "PubkeyAuthentication=no",
        "NumberOfPasswordPrompts=1",
        "ConnectTimeout=10",
    ] {
        args.extend(["-o", option]);
    }
    args.extend([target.as_str(), command]);
    client("sshpass", &args, None)
}

struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_everything_of(FLEET);
    }
}

#[test]
fn real_clients_log_in_to_every_first_wave_service_and_each_attempt_is_an_event() {
    remove_everything_of(FLEET);
    let _cleanup = Cleanup;
    let data = tempfile::tempdir().unwrap();
    let ini = data.path().join("sensors.ini");
    std::fs::write(&ini, INI).unwrap();
    let deploy = chaff(data.path(), &["deploy", "--config", ini.to_str().unwrap()]);
    assert!(deploy.status.success(), "deploy: {}\n{}", text(&deploy.stdout), text(&deploy.stderr));
    for port in [21, 22, 23, 25, 80, 443, 3306, 6379] {
        wait_for_port(IP, port);
    }
    wait_for_port(RELAY_IP, 25);
    let data = data.path();

    // ssh: OpenSSH's own client, a password attempt that must be refused.
    let ssh = ssh_with_password("mallory", "ssh-secret-1", "id");
    assert!(!ssh.status.success(), "a wrong password must not log in");
    wait_for_event(data, DECKY, "ssh auth", auth_with("ssh", Some("mallory"), Some("ssh-secret-1")));

    // ssh with the configured root password gets the fake shell; the command is recorded.
    let shell = ssh_with_password("root", "admin", "uname -a");
    assert!(shell.status.success(), "the configured credentials open the shell");
    assert!(text(&shell.stdout).contains("Linux"), "uname answers like Linux");
    wait_for_event(data, DECKY, "ssh command", |e| {
        e["service"] == "ssh" && e["kind"] == "command" && e["command"] == "uname -a"
    });

    // telnet: a scripted session through the telnet client.
    let telnet = client(
        "python3",
        &[
            "-c",
            "import telnetlib,sys\n\
             t=telnetlib.Telnet(sys.argv[1],23,timeout=20)\n\
             t.read_until(b'login: ',20); t.write(b'mallory\\r\\n')\n\
             t.read_until(b'Password: ',20); t.write(b'telnet-secret-1\\r\\n')\n\
             print(t.read_until(b'incorrect',20))",
            IP,
        ],
        None,
    );
    assert!(text(&telnet.stdout).contains("incorrect"), "telnet refuses the login");
    wait_for_event(data, DECKY, "telnet auth", auth_with("telnet", Some("mallory"), Some("telnet-secret-1")));

    // http: the WordPress login form, posted by curl.
    let page = client("curl", &["-s", "-i", &format!("http://{IP}/wp-login.php")], None);
    let page = text(&page.stdout);
    assert!(page.contains("Server: Apache/2.4.57 (Debian)"), "server_header honoured: {page}");
    assert!(page.to_lowercase().contains("wordpress"), "the wordpress login page: {page}");
    client(
        "curl",
        &["-s", "-d", "log=mallory&pwd=http-secret-1", &format!("http://{IP}/wp-login.php")],
        None,
    );
    wait_for_event(data, DECKY, "http auth", auth_with("http", Some("mallory"), Some("http-secret-1")));

    // https: a certificate for the configured CN, and Basic credentials recorded.
    // http and https on one decky: https serves 443 (the engine tells http to leave it).
    let url = format!("https://{IP}/");
    let tls = client("curl", &["-s", "-k", "-v", "-u", "mallory:https-secret-1", &url], None);
    assert!(text(&tls.stderr).contains("CN=intranet.example.org"), "tls_cn honoured in the certificate");
    wait_for_event(data, DECKY, "https auth", auth_with("https", Some("mallory"), Some("https-secret-1")));

    // ftp: curl's FTP client logs in and asks for a listing.
    client("curl", &["-s", "--max-time", "20", &format!("ftp://mallory:ftp-secret-1@{IP}/")], None);
    wait_for_event(data, DECKY, "ftp auth", auth_with("ftp", Some("mallory"), Some("ftp-secret-1")));

    // smtp: swaks authenticates; the closed relay refuses it but records it.
    client(
        "swaks",
        &[
            "--server",
            IP,
            "--auth",
            "LOGIN",
            "--auth-user",
            "mallory",
            "--auth-password",
            "smtp-secret-1",
            "--to",
            "victim@example.org",
            "--quit-after",
            "AUTH",
            "--timeout",
            "20",
        ],
        None,
    );
    wait_for_event(data, DECKY, "smtp auth", auth_with("smtp", Some("mallory"), Some("smtp-secret-1")));

    // smtp_relay: an open relay takes the whole message.
    client(
        "swaks",
        &[
            "--server",
            RELAY_IP,
            "--auth",
            "PLAIN",
            "--auth-user",
            "relay-user",
            "--auth-password",
            "relay-secret-1",
            "--from",
            "spam@example.net",
            "--to",
            "victim@example.org",
            "--header",
            "Subject: chaff relay probe",
            "--timeout",
            "20",
        ],
        None,
    );
    wait_for_event(
        data,
        RELAY_DECKY,
        "smtp_relay auth",
        auth_with("smtp_relay", Some("relay-user"), Some("relay-secret-1")),
    );
    wait_for_event(data, RELAY_DECKY, "smtp_relay message", |e| {
        e["service"] == "smtp_relay" && e["kind"] == "message" && e["subject"] == "chaff relay probe"
    });

    // redis: redis-cli's AUTH and INFO with the configured version.
    client("redis-cli", &["-h", IP, "-a", "redis-secret-1", "--no-auth-warning", "PING"], None);
    wait_for_event(data, DECKY, "redis auth", auth_with("redis", None, Some("redis-secret-1")));
    let info = client("redis-cli", &["-h", IP, "INFO", "server"], None);
    assert!(text(&info.stdout).contains("redis_version:7.2.4"), "version honoured");

    // mysql: the MariaDB client is refused with MySQL's own message.
    let mysql = client(
        "mysql",
        &[
            "-h",
            IP,
            "-P",
            "3306",
            "--protocol=TCP",
            "-u",
            "mallory",
            "-pmysql-secret-1",
            "--connect-timeout=10",
            "-e",
            "select 1",
        ],
        None,
    );
    assert!(!mysql.status.success());
    assert!(text(&mysql.stderr).contains("Access denied for user 'mallory'"), "{}", text(&mysql.stderr));
    wait_for_event(data, DECKY, "mysql auth", |e| {
        e["service"] == "mysql" && e["kind"] == "auth" && e["username"] == "mallory"
    });

    // nmap names every service as what it claims to be.
    let nmap =
        client("nmap", &["-sV", "-Pn", "-n", "-p", "21,22,23,25,80,443,3306,6379", IP, RELAY_IP], None);
    let report = text(&nmap.stdout);
    let host = |ip: &str| -> &str {
        let section = report.split("Nmap scan report for ").find(|s| s.starts_with(&format!("{ip}\n")));
        section.unwrap_or_else(|| panic!("{ip} in {report}"))
    };
    let expected = [
        (IP, "21/tcp", "ftp"),
        (IP, "22/tcp", "ssh"),
        (IP, "23/tcp", "telnet"),
        (IP, "25/tcp", "smtp"),
        (IP, "80/tcp", "http"),
        (IP, "443/tcp", "http"),
        (IP, "3306/tcp", "mysql"),
        (IP, "6379/tcp", "redis"),
        (RELAY_IP, "25/tcp", "smtp"),
    ];
    for (ip, port, service) in expected {
        let line = host(ip).lines().find(|l| l.starts_with(port)).unwrap_or_else(|| panic!("{ip} {port}"));
        assert!(line.contains("open") && line.contains(service), "nmap on {ip} {port}: {line}");
    }

    // No event is stored twice, however often the logs are read.
    let before = events_of(data, DECKY);
    let again = events_of(data, DECKY);
    assert_eq!(ids(&before), ids(&again));
}

#[test]
fn a_restarted_service_container_neither_loses_nor_duplicates_events() {
    let fleet = "cli-restart";
    remove_everything_of(fleet);
    struct Gone(&'static str);
    impl Drop for Gone {
        fn drop(&mut self) {
            remove_everything_of(self.0);
        }
    }
    let _gone = Gone(fleet);
    let data = tempfile::tempdir().unwrap();
    let ini = data.path().join("restart.ini");
    std::fs::write(
        &ini,
        "[general]\nname = cli-restart\nnet = 10.241.11.0/24\ngw = 10.241.11.1\n\n[restart-01]\nip = 10.241.11.10\nservices = redis\n",
    )
    .unwrap();
    let data = data.path();
    let deploy = chaff(data, &["deploy", "--config", ini.to_str().unwrap()]);
    assert!(deploy.status.success(), "deploy: {}", text(&deploy.stderr));
    let ip = "10.241.11.10";

    wait_for_port(ip, 6379);
    client("redis-cli", &["-h", ip, "-a", "before-restart", "--no-auth-warning", "PING"], None);
    wait_for_event(data, "restart-01", "first auth", auth_with("redis", None, Some("before-restart")));

    let restart = Command::new("docker").args(["restart", "-t", "2", "restart-01-redis"]).output().unwrap();
    assert!(restart.status.success(), "docker restart: {}", text(&restart.stderr));
    wait_for_port(ip, 6379);
    client("redis-cli", &["-h", ip, "-a", "after-restart", "--no-auth-warning", "PING"], None);
    wait_for_event(data, "restart-01", "second auth", auth_with("redis", None, Some("after-restart")));

    let events = events_of(data, "restart-01");
    for password in ["before-restart", "after-restart"] {
        let n = events.iter().filter(|e| auth_with("redis", None, Some(password))(e)).count();
        assert_eq!(n, 1, "the {password} attempt is stored exactly once: {events:#?}");
    }
    // Two process lifetimes: two `listening` events, each once.
    assert_eq!(events.iter().filter(|e| e["kind"] == "listening").count(), 2, "{events:#?}");
    assert_eq!(ids(&events), ids(&events_of(data, "restart-01")));
}

fn ids(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["id"].as_u64().expect("stored events have an id")).collect()
}
