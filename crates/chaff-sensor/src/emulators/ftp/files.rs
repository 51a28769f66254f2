//! The FTP site a decky shows: a small fixed tree whose sizes and dates vary per decky, path
//! resolution confined to it, and the listing formats of `LIST`, `NLST`, `MLSD` and `MDTM`.
//!
//! Readable files are short texts served as they are; the tempting ones (a database dump,
//! a credentials file, the backup directory) belong to root with mode 0600/0700, so a
//! download fails exactly as on a real server with those permissions.

use std::fmt::Write as _;

use crate::event::civil_from_days;

use super::persona::Server;

/// Who owns an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Root,
    /// The FTP account uploads and public files belong to.
    Ftp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    Directory,
    /// A file served as these bytes.
    Text(&'static str),
    /// A file nobody but root may read: only its size is known.
    Private(u64),
}

/// One file or directory of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Absolute, normalised: `/pub/README.txt`.
    pub path: String,
    pub mode: &'static str,
    pub owner: Owner,
    /// Seconds since the Unix epoch.
    pub mtime: u64,
    pub body: Body,
}

impl Entry {
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }

    pub fn is_dir(&self) -> bool {
        self.body == Body::Directory
    }

    /// Whether the logged-in (non-root) user may read it.
    pub fn readable(&self) -> bool {
        self.mode.as_bytes().get(7) == Some(&b'r')
    }

    pub fn size(&self) -> u64 {
        match self.body {
            Body::Directory => 4096,
            Body::Text(text) => text.len() as u64,
            Body::Private(size) => size,
        }
    }
}

const README: &str = "This site holds files for internal distribution.\r\n\
    Uploads go to /upload and are reviewed before they are published.\r\n\
    Ask the system administrators for access to the other areas.\r\n";

const CHANGELOG: &str = "2024-03-18  Moved nightly database dumps to /backup (root only).\r\n\
    2024-01-09  Anonymous uploads enabled in /upload.\r\n\
    2023-11-27  Site migrated to the new file server.\r\n";

/// The tree: (path, mode, owner, body); private files' sizes grow by up to a quarter per decky.
const LAYOUT: &[(&str, &str, Owner, Body)] = &[
    ("/", "drwxr-xr-x", Owner::Root, Body::Directory),
    ("/backup", "drwx------", Owner::Root, Body::Directory),
    ("/credentials.txt", "-rw-------", Owner::Root, Body::Private(1_337)),
    ("/db_backup.sql.gz", "-rw-------", Owner::Root, Body::Private(48_213_504)),
    ("/pub", "drwxr-xr-x", Owner::Root, Body::Directory),
    ("/pub/CHANGELOG.txt", "-rw-r--r--", Owner::Root, Body::Text(CHANGELOG)),
    ("/pub/README.txt", "-rw-r--r--", Owner::Root, Body::Text(README)),
    ("/upload", "drwxrwxrwx", Owner::Ftp, Body::Directory),
];

/// 2023-06-01T00:00:00Z: the oldest date in the tree.
const TREE_EPOCH: u64 = 1_685_577_600;
/// Dates spread over this many seconds (about 300 days) after [`TREE_EPOCH`].
const TREE_SPAN: u64 = 300 * 86_400;

/// The most files a session may add by uploading (beyond it, uploads are still accepted
/// but no longer listed).
pub const MAX_UPLOADS_LISTED: usize = 64;

/// A decky's tree, plus what this session uploaded.
#[derive(Clone, Debug)]
pub struct Tree {
    entries: Vec<Entry>,
    /// The FTP account's uid as vsftpd shows it (it lists numeric ids).
    ftp_uid: u32,
}

