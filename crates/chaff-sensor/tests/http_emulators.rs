//! The `http` and `https` emulators against real clients: curl (HTTP/1.1, HTTP/2 with prior
//! knowledge and by ALPN, TLS with certificate checks) and raw sockets for hostile input.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chaff_sensor::emulators::Emulator;
use chaff_sensor::recorder::MemoryLog;
use chaff_sensor::{Env, Port, Transport};
use serde_json::Value;

mod support;
use support::{events, kinds, wait_for};

/// What curl printed: the response head(s) and body on stdout (`-i`), the verbose log on
/// stderr.
struct Curl {
    stdout: String,
    stderr: String,
    success: bool,
}

impl Curl {
    /// The status line of the last response (`HTTP/1.1 200 OK`, `HTTP/2 401`).
    fn status_line(&self) -> &str {
        self.stdout.lines().rfind(|l| l.starts_with("HTTP/")).unwrap_or_default().trim_end()
    }

    /// The value of header `name` in the response (case-insensitive name).
    fn header(&self, name: &str) -> Option<&str> {
        self.stdout.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn body(&self) -> &str {
        self.stdout.split_once("\r\n\r\n").map_or("", |(_, body)| body)
    }
}

/// Runs curl with `args` (it never waits more than 10 s).
fn curl(args: &[&str]) -> Curl {
    let Output { status, stdout, stderr } = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--noproxy", "*"])
        .args(args)
        .output()
        .expect("curl is installed");
    Curl {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        success: status.success(),
    }
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// `https://<name>:<port><path>` and the `--resolve` that sends `name` to the loopback port.
fn https(name: &str, addr: SocketAddr, path: &str) -> (String, String) {
    (format!("https://{name}:{}{path}", addr.port()), format!("{name}:{}:127.0.0.1", addr.port()))
}

/// Waits for the `n`-th event of `kind` (1-based).
fn nth(log: &MemoryLog, kind: &str, n: usize) -> Value {
    let events = wait_for(log, kind, |e| e.iter().filter(|e| e["kind"] == kind).count() >= n);
    events.into_iter().filter(|e| e["kind"] == kind).nth(n - 1).unwrap()
}

fn auth_events(log: &MemoryLog) -> Vec<Value> {
    events(log).into_iter().filter(|e| e["kind"] == "auth").collect()
}

/// The emulator's configuration error for `env`.
fn config_error(slug: &str, port: u16, env: &[(&str, &str)]) -> chaff_sensor::ConfigError {
    let env = Env::from_pairs(env.iter().copied());
    match Emulator::for_port(slug, Port { number: port, transport: Transport::Tcp }, &env) {
        Ok(_) => panic!("{env:?} was accepted"),
        Err(e) => e,
    }
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("chaff-http-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn default_page_has_the_configured_status_server_headers_and_body() {
    let (addr, log) = support::serve(
        "http",
        80,
        &[
            ("NODE_NAME", "web-01"),
            ("SERVER_HEADER", "Apache/2.4.57 (Debian)"),
            ("RESPONSE_CODE", "403"),
            ("EXTRA_HEADERS", r#"{"X-Powered-By": "PHP/8.2.7", "X-Backend": "app-3"}"#),
            ("CUSTOM_BODY", "<h1>Staff only</h1>"),
        ],
    );
    let reply = curl(&["-A", "Mozilla/5.0 (probe)", &url(addr, "/?q=1")]);
    assert!(reply.success, "{}", reply.stderr);
    assert_eq!(reply.status_line(), "HTTP/1.1 403 Forbidden");
    assert_eq!(reply.header("Server"), Some("Apache/2.4.57 (Debian)"));
    assert_eq!(reply.header("X-Powered-By"), Some("PHP/8.2.7"));
    assert_eq!(reply.header("X-Backend"), Some("app-3"));
    assert_eq!(reply.header("Content-Type"), Some("text/html"));
    assert!(reply.header("Date").unwrap().ends_with(" GMT"));
    assert_eq!(reply.body(), "<h1>Staff only</h1>");
    // Real servers write header names in title case.
    assert!(reply.stdout.contains("\r\nServer: Apache/2.4.57 (Debian)\r\n"), "{}", reply.stdout);

    let request = nth(&log, "request", 1);
    assert_eq!(request["method"], "GET");
    assert_eq!(request["path"], "/?q=1");
    assert_eq!(request["version"], "HTTP/1.1");
    assert_eq!(request["host"], addr.to_string());
    assert_eq!(request["user_agent"], "Mozilla/5.0 (probe)");
    assert_eq!(request["status"], 403);
    assert_eq!(request["tls"], false);
    assert_eq!(request["body_size"], 0);
    assert!(request["headers"].as_array().unwrap().contains(&serde_json::json!(["accept", "*/*"])));
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(kinds(&events), ["listening", "connect", "request", "disconnect"]);
    assert_eq!(events[3]["reason"], "eof");
}

#[test]
fn stock_pages_follow_the_server_and_distribution() {
    let (addr, _log) = support::serve("http", 80, &[("NODE_NAME", "web-02"), ("HTTP_DISTRO", "rocky9")]);
    let reply = curl(&[&url(addr, "/")]);
    assert_eq!(reply.status_line(), "HTTP/1.1 200 OK");
    let server = reply.header("Server").unwrap();
    assert!(["Apache/2.4.57 (Rocky Linux)", "nginx/1.20.1"].contains(&server), "{server}");
    let title = if server.starts_with("Apache") { "powered by: Rocky Linux" } else { "Welcome to nginx!" };
    assert!(reply.body().contains(title), "{}", reply.body());
    assert!(reply.header("Last-Modified").is_some() && reply.header("ETag").is_some());

    // Another path: the server's own 404 page, signed with its banner.
    let missing = curl(&[&url(addr, "/backup.zip")]);
    assert_eq!(missing.status_line(), "HTTP/1.1 404 Not Found");
    assert!(missing.body().contains(server.split(' ').next().unwrap()), "{}", missing.body());

    // HEAD: the same head, no body.
    let head = curl(&["-I", &url(addr, "/")]);
    assert_eq!(head.status_line(), "HTTP/1.1 200 OK");
    assert_eq!(head.header("Content-Length"), reply.header("Content-Length"));
    assert_eq!(head.body(), "");
}

#[test]
fn debian_apache_default_page_and_header_lines() {
    let (addr, _log) = support::serve(
        "http",
        80,
        &[
            ("NODE_NAME", "web-03"),
            ("SERVER_HEADER", "Apache/2.4.57 (Debian)"),
            ("EXTRA_HEADERS", "X-Frame-Options: SAMEORIGIN\nSet-Cookie: sid=1; Path=/"),
        ],
    );
    let reply = curl(&[&url(addr, "/")]);
    assert_eq!(reply.status_line(), "HTTP/1.1 200 OK");
    assert!(reply.body().contains("<title>Apache2 Debian Default Page: It works</title>"));
    assert_eq!(reply.header("X-Frame-Options"), Some("SAMEORIGIN"));
    assert_eq!(reply.header("Set-Cookie"), Some("sid=1; Path=/"));
    let options = curl(&["-X", "OPTIONS", &url(addr, "/")]);
    assert_eq!(options.header("Allow"), Some("GET,POST,OPTIONS,HEAD"));
}

#[test]
fn wordpress_login_is_recorded() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "blog-01"), ("FAKE_APP", "wordpress")]);
    let page = curl(&[&url(addr, "/wp-login.php")]);
    assert_eq!(page.status_line(), "HTTP/1.1 200 OK");
    assert!(page.body().contains("name=\"log\"") && page.body().contains("name=\"pwd\""));
    assert!(page.header("Set-Cookie").unwrap().starts_with("wordpress_test_cookie="));

