//! An LDAP directory nobody can log into: LDAPv3 over BER on port 389 (with StartTLS) and
//! over implicit TLS on port 636. Anonymous binds succeed; a simple bind with a DN and a
//! password is recorded and answered `invalidCredentials` (49); SASL binds are recorded and
//! refused. The root DSE (`ldapsearch -x -s base -b ""`) is answered as the decky's server
//! would; every other search is recorded with its base and filter and answered as that
//! server answers an anonymous client, with no entries. Updates are refused; `whoami`
//! says `anonymous`; Unbind closes.
//!
//! Configuration (the plugin sets the first two):
//! * `LDAP_OS_FAMILY` — `windows`: an Active Directory domain controller (its root DSE,
//!   its error texts, LDAPv2 allowed); anything else, OpenLDAP's slapd.
//! * `LDAP_DISTRO` — how the TLS certificate is made (default `debian`).
//! * `LDAP_DOMAIN` — the DNS domain, `corp.local`: the naming context `dc=corp,dc=local`;
//!   else one picked per decky.
//! * `NODE_NAME` — the host: the certificate's name, the domain controller's name.
//!
//! Encoding follows the servers: lengths of constructed values in four bytes
//! (`30 84 00 00 00 nn`), as OpenLDAP's liblber and Active Directory write them and as
//! `nmap -sV` expects.

mod filter;
mod root_dse;

use std::io;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use self::root_dse::{Attribute, Flavour, OID_START_TLS, OID_WHO_AM_I, Persona};
use super::ber::{
    LengthForm, TAG_BOOLEAN, TAG_ENUMERATED, TAG_INTEGER, TAG_OCTET_STRING, TAG_SEQUENCE, TAG_SET, context,
    expect, integer, read_integer, read_tlv, tlv, tlv_size, tlv_with,
};
use super::http::Scheme;
use super::http::tls::{self, Connection};
use crate::env::{ConfigError, Env};
use crate::event::{EndReason, Fields};
use crate::listener::{Session, Stream, TcpLimits};

/// slapd keeps idle clients by default; a directory client asks and leaves, a person types
/// into `ldapsearch` queries one at a time.
pub const LIMITS: TcpLimits = TcpLimits {
    idle_timeout: Duration::from_secs(120),
    max_duration: Duration::from_secs(600),
    max_bytes_in: 256 * 1024,
};

/// The largest LDAPMessage read (OpenLDAP's `sockbuf_max_incoming` for anonymous clients is
/// 256 KiB; a bind or search is a few hundred bytes). A larger one ends the connection.
const MAX_MESSAGE: usize = 64 * 1024;

/// Most bytes of a DN, password or SASL credential kept in an event.
const MAX_RECORDED: usize = 1024;

/// Most attribute names of a search kept in an event.
const MAX_RECORDED_ATTRIBUTES: usize = 64;

/// The longest `LDAP_DOMAIN` accepted (a DNS name).
const MAX_DOMAIN: usize = 253;

/// A BindRequest's `sasl [3] SaslCredentials` authentication choice.
const SASL: u8 = context(3);

mod op {
    pub const BIND_REQUEST: u8 = 0x60;
    pub const BIND_RESPONSE: u8 = 0x61;
    pub const UNBIND_REQUEST: u8 = 0x42;
    pub const SEARCH_REQUEST: u8 = 0x63;
    pub const SEARCH_ENTRY: u8 = 0x64;
    pub const SEARCH_DONE: u8 = 0x65;
    pub const MODIFY_REQUEST: u8 = 0x66;
    pub const ADD_REQUEST: u8 = 0x68;
    pub const DEL_REQUEST: u8 = 0x4a;
    pub const MODIFY_DN_REQUEST: u8 = 0x6c;
    pub const COMPARE_REQUEST: u8 = 0x6e;
    pub const ABANDON_REQUEST: u8 = 0x50;
    pub const EXTENDED_REQUEST: u8 = 0x77;
    pub const EXTENDED_RESPONSE: u8 = 0x78;
}

