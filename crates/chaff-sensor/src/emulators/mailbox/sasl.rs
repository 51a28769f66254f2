//! The SASL exchanges both protocols offer (RFC 4616 PLAIN, the LOGIN draft): base64
//! responses after `+ ` challenges.

/// What one login attempt claimed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub authzid: Vec<u8>,
    pub username: Vec<u8>,
    pub password: Vec<u8>,
}

/// The mechanisms offered, as named on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

impl Mechanism {
    pub fn parse(name: &[u8]) -> Option<Mechanism> {
        if name.eq_ignore_ascii_case(b"PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case(b"LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

use crate::codec::base64_decode;

/// The LOGIN mechanism's two prompts, base64 of `Username:` and `Password:`.
pub const LOGIN_USERNAME_PROMPT: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// Why a SASL response was not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The client sent `*`.
    Cancelled,
    /// Not base64.
    Malformed,
}

/// One response line: `*` cancels, anything else must be base64 (`=` alone is empty).
pub fn decode_response(response: &[u8]) -> Result<Vec<u8>, Refusal> {
    let response = response.trim_ascii();
    if response == b"*" {
        return Err(Refusal::Cancelled);
    }
    if response == b"=" {
        return Ok(Vec::new());
    }
    base64_decode(response).ok_or(Refusal::Malformed)
}

/// PLAIN's message: `authzid NUL authcid NUL password`.
pub fn plain_credentials(decoded: &[u8]) -> Credentials {
    let mut parts = decoded.splitn(3, |&b| b == 0).map(<[u8]>::to_vec);
    let authzid = parts.next().unwrap_or_default();
    let username = parts.next().unwrap_or_default();
    let password = parts.next().unwrap_or_default();
    Credentials { authzid, username, password }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_responses_split_on_nul() {
        let decoded = decode_response(b"AGJvYgBodW50ZXIy").unwrap();
        assert_eq!(decoded, b"\0bob\0hunter2");
        let credentials = plain_credentials(&decoded);
        assert_eq!(credentials.username, b"bob");
        assert_eq!(credentials.password, b"hunter2");
        assert!(credentials.authzid.is_empty());
        assert_eq!(decode_response(b"dXNlcg==").unwrap(), b"user");
        assert_eq!(decode_response(b"*"), Err(Refusal::Cancelled));
        assert_eq!(decode_response(b"not base64!"), Err(Refusal::Malformed));
        assert_eq!(decode_response(b"="), Ok(Vec::new()));
    }
}
