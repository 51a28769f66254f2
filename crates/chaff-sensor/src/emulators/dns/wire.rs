//! The DNS message format (RFC 1035 §4), as `dns`, and LLMNR (RFC 4795) and mDNS (RFC 6762)
//! in `llmnr`, read and write it: the header, questions, and names with compression.
//!
//! Every reader is bounded and total: it returns `None` on anything truncated or malformed,
//! never reads past the message, follows at most [`MAX_POINTER_HOPS`] compression pointers
//! and assembles at most [`MAX_NAME_BYTES`] of name.

/// Longest name on the wire (RFC 1035 §2.3.4), and the most compression pointers followed
/// while reading one: a loop of pointers ends there.
const MAX_NAME_BYTES: usize = 255;
const MAX_POINTER_HOPS: usize = 16;

/// Length of the fixed header.
pub const HEADER_BYTES: usize = 12;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;

/// The QR bit of the flags: set on responses.
pub const FLAG_RESPONSE: u16 = 0x8000;

/// The fixed header of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub questions: u16,
    pub answers: u16,
    pub authority: u16,
    pub additional: u16,
}

impl Header {
    /// The header of `message`; `None` if it is shorter than one.
    pub fn parse(message: &[u8]) -> Option<Header> {
        let header = message.get(..HEADER_BYTES)?;
        let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        Some(Header {
            id: word(0),
            flags: word(2),
            questions: word(4),
            answers: word(6),
            authority: word(8),
            additional: word(10),
        })
    }

    /// A query (QR clear) with at least one question.
    pub fn is_query(&self) -> bool {
        self.flags & FLAG_RESPONSE == 0 && self.questions > 0
    }

    /// The opcode (0 for a standard query).
    pub fn opcode(&self) -> u16 {
        (self.flags >> 11) & 0xf
    }
}

/// One entry of the question section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// As sent (case kept), without the final dot, escaped as [`read_name`] does.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// Reads the question at `at`; returns it and the offset after it.
pub fn read_question(message: &[u8], at: usize) -> Option<(Question, usize)> {
    let (name, at) = read_name(message, at)?;
    let fixed = message.get(at..at.checked_add(4)?)?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    Some((Question { name, qtype, qclass }, at + 4))
}

/// Reads the first `limit` questions of the question section (at most as many as the header
/// counts); `None` if one of them cannot be read. Returns them and the offset after the last.
pub fn read_questions(message: &[u8], header: &Header, limit: usize) -> Option<(Vec<Question>, usize)> {
    let count = usize::from(header.questions).min(limit);
    let mut questions = Vec::with_capacity(count);
    let mut at = HEADER_BYTES;
    for _ in 0..count {
        let (question, next) = read_question(message, at)?;
        questions.push(question);
        at = next;
    }
    Some((questions, at))
}

/// Reads a possibly compressed name at `at`; returns it (labels joined by dots, bytes that
/// are not printable ASCII escaped as `\DDD` like BIND) and the offset after it in place.
/// Bounded: at most [`MAX_POINTER_HOPS`] pointers and [`MAX_NAME_BYTES`] bytes.
pub fn read_name(message: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut wire_length = 0usize;
    let mut end = None;
    let mut hops = 0;
    loop {
        let length = *message.get(at)?;
        match length & 0xc0 {
            0x00 if length == 0 => break,
            0x00 => {
                let label = message.get(at + 1..at + 1 + usize::from(length))?;
                wire_length += label.len() + 1;
                if wire_length > MAX_NAME_BYTES {
                    return None;
                }
                if !name.is_empty() {
                    name.push('.');
                }
                push_label(&mut name, label);
                at += 1 + label.len();
            }
            0xc0 => {
                let low = *message.get(at + 1)?;
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return None;
                }
                end.get_or_insert(at + 2);
                at = usize::from(u16::from_be_bytes([length & 0x3f, low]));
            }
            _ => return None,
        }
    }
    Some((name, end.unwrap_or(at + 1)))
}

fn push_label(name: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                name.push('\\');
                name.push(char::from(b));
            }
            0x21..=0x7e => name.push(char::from(b)),
            _ => name.push_str(&format!("\\{b:03}")),
        }
    }
}