    let admin = curl(&[&url(addr, "/wp-admin/")]);
    assert_eq!(admin.status_line(), "HTTP/1.1 302 Found");
    let port = addr.port();
    let expected = format!(
        "http://{addr}/wp-login.php?redirect_to=http%3A%2F%2F127.0.0.1%3A{port}%2Fwp-admin%2F&reauth=1"
    );
    assert_eq!(admin.header("Location"), Some(expected.as_str()));

    let form = "log=editor&pwd=Summer2024%21&wp-submit=Log+In&testcookie=1";
    let login = curl(&["--data", form, &url(addr, "/wp-login.php")]);
    assert_eq!(login.status_line(), "HTTP/1.1 200 OK");
    assert!(
        login
            .body()
            .contains("The password you entered for the username <strong>editor</strong> is incorrect")
    );

    let auth = nth(&log, "auth", 1);
    assert_eq!(auth["username"], "editor");
    assert_eq!(auth["password"], "Summer2024!");
    assert_eq!(auth["method"], "form");
    assert_eq!(auth["success"], false);
    assert_eq!(auth["app"], "wordpress");
    assert_eq!(auth["path"], "/wp-login.php");
    let request = nth(&log, "request", 3);
    assert_eq!(request["method"], "POST");
    assert_eq!(request["body"], form);
    assert_eq!(request["body_size"], form.len());
    assert_eq!(request["conn"], auth["conn"]);
}

