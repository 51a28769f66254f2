//! NTLMSSP as a Windows host answers it, shared by `smb` and `rdp` (CredSSP): the client's
//! NEGOTIATE (type 1) gets a CHALLENGE (type 2) naming the host's NetBIOS and DNS domain and
//! computer, with a fresh 8-byte server challenge; the AUTHENTICATE (type 3) is parsed for
//! the user, domain, workstation and NT response, which is recorded as is and as the line
//! hashcat cracks (NetNTLMv2 `user::domain:challenge:ntproofstr:blob`, mode 5600, or
//! NetNTLMv1 `user::domain:lm:nt:challenge`, mode 5500), as Responder writes them. Nothing
//! is ever verified: every login fails.
//!
//! The host's identity is configured by `<PREFIX>_HOSTNAME` (the computer name: one DNS
//! label; its first 15 characters, upper-cased, are the NetBIOS name) and `<PREFIX>_DOMAIN`
//! (the DNS domain, its first label upper-cased the NetBIOS domain), each else a per-decky
//! pick; the Windows build is a per-decky pick. The picks are shared by every service of a
//! decky, so its SMB and RDP describe the same machine.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::codec::{utf16le_decode, utf16le_encode};
use crate::env::{ConfigError, Env};
use crate::event::{Fields, hex};
use crate::listener::Session;
use crate::persona::decky_rng;

/// Every NTLMSSP message starts with it.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

const NEGOTIATE: u32 = 1;
const CHALLENGE: u32 = 2;
const AUTHENTICATE: u32 = 3;

/// Negotiate flags (MS-NLMP 2.2.2.5).
mod flag {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const OEM: u32 = 0x0000_0002;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const SIGN: u32 = 0x0000_0010;
    pub const SEAL: u32 = 0x0000_0020;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const KEY_128: u32 = 0x2000_0000;
    pub const KEY_EXCH: u32 = 0x4000_0000;
    pub const KEY_56: u32 = 0x8000_0000;
}

/// Flags the server grants only when the client asked for them.
const ECHOED_FLAGS: u32 = flag::SIGN | flag::SEAL | flag::KEY_128 | flag::KEY_EXCH | flag::KEY_56;

/// AV pair ids of the CHALLENGE's target info (MS-NLMP 2.2.2.1).
mod av {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const DNS_TREE_NAME: u16 = 5;
    pub const TIMESTAMP: u16 = 7;
}

/// Where the CHALLENGE's payload starts: the fixed part with the version field.
const CHALLENGE_HEADER: usize = 56;

/// The `NTLMRevisionCurrent` of the version field: NTLMSSP revision 15.
const NTLM_REVISION: u8 = 0x0f;

/// Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const FILETIME_UNIX_OFFSET: u64 = 11_644_473_600;

/// Longest NetBIOS name.
const NETBIOS_NAME_MAX: usize = 15;

/// Domains a decky may claim to be a member of, when `<PREFIX>_DOMAIN` is unset.
const DOMAINS: &[&str] =
    &["corp.local", "ad.internal", "hq.local", "office.lan", "intranet.local", "ad.corp"];

/// Windows builds a decky may claim: (major, minor, build). Server 2016, 2019, 2022,
/// Windows 10 22H2 and Windows 11 23H2.
const BUILDS: &[(u8, u8, u16)] =
    &[(10, 0, 14393), (10, 0, 17763), (10, 0, 20348), (10, 0, 19045), (10, 0, 22631)];

/// Who the host says it is in a CHALLENGE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub netbios_computer: String,
    pub netbios_domain: String,
    pub dns_computer: String,
    pub dns_domain: String,
    /// Windows major, minor and build.
    pub version: (u8, u8, u16),
}

impl Identity {
    /// The identity from `<prefix>_HOSTNAME` and `<prefix>_DOMAIN`, else the decky's picks.
    pub fn from_env(env: &Env, prefix: &str) -> Result<Identity, ConfigError> {
        let decky = env.decky();
        let host_var = format!("{prefix}_HOSTNAME");
        let hostname = match env.get(&host_var) {
            Some(name) => valid_label(name).then(|| name.to_owned()).ok_or_else(|| {
                ConfigError::new(
                    &host_var,
                    format!("expected a computer name (letters, digits, -), got {name:?}"),
                )
            })?,
            None => default_computer_name(decky),
        };
        let domain_var = format!("{prefix}_DOMAIN");
        let dns_domain = match env.get(&domain_var) {
            Some(domain) => {
                domain.split('.').all(valid_label).then(|| domain.to_owned()).ok_or_else(|| {
                    ConfigError::new(
                        &domain_var,
                        format!("expected a DNS domain like corp.local, got {domain:?}"),
                    )
                })?
            }
            None => DOMAINS[decky_rng(decky, "windows-domain").usize(..DOMAINS.len())].to_owned(),
        };
        let first_label = dns_domain.split('.').next().unwrap_or_default();
        Ok(Identity {
            netbios_computer: netbios_name(&hostname),
            netbios_domain: netbios_name(first_label),
            dns_computer: format!("{hostname}.{dns_domain}"),
            dns_domain,
            version: BUILDS[decky_rng(decky, "windows-build").usize(..BUILDS.len())],
        })
    }

