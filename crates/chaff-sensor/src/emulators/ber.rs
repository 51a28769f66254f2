//! The subset of ASN.1 BER the binary protocols share (SNMP messages, LDAP messages, SPNEGO
//! tokens, CredSSP requests): single-byte tags, definite lengths of at most four bytes,
//! INTEGERs of at most eight bytes, OBJECT IDENTIFIER encodings. Reading never panics and
//! never trusts a length: every content slice is checked against the input before it is
//! taken, so nothing is allocated for a length whose bytes have not been seen.

/// Universal tags.
pub const TAG_BOOLEAN: u8 = 0x01;
pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_ENUMERATED: u8 = 0x0a;
pub const TAG_SEQUENCE: u8 = 0x30;
pub const TAG_SET: u8 = 0x31;

/// The tag of context-specific constructed field `[n]` (n < 31).
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// How a TLV's length is written. Encoders differ, and fingerprinting tools tell servers
/// apart by it: Net-SNMP and DER (SPNEGO, CredSSP) write the shortest form, OpenLDAP's
/// liblber and Active Directory write constructed values' lengths in four bytes
/// (`84 00 00 00 nn`).
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

/// A definite length of at most four bytes and what follows it.
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

/// The content of a TLV tagged `tag` at the start of `input`, and what follows it.
pub fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = read_tlv(input)?;
    (found == tag).then_some((content, rest))
}

/// The content of the field tagged `wanted` among a SEQUENCE's `fields` (the first one).
pub fn field(mut fields: &[u8], wanted: u8) -> Option<&[u8]> {
    while !fields.is_empty() {
        let (tag, content, rest) = read_tlv(fields)?;
        if tag == wanted {
            return Some(content);
        }
        fields = rest;
    }
    None
}

/// A two's-complement INTEGER (or ENUMERATED) content of one to eight bytes.
pub fn read_integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let sign = if content[0] & 0x80 != 0 { -1i64 } else { 0 };
    Some(content.iter().fold(sign, |n, &b| (n << 8) | i64::from(b)))
}

/// One TLV with the shortest length (DER).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    tlv_with(LengthForm::Shortest, tag, content)
}

/// One TLV whose length is written in `form`.
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

/// An INTEGER-shaped TLV (INTEGER, ENUMERATED, Counter, an application type) in the fewest
/// bytes.
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

/// An OBJECT IDENTIFIER TLV.
pub fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::with_capacity(arcs.len() + 4);
    let mut push = |mut value: u32| {
        let mut groups = [0u8; 5];
        let mut n = 0;
        loop {
            groups[n] = (value & 0x7f) as u8;
            n += 1;
            value >>= 7;
            if value == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            content.push(groups[i] | if i > 0 { 0x80 } else { 0 });
        }
    };
    match arcs {
        [first, second, rest @ ..] => {
            push(first.saturating_mul(40).saturating_add(*second));
            rest.iter().for_each(|&arc| push(arc));
        }
        [only] => push(only.saturating_mul(40)),
        [] => {}
    }
    tlv(TAG_OID, &content)
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
        let encoded = tlv(TAG_OCTET_STRING, &long);
        assert_eq!(expect(&encoded, TAG_OCTET_STRING), Some((&long[..], &[][..])));
        assert_eq!(expect(&encoded, TAG_SEQUENCE), None);
    }

    #[test]
    fn truncated_and_malformed_headers() {
        assert_eq!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(read_tlv(&[0x30, 0x80]), None, "indefinite lengths are not BER we read");
        assert_eq!(read_tlv(&[0x30, 0x82, 0x01]), None);
        assert_eq!(read_tlv(&[0x30, 0x03, 1]), None);
        assert_eq!(tlv_size(&[0x30]), None);
        assert_eq!(tlv_size(&[0x30, 0x84, 0, 0]), None);
        assert_eq!(tlv_size(&[0x30, 0x80]), Some(Err(())));
        assert_eq!(tlv_size(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), Some(Ok(6 + 0xffff_ffff)));
        assert_eq!(read_integer(&[]), None);
        assert_eq!(read_integer(&[1; 9]), None);
    }

    #[test]
    fn fields_by_context_tag() {
        let fields = [tlv(context(0), &integer(TAG_INTEGER, 6)), tlv(context(2), b"token")].concat();
        assert_eq!(field(&fields, context(2)), Some(&b"token"[..]));
        assert_eq!(field(&fields, context(1)), None);
        assert_eq!(field(&[0x30, 0x05, 1], context(0)), None, "a truncated field");
    }

    #[test]
    fn oids_are_encoded() {
        // SPNEGO's 1.3.6.1.5.5.2 and NTLMSSP's 1.3.6.1.4.1.311.2.2.10, as every client sends them.
        assert_eq!(oid(&[1, 3, 6, 1, 5, 5, 2]), [6, 6, 0x2b, 6, 1, 5, 5, 2]);
        assert_eq!(oid(&[1, 3, 6, 1, 4, 1, 311, 2, 2, 10]), [6, 10, 0x2b, 6, 1, 4, 1, 0x82, 0x37, 2, 2, 10]);
    }
}