#[test]
fn wordpress_xmlrpc_multicall_logins_are_recorded() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "blog-02"), ("FAKE_APP", "wordpress")]);
    let call = |user: &str, pass: &str| {
        format!(
            "<value><struct><member><name>methodName</name><value><string>wp.getUsersBlogs</string></value>\
             </member><member><name>params</name><value><array><data><value><string>{user}</string></value>\
             <value><string>{pass}</string></value></data></array></value></member></struct></value>"
        )
    };
    let body = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>system.multicall</methodName><params><param><value>\
         <array><data>{}{}</data></array></value></param></params></methodCall>",
        call("admin", "123456"),
        call("admin", "qwerty")
    );
    let reply = curl(&["-H", "Content-Type: text/xml", "--data-binary", &body, &url(addr, "/xmlrpc.php")]);
    assert_eq!(reply.status_line(), "HTTP/1.1 200 OK");
    assert_eq!(reply.body().matches("Incorrect username or password.").count(), 2);
    nth(&log, "auth", 2);
    let attempts: Vec<(Value, Value)> =
        auth_events(&log).into_iter().map(|a| (a["username"].clone(), a["password"].clone())).collect();
    assert_eq!(attempts, [("admin".into(), "123456".into()), ("admin".into(), "qwerty".into())]);
    assert!(auth_events(&log).iter().all(|a| a["method"] == "xmlrpc" && a["app"] == "wordpress"));
}

#[test]
fn phpmyadmin_login_is_recorded() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "db-01"), ("FAKE_APP", "phpmyadmin")]);
    for path in ["/", "/index.php", "/phpmyadmin/"] {
        let page = curl(&[&url(addr, path)]);
        assert_eq!(page.status_line(), "HTTP/1.1 200 OK", "{path}");
        assert!(page.body().contains("<title>phpMyAdmin</title>") && page.body().contains("pma_username"));
    }
    let login = curl(&[
        "--data-urlencode",
        "pma_username=root",
        "--data-urlencode",
        "pma_password=p@ss word&more",
        "--data",
        "server=1&route=/&token=abc",
        &url(addr, "/index.php?route=/"),
    ]);
    assert!(login.body().contains("Access denied for user &#039;root&#039;@&#039;localhost&#039;"));
    let auth = nth(&log, "auth", 1);
    assert_eq!(
        (auth["username"].as_str(), auth["password"].as_str()),
        (Some("root"), Some("p@ss word&more"))
    );
    assert_eq!(auth["app"], "phpmyadmin");
    assert_eq!(auth["path"], "/index.php");
}

#[test]
fn tomcat_manager_basic_auth_is_recorded() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "app-01"), ("FAKE_APP", "tomcat")]);
    let home = curl(&[&url(addr, "/")]);
    assert_eq!(home.status_line(), "HTTP/1.1 200");
    assert!(home.body().contains("<title>Apache Tomcat/"));
    assert_eq!(home.header("Server"), None);

    let challenge = curl(&[&url(addr, "/manager/html")]);
    assert_eq!(challenge.status_line(), "HTTP/1.1 401");
    assert_eq!(challenge.header("WWW-Authenticate"), Some("Basic realm=\"Tomcat Manager Application\""));

    let login = curl(&["-u", "tomcat:s3cret!", &url(addr, "/manager/html")]);
    assert_eq!(login.status_line(), "HTTP/1.1 401");
    let auth = nth(&log, "auth", 1);
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("tomcat"), Some("s3cret!")));
    assert_eq!(auth["method"], "basic");
    assert_eq!(auth["app"], "tomcat");
    assert_eq!(auth["path"], "/manager/html");

    let missing = curl(&[&url(addr, "/nice%20ports%2C/Tri%6Eity.txt%2ebak")]);
    assert!(
        missing.stdout.starts_with("HTTP/1.1 404 \r\nContent-Type: text/html;charset=utf-8\r\n"),
        "{}",
        missing.stdout
    );
}

