//! The `k8s` emulator: a Kubernetes API server. Port 6443 speaks TLS (a certificate made at
//! start-up, or `TLS_CERT` + `TLS_KEY`) and authorizes as a default cluster does: `/version`
//! and the health checks are public, anything else is 403 for `system:anonymous`, and every
//! token or password is refused (401). Port 8080 is the legacy insecure port, where
//! everything is allowed: discovery, namespaces and pods are listed.
//!
//! Configuration: `K8S_VERSION` (`v1.MINOR.PATCH`; else one of a few releases, fixed per
//! decky).
//!
//! Events: `request` for every request, `auth` for every bearer token (`token`) or Basic
//! credentials (never accepted). Go's answers: title-case headers, then `Date`.

use std::sync::Arc;
use std::time::SystemTime;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::http::Scheme;
use super::http::json_api::{self, ApiServer, Call, HeaderCase, Reply};
use crate::env::{ConfigError, Env};
use crate::event::EndReason;
use crate::listener::{Session, Stream};
use crate::persona::decky_rng;

/// Releases: (git version, git commit, build date, Go version).
const RELEASES: [(&str, &str, &str, &str); 4] = [
    ("v1.27.13", "96b450c75ae3c48037f651b4777646dcca855ed0", "2024-04-16T15:34:03Z", "go1.21.9"),
    ("v1.28.9", "587f5fe8a69b0d15b578eaf478f009247d1c5d47", "2024-04-16T15:30:13Z", "go1.21.9"),
    ("v1.29.4", "55019c83b0fd51ef4ced8c29eec2c4847f896e74", "2024-04-16T15:29:46Z", "go1.21.9"),
    ("v1.30.1", "6911225c3f747e1cd9d109c305436d08b668f086", "2024-05-14T10:42:02Z", "go1.22.2"),
];

/// Namespaces and pods of the cluster (insecure port).
const NAMESPACES: [&str; 5] = ["default", "kube-system", "kube-public", "kube-node-lease", "production"];
const PODS: [(&str, &str, &str); 5] = [
    ("kube-system", "coredns-5dd5756b68", "registry.k8s.io/coredns/coredns:v1.10.1"),
    ("kube-system", "kube-proxy", "registry.k8s.io/kube-proxy"),
    ("kube-system", "etcd", "registry.k8s.io/etcd:3.5.10-0"),
    ("production", "api-7d9f8c6b5", "registry.internal/api:2.14.1"),
    ("production", "postgres-0", "postgres:15"),
];

/// The API server's identity, fixed at start-up.
#[derive(Debug)]
struct ApiServerState {
    release: (String, &'static str, &'static str, &'static str),
    /// The insecure port: no authentication, no authorization.
    insecure: bool,
    /// Flow-control UIDs Go's API server sends with each answer.
    flowschema: String,
    priority_level: String,
    pod_suffix: String,
}

/// One `k8s` port.
pub struct K8s {
    server: ApiServer<ApiServerState>,
}

impl K8s {
    pub fn from_env(env: &Env, scheme: Scheme) -> Result<K8s, ConfigError> {
        let state = Arc::new(ApiServerState::from_env(env, scheme == Scheme::Plain)?);
        let server = match scheme {
            Scheme::Plain => ApiServer::plain(state, HeaderCase::Title),
            Scheme::Tls => ApiServer::tls(state, HeaderCase::Title, env)?,
        };
        Ok(K8s { server })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> std::io::Result<EndReason> {
        self.server.serve(stream, session).await
    }
}

impl ApiServerState {
    fn from_env(env: &Env, insecure: bool) -> Result<ApiServerState, ConfigError> {
        let mut rng = decky_rng(env.decky(), "k8s");
        let (version, commit, date, go) = RELEASES[rng.usize(..RELEASES.len())];
        let release = match env.get("K8S_VERSION").map(str::trim) {
            None => (version.to_owned(), commit, date, go),
            Some(configured) => {
                minor_of(configured).ok_or_else(|| {
                    ConfigError::new(
                        "K8S_VERSION",
                        format!("expected a version such as v1.29.4, got {configured:?}"),
                    )
                })?;
                let known = RELEASES.iter().find(|r| r.0 == configured).copied().unwrap_or(RELEASES[3]);
                (configured.to_owned(), known.1, known.2, known.3)
            }
        };
        Ok(ApiServerState {
            release,
            insecure,
            flowschema: uuid(&mut rng),
            priority_level: uuid(&mut rng),
            pod_suffix: (0..5).map(|_| char::from(b"bcdfghjklmnpqrstvwxz2456789"[rng.usize(..27)])).collect(),
        })
    }

