//! The server under the JSON REST API emulators (`elasticsearch`, `docker_api`, `k8s`):
//! hyper on the client's stream, in the clear or over TLS (a certificate configured by
//! `TLS_CERT` + `TLS_KEY`, else made at start-up, as the web server's), every request
//! recorded as a `request` event like the web server's, then the API's own events.
//!
//! Unlike the web server, the answer is the API's to the byte: its headers in its order
//! (the server adds `Content-Length` last and no `Date`), lower- or title-case names, and
//! the status line's version as hyper writes it (`HTTP/1.0` to an HTTP/1.0 request, as Go
//! and Netty do).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};

use super::config::Settings;
use super::credentials::{self, Credentials};
use super::io::{ClientStream, Peekable, end_reason};
pub use super::pages::http_date;
use super::{
    CapturedBody, MAX_H2_HEADER_LIST, MAX_H2_STREAMS, MAX_HEAD_BYTES, accept_tls, head, request_fields, tls,
    write_and_close,
};
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream};

/// Bytes of a captured credential or token written into an `auth` event.
pub const CREDENTIAL_RECORDED: usize = 1024;

/// What Go's HTTP server answers to plain HTTP on a TLS port (Docker's 2376, Kubernetes'
/// 6443 are Go servers).
const GO_PLAIN_HTTP_ON_TLS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// What Go's HTTP server answers to a first line that is not HTTP (the wording of the Go
/// releases fingerprinting tools know).
pub const GO_BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n400 Bad Request";

/// One request, as the API sees it.
pub struct Call<'a> {
    pub method: &'a Method,
    /// The path, percent-decoded (lossily to UTF-8).
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The body's first [`super::BODY_CAPTURE`] bytes.
    pub body: &'a [u8],
    pub tls: bool,
}

impl Call<'_> {
    /// The `Authorization: Basic` credentials of the request, if any.
    pub fn basic_credentials(&self) -> Option<Credentials> {
        self.headers.get_all(AUTHORIZATION).iter().find_map(|v| credentials::basic(v.as_bytes()))
    }

    /// The token of an `Authorization: Bearer` header, if any.
    pub fn bearer_token(&self) -> Option<&[u8]> {
        self.headers.get_all(AUTHORIZATION).iter().find_map(|value| bearer(value.as_bytes()))
    }

    /// The value of query parameter `name` (not decoded), if present.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }
}

/// The token of an `Authorization: Bearer <token>` value.
fn bearer(authorization: &[u8]) -> Option<&[u8]> {
    let text = authorization.trim_ascii();
    let space = text.iter().position(|&b| b == b' ')?;
    let (scheme, token) = text.split_at(space);
    let token = token.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
}

/// The fields of an `auth` event for `Authorization: Basic` credentials, which `success`
/// tells whether the API accepted.
pub fn basic_auth_fields(attempt: &Credentials, success: bool) -> Fields {
    Fields::new()
        .bytes("username", bounded(&attempt.username))
        .bytes("password", bounded(&attempt.password))
        .text("method", "basic")
        .flag("success", success)
}

/// The fields of an `auth` event for a bearer token.
pub fn bearer_auth_fields(token: &[u8], success: bool) -> Fields {
    Fields::new().bytes("token", bounded(token)).text("method", "bearer").flag("success", success)
}

/// A query parameter's value, percent-decoded (`+` is a space) and cut at
/// [`CREDENTIAL_RECORDED`] bytes.
pub fn query_value(value: &str) -> Vec<u8> {
    bounded(&credentials::percent_decode(value.as_bytes())).to_vec()
}

/// `bytes` cut at [`CREDENTIAL_RECORDED`].
pub fn bounded(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(CREDENTIAL_RECORDED)]
}

/// The API's answer to one request, and the protocol events it makes (recorded after the
/// `request` event, in order).
pub struct Reply {
    pub status: StatusCode,
    /// Written in this order; `Content-Length` follows them.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub events: Vec<(&'static str, Fields)>,
}

