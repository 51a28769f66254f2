//! The MySQL client/server protocol's connection phase: packets, the server's greeting
//! (Protocol::HandshakeV10), the client's login (HandshakeResponse41 and 320, or an
//! SSLRequest), AuthSwitchRequest and ERR packets.

/// Capability flags (`CLIENT_*`).
pub mod capability {
    pub const CONNECT_WITH_DB: u32 = 1 << 3;
    pub const PROTOCOL_41: u32 = 1 << 9;
    pub const SSL: u32 = 1 << 11;
    pub const SECURE_CONNECTION: u32 = 1 << 15;
    pub const PLUGIN_AUTH: u32 = 1 << 19;
    pub const CONNECT_ATTRS: u32 = 1 << 20;
    pub const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
}

use capability::*;

/// Bytes of a packet header: payload length (3 bytes, little-endian) and sequence id.
pub const HEADER_LEN: usize = 4;

/// Length of the scramble (auth plugin data) the server sends.
pub const SCRAMBLE_LEN: usize = 20;

/// Client attributes kept from one login, and bytes kept of each key or value.
const MAX_ATTRIBUTES: usize = 64;
const MAX_ATTRIBUTE_LEN: usize = 1024;

/// `payload` framed as one packet with sequence id `seq` (payloads here are far below the
/// 16 MiB that would need splitting).
pub fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&[len[0], len[1], len[2], seq]);
    out.extend_from_slice(payload);
    out
}

/// A packet header: (payload length, sequence id).
pub fn parse_header(header: [u8; HEADER_LEN]) -> (usize, u8) {
    (usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16, header[3])
}

/// What the server says first.
pub struct Greeting<'a> {
    /// As sent, e.g. `8.0.36-0ubuntu0.22.04.1` or `5.5.5-10.11.6-MariaDB-0+deb12u1`.
    pub version: &'a str,
    pub connection_id: u32,
    pub scramble: &'a [u8; SCRAMBLE_LEN],
    pub capabilities: u32,
    pub charset: u8,
    pub status: u16,
    /// MariaDB's extended capabilities, sent in the last 4 reserved bytes.
    pub mariadb_capabilities: Option<u32>,
    pub auth_plugin: &'a str,
}

/// The Protocol::HandshakeV10 payload.
pub fn greeting(g: &Greeting<'_>) -> Vec<u8> {
    let caps = g.capabilities.to_le_bytes();
    let mut out = Vec::with_capacity(96);
    out.push(10);
    out.extend_from_slice(g.version.as_bytes());
    out.push(0);
    out.extend_from_slice(&g.connection_id.to_le_bytes());
    out.extend_from_slice(&g.scramble[..8]);
    out.push(0);
    out.extend_from_slice(&caps[..2]);
    out.push(g.charset);
    out.extend_from_slice(&g.status.to_le_bytes());
    out.extend_from_slice(&caps[2..]);
    out.push(SCRAMBLE_LEN as u8 + 1);
    out.extend_from_slice(&[0; 6]);
    out.extend_from_slice(&g.mariadb_capabilities.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&g.scramble[8..]);
    out.push(0);
    out.extend_from_slice(g.auth_plugin.as_bytes());
    out.push(0);
    out
}

/// An AuthSwitchRequest to `plugin`, with the scramble it hashes the password with.
pub fn auth_switch(plugin: &str, scramble: &[u8; SCRAMBLE_LEN]) -> Vec<u8> {
    let mut out = vec![0xfe];
    out.extend_from_slice(plugin.as_bytes());
    out.push(0);
    out.extend_from_slice(scramble);
    out.push(0);
    out
}

/// An ERR packet payload; the SQL state is sent to clients speaking protocol 4.1.
pub fn error(code: u16, sql_state: Option<&str>, message: &str) -> Vec<u8> {
    let mut out = vec![0xff];
    out.extend_from_slice(&code.to_le_bytes());
    if let Some(state) = sql_state {
        out.push(b'#');
        out.extend_from_slice(state.as_bytes());
    }
    out.extend_from_slice(message.as_bytes());
    out
}

/// The client's answer to the greeting.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientHello {
    /// The client wants TLS before it logs in.
    SslRequest,
    Login(Login),
}

/// A HandshakeResponse: who logs in, with what.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Login {
    pub capabilities: u32,
    pub username: Vec<u8>,
    /// The password hashed with the scramble by `auth_plugin` (or the old 4.0 scheme).
    pub auth_response: Vec<u8>,
    pub database: Option<Vec<u8>>,
    /// The plugin the client computed `auth_response` with, when it says.
    pub auth_plugin: Option<Vec<u8>>,
    /// Connection attributes (`_client_name`, `program_name`, ...), in the order sent.
    pub attributes: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Login {
    pub fn has(&self, capability: u32) -> bool {
        self.capabilities & capability != 0
    }
}

