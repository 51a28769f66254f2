//! IMAP's command syntax (RFC 3501 section 9), as far as this server reads it: atoms (with
//! `[...]` section specs kept inside), quoted strings, literals and parenthesised lists;
//! sequence sets; and quoting of strings in responses.

/// One token of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// An atom, including a fetch item's bracketed section (`BODY.PEEK[HEADER.FIELDS (TO)]`).
    Atom(Vec<u8>),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    Open,
    Close,
}

impl Token {
    /// An astring's bytes (atom or string).
    pub fn astring(&self) -> Option<&[u8]> {
        match self {
            Token::Atom(bytes) | Token::Str(bytes) => Some(bytes),
            Token::Open | Token::Close => None,
        }
    }

    /// An atom, upper-cased.
    pub fn keyword(&self) -> Option<String> {
        match self {
            Token::Atom(bytes) => Some(String::from_utf8_lossy(bytes).to_ascii_uppercase()),
            _ => None,
        }
    }
}

/// A literal announced at the end of a line: `{n}` (the client waits for `+`) or `{n+}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Literal {
    pub len: usize,
    pub synchronizing: bool,
}

/// Splits a line ending in a literal announcement into what precedes it and the literal.
pub fn literal_suffix(line: &[u8]) -> Option<(&[u8], Literal)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let spec = &inner[open + 1..];
    let (digits, synchronizing) = match spec.strip_suffix(b"+") {
        Some(digits) => (digits, false),
        None => (spec, true),
    };
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((&line[..open], Literal { len, synchronizing }))
}

/// Appends the tokens of one line fragment (no literal in it) to `tokens`; `Err` on an
/// unterminated quoted string.
pub fn tokenize(fragment: &[u8], tokens: &mut Vec<Token>) -> Result<(), ()> {
    let mut i = 0;
    while i < fragment.len() {
        match fragment[i] {
            b' ' | b'\t' => i += 1,
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b'"' => {
                let mut text = Vec::new();
                i += 1;
                loop {
                    match fragment.get(i) {
                        None => return Err(()),
                        Some(b'"') => break,
                        Some(b'\\') if i + 1 < fragment.len() => {
                            text.push(fragment[i + 1]);
                            i += 2;
                        }
                        Some(&b) => {
                            text.push(b);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push(Token::Str(text));
            }
            _ => {
                let start = i;
                let mut depth = 0usize;
                while i < fragment.len() {
                    match fragment[i] {
                        b'[' => depth += 1,
                        b']' => depth = depth.saturating_sub(1),
                        b' ' | b'(' | b')' | b'"' if depth == 0 => break,
                        _ => {}
                    }
                    i += 1;
                }
                tokens.push(Token::Atom(fragment[start..i].to_vec()));
            }
        }
    }
    Ok(())
}

/// Whether `value` is in the sequence set `set` (`1,3:5,7:*`), `*` being `largest`;
/// `None` if `set` is not a sequence set.
pub fn set_contains(set: &[u8], value: u32, largest: u32) -> Option<bool> {
    let number = |part: &[u8]| -> Option<u32> {
        if part == b"*" {
            return Some(largest);
        }
        std::str::from_utf8(part).ok()?.parse().ok().filter(|&n| n > 0)
    };
    let mut found = false;
    for range in set.split(|&b| b == b',') {
        let (low, high) = match range.iter().position(|&b| b == b':') {
            Some(colon) => (number(&range[..colon])?, number(&range[colon + 1..])?),
            None => {
                let n = number(range)?;
                (n, n)
            }
        };
        found |= (low.min(high)..=low.max(high)).contains(&value);
    }
    Some(found)
}

/// A string for a response: quoted when it can be, a literal otherwise.
pub fn quote(text: &[u8]) -> Vec<u8> {
    let quotable = text.iter().all(|&b| b.is_ascii() && b != b'\r' && b != b'\n' && b != 0);
    if quotable {
        let mut out = Vec::with_capacity(text.len() + 2);
        out.push(b'"');
        for &b in text {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
        out
    } else {
        literal(text)
    }
}

/// `{n}` CRLF and the bytes.
pub fn literal(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{{{}}}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out
}

/// Whether mailbox `name` matches LIST `pattern` (`*` any text, `%` any text without `/`).
pub fn list_matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| list_matches(rest, &name[skip..])),
        Some((b'%', rest)) => (0..=name.len())
            .take_while(|&skip| skip == 0 || name[skip - 1] != b'/')
            .any(|skip| list_matches(rest, &name[skip..])),
        Some((&c, rest)) => {
            name.first().is_some_and(|&n| n.eq_ignore_ascii_case(&c)) && list_matches(rest, &name[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(line: &[u8]) -> Vec<Token> {
        let mut out = Vec::new();
        tokenize(line, &mut out).unwrap();
        out
    }

    #[test]
    fn commands_tokenize_with_sections_kept_whole() {
        assert_eq!(
            tokens(br#"a1 LOGIN "bob \"b\"" pw"#),
            [
                Token::Atom(b"a1".to_vec()),
                Token::Atom(b"LOGIN".to_vec()),
                Token::Str(b"bob \"b\"".to_vec()),
                Token::Atom(b"pw".to_vec())
            ]
        );
        assert_eq!(
            tokens(b"(UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)"),
            [
                Token::Open,
                Token::Atom(b"UID".to_vec()),
                Token::Atom(b"BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>".to_vec()),
                Token::Close
            ]
        );
        assert!(tokenize(b"a LOGIN \"open", &mut Vec::new()).is_err());
    }

    #[test]
    fn literals_are_found_at_line_ends() {
        assert_eq!(
            literal_suffix(b"a LOGIN {3}"),
            Some((&b"a LOGIN "[..], Literal { len: 3, synchronizing: true }))
        );
        assert_eq!(
            literal_suffix(b"a LOGIN {12+}"),
            Some((&b"a LOGIN "[..], Literal { len: 12, synchronizing: false }))
        );
        assert_eq!(literal_suffix(b"a LOGIN {x}"), None);
        assert_eq!(literal_suffix(b"a NOOP"), None);
    }

    #[test]
    fn sequence_sets() {
        assert_eq!(set_contains(b"1:*", 3, 3), Some(true));
        assert_eq!(set_contains(b"2,4:5", 3, 9), Some(false));
        assert_eq!(set_contains(b"*:2", 3, 3), Some(true));
        assert_eq!(set_contains(b"x", 1, 3), None);
        assert_eq!(set_contains(b"0", 1, 3), None);
    }

    #[test]
    fn strings_are_quoted_or_sent_as_literals() {
        assert_eq!(quote(b"a \"b\""), b"\"a \\\"b\\\"\"");
        assert_eq!(quote(b"x\r\ny"), b"{4}\r\nx\r\ny");
    }

    #[test]
    fn list_patterns() {
        assert!(list_matches(b"*", b"INBOX"));
        assert!(list_matches(b"inbox", b"INBOX"));
        assert!(list_matches(b"S%", b"Sent"));
        assert!(!list_matches(b"%", b"a/b"));
        assert!(list_matches(b"*", b"a/b"));
        assert!(!list_matches(b"Tr", b"Trash"));
    }
}
