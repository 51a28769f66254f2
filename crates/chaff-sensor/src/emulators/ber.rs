//! The subset of ASN.1 BER that SNMP and LDAP speak: one-byte tags, definite lengths of at
//! most four bytes, INTEGERs of at most eight. Reading never panics and never allocates for
//! a length it has not seen the bytes of: every length is checked against the input first.

/// Universal tags.
pub const TAG_BOOLEAN: u8 = 0x01;
pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_ENUMERATED: u8 = 0x0a;
pub const TAG_SEQUENCE: u8 = 0x30;
pub const TAG_SET: u8 = 0x31;

/// How a TLV's length is written. Encoders differ, and fingerprinting tools tell servers
/// apart by it: Net-SNMP writes the shortest form, OpenLDAP's liblber and Active Directory
/// write constructed values' lengths in four bytes (`84 00 00 00 nn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    Shortest,
    FourBytes,
}

/// Splits one TLV off `input`: (tag, content, rest).
pub fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (length, rest) = read_length(rest)?;
    let content = rest.get(..length)?;
    Some((tag, content, &rest[length..]))
}

/// A definite length and what follows it.
fn read_length(input: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first < 0x80 {
        return Some((usize::from(first), rest));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return None;
    }
    let bytes = rest.get(..count)?;
    Some((bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b)), &rest[count..]))
}

/// How many bytes the TLV at the start of `input` takes in all, once its header is there:
/// `Some(Err(()))` for a header that is not BER, `None` while the header is incomplete.
pub fn tlv_size(input: &[u8]) -> Option<Result<usize, ()>> {
    let rest = input.get(1..)?;
    let &first = rest.first()?;
    if first >= 0x80 {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Some(Err(()));
        }
        rest.get(..=count)?;
    }
    let (length, after) = read_length(rest)?;
    Some(Ok(input.len() - after.len() + length))
}

/// The TLV at the start of `input` if it has tag `tag`: (content, rest).
pub fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = read_tlv(input)?;
    (found == tag).then_some((content, rest))
}

/// A two's-complement INTEGER (or ENUMERATED) content of one to eight bytes.
pub fn read_integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let sign = if content[0] & 0x80 != 0 { -1i64 } else { 0 };
    Some(content.iter().fold(sign, |n, &b| (n << 8) | i64::from(b)))
}

/// A TLV with the shortest length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    tlv_with(LengthForm::Shortest, tag, content)
}

/// A TLV whose length is written in `form`.
pub fn tlv_with(form: LengthForm, tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let length = content.len();
    let bytes = (length as u32).to_be_bytes();
    match form {
        LengthForm::Shortest if length < 0x80 => out.push(length as u8),
        LengthForm::Shortest => {
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (4 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        LengthForm::FourBytes => {
            out.push(0x84);
            out.extend_from_slice(&bytes);
        }
    }
    out.extend_from_slice(content);
    out
}

/// An INTEGER-like TLV (INTEGER, ENUMERATED, Counter, ...) in the fewest bytes.
pub fn integer(tag: u8, value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    // Drop leading bytes that only repeat the sign.
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(tag, &bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        for n in [0i64, 1, 127, 128, 255, 256, -1, -128, -129, i64::from(u32::MAX), i64::MIN, i64::MAX] {
            let encoded = integer(TAG_INTEGER, n);
            let (_, content, _) = read_tlv(&encoded).unwrap();
            assert_eq!(read_integer(content), Some(n));
        }
        assert_eq!(integer(TAG_ENUMERATED, 49), [0x0a, 1, 49]);
    }

    #[test]
    fn lengths_in_both_forms() {
        let long = vec![7u8; 300];
        assert_eq!(&tlv(TAG_OCTET_STRING, &long)[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(&tlv_with(LengthForm::FourBytes, TAG_SEQUENCE, &[1])[..], [0x30, 0x84, 0, 0, 0, 1, 1]);
        for form in [LengthForm::Shortest, LengthForm::FourBytes] {
            let encoded = tlv_with(form, TAG_SEQUENCE, &long);
            assert_eq!(read_tlv(&encoded), Some((TAG_SEQUENCE, &long[..], &[][..])));
            assert_eq!(tlv_size(&encoded), Some(Ok(encoded.len())));
        }
    }

    #[test]
    fn truncated_and_malformed_headers() {
        assert_eq!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(read_tlv(&[0x30, 0x80]), None, "indefinite lengths are not BER we read");
        assert_eq!(read_tlv(&[0x30, 0x03, 1]), None);
        assert_eq!(tlv_size(&[0x30]), None);
        assert_eq!(tlv_size(&[0x30, 0x84, 0, 0]), None);
        assert_eq!(tlv_size(&[0x30, 0x80]), Some(Err(())));
        assert_eq!(tlv_size(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), Some(Ok(6 + 0xffff_ffff)));
        assert_eq!(read_integer(&[]), None);
        assert_eq!(read_integer(&[1; 9]), None);
    }
}
