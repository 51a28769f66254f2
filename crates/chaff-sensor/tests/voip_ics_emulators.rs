//! The VoIP and industrial emulators against real clients: sip (sipsak over UDP and TCP),
//! llmnr (dig sending LLMNR and mDNS queries), conpot (pymodbus, snmpget, curl).

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use chaff_sensor::emulators::Emulator;
use chaff_sensor::{Env, Port, Transport};
use support::{
    dig, events_of as of_kind, output_text as text, run, serve, serve_udp_service, stdout, wait_for,
    wait_for_kind,
};

fn sipsak(addr: SocketAddr, args: &[&str]) -> String {
    let uri = format!("sip:100@127.0.0.1:{}", addr.port());
    let mut all = vec!["-vv", "-s", uri.as_str()];
    all.extend_from_slice(args);
    text(&run("sipsak", &all))
}

// --- sip ---

#[test]
fn sipsak_options_over_udp_gets_the_asterisk_banner() {
    let (addr, log) = serve_udp_service("sip", 5060, &[("NODE_NAME", "pbx-01")]);
    let out = sipsak(addr, &[]);
    assert!(out.contains("SIP/2.0 200 OK"), "{out}");
    assert!(out.contains("Server: Asterisk PBX ") || out.contains("Server: FPBX-"), "{out}");
    assert!(out.contains("Allow: INVITE, ACK, CANCEL, OPTIONS, BYE"), "{out}");
    let request = wait_for_kind(&log, "request");
    assert_eq!(request["method"], "OPTIONS");
    assert_eq!(request["to_user"], "100");
    assert_eq!(request["transport"], "udp");
    assert_eq!(request["dst_port"], 5060);
    assert!(request["user_agent"].as_str().unwrap().starts_with("sipsak"), "{request}");
    assert!(request["call_id"].is_string());
}