    /// `10.0.17763`.
    pub fn version_text(&self) -> String {
        let (major, minor, build) = self.version;
        format!("{major}.{minor}.{build}")
    }

    /// The CHALLENGE answering `negotiate` with `server_challenge`, stamped `now`.
    pub fn challenge(&self, negotiate: &Negotiate, server_challenge: [u8; 8], now: SystemTime) -> Vec<u8> {
        let unicode = negotiate.flags & flag::UNICODE != 0 || negotiate.flags & flag::OEM == 0;
        let text = |s: &str| if unicode { utf16le_encode(s) } else { s.as_bytes().to_vec() };
        let target_name = text(&self.netbios_domain);
        let target_info = self.target_info(now);
        let flags = flag::REQUEST_TARGET
            | flag::NTLM
            | flag::ALWAYS_SIGN
            | flag::TARGET_TYPE_DOMAIN
            | flag::EXTENDED_SESSIONSECURITY
            | flag::TARGET_INFO
            | flag::VERSION
            | if unicode { flag::UNICODE } else { flag::OEM }
            | (negotiate.flags & ECHOED_FLAGS);
        let mut out = Vec::with_capacity(CHALLENGE_HEADER + target_name.len() + target_info.len());
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&CHALLENGE.to_le_bytes());
        push_field(&mut out, target_name.len(), CHALLENGE_HEADER);
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&server_challenge);
        out.extend_from_slice(&[0; 8]);
        push_field(&mut out, target_info.len(), CHALLENGE_HEADER + target_name.len());
        let (major, minor, build) = self.version;
        out.extend_from_slice(&[major, minor]);
        out.extend_from_slice(&build.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, NTLM_REVISION]);
        out.extend(target_name);
        out.extend(target_info);
        out
    }

    /// The AV pairs Windows sends, in its order (always UTF-16LE).
    fn target_info(&self, now: SystemTime) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pair = |id: u16, value: &[u8]| {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
            out.extend_from_slice(value);
        };
        pair(av::NB_DOMAIN_NAME, &utf16le_encode(&self.netbios_domain));
        pair(av::NB_COMPUTER_NAME, &utf16le_encode(&self.netbios_computer));
        pair(av::DNS_DOMAIN_NAME, &utf16le_encode(&self.dns_domain));
        pair(av::DNS_COMPUTER_NAME, &utf16le_encode(&self.dns_computer));
        pair(av::DNS_TREE_NAME, &utf16le_encode(&self.dns_domain));
        pair(av::TIMESTAMP, &filetime(now).to_le_bytes());
        pair(av::EOL, &[]);
        out
    }
}

/// One DNS label: 1 to 63 letters, digits and hyphens.
fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn netbios_name(name: &str) -> String {
    name.chars().take(NETBIOS_NAME_MAX).collect::<String>().to_ascii_uppercase()
}

/// What Windows setup names a machine: `DESKTOP-` and seven letters and digits.
fn default_computer_name(decky: &str) -> String {
    let mut rng = decky_rng(decky, "windows-computer");
    let suffix: String = (0..7)
        .map(|_| rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789").map_or('X', |&b| b.into()))
        .collect();
    format!("DESKTOP-{suffix}")
}

/// 100-nanosecond intervals since 1601-01-01.
pub fn filetime(t: SystemTime) -> u64 {
    let since_unix = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (since_unix.as_secs() + FILETIME_UNIX_OFFSET) * 10_000_000 + u64::from(since_unix.subsec_nanos() / 100)
}

/// A security buffer descriptor: length, maximum length, offset of the payload.
fn push_field(out: &mut Vec<u8>, length: usize, offset: usize) {
    let length = length as u16;
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&(offset as u32).to_le_bytes());
}