    fn reply(&self, status: StatusCode, body: &Value) -> Reply {
        let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
        text.push('\n');
        Reply::new(status)
            .header("audit-id", uuid(&mut fastrand::Rng::new()))
            .header("cache-control", "no-cache, private")
            .header("content-type", "application/json")
            .header("x-kubernetes-pf-flowschema-uid", &self.flowschema)
            .header("x-kubernetes-pf-prioritylevel-uid", &self.priority_level)
            .header("date", json_api::http_date(SystemTime::now()))
            .body(text)
    }

    fn version(&self) -> Value {
        let (version, commit, date, go) = &self.release;
        json!({
            "major": "1",
            "minor": minor_of(version).unwrap_or_default(),
            "gitVersion": version,
            "gitCommit": commit,
            "gitTreeState": "clean",
            "buildDate": date,
            "goVersion": go,
            "compiler": "gc",
            "platform": "linux/amd64",
        })
    }

    fn route(&self, call: &Call<'_>) -> Reply {
        let path = call.path.trim_end_matches('/');
        let public = matches!(path, "/version" | "/healthz" | "/livez" | "/readyz");
        if public && path != "/version" {
            return Reply::new(StatusCode::OK)
                .header("cache-control", "no-cache, private")
                .header("content-type", "text/plain; charset=utf-8")
                .header("x-content-type-options", "nosniff")
                .header("date", json_api::http_date(SystemTime::now()))
                .body("ok");
        }
        if !self.insecure && !public {
            if call.bearer_token().is_some() || call.basic_credentials().is_some() {
                return self
                    .reply(StatusCode::UNAUTHORIZED, &status("Unauthorized", "Unauthorized", 401, None));
            }
            return self.reply(StatusCode::FORBIDDEN, &forbidden(call.method, path));
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            [""] => self.reply(StatusCode::OK, &root_paths()),
            ["version"] => self.reply(StatusCode::OK, &self.version()),
            ["api"] => self.reply(StatusCode::OK, &json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.96.0.1:6443"}]})),
            ["apis"] => self.reply(StatusCode::OK, &api_groups()),
            ["api", "v1", "namespaces"] => self.reply(StatusCode::OK, &self.namespaces()),
            ["api", "v1", "pods"] => self.reply(StatusCode::OK, &self.pods(None)),
            ["api", "v1", "namespaces", namespace, "pods"] => self.reply(StatusCode::OK, &self.pods(Some(namespace))),
            _ => self.reply(
                StatusCode::NOT_FOUND,
                &status("the server could not find the requested resource", "NotFound", 404, Some(json!({}))),
            ),
        }
    }

    fn namespaces(&self) -> Value {
        let items: Vec<Value> = NAMESPACES
            .iter()
            .map(|name| {
                json!({"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                               "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
            })
            .collect();
        json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "48213"}, "items": items})
    }

    fn pods(&self, namespace: Option<&str>) -> Value {
        let items: Vec<Value> = PODS
            .iter()
            .filter(|(ns, ..)| namespace.is_none_or(|wanted| wanted == *ns))
            .map(|(ns, name, image)| {
                let name = format!("{name}-{}", self.pod_suffix);
                json!({"metadata": {"name": name, "namespace": ns},
                       "spec": {"containers": [{"name": name.split('-').next().unwrap_or("app"), "image": image}]},
                       "status": {"phase": "Running"}})
            })
            .collect();
        json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "48213"}, "items": items})
    }
}

impl json_api::Api for ApiServerState {
    fn respond(&self, call: &Call<'_>) -> Reply {
        let mut reply = self.route(call);
        if let Some(token) = call.bearer_token() {
            reply = reply.event("auth", json_api::bearer_auth_fields(token, false));
        }
        if let Some(attempt) = call.basic_credentials() {
            reply = reply.event("auth", json_api::basic_auth_fields(&attempt, false));
        }
        reply
    }

