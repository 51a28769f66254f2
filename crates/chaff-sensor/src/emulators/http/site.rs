//! The web site a decky serves: the application it poses as, the front server's own pages
//! (default page, errors), and the framing of every response (`Date`, `Server`, lengths,
//! extra headers) in the order the posed-as server writes them.

use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Method, Response, StatusCode};

use super::apps::{App, Exchange};
use super::config::Settings;
use super::pages::{self, ErrorContext, Reply, Style};

/// The banners of the web servers each distribution ships (`HTTP_DISTRO`); a decky without
/// `SERVER_HEADER` announces one of its distribution's, picked once per decky.
const FRONT_SERVERS: [(&str, &[&str]); 9] = [
    ("debian", &["Apache/2.4.57 (Debian)", "Apache/2.4.62 (Debian)", "nginx/1.22.1"]),
    ("ubuntu22", &["Apache/2.4.52 (Ubuntu)", "nginx/1.18.0 (Ubuntu)"]),
    ("ubuntu20", &["Apache/2.4.41 (Ubuntu)", "nginx/1.18.0 (Ubuntu)"]),
    ("rocky9", &["Apache/2.4.57 (Rocky Linux)", "nginx/1.20.1"]),
    ("centos7", &["Apache/2.4.6 (CentOS)", "nginx/1.20.1"]),
    ("alpine", &["Apache/2.4.58 (Unix)", "nginx/1.24.0"]),
    ("fedora", &["Apache/2.4.58 (Fedora Linux)", "nginx/1.24.0"]),
    ("kali", &["Apache/2.4.58 (Debian)", "nginx/1.24.0"]),
    ("arch", &["Apache/2.4.58 (Unix)", "nginx/1.24.0"]),
];

/// The banners a decky of `distro` may announce (Debian's for an unknown distribution).
pub fn front_servers(distro: Option<&str>) -> &'static [&'static str] {
    let wanted = distro.unwrap_or("debian");
    FRONT_SERVERS.iter().find(|(slug, _)| *slug == wanted).unwrap_or(&FRONT_SERVERS[0]).1
}

/// What Apache allows on a static page.
const APACHE_ALLOW: &str = "GET,POST,OPTIONS,HEAD";

/// Everything the server answers with, fixed at start-up.
#[derive(Debug)]
pub struct Site {
    /// The `Server` header, if the server sends one.
    server: Option<String>,
    /// The front server's look (Apache, nginx, ...).
    front: Style,
    /// Whose header order responses follow: the application server's when it answers
    /// directly (Tomcat, Jenkins), else the front server's.
    framing: Style,
    app: App,
    status: StatusCode,
    custom_body: Option<Bytes>,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    /// The default page's modification time (its `Last-Modified` and `ETag`).
    installed: SystemTime,
    decky: String,
}

impl Site {
    pub fn new(settings: &Settings) -> Site {
        let installed = settings.installed();
        let app = App::new(settings, installed);
        let server = match (&settings.server_header, app.own_server()) {
            (Some(configured), _) => Some(configured.clone()),
            (None, Some(own)) => own,
            (None, None) => {
                Some(settings.pick("server", front_servers(settings.distro.as_deref())).to_owned())
            }
        };
        let front = server.as_deref().map_or(Style::Other, Style::of_server);
        let framing = app.own_style().unwrap_or_else(|| front.clone());
        Site {
            server,
            front,
            framing,
            app,
            status: settings.status,
            custom_body: settings.custom_body.clone().map(Bytes::from),
            extra_headers: settings.extra_headers.clone(),
            installed,
            decky: settings.decky.clone(),
        }
    }

