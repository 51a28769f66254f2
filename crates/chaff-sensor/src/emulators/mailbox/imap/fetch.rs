//! FETCH: which data items a client asked for, and their values for one message.

use super::syntax::{Token, literal, quote};
use crate::emulators::mailbox::store::{Address, Message};

/// Message flags as bits, in the order Dovecot lists them.
pub const FLAG_NAMES: [(&str, u8); 5] =
    [("\\Answered", 1), ("\\Flagged", 2), ("\\Deleted", 4), ("\\Seen", 8), ("\\Draft", 16)];
pub const SEEN: u8 = 8;
pub const DELETED: u8 = 4;

/// `(\Seen \Deleted)` for a flag set.
pub fn flag_list(flags: u8) -> String {
    let names: Vec<&str> =
        FLAG_NAMES.iter().filter(|(_, bit)| flags & bit != 0).map(|(name, _)| *name).collect();
    format!("({})", names.join(" "))
}

/// The bit of a flag name, if it is a system flag.
pub fn flag_bit(name: &[u8]) -> Option<u8> {
    FLAG_NAMES.iter().find(|(flag, _)| flag.as_bytes().eq_ignore_ascii_case(name)).map(|(_, bit)| *bit)
}

/// One requested data item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Flags,
    Uid,
    InternalDate,
    Size,
    Envelope,
    /// BODYSTRUCTURE (extensible) or BODY (not).
    Structure {
        extensible: bool,
    },
    /// RFC822, RFC822.HEADER, RFC822.TEXT: the name in the reply and the section.
    Rfc822 {
        name: &'static str,
        section: &'static str,
    },
    /// BODY[section]<partial> or BODY.PEEK[...].
    Section {
        section: String,
        peek: bool,
        partial: Option<(usize, usize)>,
    },
}

impl Item {
    /// Whether fetching this item marks the message read.
    pub fn sets_seen(&self) -> bool {
        match self {
            Item::Rfc822 { name, .. } => *name != "RFC822.HEADER",
            Item::Section { peek, .. } => !peek,
            _ => false,
        }
    }
}

/// The items of a FETCH's argument: one atom (a macro or item) or a parenthesised list.
pub fn parse_items(tokens: &[Token]) -> Option<Vec<Item>> {
    let atoms: Vec<&Token> = match tokens {
        [Token::Open, inner @ .., Token::Close] => inner.iter().collect(),
        [single] => vec![single],
        _ => return None,
    };
    let mut items = Vec::new();
    for atom in atoms {
        let Token::Atom(bytes) = atom else { return None };
        let name = String::from_utf8_lossy(bytes).to_ascii_uppercase();
        match name.as_str() {
            "ALL" => items.extend([Item::Flags, Item::InternalDate, Item::Size, Item::Envelope]),
            "FAST" => items.extend([Item::Flags, Item::InternalDate, Item::Size]),
            "FULL" => items.extend([
                Item::Flags,
                Item::InternalDate,
                Item::Size,
                Item::Envelope,
                Item::Structure { extensible: false },
            ]),
            _ => items.push(parse_item(&name)?),
        }
    }
    (!items.is_empty()).then_some(items)
}

fn parse_item(name: &str) -> Option<Item> {
    Some(match name {
        "FLAGS" => Item::Flags,
        "UID" => Item::Uid,
        "INTERNALDATE" => Item::InternalDate,
        "RFC822.SIZE" => Item::Size,
        "ENVELOPE" => Item::Envelope,
        "BODYSTRUCTURE" => Item::Structure { extensible: true },
        "BODY" => Item::Structure { extensible: false },
        "RFC822" => Item::Rfc822 { name: "RFC822", section: "" },
        "RFC822.HEADER" => Item::Rfc822 { name: "RFC822.HEADER", section: "HEADER" },
        "RFC822.TEXT" => Item::Rfc822 { name: "RFC822.TEXT", section: "TEXT" },
        _ => {
            let (peek, rest) = match name.strip_prefix("BODY.PEEK[") {
                Some(rest) => (true, rest),
                None => (false, name.strip_prefix("BODY[")?),
            };
            let close = rest.rfind(']')?;
            let section = rest[..close].to_owned();
            let partial = match &rest[close + 1..] {
                "" => None,
                spec => {
                    let (origin, count) = spec.strip_prefix('<')?.strip_suffix('>')?.split_once('.')?;
                    Some((origin.parse().ok()?, count.parse().ok()?))
                }
            };
            Item::Section { section, peek, partial }
        }
    })
}

