//! The `docker_api` emulator: an exposed Docker Engine API, 2375 in the clear and 2376 over
//! TLS (no client certificate asked). It answers reconnaissance (`/_ping`, `/version`,
//! `/info`, container and image lists) as a small host's daemon, and accepts what an
//! attacker does next — creating and starting a container, exec, pulling an image —
//! recording it and running nothing. Paths may carry an API version prefix (`/v1.41/...`).
//!
//! Configuration: `DOCKER_VERSION` (one of the releases below; else one fixed per decky).
//!
//! Events: `request` for every request; `container_create` (image, cmd, entrypoint, env,
//! binds, privileged, network mode, name), `container_start`, `exec_create` (container,
//! cmd, user, privileged), `exec_start`, `image_pull` (image, tag). Go's answers:
//! title-case headers sorted by name, then `Date` and `Content-Length`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::http::Scheme;
use super::http::json_api::{self, ApiServer, Call, HeaderCase, Reply};
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream};
use crate::persona::decky_rng;

/// Items of a captured list (cmd, binds, env) written into an event.
const LIST_RECORDED: usize = 64;
/// Bytes of one captured string written into an event.
const ITEM_RECORDED: usize = 1024;

/// Engine releases: (version, API version, Go version, git commit).
const RELEASES: [(&str, &str, &str, &str); 5] = [
    ("20.10.24", "1.41", "go1.19.7", "5d6db84"),
    ("23.0.6", "1.42", "go1.20.4", "9dbdbd4"),
    ("24.0.7", "1.43", "go1.20.10", "311b9ff"),
    ("25.0.5", "1.44", "go1.21.8", "e63daec"),
    ("26.1.4", "1.45", "go1.21.11", "de5c9cf"),
];

/// (kernel, operating system) of the host.
const HOSTS: [(&str, &str); 3] = [
    ("5.15.0-105-generic", "Ubuntu 22.04.4 LTS"),
    ("6.1.0-18-amd64", "Debian GNU/Linux 12 (bookworm)"),
    ("5.4.0-182-generic", "Ubuntu 20.04.6 LTS"),
];

/// Images on the host: (repository:tag, size in bytes).
const IMAGES: [(&str, u64); 6] = [
    ("nginx:1.25-alpine", 43_300_000),
    ("postgres:15", 412_000_000),
    ("redis:7.2", 138_000_000),
    ("node:20-bullseye", 1_090_000_000),
    ("registry:2", 25_400_000),
    ("portainer/portainer-ce:2.19.4", 294_000_000),
];

/// The daemon's identity, fixed at start-up.
#[derive(Debug)]
struct Daemon {
    hostname: String,
    version: &'static str,
    api_version: &'static str,
    go_version: &'static str,
    git_commit: &'static str,
    kernel: &'static str,
    operating_system: &'static str,
    id: String,
    ncpu: u32,
    memory: u64,
    /// (id, image, name, command, created) of the running containers.
    containers: Vec<(String, &'static str, String, &'static str, u64)>,
    /// (id, repository:tag, size, created) of the images.
    images: Vec<(String, &'static str, u64, u64)>,
}

/// One `docker_api` port.
pub struct DockerApi {
    server: ApiServer<Daemon>,
}

impl DockerApi {
    pub fn from_env(env: &Env, scheme: Scheme) -> Result<DockerApi, ConfigError> {
        let daemon = Arc::new(Daemon::from_env(env)?);
        let server = match scheme {
            Scheme::Plain => ApiServer::plain(daemon, HeaderCase::Title),
            Scheme::Tls => ApiServer::tls(daemon, HeaderCase::Title, env)?,
        };
        Ok(DockerApi { server })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> std::io::Result<EndReason> {
        self.server.serve(stream, session).await
    }
}

impl Daemon {
    fn from_env(env: &Env) -> Result<Daemon, ConfigError> {
        let decky = env.decky();
        let mut rng = decky_rng(decky, "docker_api");
        let release = match env.get("DOCKER_VERSION").map(str::trim) {
            None => RELEASES[rng.usize(..RELEASES.len())],
            Some(version) => *RELEASES.iter().find(|r| r.0 == version).ok_or_else(|| {
                let known: Vec<&str> = RELEASES.iter().map(|r| r.0).collect();
                ConfigError::new(
                    "DOCKER_VERSION",
                    format!("expected one of {}, got {version:?}", known.join(", ")),
                )
            })?,
        };
        let (kernel, operating_system) = HOSTS[rng.usize(..HOSTS.len())];
        let now =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
        let images: Vec<_> = IMAGES
            .iter()
            .filter_map(|&(tag, size)| {
                let installed = rng.u8(..3) != 0;
                installed.then(|| (hex_id(&mut rng), tag, size, now - rng.u64(86_400..200 * 86_400)))
            })
            .collect();
        let containers = images
            .iter()
            .take(3)
            .map(|(_, image, ..)| {
                let name = format!("{}-{}", image.split([':', '/']).next().unwrap_or("app"), rng.u8(1..4));
                (hex_id(&mut rng), *image, name, command_of(image), now - rng.u64(3_600..30 * 86_400))
            })
            .collect();
        Ok(Daemon {
            hostname: if decky.is_empty() { "docker-host".to_owned() } else { decky.to_owned() },
            version: release.0,
            api_version: release.1,
            go_version: release.2,
            git_commit: release.3,
            kernel,
            operating_system,
            id: uuid_like(&mut rng),
            ncpu: [2, 4, 8][rng.usize(..3)],
            memory: [4u64, 8, 16][rng.usize(..3)] * 1_024 * 1_024 * 1_024 - rng.u64(..200_000_000),
            containers,
            images,
        })
    }

