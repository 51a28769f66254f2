//! The `http` and `https` emulators: a web server (hyper; HTTP/1.1, and HTTP/2 when
//! `HTTP_VERSIONS` names it) that poses as a distribution's Apache or nginx, or as one of a
//! few applications with login pages (WordPress, phpMyAdmin, Tomcat, Jenkins), answers every
//! request as that server would, and records it.
//!
//! * Port 80 of `http` speaks plain HTTP; HTTP/2 there is cleartext with prior knowledge
//!   (h2c), as Caddy and nginx serve it.
//! * Port 443 of `http` and of `https` speaks TLS ([`tls`]), HTTP/2 by ALPN. Plain HTTP sent
//!   there gets the server's "plain HTTP to an SSL port" 400 answer, as Apache and nginx word
//!   it. HTTP/3 (QUIC, 443/udp) is not served: the UDP port runs the generic listener.
//! * A connection whose first line is not HTTP (another protocol's probe, garbage) gets the
//!   server's own 400 page and is closed, as the posed-as server would; hyper is only handed
//!   what is HTTP. Its answers to HTTP/1.0 requests say `HTTP/1.1`, as real servers' do.
//!
//! Events: `request` for every request, `auth` for every login attempt a request carries
//! (form fields, `Authorization: Basic`, JSON, XML-RPC), `bad_request` for a first line that
//! is not HTTP, `tls` for every TLS handshake. Login attempts always fail. Request bodies are
//! read up to [`BODY_CAPTURE`] bytes; every recorded field is bounded.

mod apps;
mod config;
mod credentials;
mod head;
mod io;
pub mod json_api;
mod pages;
mod site;
pub(crate) mod tls;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HOST, USER_AGENT};
use hyper::http::request::Parts;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;

use self::apps::Exchange;
use self::config::{Settings, Versions};
use self::credentials::Credentials;
use self::head::FirstLine;
use self::io::{ClientStream, Http11StatusLine, Peekable};
use self::site::Site;
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields, escape};
use crate::listener::{Session, Stream};

/// Request body bytes kept per request (for credentials and the event); the rest is read
/// and counted, within the connection's byte cap.
pub const BODY_CAPTURE: usize = 16 * 1024;

/// Body bytes written into a `request` event.
const BODY_RECORDED: usize = 8 * 1024;

/// Request-target bytes written into a `request` event.
const TARGET_RECORDED: usize = 8 * 1024;

/// Headers listed in a `request` event, and the bytes of each value kept.
const HEADERS_RECORDED: usize = 48;
const HEADER_VALUE_RECORDED: usize = 1024;

/// Largest HTTP/1 request head (request line and headers) hyper buffers.
const MAX_HEAD_BYTES: usize = 32 * 1024;

/// HTTP/2 limits: concurrent streams, and the size of one request's header list.
const MAX_H2_STREAMS: u32 = 32;
const MAX_H2_HEADER_LIST: u32 = 32 * 1024;

/// Whether the emulator serves plain HTTP or TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Plain,
    Tls,
}

/// One web server port, configured at start-up.
pub struct Http {
    site: Arc<Site>,
    /// `Some` on the TLS port.
    tls: Option<Arc<ServerConfig>>,
    versions: Versions,
}

/// Set once the `http/3` diagnostic is written: it concerns the process, not each port.
static HTTP3_REPORTED: AtomicBool = AtomicBool::new(false);

