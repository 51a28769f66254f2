//! The server's side of a SCRAM login (RFC 5802) as far as a honeypot needs it: read the
//! client-first message, answer with a nonce, a salt and an iteration count, and read the
//! client's proof. The proof is never checked (there is no password to check it against);
//! recorded with the AuthMessage, salt and iterations, it lets a password guess be verified
//! offline. MongoDB's SCRAM-SHA-1 hashes `MD5("<user>:mongo:<password>")` (hex) instead of
//! the password itself.

use crate::codec::base64_encode;
use crate::persona::{decky_seed, fnv1a_continue};

/// The hash of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
}

impl Hash {
    pub fn named(mechanism: &str) -> Option<Hash> {
        match mechanism {
            "SCRAM-SHA-1" => Some(Hash::Sha1),
            "SCRAM-SHA-256" => Some(Hash::Sha256),
            _ => None,
        }
    }

    fn mechanism(self) -> &'static str {
        match self {
            Hash::Sha1 => "SCRAM-SHA-1",
            Hash::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// mongod's `scramIterationCount` and `scramSHA256IterationCount` defaults.
    fn iterations(self) -> u32 {
        match self {
            Hash::Sha1 => 10_000,
            Hash::Sha256 => 15_000,
        }
    }

    /// The salt's length as mongod makes it: the hash's output less four bytes.
    fn salt_len(self) -> usize {
        match self {
            Hash::Sha1 => 16,
            Hash::Sha256 => 28,
        }
    }
}

/// A login between the server's challenge and the client's proof.
pub struct Conversation {
    hash: Hash,
    username: Vec<u8>,
    client_first_bare: Vec<u8>,
    server_first: Vec<u8>,
    salt: String,
}

/// What the client's final message proves, for offline checking.
pub struct Proof {
    /// `p=` of the client-final message, base64 as sent.
    pub client_proof: String,
    /// The salt, base64.
    pub salt: String,
    pub iterations: u32,
    /// client-first-bare `,` server-first `,` client-final-without-proof.
    pub auth_message: Vec<u8>,
}

impl Conversation {
    /// Reads the client-first message `gs2-header client-first-bare`; the salt is stable per
    /// decky and user, as a stored user's would be. `None` if the message is not SCRAM.
    pub fn start(hash: Hash, client_first: &[u8], decky: &str) -> Option<Conversation> {
        let header_end = nth_comma(client_first, 2)?;
        if !matches!(client_first.first(), Some(b'n' | b'y' | b'p')) {
            return None;
        }
        let bare = &client_first[header_end + 1..];
        let username = unescape(attribute(bare, b'n')?);
        let client_nonce = attribute(bare, b'r').filter(|nonce| !nonce.is_empty())?;
        let mut rng =
            fastrand::Rng::with_seed(fnv1a_continue(decky_seed(decky, "mongodb-scram-salt"), &username));
        let salt_bytes: Vec<u8> = (0..hash.salt_len()).map(|_| rng.u8(..)).collect();
        let server_nonce: Vec<u8> = (0..24).map(|_| fastrand::u8(..)).collect();
        let salt = base64_encode(&salt_bytes);
        let mut server_first = b"r=".to_vec();
        server_first.extend_from_slice(client_nonce);
        server_first
            .extend(format!("{},s={salt},i={}", base64_encode(&server_nonce), hash.iterations()).bytes());
        Some(Conversation { hash, username, client_first_bare: bare.to_vec(), server_first, salt })
    }

    pub fn mechanism(&self) -> &'static str {
        self.hash.mechanism()
    }

    pub fn username(&self) -> &[u8] {
        &self.username
    }

    pub fn server_first(&self) -> &[u8] {
        &self.server_first
    }

    /// Reads the client-final message `c=...,r=...,p=proof`.
    pub fn finish(&self, client_final: &[u8]) -> Option<Proof> {
        let at = client_final.windows(3).rposition(|w| w == b",p=")?;
        let without_proof = &client_final[..at];
        let proof = &client_final[at + 3..];
        let mut auth_message = self.client_first_bare.clone();
        auth_message.push(b',');
        auth_message.extend_from_slice(&self.server_first);
        auth_message.push(b',');
        auth_message.extend_from_slice(without_proof);
        Some(Proof {
            client_proof: String::from_utf8_lossy(proof).into_owned(),
            salt: self.salt.clone(),
            iterations: self.hash.iterations(),
            auth_message,
        })
    }
}

/// The position of the `n`th comma.
fn nth_comma(bytes: &[u8], n: usize) -> Option<usize> {
    bytes.iter().enumerate().filter(|&(_, &b)| b == b',').nth(n - 1).map(|(i, _)| i)
}

/// The value of attribute `name` (`n=value`) among comma-separated attributes.
fn attribute(message: &[u8], name: u8) -> Option<&[u8]> {
    message.split(|&b| b == b',').find_map(|part| match part {
        [key, b'=', value @ ..] if *key == name => Some(value),
        _ => None,
    })
}

/// A SCRAM user name: `=2C` is `,` and `=3D` is `=`.
fn unescape(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        match &name[i..] {
            [b'=', b'2', b'C', ..] => {
                out.push(b',');
                i += 3;
            }
            [b'=', b'3', b'D', ..] => {
                out.push(b'=');
                i += 3;
            }
            [b, ..] => {
                out.push(*b);
                i += 1;
            }
            [] => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_yields_what_an_offline_check_needs() {
        let client_first = b"n,,n=ad=2Cmin=3D,r=fyko+d2lbbFgONRv9qkxdawL";
        let conversation = Conversation::start(Hash::Sha256, client_first, "db-01").unwrap();
        assert_eq!(conversation.username(), b"ad,min=");
        let server_first = String::from_utf8(conversation.server_first().to_vec()).unwrap();
        assert!(server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"), "{server_first}");
        assert!(server_first.ends_with(",i=15000"), "{server_first}");
        let again = Conversation::start(Hash::Sha256, client_first, "db-01").unwrap();
        assert_eq!(again.salt, conversation.salt, "the same user has the same salt");
        let nonce = &server_first[2..server_first.find(",s=").unwrap()];
        let client_final = format!("c=biws,r={nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        let proof = conversation.finish(client_final.as_bytes()).unwrap();
        assert_eq!(proof.client_proof, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(
            String::from_utf8(proof.auth_message).unwrap(),
            format!("n=ad=2Cmin=3D,r=fyko+d2lbbFgONRv9qkxdawL,{server_first},c=biws,r={nonce}")
        );
    }

    #[test]
    fn malformed_messages_are_refused() {
        for bad in [&b""[..], b"n,,", b"x,,n=a,r=b", b"n,,n=a", b"n,,n=a,r=", b"n=a,r=b"] {
            assert!(Conversation::start(Hash::Sha1, bad, "d").is_none(), "{bad:?}");
        }
        let conversation = Conversation::start(Hash::Sha1, b"n,,n=a,r=b", "d").unwrap();
        assert!(conversation.finish(b"c=biws,r=b").is_none());
    }
}
