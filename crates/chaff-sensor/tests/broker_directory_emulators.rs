//! The mqtt, ldap and mongodb emulators against real clients on loopback: Mosquitto's
//! `mosquitto_pub` / `mosquitto_sub`, OpenLDAP's `ldapsearch` / `ldapwhoami`, PyMongo
//! under Debian's `/usr/bin/python3`; and raw sockets sending what no client would.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::Output;

use chaff_sensor::recorder::MemoryLog;
use serde_json::Value;

mod support;
use support::{connect, events_of, kinds, run, run_client, serve, stderr, stdout, wait_for, wait_for_kind};

/// Sends `bytes` on a fresh connection, then reads until the server closes (at most 10 s).
fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr);
    // The server may have hung up already: what it answered is what counts.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    received
}

/// Waits until every connection so far has its `disconnect`.
fn wait_all_closed(log: &MemoryLog) -> Vec<Value> {
    wait_for(log, "every disconnect", |e| {
        let count = |kind: &str| e.iter().filter(|e| e["kind"] == kind).count();
        count("connect") > 0 && count("connect") == count("disconnect")
    })
}

// ---- mqtt ----

fn mosquitto(program: &str, addr: SocketAddr, args: &[&str]) -> Output {
    let port = addr.port().to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    run(program, &all)
}

#[test]
fn mosquitto_pub_is_recorded_with_its_credentials_and_payload() {
    let (addr, log) = serve("mqtt", 1883, &[("NODE_NAME", "iot-01")]);
    let args =
        ["-i", "plc-gw", "-u", "admin", "-P", "S3cret pw", "-t", "cmd/valve/7", "-m", "OPEN", "-q", "1"];
    let output = mosquitto("mosquitto_pub", addr, &args);
    assert!(output.status.success(), "{output:?}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!(
        (&auth["client_id"], &auth["username"], &auth["password"]),
        (&Value::from("plc-gw"), &Value::from("admin"), &Value::from("S3cret pw"))
    );
    assert_eq!((auth["protocol_level"].as_u64(), auth["success"].as_bool()), (Some(4), Some(true)));
    let publish = wait_for_kind(&log, "publish");
    assert_eq!((publish["topic"].as_str(), publish["payload"].as_str()), (Some("cmd/valve/7"), Some("OPEN")));
    assert_eq!((publish["qos"].as_u64(), publish["payload_bytes"].as_u64()), (Some(1), Some(4)));
    let events = wait_all_closed(&log);
    assert_eq!(events.last().unwrap()["reason"], "closed", "the client said DISCONNECT");
}

#[test]
fn mosquitto_sub_receives_the_persona_and_sys_topics() {
    let (addr, log) = serve("mqtt", 1883, &[("NODE_NAME", "iot-01"), ("MQTT_PERSONA", "water_plant")]);
    for version in ["mqttv311", "mqttv5", "mqttv31"] {
        let output = mosquitto("mosquitto_sub", addr, &["-V", version, "-t", "plant/#", "-v", "-C", "3"]);
        assert!(output.status.success(), "{version}: {output:?}");
        let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 3, "{version}: {lines:?}");
        assert!(lines.iter().all(|l| l.starts_with("plant/")), "{version}: {lines:?}");
    }
    let output = mosquitto("mosquitto_sub", addr, &["-t", "$SYS/broker/version", "-C", "1"]);
    assert!(
        stdout(&output).starts_with("mosquitto version 2.0.")
            || stdout(&output).starts_with("mosquitto version 1.6.")
    );
    let subscribe = wait_for_kind(&log, "subscribe");
    assert_eq!(subscribe["filters"], serde_json::json!([{"filter": "plant/#", "qos": 0}]));
}

#[test]
fn qos2_publishes_complete_and_a_client_receives_its_own_publishes() {
    let (addr, log) = serve("mqtt", 1883, &[]);
    let output = mosquitto("mosquitto_pub", addr, &["-t", "lab/x/cmd", "-m", "hello", "-q", "2"]);
    assert!(output.status.success(), "PUBREC, PUBREL, PUBCOMP: {output:?}");
    assert_eq!(wait_for_kind(&log, "publish")["qos"], 2);

    // Nothing is shared between connections, but a client's subscriptions see its own
    // publishes.
    let mut stream = connect(addr);
    let connect = b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02me";
    let subscribe = b"\x82\x09\x00\x01\x00\x04own/\x00";
    let publish = b"\x30\x08\x00\x04own/hi";
    for packet in [&connect[..], subscribe, publish] {
        stream.write_all(packet).unwrap();
    }
    let mut replies = [0u8; 4 + 5 + 10];
    stream.read_exact(&mut replies).unwrap();
    assert_eq!(&replies[..4], b"\x20\x02\x00\x00");
    assert_eq!(&replies[4..9], b"\x90\x03\x00\x01\x00");
    assert_eq!(&replies[9..], b"\x30\x08\x00\x04own/hi");
}

