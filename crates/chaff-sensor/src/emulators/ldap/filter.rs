//! A SearchRequest's filter (RFC 4511 §4.5.1) written back as its string form (RFC 4515),
//! `(&(objectClass=user)(sAMAccountName=adm*))`, for the `search` event. Nesting and output
//! are bounded, so a hostile filter costs little; a malformed one is `None`.

use std::fmt::Write as _;

use crate::emulators::ber::{TAG_OCTET_STRING, TAG_SEQUENCE, context, expect, read_tlv};
use crate::event::cut_text;

/// Deepest nesting of `&`, `|` and `!` written; OpenLDAP's own limit is far higher, but a
/// recorded filter needs no more.
const MAX_DEPTH: usize = 32;

/// The longest string written; a longer one is cut and ends with `...`.
pub const MAX_FILTER_TEXT: usize = 2048;

const AND: u8 = context(0);
const OR: u8 = context(1);
const NOT: u8 = context(2);
const EQUALITY: u8 = context(3);
const SUBSTRINGS: u8 = context(4);
const GREATER_OR_EQUAL: u8 = context(5);
const LESS_OR_EQUAL: u8 = context(6);
const PRESENT: u8 = 0x87;
const APPROX: u8 = context(8);
const EXTENSIBLE: u8 = context(9);

/// The string form of the encoded filter `tlv` (tag, content).
pub fn render(tag: u8, content: &[u8]) -> Option<String> {
    let mut out = String::new();
    write_filter(&mut out, tag, content, 0)?;
    cut_text(&mut out, MAX_FILTER_TEXT);
    Some(out)
}

fn write_filter(out: &mut String, tag: u8, content: &[u8], depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    if out.len() > MAX_FILTER_TEXT {
        // Enough is written; the rest is not looked at.
        return Some(());
    }
    out.push('(');
    match tag {
        AND | OR => {
            out.push(if tag == AND { '&' } else { '|' });
            let mut rest = content;
            while !rest.is_empty() {
                let (tag, inner, after) = read_tlv(rest)?;
                write_filter(out, tag, inner, depth + 1)?;
                rest = after;
            }
        }
        NOT => {
            out.push('!');
            let (tag, inner, _) = read_tlv(content)?;
            write_filter(out, tag, inner, depth + 1)?;
        }
        EQUALITY | GREATER_OR_EQUAL | LESS_OR_EQUAL | APPROX => {
            let (attribute, rest) = expect(content, TAG_OCTET_STRING)?;
            let (value, _) = expect(rest, TAG_OCTET_STRING)?;
            push_value(out, attribute);
            out.push_str(match tag {
                EQUALITY => "=",
                GREATER_OR_EQUAL => ">=",
                LESS_OR_EQUAL => "<=",
                _ => "~=",
            });
            push_value(out, value);
        }
        SUBSTRINGS => write_substrings(out, content)?,
        PRESENT => {
            push_value(out, content);
            out.push_str("=*");
        }
        EXTENSIBLE => write_extensible(out, content)?,
        _ => return None,
    }
    out.push(')');
    Some(())
}

/// `attr=initial*any*final`, each part optional.
fn write_substrings(out: &mut String, content: &[u8]) -> Option<()> {
    let (attribute, rest) = expect(content, TAG_OCTET_STRING)?;
    let (mut parts, _) = expect(rest, TAG_SEQUENCE)?;
    push_value(out, attribute);
    out.push('=');
    let mut last = None;
    while !parts.is_empty() {
        let (tag, value, after) = read_tlv(parts)?;
        if tag != 0x80 && last.is_none() {
            out.push('*');
        }
        push_value(out, value);
        if tag != 0x82 {
            out.push('*');
        }
        last = Some(tag);
        parts = after;
    }
    if last.is_none() {
        out.push('*');
    }
    Some(())
}

