//! The `elasticsearch` emulator (port 9200): an Elasticsearch 7.x node's REST API, as an
//! exposed single-node cluster answers it: `GET /` (the banner scanners look for), cluster
//! health, `_cat` tables, node info, searches (no hits), and security endpoints.
//!
//! Configuration: `ES_VERSION` (7.x or 8.x `major.minor.patch`; else one of a few 7.x
//! releases, fixed per decky), `ES_CLUSTER_NAME` (default `elasticsearch`), `ES_NODE_NAME`
//! (default the decky's name), `ES_SECURITY` (`on`: every request needs credentials and
//! none are accepted, 401; default `off`: an open cluster, as the exposed ones are).
//!
//! Events: `request` for every request, `auth` for every `Authorization: Basic` header
//! (never accepted). Netty's answers: lower-case headers, no `Date`, `HTTP/1.0` to an
//! HTTP/1.0 request.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::http::json_api::{self, ApiServer, Call, HeaderCase, Reply};
use crate::env::{ConfigError, Env};
use crate::event::EndReason;
use crate::listener::{Session, Stream};
use crate::persona::decky_rng;

/// Releases a decky claims when `ES_VERSION` is not set: (version, Lucene, build hash,
/// build date).
const RELEASES: [Release; 4] = [
    Release::new(
        "7.10.2",
        "8.7.0",
        "747e1cc71def077253878a59143c1f785afa92b9",
        "2021-01-13T00:42:12.435326Z",
    ),
    Release::new(
        "7.16.3",
        "8.10.1",
        "4e6e4eab2297e949ec994e688dad46290d018022",
        "2022-01-06T23:43:02.825887787Z",
    ),
    Release::new(
        "7.17.9",
        "8.11.1",
        "ef48222227ee6b9e70e502f0f0daa52435ee634d",
        "2023-01-31T05:34:43.305517834Z",
    ),
    Release::new(
        "7.17.13",
        "8.11.1",
        "2b211dbb8bfdecaf7f5b44d356bdfe54b1050c13",
        "2023-08-31T17:33:19.958690787Z",
    ),
];

