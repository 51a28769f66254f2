//! RESP, the Redis wire protocol: requests parsed incrementally the way `redis-server`
//! parses them (multibulk arrays of bulk strings, and inline commands), within fixed bounds;
//! replies encoded as RESP2 or RESP3.

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

use bytes::{Buf, BytesMut};

/// Longest inline request, and longest count line of a multibulk request or bulk argument
/// (redis's `PROTO_INLINE_MAX_SIZE`).
pub const MAX_INLINE: usize = 64 * 1024;

/// Largest bulk length redis accepts (`proto-max-bulk-len`, 512 MiB). A declared length is
/// only compared with it, never allocated.
pub const PROTO_MAX_BULK_LEN: i64 = 512 * 1024 * 1024;

/// Bytes one request may hold at once: unparsed input plus the arguments parsed so far.
/// A request that cannot fit ends the connection without a reply, as redis does at its
/// `client-query-buffer-limit`; real attack payloads are far smaller.
pub const MAX_QUERY_BUFFER: usize = 128 * 1024;

/// What one parsed argument costs beyond its bytes, so that a flood of empty arguments is
/// bounded by [`MAX_QUERY_BUFFER`] too.
const ARG_OVERHEAD: usize = std::mem::size_of::<Vec<u8>>();

/// Why the client's input cannot be a request. Redis answers the first kinds with an error
/// and closes the connection; [`ProtocolError::QueryBufferLimit`] closes it silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    TooBigBulkCount,
    /// The byte found where a bulk argument's `$` should be.
    ExpectedDollar(u8),
    InvalidBulkLength,
    /// The request does not fit in [`MAX_QUERY_BUFFER`].
    QueryBufferLimit,
}

