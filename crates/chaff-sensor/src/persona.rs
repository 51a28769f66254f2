//! Stable per-decky choices: which version a decky claims, its process ids, its file dates.
//! The same decky always answers the same (an attacker who comes back sees the same host),
//! different deckies differ, and a rebuilt sensor keeps every choice: the hash is 64-bit
//! FNV-1a, fixed by its definition, never Rust's `DefaultHasher` (which may change). Not for
//! secrets.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_continue(FNV_OFFSET, bytes)
}

/// FNV-1a of more bytes after a hash `state`: `fnv1a_continue(fnv1a(a), b) == fnv1a(a ++ b)`.
pub fn fnv1a_continue(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// The seed of one `purpose` for `decky`: independent purposes draw independent values.
pub fn decky_seed(decky: &str, purpose: &str) -> u64 {
    fnv1a_continue(fnv1a_continue(fnv1a(purpose.as_bytes()), &[0]), decky.as_bytes())
}

/// A generator for one `purpose` of `decky` (see [`decky_seed`]).
pub fn decky_rng(decky: &str, purpose: &str) -> fastrand::Rng {
    fastrand::Rng::with_seed(decky_seed(decky, purpose))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(b""), FNV_OFFSET);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a_continue(fnv1a(b"foo"), b"bar"), fnv1a(b"foobar"));
    }

    #[test]
    fn purposes_and_deckies_are_independent() {
        assert_eq!(decky_seed("web-01", "version"), decky_seed("web-01", "version"));
        assert_ne!(decky_seed("web-01", "version"), decky_seed("web-02", "version"));
        assert_ne!(decky_seed("web-01", "version"), decky_seed("web-01", "uptime"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(decky_seed("c", "ab"), decky_seed("bc", "a"));
    }
}