    /// Go's headers of every answer: sorted by name, then `Date`.
    fn reply(&self, status: StatusCode, content_type: Option<&str>) -> Reply {
        let reply = Reply::new(status).header("api-version", self.api_version);
        let reply = match content_type {
            Some(content_type) => reply.header("content-type", content_type),
            None => reply,
        };
        reply
            .header("docker-experimental", "false")
            .header("ostype", "linux")
            .header("server", format!("Docker/{} (linux)", self.version))
            .header("date", http_date_now())
    }

    fn json(&self, status: StatusCode, body: &Value) -> Reply {
        self.reply(status, Some("application/json")).body(json_api::json_line(body))
    }

    fn message(&self, status: StatusCode, message: &str) -> Reply {
        self.json(status, &json!({"message": message}))
    }

    fn version_info(&self) -> Value {
        json!({
            "Platform": {"Name": "Docker Engine - Community"},
            "Components": [
                {"Name": "Engine", "Version": self.version, "Details": {
                    "ApiVersion": self.api_version, "Arch": "amd64", "BuildTime": "2023-10-26T09:07:41.000000000+00:00",
                    "Experimental": "false", "GitCommit": self.git_commit, "GoVersion": self.go_version,
                    "KernelVersion": self.kernel, "MinAPIVersion": "1.12", "Os": "linux"}},
                {"Name": "containerd", "Version": "1.6.28", "Details": {"GitCommit": "ae07eda36dd25f8a1b98dfbf587313b99c0190bb"}},
                {"Name": "runc", "Version": "1.1.12", "Details": {"GitCommit": "v1.1.12-0-g51d5e94"}},
                {"Name": "docker-init", "Version": "0.19.0", "Details": {"GitCommit": "de40ad0"}},
            ],
            "Version": self.version,
            "ApiVersion": self.api_version,
            "MinAPIVersion": "1.12",
            "GitCommit": self.git_commit,
            "GoVersion": self.go_version,
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": self.kernel,
            "BuildTime": "2023-10-26T09:07:41.000000000+00:00",
        })
    }

