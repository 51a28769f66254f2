//! The smb, rdp and vnc emulators against real clients (`smbclient` from smbclient, nmap's
//! NSE scripts, `xfreerdp` from freerdp2-x11 under `xvfb-run`) and protocol-correct clients
//! written here, on loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Output;

use chaff_sensor::recorder::MemoryLog;
use serde_json::Value;

mod support;
use support::{
    connect, kinds, output_text as text, read_to_close, run_client, serve, wait_for, wait_for_kind,
};

/// Runs a client program for at most a minute.
fn run(program: &str, args: &[&str]) -> Output {
    run_client(program, args, &[], 60)
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

// ---- rdp ----

const RDP_ENV: &[(&str, &str)] =
    &[("NODE_NAME", "ws-01"), ("RDP_HOSTNAME", "WS-0042"), ("RDP_DOMAIN", "acme.local")];

fn rdp_env(nla: bool) -> Vec<(&'static str, &'static str)> {
    let mut env = RDP_ENV.to_vec();
    env.push(("RDP_ENABLE_NLA", if nla { "true" } else { "false" }));
    env
}

/// A TPKT holding an X.224 Connection Request with `cookie` and, when given, an RDP_NEG_REQ
/// for `requested` protocols.
fn connection_request(cookie: &str, requested: Option<u32>) -> Vec<u8> {
    let mut tpdu = vec![0xe0, 0, 0, 0, 0, 0];
    tpdu.extend_from_slice(format!("Cookie: mstshash={cookie}\r\n").as_bytes());
    if let Some(requested) = requested {
        tpdu.extend_from_slice(&[1, 0, 8, 0]);
        tpdu.extend_from_slice(&requested.to_le_bytes());
    }
    let length = (4 + 1 + tpdu.len()) as u16;
    [&[3, 0][..], &length.to_be_bytes(), &[tpdu.len() as u8], &tpdu].concat()
}

/// The Connection Confirm for `request`, read whole.
fn confirm(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    stream.write_all(request).unwrap();
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).unwrap();
    let mut rest = vec![0u8; usize::from(u16::from_be_bytes([header[2], header[3]])) - 4];
    stream.read_exact(&mut rest).unwrap();
    [&header[..], &rest].concat()
}

#[test]
fn rdp_records_the_cookie_and_answers_as_windows() {
    let (addr, log) = serve("rdp", 3389, &rdp_env(false));
    let mut stream = connect(addr);
    let answer = confirm(&mut stream, &connection_request("administrator", Some(3)));
    assert_eq!(answer, b"\x03\0\0\x13\x0e\xd0\0\0\x124\0\x03\0\x08\0\x02\0\0\0", "SSL_NOT_ALLOWED_BY_SERVER");
    let request = wait_for_kind(&log, "connection_request");
    assert_eq!(request["cookie"], "administrator");
    assert_eq!(request["requested_protocols"], serde_json::json!(["ssl", "hybrid"]));
    assert_eq!(request["failure"], "ssl_not_allowed_by_server");
    closed_by_server(&log);

    let (addr, log) = serve("rdp", 3389, &rdp_env(true));
    let mut stream = connect(addr);
    let answer = confirm(&mut stream, &connection_request("bob", Some(1)));
    assert_eq!(&answer[11..], b"\x03\0\x08\0\x05\0\0\0", "HYBRID_REQUIRED_BY_SERVER");
    assert_eq!(wait_for_kind(&log, "connection_request")["failure"], "hybrid_required_by_server");
}

/// Accepts any certificate: the decky's is self-signed, as a real RDP host's.
#[derive(Debug)]
struct AnyCertificate(rustls::crypto::WebPkiSupportedAlgorithms);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

fn tls_client(stream: TcpStream) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = AnyCertificate(provider.signature_verification_algorithms);
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("WS-0042").unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    rustls::StreamOwned::new(connection, stream)
}

