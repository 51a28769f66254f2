//! The BSON the MongoDB emulator reads and writes (bsonspec.org 1.1): documents of the
//! types commands use, read without panicking on any input and written in order. Types a
//! command never needs answered (regex, code, decimal128, ...) are read past and kept as
//! [`Bson::Other`]. The `bson` crate would bring serde, chrono and more into a static binary
//! for a few dozen lines' worth of work.

use serde_json::{Value, json};

use crate::codec::base64_encode;

/// Deepest nesting read; MongoDB's own limit is 100, a command needs a handful.
const MAX_DEPTH: usize = 32;

/// A BSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Bson {
    Double(f64),
    String(String),
    Document(Document),
    Array(Vec<Bson>),
    Binary(u8, Vec<u8>),
    ObjectId([u8; 12]),
    Boolean(bool),
    /// Milliseconds since the Unix epoch.
    DateTime(i64),
    Null,
    Int32(i32),
    Timestamp(u64),
    Int64(i64),
    /// A type read past: its type byte.
    Other(u8),
}

/// A document: keys in order (commands are named by their first key).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document(pub Vec<(String, Bson)>);

impl Document {
    pub fn new() -> Document {
        Document::default()
    }

    /// The document with `key` appended.
    pub fn with(mut self, key: &str, value: impl Into<Bson>) -> Document {
        self.0.push((key.to_owned(), value.into()));
        self
    }

    /// The document without `key` (a reply without its `ok`, to embed it in another).
    pub fn without(mut self, key: &str) -> Document {
        self.0.retain(|(k, _)| k != key);
        self
    }

    pub fn get(&self, key: &str) -> Option<&Bson> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Bson::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn get_document(&self, key: &str) -> Option<&Document> {
        match self.get(key)? {
            Bson::Document(d) => Some(d),
            _ => None,
        }
    }

    /// Binary data, or a string's bytes (some drivers send SASL payloads as strings).
    pub fn get_bytes(&self, key: &str) -> Option<&[u8]> {
        match self.get(key)? {
            Bson::Binary(_, bytes) => Some(bytes),
            Bson::String(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// Whether `key` is a true boolean or a non-zero number, as MongoDB reads flags.
    pub fn is_true(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Bson::Boolean(b)) => *b,
            Some(Bson::Int32(n)) => *n != 0,
            Some(Bson::Int64(n)) => *n != 0,
            Some(Bson::Double(n)) => *n != 0.0,
            _ => false,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0; 4];
        for (key, value) in &self.0 {
            out.push(value.type_byte());
            push_cstring(&mut out, key);
            value.write(&mut out);
        }
        out.push(0);
        let length = out.len() as i32;
        out[..4].copy_from_slice(&length.to_le_bytes());
        out
    }

    /// The document at the start of `bytes` and its length.
    pub fn parse(bytes: &[u8]) -> Option<(Document, usize)> {
        parse_document(bytes, 0)
    }

    /// The document as relaxed extended JSON, for events.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
    }
}