/// Writes `name` uncompressed. Names come from the zone or a parsed question: labels of at
/// most 63 bytes (longer ones are cut, which only a hostile question could need).
pub fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let bytes = unescape_label(label);
        let bytes = &bytes[..bytes.len().min(63)];
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    out.push(0);
}

/// The bytes of a label written by [`push_label`].
fn unescape_label(label: &str) -> Vec<u8> {
    let bytes = label.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes.get(i + 1..i + 4).and_then(|d| std::str::from_utf8(d).ok());
            if let Some(value) = digits.and_then(|d| d.parse::<u8>().ok()) {
                out.push(value);
                i += 4;
                continue;
            }
            if let Some(&escaped) = bytes.get(i + 1) {
                out.push(escaped);
                i += 2;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The mnemonic of a record type, else `TYPE<n>` (RFC 3597).
pub fn type_name(qtype: u16) -> String {
    let known = match qtype {
        TYPE_A => "A",
        TYPE_NS => "NS",
        TYPE_CNAME => "CNAME",
        TYPE_SOA => "SOA",
        TYPE_PTR => "PTR",
        TYPE_MX => "MX",
        TYPE_TXT => "TXT",
        TYPE_AAAA => "AAAA",
        TYPE_SRV => "SRV",
        TYPE_OPT => "OPT",
        43 => "DS",
        47 => "NSEC",
        48 => "DNSKEY",
        65 => "HTTPS",
        TYPE_IXFR => "IXFR",
        TYPE_AXFR => "AXFR",
        TYPE_ANY => "ANY",
        _ => return format!("TYPE{qtype}"),
    };
    known.to_owned()
}

/// The mnemonic of a class, else `CLASS<n>` (RFC 3597).
pub fn class_name(qclass: u16) -> String {
    match qclass {
        CLASS_IN => "IN".to_owned(),
        CLASS_CH => "CH".to_owned(),
        4 => "HS".to_owned(),
        TYPE_ANY => "ANY".to_owned(),
        _ => format!("CLASS{qclass}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(names: &[&str]) -> Vec<u8> {
        let mut out = vec![0x12, 0x34, 0x01, 0x00, 0, names.len() as u8, 0, 0, 0, 0, 0, 0];
        for name in names {
            write_name(&mut out, name);
            out.extend_from_slice(&TYPE_A.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
        }
        out
    }

    #[test]
    fn header_and_questions() {
        let m = message(&["a.example", "b"]);
        let header = Header::parse(&m).unwrap();
        assert_eq!((header.id, header.flags, header.questions, header.opcode()), (0x1234, 0x0100, 2, 0));
        assert!(header.is_query());
        let (questions, end) = read_questions(&m, &header, 8).unwrap();
        assert_eq!(end, m.len());
        let names: Vec<&str> = questions.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["a.example", "b"]);
        assert_eq!(read_questions(&m, &header, 1).unwrap().0.len(), 1);
    }

    #[test]
    fn every_truncation_is_refused() {
        let m = message(&["www.example.com"]);
        let header = Header::parse(&m).unwrap();
        for cut in HEADER_BYTES..m.len() {
            assert_eq!(read_questions(&m[..cut], &header, 8), None, "cut at {cut}");
        }
        assert_eq!(Header::parse(&m[..11]), None);
    }

    #[test]
    fn a_pointer_to_an_earlier_name_is_followed_and_loops_end() {
        let mut m = message(&["example.com"]);
        let at = m.len();
        m.extend_from_slice(&[3, b'w', b'w', b'w', 0xc0, 12]);
        assert_eq!(read_name(&m, at), Some(("www.example.com".to_owned(), at + 6)));
        assert_eq!(read_name(&[0xc0, 0], 0), None);
    }

    #[test]
    fn odd_bytes_are_escaped_and_written_back() {
        let m = [3, b'a', b' ', 0xff, 0];
        let (name, _) = read_name(&m, 0).unwrap();
        assert_eq!(name, "a\\032\\255");
        let mut written = Vec::new();
        write_name(&mut written, &name);
        assert_eq!(written, m);
    }
}