#[test]
fn sipsak_register_is_challenged_then_forbidden_and_the_digest_recorded() {
    let (addr, log) = serve_udp_service("sip", 5060, &[("NODE_NAME", "pbx-01")]);
    let out = sipsak(addr, &["-U", "-u", "100", "-a", "hunter2", "-C", "sip:100@127.0.0.1:5999"]);
    assert!(out.contains("authorizing"), "answered the 401 challenge: {out}");
    assert!(out.contains("SIP/2.0 403 Forbidden"), "{out}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(auth["method"], "REGISTER");
    assert_eq!(auth["header"], "authorization");
    assert_eq!(auth["scheme"], "Digest");
    assert_eq!(auth["username"], "100");
    assert_eq!(auth["realm"], "asterisk");
    assert_eq!(auth["response"].as_str().unwrap().len(), 32, "an MD5 digest: {auth}");
    let requests = of_kind(&log, "request");
    assert!(requests.iter().filter(|r| r["method"] == "REGISTER").count() >= 2, "{requests:#?}");
    assert_eq!(requests[0]["from_user"], "100");
    assert_eq!(requests[0]["contact"], "sip:100@127.0.0.1:5999");
}

#[test]
fn sipsak_over_tcp_is_framed_by_content_length() {
    let (addr, log) = serve("sip", 5060, &[("NODE_NAME", "pbx-01")]);
    let out = sipsak(addr, &["-E", "tcp"]);
    assert!(out.contains("SIP/2.0 200 OK"), "{out}");
    let request = wait_for_kind(&log, "request");
    assert_eq!((request["method"].as_str(), request["transport"].as_str()), (Some("OPTIONS"), Some("tcp")));
    assert!(request["conn"].is_u64());
}

#[test]
fn an_invite_with_a_body_over_tcp_then_garbage_closes() {
    let (addr, log) = serve("sip", 5060, &[("NODE_NAME", "pbx-01")]);
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\n";
    let invite = format!(
        "\r\n\r\nINVITE sip:200@pbx SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.9;branch=z9hG4bK1\r\nFrom: <sip:100@pbx>;tag=1\r\n\
         To: <sip:200@pbx>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nUser-Agent: friendly-scanner\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    client.write_all(invite.as_bytes()).unwrap();
    let mut reply = [0u8; 2048];
    let n = client.read(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{reply}");
    assert!(
        reply.contains("WWW-Authenticate: Digest algorithm=MD5, realm=\"asterisk\", nonce=\""),
        "{reply}"
    );
    client.write_all(b"\x16\x03\x01 not sip at all\r\n\r\n").unwrap();
    let disconnect = wait_for_kind(&log, "disconnect");
    assert_eq!(disconnect["reason"], "closed");
    let request = &of_kind(&log, "request")[0];
    assert_eq!(request["method"], "INVITE");
    assert_eq!(request["to_user"], "200");
    assert_eq!(request["body_bytes"], body.len());
    assert_eq!(request["user_agent"], "friendly-scanner");
}

#[test]
fn hostile_sip_datagrams_are_survived() {
    let (addr, log) = serve_udp_service("sip", 5060, &[("NODE_NAME", "pbx-01")]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let whole =
        b"REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP x;rport\r\nAuthorization: Digest username=\"a\r\n\r\n";
    for cut in 0..whole.len() {
        client.send_to(&whole[..cut], addr).unwrap();
    }
    client.send_to(&[0xff; 1400], addr).unwrap();
    client.send_to(b"SIP/2.0 200 OK\r\n\r\n", addr).unwrap();
    client.send_to(whole, addr).unwrap();
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(auth["username"], "a", "an unterminated quote runs to the end of the head: {auth}");
    assert_eq!(of_kind(&log, "request").len(), 1, "only the whole request is one");
}

// --- llmnr ---

#[test]
fn llmnr_and_mdns_queries_are_recorded_and_never_answered() {
    let (llmnr, llmnr_log) = serve_udp_service("llmnr", 5355, &[("NODE_NAME", "dc-01")]);
    let (mdns, mdns_log) = serve_udp_service("llmnr", 5353, &[("NODE_NAME", "dc-01")]);
    let out = dig(llmnr, &["+time=1", "wpad", "A"]);
    assert!(out.contains("timed out") || out.contains("no servers could be reached"), "{out}");
    let query = wait_for_kind(&llmnr_log, "query");
    assert_eq!(query["protocol"], "llmnr");
    assert_eq!(query["dst_port"], 5355);
    assert_eq!(query["questions"], serde_json::json!([{"name": "wpad", "type": "A", "class": "IN"}]));
    assert_eq!(query["src_ip"], "127.0.0.1");

    dig(mdns, &["+time=1", "fileserver.local", "AAAA"]);
    let query = wait_for_kind(&mdns_log, "query");
    assert_eq!(query["protocol"], "mdns");
    assert_eq!(query["dst_port"], 5353);
    assert_eq!(query["questions"][0]["name"], "fileserver.local");
    assert_eq!(query["questions"][0]["type"], "AAAA");
    assert_eq!(query["questions"][0]["unicast_response"], false);
    assert_eq!(query["known_answers"], 0);
}

#[test]
fn garbage_and_responses_on_the_llmnr_ports_are_only_datagrams() {
    let (addr, log) = serve_udp_service("llmnr", 5355, &[]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let query = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04wpad\x00\x00\x01\x00\x01";
    for cut in 0..query.len() {
        client.send_to(&query[..cut], addr).unwrap();
    }
    let mut response = query.to_vec();
    response[2] = 0x80;
    client.send_to(&response, addr).unwrap();
    client
        .send_to(b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01", addr)
        .unwrap();
    client.send_to(query, addr).unwrap();
    let events = wait_for(&log, "the whole query", |e| e.iter().any(|e| e["kind"] == "query"));
    let datagrams = events.iter().filter(|e| e["kind"] == "datagram").count();
    assert_eq!(datagrams, query.len() + 3);
    assert_eq!(of_kind(&log, "query").len(), 1);
    assert!(client.recv_from(&mut [0u8; 512]).is_err(), "nothing is ever answered");
}

// --- conpot ---

/// Runs a pymodbus client script (Debian's python3-pymodbus) against `addr`.
fn pymodbus(addr: SocketAddr, script: &str) -> String {
    let program = format!(
        "from pymodbus.client import ModbusTcpClient\n\
         from pymodbus.mei_message import ReadDeviceInformationRequest\n\
         client = ModbusTcpClient('127.0.0.1', port={})\n\
         assert client.connect()\n{script}\nclient.close()\n",
        addr.port()
    );
    let output = run("/usr/bin/python3", &["-c", &program]);
    assert!(output.status.success(), "{}", text(&output));
    stdout(&output)
}

#[test]
fn pymodbus_reads_writes_and_identifies_the_plc() {
    let (addr, log) = serve("conpot", 502, &[("NODE_NAME", "plc-01"), ("CONPOT_TEMPLATE", "default")]);
    let out = pymodbus(
        addr,
        "r = client.read_holding_registers(0, 4, slave=1)\nprint('holding', r.registers)\n\
         print('write', client.write_register(7, 1234, slave=1).isError())\n\
         print('after', client.read_holding_registers(7, 1, slave=1).registers)\n\
         print('coils', client.read_coils(0, 8, slave=1).bits)\n\
         print('outside', client.read_input_registers(1000, 2, slave=1).exception_code)\n\
         info = client.execute(ReadDeviceInformationRequest(read_code=1, object_id=0, slave=1))\n\
         print('info', sorted((k, v.decode()) for k, v in info.information.items()))",
    );
    assert!(out.contains("write False"), "{out}");
    assert!(out.contains("after [1234]"), "{out}");
    assert!(out.contains("outside 2"), "illegal data address: {out}");
    assert!(out.contains("info [(0, 'Siemens'), (1, 'SIMATIC'), (2, 'S7-200')]"), "{out}");
    let first = out.lines().find(|l| l.starts_with("holding")).unwrap().to_owned();
    let again = pymodbus(addr, "print('holding', client.read_holding_registers(0, 4, slave=1).registers)");
    assert_eq!(again.trim(), first, "stable values");

    let requests = of_kind(&log, "request");
    let read = &requests[0];
    assert_eq!(
        (read["unit"].as_u64(), read["function"].as_u64(), read["function_name"].as_str()),
        (Some(1), Some(3), Some("read_holding_registers"))
    );
    assert_eq!((read["address"].as_u64(), read["quantity"].as_u64()), (Some(0), Some(4)));
    let write = &requests[1];
    assert_eq!(write["function_name"], "write_single_register");
    assert_eq!(write["values"], serde_json::json!([1234]));
    assert_eq!(requests[4]["exception"], 2);
    assert_eq!(requests[5]["function"], 43);
}

/// Sends `frame` on a fresh connection, ends the client's side, and returns what comes back
/// before the server closes.
fn exchange(addr: SocketAddr, frame: &[u8]) -> Vec<u8> {
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    client.write_all(frame).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    let _ = client.read_to_end(&mut reply);
    reply
}

#[test]
fn modbus_frames_that_are_not_modbus_get_an_exception_and_a_close() {
    let (addr, log) = serve("conpot", 502, &[("NODE_NAME", "plc-01")]);
    // nmap's GetRequest probe: the bytes of "GET / HTTP/1.0" read as an MBAP header.
    let reply = exchange(addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(reply, b"GET \x00\x03H\xd4\x01");
    // Truncated frames end with the client, without an answer.
    let frame = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2];
    for cut in 0..frame.len() {
        assert_eq!(exchange(addr, &frame[..cut]), b"", "cut at {cut}");
    }
    let reply = exchange(addr, &frame);
    assert_eq!((&reply[..9], reply.len()), (&[0, 1, 0, 0, 0, 7, 1, 3, 4][..], 13));
    let requests = wait_for(&log, "requests", |e| e.iter().filter(|e| e["kind"] == "request").count() == 2);
    let malformed = requests.iter().find(|e| e["kind"] == "request").unwrap();
    assert_eq!((malformed["malformed"].as_bool(), malformed["exception"].as_u64()), (Some(true), Some(1)));
}

#[test]
fn conpot_snmp_and_web_pose_as_the_s7_200() {
    let (snmp, snmp_log) = serve_udp_service("conpot", 161, &[("NODE_NAME", "plc-01")]);
    let port = format!("udp:127.0.0.1:{}", snmp.port());
    let out =
        text(&run("snmpget", &["-v2c", "-c", "public", "-t", "2", "-r", "1", &port, "1.3.6.1.2.1.1.1.0"]));
    assert!(out.contains("STRING: \"Siemens, SIMATIC, S7-200\""), "{out}");
    assert_eq!(wait_for_kind(&snmp_log, "request")["service"], "conpot");

    let (web, web_log) = serve("conpot", 80, &[("NODE_NAME", "plc-01")]);
    let url = format!("http://127.0.0.1:{}/", web.port());
    let out = text(&run("curl", &["-si", "--max-time", "5", &url]));
    assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
    assert!(out.contains("Server: Boa/"), "{out}");
    assert!(out.contains("<TITLE>Overview - Siemens, SIMATIC, S7-200</TITLE>"), "{out}");
    assert!(out.contains("<h2>plc-01</h2>"), "{out}");
    assert_eq!(wait_for_kind(&web_log, "request")["path"], "/");
}

#[test]
fn an_unknown_conpot_template_names_its_variable() {
    let env = Env::from_pairs([("CONPOT_TEMPLATE", "guardian_ast")]);
    for port in
        [Port { number: 502, transport: Transport::Tcp }, Port { number: 161, transport: Transport::Udp }]
    {
        let error = Emulator::for_port("conpot", port, &env).err().unwrap();
        assert_eq!(error.var, "CONPOT_TEMPLATE");
    }
}

/// For identifying the services by hand: serves sip on 127.0.0.1:5060 (udp and tcp), llmnr on
/// 5355/udp and 5353/udp, and conpot on 502/tcp, 161/udp and 80/tcp for two minutes, events on
/// stdout (`--nocapture`), while one runs `nmap -sU -sV -p 5060,5353,5355,161 127.0.0.1`,
/// `nmap -sV --script sip-methods,modbus-discover -p 502,5060 127.0.0.1` (as root).
#[test]
#[ignore = "binds fixed privileged ports and waits; run by hand"]
fn serve_on_the_real_ports_for_nmap() {
    let tcp = |number| Port { number, transport: Transport::Tcp };
    let udp = |number| Port { number, transport: Transport::Udp };
    support::serve_on_real_ports_of(
        &[
            ("sip", udp(5060)),
            ("sip", tcp(5060)),
            ("llmnr", udp(5355)),
            ("llmnr", udp(5353)),
            ("conpot", tcp(502)),
            ("conpot", udp(161)),
            ("conpot", tcp(80)),
        ],
        120,
    );
}
