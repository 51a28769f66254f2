//! The quarantine: every accepted message saved whole, as received (after dot unstuffing), in
//! one file of `SMTP_QUARANTINE_DIR` (a tmpfs the plugin mounts).
//!
//! Bounds: a message is at most [`MAX_MESSAGE`](super::dialect::MAX_MESSAGE) bytes (larger
//! ones are refused before they get here); the directory holds at most [`MAX_TOTAL_BYTES`]
//! and [`MAX_FILES`] of the emulator's files. To make room the oldest are deleted first, so
//! the newest messages are always kept. The directory is read again for each message, so the
//! bounds hold across both SMTP ports and across sensor restarts.
//!
//! Files are named `<UTC time>-<queue id>.eml` (`20240601T123456Z-4F2A91C0B7.eml`): the
//! name sorts by age and ties the file to the `message` event's `queue_id`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::event::civil_from_days;

/// The most bytes of messages the directory holds (the plugin's tmpfs is 64 MiB).
pub const MAX_TOTAL_BYTES: u64 = 48 * 1024 * 1024;
/// The most message files the directory holds.
pub const MAX_FILES: usize = 4096;
/// The emulator's files end so; other files in the directory are left alone.
const SUFFIX: &str = ".eml";

#[derive(Debug)]
pub struct Quarantine {
    dir: PathBuf,
}

impl Quarantine {
    /// The quarantine in `dir`, which must be a directory the sensor can write to.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Quarantine> {
        let dir = dir.into();
        if !fs::metadata(&dir)?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a directory"));
        }
        Ok(Quarantine { dir })
    }

    /// Saves `message` as a new file named after `queue_id`, first deleting the oldest files
    /// as needed to stay within the bounds; returns the file name.
    pub fn store(&self, queue_id: &str, message: &[u8]) -> io::Result<String> {
        let size = message.len() as u64;
        if size > MAX_TOTAL_BYTES {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "message larger than the quarantine"));
        }
        let mut stored = self.stored()?;
        let mut total: u64 = stored.iter().map(|(_, size)| size).sum();
        // `stored` is sorted newest first, so popping takes the oldest.
        while total + size > MAX_TOTAL_BYTES || stored.len() >= MAX_FILES {
            let Some((name, old_size)) = stored.pop() else { break };
            match fs::remove_file(self.dir.join(&name)) {
                Ok(()) => total -= old_size,
                Err(e) if e.kind() == io::ErrorKind::NotFound => total -= old_size,
                Err(e) => return Err(e),
            }
        }
        let name = format!("{}-{queue_id}{SUFFIX}", compact_utc(SystemTime::now()));
        let mut file = OpenOptions::new().write(true).create_new(true).open(self.dir.join(&name))?;
        file.write_all(message)?;
        Ok(name)
    }

    /// The emulator's files in the directory with their sizes, newest first.
    fn stored(&self) -> io::Result<Vec<(String, u64)>> {
        let mut stored = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let Ok(metadata) = entry.metadata() else { continue };
            if name.ends_with(SUFFIX) && metadata.is_file() {
                stored.push((name, metadata.len()));
            }
        }
        stored.sort_unstable_by(|a, b| b.0.cmp(&a.0));
        Ok(stored)
    }
}

/// `20240601T123456Z`.
fn compact_utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("chaff-quarantine-{tag}-{}", fastrand::u64(..)));
            fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn names(dir: &TempDir) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn messages_are_saved_whole_under_their_queue_id() {
        let dir = TempDir::new("save");
        let quarantine = Quarantine::open(&dir.0).unwrap();
        let name = quarantine.store("4F2A91C0B7", b"Subject: hi\r\n\r\nbody\r\n").unwrap();
        assert!(name.ends_with("Z-4F2A91C0B7.eml") && name.len() == "20240601T123456Z-4F2A91C0B7.eml".len());
        assert_eq!(fs::read(dir.0.join(&name)).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(names(&dir), [name]);
    }

    #[test]
    fn the_oldest_files_make_room_and_foreign_files_stay() {
        let dir = TempDir::new("evict");
        let big = 20 * 1024 * 1024;
        // Two old files that fill 40 MiB of the 48, and a file that is not ours.
        fs::write(dir.0.join("20200101T000000Z-OLDEST.eml"), vec![0u8; big]).unwrap();
        fs::write(dir.0.join("20210101T000000Z-OLDER.eml"), vec![0u8; big]).unwrap();
        fs::write(dir.0.join("notes.txt"), b"keep me").unwrap();
        let quarantine = Quarantine::open(&dir.0).unwrap();
        let name = quarantine.store("NEW", &vec![1u8; 10 * 1024 * 1024]).unwrap();
        assert_eq!(names(&dir), ["20210101T000000Z-OLDER.eml".to_owned(), name, "notes.txt".to_owned()]);
    }

    #[test]
    fn the_number_of_files_is_bounded() {
        let dir = TempDir::new("count");
        for i in 0..MAX_FILES {
            fs::write(dir.0.join(format!("20200101T000000Z-{i:05}.eml")), b"x").unwrap();
        }
        let quarantine = Quarantine::open(&dir.0).unwrap();
        quarantine.store("NEW", b"y").unwrap();
        let names = names(&dir);
        assert_eq!(names.len(), MAX_FILES);
        assert!(!names.contains(&"20200101T000000Z-00000.eml".to_owned()));
    }

    #[test]
    fn a_missing_directory_is_refused() {
        assert!(Quarantine::open("/nonexistent/chaff-quarantine").is_err());
        let dir = TempDir::new("file");
        let file = dir.0.join("plain");
        fs::write(&file, b"").unwrap();
        assert!(Quarantine::open(&file).is_err());
    }
}