impl Reply {
    pub fn new(status: StatusCode) -> Reply {
        Reply { status, headers: Vec::new(), body: Bytes::new(), events: Vec::new() }
    }

    /// Adds a header; `value` must be a valid header value (the APIs write only their own
    /// text and printable configured values; anything else is left out).
    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> Reply {
        if let Ok(value) = HeaderValue::from_str(value.as_ref()) {
            self.headers.push((HeaderName::from_static(name), value));
        }
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = body.into();
        self
    }

    pub fn event(mut self, kind: &'static str, fields: Fields) -> Reply {
        self.events.push((kind, fields));
        self
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        response
    }
}

/// A JSON REST API.
pub trait Api: Send + Sync + 'static {
    /// Answers one request. Must not block.
    fn respond(&self, call: &Call<'_>) -> Reply;

    /// The server's whole answer to a connection whose first line is not HTTP (then closed).
    fn bad_request(&self) -> &'static [u8];
}

/// How the API's server writes headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderCase {
    /// `content-type` (Netty).
    Lower,
    /// `Content-Type` (Go).
    Title,
}

/// One API port: the API and, on a TLS port, the TLS configuration.
pub struct ApiServer<A> {
    api: Arc<A>,
    tls: Option<Arc<ServerConfig>>,
    case: HeaderCase,
}

impl<A: Api> ApiServer<A> {
    pub fn plain(api: Arc<A>, case: HeaderCase) -> ApiServer<A> {
        ApiServer { api, tls: None, case }
    }

    /// The API over TLS, HTTP/2 offered by ALPN; the certificate is `TLS_CERT` + `TLS_KEY`,
    /// else one made for `TLS_CN` or the decky's name.
    pub fn tls(api: Arc<A>, case: HeaderCase, env: &Env) -> Result<ApiServer<A>, ConfigError> {
        let settings = Settings::from_env(env)?;
        let config = tls::server_config(env, &settings, vec![b"h2".to_vec(), b"http/1.1".to_vec()])?;
        Ok(ApiServer { api, tls: Some(config), case })
    }

    /// Serves one connection until either side ends it.
    pub async fn serve(&self, stream: Stream, session: &Session) -> std::io::Result<EndReason> {
        let (client, client_closed) = ClientStream::new(stream);
        let client = Peekable::new(client);
        let served = match &self.tls {
            None => self.serve_http(client, session, false, None).await,
            Some(config) => self.serve_tls(client, session, config).await,
        };
        end_reason(served, &client_closed)
    }

    async fn serve_tls(
        &self,
        mut client: Peekable<ClientStream>,
        session: &Session,
        config: &Arc<ServerConfig>,
    ) -> std::io::Result<()> {
        match client.peek_until(|ahead| !ahead.is_empty(), 1).await?.first() {
            None => return Ok(()),
            Some(first) if first.is_ascii_alphabetic() => return answer_plain_http(client, session).await,
            Some(_) => {}
        }
        let (stream, settled) = accept_tls(client, session, config).await?;
        let http2 = settled.alpn.as_deref() == Some(b"h2");
        self.serve_http(Peekable::new(stream), session, true, Some(http2)).await
    }