/// LDAP result codes used.
mod code {
    pub const SUCCESS: u8 = 0;
    pub const OPERATIONS_ERROR: u8 = 1;
    pub const PROTOCOL_ERROR: u8 = 2;
    pub const AUTH_METHOD_NOT_SUPPORTED: u8 = 7;
    pub const STRONGER_AUTH_REQUIRED: u8 = 8;
    pub const NO_SUCH_OBJECT: u8 = 32;
    pub const INVALID_CREDENTIALS: u8 = 49;
    pub const INSUFFICIENT_ACCESS_RIGHTS: u8 = 50;
    pub const UNWILLING_TO_PERFORM: u8 = 53;
}

/// Active Directory's text for a wrong password (`data 52e`), NUL included as it sends it.
const AD_BAD_CREDENTIALS: &str =
    "80090308: LdapErr: DSID-0C090569, comment: AcceptSecurityContext error, data 52e, v4563\0";

/// Active Directory's answer to anything but the root DSE before a successful bind.
const AD_BIND_REQUIRED: &str = "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a \
     successful bind must be completed on the connection., data 0, v4563\0";

/// The Notice of Disconnection (RFC 4511 §4.4.1) Active Directory sends before dropping a
/// client that broke the protocol.
const OID_NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";

/// The directory on one port.
pub struct Ldap {
    persona: Persona,
    /// Serves port 636 from the first byte, and StartTLS on 389.
    tls: TlsAcceptor,
    implicit_tls: bool,
}

/// What one request comes to.
enum Answer {
    Reply(Vec<u8>),
    /// The StartTLS response: send it, then the TLS handshake.
    StartTls(Vec<u8>),
    Nothing,
    /// Unbind: the client leaves.
    Close,
    /// The message is not LDAP: record it, drop the client.
    Malformed(&'static str),
}

impl Ldap {
    pub fn from_env(env: &Env, scheme: Scheme) -> Result<Ldap, ConfigError> {
        let flavour = match env.get_or("LDAP_OS_FAMILY", "linux") {
            "windows" => Flavour::ActiveDirectory,
            _ => Flavour::OpenLdap,
        };
        let domain = env.get("LDAP_DOMAIN").map(str::trim);
        if let Some(domain) = domain {
            check_domain(domain).map_err(|message| ConfigError::new("LDAP_DOMAIN", message))?;
        }
        let decky = if env.decky().is_empty() { "localhost" } else { env.decky() };
        let persona = Persona::new(flavour, decky, domain);
        let name = match flavour {
            Flavour::ActiveDirectory => format!("{}.{}", decky.to_lowercase(), persona.domain),
            Flavour::OpenLdap => decky.to_owned(),
        };
        let tls = tls::made_acceptor(&name, env.get_or("LDAP_DISTRO", "debian")).map_err(|e| {
            ConfigError::new("NODE_NAME", format!("cannot make a certificate for {name:?}: {e}"))
        })?;
        Ok(Ldap { persona, tls, implicit_tls: scheme == Scheme::Tls })
    }

    pub async fn serve(&self, stream: Stream, session: &Session) -> io::Result<EndReason> {
        let mut conn: Box<dyn Connection> =
            if self.implicit_tls { Box::new(self.tls.accept(stream).await?) } else { Box::new(stream) };
        let mut tls_on = self.implicit_tls;
        let mut buffer = Vec::new();
        loop {
            let message = match read_message(&mut conn, &mut buffer).await? {
                MessageRead::Message(message) => message,
                MessageRead::Gone => return Ok(EndReason::Eof),
                MessageRead::Refused(error) => return self.drop_client(&mut conn, session, error).await,
            };
            match self.answer(&message, session, tls_on) {
                Answer::Reply(reply) => write(&mut conn, &reply).await?,
                Answer::StartTls(reply) => {
                    write(&mut conn, &reply).await?;
                    conn = Box::new(self.tls.accept(conn).await?);
                    tls_on = true;
                }
                Answer::Nothing => {}
                Answer::Close => return Ok(EndReason::Closed),
                Answer::Malformed(error) => return self.drop_client(&mut conn, session, error).await,
            }
        }
    }

