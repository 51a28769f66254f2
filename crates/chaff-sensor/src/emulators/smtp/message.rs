//! The pieces of a mail transaction: envelope addresses, the DATA stream's end and dot
//! stuffing, a header of the message, and base64 for AUTH. Pure functions over bytes.

/// The address of `MAIL FROM:<a@b> SIZE=12` (`keyword` `FROM`) or `RCPT TO:<a@b>` (`TO`):
/// what is between the angle brackets (empty for the null sender `<>`), or the bare word
/// after the colon as lenient servers accept it. `None` when the keyword is missing.
pub fn envelope_address<'a>(arg: &'a [u8], keyword: &str) -> Option<&'a [u8]> {
    let colon = keyword.len();
    if arg.len() <= colon || !arg[..colon].eq_ignore_ascii_case(keyword.as_bytes()) || arg[colon] != b':' {
        return None;
    }
    let rest = trim_start(&arg[colon + 1..]);
    if let Some(inner) = rest.strip_prefix(b"<") {
        let end = inner.iter().position(|&b| b == b'>')?;
        return Some(&inner[..end]);
    }
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

/// The domain of an address, lower case and without a trailing dot; `None` for a bare local
/// part such as `postmaster`.
pub fn domain_of(address: &[u8]) -> Option<String> {
    let at = address.iter().rposition(|&b| b == b'@')?;
    let domain = String::from_utf8_lossy(&address[at + 1..]).to_ascii_lowercase();
    Some(domain.trim_end_matches('.').to_owned())
}

/// Where the DATA decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DotState {
    /// At the start of a line.
    LineStart,
    /// Inside a line.
    Middle,
    /// After a `.` that began a line.
    Dot,
    /// After `.` CR at the start of a line.
    DotCr,
    /// The end-of-data line has been read.
    Done,
}

/// Decodes the DATA stream: finds the end-of-data line (`.` alone, with CRLF or a bare LF
/// as servers tolerate) and removes the dot stuffing (a line's leading `.` is dropped).
/// Line endings are kept as sent.
#[derive(Clone, Debug)]
pub struct DotDecoder {
    state: DotState,
    /// Decoded bytes so far, including those not kept.
    pub size: u64,
}

impl Default for DotDecoder {
    fn default() -> Self {
        DotDecoder { state: DotState::LineStart, size: 0 }
    }
}

impl DotDecoder {
    /// Decodes `input` up to the end of data. Decoded bytes are appended to `out` while it
    /// holds fewer than `keep` bytes; every one counts in [`size`](Self::size). Returns how
    /// many input bytes were consumed and whether the end of data was reached (bytes after
    /// it are left for the next command).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>, keep: usize) -> (usize, bool) {
        for (i, &b) in input.iter().enumerate() {
            let mut emit = |bytes: &[u8]| {
                for &byte in bytes {
                    self.size += 1;
                    if out.len() < keep {
                        out.push(byte);
                    }
                }
            };
            self.state = match (self.state, b) {
                (DotState::LineStart, b'.') => DotState::Dot,
                (DotState::Dot, b'\r') => DotState::DotCr,
                (DotState::Dot | DotState::DotCr, b'\n') => DotState::Done,
                (DotState::DotCr, other) => {
                    emit(&[b'\r', other]);
                    DotState::Middle
                }
                (_, b'\n') => {
                    emit(b"\n");
                    DotState::LineStart
                }
                (_, other) => {
                    emit(&[other]);
                    DotState::Middle
                }
            };
            if self.state == DotState::Done {
                return (i + 1, true);
            }
        }
        (input.len(), false)
    }
}

/// The most bytes of one header value kept (RFC 5322's line limit).
const MAX_HEADER_VALUE: usize = 998;

/// The value of header `name` in `message` (the first one; folded lines unfolded, leading
/// space trimmed), if the header section has it.
pub fn header(message: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut lines = message.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        if !line[..colon].eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        let mut value = trim_start(&line[colon + 1..]).to_vec();
        for folded in lines.by_ref().take_while(|l| l.first().is_some_and(|&b| b == b' ' || b == b'\t')) {
            value.extend_from_slice(folded);
        }
        value.truncate(MAX_HEADER_VALUE);
        return Some(value);
    }
    None
}

