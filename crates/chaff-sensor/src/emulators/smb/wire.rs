//! The SMB messages the emulator reads and writes: the NetBIOS session service framing, the
//! SMB1 NEGOTIATE (read only, to switch to SMB2), and SMB2 headers, NEGOTIATE, SESSION_SETUP
//! and error responses (MS-SMB2 2.2). Parsers take a whole message and return `None` for
//! anything short or inconsistent.

/// NetBIOS session service packet types (RFC 1002 4.3).
pub mod nbss {
    pub const SESSION_MESSAGE: u8 = 0x00;
    pub const SESSION_REQUEST: u8 = 0x81;
    pub const POSITIVE_RESPONSE: u8 = 0x82;
    pub const NEGATIVE_RESPONSE: u8 = 0x83;
    pub const KEEP_ALIVE: u8 = 0x85;
    /// Negative response error code "unspecified error", what Windows answers a session
    /// message sent before a session request.
    pub const UNSPECIFIED_ERROR: u8 = 0x8f;
}

/// One NetBIOS session packet of `kind` holding `payload`.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_be_bytes();
    let mut out = Vec::with_capacity(4 + payload.len());
    out.push(kind);
    out.extend_from_slice(&length[1..]);
    out.extend_from_slice(payload);
    out
}

/// The names of a session request: (called, calling), first-level decoded and trimmed.
pub fn session_request_names(payload: &[u8]) -> Option<(String, String)> {
    let (called, rest) = netbios_name(payload)?;
    let (calling, _) = netbios_name(rest)?;
    Some((called, calling))
}

/// One encoded name: length 32, 32 letters `A`-`P` (two per byte), a zero-length label.
fn netbios_name(input: &[u8]) -> Option<(String, &[u8])> {
    let (&32, rest) = input.split_first()? else { return None };
    let encoded = rest.get(..32)?;
    let mut name = Vec::with_capacity(16);
    for pair in encoded.chunks_exact(2) {
        let nibble = |c: u8| c.checked_sub(b'A').filter(|&n| n < 16);
        name.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    // The 16th byte is the name's suffix (service type); the rest is space-padded.
    let text = String::from_utf8_lossy(&name[..15]).trim_end().to_owned();
    let rest = rest.get(32..)?;
    let (&0, rest) = rest.split_first()? else { return None };
    Some((text, rest))
}

pub const SMB1_MAGIC: &[u8; 4] = b"\xffSMB";
pub const SMB2_MAGIC: &[u8; 4] = b"\xfeSMB";
const SMB1_NEGOTIATE: u8 = 0x72;
const SMB1_HEADER_LEN: usize = 32;

/// The dialect strings of an SMB1 NEGOTIATE; `None` if `message` is not one.
pub fn smb1_dialects(message: &[u8]) -> Option<Vec<String>> {
    if !message.starts_with(SMB1_MAGIC) || *message.get(4)? != SMB1_NEGOTIATE {
        return None;
    }
    let word_count = usize::from(*message.get(SMB1_HEADER_LEN)?);
    let at = SMB1_HEADER_LEN + 1 + word_count * 2;
    let byte_count = usize::from(u16::from_le_bytes([*message.get(at)?, *message.get(at + 1)?]));
    let mut bytes = message.get(at + 2..at + 2 + byte_count)?;
    let mut dialects = Vec::new();
    while let Some((&0x02, rest)) = bytes.split_first() {
        let end = rest.iter().position(|&b| b == 0)?;
        dialects.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        bytes = &rest[end + 1..];
        if dialects.len() == MAX_DIALECTS {
            break;
        }
    }
    Some(dialects)
}

/// Most dialects read from one NEGOTIATE.
const MAX_DIALECTS: usize = 64;

pub const HEADER_LEN: usize = 64;

/// SMB2 commands.
pub mod command {
    pub const NEGOTIATE: u16 = 0x00;
    pub const SESSION_SETUP: u16 = 0x01;
    pub const LOGOFF: u16 = 0x02;
    pub const ECHO: u16 = 0x0d;
}

/// NTSTATUS values.
pub mod status {
    pub const SUCCESS: u32 = 0x0000_0000;
    pub const MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;
    pub const ACCESS_DENIED: u32 = 0xc000_0022;
    pub const LOGON_FAILURE: u32 = 0xc000_006d;
    pub const NOT_SUPPORTED: u32 = 0xc000_00bb;
    pub const USER_SESSION_DELETED: u32 = 0xc000_0203;
}

/// Dialect revisions.
pub mod dialect {
    pub const SMB202: u16 = 0x0202;
    pub const SMB210: u16 = 0x0210;
    pub const SMB300: u16 = 0x0300;
    pub const SMB302: u16 = 0x0302;
    pub const SMB311: u16 = 0x0311;
    /// "SMB 2.???": the answer to an SMB1 NEGOTIATE that tells the client to negotiate again
    /// in SMB2.
    pub const WILDCARD: u16 = 0x02ff;
}

/// The name of a dialect revision, as nmap and Wireshark write it.
pub fn dialect_name(revision: u16) -> String {
    match revision {
        dialect::SMB202 => "2.0.2".to_owned(),
        dialect::SMB210 => "2.1".to_owned(),
        dialect::SMB300 => "3.0".to_owned(),
        dialect::SMB302 => "3.0.2".to_owned(),
        dialect::SMB311 => "3.1.1".to_owned(),
        dialect::WILDCARD => "2.???".to_owned(),
        other => format!("0x{other:04x}"),
    }
}

const FLAG_SERVER_TO_REDIR: u32 = 0x0000_0001;

/// The fields of a request header an answer echoes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub credit_charge: u16,
    pub command: u16,
    pub credits: u16,
    pub message_id: u64,
    pub process_id: u32,
    pub tree_id: u32,
    pub session_id: u64,
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32_at(bytes, at)?) | u64::from(u32_at(bytes, at + 4)?) << 32)
}