    /// Records a `protocol_error` and closes: slapd just hangs up, Active Directory first
    /// sends a Notice of Disconnection.
    async fn drop_client(
        &self,
        conn: &mut Box<dyn Connection>,
        session: &Session,
        error: &str,
    ) -> io::Result<EndReason> {
        session.record("protocol_error", Fields::new().text("error", error));
        if self.persona.flavour == Flavour::ActiveDirectory {
            let extra = tlv(0x8a, OID_NOTICE_OF_DISCONNECTION.as_bytes());
            let notice = ldap_result(op::EXTENDED_RESPONSE, code::PROTOCOL_ERROR, "", "", &extra);
            let _ = write(conn, &envelope(0, notice)).await;
        }
        let _ = conn.shutdown().await;
        Ok(EndReason::Closed)
    }

    /// Answers one LDAPMessage.
    fn answer(&self, message: &[u8], session: &Session, tls_on: bool) -> Answer {
        let Some((id, kind, body)) = parse_envelope(message) else {
            return Answer::Malformed("malformed LDAPMessage");
        };
        let ops = match kind {
            op::BIND_REQUEST => self.bind(body, session).map(|reply| vec![reply]),
            op::SEARCH_REQUEST => self.search(body, session),
            op::EXTENDED_REQUEST => match self.extended(body, session, tls_on) {
                Some((reply, true)) => return Answer::StartTls(envelope(id, reply)),
                other => other.map(|(reply, _)| vec![reply]),
            },
            op::MODIFY_REQUEST
            | op::ADD_REQUEST
            | op::DEL_REQUEST
            | op::MODIFY_DN_REQUEST
            | op::COMPARE_REQUEST => self.refuse_update(kind, body, session).map(|reply| vec![reply]),
            op::UNBIND_REQUEST => return Answer::Close,
            op::ABANDON_REQUEST => return Answer::Nothing,
            _ => return Answer::Malformed("unknown protocol operation"),
        };
        match ops {
            Some(ops) => Answer::Reply(ops.into_iter().flat_map(|reply| envelope(id, reply)).collect()),
            None => Answer::Malformed("malformed request"),
        }
    }

    /// Records a BindRequest and answers it (a BindResponse).
    fn bind(&self, body: &[u8], session: &Session) -> Option<Vec<u8>> {
        let bind = parse_bind(body)?;
        let (result, diagnostic) = self.judge_bind(&bind);
        let mut fields =
            Fields::new().num("version", bind.version.max(0) as u64).bytes("dn", bounded(bind.dn));
        fields = match &bind.auth {
            Auth::Simple(password) => fields.text("method", "simple").bytes("password", bounded(password)),
            Auth::Sasl { mechanism, credentials } => fields
                .text("method", "sasl")
                .bytes("mechanism", bounded(mechanism))
                .bytes("credentials", bounded(credentials)),
        };
        session.record("bind", fields.num("result", result.into()).flag("success", result == code::SUCCESS));
        Some(ldap_result(op::BIND_RESPONSE, result, "", diagnostic, &[]))
    }