/// The payload the descriptor at `at` points to, if it lies within `message`.
fn read_field(message: &[u8], at: usize) -> Option<&[u8]> {
    let descriptor = message.get(at..at + 8)?;
    let length = usize::from(u16::from_le_bytes([descriptor[0], descriptor[1]]));
    let offset = u32::from_le_bytes([descriptor[4], descriptor[5], descriptor[6], descriptor[7]]) as usize;
    if length == 0 {
        return Some(&[]);
    }
    message.get(offset..offset.checked_add(length)?)
}

fn read_u32(message: &[u8], at: usize) -> Option<u32> {
    message.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The type of an NTLMSSP message, if `message` is one.
pub fn message_type(message: &[u8]) -> Option<u32> {
    message.starts_with(SIGNATURE).then(|| read_u32(message, 8)).flatten()
}

/// A client's NEGOTIATE: what the answer depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Negotiate {
    pub flags: u32,
}

pub fn parse_negotiate(message: &[u8]) -> Option<Negotiate> {
    (message_type(message)? == NEGOTIATE).then_some(())?;
    Some(Negotiate { flags: read_u32(message, 12)? })
}

/// A client's AUTHENTICATE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authenticate {
    pub lm_response: Vec<u8>,
    pub nt_response: Vec<u8>,
    pub domain: String,
    pub user: String,
    pub workstation: String,
    /// The client's Windows version (`10.0.19041`), when it sent one.
    pub client_version: Option<String>,
}

/// Offsets of the AUTHENTICATE's descriptors and fields.
const AUTH_LM: usize = 12;
const AUTH_NT: usize = 20;
const AUTH_DOMAIN: usize = 28;
const AUTH_USER: usize = 36;
const AUTH_WORKSTATION: usize = 44;
const AUTH_FLAGS: usize = 60;
const AUTH_VERSION: usize = 64;

pub fn parse_authenticate(message: &[u8]) -> Option<Authenticate> {
    (message_type(message)? == AUTHENTICATE).then_some(())?;
    let flags = read_u32(message, AUTH_FLAGS)?;
    let text = |at: usize| -> Option<String> {
        let bytes = read_field(message, at)?;
        Some(if flags & flag::UNICODE != 0 {
            utf16le_decode(bytes)
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        })
    };
    // The version field is there only when negotiated, and only if the payload starts after it.
    let client_version = (flags & flag::VERSION != 0)
        .then(|| message.get(AUTH_VERSION..AUTH_VERSION + 8))
        .flatten()
        .filter(|v| v[7] == NTLM_REVISION)
        .map(|v| format!("{}.{}.{}", v[0], v[1], u16::from_le_bytes([v[2], v[3]])));
    Some(Authenticate {
        lm_response: read_field(message, AUTH_LM)?.to_vec(),
        nt_response: read_field(message, AUTH_NT)?.to_vec(),
        domain: text(AUTH_DOMAIN)?,
        user: text(AUTH_USER)?,
        workstation: text(AUTH_WORKSTATION)?,
        client_version,
    })
}

/// Which response an AUTHENTICATE carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// No user and no NT response: a null session.
    Anonymous,
    /// The 24-byte DES-based response.
    V1,
    /// HMAC-MD5 proof and the client's blob.
    V2,
}

impl Response {
    fn name(self) -> &'static str {
        match self {
            Response::Anonymous => "anonymous",
            Response::V1 => "NTLMv1",
            Response::V2 => "NTLMv2",
        }
    }
}

impl Authenticate {
    pub fn response(&self) -> Response {
        match self.nt_response.len() {
            0 => Response::Anonymous,
            n if n > 24 => Response::V2,
            _ => Response::V1,
        }
    }

    /// The line hashcat cracks, as Responder writes it; none for a null session.
    pub fn hashcat_line(&self, server_challenge: [u8; 8]) -> Option<String> {
        let (user, domain, challenge) = (&self.user, &self.domain, hex(&server_challenge));
        match self.response() {
            Response::Anonymous => None,
            Response::V2 => {
                let (proof, blob) = self.nt_response.split_at(16);
                Some(format!("{user}::{domain}:{challenge}:{}:{}", hex(proof), hex(blob)))
            }
            Response::V1 => Some(format!(
                "{user}::{domain}:{}:{}:{challenge}",
                hex(&self.lm_response),
                hex(&self.nt_response)
            )),
        }
    }
}

/// One NTLM exchange: the NEGOTIATE is answered with a challenge, which the AUTHENTICATE
/// must answer.
#[derive(Debug, Default)]
pub struct Exchange {
    server_challenge: Option<[u8; 8]>,
}

