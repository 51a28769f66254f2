//! SHA-1, for what redis names by it: a Lua script's id (`SCRIPT LOAD`, `EVALSHA`, the
//! `f_<sha>` in script errors). Not used for anything secret.

use sha1::{Digest, Sha1};

/// The SHA-1 digest of `data` in lowercase hex, as redis prints script ids.
pub fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_ids_are_what_redis_prints() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        // The id redis gives `return 1`.
        assert_eq!(sha1_hex(b"return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }
}