    fn info(&self) -> Value {
        json!({
            "ID": self.id,
            "Containers": self.containers.len(),
            "ContainersRunning": self.containers.len(),
            "ContainersPaused": 0,
            "ContainersStopped": 0,
            "Images": self.images.len(),
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"],
                             ["Native Overlay Diff", "true"], ["userxattr", "false"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"],
                        "Log": ["awslogs", "fluentd", "gcplogs", "gelf", "journald", "json-file", "local", "splunk", "syslog"]},
            "MemoryLimit": true,
            "SwapLimit": false,
            "CgroupDriver": "systemd",
            "CgroupVersion": "2",
            "NEventsListener": 0,
            "KernelVersion": self.kernel,
            "OperatingSystem": self.operating_system,
            "OSVersion": self.operating_system.split_whitespace().find(|w| w.starts_with(char::is_numeric)).unwrap_or(""),
            "OSType": "linux",
            "Architecture": "x86_64",
            "IndexServerAddress": "https://index.docker.io/v1/",
            "NCPU": self.ncpu,
            "MemTotal": self.memory,
            "DockerRootDir": "/var/lib/docker",
            "Name": self.hostname,
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": self.version,
            "Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "runc": {"path": "runc"}},
            "DefaultRuntime": "runc",
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false,
                      "Error": "", "RemoteManagers": null},
            "LiveRestoreEnabled": false,
            "Isolation": "",
            "InitBinary": "docker-init",
            "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"],
            "Warnings": ["WARNING: API is accessible on http://0.0.0.0:2375 without encryption.\n         Access to the remote API is equivalent to root access on the host. Refer\n         to the 'Docker daemon attack surface' section in the documentation for\n         more information: https://docs.docker.com/go/attack-surface/"],
        })
    }

    fn container_list(&self) -> Value {
        self.containers
            .iter()
            .map(|(id, image, name, command, created)| {
                let image_id = self.images.iter().find(|i| i.1 == *image).map(|i| i.0.as_str()).unwrap_or_default();
                json!({
                    "Id": id, "Names": [format!("/{name}")], "Image": image, "ImageID": format!("sha256:{image_id}"),
                    "Command": command, "Created": created, "Ports": [], "Labels": {}, "State": "running",
                    "Status": format!("Up {} days", (self.now() - created) / 86_400 + 1),
                    "HostConfig": {"NetworkMode": "bridge"}, "Mounts": [],
                })
            })
            .collect()
    }

    fn image_list(&self) -> Value {
        self.images
            .iter()
            .map(|(id, tag, size, created)| {
                json!({
                    "Containers": -1, "Created": created, "Id": format!("sha256:{id}"), "Labels": null,
                    "ParentId": "", "RepoDigests": [], "RepoTags": [tag], "SharedSize": -1, "Size": size,
                })
            })
            .collect()
    }

    fn now(&self) -> u64 {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
    }

    fn route(&self, call: &Call<'_>) -> Reply {
        let path = strip_api_version(call.path);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (call.method, segments.as_slice()) {
            (&Method::OPTIONS, _) => self.reply(StatusCode::OK, None),
            (&Method::GET | &Method::HEAD, ["_ping"]) => self
                .reply(StatusCode::OK, Some("text/plain; charset=utf-8"))
                .header("cache-control", "no-cache, no-store, must-revalidate")
                .header("pragma", "no-cache")
                .body("OK"),
            (&Method::GET, ["version"]) => self.json(StatusCode::OK, &self.version_info()),
            (&Method::GET, ["info"]) => self.json(StatusCode::OK, &self.info()),
            (&Method::GET, ["containers", "json"]) => self.json(StatusCode::OK, &self.container_list()),
            (&Method::GET, ["images", "json"]) => self.json(StatusCode::OK, &self.image_list()),
            (&Method::POST, ["containers", "create"]) => self.create_container(call),
            (&Method::POST, ["containers", id, "start"]) => {
                self.reply(StatusCode::NO_CONTENT, None).event("container_start", id_fields("container", id))
            }
            (&Method::POST, ["containers", _, "stop" | "kill" | "restart"]) => {
                self.reply(StatusCode::NO_CONTENT, None)
            }
            (&Method::POST, ["containers", _, "wait"]) => {
                self.json(StatusCode::OK, &json!({"Error": null, "StatusCode": 0}))
            }
            (&Method::DELETE, ["containers", _]) => self.reply(StatusCode::NO_CONTENT, None),
            (&Method::POST, ["containers", id, "exec"]) => self.create_exec(call, id),
            (&Method::POST, ["exec", id, "start"]) => self
                .reply(StatusCode::OK, Some("application/vnd.docker.raw-stream"))
                .event("exec_start", id_fields("exec", id)),
            (&Method::POST, ["images", "create"]) => self.pull_image(call),
            (_, ["containers", id, ..]) => {
                self.message(StatusCode::NOT_FOUND, &format!("No such container: {id}"))
            }
            _ => self
                .reply(StatusCode::NOT_FOUND, Some("application/json"))
                .body("{\"message\":\"page not found\"}\n"),
        }
    }