/// DER: one TLV (lengths below 64 KiB).
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let length = content.len();
    let mut out = vec![tag];
    match length {
        0..0x80 => out.push(length as u8),
        0x80..0x100 => out.extend_from_slice(&[0x81, length as u8]),
        _ => out.extend_from_slice(&[0x82, (length >> 8) as u8, length as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// A CredSSP TSRequest (version 6) carrying `token`.
fn ts_request(token: &[u8]) -> Vec<u8> {
    let nego = der(0x30, &der(0x30, &der(0xa0, &der(0x04, token))));
    der(0x30, &[der(0xa0, &[2, 1, 6]), der(0xa1, &nego)].concat())
}

/// A TSRequest from the server, read whole.
fn read_ts_request(stream: &mut impl Read) -> Vec<u8> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    let length = match head[1] {
        n if n < 0x80 => usize::from(n),
        0x81 => {
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).unwrap();
            usize::from(b[0])
        }
        _ => {
            let mut b = [0u8; 2];
            stream.read_exact(&mut b).unwrap();
            usize::from(u16::from_be_bytes(b))
        }
    };
    let mut content = vec![0u8; length];
    stream.read_exact(&mut content).unwrap();
    content
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An NTLM AUTHENTICATE (Unicode) from `user` in `domain` on `workstation` with an
/// NTLMv2-shaped response.
fn ntlm_authenticate(user: &str, domain: &str, workstation: &str) -> Vec<u8> {
    let mut nt_response = vec![0x5a; 16];
    nt_response.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    nt_response.extend_from_slice(&[0x77; 28]);
    let payload = [vec![0; 24], nt_response, utf16(domain), utf16(user), utf16(workstation), vec![]];
    let mut out = b"NTLMSSP\0\x03\0\0\0".to_vec();
    let mut offset = 64;
    for part in &payload {
        out.extend_from_slice(&(part.len() as u16).to_le_bytes());
        out.extend_from_slice(&(part.len() as u16).to_le_bytes());
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        offset += part.len();
    }
    out.extend_from_slice(&0x0000_0201u32.to_le_bytes());
    payload.iter().for_each(|part| out.extend_from_slice(part));
    out
}

const NTLM_NEGOTIATE: &[u8] = b"NTLMSSP\0\x01\0\0\0\x15\x82\x88\xe2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

#[test]
fn rdp_nla_captures_the_ntlm_login_over_credssp() {
    let (addr, log) = serve("rdp", 3389, &rdp_env(true));
    let mut stream = connect(addr);
    let answer = confirm(&mut stream, &connection_request("alice", Some(0x0b)));
    assert_eq!(&answer[11..], b"\x02\x1f\x08\0\x02\0\0\0", "CredSSP selected");
    let mut tls = tls_client(stream);
    tls.write_all(&ts_request(NTLM_NEGOTIATE)).unwrap();
    let reply = read_ts_request(&mut tls);
    let at = reply.windows(9).position(|w| w == b"NTLMSSP\0\x02").expect("a challenge");
    let challenge = &reply[at..];
    let target_info = &challenge[challenge.len() - 200.min(challenge.len())..];
    assert!(target_info.windows(14).any(|w| w == utf16("WS-0042")), "the computer is named");
    tls.write_all(&ts_request(&ntlm_authenticate("alice", "ACME", "LAPTOP7"))).unwrap();
    let failure = read_ts_request(&mut tls);
    assert!(failure.ends_with(&[0xa4, 6, 2, 4, 0xc0, 0, 0, 0x6d]), "STATUS_LOGON_FAILURE: {failure:02x?}");
    let auth = wait_for_kind(&log, "auth");
    assert_ntlm_auth(&auth, "alice", "ACME", "LAPTOP7");
    assert_eq!(wait_for_kind(&log, "connection_request")["selected"], "hybrid");
}

#[test]
fn xfreerdp_nla_login_is_captured_and_refused() {
    let (addr, log) = serve("rdp", 3389, &rdp_env(true));
    let target = format!("/v:{addr}");
    let output = run(
        "xvfb-run",
        &["-a", "xfreerdp", &target, "/cert:ignore", "/u:alice", "/p:secret", "/d:ACME", "+auth-only"],
    );
    assert!(text(&output).contains("ERRCONNECT_LOGON_FAILURE"), "{}", text(&output));
    let auth = wait_for_kind(&log, "auth");
    assert_eq!((auth["username"].as_str(), auth["domain"].as_str()), (Some("alice"), Some("ACME")));
    let workstation = auth["workstation"].as_str().unwrap().to_owned();
    assert_ntlm_auth(&auth, "alice", "ACME", &workstation);
    let request = wait_for_kind(&log, "connection_request");
    assert_eq!(request["selected"], "hybrid", "{request}");
}

#[test]
fn rdp_garbage_and_truncated_frames_close_quietly() {
    for nla in [false, true] {
        let (addr, log) = serve("rdp", 3389, &rdp_env(nla));
        let whole = connection_request("x", Some(3));
        for junk in [
            &b"GET / HTTP/1.0\r\n\r\n"[..],
            &[3, 0, 0, 2][..],
            &[3, 0, 0xff, 0xff][..],
            &[3, 0, 0, 7, 2, 0xd0, 0][..],
        ] {
            let mut stream = connect(addr);
            stream.write_all(junk).unwrap();
            read_to_close(&mut stream);
        }
        let mut stream = connect(addr);
        stream.write_all(&whole[..whole.len() - 3]).unwrap();
        drop(stream);
        // NLA: a client that is not TLS after the confirm.
        let mut stream = connect(addr);
        confirm(&mut stream, &whole);
        stream.write_all(b"\x30\x84\xff\xff\xff\xffnot TLS").unwrap();
        read_to_close(&mut stream);
        wait_for(&log, "six disconnects", |e| kinds(e).iter().filter(|k| **k == "disconnect").count() == 6);
    }
}

#[test]
fn nmap_reads_the_ntlm_info_and_encryption_of_rdp() {
    let (addr, _log) = serve("rdp", 3389, &rdp_env(true));
    let report = nmap(addr, &["-sV", "--script", "rdp-ntlm-info,rdp-enum-encryption"]);
    assert!(report.contains("Microsoft Terminal Services"), "{report}");
    assert!(report.contains("DNS_Computer_Name: WS-0042.acme.local"), "{report}");
    assert!(report.contains("NetBIOS_Domain_Name: ACME"), "{report}");
    assert!(report.contains("CredSSP (NLA): SUCCESS"), "{report}");
}

// ---- vnc ----

/// An RFB client up to the security handshake: the server's version, then `version` sent.
fn rfb_start(addr: SocketAddr, version: &[u8; 12]) -> TcpStream {
    let mut stream = connect(addr);
    let mut server_version = [0u8; 12];
    stream.read_exact(&mut server_version).unwrap();
    assert_eq!(&server_version, b"RFB 003.008\n");
    stream.write_all(version).unwrap();
    stream
}

#[test]
fn vnc_auth_is_recorded_and_refused_in_each_version() {
    let response = *b"\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef";
    for (version, expected_result) in [
        (b"RFB 003.008\n", &b"\0\0\0\x01\0\0\0\x15Authentication failed"[..]),
        (b"RFB 003.007\n", &b"\0\0\0\x01"[..]),
        (b"RFB 003.003\n", &b"\0\0\0\x01"[..]),
    ] {
        let (addr, log) = serve("vnc", 5900, &[("NODE_NAME", "kiosk-01")]);
        let mut stream = rfb_start(addr, version);
        if version == b"RFB 003.003\n" {
            let mut security = [0u8; 4];
            stream.read_exact(&mut security).unwrap();
            assert_eq!(security, [0, 0, 0, 2], "the server names VNC authentication");
        } else {
            let mut types = [0u8; 2];
            stream.read_exact(&mut types).unwrap();
            assert_eq!(types, [1, 2], "VNC authentication only");
            stream.write_all(&[2]).unwrap();
        }
        let mut challenge = [0u8; 16];
        stream.read_exact(&mut challenge).unwrap();
        stream.write_all(&response).unwrap();
        assert_eq!(read_to_close(&mut stream), expected_result);
        let events = wait_for(&log, "auth", |e| kinds(e).contains(&"auth"));
        let auth = events.iter().find(|e| e["kind"] == "auth").unwrap();
        assert_eq!(auth["challenge"], challenge.iter().map(|b| format!("{b:02x}")).collect::<String>());
        assert_eq!(auth["response"], "0123456789abcdef0123456789abcdef");
        assert_eq!(auth["success"], false);
        closed_by_server(&log);
    }
}

#[test]
fn vnc_garbage_and_truncated_frames_close_quietly() {
    let (addr, log) = serve("vnc", 5900, &[]);
    let mut stream = rfb_start(addr, b"GET / HTTP/1");
    assert!(read_to_close(&mut stream).is_empty());
    let mut stream = rfb_start(addr, b"RFB 003.008\n");
    let mut types = [0u8; 2];
    stream.read_exact(&mut types).unwrap();
    stream.write_all(&[1]).unwrap();
    assert_eq!(read_to_close(&mut stream), b"\0\0\0\x01\0\0\0\x15Authentication failed", "type None refused");
    let mut stream = rfb_start(addr, b"RFB 003.008\n");
    stream.write_all(&[2, 0xaa, 0xbb]).unwrap();
    drop(stream);
    let mut stream = connect(addr);
    stream.write_all(b"RFB 0").unwrap();
    drop(stream);
    let events =
        wait_for(&log, "four disconnects", |e| kinds(e).iter().filter(|k| **k == "disconnect").count() == 4);
    assert!(!kinds(&events).contains(&"auth"));
    assert_eq!(kinds(&events).iter().filter(|k| **k == "protocol_error").count(), 2);
}

#[test]
fn nmap_knows_the_vnc_server() {
    let (addr, _log) = serve("vnc", 5900, &[]);
    let report = nmap(addr, &["-sV", "--script", "vnc-info"]);
    assert!(report.contains("VNC (protocol 3.8)"), "{report}");
    assert!(report.contains("VNC Authentication"), "{report}");
}

/// Serves smb (445, 139), rdp (3389) and vnc (5900) on 127.0.0.1 for two minutes, events on
/// stdout (`--nocapture`), while one runs `nmap -sV -Pn -p 139,445,3389,5900 127.0.0.1` or
/// the clients. Configure with the usual variables (`RDP_ENABLE_NLA=true`, ...).
#[test]
#[ignore = "binds fixed ports and waits; run by hand"]
fn serve_on_the_real_ports_for_nmap() {
    support::serve_on_real_ports(&[("smb", 445), ("smb", 139), ("rdp", 3389), ("vnc", 5900)], 120);
}