#[test]
fn jenkins_login_is_recorded() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "ci-01"), ("FAKE_APP", "jenkins")]);
    let root = curl(&[&url(addr, "/")]);
    assert_eq!(root.status_line(), "HTTP/1.1 403 Forbidden");
    let version = root.header("X-Jenkins").expect("X-Jenkins on every page").to_owned();
    assert!(root.header("Server").unwrap().starts_with("Jetty("));

    let page = curl(&[&url(addr, "/login")]);
    assert_eq!(page.status_line(), "HTTP/1.1 200 OK");
    assert_eq!(page.header("X-Jenkins"), Some(version.as_str()));
    assert!(page.body().contains("name=\"j_username\"") && page.body().contains("name=\"j_password\""));

    let login = curl(&[
        "--data",
        "j_username=admin&j_password=jenkins123&from=%2F&Submit=",
        &url(addr, "/j_spring_security_check"),
    ]);
    assert_eq!(login.status_line(), "HTTP/1.1 302 Found");
    assert_eq!(login.header("Location"), Some(format!("http://{addr}/loginError").as_str()));
    let auth = nth(&log, "auth", 1);
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("admin"), Some("jenkins123")));
    assert_eq!(auth["app"], "jenkins");
}

#[test]
fn generic_login_forms_and_json_are_recorded_without_an_app() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "web-04")]);
    curl(&["--data", "username=alice&password=wonderland", &url(addr, "/login")]);
    curl(&[
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"user":"bob","pass":"b0b"}"#,
        &url(addr, "/api/login"),
    ]);
    nth(&log, "auth", 2);
    let attempts: Vec<(Value, Value, Value)> = auth_events(&log)
        .into_iter()
        .map(|a| (a["username"].clone(), a["password"].clone(), a["method"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [("alice".into(), "wonderland".into(), "form".into()), ("bob".into(), "b0b".into(), "json".into())]
    );
    assert!(auth_events(&log).iter().all(|a| a["app"] == "none"));
}

#[test]
fn http2_cleartext_with_prior_knowledge_when_configured() {
    let (addr, log) =
        support::serve("http", 80, &[("NODE_NAME", "web-05"), ("HTTP_VERSIONS", r#"["http/1.1","http/2"]"#)]);
    let h2 = curl(&["--http2-prior-knowledge", &url(addr, "/")]);
    assert!(h2.success, "{}", h2.stderr);
    assert_eq!(h2.status_line(), "HTTP/2 200");
    assert!(h2.header("server").is_some());
    let request = nth(&log, "request", 1);
    assert_eq!(request["version"], "HTTP/2");
    assert_eq!(request["host"], addr.to_string());
    // HTTP/1.1 is still served on the same port.
    assert_eq!(curl(&[&url(addr, "/")]).status_line(), "HTTP/1.1 200 OK");
}

#[test]
fn http2_is_not_spoken_unless_configured() {
    let (addr, _log) = support::serve("http", 80, &[("NODE_NAME", "web-06")]);
    let h2 = curl(&["--http2-prior-knowledge", &url(addr, "/")]);
    assert!(!h2.stdout.starts_with("HTTP/2"), "{}", h2.stdout);
    assert_eq!(curl(&[&url(addr, "/")]).status_line(), "HTTP/1.1 200 OK");
}

#[test]
fn http3_is_accepted_and_served_as_http1() {
    let (addr, _log) =
        support::serve("https", 443, &[("NODE_NAME", "web-07"), ("HTTP_VERSIONS", r#"["http/3"]"#)]);
    let (target, resolve) = https("web-07", addr, "/");
    let reply = curl(&["-k", "--resolve", &resolve, &target]);
    assert_eq!(reply.status_line(), "HTTP/1.1 200 OK", "{}", reply.stderr);
}

#[test]
fn https_generated_certificate_honours_tls_cn() {
    let (addr, log) = support::serve(
        "https",
        443,
        &[
            ("NODE_NAME", "web-08"),
            ("TLS_CN", "intranet.corp.local"),
            ("HTTP_VERSIONS", r#"["http/1.1","http/2"]"#),
        ],
    );
    let (target, resolve) = https("intranet.corp.local", addr, "/");
    let reply = curl(&["-v", "-k", "--resolve", &resolve, &target]);
    assert!(reply.success, "{}", reply.stderr);
    assert_eq!(reply.status_line(), "HTTP/2 200");
    assert!(reply.stderr.contains("subject: CN=intranet.corp.local"), "{}", reply.stderr);
    assert!(reply.stderr.contains("issuer: CN=intranet.corp.local"), "{}", reply.stderr);
    assert!(reply.stderr.contains("ALPN: server accepted h2"), "{}", reply.stderr);

    let tls = nth(&log, "tls", 1);
    assert_eq!(tls["success"], true);
    assert_eq!(tls["sni"], "intranet.corp.local");
    assert_eq!(tls["alpn_offered"], serde_json::json!(["h2", "http/1.1"]));
    assert_eq!(tls["version"], "TLSv1.3");
    assert_eq!(tls["alpn"], "h2");
    let request = nth(&log, "request", 1);
    assert_eq!(request["tls"], true);
    assert_eq!(request["version"], "HTTP/2");

    // HTTP/1.1 by ALPN as well.
    let h1 = curl(&["-k", "--http1.1", "--resolve", &resolve, &target]);
    assert_eq!(h1.status_line(), "HTTP/1.1 200 OK");
}

#[test]
fn https_certificate_names_the_decky_by_default() {
    let (addr, _log) = support::serve("https", 443, &[("NODE_NAME", "files-02"), ("HTTP_DISTRO", "debian")]);
    let (target, resolve) = https("files-02", addr, "/");
    let reply = curl(&["-v", "-k", "--resolve", &resolve, &target]);
    assert!(reply.stderr.contains("subject: CN=files-02"), "{}", reply.stderr);
    // HTTP/2 is off by default: ALPN settles on HTTP/1.1.
    assert_eq!(reply.status_line(), "HTTP/1.1 200 OK");
}

#[test]
fn https_serves_the_given_certificate() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["portal.example.com".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "portal.example.com");
    let cert = params.self_signed(&key).unwrap();
    let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    let (addr, log) = support::serve(
        "https",
        443,
        &[
            ("NODE_NAME", "web-09"),
            ("TLS_CN", "ignored.example"),
            ("TLS_CERT", &cert_pem),
            ("TLS_KEY", &key_pem),
        ],
    );
    let ca = temp_file("given-ca.pem", &cert_pem);
    let (target, resolve) = https("portal.example.com", addr, "/");
    // No -k: curl verifies the chain and the name against the given certificate.
    let reply = curl(&["-v", "--cacert", ca.to_str().unwrap(), "--resolve", &resolve, &target]);
    std::fs::remove_file(&ca).ok();
    assert!(reply.success, "{}", reply.stderr);
    assert_eq!(reply.status_line(), "HTTP/1.1 200 OK");
    assert!(reply.stderr.contains("subject: CN=portal.example.com"), "{}", reply.stderr);
    assert_eq!(nth(&log, "tls", 1)["sni"], "portal.example.com");
}

#[test]
fn plain_http_on_the_tls_port_is_told_to_use_https() {
    let (addr, log) =
        support::serve("http", 443, &[("NODE_NAME", "web-10"), ("SERVER_HEADER", "Apache/2.4.57 (Debian)")]);
    // Apache's mod_ssl answers as to an HTTP/0.9 request: the page alone.
    let reply = curl(&["--http0.9", &url(addr, "/admin")]);
    assert!(reply.stdout.starts_with("<!DOCTYPE HTML PUBLIC"), "{}", reply.stdout);
    assert!(reply.stdout.contains("You're speaking plain HTTP to an SSL-enabled server port."));
    assert!(reply.stdout.contains(&format!("Server at web-10 Port {}</address>", addr.port())));
    let request = nth(&log, "request", 1);
    assert_eq!(
        (request["path"].as_str(), request["status"].as_u64(), request["tls"].as_bool()),
        (Some("/admin"), Some(400), Some(false))
    );

    // The same port speaks TLS to TLS clients.
    let (target, resolve) = https("web-10", addr, "/");
    assert_eq!(curl(&["-k", "--resolve", &resolve, &target]).status_line(), "HTTP/1.1 200 OK");
}

#[test]
fn nginx_tells_plain_http_clients_in_a_whole_response() {
    let (addr, _log) =
        support::serve("https", 443, &[("NODE_NAME", "web-13"), ("SERVER_HEADER", "nginx/1.22.1")]);
    let reply = curl(&[&url(addr, "/")]);
    assert_eq!(reply.status_line(), "HTTP/1.1 400 Bad Request");
    assert_eq!(reply.header("Server"), Some("nginx/1.22.1"));
    assert!(reply.body().contains("<title>400 The plain HTTP request was sent to HTTPS port</title>"));
}

#[test]
fn what_is_not_http_gets_the_server_400_page() {
    let (addr, log) =
        support::serve("http", 80, &[("NODE_NAME", "web-14"), ("SERVER_HEADER", "Apache/2.4.57 (Debian)")]);
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    client.write_all(b"HELP\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = client.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\nDate: "), "{reply}");
    assert!(
        reply.contains("\r\nServer: Apache/2.4.57 (Debian)\r\n") && reply.contains("<h1>Bad Request</h1>")
    );
    let bad = nth(&log, "bad_request", 1);
    assert_eq!(
        (bad["line"].as_str(), bad["status"].as_u64(), bad["tls"].as_bool()),
        (Some("HELP"), Some(400), Some(false))
    );
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(events.last().unwrap()["reason"], "closed");
}

#[test]
fn http10_requests_are_answered_in_http11() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "web-15"), ("FAKE_APP", "tomcat")]);
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    client.write_all(b"GET /nice%20ports%2C/Tri%6Eity.txt%2ebak HTTP/1.0\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = client.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    // What nmap knows Tomcat by.
    assert!(reply.starts_with("HTTP/1.1 404 \r\nContent-Type: text/html;charset=utf-8\r\n"), "{reply}");
    assert!(reply.contains("\r\nConnection: close\r\n") && reply.ends_with("</h3></body></html>"));
    assert_eq!(nth(&log, "request", 1)["version"], "HTTP/1.0");
}

#[test]
fn failed_tls_handshakes_are_recorded() {
    let (addr, log) = support::serve("https", 443, &[("NODE_NAME", "web-11")]);
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A TLS record header announcing a handshake, then garbage.
    client.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00]).unwrap();
    let mut reply = Vec::new();
    let _ = client.read_to_end(&mut reply);
    let tls = nth(&log, "tls", 1);
    assert_eq!(tls["success"], false);
    assert!(!tls["error"].as_str().unwrap().is_empty());
    let events = wait_for(&log, "disconnect", |e| kinds(e).contains(&"disconnect"));
    assert_eq!(kinds(&events), ["listening", "connect", "tls", "disconnect"]);
}

#[test]
fn hostile_requests_stay_bounded() {
    let (addr, log) = support::serve("http", 80, &[("NODE_NAME", "web-12")]);
    // A request head larger than the server buffers (within the connection's byte cap).
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let huge = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(60_000));
    let _ = client.write_all(huge.as_bytes());
    let mut reply = Vec::new();
    let _ = client.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 431 Request Header Fields Too Large"), "{reply}");

    // A body larger than the capture: recorded in part, counted up to the connection cap.
    let body = "x".repeat(50_000);
    let reply = curl(&["--data-binary", &body, &url(addr, "/upload")]);
    assert_eq!(reply.status_line(), "HTTP/1.1 404 Not Found");
    let request = wait_for(&log, "upload", |e| e.iter().any(|e| e["path"] == "/upload"))
        .into_iter()
        .find(|e| e["path"] == "/upload")
        .unwrap();
    assert_eq!(request["body_size"], 50_000);
    assert_eq!(request["body"].as_str().unwrap().len(), 8 * 1024);
}