    fn create_container(&self, call: &Call<'_>) -> Reply {
        let Ok(config) = serde_json::from_slice::<Value>(call.body) else {
            return self.message(
                StatusCode::BAD_REQUEST,
                "invalid JSON: the request body is not a container config",
            );
        };
        let fields = container_create_fields(&config, call.query_param("name"));
        if config.get("Image").and_then(Value::as_str).is_none_or(str::is_empty) {
            return self
                .message(StatusCode::BAD_REQUEST, "config cannot be empty in order to create a container")
                .event("container_create", fields);
        }
        let id = hex_id(&mut fastrand::Rng::new());
        self.json(StatusCode::CREATED, &json!({"Id": id, "Warnings": []}))
            .event("container_create", fields.text("id", id))
    }

    fn create_exec(&self, call: &Call<'_>, container: &str) -> Reply {
        let config = serde_json::from_slice::<Value>(call.body).unwrap_or(Value::Null);
        let id = hex_id(&mut fastrand::Rng::new());
        let fields = Fields::new()
            .text("container", bounded_text(container))
            .value("cmd", string_list(config.get("Cmd")))
            .text("user", bounded_text(config.get("User").and_then(Value::as_str).unwrap_or_default()))
            .flag("privileged", config.get("Privileged").and_then(Value::as_bool).unwrap_or(false))
            .text("id", id.as_str());
        self.json(StatusCode::CREATED, &json!({"Id": id})).event("exec_create", fields)
    }

    fn pull_image(&self, call: &Call<'_>) -> Reply {
        let image = json_api::query_value(call.query_param("fromImage").unwrap_or_default());
        let tag = json_api::query_value(call.query_param("tag").unwrap_or("latest"));
        let fields = Fields::new().bytes("image", &image).bytes("tag", &tag);
        let (image, tag) = (String::from_utf8_lossy(&image), String::from_utf8_lossy(&tag));
        let repository = if image.contains('/') { image.to_string() } else { format!("library/{image}") };
        let digest = hex_id(&mut fastrand::Rng::new());
        let progress = [
            json!({"status": format!("Pulling from {repository}"), "id": tag}),
            json!({"status": format!("Digest: sha256:{digest}")}),
            json!({"status": format!("Status: Image is up to date for {image}:{tag}")}),
        ];
        let body: String = progress.iter().map(|line| format!("{line}\r\n")).collect();
        self.reply(StatusCode::OK, Some("application/json")).body(body).event("image_pull", fields)
    }
}

impl json_api::Api for Daemon {
    fn respond(&self, call: &Call<'_>) -> Reply {
        self.route(call)
    }

    fn bad_request(&self) -> &'static [u8] {
        json_api::GO_BAD_REQUEST
    }
}

/// The fields of a `container_create` event: what the container would have run, and with
/// which access to the host.
fn container_create_fields(config: &Value, name: Option<&str>) -> Fields {
    let host = config.get("HostConfig");
    let binds = host.and_then(|h| h.get("Binds"));
    Fields::new()
        .text("image", bounded_text(config.get("Image").and_then(Value::as_str).unwrap_or_default()))
        .value("cmd", string_list(config.get("Cmd")))
        .value("entrypoint", string_list(config.get("Entrypoint")))
        .value("env", string_list(config.get("Env")))
        .value("binds", string_list(binds))
        .flag("privileged", host.and_then(|h| h.get("Privileged")).and_then(Value::as_bool).unwrap_or(false))
        .text(
            "network_mode",
            bounded_text(host.and_then(|h| h.get("NetworkMode")).and_then(Value::as_str).unwrap_or_default()),
        )
        .bytes("name", &json_api::query_value(name.unwrap_or_default()))
}

