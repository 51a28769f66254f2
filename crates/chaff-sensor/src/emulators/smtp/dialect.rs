//! What the mail server says: Postfix, Exim or Sendmail as the decky's distribution packages
//! them, each with its own greeting, EHLO capabilities, reply wording and queue ids.

use std::net::IpAddr;

use crate::event::civil_from_days;

/// The mail server a decky imitates (`SMTP_MTA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mta {
    Postfix,
    Exim,
    Sendmail,
}

impl Mta {
    pub const NAMES: [&'static str; 3] = ["postfix", "exim", "sendmail"];

    pub fn parse(name: &str) -> Option<Mta> {
        match name.to_ascii_lowercase().as_str() {
            "postfix" => Some(Mta::Postfix),
            "exim" => Some(Mta::Exim),
            "sendmail" => Some(Mta::Sendmail),
            _ => None,
        }
    }
}

/// What each distribution (`SMTP_DISTRO`) ships: Postfix's banner tag, Exim's and
/// Sendmail's versions.
struct Packaging {
    distro: &'static str,
    postfix_tag: Option<&'static str>,
    exim: &'static str,
    sendmail: &'static str,
}

const PACKAGING: &[Packaging] = &[
    Packaging { distro: "debian", postfix_tag: Some("Debian/GNU"), exim: "4.96", sendmail: "8.17.1.9" },
    Packaging { distro: "ubuntu22", postfix_tag: Some("Ubuntu"), exim: "4.95 Ubuntu", sendmail: "8.15.2" },
    Packaging { distro: "ubuntu20", postfix_tag: Some("Ubuntu"), exim: "4.93 Ubuntu", sendmail: "8.15.2" },
    Packaging { distro: "kali", postfix_tag: Some("Debian/GNU"), exim: "4.97", sendmail: "8.18.1" },
    Packaging { distro: "rocky9", postfix_tag: None, exim: "4.98", sendmail: "8.16.1" },
    Packaging { distro: "centos7", postfix_tag: None, exim: "4.92.3", sendmail: "8.14.7" },
    Packaging { distro: "fedora", postfix_tag: None, exim: "4.97", sendmail: "8.18.1" },
    Packaging { distro: "alpine", postfix_tag: None, exim: "4.97", sendmail: "8.18.1" },
    Packaging { distro: "arch", postfix_tag: None, exim: "4.97", sendmail: "8.18.1" },
];

/// The distribution slugs `SMTP_DISTRO` accepts.
pub fn known_distros() -> impl Iterator<Item = &'static str> {
    PACKAGING.iter().map(|p| p.distro)
}

/// The largest message accepted, in bytes (10 MiB); `SIZE` advertises it (Postfix
/// advertises its own default, which is a little smaller).
pub const MAX_MESSAGE: usize = 10 * 1024 * 1024;
/// Postfix's `message_size_limit` default.
const POSTFIX_SIZE_LIMIT: usize = 10_240_000;

/// One decky's mail server: which MTA, its version and host name, and a configured greeting.
#[derive(Clone, Debug)]
pub struct Dialect {
    pub mta: Mta,
    postfix_tag: Option<&'static str>,
    version: &'static str,
    pub hostname: String,
    /// `SMTP_BANNER`, a whole greeting line.
    banner: Option<String>,
}

impl Dialect {
    /// The dialect of `mta` on `distro`, `None` for an unknown distribution.
    pub fn new(mta: Mta, distro: &str, hostname: String, banner: Option<String>) -> Option<Dialect> {
        let packaging = PACKAGING.iter().find(|p| p.distro == distro)?;
        let version = match mta {
            Mta::Postfix => "",
            Mta::Exim => packaging.exim,
            Mta::Sendmail => packaging.sendmail,
        };
        Some(Dialect { mta, postfix_tag: packaging.postfix_tag, version, hostname, banner })
    }

    /// The largest message size this server admits to (the `SIZE` capability and limit).
    pub fn size_limit(&self) -> usize {
        match self.mta {
            Mta::Postfix => POSTFIX_SIZE_LIMIT,
            Mta::Exim | Mta::Sendmail => MAX_MESSAGE,
        }
    }

    /// The text of `reply`, without the final CRLF; `now` (Unix seconds) dates greetings.
    pub fn reply(&self, reply: Reply<'_>, now: u64) -> String {
        match self.mta {
            Mta::Postfix => self.postfix(reply),
            Mta::Exim => self.exim(reply, now),
            Mta::Sendmail => self.sendmail(reply, now),
        }
    }