/// The value of `item` for `message` (numbered `uid`, with `flags`), as `NAME value`.
pub fn render(item: &Item, message: &Message, flags: u8) -> Vec<u8> {
    match item {
        Item::Flags => format!("FLAGS {}", flag_list(flags)).into_bytes(),
        Item::Uid => format!("UID {}", message.uid).into_bytes(),
        Item::InternalDate => format!("INTERNALDATE \"{}\"", message.internal_date).into_bytes(),
        Item::Size => format!("RFC822.SIZE {}", message.size()).into_bytes(),
        Item::Envelope => [b"ENVELOPE ".as_slice(), &envelope(message)].concat(),
        Item::Structure { extensible } => {
            let name = if *extensible { "BODYSTRUCTURE" } else { "BODY" };
            let extension = if *extensible { " NIL NIL NIL NIL" } else { "" };
            format!(
                "{name} (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" {} {}{extension})",
                message.body().len(),
                message.body_lines()
            )
            .into_bytes()
        }
        Item::Rfc822 { name, section } => {
            [format!("{name} ").as_bytes(), &literal(section_text(message, section).as_bytes())].concat()
        }
        Item::Section { section, partial, .. } => {
            let text = section_text(message, section);
            let bytes = text.as_bytes();
            let (label, slice) = match partial {
                None => (format!("BODY[{section}] "), bytes),
                Some((origin, count)) => {
                    let start = (*origin).min(bytes.len());
                    let end = start.saturating_add(*count).min(bytes.len());
                    (format!("BODY[{section}]<{origin}> "), &bytes[start..end])
                }
            };
            [label.as_bytes(), &literal(slice)].concat()
        }
    }
}

/// The text of a body section of a single-part message.
fn section_text(message: &Message, section: &str) -> String {
    let upper = section.to_ascii_uppercase();
    match upper.as_str() {
        "" => message.raw.clone(),
        "HEADER" => message.header().to_owned(),
        "TEXT" | "1" => message.body().to_owned(),
        "1.MIME" | "MIME" => {
            filter_header(message.header(), &["CONTENT-TYPE", "CONTENT-TRANSFER-ENCODING"], true)
        }
        _ => {
            let (not, list) = match upper.strip_prefix("HEADER.FIELDS.NOT") {
                Some(list) => (true, list),
                None => match upper.strip_prefix("HEADER.FIELDS") {
                    Some(list) => (false, list),
                    None => return String::new(),
                },
            };
            let names: Vec<&str> =
                list.trim().trim_start_matches('(').trim_end_matches(')').split_whitespace().collect();
            filter_header(message.header(), &names, !not)
        }
    }
}

/// The header lines whose names are (`keep`) or are not in `names`, and the blank line.
fn filter_header(header: &str, names: &[&str], keep: bool) -> String {
    let mut out = String::new();
    for line in header.split_inclusive("\r\n").filter(|line| *line != "\r\n") {
        let name = line.split(':').next().unwrap_or_default().to_ascii_uppercase();
        if names.iter().any(|wanted| wanted.trim_matches('"') == name) == keep {
            out.push_str(line);
        }
    }
    out.push_str("\r\n");
    out
}

fn envelope(message: &Message) -> Vec<u8> {
    let from = address_list(&message.from);
    let mut out = b"(".to_vec();
    for part in [
        quote(message.date.as_bytes()),
        quote(message.subject.as_bytes()),
        from.clone(),
        from.clone(),
        from,
        address_list(&message.to),
        b"NIL".to_vec(),
        b"NIL".to_vec(),
        b"NIL".to_vec(),
        quote(message.message_id.as_bytes()),
    ] {
        if out.len() > 1 {
            out.push(b' ');
        }
        out.extend_from_slice(&part);
    }
    out.push(b')');
    out
}

fn address_list(address: &Address) -> Vec<u8> {
    [
        b"((".as_slice(),
        &quote(address.name.as_bytes()),
        b" NIL ",
        &quote(address.mailbox.as_bytes()),
        b" ",
        &quote(address.host.as_bytes()),
        b"))",
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulators::mailbox::store::bait_messages;

    fn tokens(text: &[u8]) -> Vec<Token> {
        let mut out = Vec::new();
        super::super::syntax::tokenize(text, &mut out).unwrap();
        out
    }

    #[test]
    fn items_and_macros_parse() {
        assert_eq!(parse_items(&tokens(b"FAST")).unwrap(), [Item::Flags, Item::InternalDate, Item::Size]);
        assert_eq!(
            parse_items(&tokens(b"(UID BODY.PEEK[HEADER]<0.10>)")).unwrap(),
            [Item::Uid, Item::Section { section: "HEADER".to_owned(), peek: true, partial: Some((0, 10)) }]
        );
        assert_eq!(parse_items(&tokens(b"(NONSENSE)")), None);
        assert_eq!(parse_items(&tokens(b"BODY[")), None);
    }

    #[test]
    fn sections_render_as_literals() {
        let message = &bait_messages("mail-01")[0];
        let whole = render(&parse_item("BODY[]").unwrap(), message, 0);
        assert!(whole.starts_with(format!("BODY[] {{{}}}\r\nReturn-Path:", message.size()).as_bytes()));
        let fields = render(&parse_item("BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]").unwrap(), message, 0);
        let fields = String::from_utf8(fields).unwrap();
        assert!(fields.contains("From: IT Helpdesk"), "{fields}");
        assert!(fields.contains("Subject: Your VPN password"), "{fields}");
        assert!(!fields.contains("To:"), "{fields}");
        assert_eq!(render(&Item::Flags, message, SEEN | DELETED), b"FLAGS (\\Deleted \\Seen)");
        let envelope = String::from_utf8(render(&Item::Envelope, message, 0)).unwrap();
        assert!(envelope.contains("((\"IT Helpdesk\" NIL \"helpdesk\" \"mail-01.local\"))"), "{envelope}");
    }
}