    /// The result code and diagnostic message of a bind, as the decky's server words them.
    fn judge_bind(&self, bind: &Bind<'_>) -> (u8, &'static str) {
        let ad = self.persona.flavour == Flavour::ActiveDirectory;
        match (&bind.auth, bind.version) {
            (_, 2) if !ad => {
                (code::PROTOCOL_ERROR, "historical protocol version requested, use LDAPv3 instead")
            }
            (_, version) if !(2..=3).contains(&version) => {
                (code::PROTOCOL_ERROR, "requested protocol version not supported")
            }
            (Auth::Simple(password), _) if password.is_empty() && bind.dn.is_empty() => (code::SUCCESS, ""),
            (Auth::Simple(password), _) if password.is_empty() && !ad => {
                (code::UNWILLING_TO_PERFORM, "unauthenticated bind (DN with no password) disallowed")
            }
            // Active Directory lets an unauthenticated bind (a DN without password) through.
            (Auth::Simple([]), _) => (code::SUCCESS, ""),
            (Auth::Simple(_), _) if ad => (code::INVALID_CREDENTIALS, AD_BAD_CREDENTIALS),
            (Auth::Simple(_), _) => (code::INVALID_CREDENTIALS, ""),
            (Auth::Sasl { .. }, _) if ad => (code::INVALID_CREDENTIALS, AD_BAD_CREDENTIALS),
            (Auth::Sasl { .. }, _) => (code::AUTH_METHOD_NOT_SUPPORTED, "SASL(-4): no mechanism available: "),
        }
    }

    /// Records a SearchRequest; the root DSE is found, every other search finds nothing.
    /// The replies: entries, then SearchResultDone.
    fn search(&self, body: &[u8], session: &Session) -> Option<Vec<Vec<u8>>> {
        let search = parse_search(body)?;
        let root_dse = search.base.is_empty() && search.scope == 0;
        let (result, diagnostic) = match self.persona.flavour {
            _ if root_dse => (code::SUCCESS, ""),
            Flavour::ActiveDirectory => (code::OPERATIONS_ERROR, AD_BIND_REQUIRED),
            Flavour::OpenLdap if self.persona.holds(search.base) => (code::SUCCESS, ""),
            Flavour::OpenLdap => (code::NO_SUCH_OBJECT, ""),
        };
        let attributes: Vec<serde_json::Value> =
            search.attributes.iter().take(MAX_RECORDED_ATTRIBUTES).map(|a| a.as_str().into()).collect();
        session.record(
            "search",
            Fields::new()
                .bytes("base", bounded(search.base))
                .text("scope", scope_name(search.scope))
                .text("filter", search.filter)
                .value("attributes", attributes.into())
                .num("result", result.into()),
        );
        let mut replies = Vec::new();
        if root_dse {
            let attributes = self.persona.root_dse(&search.attributes, SystemTime::now());
            replies.push(search_entry("", &attributes, search.types_only));
        }
        replies.push(ldap_result(op::SEARCH_DONE, result, "", diagnostic, &[]));
        Some(replies)
    }

    /// Records an ExtendedRequest and answers it; `true` with a StartTLS to be started.
    fn extended(&self, body: &[u8], session: &Session, tls_on: bool) -> Option<(Vec<u8>, bool)> {
        let (name, _) = expect(body, 0x80)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let (result, diagnostic, start_tls) = match name.as_str() {
            OID_START_TLS if tls_on => (code::OPERATIONS_ERROR, "TLS already started", false),
            OID_START_TLS => (code::SUCCESS, "", true),
            OID_WHO_AM_I => (code::SUCCESS, "", false),
            _ => (code::PROTOCOL_ERROR, "unsupported extended operation", false),
        };
        session.record(
            "request",
            Fields::new()
                .text("operation", "extended")
                .text("oid", name.as_str())
                .num("result", result.into()),
        );
        let extra = match name.as_str() {
            // The responseName of a StartTLS, and the empty authzId of `anonymous`.
            OID_START_TLS if start_tls => tlv(0x8a, name.as_bytes()),
            OID_WHO_AM_I => tlv(0x8b, b""),
            _ => Vec::new(),
        };
        Some((ldap_result(op::EXTENDED_RESPONSE, result, "", diagnostic, &extra), start_tls))
    }

