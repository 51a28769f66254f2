//! Credentials an HTTP request carries: an `Authorization: Basic` header, a login form
//! (URL-encoded, multipart, or in the query string), a JSON login body, or WordPress
//! XML-RPC calls (the usual brute-force route, several logins per `system.multicall`).
//!
//! Every parser works on the bounded body the server captured and allocates only for what
//! it returns.

use crate::codec::base64_decode;
use std::borrow::Cow;

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};

/// Most login attempts taken from one request (an XML-RPC multicall can carry hundreds).
pub const MAX_ATTEMPTS: usize = 32;

/// Most form fields looked at in one body or query string.
const MAX_FIELDS: usize = 256;

/// How a request carried its credentials (the `method` of an `auth` event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    Basic,
    Form,
    Query,
    Json,
    Xmlrpc,
}

impl Carrier {
    pub const fn as_str(self) -> &'static str {
        match self {
            Carrier::Basic => "basic",
            Carrier::Form => "form",
            Carrier::Query => "query",
            Carrier::Json => "json",
            Carrier::Xmlrpc => "xmlrpc",
        }
    }
}

/// One login attempt, bytes exactly as sent (after the carrier's own decoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub carrier: Carrier,
    pub username: Vec<u8>,
    pub password: Vec<u8>,
}

/// Every login attempt in a request: its `Authorization` header, its query string and its
/// (captured) body, at most [`MAX_ATTEMPTS`].
pub fn in_request(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Vec<Credentials> {
    let mut found = Vec::new();
    for value in headers.get_all(AUTHORIZATION) {
        found.extend(basic(value.as_bytes()));
    }
    if let Some(query) = query {
        found.extend(login_fields(url_encoded_fields(query.as_bytes()), Carrier::Query));
    }
    if !body.is_empty() {
        let content_type = headers.get(CONTENT_TYPE).map(|v| v.as_bytes()).unwrap_or_default();
        found.extend(in_body(content_type, body));
    }
    found.truncate(MAX_ATTEMPTS);
    found
}

/// The login attempts in a body of media type `content_type`.
fn in_body(content_type: &[u8], body: &[u8]) -> Vec<Credentials> {
    let media = content_type.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    let starts = |prefix: &[u8]| body.trim_ascii_start().starts_with(prefix);
    if media.eq_ignore_ascii_case(b"multipart/form-data") {
        return boundary(content_type)
            .and_then(|boundary| login_fields(multipart_fields(body, &boundary), Carrier::Form))
            .into_iter()
            .collect();
    }
    if media.ends_with(b"json") || (media.is_empty() && starts(b"{")) {
        return json(body).into_iter().collect();
    }
    if media.ends_with(b"xml") || starts(b"<?xml") || starts(b"<methodCall") {
        return xmlrpc(body);
    }
    login_fields(url_encoded_fields(body), Carrier::Form).into_iter().collect()
}

/// `Authorization: Basic <base64 of user:password>`.
pub fn basic(authorization: &[u8]) -> Option<Credentials> {
    let text = authorization.trim_ascii();
    let (scheme, token) = text.split_at(text.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64_decode(token.trim_ascii())?;
    let (username, password) = match decoded.iter().position(|&b| b == b':') {
        Some(colon) => (decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()),
        None => (decoded, Vec::new()),
    };
    Some(Credentials { carrier: Carrier::Basic, username, password })
}

/// Whether a form field named `name` holds a user name: the fields of the applications the
/// sensor imitates (`log`, `pma_username`, `j_username`) and the usual generic names.
fn is_username_field(name: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_slice(), b"log" | b"login" | b"email" | b"uname" | b"usr" | b"account" | b"j_username")
        || name.starts_with(b"user")
        || contains(&name, b"username")
        || name.ends_with(b"_user")
        || name.ends_with(b"_login")
}

/// Whether a form field named `name` holds a password (`pwd`, `pma_password`, `j_password`,
/// `pass*`, ...).
fn is_password_field(name: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_slice(), b"pwd" | b"pw" | b"passwd" | b"j_password")
        || name.starts_with(b"pass")
        || contains(&name, b"password")
        || name.ends_with(b"_pass")
        || name.ends_with(b"_pwd")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A login attempt among `fields`: the first password field, with the first user-name field
/// (empty when the form has none). No password field, no attempt.
fn login_fields<'a>(
    fields: impl Iterator<Item = (Cow<'a, [u8]>, Cow<'a, [u8]>)>,
    carrier: Carrier,
) -> Option<Credentials> {
    let mut username = None;
    let mut password = None;
    for (name, value) in fields.take(MAX_FIELDS) {
        if password.is_none() && is_password_field(&name) {
            password = Some(value.into_owned());
        } else if username.is_none() && is_username_field(&name) {
            username = Some(value.into_owned());
        }
    }
    Some(Credentials { carrier, username: username.unwrap_or_default(), password: password? })
}