impl Bson {
    fn type_byte(&self) -> u8 {
        match self {
            Bson::Double(_) => 0x01,
            Bson::String(_) => 0x02,
            Bson::Document(_) => 0x03,
            Bson::Array(_) => 0x04,
            Bson::Binary(..) => 0x05,
            Bson::ObjectId(_) => 0x07,
            Bson::Boolean(_) => 0x08,
            Bson::DateTime(_) => 0x09,
            // `Other` is only ever read; were one written, it would be a null.
            Bson::Null | Bson::Other(_) => 0x0a,
            Bson::Int32(_) => 0x10,
            Bson::Timestamp(_) => 0x11,
            Bson::Int64(_) => 0x12,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Bson::Double(n) => out.extend_from_slice(&n.to_le_bytes()),
            Bson::String(s) => {
                out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            Bson::Document(d) => out.extend(d.to_bytes()),
            Bson::Array(items) => {
                let indexed = items.iter().enumerate().map(|(i, v)| (i.to_string(), v.clone())).collect();
                out.extend(Document(indexed).to_bytes());
            }
            Bson::Binary(subtype, bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
                out.push(*subtype);
                out.extend_from_slice(bytes);
            }
            Bson::ObjectId(id) => out.extend_from_slice(id),
            Bson::Boolean(b) => out.push(u8::from(*b)),
            Bson::DateTime(n) | Bson::Int64(n) => out.extend_from_slice(&n.to_le_bytes()),
            Bson::Null | Bson::Other(_) => {}
            Bson::Int32(n) => out.extend_from_slice(&n.to_le_bytes()),
            Bson::Timestamp(n) => out.extend_from_slice(&n.to_le_bytes()),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Bson::Double(n) => {
                serde_json::Number::from_f64(*n).map_or_else(|| Value::from(n.to_string()), Value::Number)
            }
            Bson::String(s) => Value::from(s.as_str()),
            Bson::Document(d) => d.to_json(),
            Bson::Array(items) => Value::Array(items.iter().map(Bson::to_json).collect()),
            Bson::Binary(subtype, bytes) => {
                json!({"$binary": {"base64": base64_encode(bytes), "subType": format!("{subtype:02x}")}})
            }
            Bson::ObjectId(id) => json!({"$oid": id.iter().map(|b| format!("{b:02x}")).collect::<String>()}),
            Bson::Boolean(b) => Value::from(*b),
            Bson::DateTime(n) => json!({"$date": n}),
            Bson::Null => Value::Null,
            Bson::Int32(n) => Value::from(*n),
            Bson::Timestamp(n) => json!({"$timestamp": {"t": n >> 32, "i": n & 0xffff_ffff}}),
            Bson::Int64(n) => Value::from(*n),
            Bson::Other(kind) => json!({"$type": format!("{kind:02x}")}),
        }
    }
}

impl From<&str> for Bson {
    fn from(s: &str) -> Bson {
        Bson::String(s.to_owned())
    }
}

impl From<String> for Bson {
    fn from(s: String) -> Bson {
        Bson::String(s)
    }
}

impl From<f64> for Bson {
    fn from(n: f64) -> Bson {
        Bson::Double(n)
    }
}

impl From<i32> for Bson {
    fn from(n: i32) -> Bson {
        Bson::Int32(n)
    }
}

impl From<i64> for Bson {
    fn from(n: i64) -> Bson {
        Bson::Int64(n)
    }
}

impl From<bool> for Bson {
    fn from(b: bool) -> Bson {
        Bson::Boolean(b)
    }
}

impl From<Document> for Bson {
    fn from(d: Document) -> Bson {
        Bson::Document(d)
    }
}

impl From<Vec<Bson>> for Bson {
    fn from(items: Vec<Bson>) -> Bson {
        Bson::Array(items)
    }
}

fn push_cstring(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|&b| b != 0));
    out.push(0);
}

/// A C string at the start of `bytes` (lossy UTF-8) and the bytes after its NUL.
pub fn read_cstring(bytes: &[u8]) -> Option<(String, &[u8])> {
    let end = bytes.iter().position(|&b| b == 0)?;
    Some((String::from_utf8_lossy(&bytes[..end]).into_owned(), &bytes[end + 1..]))
}