pub fn parse_header(message: &[u8]) -> Option<Header> {
    if !message.starts_with(SMB2_MAGIC) || u16_at(message, 4)? != HEADER_LEN as u16 {
        return None;
    }
    Some(Header {
        credit_charge: u16_at(message, 6)?,
        command: u16_at(message, 12)?,
        credits: u16_at(message, 14)?,
        message_id: u64_at(message, 24)?,
        process_id: u32_at(message, 32)?,
        tree_id: u32_at(message, 36)?,
        session_id: u64_at(message, 40)?,
    })
}

/// The response header to `request` with `status`, for session `session_id`.
fn response_header(request: &Header, status: u32, session_id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(SMB2_MAGIC);
    out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    out.extend_from_slice(&request.credit_charge.to_le_bytes());
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&request.command.to_le_bytes());
    out.extend_from_slice(&request.credits.max(1).to_le_bytes());
    out.extend_from_slice(&FLAG_SERVER_TO_REDIR.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&request.message_id.to_le_bytes());
    out.extend_from_slice(&request.process_id.to_le_bytes());
    out.extend_from_slice(&request.tree_id.to_le_bytes());
    out.extend_from_slice(&session_id.to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    out
}

/// What a client's SMB2 NEGOTIATE offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiate {
    pub dialects: Vec<u16>,
    pub client_guid: [u8; 16],
    /// Ciphers of the client's encryption capabilities context (3.1.1).
    pub ciphers: Vec<u16>,
}

const NEGOTIATE_REQUEST_SIZE: u16 = 36;
const CONTEXT_PREAUTH_INTEGRITY: u16 = 0x0001;
const CONTEXT_ENCRYPTION: u16 = 0x0002;
/// Most negotiate contexts read from one request.
const MAX_CONTEXTS: usize = 16;

pub fn parse_negotiate(message: &[u8]) -> Option<Negotiate> {
    let body = message.get(HEADER_LEN..)?;
    if u16_at(body, 0)? != NEGOTIATE_REQUEST_SIZE {
        return None;
    }
    let count = usize::from(u16_at(body, 2)?).min(MAX_DIALECTS);
    let dialects = (0..count).map(|i| u16_at(body, 36 + i * 2)).collect::<Option<Vec<_>>>()?;
    let client_guid = body.get(12..28)?.try_into().ok()?;
    let ciphers = if dialects.contains(&dialect::SMB311) {
        let offset = u32_at(body, 28)? as usize;
        let contexts = usize::from(u16_at(body, 32)?).min(MAX_CONTEXTS);
        encryption_ciphers(message, offset, contexts)
    } else {
        Vec::new()
    };
    Some(Negotiate { dialects, client_guid, ciphers })
}