    fn postfix(&self, reply: Reply<'_>) -> String {
        let host = &self.hostname;
        match reply {
            Reply::Greeting => self.banner.clone().unwrap_or_else(|| match self.postfix_tag {
                Some(tag) => format!("220 {host} ESMTP Postfix ({tag})"),
                None => format!("220 {host} ESMTP Postfix"),
            }),
            Reply::Ehlo { .. } => format!(
                "250-{host}\r\n250-PIPELINING\r\n250-SIZE {}\r\n250-VRFY\r\n250-AUTH PLAIN LOGIN\r\n\
                 250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8",
                self.size_limit()
            ),
            Reply::Helo { .. } => format!("250 {host}"),
            Reply::HeloSyntax { verb } => format!("501 Syntax: {verb} hostname"),
            Reply::MailOk { .. } => "250 2.1.0 Ok".into(),
            Reply::MailSyntax => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
            Reply::NestedMail => "503 5.5.1 Error: nested MAIL command".into(),
            Reply::RcptOk { .. } => "250 2.1.5 Ok".into(),
            Reply::RelayDenied { rcpt } => format!("554 5.7.1 <{rcpt}>: Relay access denied"),
            Reply::RcptSyntax => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
            Reply::NeedMail => "503 5.5.1 Error: need MAIL command".into(),
            Reply::TooManyRecipients => "452 4.5.3 Error: too many recipients".into(),
            Reply::NoRecipients => "554 5.5.1 Error: no valid recipients".into(),
            Reply::DataStart => "354 End data with <CR><LF>.<CR><LF>".into(),
            Reply::Queued { id } => format!("250 2.0.0 Ok: queued as {id}"),
            Reply::MessageTooBig => "552 5.3.4 Message size exceeds fixed limit".into(),
            Reply::NoStorage => "452 4.3.1 Insufficient system storage".into(),
            Reply::Reset | Reply::Noop => "250 2.0.0 Ok".into(),
            Reply::Vrfy { arg } => format!("252 2.0.0 {arg}"),
            Reply::VrfySyntax => "501 5.5.4 Syntax: VRFY address".into(),
            Reply::Expn | Reply::Help | Reply::Unknown { .. } => {
                "502 5.5.2 Error: command not recognized".into()
            }
            Reply::StartTls => "454 4.7.0 TLS not available due to local problem".into(),
            Reply::AuthChallenge(text) => format!("334 {text}"),
            Reply::AuthOk => "235 2.7.0 Authentication successful".into(),
            Reply::AuthFailed => "535 5.7.8 Error: authentication failed: authentication failure".into(),
            Reply::AuthAborted => "501 5.7.0 Authentication aborted".into(),
            Reply::AuthBadMechanism => {
                "535 5.7.8 Error: authentication failed: Invalid authentication mechanism".into()
            }
            Reply::AuthBadBase64 => "501 5.5.2 Error: invalid base64 data in initial response".into(),
            Reply::AuthAlready => "503 5.5.1 Error: already authenticated".into(),
            Reply::AuthInTransaction => "503 5.5.1 Error: MAIL transaction in progress".into(),
            Reply::AuthSyntax => "501 5.5.4 Syntax: AUTH mechanism".into(),
            Reply::AuthNeedsEhlo => "503 5.5.1 Error: send HELO/EHLO first".into(),
            Reply::Quit => "221 2.0.0 Bye".into(),
            Reply::TooManyErrors => format!("421 4.7.0 {host} Error: too many errors"),
            Reply::IdleTimeout => format!("421 4.4.2 {host} Error: timeout exceeded"),
            Reply::LineTooLong => "500 5.5.2 Error: line too long".into(),
        }
    }