    /// Records an update or compare and refuses it, as to an anonymous client.
    fn refuse_update(&self, kind: u8, body: &[u8], session: &Session) -> Option<Vec<u8>> {
        let dn = if kind == op::DEL_REQUEST { body } else { expect(body, TAG_OCTET_STRING)?.0 };
        let (operation, response) = match kind {
            op::MODIFY_REQUEST => ("modify", 0x67),
            op::ADD_REQUEST => ("add", 0x69),
            op::DEL_REQUEST => ("delete", 0x6b),
            op::MODIFY_DN_REQUEST => ("modify_dn", 0x6d),
            _ => ("compare", 0x6f),
        };
        let (result, diagnostic) = match self.persona.flavour {
            Flavour::ActiveDirectory => (code::OPERATIONS_ERROR, AD_BIND_REQUIRED),
            Flavour::OpenLdap if kind == op::COMPARE_REQUEST => (code::INSUFFICIENT_ACCESS_RIGHTS, ""),
            Flavour::OpenLdap => (code::STRONGER_AUTH_REQUIRED, "modifications require authentication"),
        };
        session.record(
            "request",
            Fields::new().text("operation", operation).bytes("dn", bounded(dn)).num("result", result.into()),
        );
        Some(ldap_result(response, result, "", diagnostic, &[]))
    }
}

/// A bind, as far as it is recorded and judged.
struct Bind<'a> {
    version: i64,
    dn: &'a [u8],
    auth: Auth<'a>,
}

enum Auth<'a> {
    Simple(&'a [u8]),
    Sasl { mechanism: &'a [u8], credentials: &'a [u8] },
}

/// A search, as far as it is recorded and answered.
struct Search<'a> {
    base: &'a [u8],
    scope: i64,
    types_only: bool,
    filter: String,
    attributes: Vec<String>,
}

/// The message id, the protocol operation's tag and its content.
fn parse_envelope(message: &[u8]) -> Option<(i64, u8, &[u8])> {
    let (content, _) = expect(message, TAG_SEQUENCE)?;
    let (id, rest) = expect(content, TAG_INTEGER)?;
    let (kind, body, _) = read_tlv(rest)?;
    Some((read_integer(id)?, kind, body))
}

fn parse_bind(body: &[u8]) -> Option<Bind<'_>> {
    let (version, rest) = expect(body, TAG_INTEGER)?;
    let (dn, rest) = expect(rest, TAG_OCTET_STRING)?;
    let auth = match read_tlv(rest)? {
        (0x80, password, _) => Auth::Simple(password),
        (SASL, sasl, _) => {
            let (mechanism, rest) = expect(sasl, TAG_OCTET_STRING)?;
            let credentials = expect(rest, TAG_OCTET_STRING).map_or(&[][..], |(c, _)| c);
            Auth::Sasl { mechanism, credentials }
        }
        _ => return None,
    };
    Some(Bind { version: read_integer(version)?, dn, auth })
}

fn parse_search(body: &[u8]) -> Option<Search<'_>> {
    let (base, rest) = expect(body, TAG_OCTET_STRING)?;
    let (scope, rest) = expect(rest, TAG_ENUMERATED)?;
    let (_deref, rest) = expect(rest, TAG_ENUMERATED)?;
    let (_size_limit, rest) = expect(rest, TAG_INTEGER)?;
    let (_time_limit, rest) = expect(rest, TAG_INTEGER)?;
    let (types_only, rest) = expect(rest, TAG_BOOLEAN)?;
    let (filter_tag, filter, rest) = read_tlv(rest)?;
    let (mut list, _) = expect(rest, TAG_SEQUENCE)?;
    let mut attributes = Vec::new();
    while !list.is_empty() {
        let (name, after) = expect(list, TAG_OCTET_STRING)?;
        attributes.push(String::from_utf8_lossy(name).into_owned());
        list = after;
    }
    Some(Search {
        base,
        scope: read_integer(scope)?,
        types_only: types_only.first().is_some_and(|&b| b != 0),
        filter: filter::render(filter_tag, filter)?,
        attributes,
    })
}

