//! What the web server itself says, before any application: the stock default pages of the
//! servers the decky can pose as, their error pages, and the [`Reply`] every page is built
//! into. Everything here is a pure function of its arguments.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::StatusCode;

use crate::event::civil_from_days;

/// One response as a page produces it; the site adds `Date`, `Server`, the lengths and the
/// configured extra headers around it, in the order the posed-as server writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    /// The reason phrase on the HTTP/1 status line: `None` is the standard one, `Some("")`
    /// none at all (Tomcat writes `HTTP/1.1 404 `).
    pub reason: Option<&'static str>,
    pub content_type: &'static str,
    /// Page-specific headers (`Location`, `WWW-Authenticate`, `Set-Cookie`, ...), names in
    /// lowercase, in the order they are written.
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Reply {
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
        Reply { status, reason: None, content_type, headers: Vec::new(), body: body.into() }
    }

    pub fn html(status: StatusCode, body: impl Into<Bytes>) -> Reply {
        Reply::new(status, HTML_UTF8, body)
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// `status` redirecting to `location`, with an empty body (as PHP and servlet
    /// applications answer).
    pub fn redirect(status: StatusCode, location: impl Into<String>) -> Reply {
        Reply::html(status, Bytes::new()).header("location", location)
    }
}

/// `text/html; charset=UTF-8`, what PHP applications send.
pub const HTML_UTF8: &str = "text/html; charset=UTF-8";

/// The kind of server the decky's `Server` header names: it decides the look of the default
/// page and of error pages, and the order of the response headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// Apache httpd; `os` is the parenthesised part of its banner (`Debian`, `Ubuntu`,
    /// `Rocky Linux`, `Unix`), when there is one.
    Apache {
        os: Option<String>,
    },
    Nginx,
    /// Apache Tomcat `version` answering directly (it sends no `Server` header by default).
    Tomcat {
        version: &'static str,
    },
    /// Jetty, as embedded in Jenkins.
    Jetty,
    /// Any other server: plain, neutral pages.
    Other,
}

impl Style {
    /// The style of a front server announcing itself as `server` (`Apache/2.4.57 (Debian)`,
    /// `nginx/1.22.1`, ...).
    pub fn of_server(server: &str) -> Style {
        let lower = server.to_ascii_lowercase();
        if lower.starts_with("apache/") || lower == "apache" {
            let os = server.find('(').and_then(|open| {
                let rest = &server[open + 1..];
                rest.find(')').map(|close| rest[..close].to_owned())
            });
            Style::Apache { os }
        } else if lower.starts_with("nginx") {
            Style::Nginx
        } else if lower.starts_with("jetty") {
            Style::Jetty
        } else {
            Style::Other
        }
    }
}

/// What an error page may mention about the request and the server.
#[derive(Clone, Copy, Debug)]
pub struct ErrorContext<'a> {
    /// The `Server` header, if the server sends one (Apache and nginx sign their pages).
    pub server: Option<&'a str>,
    /// The host the client asked for, already made safe to reflect ([`reflectable_host`]).
    pub host: &'a str,
    pub port: u16,
    pub method: &'a str,
}

/// The server's error page for `status`.
pub fn error_page(style: &Style, status: StatusCode, context: &ErrorContext<'_>) -> Reply {
    match style {
        Style::Apache { .. } => apache_error(status, apache_explanation(status, context.method), context),
        Style::Nginx => nginx_error(status, None, context),
        Style::Tomcat { version } => tomcat_error(status, version),
        Style::Jetty => jetty_error(status, reason(status)),
        Style::Other => other_error(status),
    }
}

/// The answer to a plain-HTTP request on the TLS port, as Apache and nginx word it.
pub fn plain_http_on_tls_port(style: &Style, context: &ErrorContext<'_>) -> Reply {
    let status = StatusCode::BAD_REQUEST;
    match style {
        Style::Nginx => nginx_error(status, Some("The plain HTTP request was sent to HTTPS port"), context),
        _ => apache_error(
            status,
            "<p>Your browser sent a request that this server could not understand.<br />\n\
             Reason: You're speaking plain HTTP to an SSL-enabled server port.<br />\n \
             Instead use the HTTPS scheme to access this URL, please.<br />\n</p>"
                .to_owned(),
            context,
        ),
    }
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Unknown Status")
}