    /// Serves HTTP on `io`; `http2` is what ALPN settled on TLS, `None` in the clear (the
    /// version is then told from the client's first bytes).
    async fn serve_http<I>(
        &self,
        mut io: Peekable<I>,
        session: &Session,
        tls: bool,
        http2: Option<bool>,
    ) -> std::io::Result<()>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if http2 != Some(true) {
            let ahead = io.peek_until(head::has_line, head::MAX_REQUEST_LINE).await?;
            match head::classify(ahead) {
                head::FirstLine::Nothing => return Ok(()),
                head::FirstLine::Http1 | head::FirstLine::Http2Preface => {}
                head::FirstLine::NotHttp => {
                    let line = super::truncated(head::first_line(ahead), super::HEADER_VALUE_RECORDED);
                    session.record("bad_request", super::bad_request_fields(line, tls));
                    return write_and_close(io, self.api.bad_request()).await;
                }
            }
        }
        let api = Arc::clone(&self.api);
        let session = session.clone();
        let service = service_fn(move |request| {
            let (api, session) = (Arc::clone(&api), session.clone());
            async move { Ok::<_, Infallible>(answer(&*api, &session, tls, request).await) }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .title_case_headers(self.case == HeaderCase::Title)
            .auto_date_header(false)
            .max_buf_size(MAX_HEAD_BYTES)
            .timer(TokioTimer::new());
        builder
            .http2()
            .auto_date_header(false)
            .max_concurrent_streams(MAX_H2_STREAMS)
            .max_header_list_size(MAX_H2_HEADER_LIST)
            .max_pending_accept_reset_streams(MAX_H2_STREAMS as usize)
            .timer(TokioTimer::new());
        let builder = match http2 {
            None => builder,
            Some(true) => builder.http2_only(),
            Some(false) => builder.http1_only(),
        };
        builder.serve_connection(TokioIo::new(io), service).await.map_err(std::io::Error::other)
    }
}

/// Reads one request, asks the API, records `request` then the API's events.
async fn answer<A: Api>(
    api: &A,
    session: &Session,
    tls: bool,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = CapturedBody::read(body).await;
    let path =
        String::from_utf8_lossy(&credentials::percent_decode(parts.uri.path().as_bytes())).into_owned();
    let call = Call {
        method: &parts.method,
        path: &path,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body.bytes,
        tls,
    };
    let reply = api.respond(&call);
    session.record("request", request_fields(&parts, &body, reply.status, tls));
    let mut reply = reply;
    for (kind, fields) in std::mem::take(&mut reply.events) {
        session.record(kind, fields);
    }
    reply.into_response()
}

/// Plain HTTP on the TLS port: recorded, answered as Go's server does, and closed.
async fn answer_plain_http(mut client: Peekable<ClientStream>, session: &Session) -> std::io::Result<()> {
    let ahead = client.peek_until(head::has_head, head::MAX_HEAD).await?;
    match head::parse_head(ahead) {
        Some(parts) => {
            let fields = request_fields(&parts, &CapturedBody::default(), StatusCode::BAD_REQUEST, false);
            session.record("request", fields);
        }
        None => {
            let line = super::truncated(head::first_line(ahead), super::HEADER_VALUE_RECORDED);
            session.record("bad_request", super::bad_request_fields(line, false));
        }
    }
    write_and_close(client, GO_PLAIN_HTTP_ON_TLS).await
}

/// A JSON document with Go's `encoding/json` encoder ending (a newline).
pub fn json_line(value: &serde_json::Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(b"Bearer abc.def"), Some(&b"abc.def"[..]));
        assert_eq!(bearer(b"bearer   tok "), Some(&b"tok"[..]));
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Basic YWRtaW4="), None);
        assert_eq!(bearer(b"Bearer"), None);
    }

    #[test]
    fn replies_end_with_their_length() {
        let reply = Reply::new(StatusCode::OK).header("content-type", "application/json").body("{}");
        let reply = reply.header("bad", "a\nb");
        let response = reply.into_response();
        let names: Vec<_> = response.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["content-type", "content-length"]);
        assert_eq!(response.headers()[CONTENT_LENGTH], "2");
    }

    #[test]
    fn query_parameters() {
        let headers = HeaderMap::new();
        let call = Call {
            method: &Method::GET,
            path: "/",
            query: Some("pretty&v=true&format=json"),
            headers: &headers,
            body: b"",
            tls: false,
        };
        assert_eq!(call.query_param("v"), Some("true"));
        assert_eq!(call.query_param("pretty"), Some(""));
        assert_eq!(call.query_param("h"), None);
    }
}