#[test]
fn configuration_errors_name_the_variable() {
    /// Service, port, environment, and the variable the error must name.
    type Case<'a> = (&'a str, u16, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 9] = [
        ("http", 80, &[("RESPONSE_CODE", "teapot")], "RESPONSE_CODE"),
        ("http", 80, &[("RESPONSE_CODE", "700")], "RESPONSE_CODE"),
        ("http", 80, &[("FAKE_APP", "drupal")], "FAKE_APP"),
        ("http", 80, &[("EXTRA_HEADERS", "{\"X-A\": [1]}")], "EXTRA_HEADERS"),
        ("http", 80, &[("EXTRA_HEADERS", "not a header")], "EXTRA_HEADERS"),
        ("http", 80, &[("HTTP_VERSIONS", "[\"http/4\"]")], "HTTP_VERSIONS"),
        ("https", 443, &[("TLS_CERT", "-----BEGIN CERTIFICATE-----")], "TLS_KEY"),
        ("https", 443, &[("TLS_KEY", "-----BEGIN PRIVATE KEY-----")], "TLS_CERT"),
        ("https", 443, &[("TLS_CERT", "garbage"), ("TLS_KEY", "garbage")], "TLS_CERT"),
    ];
    for (slug, port, env, var) in cases {
        assert_eq!(config_error(slug, port, env).var, var, "{env:?}");
    }
}