/// The ciphers of the encryption context among the `count` contexts at `offset`; none when
/// absent or malformed.
fn encryption_ciphers(message: &[u8], mut offset: usize, count: usize) -> Vec<u16> {
    for _ in 0..count {
        let (Some(kind), Some(length)) = (u16_at(message, offset), u16_at(message, offset + 2)) else {
            break;
        };
        let data_at = offset + 8;
        if kind == CONTEXT_ENCRYPTION {
            let cipher_count = usize::from(u16_at(message, data_at).unwrap_or(0)).min(MAX_DIALECTS);
            return (0..cipher_count).map_while(|i| u16_at(message, data_at + 2 + i * 2)).collect();
        }
        offset = (data_at + usize::from(length)).next_multiple_of(8);
    }
    Vec::new()
}

/// What the server says about itself in a NEGOTIATE response.
pub struct ServerInfo<'a> {
    pub guid: [u8; 16],
    /// FILETIME now.
    pub system_time: u64,
    /// The SPNEGO token offering authentication mechanisms.
    pub security_blob: &'a [u8],
}

const NEGOTIATE_RESPONSE_SIZE: u16 = 65;
const SECURITY_MODE_SIGNING_ENABLED: u16 = 0x0001;
const SECURITY_BUFFER_OFFSET: usize = HEADER_LEN + 64;
const CAP_DFS: u32 = 0x01;
const CAP_LEASING: u32 = 0x02;
const CAP_LARGE_MTU: u32 = 0x04;
const CAP_MULTI_CHANNEL: u32 = 0x08;
const CAP_DIRECTORY_LEASING: u32 = 0x20;
const CAP_ENCRYPTION: u32 = 0x40;
const HASH_SHA512: u16 = 0x0001;
const PREAUTH_SALT_LEN: usize = 32;
/// Ciphers Windows accepts, in its order of preference: AES-128-GCM, AES-128-CCM.
const CIPHERS: [u16; 2] = [0x0002, 0x0001];

/// The capabilities and size limits Windows announces with `revision`.
fn capabilities(revision: u16) -> (u32, u32) {
    match revision {
        dialect::SMB202 | dialect::WILDCARD => (CAP_DFS, 65_536),
        dialect::SMB210 => (CAP_DFS | CAP_LEASING | CAP_LARGE_MTU, 8_388_608),
        dialect::SMB300 | dialect::SMB302 => (
            CAP_DFS
                | CAP_LEASING
                | CAP_LARGE_MTU
                | CAP_MULTI_CHANNEL
                | CAP_DIRECTORY_LEASING
                | CAP_ENCRYPTION,
            8_388_608,
        ),
        _ => (CAP_DFS | CAP_LEASING | CAP_LARGE_MTU | CAP_MULTI_CHANNEL | CAP_DIRECTORY_LEASING, 8_388_608),
    }
}

/// The NEGOTIATE response choosing `revision`; 3.1.1 carries the preauth integrity context
/// and, when the client offered ciphers, the encryption context.
pub fn negotiate_response(
    request: &Header,
    revision: u16,
    server: &ServerInfo<'_>,
    client_ciphers: &[u16],
) -> Vec<u8> {
    let contexts = if revision == dialect::SMB311 { negotiate_contexts(client_ciphers) } else { Vec::new() };
    let (capabilities, max_size) = capabilities(revision);
    let blob = server.security_blob;
    let contexts_at = (SECURITY_BUFFER_OFFSET + blob.len()).next_multiple_of(8);
    let mut out = response_header(request, status::SUCCESS, 0);
    out.extend_from_slice(&NEGOTIATE_RESPONSE_SIZE.to_le_bytes());
    out.extend_from_slice(&SECURITY_MODE_SIGNING_ENABLED.to_le_bytes());
    out.extend_from_slice(&revision.to_le_bytes());
    out.extend_from_slice(&(contexts.len() as u16).to_le_bytes());
    out.extend_from_slice(&server.guid);
    out.extend_from_slice(&capabilities.to_le_bytes());
    for _ in 0..3 {
        out.extend_from_slice(&max_size.to_le_bytes());
    }
    out.extend_from_slice(&server.system_time.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&(SECURITY_BUFFER_OFFSET as u16).to_le_bytes());
    out.extend_from_slice(&(blob.len() as u16).to_le_bytes());
    out.extend_from_slice(&(if contexts.is_empty() { 0 } else { contexts_at as u32 }).to_le_bytes());
    out.extend_from_slice(blob);
    for (i, context) in contexts.iter().enumerate() {
        let aligned = if i == 0 { contexts_at } else { out.len().next_multiple_of(8) };
        out.resize(aligned, 0);
        out.extend_from_slice(context);
    }
    out
}