fn scope_name(scope: i64) -> String {
    match scope {
        0 => "base".to_owned(),
        1 => "one".to_owned(),
        2 => "sub".to_owned(),
        3 => "children".to_owned(),
        other => other.to_string(),
    }
}

/// A constructed value with its length in four bytes, as the servers write them.
fn constructed(tag: u8, content: &[u8]) -> Vec<u8> {
    tlv_with(LengthForm::FourBytes, tag, content)
}

/// An LDAPMessage: `id` and one protocol operation.
fn envelope(id: i64, operation: Vec<u8>) -> Vec<u8> {
    let mut content = integer(TAG_INTEGER, id);
    content.extend(operation);
    constructed(TAG_SEQUENCE, &content)
}

/// An LDAPResult-shaped operation `tag`: result code, matched DN, diagnostic, then `extra`
/// (an ExtendedResponse's name).
fn ldap_result(tag: u8, result: u8, matched: &str, diagnostic: &str, extra: &[u8]) -> Vec<u8> {
    let mut content = integer(TAG_ENUMERATED, result.into());
    content.extend(tlv(TAG_OCTET_STRING, matched.as_bytes()));
    content.extend(tlv(TAG_OCTET_STRING, diagnostic.as_bytes()));
    content.extend_from_slice(extra);
    constructed(tag, &content)
}

/// A SearchResultEntry; with `types_only`, the attributes without their values.
fn search_entry(dn: &str, attributes: &[Attribute], types_only: bool) -> Vec<u8> {
    let mut list = Vec::new();
    for (name, values) in attributes {
        let values: Vec<u8> = if types_only {
            Vec::new()
        } else {
            values.iter().flat_map(|value| tlv(TAG_OCTET_STRING, value.as_bytes())).collect()
        };
        let mut attribute = tlv(TAG_OCTET_STRING, name.as_bytes());
        attribute.extend(constructed(TAG_SET, &values));
        list.extend(constructed(TAG_SEQUENCE, &attribute));
    }
    let mut content = tlv(TAG_OCTET_STRING, dn.as_bytes());
    content.extend(constructed(TAG_SEQUENCE, &list));
    constructed(op::SEARCH_ENTRY, &content)
}

/// A domain name: dot-separated labels of letters, digits and hyphens.
fn check_domain(domain: &str) -> Result<(), String> {
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if domain.len() <= MAX_DOMAIN && domain.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("expected a DNS domain like corp.local, got {domain:?}"))
    }
}

fn bounded(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_RECORDED)]
}

async fn write(conn: &mut Box<dyn Connection>, bytes: &[u8]) -> io::Result<()> {
    conn.write_all(bytes).await?;
    conn.flush().await
}