impl Http {
    pub fn from_env(env: &Env, scheme: Scheme) -> Result<Http, ConfigError> {
        let settings = Settings::from_env(env)?;
        if settings.versions.http3_requested && !HTTP3_REPORTED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "chaff-sensor: HTTP_VERSIONS: http/3 (QUIC) is not served by this sensor; serving HTTP/1.1{} only",
                if settings.versions.http2 { " and HTTP/2" } else { "" }
            );
        }
        let tls = match scheme {
            Scheme::Plain => None,
            Scheme::Tls => Some(tls::server_config(env, &settings, alpn_protocols(settings.versions))?),
        };
        Ok(Http { site: Arc::new(Site::new(&settings)), tls, versions: settings.versions })
    }

    /// Serves one connection: TLS first on the TLS port, then HTTP until either side ends it.
    pub async fn serve(&self, stream: Stream, session: &Session) -> std::io::Result<EndReason> {
        let (client, client_closed) = ClientStream::new(stream);
        let client = Peekable::new(client);
        let served = match &self.tls {
            None => self.serve_http(client, session, false, self.protocols(None)).await,
            Some(config) => self.serve_tls(client, session, config).await,
        };
        io::end_reason(served, &client_closed)
    }

    async fn serve_tls(
        &self,
        mut client: Peekable<ClientStream>,
        session: &Session,
        config: &Arc<ServerConfig>,
    ) -> std::io::Result<()> {
        // A TLS client starts with a handshake record (0x16) or an SSLv2 hello (high bit
        // set); a request line starts with a letter.
        match client.peek_until(|ahead| !ahead.is_empty(), 1).await?.first() {
            None => return Ok(()),
            Some(first) if first.is_ascii_alphabetic() => {
                return self.answer_plain_http(client, session).await;
            }
            Some(_) => {}
        }
        let (stream, settled) = accept_tls(client, session, config).await?;
        let protocols = self.protocols(Some(settled.alpn.as_deref()));
        self.serve_http(Peekable::new(stream), session, true, protocols).await
    }

    /// The HTTP versions to speak: on TLS, what ALPN settled (`Some(alpn)`); in the clear,
    /// what is configured (the version is told from the client's first bytes).
    fn protocols(&self, alpn: Option<Option<&[u8]>>) -> Protocols {
        let Versions { http1, http2, .. } = self.versions;
        match alpn {
            None => Protocols { http1, http2 },
            Some(Some(b"h2")) => Protocols { http1: false, http2: true },
            // No ALPN, or http/1.1: HTTP/1.1 unless only HTTP/2 is served.
            Some(_) => Protocols { http1, http2: !http1 },
        }
    }

    /// Serves HTTP on `io` (decrypted already on the TLS port). Where HTTP/1 may be spoken,
    /// the first line is looked at first: what is not HTTP gets the server's own 400 page.
    async fn serve_http<I>(
        &self,
        mut io: Peekable<I>,
        session: &Session,
        tls: bool,
        protocols: Protocols,
    ) -> std::io::Result<()>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if protocols.http1 {
            let ahead = io.peek_until(head::has_line, head::MAX_REQUEST_LINE).await?;
            match head::classify(ahead) {
                FirstLine::Nothing => return Ok(()),
                FirstLine::Http1 => {}
                FirstLine::Http2Preface if protocols.http2 => {}
                FirstLine::Http2Preface | FirstLine::NotHttp => {
                    let line = truncated(head::first_line(ahead), HEADER_VALUE_RECORDED);
                    session.record("bad_request", bad_request_fields(line, tls));
                    let answer = self.site.bad_request(session.local.port(), SystemTime::now());
                    return write_and_close(io, &answer).await;
                }
            }
        }
        let responder = Responder { site: Arc::clone(&self.site), session: session.clone(), tls };
        let service = service_fn(move |request| {
            let responder = responder.clone();
            async move { Ok::<_, Infallible>(responder.answer(request).await) }
        });
        let io = TokioIo::new(Http11StatusLine::new(io));
        http_builder(protocols).serve_connection(io, service).await.map_err(std::io::Error::other)
    }

    /// Plain HTTP on the TLS port: records the request and answers as the posed-as server
    /// does (a 400 telling to use HTTPS), then closes.
    async fn answer_plain_http(
        &self,
        mut client: Peekable<ClientStream>,
        session: &Session,
    ) -> std::io::Result<()> {
        let ahead = client.peek_until(head::has_head, head::MAX_HEAD).await?;
        match head::parse_head(ahead) {
            Some(parts) => {
                let fields = request_fields(&parts, &CapturedBody::default(), StatusCode::BAD_REQUEST, false);
                session.record("request", fields);
            }
            None => {
                let line = truncated(head::first_line(ahead), HEADER_VALUE_RECORDED);
                session.record("bad_request", bad_request_fields(line, false));
            }
        }
        let answer = self.site.plain_http_on_tls_port(session.local.port(), SystemTime::now());
        write_and_close(client, &answer).await
    }
}