impl Tree {
    /// The tree as decky `seed` shows it: dates and private sizes differ between deckies.
    pub fn new(seed: u64) -> Tree {
        let mut mix = seed;
        let mut next = || {
            mix = mix.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            mix >> 33
        };
        let entries = LAYOUT
            .iter()
            .map(|(path, mode, owner, body)| {
                let mtime = TREE_EPOCH + next() % TREE_SPAN;
                let body = match body {
                    Body::Private(size) => Body::Private(size + next() % (size / 4 + 1)),
                    other => *other,
                };
                Entry { path: (*path).to_owned(), mode, owner: *owner, mtime, body }
            })
            .collect();
        Tree { entries, ftp_uid: 100 + (seed % 40) as u32 }
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// The entries directly inside directory `dir`, by name.
    pub fn children<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.path != "/" && parent(&e.path) == dir)
    }

    /// Adds (or replaces) an uploaded file in this session's view, if the upload directory
    /// exists and the session has not uploaded too many files. Uploads are readable by
    /// their owner but their contents were not kept, so they are listed as private.
    pub fn add_upload(&mut self, path: &str, size: u64, mtime: u64) {
        if self.get(parent(path)).is_none_or(|dir| !dir.is_dir()) {
            return;
        }
        self.entries.retain(|e| e.path != path);
        let uploads = self.entries.len().saturating_sub(LAYOUT.len());
        if uploads >= MAX_UPLOADS_LISTED {
            return;
        }
        self.entries.push(Entry {
            path: path.to_owned(),
            mode: "-rw-------",
            owner: Owner::Ftp,
            mtime,
            body: Body::Private(size),
        });
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
    }

    fn owner_name(&self, server: Server, owner: Owner) -> String {
        match (server, owner) {
            (Server::Vsftpd(_), Owner::Root) => "0".into(),
            (Server::Vsftpd(_), Owner::Ftp) => self.ftp_uid.to_string(),
            (Server::Proftpd, Owner::Root) => "root".into(),
            (Server::Proftpd, Owner::Ftp) => "ftp".into(),
        }
    }

    /// One `LIST` line (with CRLF) for `entry`, as `server` formats it, `now` deciding
    /// between the time and the year column as `ls` does.
    pub fn list_line(&self, server: Server, entry: &Entry, now: u64) -> String {
        let owner = self.owner_name(server, entry.owner);
        let links = if entry.is_dir() { 2 } else { 1 };
        let (size, name) = (entry.size(), entry.name());
        match server {
            Server::Vsftpd(_) => {
                let date = ls_date(entry.mtime, now, DayPadding::Zero);
                format!("{} {links:>4} {owner:<8} {owner:<8} {size:>8} {date} {name}\r\n", entry.mode)
            }
            Server::Proftpd => {
                let date = ls_date(entry.mtime, now, DayPadding::Space);
                format!("{} {links:>3} {owner:<8} {owner:<8} {size:>8} {date} {name}\r\n", entry.mode)
            }
        }
    }

    /// The facts of `entry` as `MLSD` and `MLST` give them (without the leading space of
    /// MLST's line).
    pub fn facts(&self, server: Server, entry: &Entry, name: &str) -> String {
        let kind = if entry.is_dir() { "dir" } else { "file" };
        let perm = match (entry.is_dir(), entry.readable()) {
            (true, true) => "flcdmpe",
            (true, false) => "cmp",
            (false, true) => "adfrw",
            (false, false) => "adfw",
        };
        let owner = self.owner_name(server, entry.owner);
        let uid = if entry.owner == Owner::Root { 0 } else { self.ftp_uid };
        let mut facts = format!(
            "modify={};perm={perm};size={};type={kind};unique=fd01U{:x};UNIX.group={uid};\
             UNIX.groupname={owner};UNIX.mode=0{};UNIX.owner={uid};UNIX.ownername={owner};",
            mdtm(entry.mtime),
            entry.size(),
            crate::persona::fnv1a(entry.path.as_bytes()) & 0xffff,
            octal_mode(entry.mode),
        );
        let _ = write!(facts, " {name}");
        facts
    }
}

/// The directory part of a normalised absolute path (`/` for top-level entries).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The most path components a resolved path keeps; deeper paths do not exist anyway.
const MAX_DEPTH: usize = 32;

/// `arg` resolved against the working directory `cwd` (absolute, normalised) into a
/// normalised absolute path: `.` and empty components vanish, `..` stops at the root (the
/// server chroots every user).
pub fn resolve(cwd: &str, arg: &str) -> String {
    let mut parts: Vec<&str> = if arg.starts_with('/') { Vec::new() } else { components(cwd).collect() };
    for part in components(arg) {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            name if parts.len() < MAX_DEPTH => parts.push(name),
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|p| !p.is_empty())
}