/// Serves the emulator of `slug`'s catalogue port `port` on loopback port `preferred` if it
/// is free (else any), for probing by hand.
fn serve_on(slug: &str, port: u16, env: &[(&str, &str)], preferred: u16) -> SocketAddr {
    let env = Env::from_pairs(env.iter().copied());
    let emulator = Emulator::for_port(slug, Port { number: port, transport: Transport::Tcp }, &env).unwrap();
    let limits = emulator.limits();
    let listener = std::net::TcpListener::bind(("127.0.0.1", preferred))
        .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let (recorder, _log) = chaff_sensor::Recorder::memory(env.decky(), slug);
    let _guard = support::runtime().enter();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let serving = chaff_sensor::listener::serve_tcp(listener, Arc::new(emulator), limits, Arc::new(recorder));
    support::runtime().spawn(serving);
    addr
}

/// Serves web ports for a while, for probing by hand (`nmap -sV`); the TLS ones on ports
/// nmap tries its TLS probe on first, as it does on 443:
/// `CHAFF_HTTP_PROBE_SECS=300 cargo test -p chaff-sensor --test http_emulators -- --ignored --nocapture`
#[test]
#[ignore = "serves on loopback for manual probing; run by hand"]
fn serve_for_manual_probing() {
    let secs: u64 = std::env::var("CHAFF_HTTP_PROBE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let apache = [("NODE_NAME", "web-01"), ("SERVER_HEADER", "Apache/2.4.57 (Debian)")];
    let nginx = [("NODE_NAME", "web-02"), ("SERVER_HEADER", "nginx/1.22.1")];
    let served = [
        ("http/80 apache", serve_on("http", 80, &apache, 18080)),
        ("http/443 apache", serve_on("http", 443, &apache, 44443)),
        (
            "https/443 nginx h2",
            serve_on(
                "https",
                443,
                &[nginx[0], nginx[1], ("HTTP_VERSIONS", r#"["http/1.1","http/2"]"#)],
                14443,
            ),
        ),
        ("http/80 tomcat", serve_on("http", 80, &[("NODE_NAME", "app-01"), ("FAKE_APP", "tomcat")], 18081)),
        ("http/80 jenkins", serve_on("http", 80, &[("NODE_NAME", "ci-01"), ("FAKE_APP", "jenkins")], 18082)),
        (
            "http/80 wordpress",
            serve_on(
                "http",
                80,
                &[("NODE_NAME", "blog-01"), ("HTTP_DISTRO", "ubuntu22"), ("FAKE_APP", "wordpress")],
                18083,
            ),
        ),
        (
            "http/80 phpmyadmin",
            serve_on(
                "http",
                80,
                &[("NODE_NAME", "db-01"), ("HTTP_DISTRO", "rocky9"), ("FAKE_APP", "phpmyadmin")],
                18084,
            ),
        ),
    ];
    for (what, addr) in served {
        println!("{what} {addr}");
    }
    std::thread::sleep(Duration::from_secs(secs));
}