/// Writes the server's own answer and ends the connection.
async fn write_and_close<I: AsyncWrite + Unpin>(mut io: I, answer: &[u8]) -> std::io::Result<()> {
    io.write_all(answer).await?;
    io.shutdown().await
}

/// The ALPN protocols the TLS port offers, preferred first.
fn alpn_protocols(versions: Versions) -> Vec<Vec<u8>> {
    let mut alpn = Vec::new();
    if versions.http2 {
        alpn.push(b"h2".to_vec());
    }
    if versions.http1 {
        alpn.push(b"http/1.1".to_vec());
        alpn.push(b"http/1.0".to_vec());
    }
    alpn
}

/// Which HTTP versions one connection may speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Protocols {
    http1: bool,
    http2: bool,
}

/// The HTTP server for one connection, bounded: request heads, HTTP/2 streams and header
/// lists are limited; responses are written with the header-name case real servers use.
fn http_builder(protocols: Protocols) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().title_case_headers(true).max_buf_size(MAX_HEAD_BYTES).timer(TokioTimer::new());
    builder
        .http2()
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_header_list_size(MAX_H2_HEADER_LIST)
        .max_pending_accept_reset_streams(MAX_H2_STREAMS as usize)
        .timer(TokioTimer::new());
    match protocols {
        Protocols { http1: true, http2: false } => builder.http1_only(),
        Protocols { http1: false, http2: true } => builder.http2_only(),
        _ => builder,
    }
}

/// Answers and records the requests of one connection.
#[derive(Clone)]
struct Responder {
    site: Arc<Site>,
    session: Session,
    tls: bool,
}

impl Responder {
    async fn answer(self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = CapturedBody::read(body).await;
        let credentials = credentials::in_request(&parts.headers, parts.uri.query(), &body.bytes);
        let path =
            String::from_utf8_lossy(&credentials::percent_decode(parts.uri.path().as_bytes())).into_owned();
        let host = pages::reflectable_host(
            host_of(&parts).and_then(|h| std::str::from_utf8(h).ok()),
            self.site.fallback_host(),
        );
        let exchange = Exchange {
            method: &parts.method,
            path: &path,
            host: &host,
            port: self.session.local.port(),
            tls: self.tls,
            body: &body.bytes,
            credentials: &credentials,
        };
        let reply = self.site.respond(&exchange);
        let status = reply.status;
        let close = head::wants_close(parts.version, &parts.headers);
        let response = self.site.frame(reply, SystemTime::now(), close).into_response();
        self.session.record("request", request_fields(&parts, &body, status, exchange.tls));
        for attempt in &credentials {
            self.session.record("auth", auth_fields(attempt, self.site.app_name(), parts.uri.path()));
        }
        response
    }
}

/// A request body as far as it is kept: its first [`BODY_CAPTURE`] bytes, and its size.
#[derive(Debug, Default)]
struct CapturedBody {
    bytes: Vec<u8>,
    size: u64,
}

impl CapturedBody {
    /// Reads the whole body (bounded by the connection's byte cap), keeping its start. A
    /// body cut short by the client keeps what arrived.
    async fn read(mut body: Incoming) -> CapturedBody {
        let mut captured = CapturedBody::default();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                captured.keep(&data);
            }
        }
        captured
    }

    fn keep(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        let room = BODY_CAPTURE.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..room.min(data.len())]);
    }
}

/// The host the client asked for: `Host`, else the request target's authority (HTTP/2's
/// `:authority`, or an absolute-form target).
fn host_of(parts: &Parts) -> Option<&[u8]> {
    parts
        .headers
        .get(HOST)
        .map(|h| h.as_bytes())
        .or_else(|| parts.uri.authority().map(|a| a.as_str().as_bytes()))
}