#[derive(Clone, Copy)]
enum DayPadding {
    Zero,
    Space,
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `ls -l`'s date column: `Mar 01 12:00` for dates within six months of `now`, else
/// `Mar 01  2024`.
fn ls_date(mtime: u64, now: u64, padding: DayPadding) -> String {
    const SIX_MONTHS: u64 = 182 * 86_400;
    let (year, month, day) = civil_from_days((mtime / 86_400) as i64);
    let month = MONTHS[(month - 1) as usize];
    let day = match padding {
        DayPadding::Zero => format!("{day:02}"),
        DayPadding::Space => format!("{day:>2}"),
    };
    if now.abs_diff(mtime) < SIX_MONTHS {
        let secs = mtime % 86_400;
        format!("{month} {day} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{month} {day}  {year}")
    }
}

/// `MDTM`'s and MLST's time format: `YYYYMMDDhhmmss` in UTC.
pub fn mdtm(mtime: u64) -> String {
    let (year, month, day) = civil_from_days((mtime / 86_400) as i64);
    let secs = mtime % 86_400;
    format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `-rw-r--r--` as octal digits: `644`.
fn octal_mode(mode: &str) -> String {
    mode.as_bytes()
        .get(1..10)
        .unwrap_or_default()
        .chunks(3)
        .map(|rwx| {
            let bit = |i: usize, c: u8| if rwx.get(i) == Some(&c) { 1 << (2 - i) } else { 0 };
            char::from(b'0' + bit(0, b'r') + bit(1, b'w') + bit(2, b'x'))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_the_root() {
        assert_eq!(resolve("/", "pub"), "/pub");
        assert_eq!(resolve("/pub", "README.txt"), "/pub/README.txt");
        assert_eq!(resolve("/pub", "../../../../etc/passwd"), "/etc/passwd");
        assert_eq!(resolve("/pub", "/upload//./x"), "/upload/x");
        assert_eq!(resolve("/pub", ".."), "/");
        assert_eq!(resolve("/", ""), "/");
        let deep = "a/".repeat(1000);
        assert_eq!(resolve("/", &deep).matches('/').count(), MAX_DEPTH);
        assert_eq!(parent("/pub/README.txt"), "/pub");
        assert_eq!(parent("/pub"), "/");
        assert_eq!(parent("/"), "/");
    }

    #[test]
    fn listings_look_like_each_server() {
        let tree = Tree::new(7);
        let readme = tree.get("/pub/README.txt").unwrap().clone();
        let now = readme.mtime + 86_400;
        let vsftpd = tree.list_line(Server::Vsftpd("3.0.3"), &readme, now);
        let proftpd = tree.list_line(Server::Proftpd, &readme, now);
        let size = README.len();
        assert!(vsftpd.starts_with(&format!("-rw-r--r--    1 0        0        {size:>8} ")), "{vsftpd}");
        assert!(proftpd.starts_with(&format!("-rw-r--r--   1 root     root     {size:>8} ")), "{proftpd}");
        assert!(vsftpd.ends_with(" README.txt\r\n") && proftpd.ends_with(" README.txt\r\n"));
    }

    #[test]
    fn dates_switch_to_the_year_after_six_months() {
        // 2024-03-01T12:34:00Z
        let t = 1_709_296_440;
        assert_eq!(ls_date(t, t + 86_400, DayPadding::Zero), "Mar 01 12:34");
        assert_eq!(ls_date(t, t + 86_400, DayPadding::Space), "Mar  1 12:34");
        assert_eq!(ls_date(t, t + 400 * 86_400, DayPadding::Zero), "Mar 01  2024");
        assert_eq!(mdtm(t), "20240301123400");
        assert_eq!(octal_mode("-rw-r--r--"), "644");
        assert_eq!(octal_mode("drwxrwxrwx"), "777");
        assert_eq!(octal_mode("drwx------"), "700");
    }

    #[test]
    fn trees_differ_between_deckies_but_not_for_one() {
        let (a, b) = (Tree::new(1), Tree::new(2));
        assert_eq!(Tree::new(1).entries, a.entries);
        assert_ne!(a.entries, b.entries);
        let children: Vec<&str> = a.children("/pub").map(Entry::name).collect();
        assert_eq!(children, ["CHANGELOG.txt", "README.txt"]);
        assert!(!a.get("/db_backup.sql.gz").unwrap().readable());
        assert!(a.get("/pub/README.txt").unwrap().readable());
    }

    #[test]
    fn uploads_show_up_in_their_directory_and_are_bounded() {
        let mut tree = Tree::new(3);
        tree.add_upload("/upload/a.sh", 12, TREE_EPOCH);
        tree.add_upload("/upload/a.sh", 13, TREE_EPOCH);
        tree.add_upload("/nowhere/b.sh", 1, TREE_EPOCH);
        let uploads: Vec<(&str, u64)> = tree.children("/upload").map(|e| (e.name(), e.size())).collect();
        assert_eq!(uploads, [("a.sh", 13)]);
        assert!(tree.get("/nowhere/b.sh").is_none());
        for i in 0..2 * MAX_UPLOADS_LISTED {
            tree.add_upload(&format!("/upload/{i}"), 1, TREE_EPOCH);
        }
        assert_eq!(tree.children("/upload").count(), MAX_UPLOADS_LISTED);
    }
}