/// Indices an exposed cluster holds: name, and the range of its document count.
const INDICES: [(&str, u64); 5] = [
    ("customers", 48_000),
    ("orders-2024", 310_000),
    ("users", 9_000),
    ("logs-app-2024.11", 1_200_000),
    ("payments", 75_000),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Release {
    number: &'static str,
    lucene: &'static str,
    hash: &'static str,
    date: &'static str,
}

impl Release {
    const fn new(number: &'static str, lucene: &'static str, hash: &'static str, date: &'static str) -> Self {
        Release { number, lucene, hash, date }
    }
}

/// What the node claims, fixed at start-up.
#[derive(Clone, Debug)]
struct Node {
    name: String,
    cluster_name: String,
    cluster_uuid: String,
    node_id: String,
    version: String,
    lucene: String,
    build_hash: String,
    build_date: String,
    security: bool,
    /// `(name, uuid, documents, bytes)` of each index.
    indices: Vec<(String, String, u64, u64)>,
}

/// The `elasticsearch` port.
pub struct Elasticsearch {
    server: ApiServer<Node>,
}

impl Elasticsearch {
    pub fn from_env(env: &Env) -> Result<Elasticsearch, ConfigError> {
        let node = Node::from_env(env)?;
        Ok(Elasticsearch { server: ApiServer::plain(Arc::new(node), HeaderCase::Lower) })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> std::io::Result<EndReason> {
        self.server.serve(stream, session).await
    }
}

impl Node {
    fn from_env(env: &Env) -> Result<Node, ConfigError> {
        let decky = env.decky();
        let mut rng = decky_rng(decky, "elasticsearch");
        let release = RELEASES[rng.usize(..RELEASES.len())];
        let (version, release) = match env.get("ES_VERSION").map(str::trim) {
            None => (release.number, release),
            Some(version) => (version, configured_release(version)?),
        };
        let security = match env.get("ES_SECURITY").map(str::trim) {
            None | Some("off" | "false" | "0") => false,
            Some("on" | "true" | "1") => true,
            Some(other) => {
                return Err(ConfigError::new("ES_SECURITY", format!("expected on or off, got {other:?}")));
            }
        };
        let name = env.get("ES_NODE_NAME").unwrap_or(if decky.is_empty() { "node-1" } else { decky });
        let indices = INDICES
            .iter()
            .filter_map(|&(index, docs)| {
                if rng.u8(..4) == 0 {
                    return None;
                }
                let documents = docs / 2 + rng.u64(..docs);
                Some((index.to_owned(), base64_id(&mut rng), documents, documents * rng.u64(300..1800)))
            })
            .collect();
        Ok(Node {
            name: name.to_owned(),
            cluster_name: env.get_or("ES_CLUSTER_NAME", "elasticsearch").to_owned(),
            cluster_uuid: base64_id(&mut rng),
            node_id: base64_id(&mut rng),
            version: version.to_owned(),
            lucene: release.lucene.to_owned(),
            build_hash: release.hash.to_owned(),
            build_date: release.date.to_owned(),
            security,
            indices,
        })
    }

    fn wire_compatibility(&self) -> (&'static str, &'static str) {
        if self.version.starts_with("8.") { ("7.17.0", "7.0.0") } else { ("6.8.0", "6.0.0-beta1") }
    }

    /// `GET /`: Jackson's pretty printing, as Elasticsearch writes it (scanners match it).
    fn banner(&self) -> Value {
        let (wire, index) = self.wire_compatibility();
        json!({
            "name": self.name,
            "cluster_name": self.cluster_name,
            "cluster_uuid": self.cluster_uuid,
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": self.build_hash,
                "build_date": self.build_date,
                "build_snapshot": false,
                "lucene_version": self.lucene,
                "minimum_wire_compatibility_version": wire,
                "minimum_index_compatibility_version": index,
            },
            "tagline": "You Know, for Search",
        })
    }

    fn health(&self) -> Value {
        let shards = self.indices.len() as u64;
        json!({
            "cluster_name": self.cluster_name,
            "status": "yellow",
            "timed_out": false,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": shards,
            "active_shards": shards,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": shards,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 50.0,
        })
    }

    fn nodes(&self) -> Value {
        json!({
            "_nodes": {"total": 1, "successful": 1, "failed": 0},
            "cluster_name": self.cluster_name,
            "nodes": {
                self.node_id.clone(): {
                    "name": self.name,
                    "transport_address": "172.17.0.2:9300",
                    "host": "172.17.0.2",
                    "ip": "172.17.0.2",
                    "version": self.version,
                    "build_flavor": "default",
                    "build_type": "docker",
                    "build_hash": self.build_hash,
                    "roles": ["data", "data_cold", "data_content", "data_frozen", "data_hot", "data_warm",
                              "ingest", "master", "ml", "remote_cluster_client", "transform"],
                    "attributes": {"ml.machine_memory": "8232951808", "xpack.installed": "true"},
                }
            }
        })
    }

    /// `_cat/indices` rows: health, status, index, uuid, pri, rep, docs.count,
    /// docs.deleted, store.size, pri.store.size.
    fn cat_indices(&self, call: &Call<'_>) -> Reply {
        if call.query_param("format") == Some("json") {
            let rows: Vec<Value> = self
                .indices
                .iter()
                .map(|(name, uuid, docs, size)| {
                    json!({"health": "yellow", "status": "open", "index": name, "uuid": uuid, "pri": "1",
                           "rep": "1", "docs.count": docs.to_string(), "docs.deleted": "0",
                           "store.size": human_size(*size), "pri.store.size": human_size(*size)})
                })
                .collect();
            return json_reply(StatusCode::OK, &Value::from(rows), call);
        }
        let mut table = String::new();
        if call.query_param("v").is_some() {
            table.push_str(
                "health status index uuid pri rep docs.count docs.deleted store.size pri.store.size\n",
            );
        }
        for (name, uuid, docs, size) in &self.indices {
            let size = human_size(*size);
            table.push_str(&format!("yellow open {name} {uuid} 1 1 {docs} 0 {size} {size}\n"));
        }
        text_reply(StatusCode::OK, table)
    }

    fn route(&self, call: &Call<'_>) -> Reply {
        let path = call.path.trim_end_matches('/');
        if self.security {
            return security_exception(call.path, call.basic_credentials().is_some());
        }
        match (call.method, path) {
            (&Method::GET | &Method::HEAD, "") => pretty_reply(StatusCode::OK, &self.banner()),
            (_, "/_cluster/health") => json_reply(StatusCode::OK, &self.health(), call),
            (_, "/_cat/indices") => self.cat_indices(call),
            (_, "/_cat") => text_reply(StatusCode::OK, CAT_HELP.to_owned()),
            (_, "/_nodes") => json_reply(StatusCode::OK, &self.nodes(), call),
            (_, "/_search") => json_reply(StatusCode::OK, &empty_search(self.indices.len()), call),
            (_, p) if p.starts_with("/_security") || p.starts_with("/_xpack/security") => security_disabled(),
            (_, p) if p.ends_with("/_search") => self.index_search(p, call),
            (_, p) if p.starts_with("/_") => no_handler(call),
            (_, p) => self.index_request(p, call),
        }
    }

    fn index_search(&self, path: &str, call: &Call<'_>) -> Reply {
        let index = path.trim_start_matches('/').trim_end_matches("/_search");
        if index.contains('*') || self.has_index(index) {
            json_reply(StatusCode::OK, &empty_search(1), call)
        } else {
            index_not_found(index)
        }
    }

    fn index_request(&self, path: &str, call: &Call<'_>) -> Reply {
        let index = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        match self.indices.iter().find(|(name, ..)| name == index) {
            Some((name, uuid, ..))
                if call.method == Method::GET && !path.trim_start_matches('/').contains('/') =>
            {
                let settings = json!({name.clone(): {"aliases": {}, "mappings": {}, "settings": {"index": {
                    "number_of_shards": "1", "number_of_replicas": "1", "uuid": uuid,
                    "provided_name": name, "version": {"created": "7170999"}}}}});
                json_reply(StatusCode::OK, &settings, call)
            }
            _ => index_not_found(index),
        }
    }

    fn has_index(&self, index: &str) -> bool {
        self.indices.iter().any(|(name, ..)| name == index)
    }
}

impl json_api::Api for Node {
    fn respond(&self, call: &Call<'_>) -> Reply {
        let reply = self.route(call);
        match call.basic_credentials() {
            Some(attempt) => reply.event("auth", json_api::basic_auth_fields(&attempt, false)),
            None => reply,
        }
    }

    fn bad_request(&self) -> &'static [u8] {
        NETTY_BAD_REQUEST
    }
}

