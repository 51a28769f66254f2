//! The postgres and mssql emulators against real clients (`psql` from postgresql-client,
//! `tsql` from freetds-bin) and raw sockets, on loopback.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Output;

use chaff_sensor::emulators::Emulator;
use chaff_sensor::recorder::MemoryLog;
use chaff_sensor::{Env, Port, Transport};

mod support;
use support::{
    connect, events, kinds, read_to_close, run_client, serve, stderr, stdout, wait_for, wait_for_kind,
};

/// Runs a client program for at most 20 s with `env` added.
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    run_client(program, args, env, 20)
}

/// Everything the server sends for `request` until it closes the connection (a reset, for
/// a server closing with part of the request unread, is a close too).
fn exchange_to_close(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    read_to_close(&mut stream)
}

fn closed_by_server(log: &MemoryLog) {
    let events = wait_for(log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

// ---- postgres ----

fn postgres(env: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    serve("postgres", 5432, env)
}

/// `psql` logging in as alice to db payroll with `password`.
fn psql(addr: SocketAddr, password: &str, sslmode: &str) -> Output {
    let port = addr.port().to_string();
    run(
        "psql",
        &["-h", "127.0.0.1", "-p", &port, "-U", "alice", "-d", "payroll", "-w", "-c", "select 1"],
        &[
            ("PGPASSWORD", password),
            ("PGSSLMODE", sslmode),
            ("PGAPPNAME", "nightly-report"),
            ("PGCONNECT_TIMEOUT", "10"),
        ],
    )
}

fn md5_hex(input: &str) -> String {
    let output = run(
        "python3",
        &["-c", "import hashlib,sys; print(hashlib.md5(sys.argv[1].encode()).hexdigest())", input],
        &[],
    );
    assert!(output.status.success(), "{output:?}");
    stdout(&output).trim().to_owned()
}

/// md5(md5(password + user) + salt), as libpq computes the response.
fn md5_response(password: &str, user: &str, salt_hex: &str) -> String {
    let script = "import hashlib,sys\n\
        inner=hashlib.md5((sys.argv[1]+sys.argv[2]).encode()).hexdigest()\n\
        print('md5'+hashlib.md5(inner.encode()+bytes.fromhex(sys.argv[3])).hexdigest())";
    let output = run("python3", &["-c", script, password, user, salt_hex], &[]);
    assert!(output.status.success(), "{output:?}");
    stdout(&output).trim().to_owned()
}

#[test]
fn psql_cleartext_password_is_recorded_exactly() {
    for sslmode in ["disable", "prefer"] {
        let (addr, log) = postgres(&[("NODE_NAME", "db-02"), ("POSTGRES_AUTH", "password")]);
        let output = psql(addr, "Tr0ub4dor&3 x", sslmode);
        assert!(!output.status.success(), "{output:?}");
        assert!(
            stderr(&output).contains("FATAL:  password authentication failed for user \"alice\""),
            "{sslmode}: {}",
            stderr(&output)
        );
        let startup = wait_for_kind(&log, "startup");
        assert_eq!(
            (startup["username"].as_str(), startup["database"].as_str()),
            (Some("alice"), Some("payroll"))
        );
        assert_eq!(startup["application_name"], "nightly-report");
        let auth = wait_for_kind(&log, "auth");
        assert_eq!(auth["username"], "alice");
        assert_eq!(auth["database"], "payroll");
        assert_eq!(auth["application_name"], "nightly-report");
        assert_eq!(auth["method"], "password");
        assert_eq!(auth["password"], "Tr0ub4dor&3 x");
        assert_eq!(auth["success"], false);
        closed_by_server(&log);
    }
}

#[test]
fn psql_md5_response_matches_the_password_and_salt() {
    let (addr, log) = postgres(&[("NODE_NAME", "db-02"), ("POSTGRES_AUTH", "md5")]);
    let output = psql(addr, "secret", "disable");
    assert!(stderr(&output).contains("password authentication failed for user \"alice\""), "{output:?}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(auth["method"], "md5");
    assert_eq!(auth.get("password"), None);
    let salt = auth["salt_hex"].as_str().unwrap();
    assert_eq!(salt.len(), 8);
    assert_eq!(auth["md5_response"].as_str().unwrap(), md5_response("secret", "alice", salt));
    assert_ne!(auth["md5_response"].as_str().unwrap(), format!("md5{}", md5_hex("secret")));
}

/// The error answering a startup packet of `length` bytes starting with `code`, sent after
/// the encryption requests in `prefix`.
fn startup_error(addr: SocketAddr, prefix: &[u8], code: [u8; 4], length: usize) -> String {
    let mut probe = prefix.to_vec();
    let at = probe.len();
    probe.extend_from_slice(&(length as u32).to_be_bytes());
    probe.extend_from_slice(&code);
    probe.resize(at + length, 0);
    let reply = exchange_to_close(addr, &probe);
    // Each 8-byte encryption request in `prefix` is declined with one `N`.
    let declined = vec![b'N'; prefix.len() / 8];
    let reply = reply.strip_prefix(&declined[..]).unwrap_or_else(|| panic!("{reply:?}"));
    assert_eq!(reply[0], b'E', "{reply:?}");
    String::from_utf8_lossy(&reply[5..]).into_owned()
}

#[test]
fn postgres_error_fields_follow_the_version() {
    // (environment, line of ProcessStartupPacket, earliest protocol)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 3] = [
        (&[("POSTGRES_VERSION", "15.6 (Debian 15.6-0+deb12u1)")], "2194", "3.0"),
        (&[("POSTGRES_VERSION", "12.18")], "2119", "2.0"),
        (&[("POSTGRES_DISTRO", "ubuntu22")], "2138", "3.0"),
    ];
    for (env, line, earliest) in cases {
        let (addr, log) = postgres(env);
        // nmap's probe: an SMB negotiation read as a startup packet of protocol 65363.19778.
        let error = startup_error(addr, b"", *b"\xffSMB", 0xa4);
        let expected = format!(
            "SFATAL\0VFATAL\0C0A000\0Munsupported frontend protocol 65363.19778: server supports {earliest} to 3.0\0\
             Fpostmaster.c\0L{line}\0RProcessStartupPacket\0\0"
        );
        assert_eq!(error, expected, "{env:?}");
        let event = wait_for_kind(&log, "protocol_error");
        assert!(
            event["error"].as_str().unwrap().starts_with("unsupported frontend protocol 65363.19778"),
            "{event}"
        );
    }
}

#[test]
fn postgres_declines_encryption_once() {
    let (addr, _log) = postgres(&[("POSTGRES_VERSION", "15.6")]);
    let ssl_request = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let error = startup_error(addr, &ssl_request, [0x04, 0xd2, 0x16, 0x2f], 8);
    assert!(
        error.contains("Munsupported frontend protocol 1234.5679: server supports 3.0 to 3.0\0"),
        "{error}"
    );
}

#[test]
fn postgres_auth_method_follows_the_decky_unless_configured() {
    let first_request = |env: &[(&str, &str)]| {
        let (addr, _log) = postgres(env);
        let mut stream = connect(addr);
        let mut startup = vec![0, 0, 0, 0, 0, 3, 0, 0];
        startup.extend_from_slice(b"user\0bob\0\0");
        let length = startup.len() as u32;
        startup[..4].copy_from_slice(&length.to_be_bytes());
        stream.write_all(&startup).unwrap();
        let mut request = [0u8; 9];
        stream.read_exact(&mut request).unwrap();
        request[8]
    };
    assert_eq!(first_request(&[("POSTGRES_AUTH", "md5")]), 5);
    assert_eq!(first_request(&[("POSTGRES_AUTH", "password")]), 3);
    let picks: std::collections::BTreeSet<u8> =
        (0..12).map(|i| first_request(&[("NODE_NAME", &format!("pg-{i}"))])).collect();
    assert_eq!(picks, [3, 5].into());
}

#[test]
fn postgres_bad_startup_length_is_dropped_silently() {
    let (addr, log) = postgres(&[]);
    assert_eq!(exchange_to_close(addr, b"GET / HTTP/1.1\r\n\r\n"), b"");
    let error = wait_for_kind(&log, "protocol_error");
    assert_eq!(error["error"], "invalid length of startup packet");
    assert!(
        Emulator::for_port(
            "postgres",
            Port { number: 5432, transport: Transport::Tcp },
            &Env::from_pairs([("POSTGRES_AUTH", "trust")])
        )
        .is_err()
    );
}

// ---- mssql ----

fn mssql(env: &[(&str, &str)]) -> (SocketAddr, MemoryLog) {
    serve("mssql", 1433, env)
}

fn tsql(addr: SocketAddr, user: &str, password: &str) -> Output {
    let port = addr.port().to_string();
    run("tsql", &["-H", "127.0.0.1", "-p", &port, "-U", user, "-P", password, "-D", "payroll"], &[])
}

#[test]
fn tsql_login_is_recorded_with_the_exact_password() {
    let (addr, log) = mssql(&[("NODE_NAME", "SQL-01"), ("MSSQL_VERSION", "15.0.4355.3")]);
    let output = tsql(addr, "sa", "S3cr3t! pässwörd");
    let printed = format!("{}{}", stdout(&output), stderr(&output));
    assert!(printed.contains("Msg 18456 (severity 14, state 1) from SQL-01"), "{printed}");
    assert!(printed.contains("Login failed for user 'sa'."), "{printed}");
    let prelogin = wait_for_kind(&log, "prelogin");
    assert!(prelogin.get("encryption").is_some(), "{prelogin}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(auth["username"], "sa");
    assert_eq!(auth["password"], "S3cr3t! pässwörd");
    assert_eq!(auth["method"], "sql");
    assert_eq!(auth["app_name"], "TSQL");
    assert_eq!(auth["server_name"], "127.0.0.1");
    assert_eq!(auth["database"], "payroll");
    assert!(!auth["library"].as_str().unwrap().is_empty(), "{auth}");
    assert!(!auth["hostname"].as_str().unwrap().is_empty(), "{auth}");
    assert_eq!(auth["success"], false);
    closed_by_server(&log);
}

/// nmap's ms-sql-s probe.
const NMAP_PRELOGIN: &[u8] = b"\x12\x01\x00\x34\x00\x00\x00\x00\x00\x00\x15\x00\x06\x01\x00\x1b\x00\x01\x02\x00\x1c\x00\x0c\x03\x00\x28\x00\x04\xff\x08\x00\x01\x55\x00\x00\x00\x4d\x53\x53\x51\x4c\x53\x65\x72\x76\x65\x72\x00\x48\x0f\x00\x00";

#[test]
fn mssql_version_shows_in_the_prelogin_reply() {
    for (version, bytes) in
        [("14.0.3456.2", [14u8, 0, 0x0d, 0x80, 0, 2]), ("16.0.4125.3", [16, 0, 0x10, 0x1d, 0, 3])]
    {
        let (addr, log) = mssql(&[("MSSQL_VERSION", version)]);
        let mut stream = connect(addr);
        stream.write_all(NMAP_PRELOGIN).unwrap();
        let mut reply = [0u8; 0x25];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply[..8], b"\x04\x01\x00\x25\x00\x00\x01\x00");
        assert_eq!(reply[29..35], bytes, "{version}");
        let prelogin = wait_for_kind(&log, "prelogin");
        assert_eq!(prelogin["instance"], "MSSQLServer");
        assert_eq!(prelogin["client_version"], "8.0.341.0");
    }
    let default = |decky: &str| {
        let (addr, _log) = mssql(&[("NODE_NAME", decky)]);
        let mut reply = exchange_to_close_after(addr, NMAP_PRELOGIN, 0x25);
        reply.drain(..29);
        reply
    };
    assert_eq!(default("sql-01"), default("sql-01"));
    let picks: std::collections::BTreeSet<Vec<u8>> = (0..10).map(|i| default(&format!("sql-{i}"))).collect();
    assert!(picks.len() > 1, "{picks:?}");
}

/// The first `len` bytes the server answers to `request`.
fn exchange_to_close_after(addr: SocketAddr, request: &[u8], len: usize) -> Vec<u8> {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply).unwrap();
    reply
}

#[test]
fn mssql_garbage_is_a_protocol_error() {
    let (addr, log) = mssql(&[]);
    assert_eq!(exchange_to_close(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), b"");
    let error = wait_for_kind(&log, "protocol_error");
    assert_eq!(
        (error["error"].as_str(), error["packet_type"].as_u64()),
        (Some("unexpected packet type"), Some(u64::from(b'G')))
    );
    let bad = Emulator::for_port(
        "mssql",
        Port { number: 1433, transport: Transport::Tcp },
        &Env::from_pairs([("MSSQL_VERSION", "2019")]),
    );
    assert!(bad.is_err());
    assert_eq!(events(&log).iter().filter(|e| e["kind"] == "auth").count(), 0);
}

/// For identifying the services by hand: serves postgres on 127.0.0.1:5432 and mssql on
/// 127.0.0.1:1433 for two minutes, events on stdout (`--nocapture`), while one runs
/// `nmap -sV -Pn -p 5432,1433 127.0.0.1`. Configure with the usual variables.
#[test]
#[ignore = "binds fixed ports and waits; run by hand"]
fn serve_on_the_real_ports_for_nmap() {
    support::serve_on_real_ports(&[("postgres", 5432), ("mssql", 1433)], 120);
}
