//! The start of an HTTP/1 request, looked at before the HTTP library takes over: is it HTTP
//! at all, and (for the answers the server writes itself) what does its head say.

use hyper::header::{CONNECTION, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Request, Uri, Version};

/// The longest request line looked at (Apache's limit is 8190 bytes).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;

/// The longest request head read by the server itself (on the TLS port, for plain HTTP).
pub const MAX_HEAD: usize = 16 * 1024;

/// What the first line of a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstLine {
    /// The client closed before sending a line.
    Nothing,
    /// `METHOD target HTTP/1.x`.
    Http1,
    /// The HTTP/2 connection preface (`PRI * HTTP/2.0`).
    Http2Preface,
    /// Anything else: another protocol, garbage, or a line too long.
    NotHttp,
}

/// Whether `ahead` holds a whole first line (leading empty lines are skipped, as servers
/// do).
pub fn has_line(ahead: &[u8]) -> bool {
    skip_empty_lines(ahead).contains(&b'\n')
}

/// Whether `ahead` holds a whole request head.
pub fn has_head(ahead: &[u8]) -> bool {
    let head = skip_empty_lines(ahead);
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

fn skip_empty_lines(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(bytes.len());
    &bytes[start..]
}

/// The first line of `ahead`, without its line end.
pub fn first_line(ahead: &[u8]) -> &[u8] {
    let rest = skip_empty_lines(ahead);
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end])
}

/// Classifies what the client sent first (`ahead`, as read by [`has_line`]).
pub fn classify(ahead: &[u8]) -> FirstLine {
    if skip_empty_lines(ahead).is_empty() {
        return FirstLine::Nothing;
    }
    if !has_line(ahead) {
        return FirstLine::NotHttp;
    }
    let line = first_line(ahead);
    if line == b"PRI * HTTP/2.0" {
        return FirstLine::Http2Preface;
    }
    match request_line(line) {
        Some(_) => FirstLine::Http1,
        None => FirstLine::NotHttp,
    }
}

/// `METHOD SP target SP HTTP/1.x`, split; `None` unless it is one.
fn request_line(line: &[u8]) -> Option<(Method, &[u8], Version)> {
    let mut parts = line.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || target.is_empty() || target.iter().any(|b| b.is_ascii_control()) {
        return None;
    }
    let version = match version {
        b"HTTP/1.1" => Version::HTTP_11,
        b"HTTP/1.0" => Version::HTTP_10,
        _ => return None,
    };
    Some((Method::from_bytes(method).ok()?, target, version))
}

/// The head of a request the server answers itself, as the HTTP library would have parsed
/// it (headers that are not valid are left out); `None` if it is not an HTTP/1 request.
pub fn parse_head(head: &[u8]) -> Option<Parts> {
    let head = skip_empty_lines(head);
    let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let (method, target, version) = request_line(lines.next()?)?;
    let mut request = Request::builder().method(method).uri(Uri::try_from(target).ok()?).version(version);
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            request = request.header(name, value);
        }
    }
    request.body(()).ok().map(|r| r.into_parts().0)
}

/// Whether the client asked for the connection to end after this request: HTTP/1.0
/// without `Connection: keep-alive`, or an HTTP/1.1 request with `Connection: close`.
/// Never for HTTP/2, which has no connection headers.
pub fn wants_close(version: Version, headers: &HeaderMap) -> bool {
    if version != Version::HTTP_10 && version != Version::HTTP_11 {
        return false;
    }
    let has_token = |token: &str| {
        headers.get_all(CONNECTION).iter().any(|value| {
            value.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has_token("close") || (version == Version::HTTP_10 && !has_token("keep-alive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines() {
        assert_eq!(classify(b""), FirstLine::Nothing);
        assert_eq!(classify(b"\r\n"), FirstLine::Nothing);
        assert_eq!(classify(b"GET / HTTP/1.0\r\n\r\n"), FirstLine::Http1);
        assert_eq!(classify(b"\r\nPOST /x?y=1 HTTP/1.1\r\nHost: a\r\n"), FirstLine::Http1);
        assert_eq!(classify(b"PROPFIND /dav HTTP/1.1\n"), FirstLine::Http1);
        assert_eq!(classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), FirstLine::Http2Preface);
        assert_eq!(classify(b"OPTIONS / RTSP/1.0\r\n"), FirstLine::NotHttp);
        assert_eq!(classify(b"HELP\r\n"), FirstLine::NotHttp);
        assert_eq!(classify(b"GET /\r\n"), FirstLine::NotHttp);
        assert_eq!(classify(b"GET / HTTP/1.1"), FirstLine::NotHttp);
        assert_eq!(classify(b"GET  / HTTP/1.1\r\n"), FirstLine::NotHttp);
        assert_eq!(classify(b"G(T / HTTP/1.1\r\n"), FirstLine::NotHttp);
        assert_eq!(classify(b"\x16\x03\x01\x02\x00\x01\n"), FirstLine::NotHttp);
        assert_eq!(first_line(b"\r\nHELP\r\nmore"), b"HELP");
    }

    #[test]
    fn heads() {
        assert!(has_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n") && has_head(b"GET / HTTP/1.0\n\n"));
        assert!(!has_head(b"GET / HTTP/1.1\r\nHost: a\r\n"));
        let parts = parse_head(
            b"POST /login?x=1 HTTP/1.0\r\nHost: web01:443\r\nUser-Agent: curl\r\nBad Header\r\n\
                                 X-Bin: \xff\r\n\r\nbody",
        )
        .unwrap();
        assert_eq!(parts.method, Method::POST);
        assert_eq!(parts.uri, "/login?x=1");
        assert_eq!(parts.version, Version::HTTP_10);
        assert_eq!(parts.headers["host"], "web01:443");
        assert_eq!(parts.headers["x-bin"].as_bytes(), b"\xff");
        assert_eq!(parts.headers.len(), 3);
        assert!(parse_head(b"HELLO\r\n\r\n").is_none());
    }

    #[test]
    fn closing() {
        let headers = |value: &'static str| {
            let mut map = HeaderMap::new();
            map.insert(CONNECTION, HeaderValue::from_static(value));
            map
        };
        assert!(wants_close(Version::HTTP_10, &HeaderMap::new()));
        assert!(!wants_close(Version::HTTP_10, &headers("Keep-Alive")));
        assert!(!wants_close(Version::HTTP_11, &HeaderMap::new()));
        assert!(wants_close(Version::HTTP_11, &headers("TE, close")));
        assert!(!wants_close(Version::HTTP_2, &headers("close")));
    }
}
