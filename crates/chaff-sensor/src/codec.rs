//! Text encodings the protocols share. Base64 as clients send it (SASL responses, HTTP Basic
//! credentials, a shell's `base64`): the standard alphabet, padding optional, leftover bits
//! tolerated, as the servers we imitate accept it. UTF-16LE, the strings of Microsoft's
//! protocols (TDS, NTLMSSP, SMB2).

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

/// UTF-16LE text; unpaired surrogates become U+FFFD and an odd last byte is dropped.
pub fn utf16le_decode(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

/// `text` in UTF-16LE.
pub fn utf16le_encode(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
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

    #[test]
    fn utf16le_round_trips_and_tolerates_junk() {
        assert_eq!(utf16le_encode("Aé"), [0x41, 0, 0xe9, 0]);
        assert_eq!(utf16le_decode(&utf16le_encode("P@ss wörd")), "P@ss wörd");
        assert_eq!(utf16le_decode(&[0x00, 0xd8, 0x41, 0x00, 0x42]), "\u{fffd}A");
    }
}