/// Parses the client's first packet; `None` if it is not one (a "Bad handshake").
pub fn parse_client_hello(payload: &[u8]) -> Option<ClientHello> {
    let mut c = Cursor(payload);
    let low = c.u16()?;
    if u32::from(low) & PROTOCOL_41 == 0 {
        return parse_login_320(u32::from(low), c).map(ClientHello::Login);
    }
    let capabilities = u32::from(low) | u32::from(c.u16()?) << 16;
    let _max_packet = c.take(4)?;
    let _charset = c.take(1)?;
    let _filler = c.take(23)?;
    if c.is_empty() && capabilities & SSL != 0 {
        return Some(ClientHello::SslRequest);
    }
    let username = c.nul_terminated()?.to_vec();
    let auth_response = if capabilities & PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        c.lenenc_bytes()?
    } else if capabilities & SECURE_CONNECTION != 0 {
        let len = c.u8()?;
        c.take(usize::from(len))?
    } else {
        c.nul_terminated_or_rest()
    }
    .to_vec();
    let mut login = Login { capabilities, username, auth_response, ..Login::default() };
    // What follows is optional in practice: servers accept a packet that ends here.
    if login.has(CONNECT_WITH_DB) && !c.is_empty() {
        login.database = Some(c.nul_terminated_or_rest().to_vec());
    }
    if login.has(PLUGIN_AUTH) && !c.is_empty() {
        login.auth_plugin = Some(c.nul_terminated_or_rest().to_vec());
    }
    if login.has(CONNECT_ATTRS) && !c.is_empty() {
        login.attributes = parse_attributes(c.lenenc_bytes()?)?;
    }
    Some(ClientHello::Login(login))
}

/// HandshakeResponse320, from pre-4.1 clients: the password scrambled the 3.23 way.
fn parse_login_320(capabilities: u32, mut c: Cursor<'_>) -> Option<Login> {
    let _max_packet = c.take(3)?;
    let username = c.nul_terminated()?.to_vec();
    let auth_response = c.nul_terminated_or_rest().to_vec();
    let database =
        (capabilities & CONNECT_WITH_DB != 0 && !c.is_empty()).then(|| c.nul_terminated_or_rest().to_vec());
    Some(Login { capabilities, username, auth_response, database, ..Login::default() })
}

/// Key-value pairs of length-encoded strings; at most [`MAX_ATTRIBUTES`], each part cut
/// to [`MAX_ATTRIBUTE_LEN`].
fn parse_attributes(data: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut c = Cursor(data);
    let mut attributes = Vec::new();
    while !c.is_empty() && attributes.len() < MAX_ATTRIBUTES {
        let key = c.lenenc_bytes()?;
        let value = c.lenenc_bytes()?;
        let cut = |b: &[u8]| b[..b.len().min(MAX_ATTRIBUTE_LEN)].to_vec();
        attributes.push((cut(key), cut(value)));
    }
    Some(attributes)
}