/// What a client's NTLMSSP message led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A NEGOTIATE, answered by this CHALLENGE.
    Challenge(Vec<u8>),
    /// An AUTHENTICATE answering our challenge (already recorded).
    Authenticated(Box<Authenticate>),
    /// Not the message expected next, or malformed.
    Unexpected(&'static str),
}

impl Exchange {
    /// Takes the client's next NTLMSSP `message`: a NEGOTIATE gets a challenge, an
    /// AUTHENTICATE after it is recorded as an `auth` event.
    pub fn step(&mut self, identity: &Identity, message: &[u8], session: &Session) -> Step {
        match (message_type(message), self.server_challenge) {
            (Some(NEGOTIATE), None) => {
                let Some(negotiate) = parse_negotiate(message) else {
                    return Step::Unexpected("malformed NTLM negotiate");
                };
                let challenge = fastrand::u64(..).to_le_bytes();
                self.server_challenge = Some(challenge);
                Step::Challenge(identity.challenge(&negotiate, challenge, SystemTime::now()))
            }
            (Some(AUTHENTICATE), Some(challenge)) => match parse_authenticate(message) {
                Some(auth) => {
                    record_auth(session, &auth, challenge);
                    Step::Authenticated(Box::new(auth))
                }
                None => Step::Unexpected("malformed NTLM authenticate"),
            },
            (Some(_), _) => Step::Unexpected("unexpected NTLM message"),
            (None, _) => Step::Unexpected("not an NTLM message"),
        }
    }
}