    /// The `Server` header, if any.
    #[cfg(test)]
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// The fake application's name, for `auth` events.
    pub fn app_name(&self) -> &'static str {
        self.app.kind.name()
    }

    /// The host to name in pages when the client named none.
    pub fn fallback_host(&self) -> &str {
        if self.decky.is_empty() { "localhost" } else { &self.decky }
    }

    /// The page for `exchange`: the application's, else the front server's.
    pub fn respond(&self, exchange: &Exchange<'_>) -> Reply {
        self.app.respond(exchange).unwrap_or_else(|| self.front_server(exchange))
    }

    /// What the server writes to a client speaking plain HTTP to the TLS port, then closes:
    /// Apache's mod_ssl answers as to an HTTP/0.9 request, with the page alone (naming its
    /// own server name); nginx and others with a whole 400 response.
    pub fn plain_http_on_tls_port(&self, port: u16, now: SystemTime) -> Vec<u8> {
        let context =
            ErrorContext { server: self.server.as_deref(), host: self.fallback_host(), port, method: "GET" };
        let reply = pages::plain_http_on_tls_port(&self.front, &context);
        match self.front {
            Style::Apache { .. } => reply.body.to_vec(),
            _ => self.frame(reply, now, true).to_http1(),
        }
    }

    /// The answer to a first line that is not HTTP: the server's 400 page, closing.
    pub fn bad_request(&self, port: u16, now: SystemTime) -> Vec<u8> {
        let context =
            ErrorContext { server: self.server.as_deref(), host: self.fallback_host(), port, method: "" };
        let reply = pages::error_page(&self.framing, StatusCode::BAD_REQUEST, &context);
        self.frame(reply, now, true).to_http1()
    }

    fn error_context<'a>(&'a self, exchange: &Exchange<'a>) -> ErrorContext<'a> {
        ErrorContext {
            server: self.server.as_deref(),
            host: pages::host_name(exchange.host),
            port: exchange.port,
            method: exchange.method.as_str(),
        }
    }

    /// What the front server answers itself: the default page at `/`, 404 elsewhere.
    fn front_server(&self, exchange: &Exchange<'_>) -> Reply {
        let context = self.error_context(exchange);
        let error = |status| pages::error_page(&self.front, status, &context);
        let apache = matches!(self.front, Style::Apache { .. });
        let method = exchange.method;
        if method == Method::OPTIONS && apache {
            return Reply::new(StatusCode::OK, "text/html", Bytes::new()).header("allow", APACHE_ALLOW);
        }
        if method != Method::GET && method != Method::HEAD && method != Method::POST {
            let reply = error(StatusCode::METHOD_NOT_ALLOWED);
            return if apache { reply.header("allow", APACHE_ALLOW) } else { reply };
        }
        match exchange.path {
            // nginx serves static files to GET and HEAD only.
            "/" | "/index.html" if method == Method::POST && self.front == Style::Nginx => {
                error(StatusCode::METHOD_NOT_ALLOWED)
            }
            "/" | "/index.html" => self.default_page(&context),
            "/server-status" | "/server-info" if apache => error(StatusCode::FORBIDDEN),
            _ => error(StatusCode::NOT_FOUND),
        }
    }

    /// The page at `/`: `CUSTOM_BODY`, else the server's stock page, with `RESPONSE_CODE`
    /// (a stock error page when that is not a success).
    fn default_page(&self, context: &ErrorContext<'_>) -> Reply {
        let status = self.status;
        let mut reply = match &self.custom_body {
            Some(body) => Reply::new(status, content_type_of(body), body.clone()),
            None if status.is_success() => {
                Reply::new(status, "text/html", Bytes::from_static(pages::stock_page(&self.front).as_bytes()))
            }
            None => pages::error_page(&self.front, status, context),
        };
        if status.is_success() {
            reply.headers.extend(pages::static_file_headers(&self.front, reply.body.len(), self.installed));
            if matches!(self.front, Style::Apache { .. }) {
                reply.headers.push(("vary", "Accept-Encoding".to_owned()));
            }
        }
        // A 401 without a challenge would be no 401 any client could answer.
        if status == StatusCode::UNAUTHORIZED
            && !self.extra_headers.iter().any(|(n, _)| n == WWW_AUTHENTICATE)
        {
            reply.headers.push(("www-authenticate", "Basic realm=\"Restricted Content\"".to_owned()));
        }
        reply
    }

    /// `reply` framed like the posed-as server: `Date` and `Server`, the lengths, the page's
    /// headers, `Connection: close` when the exchange ends (`close`), then `EXTRA_HEADERS`
    /// (replacing headers of the same name).
    pub fn frame(&self, reply: Reply, now: SystemTime, close: bool) -> Framed {
        let Reply { status, reason, content_type, headers: page_headers, body } = reply;
        // These statuses carry no content.
        let body = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            None
        } else {
            Some(body)
        };
        let date = pages::http_date(now);
        let length = body.as_ref().map(|b| b.len().to_string());
        let server = self.server.as_deref().map(|s| ("server", s));
        let page = page_headers.iter().map(|(n, v)| (*n, v.as_str()));
        let content_type = length.as_ref().map(|_| ("content-type", content_type));
        let content_length = length.as_deref().map(|l| ("content-length", l));
        let connection = close.then_some(("connection", "close"));
        let mut ordered: Vec<(&str, &str)> = Vec::with_capacity(page_headers.len() + 6);
        match self.framing {
            Style::Apache { .. } | Style::Other => {
                ordered.push(("date", &date));
                ordered.extend(server);
                ordered.extend(page);
                ordered.extend(content_length);
                ordered.extend(connection);
                ordered.extend(content_type);
            }
            Style::Nginx => {
                ordered.extend(server);
                ordered.push(("date", &date));
                ordered.extend(content_type);
                ordered.extend(content_length);
                ordered.extend(connection);
                ordered.extend(page);
            }
            Style::Tomcat { .. } => {
                ordered.extend(content_type);
                ordered.extend(page);
                ordered.extend(content_length);
                ordered.push(("date", &date));
                ordered.extend(connection);
                ordered.extend(server);
            }
            Style::Jetty => {
                ordered.push(("date", &date));
                ordered.extend(page);
                ordered.extend(content_type);
                ordered.extend(content_length);
                ordered.extend(connection);
                ordered.extend(server);
            }
        }
        let mut headers = HeaderMap::with_capacity(ordered.len() + self.extra_headers.len());
        for (name, value) in ordered {
            // Page headers are built from safe text; anything that still is not a valid
            // header value is dropped rather than sent broken.
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        for (name, _) in &self.extra_headers {
            headers.remove(name);
        }
        for (name, value) in &self.extra_headers {
            headers.append(name.clone(), value.clone());
        }
        Framed { status, reason, headers, body: body.unwrap_or_default() }
    }
}