#[test]
fn mqtt_creds_refuse_other_logins() {
    let (addr, log) = serve("mqtt", 1883, &[("MQTT_CREDS", "scada:Pl4nt!")]);
    let output = mosquitto("mosquitto_pub", addr, &["-u", "scada", "-P", "guess", "-t", "t", "-m", "x"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("not authorised"), "{output:?}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!((auth["password"].as_str(), auth["success"].as_bool()), (Some("guess"), Some(false)));
    let output = mosquitto("mosquitto_pub", addr, &["-u", "scada", "-P", "Pl4nt!", "-t", "t", "-m", "x"]);
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn mqtt_survives_garbage_and_truncated_packets() {
    let (addr, log) = serve("mqtt", 1883, &[]);
    let connect = b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02me".to_vec();
    let mut cases: Vec<Vec<u8>> = (1..connect.len()).map(|cut| connect[..cut].to_vec()).collect();
    cases.push(b"GET / HTTP/1.1\r\n\r\n".to_vec());
    cases.push(b"\x10\xff\xff\xff\xff\x7f".to_vec());
    cases.push(b"\x10\x02\x00\x09".to_vec());
    let mut after_connect = connect.clone();
    after_connect.extend_from_slice(b"\x82\x02\x00\x01\x36\x00\x30\x05\x00\x09ab");
    cases.push(after_connect);
    for case in &cases {
        send_raw(addr, case);
    }
    let events = wait_all_closed(&log);
    assert!(events_of(&log, "protocol_error").len() >= 3, "{:?}", kinds(&events));
    // The broker still serves.
    assert_eq!(send_raw(addr, &[connect, b"\xe0\x00".to_vec()].concat()), b"\x20\x02\x00\x00");
}

/// nmap's MQTT probe is answered with a CONNACK.
#[test]
fn nmap_mqtt_probe_gets_a_connack() {
    let (addr, _log) = serve("mqtt", 1883, &[]);
    let mut stream = connect(addr);
    stream.write_all(b"\x10\x10\x00\x04MQTT\x04\x02\x00\x1e\x00\x04nmap").unwrap();
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply, *b"\x20\x02\x00\x00");
}

// ---- ldap ----

/// Runs an OpenLDAP client against `url` with `args`; certificates are not checked.
fn ldap_tool(program: &str, url: &str, args: &[&str]) -> Output {
    let mut all = vec!["-H", url];
    all.extend_from_slice(args);
    run_client(program, &all, &[("LDAPTLS_REQCERT", "never")], 20)
}

fn ldap_url(scheme: &str, addr: SocketAddr) -> String {
    format!("{scheme}://127.0.0.1:{}", addr.port())
}

#[test]
fn ldapsearch_reads_the_openldap_root_dse() {
    let (addr, log) = serve("ldap", 389, &[("NODE_NAME", "dir-01"), ("LDAP_DOMAIN", "corp.local")]);
    let url = ldap_url("ldap", addr);
    let output = ldap_tool("ldapsearch", &url, &["-x", "-LLL", "-s", "base", "-b", ""]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "dn:\nobjectClass: top\nobjectClass: OpenLDAProotDSE\n\n");
    let output = ldap_tool("ldapsearch", &url, &["-x", "-LLL", "-s", "base", "-b", "", "+"]);
    let text = stdout(&output);
    assert!(text.contains("namingContexts: dc=corp,dc=local\n"), "{text}");
    assert!(text.contains("supportedLDAPVersion: 3\n"), "{text}");
    let search = wait_for_kind(&log, "search");
    assert_eq!((search["base"].as_str(), search["scope"].as_str()), (Some(""), Some("base")));
    assert_eq!(search["filter"], "(objectclass=*)", "as ldapsearch sends it");
}

#[test]
fn ldap_binds_are_recorded_and_refused() {
    let (addr, log) = serve("ldap", 389, &[("LDAP_DOMAIN", "corp.local")]);
    let url = ldap_url("ldap", addr);
    let dn = "cn=admin,dc=corp,dc=local";
    let output = ldap_tool("ldapwhoami", &url, &["-x", "-D", dn, "-w", "S3cret! pw"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("Invalid credentials (49)"), "{output:?}");
    let bind = wait_for_kind(&log, "bind");
    assert_eq!((bind["dn"].as_str(), bind["password"].as_str()), (Some(dn), Some("S3cret! pw")));
    assert_eq!(
        (bind["method"].as_str(), bind["result"].as_u64(), bind["success"].as_bool()),
        (Some("simple"), Some(49), Some(false))
    );

    let output = ldap_tool("ldapwhoami", &url, &["-x"]);
    assert_eq!(stdout(&output), "anonymous\n", "{output:?}");

    let filter = "(&(objectClass=person)(uid=adm*))";
    let output =
        ldap_tool("ldapsearch", &url, &["-x", "-b", "ou=People,dc=corp,dc=local", filter, "cn", "mail"]);
    assert!(output.status.success(), "{output:?}");
    let output = ldap_tool("ldapsearch", &url, &["-x", "-b", "dc=other", "(uid=root)"]);
    assert!(stdout(&output).contains("result: 32 No such object"), "{output:?}");
    let events = wait_for(&log, "both searches", |e| e.iter().filter(|e| e["kind"] == "search").count() == 2);
    let search = events.iter().find(|e| e["kind"] == "search").unwrap();
    assert_eq!(search["filter"], filter);
    assert_eq!(search["attributes"], serde_json::json!(["cn", "mail"]));
    assert_eq!(search["scope"], "sub");
}

#[test]
fn ldaps_and_starttls_serve_the_same_directory() {
    let env = [("NODE_NAME", "dir-01"), ("LDAP_DOMAIN", "corp.local")];
    let (tls_addr, tls_log) = serve("ldap", 636, &env);
    let output = ldap_tool(
        "ldapsearch",
        &ldap_url("ldaps", tls_addr),
        &["-x", "-LLL", "-s", "base", "-b", "", "namingContexts"],
    );
    assert_eq!(stdout(&output), "dn:\nnamingContexts: dc=corp,dc=local\n\n", "{output:?}");
    let output = ldap_tool("ldapwhoami", &ldap_url("ldaps", tls_addr), &["-x", "-D", "uid=svc", "-w", "pw"]);
    assert!(stderr(&output).contains("Invalid credentials (49)"), "{output:?}");
    wait_for(&tls_log, "the bind over TLS", |e| {
        e.iter().any(|e| e["kind"] == "bind" && e["dn"] == "uid=svc")
    });

    let (addr, log) = serve("ldap", 389, &env);
    let output = ldap_tool("ldapwhoami", &ldap_url("ldap", addr), &["-ZZ", "-x"]);
    assert_eq!(stdout(&output), "anonymous\n", "{output:?}");
    let request = wait_for_kind(&log, "request");
    assert_eq!(
        (request["operation"].as_str(), request["oid"].as_str()),
        (Some("extended"), Some("1.3.6.1.4.1.1466.20037"))
    );
}

#[test]
fn windows_deckies_are_active_directory() {
    let env = [("NODE_NAME", "dc01"), ("LDAP_DOMAIN", "corp.local"), ("LDAP_OS_FAMILY", "windows")];
    let (addr, log) = serve("ldap", 389, &env);
    let url = ldap_url("ldap", addr);
    let output = ldap_tool("ldapsearch", &url, &["-x", "-LLL", "-s", "base", "-b", ""]);
    let text = stdout(&output);
    assert!(text.contains("defaultNamingContext: DC=corp,DC=local\n"), "{text}");
    assert!(text.contains("dnsHostName: dc01.corp.local\n"), "{text}");
    let output = ldap_tool(
        "ldapsearch",
        &url,
        &["-x", "-o", "ldif-wrap=no", "-b", "DC=corp,DC=local", "(sAMAccountName=*)"],
    );
    assert!(stdout(&output).contains("In order to perform this operation a successful bind"), "{output:?}");
    let output = ldap_tool("ldapwhoami", &url, &["-x", "-D", "CORP\\Administrator", "-w", "Winter2024!"]);
    assert!(stderr(&output).contains("data 52e"), "{output:?}");
    let events = wait_for(&log, "the bind", |e| e.iter().any(|e| e["kind"] == "bind" && e["password"] != ""));
    let bind = events.iter().find(|e| e["kind"] == "bind" && e["password"] != "").unwrap();
    assert_eq!(
        (bind["dn"].as_str(), bind["password"].as_str()),
        (Some("CORP\\Administrator"), Some("Winter2024!"))
    );
}

#[test]
fn ldap_survives_garbage_and_truncated_messages() {
    let (addr, log) = serve("ldap", 389, &[]);
    let bind = b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\0\x80\0".to_vec();
    let mut cases: Vec<Vec<u8>> = (1..bind.len()).map(|cut| bind[..cut].to_vec()).collect();
    cases.push(b"GET / HTTP/1.1\r\n\r\n".to_vec());
    cases.push(b"\x30\x84\x7f\xff\xff\xff".to_vec());
    cases.push(b"\x30\x80\x00\x00".to_vec());
    cases.push(b"\x30\x05\x02\x01\x01\x7f\x00".to_vec());
    cases.push(b"\x30\x07\x02\x01\x01\x60\x02\x02\x05".to_vec());
    for case in &cases {
        send_raw(addr, case);
    }
    let events = wait_all_closed(&log);
    assert!(events_of(&log, "protocol_error").len() >= 4, "{:?}", kinds(&events));
    // Still serving: an anonymous bind succeeds.
    assert_eq!(&send_raw(addr, &bind)[..], b"0\x84\0\0\0\x10\x02\x01\x01a\x84\0\0\0\x07\n\x01\0\x04\0\x04\0");
}

// ---- mongodb ----

/// PyMongo (Debian's python3-pymongo) reads the server's build info and databases, then
/// tries to log in as `admin` with `mechanism`.
const PYMONGO_CLIENT: &str = r#"
import sys, pymongo
port, mechanism = int(sys.argv[1]), sys.argv[2]
client = pymongo.MongoClient("127.0.0.1", port, serverSelectionTimeoutMS=5000)
print(client.server_info()["version"])
print(",".join(client.list_database_names()))
login = pymongo.MongoClient("127.0.0.1", port, username="admin", password="Hunter2!",
                            authSource="admin", authMechanism=mechanism, serverSelectionTimeoutMS=5000)
try:
    login.admin.command("ping")
    print("logged in")
except pymongo.errors.OperationFailure as e:
    print("refused", e.code, e.details.get("errmsg"))
"#;

fn pymongo(addr: SocketAddr, mechanism: &str) -> Output {
    let port = addr.port().to_string();
    run("/usr/bin/python3", &["-c", PYMONGO_CLIENT, &port, mechanism])
}

#[test]
fn pymongo_reads_the_server_and_its_scram_login_is_recorded() {
    let env = [("NODE_NAME", "db-02"), ("MONGO_VERSION", "7.0.14")];
    let (addr, log) = serve("mongodb", 27017, &env);
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1"] {
        let output = pymongo(addr, mechanism);
        let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 3, "{output:?}");
        assert_eq!(lines[0], "7.0.14");
        assert!(lines[1].starts_with("admin,config,") && lines[1].ends_with(",local"), "{lines:?}");
        assert_eq!(lines[2], "refused 18 Authentication failed.");
    }
    let events = wait_for(&log, "two logins", |e| e.iter().filter(|e| e["kind"] == "auth").count() == 2);
    let starts: Vec<&Value> = events.iter().filter(|e| e["kind"] == "auth_start").collect();
    assert_eq!(
        (starts[0]["username"].as_str(), starts[0]["mechanism"].as_str()),
        (Some("admin"), Some("SCRAM-SHA-256"))
    );
    let auth = events.iter().find(|e| e["kind"] == "auth").unwrap();
    assert_eq!((auth["username"].as_str(), auth["database"].as_str()), (Some("admin"), Some("admin")));
    assert_eq!((auth["iterations"].as_u64(), auth["success"].as_bool()), (Some(15_000), Some(false)));
    assert!(auth["client_proof"].as_str().is_some_and(|p| p.len() == 44), "{auth}");
    assert!(auth["auth_message"].as_str().unwrap().starts_with("n=admin,r="), "{auth}");
    let commands: Vec<&str> =
        events.iter().filter(|e| e["kind"] == "command").map(|e| e["command"].as_str().unwrap()).collect();
    // PyMongo starts the login inside the handshake (speculativeAuthenticate): no saslStart.
    for expected in ["isMaster", "buildinfo", "listDatabases", "saslContinue"] {
        assert!(commands.iter().any(|c| c.eq_ignore_ascii_case(expected)), "{expected} in {commands:?}");
    }
}

#[test]
fn pymongo_plain_login_records_the_password_and_replica_sets_answer_as_primary() {
    let (addr, log) = serve("mongodb", 27017, &[("MONGO_VERSION", "6.0.16"), ("MONGO_REPL_SET", "rs0")]);
    let output = pymongo(addr, "PLAIN");
    assert!(stdout(&output).ends_with("refused 18 Authentication failed.\n"), "{output:?}");
    let events = wait_for(&log, "the login", |e| e.iter().any(|e| e["kind"] == "auth"));
    let auth = events.iter().find(|e| e["kind"] == "auth").unwrap();
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("admin"), Some("Hunter2!")));
}