    fn exim(&self, reply: Reply<'_>, now: u64) -> String {
        let host = &self.hostname;
        match reply {
            Reply::Greeting => self.banner.clone().unwrap_or_else(|| {
                format!("220 {host} ESMTP Exim {} {}", self.version, rfc5322_date(now, DayPadding::Zero))
            }),
            Reply::Ehlo { helo, ip } => format!(
                "250-{host} Hello {helo} [{}]\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-PIPELINING\r\n\
                 250-AUTH PLAIN LOGIN\r\n250-PRDR\r\n250 HELP",
                ip.to_canonical(),
                self.size_limit()
            ),
            Reply::Helo { helo, ip } => format!("250 {host} Hello {helo} [{}]", ip.to_canonical()),
            Reply::HeloSyntax { .. } => "501 Syntactically invalid EHLO argument(s)".into(),
            Reply::MailOk { .. } | Reply::Noop => "250 OK".into(),
            Reply::MailSyntax => "501 MAIL must have an address operand".into(),
            Reply::NestedMail => "503 sender already given".into(),
            Reply::RcptOk { .. } => "250 Accepted".into(),
            Reply::RelayDenied { .. } => "550 relay not permitted".into(),
            Reply::RcptSyntax => "501 RCPT must have an address operand".into(),
            Reply::NeedMail => "503 sender not yet given".into(),
            Reply::TooManyRecipients => "452 too many recipients".into(),
            Reply::NoRecipients => "503 valid RCPT command must precede DATA".into(),
            Reply::DataStart => "354 Enter message, ending with \".\" on a line by itself".into(),
            Reply::Queued { id } => format!("250 OK id={id}"),
            Reply::MessageTooBig => "552 Message size exceeds maximum permitted".into(),
            Reply::NoStorage => "452 Space shortage, please try later".into(),
            Reply::Reset => "250 Reset OK".into(),
            Reply::Vrfy { .. } | Reply::Expn => "550 Administrative prohibition".into(),
            Reply::VrfySyntax => "501 VRFY must have an address argument".into(),
            Reply::Help => {
                "214-Commands supported:\r\n214 AUTH HELO EHLO MAIL RCPT DATA NOOP QUIT RSET HELP".into()
            }
            Reply::Unknown { .. } => "500 unrecognized command".into(),
            Reply::StartTls => "454 TLS currently unavailable".into(),
            Reply::AuthChallenge(text) => format!("334 {text}"),
            Reply::AuthOk => "235 Authentication succeeded".into(),
            Reply::AuthFailed => "535 Incorrect authentication data".into(),
            Reply::AuthAborted => "501 Authentication cancelled".into(),
            Reply::AuthBadMechanism => "504 Unsupported authentication mechanism".into(),
            Reply::AuthBadBase64 => "501 Invalid base64 data".into(),
            Reply::AuthAlready => "503 already authenticated".into(),
            Reply::AuthInTransaction => "503 AUTH not permitted during a mail transaction".into(),
            Reply::AuthSyntax => "501 AUTH must be followed by a mechanism name".into(),
            Reply::AuthNeedsEhlo => "503 AUTH command used when not advertised".into(),
            Reply::Quit => format!("221 {host} closing connection"),
            Reply::TooManyErrors => format!("421 {host} too many errors, closing connection"),
            Reply::IdleTimeout => format!("421 {host} SMTP incoming data timeout - closing connection."),
            Reply::LineTooLong => "500 Command line too long".into(),
        }
    }