impl ProtocolError {
    /// The error reply redis sends before closing, if it sends one.
    pub fn reply(self) -> Option<Reply> {
        match self {
            ProtocolError::QueryBufferLimit => None,
            other => Some(Reply::error(format!("ERR {other}"))),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::TooBigInline => f.write_str("Protocol error: too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("Protocol error: unbalanced quotes in request"),
            ProtocolError::TooBigMultibulkCount => f.write_str("Protocol error: too big mbulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("Protocol error: invalid multibulk length"),
            ProtocolError::TooBigBulkCount => f.write_str("Protocol error: too big bulk count string"),
            ProtocolError::ExpectedDollar(b) => {
                write!(f, "Protocol error: expected '$', got '{}'", *b as char)
            }
            ProtocolError::InvalidBulkLength => f.write_str("Protocol error: invalid bulk length"),
            ProtocolError::QueryBufferLimit => f.write_str("query buffer limit reached"),
        }
    }
}

/// One request: the command name and its arguments, never empty.
pub type Request = Vec<Vec<u8>>;

/// Unparsed input, with how far the current line has already been searched, so that a
/// client sending a long line a byte at a time costs linear time, not quadratic.
#[derive(Default)]
struct Input {
    buf: BytesMut,
    searched: usize,
}

impl Input {
    /// Position of the first `byte` in the buffer. Only valid until [`Input::consume`].
    fn find(&mut self, byte: u8) -> Option<usize> {
        match self.buf[self.searched..].iter().position(|&b| b == byte) {
            Some(i) => {
                self.searched += i;
                Some(self.searched)
            }
            None => {
                self.searched = self.buf.len();
                None
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.advance(n);
        self.searched = 0;
    }
}

/// A multibulk request whose arguments are still arriving.
struct Multibulk {
    /// Arguments still to read.
    remaining: usize,
    /// Length of the argument being read, once its `$<len>` line has been.
    bulk_len: Option<usize>,
    args: Request,
    /// Bytes held by `args`, with [`ARG_OVERHEAD`] each.
    held: usize,
}

/// Turns the bytes a client sends into requests, as `redis-server` does: input starting
/// with `*` is a multibulk request, anything else an inline command line. Holds at most
/// [`MAX_QUERY_BUFFER`] bytes.
#[derive(Default)]
pub struct RequestReader {
    input: Input,
    multibulk: Option<Multibulk>,
}

impl RequestReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many more bytes may be fed before the request in progress has to complete.
    pub fn room(&self) -> usize {
        let held = self.input.buf.len() + self.multibulk.as_ref().map_or(0, |m| m.held);
        MAX_QUERY_BUFFER.saturating_sub(held)
    }

    /// Appends received bytes; callers feed at most [`RequestReader::room`] at a time.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.buf.extend_from_slice(bytes);
    }

    /// The next complete request, `None` until more input is needed. Empty requests (blank
    /// lines, `*0`) are skipped, as redis does. After an error the reader is unusable: the
    /// connection must end.
    pub fn next_request(&mut self) -> Result<Option<Request>, ProtocolError> {
        loop {
            if self.multibulk.is_none() {
                let Some(&first) = self.input.buf.first() else { return Ok(None) };
                if first != b'*' {
                    match self.inline()? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    }
                }
                match self.multibulk_count()? {
                    None => return Ok(None),
                    Some(0) => continue,
                    Some(count) => {
                        self.multibulk = Some(Multibulk {
                            remaining: count,
                            bulk_len: None,
                            args: Vec::with_capacity(count.min(16)),
                            held: 0,
                        })
                    }
                }
            }
            return self.multibulk_args();
        }
    }

    /// An inline command line (up to `\n`, without a trailing `\r`), split into arguments.
    fn inline(&mut self) -> Result<Option<Request>, ProtocolError> {
        let Some(newline) = self.input.find(b'\n') else {
            return if self.input.buf.len() > MAX_INLINE {
                Err(ProtocolError::TooBigInline)
            } else {
                Ok(None)
            };
        };
        let line = &self.input.buf[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let args = split_inline_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
        self.input.consume(newline + 1);
        Ok(Some(args))
    }

    /// The `*<count>` line; a count of zero or less is an empty request.
    fn multibulk_count(&mut self) -> Result<Option<usize>, ProtocolError> {
        let Some(number) = header(&mut self.input, ProtocolError::TooBigMultibulkCount)? else {
            return Ok(None);
        };
        let count = parse_integer(&self.input.buf[1..number.end])
            .filter(|&n| n <= i64::from(i32::MAX))
            .ok_or(ProtocolError::InvalidMultibulkLength)?;
        self.input.consume(number.next);
        Ok(Some(usize::try_from(count).unwrap_or(0)))
    }

    fn multibulk_args(&mut self) -> Result<Option<Request>, ProtocolError> {
        let Some(request) = self.multibulk.as_mut() else { return Ok(None) };
        while request.remaining > 0 {
            let len = match request.bulk_len {
                Some(len) => len,
                None => {
                    let input = &mut self.input;
                    let Some(&first) = input.buf.first() else { return Ok(None) };
                    let Some(number) = header(input, ProtocolError::TooBigBulkCount)? else {
                        return Ok(None);
                    };
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedDollar(first));
                    }
                    let len = parse_integer(&input.buf[1..number.end])
                        .filter(|n| (0..=PROTO_MAX_BULK_LEN).contains(n))
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    input.consume(number.next);
                    let len = usize::try_from(len).map_err(|_| ProtocolError::InvalidBulkLength)?;
                    if request.held + len + ARG_OVERHEAD > MAX_QUERY_BUFFER {
                        return Err(ProtocolError::QueryBufferLimit);
                    }
                    request.bulk_len = Some(len);
                    len
                }
            };
            // Like redis, the two bytes after the argument are skipped, not checked.
            if self.input.buf.len() < len + 2 {
                return Ok(None);
            }
            request.args.push(self.input.buf[..len].to_vec());
            self.input.consume(len + 2);
            request.held += len + ARG_OVERHEAD;
            request.bulk_len = None;
            request.remaining -= 1;
        }
        Ok(self.multibulk.take().map(|request| request.args))
    }
}

/// Where a header line's number ends (at its `\r`) and the next line starts.
struct HeaderLine {
    end: usize,
    next: usize,
}

/// The header line (`*<count>` or `$<len>`) at the start of the input, once complete: like
/// redis, it ends at the first `\r` and needs one more byte (taken to be the `\n`).
fn header(input: &mut Input, too_big: ProtocolError) -> Result<Option<HeaderLine>, ProtocolError> {
    let Some(cr) = input.find(b'\r') else {
        return if input.buf.len() > MAX_INLINE { Err(too_big) } else { Ok(None) };
    };
    Ok((cr + 2 <= input.buf.len()).then_some(HeaderLine { end: cr, next: cr + 2 }))
}