/// A legacy OP_QUERY on `test.$cmd`, as nmap's MongoDB probe sends it.
fn op_query(command: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(b"test.$cmd\0");
    body.extend_from_slice(&0i32.to_le_bytes());
    body.extend_from_slice(&(-1i32).to_le_bytes());
    body.extend_from_slice(command);
    let mut message = ((16 + body.len()) as i32).to_le_bytes().to_vec();
    message.extend_from_slice(&[0x3a, 0x30, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xd4, 0x07, 0, 0]);
    message.extend(body);
    message
}

#[test]
fn legacy_op_query_is_served_until_5_1() {
    let server_status = b"\x1b\0\0\0\x01serverStatus\0\0\0\0\0\0\0\xf0\x3f\0";
    let stream_for = |version: &str| {
        let (addr, _log) = serve("mongodb", 27017, &[("MONGO_VERSION", version)]);
        let mut stream = connect(addr);
        stream.write_all(&op_query(server_status)).unwrap();
        let mut length = [0u8; 4];
        stream.read_exact(&mut length).unwrap();
        let mut reply = vec![0u8; i32::from_le_bytes(length) as usize - 4];
        stream.read_exact(&mut reply).unwrap();
        String::from_utf8_lossy(&reply).into_owned()
    };
    let old = stream_for("5.0.26");
    assert!(old.contains("version\0\x07\0\0\x005.0.26\0"), "{old:?}");
    let new = stream_for("7.0.14");
    assert!(new.contains("Unsupported OP_QUERY command: serverStatus"), "{new:?}");
}