/// What Elasticsearch answers to a first line that is not HTTP.
const NETTY_BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: 203\r\n\r\n{\"error\":{\"root_cause\":[{\"type\":\"illegal_argument_exception\",\"reason\":\"text is empty (possibly HTTP/0.9)\"}],\"type\":\"illegal_argument_exception\",\"reason\":\"text is empty (possibly HTTP/0.9)\"},\"status\":400}";

const CAT_HELP: &str = "=^.^=\n/_cat/allocation\n/_cat/shards\n/_cat/shards/{index}\n/_cat/master\n/_cat/nodes\n/_cat/tasks\n/_cat/indices\n/_cat/indices/{index}\n/_cat/segments\n/_cat/segments/{index}\n/_cat/count\n/_cat/count/{index}\n/_cat/recovery\n/_cat/recovery/{index}\n/_cat/health\n/_cat/pending_tasks\n/_cat/aliases\n/_cat/aliases/{alias}\n/_cat/thread_pool\n/_cat/thread_pool/{thread_pools}\n/_cat/plugins\n/_cat/fielddata\n/_cat/fielddata/{fields}\n/_cat/nodeattrs\n/_cat/repositories\n/_cat/snapshots/{repository}\n/_cat/templates\n";

fn empty_search(shards: usize) -> Value {
    json!({
        "took": fastrand::u32(1..12),
        "timed_out": false,
        "_shards": {"total": shards, "successful": shards, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": null, "hits": []},
    })
}

/// Elasticsearch's error body: the cause (`kind`, `reason` and `details`) as the root
/// cause, then repeated as the error itself.
fn error_body(kind: &str, reason: &str, status: StatusCode, details: &[(&str, &str)]) -> Value {
    let mut cause = serde_json::Map::new();
    cause.insert("type".into(), kind.into());
    cause.insert("reason".into(), reason.into());
    for &(key, value) in details {
        cause.insert(key.into(), value.into());
    }
    let mut error = serde_json::Map::new();
    error.insert("root_cause".into(), Value::Array(vec![Value::Object(cause.clone())]));
    error.extend(cause);
    json!({"error": error, "status": status.as_u16()})
}

fn index_not_found(index: &str) -> Reply {
    let status = StatusCode::NOT_FOUND;
    let details = [
        ("resource.type", "index_or_alias"),
        ("resource.id", index),
        ("index_uuid", "_na_"),
        ("index", index),
    ];
    compact_reply(
        status,
        &error_body("index_not_found_exception", &format!("no such index [{index}]"), status, &details),
    )
}

fn no_handler(call: &Call<'_>) -> Reply {
    let body = json!({"error": format!("no handler found for uri [{}] and method [{}]", call.path, call.method),
                      "status": 400});
    compact_reply(StatusCode::BAD_REQUEST, &body)
}

/// What a 7.x node with security disabled answers on the security APIs.
fn security_disabled() -> Reply {
    let reason = "Security must be explicitly enabled when using a [basic] license. Enable security by setting \
                  [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.";
    let body = json!({"error": {"root_cause": [{"type": "exception", "reason": reason}], "type": "exception",
                                "reason": reason}, "status": 500});
    compact_reply(StatusCode::INTERNAL_SERVER_ERROR, &body)
}

/// The 401 of a node with security on: no credentials, or credentials it did not accept.
fn security_exception(path: &str, had_credentials: bool) -> Reply {
    let reason = if had_credentials {
        format!("unable to authenticate user for REST request [{path}]")
    } else {
        format!("missing authentication credentials for REST request [{path}]")
    };
    let header = r#"Basic realm="security" charset="UTF-8""#;
    let status = StatusCode::UNAUTHORIZED;
    let mut body = error_body("security_exception", &reason, status, &[]);
    let challenge = json!({"WWW-Authenticate": header});
    if let Some(Value::Object(error)) = body.get_mut("error") {
        error.insert("header".into(), challenge.clone());
        if let Some(Value::Object(cause)) = error.get_mut("root_cause").and_then(|c| c.get_mut(0)) {
            cause.insert("header".into(), challenge);
        }
    }
    compact_reply(status, &body).header("www-authenticate", header)
}

const JSON_TYPE: &str = "application/json; charset=UTF-8";

fn compact_reply(status: StatusCode, body: &Value) -> Reply {
    Reply::new(status).header("content-type", JSON_TYPE).body(body.to_string())
}

fn pretty_reply(status: StatusCode, body: &Value) -> Reply {
    let mut text = String::new();
    jackson_pretty(body, 0, &mut text);
    text.push('\n');
    Reply::new(status).header("content-type", JSON_TYPE).body(text)
}

/// Compact JSON, or pretty when the request asks (`?pretty`).
fn json_reply(status: StatusCode, body: &Value, call: &Call<'_>) -> Reply {
    match call.query_param("pretty") {
        Some("" | "true") => pretty_reply(status, body),
        _ => compact_reply(status, body),
    }
}

fn text_reply(status: StatusCode, text: String) -> Reply {
    Reply::new(status).header("content-type", "text/plain; charset=UTF-8").body(text)
}

/// `value` printed as Jackson's default pretty printer does: two-space indent,
/// `"key" : value`, empty containers as `{ }` and `[ ]`.
fn jackson_pretty(value: &Value, depth: usize, out: &mut String) {
    let indent = |out: &mut String, depth: usize| out.extend(std::iter::repeat_n("  ", depth));
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{ }"),
        Value::Array(items) if items.is_empty() => out.push_str("[ ]"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (key, item)) in map.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push_str(" : ");
                jackson_pretty(item, depth + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                jackson_pretty(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The build facts for a configured `ES_VERSION`: its own release if known, else those of
/// the latest known release of its major line (7.x or 8.x, `major.minor.patch`).
fn configured_release(version: &str) -> Result<Release, ConfigError> {
    if let Some(known) = RELEASES.iter().find(|r| r.number == version) {
        return Ok(*known);
    }
    let parts: Vec<&str> = version.split('.').collect();
    let numeric =
        parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match parts.first() {
        Some(&"7") if numeric => Ok(RELEASES[RELEASES.len() - 1]),
        Some(&"8") if numeric => Ok(RELEASE_8),
        _ => Err(ConfigError::new(
            "ES_VERSION",
            format!("expected a 7.x or 8.x version such as 7.17.9, got {version:?}"),
        )),
    }
}

/// The 8.x build facts a configured 8.x version borrows.
const RELEASE_8: Release = Release::new(
    "8.13.4",
    "9.10.0",
    "da95df118650b55a500dcc181889ac35c6d8da7c",
    "2024-05-06T22:04:45.107454559Z",
);

/// A 22-character URL-safe base64 id, as Elasticsearch's UUIDs (cluster, node, index).
fn base64_id(rng: &mut fastrand::Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..22).map(|_| char::from(ALPHABET[rng.usize(..ALPHABET.len())])).collect()
}

/// A size as `_cat` prints it: `1.2mb`, `340kb`, `12gb`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kb", "mb", "gb", "tb"];
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_is_what_scanners_match() {
        let env = Env::from_pairs([
            ("NODE_NAME", "search-01"),
            ("ES_VERSION", "7.17.9"),
            ("ES_CLUSTER_NAME", "prod"),
        ]);
        let node = Node::from_env(&env).unwrap();
        let mut text = String::new();
        jackson_pretty(&node.banner(), 0, &mut text);
        assert!(text.starts_with(
            "{\n  \"name\" : \"search-01\",\n  \"cluster_name\" : \"prod\",\n  \"cluster_uuid\" : \""
        ));
        assert!(text.contains("\n  \"version\" : {\n    \"number\" : \"7.17.9\",\n"));
        assert!(text.contains("\"lucene_version\" : \"8.11.1\",\n"));
        assert!(text.ends_with("},\n  \"tagline\" : \"You Know, for Search\"\n}"));
    }

    #[test]
    fn deckies_differ_and_stay_the_same() {
        let node = |decky| Node::from_env(&Env::from_pairs([("NODE_NAME", decky)])).unwrap();
        assert_eq!(node("a").cluster_uuid, node("a").cluster_uuid);
        assert_ne!(node("a").cluster_uuid, node("b").cluster_uuid);
        assert_eq!(node("a").name, "a");
    }

    #[test]
    fn versions_are_checked() {
        assert_eq!(configured_release("8.12.0").unwrap().lucene, "9.10.0");
        assert_eq!(configured_release("7.17.13").unwrap().hash, RELEASES[3].hash);
        assert_eq!(configured_release("latest").unwrap_err().var, "ES_VERSION");
        assert_eq!(configured_release("9.1").unwrap_err().var, "ES_VERSION");
        let env = Env::from_pairs([("ES_SECURITY", "maybe")]);
        assert_eq!(Node::from_env(&env).unwrap_err().var, "ES_SECURITY");
    }

    #[test]
    fn bad_request_length_is_its_body() {
        let text = std::str::from_utf8(NETTY_BAD_REQUEST).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.ends_with(&format!("content-length: {}", body.len())));
        assert!(serde_json::from_str::<Value>(body).is_ok());
    }

    #[test]
    fn pretty_printing_is_jacksons() {
        let mut text = String::new();
        jackson_pretty(&json!({"a": [], "b": {}, "c": [1, "x"]}), 0, &mut text);
        assert_eq!(text, "{\n  \"a\" : [ ],\n  \"b\" : { },\n  \"c\" : [\n    1,\n    \"x\"\n  ]\n}");
        assert_eq!(human_size(1_300_000), "1.2mb");
    }
}
