//! The BER/DER subset the binary protocols share (SNMP messages, SPNEGO tokens, CredSSP
//! requests): single-byte tags, definite lengths of at most four bytes, INTEGER and OBJECT
//! IDENTIFIER encodings. Reading never trusts a length: every content slice is checked
//! against the input before it is taken.

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_ENUMERATED: u8 = 0x0a;
pub const TAG_SEQUENCE: u8 = 0x30;

/// The tag of context-specific constructed field `[n]` (n < 31).
pub const fn context(n: u8) -> u8 {
    0xa0 | n
}

/// Splits one TLV off `input`: (tag, content, rest). Definite lengths of at most 4 bytes.
pub fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = rest.get(..count)?;
        (bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b)), &rest[count..])
    };
    let content = rest.get(..length)?;
    Some((tag, content, &rest[length..]))
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

/// A two's-complement INTEGER content of at most 8 bytes.
pub fn read_integer(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let sign = if content[0] & 0x80 != 0 { -1i64 } else { 0 };
    Some(content.iter().fold(sign, |n, &b| (n << 8) | i64::from(b)))
}

/// One TLV with the shortest length encoding (DER).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = (length as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// An INTEGER-shaped TLV (INTEGER, ENUMERATED, an application type) in its shortest form.
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
        for n in [0i64, 1, 127, 128, 255, 256, -1, -128, -129, i64::from(u32::MAX)] {
            let encoded = integer(TAG_INTEGER, n);
            let (_, content, _) = read_tlv(&encoded).unwrap();
            assert_eq!(read_integer(content), Some(n));
        }
    }

    #[test]
    fn lengths_are_checked() {
        assert_eq!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(read_tlv(&[0x30, 0x82, 0x01]), None);
        assert_eq!(read_tlv(&[0x04, 3, b'a']), None);
        let long = tlv(TAG_OCTET_STRING, &[7; 300]);
        assert_eq!(&long[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(expect(&long, TAG_OCTET_STRING), Some((&[7u8; 300][..], &[][..])));
        assert_eq!(expect(&long, TAG_SEQUENCE), None);
    }

    #[test]
    fn oids_are_encoded() {
        // SPNEGO's 1.3.6.1.5.5.2 and NTLMSSP's 1.3.6.1.4.1.311.2.2.10, as every client sends them.
        assert_eq!(oid(&[1, 3, 6, 1, 5, 5, 2]), [6, 6, 0x2b, 6, 1, 5, 5, 2]);
        assert_eq!(oid(&[1, 3, 6, 1, 4, 1, 311, 2, 2, 10]), [6, 10, 0x2b, 6, 1, 4, 1, 0x82, 0x37, 2, 2, 10]);
    }
}