fn apache_explanation(status: StatusCode, method: &str) -> String {
    match status.as_u16() {
        400 => "<p>Your browser sent a request that this server could not understand.<br />\n</p>".to_owned(),
        401 => "<p>This server could not verify that you\nare authorized to access the document\nrequested.  \
                Either you supplied the wrong\ncredentials (e.g., bad password), or your\nbrowser doesn't \
                understand how to supply\nthe credentials required.</p>"
            .to_owned(),
        403 => "<p>You don't have permission to access this resource.</p>".to_owned(),
        404 => "<p>The requested URL was not found on this server.</p>".to_owned(),
        405 => format!("<p>The requested method {} is not allowed for this URL.</p>", html_escape(method)),
        500 => "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\n\
                your request.</p>\n<p>Please contact the server administrator at \n webmaster@localhost to \
                inform them of the time this error occurred,\n and the actions you performed just before this \
                error.</p>\n<p>More information about this error may be available\nin the server error log.</p>"
            .to_owned(),
        503 => "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or \
                capacity\nproblems. Please try again later.</p>"
            .to_owned(),
        _ => format!("<p>{}</p>", reason(status)),
    }
}

fn apache_error(status: StatusCode, explanation: String, context: &ErrorContext<'_>) -> Reply {
    let mut body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>{code} {reason}</title>\n\
         </head><body>\n<h1>{reason}</h1>\n{explanation}\n",
        code = status.as_u16(),
        reason = reason(status),
    );
    if let Some(server) = context.server {
        let _ = write!(
            body,
            "<hr>\n<address>{} Server at {} Port {}</address>\n",
            html_escape(server),
            html_escape(context.host),
            context.port
        );
    }
    body.push_str("</body></html>\n");
    Reply::new(status, "text/html; charset=iso-8859-1", body)
}

fn nginx_error(status: StatusCode, message: Option<&str>, context: &ErrorContext<'_>) -> Reply {
    let code = status.as_u16();
    // nginx words a few statuses its own way.
    let reason = match code {
        405 => "Not Allowed",
        _ => reason(status),
    };
    let (title, detail) = match message {
        Some(message) => (format!("{code} {message}"), format!("<center>{message}</center>\r\n")),
        None => (format!("{code} {reason}"), String::new()),
    };
    let signature = context.server.unwrap_or("nginx");
    // nginx's built-in pages end their lines with CRLF.
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n\
         {detail}<hr><center>{}</center>\r\n</body>\r\n</html>\r\n",
        html_escape(signature)
    );
    Reply::new(status, "text/html", body)
}

/// Tomcat's `ErrorReportValve` page (Tomcat 8.5 and later), with no reason phrase.
fn tomcat_error(status: StatusCode, version: &str) -> Reply {
    let description = match status.as_u16() {
        400 => {
            "The server cannot or will not process the request due to something that is perceived to be a \
             client error (e.g., malformed request syntax, invalid request message framing, or deceptive \
             request routing)."
        }
        401 => {
            "The request has not been applied because it lacks valid authentication credentials for the \
             target resource."
        }
        403 => "The server understood the request but refuses to authorize it.",
        404 => {
            "The origin server did not find a current representation for the target resource or is not \
             willing to disclose that one exists."
        }
        405 => {
            "The method received in the request-line is known by the origin server but not supported by the \
             target resource."
        }
        _ => "The server encountered an unexpected condition that prevented it from fulfilling the request.",
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><title>HTTP Status {code} \u{2013} {reason}</title><style \
         type=\"text/css\">body {{font-family:Tahoma,Arial,sans-serif;}} h1, h2, h3, b \
         {{color:white;background-color:#525D76;}} h1 {{font-size:22px;}} h2 {{font-size:16px;}} h3 \
         {{font-size:14px;}} p {{font-size:12px;}} a {{color:black;}} .line \
         {{height:1px;background-color:#525D76;border:none;}}</style></head><body><h1>HTTP Status {code} \
         \u{2013} {reason}</h1><hr class=\"line\" /><p><b>Type</b> Status Report</p><p><b>Description</b> \
         {description}</p><hr class=\"line\" /><h3>Apache Tomcat/{version}</h3></body></html>",
        code = status.as_u16(),
        reason = reason(status),
    );
    let mut reply = Reply::new(status, "text/html;charset=utf-8", body).header("content-language", "en");
    reply.reason = Some("");
    reply
}

/// Jetty's error page; Jenkins puts its own `message` in it.
pub fn jetty_error(status: StatusCode, message: &str) -> Reply {
    let code = status.as_u16();
    let message = html_escape(message);
    let body = format!(
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n<title>Error \
         {code} {message}</title>\n</head>\n<body><h2>HTTP ERROR {code} {message}</h2>\n<table>\n\
         <tr><th>STATUS:</th><td>{code}</td></tr>\n<tr><th>MESSAGE:</th><td>{message}</td></tr>\n</table>\n\n\
         </body>\n</html>\n"
    );
    Reply::new(status, "text/html;charset=iso-8859-1", body)
}