/// A decimal integer as redis's `string2ll` reads it: an optional `-`, then `0` alone or
/// digits not starting with `0`; no `+`, no spaces, no overflow.
pub fn parse_integer(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    let magnitude =
        digits.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    if negative { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() }
}

/// Splits an inline command line into arguments as redis's `sdssplitargs` does: separated
/// by whitespace; `"double quotes"` with `\n \r \t \b \a \xHH` and `\<any>` escapes;
/// `'single quotes'` with `\'`; a closing quote must be followed by whitespace or the end.
/// The line ends at a NUL byte (the C string ends there). `None` for unbalanced quotes.
pub fn split_inline_args(line: &[u8]) -> Option<Request> {
    let line = line.split(|&b| b == 0).next().unwrap_or_default();
    let mut args = Vec::new();
    let mut rest = line;
    loop {
        rest = trim_start(rest);
        if rest.is_empty() {
            return Some(args);
        }
        let (arg, after) = inline_arg(rest)?;
        args.push(arg);
        rest = after;
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_space(*first) {
            break;
        }
        s = rest;
    }
    s
}

/// One argument at the start of `s` (not starting with whitespace), and what follows it.
fn inline_arg(mut s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut arg = Vec::new();
    loop {
        match s {
            [] => return Some((arg, s)),
            [b, ..] if is_space(*b) => return Some((arg, s)),
            [b'"', rest @ ..] => s = double_quoted(rest, &mut arg)?,
            [b'\'', rest @ ..] => s = single_quoted(rest, &mut arg)?,
            [b, rest @ ..] => {
                arg.push(*b);
                s = rest;
            }
        }
    }
}

/// The inside of `"..."` onto `arg`; returns what follows the closing quote.
fn double_quoted<'a>(mut s: &'a [u8], arg: &mut Vec<u8>) -> Option<&'a [u8]> {
    loop {
        match s {
            [] => return None,
            [b'\\', b'x', h, l, rest @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                arg.push(hex_value(*h) << 4 | hex_value(*l));
                s = rest;
            }
            [b'\\', c, rest @ ..] => {
                arg.push(match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => b'\x08',
                    b'a' => b'\x07',
                    other => *other,
                });
                s = rest;
            }
            [b'"', rest @ ..] => return closing_quote(rest),
            [b, rest @ ..] => {
                arg.push(*b);
                s = rest;
            }
        }
    }
}

/// The inside of `'...'` onto `arg`; returns what follows the closing quote.
fn single_quoted<'a>(mut s: &'a [u8], arg: &mut Vec<u8>) -> Option<&'a [u8]> {
    loop {
        match s {
            [] => return None,
            [b'\\', b'\'', rest @ ..] => {
                arg.push(b'\'');
                s = rest;
            }
            [b'\'', rest @ ..] => return closing_quote(rest),
            [b, rest @ ..] => {
                arg.push(*b);
                s = rest;
            }
        }
    }
}