fn read_i32(bytes: &[u8]) -> Option<i32> {
    Some(i32::from_le_bytes(bytes.get(..4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

fn parse_document(bytes: &[u8], depth: usize) -> Option<(Document, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let length = usize::try_from(read_i32(bytes)?).ok().filter(|&n| n >= 5)?;
    let body = bytes.get(4..length)?;
    let (&0, mut rest) = body.split_last()? else { return None };
    let mut document = Document::new();
    while let Some((&kind, after)) = rest.split_first() {
        let (key, after) = read_cstring(after)?;
        let (value, after) = parse_value(kind, after, depth)?;
        document.0.push((key, value));
        rest = after;
    }
    Some((document, length))
}

/// A value of type `kind` at the start of `bytes`, and what follows it.
fn parse_value(kind: u8, bytes: &[u8], depth: usize) -> Option<(Bson, &[u8])> {
    let fixed = |n: usize| bytes.get(n..).map(|rest| (&bytes[..n], rest));
    Some(match kind {
        0x01 => {
            let (raw, rest) = fixed(8)?;
            (Bson::Double(f64::from_bits(read_u64(raw)?)), rest)
        }
        0x02 | 0x0d | 0x0e => {
            let (text, rest) = read_string(bytes)?;
            (if kind == 0x02 { Bson::String(text) } else { Bson::Other(kind) }, rest)
        }
        0x03 | 0x04 => {
            let (document, length) = parse_document(bytes, depth + 1)?;
            let value = if kind == 0x03 {
                Bson::Document(document)
            } else {
                Bson::Array(document.0.into_iter().map(|(_, v)| v).collect())
            };
            (value, &bytes[length..])
        }
        0x05 => {
            let length = usize::try_from(read_i32(bytes)?).ok()?;
            let subtype = *bytes.get(4)?;
            let data = bytes.get(5..5 + length)?;
            (Bson::Binary(subtype, data.to_vec()), &bytes[5 + length..])
        }
        0x06 | 0x0a | 0x7f | 0xff => (if kind == 0x0a { Bson::Null } else { Bson::Other(kind) }, bytes),
        0x07 => {
            let (raw, rest) = fixed(12)?;
            (Bson::ObjectId(raw.try_into().ok()?), rest)
        }
        0x08 => {
            let (raw, rest) = fixed(1)?;
            (Bson::Boolean(raw[0] != 0), rest)
        }
        0x09 | 0x11 | 0x12 => {
            let (raw, rest) = fixed(8)?;
            let n = read_u64(raw)?;
            let value = match kind {
                0x09 => Bson::DateTime(n as i64),
                0x11 => Bson::Timestamp(n),
                _ => Bson::Int64(n as i64),
            };
            (value, rest)
        }
        0x0b => {
            let (_, rest) = read_cstring(bytes)?;
            let (_, rest) = read_cstring(rest)?;
            (Bson::Other(kind), rest)
        }
        0x0c => {
            let (_, rest) = read_string(bytes)?;
            (Bson::Other(kind), rest.get(12..)?)
        }
        0x0f => {
            let length = usize::try_from(read_i32(bytes)?).ok().filter(|&n| n >= 4)?;
            (Bson::Other(kind), bytes.get(length..)?)
        }
        0x10 => {
            let (raw, rest) = fixed(4)?;
            (Bson::Int32(read_i32(raw)?), rest)
        }
        0x13 => (Bson::Other(kind), fixed(16)?.1),
        _ => return None,
    })
}

/// A BSON string: length (NUL included), bytes, NUL.
fn read_string(bytes: &[u8]) -> Option<(String, &[u8])> {
    let length = usize::try_from(read_i32(bytes)?).ok().filter(|&n| n >= 1)?;
    let raw = bytes.get(4..4 + length)?;
    let (&0, text) = raw.split_last()? else { return None };
    Some((String::from_utf8_lossy(text).into_owned(), &bytes[4 + length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        Document::new()
            .with("hello", 1i32)
            .with("name", "pymongo")
            .with("big", 1i64 << 40)
            .with("ratio", 0.5)
            .with("ok", true)
            .with("list", vec![Bson::from("a"), Bson::Null, Bson::ObjectId([7; 12])])
            .with("payload", Bson::Binary(0, b"n,,n=root,r=abc".to_vec()))
            .with("when", Bson::DateTime(1_714_566_896_789))
            .with("nested", Document::new().with("$db", "admin"))
    }

    #[test]
    fn documents_round_trip() {
        let bytes = sample().to_bytes();
        assert_eq!(Document::parse(&bytes), Some((sample(), bytes.len())));
        // The smallest document.
        assert_eq!(Document::new().to_bytes(), [5, 0, 0, 0, 0]);
    }

    #[test]
    fn known_bytes_parse() {
        // {"isMaster": 1.0} as the nmap-era clients send it.
        let bytes = b"\x17\0\0\0\x01isMaster\0\0\0\0\0\0\0\xf0\x3f\0";
        let (document, _) = Document::parse(bytes).unwrap();
        assert_eq!(document, Document::new().with("isMaster", 1.0));
        assert!(document.is_true("isMaster"));
    }

    #[test]
    fn hostile_input_is_refused_without_panics() {
        let bytes = sample().to_bytes();
        for cut in 0..bytes.len() {
            assert_eq!(Document::parse(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut lying = bytes.clone();
        lying[..4].copy_from_slice(&i32::MAX.to_le_bytes());
        assert_eq!(Document::parse(&lying), None);
        let negative_string = b"\x10\0\0\0\x02a\0\xff\xff\xff\xff\0\0\0\0";
        assert_eq!(Document::parse(negative_string), None);
        let mut deep = Document::new();
        for _ in 0..(MAX_DEPTH + 2) {
            deep = Document::new().with("d", deep);
        }
        assert_eq!(Document::parse(&deep.to_bytes()), None);
        for byte in 0..=255u8 {
            let _ = Document::parse(&[8, 0, 0, 0, byte, b'k', 0, 0]);
        }
    }

    #[test]
    fn json_shows_every_type() {
        let value = sample().to_json();
        assert_eq!(value["payload"]["$binary"]["base64"], "biwsbj1yb290LHI9YWJj");
        assert_eq!(value["list"][2]["$oid"], "070707070707070707070707");
        assert_eq!(value["nested"]["$db"], "admin");
    }
}