fn other_error(status: StatusCode) -> Reply {
    let code = status.as_u16();
    let reason = reason(status);
    let body = format!(
        "<html><head><title>{code} {reason}</title></head><body><h1>{reason}</h1><p>The server could not \
         complete your request.</p></body></html>\n"
    );
    Reply::new(status, "text/html", body)
}

/// The page a fresh install of the server shows at `/`.
pub fn stock_page(style: &Style) -> &'static str {
    match style {
        Style::Apache { os: Some(os) } if os == "Debian" => APACHE_DEBIAN,
        Style::Apache { os: Some(os) } if os == "Ubuntu" => APACHE_UBUNTU,
        Style::Apache { os: Some(os) } if os.contains("Rocky") => APACHE_ROCKY,
        Style::Apache { os: Some(os) } if os.contains("Fedora") => APACHE_FEDORA,
        Style::Apache { os: Some(os) } if os.contains("CentOS") || os.contains("Red Hat") => APACHE_CENTOS,
        Style::Nginx => NGINX_WELCOME,
        _ => APACHE_IT_WORKS,
    }
}

/// The validators a static file sends: `Last-Modified` and the `ETag` the server derives
/// from the file's size and modification time.
pub fn static_file_headers(style: &Style, size: usize, modified: SystemTime) -> Vec<(&'static str, String)> {
    let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    let etag = match style {
        // nginx: "<mtime seconds hex>-<size hex>".
        Style::Nginx => format!("\"{:x}-{size:x}\"", since_epoch.as_secs()),
        // Apache: "<size hex>-<mtime microseconds hex>".
        _ => format!("\"{size:x}-{:x}\"", since_epoch.as_micros()),
    };
    vec![("last-modified", http_date(modified)), ("etag", etag), ("accept-ranges", "bytes".to_owned())]
}

/// `t` as an HTTP date (RFC 9110 IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let rem = secs % 86_400;
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A time `days` days and `secs` seconds after the Unix epoch.
pub fn epoch_plus(days: u64, secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(days * 86_400 + secs)
}

/// `text` with the characters that mean something in HTML escaped, so reflected input
/// (a username, a host) stays text.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// The longest host name reflected into pages and redirects.
const MAX_HOST: usize = 255;

/// The `Host` the client sent, if it is a plain host name or address (with an optional
/// port) that is safe to put in a `Location` header or a page; else `fallback`.
pub fn reflectable_host(host: Option<&str>, fallback: &str) -> String {
    let valid = |h: &str| {
        !h.is_empty()
            && h.len() <= MAX_HOST
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
    };
    match host {
        Some(h) if valid(h) => h.to_owned(),
        _ => fallback.to_owned(),
    }
}

/// `host` without a trailing `:port` (what Apache names in its signature).
pub fn host_name(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host.ends_with(']') && host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
        _ => host,
    }
}

/// `text` percent-encoded for a query-string value (unreserved characters kept).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const APACHE_IT_WORKS: &str = "<html><body><h1>It works!</h1></body></html>\n";

const NGINX_WELCOME: &str = "<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href=\"http://nginx.org/\">nginx.org</a>.<br/>
Commercial support is available at
<a href=\"http://nginx.com/\">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
";

