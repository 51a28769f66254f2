//! SPNEGO (RFC 4178) as far as NTLM needs it: the server's first token offering NTLMSSP
//! (`negTokenInit2`, what an SMB2 NEGOTIATE response carries), unwrapping the client's
//! NTLMSSP message from its `negTokenInit` or `negTokenResp`, and wrapping our challenge in
//! an `accept-incomplete` `negTokenResp`.

use super::ber::{
    self, TAG_ENUMERATED, TAG_OCTET_STRING, TAG_SEQUENCE, context, expect, field, read_tlv, tlv,
};
use super::ntlm;

/// SPNEGO's OID, 1.3.6.1.5.5.2.
const SPNEGO: &[u32] = &[1, 3, 6, 1, 5, 5, 2];
/// NTLMSSP's OID, 1.3.6.1.4.1.311.2.2.10.
const NTLMSSP: &[u32] = &[1, 3, 6, 1, 4, 1, 311, 2, 2, 10];

/// The GSS-API InitialContextToken framing, `[APPLICATION 0]`.
const TAG_GSS_INITIAL: u8 = 0x60;
const TAG_NEG_TOKEN_INIT: u8 = context(0);
const TAG_NEG_TOKEN_RESP: u8 = context(1);
/// The GeneralString of the hint.
const TAG_GENERAL_STRING: u8 = 0x1b;

/// `negState accept-incomplete`.
const ACCEPT_INCOMPLETE: i64 = 1;

/// The hint Windows puts in every negTokenInit2 (`negHints.hintName`).
const HINT_NAME: &[u8] = b"not_defined_in_RFC4178@please_ignore";

/// The server's initial token: SPNEGO offering NTLMSSP only, with Windows's hint.
pub fn init_offering_ntlm() -> Vec<u8> {
    let mech_types = tlv(context(0), &tlv(TAG_SEQUENCE, &ber::oid(NTLMSSP)));
    let hints = tlv(context(3), &tlv(TAG_SEQUENCE, &tlv(context(0), &tlv(TAG_GENERAL_STRING, HINT_NAME))));
    let init = tlv(TAG_NEG_TOKEN_INIT, &tlv(TAG_SEQUENCE, &[mech_types, hints].concat()));
    tlv(TAG_GSS_INITIAL, &[ber::oid(SPNEGO), init].concat())
}

/// Our NTLM `challenge` in an `accept-incomplete` negTokenResp naming NTLMSSP.
pub fn accept_incomplete(challenge: &[u8]) -> Vec<u8> {
    let state = tlv(context(0), &ber::integer(TAG_ENUMERATED, ACCEPT_INCOMPLETE));
    let mech = tlv(context(1), &ber::oid(NTLMSSP));
    let token = tlv(context(2), &tlv(TAG_OCTET_STRING, challenge));
    tlv(TAG_NEG_TOKEN_RESP, &tlv(TAG_SEQUENCE, &[state, mech, token].concat()))
}

/// How the client framed its NTLMSSP message; the answer uses the same framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Raw,
    Spnego,
}

impl Framing {
    /// `message` framed this way (a SPNEGO answer is always a negTokenResp).
    pub fn wrap(self, message: &[u8]) -> Vec<u8> {
        match self {
            Framing::Raw => message.to_vec(),
            Framing::Spnego => accept_incomplete(message),
        }
    }
}

/// The NTLMSSP message in a client's token: bare, in a negTokenInit (in its GSS framing or
/// not: `mechToken`) or in a negTokenResp (`responseToken`).
pub fn ntlm_message(token: &[u8]) -> Option<(&[u8], Framing)> {
    if token.starts_with(ntlm::SIGNATURE) {
        return Some((token, Framing::Raw));
    }
    let (tag, content, _) = read_tlv(token)?;
    let (fields, wanted) = match tag {
        TAG_GSS_INITIAL => {
            let (_oid, rest) = expect(content, ber::TAG_OID)?;
            let (init, _) = expect(rest, TAG_NEG_TOKEN_INIT)?;
            (expect(init, TAG_SEQUENCE)?.0, context(2))
        }
        TAG_NEG_TOKEN_INIT => (expect(content, TAG_SEQUENCE)?.0, context(2)),
        TAG_NEG_TOKEN_RESP => (expect(content, TAG_SEQUENCE)?.0, context(2)),
        _ => return None,
    };
    let (message, _) = expect(field(fields, wanted)?, TAG_OCTET_STRING)?;
    message.starts_with(ntlm::SIGNATURE).then_some((message, Framing::Spnego))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A negTokenInit carrying `mech_token`, as smbclient sends it first.
    pub fn client_init(mech_token: &[u8]) -> Vec<u8> {
        let mech_types = tlv(context(0), &tlv(TAG_SEQUENCE, &ber::oid(NTLMSSP)));
        let token = tlv(context(2), &tlv(TAG_OCTET_STRING, mech_token));
        let init = tlv(TAG_NEG_TOKEN_INIT, &tlv(TAG_SEQUENCE, &[mech_types, token].concat()));
        tlv(TAG_GSS_INITIAL, &[ber::oid(SPNEGO), init].concat())
    }

    #[test]
    fn server_init_is_what_windows_sends() {
        let token = init_offering_ntlm();
        assert_eq!(&token[..2], [0x60, 0x48]);
        assert!(token.windows(HINT_NAME.len()).any(|w| w == HINT_NAME));
    }

    #[test]
    fn ntlm_is_unwrapped_from_every_framing() {
        let message = b"NTLMSSP\0\x01\0\0\0rest".to_vec();
        assert_eq!(ntlm_message(&message), Some((&message[..], Framing::Raw)));
        assert_eq!(ntlm_message(&client_init(&message)), Some((&message[..], Framing::Spnego)));
        // Our own negTokenResp, as a client's second token is framed.
        assert_eq!(ntlm_message(&accept_incomplete(&message)), Some((&message[..], Framing::Spnego)));
        assert_eq!(ntlm_message(&client_init(b"\x60\x82kerberos")), None);
    }

    #[test]
    fn garbage_and_truncation_are_refused() {
        let whole = client_init(b"NTLMSSP\0\x03\0\0\0");
        for cut in 0..whole.len() {
            assert_eq!(ntlm_message(&whole[..cut]), None, "cut at {cut}");
        }
        assert_eq!(ntlm_message(&[0x60, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(ntlm_message(&[0xa1, 0x02, 0x30, 0x00]), None);
    }
}