    fn bad_request(&self) -> &'static [u8] {
        json_api::GO_BAD_REQUEST
    }
}

/// A `Status` object, as the API server reports failures.
fn status(message: &str, reason: &str, code: u16, details: Option<Value>) -> Value {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason});
    if let (Some(object), Some(details)) = (body.as_object_mut(), details) {
        object.insert("details".into(), details);
    }
    if let Some(object) = body.as_object_mut() {
        object.insert("code".into(), code.into());
    }
    body
}

/// The 403 of `system:anonymous`: a resource it cannot list, or a path it cannot get.
fn forbidden(method: &Method, path: &str) -> Value {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let verb = if method == Method::GET { "list" } else { "create" };
    let anonymous = "User \"system:anonymous\"";
    match segments.as_slice() {
        ["api", "v1", "namespaces", namespace, resource, ..] => status(
            &format!(
                "{resource} is forbidden: {anonymous} cannot {verb} resource \"{resource}\" in API group \"\" in the namespace \"{namespace}\""
            ),
            "Forbidden",
            403,
            Some(json!({"kind": resource})),
        ),
        ["api", "v1", resource] => status(
            &format!(
                "{resource} is forbidden: {anonymous} cannot {verb} resource \"{resource}\" in API group \"\" at the cluster scope"
            ),
            "Forbidden",
            403,
            Some(json!({"kind": resource})),
        ),
        _ => status(
            &format!("forbidden: {anonymous} cannot get path \"{path}\""),
            "Forbidden",
            403,
            Some(json!({})),
        ),
    }
}

/// The insecure port's `GET /`: the paths it serves.
fn root_paths() -> Value {
    json!({"paths": ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/apis/batch", "/apis/batch/v1",
                     "/apis/networking.k8s.io", "/apis/rbac.authorization.k8s.io", "/apis/storage.k8s.io",
                     "/healthz", "/livez", "/metrics", "/openapi/v2", "/readyz", "/version"]})
}

fn api_groups() -> Value {
    let groups: Vec<Value> = [
        ("apps", "v1"),
        ("batch", "v1"),
        ("rbac.authorization.k8s.io", "v1"),
        ("networking.k8s.io", "v1"),
        ("storage.k8s.io", "v1"),
    ]
    .iter()
    .map(|(name, version)| {
        let group_version = format!("{name}/{version}");
        json!({"name": name, "versions": [{"groupVersion": group_version, "version": version}],
                   "preferredVersion": {"groupVersion": group_version, "version": version}})
    })
    .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The minor of a `v1.MINOR.PATCH` version.
fn minor_of(version: &str) -> Option<&str> {
    let mut parts = version.strip_prefix("v1.")?.split('.');
    let (minor, patch) = (parts.next()?, parts.next()?);
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (numeric(minor) && numeric(patch) && parts.next().is_none()).then_some(minor)
}

fn uuid(rng: &mut fastrand::Rng) -> String {
    let hex: String = (0..2).map(|_| format!("{:016x}", rng.u64(..))).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked() {
        assert_eq!(minor_of("v1.29.4"), Some("29"));
        assert_eq!(minor_of("1.29.4"), None);
        assert_eq!(minor_of("v1.29"), None);
        let state = |v| ApiServerState::from_env(&Env::from_pairs([("K8S_VERSION", v)]), false);
        assert_eq!(state("v1.26.3").unwrap().version()["gitVersion"], "v1.26.3");
        assert_eq!(state("latest").unwrap_err().var, "K8S_VERSION");
    }

    #[test]
    fn anonymous_is_forbidden_like_a_real_server() {
        let body = forbidden(&Method::GET, "/api/v1/pods");
        assert_eq!(
            body["message"],
            "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
        );
        assert_eq!(body["code"], 403);
        assert_eq!(
            forbidden(&Method::GET, "/api")["message"],
            "forbidden: User \"system:anonymous\" cannot get path \"/api\""
        );
    }
}