/// The `name=value` pairs of an `application/x-www-form-urlencoded` text, decoded.
pub fn url_encoded_fields(text: &[u8]) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    text.split(|&b| b == b'&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &[][..]),
        };
        (percent_decode(name), percent_decode(value))
    })
}

/// `text` with `+` as a space and `%XX` as the byte; a `%` not followed by two hex digits
/// stays as it is.
pub fn percent_decode(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| text.get(at).copied().and_then(hex_value);
                match (digit(i + 1), digit(i + 2)) {
                    (Some(high), Some(low)) => {
                        out.push(high << 4 | low);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The `boundary` parameter of a `multipart/form-data` content type.
fn boundary(content_type: &[u8]) -> Option<Vec<u8>> {
    content_type.split(|&b| b == b';').skip(1).find_map(|param| {
        let param = param.trim_ascii();
        let eq = param.iter().position(|&b| b == b'=')?;
        if !param[..eq].trim_ascii().eq_ignore_ascii_case(b"boundary") {
            return None;
        }
        let value = param[eq + 1..].trim_ascii();
        let value = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
        (!value.is_empty()).then(|| value.to_vec())
    })
}

/// The text fields of a `multipart/form-data` body (file parts are skipped).
fn multipart_fields<'a>(
    body: &'a [u8],
    boundary: &[u8],
) -> impl Iterator<Item = (Cow<'a, [u8]>, Cow<'a, [u8]>)> + use<'a> {
    let delimiter = [b"--", boundary].concat();
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = find(rest, &delimiter) {
        rest = &rest[start + delimiter.len()..];
        let end = find(rest, &delimiter).unwrap_or(rest.len());
        parts.push(&rest[..end]);
        if parts.len() == MAX_FIELDS {
            break;
        }
    }
    parts.into_iter().filter_map(|part| {
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let header_end = find(part, b"\r\n\r\n")?;
        let (head, value) = (&part[..header_end], &part[header_end + 4..]);
        let value = value.strip_suffix(b"\r\n").unwrap_or(value);
        let disposition = head
            .split(|&b| b == b'\n')
            .find(|line| line.len() > 20 && line[..20].eq_ignore_ascii_case(b"content-disposition:"))?;
        if find(disposition, b"filename=").is_some() {
            return None;
        }
        let name_at = find(disposition, b"name=\"")? + 6;
        let name_len = disposition[name_at..].iter().position(|&b| b == b'"')?;
        Some((Cow::Borrowed(&disposition[name_at..name_at + name_len]), Cow::Borrowed(value)))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A JSON login body: an object (or an object inside one) with a password member.
pub fn json(body: &[u8]) -> Option<Credentials> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    std::iter::once(object).chain(object.values().filter_map(serde_json::Value::as_object)).find_map(
        |object| {
            let fields = object.iter().filter_map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((Cow::Borrowed(name.as_bytes()), Cow::Owned(text.into_bytes())))
            });
            login_fields(fields, Carrier::Json)
        },
    )
}

/// The logins in an XML-RPC request: every WordPress / Blogger / MetaWeblog / Movable Type
/// call in it (one, or many inside `system.multicall`) with its user name and password,
/// which those APIs take at fixed positions.
pub fn xmlrpc(body: &[u8]) -> Vec<Credentials> {
    let text = String::from_utf8_lossy(body);
    xmlrpc_calls(&text)
        .into_iter()
        .filter_map(|call| {
            let user_at = credential_position(&call.method)?;
            let username = call.params.get(user_at)?;
            let password = call.params.get(user_at + 1)?;
            Some(Credentials {
                carrier: Carrier::Xmlrpc,
                username: username.as_bytes().to_vec(),
                password: password.as_bytes().to_vec(),
            })
        })
        .take(MAX_ATTEMPTS)
        .collect()
}

/// The method of the (first) call in an XML-RPC request.
pub fn xmlrpc_method(body: &[u8]) -> Option<String> {
    xmlrpc_calls(&String::from_utf8_lossy(body)).into_iter().next().map(|call| call.method)
}

/// Where the user name sits among a call's parameters (the password follows it), for the
/// blogging APIs WordPress serves; `None` for calls without credentials.
fn credential_position(method: &str) -> Option<usize> {
    match method {
        "wp.getUsersBlogs" => Some(0),
        "blogger.getUsersBlogs" | "blogger.getUserInfo" => Some(1),
        m if m.starts_with("blogger.") => Some(2),
        m if m.starts_with("wp.") || m.starts_with("metaWeblog.") || m.starts_with("mt.") => Some(1),
        _ => None,
    }
}

/// One method call and its scalar parameters in document order.
#[derive(Debug, PartialEq, Eq)]
struct XmlRpcCall {
    method: String,
    params: Vec<String>,
}

/// The scalar elements of XML-RPC (their text is a parameter); `value` without a type is a
/// string.
const SCALARS: [&str; 9] =
    ["string", "value", "int", "i4", "i8", "boolean", "double", "base64", "dateTime.iso8601"];

/// Scans an XML-RPC document for method calls: `<methodName>` opens a call, and so does a
/// struct member named `methodName` (inside `system.multicall`); every scalar leaf after it
/// is one of its parameters, except member names.
fn xmlrpc_calls(text: &str) -> Vec<XmlRpcCall> {
    let mut calls: Vec<XmlRpcCall> = Vec::new();
    let mut open: Option<&str> = None;
    let mut member_name: Option<String> = None;
    let mut rest = text;
    while let Some(lt) = rest.find('<') {
        let content = &rest[..lt];
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        if let Some(closing) = tag.strip_prefix('/') {
            let leaf = open.take().filter(|opened| *opened == closing.trim());
            match leaf {
                Some("methodName") => {
                    calls.push(XmlRpcCall { method: xml_unescape(content.trim()), params: Vec::new() })
                }
                Some("name") => member_name = Some(xml_unescape(content.trim())),
                Some(scalar) if SCALARS.contains(&scalar) => {
                    let value = xml_unescape(content);
                    if member_name.take().as_deref() == Some("methodName") {
                        calls.push(XmlRpcCall { method: value.trim().to_owned(), params: Vec::new() });
                    } else if let Some(call) = calls.last_mut() {
                        call.params.push(value);
                    }
                }
                _ => {}
            }
            if calls.len() > MAX_ATTEMPTS * 2 {
                break;
            }
        } else if !tag.starts_with('?') && !tag.starts_with('!') {
            let name = tag.split_ascii_whitespace().next().unwrap_or_default();
            open = (!tag.ends_with('/')).then_some(name);
        }
    }
    calls
}

/// XML text with its predefined entities and character references decoded.
fn xml_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    fn creds(carrier: Carrier, username: &str, password: &str) -> Credentials {
        Credentials { carrier, username: username.into(), password: password.into() }
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode(b"YWRtaW46czNjcmV0").unwrap(), b"admin:s3cret");
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode(b"YWI").unwrap(), b"ab");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"/w==").unwrap(), [0xff]);
        assert_eq!(base64_decode(b"Y"), None);
        assert_eq!(base64_decode(b"YW*="), None);
    }

    #[test]
    fn basic_authorization() {
        assert_eq!(basic(b"Basic dG9tY2F0OnMzY3JldA=="), Some(creds(Carrier::Basic, "tomcat", "s3cret")));
        assert_eq!(basic(b"basic   dG9tY2F0OnA6dzo="), Some(creds(Carrier::Basic, "tomcat", "p:w:")));
        assert_eq!(basic(b"Basic YWRtaW4="), Some(creds(Carrier::Basic, "admin", "")));
        assert_eq!(basic(b"Bearer abc"), None);
        assert_eq!(basic(b"Basic"), None);
        assert_eq!(basic(b"Basic !!!"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(&*percent_decode(b"a+b%20c%2fd"), b"a b c/d");
        assert_eq!(&*percent_decode(b"100%"), b"100%");
        assert_eq!(&*percent_decode(b"%zz%4"), b"%zz%4");
        assert_eq!(&*percent_decode(b"%ff%00"), [0xff, 0x00]);
        assert!(matches!(percent_decode(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn login_forms_of_each_application() {
        let form = |body: &[u8]| login_fields(url_encoded_fields(body), Carrier::Form);
        let wordpress = b"log=admin&pwd=p%40ss+word&wp-submit=Log+In&redirect_to=%2Fwp-admin%2F&testcookie=1";
        assert_eq!(form(wordpress), Some(creds(Carrier::Form, "admin", "p@ss word")));
        let pma = b"set_session=x&pma_username=root&pma_password=toor&server=1&target=index.php&token=ab";
        assert_eq!(form(pma), Some(creds(Carrier::Form, "root", "toor")));
        let jenkins = b"j_username=jenkins&j_password=jenkins&from=%2F&Submit=";
        assert_eq!(form(jenkins), Some(creds(Carrier::Form, "jenkins", "jenkins")));
        assert_eq!(form(b"userName=bob&passWord=x"), Some(creds(Carrier::Form, "bob", "x")));
        assert_eq!(form(b"email=a%40b.c&password="), Some(creds(Carrier::Form, "a@b.c", "")));
        assert_eq!(form(b"pin_pass=1234"), Some(creds(Carrier::Form, "", "1234")));
        assert_eq!(form(b"q=search&page=2"), None);
        assert_eq!(form(b"username=only"), None);
    }

    #[test]
    fn requests_are_searched_everywhere() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let found = in_request(&headers, Some("user=q&pass=r"), b"log=c&pwd=d");
        assert_eq!(
            found,
            [
                creds(Carrier::Basic, "a", "b"),
                creds(Carrier::Query, "q", "r"),
                creds(Carrier::Form, "c", "d")
            ]
        );
        assert!(in_request(&HeaderMap::new(), Some("page=1"), b"").is_empty());
    }

    #[test]
    fn multipart_forms() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\
                     Content-Type: image/png\r\n\r\n\x89PNG\r\n\
                     --XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nwonder\r\nland\r\n--XyZ--\r\n";
        let found = in_body(b"multipart/form-data; boundary=\"XyZ\"", body);
        assert_eq!(found, [creds(Carrier::Form, "alice", "wonder\r\nland")]);
        assert!(in_body(b"multipart/form-data", body).is_empty());
    }

    #[test]
    fn json_logins() {
        assert_eq!(
            json(br#"{"username":"admin","password":"hunter2"}"#),
            Some(creds(Carrier::Json, "admin", "hunter2"))
        );
        assert_eq!(json(br#"{"auth":{"login":"x","pass":1234}}"#), Some(creds(Carrier::Json, "x", "1234")));
        assert_eq!(json(br#"{"query":"x"}"#), None);
        assert_eq!(json(b"[1,2]"), None);
        assert_eq!(json(b"{not json"), None);
        assert_eq!(in_body(b"", br#" {"user":"u","pwd":"p"}"#), [creds(Carrier::Json, "u", "p")]);
    }

    #[test]
    fn xmlrpc_single_calls() {
        let body = br#"<?xml version="1.0"?>
<methodCall><methodName>wp.getUsersBlogs</methodName><params>
<param><value><string>admin</string></value></param>
<param><value><string>p&amp;ss&lt;&#33;&#x21;</string></value></param>
</params></methodCall>"#;
        assert_eq!(xmlrpc(body), [creds(Carrier::Xmlrpc, "admin", "p&ss<!!")]);

        let untyped = b"<methodCall><methodName>wp.getPosts</methodName><params><param><value><int>1</int>\
                        </value></param><param><value>editor</value></param><param><value>pw</value></param>\
                        </params></methodCall>";
        assert_eq!(xmlrpc(untyped), [creds(Carrier::Xmlrpc, "editor", "pw")]);

        let blogger = b"<methodCall><methodName>blogger.getUsersBlogs</methodName><params><param><value>\
                        <string>appkey</string></value></param><param><value><string>u</string></value>\
                        </param><param><value><string>p</string></value></param></params></methodCall>";
        assert_eq!(xmlrpc(blogger), [creds(Carrier::Xmlrpc, "u", "p")]);

        let no_login = b"<methodCall><methodName>system.listMethods</methodName></methodCall>";
        assert!(xmlrpc(no_login).is_empty());
        assert_eq!(in_body(b"text/xml", body).len(), 1);
    }

    #[test]
    fn xmlrpc_multicall() {
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
            call("admin", "password")
        );
        assert_eq!(
            xmlrpc(body.as_bytes()),
            [creds(Carrier::Xmlrpc, "admin", "123456"), creds(Carrier::Xmlrpc, "admin", "password")]
        );
        let many: String = (0..100).map(|i| call("u", &i.to_string())).collect();
        let body = format!("<methodCall><methodName>system.multicall</methodName>{many}</methodCall>");
        assert_eq!(xmlrpc(body.as_bytes()).len(), MAX_ATTEMPTS);
    }

    #[test]
    fn hostile_bodies_do_not_panic() {
        for body in
            [&b"<"[..], b"<<<>>>", b"</string>", b"<methodName>", b"&#xffffffff;&", b"\xff\xfe<value>"]
        {
            let _ = xmlrpc(body);
            let _ = in_body(b"", body);
        }
        let _ = in_body(b"multipart/form-data; boundary=a", b"--a--a--a\r\n\r\n");
        assert_eq!(xml_unescape("a & b &#1114112; &unknown;"), "a & b &#1114112; &unknown;");
    }
}