/// The 3.1.1 negotiate contexts: SHA-512 preauth integrity with a fresh salt, and the
/// preferred cipher the client offered.
fn negotiate_contexts(client_ciphers: &[u16]) -> Vec<Vec<u8>> {
    let mut preauth = Vec::with_capacity(4 + PREAUTH_SALT_LEN + 2);
    preauth.extend_from_slice(&1u16.to_le_bytes());
    preauth.extend_from_slice(&(PREAUTH_SALT_LEN as u16).to_le_bytes());
    preauth.extend_from_slice(&HASH_SHA512.to_le_bytes());
    preauth.extend((0..PREAUTH_SALT_LEN).map(|_| fastrand::u8(..)));
    let mut contexts = vec![negotiate_context(CONTEXT_PREAUTH_INTEGRITY, &preauth)];
    if !client_ciphers.is_empty() {
        let cipher = CIPHERS.into_iter().find(|c| client_ciphers.contains(c)).unwrap_or(0);
        let data = [1u16.to_le_bytes(), cipher.to_le_bytes()].concat();
        contexts.push(negotiate_context(CONTEXT_ENCRYPTION, &data));
    }
    contexts
}

fn negotiate_context(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(data.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The NEGOTIATE response to an SMB1 NEGOTIATE: an SMB2 response (message id 0) choosing
/// `revision` (`2.???` to have the client negotiate again, or 2.0.2).
pub fn negotiate_response_to_smb1(revision: u16, server: &ServerInfo<'_>) -> Vec<u8> {
    let request = Header { command: command::NEGOTIATE, credits: 1, ..Header::default() };
    negotiate_response(&request, revision, server, &[])
}

const SESSION_SETUP_REQUEST_SIZE: u16 = 25;
const SESSION_SETUP_RESPONSE_SIZE: u16 = 9;

/// The security token of a SESSION_SETUP request.
pub fn session_setup_token(message: &[u8]) -> Option<&[u8]> {
    let body = message.get(HEADER_LEN..)?;
    if u16_at(body, 0)? != SESSION_SETUP_REQUEST_SIZE {
        return None;
    }
    let offset = usize::from(u16_at(body, 12)?);
    let length = usize::from(u16_at(body, 14)?);
    message.get(offset..offset + length)
}

/// A SESSION_SETUP response with `status` carrying `token`.
pub fn session_setup_response(request: &Header, status: u32, session_id: u64, token: &[u8]) -> Vec<u8> {
    let mut out = response_header(request, status, session_id);
    out.extend_from_slice(&SESSION_SETUP_RESPONSE_SIZE.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&((HEADER_LEN + 8) as u16).to_le_bytes());
    out.extend_from_slice(&(token.len() as u16).to_le_bytes());
    out.extend_from_slice(token);
    out
}

/// The ERROR response with `status` (no error contexts, one byte of data, as Windows).
pub fn error_response(request: &Header, status: u32, session_id: u64) -> Vec<u8> {
    let mut out = response_header(request, status, session_id);
    out.extend_from_slice(&9u16.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(0);
    out
}

/// The ECHO response.
pub fn echo_response(request: &Header, session_id: u64) -> Vec<u8> {
    let mut out = response_header(request, status::SUCCESS, session_id);
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An SMB2 request header for `command`.
    pub fn request_header(command: u16, message_id: u64) -> Vec<u8> {
        let mut out = SMB2_MAGIC.to_vec();
        out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out.extend_from_slice(&[0; 6]);
        out.extend_from_slice(&command.to_le_bytes());
        out.extend_from_slice(&31u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&message_id.to_le_bytes());
        out.extend_from_slice(&[0; 32]);
        out
    }

    pub fn negotiate_request(dialects: &[u16]) -> Vec<u8> {
        let mut out = request_header(command::NEGOTIATE, 0);
        out.extend_from_slice(&NEGOTIATE_REQUEST_SIZE.to_le_bytes());
        out.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
        out.extend_from_slice(&[1, 0, 0, 0, 0x7f, 0, 0, 0]);
        out.extend_from_slice(&[0x42; 16]);
        out.extend_from_slice(&[0; 8]);
        dialects.iter().for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
        out
    }

    pub fn session_setup_request(token: &[u8], message_id: u64) -> Vec<u8> {
        let mut out = request_header(command::SESSION_SETUP, message_id);
        out.extend_from_slice(&SESSION_SETUP_REQUEST_SIZE.to_le_bytes());
        out.extend_from_slice(&[0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&((HEADER_LEN + 24) as u16).to_le_bytes());
        out.extend_from_slice(&(token.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(token);
        out
    }

    /// nmap's SMBProgNeg probe without its NetBIOS header, plus `extra` dialects.
    pub fn smb1_negotiate(extra: &[&str]) -> Vec<u8> {
        let mut dialects = Vec::new();
        for name in ["PC NETWORK PROGRAM 1.0", "LANMAN1.0", "NT LM 0.12"].iter().chain(extra) {
            dialects.push(2);
            dialects.extend_from_slice(name.as_bytes());
            dialects.push(0);
        }
        let mut out = SMB1_MAGIC.to_vec();
        out.push(SMB1_NEGOTIATE);
        out.extend_from_slice(&[0; 27]);
        out.push(0);
        out.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
        out.extend(dialects);
        out
    }

    #[test]
    fn requests_parse_and_truncations_are_refused() {
        let request = negotiate_request(&[dialect::SMB202, dialect::SMB311]);
        let parsed = parse_negotiate(&request).unwrap();
        assert_eq!(parsed.dialects, [dialect::SMB202, dialect::SMB311]);
        assert!(parsed.ciphers.is_empty(), "no contexts offered");
        assert_eq!(parse_header(&request).unwrap().credits, 31);
        let setup = session_setup_request(b"NTLMSSP\0token", 2);
        assert_eq!(session_setup_token(&setup), Some(&b"NTLMSSP\0token"[..]));
        let smb1 = smb1_negotiate(&["SMB 2.002", "SMB 2.???"]);
        assert_eq!(smb1_dialects(&smb1).unwrap().last().unwrap(), "SMB 2.???");
        for cut in 0..setup.len() - 1 {
            assert_eq!(session_setup_token(&setup[..cut]), None, "cut at {cut}");
        }
        for cut in 0..request.len() - 1 {
            assert_eq!(parse_negotiate(&request[..cut]), None, "cut at {cut}");
        }
        for cut in 0..smb1.len() - 1 {
            let _ = smb1_dialects(&smb1[..cut]);
        }
    }

    #[test]
    fn negotiate_response_layout() {
        let blob = [0xaa; 10];
        let server = ServerInfo { guid: [7; 16], system_time: 1, security_blob: &blob };
        let request = parse_header(&negotiate_request(&[dialect::SMB311])).unwrap();
        let response = negotiate_response(&request, dialect::SMB311, &server, &[0x0001, 0x0002]);
        let body = &response[HEADER_LEN..];
        assert_eq!(u16_at(body, 4), Some(dialect::SMB311));
        assert_eq!(u16_at(body, 6), Some(2), "two contexts");
        assert_eq!(&response[128..138], &blob);
        let contexts_at = u32_at(body, 60).unwrap() as usize;
        assert_eq!(contexts_at, 144);
        assert_eq!(u16_at(&response, contexts_at), Some(CONTEXT_PREAUTH_INTEGRITY));
        // The preauth context ends at 190; the next starts aligned to 8.
        assert_eq!(u16_at(&response, 192), Some(CONTEXT_ENCRYPTION));
        assert_eq!(u16_at(&response, 202), Some(0x0002), "GCM preferred");
        let smb2 = negotiate_response(&request, dialect::SMB210, &server, &[]);
        assert_eq!(smb2.len(), 138);
    }

    #[test]
    fn session_request_names_are_decoded() {
        let encode = |name: &str| {
            let mut padded = format!("{name:<15}").into_bytes();
            padded.push(0x20);
            let mut out = vec![32];
            padded.iter().for_each(|b| out.extend_from_slice(&[b'A' + (b >> 4), b'A' + (b & 0x0f)]));
            out.push(0);
            out
        };
        let payload = [encode("*SMBSERVER"), encode("KALI")].concat();
        assert_eq!(session_request_names(&payload), Some(("*SMBSERVER".to_owned(), "KALI".to_owned())));
        assert_eq!(session_request_names(&payload[..40]), None);
        assert_eq!(session_request_names(&[32; 68]), None);
    }
}
