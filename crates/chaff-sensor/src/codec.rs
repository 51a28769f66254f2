//! Base64 as clients send it (SASL responses, HTTP Basic credentials, a shell's `base64`):
//! the standard alphabet, padding optional, leftover bits tolerated, as the servers we imitate
//! accept it.

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The bytes `text` encodes; `None` if it is not base64.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    LENIENT.decode(text).ok()
}

/// `data` in standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    LENIENT.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_optional() {
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI").unwrap(), b"ab");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"Y"), None);
        assert_eq!(base64_decode(b"*"), None);
        assert_eq!(base64_encode(b"a"), "YQ==");
    }
}