/// A JSON string or list of strings (Docker takes both for `Cmd` and `Entrypoint`), as a
/// bounded list of strings; anything else is an empty list.
fn string_list(value: Option<&Value>) -> Value {
    let items = match value {
        Some(Value::String(one)) => vec![Value::from(bounded_text(one))],
        Some(Value::Array(many)) => many
            .iter()
            .take(LIST_RECORDED)
            .map(|item| match item {
                Value::String(text) => Value::from(bounded_text(text)),
                other => Value::from(bounded_text(&other.to_string())),
            })
            .collect(),
        _ => Vec::new(),
    };
    Value::Array(items)
}

/// `text` cut at [`ITEM_RECORDED`] bytes, on a character boundary.
fn bounded_text(text: &str) -> &str {
    let mut end = text.len().min(ITEM_RECORDED);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn id_fields(key: &str, id: &str) -> Fields {
    Fields::new().text(key, bounded_text(id))
}

/// `path` without its API version prefix: `/v1.41/containers/json` is `/containers/json`.
fn strip_api_version(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else { return path };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    let is_version = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if is_version { &rest[end..] } else { path }
}

/// The command a container of `image` runs, as `docker ps` shows it.
fn command_of(image: &str) -> &'static str {
    match image.split(':').next().unwrap_or_default() {
        "nginx" => "/docker-entrypoint.sh nginx -g 'daemon off;'",
        "postgres" => "docker-entrypoint.sh postgres",
        "redis" => "docker-entrypoint.sh redis-server",
        "node" => "docker-entrypoint.sh node server.js",
        "registry" => "/entrypoint.sh /etc/docker/registry/config.yml",
        _ => "/portainer",
    }
}

/// A 64-hex-digit id, as Docker's container, exec and image ids.
fn hex_id(rng: &mut fastrand::Rng) -> String {
    (0..4).map(|_| format!("{:016x}", rng.u64(..))).collect()
}

/// A daemon ID (Docker 23+ uses a UUID).
fn uuid_like(rng: &mut fastrand::Rng) -> String {
    let hex = hex_id(rng);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn http_date_now() -> String {
    super::http::json_api::http_date(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_version_prefixes_are_stripped() {
        assert_eq!(strip_api_version("/v1.41/containers/json"), "/containers/json");
        assert_eq!(strip_api_version("/v1.24/_ping"), "/_ping");
        assert_eq!(strip_api_version("/version"), "/version");
        assert_eq!(strip_api_version("/volumes"), "/volumes");
    }

    #[test]
    fn create_records_what_would_run() {
        let config = json!({"Image": "alpine", "Cmd": ["sh", "-c", "id"], "Entrypoint": "/bin/sh",
                            "HostConfig": {"Binds": ["/:/host"], "Privileged": true}});
        let fields = container_create_fields(&config, Some("x%20y"));
        assert_eq!(fields.get("image"), Some(&json!("alpine")));
        assert_eq!(fields.get("cmd"), Some(&json!(["sh", "-c", "id"])));
        assert_eq!(fields.get("entrypoint"), Some(&json!(["/bin/sh"])));
        assert_eq!(fields.get("binds"), Some(&json!(["/:/host"])));
        assert_eq!(fields.get("privileged"), Some(&json!(true)));
        assert_eq!(fields.get("name"), Some(&json!("x y")));
        let long = json!({"Cmd": vec!["a".repeat(5000); 500]});
        let cmd = container_create_fields(&long, None).get("cmd").cloned().unwrap();
        assert_eq!(cmd.as_array().unwrap().len(), LIST_RECORDED);
        assert_eq!(cmd[0].as_str().unwrap().len(), ITEM_RECORDED);
    }

    #[test]
    fn versions_are_checked() {
        let daemon = |pairs: &[(&str, &str)]| Daemon::from_env(&Env::from_pairs(pairs.iter().copied()));
        assert_eq!(daemon(&[("DOCKER_VERSION", "24.0.7")]).unwrap().api_version, "1.43");
        assert_eq!(daemon(&[("DOCKER_VERSION", "99")]).unwrap_err().var, "DOCKER_VERSION");
        assert_eq!(daemon(&[("NODE_NAME", "a")]).unwrap().id, daemon(&[("NODE_NAME", "a")]).unwrap().id);
        assert_ne!(daemon(&[("NODE_NAME", "a")]).unwrap().id, daemon(&[("NODE_NAME", "b")]).unwrap().id);
    }
}