/// A closing quote ends its argument: what follows must be whitespace or nothing.
fn closing_quote(rest: &[u8]) -> Option<&[u8]> {
    match rest.first() {
        Some(&b) if !is_space(b) => None,
        _ => Some(rest),
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// The protocol version a connection speaks (`HELLO 3` switches to RESP3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn number(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// A reply, encoded for the connection's protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(Cow<'static, str>),
    /// `-ERR ...`: the text starts with the error code. Never contains CR or LF.
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    /// `$-1` in RESP2, `_` in RESP3.
    Nil,
    Array(Vec<Reply>),
    /// A flat array of keys and values in RESP2, `%` in RESP3.
    Map(Vec<(Reply, Reply)>),
    /// Text (INFO): a bulk string in RESP2, a `txt` verbatim string in RESP3.
    Verbatim(String),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Status(Cow::Borrowed("OK"))
    }

    pub fn status(text: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(text))
    }

    /// An error reply; like redis, CR and LF in the text become spaces so the reply stays one
    /// line.
    pub fn error(text: impl Into<String>) -> Reply {
        let text: String = text.into();
        Reply::Error(text.replace(['\r', '\n'], " "))
    }

    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    pub fn bulks<I: IntoIterator<Item = B>, B: Into<Vec<u8>>>(items: I) -> Reply {
        Reply::Array(items.into_iter().map(Reply::bulk).collect())
    }

    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        match self {
            Reply::Status(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => line(out, b':', n),
            Reply::Bulk(bytes) => bulk(out, b'$', bytes),
            Reply::Nil => {
                out.extend_from_slice(if protocol == Protocol::Resp3 { b"_\r\n" } else { b"$-1\r\n" })
            }
            Reply::Array(items) => {
                line(out, b'*', items.len());
                items.iter().for_each(|item| item.encode(protocol, out));
            }
            Reply::Map(pairs) => {
                match protocol {
                    Protocol::Resp2 => line(out, b'*', pairs.len() * 2),
                    Protocol::Resp3 => line(out, b'%', pairs.len()),
                }
                for (key, value) in pairs {
                    key.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
            Reply::Verbatim(text) => match protocol {
                Protocol::Resp2 => bulk(out, b'$', text.as_bytes()),
                Protocol::Resp3 => {
                    line(out, b'=', text.len() + 4);
                    out.extend_from_slice(b"txt:");
                    out.extend_from_slice(text.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            },
        }
    }
}

fn line(out: &mut Vec<u8>, prefix: u8, value: impl fmt::Display) {
    out.push(prefix);
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{value}\r\n");
}

fn bulk(out: &mut Vec<u8>, prefix: u8, bytes: &[u8]) {
    line(out, prefix, bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// `bytes` as redis-cli and MONITOR show an argument (redis's `sdscatrepr`): in double
/// quotes, with `\\ \" \n \r \t \a \b` and `\xNN` for other unprintable bytes.
pub fn repr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\x07' => out.push_str("\\a"),
            b'\x08' => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(input: &[u8]) -> RequestReader {
        let mut reader = RequestReader::new();
        reader.feed(input);
        reader
    }

    fn requests(input: &[u8]) -> Result<Vec<Request>, ProtocolError> {
        let mut reader = reader(input);
        let mut out = Vec::new();
        while let Some(request) = reader.next_request()? {
            out.push(request);
        }
        Ok(out)
    }

    fn args(items: &[&str]) -> Request {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_requests_pipelined() {
        let got = requests(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\r\n\r\n").unwrap();
        assert_eq!(got, [args(&["PING"]), args(&["SET", "k", "a\r\n"])]);
    }

    #[test]
    fn multibulk_fed_one_byte_at_a_time() {
        let input = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
        let mut reader = RequestReader::new();
        for (i, b) in input.iter().enumerate() {
            assert_eq!(reader.next_request(), Ok(None), "before byte {i}");
            reader.feed(&[*b]);
        }
        assert_eq!(reader.next_request(), Ok(Some(args(&["ECHO", "hello"]))));
        assert_eq!(reader.next_request(), Ok(None));
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(requests(b"\r\n\n   \r\n*0\r\n*-1\r\nPING\r\n").unwrap(), [args(&["PING"])]);
    }

    #[test]
    fn bulk_terminator_is_skipped_unchecked() {
        assert_eq!(requests(b"*1\r\n$4\r\nPINGxx").unwrap(), [args(&["PING"])]);
    }

    #[test]
    fn inline_commands_split_like_redis() {
        assert_eq!(requests(b"set  k \"a b\\n\\x41\"\r\n").unwrap(), [args(&["set", "k", "a b\nA"])]);
        assert_eq!(requests(b"get 'it\\'s'\n").unwrap(), [args(&["get", "it's"])]);
        assert_eq!(requests(b"echo ab\"c d\"e\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(requests(b"echo ab\"c d\" e\n").unwrap(), [args(&["echo", "abc d", "e"])]);
        assert_eq!(requests(b"echo \"open\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(requests(b"echo 'open\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(requests(b"echo a\0 ignored\n").unwrap(), [args(&["echo", "a"])]);
        assert_eq!(requests(b"GET / HTTP/1.0\r\n\r\n").unwrap(), [args(&["GET", "/", "HTTP/1.0"])]);
    }

    #[test]
    fn framing_errors_carry_redis_messages() {
        let err = |input: &[u8]| requests(input).unwrap_err().to_string();
        assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*2147483648\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*1\r\n+PING\r\n"), "Protocol error: expected '$', got '+'");
        assert_eq!(err(b"*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(err(b"*1\r\n$01\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(err(b"*1\r\n$536870913\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(
            ProtocolError::ExpectedDollar(b'+').reply(),
            Some(Reply::Error("ERR Protocol error: expected '$', got '+'".into()))
        );
    }

    #[test]
    fn oversized_input_is_refused_without_allocating_for_it() {
        let long = vec![b'a'; MAX_INLINE + 1];
        assert_eq!(requests(&long), Err(ProtocolError::TooBigInline));
        let mut count = b"*".to_vec();
        count.extend_from_slice(&long);
        assert_eq!(requests(&count), Err(ProtocolError::TooBigMultibulkCount));
        let mut bulk = b"*1\r\n$".to_vec();
        bulk.extend_from_slice(&long);
        assert_eq!(requests(&bulk), Err(ProtocolError::TooBigBulkCount));
        // Within redis's limit but beyond what this server holds: refused at the header.
        let mut reader = reader(b"*1\r\n$100000000\r\n");
        assert_eq!(reader.next_request(), Err(ProtocolError::QueryBufferLimit));
        assert!(reader.input.buf.capacity() < 1024);
    }

    #[test]
    fn many_empty_arguments_fill_the_query_buffer() {
        let mut reader = reader(b"*1000000\r\n");
        let chunk = b"$0\r\n\r\n".repeat(512);
        let mut fed = 0;
        let outcome = loop {
            match reader.next_request() {
                Ok(None) if reader.room() > 0 => {}
                Ok(None) => break Err(ProtocolError::QueryBufferLimit),
                other => break other,
            }
            let n = chunk.len().min(reader.room());
            reader.feed(&chunk[..n]);
            fed += n;
        };
        assert_eq!(outcome, Err(ProtocolError::QueryBufferLimit));
        assert!(fed <= MAX_QUERY_BUFFER, "{fed}");
    }

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_integer(b"0"), Some(0));
        assert_eq!(parse_integer(b"-12"), Some(-12));
        assert_eq!(parse_integer(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_integer(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"-0", b"01", b"+1", b" 1", b"1 ", b"9223372036854775808", b"1x"] {
            assert_eq!(parse_integer(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn replies_encode_for_both_protocols() {
        let encode = |reply: &Reply, protocol| {
            let mut out = Vec::new();
            reply.encode(protocol, &mut out);
            String::from_utf8(out).unwrap()
        };
        let map = Reply::Map(vec![
            (Reply::bulk("dir"), Reply::bulk("/var/lib/redis")),
            (Reply::bulk("x"), Reply::Nil),
        ]);
        assert_eq!(
            encode(&map, Protocol::Resp2),
            "*4\r\n$3\r\ndir\r\n$14\r\n/var/lib/redis\r\n$1\r\nx\r\n$-1\r\n"
        );
        assert_eq!(
            encode(&map, Protocol::Resp3),
            "%2\r\n$3\r\ndir\r\n$14\r\n/var/lib/redis\r\n$1\r\nx\r\n_\r\n"
        );
        let info = Reply::Verbatim("# Server\r\n".into());
        assert_eq!(encode(&info, Protocol::Resp2), "$10\r\n# Server\r\n\r\n");
        assert_eq!(encode(&info, Protocol::Resp3), "=14\r\ntxt:# Server\r\n\r\n");
        assert_eq!(encode(&Reply::error("ERR a\r\nb"), Protocol::Resp2), "-ERR a  b\r\n");
        assert_eq!(encode(&Reply::Integer(-3), Protocol::Resp2), ":-3\r\n");
        assert_eq!(encode(&Reply::ok(), Protocol::Resp3), "+OK\r\n");
    }

    #[test]
    fn repr_quotes_like_redis_cli() {
        assert_eq!(repr(b"a b"), "\"a b\"");
        assert_eq!(repr(b"\n*/1 * * * * sh\n\"\\\x00\xff"), "\"\\n*/1 * * * * sh\\n\\\"\\\\\\x00\\xff\"");
    }
}