/// A response ready to go: handed to hyper, or written by the server itself.
#[derive(Debug)]
pub struct Framed {
    pub status: StatusCode,
    reason: Option<&'static str>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Framed {
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        if let Some(reason) = self.reason.and_then(|r| hyper::ext::ReasonPhrase::try_from(r.as_bytes()).ok())
        {
            response.extensions_mut().insert(reason);
        }
        response
    }

    /// The response as HTTP/1.1 bytes, header names in title case as hyper writes them.
    pub fn to_http1(&self) -> Vec<u8> {
        let reason = self.reason.or(self.status.canonical_reason()).unwrap_or_default();
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", self.status.as_str()).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(title_case(name.as_str()).as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// `content-type` as `Content-Type`.
fn title_case(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let c = if upper { c.to_ascii_uppercase() } else { c };
            upper = c == '-';
            c
        })
        .collect()
}

/// The media type of a configured body: JSON when it parses as JSON, else HTML.
fn content_type_of(body: &[u8]) -> &'static str {
    let trimmed = body.trim_ascii_start();
    let looks_json = trimmed.starts_with(b"{") || trimmed.starts_with(b"[");
    if looks_json && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        "application/json"
    } else {
        "text/html"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulators::http::credentials::Credentials;
    use crate::env::Env;

    fn site(pairs: &[(&str, &str)]) -> Site {
        Site::new(&Settings::from_env(&Env::from_pairs(pairs.iter().copied())).unwrap())
    }

    fn exchange<'a>(method: &'a Method, path: &'a str) -> Exchange<'a> {
        const NONE: &[Credentials] = &[];
        Exchange { method, path, host: "web01:8080", port: 80, tls: false, body: b"", credentials: NONE }
    }

    fn header_names(response: &Response<Full<Bytes>>) -> Vec<&str> {
        response.headers().keys().map(HeaderName::as_str).collect()
    }

    #[test]
    fn servers_follow_the_distribution_and_configuration() {
        for distro in ["debian", "ubuntu22", "rocky9", "alpine"] {
            let server = site(&[("NODE_NAME", "d"), ("HTTP_DISTRO", distro)]).server().unwrap().to_owned();
            assert!(front_servers(Some(distro)).contains(&server.as_str()), "{distro}: {server}");
        }
        assert_eq!(front_servers(Some("gentoo")), front_servers(Some("debian")));
        assert_eq!(site(&[("SERVER_HEADER", "Microsoft-IIS/10.0")]).server(), Some("Microsoft-IIS/10.0"));
        assert_eq!(site(&[("FAKE_APP", "tomcat")]).server(), None);
        assert!(site(&[("FAKE_APP", "jenkins")]).server().unwrap().starts_with("Jetty("));
        let servers: std::collections::HashSet<String> = (0..40)
            .map(|i| site(&[("NODE_NAME", &format!("decky-{i}"))]).server().unwrap().to_owned())
            .collect();
        assert!(servers.len() > 1, "deckies differ: {servers:?}");
    }

    #[test]
    fn default_page_and_errors() {
        let apache = site(&[("SERVER_HEADER", "Apache/2.4.57 (Debian)")]);
        let home = apache.respond(&exchange(&Method::GET, "/"));
        assert_eq!(home.status, StatusCode::OK);
        assert!(std::str::from_utf8(&home.body).unwrap().contains("Apache2 Debian Default Page"));
        let missing = apache.respond(&exchange(&Method::GET, "/admin"));
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(std::str::from_utf8(&missing.body).unwrap().contains("Server at web01 Port 80"));
        let options = apache.respond(&exchange(&Method::OPTIONS, "/"));
        assert_eq!((options.status, options.headers[0].1.as_str()), (StatusCode::OK, APACHE_ALLOW));
        assert_eq!(apache.respond(&exchange(&Method::DELETE, "/")).status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(apache.respond(&exchange(&Method::GET, "/server-status")).status, StatusCode::FORBIDDEN);

        let nginx = site(&[("SERVER_HEADER", "nginx/1.22.1")]);
        assert_eq!(nginx.respond(&exchange(&Method::POST, "/")).status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(nginx.respond(&exchange(&Method::OPTIONS, "/")).status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn response_code_and_custom_body() {
        let locked = site(&[("SERVER_HEADER", "Apache/2.4.57 (Debian)"), ("RESPONSE_CODE", "401")]);
        let page = locked.respond(&exchange(&Method::GET, "/"));
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(std::str::from_utf8(&page.body).unwrap().contains("<title>401 Unauthorized</title>"));
        assert!(
            page.headers.contains(&("www-authenticate", "Basic realm=\"Restricted Content\"".to_owned()))
        );

        let custom = site(&[("CUSTOM_BODY", "{\"status\":\"ok\"}"), ("RESPONSE_CODE", "503")]);
        let page = custom.respond(&exchange(&Method::GET, "/"));
        assert_eq!((page.status, page.content_type), (StatusCode::SERVICE_UNAVAILABLE, "application/json"));
        assert_eq!(&page.body[..], b"{\"status\":\"ok\"}");
        assert_eq!(content_type_of(b"<h1>hi</h1>"), "text/html");
        assert_eq!(content_type_of(b"{broken"), "text/html");
    }

    #[test]
    fn responses_are_framed_like_the_server() {
        let now = pages::epoch_plus(0, 1_700_000_000);
        let apache = site(&[("SERVER_HEADER", "Apache/2.4.57 (Debian)")]);
        let response = apache.frame(apache.respond(&exchange(&Method::GET, "/")), now, false).into_response();
        assert_eq!(
            header_names(&response),
            [
                "date",
                "server",
                "last-modified",
                "etag",
                "accept-ranges",
                "vary",
                "content-length",
                "content-type"
            ]
        );
        assert_eq!(response.headers()["date"], "Tue, 14 Nov 2023 22:13:20 GMT");

        let nginx = site(&[("SERVER_HEADER", "nginx/1.22.1")]);
        let response =
            nginx.frame(nginx.respond(&exchange(&Method::GET, "/nope")), now, false).into_response();
        assert_eq!(header_names(&response), ["server", "date", "content-type", "content-length"]);

        let tomcat = site(&[("FAKE_APP", "tomcat")]);
        let response =
            tomcat.frame(tomcat.respond(&exchange(&Method::GET, "/nope")), now, false).into_response();
        assert_eq!(header_names(&response), ["content-type", "content-language", "content-length", "date"]);
        assert_eq!(response.extensions().get::<hyper::ext::ReasonPhrase>().unwrap().as_bytes(), b"");
    }

    #[test]
    fn extra_headers_come_last_and_replace_their_namesakes() {
        let s = site(&[
            ("SERVER_HEADER", "nginx/1.22.1"),
            ("EXTRA_HEADERS", r#"{"X-Powered-By": "PHP/8.2.7", "Content-Type": "text/plain"}"#),
        ]);
        let response =
            s.frame(s.respond(&exchange(&Method::GET, "/")), SystemTime::now(), false).into_response();
        let names = header_names(&response);
        assert_eq!(&names[names.len() - 2..], ["x-powered-by", "content-type"]);
        assert_eq!(response.headers().get_all("content-type").iter().count(), 1);
        assert_eq!(response.headers()["content-type"], "text/plain");
    }

    #[test]
    fn answers_written_without_the_http_library() {
        let now = pages::epoch_plus(0, 1_700_000_000);
        let apache = site(&[("NODE_NAME", "web01"), ("SERVER_HEADER", "Apache/2.4.57 (Debian)")]);
        let raw = String::from_utf8(apache.plain_http_on_tls_port(443, now)).unwrap();
        assert!(raw.starts_with("<!DOCTYPE HTML PUBLIC"), "mod_ssl answers with the page alone: {raw}");
        assert!(raw.contains("<address>Apache/2.4.57 (Debian) Server at web01 Port 443</address>"));

        let nginx = site(&[("SERVER_HEADER", "nginx/1.22.1")]);
        let raw = String::from_utf8(nginx.plain_http_on_tls_port(443, now)).unwrap();
        assert!(
            raw.starts_with(
                "HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n\
             Content-Type: text/html\r\nContent-Length: 255\r\nConnection: close\r\n\r\n<html>"
            ),
            "{raw}"
        );

        let raw = String::from_utf8(apache.bad_request(80, now)).unwrap();
        assert!(raw.starts_with("HTTP/1.1 400 Bad Request\r\nDate: "), "{raw}");
        assert!(raw.contains("\r\nConnection: close\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"));
        assert_eq!(title_case("www-authenticate"), "Www-Authenticate");
    }

    #[test]
    fn no_content_statuses_have_no_body() {
        let s = site(&[("RESPONSE_CODE", "204")]);
        let response =
            s.frame(s.respond(&exchange(&Method::GET, "/")), SystemTime::now(), false).into_response();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(!response.headers().contains_key("content-length"));
    }
}
