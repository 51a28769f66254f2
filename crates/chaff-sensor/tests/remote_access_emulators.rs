//! The smb, rdp and vnc emulators against real clients (`smbclient` from smbclient, nmap's
//! NSE scripts, `xfreerdp` from freerdp2-x11 under `xvfb-run`) and protocol-correct clients
//! written here, on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chaff_sensor::recorder::MemoryLog;
use serde_json::Value;

mod support;
use support::{kinds, serve, wait_for, wait_for_kind};

/// Runs a client program with a time limit and no input.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Everything the server sends until it closes (a reset counts as a close).
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return received,
            Err(e) => panic!("reading: {e}"),
        }
    }
}

fn closed_by_server(log: &MemoryLog) -> Vec<Value> {
    let events = wait_for(log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(events.last().unwrap()["reason"], "closed", "{events:#?}");
    events
}

/// nmap with `args` against `addr`'s port, printing its report.
fn nmap(addr: SocketAddr, args: &[&str]) -> String {
    let port = addr.port().to_string();
    let mut all = vec!["-Pn", "-n", "-p", &port];
    all.extend_from_slice(args);
    all.push("127.0.0.1");
    let output = run("nmap", &all);
    assert!(output.status.success(), "{output:?}");
    text(&output)
}

/// Asserts the NTLM `auth` event of alice's login from smbclient or xfreerdp.
fn assert_ntlm_auth(auth: &Value, user: &str, domain: &str, workstation: &str) {
    assert_eq!(auth["username"], user, "{auth}");
    assert_eq!(auth["domain"], domain, "{auth}");
    assert_eq!(auth["workstation"], workstation, "{auth}");
    assert_eq!(auth["ntlm"], "NTLMv2", "{auth}");
    assert_eq!(auth["success"], false);
    let challenge = auth["server_challenge"].as_str().unwrap();
    let nt_response = auth["nt_response"].as_str().unwrap();
    let line = auth["netntlm"].as_str().unwrap();
    let expected = format!("{user}::{domain}:{challenge}:{}:{}", &nt_response[..32], &nt_response[32..]);
    assert_eq!(line, expected);
}

// ---- smb ----

const SMB_ENV: &[(&str, &str)] =
    &[("NODE_NAME", "fs-01"), ("SMB_HOSTNAME", "FILESRV01"), ("SMB_DOMAIN", "acme.local")];

fn smbclient_login(addr: SocketAddr, extra: &[&str]) -> Output {
    let port = addr.port().to_string();
    let mut args = vec![
        "-L",
        "//127.0.0.1",
        "-p",
        &port,
        "-U",
        "alice%Secret123",
        "-W",
        "ACME",
        "--netbiosname",
        "LAPTOP7",
    ];
    args.extend_from_slice(extra);
    run("smbclient", &args)
}

#[test]
fn smbclient_login_is_captured_as_netntlmv2_and_refused() {
    let (addr, log) = serve("smb", 445, SMB_ENV);
    let output = smbclient_login(addr, &[]);
    assert!(text(&output).contains("NT_STATUS_LOGON_FAILURE"), "{}", text(&output));
    let auth = wait_for_kind(&log, "auth");
    assert_ntlm_auth(&auth, "alice", "ACME", "LAPTOP7");
    let negotiate = wait_for_kind(&log, "negotiate");
    assert_eq!(negotiate["dialect"], "3.1.1", "{negotiate}");
}

#[test]
fn smb1_only_clients_find_nothing_to_talk_to() {
    // As on Windows with SMB1 off.
    let (addr, log) = serve("smb", 445, SMB_ENV);
    let output = smbclient_login(addr, &["--option=client min protocol=NT1", "-m", "NT1"]);
    assert!(!output.status.success());
    let negotiate = wait_for_kind(&log, "negotiate");
    assert_eq!(negotiate["smb1"], true);
    assert!(negotiate.get("dialect").is_none(), "{negotiate}");
    closed_by_server(&log);
}

/// A NetBIOS name, first-level encoded, as a session request carries it.
fn netbios_name(name: &str) -> Vec<u8> {
    let mut padded = format!("{name:<15}").into_bytes();
    padded.push(0x20);
    let mut out = vec![32];
    padded.iter().for_each(|b| out.extend_from_slice(&[b'A' + (b >> 4), b'A' + (b & 0x0f)]));
    out.push(0);
    out
}

/// A NetBIOS session packet.
fn nbss(kind: u8, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_be_bytes();
    [&[kind][..], &length[1..], payload].concat()
}

/// An SMB2 NEGOTIATE offering 2.0.2 and 2.1.
fn smb2_negotiate() -> Vec<u8> {
    let mut out = b"\xfeSMB\x40\0".to_vec();
    out.resize(64, 0);
    out.extend_from_slice(&[36, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&[0x42; 16]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&[0x02, 0x02, 0x10, 0x02]);
    out
}

#[test]
fn port_139_takes_a_session_request_then_smb2() {
    let (addr, log) = serve("smb", 139, SMB_ENV);
    let mut stream = connect(addr);
    let names = [netbios_name("*SMBSERVER"), netbios_name("LAPTOP7")].concat();
    stream.write_all(&nbss(0x81, &names)).unwrap();
    let mut answer = [0u8; 4];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(answer, [0x82, 0, 0, 0]);
    stream.write_all(&nbss(0, &smb2_negotiate())).unwrap();
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).unwrap();
    let mut reply = vec![0u8; u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply[..4], b"\xfeSMB");
    assert_eq!(&reply[68..70], [0x10, 0x02], "SMB 2.1 chosen");
    let request = wait_for_kind(&log, "session_request");
    assert_eq!(
        (request["called"].as_str(), request["calling"].as_str()),
        (Some("*SMBSERVER"), Some("LAPTOP7"))
    );
    assert_eq!(wait_for_kind(&log, "negotiate")["dialects"], serde_json::json!(["2.0.2", "2.1"]));

    // Without a session request, port 139 refuses as Windows does (what nmap -sV knows it by).
    let (addr, log) = serve("smb", 139, SMB_ENV);
    let mut stream = connect(addr);
    stream.write_all(&nbss(0, &smb2_negotiate())).unwrap();
    assert_eq!(read_to_close(&mut stream), [0x83, 0, 0, 1, 0x8f]);
    closed_by_server(&log);
}

#[test]
fn smb_garbage_and_truncated_frames_close_quietly() {
    let (addr, log) = serve("smb", 445, SMB_ENV);
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &nbss(0, b"\xfeSMB")[..],
        &nbss(0, &smb2_negotiate()[..70])[..],
        &[0, 0xff, 0xff, 0xff][..],
        &nbss(0, b"\xffSMBr\0\0\0")[..],
    ] {
        let mut stream = connect(addr);
        stream.write_all(junk).unwrap();
        read_to_close(&mut stream);
    }
    // A truncated frame leaves the server waiting for the rest until the client goes.
    let mut stream = connect(addr);
    stream.write_all(&nbss(0, &smb2_negotiate())[..20]).unwrap();
    drop(stream);
    let events =
        wait_for(&log, "six disconnects", |e| kinds(e).iter().filter(|k| **k == "disconnect").count() == 6);
    assert!(kinds(&events).contains(&"protocol_error"));
}

#[test]
fn nmap_reads_smb2_dialects_and_signing() {
    let (addr, _log) = serve("smb", 445, SMB_ENV);
    let smbport = format!("smbport={}", addr.port());
    let report = nmap(addr, &["--script", "smb-protocols,smb2-security-mode", "--script-args", &smbport]);
    assert!(report.contains("311"), "{report}");
    assert!(report.contains("Message signing enabled but not required"), "{report}");
}