    fn sendmail(&self, reply: Reply<'_>, now: u64) -> String {
        let (host, version) = (&self.hostname, self.version);
        match reply {
            Reply::Greeting => self.banner.clone().unwrap_or_else(|| {
                format!(
                    "220 {host} ESMTP Sendmail {version}/{version}; {}",
                    rfc5322_date(now, DayPadding::None)
                )
            }),
            Reply::Ehlo { ip, .. } => format!(
                "250-{host} Hello [{}], pleased to meet you\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n\
                 250-EXPN\r\n250-VERB\r\n250-8BITMIME\r\n250-SIZE {}\r\n250-DSN\r\n250-AUTH LOGIN PLAIN\r\n\
                 250-DELIVERBY\r\n250 HELP",
                ip.to_canonical(),
                self.size_limit()
            ),
            Reply::Helo { ip, .. } => {
                format!("250 {host} Hello [{}], pleased to meet you", ip.to_canonical())
            }
            Reply::HeloSyntax { verb } => format!("501 5.0.0 {verb} requires domain address"),
            Reply::MailOk { from } => format!("250 2.1.0 <{from}>... Sender ok"),
            Reply::MailSyntax => "501 5.5.2 Syntax error in parameters scanning \"from\"".into(),
            Reply::NestedMail => "503 5.5.0 Sender already specified".into(),
            Reply::RcptOk { rcpt } => format!("250 2.1.5 <{rcpt}>... Recipient ok"),
            Reply::RelayDenied { rcpt } => format!("550 5.7.1 <{rcpt}>... Relaying denied"),
            Reply::RcptSyntax => "501 5.5.2 Syntax error in parameters scanning \"to\"".into(),
            Reply::NeedMail => "503 5.0.0 Need MAIL before RCPT".into(),
            Reply::TooManyRecipients => "452 4.5.3 Too many recipients".into(),
            Reply::NoRecipients => "503 5.0.0 Need RCPT (recipient)".into(),
            Reply::DataStart => "354 Enter mail, end with \".\" on a line by itself".into(),
            Reply::Queued { id } => format!("250 2.0.0 {id} Message accepted for delivery"),
            Reply::MessageTooBig => format!("552 5.2.3 Message exceeds maximum fixed size ({MAX_MESSAGE})"),
            Reply::NoStorage => "452 4.4.5 Insufficient disk space; try again later".into(),
            Reply::Reset => "250 2.0.0 Reset state".into(),
            Reply::Noop => "250 2.0.0 OK".into(),
            Reply::Vrfy { .. } => {
                "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)".into()
            }
            Reply::VrfySyntax => "501 5.5.2 Argument required".into(),
            Reply::Expn => "502 5.7.0 Sorry, we do not allow this operation".into(),
            Reply::Help => format!(
                "214-2.0.0 This is sendmail version {version}\r\n214-2.0.0 Topics:\r\n\
                 214-2.0.0 \tHELO\tEHLO\tMAIL\tRCPT\tDATA\r\n214-2.0.0 \tRSET\tNOOP\tQUIT\tHELP\tVRFY\r\n\
                 214-2.0.0 \tEXPN\tVERB\tETRN\tDSN\tAUTH\r\n214-2.0.0 \tSTARTTLS\r\n\
                 214-2.0.0 For more info use \"HELP <topic>\".\r\n\
                 214-2.0.0 To report bugs in the implementation see\r\n\
                 214-2.0.0 \thttp://www.sendmail.org/email-addresses.html\r\n\
                 214-2.0.0 For local information send email to Postmaster at your site.\r\n\
                 214 2.0.0 End of HELP info"
            ),
            Reply::Unknown { line } => format!("500 5.5.1 Command unrecognized: \"{line}\""),
            Reply::StartTls => "454 4.7.0 TLS not available".into(),
            Reply::AuthChallenge(text) => format!("334 {text}"),
            Reply::AuthOk => "235 2.0.0 OK Authenticated".into(),
            Reply::AuthFailed => "535 5.7.0 authentication failed".into(),
            Reply::AuthAborted => "501 5.0.0 AUTH aborted".into(),
            Reply::AuthBadMechanism => "504 5.3.3 AUTH mechanism not available".into(),
            Reply::AuthBadBase64 => "501 5.5.4 cannot BASE64 decode".into(),
            Reply::AuthAlready => "503 5.5.0 Already Authenticated".into(),
            Reply::AuthInTransaction => "503 5.5.0 AUTH not permitted during a mail transaction".into(),
            Reply::AuthSyntax => "501 5.5.2 AUTH mechanism must be specified".into(),
            Reply::AuthNeedsEhlo => "503 5.3.3 AUTH not available".into(),
            Reply::Quit => format!("221 2.0.0 {host} closing connection"),
            Reply::TooManyErrors => format!("421 4.7.0 {host} Too many bad commands; closing connection"),
            Reply::IdleTimeout => format!("421 4.4.2 {host} timeout waiting for input"),
            Reply::LineTooLong => "500 5.5.0 Command line too long".into(),
        }
    }

    /// A fresh queue id in this MTA's format (Postfix `4F2A91C0B7`, Exim
    /// `1tAbCd-000F2x-9Q`, Sendmail `4AB1Cd2E012345`).
    pub fn queue_id(&self) -> String {
        const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let pick = |alphabet: &[u8], n: usize| -> String {
            (0..n).map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())])).collect()
        };
        match self.mta {
            Mta::Postfix => pick(b"0123456789ABCDEF", 10),
            Mta::Exim => format!("1{}-{}-{}", pick(BASE62, 5), pick(BASE62, 6), pick(BASE62, 2)),
            Mta::Sendmail => format!("{}{}", pick(&BASE62[..60], 8), pick(b"0123456789", 6)),
        }
    }
}

/// Every reply the emulator sends, with what varies in it. Text taken from the client is
/// passed already made safe for a reply line.
#[derive(Clone, Copy, Debug)]
pub enum Reply<'a> {
    Greeting,
    Ehlo {
        helo: &'a str,
        ip: IpAddr,
    },
    Helo {
        helo: &'a str,
        ip: IpAddr,
    },
    HeloSyntax {
        verb: &'a str,
    },
    MailOk {
        from: &'a str,
    },
    MailSyntax,
    NestedMail,
    RcptOk {
        rcpt: &'a str,
    },
    RelayDenied {
        rcpt: &'a str,
    },
    RcptSyntax,
    NeedMail,
    TooManyRecipients,
    NoRecipients,
    DataStart,
    Queued {
        id: &'a str,
    },
    MessageTooBig,
    /// The sensor's memory budget for messages in flight is spent.
    NoStorage,
    Reset,
    Noop,
    Vrfy {
        arg: &'a str,
    },
    VrfySyntax,
    Expn,
    Help,
    Unknown {
        line: &'a str,
    },
    StartTls,
    AuthChallenge(&'a str),
    AuthOk,
    AuthFailed,
    AuthAborted,
    AuthBadMechanism,
    AuthBadBase64,
    AuthAlready,
    AuthInTransaction,
    AuthSyntax,
    AuthNeedsEhlo,
    Quit,
    TooManyErrors,
    IdleTimeout,
    LineTooLong,
}