enum MessageRead {
    Message(Vec<u8>),
    Gone,
    /// Not BER, or larger than [`MAX_MESSAGE`]: never read further.
    Refused(&'static str),
}

/// Reads one LDAPMessage; `buffer` keeps what the client sent beyond it (pipelined
/// requests). Its length is checked before more than one chunk is read for it.
async fn read_message(conn: &mut Box<dyn Connection>, buffer: &mut Vec<u8>) -> io::Result<MessageRead> {
    let mut chunk = [0u8; 4096];
    loop {
        if buffer.first().is_some_and(|&tag| tag != TAG_SEQUENCE) {
            return Ok(MessageRead::Refused("not an LDAPMessage"));
        }
        match tlv_size(buffer) {
            Some(Err(())) => return Ok(MessageRead::Refused("malformed BER length")),
            Some(Ok(size)) if size > MAX_MESSAGE => return Ok(MessageRead::Refused("message too large")),
            Some(Ok(size)) if buffer.len() >= size => {
                let rest = buffer.split_off(size);
                return Ok(MessageRead::Message(std::mem::replace(buffer, rest)));
            }
            _ => {}
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(MessageRead::Gone);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ldap(pairs: &[(&str, &str)]) -> Ldap {
        Ldap::from_env(&Env::from_pairs(pairs.iter().copied()), Scheme::Plain).unwrap()
    }

    fn simple(version: i64, dn: &'static str, password: &'static str) -> Bind<'static> {
        Bind { version, dn: dn.as_bytes(), auth: Auth::Simple(password.as_bytes()) }
    }

    #[test]
    fn binds_are_judged_as_each_server_does() {
        let slapd = ldap(&[]);
        assert_eq!(slapd.judge_bind(&simple(3, "", "")).0, code::SUCCESS);
        assert_eq!(slapd.judge_bind(&simple(3, "cn=admin,dc=x", "pw")), (code::INVALID_CREDENTIALS, ""));
        assert_eq!(slapd.judge_bind(&simple(3, "cn=admin,dc=x", "")).0, code::UNWILLING_TO_PERFORM);
        assert_eq!(slapd.judge_bind(&simple(2, "", "")).0, code::PROTOCOL_ERROR);
        let ad = ldap(&[("LDAP_OS_FAMILY", "windows")]);
        assert_eq!(ad.judge_bind(&simple(2, "", "")).0, code::SUCCESS);
        assert_eq!(
            ad.judge_bind(&simple(3, "CORP\\admin", "pw")),
            (code::INVALID_CREDENTIALS, AD_BAD_CREDENTIALS)
        );
    }

    #[test]
    fn the_nmap_bind_probe_gets_openldaps_answer() {
        let slapd = ldap(&[]);
        let (recorder, _log) = crate::recorder::Recorder::memory("d", "ldap");
        let session = Session::new(
            1,
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:389".parse().unwrap(),
            recorder.into(),
        );
        let Answer::Reply(reply) =
            slapd.answer(b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x02\x04\0\x80\0", &session, false)
        else {
            panic!("no reply")
        };
        let expected = b"0\x84\0\0\0I\x02\x01\x01a\x84\0\0\0@\n\x01\x02\x04\0\x049historical protocol version requested, use LDAPv3 instead";
        assert_eq!(reply, expected);
    }

    #[test]
    fn configuration_is_checked() {
        assert_eq!(ldap(&[("LDAP_DOMAIN", "Corp.Example")]).persona.suffix, "dc=corp,dc=example");
        for bad in ["corp..local", "-x.local", "a b.local"] {
            let Err(error) = Ldap::from_env(&Env::from_pairs([("LDAP_DOMAIN", bad)]), Scheme::Tls) else {
                panic!("{bad} accepted")
            };
            assert_eq!(error.var, "LDAP_DOMAIN");
        }
    }

    #[test]
    fn truncated_requests_are_malformed_not_panics() {
        let slapd = ldap(&[("LDAP_OS_FAMILY", "windows")]);
        let (recorder, _log) = crate::recorder::Recorder::memory("d", "ldap");
        let session = Session::new(
            1,
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:389".parse().unwrap(),
            recorder.into(),
        );
        let mut search = tlv(TAG_OCTET_STRING, b"");
        search.extend(integer(TAG_ENUMERATED, 0));
        search.extend(integer(TAG_ENUMERATED, 0));
        search.extend(integer(TAG_INTEGER, 0));
        search.extend(integer(TAG_INTEGER, 0));
        search.extend(tlv(TAG_BOOLEAN, &[0]));
        search.extend(tlv(0x87, b"objectClass"));
        search.extend(tlv(TAG_SEQUENCE, &[]));
        let whole = envelope(7, tlv(op::SEARCH_REQUEST, &search));
        let Answer::Reply(reply) = slapd.answer(&whole, &session, false) else { panic!("not answered") };
        assert!(reply.windows(13).any(|w| w == b"dsServiceName"));
        for cut in 0..whole.len() {
            assert!(
                matches!(slapd.answer(&whole[..cut], &session, false), Answer::Malformed(_)),
                "cut at {cut}"
            );
        }
    }
}