#[test]
fn mongodb_survives_garbage_and_answers_http() {
    let (addr, log) = serve("mongodb", 27017, &[]);
    let reply = send_raw(addr, b"GET / HTTP/1.0\r\n\r\n");
    assert!(String::from_utf8_lossy(&reply).contains("trying to access MongoDB over HTTP"));
    let hello = op_query(b"\x13\0\0\0\x10isMaster\0\x01\0\0\0\0");
    let mut cases: Vec<Vec<u8>> = (1..hello.len()).map(|cut| hello[..cut].to_vec()).collect();
    cases.push(b"\xff\xff\xff\x7f".to_vec());
    cases.push(b"\x10\0\0\0\x01\0\0\0\0\0\0\0\xdd\x07\0\0".to_vec());
    let mut bad_document = hello.clone();
    let at = bad_document.len() - 10;
    bad_document[at] = 0x99;
    cases.push(bad_document);
    for case in &cases {
        send_raw(addr, case);
    }
    let events = wait_all_closed(&log);
    assert!(events_of(&log, "protocol_error").len() >= 3, "{:?}", kinds(&events));
    let reply = send_raw(addr, &hello);
    assert!(String::from_utf8_lossy(&reply).contains("maxWireVersion"), "still serving");
}

/// For identifying the services by hand: serves mqtt on 127.0.0.1:1883, ldap on 389 and
/// 636, mongodb on 27017 for two minutes, events on stdout (`--nocapture`), while one runs
/// `nmap -sV -Pn -p 1883,389,636,27017 127.0.0.1`. Configure with the usual variables.
#[test]
#[ignore = "binds fixed ports and waits; run by hand"]
fn serve_on_the_real_ports_for_nmap() {
    support::serve_on_real_ports(&[("mqtt", 1883), ("ldap", 389), ("ldap", 636), ("mongodb", 27017)], 120);
}