#[derive(Clone, Copy)]
enum DayPadding {
    Zero,
    None,
}

/// An RFC 5322 date in UTC: `Sat, 01 Jun 2024 12:34:56 +0000` (Exim) or
/// `Sat, 1 Jun 2024 12:34:56 +0000` (Sendmail).
fn rfc5322_date(secs: u64, padding: DayPadding) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let rem = secs % 86_400;
    let day = match padding {
        DayPadding::Zero => format!("{day:02}"),
        DayPadding::None => day.to_string(),
    };
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-06-01T12:34:56Z, a Saturday.
    const NOW: u64 = 1_717_245_296;

    fn dialect(mta: Mta, distro: &str) -> Dialect {
        Dialect::new(mta, distro, "mail01".into(), None).unwrap()
    }

    #[test]
    fn greetings_per_mta_and_distribution() {
        let greet = |mta, distro| dialect(mta, distro).reply(Reply::Greeting, NOW);
        assert_eq!(greet(Mta::Postfix, "debian"), "220 mail01 ESMTP Postfix (Debian/GNU)");
        assert_eq!(greet(Mta::Postfix, "ubuntu22"), "220 mail01 ESMTP Postfix (Ubuntu)");
        assert_eq!(greet(Mta::Postfix, "rocky9"), "220 mail01 ESMTP Postfix");
        assert_eq!(greet(Mta::Exim, "debian"), "220 mail01 ESMTP Exim 4.96 Sat, 01 Jun 2024 12:34:56 +0000");
        assert_eq!(
            greet(Mta::Sendmail, "centos7"),
            "220 mail01 ESMTP Sendmail 8.14.7/8.14.7; Sat, 1 Jun 2024 12:34:56 +0000"
        );
        let custom = Dialect::new(Mta::Exim, "debian", "mx".into(), Some("220 mx ESMTP".into())).unwrap();
        assert_eq!(custom.reply(Reply::Greeting, NOW), "220 mx ESMTP");
        assert!(Dialect::new(Mta::Postfix, "gentoo", "x".into(), None).is_none());
    }

    #[test]
    fn dates_have_the_right_weekday() {
        assert_eq!(rfc5322_date(0, DayPadding::Zero), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400, DayPadding::None), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn every_ehlo_advertises_auth_and_ends_properly() {
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for mta in [Mta::Postfix, Mta::Exim, Mta::Sendmail] {
            let text = dialect(mta, "debian").reply(Reply::Ehlo { helo: "client", ip }, NOW);
            let lines: Vec<&str> = text.split("\r\n").collect();
            assert!(lines.iter().any(|l| l.starts_with("250-AUTH ") && l.contains("PLAIN")), "{text}");
            assert!(lines[..lines.len() - 1].iter().all(|l| l.starts_with("250-")), "{text}");
            assert!(lines.last().unwrap().starts_with("250 "), "{text}");
            assert!(!text.contains("STARTTLS"), "{text}");
        }
    }

    #[test]
    fn queue_ids_look_like_each_mta() {
        let postfix = dialect(Mta::Postfix, "debian").queue_id();
        assert!(
            postfix.len() == 10 && postfix.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
        let exim = dialect(Mta::Exim, "debian").queue_id();
        assert_eq!(exim.split('-').map(str::len).collect::<Vec<_>>(), [6, 6, 2], "{exim}");
        let sendmail = dialect(Mta::Sendmail, "debian").queue_id();
        assert!(sendmail.len() == 14 && sendmail[8..].bytes().all(|b| b.is_ascii_digit()), "{sendmail}");
    }

    #[test]
    fn mta_names_parse() {
        assert_eq!(Mta::parse("Exim"), Some(Mta::Exim));
        assert_eq!(Mta::parse("qmail"), None);
        assert!(Mta::NAMES.iter().all(|n| Mta::parse(n).is_some()));
    }
}