/// The `auth` event of an NTLM login: `username`, `domain`, `workstation`, `ntlm`
/// (`NTLMv2`, `NTLMv1` or `anonymous`), `server_challenge` and `nt_response` (hex),
/// `netntlm` (the hashcat line, not for anonymous), `client_version` (when sent), `success`.
pub fn record_auth(session: &Session, auth: &Authenticate, server_challenge: [u8; 8]) {
    let mut fields = Fields::new()
        .text("username", auth.user.as_str())
        .text("domain", auth.domain.as_str())
        .text("workstation", auth.workstation.as_str())
        .text("ntlm", auth.response().name())
        .text("server_challenge", hex(&server_challenge))
        .text("nt_response", hex(&auth.nt_response));
    if let Some(line) = auth.hashcat_line(server_challenge) {
        fields = fields.text("netntlm", line);
    }
    if let Some(version) = &auth.client_version {
        fields = fields.text("client_version", version.as_str());
    }
    session.record("auth", fields.flag("success", false));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A NEGOTIATE as smbclient sends it (Unicode, NTLM, ESS, 128/56-bit, key exchange).
    pub fn negotiate_message() -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&NEGOTIATE.to_le_bytes());
        out.extend_from_slice(&0xe208_8215u32.to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        out
    }

    /// An AUTHENTICATE from `user`@`domain` on `workstation` with `nt_response`.
    pub fn authenticate_message(user: &str, domain: &str, workstation: &str, nt_response: &[u8]) -> Vec<u8> {
        let lm = [0u8; 24];
        let fields: [Vec<u8>; 6] = [
            lm.to_vec(),
            nt_response.to_vec(),
            utf16le_encode(domain),
            utf16le_encode(user),
            utf16le_encode(workstation),
            vec![0xaa; 16],
        ];
        let header = 88;
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&AUTHENTICATE.to_le_bytes());
        let mut offset = header;
        for field in &fields {
            push_field(&mut out, field.len(), offset);
            offset += field.len();
        }
        out.extend_from_slice(&(flag::UNICODE | flag::VERSION | flag::NTLM).to_le_bytes());
        out.extend_from_slice(&[10, 0, 0x61, 0x4a, 0, 0, 0, NTLM_REVISION]);
        out.extend_from_slice(&[0; 16]);
        assert_eq!(out.len(), header);
        fields.iter().for_each(|f| out.extend_from_slice(f));
        out
    }

    fn identity() -> Identity {
        Identity::from_env(
            &Env::from_pairs([
                ("NODE_NAME", "fs-01"),
                ("SMB_HOSTNAME", "fileserver-primary-01"),
                ("SMB_DOMAIN", "acme.local"),
            ]),
            "SMB",
        )
        .unwrap()
    }

    #[test]
    fn identity_is_configured_or_picked_per_decky() {
        let id = identity();
        assert_eq!(id.netbios_computer, "FILESERVER-PRIM");
        assert_eq!((id.netbios_domain.as_str(), id.dns_domain.as_str()), ("ACME", "acme.local"));
        assert_eq!(id.dns_computer, "fileserver-primary-01.acme.local");
        let picked = |decky: &str, prefix: &str| {
            Identity::from_env(&Env::from_pairs([("NODE_NAME", decky)]), prefix).unwrap()
        };
        assert_eq!(picked("ws-7", "SMB"), picked("ws-7", "RDP"), "one machine behind every service");
        assert!(picked("ws-7", "SMB").netbios_computer.starts_with("DESKTOP-"));
        let names: std::collections::BTreeSet<String> =
            (0..20).map(|i| picked(&format!("ws-{i}"), "RDP").dns_computer).collect();
        assert_eq!(names.len(), 20);
        for (var, bad) in [
            ("SMB_HOSTNAME", "file server"),
            ("SMB_HOSTNAME", "a.b"),
            ("SMB_DOMAIN", "corp..local"),
            ("SMB_DOMAIN", "c_orp"),
        ] {
            let error = Identity::from_env(&Env::from_pairs([(var, bad)]), "SMB").unwrap_err();
            assert_eq!(error.var, var, "{bad}");
        }
    }

    #[test]
    fn challenge_names_the_host() {
        let id = identity();
        let message = id.challenge(
            &parse_negotiate(&negotiate_message()).unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8],
            UNIX_EPOCH,
        );
        assert_eq!(message_type(&message), Some(CHALLENGE));
        assert_eq!(&message[24..32], [1, 2, 3, 4, 5, 6, 7, 8]);
        let flags = read_u32(&message, 20).unwrap();
        assert_eq!(
            flags & (flag::UNICODE | flag::KEY_EXCH | flag::TARGET_INFO),
            flag::UNICODE | flag::KEY_EXCH | flag::TARGET_INFO
        );
        assert_eq!(read_field(&message, 12).unwrap(), utf16le_encode("ACME"));
        let info = read_field(&message, 40).unwrap();
        let contains = |needle: &[u8]| info.windows(needle.len()).any(|w| w == needle);
        assert!(
            contains(&utf16le_encode("FILESERVER-PRIM"))
                && contains(&utf16le_encode("fileserver-primary-01.acme.local"))
        );
        // The epoch as a FILETIME, then the end of the list.
        assert!(info.ends_with(&[7, 0, 8, 0, 0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0x9d, 0x01, 0, 0, 0, 0]));
    }

    #[test]
    fn authenticate_gives_the_hashcat_line() {
        let mut nt = vec![0x11; 16];
        nt.extend_from_slice(&[0x01, 0x01, 0, 0, 0, 0, 0, 0, 0x22, 0x22]);
        let auth = parse_authenticate(&authenticate_message("alice", "CORP", "WS01", &nt)).unwrap();
        assert_eq!(
            (auth.user.as_str(), auth.domain.as_str(), auth.workstation.as_str()),
            ("alice", "CORP", "WS01")
        );
        assert_eq!(auth.client_version.as_deref(), Some("10.0.19041"));
        assert_eq!(
            auth.hashcat_line([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]).unwrap(),
            "alice::CORP:deadbeef00010203:11111111111111111111111111111111:01010000000000002222"
        );
        let v1 = parse_authenticate(&authenticate_message("bob", "", "X", &[0x33; 24])).unwrap();
        assert_eq!(v1.response(), Response::V1);
        assert!(
            v1.hashcat_line([0; 8])
                .unwrap()
                .starts_with("bob:::000000000000000000000000000000000000000000000000:3333")
        );
        let anonymous = parse_authenticate(&authenticate_message("", "", "", &[])).unwrap();
        assert_eq!((anonymous.response(), anonymous.hashcat_line([0; 8])), (Response::Anonymous, None));
    }

    #[test]
    fn hostile_messages_are_refused_not_read() {
        let whole = authenticate_message("alice", "CORP", "WS01", &[0x11; 40]);
        for cut in 0..whole.len() {
            // A cut message either fails or reads only what is there.
            let _ = parse_authenticate(&whole[..cut]);
        }
        let mut bad = whole.clone();
        bad[AUTH_USER + 4..AUTH_USER + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_authenticate(&bad), None);
        assert_eq!(parse_negotiate(b"NTLMSSP\0\x01\0\0"), None);
        assert_eq!(message_type(b"NTLMSSQ\0\x01\0\0\0"), None);
    }
}