/// Reads a payload front to back; every read is checked against what is left.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    /// A length-encoded integer; `None` for the NULL (0xfb) and invalid (0xff) markers.
    fn lenenc_int(&mut self) -> Option<u64> {
        let width = match self.u8()? {
            n @ 0..=0xfa => return Some(u64::from(n)),
            0xfc => 2,
            0xfd => 3,
            0xfe => 8,
            _ => return None,
        };
        let mut bytes = [0u8; 8];
        bytes[..width].copy_from_slice(self.take(width)?);
        Some(u64::from_le_bytes(bytes))
    }

    fn lenenc_bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.lenenc_int()?).ok()?;
        self.take(len)
    }

    /// Bytes up to a NUL, which is consumed.
    fn nul_terminated(&mut self) -> Option<&'a [u8]> {
        let end = self.0.iter().position(|&b| b == 0)?;
        let text = self.take(end)?;
        self.take(1)?;
        Some(text)
    }

    /// Bytes up to a NUL, or all that is left if there is none.
    fn nul_terminated_or_rest(&mut self) -> &'a [u8] {
        match self.nul_terminated() {
            Some(text) => text,
            None => std::mem::take(&mut self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lenenc(bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    /// A HandshakeResponse41 as libmysqlclient 8 sends it.
    fn response41(
        caps: u32,
        user: &[u8],
        auth: &[u8],
        db: Option<&[u8]>,
        plugin: &[u8],
        attrs: &[(&[u8], &[u8])],
    ) -> Vec<u8> {
        let mut out = caps.to_le_bytes().to_vec();
        out.extend_from_slice(&16_777_216u32.to_le_bytes());
        out.push(255);
        out.extend_from_slice(&[0; 23]);
        out.extend_from_slice(user);
        out.push(0);
        out.extend_from_slice(&lenenc(auth));
        if let Some(db) = db {
            out.extend_from_slice(db);
            out.push(0);
        }
        out.extend_from_slice(plugin);
        out.push(0);
        let mut attributes = Vec::new();
        for (k, v) in attrs {
            attributes.extend_from_slice(&lenenc(k));
            attributes.extend_from_slice(&lenenc(v));
        }
        out.extend_from_slice(&lenenc(&attributes));
        out
    }

    const MODERN: u32 =
        PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | PLUGIN_AUTH_LENENC_CLIENT_DATA | CONNECT_ATTRS;

    #[test]
    fn greeting_layout() {
        let scramble = *b"abcdefghijklmnopqrst";
        let payload = greeting(&Greeting {
            version: "8.0.36",
            connection_id: 0x0102_0304,
            scramble: &scramble,
            capabilities: 0xdfff_f7ff,
            charset: 255,
            status: 2,
            mariadb_capabilities: None,
            auth_plugin: "caching_sha2_password",
        });
        let mut expected = b"\x0a8.0.36\0\x04\x03\x02\x01abcdefgh\0\xff\xf7\xff\x02\0\xff\xdf\x15".to_vec();
        expected.extend_from_slice(&[0; 10]);
        expected.extend_from_slice(b"ijklmnopqrst\0caching_sha2_password\0");
        assert_eq!(payload, expected);
        assert_eq!(&packet(0, &payload)[..4], &[payload.len() as u8, 0, 0, 0]);
        assert_eq!(parse_header([0x47, 0x45, 0x54, 0x20]), (0x0054_4547, 0x20));
    }

    #[test]
    fn error_packets() {
        assert_eq!(error(1045, Some("28000"), "Access denied"), b"\xff\x15\x04#28000Access denied");
        assert_eq!(error(1043, None, "Bad handshake"), b"\xff\x13\x04Bad handshake");
        assert_eq!(
            auth_switch("mysql_native_password", b"abcdefghijklmnopqrst"),
            b"\xfemysql_native_password\0abcdefghijklmnopqrst\0"
        );
    }

    #[test]
    fn modern_login_with_database_and_attributes() {
        let payload = response41(
            MODERN | CONNECT_WITH_DB,
            b"alice",
            &[0xde, 0xad, 0x00, 0xbe],
            Some(b"shop"),
            b"caching_sha2_password",
            &[(b"_client_name", b"libmysql"), (b"program_name", b"mysql")],
        );
        let Some(ClientHello::Login(login)) = parse_client_hello(&payload) else { panic!() };
        assert_eq!(login.username, b"alice");
        assert_eq!(login.auth_response, [0xde, 0xad, 0x00, 0xbe]);
        assert_eq!(login.database.as_deref(), Some(&b"shop"[..]));
        assert_eq!(login.auth_plugin.as_deref(), Some(&b"caching_sha2_password"[..]));
        assert_eq!(
            login.attributes,
            [(b"_client_name".to_vec(), b"libmysql".to_vec()), (b"program_name".to_vec(), b"mysql".to_vec())]
        );
    }

    #[test]
    fn older_login_forms() {
        // 4.1 with a one-byte auth length, no plugin, no attributes.
        let mut payload = (PROTOCOL_41 | SECURE_CONNECTION).to_le_bytes().to_vec();
        payload.extend_from_slice(&[0; 28]);
        payload.extend_from_slice(b"root\0\x03abc");
        let Some(ClientHello::Login(login)) = parse_client_hello(&payload) else { panic!() };
        assert_eq!(
            (login.username.as_slice(), login.auth_response.as_slice(), login.auth_plugin),
            (&b"root"[..], &b"abc"[..], None)
        );

        // 3.23-era response: 2 capability bytes, 3 max-packet bytes.
        let mut payload = vec![0x85, 0x00, 0, 0, 0];
        payload.extend_from_slice(b"admin\0QXZ[\\]^_");
        let Some(ClientHello::Login(login)) = parse_client_hello(&payload) else { panic!() };
        assert_eq!(
            (login.username.as_slice(), login.auth_response.as_slice()),
            (&b"admin"[..], &b"QXZ[\\]^_"[..])
        );
    }

    #[test]
    fn ssl_request_and_garbage() {
        let mut ssl = (MODERN | SSL).to_le_bytes().to_vec();
        ssl.extend_from_slice(&[0; 28]);
        assert_eq!(parse_client_hello(&ssl), Some(ClientHello::SslRequest));
        assert_eq!(parse_client_hello(b""), None);
        assert_eq!(parse_client_hello(b"\x00\x02"), None);
        let mut no_user_end = MODERN.to_le_bytes().to_vec();
        no_user_end.extend_from_slice(&[0; 28]);
        no_user_end.extend_from_slice(b"alice");
        assert_eq!(parse_client_hello(&no_user_end), None);
        let mut long_auth = MODERN.to_le_bytes().to_vec();
        long_auth.extend_from_slice(&[0; 28]);
        long_auth.extend_from_slice(b"a\0\xfe\xff\xff\xff\xff\xff\xff\xff\xff");
        assert_eq!(parse_client_hello(&long_auth), None);
    }

    #[test]
    fn attributes_are_bounded() {
        let attrs: Vec<(&[u8], &[u8])> = (0..100).map(|_| (&b"k"[..], &b"v"[..])).collect();
        let payload = response41(MODERN, b"u", b"", None, b"mysql_native_password", &attrs);
        let payload =
            [&payload[..payload.len() - 401], &[0xfc, 144, 1], &payload[payload.len() - 400..]].concat();
        let Some(ClientHello::Login(login)) = parse_client_hello(&payload) else { panic!() };
        assert_eq!(login.attributes.len(), MAX_ATTRIBUTES);
    }
}