/// `attr:dn:rule:=value`.
fn write_extensible(out: &mut String, content: &[u8]) -> Option<()> {
    let (mut rule, mut attribute, mut value, mut dn) = (None, None, None, false);
    let mut rest = content;
    while !rest.is_empty() {
        let (tag, part, after) = read_tlv(rest)?;
        match tag {
            0x81 => rule = Some(part),
            0x82 => attribute = Some(part),
            0x83 => value = Some(part),
            0x84 => dn = part.first().is_some_and(|&b| b != 0),
            _ => return None,
        }
        rest = after;
    }
    if let Some(attribute) = attribute {
        push_value(out, attribute);
    }
    if dn {
        out.push_str(":dn");
    }
    if let Some(rule) = rule {
        out.push(':');
        push_value(out, rule);
    }
    out.push_str(":=");
    push_value(out, value?);
    Some(())
}

/// A value with RFC 4515's escapes: `*`, `(`, `)`, `\`, NUL and, so that the record stays
/// readable, every other byte that is not printable ASCII, as `\XX`.
fn push_value(out: &mut String, value: &[u8]) {
    for &b in value {
        match b {
            b'*' | b'(' | b')' | b'\\' => {
                let _ = write!(out, "\\{b:02x}");
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulators::ber::tlv;

    fn ava(tag: u8, attribute: &str, value: &[u8]) -> Vec<u8> {
        let mut content = tlv(TAG_OCTET_STRING, attribute.as_bytes());
        content.extend(tlv(TAG_OCTET_STRING, value));
        tlv(tag, &content)
    }

    fn rendered(filter: &[u8]) -> Option<String> {
        let (tag, content, _) = read_tlv(filter)?;
        render(tag, content)
    }

    #[test]
    fn filters_read_back_as_rfc4515() {
        let present = tlv(PRESENT, b"objectClass");
        assert_eq!(rendered(&present).unwrap(), "(objectClass=*)");
        let mut both = ava(EQUALITY, "objectClass", b"user");
        let mut parts = tlv(0x80, b"adm");
        parts.extend(tlv(0x81, b"in"));
        let mut substrings = tlv(TAG_OCTET_STRING, b"sAMAccountName");
        substrings.extend(tlv(0x30, &parts));
        both.extend(tlv(SUBSTRINGS, &substrings));
        both.extend(tlv(NOT, &ava(GREATER_OR_EQUAL, "uidNumber", b"1000")));
        assert_eq!(
            rendered(&tlv(AND, &both)).unwrap(),
            "(&(objectClass=user)(sAMAccountName=adm*in*)(!(uidNumber>=1000)))"
        );
        let mut extensible = tlv(0x81, b"1.2.840.113556.1.4.803");
        extensible.extend(tlv(0x82, b"userAccountControl"));
        extensible.extend(tlv(0x83, b"2"));
        assert_eq!(
            rendered(&tlv(EXTENSIBLE, &extensible)).unwrap(),
            "(userAccountControl:1.2.840.113556.1.4.803:=2)"
        );
        assert_eq!(
            rendered(&ava(EQUALITY, "cn", b"a*(b)\\\0\xff")).unwrap(),
            "(cn=a\\2a\\28b\\29\\5c\\00\\ff)"
        );
    }

    #[test]
    fn malformed_deep_and_long_filters_are_bounded() {
        let whole = tlv(OR, &[ava(EQUALITY, "uid", b"root"), tlv(PRESENT, b"mail")].concat());
        for cut in 0..whole.len() {
            assert_eq!(rendered(&whole[..cut]), None, "cut at {cut}");
        }
        let mut deep = tlv(PRESENT, b"x");
        for _ in 0..(MAX_DEPTH + 2) {
            deep = tlv(NOT, &deep);
        }
        assert_eq!(rendered(&deep), None);
        let wide = tlv(AND, &ava(EQUALITY, "description", &[b'a'; 400]).repeat(20));
        let text = rendered(&wide).unwrap();
        assert!(text.len() <= MAX_FILTER_TEXT + 3 && text.ends_with("..."), "{}", text.len());
    }
}