/// The request target as the client sent it: origin form (`/path?query`) in HTTP/1, or the
/// absolute / authority form of a proxy request; `:path` in HTTP/2.
fn request_target(parts: &Parts) -> String {
    if parts.version == Version::HTTP_2 {
        parts.uri.path_and_query().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned())
    } else {
        parts.uri.to_string()
    }
}

fn version_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "unknown",
    }
}

/// The `request` event's fields.
fn request_fields(parts: &Parts, body: &CapturedBody, status: StatusCode, tls: bool) -> Fields {
    let target = request_target(parts);
    let user_agent = parts.headers.get(USER_AGENT).map(|v| v.as_bytes()).unwrap_or_default();
    Fields::new()
        .text("method", parts.method.as_str())
        .bytes("path", truncated(target.as_bytes(), TARGET_RECORDED))
        .text("version", version_name(parts.version))
        .bytes("host", truncated(host_of(parts).unwrap_or_default(), HEADER_VALUE_RECORDED))
        .bytes("user_agent", truncated(user_agent, HEADER_VALUE_RECORDED))
        .value("headers", headers_list(&parts.headers))
        .num("header_count", parts.headers.len() as u64)
        .bytes("body", truncated(&body.bytes, BODY_RECORDED))
        .num("body_size", body.size)
        .num("status", status.as_u16().into())
        .flag("tls", tls)
}

/// The first [`HEADERS_RECORDED`] headers as `[name, value]` pairs, each value cut at
/// [`HEADER_VALUE_RECORDED`] bytes and escaped unless it is UTF-8.
fn headers_list(headers: &HeaderMap) -> serde_json::Value {
    headers
        .iter()
        .take(HEADERS_RECORDED)
        .map(|(name, value)| {
            let value = truncated(value.as_bytes(), HEADER_VALUE_RECORDED);
            let text = std::str::from_utf8(value).map_or_else(|_| escape(value), str::to_owned);
            serde_json::json!([name.as_str(), text])
        })
        .collect()
}

fn truncated(bytes: &[u8], limit: usize) -> &[u8] {
    &bytes[..bytes.len().min(limit)]
}

/// The `bad_request` event's fields: a first line that is not HTTP.
fn bad_request_fields(line: &[u8], tls: bool) -> Fields {
    Fields::new().bytes("line", line).num("status", StatusCode::BAD_REQUEST.as_u16().into()).flag("tls", tls)
}

/// The `auth` event's fields: one login attempt, which the server refused.
fn auth_fields(attempt: &Credentials, app: &str, path: &str) -> Fields {
    Fields::new()
        .bytes("username", truncated(&attempt.username, HEADER_VALUE_RECORDED))
        .bytes("password", truncated(&attempt.password, HEADER_VALUE_RECORDED))
        .text("method", attempt.carrier.as_str())
        .flag("success", false)
        .text("app", app)
        .bytes("path", truncated(path.as_bytes(), TARGET_RECORDED))
}

/// The TLS handshake of a client that did not start in the clear, recorded as a `tls` event
/// whether it succeeds or not.
async fn accept_tls(
    client: Peekable<ClientStream>,
    session: &Session,
    config: &Arc<ServerConfig>,
) -> std::io::Result<(tokio_rustls::server::TlsStream<Peekable<ClientStream>>, tls::Settled)> {
    let start = match LazyConfigAcceptor::new(Acceptor::default(), client).await {
        Ok(start) => start,
        Err(e) => {
            session.record("tls", tls_failure(None, &e));
            return Err(e);
        }
    };
    let hello = tls::Hello::of(&start.client_hello());
    let stream = match start.into_stream(Arc::clone(config)).await {
        Ok(stream) => stream,
        Err(e) => {
            session.record("tls", tls_failure(Some(&hello), &e));
            return Err(e);
        }
    };
    let settled = tls::Settled::of(stream.get_ref().1);
    session.record("tls", tls_success(&hello, &settled));
    Ok((stream, settled))
}

/// The `tls` event of a completed handshake.
fn tls_success(hello: &tls::Hello, settled: &tls::Settled) -> Fields {
    let fields = hello_fields(Fields::new().flag("success", true), hello)
        .text("version", settled.version.as_str())
        .text("cipher", settled.cipher.as_str());
    match &settled.alpn {
        Some(alpn) => fields.bytes("alpn", alpn),
        None => fields,
    }
}

