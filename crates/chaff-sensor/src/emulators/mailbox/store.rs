//! The bait messages every mailbox holds: an IT password reset, cloud keys and a backup
//! report with database credentials. Their dates, names and secrets derive from the decky's
//! name, so one decky always shows the same mail and different deckies differ.

use std::fmt::Write as _;

use crate::event::civil_from_days;
use crate::persona::decky_rng;

/// Day number (since 1970-01-01) of 2025-01-06, the earliest date a bait message carries.
const FIRST_DAY: i64 = 20_094;

/// One message as stored: its envelope parts and the whole RFC 5322 text (CRLF lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub uid: u32,
    pub from: Address,
    pub to: Address,
    pub subject: String,
    /// RFC 5322 date, `Tue, 14 Jan 2025 09:12:44 +0000`.
    pub date: String,
    /// IMAP INTERNALDATE, `14-Jan-2025 09:12:46 +0000`.
    pub internal_date: String,
    pub message_id: String,
    /// Headers, blank line, body.
    pub raw: String,
    /// Bytes of `raw` up to and including the blank line.
    pub header_len: usize,
    /// Whether the owner has already read it.
    pub seen: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub name: String,
    pub mailbox: String,
    pub host: String,
}

impl Address {
    fn new(name: &str, mailbox: &str, host: &str) -> Address {
        Address { name: name.to_owned(), mailbox: mailbox.to_owned(), host: host.to_owned() }
    }

    fn header(&self) -> String {
        format!("{} <{}@{}>", self.name, self.mailbox, self.host)
    }
}

impl Message {
    pub fn size(&self) -> usize {
        self.raw.len()
    }

    pub fn header(&self) -> &str {
        &self.raw[..self.header_len]
    }

    pub fn body(&self) -> &str {
        &self.raw[self.header_len..]
    }

    pub fn body_lines(&self) -> usize {
        self.body().matches("\r\n").count()
    }
}

/// The messages of `decky`'s mailbox, oldest first, UIDs from 1.
pub fn bait_messages(decky: &str) -> Vec<Message> {
    let mut rng = decky_rng(decky, "mailbox-messages");
    let domain = mail_domain(decky);
    let owner = Address::new("Mail Administrator", "postmaster", &domain);
    let first_day = FIRST_DAY + i64::from(rng.u32(0..300));
    let vpn_password =
        format!("Vpn-{}{:02}!", ["Harbor", "Maple", "Falcon", "Summit"][rng.usize(0..4)], rng.u8(10..99));
    let access_key: String = (0..16).map(|_| ALNUM_UPPER[rng.usize(..ALNUM_UPPER.len())] as char).collect();
    let secret_key: String = (0..40).map(|_| ALNUM[rng.usize(..ALNUM.len())] as char).collect();
    let db_password: String = (0..14).map(|_| ALNUM[rng.usize(..ALNUM.len())] as char).collect();
    let drafts = [
        (
            Address::new("IT Helpdesk", "helpdesk", &domain),
            "Your VPN password has been reset".to_owned(),
            format!(
                "Hello,\r\n\r\nAs requested, your VPN password has been reset. Your temporary password is:\r\n\r\n    {vpn_password}\r\n\r\nConnect to vpn.{domain} and change it within 24 hours.\r\n\r\nRegards,\r\nIT Helpdesk\r\n"
            ),
        ),
        (
            Address::new("DevOps", "devops", &domain),
            "AWS access keys for the backup bucket".to_owned(),
            format!(
                "Hi,\r\n\r\nHere are the keys for the s3 backup bucket, please keep them out of git this time.\r\n\r\naws_access_key_id = AKIA{access_key}\r\naws_secret_access_key = {secret_key}\r\nregion = eu-west-1\r\n\r\nThanks\r\n"
            ),
        ),
        (
            Address::new("backup", "root", &domain),
            format!("Cron <root@{decky}> /usr/local/bin/db-backup.sh"),
            format!(
                "mysqldump: [Warning] Using a password on the command line interface can be insecure.\r\nBackup of database 'production' finished: /var/backups/db/production.sql.gz\r\nCommand: mysqldump -u backup -p'{db_password}' --single-transaction production\r\n"
            ),
        ),
    ];
    drafts
        .into_iter()
        .enumerate()
        .map(|(index, (from, subject, body))| {
            let day = first_day + index as i64 * i64::from(rng.u32(1..9));
            let second_of_day = rng.u32(7 * 3600..19 * 3600);
            let uid = index as u32 + 1;
            let message_id =
                format!("<{:x}.{:x}@{domain}>", day * 86_400 + i64::from(second_of_day), rng.u32(..));
            compose(uid, from, owner.clone(), subject, &body, day, second_of_day, message_id, index == 0)
        })
        .collect()
}

const ALNUM_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The decky's mail domain: its name, with `.local` when it has no dot.
fn mail_domain(decky: &str) -> String {
    if decky.contains('.') {
        decky.to_ascii_lowercase()
    } else {
        format!("{}.local", decky.to_ascii_lowercase())
    }
}

#[allow(clippy::too_many_arguments)]
fn compose(
    uid: u32,
    from: Address,
    to: Address,
    subject: String,
    body: &str,
    day: i64,
    second_of_day: u32,
    message_id: String,
    seen: bool,
) -> Message {
    let date = rfc5322_date(day, second_of_day);
    let internal_date = internal_date(day, second_of_day + 2);
    let mut raw = String::new();
    let _ = write!(
        raw,
        "Return-Path: <{}@{}>\r\nDelivered-To: {}@{}\r\nDate: {date}\r\nFrom: {}\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        from.mailbox,
        from.host,
        to.mailbox,
        to.host,
        from.header(),
        to.header(),
    );
    let header_len = raw.len();
    raw.push_str(body);
    Message { uid, from, to, subject, date, internal_date, message_id, raw, header_len, seen }
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn rfc5322_date(day: i64, second: u32) -> String {
    let (year, month, dom) = civil_from_days(day);
    let weekday = WEEKDAYS[day.rem_euclid(7) as usize];
    let month = MONTHS[month as usize - 1];
    format!(
        "{weekday}, {dom} {month} {year} {:02}:{:02}:{:02} +0000",
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

fn internal_date(day: i64, second: u32) -> String {
    let (year, month, dom) = civil_from_days(day);
    let month = MONTHS[month as usize - 1];
    format!("{dom:02}-{month}-{year} {:02}:{:02}:{:02} +0000", second / 3600, second / 60 % 60, second % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_stable_per_decky_and_differ_between_deckies() {
        let one = bait_messages("mail-01");
        assert_eq!(one, bait_messages("mail-01"));
        assert_ne!(one[1].raw, bait_messages("mail-02")[1].raw);
        assert_eq!(one.len(), 3);
        for (i, message) in one.iter().enumerate() {
            assert_eq!(message.uid, i as u32 + 1);
            assert!(message.header().ends_with("\r\n\r\n"));
            assert!(message.raw.contains("To: Mail Administrator <postmaster@mail-01.local>"));
            assert!(!message.raw.contains("\n.\r\n"), "no line may look like POP3's terminator");
        }
        assert!(one[0].date < one[2].date || one[0].internal_date != one[2].internal_date);
    }

    #[test]
    fn dates_are_formatted_as_mail_and_imap_want() {
        // 2025-01-14 was a Tuesday.
        assert_eq!(rfc5322_date(20_102, 9 * 3600 + 12 * 60 + 44), "Tue, 14 Jan 2025 09:12:44 +0000");
        assert_eq!(internal_date(20_102, 9 * 3600 + 12 * 60 + 46), "14-Jan-2025 09:12:46 +0000");
    }
}