const APACHE_DEBIAN: &str = include_str!("pages/apache-debian.html");
const APACHE_UBUNTU: &str = include_str!("pages/apache-ubuntu.html");
const APACHE_ROCKY: &str = include_str!("pages/apache-rocky.html");
const APACHE_FEDORA: &str = include_str!("pages/apache-fedora.html");
const APACHE_CENTOS: &str = include_str!("pages/apache-centos.html");

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ErrorContext<'static> {
        ErrorContext { server: Some("Apache/2.4.57 (Debian)"), host: "web01", port: 80, method: "PUT" }
    }

    #[test]
    fn styles_follow_the_server_banner() {
        assert_eq!(Style::of_server("Apache/2.4.57 (Debian)"), Style::Apache { os: Some("Debian".into()) });
        assert_eq!(Style::of_server("Apache"), Style::Apache { os: None });
        assert_eq!(Style::of_server("nginx/1.18.0 (Ubuntu)"), Style::Nginx);
        assert_eq!(Style::of_server("Jetty(10.0.18)"), Style::Jetty);
        assert_eq!(Style::of_server("Microsoft-IIS/10.0"), Style::Other);
    }

    #[test]
    fn stock_pages_match_the_distribution() {
        let apache = |os: &str| Style::Apache { os: Some(os.into()) };
        assert!(
            stock_page(&apache("Debian")).contains("<title>Apache2 Debian Default Page: It works</title>")
        );
        assert!(
            stock_page(&apache("Ubuntu")).contains("<title>Apache2 Ubuntu Default Page: It works</title>")
        );
        assert!(stock_page(&apache("Rocky Linux")).contains("powered by: Rocky Linux"));
        assert!(stock_page(&apache("Fedora Linux")).contains("Fedora"));
        assert!(stock_page(&apache("CentOS")).contains("CentOS"));
        assert_eq!(stock_page(&apache("Unix")), APACHE_IT_WORKS);
        assert!(stock_page(&Style::Nginx).contains("<title>Welcome to nginx!</title>"));
    }

    #[test]
    fn apache_error_pages_are_signed_like_apache() {
        let page = error_page(&Style::Apache { os: None }, StatusCode::NOT_FOUND, &context());
        assert_eq!(page.content_type, "text/html; charset=iso-8859-1");
        let body = std::str::from_utf8(&page.body).unwrap();
        assert_eq!(
            body,
            "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>404 Not Found</title>\n\
             </head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n<hr>\n\
             <address>Apache/2.4.57 (Debian) Server at web01 Port 80</address>\n</body></html>\n"
        );
        let page = error_page(&Style::Apache { os: None }, StatusCode::METHOD_NOT_ALLOWED, &context());
        assert!(std::str::from_utf8(&page.body).unwrap().contains("The requested method PUT is not allowed"));
    }

    #[test]
    fn nginx_error_pages_name_nginx() {
        let context = ErrorContext { server: Some("nginx/1.22.1"), ..context() };
        let page = error_page(&Style::Nginx, StatusCode::NOT_FOUND, &context);
        assert_eq!(
            std::str::from_utf8(&page.body).unwrap(),
            "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n\
             <hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
        );
        let page = plain_http_on_tls_port(&Style::Nginx, &context);
        let body = std::str::from_utf8(&page.body).unwrap();
        assert!(body.contains("<title>400 The plain HTTP request was sent to HTTPS port</title>"));
        assert!(body.contains("<center>The plain HTTP request was sent to HTTPS port</center>"));
    }

    #[test]
    fn tomcat_error_pages_have_no_reason_phrase() {
        let page = error_page(&Style::Tomcat { version: "9.0.85" }, StatusCode::NOT_FOUND, &context());
        assert_eq!(page.reason, Some(""));
        assert_eq!(page.content_type, "text/html;charset=utf-8");
        assert!(
            std::str::from_utf8(&page.body).unwrap().ends_with("<h3>Apache Tomcat/9.0.85</h3></body></html>")
        );
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(epoch_plus(0, 784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(epoch_plus(19_844, 3_723)), "Wed, 01 May 2024 01:02:03 GMT");
    }

    #[test]
    fn static_file_validators() {
        let modified = epoch_plus(0, 1_700_000_000);
        let apache = static_file_headers(&Style::Apache { os: None }, 45, modified);
        assert_eq!(apache[0], ("last-modified", "Tue, 14 Nov 2023 22:13:20 GMT".to_owned()));
        assert_eq!(apache[1], ("etag", "\"2d-60a24181e4000\"".to_owned()));
        let nginx = static_file_headers(&Style::Nginx, 615, modified);
        assert_eq!(nginx[1], ("etag", "\"6553f100-267\"".to_owned()));
    }

    #[test]
    fn reflected_text_is_made_safe() {
        assert_eq!(html_escape("<b a='x'>&\"</b>"), "&lt;b a=&#039;x&#039;&gt;&amp;&quot;&lt;/b&gt;");
        assert_eq!(reflectable_host(Some("web01.corp:8080"), "d"), "web01.corp:8080");
        assert_eq!(reflectable_host(Some("[::1]:80"), "d"), "[::1]:80");
        assert_eq!(reflectable_host(Some("evil\r\nSet-Cookie: x"), "d"), "d");
        assert_eq!(reflectable_host(Some("a/b"), "d"), "d");
        assert_eq!(reflectable_host(None, "d"), "d");
        assert_eq!(host_name("web01:8080"), "web01");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name("[::1]:443"), "[::1]");
        assert_eq!(url_encode("http://h/wp-admin/"), "http%3A%2F%2Fh%2Fwp-admin%2F");
    }
}