/// Decodes standard base64 (padding optional, surrounding spaces ignored); `None` if it is
/// not base64.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    crate::codec::base64_decode(text.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_addresses() {
        assert_eq!(envelope_address(b"FROM:<a@b.org> SIZE=12", "FROM"), Some(&b"a@b.org"[..]));
        assert_eq!(envelope_address(b"from: <a@b.org>", "FROM"), Some(&b"a@b.org"[..]));
        assert_eq!(envelope_address(b"FROM:<>", "FROM"), Some(&b""[..]));
        assert_eq!(envelope_address(b"TO:x@y BODY=8BITMIME", "TO"), Some(&b"x@y"[..]));
        assert_eq!(envelope_address(b"TO:<x@y", "TO"), None);
        assert_eq!(envelope_address(b"TO:", "TO"), None);
        assert_eq!(envelope_address(b"<x@y>", "TO"), None);
        assert_eq!(envelope_address(b"FROM <x@y>", "FROM"), None);
        assert_eq!(domain_of(b"Bob@Example.ORG."), Some("example.org".into()));
        assert_eq!(domain_of(b"postmaster"), None);
    }

    fn decode_in_pieces(input: &[u8], piece: usize, keep: usize) -> (Vec<u8>, u64, usize) {
        let mut decoder = DotDecoder::default();
        let mut out = Vec::new();
        let mut consumed = 0;
        for chunk in input.chunks(piece) {
            let (n, done) = decoder.feed(chunk, &mut out, keep);
            consumed += n;
            if done {
                return (out, decoder.size, consumed);
            }
        }
        panic!("no end of data in {input:?}");
    }

    #[test]
    fn data_ends_at_a_lone_dot_and_is_unstuffed() {
        let input = b"Subject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n";
        for piece in [1, 2, 5, input.len()] {
            let (out, size, consumed) = decode_in_pieces(input, piece, usize::MAX);
            assert_eq!(out, b"Subject: hi\r\n\r\n.leading dot\r\n", "piece {piece}");
            assert_eq!(size, out.len() as u64);
            assert_eq!(&input[consumed..], b"QUIT\r\n");
        }
        // Bare LF line ends, an empty message, and dots that do not end the data.
        assert_eq!(decode_in_pieces(b"a\n.\n", 3, usize::MAX).0, b"a\n");
        assert_eq!(decode_in_pieces(b".\r\n", 1, usize::MAX).0, b"");
        assert_eq!(decode_in_pieces(b"x.\r\n.x\r\n.\r\n", 1, usize::MAX).0, b"x.\r\nx\r\n");
        assert_eq!(decode_in_pieces(b".\rx\r\n.\r\n", 1, usize::MAX).0, b"\rx\r\n");
    }

    #[test]
    fn data_beyond_the_kept_bytes_is_counted_not_kept() {
        let (out, size, _) = decode_in_pieces(b"0123456789\r\n.\r\n", 4, 4);
        assert_eq!(out, b"0123");
        assert_eq!(size, 12);
    }

    #[test]
    fn headers_are_found_unfolded_and_only_in_the_header_section() {
        let message = b"From: a@b\r\nsubject: Invoice\r\n  overdue\r\nTo: c@d\r\n\r\nSubject: body";
        assert_eq!(header(message, "Subject"), Some(b"Invoice  overdue".to_vec()));
        assert_eq!(header(message, "To"), Some(b"c@d".to_vec()));
        assert_eq!(header(message, "Message-ID"), None);
        assert_eq!(header(b"\r\nSubject: x", "Subject"), None);
        let long = [b"Subject: ".to_vec(), vec![b'x'; 5000]].concat();
        assert_eq!(header(&long, "Subject").unwrap().len(), MAX_HEADER_VALUE);
    }

    #[test]
    fn base64_round_trips_what_clients_send() {
        assert_eq!(base64_decode(b"AGJvYgBodW50ZXIy").unwrap(), b"\0bob\0hunter2");
        assert_eq!(base64_decode(b"VXNlcm5hbWU6").unwrap(), b"Username:");
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI=").unwrap(), b"ab");
        assert_eq!(base64_decode(b"YWI").unwrap(), b"ab");
        assert_eq!(base64_decode(b" YWJj ").unwrap(), b"abc");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"*"), None);
        assert_eq!(base64_decode(b"YWJjZ"), None);
        assert_eq!(base64_decode(b"YW=j"), None);
    }
}