/// The `tls` event of a failed handshake (`hello` when the ClientHello could be read).
fn tls_failure(hello: Option<&tls::Hello>, error: &std::io::Error) -> Fields {
    let fields = Fields::new().flag("success", false);
    let fields = match hello {
        Some(hello) => hello_fields(fields, hello),
        None => fields,
    };
    fields.text("error", error.to_string())
}

fn hello_fields(fields: Fields, hello: &tls::Hello) -> Fields {
    let fields = match &hello.sni {
        Some(sni) => fields.text("sni", sni.as_str()),
        None => fields,
    };
    if hello.alpn_offered.is_empty() {
        return fields;
    }
    let offered = hello
        .alpn_offered
        .iter()
        .map(|p| serde_json::Value::String(std::str::from_utf8(p).map_or_else(|_| escape(p), str::to_owned)))
        .collect();
    fields.value("alpn_offered", offered)
}

#[cfg(test)]
mod tests {
    use hyper::Method;

    use super::*;

    fn parts(request: Request<()>) -> Parts {
        request.into_parts().0
    }

    #[test]
    fn request_events_are_bounded_and_exact() {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/wp-login.php?x=1")
            .header("Host", "web01")
            .header("User-Agent", "curl/7.88.1")
            .header("X-Binary", hyper::header::HeaderValue::from_bytes(b"a\xffb").unwrap());
        for i in 0..60 {
            request = request.header(format!("x-h{i}"), "v".repeat(2000));
        }
        let parts = parts(request.body(()).unwrap());
        let mut body = CapturedBody::default();
        body.keep(&[b'a'; BODY_CAPTURE]);
        body.keep(b"more");
        let fields = request_fields(&parts, &body, StatusCode::OK, false);
        assert_eq!(fields.get("method"), Some(&"POST".into()));
        assert_eq!(fields.get("path"), Some(&"/wp-login.php?x=1".into()));
        assert_eq!(fields.get("version"), Some(&"HTTP/1.1".into()));
        assert_eq!(fields.get("host"), Some(&"web01".into()));
        assert_eq!(fields.get("user_agent"), Some(&"curl/7.88.1".into()));
        let headers = fields.get("headers").unwrap().as_array().unwrap();
        assert_eq!(headers.len(), HEADERS_RECORDED);
        assert_eq!(headers[2], serde_json::json!(["x-binary", "a\\xffb"]));
        assert_eq!(headers[3][1].as_str().unwrap().len(), HEADER_VALUE_RECORDED);
        assert_eq!(fields.get("header_count"), Some(&63.into()));
        assert_eq!(fields.get("body").unwrap().as_str().unwrap().len(), BODY_RECORDED);
        assert_eq!(fields.get("body_size"), Some(&(BODY_CAPTURE as u64 + 4).into()));
        assert_eq!(body.bytes.len(), BODY_CAPTURE);
    }

    #[test]
    fn targets_keep_the_form_the_client_used() {
        let proxy = parts(Request::get("http://example.com/x?y").body(()).unwrap());
        assert_eq!(request_target(&proxy), "http://example.com/x?y");
        assert_eq!(host_of(&proxy), Some(&b"example.com"[..]));
        let h2 = parts(Request::get("https://web01/a?b").version(Version::HTTP_2).body(()).unwrap());
        assert_eq!(request_target(&h2), "/a?b");
        let star = parts(Request::options("*").body(()).unwrap());
        assert_eq!(request_target(&star), "*");
    }

    #[test]
    fn alpn_follows_the_versions() {
        let versions = |http1, http2| Versions { http1, http2, http3_requested: false };
        assert_eq!(alpn_protocols(versions(true, false)), [&b"http/1.1"[..], b"http/1.0"]);
        assert_eq!(alpn_protocols(versions(true, true))[0], b"h2");
        assert_eq!(alpn_protocols(versions(false, true)), [b"h2"]);
    }
}
